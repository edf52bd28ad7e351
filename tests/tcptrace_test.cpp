// FlowMeter's TCP statistics against tcptrace (Debian), an independent implementation of the same
// definitions Tstat inherited: for every TCP connection both tools see from its SYN, per direction.
// Where definitions differ (RTT sampling, see docs/flows.md), only what is comparable is compared.
#include "test_blocks.hpp"
#include "test_util.hpp"

#include <weir/engine.hpp>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <filesystem>
#include <map>
#include <sstream>

namespace weir::testing {
namespace {

struct Side {
    std::map<std::string, uint64_t> v;  // tcptrace's field name -> value
};
struct Conn {
    std::string a;  // "ip:port"
    std::string b;
    Side ab;
    Side ba;
    int syn_a = 0;
};

// "  name:   123 ..." -> name and the number (and the second one of "a/b"); false if not such a line.
bool parse_field(const std::string& part, std::string& name, uint64_t& a, uint64_t& b, bool& pair) {
    const auto colon = part.find(':');
    if (colon == std::string::npos) {
        return false;
    }
    name = part.substr(0, colon);
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t") + 1);
    std::istringstream in(part.substr(colon + 1));
    std::string value;
    if (!(in >> value) || value.empty() || std::isdigit(static_cast<unsigned char>(value[0])) == 0) {
        return false;
    }
    const auto slash = value.find('/');
    pair = slash != std::string::npos;
    a = std::stoull(value.substr(0, slash));
    b = pair ? std::stoull(value.substr(slash + 1)) : 0;
    return true;
}

std::vector<Conn> tcptrace(const std::string& file) {
    const auto r = run_command("tcptrace -l -r -n '" + file + "'");
    std::vector<Conn> out;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("TCP connection ", 0) == 0 && line.find("info") == std::string::npos) {
            out.emplace_back();
            continue;
        }
        if (out.empty()) {
            continue;
        }
        const auto host = line.find("host ");
        if (host != std::string::npos && line.find_first_not_of(" \t") == host) {
            // Hosts are lettered a/b, c/d, ... in order; IPv6 comes uncompressed: normalise.
            std::istringstream hs(line.substr(host + 5));
            std::string letter;
            std::string ep;
            hs >> letter >> ep;
            const auto colon = ep.rfind(':');
            std::string addr = ep.substr(0, colon);
            std::array<uint8_t, 16> raw{};
            char buf[INET6_ADDRSTRLEN];
            if (inet_pton(AF_INET6, addr.c_str(), raw.data()) == 1) {
                addr = inet_ntop(AF_INET6, raw.data(), buf, sizeof buf);
            }
            ep = addr + ep.substr(colon);
            (out.back().a.empty() ? out.back().a : out.back().b) = ep;
            continue;
        }
        // Two columns, a->b then b->a, split where the second field name starts.
        const auto first_colon = line.find(':');
        if (first_colon == std::string::npos) {
            continue;
        }
        const auto value_start = line.find_first_not_of(" \t", first_colon + 1);
        const auto value_end = value_start == std::string::npos ? std::string::npos : line.find_first_of(" \t", value_start);
        if (value_end == std::string::npos) {
            continue;
        }
        // Skip a unit word ("bytes", "ms", ...) after the first value.
        std::size_t split = line.find_first_not_of(" \t", value_end);
        if (split != std::string::npos && std::isalpha(static_cast<unsigned char>(line[split])) != 0 &&
            line.find(':', split) != std::string::npos) {
            const auto word_end = line.find_first_of(" \t", split);
            const auto next = line.find_first_not_of(" \t", word_end);
            // A unit is one word followed by the second column's name: keep the later start.
            if (next != std::string::npos && line.find(':', next) != std::string::npos &&
                line.substr(split, word_end - split).find(':') == std::string::npos &&
                (line.substr(split, word_end - split) == "bytes" || line.substr(split, word_end - split) == "ms" ||
                 line.substr(split, word_end - split) == "pkts" || line.substr(split, word_end - split) == "times" ||
                 line.substr(split, word_end - split) == "secs" || line.substr(split, word_end - split) == "Bps")) {
                split = next;
            }
        }
        if (split == std::string::npos) {
            continue;
        }
        std::string n1, n2;
        uint64_t a1 = 0, b1 = 0, a2 = 0, b2 = 0;
        bool p1 = false, p2 = false;
        if (!parse_field(line.substr(0, split), n1, a1, b1, p1) || !parse_field(line.substr(split), n2, a2, b2, p2)) {
            continue;
        }
        if (n1 == "SYN/FIN pkts sent" && p1 && p2) {
            out.back().ab.v["SYN pkts sent"] = a1;
            out.back().ab.v["FIN pkts sent"] = b1;
            out.back().ba.v["SYN pkts sent"] = a2;
            out.back().ba.v["FIN pkts sent"] = b2;
        } else {
            out.back().ab.v[n1] = a1;
            out.back().ba.v[n2] = a2;
        }
    }
    return out;
}

std::string endpoint(const flow::FlowRecord& r, int d) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(r.key.ip_version == 6 ? AF_INET6 : AF_INET, r.key.addr[d].data(), buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(r.key.port[d]);
}

class EveryCaptureTcptrace : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryCaptureTcptrace, CountsAgreeWithTcptrace) {
    const std::string file = GetParam();
    FlowCollector::take();
    run_xml("<composition id=\"f\"><general><clock type=\"packet\"/></general><install>\n"
            "<threadpool id=\"p\" num_threads=\"1\"/>\n"
            "<block id=\"src\" type=\"PcapSource\" threadpool=\"p\"><params><source name=\"" + file +
            "\"/></params></block>\n"
            "<block id=\"meter\" type=\"FlowMeter\"><params><table capacity=\"4096\"/></params></block>\n"
            "<block id=\"out\" type=\"TestFlowCollector\"/>\n"
            "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"meter\" dst_gate=\"in_pkt\"/>\n"
            "<connection src_block=\"meter\" src_gate=\"out_flow\" dst_block=\"out\" dst_gate=\"in\"/>\n"
            "</install></composition>\n");
    // Our records per endpoint pair. A flow FlowMeter closed (FIN/RST) whose 5-tuple goes on
    // sending continues as a midstream flow; tcptrace keeps one connection: sum them.
    const auto records = FlowCollector::take();
    std::ostringstream diff;
    int compared = 0;
    for (const Conn& c : tcptrace(file)) {
        if (c.ab.v.count("SYN pkts sent") == 0 || c.ab.v.at("SYN pkts sent") == 0) {
            continue;  // tcptrace's connections not opened by a SYN from a: Tstat's domain is SYN-opened flows
        }
        flow::DirStats sum[2];
        int pieces = 0;
        for (const auto& r : records) {
            if (r.key.proto != IPPROTO_TCP) {
                continue;
            }
            int a_side = -1;
            if (endpoint(r, 0) == c.a && endpoint(r, 1) == c.b) {
                a_side = 0;
            } else if (endpoint(r, 1) == c.a && endpoint(r, 0) == c.b) {
                a_side = 1;
            } else {
                continue;
            }
            ++pieces;
            for (int d = 0; d < 2; ++d) {
                const flow::DirStats& s = r.dir[d == 0 ? a_side : 1 - a_side];
                auto& t = sum[d];
                t.pkts_all += s.pkts_all;
                t.rst_cnt += s.rst_cnt;
                t.ack_cnt += s.ack_cnt;
                t.ack_cnt_p += s.ack_cnt_p;
                t.pkts_data += s.pkts_data;
                t.bytes_all += s.bytes_all;
                t.syn_cnt += s.syn_cnt;
                t.fin_cnt += s.fin_cnt;
                t.bytes_uniq += s.bytes_uniq;
                t.pkts_retx += s.pkts_retx;
                t.bytes_retx += s.bytes_retx;
                t.pkts_ooo += s.pkts_ooo;
            }
        }
        if (pieces == 0) {
            diff << "  " << c.a << " > " << c.b << ": no flow\n";
            continue;
        }
        ++compared;
        const auto check = [&](const Side& side, const flow::DirStats& s, const char* who) {
            const std::pair<const char*, uint64_t> fields[] = {
                {"total packets", s.pkts_all},     {"resets sent", s.rst_cnt},
                {"ack pkts sent", s.ack_cnt},      {"pure acks sent", s.ack_cnt_p},
                {"actual data pkts", s.pkts_data}, {"actual data bytes", s.bytes_all},
                {"SYN pkts sent", s.syn_cnt},      {"FIN pkts sent", s.fin_cnt},
                {"unique bytes sent", s.bytes_uniq}, {"rexmt data pkts", s.pkts_retx},
                {"rexmt data bytes", s.bytes_retx}, {"outoforder pkts", s.pkts_ooo},
            };
            // tcptrace counts the sequence number a SYN or FIN occupies as one byte of data, so a
            // retransmitted FIN is a "data" retransmission of 1 byte there; Tstat's (and our)
            // bytes are payload only. And a SYN or FIN resent after Tstat's rules ended the flow
            // (singleton timeout, FIN close) starts a new flow here, where tcptrace calls it a
            // retransmission. Those are the allowed differences (docs/flows.md).
            const uint64_t seq_flags = s.syn_cnt + s.fin_cnt;
            for (const auto& [name, mine] : fields) {
                const auto t = side.v.find(name);
                const uint64_t theirs = t == side.v.end() ? 0 : t->second;  // tcptrace omits zero resets
                const std::string n = name;
                const bool bytes = n == "rexmt data bytes" || n == "unique bytes sent";
                const bool fin_retx = n == "rexmt data pkts";
                const uint64_t slack = (bytes || fin_retx) ? seq_flags : 0;
                if (theirs < mine || theirs > mine + slack) {
                    diff << "  " << c.a << " > " << c.b << " " << who << " " << name << ": tcptrace " << theirs
                         << ", weir " << mine << "\n";
                }
            }
        };
        check(c.ab, sum[0], "a2b");
        check(c.ba, sum[1], "b2a");
    }
    EXPECT_TRUE(diff.str().empty()) << std::filesystem::path(file).filename().string() << " (" << compared
                                    << " connections compared):\n"
                                    << diff.str();
}

TEST(Tcptrace, ParserReadsEveryConnectionAndField) {
    // Guards the comparison above against passing because nothing was parsed.
    const auto conns = tcptrace(pcap_dir() + "/netflix.pcap");
    ASSERT_EQ(conns.size(), 47u);  // "47 TCP connections traced"
    int with_syn = 0;
    for (const auto& c : conns) {
        EXPECT_FALSE(c.a.empty());
        EXPECT_FALSE(c.b.empty());
        EXPECT_GT(c.ab.v.at("total packets") + c.ba.v.at("total packets"), 0u);
        EXPECT_EQ(c.ab.v.count("unique bytes sent"), 1u);
        EXPECT_EQ(c.ba.v.count("rexmt data bytes"), 1u);
        with_syn += c.ab.v.at("SYN pkts sent") > 0 ? 1 : 0;
    }
    EXPECT_GE(with_syn, 20);
}

INSTANTIATE_TEST_SUITE_P(Pcaps, EveryCaptureTcptrace, ::testing::ValuesIn(pcap_files()),
                         capture_test_name);

}  // namespace
}  // namespace weir::testing
