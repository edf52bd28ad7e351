// FlowDemux — splits packets over N outputs by a symmetric flow hash, so both directions of a
// flow always reach the same output (one FlowMeter replica per output, each on its own core).
//
// Invocation: direct or indirect.
// Params: gates.number   outputs, 1..64 (default 2; Blockmon's RRDemux spells it the same way)
//         pool.max_batches  output batches in flight at most (default 4096)
//         hash.function  rss (default): the symmetric Toeplitz hash a NIC's RSS computes (key
//                        0x6d5a repeated), output = its queue with the default 128-entry
//                        redirection table, so software fan-out and NIC queues agree; weir: the
//                        flow table's own hash (flow::hash_key)
// Gates: in  in_pkt: PacketBatch
//        out out_0 … out_{N-1} (aliases output0 …): PacketBatch — views into the input batches,
//            no copies; an empty batch (a clock marker) goes to every output
// Variables: out_<i> (packets sent to output i), non_ip (packets without an IP 5-tuple, all sent
//   to output 0), no_batch (packets lost because every output batch was in flight).
// Hash input: the innermost IP packet (tunnels unwrapped; a NIC would hash the outer header):
// addresses and TCP/UDP ports; addresses only for other protocols and for fragments.
#pragma once

#include <weir/block.hpp>
#include <weir/packet.hpp>

#include <memory>
#include <vector>

namespace weir::blocks {

class FlowDemux final : public Block {
public:
    static constexpr uint32_t kMaxOutputs = 64;

    explicit FlowDemux(BlockSetup& s);
    void start() override;
    void receive(InputId gate, const Message& msg) override;

    // The output a packet goes to; exposed so tests can check other paths (e.g. RSS) against it.
    static uint32_t output_of(const PacketView& p, uint32_t outputs, bool& is_ip, bool rss = true) noexcept;

private:
    static void release_source(PacketBatch& batch, void*) noexcept;

    uint32_t outputs_ = 2;
    uint32_t max_batches_ = 4096;
    bool rss_ = true;
    std::vector<OutputId> out_;
    std::unique_ptr<BatchPool> pool_;
    std::unique_ptr<Counter[]> sent_;
    Counter non_ip_;
    Counter no_batch_;
    uint8_t target_[PacketBatch::kMaxPackets] = {};
};

}  // namespace weir::blocks
