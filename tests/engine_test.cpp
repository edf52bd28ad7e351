// The threaded core: rings, overflow policies, fan-out, finishing, failures, clocks, variables.
#include "test_blocks.hpp"
#include "test_util.hpp"

#include <weir/engine.hpp>
#include <weir/packet.hpp>
#include <weir/ring.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <thread>

namespace weir::testing {
namespace {

std::string pipeline(const std::string& policy, uint64_t count, uint32_t capacity, uint32_t work,
                     const std::string& checker_pool = "q") {
    return "<composition id=\"t\"><general><clock type=\"packet\"/></general><install>\n"
           "<threadpool id=\"p\" num_threads=\"1\"/><threadpool id=\"q\" num_threads=\"1\"/>\n"
           "<block id=\"src\" type=\"TestSeqSource\" invocation=\"async\" threadpool=\"p\">"
           "<params><seq count=\"" + std::to_string(count) + "\"/></params></block>\n"
           "<block id=\"chk\" type=\"TestSeqChecker\" invocation=\"indirect\" threadpool=\"" + checker_pool +
           "\"><params><seq work=\"" + std::to_string(work) + "\"/></params></block>\n"
           "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"chk\" dst_gate=\"in\" policy=\"" + policy +
           "\" capacity=\"" + std::to_string(capacity) + "\"/>\n"
           "</install></composition>\n";
}

TEST(SpscRing, MillionsAcrossThreadsArriveOnceInOrder) {
    SpscRing<uint64_t> ring(64);
    constexpr uint64_t kCount = 5'000'000;
    std::thread producer([&] {
        for (uint64_t i = 1; i <= kCount; ++i) {
            while (!ring.try_push(i)) {
                std::this_thread::yield();
            }
        }
    });
    uint64_t expected = 1;
    uint64_t v = 0;
    while (expected <= kCount) {
        if (ring.try_pop(v)) {
            ASSERT_EQ(v, expected);
            ++expected;
        }
    }
    producer.join();
    EXPECT_FALSE(ring.try_pop(v));
}

TEST(MpmcQueue, SeveralProducersNothingLostNothingDuplicated) {
    MpmcQueue<uint64_t> q(128);
    constexpr uint64_t kPerProducer = 500'000;
    constexpr int kProducers = 3;
    std::vector<std::thread> producers;
    for (int p = 0; p < kProducers; ++p) {
        producers.emplace_back([&, p] {
            for (uint64_t i = 0; i < kPerProducer; ++i) {
                const uint64_t item = static_cast<uint64_t>(p) * kPerProducer + i;
                while (!q.try_push(item)) {
                    std::this_thread::yield();
                }
            }
        });
    }
    std::vector<uint8_t> seen(kPerProducer * kProducers, 0);
    uint64_t got = 0;
    uint64_t v = 0;
    while (got < kPerProducer * kProducers) {
        if (q.try_pop(v)) {
            ASSERT_LT(v, seen.size());
            ASSERT_EQ(seen[v], 0) << "duplicate " << v;
            seen[v] = 1;
            ++got;
        }
    }
    for (auto& t : producers) {
        t.join();
    }
    EXPECT_FALSE(q.try_pop(v));
}

TEST(Engine, BlockPolicyLosesNothingAcrossThreads) {
    constexpr uint64_t kCount = 4'000'000;
    auto e = run_xml(pipeline("block", kCount, 4, 0));
    EXPECT_EQ(e->exit_code(), 0);
    EXPECT_EQ(read_u64(*e, "src", "sent"), kCount);
    EXPECT_EQ(read_u64(*e, "chk", "received"), kCount);
    EXPECT_EQ(read_u64(*e, "chk", "gaps"), 0u);
    EXPECT_EQ(read_u64(*e, "chk", "out_of_order"), 0u);
    EXPECT_EQ(read_u64(*e, "chk", "flushed"), 1u);
    const auto c = e->connections().at(0);
    EXPECT_EQ(c.dropped_packets, 0u);
    EXPECT_EQ(c.fill, 0u);
}

TEST(Engine, DropPolicyCountsEveryDrop) {
    constexpr uint64_t kCount = 2'000'000;
    auto e = run_xml(pipeline("drop", kCount, 2, 300));
    EXPECT_EQ(e->exit_code(), 0);
    const uint64_t received = read_u64(*e, "chk", "received");
    const auto c = e->connections().at(0);
    EXPECT_GT(c.dropped_packets, 0u) << "the slow consumer should have lost some batches";
    EXPECT_EQ(received + c.dropped_packets, kCount);
    EXPECT_EQ(read_u64(*e, "chk", "out_of_order"), 0u);
    EXPECT_EQ(c.messages + c.dropped_messages, (kCount + 31) / 32);
}

TEST(Engine, IndirectConsumerOnTheProducersThreadDoesNotDeadlock) {
    constexpr uint64_t kCount = 200'000;
    auto e = run_xml(pipeline("block", kCount, 2, 0, "p"));
    EXPECT_EQ(read_u64(*e, "chk", "received"), kCount);
    EXPECT_EQ(read_u64(*e, "chk", "gaps"), 0u);
}

TEST(Engine, FanOutDeliversEveryBatchToEveryBranch) {
    const std::string xml =
        "<composition id=\"t\"><general><clock type=\"packet\"/></general><install>\n"
        "<threadpool id=\"p\" num_threads=\"1\"/><threadpool id=\"q\" num_threads=\"2\"/>\n"
        "<block id=\"src\" type=\"TestSeqSource\" threadpool=\"p\"><params><seq count=\"300000\"/></params></block>\n"
        "<block id=\"a\" type=\"TestSeqChecker\"/>\n"
        "<block id=\"b\" type=\"TestSeqChecker\" invocation=\"indirect\" threadpool=\"q\"/>\n"
        "<block id=\"c\" type=\"PacketCounter\" invocation=\"indirect\" threadpool=\"q\"/>\n"
        "<block id=\"n\" type=\"Null\"/>\n"
        "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"a\" dst_gate=\"in\"/>\n"
        "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"b\" dst_gate=\"in\" capacity=\"8\"/>\n"
        "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"c\" dst_gate=\"in_pkt\" capacity=\"8\"/>\n"
        "<connection src_block=\"c\" src_gate=\"out_pkt\" dst_block=\"n\" dst_gate=\"in_msg\"/>\n"
        "</install></composition>\n";
    auto e = run_xml(xml);
    EXPECT_EQ(e->exit_code(), 0);
    EXPECT_EQ(read_u64(*e, "a", "received"), 300000u);
    EXPECT_EQ(read_u64(*e, "b", "received"), 300000u);
    EXPECT_EQ(read_u64(*e, "c", "pktcnt"), 300000u);
    EXPECT_EQ(read_u64(*e, "c", "bytecnt"), 300000u * 60);
    EXPECT_EQ(read_u64(*e, "n", "pktcnt"), 300000u);
    EXPECT_EQ(read_u64(*e, "b", "gaps"), 0u);
}

TEST(Engine, ThrowingBlockStopsTheCompositionAndIsNamed) {
    const std::string xml =
        "<composition id=\"t\"><install>\n"
        "<threadpool id=\"p\" num_threads=\"1\"/><threadpool id=\"q\" num_threads=\"1\"/>\n"
        "<block id=\"src\" type=\"TestSeqSource\" threadpool=\"p\"><params><seq endless=\"true\"/></params></block>\n"
        "<block id=\"boom\" type=\"TestThrower\" invocation=\"indirect\" threadpool=\"q\"><params><throw after=\"1000\"/></params></block>\n"
        "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"boom\" dst_gate=\"in\" policy=\"block\"/>\n"
        "</install></composition>\n";
    auto e = run_xml(xml);  // must finish although the source is endless
    EXPECT_EQ(e->exit_code(), 1);
    ASSERT_FALSE(e->errors().empty());
    EXPECT_NE(e->errors()[0].find("block 'boom' (TestThrower) failed: deliberate failure after 992 packets"),
              std::string::npos)
        << e->errors()[0];
    EXPECT_EQ(read_u64(*e, "boom", "received"), 992u);
    const auto stats = nlohmann::json::parse(e->stats_json());
    EXPECT_EQ(stats["exit_code"], 1);
    EXPECT_GT(stats["blocks"]["boom"]["variables"]["discarded_after_failure"].get<uint64_t>(), 0u);
}

TEST(Engine, ThrowingFlushIsReported) {
    const std::string xml =
        "<composition id=\"t\"><install><threadpool id=\"p\" num_threads=\"1\"/>\n"
        "<block id=\"src\" type=\"TestSeqSource\" threadpool=\"p\"/>\n"
        "<block id=\"boom\" type=\"TestThrower\"><params><throw where=\"flush\"/></params></block>\n"
        "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"boom\" dst_gate=\"in\"/>\n"
        "</install></composition>\n";
    auto e = run_xml(xml);
    EXPECT_EQ(e->exit_code(), 1);
    EXPECT_EQ(read_u64(*e, "boom", "received"), 1000u);
    ASSERT_EQ(e->errors().size(), 1u);
    EXPECT_NE(e->errors()[0].find("in flush: deliberate failure in flush"), std::string::npos);
}

TEST(Engine, PacketClockTimersAreDeterministic) {
    // 20,000 packets 1 ms apart = 20 s of packet time; a 1 s timer ticks once per second of it.
    const std::string xml =
        "<composition id=\"t\"><general><clock type=\"packet\"/></general><install>\n"
        "<threadpool id=\"p\" num_threads=\"1\"/><threadpool id=\"q\" num_threads=\"1\"/>\n"
        "<block id=\"src\" type=\"TestSeqSource\" threadpool=\"p\"><params><seq count=\"20000\" step_ns=\"1000000\"/></params></block>\n"
        "<block id=\"chk\" type=\"TestSeqChecker\" invocation=\"indirect\" threadpool=\"q\"><params>"
        "<seq step_ns=\"1000000\"/><tick period=\"1s\"/></params></block>\n"
        "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"chk\" dst_gate=\"in\"/>\n"
        "</install></composition>\n";
    const uint64_t first = read_u64(*run_xml(xml), "chk", "timer_ticks");
    const uint64_t second = read_u64(*run_xml(xml), "chk", "timer_ticks");
    EXPECT_EQ(first, second);
    EXPECT_GE(first, 18u);
    EXPECT_LE(first, 20u);
}

TEST(Engine, StopRequestDrainsAndFlushes) {
    const std::string xml =
        "<composition id=\"t\"><install>\n"
        "<threadpool id=\"p\" num_threads=\"1\"/><threadpool id=\"q\" num_threads=\"1\"/>\n"
        "<block id=\"src\" type=\"TestSeqSource\" threadpool=\"p\"><params><seq endless=\"true\"/></params></block>\n"
        "<block id=\"chk\" type=\"TestSeqChecker\" invocation=\"indirect\" threadpool=\"q\"/>\n"
        "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"chk\" dst_gate=\"in\" policy=\"block\" capacity=\"64\"/>\n"
        "</install></composition>\n";
    auto e = Engine::load_string(xml, "t.xml");
    e->start();
    e->launch();
    EXPECT_FALSE(e->wait_for(std::chrono::milliseconds(200)));
    e->request_stop();
    e->wait();
    EXPECT_EQ(e->exit_code(), 0);
    const uint64_t sent = read_u64(*e, "src", "sent");
    EXPECT_GT(sent, 0u);
    EXPECT_EQ(read_u64(*e, "chk", "received"), sent);
    EXPECT_EQ(read_u64(*e, "chk", "flushed"), 1u);
}

TEST(Engine, VariablesRegistry) {
    auto e = run_xml(pipeline("block", 1000, 16, 0));
    EXPECT_EQ(read_u64(*e, "chk", "received"), 1000u);
    EXPECT_FALSE(e->read_variable("chk", "nope").has_value());
    EXPECT_FALSE(e->read_variable("nope", "received").has_value());
    EXPECT_THROW(e->write_variable("chk", "received", "0"), std::invalid_argument);
    EXPECT_THROW(e->write_variable("chk", "nope", "0"), std::invalid_argument);
    EXPECT_THROW(e->write_variable("nope", "x", "0"), std::invalid_argument);
    const auto stats = nlohmann::json::parse(e->stats_json());
    EXPECT_EQ(stats["blocks"]["chk"]["type"], "TestSeqChecker");
    EXPECT_EQ(stats["blocks"]["chk"]["variables"]["received"], 1000);
    EXPECT_EQ(stats["connections"][0]["policy"], "block");
    const std::string dot = e->dot();
    EXPECT_NE(dot.find("subgraph \"cluster_pool_p\""), std::string::npos) << dot;
    EXPECT_NE(dot.find("\"src\":o0 -> \"chk\":i0"), std::string::npos) << dot;
    EXPECT_NE(dot.find("ring 16, block"), std::string::npos) << dot;
}

}  // namespace
}  // namespace weir::testing
