// DpdkSource — packets from a DPDK port: one receive queue per block (one core each), or every
// queue of the port polled in turn. Zero copies: views point into the mbufs, which go back to
// their pool in bulk when the batch is released.
//
// Invocation: async (a thread of its own).
// Params:
//   port.name        device name (net_pcap0, 0000:01:00.0) or port number (default: the name
//                    of port.vdev, else "0")
//   port.vdev        a virtual device to create once EAL runs and remove at the end, e.g.
//                    "net_pcap0,rx_pcap=f.pcap" (one rx queue per rx_pcap=), "net_null0" (empty = none)
//   port.rx_queues   receive queues to configure on the port (default 1); every block on the
//                    port must say the same (the first to start configures it)
//   port.queue       the queue this block reads, or "all" (default) to poll every queue
//   port.rx_desc     receive descriptors per queue (default 1024)
//   port.promisc     promiscuous mode (default true)
//   rss.key          Toeplitz key in hex (default: 0x6d5a repeated, symmetric: both directions
//                    of a flow reach the same queue); used when rx_queues > 1 and the NIC has RSS
//   rss.fields       hash input: comma list of ip, tcp, udp, sctp (default "ip,tcp,udp")
//   pool.mbufs       mbufs per queue (default 8191)
//   pool.cache       per-lcore mempool cache (default 256)
//   pool.mbuf_size   packet bytes per mbuf (default 2048; longer packets chain mbufs and the
//                    view holds the first, counted as oversize)
//   source.burst     packets per rx burst and per batch, 1..64 (default 32)
//   source.max_batches  batches in flight at most (default 0 = as many as the pool allows
//                    while every descriptor stays filled)
//   source.timestamp auto (net_pcap: the file's time; other devices: system clock per burst)
//                    | system
//   eal.*            how DPDK's EAL starts; it starts once per process, so every DpdkSource
//                    that writes eal params must write the same: eal.cores (-l, default: the
//                    first CPU we may use), eal.memory_mb (-m), eal.no_huge, eal.no_pci,
//                    eal.no_shconf, eal.vdev ("--vdev" each; several separated by ';'),
//                    eal.allow (PCI allow-list, comma separated), eal.file_prefix,
//                    eal.log_level (default error), eal.args (other EAL arguments, space separated)
// Gates: out source_out (alias sniffer_out): PacketBatch (link type Ethernet).
// Variables: packets, bytes (wire bytes read by this block), imissed (dropped by the NIC, port
//   total), ierrors (port total), rx_nombuf (no free mbuf, port total), oversize, batches_waited
//   (times every batch was downstream: the source paused, the NIC counts what it then misses),
//   mbufs_in_use (mbufs of this block's queues not yet returned).
#pragma once

#include <weir/block.hpp>
#include <weir/capture/dpdk_capture.hpp>
#include <weir/packet.hpp>

#include <memory>

namespace weir::blocks {

class DpdkSource final : public Block {
public:
    explicit DpdkSource(BlockSetup& s);
    void start() override;
    RunResult run() override;
    bool offline() const override { return capture_->offline(); }
    std::optional<SourceProgress> progress() const override;

private:
    capture::DpdkConfig config_;
    uint32_t max_batches_ = 0;
    OutputId out_ = 0;
    // Declared before the pool: the pool (and its batches' mbufs) goes first, then the port.
    std::unique_ptr<capture::DpdkCapture> capture_;
    std::unique_ptr<BatchPool> pool_;
    Counter batches_waited_;
};

}  // namespace weir::blocks
