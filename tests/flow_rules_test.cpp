// FlowMeter's end-of-flow rules and statistics on crafted captures written by the test, and the
// Tstat log format written by TstatLogWriter.
#include "test_blocks.hpp"
#include "test_util.hpp"

#include <flow/flow_state.hpp>
#include <weir/engine.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <netinet/in.h>
#include <pcap/pcap.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace weir::testing {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kMs = 1'000'000;
constexpr int64_t kT0 = 1'700'000'000 * kSec;

enum : uint8_t { F = 0x01, S = 0x02, R = 0x04, P = 0x08, A = 0x10 };

struct Frame {
    int64_t ts;
    std::vector<uint8_t> bytes;
};

void put16(std::vector<uint8_t>& b, std::size_t at, uint16_t v) {
    b[at] = static_cast<uint8_t>(v >> 8);
    b[at + 1] = static_cast<uint8_t>(v);
}
void put32(std::vector<uint8_t>& b, std::size_t at, uint32_t v) {
    put16(b, at, static_cast<uint16_t>(v >> 16));
    put16(b, at + 2, static_cast<uint16_t>(v));
}

// Ethernet + IPv4 + TCP/UDP with `payload` zero bytes. Hosts are 10.0.0.<host>.
std::vector<uint8_t> ip_frame(uint8_t proto, uint8_t src, uint16_t sport, uint8_t dst, uint16_t dport,
                              uint32_t seq, uint32_t ack, uint8_t flags, uint32_t payload, bool syn_options = true) {
    const bool tcp = proto == IPPROTO_TCP;
    const std::size_t opt = tcp && (flags & S) != 0 && syn_options ? 8 : 0;  // MSS + window scale + NOP
    const std::size_t l4 = tcp ? 20 + opt : 8;
    std::vector<uint8_t> b(14 + 20 + l4 + payload, 0);
    b[12] = 0x08;  // EtherType IPv4
    std::size_t ip = 14;
    b[ip] = 0x45;
    put16(b, ip + 2, static_cast<uint16_t>(20 + l4 + payload));
    b[ip + 8] = 64;
    b[ip + 9] = proto;
    b[ip + 12] = 10;
    b[ip + 15] = src;
    b[ip + 16] = 10;
    b[ip + 19] = dst;
    std::size_t t = ip + 20;
    put16(b, t, sport);
    put16(b, t + 2, dport);
    if (tcp) {
        put32(b, t + 4, seq);
        put32(b, t + 8, ack);
        b[t + 12] = static_cast<uint8_t>((l4 / 4) << 4);
        b[t + 13] = flags;
        put16(b, t + 14, 65535);
        if (opt != 0) {
            b[t + 20] = 2;  // MSS 1460
            b[t + 21] = 4;
            put16(b, t + 22, 1460);
            b[t + 24] = 1;  // NOP
            b[t + 25] = 3;  // window scale 7
            b[t + 26] = 3;
            b[t + 27] = 7;
        }
    } else {
        put16(b, t + 4, static_cast<uint16_t>(8 + payload));
    }
    return b;
}

std::string write_pcap(const std::string& name, const std::vector<Frame>& frames) {
    const std::string path = ::testing::TempDir() + "/" + name;
    pcap_t* dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
    pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
    for (const auto& f : frames) {
        pcap_pkthdr h{};
        h.ts.tv_sec = static_cast<time_t>(f.ts / kSec);
        h.ts.tv_usec = static_cast<suseconds_t>(f.ts % kSec);
        h.caplen = h.len = static_cast<bpf_u_int32>(f.bytes.size());
        pcap_dump(reinterpret_cast<u_char*>(d), &h, f.bytes.data());
    }
    pcap_dump_close(d);
    pcap_close(dead);
    return path;
}

std::vector<flow::FlowRecord> meter(const std::string& pcap, const std::string& params = "",
                                    std::unique_ptr<Engine>* keep = nullptr, bool damaged_ok = false) {
    FlowCollector::take();
    auto e = run_xml("<composition id=\"f\"><general><clock type=\"packet\"/></general><install>\n"
                     "<threadpool id=\"p\" num_threads=\"1\"/>\n"
                     "<block id=\"src\" type=\"PcapSource\" threadpool=\"p\"><params><source name=\"" + pcap +
                     "\"/></params></block>\n"
                     "<block id=\"meter\" type=\"FlowMeter\"><params>" + params + "</params></block>\n"
                     "<block id=\"out\" type=\"TestFlowCollector\"/>\n"
                     "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"meter\" dst_gate=\"in_pkt\"/>\n"
                     "<connection src_block=\"meter\" src_gate=\"out_flow\" dst_block=\"out\" dst_gate=\"in\"/>\n"
                     "</install></composition>\n");
    if (!damaged_ok) {  // a truncated capture ends with exit 1 after every packet before the damage
        EXPECT_EQ(e->exit_code(), 0);
    }
    if (keep != nullptr) {
        *keep = std::move(e);
    }
    return FlowCollector::take();
}

// A complete connection: handshake, 100 bytes up, 300 down (two segments), FIN both ways.
std::vector<Frame> clean_connection(int64_t t0, uint8_t c = 1, uint16_t cport = 40000) {
    const uint8_t s = 2;
    const uint16_t sp = 80;
    return {
        {t0, ip_frame(IPPROTO_TCP, c, cport, s, sp, 1000, 0, S, 0)},
        {t0 + 10 * kMs, ip_frame(IPPROTO_TCP, s, sp, c, cport, 5000, 1001, S | A, 0)},
        {t0 + 20 * kMs, ip_frame(IPPROTO_TCP, c, cport, s, sp, 1001, 5001, A, 0)},
        {t0 + 21 * kMs, ip_frame(IPPROTO_TCP, c, cport, s, sp, 1001, 5001, P | A, 100)},
        {t0 + 31 * kMs, ip_frame(IPPROTO_TCP, s, sp, c, cport, 5001, 1101, A, 200)},
        {t0 + 32 * kMs, ip_frame(IPPROTO_TCP, s, sp, c, cport, 5201, 1101, P | A, 100)},
        {t0 + 40 * kMs, ip_frame(IPPROTO_TCP, c, cport, s, sp, 1101, 5301, A, 0)},
        {t0 + 41 * kMs, ip_frame(IPPROTO_TCP, c, cport, s, sp, 1101, 5301, F | A, 0)},
        {t0 + 50 * kMs, ip_frame(IPPROTO_TCP, s, sp, c, cport, 5301, 1102, F | A, 0)},
        {t0 + 60 * kMs, ip_frame(IPPROTO_TCP, c, cport, s, sp, 1102, 5302, A, 0)},
    };
}

TEST(FlowRules, CleanCloseIsCompleteWithTstatCounts) {
    const auto r = meter(write_pcap("clean.pcap", clean_connection(kT0)));
    ASSERT_EQ(r.size(), 1u);
    const auto& f = r[0];
    EXPECT_EQ(f.reason, flow::EndReason::kFin);
    EXPECT_TRUE(f.complete);
    EXPECT_FALSE(f.midstream);
    EXPECT_EQ(f.key.port[0], 40000);
    EXPECT_EQ(f.key.port[1], 80);
    const auto& c = f.dir[0];
    const auto& s = f.dir[1];
    EXPECT_EQ(c.pkts_all, 6u);
    EXPECT_EQ(s.pkts_all, 4u);
    EXPECT_EQ(c.syn_cnt, 1u);
    EXPECT_EQ(s.syn_cnt, 1u);
    EXPECT_EQ(c.fin_cnt, 1u);
    EXPECT_EQ(s.fin_cnt, 1u);
    EXPECT_EQ(c.ack_cnt, 5u);
    EXPECT_EQ(s.ack_cnt, 4u);
    EXPECT_EQ(c.ack_cnt_p, 3u);  // handshake ACK, the ACK of the data, the last ACK
    EXPECT_EQ(s.ack_cnt_p, 0u);
    EXPECT_EQ(c.bytes_uniq, 100u);
    EXPECT_EQ(s.bytes_uniq, 300u);
    EXPECT_EQ(c.pkts_data, 1u);
    EXPECT_EQ(s.pkts_data, 2u);
    EXPECT_EQ(c.pkts_retx + s.pkts_retx + c.pkts_ooo + s.pkts_ooo, 0u);
    EXPECT_EQ(f.first_ns, kT0);
    EXPECT_EQ(f.last_ns, kT0 + 60 * kMs);
    EXPECT_EQ(c.first_payload_ns, kT0 + 21 * kMs);
    EXPECT_EQ(s.first_payload_ns, kT0 + 31 * kMs);
    EXPECT_EQ(s.last_payload_ns, kT0 + 32 * kMs);
    EXPECT_EQ(c.first_ack_ns, kT0 + 20 * kMs);
    EXPECT_EQ(s.first_ack_ns, kT0 + 31 * kMs);
    EXPECT_EQ(c.mss, 1460);
    EXPECT_TRUE(c.opt_window_scale);
    EXPECT_EQ(c.window_scale, 7);
    EXPECT_EQ(c.ttl_min, 64);
    // RTT: the client's SYN acked 10 ms later, its 100 bytes 10 ms later; the server's 300 bytes
    // are acked 9 ms after their last segment (8 ms for the first is not taken: cumulative ACK
    // samples the timed segments it covers: 9 ms and 8 ms).
    EXPECT_EQ(c.rtt_cnt, 3u);  // SYN, data, FIN
    EXPECT_NEAR(c.rtt_min_ms, 9.0, 1e-3);
    EXPECT_NEAR(c.rtt_max_ms, 10.0, 1e-3);
    EXPECT_GE(s.rtt_cnt, 2u);
}

TEST(FlowRules, RstAfterHandshakeIsCompleteWithoutIsNot) {
    auto frames = clean_connection(kT0);
    frames.resize(4);
    frames.push_back({kT0 + 30 * kMs, ip_frame(IPPROTO_TCP, 2, 80, 1, 40000, 5001, 1101, R | A, 0)});
    frames.push_back({kT0 + kSec, ip_frame(IPPROTO_TCP, 3, 40001, 2, 80, 7000, 0, S, 0)});
    frames.push_back({kT0 + kSec + kMs, ip_frame(IPPROTO_TCP, 2, 80, 3, 40001, 0, 7001, R | A, 0)});
    const auto r = meter(write_pcap("rst.pcap", frames));
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].reason, flow::EndReason::kRst);
    EXPECT_TRUE(r[0].complete);
    EXPECT_EQ(r[0].dir[1].rst_cnt, 1u);
    EXPECT_EQ(r[1].reason, flow::EndReason::kRst);
    EXPECT_FALSE(r[1].complete) << "refused connection: no SYN-ACK, so log_tcp_nocomplete";
}

TEST(FlowRules, TimeoutsFireAtTheRightPacketTime) {
    std::vector<Frame> f;
    f.push_back({kT0, ip_frame(IPPROTO_TCP, 1, 41000, 2, 443, 1, 0, S, 0)});          // SYN singleton
    f.push_back({kT0, ip_frame(IPPROTO_UDP, 1, 5353, 2, 53, 0, 0, 0, 30)});            // one UDP packet
    auto est = clean_connection(kT0, 3, 42000);
    est.resize(5);                                                                      // established, idle
    f.insert(f.end(), est.begin(), est.end());
    f.push_back({kT0 + kMs, ip_frame(IPPROTO_UDP, 4, 6000, 2, 7000, 0, 0, 0, 10)});    // UDP, two packets
    f.push_back({kT0 + 2 * kMs, ip_frame(IPPROTO_UDP, 2, 7000, 4, 6000, 0, 0, 0, 10)});
    // Unrelated traffic moves the packet clock on.
    for (int64_t t : {9, 11, 150, 199, 205, 295, 310}) {
        f.push_back({kT0 + t * kSec, ip_frame(IPPROTO_UDP, 9, 1000, 8, static_cast<uint16_t>(t), 0, 0, 0, 1)});
    }
    std::sort(f.begin(), f.end(), [](const Frame& a, const Frame& b) { return a.ts < b.ts; });
    const auto r = meter(write_pcap("timeouts.pcap", f));
    const auto find = [&](uint16_t cport) -> const flow::FlowRecord* {
        for (const auto& x : r) {
            if (x.key.port[0] == cport) {
                return &x;
            }
        }
        return nullptr;
    };
    const auto* syn = find(41000);
    ASSERT_NE(syn, nullptr);
    EXPECT_EQ(syn->reason, flow::EndReason::kSingleton);
    EXPECT_FALSE(syn->complete);
    const auto* udp1 = find(5353);
    ASSERT_NE(udp1, nullptr);
    EXPECT_EQ(udp1->reason, flow::EndReason::kSingleton);
    const auto* udp2 = find(6000);
    ASSERT_NE(udp2, nullptr);
    EXPECT_EQ(udp2->reason, flow::EndReason::kIdle) << "200 s after its last packet";
    const auto* tcp = find(42000);
    ASSERT_NE(tcp, nullptr);
    EXPECT_EQ(tcp->reason, flow::EndReason::kIdle) << "300 s after its last packet";
    EXPECT_TRUE(tcp->complete) << "both SYNs seen";
    // Order of ending follows packet time: singletons (10 s) < UDP idle (200 s) < TCP idle (300 s).
    const auto pos = [&](const flow::FlowRecord* x) { return x - r.data(); };
    EXPECT_LT(pos(syn), pos(udp2));
    EXPECT_LT(pos(udp2), pos(tcp));
    // The 1-packet probes at 9 s..310 s: each its own UDP singleton; the last ones end at shutdown.
    std::size_t shutdown = 0;
    for (const auto& x : r) {
        shutdown += x.reason == flow::EndReason::kShutdown ? 1 : 0;
    }
    EXPECT_EQ(shutdown, 1u) << "only the probe at 310 s is still open at the end";
}

TEST(FlowRules, RetransmissionsAndOutOfSequence) {
    auto f = clean_connection(kT0);
    f.resize(4);  // handshake + 100 bytes up (seq 1001..1101)
    f.push_back({kT0 + 300 * kMs, ip_frame(IPPROTO_TCP, 1, 40000, 2, 80, 1001, 5001, P | A, 100)});   // retx
    f.push_back({kT0 + 301 * kMs, ip_frame(IPPROTO_TCP, 1, 40000, 2, 80, 1201, 5001, P | A, 100)});   // gap
    f.push_back({kT0 + 302 * kMs, ip_frame(IPPROTO_TCP, 1, 40000, 2, 80, 1101, 5001, P | A, 100)});   // fills it
    f.push_back({kT0 + 303 * kMs, ip_frame(IPPROTO_TCP, 1, 40000, 2, 80, 1251, 5001, P | A, 100)});   // half old
    const auto r = meter(write_pcap("retx.pcap", f));
    ASSERT_EQ(r.size(), 1u);
    const auto& c = r[0].dir[0];
    EXPECT_EQ(c.pkts_data, 5u);
    EXPECT_EQ(c.bytes_all, 500u);
    EXPECT_EQ(c.pkts_retx, 2u);
    EXPECT_EQ(c.bytes_retx, 150u);
    EXPECT_EQ(c.pkts_ooo, 1u);
    EXPECT_EQ(c.bytes_uniq, 350u);  // 1001..1351
    EXPECT_EQ(r[0].reason, flow::EndReason::kShutdown);
    EXPECT_FALSE(r[0].complete) << "open at the end of the trace: log_tcp_nocomplete";
}

TEST(FlowRules, MidstreamFlowsTrackedOrCountedLikeTstat) {
    std::vector<Frame> f = {
        {kT0, ip_frame(IPPROTO_TCP, 1, 50000, 2, 443, 100, 200, P | A, 50)},
        {kT0 + kMs, ip_frame(IPPROTO_TCP, 2, 443, 1, 50000, 200, 150, A, 0)},
    };
    const std::string pcap = write_pcap("mid.pcap", f);
    auto r = meter(pcap);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_TRUE(r[0].midstream);
    EXPECT_FALSE(r[0].complete);
    EXPECT_EQ(r[0].key.port[1], 443) << "the lower port is taken as the server";
    std::unique_ptr<Engine> e;
    r = meter(pcap, "<tcp midstream=\"false\"/>", &e);
    EXPECT_TRUE(r.empty());
    EXPECT_EQ(read_u64(*e, "meter", "untracked_tcp"), 2u);
}

TEST(FlowRules, TimestampJumpsOfYearsEndQuickly) {
    std::vector<Frame> f;
    for (int i = 0; i < 2000; ++i) {
        // A new flow every "year": each gap is longer than a turn of the timing wheel.
        f.push_back({kT0 + static_cast<int64_t>(i) * (365LL * 24 * 3600 / 40) * kSec,
                     ip_frame(IPPROTO_UDP, 1, static_cast<uint16_t>(10000 + i), 2, 53, 0, 0, 0, 20)});
    }
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = meter(write_pcap("jumps.pcap", f));
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
    ASSERT_EQ(r.size(), 2000u);
    for (std::size_t i = 0; i + 1 < r.size(); ++i) {
        EXPECT_EQ(r[i].reason, flow::EndReason::kSingleton);
    }
}

TEST(FlowRules, FullTableEvictsAndCounts) {
    std::vector<Frame> f;
    for (int i = 0; i < 100; ++i) {
        f.push_back({kT0 + i * kMs, ip_frame(IPPROTO_TCP, 1, static_cast<uint16_t>(20000 + i), 2, 80, 1, 0, S, 0)});
    }
    std::unique_ptr<Engine> e;
    const auto r = meter(write_pcap("full.pcap", f), "<table capacity=\"16\"/>", &e);
    EXPECT_EQ(r.size(), 100u) << "every flow reported once, evicted or not";
    EXPECT_EQ(read_u64(*e, "meter", "evictions"), 84u);
    std::size_t evicted = 0;
    for (const auto& x : r) {
        evicted += x.reason == flow::EndReason::kEvicted ? 1 : 0;
    }
    EXPECT_EQ(evicted, 84u);
}

TEST(FlowRules, ActiveTimeoutReportsLongFlows) {
    std::vector<Frame> f;
    for (int i = 0; i <= 100; ++i) {
        f.push_back({kT0 + i * kSec, ip_frame(IPPROTO_UDP, 1, 9000, 2, 9001, 0, 0, 0, 100)});
    }
    const auto r = meter(write_pcap("long.pcap", f), "<timeout active=\"30s\"/>");
    ASSERT_GE(r.size(), 4u);
    uint64_t packets = 0;
    for (const auto& x : r) {
        packets += x.dir[0].pkts_all;
    }
    EXPECT_EQ(packets, 101u) << "reports split the flow, they do not lose or repeat packets";
    EXPECT_EQ(r[0].reason, flow::EndReason::kActive);
    EXPECT_EQ(r.back().reason, flow::EndReason::kShutdown);
}

TEST(FlowRules, U48CountersSaturateInsteadOfWrapping) {
    flow::U48 v;
    v.set(flow::U48::kMax - 10);
    v.add(5);
    EXPECT_EQ(v.get(), flow::U48::kMax - 5);
    v.add(1'000'000);
    EXPECT_EQ(v.get(), flow::U48::kMax);
    v.set(0x0000123456789abcULL);
    EXPECT_EQ(v.get(), 0x0000123456789abcULL);
}

TEST(FlowRules, FlowsOlderThan78HoursAreReportedAndRestarted) {
    // A UDP request and reply every 150 s for 80 hours: idle never ends it, the 48-bit relative
    // times (78.2 h) do, as an "active" report, and nothing is lost or repeated.
    std::vector<Frame> f;
    const int n = 80 * 24;
    for (int i = 0; i < n; ++i) {
        const int64_t t = kT0 + static_cast<int64_t>(i) * 150 * kSec;
        f.push_back({t, ip_frame(IPPROTO_UDP, 1, 7000, 2, 7001, 0, 0, 0, 10)});
        f.push_back({t + kMs, ip_frame(IPPROTO_UDP, 2, 7001, 1, 7000, 0, 0, 0, 10)});
    }
    const auto r = meter(write_pcap("80h.pcap", f));
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].reason, flow::EndReason::kActive);
    EXPECT_EQ(r[1].reason, flow::EndReason::kShutdown);
    EXPECT_EQ(r[0].dir[0].pkts_all + r[1].dir[0].pkts_all, static_cast<uint32_t>(n));
    EXPECT_EQ(r[0].first_ns, kT0);
    EXPECT_LE(r[0].last_ns - r[0].first_ns, static_cast<int64_t>(flow::U48::kMax));
    EXPECT_EQ(r[1].dir[0].first_ns, r[0].last_ns - kMs + 150 * kSec) << "the request after the last reply";
    EXPECT_EQ(r[1].last_ns, kT0 + static_cast<int64_t>(n - 1) * 150 * kSec + kMs);
}

// The extension tier holds only the end-to-end and options sets: without it every core field of
// every flow of every shared capture is the same.
TEST(FlowRules, CoreSetIdenticalWithoutTheExtension) {
    std::size_t flows = 0;
    for (const auto& name : pcap_files()) {
        const std::string& pcap = name;
        const auto with = meter(pcap, "", nullptr, true);
        const auto without = meter(pcap, "<stats extended=\"false\"/>", nullptr, true);
        ASSERT_EQ(with.size(), without.size()) << pcap;
        for (std::size_t i = 0; i < with.size(); ++i) {
            const auto& a = with[i];
            const auto& b = without[i];
            EXPECT_TRUE(a.extended);
            EXPECT_FALSE(b.extended);
            EXPECT_EQ(std::memcmp(&a.key, &b.key, sizeof a.key), 0) << pcap << " flow " << i;
            EXPECT_EQ(a.first_ns, b.first_ns);
            EXPECT_EQ(a.last_ns, b.last_ns);
            EXPECT_EQ(a.reason, b.reason);
            EXPECT_EQ(a.complete, b.complete);
            for (int d = 0; d < 2; ++d) {
                const auto& x = a.dir[d];
                const auto& y = b.dir[d];
                EXPECT_EQ(x.pkts_all, y.pkts_all) << pcap << " flow " << i;
                EXPECT_EQ(x.bytes_uniq, y.bytes_uniq);
                EXPECT_EQ(x.bytes_all, y.bytes_all);
                EXPECT_EQ(x.bytes_retx, y.bytes_retx);
                EXPECT_EQ(x.wire_bytes, y.wire_bytes);
                EXPECT_EQ(x.pkts_retx, y.pkts_retx);
                EXPECT_EQ(x.pkts_ooo, y.pkts_ooo);
                EXPECT_EQ(x.ack_cnt_p, y.ack_cnt_p);
                EXPECT_EQ(x.first_payload_ns, y.first_payload_ns);
                EXPECT_EQ(x.first_ack_ns, y.first_ack_ns);
                EXPECT_EQ(y.rtt_cnt + y.mss + y.ttl_max, 0u);
            }
        }
        flows += with.size();
    }
    EXPECT_GT(flows, 300u);
}

// Tstat's out-of-sequence causes on crafted connections: each flow (client port) shows one.
TEST(FlowRules, OutOfSequenceCausesAndOptionsSet) {
    const auto with_id = [](std::vector<uint8_t> b, uint16_t id) {
        put16(b, 14 + 4, id);
        return b;
    };
    const auto with_window = [](std::vector<uint8_t> b, uint16_t w) {
        put16(b, 14 + 20 + 14, w);
        return b;
    };
    std::vector<Frame> f;
    // Handshake with RTT samples of 10 ms both ways: mean RTT 20 ms, RTO 100 ms, min RTT 20 ms.
    const auto handshake = [&](uint16_t cp, int64_t t0) {
        f.push_back({t0, ip_frame(IPPROTO_TCP, 1, cp, 2, 80, 1000, 0, S, 0)});
        f.push_back({t0 + 10 * kMs, ip_frame(IPPROTO_TCP, 2, 80, 1, cp, 5000, 1001, S | A, 0)});
        f.push_back({t0 + 20 * kMs, ip_frame(IPPROTO_TCP, 1, cp, 2, 80, 1001, 5001, A, 0)});
    };
    const auto data = [&](uint16_t cp, int64_t t, uint32_t seq, uint32_t len, uint16_t id) {
        f.push_back({t, with_id(ip_frame(IPPROTO_TCP, 1, cp, 2, 80, seq, 5001, P | A, len), id)});
    };
    const auto server_ack = [&](uint16_t cp, int64_t t, uint32_t ack, uint16_t window = 65535) {
        f.push_back({t, with_window(ip_frame(IPPROTO_TCP, 2, 80, 1, cp, 5001, ack, A, 0), window)});
    };
    const int64_t t0 = kT0;
    // 41001: timeout retransmission, 479 ms after the original (> RTO), another IP id.
    handshake(41001, t0);
    data(41001, t0 + 21 * kMs, 1001, 100, 1);
    data(41001, t0 + 500 * kMs, 1001, 100, 2);
    // 41002: fast retransmit after three duplicate ACKs, 11 ms after the last new segment.
    handshake(41002, t0);
    for (uint32_t i = 0; i < 4; ++i) {
        data(41002, t0 + (21 + i) * kMs, 1001 + 100 * i, 100, static_cast<uint16_t>(1 + i));
    }
    for (int i = 0; i < 4; ++i) {
        server_ack(41002, t0 + (30 + i) * kMs, 1101);  // one new ACK, then three duplicates
    }
    data(41002, t0 + 35 * kMs, 1101, 100, 5);
    // 41003: a network duplicate: the same segment with the same IP id 100 µs later.
    handshake(41003, t0);
    data(41003, t0 + 21 * kMs, 1001, 100, 7);
    data(41003, t0 + 21 * kMs + 100'000, 1001, 100, 7);
    // 41004: an unneeded timeout retransmission: the server had acknowledged the data.
    handshake(41004, t0);
    data(41004, t0 + 21 * kMs, 1001, 100, 1);
    server_ack(41004, t0 + 31 * kMs, 1101);
    data(41004, t0 + 500 * kMs, 1001, 100, 2);
    // 41005: reordering: the segment after a gap, then the gap's segment 0.5 ms later (< min RTT).
    handshake(41005, t0);
    data(41005, t0 + 21 * kMs, 1101, 100, 2);
    data(41005, t0 + 21 * kMs + 500'000, 1001, 100, 1);
    // 41006: a window probe: one byte resent while the server advertises a zero window.
    handshake(41006, t0);
    data(41006, t0 + 21 * kMs, 1001, 1, 1);
    server_ack(41006, t0 + 30 * kMs, 1001, 0);
    data(41006, t0 + 500 * kMs, 1001, 1, 2);
    // 41007: a second SYN with another initial sequence number.
    f.push_back({t0, ip_frame(IPPROTO_TCP, 1, 41007, 2, 80, 1000, 0, S, 0)});
    f.push_back({t0 + 3 * kSec, ip_frame(IPPROTO_TCP, 1, 41007, 2, 80, 777000, 0, S, 0)});
    std::stable_sort(f.begin(), f.end(), [](const Frame& a, const Frame& b) { return a.ts < b.ts; });
    const auto r = meter(write_pcap("anomalies.pcap", f));
    const auto client = [&](uint16_t cport) -> const flow::DirStats& {
        for (const auto& x : r) {
            if (x.key.port[0] == cport) {
                return x.dir[0];
            }
        }
        ADD_FAILURE() << "no flow from port " << cport;
        return r.at(0).dir[0];
    };
    const auto causes = [](const flow::DirStats& d) {
        return std::vector<uint32_t>{d.pkts_rto, d.pkts_fs, d.pkts_reor, d.pkts_dup,
                                     d.pkts_unk, d.pkts_fc, d.pkts_unrto, d.pkts_unfs};
    };
    using V = std::vector<uint32_t>;  // rto, fs, reor, dup, unk, fc, unrto, unfs
    EXPECT_EQ(causes(client(41001)), (V{1, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(causes(client(41002)), (V{0, 1, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(causes(client(41003)), (V{0, 0, 0, 1, 0, 0, 0, 0}));
    EXPECT_EQ(causes(client(41004)), (V{0, 0, 0, 0, 0, 0, 1, 0}));
    EXPECT_EQ(causes(client(41005)), (V{0, 0, 1, 0, 0, 0, 0, 0}));
    EXPECT_EQ(causes(client(41006)), (V{0, 0, 0, 0, 0, 1, 0, 0}));
    EXPECT_TRUE(client(41007).syn_retx);
    EXPECT_FALSE(client(41001).syn_retx);
    // In-flight bytes: four 100-byte segments before the first ACK of data.
    EXPECT_EQ(client(41002).cwin_max, 400u);
    EXPECT_EQ(client(41002).cwin_ini, 400u);
    EXPECT_EQ(client(41006).win_min, 65535u) << "the smallest positive window";
    EXPECT_EQ(client(41006).win_zero, 0u);
    for (const auto& x : r) {
        if (x.key.port[0] == 41006) {
            EXPECT_EQ(x.dir[1].win_zero, 1u) << "the server's zero-window ACK";
        }
    }
}

std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> out;
    std::string l;
    while (std::getline(in, l)) {
        out.push_back(l);
    }
    return out;
}

std::vector<std::string> fields(const std::string& line) {
    std::istringstream ss(line);
    std::vector<std::string> out;
    std::string w;
    while (ss >> w) {
        out.push_back(w);
    }
    return out;
}

TEST(TstatLogs, HeadersColumnsAndValues) {
    auto f = clean_connection(kT0);
    auto open = clean_connection(kT0 + kSec, 5, 43000);
    open.resize(5);
    f.insert(f.end(), open.begin(), open.end());
    f.push_back({kT0 + 2 * kSec, ip_frame(IPPROTO_UDP, 1, 5353, 2, 53, 0, 0, 0, 38)});
    f.push_back({kT0 + 2 * kSec + 3 * kMs, ip_frame(IPPROTO_UDP, 2, 53, 1, 5353, 0, 0, 0, 120)});
    const std::string pcap = write_pcap("logs.pcap", f);
    const std::string dir = ::testing::TempDir() + "/weir-tstat-logs";
    std::filesystem::remove_all(dir);
    const auto r = run_command(engine_binary() + " -q --no-summary " + source_root() + "/compositions/tstat.xml -D TRACE=" +
                               pcap + " -D LOGDIR=" + dir);
    ASSERT_EQ(r.exit_code, 0);
    const std::string folder = dir + "/2023_11_14_22_13.out";  // kT0 in UTC
    ASSERT_TRUE(std::filesystem::exists(folder)) << folder;
    const auto complete = lines_of(folder + "/log_tcp_complete");
    ASSERT_EQ(complete.size(), 2u);
    // tstat.xml writes core, end-to-end, TCP-options and layer-7 sets: Tstat's level 1|2|8.
    EXPECT_EQ(complete[0].rfind("#11#c_ip:1 c_port:2 c_pkts_all:3 c_rst_cnt:4 ", 0), 0u) << complete[0];
    EXPECT_NE(complete[0].find(" s_ip:15 s_port:16 "), std::string::npos);
    EXPECT_NE(complete[0].find(" first:29 last:30 durat:31 "), std::string::npos);
    EXPECT_NE(complete[0].find(" con_t:42 p2p_t:43 http_t:44 c_rtt_avg:45 "), std::string::npos);
    // Tstat's order: core, end-to-end, (P2P, not written), TCP options.
    EXPECT_NE(complete[0].find(" s_ttl_max:58 c_f1323_opt:59 c_tm_opt:60 c_win_scl:61 "), std::string::npos);
    EXPECT_NE(complete[0].find(" c_syn_retx:81 s_f1323_opt:82 "), std::string::npos);
    EXPECT_NE(complete[0].find(" s_syn_retx:104 http_req_cnt:105 http_res_cnt:106 http_res:107 "), std::string::npos);
    EXPECT_NE(complete[0].find(" c_tls_SNI:110 s_tls_SCN:111 "), std::string::npos);
    EXPECT_NE(complete[0].find(" fqdn:121 dns_rslv:122 req_tm:123 res_tm:124 http_hostname:125 c_TLSvers:126 "),
              std::string::npos);
    EXPECT_EQ(complete[0].substr(complete[0].size() - 11), "dns_enc:128");
    const auto row = fields(complete[1]);
    ASSERT_EQ(row.size(), 128u);
    // Layer 7 of a connection with 100 and 200 payload bytes of zeros: not HTTP ("---"), one
    // data segment each way without PSH, no TLS, no DNS name.
    EXPECT_EQ(row[104], "0");    // http_req_cnt
    EXPECT_EQ(row[106], "---");  // http_res
    EXPECT_EQ(row[109], "-");    // c_tls_SNI
    EXPECT_EQ(row[116], "0.000000");  // c_appdataT
    EXPECT_EQ(row[120], "-");    // fqdn
    EXPECT_EQ(row[125], "-");    // c_TLSvers
    // Options set of the client: window scale offered (1), no timestamps, shift 7 (both sides
    // offered it), no SACK, 0 SACK blocks, MSS 1460, payload sizes 100..100, windows, ...
    EXPECT_EQ(row[58], "1");     // c_f1323_opt
    EXPECT_EQ(row[59], "0");     // c_tm_opt
    EXPECT_EQ(row[60], "7");     // c_win_scl
    EXPECT_EQ(row[63], "1460");  // c_mss
    EXPECT_EQ(row[64], "100");   // c_mss_max (largest payload)
    EXPECT_EQ(row[65], "100");   // c_mss_min
    EXPECT_EQ(row[66], "8388480");  // c_win_max: 65535 << 7 once both offered scaling
    EXPECT_EQ(row[67], "65535");    // c_win_min: the SYN's, unscaled
    EXPECT_EQ(row[68], "0");        // c_win_0
    EXPECT_EQ(row[71], "100");      // c_cwin_ini: the client's data before the server acked it
    for (int i = 72; i <= 80; ++i) {
        EXPECT_EQ(row[static_cast<std::size_t>(i)], "0") << "no anomaly in a clean connection, column " << i + 1;
    }
    EXPECT_EQ(row[87], "200");  // s_mss_max
    EXPECT_EQ(row[94], "300");  // s_cwin_ini: 200 + 100 before the client's ACK
    EXPECT_EQ(row[0], "10.0.0.1");
    EXPECT_EQ(row[1], "40000");
    EXPECT_EQ(row[2], "6");    // c_pkts_all
    EXPECT_EQ(row[6], "100");  // c_bytes_uniq
    EXPECT_EQ(row[14], "10.0.0.2");
    EXPECT_EQ(row[20], "300");  // s_bytes_uniq
    EXPECT_EQ(row[28], "1700000000000.000000");  // first, epoch ms
    EXPECT_EQ(row[30], "60.000000");              // durat, ms
    EXPECT_EQ(row[31], "21.000000");              // c_first: first client payload, ms after start
    EXPECT_EQ(row[37], "1");                      // c_isint (everything internal by default)
    const auto nocomplete = lines_of(folder + "/log_tcp_nocomplete");
    ASSERT_EQ(nocomplete.size(), 2u);
    EXPECT_EQ(nocomplete[0].rfind("#11#c_ip:1 ", 0), 0u) << "same level prefix, core columns only";
    EXPECT_EQ(fields(nocomplete[0]).size(), 44u);
    EXPECT_EQ(fields(nocomplete[1]).size(), 44u);
    EXPECT_EQ(fields(nocomplete[1])[1], "43000");
    const auto udp = lines_of(folder + "/log_udp_complete");
    ASSERT_EQ(udp.size(), 2u);
    EXPECT_EQ(udp[0].rfind("#c_ip:1 c_port:2 c_first_abs:3 c_durat:4 c_bytes_all:5 c_pkts_all:6 ", 0), 0u) << udp[0];
    const auto u = fields(udp[1]);
    ASSERT_EQ(u.size(), 25u);
    EXPECT_NE(udp[0].find(" fqdn:19 quic_SNI:20 quic_UA:21 c_quic_ver:22 s_quic_ver:23 quic_0rtt:24 quic_ech:25"),
              std::string::npos)
        << udp[0];
    EXPECT_EQ(u[4], "38");   // c_bytes_all: UDP payload
    EXPECT_EQ(u[13], "120");
    EXPECT_EQ(u[18], "-");   // fqdn
    EXPECT_EQ(u[19], "-");   // quic_SNI: not QUIC
    EXPECT_EQ(u[21], "-");   // c_quic_ver
}

TEST(FlowJson, OneObjectPerFlowWithWhatWasMeasured) {
    auto f = clean_connection(kT0);
    f.push_back({kT0 + 2 * kSec, ip_frame(IPPROTO_UDP, 1, 5353, 2, 53, 0, 0, 0, 38)});
    const std::string pcap = write_pcap("json.pcap", f);
    const std::string out = ::testing::TempDir() + "/flows.json";
    for (const std::string meter : {"<classify enabled=\"true\"/>", "<stats extended=\"false\"/>"}) {
        const std::string xml =
            "<composition id=\"j\"><general><clock type=\"packet\"/></general><install>\n"
            "<threadpool id=\"p\" num_threads=\"1\"/>\n"
            "<block id=\"src\" type=\"PcapSource\" threadpool=\"p\"><params><source name=\"" + pcap +
            "\"/></params></block>\n"
            "<block id=\"meter\" type=\"FlowMeter\"><params>" + meter + "</params></block>\n"
            "<block id=\"json\" type=\"FlowJsonWriter\"><params><json file=\"" + out + "\"/></params></block>\n"
            "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"meter\" dst_gate=\"in_pkt\"/>\n"
            "<connection src_block=\"meter\" src_gate=\"out_flow\" dst_block=\"json\" dst_gate=\"in_flow\"/>\n"
            "</install></composition>\n";
        auto e = run_xml(xml);
        ASSERT_EQ(e->exit_code(), 0);
        const auto l = lines_of(out);
        ASSERT_EQ(l.size(), 2u) << meter;
        EXPECT_EQ(read_u64(*e, "json", "flows"), 2u);
        const auto tcp = nlohmann::json::parse(l[0]);
        EXPECT_EQ(tcp["proto"], "tcp");
        EXPECT_EQ(tcp["client"]["ip"], "10.0.0.1");
        EXPECT_EQ(tcp["client"]["port"], 40000);
        EXPECT_EQ(tcp["client"]["pkts"], 6);
        EXPECT_EQ(tcp["server"]["payload_bytes_uniq"], 300);
        EXPECT_EQ(tcp["reason"], "fin");
        EXPECT_EQ(tcp["complete"], true);
        EXPECT_EQ(tcp["first_ns"], kT0);
        const auto udp = nlohmann::json::parse(l[1]);
        EXPECT_EQ(udp["proto"], "udp");
        EXPECT_EQ(udp["client"]["payload_bytes"], 38);
        if (meter.find("classify") != std::string::npos) {
            EXPECT_EQ(tcp["client"]["rtt_cnt"], 3);  // the end-to-end set is on by default
            EXPECT_TRUE(tcp.contains("app"));
            EXPECT_EQ(udp["app"], "dns") << "port 53, payload not DNS: decided by port";
            EXPECT_EQ(udp["app_by_port"], true);
        } else {
            EXPECT_FALSE(tcp["client"].contains("rtt_cnt")) << "not measured: absent, not zero";
            EXPECT_FALSE(tcp.contains("app"));
        }
    }
}

// A Host with a space and a TAB (and a User-Agent with a TAB) cannot split a row: percent-encoded
// in the space-separated log_tcp_complete, blanked to a space in the TAB-separated
// log_http_complete.
TEST(TstatLogs, HostileNamesCannotSplitARow) {
    auto f = clean_connection(kT0);
    const auto put = [](std::vector<uint8_t>& frame, std::string text, std::size_t size) {
        text.resize(size - 4, 'z');
        text += "\r\n\r\n";
        std::copy(text.begin(), text.end(), frame.begin() + 54);  // after Ethernet, IPv4, TCP
    };
    put(f[3].bytes, "GET / HTTP/1.1\r\nHost: a b\tc\r\nUser-Agent: x\ty\r\nX-Pad: ", 100);
    put(f[4].bytes, "HTTP/1.1 200 OK\r\nServer: s\r\nX-Pad: ", 200);
    const std::string pcap = write_pcap("hostile.pcap", f);
    const std::string dir = ::testing::TempDir() + "/weir-hostile";
    std::filesystem::remove_all(dir);
    const auto r = run_command(engine_binary() + " -q --no-summary " + source_root() + "/compositions/tstat.xml -D TRACE=" +
                               pcap + " -D LOGDIR=" + dir + " -D HTTP_FULL_URL=2 -D MESSAGES=http,dns", true);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    const auto l = lines_of(dir + "/2023_11_14_22_13.out/log_tcp_complete");
    ASSERT_EQ(l.size(), 2u);
    const auto row = fields(l[1]);
    ASSERT_EQ(row.size(), 128u) << l[1];
    EXPECT_EQ(row[104], "1");              // http_req_cnt
    EXPECT_EQ(row[105], "1");              // http_res_cnt
    EXPECT_EQ(row[106], "200");            // http_res
    EXPECT_EQ(row[124], "a%20b%09c");      // http_hostname
    const auto h = lines_of(dir + "/2023_11_14_22_13.out/log_http_complete");
    ASSERT_EQ(h.size(), 4u);  // two header lines, the request, the response
    const auto req = split_fields(h[2], '\t');
    ASSERT_EQ(req.size(), 13u) << h[2];
    EXPECT_EQ(req[5], "GET");
    EXPECT_EQ(req[6], "a b c");
    EXPECT_EQ(req[8], "/");
    EXPECT_EQ(req[10], "x y");
    const auto res = split_fields(h[3], '\t');
    ASSERT_EQ(res.size(), 13u) << h[3];
    EXPECT_EQ(res[6], "200");
    EXPECT_EQ(res[9], "s");
}

TEST(TstatLogs, SetsNotMeasuredAreDashesNotZeros) {
    const std::string pcap = write_pcap("dash.pcap", clean_connection(kT0));
    for (const std::string defines : {"-D EXTENDED=false", "-D OPTIONS=false", "-D CLASSIFY=false"}) {
        const std::string dir = ::testing::TempDir() + "/weir-dash";
        std::filesystem::remove_all(dir);
        const auto r = run_command(engine_binary() + " -q --no-summary " + source_root() +
                                       "/compositions/tstat.xml -D TRACE=" + pcap + " -D LOGDIR=" + dir + " " + defines,
                                   true);
        ASSERT_EQ(r.exit_code, 0) << defines << ": " << r.out;
        const auto l = lines_of(dir + "/2023_11_14_22_13.out/log_tcp_complete");
        ASSERT_EQ(l.size(), 2u);
        const auto row = fields(l[1]);
        ASSERT_EQ(row.size(), 128u);
        const bool e2e = defines.find("EXTENDED") == std::string::npos;
        const bool options = e2e && defines.find("OPTIONS") == std::string::npos;
        const bool layer7 = defines.find("CLASSIFY") == std::string::npos;
        EXPECT_EQ(row[48] == "-", !e2e) << defines << ": c_rtt_cnt " << row[48];
        for (std::size_t i = 58; i < 104; ++i) {
            EXPECT_EQ(row[i] == "-", !options) << defines << ", column " << i + 1;
        }
        for (std::size_t i = 104; i < 128; ++i) {
            if (layer7) {
                EXPECT_TRUE(row[i] != "-" || i == 109 || i == 110 || (i >= 120 && i <= 121) || i >= 124)
                    << defines << ", column " << i + 1 << " is a measured number";
            } else {
                EXPECT_EQ(row[i], "-") << defines << ", column " << i + 1;
            }
        }
    }
}

TEST(TstatLogs, ColumnSetSwitchesAtRuntimeIntoANewFolder) {
    const std::string xml =
        "<composition id=\"w\"><general><clock type=\"packet\"/></general><install>\n"
        "<threadpool id=\"p\" num_threads=\"1\"/>\n"
        "<block id=\"src\" type=\"PcapSource\" threadpool=\"p\"><params><source name=\"" +
        write_pcap("sw.pcap", clean_connection(kT0)) + "\"/></params></block>\n"
        "<block id=\"meter\" type=\"FlowMeter\"/>\n"
        "<block id=\"logs\" type=\"TstatLogWriter\"><params><log dir=\"" + ::testing::TempDir() +
        "/weir-switch\" tcp_sets=\"core\"/></params></block>\n"
        "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"meter\" dst_gate=\"in_pkt\"/>\n"
        "<connection src_block=\"meter\" src_gate=\"out_flow\" dst_block=\"logs\" dst_gate=\"in_flow\"/>\n"
        "</install></composition>\n";
    std::filesystem::remove_all(::testing::TempDir() + "/weir-switch");
    auto e = Engine::load_string(xml, "w.xml");
    EXPECT_EQ(std::get<std::string>(*e->read_variable("logs", "tcp_sets")), "core");
    EXPECT_THROW(e->write_variable("logs", "tcp_sets", "everything"), std::invalid_argument);
    e->write_variable("logs", "tcp_sets", "e2e");
    e->start();
    e->launch();
    e->wait();
    const std::string file = ::testing::TempDir() + "/weir-switch/2023_11_14_22_13.out/log_tcp_complete";
    const auto l = lines_of(file);
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(l[0].rfind("#01#", 0), 0u);
    EXPECT_EQ(fields(l[1]).size(), 58u);
}

}  // namespace
}  // namespace weir::testing
