#include "classify/tls.hpp"

#include "classify/crypto.hpp"

#include <algorithm>
#include <cstring>

namespace weir::classify {

std::string_view to_string(ParseStatus s) {
    switch (s) {
    case ParseStatus::kOk: return "ok";
    case ParseStatus::kTruncated: return "truncated";
    case ParseStatus::kInvalid: return "invalid";
    }
    return "?";
}

namespace {

constexpr uint16_t kExtSni = 0x0000, kExtGroups = 0x000a, kExtPointFormats = 0x000b,
                   kExtSigAlgs = 0x000d, kExtAlpn = 0x0010, kExtSessionTicket = 0x0023,
                   kExtPsk = 0x0029, kExtEarlyData = 0x002a, kExtSupportedVersions = 0x002b,
                   kExtNpn = 0x3374, kExtEch = 0xfe0d;

// Bounds for the fingerprint sort buffers; a hello with more is fingerprinted without the rest
// (no real client comes near: browsers send ~16 ciphers and ~18 extensions).
constexpr size_t kMaxSorted = 256;

// SHA-256("HelloRetryRequest"), the ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3).
constexpr uint8_t kHrrRandom[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
                                    0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
                                    0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

uint8_t alpn_bit(const uint8_t* p, size_t n) {
    const std::string_view s(reinterpret_cast<const char*>(p), n);
    if (s.starts_with("http/1")) {
        return kAlpnHttp1;
    }
    if (s.starts_with("spdy/")) {
        return kAlpnSpdy;
    }
    if (s == "h2" || s.starts_with("h2-") || s == "h3" || s.starts_with("h3-")) {
        return kAlpnH2;
    }
    return kAlpnOther;
}

// Byte ranges of the fields the fingerprints need, found by the first pass.
struct Span {
    const uint8_t* p = nullptr;
    size_t n = 0;
};
struct HelloSpans {
    Span ciphers, extensions, groups, point_formats, sig_algs, first_alpn;
};

void hex_digest(crypto::HashStream& h, size_t keep_chars, char* out) {
    uint8_t d[crypto::kMaxDigest];
    const size_t n = h.finish(d);
    if (n == 0) {
        out[0] = '\0';
        return;
    }
    char hex[2 * crypto::kMaxDigest + 1];
    crypto::to_hex(d, n, hex);
    std::memcpy(out, hex, keep_chars);
    out[keep_chars] = '\0';
}

// JA3: "version,ciphers,extensions,groups,point_formats", decimal, '-'-joined, GREASE removed.
// JA4's lists: sorted values as comma-separated 4-digit hex.
void put_hex_list(crypto::HashStream& hs, const uint16_t* v, size_t k) {
    for (size_t i = 0; i < k; ++i) {
        if (i != 0) {
            hs.put(',');
        }
        hs.put_hex4(v[i]);
    }
}

void compute_ja3(uint16_t version, const HelloSpans& s, FixedText<33>& out) {
    crypto::HashStream h(crypto::HashAlg::kMd5);
    h.put_dec(version);
    h.put(',');
    bool first = true;
    for (size_t i = 0; i + 1 < s.ciphers.n; i += 2) {
        const auto v = static_cast<uint16_t>(s.ciphers.p[i] << 8 | s.ciphers.p[i + 1]);
        if (!is_grease(v)) {
            if (!first) {
                h.put('-');
            }
            h.put_dec(v);
            first = false;
        }
    }
    h.put(',');
    first = true;
    Reader ext(s.extensions.p, s.extensions.n);
    while (ext.left() >= 4) {
        const uint16_t type = ext.u16();
        ext.skip(ext.u16());
        if (!ext.ok()) {
            break;
        }
        if (!is_grease(type)) {
            if (!first) {
                h.put('-');
            }
            h.put_dec(type);
            first = false;
        }
    }
    h.put(',');
    first = true;
    for (size_t i = 0; i + 1 < s.groups.n; i += 2) {
        const auto v = static_cast<uint16_t>(s.groups.p[i] << 8 | s.groups.p[i + 1]);
        if (!is_grease(v)) {
            if (!first) {
                h.put('-');
            }
            h.put_dec(v);
            first = false;
        }
    }
    h.put(',');
    for (size_t i = 0; i < s.point_formats.n; ++i) {
        if (i != 0) {
            h.put('-');
        }
        h.put_dec(s.point_formats.p[i]);
    }
    char hex[33];
    hex_digest(h, 32, hex);
    out.assign(hex, std::strlen(hex));
}

char alnum_or_zero(uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ? static_cast<char>(c) : 0;
}

// JA4 (FoxIO, https://github.com/FoxIO-LLC/ja4/blob/main/technical_details/JA4.md).
void compute_ja4(const TlsClientHello& h, TlsTransport t, const HelloSpans& s, FixedText<37>& out) {
    char a[11];
    a[0] = t == TlsTransport::kQuic ? 'q' : t == TlsTransport::kDtls ? 'd' : 't';
    const char* ver = "00";
    switch (h.max_version) {
    case 0x0304: ver = "13"; break;
    case 0x0303: ver = "12"; break;
    case 0x0302: ver = "11"; break;
    case 0x0301: ver = "10"; break;
    case 0x0300: ver = "s3"; break;
    case 0x0002: ver = "s2"; break;
    case 0xfeff: ver = "d1"; break;
    case 0xfefd: ver = "d2"; break;
    case 0xfefc: ver = "d3"; break;
    default: break;
    }
    a[1] = ver[0];
    a[2] = ver[1];
    a[3] = h.has_sni ? 'd' : 'i';
    const unsigned nc = std::min<unsigned>(h.cipher_count, 99), ne = std::min<unsigned>(h.ext_count, 99);
    a[4] = static_cast<char>('0' + nc / 10);
    a[5] = static_cast<char>('0' + nc % 10);
    a[6] = static_cast<char>('0' + ne / 10);
    a[7] = static_cast<char>('0' + ne % 10);
    a[8] = a[9] = '0';
    if (s.first_alpn.n != 0) {
        const uint8_t f = s.first_alpn.p[0], l = s.first_alpn.p[s.first_alpn.n - 1];
        if (alnum_or_zero(f) != 0 && alnum_or_zero(l) != 0) {
            a[8] = static_cast<char>(f);
            a[9] = static_cast<char>(l);
        } else {
            static constexpr char kHex[] = "0123456789abcdef";
            a[8] = kHex[f >> 4];
            a[9] = kHex[l & 15];
        }
    }
    a[10] = '\0';

    uint16_t sorted[kMaxSorted];
    size_t k = 0;
    for (size_t i = 0; i + 1 < s.ciphers.n && k < kMaxSorted; i += 2) {
        const auto v = static_cast<uint16_t>(s.ciphers.p[i] << 8 | s.ciphers.p[i + 1]);
        if (!is_grease(v)) {
            sorted[k++] = v;
        }
    }
    std::sort(sorted, sorted + k);
    char b[13] = "000000000000";
    if (k != 0) {
        crypto::HashStream hs(crypto::HashAlg::kSha256);
        put_hex_list(hs, sorted, k);
        hex_digest(hs, 12, b);
    }

    k = 0;
    Reader ext(s.extensions.p, s.extensions.n);
    while (ext.left() >= 4 && k < kMaxSorted) {
        const uint16_t type = ext.u16();
        ext.skip(ext.u16());
        if (!ext.ok()) {
            break;
        }
        if (!is_grease(type) && type != kExtSni && type != kExtAlpn) {
            sorted[k++] = type;
        }
    }
    std::sort(sorted, sorted + k);
    char c[13] = "000000000000";
    if (k != 0) {
        crypto::HashStream hs(crypto::HashAlg::kSha256);
        put_hex_list(hs, sorted, k);
        if (s.sig_algs.n >= 2) {
            hs.put('_');
            for (size_t i = 0; i + 1 < s.sig_algs.n; i += 2) {
                if (i != 0) {
                    hs.put(',');
                }
                hs.put_hex4(static_cast<uint16_t>(s.sig_algs.p[i] << 8 | s.sig_algs.p[i + 1]));
            }
        }
        hex_digest(hs, 12, c);
    }
    out.clear();
    out.append(a, 10);
    out.append("_");
    out.append(b, std::strlen(b));
    out.append("_");
    out.append(c, std::strlen(c));
}

void parse_alpn_list(Reader r, FixedText<128>& names, uint8_t& bits, Span* first) {
    Reader list = r.sub(r.u16());
    while (list.left() != 0) {
        const uint8_t len = list.u8();
        const uint8_t* name = list.here();
        if (!list.skip(len)) {
            break;
        }
        if (first != nullptr && first->p == nullptr) {
            first->p = name;
            first->n = len;
        }
        if (!names.empty()) {
            names.append(",");
        }
        names.append(name, len);
        if (len != 0) {
            bits = static_cast<uint8_t>(bits | alpn_bit(name, len) << 4);
        }
    }
}

// Handshake header: type and the body range. Truncated bodies are cut to what is present.
ParseStatus handshake_body(const uint8_t* p, size_t n, uint8_t want_type, Reader& body) {
    if (n < 4) {
        return n == 0 || p[0] == want_type ? ParseStatus::kTruncated : ParseStatus::kInvalid;
    }
    if (p[0] != want_type) {
        return ParseStatus::kInvalid;
    }
    const uint32_t len = uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
    if (len < 38) {  // version + random + session id length + at least the cipher list length
        return ParseStatus::kInvalid;
    }
    const bool cut = len > n - 4;
    body = Reader(p + 4, cut ? n - 4 : len);
    return cut ? ParseStatus::kTruncated : ParseStatus::kOk;
}

}  // namespace

ParseStatus parse_client_hello(const uint8_t* p, size_t n, TlsClientHello& out, TlsTransport transport) noexcept {
    out = TlsClientHello{};
    Reader r;
    const ParseStatus hs = handshake_body(p, n, 1, r);
    if (hs == ParseStatus::kInvalid || (hs == ParseStatus::kTruncated && n < 4)) {
        return hs;
    }
    HelloSpans spans;
    out.legacy_version = r.u16();
    if (r.ok() && (out.legacy_version >> 8) != 3 && (out.legacy_version >> 8) != 0xfe) {
        return ParseStatus::kInvalid;
    }
    out.max_version = out.legacy_version;
    r.skip(32);
    const uint8_t sid_len = r.u8();
    if (sid_len > 32) {
        return ParseStatus::kInvalid;
    }
    out.session_id_len = sid_len;
    r.skip(sid_len);
    if (transport == TlsTransport::kDtls) {
        r.skip(r.u8());  // cookie
    }
    const uint16_t cipher_bytes = r.u16();
    if (r.ok() && cipher_bytes % 2 != 0) {
        return ParseStatus::kInvalid;
    }
    spans.ciphers = {r.here(), cipher_bytes};
    r.skip(cipher_bytes);
    if (!r.ok()) {
        return hs == ParseStatus::kTruncated ? hs : ParseStatus::kInvalid;
    }
    for (size_t i = 0; i < cipher_bytes; i += 2) {
        out.cipher_count = static_cast<uint16_t>(out.cipher_count + !is_grease(static_cast<uint16_t>(spans.ciphers.p[i] << 8 | spans.ciphers.p[i + 1])));
    }
    r.skip(r.u8());  // compression methods
    if (!r.ok()) {
        return hs == ParseStatus::kTruncated ? hs : ParseStatus::kInvalid;
    }
    if (r.left() != 0) {  // extensions are optional (SSLv3-style hellos have none)
        const uint16_t ext_bytes = r.u16();
        spans.extensions = {r.here(), std::min<size_t>(ext_bytes, r.left())};
        Reader exts = r.sub(ext_bytes);
        if (!exts.ok()) {
            if (hs != ParseStatus::kTruncated) {
                return ParseStatus::kInvalid;
            }
            exts = Reader(spans.extensions.p, spans.extensions.n);  // read what is there
        }
        while (exts.left() != 0) {
            const uint16_t type = exts.u16();
            const uint16_t len = exts.u16();
            Reader e = exts.sub(len);
            if (!e.ok()) {
                if (hs != ParseStatus::kTruncated) {
                    return ParseStatus::kInvalid;
                }
                break;
            }
            if (!is_grease(type)) {
                ++out.ext_count;
            }
            switch (type) {
            case kExtSni: {
                out.has_sni = true;
                Reader list = e.sub(e.u16());
                while (list.left() != 0) {
                    const uint8_t name_type = list.u8();
                    const uint16_t name_len = list.u16();
                    const uint8_t* name = list.here();
                    if (!list.skip(name_len)) {
                        break;
                    }
                    if (name_type == 0 && out.sni.empty()) {
                        out.sni.assign(name, name_len);
                    }
                }
                break;
            }
            case kExtAlpn:
                out.has_alpn = true;
                parse_alpn_list(e, out.alpn, out.alpn_bits, &spans.first_alpn);
                break;
            case kExtSupportedVersions: {
                Reader list = e.sub(e.u8());
                uint16_t best = 0;
                while (list.left() >= 2) {
                    const uint16_t v = list.u16();
                    // DTLS versions count down (0xfefd = 1.2 > 0xfeff = 1.0): compare their complement.
                    const auto rank = [](uint16_t x) { return (x >> 8) == 0xfe ? static_cast<uint16_t>(~x & 0xff) : x; };
                    if (!is_grease(v) && (best == 0 || rank(v) > rank(best))) {
                        best = v;
                    }
                }
                if (best != 0) {
                    out.max_version = best;
                }
                break;
            }
            case kExtGroups: {
                const uint16_t gl = e.u16();
                spans.groups = {e.here(), e.left() < gl ? e.left() & ~size_t{1} : gl & ~size_t{1}};
                break;
            }
            case kExtPointFormats: {
                const uint8_t pl = e.u8();
                spans.point_formats = {e.here(), std::min<size_t>(pl, e.left())};
                break;
            }
            case kExtSigAlgs: {
                const uint16_t sl = e.u16();
                spans.sig_algs = {e.here(), e.left() < sl ? e.left() & ~size_t{1} : sl & ~size_t{1}};
                break;
            }
            case kExtSessionTicket: out.session_ticket = len != 0; break;
            case kExtPsk: out.psk = true; break;
            case kExtEarlyData: out.early_data = true; break;
            case kExtEch:
                out.ech = true;
                out.ech_len = len;
                break;
            case kExtNpn:
                out.npn = true;
                out.alpn_bits |= kAlpnOther;
                break;
            default: break;
            }
        }
    }
    if (hs == ParseStatus::kOk) {
        compute_ja3(out.legacy_version, spans, out.ja3);
        compute_ja4(out, transport, spans, out.ja4);
    }
    return hs;
}

ParseStatus parse_server_hello(const uint8_t* p, size_t n, TlsServerHello& out) noexcept {
    out = TlsServerHello{};
    Reader r;
    const ParseStatus hs = handshake_body(p, n, 2, r);
    if (hs == ParseStatus::kInvalid || (hs == ParseStatus::kTruncated && n < 4)) {
        return hs;
    }
    out.legacy_version = r.u16();
    if (r.ok() && (out.legacy_version >> 8) != 3 && (out.legacy_version >> 8) != 0xfe) {
        return ParseStatus::kInvalid;
    }
    out.version = out.legacy_version;
    if (r.left() >= 32) {
        out.hello_retry = std::memcmp(r.here(), kHrrRandom, 32) == 0;
    }
    r.skip(32);
    const uint8_t sid_len = r.u8();
    if (sid_len > 32) {
        return ParseStatus::kInvalid;
    }
    out.session_id_len = sid_len;
    r.skip(sid_len);
    out.cipher = r.u16();
    r.skip(1);  // compression method
    if (!r.ok()) {
        return hs == ParseStatus::kTruncated ? hs : ParseStatus::kInvalid;
    }
    Span exts_span;
    if (r.left() != 0) {
        const uint16_t ext_bytes = r.u16();
        exts_span = {r.here(), std::min<size_t>(ext_bytes, r.left())};
        Reader exts = r.sub(ext_bytes);
        if (!exts.ok()) {
            if (hs != ParseStatus::kTruncated) {
                return ParseStatus::kInvalid;
            }
            exts = Reader(exts_span.p, exts_span.n);
        }
        while (exts.left() != 0) {
            const uint16_t type = exts.u16();
            const uint16_t len = exts.u16();
            Reader e = exts.sub(len);
            if (!e.ok()) {
                if (hs != ParseStatus::kTruncated) {
                    return ParseStatus::kInvalid;
                }
                break;
            }
            switch (type) {
            case kExtSupportedVersions:
                if (len >= 2) {
                    out.version = e.u16();
                }
                break;
            case kExtAlpn: {
                FixedText<128> names;
                parse_alpn_list(e, names, out.alpn_bits, nullptr);
                out.alpn.assign(names.view());
                break;
            }
            case kExtPsk: out.psk = true; break;
            case kExtSessionTicket: out.session_ticket = true; break;
            case kExtNpn: out.alpn_bits |= kAlpnOther; break;
            default: break;
            }
        }
    }
    if (hs == ParseStatus::kOk) {
        // JA3S: "version,cipher,extensions" in decimal, extensions '-'-joined in order.
        crypto::HashStream h(crypto::HashAlg::kMd5);
        h.put_dec(out.legacy_version);
        h.put(',');
        h.put_dec(out.cipher);
        h.put(',');
        Reader exts(exts_span.p, exts_span.n);
        bool first = true;
        while (exts.left() >= 4) {
            const uint16_t type = exts.u16();
            exts.skip(exts.u16());
            if (!exts.ok()) {
                break;
            }
            if (!first) {
                h.put('-');
            }
            h.put_dec(type);
            first = false;
        }
        char hex[33];
        hex_digest(h, 32, hex);
        out.ja3s.assign(hex, std::strlen(hex));
    }
    return hs;
}

TlsRecordScan tls_handshake_from_records(const uint8_t* p, size_t n, uint8_t* dst, size_t cap) noexcept {
    TlsRecordScan s;
    Reader r(p, n);
    bool first = true;
    while (r.left() != 0) {
        if (r.left() < 5) {
            s.status = ParseStatus::kTruncated;
            return s;
        }
        const uint8_t type = r.u8();
        const uint16_t version = r.u16();
        const uint16_t len = r.u16();
        if (first && (type == 20 || type == 21) && (version >> 8) == 3 && len <= 16384 + 2048) {
            r.skip(len);  // an alert or ChangeCipherSpec before the hello (e.g. unrecognized_name)
            if (!r.ok()) {
                s.status = ParseStatus::kTruncated;
                return s;
            }
            continue;
        }
        if (type != 22 || (version >> 8) != 3 || len == 0 || len > 16384 + 2048) {
            if (first) {
                s.status = ParseStatus::kInvalid;
                return s;
            }
            break;  // handshake records end here (e.g. ChangeCipherSpec follows)
        }
        if (first) {
            s.record_version = version;
            first = false;
        }
        const size_t have = std::min<size_t>(len, r.left());
        const size_t room = cap - s.handshake_len;
        const size_t take = std::min(have, room);
        if (take != 0) {
            std::memcpy(dst + s.handshake_len, r.here(), take);
            s.handshake_len += take;
        }
        r.skip(have);
        if (have < len) {
            s.status = ParseStatus::kTruncated;
            return s;
        }
        s.consumed = r.pos();
        s.complete_len = s.handshake_len;
    }
    s.status = first ? ParseStatus::kInvalid : ParseStatus::kOk;
    return s;
}

bool looks_like_tls_record(const uint8_t* p, size_t n) noexcept {
    if (n < 5) {
        return false;
    }
    const uint16_t len = static_cast<uint16_t>(p[3] << 8 | p[4]);
    return p[0] >= 20 && p[0] <= 24 && p[1] == 3 && p[2] <= 4 && len != 0 && len <= 16384 + 2048;
}

}  // namespace weir::classify
