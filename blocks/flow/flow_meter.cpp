#include "flow_meter.hpp"

#include <weir/registry.hpp>

#include <netinet/in.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <cstddef>
#include <cmath>

namespace weir::blocks {

using flow::EndReason;
using flow::Flow;
using proto::Decoded;
using proto::Verdict;

namespace {

// Sequence-space comparisons modulo 2^32.
inline bool seq_lt(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }
inline bool seq_le(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) <= 0; }

using flow::DirCore;
using flow::DirE2e;
using flow::DirOpt;
using flow::FlowExt;

// Flows are restarted (reported as "active") before their relative times outgrow 48 bits (78 h).
constexpr int64_t kMaxSpanNs = static_cast<int64_t>(flow::U48::kMax) - 2;

// Times inside a flow: ns after its first packet, plus one so that 0 means "never". A packet
// stamped before the flow's first one (clock stepped back) is placed at the flow's start.
inline uint64_t rel1(const Flow& f, int64_t ts) { return ts <= f.first_ns ? 1 : static_cast<uint64_t>(ts - f.first_ns) + 1; }
inline int64_t abs_ns(const Flow& f, const flow::U48& t) {
    const uint64_t v = t.get();
    return v == 0 ? 0 : f.first_ns + static_cast<int64_t>(v - 1);
}

void add_rtt(DirE2e& s, double ms) {
    const auto f = static_cast<float>(ms);
    if (s.rtt_cnt == 0 || f < s.rtt_min_ms) {
        s.rtt_min_ms = f;
    }
    if (s.rtt_cnt == 0 || f > s.rtt_max_ms) {
        s.rtt_max_ms = f;
    }
    ++s.rtt_cnt;
    s.rtt_sum_ms += ms;
    s.rtt_sum2_ms += ms * ms;
}

void common(DirCore& s, const PacketView& p) {
    ++s.pkts_all;
    s.wire_bytes.add(p.wirelen);
}

void ttl(DirE2e& x, uint8_t ttl, bool first) {
    if (first) {
        x.ttl_min = x.ttl_max = ttl;
    }
    x.ttl_min = std::min(x.ttl_min, ttl);
    x.ttl_max = std::max(x.ttl_max, ttl);
}

}  // namespace

FlowMeter::FlowMeter(BlockSetup& s) : Block(s) {
    capacity_ = s.param<uint32_t>("table.capacity", 1'000'000, "flows tracked at once (memory is reserved for this many)");
    tcp_idle_ns_ = s.duration_ns("timeout.tcp_idle", "300s", "TCP idle timeout");
    udp_idle_ns_ = s.duration_ns("timeout.udp_idle", "200s", "UDP idle timeout");
    singleton_ns_ = s.duration_ns("timeout.singleton", "10s",
                                  "timeout of a TCP flow of SYNs only, or a UDP flow of one packet");
    active_ns_ = s.duration_ns("timeout.active", "0s", "report long flows every this long (0 = never)");
    midstream_ = s.param<bool>("tcp.midstream", true,
                               "track TCP flows first seen without their SYN (false = Tstat: ignore them)");
    classify_ = s.param<bool>("classify.enabled", false,
                              "classify flows from their first payload bytes (Tstat's con_t, p2p_t, http_t, UDP "
                              "types; SNI, Host, DNS name): +" + std::to_string(sizeof(classify::ClassifierState)) +
                                  " bytes per flow");
    dns_capacity_ = s.param<uint32_t>(
        "dns.names", 65536, "with classification: DNS answers remembered to name later flows (DN-Hunter; 0 = off)");
    dns_share_ = s.param<std::string>("dns.share", "",
                                      "share one DN-Hunter table with the meters naming the same group (replicas)");
    cls_slots_ = s.param<uint32_t>("classify.reassembly_slots", 1024,
                                   "flows that can wait for the rest of a cut message at once (8 KiB each)");
    extended_ = s.param<bool>("stats.extended", true,
                              "measure the end-to-end set (RTT, TTL; +" + std::to_string(offsetof(flow::FlowExt, opt)) +
                                  " bytes per flow) and, with stats.options, the TCP-options set (+" +
                                  std::to_string(sizeof(flow::FlowExt) - offsetof(flow::FlowExt, opt)) + ")");
    options_ = s.param<bool>("stats.options", true,
                                          "with stats.extended: also the TCP-options set (windows, in-flight bytes, "
                                          "out-of-sequence causes); false measures the end-to-end set only");
    options_ = options_ && extended_;  // declared either way: a composition may set both
    if (capacity_ < 16 || capacity_ > 200'000'000) {
        throw ParamError(s.param_input().line, "param 'table.capacity' of block '" + s.id() +
                                                   "' must be 16..200000000");
    }
    const std::string events = s.param<std::string>(
        "l7.events", "", "layer-7 messages to emit on out_l7: http (HTTP heads), dns (DNS messages), http,dns or empty");
    const auto wanted = flow::parse_l7_selection(events);
    if (!wanted) {
        throw ParamError(s.param_input().line, "param 'l7.events' of block '" + s.id() + "' is '" + events +
                                                   "', expected http, dns, http,dns or empty");
    }
    http_events_ = wanted->http;
    dns_events_ = wanted->dns;
    s.input<PacketBatch>("in_pkt", "packets to meter");
    out_ = s.output<flow::FlowBatch>("out_flow", "finished flows, in batches", {"out_flows"});
    out_l7_ = s.output<flow::L7Batch>("out_l7", "layer-7 messages (l7.events): HTTP heads, DNS messages");
    s.counter("l7_events", l7_events_, "messages", "layer-7 messages emitted on out_l7");
    s.counter("l7_dropped", l7_dropped_, "messages", "layer-7 messages lost because downstream held every batch");
    s.counter("packets", packets_, "packets", "packets received");
    s.counter("tcp_packets", tcp_packets_, "packets", "TCP packets metered");
    s.counter("udp_packets", udp_packets_, "packets", "UDP packets metered");
    s.counter("other_packets", other_packets_, "packets", "IP packets of other protocols (ICMP, ...), not metered");
    s.counter("untracked_tcp", untracked_tcp_, "packets",
              "TCP packets of flows not opened by a SYN, ignored (tcp.midstream=false)");
    s.counter("fragments_attributed", fragments_attributed_, "packets",
              "later IP fragments counted in their datagram's flow (its first fragment gave the ports)");
    s.counter("dns_names_learned", dns_names_learned_, "answers",
              "DNS answers remembered to name later flows (DN-Hunter)");
    s.counter("dns_names_dropped", dns_names_dropped_, "answers",
              "DNS answers not remembered: another meter sharing the table was writing that slot");
    s.counter("flows_created", flows_created_, "flows", "flows opened");
    s.counter("flows_ended", flows_ended_, "flows", "flows written out (every reason)");
    s.counter("evictions", evictions_, "flows", "flows ended early because the table was full");
    s.counter("records_dropped", records_dropped_, "flows",
              "finished flows lost because downstream held every batch");
    s.gauge("flows_active", [this] { return VarValue{static_cast<uint64_t>(active_.load(std::memory_order_relaxed))}; },
            "flows", "flows open now");
    s.gauge("bytes_per_flow", [this] { return VarValue{static_cast<uint64_t>(table_ ? table_->bytes_per_flow() + 0.5 : 0)}; },
            "bytes", "memory one flow costs in a full table: entry, extension and index share");
    s.gauge("table_bytes", [this] { return VarValue{static_cast<uint64_t>(table_ ? table_->bytes_reserved() : 0)}; },
            "bytes", "address space reserved for the table (resident only as flows arrive)");
    for (int v = 1; v < static_cast<int>(Verdict::kCount); ++v) {
        if (static_cast<Verdict>(v) == Verdict::kOtherTransport) {
            continue;  // counted as other_packets
        }
        s.counter("bad_" + std::string(proto::to_string(static_cast<Verdict>(v))), bad_[v], "packets",
                  "packets skipped: " + std::string(proto::to_string(static_cast<Verdict>(v))));
    }
    s.periodic_timer("expiry", 1'000'000'000, "expires idle flows when no packets arrive, emits pending records");
}

void FlowMeter::start() {
    // The extension holds both end-to-end parts, then (with stats.options) both options parts.
    const std::size_t ext = !extended_ ? 0 : options_ ? sizeof(flow::FlowExt) : offsetof(flow::FlowExt, opt);
    cls_offset_ = (ext + 7) / 8 * 8;
    // The classifier's state is set by Classifier::init, not zeroed with the extension, and only
    // its head (flags, counters, record walks) is touched per packet: the texts after it are read
    // when the flow ends, so they are neither zeroed on insert nor prefetched per packet.
    table_ = std::make_unique<flow::FlowTable>(
        capacity_, cls_offset_ + (classify_ ? sizeof(classify::ClassifierState) : 0), cls_offset_);
    if (classify_) {
        table_->set_hot_bytes(sizeof(flow::Flow) + cls_offset_ + offsetof(classify::ClassifierState, name));
    }
    if (classify_) {
        classifier_ = std::make_unique<classify::Classifier>(cls_slots_);
        if (dns_capacity_ > 0) {
            dns_ = dns_share_.empty() ? std::make_shared<flow::DnsNames>(dns_capacity_)
                                      : flow::DnsNames::shared(&engine(), dns_share_, dns_capacity_);
            dns_msg_ = std::make_unique<classify::DnsMessage>();
        }
    }
    work_ = std::make_unique<Decoding[]>(PacketBatch::kMaxPackets);
    fragments_ = std::make_unique<FragmentPorts[]>(kFragmentSlots);
    pool_ = std::make_unique<flow::FlowBatchPool>(4096);
    if (http_events_ || dns_events_) {
        l7_pool_ = std::make_unique<flow::L7BatchPool>(256);
    }
}

void FlowMeter::receive(InputId, const Message& msg) {
    const auto& batch = static_cast<const PacketBatch&>(msg);
    const uint32_t n = batch.size();
    // Three passes over the batch: decode and hash (prefetching index slots), prefetch the flows
    // those slots name, then account each packet in order.
    for (uint32_t i = 0; i < n; ++i) {
        decode(batch[i], work_[i]);
        if (work_[i].metered) {
            table_->prefetch_slot(work_[i].hash);
        }
    }
    for (uint32_t i = 0; i < n; ++i) {
        if (work_[i].metered) {
            table_->prefetch_flow(work_[i].hash);
        }
    }
    for (uint32_t i = 0; i < n; ++i) {
        const PacketView& p = batch[i];
        // Expiry runs when packet time enters a new second, before the packet is accounted.
        if (p.ts_ns >= next_expiry_ns_) {
            expire(p.ts_ns);
            next_expiry_ns_ = (p.ts_ns / 1'000'000'000 + 1) * 1'000'000'000;
        }
        packet(p, work_[i]);
    }
    if (n == 0 && batch.time_ns() > 0) {
        expire(batch.time_ns());  // a clock marker: packet time moved on without packets
    }
    packets_.add(n);
    if (l7_pending_ != nullptr) {
        emit(out_l7_, *l7_pending_);
        l7_pending_->release();
        l7_pending_ = nullptr;
    }
}

void FlowMeter::l7_event(const Flow& f, int dir, flow::L7Kind kind, const Decoded& d, const PacketView& p) {
    if (l7_pending_ == nullptr || l7_pending_->full()) {
        if (l7_pending_ != nullptr) {
            emit(out_l7_, *l7_pending_);
            l7_pending_->release();
        }
        l7_pending_ = l7_pool_->acquire();
        if (l7_pending_ == nullptr) {
            l7_dropped_.add(1);
            return;
        }
    }
    flow::L7Record& e = l7_pending_->append();
    const flow::CanonicalKey& k = f.key;
    const int lo = f.client_is_lo() ? 0 : 1;
    e.key.ip_version = k.ip_version;
    e.key.proto = k.proto;
    e.key.addr[lo] = k.addr_lo;
    e.key.port[lo] = k.port_lo;
    e.key.addr[1 - lo] = k.addr_hi;
    e.key.port[1 - lo] = k.port_hi;
    e.ts_ns = p.ts_ns;
    e.kind = kind;
    e.dir = static_cast<uint8_t>(dir);
    e.payload_len = d.payload_len;
    e.len = static_cast<uint16_t>(std::min<uint32_t>(d.payload_captured, flow::L7Record::kMaxBytes));
    std::memcpy(e.data, p.data + d.payload_offset, e.len);
    e.fqdn[0] = '\0';
    if (kind != flow::L7Kind::kDns) {
        if (flow::DnsNames::Name n; resolved(f, n)) {
            const std::size_t len = std::min<std::size_t>(n.len, e.fqdn.size() - 1);
            std::memcpy(e.fqdn.data(), n.name, len);
            e.fqdn[len] = '\0';
        }
    }
    if (l7_pending_->time_ns() < p.ts_ns) {
        l7_pending_->set_time_ns(p.ts_ns);
    }
    l7_events_.add(1);
}

FlowMeter::FragmentPorts& FlowMeter::fragment_slot(const Decoded& d) {
    uint32_t h = d.ip_id * 0x9e3779b1U ^ d.l4_proto;
    for (int i = 0; i < 16; ++i) {
        h = (h ^ d.src[i] ^ (static_cast<uint32_t>(d.dst[i]) << 8)) * 0x01000193U;
    }
    return fragments_[(h ^ (h >> 16)) & (kFragmentSlots - 1)];
}

void FlowMeter::decode(const PacketView& p, Decoding& w) {
    w.verdict = proto::decode(p.data, p.caplen, p.linktype, w.d);
    w.later_fragment = false;
    const bool transport = w.d.l4_proto == IPPROTO_TCP || w.d.l4_proto == IPPROTO_UDP;
    w.metered = w.verdict == Verdict::kOk && transport;
    if (w.metered && w.d.fragment) {
        // A first fragment: remember its ports for the rest of the datagram.
        FragmentPorts& e = fragment_slot(w.d);
        e = FragmentPorts{w.d.src, w.d.dst, p.ts_ns, w.d.ip_id, w.d.sport, w.d.dport, w.d.ip_version, w.d.l4_proto};
    } else if (w.verdict == Verdict::kIpFragment && transport) {
        const FragmentPorts& e = fragment_slot(w.d);
        if (e.ts_ns != 0 && e.ip_id == w.d.ip_id && e.proto == w.d.l4_proto && e.ip_version == w.d.ip_version &&
            e.src == w.d.src && e.dst == w.d.dst && p.ts_ns - e.ts_ns <= kFragmentTtlNs && p.ts_ns >= e.ts_ns) {
            w.d.sport = e.sport;
            w.d.dport = e.dport;
            w.later_fragment = true;
            w.metered = true;
        }
    }
    if (w.metered) {
        w.key = flow::make_key(w.d.ip_version, w.d.l4_proto, w.d.src, w.d.sport, w.d.dst, w.d.dport, w.src_is_lo);
        w.hash = flow::hash_key(w.key);
    }
}

void FlowMeter::on_timer(TimerId, int64_t now_ns) {
    // With the packet clock, a tick can fire before a batch whose first packets are older than
    // the tick: expiring to the tick would end flows those packets continue. Packets expire
    // flows exactly as they are accounted (receive), and an empty batch (the end-of-trace clock
    // marker) expires to its time; the tick only sends what is pending. With the wall clock the
    // tick is what ends flows while no packets come.
    if (!packet_clock()) {
        expire(now_ns);
    }
    emit_records();
}

void FlowMeter::flush() {
    // Tstat's rule: whatever is still open at the end goes out (to log_tcp_nocomplete for TCP).
    table_->for_each([this](Flow* f) { finish(*f, EndReason::kShutdown); });
    emit_records();
}

void FlowMeter::packet(const PacketView& p, Decoding& w) {
    const Verdict v = w.verdict;
    if (v != Verdict::kOk && !w.later_fragment) {
        if (v == Verdict::kOtherTransport) {
            other_packets_.add(1);
        } else {
            bad_[static_cast<int>(v)].add(1);
        }
        return;
    }
    if (!w.metered) {
        other_packets_.add(1);
        return;
    }
    const Decoded& d = w.d;
    const bool src_is_lo = w.src_is_lo;
    const flow::CanonicalKey& key = w.key;
    const uint32_t hash = w.hash;
    Flow* f = table_->find(key, hash);
    if (w.later_fragment) {
        fragment(f, w, p);
        return;
    }
    if (f != nullptr && deadline(*f) <= p.ts_ns) {
        // Timed out between two wheel ticks: end it exactly, and this packet starts a new flow.
        end_due(*f, p.ts_ns);
        f = nullptr;
    }
    if (f != nullptr && p.ts_ns - f->first_ns > kMaxSpanNs) {
        finish(*f, EndReason::kActive);  // 78 hours old: report and measure on from zero
    }
    const bool is_tcp = d.l4_proto == IPPROTO_TCP;
    if (f == nullptr) {
        bool src_is_client = true;
        bool midstream = false;
        if (is_tcp) {
            const bool syn_only = (d.tcp_flags & proto::kSyn) != 0 && (d.tcp_flags & proto::kAck) == 0;
            if (!syn_only) {
                if (!midstream_) {
                    untracked_tcp_.add(1);
                    return;
                }
                midstream = true;
                // Without the SYN, the SYN-ACK's sender is the server; otherwise the side with the
                // lower port is taken as the server (well-known ports are below ephemeral ones).
                if ((d.tcp_flags & proto::kSyn) != 0) {
                    src_is_client = false;
                } else {
                    src_is_client = d.sport > d.dport || (d.sport == d.dport && src_is_lo);
                }
            }
        }
        f = table_->insert(key, hash);
        if (f == nullptr) {
            Flow* victim = table_->oldest();
            if (victim == nullptr) {
                records_dropped_.add(1);
                return;
            }
            evictions_.add(1);
            finish(*victim, EndReason::kEvicted);
            f = table_->insert(key, hash);
        }
        if ((src_is_client ? src_is_lo : !src_is_lo)) {
            f->flags |= Flow::kClientIsLo;
        }
        if (midstream) {
            f->flags |= Flow::kMidstream;
        }
        f->first_ns = p.ts_ns;
        if (classify_) {
            const bool client_is_src = src_is_client;
            classify::Classifier::init(cls_state(f), d.l4_proto, client_is_src ? d.sport : d.dport,
                                       client_is_src ? d.dport : d.sport);
        }
        flows_created_.add(1);
        active_.store(table_->size(), std::memory_order_relaxed);
    }
    const int dir = (src_is_lo == f->client_is_lo()) ? 0 : 1;
    if (p.ts_ns > f->last_ns()) {
        f->last_rel.set(static_cast<uint64_t>(p.ts_ns - f->first_ns));
    }
    FlowExt* ext = nullptr;
    if (extended_) {
        ext = &table_->ext<FlowExt>(f);
        ttl(ext->e2e[dir], d.ttl, f->dir[dir].pkts_all == 0);
    }
    if (dns_ && dir == 1 && !is_tcp && d.sport == 53 && d.payload_captured > 0) {
        learn_dns(*f, dir, d, p);
    }
    if (dns_events_ && !is_tcp && (d.sport == 53 || d.dport == 53) && d.payload_captured > 0) {
        l7_event(*f, dir, flow::L7Kind::kDns, d, p);
    }
    if (classify_ && d.payload_captured > 0) {
        // Before the statistics: a FIN or RST in this segment may end the flow.
        classify::ClassifierState& cs = cls_state(f);
        if (!cs.done()) {
            classifier_->classify(cs, dir, p.data + d.payload_offset, d.payload_captured, d.seq);
        }
        if (is_tcp && (d.tcp_flags & proto::kPsh) != 0) {
            ++cs.push[dir];
        }
        const classify::L7Event ev =
            classifier_->follow(cs, dir, p.data + d.payload_offset, d.payload_captured, d.seq, p.ts_ns);
        if (ev != classify::L7Event::kNone && http_events_) {
            l7_event(*f, dir, ev == classify::L7Event::kHttpRequest ? flow::L7Kind::kHttpRequest
                                                                     : flow::L7Kind::kHttpResponse,
                     d, p);
        }
    }
    if (is_tcp) {
        tcp_packets_.add(1);
        tcp(*f, ext, dir, d, p);  // may finish (and erase) the flow
    } else {
        udp_packets_.add(1);
        udp(*f, dir, d, p);
        table_->schedule(f, deadline(*f));
    }
}

// A later fragment of a datagram whose first fragment opened or continued the flow: it counts as
// a packet with its bytes (UDP: payload bytes too), and carries no TCP header to analyse.
void FlowMeter::fragment(Flow* f, const Decoding& w, const PacketView& p) {
    if (f == nullptr || deadline(*f) <= p.ts_ns) {
        bad_[static_cast<int>(Verdict::kIpFragment)].add(1);  // its flow already ended
        return;
    }
    fragments_attributed_.add(1);
    const int dir = (w.src_is_lo == f->client_is_lo()) ? 0 : 1;
    if (p.ts_ns > f->last_ns()) {
        f->last_rel.set(static_cast<uint64_t>(p.ts_ns - f->first_ns));
    }
    DirCore& s = f->dir[dir];
    common(s, p);
    if (w.d.l4_proto == IPPROTO_UDP) {
        udp_packets_.add(1);
        s.t_last.set(std::max(s.t_last.get(), rel1(*f, p.ts_ns)));
        s.bytes_all.add(w.d.payload_len);
        s.bytes_uniq.add(w.d.payload_len);
    } else {
        tcp_packets_.add(1);
    }
    table_->schedule(f, deadline(*f));
}

void FlowMeter::udp(Flow& f, int dir, const Decoded& d, const PacketView& p) {
    DirCore& s = f.dir[dir];
    common(s, p);
    const uint64_t t = rel1(f, p.ts_ns);
    if (s.t_first.get() == 0) {
        s.t_first.set(t);
    }
    s.t_last.set(std::max(s.t_last.get(), t));
    s.bytes_all.add(d.payload_len);
    s.bytes_uniq.add(d.payload_len);
    if (d.payload_len > 0) {
        ++s.pkts_data;
    }
}

namespace {

RttView rtt_view(const DirE2e& a, const DirE2e& b) {
    RttView v;
    if (a.rtt_cnt == 0 || b.rtt_cnt == 0) {
        return v;  // Tstat's defaults without valid samples both ways
    }
    v.mean = (a.rtt_sum_ms / a.rtt_cnt + b.rtt_sum_ms / b.rtt_cnt) * 1e6;
    const double n = a.rtt_cnt + b.rtt_cnt;
    const double sum = a.rtt_sum_ms + b.rtt_sum_ms;
    const double var = n > 2 ? std::max(0.0, (a.rtt_sum2_ms + b.rtt_sum2_ms - sum * sum / n) / (n - 1)) : 0.0;
    v.rto = std::max(100e6, v.mean + 4 * std::sqrt(var) * 1e6);
    v.min = std::max(1e6, (static_cast<double>(a.rtt_min_ms) + b.rtt_min_ms) * 1e6);
    return v;
}

enum class SegKind : uint8_t { kNone, kInSequence, kRetransmission, kHoleFill, kOverlap };

}  // namespace

void FlowMeter::tcp(Flow& f, FlowExt* ext, int dir, const Decoded& d, const PacketView& p) {
    DirCore& s = f.dir[dir];
    DirCore& r = f.dir[1 - dir];
    uint8_t& t = f.seq_flags[dir];
    uint8_t& rt = f.seq_flags[1 - dir];
    DirE2e* e = ext != nullptr ? &ext->e2e[dir] : nullptr;
    DirE2e* re = ext != nullptr ? &ext->e2e[1 - dir] : nullptr;
    // The TCP-options set's work, when asked for.
    DirOpt* x = ext != nullptr && options_ ? &ext->opt[dir] : nullptr;
    DirOpt* rx = ext != nullptr && options_ ? &ext->opt[1 - dir] : nullptr;
    const uint8_t fl = d.tcp_flags;
    const bool syn = (fl & proto::kSyn) != 0;
    const bool fin = (fl & proto::kFin) != 0;
    const bool rst = (fl & proto::kRst) != 0;
    const bool ack = (fl & proto::kAck) != 0;
    const uint32_t len = d.payload_len;
    const uint64_t now = rel1(f, p.ts_ns);
    const uint64_t prev_send = s.t_last.get();
    common(s, p);

    if (rst && s.rst_cnt != 0xffff) {
        ++s.rst_cnt;
    }
    if (ack) {
        ++s.ack_cnt;
        if (!syn && s.t_ack.get() == 0) {
            s.t_ack.set(now);
        }
        if (len == 0 && !syn && !fin && !rst) {
            ++s.ack_cnt_p;
        }
    }
    if (syn && s.syn_cnt != 0xffff) {
        ++s.syn_cnt;
    }
    if (fin && s.fin_cnt != 0xffff) {
        ++s.fin_cnt;
    }
    uint32_t win = 0;
    if (x != nullptr) {
        // Tstat's order: the window is scaled by what both sides offered before this segment.
        const bool scaled = (x->opt_flags & rx->opt_flags & flow::kOptWindowScale) != 0;
        win = static_cast<uint32_t>(d.window) << (scaled ? std::min<uint8_t>(x->window_scale, 14) : 0);
        // A SYN or FIN again with another sequence number.
        if (syn) {
            if ((x->opt_flags & flow::kOptSynSeen) != 0 && d.seq != x->syn_seq) {
                x->anomaly_flags |= flow::kAnomalySynRetx;
            }
            x->syn_seq = d.seq;
            x->opt_flags |= flow::kOptSynSeen;
            rx->last_ack = d.seq;  // the other side's ACKs are measured from this ISN
        }
        if (fin && !rst) {
            if ((x->opt_flags & flow::kOptFinSeen) != 0 && d.seq + len != s.fin_seq) {
                x->anomaly_flags |= flow::kAnomalySynRetx;
            }
            x->opt_flags |= flow::kOptFinSeen;
        }
        const auto& o = d.tcp_options;
        if (o.mss != 0) {
            x->mss = o.mss;
        }
        if (o.window_scale != 0xff) {
            x->opt_flags |= flow::kOptWindowScale;
            x->window_scale = o.window_scale;
        }
        if (o.timestamps) {
            x->opt_flags |= flow::kOptTimestamps;
        }
        if (o.sack_permitted) {
            x->opt_flags |= flow::kOptSackPermitted;
        }
        if (o.sack_blocks > 0) {
            ++x->sack_cnt;
        }
        if (len > 0) {
            const auto seg = static_cast<uint16_t>(std::min<uint32_t>(len, 0xffff));
            x->seg_max = std::max(x->seg_max, seg);
            x->seg_min = x->seg_min == 0 ? seg : std::min(x->seg_min, seg);
        }
    }
    if (len > 0) {
        ++s.pkts_data;
        s.bytes_all.add(len);
        if (s.t_first.get() == 0) {
            s.t_first.set(now);
        }
        s.t_last.set(now);
    }

    // Sequence analysis (tcptrace's notions, simplified: one gap remembered per direction).
    SegKind kind = SegKind::kNone;
    const uint32_t span = len + (syn ? 1U : 0U) + (fin ? 1U : 0U);
    if (span > 0 && !rst) {
        const uint32_t seq = d.seq;
        const uint32_t end = seq + span;
        bool fresh = false;
        if ((t & flow::kSeqInit) == 0) {
            t |= flow::kSeqInit;
            s.seq_next = end;
            s.bytes_uniq.add(len);
            fresh = true;
            kind = SegKind::kInSequence;
        } else if (seq == s.seq_next) {
            s.seq_next = end;
            s.bytes_uniq.add(len);
            fresh = true;
            kind = SegKind::kInSequence;
        } else if (seq_lt(s.seq_next, seq)) {
            // A gap: remember it; whatever fills it later arrives out of sequence.
            if ((t & flow::kSeqHole) == 0) {
                t |= flow::kSeqHole;
                s.hole_start = s.seq_next;
                s.hole_end = seq;
                if (x != nullptr) {
                    x->gap_rel.set(now);
                }
            }
            s.seq_next = end;
            s.bytes_uniq.add(len);
            kind = SegKind::kInSequence;
        } else if (seq_le(end, s.seq_next)) {
            if ((t & flow::kSeqHole) != 0 && seq_le(s.hole_start, seq) && seq_le(end, s.hole_end)) {
                ++s.pkts_ooo;
                s.bytes_uniq.add(len);
                if (seq == s.hole_start) {
                    s.hole_start = end;
                } else if (end == s.hole_end) {
                    s.hole_end = seq;
                }
                if (!seq_lt(s.hole_start, s.hole_end)) {
                    t &= static_cast<uint8_t>(~flow::kSeqHole);
                }
                kind = SegKind::kHoleFill;
            } else {
                ++s.pkts_retx;
                s.bytes_retx.add(len);
                kind = SegKind::kRetransmission;
                // Karn: a retransmitted segment gives no RTT sample.
                if (e != nullptr) {
                    for (int i = 0; i < 2; ++i) {
                        if (e->timed_rel[i].get() != 0 && seq_lt(seq, e->timed_end[i])) {
                            e->timed_rel[i].set(0);
                        }
                    }
                }
            }
        } else {
            // Overlaps the end of what was sent: part retransmission, part new data.
            ++s.pkts_retx;
            const uint32_t old = s.seq_next - seq;
            const uint32_t old_payload = std::min(old, len);
            s.bytes_retx.add(old_payload);
            s.bytes_uniq.add(len - old_payload);
            s.seq_next = end;
            kind = SegKind::kOverlap;
        }
        if (fresh && e != nullptr) {
            for (int i = 0; i < 2; ++i) {
                if (e->timed_rel[i].get() == 0) {
                    e->timed_rel[i].set(now);
                    e->timed_end[i] = end;
                    break;
                }
            }
        }
        if (x != nullptr) {
            uint8_t cls = 0;
            if (kind == SegKind::kRetransmission || kind == SegKind::kHoleFill || kind == SegKind::kOverlap) {
                cls = classify(*x, *rx, rtt_view(*e, *re), kind == SegKind::kHoleFill, d, now, prev_send);
            }
            x->last_class = cls;
            x->last_seq = seq;
            x->last_ip_id = d.ip_id;
        }
        if (fin) {
            t |= flow::kSeqFinSeen;
            s.fin_seq = seq + len;
        }
    }

    // This segment's ACK: RTT samples for the other side's data, and its FIN acknowledged.
    if (ack) {
        if (re != nullptr) {
            for (int i = 0; i < 2; ++i) {
                const uint64_t sent = re->timed_rel[i].get();
                if (sent != 0 && seq_le(re->timed_end[i], d.ack)) {
                    add_rtt(*re, static_cast<double>(now - std::min(now, sent)) / 1e6);
                    re->timed_rel[i].set(0);
                }
            }
        }
        if ((rt & flow::kSeqFinSeen) != 0 && seq_le(r.fin_seq + 1, d.ack)) {
            rt |= flow::kSeqClosed;
        }
    }

    if (x != nullptr && !rst) {
        if (ack || syn) {
            x->win_max = std::max(x->win_max, win);
            if (win > 0) {
                x->win_min = x->win_min == 0 ? win : std::min(x->win_min, win);
            }
            x->win_last = win;
        }
        if (ack) {
            if (d.window == 0) {
                ++x->win_zero;
            }
            const bool seen = (x->anomaly_flags & flow::kAnomalyAckSeen) != 0;
            if (seen && d.ack == x->last_ack && len == 0 && !syn && !fin) {
                x->dup_acks = static_cast<uint16_t>(std::min(x->dup_acks + 1, 0xffff));
            } else if (!seen || d.ack != x->last_ack) {
                x->dup_acks = 0;
            }
            x->last_ack = d.ack;
            x->anomaly_flags |= flow::kAnomalyAckSeen;
            if (d.ack != rx->syn_seq + 1) {
                rx->anomaly_flags |= flow::kAnomalyDataAcked;
            }
        }
        // Bytes in flight: how far this side has sent beyond the other side's last ACK.
        const bool in_order = kind == SegKind::kNone || kind == SegKind::kInSequence;
        const bool acked_base = (rx->anomaly_flags & flow::kAnomalyAckSeen) != 0 || (x->opt_flags & flow::kOptSynSeen) != 0;
        if (!syn && in_order && acked_base) {
            const uint32_t cwin = d.seq + len - rx->last_ack;
            if (static_cast<int32_t>(cwin) > 0) {
                x->cwin_max = std::max(x->cwin_max, cwin);
                x->cwin_min = x->cwin_min == 0 ? cwin : std::min(x->cwin_min, cwin);
            }
        }
        if ((x->anomaly_flags & flow::kAnomalyDataAcked) == 0 && len > 0 && kind != SegKind::kRetransmission &&
            kind != SegKind::kOverlap) {
            x->cwin_ini += len;
        }
    }

    if (rst) {
        finish(f, EndReason::kRst);
        return;
    }
    if ((t & rt & flow::kSeqClosed) != 0) {
        finish(f, EndReason::kFin);
        return;
    }
    table_->schedule(&f, deadline(f));
}

// Tstat's causes of an out-of-sequence segment (Mellia et al., "TCP anomalies"), over the state
// we keep: one gap per direction instead of a segment list. See docs/flows.md for what that
// changes. Counts the class and returns it.
uint8_t FlowMeter::classify(DirOpt& x, const DirOpt& rx, const RttView& v, bool hole_fill, const Decoded& d,
                            uint64_t now, uint64_t prev_send) {
    const uint64_t since = hole_fill ? x.gap_rel.get() : prev_send;
    const double recovery = static_cast<double>(now - std::min(now, since == 0 ? 1 : since));
    const uint32_t end = d.seq + d.payload_len;
    const bool acked = !hole_fill && (rx.anomaly_flags & flow::kAnomalyAckSeen) != 0 && seq_le(end, rx.last_ack) &&
                       d.payload_len > 0;
    const bool same_id = d.ip_version == 4 && d.ip_id == x.last_ip_id && d.seq == x.last_seq;
    const bool r1b = recovery > v.rto;
    const bool r2b = rx.dup_acks >= 3 && recovery < v.rto;
    uint8_t cls = 0;
    if (d.payload_len == 1 && rx.win_last == 0 && (x.opt_flags & rx.opt_flags & flow::kOptSynSeen) != 0) {
        cls = flow::kClassFc;  // a window probe
    } else if (recovery < v.mean && x.last_class != 0) {
        cls = x.last_class;  // part of the same burst as the previous out-of-sequence segment
    } else if (!acked) {
        if (!hole_fill && same_id) {
            cls = flow::kClassDup;
        } else if (r1b || r2b) {
            cls = r2b ? flow::kClassFs : flow::kClassRto;
        } else if (hole_fill && recovery < v.min) {
            cls = flow::kClassReor;
        } else {
            cls = flow::kClassUnk;
        }
    } else if (same_id) {
        cls = flow::kClassDup;
    } else if (r1b || r2b) {
        cls = r2b ? flow::kClassUnfs : flow::kClassUnrto;
    } else {
        cls = flow::kClassUnk;
    }
    switch (cls) {
        case flow::kClassRto: ++x.pkts_rto; break;
        case flow::kClassFs: ++x.pkts_fs; break;
        case flow::kClassReor: ++x.pkts_reor; break;
        case flow::kClassDup: ++x.pkts_dup; break;
        case flow::kClassFc: ++x.pkts_fc; break;
        case flow::kClassUnrto: ++x.pkts_unrto; break;
        case flow::kClassUnfs: ++x.pkts_unfs; break;
        default: ++x.pkts_unk; break;
    }
    return cls;
}

// A DNS response to a client of this meter: remember every A/AAAA answer's address with the
// question's name, for that client.
void FlowMeter::learn_dns(const Flow& f, int dir, const Decoded& d, const PacketView& p) {
    classify::DnsMessage& m = *dns_msg_;
    if (classify::parse_dns(p.data + d.payload_offset, d.payload_captured, m) == classify::ParseStatus::kInvalid ||
        !m.response || m.qname.view().empty()) {
        return;
    }
    const std::array<uint8_t, 16>& client = dir == 1 ? d.dst : d.src;
    for (uint8_t i = 0; i < m.answer_count; ++i) {
        const classify::DnsAnswer& a = m.answers[i];
        const uint8_t v = a.type == classify::kDnsTypeA ? 4 : a.type == classify::kDnsTypeAaaa ? 6 : 0;
        if (v == 0 || v != d.ip_version) {
            continue;  // a flow's addresses are of the resolver's family here
        }
        flow::DnsNames::Name n;
        std::memcpy(n.server.data(), a.addr, v == 4 ? 4 : 16);
        const std::string_view name = m.qname.view();
        n.client = client;
        n.resolver = dir == 1 ? d.src : d.dst;
        n.query_ns = f.dir[0].t_last.get() != 0 ? abs_ns(f, f.dir[0].t_last) : 0;
        n.ip_version = v;
        n.ts_ns = p.ts_ns;
        n.len = static_cast<uint8_t>(std::min(name.size(), sizeof n.name));
        std::memcpy(n.name, name.data(), n.len);
        if (dns_->learn(n)) {
            dns_names_learned_.add(1);
        } else {
            dns_names_dropped_.add(1);
        }
    }
}

bool FlowMeter::resolved(const Flow& f, flow::DnsNames::Name& out) const {
    if (!dns_) {
        return false;
    }
    const flow::CanonicalKey& k = f.key;
    const auto& client = f.client_is_lo() ? k.addr_lo : k.addr_hi;
    const auto& server = f.client_is_lo() ? k.addr_hi : k.addr_lo;
    return dns_->find(k.ip_version, client, server, f.first_ns, out);
}

void FlowMeter::expire(int64_t now_ns) {
    last_ns_ = std::max(last_ns_, now_ns);
    table_->advance(now_ns, [&](Flow* f) -> int64_t {
        const int64_t due = deadline(*f);
        if (due > now_ns) {
            return due;
        }
        end_due(*f, now_ns);
        return 0;
    });
}

void FlowMeter::end_due(Flow& f, int64_t now_ns) {
    const int64_t idle = f.key.proto == IPPROTO_TCP ? tcp_idle_ns_ : udp_idle_ns_;
    if (active_ns_ > 0 && f.first_ns + active_ns_ <= now_ns && f.last_ns() + idle > now_ns) {
        // Still alive: report what it did so far and measure on from zero.
        finish(f, EndReason::kActive);
        return;
    }
    finish(f, singleton(f) ? EndReason::kSingleton : EndReason::kIdle);
}

void FlowMeter::fill_record(const Flow& f, flow::FlowRecord& rec) const {
    rec = flow::FlowRecord();
    const flow::CanonicalKey& k = f.key;
    rec.key.ip_version = k.ip_version;
    rec.key.proto = k.proto;
    const int lo = f.client_is_lo() ? 0 : 1;
    rec.key.addr[lo] = k.addr_lo;
    rec.key.port[lo] = k.port_lo;
    rec.key.addr[1 - lo] = k.addr_hi;
    rec.key.port[1 - lo] = k.port_hi;
    rec.first_ns = f.first_ns;
    rec.last_ns = f.last_ns();
    rec.midstream = f.midstream();
    const bool tcp = k.proto == IPPROTO_TCP;
    for (int d = 0; d < 2; ++d) {
        const DirCore& c = f.dir[d];
        flow::DirStats& o = rec.dir[d];
        o.pkts_all = c.pkts_all;
        o.rst_cnt = c.rst_cnt;
        o.ack_cnt = c.ack_cnt;
        o.ack_cnt_p = c.ack_cnt_p;
        o.pkts_data = c.pkts_data;
        o.pkts_retx = c.pkts_retx;
        o.pkts_ooo = c.pkts_ooo;
        o.syn_cnt = c.syn_cnt;
        o.fin_cnt = c.fin_cnt;
        o.bytes_uniq = c.bytes_uniq.get();
        o.bytes_all = c.bytes_all.get();
        o.bytes_retx = c.bytes_retx.get();
        o.wire_bytes = c.wire_bytes.get();
        if (tcp) {
            o.first_payload_ns = abs_ns(f, c.t_first);
            o.last_payload_ns = abs_ns(f, c.t_last);
            o.first_ack_ns = abs_ns(f, c.t_ack);
        } else {
            o.first_ns = abs_ns(f, c.t_first);
            o.last_ns = abs_ns(f, c.t_last);
        }
    }
    if (classify_) {
        const classify::ClassifierState& cs = cls_state(const_cast<Flow*>(&f));
        rec.classified = true;
        rec.con_t = cs.con_t;
        rec.p2p_t = cs.p2p_t;
        rec.http_t = cs.http_t;
        rec.udp_type[0] = cs.udp_type[0];
        rec.udp_type[1] = cs.udp_type[1];
        rec.app = static_cast<uint8_t>(cs.app);
        rec.app_by_port = (cs.flags & classify::kFlagByPort) != 0;
        rec.tls_version[0] = cs.tls_version[0];
        rec.tls_version[1] = cs.tls_version[1];
        rec.http_status = cs.http_status;
        rec.set_name(cs.name.view());
        rec.set_alpn(cs.alpn.view());
        rec.set_second_name(cs.second_name.view());
        if (flow::DnsNames::Name n; resolved(f, n)) {
            rec.set_fqdn(n.view());
            rec.dns_resolver = n.resolver;
            rec.dns_request_ns = n.query_ns;
            rec.dns_response_ns = n.ts_ns;
        }
        for (int d = 0; d < 2; ++d) {
            rec.http_messages[d] = cs.http_messages[d];
            rec.pkts_push[d] = cs.push[d];
            rec.alpn_bits[d] = cs.alpn_bits[d];
            rec.tls_last_handshake_ns[d] = cs.tls_walk[d].last_handshake_ns;
            rec.tls_appdata_ns[d] = cs.tls_walk[d].appdata_ns;
            rec.tls_appdata_offset[d] = cs.tls_walk[d].appdata_offset;
        }
        rec.tls_session = cs.tls_session;
        rec.quic_version[0] = cs.quic_version;
        rec.quic_version[1] = cs.quic_server_version;
        rec.quic_0rtt = cs.quic_0rtt;
        rec.ech_len = cs.ech_len;
    }
    if (extended_) {
        rec.extended = true;
        const FlowExt& e = const_cast<flow::FlowTable&>(*table_).ext<FlowExt>(&f);
        for (int d = 0; d < 2; ++d) {
            const DirE2e& t = e.e2e[d];
            flow::DirStats& o = rec.dir[d];
            o.rtt_cnt = t.rtt_cnt;
            o.rtt_min_ms = t.rtt_min_ms;
            o.rtt_max_ms = t.rtt_max_ms;
            o.rtt_sum_ms = t.rtt_sum_ms;
            o.rtt_sum2_ms = t.rtt_sum2_ms;
            o.ttl_min = t.ttl_min;
            o.ttl_max = t.ttl_max;
            if (!options_) {
                continue;
            }
            rec.options = true;
            const DirOpt& x = e.opt[d];
            o.opt_window_scale = (x.opt_flags & flow::kOptWindowScale) != 0;
            o.opt_timestamps = (x.opt_flags & flow::kOptTimestamps) != 0;
            o.opt_sack_permitted = (x.opt_flags & flow::kOptSackPermitted) != 0;
            // Tstat prints the shift only when both sides offered window scaling.
            o.window_scale = (x.opt_flags & e.opt[1 - d].opt_flags & flow::kOptWindowScale) != 0 ? x.window_scale : 0;
            o.mss = x.mss;
            o.seg_max = x.seg_max;
            o.seg_min = x.seg_min;
            o.sack_cnt = x.sack_cnt;
            o.win_max = x.win_max;
            o.win_min = x.win_min;
            o.win_zero = x.win_zero;
            o.cwin_max = x.cwin_max;
            o.cwin_min = x.cwin_min;
            o.cwin_ini = x.cwin_ini;
            o.pkts_rto = x.pkts_rto;
            o.pkts_fs = x.pkts_fs;
            o.pkts_reor = x.pkts_reor;
            o.pkts_dup = x.pkts_dup;
            o.pkts_unk = x.pkts_unk;
            o.pkts_fc = x.pkts_fc;
            o.pkts_unrto = x.pkts_unrto;
            o.pkts_unfs = x.pkts_unfs;
            o.syn_retx = (x.anomaly_flags & flow::kAnomalySynRetx) != 0;
        }
    }
}

void FlowMeter::finish(Flow& f, EndReason why) {
    if (pending_ == nullptr || pending_->full()) {
        emit_records();
        pending_ = pool_->acquire();
    }
    if (classify_ && why != EndReason::kActive) {
        classifier_->finish(cls_state(&f));  // port fallback, reassembly slot back to the pool
    }
    if (pending_ != nullptr) {
        flow::FlowRecord& rec = pending_->append();
        fill_record(f, rec);
        rec.reason = why;
        if (rec.key.proto == IPPROTO_TCP) {
            // Tstat: FIN-closed flows are complete; RST and timeouts only when both SYNs were seen;
            // what is still open at the end never is.
            const bool both_syn = rec.dir[0].syn_cnt > 0 && rec.dir[1].syn_cnt > 0;
            rec.complete = !rec.midstream &&
                           (why == EndReason::kFin || ((why == EndReason::kRst || why == EndReason::kIdle ||
                                                        why == EndReason::kSingleton) && both_syn));
        } else {
            rec.complete = true;
        }
        if (pending_->time_ns() < rec.last_ns) {
            pending_->set_time_ns(rec.last_ns);
        }
    } else {
        records_dropped_.add(1);
    }
    flows_ended_.add(1);
    if (why == EndReason::kActive) {
        // Keep the flow, its sequence state and timed segments; restart its counters from its
        // last packet.
        const int64_t restart = f.last_ns();
        const int64_t shift = restart - f.first_ns;
        for (auto& c : f.dir) {
            const uint32_t next = c.seq_next, fin_seq = c.fin_seq, hs = c.hole_start, he = c.hole_end;
            c = DirCore();
            c.seq_next = next;
            c.fin_seq = fin_seq;
            c.hole_start = hs;
            c.hole_end = he;
        }
        if (extended_) {
            FlowExt& e = table_->ext<FlowExt>(&f);
            for (auto& t : e.e2e) {
                DirE2e kept;
                for (int i = 0; i < 2; ++i) {
                    const uint64_t sent = t.timed_rel[i].get();
                    if (sent != 0) {
                        kept.timed_end[i] = t.timed_end[i];
                        kept.timed_rel[i].set(sent > static_cast<uint64_t>(shift) ? sent - static_cast<uint64_t>(shift) : 1);
                    }
                }
                t = kept;
            }
            for (int d = 0; options_ && d < 2; ++d) {
                DirOpt& x = e.opt[d];
                DirOpt kept;
                kept.mss = x.mss;
                kept.window_scale = x.window_scale;
                kept.opt_flags = x.opt_flags;
                kept.syn_seq = x.syn_seq;
                kept.last_ack = x.last_ack;
                kept.win_last = x.win_last;
                kept.anomaly_flags = static_cast<uint8_t>(x.anomaly_flags & ~flow::kAnomalySynRetx);
                x = kept;
            }
        }
        f.first_ns = restart;
        f.last_rel.set(0);
        table_->schedule(&f, deadline(f));
        return;
    }
    table_->erase(&f);
    active_.store(table_->size(), std::memory_order_relaxed);
}

void FlowMeter::emit_records() {
    if (pending_ == nullptr) {
        return;
    }
    if (!pending_->empty()) {
        emit(out_, *pending_);
    }
    pending_->release();
    pending_ = nullptr;
}

}  // namespace weir::blocks

WEIR_REGISTER_BLOCK(weir::blocks::FlowMeter, "FlowMeter", weir::Invocation::kDirect | weir::Invocation::kIndirect,
                    "bidirectional TCP/UDP flows with Tstat's statistics and end-of-flow rules")
