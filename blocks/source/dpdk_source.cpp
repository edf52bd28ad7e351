#include "dpdk_source.hpp"

#include <weir/registry.hpp>

#include <sstream>

namespace weir::blocks {

namespace {

std::vector<std::string> split(const std::string& text, const std::string& separators) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : text) {
        if (separators.find(c) != std::string::npos) {
            if (!cur.empty()) {
                out.push_back(cur);
            }
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) {
        out.push_back(cur);
    }
    return out;
}

bool parse_hex(const std::string& text, std::vector<uint8_t>& out) {
    std::string hex;
    for (char c : text) {
        if (c != ':' && c != ' ') {
            hex += c;
        }
    }
    if (hex.rfind("0x", 0) == 0) {
        hex.erase(0, 2);
    }
    if (hex.size() % 2 != 0) {
        return false;
    }
    out.clear();
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        const auto nibble = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        };
        const int hi = nibble(hex[i]);
        const int lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out.push_back(static_cast<uint8_t>(hi * 16 + lo));
    }
    return true;
}

}  // namespace

DpdkSource::DpdkSource(BlockSetup& s) : Block(s) {
    const int line = s.param_input().line;
    const auto bad = [&](const std::string& what) {
        throw ParamError(line, "block '" + s.id() + "': " + what);
    };
    auto& c = config_;
    c.vdev = s.param<std::string>("port.vdev", "",
                                  "virtual device created once EAL runs and removed at the end "
                                  "(net_pcap0,rx_pcap=FILE or net_null0); empty = none");
    c.port = s.param<std::string>("port.name", "",
                                  "device name (net_pcap0, 0000:01:00.0) or port number; default: "
                                  "port.vdev's name, else 0");
    if (c.port.empty()) {
        c.port = c.vdev.empty() ? "0" : c.vdev.substr(0, c.vdev.find(','));
    }
    const uint32_t rx_queues = s.param<uint32_t>("port.rx_queues", 1, "receive queues configured on the port");
    const std::string queue = s.param<std::string>("port.queue", "all",
                                                   "the queue this block reads, or all (polled in turn)");
    const uint32_t rx_desc = s.param<uint32_t>("port.rx_desc", 1024, "receive descriptors per queue");
    c.promiscuous = s.param<bool>("port.promisc", true, "promiscuous mode");
    const std::string key = s.param<std::string>(
        "rss.key", "", "Toeplitz key in hex; empty = 0x6d5a repeated (symmetric: both directions together)");
    c.rss_fields = s.param<std::string>("rss.fields", "ip,tcp,udp", "RSS hash input: ip, tcp, udp, sctp");
    c.mbufs = s.param<uint32_t>("pool.mbufs", 8191, "mbufs per queue");
    c.mbuf_cache = s.param<uint32_t>("pool.cache", 256, "per-lcore mempool cache");
    c.mbuf_data_room = s.param<uint32_t>("pool.mbuf_size", 2048, "packet bytes per mbuf");
    const uint32_t burst = s.param<uint32_t>("source.burst", 32, "packets per rx burst and per batch (1..64)");
    max_batches_ = s.param<uint32_t>("source.max_batches", 0,
                                     "batches in flight at most; 0 = what the pool allows with every "
                                     "descriptor filled");
    c.system_timestamps = s.choice("source.timestamp", "auto", {"auto", "system"},
                                   "auto: net_pcap gives the file's time, other devices the system "
                                   "clock per burst; system: always the system clock") == "system";

    auto& e = c.eal;
    e.cores = s.param<std::string>("eal.cores", "", "EAL -l lcore list; empty = the first CPU we may use");
    e.memory_mb = s.param<uint32_t>("eal.memory_mb", 0, "EAL -m: memory in MiB (0 = EAL's default)");
    e.no_huge = s.param<bool>("eal.no_huge", false, "--no-huge: ordinary memory, no hugepages or root needed");
    e.no_pci = s.param<bool>("eal.no_pci", false, "--no-pci: probe no physical devices");
    e.no_shconf = s.param<bool>("eal.no_shconf", false, "--no-shconf: no runtime files, no multi-process");
    e.vdevs = split(s.param<std::string>("eal.vdev", "", "--vdev for each of these, separated by ';'"), ";");
    e.allow = split(s.param<std::string>("eal.allow", "", "PCI allow-list (-a each), comma separated"), ", ");
    e.file_prefix = s.param<std::string>("eal.file_prefix", "", "--file-prefix (several DPDK processes)");
    e.log_level = s.param<std::string>("eal.log_level", "error", "--log-level");
    e.extra = split(s.param<std::string>("eal.args", "", "other EAL arguments, space separated"), " \t");
    for (const auto& p : s.param_input().entries) {
        if (p.key.rfind("eal.", 0) == 0) {
            c.eal_given = true;
        }
    }

    if (rx_queues < 1 || rx_queues > 1024) {
        bad("param 'port.rx_queues' is " + std::to_string(rx_queues) + ", expected 1..1024");
    }
    c.rx_queues = static_cast<uint16_t>(rx_queues);
    if (queue != "all") {
        char* end = nullptr;
        const long q = std::strtol(queue.c_str(), &end, 10);
        if (queue.empty() || *end != '\0' || q < 0 || q >= static_cast<long>(rx_queues)) {
            bad("param 'port.queue' is '" + queue + "', expected all or 0.." + std::to_string(rx_queues - 1));
        }
        c.queue = static_cast<int>(q);
    }
    if (rx_desc < 32 || rx_desc > 32768) {
        bad("param 'port.rx_desc' is " + std::to_string(rx_desc) + ", expected 32..32768");
    }
    c.rx_desc = static_cast<uint16_t>(rx_desc);
    if (burst < 1 || burst > PacketBatch::kMaxPackets) {
        bad("param 'source.burst' must be 1..64");
    }
    c.burst = static_cast<uint16_t>(burst);
    if (c.mbuf_data_room < 64 || c.mbuf_data_room > 65000) {
        bad("param 'pool.mbuf_size' is " + std::to_string(c.mbuf_data_room) + ", expected 64..65000");
    }
    if (!key.empty() && !parse_hex(key, c.rss_key)) {
        bad("param 'rss.key' is not hex bytes: '" + key + "'");
    }

    out_ = s.output<PacketBatch>("source_out", "every packet received, in batches", {"sniffer_out"});
    capture_ = std::make_unique<capture::DpdkCapture>(config_);
    const capture::DpdkCapture* cap = capture_.get();
    s.gauge("packets", [cap] { return VarValue{cap->stats().packets}; }, "packets", "packets read by this block");
    s.gauge("bytes", [cap] { return VarValue{cap->stats().bytes}; }, "bytes", "wire bytes read by this block");
    s.gauge("imissed", [cap] { return VarValue{cap->device_stats().imissed}; }, "packets",
            "dropped by the NIC for want of a free descriptor (port total)");
    s.gauge("ierrors", [cap] { return VarValue{cap->device_stats().ierrors}; }, "packets",
            "erroneous packets (port total)");
    s.gauge("rx_nombuf", [cap] { return VarValue{cap->device_stats().rx_nombuf}; }, "packets",
            "receive failures for want of an mbuf (port total)");
    s.gauge("oversize", [cap] { return VarValue{cap->stats().oversize}; }, "packets",
            "packets longer than one mbuf: the view holds the first segment");
    s.counter("batches_waited", batches_waited_, "times",
              "times every batch was in flight downstream (the source paused)");
    s.gauge("mbufs_in_use", [cap] { return VarValue{cap->mbufs_in_use()}; }, "mbufs",
            "mbufs of this block's queues not back in their pool");
}

void DpdkSource::start() {
    capture_->open();
    const std::size_t limit = capture_->max_batches();
    const std::size_t batches = max_batches_ == 0 ? limit : std::min<std::size_t>(max_batches_, limit);
    pool_ = std::make_unique<BatchPool>(config_.burst, 0, batches, &capture::DpdkCapture::release_mbufs, nullptr);
}

Block::RunResult DpdkSource::run() {
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
            report_error("port '" + config_.port + "': " + capture_->error());
            return RunResult::kDone;
    }
    return RunResult::kDone;
}

std::optional<SourceProgress> DpdkSource::progress() const {
    const auto st = capture_->stats();
    const auto dev = capture_->device_stats();  // per port: DPDK has no per-queue drop counters
    return SourceProgress{st.packets, st.bytes, -1.0, dev.imissed + dev.rx_nombuf, dev.ierrors};
}

}  // namespace weir::blocks

WEIR_REGISTER_BLOCK(weir::blocks::DpdkSource, "DpdkSource", weir::Invocation::kAsync,
                    "packets from a DPDK port or one of its RSS queues (zero-copy mbufs)")
