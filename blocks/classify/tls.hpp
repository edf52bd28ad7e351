// TLS handshake parsers: ClientHello (versions, SNI, ALPN, resumption flags, JA3 and JA4
// fingerprints) and ServerHello (negotiated version, cipher, ALPN, JA3S). Pure functions over a
// byte range: they never read outside it and never allocate; results go into the caller's struct.
#pragma once

#include "classify/text.hpp"

#include <cstddef>
#include <cstdint>

namespace weir::classify {

// Where a hello travelled; JA4's first letter.
enum class TlsTransport : uint8_t { kTcp, kQuic, kDtls };

// Tstat's c_npnalpn / s_npnalpn bitmap: low nibble NPN, high nibble ALPN; bit 0 any other
// protocol, 1 http/1.x, 2 spdy/*, 3 h2 (h3 counts as h2's bit: it is the same family).
inline constexpr uint8_t kAlpnOther = 1, kAlpnHttp1 = 2, kAlpnSpdy = 4, kAlpnH2 = 8;

struct TlsClientHello {
    uint16_t record_version = 0;  // record layer version; 0 when parsed without records (QUIC)
    uint16_t legacy_version = 0;  // ClientHello.legacy_version
    uint16_t max_version = 0;     // highest non-GREASE supported_versions entry, else legacy
    uint8_t session_id_len = 0;
    uint16_t cipher_count = 0;    // non-GREASE cipher suites
    uint16_t ext_count = 0;       // non-GREASE extensions
    bool has_sni = false;         // server_name extension present (SNI may still be empty)
    bool has_alpn = false;
    bool session_ticket = false;  // non-empty SessionTicket extension: resumption attempt
    bool psk = false;             // pre_shared_key extension (TLS 1.3 resumption)
    bool early_data = false;      // early_data extension (0-RTT)
    bool ech = false;             // encrypted_client_hello extension
    uint16_t ech_len = 0;         // its length (Tstat's ECH column)
    bool npn = false;             // next_protocol_negotiation extension
    uint8_t alpn_bits = 0;        // Tstat bitmap (ALPN in the high nibble, NPN bit in the low)
    FixedText<256> sni;           // host_name of the server_name extension
    FixedText<128> alpn;          // offered protocols, comma-separated ("h2,http/1.1")
    FixedText<33> ja3;            // MD5 hex of the JA3 string; empty unless the hello is complete
    FixedText<37> ja4;            // JA4 (a_b_c); empty unless the hello is complete
};

struct TlsServerHello {
    uint16_t record_version = 0;
    uint16_t legacy_version = 0;
    uint16_t version = 0;         // supported_versions selection (TLS 1.3), else legacy_version
    uint16_t cipher = 0;
    uint8_t session_id_len = 0;
    bool hello_retry = false;     // HelloRetryRequest (the special random value)
    bool psk = false;             // server accepted a pre-shared key (TLS 1.3 resumption)
    bool session_ticket = false;  // SessionTicket extension in the ServerHello (will issue one)
    uint8_t alpn_bits = 0;
    FixedText<64> alpn;           // selected protocol
    FixedText<33> ja3s;           // MD5 hex of the JA3S string; empty unless complete
};

// `p` starts at a handshake message (type byte, 3-byte length): a ClientHello / ServerHello.
// kOk: the whole message was read. kTruncated: the message continues past `n`; fields found in
// the bytes present are filled, fingerprints are not. kInvalid: not that message, or malformed.
ParseStatus parse_client_hello(const uint8_t* p, size_t n, TlsClientHello& out,
                               TlsTransport transport = TlsTransport::kTcp) noexcept;
ParseStatus parse_server_hello(const uint8_t* p, size_t n, TlsServerHello& out) noexcept;

// The handshake bytes carried by the TLS records at the start of `p` (a TCP payload), record
// headers removed, copied into `dst` (at most `cap` bytes). Stops at the first record that is not
// a handshake record (alerts and ChangeCipherSpec records before the first handshake record are
// skipped). Returns the bytes written; `record_version` gets the first handshake record's version.
// kInvalid if no handshake record starts the payload, kTruncated if the last record is cut.
struct TlsRecordScan {
    ParseStatus status = ParseStatus::kInvalid;
    uint16_t record_version = 0;
    size_t handshake_len = 0;   // bytes copied into dst
    size_t complete_len = 0;    // of which from whole records (the rest is a cut record's start)
    size_t consumed = 0;        // bytes of `p` covered by whole handshake records
};
TlsRecordScan tls_handshake_from_records(const uint8_t* p, size_t n, uint8_t* dst, size_t cap) noexcept;

// True for the RFC 8701 GREASE values (0x0a0a, 0x1a1a, ... 0xfafa).
constexpr bool is_grease(uint16_t v) noexcept { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

// Does `p` look like the start of a TLS record (content type 20-24, version 3.x, sane length)?
bool looks_like_tls_record(const uint8_t* p, size_t n) noexcept;

}  // namespace weir::classify
