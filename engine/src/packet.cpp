#include <weir/packet.hpp>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace weir {

PacketBatch::PacketBatch(BatchPool* pool, uint32_t capacity, std::size_t arena_bytes)
    : Message(&MessageTraits<PacketBatch>::type, &PacketBatch::recycle),
      pool_(pool),
      capacity_(std::min(capacity, kMaxPackets)),
      arena_capacity_(arena_bytes),
      arena_(arena_bytes > 0 ? new uint8_t[arena_bytes] : nullptr),
      handles_{} {}

bool PacketBatch::append_copy(const uint8_t* data, uint32_t caplen, uint32_t wirelen,
                              int64_t ts_ns, uint16_t linktype) noexcept {
    if (caplen > arena_capacity_ - arena_used_ || count_ == capacity_) {
        return false;
    }
    uint8_t* dst = arena_.get() + arena_used_;
    std::memcpy(dst, data, caplen);
    // Keep every copy 8-byte aligned so decoders may read headers with aligned loads.
    arena_used_ += (static_cast<std::size_t>(caplen) + 7U) & ~std::size_t{7};
    arena_used_ = std::min(arena_used_, arena_capacity_);
    PacketView& v = append();
    v.data = dst;
    v.caplen = caplen;
    v.wirelen = wirelen;
    v.ts_ns = ts_ns;
    v.linktype = linktype;
    return true;
}

void PacketBatch::recycle(Message* m) noexcept {
    auto* b = static_cast<PacketBatch*>(m);
    b->pool_->give_back(b);
}

BatchPool::BatchPool(uint32_t batch_size, std::size_t arena_bytes, std::size_t max_batches,
                     ReleaseHook hook, void* hook_ctx)
    : batch_size_(std::clamp<uint32_t>(batch_size, 1, PacketBatch::kMaxPackets)),
      arena_bytes_(arena_bytes),
      max_batches_(std::max<std::size_t>(max_batches, 2)),
      hook_(hook),
      hook_ctx_(hook_ctx) {
    all_.reserve(max_batches_);
}

BatchPool::~BatchPool() {
    // Every batch must be back by now (the engine drains rings before destroying blocks).
    // A batch still referenced (a holder outlived its source) is leaked rather than freed under it.
    for (PacketBatch* b : all_) {
        if (b->refs() == 0) {
            delete b;
        }
    }
}

PacketBatch* BatchPool::acquire() {
    if (local_ == nullptr) {
        local_ = returned_.exchange(nullptr, std::memory_order_acquire);
    }
    PacketBatch* b = local_;
    if (b != nullptr) {
        local_ = b->next_free_;
        free_count_.fetch_sub(1, std::memory_order_relaxed);
        b->prefetch_for_write();
        b->clear();
        b->reset_refs();
        return b;
    }
    if (all_.size() < max_batches_) {
        b = new PacketBatch(this, batch_size_, arena_bytes_);
        all_.push_back(b);
        allocated_.fetch_add(1, std::memory_order_relaxed);
        return b;
    }
    return nullptr;
}

std::size_t BatchPool::in_flight() const noexcept {
    return allocated_.load(std::memory_order_relaxed) - free_count_.load(std::memory_order_relaxed);
}

void BatchPool::give_back(PacketBatch* b) noexcept {
    if (hook_ != nullptr) {
        hook_(*b, hook_ctx_);
    }
    b->clear();
    free_count_.fetch_add(1, std::memory_order_relaxed);
    // refs is now 0: the destructor knows this batch is free.
    PacketBatch* head = returned_.load(std::memory_order_relaxed);
    do {
        b->next_free_ = head;
    } while (!returned_.compare_exchange_weak(head, b, std::memory_order_release, std::memory_order_relaxed));
}

}  // namespace weir
