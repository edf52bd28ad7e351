// Addresses as text for logs, without printf: IPv4 dotted quads and RFC 5952 IPv6, identical to
// inet_ntop's output (tests/ip_text_test.cpp checks that).
#pragma once

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>

namespace weir::blocks {

inline std::string ip_text(uint8_t version, const std::array<uint8_t, 16>& a) {
    if (version == 4) {
        // Dotted quad by hand: inet_ntop goes through sprintf, and this runs twice per line.
        std::string out;
        out.reserve(15);
        for (std::size_t i = 0; i < 4; ++i) {
            char digits[4];
            const auto r = std::to_chars(digits, digits + sizeof digits, a[i]);
            out.append(digits, r.ptr);
            if (i < 3) {
                out += '.';
            }
        }
        return out;
    }
    static constexpr uint8_t kZero10[10] = {};
    if (version != 6 || std::memcmp(a.data(), kZero10, 10) == 0) {
        // ::/80 holds the IPv4-mapped and -compatible forms inet_ntop spells with a dotted quad.
        char buf[INET6_ADDRSTRLEN];
        inet_ntop(version == 6 ? AF_INET6 : AF_INET, a.data(), buf, sizeof buf);
        return buf;
    }
    // RFC 5952 by hand (inet_ntop formats through sprintf): lower-case hex groups without
    // leading zeros, the longest run of two or more zero groups (the first, on a tie) as "::".
    uint16_t g[8];
    for (int i = 0; i < 8; ++i) {
        g[i] = static_cast<uint16_t>(a[2 * i] << 8 | a[2 * i + 1]);
    }
    int best = -1;
    int best_len = 1;
    for (int i = 0; i < 8;) {
        if (g[i] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && g[j] == 0) {
            ++j;
        }
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    std::string out;
    out.reserve(39);
    for (int i = 0; i < 8; ++i) {
        if (i == best) {
            out += "::";
            i += best_len - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':') {
            out += ':';
        }
        char digits[4];
        const auto r = std::to_chars(digits, digits + sizeof digits, g[i], 16);
        out.append(digits, r.ptr);
    }
    return out;
}

}  // namespace weir::blocks
