// FlowMeter on every real capture: per-flow, per-direction packet and byte counts equal what
// tshark decodes for the same packets; flow-end rules on crafted traffic; Tstat log format.
#include "test_blocks.hpp"
#include "test_util.hpp"

#include <weir/engine.hpp>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace weir::testing {
namespace {

std::string meter_xml(const std::string& file, const std::string& meter_params = "") {
    return "<composition id=\"f\"><general><clock type=\"packet\"/></general><install>\n"
           "<threadpool id=\"p\" num_threads=\"1\"/><threadpool id=\"q\" num_threads=\"1\"/>\n"
           "<block id=\"src\" type=\"PcapSource\" threadpool=\"p\"><params><source name=\"" + file +
           "\"/></params></block>\n"
           "<block id=\"meter\" type=\"FlowMeter\" invocation=\"indirect\" threadpool=\"q\"><params>"
           "<table capacity=\"4096\"/>" + meter_params + "</params></block>\n"
           "<block id=\"out\" type=\"TestFlowCollector\"/>\n"
           "<connection src_block=\"src\" src_gate=\"source_out\" dst_block=\"meter\" dst_gate=\"in_pkt\"/>\n"
           "<connection src_block=\"meter\" src_gate=\"out_flow\" dst_block=\"out\" dst_gate=\"in\"/>\n"
           "</install></composition>\n";
}

// One direction of a 5-tuple: "proto src:port > dst:port".
using DirKey = std::string;
struct Count {
    uint64_t packets = 0;
    uint64_t bytes = 0;
    bool operator==(const Count& o) const { return packets == o.packets && bytes == o.bytes; }
};

std::string ip_text(uint8_t v, const std::array<uint8_t, 16>& a) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(v == 6 ? AF_INET6 : AF_INET, a.data(), buf, sizeof buf);
    return buf;
}

std::string normalise_ip(const std::string& s) {
    std::array<uint8_t, 16> a{};
    if (inet_pton(AF_INET, s.c_str(), a.data()) == 1) {
        return ip_text(4, a);
    }
    if (inet_pton(AF_INET6, s.c_str(), a.data()) == 1) {
        return ip_text(6, a);
    }
    return s;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    std::stringstream ss(s);
    while (std::getline(ss, cur, sep)) {
        out.push_back(cur);
    }
    if (!s.empty() && s.back() == sep) {
        out.emplace_back();
    }
    return out;
}

// tshark's view: every frame whose innermost transport is TCP or UDP (and that is not an ICMP
// error quoting one), counted per direction of its innermost 5-tuple.
std::map<DirKey, Count> tshark_flows(const std::string& file) {
    const auto r = run_command("tshark -n -r '" + file +
                               "' -T fields -E separator=/t -e frame.protocols -e ip.src -e ip.dst -e ipv6.src "
                               "-e ipv6.dst -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport -e frame.len "
                               "-e frame.number -e ip.fragment -e ipv6.fragment");
    // tshark files a reassembled datagram under its last fragment and lists every fragment's
    // frame number; FlowMeter counts each fragment as a packet of the flow. Count them alike.
    std::map<std::string, uint64_t> frame_len;
    {
        std::istringstream pass(r.out);
        std::string line;
        while (std::getline(pass, line)) {
            const auto f = split(line, '\t');
            if (f.size() >= 11) {
                frame_len[f[10]] = std::stoull(f[9]);
            }
        }
    }
    std::map<DirKey, Count> out;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        const auto f = split(line, '\t');
        if (f.size() < 10) {
            continue;
        }
        const auto layers = split(f[0], ':');
        int transport = -1;
        for (int i = 0; i < static_cast<int>(layers.size()); ++i) {
            if (layers[i] == "icmp" || layers[i] == "icmpv6") {
                break;  // a quoted header inside an ICMP error is not traffic of that flow
            }
            if (layers[i] == "tcp" || layers[i] == "udp") {
                transport = i;
            }
        }
        if (transport < 0) {
            continue;
        }
        // A transport that carries another IP packet (VXLAN, MPLS over UDP, ...) is a tunnel:
        // the flow is the inner packet's, as FlowMeter sees it.
        bool carrier = false;
        for (std::size_t i = static_cast<std::size_t>(transport) + 1; i < layers.size(); ++i) {
            carrier = carrier || layers[i] == "ip" || layers[i] == "ipv6";
        }
        if (carrier) {
            continue;
        }
        const bool tcp = layers[transport] == "tcp";
        int ip_layer = -1;
        int v4_count = 0;
        int v6_count = 0;
        for (int i = 0; i < transport; ++i) {
            if (layers[i] == "ip") {
                ip_layer = i;
                ++v4_count;
            } else if (layers[i] == "ipv6") {
                ip_layer = i;
                ++v6_count;
            }
        }
        if (ip_layer < 0) {
            continue;
        }
        const bool v6 = layers[ip_layer] == "ipv6";
        const auto pick = [](const std::string& field, int n) {
            const auto vals = split(field, ',');
            return n >= 1 && n <= static_cast<int>(vals.size()) ? vals[n - 1] : std::string();
        };
        const int n_ip = v6 ? v6_count : v4_count;
        const std::string src = normalise_ip(pick(v6 ? f[3] : f[1], n_ip));
        const std::string dst = normalise_ip(pick(v6 ? f[4] : f[2], n_ip));
        int n_tr = 0;
        for (int i = 0; i <= transport; ++i) {
            n_tr += layers[i] == layers[transport] ? 1 : 0;
        }
        const std::string sp = pick(tcp ? f[5] : f[7], n_tr);
        const std::string dp = pick(tcp ? f[6] : f[8], n_tr);
        if (src.empty() || sp.empty()) {
            continue;
        }
        Count& c = out[(tcp ? "tcp " : "udp ") + src + ":" + sp + " > " + dst + ":" + dp];
        const std::string fragments = f.size() > 12 && !f[12].empty() ? f[12] : (f.size() > 11 ? f[11] : "");
        if (!fragments.empty()) {
            for (const auto& n : split(fragments, ',')) {
                ++c.packets;
                c.bytes += frame_len.at(n);
            }
            continue;
        }
        ++c.packets;
        c.bytes += std::stoull(f[9]);
    }
    return out;
}

std::map<DirKey, Count> weir_flows(const std::vector<flow::FlowRecord>& records) {
    std::map<DirKey, Count> out;
    for (const auto& r : records) {
        for (int d = 0; d < 2; ++d) {
            if (r.dir[d].pkts_all == 0) {
                continue;
            }
            const int o = 1 - d;
            Count& c = out[std::string(r.key.proto == IPPROTO_TCP ? "tcp " : "udp ") +
                           ip_text(r.key.ip_version, r.key.addr[d]) + ":" + std::to_string(r.key.port[d]) + " > " +
                           ip_text(r.key.ip_version, r.key.addr[o]) + ":" + std::to_string(r.key.port[o])];
            c.packets += r.dir[d].pkts_all;
            c.bytes += r.dir[d].wire_bytes;
        }
    }
    return out;
}

class EveryCaptureFlows : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryCaptureFlows, PerDirectionCountsEqualTshark) {
    const std::string file = GetParam();
    const std::string name = std::filesystem::path(file).filename().string();
    const auto t0 = std::chrono::steady_clock::now();
    FlowCollector::take();
    auto e = run_xml(meter_xml(file));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(secs, 10.0) << "every capture, timestamp jumps included, ends within seconds";
    const auto records = FlowCollector::take();
    EXPECT_EQ(read_u64(*e, "meter", "flows_active"), 0u) << "everything open at the end is flushed";
    EXPECT_EQ(read_u64(*e, "meter", "flows_created"), read_u64(*e, "meter", "flows_ended"));
    EXPECT_EQ(records.size(), read_u64(*e, "meter", "flows_ended"));
    const auto theirs = tshark_flows(file);
    const auto ours = weir_flows(records);
    std::ostringstream diff;
    for (const auto& [k, c] : theirs) {
        auto it = ours.find(k);
        if (it == ours.end()) {
            diff << "  missing " << k << " (tshark " << c.packets << " pkts " << c.bytes << " B)\n";
        } else if (!(it->second == c)) {
            diff << "  " << k << ": tshark " << c.packets << " pkts " << c.bytes << " B, weir " << it->second.packets
                 << " pkts " << it->second.bytes << " B\n";
        }
    }
    for (const auto& [k, c] : ours) {
        if (theirs.count(k) == 0) {
            diff << "  extra " << k << " (weir " << c.packets << " pkts)\n";
        }
    }
    EXPECT_TRUE(diff.str().empty()) << name << ":\n" << diff.str();
}

// With classification on, every flow that carries a name (TLS/QUIC SNI, HTTP Host, DNS query)
// names it as tshark does: the first such name tshark decodes in that flow's packets.
TEST_P(EveryCaptureFlows, ClassifiedNamesEqualTshark) {
    const std::string file = GetParam();
    FlowCollector::take();
    auto e = run_xml(meter_xml(file, "<classify enabled=\"true\"/>"));
    const auto records = FlowCollector::take();
    const auto r = run_command("tshark -n -r '" + file +
                               "' -T fields -E separator=/t -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst "
                               "-e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport "
                               "-e tls.handshake.extensions_server_name -e http.host -e dns.qry.name -e gquic.tag.sni");
    // Canonical 5-tuple text (lower endpoint first) -> names in frame order.
    std::map<std::string, std::vector<std::string>> names;
    const auto canon = [](const std::string& proto, std::string a, std::string ap, std::string b, std::string bp) {
        if (std::make_pair(b, bp) < std::make_pair(a, ap)) {
            std::swap(a, b);
            std::swap(ap, bp);
        }
        return proto + " " + a + ":" + ap + " " + b + ":" + bp;
    };
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        const auto f = split(line, '\t');
        if (f.size() < 11) {
            continue;
        }
        // Innermost addresses and ports (tunnels list several, comma separated: take the last).
        const auto last = [](const std::string& v) {
            const auto c = v.rfind(',');
            return c == std::string::npos ? v : v.substr(c + 1);
        };
        const bool v6 = !f[2].empty() && (f[0].empty() || f[0].find(',') == std::string::npos);
        const std::string src = normalise_ip(last(v6 && !f[2].empty() ? f[2] : f[0]));
        const std::string dst = normalise_ip(last(v6 && !f[3].empty() ? f[3] : f[1]));
        const bool tcp = !f[4].empty();
        const std::string sp = last(tcp ? f[4] : f[6]);
        const std::string dp = last(tcp ? f[5] : f[7]);
        for (std::size_t i = 8; i <= 11 && i < f.size(); ++i) {
            if (!f[i].empty()) {
                names[canon(tcp ? "tcp" : "udp", src, sp, dst, dp)].push_back(split(f[i], ',')[0]);
            }
        }
    }
    std::size_t named = 0;
    std::ostringstream diff;
    for (const auto& rec : records) {
        if (rec.name().empty()) {
            continue;
        }
        ++named;
        const std::string key = canon(rec.key.proto == IPPROTO_TCP ? "tcp" : "udp", ip_text(rec.key.ip_version, rec.key.addr[0]),
                                      std::to_string(rec.key.port[0]), ip_text(rec.key.ip_version, rec.key.addr[1]),
                                      std::to_string(rec.key.port[1]));
        const auto it = names.find(key);
        if (it == names.end()) {
            diff << "  " << key << ": weir '" << rec.name() << "', tshark none\n";
        } else if (std::find(it->second.begin(), it->second.end(), std::string(rec.name())) == it->second.end()) {
            diff << "  " << key << ": weir '" << rec.name() << "', tshark '" << it->second.front() << "'\n";
        }
    }
    // And the other way: a 5-tuple tshark names is named in one of its records (a 5-tuple can
    // have several: packets after a close start a new, mid-stream flow with no hello in it).
    std::map<std::string, bool> ours;
    for (const auto& rec : records) {
        const std::string key = canon(rec.key.proto == IPPROTO_TCP ? "tcp" : "udp", ip_text(rec.key.ip_version, rec.key.addr[0]),
                                      std::to_string(rec.key.port[0]), ip_text(rec.key.ip_version, rec.key.addr[1]),
                                      std::to_string(rec.key.port[1]));
        ours[key] = ours[key] || !rec.name().empty();
    }
    std::size_t unnamed = 0;
    for (const auto& [key, named_by_us] : ours) {
        if (!named_by_us && names.count(key) != 0) {
            ++unnamed;
            diff << "  " << key << ": tshark '" << names[key].front() << "', weir none\n";
        }
    }
    EXPECT_TRUE(diff.str().empty()) << file << " (" << named << " named flows, " << unnamed << " missed):\n"
                                    << diff.str();
}

// DN-Hunter: a flow's fqdn is the question of a DNS response its client received, before the
// flow began, listing the flow's server address (tshark decodes the responses).
TEST_P(EveryCaptureFlows, DnsNamesComeFromEarlierAnswers) {
    const std::string file = GetParam();
    FlowCollector::take();
    auto e = run_xml(meter_xml(file, "<classify enabled=\"true\"/>"));
    const auto records = FlowCollector::take();
    const auto r = run_command("tshark -n -r '" + file +
                               "' -Y 'dns.flags.response == 1' -T fields -E separator=/t -e frame.time_epoch "
                               "-e ip.dst -e ipv6.dst -e dns.qry.name -e dns.a -e dns.aaaa");
    struct Answer {
        double t;
        std::string name;
    };
    std::map<std::string, std::vector<Answer>> answers;  // "client server" -> responses
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        const auto f = split(line, '\t');
        if (f.size() < 6) {
            continue;
        }
        const auto clients = split(f[1].empty() ? f[2] : f[1], ',');
        const auto qnames = split(f[3], ',');
        if (clients.empty() || qnames.empty() || f[0].empty()) {
            continue;  // a response without a question (malformed captures have them)
        }
        const std::string client = normalise_ip(clients.back());
        const std::string& qname = qnames[0];
        for (const std::string& list : {f[4], f[5]}) {
            for (const auto& a : split(list, ',')) {
                if (!a.empty()) {
                    answers[client + " " + normalise_ip(a)].push_back({std::stod(f[0]), qname});
                }
            }
        }
    }
    std::size_t named = 0;
    std::ostringstream diff;
    for (const auto& rec : records) {
        if (rec.fqdn().empty()) {
            continue;
        }
        ++named;
        const std::string pair = ip_text(rec.key.ip_version, rec.key.addr[0]) + " " + ip_text(rec.key.ip_version, rec.key.addr[1]);
        bool found = false;
        for (const auto& a : answers[pair]) {
            // Capture times are µs or ns; 1 µs of slack for tshark's decimal epoch.
            found = found || (a.name == rec.fqdn() && a.t <= static_cast<double>(rec.first_ns) / 1e9 + 1e-6);
        }
        if (!found) {
            diff << "  " << pair << ": fqdn '" << rec.fqdn() << "' not answered before the flow\n";
        }
    }
    EXPECT_TRUE(diff.str().empty()) << file << ":\n" << diff.str();
    if (file.find("netflix.pcap") != std::string::npos) {
        EXPECT_GT(named, 30u) << "netflix.pcap resolves most of its servers before connecting";
    }
}

INSTANTIATE_TEST_SUITE_P(Pcaps, EveryCaptureFlows, ::testing::ValuesIn(pcap_files()),
                         capture_test_name);

}  // namespace
}  // namespace weir::testing
