// libpcap backend: live interfaces and capture files (classic pcap, nanosecond pcap, pcapng; any
// link type libpcap reads). libpcap reuses its buffer on every read, so each packet is copied
// once into the batch's arena; from there on it moves through the graph without copies.
#pragma once

#include <weir/capture/source.hpp>

#include <pcap/pcap.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace weir::capture {

struct PcapConfig {
    enum class Kind { kLive, kFile };
    Kind kind = Kind::kFile;
    std::string name;            // interface or file
    int snaplen = 65535;         // live only; files keep their own
    bool promiscuous = true;     // live only
    int timeout_ms = 10;         // live only: how long a read may wait
    int buffer_mb = 64;          // live only: kernel buffer
    std::string bpf_filter;      // empty = everything
    double replay_speed = 0.0;   // files: 0 = as fast as possible, 1 = recorded speed, 2 = twice
    // Files: read classic pcap files through a read-only memory map, without copies (libpcap
    // still reads pcapng, pipes and every other format). Off = always libpcap.
    bool mmap_files = true;
};

class PcapCapture final : public CaptureSource {
public:
    explicit PcapCapture(PcapConfig cfg);
    ~PcapCapture() override;

    void open() override;
    Status fill(PacketBatch& batch) override;
    bool offline() const override { return cfg_.kind == PcapConfig::Kind::kFile; }
    std::size_t arena_bytes(uint32_t batch_size) const override;
    CaptureStats stats() const override;
    double progress() const override { return progress_.load(std::memory_order_relaxed); }
    const std::string& error() const override { return error_; }

    int linktype() const { return linktype_; }
    // Whether the zero-copy file reader is in use (after open()).
    bool zero_copy() const { return map_ != nullptr; }

private:
    bool open_mapped();
    Status fill_mapped(PacketBatch& batch);

    // Replay: sleeps at most 100 ms towards the packet's due time; true once it is due.
    bool wait_for_replay(int64_t ts_ns);
    void update_progress();

    PcapConfig cfg_;
    pcap_t* pcap_ = nullptr;
    int linktype_ = 0;
    bool nano_ = false;
    int snaplen_ = 0;
    int selectable_fd_ = -1;  // live: polled with a timeout between non-blocking reads
    std::string error_;
    long file_size_ = 0;
    uint32_t batches_since_progress_ = 0;
    // A packet read that did not fit the previous batch's arena.
    std::vector<uint8_t> pending_;
    pcap_pkthdr pending_hdr_{};
    bool has_pending_ = false;
    // Zero-copy reader state.
    const uint8_t* map_ = nullptr;
    std::size_t map_size_ = 0;
    std::size_t map_pos_ = 0;
    bool map_swapped_ = false;
    std::size_t map_dropped_ = 0;  // pages before this offset were handed back to the kernel
    bpf_program filter_{};
    bool has_filter_ = false;

    int64_t replay_first_ts_ = -1;
    int64_t replay_wall_start_ = 0;

    std::atomic<uint64_t> packets_{0};
    std::atomic<uint64_t> bytes_{0};
    std::atomic<uint64_t> oversize_{0};
    std::atomic<uint64_t> kernel_drops_{0};
    std::atomic<uint64_t> if_drops_{0};
    std::atomic<double> progress_{-1.0};
};

}  // namespace weir::capture
