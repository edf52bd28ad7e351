// The server certificate's subject common name (Tstat's s_tls_SCN), from the handshake bytes of
// a TLS 1.2-or-earlier server flight: ServerHello, then Certificate with the leaf certificate
// first. A bounded DER walk (tbsCertificate -> subject -> the first 2.5.4.3 attribute); no
// allocation, no read outside the range. TLS 1.3 encrypts the Certificate message: nothing to read.
#pragma once

#include "classify/text.hpp"

#include <cstddef>
#include <cstdint>

namespace weir::classify {

// `hs` = handshake messages without record headers (as tls_handshake_from_records gives them).
// kOk: a Certificate message was found and `cn` holds its leaf's subject CN (empty if the subject
// has none), or the flight has no Certificate (resumption: `cn` empty). kTruncated: the leaf
// certificate's subject is not complete yet. kInvalid: malformed.
ParseStatus server_certificate_cn(const uint8_t* hs, size_t n, FixedText<64>& cn) noexcept;

// The subject CN of one DER certificate (exposed for tests and fuzzing).
ParseStatus certificate_subject_cn(const uint8_t* der, size_t n, FixedText<64>& cn) noexcept;

}  // namespace weir::classify
