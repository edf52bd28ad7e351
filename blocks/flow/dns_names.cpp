#include "dns_names.hpp"

#include <bit>
#include <cstddef>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

namespace weir::flow {

DnsNames::DnsNames(uint32_t names)
    : sets_(static_cast<uint32_t>(std::bit_ceil(std::max<uint32_t>(names / kWays, 1)))),
      slots_(new Slot[static_cast<std::size_t>(sets_) * kWays]),
      tags_(new std::atomic<uint32_t>[static_cast<std::size_t>(sets_) * kWays]) {
    for (std::size_t i = 0; i < static_cast<std::size_t>(sets_) * kWays; ++i) {
        for (auto& w : slots_[i].words) {
            w.store(0, std::memory_order_relaxed);
        }
        tags_[i].store(0, std::memory_order_relaxed);
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

std::size_t DnsNames::bytes() const noexcept {
    return static_cast<std::size_t>(sets_) * kWays * (sizeof(Slot) + sizeof(std::atomic<uint32_t>));
}

uint64_t DnsNames::hash_of(uint8_t v, const std::array<uint8_t, 16>& client,
                           const std::array<uint8_t, 16>& server) noexcept {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ v;
    for (int i = 0; i < 16; i += 4) {
        uint32_t a = 0;
        uint32_t b = 0;
        std::memcpy(&a, client.data() + i, 4);
        std::memcpy(&b, server.data() + i, 4);
        h = (h ^ a) * 0xff51afd7ed558ccdULL;
        h = (h ^ b) * 0xc4ceb9fe1a85ec53ULL;
    }
    return h;
}

namespace {

// Word positions in Name: client 0-1, server 2-3, resolver 4-5, ts_ns 6, query_ns 7, then
// ip_version as the first byte of word 8. The version and words 0-6 share the slot's first cache
// line, so probing a way for its pair and time touches one line.
constexpr std::size_t kKeyWords = 7;
constexpr std::size_t kTsWord = 6;
constexpr std::size_t kFamilyWord = 8;
static_assert(offsetof(DnsNames::Name, server) == 16 && offsetof(DnsNames::Name, ts_ns) == kTsWord * 8 &&
              offsetof(DnsNames::Name, ip_version) == kFamilyWord * 8);

uint8_t family_of(const uint64_t* w) noexcept {
    uint8_t v = 0;
    std::memcpy(&v, &w[kFamilyWord], 1);
    return v;
}

}  // namespace

bool DnsNames::load(const Slot& s, std::size_t n, uint64_t* out) noexcept {
    const uint64_t v1 = s.version.load(std::memory_order_acquire);
    if ((v1 & 1) != 0) {
        return false;
    }
    // Acquire loads (no fences: TSan does not model them): a word some writer stored after
    // claiming the slot carries that claim with it, so the second version read sees it.
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = s.words[i].load(std::memory_order_acquire);
    }
    return s.version.load(std::memory_order_relaxed) == v1;
}

bool DnsNames::matches(const uint64_t* w, const std::array<uint8_t, 16>& client, const std::array<uint8_t, 16>& server,
                       int64_t before_ns) noexcept {
    const auto ts = static_cast<int64_t>(w[kTsWord]);
    return ts != 0 && ts <= before_ns && std::memcmp(&w[0], client.data(), 16) == 0 &&
           std::memcmp(&w[2], server.data(), 16) == 0;
}

bool DnsNames::learn(const Name& n) noexcept {
    const uint64_t h = hash_of(n.ip_version, n.client, n.server);
    const std::size_t base = static_cast<std::size_t>(set_of(h)) * kWays;
    Slot* set = &slots_[base];
    // The same pair again, else the oldest (or empty) way; only the key words are read.
    Slot* target = &set[0];
    int64_t oldest = INT64_MAX;
    for (uint32_t w = 0; w < kWays; ++w) {
        uint64_t key[kKeyWords + 2];
        if (!load(set[w], kKeyWords, key)) {
            continue;
        }
        if (matches(key, n.client, n.server, INT64_MAX) && load(set[w], kFamilyWord + 1, key) &&
            family_of(key) == n.ip_version) {
            target = &set[w];
            break;
        }
        if (static_cast<int64_t>(key[kTsWord]) < oldest) {
            oldest = static_cast<int64_t>(key[kTsWord]);
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
    tags_[base + static_cast<std::size_t>(target - set)].store(tag_of(h), std::memory_order_release);
    return true;
}

bool DnsNames::find(uint8_t ip_version, const std::array<uint8_t, 16>& client, const std::array<uint8_t, 16>& server,
                    int64_t before_ns, Name& out) const noexcept {
    const uint64_t h = hash_of(ip_version, client, server);
    const std::size_t base = static_cast<std::size_t>(set_of(h)) * kWays;
    const Slot* set = &slots_[base];
    const uint32_t tag = tag_of(h);
    for (uint32_t w = 0; w < kWays; ++w) {
        if (tags_[base + w].load(std::memory_order_acquire) != tag) {
            continue;  // another pair (or one being replaced: a miss either way)
        }
        uint64_t words[kWords];
        // The key first (a miss costs one cache line), then the whole entry if it matches.
        if (load(set[w], kKeyWords, words) && matches(words, client, server, before_ns) &&
            load(set[w], kWords, words) && matches(words, client, server, before_ns) &&
            family_of(words) == ip_version) {
            std::memcpy(&out, words, sizeof out);
            return true;
        }
    }
    return false;
}

}  // namespace weir::flow
