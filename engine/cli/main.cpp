// The `engine` command.
#include <weir/engine.hpp>
#include <weir/registry.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace {

volatile std::sig_atomic_t g_signals = 0;

extern "C" void on_signal(int) { g_signals = g_signals + 1; }

std::string human(double v, const char* unit) {
    const char* prefix[] = {"", "k", "M", "G", "T"};
    int i = 0;
    while (v >= 1000.0 && i < 4) {
        v /= 1000.0;
        ++i;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f %s%s", v, prefix[i], unit);
    return buf;
}

std::string duration_text(double secs) {
    char buf[32];
    if (secs < 60) {
        std::snprintf(buf, sizeof buf, "%.0fs", secs);
    } else if (secs < 3600) {
        std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(secs) / 60, static_cast<int>(secs) % 60);
    } else {
        std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(secs) / 3600,
                      (static_cast<int>(secs) % 3600) / 60);
    }
    return buf;
}

void print_describe(const weir::BlockInfo& info) {
    weir::BlockSetup setup("describe", info.type, {}, true);
    auto block = info.make(setup);
    std::cout << info.type << " - " << info.summary << "\n";
    if (!info.aliases.empty()) {
        std::cout << "also accepted as:";
        for (const auto& a : info.aliases) {
            std::cout << " " << a;
        }
        std::cout << "\n";
    }
    std::cout << "invocation:";
    for (auto i : {weir::Invocation::kDirect, weir::Invocation::kIndirect, weir::Invocation::kAsync}) {
        if (info.allows(i)) {
            std::cout << " " << weir::to_string(i);
        }
    }
    std::cout << "\n\ninput gates:\n";
    if (setup.inputs().empty()) {
        std::cout << "  (none)\n";
    }
    const auto gates = [](const std::vector<weir::GateSpec>& gs, bool input) {
        for (const auto& g : gs) {
            std::string names = g.name;
            for (const auto& a : g.aliases) {
                names += ", " + a;
            }
            std::cout << "  " << names << "  [" << g.type->name << "]"
                      << (input ? (g.required ? " required" : " optional") : "") << "\n      " << g.doc
                      << "\n";
        }
    };
    gates(setup.inputs(), true);
    std::cout << "\noutput gates:\n";
    if (setup.outputs().empty()) {
        std::cout << "  (none)\n";
    }
    gates(setup.outputs(), false);
    std::cout << "\nparams (written <params><element attribute=\"value\"/></params>, "
                 "named element.attribute):\n";
    if (setup.params().empty()) {
        std::cout << "  (none)\n";
    }
    for (const auto& p : setup.params()) {
        std::cout << "  " << p.name << "  " << p.type;
        if (!p.choices.empty()) {
            std::cout << " (";
            for (std::size_t i = 0; i < p.choices.size(); ++i) {
                std::cout << (i ? "|" : "") << p.choices[i];
            }
            std::cout << ")";
        }
        std::cout << (p.required ? "  required" : "  default \"" + p.default_text + "\"") << "\n      "
                  << p.doc << "\n";
    }
    std::cout << "\nvariables:\n";
    if (setup.variables().empty()) {
        std::cout << "  (none)\n";
    }
    for (const auto& v : setup.variables()) {
        std::cout << "  " << v.name << "  " << weir::to_string(v.kind);
        if (!v.unit.empty()) {
            std::cout << " [" << v.unit << "]";
        }
        std::cout << (v.write ? (v.read ? " read/write" : " write") : " read") << "\n      " << v.doc
                  << "\n";
    }
    if (!setup.timers().empty()) {
        std::cout << "\ntimers:\n";
        for (const auto& t : setup.timers()) {
            std::cout << "  " << t.name << "  every " << static_cast<double>(t.period_ns) / 1e9
                      << "s (default)\n      " << t.doc << "\n";
        }
    }
}

class StatusLine {
public:
    explicit StatusLine(weir::Engine& e) : engine_(e), tty_(isatty(STDERR_FILENO) == 1) {}

    void print(double elapsed, bool final_line) {
        std::ostringstream os;
        char t[32];
        std::snprintf(t, sizeof t, "[%6.1fs]", elapsed);
        os << t;
        for (const auto& s : engine_.sources()) {
            auto& last = last_[s.id];
            const double dt = elapsed - last.time;
            const double pps = dt > 0 ? static_cast<double>(s.progress.packets - last.packets) / dt : 0;
            const double bps = dt > 0 ? static_cast<double>(s.progress.bytes - last.bytes) * 8 / dt : 0;
            os << " " << s.id << ": " << human(pps, "pps") << " " << human(bps, "bit/s");
            if (s.progress.fraction >= 0) {
                const double f = s.progress.fraction;
                const int filled = static_cast<int>(f * 20);
                os << " [" << std::string(filled, '#') << std::string(20 - filled, '.') << "] ";
                char pct[16];
                std::snprintf(pct, sizeof pct, "%3.0f%%", f * 100);
                os << pct;
                if (f > 0.001 && f < 1.0) {
                    os << " ETA " << duration_text(elapsed * (1 - f) / f);
                }
            }
            // Capture-side losses, whenever there are any (rings report their own below).
            if (s.progress.drops > 0) {
                os << " capture drops " << s.progress.drops;
            }
            if (s.progress.errors > 0) {
                os << " errors " << s.progress.errors;
            }
            last = {elapsed, s.progress.packets, s.progress.bytes};
        }
        for (const auto& c : engine_.connections()) {
            if (c.direct) {
                continue;
            }
            char fill[16];
            std::snprintf(fill, sizeof fill, "%.0f%%",
                          c.capacity ? 100.0 * static_cast<double>(c.fill) / static_cast<double>(c.capacity) : 0.0);
            os << " | " << c.label << " fill " << fill;
            if (c.policy == weir::OverflowPolicy::kDrop) {
                os << " drops " << c.dropped_packets;
            }
        }
        const std::string line = os.str();
        if (tty_) {
            std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
        } else {
            std::fprintf(stderr, "%s\n", line.c_str());
        }
        std::fflush(stderr);
    }

private:
    struct Sample {
        double time = 0;
        uint64_t packets = 0;
        uint64_t bytes = 0;
    };
    weir::Engine& engine_;
    bool tty_;
    std::map<std::string, Sample> last_;
};

void write_stats(const std::string& path, const std::string& json) {
    if (path.empty()) {
        return;
    }
    std::ofstream out(path);
    out << json;
    if (!out) {
        std::fprintf(stderr, "engine: cannot write stats to '%s'\n", path.c_str());
    }
}

void print_summary(weir::Engine& e) {
    std::string current;
    for (const auto& v : e.variables()) {
        if (!v.spec.read) {
            continue;
        }
        if (v.block != current) {
            std::cout << (current.empty() ? "" : "\n") << v.block << " (" << v.block_type << "):";
            current = v.block;
        }
        std::cout << " " << v.spec.name << "=" << weir::to_string(v.spec.read());
    }
    if (!current.empty()) {
        std::cout << "\n";
    }
    for (const auto& c : e.connections()) {
        if (!c.direct && c.dropped_messages > 0) {
            std::cout << "connection " << c.label << ": dropped " << c.dropped_packets << " packets ("
                      << c.dropped_messages << " batches)\n";
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Weir dataflow engine: runs a composition of blocks over packet streams"};
    std::string composition;
    bool check = false;
    bool dot = false;
    bool list_blocks = false;
    bool quiet = false;
    bool summary = true;
    std::string describe;
    std::string stats_path;
    std::vector<std::string> defines;
    app.add_option("composition", composition, "composition XML file");
    app.add_flag("--check", check, "validate the composition and exit");
    app.add_flag("--dot", dot, "print the composition as a Graphviz graph and exit");
    app.add_flag("--list-blocks", list_blocks, "list every block type");
    app.add_option("--describe", describe, "describe a block type: gates, params, variables");
    app.add_option("--stats", stats_path, "write every block's variables as JSON at exit");
    app.add_option("-D,--define", defines, "NAME=value for ${NAME} placeholders (repeatable)")
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app.add_flag("-q,--quiet", quiet, "no status line");
    app.add_flag("!--no-summary", summary, "do not print the variables at exit");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }

    if (list_blocks) {
        for (const auto& b : weir::BlockRegistry::instance().all()) {
            std::printf("%-16s %s\n", b.type.c_str(), b.summary.c_str());
        }
        return 0;
    }
    if (!describe.empty()) {
        const auto* info = weir::BlockRegistry::instance().find(describe);
        if (info == nullptr) {
            std::fprintf(stderr, "engine: unknown block type '%s'; did you mean '%s'?\n", describe.c_str(),
                         weir::BlockRegistry::instance().nearest(describe).c_str());
            return 2;
        }
        print_describe(*info);
        return 0;
    }
    if (composition.empty()) {
        std::fprintf(stderr, "%s\nengine: no composition given\n", app.help().c_str());
        return 2;
    }

    weir::LoadOptions opts;
    for (const auto& d : defines) {
        const auto eq = d.find('=');
        if (eq == std::string::npos || eq == 0) {
            std::fprintf(stderr, "engine: -D expects NAME=value, got '%s'\n", d.c_str());
            return 2;
        }
        opts.defines[d.substr(0, eq)] = d.substr(eq + 1);
    }

    std::unique_ptr<weir::Engine> engine;
    try {
        engine = weir::Engine::load_file(composition, opts);
    } catch (const weir::LoadError& e) {
        std::fprintf(stderr, "engine: %s\n", e.what());
        const nlohmann::json j = {{"blocks", nlohmann::json::object()},
                                  {"errors", {e.what()}},
                                  {"exit_code", 1}};
        write_stats(stats_path, j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
        return 1;
    }
    if (check) {
        std::printf("%s: OK (%zu connections)\n%s", composition.c_str(), engine->connections().size(),
                    engine->thread_map().c_str());
        return 0;
    }
    if (dot) {
        std::cout << engine->dot();
        return 0;
    }

    try {
        engine->start();
    } catch (const weir::LoadError& e) {
        std::fprintf(stderr, "engine: %s\n", e.what());
        write_stats(stats_path, engine->stats_json());
        return 1;
    }

    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    if (!quiet) {
        std::fprintf(stderr, "%s", engine->thread_map().c_str());
    }
    StatusLine status(*engine);
    const auto t0 = std::chrono::steady_clock::now();
    auto next_status = t0 + std::chrono::seconds(1);
    engine->launch();
    int seen_signals = 0;
    while (!engine->wait_for(std::chrono::milliseconds(50))) {
        const int s = g_signals;
        if (s != seen_signals) {
            seen_signals = s;
            if (s == 1) {
                std::fprintf(stderr, "\nengine: stopping: draining and flushing (signal again to abort)\n");
                engine->request_stop();
            } else {
                std::fprintf(stderr, "\nengine: aborting without draining\n");
                engine->abort();
            }
        }
        const auto now = std::chrono::steady_clock::now();
        if (!quiet && now >= next_status) {
            status.print(std::chrono::duration<double>(now - t0).count(), false);
            next_status += std::chrono::seconds(1);
        }
    }
    if (!quiet) {
        status.print(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), true);
    }
    if (summary) {
        print_summary(*engine);
    }
    write_stats(stats_path, engine->stats_json());
    return engine->exit_code();
}
