// The worked example of docs/block-api.md, PacketSizeFilter (blocks/examples/), run end to end on
// real captures: what it forwards equals what tshark selects with the same length range, the
// forwarded packets are byte for byte those a BPF length filter selects, and the page shows the
// committed code and the real `engine --describe` output.
#include "test_util.hpp"

#include <weir/engine.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <tuple>

namespace weir::testing {
namespace {

struct Range {
    uint32_t min;
    uint32_t max;
};

struct Reference {
    uint64_t packets = 0;
    uint64_t bytes = 0;
    uint64_t total = 0;  // every packet of the capture
};

// tshark decides independently which frames are within the range (frame.len = wire length).
Reference tshark_reference(const std::string& file, Range r) {
    static std::map<std::string, uint64_t> totals;
    static std::map<std::tuple<std::string, uint32_t, uint32_t>, Reference> cache;
    if (const auto it = cache.find({file, r.min, r.max}); it != cache.end()) {
        return it->second;
    }
    Reference ref;
    if (totals.count(file) == 0) {
        const auto all = run_command("tshark -n -r '" + file + "' -T fields -e frame.len | wc -l");
        EXPECT_EQ(all.exit_code, 0) << file;
        totals[file] = std::stoull(all.out);
    }
    ref.total = totals[file];
    const auto sel = run_command("tshark -n -r '" + file + "' -Y 'frame.len >= " + std::to_string(r.min) +
                                 " && frame.len <= " + std::to_string(r.max) + "' -T fields -e frame.len");
    EXPECT_EQ(sel.exit_code, 0) << file;
    std::istringstream in(sel.out);
    uint64_t len = 0;
    while (in >> len) {
        ++ref.packets;
        ref.bytes += len;
    }
    cache[{file, r.min, r.max}] = ref;
    return ref;
}

// Where the blocks run: all on the source's thread; the filter on a thread of its own behind a
// ring (ctr and dig with it); or the filter on the source's thread and its output crossing a ring
// to ctr and dig, so the source reuses its batches while the filter's views into them still wait
// in the ring.
enum class Layout { kAllDirect, kFilterIndirect, kOutputThroughRing };

// src -> filter -> ctr -> dig, with small source batches so most batches are only partly kept.
std::string filter_xml(const std::string& file, const std::string& reader, Range r, Layout layout) {
    const char* on_q = " invocation=\"indirect\" threadpool=\"q\"";
    return "<composition id=\"f\"><general><clock type=\"packet\"/></general><install>\n"
           "<threadpool id=\"p\" num_threads=\"1\"/><threadpool id=\"q\" num_threads=\"1\"/>\n"
           "<block id=\"src\" type=\"PcapSource\" threadpool=\"p\"><params>"
           "<source name=\"" + file + "\" reader=\"" + reader + "\" batch=\"7\"/></params></block>\n"
           "<block id=\"filter\" type=\"PacketSizeFilter\"" +
           (layout == Layout::kFilterIndirect ? on_q : "") + "><params>"
           "<size min=\"" + std::to_string(r.min) + "\" max=\"" + std::to_string(r.max) + "\"/>"
           "</params></block>\n"
           "<block id=\"ctr\" type=\"PacketCounter\"" +
           (layout == Layout::kOutputThroughRing ? on_q : "") + "/>\n"
           "<block id=\"dig\" type=\"TestDigest\"/>\n"
           "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"filter\" dst_gate=\"in_pkt\"/>\n"
           "<connection src_block=\"filter\" src_gate=\"out_pkt\" dst_block=\"ctr\" dst_gate=\"in_pkt\"/>\n"
           "<connection src_block=\"ctr\" src_gate=\"out_pkt\" dst_block=\"dig\" dst_gate=\"in\"/>\n"
           "</install></composition>\n";
}

// The same packets chosen by a BPF length filter in the source, for the digest.
std::string bpf_xml(const std::string& file, const std::string& reader, Range r) {
    return "<composition id=\"b\"><general><clock type=\"packet\"/></general><install>\n"
           "<threadpool id=\"p\" num_threads=\"1\"/>\n"
           "<block id=\"src\" type=\"PcapSource\" threadpool=\"p\"><params>"
           "<source name=\"" + file + "\" reader=\"" + reader + "\" batch=\"7\"/>"
           "<bpf_filter expression=\"len &gt;= " + std::to_string(r.min) + " and len &lt;= " +
           std::to_string(r.max) + "\"/></params></block>\n"
           "<block id=\"dig\" type=\"TestDigest\"/>\n"
           "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"dig\" dst_gate=\"in\"/>\n"
           "</install></composition>\n";
}

TEST(PacketSizeFilter, ForwardsExactlyWhatTsharkSelects) {
    // netflix.pcap is read through the memory map; http_espn.pcapng and the libpcap reader copy
    // into batch arenas, which the filter must keep alive while its views point into them.
    const std::vector<std::pair<std::string, std::string>> runs = {
        {"netflix.pcap", "auto"}, {"netflix.pcap", "libpcap"}, {"http_espn.pcapng", "auto"},
        {"443-firefox.pcap", "libpcap"}, {"mptcp-v1.pcap", "auto"}};
    const std::vector<Range> ranges = {{0, 128}, {129, 1000}, {1001, 65535}, {60, 66}};
    for (const auto& [name, reader] : runs) {
        const std::string file = pcap_dir() + "/" + name;
        for (const Range r : ranges) {
            const Reference ref = tshark_reference(file, r);
            ASSERT_GT(ref.total, 0u) << name;
            const std::string what = name + " " + reader + " [" + std::to_string(r.min) + ", " +
                                     std::to_string(r.max) + "]";
            auto bpf = run_xml(bpf_xml(file, reader, r));
            ASSERT_EQ(bpf->exit_code(), 0) << what;
            EXPECT_EQ(read_u64(*bpf, "dig", "packets"), ref.packets) << what;
            for (const Layout layout :
                 {Layout::kAllDirect, Layout::kFilterIndirect, Layout::kOutputThroughRing}) {
                auto e = run_xml(filter_xml(file, reader, r, layout));
                ASSERT_EQ(e->exit_code(), 0) << what << (e->errors().empty() ? "" : e->errors()[0]);
                EXPECT_EQ(read_u64(*e, "filter", "passed"), ref.packets) << what;
                EXPECT_EQ(read_u64(*e, "filter", "filtered"), ref.total - ref.packets) << what;
                EXPECT_EQ(read_u64(*e, "filter", "no_batch"), 0u) << what;
                EXPECT_EQ(read_u64(*e, "ctr", "pktcnt"), ref.packets) << what;
                EXPECT_EQ(read_u64(*e, "ctr", "bytecnt"), ref.bytes) << what;
                // Same packets, same order, same bytes and timestamps as the BPF selection.
                EXPECT_EQ(read_u64(*e, "dig", "digest"), read_u64(*bpf, "dig", "digest")) << what;
                EXPECT_EQ(read_u64(*e, "dig", "capbytes"), read_u64(*bpf, "dig", "capbytes")) << what;
            }
        }
    }
}

TEST(PacketSizeFilter, MaxControlChangesTheRange) {
    const std::string file = pcap_dir() + "/netflix.pcap";
    auto e = Engine::load_string(filter_xml(file, "auto", {0, 1518}, Layout::kFilterIndirect), "test.xml");
    EXPECT_THROW(e->write_variable("filter", "max", "big"), std::invalid_argument);
    e->write_variable("filter", "max", "200");
    const auto v = e->read_variable("filter", "max");
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(std::get<uint64_t>(*v), 200u);
    e->start();
    e->launch();
    e->wait();
    const Reference ref = tshark_reference(file, {0, 200});
    EXPECT_EQ(e->exit_code(), 0);
    EXPECT_EQ(read_u64(*e, "filter", "passed"), ref.packets);
    EXPECT_EQ(read_u64(*e, "ctr", "bytecnt"), ref.bytes);
}

TEST(PacketSizeFilter, ForwardsTheEndOfTraceClockMarker) {
    // Nothing is in range, so the only batch that gets through is PcapSource's empty marker.
    const std::string xml =
        "<composition id=\"m\"><general><clock type=\"packet\"/></general><install>\n"
        "<threadpool id=\"p\" num_threads=\"1\"/><threadpool id=\"q\" num_threads=\"1\"/>\n"
        "<block id=\"src\" type=\"PcapSource\" threadpool=\"p\"><params>"
        "<source name=\"" + pcap_dir() + "/netflix.pcap\"/><advance_time_at_eof us=\"5000000\"/>"
        "</params></block>\n"
        "<block id=\"filter\" type=\"PacketSizeFilter\"><params><size min=\"1\" max=\"1\"/></params></block>\n"
        "<block id=\"sink\" type=\"Null\" invocation=\"indirect\" threadpool=\"q\"/>\n"
        "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"filter\" dst_gate=\"in_pkt\"/>\n"
        "<connection src_block=\"filter\" src_gate=\"out_pkt\" dst_block=\"sink\" dst_gate=\"in_msg\"/>\n"
        "</install></composition>\n";
    auto e = run_xml(xml);
    EXPECT_EQ(e->exit_code(), 0);
    EXPECT_EQ(read_u64(*e, "filter", "passed"), 0u);
    EXPECT_EQ(read_u64(*e, "sink", "msgcnt"), 1u);
    EXPECT_EQ(read_u64(*e, "sink", "pktcnt"), 0u);
}

TEST(PacketSizeFilter, MinAboveMaxIsRefusedAtLoad) {
    const std::string xml = filter_xml(pcap_dir() + "/netflix.pcap", "auto", {200, 100}, Layout::kAllDirect);
    try {
        Engine::load_string(xml, "test.xml");
        FAIL() << "accepted";
    } catch (const LoadError& err) {
        EXPECT_STREQ(err.what(), "test.xml:4: block 'filter': size.min is larger than size.max");
    }
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

TEST(PacketSizeFilter, DocsShowTheCommittedCodeAndDescribeOutput) {
    const std::string doc = read_file(source_root() + "/docs/block-api.md");
    ASSERT_FALSE(doc.empty());
    for (const char* file : {"packet_size_filter.hpp", "packet_size_filter.cpp"}) {
        const std::string code = read_file(source_root() + "/blocks/examples/" + file);
        ASSERT_FALSE(code.empty()) << file;
        EXPECT_NE(doc.find("```cpp\n" + code + "```\n"), std::string::npos)
            << "docs/block-api.md does not show blocks/examples/" << file << " verbatim";
    }
    const auto describe = run_command(engine_binary() + " --describe PacketSizeFilter");
    ASSERT_EQ(describe.exit_code, 0);
    EXPECT_NE(doc.find("```\n" + describe.out + "```\n"), std::string::npos)
        << "docs/block-api.md does not show this output of engine --describe PacketSizeFilter:\n"
        << describe.out;
}

}  // namespace
}  // namespace weir::testing
