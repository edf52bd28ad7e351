// The flow table: open addressing (linear probing, backward-shift deletion) over a fixed array
// of flows, plus a one-second timing wheel for expiry. Memory is reserved once for the configured
// capacity and touched only as flows arrive. Expiry work is bounded by the flows that expire (or
// at worst one pass over the wheel), never by the gap between two packet timestamps.
#pragma once

#include "flow_state.hpp"

#include <algorithm>

#include <cstdint>
#include <cstring>

namespace weir::flow {

// Builds the canonical key; `src_is_lo` tells which endpoint the packet's source is.
CanonicalKey make_key(uint8_t ip_version, uint8_t proto, const std::array<uint8_t, 16>& src,
                      uint16_t sport, const std::array<uint8_t, 16>& dst, uint16_t dport,
                      bool& src_is_lo) noexcept;
// Symmetric by construction (hashes the canonical key); the same function serves flow demux.
uint32_t hash_key(const CanonicalKey& k) noexcept;

class FlowTable {
public:
    static constexpr uint32_t kWheelSlots = 4096;  // seconds covered by one turn of the wheel

    // `ext_size` bytes of optional per-flow state (FlowExt) follow each flow in the same entry
    // when non-zero (one region, so a packet's lines are neighbours); the first `ext_zeroed` of
    // them (default all) are zeroed on insert, the rest is the owner's to initialise.
    explicit FlowTable(uint32_t capacity, std::size_t ext_size = 0, std::size_t ext_zeroed = SIZE_MAX);
    ~FlowTable();
    FlowTable(const FlowTable&) = delete;
    FlowTable& operator=(const FlowTable&) = delete;

    Flow* find(const CanonicalKey& key, uint32_t hash) noexcept;
    // Batches look up many flows: prefetch the index slot of each first, then the flow it names,
    // so the DRAM misses of a whole batch overlap instead of queueing one after another.
    void prefetch_slot(uint32_t hash) const noexcept { __builtin_prefetch(&slots_[hash & mask_], 0, 3); }
    void prefetch_flow(uint32_t hash) const noexcept {
        const uint32_t f = slots_[hash & mask_].flow;
        if (f != 0) {
            // Every hot line of the entry: a TCP packet reads and writes both directions' state.
            const auto* p = reinterpret_cast<const char*>(&at(f - 1));
            for (std::size_t off = 0; off < hot_bytes_; off += 64) {
                __builtin_prefetch(p + off, 1, 3);
            }
        }
    }
    // Only the first `bytes` of an entry are touched per packet (the rest, e.g. texts read when
    // the flow ends, is not prefetched). Default: the whole entry.
    void set_hot_bytes(std::size_t bytes) noexcept { hot_bytes_ = bytes < stride_ ? bytes : stride_; }
    // nullptr when the table is full.
    Flow* insert(const CanonicalKey& key, uint32_t hash) noexcept;
    void erase(Flow* f) noexcept;

    // Puts the flow in the wheel slot of `deadline_ns` (moving it if it is elsewhere).
    void schedule(Flow* f, int64_t deadline_ns) noexcept;
    // Calls on_due(flow) for flows in wheel slots up to now; the callback returns the flow's
    // real deadline (flows only move later) or 0 after erasing it.
    template <class OnDue>
    void advance(int64_t now_ns, OnDue&& on_due);
    template <class Ext>
    Ext& ext(const Flow* f) noexcept {
        return *reinterpret_cast<Ext*>(reinterpret_cast<uint8_t*>(const_cast<Flow*>(f)) + sizeof(Flow));
    }
    // The flow that has waited longest in the wheel ahead of now (for eviction); nullptr if empty.
    Flow* oldest() noexcept;
    template <class Fn>
    void for_each(Fn&& fn);

    uint32_t size() const noexcept { return size_; }
    uint32_t capacity() const noexcept { return capacity_; }
    // Address space reserved: flows, their extensions, and the index.
    std::size_t bytes_reserved() const noexcept;
    // Bytes one flow costs when the table is full: entry + extension + its share of the index.
    double bytes_per_flow() const noexcept { return static_cast<double>(bytes_reserved()) / capacity_; }

private:
    Flow& at(uint32_t i) const noexcept { return *reinterpret_cast<Flow*>(entries_ + static_cast<std::size_t>(i) * stride_); }
    uint32_t index_of(const Flow* f) const noexcept {
        return static_cast<uint32_t>(static_cast<std::size_t>(reinterpret_cast<const uint8_t*>(f) - entries_) / stride_);
    }
    void unlink(Flow* f) noexcept;
    void link(Flow* f, uint16_t slot) noexcept;

    uint32_t capacity_;
    uint32_t mask_;
    std::size_t ext_size_;
    std::size_t stride_;       // sizeof(Flow) + ext_size_, rounded up to 8
    std::size_t ext_zeroed_;   // bytes of the extension zeroed on insert
    std::size_t hot_bytes_;    // bytes of an entry a packet touches (prefetched), from its start
    uint8_t* entries_;         // capacity_ entries, allocated lazily by the kernel
    // Index and hash side by side: one cache miss per probe, then one for the flow.
    struct Slot {
        uint32_t flow;  // flow index + 1, 0 = empty
        uint32_t tag;   // the flow's hash
    };
    Slot* slots_;
    uint32_t high_water_ = 0;  // entries at or above it were never used
    uint32_t free_head_ = 0;   // free list through wheel_next (index + 1)
    uint32_t size_ = 0;
    uint32_t wheel_[kWheelSlots] = {};  // list heads (index + 1)
    int64_t wheel_sec_ = -1;           // last second processed
};

template <class OnDue>
void FlowTable::advance(int64_t now_ns, OnDue&& on_due) {
    const int64_t now_sec = now_ns / 1'000'000'000;
    if (wheel_sec_ < 0) {
        wheel_sec_ = now_sec;
        return;
    }
    if (now_sec <= wheel_sec_) {
        return;
    }
    // A jump longer than a turn visits every slot once, however long the gap.
    const int64_t from = wheel_sec_;
    const int64_t steps = std::min<int64_t>(now_sec - from, kWheelSlots);
    for (int64_t s = 1; s <= steps; ++s) {
        // The second being drained counts as processed: a flow in it that is not due yet (its
        // deadline later in this second) goes to the next second's slot, not back into this one,
        // which would not be visited again for a whole turn of the wheel.
        wheel_sec_ = from + s;
        const auto slot = static_cast<uint16_t>(wheel_sec_ % kWheelSlots);
        uint32_t it = wheel_[slot];
        wheel_[slot] = 0;  // detach: flows that stay are linked again below
        while (it != 0) {
            Flow* f = &at(it - 1);
            it = f->wheel_next;
            f->wheel_next = f->wheel_prev = 0;
            f->wheel_slot = 0xffff;
            const int64_t deadline = on_due(f);
            if (deadline != 0) {
                schedule(f, deadline);
            }
        }
    }
    wheel_sec_ = now_sec;
}

template <class Fn>
void FlowTable::for_each(Fn&& fn) {
    for (uint32_t i = 0; i < high_water_; ++i) {
        if (at(i).in_use()) {
            fn(&at(i));
        }
    }
}

}  // namespace weir::flow
