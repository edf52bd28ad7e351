// Who may see and run which capability, configured as in the mPlane reference implementation:
//
//   [Roles]
//   org.example.Clients.Alice = admin, guest        ; identity (certificate subject DN) = roles
//   [Authorizations]
//   weir-src- = guest, admin                        ; capability label substring = roles
//
// A capability is allowed when one of the identity's roles is listed for a key contained in its
// label. Without a policy file every authenticated identity may use every capability.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace weir::mplane {

class AccessPolicy {
public:
    AccessPolicy() = default;  // allows everything
    // Throws ProtocolError("file:line: ...").
    static AccessPolicy load_file(const std::string& path);
    static AccessPolicy load_text(std::string_view text, const std::string& name);

    bool restricted() const { return restricted_; }
    bool allows(const std::string& identity, const std::string& label) const;

private:
    bool restricted_ = false;
    std::map<std::string, std::set<std::string>> roles_;                   // identity -> roles
    std::vector<std::pair<std::string, std::set<std::string>>> grants_;    // label part -> roles
};

}  // namespace weir::mplane
