#include "flow_table.hpp"

#include <sys/mman.h>

#include <bit>
#include <new>
#include <stdexcept>

namespace weir::flow {

namespace {

// Anonymous mappings: the kernel hands out zeroed pages on first touch, so a table sized for
// ten million flows costs memory only for the flows actually seen.
template <class T>
T* reserve(std::size_t n) {
    void* p = mmap(nullptr, n * sizeof(T), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) {
        throw std::bad_alloc();
    }
    return static_cast<T*>(p);
}

template <class T>
void release(T* p, std::size_t n) {
    if (p != nullptr) {
        munmap(p, n * sizeof(T));
    }
}

inline uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

}  // namespace

CanonicalKey make_key(uint8_t ip_version, uint8_t proto, const std::array<uint8_t, 16>& src, uint16_t sport,
                      const std::array<uint8_t, 16>& dst, uint16_t dport, bool& src_is_lo) noexcept {
    CanonicalKey k;
    k.ip_version = ip_version;
    k.proto = proto;
    const int c = std::memcmp(src.data(), dst.data(), 16);
    src_is_lo = c < 0 || (c == 0 && sport <= dport);
    if (src_is_lo) {
        k.addr_lo = src;
        k.port_lo = sport;
        k.addr_hi = dst;
        k.port_hi = dport;
    } else {
        k.addr_lo = dst;
        k.port_lo = dport;
        k.addr_hi = src;
        k.port_hi = sport;
    }
    return k;
}

uint32_t hash_key(const CanonicalKey& k) noexcept {
    // One multiply per word, then a full avalanche: cheap, and every key bit reaches the result.
    uint64_t w[5];
    std::memcpy(w, &k, sizeof w);
    uint64_t h = (w[0] ^ 0x9e3779b97f4a7c15ULL) * 0xff51afd7ed558ccdULL;
    h = (h ^ w[1] ^ (h >> 29)) * 0xc4ceb9fe1a85ec53ULL;
    h = (h ^ w[2] ^ (h >> 31)) * 0xff51afd7ed558ccdULL;
    h = (h ^ w[3] ^ (h >> 29)) * 0xc4ceb9fe1a85ec53ULL;
    h = (h ^ w[4] ^ (h >> 31)) * 0xff51afd7ed558ccdULL;
    h = mix(h);
    return static_cast<uint32_t>(h ^ (h >> 32));
}

// Index slots: the power of two above 4/3 of the capacity, so a full table loads the index at
// most 0.75 and linear probes stay short, for 8 bytes x 1.34..2.7 slots per flow.
FlowTable::FlowTable(uint32_t capacity, std::size_t ext_size, std::size_t ext_zeroed)
    : capacity_(std::max<uint32_t>(capacity, 16)),
      mask_(static_cast<uint32_t>(std::bit_ceil(static_cast<uint64_t>(capacity_) * 4 / 3 + 1)) - 1),
      ext_size_(ext_size),
      // With the extension an entry spans nine lines: aligned to them, no packet touches a tenth.
      // The core entry alone stays 248 bytes (memory per flow matters more than alignment there).
      stride_(ext_size > 0 ? (sizeof(Flow) + ext_size + 63) / 64 * 64 : (sizeof(Flow) + 7) / 8 * 8),
      ext_zeroed_(std::min(ext_size, ext_zeroed)),
      hot_bytes_(stride_),
      entries_(reserve<uint8_t>(static_cast<std::size_t>(capacity_) * stride_)),
      slots_(reserve<Slot>(static_cast<std::size_t>(mask_) + 1)) {}

FlowTable::~FlowTable() {
    for (uint32_t i = 0; i < high_water_; ++i) {
        at(i).~Flow();
    }
    release(entries_, static_cast<std::size_t>(capacity_) * stride_);
    release(slots_, static_cast<std::size_t>(mask_) + 1);
}

std::size_t FlowTable::bytes_reserved() const noexcept {
    return static_cast<std::size_t>(capacity_) * stride_ +
           (static_cast<std::size_t>(mask_) + 1) * sizeof(Slot);
}

Flow* FlowTable::find(const CanonicalKey& key, uint32_t hash) noexcept {
    for (uint32_t i = hash & mask_;; i = (i + 1) & mask_) {
        const Slot s = slots_[i];
        if (s.flow == 0) {
            return nullptr;
        }
        if (s.tag == hash && at(s.flow - 1).key == key) {
            return &at(s.flow - 1);
        }
    }
}

Flow* FlowTable::insert(const CanonicalKey& key, uint32_t hash) noexcept {
    uint32_t idx = 0;
    if (free_head_ != 0) {
        idx = free_head_ - 1;
        free_head_ = at(idx).wheel_next;
    } else if (high_water_ < capacity_) {
        idx = high_water_++;
        new (&at(idx)) Flow();
    } else {
        return nullptr;
    }
    Flow* f = &at(idx);
    *f = Flow();
    f->key = key;
    f->flags = Flow::kInUse;
    f->wheel_slot = 0xffff;
    if (ext_zeroed_ > 0) {
        std::memset(reinterpret_cast<uint8_t*>(f) + sizeof(Flow), 0, ext_zeroed_);
    }
    uint32_t i = hash & mask_;
    while (slots_[i].flow != 0) {
        i = (i + 1) & mask_;
    }
    slots_[i] = Slot{idx + 1, hash};
    ++size_;
    return f;
}

void FlowTable::erase(Flow* f) noexcept {
    unlink(f);
    const uint32_t idx = index_of(f);
    uint32_t i = hash_key(f->key) & mask_;  // not stored: 4 bytes per flow cost more than a rehash
    while (slots_[i].flow != idx + 1) {
        i = (i + 1) & mask_;
    }
    // Backward-shift deletion: pull later entries of the probe run into the hole.
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & mask_; slots_[j].flow != 0; j = (j + 1) & mask_) {
        const uint32_t home = slots_[j].tag & mask_;
        const bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            slots_[hole] = slots_[j];
            hole = j;
        }
    }
    slots_[hole] = Slot{0, 0};
    f->flags = 0;
    f->wheel_next = free_head_;
    free_head_ = idx + 1;
    --size_;
}

void FlowTable::unlink(Flow* f) noexcept {
    if (f->wheel_slot == 0xffff) {
        return;
    }
    if (f->wheel_prev != 0) {
        at(f->wheel_prev - 1).wheel_next = f->wheel_next;
    } else {
        wheel_[f->wheel_slot] = f->wheel_next;
    }
    if (f->wheel_next != 0) {
        at(f->wheel_next - 1).wheel_prev = f->wheel_prev;
    }
    f->wheel_next = f->wheel_prev = 0;
    f->wheel_slot = 0xffff;
}

void FlowTable::link(Flow* f, uint16_t slot) noexcept {
    const uint32_t idx = index_of(f) + 1;
    f->wheel_slot = slot;
    f->wheel_prev = 0;
    f->wheel_next = wheel_[slot];
    if (wheel_[slot] != 0) {
        at(wheel_[slot] - 1).wheel_prev = idx;
    }
    wheel_[slot] = idx;
}

void FlowTable::schedule(Flow* f, int64_t deadline_ns) noexcept {
    int64_t sec = deadline_ns / 1'000'000'000;
    if (wheel_sec_ >= 0 && sec <= wheel_sec_) {
        sec = wheel_sec_ + 1;  // already due (timestamps went backwards): next second
    }
    const auto slot = static_cast<uint16_t>(sec % kWheelSlots);
    if (f->wheel_slot == slot) {
        return;
    }
    unlink(f);
    link(f, slot);
}

Flow* FlowTable::oldest() noexcept {
    const int64_t base = wheel_sec_ < 0 ? 0 : wheel_sec_;
    for (uint32_t s = 1; s <= kWheelSlots; ++s) {
        const uint32_t head = wheel_[(base + s) % kWheelSlots];
        if (head != 0) {
            return &at(head - 1);
        }
    }
    return nullptr;
}

}  // namespace weir::flow
