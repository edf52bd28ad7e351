// libFuzzer target: the HTTP/1.x head parser never reads outside the input and reports a
// consistent head (a complete head lies inside the input; field lengths within their buffers).
#include <classify/http.hpp>

#include <cstddef>
#include <cstdint>

using namespace weir::classify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static HttpMessage m;
    const ParseStatus st = parse_http(data, size, m);
    if (st == ParseStatus::kOk && (!m.headers_complete || m.head_len == 0 || m.head_len > size)) {
        __builtin_trap();
    }
    if (st != ParseStatus::kOk && m.headers_complete) {
        __builtin_trap();
    }
    if (m.host.len >= sizeof m.host.data || m.path.len >= sizeof m.path.data || m.content_length < -1 ||
        (st == ParseStatus::kOk && !m.request && (m.status < 100 || m.status > 999))) {
        __builtin_trap();
    }
    (void)looks_like_http(data, size);
    return 0;
}
