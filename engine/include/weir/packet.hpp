// Packet batches: the unit that moves between blocks.
//
// A PacketView points into memory owned by whoever captured the packet (a batch-owned copy arena
// for libpcap, an mbuf for DPDK); it is never copied on its way through the graph. A batch returns
// to its BatchPool when the last holder releases it; the pool's release hook gives backend buffers
// back in bulk (rte_pktmbuf_free_bulk for DPDK) before the batch is reused. The engine knows nothing
// of protocols: link type is libpcap's DLT number and the decode offsets are filled by blocks.
#pragma once

#include <weir/message.hpp>
#include <weir/ring.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace weir {

struct PacketView {
    const uint8_t* data = nullptr;
    uint32_t caplen = 0;   // bytes present at data
    uint32_t wirelen = 0;  // bytes on the wire
    int64_t ts_ns = 0;     // capture time, ns since the epoch
    uint16_t linktype = 0; // libpcap DLT_* of data[0]
    // Decode results, written by the first decoding block that owns the batch (issue: flows).
    static constexpr uint16_t kNotDecoded = 0xffff;
    uint16_t l3_offset = kNotDecoded;
    uint16_t l4_offset = kNotDecoded;
    uint16_t payload_offset = kNotDecoded;
    uint32_t flow_hash = 0;
    uint32_t flags = 0;
};

class BatchPool;

class PacketBatch final : public Message {
public:
    static constexpr uint32_t kMaxPackets = 64;

    uint32_t size() const noexcept { return count_; }
    bool empty() const noexcept { return count_ == 0; }
    bool full() const noexcept { return count_ == capacity_; }
    uint32_t capacity() const noexcept { return capacity_; }
    const PacketView& operator[](uint32_t i) const noexcept { return pkts_[i]; }
    PacketView& operator[](uint32_t i) noexcept { return pkts_[i]; }
    const PacketView* begin() const noexcept { return pkts_; }
    const PacketView* end() const noexcept { return pkts_ + count_; }

    uint64_t wire_bytes() const noexcept {
        uint64_t b = 0;
        for (uint32_t i = 0; i < count_; ++i) {
            b += pkts_[i].wirelen;
        }
        return b;
    }

    // Producer API -------------------------------------------------------------------------
    // Appends a view of memory the producer keeps alive until the batch is recycled; `handle` is
    // the backend's buffer (e.g. an rte_mbuf*), passed back to the pool's release hook.
    PacketView& append(void* handle = nullptr) noexcept {
        if (handle != nullptr || has_handles_) {
            handles_[count_] = handle;  // only backends that own buffers pay for this array
            has_handles_ = true;
        }
        pkts_[count_] = PacketView{};
        return pkts_[count_++];
    }
    // Appends a copy of `len` bytes into the batch's arena; false when the arena is full.
    bool append_copy(const uint8_t* data, uint32_t caplen, uint32_t wirelen, int64_t ts_ns,
                     uint16_t linktype) noexcept;
    std::size_t arena_free() const noexcept { return arena_capacity_ - arena_used_; }
    void* handle(uint32_t i) const noexcept { return has_handles_ ? handles_[i] : nullptr; }
    void clear() noexcept {
        count_ = 0;
        arena_used_ = 0;
        has_handles_ = false;
    }
    // Asks for the view lines in exclusive state before they are written: a recycled batch was
    // last read on the consumer's core, and fetching its lines one store at a time would stall.
    void prefetch_for_write() const noexcept {
        for (uint32_t i = 0; i < capacity_; i += 64 / sizeof(PacketView) + 1) {
            __builtin_prefetch(&pkts_[i], 1, 3);
        }
        __builtin_prefetch(&pkts_[capacity_ - 1], 1, 3);
    }
    BatchPool* pool() const noexcept { return pool_; }

private:
    friend class BatchPool;
    PacketBatch(BatchPool* pool, uint32_t capacity, std::size_t arena_bytes);
    ~PacketBatch() = default;
    static void recycle(Message* m) noexcept;

    BatchPool* pool_;
    uint32_t capacity_;
    uint32_t count_ = 0;
    bool has_handles_ = false;
    std::size_t arena_capacity_;
    std::size_t arena_used_ = 0;
    std::unique_ptr<uint8_t[]> arena_;
    PacketBatch* next_free_ = nullptr;  // link in the pool's free stacks
    PacketView pkts_[kMaxPackets];
    void* handles_[kMaxPackets];
};

// A source's supply of batches. acquire() is called by the owning thread only; recycling may
// happen on any thread. Returned batches go on a lock-free stack (many pushers, one taker that
// grabs the whole stack at once, so no ABA): the batch reused next is the one released last,
// whose memory is most likely still in cache.
class BatchPool {
public:
    using ReleaseHook = void (*)(PacketBatch&, void* ctx) noexcept;

    // `batch_size` packets per batch, `arena_bytes` copy space per batch (0 for zero-copy
    // backends), at most `max_batches` batches alive at once.
    BatchPool(uint32_t batch_size, std::size_t arena_bytes, std::size_t max_batches,
              ReleaseHook hook = nullptr, void* hook_ctx = nullptr);
    BatchPool(const BatchPool&) = delete;
    BatchPool& operator=(const BatchPool&) = delete;
    ~BatchPool();

    // A cleared batch with one reference, or nullptr when all max_batches are in flight.
    PacketBatch* acquire();

    std::size_t allocated() const noexcept { return allocated_.load(std::memory_order_relaxed); }
    std::size_t in_flight() const noexcept;
    uint32_t batch_size() const noexcept { return batch_size_; }

private:
    friend class PacketBatch;
    void give_back(PacketBatch* b) noexcept;

    uint32_t batch_size_;
    std::size_t arena_bytes_;
    std::size_t max_batches_;
    ReleaseHook hook_;
    void* hook_ctx_;
    std::atomic<PacketBatch*> returned_{nullptr};  // pushed by any thread
    PacketBatch* local_ = nullptr;                 // owner's private stack
    std::vector<PacketBatch*> all_;                // touched by the owner thread only
    std::atomic<std::size_t> free_count_{0};
    std::atomic<std::size_t> allocated_{0};
};

}  // namespace weir

WEIR_MESSAGE_TYPE(weir::PacketBatch, "PacketBatch",
                  "up to 64 zero-copy packet views with ns timestamps, lengths and link type");
