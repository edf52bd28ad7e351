// PcapSource — packets from a live interface or a capture file, through libpcap.
//
// Invocation: async (a thread of its own; Blockmon forces the same).
// Params (Blockmon-compatible first):
//   source.type        live | trace | file          (trace and file both read a file; default trace)
//   source.name        interface or file name       (required)
//   source.snaplen     bytes kept per packet, live  (default 65535)
//   source.promisc     promiscuous mode, live       (default true)
//   source.timeout_ms  longest wait per read, live  (default 10)
//   source.buffer_mb   kernel buffer, live          (default 64)
//   source.replay      files: 0 = as fast as possible, 1 = recorded speed, 2 = twice as fast
//   source.reader      files: auto (classic pcap memory-mapped, zero-copy; others via libpcap)
//                      | libpcap (always libpcap, one copy per packet)
//   source.batch       packets per batch, 1..64     (default 32)
//   source.max_batches batches alive at once        (default 4096; allocated on demand)
//   bpf_filter.expression  BPF filter (pcap-filter(7)), empty = all
//   advance_time_at_eof.us Blockmon's: at the end of a trace, send an empty batch stamped this
//                          much later, so timers downstream fire on the packet clock (default 0)
// Gates: out source_out (alias sniffer_out): PacketBatch.
// Variables: packets, bytes (wire bytes), kernel_drops, if_drops (live, from pcap_stats),
//   oversize (packets cut to 64 KiB), batches_waited (times the pool was empty: downstream slow),
//   progress (0..1 through a file, -1 live).
#pragma once

#include <weir/block.hpp>
#include <weir/capture/pcap_capture.hpp>
#include <weir/packet.hpp>

#include <memory>

namespace weir::blocks {

class PcapSource final : public Block {
public:
    explicit PcapSource(BlockSetup& s);
    void start() override;
    RunResult run() override;
    void flush() override;
    bool offline() const override { return config_.kind == capture::PcapConfig::Kind::kFile; }
    std::optional<SourceProgress> progress() const override;

private:
    capture::PcapConfig config_;
    uint32_t batch_size_ = 32;
    uint32_t max_batches_ = 4096;
    int64_t advance_at_eof_ns_ = 0;
    OutputId out_ = 0;
    std::unique_ptr<capture::PcapCapture> capture_;
    std::unique_ptr<BatchPool> pool_;
    Counter batches_waited_;
};

}  // namespace weir::blocks
