// weir_tracegen: writes large, realistic, deterministic Ethernet captures (classic pcap) for benchmarks.
//
//   build/bench/weir_tracegen --out /tmp/t.pcap --bytes 1G
//   build/bench/weir_tracegen --out /tmp/small.pcap --packets 100000 --seed 7 --nanosecond
//
// K slots (--flows-concurrent) each hold one open flow, a small state machine: TCP (handshake with
// options, then HTTP/1.1, TLS 1.2/1.3 or SSH request/response exchanges, FIN/RST close), DNS, QUIC,
// other UDP. Every step picks a slot at random and lets its flow send its next packet (a TCP flight
// for data), so the K flows interleave; a finished flow is replaced at once by a new one. Packets are
// built in place in the output buffer (no allocation, no copy per packet), which goes to the file in
// 1 MiB fwrite calls. Output depends only on the options: one xoshiro256** stream drives everything.
// What it produces, how it was validated and how fast it is: docs/tracegen.md.
#include <pcap/pcap.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void die(const char* what, const char* detail = "") {
    std::fprintf(stderr, "weir_tracegen: %s%s\n", what, detail);
    std::exit(2);
}

// ---------------------------------------------------------------------------------------------------
// Random numbers: xoshiro256** seeded through splitmix64; fast, and the same stream everywhere.

struct Rng {
    uint64_t s[4];

    explicit Rng(uint64_t seed) {
        for (auto& x : s) {
            seed += 0x9e3779b97f4a7c15ULL;
            uint64_t z = seed;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            x = z ^ (z >> 31);
        }
    }
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    uint64_t next() {
        const uint64_t r = rotl(s[1] * 5, 7) * 9;
        const uint64_t t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return r;
    }
    uint32_t below(uint32_t n) { return static_cast<uint32_t>(((next() >> 32) * n) >> 32); }
    uint32_t range(uint32_t lo, uint32_t hi) { return lo + below(hi - lo + 1); }  // inclusive
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }      // [0, 1)
    bool chance(double p) { return unit() < p; }
    double normal() { return std::sqrt(-2.0 * std::log(1.0 - unit())) * std::cos(6.283185307179586 * unit()); }
    double lognormal(double median, double sigma) { return median * std::exp(sigma * normal()); }
    double pareto(double xm, double alpha) { return xm / std::pow(1.0 - unit(), 1.0 / alpha); }
    void fill(uint8_t* p, size_t n) {
        for (size_t i = 0; i < n; i += 8) {
            const uint64_t v = next();
            std::memcpy(p + i, &v, std::min<size_t>(8, n - i));
        }
    }
};

// ---------------------------------------------------------------------------------------------------
// Bytes and checksums.

void be16(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void be32(uint8_t* p, uint32_t v) {
    be16(p, v >> 16);
    be16(p + 2, v);
}

// The Internet checksum is byte-order independent (RFC 1071): summing words as loaded natively and
// storing the folded result natively is right on any host. 32-bit loads into a 64-bit accumulator
// vectorise well; 2^16 = 1 mod 0xffff, so they give the same folded sum as 16-bit words.
uint64_t csum_add(const uint8_t* p, size_t n, uint64_t acc) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t w;
        std::memcpy(&w, p + i, 4);
        acc += w;
    }
    if (i + 2 <= n) {
        uint16_t w;
        std::memcpy(&w, p + i, 2);
        acc += w;
        i += 2;
    }
    if (i < n) {
        const uint8_t b[2] = {p[i], 0};  // an odd last byte is the high byte of a zero-padded word
        uint16_t w;
        std::memcpy(&w, b, 2);
        acc += w;
    }
    return acc;
}
uint16_t csum_fold(uint64_t acc) {
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    return static_cast<uint16_t>(~acc);
}
uint16_t native16(uint32_t v) {  // v in network order, as a native load would see it
    const uint8_t b[2] = {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
    uint16_t w;
    std::memcpy(&w, b, 2);
    return w;
}

// Appends to a fixed buffer; length prefixes are reserved and patched once the body is written.
struct Put {
    uint8_t* start;
    uint8_t* p;
    uint8_t* end;
    Put(uint8_t* b, size_t cap) : start(b), p(b), end(b + cap) {}
    void need(size_t n) const {
        if (static_cast<size_t>(end - p) < n) {
            die("internal: message buffer too small");
        }
    }
    size_t pos() const { return static_cast<size_t>(p - start); }
    void u8(uint32_t v) {
        need(1);
        *p++ = static_cast<uint8_t>(v);
    }
    void u16(uint32_t v) {
        need(2);
        be16(p, v);
        p += 2;
    }
    void u24(uint32_t v) {
        u8(v >> 16);
        u16(v & 0xffff);
    }
    void u32(uint32_t v) {
        need(4);
        be32(p, v);
        p += 4;
    }
    void bytes(const void* b, size_t n) {
        need(n);
        std::memcpy(p, b, n);
        p += n;
    }
    void str(std::string_view s) { bytes(s.data(), s.size()); }
    void num(uint64_t v) {
        char b[24];
        str(std::string_view(b, static_cast<size_t>(std::snprintf(b, sizeof b, "%llu",
                                                                  static_cast<unsigned long long>(v)))));
    }
    void hex(Rng& r, int n) {
        for (int i = 0; i < n; ++i) {
            u8(static_cast<uint8_t>("0123456789abcdef"[r.below(16)]));
        }
    }
    void random(Rng& r, size_t n) {
        need(n);
        r.fill(p, n);
        p += n;
    }
    size_t mark16() {
        u16(0);
        return pos();
    }
    size_t mark24() {
        u24(0);
        return pos();
    }
    void patch16(size_t m) { be16(start + m - 2, static_cast<uint32_t>(pos() - m)); }
    void patch24(size_t m) {
        const size_t n = pos() - m;
        start[m - 3] = static_cast<uint8_t>(n >> 16);
        be16(start + m - 2, static_cast<uint32_t>(n));
    }
};

// ---------------------------------------------------------------------------------------------------
// Options.

struct Config {
    std::string out;
    uint64_t packets = 0;
    uint64_t bytes = 0;
    uint32_t flows = 10000;
    uint64_t seed = 1;
    double ipv6_share = 0.2;
    double udp_share = 0.3;
    bool nsec = false;
    uint64_t start = 1700000000;
    double rate = 1e6;
    bool libpcap = false;
};

// ---------------------------------------------------------------------------------------------------
// Output: classic pcap written by hand. Each frame is built directly after its 16-byte record header
// in a large buffer, so a packet costs no copy and no call; the buffer goes out in one fwrite.
// --libpcap routes every packet through pcap_dump instead (kept to compare the two).

constexpr size_t kFrameRoom = 2048;  // larger than any frame we build
// 1 MiB stays in cache between filling and write(2): measured 2-3x faster to a file than 16 MiB.
constexpr size_t kOutBuf = 1u << 20;

struct Writer {
    FILE* file = nullptr;
    pcap_t* dead = nullptr;
    pcap_dumper_t* dumper = nullptr;
    bool nsec = false;
    std::vector<uint8_t> buf;
    size_t used = 0;
    uint64_t t_ns = 0;        // timestamp of the next packet
    double frac = 0;          // sub-nanosecond carry of the inter-arrival times
    double mean_gap = 1000;   // ns
    uint64_t max_packets = 0;
    uint64_t max_bytes = 0;   // file size limit
    uint64_t packets = 0;
    uint64_t wire = 0;        // frame bytes
    uint64_t file_bytes = 24;
    bool done = false;
    Rng* rng = nullptr;

    void open(const Config& c, Rng& r) {
        rng = &r;
        nsec = c.nsec;
        t_ns = c.start * 1000000000ull;
        mean_gap = 1e9 / c.rate;
        max_packets = c.packets;
        max_bytes = c.bytes;
        file = std::fopen(c.out.c_str(), "wb");
        if (file == nullptr) {
            die("cannot open ", c.out.c_str());
        }
        if (c.libpcap) {
            std::setvbuf(file, nullptr, _IOFBF, kOutBuf);
            dead = pcap_open_dead_with_tstamp_precision(
                DLT_EN10MB, 65535, nsec ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
            dumper = pcap_dump_fopen(dead, file);
            if (dumper == nullptr) {
                die("pcap_dump_fopen: ", pcap_geterr(dead));
            }
            buf.resize(16 + kFrameRoom);
            return;
        }
        buf.resize(kOutBuf);
        pcap_file_header h{};
        h.magic = nsec ? 0xa1b23c4d : 0xa1b2c3d4;  // native order, as libpcap writes it
        h.version_major = PCAP_VERSION_MAJOR;
        h.version_minor = PCAP_VERSION_MINOR;
        h.snaplen = 65535;
        h.linktype = DLT_EN10MB;
        std::memcpy(buf.data(), &h, sizeof h);
        used = sizeof h;
    }
    void flush() {
        if (used > 0 && std::fwrite(buf.data(), 1, used, file) != used) {
            die("write failed");
        }
        used = 0;
    }
    // Where the next frame goes; call commit() with its length once it is built.
    uint8_t* frame() {
        if (dumper != nullptr) {
            return buf.data() + 16;
        }
        if (buf.size() - used < 16 + kFrameRoom) {
            flush();
        }
        return buf.data() + used + 16;
    }
    uint64_t now_ms() const { return t_ns / 1000000; }
    void commit(size_t len) {
        if (done || (max_bytes != 0 && file_bytes + 16 + len > max_bytes)) {
            done = true;
            return;
        }
        const uint32_t sec = static_cast<uint32_t>(t_ns / 1000000000u);
        const uint32_t sub = static_cast<uint32_t>(t_ns % 1000000000u) / (nsec ? 1 : 1000);
        if (dumper != nullptr) {
            pcap_pkthdr h{};
            h.ts.tv_sec = sec;
            h.ts.tv_usec = sub;
            h.caplen = h.len = static_cast<bpf_u_int32>(len);
            pcap_dump(reinterpret_cast<u_char*>(dumper), &h, buf.data() + 16);
        } else {
            const uint32_t rec[4] = {sec, sub, static_cast<uint32_t>(len), static_cast<uint32_t>(len)};
            std::memcpy(buf.data() + used, rec, 16);
            used += 16 + len;
        }
        // Poisson arrivals at --rate, in integer nanoseconds with the fraction carried.
        frac += mean_gap * -std::log(1.0 - rng->unit());
        const auto whole = static_cast<uint64_t>(frac);
        frac -= static_cast<double>(whole);
        t_ns += whole;
        ++packets;
        wire += len;
        file_bytes += 16 + len;
        if (max_packets != 0 && packets >= max_packets) {
            done = true;
        }
    }
    void commit_copy(const uint8_t* src, size_t len) {
        std::memcpy(frame(), src, len);
        commit(len);
    }
    void close() {
        if (dumper != nullptr) {
            pcap_dump_close(dumper);  // flushes and closes the FILE
            pcap_close(dead);
            return;
        }
        flush();
        if (std::fclose(file) != 0) {
            die("close failed");
        }
    }
};

// ---------------------------------------------------------------------------------------------------
// Hosts, names, payload pools.

constexpr const char* kWords[] = {"lorem",   "ipsum",  "dolor",   "network", "traffic", "monitor", "packet",
                                  "flow",    "weir",   "block",   "stream",  "capture", "engine",  "latency",
                                  "server",  "client", "session", "window",  "river",   "stone",   "bridge",
                                  "garden",  "light",  "market",  "report",  "update",  "account", "search",
                                  "video",   "image",  "music",   "travel",  "weather", "sport",   "health",
                                  "science", "history", "product", "review", "comment"};
constexpr const char* kLabels[] = {"www", "api",  "cdn",  "static", "img",  "media", "m",  "login",
                                   "shop", "news", "mail", "edge",   "assets", "video", "ws", "graph"};
constexpr const char* kDomains[] = {"example.com", "example.net", "example.org", "shop.example",
                                    "video.example", "news.example", "cdn.test", "social.test"};
constexpr const char* kTrackers[] = {"metrics.example", "ads.example", "telemetry.test", "push.test"};
constexpr const char* kAgents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
    "Mobile/15E148 Safari/604.1",
    "curl/7.88.1", "okhttp/4.12.0"};
constexpr const char* kServers[] = {"nginx/1.24.0", "Apache/2.4.57 (Debian)", "cloudflare", "ECS (dcb/7F84)",
                                    "gws"};

template <class T, size_t N>
constexpr uint32_t count(const T (&)[N]) {
    return static_cast<uint32_t>(N);
}

struct Server {
    uint8_t v4[4];
    uint8_t v6[16];
    char name[64];
    uint8_t name_len;
    uint8_t zone_off;  // where the registered domain starts in name (for SOA records)
};

struct Client {
    uint8_t v4[4];
    uint8_t v6[16];
    uint8_t mac[6];
    uint16_t next_port;
};

constexpr uint8_t kGatewayMac[6] = {0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5e};
constexpr uint8_t kResolver4[][4] = {{10, 0, 0, 53}, {8, 8, 8, 8}, {1, 1, 1, 1}};
constexpr uint8_t kResolver6[][16] = {{0x20, 0x01, 0x48, 0x60, 0x48, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 0x88},
                                      {0x26, 0x06, 0x47, 0x00, 0x47, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x11}};

constexpr size_t kPool = 1u << 20;  // payload pools; kPoolSlack more bytes repeat the start so any
constexpr size_t kPoolSlack = 4096;  // chunk up to a frame long can be copied without wrapping
constexpr size_t kPend = 1024;       // per-flow bytes for message headers, DNS names, QUIC ids

// ---------------------------------------------------------------------------------------------------
// Flows.

enum Kind : uint8_t { kHttp, kTls, kSsh, kDns, kQuic, kUdpOther, kKinds };

enum St : uint8_t {
    Syn, SynRetry, Refused, SynAck, HsAck, Send, PureAck, Fin1, Fin2Ack, Fin2, FinLast, Reset,  // TCP
    U0, U1, U2, U3                                                                               // UDP steps
};

constexpr uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;

// One application message on a TCP byte stream: header bytes (in the flow's pend buffer), then a
// body copied from a pool, raw or cut into TLS records. Produced on demand, segment by segment.
struct Msg {
    uint64_t wire_left = 0;  // stream bytes of this message not yet sent
    uint64_t body_left = 0;  // body bytes not yet assigned to a record (raw: not yet started)
    uint64_t rec_left = 0;   // body bytes left in the current record (raw: in the body)
    uint32_t pool_pos = 0;
    uint16_t pend_len = 0, pend_pos = 0;
    uint16_t recmax = 0;  // TLS record content limit; 0 = raw body
    uint8_t rechdr[5] = {};
    uint8_t rechdr_pos = 5;  // 5 = no record header pending
    bool text = false;       // body from the text pool, else from the random one
};

struct Flow {
    uint8_t* pend = nullptr;  // kPend bytes owned by the slot
    Msg m;
    Kind kind = kHttp;
    St st = Syn;
    bool v6 = false, counted = false;
    bool ts_on = false, cli_ts = false, tls13 = false, edns = false;
    uint8_t sender = 0, closer = 0, ack_every = 2, unacked = 0, retries = 0, path = 0, cidlen = 0;
    uint8_t ttl[2] = {}, wscale[2] = {};
    uint16_t port[2] = {}, win[2] = {}, synwin[2] = {}, ipid[2] = {}, mss = 1448, mss_opt = 1460;
    uint16_t cwnd[2] = {}, cwnd_max = 64, msgs = 0, phase = 0, server = 0;
    uint16_t dns_id = 0, qtype = 0, qlen = 0, zone = 0, dsize = 0;
    uint32_t flowlabel[2] = {}, isn[2] = {}, snd[2] = {}, ts_off[2] = {}, ts_last[2] = {};
    uint32_t n = 0;       // UDP: exchanges or packets left
    uint64_t big = 0;     // size of the one elephant message of this flow, 0 if none
    uint8_t mac[6] = {};  // the client's; the other side is always the gateway
    uint8_t addr[2][16] = {};  // [0] client, [1] server; IPv4 in the first 4 bytes
};

// ---------------------------------------------------------------------------------------------------

class Gen {
public:
    explicit Gen(const Config& c) : cfg_(c), rng_(c.seed) {
        make_pools();
        make_hosts();
        pend_.resize(static_cast<size_t>(cfg_.flows) * kPend);
        flows_.resize(cfg_.flows);
        for (uint32_t i = 0; i < cfg_.flows; ++i) {
            flows_[i].pend = pend_.data() + static_cast<size_t>(i) * kPend;
            new_flow(flows_[i]);
        }
        w_.open(cfg_, rng_);
    }

    void run() {
        while (!w_.done) {
            Flow& f = flows_[rng_.below(cfg_.flows)];
            if (!f.counted) {
                f.counted = true;
                ++started_[f.kind][f.v6];
            }
            if (f.kind <= kSsh) {
                tcp_step(f);
            } else if (f.kind == kDns) {
                dns_step(f);
            } else if (f.kind == kQuic) {
                quic_step(f);
            } else {
                udp_step(f);
            }
        }
        w_.close();
    }

    const Writer& writer() const { return w_; }
    uint64_t flows(bool tcp, int v6) const {
        uint64_t n = 0;
        for (int k = tcp ? kHttp : kDns; k <= (tcp ? kSsh : kUdpOther); ++k) {
            n += started_[k][v6];
        }
        return n;
    }

private:
    // ----- setup -----

    void make_pools() {
        random_.resize(kPool + kPoolSlack);
        rng_.fill(random_.data(), kPool);
        text_.resize(kPool + kPoolSlack);
        std::string t;
        t.reserve(kPool + 256);
        while (t.size() < kPool) {
            const char* w = kWords[rng_.below(count(kWords))];
            switch (rng_.below(10)) {
            case 0: t += "<div class=\""; t += w; t += "\">\n"; break;
            case 1: t += "</div>\n"; break;
            case 2: t += "<p>"; break;
            case 3: t += "</p>\n"; break;
            case 4: t += "<a href=\"/"; t += w; t += "/"; t += std::to_string(rng_.below(10000)); t += "\">";
                    t += w; t += "</a> "; break;
            default: t += w; t += ' ';
            }
        }
        std::memcpy(text_.data(), t.data(), kPool);
        std::memcpy(random_.data() + kPool, random_.data(), kPoolSlack);
        std::memcpy(text_.data() + kPool, text_.data(), kPoolSlack);
    }

    // A public-looking IPv4 address: skips 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12,
    // 192.168/16 and 224/3 so no tool takes it for a private or special one.
    void public_v4(uint8_t* a) {
        for (;;) {
            const uint32_t v = static_cast<uint32_t>(rng_.next());
            be32(a, v);
            const uint8_t b0 = a[0], b1 = a[1];
            if (b0 == 0 || b0 == 10 || b0 == 127 || b0 >= 224 || (b0 == 100 && (b1 & 0xc0) == 64) ||
                (b0 == 169 && b1 == 254) || (b0 == 172 && (b1 & 0xf0) == 16) || (b0 == 192 && b1 == 168)) {
                continue;
            }
            return;
        }
    }

    void make_hosts() {
        servers_.resize(2048);
        for (auto& s : servers_) {
            public_v4(s.v4);
            // Global unicast 2000::/3 with a provider-like /32 and random host bits.
            rng_.fill(s.v6, 16);
            s.v6[0] = static_cast<uint8_t>(0x20 | (s.v6[0] & 0x0f));
            const char* label = kLabels[rng_.below(count(kLabels))];
            // Popular domains get most hosts: squaring a uniform number skews towards the first.
            const double u = rng_.unit();
            const char* dom = kDomains[static_cast<uint32_t>(u * u * count(kDomains))];
            int n = rng_.chance(0.4) ? std::snprintf(s.name, sizeof s.name, "%s%u.", label, rng_.range(1, 20))
                                     : std::snprintf(s.name, sizeof s.name, "%s.", label);
            if (rng_.chance(0.2)) {
                n += std::snprintf(s.name + n, sizeof s.name - static_cast<size_t>(n), "%s.",
                                   kLabels[rng_.below(count(kLabels))]);
            }
            s.zone_off = static_cast<uint8_t>(n);
            n += std::snprintf(s.name + n, sizeof s.name - static_cast<size_t>(n), "%s", dom);
            s.name_len = static_cast<uint8_t>(n);
        }
        clients_.resize(8192);
        constexpr uint8_t kOui[][3] = {{0x3c, 0x22, 0xfb}, {0xf4, 0x8c, 0x50}, {0xa4, 0x83, 0xe7}, {0x00, 0x1e, 0x06}};
        for (size_t i = 0; i < clients_.size(); ++i) {
            Client& c = clients_[i];
            c.v4[0] = 10;
            c.v4[1] = static_cast<uint8_t>(1 + i / 4000);
            c.v4[2] = static_cast<uint8_t>((i % 4000) / 250);
            c.v4[3] = static_cast<uint8_t>(2 + i % 250);
            const uint8_t pre[8] = {0x20, 0x01, 0x0d, 0xb8, 0x10, 0x00, static_cast<uint8_t>(i >> 8), 0x00};
            std::memcpy(c.v6, pre, 8);
            rng_.fill(c.v6 + 8, 8);  // SLAAC-style random interface id
            std::memcpy(c.mac, kOui[i % 4], 3);
            rng_.fill(c.mac + 3, 3);
            c.next_port = static_cast<uint16_t>(rng_.range(32768, 60999));
        }
    }

    // ----- a new flow in a slot -----

    void new_flow(Flow& f) {
        uint8_t* pend = f.pend;
        f = Flow{};
        f.pend = pend;
        const double k = rng_.unit();
        if (rng_.chance(cfg_.udp_share)) {
            f.kind = k < 0.55 ? kDns : k < 0.85 ? kQuic : kUdpOther;
        } else {
            f.kind = k < 0.2 ? kHttp : k < 0.85 ? kTls : kSsh;
        }
        f.v6 = rng_.chance(cfg_.ipv6_share);
        Client& c = clients_[rng_.below(static_cast<uint32_t>(clients_.size()))];
        std::memcpy(f.mac, c.mac, 6);
        std::memcpy(f.addr[0], f.v6 ? c.v6 : c.v4, f.v6 ? 16 : 4);
        const double u = rng_.unit();
        f.server = static_cast<uint16_t>(u * u * u * static_cast<double>(servers_.size()));  // few popular servers
        const Server& s = servers_[f.server];
        std::memcpy(f.addr[1], f.v6 ? s.v6 : s.v4, f.v6 ? 16 : 4);
        // Ephemeral ports advance per client, as a host's stack hands them out.
        c.next_port = static_cast<uint16_t>(c.next_port + rng_.range(1, 7));
        if (c.next_port > 60999 || c.next_port < 32768) {
            c.next_port = static_cast<uint16_t>(32768 + c.next_port % 1000);
        }
        f.port[0] = c.next_port;
        f.ipid[0] = static_cast<uint16_t>(rng_.next());
        f.ipid[1] = static_cast<uint16_t>(rng_.next());
        f.flowlabel[0] = static_cast<uint32_t>(rng_.next()) & 0xfffff;
        f.flowlabel[1] = static_cast<uint32_t>(rng_.next()) & 0xfffff;
        const bool win_client = rng_.chance(0.3);
        f.ttl[0] = win_client ? 128 : 64;  // the capture sits next to the clients
        f.ttl[1] = static_cast<uint8_t>((rng_.chance(0.8) ? 64 : 128) - rng_.range(4, 20));

        switch (f.kind) {
        case kHttp:
        case kTls:
        case kSsh: new_tcp(f, win_client); break;
        case kDns: new_dns(f); break;
        case kQuic: new_quic(f); break;
        default: new_udp(f); break;
        }
    }

    void new_tcp(Flow& f, bool win_client) {
        f.st = Syn;
        f.port[1] = f.kind == kHttp ? (rng_.chance(0.9) ? 80 : 8080) : f.kind == kTls ? 443 : 22;
        f.cli_ts = !win_client;
        f.ts_on = f.cli_ts && rng_.chance(0.9);  // a few servers (and Windows clients) skip timestamps
        f.isn[0] = static_cast<uint32_t>(rng_.next());
        f.isn[1] = static_cast<uint32_t>(rng_.next());
        f.ts_off[0] = static_cast<uint32_t>(rng_.next());
        f.ts_off[1] = static_cast<uint32_t>(rng_.next());
        f.wscale[0] = win_client ? 8 : 7;
        f.wscale[1] = static_cast<uint8_t>(rng_.range(7, 10));
        f.synwin[0] = win_client ? 64240 : f.v6 ? 64800 : 64240;
        f.synwin[1] = f.v6 ? 64800 : 65160;
        f.win[0] = static_cast<uint16_t>(rng_.range(400, 2100));
        f.win[1] = static_cast<uint16_t>(rng_.range(100, 600));
        // Most paths carry a 1500-byte MTU; some (tunnels, PPPoE, CDNs) advertise less.
        const uint16_t base = f.v6 ? 1440 : 1460;
        f.mss_opt = rng_.chance(0.9) ? base : static_cast<uint16_t>(base - 60);
        f.mss = static_cast<uint16_t>(f.mss_opt - (f.ts_on ? 12 : 0));
        f.cwnd[0] = f.cwnd[1] = 10;  // RFC 6928 initial window
        f.cwnd_max = static_cast<uint16_t>(16u << rng_.below(3));
        f.ack_every = rng_.chance(0.5) ? 1 : 2;  // quick-ack receivers vs delayed ACK
        // Keep-alive connections carry a few exchanges, a geometric number of them.
        uint16_t ex = 1;
        while (ex < 30 && rng_.chance(0.45)) {
            ++ex;
        }
        f.msgs = static_cast<uint16_t>(2 * ex + (f.kind == kTls ? 2 : f.kind == kSsh ? 4 : 0));
        f.tls13 = rng_.chance(0.75);
        // Heavy tail: one flow in a hundred carries one huge transfer, Pareto-sized.
        if (rng_.chance(0.01)) {
            f.big = static_cast<uint64_t>(std::min(rng_.pareto(300e3, 1.1), 2e9));
        }
    }

    // tshark tries the dissectors registered for either UDP port before its heuristics (which is how
    // it finds QUIC on 443), so opaque and QUIC datagrams use ports no dissector claims in tshark 4.0
    // (`tshark -G decodes`): these server ports, and client ports from 50000-53999.
    uint16_t other_port() {
        constexpr uint16_t kPorts[] = {7777, 8888, 9100, 9876, 11000, 13000, 15000, 19000, 25000, 33333, 40000, 45678};
        return kPorts[rng_.below(count(kPorts))];
    }
    uint16_t udp_client_port() { return static_cast<uint16_t>(rng_.range(50000, 53999)); }

    // ----- TCP -----

    uint32_t tsval(const Flow& f, int dir) const { return static_cast<uint32_t>(w_.now_ms()) + f.ts_off[dir]; }

    // Builds one TCP segment at p, payload taken from the flow's current message; returns the frame length.
    size_t tcp_frame(uint8_t* p, Flow& f, int dir, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t paylen,
                     const uint32_t* sack = nullptr) {
        uint8_t opt[40];
        size_t ol = 0;
        const auto o8 = [&](uint32_t v) { opt[ol++] = static_cast<uint8_t>(v); };
        const auto ts = [&] {
            const uint32_t v = tsval(f, dir);
            f.ts_last[dir] = v;
            o8(8), o8(10);
            be32(opt + ol, v);
            be32(opt + ol + 4, (flags & ACK) ? f.ts_last[dir ^ 1] : 0);
            ol += 8;
        };
        if (flags & SYN) {
            if (dir == 0 ? f.cli_ts : f.ts_on) {  // Linux: MSS, SACK_PERM, TS, NOP, WS
                o8(2), o8(4), o8(f.mss_opt >> 8), o8(f.mss_opt & 0xff), o8(4), o8(2);
                ts();
                o8(1), o8(3), o8(3), o8(f.wscale[dir]);
            } else {  // Windows: MSS, NOP, WS, NOP, NOP, SACK_PERM
                o8(2), o8(4), o8(f.mss_opt >> 8), o8(f.mss_opt & 0xff), o8(1), o8(3), o8(3), o8(f.wscale[dir]);
                o8(1), o8(1), o8(4), o8(2);
            }
        } else if (!(flags & RST)) {
            if (f.ts_on) {
                o8(1), o8(1);
                ts();
            }
            if (sack != nullptr) {
                o8(1), o8(1), o8(5), o8(10);
                be32(opt + ol, sack[0]);
                be32(opt + ol + 4, sack[1]);
                ol += 8;
            }
        }
        const size_t l3 = f.v6 ? 40 : 20;
        const size_t tl = 20 + ol;
        uint8_t* t = p + 14 + l3;
        put_l2l3(p, f, dir, 6, tl + paylen);
        be16(t, f.port[dir]);
        be16(t + 2, f.port[dir ^ 1]);
        be32(t + 4, seq);
        be32(t + 8, (flags & ACK) ? ack : 0);
        t[12] = static_cast<uint8_t>((tl / 4) << 4);
        t[13] = flags;
        be16(t + 14, (flags & SYN) ? f.synwin[dir] : (flags & RST) ? 0 : f.win[dir]);
        std::memset(t + 16, 0, 4);  // checksum, urgent pointer
        std::memcpy(t + 20, opt, ol);
        if (paylen > 0) {
            stream_fill(f, t + tl, paylen);
        }
        l4_checksum(p, f, 6, tl + paylen, 16);
        return 14 + l3 + tl + paylen;
    }

    void put_l2l3(uint8_t* p, Flow& f, int dir, uint8_t proto, size_t l4len) {
        std::memcpy(p, dir == 0 ? kGatewayMac : f.mac, 6);
        std::memcpy(p + 6, dir == 0 ? f.mac : kGatewayMac, 6);
        uint8_t* ip = p + 14;
        if (!f.v6) {
            be16(p + 12, 0x0800);
            ip[0] = 0x45;
            ip[1] = 0;
            be16(ip + 2, static_cast<uint32_t>(20 + l4len));
            be16(ip + 4, f.ipid[dir]++);
            be16(ip + 6, 0x4000);  // DF
            ip[8] = f.ttl[dir];
            ip[9] = proto;
            ip[10] = ip[11] = 0;
            std::memcpy(ip + 12, f.addr[dir], 4);
            std::memcpy(ip + 16, f.addr[dir ^ 1], 4);
            const uint16_t c = csum_fold(csum_add(ip, 20, 0));
            std::memcpy(ip + 10, &c, 2);
        } else {
            be16(p + 12, 0x86dd);
            be32(ip, 0x60000000u | f.flowlabel[dir]);
            be16(ip + 4, static_cast<uint32_t>(l4len));
            ip[6] = proto;
            ip[7] = f.ttl[dir];
            std::memcpy(ip + 8, f.addr[dir], 16);
            std::memcpy(ip + 24, f.addr[dir ^ 1], 16);
        }
    }

    // Transport checksum over the pseudo-header (both addresses, protocol, length) and the segment,
    // whose checksum field must be zero.
    static void l4_checksum(uint8_t* p, const Flow& f, uint8_t proto, size_t l4len, size_t csum_off) {
        const size_t alen = f.v6 ? 16 : 4;
        uint8_t* l4 = p + 14 + (f.v6 ? 40 : 20);
        uint64_t acc = csum_add(f.addr[0], alen, 0);
        acc = csum_add(f.addr[1], alen, acc);
        acc += uint64_t{native16(proto)} + native16(static_cast<uint32_t>(l4len));
        acc = csum_add(l4, l4len, acc);
        uint16_t c = csum_fold(acc);
        if (proto == 17 && c == 0) {
            c = 0xffff;  // UDP: zero means "no checksum"
        }
        std::memcpy(l4 + csum_off, &c, 2);
    }

    // Copies the next n bytes of the current message's stream: its headers, then TLS record headers
    // and body chunks as they fall.
    void stream_fill(Flow& f, uint8_t* dst, size_t n) {
        Msg& m = f.m;
        while (n > 0) {
            size_t k;
            if (m.pend_pos < m.pend_len) {
                k = std::min<size_t>(n, m.pend_len - m.pend_pos);
                std::memcpy(dst, f.pend + m.pend_pos, k);
                m.pend_pos = static_cast<uint16_t>(m.pend_pos + k);
            } else if (m.rechdr_pos < 5) {
                k = std::min<size_t>(n, 5u - m.rechdr_pos);
                std::memcpy(dst, m.rechdr + m.rechdr_pos, k);
                m.rechdr_pos = static_cast<uint8_t>(m.rechdr_pos + k);
            } else if (m.rec_left > 0) {
                k = static_cast<size_t>(std::min<uint64_t>(n, m.rec_left));
                std::memcpy(dst, (m.text ? text_ : random_).data() + m.pool_pos, k);  // k < kPoolSlack
                m.pool_pos = static_cast<uint32_t>((m.pool_pos + k) % kPool);
                m.rec_left -= k;
            } else if (m.recmax > 0 && m.body_left > 0) {
                const auto c = static_cast<uint32_t>(std::min<uint64_t>(m.body_left, m.recmax));
                m.rechdr[0] = 0x17;  // application_data
                m.rechdr[1] = 3;
                m.rechdr[2] = 3;
                be16(m.rechdr + 3, c);
                m.rechdr_pos = 0;
                m.rec_left = c;
                m.body_left -= c;
                continue;
            } else if (m.body_left > 0) {
                m.rec_left = m.body_left;
                m.body_left = 0;
                continue;
            } else {
                die("internal: message stream overrun");
            }
            dst += k;
            n -= k;
        }
    }

    // Starts a message from `dir`: pend_len header bytes already in f.pend, then `body` bytes.
    void start_msg(Flow& f, int dir, size_t pend_len, uint64_t body, bool text, bool tls) {
        Msg& m = f.m;
        m = Msg{};
        m.pend_len = static_cast<uint16_t>(pend_len);
        m.body_left = body;
        m.text = text;
        m.pool_pos = rng_.below(kPool);
        m.recmax = tls ? (f.tls13 ? 16401 : 16408) : 0;  // 16 KiB plaintext + AEAD tag (+ type / nonce)
        m.wire_left = pend_len + body + (tls ? 5 * ((body + m.recmax - 1) / m.recmax) : 0);
        f.sender = static_cast<uint8_t>(dir);
    }

    uint64_t response_size() { return static_cast<uint64_t>(std::clamp(rng_.lognormal(2500, 1.7), 1.0, 3e6)); }

    // The next message of the flow's script; messages alternate client, server.
    void next_msg(Flow& f) {
        const int dir = f.phase & 1;
        const bool last_exchange = f.msgs <= 2 - dir;  // the final exchange carries the elephant
        --f.msgs;
        ++f.phase;
        Put b(f.pend, kPend - 32);  // the last 32 bytes keep the TLS session id
        if (f.kind == kHttp) {
            if (dir == 0) {
                http_request(f, b, last_exchange && f.big);
            } else {
                http_response(f, b, last_exchange && f.big ? f.big : response_size());
            }
        } else if (f.kind == kTls) {
            if (f.phase == 1) {
                client_hello(f, b);
                start_msg(f, 0, b.pos(), 0, false, false);
            } else if (f.phase == 2) {
                server_hello(f, b);
                // TLS 1.3: EncryptedExtensions, Certificate, CertificateVerify, Finished, all encrypted.
                start_msg(f, 1, b.pos(), f.tls13 ? rng_.range(2000, 5000) : 0, false, f.tls13);
            } else if (dir == 0) {
                if (f.phase == 3) {  // the client's CCS (and 1.2 Finished) ride with its first request
                    b.bytes("\x14\x03\x03\x00\x01\x01", 6);
                    if (!f.tls13) {
                        b.bytes("\x16\x03\x03\x00\x28", 5);
                        b.random(rng_, 40);
                    }
                }
                const uint64_t req = static_cast<uint64_t>(std::min(rng_.lognormal(400, 0.8), 16000.0));
                start_msg(f, 0, b.pos(), req + (f.phase == 3 && f.tls13 ? 53 : 0), false, true);
            } else {
                start_msg(f, 1, 0, last_exchange && f.big ? f.big : response_size(), false, true);
            }
        } else if (f.phase <= 4) {
            ssh_handshake(f, b);
            start_msg(f, dir, b.pos(), 0, false, false);
        } else {  // encrypted packets: opaque bytes; scp uploads are a fifth of the elephants
            if (f.phase == 5) {
                ssh_packet(b, "\x15", 1);  // the client's NEWKEYS
            }
            const bool up = f.big != 0 && (f.big & 0xff) < 52;
            uint64_t size;
            if (dir == 0) {
                size = last_exchange && up ? f.big : static_cast<uint64_t>(std::min(rng_.lognormal(120, 1.2), 60e3));
            } else {
                size = last_exchange && f.big && !up ? f.big : response_size();
            }
            // tshark reads each encrypted segment as one packet and needs 4 bytes of it: no tiny tails.
            size = std::max<uint64_t>(size, 36);
            if ((b.pos() + size) % f.mss < 36) {
                size += 36;
            }
            start_msg(f, dir, b.pos(), size, false, false);
        }
    }

    // SSH binary packet (RFC 4253) before encryption: length, padding length, payload, padding to a
    // multiple of 8 bytes with at least 4.
    void ssh_packet(Put& b, const void* payload, size_t n) {
        size_t pad = 8 - (5 + n) % 8;
        if (pad < 4) {
            pad += 8;
        }
        b.u32(static_cast<uint32_t>(1 + n + pad));
        b.u8(static_cast<uint32_t>(pad));
        b.bytes(payload, n);
        b.random(rng_, pad);
    }

    // The clear-text part of an SSH connection: version banners and KEXINITs (phases 1, 2), the
    // curve25519 exchange (3, 4) and the server's NEWKEYS; the client's NEWKEYS leads its first
    // encrypted message. The host key and signature are ssh-rsa: tshark 4.0 parses no other kind.
    void ssh_handshake(Flow& f, Put& b) {
        uint8_t m[1024];
        Put p(m, sizeof m);
        const auto name_list = [&](std::string_view s) {
            p.u32(static_cast<uint32_t>(s.size()));
            p.str(s);
        };
        const auto blob = [&](std::string_view s, size_t random_bytes) {  // string: s, then random bytes
            p.u32(static_cast<uint32_t>(s.size() + random_bytes));
            p.str(s);
            p.random(rng_, random_bytes);
        };
        switch (f.phase) {
        case 1:
        case 2: {
            const bool client = f.phase == 1;
            b.str(client ? "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2\r\n"
                         : "SSH-2.0-OpenSSH_7.4\r\n");
            p.u8(20);  // SSH_MSG_KEXINIT
            p.random(rng_, 16);
            name_list(client ? "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"
                               "diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,ext-info-c"
                             : "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
                               "diffie-hellman-group14-sha256");
            name_list(client ? "ssh-ed25519-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,"
                               "rsa-sha2-256,ssh-rsa"
                             : "ssh-rsa,rsa-sha2-512,rsa-sha2-256");
            // The server (a legacy configuration) settles the cipher on 3des-cbc: tshark 4.0 runs its
            // AES and ChaCha20 decoders on the random "ciphertext" even without keys, and about one
            // segment in 250,000 then decodes into a malformed packet; 3des-cbc it leaves opaque.
            for (int i = 0; i < 2; ++i) {
                name_list(client ? "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,"
                                   "aes128-gcm@openssh.com,aes256-gcm@openssh.com,3des-cbc"
                                 : "3des-cbc");
            }
            for (int i = 0; i < 2; ++i) {
                name_list(client ? "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
                                   "hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512"
                                 : "hmac-sha2-256,hmac-sha2-512");
            }
            name_list("none,zlib@openssh.com"), name_list("none,zlib@openssh.com");
            name_list(""), name_list("");
            p.u8(0), p.u32(0);  // first_kex_packet_follows, reserved
            break;
        }
        case 3:
            p.u8(30);  // SSH_MSG_KEX_ECDH_INIT: the client's ephemeral key
            blob("", 32);
            break;
        default:
            p.u8(31);  // SSH_MSG_KEX_ECDH_REPLY: host key (RSA 3072), ephemeral key, signature
            p.u32(407), blob("ssh-rsa", 0), blob(std::string_view("\x01\x00\x01", 3), 0);  // e = 65537
            p.u32(385), p.u8(0), p.u8(0x80 | rng_.below(128)), p.random(rng_, 383);  // mpint n
            blob("", 32);
            p.u32(399), blob("ssh-rsa", 0), blob("", 384);
            ssh_packet(b, m, p.pos());
            p = Put(m, sizeof m);
            p.u8(21);  // SSH_MSG_NEWKEYS
            break;
        }
        ssh_packet(b, m, p.pos());
    }

    void http_request(Flow& f, Put& b, bool elephant) {
        static constexpr const char* kAccept[] = {
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "*/*", "text/css,*/*;q=0.1",
            "image/avif,image/webp,*/*;q=0.8", "*/*", "*/*", "*/*"};
        const Server& s = servers_[f.server];
        const bool post = !elephant && rng_.chance(0.08);
        f.path = static_cast<uint8_t>(elephant ? 4 + rng_.below(2) : post ? 6 : rng_.below(7));  // big: media, download
        const char* w = kWords[rng_.below(count(kWords))];
        b.str(post ? "POST " : "GET ");
        switch (f.path) {
        case 0:
            if (rng_.chance(0.3)) {
                b.str("/");
            } else {
                b.str("/"), b.str(w), b.str("/"), b.str(kWords[rng_.below(count(kWords))]), b.str(".html");
            }
            break;
        case 1: b.str("/static/js/"), b.str(w), b.str("."), b.hex(rng_, 8), b.str(".js"); break;
        case 2: b.str("/static/css/"), b.str(w), b.str("."), b.hex(rng_, 8), b.str(".css"); break;
        case 3: b.str("/img/"), b.num(rng_.below(1000000)), b.str(".webp"); break;
        case 4: b.str("/media/"), b.str(w), b.str("/seg-"), b.num(rng_.below(5000)), b.str(".m4s"); break;
        case 5: b.str("/download/"), b.str(w), b.str("-"), b.num(rng_.below(100)), b.str(".bin"); break;
        default: b.str("/api/v1/"), b.str(w), b.str("?id="), b.num(rng_.below(100000000)); break;
        }
        b.str(" HTTP/1.1\r\nHost: ");
        b.bytes(s.name, s.name_len);
        b.str("\r\nUser-Agent: ");
        b.str(kAgents[(f.port[0] + f.server) % count(kAgents)]);  // stable per connection
        b.str("\r\nAccept: ");
        b.str(kAccept[f.path]);
        b.str("\r\nAccept-Language: en-US,en;q=0.9\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n");
        if (rng_.chance(0.4)) {
            b.str("Cookie: sid="), b.hex(rng_, 32), b.str("\r\n");
        }
        uint64_t body = 0;
        if (post) {
            body = static_cast<uint64_t>(std::min(rng_.lognormal(600, 1.0), 20000.0));
            b.str("Content-Type: text/plain\r\nContent-Length: "), b.num(body), b.str("\r\n");
        }
        b.str("\r\n");
        start_msg(f, 0, b.pos(), body, true, false);
    }

    void http_response(Flow& f, Put& b, uint64_t size) {
        static constexpr const char* kTypes[] = {"text/html; charset=utf-8", "application/javascript",
                                                 "text/css", "image/webp", "video/iso.segment",
                                                 "application/octet-stream", "text/plain; charset=utf-8"};
        const double u = rng_.unit();
        const int status = f.path == 6 || f.big ? 200 : u < 0.90 ? 200 : u < 0.96 ? 304 : 404;
        const bool text = f.path <= 2 || f.path == 6 || status == 404;
        char date[48];
        const time_t now = static_cast<time_t>(w_.t_ns / 1000000000u);
        tm t{};
        gmtime_r(&now, &t);
        std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &t);
        b.str(status == 200 ? "HTTP/1.1 200 OK\r\n" : status == 304 ? "HTTP/1.1 304 Not Modified\r\n"
                                                                   : "HTTP/1.1 404 Not Found\r\n");
        b.str("Date: "), b.str(date), b.str("\r\nServer: "), b.str(kServers[f.server % count(kServers)]);
        if (status == 304) {
            b.str("\r\nETag: \""), b.hex(rng_, 16), b.str("\"\r\n\r\n");
            start_msg(f, 1, b.pos(), 0, false, false);
            return;
        }
        if (status == 404) {
            size = rng_.range(150, 600);
        }
        b.str("\r\nContent-Type: "), b.str(status == 404 ? kTypes[0] : kTypes[f.path]);
        b.str("\r\nContent-Length: "), b.num(size);
        b.str("\r\nConnection: keep-alive\r\nCache-Control: max-age="), b.num(rng_.range(0, 86400));
        b.str("\r\n\r\n");
        start_msg(f, 1, b.pos(), size, text, false);
    }

    void client_hello(Flow& f, Put& b) {
        const Server& s = servers_[f.server];
        b.bytes("\x16\x03\x01", 3);
        const size_t rec = b.mark16();
        b.u8(1);  // ClientHello
        const size_t hs = b.mark24();
        b.u16(0x0303);
        b.random(rng_, 32);  // random
        b.u8(32);
        b.random(rng_, 32);  // session id: 1.3 middlebox compatibility, 1.2 resumption
        std::memcpy(f.pend + kPend - 32, b.p - 32, 32);  // the server echoes it; kept at the buffer's end
        static constexpr uint16_t kSuites[] = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9,
                                               0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
        const size_t cs = b.mark16();
        for (size_t i = f.tls13 ? 0 : 3; i < count(kSuites); ++i) {
            b.u16(kSuites[i]);
        }
        b.patch16(cs);
        b.u8(1), b.u8(0);  // compression: null
        const size_t ext = b.mark16();
        b.u16(0x0000);  // server_name
        {
            const size_t e = b.mark16();
            const size_t l = b.mark16();
            b.u8(0);
            b.u16(s.name_len);
            b.bytes(s.name, s.name_len);
            b.patch16(l);
            b.patch16(e);
        }
        b.u16(0x0017), b.u16(0);                // extended_master_secret
        b.u16(0xff01), b.u16(1), b.u8(0);       // renegotiation_info
        b.u16(0x000a), b.u16(8), b.u16(6), b.u16(0x001d), b.u16(0x0017), b.u16(0x0018);  // supported_groups
        b.u16(0x000b), b.u16(2), b.u8(1), b.u8(0);                                       // ec_point_formats
        b.u16(0x0023);  // session_ticket: a 1.2 client resumes with one
        if (f.tls13) {
            b.u16(0);
        } else {
            const uint32_t n = rng_.range(160, 224);
            b.u16(n);
            b.random(rng_, n);
        }
        b.u16(0x0010);  // ALPN
        {
            const size_t e = b.mark16();
            const size_t l = b.mark16();
            b.u8(2), b.str("h2"), b.u8(8), b.str("http/1.1");
            b.patch16(l);
            b.patch16(e);
        }
        b.u16(0x0005), b.u16(5), b.u8(1), b.u16(0), b.u16(0);  // status_request (OCSP)
        b.u16(0x000d);                                          // signature_algorithms
        {
            static constexpr uint16_t kSig[] = {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601};
            b.u16(2 + 2 * count(kSig)), b.u16(2 * count(kSig));
            for (const uint16_t a : kSig) {
                b.u16(a);
            }
        }
        b.u16(0x0012), b.u16(0);  // signed_certificate_timestamp
        if (f.tls13) {
            b.u16(0x0033), b.u16(38), b.u16(36), b.u16(0x001d), b.u16(32);  // key_share: x25519
            b.random(rng_, 32);
            b.u16(0x002d), b.u16(2), b.u8(1), b.u8(1);                       // psk_key_exchange_modes
            b.u16(0x002b), b.u16(5), b.u8(4), b.u16(0x0304), b.u16(0x0303);  // supported_versions
        }
        // padding (RFC 7685) to a 512-byte ClientHello, as browsers send
        const size_t hs_len = b.pos() - hs + 4;
        if (hs_len < 508) {
            const size_t pad = 508 - hs_len;
            b.u16(0x0015), b.u16(static_cast<uint32_t>(pad));
            b.need(pad);
            std::memset(b.p, 0, pad);
            b.p += pad;
        }
        b.patch16(ext);
        b.patch24(hs);
        b.patch16(rec);
    }

    // ServerHello and ChangeCipherSpec; TLS 1.2 is an abbreviated (session ticket) handshake, so the
    // server's encrypted Finished follows at once and no certificate is needed.
    void server_hello(Flow& f, Put& b) {
        b.bytes("\x16\x03\x03", 3);
        const size_t rec = b.mark16();
        b.u8(2);  // ServerHello
        const size_t hs = b.mark24();
        b.u16(0x0303);
        b.random(rng_, 32);
        b.u8(32);
        b.bytes(f.pend + kPend - 32, 32);  // session id echo
        b.u16(f.tls13 ? 0x1301 + rng_.below(2) : (rng_.chance(0.5) ? 0xc02f : 0xc030));  // cipher suite
        b.u8(0);
        const size_t ext = b.mark16();
        if (f.tls13) {
            b.u16(0x002b), b.u16(2), b.u16(0x0304);                          // supported_versions
            b.u16(0x0033), b.u16(36), b.u16(0x001d), b.u16(32);              // key_share
            b.random(rng_, 32);
        } else {
            b.u16(0xff01), b.u16(1), b.u8(0);
            b.u16(0x0017), b.u16(0);
            const bool h2 = rng_.chance(0.7);
            b.u16(0x0010), b.u16(h2 ? 5 : 11), b.u16(h2 ? 3 : 9);  // ALPN: the chosen protocol
            if (h2) {
                b.u8(2), b.str("h2");
            } else {
                b.u8(8), b.str("http/1.1");
            }
            b.u16(0x000b), b.u16(2), b.u8(1), b.u8(0);
        }
        b.patch16(ext);
        b.patch24(hs);
        b.patch16(rec);
        b.bytes("\x14\x03\x03\x00\x01\x01", 6);  // ChangeCipherSpec
        if (!f.tls13) {
            b.bytes("\x16\x03\x03\x00\x28", 5);  // encrypted Finished
            b.random(rng_, 40);
        }
    }

    void send_ctl(Flow& f, int dir, uint8_t flags, uint32_t seq, uint32_t ack, const uint32_t* sack = nullptr) {
        uint8_t* p = w_.frame();
        w_.commit(tcp_frame(p, f, dir, flags, seq, ack, 0, sack));
    }

    // One data segment of the current message, built at p.
    size_t data_segment(Flow& f, uint8_t* p) {
        const int d = f.sender;
        const auto len = static_cast<uint32_t>(std::min<uint64_t>(f.mss, f.m.wire_left));
        const bool last = len == f.m.wire_left;
        const size_t n = tcp_frame(p, f, d, last ? ACK | PSH : ACK, f.snd[d], f.snd[d ^ 1], len);
        f.snd[d] += len;
        f.m.wire_left -= len;
        return n;
    }

    // A resent segment is the same bytes with a new IPv4 id and TCP timestamp, checksums redone.
    void refresh(Flow& f, int dir, uint8_t* p, size_t len) {
        const size_t l3 = f.v6 ? 40 : 20;
        if (!f.v6) {
            uint8_t* ip = p + 14;
            be16(ip + 4, f.ipid[dir]++);
            ip[10] = ip[11] = 0;
            const uint16_t c = csum_fold(csum_add(ip, 20, 0));
            std::memcpy(ip + 10, &c, 2);
        }
        uint8_t* t = p + 14 + l3;
        if (f.ts_on) {
            be32(t + 24, tsval(f, dir));
        }
        t[16] = t[17] = 0;
        l4_checksum(p, f, 6, len - 14 - l3, 16);
    }

    // Sends up to a congestion window of the current message, with the receiver's ACKs in between
    // (every segment or every second one). About 1% of data segments (full-sized ones) are resent at
    // the end of the flight (tshark: spurious retransmission), and 0.5% start an out-of-order pair,
    // which the receiver answers with a duplicate ACK carrying a SACK block.
    void flight(Flow& f) {
        const int d = f.sender, r = d ^ 1;
        uint32_t budget = f.cwnd[d];
        bool resend = false;
        size_t resend_len = 0;
        while (budget > 0 && f.m.wire_left > 0 && !w_.done) {
            if (budget >= 2 && f.m.wire_left > 2u * f.mss && rng_.chance(0.005)) {
                const uint32_t seq_k = f.snd[d];
                const size_t held = data_segment(f, held_);
                const uint32_t seq_k1 = f.snd[d];
                uint8_t* p = w_.frame();
                w_.commit(data_segment(f, p));
                const uint32_t sack[2] = {seq_k1, f.snd[d]};
                send_ctl(f, r, ACK, f.snd[r], seq_k, sack);
                w_.commit_copy(held_, held);
                send_ctl(f, r, ACK, f.snd[r], f.snd[d]);
                f.unacked = 0;
                budget -= 2;
                continue;
            }
            // Only full segments are resent: tshark takes a resent 1-byte tail for a keep-alive.
            const bool full = f.m.wire_left >= f.mss;
            uint8_t* p = w_.frame();
            const size_t n = data_segment(f, p);
            if (!resend && full && rng_.chance(0.016)) {  // about 1% of all data segments
                std::memcpy(resend_, p, n);
                resend = true;
                resend_len = n;
            }
            w_.commit(n);
            --budget;
            if (++f.unacked >= f.ack_every) {
                send_ctl(f, r, ACK, f.snd[r], f.snd[d]);
                f.unacked = 0;
            }
        }
        if (resend) {
            refresh(f, d, resend_, resend_len);
            w_.commit_copy(resend_, resend_len);
        }
        if (f.m.wire_left > 0) {  // window-limited: the rest goes next visit, one RTT later
            if (f.unacked > 0) {
                send_ctl(f, r, ACK, f.snd[r], f.snd[d]);
                f.unacked = 0;
            }
            f.cwnd[d] = static_cast<uint16_t>(std::min<uint32_t>(2u * f.cwnd[d], f.cwnd_max));
            f.st = Send;
            return;
        }
        if (f.msgs == 0) {
            begin_close(f);
            return;
        }
        // The receiver answers next; a quarter of the time its delayed ACK fires first.
        const bool pure = f.unacked > 0 && rng_.chance(0.25);
        f.unacked = 0;
        next_msg(f);
        f.st = pure ? PureAck : Send;
    }

    void begin_close(Flow& f) {
        f.unacked = 0;
        const double u = rng_.unit();
        if (u < 0.80) {
            f.closer = rng_.chance(0.55) ? 0 : 1;
            f.st = Fin1;
        } else if (u < 0.95) {
            f.closer = rng_.chance(0.6) ? 0 : 1;  // an aborting browser or a server reset
            f.st = Reset;
        } else {
            finish(f);  // left open: idle keep-alive that outlives the capture
        }
    }

    void finish(Flow& f) { new_flow(f); }

    void tcp_step(Flow& f) {
        const int c = f.closer, o = c ^ 1;
        switch (f.st) {
        case Syn: {
            send_ctl(f, 0, SYN, f.isn[0], 0);
            f.snd[0] = f.isn[0] + 1;
            const double u = rng_.unit();
            if (u < 0.01) {
                f.st = Refused;  // closed port
            } else if (u < 0.015) {
                f.st = SynRetry;  // unanswered
                f.retries = static_cast<uint8_t>(rng_.range(1, 2));
            } else {
                f.st = SynAck;
            }
            break;
        }
        case SynRetry:
            send_ctl(f, 0, SYN, f.isn[0], 0);
            if (--f.retries == 0) {
                finish(f);
            }
            break;
        case Refused: send_ctl(f, 1, RST | ACK, 0, f.snd[0]); finish(f); break;
        case SynAck:
            send_ctl(f, 1, SYN | ACK, f.isn[1], f.snd[0]);
            f.snd[1] = f.isn[1] + 1;
            f.st = HsAck;
            break;
        case HsAck:  // the handshake's last ACK, then the client's first message right behind it
            send_ctl(f, 0, ACK, f.snd[0], f.snd[1]);
            next_msg(f);
            flight(f);
            break;
        case Send: flight(f); break;
        case PureAck:
            send_ctl(f, f.sender, ACK, f.snd[f.sender], f.snd[f.sender ^ 1]);
            f.st = Send;
            break;
        case Fin1:
            send_ctl(f, c, FIN | ACK, f.snd[c], f.snd[o]);
            ++f.snd[c];
            f.st = rng_.chance(0.3) ? Fin2Ack : Fin2;
            break;
        case Fin2Ack: send_ctl(f, o, ACK, f.snd[o], f.snd[c]); f.st = Fin2; break;
        case Fin2:
            send_ctl(f, o, FIN | ACK, f.snd[o], f.snd[c]);
            ++f.snd[o];
            f.st = FinLast;
            break;
        case FinLast: send_ctl(f, c, ACK, f.snd[c], f.snd[o]); finish(f); break;
        case Reset: send_ctl(f, c, RST | ACK, f.snd[c], f.snd[o]); finish(f); break;
        default: finish(f);
        }
    }

    // ----- UDP -----

    static uint8_t* udp_payload(uint8_t* p, const Flow& f) { return p + 14 + (f.v6 ? 40 : 20) + 8; }

    // Headers and checksum around a payload already written at udp_payload(p); returns the frame length.
    size_t udp_frame(uint8_t* p, Flow& f, int dir, size_t paylen) {
        put_l2l3(p, f, dir, 17, 8 + paylen);
        uint8_t* u = p + 14 + (f.v6 ? 40 : 20);
        be16(u, f.port[dir]);
        be16(u + 2, f.port[dir ^ 1]);
        be16(u + 4, static_cast<uint32_t>(8 + paylen));
        u[6] = u[7] = 0;
        l4_checksum(p, f, 17, 8 + paylen, 6);
        return 14 + (f.v6 ? 40 : 20) + 8 + paylen;
    }

    // An opaque datagram led by a session id and a per-direction sequence number, as custom media
    // and game protocols do; the id's zero top byte also keeps tshark's RTP/RTCP heuristics off it.
    void send_udp_opaque(Flow& f, int dir, size_t paylen) {
        uint8_t* p = w_.frame();
        uint8_t* d = udp_payload(p, f);
        std::memcpy(d, random_.data() + rng_.below(kPool), paylen);
        be32(d, f.isn[0] & 0xffffff);
        be32(d + 4, f.snd[dir]++);
        w_.commit(udp_frame(p, f, dir, paylen));
    }

    void new_dns(Flow& f) {
        f.st = U0;
        f.port[1] = 53;
        f.port[0] = static_cast<uint16_t>(rng_.range(1024, 65535));  // resolvers randomise the port
        if (f.v6) {
            std::memcpy(f.addr[1], kResolver6[rng_.below(2)], 16);
        } else {
            std::memcpy(f.addr[1], kResolver4[rng_.below(3)], 4);
        }
        f.ttl[1] = f.addr[1][0] == 10 ? 64 : static_cast<uint8_t>(rng_.range(50, 60));
        f.edns = rng_.chance(0.7);
        f.n = rng_.chance(0.6) ? 2 : 1;  // stub resolvers ask A and AAAA back to back
        // Names: a real server's host name, or a random label under a tracker-like zone.
        Put b(f.pend, kPend);
        const auto label = [&](const char* s, size_t len) {
            b.u8(static_cast<uint32_t>(len));
            b.bytes(s, len);
        };
        const auto dotted = [&](const char* s, size_t len) {
            size_t i = 0;
            while (i < len) {
                size_t j = i;
                while (j < len && s[j] != '.') {
                    ++j;
                }
                label(s + i, j - i);
                i = j + 1;
            }
        };
        if (rng_.chance(0.7)) {
            const Server& s = servers_[f.server];
            f.zone = s.zone_off;
            dotted(s.name, s.name_len);
        } else {
            char l[16];
            const uint32_t n = rng_.range(6, 14);
            for (uint32_t i = 0; i < n; ++i) {
                l[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[rng_.below(36)];
            }
            label(l, n);
            f.zone = static_cast<uint16_t>(n + 1);
            const char* z = kTrackers[rng_.below(count(kTrackers))];
            dotted(z, std::strlen(z));
            f.server = 0xffff;  // no address: NXDOMAIN or a random one
        }
        b.u8(0);
        f.qlen = static_cast<uint16_t>(b.pos());
        next_query(f);
    }

    void next_query(Flow& f) {
        f.dns_id = static_cast<uint16_t>(rng_.next());
        const double u = rng_.unit();
        f.qtype = f.n == 1 && u < 0.15 ? 65 : (f.n == 2 || u < 0.6) ? 1 : 28;  // HTTPS, A, AAAA
    }

    size_t dns_query(Flow& f, uint8_t* d) {
        Put b(d, 1400);
        b.u16(f.dns_id), b.u16(0x0100), b.u16(1), b.u16(0), b.u16(0), b.u16(f.edns ? 1 : 0);
        b.bytes(f.pend, f.qlen);
        b.u16(f.qtype), b.u16(1);
        if (f.edns) {
            b.u8(0), b.u16(41), b.u16(1232), b.u32(0), b.u16(0);  // OPT
        }
        return b.pos();
    }

    size_t dns_response(Flow& f, uint8_t* d) {
        Put b(d, 1400);
        const bool known = f.server != 0xffff;
        const bool nx = !known && rng_.chance(0.5);
        const bool nodata = f.qtype == 65 && !nx;
        b.u16(f.dns_id), b.u16(nx ? 0x8183 : 0x8180), b.u16(1), b.u16(0), b.u16(0), b.u16(f.edns ? 1 : 0);
        b.bytes(f.pend, f.qlen);
        b.u16(f.qtype), b.u16(1);
        uint32_t an = 0, ns = 0;
        if (nx || nodata) {  // SOA of the zone in the authority section, names compressed
            const uint32_t zone = 0xc000 | (12u + f.zone);
            b.u16(zone), b.u16(6), b.u16(1), b.u32(rng_.range(60, 3600));
            const size_t rd = b.mark16();
            b.u8(3), b.str("ns1"), b.u16(zone);
            b.u8(10), b.str("hostmaster"), b.u16(zone);
            b.u32(rng_.range(2023000000, 2023123199)), b.u32(7200), b.u32(3600), b.u32(1209600), b.u32(300);
            b.patch16(rd);
            ns = 1;
        } else {
            uint32_t owner = 0xc00c;
            if (known && rng_.chance(0.3)) {  // CNAME to a CDN edge name
                b.u16(owner), b.u16(5), b.u16(1), b.u32(rng_.range(60, 3600));
                const size_t rd = b.mark16();
                owner = 0xc000 | static_cast<uint32_t>(b.pos());
                b.u8(8), b.str("edge-"), b.num(rng_.range(100, 999));
                b.u8(3), b.str("cdn"), b.u8(4), b.str("test"), b.u8(0);
                b.patch16(rd);
                ++an;
            }
            const uint32_t k = rng_.range(1, 4);
            const bool v4 = f.qtype == 1;
            for (uint32_t i = 0; i < k; ++i) {
                b.u16(owner), b.u16(f.qtype), b.u16(1), b.u32(rng_.range(30, 300));
                b.u16(v4 ? 4 : 16);
                uint8_t a[16];
                if (known) {
                    std::memcpy(a, v4 ? servers_[f.server].v4 : servers_[f.server].v6, v4 ? 4 : 16);
                    a[v4 ? 3 : 15] = static_cast<uint8_t>(a[v4 ? 3 : 15] + i);  // siblings of the server
                } else if (v4) {
                    public_v4(a);
                } else {
                    rng_.fill(a, 16);
                    a[0] = static_cast<uint8_t>(0x20 | (a[0] & 0x0f));
                }
                b.bytes(a, v4 ? 4 : 16);
                ++an;
            }
        }
        if (f.edns) {
            b.u8(0), b.u16(41), b.u16(1232), b.u32(0), b.u16(0);
        }
        be16(d + 6, an);
        be16(d + 8, ns);
        return b.pos();
    }

    void dns_step(Flow& f) {
        uint8_t* p = w_.frame();
        switch (f.st) {
        case U0:
            w_.commit(udp_frame(p, f, 0, dns_query(f, udp_payload(p, f))));
            f.st = rng_.chance(0.02) ? U2 : U1;  // 2% time out once and are asked again
            break;
        case U1:
            w_.commit(udp_frame(p, f, 1, dns_response(f, udp_payload(p, f))));
            if (--f.n == 0) {
                finish(f);
                return;
            }
            next_query(f);
            f.qtype = 28;
            f.st = U0;
            break;
        default:
            w_.commit(udp_frame(p, f, 0, dns_query(f, udp_payload(p, f))));
            f.st = U1;
        }
    }

    // QUIC: a v1 handshake's datagrams (client Initial padded to its 1200+ bytes, server Initial +
    // Handshake), then 1-RTT short-header packets: requests, full-size response datagrams and small
    // ACK packets. Payloads are random, as encrypted ones look; headers are well formed.
    void new_quic(Flow& f) {
        f.st = U0;
        f.port[1] = 443;
        f.port[0] = udp_client_port();
        f.cidlen = rng_.chance(0.6) ? 0 : 8;  // Chrome uses an empty client connection id
        rng_.fill(f.pend, 24);                // [0,8) initial DCID, [8,16) client CID, [16,24) server CID
        f.dsize = static_cast<uint16_t>(rng_.chance(0.6) ? 1250 : rng_.chance(0.5) ? 1350 : 1232);
        uint16_t ex = 1;
        while (ex < 20 && rng_.chance(0.5)) {
            ++ex;
        }
        f.n = ex;
        f.cwnd[1] = 10;
        f.cwnd_max = 32;
        f.ack_every = rng_.chance(0.5) ? 1 : 2;
        f.big = rng_.chance(0.02) ? static_cast<uint64_t>(std::min(rng_.pareto(300e3, 1.1), 2e9)) : 0;
    }

    // Long header packet of `total` bytes (type 0 Initial, 2 Handshake) at q; returns total.
    size_t quic_long(uint8_t* q, int type, const uint8_t* dcid, size_t dl, const uint8_t* scid, size_t sl,
                     size_t total) {
        Put b(q, total);
        b.u8(0xc0 | static_cast<uint32_t>(type << 4) | rng_.below(4));
        b.u32(1);  // version 1
        b.u8(static_cast<uint32_t>(dl)), b.bytes(dcid, dl);
        b.u8(static_cast<uint32_t>(sl)), b.bytes(scid, sl);
        if (type == 0) {
            b.u8(0);  // no token
        }
        const size_t rest = total - b.pos() - 2;  // packet number and protected payload
        b.u16(0x4000 | static_cast<uint32_t>(rest));
        std::memcpy(b.p, random_.data() + rng_.below(kPool), rest);
        return total;
    }

    size_t quic_short(uint8_t* q, const uint8_t* dcid, size_t dl, size_t total) {
        q[0] = static_cast<uint8_t>(0x40 | rng_.below(64));
        std::memcpy(q + 1, dcid, dl);
        std::memcpy(q + 1 + dl, random_.data() + rng_.below(kPool), total - 1 - dl);
        return total;
    }

    void quic_send_short(Flow& f, int dir, size_t total) {
        uint8_t* p = w_.frame();
        uint8_t* q = udp_payload(p, f);
        quic_short(q, dir == 0 ? f.pend + 16 : f.pend + 8, dir == 0 ? 8 : f.cidlen, total);
        w_.commit(udp_frame(p, f, dir, total));
    }

    void quic_step(Flow& f) {
        uint8_t* const cid_init = f.pend;
        uint8_t* const cid_c = f.pend + 8;
        uint8_t* const cid_s = f.pend + 16;
        switch (f.st) {
        case U0: {  // client Initial (ClientHello), padded
            uint8_t* p = w_.frame();
            quic_long(udp_payload(p, f), 0, cid_init, 8, cid_c, f.cidlen, f.dsize);
            w_.commit(udp_frame(p, f, 0, f.dsize));
            f.st = U1;
            break;
        }
        case U1: {  // server Initial (ServerHello) + Handshake, then the rest of the Handshake flight
            uint8_t* p = w_.frame();
            uint8_t* q = udp_payload(p, f);
            const size_t first = rng_.range(120, 180);
            quic_long(q, 0, cid_c, f.cidlen, cid_s, 8, first);
            quic_long(q + first, 2, cid_c, f.cidlen, cid_s, 8, f.dsize - first);
            w_.commit(udp_frame(p, f, 1, f.dsize));
            const uint32_t more = rng_.range(1, 3);
            for (uint32_t i = 0; i < more && !w_.done; ++i) {
                p = w_.frame();
                const size_t n = i + 1 < more ? f.dsize : rng_.range(200, f.dsize);
                quic_long(udp_payload(p, f), 2, cid_c, f.cidlen, cid_s, 8, n);
                w_.commit(udp_frame(p, f, 1, n));
            }
            f.st = U2;
            break;
        }
        case U2: {  // client Initial ACK + Handshake Finished (padded), then its first request
            uint8_t* p = w_.frame();
            uint8_t* q = udp_payload(p, f);
            const size_t first = rng_.range(60, 90);
            quic_long(q, 0, cid_s, 8, cid_c, f.cidlen, first);
            quic_long(q + first, 2, cid_s, 8, cid_c, f.cidlen, f.dsize - first);
            w_.commit(udp_frame(p, f, 0, f.dsize));
            quic_request(f);
            break;
        }
        default: {  // the server's response, a window of datagrams per visit
            uint32_t budget = f.cwnd[1];
            while (budget-- > 0 && f.m.wire_left > 0 && !w_.done) {
                const size_t n = static_cast<size_t>(std::min<uint64_t>(f.dsize, f.m.wire_left + 30));
                f.m.wire_left -= std::min<uint64_t>(f.m.wire_left, n - 30);
                quic_send_short(f, 1, n);
                if (++f.unacked >= f.ack_every) {
                    quic_send_short(f, 0, rng_.range(32, 48));  // ACK frame
                    f.unacked = 0;
                }
            }
            if (f.m.wire_left > 0) {
                f.cwnd[1] = static_cast<uint16_t>(std::min<uint32_t>(2u * f.cwnd[1], f.cwnd_max));
                return;
            }
            if (f.unacked > 0) {
                quic_send_short(f, 0, rng_.range(32, 48));
                f.unacked = 0;
            }
            if (--f.n == 0) {
                if (rng_.chance(0.5)) {
                    quic_send_short(f, 0, rng_.range(30, 60));  // CONNECTION_CLOSE
                }
                finish(f);
                return;
            }
            quic_request(f);
        }
        }
    }

    void quic_request(Flow& f) {
        quic_send_short(f, 0, rng_.range(60, 500));
        f.m.wire_left = f.n == 1 && f.big ? f.big : response_size();  // response bytes still to send
        f.st = U3;
    }

    // Other UDP: media-like streams (small, steady packets both ways) or bulk ones, opaque payload.
    void new_udp(Flow& f) {
        f.st = U0;
        f.port[1] = other_port();
        f.port[0] = udp_client_port();
        f.n = static_cast<uint32_t>(std::min(rng_.pareto(2, 1.2), 20000.0));
        f.isn[0] = static_cast<uint32_t>(rng_.next());
        f.snd[0] = static_cast<uint32_t>(rng_.next()) & 0xffff;
        f.snd[1] = static_cast<uint32_t>(rng_.next()) & 0xffff;
        f.dsize = static_cast<uint16_t>(rng_.chance(0.7) ? rng_.range(80, 300) : rng_.range(900, 1200));
    }

    void udp_step(Flow& f) {
        const uint32_t k = rng_.range(1, 4);
        for (uint32_t i = 0; i < k && f.n > 0 && !w_.done; ++i, --f.n) {
            const int dir = rng_.chance(0.55) ? 0 : 1;
            const uint32_t jitter = f.dsize / 8;
            send_udp_opaque(f, dir, rng_.range(f.dsize - jitter, f.dsize + jitter));
        }
        if (f.n == 0) {
            finish(f);
        }
    }

    const Config cfg_;
    Rng rng_;
    Writer w_;
    std::vector<uint8_t> random_, text_, pend_;
    std::vector<Server> servers_;
    std::vector<Client> clients_;
    std::vector<Flow> flows_;
    uint8_t held_[kFrameRoom] = {};    // the segment an out-of-order pair sends second
    uint8_t resend_[kFrameRoom] = {};  // the segment to retransmit at the end of the flight
    uint64_t started_[kKinds][2] = {};
};

// ---------------------------------------------------------------------------------------------------

uint64_t parse_size(const char* s) {
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    double mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1024.0; ++end; break;
    case 'm': case 'M': mul = 1024.0 * 1024; ++end; break;
    case 'g': case 'G': mul = 1024.0 * 1024 * 1024; ++end; break;
    case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; ++end; break;
    default: break;
    }
    if (*end == 'i') {
        ++end;
    }
    if (*end == 'B' || *end == 'b') {
        ++end;
    }
    if (end == s || *end != '\0' || !(v > 0)) {
        die("bad size: ", s);
    }
    return static_cast<uint64_t>(v * mul);
}

uint64_t parse_uint(const char* s, uint64_t lo, uint64_t hi) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || *s == '-' || v < lo || v > hi) {
        die("bad number: ", s);
    }
    return v;
}

double parse_num(const char* s, double lo, double hi) {
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    if (end == s || *end != '\0' || !(v >= lo && v <= hi)) {
        die("bad number: ", s);
    }
    return v;
}

void usage(FILE* to) {
    std::fprintf(to,
                 "usage: weir_tracegen --out FILE (--packets N | --bytes SIZE) [options]\n"
                 "  --packets N            stop after N packets\n"
                 "  --bytes SIZE           stop before the file exceeds SIZE (suffix K, M, G, T: powers of 1024)\n"
                 "  --flows-concurrent K   flows open at once, up to 1000000 (default 10000)\n"
                 "  --seed S               random seed; same options and seed give the same file (default 1)\n"
                 "  --ipv6-share X         fraction of flows over IPv6 (default 0.2)\n"
                 "  --udp-share X          fraction of flows over UDP (default 0.3)\n"
                 "  --nanosecond           nanosecond timestamps (pcap magic a1b23c4d)\n"
                 "  --start EPOCH          time of the first packet, seconds (default 1700000000)\n"
                 "  --rate PPS             mean packet rate of the timestamps (default 1000000)\n"
                 "  --libpcap              write through pcap_dump instead of the built-in writer\n");
}

}  // namespace

int main(int argc, char** argv) {
    Config c;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        std::string val;
        bool has_val = false;
        if (const size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
            val = a.substr(eq + 1);
            a.resize(eq);
            has_val = true;
        }
        const auto next = [&]() -> const char* {
            if (has_val) {
                return val.c_str();
            }
            if (i + 1 >= argc) {
                die("missing value for ", a.c_str());
            }
            return argv[++i];
        };
        if (a == "--out") {
            c.out = next();
        } else if (a == "--packets") {
            c.packets = parse_uint(next(), 1, UINT64_MAX);
        } else if (a == "--bytes") {
            c.bytes = parse_size(next());
        } else if (a == "--flows-concurrent") {
            c.flows = static_cast<uint32_t>(parse_uint(next(), 1, 1000000));  // 1 KiB of state each
        } else if (a == "--seed") {
            c.seed = parse_uint(next(), 0, UINT64_MAX);
        } else if (a == "--ipv6-share") {
            c.ipv6_share = parse_num(next(), 0, 1);
        } else if (a == "--udp-share") {
            c.udp_share = parse_num(next(), 0, 1);
        } else if (a == "--nanosecond") {
            c.nsec = true;
        } else if (a == "--start") {
            c.start = parse_uint(next(), 0, 4000000000);  // pcap seconds are 32-bit
        } else if (a == "--rate") {
            c.rate = parse_num(next(), 1, 1e10);
        } else if (a == "--libpcap") {
            c.libpcap = true;
        } else if (a == "-h" || a == "--help") {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            die("unknown option ", a.c_str());
        }
    }
    if (c.out.empty() || (c.packets == 0) == (c.bytes == 0)) {
        usage(stderr);
        return 2;
    }
    if (c.bytes != 0 && c.bytes < 24 + 16 + kFrameRoom) {
        die("--bytes too small");
    }

    const auto t0 = std::chrono::steady_clock::now();
    Gen g(c);
    g.run();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const Writer& w = g.writer();
    const auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
    const uint64_t tcp4 = g.flows(true, 0), tcp6 = g.flows(true, 1), udp4 = g.flows(false, 0), udp6 = g.flows(false, 1);
    std::printf("weir_tracegen: %s: %llu packets, %llu bytes of packets (file %llu), flows %llu (TCP %llu: v4 %llu "
                "v6 %llu; UDP %llu: v4 %llu v6 %llu), mean packet %.1f B, %.2f s, %.0f MB/s\n",
                c.out.c_str(), u(w.packets), u(w.wire), u(w.file_bytes), u(tcp4 + tcp6 + udp4 + udp6), u(tcp4 + tcp6),
                u(tcp4), u(tcp6), u(udp4 + udp6), u(udp4), u(udp6),
                w.packets != 0 ? static_cast<double>(w.wire) / static_cast<double>(w.packets) : 0.0, secs,
                static_cast<double>(w.file_bytes) / secs / 1e6);
    return 0;
}
