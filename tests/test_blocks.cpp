// Blocks that exist only in the test binary: a numbered packet source, a checker that verifies
// order and completeness, a block that throws, and a source of a second message type.
#include "test_blocks.hpp"

#include <weir/registry.hpp>
#include <flow/flow_table.hpp>
#include <proto/decode.hpp>

#include <stdexcept>

namespace weir::testing {

std::atomic<uint64_t> SeqChecker::total_received{0};

SeqSource::SeqSource(BlockSetup& s) : Block(s) {
    count_ = s.param<uint64_t>("seq.count", 1000, "packets to emit");
    batch_ = s.param<uint32_t>("seq.batch", 32, "packets per batch");
    max_batches_ = s.param<uint32_t>("seq.max_batches", 4096, "batches in flight at most");
    step_ns_ = s.param<int64_t>("seq.step_ns", 1000, "packet time between packets");
    endless_ = s.param<bool>("seq.endless", false, "ignore count; run until stopped");
    out_ = s.output<PacketBatch>("out", "numbered packets: ts_ns = (seq + 1) * step_ns");
    s.counter("sent", sent_, "packets", "packets emitted");
}

void SeqSource::start() { pool_ = std::make_unique<BatchPool>(batch_, 0, max_batches_); }

Block::RunResult SeqSource::run() {
    if (!endless_ && next_ >= count_) {
        return RunResult::kDone;
    }
    PacketBatch* b = pool_->acquire();
    if (b == nullptr) {
        return RunResult::kIdle;
    }
    while (!b->full() && (endless_ || next_ < count_)) {
        PacketView& v = b->append();
        v.data = payload_;
        v.caplen = sizeof payload_;
        v.wirelen = 60;
        v.ts_ns = static_cast<int64_t>(next_ + 1) * step_ns_;
        ++next_;
    }
    b->set_time_ns((*b)[b->size() - 1].ts_ns);
    advance_clock(b->time_ns());
    sent_.add(b->size());
    emit(out_, *b);
    b->release();
    return RunResult::kBusy;
}

SeqChecker::SeqChecker(BlockSetup& s) : Block(s) {
    step_ns_ = s.param<int64_t>("seq.step_ns", 1000, "packet time between packets");
    work_ = s.param<uint32_t>("seq.work", 0, "busy-loop iterations per packet (a slow consumer)");
    in_ = s.input<PacketBatch>("in", "numbered packets");
    s.counter("received", received_, "packets", "packets received");
    s.counter("out_of_order", out_of_order_, "packets", "packets whose number did not increase");
    s.counter("gaps", gaps_, "times", "times a number was skipped");
    s.counter("flushed", flushed_, "times", "flush() calls");
    s.counter("timer_ticks", ticks_, "times", "timer firings");
    s.periodic_timer("tick", s.duration_ns("tick.period", "1ms", "timer period"), "counts ticks");
}

void SeqChecker::receive(InputId, const Message& m) {
    const auto& b = static_cast<const PacketBatch&>(m);
    for (const auto& p : b) {
        const uint64_t seq = static_cast<uint64_t>(p.ts_ns / step_ns_);
        if (seq <= last_) {
            out_of_order_.add(1);
        } else if (seq != last_ + 1) {
            gaps_.add(1);
        }
        last_ = seq;
        for (uint32_t i = 0; i < work_; ++i) {
            asm volatile("" ::: "memory");  // a slow consumer the optimiser cannot remove
        }
    }
    received_.add(b.size());
    total_received.fetch_add(b.size());
}

void SeqChecker::on_timer(TimerId, int64_t) { ticks_.add(1); }

void SeqChecker::flush() { flushed_.add(1); }

Thrower::Thrower(BlockSetup& s) : Block(s) {
    after_ = s.param<uint64_t>("throw.after", 0, "packets to accept before throwing");
    where_ = s.choice("throw.where", "receive", {"receive", "flush", "start"}, "where to throw");
    s.input<PacketBatch>("in", "packets");
    s.counter("received", received_, "packets", "packets received before failing");
}

void Thrower::start() {
    if (where_ == "start") {
        throw std::runtime_error("cannot open the frobnicator");
    }
}

void Thrower::receive(InputId, const Message& m) {
    const auto& b = static_cast<const PacketBatch&>(m);
    if (where_ == "receive" && received_.get() + b.size() > after_) {
        throw std::runtime_error("deliberate failure after " + std::to_string(received_.get()) + " packets");
    }
    received_.add(b.size());
}

void Thrower::flush() {
    if (where_ == "flush") {
        throw std::runtime_error("deliberate failure in flush");
    }
}

Digest::Digest(BlockSetup& s) : Block(s) {
    s.input<PacketBatch>("in", "packets");
    s.counter("digest", digest_, "", "FNV-1a of every packet's fields and bytes, in order");
    s.counter("packets", packets_, "packets", "packets seen");
    s.counter("capbytes", capbytes_, "bytes", "captured bytes seen");
}

void Digest::receive(InputId, const Message& m) {
    const auto mix = [this](const void* p, std::size_t n) {
        const auto* b = static_cast<const uint8_t*>(p);
        for (std::size_t i = 0; i < n; ++i) {
            h_ = (h_ ^ b[i]) * 1099511628211ULL;
        }
    };
    for (const auto& p : static_cast<const PacketBatch&>(m)) {
        mix(&p.ts_ns, sizeof p.ts_ns);
        mix(&p.caplen, sizeof p.caplen);
        mix(&p.wirelen, sizeof p.wirelen);
        mix(&p.linktype, sizeof p.linktype);
        mix(p.data, p.caplen);
        packets_.add(1);
        capbytes_.add(p.caplen);
    }
    digest_.set(h_);
}

std::mutex FlowCollector::mutex_;
std::vector<flow::FlowRecord> FlowCollector::records_;

FlowCollector::FlowCollector(BlockSetup& s) : Block(s) {
    s.input<flow::FlowBatch>("in", "finished flows");
}

void FlowCollector::receive(InputId, const Message& m) {
    std::lock_guard<std::mutex> g(mutex_);
    for (const auto& r : static_cast<const flow::FlowBatch&>(m)) {
        records_.push_back(r);
    }
}

std::vector<flow::FlowRecord> FlowCollector::take() {
    std::lock_guard<std::mutex> g(mutex_);
    return std::move(records_);
}

std::mutex Affinity::mutex_;
std::map<std::string, int> Affinity::owner_;
uint64_t Affinity::conflicts_ = 0;

Affinity::Affinity(BlockSetup& s) : Block(s) {
    replica_ = s.param<int>("affinity.replica", 0, "which replica this is");
    s.input<PacketBatch>("in", "packets of one replica");
    s.counter("packets", packets_, "packets", "packets seen");
}

void Affinity::receive(InputId, const Message& m) {
    std::lock_guard<std::mutex> g(mutex_);
    for (const auto& p : static_cast<const PacketBatch&>(m)) {
        proto::Decoded d;
        if (proto::decode(p.data, p.caplen, p.linktype, d) != proto::Verdict::kOk || d.fragment) {
            continue;
        }
        bool lo = false;
        const auto k = flow::make_key(d.ip_version, d.l4_proto, d.src, d.sport, d.dst, d.dport, lo);
        const std::string key(reinterpret_cast<const char*>(&k), sizeof k);
        const auto [it, fresh] = owner_.emplace(key, replica_);
        if (!fresh && it->second != replica_) {
            ++conflicts_;
        }
    }
    packets_.add(static_cast<const PacketBatch&>(m).size());
}

void Affinity::reset() {
    std::lock_guard<std::mutex> g(mutex_);
    owner_.clear();
    conflicts_ = 0;
}

uint64_t Affinity::conflicts() {
    std::lock_guard<std::mutex> g(mutex_);
    return conflicts_;
}

std::size_t Affinity::tuples() {
    std::lock_guard<std::mutex> g(mutex_);
    return owner_.size();
}

RecordSource::RecordSource(BlockSetup& s) : Block(s) {
    s.output<TestRecord>("records", "test records");
}

}  // namespace weir::testing

WEIR_REGISTER_BLOCK(weir::testing::SeqSource, "TestSeqSource", weir::Invocation::kAsync,
                    "test: numbered packets")
WEIR_REGISTER_BLOCK(weir::testing::SeqChecker, "TestSeqChecker",
                    weir::Invocation::kDirect | weir::Invocation::kIndirect,
                    "test: checks numbered packets arrive in order, once")
WEIR_REGISTER_BLOCK(weir::testing::Thrower, "TestThrower",
                    weir::Invocation::kDirect | weir::Invocation::kIndirect, "test: throws")
WEIR_REGISTER_BLOCK(weir::testing::Digest, "TestDigest",
                    weir::Invocation::kDirect | weir::Invocation::kIndirect, "test: digest of packets")
WEIR_REGISTER_BLOCK(weir::testing::FlowCollector, "TestFlowCollector",
                    weir::Invocation::kDirect | weir::Invocation::kIndirect, "test: keeps finished flows")
WEIR_REGISTER_BLOCK(weir::testing::Affinity, "TestAffinity",
                    weir::Invocation::kDirect | weir::Invocation::kIndirect, "test: checks flow affinity of replicas")
WEIR_REGISTER_BLOCK(weir::testing::RecordSource, "TestRecordSource", weir::Invocation::kAsync,
                    "test: emits nothing, declares a TestRecord output")
