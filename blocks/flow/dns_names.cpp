#include "dns_names.hpp"

#include <bit>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

namespace weir::flow {

DnsNames::DnsNames(uint32_t names)
    : sets_(static_cast<uint32_t>(std::bit_ceil(std::max<uint32_t>(names / kWays, 1)))),
      slots_(new Slot[static_cast<std::size_t>(sets_) * kWays]) {
    for (std::size_t i = 0; i < static_cast<std::size_t>(sets_) * kWays; ++i) {
        for (auto& w : slots_[i].words) {
            w.store(0, std::memory_order_relaxed);
        }
    }
}

DnsNames::~DnsNames() = default;

std::shared_ptr<DnsNames> DnsNames::shared(const void* engine, const std::string& group, uint32_t names) {
    static std::mutex mu;
    static std::map<std::pair<const void*, std::string>, std::weak_ptr<DnsNames>> tables;
    std::lock_guard<std::mutex> lock(mu);
    auto& weak = tables[{engine, group}];
    if (auto t = weak.lock()) {
        return t;
    }
    auto t = std::make_shared<DnsNames>(names);
    weak = t;
    return t;
}

std::size_t DnsNames::bytes() const noexcept { return static_cast<std::size_t>(sets_) * kWays * sizeof(Slot); }

uint32_t DnsNames::set_of(uint8_t v, const std::array<uint8_t, 16>& client,
                          const std::array<uint8_t, 16>& server) const noexcept {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ v;
    for (int i = 0; i < 16; i += 4) {
        uint32_t a = 0;
        uint32_t b = 0;
        std::memcpy(&a, client.data() + i, 4);
        std::memcpy(&b, server.data() + i, 4);
        h = (h ^ a) * 0xff51afd7ed558ccdULL;
        h = (h ^ b) * 0xc4ceb9fe1a85ec53ULL;
    }
    return static_cast<uint32_t>(h >> 32) & (sets_ - 1);
}

// A consistent copy of the slot, or false if a writer was in it (torn: treated as a miss).
bool DnsNames::read(const Slot& s, Name& out) noexcept {
    const uint64_t v1 = s.version.load(std::memory_order_acquire);
    if ((v1 & 1) != 0) {
        return false;
    }
    // Acquire loads (no fences: TSan does not model them): a word some writer stored after
    // claiming the slot carries that claim with it, so the second version read sees it.
    uint64_t words[kWords];
    for (std::size_t i = 0; i < kWords; ++i) {
        words[i] = s.words[i].load(std::memory_order_acquire);
    }
    if (s.version.load(std::memory_order_relaxed) != v1) {
        return false;
    }
    std::memcpy(&out, words, sizeof out);
    return true;
}

bool DnsNames::learn(const Name& n) noexcept {
    Slot* set = &slots_[static_cast<std::size_t>(set_of(n.ip_version, n.client, n.server)) * kWays];
    // The same pair again, else the oldest (or empty) way.
    Slot* target = &set[0];
    int64_t oldest = INT64_MAX;
    for (uint32_t w = 0; w < kWays; ++w) {
        Name cur;
        if (!read(set[w], cur)) {
            continue;
        }
        if (cur.ts_ns != 0 && cur.ip_version == n.ip_version && cur.client == n.client && cur.server == n.server) {
            target = &set[w];
            break;
        }
        if (cur.ts_ns < oldest) {
            oldest = cur.ts_ns;
            target = &set[w];
        }
    }
    uint64_t v = target->version.load(std::memory_order_relaxed);
    if ((v & 1) != 0 || !target->version.compare_exchange_strong(v, v + 1, std::memory_order_acquire)) {
        return false;  // another writer is in this slot
    }
    uint64_t words[kWords];
    std::memcpy(words, &n, sizeof n);
    for (std::size_t i = 0; i < kWords; ++i) {
        target->words[i].store(words[i], std::memory_order_release);  // each word carries the odd version
    }
    target->version.store(v + 2, std::memory_order_release);
    return true;
}

bool DnsNames::find(uint8_t ip_version, const std::array<uint8_t, 16>& client, const std::array<uint8_t, 16>& server,
                    int64_t before_ns, Name& out) const noexcept {
    const Slot* set = &slots_[static_cast<std::size_t>(set_of(ip_version, client, server)) * kWays];
    for (uint32_t w = 0; w < kWays; ++w) {
        if (read(set[w], out) && out.ts_ns != 0 && out.ts_ns <= before_ns && out.ip_version == ip_version &&
            out.client == client && out.server == server) {
            return true;
        }
    }
    return false;
}

}  // namespace weir::flow
