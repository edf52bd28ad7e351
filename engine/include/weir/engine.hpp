// The engine: a loaded composition, its threads, and the variables registry.
//
//   auto engine = weir::Engine::load_file("count.xml", {.defines = {{"TRACE", "x.pcap"}}});
//   engine->start();          // blocks acquire resources
//   engine->launch();         // threads run
//   engine->wait();           // until sources are exhausted (or request_stop) and all drained
//   int rc = engine->exit_code();
#pragma once

#include <weir/block.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir {

// A composition refused before anything started: "file:line: what was wrong and what was expected".
class LoadError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class ClockType { kWall, kPacket };
enum class OverflowPolicy { kDrop, kBlock };

struct LoadOptions {
    std::map<std::string, std::string> defines;  // -D NAME=value, filling ${NAME} placeholders
    bool use_environment = true;                 // fall back to the environment for ${NAME}
};

namespace detail {
struct EngineImpl;
}

// One connection as the status line and stats see it.
struct ConnectionStats {
    std::string label;  // "src.gate -> dst.gate"
    bool direct = true;
    OverflowPolicy policy = OverflowPolicy::kDrop;
    std::size_t capacity = 0;
    std::size_t fill = 0;
    uint64_t messages = 0;
    uint64_t dropped_messages = 0;
    uint64_t dropped_packets = 0;
};

struct SourceStats {
    std::string id;
    SourceProgress progress;
};

class Engine {
public:
    static std::unique_ptr<Engine> load_file(const std::string& path, const LoadOptions& opts = {});
    // `name` stands for the file in error messages.
    static std::unique_ptr<Engine> load_string(std::string_view xml, const std::string& name,
                                               const LoadOptions& opts = {});
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    const std::string& composition_id() const;
    ClockType clock() const;

    // Calls every block's start(); a failure throws LoadError naming the block.
    void start();
    // Starts the threads.
    void launch();
    // Waits until every block has finished (or the timeout passed); true when finished.
    bool wait_for(std::chrono::milliseconds timeout);
    void wait();
    // Sources stop, everything already read drains and is flushed. Safe from any thread.
    void request_stop();
    // Stops as fast as possible, without draining (a second SIGINT).
    void abort();
    bool stop_requested() const;
    // 0 when everything ran and drained cleanly, 1 after any error, 130 after abort().
    int exit_code() const;
    std::vector<std::string> errors() const;

    // Introspection ---------------------------------------------------------------------------
    std::string dot() const;
    // {"blocks": {"<id>": {"type": "...", "variables": {"<name>": value}}}, "connections": [...]}
    std::string stats_json() const;
    std::vector<ConnectionStats> connections() const;
    std::vector<SourceStats> sources() const;
    // Human-readable core map: which thread runs which blocks on which core.
    std::string thread_map() const;

    // Variables registry (the status line, --stats and the mPlane bridge read the same thing).
    struct VariableInfo {
        std::string block;
        std::string block_type;
        VariableSpec spec;  // read/write functions included
    };
    std::vector<VariableInfo> variables() const;
    std::optional<VarValue> read_variable(std::string_view block, std::string_view name) const;
    // Throws std::invalid_argument for an unknown block/variable or a value the control refuses.
    void write_variable(std::string_view block, std::string_view name, std::string_view value);

    // Every block: (id, registered type), in composition order.
    std::vector<std::pair<std::string, std::string>> blocks() const;
    // The per-block switch, safe from any thread (one relaxed atomic). While a block is disabled
    // the messages that reach its inputs are dropped and counted (disabled_drops; in stats_json as
    // the variable "disabled_drops" once non-zero), its run() is not called (a source pauses) and
    // its timers still fire. Throws std::invalid_argument for an unknown block.
    void set_enabled(std::string_view block, bool enabled);
    bool enabled(std::string_view block) const;
    uint64_t disabled_drops(std::string_view block) const;

private:
    Engine();
    std::unique_ptr<detail::EngineImpl> impl_;
};

// Expands ${NAME} and ${NAME:-default}; throws LoadError("name:line: ...") for an unset NAME.
std::string expand_placeholders(std::string_view text, const std::string& name,
                                const LoadOptions& opts);

}  // namespace weir
