// End-to-end throughput against a capture file, all cases interleaved in one run, medians reported.
//
//   build/bench/weir_e2e_bench --make-trace /tmp/weir-bench.pcap --packets 2000000
//   build/bench/weir_e2e_bench --trace /tmp/weir-bench.pcap --runs 7
//
// Cases: a bare libpcap pcap_next_ex loop (the floor every tool pays), then the engine reading
// the same file with PcapSource and counting with PacketCounter, in the same thread (direct) and
// across a lossless ring to another core, with the zero-copy mapped reader and with libpcap.
#include <weir/engine.hpp>
#include <weir/registry.hpp>

#include <pcap/pcap.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Result {
    uint64_t packets = 0;
    uint64_t bytes = 0;
    double seconds = 0;
};

Result bare_libpcap(const std::string& file) {
    char err[PCAP_ERRBUF_SIZE];
    const auto t0 = std::chrono::steady_clock::now();
    pcap_t* p = pcap_open_offline_with_tstamp_precision(file.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
    if (p == nullptr) {
        throw std::runtime_error(err);
    }
    Result r;
    pcap_pkthdr* h = nullptr;
    const u_char* d = nullptr;
    while (pcap_next_ex(p, &h, &d) == 1) {
        ++r.packets;
        r.bytes += h->len;
    }
    pcap_close(p);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

Result engine_run(const std::string& file, const std::string& reader, bool ring) {
    const int cores = static_cast<int>(std::thread::hardware_concurrency());
    const std::string xml =
        "<composition id=\"bench\"><general><clock type=\"packet\"/></general><install>"
        "<threadpool id=\"src\" num_threads=\"1\"><core number=\"0\"/></threadpool>"
        "<threadpool id=\"ctr\" num_threads=\"1\"><core number=\"" + std::to_string(cores > 1 ? 1 : 0) +
        "\"/></threadpool>"
        "<block id=\"src\" type=\"PcapSource\" threadpool=\"src\"><params><source type=\"trace\" name=\"" + file +
        "\" reader=\"" + reader + "\"/></params></block>"
        "<block id=\"ctr\" type=\"PacketCounter\"" + (ring ? " invocation=\"indirect\" threadpool=\"ctr\"" : "") +
        "/><connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"ctr\" dst_gate=\"in_pkt\" policy=\"block\"/>"
        "</install></composition>";
    const auto t0 = std::chrono::steady_clock::now();
    auto e = weir::Engine::load_string(xml, "bench.xml");
    e->start();
    e->launch();
    e->wait();
    Result r;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.packets = std::get<uint64_t>(*e->read_variable("ctr", "pktcnt"));
    r.bytes = std::get<uint64_t>(*e->read_variable("ctr", "bytecnt"));
    if (e->exit_code() != 0) {
        throw std::runtime_error("engine run failed");
    }
    return r;
}

// Writes `packets` Ethernet packets taken in turn from the classic pcap captures in `dir`, with
// timestamps 1 µs apart, so every machine can rebuild the same trace.
void make_trace(const std::string& dir, const std::string& out, uint64_t packets) {
    struct Packet {
        std::vector<u_char> data;
        uint32_t len;
    };
    std::vector<Packet> pool;
    std::vector<std::string> files;
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
        if (f.path().extension() == ".pcap") {
            files.push_back(f.path().string());
        }
    }
    std::sort(files.begin(), files.end());
    char err[PCAP_ERRBUF_SIZE];
    for (const auto& f : files) {
        pcap_t* p = pcap_open_offline(f.c_str(), err);
        if (p == nullptr || pcap_datalink(p) != DLT_EN10MB) {
            if (p != nullptr) {
                pcap_close(p);
            }
            continue;
        }
        pcap_pkthdr* h = nullptr;
        const u_char* d = nullptr;
        while (pcap_next_ex(p, &h, &d) == 1) {
            pool.push_back({std::vector<u_char>(d, d + h->caplen), h->len});
        }
        pcap_close(p);
    }
    if (pool.empty()) {
        throw std::runtime_error("no Ethernet pcap files in " + dir);
    }
    pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t* dump = pcap_dump_open(dead, out.c_str());
    if (dump == nullptr) {
        throw std::runtime_error(pcap_geterr(dead));
    }
    uint64_t bytes = 0;
    for (uint64_t i = 0; i < packets; ++i) {
        const Packet& pk = pool[i % pool.size()];
        pcap_pkthdr h{};
        h.ts.tv_sec = static_cast<time_t>(1'700'000'000 + i / 1'000'000);
        h.ts.tv_usec = static_cast<suseconds_t>(i % 1'000'000);
        h.caplen = static_cast<bpf_u_int32>(pk.data.size());
        h.len = pk.len;
        pcap_dump(reinterpret_cast<u_char*>(dump), &h, pk.data.data());
        bytes += pk.len;
    }
    pcap_dump_close(dump);
    pcap_close(dead);
    std::printf("wrote %s: %llu packets from %zu distinct ones, %.1f MB of packets (mean %.0f B)\n", out.c_str(),
                static_cast<unsigned long long>(packets), pool.size(), static_cast<double>(bytes) / 1e6,
                static_cast<double>(bytes) / static_cast<double>(packets));
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string trace = "/tmp/weir-bench.pcap";
    std::string make;
    uint64_t packets = 2'000'000;
    int runs = 5;
    std::string pcaps = std::string(WEIR_SOURCE_ROOT) + "/tests/pcaps";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--trace") {
            trace = next();
        } else if (a == "--make-trace") {
            make = next();
        } else if (a == "--packets") {
            packets = std::stoull(next());
        } else if (a == "--runs") {
            runs = std::stoi(next());
        } else {
            std::fprintf(stderr, "usage: %s [--make-trace FILE --packets N] [--trace FILE] [--runs N]\n", argv[0]);
            return 2;
        }
    }
    try {
        if (!make.empty()) {
            make_trace(pcaps, make, packets);
            return 0;
        }
        if (!std::filesystem::exists(trace)) {
            make_trace(pcaps, trace, packets);
        }
        struct Case {
            std::string name;
            std::function<Result()> run;
        };
        const std::vector<Case> cases = {
            {"bare libpcap pcap_next_ex loop", [&] { return bare_libpcap(trace); }},
            {"engine direct, mapped reader", [&] { return engine_run(trace, "auto", false); }},
            {"engine ring (block) to core 1, mapped reader", [&] { return engine_run(trace, "auto", true); }},
            {"engine direct, libpcap reader", [&] { return engine_run(trace, "libpcap", false); }},
            {"engine ring (block) to core 1, libpcap reader", [&] { return engine_run(trace, "libpcap", true); }},
        };
        std::map<std::string, std::vector<double>> mpps;
        uint64_t expected = 0;
        bare_libpcap(trace);  // warm the page cache
        for (int r = 0; r < runs; ++r) {
            for (const auto& c : cases) {
                const Result res = c.run();
                if (expected == 0) {
                    expected = res.packets;
                }
                if (res.packets != expected) {
                    std::fprintf(stderr, "%s counted %llu packets, expected %llu\n", c.name.c_str(),
                                 static_cast<unsigned long long>(res.packets),
                                 static_cast<unsigned long long>(expected));
                    return 1;
                }
                mpps[c.name].push_back(static_cast<double>(res.packets) / res.seconds / 1e6);
            }
        }
        const double floor = median(mpps[cases[0].name]);
        std::printf("trace %s: %llu packets, %d runs, all cases counted every packet\n", trace.c_str(),
                    static_cast<unsigned long long>(expected), runs);
        std::printf("%-48s %12s %10s %10s   %s\n", "case", "median Mpps", "ns/packet", "x floor", "every run (Mpps)");
        for (const auto& c : cases) {
            const double m = median(mpps[c.name]);
            std::printf("%-48s %12.2f %10.1f %10.2f  ", c.name.c_str(), m, 1e3 / m, m / floor);
            for (double v : mpps[c.name]) {
                std::printf(" %.2f", v);
            }
            std::printf("\n");
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "weir_e2e_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
