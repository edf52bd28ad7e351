// The mPlane message model and its JSON codec (the wire form of the reference implementation).
//
// Every kind is one struct: statements (capability, specification, result, receipt, redemption,
// interrupt, withdrawal, indirection) use the statement sections; an exception carries a token
// and a message; an envelope carries other messages. Parameters hold a constraint in a
// capability and a value elsewhere, always as canonical text (see registry.hpp). Parsing checks
// everything against the registry and throws ProtocolError naming the first problem.
#pragma once

#include <weir/mplane/registry.hpp>
#include <weir/mplane/scope.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::mplane {

enum class Kind {
    kCapability, kSpecification, kResult, kReceipt, kRedemption, kIndirection, kWithdrawal,
    kInterrupt, kException, kEnvelope
};
std::string_view to_string(Kind k);

inline constexpr std::string_view kContentType = "application/x-mplane+json";
inline constexpr int kVersion = 1;

// A capability's allowed values for one parameter: "*", "v", "a,b,c", "a ... b" or an address
// prefix "192.0.2.0/24".
class Constraint {
public:
    // Throws ProtocolError.
    static Constraint parse(Prim p, std::string_view text);
    bool allows(Prim p, const std::string& canonical_value) const;
    std::string str() const;
    // The only value allowed, when there is one (clients fill it in).
    std::optional<std::string> single_value() const;

private:
    enum class Type { kAll, kSet, kRange, kPrefix };
    Type type_ = Type::kAll;
    std::vector<std::string> values_;  // set: the values; range: low, high; prefix: network
    int prefix_len_ = 0;
};

struct Parameter {
    std::string name;
    std::string value;  // a constraint (capability) or a canonical value
};

struct Message {
    Kind kind = Kind::kCapability;
    std::string verb = "measure";  // an envelope: the kind of its contents ("message")
    int version = kVersion;
    std::string registry = std::string(kCoreRegistryUri);
    std::string label;
    std::string token;
    std::string link;
    std::string export_url;
    std::optional<When> when;
    std::vector<Parameter> parameters;
    std::vector<std::pair<std::string, nlohmann::json>> metadata;
    std::vector<std::string> results;
    std::vector<std::vector<std::string>> resultvalues;  // rows of canonical text
    std::string message;                                 // exceptions
    std::vector<Message> contents;                       // envelopes
    bool token_only = false;  // a redemption/interrupt/withdrawal that carried nothing but its token

    bool statement() const { return kind != Kind::kException && kind != Kind::kEnvelope; }
    const Parameter* parameter(std::string_view name) const;
};

Message make_exception(std::string token, std::string text);

// Throws ProtocolError: malformed JSON, unknown kind/section/element, wrong type, bad scope...
Message parse_message(std::string_view text, const Registry& reg);
Message from_json(const nlohmann::json& j, const Registry& reg);
// Naturals and reals are written as JSON numbers, every other value as a string.
nlohmann::json to_json(const Message& m, const Registry& reg);
std::string serialize(const Message& m, const Registry& reg);

}  // namespace weir::mplane
