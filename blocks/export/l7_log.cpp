#include "l7_log.hpp"

#include <classify/dns.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace weir::blocks::l7log {

namespace {

constexpr std::string_view kHttpHeader =
    "#C#c_ip:1\tc_port:2\ts_ip:3\ts_port:4\ttime_abs:5\tmethod:6\thostname:7\tfqdn:8\tpath:9\treferer:10\t"
    "user_agent:11\tcookie:12\tdnt:13\n"
    "#S#c_ip:1\tc_port:2\ts_ip:3\ts_port:4\ttime_abs:5\tresponse:6\tstatus:7\tcontent_len:8\tcontent_type:9\t"
    "server:10\trange:11\tlocation:12\tset_cookie:13\n";

constexpr std::string_view kDnsHeader =
    "#c_ip:1 c_port:2 c_isint:3 c_iscrypto:4 s_ip:5 s_port:6 s_isint:7 s_iscrypto:8 time_abs:9 msg_type:10 "
    "id:11 rr_name:12 rr_ttl:13 rr_class:14 rr_type:15 rr_data:16 flags:17 qdcount:18 ancount:19 nscount:20 "
    "arcount:21 size:22\n";

template <class T>
void num(std::string& out, T v) {
    char b[24];
    const auto r = std::to_chars(b, b + sizeof b, v);
    out.append(b, r.ptr);
}

void hex(std::string& out, unsigned v, int digits) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += "0x";
    for (int i = digits - 1; i >= 0; --i) {
        out += kHex[(v >> (4 * i)) & 0xf];
    }
}

// ns since the epoch as "<unit>.<6 decimals>": unit_ns 1e6 gives ms (log_dns_complete), 1e9 s
// (log_http_complete), exactly, as Tstat's %f prints them.
void fixed(std::string& out, int64_t ns, int64_t unit_ns) {
    num(out, ns / unit_ns);
    out += '.';
    auto frac = static_cast<uint32_t>((ns % unit_ns) * 1'000'000 / unit_ns);
    char b[6];
    for (int i = 5; i >= 0; --i) {
        b[i] = static_cast<char>('0' + frac % 10);
        frac /= 10;
    }
    out.append(b, 6);
}

// ---------------------------------------------------------------------------------------------
// HTTP

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// The head's lines after the start line, up to the empty line or the end of the copied bytes.
struct Head {
    std::string_view start;
    std::string_view rest;

    std::string_view value(std::string_view name) const {
        std::string_view r = rest;
        while (!r.empty()) {
            const std::size_t eol = r.find('\n');
            std::string_view line = r.substr(0, eol);
            r = eol == std::string_view::npos ? std::string_view() : r.substr(eol + 1);
            if (!line.empty() && line.back() == '\r') {
                line.remove_suffix(1);
            }
            if (line.empty()) {
                break;  // end of the head
            }
            const std::size_t colon = line.find(':');
            if (colon == std::string_view::npos || !iequals(line.substr(0, colon), name)) {
                continue;
            }
            std::string_view v = line.substr(colon + 1);
            while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
                v.remove_prefix(1);
            }
            while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
                v.remove_suffix(1);
            }
            return v;
        }
        return {};
    }
};

// A field of the TAB-separated log: "-" when empty; tabs and control bytes become spaces so a
// value can never split a row.
void field(std::string& out, std::string_view v) {
    out += '\t';
    if (v.empty()) {
        out += '-';
        return;
    }
    const std::size_t at = out.size();
    out.append(v.data(), v.size());
    for (std::size_t i = at; i < out.size(); ++i) {
        if (static_cast<unsigned char>(out[i]) < 0x20 || out[i] == 0x7f) {
            out[i] = ' ';
        }
    }
}

// scheme://authority of a URL (Tstat's reduced Referer and Location); the value itself if it has no scheme.
std::string_view authority(std::string_view url) {
    const std::size_t scheme = url.find("://");
    if (scheme == std::string_view::npos) {
        return url.substr(0, url.find('/'));
    }
    const std::size_t path = url.find('/', scheme + 3);
    return url.substr(0, path);
}

}  // namespace

std::string_view http_header() { return kHttpHeader; }
std::string_view dns_header() { return kDnsHeader; }

bool append_http_row(std::string& out, std::string_view ends, const flow::L7Record& e, UrlPrivacy privacy) {
    const std::string_view bytes(reinterpret_cast<const char*>(e.data), e.len);
    const std::size_t eol = bytes.find('\n');
    Head h;
    h.start = bytes.substr(0, eol);
    if (!h.start.empty() && h.start.back() == '\r') {
        h.start.remove_suffix(1);
    }
    h.rest = eol == std::string_view::npos ? std::string_view() : bytes.substr(eol + 1);
    const bool response = e.kind == flow::L7Kind::kHttpResponse;
    // Start line: "METHOD target HTTP/1.x" or "HTTP/1.x status reason".
    const std::size_t sp1 = h.start.find(' ');
    if (sp1 == std::string_view::npos || sp1 == 0) {
        return false;
    }
    const std::string_view first = h.start.substr(0, sp1);
    std::string_view second = h.start.substr(sp1 + 1);
    second = second.substr(0, second.find(' '));
    if (response != (first.substr(0, 5) == "HTTP/")) {
        return false;
    }
    out.append(ends.data(), ends.size());
    fixed(out, e.ts_ns, 1'000'000'000);
    if (!response) {
        field(out, first);
        field(out, h.value("Host"));
        field(out, std::string_view(e.fqdn.data()));
        std::string_view path = second;
        if (privacy == UrlPrivacy::kHidden) {
            path = {};
        } else if (privacy == UrlPrivacy::kPathOnly) {
            path = path.substr(0, path.find('?'));
        }
        field(out, path);
        const std::string_view referer = h.value("Referer");
        field(out, privacy == UrlPrivacy::kFull ? referer : authority(referer));
        field(out, h.value("User-Agent"));
        field(out, privacy == UrlPrivacy::kFull ? h.value("Cookie") : std::string_view());
        field(out, h.value("DNT"));
    } else {
        field(out, "HTTP");
        field(out, second);
        field(out, h.value("Content-Length"));
        field(out, h.value("Content-Type"));
        field(out, h.value("Server"));
        field(out, h.value("Content-Range"));
        const std::string_view location = h.value("Location");
        field(out, privacy == UrlPrivacy::kFull ? location : authority(location));
        field(out, privacy == UrlPrivacy::kFull ? h.value("Set-Cookie") : std::string_view());
    }
    out += '\n';
    return true;
}

// ---------------------------------------------------------------------------------------------
// DNS

namespace {

struct Wire {
    const uint8_t* p;
    std::size_t n;
    uint16_t u16(std::size_t at) const { return static_cast<uint16_t>(p[at] << 8 | p[at + 1]); }
    uint32_t u32(std::size_t at) const {
        return uint32_t{p[at]} << 24 | uint32_t{p[at + 1]} << 16 | uint32_t{p[at + 2]} << 8 | p[at + 3];
    }
};

// A name as ldns prints it: dotted with the trailing root dot; the root alone is ".".
bool name_text(const Wire& w, std::size_t off, std::string& out, std::size_t& next) {
    classify::FixedText<256> text;
    if (!classify::dns_name(w.p, w.n, off, text, next)) {
        return false;
    }
    out.append(text.view());
    out += '.';
    return true;
}

// Tstat's own names for the question of a query or an error response.
const char* tstat_class(uint16_t c) {
    switch (c) {
        case 1: return "IN";
        case 3: return "CH";
        case 4: return "HS";
        case 254: return "NONE";
        case 255: return "ANY";
        default: return "OTHER";
    }
}

const char* type_name(uint16_t t) {
    switch (t) {
        case 1: return "A";
        case 2: return "NS";
        case 5: return "CNAME";
        case 6: return "SOA";
        case 12: return "PTR";
        case 13: return "HINFO";
        case 15: return "MX";
        case 16: return "TXT";
        case 17: return "RP";
        case 27: return "GPOS";
        case 28: return "AAAA";
        case 29: return "LOC";
        case 32: return "NB";  // NetBIOS' reuse of NIMLOC, as Tstat names it
        case 33: return "SRV";
        case 35: return "NAPTR";
        case 39: return "DNAME";
        case 43: return "DS";
        case 44: return "SSHFP";
        case 46: return "RRSIG";
        case 47: return "NSEC";
        case 48: return "DNSKEY";
        case 50: return "NSEC3";
        case 51: return "NSEC3PARAM";
        case 64: return "SVCB";
        case 65: return "HTTPS";
        case 99: return "SPF";
        case 257: return "CAA";
        default: return nullptr;
    }
}

const char* rcode_name(unsigned rc) {
    static constexpr const char* kNames[] = {"NO_ERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMPL", "REFUSED",
                                             "YXDOMAIN", "YXRRSET",  "NXRRSET",  "NOTAUTH", "NOTZONE"};
    return rc < std::size(kNames) ? kNames[rc] : "UNKNOWN-ERROR";
}

// The answer's rdata as ldns presents it, with spaces inside it turned into tabs as Tstat does
// (so the row keeps 22 space-separated columns). False if the rdata is malformed.
bool rdata_text(const Wire& w, uint16_t type, std::size_t at, uint16_t len, std::string& out) {
    const std::size_t start = out.size();
    std::string& t = out;
    std::size_t next = 0;
    const std::size_t end = at + len;
    switch (type) {
        case 1:
        case 28: {
            if (len != (type == 1 ? 4 : 16)) {
                return false;
            }
            char b[INET6_ADDRSTRLEN];
            inet_ntop(type == 1 ? AF_INET : AF_INET6, w.p + at, b, sizeof b);
            t += b;
            break;
        }
        case 2:
        case 5:
        case 12:
        case 39:
            if (!name_text(w, at, t, next) || next > end) {
                return false;
            }
            break;
        case 15:
            if (len < 3) {
                return false;
            }
            num(t, w.u16(at));
            t += ' ';
            if (!name_text(w, at + 2, t, next) || next > end) {
                return false;
            }
            break;
        case 33:
            if (len < 7) {
                return false;
            }
            for (std::size_t k = 0; k < 3; ++k) {
                num(t, w.u16(at + 2 * k));
                t += ' ';
            }
            if (!name_text(w, at + 6, t, next) || next > end) {
                return false;
            }
            break;
        case 6: {
            if (!name_text(w, at, t, next)) {
                return false;
            }
            t += ' ';
            if (!name_text(w, next, t, next) || next + 20 > end) {
                return false;
            }
            for (std::size_t k = 0; k < 5; ++k) {
                t += ' ';
                num(t, w.u32(next + 4 * k));
            }
            break;
        }
        case 16: {
            std::size_t i = at;
            while (i < end) {
                const std::size_t l = w.p[i++];
                if (i + l > end) {
                    return false;
                }
                if (i - 1 != at) {
                    t += ' ';
                }
                t += '"';
                for (std::size_t k = 0; k < l; ++k) {
                    const unsigned char c = w.p[i + k];
                    if (c == '"' || c == '\\') {
                        t += '\\';
                        t += static_cast<char>(c);
                    } else if (c < 0x20 || c >= 0x7f) {
                        char b[5];
                        std::snprintf(b, sizeof b, "\\%03u", c);
                        t += b;
                    } else {
                        t += static_cast<char>(c);
                    }
                }
                t += '"';
                i += l;
            }
            break;
        }
        default: {
            // RFC 3597's generic form, as ldns prints types it has no presentation for.
            t += "\\# ";
            num(t, len);
            if (len > 0) {
                t += ' ';
            }
            static constexpr char kHex[] = "0123456789ABCDEF";
            for (std::size_t i = at; i < end; ++i) {
                t += kHex[w.p[i] >> 4];
                t += kHex[w.p[i] & 0xf];
            }
        }
    }
    for (std::size_t i = start; i < out.size(); ++i) {
        if (out[i] == ' ') {
            out[i] = '\t';
        }
    }
    if (out.size() == start) {
        out += '-';  // an empty rdata keeps its column
    }
    return true;
}

}  // namespace

int append_dns_rows(std::string& out, std::string_view ends, const flow::L7Record& e) {
    const Wire w{e.data, e.len};
    if (w.n < 12) {
        return 0;
    }
    const uint16_t id = w.u16(0);
    const uint8_t f1 = w.p[2], f2 = w.p[3];
    const bool response = (f1 & 0x80) != 0;
    const unsigned rcode = f2 & 0x0f;
    // Tstat's flags: CD, AD, RA, RD, TC, AA from bit 0 up.
    const unsigned flags = ((f2 >> 4) & 1) | ((f2 >> 5) & 1) << 1 | ((f2 >> 7) & 1) << 2 | (f1 & 1) << 3 |
                           ((f1 >> 1) & 1) << 4 | ((f1 >> 2) & 1) << 5;
    const uint16_t qd = w.u16(4), an = w.u16(6), ns = w.u16(8), ar = w.u16(10);
    std::string tail;  // flags, counts and size: the same on every row of the message
    tail += ' ';
    hex(tail, flags, 2);
    for (unsigned v : {unsigned{qd}, unsigned{an}, unsigned{ns}, unsigned{ar}, unsigned{e.payload_len}}) {
        tail += ' ';
        num(tail, v);
    }
    tail += '\n';
    auto begin_row = [&](const char* type) {
        out.append(ends.data(), ends.size());
        fixed(out, e.ts_ns, 1'000'000);
        out += ' ';
        out += type;
        out += ' ';
        hex(out, id, 4);
        out += ' ';
    };
    // A question as Tstat prints it: "name - CLASS TYPE " (no TTL), its own names for class and type.
    const auto question = [&](const std::string& name, uint16_t qtype, uint16_t qclass) {
        const char* tn = type_name(qtype);
        out += name;
        out += " - ";
        out += tstat_class(qclass);
        out += ' ';
        out += tn != nullptr ? tn : "OTHER";
        out += ' ';
    };
    // Questions.
    std::size_t off = 12;
    std::string first_q;
    uint16_t first_qtype = 0, first_qclass = 0;
    int rows = 0;
    const std::size_t row_start = out.size();
    for (uint16_t i = 0; i < qd; ++i) {
        std::string q;
        std::size_t next = 0;
        if (!name_text(w, off, q, next) || next + 4 > w.n) {
            out.resize(row_start);
            return 0;  // malformed: Tstat's ldns refuses the whole message
        }
        const uint16_t qtype = w.u16(next), qclass = w.u16(next + 2);
        off = next + 4;
        if (q == ".") {
            q = "-";
        }
        if (i == 0) {
            first_q = q;
            first_qtype = qtype;
            first_qclass = qclass;
        }
        if (!response) {
            begin_row("REQ");
            question(q, qtype, qclass);
            out += '-';
            out += tail;
            ++rows;
        }
    }
    if (!response) {
        return rows;
    }
    if (rcode != 0) {
        begin_row("RESP_ERR");
        if (qd == 0) {
            out += "- - - - ";
        } else {
            question(first_q, first_qtype, first_qclass);
        }
        out += rcode_name(rcode);
        out += tail;
        return 1;
    }
    // Each answer row is written in place; an answer whose rdata is malformed is taken back.
    for (uint16_t i = 0; i < an; ++i) {
        const std::size_t mark = out.size();
        begin_row("RESP");
        std::size_t next = 0;
        if (!name_text(w, off, out, next) || next + 10 > w.n) {
            out.resize(mark);
            break;  // cut or malformed: the answers before it stand
        }
        const uint16_t type = w.u16(next), klass = w.u16(next + 2);
        const uint32_t ttl = w.u32(next + 4);
        const uint16_t rdlen = w.u16(next + 8);
        const std::size_t rd = next + 10;
        if (rd + rdlen > w.n) {
            out.resize(mark);
            break;
        }
        off = rd + rdlen;
        out += ' ';
        num(out, ttl);
        out += ' ';
        if (const char* cn = klass == 1 ? "IN" : klass == 3 ? "CH" : klass == 4 ? "HS" : nullptr; cn != nullptr) {
            out += cn;
        } else {
            out += "CLASS";
            num(out, klass);
        }
        out += ' ';
        if (const char* tn = type_name(type); tn != nullptr && type != 32) {
            out += tn;
        } else {
            out += "TYPE";
            num(out, type);
        }
        out += ' ';
        if (!rdata_text(w, type, rd, rdlen, out)) {
            out.resize(mark);
            continue;
        }
        out += tail;
        ++rows;
    }
    return rows;
}

}  // namespace weir::blocks::l7log
