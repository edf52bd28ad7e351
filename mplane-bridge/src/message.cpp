#include <weir/mplane/message.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <set>

namespace weir::mplane {

using nlohmann::json;

std::string_view to_string(Kind k) {
    switch (k) {
        case Kind::kCapability: return "capability";
        case Kind::kSpecification: return "specification";
        case Kind::kResult: return "result";
        case Kind::kReceipt: return "receipt";
        case Kind::kRedemption: return "redemption";
        case Kind::kIndirection: return "indirection";
        case Kind::kWithdrawal: return "withdrawal";
        case Kind::kInterrupt: return "interrupt";
        case Kind::kException: return "exception";
        case Kind::kEnvelope: return "envelope";
    }
    return "?";
}

namespace {

constexpr Kind kAllKinds[] = {Kind::kCapability, Kind::kSpecification, Kind::kResult,     Kind::kReceipt,
                              Kind::kRedemption, Kind::kIndirection,   Kind::kWithdrawal, Kind::kInterrupt,
                              Kind::kException,  Kind::kEnvelope};

// --- constraint helpers --------------------------------------------------------------------------

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) {
        return {};
    }
    const auto e = s.find_last_not_of(" \t");
    return std::string(s.substr(b, e - b + 1));
}

// <0, 0, >0 like strcmp, for two canonical values of one primitive. Addresses of different
// families compare by family.
int compare(Prim p, const std::string& a, const std::string& b) {
    switch (p) {
        case Prim::kNatural: {
            const uint64_t x = std::stoull(a), y = std::stoull(b);
            return x < y ? -1 : (x > y ? 1 : 0);
        }
        case Prim::kReal: {
            const double x = std::stod(a), y = std::stod(b);
            return x < y ? -1 : (x > y ? 1 : 0);
        }
        case Prim::kTime: {
            const int64_t x = parse_time(a), y = parse_time(b);
            return x < y ? -1 : (x > y ? 1 : 0);
        }
        case Prim::kAddress: {
            unsigned char x[16] = {}, y[16] = {};
            const bool x6 = a.find(':') != std::string::npos, y6 = b.find(':') != std::string::npos;
            if (x6 != y6) {
                return x6 ? 1 : -1;
            }
            const int af = x6 ? AF_INET6 : AF_INET;
            inet_pton(af, a.substr(0, a.find('/')).c_str(), x);
            inet_pton(af, b.substr(0, b.find('/')).c_str(), y);
            return std::memcmp(x, y, x6 ? 16 : 4);
        }
        default:
            return a.compare(b);
    }
}

}  // namespace

Constraint Constraint::parse(Prim p, std::string_view text) {
    Constraint c;
    const std::string t = trim(text);
    if (t == "*") {
        return c;
    }
    try {
        if (const auto dots = t.find(" ... "); dots != std::string::npos) {
            c.type_ = Type::kRange;
            c.values_ = {canonical_value(p, trim(t.substr(0, dots))), canonical_value(p, trim(t.substr(dots + 5)))};
            if (compare(p, c.values_[0], c.values_[1]) > 0) {
                throw ProtocolError("the range ends below its start");
            }
            return c;
        }
        if (p == Prim::kAddress && t.find('/') != std::string::npos && t.find(',') == std::string::npos) {
            c.type_ = Type::kPrefix;
            const std::string net = canonical_value(p, t);
            const auto slash = net.find('/');
            c.prefix_len_ = std::stoi(net.substr(slash + 1));
            c.values_ = {net.substr(0, slash)};
            return c;
        }
        c.type_ = Type::kSet;
        std::size_t pos = 0;
        while (true) {
            const auto comma = t.find(',', pos);
            c.values_.push_back(canonical_value(p, trim(t.substr(pos, comma - pos))));
            if (comma == std::string::npos) {
                break;
            }
            pos = comma + 1;
        }
    } catch (const ProtocolError& e) {
        throw ProtocolError("bad constraint '" + t + "' for a " + std::string(to_string(p)) + ": " + e.what());
    }
    return c;
}

bool Constraint::allows(Prim p, const std::string& v) const {
    switch (type_) {
        case Type::kAll:
            return true;
        case Type::kSet:
            return std::find(values_.begin(), values_.end(), v) != values_.end();
        case Type::kRange:
            return compare(p, values_[0], v) <= 0 && compare(p, v, values_[1]) <= 0;
        case Type::kPrefix: {
            const bool v6 = v.find(':') != std::string::npos, n6 = values_[0].find(':') != std::string::npos;
            if (v6 != n6) {
                return false;
            }
            unsigned char a[16] = {}, n[16] = {};
            const int af = v6 ? AF_INET6 : AF_INET;
            const auto slash = v.find('/');
            if (inet_pton(af, v.substr(0, slash).c_str(), a) != 1 || inet_pton(af, values_[0].c_str(), n) != 1) {
                return false;
            }
            if (slash != std::string::npos && std::stoi(v.substr(slash + 1)) < prefix_len_) {
                return false;  // a wider network than the constraint
            }
            for (int bit = 0; bit < prefix_len_; ++bit) {
                const int byte = bit / 8, mask = 0x80 >> (bit % 8);
                if ((a[byte] & mask) != (n[byte] & mask)) {
                    return false;
                }
            }
            return true;
        }
    }
    return false;
}

std::string Constraint::str() const {
    switch (type_) {
        case Type::kAll:
            return "*";
        case Type::kRange:
            return values_[0] + " ... " + values_[1];
        case Type::kPrefix:
            return values_[0] + "/" + std::to_string(prefix_len_);
        case Type::kSet: {
            std::string out;
            for (const auto& v : values_) {
                out += (out.empty() ? "" : ",") + v;
            }
            return out;
        }
    }
    return "*";
}

std::optional<std::string> Constraint::single_value() const {
    if (type_ == Type::kSet && values_.size() == 1) {
        return values_[0];
    }
    return std::nullopt;
}

const Parameter* Message::parameter(std::string_view name) const {
    for (const auto& p : parameters) {
        if (p.name == name) {
            return &p;
        }
    }
    return nullptr;
}

Message make_exception(std::string token, std::string text) {
    Message m;
    m.kind = Kind::kException;
    m.token = std::move(token);
    m.message = std::move(text);
    return m;
}

// --- parsing -------------------------------------------------------------------------------------

namespace {

std::string value_text(const json& v, const std::string& where) {
    if (v.is_string()) {
        return v.get<std::string>();
    }
    if (v.is_number_unsigned()) {
        return std::to_string(v.get<uint64_t>());
    }
    if (v.is_number_integer()) {
        return std::to_string(v.get<int64_t>());
    }
    if (v.is_number_float()) {
        return v.dump();
    }
    if (v.is_boolean()) {
        return v.get<bool>() ? "true" : "false";
    }
    throw ProtocolError(where + " must be a string or a number, not " + v.dump());
}

std::string string_of(const json& j, const char* key, const std::string& what) {
    const json& v = j.at(key);
    if (!v.is_string()) {
        throw ProtocolError(what + ": \"" + key + "\" must be a string, not " + v.dump());
    }
    return v.get<std::string>();
}

Message parse_object(const json& j, const Registry& reg, int depth) {
    if (!j.is_object()) {
        throw ProtocolError("a message is a JSON object, not " + std::string(j.type_name()));
    }
    Message m;
    int kinds = 0;
    for (Kind k : kAllKinds) {
        if (j.contains(std::string(to_string(k)))) {
            m.kind = k;
            ++kinds;
        }
    }
    if (kinds != 1) {
        throw ProtocolError(kinds == 0 ? "no message kind: expected one of capability, specification, result, "
                                         "receipt, redemption, indirection, withdrawal, interrupt, exception, "
                                         "envelope"
                                       : "more than one message kind in one object");
    }
    const std::string kind(to_string(m.kind));
    const json& head = j.at(kind);

    if (m.kind == Kind::kException) {
        for (const auto& [key, value] : j.items()) {
            if (key != "exception" && key != "message" && key != "version") {
                throw ProtocolError("exception: unexpected section \"" + key + "\"");
            }
        }
        m.token = head.is_null() ? "" : value_text(head, "exception: the token");
        if (!j.contains("message")) {
            throw ProtocolError("exception: no \"message\"");
        }
        m.message = string_of(j, "message", kind);
        return m;
    }

    std::set<std::string> allowed = {kind, "version", "token", "label", "when"};
    if (m.kind == Kind::kEnvelope) {
        allowed.insert("contents");
    } else {
        allowed.insert({"registry", "parameters", "metadata", "results", "link", "export"});
        if (m.kind == Kind::kResult) {
            allowed.insert("resultvalues");
        }
    }
    for (const auto& [key, value] : j.items()) {
        if (allowed.count(key) == 0) {
            throw ProtocolError(kind + ": unexpected section \"" + key + "\"");
        }
    }
    if (!head.is_string()) {
        throw ProtocolError(kind + ": the verb must be a string, not " + head.dump());
    }
    m.verb = head.get<std::string>();
    if (m.verb.empty()) {
        throw ProtocolError(kind + ": empty verb");
    }
    const std::pair<const char*, std::string*> texts[] = {
        {"token", &m.token}, {"label", &m.label}, {"link", &m.link}, {"export", &m.export_url}};
    for (const auto& [key, field] : texts) {
        if (j.contains(key)) {
            *field = string_of(j, key, kind);
        }
    }
    // Redemptions, interrupts and withdrawals may name their statement by token alone.
    const bool may_be_token_only =
        m.kind == Kind::kRedemption || m.kind == Kind::kInterrupt || m.kind == Kind::kWithdrawal;
    m.token_only = may_be_token_only && !m.token.empty() && !j.contains("when") && !j.contains("results") &&
                   !j.contains("parameters");
    if (!j.contains("version")) {
        if (!m.token_only) {
            throw ProtocolError(kind + ": no \"version\"");
        }
    } else {
        const json& v = j.at("version");
        if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kVersion) {
            throw ProtocolError(kind + ": version " + v.dump() + " is not supported (this component speaks 0 and 1)");
        }
        m.version = static_cast<int>(v.get<int64_t>());
    }
    if (j.contains("when")) {
        m.when = When::parse(string_of(j, "when", kind));
    } else if (!m.token_only && m.kind != Kind::kEnvelope && m.kind != Kind::kWithdrawal) {
        throw ProtocolError(kind + ": no \"when\"");
    }

    if (m.kind == Kind::kEnvelope) {
        if (!j.contains("contents") || !j["contents"].is_array()) {
            throw ProtocolError("envelope: \"contents\" must be a list of messages");
        }
        if (depth > 4) {
            throw ProtocolError("envelope: nested too deep");
        }
        for (const auto& c : j["contents"]) {
            m.contents.push_back(parse_object(c, reg, depth + 1));
        }
        return m;
    }

    if (j.contains("registry")) {
        m.registry = string_of(j, "registry", kind);
    }
    if (!reg.knows_uri(m.registry)) {
        throw ProtocolError(kind + ": unknown registry '" + m.registry + "'");
    }
    if (j.contains("parameters")) {
        const json& ps = j["parameters"];
        if (!ps.is_object()) {
            throw ProtocolError(kind + ": \"parameters\" must be an object of name: value");
        }
        for (const auto& [name, value] : ps.items()) {
            const Element& e = reg.element(m.registry, name);
            const std::string text = value_text(value, kind + ": parameter '" + name + "'");
            try {
                m.parameters.push_back({name, m.kind == Kind::kCapability || m.kind == Kind::kWithdrawal ||
                                                      m.kind == Kind::kIndirection
                                                  ? Constraint::parse(e.prim, text).str()
                                                  : canonical_value(e.prim, text)});
            } catch (const ProtocolError& err) {
                throw ProtocolError(kind + ": parameter '" + name + "': " + err.what());
            }
        }
    }
    if (j.contains("metadata")) {
        const json& md = j["metadata"];
        if (!md.is_object()) {
            throw ProtocolError(kind + ": \"metadata\" must be an object of name: value");
        }
        for (const auto& [name, value] : md.items()) {
            const Element& e = reg.element(m.registry, name);
            try {
                (void)canonical_value(e.prim, value_text(value, kind + ": metadata '" + name + "'"));
            } catch (const ProtocolError& err) {
                throw ProtocolError(kind + ": metadata '" + name + "': " + err.what());
            }
            m.metadata.emplace_back(name, value);
        }
    }
    std::vector<const Element*> columns;
    if (j.contains("results")) {
        const json& rs = j["results"];
        if (!rs.is_array()) {
            throw ProtocolError(kind + ": \"results\" must be a list of element names");
        }
        for (const auto& r : rs) {
            if (!r.is_string()) {
                throw ProtocolError(kind + ": result column " + r.dump() + " is not a name");
            }
            columns.push_back(&reg.element(m.registry, r.get<std::string>()));
            m.results.push_back(r.get<std::string>());
        }
    } else if (m.kind == Kind::kSpecification || m.kind == Kind::kResult) {
        throw ProtocolError(kind + ": no \"results\"");
    }
    if (m.kind == Kind::kResult) {
        if (!j.contains("resultvalues") || !j["resultvalues"].is_array()) {
            throw ProtocolError("result: \"resultvalues\" must be a list of rows");
        }
        std::size_t row_no = 0;
        for (const auto& row : j["resultvalues"]) {
            if (!row.is_array() || row.size() != columns.size()) {
                throw ProtocolError("result: row " + std::to_string(row_no) + " has " +
                                    (row.is_array() ? std::to_string(row.size()) : std::string("no")) +
                                    " values for " + std::to_string(columns.size()) + " result columns");
            }
            std::vector<std::string> out;
            for (std::size_t c = 0; c < columns.size(); ++c) {
                const std::string where = "result: row " + std::to_string(row_no) + ", column '" + columns[c]->name + "'";
                try {
                    out.push_back(canonical_value(columns[c]->prim, value_text(row[c], where)));
                } catch (const ProtocolError& err) {
                    const std::string what = err.what();
                    throw ProtocolError(what.rfind(where, 0) == 0 ? what : where + ": " + what);
                }
            }
            m.resultvalues.push_back(std::move(out));
            ++row_no;
        }
    }
    return m;
}

json wire_value(Prim p, const std::string& v) {
    if (p == Prim::kNatural) {
        return std::stoull(v);
    }
    if (p == Prim::kReal) {
        return std::stod(v);
    }
    return v;
}

}  // namespace

Message from_json(const json& j, const Registry& reg) { return parse_object(j, reg, 0); }

Message parse_message(std::string_view text, const Registry& reg) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        throw ProtocolError(std::string("malformed JSON: ") + e.what());
    }
    return from_json(j, reg);
}

json to_json(const Message& m, const Registry& reg) {
    json j = json::object();
    const std::string kind(to_string(m.kind));
    if (m.kind == Kind::kException) {
        j[kind] = m.token;
        j["message"] = m.message;
        return j;
    }
    j[kind] = m.verb;
    if (!m.token.empty()) {
        j["token"] = m.token;
    }
    if (m.token_only) {
        return j;
    }
    j["version"] = m.version;
    if (!m.label.empty()) {
        j["label"] = m.label;
    }
    if (m.when) {
        j["when"] = m.when->str();
    }
    if (m.kind == Kind::kEnvelope) {
        j["contents"] = json::array();
        for (const auto& c : m.contents) {
            j["contents"].push_back(to_json(c, reg));
        }
        return j;
    }
    j["registry"] = m.registry;
    if (!m.link.empty()) {
        j["link"] = m.link;
    }
    if (!m.export_url.empty()) {
        j["export"] = m.export_url;
    }
    const bool constraints =
        m.kind == Kind::kCapability || m.kind == Kind::kWithdrawal || m.kind == Kind::kIndirection;
    if (!m.parameters.empty()) {
        json ps = json::object();
        for (const auto& p : m.parameters) {
            const Element* e = reg.find(m.registry, p.name);
            ps[p.name] = constraints || e == nullptr ? json(p.value) : wire_value(e->prim, p.value);
        }
        j["parameters"] = std::move(ps);
    }
    if (!m.metadata.empty()) {
        json md = json::object();
        for (const auto& [k, v] : m.metadata) {
            md[k] = v;
        }
        j["metadata"] = std::move(md);
    }
    if (!m.results.empty() || m.kind == Kind::kSpecification || m.kind == Kind::kResult) {
        j["results"] = m.results;
    }
    if (m.kind == Kind::kResult) {
        json rows = json::array();
        for (const auto& row : m.resultvalues) {
            json r = json::array();
            for (std::size_t c = 0; c < row.size(); ++c) {
                const Element* e = c < m.results.size() ? reg.find(m.registry, m.results[c]) : nullptr;
                r.push_back(e == nullptr ? json(row[c]) : wire_value(e->prim, row[c]));
            }
            rows.push_back(std::move(r));
        }
        j["resultvalues"] = std::move(rows);
    }
    return j;
}

std::string serialize(const Message& m, const Registry& reg) {
    return to_json(m, reg).dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace weir::mplane
