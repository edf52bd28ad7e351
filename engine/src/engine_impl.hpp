// Engine internals shared by the loader, the runtime and the reports. Not installed.
#pragma once

#include <weir/block.hpp>
#include <weir/engine.hpp>
#include <weir/registry.hpp>
#include <weir/ring.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace weir::detail {

struct BlockState;
struct Worker;

struct Link {
    BlockState* src = nullptr;
    OutputId src_gate = 0;
    BlockState* dst = nullptr;
    InputId dst_gate = 0;
    bool direct = true;
    OverflowPolicy policy = OverflowPolicy::kDrop;
    std::size_t capacity = 0;
    std::unique_ptr<SpscRing<const Message*>> ring;  // null for direct calls
    int line = 0;
    std::string label;
    Counter pushed;           // written by the producer thread
    Counter dropped;          // producer thread
    Counter dropped_packets;  // producer thread
    Counter popped;           // consumer thread
};

struct ThreadpoolSpec {
    std::string id;
    int num_threads = 1;
    std::vector<int> cores;
    int line = 0;
};

struct BlockState {
    EngineImpl* engine = nullptr;
    std::unique_ptr<BlockSetup> setup;  // keeps the declarations (gates, params, variables)
    std::unique_ptr<Block> block;
    const BlockInfo* info = nullptr;
    std::string id;
    std::string type;  // registered name (not the alias written)
    Invocation invocation = Invocation::kDirect;
    std::string pool;
    int line = 0;
    Worker* home = nullptr;  // thread that calls this block; null for an unfed direct block

    std::vector<std::vector<Link*>> outputs;  // per output gate
    std::vector<Link*> inputs;                // every link into this block
    std::vector<Link*> rings_in;              // the ring links among them
    std::atomic<int> producers_left{0};       // links whose source has not finished
    std::atomic<bool> finished{false};
    std::atomic<bool> failed{false};
    Counter discarded;  // messages that reached this block after it failed
    // The switch Engine::set_enabled flips (e.g. the mPlane bridge's weir-<block>-disable): while
    // set, input messages are dropped and counted, and a source's run() is not called. One
    // relaxed load per delivered message (a batch) or per run() call; nothing else.
    std::atomic<bool> disabled{false};
    Counter disabled_drops;  // home thread only (deliver runs there)

    void attach() { block->state_ = this; }
    void deliver(InputId gate, const Message& m);
    void finish();
};

struct ActiveTimer {
    BlockState* block = nullptr;
    TimerId id = 0;
    int64_t period_ns = 0;
    int64_t next_ns = 0;  // 0 = not armed yet (armed at the first clock reading)
};

struct Worker {
    EngineImpl* engine = nullptr;
    std::string pool;
    int index = 0;  // within the pool
    int core = -1;  // -1 = not pinned
    std::vector<BlockState*> async_blocks;
    std::vector<BlockState*> indirect_blocks;
    std::vector<BlockState*> hosted;  // every block whose home is this thread
    std::vector<ActiveTimer> timers;
    int64_t packet_clock_ns = 0;
    int64_t next_timer_ns = 0;  // earliest deadline (0 = some timer not armed yet)
    std::thread thread;

    int64_t now_ns() const noexcept;
    // Packet time moves forward with every message a thread sees. Timers that fall due fire right
    // there, before the message that crossed their deadline, so results on a trace are the same
    // on every run, whatever the threads' timing.
    void observe(int64_t t) {
        if (t > packet_clock_ns) {
            packet_clock_ns = t;
            if (packet_clock && t >= next_timer_ns && !timers.empty()) {
                fire_timers();
            }
        }
    }
    bool packet_clock = false;
    void loop();
    // Pops and delivers up to `budget` messages to an indirect block; returns how many.
    std::size_t service(BlockState& b, std::size_t budget);
    void fire_timers();
    bool all_finished() const;
};

struct EngineImpl {
    Engine* owner = nullptr;
    std::string file;
    std::string composition_id;
    ClockType clock = ClockType::kWall;
    std::vector<ThreadpoolSpec> pools;
    std::vector<std::unique_ptr<BlockState>> blocks;  // in composition order
    std::vector<std::unique_ptr<Link>> links;
    std::vector<std::unique_ptr<Worker>> workers;

    std::atomic<bool> stop{false};
    std::atomic<bool> aborted{false};
    std::atomic<int> running_workers{0};
    bool hold_open = false;  // some block asked to stay open until a stop is requested
    std::mutex done_mutex;
    bool launched = false;
    bool joined = false;

    mutable std::mutex error_mutex;
    std::vector<std::string> errors;

    BlockState* find(std::string_view id) const;
    void fail(BlockState& b, const std::string& what);
    void add_error(const std::string& what);
    void push(Link& l, const Message& m);
};

// Loader entry point (loader.cpp).
void load_composition(EngineImpl& impl, std::string_view xml, const std::string& name,
                      const LoadOptions& opts);
// Thread assignment and link wiring after blocks and connections are known (engine.cpp).
void plan_threads(EngineImpl& impl);

int64_t wall_clock_ns() noexcept;
extern thread_local Worker* current_worker;

}  // namespace weir::detail
