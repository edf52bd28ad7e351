// FlowDemux: on every real capture, every packet of a bidirectional flow reaches the same replica,
// nothing is lost or duplicated, and flows spread over the replicas.
#include "test_blocks.hpp"
#include "test_util.hpp"

#include <weir/engine.hpp>

#include <gtest/gtest.h>

#include <sstream>

namespace weir::testing {
namespace {

std::string demux_xml(const std::string& file, int replicas) {
    std::ostringstream xml;  // a stream, not string concatenation: GCC 12 -Wrestrict misfires on the latter
    xml << "<composition id=\"d\"><general><clock type=\"packet\"/></general><install>\n"
        << "<threadpool id=\"p\" num_threads=\"1\"/><threadpool id=\"q\" num_threads=\"2\"/>\n"
        << "<block id=\"src\" type=\"PcapSource\" threadpool=\"p\"><params><source name=\"" << file
        << "\"/></params></block>\n"
        << "<block id=\"demux\" type=\"FlowDemux\"><params><gates number=\"" << replicas << "\"/></params></block>\n"
        << "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"demux\" dst_gate=\"in_pkt\"/>\n";
    for (int i = 0; i < replicas; ++i) {
        xml << "<block id=\"r" << i << "\" type=\"TestAffinity\" invocation=\"indirect\" threadpool=\"q\"><params>"
            << "<affinity replica=\"" << i << "\"/></params></block>\n"
            << "<connection src_block=\"demux\" src_gate=\"out_" << i << "\" dst_block=\"r" << i
            << "\" dst_gate=\"in\"/>\n";
    }
    xml << "</install></composition>\n";
    return xml.str();
}

std::string replica(int i) {
    std::ostringstream id;
    id << 'r' << i;
    return id.str();
}

class EveryCaptureDemux : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryCaptureDemux, FlowsStayOnOneReplica) {
    for (int replicas : {2, 3}) {
        Affinity::reset();
        auto e = run_xml(demux_xml(GetParam(), replicas));
        uint64_t total = 0;
        for (int i = 0; i < replicas; ++i) {
            total += read_u64(*e, replica(i), "packets");
        }
        EXPECT_EQ(total, read_u64(*e, "src", "packets")) << "nothing lost, nothing duplicated";
        EXPECT_EQ(read_u64(*e, "demux", "no_batch"), 0u);
        EXPECT_EQ(Affinity::conflicts(), 0u) << "a 5-tuple reached two replicas";
    }
}

INSTANTIATE_TEST_SUITE_P(Pcaps, EveryCaptureDemux, ::testing::ValuesIn(pcap_files()), capture_test_name);

TEST(FlowDemux, SpreadsFlowsOverReplicas) {
    Affinity::reset();
    auto e = run_xml(demux_xml(pcap_dir() + "/netflix.pcap", 4));
    EXPECT_GT(Affinity::tuples(), 50u);
    for (int i = 0; i < 4; ++i) {
        EXPECT_GT(read_u64(*e, replica(i), "packets"), 50u) << "replica " << i;
    }
}

}  // namespace
}  // namespace weir::testing
