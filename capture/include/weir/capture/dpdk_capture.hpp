// DPDK backend: a port's receive queues polled with rte_eth_rx_burst; packets stay in their mbufs.
// Each PacketView points into an mbuf and the batch keeps the mbuf as the view's handle; when the
// batch returns to its BatchPool, release_mbufs() gives the whole batch back with one
// rte_pktmbuf_free_bulk. No DPDK header is included here, so DPDK's compile flags
// (-march=corei7, -include rte_config.h) stay inside this library.
//
// The EAL starts once per process (rte_eal_init cannot run twice): the first DPDK source to open
// starts it with its EalConfig; later sources must ask for the same arguments or none. A port is
// configured and started by the first source that opens it, with every queue it will serve, and
// stopped when the last one closes.
#pragma once

#include <weir/capture/source.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace weir::capture {

struct EalConfig {
    std::string cores;               // -l lcore list; empty = the first CPU this process may use
    uint32_t memory_mb = 0;          // -m; 0 = EAL's default
    bool no_huge = false;            // --no-huge: ordinary memory, no hugepages, no root needed
    bool no_pci = false;             // --no-pci: probe no physical devices
    bool no_shconf = false;          // --no-shconf: no runtime files, no multi-process
    std::vector<std::string> vdevs;  // --vdev each (e.g. net_pcap0,rx_pcap=f.pcap)
    std::vector<std::string> allow;  // -a each: PCI allow-list (0000:01:00.0)
    std::string file_prefix;         // --file-prefix
    std::string log_level = "error"; // --log-level
    std::vector<std::string> extra;  // any other EAL arguments, verbatim

    std::vector<std::string> arguments() const;
};

// Starts the EAL unless it runs already. `must_match`: refuse (throw) if it runs with other
// arguments. Every failure is one line: EAL's own reason, a hint, and the arguments used.
void ensure_eal(const EalConfig& cfg, bool must_match);
bool eal_running();

struct DpdkConfig {
    EalConfig eal;
    bool eal_given = false;          // the composition wrote EAL params: they must match
    std::string port = "0";          // device name (net_pcap0, 0000:01:00.0) or port number
    std::string vdev;                // created after EAL start, removed at close ("net_pcap7,rx_pcap=f")
    uint16_t rx_queues = 1;          // queues configured on the port (by whoever opens it first)
    int queue = -1;                  // the queue read here; -1 = every queue, polled in turn
    uint16_t burst = 32;             // packets per rte_eth_rx_burst and per batch (1..64)
    uint16_t rx_desc = 1024;         // receive descriptors per queue
    uint32_t mbufs = 8191;           // mbufs per queue's pool
    uint32_t mbuf_cache = 256;       // per-lcore mempool cache
    uint32_t mbuf_data_room = 2048;  // packet bytes per mbuf (longer packets chain mbufs)
    bool promiscuous = true;
    std::vector<uint8_t> rss_key;    // empty = symmetric_rss_key(device's key size)
    std::string rss_fields = "ip,tcp,udp";  // RSS hash input: ip, tcp, udp, sctp (comma list)
    bool system_timestamps = false;  // false: net_pcap's file time; other devices always system
};

struct DpdkDeviceStats {
    uint64_t imissed = 0;    // dropped by the NIC: no free descriptor (we were too slow)
    uint64_t ierrors = 0;    // erroneous packets received
    uint64_t rx_nombuf = 0;  // receive failures because the mempool was empty
};

// A net_pcap device reading files (rx_pcap=, not infinite_rx=1): finite and replayable. Answers
// from the device arguments alone.
bool is_file_device(const std::string& vdev_args);

class DpdkCapture final : public CaptureSource {
public:
    explicit DpdkCapture(DpdkConfig cfg);
    ~DpdkCapture() override;

    void open() override;
    Status fill(PacketBatch& batch) override;
    bool offline() const override;
    std::size_t arena_bytes(uint32_t) const override { return 0; }
    CaptureStats stats() const override;
    double progress() const override { return -1.0; }
    const std::string& error() const override { return error_; }

    // BatchPool release hook (ctx unused): frees the batch's mbufs in one bulk call.
    static void release_mbufs(PacketBatch& batch, void* ctx) noexcept;
    // Batches that may be in flight at once while every queue keeps its descriptors filled: a
    // full pool then stops reading (the NIC counts imissed) instead of losing read packets.
    std::size_t max_batches() const;

    DpdkDeviceStats device_stats() const;
    // mbufs taken from this source's pools and not yet returned (0 when idle on net_pcap;
    // a NIC holds rx_desc per queue). Any thread.
    uint64_t mbufs_in_use() const;
    uint16_t port_id() const;
    const std::string& driver() const;
    bool rss_active() const;  // the port spreads packets over its queues by RSS
    const std::vector<uint16_t>& queues() const { return queues_; }

    struct Port;  // a started port, shared by the sources reading its queues (defined in the .cpp)

private:
    void update_device_stats();

    DpdkConfig cfg_;
    std::shared_ptr<Port> port_;
    std::vector<uint16_t> queues_;
    std::size_t next_queue_ = 0;
    bool file_device_ = false;
    bool device_time_ = false;   // mbufs carry net_pcap's µs timestamp
    int ts_offset_ = -1;
    uint64_t ts_flag_ = 0;
    uint32_t empty_polls_ = 0;
    uint64_t stats_due_tsc_ = 0;
    uint64_t stats_period_tsc_ = 0;
    std::string error_;

    std::atomic<uint64_t> packets_{0};
    std::atomic<uint64_t> bytes_{0};
    std::atomic<uint64_t> oversize_{0};
    std::atomic<uint64_t> imissed_{0};
    std::atomic<uint64_t> ierrors_{0};
    std::atomic<uint64_t> rx_nombuf_{0};
};

}  // namespace weir::capture
