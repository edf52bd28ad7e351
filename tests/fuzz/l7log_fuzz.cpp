// libFuzzer target: the per-message log writers (log_dns_complete, log_http_complete) over
// arbitrary copied payloads never read outside the record, and every row they append keeps its
// log's column count (22 space-separated, 13 TAB-separated).
#include <export/l7_log.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

using namespace weir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static auto rec = std::make_unique<flow::L7Record>();
    rec->len = static_cast<uint16_t>(std::min<size_t>(size, flow::L7Record::kMaxBytes));
    std::memcpy(rec->data, data, rec->len);
    rec->payload_len = rec->len;
    rec->ts_ns = 1'700'000'000'123'456'789;
    rec->fqdn[0] = '\0';
    std::string out;
    rec->kind = flow::L7Kind::kDns;
    const int rows = blocks::l7log::append_dns_rows(out, "10.0.0.1 5353 1 0 10.0.0.2 53 1 0 ", *rec);
    if (std::count(out.begin(), out.end(), '\n') != rows ||
        std::count(out.begin(), out.end(), ' ') != 21 * static_cast<std::ptrdiff_t>(rows)) {
        __builtin_trap();
    }
    for (auto kind : {flow::L7Kind::kHttpRequest, flow::L7Kind::kHttpResponse}) {
        rec->kind = kind;
        for (auto privacy : {blocks::l7log::UrlPrivacy::kHidden, blocks::l7log::UrlPrivacy::kFull}) {
            out.clear();
            const bool row = blocks::l7log::append_http_row(out, "10.0.0.1\t5353\t10.0.0.2\t80\t", *rec, privacy);
            if (row != !out.empty() || (row && (std::count(out.begin(), out.end(), '\t') != 12 ||
                                                std::count(out.begin(), out.end(), '\n') != 1))) {
                __builtin_trap();
            }
        }
    }
    return 0;
}
