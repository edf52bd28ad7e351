// Microbenchmarks of the flow path: decoding, and flow-table lookups at 1 k, 1 M and 10 M flows.
//   build/bench/weir_flow_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <flow/flow_table.hpp>
#include <proto/decode.hpp>

#include <benchmark/benchmark.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

struct Packet {
    std::vector<uint8_t> bytes;
    uint16_t linktype;
};

// Every packet of the shipped captures, in memory, in file order.
const std::vector<Packet>& captures() {
    static const std::vector<Packet> packets = [] {
        std::vector<Packet> out;
        std::vector<std::string> files;
        for (const auto& e : std::filesystem::directory_iterator(std::string(WEIR_SOURCE_ROOT) + "/tests/pcaps")) {
            const auto ext = e.path().extension().string();
            if (ext == ".pcap" || ext == ".pcapng") {
                files.push_back(e.path().string());
            }
        }
        std::sort(files.begin(), files.end());
        char err[PCAP_ERRBUF_SIZE];
        for (const auto& f : files) {
            pcap_t* p = pcap_open_offline(f.c_str(), err);
            if (p == nullptr) {
                continue;
            }
            pcap_pkthdr* h = nullptr;
            const u_char* d = nullptr;
            while (pcap_next_ex(p, &h, &d) == 1) {
                out.push_back({std::vector<uint8_t>(d, d + h->caplen), static_cast<uint16_t>(pcap_datalink(p))});
            }
            pcap_close(p);
        }
        return out;
    }();
    return packets;
}

void BM_Decode(benchmark::State& state) {
    const auto& pkts = captures();
    uint64_t ok = 0;
    uint64_t n = 0;
    for (auto _ : state) {
        for (const auto& p : pkts) {
            weir::proto::Decoded d;
            ok += weir::proto::decode(p.bytes.data(), static_cast<uint32_t>(p.bytes.size()), p.linktype, d) ==
                  weir::proto::Verdict::kOk;
        }
        n += pkts.size();
    }
    benchmark::DoNotOptimize(ok);
    state.SetItemsProcessed(static_cast<int64_t>(n));
    state.counters["packets"] = static_cast<double>(pkts.size());
}
BENCHMARK(BM_Decode);

weir::flow::CanonicalKey random_key(std::mt19937_64& rng) {
    std::array<uint8_t, 16> a{};
    std::array<uint8_t, 16> b{};
    const uint64_t x = rng();
    const uint64_t y = rng();
    std::memcpy(a.data(), &x, 4);
    std::memcpy(b.data(), &y, 4);
    bool lo = false;
    return weir::flow::make_key(4, 6, a, static_cast<uint16_t>(x >> 32), b, static_cast<uint16_t>(y >> 32), lo);
}

// Lookups of existing flows in a table holding N of them (random keys, random order).
void BM_FlowLookup(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    weir::flow::FlowTable table(n);
    std::mt19937_64 rng(42);
    std::vector<weir::flow::CanonicalKey> keys;
    keys.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
        keys.push_back(random_key(rng));
        table.insert(keys.back(), weir::flow::hash_key(keys.back()));
    }
    std::vector<uint32_t> order(1 << 20);
    for (auto& o : order) {
        o = static_cast<uint32_t>(rng() % n);
    }
    std::size_t i = 0;
    uint64_t found = 0;
    for (auto _ : state) {
        const auto& k = keys[order[i++ & (order.size() - 1)]];
        found += table.find(k, weir::flow::hash_key(k)) != nullptr;
    }
    if (found != static_cast<uint64_t>(state.iterations())) {
        state.SkipWithError("a flow was not found");
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["bytes_per_flow"] = static_cast<double>(table.bytes_reserved()) / n;
}
BENCHMARK(BM_FlowLookup)->Arg(1000)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kNanosecond);

// Insert then erase (a flow's whole life in the table) with N flows resident.
void BM_FlowInsertErase(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    weir::flow::FlowTable table(n + 1);
    std::mt19937_64 rng(7);
    for (uint32_t i = 0; i < n; ++i) {
        const auto k = random_key(rng);
        table.insert(k, weir::flow::hash_key(k));
    }
    for (auto _ : state) {
        const auto k = random_key(rng);
        weir::flow::Flow* f = table.insert(k, weir::flow::hash_key(k));
        table.erase(f);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FlowInsertErase)->Arg(1000)->Arg(1'000'000);

}  // namespace

BENCHMARK_MAIN();
