// MplaneBridge — the composition's variables as mPlane capabilities, for mPlane clients and
// supervisors (docs/mplane.md). Place it in any composition; it has no gates.
//
// Invocation: direct (it runs no packet code: its HTTP and scheduler threads are its own).
// Params: workflow.mode (client-initiated | component-initiated); listen.host, listen.port
//   (0 = any free port), listen.plain (plain HTTP, loopback only), listen.threads; tls.cert,
//   tls.key, tls.ca (PEM); access.file (roles and authorisations, RI format); link;
//   supervisor.url, supervisor.poll, supervisor.register_path, supervisor.specification_path,
//   supervisor.result_path; registry.dir; period.min; results.keep; jobs.max; serve.until_stopped;
//   stop.linger (how long to keep serving after a weir-stop).
// Gates: none.
// Variables: port, requests, specifications, results, exceptions, refused, pending (gauges);
//   posted, withdrawals (component-initiated); exported, export_failed, export_dropped (indirect
//   export to repositories).
// Capabilities: see weir/mplane/service.hpp and docs/mplane.md: weir-<block>-<variable> (a reading
//   or a window), ...-periodic, ...-export (periodic rows posted to repository.url), ...-set (a
//   control, for good or for a range), weir-<block>-disable (the engine's switch for a range),
//   weir-stop. Measurements may be repeated ("repeat now + 10m / 1m { now + 10s }").
#pragma once

#include <weir/block.hpp>
#include <weir/mplane/http.hpp>
#include <weir/mplane/registry.hpp>
#include <weir/mplane/service.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace weir::blocks {

class MplaneBridge final : public Block {
public:
    explicit MplaneBridge(BlockSetup& s);
    ~MplaneBridge() override;
    void start() override;
    void flush() override;  // at launch (no inputs): every block has started; serve the composition
    void shutdown() override;

private:
    uint64_t service_count(std::atomic<uint64_t> mplane::Service::*field) const;

    std::string block_id_;
    bool component_initiated_ = false;
    std::string host_;
    int port_ = 0;
    bool plain_ = false;
    int threads_ = 8;
    mplane::TlsFiles tls_;
    std::string access_file_;
    std::string link_;
    mplane::InitiatorConfig initiator_cfg_;
    std::string registry_dir_;
    int64_t min_period_ns_ = 0;
    int64_t keep_ns_ = 0;
    uint32_t max_jobs_ = 0;
    int64_t stop_linger_ns_ = 0;
    std::atomic<int64_t> stopped_by_mplane_ns_{0};  // wall time of a weir-stop; 0 = none

    mplane::Registry registry_;
    mplane::AccessPolicy access_;
    std::unique_ptr<mplane::Service> service_;
    std::atomic<mplane::Service*> live_{nullptr};  // what the HTTP threads use; null until launch
    std::unique_ptr<mplane::Listener> listener_;
    std::unique_ptr<mplane::Initiator> initiator_;
    std::unique_ptr<mplane::Exporter> exporter_;
    std::atomic<int> bound_port_{0};
};

}  // namespace weir::blocks
