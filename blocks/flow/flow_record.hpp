// What FlowMeter measures per flow and emits when a flow ends: Tstat's per-direction TCP
// statistics (core, end-to-end and TCP-options sets) and UDP statistics, carried in batches.
#pragma once

#include <weir/message.hpp>
#include <weir/ring.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace weir::flow {

struct FlowKey {
    std::array<uint8_t, 16> addr[2]{};  // [0] client, [1] server (IPv4 in the first 4 bytes)
    uint16_t port[2]{};
    uint8_t ip_version = 0;
    uint8_t proto = 0;  // IPPROTO_TCP or IPPROTO_UDP
};

// Why a flow was written out.
enum class EndReason : uint8_t {
    kFin,        // both directions closed by acknowledged FINs
    kRst,        // a RST
    kIdle,       // idle timeout (TCP 300 s, UDP 200 s by default)
    kSingleton,  // one-sided flow of SYNs only / a single UDP packet, after 10 s
    kActive,     // active timeout: a long flow reported and restarted
    kEvicted,    // the table was full and this was the oldest flow
    kShutdown,   // still open at the end of the trace or at shutdown
};
const char* to_string(EndReason r);

// Per direction (0 = client to server, 1 = server to client).
struct DirStats {
    // Tstat core set.
    uint32_t pkts_all = 0;
    uint32_t rst_cnt = 0;
    uint32_t ack_cnt = 0;
    uint32_t ack_cnt_p = 0;   // pure ACKs: ACK set, no payload, no SYN/FIN/RST
    uint32_t pkts_data = 0;
    uint32_t pkts_retx = 0;
    uint32_t pkts_ooo = 0;
    uint32_t syn_cnt = 0;
    uint32_t fin_cnt = 0;
    uint64_t bytes_uniq = 0;  // payload bytes, first copy only
    uint64_t bytes_all = 0;   // payload bytes including retransmissions
    uint64_t bytes_retx = 0;
    uint64_t wire_bytes = 0;  // frame bytes on the wire (what tshark's conversations count)
    int64_t first_ns = 0;     // first packet of this direction (UDP only: c_first_abs)
    int64_t last_ns = 0;      // last packet of this direction (UDP only)
    int64_t first_payload_ns = 0;
    int64_t last_payload_ns = 0;
    int64_t first_ack_ns = 0;  // first segment with ACK and without SYN
    // End-to-end set (only when FlowRecord::extended).
    uint32_t rtt_cnt = 0;
    float rtt_min_ms = 0;
    float rtt_max_ms = 0;
    double rtt_sum_ms = 0;
    double rtt_sum2_ms = 0;
    uint8_t ttl_min = 0;
    uint8_t ttl_max = 0;
    // TCP options set (the part we measure; see docs/flows.md).
    bool opt_window_scale = false;
    bool opt_timestamps = false;
    bool opt_sack_permitted = false;
    uint8_t window_scale = 0;
    uint16_t mss = 0;           // last MSS option sent
    uint16_t seg_max = 0;       // largest payload seen
    uint16_t seg_min = 0;       // smallest non-empty payload seen
    uint32_t sack_cnt = 0;      // segments carrying SACK blocks
    uint32_t win_max = 0;       // scaled receive window
    uint32_t win_min = 0;
    uint32_t win_zero = 0;      // zero-window segments
    uint32_t cwin_max = 0;      // in-flight bytes: sequence reach minus the other side's last ACK
    uint32_t cwin_min = 0;
    uint32_t cwin_ini = 0;      // payload sent before the first acknowledgement of data
    uint32_t pkts_rto = 0;      // out-of-sequence segments by cause (Tstat's classes)
    uint32_t pkts_fs = 0;
    uint32_t pkts_reor = 0;
    uint32_t pkts_dup = 0;
    uint32_t pkts_unk = 0;
    uint32_t pkts_fc = 0;
    uint32_t pkts_unrto = 0;
    uint32_t pkts_unfs = 0;
    bool syn_retx = false;      // a SYN (or FIN) retransmitted with another sequence number
};

struct FlowRecord {
    FlowKey key;
    int64_t first_ns = 0;
    int64_t last_ns = 0;
    DirStats dir[2];
    EndReason reason = EndReason::kShutdown;
    bool complete = false;   // Tstat's log_tcp_complete rule (see FlowMeter)
    bool midstream = false;  // TCP flow first seen without its SYN
    bool extended = false;   // the end-to-end fields were measured
    bool options = false;    // the TCP-options fields were measured
    bool internal[2] = {false, false};
    uint32_t con_t = 0;      // classification (filled by classifiers, issue: classification)
    uint32_t p2p_t = 0;
    uint32_t http_t = 0;
    uint8_t udp_type[2] = {0, 0};
    // Layer 7 (FlowMeter classify.enabled): blocks/classify's App, names and versions.
    bool classified = false;
    bool app_by_port = false;     // decided by the server port only
    uint8_t app = 0;              // classify::App
    uint16_t tls_version[2] = {0, 0};
    uint16_t http_status = 0;
    std::array<char, 129> name_buf{};  // TLS/QUIC SNI, HTTP Host or DNS query name
    std::array<char, 17> alpn_buf{};
    std::array<char, 111> fqdn_buf{};  // DN-Hunter: the name the client resolved for the server
    std::array<char, 64> second_name_buf{};  // TLS <= 1.2: server certificate's subject CN; gQUIC: user agent
    // Tstat's layer-7 set (log_tcp_complete) and QUIC columns (log_udp_complete), with
    // classification. Times are absolute ns, 0 = never happened.
    uint16_t http_messages[2] = {0, 0};  // HTTP requests started by the client, responses by the server
    uint32_t pkts_push[2] = {0, 0};      // data segments with PSH
    uint8_t alpn_bits[2] = {0, 0};       // Tstat c_npnalpn / s_npnalpn
    uint8_t tls_session = 0;             // Tstat c_tls_sesid bits
    int64_t tls_last_handshake_ns[2] = {0, 0};
    int64_t tls_appdata_ns[2] = {0, 0};
    uint32_t tls_appdata_offset[2] = {0, 0};  // stream offset of the first application_data record
    uint32_t quic_version[2] = {0, 0};   // client's Initial version, server's first long header
    uint16_t quic_0rtt = 0;              // client 0-RTT packets
    uint16_t ech_len = 0;                // encrypted_client_hello length
    std::array<uint8_t, 16> dns_resolver{};  // DN-Hunter: the server that answered (fqdn set)
    int64_t dns_request_ns = 0;          // the client's query before that answer
    int64_t dns_response_ns = 0;
    void set_name(std::string_view v) noexcept { copy(name_buf.data(), name_buf.size(), v); }
    void set_alpn(std::string_view v) noexcept { copy(alpn_buf.data(), alpn_buf.size(), v); }
    std::string_view name() const noexcept { return name_buf.data(); }
    std::string_view alpn() const noexcept { return alpn_buf.data(); }
    void set_fqdn(std::string_view v) noexcept { copy(fqdn_buf.data(), fqdn_buf.size(), v); }
    std::string_view fqdn() const noexcept { return fqdn_buf.data(); }
    void set_second_name(std::string_view v) noexcept { copy(second_name_buf.data(), second_name_buf.size(), v); }
    std::string_view second_name() const noexcept { return second_name_buf.data(); }

private:
    static void copy(char* out, std::size_t cap, std::string_view v) noexcept {
        const std::size_t n = v.size() < cap - 1 ? v.size() : cap - 1;
        for (std::size_t i = 0; i < n; ++i) {
            out[i] = v[i];
        }
        out[n] = '\0';
    }
};

template <class Record, uint32_t N>
class RecordBatchPool;

// Up to N records (finished flows, layer-7 events); pooled like packet batches.
template <class Record, uint32_t N>
class RecordBatch final : public Message {
public:
    static constexpr uint32_t kMax = N;

    uint32_t size() const noexcept { return count_; }
    bool full() const noexcept { return count_ == kMax; }
    bool empty() const noexcept { return count_ == 0; }
    const Record& operator[](uint32_t i) const noexcept { return records_[i]; }
    const Record* begin() const noexcept { return records_.get(); }
    const Record* end() const noexcept { return records_.get() + count_; }
    Record& append() noexcept { return records_[count_++]; }

private:
    friend class RecordBatchPool<Record, N>;
    explicit RecordBatch(RecordBatchPool<Record, N>* pool)
        : Message(&MessageTraits<RecordBatch>::type, &RecordBatch::recycle), pool_(pool), records_(new Record[N]) {}
    ~RecordBatch() = default;
    static void recycle(Message* m) noexcept {
        auto* b = static_cast<RecordBatch*>(m);
        b->count_ = 0;
        (void)b->pool_->free_.try_push(b);
    }

    RecordBatchPool<Record, N>* pool_;
    uint32_t count_ = 0;
    std::unique_ptr<Record[]> records_;
};

template <class Record, uint32_t N>
class RecordBatchPool {
public:
    using Batch = RecordBatch<Record, N>;
    explicit RecordBatchPool(std::size_t max_batches) : max_(max_batches), free_(max_batches) {
        all_.reserve(max_batches);
    }
    ~RecordBatchPool() {
        for (Batch* b : all_) {
            if (b->refs() == 0) {
                delete b;
            }
        }
    }
    RecordBatchPool(const RecordBatchPool&) = delete;
    RecordBatchPool& operator=(const RecordBatchPool&) = delete;
    // A cleared batch with one reference, or nullptr when max_batches are in flight.
    Batch* acquire() {
        Batch* b = nullptr;
        if (free_.try_pop(b)) {
            b->count_ = 0;
            b->reset_refs();
            b->set_time_ns(0);
            return b;
        }
        if (all_.size() < max_) {
            b = new Batch(this);
            all_.push_back(b);
            return b;
        }
        return nullptr;
    }

private:
    friend class RecordBatch<Record, N>;
    std::size_t max_;
    MpmcQueue<Batch*> free_;
    std::vector<Batch*> all_;
};

using FlowBatch = RecordBatch<FlowRecord, 64>;
using FlowBatchPool = RecordBatchPool<FlowRecord, 64>;

// One layer-7 message seen by FlowMeter (l7.events): the first segment of an HTTP request or
// response head, or a DNS message over UDP — the rows of Tstat's log_http_complete and
// log_dns_complete. The payload's first bytes are copied, so the writer parses them on its own
// thread and the capture buffer is not held.
enum class L7Kind : uint8_t { kHttpRequest, kHttpResponse, kDns };

// Which layer-7 messages a composition asks for: "http", "dns", "http,dns" or "" (FlowMeter's
// l7.events, TstatLogWriter's log.messages). nullopt for anything else.
struct L7Selection {
    bool http = false;
    bool dns = false;
};
std::optional<L7Selection> parse_l7_selection(std::string_view text);

struct L7Record {
    static constexpr uint32_t kMaxBytes = 1500;

    FlowKey key;                    // the flow's client [0] and server [1]
    int64_t ts_ns = 0;
    L7Kind kind = L7Kind::kDns;
    uint8_t dir = 0;                // sender: 0 client, 1 server
    uint16_t len = 0;               // bytes kept in `data`
    uint32_t payload_len = 0;       // the segment's payload on the wire
    std::array<char, 111> fqdn{};   // DN-Hunter's name for the server, "" if none
    uint8_t data[kMaxBytes];
};

using L7Batch = RecordBatch<L7Record, 32>;
using L7BatchPool = RecordBatchPool<L7Record, 32>;

}  // namespace weir::flow

WEIR_MESSAGE_TYPE(weir::flow::FlowBatch, "FlowBatch",
                  "up to 64 finished flows with Tstat-style per-direction statistics");
WEIR_MESSAGE_TYPE(weir::flow::L7Batch, "L7Batch",
                  "up to 32 layer-7 messages (HTTP heads, DNS messages) with their flow, for per-message logs");
