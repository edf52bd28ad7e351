// Live capture through libpcap on the loopback interface, with traffic the test sends itself to
// 127.0.0.1. Needs CAP_NET_RAW (root in CI); skipped, saying why, without it.
#include "test_util.hpp"

#include <weir/engine.hpp>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

namespace weir::testing {
namespace {

TEST(LiveCapture, CountsDatagramsSentOverLoopback) {
    const std::string xml =
        "<composition id=\"live\"><general><clock type=\"wall\"/></general><install>\n"
        "<threadpool id=\"p\" num_threads=\"1\"/><threadpool id=\"q\" num_threads=\"1\"/>\n"
        "<block id=\"src\" type=\"PcapSource\" threadpool=\"p\"><params>"
        "<source type=\"live\" name=\"lo\" timeout_ms=\"5\"/>"
        "<bpf_filter expression=\"udp and dst port 45679 and dst host 127.0.0.1\"/></params></block>\n"
        "<block id=\"ctr\" type=\"PacketCounter\" invocation=\"indirect\" threadpool=\"q\"/>\n"
        "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"ctr\" dst_gate=\"in_pkt\"/>\n"
        "</install></composition>\n";
    auto e = Engine::load_string(xml, "live.xml");
    try {
        e->start();
    } catch (const LoadError& err) {
        if (geteuid() != 0) {
            GTEST_SKIP() << "live capture needs CAP_NET_RAW: " << err.what();
        }
        FAIL() << err.what();
    }
    EXPECT_EQ(e->connections()[0].policy, OverflowPolicy::kDrop) << "live input defaults to dropping";
    e->launch();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // capture is armed

    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(45679);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    constexpr int kDatagrams = 200;
    char payload[100] = {};
    for (int i = 0; i < kDatagrams; ++i) {
        ASSERT_EQ(sendto(fd, payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
                  static_cast<ssize_t>(sizeof payload));
    }
    close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    e->request_stop();
    e->wait();
    EXPECT_EQ(e->exit_code(), 0);
    EXPECT_EQ(read_u64(*e, "ctr", "pktcnt"), static_cast<uint64_t>(kDatagrams));
    // Ethernet (14) + IPv4 (20) + UDP (8) + payload on the loopback link.
    EXPECT_EQ(read_u64(*e, "ctr", "bytecnt"), static_cast<uint64_t>(kDatagrams) * (14 + 20 + 8 + 100));
    EXPECT_EQ(std::get<uint64_t>(*e->read_variable("src", "kernel_drops")), 0u);
}

}  // namespace
}  // namespace weir::testing
