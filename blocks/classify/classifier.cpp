#include "classify/classifier.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace weir::classify {

std::string_view to_string(App a) {
    static constexpr std::string_view kNames[] = {"unknown", "http", "tls",  "ssh",  "smtp", "pop3",
                                                  "imap",    "bittorrent", "dns", "quic", "stun", "dtls",
                                                  "sip",     "rtp",  "rtcp", "utp",  "bt-dht", "ssdp",
                                                  "edonkey", "rtsp", "rtmp", "icy",  "msn",    "ymsg",
                                                  "xmpp",    "teredo"};
    static_assert(std::size(kNames) == static_cast<size_t>(App::kCount));
    const auto i = static_cast<size_t>(a);
    return i < std::size(kNames) ? kNames[i] : "?";
}

// A reassembly slot: the first bytes of both directions, or (QUIC) the client's CRYPTO stream.
struct Classifier::Slot {
    alignas(8) uint8_t stream[2][kStreamBytes];
    QuicCryptoBuffer* quic() noexcept { return std::launder(reinterpret_cast<QuicCryptoBuffer*>(stream)); }
};
static_assert(sizeof(QuicCryptoBuffer) <= 2 * Classifier::kStreamBytes);

namespace {

constexpr uint8_t kContRtp = 1, kContRtcp = 2, kContUtp = 3;

bool starts_with(const uint8_t* p, size_t n, std::string_view s) {
    return n >= s.size() && std::memcmp(p, s.data(), s.size()) == 0;
}

// Case-insensitive search of an ASCII word in the first line of a payload.
bool first_line_has(const uint8_t* p, size_t n, std::string_view word) {
    const size_t lim = std::min<size_t>(n, 256);
    for (size_t i = 0; i + word.size() <= lim && p[i] != '\n'; ++i) {
        size_t k = 0;
        while (k < word.size() && (p[i + k] | 0x20) == (word[k] | 0x20)) {
            ++k;
        }
        if (k == word.size()) {
            return true;
        }
    }
    return false;
}

// A record other than handshake follows the handshake records (ChangeCipherSpec after a resumed
// session's ServerHello): the cleartext flight is over.
bool flight_ended(const uint8_t* p, size_t n) {
    size_t at = 0;
    while (at + 5 <= n) {
        if (p[at] != 22) {
            return at != 0;
        }
        at += 5 + (size_t{p[at + 3]} << 8 | p[at + 4]);
    }
    return false;
}

// Teredo (RFC 4380 §5.1.1): an IPv6 packet in UDP whose payload length accounts for the
// datagram, optionally after an authentication indicator (0x0001, id and auth lengths, 8-byte
// nonce, confirmation byte) and/or an origin indication (0x0000, port and address), or a bubble
// (an IPv6 header with no payload).
bool teredo(const uint8_t* p, size_t n) {
    size_t at = 0;
    if (n >= 13 && p[0] == 0x00 && p[1] == 0x01) {
        at = 4 + size_t{p[2]} + p[3] + 9;
    }
    if (at + 8 <= n && p[at] == 0x00 && p[at + 1] == 0x00) {
        at += 8;
    }
    if (at + 40 > n || (p[at] >> 4) != 6) {
        return false;
    }
    const size_t payload = size_t{p[at + 4]} << 8 | p[at + 5];
    const uint8_t next = p[at + 6];
    // Teredo carries ICMPv6 (bubbles, echo), TCP, UDP or "no next header".
    return at + 40 + payload == n && (next == 58 || next == 6 || next == 17 || next == 59);
}

bool is_mail(App a) { return a == App::kSmtp || a == App::kPop3 || a == App::kImap; }

bool bittorrent_handshake(const uint8_t* p, size_t n) {
    static constexpr char kBt[] = "\x13" "BitTorrent protocol";
    return starts_with(p, n, std::string_view(kBt, 20));
}

// eDonkey/eMule over TCP: a protocol byte (0xE3 eDonkey, 0xC5 eMule extensions, 0xD4 eMule
// zlib-packed), a little-endian 32-bit length of what follows (opcode and data), the opcode. The
// first message of either side is a whole message (hello, login, hello answer, ...): its length
// must account for the segment exactly, or be followed by another message header.
bool edonkey_message(const uint8_t* p, size_t n) {
    const auto proto_byte = [](uint8_t b) { return b == 0xe3 || b == 0xc5 || b == 0xd4; };
    if (n < 6 || !proto_byte(p[0])) {
        return false;
    }
    const uint32_t len = uint32_t{p[1]} | uint32_t{p[2]} << 8 | uint32_t{p[3]} << 16 | uint32_t{p[4]} << 24;
    if (len == 0 || len > n - 5) {
        return false;
    }
    return len == n - 5 || (n >= 5 + len + 6 && proto_byte(p[5 + len]));
}

// The first line contains `what` (up to the line's end or 256 bytes).
bool line_has(const uint8_t* p, size_t n, std::string_view what) {
    const std::string_view line(reinterpret_cast<const char*>(p), std::min<size_t>(n, 256));
    return line.substr(0, line.find('\n')).find(what) != std::string_view::npos;
}

bool sip_start(const uint8_t* p, size_t n) {
    static constexpr std::string_view kMethods[] = {"INVITE ", "REGISTER ", "OPTIONS ", "ACK ",    "BYE ",
                                                    "CANCEL ", "SUBSCRIBE ", "NOTIFY ", "MESSAGE ", "INFO ",
                                                    "PRACK ",  "UPDATE ",   "REFER ",  "PUBLISH "};
    if (starts_with(p, n, "SIP/2.0 ")) {
        return true;
    }
    for (const std::string_view m : kMethods) {
        if (starts_with(p, n, m)) {
            return starts_with(p + m.size(), n - m.size(), "sip:") || starts_with(p + m.size(), n - m.size(), "sips:");
        }
    }
    return false;
}

bool stun_message(const uint8_t* p, size_t n) {
    if (n < 20 || (p[0] & 0xc0) != 0) {
        return false;
    }
    const size_t len = size_t{p[2]} << 8 | p[3];
    return len % 4 == 0 && len + 20 == n && p[4] == 0x21 && p[5] == 0x12 && p[6] == 0xa4 && p[7] == 0x42;
}

bool bt_dht(const uint8_t* p, size_t n) {
    if (n < 12 || p[0] != 'd' || p[n - 1] != 'e') {
        return false;
    }
    const std::string_view s(reinterpret_cast<const char*>(p), n);
    return s.starts_with("d1:") && (s.find("1:y1:q") != std::string_view::npos ||
                                    s.find("1:y1:r") != std::string_view::npos ||
                                    s.find("1:y1:e") != std::string_view::npos);
}

bool gquic_version(uint32_t v) {
    // "Q0dd" (Google QUIC crypto) or "T0dd" (Google QUIC with TLS), dd decimal digits.
    const auto digit = [](uint32_t c) { return c >= '0' && c <= '9'; };
    return ((v >> 16) == 0x5130 || (v >> 16) == 0x5430) && digit(v >> 8 & 0xff) && digit(v & 0xff);
}

// Google QUIC before Q046: public header with the version flag (0x01) and the version after an
// optional 8-byte connection id. Returns the version or 0.
// Google QUIC up to Q046 sends its client hello ("CHLO": a tag count, then tag/end-offset pairs
// and the values) in the clear: the SNI and UAID (user agent) tags.
void gquic_chlo(const uint8_t* p, size_t n, FixedText<128>& sni, FixedText<64>& uaid) {
    const std::string_view head(reinterpret_cast<const char*>(p), std::min<size_t>(n, 96));
    const size_t at = head.find("CHLO");
    if (at == std::string_view::npos || at + 8 > n) {
        return;
    }
    const size_t tags = size_t{p[at + 4]} | size_t{p[at + 5]} << 8;
    const size_t table = at + 8;
    const size_t values = table + 8 * tags;
    if (tags == 0 || tags > 64 || values > n) {
        return;
    }
    size_t prev = 0;
    for (size_t i = 0; i < tags; ++i) {
        const uint8_t* t = p + table + 8 * i;
        const size_t end = size_t{t[4]} | size_t{t[5]} << 8 | size_t{t[6]} << 16 | size_t{t[7]} << 24;
        if (end < prev || values + end > n) {
            return;  // offsets must grow and stay inside the packet
        }
        if (std::memcmp(t, "SNI\0", 4) == 0) {
            sni.assign(p + values + prev, end - prev);
        } else if (std::memcmp(t, "UAID", 4) == 0) {
            uaid.assign(p + values + prev, end - prev);
        }
        prev = end;
    }
}

uint32_t gquic_public_header_version(const uint8_t* p, size_t n) {
    if (n < 13 || (p[0] & 0x80) != 0 || (p[0] & 0x01) == 0) {
        return 0;
    }
    const size_t off = (p[0] & 0x08) != 0 ? 9 : 1;
    const uint32_t v = uint32_t{p[off]} << 24 | uint32_t{p[off + 1]} << 16 | uint32_t{p[off + 2]} << 8 | p[off + 3];
    return gquic_version(v) ? v : 0;
}

// A chain of whole TLS records (any content type, TLS 1.0-1.3 record version) covering the
// payload: a TLS stream seen mid-connection (application data, alerts) without its handshake.
bool tls_record_chain(const uint8_t* p, size_t n) {
    size_t pos = 0;
    int records = 0;
    while (pos < n) {
        if (n - pos < 5 || p[pos] < 20 || p[pos] > 23 || p[pos + 1] != 3 || p[pos + 2] < 1 || p[pos + 2] > 4) {
            return false;
        }
        const size_t len = size_t{p[pos + 3]} << 8 | p[pos + 4];
        if (len == 0 || len > 16384 + 2048) {
            return false;
        }
        pos += 5 + len;
        ++records;
    }
    return records != 0 && pos == n;
}

}  // namespace

App app_for_port(uint8_t proto, uint16_t port) noexcept {
    if (proto == IPPROTO_TCP) {
        switch (port) {
        case 80: case 8080: return App::kHttp;
        case 443: case 8443: case 465: case 993: case 995: return App::kTls;
        case 22: return App::kSsh;
        case 25: case 587: return App::kSmtp;
        case 110: return App::kPop3;
        case 143: return App::kImap;
        case 53: return App::kDns;
        case 554: return App::kRtsp;
        case 1935: return App::kRtmp;
        case 4662: return App::kEdonkey;
        case 5222: return App::kXmpp;
        case 1863: return App::kMsn;
        case 5050: return App::kYmsg;
        default: return port >= 6881 && port <= 6889 ? App::kBitTorrent : App::kUnknown;
        }
    }
    if (proto == IPPROTO_UDP) {
        switch (port) {
        case 53: case 5353: case 5355: return App::kDns;
        case 3544: return App::kTeredo;
        case 443: return App::kQuic;
        case 3478: case 19302: return App::kStun;
        case 5060: return App::kSip;
        case 5684: return App::kDtls;
        default: return port >= 6881 && port <= 6889 ? App::kBtDht : App::kUnknown;
        }
    }
    return App::kUnknown;
}

Classifier::Classifier(size_t reassembly_slots)
    : slots_(new Slot[reassembly_slots]),
      free_(new uint32_t[reassembly_slots]),
      slots_total_(reassembly_slots),
      free_count_(reassembly_slots),
      quic_scratch_(new QuicScratch),
      quic_crypto_(new QuicCryptoBuffer),
      handshake_(new uint8_t[kStreamBytes]) {
    for (size_t i = 0; i < reassembly_slots; ++i) {
        free_[i] = static_cast<uint32_t>(reassembly_slots - 1 - i);
    }
}

Classifier::~Classifier() = default;

uint32_t Classifier::acquire() noexcept {
    if (free_count_ == 0) {
        ++slots_exhausted_;
        return UINT32_MAX;
    }
    return free_[--free_count_];
}

void Classifier::release(ClassifierState& s) noexcept {
    if (s.slot != UINT32_MAX) {
        free_[free_count_++] = s.slot;
        s.slot = UINT32_MAX;
    }
    s.buffered[0] = s.buffered[1] = 0;
}

void Classifier::init(ClassifierState& s, uint8_t proto, uint16_t client_port, uint16_t server_port) noexcept {
    // The head as a default-constructed state has it; the texts only emptied (their lengths),
    // not overwritten: a new flow touches a few cache lines instead of the whole state.
    static constexpr ClassifierState kFresh{};
    std::memcpy(static_cast<void*>(&s), &kFresh, offsetof(ClassifierState, name));
    s.name.clear();
    s.second_name.clear();
    s.alpn.clear();
    s.ja3.clear();
    s.ja4.clear();
    s.proto = proto;
    s.client_port = client_port;
    s.server_port = server_port;
    if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
        s.flags = kFlagDone;
    } else if (proto == IPPROTO_TCP) {
        s.follow = kFollowTls0 | kFollowTls1 | kFollowHttp;
    }
}

// ---------------------------------------------------------------------------------------------
// Following a classified flow (layer-7 columns)

L7Event Classifier::follow_segment(ClassifierState& s, int direction, const uint8_t* p, size_t n, uint32_t seq,
                                   int64_t ts_ns) noexcept {
    const int d = direction != 0 ? 1 : 0;
    if (n == 0) {
        return L7Event::kNone;
    }
    if (s.proto == IPPROTO_UDP) {
        // QUIC (IETF): the server's version and the client's 0-RTT packets, from long headers.
        if ((p[0] & 0x80) == 0) {
            if (d == 0 && s.quic_server_version != 0) {
                s.follow = 0;  // 1-RTT from the client and the server's version known: nothing left
            }
            return L7Event::kNone;
        }
        if (n < 5) {
            return L7Event::kNone;
        }
        const uint32_t v = uint32_t{p[1]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 8 | p[4];
        if (d == 1 && s.quic_server_version == 0 && v != 0) {
            s.quic_server_version = v;
        }
        // Long packet types: v1 and drafts 0-RTT = 1; v2 (RFC 9369) rotates them, 0-RTT = 2.
        const unsigned type = (p[0] >> 4) & 3;
        if (d == 0 && type == (v == 0x6b3343cfU ? 2U : 1U)) {
            ++s.quic_0rtt;
        }
        return L7Event::kNone;
    }
    const uint8_t tls_bit = d == 0 ? kFollowTls0 : kFollowTls1;
    if ((s.follow & tls_bit) != 0) {
        walk_tls(s, d, p, n, seq, ts_ns);
    }
    if ((s.follow & kFollowHttp) == 0) {
        return L7Event::kNone;
    }
    if (s.app != App::kUnknown && s.app != App::kHttp) {
        s.follow = static_cast<uint8_t>(s.follow & ~kFollowHttp);
        return L7Event::kNone;
    }
    // Tstat counts the segments that start a message: a method and a space from the client,
    // "HTTP/1." from the server.
    if (!looks_like_http(p, n)) {
        return L7Event::kNone;
    }
    const bool response = n >= 5 && std::memcmp(p, "HTTP/", 5) == 0;
    if (response != (d == 1)) {
        return L7Event::kNone;
    }
    // A retransmitted head is the same message again (the first one counts, as tshark's).
    if (s.http_messages[d] != 0 && static_cast<int32_t>(seq - s.http_seq_end[d]) < 0) {
        return L7Event::kNone;
    }
    s.http_seq_end[d] = seq + static_cast<uint32_t>(n);
    if (s.http_messages[d] != UINT16_MAX) {
        ++s.http_messages[d];
    }
    return response ? L7Event::kHttpResponse : L7Event::kHttpRequest;
}

// In-order TLS record headers of one direction until the first application_data record (type
// 23): its time and stream offset, and the time of the last segment that carried handshake bytes
// before it. A gap, or bytes that are not TLS records, end the walk (the columns stay 0).
void Classifier::walk_tls(ClassifierState& s, int d, const uint8_t* p, size_t n, uint32_t seq, int64_t ts_ns) noexcept {
    TlsRecordWalk& w = s.tls_walk[d];
    const uint8_t bit = d == 0 ? kFollowTls0 : kFollowTls1;
    if (!w.have_first) {
        w.have_first = true;
        w.first_seq = seq;  // offsets count from the direction's first payload byte, as Tstat's relative seq
    }
    if (!w.started) {
        // The walk starts at a TLS handshake record: the direction's first payload, or after a
        // mail protocol's STARTTLS. An SSLv2-format ClientHello is passed over by its length.
        const bool tls = n >= 5 && p[0] == 0x16 && p[1] == 3 && p[2] <= 4;
        const bool sslv2_hello = d == 0 && n >= 3 && (p[0] & 0x80) != 0 && p[2] == 1 && seq == w.first_seq;
        if (!tls && !sslv2_hello) {
            if (!is_mail(s.app) || s.pkts[d] >= kMaxMailSegments) {
                s.follow = static_cast<uint8_t>(s.follow & ~bit);
            }
            return;
        }
        if (!tls && static_cast<int32_t>(seq - w.first_seq) != 0) {
            s.follow = static_cast<uint8_t>(s.follow & ~bit);
            return;
        }
        w.started = true;
        w.next_seq = seq;
        if (sslv2_hello) {
            w.skip = ((uint32_t{p[0]} & 0x7f) << 8 | p[1]) + 2;
        }
    }
    const auto ahead = static_cast<int32_t>(seq - w.next_seq);
    if (ahead > 0) {
        s.follow = static_cast<uint8_t>(s.follow & ~bit);  // a gap: the record boundaries are lost
        return;
    }
    const auto behind = static_cast<uint32_t>(-ahead);
    if (behind >= n) {
        return;  // all of it seen already (a retransmission)
    }
    size_t off = behind;
    bool handshake_bytes = false;
    while (off < n) {
        if (w.skip > 0) {
            const size_t k = std::min<size_t>(w.skip, n - off);
            w.skip -= static_cast<uint32_t>(k);
            off += k;
            handshake_bytes = true;
            continue;
        }
        if (w.hdr_have == 0) {
            w.hdr_seq = seq + static_cast<uint32_t>(off);
        }
        w.hdr[w.hdr_have++] = p[off++];
        if (w.hdr_have < 5) {
            continue;
        }
        w.hdr_have = 0;
        const uint8_t type = w.hdr[0];
        if (type < 20 || type > 24 || w.hdr[1] != 3) {
            s.follow = static_cast<uint8_t>(s.follow & ~bit);  // not a TLS record stream
            return;
        }
        if (type == 23) {
            w.appdata_ns = ts_ns;
            w.appdata_offset = w.hdr_seq - w.first_seq;
            if (handshake_bytes || w.last_handshake_ns == 0) {
                w.last_handshake_ns = ts_ns;
            }
            s.follow = static_cast<uint8_t>(s.follow & ~bit);
            return;
        }
        w.skip = static_cast<uint32_t>(w.hdr[3]) << 8 | w.hdr[4];
        handshake_bytes = true;
    }
    w.next_seq = seq + static_cast<uint32_t>(n);
    if (handshake_bytes) {
        w.last_handshake_ns = ts_ns;
    }
}

void Classifier::update_done(ClassifierState& s) noexcept {
    if (s.dir_final[0] && s.dir_final[1]) {
        s.flags |= kFlagDone;
        release(s);
    }
}

void Classifier::finalize(ClassifierState& s, int d) noexcept {
    s.dir_final[d] = true;
    s.buffered[d] = 0;
    if (s.slot != UINT32_MAX && s.buffered[d ^ 1] == 0 && s.app != App::kQuic) {
        release(s);
    }
    update_done(s);
}

void Classifier::finish(ClassifierState& s) noexcept {
    // A message still waiting for its next segment: take what arrived (e.g. a cut ClientHello).
    for (int d = 0; d < 2; ++d) {
        if (s.proto == IPPROTO_TCP && s.buffered[d] != 0 && s.slot != UINT32_MAX && !s.dir_final[d]) {
            s.flags |= kFlagHelloCut;
            tcp_stream(s, d, slots_[s.slot].stream[d], s.buffered[d], true);
        }
    }
    if (s.proto == IPPROTO_UDP && s.app == App::kQuic && s.slot != UINT32_MAX && !s.dir_final[0]) {
        QuicCryptoBuffer& crypto = *slots_[s.slot].quic();
        if (parse_client_hello(crypto.data, crypto.contiguous(), client_hello_, TlsTransport::kQuic) != ParseStatus::kInvalid) {
            s.flags |= kFlagHelloCut;
            take_client_hello(s, client_hello_);
        }
    }
    if (s.app == App::kUnknown) {
        // The server's port; failing that the client's (a flow first seen mid-stream from the
        // server gets its sides the wrong way round).
        App by_port = app_for_port(s.proto, s.server_port);
        if (by_port == App::kUnknown) {
            by_port = app_for_port(s.proto, s.client_port);
        }
        if (by_port != App::kUnknown) {
            s.app = by_port;
            s.flags |= kFlagByPort;
        }
    }
    release(s);
    s.flags |= kFlagDone;
}

void Classifier::classify(ClassifierState& s, int direction, const uint8_t* payload, size_t len,
                          uint32_t tcp_seq) noexcept {
    const int d = direction != 0 ? 1 : 0;
    if (s.done() || len == 0 || s.dir_final[d]) {
        return;
    }
    if (s.proto == IPPROTO_TCP) {
        tcp(s, d, payload, len, tcp_seq);
    } else {
        udp(s, d, payload, len);
    }
}

// ---------------------------------------------------------------------------------------------
// Metadata

void Classifier::take_client_hello(ClassifierState& s, const TlsClientHello& h) noexcept {
    if (s.name.empty() && !h.sni.empty()) {
        s.name.assign(h.sni.view());
        s.name.truncated = s.name.truncated || h.sni.truncated;
    }
    s.tls_version[0] = h.max_version;
    s.alpn_bits[0] = h.alpn_bits;
    if (s.alpn.empty() && !h.alpn.empty()) {
        const std::string_view all = h.alpn.view();
        s.alpn.assign(all.substr(0, all.find(',')));
    }
    s.ja3.assign(h.ja3.view());
    s.ja4.assign(h.ja4.view());
    s.ech_len = h.ech_len;
    s.tls_session = static_cast<uint8_t>(s.tls_session | (h.session_id_len != 0 ? kTlsSessionId : 0) |
                                         (h.psk ? kTlsPskExt : 0) | (h.early_data ? kTlsEarlyData : 0) |
                                         (h.session_ticket ? kTlsTicketExt : 0));
}

void Classifier::take_server_hello(ClassifierState& s, const TlsServerHello& h) noexcept {
    s.tls_version[1] = h.version;
    s.tls_cipher = h.cipher;
    s.alpn_bits[1] = h.alpn_bits;
    if (!h.alpn.empty()) {
        s.alpn.assign(h.alpn.view());
    }
    s.tls_session = static_cast<uint8_t>(s.tls_session | (h.psk ? kTlsServerPsk : 0) |
                                         (h.hello_retry ? kTlsHelloRetry : 0));
}

void Classifier::take_http(ClassifierState& s, const HttpMessage& m) noexcept {
    s.con_t |= kConHttp;
    if (s.app == App::kUnknown) {
        s.app = App::kHttp;
    }
    if (m.request) {
        if (s.http_method == HttpMethod::kNone) {
            s.http_method = m.method;
            s.http_t = m.method == HttpMethod::kGet ? kHttpGet : m.method == HttpMethod::kPost ? kHttpPost : 0;
        }
        if (s.name.empty() && !m.host.empty()) {
            s.name.assign(m.host.view());
        }
    } else if (s.http_status == 0) {
        s.http_status = m.status;
    }
}

void Classifier::take_dns(ClassifierState& s, const DnsMessage& m) noexcept {
    s.app = App::kDns;
    if (s.name.empty() && !m.qname.empty()) {
        s.name.assign(m.qname.view());
    }
    if (s.dns_qtype == 0) {
        s.dns_qtype = m.qtype;
    }
    if (m.response) {
        s.dns_rcode = m.rcode;
    }
}

// ---------------------------------------------------------------------------------------------
// TCP

void Classifier::tcp(ClassifierState& s, int d, const uint8_t* p, size_t n, uint32_t seq) noexcept {
    const bool watching = is_mail(s.app) && (s.flags & kFlagStartTls) == 0;
    const uint8_t budget = is_mail(s.app) ? kMaxMailSegments : kMaxTcpSegments;
    ++s.pkts[d];
    const bool last = s.pkts[d] >= budget;
    if (s.buffered[d] != 0 && s.slot != UINT32_MAX) {
        // Continuing a message cut at a segment boundary: in-order bytes only.
        const auto delta = static_cast<int32_t>(seq - s.next_seq[d]);
        uint8_t* buf = slots_[s.slot].stream[d];
        if (delta > 0) {
            s.flags |= kFlagHelloCut;  // a gap: classify what we have
            tcp_stream(s, d, buf, s.buffered[d], true);
            finalize(s, d);
            return;
        }
        if (delta < 0) {
            const auto skip = static_cast<size_t>(-static_cast<int64_t>(delta));
            if (skip >= n) {
                --s.pkts[d];  // a retransmission brings nothing new
                return;
            }
            p += skip;
            n -= skip;
        }
        const size_t take = std::min(n, kStreamBytes - s.buffered[d]);
        std::memcpy(buf + s.buffered[d], p, take);
        s.buffered[d] = static_cast<uint16_t>(s.buffered[d] + take);
        s.next_seq[d] += static_cast<uint32_t>(n);
        const bool full = s.buffered[d] == kStreamBytes;
        const Step st = tcp_stream(s, d, buf, s.buffered[d], last || full);
        if (st == Step::kMore && !(last || full)) {
            return;
        }
        if (full && st == Step::kMore) {
            s.flags |= kFlagHelloCut;
        }
        s.buffered[d] = 0;
        if (st == Step::kDone || last) {
            finalize(s, d);
        }
        return;
    }
    const Step st = tcp_stream(s, d, p, n, last);
    if (st == Step::kMore) {
        if (s.slot == UINT32_MAX) {
            s.slot = acquire();
        }
        if (s.slot == UINT32_MAX) {
            s.flags |= kFlagHelloCut;
            tcp_stream(s, d, p, n, true);
            finalize(s, d);
            return;
        }
        const size_t take = std::min(n, kStreamBytes);
        std::memcpy(slots_[s.slot].stream[d], p, take);
        s.buffered[d] = static_cast<uint16_t>(take);
        s.next_seq[d] = seq + static_cast<uint32_t>(n);
        return;
    }
    if (st == Step::kDone || last || (s.app != App::kUnknown && !watching && !is_mail(s.app))) {
        finalize(s, d);
    }
}

Classifier::Step Classifier::tcp_stream(ClassifierState& s, int d, const uint8_t* p, size_t n, bool last) noexcept {
    // TLS: a handshake record, maybe after an alert (also after STARTTLS).
    if (p[0] >= 20 && p[0] <= 22 && looks_like_tls_record(p, n) && (s.app == App::kUnknown || s.app == App::kTls ||
                                                      (s.flags & kFlagStartTls) != 0)) {
        const TlsRecordScan scan = tls_handshake_from_records(p, n, handshake_.get(), kStreamBytes);
        if (scan.status != ParseStatus::kInvalid) {
            const ParseStatus st = d == 0 ? parse_client_hello(handshake_.get(), scan.handshake_len, client_hello_)
                                          : parse_server_hello(handshake_.get(), scan.handshake_len, server_hello_);
            if (st == ParseStatus::kTruncated && !last) {
                return Step::kMore;
            }
            if (st != ParseStatus::kInvalid) {
                if (st == ParseStatus::kTruncated) {
                    s.flags |= kFlagHelloCut;
                }
                s.con_t |= kConTls;
                if (s.app == App::kUnknown) {
                    s.app = App::kTls;
                }
                if (d == 0) {
                    take_client_hello(s, client_hello_);
                } else {
                    take_server_hello(s, server_hello_);
                    // TLS 1.2 and earlier: the Certificate message follows in the clear.
                    if (st == ParseStatus::kOk && server_hello_.version < 0x0304 &&
                        server_certificate_cn(handshake_.get(), scan.handshake_len, s.second_name) ==
                            ParseStatus::kTruncated &&
                        !last && !flight_ended(p, n)) {
                        return Step::kMore;
                    }
                }
                return Step::kDone;
            }
        }
    }
    // SSLv2-format ClientHello (RFC 6101 E.2 / RFC 5246 E.2): 2-byte length with the top bit, type 1,
    // then the highest version offered. Old clients and scanners; no extensions, so no SNI.
    if (d == 0 && s.app == App::kUnknown && n >= 11 && (p[0] & 0x80) != 0 && p[2] == 1 && (p[3] == 3 || p[3] == 2) &&
        (size_t{p[0] & 0x7fu} << 8 | p[1]) + 2 == n) {
        s.app = App::kTls;
        s.con_t |= kConTls;
        s.tls_version[0] = static_cast<uint16_t>(p[3] << 8 | p[4]);
        return Step::kDone;
    }
    // Mid-stream TLS: whole records of application data/alerts, no handshake to read.
    if (s.app == App::kUnknown && tls_record_chain(p, n)) {
        s.app = App::kTls;
        s.con_t |= kConTls;
        return Step::kDone;
    }
    if (is_mail(s.app)) {
        // Watching the command exchange for STARTTLS (SMTP, IMAP "tag STARTTLS") or STLS (POP3).
        if (d == 0 && n >= 4 && (first_line_has(p, n, "STARTTLS") || starts_with(p, n, "STLS") ||
                                 starts_with(p, n, "stls"))) {
            s.flags |= kFlagStartTls;
        }
        return Step::kNext;
    }
    if (s.app != App::kUnknown && s.app != App::kHttp) {
        return Step::kDone;
    }
    // RTSP (RFC 2326), before HTTP (OPTIONS looks like an HTTP method): "RTSP/1.0 200" responses,
    // requests naming an rtsp:// URL or RTSP/1.0.
    if (s.app == App::kUnknown &&
        (starts_with(p, n, "RTSP/1.") ||
         (n >= 8 && p[0] >= 'A' && p[0] <= 'Z' && (line_has(p, n, " rtsp://") || line_has(p, n, " RTSP/1."))))) {
        s.app = App::kRtsp;
        s.con_t |= kConRtsp;
        return Step::kDone;
    }
    // HTTP/1.x request or response.
    if (looks_like_http(p, n) || (n < 8 && !last && (p[0] == 'G' || p[0] == 'P' || p[0] == 'H'))) {
        const ParseStatus st = parse_http(p, n, http_);
        if (st == ParseStatus::kTruncated && !last && (!http_.request || http_.host.empty())) {
            return Step::kMore;  // wait for the Host header / status line
        }
        if (st != ParseStatus::kInvalid && (http_.request || http_.status != 0)) {
            take_http(s, http_);
            return Step::kDone;
        }
    }
    if (s.app == App::kHttp) {
        return Step::kDone;
    }
    if (starts_with(p, n, "SSH-")) {
        s.app = App::kSsh;
        if (starts_with(p, n, "SSH-2.0") || starts_with(p, n, "SSH-1.99")) {
            s.con_t |= kConSsh;  // Tstat's rule: protocol 2 only
        }
        return Step::kDone;
    }
    if (bittorrent_handshake(p, n)) {
        s.app = App::kBitTorrent;
        s.con_t |= kConP2p;
        s.p2p_t = kP2pBitTorrent;
        return Step::kDone;
    }
    if (n < 20 && !last && std::memcmp(p, "\x13" "BitTorrent protocol", n) == 0) {
        return Step::kMore;
    }
    if (edonkey_message(p, n)) {
        s.app = App::kEdonkey;
        s.con_t |= kConP2p;
        s.p2p_t = kP2pEdonkey;
        return Step::kDone;
    }
    // SHOUTcast/Icecast v1 answers "ICY 200 OK".
    if (d == 1 && starts_with(p, n, "ICY ")) {
        s.app = App::kIcy;
        s.con_t |= kConIcy;
        return Step::kDone;
    }
    // RTMP handshake: C0 (version 3) and C1 (1,536 bytes) are sent alone before the server's S0/S1.
    if (d == 0 && p[0] == 0x03 && s.pkts[0] <= 2) {
        if (n == 1537) {
            s.app = App::kRtmp;
            s.con_t |= kConRtmp;
            return Step::kDone;
        }
        if (n < 1537 && !last && s.server_port == 1935) {
            return Step::kMore;  // C0+C1 cut by a small MSS
        }
    }
    // Instant messaging: MSN's "VER <trid> MSNPnn", Yahoo's "YMSG" header, XMPP's stream opening.
    if (d == 0 && starts_with(p, n, "VER ") && line_has(p, n, " MSNP")) {
        s.app = App::kMsn;
        s.con_t |= kConMsn;
        return Step::kDone;
    }
    if (starts_with(p, n, "YMSG") && n >= 20) {
        s.app = App::kYmsg;
        s.con_t |= kConYmsg;
        return Step::kDone;
    }
    if ((starts_with(p, n, "<?xml") || starts_with(p, n, "<stream:stream")) &&
        std::string_view(reinterpret_cast<const char*>(p), std::min<size_t>(n, 512)).find("jabber:") !=
            std::string_view::npos) {
        s.app = App::kXmpp;
        s.con_t |= kConXmpp;
        return Step::kDone;
    }
    if (d == 1) {
        // Server-first text protocols.
        if ((starts_with(p, n, "220 ") || starts_with(p, n, "220-")) &&
            (first_line_has(p, n, "SMTP") || s.server_port == 25 || s.server_port == 587)) {
            s.app = App::kSmtp;
            s.con_t |= kConSmtp;
            return Step::kNext;
        }
        if (starts_with(p, n, "+OK")) {
            s.app = App::kPop3;
            s.con_t |= kConPop3;
            return Step::kNext;
        }
        if (starts_with(p, n, "* OK") || starts_with(p, n, "* PREAUTH")) {
            s.app = App::kImap;
            s.con_t |= kConImap;
            return Step::kNext;
        }
    } else if (starts_with(p, n, "EHLO ") || starts_with(p, n, "HELO ") || starts_with(p, n, "ehlo ") ||
               starts_with(p, n, "helo ")) {
        s.app = App::kSmtp;
        s.con_t |= kConSmtp;
        return Step::kNext;
    }
    if (sip_start(p, n)) {
        s.app = App::kSip;
        return Step::kDone;
    }
    // DNS over TCP: only on the DNS port (a 2-byte length is too weak a signature alone).
    if (s.server_port == 53 || s.server_port == 5353) {
        const ParseStatus st = parse_dns_tcp(p, n, dns_);
        if (st == ParseStatus::kTruncated && !last && n < 2 + 12 + 256) {
            return Step::kMore;
        }
        if (st != ParseStatus::kInvalid && dns_.response == (d == 1)) {
            take_dns(s, dns_);
            return Step::kDone;
        }
    }
    return Step::kNext;
}

// ---------------------------------------------------------------------------------------------
// UDP

bool Classifier::quic(ClassifierState& s, int d, const uint8_t* p, size_t n, bool last) noexcept {
    uint32_t gquic = gquic_public_header_version(p, n);
    if (gquic == 0 && n >= 5 && (p[0] & 0xc0) == 0xc0) {  // Q046+: IETF-style long header, own CID format
        const uint32_t v = uint32_t{p[1]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 8 | p[4];
        gquic = gquic_version(v) ? v : 0;
    }
    if (gquic != 0) {
        s.app = App::kQuic;
        s.quic_version = gquic;
        s.udp_type[d] = kUdpQuic;
        if (d == 0 && s.name.empty()) {
            gquic_chlo(p, n, s.name, s.second_name);
        }
        finalize(s, d);  // Google QUIC's own crypto (Q0xx) is not decrypted
        return true;
    }
    QuicLongHeader h;
    const ParseStatus hs = parse_quic_long_header(p, n, h);
    if (hs == ParseStatus::kInvalid) {
        if (s.app == App::kQuic && n != 0 && (p[0] & 0xc0) == 0x40) {
            s.udp_type[d] = kUdpQuic;  // a short-header packet of a QUIC flow: handshake over
            finalize(s, d);
            return true;
        }
        return false;
    }
    if (!quic_version_supported(h.version) || hs != ParseStatus::kOk) {
        return false;
    }
    s.app = App::kQuic;
    s.udp_type[d] = kUdpQuic;
    s.follow |= kFollowQuic;
    if (d == 0) {
        s.quic_version = h.version;
    }
    if (d == 1 && h.type == 3) {
        // Retry: the client's next Initial, and the server's, are keyed by the Retry's SCID.
        s.odcid_len = h.scid_len;
        std::memcpy(s.odcid, h.scid, h.scid_len);
        return true;
    }
    if (h.type != 0) {
        finalize(s, d);  // Handshake/0-RTT: the Initial exchange is over
        return true;
    }
    QuicInitialInfo info;
    if (d == 0) {
        if (s.odcid_len == 0) {
            s.odcid_len = h.dcid_len;
            std::memcpy(s.odcid, h.dcid, h.dcid_len);
        }
        const bool continuing = s.slot != UINT32_MAX;
        QuicCryptoBuffer& crypto = continuing ? *slots_[s.slot].quic() : *quic_crypto_;
        if (!continuing) {
            crypto.reset();
        }
        ParseStatus st = decrypt_quic_initial(p, n, s.odcid, s.odcid_len, false, *quic_scratch_, crypto, info);
        if (st == ParseStatus::kInvalid && (h.dcid_len != s.odcid_len || std::memcmp(h.dcid, s.odcid, h.dcid_len) != 0)) {
            // After a Retry the keys come from the new DCID.
            st = decrypt_quic_initial(p, n, nullptr, 0, false, *quic_scratch_, crypto, info);
            if (st == ParseStatus::kOk) {
                s.odcid_len = h.dcid_len;
                std::memcpy(s.odcid, h.dcid, h.dcid_len);
            }
        }
        if (st != ParseStatus::kOk) {
            return true;
        }
        s.flags |= kFlagQuicDecrypted;
        const ParseStatus hello = parse_client_hello(crypto.data, crypto.contiguous(), client_hello_, TlsTransport::kQuic);
        if (hello == ParseStatus::kTruncated && !last) {
            if (!continuing) {
                s.slot = acquire();
                if (s.slot == UINT32_MAX) {
                    s.flags |= kFlagHelloCut;
                    take_client_hello(s, client_hello_);
                    finalize(s, d);
                    return true;
                }
                QuicCryptoBuffer* kept = new (slots_[s.slot].stream) QuicCryptoBuffer;
                std::memcpy(kept->data, crypto.data, sizeof crypto.data);
                std::memcpy(kept->ranges, crypto.ranges, sizeof crypto.ranges);
                kept->range_count = crypto.range_count;
            }
            return true;
        }
        if (hello != ParseStatus::kInvalid) {
            if (hello == ParseStatus::kTruncated) {
                s.flags |= kFlagHelloCut;
            }
            take_client_hello(s, client_hello_);
        }
        if (continuing) {
            release(s);
        }
        finalize(s, d);
        return true;
    }
    // Server Initial: keyed by the client's original DCID.
    if (s.odcid_len != 0) {
        quic_crypto_->reset();
        if (decrypt_quic_initial(p, n, s.odcid, s.odcid_len, true, *quic_scratch_, *quic_crypto_, info) == ParseStatus::kOk) {
            if (parse_server_hello(quic_crypto_->data, quic_crypto_->contiguous(), server_hello_) != ParseStatus::kInvalid) {
                take_server_hello(s, server_hello_);
                finalize(s, d);
            }
        }
    }
    return true;
}

bool Classifier::dtls(ClassifierState& s, int d, const uint8_t* p, size_t n) noexcept {
    if (n < 13 || p[0] < 20 || p[0] > 25 || p[1] != 0xfe || (p[2] != 0xff && p[2] != 0xfd && p[2] != 0xfc)) {
        return false;
    }
    const size_t rec_len = size_t{p[11]} << 8 | p[12];
    if (rec_len == 0 || rec_len > n - 13) {
        return false;
    }
    s.app = App::kDtls;
    s.udp_type[d] = kUdpDtls;
    // A whole (unfragmented) ClientHello: rebuild the 4-byte TLS handshake header and parse it.
    if (p[0] == 22 && rec_len >= 12 && (p[13] == 1 || p[13] == 2)) {
        const uint8_t* hs = p + 13;
        const uint32_t len = uint32_t{hs[1]} << 16 | uint32_t{hs[2]} << 8 | hs[3];
        const uint32_t frag_off = uint32_t{hs[6]} << 16 | uint32_t{hs[7]} << 8 | hs[8];
        const uint32_t frag_len = uint32_t{hs[9]} << 16 | uint32_t{hs[10]} << 8 | hs[11];
        if (frag_off == 0 && frag_len == len && len + 12 <= rec_len && len + 4 <= kStreamBytes) {
            uint8_t* buf = handshake_.get();
            std::memcpy(buf, hs, 4);
            std::memcpy(buf + 4, hs + 12, len);
            if (hs[0] == 1 && parse_client_hello(buf, len + 4, client_hello_, TlsTransport::kDtls) == ParseStatus::kOk) {
                take_client_hello(s, client_hello_);
            } else if (hs[0] == 2 && parse_server_hello(buf, len + 4, server_hello_) == ParseStatus::kOk) {
                take_server_hello(s, server_hello_);
            }
        }
    }
    return true;
}

bool Classifier::rtp(ClassifierState& s, int d, const uint8_t* p, size_t n) noexcept {
    if (n < 8 || (p[0] >> 6) != 2) {
        return false;
    }
    const bool rtcp = p[1] >= 200 && p[1] <= 204;
    uint32_t id = 0;
    uint16_t seq = 0;
    if (rtcp) {
        const size_t words = size_t{p[2]} << 8 | p[3];
        if ((words + 1) * 4 > n) {
            return false;
        }
        id = uint32_t{p[4]} << 24 | uint32_t{p[5]} << 16 | uint32_t{p[6]} << 8 | p[7];
    } else {
        const size_t hdr = 12 + 4 * size_t{p[0] & 0x0fu};
        const uint8_t pt = p[1] & 0x7f;
        if (n < hdr || (pt >= 72 && pt <= 76)) {
            return false;
        }
        seq = static_cast<uint16_t>(p[2] << 8 | p[3]);
        id = uint32_t{p[8]} << 24 | uint32_t{p[9]} << 16 | uint32_t{p[10]} << 8 | p[11];
    }
    const uint8_t kind = rtcp ? kContRtcp : kContRtp;
    // Continuity: same SSRC, RTP sequence moving forward by less than Tstat's jump threshold.
    const bool continues = s.cont_kind[d] == kind && s.cont_id[d] == id &&
                           (rtcp || static_cast<uint16_t>(seq - s.cont_seq[d] - 1) < 2000);
    s.cont_good[d] = continues ? static_cast<uint8_t>(std::min(s.cont_good[d] + 1, 255)) : 0;
    s.cont_kind[d] = kind;
    s.cont_id[d] = id;
    s.cont_seq[d] = seq;
    const bool confirmed = s.cont_good[d] >= (rtcp ? 1 : 2);
    if (rtcp) {
        s.udp_type[d] = confirmed ? kUdpRtcp : kUdpFirstRtcp;
        if (confirmed && (s.app == App::kUnknown || s.app == App::kRtcp)) {
            s.app = App::kRtcp;
        }
    } else {
        s.udp_type[d] = confirmed ? (s.stun_seen ? kUdpRtpPlus : kUdpRtp) : kUdpFirstRtp;
        if (confirmed) {
            s.app = App::kRtp;
        }
    }
    return confirmed;
}

void Classifier::udp(ClassifierState& s, int d, const uint8_t* p, size_t n) noexcept {
    ++s.pkts[d];
    const bool last = s.pkts[d] >= kMaxUdpPackets;
    const auto dns_port = [](uint16_t port) { return port == 53 || port == 5353 || port == 5355; };
    if ((s.app == App::kUnknown || s.app == App::kDns) && (dns_port(s.server_port) || dns_port(s.client_port))) {
        const ParseStatus st = parse_dns(p, n, dns_);
        if (st != ParseStatus::kInvalid && n >= 12) {
            take_dns(s, dns_);
            s.udp_type[d] = kUdpDns;
            finalize(s, d);
            return;
        }
    }
    if ((s.app == App::kUnknown || s.app == App::kQuic) && quic(s, d, p, n, last)) {
        if (last && !s.dir_final[d]) {
            finalize(s, d);
        }
        return;
    }
    if (stun_message(p, n)) {
        s.stun_seen = true;
        if (s.app == App::kUnknown) {
            s.app = App::kStun;
        }
    } else if ((s.app == App::kUnknown || s.app == App::kDtls || s.app == App::kStun) && dtls(s, d, p, n)) {
        finalize(s, d);
        return;
    } else if (s.app == App::kUnknown && sip_start(p, n)) {
        s.app = App::kSip;
        s.udp_type[d] = kUdpSip;
        finalize(s, d);
        return;
    } else if ((s.app == App::kUnknown || s.app == App::kSsdp) && looks_like_http(p, n)) {
        // SSDP/UPnP discovery: HTTP over UDP (M-SEARCH, NOTIFY, responses).
        if (parse_http(p, n, http_) != ParseStatus::kInvalid) {
            s.app = App::kSsdp;
            if (s.name.empty() && !http_.host.empty()) {
                s.name.assign(http_.host.view());
            }
            finalize(s, d);
            return;
        }
    } else if ((s.app == App::kUnknown || s.app == App::kTeredo) && teredo(p, n)) {
        s.app = App::kTeredo;
        s.udp_type[d] = kUdpTeredo;
        finalize(s, d);
        return;
    } else if ((s.app == App::kUnknown || s.app == App::kBtDht) && bt_dht(p, n)) {
        s.app = App::kBtDht;
        s.p2p_t = kP2pBitTorrent;
        s.udp_type[d] = kUdpBtDht;
        finalize(s, d);
        return;
    } else if (n >= 20 && (p[0] & 0x0f) == 1 && (p[0] >> 4) <= 4 && p[1] <= 2 &&
               (s.app == App::kUnknown || s.app == App::kUtp || s.app == App::kBtDht)) {
        // uTP (BEP 29): version 1, type 0-4, known extension; confirmed by a second packet of the
        // same connection id (the SYN's id + 1 afterwards, or the same id).
        const uint32_t id = static_cast<uint32_t>(p[2] << 8 | p[3]);
        const bool continues = s.cont_kind[d] == kContUtp && (id == s.cont_id[d] || id == s.cont_id[d] + 1);
        s.cont_kind[d] = kContUtp;
        s.cont_id[d] = id;
        if (continues) {
            s.udp_type[d] = kUdpUtp;
            if (s.app == App::kUnknown) {
                s.app = App::kUtp;
            }
            // uTP is BitTorrent's transport, but it carries anything: p2p_t says BitTorrent only
            // on a handshake or DHT (tests/ndpi_agreement_known.json has a uTP flow of plain text).
            finalize(s, d);
            return;
        }
    } else if ((s.app == App::kUnknown || s.app == App::kRtp || s.app == App::kRtcp || s.app == App::kStun) &&
               rtp(s, d, p, n)) {
        finalize(s, d);
        return;
    }
    if (last) {
        finalize(s, d);
    }
}

}  // namespace weir::classify
