// The Toeplitz hash NICs use for receive-side scaling (RSS), in software and without DPDK, so a
// software fan-out can place flows exactly where the NIC would. With symmetric_rss_key() (0x6d5a
// repeated; Woo & Park, "Scalable TCP Session Monitoring with Symmetric Receive-side Scaling")
// the hash of (src, dst, sport, dport) equals the hash of (dst, src, dport, sport): both
// directions of a flow land on the same queue.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace weir::capture {

// 40 bytes (enough for IPv6 + ports) of the repeated pattern 0x6d 0x5a.
std::vector<uint8_t> symmetric_rss_key(std::size_t bytes = 40);

// Toeplitz hash of `len` input bytes (network order, as the NIC reads them: src addr, dst addr,
// src port, dst port) under `key`, which must hold at least len + 4 bytes.
uint32_t toeplitz_hash(const uint8_t* key, std::size_t key_len, const uint8_t* input,
                       std::size_t len) noexcept;

// The same hash from per-position lookup tables: one load and one XOR per input byte (the hash is
// linear in its input bits), for software fan-out on the packet path. Inputs up to 36 bytes
// (IPv6 addresses and ports).
class ToeplitzTable {
public:
    static constexpr std::size_t kMaxInput = 36;
    explicit ToeplitzTable(const std::vector<uint8_t>& key);
    uint32_t hash(const uint8_t* input, std::size_t len) const noexcept {
        uint32_t h = 0;
        for (std::size_t i = 0; i < len && i < kMaxInput; ++i) {
            h ^= table_[i][input[i]];
        }
        return h;
    }
    // Built once: symmetric_rss_key() (both directions of a flow hash alike).
    static const ToeplitzTable& symmetric();

private:
    std::array<std::array<uint32_t, 256>, kMaxInput> table_{};
};

// The queue a NIC with the default redirection table (entry i -> queue i % queues, 128 entries,
// indexed by the hash's low 7 bits) gives a hash.
inline uint32_t rss_queue(uint32_t hash, uint32_t queues) noexcept {
    return (hash & 127U) % queues;
}

}  // namespace weir::capture
