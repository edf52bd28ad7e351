// Packet decoder (see decode.hpp). One pass from the link header inwards; each layer is a plain
// function, tunnels recurse at most kMaxTunnelDepth times. Every read is preceded by has(), which
// checks it against `cap`; lengths claimed by headers are checked separately with fits(), so a
// header that lies (bad) and a capture that stops early (truncated) give different verdicts.
#include "decode.hpp"

#include <cstring>

namespace weir::proto {

std::string_view to_string(Verdict v) {
    switch (v) {
    case Verdict::kOk: return "ok";
    case Verdict::kNotIp: return "not_ip";
    case Verdict::kUnsupportedLink: return "unsupported_link";
    case Verdict::kTruncatedLink: return "truncated_link";
    case Verdict::kTruncatedIp: return "truncated_ip";
    case Verdict::kBadIpVersion: return "bad_ip_version";
    case Verdict::kBadIpHeader: return "bad_ip_header";
    case Verdict::kIpFragment: return "ip_fragment";
    case Verdict::kTruncatedTransport: return "truncated_transport";
    case Verdict::kBadTransportHeader: return "bad_transport_header";
    case Verdict::kTunnelTooDeep: return "tunnel_too_deep";
    case Verdict::kOtherTransport: return "other_transport";
    case Verdict::kCount: break;
    }
    return "unknown";
}

namespace {

using V = Verdict;

// Link types (libpcap DLT_* values as pcap_datalink() returns them, plus LINKTYPE_RAW as stored).
constexpr uint16_t kDltNull = 0, kDltEthernet = 1, kDltRaw = 12, kDltRawOpenBsd = 14, kLinktypeRaw = 101,
                   kDltLoop = 108, kDltSll = 113, kDltIpv4 = 228, kDltIpv6 = 229, kDltSll2 = 276;

constexpr uint16_t kEthIpv4 = 0x0800, kEthIpv6 = 0x86dd, kEthVlan = 0x8100, kEthQinQ = 0x88a8,
                   kEthQinQOld = 0x9100, kEthMplsUc = 0x8847, kEthMplsMc = 0x8848, kEthPppoe = 0x8864,
                   kEthTeb = 0x6558, kEthErspan2 = 0x88be, kEthErspan3 = 0x22eb, kEthPpp = 0x880b;

constexpr uint8_t kProtoIcmp = 1, kProtoHopByHop = 0, kProtoIpip = 4, kProtoTcp = 6, kProtoUdp = 17,
                  kProtoIpv6 = 41, kProtoRouting = 43, kProtoFragment = 44, kProtoGre = 47, kProtoAh = 51,
                  kProtoIcmpv6 = 58, kProtoDstOpts = 60;

constexpr uint16_t kPortVxlan = 4789, kPortGeneve = 6081, kPortMplsUdp = 6635;

// Decoded's offsets are uint16_t. A header may start at most here, so the header after it (at most
// 60 bytes: IPv4 IHL 15, TCP data offset 15) still ends at a representable offset.
constexpr uint32_t kMaxHeaderOffset = 0xffff - 60;

struct Frame {
    const uint8_t* p;
    uint32_t cap;  // readable bytes: caplen, lowered to the end of each IP packet entered (drops padding)
};

inline bool has(const Frame& f, uint32_t pos, uint32_t n) noexcept { return pos <= f.cap && f.cap - pos >= n; }
// Whether n bytes at pos fit before `end`, a length claimed by a header (not what was captured).
inline bool fits(uint32_t pos, uint32_t n, uint32_t end) noexcept { return pos <= end && end - pos >= n; }

inline uint16_t be16(const uint8_t* p) noexcept { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t be32(const uint8_t* p) noexcept {
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | p[3];
}

// The transport payload: on the wire from the IP lengths, captured as far as the capture goes.
inline void set_payload(const Frame& f, Decoded& out, uint32_t off, uint32_t ip_end) noexcept {
    out.payload_offset = static_cast<uint16_t>(off);
    out.payload_len = ip_end - off;
    const uint32_t present = f.cap > off ? f.cap - off : 0;
    out.payload_captured = present < out.payload_len ? present : out.payload_len;
}

// Something we do not look into (later fragment, ESP, SCTP, ...): its bytes are the payload, so
// byte counts stay right.
inline V opaque(const Frame& f, Decoded& out, uint32_t off, uint32_t ip_end, V v) noexcept {
    out.l4_offset = static_cast<uint16_t>(off);
    set_payload(f, out, off, ip_end);
    return v;
}

inline bool enter_tunnel(Decoded& out) noexcept {
    if (out.tunnel_depth >= kMaxTunnelDepth) {
        return false;
    }
    ++out.tunnel_depth;
    return true;
}

V ethernet(Frame& f, uint32_t pos, Decoded& out) noexcept;
V ethertype(Frame& f, uint32_t pos, uint16_t type, Decoded& out) noexcept;
V ip(Frame& f, uint32_t pos, uint8_t want_version, Decoded& out) noexcept;

V mpls(Frame& f, uint32_t pos, Decoded& out) noexcept {
    for (;;) {  // pop labels until bottom-of-stack
        if (!has(f, pos, 4)) {
            return V::kTruncatedLink;
        }
        const bool bottom = (f.p[pos + 2] & 0x01) != 0;
        pos += 4;
        if (bottom) {
            break;
        }
    }
    // MPLS does not say what it carries; the first nibble is the usual guess (a pseudowire control
    // word or Ethernet starts otherwise and is not decoded).
    if (!has(f, pos, 1)) {
        return V::kTruncatedIp;
    }
    switch (f.p[pos] >> 4) {
    case 4: return ip(f, pos, 4, out);
    case 6: return ip(f, pos, 6, out);
    default: return V::kNotIp;
    }
}

V ethertype(Frame& f, uint32_t pos, uint16_t type, Decoded& out) noexcept {
    for (;;) {
        switch (type) {
        case kEthIpv4: return ip(f, pos, 4, out);
        case kEthIpv6: return ip(f, pos, 6, out);
        case kEthVlan:
        case kEthQinQ:
        case kEthQinQOld:  // tag: TCI, then the next EtherType
            if (!has(f, pos, 4)) {
                return V::kTruncatedLink;
            }
            type = be16(f.p + pos + 2);
            pos += 4;
            continue;
        case kEthMplsUc:
        case kEthMplsMc: return mpls(f, pos, out);
        case kEthPppoe: {  // ver/type, code, session, length, then the 2-byte PPP protocol
            if (!has(f, pos, 8)) {
                return V::kTruncatedLink;
            }
            if (f.p[pos] != 0x11 || f.p[pos + 1] != 0x00) {
                return V::kNotIp;  // not version 1 session data
            }
            const uint16_t proto = be16(f.p + pos + 6);
            if (proto == 0x0021) {
                return ip(f, pos + 8, 4, out);
            }
            if (proto == 0x0057) {
                return ip(f, pos + 8, 6, out);
            }
            return V::kNotIp;  // LCP, IPCP, ...
        }
        default: return V::kNotIp;  // ARP, LLDP, 802.3 length + LLC, ...
        }
    }
}

V ethernet(Frame& f, uint32_t pos, Decoded& out) noexcept {
    if (!has(f, pos, 14)) {
        return V::kTruncatedLink;
    }
    return ethertype(f, pos + 14, be16(f.p + pos + 12), out);
}

void tcp_options(const uint8_t* o, uint32_t n, TcpOptions& t) noexcept {
    uint32_t i = 0;
    while (i < n) {
        const uint8_t kind = o[i];
        if (kind == 0) {  // end of list
            break;
        }
        if (kind == 1) {  // NOP
            ++i;
            continue;
        }
        if (n - i < 2) {
            break;
        }
        const uint32_t len = o[i + 1];
        if (len < 2 || len > n - i) {
            break;  // malformed: the rest cannot be delimited
        }
        const uint8_t* v = o + i + 2;
        switch (kind) {
        case 2:
            if (len == 4) {
                t.mss = be16(v);
            }
            break;
        case 3:
            if (len == 3) {
                t.window_scale = v[0];
            }
            break;
        case 4:
            if (len == 2) {
                t.sack_permitted = true;
            }
            break;
        case 5:
            if (len >= 10 && (len - 2) % 8 == 0) {
                t.sack_blocks = static_cast<uint8_t>((len - 2) / 8);
            }
            break;
        case 8:
            if (len == 10) {
                t.timestamps = true;
                t.ts_val = be32(v);
                t.ts_ecr = be32(v + 4);
            }
            break;
        default: break;
        }
        i += len;
    }
}

// A transport header of n bytes: it must fit inside the IP packet, then be present in the capture.
V transport_header(const Frame& f, uint32_t l4, uint32_t n, uint32_t ip_end) noexcept {
    if (!fits(l4, n, ip_end)) {
        return V::kBadTransportHeader;
    }
    if (!has(f, l4, n)) {
        return V::kTruncatedTransport;
    }
    return V::kOk;
}

V tcp(Frame& f, uint32_t l4, uint32_t ip_end, Decoded& out) noexcept {
    if (const V v = transport_header(f, l4, 20, ip_end); v != V::kOk) {
        return v;
    }
    const uint8_t* h = f.p + l4;
    // Filled before the options are checked, so a block can still use the ports of a segment whose
    // options were cut by a short snaplen.
    out.sport = be16(h);
    out.dport = be16(h + 2);
    out.seq = be32(h + 4);
    out.ack = be32(h + 8);
    out.tcp_flags = h[13];
    out.window = be16(h + 14);
    const uint32_t hlen = (h[12] >> 4) * 4u;
    if (hlen < 20) {
        return V::kBadTransportHeader;
    }
    if (const V v = transport_header(f, l4, hlen, ip_end); v != V::kOk) {
        return v;
    }
    if (hlen > 20) {
        tcp_options(h + 20, hlen - 20, out.tcp_options);
    }
    set_payload(f, out, l4 + hlen, ip_end);
    return V::kOk;
}

V icmp(Frame& f, uint32_t l4, uint32_t ip_end, Decoded& out) noexcept {
    // 8 bytes for ICMP and ICMPv6 alike: type, code, checksum and the 4-byte field every message has.
    if (const V v = transport_header(f, l4, 8, ip_end); v != V::kOk) {
        return v;
    }
    out.sport = f.p[l4];
    out.dport = f.p[l4 + 1];
    set_payload(f, out, l4 + 8, ip_end);
    return V::kOk;
}

// UDP tunnels are recognised by destination port and a plausible header; a datagram that does not
// look like one stays a plain UDP packet (kOk).
V udp(Frame& f, uint32_t l4, uint32_t ip_end, Decoded& out) noexcept {
    if (const V v = transport_header(f, l4, 8, ip_end); v != V::kOk) {
        return v;
    }
    const uint8_t* h = f.p + l4;
    out.sport = be16(h);
    out.dport = be16(h + 2);
    const uint16_t ulen = be16(h + 4);
    // 0 is legal in IPv6 jumbograms (RFC 2675); the IP length is used in any case.
    if (ulen < 8 && !(ulen == 0 && out.ip_version == 6)) {
        return V::kBadTransportHeader;
    }
    const uint32_t inner = l4 + 8;
    set_payload(f, out, inner, ip_end);
    switch (out.dport) {
    case kPortVxlan:  // flags (I bit = VNI valid), reserved, VNI, reserved; then Ethernet
        if (!fits(inner, 8, ip_end)) {
            return V::kOk;
        }
        if (!has(f, inner, 8)) {
            return V::kTruncatedTransport;
        }
        if ((f.p[inner] & 0x08) == 0) {
            return V::kOk;
        }
        if (!enter_tunnel(out)) {
            return V::kTunnelTooDeep;
        }
        return ethernet(f, inner + 8, out);
    case kPortGeneve: {  // ver:2 optlen:6, flags, protocol, VNI, reserved; options; then the payload
        if (!fits(inner, 8, ip_end)) {
            return V::kOk;
        }
        if (!has(f, inner, 8)) {
            return V::kTruncatedTransport;
        }
        if ((f.p[inner] >> 6) != 0) {
            return V::kOk;
        }
        const uint32_t glen = 8 + (f.p[inner] & 0x3fu) * 4;
        const uint16_t proto = be16(f.p + inner + 2);
        if (!fits(inner, glen, ip_end)) {
            return V::kOk;
        }
        if (!has(f, inner, glen)) {
            return V::kTruncatedTransport;
        }
        if (!enter_tunnel(out)) {
            return V::kTunnelTooDeep;
        }
        if (proto == kEthTeb) {
            return ethernet(f, inner + glen, out);
        }
        return ethertype(f, inner + glen, proto, out);
    }
    case kPortMplsUdp:  // RFC 7510: the label stack directly
        if (!enter_tunnel(out)) {
            return V::kTunnelTooDeep;
        }
        return mpls(f, inner, out);
    default: return V::kOk;
    }
}

// GRE (RFC 2784/2890) version 0, and version 1 (PPTP, RFC 2637) when its PPP carries IP. Payloads
// we cannot unwrap leave the packet as an opaque GRE packet (kOtherTransport).
V gre(Frame& f, uint32_t l4, uint32_t ip_end, Decoded& out) noexcept {
    if (!fits(l4, 4, ip_end)) {
        return V::kBadTransportHeader;
    }
    if (!has(f, l4, 4)) {
        return V::kTruncatedTransport;
    }
    const uint16_t flags = be16(f.p + l4);
    const uint16_t proto = be16(f.p + l4 + 2);
    const bool csum = (flags & 0x8000) != 0, routing = (flags & 0x4000) != 0, key = (flags & 0x2000) != 0,
               seq = (flags & 0x1000) != 0, ack = (flags & 0x0080) != 0;
    const unsigned version = flags & 0x0007;
    uint32_t hlen = 4;
    if (version == 0 && !routing) {  // RFC 1701 source routing is obsolete and not decoded
        hlen += (csum ? 4 : 0) + (key ? 4 : 0) + (seq ? 4 : 0);
    } else if (version == 1 && key && proto == kEthPpp) {
        hlen += 4 + (seq ? 4 : 0) + (ack ? 4 : 0);  // key = payload length + call id
    } else {
        return opaque(f, out, l4, ip_end, V::kOtherTransport);
    }
    if (!fits(l4, hlen, ip_end)) {
        return V::kBadTransportHeader;
    }
    if (!has(f, l4, hlen)) {
        return V::kTruncatedTransport;
    }
    uint32_t inner = l4 + hlen;
    set_payload(f, out, inner, ip_end);  // kept if the payload turns out opaque

    if (version == 1) {
        // PPP: optional address/control ff 03, protocol of 1 byte (odd first byte) or 2.
        if (be16(f.p + l4 + 4) == 0 || !fits(inner, 1, ip_end)) {
            return opaque(f, out, l4, ip_end, V::kOtherTransport);  // acknowledgement only
        }
        if (!has(f, inner, 1)) {
            return V::kTruncatedTransport;
        }
        if (f.p[inner] == 0xff) {
            if (!has(f, inner, 3)) {
                return V::kTruncatedTransport;
            }
            if (f.p[inner + 1] == 0x03) {
                inner += 2;
            }
        }
        uint16_t ppp = f.p[inner];
        if ((ppp & 1) != 0) {
            inner += 1;
        } else {
            if (!has(f, inner, 2)) {
                return V::kTruncatedTransport;
            }
            ppp = be16(f.p + inner);
            inner += 2;
        }
        if (ppp != 0x0021 && ppp != 0x0057) {
            return opaque(f, out, l4, ip_end, V::kOtherTransport);  // e.g. MPPE-encrypted
        }
        if (!enter_tunnel(out)) {
            return V::kTunnelTooDeep;
        }
        return ip(f, inner, ppp == 0x0021 ? 4 : 6, out);
    }

    switch (proto) {
    case kEthIpv4:
    case kEthIpv6:
    case kEthTeb:
    case kEthMplsUc:
    case kEthMplsMc: break;
    case kEthErspan2:
        // Type II has a sequence number and an 8-byte header (version 1); type I has neither.
        if (seq) {
            if (!fits(inner, 8, ip_end)) {
                return opaque(f, out, l4, ip_end, V::kOtherTransport);
            }
            if (!has(f, inner, 8)) {
                return V::kTruncatedTransport;
            }
            if ((f.p[inner] >> 4) != 1) {
                return opaque(f, out, l4, ip_end, V::kOtherTransport);
            }
            inner += 8;
        }
        break;
    case kEthErspan3: {  // 12-byte header (version 2), + 8 when O is set; frame type 0 = Ethernet
        if (!fits(inner, 12, ip_end)) {
            return opaque(f, out, l4, ip_end, V::kOtherTransport);
        }
        if (!has(f, inner, 12)) {
            return V::kTruncatedTransport;
        }
        const uint8_t* e = f.p + inner;
        if ((e[0] >> 4) != 2 || ((e[10] >> 2) & 0x1f) != 0) {
            return opaque(f, out, l4, ip_end, V::kOtherTransport);
        }
        inner += 12 + ((e[11] & 0x01) != 0 ? 8 : 0);
        break;
    }
    default: return opaque(f, out, l4, ip_end, V::kOtherTransport);  // keepalives, WCCP, NSH, ...
    }
    if (!enter_tunnel(out)) {
        return V::kTunnelTooDeep;
    }
    switch (proto) {
    case kEthIpv4: return ip(f, inner, 4, out);
    case kEthIpv6: return ip(f, inner, 6, out);
    case kEthMplsUc:
    case kEthMplsMc: return mpls(f, inner, out);
    default: return ethernet(f, inner, out);  // TEB, ERSPAN
    }
}

// What follows an IP header: IPv6 extension headers and AH are walked, then the transport.
V transport(Frame& f, uint32_t l4, uint32_t ip_end, uint8_t proto, Decoded& out) noexcept {
    const bool v6 = out.ip_version == 6;
    for (;;) {
        if (l4 > kMaxHeaderOffset) {
            return V::kBadIpHeader;  // an extension chain too long to describe in 16-bit offsets
        }
        out.l4_proto = proto;
        out.l4_offset = static_cast<uint16_t>(l4);
        switch (proto) {
        case kProtoTcp: return tcp(f, l4, ip_end, out);
        case kProtoUdp: return udp(f, l4, ip_end, out);
        case kProtoIcmp:
        case kProtoIcmpv6: return icmp(f, l4, ip_end, out);
        case kProtoGre: return gre(f, l4, ip_end, out);
        case kProtoIpip:
        case kProtoIpv6:
            if (!enter_tunnel(out)) {
                return opaque(f, out, l4, ip_end, V::kTunnelTooDeep);
            }
            return ip(f, l4, proto == kProtoIpip ? 4 : 6, out);
        case kProtoAh: {  // length in 4-byte units, minus 2
            if (!fits(l4, 12, ip_end)) {
                return V::kBadIpHeader;
            }
            if (!has(f, l4, 12)) {
                return V::kTruncatedIp;
            }
            const uint32_t len = (f.p[l4 + 1] + 2u) * 4;
            if (len < 12 || !fits(l4, len, ip_end)) {
                return V::kBadIpHeader;
            }
            if (!has(f, l4, len)) {
                return V::kTruncatedIp;
            }
            proto = f.p[l4];
            l4 += len;
            continue;
        }
        case kProtoHopByHop:
        case kProtoRouting:
        case kProtoDstOpts: {  // length in 8-byte units, minus 1
            if (!v6) {
                break;
            }
            if (proto == kProtoHopByHop && l4 != out.l3_offset + 40u) {
                return V::kBadIpHeader;  // hop-by-hop is only allowed first
            }
            if (!fits(l4, 8, ip_end)) {
                return V::kBadIpHeader;
            }
            if (!has(f, l4, 8)) {
                return V::kTruncatedIp;
            }
            const uint32_t len = (f.p[l4 + 1] + 1u) * 8;
            if (!fits(l4, len, ip_end)) {
                return V::kBadIpHeader;
            }
            if (!has(f, l4, len)) {
                return V::kTruncatedIp;
            }
            proto = f.p[l4];
            l4 += len;
            continue;
        }
        case kProtoFragment: {
            if (!v6) {
                break;
            }
            if (!fits(l4, 8, ip_end)) {
                return V::kBadIpHeader;
            }
            if (!has(f, l4, 8)) {
                return V::kTruncatedIp;
            }
            const uint8_t* h = f.p + l4;
            const bool later = (be16(h + 2) & 0xfff8) != 0;
            const bool more = (h[3] & 0x01) != 0;
            out.ip_id = static_cast<uint16_t>(be32(h + 4));
            proto = h[0];
            l4 += 8;
            if (later || more) {  // not an atomic fragment (RFC 6946)
                out.fragment = true;
            }
            if (later) {
                out.l4_proto = proto;
                return opaque(f, out, l4, ip_end, V::kIpFragment);
            }
            continue;
        }
        default: break;
        }
        return opaque(f, out, l4, ip_end, V::kOtherTransport);  // ESP, no next header, SCTP, ...
    }
}

V ipv4(Frame& f, uint32_t pos, Decoded& out) noexcept {
    if (!has(f, pos, 20)) {
        return V::kTruncatedIp;
    }
    const uint8_t* h = f.p + pos;
    out.ip_version = 4;
    out.l3_offset = static_cast<uint16_t>(pos);
    out.ttl = h[8];
    out.l4_proto = h[9];
    out.ip_id = be16(h + 4);
    std::memcpy(out.src.data(), h + 12, 4);
    std::memcpy(out.dst.data(), h + 16, 4);
    const uint32_t hlen = (h[0] & 0x0f) * 4u;
    uint32_t total = be16(h + 2);
    if (total == 0) {
        total = f.cap - pos;  // TSO: the NIC fills the length in later; the capture is all there is
    }
    if (hlen < 20 || total < hlen) {
        return V::kBadIpHeader;
    }
    if (!has(f, pos, hlen)) {
        return V::kTruncatedIp;
    }
    out.ip_total_len = total;
    const uint32_t ip_end = pos + total;
    if (ip_end < f.cap) {
        f.cap = ip_end;  // what follows is link padding or trailer
    }
    const uint16_t frag = be16(h + 6);
    if ((frag & 0x3fff) != 0) {  // MF or an offset
        out.fragment = true;
        if ((frag & 0x1fff) != 0) {
            return opaque(f, out, pos + hlen, ip_end, V::kIpFragment);
        }
    }
    return transport(f, pos + hlen, ip_end, h[9], out);
}

V ipv6(Frame& f, uint32_t pos, Decoded& out) noexcept {
    if (!has(f, pos, 40)) {
        return V::kTruncatedIp;
    }
    const uint8_t* h = f.p + pos;
    out.ip_version = 6;
    out.l3_offset = static_cast<uint16_t>(pos);
    out.l4_proto = h[6];
    out.ttl = h[7];
    std::memcpy(out.src.data(), h + 8, 16);
    std::memcpy(out.dst.data(), h + 24, 16);
    uint32_t total = 40u + be16(h + 4);
    if (total == 40 && h[6] != 59) {
        total = f.cap - pos;  // jumbogram or GSO: the length is not in the header; use the capture
    }
    out.ip_total_len = total;
    const uint32_t ip_end = pos + total;
    if (ip_end < f.cap) {
        f.cap = ip_end;
    }
    return transport(f, pos + 40, ip_end, h[6], out);
}

V ip(Frame& f, uint32_t pos, uint8_t want_version, Decoded& out) noexcept {
    if (out.tunnel_depth != 0) {
        // An inner packet replaces the outer one entirely; only the tunnel facts carry over.
        const uint8_t depth = out.tunnel_depth;
        const bool fragment = out.fragment;
        out = Decoded{};
        out.tunnel_depth = depth;
        out.fragment = fragment;
    }
    if (pos > kMaxHeaderOffset) {
        return V::kBadIpHeader;
    }
    if (!has(f, pos, 1)) {
        return V::kTruncatedIp;
    }
    const uint8_t version = f.p[pos] >> 4;
    if (want_version != 0 && version != want_version) {
        return V::kBadIpVersion;
    }
    if (version == 4) {
        return ipv4(f, pos, out);
    }
    if (version == 6) {
        return ipv6(f, pos, out);
    }
    return V::kBadIpVersion;
}

// BSD loopback: a 4-byte address family in the capturing host's byte order (DLT_NULL) or network
// order (DLT_LOOP). Valid families are small, so a value with high bits set was written by a host
// of the other byte order, as tcpdump assumes too.
V loopback(Frame& f, bool network_order, Decoded& out) noexcept {
    if (!has(f, 0, 4)) {
        return V::kTruncatedLink;
    }
    const uint8_t* h = f.p;
    uint32_t af = network_order ? be32(h)
                                : (static_cast<uint32_t>(h[3]) << 24 | static_cast<uint32_t>(h[2]) << 16 |
                                   static_cast<uint32_t>(h[1]) << 8 | h[0]);
    if ((af & 0xffff0000u) != 0) {
        af = __builtin_bswap32(af);
    }
    switch (af) {
    case 2: return ip(f, 4, 4, out);  // AF_INET everywhere
    case 24:                          // AF_INET6: NetBSD/OpenBSD/BSD/OS
    case 28:                          // FreeBSD, DragonFly
    case 30: return ip(f, 4, 6, out); // Darwin
    default: return V::kNotIp;
    }
}

}  // namespace

Verdict decode(const uint8_t* frame, uint32_t caplen, uint16_t linktype, Decoded& out) noexcept {
    out = Decoded{};
    Frame f{frame, frame == nullptr ? 0 : caplen};
    switch (linktype) {
    case kDltEthernet: return ethernet(f, 0, out);
    case kDltSll:  // packet type, ARPHRD, address length, address[8], protocol
        if (!has(f, 0, 16)) {
            return V::kTruncatedLink;
        }
        return ethertype(f, 16, be16(f.p + 14), out);
    case kDltSll2:  // protocol, reserved, ifindex, ARPHRD, packet type, address length, address[8]
        if (!has(f, 0, 20)) {
            return V::kTruncatedLink;
        }
        return ethertype(f, 20, be16(f.p), out);
    case kDltRaw:
    case kDltRawOpenBsd:
    case kLinktypeRaw: return ip(f, 0, 0, out);
    case kDltIpv4: return ip(f, 0, 4, out);
    case kDltIpv6: return ip(f, 0, 6, out);
    case kDltNull: return loopback(f, false, out);
    case kDltLoop: return loopback(f, true, out);
    default: return V::kUnsupportedLink;
    }
}

}  // namespace weir::proto
