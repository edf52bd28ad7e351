// DNS message parser (RFC 1035): header, first question, and the A/AAAA/CNAME answers. Over UDP
// (the datagram) and TCP (2-byte length prefix). No allocation, no read outside the range;
// compression pointers are followed with a hop limit, so loops end.
#pragma once

#include "classify/text.hpp"

#include <cstddef>
#include <cstdint>

namespace weir::classify {

inline constexpr uint16_t kDnsTypeA = 1, kDnsTypeCname = 5, kDnsTypeAaaa = 28;

struct DnsAnswer {
    uint16_t type = 0;          // kDnsTypeA, kDnsTypeAaaa or kDnsTypeCname
    uint32_t ttl = 0;
    uint8_t addr[16] = {};      // A: first 4 bytes
    FixedText<256> cname;       // CNAME target
};

struct DnsMessage {
    static constexpr size_t kMaxAnswers = 8;

    uint16_t id = 0;
    bool response = false;
    bool truncated_flag = false;  // TC bit
    uint8_t opcode = 0;
    uint8_t rcode = 0;
    uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
    uint16_t qtype = 0, qclass = 0;
    FixedText<256> qname;         // dotted, no trailing dot; empty for the root
    uint8_t answer_count = 0;     // A/AAAA/CNAME answers stored (at most kMaxAnswers)
    DnsAnswer answers[kMaxAnswers];
};

// kOk: header, question and answer section parsed. kTruncated: the message is cut by the end of
// the bytes (or the TCP length says more follows); what was complete is filled. kInvalid: not DNS.
ParseStatus parse_dns(const uint8_t* p, size_t n, DnsMessage& out) noexcept;
// DNS over TCP: the 2-byte length, then a message.
ParseStatus parse_dns_tcp(const uint8_t* p, size_t n, DnsMessage& out) noexcept;

// Decodes the (possibly compressed) name at `off` of message [msg, msg+n) into `out` as dotted
// text (bytes other than letters, digits, '-', '_' and '*' as \DDD, dots inside labels as "\.").
// Sets `next` to the offset after the name in place. False if malformed or cut.
bool dns_name(const uint8_t* msg, size_t n, size_t off, FixedText<256>& out, size_t& next) noexcept;

}  // namespace weir::classify
