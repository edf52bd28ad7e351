#include <weir/capture/dpdk_capture.hpp>
#include <weir/capture/toeplitz.hpp>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace weir::capture {

namespace {

void bump(std::atomic<uint64_t>& a, uint64_t n) {
    a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) {
        if (!s.empty()) {
            s += ' ';
        }
        s += x;
    }
    return s;
}

bool contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

// The device name of a vdev spec: "net_pcap0,rx_pcap=f" -> "net_pcap0".
std::string vdev_name(const std::string& spec) { return spec.substr(0, spec.find(',')); }

// --- EAL ----------------------------------------------------------------------------------

std::mutex g_eal_mutex;
enum class EalState { kStopped, kRunning, kFailed };
EalState g_eal_state = EalState::kStopped;
std::vector<std::string> g_eal_args;
std::string g_eal_error;

// EAL writes its reasons to stdout and stderr (its log, getopt, the usage text). Run it with each
// pointed at a memory file of its own, so a failure becomes one line and a success stays quiet.
class OutputCapture {
public:
    OutputCapture() {
        std::fflush(stdout);
        std::fflush(stderr);
        for (int i = 0; i < 2; ++i) {
            const int target = i == 0 ? STDOUT_FILENO : STDERR_FILENO;
            mem_[i] = memfd_create("weir-eal-output", MFD_CLOEXEC);
            if (mem_[i] >= 0) {
                saved_[i] = dup(target);
                dup2(mem_[i], target);
            }
        }
    }
    // Restores stdout and stderr; returns what went to stderr, then what went to stdout.
    std::string finish() {
        std::fflush(stdout);
        std::fflush(stderr);
        std::string text[2];
        for (int i = 0; i < 2; ++i) {
            if (mem_[i] < 0) {
                continue;
            }
            dup2(saved_[i], i == 0 ? STDOUT_FILENO : STDERR_FILENO);
            close(saved_[i]);
            lseek(mem_[i], 0, SEEK_SET);
            char buf[4096];
            ssize_t n = 0;
            while ((n = read(mem_[i], buf, sizeof buf)) > 0) {
                text[i].append(buf, static_cast<std::size_t>(n));
            }
            close(mem_[i]);
            mem_[i] = -1;
        }
        return text[1] + text[0];
    }
    ~OutputCapture() { finish(); }

private:
    int mem_[2] = {-1, -1};
    int saved_[2] = {-1, -1};
};

// The most telling line of EAL's output: a FATAL line, then getopt's complaint, then any error.
std::string eal_reason(const std::string& output) {
    std::vector<std::string> lines;
    std::istringstream in(output);
    for (std::string l; std::getline(in, l);) {
        while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) {
            l.pop_back();
        }
        if (!l.empty()) {
            lines.push_back(l);
        }
    }
    const auto first = [&](std::initializer_list<const char*> keys) -> std::string {
        for (const auto& l : lines) {
            for (const char* k : keys) {
                if (contains(l, k)) {
                    return l;
                }
            }
        }
        return {};
    };
    for (auto keys : {std::initializer_list<const char*>{"unrecognized option", "invalid option",
                                                         "requires an argument", "not compatible"},
                      {"FATAL"},
                      {"Error", "error", "Invalid", "invalid", "Cannot", "cannot", "No free", "failed"}}) {
        if (std::string l = first(keys); !l.empty()) {
            return l;
        }
    }
    return lines.empty() ? std::string("no reason given") : lines.back();
}

}  // namespace

std::vector<std::string> EalConfig::arguments() const {
    std::vector<std::string> a;
    if (!cores.empty()) {
        a.insert(a.end(), {"-l", cores});
    }
    if (memory_mb > 0) {
        a.insert(a.end(), {"-m", std::to_string(memory_mb)});
    }
    if (no_huge) {
        a.emplace_back("--no-huge");
    }
    if (no_pci) {
        a.emplace_back("--no-pci");
    }
    if (no_shconf) {
        a.emplace_back("--no-shconf");
    }
    for (const auto& v : vdevs) {
        a.push_back("--vdev=" + v);
    }
    for (const auto& d : allow) {
        a.insert(a.end(), {"-a", d});
    }
    if (!file_prefix.empty()) {
        a.push_back("--file-prefix=" + file_prefix);
    }
    if (!log_level.empty()) {
        a.push_back("--log-level=" + log_level);
    }
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

bool eal_running() {
    std::lock_guard<std::mutex> lock(g_eal_mutex);
    return g_eal_state == EalState::kRunning;
}

void ensure_eal(const EalConfig& cfg, bool must_match) {
    std::lock_guard<std::mutex> lock(g_eal_mutex);
    std::vector<std::string> args = cfg.arguments();
    if (g_eal_state == EalState::kRunning) {
        if (must_match && args != g_eal_args) {
            throw std::runtime_error("DPDK's EAL already runs with '" + join(g_eal_args) +
                                     "' and starts once per process; give every DpdkSource the same "
                                     "eal params (or none): this one asks for '" + join(args) + "'");
        }
        return;
    }
    if (g_eal_state == EalState::kFailed) {
        throw std::runtime_error(g_eal_error);
    }
    // The main lcore: the first CPU we may run on, unless the composition chose.
    cpu_set_t affinity;
    CPU_ZERO(&affinity);
    const bool have_affinity = pthread_getaffinity_np(pthread_self(), sizeof affinity, &affinity) == 0;
    std::vector<std::string> argv_text = {"weir"};
    if (cfg.cores.empty() && have_affinity) {
        for (int c = 0; c < CPU_SETSIZE; ++c) {
            if (CPU_ISSET(c, &affinity)) {
                argv_text.insert(argv_text.end(), {"-l", std::to_string(c)});
                break;
            }
        }
    }
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    // EAL may keep pointers into argv, and getopt permutes it: give it copies that live forever.
    static std::vector<std::unique_ptr<char[]>> kept;
    std::vector<char*> argv;
    for (const auto& s : argv_text) {
        kept.push_back(std::make_unique<char[]>(s.size() + 1));
        std::memcpy(kept.back().get(), s.c_str(), s.size() + 1);
        argv.push_back(kept.back().get());
    }
    argv.push_back(nullptr);

    OutputCapture capture;
    const int rc = rte_eal_init(static_cast<int>(argv.size() - 1), argv.data());
    const int err = rte_errno;
    const std::string output = capture.finish();
    // EAL pins the calling thread to its main lcore, and threads started later would inherit
    // that: give the engine back the CPUs it had (its thread pools pin themselves).
    if (have_affinity) {
        pthread_setaffinity_np(pthread_self(), sizeof affinity, &affinity);
    }
    if (rc < 0) {
        std::string reason = eal_reason(output);
        std::string msg = "DPDK EAL failed to start (" + std::string(rte_strerror(err)) + "): " + reason;
        if (contains(reason, "hugepage")) {
            msg += "; no usable hugepages (none reserved, or no permission): set "
                   "<eal no_huge=\"true\" memory_mb=\"512\"/> or reserve hugepages";
        } else if (err == EACCES || err == EPERM) {
            msg += "; this needs root, or <eal no_huge=\"true\"/> for virtual devices";
        }
        msg += " [EAL arguments: " + join(std::vector<std::string>(argv_text.begin() + 1, argv_text.end())) + "]";
        g_eal_state = EalState::kFailed;
        g_eal_error = msg;
        throw std::runtime_error(msg);
    }
    if (!output.empty()) {
        std::fputs(output.c_str(), stderr);  // warnings at the chosen log level
    }
    // DPDK's later log lines go to stderr, not into the engine's stdout summary.
    rte_openlog_stream(stderr);
    g_eal_state = EalState::kRunning;
    g_eal_args = std::move(args);
}

bool is_file_device(const std::string& vdev_args) {
    return vdev_args.rfind("net_pcap", 0) == 0 && contains(vdev_args, "rx_pcap=") &&
           !contains(vdev_args, "infinite_rx=1");
}

// --- ports --------------------------------------------------------------------------------

// One started port, shared by the sources that read its queues.
struct DpdkCapture::Port {
    uint16_t id = 0;
    std::string name;
    std::string created_vdev;  // removed when the port closes
    std::string driver;
    uint16_t rx_queues = 0;
    bool rss = false;
    std::vector<rte_mempool*> pools;  // one per queue

    ~Port() {
        rte_eth_dev_stop(id);
        rte_eth_dev_close(id);  // gives the descriptors' mbufs back to the pools
        if (!created_vdev.empty()) {
            rte_vdev_uninit(created_vdev.c_str());
        }
        for (rte_mempool* p : pools) {
            rte_mempool_free(p);
        }
    }
};

namespace {

std::mutex g_ports_mutex;
std::map<uint16_t, std::weak_ptr<DpdkCapture::Port>>& open_ports() {
    static std::map<uint16_t, std::weak_ptr<DpdkCapture::Port>> ports;
    return ports;
}

std::string port_names() {
    std::string s;
    uint16_t p = 0;
    RTE_ETH_FOREACH_DEV(p) {
        char name[RTE_ETH_NAME_MAX_LEN] = {0};
        rte_eth_dev_get_name_by_port(p, name);
        s += (s.empty() ? "" : ", ") + std::to_string(p) + "=" + name;
    }
    return s.empty() ? "none" : s;
}

uint64_t rss_fields(const std::string& text) {
    uint64_t hf = 0;
    std::string item;
    std::istringstream in(text);
    while (std::getline(in, item, ',')) {
        item.erase(std::remove(item.begin(), item.end(), ' '), item.end());
        if (item == "ip") {
            hf |= RTE_ETH_RSS_IP;
        } else if (item == "tcp") {
            hf |= RTE_ETH_RSS_TCP;
        } else if (item == "udp") {
            hf |= RTE_ETH_RSS_UDP;
        } else if (item == "sctp") {
            hf |= RTE_ETH_RSS_SCTP;
        } else if (!item.empty()) {
            throw std::runtime_error("unknown RSS field '" + item + "' (expected ip, tcp, udp, sctp)");
        }
    }
    return hf;
}

}  // namespace

DpdkCapture::DpdkCapture(DpdkConfig cfg) : cfg_(std::move(cfg)) {
    file_device_ = is_file_device(cfg_.vdev);
    for (const auto& v : cfg_.eal.vdevs) {
        if (vdev_name(v) == cfg_.port && is_file_device(v)) {
            file_device_ = true;
        }
    }
}

DpdkCapture::~DpdkCapture() {
    std::lock_guard<std::mutex> lock(g_ports_mutex);
    port_.reset();  // the last source on a port stops and closes it
}

bool DpdkCapture::offline() const { return file_device_; }

void DpdkCapture::open() {
    ensure_eal(cfg_.eal, cfg_.eal_given);
    std::lock_guard<std::mutex> lock(g_ports_mutex);
    uint16_t id = 0;
    const bool numeric = !cfg_.port.empty() && std::all_of(cfg_.port.begin(), cfg_.port.end(), ::isdigit);
    bool found = numeric ? rte_eth_dev_is_valid_port(static_cast<uint16_t>(std::stoul(cfg_.port))) != 0
                         : rte_eth_dev_get_port_by_name(cfg_.port.c_str(), &id) == 0;
    if (numeric && found) {
        id = static_cast<uint16_t>(std::stoul(cfg_.port));
    }
    std::string created;
    if (!found && !cfg_.vdev.empty()) {
        const std::string name = vdev_name(cfg_.vdev);
        const std::string args = cfg_.vdev.size() > name.size() ? cfg_.vdev.substr(name.size() + 1) : "";
        OutputCapture quiet;
        const int rc = rte_vdev_init(name.c_str(), args.c_str());
        const std::string output = quiet.finish();
        if (rc != 0) {
            throw std::runtime_error("cannot create DPDK device '" + cfg_.vdev + "': " + eal_reason(output));
        }
        created = name;
        found = rte_eth_dev_get_port_by_name(name.c_str(), &id) == 0;
    }
    if (!found) {
        throw std::runtime_error("no DPDK port '" + cfg_.port + "' (ports: " + port_names() +
                                 "); bind the NIC to a DPDK driver and allow it, or create a virtual "
                                 "device with <port vdev=\"net_pcap0,rx_pcap=FILE\"/>");
    }

    if (auto it = open_ports().find(id); it != open_ports().end()) {
        port_ = it->second.lock();
    }
    if (port_ != nullptr) {
        if (port_->rx_queues != cfg_.rx_queues) {
            throw std::runtime_error("port '" + cfg_.port + "' is already open with " +
                                     std::to_string(port_->rx_queues) + " rx queues, not " +
                                     std::to_string(cfg_.rx_queues));
        }
    } else {
        auto port = std::make_shared<Port>();
        port->id = id;
        port->name = cfg_.port;
        port->created_vdev = created;
        port->rx_queues = cfg_.rx_queues;
        rte_eth_dev_info info{};
        if (const int rc = rte_eth_dev_info_get(id, &info); rc != 0) {
            throw std::runtime_error("cannot query port '" + cfg_.port + "': " + rte_strerror(-rc));
        }
        port->driver = info.driver_name != nullptr ? info.driver_name : "";
        if (cfg_.rx_queues < 1 || cfg_.rx_queues > info.max_rx_queues) {
            throw std::runtime_error("port '" + cfg_.port + "' (" + port->driver + ") has " +
                                     std::to_string(info.max_rx_queues) + " rx queues, " +
                                     std::to_string(cfg_.rx_queues) +
                                     " asked (net_pcap: one per rx_pcap= argument)");
        }
        rte_eth_conf conf{};
        std::vector<uint8_t> key = cfg_.rss_key;
        if (cfg_.rx_queues > 1 && info.flow_type_rss_offloads != 0) {
            const std::size_t key_size = info.hash_key_size != 0 ? info.hash_key_size : 40;
            if (key.empty()) {
                key = symmetric_rss_key(key_size);
            }
            if (key.size() != key_size) {
                throw std::runtime_error("port '" + cfg_.port + "' wants an RSS key of " +
                                         std::to_string(key_size) + " bytes, got " + std::to_string(key.size()));
            }
            conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_key = key.data();
            conf.rx_adv_conf.rss_conf.rss_key_len = static_cast<uint8_t>(key.size());
            conf.rx_adv_conf.rss_conf.rss_hf = rss_fields(cfg_.rss_fields) & info.flow_type_rss_offloads;
            port->rss = conf.rx_adv_conf.rss_conf.rss_hf != 0;
        } else {
            rss_fields(cfg_.rss_fields);  // still refuse a misspelt field
        }
        const uint16_t tx_queues = info.max_tx_queues > 0 ? 1 : 0;
        if (const int rc = rte_eth_dev_configure(id, cfg_.rx_queues, tx_queues, &conf); rc != 0) {
            throw std::runtime_error("cannot configure port '" + cfg_.port + "': " + rte_strerror(-rc));
        }
        uint16_t rx_desc = cfg_.rx_desc;
        uint16_t tx_desc = 512;
        rte_eth_dev_adjust_nb_rx_tx_desc(id, &rx_desc, &tx_desc);
        const int socket_id = rte_eth_dev_socket_id(id);
        const int socket = socket_id < 0 ? SOCKET_ID_ANY : socket_id;
        static unsigned pool_serial = 0;
        for (uint16_t q = 0; q < cfg_.rx_queues; ++q) {
            char pool_name[RTE_MEMPOOL_NAMESIZE];
            std::snprintf(pool_name, sizeof pool_name, "weir_%u_%u_%u", unsigned{id}, unsigned{q}, pool_serial++);
            const uint32_t cache = std::min<uint32_t>({cfg_.mbuf_cache, RTE_MEMPOOL_CACHE_MAX_SIZE,
                                                       cfg_.mbufs / 2});
            rte_mempool* mp = rte_pktmbuf_pool_create(pool_name, cfg_.mbufs, cache, 0,
                                                      static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + cfg_.mbuf_data_room),
                                                      socket);
            if (mp == nullptr) {
                throw std::runtime_error("cannot create a pool of " + std::to_string(cfg_.mbufs) +
                                         " mbufs for port '" + cfg_.port + "': " + rte_strerror(rte_errno) +
                                         " (raise eal memory_mb or lower pool mbufs)");
            }
            port->pools.push_back(mp);
            if (const int rc = rte_eth_rx_queue_setup(id, q, rx_desc, static_cast<unsigned>(socket), nullptr, mp);
                rc != 0) {
                throw std::runtime_error("cannot set up rx queue " + std::to_string(q) + " of port '" +
                                         cfg_.port + "': " + rte_strerror(-rc));
            }
        }
        if (tx_queues > 0) {
            if (const int rc = rte_eth_tx_queue_setup(id, 0, tx_desc, static_cast<unsigned>(socket), nullptr); rc != 0) {
                throw std::runtime_error("cannot set up the tx queue of port '" + cfg_.port + "': " + rte_strerror(-rc));
            }
        }
        if (const int rc = rte_eth_dev_start(id); rc != 0) {
            throw std::runtime_error("cannot start port '" + cfg_.port + "': " + rte_strerror(-rc));
        }
        if (cfg_.promiscuous) {
            rte_eth_promiscuous_enable(id);  // virtual devices may not support it: harmless
        }
        port_ = port;
        open_ports()[id] = port;
    }
    if (cfg_.queue >= 0) {
        if (cfg_.queue >= port_->rx_queues) {
            throw std::runtime_error("port '" + cfg_.port + "' has " + std::to_string(port_->rx_queues) +
                                     " rx queues: no queue " + std::to_string(cfg_.queue));
        }
        queues_ = {static_cast<uint16_t>(cfg_.queue)};
    } else {
        for (uint16_t q = 0; q < port_->rx_queues; ++q) {
            queues_.push_back(q);
        }
    }
    uint32_t needed = cfg_.rx_desc + 2U * cfg_.burst;
    if (cfg_.mbufs < needed) {
        throw std::runtime_error("pool mbufs=" + std::to_string(cfg_.mbufs) + " is too small: a queue needs rx_desc + "
                                 "two bursts = " + std::to_string(needed));
    }
    // net_pcap stamps each mbuf with the file's time in µs; other drivers' clocks are their own.
    ts_offset_ = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, nullptr);
    const int flag_bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, nullptr);
    ts_flag_ = flag_bit >= 0 ? (uint64_t{1} << flag_bit) : 0;
    device_time_ = !cfg_.system_timestamps && port_->driver == "net_pcap" && ts_offset_ >= 0 && ts_flag_ != 0;
    stats_period_tsc_ = rte_get_tsc_hz() / 100;  // device counters every 10 ms
}

std::size_t DpdkCapture::max_batches() const {
    // The pool must keep every descriptor filled plus what lcore caches may hold (the main
    // lcore's, where the engine's main thread frees).
    const uint32_t cache = std::min<uint32_t>(cfg_.mbuf_cache, RTE_MEMPOOL_CACHE_MAX_SIZE);
    const int64_t spare = static_cast<int64_t>(cfg_.mbufs) - cfg_.rx_desc - 2 * static_cast<int64_t>(cache) - cfg_.burst;
    return static_cast<std::size_t>(std::max<int64_t>(spare / std::max<uint16_t>(cfg_.burst, 1), 2));
}

void DpdkCapture::release_mbufs(PacketBatch& batch, void*) noexcept {
    const uint32_t n = batch.size();
    if (n == 0) {
        return;
    }
    rte_mbuf* mbufs[PacketBatch::kMaxPackets];
    for (uint32_t i = 0; i < n; ++i) {
        mbufs[i] = static_cast<rte_mbuf*>(batch.handle(i));
    }
    rte_pktmbuf_free_bulk(mbufs, n);
}

CaptureSource::Status DpdkCapture::fill(PacketBatch& batch) {
    rte_mbuf* mbufs[PacketBatch::kMaxPackets];
    uint32_t want = std::min<uint32_t>(cfg_.burst, batch.capacity() - batch.size());
    uint64_t pkts = 0;
    uint64_t bytes = 0;
    uint64_t cut = 0;
    const std::size_t nq = queues_.size();
    for (std::size_t k = 0; k < nq && want > 0; ++k) {
        const uint16_t q = queues_[next_queue_];
        next_queue_ = next_queue_ + 1 == nq ? 0 : next_queue_ + 1;
        const uint16_t n = rte_eth_rx_burst(port_->id, q, mbufs, static_cast<uint16_t>(want));
        if (n == 0) {
            continue;
        }
        int64_t now = 0;
        if (!device_time_) {
            timespec ts{};
            clock_gettime(CLOCK_REALTIME, &ts);  // vDSO, once per burst
            now = static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
        }
        for (uint16_t i = 0; i < n; ++i) {
            rte_mbuf* m = mbufs[i];
            PacketView& v = batch.append(m);
            v.data = rte_pktmbuf_mtod(m, const uint8_t*);
            v.caplen = m->data_len;  // the first segment: longer packets count as oversize
            v.wirelen = m->pkt_len;
            v.linktype = 1;  // DLT_EN10MB
            v.ts_ns = device_time_ && (m->ol_flags & ts_flag_) != 0
                          ? static_cast<int64_t>(*RTE_MBUF_DYNFIELD(m, ts_offset_, const uint64_t*)) * 1000
                          : now;
            cut += m->nb_segs > 1 ? 1 : 0;
            bytes += m->pkt_len;
        }
        pkts += n;
        want -= n;
    }
    if (pkts > 0) {
        bump(packets_, pkts);
        bump(bytes_, bytes);
        if (cut > 0) {
            bump(oversize_, cut);
        }
        empty_polls_ = 0;
    }
    const uint64_t now_tsc = rte_get_tsc_cycles();
    if (now_tsc >= stats_due_tsc_) {
        stats_due_tsc_ = now_tsc + stats_period_tsc_;
        update_device_stats();
    }
    if (pkts > 0) {
        return Status::kOk;
    }
    // net_pcap returns nothing only at the end of its files (the batch limit keeps mbufs free).
    if (file_device_ && ++empty_polls_ >= 16) {
        update_device_stats();
        if (rx_nombuf_.load(std::memory_order_relaxed) > 0 || ierrors_.load(std::memory_order_relaxed) > 0) {
            error_ = "the device could not deliver every packet: ierrors=" + std::to_string(ierrors_.load()) +
                     " (net_pcap: a damaged or truncated file), rx_nombuf=" + std::to_string(rx_nombuf_.load());
            return Status::kError;
        }
        return Status::kEnd;
    }
    return Status::kTimeout;
}

void DpdkCapture::update_device_stats() {
    rte_eth_stats st{};
    if (rte_eth_stats_get(port_->id, &st) == 0) {
        imissed_.store(st.imissed, std::memory_order_relaxed);
        ierrors_.store(st.ierrors, std::memory_order_relaxed);
        rx_nombuf_.store(st.rx_nombuf, std::memory_order_relaxed);
    }
}

DpdkDeviceStats DpdkCapture::device_stats() const {
    return {imissed_.load(std::memory_order_relaxed), ierrors_.load(std::memory_order_relaxed),
            rx_nombuf_.load(std::memory_order_relaxed)};
}

CaptureStats DpdkCapture::stats() const {
    CaptureStats s;
    s.packets = packets_.load(std::memory_order_relaxed);
    s.bytes = bytes_.load(std::memory_order_relaxed);
    s.if_drops = imissed_.load(std::memory_order_relaxed);
    s.kernel_drops = rx_nombuf_.load(std::memory_order_relaxed);
    s.oversize = oversize_.load(std::memory_order_relaxed);
    return s;
}

uint64_t DpdkCapture::mbufs_in_use() const {
    if (port_ == nullptr) {
        return 0;
    }
    uint64_t n = 0;
    for (uint16_t q : queues_) {
        n += rte_mempool_in_use_count(port_->pools[q]);
    }
    return n;
}

uint16_t DpdkCapture::port_id() const { return port_ != nullptr ? port_->id : 0; }

const std::string& DpdkCapture::driver() const {
    static const std::string none;
    return port_ != nullptr ? port_->driver : none;
}

bool DpdkCapture::rss_active() const { return port_ != nullptr && port_->rss; }

}  // namespace weir::capture
