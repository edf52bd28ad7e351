#include "classify/dns.hpp"

#include <cstring>

namespace weir::classify {
namespace {

void put_label_byte(uint8_t c, FixedText<256>& out) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*') {
        out.append(&c, 1);
    } else if (c == '.') {
        out.append("\\.");
    } else {
        const char esc[4] = {'\\', static_cast<char>('0' + c / 100), static_cast<char>('0' + c / 10 % 10),
                             static_cast<char>('0' + c % 10)};
        out.append(esc, 4);
    }
}

// Letters, digits, '-' and '_' (the bytes nearly every name consists of) go in as they are.
constexpr bool plain_label_byte(uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || (c >= 'A' && c <= 'Z') || c == '_';
}

// Walks the name at `off` (following compression pointers, at most 32 hops, at most 255 bytes
// on the wire) and sets `next` to the offset after it in place. With `out`, also decodes it.
bool walk_name(const uint8_t* msg, size_t n, size_t off, FixedText<256>* out, size_t& next) {
    if (out != nullptr) {
        out->clear();
    }
    size_t pos = off;
    bool jumped = false;
    int hops = 0;
    size_t wire_len = 0;
    while (true) {
        if (pos >= n) {
            return false;
        }
        const uint8_t len = msg[pos];
        if ((len & 0xc0) == 0xc0) {
            if (pos + 1 >= n || ++hops > 32) {
                return false;
            }
            if (!jumped) {
                next = pos + 2;
                jumped = true;
            }
            pos = size_t{len & 0x3fu} << 8 | msg[pos + 1];
            continue;
        }
        if ((len & 0xc0) != 0) {
            return false;  // 0x40 / 0x80: extended label types, obsolete
        }
        if (len == 0) {
            if (!jumped) {
                next = pos + 1;
            }
            return true;
        }
        wire_len += len + 1u;
        if (wire_len > 255 || pos + 1 + len > n) {
            return false;
        }
        if (out != nullptr) {
            FixedText<256>& t = *out;
            if (!t.empty()) {
                t.append(".");
            }
            const uint8_t* label = msg + pos + 1;
            for (size_t i = 0; i < len; ++i) {
                if (plain_label_byte(label[i]) && t.len < sizeof t.data - 1) {
                    t.data[t.len++] = static_cast<char>(label[i]);
                } else {
                    put_label_byte(label[i], t);
                }
            }
            t.data[t.len] = '\0';
        }
        pos += 1 + len;
    }
}

}  // namespace

bool dns_name(const uint8_t* msg, size_t n, size_t off, FixedText<256>& out, size_t& next) noexcept {
    return walk_name(msg, n, off, &out, next);
}

ParseStatus parse_dns(const uint8_t* p, size_t n, DnsMessage& out) noexcept {
    out.id = 0;
    out.response = out.truncated_flag = false;
    out.opcode = out.rcode = 0;
    out.qdcount = out.ancount = out.nscount = out.arcount = 0;
    out.qname.clear();
    out.answer_count = 0;
    out.qtype = out.qclass = 0;
    Reader r(p, n);
    out.id = r.u16();
    const uint16_t flags = r.u16();
    if (!r.ok()) {
        return ParseStatus::kTruncated;
    }
    out.response = (flags & 0x8000) != 0;
    out.opcode = static_cast<uint8_t>(flags >> 11 & 0xf);
    out.truncated_flag = (flags & 0x0200) != 0;
    out.rcode = static_cast<uint8_t>(flags & 0xf);
    out.qdcount = r.u16();
    out.ancount = r.u16();
    out.nscount = r.u16();
    out.arcount = r.u16();
    if (!r.ok()) {
        return ParseStatus::kTruncated;
    }
    // Plausibility: standard opcodes, a question in queries, Z bit clear.
    if (out.opcode > 6 || out.opcode == 3 || (flags & 0x0040) != 0 || out.qdcount > 8 ||
        (!out.response && (out.qdcount == 0 || out.ancount > 8))) {
        return ParseStatus::kInvalid;
    }
    size_t pos = 12;
    for (uint16_t q = 0; q < out.qdcount; ++q) {
        // Only the first question's name is kept: it is decoded in place, the others only walked.
        size_t next = 0;
        const bool ok = walk_name(p, n, pos, q == 0 ? &out.qname : nullptr, next);
        Reader t(p + next, n - next);
        const uint16_t qtype = ok ? t.u16() : 0;
        const uint16_t qclass = ok ? t.u16() : 0;
        if (!ok || !t.ok()) {
            if (q == 0) {
                out.qname.clear();  // a question cut short leaves no name
            }
            return ParseStatus::kTruncated;
        }
        if (q == 0) {
            out.qtype = qtype;
            out.qclass = qclass;
        }
        pos = next + 4;
    }
    for (uint16_t a = 0; a < out.ancount; ++a) {
        size_t next = 0;
        if (!walk_name(p, n, pos, nullptr, next)) {  // the owner name: only its end is needed
            return ParseStatus::kTruncated;
        }
        Reader t(p + next, n - next);
        const uint16_t type = t.u16();
        t.u16();  // class
        const uint32_t ttl = t.u32();
        const uint16_t rdlen = t.u16();
        if (!t.ok() || t.left() < rdlen) {
            return ParseStatus::kTruncated;
        }
        const size_t rdata = next + 10;
        pos = rdata + rdlen;
        if (out.answer_count == DnsMessage::kMaxAnswers) {
            continue;
        }
        DnsAnswer& ans = out.answers[out.answer_count];
        if ((type == kDnsTypeA && rdlen == 4) || (type == kDnsTypeAaaa && rdlen == 16)) {
            ans.type = type;
            ans.ttl = ttl;
            std::memset(ans.addr, 0, sizeof ans.addr);
            std::memcpy(ans.addr, p + rdata, rdlen);
            ans.cname.clear();
            ++out.answer_count;
        } else if (type == kDnsTypeCname) {
            size_t after = 0;
            if (!dns_name(p, n, rdata, ans.cname, after)) {
                return ParseStatus::kInvalid;
            }
            ans.type = type;
            ans.ttl = ttl;
            std::memset(ans.addr, 0, sizeof ans.addr);
            ++out.answer_count;
        }
    }
    return ParseStatus::kOk;
}

ParseStatus parse_dns_tcp(const uint8_t* p, size_t n, DnsMessage& out) noexcept {
    if (n < 2) {
        parse_dns(p, 0, out);  // clears the result
        return ParseStatus::kTruncated;
    }
    const size_t len = size_t{p[0]} << 8 | p[1];
    if (len < 12) {
        parse_dns(p, 0, out);
        return ParseStatus::kInvalid;
    }
    const bool cut = len > n - 2;
    const ParseStatus s = parse_dns(p + 2, cut ? n - 2 : len, out);
    return s == ParseStatus::kOk && cut ? ParseStatus::kTruncated : s;
}

}  // namespace weir::classify
