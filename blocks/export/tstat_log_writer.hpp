// TstatLogWriter — writes finished flows as Tstat's text logs, readable by Tstat's tools.
//
// Invocation: direct or indirect.
// Params:
//   log.dir         output folder; logs go to <dir>/YYYY_MM_DD_HH_MM.out/ named after the first
//                   flow's start (UTC), as Tstat names them (default "tstat_logs")
//   log.rotate      start a new folder every this much flow time (default 1h; 0 = never)
//   log.tcp_sets    optional column sets of the TCP logs: "core", or a comma list of "e2e"
//                   (end-to-end: RTT and TTL) and "options" (TCP options, windows, in-flight
//                   bytes, out-of-sequence causes), written in Tstat's order. Header prefix
//                   #NN# is Tstat's bitmask (e2e = 1, options = 8)  (default e2e)
//   log.midstream   write TCP flows first seen without their SYN to log_tcp_midstream
//                   (default true; false drops them, as Tstat would never have seen them)
//   net.internal    comma-separated CIDRs whose addresses are internal (c_isint, s_isint)
//                   (default 0.0.0.0/0,::/0: everything, which is what Tstat does without -N)
// Gates: in in_flow: FlowBatch
// Files: log_tcp_complete, log_tcp_nocomplete, log_tcp_midstream, log_udp_complete
// Variables: tcp_complete, tcp_nocomplete, tcp_midstream, udp_complete (lines written),
//   folders (folders opened), write_errors, tcp_sets (control, same values; takes effect
//   by opening a new folder, so every file keeps one header).
#pragma once

#include <flow/flow_record.hpp>
#include <weir/block.hpp>

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
    enum File { kTcpComplete, kTcpNocomplete, kTcpMidstream, kUdpComplete, kFiles };

    void open_folder(int64_t t_ns);
    void close_files();
    bool internal(uint8_t version, const std::array<uint8_t, 16>& a) const;
    void write_tcp(std::FILE* f, const flow::FlowRecord& r, unsigned sets);
    void write_udp(std::FILE* f, const flow::FlowRecord& r);
    void write_header(File which);

    std::string dir_;
    int64_t rotate_ns_ = 0;
    bool midstream_ = true;
    std::vector<Cidr> internal_;
    std::atomic<unsigned> sets_requested_{1};
    unsigned sets_ = 1;  // Tstat's bits: e2e = 1, options = 8

    std::FILE* files_[kFiles] = {};
    std::string folder_;
    int64_t folder_start_ns_ = 0;
    char line_[4096];

    Counter lines_[kFiles];
    Counter folders_;
    Counter write_errors_;
};

}  // namespace weir::blocks
