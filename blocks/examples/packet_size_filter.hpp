// PacketSizeFilter — forwards only packets whose wire length is within [size.min, size.max].
// The worked example of docs/block-api.md: that page shows this file and the .cpp verbatim.
//
// Invocation: direct or indirect.
// Params: size.min, size.max (bytes, wire length), pool.max_batches.
// Gates: in in_pkt: PacketBatch; out out_pkt: PacketBatch.
// Variables: passed, filtered, no_batch (packets); max (control: read/write size.max).
#pragma once

#include <weir/block.hpp>
#include <weir/packet.hpp>

#include <atomic>
#include <cstdint>
#include <memory>

namespace weir::blocks {

class PacketSizeFilter final : public Block {
public:
    explicit PacketSizeFilter(BlockSetup& s);
    void start() override;
    void receive(InputId gate, const Message& msg) override;

private:
    // The pool's release hook: drops the references the views held on their source batch.
    static void release_views(PacketBatch& batch, void* ctx) noexcept;

    InputId in_ = 0;
    OutputId out_ = 0;
    uint32_t min_ = 0;
    std::atomic<uint32_t> max_{0};  // written by the `max` control from another thread
    uint32_t max_batches_ = 0;
    std::unique_ptr<BatchPool> pool_;
    Counter passed_;
    Counter filtered_;
    Counter no_batch_;
};

}  // namespace weir::blocks
