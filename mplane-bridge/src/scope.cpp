#include <weir/mplane/registry.hpp>
#include <weir/mplane/scope.hpp>

#include <charconv>
#include <cstdio>
#include <ctime>

namespace weir::mplane {

namespace {

constexpr int64_t kSecond = 1'000'000'000;

// Reads exactly `n` digits at `pos` into `out`.
bool digits(std::string_view s, std::size_t& pos, std::size_t n, int& out) {
    if (pos + n > s.size()) {
        return false;
    }
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const char c = s[pos + i];
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + (c - '0');
    }
    pos += n;
    out = v;
    return true;
}

}  // namespace

int64_t parse_time(std::string_view s) {
    const auto bad = [&](const char* why) {
        return ProtocolError("bad time '" + std::string(s) + "': " + why +
                             " (expected YYYY-MM-DD[ HH[:MM[:SS[.frac]]]], UTC)");
    };
    std::size_t pos = 0;
    int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
    int64_t frac_ns = 0;
    if (!digits(s, pos, 4, year) || pos >= s.size() || s[pos++] != '-' || !digits(s, pos, 2, mon) ||
        pos >= s.size() || s[pos++] != '-' || !digits(s, pos, 2, day)) {
        throw bad("no date");
    }
    if (pos < s.size()) {
        if (s[pos] != ' ' && s[pos] != 'T') {
            throw bad("unexpected text after the date");
        }
        ++pos;
        if (!digits(s, pos, 2, hour)) {
            throw bad("no hour");
        }
        if (pos < s.size()) {
            if (s[pos++] != ':' || !digits(s, pos, 2, min)) {
                throw bad("no minutes");
            }
        }
        if (pos < s.size()) {
            if (s[pos++] != ':' || !digits(s, pos, 2, sec)) {
                throw bad("no seconds");
            }
        }
        if (pos < s.size()) {
            if (s[pos++] != '.' || pos == s.size()) {
                throw bad("unexpected text after the seconds");
            }
            int64_t scale = kSecond;
            for (; pos < s.size(); ++pos) {
                const char c = s[pos];
                if (c < '0' || c > '9') {
                    throw bad("fraction of a second with a non-digit");
                }
                scale /= 10;
                frac_ns += (c - '0') * scale;  // digits beyond nanoseconds add 0
            }
        }
    }
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
        throw bad("a field is out of range");
    }
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    const time_t t = timegm(&tm);
    if (tm.tm_mday != day) {
        throw bad("no such day in that month");
    }
    return static_cast<int64_t>(t) * kSecond + frac_ns;
}

std::string format_time(int64_t ns) {
    int64_t secs = ns / kSecond;
    int64_t rem = ns % kSecond;
    if (rem < 0) {
        rem += kSecond;
        --secs;
    }
    const time_t t = static_cast<time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[80];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06d", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(rem / 1000));
    return buf;
}

int64_t parse_duration(std::string_view s) {
    const auto bad = [&](const char* why) {
        return ProtocolError("bad duration '" + std::string(s) + "': " + why +
                             " (expected [Nd][Nh][Nm][Ns], e.g. 30m or 1h30m)");
    };
    if (s.empty()) {
        throw bad("empty");
    }
    static constexpr struct {
        char unit;
        int64_t seconds;
    } kUnits[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    std::size_t next_unit = 0;
    int64_t total = 0;
    std::size_t pos = 0;
    while (pos < s.size()) {
        int64_t n = 0;
        const auto [ptr, ec] = std::from_chars(s.data() + pos, s.data() + s.size(), n);
        if (ec != std::errc() || n < 0) {
            throw bad("expected a number");
        }
        pos = static_cast<std::size_t>(ptr - s.data());
        if (pos >= s.size()) {
            throw bad("a number without a unit");
        }
        const char u = s[pos++];
        while (next_unit < 4 && kUnits[next_unit].unit != u) {
            ++next_unit;
        }
        if (next_unit == 4) {
            throw bad("units are d, h, m, s, each once, in that order");
        }
        if (n > 100LL * 365 * 86400 / kUnits[next_unit].seconds) {
            throw bad("longer than a century");
        }
        total += n * kUnits[next_unit].seconds;
        ++next_unit;
    }
    return total * kSecond;
}

std::string format_duration(int64_t ns) {
    int64_t secs = ns / kSecond;
    if (secs == 0) {
        return "0s";
    }
    std::string out;
    for (const auto& [unit, size] : {std::pair{'d', 86400LL}, {'h', 3600LL}, {'m', 60LL}, {'s', 1LL}}) {
        if (secs >= size) {
            out += std::to_string(secs / size);
            out += unit;
            secs %= size;
        }
    }
    return out;
}

int64_t Instant::resolve(int64_t now_ns) const {
    switch (kind) {
        case Kind::kPast: return kPast;
        case Kind::kNow: return now_ns;
        case Kind::kFuture: return kFuture;
        case Kind::kAbsolute: return ns;
    }
    return now_ns;
}

std::string Instant::str() const {
    switch (kind) {
        case Kind::kPast: return "past";
        case Kind::kNow: return "now";
        case Kind::kFuture: return "future";
        case Kind::kAbsolute: return format_time(ns);
    }
    return "now";
}

namespace {

Instant parse_instant(std::string_view s) {
    if (s == "past") return {Instant::Kind::kPast, 0};
    if (s == "now") return {Instant::Kind::kNow, 0};
    if (s == "future" || s == "inf") return {Instant::Kind::kFuture, 0};
    return {Instant::Kind::kAbsolute, parse_time(s)};
}

}  // namespace

When When::range(Instant a, Instant b, int64_t period_ns) {
    When w;
    w.singleton_ = false;
    w.start_ = a;
    w.end_ = b;
    w.period_ns_ = period_ns;
    return w;
}

When When::absolute(int64_t start_ns, int64_t end_ns) {
    return range({Instant::Kind::kAbsolute, start_ns}, {Instant::Kind::kAbsolute, end_ns});
}

When When::parse(std::string_view text) {
    const auto bad = [&](const std::string& why) {
        return ProtocolError("bad temporal scope '" + std::string(text) + "': " + why);
    };
    if (text.substr(0, 7) == "repeat ") {
        std::string_view outer = text.substr(7);
        while (!outer.empty() && outer.back() == ' ') {
            outer.remove_suffix(1);  // the RI prints its inner scope with " } " at the end
        }
        if (outer.find(" cron ") != std::string_view::npos) {
            throw bad("cron repetitions are not supported; use 'repeat <range> / <interval> { <inner> }'");
        }
        When inner;  // "now" unless given
        if (const auto open = outer.find(" {"); open != std::string_view::npos) {
            std::string_view body = outer.substr(open + 2);
            outer = outer.substr(0, open);
            if (body.empty() || body.back() != '}') {
                throw bad("the inner scope must end with '}'");
            }
            body.remove_suffix(1);
            while (!body.empty() && body.front() == ' ') body.remove_prefix(1);
            while (!body.empty() && body.back() == ' ') body.remove_suffix(1);
            if (body.substr(0, 3) != "now" || body.find(" ... ") != std::string_view::npos) {
                throw bad("the inner scope must be relative to now: now, now + 10s or now + 10s / 1s");
            }
            try {
                inner = parse(body);
            } catch (const ProtocolError& e) {
                throw bad(std::string("inner scope: ") + e.what());
            }
        }
        When w;
        try {
            w = parse(outer);
        } catch (const ProtocolError& e) {
            throw bad(e.what());
        }
        if (w.repeated_ || w.singleton_ || w.period_ns_ <= 0) {
            throw bad("a repetition needs a range and an interval: repeat now + 10m / 1m { now + 10s }");
        }
        w.repeated_ = true;
        w.inner_singleton_ = inner.singleton_;
        w.inner_duration_ns_ = inner.singleton_ ? 0 : inner.duration_ns_;
        w.inner_period_ns_ = inner.period_ns_;
        if (w.inner_duration_ns_ > w.period_ns_) {
            throw bad("each run (" + format_duration(w.inner_duration_ns_) + ") must end before the next starts (" +
                      format_duration(w.period_ns_) + ")");
        }
        return w;
    }
    When w;
    std::string_view rest = text;
    try {
        if (const auto slash = rest.find(" / "); slash != std::string_view::npos) {
            w.period_ns_ = parse_duration(rest.substr(slash + 3));
            if (w.period_ns_ <= 0) {
                throw bad("the period must be at least 1s");
            }
            rest = rest.substr(0, slash);
        }
        if (const auto dots = rest.find(" ... "); dots != std::string_view::npos) {
            w.singleton_ = false;
            w.start_ = parse_instant(rest.substr(0, dots));
            w.end_ = parse_instant(rest.substr(dots + 5));
            if (w.start_.kind == Instant::Kind::kFuture) {
                throw bad("a range cannot start in the future");
            }
            if (w.end_.kind == Instant::Kind::kPast) {
                throw bad("a range cannot end in the past");
            }
            if (w.start_.kind == Instant::Kind::kAbsolute && w.end_.kind == Instant::Kind::kAbsolute &&
                w.end_.ns < w.start_.ns) {
                throw bad("the range ends before it starts");
            }
        } else if (const auto plus = rest.find(" + "); plus != std::string_view::npos) {
            w.singleton_ = false;
            w.start_ = parse_instant(rest.substr(0, plus));
            if (w.start_.kind != Instant::Kind::kNow && w.start_.kind != Instant::Kind::kAbsolute) {
                throw bad("'A + duration' needs A to be now or a time");
            }
            w.duration_ns_ = parse_duration(rest.substr(plus + 3));
        } else {
            w.start_ = parse_instant(rest);
            if (w.start_.kind != Instant::Kind::kNow && w.start_.kind != Instant::Kind::kAbsolute) {
                throw bad("a single point in time is now or a time; past and future need a range");
            }
            if (w.period_ns_ != 0) {
                throw bad("a period needs a range (e.g. now + 1m / 10s)");
            }
        }
    } catch (const ProtocolError& e) {
        const std::string what = e.what();
        if (what.rfind("bad temporal scope", 0) == 0) {
            throw;
        }
        throw bad(what);
    }
    return w;
}

When When::run_at(int64_t start_ns) const {
    if (inner_singleton_) {
        When w;
        w.start_ = {Instant::Kind::kAbsolute, start_ns};
        return w;
    }
    return range({Instant::Kind::kAbsolute, start_ns}, {Instant::Kind::kAbsolute, start_ns + inner_duration_ns_},
                 inner_period_ns_);
}

std::string When::str() const {
    std::string out = repeated_ ? "repeat " + start_.str() : start_.str();
    if (!singleton_) {
        if (duration_ns_ >= 0) {
            out += " + ";
            out += format_duration(duration_ns_);
        } else {
            out += " ... ";
            out += end_.str();
        }
    }
    if (period_ns_ > 0) {
        out += " / ";
        out += format_duration(period_ns_);
    }
    if (repeated_ && !inner_singleton_) {  // as the RI prints it: "{ now }" is left out
        out += " { now + ";
        out += format_duration(inner_duration_ns_);
        if (inner_period_ns_ > 0) {
            out += " / ";
            out += format_duration(inner_period_ns_);
        }
        out += " }";
    }
    return out;
}

When::Span When::resolve(int64_t now_ns) const {
    Span s;
    s.start = start_.resolve(now_ns);
    if (singleton_) {
        s.end = s.start;
    } else if (duration_ns_ >= 0) {
        s.end = s.start + duration_ns_;
    } else {
        s.end = end_.resolve(now_ns);
    }
    return s;
}

std::string When::check_follows(const When& cap, int64_t now_ns) const {
    if (repeated_) {  // the outer range within the capability's; each run's period against its period
        When runs = *this;
        runs.repeated_ = false;
        runs.period_ns_ = inner_period_ns_;
        return runs.check_follows(cap, now_ns);
    }
    const Span s = resolve(now_ns);
    const Span c = cap.resolve(now_ns);
    if (s.end != kFuture && s.end < now_ns) {
        return "temporal scope '" + str() + "' ended at " + format_time(s.end) + ", before now (" +
               format_time(now_ns) + ")";
    }
    if (cap.period_ns_ == 0 && period_ns_ != 0) {
        return "temporal scope '" + str() + "' has a period, but the capability ('" + cap.str() +
               "') is not periodic";
    }
    if (cap.period_ns_ != 0 && period_ns_ == 0) {
        return "temporal scope '" + str() + "' has no period; the capability ('" + cap.str() +
               "') needs one of at least " + format_duration(cap.period_ns_);
    }
    if (period_ns_ < cap.period_ns_) {
        return "period " + format_duration(period_ns_) + " is shorter than the capability's minimum " +
               format_duration(cap.period_ns_);
    }
    if (s.start < c.start || s.end > c.end) {
        return "temporal scope '" + str() + "' is not within the capability's '" + cap.str() + "'";
    }
    return {};
}

}  // namespace weir::mplane
