// The log writer's address text equals inet_ntop's, for IPv4 and every shape of IPv6 address.
#include <export/ip_text.hpp>

#include <gtest/gtest.h>

#include <random>

namespace weir::testing {
namespace {

std::string reference(uint8_t version, const std::array<uint8_t, 16>& a) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(version == 6 ? AF_INET6 : AF_INET, a.data(), buf, sizeof buf);
    return buf;
}

TEST(IpText, EqualsInetNtop) {
    std::mt19937_64 rng(7);
    std::size_t checked = 0;
    // Random addresses whose 16-bit groups are each zero or not (every run shape), and full ones.
    for (int n = 0; n < 200000; ++n) {
        std::array<uint8_t, 16> a{};
        const uint64_t mask = rng();
        for (int gi = 0; gi < 8; ++gi) {
            if (((mask >> gi) & 1) != 0 || n % 7 == 0) {
                const auto v = static_cast<uint16_t>(rng() % (n % 3 == 0 ? 16 : 65536));
                a[2 * gi] = static_cast<uint8_t>(v >> 8);
                a[2 * gi + 1] = static_cast<uint8_t>(v);
            }
        }
        ASSERT_EQ(blocks::ip_text(6, a), reference(6, a));
        std::array<uint8_t, 16> v4{};
        std::memcpy(v4.data(), a.data(), 4);
        ASSERT_EQ(blocks::ip_text(4, v4), reference(4, v4));
        ++checked;
    }
    for (const char* text : {"::", "::1", "::ffff:10.1.2.3", "::10.1.2.3", "2001:db8::", "fe80::1",
                             "2001:db8:0:0:1:0:0:1", "1:0:0:2:0:0:0:3", "0:0:1::", "2001:0:0:1::"}) {
        std::array<uint8_t, 16> a{};
        ASSERT_EQ(inet_pton(AF_INET6, text, a.data()), 1) << text;
        EXPECT_EQ(blocks::ip_text(6, a), reference(6, a)) << text;
    }
    EXPECT_EQ(checked, 200000u);
}

}  // namespace
}  // namespace weir::testing
