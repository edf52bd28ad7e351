// MplaneBridge end to end over real HTTPS on 127.0.0.1: certificates made by
// scripts/make-mplane-certs.sh, a composition over a real capture, a cpp-httplib client with its
// own certificate, and (component-initiated) a minimal supervisor. The figures read over mPlane
// are compared with the engine's variables and its --stats JSON for the same run.
#include "test_util.hpp"

#include <weir/engine.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace weir::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kType = "application/x-mplane+json";
constexpr const char* kWeirRegistry = "http://weir.invalid/mplane/registry/weir";

class MplaneE2E : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        char tmpl[] = "/tmp/weir-mplane-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        const std::string script = source_root() + "/scripts/make-mplane-certs.sh";
        ASSERT_EQ(run_command(script + " " + dir_ + "/pki 2>&1").exit_code, 0);
        // A second CA: its client certificate is well formed but not trusted by the bridge.
        ASSERT_EQ(run_command(script + " " + dir_ + "/rogue 2>&1").exit_code, 0);
        std::ofstream(dir_ + "/access.conf") << "[Roles]\n"
                                                "org.weir.Clients.Client-1 = admin\n"
                                                "org.weir.Clients.Client-2 = guest\n"
                                                "[Authorizations]\n"
                                                "weir- = admin\n"
                                                "weir-counter- = guest\n";
    }
    static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

    void TearDown() override {
        if (engine_) {
            engine_->request_stop();
            engine_->wait();
        }
        if (live_fd_ >= 0) {
            close(live_fd_);
        }
    }

    // The test composition: capture -> PacketSizeFilter -> PacketCounter, plus the bridge.
    void start_engine(const std::string& trace, const std::string& bridge_params) {
        const std::string xml = R"(<composition id="mplane-test">
  <general><clock type="packet"/></general>
  <install>
    <threadpool id="capture" num_threads="1"/>
    <block id="src" type="PcapSource" threadpool="capture">
      <params><source type="trace" name=")" + trace + R"("/></params>
    </block>
    <block id="small" type="PacketSizeFilter"><params><size min="0" max="128"/></params></block>
    <block id="counter" type="PacketCounter"/>
    <block id="mplane" type="MplaneBridge"><params>)" + bridge_params + R"(</params></block>
    <connection src_block="src" src_gate="source_out" dst_block="small" dst_gate="in_pkt"/>
    <connection src_block="small" src_gate="out_pkt" dst_block="counter" dst_gate="in_pkt"/>
  </install>
</composition>)";
        engine_ = Engine::load_string(xml, "mplane-test.xml");
        engine_->start();
        engine_->launch();
        // The capture is done when every packet read has been counted, filtered or not.
        for (int i = 0; i < 500; ++i) {
            const auto progress = engine_->read_variable("src", "progress");
            if (progress && std::get<double>(*progress) >= 1.0 &&
                read_u64(*engine_, "src", "packets") ==
                    read_u64(*engine_, "small", "passed") + read_u64(*engine_, "small", "filtered") &&
                read_u64(*engine_, "counter", "pktcnt") == read_u64(*engine_, "small", "passed")) {
                break;
            }
            std::this_thread::sleep_for(10ms);
        }
        port_ = static_cast<int>(read_u64(*engine_, "mplane", "port"));
    }
    void start_tls_engine(const std::string& trace) {
        start_engine(trace, "<listen port=\"0\"/><tls cert=\"" + dir_ + "/pki/server.pem\" key=\"" + dir_ +
                                "/pki/server.key\" ca=\"" + dir_ + "/pki/ca.pem\"/><access file=\"" + dir_ +
                                "/access.conf\"/>");
        ASSERT_GT(port_, 0);
    }

    // Live capture on lo of what send_udp() (or, `tcp`, tcp_connections()) sends to a port of this
    // test's own (bound here, so parallel test runs on the same host never see each other's
    // traffic), counted by "counter" on a thread of its own (so its input is a ring), with the TLS
    // bridge; `more` adds blocks and connections. False when capturing is not permitted.
    bool start_live_engine(const std::string& more = "", bool tcp = false) {
        live_fd_ = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (live_fd_ < 0 || bind(live_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            getsockname(live_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0 || (tcp && listen(live_fd_, 16) != 0)) {
            ADD_FAILURE() << "cannot bind a loopback port: " << std::strerror(errno);
            return false;
        }
        live_port_ = ntohs(a.sin_port);
        const std::string port = std::to_string(live_port_);
        const std::string filter = tcp ? "tcp port " + port : "udp and dst port " + port + " and dst host 127.0.0.1";
        const std::string xml = R"(<composition id="mplane-live">
  <general><clock type="wall"/></general>
  <install>
    <threadpool id="capture" num_threads="1"/>
    <threadpool id="count" num_threads="1"/>
    <block id="src" type="PcapSource" threadpool="capture"><params>
      <source type="live" name="lo" timeout_ms="5"/>
      <bpf_filter expression=")" + filter + R"("/></params></block>
    <block id="counter" type="PacketCounter" invocation="indirect" threadpool="count"/>
    <block id="mplane" type="MplaneBridge"><params><listen port="0"/><tls cert=")" + dir_ + R"(/pki/server.pem" key=")" +
                                dir_ + R"(/pki/server.key" ca=")" + dir_ + R"(/pki/ca.pem"/><access file=")" + dir_ +
                                R"(/access.conf"/></params></block>
    <connection src_block="src" src_gate="source_out" dst_block="counter" dst_gate="in_pkt"/>
)" + more + R"(
  </install>
</composition>)";
        engine_ = Engine::load_string(xml, "mplane-live.xml");
        try {
            engine_->start();
        } catch (const LoadError& e) {
            engine_.reset();
            if (geteuid() != 0) {
                return false;
            }
            throw;
        }
        engine_->launch();
        port_ = static_cast<int>(read_u64(*engine_, "mplane", "port"));
        std::this_thread::sleep_for(300ms);  // the capture is armed
        return true;
    }
    // `n` TCP connections to the live port, each opened and closed from both ends (the FlowMeter
    // ends such a flow at its FINs, without waiting for a timeout).
    void tcp_connections(int n) const {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(live_port_));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        for (int i = 0; i < n; ++i) {
            const int c = socket(AF_INET, SOCK_STREAM, 0);
            ASSERT_EQ(connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
            const int s = accept(live_fd_, nullptr, nullptr);
            ASSERT_GE(s, 0);
            ASSERT_EQ(write(c, "hello", 5), 5);
            char buf[8];
            ASSERT_EQ(read(s, buf, sizeof buf), 5);
            close(c);
            ASSERT_EQ(read(s, buf, sizeof buf), 0);  // the client's FIN
            close(s);
        }
    }
    void send_udp(int n) const {
        const int fd = socket(AF_INET, SOCK_DGRAM, 0);
        ASSERT_GE(fd, 0);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(static_cast<uint16_t>(live_port_));
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        char payload[64] = {};
        for (int i = 0; i < n; ++i) {
            ASSERT_EQ(sendto(fd, payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
                      static_cast<ssize_t>(sizeof payload));
        }
        close(fd);
    }
    // Waits (at most 5 s) until block.var reads `want`; returns what it read last.
    uint64_t wait_for_value(const std::string& block, const std::string& var, uint64_t want) const {
        uint64_t v = 0;
        for (int i = 0; i < 500 && (v = read_u64(*engine_, block, var)) != want; ++i) {
            std::this_thread::sleep_for(10ms);
        }
        return v;
    }

    // A client presenting `who`'s certificate from `pki` ("" = none).
    std::unique_ptr<httplib::SSLClient> client(const std::string& who, const std::string& pki = "pki") const {
        std::unique_ptr<httplib::SSLClient> c =
            who.empty() ? std::make_unique<httplib::SSLClient>("127.0.0.1", port_)
                        : std::make_unique<httplib::SSLClient>("127.0.0.1", port_, dir_ + "/" + pki + "/" + who + ".pem",
                                                               dir_ + "/" + pki + "/" + who + ".key");
        c->set_ca_cert_path(dir_ + "/pki/ca.pem");
        c->enable_server_certificate_verification(true);
        c->set_connection_timeout(5, 0);
        c->set_read_timeout(10, 0);
        return c;
    }

    struct Answer {
        int status = 0;
        json body;
    };
    static Answer post(httplib::SSLClient& c, const std::string& body, const char* type = kType,
                       const char* path = "/") {
        auto res = c.Post(path, body, type);
        if (!res) {
            ADD_FAILURE() << "POST failed: " << httplib::to_string(res.error());
            return {};
        }
        EXPECT_EQ(res->get_header_value("Content-Type"), kType);
        return {res->status, json::parse(res->body)};
    }

    static json spec(const std::string& label, const std::string& block, const std::string& var,
                     const std::string& when, json results) {
        json s = {{"specification", "measure"}, {"version", 1}, {"registry", kWeirRegistry}, {"label", label},
                  {"when", when}, {"results", std::move(results)}};
        if (!block.empty()) {
            s["parameters"] = {{"weir.block", block}, {"weir.variable", var}};
        }
        return s;
    }
    static json counter_results() { return json::array({"start", "end", "weir.count"}); }

    static std::string dir_;
    std::unique_ptr<Engine> engine_;
    int port_ = 0;
    int live_fd_ = -1;   // start_live_engine: the test's own loopback port (a UDP socket or a listener)
    int live_port_ = 0;
};
std::string MplaneE2E::dir_;

// The `engine` command run in the background; killed if the test ends before it exits.
class EngineProcess {
public:
    explicit EngineProcess(const std::string& args) {
        const std::string cmd = "exec " + engine_binary() + " " + args + " > /dev/null 2>&1";
        pid_ = fork();
        if (pid_ == 0) {
            execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
    }
    ~EngineProcess() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    EngineProcess(const EngineProcess&) = delete;
    EngineProcess& operator=(const EngineProcess&) = delete;
    // Its exit code, waiting at most `timeout`; -1 if it had to be killed.
    int wait(std::chrono::seconds timeout) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        int status = 0;
        while (waitpid(pid_, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > end) {
                return -1;  // the destructor kills it
            }
            std::this_thread::sleep_for(20ms);
        }
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

private:
    pid_t pid_ = -1;
};

int free_port() {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    const bool ok = bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                    getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    close(s);
    return ok ? ntohs(a.sin_port) : 0;
}

std::vector<std::string> labels(const json& envelope) {
    std::vector<std::string> out;
    for (const auto& c : envelope.at("contents")) {
        out.push_back(c.at("label"));
    }
    return out;
}

// "2026-11-28 13:41:08.183943" -> ns since the epoch (exact: the fraction is read as digits).
int64_t mplane_time(const json& text) {
    std::tm tm{};
    const std::string t = text.get<std::string>();
    EXPECT_EQ(std::sscanf(t.c_str(), "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                          &tm.tm_min, &tm.tm_sec), 6) << t;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t frac = 0;
    int64_t scale = 1'000'000'000;
    if (const auto dot = t.find('.'); dot != std::string::npos) {
        for (std::size_t i = dot + 1; i < t.size() && scale > 1; ++i) {
            scale /= 10;
            frac += (t[i] - '0') * scale;
        }
    }
    return static_cast<int64_t>(timegm(&tm)) * 1'000'000'000 + frac;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

TEST_F(MplaneE2E, CapabilitiesFollowTheRoles) {
    start_tls_engine(pcap_dir() + "/443-firefox.pcap");
    auto admin = client("client-1");
    auto res = admin->Get("/capability");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), kType);
    const json env = json::parse(res->body);
    EXPECT_EQ(env.at("envelope"), "message");
    const auto all = labels(env);
    for (const char* l : {"weir-counter-pktcnt", "weir-counter-pktcnt-periodic", "weir-small-passed",
                          "weir-small-max", "weir-small-max-set", "weir-counter-reset-set", "weir-src-progress",
                          "weir-counter-disable", "weir-src-disable",
                          "weir-stop"}) {
        EXPECT_TRUE(has(all, l)) << l;
    }
    EXPECT_FALSE(has(all, "weir-counter-reset")) << "write-only controls cannot be measured";
    for (const auto& c : env.at("contents")) {
        EXPECT_EQ(c.at("link"), "https://127.0.0.1:" + std::to_string(port_) + "/");
        EXPECT_EQ(c.at("version"), 1);
        EXPECT_EQ(c.at("token").get<std::string>().size(), 32u);
    }
    // One capability by its token, as the RI client crawls them.
    const json first = env.at("contents").at(0);
    auto one = admin->Get("/capability/" + first.at("token").get<std::string>());
    ASSERT_TRUE(one);
    EXPECT_EQ(json::parse(one->body), first);

    auto guest = client("client-2");
    auto res2 = guest->Get("/capability");
    ASSERT_TRUE(res2);
    for (const auto& l : labels(json::parse(res2->body))) {
        EXPECT_EQ(l.rfind("weir-counter-", 0), 0u) << l;
    }
    // pktcnt, bytecnt, pktrate, byterate (+periodic, +export), reset-set, disable
    EXPECT_EQ(labels(json::parse(res2->body)).size(), 14u);
}

TEST_F(MplaneE2E, CounterMeasurementMatchesTheComposition) {
    start_tls_engine(pcap_dir() + "/443-firefox.pcap");
    auto admin = client("client-1");
    // The RI client names specifications <label>-<serial>: the schema alone selects the capability.
    const Answer a = post(*admin, spec("weir-counter-pktcnt-1", "counter", "pktcnt", "now", counter_results()).dump());
    ASSERT_EQ(a.status, 200) << a.body.dump(2);
    EXPECT_EQ(a.body.at("result"), "measure");
    EXPECT_EQ(a.body.at("label"), "weir-counter-pktcnt-1");
    ASSERT_EQ(a.body.at("resultvalues").size(), 1u);
    const json row = a.body.at("resultvalues").at(0);
    EXPECT_EQ(row.at(2).get<uint64_t>(), read_u64(*engine_, "counter", "pktcnt"));
    EXPECT_EQ(row.at(2).get<uint64_t>(), 292u);  // docs/block-api.md: tshark -Y 'frame.len <= 128'
    // Bytes too, and the filter's gauge-like control read as a gauge.
    const Answer b = post(*admin, spec("b", "counter", "bytecnt", "now", counter_results()).dump());
    ASSERT_EQ(b.status, 200) << b.body.dump(2);
    EXPECT_EQ(b.body.at("resultvalues").at(0).at(2).get<uint64_t>(), 19959u);
    const Answer m = post(*admin, spec("m", "small", "max", "now", json::array({"time", "weir.value.natural"})).dump());
    ASSERT_EQ(m.status, 200) << m.body.dump(2);
    EXPECT_EQ(m.body.at("resultvalues").at(0).at(1).get<uint64_t>(), 128u);
    // The window is the composition's life so far: absolute, start before end.
    const std::string when = a.body.at("when");
    EXPECT_NE(when.find(" ... "), std::string::npos) << when;
    EXPECT_EQ(row.at(0), when.substr(0, when.find(" ... ")));

    // weir-stop ends the composition; the figures read over mPlane match its stats.
    const Answer s = post(*admin, spec("stop", "", "", "now", json::array({"time"})).dump());
    ASSERT_EQ(s.status, 200) << s.body.dump(2);
    // The bridge keeps serving for stop.linger (1 s): the RI client connects again after every
    // reply to learn the component's identity, and must not find the port closed.
    auto again = client("client-1");
    auto probe = again->Get("/capability");
    ASSERT_TRUE(probe) << httplib::to_string(probe.error());
    EXPECT_EQ(probe->status, 200);
    ASSERT_TRUE(engine_->wait_for(10s));
    const json stats = json::parse(engine_->stats_json());
    EXPECT_EQ(stats["blocks"]["counter"]["variables"]["pktcnt"], row.at(2));
    EXPECT_EQ(stats["blocks"]["counter"]["variables"]["bytecnt"], b.body.at("resultvalues").at(0).at(2));
    EXPECT_EQ(engine_->exit_code(), 0);
}

TEST_F(MplaneE2E, PeriodicResultsRedemptionAndInterrupt) {
    start_tls_engine(pcap_dir() + "/443-firefox.pcap");
    auto guest = client("client-2");
    json periodic = spec("per", "counter", "pktcnt", "now + 3s / 1s", counter_results());
    periodic["token"] = "periodic-token-1";
    const Answer receipt = post(*guest, periodic.dump());
    ASSERT_EQ(receipt.status, 200) << receipt.body.dump(2);
    EXPECT_EQ(receipt.body.at("receipt"), "measure");
    EXPECT_EQ(receipt.body.at("token"), "periodic-token-1");
    // Redeemed too early: the receipt again (the RI redeems with the whole receipt).
    json redemption = receipt.body;
    redemption.erase("receipt");
    redemption["redemption"] = "measure";
    const Answer early = post(*guest, redemption.dump());
    EXPECT_EQ(early.body.value("receipt", ""), "measure") << early.body.dump(2);

    // An open-ended one, interrupted after two periods.
    const Answer open = post(*guest, spec("open", "counter", "pktcnt", "now ... future / 1s", counter_results()).dump());
    ASSERT_EQ(open.status, 200) << open.body.dump(2);
    const std::string open_token = open.body.at("token");
    EXPECT_EQ(open_token.size(), 32u) << "a token is made for a specification without one";

    std::this_thread::sleep_for(3400ms);
    // The RI client redeems at the URL it fetched the capabilities from.
    const Answer done = post(*guest, redemption.dump(), kType, "/capability");
    ASSERT_EQ(done.status, 200) << done.body.dump(2);
    ASSERT_EQ(done.body.value("result", ""), "measure") << done.body.dump(2);
    const json& rows = done.body.at("resultvalues");
    ASSERT_EQ(rows.size(), 3u) << done.body.dump(2);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        EXPECT_EQ(rows[i].at(2).get<uint64_t>(), 0u);  // the capture was over: nothing grew
        if (i > 0) {
            EXPECT_EQ(rows[i].at(0), rows[i - 1].at(1)) << "windows are contiguous";
        }
    }
    // A result is handed out once.
    const Answer again = post(*guest, json({{"redemption", "measure"}, {"token", "periodic-token-1"}}).dump());
    EXPECT_EQ(again.status, 404);
    EXPECT_NE(again.body.at("message").get<std::string>().find("unknown token 'periodic-token-1'"), std::string::npos);

    const Answer stopped = post(*guest, json({{"interrupt", "measure"}, {"token", open_token}}).dump());
    ASSERT_EQ(stopped.status, 200) << stopped.body.dump(2);
    EXPECT_EQ(stopped.body.value("result", ""), "measure");
    EXPECT_GE(stopped.body.at("resultvalues").size(), 3u);  // 3 full periods and the cut one
    EXPECT_EQ(read_u64(*engine_, "mplane", "pending"), 0u);
}

TEST_F(MplaneE2E, RefusedWhatTheRoleLacks) {
    start_tls_engine(pcap_dir() + "/443-firefox.pcap");
    auto guest = client("client-2");
    const Answer stop = post(*guest, spec("weir-stop", "", "", "now", json::array({"time"})).dump());
    EXPECT_EQ(stop.status, 403);
    EXPECT_EQ(stop.body.at("message"), "identity 'org.weir.Clients.Client-2' is not authorised for capability 'weir-stop'");
    EXPECT_FALSE(stop.body.contains("resultvalues"));
    const Answer other = post(*guest, spec("x", "small", "passed", "now", counter_results()).dump());
    EXPECT_EQ(other.status, 403) << other.body.dump(2);
    EXPECT_FALSE(engine_->stop_requested());
    EXPECT_EQ(read_u64(*engine_, "mplane", "refused"), 2u);
    // Not even by token.
    auto admin = client("client-1");
    const json caps = json::parse(admin->Get("/capability")->body);
    for (const auto& c : caps.at("contents")) {
        if (c.at("label") == "weir-stop") {
            auto res = guest->Get("/capability/" + c.at("token").get<std::string>());
            ASSERT_TRUE(res);
            EXPECT_EQ(res->status, 404);
        }
    }
}

TEST_F(MplaneE2E, BadRequestsGetExceptionsAndTheCompositionRuns) {
    start_tls_engine(pcap_dir() + "/443-firefox.pcap");
    auto admin = client("client-1");
    const struct {
        std::string body;
        int status;
        std::string message;  // part of it
    } cases[] = {
        {"{\"specification\": ", 400, "malformed JSON"},
        {json({{"redemption", "measure"}, {"token", "no-such-token"}}).dump(), 404, "unknown token 'no-such-token'"},
        {[] { json s = spec("weir-counter-pktcnt", "counter", "pktcnt", "now", counter_results()); s["when"] = 5; return s.dump(); }(),
         400, "\"when\" must be a string"},
        {spec("weir-counter-pktcnt", "nope", "pktcnt", "now", counter_results()).dump(), 400,
         "parameter 'weir.block' = 'nope' is outside the capability's constraint 'counter'"},
        {spec("weir-counter-pktcnt", "counter", "pktcnt", "2020-01-01 00:00:00 ... 2020-01-01 00:01:00", counter_results()).dump(),
         400, "ended at 2020-01-01 00:01:00"},
        {spec("weir-counter-pktcnt-periodic", "counter", "pktcnt", "now + 1m / 1s", json::array({"time"})).dump(), 400,
         "results differ from the capability's [start, end, weir.count]"},
        {spec("zzz", "counter", "nothing", "now", counter_results()).dump(), 404, "no capability matches"},
        {json({{"capability", "measure"}, {"version", 1}, {"when", "now"}}).dump(), 400, "unexpected message type 'capability'"},
        {[] { json s = spec("weir-small-max-set", "small", "max", "now", json::array({"time", "weir.control.value"}));
              s["parameters"]["weir.control.value"] = "bogus"; return s.dump(); }(),
         400, "control 'max' of block 'small' refused 'bogus': max must be an integer >= size.min"},
    };
    for (const auto& c : cases) {
        const Answer a = post(*admin, c.body);
        EXPECT_EQ(a.status, c.status) << c.body << "\n" << a.body.dump(2);
        ASSERT_TRUE(a.body.contains("exception")) << a.body.dump(2);
        EXPECT_NE(a.body.at("message").get<std::string>().find(c.message), std::string::npos)
            << c.body << "\n" << a.body.dump(2);
    }
    auto res = admin->Post("/", spec("a", "counter", "pktcnt", "now", counter_results()).dump(), "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 415);
    EXPECT_NE(res->body.find("Content-Type must be application/x-mplane+json"), std::string::npos);
    EXPECT_FALSE(engine_->stop_requested());

    // Still serving; a control write goes through and is applied.
    json set = spec("set", "small", "max", "now", json::array({"time", "weir.control.value"}));
    set["parameters"]["weir.control.value"] = 200;  // a number where the RI writes a string: both accepted
    const Answer ok = post(*admin, set.dump());
    ASSERT_EQ(ok.status, 200) << ok.body.dump(2);
    EXPECT_EQ(ok.body.at("resultvalues").at(0).at(1), "200");
    EXPECT_EQ(std::get<uint64_t>(*engine_->read_variable("small", "max")), 200u);
}

TEST_F(MplaneE2E, TlsHandshakeNeedsATrustedClientCertificate) {
    start_tls_engine(pcap_dir() + "/443-firefox.pcap");
    auto none = client("");
    auto res = none->Get("/capability");
    // TLS 1.3 clients learn of the refusal (alert certificate_required) on their first write.
    EXPECT_FALSE(res) << "served a client without a certificate";
    auto rogue = client("client-1", "rogue");  // same subject, another CA
    auto res2 = rogue->Get("/capability");
    EXPECT_FALSE(res2) << "served a certificate from an untrusted CA";
    // TLS 1.1 is refused even with a good certificate.
    auto old = client("client-1");
    SSL_CTX_set_max_proto_version(old->ssl_context(), TLS1_1_VERSION);
    EXPECT_FALSE(old->Get("/capability"));
    auto good = client("client-1");
    auto ok = good->Get("/capability");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
}

TEST_F(MplaneE2E, PlainHttpOnlyOnLoopback) {
    const std::string xml = R"(<composition id="p"><install>
        <block id="mplane" type="MplaneBridge"><params><listen host="0.0.0.0" plain="1"/></params></block>
        </install></composition>)";
    try {
        (void)Engine::load_string(xml, "p.xml");
        FAIL() << "plain HTTP on every address was accepted";
    } catch (const LoadError& e) {
        EXPECT_NE(std::string(e.what()).find("p.xml:2: block 'mplane' (MplaneBridge): listen.plain serves without "
                                             "TLS, so only on a loopback address"),
                  std::string::npos)
            << e.what();
    }
    const std::string no_tls = R"(<composition id="p"><install>
        <block id="mplane" type="MplaneBridge"><params><listen port="0"/></params></block>
        </install></composition>)";
    EXPECT_THROW((void)Engine::load_string(no_tls, "p.xml"), LoadError);
}

// serve.until_stopped holds the composition open after its capture until a stop is requested;
// the bridge stops serving before any block is destroyed.
TEST_F(MplaneE2E, HoldsTheCompositionOpenUntilStopped) {
    start_engine(pcap_dir() + "/443-firefox.pcap", "<listen port=\"0\" plain=\"1\"/>");
    port_ = static_cast<int>(read_u64(*engine_, "mplane", "port"));
    EXPECT_FALSE(engine_->wait_for(300ms)) << "finished although the bridge holds it open";
    httplib::Client c("127.0.0.1", port_);
    auto res = c.Get("/capability");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    engine_->request_stop();
    EXPECT_TRUE(engine_->wait_for(5s));
    EXPECT_EQ(engine_->exit_code(), 0);
    engine_.reset();
    httplib::Client after("127.0.0.1", port_);
    after.set_connection_timeout(1, 0);
    EXPECT_FALSE(after.Get("/capability")) << "still serving after the engine is gone";

    start_engine(pcap_dir() + "/443-firefox.pcap", "<listen port=\"0\" plain=\"1\"/><serve until_stopped=\"0\"/>");
    EXPECT_TRUE(engine_->wait_for(5s)) << "serve.until_stopped=0 must let the composition end with its capture";
}

// The shipped composition, run by the real `engine` command: a client reads it over HTTPS, stops
// it, and what it read equals the --stats the engine wrote.
TEST_F(MplaneE2E, ShippedCompositionMatchesItsStats) {
    port_ = free_port();
    ASSERT_GT(port_, 0);
    const std::string stats = dir_ + "/stats.json";
    EngineProcess engine("-q " + source_root() + "/compositions/mplane.xml -D PKI=" + dir_ + "/pki -D MPLANE_PORT=" +
                         std::to_string(port_) + " -D LOGDIR=" + dir_ + "/logs -D TRACE=" + pcap_dir() +
                         "/netflix.pcap --stats " + stats);
    auto admin = client("client-1");
    json caps;
    for (int i = 0; i < 600; ++i) {  // until it listens
        if (auto res = admin->Get("/capability"); res && res->status == 200) {
            caps = json::parse(res->body);
            break;
        }
        std::this_thread::sleep_for(50ms);
    }
    ASSERT_FALSE(caps.is_null()) << "the engine never served";
    // Wait for the capture to be read whole, as a client would: the source's progress gauge.
    for (int i = 0; i < 600; ++i) {
        const Answer p = post(*admin, spec("p", "src", "progress", "now", json::array({"time", "weir.value.real"})).dump());
        if (p.status == 200 && p.body.at("resultvalues").at(0).at(1).get<double>() >= 1.0) {
            break;
        }
        std::this_thread::sleep_for(50ms);
    }
    // The flow thread drains its ring and flushes the flows left at the end: read until two
    // readings 200 ms apart agree.
    std::map<std::string, uint64_t> read;
    for (int attempt = 0; attempt < 25; ++attempt) {
        std::map<std::string, uint64_t> now;
        for (const auto& [block, var] : std::vector<std::pair<std::string, std::string>>{
                 {"counter", "pktcnt"}, {"counter", "bytecnt"}, {"meter", "flows_created"},
                 {"meter", "tcp_packets"}, {"logs", "tcp_complete"}}) {
            const Answer r = post(*admin, spec("r", block, var, "now", counter_results()).dump());
            ASSERT_EQ(r.status, 200) << block << "." << var << " " << r.body.dump(2);
            now[block + "." + var] = r.body.at("resultvalues").at(0).at(2).get<uint64_t>();
        }
        if (now == read) {
            break;
        }
        read = now;
        std::this_thread::sleep_for(200ms);
    }
    const Answer stop = post(*admin, spec("stop", "", "", "now", json::array({"time"})).dump());
    EXPECT_EQ(stop.status, 200);
    ASSERT_EQ(engine.wait(60s), 0);
    std::ifstream in(stats);
    const json j = json::parse(in);
    for (const auto& [name, value] : read) {
        const auto dot = name.find('.');
        EXPECT_EQ(j["blocks"][name.substr(0, dot)]["variables"][name.substr(dot + 1)].get<uint64_t>(), value) << name;
    }
    EXPECT_EQ(read["counter.pktcnt"], 1793u);
    EXPECT_EQ(j["exit_code"], 0);
}

// The shipped composition with -D MPLANE_PLAIN=1: plain HTTP on loopback, as the RI client
// speaks it without TLS; every caller is the unauthenticated identity.
TEST_F(MplaneE2E, ShippedCompositionPlainOnLoopback) {
    const int port = free_port();
    ASSERT_GT(port, 0);
    EngineProcess engine("-q --no-summary " + source_root() + "/compositions/mplane.xml -D MPLANE_PLAIN=1 -D MPLANE_PORT=" +
                         std::to_string(port) + " -D LOGDIR=" + dir_ + "/plain-logs -D TRACE=" + pcap_dir() + "/dns.pcap");
    httplib::Client c("127.0.0.1", port);
    // Until it listens and the composition runs (before that the bridge answers 503).
    auto res = c.Get("/capability");
    for (int i = 0; i < 600 && !(res && res->status == 200); ++i) {
        std::this_thread::sleep_for(50ms);
        res = c.Get("/capability");
    }
    ASSERT_TRUE(res) << "the engine never served";
    EXPECT_EQ(res->status, 200);
    EXPECT_TRUE(has(labels(json::parse(res->body)), "weir-stop"));
    EXPECT_EQ(json::parse(res->body).at("contents").at(0).at("link"), "http://127.0.0.1:" + std::to_string(port) + "/");
    auto stop = c.Post("/", spec("stop", "", "", "now", json::array({"time"})).dump(), kType);
    ASSERT_TRUE(stop);
    EXPECT_EQ(stop->status, 200) << stop->body;
    EXPECT_EQ(engine.wait(60s), 0);
}

// Component-initiated: the bridge registers with a minimal supervisor, polls it, and posts the
// receipt and the result of the specification it was handed.
TEST_F(MplaneE2E, ComponentInitiatedWithASupervisor) {
    httplib::SSLServer sup((dir_ + "/pki/server.pem").c_str(), (dir_ + "/pki/server.key").c_str(),
                           (dir_ + "/pki/ca.pem").c_str());
    ASSERT_TRUE(sup.is_valid());
    std::mutex mu;
    json registered;
    json withdrawn;
    std::vector<json> posted;
    std::vector<json> to_hand_out = {
        spec("count-1", "counter", "pktcnt", "now", counter_results()),
        [] { json p = spec("periodic-1", "counter", "bytecnt", "now + 2s / 1s", counter_results());
             p["token"] = "sup-periodic"; return p; }(),
        [] { json p = spec("repeated-1", "counter", "pktcnt", "repeat now + 2s / 1s", counter_results());
             p["token"] = "sup-repeated"; return p; }(),
    };
    std::string identity;
    sup.Post("/register/capability", [&](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard<std::mutex> g(mu);
        EXPECT_EQ(req.get_header_value("Content-Type"), kType);
        const json env = json::parse(req.body);
        if (!env.at("contents").empty() && env.at("contents").at(0).contains("withdrawal")) {
            withdrawn = env;  // at shutdown
            res.set_content("{}", "application/json");
            return;
        }
        registered = env;
        json reply = json::object();
        for (const auto& c : registered.at("contents")) {
            reply[c.at("label").get<std::string>()] = {{"registered", "ok"}};
        }
        res.set_content(reply.dump(), "application/json");
    });
    sup.Get("/show/specification", [&](const httplib::Request&, httplib::Response& res) {
        std::lock_guard<std::mutex> g(mu);
        json env = {{"envelope", "message"}, {"version", 1}, {"contents", json::array()}};
        if (!to_hand_out.empty()) {
            env["contents"].push_back(to_hand_out.front());
            to_hand_out.erase(to_hand_out.begin());
        }
        res.set_content(env.dump(), kType);
    });
    sup.Post("/register/result", [&](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard<std::mutex> g(mu);
        posted.push_back(json::parse(req.body));
        res.set_content("{}", "application/json");
    });
    const int sup_port = sup.bind_to_any_port("127.0.0.1");
    std::thread sup_thread([&] { sup.listen_after_bind(); });

    start_engine(pcap_dir() + "/443-firefox.pcap",
                 "<workflow mode=\"component-initiated\"/><supervisor url=\"https://127.0.0.1:" +
                     std::to_string(sup_port) + "\" poll=\"100ms\"/><tls cert=\"" + dir_ + "/pki/client-1.pem\" key=\"" +
                     dir_ + "/pki/client-1.key\" ca=\"" + dir_ + "/pki/ca.pem\"/>");
    bool complete = false;
    for (int i = 0; i < 100 && !complete; ++i) {
        std::this_thread::sleep_for(100ms);
        std::lock_guard<std::mutex> g(mu);
        complete = std::count_if(posted.begin(), posted.end(), [](const json& m) { return m.contains("result"); }) == 2 &&
                   std::count_if(posted.begin(), posted.end(), [](const json& m) { return m.contains("envelope"); }) == 1;
    }
    const uint64_t posted_count = read_u64(*engine_, "mplane", "posted");
    const uint64_t pktcnt = read_u64(*engine_, "counter", "pktcnt");
    // Stopping withdraws every registered capability, while the supervisor still listens.
    engine_->request_stop();
    ASSERT_TRUE(engine_->wait_for(10s));
    engine_.reset();  // blocks shut down: the bridge withdraws
    sup.stop();
    sup_thread.join();
    ASSERT_TRUE(withdrawn.contains("contents")) << "no withdrawal at shutdown";
    std::set<std::string> withdrawn_tokens;
    for (const auto& w : withdrawn.at("contents")) {
        EXPECT_EQ(w.value("withdrawal", ""), "measure") << w.dump(2);
        withdrawn_tokens.insert(w.at("token").get<std::string>());
    }
    for (const auto& c : registered.at("contents")) {
        if (c.at("label") != "callback") {
            EXPECT_EQ(withdrawn_tokens.count(c.at("token").get<std::string>()), 1u) << c.at("label");
        }
    }
    ASSERT_TRUE(complete) << json(posted).dump(2);
    ASSERT_TRUE(registered.contains("contents"));
    const auto regs = labels(registered);
    EXPECT_TRUE(has(regs, "weir-counter-pktcnt"));
    EXPECT_TRUE(has(regs, "callback"));
    std::map<std::string, json> by_label;
    for (const auto& m : posted) {
        by_label[m.at("label").get<std::string>() + (m.contains("receipt") ? "/receipt" : "")] = m;
    }
    // The repeated one: posted once, complete, as an envelope of its two runs.
    EXPECT_EQ(by_label.at("repeated-1").at("token"), "sup-repeated");
    EXPECT_EQ(by_label.at("repeated-1").at("contents").size(), 2u);
    EXPECT_EQ(by_label.at("count-1").at("resultvalues").at(0).at(2).get<uint64_t>(), pktcnt);
    EXPECT_EQ(by_label.at("periodic-1/receipt").at("token"), "sup-periodic");
    EXPECT_EQ(by_label.at("periodic-1").at("token"), "sup-periodic");
    EXPECT_EQ(by_label.at("periodic-1").at("resultvalues").size(), 2u);
    EXPECT_GE(posted_count, 3u);
}

// weir-<block>-disable over a temporal range: the engine's switch drops the counter's input
// batches for that second, then counting resumes; the figures agree with the engine's.
TEST_F(MplaneE2E, DisableABlockForAPeriod) {
    if (!start_live_engine()) {
        GTEST_SKIP() << "live capture on lo needs CAP_NET_RAW";
    }
    auto admin = client("client-1");
    send_udp(50);
    ASSERT_EQ(wait_for_value("counter", "pktcnt", 50), 50u);

    json off = {{"specification", "measure"}, {"version", 1}, {"registry", kWeirRegistry},
                {"label", "weir-counter-disable"}, {"when", "now + 1s"},
                {"parameters", {{"weir.block", "counter"}}}, {"results", {"start", "end", "weir.drops"}}};
    off["token"] = "disable-1s";
    const auto sent = std::chrono::steady_clock::now();
    const Answer receipt = post(*admin, off.dump());
    ASSERT_EQ(receipt.status, 200) << receipt.body.dump(2);
    EXPECT_EQ(receipt.body.value("receipt", ""), "measure");
    EXPECT_FALSE(engine_->enabled("counter"));
    send_udp(40);
    ASSERT_EQ(wait_for_value("src", "packets", 90), 90u);
    std::this_thread::sleep_for(200ms);  // the counter's thread has popped them
    EXPECT_EQ(read_u64(*engine_, "counter", "pktcnt"), 50u) << "counted while disabled";
    const uint64_t drops = engine_->disabled_drops("counter");
    EXPECT_GE(drops, 1u);
    EXPECT_LE(drops, 40u);  // batches, at most one per datagram

    std::this_thread::sleep_until(sent + 1300ms);
    EXPECT_TRUE(engine_->enabled("counter")) << "not switched on again after its second";
    send_udp(30);
    EXPECT_EQ(wait_for_value("counter", "pktcnt", 80), 80u);
    json redemption = receipt.body;
    redemption.erase("receipt");
    redemption["redemption"] = "measure";
    const Answer result = post(*admin, redemption.dump());
    ASSERT_EQ(result.body.value("result", ""), "measure") << result.body.dump(2);
    ASSERT_EQ(result.body.at("resultvalues").size(), 1u);
    const json row = result.body.at("resultvalues").at(0);
    EXPECT_EQ(row.at(2).get<uint64_t>(), drops);
    const int64_t length = mplane_time(row.at(1)) - mplane_time(row.at(0));
    EXPECT_GE(length, 1'000'000'000);
    EXPECT_LT(length, 1'500'000'000);

    // Open-ended, ended early by an interrupt.
    json open = off;
    open["when"] = "now ... future";
    open["token"] = "disable-open";
    const Answer r2 = post(*admin, open.dump());
    ASSERT_EQ(r2.status, 200) << r2.body.dump(2);
    EXPECT_FALSE(engine_->enabled("counter"));
    send_udp(10);
    ASSERT_EQ(wait_for_value("src", "packets", 130), 130u);
    std::this_thread::sleep_for(200ms);
    const Answer stopped = post(*admin, json({{"interrupt", "measure"}, {"token", "disable-open"}}).dump());
    ASSERT_EQ(stopped.body.value("result", ""), "measure") << stopped.body.dump(2);
    EXPECT_TRUE(engine_->enabled("counter"));
    EXPECT_EQ(stopped.body.at("resultvalues").at(0).at(2).get<uint64_t>(), engine_->disabled_drops("counter") - drops);
    send_udp(10);
    EXPECT_EQ(wait_for_value("counter", "pktcnt", 90), 90u);

    // A role without the capability cannot switch anything off; a singleton scope is refused.
    auto guest = client("client-2");
    json src_off = off;
    src_off["label"] = "weir-src-disable";
    src_off["parameters"]["weir.block"] = "src";
    src_off["token"] = "guest-off";
    const Answer refused = post(*guest, src_off.dump());
    EXPECT_EQ(refused.status, 403) << refused.body.dump(2);
    EXPECT_TRUE(engine_->enabled("src"));
    json now_only = off;
    now_only["when"] = "now";
    now_only["token"] = "disable-now";
    const Answer bad = post(*admin, now_only.dump());
    EXPECT_EQ(bad.status, 400);
    EXPECT_NE(bad.body.value("message", "").find("needs a range"), std::string::npos) << bad.body.dump(2);

    engine_->request_stop();
    ASSERT_TRUE(engine_->wait_for(10s));
    const json stats = json::parse(engine_->stats_json());
    EXPECT_EQ(stats["blocks"]["counter"]["variables"]["disabled_drops"].get<uint64_t>(),
              engine_->disabled_drops("counter"));
    EXPECT_EQ(stats["blocks"]["counter"]["variables"]["pktcnt"].get<uint64_t>(), 90u);
    EXPECT_EQ(stats["blocks"]["src"]["variables"]["packets"].get<uint64_t>(), 140u);
}

// A source switched off is paused, not drained: PcapSource replaying a capture at ten times its
// speed reads nothing while off and goes on where it stopped.
TEST_F(MplaneE2E, DisabledSourcePausesAndResumes) {
    const std::string xml = R"(<composition id="mplane-pause">
  <general><clock type="packet"/></general>
  <install>
    <threadpool id="capture" num_threads="1"/>
    <block id="src" type="PcapSource" threadpool="capture">
      <params><source type="trace" name=")" + pcap_dir() + R"(/netflix.pcap" replay="10"/></params>
    </block>
    <block id="counter" type="PacketCounter"/>
    <block id="mplane" type="MplaneBridge"><params><listen port="0" plain="1"/></params></block>
    <connection src_block="src" src_gate="source_out" dst_block="counter" dst_gate="in_pkt"/>
  </install>
</composition>)";
    engine_ = Engine::load_string(xml, "mplane-pause.xml");
    engine_->start();
    engine_->launch();
    httplib::Client c("127.0.0.1", static_cast<int>(read_u64(*engine_, "mplane", "port")));
    std::this_thread::sleep_for(300ms);  // 3 s of the capture: 90 s long, 1793 packets
    json off = {{"specification", "measure"}, {"version", 1}, {"registry", kWeirRegistry},
                {"label", "weir-src-disable"}, {"when", "now + 2s"}, {"token", "pause-src"},
                {"parameters", {{"weir.block", "src"}}}, {"results", {"start", "end", "weir.drops"}}};
    auto res = c.Post("/", off.dump(), kType);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const auto paused = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(100ms);  // a batch being read when it was switched off
    const uint64_t at_pause = read_u64(*engine_, "src", "packets");
    std::this_thread::sleep_for(1500ms);  // 15 s of the capture
    EXPECT_EQ(read_u64(*engine_, "src", "packets"), at_pause) << "read while off";
    EXPECT_LT(at_pause, 1793u);
    EXPECT_FALSE(engine_->wait_for(10ms));
    std::this_thread::sleep_until(paused + 3s);
    EXPECT_GT(read_u64(*engine_, "src", "packets"), at_pause) << "not resumed";
    // Nothing lost: the whole capture arrives, and nothing was dropped at the source's inputs (it has none).
    for (int i = 0; i < 150 && read_u64(*engine_, "counter", "pktcnt") < 1793; ++i) {
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(read_u64(*engine_, "counter", "pktcnt"), 1793u);
    EXPECT_EQ(engine_->disabled_drops("src"), 0u);
}

// A repeated specification (the RI's "repeat <range> / <interval> { <inner> }"): one receipt, one
// run per interval, redeemed as an envelope of the runs' results.
TEST_F(MplaneE2E, RepeatedSpecificationGivesOneResultPerRun) {
    start_tls_engine(pcap_dir() + "/443-firefox.pcap");
    auto admin = client("client-1");
    json rep = spec("weir-counter-pktcnt", "counter", "pktcnt", "repeat now + 3s / 1s", counter_results());
    rep["token"] = "rep-1";
    const Answer receipt = post(*admin, rep.dump());
    ASSERT_EQ(receipt.status, 200) << receipt.body.dump(2);
    EXPECT_EQ(receipt.body.value("receipt", ""), "measure");
    EXPECT_EQ(receipt.body.at("when"), "repeat now + 3s / 1s");
    // Each run of a periodic inner scope: 2 s every 3 s, one row per second.
    json inner = spec("weir-counter-bytecnt-periodic", "counter", "bytecnt", "repeat now + 6s / 3s { now + 2s / 1s }",
                      counter_results());
    inner["token"] = "rep-2";
    ASSERT_EQ(post(*admin, inner.dump()).status, 200);

    std::this_thread::sleep_for(1500ms);
    const json redeem = {{"redemption", "measure"}, {"token", "rep-1"}};
    const Answer partial = post(*admin, redeem.dump());
    ASSERT_EQ(partial.body.value("envelope", ""), "message") << partial.body.dump(2);
    EXPECT_EQ(partial.body.at("token"), "rep-1");
    // Runs at 0 s and 1 s (the one at 1 s may be late on a loaded machine); never the one at 2 s.
    EXPECT_GE(partial.body.at("contents").size(), 1u);
    EXPECT_LE(partial.body.at("contents").size(), 2u);

    std::this_thread::sleep_for(2000ms);
    const Answer all = post(*admin, redeem.dump());
    ASSERT_EQ(all.body.value("envelope", ""), "message") << all.body.dump(2);
    ASSERT_EQ(all.body.at("contents").size(), 3u) << all.body.dump(2);
    std::set<std::string> tokens;
    for (const auto& r : all.body.at("contents")) {
        EXPECT_EQ(r.at("result"), "measure");
        ASSERT_EQ(r.at("resultvalues").size(), 1u);
        EXPECT_EQ(r.at("resultvalues").at(0).at(2).get<uint64_t>(), 292u);  // a reading: the count since the start
        tokens.insert(r.at("token").get<std::string>());
    }
    EXPECT_EQ(tokens.size(), 3u) << "each run has a token of its own";
    EXPECT_EQ(post(*admin, redeem.dump()).status, 404) << "handed out once complete";

    std::this_thread::sleep_for(3000ms);  // rep-2: runs at 0 s and 3 s, each 2 s long
    const Answer runs = post(*admin, json({{"redemption", "measure"}, {"token", "rep-2"}}).dump());
    ASSERT_EQ(runs.body.value("envelope", ""), "message") << runs.body.dump(2);
    ASSERT_EQ(runs.body.at("contents").size(), 2u) << runs.body.dump(2);
    for (const auto& r : runs.body.at("contents")) {
        EXPECT_EQ(r.at("resultvalues").size(), 2u) << r.dump(2);
        const std::string when = r.at("when");
        EXPECT_EQ(mplane_time(json(when.substr(when.find(" ... ") + 5))) - mplane_time(json(when.substr(0, when.find(" ... ")))),
                  2'000'000'000) << when;
    }
    // Repetition is for measurements.
    json stop = spec("weir-stop", "", "", "repeat now + 3s / 1s", json::array({"time"}));
    const Answer refused = post(*admin, stop.dump());
    EXPECT_EQ(refused.status, 400);
    EXPECT_FALSE(engine_->stop_requested());
}

// Indirect export: a repository (a real HTTP server here) receives one result message per period
// while the export runs, and none after its interrupt.
TEST_F(MplaneE2E, ExportsPeriodicResultsToARepository) {
    httplib::Server repo;
    std::mutex mu;
    std::vector<json> received;
    repo.Post("/repository/result", [&](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard<std::mutex> g(mu);
        EXPECT_EQ(req.get_header_value("Content-Type"), kType);
        received.push_back(json::parse(req.body));
        res.set_content("", "text/plain");
    });
    const int repo_port = repo.bind_to_any_port("127.0.0.1");
    ASSERT_GT(repo_port, 0);
    std::thread repo_thread([&] { repo.listen_after_bind(); });
    const auto count = [&] {
        std::lock_guard<std::mutex> g(mu);
        return received.size();
    };

    start_tls_engine(pcap_dir() + "/443-firefox.pcap");
    auto admin = client("client-1");
    const std::string url = "http://127.0.0.1:" + std::to_string(repo_port) + "/repository/result";
    json exp = spec("weir-counter-pktcnt-export", "counter", "pktcnt", "now ... future / 1s", counter_results());
    exp["parameters"]["repository.url"] = url;
    exp["token"] = "export-1";
    const Answer receipt = post(*admin, exp.dump());
    ASSERT_EQ(receipt.status, 200) << receipt.body.dump(2);
    EXPECT_EQ(receipt.body.value("receipt", ""), "measure");
    for (int i = 0; i < 40 && count() < 2; ++i) {
        std::this_thread::sleep_for(100ms);
    }
    const Answer stopped = post(*admin, json({{"interrupt", "measure"}, {"token", "export-1"}}).dump());
    ASSERT_EQ(stopped.body.value("result", ""), "measure") << stopped.body.dump(2);
    const std::size_t rows = stopped.body.at("resultvalues").size();
    EXPECT_GE(rows, 3u);  // two periods and the cut one
    for (int i = 0; i < 20 && count() < rows; ++i) {
        std::this_thread::sleep_for(50ms);
    }
    std::this_thread::sleep_for(1500ms);  // nothing more comes after the interrupt
    EXPECT_EQ(count(), rows);
    {
        std::lock_guard<std::mutex> g(mu);
        for (std::size_t i = 0; i < received.size(); ++i) {
            const json& r = received[i];
            EXPECT_EQ(r.value("result", ""), "measure") << r.dump(2);
            EXPECT_EQ(r.at("token"), "export-1");
            EXPECT_EQ(r.at("parameters").at("repository.url"), url);
            ASSERT_EQ(r.at("resultvalues").size(), 1u);
            EXPECT_EQ(r.at("resultvalues").at(0), stopped.body.at("resultvalues").at(i)) << "the same rows, in order";
            EXPECT_EQ(r.at("when"), r.at("resultvalues").at(0).at(0).get<std::string>() + " ... " +
                                        r.at("resultvalues").at(0).at(1).get<std::string>());
        }
    }
    EXPECT_EQ(read_u64(*engine_, "mplane", "exported"), rows);
    EXPECT_EQ(read_u64(*engine_, "mplane", "export_failed"), 0u);

    // A repository nobody listens on: counted as failed, the composition carries on.
    json nowhere = exp;
    nowhere["parameters"]["repository.url"] = "http://127.0.0.1:" + std::to_string(free_port()) + "/";
    nowhere["when"] = "now + 1s / 1s";
    nowhere["token"] = "export-2";
    ASSERT_EQ(post(*admin, nowhere.dump()).status, 200);
    for (int i = 0; i < 50 && read_u64(*engine_, "mplane", "export_failed") == 0; ++i) {
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(read_u64(*engine_, "mplane", "export_failed"), 1u);
    json ftp = exp;
    ftp["parameters"]["repository.url"] = "ftp://127.0.0.1/";
    ftp["token"] = "export-3";
    const Answer bad = post(*admin, ftp.dump());
    EXPECT_EQ(bad.status, 400);
    EXPECT_NE(bad.body.value("message", "").find("must be an http:// or https:// URL"), std::string::npos);
    repo.stop();
    repo_thread.join();
}

// A log group switched off for a period: TstatLogWriter's logs_off control written over a range.
// TCP connections that close meanwhile are counted (suppressed) but get no line in
// log_tcp_complete; once the period is over the log is written again.
TEST_F(MplaneE2E, LogGroupOffForAPeriod) {
    const std::string logdir = dir_ + "/live-logs";
    std::filesystem::remove_all(logdir);
    if (!start_live_engine(R"(
    <threadpool id="flows" num_threads="1"/>
    <block id="meter" type="FlowMeter" invocation="indirect" threadpool="flows"/>
    <block id="logs" type="TstatLogWriter"><params><log dir=")" + logdir + R"("/></params></block>
    <connection src_block="src" src_gate="source_out" dst_block="meter" dst_gate="in_pkt"/>
    <connection src_block="meter" src_gate="out_flow" dst_block="logs" dst_gate="in_flow"/>)",
                           true)) {
        GTEST_SKIP() << "live capture on lo needs CAP_NET_RAW";
    }
    auto admin = client("client-1");
    json off = spec("weir-logs-logs_off-set", "logs", "logs_off", "now + 4s", json::array({"time", "weir.control.value"}));
    off["parameters"]["weir.control.value"] = "tcp_complete";
    off["token"] = "tcp-off";
    const auto sent = std::chrono::steady_clock::now();
    const Answer receipt = post(*admin, off.dump());
    ASSERT_EQ(receipt.status, 200) << receipt.body.dump(2);
    EXPECT_EQ(std::get<std::string>(*engine_->read_variable("logs", "logs_off")), "tcp_complete");
    tcp_connections(5);
    // Flows closed by their FINs go out at the meter's next tick (each second).
    EXPECT_EQ(wait_for_value("logs", "suppressed", 5), 5u) << "the flows did not end within the period";
    EXPECT_EQ(read_u64(*engine_, "logs", "tcp_complete"), 0u);
    EXPECT_LT(std::chrono::steady_clock::now() - sent, 4s) << "too slow to tell: the period was over";

    std::this_thread::sleep_until(sent + 4300ms);
    EXPECT_EQ(std::get<std::string>(*engine_->read_variable("logs", "logs_off")), "") << "not put back";
    tcp_connections(3);
    EXPECT_EQ(wait_for_value("logs", "tcp_complete", 3), 3u);
    EXPECT_EQ(read_u64(*engine_, "logs", "suppressed"), 5u);
    const Answer result = post(*admin, json({{"redemption", "measure"}, {"token", "tcp-off"}}).dump());
    ASSERT_EQ(result.body.value("result", ""), "measure") << result.body.dump(2);
    EXPECT_EQ(result.body.at("resultvalues").at(0).at(1), "tcp_complete");
    EXPECT_EQ(result.body.at("resultvalues").at(1).at(1), "");

    // A value the control refuses is an exception, and nothing changes.
    json bad = off;
    bad["parameters"]["weir.control.value"] = "tcp_everything";
    bad["token"] = "bad-off";
    const Answer refused = post(*admin, bad.dump());
    EXPECT_EQ(refused.status, 400);
    EXPECT_NE(refused.body.value("message", "").find("logs_off takes a comma list"), std::string::npos);

    engine_->request_stop();
    ASSERT_TRUE(engine_->wait_for(10s));
    // The file itself: Tstat's header and the 3 connections that closed after the period.
    int lines = -1;
    for (const auto& e : std::filesystem::recursive_directory_iterator(logdir)) {
        if (e.path().filename() == "log_tcp_complete") {
            std::ifstream in(e.path());
            std::string line;
            for (lines = 0; std::getline(in, line);) {
                lines += line.rfind('#', 0) == 0 ? 0 : 1;
            }
        }
    }
    EXPECT_EQ(lines, 3);
}

// A control written over a range is put back at its end: PacketSizeFilter's max for 1 s.
TEST_F(MplaneE2E, ControlWrittenForAPeriodIsRestored) {
    start_tls_engine(pcap_dir() + "/443-firefox.pcap");
    auto admin = client("client-1");
    json set = spec("weir-small-max-set", "small", "max", "now + 1s", json::array({"time", "weir.control.value"}));
    set["parameters"]["weir.control.value"] = "300";
    set["token"] = "max-1s";
    const Answer receipt = post(*admin, set.dump());
    ASSERT_EQ(receipt.status, 200) << receipt.body.dump(2);
    EXPECT_EQ(std::get<uint64_t>(*engine_->read_variable("small", "max")), 300u);
    std::this_thread::sleep_for(1300ms);
    EXPECT_EQ(std::get<uint64_t>(*engine_->read_variable("small", "max")), 128u);
    const Answer result = post(*admin, json({{"redemption", "measure"}, {"token", "max-1s"}}).dump());
    ASSERT_EQ(result.body.value("result", ""), "measure") << result.body.dump(2);
    ASSERT_EQ(result.body.at("resultvalues").size(), 2u);
    EXPECT_EQ(result.body.at("resultvalues").at(0).at(1), "300");
    EXPECT_EQ(result.body.at("resultvalues").at(1).at(1), "128");
}

}  // namespace
}  // namespace weir::testing
