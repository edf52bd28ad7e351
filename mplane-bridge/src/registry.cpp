#include <weir/mplane/registry.hpp>
#include <weir/mplane/scope.hpp>

#include <nlohmann/json.hpp>

#include <arpa/inet.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace weir::mplane {

std::string_view to_string(Prim p) {
    switch (p) {
        case Prim::kString: return "string";
        case Prim::kNatural: return "natural";
        case Prim::kReal: return "real";
        case Prim::kBoolean: return "boolean";
        case Prim::kTime: return "time";
        case Prim::kAddress: return "address";
        case Prim::kUrl: return "url";
    }
    return "?";
}

namespace {

Prim prim_from(const std::string& s, const std::string& where) {
    if (s == "string") return Prim::kString;
    if (s == "natural") return Prim::kNatural;
    if (s == "real") return Prim::kReal;
    if (s == "boolean" || s == "bool") return Prim::kBoolean;  // the RI spells it "boolean"
    if (s == "time") return Prim::kTime;
    if (s == "address") return Prim::kAddress;
    if (s == "url") return Prim::kUrl;
    throw ProtocolError(where + ": unknown primitive '" + s +
                        "'; expected string, natural, real, boolean, time, address or url");
}

}  // namespace

void Registry::load_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw ProtocolError(path + ": cannot open registry file");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    load_text(ss.str(), path);
}

void Registry::load_text(std::string_view text, const std::string& name) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw ProtocolError(name + ": registry is not valid JSON: " + e.what());
    }
    const auto str = [&](const char* key) -> std::string {
        if (!j.is_object() || !j.contains(key) || !j[key].is_string()) {
            throw ProtocolError(name + ": registry needs a string \"" + key + "\"");
        }
        return j[key].get<std::string>();
    };
    if (str("registry-format") != "mplane-0") {
        throw ProtocolError(name + ": registry-format must be \"mplane-0\"");
    }
    const std::string uri = str("registry-uri");
    File f;
    if (j.contains("includes")) {
        if (!j["includes"].is_array()) {
            throw ProtocolError(name + ": \"includes\" must be a list of registry URIs");
        }
        for (const auto& inc : j["includes"]) {
            if (!inc.is_string() || !knows_uri(inc.get<std::string>())) {
                throw ProtocolError(name + ": includes " + inc.dump() +
                                    ", which is not loaded (load the registries it includes first)");
            }
            f.includes.push_back(inc.get<std::string>());
        }
    }
    if (!j.contains("elements") || !j["elements"].is_array()) {
        throw ProtocolError(name + ": registry needs an \"elements\" list");
    }
    for (const auto& e : j["elements"]) {
        if (!e.is_object() || !e.contains("name") || !e["name"].is_string() || !e.contains("prim") ||
            !e["prim"].is_string()) {
            throw ProtocolError(name + ": element " + e.dump() + " needs a string name and prim");
        }
        Element el;
        el.name = e["name"].get<std::string>();
        const std::string where = name + ": element '" + el.name + "'";
        for (char c : el.name) {
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
                throw ProtocolError(where + ": names are lowercase letters, digits, '.', '_' and '-'");
            }
        }
        el.prim = prim_from(e["prim"].get<std::string>(), where);
        if (e.contains("desc") && e["desc"].is_string()) {
            el.desc = e["desc"].get<std::string>();
        }
        if (!f.elements.emplace(el.name, el).second) {
            throw ProtocolError(where + " is defined twice");
        }
    }
    files_[uri] = std::move(f);
}

bool Registry::knows_uri(std::string_view uri) const { return files_.find(uri) != files_.end(); }

const Element* Registry::find_in(const File& f, std::string_view name, int depth) const {
    if (auto it = f.elements.find(name); it != f.elements.end()) {
        return &it->second;
    }
    if (depth > 16) {
        return nullptr;  // includes in a circle
    }
    for (auto inc = f.includes.rbegin(); inc != f.includes.rend(); ++inc) {  // later wins
        if (auto it = files_.find(*inc); it != files_.end()) {
            if (const Element* e = find_in(it->second, name, depth + 1)) {
                return e;
            }
        }
    }
    return nullptr;
}

const Element* Registry::find(std::string_view uri, std::string_view name) const {
    auto it = files_.find(uri);
    return it == files_.end() ? nullptr : find_in(it->second, name, 0);
}

const Element& Registry::element(std::string_view uri, std::string_view name) const {
    if (!knows_uri(uri)) {
        throw ProtocolError("unknown registry '" + std::string(uri) + "'");
    }
    if (const Element* e = find(uri, name)) {
        return *e;
    }
    throw ProtocolError("unknown element '" + std::string(name) + "' in registry " + std::string(uri));
}

std::string canonical_value(Prim p, std::string_view text) {
    const auto bad = [&](const char* expected) -> ProtocolError {
        return ProtocolError("'" + std::string(text) + "' is not " + expected);
    };
    switch (p) {
        case Prim::kString:
            return std::string(text);
        case Prim::kNatural: {
            uint64_t v = 0;
            const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
            if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
                throw bad("a natural number");
            }
            return std::to_string(v);
        }
        case Prim::kReal: {
            const std::string s(text);
            char* end = nullptr;
            errno = 0;
            const double v = std::strtod(s.c_str(), &end);
            if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v) ||
                s.find_first_of(" \t\n") != std::string::npos) {
                throw bad("a real number");
            }
            std::ostringstream os;
            os.precision(17);
            os << v;
            return os.str();
        }
        case Prim::kBoolean:
            if (text == "true" || text == "True") return "true";
            if (text == "false" || text == "False") return "false";
            throw bad("a boolean (true or false)");
        case Prim::kTime:
            return format_time(parse_time(text));
        case Prim::kAddress: {
            std::string addr(text);
            std::string suffix;
            int maxlen = 0;
            if (const auto slash = addr.find('/'); slash != std::string::npos) {
                suffix = addr.substr(slash + 1);
                addr.resize(slash);
            }
            unsigned char buf[16];
            char out[INET6_ADDRSTRLEN];
            int af = 0;
            if (inet_pton(AF_INET, addr.c_str(), buf) == 1) {
                af = AF_INET;
                maxlen = 32;
            } else if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) {
                af = AF_INET6;
                maxlen = 128;
            } else {
                throw bad("an IPv4 or IPv6 address");
            }
            inet_ntop(af, buf, out, sizeof out);
            std::string result = out;
            if (text.find('/') != std::string_view::npos) {
                int len = -1;
                const auto [ptr, ec] = std::from_chars(suffix.data(), suffix.data() + suffix.size(), len);
                if (suffix.empty() || ec != std::errc() || ptr != suffix.data() + suffix.size() || len < 0 ||
                    len > maxlen) {
                    throw bad("an address with a valid prefix length");
                }
                result += '/';  // not "/" + to_string: GCC 12's -Wrestrict false positive
                result += std::to_string(len);
            }
            return result;
        }
        case Prim::kUrl: {
            const auto colon = text.find("://");
            if (colon == std::string_view::npos || colon == 0 ||
                text.find_first_of(" \t\r\n") != std::string_view::npos) {
                throw bad("a URL (scheme://...)");
            }
            return std::string(text);
        }
    }
    throw bad("a known primitive");
}

}  // namespace weir::mplane
