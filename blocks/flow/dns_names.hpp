// DN-Hunter's memory (Tstat): for each (client, resolved address) the name the client asked the
// DNS for, which resolver answered, and when. A flow that starts later between that client and
// that address is named after it, even when it is TLS without SNI or plain IP.
//
// Set-associative (4 ways per set, bounded, the oldest way replaced) and lock-free for any number
// of writers and readers: FlowMeter replicas behind a FlowDemux or RSS queues see a client's DNS
// answers on one replica and its flows on others, so they share one table (`dns.share`). Each
// slot is a seqlock over atomic words: a writer claims the slot by making its version odd (a busy
// slot is skipped, never waited for), readers copy and retry nothing — a torn read is a miss.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace weir::flow {

class DnsNames {
public:
    static constexpr uint32_t kWays = 4;
    static constexpr std::size_t kMaxName = 110;

    struct Name {
        std::array<uint8_t, 16> client{};
        std::array<uint8_t, 16> server{};    // the address the answer gave
        std::array<uint8_t, 16> resolver{};  // who answered
        int64_t ts_ns = 0;                   // the answer; 0 = empty
        int64_t query_ns = 0;                // the client's latest packet to the resolver before it
        uint8_t ip_version = 0;
        uint8_t len = 0;
        char name[kMaxName] = {};
        std::string_view view() const noexcept { return {name, len}; }
    };
    static_assert(sizeof(Name) % 8 == 0);

    // Room for about `names` answers (rounded up to a power-of-two number of 4-way sets).
    explicit DnsNames(uint32_t names);
    ~DnsNames();
    DnsNames(const DnsNames&) = delete;
    DnsNames& operator=(const DnsNames&) = delete;

    // The table the meters of one engine share under `group` (created by the first caller, freed
    // with the last holder). Start-time only: it takes a lock.
    static std::shared_ptr<DnsNames> shared(const void* engine, const std::string& group, uint32_t names);

    // Remembers an answer (replacing the same client/address pair, else the set's oldest). False
    // when another writer held the slot at that moment (the answer is dropped, never waited for).
    bool learn(const Name& n) noexcept;
    // The name `client` resolved for `server` no later than `before_ns`.
    bool find(uint8_t ip_version, const std::array<uint8_t, 16>& client, const std::array<uint8_t, 16>& server,
              int64_t before_ns, Name& out) const noexcept;

    std::size_t bytes() const noexcept;

private:
    static constexpr std::size_t kWords = sizeof(Name) / 8;
    struct alignas(64) Slot {
        std::atomic<uint64_t> version{0};  // odd while a writer fills the words
        std::atomic<uint64_t> words[kWords];
    };
    // The pair's hash: the set from its high half, a tag (never 0) from its low half.
    static uint64_t hash_of(uint8_t v, const std::array<uint8_t, 16>& client, const std::array<uint8_t, 16>& server) noexcept;
    uint32_t set_of(uint64_t h) const noexcept { return static_cast<uint32_t>(h >> 32) & (sets_ - 1); }
    static uint32_t tag_of(uint64_t h) noexcept { return static_cast<uint32_t>(h) | 1U; }
    // Words [0, n) of a slot as one writer left them; false if a writer was in it (torn: a miss).
    static bool load(const Slot& s, std::size_t n, uint64_t* out) noexcept;
    // The key words (client, server, time) match and the answer is not after before_ns; the
    // family (word 8) is compared by the caller on a full load.
    static bool matches(const uint64_t* w, const std::array<uint8_t, 16>& client, const std::array<uint8_t, 16>& server,
                        int64_t before_ns) noexcept;

    uint32_t sets_ = 0;  // power of two
    std::unique_ptr<Slot[]> slots_;
    // Per way, the tag of the pair it holds (a hint, written after the entry): a lookup reads the
    // set's four tags from one small array and loads only the ways whose tag matches, so a miss
    // costs one cache line of a 4 bytes-per-way array instead of four lines of the table.
    std::unique_ptr<std::atomic<uint32_t>[]> tags_;
};

}  // namespace weir::flow
