#include "classify/crypto.hpp"

#include <openssl/evp.h>

#include <climits>
#include <cstring>

namespace weir::classify::crypto {
namespace {

// Per-thread OpenSSL state: algorithms fetched once, contexts reused (initialised with a NULL
// algorithm after the first time, which keeps their provider state instead of reallocating it).
struct ThreadState {
    EVP_MD* md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
    EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_CIPHER* ecb = EVP_CIPHER_fetch(nullptr, "AES-128-ECB", nullptr);
    EVP_CIPHER* gcm = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
    EVP_MD_CTX* md5_ctx = EVP_MD_CTX_new();
    EVP_MD_CTX* sha_ctx = EVP_MD_CTX_new();
    EVP_CIPHER_CTX* ecb_ctx = EVP_CIPHER_CTX_new();
    EVP_CIPHER_CTX* gcm_ctx = EVP_CIPHER_CTX_new();
    bool md5_ready = false, sha_ready = false, ecb_ready = false, gcm_ready = false;

    ThreadState() = default;
    ThreadState(const ThreadState&) = delete;
    ThreadState& operator=(const ThreadState&) = delete;
    ~ThreadState() {
        EVP_MD_CTX_free(md5_ctx);
        EVP_MD_CTX_free(sha_ctx);
        EVP_CIPHER_CTX_free(ecb_ctx);
        EVP_CIPHER_CTX_free(gcm_ctx);
        EVP_MD_free(md5);
        EVP_MD_free(sha256);
        EVP_CIPHER_free(ecb);
        EVP_CIPHER_free(gcm);
    }
};

ThreadState& state() {
    thread_local ThreadState s;
    return s;
}

EVP_MD_CTX* begin_hash(HashAlg alg) {
    ThreadState& s = state();
    EVP_MD_CTX* ctx = alg == HashAlg::kMd5 ? s.md5_ctx : s.sha_ctx;
    bool& ready = alg == HashAlg::kMd5 ? s.md5_ready : s.sha_ready;
    const EVP_MD* md = alg == HashAlg::kMd5 ? s.md5 : s.sha256;
    if (ctx == nullptr || md == nullptr) {
        return nullptr;
    }
    if (EVP_DigestInit_ex2(ctx, ready ? nullptr : md, nullptr) != 1) {
        return nullptr;
    }
    ready = true;
    return ctx;
}

}  // namespace

HashStream::HashStream(HashAlg alg) noexcept : ctx_(begin_hash(alg)) { failed_ = ctx_ == nullptr; }

HashStream::~HashStream() = default;

void HashStream::flush() noexcept {
    if (used_ != 0 && !failed_) {
        failed_ = EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), buf_, used_) != 1;
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
    if (!failed_) {
        failed_ = EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), p, n) != 1;
    }
}

void HashStream::put_dec(uint32_t v) noexcept {
    char tmp[10];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    update(tmp + i, sizeof tmp - i);
}

void HashStream::put_hex4(uint16_t v) noexcept {
    static constexpr char kHex[] = "0123456789abcdef";
    const char t[4] = {kHex[v >> 12], kHex[(v >> 8) & 15], kHex[(v >> 4) & 15], kHex[v & 15]};
    update(t, 4);
}

size_t HashStream::finish(uint8_t* out) noexcept {
    flush();
    unsigned int len = 0;
    if (failed_ || EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out, &len) != 1) {
        return 0;
    }
    return len;
}

void to_hex(const uint8_t* p, size_t n, char* out) noexcept {
    static constexpr char kHex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; ++i) {
        out[2 * i] = kHex[p[i] >> 4];
        out[2 * i + 1] = kHex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

bool hmac_sha256(const uint8_t* key, size_t key_len, const uint8_t* msg, size_t msg_len,
                 uint8_t out[32]) noexcept {
    if (key_len > 64) {
        return false;
    }
    uint8_t pad[64];
    uint8_t inner[32];
    for (size_t i = 0; i < 64; ++i) {
        pad[i] = static_cast<uint8_t>((i < key_len ? key[i] : 0) ^ 0x36);
    }
    {
        HashStream h(HashAlg::kSha256);
        h.update(pad, sizeof pad);
        h.update(msg, msg_len);
        if (h.finish(inner) != 32) {
            return false;
        }
    }
    for (size_t i = 0; i < 64; ++i) {
        pad[i] = static_cast<uint8_t>((i < key_len ? key[i] : 0) ^ 0x5c);
    }
    HashStream h(HashAlg::kSha256);
    h.update(pad, sizeof pad);
    h.update(inner, sizeof inner);
    return h.finish(out) == 32;
}

bool hkdf_extract(const uint8_t* salt, size_t salt_len, const uint8_t* ikm, size_t ikm_len,
                  uint8_t prk[32]) noexcept {
    return hmac_sha256(salt, salt_len, ikm, ikm_len, prk);
}

bool hkdf_expand_label(const uint8_t secret[32], std::string_view label, uint8_t* out,
                       size_t out_len) noexcept {
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
    if (!hmac_sha256(secret, 32, info, n, t)) {
        return false;
    }
    std::memcpy(out, t, out_len);
    return true;
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
