#include <weir/mplane/service.hpp>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <variant>

namespace weir::mplane {

int64_t wall_now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

namespace {

std::string hex(const unsigned char* p, std::size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += kDigits[p[i] >> 4];
        out += kDigits[p[i] & 15];
    }
    return out;
}

// MD5 of the text, as the RI derives its tokens: stable for the same capability across runs.
std::string md5_hex(const std::string& text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(text.data(), text.size(), digest, &len, EVP_md5(), nullptr) != 1) {
        throw std::runtime_error("MD5 is not available from OpenSSL");
    }
    return hex(digest, len);
}

Prim prim_of(const VarValue& v) {
    if (std::holds_alternative<uint64_t>(v)) return Prim::kNatural;
    if (std::holds_alternative<bool>(v)) return Prim::kBoolean;
    if (std::holds_alternative<std::string>(v)) return Prim::kString;
    return Prim::kReal;  // int64_t and double
}

std::string value_element(Prim p) {
    switch (p) {
        case Prim::kNatural: return "weir.value.natural";
        case Prim::kBoolean: return "weir.value.boolean";
        case Prim::kString: return "weir.value.string";
        default: return "weir.value.real";
    }
}

}  // namespace

std::string random_token() {
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) {
        throw std::runtime_error("OpenSSL could not make random bytes");
    }
    return hex(b, sizeof b);
}

Service::Service(const Registry& reg, ServiceConfig cfg, std::vector<Target> targets, int64_t start_ns,
                 std::function<void()> stop_composition)
    : reg_(reg),
      cfg_(std::move(cfg)),
      targets_(std::move(targets)),
      start_ns_(start_ns),
      stop_composition_(std::move(stop_composition)) {
    build_capabilities(targets_);
    scheduler_ = std::thread([this] { scheduler_loop(); });
}

Service::~Service() {
    {
        std::lock_guard<std::mutex> g(mu_);
        quit_ = true;
        // Nothing stays switched off or overwritten once nobody can interrupt it.
        const int64_t now = wall_now_ns();
        for (auto& [token, j] : jobs_) {
            if (j.started && !j.done && (j.cap->type == CapType::kDisable || j.cap->type == CapType::kControl)) {
                close_window(j, now);
            }
        }
    }
    cv_.notify_all();
    scheduler_.join();
}

Message Service::make_cap(std::string label, CapType type, const Target* t, Prim value_prim, const Switch* sw) {
    Message c;
    c.kind = Kind::kCapability;
    c.verb = "measure";
    c.registry = std::string(kWeirRegistryUri);
    c.label = std::move(label);
    c.link = cfg_.link;
    c.metadata.emplace_back("weir.composition", cfg_.composition);
    if (t != nullptr) {
        c.parameters = {{"weir.block", t->block}, {"weir.variable", t->spec.name}};
        c.metadata.emplace_back("weir.variable.kind", std::string(to_string(t->spec.kind)));
        if (!t->spec.unit.empty()) {
            c.metadata.emplace_back("weir.variable.unit", t->spec.unit);
        }
        c.metadata.emplace_back("weir.variable.doc", t->spec.doc);
    }
    if (sw != nullptr) {
        c.parameters = {{"weir.block", sw->block}};
    }
    const bool counter = t != nullptr && t->spec.kind == VarKind::kCounter;
    switch (type) {
        case CapType::kMeasure:
            c.when = counter ? When::parse("past ... future") : When::parse("now ... future");
            break;
        case CapType::kPeriodic:
        case CapType::kExport:
            c.when = When::range({Instant::Kind::kNow, 0}, {Instant::Kind::kFuture, 0}, cfg_.min_period_ns);
            break;
        case CapType::kControl:  // "now": for good; a range: restored at its end
        case CapType::kDisable:
            c.when = When::parse("now ... future");
            break;
        case CapType::kStop:
            c.when = When::now();
            break;
    }
    if (type == CapType::kExport) {
        c.parameters.push_back({"repository.url", "*"});
    }
    if (type == CapType::kControl) {
        c.parameters.push_back({"weir.control.value", "*"});
        c.results = {"time", "weir.control.value"};
    } else if (type == CapType::kStop) {
        c.results = {"time"};
    } else if (type == CapType::kDisable) {
        c.results = {"start", "end", "weir.drops"};
    } else if (counter) {
        c.results = {"start", "end", "weir.count"};
    } else {
        c.results = {"time", value_element(value_prim)};
    }
    c.token = md5_hex(serialize(c, reg_));
    return c;
}

void Service::build_capabilities(const std::vector<Target>& targets) {
    const auto add = [&](std::string label, CapType type, const Target* t, Prim p, const Switch* sw = nullptr) {
        auto cap = std::make_unique<Cap>();
        cap->msg = make_cap(std::move(label), type, t, p, sw);
        cap->type = type;
        cap->target = t;
        cap->sw = sw;
        cap->value_prim = p;
        caps_.push_back(std::move(cap));
    };
    for (const Target& t : targets) {
        const std::string base = "weir-" + t.block + "-" + t.spec.name;
        if (t.spec.read) {
            const Prim p = t.spec.kind == VarKind::kCounter ? Prim::kNatural : prim_of(t.spec.read());
            add(base, CapType::kMeasure, &t, p);
            add(base + "-periodic", CapType::kPeriodic, &t, p);
            if (cfg_.export_results) {
                add(base + "-export", CapType::kExport, &t, p);
            }
        }
        if (t.spec.write) {
            add(base + "-set", CapType::kControl, &t, Prim::kString);
        }
    }
    for (const Switch& sw : cfg_.switches) {
        add("weir-" + sw.block + "-disable", CapType::kDisable, nullptr, Prim::kNatural, &sw);
    }
    add("weir-stop", CapType::kStop, nullptr, Prim::kString);
}

std::vector<Message> Service::capabilities(const std::string& identity) const {
    std::vector<Message> out;
    for (const auto& c : caps_) {
        if (cfg_.access.allows(identity, c->msg.label)) {
            out.push_back(c->msg);
        }
    }
    return out;
}

const Message* Service::capability_by_token(std::string_view token, const std::string& identity) const {
    for (const auto& c : caps_) {
        if (c->msg.token == token && cfg_.access.allows(identity, c->msg.label)) {
            return &c->msg;
        }
    }
    return nullptr;
}

std::size_t Service::pending() const {
    std::lock_guard<std::mutex> g(mu_);
    return static_cast<std::size_t>(
        std::count_if(jobs_.begin(), jobs_.end(), [](const auto& kv) { return !kv.second.done; }));
}

Reply Service::fail(const std::string& token, const std::string& text, int status) {
    exceptions.fetch_add(1, std::memory_order_relaxed);
    return Reply{make_exception(token, text), status};
}

Reply Service::handle_text(std::string_view body, const std::string& identity) {
    Message in;
    try {
        in = parse_message(body, reg_);
    } catch (const ProtocolError& e) {
        return fail("", e.what(), 400);
    }
    return handle(in, identity);
}

Reply Service::handle(const Message& in, const std::string& identity) {
    switch (in.kind) {
        case Kind::kSpecification:
            return run_specification(in, identity);
        case Kind::kRedemption:
            return redeem(in, identity, false);
        case Kind::kInterrupt:
            return redeem(in, identity, true);
        default:
            return fail(in.token,
                        "unexpected message type '" + std::string(to_string(in.kind)) +
                            "': a component takes specifications, redemptions and interrupts",
                        400);
    }
}

namespace {

// Empty when `spec` has the capability's schema and its values meet the constraints.
std::string schema_mismatch(const Message& cap, const Message& spec, const Registry& reg) {
    if (spec.verb != cap.verb) {
        return "verb '" + spec.verb + "' differs from the capability's '" + cap.verb + "'";
    }
    if (spec.registry != cap.registry) {
        return "registry '" + spec.registry + "' differs from the capability's '" + cap.registry + "'";
    }
    if (spec.results != cap.results) {
        std::string want;
        for (const auto& r : cap.results) {
            want += (want.empty() ? "" : ", ") + r;
        }
        return "results differ from the capability's [" + want + "]";
    }
    for (const auto& p : spec.parameters) {
        if (cap.parameter(p.name) == nullptr) {
            return "parameter '" + p.name + "' is not one of the capability's";
        }
    }
    for (const auto& cp : cap.parameters) {
        const Parameter* sp = spec.parameter(cp.name);
        if (sp == nullptr) {
            return "parameter '" + cp.name + "' is missing";
        }
        const Prim prim = reg.element(cap.registry, cp.name).prim;
        if (!Constraint::parse(prim, cp.value).allows(prim, sp->value)) {
            return "parameter '" + cp.name + "' = '" + sp->value + "' is outside the capability's constraint '" +
                   cp.value + "'";
        }
    }
    return {};
}

}  // namespace

std::string Service::read_value(const Cap& c) const {
    const VarValue v = c.target->spec.read();
    if (c.target->spec.kind == VarKind::kCounter) {
        return std::to_string(std::holds_alternative<uint64_t>(v) ? std::get<uint64_t>(v) : 0);
    }
    std::string text = weir::to_string(v);
    if (std::holds_alternative<int64_t>(v)) {
        text = std::to_string(static_cast<double>(std::get<int64_t>(v)));
    }
    try {
        return canonical_value(c.value_prim, text);
    } catch (const ProtocolError&) {
        return canonical_value(Prim::kString, text);  // a gauge that changed its type; keep the text
    }
}

Reply Service::run_specification(const Message& spec, const std::string& identity) {
    specifications.fetch_add(1, std::memory_order_relaxed);
    const Cap* cap = nullptr;
    std::string mismatch;
    for (const auto& c : caps_) {
        if (c->msg.label == spec.label) {
            cap = c.get();
            break;
        }
    }
    if (cap != nullptr) {
        if (!cfg_.access.allows(identity, cap->msg.label)) {
            refused.fetch_add(1, std::memory_order_relaxed);
            return fail(spec.token, "identity '" + identity + "' is not authorised for capability '" +
                                        cap->msg.label + "'", 403);
        }
        mismatch = schema_mismatch(cap->msg, spec, reg_);
        if (!mismatch.empty()) {
            return fail(spec.token, "specification does not fit capability '" + cap->msg.label + "': " + mismatch, 400);
        }
    } else {
        // As the RI's "fulfills": the schema, then the temporal scope (a measurement and its
        // periodic variant share a schema; the period tells them apart).
        const Cap* same_schema = nullptr;
        const int64_t t = wall_now_ns();
        for (const auto& c : caps_) {
            if (!schema_mismatch(c->msg, spec, reg_).empty()) {
                continue;
            }
            if (same_schema == nullptr) {
                same_schema = c.get();
            }
            if (spec.when && spec.when->check_follows(*c->msg.when, t).empty()) {
                cap = c.get();
                break;
            }
        }
        if (cap == nullptr) {
            cap = same_schema;  // its scope error is reported below
        }
        if (cap == nullptr) {
            return fail(spec.token, "no capability matches specification '" + spec.label +
                                        "' (label, verb, registry, parameters and results must be a capability's)",
                        404);
        }
        if (!cfg_.access.allows(identity, cap->msg.label)) {
            refused.fetch_add(1, std::memory_order_relaxed);
            return fail(spec.token, "identity '" + identity + "' is not authorised for capability '" +
                                        cap->msg.label + "'", 403);
        }
    }
    const int64_t now = wall_now_ns();
    if (!spec.when) {
        return fail(spec.token, "specification without a temporal scope", 400);
    }
    if (const std::string why = spec.when->check_follows(*cap->msg.when, now); !why.empty()) {
        return fail(spec.token, why, 400);
    }
    if (cap->type == CapType::kExport) {
        const std::string& url = spec.parameter("repository.url")->value;
        if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
            return fail(spec.token, "repository.url '" + url + "' must be an http:// or https:// URL", 400);
        }
    }
    if (spec.when->repeated() && cap->type != CapType::kMeasure && cap->type != CapType::kPeriodic &&
        cap->type != CapType::kExport) {
        return fail(spec.token, "'" + cap->msg.label + "' cannot be repeated: repetitions are for measurements", 400);
    }
    if (cap->type == CapType::kDisable && spec.when->singleton()) {
        return fail(spec.token, "'" + cap->msg.label + "' needs a range: 'now + 30s' switches the block off for 30 s, "
                                "'now ... future' until interrupted", 400);
    }
    const bool ranged_control = cap->type == CapType::kControl && !spec.when->singleton();
    if (ranged_control && !cap->target->spec.read) {
        return fail(spec.token, "control '" + cap->target->spec.name + "' of block '" + cap->target->block +
                                    "' cannot be read, so it cannot be put back after a range: write it with 'now'", 400);
    }

    Job job;
    job.spec = spec;
    job.spec.kind = Kind::kSpecification;
    if (job.spec.token.empty()) {
        job.spec.token = random_token();
    }
    job.cap = cap;
    job.identity = identity;
    const When::Span span = spec.when->resolve(now);
    job.period_ns = spec.when->period_ns();
    job.end_ns = span.end;
    job.start_ns = std::max(span.start, now);
    const bool counter = cap->target != nullptr && cap->target->spec.kind == VarKind::kCounter;
    if (counter && spec.when->singleton()) {
        job.start_ns = start_ns_;  // a counter read "now": its growth since the composition started
    } else if (span.start < now - 1'000'000'000) {
        // Counters only know their value now, so a window reaching back starts at the composition.
        if (!counter || span.start > start_ns_) {
            return fail(job.spec.token, "temporal scope '" + spec.when->str() + "' starts at " +
                                            format_time(span.start) + "; this capability keeps no history, so it "
                                            "starts now or later (counters: or before the composition started, " +
                                            format_time(start_ns_) + ")", 400);
        }
        job.start_ns = start_ns_;
    }

    std::unique_lock<std::mutex> lk(mu_);
    if (auto it = jobs_.find(job.spec.token); it != jobs_.end()) {
        if (it->second.identity == identity && !it->second.done) {
            return Reply{receipt_of(it->second), 200};  // the same specification again
        }
        lk.unlock();
        return fail(job.spec.token, "token '" + job.spec.token + "' is already in use; send a new token", 409);
    }
    if (jobs_.size() >= cfg_.max_jobs) {
        lk.unlock();
        return fail(job.spec.token, "too many specifications pending (" + std::to_string(cfg_.max_jobs) +
                                        "); redeem or interrupt some first", 503);
    }

    switch (cap->type) {
        case CapType::kDisable:
        case CapType::kControl: {
            if (cap->type == CapType::kDisable || ranged_control) {
                if (ranged_control) {
                    job.value = spec.parameter("weir.control.value")->value;
                }
                if (job.start_ns <= now) {
                    try {
                        begin(job, now);
                    } catch (const std::exception& e) {  // only a control's write throws
                        lk.unlock();
                        return fail(job.spec.token, "control '" + cap->target->spec.name + "' of block '" +
                                                        cap->target->block + "' refused '" + job.value + "': " + e.what(),
                                    400);
                    }
                }
                job.next_ns = job.started ? job.end_ns : job.start_ns;
                break;
            }
            const std::string value = spec.parameter("weir.control.value")->value;
            try {
                cap->target->spec.write(value);
            } catch (const std::exception& e) {
                lk.unlock();
                return fail(job.spec.token, "control '" + cap->target->spec.name + "' of block '" +
                                                cap->target->block + "' refused '" + value + "': " + e.what(), 400);
            }
            const std::string after = cap->target->spec.read ? weir::to_string(cap->target->spec.read()) : value;
            job.rows.push_back({format_time(now), after});
            job.start_ns = job.end_ns = now;
            job.done = true;
            break;
        }
        case CapType::kStop:
            job.rows.push_back({format_time(now)});
            job.start_ns = job.end_ns = now;
            job.done = true;
            break;
        case CapType::kMeasure:
        case CapType::kPeriodic:
        case CapType::kExport:
            if (cap->type == CapType::kExport) {
                job.export_url = spec.parameter("repository.url")->value;
            }
            if (spec.when->repeated()) {  // runs spawned by the scheduler on the interval's grid
                job.every_ns = spec.when->period_ns();
                job.period_ns = 0;
                job.next_ns = job.start_ns;
                break;
            }
            arm(job, now);
            break;
    }
    const bool done = job.done;
    const std::string token = job.spec.token;
    if (done) {
        results.fetch_add(1, std::memory_order_relaxed);
        Reply r{result_of(job), 200};
        lk.unlock();
        if (cap->type == CapType::kStop) {
            stop_composition_();
        }
        return r;
    }
    Reply r{receipt_of(job), 200};
    jobs_.emplace(token, std::move(job));
    lk.unlock();
    cv_.notify_all();
    return r;
}

Reply Service::redeem(const Message& in, const std::string& identity, bool interrupt) {
    const std::string kind(to_string(in.kind));
    if (in.token.empty()) {
        return fail("", kind + " without a token", 400);
    }
    std::unique_lock<std::mutex> lk(mu_);
    auto it = jobs_.find(in.token);
    if (it == jobs_.end() || it->second.identity != identity || !it->second.parent.empty()) {
        lk.unlock();
        return fail(in.token, "unknown token '" + in.token + "': no receipt with it is outstanding (" + kind +
                                  " of a result already redeemed, or never issued)", 404);
    }
    Job& j = it->second;
    if (j.every_ns > 0) {  // repeated: an envelope of the runs' results so far
        const int64_t now = wall_now_ns();
        if (interrupt && !j.done) {
            for (auto run = jobs_.begin(); run != jobs_.end();) {
                if (run->second.parent != j.spec.token) {
                    ++run;
                    continue;
                }
                if (run->second.started) {
                    close_window(run->second, now);
                }
                run->second.end_ns = now;
                j.finished.push_back(result_of(run->second));
                run = jobs_.erase(run);
            }
            j.children = 0;
            j.all_spawned = true;
            j.end_ns = now;
            j.done = true;
            j.done_at = now;
        }
        if (j.finished.empty() && !j.done) {
            return Reply{receipt_of(j), 200};
        }
        Reply r{envelope_of(j, now), 200, j.done};
        if (j.done) {
            results.fetch_add(j.finished.size(), std::memory_order_relaxed);
            jobs_.erase(it);
        }
        return r;
    }
    if (interrupt && !j.done) {
        const int64_t now = wall_now_ns();
        if (j.started) {
            close_window(j, now);
        }
        j.end_ns = now;
        j.done = true;
        j.done_at = now;
    }
    if (!j.done) {
        return Reply{receipt_of(j), 200};
    }
    Reply r{result_of(j), 200};
    jobs_.erase(it);
    results.fetch_add(1, std::memory_order_relaxed);
    return r;
}

Message Service::receipt_of(const Job& j) const {
    Message m = j.spec;
    m.kind = Kind::kReceipt;
    m.resultvalues.clear();
    m.token_only = false;
    return m;
}

Message Service::result_of(const Job& j) const {
    Message m = j.spec;
    m.kind = Kind::kResult;
    m.token_only = false;
    m.metadata = j.cap->msg.metadata;
    m.resultvalues = j.rows;
    int64_t first = j.start_ns, last = j.end_ns;
    if (last == kFuture || last < first) {
        last = first;
    }
    m.when = When::absolute(first, last);
    return m;
}

void Service::arm(Job& job, int64_t now) {
    const bool counter = job.cap->target->spec.kind == VarKind::kCounter;
    if (job.start_ns <= now) {
        job.started = true;
        job.window_start = job.start_ns;
        if (counter) {
            job.base = job.start_ns == start_ns_ ? 0 : std::stoull(read_value(*job.cap));
        }
    }
    if (job.end_ns <= now && job.period_ns == 0) {  // "now", "past ... now": answer at once
        if (counter) {
            close_window(job, now);
        } else {
            job.rows.push_back({format_time(now), read_value(*job.cap)});
        }
        job.end_ns = now;
        job.done = true;
        job.done_at = now;
    } else {
        job.next_ns = !job.started      ? job.start_ns
                      : job.period_ns > 0 ? std::min(job.start_ns + job.period_ns, job.end_ns)
                                          : job.end_ns;
    }
}

void Service::spawn_run(Job& parent, int64_t now) {
    const int64_t at = parent.next_ns;
    Job run;
    run.spec = parent.spec;
    run.spec.when = parent.spec.when->run_at(at);
    run.spec.token = parent.spec.token + "-run" + std::to_string(++parent.runs);  // as the RI retokens its runs
    run.cap = parent.cap;
    run.identity = parent.identity;
    run.parent = parent.spec.token;
    run.export_url = parent.export_url;
    const When::Span span = run.spec.when->resolve(now);
    run.start_ns = span.start;
    run.end_ns = span.end;
    run.period_ns = run.spec.when->period_ns();
    if (run.cap->target->spec.kind == VarKind::kCounter && run.spec.when->singleton()) {
        run.start_ns = start_ns_;  // a single reading of a counter: its growth since the start, as "now"
    }
    arm(run, now);
    ++parent.children;
    int64_t next = at + parent.every_ns;  // the grid, skipping runs missed while late
    while (next <= now) {
        next += parent.every_ns;
    }
    if (next >= parent.end_ns) {
        parent.next_ns = kFuture;
        parent.all_spawned = true;
    } else {
        parent.next_ns = next;
    }
    if (run.done) {
        adopt(parent, run, now);
    } else if (!jobs_.emplace(run.spec.token, std::move(run)).second) {
        --parent.children;  // a client's token took the name: this run is lost
    }
}

void Service::adopt(Job& parent, const Job& run, int64_t now) {
    parent.finished.push_back(result_of(run));
    --parent.children;
    if (parent.all_spawned && parent.children == 0) {
        parent.end_ns = std::min(parent.end_ns, now);
        parent.done = true;
        parent.done_at = now;
    }
}

Message Service::envelope_of(const Job& j, int64_t now) const {
    Message env;
    env.kind = Kind::kEnvelope;
    env.verb = "message";
    env.token = j.spec.token;
    env.label = j.spec.label;
    env.when = When::absolute(j.start_ns, std::max(j.start_ns, std::min(j.end_ns, now)));
    env.contents = j.finished;
    return env;
}

void Service::set_switch(const Switch& sw, bool off) {
    int& n = disabled_[&sw];
    if (off) {
        if (n++ == 0) {
            sw.set_enabled(false);
        }
    } else if (n > 0 && --n == 0) {
        sw.set_enabled(true);
    }
}

void Service::begin(Job& j, int64_t now) {
    if (j.cap->type == CapType::kDisable) {
        set_switch(*j.cap->sw, true);
        j.base = j.cap->sw->drops();
    } else {
        const Target& t = *j.cap->target;
        j.restore = weir::to_string(t.spec.read());
        t.spec.write(j.value);  // throws when the control refuses the value
        j.rows.push_back({format_time(now), weir::to_string(t.spec.read())});
    }
    j.started = true;
    j.window_start = now;
}

void Service::close_window(Job& j, int64_t now) {
    if (j.cap->type == CapType::kDisable) {
        set_switch(*j.cap->sw, false);
        const uint64_t drops = j.cap->sw->drops();
        j.rows.push_back({format_time(j.window_start), format_time(now), std::to_string(drops - j.base)});
        return;
    }
    if (j.cap->type == CapType::kControl) {
        try {
            j.cap->target->spec.write(j.restore);
        } catch (const std::exception&) {
            // The value it had a moment ago: a control that refuses it now has nothing better.
        }
        j.rows.push_back({format_time(now), weir::to_string(j.cap->target->spec.read())});
        return;
    }
    if (j.rows.size() >= cfg_.max_rows) {
        if (j.export_url.empty()) {
            return;
        }
        j.rows.erase(j.rows.begin());  // an export keeps going; its result keeps the latest rows
    }
    const bool counter = j.cap->target->spec.kind == VarKind::kCounter;
    if (counter) {
        const uint64_t v = std::stoull(read_value(*j.cap));
        const uint64_t grew = v >= j.base ? v - j.base : v;  // a reset (control) restarts the count
        j.rows.push_back({format_time(j.window_start), format_time(now), std::to_string(grew)});
        j.base = v;
    } else {
        j.rows.push_back({format_time(now), read_value(*j.cap)});
    }
    if (!j.export_url.empty() && cfg_.export_results) {
        // One result message per row, as a repository takes them: the specification, the row, its window.
        Message m = j.spec;
        m.kind = Kind::kResult;
        m.token_only = false;
        m.metadata = j.cap->msg.metadata;
        m.resultvalues = {j.rows.back()};
        m.when = When::absolute(j.window_start, now);
        cfg_.export_results(j.export_url, serialize(m, reg_));
    }
    j.window_start = now;
}

void Service::act(Job& j, int64_t now) {
    if (j.every_ns > 0) {
        spawn_run(j, now);
        if (j.all_spawned && j.children == 0 && !j.done) {
            j.done = true;
            j.done_at = now;
        }
        return;
    }
    if (!j.started && (j.cap->type == CapType::kDisable || j.cap->type == CapType::kControl)) {
        try {
            begin(j, now);
            j.next_ns = j.end_ns;
        } catch (const std::exception&) {
            j.end_ns = now;  // a deferred write the control refused: the result has no rows
            j.done = true;
            j.done_at = now;
        }
        return;
    }
    if (!j.started) {
        j.started = true;
        j.window_start = now;
        if (j.cap->target->spec.kind == VarKind::kCounter) {
            j.base = std::stoull(read_value(*j.cap));
        }
        j.next_ns = j.period_ns > 0 ? std::min(now + j.period_ns, j.end_ns) : j.end_ns;
        return;
    }
    close_window(j, now);
    if (j.period_ns == 0 || now >= j.end_ns) {
        j.end_ns = std::min(j.end_ns, now);
        j.done = true;
        j.done_at = now;
        return;
    }
    // The next tick keeps to the period's grid, however late this one ran.
    int64_t next = j.next_ns + j.period_ns;
    while (next <= now) {
        next += j.period_ns;
    }
    j.next_ns = std::min(next, j.end_ns);
}

void Service::scheduler_loop() {
    std::unique_lock<std::mutex> lk(mu_);
    while (!quit_) {
        const int64_t now = wall_now_ns();
        int64_t next = now + 1'000'000'000;  // at least once a second: expire finished jobs
        for (auto it = jobs_.begin(); it != jobs_.end();) {
            Job& j = it->second;
            if (j.done) {
                if (now - j.done_at > cfg_.keep_results_ns) {
                    it = jobs_.erase(it);
                    continue;
                }
            } else {
                if (j.next_ns <= now) {
                    act(j, now);
                }
                if (j.done && !j.parent.empty()) {  // a finished run goes to its repeated job
                    if (auto p = jobs_.find(j.parent); p != jobs_.end()) {
                        adopt(p->second, j, now);
                    }
                    it = jobs_.erase(it);
                    continue;
                }
                if (!j.done) {
                    next = std::min(next, j.next_ns);
                }
            }
            ++it;
        }
        cv_.wait_for(lk, std::chrono::nanoseconds(std::max<int64_t>(next - wall_now_ns(), 0)));
    }
}

}  // namespace weir::mplane
