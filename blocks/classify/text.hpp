// Building blocks shared by the payload parsers: a bounds-checked big-endian reader and a
// fixed-capacity text field. Nothing here allocates; a read past the end fails instead of reading.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace weir::classify {

// A text field with room for N-1 bytes and a NUL. Longer input is cut and `truncated` set, so a
// consumer can tell a complete value from a prefix.
template <size_t N>
struct FixedText {
    static_assert(N >= 2 && N <= 65536);
    char data[N] = {};
    uint16_t len = 0;
    bool truncated = false;

    void clear() noexcept {
        len = 0;
        truncated = false;
        data[0] = '\0';
    }
    void assign(const void* p, size_t n) noexcept {
        truncated = n > N - 1;
        len = static_cast<uint16_t>(truncated ? N - 1 : n);
        if (len != 0) {
            std::memcpy(data, p, len);
        }
        data[len] = '\0';
    }
    void assign(std::string_view s) noexcept { assign(s.data(), s.size()); }
    // Appends what fits; returns false (and sets truncated) if something was cut.
    bool append(const void* p, size_t n) noexcept {
        const size_t room = N - 1 - len;
        const size_t take = n < room ? n : room;
        if (take != 0) {
            std::memcpy(data + len, p, take);
        }
        len = static_cast<uint16_t>(len + take);
        data[len] = '\0';
        if (take < n) {
            truncated = true;
        }
        return take == n;
    }
    bool append(std::string_view s) noexcept { return append(s.data(), s.size()); }
    bool empty() const noexcept { return len == 0; }
    std::string_view view() const noexcept { return {data, len}; }
};

// Big-endian cursor over [p, p+n). Every read checks the bounds; after a failed read `ok()` is
// false and all later reads fail too, so a parser can read a whole structure and check once.
class Reader {
public:
    Reader() = default;
    Reader(const uint8_t* p, size_t n) noexcept : p_(p), n_(n) {}

    bool ok() const noexcept { return ok_; }
    size_t left() const noexcept { return ok_ ? n_ - pos_ : 0; }
    size_t pos() const noexcept { return pos_; }
    const uint8_t* here() const noexcept { return p_ + pos_; }

    bool need(size_t k) noexcept {
        if (!ok_ || n_ - pos_ < k) {
            ok_ = false;
            return false;
        }
        return true;
    }
    uint8_t u8() noexcept { return need(1) ? p_[pos_++] : 0; }
    uint16_t u16() noexcept {
        if (!need(2)) {
            return 0;
        }
        const auto v = static_cast<uint16_t>(p_[pos_] << 8 | p_[pos_ + 1]);
        pos_ += 2;
        return v;
    }
    uint32_t u24() noexcept {
        if (!need(3)) {
            return 0;
        }
        const uint32_t v = uint32_t{p_[pos_]} << 16 | uint32_t{p_[pos_ + 1]} << 8 | p_[pos_ + 2];
        pos_ += 3;
        return v;
    }
    uint32_t u32() noexcept {
        if (!need(4)) {
            return 0;
        }
        const uint32_t v = uint32_t{p_[pos_]} << 24 | uint32_t{p_[pos_ + 1]} << 16 |
                           uint32_t{p_[pos_ + 2]} << 8 | p_[pos_ + 3];
        pos_ += 4;
        return v;
    }
    // QUIC variable-length integer (RFC 9000 section 16).
    uint64_t varint() noexcept {
        if (!need(1)) {
            return 0;
        }
        const size_t k = size_t{1} << (p_[pos_] >> 6);
        if (!need(k)) {
            return 0;
        }
        uint64_t v = p_[pos_] & 0x3f;
        for (size_t i = 1; i < k; ++i) {
            v = v << 8 | p_[pos_ + i];
        }
        pos_ += k;
        return v;
    }
    bool skip(size_t k) noexcept {
        if (!need(k)) {
            return false;
        }
        pos_ += k;
        return true;
    }
    // A sub-reader over the next k bytes (consumed here); a failed one if they are not all there.
    Reader sub(size_t k) noexcept {
        if (!need(k)) {
            Reader r;
            r.ok_ = false;
            return r;
        }
        Reader r(p_ + pos_, k);
        pos_ += k;
        return r;
    }

private:
    const uint8_t* p_ = nullptr;
    size_t n_ = 0;
    size_t pos_ = 0;
    bool ok_ = true;
};

// Status shared by the parsers: kTruncated means "a valid prefix; more bytes may complete it".
enum class ParseStatus : uint8_t { kOk, kTruncated, kInvalid };
std::string_view to_string(ParseStatus s);

}  // namespace weir::classify
