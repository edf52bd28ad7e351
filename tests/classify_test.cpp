// Payload parsers and the classifier, unit by unit: hand-built messages with known answers (the
// JA4 example of the FoxIO spec, RFC 9001/9369 Initial keys), one test per malformation class, and
// every message truncated at every byte. Inputs end at a PROT_NONE page, so a read past the end
// crashes the test even without a sanitizer.
#include "test_util.hpp"

#include <classify/classifier.hpp>
#include <classify/crypto.hpp>
#include <classify/dns.hpp>
#include <classify/http.hpp>
#include <classify/quic.hpp>
#include <classify/tls.hpp>
#include <proto/decode.hpp>

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/x509.h>
#include <pcap/pcap.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace weir::classify {
namespace {

using weir::testing::fence;

using Bytes = std::vector<uint8_t>;

const uint8_t* fenced(const Bytes& b, size_t n) { return fence().place(b.data(), n); }

void put16(Bytes& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}
void put24(Bytes& b, uint32_t v) {
    b.push_back(static_cast<uint8_t>(v >> 16));
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}
void put(Bytes& b, std::string_view s) { b.insert(b.end(), s.begin(), s.end()); }
void put(Bytes& b, const Bytes& s) { b.insert(b.end(), s.begin(), s.end()); }
Bytes with16(const Bytes& body) {
    Bytes b;
    put16(b, static_cast<uint16_t>(body.size()));
    put(b, body);
    return b;
}
Bytes ext(uint16_t type, const Bytes& body) {
    Bytes b;
    put16(b, type);
    put(b, with16(body));
    return b;
}

// A ClientHello with the cipher suites, extensions, ALPN and signature algorithms of the JA4
// specification's worked example (Chrome), plus GREASE values, which JA3/JA4 ignore.
Bytes chrome_like_hello(std::string_view sni = "example.com") {
    Bytes body;
    put16(body, 0x0303);
    body.insert(body.end(), 32, 0x11);  // random
    body.push_back(32);
    body.insert(body.end(), 32, 0x22);  // session id
    Bytes ciphers;
    for (uint16_t c : {0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
                       0xc014, 0x009c, 0x009d, 0x002f, 0x0035}) {
        put16(ciphers, static_cast<uint16_t>(c));
    }
    put(body, with16(ciphers));
    body.push_back(1);
    body.push_back(0);  // null compression
    Bytes exts;
    put(exts, ext(0x1a1a, {}));
    Bytes sni_list;
    sni_list.push_back(0);
    put(sni_list, with16(Bytes(sni.begin(), sni.end())));
    put(exts, ext(0x0000, with16(sni_list)));
    put(exts, ext(0x0017, {}));
    put(exts, ext(0xff01, {0}));
    put(exts, ext(0x000a, with16({0x2a, 0x2a, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18})));
    put(exts, ext(0x000b, {1, 0}));
    put(exts, ext(0x0023, {}));
    Bytes alpn;
    alpn.push_back(2);
    put(alpn, "h2");
    alpn.push_back(8);
    put(alpn, "http/1.1");
    put(exts, ext(0x0010, with16(alpn)));
    put(exts, ext(0x0005, {1, 0, 0, 0, 0}));
    Bytes sig;
    for (uint16_t a : {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601}) {
        put16(sig, a);
    }
    put(exts, ext(0x000d, with16(sig)));
    put(exts, ext(0x0012, {}));
    put(exts, ext(0x0033, with16({0x00, 0x1d, 0x00, 0x01, 0x55})));
    put(exts, ext(0x002d, {1, 1}));
    put(exts, ext(0x002b, {6, 0x3a, 0x3a, 0x03, 0x04, 0x03, 0x03}));
    put(exts, ext(0x001b, {2, 0, 2}));
    put(exts, ext(0x4469, {0, 3, 2, 'h', '2'}));
    put(exts, ext(0x0015, Bytes(10, 0)));
    put(body, with16(exts));
    Bytes hs;
    hs.push_back(1);
    put24(hs, static_cast<uint32_t>(body.size()));
    put(hs, body);
    return hs;
}

Bytes record(uint8_t type, const Bytes& fragment) {
    Bytes r{type, 3, 1};
    put(r, with16(fragment));
    return r;
}

// The payload of frame `frame` (1-based) of a capture from tests/pcaps.
Bytes payload_of(const std::string& file, int frame) {
    char err[PCAP_ERRBUF_SIZE] = {};
    pcap_t* pc = pcap_open_offline((testing::pcap_dir() + "/" + file).c_str(), err);
    if (pc == nullptr) {
        ADD_FAILURE() << err;
        return {};
    }
    pcap_pkthdr* h = nullptr;
    const u_char* bytes = nullptr;
    Bytes out;
    for (int i = 1; pcap_next_ex(pc, &h, &bytes) == 1; ++i) {
        if (i == frame) {
            proto::Decoded d;
            if (proto::decode(bytes, h->caplen, static_cast<uint16_t>(pcap_datalink(pc)), d) == proto::Verdict::kOk) {
                out.assign(bytes + d.payload_offset, bytes + d.payload_offset + d.payload_captured);
            }
            break;
        }
    }
    pcap_close(pc);
    EXPECT_FALSE(out.empty()) << file << " frame " << frame;
    return out;
}

std::string hex(const uint8_t* p, size_t n) {
    char buf[2 * 64 + 1];
    crypto::to_hex(p, n, buf);
    return buf;
}

// ---------------------------------------------------------------------------------------------
// TLS

TEST(ClassifyTls, Ja4MatchesTheSpecificationExample) {
    const Bytes hello = chrome_like_hello();
    TlsClientHello h;
    ASSERT_EQ(parse_client_hello(fenced(hello, hello.size()), hello.size(), h), ParseStatus::kOk);
    // FoxIO JA4.md: t13d1516h2_8daaf6152771_e5627efa2ab1 (15 ciphers, 16 extensions, GREASE out).
    EXPECT_EQ(h.ja4.view(), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    EXPECT_EQ(h.sni.view(), "example.com");
    EXPECT_EQ(h.alpn.view(), "h2,http/1.1");
    EXPECT_EQ(h.max_version, 0x0304);
    EXPECT_EQ(h.legacy_version, 0x0303);
    EXPECT_EQ(h.cipher_count, 15);
    EXPECT_EQ(h.ext_count, 16);
    EXPECT_EQ(h.session_id_len, 32);
    EXPECT_FALSE(h.session_ticket);  // empty SessionTicket: a request for one, not a resumption
    EXPECT_FALSE(h.psk);
    EXPECT_EQ(h.alpn_bits, (kAlpnH2 | kAlpnHttp1) << 4);
    // JA3 = MD5 of the decimal string, GREASE removed; computed here with OpenSSL's one-shot API.
    const std::string ja3 =
        "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
        "0-23-65281-10-11-35-16-5-13-18-51-45-43-27-17513-21,29-23-24,0";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ASSERT_EQ(EVP_Digest(ja3.data(), ja3.size(), md, &len, EVP_md5(), nullptr), 1);
    EXPECT_EQ(h.ja3.view(), hex(md, len));
}

TEST(ClassifyTls, Ja4AlpnAndVersionCorners) {
    // No SNI ('i'), no ALPN ("00"), TLS 1.2 by legacy version, QUIC transport ('q').
    Bytes body;
    put16(body, 0x0303);
    body.insert(body.end(), 32, 0);
    body.push_back(0);
    put(body, with16({0x13, 0x01}));
    body.push_back(1);
    body.push_back(0);
    Bytes hs{1};
    put24(hs, static_cast<uint32_t>(body.size()));
    put(hs, body);
    TlsClientHello h;
    ASSERT_EQ(parse_client_hello(hs.data(), hs.size(), h, TlsTransport::kQuic), ParseStatus::kOk);
    EXPECT_EQ(h.ja4.view().substr(0, 10), "q12i010000");
    EXPECT_EQ(h.ja4.view().substr(24), "000000000000");  // no extensions
    EXPECT_EQ(h.ext_count, 0);
    EXPECT_FALSE(h.has_sni);
}

TEST(ClassifyTls, TruncatedAtEveryByteNeverReadsPastTheEnd) {
    const Bytes hello = chrome_like_hello("a-rather-long-server-name.example.org");
    for (size_t n = 0; n < hello.size(); ++n) {
        TlsClientHello h;
        const ParseStatus st = parse_client_hello(fenced(hello, n), n, h);
        ASSERT_EQ(st, ParseStatus::kTruncated) << "cut at " << n;
        EXPECT_TRUE(h.ja3.empty() && h.ja4.empty()) << "fingerprint of a partial hello at " << n;
        // A name is reported only whole.
        EXPECT_TRUE(h.sni.empty() || h.sni.view() == "a-rather-long-server-name.example.org") << n;
    }
    // The same through the record layer, which the classifier reads.
    const Bytes rec = record(22, hello);
    auto dst = std::make_unique<uint8_t[]>(rec.size());
    for (size_t n = 0; n < rec.size(); ++n) {
        const TlsRecordScan s = tls_handshake_from_records(fenced(rec, n), n, dst.get(), rec.size());
        EXPECT_NE(s.status, ParseStatus::kOk) << n;
        EXPECT_EQ(s.complete_len, 0u) << n;
    }
}

TEST(ClassifyTls, RealClientHelloTruncatedAtEveryByte) {
    const Bytes payload = payload_of("443-firefox.pcap", 4);  // one ClientHello record, 517 bytes
    ASSERT_EQ(payload.size(), 517u);
    auto dst = std::make_unique<uint8_t[]>(payload.size());
    for (size_t n = 0; n <= payload.size(); ++n) {
        const TlsRecordScan s = tls_handshake_from_records(fenced(payload, n), n, dst.get(), payload.size());
        TlsClientHello h;
        const ParseStatus st = parse_client_hello(fence().place(dst.get(), s.handshake_len), s.handshake_len, h);
        if (n == payload.size()) {
            ASSERT_EQ(st, ParseStatus::kOk);
            EXPECT_EQ(h.sni.view(), "www.ntop.org");
            EXPECT_EQ(h.ja3.view(), "b20b44b18b853ef29ab773e921b03422");  // tshark's tls.handshake.ja3
        } else {
            EXPECT_NE(st, ParseStatus::kOk) << n;
        }
    }
}

TEST(ClassifyTls, MalformedHellosAreRejected) {
    const Bytes good = chrome_like_hello();
    TlsClientHello h;
    const auto parse = [&](Bytes b) { return parse_client_hello(fenced(b, b.size()), b.size(), h); };
    ASSERT_EQ(parse(good), ParseStatus::kOk);
    {
        Bytes b = good;
        b[0] = 2;  // a ServerHello type
        EXPECT_EQ(parse(b), ParseStatus::kInvalid);
    }
    {
        Bytes b = good;
        b[4] = 0x02;  // legacy_version 2.x
        EXPECT_EQ(parse(b), ParseStatus::kInvalid);
    }
    {
        Bytes b = good;
        b[4 + 2 + 32] = 33;  // session id longer than 32
        EXPECT_EQ(parse(b), ParseStatus::kInvalid);
    }
    {
        Bytes b = good;
        b[4 + 2 + 32 + 1 + 32 + 1] = 31;  // odd cipher suite length
        EXPECT_EQ(parse(b), ParseStatus::kInvalid);
    }
    {
        Bytes b = good;
        b[4 + 2 + 32 + 1 + 32 + 1] = 0xff;  // cipher list overruns the body
        EXPECT_EQ(parse(b), ParseStatus::kInvalid);
    }
    {
        // Extensions block longer than the body.
        Bytes b = good;
        const size_t ext_len_at = 4 + 2 + 32 + 1 + 32 + 2 + 32 + 2;
        b[ext_len_at] = 0xff;
        EXPECT_EQ(parse(b), ParseStatus::kInvalid);
    }
    {
        // An extension longer than the extensions block.
        Bytes b = good;
        const size_t first_ext_len_at = 4 + 2 + 32 + 1 + 32 + 2 + 32 + 2 + 2 + 2;
        b[first_ext_len_at] = 0x7f;
        EXPECT_EQ(parse(b), ParseStatus::kInvalid);
    }
    {
        // A handshake length too small for any hello.
        Bytes b{1, 0, 0, 10};
        b.resize(14, 0);
        EXPECT_EQ(parse(b), ParseStatus::kInvalid);
    }
}

TEST(ClassifyTls, RecordsAreJoinedAndAlertsSkipped) {
    const Bytes hello = chrome_like_hello();
    // The hello split over two records, after an alert record.
    Bytes payload = record(21, {1, 112});
    const size_t half = hello.size() / 2;
    put(payload, record(22, Bytes(hello.begin(), hello.begin() + static_cast<long>(half))));
    put(payload, record(22, Bytes(hello.begin() + static_cast<long>(half), hello.end())));
    put(payload, record(20, {1}));  // ChangeCipherSpec ends the handshake records
    auto dst = std::make_unique<uint8_t[]>(payload.size());
    const TlsRecordScan s = tls_handshake_from_records(fenced(payload, payload.size()), payload.size(), dst.get(), payload.size());
    ASSERT_EQ(s.status, ParseStatus::kOk);
    ASSERT_EQ(s.handshake_len, hello.size());
    EXPECT_EQ(std::memcmp(dst.get(), hello.data(), hello.size()), 0);
    // Application data first is not a handshake.
    const Bytes app = record(23, {1, 2, 3});
    EXPECT_EQ(tls_handshake_from_records(fenced(app, app.size()), app.size(), dst.get(), 16).status, ParseStatus::kInvalid);
    // A destination smaller than the hello: what fits, no overflow.
    const TlsRecordScan small = tls_handshake_from_records(fenced(payload, payload.size()), payload.size(), dst.get(), 10);
    EXPECT_EQ(small.handshake_len, 10u);
}

TEST(ClassifyTls, ServerHelloVersionsAlpnAndRetry) {
    Bytes body;
    put16(body, 0x0303);
    static constexpr uint8_t kHrr[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
                                         0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
                                         0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};
    body.insert(body.end(), kHrr, kHrr + 32);
    body.push_back(0);
    put16(body, 0x1301);
    body.push_back(0);
    Bytes exts = ext(0x002b, {0x03, 0x04});
    Bytes alpn{2, 'h', '2'};
    put(exts, ext(0x0010, with16(alpn)));
    put(exts, ext(0x0029, {0, 0}));
    put(body, with16(exts));
    Bytes hs{2};
    put24(hs, static_cast<uint32_t>(body.size()));
    put(hs, body);
    TlsServerHello s;
    ASSERT_EQ(parse_server_hello(fenced(hs, hs.size()), hs.size(), s), ParseStatus::kOk);
    EXPECT_EQ(s.version, 0x0304);
    EXPECT_EQ(s.cipher, 0x1301);
    EXPECT_EQ(s.alpn.view(), "h2");
    EXPECT_TRUE(s.hello_retry);
    EXPECT_TRUE(s.psk);
    EXPECT_EQ(s.ja3s.len, 32);
    for (size_t n = 0; n < hs.size(); ++n) {
        ASSERT_EQ(parse_server_hello(fenced(hs, n), n, s), ParseStatus::kTruncated) << n;
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP

TEST(ClassifyHttp, RequestFields) {
    const std::string req =
        "POST /upload?x=1 HTTP/1.1\r\nhost: www.example.com\r\nUser-Agent:  curl/8.0 \r\n"
        "Referer: http://a.example/\r\nContent-Type: text/plain\r\nContent-Length: 42\r\n\r\nbody";
    const Bytes b(req.begin(), req.end());
    HttpMessage m;
    ASSERT_EQ(parse_http(fenced(b, b.size()), b.size(), m), ParseStatus::kOk);
    EXPECT_TRUE(m.request);
    EXPECT_EQ(m.method, HttpMethod::kPost);
    EXPECT_EQ(m.path.view(), "/upload?x=1");
    EXPECT_EQ(m.host.view(), "www.example.com");
    EXPECT_EQ(m.user_agent.view(), "curl/8.0");
    EXPECT_EQ(m.referer.view(), "http://a.example/");
    EXPECT_EQ(m.content_type.view(), "text/plain");
    EXPECT_EQ(m.content_length, 42);
    EXPECT_EQ(m.version_minor, 1);
    EXPECT_EQ(m.head_len, req.size() - 4);
    for (size_t n = 0; n < req.size() - 4; ++n) {
        HttpMessage t;
        const ParseStatus st = parse_http(fenced(b, n), n, t);
        ASSERT_EQ(st, ParseStatus::kTruncated) << n;
        EXPECT_TRUE(t.host.empty() || t.host.view() == "www.example.com") << n;
    }
}

TEST(ClassifyHttp, ResponseFieldsAndBareLineFeeds) {
    const std::string res = "HTTP/1.0 404 Not Found\nServer: nginx\nContent-Type: text/html\nContent-Length: 99999999999999999999\n\n";
    const Bytes b(res.begin(), res.end());
    HttpMessage m;
    ASSERT_EQ(parse_http(fenced(b, b.size()), b.size(), m), ParseStatus::kOk);
    EXPECT_FALSE(m.request);
    EXPECT_EQ(m.status, 404);
    EXPECT_EQ(m.version_minor, 0);
    EXPECT_EQ(m.server.view(), "nginx");
    EXPECT_EQ(m.content_type.view(), "text/html");
    EXPECT_EQ(m.content_length, -1);  // overflowing value: not trusted
    for (size_t n = 0; n < b.size(); ++n) {
        HttpMessage t;
        ASSERT_EQ(parse_http(fenced(b, n), n, t), ParseStatus::kTruncated) << n;
    }
}

TEST(ClassifyHttp, MalformedStartLines) {
    for (const std::string s : {"GET / HTTP/2.0\r\n\r\n", "GET /\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/1.1 099 X\r\n\r\n",
                                "HTTP/1.1 200OK\r\n\r\n", "FOO / HTTP/1.1\r\n\r\n", "\x16\x03\x01\x02\x00", "get / HTTP/1.1\r\n\r\n"}) {
        const Bytes b(s.begin(), s.end());
        HttpMessage m;
        EXPECT_EQ(parse_http(fenced(b, b.size()), b.size(), m), ParseStatus::kInvalid) << s;
    }
    const Bytes long_host = [] {
        std::string s = "GET / HTTP/1.1\r\nHost: " + std::string(400, 'h') + "\r\n\r\n";
        return Bytes(s.begin(), s.end());
    }();
    HttpMessage m;
    ASSERT_EQ(parse_http(fenced(long_host, long_host.size()), long_host.size(), m), ParseStatus::kOk);
    EXPECT_TRUE(m.host.truncated);
    EXPECT_EQ(m.host.len, 255);
}

// ---------------------------------------------------------------------------------------------
// DNS

Bytes dns_response() {
    Bytes m;
    put16(m, 0x1234);
    put16(m, 0x8180);  // response, RD, RA, rcode 0
    put16(m, 1);
    put16(m, 3);
    put16(m, 0);
    put16(m, 0);
    for (std::string_view l : {"www", "example", "com"}) {
        m.push_back(static_cast<uint8_t>(l.size()));
        put(m, l);
    }
    m.push_back(0);
    put16(m, 1);
    put16(m, 1);
    // www.example.com CNAME cdn.example.com (pointer to "example.com" at offset 16)
    put(m, {0xc0, 12});
    put16(m, kDnsTypeCname);
    put16(m, 1);
    put16(m, 0);
    put16(m, 300);
    put16(m, 6);
    put(m, {3, 'c', 'd', 'n', 0xc0, 16});
    // cdn.example.com A 192.0.2.1 (pointer to the CNAME target)
    const uint8_t cdn = static_cast<uint8_t>(m.size() - 6);
    put(m, {0xc0, cdn});
    put16(m, kDnsTypeA);
    put16(m, 1);
    put16(m, 0);
    put16(m, 60);
    put16(m, 4);
    put(m, {192, 0, 2, 1});
    put(m, {0xc0, cdn});
    put16(m, kDnsTypeAaaa);
    put16(m, 1);
    put16(m, 0);
    put16(m, 60);
    put16(m, 16);
    put(m, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    return m;
}

TEST(ClassifyDns, ResponseWithCompressionOverUdpAndTcp) {
    const Bytes m = dns_response();
    auto out = std::make_unique<DnsMessage>();
    ASSERT_EQ(parse_dns(fenced(m, m.size()), m.size(), *out), ParseStatus::kOk);
    EXPECT_TRUE(out->response);
    EXPECT_EQ(out->qname.view(), "www.example.com");
    EXPECT_EQ(out->qtype, 1);
    EXPECT_EQ(out->rcode, 0);
    ASSERT_EQ(out->answer_count, 3);
    EXPECT_EQ(out->answers[0].type, kDnsTypeCname);
    EXPECT_EQ(out->answers[0].cname.view(), "cdn.example.com");
    EXPECT_EQ(out->answers[0].ttl, 300u);
    EXPECT_EQ(out->answers[1].type, kDnsTypeA);
    EXPECT_EQ(std::memcmp(out->answers[1].addr, "\xc0\x00\x02\x01", 4), 0);
    EXPECT_EQ(out->answers[2].type, kDnsTypeAaaa);
    EXPECT_EQ(out->answers[2].addr[15], 1);

    Bytes tcp;
    put16(tcp, static_cast<uint16_t>(m.size()));
    put(tcp, m);
    ASSERT_EQ(parse_dns_tcp(fenced(tcp, tcp.size()), tcp.size(), *out), ParseStatus::kOk);
    EXPECT_EQ(out->qname.view(), "www.example.com");
    for (size_t n = 0; n < tcp.size(); ++n) {
        ASSERT_EQ(parse_dns_tcp(fenced(tcp, n), n, *out), ParseStatus::kTruncated) << n;
    }
    for (size_t n = 0; n < m.size(); ++n) {
        ASSERT_NE(parse_dns(fenced(m, n), n, *out), ParseStatus::kOk) << n;
    }
}

TEST(ClassifyDns, MalformedNames) {
    FixedText<256> name;
    size_t next = 0;
    const auto decode = [&](const Bytes& b, size_t off) { return dns_name(fenced(b, b.size()), b.size(), off, name, next); };
    EXPECT_FALSE(decode({0xc0, 0x00}, 0));                   // pointer to itself: loop ends
    EXPECT_FALSE(decode({0xc0, 0x02, 0xc0, 0x00}, 0));       // two pointers chasing each other
    EXPECT_FALSE(decode({0xc0, 0x40}, 0));                   // pointer past the end
    EXPECT_FALSE(decode({0x40, 'a', 0}, 0));                 // extended label type
    EXPECT_FALSE(decode({3, 'a', 'b'}, 0));                  // label cut
    EXPECT_FALSE(decode({1, 'a'}, 0));                       // no terminating zero
    Bytes too_long;
    for (int i = 0; i < 5; ++i) {
        too_long.push_back(63);
        too_long.insert(too_long.end(), 63, 'x');
    }
    too_long.push_back(0);
    EXPECT_FALSE(decode(too_long, 0));  // 320 bytes > 255
    ASSERT_TRUE(decode({1, 'a', 3, 'b', '.', 0x01, 0}, 0));  // a dot and a control byte are escaped
    EXPECT_EQ(name.view(), "a.b\\.\\001");
    EXPECT_EQ(next, 7u);
    ASSERT_TRUE(decode({0}, 0));  // the root
    EXPECT_TRUE(name.empty());
}

TEST(ClassifyDns, NotDns) {
    auto out = std::make_unique<DnsMessage>();
    Bytes zbit(12, 0);
    zbit[2] = 0x01;
    zbit[3] = 0x40;  // Z bit set
    zbit[5] = 1;
    EXPECT_EQ(parse_dns(fenced(zbit, zbit.size()), zbit.size(), *out), ParseStatus::kInvalid);
    Bytes noq(12, 0);  // a query without a question
    EXPECT_EQ(parse_dns(fenced(noq, noq.size()), noq.size(), *out), ParseStatus::kInvalid);
    const Bytes short_len{0, 5, 1, 2, 3, 4, 5};
    EXPECT_EQ(parse_dns_tcp(fenced(short_len, short_len.size()), short_len.size(), *out), ParseStatus::kInvalid);
}

// ---------------------------------------------------------------------------------------------
// QUIC

Bytes unhex(std::string_view s) {
    Bytes b;
    for (size_t i = 0; i + 1 < s.size(); i += 2) {
        b.push_back(static_cast<uint8_t>(std::stoi(std::string(s.substr(i, 2)), nullptr, 16)));
    }
    return b;
}

TEST(ClassifyQuic, InitialKeysMatchRfc9001AndRfc9369) {
    // RFC 9001 A.1 / RFC 9369 A.1: client Initial keys for DCID 0x8394c8f03e515708.
    const Bytes dcid = unhex("8394c8f03e515708");
    struct Case {
        Bytes salt;
        std::string_view prefix, secret, key, iv, hp;
    };
    const Case cases[] = {
        {unhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"), "quic ",
         "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea", "1f369613dd76d5467730efcbe3b1a22d",
         "fa044b2f42a3fd3b46fb255c", "9f50449e04a0e810283a1e9933adedd2"},
        {unhex("0dede3def700a6db819381be6e269dcbf9bd2ed9"), "quicv2 ",
         "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b", "8b1a0bc121284290a29e0971b5cd045d",
         "91f73e2351d8fa91660e909f", "45b95e15235d6f45a6b19cbcb0294ba9"},
    };
    for (const Case& c : cases) {
        uint8_t initial[32], secret[32], key[16], iv[12], hp[16];
        ASSERT_TRUE(crypto::hkdf_extract(c.salt.data(), c.salt.size(), dcid.data(), dcid.size(), initial));
        ASSERT_TRUE(crypto::hkdf_expand_label(initial, "client in", secret, 32));
        EXPECT_EQ(hex(secret, 32), c.secret);
        ASSERT_TRUE(crypto::hkdf_expand_label(secret, std::string(c.prefix) + "key", key, 16));
        ASSERT_TRUE(crypto::hkdf_expand_label(secret, std::string(c.prefix) + "iv", iv, 12));
        ASSERT_TRUE(crypto::hkdf_expand_label(secret, std::string(c.prefix) + "hp", hp, 16));
        EXPECT_EQ(hex(key, 16), c.key);
        EXPECT_EQ(hex(iv, 12), c.iv);
        EXPECT_EQ(hex(hp, 16), c.hp);
    }
}

TEST(ClassifyQuic, HkdfAgreesWithOpenSslKdf) {
    // Our HMAC-based HKDF-Extract against OpenSSL's own HKDF implementation.
    const Bytes salt = unhex("afbfec289993d24c9e9786f19c6111e04390a899"), ikm = unhex("0001020304050607");
    uint8_t ours[32];
    ASSERT_TRUE(crypto::hkdf_extract(salt.data(), salt.size(), ikm.data(), ikm.size(), ours));
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
    ASSERT_NE(ctx, nullptr);
    uint8_t theirs[32];
    size_t len = sizeof theirs;
    ASSERT_EQ(EVP_PKEY_derive_init(ctx), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set_hkdf_mode(ctx, EVP_PKEY_HKDEF_MODE_EXTRACT_ONLY), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt.data(), static_cast<int>(salt.size())), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set1_hkdf_key(ctx, ikm.data(), static_cast<int>(ikm.size())), 1);
    ASSERT_EQ(EVP_PKEY_derive(ctx, theirs, &len), 1);
    EVP_PKEY_CTX_free(ctx);
    EXPECT_EQ(hex(ours, 32), hex(theirs, 32));
}

TEST(ClassifyQuic, RealInitialDecryptsAndEveryDamageIsCaught) {
    const Bytes pkt = payload_of("quic_handshake.pcap", 1);  // IETF QUIC v1 client Initial
    ASSERT_EQ(pkt.size(), 1200u);
    auto scratch = std::make_unique<QuicScratch>();
    auto crypto = std::make_unique<QuicCryptoBuffer>();
    auto hello = std::make_unique<TlsClientHello>();
    QuicInitialInfo info;
    QuicClientHelloResult r = parse_quic_client_initial(fenced(pkt, pkt.size()), pkt.size(), *scratch, *crypto, info, *hello);
    ASSERT_EQ(r.status, ParseStatus::kOk);
    ASSERT_EQ(r.hello_status, ParseStatus::kOk);
    EXPECT_EQ(hello->sni.view(), "localhost");  // tshark decodes the same
    EXPECT_EQ(info.header.version, kQuicV1);
    EXPECT_EQ(hello->ja4.view().substr(0, 4), "q13d");
    // Any flipped bit after the header fails the AEAD tag (or the header-protected bits).
    const size_t pn_off = info.header.pn_offset;
    for (size_t i = pn_off; i < pkt.size(); i += 7) {
        Bytes bad = pkt;
        bad[i] ^= 0x01;
        r = parse_quic_client_initial(fenced(bad, bad.size()), bad.size(), *scratch, *crypto, info, *hello);
        EXPECT_EQ(r.status, ParseStatus::kInvalid) << "byte " << i;
    }
    // Truncated anywhere: never decrypted.
    for (size_t n = 0; n < pkt.size(); ++n) {
        r = parse_quic_client_initial(fenced(pkt, n), n, *scratch, *crypto, info, *hello);
        ASSERT_NE(r.status, ParseStatus::kOk) << n;
    }
    // An unknown version is not decrypted.
    Bytes other = pkt;
    other[4] = 0x0a;
    r = parse_quic_client_initial(fenced(other, other.size()), other.size(), *scratch, *crypto, info, *hello);
    EXPECT_EQ(r.status, ParseStatus::kInvalid);
}

TEST(ClassifyQuic, CryptoReassemblyOutOfOrderAndGaps) {
    auto c = std::make_unique<QuicCryptoBuffer>();
    const uint8_t a[4] = {1, 2, 3, 4};
    c->reset();
    EXPECT_TRUE(c->add(4, a, 4));
    EXPECT_EQ(c->contiguous(), 0u);
    EXPECT_TRUE(c->add(0, a, 4));
    EXPECT_EQ(c->contiguous(), 8u);
    EXPECT_TRUE(c->add(20, a, 4));
    EXPECT_EQ(c->contiguous(), 8u);  // a gap at 8..20
    EXPECT_FALSE(c->add(QuicCryptoBuffer::kCapacity - 2, a, 4));  // cut at the capacity
    EXPECT_FALSE(c->add(uint64_t{1} << 40, a, 4));
}

// ---------------------------------------------------------------------------------------------
// Classifier

TEST(Classifier, StateIsSmall) {
    std::cout << "sizeof(ClassifierState) = " << sizeof(ClassifierState) << " bytes\n";
    // 332 for the first-bytes classification, + 132 for the layer-7 set's TLS record walks (both
    // directions), push and HTTP message counts, QUIC versions and 0-RTT, + 64 for the server
    // certificate CN.
    EXPECT_LE(sizeof(ClassifierState), 528u);
}

TEST(Classifier, ClientHelloSplitOverThreeSegments) {
    const Bytes payload = payload_of("443-firefox.pcap", 4);
    Classifier clf(4);
    ClassifierState s;
    Classifier::init(s, IPPROTO_TCP, 40000, 443);
    const uint32_t isn = 0xfffffff0;  // sequence numbers wrap inside the hello
    const size_t cut1 = 100, cut2 = 300;
    clf.classify(s, 0, payload.data(), cut1, isn);
    EXPECT_EQ(s.app, App::kUnknown);
    EXPECT_EQ(clf.slots_in_use(), 1u);
    clf.classify(s, 0, payload.data(), cut1, isn);  // a retransmission adds nothing
    clf.classify(s, 0, payload.data() + cut1, cut2 - cut1, isn + static_cast<uint32_t>(cut1));
    EXPECT_EQ(s.app, App::kUnknown);
    // The last segment overlaps the previous one by 10 bytes.
    clf.classify(s, 0, payload.data() + cut2 - 10, payload.size() - cut2 + 10, isn + static_cast<uint32_t>(cut2 - 10));
    EXPECT_EQ(s.app, App::kTls);
    EXPECT_EQ(s.con_t, kConTls);
    EXPECT_EQ(s.name.view(), "www.ntop.org");
    EXPECT_EQ(s.ja3.view(), "b20b44b18b853ef29ab773e921b03422");
    EXPECT_EQ(s.tls_version[0], 0x0304);
    EXPECT_EQ(s.flags & kFlagHelloCut, 0);
    EXPECT_TRUE(s.dir_final[0]);
    EXPECT_EQ(clf.slots_in_use(), 0u);  // the slot went back once the hello was read
    clf.finish(s);
    EXPECT_TRUE(s.done());
}

TEST(Classifier, GapGivesUpWithWhatItHas) {
    const Bytes payload = payload_of("443-firefox.pcap", 4);
    Classifier clf(4);
    ClassifierState s;
    Classifier::init(s, IPPROTO_TCP, 40000, 443);
    clf.classify(s, 0, payload.data(), 300, 1000);
    clf.classify(s, 0, payload.data() + 400, 117, 1400);  // 100 bytes missing
    EXPECT_EQ(s.app, App::kTls);
    EXPECT_NE(s.flags & kFlagHelloCut, 0);
    EXPECT_TRUE(s.ja3.empty());
    EXPECT_EQ(clf.slots_in_use(), 0u);
}

TEST(Classifier, PoolExhaustionDegradesAndFinishReturnsSlots) {
    const Bytes payload = payload_of("443-firefox.pcap", 4);
    Classifier clf(1);
    ClassifierState a, b;
    Classifier::init(a, IPPROTO_TCP, 40000, 443);
    Classifier::init(b, IPPROTO_TCP, 40001, 443);
    clf.classify(a, 0, payload.data(), 200, 1);
    EXPECT_EQ(clf.slots_in_use(), 1u);
    clf.classify(b, 0, payload.data(), 200, 1);  // no slot left: classified from 200 bytes
    EXPECT_EQ(clf.slots_exhausted(), 1u);
    EXPECT_EQ(b.app, App::kTls);
    EXPECT_NE(b.flags & kFlagHelloCut, 0);
    clf.finish(a);  // flow ends while waiting: what arrived is used, the slot is freed
    EXPECT_EQ(a.app, App::kTls);
    EXPECT_EQ(clf.slots_in_use(), 0u);
    clf.finish(b);
}

TEST(Classifier, HttpHostInASecondSegment) {
    const std::string r1 = "GET /index.html HTTP/1.1\r\nUser-Agent: x\r\n", r2 = "Host: www.example.org\r\n\r\n";
    Classifier clf(2);
    ClassifierState s;
    Classifier::init(s, IPPROTO_TCP, 40000, 8081);
    clf.classify(s, 0, reinterpret_cast<const uint8_t*>(r1.data()), r1.size(), 7);
    clf.classify(s, 0, reinterpret_cast<const uint8_t*>(r2.data()), r2.size(), 7 + static_cast<uint32_t>(r1.size()));
    const std::string resp = "HTTP/1.1 301 Moved\r\nLocation: /\r\n\r\n";
    clf.classify(s, 1, reinterpret_cast<const uint8_t*>(resp.data()), resp.size(), 99);
    EXPECT_EQ(s.app, App::kHttp);
    EXPECT_EQ(s.con_t, kConHttp);
    EXPECT_EQ(s.http_t, kHttpGet);
    EXPECT_EQ(s.name.view(), "www.example.org");
    EXPECT_EQ(s.http_status, 301);
    EXPECT_TRUE(s.done());
}

// A certificate made by OpenSSL (subject O, CN and OU in that order, CN as UTF8String), wrapped
// in a ServerHello + Certificate flight: our DER walk finds the CN OpenSSL wrote, and every cut
// of the bytes is kTruncated (never a wrong CN, never a read past the end: fenced).
TEST(X509, SubjectCommonNameOfTheLeafCertificate) {
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    ASSERT_NE(key, nullptr);
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 4242);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_NAME* subject = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Weir Tests"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("*.weir.example"), -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(subject, "OU", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("ops"), -1, -1, 0);
    X509_NAME* issuer = X509_NAME_new();
    X509_NAME_add_entry_by_txt(issuer, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Weir Test CA"), -1, -1, 0);
    X509_set_issuer_name(cert, issuer);
    X509_set_pubkey(cert, key);
    ASSERT_GT(X509_sign(cert, key, EVP_sha256()), 0);
    unsigned char* der = nullptr;
    const int der_len = i2d_X509(cert, &der);
    ASSERT_GT(der_len, 0);
    const Bytes cert_der(der, der + der_len);
    OPENSSL_free(der);
    X509_NAME_free(issuer);
    X509_free(cert);
    EVP_PKEY_free(key);

    FixedText<64> cn;
    EXPECT_EQ(certificate_subject_cn(fenced(cert_der, cert_der.size()), cert_der.size(), cn), ParseStatus::kOk);
    EXPECT_EQ(cn.view(), "*.weir.example");
    // ServerHello (a minimal body) + Certificate { list { cert } } as handshake bytes.
    Bytes hs = {2, 0, 0, 4, 3, 3, 0, 0};
    const size_t list = 3 + cert_der.size();
    hs.insert(hs.end(), {11, static_cast<uint8_t>((list + 3) >> 16), static_cast<uint8_t>((list + 3) >> 8),
                         static_cast<uint8_t>(list + 3), static_cast<uint8_t>(list >> 16), static_cast<uint8_t>(list >> 8),
                         static_cast<uint8_t>(list), static_cast<uint8_t>(cert_der.size() >> 16),
                         static_cast<uint8_t>(cert_der.size() >> 8), static_cast<uint8_t>(cert_der.size())});
    hs.insert(hs.end(), cert_der.begin(), cert_der.end());
    EXPECT_EQ(server_certificate_cn(fenced(hs, hs.size()), hs.size(), cn), ParseStatus::kOk);
    EXPECT_EQ(cn.view(), "*.weir.example");
    size_t first_ok = hs.size();
    for (size_t n = 0; n < hs.size(); ++n) {
        const ParseStatus st = server_certificate_cn(fenced(hs, n), n, cn);
        ASSERT_NE(st, ParseStatus::kInvalid) << "cut at " << n;
        if (st == ParseStatus::kOk) {
            EXPECT_EQ(cn.view(), "*.weir.example") << "cut at " << n;
            first_ok = std::min(first_ok, n);
        }
    }
    EXPECT_LT(first_ok, hs.size() - 64) << "the subject is read before the certificate's end (key, signature)";
    // A resumed session's flight (ServerHello, then no Certificate) and garbage.
    const Bytes resumed = {2, 0, 0, 4, 3, 3, 0, 0, 14, 0, 0, 0};
    EXPECT_EQ(server_certificate_cn(fenced(resumed, resumed.size()), resumed.size(), cn), ParseStatus::kOk);
    EXPECT_TRUE(cn.empty());
    Bytes bad = hs;
    bad[8 + 10] = 0x31;  // the certificate is no longer a SEQUENCE
    EXPECT_EQ(server_certificate_cn(fenced(bad, bad.size()), bad.size(), cn), ParseStatus::kInvalid);
}

// eDonkey from the capture (hello 0xE3/0x01 and hello answer 0xE3/0x4C); RTSP, ICY, RTMP, MSN,
// YMSG and XMPP from their specifications' first messages; and near misses that must stay unknown.
TEST(Classifier, OtherTcpProtocolsFromTheirFirstMessages) {
    const auto first = [](uint16_t server_port, int dir, const Bytes& p) {
        Classifier clf(2);
        ClassifierState s;
        Classifier::init(s, IPPROTO_TCP, 40000, server_port);
        clf.classify(s, dir, p.data(), p.size(), 1);
        return s;
    };
    const auto text = [](std::string_view t) { return Bytes(t.begin(), t.end()); };
    for (int frame : {4, 5}) {
        const ClassifierState s = first(7551, frame == 4 ? 0 : 1, payload_of("edonkey.pcap", frame));
        EXPECT_EQ(s.app, App::kEdonkey) << "frame " << frame;
        EXPECT_EQ(s.p2p_t, kP2pEdonkey);
        EXPECT_EQ(s.con_t, kConP2p);
    }
    Bytes hello = payload_of("edonkey.pcap", 4);
    hello[1] = static_cast<uint8_t>(hello[1] + 1);  // the length no longer covers the segment
    EXPECT_EQ(first(7551, 0, hello).app, App::kUnknown);
    hello.resize(5);
    EXPECT_EQ(first(7551, 0, hello).app, App::kUnknown);

    const ClassifierState rtsp = first(554, 0, text("OPTIONS rtsp://cam.example/stream RTSP/1.0\r\nCSeq: 1\r\n\r\n"));
    EXPECT_EQ(rtsp.app, App::kRtsp);
    EXPECT_EQ(rtsp.con_t, kConRtsp);
    EXPECT_EQ(first(554, 1, text("RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n")).app, App::kRtsp);
    EXPECT_EQ(first(8080, 0, text("OPTIONS / HTTP/1.1\r\nHost: a\r\n\r\n")).app, App::kHttp) << "HTTP stays HTTP";

    const ClassifierState icy = first(8000, 1, text("ICY 200 OK\r\nicy-name: radio\r\n\r\n"));
    EXPECT_EQ(icy.app, App::kIcy);
    EXPECT_EQ(icy.con_t, kConIcy);

    Bytes c0c1(1537, 0);
    c0c1[0] = 3;
    const ClassifierState rtmp = first(1935, 0, c0c1);
    EXPECT_EQ(rtmp.app, App::kRtmp);
    EXPECT_EQ(rtmp.con_t, kConRtmp);
    c0c1.resize(100);
    EXPECT_NE(first(443, 0, c0c1).app, App::kRtmp) << "a short 0x03 segment is not a handshake";

    const ClassifierState msn = first(1863, 0, text("VER 1 MSNP18 MSNP17 CVR0\r\n"));
    EXPECT_EQ(msn.app, App::kMsn);
    EXPECT_EQ(msn.con_t, kConMsn);
    Bytes ymsg = text("YMSG");
    ymsg.resize(20, 0);
    ymsg[5] = 0x10;  // protocol version 16
    EXPECT_EQ(first(5050, 0, ymsg).app, App::kYmsg);
    const ClassifierState xmpp = first(
        5222, 0,
        text("<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' "
             "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"));
    EXPECT_EQ(xmpp.app, App::kXmpp);
    EXPECT_EQ(xmpp.con_t, kConXmpp);
    EXPECT_EQ(first(8080, 0, text("<?xml version='1.0'?><soap:Envelope/>")).app, App::kUnknown);
}

// Teredo (RFC 4380): a bubble (IPv6 header, no next header), the same after an origin indication,
// and an ICMPv6 echo after an authentication indicator; an IPv6-looking datagram whose length does
// not add up stays unknown.
TEST(Classifier, TeredoFromItsEncapsulation) {
    const auto classify_udp = [](const Bytes& p) {
        Classifier clf(2);
        ClassifierState s;
        Classifier::init(s, IPPROTO_UDP, 50000, 3544);
        clf.classify(s, 0, p.data(), p.size());
        return s;
    };
    Bytes bubble(40, 0);
    bubble[0] = 0x60;
    bubble[6] = 59;  // no next header
    bubble[7] = 21;
    ClassifierState s = classify_udp(bubble);
    EXPECT_EQ(s.app, App::kTeredo);
    EXPECT_EQ(s.udp_type[0], kUdpTeredo);
    Bytes origin = {0x00, 0x00, 0xf2, 0x27, 0x3f, 0x57, 0xff, 0xfe};  // port and address, obfuscated
    origin.insert(origin.end(), bubble.begin(), bubble.end());
    EXPECT_EQ(classify_udp(origin).app, App::kTeredo);
    Bytes echo = {0x00, 0x01, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0};  // auth: no id, no value, nonce, confirmation
    Bytes ip6(48, 0);
    ip6[0] = 0x60;
    ip6[5] = 8;    // payload: an 8-byte ICMPv6 echo request
    ip6[6] = 58;
    ip6[40] = 128;
    echo.insert(echo.end(), ip6.begin(), ip6.end());
    EXPECT_EQ(classify_udp(echo).app, App::kTeredo);
    ip6[5] = 9;  // one byte more than the datagram holds
    EXPECT_EQ(classify_udp(ip6).app, App::kUnknown);
}

TEST(Classifier, MailBannersAndStartTls) {
    Classifier clf(2);
    ClassifierState s;
    Classifier::init(s, IPPROTO_TCP, 49640, 143);
    // The IMAP STARTTLS capture, segment by segment, both directions.
    const int frames[] = {4, 6, 8, 10, 11, 14, 15};
    for (int f : frames) {
        const Bytes p = payload_of("imap-starttls.pcap", f);
        const int dir = f == 6 || f == 10 || f == 14 ? 0 : 1;
        if (!s.done()) {
            clf.classify(s, dir, p.data(), p.size(), 0);
        }
    }
    EXPECT_EQ(s.app, App::kImap);
    EXPECT_EQ(s.con_t, kConImap | kConTls);
    EXPECT_NE(s.flags & kFlagStartTls, 0);
    EXPECT_EQ(s.tls_version[0], 0x0303);
    EXPECT_EQ(s.tls_version[1], 0x0303);
    const std::string smtp = "220 mail.example.com ESMTP Postfix\r\n", pop = "+OK POP3 ready\r\n", ssh = "SSH-2.0-OpenSSH_9.2\r\n";
    ClassifierState m;
    Classifier::init(m, IPPROTO_TCP, 1, 2525);
    clf.classify(m, 1, reinterpret_cast<const uint8_t*>(smtp.data()), smtp.size(), 0);
    EXPECT_EQ(m.app, App::kSmtp);
    Classifier::init(m, IPPROTO_TCP, 1, 110);
    clf.classify(m, 1, reinterpret_cast<const uint8_t*>(pop.data()), pop.size(), 0);
    EXPECT_EQ(m.con_t, kConPop3);
    Classifier::init(m, IPPROTO_TCP, 1, 2222);
    clf.classify(m, 1, reinterpret_cast<const uint8_t*>(ssh.data()), ssh.size(), 0);
    EXPECT_EQ(m.con_t, kConSsh);
}

TEST(Classifier, UdpTypes) {
    Classifier clf(2);
    ClassifierState s;
    // DNS
    const Bytes dns = dns_response();
    Classifier::init(s, IPPROTO_UDP, 5000, 53);
    clf.classify(s, 1, dns.data(), dns.size());
    EXPECT_EQ(s.app, App::kDns);
    EXPECT_EQ(s.udp_type[1], kUdpDns);
    EXPECT_EQ(s.name.view(), "www.example.com");
    // QUIC, from the capture (client Initial then server Initial).
    Classifier::init(s, IPPROTO_UDP, 50606, 4433);
    const Bytes c = payload_of("quic_handshake.pcap", 1), srv = payload_of("quic_handshake.pcap", 2);
    clf.classify(s, 0, c.data(), c.size());
    clf.classify(s, 1, srv.data(), srv.size());
    EXPECT_EQ(s.app, App::kQuic);
    EXPECT_EQ(s.udp_type[0], kUdpQuic);
    EXPECT_EQ(s.udp_type[1], kUdpQuic);
    EXPECT_EQ(s.name.view(), "localhost");
    EXPECT_EQ(s.tls_version[1], 0x0304);  // from the decrypted server Initial
    EXPECT_NE(s.flags & kFlagQuicDecrypted, 0);
    // RTP: a stream of consecutive sequence numbers, then confirmed.
    Classifier::init(s, IPPROTO_UDP, 30000, 30002);
    for (uint16_t seq = 65534, i = 0; i < 4; ++i, ++seq) {
        Bytes rtp{0x80, 0x00};
        put16(rtp, seq);
        rtp.insert(rtp.end(), {0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef});
        rtp.resize(172, 0xff);
        clf.classify(s, 0, rtp.data(), rtp.size());
        EXPECT_EQ(s.udp_type[0], i < 2 ? kUdpFirstRtp : kUdpRtp) << i;
    }
    EXPECT_EQ(s.app, App::kRtp);
    // STUN binding request.
    Classifier::init(s, IPPROTO_UDP, 30000, 3478);
    Bytes stun{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
    stun.resize(20, 7);
    clf.classify(s, 0, stun.data(), stun.size());
    EXPECT_EQ(s.app, App::kStun);
    // SIP
    const std::string sip = "OPTIONS sip:alice@example.com SIP/2.0\r\nVia: SIP/2.0/UDP x\r\n\r\n";
    Classifier::init(s, IPPROTO_UDP, 5060, 5060);
    clf.classify(s, 0, reinterpret_cast<const uint8_t*>(sip.data()), sip.size());
    EXPECT_EQ(s.udp_type[0], kUdpSip);
    // Nothing recognisable on a well-known port: the port decides, flagged.
    Classifier::init(s, IPPROTO_UDP, 40000, 443);
    const Bytes junk(50, 0x3c);
    clf.classify(s, 0, junk.data(), junk.size());
    clf.finish(s);
    EXPECT_EQ(s.app, App::kQuic);
    EXPECT_NE(s.flags & kFlagByPort, 0);
    EXPECT_EQ(s.udp_type[0], kUdpUnknown);
}

TEST(Classifier, RandomPayloadsNeverCrashOrLeakSlots) {
    // Every prefix of real payloads of every kind, fed as flows of one or two segments.
    const Bytes samples[] = {payload_of("443-firefox.pcap", 4), payload_of("quic_handshake.pcap", 1),
                             payload_of("imap-starttls.pcap", 4), dns_response()};
    Classifier clf(8);
    for (const Bytes& b : samples) {
        for (uint8_t proto : {uint8_t{IPPROTO_TCP}, uint8_t{IPPROTO_UDP}}) {
            for (size_t n = 1; n <= b.size(); n += 3) {
                ClassifierState s;
                Classifier::init(s, proto, 1234, 443);
                clf.classify(s, 0, fenced(b, n), n, 0);
                if (!s.done()) {
                    clf.classify(s, 1, fenced(b, n), n, 0);
                }
                clf.finish(s);
                ASSERT_EQ(clf.slots_in_use(), 0u);
            }
        }
    }
}

}  // namespace
}  // namespace weir::classify
