#include "flow_meter.hpp"

#include <weir/registry.hpp>

#include <netinet/in.h>

#include <algorithm>
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

void set_key(flow::FlowKey& k, const Decoded& d, bool src_is_client) {
    k.ip_version = d.ip_version;
    k.proto = d.l4_proto;
    const int c = src_is_client ? 0 : 1;
    k.addr[c] = d.src;
    k.port[c] = d.sport;
    k.addr[1 - c] = d.dst;
    k.port[1 - c] = d.dport;
}

void add_rtt(flow::DirStats& s, double ms) {
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

void common(flow::DirStats& s, const Decoded& d, const PacketView& p) {
    ++s.pkts_all;
    s.wire_bytes += p.wirelen;
    if (s.first_ns == 0) {
        s.first_ns = p.ts_ns;
        s.ttl_min = s.ttl_max = d.ttl;
    }
    s.last_ns = p.ts_ns;
    s.ttl_min = std::min(s.ttl_min, d.ttl);
    s.ttl_max = std::max(s.ttl_max, d.ttl);
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
    if (capacity_ < 16 || capacity_ > 200'000'000) {
        throw ParamError(s.param_input().line, "param 'table.capacity' of block '" + s.id() +
                                                   "' must be 16..200000000");
    }
    s.input<PacketBatch>("in_pkt", "packets to meter");
    out_ = s.output<flow::FlowBatch>("out_flow", "finished flows, in batches", {"out_flows"});
    s.counter("packets", packets_, "packets", "packets received");
    s.counter("tcp_packets", tcp_packets_, "packets", "TCP packets metered");
    s.counter("udp_packets", udp_packets_, "packets", "UDP packets metered");
    s.counter("other_packets", other_packets_, "packets", "IP packets of other protocols (ICMP, ...), not metered");
    s.counter("untracked_tcp", untracked_tcp_, "packets",
              "TCP packets of flows not opened by a SYN, ignored (tcp.midstream=false)");
    s.counter("flows_created", flows_created_, "flows", "flows opened");
    s.counter("flows_ended", flows_ended_, "flows", "flows written out (every reason)");
    s.counter("evictions", evictions_, "flows", "flows ended early because the table was full");
    s.counter("records_dropped", records_dropped_, "flows",
              "finished flows lost because downstream held every batch");
    s.gauge("flows_active", [this] { return VarValue{static_cast<uint64_t>(active_.load(std::memory_order_relaxed))}; },
            "flows", "flows open now");
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
    table_ = std::make_unique<flow::FlowTable>(capacity_);
    work_ = std::make_unique<Decoding[]>(PacketBatch::kMaxPackets);
    pool_ = std::make_unique<flow::FlowBatchPool>(4096);
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
    packets_.add(n);
}

void FlowMeter::decode(const PacketView& p, Decoding& w) {
    w.verdict = proto::decode(p.data, p.caplen, p.linktype, w.d);
    w.metered = w.verdict == Verdict::kOk && (w.d.l4_proto == IPPROTO_TCP || w.d.l4_proto == IPPROTO_UDP);
    if (w.metered) {
        w.key = flow::make_key(w.d.ip_version, w.d.l4_proto, w.d.src, w.d.sport, w.d.dst, w.d.dport, w.src_is_lo);
        w.hash = flow::hash_key(w.key);
    }
}

void FlowMeter::on_timer(TimerId, int64_t now_ns) {
    expire(now_ns);
    emit_records();
}

void FlowMeter::flush() {
    // Tstat's rule: whatever is still open at the end goes out (to log_tcp_nocomplete for TCP).
    table_->for_each([this](Flow* f) { finish(*f, EndReason::kShutdown); });
    emit_records();
}

void FlowMeter::packet(const PacketView& p, Decoding& w) {
    const Verdict v = w.verdict;
    if (v != Verdict::kOk) {
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
    if (f != nullptr && deadline(*f) <= p.ts_ns) {
        // Timed out between two wheel ticks: end it exactly, and this packet starts a new flow.
        end_due(*f, p.ts_ns);
        f = nullptr;
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
        f->client_is_lo = src_is_client ? src_is_lo : !src_is_lo;
        set_key(f->rec.key, d, src_is_client);
        f->rec.first_ns = p.ts_ns;
        f->rec.midstream = midstream;
        flows_created_.add(1);
        active_.store(table_->size(), std::memory_order_relaxed);
    }
    const int dir = (src_is_lo == f->client_is_lo) ? 0 : 1;
    f->rec.last_ns = std::max(f->rec.last_ns, p.ts_ns);
    if (is_tcp) {
        tcp_packets_.add(1);
        tcp(*f, dir, d, p);  // may finish (and erase) the flow
    } else {
        udp_packets_.add(1);
        udp(*f, dir, d, p);
        table_->schedule(f, deadline(*f));
    }
}

void FlowMeter::udp(Flow& f, int dir, const Decoded& d, const PacketView& p) {
    flow::DirStats& s = f.rec.dir[dir];
    common(s, d, p);
    s.bytes_all += d.payload_len;
    s.bytes_uniq += d.payload_len;
    if (d.payload_len > 0) {
        ++s.pkts_data;
    }
}

void FlowMeter::tcp(Flow& f, int dir, const Decoded& d, const PacketView& p) {
    flow::DirStats& s = f.rec.dir[dir];
    flow::DirStats& r = f.rec.dir[1 - dir];
    flow::SeqTrack& t = f.seq[dir];
    flow::SeqTrack& rt = f.seq[1 - dir];
    const uint8_t fl = d.tcp_flags;
    const bool syn = (fl & proto::kSyn) != 0;
    const bool fin = (fl & proto::kFin) != 0;
    const bool rst = (fl & proto::kRst) != 0;
    const bool ack = (fl & proto::kAck) != 0;
    const uint32_t len = d.payload_len;
    common(s, d, p);

    if (rst) {
        ++s.rst_cnt;
    }
    if (ack) {
        ++s.ack_cnt;
        if (!syn && s.first_ack_ns == 0) {
            s.first_ack_ns = p.ts_ns;
        }
        if (len == 0 && !syn && !fin && !rst) {
            ++s.ack_cnt_p;
        }
    }
    if (syn) {
        ++s.syn_cnt;
        const auto& o = d.tcp_options;
        if (o.mss != 0) {
            s.mss = o.mss;
        }
        if (o.window_scale != 0xff) {
            s.opt_window_scale = true;
            s.window_scale = std::min<uint8_t>(o.window_scale, 14);
        }
        s.opt_timestamps = s.opt_timestamps || o.timestamps;
        s.opt_sack_permitted = s.opt_sack_permitted || o.sack_permitted;
    }
    if (fin) {
        ++s.fin_cnt;
    }
    if (d.tcp_options.sack_blocks > 0) {
        ++s.sack_cnt;
    }
    // Receive window, scaled once both sides agreed on scaling (RFC 7323: never in a SYN).
    if (!rst) {
        const bool scaled = !syn && s.opt_window_scale && r.opt_window_scale;
        const uint32_t win = static_cast<uint32_t>(d.window) << (scaled ? s.window_scale : 0);
        if (s.win_max == 0 && s.win_min == 0) {
            s.win_min = win;
        }
        s.win_max = std::max(s.win_max, win);
        s.win_min = std::min(s.win_min, win);
        if (d.window == 0) {
            ++s.win_zero;
        }
    }
    if (len > 0) {
        ++s.pkts_data;
        s.bytes_all += len;
        if (s.first_payload_ns == 0) {
            s.first_payload_ns = p.ts_ns;
        }
        s.last_payload_ns = p.ts_ns;
        const auto seg = static_cast<uint16_t>(std::min<uint32_t>(len, 0xffff));
        s.seg_max = std::max(s.seg_max, seg);
        s.seg_min = s.seg_min == 0 ? seg : std::min(s.seg_min, seg);
    }

    // Sequence analysis (tcptrace's notions, simplified: one gap remembered per direction).
    const uint32_t span = len + (syn ? 1U : 0U) + (fin ? 1U : 0U);
    if (span > 0 && !rst) {
        const uint32_t seq = d.seq;
        const uint32_t end = seq + span;
        bool fresh = false;
        if (!t.init) {
            t.init = true;
            t.next = end;
            s.bytes_uniq += len;
            fresh = true;
        } else if (seq == t.next) {
            t.next = end;
            s.bytes_uniq += len;
            fresh = true;
        } else if (seq_lt(t.next, seq)) {
            // A gap: remember it; whatever fills it later arrives out of sequence.
            if (!t.has_hole) {
                t.has_hole = true;
                t.hole_start = t.next;
                t.hole_end = seq;
            }
            t.next = end;
            s.bytes_uniq += len;
        } else if (seq_le(end, t.next)) {
            if (t.has_hole && seq_le(t.hole_start, seq) && seq_le(end, t.hole_end)) {
                ++s.pkts_ooo;
                s.bytes_uniq += len;
                if (seq == t.hole_start) {
                    t.hole_start = end;
                } else if (end == t.hole_end) {
                    t.hole_end = seq;
                }
                t.has_hole = seq_lt(t.hole_start, t.hole_end);
            } else {
                ++s.pkts_retx;
                s.bytes_retx += len;
                // Karn: a retransmitted segment gives no RTT sample.
                for (int i = 0; i < 2; ++i) {
                    if (t.timed_ns[i] != 0 && seq_lt(seq, t.timed_end[i])) {
                        t.timed_ns[i] = 0;
                    }
                }
            }
        } else {
            // Overlaps the end of what was sent: part retransmission, part new data.
            ++s.pkts_retx;
            const uint32_t old = t.next - seq;
            const uint32_t old_payload = std::min(old, len);
            s.bytes_retx += old_payload;
            s.bytes_uniq += len - old_payload;
            t.next = end;
        }
        if (fresh) {
            for (int i = 0; i < 2; ++i) {
                if (t.timed_ns[i] == 0) {
                    t.timed_ns[i] = p.ts_ns;
                    t.timed_end[i] = end;
                    break;
                }
            }
        }
        if (fin) {
            t.fin_seen = true;
            t.fin_seq = seq + len;
        }
    }

    // This segment's ACK: RTT samples for the other side's data, and its FIN acknowledged.
    if (ack) {
        for (int i = 0; i < 2; ++i) {
            if (rt.timed_ns[i] != 0 && seq_le(rt.timed_end[i], d.ack)) {
                add_rtt(r, static_cast<double>(p.ts_ns - rt.timed_ns[i]) / 1e6);
                rt.timed_ns[i] = 0;
            }
        }
        if (rt.fin_seen && seq_le(rt.fin_seq + 1, d.ack)) {
            rt.closed = true;
        }
    }

    if (rst) {
        finish(f, EndReason::kRst);
        return;
    }
    if (t.closed && rt.closed) {
        finish(f, EndReason::kFin);
        return;
    }
    table_->schedule(&f, deadline(f));
}

int64_t FlowMeter::deadline(const Flow& f) const {
    const auto& c = f.rec.dir[0];
    const auto& sv = f.rec.dir[1];
    int64_t d = 0;
    if (f.rec.key.proto == IPPROTO_TCP) {
        const bool singleton = sv.pkts_all == 0 && c.pkts_all == c.syn_cnt;
        d = f.rec.last_ns + (singleton ? singleton_ns_ : tcp_idle_ns_);
    } else {
        const bool singleton = c.pkts_all + sv.pkts_all == 1;
        d = f.rec.last_ns + (singleton ? singleton_ns_ : udp_idle_ns_);
    }
    if (active_ns_ > 0) {
        d = std::min(d, f.rec.first_ns + active_ns_);
    }
    return d;
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
    const int64_t idle = f.rec.key.proto == IPPROTO_TCP ? tcp_idle_ns_ : udp_idle_ns_;
    if (active_ns_ > 0 && f.rec.first_ns + active_ns_ <= now_ns && f.rec.last_ns + idle > now_ns) {
        // Still alive: report what it did so far and measure on from zero.
        finish(f, EndReason::kActive);
        return;
    }
    const auto& c = f.rec.dir[0];
    const auto& sv = f.rec.dir[1];
    const bool singleton = f.rec.key.proto == IPPROTO_TCP ? (sv.pkts_all == 0 && c.pkts_all == c.syn_cnt)
                                                          : (c.pkts_all + sv.pkts_all == 1);
    finish(f, singleton ? EndReason::kSingleton : EndReason::kIdle);
}

void FlowMeter::finish(Flow& f, EndReason why) {
    flow::FlowRecord& rec = f.rec;
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
    if (pending_ == nullptr || pending_->full()) {
        emit_records();
        pending_ = pool_->acquire();
    }
    if (pending_ != nullptr) {
        pending_->append() = rec;
        if (pending_->time_ns() < rec.last_ns) {
            pending_->set_time_ns(rec.last_ns);
        }
    } else {
        records_dropped_.add(1);
    }
    flows_ended_.add(1);
    if (why == EndReason::kActive) {
        // Keep the flow and its sequence state; restart its counters.
        const flow::FlowKey key = rec.key;
        const bool mid = rec.midstream;
        const int64_t restart = rec.last_ns;
        rec = flow::FlowRecord();
        rec.key = key;
        rec.midstream = mid;
        rec.first_ns = restart;
        rec.last_ns = restart;
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
