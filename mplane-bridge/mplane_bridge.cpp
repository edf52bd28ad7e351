#include "mplane_bridge.hpp"

#include <weir/engine.hpp>
#include <weir/registry.hpp>

#include <arpa/inet.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#ifndef WEIR_MPLANE_REGISTRY_DIR
#define WEIR_MPLANE_REGISTRY_DIR "mplane-bridge/registry"
#endif

namespace weir::blocks {

namespace {

bool loopback(const std::string& host) {
    if (host == "localhost" || host == "::1") {
        return true;
    }
    unsigned char a[4];
    return inet_pton(AF_INET, host.c_str(), a) == 1 && a[0] == 127;
}

}  // namespace

MplaneBridge::MplaneBridge(BlockSetup& s) : Block(s), block_id_(s.id()) {
    const int line = s.param_input().line;
    const auto refuse = [&](const std::string& what) {
        return ParamError(line, "block '" + s.id() + "' (MplaneBridge): " + what);
    };
    component_initiated_ = s.choice("workflow.mode", "client-initiated", {"client-initiated", "component-initiated"},
                                    "client-initiated: serve HTTP(S) to mPlane clients; component-initiated: "
                                    "register with supervisor.url and poll it for specifications") ==
                           "component-initiated";
    host_ = s.param<std::string>("listen.host", "127.0.0.1", "address to listen on (client-initiated)");
    const uint32_t port = s.param<uint32_t>("listen.port", 8888, "TCP port to listen on; 0 = any free port "
                                                                 "(read it from the variable 'port')");
    if (port > 65535) {
        throw refuse("listen.port must be 0..65535");
    }
    port_ = static_cast<int>(port);
    plain_ = s.param<bool>("listen.plain", false,
                           "plain HTTP without TLS or access control; only on a loopback address (tests)");
    threads_ = s.param<int>("listen.threads", 8, "HTTP worker threads (one per open connection)");
    if (threads_ < 1 || threads_ > 64) {
        throw refuse("listen.threads must be 1..64");
    }
    tls_.cert = s.param<std::string>("tls.cert", "", "PEM certificate of this component");
    tls_.key = s.param<std::string>("tls.key", "", "PEM private key of this component");
    tls_.ca = s.param<std::string>("tls.ca", "", "PEM CA certificate(s) peers' certificates must chain to");
    access_file_ = s.param<std::string>(
        "access.file", "", "roles and authorisations ([Roles] identity = roles, [Authorizations] label part = "
                           "roles); empty: every certificate the CA signed may use every capability");
    link_ = s.param<std::string>("link", "", "the URL capabilities name for specifications; "
                                             "default http(s)://listen.host:port/");
    initiator_cfg_.url = s.param<std::string>("supervisor.url", "", "component-initiated: the supervisor, "
                                                                     "http(s)://host:port");
    initiator_cfg_.poll_ns = s.duration_ns("supervisor.poll", "5s", "how often to ask the supervisor for "
                                                                  "specifications and post finished results");
    initiator_cfg_.registration_path = s.param<std::string>("supervisor.register_path", "/register/capability",
                                                            "where capabilities are registered");
    initiator_cfg_.specification_path = s.param<std::string>("supervisor.specification_path",
                                                             "/show/specification", "where specifications are polled");
    initiator_cfg_.result_path = s.param<std::string>("supervisor.result_path", "/register/result",
                                                      "where receipts and results are posted");
    registry_dir_ = s.param<std::string>("registry.dir", WEIR_MPLANE_REGISTRY_DIR,
                                         "folder of core.json and weir.json, the element registries");
    min_period_ns_ = s.duration_ns("period.min", "1s", "shortest period a periodic capability accepts "
                                                       "(whole seconds)");
    if (min_period_ns_ < 1'000'000'000 || min_period_ns_ % 1'000'000'000 != 0) {
        throw refuse("period.min must be whole seconds, at least 1s (mPlane durations are in seconds)");
    }
    keep_ns_ = s.duration_ns("results.keep", "10m", "how long a finished result waits for its redemption");
    max_jobs_ = s.param<uint32_t>("jobs.max", 1024, "specifications pending or waiting for redemption, at most");
    stop_linger_ns_ = s.duration_ns("stop.linger", "1s",
                                    "after a weir-stop, how long the bridge keeps serving while the composition "
                                    "stops (the RI client connects again after every reply to learn the "
                                    "component's identity)");
    if (s.param<bool>("serve.until_stopped", true,
                      "keep serving after the sources are done, until the composition is stopped "
                      "(a signal or the weir-stop capability)")) {
        s.hold_open();
    }
    if (component_initiated_) {
        if (initiator_cfg_.url.empty()) {
            throw refuse("workflow.mode=\"component-initiated\" needs supervisor.url");
        }
        if (!access_file_.empty()) {
            throw refuse("access.file applies to client-initiated mode; in component-initiated mode the "
                         "supervisor authorises its clients");
        }
    } else if (plain_) {
        if (!loopback(host_)) {
            throw refuse("listen.plain serves without TLS, so only on a loopback address (127.0.0.1, ::1), "
                         "not '" + host_ + "'");
        }
    } else if (!s.describing() && (tls_.cert.empty() || tls_.key.empty() || tls_.ca.empty())) {
        throw refuse("TLS needs tls.cert, tls.key and tls.ca (scripts/make-mplane-certs.sh makes a set); "
                     "or listen.plain=\"true\" on loopback for tests");
    }
    if (!access_file_.empty() && plain_) {
        throw refuse("access.file needs TLS: without certificates there are no identities to check");
    }

    const auto count = [this](std::atomic<uint64_t> mplane::Service::*field) {
        return [this, field] { return VarValue{service_count(field)}; };
    };
    s.gauge("port", [this] { return VarValue{static_cast<uint64_t>(bound_port_.load())}; }, "",
            "the TCP port served (client-initiated)");
    s.gauge("requests", [this] {
        return VarValue{listener_ ? listener_->requests.load(std::memory_order_relaxed) : uint64_t{0}};
    }, "requests", "HTTP requests received");
    s.gauge("specifications", count(&mplane::Service::specifications), "messages", "specifications received");
    s.gauge("results", count(&mplane::Service::results), "messages", "results delivered");
    s.gauge("exceptions", count(&mplane::Service::exceptions), "messages",
            "mPlane exceptions sent (malformed or refused requests)");
    s.gauge("refused", count(&mplane::Service::refused), "messages",
            "specifications refused because the identity may not use the capability");
    s.gauge("pending", [this] {
        mplane::Service* svc = live_.load(std::memory_order_acquire);
        return VarValue{static_cast<uint64_t>(svc ? svc->pending() : 0)};
    }, "specifications", "receipts out whose measurement is still running");
    s.gauge("posted", [this] {
        return VarValue{initiator_ ? initiator_->posted.load(std::memory_order_relaxed) : uint64_t{0}};
    }, "messages", "component-initiated: receipts, results and exceptions posted to the supervisor");
    s.gauge("withdrawals", [this] {
        return VarValue{initiator_ ? initiator_->withdrawals.load(std::memory_order_relaxed) : uint64_t{0}};
    }, "messages", "component-initiated: envelopes of withdrawals the supervisor took (at shutdown)");
    const auto exports = [this](std::atomic<uint64_t> mplane::Exporter::*field) {
        return [this, field] {
            return VarValue{exporter_ ? (exporter_.get()->*field).load(std::memory_order_relaxed) : uint64_t{0}};
        };
    };
    s.gauge("exported", exports(&mplane::Exporter::exported), "messages",
            "results posted to repositories (indirect export) and accepted");
    s.gauge("export_failed", exports(&mplane::Exporter::failed), "messages",
            "results a repository refused or that could not reach it");
    s.gauge("export_dropped", exports(&mplane::Exporter::dropped), "messages",
            "results not posted: the export queue was full, or the bridge stopped");
}

MplaneBridge::~MplaneBridge() { shutdown(); }

uint64_t MplaneBridge::service_count(std::atomic<uint64_t> mplane::Service::*field) const {
    const mplane::Service* svc = live_.load(std::memory_order_acquire);
    return svc ? (svc->*field).load(std::memory_order_relaxed) : 0;
}

void MplaneBridge::start() {
    registry_.load_file(registry_dir_ + "/core.json");
    registry_.load_file(registry_dir_ + "/weir.json");
    if (!access_file_.empty()) {
        access_ = mplane::AccessPolicy::load_file(access_file_);
    }
    exporter_ = std::make_unique<mplane::Exporter>(tls_);
    const mplane::ServiceRef ref = [this] { return live_.load(std::memory_order_acquire); };
    if (component_initiated_) {
        initiator_cfg_.tls = tls_;
        initiator_ = std::make_unique<mplane::Initiator>(ref, initiator_cfg_);
        return;
    }
    listener_ = std::make_unique<mplane::Listener>(ref, host_, port_, plain_ ? mplane::TlsFiles{} : tls_, threads_);
    bound_port_.store(listener_->port());
    if (link_.empty()) {
        const bool v6 = host_.find(':') != std::string::npos;
        link_ = std::string(plain_ ? "http" : "https") + "://" + (v6 ? "[" + host_ + "]" : host_) + ":" +
                std::to_string(listener_->port()) + "/";
    }
}

void MplaneBridge::flush() {
    std::vector<mplane::Target> targets;
    for (auto& v : engine().variables()) {
        if (v.block != block_id_) {
            targets.push_back(mplane::Target{v.block, v.block_type, std::move(v.spec)});
        }
    }
    mplane::ServiceConfig cfg;
    cfg.composition = engine().composition_id();
    cfg.link = link_;
    cfg.min_period_ns = min_period_ns_;
    cfg.max_jobs = max_jobs_;
    cfg.keep_results_ns = keep_ns_;
    cfg.access = access_;
    mplane::Exporter* exporter = exporter_.get();
    cfg.export_results = [exporter](std::string url, std::string body) { exporter->post(std::move(url), std::move(body)); };
    Engine* e = &engine();
    for (const auto& block : e->blocks()) {
        const std::string id = block.first;
        if (id != block_id_) {  // switching the bridge off would leave nobody to switch it on
            cfg.switches.push_back(mplane::Switch{id, block.second, [e, id](bool on) { e->set_enabled(id, on); },
                                                  [e, id] { return e->disabled_drops(id); }});
        }
    }
    service_ = std::make_unique<mplane::Service>(registry_, std::move(cfg), std::move(targets),
                                                 mplane::wall_now_ns(), [this, e] {
                                                     stopped_by_mplane_ns_.store(mplane::wall_now_ns());
                                                     e->request_stop();
                                                 });
    live_.store(service_.get(), std::memory_order_release);
}

void MplaneBridge::shutdown() {
    // Requests stop first, then the jobs: nothing reads another block's variables afterwards.
    // After a weir-stop, keep serving for stop.linger from that request, so that the client that
    // sent it can still connect (the RI client does so after each reply, to learn our identity).
    if (const int64_t since = stopped_by_mplane_ns_.load(); listener_ && since > 0) {
        const int64_t left = since + stop_linger_ns_ - mplane::wall_now_ns();
        if (left > 0) {
            std::this_thread::sleep_for(std::chrono::nanoseconds(left));
        }
    }
    if (listener_) {
        listener_->stop();
    }
    if (initiator_) {
        initiator_->stop();
    }
    live_.store(nullptr, std::memory_order_release);
    service_.reset();
    if (exporter_) {
        exporter_->stop();
    }
}

}  // namespace weir::blocks

WEIR_REGISTER_BLOCK(weir::blocks::MplaneBridge, "MplaneBridge", weir::Invocation::kDirect,
                    "serves the composition's variables and controls as mPlane capabilities (HTTPS): "
                    "weir-<block>-<variable> (a reading or a window), ...-periodic, ...-export (rows posted to "
                    "repository.url), ...-set (a control, for good or for a range), weir-<block>-disable (the "
                    "block off for a range), weir-stop; measurements may be repeated (repeat now + 10m / 1m "
                    "{ now + 10s }); see docs/mplane.md")
