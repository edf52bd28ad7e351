// The per-message Tstat logs (log_http_complete, log_dns_complete) and the layer-7 columns of
// log_tcp_complete, written by the shipped compositions/tstat.xml through the real engine on
// every capture, checked against what tshark decodes from the same packets.
#include "test_util.hpp"

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using namespace weir::testing;

namespace {

using Rows = std::vector<std::vector<std::string>>;

struct Logs {
    std::string tcp_header;
    Rows tcp;   // log_tcp_complete and log_tcp_midstream rows (both carry the optional sets)
    Rows http;  // log_http_complete
    Rows dns;   // log_dns_complete
};

Rows read_rows(const fs::path& file, char sep, std::string* header = nullptr) {
    Rows out;
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind('#', 0) == 0) {
            if (header != nullptr) {
                *header = line;
            }
            continue;
        }
        out.push_back(split_fields(line, sep));
    }
    return out;
}

Logs run_tstat(const std::string& capture) {
    const fs::path dir = fs::path(::testing::TempDir()) / ("l7-" + fs::path(capture).filename().string());
    fs::remove_all(dir);
    const auto r = run_command(engine_binary() + " -q --no-summary " + source_root() + "/compositions/tstat.xml -D TRACE='" +
                               capture + "' -D LOGDIR='" + dir.string() + "' -D HTTP_FULL_URL=2 -D MESSAGES=http,dns 2>&1");
    Logs logs;
    if (!fs::exists(dir)) {
        ADD_FAILURE() << "no logs: " << r.out;
        return logs;
    }
    std::vector<fs::path> folders;
    for (const auto& e : fs::directory_iterator(dir)) {
        folders.push_back(e.path());
    }
    std::sort(folders.begin(), folders.end());
    const auto append = [](Rows& to, Rows from) { to.insert(to.end(), from.begin(), from.end()); };
    for (const auto& f : folders) {
        append(logs.tcp, read_rows(f / "log_tcp_complete", ' ', &logs.tcp_header));
        append(logs.tcp, read_rows(f / "log_tcp_midstream", ' '));
        append(logs.http, read_rows(f / "log_http_complete", '\t'));
        append(logs.dns, read_rows(f / "log_dns_complete", ' '));
    }
    return logs;
}

std::string last_of(const std::string& v) {
    const auto c = v.rfind(',');
    return c == std::string::npos ? v : v.substr(c + 1);
}

std::string normalise(const std::string& ip) {
    // tshark prints IPv6 compressed like inet_ntop already; IPv4 as is.
    return ip;
}

// tshark's fields for every frame matching `filter`, tab separated; innermost addresses first.
std::vector<std::vector<std::string>> tshark(const std::string& capture, const std::string& filter,
                                             const std::string& fields, const std::string& options = "") {
    const auto r = run_command("tshark -n " + options + " -r '" + capture + "' -Y '" + filter +
                               "' -T fields -E separator=/t -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst " + fields);
    std::vector<std::vector<std::string>> out;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        auto f = split_fields(line, '\t');
        const bool v6 = !f[2].empty();  // 6in4: the inner IPv6 header is the flow's
        std::vector<std::string> row = {normalise(last_of(v6 ? f[2] : f[0])), normalise(last_of(v6 ? f[3] : f[1]))};
        row.insert(row.end(), f.begin() + 4, f.end());
        out.push_back(row);
    }
    return out;
}

int column(const std::string& header, const std::string& name) {
    const auto at = header.find(" " + name + ":");
    if (at == std::string::npos) {
        return -1;
    }
    return std::stoi(header.substr(at + name.size() + 2)) - 1;
}

std::string diff_of(const std::multiset<std::string>& ours, const std::multiset<std::string>& theirs) {
    std::ostringstream d;
    std::vector<std::string> only_ours, only_theirs;
    std::set_difference(ours.begin(), ours.end(), theirs.begin(), theirs.end(), std::back_inserter(only_ours));
    std::set_difference(theirs.begin(), theirs.end(), ours.begin(), ours.end(), std::back_inserter(only_theirs));
    for (const auto& s : only_ours) {
        d << "  weir only:   " << s << "\n";
    }
    for (const auto& s : only_theirs) {
        d << "  tshark only: " << s << "\n";
    }
    return d.str();
}

class EveryCaptureL7 : public ::testing::TestWithParam<std::string> {};

// Every DNS message over UDP port 53 gives Tstat's rows: one REQ per question of a query, one
// RESP per answer of a successful response (A/AAAA with their address), one RESP_ERR per error
// response — as many as tshark decodes, with the same ids, names and addresses. IP-fragmented
// messages are left out on both sides: FlowMeter keeps the first fragment only (documented).
TEST_P(EveryCaptureL7, DnsRowsEqualTshark) {
    const std::string file = GetParam();
    const Logs logs = run_tstat(file);
    std::multiset<std::string> ours, theirs;
    std::set<std::string> fragmented;  // "id" of messages tshark reassembled from fragments
    const auto frames = tshark(file, "dns && udp.port == 53 && !icmp && !icmpv6",
                               "-e dns.id -e dns.flags.response -e dns.flags.rcode -e dns.qry.name -e dns.a "
                               "-e dns.aaaa -e dns.count.answers -e ip.fragments -e dns.resp.type -e ipv6.fragments");
    for (const auto& f : frames) {
        const std::string ends = f[0] + " " + f[1];
        if ((f[0].rfind("224.", 0) == 0 || f[1].rfind("224.", 0) == 0 || f[0].rfind("ff", 0) == 0 ||
             f[1].rfind("ff", 0) == 0)) {
            continue;
        }
        const std::string id = f[2];
        if (!f[9].empty() || !f[11].empty()) {
            fragmented.insert(id);
            continue;
        }
        const bool response = f[3] == "1" || f[3] == "True";
        const std::string rcode = f[4];
        if (!response) {
            for (const auto& q : split_fields(f[5], ',')) {
                theirs.insert("REQ " + id + " " + q + ".");
            }
        } else if (rcode != "0") {
            theirs.insert("RESP_ERR " + id);
        } else {
            // tshark lists the records of every section in order; Tstat's rows are the answers,
            // which come first.
            const auto types = split_fields(f[10], ',');
            const auto v4 = split_fields(f[6], ','), v6 = split_fields(f[7], ',');
            std::size_t next4 = 0, next6 = 0;
            const std::size_t answers = f[8].empty() ? 0 : std::stoul(f[8]);
            for (std::size_t i = 0; i < answers && i < types.size() && !types[i].empty(); ++i) {
                if (types[i] == "1" && next4 < v4.size()) {
                    theirs.insert("RESP " + id + " A " + v4[next4++]);
                } else if (types[i] == "28" && next6 < v6.size()) {
                    theirs.insert("RESP " + id + " AAAA " + v6[next6++]);
                } else {
                    theirs.insert("RESP " + id + " other");
                }
            }
        }
    }
    for (auto it = theirs.begin(); it != theirs.end();) {
        const auto sp = it->find(' ');
        it = fragmented.count(it->substr(sp + 1, it->find(' ', sp + 1) - sp - 1)) != 0 ? theirs.erase(it) : std::next(it);
    }
    for (const auto& r : logs.dns) {
        ASSERT_EQ(r.size(), 22u) << "a log_dns_complete row has Tstat's 22 columns";
        // tshark prints ids as 0x1234 too.
        const std::string& id = r[10];
        if (fragmented.count(id) != 0) {
            continue;
        }
        if (r[9] == "REQ") {
            ours.insert("REQ " + id + " " + r[11]);
        } else if (r[9] == "RESP_ERR") {
            ours.insert("RESP_ERR " + id);
        } else if (r[14] == "A" || r[14] == "AAAA") {
            ours.insert("RESP " + id + " " + r[14] + " " + r[15]);
        } else {
            ours.insert("RESP " + id + " other");
        }
    }
    EXPECT_EQ(ours.size(), theirs.size()) << file;
    const std::string d = diff_of(ours, theirs);
    EXPECT_TRUE(d.empty()) << file << ": " << ours.size() << " rows\n" << d;
}

// log_http_complete has a row per HTTP/1.x request and response head tshark decodes over TCP,
// with the same method, Host, path and status.
TEST_P(EveryCaptureL7, HttpRowsEqualTshark) {
    const std::string file = GetParam();
    const Logs logs = run_tstat(file);
    std::multiset<std::string> ours, theirs;
    // Responses at their head, as Tstat sees them, not where their body ends (or never, when the
    // capture stops inside a body).
    const auto frames = tshark(file, "tcp && (http.request || http.response) && !icmp && !icmpv6",
                               "-e tcp.srcport -e tcp.dstport -e http.request.method -e http.host "
                               "-e http.request.uri -e http.response.code -e _ws.malformed",
                               "-o http.desegment_body:FALSE");
    // A connection where tshark's HTTP dissector failed (a malformed body) loses its later heads
    // in tshark: such connections are left out on both sides.
    std::set<std::string> lost;
    for (const auto& f : frames) {
        if (!f[8].empty()) {
            lost.insert(f[0] + ":" + f[2] + " > " + f[1] + ":" + f[3]);
            lost.insert(f[1] + ":" + f[3] + " > " + f[0] + ":" + f[2]);
        }
    }
    for (const auto& f : frames) {
        if (lost.count(f[0] + ":" + f[2] + " > " + f[1] + ":" + f[3]) != 0) {
            continue;
        }
        if (!f[4].empty()) {
            theirs.insert(f[0] + ":" + f[2] + " > " + f[1] + ":" + f[3] + " " + f[4] + " " + (f[5].empty() ? "-" : f[5]) +
                          " " + f[6]);
        } else {
            theirs.insert(f[1] + ":" + f[3] + " > " + f[0] + ":" + f[2] + " HTTP " + f[7]);
        }
    }
    for (const auto& r : logs.http) {
        ASSERT_EQ(r.size(), 13u) << "a log_http_complete row has Tstat's 13 columns";
        const std::string ends = r[0] + ":" + r[1] + " > " + r[2] + ":" + r[3];
        if (lost.count(ends) != 0) {
            continue;
        }
        if (r[5] == "HTTP") {
            ours.insert(ends + " HTTP " + r[6]);
        } else {
            ours.insert(ends + " " + r[5] + " " + r[6] + " " + r[8]);
        }
    }
    const std::string d = diff_of(ours, theirs);
    EXPECT_TRUE(d.empty()) << file << ": " << ours.size() << " rows (" << lost.size() / 2
                           << " connections left out: tshark's dissector failed)\n"
                           << d;
}

// The TLS timings of the layer-7 set: the first application_data record of each direction is
// where tshark (reassembling records) first shows content type 23 in that direction — at that
// frame when the whole record is inside it, before it when the record spans segments — and its
// stream offset lies in that frame. Also c_tls_SNI and the TLS versions against tshark.
TEST_P(EveryCaptureL7, TlsLayer7ColumnsAgreeWithTshark) {
    const std::string file = GetParam();
    const Logs logs = run_tstat(file);
    if (logs.tcp.empty()) {
        return;
    }
    const std::string& h = logs.tcp_header;
    ASSERT_EQ(h.rfind("#11#", 0), 0u) << "core + e2e + layer7 + options: Tstat's level 1|2|8";
    const int c_sni = column(h, "c_tls_SNI"), c_app = column(h, "c_appdataT"), c_appb = column(h, "c_appdataB"),
              c_vers = column(h, "c_TLSvers"), first = column(h, "first");
    ASSERT_GT(c_sni, 0);
    ASSERT_EQ(column(h, "dns_enc"), static_cast<int>(split_fields(h, ' ').size()) - 1) << "layer7 set last";
    // tshark: per direction of each connection, the first frame showing a type-23 record.
    struct First {
        double t = 0;
        uint64_t seq = 0, len = 0;
        bool whole = false;
    };
    std::map<std::string, First> first_appdata;  // "src:sp > dst:dp"
    std::set<std::string> tls_seen;                // directions where tshark decodes TLS at all
    std::map<std::string, double> first_gap;       // directions with a segment missing, from when
    const auto frames = tshark(file, "(tls.record || tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment) && "
                                     "!icmp && !icmpv6",
                               "-e tcp.srcport -e tcp.dstport -e frame.time_epoch -e tcp.seq -e tcp.len "
                               "-e tls.record.content_type -e tls.record.length -e tcp.analysis.lost_segment "
                               "-e tls.record.opaque_type");
    for (const auto& f : frames) {
        const std::string key = f[0] + ":" + f[2] + " > " + f[1] + ":" + f[3];
        if (!f[9].empty() && first_gap.count(key) == 0) {
            first_gap[key] = std::stod(f[4]);
        }
        if (f[7].empty() && f[10].empty()) {
            continue;
        }
        tls_seen.insert(key);
        // TLS 1.3's encrypted records show as opaque_type, after the frame's plaintext ones.
        auto types = f[7].empty() ? std::vector<std::string>() : split_fields(f[7], ',');
        if (!f[10].empty()) {
            for (const auto& t : split_fields(f[10], ',')) {
                types.push_back(t);
            }
        }
        if (first_appdata.count(key) != 0 || std::find(types.begin(), types.end(), "23") == types.end()) {
            continue;
        }
        First x;
        x.t = std::stod(f[4]);
        x.seq = std::stoull(f[5]);
        x.len = std::stoull(f[6]);
        // The record is whole in this frame when every record tshark lists fits in the segment.
        uint64_t sum = 0;
        for (const auto& l : split_fields(f[8], ',')) {
            sum += 5 + std::stoull(l);
        }
        x.whole = sum <= x.len && types.front() == "23";
        first_appdata[key] = x;
    }
    // The server's leaf certificate per connection, its subject CN read by OpenSSL.
    std::map<std::string, std::string> server_cn;  // "server:port > client:port"
    for (const auto& f : tshark(file, "tls.handshake.certificate && !icmp && !icmpv6",
                                "-e tcp.srcport -e tcp.dstport -e tls.handshake.certificate")) {
        const std::string key = f[0] + ":" + f[2] + " > " + f[1] + ":" + f[3];
        if (server_cn.count(key) != 0 || f[4].empty()) {
            continue;
        }
        const std::string hex = split_fields(f[4], ',').front();
        std::vector<unsigned char> der;
        for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
            der.push_back(static_cast<unsigned char>(std::stoul(hex.substr(i, 2), nullptr, 16)));
        }
        const unsigned char* in = der.data();
        X509* cert = d2i_X509(nullptr, &in, static_cast<long>(der.size()));
        ASSERT_NE(cert, nullptr) << key;
        char cn[256] = {};
        const int len = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
        server_cn[key] = len > 0 ? std::string(cn, static_cast<std::size_t>(std::min(len, 63))) : "-";
        X509_free(cert);
    }
    std::ostringstream diff;
    int checked = 0, certificates = 0;
    const int s_scn = column(h, "s_tls_SCN");
    for (const auto& r : logs.tcp) {
        if (r.size() > static_cast<std::size_t>(s_scn) && r[static_cast<std::size_t>(c_vers)] != "-") {
            const std::string key = r[14] + ":" + r[15] + " > " + r[0] + ":" + r[1];
            const auto it = server_cn.find(key);
            const std::string& ours = r[static_cast<std::size_t>(s_scn)];
            if (it != server_cn.end()) {
                ++certificates;
                if (ours != it->second) {
                    diff << "  " << key << ": s_tls_SCN weir '" << ours << "', OpenSSL on tshark's certificate '"
                         << it->second << "'\n";
                }
            } else if (ours != "-") {
                diff << "  " << key << ": s_tls_SCN weir '" << ours << "', tshark saw no certificate\n";
            }
        }
        if (r.size() <= static_cast<std::size_t>(c_vers) || r[static_cast<std::size_t>(c_vers)] == "-") {
            continue;  // not a TLS flow
        }
        for (int d = 0; d < 2; ++d) {
            const std::string key = r[d == 0 ? 0 : 14] + ":" + r[d == 0 ? 1 : 15] + " > " + r[d == 0 ? 14 : 0] + ":" +
                                    r[d == 0 ? 15 : 1];
            const double ours_ms = std::stod(r[static_cast<std::size_t>(c_app + d)]);
            const auto it = first_appdata.find(key);
            if (it == first_appdata.end()) {
                if (ours_ms != 0 && tls_seen.count(key) != 0) {
                    diff << "  " << key << ": weir appdata at " << ours_ms << " ms, tshark none\n";
                }
                continue;
            }
            const double start_s = std::stod(r[static_cast<std::size_t>(first)]) / 1e3;
            const double theirs_ms = (it->second.t - start_s) * 1e3;
            const uint64_t offset = std::stoull(r[static_cast<std::size_t>(c_appb + d)]);
            if (const auto g = first_gap.find(key); g != first_gap.end() && g->second <= it->second.t) {
                continue;  // a segment is missing before it: the record boundaries are lost (documented)
            }
            ++checked;
            if (ours_ms == 0) {
                diff << "  " << key << ": tshark appdata at " << theirs_ms << " ms, weir none\n";
            } else if (it->second.whole && (std::fabs(ours_ms - theirs_ms) > 0.002 || offset + 1 < it->second.seq ||
                                            offset + 1 >= it->second.seq + it->second.len)) {
                diff << "  " << key << ": weir " << ours_ms << " ms offset " << offset << ", tshark " << theirs_ms
                     << " ms in segment seq " << it->second.seq << " len " << it->second.len << "\n";
            } else if (ours_ms > theirs_ms + 0.002) {
                diff << "  " << key << ": weir " << ours_ms << " ms after tshark's reassembled " << theirs_ms << "\n";
            }
        }
    }
    EXPECT_TRUE(diff.str().empty()) << file << " (" << checked << " directions checked, " << certificates
                                    << " certificates):\n"
                                    << diff.str();
}

// log_udp_complete's QUIC columns: quic_SNI is the SNI tshark decodes for that connection (IETF
// QUIC's decrypted ClientHello or Google QUIC's CHLO), quic_UA gQUIC's UAID (percent-encoded),
// c_quic_ver the version of the client's first long header.
TEST_P(EveryCaptureL7, QuicColumnsAgreeWithTshark) {
    const std::string file = GetParam();
    const fs::path dir = fs::path(::testing::TempDir()) / ("quic-" + fs::path(file).filename().string());
    fs::remove_all(dir);
    (void)run_command(engine_binary() + " -q --no-summary " + source_root() + "/compositions/tstat.xml -D TRACE='" +
                      file + "' -D LOGDIR='" + dir.string() + "' 2>&1");
    Rows udp;
    for (const auto& e : fs::directory_iterator(dir)) {
        const Rows r = read_rows(e.path() / "log_udp_complete", ' ');
        udp.insert(udp.end(), r.begin(), r.end());
    }
    struct Theirs {
        std::set<std::string> sni, ua;
        std::string version;
    };
    std::map<std::string, Theirs> conns;  // "client:port > server:port" of the client's packets
    for (const auto& f : tshark(file, "(quic || gquic) && !icmp && !icmpv6",
                                "-e udp.srcport -e udp.dstport -e tls.handshake.extensions_server_name -e gquic.tag.sni "
                                "-e gquic.tag.uaid -e quic.version -e gquic.version")) {
        Theirs& t = conns[f[0] + ":" + f[2] + " > " + f[1] + ":" + f[3]];
        for (std::size_t i : {4, 5}) {
            if (!f[i].empty()) {
                t.sni.insert(split_fields(f[i], ',').front());
            }
        }
        if (!f[6].empty()) {
            t.ua.insert(f[6]);
        }
        if (t.version.empty() && !f[7].empty()) {
            t.version = split_fields(f[7], ',').front();  // 0x00000001
        }
        if (t.version.empty() && f[8].size() == 4) {
            char hex[9];
            std::snprintf(hex, sizeof hex, "%02x%02x%02x%02x", f[8][0], f[8][1], f[8][2], f[8][3]);
            t.version = std::string("0x") + hex;
        }
    }
    std::ostringstream diff;
    int checked = 0;
    for (const auto& r : udp) {
        ASSERT_EQ(r.size(), 25u);
        const std::string key = r[0] + ":" + r[1] + " > " + r[9] + ":" + r[10];
        const auto it = conns.find(key);
        if (r[19] == "-" && r[21] == "-") {
            if (it != conns.end() && !it->second.sni.empty() && r[8] == "27") {
                diff << "  " << key << ": tshark SNI " << *it->second.sni.begin() << ", weir none\n";
            }
            continue;
        }
        if (it == conns.end()) {
            diff << "  " << key << ": weir QUIC columns, tshark no QUIC\n";
            continue;
        }
        ++checked;
        const Theirs& t = it->second;
        if (r[19] != "-" && t.sni.count(r[19]) == 0) {
            diff << "  " << key << ": quic_SNI " << r[19] << ", tshark " << (t.sni.empty() ? "-" : *t.sni.begin()) << "\n";
        }
        std::string ua = t.ua.empty() ? "-" : *t.ua.begin();
        for (std::size_t at = 0; (at = ua.find(' ', at)) != std::string::npos;) {
            ua.replace(at, 1, "%20");
        }
        if (r[20] != ua) {
            diff << "  " << key << ": quic_UA " << r[20] << ", tshark " << ua << "\n";
        }
        if (!t.version.empty() && "0x" + r[21] != t.version) {
            diff << "  " << key << ": c_quic_ver " << r[21] << ", tshark " << t.version << "\n";
        }
    }
    EXPECT_TRUE(diff.str().empty()) << file << " (" << checked << " QUIC flows):\n" << diff.str();
}

INSTANTIATE_TEST_SUITE_P(Pcaps, EveryCaptureL7, ::testing::ValuesIn(pcap_files()), capture_test_name);

}  // namespace
