// The runtime: thread planning, worker loops, rings, finishing and draining.
#include "engine_impl.hpp"

#include <weir/packet.hpp>

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace weir {
namespace detail {

thread_local Worker* current_worker = nullptr;

int64_t wall_clock_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// Spin, then yield, then sleep. A pinned worker that just ran out of input usually gets more
// within microseconds, and a wake-up from sleep costs far more than that on a VM (50 µs and up),
// so it spins for about 100 µs first; a quiet worker ends up costing one short sleep per 50 µs.
inline void backoff(unsigned n) noexcept {
    if (n < 2048) {
        cpu_relax();
    } else if (n < 2048 + 128) {
        sched_yield();
    } else {
        timespec ts{0, 50'000};
        nanosleep(&ts, nullptr);
    }
}

std::condition_variable done_cv;

}  // namespace

// --- blocks ------------------------------------------------------------------------------------

void BlockState::deliver(InputId gate, const Message& m) {
    if (failed.load(std::memory_order_relaxed)) {
        discarded.add(1);
        return;
    }
    if (disabled.load(std::memory_order_relaxed)) [[unlikely]] {
        disabled_drops.add(1);
        return;
    }
    try {
        block->receive(gate, m);
    } catch (const std::exception& e) {
        engine->fail(*this, e.what());
    } catch (...) {
        engine->fail(*this, "unknown exception");
    }
}

void BlockState::finish() {
    if (finished.load(std::memory_order_relaxed)) {
        return;
    }
    if (!failed.load(std::memory_order_relaxed)) {
        try {
            block->flush();
        } catch (const std::exception& e) {
            engine->fail(*this, std::string("in flush: ") + e.what());
        } catch (...) {
            engine->fail(*this, "in flush: unknown exception");
        }
    }
    finished.store(true, std::memory_order_release);
    for (const auto& gate : outputs) {
        for (Link* l : gate) {
            if (l->dst->producers_left.fetch_sub(1, std::memory_order_acq_rel) == 1 && l->direct) {
                l->dst->finish();
            }
        }
    }
}

// --- engine-wide -------------------------------------------------------------------------------

BlockState* EngineImpl::find(std::string_view id) const {
    for (const auto& b : blocks) {
        if (b->id == id) {
            return b.get();
        }
    }
    return nullptr;
}

void EngineImpl::add_error(const std::string& what) {
    std::lock_guard<std::mutex> g(error_mutex);
    errors.push_back(what);
    std::fprintf(stderr, "engine: error: %s\n", what.c_str());
}

void EngineImpl::fail(BlockState& b, const std::string& what) {
    // Never swallowed: the block stops receiving, its error is reported, the composition stops.
    if (!b.failed.exchange(true)) {
        add_error("block '" + b.id + "' (" + b.type + ") failed: " + what);
    }
    stop.store(true);
}

void EngineImpl::push(Link& l, const Message& m) {
    m.retain();
    if (l.ring->try_push(&m)) {
        l.pushed.add(1);
        return;
    }
    const auto drop = [&] {
        l.dropped.add(1);
        if (const auto* b = m.as<PacketBatch>()) {
            l.dropped_packets.add(b->size());
        }
        m.release();
    };
    if (l.policy == OverflowPolicy::kDrop) {
        drop();
        return;
    }
    Worker* self = current_worker;
    for (unsigned n = 0; !l.ring->try_push(&m); ++n) {
        if (aborted.load(std::memory_order_relaxed)) {
            drop();
            return;
        }
        if (self != nullptr && l.dst->home == self) {
            // The consumer lives on this thread: make room by running it now.
            self->service(*l.dst, 64);
            continue;
        }
        backoff(n);
    }
    l.pushed.add(1);
}

// --- workers -----------------------------------------------------------------------------------

int64_t Worker::now_ns() const noexcept {
    return engine->clock == ClockType::kPacket ? packet_clock_ns : wall_clock_ns();
}

std::size_t Worker::service(BlockState& b, std::size_t budget) {
    std::size_t n = 0;
    for (Link* l : b.rings_in) {
        const Message* m = nullptr;
        while (n < budget && l->ring->try_pop(m)) {
            observe(m->time_ns());
            l->popped.add(1);
            b.deliver(l->dst_gate, *m);
            m->release();
            ++n;
        }
    }
    return n;
}

void Worker::fire_timers() {
    if (timers.empty()) {
        return;
    }
    const int64_t now = now_ns();
    if (now == 0 || now < next_timer_ns) {
        return;  // packet clock before the first packet, or nothing due
    }
    int64_t next = INT64_MAX;
    for (auto& t : timers) {
        if (t.next_ns == 0) {
            t.next_ns = now + t.period_ns;  // armed at the first clock reading
        }
        // Every tick that fell due, in order; after a jump of more than 1000 periods (a trace
        // with a gap of days) the rest are skipped so expiry work stays bounded.
        for (int fired = 0; now >= t.next_ns; ++fired) {
            if (fired == 1000) {
                t.next_ns = now + t.period_ns - (now - t.next_ns) % t.period_ns;
                break;
            }
            if (!t.block->finished.load(std::memory_order_relaxed) &&
                !t.block->failed.load(std::memory_order_relaxed)) {
                try {
                    t.block->block->on_timer(t.id, t.next_ns);
                } catch (const std::exception& e) {
                    engine->fail(*t.block, std::string("in timer: ") + e.what());
                } catch (...) {
                    engine->fail(*t.block, "in timer: unknown exception");
                }
            }
            t.next_ns += t.period_ns;
        }
        next = std::min(next, t.next_ns);
    }
    next_timer_ns = next;
}

bool Worker::all_finished() const {
    const auto done = [](BlockState* b) { return b->finished.load(std::memory_order_acquire); };
    return std::all_of(async_blocks.begin(), async_blocks.end(), done) &&
           std::all_of(indirect_blocks.begin(), indirect_blocks.end(), done);
}

void Worker::loop() {
    current_worker = this;
    if (core >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(core, &set);
        if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
            engine->add_error("cannot pin thread " + pool + "#" + std::to_string(index) +
                              " to core " + std::to_string(core));
        }
    }
    char name[16];
    std::snprintf(name, sizeof name, "w:%.10s#%d", pool.c_str(), index);
    pthread_setname_np(pthread_self(), name);

    unsigned idle = 0;
    while (!engine->aborted.load(std::memory_order_relaxed)) {
        bool busy = false;
        for (BlockState* b : async_blocks) {
            if (b->finished.load(std::memory_order_relaxed)) {
                continue;
            }
            if (engine->stop.load(std::memory_order_relaxed) || b->failed.load()) {
                b->finish();
                continue;
            }
            if (b->disabled.load(std::memory_order_relaxed)) {
                continue;  // paused: a file resumes where it stopped, a live capture's kernel buffer fills
            }
            Block::RunResult r = Block::RunResult::kDone;
            try {
                r = b->block->run();
            } catch (const std::exception& e) {
                engine->fail(*b, e.what());
            } catch (...) {
                engine->fail(*b, "unknown exception");
            }
            if (r == Block::RunResult::kDone) {
                b->finish();
            } else if (r == Block::RunResult::kBusy) {
                busy = true;
            }
        }
        for (BlockState* b : indirect_blocks) {
            if (b->finished.load(std::memory_order_relaxed)) {
                continue;
            }
            if (service(*b, 256) > 0) {
                busy = true;
            } else if (b->producers_left.load(std::memory_order_acquire) == 0 &&
                       std::all_of(b->rings_in.begin(), b->rings_in.end(),
                                   [](Link* l) { return l->ring->empty(); })) {
                b->finish();
            }
        }
        fire_timers();
        if (all_finished()) {
            break;
        }
        if (busy) {
            idle = 0;
        } else {
            backoff(idle++);
        }
    }
    current_worker = nullptr;
    {
        std::lock_guard<std::mutex> g(engine->done_mutex);
        engine->running_workers.fetch_sub(1);
    }
    done_cv.notify_all();
}

// --- planning ----------------------------------------------------------------------------------

void plan_threads(EngineImpl& impl) {
    // Async and indirect blocks: round-robin over their pool's threads.
    std::map<std::string, int> next_index;
    std::map<std::pair<std::string, int>, Worker*> by_slot;
    for (auto& b : impl.blocks) {
        if (b->invocation == Invocation::kDirect) {
            continue;
        }
        const auto& pool = *std::find_if(impl.pools.begin(), impl.pools.end(),
                                         [&](const auto& p) { return p.id == b->pool; });
        const int idx = next_index[pool.id]++ % pool.num_threads;
        Worker*& w = by_slot[{pool.id, idx}];
        if (w == nullptr) {
            auto nw = std::make_unique<Worker>();
            nw->engine = &impl;
            nw->packet_clock = impl.clock == ClockType::kPacket;
            nw->pool = pool.id;
            nw->index = idx;
            if (!pool.cores.empty()) {
                nw->core = pool.cores[static_cast<std::size_t>(idx) % pool.cores.size()];
            }
            w = nw.get();
            impl.workers.push_back(std::move(nw));
        }
        b->home = w;
        (b->invocation == Invocation::kAsync ? w->async_blocks : w->indirect_blocks).push_back(b.get());
    }
    // Direct blocks run on the thread of whoever feeds them, in topological order.
    std::map<BlockState*, int> indegree;
    for (auto& b : impl.blocks) {
        indegree[b.get()] = static_cast<int>(b->inputs.size());
    }
    std::vector<BlockState*> order;
    for (auto& b : impl.blocks) {
        if (indegree[b.get()] == 0) {
            order.push_back(b.get());
        }
    }
    for (std::size_t i = 0; i < order.size(); ++i) {
        for (const auto& gate : order[i]->outputs) {
            for (Link* l : gate) {
                if (--indegree[l->dst] == 0) {
                    order.push_back(l->dst);
                }
            }
        }
    }
    for (BlockState* b : order) {
        if (b->invocation != Invocation::kDirect) {
            continue;
        }
        std::set<Worker*> homes;
        for (Link* l : b->inputs) {
            if (l->src->home != nullptr) {
                homes.insert(l->src->home);
            }
        }
        if (homes.size() > 1) {
            std::string names;
            for (Worker* w : homes) {
                names += (names.empty() ? "" : " and ") + w->pool + "#" + std::to_string(w->index);
            }
            throw LoadError(impl.file + ":" + std::to_string(b->line) + ": direct block '" + b->id +
                            "' is fed from threads " + names +
                            "; a direct block runs in its caller's thread, so make it "
                            "invocation=\"indirect\" with a threadpool");
        }
        b->home = homes.empty() ? nullptr : *homes.begin();
    }
    for (auto& l : impl.links) {
        l->direct = l->dst->invocation == Invocation::kDirect;
        if (!l->direct) {
            l->ring = std::make_unique<SpscRing<const Message*>>(l->capacity);
            l->capacity = l->ring->capacity();
            l->dst->rings_in.push_back(l.get());
        } else {
            l->capacity = 0;
        }
    }
    // Lossless rings whose threads wait on each other in a circle could deadlock: refuse them.
    std::map<Worker*, std::vector<Link*>> waits;
    for (auto& l : impl.links) {
        if (!l->direct && l->policy == OverflowPolicy::kBlock && l->src->home != nullptr &&
            l->dst->home != nullptr && l->src->home != l->dst->home) {
            waits[l->src->home].push_back(l.get());
        }
    }
    std::map<Worker*, int> state;
    std::function<void(Worker*)> visit = [&](Worker* w) {
        state[w] = 1;
        for (Link* l : waits[w]) {
            Worker* next = l->dst->home;
            if (state[next] == 1) {
                throw LoadError(impl.file + ":" + std::to_string(l->line) + ": connection " + l->label +
                                " closes a circle of lossless (policy=block) rings between threads, "
                                "which could wait on each other forever; set policy=\"drop\" on one "
                                "of them or move blocks to other threadpools");
            }
            if (state[next] == 0) {
                visit(next);
            }
        }
        state[w] = 2;
    };
    for (auto& w : impl.workers) {
        if (state[w.get()] == 0) {
            visit(w.get());
        }
    }

    for (auto& b : impl.blocks) {
        b->producers_left.store(static_cast<int>(b->inputs.size()));
        if (b->home != nullptr) {
            b->home->hosted.push_back(b.get());
            const auto& timers = b->setup->timers();
            for (std::size_t t = 0; t < timers.size(); ++t) {
                b->home->timers.push_back(
                    ActiveTimer{b.get(), static_cast<TimerId>(t), timers[t].period_ns, 0});
            }
        }
    }
}

}  // namespace detail

// --- Engine ------------------------------------------------------------------------------------

using detail::BlockState;
using detail::EngineImpl;

Engine::Engine() : impl_(std::make_unique<EngineImpl>()) { impl_->owner = this; }

Engine::~Engine() {
    if (impl_->launched && !impl_->joined) {
        abort();
        wait();
    }
    // Blocks with threads of their own stop them while every block still exists.
    for (auto& b : impl_->blocks) {
        try {
            if (b->block) {
                b->block->shutdown();
            }
        } catch (const std::exception& e) {
            std::fprintf(stderr, "engine: block '%s' (%s): shutdown: %s\n", b->id.c_str(), b->type.c_str(),
                         e.what());
        }
    }
    // Rings release what they still hold before the blocks (and their batch pools) go.
    for (auto& l : impl_->links) {
        if (l->ring) {
            const Message* m = nullptr;
            while (l->ring->try_pop(m)) {
                m->release();
            }
        }
    }
    // Blocks go in reverse order of the graph, so whoever still holds a message from a source's
    // pool lets go of it before that source and its pool are destroyed.
    std::vector<BlockState*> order;
    std::map<BlockState*, bool> seen;
    std::function<void(BlockState*)> post = [&](BlockState* b) {
        if (seen[b]) {
            return;
        }
        seen[b] = true;
        for (const auto& gate : b->outputs) {
            for (detail::Link* l : gate) {
                post(l->dst);
            }
        }
        order.push_back(b);  // after everything downstream of it
    };
    for (auto& b : impl_->blocks) {
        post(b.get());
    }
    for (BlockState* b : order) {
        b->block.reset();
    }
    impl_->links.clear();
    impl_->blocks.clear();
}

std::unique_ptr<Engine> Engine::load_file(const std::string& path, const LoadOptions& opts) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw LoadError(path + ": cannot open composition file");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    // ${COMPOSITION_DIR}: where the composition lives, so it can name files beside it.
    LoadOptions with_dir = opts;
    if (with_dir.defines.count("COMPOSITION_DIR") == 0) {
        const auto slash = path.find_last_of('/');
        with_dir.defines["COMPOSITION_DIR"] = slash == std::string::npos ? "." : path.substr(0, slash);
    }
    return load_string(ss.str(), path, with_dir);
}

std::unique_ptr<Engine> Engine::load_string(std::string_view xml, const std::string& name,
                                            const LoadOptions& opts) {
    std::unique_ptr<Engine> e(new Engine());
    detail::load_composition(*e->impl_, xml, name, opts);
    return e;
}

const std::string& Engine::composition_id() const { return impl_->composition_id; }
ClockType Engine::clock() const { return impl_->clock; }

void Engine::start() {
    for (auto& b : impl_->blocks) {
        try {
            b->block->start();
        } catch (const std::exception& e) {
            const std::string what = impl_->file + ":" + std::to_string(b->line) + ": block '" + b->id +
                                     "' (" + b->type + ") cannot start: " + e.what();
            std::lock_guard<std::mutex> g(impl_->error_mutex);
            impl_->errors.push_back(what);
            throw LoadError(what);
        }
    }
}

void Engine::launch() {
    EngineImpl& im = *impl_;
    im.launched = true;
    im.hold_open = std::any_of(im.blocks.begin(), im.blocks.end(),
                               [](const auto& b) { return b->setup->holds_open(); });
    // Direct blocks nobody feeds have nothing to wait for.
    for (auto& b : im.blocks) {
        if (b->home == nullptr && b->inputs.empty()) {
            b->finish();
        }
    }
    im.running_workers.store(static_cast<int>(im.workers.size()));
    for (auto& w : im.workers) {
        w->thread = std::thread([wp = w.get()] { wp->loop(); });
    }
}

bool Engine::wait_for(std::chrono::milliseconds timeout) {
    EngineImpl& im = *impl_;
    std::unique_lock<std::mutex> lk(im.done_mutex);
    const bool done = detail::done_cv.wait_for(lk, timeout, [&] {
        return im.running_workers.load() == 0 && (!im.hold_open || im.stop.load());
    });
    lk.unlock();
    if (done && !im.joined) {
        for (auto& w : im.workers) {
            if (w->thread.joinable()) {
                w->thread.join();
            }
        }
        im.joined = true;
    }
    return done;
}

void Engine::wait() {
    while (!wait_for(std::chrono::milliseconds(200))) {
    }
}

void Engine::request_stop() {
    {
        std::lock_guard<std::mutex> g(impl_->done_mutex);  // a waiter held open wakes up
        impl_->stop.store(true);
    }
    detail::done_cv.notify_all();
}

void Engine::abort() {
    impl_->aborted.store(true);
    request_stop();
}

bool Engine::stop_requested() const { return impl_->stop.load(); }

int Engine::exit_code() const {
    if (impl_->aborted.load()) {
        return 130;
    }
    std::lock_guard<std::mutex> g(impl_->error_mutex);
    return impl_->errors.empty() ? 0 : 1;
}

std::vector<std::string> Engine::errors() const {
    std::lock_guard<std::mutex> g(impl_->error_mutex);
    return impl_->errors;
}

std::vector<ConnectionStats> Engine::connections() const {
    std::vector<ConnectionStats> out;
    for (const auto& l : impl_->links) {
        ConnectionStats c;
        c.label = l->label;
        c.direct = l->direct;
        c.policy = l->policy;
        c.capacity = l->capacity;
        c.fill = l->ring ? l->ring->size() : 0;
        c.messages = l->pushed.get();
        c.dropped_messages = l->dropped.get();
        c.dropped_packets = l->dropped_packets.get();
        out.push_back(std::move(c));
    }
    return out;
}

std::vector<SourceStats> Engine::sources() const {
    std::vector<SourceStats> out;
    for (const auto& b : impl_->blocks) {
        if (auto p = b->block->progress()) {
            out.push_back(SourceStats{b->id, *p});
        }
    }
    return out;
}

std::string Engine::thread_map() const {
    std::ostringstream os;
    for (const auto& w : impl_->workers) {
        os << "thread " << w->pool << "#" << w->index << " ("
           << (w->core >= 0 ? "core " + std::to_string(w->core) : std::string("not pinned")) << "):";
        for (BlockState* b : w->hosted) {
            os << " " << b->id << "[" << to_string(b->invocation) << "]";
        }
        os << "\n";
    }
    return os.str();
}

// The registry below is fixed once loaded (blocks, their declared variables), so these calls are
// safe from any thread while the composition runs: readers and controls only touch atomics.

Engine& Block::engine() const noexcept { return *state_->engine->owner; }

std::vector<Engine::VariableInfo> Engine::variables() const {
    std::vector<VariableInfo> out;
    for (const auto& b : impl_->blocks) {
        for (const auto& v : b->setup->variables()) {
            out.push_back(VariableInfo{b->id, b->type, v});
        }
    }
    return out;
}

std::optional<VarValue> Engine::read_variable(std::string_view block, std::string_view name) const {
    if (BlockState* b = impl_->find(block)) {
        for (const auto& v : b->setup->variables()) {
            if (v.name == name && v.read) {
                return v.read();
            }
        }
    }
    return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> Engine::blocks() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& b : impl_->blocks) {
        out.emplace_back(b->id, b->type);
    }
    return out;
}

namespace {

detail::BlockState& named(const detail::EngineImpl& impl, std::string_view block) {
    detail::BlockState* b = impl.find(block);
    if (b == nullptr) {
        throw std::invalid_argument("no block '" + std::string(block) + "'");
    }
    return *b;
}

}  // namespace

void Engine::set_enabled(std::string_view block, bool enabled) {
    named(*impl_, block).disabled.store(!enabled, std::memory_order_relaxed);
}

bool Engine::enabled(std::string_view block) const {
    return !named(*impl_, block).disabled.load(std::memory_order_relaxed);
}

uint64_t Engine::disabled_drops(std::string_view block) const { return named(*impl_, block).disabled_drops.get(); }

void Engine::write_variable(std::string_view block, std::string_view name, std::string_view value) {
    BlockState* b = impl_->find(block);
    if (b == nullptr) {
        throw std::invalid_argument("no block '" + std::string(block) + "'");
    }
    for (const auto& v : b->setup->variables()) {
        if (v.name == name) {
            if (!v.write) {
                throw std::invalid_argument("variable '" + std::string(name) + "' of block '" +
                                            std::string(block) + "' is read-only");
            }
            v.write(value);
            return;
        }
    }
    throw std::invalid_argument("block '" + std::string(block) + "' has no variable '" +
                                std::string(name) + "'");
}

}  // namespace weir
