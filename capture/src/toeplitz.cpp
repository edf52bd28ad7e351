#include <weir/capture/toeplitz.hpp>

namespace weir::capture {

std::vector<uint8_t> symmetric_rss_key(std::size_t bytes) {
    std::vector<uint8_t> key(bytes);
    for (std::size_t i = 0; i < bytes; ++i) {
        key[i] = (i % 2) == 0 ? 0x6d : 0x5a;
    }
    return key;
}

uint32_t toeplitz_hash(const uint8_t* key, std::size_t key_len, const uint8_t* input,
                       std::size_t len) noexcept {
    if (key_len < len + 4) {
        return 0;
    }
    // For every set input bit (most significant first), XOR in the 32 key bits starting at that
    // bit position. `window` holds those 32 bits and slides left one bit per input bit.
    uint32_t hash = 0;
    uint32_t window = (static_cast<uint32_t>(key[0]) << 24) | (static_cast<uint32_t>(key[1]) << 16) |
                      (static_cast<uint32_t>(key[2]) << 8) | key[3];
    for (std::size_t i = 0; i < len; ++i) {
        const uint8_t next = key[i + 4];
        for (int b = 7; b >= 0; --b) {
            if ((input[i] >> b) & 1U) {
                hash ^= window;
            }
            window = (window << 1) | ((next >> b) & 1U);
        }
    }
    return hash;
}

ToeplitzTable::ToeplitzTable(const std::vector<uint8_t>& key) {
    uint8_t input[kMaxInput] = {};
    for (std::size_t i = 0; i < kMaxInput; ++i) {
        for (unsigned v = 0; v < 256; ++v) {
            input[i] = static_cast<uint8_t>(v);
            table_[i][v] = toeplitz_hash(key.data(), key.size(), input, i + 1);
        }
        input[i] = 0;
    }
}

const ToeplitzTable& ToeplitzTable::symmetric() {
    static const ToeplitzTable table(symmetric_rss_key(kMaxInput + 4));
    return table;
}

}  // namespace weir::capture
