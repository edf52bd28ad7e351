// Packet decoding: link layer to transport header, without allocation and without reading a byte
// past caplen. Tunnels (IP-in-IP, GRE, VXLAN, MPLS) are unwrapped so the innermost IP packet is the
// one analysed. Every packet that cannot be analysed gets a reason, which blocks count.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace weir::proto {

// Why a packet was not decoded down to its transport header. kOk = fully decoded.
enum class Verdict : uint8_t {
    kOk = 0,
    kNotIp,              // a well-formed frame that carries no IP (ARP, LLDP, STP, ...)
    kUnsupportedLink,    // link type we do not decode
    kTruncatedLink,      // frame shorter than its link-layer headers
    kTruncatedIp,        // IP header cut by the capture (caplen)
    kBadIpVersion,       // version nibble is not 4/6, or does not match the link's EtherType
    kBadIpHeader,        // IPv4 IHL < 5, total length < header, bad extension header chain
    kIpFragment,         // a non-first fragment: no transport header to read (no reassembly)
    kTruncatedTransport, // transport header cut by the capture
    kBadTransportHeader, // TCP data offset < 5 or beyond the segment, UDP length < 8
    kTunnelTooDeep,      // more than kMaxTunnelDepth encapsulations
    kOtherTransport,     // IP carrying something other than TCP/UDP/ICMP/ICMPv6 (e.g. ESP, SCTP)
    kCount
};
std::string_view to_string(Verdict v);

inline constexpr int kMaxTunnelDepth = 4;

struct TcpOptions {
    uint16_t mss = 0;            // 0 = not present
    uint8_t window_scale = 0xff; // 0xff = not present
    bool sack_permitted = false;
    bool timestamps = false;
    uint32_t ts_val = 0;
    uint32_t ts_ecr = 0;
    uint8_t sack_blocks = 0;     // number of SACK blocks in this segment
};

// TCP flag bits, as in the header.
inline constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10,
                         kUrg = 0x20, kEce = 0x40, kCwr = 0x80;

struct Decoded {
    // Innermost IP packet.
    uint8_t ip_version = 0;          // 4 or 6
    uint8_t l4_proto = 0;            // IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, ...
    uint8_t ttl = 0;                 // TTL or hop limit
    uint8_t tunnel_depth = 0;        // encapsulations removed (0 = none)
    bool fragment = false;           // part of a fragmented datagram (first fragment included)
    uint16_t ip_id = 0;              // IPv4 identification (fragment id for IPv6, low 16 bits)
    std::array<uint8_t, 16> src{};   // IPv4 addresses in the first 4 bytes, the rest zero
    std::array<uint8_t, 16> dst{};
    uint16_t l3_offset = 0;          // offsets into the frame
    uint16_t l4_offset = 0;
    uint16_t payload_offset = 0;
    uint32_t ip_total_len = 0;       // IP packet length from its header (not from caplen)
    uint32_t payload_len = 0;        // transport payload on the wire, from the IP lengths
    uint32_t payload_captured = 0;   // of which present in the capture
    // Transport.
    uint16_t sport = 0;              // ICMP: type in sport, code in dport
    uint16_t dport = 0;
    uint32_t seq = 0;                // TCP
    uint32_t ack = 0;
    uint16_t window = 0;             // raw, unscaled
    uint8_t tcp_flags = 0;
    TcpOptions tcp_options;          // filled only when the SYN/options are present
};

// Decodes `caplen` bytes of a frame of libpcap link type `linktype` (DLT_*). Returns kOk with
// `out` filled, or the reason it stopped; on failure `out` holds what was decoded up to there.
// Conventions (decode.cpp has the details):
// - Tunnels: `out` describes only the innermost IP packet reached (an inner IP header clears the
//   outer fields); `fragment` stays set if an outer layer was a fragment. UDP tunnels are taken by
//   destination port (VXLAN 4789 with its I flag, Geneve 6081 version 0, MPLS 6635); GRE payloads
//   other than IPv4/IPv6/Ethernet/MPLS/ERSPAN (and PPTP's PPP when not IP) stay kOtherTransport.
// - kIpFragment and kOtherTransport: l4_proto is the protocol, l4_offset = payload_offset = where
//   the IP payload starts (after any IPv6 extension headers), payload_len/captured its size.
// - kTruncatedTransport because TCP options were cut: ports, seq, ack, flags and window are set.
// - Lengths: payload_len comes from the IP header; bytes after the IP packet (Ethernet padding,
//   FCS) are never payload. An IPv4 total length of 0 or an IPv6 payload length of 0 (TSO, GSO,
//   jumbograms) means "as captured".
Verdict decode(const uint8_t* frame, uint32_t caplen, uint16_t linktype, Decoded& out) noexcept;

}  // namespace weir::proto
