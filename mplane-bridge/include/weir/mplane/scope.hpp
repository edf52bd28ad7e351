// mPlane temporal scopes ("when"): the time a statement applies to.
//
//   now | 2014-08-25 14:51:02              singleton
//   A ... B | A + 30m | past ... now | now ... future      ranges (A, B: now, past, future or a time)
//   <range> / 10s                          periodic (the period of a capability is its minimum)
//   repeat <range> / 1m { now + 10s / 1s } repeated: a run every minute over the range, each run
//                                          the inner scope (now | now + d | now + d / p); no inner
//                                          scope = a single reading ("now") per repetition
// Durations are [Nd][Nh][Nm][Ns]. Times are UTC "YYYY-MM-DD[ HH[:MM[:SS[.frac]]]]". "inf" is
// read as "future". Cron repetitions ("repeat <range> cron ...") are refused.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace weir::mplane {

inline constexpr int64_t kPast = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kFuture = std::numeric_limits<int64_t>::max();

// "2014-08-25 14:51:02.623000" <-> nanoseconds since the epoch; parse throws ProtocolError.
int64_t parse_time(std::string_view text);
std::string format_time(int64_t ns);
// "1d2h30m10s" <-> nanoseconds (whole seconds); parse throws ProtocolError.
int64_t parse_duration(std::string_view text);
std::string format_duration(int64_t ns);

struct Instant {
    enum class Kind { kPast, kNow, kFuture, kAbsolute };
    Kind kind = Kind::kNow;
    int64_t ns = 0;  // kAbsolute only

    int64_t resolve(int64_t now_ns) const;
    std::string str() const;
    bool operator==(const Instant&) const = default;
};

class When {
public:
    // Throws ProtocolError("bad temporal scope '...': ...").
    static When parse(std::string_view text);
    static When now() { return When{}; }
    static When range(Instant a, Instant b, int64_t period_ns = 0);
    static When absolute(int64_t start_ns, int64_t end_ns);  // a result's "A ... B"

    std::string str() const;
    bool singleton() const { return singleton_; }
    int64_t period_ns() const { return period_ns_; }  // repeated: the interval between runs
    bool repeated() const { return repeated_; }
    // Repeated: the scope of the run starting at `start_ns` (absolute).
    When run_at(int64_t start_ns) const;

    struct Span {
        int64_t start = 0;  // kPast when unbounded
        int64_t end = 0;    // kFuture when unbounded
    };
    Span resolve(int64_t now_ns) const;
    // Empty when a specification with this scope may run under a capability with scope `cap`
    // at `now_ns`; else why not.
    std::string check_follows(const When& cap, int64_t now_ns) const;

    bool operator==(const When&) const = default;

private:
    bool singleton_ = true;
    Instant start_;
    Instant end_;
    int64_t duration_ns_ = -1;  // "A + d": the end is start + d
    int64_t period_ns_ = 0;
    bool repeated_ = false;
    bool inner_singleton_ = true;    // repeated: each run a single reading
    int64_t inner_duration_ns_ = 0;  // repeated, not singleton: each run lasts this long
    int64_t inner_period_ns_ = 0;    // repeated: each run's period (0 = one row per run)
};

}  // namespace weir::mplane
