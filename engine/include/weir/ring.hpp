// Lock-free bounded queues used between threads.
//
// SpscRing: one producer thread, one consumer thread. Each side caches the other's index so the
// common case touches only its own cache line; indices are free-running, capacity a power of two.
// MpmcQueue: Vyukov's bounded queue (sequence number per cell); used where several threads hand
// items back to one owner (the flow-record pool), never on the per-packet path.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>

namespace weir {

inline constexpr std::size_t kCacheLine = 64;

inline std::size_t round_up_pow2(std::size_t n) {
    if (n < 2) {
        return 2;
    }
    return std::bit_ceil(n);
}

template <class T>
class SpscRing {
public:
    explicit SpscRing(std::size_t capacity)
        : mask_(round_up_pow2(capacity) - 1), slots_(new T[mask_ + 1]) {}
    SpscRing(const SpscRing&) = delete;
    SpscRing& operator=(const SpscRing&) = delete;

    std::size_t capacity() const noexcept { return mask_ + 1; }

    // Producer side.
    bool try_push(const T& v) noexcept {
        const std::size_t t = tail_.load(std::memory_order_relaxed);
        if (t - head_cache_ > mask_) {
            head_cache_ = head_.load(std::memory_order_acquire);
            if (t - head_cache_ > mask_) {
                return false;
            }
        }
        slots_[t & mask_] = v;
        tail_.store(t + 1, std::memory_order_release);
        return true;
    }

    // Consumer side.
    bool try_pop(T& out) noexcept {
        const std::size_t h = head_.load(std::memory_order_relaxed);
        if (h == tail_cache_) {
            tail_cache_ = tail_.load(std::memory_order_acquire);
            if (h == tail_cache_) {
                return false;
            }
        }
        out = slots_[h & mask_];
        head_.store(h + 1, std::memory_order_release);
        return true;
    }

    // Approximate, for monitoring from any thread.
    std::size_t size() const noexcept {
        const std::size_t t = tail_.load(std::memory_order_acquire);
        const std::size_t h = head_.load(std::memory_order_acquire);
        return t >= h ? t - h : 0;
    }
    bool empty() const noexcept { return size() == 0; }

private:
    const std::size_t mask_;
    std::unique_ptr<T[]> slots_;
    alignas(kCacheLine) std::atomic<std::size_t> head_{0};  // consumer owns
    std::size_t tail_cache_ = 0;                             // consumer's view of tail_
    alignas(kCacheLine) std::atomic<std::size_t> tail_{0};  // producer owns
    std::size_t head_cache_ = 0;                             // producer's view of head_
    char pad_[kCacheLine - sizeof(std::size_t)]{};
};

template <class T>
class MpmcQueue {
public:
    explicit MpmcQueue(std::size_t capacity)
        : mask_(round_up_pow2(capacity) - 1), cells_(new Cell[mask_ + 1]) {
        for (std::size_t i = 0; i <= mask_; ++i) {
            cells_[i].seq.store(i, std::memory_order_relaxed);
        }
    }
    MpmcQueue(const MpmcQueue&) = delete;
    MpmcQueue& operator=(const MpmcQueue&) = delete;

    std::size_t capacity() const noexcept { return mask_ + 1; }

    bool try_push(const T& v) noexcept {
        std::size_t pos = tail_.load(std::memory_order_relaxed);
        for (;;) {
            Cell& c = cells_[pos & mask_];
            const std::size_t seq = c.seq.load(std::memory_order_acquire);
            const auto diff = static_cast<std::ptrdiff_t>(seq) - static_cast<std::ptrdiff_t>(pos);
            if (diff == 0) {
                if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
                    c.value = v;
                    c.seq.store(pos + 1, std::memory_order_release);
                    return true;
                }
            } else if (diff < 0) {
                return false;
            } else {
                pos = tail_.load(std::memory_order_relaxed);
            }
        }
    }

    bool try_pop(T& out) noexcept {
        std::size_t pos = head_.load(std::memory_order_relaxed);
        for (;;) {
            Cell& c = cells_[pos & mask_];
            const std::size_t seq = c.seq.load(std::memory_order_acquire);
            const auto diff =
                static_cast<std::ptrdiff_t>(seq) - static_cast<std::ptrdiff_t>(pos + 1);
            if (diff == 0) {
                if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
                    out = c.value;
                    c.seq.store(pos + mask_ + 1, std::memory_order_release);
                    return true;
                }
            } else if (diff < 0) {
                return false;
            } else {
                pos = head_.load(std::memory_order_relaxed);
            }
        }
    }

private:
    struct Cell {
        std::atomic<std::size_t> seq;
        T value;
    };
    const std::size_t mask_;
    std::unique_ptr<Cell[]> cells_;
    alignas(kCacheLine) std::atomic<std::size_t> head_{0};
    alignas(kCacheLine) std::atomic<std::size_t> tail_{0};
    char pad_[kCacheLine - sizeof(std::size_t)]{};
};

}  // namespace weir
