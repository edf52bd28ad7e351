#include "classify/crypto.hpp"

// SHA256_* and MD5_* are deprecated in OpenSSL 3.0 in favour of EVP, but they are the block
// functions EVP's default provider itself calls (perf shows SHA256_Update under
// EVP_DigestUpdate), here without a provider context and method dispatch around each call, and
// their contexts are plain structs that can be copied: what reusing an HMAC key's states needs
// (EVP_MD_CTX_copy_ex allocates a new provider context on every copy in OpenSSL 3.0).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

#if defined(OPENSSL_NO_DEPRECATED_3_0)
#error "classify/crypto.cpp needs OpenSSL's SHA256_* and MD5_* functions (built without deprecated API)"
#endif

#include <climits>
#include <cstring>

namespace weir::classify::crypto {

static_assert(sizeof(SHA256_CTX) == kSha256CtxBytes && sizeof(MD5_CTX) == kMd5CtxBytes);
static_assert(kMd5CtxBytes <= kSha256CtxBytes);

namespace {

// Per-thread cipher state: algorithms fetched once, contexts reused (initialised with a NULL
// algorithm after the first time, which keeps their provider state instead of reallocating it).
struct ThreadState {
    EVP_CIPHER* ecb = EVP_CIPHER_fetch(nullptr, "AES-128-ECB", nullptr);
    EVP_CIPHER* gcm = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
    EVP_CIPHER_CTX* ecb_ctx = EVP_CIPHER_CTX_new();
    EVP_CIPHER_CTX* gcm_ctx = EVP_CIPHER_CTX_new();
    bool ecb_ready = false, gcm_ready = false;

    ThreadState() = default;
    ThreadState(const ThreadState&) = delete;
    ThreadState& operator=(const ThreadState&) = delete;
    ~ThreadState() {
        EVP_CIPHER_CTX_free(ecb_ctx);
        EVP_CIPHER_CTX_free(gcm_ctx);
        EVP_CIPHER_free(ecb);
        EVP_CIPHER_free(gcm);
    }
};

ThreadState& state() {
    thread_local ThreadState s;
    return s;
}

// The contexts live in byte storage (the header has no OpenSSL types); they are copied in and
// out around each use, which for these trivially copyable C structs is what an assignment does.
template <class Ctx>
Ctx load(const unsigned char* storage) {
    Ctx c;
    std::memcpy(&c, storage, sizeof c);
    return c;
}
template <class Ctx>
void store(unsigned char* storage, const Ctx& c) {
    std::memcpy(storage, &c, sizeof c);
}

// Recent (algorithm, text) -> digest, per thread, direct-mapped on a hash of the text.
struct DigestMemo {
    static constexpr size_t kEntries = 64;
    struct Entry {
        uint64_t key = 0;    // text hash; with len 0 the entry is empty (no empty text is stored)
        uint16_t len = 0;
        HashAlg alg = HashAlg::kMd5;
        uint8_t digest[kMaxDigest] = {};
        char text[512] = {};
    };
    Entry entries[kEntries];
};

DigestMemo& memo() {
    thread_local DigestMemo m;
    return m;
}

// FNV-1a, 8 bytes per step: enough to spread the texts over the table (the compare is exact).
uint64_t text_hash(const char* p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < n; ++i) {
        h = (h ^ static_cast<uint8_t>(p[i])) * 0x100000001b3ULL;
    }
    return h ^ h >> 32;
}

}  // namespace

HashStream::HashStream(HashAlg alg) noexcept : alg_(alg) {
    if (alg == HashAlg::kMd5) {
        MD5_CTX c;
        failed_ = MD5_Init(&c) != 1;
        store(ctx_, c);
    } else {
        SHA256_CTX c;
        failed_ = SHA256_Init(&c) != 1;
        store(ctx_, c);
    }
}

void HashStream::flush() noexcept {
    flushed_ = flushed_ || used_ != 0;
    if (used_ != 0 && !failed_) {
        if (alg_ == HashAlg::kMd5) {
            MD5_CTX c = load<MD5_CTX>(ctx_);
            failed_ = MD5_Update(&c, buf_, used_) != 1;
            store(ctx_, c);
        } else {
            SHA256_CTX c = load<SHA256_CTX>(ctx_);
            failed_ = SHA256_Update(&c, buf_, used_) != 1;
            store(ctx_, c);
        }
    }
    used_ = 0;
}

void HashStream::update(const void* p, size_t n) noexcept {
    if (n <= sizeof buf_ - used_) {
        std::memcpy(buf_ + used_, p, n);
        used_ = static_cast<uint16_t>(used_ + n);
        return;
    }
    flush();
    if (n <= sizeof buf_) {
        std::memcpy(buf_, p, n);
        used_ = static_cast<uint16_t>(n);
        return;
    }
    flushed_ = true;
    if (!failed_) {
        if (alg_ == HashAlg::kMd5) {
            MD5_CTX c = load<MD5_CTX>(ctx_);
            failed_ = MD5_Update(&c, p, n) != 1;
            store(ctx_, c);
        } else {
            SHA256_CTX c = load<SHA256_CTX>(ctx_);
            failed_ = SHA256_Update(&c, p, n) != 1;
            store(ctx_, c);
        }
    }
}

size_t HashStream::finish(uint8_t* out) noexcept {
    if (failed_) {
        return 0;
    }
    const size_t len = alg_ == HashAlg::kMd5 ? MD5_DIGEST_LENGTH : SHA256_DIGEST_LENGTH;
    DigestMemo::Entry* slot = nullptr;
    uint64_t key = 0;
    if (!flushed_ && used_ != 0) {  // the whole text is in buf_
        static_assert(sizeof DigestMemo::Entry::text == sizeof buf_);
        key = text_hash(buf_, used_);
        slot = &memo().entries[key % DigestMemo::kEntries];
        if (slot->len == used_ && slot->key == key && slot->alg == alg_ && std::memcmp(slot->text, buf_, used_) == 0) {
            std::memcpy(out, slot->digest, len);
            used_ = 0;
            return len;
        }
    }
    if (alg_ == HashAlg::kMd5) {
        MD5_CTX c = load<MD5_CTX>(ctx_);
        if ((used_ != 0 && MD5_Update(&c, buf_, used_) != 1) || MD5_Final(out, &c) != 1) {
            return 0;
        }
    } else {
        SHA256_CTX c = load<SHA256_CTX>(ctx_);
        if ((used_ != 0 && SHA256_Update(&c, buf_, used_) != 1) || SHA256_Final(out, &c) != 1) {
            return 0;
        }
    }
    if (slot != nullptr) {
        slot->key = key;
        slot->len = used_;
        slot->alg = alg_;
        std::memcpy(slot->digest, out, len);
        std::memcpy(slot->text, buf_, used_);
    }
    used_ = 0;
    return len;
}

void forget_remembered_digests() noexcept {
    for (DigestMemo::Entry& e : memo().entries) {
        e.len = 0;
    }
}

void to_hex(const uint8_t* p, size_t n, char* out) noexcept {
    static constexpr char kHex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; ++i) {
        out[2 * i] = kHex[p[i] >> 4];
        out[2 * i + 1] = kHex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

bool HmacSha256::set_key(const uint8_t* key, size_t key_len) noexcept {
    if (key_len > 64) {
        return false;
    }
    uint8_t pad[64];
    for (int round = 0; round < 2; ++round) {
        const uint8_t x = round == 0 ? 0x36 : 0x5c;
        for (size_t i = 0; i < 64; ++i) {
            pad[i] = static_cast<uint8_t>((i < key_len ? key[i] : 0) ^ x);
        }
        SHA256_CTX c;
        if (SHA256_Init(&c) != 1 || SHA256_Update(&c, pad, sizeof pad) != 1) {
            return false;
        }
        store(round == 0 ? inner_ : outer_, c);
    }
    return true;
}

bool HmacSha256::mac(const uint8_t* msg, size_t msg_len, uint8_t out[32]) const noexcept {
    uint8_t inner[SHA256_DIGEST_LENGTH];
    SHA256_CTX c = load<SHA256_CTX>(inner_);
    if (SHA256_Update(&c, msg, msg_len) != 1 || SHA256_Final(inner, &c) != 1) {
        return false;
    }
    c = load<SHA256_CTX>(outer_);
    return SHA256_Update(&c, inner, sizeof inner) == 1 && SHA256_Final(out, &c) == 1;
}

bool HmacSha256::expand_label(std::string_view label, uint8_t* out, size_t out_len) const noexcept {
    // HkdfLabel = length(2) || len("tls13 " + label)(1) || "tls13 " + label || context len 0 (1),
    // followed by HKDF-Expand's block counter 0x01. One block suffices for out_len <= 32.
    constexpr std::string_view kPrefix = "tls13 ";
    if (out_len == 0 || out_len > 32 || label.size() + kPrefix.size() > 255) {
        return false;
    }
    uint8_t info[2 + 1 + 255 + 1 + 1];
    size_t n = 0;
    info[n++] = 0;
    info[n++] = static_cast<uint8_t>(out_len);
    info[n++] = static_cast<uint8_t>(kPrefix.size() + label.size());
    std::memcpy(info + n, kPrefix.data(), kPrefix.size());
    n += kPrefix.size();
    std::memcpy(info + n, label.data(), label.size());
    n += label.size();
    info[n++] = 0;
    info[n++] = 1;
    uint8_t t[32];
    if (!mac(info, n, t)) {
        return false;
    }
    std::memcpy(out, t, out_len);
    return true;
}

bool hmac_sha256(const uint8_t* key, size_t key_len, const uint8_t* msg, size_t msg_len,
                 uint8_t out[32]) noexcept {
    HmacSha256 h;
    return h.set_key(key, key_len) && h.mac(msg, msg_len, out);
}

bool hkdf_extract(const uint8_t* salt, size_t salt_len, const uint8_t* ikm, size_t ikm_len,
                  uint8_t prk[32]) noexcept {
    return hmac_sha256(salt, salt_len, ikm, ikm_len, prk);
}

bool hkdf_expand_label(const uint8_t secret[32], std::string_view label, uint8_t* out,
                       size_t out_len) noexcept {
    HmacSha256 h;
    return h.set_key(secret, 32) && h.expand_label(label, out, out_len);
}
bool aes128_ecb_block(const uint8_t key[16], const uint8_t in[16], uint8_t out[16]) noexcept {
    ThreadState& s = state();
    if (s.ecb_ctx == nullptr || s.ecb == nullptr ||
        EVP_EncryptInit_ex2(s.ecb_ctx, s.ecb_ready ? nullptr : s.ecb, key, nullptr, nullptr) != 1) {
        return false;
    }
    s.ecb_ready = true;
    EVP_CIPHER_CTX_set_padding(s.ecb_ctx, 0);
    int len = 0;
    return EVP_EncryptUpdate(s.ecb_ctx, out, &len, in, 16) == 1 && len == 16;
}

bool aes128_gcm_open(const uint8_t key[16], const uint8_t iv[12], const uint8_t* aad, size_t aad_len,
                     const uint8_t* ct, size_t ct_len, const uint8_t tag[16], uint8_t* out) noexcept {
    ThreadState& s = state();
    if (s.gcm_ctx == nullptr || s.gcm == nullptr || aad_len > INT_MAX || ct_len > INT_MAX) {
        return false;
    }
    // The default GCM IV length is 12, which is QUIC's.
    if (EVP_DecryptInit_ex2(s.gcm_ctx, s.gcm_ready ? nullptr : s.gcm, key, iv, nullptr) != 1) {
        return false;
    }
    s.gcm_ready = true;
    int len = 0;
    if (aad_len != 0 && EVP_DecryptUpdate(s.gcm_ctx, nullptr, &len, aad, static_cast<int>(aad_len)) != 1) {
        return false;
    }
    if (ct_len != 0 && EVP_DecryptUpdate(s.gcm_ctx, out, &len, ct, static_cast<int>(ct_len)) != 1) {
        return false;
    }
    // set_ctx_params takes a non-const pointer but only reads the tag.
    uint8_t tag_copy[16];
    std::memcpy(tag_copy, tag, 16);
    if (EVP_CIPHER_CTX_ctrl(s.gcm_ctx, EVP_CTRL_GCM_SET_TAG, 16, tag_copy) != 1) {
        return false;
    }
    uint8_t tail[16];
    return EVP_DecryptFinal_ex(s.gcm_ctx, tail, &len) == 1;
}

}  // namespace weir::classify::crypto
