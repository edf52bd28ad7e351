// Microbenchmarks of the engine's moving parts (Google Benchmark).
//   build/bench/weir_micro_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <weir/engine.hpp>
#include <weir/packet.hpp>
#include <weir/registry.hpp>
#include <weir/ring.hpp>

#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <thread>

namespace {

void pin(int core) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core % static_cast<int>(std::thread::hardware_concurrency()), &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// A batch of 32 packet views crosses from a thread pinned to core 0 to one pinned to core 1
// through an SpscRing; the consumer reads every view and hands the batch back to its pool.
void BM_RingHopPinned(benchmark::State& state) {
    constexpr uint32_t kBatch = 32;
    weir::BatchPool pool(kBatch, 0, 1024);
    weir::SpscRing<const weir::Message*> ring(256);
    std::atomic<bool> done{false};
    std::atomic<uint64_t> consumed{0};
    static const uint8_t payload[64] = {};
    std::thread consumer([&] {
        pin(1);
        uint64_t bytes = 0;
        uint64_t n = 0;
        const weir::Message* m = nullptr;
        while (!done.load(std::memory_order_relaxed) || !ring.empty()) {
            if (ring.try_pop(m)) {
                const auto& b = static_cast<const weir::PacketBatch&>(*m);
                for (const auto& p : b) {
                    bytes += p.wirelen;
                }
                n += b.size();
                m->release();
            }
        }
        benchmark::DoNotOptimize(bytes);
        consumed.store(n);
    });
    pin(0);
    uint64_t produced = 0;
    for (auto _ : state) {
        weir::PacketBatch* b = nullptr;
        while ((b = pool.acquire()) == nullptr) {
        }
        for (uint32_t i = 0; i < kBatch; ++i) {
            weir::PacketView& v = b->append();
            v.data = payload;
            v.caplen = 64;
            v.wirelen = 64;
            v.ts_ns = static_cast<int64_t>(produced + i);
        }
        while (!ring.try_push(b)) {
        }
        produced += kBatch;
    }
    done.store(true);
    consumer.join();
    if (consumed.load() != produced) {
        state.SkipWithError("lost packets");
    }
    state.SetItemsProcessed(static_cast<int64_t>(produced));
    state.counters["ns_per_packet"] = benchmark::Counter(static_cast<double>(produced) * 1e-9,
                                                         benchmark::Counter::kIsRate |
                                                             benchmark::Counter::kInvert);
}
BENCHMARK(BM_RingHopPinned)->UseRealTime()->MinTime(1.0);

// Emits the same batch `count` times: the cost of a direct gate call measured through the engine
// (run() call, emit, the callee's receive) with nothing else in the way.
class RepeatSource final : public weir::Block {
public:
    explicit RepeatSource(weir::BlockSetup& s) : Block(s) {
        count_ = s.param<uint64_t>("repeat.count", 1000000, "batches to emit");
        out_ = s.output<weir::PacketBatch>("out", "the same batch again and again");
    }
    void start() override {
        pool_ = std::make_unique<weir::BatchPool>(32, 0, 2);
        batch_ = pool_->acquire();
        static const uint8_t payload[64] = {};
        for (int i = 0; i < 32; ++i) {
            weir::PacketView& v = batch_->append();
            v.data = payload;
            v.caplen = 64;
            v.wirelen = 64;
        }
    }
    RunResult run() override {
        for (int i = 0; i < 64 && sent_ < count_; ++i, ++sent_) {
            emit(out_, *batch_);
        }
        return sent_ < count_ ? RunResult::kBusy : RunResult::kDone;
    }
    void flush() override { batch_->release(); }

private:
    uint64_t count_ = 0;
    uint64_t sent_ = 0;
    weir::OutputId out_ = 0;
    std::unique_ptr<weir::BatchPool> pool_;
    weir::PacketBatch* batch_ = nullptr;
};

void BM_DirectGateCall(benchmark::State& state) {
    const int hops = static_cast<int>(state.range(0));
    constexpr uint64_t kBatches = 2'000'000;
    std::string xml =
        "<composition id=\"b\"><install><threadpool id=\"p\" num_threads=\"1\"><core number=\"0\"/></threadpool>"
        "<block id=\"src\" type=\"BenchRepeatSource\" threadpool=\"p\"><params><repeat count=\"" +
        std::to_string(kBatches) + "\"/></params></block>";
    std::string prev = "src";
    std::string prev_gate = "out";
    for (int i = 0; i < hops - 1; ++i) {
        const std::string id = "c" + std::to_string(i);
        xml += "<block id=\"" + id + "\" type=\"PacketCounter\"/><connection src_block=\"" + prev +
               "\" src_gate=\"" + prev_gate + "\" dst_block=\"" + id + "\" dst_gate=\"in_pkt\"/>";
        prev = id;
        prev_gate = "out_pkt";
    }
    xml += "<block id=\"sink\" type=\"Null\"/><connection src_block=\"" + prev + "\" src_gate=\"" + prev_gate +
           "\" dst_block=\"sink\" dst_gate=\"in_msg\"/></install></composition>";
    uint64_t batches = 0;
    for (auto _ : state) {
        auto e = weir::Engine::load_string(xml, "bench.xml");
        e->start();
        e->launch();
        e->wait();
        batches += kBatches;
    }
    state.SetItemsProcessed(static_cast<int64_t>(batches));
    state.counters["ns_per_batch"] =
        benchmark::Counter(static_cast<double>(batches) * 1e-9, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.counters["ns_per_packet"] = benchmark::Counter(static_cast<double>(batches) * 32 * 1e-9,
                                                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_DirectGateCall)->Arg(1)->Arg(2)->Arg(4)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

WEIR_REGISTER_BLOCK(RepeatSource, "BenchRepeatSource", weir::Invocation::kAsync,
                    "bench: emits one batch again and again")

BENCHMARK_MAIN();
