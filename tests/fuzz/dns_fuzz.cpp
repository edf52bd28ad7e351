// libFuzzer target: the DNS parser (UDP and TCP framing) and the name decoder never read outside
// the input, end on compression loops, and keep names within 255 wire bytes.
#include <classify/dns.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>

using namespace weir::classify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static auto m = std::make_unique<DnsMessage>();
    for (int tcp = 0; tcp < 2; ++tcp) {
        const ParseStatus st = tcp != 0 ? parse_dns_tcp(data, size, *m) : parse_dns(data, size, *m);
        if (m->answer_count > DnsMessage::kMaxAnswers || m->qname.len > 255 * 4) {
            __builtin_trap();
        }
        if (st == ParseStatus::kOk && m->qdcount != 0 && m->qname.empty() && m->qname.truncated) {
            __builtin_trap();
        }
    }
    if (size != 0) {
        FixedText<256> name;
        size_t next = 0;
        if (dns_name(data, size, data[0] % size, name, next) && (next > size || next <= data[0] % size)) {
            __builtin_trap();
        }
    }
    return 0;
}
