#include <weir/mplane/access.hpp>
#include <weir/mplane/registry.hpp>

#include <fstream>
#include <sstream>

namespace weir::mplane {

namespace {

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) {
        return {};
    }
    return std::string(s.substr(b, s.find_last_not_of(" \t\r") - b + 1));
}

std::set<std::string> split_roles(std::string_view s) {
    std::set<std::string> out;
    std::size_t pos = 0;
    while (pos <= s.size()) {
        const auto comma = s.find(',', pos);
        std::string r = trim(s.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
        if (!r.empty()) {
            out.insert(std::move(r));
        }
        if (comma == std::string_view::npos) {
            break;
        }
        pos = comma + 1;
    }
    return out;
}

}  // namespace

AccessPolicy AccessPolicy::load_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw ProtocolError(path + ": cannot open access policy file");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return load_text(ss.str(), path);
}

AccessPolicy AccessPolicy::load_text(std::string_view text, const std::string& name) {
    AccessPolicy p;
    p.restricted_ = true;
    std::string section;
    int line_no = 0;
    std::istringstream in{std::string(text)};
    for (std::string raw; std::getline(in, raw);) {
        ++line_no;
        const std::string line = trim(raw);
        if (line.empty() || line[0] == '#' || line[0] == ';') {
            continue;
        }
        const std::string where = name + ":" + std::to_string(line_no) + ": ";
        if (line.front() == '[') {
            if (line.back() != ']') {
                throw ProtocolError(where + "unterminated section header");
            }
            section = line.substr(1, line.size() - 2);
            if (section != "Roles" && section != "Authorizations") {
                throw ProtocolError(where + "unknown section [" + section + "]; expected [Roles] or [Authorizations]");
            }
            continue;
        }
        const auto eq = line.find('=');
        if (eq == std::string::npos || trim(line.substr(0, eq)).empty()) {
            throw ProtocolError(where + "expected 'name = role, role'");
        }
        const std::string key = trim(line.substr(0, eq));
        auto roles = split_roles(line.substr(eq + 1));
        if (section == "Roles") {
            p.roles_[key].insert(roles.begin(), roles.end());
        } else if (section == "Authorizations") {
            p.grants_.emplace_back(key, std::move(roles));
        } else {
            throw ProtocolError(where + "entry outside [Roles] or [Authorizations]");
        }
    }
    return p;
}

bool AccessPolicy::allows(const std::string& identity, const std::string& label) const {
    if (!restricted_) {
        return true;
    }
    const auto who = roles_.find(identity);
    if (who == roles_.end()) {
        return false;
    }
    for (const auto& [part, roles] : grants_) {
        if (label.find(part) == std::string::npos) {
            continue;
        }
        for (const auto& r : roles) {
            if (who->second.count(r) != 0) {
                return true;
            }
        }
    }
    return false;
}

}  // namespace weir::mplane
