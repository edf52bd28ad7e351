// PacketCounter (also PktCounter, PassthroughPacketCounter) — counts packets and bytes.
//
// Invocation: direct or indirect.
// Params: rate.period  how often pktrate/byterate are recomputed, on the composition's clock
//                      (default 1s)
// Gates: in  in_pkt (alias in_counter): PacketBatch
//        out out_pkt: PacketBatch — the same batches, forwarded unchanged (optional)
// Variables: pktcnt (packets), bytecnt (wire bytes), pktrate (packets/s), byterate (bytes/s),
//   reset (control: write anything to zero the counts; applied on the block's own thread).
#pragma once

#include <weir/block.hpp>
#include <weir/packet.hpp>

namespace weir::blocks {

class PacketCounter final : public Block {
public:
    explicit PacketCounter(BlockSetup& s);
    void receive(InputId gate, const Message& msg) override;
    void on_timer(TimerId timer, int64_t now_ns) override;

private:
    void apply_reset();

    InputId in_ = 0;
    OutputId out_ = 0;
    Counter pktcnt_;
    Counter bytecnt_;
    Gauge pktrate_;
    Gauge byterate_;
    std::atomic<bool> reset_requested_{false};
    uint64_t last_pkts_ = 0;
    uint64_t last_bytes_ = 0;
    int64_t last_time_ns_ = 0;
};

}  // namespace weir::blocks
