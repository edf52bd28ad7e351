// mPlane message model and codec: every message kind round-trips against hand-written examples
// in the reference implementation's wire form (docs/mplane.md, design notes mplane.md), and
// every malformed case is refused with a message naming the problem.
#include <weir/mplane/access.hpp>
#include <weir/mplane/message.hpp>
#include <weir/mplane/registry.hpp>
#include <weir/mplane/scope.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace weir::mplane {
namespace {

using nlohmann::json;

const Registry& registry() {
    static const Registry reg = [] {
        Registry r;
        r.load_file(std::string(WEIR_MPLANE_REGISTRY_DIR) + "/core.json");
        r.load_file(std::string(WEIR_MPLANE_REGISTRY_DIR) + "/weir.json");
        return r;
    }();
    return reg;
}

// Parses `in`, checks its serialisation equals `expected` and that parsing that again gives the
// same serialisation.
void round_trip(const std::string& in, const json& expected) {
    const Message m = parse_message(in, registry());
    const json out = to_json(m, registry());
    EXPECT_EQ(out, expected) << out.dump(2);
    EXPECT_EQ(to_json(from_json(out, registry()), registry()), out);
}

// The message ProtocolError carries for `in`.
std::string refusal(const std::string& in) {
    try {
        (void)parse_message(in, registry());
    } catch (const ProtocolError& e) {
        return e.what();
    }
    return "(accepted)";
}

const char* kPingResults = R"(["delay.twoway.icmp.us.min", "delay.twoway.icmp.us.mean",
                               "delay.twoway.icmp.us.max", "delay.twoway.icmp.count"])";

TEST(MplaneCodec, CapabilityAsTheRiSendsIt) {
    const std::string cap = std::string(R"({"capability": "measure", "label": "ping-average-ip4",
        "link": "http://127.0.0.1:18890/",
        "parameters": {"destination.ip4": "*", "source.ip4": "127.0.0.1"},
        "registry": "http://ict-mplane.eu/registry/core", "results": )") + kPingResults + R"(,
        "token": "40c5320f8ee7517efcea2a857b0f64f9", "version": 1, "when": "now ... future / 1s"})";
    round_trip(cap, json::parse(cap));
    const Message m = parse_message(cap, registry());
    EXPECT_EQ(m.kind, Kind::kCapability);
    EXPECT_EQ(m.verb, "measure");
    EXPECT_EQ(m.when->period_ns(), 1'000'000'000);
    EXPECT_EQ(Constraint::parse(Prim::kAddress, m.parameter("source.ip4")->value).single_value(), "127.0.0.1");
}

TEST(MplaneCodec, SpecificationReceiptRedemptionResult) {
    const std::string sections = std::string(R"("label": "interop-1",
        "parameters": {"destination.ip4": "127.0.0.1", "source.ip4": "127.0.0.1"},
        "registry": "http://ict-mplane.eu/registry/core", "results": )") + kPingResults + R"(,
        "token": "4b3d6e6e1580f7ec3bc3e3e76720d759", "version": 1, "when": "now + 8s / 1s")";
    for (const char* kind : {"specification", "receipt", "redemption"}) {
        const std::string text = std::string("{\"") + kind + "\": \"measure\", " + sections + "}";
        round_trip(text, json::parse(text));
    }
    EXPECT_EQ(parse_message("{\"receipt\": \"measure\", " + sections + "}", registry()).kind, Kind::kReceipt);

    // The RI writes every value as a string; naturals go back out as numbers (the RI parses both).
    const std::string result = std::string(R"({"result": "measure", "label": "interop-1",
        "parameters": {"destination.ip4": "127.0.0.1", "source.ip4": "127.0.0.1"},
        "registry": "http://ict-mplane.eu/registry/core", "results": )") + kPingResults + R"(,
        "resultvalues": [["34", "47", "72", "8"]],
        "token": "a32f4e093281ecb179babcf55adc3fc5", "version": 1,
        "when": "2026-11-28 06:53:58.436228 ... 2026-11-28 06:54:05.605456"})";
    json expected = json::parse(result);
    expected["resultvalues"] = json::parse("[[34, 47, 72, 8]]");
    round_trip(result, expected);
    const Message m = parse_message(result, registry());
    EXPECT_EQ(m.resultvalues.at(0).at(2), "72");
    EXPECT_EQ(m.when->resolve(0).start, parse_time("2026-11-28 06:53:58.436228"));
}

TEST(MplaneCodec, MultiRowResultWithTimes) {
    const std::string result = R"({"result": "measure", "label": "ping-detail-ip4", "version": 1,
        "registry": "http://ict-mplane.eu/registry/core",
        "parameters": {"destination.ip4": "127.0.0.1"},
        "results": ["time", "delay.twoway.icmp.us"],
        "resultvalues": [["2026-11-28 06:54:43.510877", "29"], ["2026-11-28 06:54:44.521040", 37]],
        "when": "2026-11-28 06:54:43.510877 ... 2026-11-28 06:54:44.521040"})";
    json expected = json::parse(result);
    expected["resultvalues"] = json::parse(R"([["2026-11-28 06:54:43.510877", 29], ["2026-11-28 06:54:44.521040", 37]])");
    round_trip(result, expected);
}

TEST(MplaneCodec, TokenOnlyRedemptionAndInterrupt) {
    for (const char* kind : {"redemption", "interrupt"}) {
        const std::string text = std::string("{\"") + kind + "\": \"measure\", \"token\": \"4b3d6e6e\"}";
        round_trip(text, json::parse(text));
        const Message m = parse_message(text, registry());
        EXPECT_TRUE(m.token_only);
        EXPECT_EQ(m.token, "4b3d6e6e");
    }
}

TEST(MplaneCodec, InterruptWithdrawalIndirection) {
    const std::string interrupt = R"({"interrupt": "measure", "version": 1, "label": "interop-1",
        "registry": "http://ict-mplane.eu/registry/core", "parameters": {"destination.ip4": "127.0.0.1"},
        "results": ["delay.twoway.icmp.us"], "token": "abc", "when": "now + 8s / 1s"})";
    round_trip(interrupt, json::parse(interrupt));
    const std::string withdrawal = R"({"withdrawal": "measure", "version": 1, "label": "ping-average-ip4",
        "registry": "http://ict-mplane.eu/registry/core", "parameters": {"destination.ip4": "*"},
        "results": ["delay.twoway.icmp.us"], "token": "40c5", "when": "now ... future / 1s"})";
    round_trip(withdrawal, json::parse(withdrawal));
    const std::string indirection = R"({"indirection": "measure", "version": 1, "label": "ping-average-ip4",
        "registry": "http://ict-mplane.eu/registry/core", "parameters": {"destination.ip4": "10.0.0.0/8"},
        "results": ["delay.twoway.icmp.us"], "link": "https://192.0.2.7:8888/", "when": "now ... future"})";
    round_trip(indirection, json::parse(indirection));
    EXPECT_EQ(parse_message(indirection, registry()).link, "https://192.0.2.7:8888/");
}

TEST(MplaneCodec, ExceptionAndEnvelope) {
    const std::string exc = R"({"exception": "7bb65f15", "message": "list index out of range"})";
    round_trip(exc, json::parse(exc));
    const std::string env = R"({"envelope": "message", "version": 1, "contents": [
        {"capability": "measure", "version": 1, "label": "weir-counter-pktcnt", "when": "past ... future",
         "registry": "http://weir.invalid/mplane/registry/weir",
         "parameters": {"weir.block": "counter", "weir.variable": "pktcnt"},
         "metadata": {"weir.composition": "mplane"}, "results": ["start", "end", "weir.count"]},
        {"capability": "measure", "version": 1, "label": "callback", "when": "now ... future",
         "registry": "http://ict-mplane.eu/registry/core"}]})";
    round_trip(env, json::parse(env));
    const Message m = parse_message(env, registry());
    ASSERT_EQ(m.contents.size(), 2u);
    EXPECT_EQ(m.contents[0].metadata.at(0).first, "weir.composition");
    EXPECT_EQ(m.contents[1].label, "callback");
}

TEST(MplaneCodec, ValuesAcceptStringsAndNumbersAndCanonicalise) {
    const Message m = parse_message(R"({"specification": "measure", "version": 0, "when": "now",
        "registry": "http://ict-mplane.eu/registry/core",
        "parameters": {"source.port": 443, "destination.ip6": "2001:DB8:0:0::1", "cpuload": "0.50",
                       "connectivity.ip": "True", "start": "2014-08-25 14:51:02.623"},
        "results": []})", registry());
    EXPECT_EQ(m.version, 0);
    EXPECT_EQ(m.parameter("source.port")->value, "443");
    EXPECT_EQ(m.parameter("destination.ip6")->value, "2001:db8::1");
    EXPECT_EQ(m.parameter("cpuload")->value, "0.5");
    EXPECT_EQ(m.parameter("connectivity.ip")->value, "true");
    EXPECT_EQ(m.parameter("start")->value, "2014-08-25 14:51:02.623000");
    const json out = to_json(m, registry());
    EXPECT_EQ(out["parameters"]["source.port"], 443);
    EXPECT_EQ(out["parameters"]["cpuload"], 0.5);
    EXPECT_EQ(out["parameters"]["connectivity.ip"], "true");
}

TEST(MplaneCodec, MalformedMessagesAreRefusedByName) {
    const std::string reg = R"("registry": "http://ict-mplane.eu/registry/core", )";
    const auto spec = [&](const std::string& body) {
        return R"({"specification": "measure", "version": 1, )" + reg + body + "}";
    };
    const struct {
        std::string text;
        std::string expected;  // part of the message
    } cases[] = {
        {"{\"specification\": ", "malformed JSON"},
        {"[1, 2]", "a message is a JSON object"},
        {R"({"label": "x"})", "no message kind"},
        {R"({"capability": "measure", "specification": "measure"})", "more than one message kind"},
        {spec(R"("when": "now", "results": [], "colour": "red")"), "unexpected section \"colour\""},
        {R"({"specification": "measure", "version": 2, "when": "now", "results": []})", "version 2 is not supported"},
        {R"({"specification": "measure", "when": "now", "results": []})", "no \"version\""},
        {spec(R"("results": [])"), "no \"when\""},
        {spec(R"("when": "tomorrow", "results": [])"), "bad time 'tomorrow'"},
        {spec(R"("when": "now + 5 minutes", "results": [])"), "bad duration '5 minutes'"},
        {spec(R"("when": "now / 10s", "results": [])"), "a period needs a range"},
        {spec(R"("when": "future ... now", "results": [])"), "cannot start in the future"},
        {spec(R"("when": "repeat now ... future cron 0 0 0 * * *", "results": [])"), "cron repetitions are not supported"},
        {spec(R"("when": "repeat now + 1h { now + 5m }", "results": [])"), "a repetition needs a range and an interval"},
        {spec(R"("when": "repeat now + 1h / 1m { 2026-01-01 00:00:00 + 5s }", "results": [])"), "relative to now"},
        {spec(R"("when": "repeat now + 1h / 1m { now + 5m }", "results": [])"), "must end before the next starts"},
        {spec(R"("when": "now", "results": ["weir.count"])"), "unknown element 'weir.count' in registry http://ict-mplane.eu/registry/core"},
        {spec(R"("when": "now", "results": ["no.such.element"])"), "unknown element 'no.such.element'"},
        {spec(R"("when": "now", "results": [], "parameters": {"bogus": "1"})"), "unknown element 'bogus'"},
        {spec(R"("when": "now", "results": [], "parameters": {"source.port": "http"})"), "parameter 'source.port': 'http' is not a natural number"},
        {spec(R"("when": "now", "results": [], "parameters": {"source.port": -1})"), "'-1' is not a natural number"},
        {spec(R"("when": "now", "results": [], "parameters": {"source.ip4": "300.1.1.1"})"), "is not an IPv4 or IPv6 address"},
        {spec(R"("when": "now", "results": [], "parameters": {"source.port": [1]})"), "must be a string or a number"},
        {spec(R"("when": "now", "results": [], "parameters": ["source.port"])"), "\"parameters\" must be an object"},
        {spec(R"("when": "now", "results": "time")"), "\"results\" must be a list"},
        {spec(R"("when": "now")"), "no \"results\""},
        {R"({"specification": "measure", "version": 1, "registry": "http://example.com/r", "when": "now", "results": []})", "unknown registry 'http://example.com/r'"},
        {R"({"result": "measure", "version": 1, "when": "now", "results": ["time"]})", "\"resultvalues\" must be a list"},
        {R"({"result": "measure", "version": 1, "when": "now", "results": ["time", "packets.ip"], "resultvalues": [["2026-01-01 00:00:00"]]})", "row 0 has 1 values for 2 result columns"},
        {R"({"result": "measure", "version": 1, "when": "now", "results": ["packets.ip"], "resultvalues": [["1.5"]]})", "row 0, column 'packets.ip': '1.5' is not a natural number"},
        {R"({"capability": "measure", "version": 1, "when": "now", "parameters": {"source.port": "9 ... 1"}})", "the range ends below its start"},
        {R"({"redemption": "measure"})", "no \"version\""},
        {R"({"exception": "t"})", "exception: no \"message\""},
        {R"({"envelope": "message", "version": 1})", "\"contents\" must be a list"},
        {R"({"envelope": "message", "version": 1, "contents": [{"capability": 7}]})", "the verb must be a string"},
        {R"({"specification": "", "version": 1, "when": "now", "results": []})", "empty verb"},
    };
    for (const auto& c : cases) {
        const std::string got = refusal(c.text);
        EXPECT_NE(got.find(c.expected), std::string::npos) << "input: " << c.text << "\ngot: " << got;
    }
}

TEST(MplaneScope, ParsesAndPrintsEveryForm) {
    for (const char* text : {"now", "2014-08-25 14:51:02.000000", "now + 30m", "now + 30m / 10s", "past ... now",
                             "now ... future", "now ... future / 1s", "past ... future",
                             "2014-08-25 14:51:02.000000 ... 2014-08-25 15:51:02.000000",
                             "2014-08-25 14:51:02.000000 + 1d2h3m4s", "2014-08-25 14:51:02.000000 ... future"}) {
        EXPECT_EQ(When::parse(text).str(), text);
    }
    EXPECT_EQ(When::parse("now ... inf").str(), "now ... future");
    EXPECT_EQ(When::parse("2014-08-25 14:51").str(), "2014-08-25 14:51:00.000000");
    EXPECT_EQ(format_duration(parse_duration("7m30s")), "7m30s");
    EXPECT_EQ(parse_duration("1d"), 86'400'000'000'000);
    EXPECT_THROW(parse_duration("30s1m"), ProtocolError);  // units in order
    EXPECT_THROW(parse_duration("30"), ProtocolError);
    EXPECT_THROW(parse_time("2014-02-30"), ProtocolError);

    const int64_t now = parse_time("2026-01-01 12:00:00");
    const auto span = When::parse("now + 30m / 10s").resolve(now);
    EXPECT_EQ(span.start, now);
    EXPECT_EQ(span.end, now + 1'800'000'000'000);
    EXPECT_EQ(When::parse("past ... now").resolve(now).start, kPast);
    EXPECT_EQ(When::parse("now ... future").resolve(now).end, kFuture);
}

// Repeated scopes, in the RI's own examples (mplane/model.py): each run starts on the interval's
// grid and has the inner scope.
TEST(MplaneScope, RepeatedScopes) {
    for (const char* text : {"repeat now + 30m / 1m { now + 5s / 1s }", "repeat now + 30m / 15s",
                             "repeat now ... future / 1h { now + 5m }"}) {
        EXPECT_EQ(When::parse(text).str(), text);
        EXPECT_TRUE(When::parse(text).repeated());
    }
    EXPECT_EQ(When::parse("repeat now + 30m / 15s { now }").str(), "repeat now + 30m / 15s");
    // As the RI prints it (str(When) ends with INNER_WHEN_SEP_END, " } ").
    EXPECT_EQ(When::parse("repeat now + 30m / 1m { now + 5s / 1s } ").str(), "repeat now + 30m / 1m { now + 5s / 1s }");
    const int64_t now = parse_time("2009-02-20 13:30:00");
    const When w = When::parse("repeat now + 30m / 1m { now + 5s / 1s }");
    EXPECT_EQ(w.period_ns(), 60'000'000'000);
    EXPECT_EQ(w.resolve(now).end, parse_time("2009-02-20 14:00:00"));
    const When second = w.run_at(now + 60'000'000'000);
    EXPECT_EQ(second.str(), "2009-02-20 13:31:00.000000 ... 2009-02-20 13:31:05.000000 / 1s");
    EXPECT_TRUE(When::parse("repeat now + 1m / 10s").run_at(now).singleton());
    // Against capabilities: each run's period is what must suit a periodic capability.
    EXPECT_EQ(w.check_follows(When::parse("now ... future / 1s"), now), "");
    EXPECT_NE(w.check_follows(When::parse("now ... future"), now).find("is not periodic"), std::string::npos);
    EXPECT_EQ(When::parse("repeat now + 1m / 10s").check_follows(When::parse("now ... future"), now), "");
}

TEST(MplaneScope, SpecificationsFollowCapabilities) {
    const int64_t now = parse_time("2026-01-01 12:00:00");
    const When periodic = When::parse("now ... future / 1s");
    const When single = When::parse("past ... future");
    EXPECT_EQ(When::parse("now + 3s / 1s").check_follows(periodic, now), "");
    EXPECT_EQ(When::parse("now + 3s").check_follows(single, now), "");
    EXPECT_EQ(When::parse("past ... now").check_follows(single, now), "");
    EXPECT_NE(When::parse("now + 3s").check_follows(periodic, now).find("needs one of at least 1s"), std::string::npos);
    EXPECT_NE(When::parse("now + 3s / 1s").check_follows(single, now).find("is not periodic"), std::string::npos);
    EXPECT_NE(When::parse("now + 10m / 1s").check_follows(When::parse("now ... future / 10s"), now)
                  .find("shorter than the capability's minimum 10s"), std::string::npos);
    EXPECT_NE(When::parse("2025-01-01 00:00:00 ... 2025-01-02 00:00:00").check_follows(single, now).find("ended at"),
              std::string::npos);
    EXPECT_NE(When::parse("past ... now").check_follows(When::parse("now ... future"), now).find("is not within"),
              std::string::npos);
}

TEST(MplaneConstraint, SetsRangesPrefixes) {
    const Constraint set = Constraint::parse(Prim::kAddress, "192.0.2.19, 192.0.3.21");
    EXPECT_TRUE(set.allows(Prim::kAddress, "192.0.3.21"));
    EXPECT_FALSE(set.allows(Prim::kAddress, "192.0.3.22"));
    EXPECT_EQ(set.str(), "192.0.2.19,192.0.3.21");
    const Constraint range = Constraint::parse(Prim::kNatural, "32768 ... 65535");
    EXPECT_TRUE(range.allows(Prim::kNatural, "32768"));
    EXPECT_TRUE(range.allows(Prim::kNatural, "65535"));
    EXPECT_FALSE(range.allows(Prim::kNatural, "1024"));
    const Constraint prefix = Constraint::parse(Prim::kAddress, "192.0.2.0/24");
    EXPECT_TRUE(prefix.allows(Prim::kAddress, "192.0.2.200"));
    EXPECT_FALSE(prefix.allows(Prim::kAddress, "192.0.3.1"));
    EXPECT_FALSE(prefix.allows(Prim::kAddress, "2001:db8::1"));
    const Constraint v6 = Constraint::parse(Prim::kAddress, "2001:db8::/32");
    EXPECT_TRUE(v6.allows(Prim::kAddress, "2001:db8:ffff::1"));
    EXPECT_TRUE(Constraint::parse(Prim::kString, "*").allows(Prim::kString, "anything"));
    EXPECT_FALSE(Constraint::parse(Prim::kString, "*").single_value().has_value());
}

TEST(MplaneRegistry, WeirExtendsCoreAndRefusesTheUnknown) {
    const Registry& r = registry();
    EXPECT_EQ(r.element("http://weir.invalid/mplane/registry/weir", "packets.ip").prim, Prim::kNatural);
    EXPECT_EQ(r.element("http://weir.invalid/mplane/registry/weir", "weir.count").prim, Prim::kNatural);
    EXPECT_EQ(r.find(kCoreRegistryUri, "weir.count"), nullptr);
    EXPECT_EQ(r.element(kCoreRegistryUri, "connectivity.ip").prim, Prim::kBoolean);

    Registry fresh;
    try {
        fresh.load_text(R"({"registry-format": "mplane-0", "registry-uri": "u:x", "includes": ["u:missing"],
                            "elements": []})", "x.json");
        FAIL() << "accepted an include that is not loaded";
    } catch (const ProtocolError& e) {
        EXPECT_NE(std::string(e.what()).find("x.json: includes \"u:missing\", which is not loaded"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW(fresh.load_text(R"({"registry-format": "mplane-0", "registry-uri": "u:y",
                                     "elements": [{"name": "a", "prim": "integer"}]})", "y.json"),
                 ProtocolError);
    EXPECT_THROW(fresh.load_text(R"({"registry-format": "mplane-0", "registry-uri": "u:y",
                                     "elements": [{"name": "Upper", "prim": "natural"}]})", "y.json"),
                 ProtocolError);
    // Own elements win over included ones.
    fresh.load_text(R"({"registry-format": "mplane-0", "registry-uri": "u:a",
                        "elements": [{"name": "e", "prim": "natural"}]})", "a.json");
    fresh.load_text(R"({"registry-format": "mplane-0", "registry-uri": "u:b", "includes": ["u:a"],
                        "elements": [{"name": "e", "prim": "string"}]})", "b.json");
    EXPECT_EQ(fresh.element("u:b", "e").prim, Prim::kString);
    EXPECT_EQ(fresh.element("u:a", "e").prim, Prim::kNatural);
}

TEST(MplaneAccess, RolesAndAuthorisationsAsInTheRi) {
    const AccessPolicy p = AccessPolicy::load_text(R"(
# comment
[Roles]
org.weir.Clients.Client-1 = admin, guest
org.weir.Clients.Client-2 = guest
[Authorizations]
weir-counter- = guest
weir-stop = admin
)", "access.conf");
    EXPECT_TRUE(p.allows("org.weir.Clients.Client-1", "weir-stop"));
    EXPECT_FALSE(p.allows("org.weir.Clients.Client-2", "weir-stop"));
    EXPECT_TRUE(p.allows("org.weir.Clients.Client-2", "weir-counter-pktcnt-periodic"));
    EXPECT_FALSE(p.allows("org.weir.Clients.Client-2", "weir-meter-flows_created"));  // no key matches
    EXPECT_FALSE(p.allows("org.weir.Clients.Unknown", "weir-counter-pktcnt"));
    EXPECT_TRUE(AccessPolicy().allows("anyone", "weir-stop"));
    try {
        (void)AccessPolicy::load_text("[Roles]\nno equals sign\n", "a.conf");
        FAIL();
    } catch (const ProtocolError& e) {
        EXPECT_STREQ(e.what(), "a.conf:2: expected 'name = role, role'");
    }
    EXPECT_THROW((void)AccessPolicy::load_text("[Users]\n", "a.conf"), ProtocolError);
}

}  // namespace
}  // namespace weir::mplane
