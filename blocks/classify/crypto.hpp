// The few cryptographic primitives the parsers need (JA3/JA4 hashes, QUIC Initial keys and
// decryption), all from OpenSSL's libcrypto. Hashes use its SHA-256 and MD5 block functions
// directly on contexts held by value (no EVP dispatch, no provider context, no allocation), so an
// HMAC key's inner and outer states can be computed once and copied: the QUIC Initial key schedule
// is a chain of short HMACs, each two compression calls that way instead of four. The ciphers go
// through EVP with per-thread contexts and fetched algorithms, re-initialised per use (no
// allocation after a thread's first call).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace weir::classify::crypto {

enum class HashAlg : uint8_t { kMd5, kSha256 };
inline constexpr size_t kMaxDigest = 32;
// Bytes of OpenSSL's SHA256_CTX / MD5_CTX (checked in crypto.cpp), kept here as raw storage so
// this header needs no OpenSSL include.
inline constexpr size_t kSha256CtxBytes = 112, kMd5CtxBytes = 92;

// Incremental hash. Text written through `put*` is gathered in a buffer and hashed in chunks.
// A text that fits the buffer whole (the JA3, JA3S and JA4 strings of real hellos) is looked up
// first in a small per-thread table of recent texts and their digests: fingerprints repeat (they
// name client and server software), so most hellos cost a hash-table probe and a compare instead
// of MD5/SHA-256 rounds. The table holds the whole text, so a hit is exact.
class HashStream {
public:
    explicit HashStream(HashAlg alg) noexcept;
    HashStream(const HashStream&) = delete;
    HashStream& operator=(const HashStream&) = delete;

    void update(const void* p, size_t n) noexcept;
    void put(std::string_view s) noexcept { update(s.data(), s.size()); }
    void put(char c) noexcept {
        if (used_ == sizeof buf_) {
            flush();
        }
        buf_[used_++] = c;
    }
    void put_dec(uint32_t v) noexcept {
        if (sizeof buf_ - used_ < 10) {
            flush();
        }
        char tmp[10];
        size_t i = sizeof tmp;
        do {
            tmp[--i] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v != 0);
        while (i < sizeof tmp) {
            buf_[used_++] = tmp[i++];
        }
    }
    void put_hex4(uint16_t v) noexcept {  // four lowercase hex digits
        static constexpr char kHex[] = "0123456789abcdef";
        if (sizeof buf_ - used_ < 4) {
            flush();
        }
        buf_[used_++] = kHex[v >> 12];
        buf_[used_++] = kHex[(v >> 8) & 15];
        buf_[used_++] = kHex[(v >> 4) & 15];
        buf_[used_++] = kHex[v & 15];
    }
    // Writes the digest (16 or 32 bytes) and returns its length; 0 if OpenSSL failed.
    size_t finish(uint8_t* out) noexcept;

private:
    void flush() noexcept;
    HashAlg alg_;
    bool failed_ = false;
    bool flushed_ = false;  // part of the text went to the context: too long to remember
    uint16_t used_ = 0;
    alignas(8) unsigned char ctx_[kSha256CtxBytes];
    char buf_[512];
};

// Empties this thread's table of remembered texts and digests (benchmarks replaying the same
// hellos use it to measure the hashing they would otherwise skip).
void forget_remembered_digests() noexcept;

// Lowercase hex of `n` bytes into out (2n chars, NUL-terminated: out needs 2n+1).
void to_hex(const uint8_t* p, size_t n, char* out) noexcept;

// HMAC-SHA-256 (RFC 2104) under one key of at most 64 bytes: the key's inner and outer hash
// states are computed once by set_key, then each mac() continues copies of them.
class HmacSha256 {
public:
    bool set_key(const uint8_t* key, size_t key_len) noexcept;
    bool mac(const uint8_t* msg, size_t msg_len, uint8_t out[32]) const noexcept;
    // TLS 1.3 HKDF-Expand-Label (RFC 8446 section 7.1) with this key as the secret and an empty
    // context, out_len <= 32.
    bool expand_label(std::string_view label, uint8_t* out, size_t out_len) const noexcept;

private:
    alignas(8) unsigned char inner_[kSha256CtxBytes];
    alignas(8) unsigned char outer_[kSha256CtxBytes];
};

// HMAC-SHA-256 with a key of at most 64 bytes (one-off: prepares the key, then one MAC).
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
