// The component side of mPlane over a running composition: capabilities derived from its
// variables, specifications checked and run, receipts, redemptions and interrupts.
//
// Capabilities (labels readable and stable; every one carries the single-valued parameters
// weir.block and weir.variable, so that a specification matches exactly one by its schema):
//   weir-<block>-<variable>           counter: one row start, end, weir.count (growth in [start, end];
//                                     for "now", since the composition started); gauge: time, value
//   weir-<block>-<variable>-periodic  the same, one row per period ("now + 1m / 10s")
//   weir-<block>-<variable>-set       write a control (parameter weir.control.value): "now" writes it
//                                     for good; a range ("now + 30s") writes it at the start and puts
//                                     the value read before back at the end or on interrupt
//   weir-<block>-<variable>-export    the periodic measurement, each row also posted as a result
//                                     message to the parameter repository.url (indirect export):
//                                     starts with the scope, stops at its end or on interrupt
//   weir-<block>-disable              switch a block off for a range ("now + 30s"; "now ... future"
//                                     until interrupted): one row start, end, weir.drops (messages
//                                     dropped at its inputs meanwhile); overlapping ones nest
//   weir-stop                         stop the composition (it drains and exits)
// A measurement may be repeated ("repeat now + 10m / 1m { now + 10s }"): one receipt, one run per
// interval, redeemed as an envelope of the runs' results (all so far; the job ends with its last run).
//
// Thread safety: every public function may be called from any thread. Jobs run on one scheduler
// thread of the Service. Variables are read through their read functions, which only load atomics;
// nothing here takes a lock the packet path waits on.
#pragma once

#include <weir/block.hpp>
#include <weir/mplane/access.hpp>
#include <weir/mplane/message.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace weir::mplane {

inline constexpr std::string_view kWeirRegistryUri = "http://weir.invalid/mplane/registry/weir";

// One block variable the service exposes.
struct Target {
    std::string block;
    std::string block_type;
    VariableSpec spec;
};

// One block the service may switch off (Engine::set_enabled through the bridge).
struct Switch {
    std::string block;
    std::string block_type;
    std::function<void(bool)> set_enabled;
    std::function<uint64_t()> drops;  // input messages dropped while disabled, so far
};

struct ServiceConfig {
    std::string composition;        // metadata weir.composition
    std::string link;               // capabilities' link: where to POST specifications
    int64_t min_period_ns = 1'000'000'000;
    std::size_t max_jobs = 1024;    // pending and finished-but-unredeemed specifications
    std::size_t max_rows = 100'000; // per job: a periodic job stops adding rows beyond this
    int64_t keep_results_ns = 600'000'000'000;  // finished jobs not redeemed are dropped after this
    AccessPolicy access;            // identity -> capability
    std::vector<Switch> switches;   // weir-<block>-disable, one per entry
    // Indirect export: queue a message body for a repository URL (never blocks). Empty: no
    // -export capabilities.
    std::function<void(std::string url, std::string body)> export_results;
};

// What to send back: the message and the HTTP status that goes with it.
struct Reply {
    Message message;
    int status = 200;
    bool final = true;  // false: a repeated job's results so far; more will come
};

class Service {
public:
    // `start_ns`: when the composition started (the window of counters read "now").
    // `stop_composition`: requests the composition's stop (weir-stop).
    Service(const Registry& reg, ServiceConfig cfg, std::vector<Target> targets, int64_t start_ns,
            std::function<void()> stop_composition);
    ~Service();
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;

    const Registry& registry() const { return reg_; }
    // The capabilities `identity` may see.
    std::vector<Message> capabilities(const std::string& identity) const;
    const Message* capability_by_token(std::string_view token, const std::string& identity) const;
    // A specification, redemption or interrupt in; a receipt, result or exception out.
    Reply handle(const Message& in, const std::string& identity);
    // The same from a request body; malformed input becomes an exception naming the problem.
    Reply handle_text(std::string_view body, const std::string& identity);
    // Jobs not finished yet (the receipts still out).
    std::size_t pending() const;

    // Counts for the block's variables.
    std::atomic<uint64_t> specifications{0};
    std::atomic<uint64_t> results{0};
    std::atomic<uint64_t> exceptions{0};
    std::atomic<uint64_t> refused{0};

private:
    enum class CapType { kMeasure, kPeriodic, kControl, kStop, kDisable, kExport };
    struct Cap {
        Message msg;
        CapType type = CapType::kMeasure;
        const Target* target = nullptr;
        const Switch* sw = nullptr;  // kDisable
        Prim value_prim = Prim::kNatural;  // gauges: the value column's primitive
    };
    struct Job {
        Message spec;  // with the capability's label and a token
        const Cap* cap = nullptr;
        std::string identity;
        int64_t start_ns = 0;
        int64_t end_ns = 0;   // kFuture: until interrupted
        int64_t period_ns = 0;
        int64_t next_ns = 0;  // the next time the scheduler must act
        bool started = false;
        bool done = false;
        int64_t done_at = 0;
        int64_t window_start = 0;
        uint64_t base = 0;    // counters: the value at window_start; kDisable: drops at the start
        std::string value;    // kControl over a range: the value to write
        std::string restore;  // kControl over a range: the value read before the write
        // Repeated specifications: the job spawns one run (a job of its own) per interval and
        // collects their results; a run names its repeated job in `parent`.
        int64_t every_ns = 0;
        uint64_t runs = 0;
        int children = 0;  // runs not finished
        bool all_spawned = false;
        std::vector<Message> finished;
        std::string parent;
        std::string export_url;  // kExport: where each row goes
        std::vector<std::vector<std::string>> rows;
    };

    void build_capabilities(const std::vector<Target>& targets);
    Message make_cap(std::string label, CapType type, const Target* t, Prim value_prim,
                     const Switch* sw = nullptr);
    Reply run_specification(const Message& spec, const std::string& identity);
    Reply redeem(const Message& in, const std::string& identity, bool interrupt);
    Reply fail(const std::string& token, const std::string& text, int status);
    Message result_of(const Job& j) const;
    Message receipt_of(const Job& j) const;
    // Scheduler side (mu_ held).
    void act(Job& j, int64_t now);
    void close_window(Job& j, int64_t now);
    void arm(Job& j, int64_t now);  // a measurement from its start and end: started, answered or scheduled
    void spawn_run(Job& parent, int64_t now);
    void adopt(Job& parent, const Job& run, int64_t now);
    Message envelope_of(const Job& j, int64_t now) const;
    // Range jobs of controls and switches: apply at the start, undo at the end (mu_ held).
    void begin(Job& j, int64_t now);
    void set_switch(const Switch& sw, bool off);
    std::string read_value(const Cap& c) const;
    void scheduler_loop();

    const Registry& reg_;
    ServiceConfig cfg_;
    std::vector<Target> targets_;
    int64_t start_ns_;
    std::function<void()> stop_composition_;
    std::vector<std::unique_ptr<Cap>> caps_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::map<std::string, Job, std::less<>> jobs_;  // by token
    std::map<const Switch*, int> disabled_;          // running weir-<block>-disable jobs per block
    uint64_t serial_ = 0;
    bool quit_ = false;
    std::thread scheduler_;
};

int64_t wall_now_ns();
// A fresh random token (32 hex digits).
std::string random_token();

}  // namespace weir::mplane
