// TstatLogWriter — writes finished flows as Tstat's text logs, readable by Tstat's tools.
//
// Invocation: direct or indirect.
// Params:
//   log.dir         output folder; logs go to <dir>/YYYY_MM_DD_HH_MM.out/ named after the first
//                   flow's start (UTC), as Tstat names them (default "tstat_logs")
//   log.rotate      start a new folder every this much flow time (default 1h; 0 = never)
//   log.tcp_sets    optional column sets of the TCP logs: "core", or a comma list of "e2e"
//                   (end-to-end: RTT and TTL), "options" (TCP options, windows, in-flight
//                   bytes, out-of-sequence causes) and "layer7" (HTTP counts, TLS SNI, ALPN,
//                   session flags, handshake and application-data timings, DN-Hunter fqdn and
//                   resolver, HTTP host, TLS versions: needs FlowMeter's classification),
//                   written in Tstat's order. Header prefix #NN# is Tstat's bitmask (e2e = 1,
//                   layer7 = 2, options = 8)  (default e2e)
//   log.messages    per-message logs from FlowMeter's out_l7 (l7.events): "http"
//                   (log_http_complete), "dns" (log_dns_complete), "http,dns" or "" (default "")
//   log.http_full_url  Tstat's privacy knob for log_http_complete: 0 no path, Referer and
//                   Location cut to scheme://host, no cookies; 1 path without query; 2 all (default 0)
//   log.midstream   write TCP flows first seen without their SYN to log_tcp_midstream
//                   (default true; false drops them, as Tstat would never have seen them)
//   net.internal    comma-separated CIDRs whose addresses are internal (c_isint, s_isint)
//                   (default 0.0.0.0/0,::/0: everything, which is what Tstat does without -N)
// Gates: in in_flow: FlowBatch
//        in in_l7: L7Batch (optional) — HTTP heads and DNS messages, for log.messages
// Files: log_tcp_complete, log_tcp_nocomplete, log_tcp_midstream, log_udp_complete (with Tstat's
//   QUIC columns), log_http_complete, log_dns_complete
// Variables: tcp_complete, tcp_nocomplete, tcp_midstream, udp_complete, http_complete,
//   dns_complete (lines written),
//   folders (folders opened), write_errors, tcp_sets (control, same values; takes effect
//   by opening a new folder, so every file keeps one header), logs_off (control: a comma list of
//   logs not written for now, e.g. "udp_complete,http_complete", "" = all written; read once per
//   batch; the mPlane bridge's weir-<block>-logs_off-set switches a log group off for a period),
//   suppressed (lines not written because their log was off).
#pragma once

#include <flow/flow_record.hpp>
#include <weir/block.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace weir::blocks {

class TstatLogWriter final : public Block {
public:
    explicit TstatLogWriter(BlockSetup& s);
    ~TstatLogWriter() override;
    void receive(InputId gate, const Message& msg) override;
    void flush() override;

private:
    struct Cidr {
        uint8_t version;
        std::array<uint8_t, 16> addr;
        int bits;
    };
    enum File { kTcpComplete, kTcpNocomplete, kTcpMidstream, kUdpComplete, kHttpComplete, kDnsComplete, kFiles };

    void open_folder(int64_t t_ns);
    void close_files();
    bool internal(uint8_t version, const std::array<uint8_t, 16>& a) const;
    void write_tcp(std::FILE* f, const flow::FlowRecord& r, unsigned sets);
    void write_udp(std::FILE* f, const flow::FlowRecord& r);
    void write_header(File which);
    void write_l7(const flow::L7Record& e);
    bool off(File f) {  // this batch's logs_off has `f`: count the line it would have written
        if (((off_ >> f) & 1u) == 0) {
            return false;
        }
        suppressed_.add(1);
        return true;
    }
    void ensure_folder(int64_t t_ns, int64_t first_ns);

    std::string dir_;
    int64_t rotate_ns_ = 0;
    bool midstream_ = true;
    bool http_log_ = false;
    bool dns_log_ = false;
    uint8_t http_privacy_ = 0;  // l7log::UrlPrivacy
    InputId in_l7_ = 0;
    std::vector<Cidr> internal_;
    std::atomic<unsigned> sets_requested_{1};
    unsigned sets_ = 1;  // Tstat's bits: e2e = 1, layer7 = 2, options = 8

    std::FILE* files_[kFiles] = {};
    std::string folder_;
    int64_t folder_start_ns_ = 0;
    char line_[4096];

    Counter lines_[kFiles];
    Counter folders_;
    std::atomic<unsigned> logs_off_{0};  // bit per File: written by the control, read once per batch
    unsigned off_ = 0;                   // logs_off_ as this batch read it
    Counter suppressed_;
    Counter write_errors_;
};

}  // namespace weir::blocks
