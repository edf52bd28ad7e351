// QUIC Initial packets (RFC 9000/9001, QUIC v2 RFC 9369, drafts 27-34): long-header parse,
// removal of header protection and AES-128-GCM decryption with the version's Initial keys, CRYPTO
// frame reassembly, then the TLS ClientHello/ServerHello parsers on the handshake bytes.
// No allocation: plaintext and CRYPTO bytes go to caller-owned buffers.
#pragma once

#include "classify/crypto.hpp"
#include "classify/text.hpp"
#include "classify/tls.hpp"

#include <cstddef>
#include <cstdint>

namespace weir::classify {

inline constexpr uint32_t kQuicV1 = 0x00000001, kQuicV2 = 0x6b3343cf;

// True for the versions whose Initial keys we know (v1, v2, drafts 27-34 = 0xff00001b-0xff000022).
bool quic_version_supported(uint32_t version) noexcept;

struct QuicLongHeader {
    uint32_t version = 0;
    uint8_t type = 0;            // 0 Initial, 1 0-RTT, 2 Handshake, 3 Retry (v1 numbering, v2 mapped)
    uint8_t dcid_len = 0;
    uint8_t scid_len = 0;
    uint8_t dcid[20] = {};
    uint8_t scid[20] = {};
    uint32_t token_len = 0;
    uint32_t pn_offset = 0;      // Initial/0-RTT/Handshake: where the packet number starts
    uint32_t packet_len = 0;     // bytes of this packet (header + protected payload) in the datagram
};

// Parses the long header at the start of a datagram. kInvalid: not a QUIC long header (or a
// version negotiation packet); kTruncated: the packet extends past `n`.
ParseStatus parse_quic_long_header(const uint8_t* p, size_t n, QuicLongHeader& out) noexcept;

// CRYPTO stream bytes collected from one or more Initial packets of one direction.
struct QuicCryptoBuffer {
    static constexpr size_t kCapacity = 4096;
    static constexpr size_t kMaxRanges = 32;
    struct Range {
        uint32_t begin, end;
    };
    uint8_t data[kCapacity];
    Range ranges[kMaxRanges];
    uint8_t range_count = 0;

    void reset() noexcept { range_count = 0; }
    // Stores stream bytes [offset, offset+n) (what fits in the capacity). False if it did not fit.
    bool add(uint64_t offset, const uint8_t* p, size_t n) noexcept;
    // Bytes available from offset 0 without a gap.
    size_t contiguous() const noexcept;
};

// Initial packet protection keys of one direction (RFC 9001 5.1-5.4).
struct QuicKeys {
    uint8_t key[16];
    uint8_t iv[12];
    uint8_t hp[16];
};

// Initial keys by (version, client's first Destination Connection ID), each direction derived
// on its first use. All Initials of a connection, the client's later ones and the server's, use
// the keys of that one DCID, so a handshake derives them once instead of once per packet.
// Direct-mapped, 2048 entries (300 KB): enough for the handshakes a thread sees within a
// round trip at tens of thousands of new connections per second; a colliding connection's keys
// are derived again.
class QuicKeyCache {
public:
    static constexpr size_t kEntries = 2048;
    // The keys of one direction, or nullptr if the version's Initial salt is unknown (or the
    // DCID longer than 20 bytes).
    const QuicKeys* get(uint32_t version, const uint8_t* dcid, size_t dcid_len, bool from_server) noexcept;

private:
    struct Entry {
        uint32_t version = 0;  // 0: empty
        uint8_t dcid_len = 0;
        uint8_t have = 0;      // bit 0: client keys derived, bit 1: server keys
        uint8_t dcid[20] = {};
        uint8_t initial[32] = {};  // the Initial secret, HKDF-Extract(salt, DCID)
        QuicKeys keys[2];
    };
    Entry entries_[kEntries];
};

// Plaintext of a decrypted Initial, and the key cache; reused between calls.
struct QuicScratch {
    static constexpr size_t kCapacity = 4096;
    uint8_t plain[kCapacity];
    uint8_t header[512];
    QuicKeyCache keys;
};

struct QuicInitialInfo {
    QuicLongHeader header;
    uint64_t packet_number = 0;
    bool decrypted = false;      // header protection removed and the AEAD tag verified
    uint16_t crypto_frames = 0;  // CRYPTO frames in this packet
    size_t plain_len = 0;
};

// Decrypts the Initial at the start of `p` and adds its CRYPTO frames to `crypto`.
// `odcid` is the Destination Connection ID of the client's first Initial: it keys both
// directions. For client packets pass nullptr (the packet's own DCID is used). `from_server`
// picks the server's keys. kOk: decrypted and the frames read; kInvalid: not a supported Initial
// or the tag did not verify; kTruncated: the packet is cut.
ParseStatus decrypt_quic_initial(const uint8_t* p, size_t n, const uint8_t* odcid, size_t odcid_len,
                                 bool from_server, QuicScratch& scratch, QuicCryptoBuffer& crypto,
                                 QuicInitialInfo& out) noexcept;

// One client datagram to SNI/ALPN: decrypt its first Initial (crypto reset first) and parse the
// ClientHello from the CRYPTO bytes. Returns the decryption status; `hello_status` gets the
// ClientHello parser's (kTruncated when the hello continues in a later Initial).
struct QuicClientHelloResult {
    ParseStatus status = ParseStatus::kInvalid;
    ParseStatus hello_status = ParseStatus::kInvalid;
};
QuicClientHelloResult parse_quic_client_initial(const uint8_t* p, size_t n, QuicScratch& scratch,
                                                QuicCryptoBuffer& crypto, QuicInitialInfo& info,
                                                TlsClientHello& hello) noexcept;

}  // namespace weir::classify
