#include "pcap_source.hpp"

#include <weir/registry.hpp>

namespace weir::blocks {

PcapSource::PcapSource(BlockSetup& s) : Block(s) {
    const std::string type =
        s.choice("source.type", "trace", {"live", "trace", "file"},
                 "live interface, or a capture file (trace and file are synonyms)");
    config_.kind = type == "live" ? capture::PcapConfig::Kind::kLive : capture::PcapConfig::Kind::kFile;
    config_.name = s.required_param<std::string>("source.name", "interface or capture file to read");
    config_.snaplen = s.param<int>("source.snaplen", 65535, "live: bytes kept per packet");
    config_.promiscuous = s.param<bool>("source.promisc", true, "live: promiscuous mode");
    config_.timeout_ms = s.param<int>("source.timeout_ms", 10, "live: longest wait for a packet, ms");
    config_.buffer_mb = s.param<int>("source.buffer_mb", 64, "live: kernel capture buffer, MiB");
    config_.replay_speed = s.param<double>(
        "source.replay", 0.0, "files: 0 reads as fast as possible, 1 at recorded speed, 2 twice as fast");
    config_.mmap_files = s.choice("source.reader", "auto", {"auto", "libpcap"},
                                  "files: auto maps classic pcap files and reads them without copies "
                                  "(pcapng and pipes go through libpcap); libpcap forces libpcap") == "auto";
    config_.bpf_filter = s.param<std::string>("bpf_filter.expression", "", "BPF filter, pcap-filter(7) syntax");
    batch_size_ = s.param<uint32_t>("source.batch", 32, "packets per batch (1..64)");
    max_batches_ = s.param<uint32_t>("source.max_batches", 4096,
                                     "batches in flight at most (allocated only when needed)");
    advance_at_eof_ns_ = s.param<int64_t>("advance_time_at_eof.us", 0,
                                          "at the end of a trace, send an empty batch stamped this many "
                                          "µs later so packet-clock timers downstream fire") * 1000;
    if (config_.snaplen < 64 || config_.snaplen > 262144) {
        throw ParamError(s.param_input().line, "param 'source.snaplen' of block '" + s.id() + "' is " +
                                                   std::to_string(config_.snaplen) + ", expected 64..262144");
    }
    if (batch_size_ < 1 || batch_size_ > PacketBatch::kMaxPackets) {
        throw ParamError(s.param_input().line, "param 'source.batch' of block '" + s.id() +
                                                   "' must be 1..64");
    }
    if (config_.replay_speed < 0) {
        throw ParamError(s.param_input().line, "param 'source.replay' must be 0 or positive");
    }

    out_ = s.output<PacketBatch>("source_out", "every packet read, in batches", {"sniffer_out"});
    capture_ = std::make_unique<capture::PcapCapture>(config_);
    const capture::PcapCapture* cap = capture_.get();
    s.gauge("packets", [cap] { return VarValue{cap->stats().packets}; }, "packets", "packets read");
    s.gauge("bytes", [cap] { return VarValue{cap->stats().bytes}; }, "bytes", "wire bytes read");
    s.gauge("kernel_drops", [cap] { return VarValue{cap->stats().kernel_drops}; }, "packets",
            "live: dropped by the kernel before we read them (pcap_stats ps_drop)");
    s.gauge("if_drops", [cap] { return VarValue{cap->stats().if_drops}; }, "packets",
            "live: dropped by the interface (pcap_stats ps_ifdrop)");
    s.gauge("oversize", [cap] { return VarValue{cap->stats().oversize}; }, "packets",
            "packets longer than 64 KiB, cut to fit a batch");
    s.counter("batches_waited", batches_waited_, "times",
              "times every batch was in flight downstream (the source waited)");
    s.gauge("progress", [cap] { return VarValue{cap->progress()}; }, "fraction",
            "files: how far through the file, 0..1; -1 for live capture");
}

void PcapSource::start() {
    capture_->open();
    pool_ = std::make_unique<BatchPool>(batch_size_, capture_->arena_bytes(batch_size_), max_batches_);
}

Block::RunResult PcapSource::run() {
    PacketBatch* batch = pool_->acquire();
    if (batch == nullptr) {
        batches_waited_.add(1);
        return RunResult::kIdle;
    }
    const auto status = capture_->fill(*batch);
    if (!batch->empty()) {
        const int64_t t = (*batch)[batch->size() - 1].ts_ns;
        batch->set_time_ns(t);
        advance_clock(t);
        emit(out_, *batch);
    }
    batch->release();
    switch (status) {
        case capture::CaptureSource::Status::kOk: return RunResult::kBusy;
        case capture::CaptureSource::Status::kTimeout: return RunResult::kIdle;
        case capture::CaptureSource::Status::kEnd: return RunResult::kDone;
        case capture::CaptureSource::Status::kError:
            report_error("reading '" + config_.name + "' failed after " +
                         std::to_string(capture_->stats().packets) + " packets: " + capture_->error());
            return RunResult::kDone;
    }
    return RunResult::kDone;
}

void PcapSource::flush() {
    if (advance_at_eof_ns_ > 0 && pool_ != nullptr) {
        // An empty batch stamped later carries the advance behind every packet, through every ring,
        // so timers downstream fire after the last packets are in, on every thread.
        PacketBatch* marker = pool_->acquire();
        if (marker == nullptr) {
            return;  // every batch is still downstream (only after a stop); nothing to carry it
        }
        const int64_t t = now_ns() + advance_at_eof_ns_;
        marker->set_time_ns(t);
        advance_clock(t);
        emit(out_, *marker);
        marker->release();
    }
}

std::optional<SourceProgress> PcapSource::progress() const {
    const auto st = capture_->stats();
    return SourceProgress{st.packets, st.bytes, capture_->progress(), st.kernel_drops + st.if_drops, 0};
}

}  // namespace weir::blocks

WEIR_REGISTER_BLOCK(weir::blocks::PcapSource, "PcapSource", weir::Invocation::kAsync,
                    "packets from a live interface or a pcap/pcapng file (libpcap)")
