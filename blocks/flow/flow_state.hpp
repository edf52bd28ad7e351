// What the flow table holds per open flow, packed: ten million flows must fit in 2.5 GiB. The
// full FlowRecord (flow_record.hpp) is built from this state only when the flow ends.
//
// Two tiers: `Flow` (the core set Tstat always logs, plus sequence tracking) lives in the table;
// `FlowExt` (end-to-end RTT and TTL, TCP options) follows its flow in the same table entry, only
// when FlowMeter is asked for those sets. See docs/flows.md, "Memory per flow".
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

namespace weir::flow {

static_assert(std::endian::native == std::endian::little, "U48 stores the low six bytes of a uint64_t");

// An unsigned 48-bit integer in six bytes (alignment 1): byte counters up to 256 TiB, and times
// as nanoseconds after the flow's first packet, up to 78 hours (FlowMeter restarts older flows).
class U48 {
public:
    static constexpr uint64_t kMax = (uint64_t{1} << 48) - 1;
    // Two loads combined in registers: a 6-byte memcpy into a uint64_t on the stack compiles to
    // two narrow stores and a wide load, which stalls on store forwarding (a third of
    // FlowMeter::tcp's time, by perf annotate).
    uint64_t get() const noexcept {
        uint32_t lo = 0;
        uint16_t hi = 0;
        std::memcpy(&lo, b_, 4);
        std::memcpy(&hi, b_ + 4, 2);
        return static_cast<uint64_t>(lo) | static_cast<uint64_t>(hi) << 32;
    }
    void set(uint64_t v) noexcept {
        const auto lo = static_cast<uint32_t>(v);
        const auto hi = static_cast<uint16_t>(v >> 32);
        std::memcpy(b_, &lo, 4);
        std::memcpy(b_ + 4, &hi, 2);
    }
    // Saturates instead of wrapping: a counter that stops is visible, one that wraps is a lie.
    void add(uint64_t d) noexcept {
        const uint64_t v = get();
        set(d > kMax - v ? kMax : v + d);
    }

private:
    uint8_t b_[6] = {0, 0, 0, 0, 0, 0};
};
static_assert(sizeof(U48) == 6 && alignof(U48) == 1);

// Direction-independent key: the two endpoints in a fixed order.
struct CanonicalKey {
    std::array<uint8_t, 16> addr_lo{};
    std::array<uint8_t, 16> addr_hi{};
    uint16_t port_lo = 0;
    uint16_t port_hi = 0;
    uint8_t ip_version = 0;
    uint8_t proto = 0;
    uint8_t pad[2] = {0, 0};

    bool operator==(const CanonicalKey& o) const noexcept {
        uint64_t a[5];
        uint64_t b[5];
        std::memcpy(a, this, sizeof a);
        std::memcpy(b, &o, sizeof b);
        return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0;
    }
};
static_assert(sizeof(CanonicalKey) == 40);

// One direction of a flow: Tstat's core counters and the sequence tracking that classifies each
// segment as new, retransmitted or out of sequence.
struct DirCore {
    uint32_t pkts_all = 0;
    uint32_t ack_cnt = 0;
    uint32_t ack_cnt_p = 0;
    uint32_t pkts_data = 0;
    uint32_t pkts_retx = 0;
    uint32_t pkts_ooo = 0;
    // Sequence tracking (one gap remembered per direction).
    uint32_t seq_next = 0;    // highest sequence number sent + 1
    uint32_t fin_seq = 0;     // sequence number of the FIN
    uint32_t hole_start = 0;
    uint32_t hole_end = 0;
    U48 bytes_uniq;
    U48 bytes_all;
    U48 bytes_retx;
    U48 wire_bytes;
    // Times as ns after the flow's first packet, plus one (0 = never). TCP: first and last payload
    // segment, first ACK without SYN. UDP: first and last packet (t_ack unused).
    U48 t_first;
    U48 t_last;
    U48 t_ack;
    uint16_t rst_cnt = 0;  // saturating: flows with 65535 RSTs or SYNs are attacks, not sessions
    uint16_t syn_cnt = 0;
    uint16_t fin_cnt = 0;
};
static_assert(sizeof(DirCore) == 88);
// Sequence-tracking state of one direction (Flow::seq_flags).
inline constexpr uint8_t kSeqInit = 1, kSeqFinSeen = 2, kSeqClosed = 4, kSeqHole = 8;

// The core tier, one per table entry.
struct Flow {
    CanonicalKey key;
    int64_t first_ns = 0;
    uint32_t wheel_next = 0;  // flow index + 1, 0 = none (also the free list)
    uint32_t wheel_prev = 0;
    U48 last_rel;             // last packet, ns after first_ns
    uint16_t wheel_slot = 0;
    uint8_t flags = 0;        // kInUse | kClientIsLo | kMidstream
    uint8_t seq_flags[2] = {0, 0};
    uint8_t pad_ = 0;
    DirCore dir[2];

    int64_t last_ns() const noexcept { return first_ns + static_cast<int64_t>(last_rel.get()); }
    bool in_use() const noexcept { return (flags & kInUse) != 0; }
    bool client_is_lo() const noexcept { return (flags & kClientIsLo) != 0; }
    bool midstream() const noexcept { return (flags & kMidstream) != 0; }

    static constexpr uint8_t kInUse = 1, kClientIsLo = 2, kMidstream = 4;
};
static_assert(sizeof(Flow) == 248, "the table's bytes per flow are a documented figure (docs/flows.md)");

// Optional tier, per direction, in two parts so that the end-to-end set alone stays small and
// close to the flow: `DirE2e` (RTT from data-ACK matching, TTL), then `DirOpt` (TCP-options set).
struct DirE2e {
    // RTT: up to two segments timed at once (end sequence, send time as ns after the flow start + 1).
    uint32_t timed_end[2] = {0, 0};
    U48 timed_rel[2];
    uint8_t ttl_min = 0;
    uint8_t ttl_max = 0;
    uint32_t rtt_cnt = 0;
    float rtt_min_ms = 0;
    float rtt_max_ms = 0;
    double rtt_sum_ms = 0;
    double rtt_sum2_ms = 0;
};

struct DirOpt {
    uint16_t mss = 0;
    uint16_t seg_max = 0;
    uint16_t seg_min = 0;
    uint8_t window_scale = 0;
    uint8_t opt_flags = 0;  // kOpt* below
    uint32_t sack_cnt = 0;
    uint32_t win_max = 0;
    uint32_t win_min = 0;   // smallest positive
    uint32_t win_zero = 0;
    uint32_t win_last = 0;  // effective window of this side's last ACK/SYN (window probes)
    // In-flight estimate: this side's sequence reach minus the other side's last ACK.
    uint32_t cwin_max = 0;
    uint32_t cwin_min = 0;
    uint32_t cwin_ini = 0;  // payload sent before the other side first acknowledged data
    uint32_t last_ack = 0;  // ack number of this side's last ACK (not RST)
    uint32_t syn_seq = 0;   // sequence number of this side's SYN
    uint32_t last_seq = 0;  // sequence number and IP id of this side's last segment (duplicates)
    uint16_t last_ip_id = 0;
    uint16_t dup_acks = 0;  // consecutive duplicate ACKs sent by this side
    U48 gap_rel;            // when this side's open gap was created (ns after start + 1)
    uint8_t last_class = 0; // class of this side's last segment (kClass*; 0 = in sequence)
    uint8_t anomaly_flags = 0;  // kAnomaly* below
    // Out-of-sequence segments by cause (Tstat's classes, docs/flows.md).
    uint32_t pkts_rto = 0;
    uint32_t pkts_fs = 0;
    uint32_t pkts_reor = 0;
    uint32_t pkts_dup = 0;
    uint32_t pkts_unk = 0;
    uint32_t pkts_fc = 0;
    uint32_t pkts_unrto = 0;
    uint32_t pkts_unfs = 0;
};
inline constexpr uint8_t kOptWindowScale = 1, kOptTimestamps = 2, kOptSackPermitted = 4, kOptSynSeen = 8,
                         kOptFinSeen = 16;
inline constexpr uint8_t kAnomalyDataAcked = 1, kAnomalySynRetx = 2, kAnomalyAckSeen = 4;
// Segment classes, in Tstat's numbering.
inline constexpr uint8_t kClassRto = 1, kClassFs = 2, kClassReor = 3, kClassDup = 4, kClassFc = 5,
                         kClassUnrto = 6, kClassUnfs = 7, kClassUnk = 8;

// Both directions' end-to-end parts first: with stats.options=false only they are allocated.
struct FlowExt {
    DirE2e e2e[2];
    DirOpt opt[2];
};

}  // namespace weir::flow
