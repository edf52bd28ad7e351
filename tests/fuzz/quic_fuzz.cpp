// libFuzzer target: QUIC Initial handling. Mode 0: the input is a datagram, decrypted as a client
// and as a server packet. Mode 1: the input is the plaintext of an Initial (frames), which this
// target encrypts with the v1 Initial keys, so the frame parser, CRYPTO reassembly and the TLS
// ClientHello parser behind the AEAD get fuzzed too; decryption must then succeed and return the
// same plaintext (a differential check of header protection and AES-GCM against EVP directly).
#include <classify/crypto.hpp>
#include <classify/quic.hpp>
#include <classify/tls.hpp>

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

using namespace weir::classify;

namespace {

bool seal(const uint8_t key[16], const uint8_t nonce[12], const uint8_t* aad, size_t aad_len, const uint8_t* pt,
          size_t n, uint8_t* out) {
    EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
    int len = 0;
    bool ok = c != nullptr && EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), nullptr, key, nonce) == 1 &&
              EVP_EncryptUpdate(c, nullptr, &len, aad, static_cast<int>(aad_len)) == 1 &&
              (n == 0 || EVP_EncryptUpdate(c, out, &len, pt, static_cast<int>(n)) == 1) &&
              EVP_EncryptFinal_ex(c, out + n, &len) == 1 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + n) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static auto scratch = std::make_unique<QuicScratch>();
    static auto crypto_buf = std::make_unique<QuicCryptoBuffer>();
    static auto hello = std::make_unique<TlsClientHello>();
    static auto server = std::make_unique<TlsServerHello>();
    if (size == 0) {
        return 0;
    }
    QuicInitialInfo info;
    if ((data[0] & 1) == 0 || size > 1400) {
        const uint8_t* p = data + 1;
        const size_t n = size - 1;
        (void)parse_quic_client_initial(p, n, *scratch, *crypto_buf, info, *hello);
        const uint8_t odcid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        crypto_buf->reset();
        if (decrypt_quic_initial(p, n, odcid, sizeof odcid, true, *scratch, *crypto_buf, info) == ParseStatus::kOk) {
            (void)parse_server_hello(crypto_buf->data, crypto_buf->contiguous(), *server);
        }
        if (crypto_buf->contiguous() > QuicCryptoBuffer::kCapacity) {
            __builtin_trap();
        }
        return 0;
    }
    // Build a protected v1 client Initial around the plaintext.
    const uint8_t* pt = data + 1;
    const size_t pt_len = size - 1;
    static constexpr uint8_t kSalt[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                          0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
    const uint8_t dcid[8] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};
    uint8_t initial[32], secret[32], key[16], iv[12], hp[16];
    if (!crypto::hkdf_extract(kSalt, 20, dcid, 8, initial) || !crypto::hkdf_expand_label(initial, "client in", secret, 32) ||
        !crypto::hkdf_expand_label(secret, "quic key", key, 16) || !crypto::hkdf_expand_label(secret, "quic iv", iv, 12) ||
        !crypto::hkdf_expand_label(secret, "quic hp", hp, 16)) {
        __builtin_trap();
    }
    static uint8_t pkt[2048];
    size_t h = 0;
    pkt[h++] = 0xc3;  // long header, Initial, 4-byte packet number
    pkt[h++] = 0;
    pkt[h++] = 0;
    pkt[h++] = 0;
    pkt[h++] = 1;
    pkt[h++] = 8;
    std::memcpy(pkt + h, dcid, 8);
    h += 8;
    pkt[h++] = 0;  // SCID
    pkt[h++] = 0;  // token
    const size_t length = 4 + pt_len + 16;
    pkt[h++] = static_cast<uint8_t>(0x40 | length >> 8);
    pkt[h++] = static_cast<uint8_t>(length);
    const size_t pn_off = h;
    const uint32_t pn = 7;
    for (int i = 3; i >= 0; --i) {
        pkt[h++] = static_cast<uint8_t>(pn >> (8 * i));
    }
    uint8_t nonce[12];
    std::memcpy(nonce, iv, 12);
    nonce[11] ^= static_cast<uint8_t>(pn);
    if (!seal(key, nonce, pkt, h, pt, pt_len, pkt + h)) {
        __builtin_trap();
    }
    const size_t total = h + pt_len + 16;
    uint8_t mask[16];
    if (!crypto::aes128_ecb_block(hp, pkt + pn_off + 4, mask)) {
        __builtin_trap();
    }
    pkt[0] ^= mask[0] & 0x0f;
    for (int i = 0; i < 4; ++i) {
        pkt[pn_off + static_cast<size_t>(i)] ^= mask[1 + i];
    }
    const QuicClientHelloResult r = parse_quic_client_initial(pkt, total, *scratch, *crypto_buf, info, *hello);
    if (info.packet_number != pn || !info.decrypted || info.plain_len != pt_len ||
        std::memcmp(scratch->plain, pt, pt_len) != 0) {
        __builtin_trap();  // our decryption disagrees with EVP's encryption
    }
    (void)r;
    return 0;
}
