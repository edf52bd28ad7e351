// Per-flow payload classification, Tstat-style: a small fixed-size state per flow, fed the first
// payload bytes of each direction, that decides the application protocol and its metadata, then
// stops. The first segments of a direction are reassembled (in order, up to kStreamBytes and
// kMaxTcpSegments) when a message is cut, so a TLS ClientHello or an HTTP head split over several
// segments is still read; a QUIC ClientHello spread over several Initials likewise.
// Reassembly buffers come from a pool in the Classifier (one per FlowMeter/thread), held only
// while a flow waits for the rest of a message, so ClassifierState itself stays small.
//
// Recognised: TCP — TLS (SNI, versions, ALPN, session flags, JA3/JA4), HTTP/1.x (host, method,
// status), SSH, SMTP/POP3/IMAP banners and STARTTLS (with the TLS hello after it), BitTorrent
// handshake, DNS over TCP; UDP — DNS, QUIC (Initial decrypted: SNI, ALPN, versions; gQUIC by
// version), STUN, DTLS, SIP, RTP/RTCP (sequence continuity), BitTorrent DHT, uTP and SSDP
// (HTTP over UDP: its Host); TCP eDonkey/eMule (plain), RTSP, RTMP (handshake), ICY
// (SHOUTcast), MSN (MSNP), Yahoo Messenger (YMSG) and XMPP, with Tstat's con_t/p2p_t bits; UDP
// Teredo (RFC 4380: IPv6 in UDP, with its authentication/origin indicators). TLS also in
// SSLv2-format ClientHellos (version only). When nothing matched, a well-known server port
// decides, flagged kByPort. See docs/classification.md.
//
// Hot path: no allocation, no lock, no syscall, no virtual call in this code. Hashing (JA3/JA4,
// the QUIC key schedule) calls OpenSSL's SHA-256/MD5 block functions on contexts held by value;
// AES goes through EVP contexts created once per thread. Both run once per hello or QUIC Initial
// (QUIC keys once per connection and direction: crypto.hpp, quic.hpp), not per packet. Not
// thread-safe: one Classifier per thread; a ClassifierState belongs to the thread of its flow.
#pragma once

#include "classify/dns.hpp"
#include "classify/http.hpp"
#include "classify/quic.hpp"
#include "classify/text.hpp"
#include "classify/tls.hpp"
#include "classify/x509.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace weir::classify {

// Tstat con_t bits (protocol.h).
inline constexpr uint32_t kConHttp = 1, kConRtsp = 2, kConRtp = 4, kConIcy = 8, kConRtcp = 16,
                          kConMsn = 32, kConYmsg = 64, kConXmpp = 128, kConP2p = 256, kConSkype = 512,
                          kConSmtp = 1024, kConPop3 = 2048, kConImap = 4096, kConTls = 8192,
                          kConObfEd2k = 16384, kConSsh = 32768, kConRtmp = 65536, kConBtMse = 131072;
// Tstat http_t (only GET and POST are content-independent; the site classes are not computed).
inline constexpr uint8_t kHttpGet = 1, kHttpPost = 2;
// Tstat p2p_t (IPP2P).
inline constexpr uint8_t kP2pEdonkey = 1, kP2pBitTorrent = 9;
// Tstat udp_type.
inline constexpr uint8_t kUdpUnknown = 0, kUdpFirstRtp = 1, kUdpFirstRtcp = 2, kUdpRtp = 3,
                         kUdpRtcp = 4, kUdpBtDht = 12, kUdpDns = 19, kUdpUtp = 20, kUdpSip = 25,
                         kUdpTeredo = 24, kUdpDtls = 26, kUdpQuic = 27, kUdpRtpPlus = 29;

// The application decided for a flow (ours: finer than con_t, one value).
enum class App : uint8_t {
    kUnknown, kHttp, kTls, kSsh, kSmtp, kPop3, kImap, kBitTorrent, kDns, kQuic, kStun, kDtls,
    kSip, kRtp, kRtcp, kUtp, kBtDht, kSsdp, kEdonkey, kRtsp, kRtmp, kIcy, kMsn, kYmsg, kXmpp, kTeredo, kCount
};
std::string_view to_string(App a);

// ClassifierState::flags
inline constexpr uint8_t kFlagDone = 1;          // nothing more to inspect: stop calling classify()
inline constexpr uint8_t kFlagByPort = 2;        // app decided by the server port only (fallback)
inline constexpr uint8_t kFlagStartTls = 4;      // mail protocol upgraded with STARTTLS/STLS
inline constexpr uint8_t kFlagHelloCut = 8;      // a hello/head was cut (gap, budget, pool full)
inline constexpr uint8_t kFlagQuicDecrypted = 16;

// Tstat c_tls_sesid bits.
inline constexpr uint8_t kTlsSessionId = 1, kTlsPskExt = 2, kTlsEarlyData = 4, kTlsServerPsk = 8,
                         kTlsHelloRetry = 16, kTlsTicketExt = 32;

// ClassifierState::follow: what Classifier::follow() still watches after (or while) classifying.
inline constexpr uint8_t kFollowTls0 = 1, kFollowTls1 = 2;  // TLS records, per direction
inline constexpr uint8_t kFollowHttp = 4;                   // HTTP message starts
inline constexpr uint8_t kFollowQuic = 8;                   // QUIC long headers (versions, 0-RTT)

// follow()'s answer: the segment starts an HTTP message (log_http_complete takes it).
enum class L7Event : uint8_t { kNone, kHttpRequest, kHttpResponse };

// TLS record walking of one direction, for Tstat's handshake and application-data timings.
struct TlsRecordWalk {
    uint32_t first_seq = 0;  // sequence number of the direction's first payload byte
    uint32_t next_seq = 0;   // first byte not walked yet
    uint32_t skip = 0;       // bytes of the current record's body still to pass
    uint32_t hdr_seq = 0;    // where the record header being read starts
    uint8_t hdr[5] = {};
    uint8_t hdr_have = 0;
    bool started = false;     // walking records (from the hello, or from STARTTLS's hello)
    bool have_first = false;  // first_seq is set
    int64_t last_handshake_ns = 0;  // last segment with handshake bytes before application data
    int64_t appdata_ns = 0;         // segment carrying the first application_data record's header
    uint32_t appdata_offset = 0;    // that record's offset in the stream (Tstat's relative seq)
};

struct ClassifierState {
    // Results.
    uint32_t con_t = 0;
    uint8_t p2p_t = 0;
    uint8_t http_t = 0;
    uint8_t udp_type[2] = {0, 0};
    App app = App::kUnknown;
    uint8_t flags = 0;
    uint8_t follow = 0;             // kFollow* bits
    uint16_t http_messages[2] = {0, 0};  // HTTP requests (client) and responses (server) started
    uint32_t push[2] = {0, 0};      // data segments with PSH (Tstat c_pkts_push / s_pkts_push)
    uint32_t http_seq_end[2] = {0, 0};  // HTTP: end of the newest segment, so retransmissions are not recounted
    uint8_t alpn_bits[2] = {0, 0};  // Tstat c_npnalpn / s_npnalpn
    uint8_t tls_session = 0;        // Tstat c_tls_sesid bits
    uint16_t tls_version[2] = {0, 0};  // client: highest offered; server: selected
    uint16_t tls_cipher = 0;        // selected by the server
    uint16_t http_status = 0;       // first response status
    HttpMethod http_method = HttpMethod::kNone;
    uint8_t dns_rcode = 0;
    uint16_t dns_qtype = 0;
    uint32_t quic_version = 0;
    uint32_t quic_server_version = 0;  // version of the server's first long header
    uint16_t quic_0rtt = 0;         // client 0-RTT packets
    uint16_t ech_len = 0;           // encrypted_client_hello extension length (TLS or QUIC hello)

    // Inspection state: with the results above, what a packet touches while the flow is being
    // classified, in the struct's first cache lines.
    uint8_t proto = 0;              // IPPROTO_TCP / IPPROTO_UDP
    uint8_t pkts[2] = {0, 0};       // payload packets inspected per direction
    bool dir_final[2] = {false, false};
    bool stun_seen = false;
    uint16_t server_port = 0;
    uint16_t client_port = 0;
    uint16_t buffered[2] = {0, 0};  // reassembled bytes held in the slot per direction
    uint32_t next_seq[2] = {0, 0};
    uint32_t slot = UINT32_MAX;     // reassembly slot, UINT32_MAX = none
    // UDP continuity per direction (RTP/RTCP: SSRC and sequence; uTP: connection id).
    uint8_t cont_kind[2] = {0, 0};  // 0 none, 1 RTP, 2 RTCP, 3 uTP
    uint8_t cont_good[2] = {0, 0};  // packets that continued the previous one
    uint16_t cont_seq[2] = {0, 0};
    uint32_t cont_id[2] = {0, 0};
    uint8_t odcid_len = 0;          // QUIC: client's first Destination Connection ID
    uint8_t odcid[20] = {};

    TlsRecordWalk tls_walk[2];
    // Texts last: init() empties them without writing their bytes (most flows end with one name
    // at most), so a new flow writes the head of the state only.
    FixedText<128> name;            // TLS/QUIC SNI, HTTP Host, or DNS query name
    FixedText<64> second_name;      // TLS <= 1.2: the server certificate's subject CN; gQUIC: the
                                    // CHLO's user agent (UAID)
    FixedText<16> alpn;             // TLS/QUIC: the server's selection, else the client's first offer
    FixedText<33> ja3;
    FixedText<37> ja4;


    bool done() const noexcept { return (flags & kFlagDone) != 0; }
};

class Classifier {
public:
    static constexpr size_t kStreamBytes = 4096;   // reassembled bytes per direction
    static constexpr uint8_t kMaxTcpSegments = 6;  // payload segments read per direction
    static constexpr uint8_t kMaxMailSegments = 16;  // while watching for STARTTLS
    static constexpr uint8_t kMaxUdpPackets = 8;

    // `reassembly_slots` flows can wait for the rest of a message at once; more are classified
    // from what they have (kFlagHelloCut).
    explicit Classifier(size_t reassembly_slots = 1024);
    ~Classifier();
    Classifier(const Classifier&) = delete;
    Classifier& operator=(const Classifier&) = delete;

    // A new flow: `proto` IPPROTO_TCP/UDP, ports as client and server (the client sent first).
    static void init(ClassifierState& s, uint8_t proto, uint16_t client_port, uint16_t server_port) noexcept;
    // One packet's payload. direction 0 = client to server, 1 = server to client. `tcp_seq` is
    // the segment's sequence number (ignored for UDP). Call only while !s.done().
    void classify(ClassifierState& s, int direction, const uint8_t* payload, size_t len,
                  uint32_t tcp_seq = 0) noexcept;
    // Every payload segment of a classified flow, while s.follow != 0 (also after done()): counts
    // HTTP messages, walks TLS records to the first application data, notes QUIC versions and
    // 0-RTT packets — what Tstat's layer-7 columns need beyond the first bytes. `ts_ns` is the
    // packet time. Cheap: a few compares per segment; TLS walking ends at the first
    // application_data record of each direction.
    L7Event follow(ClassifierState& s, int direction, const uint8_t* payload, size_t len, uint32_t tcp_seq,
                   int64_t ts_ns) noexcept {
        return s.follow == 0 ? L7Event::kNone : follow_segment(s, direction, payload, len, tcp_seq, ts_ns);
    }
    // The flow ended: applies the port fallback if nothing matched and frees its slot.
    void finish(ClassifierState& s) noexcept;

    size_t slots_in_use() const noexcept { return slots_total_ - free_count_; }
    uint64_t slots_exhausted() const noexcept { return slots_exhausted_; }

private:
    struct Slot;
    // kMore: the message continues, buffer and wait; kNext: look at the next segment on its own;
    // kDone: this direction is finished.
    enum class Step : uint8_t { kMore, kNext, kDone };

    L7Event follow_segment(ClassifierState& s, int d, const uint8_t* p, size_t n, uint32_t seq, int64_t ts_ns) noexcept;
    static void walk_tls(ClassifierState& s, int d, const uint8_t* p, size_t n, uint32_t seq, int64_t ts_ns) noexcept;
    uint32_t acquire() noexcept;
    void release(ClassifierState& s) noexcept;
    void tcp(ClassifierState& s, int d, const uint8_t* p, size_t n, uint32_t seq) noexcept;
    Step tcp_stream(ClassifierState& s, int d, const uint8_t* p, size_t n, bool last) noexcept;
    void finalize(ClassifierState& s, int d) noexcept;
    void udp(ClassifierState& s, int d, const uint8_t* p, size_t n) noexcept;
    bool quic(ClassifierState& s, int d, const uint8_t* p, size_t n, bool last) noexcept;
    bool dtls(ClassifierState& s, int d, const uint8_t* p, size_t n) noexcept;
    bool rtp(ClassifierState& s, int d, const uint8_t* p, size_t n) noexcept;
    void take_client_hello(ClassifierState& s, const TlsClientHello& h) noexcept;
    void take_server_hello(ClassifierState& s, const TlsServerHello& h) noexcept;
    void take_http(ClassifierState& s, const HttpMessage& m) noexcept;
    void take_dns(ClassifierState& s, const DnsMessage& m) noexcept;
    void update_done(ClassifierState& s) noexcept;

    std::unique_ptr<Slot[]> slots_;
    std::unique_ptr<uint32_t[]> free_;
    size_t slots_total_ = 0;
    size_t free_count_ = 0;
    uint64_t slots_exhausted_ = 0;
    // Parser outputs and buffers, reused by every call.
    std::unique_ptr<QuicScratch> quic_scratch_;
    std::unique_ptr<QuicCryptoBuffer> quic_crypto_;
    std::unique_ptr<uint8_t[]> handshake_;  // TLS handshake bytes without record headers
    TlsClientHello client_hello_;
    TlsServerHello server_hello_;
    HttpMessage http_;
    DnsMessage dns_;
};

// The application a well-known server port suggests (App::kUnknown if none).
App app_for_port(uint8_t proto, uint16_t port) noexcept;

}  // namespace weir::classify
