// Payload parsers and the per-flow classifier on the real captures, compared with tshark:
// - per packet: every SNI, JA3, JA3S, HTTP Host and DNS query name a parser extracts from a single
//   packet equals tshark's for that frame; and every value tshark shows is either ours for that
//   frame or sits in a frame where tshark reassembled several TCP segments (checked per flow);
// - per flow: the name the Classifier gives each flow (SNI, Host or query name, with its own
//   reassembly of the first segments) equals the first one tshark shows in that TCP/UDP stream.
// tshark decrypts QUIC Initials itself, so QUIC SNIs are checked the same way.
#include "test_util.hpp"

#include <classify/classifier.hpp>
#include <classify/dns.hpp>
#include <classify/http.hpp>
#include <classify/quic.hpp>
#include <classify/tls.hpp>
#include <proto/decode.hpp>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pcap/pcap.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

namespace weir::classify {
namespace {

using weir::testing::split_fields;

enum Field {
    kFrame, kTcpStream, kUdpStream, kSni, kHost, kQname, kJa3, kJa3s, kSegCount, kIpFrags, kIp6Frags,
    kRetx, kSpuriousRetx, kQuicVersion, kProtocols, kHsType, kHsVersion, kSupportedVersion, kAlpn,
    kDnsA, kDnsAaaa, kDnsCname, kDnsRcode, kDnsQtype, kGquicSni, kFieldCount
};
const char* const kFieldNames[kFieldCount] = {
    "frame.number", "tcp.stream", "udp.stream", "tls.handshake.extensions_server_name", "http.host",
    "dns.qry.name", "tls.handshake.ja3", "tls.handshake.ja3s", "tcp.segment.count", "ip.fragment.count",
    "ipv6.fragment.count", "tcp.analysis.retransmission", "tcp.analysis.spurious_retransmission",
    "quic.version", "frame.protocols", "tls.handshake.type", "tls.handshake.version",
    "tls.handshake.extensions.supported_version", "tls.handshake.extensions_alpn_str", "dns.a", "dns.aaaa",
    "dns.cname", "dns.flags.rcode", "dns.qry.type", "gquic.tag.sni"};

using Frame = std::vector<std::vector<std::string>>;  // field -> occurrences

// Captures that run a protocol on a port tshark does not associate with it: Decode As.
const std::map<std::string, std::string> kDecodeAs = {
    {"ssh.pcap", " -d tcp.port==8000,ssh"},  // SSH server on port 8000 (stream 1)
    {"edonkey.pcap", " -d tcp.port==7551,edonkey"},  // eDonkey peer on port 7551
};

std::vector<Frame> tshark(const std::string& file) {
    // RTP/RTCP have no port: tshark finds them only with its heuristics on, like us.
    std::string cmd = "tshark -n -r '" + file +
                      "' --enable-heuristic rtp_udp --enable-heuristic rtcp_udp --enable-heuristic rtp_stun"
                      " --enable-heuristic bt_utp_udp -T fields -E separator=/t -E occurrence=a";
    if (const auto it = kDecodeAs.find(std::filesystem::path(file).filename().string()); it != kDecodeAs.end()) {
        cmd += it->second;
    }
    for (const char* f : kFieldNames) {
        cmd += std::string(" -e ") + f;
    }
    const auto r = testing::run_command(cmd);
    std::vector<Frame> out;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        Frame f;
        for (const auto& col : split_fields(line, '\t')) {
            f.push_back(col.empty() ? std::vector<std::string>{} : split_fields(col, ','));
        }
        f.resize(kFieldCount);
        out.push_back(std::move(f));
    }
    return out;
}

std::string addr_text(const proto::Decoded& d, bool src) {
    char buf[INET6_ADDRSTRLEN] = {};
    const auto& a = src ? d.src : d.dst;
    inet_ntop(d.ip_version == 4 ? AF_INET : AF_INET6, a.data(), buf, sizeof buf);
    return buf;
}

struct Flow {
    ClassifierState state;
    std::string client;  // "addr port" of the client
    std::string stream;  // tshark's tcp.stream / udp.stream
};

// One value extracted: where ("frame N", or "udp S" for QUIC, whose values depend on the
// connection's earlier packets), which field, the value.
using Seen = std::set<std::tuple<std::string, std::string, std::string>>;

std::string frame_key(uint64_t frame) { return "frame " + std::to_string(frame); }

struct CaptureResult {
    Seen ours;                               // per-packet parsers
    std::map<std::string, std::string> flow_names;  // tshark stream -> Classifier name
    std::map<std::string, App> flow_apps;
    std::map<std::string, uint8_t> flow_flags;
    std::map<std::string, ClassifierState> flow_states;
    std::set<uint64_t> not_tcp_udp;  // frames we do not parse (ICMP errors quoting DNS, ...)
    std::set<std::string> fragments;  // frames holding a first IP fragment
    Seen answers;                     // DNS A/AAAA/CNAME answers (tshark lists every section's)
    size_t packets = 0;
};

CaptureResult run_ours(const std::string& file, const std::vector<Frame>& ref) {
    CaptureResult res;
    char err[PCAP_ERRBUF_SIZE] = {};
    pcap_t* pc = pcap_open_offline(file.c_str(), err);
    if (pc == nullptr) {
        ADD_FAILURE() << err;
        return res;
    }
    const auto linktype = static_cast<uint16_t>(pcap_datalink(pc));
    auto clf = std::make_unique<Classifier>(64);
    auto scratch = std::make_unique<QuicScratch>();
    auto crypto = std::make_unique<QuicCryptoBuffer>();
    auto hs = std::make_unique<uint8_t[]>(65536);
    auto ch = std::make_unique<TlsClientHello>();
    auto sh = std::make_unique<TlsServerHello>();
    auto http = std::make_unique<HttpMessage>();
    auto dns = std::make_unique<DnsMessage>();
    std::map<std::string, Flow> flows;
    std::map<std::string, std::vector<uint8_t>> quic_odcid;  // QUIC: the DCID keying each connection
    pcap_pkthdr* h = nullptr;
    const u_char* bytes = nullptr;
    uint64_t frame = 0;
    while (pcap_next_ex(pc, &h, &bytes) == 1) {
        ++frame;
        proto::Decoded d;
        const proto::Verdict verdict = proto::decode(bytes, h->caplen, linktype, d);
        if (verdict != proto::Verdict::kOk || (d.l4_proto != IPPROTO_TCP && d.l4_proto != IPPROTO_UDP)) {
            if (verdict == proto::Verdict::kOk) {
                res.not_tcp_udp.insert(frame);
            }
            continue;
        }
        ++res.packets;
        const uint8_t* p = bytes + d.payload_offset;
        const size_t n = d.payload_captured;
        const bool tcp = d.l4_proto == IPPROTO_TCP;
        const std::string a = addr_text(d, true) + " " + std::to_string(d.sport);
        const std::string b = addr_text(d, false) + " " + std::to_string(d.dport);
        const std::string key = std::to_string(d.l4_proto) + "|" + std::min(a, b) + "|" + std::max(a, b);
        const std::string where = frame_key(frame);
        const auto add = [&](const char* field, std::string_view v) { res.ours.emplace(where, field, std::string(v)); };

        // Per-packet parsers. A first IP fragment is parsed too; tshark reports it at the frame that
        // completes the datagram when it has all fragments.
        if (d.fragment) {
            res.fragments.insert(frame_key(frame));
        }
        if (n != 0 && tcp && looks_like_tls_record(p, n)) {
            const TlsRecordScan scan = tls_handshake_from_records(p, n, hs.get(), 65536);
            // Whole records only: tshark reports a record cut by the segment at its last segment.
            if (scan.complete_len != 0 && hs[0] == 1 &&
                parse_client_hello(hs.get(), scan.complete_len, *ch) == ParseStatus::kOk) {
                if (!ch->sni.empty()) add("sni", ch->sni.view());
                add("ja3", ch->ja3.view());
            } else if (scan.complete_len != 0 && hs[0] == 2 &&
                       parse_server_hello(hs.get(), scan.complete_len, *sh) == ParseStatus::kOk) {
                add("ja3s", sh->ja3s.view());
            }
        }
        // HTTP heads complete in the packet (over TCP, and SSDP over UDP).
        // A body continuing past the packet makes tshark report the request at its last segment.
        if (n != 0 && looks_like_http(p, n) && parse_http(p, n, *http) == ParseStatus::kOk &&
            http->request && !http->host.empty() &&
            (!tcp || http->content_length <= static_cast<int64_t>(n - http->head_len))) {
            add("host", http->host.view());
        }
        const auto dns_port = [&](uint16_t port) { return port == 53 || port == 5353 || port == 5355; };
        if (n != 0 && (dns_port(d.sport) || dns_port(d.dport))) {
            // tshark shows the question of a UDP message even when its answers are cut; over TCP it
            // waits for the whole message.
            const ParseStatus st = tcp ? parse_dns_tcp(p, n, *dns) : parse_dns(p, n, *dns);
            if ((st == ParseStatus::kOk || (!tcp && st == ParseStatus::kTruncated && dns->qtype != 0)) && dns->qdcount != 0) {
                add("qname", dns->qname.empty() ? "<Root>" : dns->qname.view());
            }
            const bool udp_cut = !tcp && st == ParseStatus::kTruncated;  // header fields still read
            if ((st == ParseStatus::kOk || (udp_cut && dns->qtype != 0)) && dns->qdcount != 0) {
                add("qtype", std::to_string(dns->qtype));
            }
            if ((st == ParseStatus::kOk || (udp_cut && n >= 4)) && dns->response) {
                add("rcode", std::to_string(dns->rcode));
            }
            if (st == ParseStatus::kOk) {
                for (uint8_t i = 0; i < dns->answer_count; ++i) {
                    const DnsAnswer& an = dns->answers[i];
                    char text[INET6_ADDRSTRLEN] = {};
                    if (an.type == kDnsTypeCname) {
                        res.answers.emplace(where, "cname", std::string(an.cname.view()));
                    } else {
                        inet_ntop(an.type == kDnsTypeA ? AF_INET : AF_INET6, an.addr, text, sizeof text);
                        res.answers.emplace(where, an.type == kDnsTypeA ? "a" : "aaaa", text);
                    }
                }
            }
        }

        auto it = flows.find(key);
        if (it == flows.end()) {
            Flow f;
            // The client: the SYN's sender, the SYN-ACK's receiver, else whoever spoke first.
            const bool syn_ack = tcp && (d.tcp_flags & proto::kSyn) != 0 && (d.tcp_flags & proto::kAck) != 0;
            f.client = syn_ack ? b : a;
            Classifier::init(f.state, d.l4_proto, syn_ack ? d.dport : d.sport, syn_ack ? d.sport : d.dport);
            const Frame& t = ref.at(frame - 1);
            const auto& ids = t[tcp ? kTcpStream : kUdpStream];
            f.stream = (tcp ? "tcp " : "udp ") + (ids.empty() ? std::string("?") : ids.back());
            it = flows.emplace(key, std::move(f)).first;
        }
        Flow& f = it->second;

        // QUIC Initials: client ones with their own DCID (or the connection's after a Retry),
        // server ones with the DCID that keyed the client's.
        QuicLongHeader qh;
        if (!tcp && !d.fragment && n != 0 && parse_quic_long_header(p, n, qh) == ParseStatus::kOk && qh.type == 0 &&
            quic_version_supported(qh.version)) {
            const std::string qkey = f.stream;
            auto& odcid = quic_odcid[key];
            QuicInitialInfo info;
            if (a == f.client) {
                QuicClientHelloResult q = parse_quic_client_initial(p, n, *scratch, *crypto, info, *ch);
                if (q.status == ParseStatus::kOk) {
                    odcid.assign(qh.dcid, qh.dcid + qh.dcid_len);
                } else if (!odcid.empty()) {
                    crypto->reset();
                    q.status = decrypt_quic_initial(p, n, odcid.data(), odcid.size(), false, *scratch, *crypto, info);
                    q.hello_status = parse_client_hello(crypto->data, crypto->contiguous(), *ch, TlsTransport::kQuic);
                }
                if (q.status == ParseStatus::kOk && q.hello_status == ParseStatus::kOk) {
                    if (!ch->sni.empty()) res.ours.emplace(qkey, "sni", std::string(ch->sni.view()));
                    res.ours.emplace(qkey, "ja3", std::string(ch->ja3.view()));
                }
            } else if (!odcid.empty()) {
                crypto->reset();
                if (decrypt_quic_initial(p, n, odcid.data(), odcid.size(), true, *scratch, *crypto, info) == ParseStatus::kOk &&
                    parse_server_hello(crypto->data, crypto->contiguous(), *sh) == ParseStatus::kOk) {
                    res.ours.emplace(qkey, "ja3s", std::string(sh->ja3s.view()));
                }
            }
        }

        if (n != 0 && !f.state.done()) {
            clf->classify(f.state, a == f.client ? 0 : 1, p, n, d.seq);
        }
    }
    pcap_close(pc);
    for (auto& [key, f] : flows) {
        clf->finish(f.state);
        res.flow_apps[f.stream] = f.state.app;
        res.flow_flags[f.stream] = f.state.flags;
        res.flow_states[f.stream] = f.state;
        if (!f.state.name.empty()) {
            res.flow_names[f.stream] = std::string(f.state.name.view());
        }
    }
    EXPECT_EQ(clf->slots_in_use(), 0u) << "finish() must return every reassembly slot";
    return res;
}

class ClassifyCapture : public ::testing::TestWithParam<std::string> {};

TEST_P(ClassifyCapture, MatchesTshark) {
    const std::string file = GetParam();
    const std::string name = std::filesystem::path(file).filename().string();
    const auto ref = tshark(file);
    const CaptureResult ours = run_ours(file, ref);

    // tshark's per-frame values, and per stream the first name.
    Seen theirs;
    std::set<std::string> reassembled;  // frames where tshark joined TCP segments or IP fragments
    std::map<std::string, std::string> stream_names;
    const std::pair<Field, const char*> kCompared[] = {
        {kSni, "sni"}, {kHost, "host"}, {kQname, "qname"}, {kJa3, "ja3"}, {kJa3s, "ja3s"},
        {kDnsRcode, "rcode"}, {kDnsQtype, "qtype"}, {kDnsA, "a"}, {kDnsAaaa, "aaaa"}, {kDnsCname, "cname"}};
    for (const Frame& t : ref) {
        if (t[kFrame].empty()) {
            continue;
        }
        const uint64_t frame = std::stoull(t[kFrame][0]);
        if (!t[kSegCount].empty() || !t[kIpFrags].empty() || !t[kIp6Frags].empty()) {
            reassembled.insert(frame_key(frame));
        }
        const bool quic = !t[kQuicVersion].empty() && !t[kUdpStream].empty();
        for (const auto& [field, label] : kCompared) {
            for (const auto& v : t[field]) {
                if (ours.not_tcp_udp.count(frame) != 0) {
                    continue;  // e.g. a DNS query quoted in an ICMP error
                }
                theirs.emplace(quic ? "udp " + t[kUdpStream].back() : frame_key(frame), label, v);
                if (field != kSni && field != kHost && field != kQname) {
                    continue;
                }
                if (v.empty() || (field == kQname && v == "<Root>")) {
                    continue;
                }
                const bool tcp = !t[kTcpStream].empty();
                const auto& ids = t[tcp ? kTcpStream : kUdpStream];
                if (!ids.empty()) {
                    stream_names.emplace((tcp ? "tcp " : "udp ") + ids.back(), v);  // first one wins
                }
            }
        }
        // Google QUIC's CHLO carries the SNI in the clear (a per-flow name here, not per packet).
        if (!t[kGquicSni].empty() && !t[kUdpStream].empty() && ours.not_tcp_udp.count(frame) == 0) {
            stream_names.emplace("udp " + t[kUdpStream].back(), t[kGquicSni][0]);
        }
    }

    // Per packet: ours are tshark's; tshark's are ours unless reassembled or a later DNS question.
    std::set<std::string> retransmitted;
    for (const Frame& t : ref) {
        if (!t[kFrame].empty() && (!t[kRetx].empty() || !t[kSpuriousRetx].empty())) {
            retransmitted.insert(frame_key(std::stoull(t[kFrame][0])));
        }
    }
    size_t matched = 0;
    for (const auto& e : ours.ours) {
        const auto& [frame, label, value] = e;
        if (theirs.count(e) != 0) {
            ++matched;
            continue;
        }
        if (retransmitted.count(frame) != 0) {
            continue;
        }
        if (ours.fragments.count(frame) != 0) {
            bool later = false;  // tshark shows it where the datagram was reassembled
            for (const auto& r : reassembled) {
                later = later || theirs.count({r, label, value}) != 0;
            }
            if (later) {
                continue;
            }
        }
        ADD_FAILURE() << name << " " << frame << ": we extract " << label << " '" << value
                      << "' that tshark does not show";
    }
    // DNS answers: ours (answer section, up to 8) are all in tshark's (every section).
    size_t answers = 0;
    for (const auto& e : ours.answers) {
        bool later = false;  // a first fragment: tshark shows it where the datagram was reassembled
        for (const auto& r : reassembled) {
            later = later || (ours.fragments.count(std::get<0>(e)) != 0 && theirs.count({r, std::get<1>(e), std::get<2>(e)}) != 0);
        }
        EXPECT_TRUE(later || theirs.count(e) == 1) << name << " " << std::get<0>(e) << ": answer " << std::get<1>(e) << " '"
                                       << std::get<2>(e) << "' not in tshark's";
        ++answers;
    }
    for (const auto& e : theirs) {
        const auto& [frame, label, value] = e;
        if (ours.ours.count(e) != 0 || reassembled.count(frame) != 0 || label == "a" || label == "aaaa" ||
            label == "cname") {
            continue;
        }
        // A DNS message with several questions: the parser reports the first one.
        bool first_of_several = false;
        for (const auto& o : ours.ours) {
            first_of_several = first_of_several || (std::get<0>(o) == frame && std::get<1>(o) == label && label == "qname");
        }
        if (!first_of_several) {
            ADD_FAILURE() << name << " " << frame << ": tshark shows " << label << " '" << value
                          << "' that we do not extract";
        }
    }

    // Per flow: the Classifier's name equals tshark's first name in that stream.
    for (const auto& [stream, v] : stream_names) {
        const auto it = ours.flow_names.find(stream);
        EXPECT_TRUE(it != ours.flow_names.end() && it->second == v)
            << name << " " << stream << ": tshark '" << v << "', classifier '"
            << (it == ours.flow_names.end() ? std::string("(none)") : it->second) << "' ("
            << to_string(ours.flow_apps.count(stream) ? ours.flow_apps.at(stream) : App::kUnknown) << ")";
    }
    for (const auto& [stream, v] : ours.flow_names) {
        if (stream_names.count(stream) == 0 && (ours.flow_flags.at(stream) & kFlagHelloCut) != 0) {
            // A hello cut by the end of the capture: tshark shows nothing from an unfinished message.
            std::cout << name << " " << stream << ": name '" << v << "' from a cut hello (tshark: none)\n";
            continue;
        }
        EXPECT_EQ(stream_names.count(stream), 1u) << name << " " << stream << ": classifier names it '" << v
                                                  << "', tshark shows no name";
    }

    // Per flow: the application agrees with the protocols tshark dissects in that stream.
    std::map<std::string, std::set<std::string>> stream_protocols;
    int by_port_flows = 0;
    for (const Frame& t : ref) {
        const bool tcp = !t[kTcpStream].empty();
        const auto& ids = t[tcp ? kTcpStream : kUdpStream];
        if (ids.empty() || t[kProtocols].empty() || t[kFrame].empty() ||
            ours.not_tcp_udp.count(std::stoull(t[kFrame][0])) != 0) {
            continue;  // (a TCP header quoted in an ICMP error gets a stream too)
        }
        for (const auto& proto : split_fields(t[kProtocols][0], ':')) {
            stream_protocols[(tcp ? "tcp " : "udp ") + ids.back()].insert(proto);
        }
    }
    // tshark's protocol names for each of our applications.
    const std::map<App, std::set<std::string>> kTsharkNames = {
        {App::kHttp, {"http"}}, {App::kTls, {"tls", "ssl"}}, {App::kSsh, {"ssh"}}, {App::kSmtp, {"smtp"}},
        {App::kPop3, {"pop"}}, {App::kImap, {"imap"}}, {App::kBitTorrent, {"bittorrent"}},
        {App::kDns, {"dns", "mdns", "llmnr"}}, {App::kQuic, {"quic", "gquic"}}, {App::kStun, {"stun"}},
        {App::kDtls, {"dtls"}}, {App::kSip, {"sip"}}, {App::kRtp, {"rtp"}}, {App::kRtcp, {"rtcp"}},
        {App::kUtp, {"bt-utp"}}, {App::kBtDht, {"bt-dht"}}, {App::kSsdp, {"ssdp"}}, {App::kEdonkey, {"edonkey"}},
        {App::kRtsp, {"rtsp"}}, {App::kRtmp, {"rtmpt"}}, {App::kIcy, {"http"}}, {App::kMsn, {"msnms"}},
        {App::kYmsg, {"ymsg"}}, {App::kXmpp, {"xmpp"}}, {App::kTeredo, {"teredo"}}};
    for (const auto& [stream, protos] : stream_protocols) {
        const App app = ours.flow_apps.count(stream) != 0 ? ours.flow_apps.at(stream) : App::kUnknown;
        const bool by_port = ours.flow_flags.count(stream) != 0 && (ours.flow_flags.at(stream) & kFlagByPort) != 0;
        bool tshark_knows = false;
        for (const auto& [a, names] : kTsharkNames) {
            for (const auto& nm : names) {
                tshark_knows = tshark_knows || protos.count(nm) != 0;
            }
        }
        // A port-based guess agrees when tshark, too, only had the port (no handshake in the
        // capture: mid-stream data, a truncated DNS header); the summary counts those flows.
        bool agree = false;
        if (app != App::kUnknown) {
            for (const auto& nm : kTsharkNames.at(app)) {
                agree = agree || protos.count(nm) != 0;
            }
        }
        std::string all;
        for (const auto& p : protos) {
            all += p + " ";
        }
        by_port_flows += by_port ? 1 : 0;
        if (tshark_knows || (app != App::kUnknown && !by_port)) {
            EXPECT_TRUE(agree) << name << " " << stream << ": classifier says " << to_string(app)
                               << (by_port ? " (by port)" : "") << ", tshark dissects: " << all;
        }
    }
    // Per flow: TLS versions (client: highest offered, server: selected) and ALPN (the server's
    // selection, else the client's first offer) of the first hellos tshark dissects.
    std::map<std::string, uint16_t> client_version, server_version;
    std::map<std::string, std::string> client_alpn, server_alpn;
    for (const Frame& t : ref) {
        const bool tcp = !t[kTcpStream].empty();
        const auto& ids = t[tcp ? kTcpStream : kUdpStream];
        const std::set<std::string> types(t[kHsType].begin(), t[kHsType].end());
        if (ids.empty() || t[kHsVersion].empty() || types.count("1") == types.count("2")) {
            continue;  // no hello, or both kinds in one frame (fields not attributable)
        }
        const std::string stream = (tcp ? "tcp " : "udp ") + ids.back();
        const bool client = types.count("1") != 0;
        uint16_t version = static_cast<uint16_t>(std::stoul(t[kHsVersion][0], nullptr, 16));
        uint16_t best = 0;
        for (const auto& v : t[kSupportedVersion]) {
            const auto x = static_cast<uint16_t>(std::stoul(v, nullptr, 16));
            if (!is_grease(x) && x > best) {
                best = x;
            }
        }
        if (best != 0) {
            version = best;
        }
        (client ? client_version : server_version).emplace(stream, version);
        if (!t[kAlpn].empty()) {
            (client ? client_alpn : server_alpn).emplace(stream, t[kAlpn][0]);
        }
    }
    for (const auto& [stream, v] : client_version) {
        EXPECT_EQ(ours.flow_states.at(stream).tls_version[0], v) << name << " " << stream << " client TLS version";
    }
    for (const auto& [stream, v] : server_version) {
        EXPECT_EQ(ours.flow_states.at(stream).tls_version[1], v) << name << " " << stream << " server TLS version";
    }
    for (const auto& [stream, st] : ours.flow_states) {
        std::string want = server_alpn.count(stream) != 0 ? server_alpn.at(stream)
                           : client_alpn.count(stream) != 0 ? client_alpn.at(stream) : "";
        if (client_version.count(stream) != 0 || server_version.count(stream) != 0) {
            EXPECT_EQ(std::string(st.alpn.view()), want) << name << " " << stream << " ALPN";
        }
    }

    std::map<std::string, int> apps;
    for (const auto& [stream, app] : ours.flow_apps) {
        apps[std::string(to_string(app))]++;
    }
    std::ostringstream summary;
    summary << name << ": " << matched << " per-packet values agree (+" << answers << " DNS answers), "
            << stream_names.size() << " named flows, "
            << by_port_flows << " by port;";
    for (const auto& [app, count] : apps) {
        summary << " " << app << "=" << count;
    }
    std::cout << summary.str() << "\n";
}

INSTANTIATE_TEST_SUITE_P(ClassifyPcaps, ClassifyCapture, ::testing::ValuesIn(testing::pcap_files()),
                         testing::capture_test_name);

}  // namespace
}  // namespace weir::classify
