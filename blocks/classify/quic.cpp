#include "classify/quic.hpp"

#include "classify/crypto.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace weir::classify {
namespace {

constexpr uint8_t kSaltV1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
constexpr uint8_t kSaltV2[20] = {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
                                 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9};
constexpr uint8_t kSaltDraft29[20] = {0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97,
                                      0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99};
constexpr uint8_t kSaltDraft23[20] = {0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7,
                                      0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65, 0xbe, 0xf9, 0xf5, 0x02};

// Initial salt of a version, nullptr if unknown. Drafts 23-28 share one salt, 29-32 the next,
// 33-34 moved to the RFC 9001 salt.
const uint8_t* initial_salt(uint32_t version) {
    if (version == kQuicV1) return kSaltV1;
    if (version == kQuicV2) return kSaltV2;
    if (version >= 0xff00001b && version <= 0xff00001c) return kSaltDraft23;
    if (version >= 0xff00001d && version <= 0xff000020) return kSaltDraft29;
    if (version >= 0xff000021 && version <= 0xff000022) return kSaltV1;
    return nullptr;
}

// The salts as HMAC keys, prepared once: HKDF-Extract is an HMAC keyed by the salt.
struct SaltKeys {
    crypto::HmacSha256 v1, v2, draft29, draft23;
    SaltKeys() noexcept {
        v1.set_key(kSaltV1, 20);
        v2.set_key(kSaltV2, 20);
        draft29.set_key(kSaltDraft29, 20);
        draft23.set_key(kSaltDraft23, 20);
    }
};

const crypto::HmacSha256* initial_salt_key(uint32_t version) {
    static const SaltKeys keys;
    const uint8_t* salt = initial_salt(version);
    return salt == kSaltV1 ? &keys.v1 : salt == kSaltV2 ? &keys.v2 : salt == kSaltDraft29 ? &keys.draft29
                           : salt == kSaltDraft23 ? &keys.draft23 : nullptr;
}

}  // namespace

bool quic_version_supported(uint32_t version) noexcept { return initial_salt(version) != nullptr; }

const QuicKeys* QuicKeyCache::get(uint32_t version, const uint8_t* dcid, size_t dcid_len, bool from_server) noexcept {
    const crypto::HmacSha256* salt = initial_salt_key(version);
    if (salt == nullptr || dcid_len > 20) {
        return nullptr;
    }
    uint32_t h = 2166136261u ^ version;  // FNV-1a over the DCID
    for (size_t i = 0; i < dcid_len; ++i) {
        h = (h ^ dcid[i]) * 16777619u;
    }
    Entry& e = entries_[(h ^ h >> 16) & (kEntries - 1)];
    if (e.version != version || e.dcid_len != dcid_len || std::memcmp(e.dcid, dcid, dcid_len) != 0) {
        // Keys (RFC 9001 5.2): initial_secret = HKDF-Extract(salt, DCID).
        e.version = 0;
        if (!salt->mac(dcid, dcid_len, e.initial)) {
            return nullptr;
        }
        e.version = version;
        e.dcid_len = static_cast<uint8_t>(dcid_len);
        std::memcpy(e.dcid, dcid, dcid_len);
        e.have = 0;
    }
    const int d = from_server ? 1 : 0;
    if ((e.have & (1u << d)) == 0) {
        // Per direction: its secret, then key, IV and header protection key (RFC 9369 3.3.2 for
        // the v2 labels).
        const bool v2 = version == kQuicV2;
        uint8_t secret[32];
        crypto::HmacSha256 initial, s;
        QuicKeys& k = e.keys[d];
        if (!initial.set_key(e.initial, sizeof e.initial) ||
            !initial.expand_label(from_server ? "server in" : "client in", secret, 32) ||
            !s.set_key(secret, sizeof secret) || !s.expand_label(v2 ? "quicv2 key" : "quic key", k.key, 16) ||
            !s.expand_label(v2 ? "quicv2 iv" : "quic iv", k.iv, 12) ||
            !s.expand_label(v2 ? "quicv2 hp" : "quic hp", k.hp, 16)) {
            return nullptr;
        }
        e.have = static_cast<uint8_t>(e.have | (1u << d));
    }
    return &e.keys[d];
}

ParseStatus parse_quic_long_header(const uint8_t* p, size_t n, QuicLongHeader& out) noexcept {
    out = QuicLongHeader{};
    Reader r(p, n);
    const uint8_t b0 = r.u8();
    out.version = r.u32();
    if (!r.ok()) {
        return n != 0 && (p[0] & 0x80) == 0 ? ParseStatus::kInvalid : ParseStatus::kTruncated;
    }
    if ((b0 & 0x80) == 0 || out.version == 0) {
        return ParseStatus::kInvalid;  // short header, or version negotiation
    }
    const uint8_t raw_type = (b0 >> 4) & 3;
    out.type = out.version == kQuicV2 ? static_cast<uint8_t>((raw_type + 3) & 3) : raw_type;
    out.dcid_len = r.u8();
    if (out.dcid_len > 20) {
        return ParseStatus::kInvalid;
    }
    if (r.left() >= out.dcid_len) std::memcpy(out.dcid, r.here(), out.dcid_len);
    r.skip(out.dcid_len);
    out.scid_len = r.u8();
    if (r.ok() && out.scid_len > 20) {
        return ParseStatus::kInvalid;
    }
    if (r.left() >= out.scid_len) std::memcpy(out.scid, r.here(), out.scid_len);
    r.skip(out.scid_len);
    if (!r.ok()) {
        return ParseStatus::kTruncated;
    }
    if (out.type == 3) {  // Retry: token and integrity tag, no length field
        out.packet_len = static_cast<uint32_t>(n);
        return ParseStatus::kOk;
    }
    if (out.type == 0) {
        const uint64_t token_len = r.varint();
        if (r.ok() && token_len > 0xffff) {
            return ParseStatus::kInvalid;
        }
        out.token_len = static_cast<uint32_t>(token_len);
        r.skip(out.token_len);
    }
    const uint64_t length = r.varint();
    if (!r.ok()) {
        return ParseStatus::kTruncated;
    }
    if (length > 0xffff || length < 20) {  // a packet number plus a 16-byte tag at least
        return ParseStatus::kInvalid;
    }
    out.pn_offset = static_cast<uint32_t>(r.pos());
    out.packet_len = static_cast<uint32_t>(r.pos() + length);
    return r.left() < length ? ParseStatus::kTruncated : ParseStatus::kOk;
}

bool QuicCryptoBuffer::add(uint64_t offset, const uint8_t* p, size_t n) noexcept {
    if (offset >= kCapacity || n == 0) {
        return n == 0;
    }
    const size_t take = std::min<size_t>(n, kCapacity - offset);
    std::memcpy(data + offset, p, take);
    const Range r{static_cast<uint32_t>(offset), static_cast<uint32_t>(offset + take)};
    if (range_count < kMaxRanges) {
        ranges[range_count++] = r;
    } else {
        return false;
    }
    return take == n;
}

size_t QuicCryptoBuffer::contiguous() const noexcept {
    uint32_t end = 0;
    bool grew = true;
    while (grew) {
        grew = false;
        for (uint8_t i = 0; i < range_count; ++i) {
            if (ranges[i].begin <= end && ranges[i].end > end) {
                end = ranges[i].end;
                grew = true;
            }
        }
    }
    return end;
}

ParseStatus decrypt_quic_initial(const uint8_t* p, size_t n, const uint8_t* odcid, size_t odcid_len,
                                 bool from_server, QuicScratch& scratch, QuicCryptoBuffer& crypto,
                                 QuicInitialInfo& out) noexcept {
    out = QuicInitialInfo{};
    const ParseStatus hs = parse_quic_long_header(p, n, out.header);
    if (hs != ParseStatus::kOk) {
        return hs;
    }
    const QuicLongHeader& h = out.header;
    // The fixed bit is not checked: peers may grease it (RFC 9287).
    if (h.type != 0 || !quic_version_supported(h.version)) {
        return ParseStatus::kInvalid;
    }
    // Header protection (RFC 9001 5.4): the sample starts 4 bytes after the packet number.
    const size_t pn_off = h.pn_offset;
    if (pn_off + 4 + 16 > h.packet_len || pn_off + 4 > sizeof scratch.header) {
        return ParseStatus::kInvalid;
    }
    if (odcid == nullptr) {
        odcid = h.dcid;
        odcid_len = h.dcid_len;
    }
    const QuicKeys* keys = scratch.keys.get(h.version, odcid, odcid_len, from_server);
    if (keys == nullptr) {
        return ParseStatus::kInvalid;
    }
    uint8_t mask[16];
    if (!crypto::aes128_ecb_block(keys->hp, p + pn_off + 4, mask)) {
        return ParseStatus::kInvalid;
    }
    std::memcpy(scratch.header, p, pn_off + 4);
    scratch.header[0] = static_cast<uint8_t>(scratch.header[0] ^ (mask[0] & 0x0f));
    // The two reserved bits are zero in every Initial (RFC 9000 17.2, not greased): wrong keys or
    // a datagram that only looks like QUIC leave them random, and 3 in 4 stop here, before the AEAD.
    if ((scratch.header[0] & 0x0c) != 0) {
        return ParseStatus::kInvalid;
    }
    const size_t pn_len = (scratch.header[0] & 3u) + 1;
    uint64_t pn = 0;
    for (size_t i = 0; i < pn_len; ++i) {
        scratch.header[pn_off + i] = static_cast<uint8_t>(scratch.header[pn_off + i] ^ mask[1 + i]);
        pn = pn << 8 | scratch.header[pn_off + i];
    }
    out.packet_number = pn;
    const size_t hdr_len = pn_off + pn_len;
    const size_t ct_len = h.packet_len - hdr_len - 16;
    if (ct_len > sizeof scratch.plain) {
        return ParseStatus::kInvalid;
    }
    uint8_t nonce[12];
    std::memcpy(nonce, keys->iv, 12);
    for (size_t i = 0; i < 8; ++i) {
        nonce[11 - i] = static_cast<uint8_t>(nonce[11 - i] ^ (pn >> (8 * i) & 0xff));
    }
    if (!crypto::aes128_gcm_open(keys->key, nonce, scratch.header, hdr_len, p + hdr_len, ct_len,
                                 p + hdr_len + ct_len, scratch.plain)) {
        return ParseStatus::kInvalid;
    }
    out.decrypted = true;
    out.plain_len = ct_len;
    // Frames allowed in an Initial (RFC 9000 12.4): PADDING, PING, ACK, CRYPTO, CONNECTION_CLOSE.
    Reader f(scratch.plain, ct_len);
    while (f.left() != 0) {
        const uint64_t type = f.varint();
        switch (type) {
        case 0x00:
        case 0x01:
            break;
        case 0x02:
        case 0x03: {
            f.varint();
            f.varint();
            const uint64_t ranges = f.varint();
            f.varint();
            for (uint64_t i = 0; i < ranges && f.ok(); ++i) {
                f.varint();
                f.varint();
            }
            if (type == 0x03) {
                f.varint();
                f.varint();
                f.varint();
            }
            break;
        }
        case 0x06: {
            const uint64_t offset = f.varint();
            const uint64_t len = f.varint();
            const uint8_t* data = f.here();
            if (!f.skip(len)) {
                return ParseStatus::kInvalid;
            }
            crypto.add(offset, data, len);
            ++out.crypto_frames;
            break;
        }
        case 0x1c:
        case 0x1d:
            f.varint();
            if (type == 0x1c) {
                f.varint();
            }
            f.skip(f.varint());
            break;
        default:
            return ParseStatus::kInvalid;  // not allowed in an Initial
        }
        if (!f.ok()) {
            return ParseStatus::kInvalid;
        }
    }
    return ParseStatus::kOk;
}

QuicClientHelloResult parse_quic_client_initial(const uint8_t* p, size_t n, QuicScratch& scratch,
                                                QuicCryptoBuffer& crypto, QuicInitialInfo& info,
                                                TlsClientHello& hello) noexcept {
    QuicClientHelloResult res;
    crypto.reset();
    hello = TlsClientHello{};
    res.status = decrypt_quic_initial(p, n, nullptr, 0, false, scratch, crypto, info);
    if (res.status == ParseStatus::kOk) {
        res.hello_status = parse_client_hello(crypto.data, crypto.contiguous(), hello, TlsTransport::kQuic);
    }
    return res;
}

}  // namespace weir::classify
