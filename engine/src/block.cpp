#include "engine_impl.hpp"

#include <weir/block.hpp>
#include <weir/registry.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace weir {

std::string_view to_string(Invocation i) {
    switch (i) {
        case Invocation::kDirect: return "direct";
        case Invocation::kIndirect: return "indirect";
        case Invocation::kAsync: return "async";
    }
    return "?";
}

std::string_view to_string(VarKind k) {
    switch (k) {
        case VarKind::kCounter: return "counter";
        case VarKind::kGauge: return "gauge";
        case VarKind::kControl: return "control";
    }
    return "?";
}

std::string to_string(const VarValue& v) {
    return std::visit(
        [](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string>) {
                return x;
            } else if constexpr (std::is_same_v<T, bool>) {
                return x ? "true" : "false";
            } else if constexpr (std::is_same_v<T, double>) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "%.6g", x);
                return buf;
            } else {
                return std::to_string(x);
            }
        },
        v);
}

// --- BlockSetup ------------------------------------------------------------------------------

BlockSetup::BlockSetup(std::string id, std::string type, ParamInput params, bool describe)
    : id_(std::move(id)), type_(std::move(type)), input_(std::move(params)), describe_(describe) {}

InputId BlockSetup::add_input(std::string name, const MessageType* type, std::string doc,
                              bool required, std::vector<std::string> aliases) {
    inputs_.push_back(GateSpec{std::move(name), std::move(aliases), type, std::move(doc), required});
    return static_cast<InputId>(inputs_.size() - 1);
}

OutputId BlockSetup::add_output(std::string name, const MessageType* type, std::string doc,
                                std::vector<std::string> aliases) {
    outputs_.push_back(GateSpec{std::move(name), std::move(aliases), type, std::move(doc), false});
    return static_cast<OutputId>(outputs_.size() - 1);
}

void BlockSetup::declare(ParamSpec spec) {
    for (auto& p : params_) {
        if (p.name == spec.name) {
            p = std::move(spec);
            return;
        }
    }
    params_.push_back(std::move(spec));
}

const ParamInput::Entry* BlockSetup::lookup(const std::string& name) {
    ParamInput::Entry* found = nullptr;
    for (auto& e : input_.entries) {
        if (e.key == name) {
            if (found != nullptr) {
                throw ParamError(e.line, "param '" + name + "' of block '" + id_ +
                                             "' is given twice (first on line " +
                                             std::to_string(found->line) + ")");
            }
            found = &e;
        }
    }
    if (found != nullptr) {
        found->used = true;
    }
    return found;
}

bool BlockSetup::has_param(const std::string& name) const {
    return std::any_of(input_.entries.begin(), input_.entries.end(),
                       [&](const auto& e) { return e.key == name; });
}

void BlockSetup::bad_value(const ParamInput::Entry& e, const std::string& expected) const {
    throw ParamError(e.line, "param '" + e.key + "' of block '" + id_ + "' (" + type_ +
                                 ") has value '" + e.value + "', expected " + expected);
}

namespace {

template <class T>
bool parse_integer(const std::string& s, T& out) {
    const char* b = s.data();
    const char* e = s.data() + s.size();
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        b += 2;
        base = 16;
    }
    auto [p, ec] = std::from_chars(b, e, out, base);
    return ec == std::errc() && p == e && b != e;
}



}  // namespace

template <>
std::string BlockSetup::param<std::string>(const std::string& name, std::string def,
                                           const std::string& doc) {
    declare(ParamSpec{name, "string", def, false, {}, doc});
    if (const auto* e = lookup(name)) {
        return e->value;
    }
    return def;
}

template <>
bool BlockSetup::param<bool>(const std::string& name, bool def, const std::string& doc) {
    declare(ParamSpec{name, "bool", def ? "true" : "false", false, {}, doc});
    if (const auto* e = lookup(name)) {
        const std::string& v = e->value;
        if (v.empty() || v == "true" || v == "1" || v == "yes" || v == "on") {  // <flag/> = true
            return true;
        }
        if (v == "false" || v == "0" || v == "no" || v == "off") {
            return false;
        }
        bad_value(*e, "a boolean (true/false, 1/0, yes/no, on/off)");
    }
    return def;
}

template <>
double BlockSetup::param<double>(const std::string& name, double def, const std::string& doc) {
    std::ostringstream d;
    d << def;
    declare(ParamSpec{name, "number", d.str(), false, {}, doc});
    if (const auto* e = lookup(name)) {
        double v = 0;
        auto [p, ec] = std::from_chars(e->value.data(), e->value.data() + e->value.size(), v);
        if (ec != std::errc() || p != e->value.data() + e->value.size() || e->value.empty() ||
            !std::isfinite(v)) {
            bad_value(*e, "a number");
        }
        return v;
    }
    return def;
}

namespace {
template <class T>
T integer_param(T def, const ParamInput::Entry* e,
                const std::function<void(const ParamInput::Entry&, const std::string&)>& bad) {
    if (e == nullptr) {
        return def;
    }
    T v{};
    if (!parse_integer(e->value, v)) {
        bad(*e, std::string("an integer in ") + std::to_string(std::numeric_limits<T>::min()) +
                    ".." + std::to_string(std::numeric_limits<T>::max()));
    }
    return v;
}
}  // namespace

#define WEIR_INTEGER_PARAM(T, TYPE_NAME)                                                        \
    template <>                                                                                 \
    T BlockSetup::param<T>(const std::string& name, T def, const std::string& doc) {            \
        declare(ParamSpec{name, TYPE_NAME, std::to_string(def), false, {}, doc});               \
        const auto* e = lookup(name);                                                           \
        return integer_param<T>(def, e,                            \
                                [this](const ParamInput::Entry& en, const std::string& x) {     \
                                    bad_value(en, x);                                           \
                                });                                                             \
    }

WEIR_INTEGER_PARAM(int64_t, "int64")
WEIR_INTEGER_PARAM(uint64_t, "uint64")
WEIR_INTEGER_PARAM(uint32_t, "uint32")
WEIR_INTEGER_PARAM(int, "int")
#undef WEIR_INTEGER_PARAM

template <>
std::string BlockSetup::required_param<std::string>(const std::string& name,
                                                    const std::string& doc) {
    declare(ParamSpec{name, "string", "", true, {}, doc});
    if (const auto* e = lookup(name)) {
        return e->value;
    }
    if (!describe_) {
        throw ParamError(input_.line, "block '" + id_ + "' (" + type_ + ") needs param '" + name +
                                          "' (" + doc + ")");
    }
    return {};
}

std::string BlockSetup::choice(const std::string& name, const std::string& def,
                               std::vector<std::string> choices, const std::string& doc) {
    std::string list;
    for (const auto& c : choices) {
        list += (list.empty() ? "" : "|") + c;
    }
    declare(ParamSpec{name, "choice", def, false, choices, doc});
    if (const auto* e = lookup(name)) {
        if (std::find(choices.begin(), choices.end(), e->value) == choices.end()) {
            bad_value(*e, "one of " + list);
        }
        return e->value;
    }
    return def;
}

int64_t BlockSetup::duration_ns(const std::string& name, const std::string& def,
                                const std::string& doc) {
    declare(ParamSpec{name, "duration", def, false, {}, doc});
    const auto* e = lookup(name);
    const std::string text = e != nullptr ? e->value : def;
    double number = 0;
    const char* b = text.data();
    const char* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(b, end, number);
    const std::string unit(p, end);
    double scale = -1;
    if (ec == std::errc()) {
        if (unit.empty() || unit == "s") {
            scale = 1e9;
        } else if (unit == "ms") {
            scale = 1e6;
        } else if (unit == "us") {
            scale = 1e3;
        } else if (unit == "ns") {
            scale = 1;
        } else if (unit == "m" || unit == "min") {
            scale = 60e9;
        } else if (unit == "h") {
            scale = 3600e9;
        }
    }
    if (scale < 0 || number < 0 || !std::isfinite(number)) {
        if (e != nullptr) {
            bad_value(*e, "a duration such as 250ms, 10s, 5m, 100us (plain numbers are seconds)");
        }
        throw std::logic_error("bad default duration for " + name);
    }
    return static_cast<int64_t>(number * scale);
}

void BlockSetup::counter(std::string name, const Counter& c, std::string unit, std::string doc) {
    const Counter* p = &c;
    variables_.push_back(VariableSpec{std::move(name), VarKind::kCounter, std::move(unit),
                                      std::move(doc), [p]() -> VarValue { return p->get(); }, {}});
}

void BlockSetup::gauge(std::string name, std::function<VarValue()> read, std::string unit,
                       std::string doc) {
    variables_.push_back(
        VariableSpec{std::move(name), VarKind::kGauge, std::move(unit), std::move(doc),
                     std::move(read), {}});
}

void BlockSetup::control(std::string name, std::function<void(std::string_view)> write,
                         std::string doc, std::function<VarValue()> read) {
    variables_.push_back(VariableSpec{std::move(name), VarKind::kControl, "", std::move(doc),
                                      std::move(read), std::move(write)});
}

TimerId BlockSetup::periodic_timer(std::string name, int64_t period_ns, std::string doc) {
    if (period_ns <= 0) {
        throw ParamError(input_.line, "timer '" + name + "' of block '" + id_ +
                                          "' needs a positive period");
    }
    timers_.push_back(TimerSpec{std::move(name), period_ns, std::move(doc)});
    return static_cast<TimerId>(timers_.size() - 1);
}

void BlockSetup::check_unused_params() const {
    for (const auto& e : input_.entries) {
        if (!e.used) {
            std::string known;
            for (const auto& p : params_) {
                known += (known.empty() ? "" : ", ") + p.name;
            }
            throw ParamError(e.line, "block '" + id_ + "' (" + type_ + ") has no param '" + e.key +
                                         "'; its params are: " +
                                         (known.empty() ? std::string("(none)") : known));
        }
    }
}

// --- Block -----------------------------------------------------------------------------------

Block::Block(BlockSetup& setup) : id_(setup.id()) {}
Block::~Block() = default;

void Block::emit(OutputId gate, const Message& msg) {
    for (detail::Link* l : state_->outputs[gate]) {
        if (l->direct) {
            l->pushed.add(1);
            l->dst->deliver(l->dst_gate, msg);
        } else {
            state_->engine->push(*l, msg);
        }
    }
}

bool Block::stopping() const noexcept {
    return state_ != nullptr && state_->engine->stop.load(std::memory_order_relaxed);
}

int64_t Block::now_ns() const noexcept {
    if (state_ != nullptr && state_->home != nullptr) {
        return state_->home->now_ns();
    }
    return detail::wall_clock_ns();
}

bool Block::packet_clock() const noexcept {
    return state_ != nullptr && state_->engine != nullptr && state_->engine->clock == ClockType::kPacket;
}

void Block::advance_clock(int64_t t) noexcept {
    if (state_ != nullptr && state_->home != nullptr) {
        state_->home->observe(t);
    }
}

void Block::report_error(const std::string& what) {
    if (state_ != nullptr) {
        state_->engine->add_error("block '" + id_ + "' (" + state_->type + "): " + what);
    }
}

void Block::log(std::string_view what) const {
    std::fprintf(stderr, "[%s] %.*s\n", id_.c_str(), static_cast<int>(what.size()), what.data());
}

// --- registry --------------------------------------------------------------------------------

BlockRegistry& BlockRegistry::instance() {
    static BlockRegistry r;
    return r;
}

bool BlockRegistry::add(BlockInfo info) {
    blocks_.push_back(std::move(info));
    std::sort(blocks_.begin(), blocks_.end(),
              [](const BlockInfo& a, const BlockInfo& b) { return a.type < b.type; });
    return true;
}

const BlockInfo* BlockRegistry::find(std::string_view name) const {
    for (const auto& b : blocks_) {
        if (b.type == name) {
            return &b;
        }
    }
    for (const auto& b : blocks_) {
        for (const auto& a : b.aliases) {
            if (a == name) {
                return &b;
            }
        }
    }
    return nullptr;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1);
    std::vector<std::size_t> cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        prev[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const auto lower = [](char c) { return static_cast<char>(std::tolower(c)); };
            const std::size_t sub = prev[j - 1] + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string BlockRegistry::nearest(std::string_view name) const {
    std::string best;
    std::size_t best_d = std::numeric_limits<std::size_t>::max();
    for (const auto& b : blocks_) {
        std::vector<std::string_view> names{b.type};
        names.insert(names.end(), b.aliases.begin(), b.aliases.end());
        for (auto n : names) {
            const std::size_t d = edit_distance(name, n);
            if (d < best_d) {
                best_d = d;
                best = std::string(n);
            }
        }
    }
    return best;
}

}  // namespace weir
