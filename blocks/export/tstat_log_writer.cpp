#include "tstat_log_writer.hpp"
#include "ip_text.hpp"
#include "l7_log.hpp"

#include <classify/classifier.hpp>

#include <weir/registry.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace weir::blocks {

namespace {

const char* const kFileNames[] = {"log_tcp_complete",  "log_tcp_nocomplete", "log_tcp_midstream",
                                  "log_udp_complete",  "log_http_complete",  "log_dns_complete"};

// Tstat's column names, in order (core set, then the end-to-end set).
const char* const kTcpSide[] = {"ip", "port", "pkts_all", "rst_cnt", "ack_cnt", "ack_cnt_p", "bytes_uniq",
                                "pkts_data", "bytes_all", "pkts_retx", "bytes_retx", "pkts_ooo", "syn_cnt",
                                "fin_cnt"};
const char* const kTcpCommon[] = {"first", "last", "durat", "c_first", "s_first", "c_last", "s_last",
                                  "c_first_ack", "s_first_ack", "c_isint", "s_isint", "c_iscrypto",
                                  "s_iscrypto", "con_t", "p2p_t", "http_t"};
const char* const kE2eSide[] = {"rtt_avg", "rtt_min", "rtt_max", "rtt_std", "rtt_cnt", "ttl_min", "ttl_max"};
const char* const kOptionsSide[] = {"f1323_opt", "tm_opt",   "win_scl",   "sack_opt",  "sack_cnt", "mss",
                                    "mss_max",   "mss_min",  "win_max",   "win_min",   "win_0",    "cwin_max",
                                    "cwin_min",  "cwin_ini", "pkts_rto",  "pkts_fs",   "pkts_reor", "pkts_dup",
                                    "pkts_unk",  "pkts_fc",  "pkts_unrto", "pkts_unfs", "syn_retx"};

// Tstat's layer-7 set (columns 111-134 when every set is on).
const char* const kLayer7[] = {"http_req_cnt",      "http_res_cnt",      "http_res",   "c_pkts_push", "s_pkts_push",
                               "c_tls_SNI",         "s_tls_SCN",         "c_npnalpn",  "s_npnalpn",   "c_tls_sesid",
                               "c_last_handshakeT", "s_last_handshakeT", "c_appdataT", "s_appdataT",  "c_appdataB",
                               "s_appdataB",        "fqdn",              "dns_rslv",   "req_tm",      "res_tm",
                               "http_hostname",     "c_TLSvers",         "s_TLSvers",  "dns_enc"};
constexpr int kLayer7Columns = static_cast<int>(std::size(kLayer7));
// log_udp_complete's QUIC columns (Tstat 3.3 built with QUIC details), after fqdn.
const char* const kUdpQuic[] = {"quic_SNI", "quic_UA", "c_quic_ver", "s_quic_ver", "quic_0rtt", "quic_ech"};

// Optional TCP column sets, with Tstat's bits in the #NN# header prefix.
constexpr unsigned kSetE2e = 1, kSetLayer7 = 2, kSetOptions = 8;

// "core", or a comma-separated list of e2e and options (core is always written).
std::optional<unsigned> parse_sets(std::string_view text) {
    unsigned sets = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const std::size_t comma = std::min(text.find(',', pos), text.size());
        const std::string_view item = text.substr(pos, comma - pos);
        if (item == "e2e") {
            sets |= kSetE2e;
        } else if (item == "options") {
            sets |= kSetOptions;
        } else if (item == "layer7") {
            sets |= kSetLayer7;
        } else if (item != "core") {
            return std::nullopt;
        }
        pos = comma + 1;
    }
    return sets;
}

std::string sets_text(unsigned sets) {
    std::string out = "core";
    if ((sets & kSetE2e) != 0) {
        out += ",e2e";
    }
    if ((sets & kSetOptions) != 0) {
        out += ",options";
    }
    if ((sets & kSetLayer7) != 0) {
        out += ",layer7";
    }
    return out;
}
const char* const kUdpSide[] = {"ip", "port", "first_abs", "durat", "bytes_all", "pkts_all", "isint", "iscrypto",
                                "type"};

// Line building without printf: std::to_chars, and exact fixed-point for times kept in ns.
struct Line {
    std::string s;
    void sp() { s += ' '; }
    template <class T>
    void num(T v) {
        char b[32];
        auto r = std::to_chars(b, b + sizeof b, v);
        s.append(b, r.ptr);
    }
    // ns as milliseconds with 6 decimals (Tstat's %f of a value in ms), exactly.
    void ms(int64_t ns) {
        if (ns < 0) {
            s += '-';
            ns = -ns;
        }
        num(ns / 1'000'000);
        static constexpr char kPairs[] =
            "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
            "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
            "8081828384858687888990919293949596979899";
        const auto f = static_cast<uint32_t>(ns % 1'000'000);
        char frac[7];
        frac[0] = '.';
        std::memcpy(frac + 1, kPairs + 2 * (f / 10000), 2);
        std::memcpy(frac + 3, kPairs + 2 * (f / 100 % 100), 2);
        std::memcpy(frac + 5, kPairs + 2 * (f % 100), 2);
        s.append(frac, 7);
    }
    void fixed6(double v) {
        char b[64];
        auto r = std::to_chars(b, b + sizeof b, v, std::chars_format::fixed, 6);
        s.append(b, r.ptr);
    }
    void text(std::string_view t) { s.append(t.data(), t.size()); }
    // A name in a space-separated log: "-" when empty; a space, TAB, newline or other control
    // byte (a hostile Host or SNI) is percent-encoded so it can never split the row.
    void text_or_dash(std::string_view t) {
        if (t.empty()) {
            s += '-';
            return;
        }
        static constexpr char kHex[] = "0123456789ABCDEF";
        for (const char ch : t) {
            const auto c = static_cast<unsigned char>(ch);
            if (c <= 0x20 || c == 0x7f) {
                s += '%';
                s += kHex[c >> 4];
                s += kHex[c & 0xf];
            } else {
                s += ch;
            }
        }
    }
    // A version as Tstat prints TLS versions: hex digits, "-" when unknown.
    void hex_or_dash(uint32_t v, int digits) {
        if (v == 0) {
            s += '-';
            return;
        }
        static constexpr char kHex[] = "0123456789abcdef";
        for (int i = digits - 1; i >= 0; --i) {
            s += kHex[(v >> (4 * i)) & 0xf];
        }
    }
};

// Relative to the flow start, 0 when the event never happened.
int64_t rel(int64_t t, int64_t start) { return t == 0 ? 0 : t - start; }

bool parse_cidr(const std::string& text, uint8_t& version, std::array<uint8_t, 16>& addr, int& bits) {
    const auto slash = text.find('/');
    const std::string host = text.substr(0, slash);
    addr.fill(0);
    if (inet_pton(AF_INET, host.c_str(), addr.data()) == 1) {
        version = 4;
        bits = 32;
    } else if (inet_pton(AF_INET6, host.c_str(), addr.data()) == 1) {
        version = 6;
        bits = 128;
    } else {
        return false;
    }
    if (slash != std::string::npos) {
        const std::string b = text.substr(slash + 1);
        char* end = nullptr;
        const long v = std::strtol(b.c_str(), &end, 10);
        if (b.empty() || *end != '\0' || v < 0 || v > bits) {
            return false;
        }
        bits = static_cast<int>(v);
    }
    return true;
}

}  // namespace

TstatLogWriter::TstatLogWriter(BlockSetup& s) : Block(s) {
    dir_ = s.param<std::string>("log.dir", "tstat_logs", "output folder (one YYYY_MM_DD_HH_MM.out/ per period inside)");
    rotate_ns_ = s.duration_ns("log.rotate", "1h", "new folder every this much flow time (0 = never)");
    const std::string sets = s.param<std::string>(
        "log.tcp_sets", "e2e",
        "TCP log column sets: core (44 columns), or a comma list of e2e (RTT/TTL, +14), options (+46) and layer7 "
        "(+24; needs FlowMeter's classification)");
    const auto parsed = parse_sets(sets);
    if (!parsed) {
        throw ParamError(s.param_input().line, "param 'log.tcp_sets' of block '" + s.id() + "' is '" + sets +
                                                   "', expected core or a comma list of e2e, options, layer7");
    }
    const std::string messages = s.param<std::string>(
        "log.messages", "", "per-message logs from FlowMeter's out_l7: http, dns, http,dns or empty");
    const auto logs = flow::parse_l7_selection(messages);
    if (!logs) {
        throw ParamError(s.param_input().line, "param 'log.messages' of block '" + s.id() + "' is '" + messages +
                                                   "', expected http, dns, http,dns or empty");
    }
    http_log_ = logs->http;
    dns_log_ = logs->dns;
    const uint32_t privacy = s.param<uint32_t>(
        "log.http_full_url", 0,
        "log_http_complete privacy (Tstat's http_full_url): 0 no path, Referer/Location cut to scheme://host, no "
        "cookies; 1 path without query; 2 everything");
    if (privacy > 2) {
        throw ParamError(s.param_input().line, "param 'log.http_full_url' of block '" + s.id() + "' must be 0, 1 or 2");
    }
    http_privacy_ = static_cast<uint8_t>(privacy);
    sets_ = *parsed;
    sets_requested_.store(sets_);
    midstream_ = s.param<bool>("log.midstream", true, "write flows first seen without their SYN to log_tcp_midstream");
    const std::string nets =
        s.param<std::string>("net.internal", "0.0.0.0/0,::/0", "comma-separated internal networks (CIDR)");
    std::stringstream ss(nets);
    std::string item;
    while (std::getline(ss, item, ',')) {
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (item.empty()) {
            continue;
        }
        Cidr c{};
        if (!parse_cidr(item, c.version, c.addr, c.bits)) {
            throw ParamError(s.param_input().line, "param 'net.internal' of block '" + s.id() + "' has '" + item +
                                                       "', expected CIDRs such as 10.0.0.0/8,2001:db8::/32");
        }
        internal_.push_back(c);
    }
    s.input<flow::FlowBatch>("in_flow", "finished flows", true, {"in_flows"});
    in_l7_ = s.input<flow::L7Batch>("in_l7", "HTTP heads and DNS messages (FlowMeter l7.events), for log.messages",
                                    false);
    for (int f = 0; f < kFiles; ++f) {
        s.counter(std::string(kFileNames[f]).substr(4), lines_[f], "lines", std::string("lines written to ") + kFileNames[f]);
    }
    s.counter("folders", folders_, "folders", "log folders opened");
    s.counter("write_errors", write_errors_, "errors", "failed writes (disk full, ...)");
    s.control(
        "tcp_sets",
        [this](std::string_view v) {
            const auto wanted = parse_sets(v);
            if (!wanted) {
                throw std::invalid_argument("tcp_sets takes core or a comma list of e2e, options, layer7");
            }
            sets_requested_.store(*wanted);
        },
        "TCP column sets (core, or a comma list of e2e, options, layer7); a change opens a new folder so each "
        "file has one header",
        [this] { return VarValue{sets_text(sets_requested_.load())}; });
    s.control(
        "logs_off",
        [this](std::string_view v) {
            unsigned mask = 0;
            for (std::size_t pos = 0; pos < v.size();) {
                const std::size_t comma = std::min(v.find(',', pos), v.size());
                const std::string_view log = v.substr(pos, comma - pos);
                int f = 0;
                while (f < kFiles && log != std::string_view(kFileNames[f]).substr(4)) {
                    ++f;
                }
                if (f == kFiles) {
                    std::string what = "logs_off takes a comma list of tcp_complete, tcp_nocomplete, tcp_midstream, "
                                       "udp_complete, http_complete, dns_complete, not '";
                    what += log;
                    what += '\'';
                    throw std::invalid_argument(what);
                }
                mask |= 1u << f;
                pos = comma + 1;
            }
            logs_off_.store(mask, std::memory_order_relaxed);
        },
        "logs not written for now (comma list of tcp_complete, udp_complete, ...; empty = all); their lines are "
        "counted in suppressed",
        [this] {
            std::string text;
            const unsigned mask = logs_off_.load(std::memory_order_relaxed);
            for (int f = 0; f < kFiles; ++f) {
                if ((mask >> f) & 1u) {
                    text += text.empty() ? "" : ",";
                    text += std::string_view(kFileNames[f]).substr(4);
                }
            }
            return VarValue{text};
        });
    s.counter("suppressed", suppressed_, "lines", "lines not written because their log was off (logs_off)");
}

TstatLogWriter::~TstatLogWriter() { close_files(); }

bool TstatLogWriter::internal(uint8_t version, const std::array<uint8_t, 16>& a) const {
    for (const auto& c : internal_) {
        if (c.version != version) {
            continue;
        }
        const int full = c.bits / 8;
        const int rest = c.bits % 8;
        if (std::memcmp(a.data(), c.addr.data(), static_cast<std::size_t>(full)) != 0) {
            continue;
        }
        if (rest != 0) {
            const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
            if ((a[static_cast<std::size_t>(full)] & mask) != (c.addr[static_cast<std::size_t>(full)] & mask)) {
                continue;
            }
        }
        return true;
    }
    return false;
}

void TstatLogWriter::close_files() {
    for (auto& f : files_) {
        if (f != nullptr) {
            if (std::fclose(f) != 0) {
                write_errors_.add(1);
            }
            f = nullptr;
        }
    }
}

void TstatLogWriter::open_folder(int64_t t_ns) {
    close_files();
    const time_t secs = static_cast<time_t>(t_ns / 1'000'000'000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char name[64];
    std::snprintf(name, sizeof name, "%04d_%02d_%02d_%02d_%02d.out", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min);
    std::string folder = dir_ + "/" + name;
    // Two periods starting in the same minute (a tcp_sets switch) get distinct folders.
    for (int n = 1; std::filesystem::exists(folder) && folder == folder_; ++n) {
        folder = dir_ + "/" + name + "." + std::to_string(n);
    }
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) {
        throw std::runtime_error("cannot create log folder '" + folder + "': " + ec.message());
    }
    folder_ = folder;
    folder_start_ns_ = t_ns;
    sets_ = sets_requested_.load();
    for (int f = 0; f < kFiles; ++f) {
        if ((f == kTcpMidstream && !midstream_) || (f == kHttpComplete && !http_log_) ||
            (f == kDnsComplete && !dns_log_)) {
            continue;
        }
        const std::string path = folder + "/" + kFileNames[f];
        files_[f] = std::fopen(path.c_str(), "w");
        if (files_[f] == nullptr) {
            throw std::runtime_error("cannot write '" + path + "': " + std::strerror(errno));
        }
        std::setvbuf(files_[f], nullptr, _IOFBF, 1 << 20);
        write_header(static_cast<File>(f));
    }
    folders_.add(1);
}

void TstatLogWriter::write_header(File which) {
    std::FILE* f = files_[which];
    int col = 1;
    if (which == kHttpComplete || which == kDnsComplete) {
        const std::string_view h = which == kHttpComplete ? l7log::http_header() : l7log::dns_header();
        std::fwrite(h.data(), 1, h.size(), f);
        return;
    }
    if (which == kUdpComplete) {
        std::fputc('#', f);
        for (const char* side : {"c_", "s_"}) {
            for (const char* n : kUdpSide) {
                std::fprintf(f, "%s%s%s:%d", col == 1 ? "" : " ", side, n, col);
                ++col;
            }
        }
        std::fprintf(f, " fqdn:%d", col++);
        for (const char* n : kUdpQuic) {
            std::fprintf(f, " %s:%d", n, col++);
        }
        std::fputc('\n', f);
        return;
    }
    // Tstat writes the level bitmask of the whole run, also on nocomplete (which has core only).
    std::fprintf(f, "#%02u#", sets_);
    for (const char* side : {"c_", "s_"}) {
        for (const char* n : kTcpSide) {
            std::fprintf(f, "%s%s%s:%d", col == 1 ? "" : " ", side, n, col);
            ++col;
        }
    }
    for (const char* n : kTcpCommon) {
        std::fprintf(f, " %s:%d", n, col++);
    }
    if ((sets_ & kSetE2e) != 0 && which != kTcpNocomplete) {
        for (const char* side : {"c_", "s_"}) {
            for (const char* n : kE2eSide) {
                std::fprintf(f, " %s%s:%d", side, n, col++);
            }
        }
    }
    if ((sets_ & kSetOptions) != 0 && which != kTcpNocomplete) {
        for (const char* side : {"c_", "s_"}) {
            for (const char* n : kOptionsSide) {
                std::fprintf(f, " %s%s:%d", side, n, col++);
            }
        }
    }
    if ((sets_ & kSetLayer7) != 0 && which != kTcpNocomplete) {
        for (const char* n : kLayer7) {
            std::fprintf(f, " %s:%d", n, col++);
        }
    }
    std::fputc('\n', f);
}

void TstatLogWriter::write_tcp(std::FILE* f, const flow::FlowRecord& r, unsigned sets) {
    const bool e2e = (sets & kSetE2e) != 0;
    Line l;
    l.s.reserve(512);
    for (int d = 0; d < 2; ++d) {
        const auto& s = r.dir[d];
        l.text(ip_text(r.key.ip_version, r.key.addr[d]));
        for (uint64_t v : {uint64_t{r.key.port[d]}, uint64_t{s.pkts_all}, uint64_t{s.rst_cnt}, uint64_t{s.ack_cnt},
                           uint64_t{s.ack_cnt_p}, s.bytes_uniq, uint64_t{s.pkts_data}, s.bytes_all,
                           uint64_t{s.pkts_retx}, s.bytes_retx, uint64_t{s.pkts_ooo}, uint64_t{s.syn_cnt},
                           uint64_t{s.fin_cnt}}) {
            l.sp();
            l.num(v);
        }
        l.sp();
    }
    const auto& c = r.dir[0];
    const auto& sv = r.dir[1];
    l.ms(r.first_ns);
    l.sp();
    l.ms(r.last_ns);
    l.sp();
    l.ms(r.last_ns - r.first_ns);
    for (int64_t t : {c.first_payload_ns, sv.first_payload_ns, c.last_payload_ns, sv.last_payload_ns, c.first_ack_ns,
                      sv.first_ack_ns}) {
        l.sp();
        l.ms(rel(t, r.first_ns));
    }
    for (uint64_t v : {uint64_t{internal(r.key.ip_version, r.key.addr[0]) ? 1U : 0U},
                       uint64_t{internal(r.key.ip_version, r.key.addr[1]) ? 1U : 0U}, uint64_t{0}, uint64_t{0},
                       uint64_t{r.con_t}, uint64_t{r.p2p_t}, uint64_t{r.http_t}}) {
        l.sp();
        l.num(v);
    }
    if (e2e && !r.extended) {
        // FlowMeter ran with stats.extended=false: say "not measured", never a zero that looks real.
        for (int i = 0; i < 14; ++i) {
            l.text(" -");
        }
    } else if (e2e) {
        for (const auto* s : {&c, &sv}) {
            const double n = s->rtt_cnt;
            const double avg = n > 0 ? s->rtt_sum_ms / n : 0.0;
            const double var = n > 1 ? std::max(0.0, (s->rtt_sum2_ms - n * avg * avg) / (n - 1)) : 0.0;
            for (double v : {avg, static_cast<double>(s->rtt_min_ms), static_cast<double>(s->rtt_max_ms), std::sqrt(var)}) {
                l.sp();
                l.fixed6(v);
            }
            for (unsigned v : {s->rtt_cnt, unsigned{s->ttl_min}, unsigned{s->ttl_max}}) {
                l.sp();
                l.num(v);
            }
        }
    }
    if ((sets & kSetOptions) != 0 && !r.options) {
        for (int i = 0; i < 46; ++i) {
            l.text(" -");
        }
    } else if ((sets & kSetOptions) != 0) {
        for (const auto* s : {&c, &sv}) {
            for (uint64_t v : {uint64_t{s->opt_window_scale}, uint64_t{s->opt_timestamps}, uint64_t{s->window_scale},
                               uint64_t{s->opt_sack_permitted}, uint64_t{s->sack_cnt}, uint64_t{s->mss},
                               uint64_t{s->seg_max}, uint64_t{s->seg_min}, uint64_t{s->win_max}, uint64_t{s->win_min},
                               uint64_t{s->win_zero}, uint64_t{s->cwin_max}, uint64_t{s->cwin_min},
                               uint64_t{s->cwin_ini}, uint64_t{s->pkts_rto}, uint64_t{s->pkts_fs},
                               uint64_t{s->pkts_reor}, uint64_t{s->pkts_dup}, uint64_t{s->pkts_unk},
                               uint64_t{s->pkts_fc}, uint64_t{s->pkts_unrto}, uint64_t{s->pkts_unfs},
                               uint64_t{s->syn_retx}}) {
                l.sp();
                l.num(v);
            }
        }
    }
    if ((sets & kSetLayer7) != 0 && !r.classified) {
        for (int i = 0; i < kLayer7Columns; ++i) {
            l.text(" -");
        }
    } else if ((sets & kSetLayer7) != 0) {
        const auto app = static_cast<classify::App>(r.app);
        const bool http = app == classify::App::kHttp;
        const bool tls = app == classify::App::kTls || (r.con_t & classify::kConTls) != 0;
        for (unsigned v : {unsigned{r.http_messages[0]}, unsigned{r.http_messages[1]}}) {
            l.sp();
            l.num(v);
        }
        l.sp();
        if (http && r.http_status != 0) {
            l.num(r.http_status);
        } else {
            l.text("---");  // Tstat's mark for "not an HTTP response"
        }
        for (unsigned v : {r.pkts_push[0], r.pkts_push[1]}) {
            l.sp();
            l.num(v);
        }
        l.sp();
        l.text_or_dash(tls ? r.name() : std::string_view());
        l.sp();
        l.text_or_dash(tls ? r.second_name() : std::string_view());  // s_tls_SCN (TLS <= 1.2 only)
        for (unsigned v : {unsigned{r.alpn_bits[0]}, unsigned{r.alpn_bits[1]}, unsigned{r.tls_session}}) {
            l.sp();
            l.num(v);
        }
        for (int64_t t : {r.tls_last_handshake_ns[0], r.tls_last_handshake_ns[1], r.tls_appdata_ns[0],
                          r.tls_appdata_ns[1]}) {
            l.sp();
            l.ms(rel(t, r.first_ns));
        }
        for (unsigned v : {r.tls_appdata_offset[0], r.tls_appdata_offset[1]}) {
            l.sp();
            l.num(v);
        }
        l.sp();
        l.text_or_dash(r.fqdn());
        l.sp();
        if (r.fqdn().empty()) {
            l.text("- 0 0");
        } else {
            l.text(ip_text(r.key.ip_version, r.dns_resolver));
            l.sp();
            l.ms(r.dns_request_ns);
            l.sp();
            l.ms(r.dns_response_ns);
        }
        l.sp();
        l.text_or_dash(http ? r.name() : std::string_view());
        l.sp();
        l.hex_or_dash(tls ? r.tls_version[0] : 0, 4);
        l.sp();
        l.hex_or_dash(tls ? r.tls_version[1] : 0, 4);
        l.text(" 0");  // dns_enc: the resolver's address is never anonymised here
    }
    l.s += '\n';
    if (std::fwrite(l.s.data(), 1, l.s.size(), f) != l.s.size()) {
        write_errors_.add(1);
    }
}

void TstatLogWriter::write_udp(std::FILE* f, const flow::FlowRecord& r) {
    Line l;
    l.s.reserve(256);
    for (int d = 0; d < 2; ++d) {
        const auto& s = r.dir[d];
        l.text(ip_text(r.key.ip_version, r.key.addr[d]));
        l.sp();
        l.num(r.key.port[d]);
        l.sp();
        l.ms(s.pkts_all ? s.first_ns : 0);
        l.sp();
        // Durations are seconds in this log (Tstat's units differ from the TCP logs).
        l.fixed6(s.pkts_all ? static_cast<double>(s.last_ns - s.first_ns) / 1e9 : 0.0);
        for (uint64_t v : {s.bytes_all, uint64_t{s.pkts_all},
                           uint64_t{internal(r.key.ip_version, r.key.addr[d]) ? 1U : 0U}, uint64_t{0},
                           uint64_t{r.udp_type[d]}}) {
            l.sp();
            l.num(v);
        }
        l.sp();
    }
    // fqdn: the name DN-Hunter found (FlowMeter with classification), Tstat's "-" otherwise.
    l.text_or_dash(r.fqdn());
    // QUIC: SNI, user agent (gQUIC's UAID), versions, 0-RTT packets, ECH length.
    if (!r.classified) {
        l.text(" - - - - - -");
    } else {
        const bool quic = static_cast<classify::App>(r.app) == classify::App::kQuic;
        l.sp();
        l.text_or_dash(quic ? r.name() : std::string_view());
        l.sp();
        l.text_or_dash(quic ? r.second_name() : std::string_view());  // gQUIC's UAID, percent-encoded
        l.sp();
        l.hex_or_dash(r.quic_version[0], 8);
        l.sp();
        l.hex_or_dash(r.quic_version[1], 8);
        l.sp();
        l.num(r.quic_0rtt);
        l.sp();
        l.num(quic ? r.ech_len : 0);
    }
    l.s += '\n';
    if (std::fwrite(l.s.data(), 1, l.s.size(), f) != l.s.size()) {
        write_errors_.add(1);
    }
}

void TstatLogWriter::ensure_folder(int64_t t_ns, int64_t first_ns) {
    const bool switch_sets = files_[kTcpComplete] != nullptr && sets_requested_.load() != sets_;
    if (files_[kTcpComplete] == nullptr || switch_sets || (rotate_ns_ > 0 && t_ns >= folder_start_ns_ + rotate_ns_)) {
        open_folder(first_ns > 0 ? first_ns : t_ns);
    }
}

void TstatLogWriter::write_l7(const flow::L7Record& e) {
    const bool http = e.kind != flow::L7Kind::kDns;
    std::FILE* f = files_[http ? kHttpComplete : kDnsComplete];
    if (f == nullptr || off(http ? kHttpComplete : kDnsComplete)) {
        return;  // that log is not asked for, or switched off for now
    }
    const auto multicast = [&](const std::array<uint8_t, 16>& a) {
        return e.key.ip_version == 4 ? (a[0] >= 224 && a[0] < 240) : a[0] == 0xff;
    };
    if (!http && (multicast(e.key.addr[0]) || multicast(e.key.addr[1]))) {
        return;  // Tstat leaves multicast DNS (mDNS, LLMNR) out of log_dns_complete
    }
    std::string ends;
    const std::string c_ip = ip_text(e.key.ip_version, e.key.addr[0]);
    const std::string s_ip = ip_text(e.key.ip_version, e.key.addr[1]);
    Line out;
    int rows = 0;
    if (http) {
        ends = c_ip + '\t' + std::to_string(e.key.port[0]) + '\t' + s_ip + '\t' + std::to_string(e.key.port[1]) + '\t';
        rows = l7log::append_http_row(out.s, ends, e, static_cast<l7log::UrlPrivacy>(http_privacy_)) ? 1 : 0;
    } else {
        // Tstat names the querier the client (the flow's first sender, the same here).
        for (int d = 0; d < 2; ++d) {
            ends += d == 0 ? c_ip : s_ip;
            ends += ' ';
            ends += std::to_string(e.key.port[d]);
            ends += internal(e.key.ip_version, e.key.addr[d]) ? " 1 0 " : " 0 0 ";
        }
        rows = l7log::append_dns_rows(out.s, ends, e);
    }
    if (rows == 0) {
        return;
    }
    if (std::fwrite(out.s.data(), 1, out.s.size(), f) != out.s.size()) {
        write_errors_.add(1);
    }
    lines_[http ? kHttpComplete : kDnsComplete].add(static_cast<uint64_t>(rows));
}

void TstatLogWriter::receive(InputId gate, const Message& msg) {
    off_ = logs_off_.load(std::memory_order_relaxed);
    if (gate == in_l7_) {
        for (const auto& e : static_cast<const flow::L7Batch&>(msg)) {
            ensure_folder(e.ts_ns, e.ts_ns);
            write_l7(e);
        }
        return;
    }
    for (const auto& r : static_cast<const flow::FlowBatch&>(msg)) {
        ensure_folder(r.last_ns, r.first_ns);
        if (r.key.proto == IPPROTO_UDP) {
            if (!off(kUdpComplete)) {
                write_udp(files_[kUdpComplete], r);
                lines_[kUdpComplete].add(1);
            }
        } else if (r.midstream) {
            if (midstream_ && !off(kTcpMidstream)) {
                write_tcp(files_[kTcpMidstream], r, sets_);
                lines_[kTcpMidstream].add(1);
            }
        } else if (r.complete) {
            if (!off(kTcpComplete)) {
                write_tcp(files_[kTcpComplete], r, sets_);
                lines_[kTcpComplete].add(1);
            }
        } else if (!off(kTcpNocomplete)) {
            write_tcp(files_[kTcpNocomplete], r, 0);
            lines_[kTcpNocomplete].add(1);
        }
    }
}

void TstatLogWriter::flush() {
    if (files_[kTcpComplete] == nullptr) {
        // No flow at all: still leave a folder with headers, as Tstat does.
        const int64_t t = now_ns();
        open_folder(t > 0 ? t : static_cast<int64_t>(std::time(nullptr)) * 1'000'000'000);
    }
    for (auto* f : files_) {
        if (f != nullptr && std::fflush(f) != 0) {
            write_errors_.add(1);
        }
    }
}

}  // namespace weir::blocks

WEIR_REGISTER_BLOCK(weir::blocks::TstatLogWriter, "TstatLogWriter",
                    weir::Invocation::kDirect | weir::Invocation::kIndirect,
                    "writes finished flows as Tstat logs (log_tcp_complete, log_udp_complete, ...)")
