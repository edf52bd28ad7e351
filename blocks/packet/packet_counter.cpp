#include "packet_counter.hpp"

#include <weir/registry.hpp>

namespace weir::blocks {

PacketCounter::PacketCounter(BlockSetup& s) : Block(s) {
    const int64_t period = s.duration_ns("rate.period", "1s",
                                         "how often pktrate and byterate are recomputed");
    in_ = s.input<PacketBatch>("in_pkt", "packets to count", true, {"in_counter"});
    out_ = s.output<PacketBatch>("out_pkt", "the same batches, forwarded unchanged");
    s.counter("pktcnt", pktcnt_, "packets", "packets counted since start or reset");
    s.counter("bytecnt", bytecnt_, "bytes", "wire bytes counted since start or reset");
    s.gauge("pktrate", [this] { return VarValue{pktrate_.get()}; }, "packets/s",
            "packet rate over the last rate.period");
    s.gauge("byterate", [this] { return VarValue{byterate_.get()}; }, "bytes/s",
            "byte rate over the last rate.period");
    s.control(
        "reset", [this](std::string_view) { reset_requested_.store(true); },
        "write any value to zero pktcnt and bytecnt (applied on the block's thread)");
    s.periodic_timer("rate", period, "recomputes pktrate and byterate");
}

void PacketCounter::apply_reset() {
    if (reset_requested_.exchange(false, std::memory_order_acquire)) {
        pktcnt_.set(0);
        bytecnt_.set(0);
        last_pkts_ = 0;
        last_bytes_ = 0;
    }
}

void PacketCounter::receive(InputId, const Message& msg) {
    const auto& batch = static_cast<const PacketBatch&>(msg);  // the loader checked the type
    if (reset_requested_.load(std::memory_order_relaxed)) {
        apply_reset();
    }
    pktcnt_.add(batch.size());
    bytecnt_.add(batch.wire_bytes());
    emit(out_, msg);
}

void PacketCounter::on_timer(TimerId, int64_t now_ns) {
    apply_reset();
    const uint64_t p = pktcnt_.get();
    const uint64_t b = bytecnt_.get();
    if (last_time_ns_ != 0 && now_ns > last_time_ns_) {
        const double secs = static_cast<double>(now_ns - last_time_ns_) / 1e9;
        pktrate_.set(static_cast<double>(p - last_pkts_) / secs);
        byterate_.set(static_cast<double>(b - last_bytes_) / secs);
    }
    last_pkts_ = p;
    last_bytes_ = b;
    last_time_ns_ = now_ns;
}

}  // namespace weir::blocks

WEIR_REGISTER_BLOCK(weir::blocks::PacketCounter, "PacketCounter",
                    weir::Invocation::kDirect | weir::Invocation::kIndirect,
                    "counts packets and bytes, with rates; forwards the packets",
                    "PktCounter", "PassthroughPacketCounter")
