#include "flow_demux.hpp"

#include <flow/flow_table.hpp>
#include <proto/decode.hpp>
#include <weir/capture/toeplitz.hpp>
#include <weir/registry.hpp>

#include <netinet/in.h>

#include <cstring>

namespace weir::blocks {

FlowDemux::FlowDemux(BlockSetup& s) : Block(s) {
    outputs_ = s.param<uint32_t>("gates.number", 2, "number of outputs");
    max_batches_ = s.param<uint32_t>("pool.max_batches", 4096, "output batches in flight at most");
    rss_ = s.choice("hash.function", "rss", {"rss", "weir"},
                    "rss: a NIC's symmetric Toeplitz RSS (same output as its queue); weir: the flow table's hash") ==
           "rss";
    if (outputs_ < 1 || outputs_ > kMaxOutputs) {
        throw ParamError(s.param_input().line, "param 'gates.number' of block '" + s.id() + "' is " +
                                                   std::to_string(outputs_) + ", expected 1..64");
    }
    s.input<PacketBatch>("in_pkt", "packets to split");
    sent_ = std::make_unique<Counter[]>(outputs_);
    for (uint32_t i = 0; i < outputs_; ++i) {
        out_.push_back(s.output<PacketBatch>("out_" + std::to_string(i),
                                             "packets whose flow hashes to output " + std::to_string(i),
                                             {"output" + std::to_string(i)}));
        s.counter("out_" + std::to_string(i), sent_[i], "packets", "packets sent to output " + std::to_string(i));
    }
    s.counter("non_ip", non_ip_, "packets", "packets without an IP 5-tuple (sent to output 0)");
    s.counter("no_batch", no_batch_, "packets", "packets lost because every output batch was in flight");
}

void FlowDemux::start() {
    pool_ = std::make_unique<BatchPool>(PacketBatch::kMaxPackets, 0, max_batches_, &FlowDemux::release_source,
                                        nullptr);
}

// Each output batch holds one reference to the input batch its views point into (handle 0).
void FlowDemux::release_source(PacketBatch& batch, void*) noexcept {
    if (batch.size() > 0) {
        static_cast<const PacketBatch*>(batch.handle(0))->release();
    }
}

uint32_t FlowDemux::output_of(const PacketView& p, uint32_t outputs, bool& is_ip, bool rss) noexcept {
    proto::Decoded d;
    const proto::Verdict v = proto::decode(p.data, p.caplen, p.linktype, d);
    is_ip = d.ip_version != 0 && (v == proto::Verdict::kOk || v == proto::Verdict::kIpFragment ||
                                  v == proto::Verdict::kOtherTransport);
    if (!is_ip) {
        return 0;
    }
    // Fragments carry no ports after the first: hash every fragment on addresses only, so a
    // datagram's pieces stay together (at the price of spreading less). NICs do the same.
    const bool ports = v == proto::Verdict::kOk && (d.l4_proto == IPPROTO_TCP || d.l4_proto == IPPROTO_UDP) &&
                       !d.fragment;
    if (rss) {
        // What the NIC hashes, in its order: source and destination address, then ports.
        uint8_t in[36];
        const std::size_t a = d.ip_version == 4 ? 4 : 16;
        std::memcpy(in, d.src.data(), a);
        std::memcpy(in + a, d.dst.data(), a);
        std::size_t n = 2 * a;
        if (ports) {
            in[n] = static_cast<uint8_t>(d.sport >> 8);
            in[n + 1] = static_cast<uint8_t>(d.sport);
            in[n + 2] = static_cast<uint8_t>(d.dport >> 8);
            in[n + 3] = static_cast<uint8_t>(d.dport);
            n += 4;
        }
        return capture::rss_queue(capture::ToeplitzTable::symmetric().hash(in, n), outputs);
    }
    bool lo = false;
    const flow::CanonicalKey key = flow::make_key(d.ip_version, ports ? d.l4_proto : 0, d.src, ports ? d.sport : 0,
                                                  d.dst, ports ? d.dport : 0, lo);
    return flow::hash_key(key) % outputs;
}

void FlowDemux::receive(InputId, const Message& msg) {
    const auto& in = static_cast<const PacketBatch&>(msg);
    if (in.empty() || outputs_ == 1) {
        for (OutputId o : out_) {
            emit(o, in);  // clock markers reach every replica
        }
        sent_[0].add(in.size());
        return;
    }
    uint32_t count[kMaxOutputs] = {};
    for (uint32_t i = 0; i < in.size(); ++i) {
        bool is_ip = true;
        target_[i] = static_cast<uint8_t>(output_of(in[i], outputs_, is_ip, rss_));
        non_ip_.add(is_ip ? 0 : 1);
        ++count[target_[i]];
    }
    for (uint32_t o = 0; o < outputs_; ++o) {
        if (count[o] == 0) {
            continue;
        }
        if (count[o] == in.size()) {
            emit(out_[o], in);  // the whole batch goes one way: no new batch needed
            sent_[o].add(count[o]);
            continue;
        }
        PacketBatch* out = pool_->acquire();
        if (out == nullptr) {
            no_batch_.add(count[o]);
            continue;
        }
        in.retain();
        for (uint32_t i = 0; i < in.size(); ++i) {
            if (target_[i] == o) {
                out->append(const_cast<PacketBatch*>(&in)) = in[i];
            }
        }
        out->set_time_ns(in.time_ns());
        sent_[o].add(count[o]);
        emit(out_[o], *out);
        out->release();
    }
}

}  // namespace weir::blocks

WEIR_REGISTER_BLOCK(weir::blocks::FlowDemux, "FlowDemux", weir::Invocation::kDirect | weir::Invocation::kIndirect,
                    "splits packets over N outputs by a symmetric flow hash (both directions together)")
