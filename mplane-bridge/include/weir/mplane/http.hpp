// The mPlane HTTP bindings, as the reference implementation speaks them.
//
// Listener (client-initiated workflow; the component is the HTTP server):
//   GET  /capability          envelope of the capabilities the caller may see
//   GET  /capability/<token>  one capability
//   POST /  (or /specification)  specification, redemption or interrupt -> receipt, result or exception
// Every mPlane body is Content-Type application/x-mplane+json. With TLS the client must present a
// certificate signed by the configured CA (TLS 1.2 or later); its subject DN, the fields' values
// joined by '.', is the identity the access policy checks. Without TLS every caller is
// "Identity.Unauthenticated.Default" and the policy is not applied (tests, loopback only).
//
// Initiator (component-initiated workflow; the supervisor is the HTTP server): registers the
// capabilities (POST registration path, an envelope with a "callback" capability), polls the
// specification path for an envelope of specifications and interrupts, and posts receipts and
// results to the result path. A 428 reply means "register again". When it stops it withdraws its
// capabilities: an envelope of withdrawals posted to the registration path.
#pragma once

#include <weir/mplane/service.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace httplib {
class Server;
}

namespace weir::mplane {

inline constexpr std::string_view kUnauthenticated = "Identity.Unauthenticated.Default";

struct TlsFiles {
    std::string cert;  // PEM certificate (chain) of this side
    std::string key;   // PEM private key
    std::string ca;    // PEM CA certificate(s) the peer's certificate must chain to
    bool enabled() const { return !cert.empty(); }
};

// Provides the service once the composition runs; nullptr before (requests then get 503).
using ServiceRef = std::function<Service*()>;

class Listener {
public:
    // Throws std::runtime_error when the TLS files do not load or the port cannot be bound.
    Listener(ServiceRef service, const std::string& host, int port, const TlsFiles& tls, int threads);
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    int port() const { return port_; }
    void stop();
    std::atomic<uint64_t> requests{0};

private:
    void routes();
    ServiceRef service_;
    std::unique_ptr<httplib::Server> server_;
    int port_ = 0;
    std::thread thread_;
};

struct InitiatorConfig {
    std::string url;  // the supervisor: http(s)://host:port
    std::string registration_path = "/register/capability";
    std::string specification_path = "/show/specification";
    std::string result_path = "/register/result";
    int64_t poll_ns = 5'000'000'000;
    TlsFiles tls;
};

class Initiator {
public:
    // Throws std::runtime_error for a URL it cannot use.
    Initiator(ServiceRef service, InitiatorConfig cfg);
    ~Initiator();
    Initiator(const Initiator&) = delete;
    Initiator& operator=(const Initiator&) = delete;

    void stop();
    std::atomic<uint64_t> registrations{0};
    std::atomic<uint64_t> polls{0};
    std::atomic<uint64_t> posted{0};
    std::atomic<uint64_t> withdrawals{0};  // envelopes of withdrawals the supervisor accepted
    std::atomic<uint64_t> errors{0};

private:
    void loop();
    ServiceRef service_;
    InitiatorConfig cfg_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool quit_ = false;
    std::thread thread_;
};

// Indirect export: posts mPlane messages (results of weir-<block>-<variable>-export jobs) to
// repository URLs, http(s)://host[:port][/path], on a thread of its own, so that a slow or absent
// repository never holds up the scheduler. post() only queues; a full queue drops and counts.
// With TLS files it presents the bridge's certificate and checks the repository's against tls.ca.
class Exporter {
public:
    explicit Exporter(TlsFiles tls, std::size_t max_queue = 4096);
    ~Exporter();
    Exporter(const Exporter&) = delete;
    Exporter& operator=(const Exporter&) = delete;

    void post(std::string url, std::string body);
    void stop();  // what is still queued is dropped (counted)
    std::atomic<uint64_t> exported{0};  // accepted by the repository (2xx)
    std::atomic<uint64_t> failed{0};    // refused or unreachable
    std::atomic<uint64_t> dropped{0};   // queue full, or left at stop

private:
    void loop();
    TlsFiles tls_;
    std::size_t max_queue_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::pair<std::string, std::string>> queue_;
    bool quit_ = false;
    std::thread thread_;
};

}  // namespace weir::mplane
