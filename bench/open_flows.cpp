// weir_open_flows: a capture that opens N distinct TCP connections and closes none, to measure
// what a flow table costs when N flows are open at once (bench/scale.sh).
//
// Each connection is a SYN from a client in 10.0.0.0/8 (or fd00::/8 with --ipv6-share) and the
// server's SYN-ACK, then one data segment each way so that every per-direction field is in use.
// Connections are interleaved in time at --rate packets per second; with the defaults ten million
// connections span under 20 s of packet time, short of any idle timeout. Checksums are correct.
#include <arpa/inet.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const char* what, const char* arg = "") {
    std::fprintf(stderr, "weir_open_flows: %s%s\n", what, arg);
    std::exit(2);
}

uint32_t sum16(const uint8_t* p, size_t n, uint32_t s = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) {
        s += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    }
    if (n & 1) {
        s += static_cast<uint32_t>(p[n - 1] << 8);
    }
    return s;
}
uint16_t fold(uint32_t s) {
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return static_cast<uint16_t>(~s);
}
void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
    put16(p, static_cast<uint16_t>(v >> 16));
    put16(p + 2, static_cast<uint16_t>(v));
}

struct Endpoints {
    bool v6;
    uint8_t client[16];
    uint8_t server[16];
    uint16_t cport;
    uint16_t sport;
};

class Writer {
public:
    explicit Writer(const std::string& path) : f_(std::fopen(path.c_str(), "wb")) {
        if (f_ == nullptr) {
            die("cannot write ", path.c_str());
        }
        std::setvbuf(f_, nullptr, _IOFBF, 1 << 22);
        const uint32_t hdr[6] = {0xa1b23c4d, 0x00040002, 0, 0, 65535, 1};  // ns timestamps, Ethernet
        std::fwrite(hdr, sizeof hdr, 1, f_);
    }
    ~Writer() {
        if (std::fclose(f_) != 0) {
            die("write failed: ", std::strerror(errno));
        }
    }
    // One Ethernet/IP/TCP frame from `from_client`'s side.
    void tcp(uint64_t t_ns, const Endpoints& e, bool from_client, uint8_t flags, uint32_t seq, uint32_t ack,
             uint16_t payload) {
        uint8_t b[512] = {};  // largest frame: 14 + 40 + 24 + 200
        const uint8_t* src = from_client ? e.client : e.server;
        const uint8_t* dst = from_client ? e.server : e.client;
        const size_t l2 = 14;
        put16(b + 12, e.v6 ? 0x86dd : 0x0800);
        b[0] = 0x02, b[5] = from_client ? 1 : 2;
        b[6] = 0x02, b[11] = from_client ? 2 : 1;
        const bool syn = (flags & 0x02) != 0;
        const size_t tcp_len = 20 + (syn ? 4 : 0);
        const size_t l3 = e.v6 ? 40 : 20;
        uint8_t* ip = b + l2;
        uint8_t* th = ip + l3;
        if (e.v6) {
            ip[0] = 0x60;
            put16(ip + 4, static_cast<uint16_t>(tcp_len + payload));
            ip[6] = 6;
            ip[7] = 64;
            std::memcpy(ip + 8, src, 16);
            std::memcpy(ip + 24, dst, 16);
        } else {
            ip[0] = 0x45;
            put16(ip + 2, static_cast<uint16_t>(20 + tcp_len + payload));
            ip[6] = 0x40;  // DF
            ip[8] = 64;
            ip[9] = 6;
            std::memcpy(ip + 12, src, 4);
            std::memcpy(ip + 16, dst, 4);
            put16(ip + 10, fold(sum16(ip, 20)));
        }
        put16(th, from_client ? e.cport : e.sport);
        put16(th + 2, from_client ? e.sport : e.cport);
        put32(th + 4, seq);
        put32(th + 8, ack);
        th[12] = static_cast<uint8_t>((tcp_len / 4) << 4);
        th[13] = flags;
        put16(th + 14, 64240);
        if (syn) {
            th[20] = 2, th[21] = 4;  // MSS 1460
            put16(th + 22, 1460);
        }
        for (uint16_t i = 0; i < payload; ++i) {
            th[tcp_len + i] = static_cast<uint8_t>('a' + i % 26);
        }
        // Pseudo-header checksum.
        const size_t seg = tcp_len + payload;
        uint32_t s = e.v6 ? sum16(ip + 8, 32) : sum16(ip + 12, 8);
        s += 6 + static_cast<uint32_t>(seg);
        put16(th + 16, fold(sum16(th, seg, s)));
        const auto caplen = static_cast<uint32_t>(l2 + l3 + seg);
        const uint32_t rec[4] = {static_cast<uint32_t>(t_ns / 1'000'000'000), static_cast<uint32_t>(t_ns % 1'000'000'000),
                                 caplen, caplen};
        std::fwrite(rec, sizeof rec, 1, f_);
        std::fwrite(b, caplen, 1, f_);
        ++packets;
        bytes += sizeof rec + caplen;
    }
    uint64_t packets = 0;
    uint64_t bytes = 24;

private:
    std::FILE* f_;
};

}  // namespace

int main(int argc, char** argv) {
    std::string out;
    uint64_t flows = 0;
    double rate = 4e6;
    double v6_share = 0.2;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto next = [&] {
            if (i + 1 >= argc) {
                die("missing value for ", a.c_str());
            }
            return std::string(argv[++i]);
        };
        if (a == "--out") {
            out = next();
        } else if (a == "--flows") {
            flows = std::strtoull(next().c_str(), nullptr, 10);
        } else if (a == "--rate") {
            rate = std::strtod(next().c_str(), nullptr);
        } else if (a == "--ipv6-share") {
            v6_share = std::strtod(next().c_str(), nullptr);
        } else {
            std::fprintf(stderr,
                         "usage: weir_open_flows --out FILE --flows N [--rate PPS (4000000)] [--ipv6-share X (0.2)]\n");
            return a == "-h" || a == "--help" ? 0 : 2;
        }
    }
    if (out.empty() || flows == 0 || flows > 100'000'000 || rate < 1 || v6_share < 0 || v6_share > 1) {
        die("need --out FILE and --flows 1..100000000 (rate >= 1, ipv6-share in 0..1)");
    }
    const auto t0 = std::chrono::steady_clock::now();
    Writer w(out);
    const double step_ns = 1e9 / rate;
    constexpr uint64_t kStartNs = 1'700'000'000'000'000'000ULL;
    double t = 0;  // ns after kStartNs (a double near 1.7e18 would round to 256 ns)
    const auto v6_every = v6_share > 0 ? static_cast<uint64_t>(1.0 / v6_share + 0.5) : 0;
    // Four packets per connection, the two halves of the handshake and the data of a window of
    // connections interleaved so that the table really holds them all at once.
    constexpr uint64_t kWindow = 4096;
    std::vector<Endpoints> open;
    open.reserve(kWindow);
    for (uint64_t base = 0; base < flows; base += kWindow) {
        const uint64_t n = std::min(kWindow, flows - base);
        open.clear();
        for (uint64_t k = 0; k < n; ++k) {
            const uint64_t id = base + k;
            Endpoints e{};
            e.v6 = v6_every != 0 && id % v6_every == 0;
            const auto host = static_cast<uint32_t>(id / 50000);  // 50000 ports per client address
            e.cport = static_cast<uint16_t>(10000 + id % 50000);
            e.sport = 443;
            if (e.v6) {
                e.client[0] = 0xfd;
                put32(e.client + 12, host);
                e.server[0] = 0xfd, e.server[1] = 0x01, e.server[15] = 1;
            } else {
                e.client[0] = 10;
                e.client[1] = static_cast<uint8_t>(host >> 16);
                e.client[2] = static_cast<uint8_t>(host >> 8);
                e.client[3] = static_cast<uint8_t>(host);
                e.server[0] = 192, e.server[1] = 0, e.server[2] = 2, e.server[3] = 1;
            }
            open.push_back(e);
        }
        for (const auto& e : open) {
            w.tcp(kStartNs + static_cast<uint64_t>(t), e, true, 0x02, 1000, 0, 0);
            t += step_ns;
        }
        for (const auto& e : open) {
            w.tcp(kStartNs + static_cast<uint64_t>(t), e, false, 0x12, 5000, 1001, 0);
            t += step_ns;
        }
        for (const auto& e : open) {
            w.tcp(kStartNs + static_cast<uint64_t>(t), e, true, 0x18, 1001, 5001, 100);
            t += step_ns;
        }
        for (const auto& e : open) {
            w.tcp(kStartNs + static_cast<uint64_t>(t), e, false, 0x18, 5001, 1101, 200);
            t += step_ns;
        }
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("weir_open_flows: %s: %llu connections, %llu packets, %llu bytes, %.1f s of packet time, %.2f s\n",
                out.c_str(), static_cast<unsigned long long>(flows), static_cast<unsigned long long>(w.packets),
                static_cast<unsigned long long>(w.bytes), t / 1e9, secs);
    return 0;
}
