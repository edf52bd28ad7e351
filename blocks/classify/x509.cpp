#include "classify/x509.hpp"

namespace weir::classify {

namespace {

// One DER element: tag, and the content's place. `ok` false when the header or the content runs
// past the end (`cut` then tells the caller the bytes stopped early rather than lied).
struct Der {
    uint8_t tag = 0;
    size_t start = 0;  // content offset
    size_t len = 0;
    bool header = false;  // tag and length were read
    bool ok = false;      // and the content lies within the bytes
    bool cut = false;     // the bytes end before the element does
};

Der der_at(const uint8_t* p, size_t n, size_t at) noexcept {
    Der d;
    if (at + 2 > n) {
        d.cut = true;
        return d;
    }
    d.tag = p[at];
    size_t len = p[at + 1];
    size_t pos = at + 2;
    if (len & 0x80) {
        const size_t bytes = len & 0x7f;
        if (bytes == 0 || bytes > 4) {
            return d;  // indefinite or absurd lengths are not DER
        }
        if (pos + bytes > n) {
            d.cut = true;
            return d;
        }
        len = 0;
        for (size_t i = 0; i < bytes; ++i) {
            len = len << 8 | p[pos + i];
        }
        pos += bytes;
    }
    d.start = pos;
    d.len = len;
    d.header = true;
    d.cut = pos + len > n;
    d.ok = !d.cut;
    return d;
}

ParseStatus status_of(const Der& d) noexcept { return d.cut ? ParseStatus::kTruncated : ParseStatus::kInvalid; }

}  // namespace

ParseStatus certificate_subject_cn(const uint8_t* p, size_t n, FixedText<64>& cn) noexcept {
    cn.clear();
    // Certificate SEQUENCE: its end may lie beyond the bytes we have (only the subject matters).
    // Certificate and tbsCertificate SEQUENCEs: their ends may lie beyond the bytes we have (only
    // the subject, early in tbsCertificate, matters).
    const Der cert = der_at(p, n, 0);
    if (!cert.header) {
        return cert.cut ? ParseStatus::kTruncated : ParseStatus::kInvalid;
    }
    if (cert.tag != 0x30) {
        return ParseStatus::kInvalid;
    }
    const Der tbs = der_at(p, n, cert.start);
    if (!tbs.header) {
        return tbs.cut ? ParseStatus::kTruncated : ParseStatus::kInvalid;
    }
    if (tbs.tag != 0x30) {
        return ParseStatus::kInvalid;
    }
    size_t at = tbs.start;
    // version [0] EXPLICIT (optional), serialNumber, signature, issuer, validity, subject.
    Der d = der_at(p, n, at);
    if (d.ok && d.tag == 0xa0) {
        at = d.start + d.len;
    }
    for (int field = 0; field < 5; ++field) {
        d = der_at(p, n, at);
        if (!d.ok) {
            return status_of(d);
        }
        static constexpr uint8_t kTags[5] = {0x02, 0x30, 0x30, 0x30, 0x30};
        if (d.tag != kTags[field]) {
            return ParseStatus::kInvalid;
        }
        if (field < 4) {
            at = d.start + d.len;
        }
    }
    // subject Name: SEQUENCE OF SET OF SEQUENCE { OID, value }.
    const size_t end = d.start + d.len;
    for (size_t rdn = d.start; rdn < end;) {
        const Der set = der_at(p, end, rdn);
        if (!set.ok || set.tag != 0x31) {
            return ParseStatus::kInvalid;
        }
        for (size_t atv = set.start; atv < set.start + set.len;) {
            const Der seq = der_at(p, set.start + set.len, atv);
            if (!seq.ok || seq.tag != 0x30) {
                return ParseStatus::kInvalid;
            }
            const Der oid = der_at(p, seq.start + seq.len, seq.start);
            if (!oid.ok || oid.tag != 0x06) {
                return ParseStatus::kInvalid;
            }
            const Der value = der_at(p, seq.start + seq.len, oid.start + oid.len);
            if (!value.ok) {
                return ParseStatus::kInvalid;
            }
            static constexpr uint8_t kCn[3] = {0x55, 0x04, 0x03};
            // UTF8String, PrintableString, TeletexString, IA5String: bytes as they are.
            const bool text = value.tag == 0x0c || value.tag == 0x13 || value.tag == 0x14 || value.tag == 0x16;
            if (oid.len == 3 && p[oid.start] == kCn[0] && p[oid.start + 1] == kCn[1] && p[oid.start + 2] == kCn[2] &&
                text && cn.empty()) {
                cn.assign(p + value.start, value.len);
            }
            atv = seq.start + seq.len;
        }
        rdn = set.start + set.len;
    }
    return ParseStatus::kOk;
}

ParseStatus server_certificate_cn(const uint8_t* hs, size_t n, FixedText<64>& cn) noexcept {
    cn.clear();
    size_t at = 0;
    while (at + 4 <= n) {
        const uint8_t type = hs[at];
        const size_t len = size_t{hs[at + 1]} << 16 | size_t{hs[at + 2]} << 8 | hs[at + 3];
        const size_t body = at + 4;
        if (type == 11) {
            // Certificate: 3-byte list length, then per certificate a 3-byte length and DER.
            if (body + 6 > n) {
                return ParseStatus::kTruncated;
            }
            const size_t first = size_t{hs[body + 3]} << 16 | size_t{hs[body + 4]} << 8 | hs[body + 5];
            if (first == 0 || first + 6 > len) {
                return first == 0 ? ParseStatus::kOk : ParseStatus::kInvalid;
            }
            const size_t have = n - (body + 6);
            return certificate_subject_cn(hs + body + 6, have < first ? have : first, cn);
        }
        if (type != 2 && type != 8) {
            return ParseStatus::kOk;  // ServerKeyExchange, ServerHelloDone...: no certificate sent
        }
        at = body + len;  // ServerHello (2) or EncryptedExtensions (8) before it
    }
    return ParseStatus::kTruncated;  // the flight continues in the next segment
}

}  // namespace weir::classify
