// End to end on every real capture: counts equal what tshark counts, both readers (memory-mapped
// and libpcap) see byte-identical packets, BPF filters agree with tcpdump, damage is reported.
#include "test_util.hpp"

#include <weir/engine.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

namespace weir::testing {
namespace {

std::string count_xml(const std::string& file, const std::string& reader, const std::string& filter = "",
                      bool indirect = false) {
    return "<composition id=\"c\"><general><clock type=\"packet\"/></general><install>\n"
           "<threadpool id=\"p\" num_threads=\"1\"/><threadpool id=\"q\" num_threads=\"1\"/>\n"
           "<block id=\"src\" type=\"PcapSource\" invocation=\"async\" threadpool=\"p\"><params>"
           "<source type=\"trace\" name=\"" + file + "\" reader=\"" + reader + "\" batch=\"7\"/>"
           "<bpf_filter expression=\"" + filter + "\"/></params></block>\n"
           "<block id=\"ctr\" type=\"PacketCounter\"" +
           (indirect ? " invocation=\"indirect\" threadpool=\"q\"" : "") + "/>\n"
           "<block id=\"dig\" type=\"TestDigest\"/>\n"
           "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"ctr\" dst_gate=\"in_pkt\"/>\n"
           "<connection src_block=\"ctr\" src_gate=\"out_pkt\" dst_block=\"dig\" dst_gate=\"in\"/>\n"
           "</install></composition>\n";
}

struct Reference {
    uint64_t packets = 0;
    uint64_t bytes = 0;
};

Reference tshark_counts(const std::string& file) {
    const auto r = run_command("tshark -n -r '" + file + "' -T fields -e frame.len");
    Reference ref;
    std::istringstream in(r.out);
    uint64_t len = 0;
    while (in >> len) {
        ++ref.packets;
        ref.bytes += len;
    }
    return ref;
}

class EveryCapture : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryCapture, CountsMatchTsharkAndReadersAgree) {
    const std::string file = GetParam();
    const Reference ref = tshark_counts(file);
    const bool damaged = file.find("fuzz-2021-10-13") != std::string::npos;

    auto mapped = run_xml(count_xml(file, "auto", "", true));
    auto plain = run_xml(count_xml(file, "libpcap"));
    for (const Engine* e : {mapped.get(), plain.get()}) {
        EXPECT_EQ(read_u64(*e, "ctr", "pktcnt"), ref.packets) << file;
        EXPECT_EQ(read_u64(*e, "ctr", "bytecnt"), ref.bytes) << file;
        if (damaged) {
            EXPECT_EQ(e->exit_code(), 1);
            ASSERT_FALSE(e->errors().empty());
            EXPECT_NE(e->errors()[0].find("truncated dump file"), std::string::npos) << e->errors()[0];
        } else {
            EXPECT_EQ(e->exit_code(), 0) << (e->errors().empty() ? "" : e->errors()[0]);
        }
    }
    EXPECT_EQ(read_u64(*mapped, "dig", "digest"), read_u64(*plain, "dig", "digest")) << file;
    EXPECT_EQ(read_u64(*mapped, "dig", "capbytes"), read_u64(*plain, "dig", "capbytes")) << file;
}

INSTANTIATE_TEST_SUITE_P(Pcaps, EveryCapture, ::testing::ValuesIn(pcap_files()),
                         capture_test_name);

TEST(PcapSource, BpfFilterAgreesWithTcpdump) {
    for (const char* name : {"netflix.pcap", "http_espn.pcapng", "6in4tunnel.pcap"}) {
        const std::string file = pcap_dir() + "/" + name;
        for (const char* filter : {"tcp port 443", "udp", "ip6"}) {
            const auto r = run_command(std::string("tcpdump -nn -r '") + file + "' '" + filter + "' | wc -l");
            ASSERT_EQ(r.exit_code, 0);
            const uint64_t expected = std::stoull(r.out);
            for (const char* reader : {"auto", "libpcap"}) {
                auto e = run_xml(count_xml(file, reader, filter));
                EXPECT_EQ(read_u64(*e, "ctr", "pktcnt"), expected) << name << " " << filter << " " << reader;
            }
        }
    }
}

TEST(PcapSource, TruncatedCopyEndsWithClearErrorAndCountsUpToTheDamage) {
    // Cut netflix.pcap in the middle of a packet: everything before the cut is counted.
    const std::string src = pcap_dir() + "/netflix.pcap";
    const std::string cut = ::testing::TempDir() + "/weir-cut.pcap";
    std::filesystem::copy_file(src, cut, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(cut, 500000);
    const auto r = run_command("tshark -n -r '" + cut + "' -T fields -e frame.len | wc -l");
    const uint64_t expected = std::stoull(r.out);
    ASSERT_GT(expected, 100u);
    for (const char* reader : {"auto", "libpcap"}) {
        auto e = run_xml(count_xml(cut, reader));
        EXPECT_EQ(e->exit_code(), 1) << reader;
        EXPECT_EQ(read_u64(*e, "ctr", "pktcnt"), expected) << reader;
        ASSERT_FALSE(e->errors().empty());
        EXPECT_NE(e->errors()[0].find("block 'src' (PcapSource): reading"), std::string::npos) << e->errors()[0];
        EXPECT_NE(e->errors()[0].find("truncated dump file"), std::string::npos) << e->errors()[0];
    }
    std::filesystem::remove(cut);
}

TEST(PcapSource, ReplayAtRecordedSpeedTakesTheTraceDuration) {
    // smtp.pcap spans 0.23 s; replayed at recorded speed it cannot finish much sooner.
    const std::string xml =
        "<composition id=\"c\"><install><threadpool id=\"p\" num_threads=\"1\"/>\n"
        "<block id=\"src\" type=\"PcapSource\" threadpool=\"p\"><params><source name=\"" + pcap_dir() +
        "/smtp.pcap\" replay=\"1\"/></params></block>\n"
        "<block id=\"ctr\" type=\"PacketCounter\"/>\n"
        "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"ctr\" dst_gate=\"in_pkt\"/>\n"
        "</install></composition>\n";
    const auto t0 = std::chrono::steady_clock::now();
    auto e = run_xml(xml);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(read_u64(*e, "ctr", "pktcnt"), 95u);
    EXPECT_GE(secs, 0.2);
}

}  // namespace
}  // namespace weir::testing
