#include "packet_size_filter.hpp"

#include <weir/registry.hpp>

#include <charconv>
#include <stdexcept>
#include <string>
#include <string_view>

namespace weir::blocks {

PacketSizeFilter::PacketSizeFilter(BlockSetup& s) : Block(s) {
    min_ = s.param<uint32_t>("size.min", 0, "smallest wire length kept, bytes");
    max_.store(s.param<uint32_t>("size.max", 1518, "largest wire length kept, bytes"));
    max_batches_ = s.param<uint32_t>("pool.max_batches", 1024, "output batches in flight at most");
    if (min_ > max_.load()) {
        throw ParamError(s.param_input().line,
                         "block '" + s.id() + "': size.min is larger than size.max");
    }
    in_ = s.input<PacketBatch>("in_pkt", "packets to filter");
    out_ = s.output<PacketBatch>("out_pkt", "packets whose wire length is within [size.min, size.max]");
    s.counter("passed", passed_, "packets", "packets forwarded");
    s.counter("filtered", filtered_, "packets", "packets outside the range, not forwarded");
    s.counter("no_batch", no_batch_, "packets",
              "packets in range lost because every output batch was in flight");
    s.control(
        "max",
        [this](std::string_view v) {
            uint32_t x = 0;
            const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
            if (ec != std::errc() || p != v.data() + v.size() || x < min_) {
                throw std::invalid_argument("max must be an integer >= size.min");
            }
            max_.store(x, std::memory_order_relaxed);  // read by receive() on the block's thread
        },
        "largest wire length kept (starts as size.max); applies from the next batch",
        [this] { return VarValue{static_cast<uint64_t>(max_.load(std::memory_order_relaxed))}; });
}

void PacketSizeFilter::start() {
    // Views only, no arena: the bytes stay where the upstream batch keeps them.
    pool_ = std::make_unique<BatchPool>(PacketBatch::kMaxPackets, 0, max_batches_,
                                        &PacketSizeFilter::release_views, nullptr);
}

void PacketSizeFilter::release_views(PacketBatch& batch, void*) noexcept {
    for (uint32_t i = 0; i < batch.size(); ++i) {
        static_cast<const PacketBatch*>(batch.handle(i))->release();
    }
}

void PacketSizeFilter::receive(InputId, const Message& msg) {
    const auto& in = static_cast<const PacketBatch&>(msg);  // the loader checked the type
    const uint32_t hi = max_.load(std::memory_order_relaxed);
    uint32_t keep = 0;
    for (const PacketView& p : in) {
        keep += (p.wirelen >= min_ && p.wirelen <= hi) ? 1 : 0;
    }
    filtered_.add(in.size() - keep);
    if (keep == in.size()) {
        // Nothing to remove: forward the same batch. This includes empty batches, such as
        // PcapSource's end-of-trace clock marker, so the packet clock downstream still moves.
        passed_.add(keep);
        emit(out_, in);
        return;
    }
    if (keep == 0) {
        return;
    }
    PacketBatch* out = pool_->acquire();
    if (out == nullptr) {
        no_batch_.add(keep);  // downstream holds every batch; count the loss
        return;
    }
    in.retain(keep);  // one reference per view that points into `in`
    for (const PacketView& p : in) {
        if (p.wirelen >= min_ && p.wirelen <= hi) {
            out->append(const_cast<PacketBatch*>(&in)) = p;
        }
    }
    out->set_time_ns(in.time_ns());
    passed_.add(keep);
    emit(out_, *out);
    out->release();  // ours; the last holder's release recycles it and runs release_views
}

}  // namespace weir::blocks

WEIR_REGISTER_BLOCK(weir::blocks::PacketSizeFilter, "PacketSizeFilter",
                    weir::Invocation::kDirect | weir::Invocation::kIndirect,
                    "forwards only packets whose wire length is within a range")
