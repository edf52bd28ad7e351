// The few cryptographic primitives the parsers need (JA3/JA4 hashes, QUIC Initial keys and
// decryption), all from OpenSSL's libcrypto. Each thread keeps its OpenSSL contexts and fetched
// algorithms and re-initialises them per use, so a call allocates nothing after the first one on
// a thread. Not re-entrant: one HashStream per algorithm may be open at a time on a thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace weir::classify::crypto {

enum class HashAlg : uint8_t { kMd5, kSha256 };
inline constexpr size_t kMaxDigest = 32;

// Incremental hash. Text written through `put*` is buffered and hashed in chunks.
class HashStream {
public:
    explicit HashStream(HashAlg alg) noexcept;
    ~HashStream();
    HashStream(const HashStream&) = delete;
    HashStream& operator=(const HashStream&) = delete;

    void update(const void* p, size_t n) noexcept;
    void put(std::string_view s) noexcept { update(s.data(), s.size()); }
    void put(char c) noexcept { update(&c, 1); }
    void put_dec(uint32_t v) noexcept;
    void put_hex4(uint16_t v) noexcept;  // four lowercase hex digits
    // Writes the digest (16 or 32 bytes) and returns its length; 0 if OpenSSL failed.
    size_t finish(uint8_t* out) noexcept;

private:
    void flush() noexcept;
    void* ctx_;
    bool failed_ = false;
    uint16_t used_ = 0;
    char buf_[256];
};

// Lowercase hex of `n` bytes into out (2n chars, NUL-terminated: out needs 2n+1).
void to_hex(const uint8_t* p, size_t n, char* out) noexcept;

// HMAC-SHA-256 (RFC 2104) with a key of at most 64 bytes, from two SHA-256 passes.
bool hmac_sha256(const uint8_t* key, size_t key_len, const uint8_t* msg, size_t msg_len,
                 uint8_t out[32]) noexcept;
// HKDF-Extract (RFC 5869) with SHA-256.
bool hkdf_extract(const uint8_t* salt, size_t salt_len, const uint8_t* ikm, size_t ikm_len,
                  uint8_t prk[32]) noexcept;
// TLS 1.3 HKDF-Expand-Label (RFC 8446 section 7.1) with an empty context, out_len <= 32.
bool hkdf_expand_label(const uint8_t secret[32], std::string_view label, uint8_t* out,
                       size_t out_len) noexcept;

// One AES-128 block in ECB mode (QUIC header protection mask).
bool aes128_ecb_block(const uint8_t key[16], const uint8_t in[16], uint8_t out[16]) noexcept;
// AES-128-GCM decryption with a 16-byte tag; false when the tag does not verify.
bool aes128_gcm_open(const uint8_t key[16], const uint8_t iv[12], const uint8_t* aad, size_t aad_len,
                     const uint8_t* ct, size_t ct_len, const uint8_t tag[16], uint8_t* out) noexcept;

}  // namespace weir::classify::crypto
