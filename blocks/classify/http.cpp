#include "classify/http.hpp"

#include <algorithm>
#include <string_view>

namespace weir::classify {
namespace {

struct MethodName {
    std::string_view name;
    HttpMethod method;
};
constexpr MethodName kMethods[] = {
    {"GET", HttpMethod::kGet},         {"POST", HttpMethod::kPost},   {"HEAD", HttpMethod::kHead},
    {"PUT", HttpMethod::kPut},         {"DELETE", HttpMethod::kDelete}, {"OPTIONS", HttpMethod::kOptions},
    {"CONNECT", HttpMethod::kConnect}, {"TRACE", HttpMethod::kTrace}, {"PATCH", HttpMethod::kPatch},
    // WebDAV and friends: reported as kOther with their name.
    {"PROPFIND", HttpMethod::kOther},  {"PROPPATCH", HttpMethod::kOther}, {"MKCOL", HttpMethod::kOther},
    {"COPY", HttpMethod::kOther},      {"MOVE", HttpMethod::kOther},  {"LOCK", HttpMethod::kOther},
    {"UNLOCK", HttpMethod::kOther},    {"NOTIFY", HttpMethod::kOther}, {"M-SEARCH", HttpMethod::kOther},
    {"SUBSCRIBE", HttpMethod::kOther}, {"REPORT", HttpMethod::kOther},
};

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
        const auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
        if ((x | 0x20) != (y | 0x20) || ((x | 0x20) < 'a' && x != y)) {
            return false;
        }
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

// Known method followed by a space at the start of `s`; nullptr if none.
const MethodName* match_method(std::string_view s) {
    for (const MethodName& m : kMethods) {
        // The first byte first: most payloads fail it, without a memcmp call per method.
        if (s.size() > m.name.size() && s[0] == m.name[0] && s.starts_with(m.name) && s[m.name.size()] == ' ') {
            return &m;
        }
    }
    return nullptr;
}

// Could `s` (shorter than any full method + space) still grow into one?
bool method_prefix(std::string_view s) {
    return std::any_of(std::begin(kMethods), std::end(kMethods),
                       [&](const MethodName& m) { return s.size() <= m.name.size() && m.name.starts_with(s); });
}

bool parse_version(std::string_view v, uint8_t& minor) {
    if (v.size() != 8 || !v.starts_with("HTTP/1.") || v[7] < '0' || v[7] > '9') {
        return false;
    }
    minor = static_cast<uint8_t>(v[7] - '0');
    return true;
}

void header(std::string_view name, std::string_view value, HttpMessage& out) {
    // Only the first occurrence of each header counts.
    if (iequals(name, "host")) {
        if (out.host.empty()) out.host.assign(value);
    } else if (iequals(name, "user-agent")) {
        if (out.user_agent.empty()) out.user_agent.assign(value);
    } else if (iequals(name, "referer")) {
        if (out.referer.empty()) out.referer.assign(value);
    } else if (iequals(name, "content-type")) {
        if (out.content_type.empty()) out.content_type.assign(value);
    } else if (iequals(name, "server")) {
        if (out.server.empty()) out.server.assign(value);
    } else if (iequals(name, "content-length") && out.content_length < 0) {
        int64_t v = 0;
        bool digits = !value.empty();
        for (const char c : value) {
            if (c < '0' || c > '9' || v > (INT64_MAX - 9) / 10) {
                digits = false;
                break;
            }
            v = v * 10 + (c - '0');
        }
        if (digits) {
            out.content_length = v;
        }
    }
}

}  // namespace

bool looks_like_http(const uint8_t* p, size_t n) noexcept {
    if (n == 0 || p[0] < 'A' || p[0] > 'Z') {
        return false;  // every method, and "HTTP/1.", starts with a capital: binary payloads stop here
    }
    const std::string_view s(reinterpret_cast<const char*>(p), std::min<size_t>(n, 16));
    return match_method(s) != nullptr || s.starts_with("HTTP/1.");
}

ParseStatus parse_http(const uint8_t* p, size_t n, HttpMessage& out) noexcept {
    out = HttpMessage{};
    const std::string_view all(reinterpret_cast<const char*>(p), n);
    const size_t eol = all.find('\n');
    std::string_view raw = all.substr(0, eol);  // whole input if no newline yet
    if (!raw.empty() && raw.back() == '\r') {
        raw.remove_suffix(1);
    }
    const std::string_view line = trim(raw);
    if (all.starts_with("HTTP/1.") || std::string_view("HTTP/1.").starts_with(all)) {
        out.request = false;
        // "HTTP/1.1 200 OK": version, status, reason.
        if (eol == std::string_view::npos) {
            if (n < 12) {
                return ParseStatus::kTruncated;
            }
        }
        if (line.size() < 12 || !parse_version(line.substr(0, 8), out.version_minor) || line[8] != ' ') {
            return eol == std::string_view::npos && line.size() < 12 ? ParseStatus::kTruncated : ParseStatus::kInvalid;
        }
        uint16_t status = 0;
        for (size_t i = 9; i < 12; ++i) {
            if (line[i] < '0' || line[i] > '9') {
                return ParseStatus::kInvalid;
            }
            status = static_cast<uint16_t>(status * 10 + (line[i] - '0'));
        }
        if (status < 100 || (line.size() > 12 && line[12] != ' ')) {
            return ParseStatus::kInvalid;
        }
        out.status = status;
    } else {
        out.request = true;
        const MethodName* m = match_method(all.substr(0, 16));
        if (m == nullptr) {
            return method_prefix(all) ? ParseStatus::kTruncated : ParseStatus::kInvalid;
        }
        out.method = m->method;
        out.method_text.assign(m->name);
        const std::string_view rest = raw.substr(m->name.size() + 1);  // raw starts with the method and a space
        const size_t sp = rest.rfind(' ');
        if (eol == std::string_view::npos) {
            // Start line still arriving: keep the target seen so far.
            out.path.assign(rest.substr(0, rest.find(' ')));
            return ParseStatus::kTruncated;
        }
        if (sp == std::string_view::npos || sp == 0 || !parse_version(rest.substr(sp + 1), out.version_minor)) {
            return ParseStatus::kInvalid;
        }
        out.path.assign(rest.substr(0, sp));
    }
    if (eol == std::string_view::npos) {
        return ParseStatus::kTruncated;
    }
    size_t pos = eol + 1;
    while (pos < n) {
        const size_t end = all.find('\n', pos);
        if (end == std::string_view::npos) {
            return ParseStatus::kTruncated;  // a header line still arriving: not used
        }
        std::string_view h = all.substr(pos, end - pos);
        pos = end + 1;
        if (!h.empty() && h.back() == '\r') {
            h.remove_suffix(1);
        }
        if (h.empty()) {
            out.headers_complete = true;
            out.head_len = static_cast<uint32_t>(pos);
            return ParseStatus::kOk;
        }
        const size_t colon = h.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            continue;  // obsolete folding or garbage: skipped, like most servers do
        }
        header(h.substr(0, colon), trim(h.substr(colon + 1)), out);
    }
    return ParseStatus::kTruncated;
}

}  // namespace weir::classify
