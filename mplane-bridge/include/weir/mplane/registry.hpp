// mPlane element registries: which element names a message may use, and their primitive types.
//
// A registry file is JSON: {"registry-format": "mplane-0", "registry-uri": URI,
// "registry-revision": N, "includes": [URI...], "elements": [{"name", "prim", "desc"}...]}.
// A registry includes others by URI; they must be loaded first. An element is known under a URI
// when that registry or one it includes (depth first, its own elements winning) defines it.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace weir::mplane {

// A message or a file that breaks the protocol; what() says what and where.
class ProtocolError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class Prim { kString, kNatural, kReal, kBoolean, kTime, kAddress, kUrl };
std::string_view to_string(Prim p);

struct Element {
    std::string name;
    Prim prim = Prim::kString;
    std::string desc;
};

inline constexpr std::string_view kCoreRegistryUri = "http://ict-mplane.eu/registry/core";

class Registry {
public:
    // Throws ProtocolError naming the file and the problem.
    void load_file(const std::string& path);
    void load_text(std::string_view json, const std::string& name);

    bool knows_uri(std::string_view uri) const;
    // nullptr when `name` is not an element of the registry `uri` (or of what it includes).
    const Element* find(std::string_view uri, std::string_view name) const;
    // Like find, but throws ProtocolError("unknown element 'x' in registry U").
    const Element& element(std::string_view uri, std::string_view name) const;

private:
    struct File {
        std::vector<std::string> includes;
        std::map<std::string, Element, std::less<>> elements;
    };
    const Element* find_in(const File& f, std::string_view name, int depth) const;
    std::map<std::string, File, std::less<>> files_;
};

// Values travel as text in their canonical form (numbers in decimal, booleans true/false, times
// "YYYY-MM-DD HH:MM:SS.ffffff" UTC, addresses as inet_ntop prints them).
// Checks `text` against the primitive and returns the canonical text; throws ProtocolError.
std::string canonical_value(Prim p, std::string_view text);

}  // namespace weir::mplane
