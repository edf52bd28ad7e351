// The block API.
//
// A block declares everything about itself in its constructor through BlockSetup: typed gates,
// params (parsed once into members), variables (counters, gauges, writable controls) and timers.
// The same declarations drive the composition loader's checks, `engine --describe`, `--stats`,
// the summary printed at exit, and the variables registry the mPlane bridge will read. Constructors must not acquire resources (files, sockets):
// `engine --describe` builds every block with default params. Do that in start().
//
// Threading: a block's receive/run/on_timer/flush are always called from one thread at a time
// (its home thread), so block state needs no locks. Variable readers and control writers run on
// other threads: counters are single-writer atomics, gauges must read atomics, controls should
// only set atomics that the block applies on its own thread.
#pragma once

#include <weir/message.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace weir {

class Engine;

enum class Invocation : unsigned { kDirect = 1, kIndirect = 2, kAsync = 4 };
constexpr unsigned operator|(Invocation a, Invocation b) {
    return static_cast<unsigned>(a) | static_cast<unsigned>(b);
}
constexpr unsigned operator|(unsigned a, Invocation b) { return a | static_cast<unsigned>(b); }
std::string_view to_string(Invocation i);

using InputId = uint16_t;
using OutputId = uint16_t;
using TimerId = uint16_t;

// What a variable holds when read.
using VarValue = std::variant<uint64_t, int64_t, double, bool, std::string>;
std::string to_string(const VarValue& v);

// A monotonically increasing count written by the block's own thread, read by any thread.
// add() is a relaxed load+store, not a locked read-modify-write: one writer only.
class Counter {
public:
    void add(uint64_t n = 1) noexcept {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void set(uint64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
    uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

// A floating-point value written by the block's thread, read by any thread.
class Gauge {
public:
    void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
    double get() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> v_{0.0};
};

struct GateSpec {
    std::string name;
    std::vector<std::string> aliases;
    const MessageType* type = nullptr;
    std::string doc;
    bool required = false;  // inputs only: a composition must connect it
};

struct ParamSpec {
    std::string name;  // "element.attribute", as in <params><element attribute="…"/></params>
    std::string type;
    std::string default_text;
    bool required = false;
    std::vector<std::string> choices;
    std::string doc;
};

enum class VarKind { kCounter, kGauge, kControl };
std::string_view to_string(VarKind k);

struct VariableSpec {
    std::string name;
    VarKind kind = VarKind::kCounter;
    std::string unit;
    std::string doc;
    std::function<VarValue()> read;               // empty for write-only controls
    std::function<void(std::string_view)> write;  // controls only; may throw std::invalid_argument
};

struct TimerSpec {
    std::string name;
    int64_t period_ns = 0;
    std::string doc;
};

// Optional: what a source reports for the status line.
struct SourceProgress {
    uint64_t packets = 0;
    uint64_t bytes = 0;
    double fraction = -1.0;  // 0..1 for files, negative when unknown (live capture)
    uint64_t drops = 0;      // lost before we read them: kernel buffer, interface, NIC (imissed, no mbuf)
    uint64_t errors = 0;     // received damaged (NIC ierrors)
};

// A mistake in a block's params, raised while the block is constructed.
class ParamError : public std::runtime_error {
public:
    ParamError(int line, const std::string& what) : std::runtime_error(what), line_(line) {}
    int line() const noexcept { return line_; }

private:
    int line_;
};

// The params written in a composition, flattened to "element.attribute" keys (and "element" for
// an element's text). Filled by the loader; blocks never see XML.
struct ParamInput {
    struct Entry {
        std::string key;
        std::string value;
        int line = 0;
        bool used = false;
    };
    std::vector<Entry> entries;
    int line = 0;  // the <params> or <block> element
};

class Block;

class BlockSetup {
public:
    // `describe` builds the block only to read its declarations: params take their defaults.
    BlockSetup(std::string id, std::string type, ParamInput params, bool describe);

    const std::string& id() const noexcept { return id_; }
    const std::string& type() const noexcept { return type_; }
    bool describing() const noexcept { return describe_; }

    // Gates ---------------------------------------------------------------------------------
    template <class T>
    InputId input(std::string name, std::string doc, bool required = true,
                  std::vector<std::string> aliases = {}) {
        return add_input(std::move(name), &MessageTraits<T>::type, std::move(doc), required,
                         std::move(aliases));
    }
    InputId input_any(std::string name, std::string doc, bool required = true,
                      std::vector<std::string> aliases = {}) {
        return add_input(std::move(name), &kAnyMessage, std::move(doc), required,
                         std::move(aliases));
    }
    template <class T>
    OutputId output(std::string name, std::string doc, std::vector<std::string> aliases = {}) {
        return add_output(std::move(name), &MessageTraits<T>::type, std::move(doc),
                          std::move(aliases));
    }

    // Params: T is std::string, bool, an integer type or double. --------------------------
    template <class T>
    T param(const std::string& name, T default_value, const std::string& doc);
    template <class T>
    T required_param(const std::string& name, const std::string& doc);
    std::string choice(const std::string& name, const std::string& default_value,
                       std::vector<std::string> choices, const std::string& doc);
    bool has_param(const std::string& name) const;  // written in the composition?
    // A duration written as "250ms", "10s", "1.5m", "100us", "20ns" or plain seconds.
    int64_t duration_ns(const std::string& name, const std::string& default_value,
                        const std::string& doc);

    // Variables ----------------------------------------------------------------------------
    void counter(std::string name, const Counter& c, std::string unit, std::string doc);
    void gauge(std::string name, std::function<VarValue()> read, std::string unit,
               std::string doc);
    void control(std::string name, std::function<void(std::string_view)> write, std::string doc,
                 std::function<VarValue()> read = {});

    // Timers: on_timer(id, now) fires every period of the composition's clock. -------------
    TimerId periodic_timer(std::string name, int64_t period_ns, std::string doc);

    // The composition stays open after every thread has finished, until a stop is requested
    // (a signal, Engine::request_stop): for blocks that serve requests, like MplaneBridge.
    void hold_open() noexcept { hold_open_ = true; }
    bool holds_open() const noexcept { return hold_open_; }

    // Read by the engine --------------------------------------------------------------------
    const std::vector<GateSpec>& inputs() const noexcept { return inputs_; }
    const std::vector<GateSpec>& outputs() const noexcept { return outputs_; }
    const std::vector<ParamSpec>& params() const noexcept { return params_; }
    std::vector<VariableSpec>& variables() noexcept { return variables_; }
    const std::vector<TimerSpec>& timers() const noexcept { return timers_; }
    const ParamInput& param_input() const noexcept { return input_; }
    // Throws ParamError naming the first param written in the composition that no one declared.
    void check_unused_params() const;

private:
    InputId add_input(std::string name, const MessageType* type, std::string doc, bool required,
                      std::vector<std::string> aliases);
    OutputId add_output(std::string name, const MessageType* type, std::string doc,
                        std::vector<std::string> aliases);
    // Returns the written value (marking it used) or nullptr; records the spec.
    const ParamInput::Entry* lookup(const std::string& name);
    void declare(ParamSpec spec);
    [[noreturn]] void bad_value(const ParamInput::Entry& e, const std::string& expected) const;

    std::string id_;
    std::string type_;
    ParamInput input_;
    bool describe_;
    std::vector<GateSpec> inputs_;
    std::vector<GateSpec> outputs_;
    std::vector<ParamSpec> params_;
    std::vector<VariableSpec> variables_;
    std::vector<TimerSpec> timers_;
    bool hold_open_ = false;
};

namespace detail {
struct BlockState;  // the engine's bookkeeping for one block instance
}

class Block {
public:
    enum class RunResult { kBusy, kIdle, kDone };

    explicit Block(BlockSetup& setup);
    Block(const Block&) = delete;
    Block& operator=(const Block&) = delete;
    virtual ~Block();

    // Acquire resources (open files, interfaces). Called once, on the main thread, before any
    // thread starts; throwing refuses the composition with the block's id and the message.
    virtual void start() {}
    // Async blocks: do one bounded step of work (e.g. read and emit one batch).
    // kBusy = did work, kIdle = nothing to do now, kDone = exhausted (end of file).
    virtual RunResult run() { return RunResult::kDone; }
    // One message arrived on an input gate. The engine holds a reference during the call; emit()
    // it to forward, retain() it to keep it.
    virtual void receive(InputId /*gate*/, const Message& /*msg*/) {}
    virtual void on_timer(TimerId /*timer*/, int64_t /*now_ns*/) {}
    // Every upstream block has finished and every input ring is drained: emit what is left.
    virtual void flush() {}
    // Sources: whether the input is finite and replayable (a file), so lossless queueing is the
    // right default for connections downstream of it.
    virtual bool offline() const { return false; }
    virtual std::optional<SourceProgress> progress() const { return std::nullopt; }
    // The composition is over: called on the main thread before any block is destroyed. A block
    // with threads of its own that reach other blocks (through engine()) stops them here.
    virtual void shutdown() {}

    const std::string& id() const noexcept { return id_; }

protected:
    // The engine running this block, from start() on (not while describing): its variables
    // registry and request_stop(). Only for blocks that observe or control the composition.
    Engine& engine() const noexcept;
    // Send a message through an output gate (to every connection on it).
    void emit(OutputId gate, const Message& msg);
    // True once the engine asked sources to stop (SIGINT/SIGTERM, or a failure elsewhere).
    bool stopping() const noexcept;
    // The composition's clock (packet time when reading a trace with clock type="packet").
    int64_t now_ns() const noexcept;
    // True when that clock is packet time: ticks then fire as messages move it (before the message
    // that crossed them, whose batch may still hold earlier packets), never while no packets come.
    bool packet_clock() const noexcept;
    // Sources: advance the packet clock of this thread (no-op for the wall clock).
    void advance_clock(int64_t packet_time_ns) noexcept;
    // Record an error that must make the engine exit non-zero, without stopping the drain
    // (e.g. a truncated capture: what was read still flows through and is counted).
    void report_error(const std::string& what);
    void log(std::string_view what) const;

private:
    friend class Engine;
    friend struct detail::BlockState;
    std::string id_;
    detail::BlockState* state_ = nullptr;  // set by the engine when the block is installed
};

template <>
std::string BlockSetup::param<std::string>(const std::string&, std::string, const std::string&);
template <>
bool BlockSetup::param<bool>(const std::string&, bool, const std::string&);
template <>
double BlockSetup::param<double>(const std::string&, double, const std::string&);
template <>
int64_t BlockSetup::param<int64_t>(const std::string&, int64_t, const std::string&);
template <>
uint64_t BlockSetup::param<uint64_t>(const std::string&, uint64_t, const std::string&);
template <>
uint32_t BlockSetup::param<uint32_t>(const std::string&, uint32_t, const std::string&);
template <>
int BlockSetup::param<int>(const std::string&, int, const std::string&);
template <>
std::string BlockSetup::required_param<std::string>(const std::string&, const std::string&);

}  // namespace weir
