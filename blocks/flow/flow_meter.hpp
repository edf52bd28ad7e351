// FlowMeter — bidirectional TCP and UDP flows with Tstat's statistics and end-of-flow rules.
//
// Invocation: direct or indirect (one FlowMeter per core; replicas each own their table).
// Params:
//   table.capacity      flows tracked at once; memory is reserved for this many (default 1000000)
//   timeout.tcp_idle    TCP idle timeout (default 300s)
//   timeout.udp_idle    UDP idle timeout (default 200s)
//   timeout.singleton   a TCP flow of SYNs only, or a UDP flow of one packet (default 10s)
//   timeout.active      report long flows every this long and keep measuring (default 0 = off)
//   classify.enabled    classify flows from their first payload bytes (default false; see
//                       blocks/classify and docs/classification.md): con_t, p2p_t, http_t, UDP
//                       types and the layer-7 fields of the records
//   classify.reassembly_slots  flows that may wait for the rest of a cut message (default 1024)
//   dns.names           with classification, remember this many DNS answers (client, address ->
//                       name; Tstat's DN-Hunter) to name later flows (default 65536; 0 = off)
//   dns.share           meters of one engine naming the same group share one DN-Hunter table
//                       (replicas: a client's DNS answers and its flows reach different replicas);
//                       the first meter's dns.names sizes it (default "": a table of its own)
//   stats.extended      also measure the end-to-end (RTT, TTL) and TCP-options sets (default
//                       true); false keeps the core set only and 248 bytes per flow in the table
//   stats.options       with stats.extended, also the TCP-options set (default true); false keeps
//                       the end-to-end set only (RTT, TTL), which is cheaper per packet
//   l7.events           layer-7 messages to emit on out_l7, for log_http_complete and
//                       log_dns_complete: "http" (the first segment of every HTTP request and
//                       response head, in flows classified HTTP: needs classify.enabled), "dns"
//                       (every DNS message over UDP port 53), "http,dns" or "" (default "")
//   tcp.midstream       track TCP flows first seen without their SYN (default true); false gives
//                       Tstat's behaviour: such packets are counted as untracked and ignored
// Gates: in  in_pkt: PacketBatch
//        out out_flow: FlowBatch — flows as they end (Tstat's close order), then every open flow
//                      at the end of the input or at shutdown
//        out out_l7: L7Batch — layer-7 messages (l7.events), as they are seen
// Variables: packets, tcp_packets, udp_packets, other_packets, untracked_tcp (packets of flows
//   not opened by a SYN, when tcp.midstream is false), flows_active, flows_created, flows_ended,
//   evictions, records_dropped (no batch to carry them: downstream stalled), table_bytes,
//   bytes_per_flow (entry + extension + index share, when the table is full),
//   fragments_attributed (later IP fragments counted in their datagram's flow),
//   dns_names_learned (DNS answers remembered for DN-Hunter), dns_names_dropped (answers not
//   remembered because another replica was writing the same slot), l7_events (layer-7 messages
//   emitted), l7_dropped (lost: downstream held every batch),
//   bad_<reason> (packets that could not be decoded, per reason: see proto::Verdict).
#pragma once

#include "dns_names.hpp"
#include "flow_record.hpp"
#include "flow_table.hpp"

#include <classify/classifier.hpp>
#include <proto/decode.hpp>
#include <weir/block.hpp>
#include <weir/packet.hpp>

#include <algorithm>
#include <memory>

namespace weir::blocks {

// The RTT figures Tstat's anomaly rules use, from both directions' samples (ns).
struct RttView {
    double mean = 5e6;   // average RTT of this side + average of the other
    double rto = 500e6;  // mean + 4 pooled standard deviations, at least 100 ms
    double min = 5e6;    // minimum of this side + minimum of the other, at least 1 ms
};

class FlowMeter final : public Block {
public:
    explicit FlowMeter(BlockSetup& s);
    void start() override;
    void receive(InputId gate, const Message& msg) override;
    void on_timer(TimerId timer, int64_t now_ns) override;
    void flush() override;

private:
    struct Decoding {
        proto::Decoded d;
        flow::CanonicalKey key;
        uint32_t hash = 0;
        proto::Verdict verdict = proto::Verdict::kOk;
        bool src_is_lo = true;
        bool metered = false;  // TCP or UDP, decoded
        bool later_fragment = false;  // a non-first fragment, attributed to its datagram's flow
    };
    // The ports of recently seen first fragments, so the later fragments of the same datagram
    // count in its flow (no payload reassembly: ports are all a flow needs). Direct-mapped,
    // bounded; a fragment whose first fragment was not seen stays unattributed (bad_ip_fragment).
    struct FragmentPorts {
        std::array<uint8_t, 16> src{};
        std::array<uint8_t, 16> dst{};
        int64_t ts_ns = 0;
        uint16_t ip_id = 0;
        uint16_t sport = 0;
        uint16_t dport = 0;
        uint8_t ip_version = 0;
        uint8_t proto = 0;
    };
    static constexpr uint32_t kFragmentSlots = 4096;
    static constexpr int64_t kFragmentTtlNs = 30'000'000'000;  // Linux's ipfrag_time
    FragmentPorts& fragment_slot(const proto::Decoded& d);
    void decode(const PacketView& p, Decoding& w);
    void packet(const PacketView& p, Decoding& w);
    void tcp(flow::Flow& f, flow::FlowExt* ext, int dir, const proto::Decoded& d, const PacketView& p);
    void fragment(flow::Flow* f, const Decoding& w, const PacketView& p);
    void udp(flow::Flow& f, int dir, const proto::Decoded& d, const PacketView& p);
    // Tstat's singletons: a TCP flow of SYNs only, a UDP flow of one packet (on every packet:
    // inline).
    static bool singleton(const flow::Flow& f) {
        const flow::DirCore& c = f.dir[0];
        const flow::DirCore& sv = f.dir[1];
        return f.key.proto == 6 ? (sv.pkts_all == 0 && c.pkts_all == c.syn_cnt) : (c.pkts_all + sv.pkts_all == 1);
    }
    uint8_t classify(flow::DirOpt& x, const flow::DirOpt& rx, const RttView& v, bool hole_fill, const proto::Decoded& d,
                     uint64_t now, uint64_t prev_send);
    int64_t deadline(const flow::Flow& f) const {
        const int64_t idle = singleton(f) ? singleton_ns_ : (f.key.proto == 6 ? tcp_idle_ns_ : udp_idle_ns_);
        const int64_t d = f.last_ns() + idle;
        return active_ns_ > 0 ? std::min(d, f.first_ns + active_ns_) : d;
    }
    void fill_record(const flow::Flow& f, flow::FlowRecord& rec) const;
    void finish(flow::Flow& f, flow::EndReason why);
    void expire(int64_t now_ns);
    void end_due(flow::Flow& f, int64_t now_ns);
    void emit_records();
    void l7_event(const flow::Flow& f, int dir, flow::L7Kind kind, const proto::Decoded& d, const PacketView& p);

    uint32_t capacity_ = 0;
    int64_t tcp_idle_ns_ = 0;
    int64_t udp_idle_ns_ = 0;
    int64_t singleton_ns_ = 0;
    int64_t active_ns_ = 0;
    bool midstream_ = true;
    bool extended_ = true;
    bool options_ = true;
    bool classify_ = false;
    uint32_t cls_slots_ = 1024;
    std::size_t cls_offset_ = 0;  // ClassifierState's place in the entry's extension area
    std::unique_ptr<classify::Classifier> classifier_;
    // DN-Hunter (flow/dns_names.hpp): a flow ending takes the newest name its client resolved
    // for its server before the flow began. Own table, or one shared by the meters of a group.
    std::string dns_share_;
    uint32_t dns_capacity_ = 0;
    std::shared_ptr<flow::DnsNames> dns_;
    std::unique_ptr<classify::DnsMessage> dns_msg_;
    Counter dns_names_learned_, dns_names_dropped_;
    void learn_dns(const flow::Flow& f, int dir, const proto::Decoded& d, const PacketView& p);
    bool resolved(const flow::Flow& f, flow::DnsNames::Name& out) const;
    classify::ClassifierState& cls_state(const flow::Flow* f) const {
        return *reinterpret_cast<classify::ClassifierState*>(&table_->ext<uint8_t>(f) + cls_offset_);
    }
    OutputId out_ = 0;
    OutputId out_l7_ = 0;
    bool http_events_ = false;  // l7.events
    bool dns_events_ = false;
    std::unique_ptr<flow::L7BatchPool> l7_pool_;
    flow::L7Batch* l7_pending_ = nullptr;
    Counter l7_events_, l7_dropped_;

    std::unique_ptr<flow::FlowTable> table_;
    std::unique_ptr<Decoding[]> work_;  // one per packet of a batch
    std::unique_ptr<FragmentPorts[]> fragments_;
    std::unique_ptr<flow::FlowBatchPool> pool_;
    flow::FlowBatch* pending_ = nullptr;  // records waiting to be emitted
    int64_t last_ns_ = 0;
    int64_t next_expiry_ns_ = 0;  // packet time at which the wheel next advances

    Counter packets_, tcp_packets_, udp_packets_, other_packets_, untracked_tcp_;
    Counter flows_created_, flows_ended_, evictions_, records_dropped_, fragments_attributed_;
    Counter bad_[static_cast<int>(proto::Verdict::kCount)];
    std::atomic<uint32_t> active_{0};
};

}  // namespace weir::blocks
