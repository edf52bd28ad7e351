// DPDK capture on virtual devices (no NIC, no hugepages, no root): net_pcap reading the real
// captures, net_ring fed with hand-made mbufs, the engine binary for the error paths, and DPDK's
// software Toeplitz (rte_softrss) against ours with the symmetric key.
// Its own executable: rte_eal_init runs once per process, in DpdkEnvironment.
#include "test_util.hpp"

#include <flow/flow_table.hpp>
#include <packet/flow_demux.hpp>
#include <proto/decode.hpp>
#include <weir/capture/dpdk_capture.hpp>
#include <weir/capture/toeplitz.hpp>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_thash.h>

#include <netinet/in.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

namespace weir::testing {
namespace {

class DpdkEnvironment : public ::testing::Environment {
public:
    void SetUp() override {
        capture::EalConfig eal;
        eal.no_huge = true;
        eal.memory_mb = 1024;
        eal.no_pci = true;
        eal.no_shconf = true;
        capture::ensure_eal(eal, false);
    }
    void TearDown() override { rte_eal_cleanup(); }
};
[[maybe_unused]] ::testing::Environment* const g_env = ::testing::AddGlobalTestEnvironment(new DpdkEnvironment);

// A device name nobody used before in this process (removed devices' names could be reused,
// but unique ones make a failing test's leftovers harmless).
std::string fresh_name(const char* driver) {
    static int n = 0;
    return std::string(driver) + "_t" + std::to_string(n++);
}

struct FileCounts {
    uint64_t packets = 0;
    uint64_t bytes = 0;          // wire bytes
    uint64_t captured = 0;       // captured bytes
    int exit_code = 0;
};

// Captured bytes of a file's first `packets` packets (libpcap).
uint64_t captured_bytes(const std::string& file, uint64_t packets) {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(file.c_str(), err);
    if (p == nullptr) {
        ADD_FAILURE() << err;
        return 0;
    }
    pcap_pkthdr* h = nullptr;
    const u_char* d = nullptr;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < packets && pcap_next_ex(p, &h, &d) == 1; ++i) {
        sum += h->caplen;
    }
    pcap_close(p);
    return sum;
}

// The same file through PcapSource: the reference count.
FileCounts pcap_counts(const std::string& file) {
    const std::string xml =
        "<composition id=\"p\"><install><threadpool id=\"t\" num_threads=\"1\"/>"
        "<block id=\"src\" type=\"PcapSource\" threadpool=\"t\"><params><source name=\"" + file + "\"/></params></block>"
        "<block id=\"c\" type=\"PacketCounter\"/>"
        "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"c\" dst_gate=\"in_pkt\"/>"
        "</install></composition>";
    auto e = run_xml(xml);
    const uint64_t packets = read_u64(*e, "c", "pktcnt");
    return {packets, read_u64(*e, "c", "bytecnt"), captured_bytes(file, packets), e->exit_code()};
}

// Built with a stream: GCC 12 warns (-Wrestrict) on long "literal" + std::string chains.
std::string dpdk_block(const std::string& id, const std::string& port_params, const std::string& pool = "t",
                       const std::string& extra = "") {
    std::ostringstream os;
    os << "<block id=\"" << id << "\" type=\"DpdkSource\" threadpool=\"" << pool << "\"><params><port "
       << port_params << "/>" << extra << "</params></block>";
    return os.str();
}

std::string counter_for(const std::string& src, const std::string& id) {
    std::ostringstream os;
    os << "<block id=\"" << id << "\" type=\"PacketCounter\"/><connection src_block=\"" << src
       << "\" src_gate=\"source_out\" dst_block=\"" << id << "\" dst_gate=\"in_pkt\"/>";
    return os.str();
}

// --- counts through net_pcap equal PcapSource's, and every mbuf comes back -----------------

class DpdkFileCounts : public ::testing::TestWithParam<std::string> {};

TEST_P(DpdkFileCounts, EqualPcapSourceAndNoMbufLeaks) {
    const std::string file = GetParam();
    const FileCounts want = pcap_counts(file);
    const std::string dev = fresh_name("net_pcap");
    const std::string xml = "<composition id=\"d\"><install><threadpool id=\"t\" num_threads=\"1\"/>" +
                            dpdk_block("src", "vdev=\"" + dev + ",rx_pcap=" + file + "\"") +
                            counter_for("src", "c") + "</install></composition>";
    auto e = run_xml(xml);
    EXPECT_EQ(read_u64(*e, "c", "pktcnt"), want.packets);
    // net_pcap sets pkt_len to the captured length: the wire length of a cut packet is lost.
    EXPECT_EQ(read_u64(*e, "c", "bytecnt"), want.captured);
    EXPECT_EQ(read_u64(*e, "src", "packets"), want.packets);
    // A damaged file fails both readers (PcapSource: truncated; net_pcap: ierrors).
    EXPECT_EQ(e->exit_code(), want.exit_code);
    EXPECT_EQ(read_u64(*e, "src", "rx_nombuf"), 0u);
    EXPECT_EQ(read_u64(*e, "src", "mbufs_in_use"), 0u);  // every batch went back, mbufs freed
}

INSTANTIATE_TEST_SUITE_P(Captures, DpdkFileCounts, ::testing::ValuesIn(pcap_files()), capture_test_name);

// Several queues of one port: net_pcap gives one queue per rx_pcap= file.
TEST(Dpdk, OneBlockPerQueueAndOneBlockForAllQueues) {
    const std::vector<std::string> files = {pcap_dir() + "/netflix.pcap", pcap_dir() + "/google_ssl.pcap",
                                            pcap_dir() + "/dns.pcap"};
    std::vector<FileCounts> want;
    uint64_t total = 0;
    for (const auto& f : files) {
        want.push_back(pcap_counts(f));
        total += want.back().packets;
    }
    std::string dev = fresh_name("net_pcap");
    for (const auto& f : files) {
        dev += ",rx_pcap=" + f;
    }
    std::string xml = "<composition id=\"q\"><install>";
    for (int q = 0; q < 3; ++q) {
        const std::string n = std::to_string(q);
        std::string pool = "t";
        pool += n;
        std::string port = "vdev=\"";
        port += dev;
        port += "\" rx_queues=\"3\" queue=\"";
        port += n;
        port += '"';
        xml += "<threadpool id=\"" + pool + "\" num_threads=\"1\"/>";
        std::string src = "src";
        src += n;
        std::string counter = "c";
        counter += n;
        xml += dpdk_block(src, port, pool);
        xml += counter_for(src, counter);
    }
    auto e = run_xml(xml + "</install></composition>");
    const std::string counters[3] = {"c0", "c1", "c2"};
    const std::string sources[3] = {"src0", "src1", "src2"};
    for (int q = 0; q < 3; ++q) {
        EXPECT_EQ(read_u64(*e, counters[q], "pktcnt"), want[q].packets) << files[q];
        EXPECT_EQ(read_u64(*e, counters[q], "bytecnt"), want[q].captured) << files[q];
        EXPECT_EQ(read_u64(*e, sources[q], "mbufs_in_use"), 0u);
    }
    e.reset();  // closes the port and removes the device

    const std::string all = "<composition id=\"a\"><install><threadpool id=\"t\" num_threads=\"1\"/>" +
                            dpdk_block("src", "vdev=\"" + fresh_name("net_pcap") + dev.substr(dev.find(',')) +
                                                  "\" rx_queues=\"3\"") +
                            counter_for("src", "c") + "</install></composition>";
    auto e2 = run_xml(all);
    EXPECT_EQ(read_u64(*e2, "c", "pktcnt"), total);
    EXPECT_EQ(read_u64(*e2, "src", "mbufs_in_use"), 0u);
}

// A pool far smaller than the file, a consumer on another thread: the source must pause (not
// lose packets to rx_nombuf), and all mbufs must be back at the end.
TEST(Dpdk, SmallPoolBackpressureLosesNothing) {
    const std::string file = pcap_dir() + "/netflix.pcap";
    const FileCounts want = pcap_counts(file);
    ASSERT_GT(want.packets, 10 * 160u);  // ten times the pool
    const std::string xml =
        "<composition id=\"bp\"><install><threadpool id=\"t\" num_threads=\"1\"/>"
        "<threadpool id=\"u\" num_threads=\"1\"/>" +
        dpdk_block("src", "vdev=\"" + fresh_name("net_pcap") + ",rx_pcap=" + file + "\" rx_desc=\"32\"", "t",
                   "<pool mbufs=\"160\" cache=\"0\"/><source burst=\"16\"/>") +
        "<block id=\"c\" type=\"PacketCounter\" invocation=\"indirect\" threadpool=\"u\"/>"
        "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"c\" dst_gate=\"in_pkt\"/>"
        "</install></composition>";
    auto e = run_xml(xml);
    EXPECT_EQ(e->exit_code(), 0);
    EXPECT_EQ(read_u64(*e, "c", "pktcnt"), want.packets);
    EXPECT_EQ(read_u64(*e, "c", "bytecnt"), want.captured);
    EXPECT_EQ(read_u64(*e, "src", "rx_nombuf"), 0u);
    EXPECT_EQ(read_u64(*e, "src", "mbufs_in_use"), 0u);
}

// --- net_ring: hand-made mbufs, a live (endless) port stopped on request --------------------

TEST(Dpdk, RingPortDeliversInjectedMbufsAndFreesThem) {
    rte_mempool* mp = rte_pktmbuf_pool_create("weir_test_ring", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    ASSERT_NE(mp, nullptr);
    rte_ring* ring = rte_ring_create("weir_test_r", 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    ASSERT_NE(ring, nullptr);
    const int port = rte_eth_from_ring(ring);
    ASSERT_GE(port, 0);
    char name[RTE_ETH_NAME_MAX_LEN] = {0};
    ASSERT_EQ(rte_eth_dev_get_name_by_port(static_cast<uint16_t>(port), name), 0);

    // The packets of a real capture, copied into mbufs.
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline((pcap_dir() + "/netflix.pcap").c_str(), err);
    ASSERT_NE(p, nullptr) << err;
    pcap_pkthdr* h = nullptr;
    const u_char* d = nullptr;
    uint64_t n = 0;
    uint64_t bytes = 0;
    while (pcap_next_ex(p, &h, &d) == 1 && n < 1500) {
        rte_mbuf* m = rte_pktmbuf_alloc(mp);
        ASSERT_NE(m, nullptr);
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(h->caplen)), d, h->caplen);
        ASSERT_EQ(rte_ring_enqueue(ring, m), 0);
        ++n;
        bytes += h->caplen;
    }
    pcap_close(p);
    EXPECT_EQ(rte_mempool_in_use_count(mp), n);

    auto e = Engine::load_string("<composition id=\"r\"><install><threadpool id=\"t\" num_threads=\"1\"/>" +
                                     dpdk_block("src", std::string("name=\"") + name + "\"") + counter_for("src", "c") +
                                     "</install></composition>",
                                 "ring.xml");
    EXPECT_FALSE(e->connections().empty());
    e->start();
    e->launch();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (read_u64(*e, "c", "pktcnt") < n && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    e->request_stop();  // a ring port never ends by itself
    e->wait();
    EXPECT_EQ(read_u64(*e, "c", "pktcnt"), n);
    EXPECT_EQ(read_u64(*e, "c", "bytecnt"), bytes);
    EXPECT_EQ(rte_mempool_in_use_count(mp), 0u);  // the release hook gave every mbuf back
    e.reset();  // the source closed the port when it went
    rte_ring_free(ring);
    rte_mempool_free(mp);
}

// --- the software Toeplitz with the symmetric key ------------------------------------------

// NIC-order input (src addr, dst addr, src port, dst port) and DPDK's CPU-order tuple.
struct Tuple {
    uint8_t bytes[36] = {};
    std::size_t len = 0;
    rte_thash_tuple cpu{};
    uint32_t cpu_len = 0;
};

Tuple make_tuple(const proto::Decoded& d, bool ports, bool reverse) {
    Tuple t;
    const auto& a = reverse ? d.dst : d.src;
    const auto& b = reverse ? d.src : d.dst;
    const uint16_t sp = ports ? (reverse ? d.dport : d.sport) : 0;
    const uint16_t dp = ports ? (reverse ? d.sport : d.dport) : 0;
    const std::size_t alen = d.ip_version == 4 ? 4 : 16;
    std::memcpy(t.bytes, a.data(), alen);
    std::memcpy(t.bytes + alen, b.data(), alen);
    t.len = 2 * alen;
    if (ports) {
        t.bytes[t.len++] = static_cast<uint8_t>(sp >> 8);
        t.bytes[t.len++] = static_cast<uint8_t>(sp);
        t.bytes[t.len++] = static_cast<uint8_t>(dp >> 8);
        t.bytes[t.len++] = static_cast<uint8_t>(dp);
    }
    if (d.ip_version == 4) {
        t.cpu.v4.src_addr = (uint32_t{a[0]} << 24) | (uint32_t{a[1]} << 16) | (uint32_t{a[2]} << 8) | a[3];
        t.cpu.v4.dst_addr = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
        t.cpu.v4.sport = sp;
        t.cpu.v4.dport = dp;
        t.cpu_len = ports ? RTE_THASH_V4_L4_LEN : RTE_THASH_V4_L3_LEN;
    } else {
        rte_ipv6_hdr h{};
        std::memcpy(h.src_addr, a.data(), 16);
        std::memcpy(h.dst_addr, b.data(), 16);
        rte_thash_load_v6_addrs(&h, &t.cpu);
        t.cpu.v6.sport = sp;
        t.cpu.v6.dport = dp;
        t.cpu_len = ports ? RTE_THASH_V6_L4_LEN : RTE_THASH_V6_L3_LEN;
    }
    return t;
}

TEST(DpdkRss, SoftwareToeplitzEqualsRteSoftrssAndKeepsFlowsOnOneQueue) {
    const std::vector<uint8_t> key = capture::symmetric_rss_key(40);
    uint64_t hashed = 0;
    for (const auto& f : pcap_files()) {
        char err[PCAP_ERRBUF_SIZE];
        pcap_t* p = pcap_open_offline(f.c_str(), err);
        ASSERT_NE(p, nullptr) << err;
        const int linktype = pcap_datalink(p);
        // flow (canonical key) -> the queue its first packet went to, per queue count and path
        std::map<std::pair<std::string, uint32_t>, std::pair<uint32_t, uint32_t>> seen;
        pcap_pkthdr* h = nullptr;
        const u_char* data = nullptr;
        while (pcap_next_ex(p, &h, &data) == 1) {
            proto::Decoded d;
            const proto::Verdict v = proto::decode(data, h->caplen, static_cast<uint16_t>(linktype), d);
            if (d.ip_version == 0 || (v != proto::Verdict::kOk && v != proto::Verdict::kOtherTransport &&
                                      v != proto::Verdict::kIpFragment)) {
                continue;
            }
            const bool ports = v == proto::Verdict::kOk && !d.fragment &&
                               (d.l4_proto == IPPROTO_TCP || d.l4_proto == IPPROTO_UDP);
            Tuple fwd = make_tuple(d, ports, false);
            Tuple rev = make_tuple(d, ports, true);
            const uint32_t ours = capture::toeplitz_hash(key.data(), key.size(), fwd.bytes, fwd.len);
            ASSERT_EQ(capture::ToeplitzTable::symmetric().hash(fwd.bytes, fwd.len), ours) << f;
            const uint32_t dpdk = rte_softrss(reinterpret_cast<uint32_t*>(&fwd.cpu), fwd.cpu_len, key.data());
            ASSERT_EQ(ours, dpdk) << f;
            ASSERT_EQ(ours, capture::toeplitz_hash(key.data(), key.size(), rev.bytes, rev.len)) << f;
            ASSERT_EQ(dpdk, rte_softrss(reinterpret_cast<uint32_t*>(&rev.cpu), rev.cpu_len, key.data()))
                << f;
            ++hashed;
            // Both paths are flow-affine: every packet of a flow gets one RSS queue and one
            // FlowDemux output, for several queue counts.
            bool lo = false;
            const flow::CanonicalKey k = flow::make_key(d.ip_version, ports ? d.l4_proto : 0, d.src,
                                                        ports ? d.sport : 0, d.dst, ports ? d.dport : 0, lo);
            const std::string flow_id(reinterpret_cast<const char*>(&k), sizeof k);
            PacketView view;
            view.data = data;
            view.caplen = h->caplen;
            view.wirelen = h->len;
            view.linktype = static_cast<uint16_t>(linktype);
            for (uint32_t queues : {2U, 3U, 4U, 8U}) {
                bool is_ip = false;
                const uint32_t rss = capture::rss_queue(ours, queues);
                // FlowDemux's default hash is the NIC's: the same output as the RSS queue, packet
                // by packet; its other hash (the flow table's) is flow-affine too.
                ASSERT_EQ(blocks::FlowDemux::output_of(view, queues, is_ip), rss) << f;
                const uint32_t demux = blocks::FlowDemux::output_of(view, queues, is_ip, false);
                const auto [it, fresh] = seen.try_emplace({flow_id, queues}, rss, demux);
                if (!fresh) {
                    ASSERT_EQ(it->second.first, rss) << f << ": a flow's packets went to two RSS queues";
                    ASSERT_EQ(it->second.second, demux) << f << ": a flow's packets went to two demux outputs";
                }
            }
        }
        pcap_close(p);
    }
    EXPECT_GT(hashed, 5000u);  // every IP packet of every capture
}

TEST(DpdkRss, KnownVectorsOfTheMicrosoftKey) {
    // The verification suite of Microsoft's RSS documentation (IPv4 with ports):
    // 66.9.149.187:2794 -> 161.142.100.80:1766 hashes to 0x51ccc178.
    const uint8_t ms_key[40] = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
                                0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
                                0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};
    const uint8_t in[12] = {66, 9, 149, 187, 161, 142, 100, 80, 0x0a, 0xea, 0x06, 0xe6};
    EXPECT_EQ(capture::toeplitz_hash(ms_key, sizeof ms_key, in, sizeof in), 0x51ccc178u);
    EXPECT_EQ(capture::toeplitz_hash(ms_key, sizeof ms_key, in, 8), 0x323e8fc2u);  // addresses only
}

// --- the engine binary: errors, and the shipped compositions --------------------------------

std::string write_file(const std::string& name, const std::string& text) {
    const std::string path = ::testing::TempDir() + "/" + name;
    std::ofstream(path) << text;
    return path;
}

int line_count(const std::string& s) {
    int n = 0;
    for (char c : s) {
        n += c == '\n' ? 1 : 0;
    }
    return n;
}

std::string engine_composition(const std::string& eal) {
    return "<composition id=\"e\"><install><threadpool id=\"t\" num_threads=\"1\"/>"
           "<block id=\"src\" type=\"DpdkSource\" threadpool=\"t\"><params><eal " + eal +
           "/><port vdev=\"net_pcap0,rx_pcap=" + pcap_dir() + "/netflix.pcap\"/></params></block>" +
           counter_for("src", "c") + "</install></composition>\n";
}

TEST(DpdkCli, BadEalArgumentIsOneClearLineAndExitOne) {
    const std::string xml =
        write_file("dpdk-bad-eal.xml", engine_composition("no_huge=\"true\" no_pci=\"true\" args=\"--no-such-flag\""));
    const auto r = run_command(engine_binary() + " -q --no-summary " + xml, true);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(line_count(r.out), 1) << r.out;
    EXPECT_NE(r.out.find("dpdk-bad-eal.xml:1: block 'src' (DpdkSource) cannot start: DPDK EAL failed to start"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("unrecognized option '--no-such-flag'"), std::string::npos) << r.out;
}

TEST(DpdkCli, NoHugepagesIsOneClearLineWithTheRemedy) {
    std::ifstream meminfo("/proc/meminfo");
    for (std::string l; std::getline(meminfo, l);) {
        if (l.rfind("HugePages_Total:", 0) == 0 && std::stoul(l.substr(16)) > 0) {
            GTEST_SKIP() << "hugepages are reserved on this host: EAL would start";
        }
    }
    const std::string xml = write_file("dpdk-huge.xml", engine_composition("no_pci=\"true\" no_shconf=\"true\""));
    const auto r = run_command(engine_binary() + " -q --no-summary " + xml, true);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(line_count(r.out), 1) << r.out;
    EXPECT_NE(r.out.find("hugepage"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("no_huge=\"true\""), std::string::npos) << r.out;
}

TEST(DpdkCli, MissingCaptureFileNamesTheFile) {
    const std::string xml = write_file(
        "dpdk-nofile.xml",
        "<composition id=\"e\"><install><threadpool id=\"t\" num_threads=\"1\"/>"
        "<block id=\"src\" type=\"DpdkSource\" threadpool=\"t\"><params><eal no_huge=\"true\" no_pci=\"true\" "
        "no_shconf=\"true\"/><port vdev=\"net_pcap0,rx_pcap=/nonexistent/x.pcap\"/></params></block>"
        "</install></composition>\n");
    const auto r = run_command(engine_binary() + " -q --no-summary " + xml, true);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(line_count(r.out), 1) << r.out;
    EXPECT_NE(r.out.find("/nonexistent/x.pcap"), std::string::npos) << r.out;
}

TEST(DpdkCli, CountCompositionMatchesPcapCount) {
    for (const char* f : {"netflix.pcap", "http_ipv6.pcap", "tls_ech.pcapng"}) {
        const std::string file = pcap_dir() + "/" + f;
        const auto a = run_command(engine_binary() + " -q " + source_root() + "/compositions/count.xml -D TRACE=" + file);
        const auto b = run_command(engine_binary() + " -q " + source_root() + "/compositions/dpdk-count.xml -D TRACE=" + file);
        EXPECT_EQ(a.exit_code, 0);
        EXPECT_EQ(b.exit_code, 0) << b.out;
        const auto counter_line = [](const std::string& out) {
            const auto at = out.find("counter (PacketCounter): pktcnt=");
            return at == std::string::npos ? std::string("missing") : out.substr(at, out.find(" pktrate", at) - at);
        };
        EXPECT_EQ(counter_line(a.out), counter_line(b.out)) << f;
        EXPECT_NE(counter_line(b.out), "missing") << b.out;
    }
}

// Two queues, one FlowMeter replica each: the logs hold exactly the flows tstat.xml finds in the
// two captures separately.
TEST(DpdkCli, TstatCompositionWithTwoReplicasEqualsTwoSingleRuns) {
    const std::string a = pcap_dir() + "/netflix.pcap";
    const std::string b = pcap_dir() + "/skype-conference-call.pcap";
    const std::string dir = ::testing::TempDir() + "/dpdk-tstat-logs";
    std::filesystem::remove_all(dir);
    // The log lines (no headers), sorted: the replicas finish flows in their own order.
    const auto lines = [](const std::string& root, const std::string& log) {
        std::vector<std::string> out;
        for (const auto& d : std::filesystem::recursive_directory_iterator(root)) {
            if (d.path().filename() == log) {
                std::ifstream in(d.path());
                for (std::string l; std::getline(in, l);) {
                    if (!l.empty() && l[0] != '#') {
                        out.push_back(l);
                    }
                }
            }
        }
        std::sort(out.begin(), out.end());
        return out;
    };
    const auto r = run_command(engine_binary() + " -q --no-summary " + source_root() + "/compositions/dpdk-tstat.xml -D TRACE=" +
                                   a + " -D TRACE2=" + b + " -D LOGDIR=" + dir + "/dpdk",
                               true);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    for (const auto& [name, file] : {std::pair{"a", a}, std::pair{"b", b}}) {
        const auto s = run_command(engine_binary() + " -q --no-summary " + source_root() + "/compositions/tstat.xml -D TRACE=" +
                                   file + " -D LOGDIR=" + dir + "/" + name);
        ASSERT_EQ(s.exit_code, 0);
    }
    for (const char* log : {"log_tcp_complete", "log_tcp_nocomplete", "log_udp_complete", "log_tcp_midstream"}) {
        // Equal lines: same flows, same counters, same packet times (the file's, not the clock's).
        auto both = lines(dir + "/a", log);
        const auto second = lines(dir + "/b", log);
        both.insert(both.end(), second.begin(), second.end());
        std::sort(both.begin(), both.end());
        EXPECT_EQ(lines(dir + "/dpdk", log), both) << log;
    }
    EXPECT_FALSE(lines(dir + "/dpdk", "log_tcp_complete").empty());
    // With -D TRACE alone the second queue reads compositions/empty.pcap: exactly tstat.xml's flows.
    const auto only = run_command(engine_binary() + " -q --no-summary " + source_root() +
                                      "/compositions/dpdk-tstat.xml -D TRACE=" + a + " -D LOGDIR=" + dir + "/dpdk-a",
                                  true);
    ASSERT_EQ(only.exit_code, 0) << only.out;
    for (const char* log : {"log_tcp_complete", "log_tcp_nocomplete", "log_udp_complete", "log_tcp_midstream"}) {
        EXPECT_EQ(lines(dir + "/dpdk-a", log), lines(dir + "/a", log)) << log;
    }
}

}  // namespace
}  // namespace weir::testing
