// Every mistake in a composition is refused before anything starts, naming file:line and what was
// expected.
#include "test_util.hpp"

#include <weir/registry.hpp>

#include <weir/engine.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace weir::testing {
namespace {

// Body lines start at line 5 of the composition.
std::string wrap(const std::string& body) {
    return "<composition id=\"t\">\n"
           "<general><clock type=\"packet\"/></general>\n"
           "<install>\n"
           "<threadpool id=\"p\" num_threads=\"1\"/>\n" +
           body + "</install>\n</composition>\n";
}

const std::string kSource =
    "<block id=\"src\" type=\"TestSeqSource\" invocation=\"async\" threadpool=\"p\"/>\n";

std::string load_error(const std::string& xml, const LoadOptions& opts = {}) {
    try {
        auto e = Engine::load_string(xml, "comp.xml", opts);
        return "(accepted)";
    } catch (const LoadError& e) {
        return e.what();
    }
}

void expect_error(const std::string& xml, int line, const std::vector<std::string>& parts,
                  const LoadOptions& opts = {}) {
    const std::string msg = load_error(xml, opts);
    EXPECT_EQ(msg.rfind("comp.xml:" + std::to_string(line) + ":", 0), 0u) << msg;
    for (const auto& p : parts) {
        EXPECT_NE(msg.find(p), std::string::npos) << "missing '" << p << "' in: " << msg;
    }
}

TEST(Loader, MalformedXmlNamesLineAndColumn) {
    const std::string xml = wrap(kSource + "<block id=\"c\" type=\"PacketCounter\">\n<params>\n</block>\n");
    const std::string msg = load_error(xml);
    EXPECT_NE(msg.find("malformed XML"), std::string::npos) << msg;
    EXPECT_EQ(msg.rfind("comp.xml:8:", 0), 0u) << msg;
}

TEST(Loader, UnknownBlockTypeSuggestsNearestName) {
    expect_error(wrap(kSource + "<block id=\"c\" type=\"PacketCountr\"/>\n"), 6,
                 {"unknown block type 'PacketCountr'", "did you mean 'PacketCounter'"});
}

TEST(Loader, UnknownGateListsTheBlocksGates) {
    expect_error(wrap(kSource + "<block id=\"c\" type=\"PacketCounter\"/>\n"
                                "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"c\" dst_gate=\"in_packets\"/>\n"),
                 7, {"no input gate 'in_packets'", "in_pkt (PacketBatch)"});
    expect_error(wrap(kSource + "<block id=\"c\" type=\"PacketCounter\"/>\n"
                                "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"c\" dst_gate=\"in_pkt\"/>\n"),
                 7, {"no output gate 'source_out'", "out (PacketBatch)"});
}

TEST(Loader, GateTypeMismatchNamesBothTypes) {
    expect_error(wrap("<block id=\"r\" type=\"TestRecordSource\" invocation=\"async\" threadpool=\"p\"/>\n"
                      "<block id=\"c\" type=\"PacketCounter\"/>\n"
                      "<connection src_block=\"r\" src_gate=\"records\" dst_block=\"c\" dst_gate=\"in_pkt\"/>\n"),
                 7, {"type mismatch", "r.records sends TestRecord", "c.in_pkt takes PacketBatch"});
}

TEST(Loader, DuplicateBlockId) {
    expect_error(wrap(kSource + "<block id=\"src\" type=\"Null\"/>\n"), 6,
                 {"duplicate block id 'src'", "first on line 5"});
}

TEST(Loader, UnknownThreadpool) {
    expect_error(wrap("<block id=\"src\" type=\"TestSeqSource\" invocation=\"async\" threadpool=\"nosuchpool\"/>\n"),
                 5, {"threadpool 'nosuchpool'", "not declared", "declared: p"});
}

TEST(Loader, AsyncWithoutThreadpool) {
    expect_error(wrap("<block id=\"src\" type=\"TestSeqSource\" invocation=\"async\"/>\n"), 5,
                 {"is async and needs threadpool"});
}

TEST(Loader, IndirectWithoutThreadpool) {
    expect_error(wrap(kSource + "<block id=\"c\" type=\"PacketCounter\" invocation=\"indirect\"/>\n"), 6,
                 {"is indirect and needs threadpool"});
}

TEST(Loader, InvalidInvocationIsRefusedNotIgnored) {
    // Blockmon built this error and never threw it.
    expect_error(wrap(kSource + "<block id=\"c\" type=\"PacketCounter\" invocation=\"indirekt\" threadpool=\"p\"/>\n"),
                 6, {"invocation=\"indirekt\"", "expected direct, indirect or async"});
}

TEST(Loader, InvocationTheBlockCannotRun) {
    expect_error(wrap("<block id=\"src\" type=\"PcapSource\" invocation=\"direct\"><params><source name=\"x\"/></params></block>\n"),
                 5, {"cannot run direct", "supports async"});
}

TEST(Loader, RequiredInputLeftUnconnected) {
    expect_error(wrap(kSource + "<block id=\"c\" type=\"PacketCounter\"/>\n"), 6,
                 {"input gate 'in_pkt' of block 'c'", "not connected"});
}

TEST(Loader, BadParamValueNamesParamValueAndExpectation) {
    expect_error(wrap("<block id=\"src\" type=\"PcapSource\" threadpool=\"p\">\n"
                      "<params>\n"
                      "<source type=\"trace\" name=\"x.pcap\" snaplen=\"big\"/>\n"
                      "</params></block>\n"),
                 7, {"'source.snaplen'", "'big'", "expected an integer"});
    expect_error(wrap("<block id=\"src\" type=\"PcapSource\" threadpool=\"p\">\n"
                      "<params><source type=\"tape\" name=\"x.pcap\"/></params></block>\n"),
                 6, {"'source.type'", "'tape'", "one of live|trace|file"});
}

TEST(Loader, UnknownParamListsKnownOnes) {
    expect_error(wrap("<block id=\"src\" type=\"PcapSource\" threadpool=\"p\">\n"
                      "<params><source name=\"x.pcap\" snaplne=\"100\"/></params></block>\n"),
                 6, {"no param 'source.snaplne'", "source.snaplen"});
}

TEST(Loader, MissingRequiredParam) {
    expect_error(wrap("<block id=\"src\" type=\"PcapSource\" threadpool=\"p\">\n"
                      "<params><source type=\"trace\"/></params></block>\n"),
                 6, {"needs param 'source.name'"});
}

TEST(Loader, CoreThatDoesNotExist) {
    expect_error("<composition id=\"t\">\n<install>\n<threadpool id=\"p\" num_threads=\"1\">\n"
                 "<core number=\"999\"/>\n</threadpool>\n</install>\n</composition>\n",
                 4, {"core 999 does not exist", "usable cores: 0"});
}

TEST(Loader, UnknownElementsAndAttributes) {
    expect_error(wrap("<blok id=\"x\"/>\n"), 5, {"unexpected <blok>", "expected <threadpool>, <block>, <connection> or <replicate>"});
    expect_error(wrap("<block id=\"c\" type=\"Null\" colour=\"red\"/>\n"), 5,
                 {"no attribute 'colour'"});
    expect_error("<composition id=\"t\">\n<general><clock type=\"sundial\"/></general>\n<install/>\n</composition>\n",
                 2, {"clock type=\"sundial\"", "expected wall or packet"});
    expect_error("<composition id=\"t\">\n<install/>\n</composition>\n", 1, {"installs no blocks"});
    expect_error("<compostion id=\"t\"/>\n", 1, {"expected <composition"});
}

TEST(Loader, ConnectionMistakes) {
    expect_error(wrap(kSource + "<block id=\"c\" type=\"PacketCounter\"/>\n"
                                "<connection src_block=\"nope\" src_gate=\"out\" dst_block=\"c\" dst_gate=\"in_pkt\"/>\n"),
                 7, {"unknown block 'nope'"});
    expect_error(wrap(kSource + "<block id=\"c\" type=\"PacketCounter\"/>\n"
                                "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"c\" dst_gate=\"in_pkt\"/>\n"
                                "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"c\" dst_gate=\"in_pkt\"/>\n"),
                 8, {"duplicate connection", "first on line 7"});
    expect_error(wrap(kSource + "<block id=\"c\" type=\"PacketCounter\"/>\n"
                                "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"c\" dst_gate=\"in_pkt\" policy=\"maybe\"/>\n"),
                 7, {"policy=\"maybe\"", "expected drop or block"});
    expect_error(wrap(kSource + "<block id=\"c\" type=\"PacketCounter\"/>\n"
                                "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"c\" dst_gate=\"in_pkt\" capacity=\"1\"/>\n"),
                 7, {"capacity=\"1\"", "expected an integer in 2.."});
}

TEST(Loader, DirectBlockFedFromTwoThreadsIsRefused) {
    expect_error(wrap("<threadpool id=\"q\" num_threads=\"1\"/>\n" + kSource +
                      "<block id=\"src2\" type=\"TestSeqSource\" invocation=\"async\" threadpool=\"q\"/>\n"
                      "<block id=\"c\" type=\"TestSeqChecker\"/>\n"
                      "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"c\" dst_gate=\"in\"/>\n"
                      "<connection src_block=\"src2\" src_gate=\"out\" dst_block=\"c\" dst_gate=\"in\"/>\n"),
                 8, {"direct block 'c' is fed from threads", "make it invocation=\"indirect\""});
}

TEST(Loader, CycleIsRefused) {
    expect_error(wrap(kSource +
                      "<block id=\"a\" type=\"PacketCounter\"/>\n"
                      "<block id=\"b\" type=\"PacketCounter\"/>\n"
                      "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"a\" dst_gate=\"in_pkt\"/>\n"
                      "<connection src_block=\"a\" src_gate=\"out_pkt\" dst_block=\"b\" dst_gate=\"in_pkt\"/>\n"
                      "<connection src_block=\"b\" src_gate=\"out_pkt\" dst_block=\"a\" dst_gate=\"in_pkt\"/>\n"),
                 10, {"closes a cycle"});
}

TEST(Loader, UnsetPlaceholderWithoutDefaultIsNamed) {
    LoadOptions opts;
    opts.use_environment = false;
    expect_error(wrap("<block id=\"src\" type=\"PcapSource\" threadpool=\"p\">\n"
                      "<params><source name=\"${TRACE}\"/></params></block>\n"),
                 6, {"${TRACE} is not set", "-D TRACE=value"}, opts);
}

TEST(Loader, PlaceholdersFromDefinesEnvironmentAndDefaults) {
    LoadOptions opts;
    opts.use_environment = false;
    EXPECT_EQ(expand_placeholders("a=${A:-x} b=${B:-${C:-y}} c=${C:-z}", "f", opts), "a=x b=y c=z");
    opts.defines = {{"A", "1"}, {"C", "3"}};
    EXPECT_EQ(expand_placeholders("a=${A:-x} b=${B:-${C:-y}} c=${C:-z}", "f", opts), "a=1 b=3 c=3");
    opts.use_environment = true;
    ::setenv("WEIR_TEST_PLACEHOLDER", "env", 1);
    EXPECT_EQ(expand_placeholders("${WEIR_TEST_PLACEHOLDER}", "f", opts), "env");
    opts.defines["WEIR_TEST_PLACEHOLDER"] = "define";
    EXPECT_EQ(expand_placeholders("${WEIR_TEST_PLACEHOLDER}", "f", opts), "define");
    EXPECT_THROW(expand_placeholders("line1\n${bad name}", "f", opts), LoadError);
    try {
        expand_placeholders("one\ntwo ${NOPE_NOT_SET_ANYWHERE", "f.xml", opts);
    } catch (const LoadError& e) {
        EXPECT_EQ(std::string(e.what()).rfind("f.xml:2:", 0), 0u) << e.what();
    }
}

TEST(Loader, BlockmonSampleLoadsUnchanged) {
    auto e = Engine::load_file(source_root() + "/compositions/pcapsrcctr.xml");
    EXPECT_EQ(e->composition_id(), "mypcapsrcctr");
    EXPECT_EQ(e->clock(), ClockType::kWall);
    ASSERT_EQ(e->connections().size(), 1u);
    EXPECT_TRUE(e->connections()[0].direct);
    EXPECT_NE(e->thread_map().find("src[async] counter[direct]"), std::string::npos) << e->thread_map();
}

TEST(Loader, BlockmonSpellingsAndDefaults) {
    // Legacy sched_type="active", Blockmon's Counter gate name and sniffer_out gate, blocking_mode.
    const std::string xml = wrap(
        "<block id=\"src\" type=\"PcapSource\" threadpool=\"p\"><params><source type=\"trace\" name=\"x\"/></params></block>\n"
        "<block id=\"c\" type=\"PktCounter\" sched_type=\"active\" threadpool=\"p\" blocking_mode=\"drop\"/>\n"
        "<connection src_block=\"src\" src_gate=\"sniffer_out\" dst_block=\"c\" dst_gate=\"in_counter\"/>\n");
    auto e = Engine::load_string(xml, "comp.xml");
    ASSERT_EQ(e->connections().size(), 1u);
    EXPECT_FALSE(e->connections()[0].direct);
    EXPECT_EQ(e->connections()[0].policy, OverflowPolicy::kDrop);  // blocking_mode wins
}

TEST(Loader, DefaultPolicyIsLosslessForFilesAndDroppingLive) {
    const auto policy_for = [](const std::string& type) {
        const std::string xml = wrap(
            "<threadpool id=\"q\" num_threads=\"1\"/>\n"
            "<block id=\"src\" type=\"PcapSource\" threadpool=\"p\"><params><source type=\"" + type +
            "\" name=\"x\"/></params></block>\n"
            "<block id=\"c\" type=\"PacketCounter\" invocation=\"indirect\" threadpool=\"q\"/>\n"
            "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"c\" dst_gate=\"in_pkt\" capacity=\"100\"/>\n");
        auto e = Engine::load_string(xml, "comp.xml");
        EXPECT_EQ(e->connections()[0].capacity, 128u);  // rounded up to a power of two
        return e->connections()[0].policy;
    };
    EXPECT_EQ(policy_for("trace"), OverflowPolicy::kBlock);
    EXPECT_EQ(policy_for("live"), OverflowPolicy::kDrop);
}

TEST(Loader, ReplicateInstallsTheSubPipelineOncePerCore) {
    const std::string xml = wrap(
        kSource +
        "<block id=\"demux\" type=\"FlowDemux\"><params><gates number=\"3\"/></params></block>\n"
        "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"demux\" dst_gate=\"in_pkt\"/>\n"
        "<replicate count=\"3\" cores=\"0,0,0\">\n"
        "<threadpool id=\"w\" num_threads=\"1\"><core number=\"{core}\"/></threadpool>\n"
        "<block id=\"c\" type=\"PacketCounter\" invocation=\"indirect\" threadpool=\"w\">"
        "<params><rate period=\"{i}5s\"/></params></block>\n"
        "<connection src_block=\"demux\" src_gate=\"out_{i}\" dst_block=\"c\" dst_gate=\"in_pkt\"/>\n"
        "</replicate>\n");
    auto e = Engine::load_string(xml, "comp.xml");
    const std::string map = e->thread_map();
    for (const char* part : {"w.0#0 (core 0): c.0[indirect]", "w.1#0 (core 0): c.1[indirect]",
                             "w.2#0 (core 0): c.2[indirect]"}) {
        EXPECT_NE(map.find(part), std::string::npos) << part << " in\n" << map;
    }
    ASSERT_EQ(e->connections().size(), 4u);
    EXPECT_EQ(e->connections()[3].label, "demux.out_2 -> c.2.in_pkt");
    const std::string dot = e->dot();
    EXPECT_NE(dot.find("threadpool w.2 (1 threads, cores 0)"), std::string::npos);
}

TEST(Loader, ReplicateMistakesNameTheirLine) {
    const std::string body = kSource + "<block id=\"demux\" type=\"FlowDemux\"/>\n"
                                       "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"demux\" dst_gate=\"in_pkt\"/>\n";
    expect_error(wrap(body + "<replicate count=\"2\" cores=\"0\">\n</replicate>\n"), 8,
                 {"lists 1 cores", "expected one per replica"});
    expect_error(wrap(body + "<replicate count=\"2\" cores=\"0-x\">\n</replicate>\n"), 8,
                 {"expected core numbers and ranges"});
    expect_error(wrap(body + "<replicate count=\"0\">\n</replicate>\n"), 8, {"1..1024"});
    expect_error(wrap(body + "<replicate count=\"2\">\n<source/>\n</replicate>\n"), 9,
                 {"unexpected <source> in <replicate>"});
    expect_error(wrap(body + "<replicate count=\"2\">\n<threadpool id=\"w\"><core number=\"{core}\"/></threadpool>\n"
                             "</replicate>\n"),
                 9, {"{core} used inside a <replicate> without cores"});
    // Replica 2 needs out_2, which a 2-output demux lacks: the connection's own line.
    expect_error(wrap(body + "<replicate count=\"3\">\n<block id=\"c\" type=\"PacketCounter\"/>\n"
                             "<connection src_block=\"demux\" src_gate=\"out_{i}\" dst_block=\"c\" dst_gate=\"in_pkt\"/>\n"
                             "</replicate>\n"),
                 10, {"has no output gate 'out_2'"});
}

TEST(Loader, ReplicatedTstatWritesTheSameFlowsAsOnePipeline) {
    // Three meters behind FlowDemux log exactly the lines one meter logs (in another order).
    const std::string pcap = pcap_dir() + "/netflix.pcap";
    const auto logs = [&](const std::string& composition, const std::string& extra) {
        const std::string dir = ::testing::TempDir() + "/replicas-" + composition;
        std::filesystem::remove_all(dir);
        const auto r = run_command(engine_binary() + " -q --no-summary " + source_root() + "/compositions/" +
                                   composition + " -D TRACE=" + pcap + " -D LOGDIR=" + dir + extra);
        EXPECT_EQ(r.exit_code, 0) << r.out;
        std::multiset<std::string> lines;
        for (const auto& folder : std::filesystem::directory_iterator(dir)) {
            for (const auto& f : std::filesystem::directory_iterator(folder.path())) {
                std::ifstream in(f.path());
                std::string l;
                const std::string name = f.path().filename().string();
                while (std::getline(in, l)) {
                    // DN-Hunter is per meter: a replica names only flows whose DNS answer it saw
                    // (docs/flows.md), so its columns are left out here (TCP 121-124, HTTP 8).
                    if (l[0] != '#' && (name == "log_tcp_complete" || name == "log_tcp_midstream" || name == "log_http_complete")) {
                        auto cols = split_fields(l, name == "log_http_complete" ? '\t' : ' ');
                        const std::size_t from = name == "log_http_complete" ? 7 : 120;
                        const std::size_t to = name == "log_http_complete" ? 8 : 124;
                        for (std::size_t i = from; i < to && i < cols.size(); ++i) {
                            cols[i] = "*";
                        }
                        l.clear();
                        for (const auto& c : cols) {
                            l += c + " ";
                        }
                    }
                    lines.insert(name + " " + l);
                }
            }
        }
        return lines;
    };
    const auto one = logs("tstat.xml", " -D MESSAGES=http,dns");
    const auto three = logs("tstat-replicas.xml", " -D REPLICAS=3 -D REPLICA_CORES=0,1,1 -D MESSAGES=http,dns");
    EXPECT_GT(one.size(), 50u);
    EXPECT_EQ(one, three);
}

TEST(Loader, StartFailureNamesTheBlock) {
    auto e = Engine::load_string(
        wrap("<block id=\"src\" type=\"PcapSource\" threadpool=\"p\"><params><source name=\"/nonexistent.pcap\"/></params></block>\n"),
        "comp.xml");
    try {
        e->start();
        FAIL() << "started";
    } catch (const LoadError& err) {
        const std::string m = err.what();
        EXPECT_EQ(m.rfind("comp.xml:5:", 0), 0u) << m;
        EXPECT_NE(m.find("block 'src' (PcapSource) cannot start"), std::string::npos) << m;
        EXPECT_NE(m.find("/nonexistent.pcap"), std::string::npos) << m;
    }
}

}  // namespace
}  // namespace weir::testing

namespace weir::testing {
namespace {

TEST(Loader, InvalidUtf8InIdsStillGivesValidStatsJson) {
    // Found by the composition fuzzer: nlohmann::json threw on the raw byte when dumping.
    auto e = Engine::load_string(wrap(std::string("<block id=\"n\xff\" type=\"Null\"/>\n"
                                                  "<block id=\"src\" type=\"TestSeqSource\" threadpool=\"p\"/>\n"
                                                  "<connection src_block=\"src\" src_gate=\"out\" dst_block=\"n\xff\" dst_gate=\"in_msg\"/>\n")),
                                 "comp.xml");
    std::string json;
    EXPECT_NO_THROW(json = e->stats_json());
    EXPECT_NE(json.find("\"n\xef\xbf\xbd\""), std::string::npos) << json;  // U+FFFD replacement
}

}  // namespace
}  // namespace weir::testing

namespace weir::testing {
namespace {

TEST(Loader, EveryShippedCompositionLoads) {
    int n = 0;
    for (const char* dir : {"/compositions", "/bench/compositions"}) {
        for (const auto& e : std::filesystem::directory_iterator(source_root() + dir)) {
            if (e.path().extension() != ".xml") {
                continue;
            }
            if (!WEIR_HAVE_MPLANE && e.path().filename() == "mplane.xml") {
                continue;  // MplaneBridge is built only with -Dmplane (cpp-httplib, OpenSSL)
            }
            if (BlockRegistry::instance().find("DpdkSource") == nullptr &&
                e.path().filename().string().rfind("dpdk-", 0) == 0) {
                continue;  // DpdkSource is built only with -Ddpdk
            }
            LoadOptions opts;
            opts.defines = {{"TRACE", pcap_dir() + "/netflix.pcap"}};
            EXPECT_NO_THROW(Engine::load_file(e.path().string(), opts)) << e.path();
            ++n;
        }
    }
    EXPECT_GE(n, 5);
}

}  // namespace
}  // namespace weir::testing
