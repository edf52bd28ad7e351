// FlowJsonWriter — finished flows as JSON lines (one object per flow), for tools and scripts.
//
// Invocation: direct or indirect.
// Params:
//   json.file   output file, "-" for standard output (default "flows.json"); opened at start,
//               truncated
// Gates: in in_flow: FlowBatch
// Variables: flows (lines written), write_errors
// Object fields: proto, ip_version, client/server {ip, port, pkts, bytes (wire), payload_bytes,
//   payload_bytes_uniq, retx_pkts, ooo_pkts, syn, fin, rst}, first_ns, last_ns, reason,
//   complete, midstream; with FlowMeter's classification: app, app_by_port, con_t, p2p_t,
//   http_t, udp_type [client, server], name, fqdn (DN-Hunter), alpn, tls_version [client,
//   server], http_status;
//   with the end-to-end set: client/server rtt_avg_ms, rtt_min_ms, rtt_max_ms, rtt_cnt,
//   ttl_min, ttl_max. A field that was not measured is absent, never zero.
#pragma once

#include <flow/flow_record.hpp>
#include <weir/block.hpp>

#include <cstdio>
#include <string>

namespace weir::blocks {

class FlowJsonWriter final : public Block {
public:
    explicit FlowJsonWriter(BlockSetup& s);
    ~FlowJsonWriter() override;
    void start() override;
    void receive(InputId gate, const Message& msg) override;
    void flush() override;

private:
    std::string path_;
    std::FILE* file_ = nullptr;
    bool owned_ = false;
    std::string line_;
    Counter flows_;
    Counter write_errors_;
};

}  // namespace weir::blocks
