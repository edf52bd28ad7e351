// HTTP/1.x request and response head parser: start line and the headers Tstat logs. A pure
// function over the first bytes of a message; no allocation, no read outside the range.
#pragma once

#include "classify/text.hpp"

#include <cstddef>
#include <cstdint>

namespace weir::classify {

enum class HttpMethod : uint8_t { kNone, kGet, kPost, kHead, kPut, kDelete, kOptions, kConnect, kTrace, kPatch, kOther };

struct HttpMessage {
    bool request = false;           // false: a response
    bool headers_complete = false;  // the empty line ending the head was seen
    HttpMethod method = HttpMethod::kNone;
    uint8_t version_minor = 0;      // HTTP/1.<minor>
    uint16_t status = 0;            // responses
    int64_t content_length = -1;    // -1: no (valid) Content-Length header
    uint32_t head_len = 0;          // bytes up to and including the empty line (when complete)
    FixedText<24> method_text;
    FixedText<512> path;            // request target as sent
    FixedText<256> host;
    FixedText<256> user_agent;
    FixedText<256> referer;
    FixedText<128> content_type;
    FixedText<128> server;
};

// kOk: start line and the whole head parsed. kTruncated: a valid start (at least a method and a
// space, or "HTTP/1."), cut before the end of the head; the headers that are complete are filled.
// kInvalid: not HTTP/1.x.
ParseStatus parse_http(const uint8_t* p, size_t n, HttpMessage& out) noexcept;

// Cheap test on the first bytes of a payload: a known request method and a space, or "HTTP/1.".
bool looks_like_http(const uint8_t* p, size_t n) noexcept;

}  // namespace weir::classify
