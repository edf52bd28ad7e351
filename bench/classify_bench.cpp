// Cost of payload classification: Classifier::classify() over every payload packet of the
// shipped captures, flow by flow as FlowMeter would call it (skipping flows already done()).
//   build/bench/weir_classify_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
// Counters: calls = classify() calls per pass, packets = payload packets per pass; the time per
// item is per classify() call (BM_ClassifyCalls) or per payload packet offered (BM_ClassifyPackets).
// Each pass starts cold, as the first sight of these flows would: a new Classifier (so no QUIC
// Initial keys cached) and no remembered JA3/JA4 digests; that setup is not timed.
#include <classify/classifier.hpp>
#include <classify/crypto.hpp>
#include <proto/decode.hpp>

#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

struct PayloadPacket {
    uint32_t flow;
    int direction;
    uint32_t seq;
    std::vector<uint8_t> payload;
};

struct Workload {
    std::vector<PayloadPacket> packets;
    std::vector<uint8_t> proto;  // per flow
    std::vector<uint16_t> client_port, server_port;
};

const Workload& workload() {
    static const Workload w = [] {
        Workload out;
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
            std::map<std::string, std::pair<uint32_t, std::string>> flows;  // key -> (index, client)
            pcap_pkthdr* h = nullptr;
            const u_char* d = nullptr;
            while (pcap_next_ex(p, &h, &d) == 1) {
                weir::proto::Decoded dec;
                if (weir::proto::decode(d, h->caplen, static_cast<uint16_t>(pcap_datalink(p)), dec) != weir::proto::Verdict::kOk ||
                    (dec.l4_proto != IPPROTO_TCP && dec.l4_proto != IPPROTO_UDP)) {
                    continue;
                }
                char a[64], b[64];
                inet_ntop(dec.ip_version == 4 ? AF_INET : AF_INET6, dec.src.data(), a, sizeof a);
                inet_ntop(dec.ip_version == 4 ? AF_INET : AF_INET6, dec.dst.data(), b, sizeof b);
                const std::string sa = std::string(a) + " " + std::to_string(dec.sport);
                const std::string sb = std::string(b) + " " + std::to_string(dec.dport);
                const std::string key = std::to_string(dec.l4_proto) + std::min(sa, sb) + "|" + std::max(sa, sb);
                auto it = flows.find(key);
                if (it == flows.end()) {
                    const bool syn_ack = dec.l4_proto == IPPROTO_TCP && (dec.tcp_flags & 0x12) == 0x12;
                    it = flows.emplace(key, std::make_pair(static_cast<uint32_t>(out.proto.size()), syn_ack ? sb : sa)).first;
                    out.proto.push_back(dec.l4_proto);
                    out.client_port.push_back(syn_ack ? dec.dport : dec.sport);
                    out.server_port.push_back(syn_ack ? dec.sport : dec.dport);
                }
                if (dec.payload_captured == 0) {
                    continue;
                }
                out.packets.push_back({it->second.first, sa == it->second.second ? 0 : 1, dec.seq,
                                       std::vector<uint8_t>(d + dec.payload_offset, d + dec.payload_offset + dec.payload_captured)});
            }
            pcap_close(p);
        }
        return out;
    }();
    return w;
}

// A fresh classifier and digest table before a pass, outside the timing.
void start_cold(benchmark::State& state, std::unique_ptr<weir::classify::Classifier>& clf) {
    state.PauseTiming();
    clf = std::make_unique<weir::classify::Classifier>(1024);
    weir::classify::crypto::forget_remembered_digests();
    state.ResumeTiming();
}

// One pass: every flow classified from scratch. Returns classify() calls made.
uint64_t pass(weir::classify::Classifier& clf, std::vector<weir::classify::ClassifierState>& states, const Workload& w) {
    for (size_t i = 0; i < states.size(); ++i) {
        weir::classify::Classifier::init(states[i], w.proto[i], w.client_port[i], w.server_port[i]);
    }
    uint64_t calls = 0;
    for (const auto& p : w.packets) {
        auto& s = states[p.flow];
        if (!s.done()) {
            clf.classify(s, p.direction, p.payload.data(), p.payload.size(), p.seq);
            ++calls;
        }
    }
    for (auto& s : states) {
        clf.finish(s);
    }
    return calls;
}

void BM_ClassifyCalls(benchmark::State& state) {
    const Workload& w = workload();
    std::unique_ptr<weir::classify::Classifier> clf;
    std::vector<weir::classify::ClassifierState> states(w.proto.size());
    uint64_t calls = 0;
    for (auto _ : state) {
        start_cold(state, clf);
        calls += pass(*clf, states, w);
    }
    state.SetItemsProcessed(static_cast<int64_t>(calls));
    state.counters["calls"] = static_cast<double>(calls) / static_cast<double>(state.iterations());
    state.counters["packets"] = static_cast<double>(w.packets.size());
    state.counters["flows"] = static_cast<double>(w.proto.size());
}
BENCHMARK(BM_ClassifyCalls);

void BM_ClassifyPackets(benchmark::State& state) {
    const Workload& w = workload();
    std::unique_ptr<weir::classify::Classifier> clf;
    std::vector<weir::classify::ClassifierState> states(w.proto.size());
    for (auto _ : state) {
        start_cold(state, clf);
        benchmark::DoNotOptimize(pass(*clf, states, w));
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(w.packets.size()));
}
BENCHMARK(BM_ClassifyPackets);

}  // namespace

BENCHMARK_MAIN();
