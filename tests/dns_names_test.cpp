// DN-Hunter's table (blocks/flow/dns_names.hpp): lookup rules, replacement, sharing per engine
// and group, and concurrent writers and readers (run under TSan in CI).
#include <flow/dns_names.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using weir::flow::DnsNames;

namespace {

std::array<uint8_t, 16> v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return {a, b, c, d}; }

// "<prefix><number>" without GCC 12's -Wrestrict false positive on "literal" + std::string.
std::string label(std::string prefix, int64_t number) {
    prefix += std::to_string(number);
    return prefix;
}

DnsNames::Name answer(const std::array<uint8_t, 16>& client, const std::array<uint8_t, 16>& server, int64_t ts,
                      const std::string& name) {
    DnsNames::Name n;
    n.client = client;
    n.server = server;
    n.resolver = v4(192, 168, 1, 1);
    n.ts_ns = ts;
    n.query_ns = ts - 1000;
    n.ip_version = 4;
    n.len = static_cast<uint8_t>(name.size());
    std::memcpy(n.name, name.data(), name.size());
    return n;
}

}  // namespace

TEST(DnsNames, NamesAFlowAfterItsAnswerOnly) {
    DnsNames t(64);
    const auto c = v4(10, 0, 0, 1), s = v4(93, 184, 216, 34);
    ASSERT_TRUE(t.learn(answer(c, s, 5000, "example.org")));
    DnsNames::Name out;
    EXPECT_FALSE(t.find(4, c, s, 4999, out)) << "a flow that began before the answer";
    ASSERT_TRUE(t.find(4, c, s, 5000, out));
    EXPECT_EQ(out.view(), "example.org");
    EXPECT_EQ(out.resolver, v4(192, 168, 1, 1));
    EXPECT_EQ(out.query_ns, 4000);
    EXPECT_FALSE(t.find(4, v4(10, 0, 0, 2), s, 9000, out)) << "another client did not resolve it";
    EXPECT_FALSE(t.find(6, c, s, 9000, out)) << "another family";
    // The same pair answered again: replaced, not duplicated.
    ASSERT_TRUE(t.learn(answer(c, s, 7000, "www.example.org")));
    ASSERT_TRUE(t.find(4, c, s, 8000, out));
    EXPECT_EQ(out.view(), "www.example.org");
}

TEST(DnsNames, ABusySetForgetsItsOldestAnswer) {
    DnsNames t(4);  // one set of 4 ways
    const auto c = v4(10, 0, 0, 1);
    for (uint8_t i = 0; i < 5; ++i) {
        ASSERT_TRUE(t.learn(answer(c, v4(1, 1, 1, i), 1000 + i, label("n", i))));
    }
    DnsNames::Name out;
    EXPECT_FALSE(t.find(4, c, v4(1, 1, 1, 0), 9999, out)) << "the oldest way was replaced";
    for (uint8_t i = 1; i < 5; ++i) {
        ASSERT_TRUE(t.find(4, c, v4(1, 1, 1, i), 9999, out)) << int{i};
        EXPECT_EQ(out.view(), label("n", i));
    }
}

TEST(DnsNames, SharedPerEngineAndGroup) {
    int engine_a = 0, engine_b = 0;
    auto a1 = DnsNames::shared(&engine_a, "meters", 1024);
    auto a2 = DnsNames::shared(&engine_a, "meters", 1024);
    auto b1 = DnsNames::shared(&engine_b, "meters", 1024);
    auto a3 = DnsNames::shared(&engine_a, "other", 1024);
    EXPECT_EQ(a1.get(), a2.get());
    EXPECT_NE(a1.get(), b1.get()) << "another engine (a test running beside) has its own";
    EXPECT_NE(a1.get(), a3.get());
    // Freed with its last holder: a new composition in the same process starts empty.
    DnsNames::Name out;
    ASSERT_TRUE(a1->learn(answer(v4(10, 0, 0, 1), v4(1, 1, 1, 1), 10, "x")));
    a1.reset();
    a2.reset();
    EXPECT_FALSE(DnsNames::shared(&engine_a, "meters", 1024)->find(4, v4(10, 0, 0, 1), v4(1, 1, 1, 1), 99, out));
}

// Two writers and two readers on a small table: a reader either misses or gets an entry exactly
// as one writer wrote it (its name spells its server and time), never a mix of two.
TEST(DnsNames, ConcurrentWritersAndReadersNeverSeeATornEntry) {
    DnsNames t(16);
    const auto c = v4(10, 0, 0, 1);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> torn{0}, hits{0}, written{0};
    const auto name_of = [](uint8_t server, int64_t ts) { return label(label("", server) + "-", ts); };
    std::vector<std::thread> threads;
    for (int w = 0; w < 2; ++w) {
        threads.emplace_back([&, w] {
            for (int64_t ts = 1; ts < 40000; ++ts) {
                const auto server = static_cast<uint8_t>((ts * 7 + w) % 24);
                written += t.learn(answer(c, v4(1, 1, 1, server), ts * 2 + w, name_of(server, ts * 2 + w))) ? 1 : 0;
            }
        });
    }
    for (int r = 0; r < 2; ++r) {
        threads.emplace_back([&] {
            DnsNames::Name out;
            while (!stop.load(std::memory_order_relaxed)) {
                for (uint8_t server = 0; server < 24; ++server) {
                    if (t.find(4, c, v4(1, 1, 1, server), INT64_MAX, out)) {
                        hits.fetch_add(1, std::memory_order_relaxed);
                        if (out.view() != name_of(server, out.ts_ns) || out.query_ns != out.ts_ns - 1000) {
                            torn.fetch_add(1, std::memory_order_relaxed);
                        }
                    }
                }
            }
        });
    }
    threads[0].join();
    threads[1].join();
    stop = true;
    threads[2].join();
    threads[3].join();
    EXPECT_EQ(torn.load(), 0u);
    EXPECT_GT(hits.load(), 0u);
    EXPECT_GT(written.load(), 70000u) << "a writer rarely finds a slot busy";
}
