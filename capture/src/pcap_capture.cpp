#include <weir/capture/pcap_capture.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace weir::capture {

namespace {

void bump(std::atomic<uint64_t>& a, uint64_t n) {
    a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

int64_t wall_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Packets longer than this are cut to fit a batch arena (counted as oversize).
constexpr std::size_t kMaxCopy = 65536;

}  // namespace

PcapCapture::PcapCapture(PcapConfig cfg) : cfg_(std::move(cfg)) {}

PcapCapture::~PcapCapture() {
    if (map_ != nullptr) {
        munmap(const_cast<uint8_t*>(map_), map_size_);
    }
    if (has_filter_) {
        pcap_freecode(&filter_);
    }
    if (pcap_ != nullptr) {
        pcap_close(pcap_);
    }
}

void PcapCapture::open() {
    char err[PCAP_ERRBUF_SIZE] = {0};
    if (cfg_.kind == PcapConfig::Kind::kFile) {
        pcap_ = pcap_open_offline_with_tstamp_precision(cfg_.name.c_str(),
                                                        PCAP_TSTAMP_PRECISION_NANO, err);
        if (pcap_ == nullptr) {
            throw std::runtime_error("cannot read capture file '" + cfg_.name + "': " + err);
        }
        nano_ = true;
        struct stat st{};
        if (::stat(cfg_.name.c_str(), &st) == 0) {
            file_size_ = st.st_size;
        }
        progress_.store(0.0);
    } else {
        pcap_ = pcap_create(cfg_.name.c_str(), err);
        if (pcap_ == nullptr) {
            throw std::runtime_error("cannot open interface '" + cfg_.name + "': " + err);
        }
        pcap_set_snaplen(pcap_, cfg_.snaplen);
        pcap_set_promisc(pcap_, cfg_.promiscuous ? 1 : 0);
        pcap_set_timeout(pcap_, cfg_.timeout_ms);
        pcap_set_buffer_size(pcap_, cfg_.buffer_mb * 1024 * 1024);
        nano_ = pcap_set_tstamp_precision(pcap_, PCAP_TSTAMP_PRECISION_NANO) == 0;
        const int rc = pcap_activate(pcap_);
        if (rc < 0) {
            std::string why = pcap_geterr(pcap_);
            if (rc == PCAP_ERROR_PERM_DENIED) {
                why += " (live capture needs root or CAP_NET_RAW)";
            } else if (rc == PCAP_ERROR_NO_SUCH_DEVICE) {
                why = "no such interface";
            }
            pcap_close(pcap_);
            pcap_ = nullptr;
            throw std::runtime_error("cannot capture on '" + cfg_.name + "': " + why);
        }
        nano_ = pcap_get_tstamp_precision(pcap_) == PCAP_TSTAMP_PRECISION_NANO;
        // Non-blocking reads plus our own poll() with a timeout: with TPACKET_V3 a blocking read
        // can sleep forever on an idle link, and the engine must be able to stop the source.
        if (pcap_setnonblock(pcap_, 1, err) != 0) {
            throw std::runtime_error(std::string("cannot make the capture non-blocking: ") + err);
        }
        selectable_fd_ = pcap_get_selectable_fd(pcap_);
    }
    linktype_ = pcap_datalink(pcap_);
    snaplen_ = pcap_snapshot(pcap_);
    if (cfg_.kind == PcapConfig::Kind::kFile && cfg_.mmap_files) {
        open_mapped();
    }
    if (!cfg_.bpf_filter.empty()) {
        if (pcap_compile(pcap_, &filter_, cfg_.bpf_filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
            throw std::runtime_error("bad BPF filter '" + cfg_.bpf_filter + "': " + pcap_geterr(pcap_));
        }
        has_filter_ = true;
        // The mapped reader applies the program itself (pcap_offline_filter).
        if (map_ == nullptr && pcap_setfilter(pcap_, &filter_) != 0) {
            throw std::runtime_error("cannot set BPF filter: " + std::string(pcap_geterr(pcap_)));
        }
    }
}

bool PcapCapture::open_mapped() {
    const int fd = ::open(cfg_.name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    struct stat st{};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 24) {
        ::close(fd);
        return false;
    }
    void* m = mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) {
        return false;
    }
    uint32_t magic = 0;
    std::memcpy(&magic, m, 4);
    switch (magic) {
        case 0xa1b2c3d4: map_swapped_ = false; nano_ = false; break;
        case 0xd4c3b2a1: map_swapped_ = true; nano_ = false; break;
        case 0xa1b23c4d: map_swapped_ = false; nano_ = true; break;
        case 0x4d3cb2a1: map_swapped_ = true; nano_ = true; break;
        default:  // pcapng and the rarer formats stay with libpcap
            munmap(m, static_cast<std::size_t>(st.st_size));
            nano_ = true;
            return false;
    }
    // Only what needs no fix-ups: version 2.4 headers (older ones swap caplen and len), and for
    // byte-swapped files only link types whose headers libpcap would not rewrite in place.
    uint16_t version[2];
    std::memcpy(version, static_cast<const uint8_t*>(m) + 4, sizeof version);
    if (map_swapped_) {
        version[0] = __builtin_bswap16(version[0]);
        version[1] = __builtin_bswap16(version[1]);
    }
    static constexpr int kPlainLinkTypes[] = {0, 1, 12, 14, 101, 108, 113, 228, 229, 276};
    const bool plain = std::find(std::begin(kPlainLinkTypes), std::end(kPlainLinkTypes), linktype_) !=
                       std::end(kPlainLinkTypes);
    if (version[0] != 2 || version[1] < 4 || (map_swapped_ && !plain)) {
        munmap(m, static_cast<std::size_t>(st.st_size));
        nano_ = true;
        return false;
    }
    madvise(m, static_cast<std::size_t>(st.st_size), MADV_SEQUENTIAL);
    map_ = static_cast<const uint8_t*>(m);
    map_size_ = static_cast<std::size_t>(st.st_size);
    map_pos_ = 24;
    return true;
}

CaptureSource::Status PcapCapture::fill_mapped(PacketBatch& batch) {
    // libpcap's limits, so both readers accept and refuse the same files.
    constexpr uint32_t kMaxSnaplen = 262144;
    const uint32_t snapshot = snaplen_ > 0 ? static_cast<uint32_t>(snaplen_) : kMaxSnaplen;
    uint64_t pkts = 0;
    uint64_t bytes = 0;
    Status status = Status::kOk;
    while (!batch.full()) {
        const std::size_t left = map_size_ - map_pos_;
        if (left == 0) {
            status = Status::kEnd;
            break;
        }
        if (left < 16) {
            error_ = "truncated dump file; tried to read 16 header bytes, only got " + std::to_string(left);
            status = Status::kError;
            break;
        }
        uint32_t h[4];
        std::memcpy(h, map_ + map_pos_, sizeof h);
        if (map_swapped_) {
            for (auto& x : h) {
                x = __builtin_bswap32(x);
            }
        }
        const uint32_t caplen = h[2];
        const uint32_t wirelen = h[3];
        if (caplen > kMaxSnaplen) {
            error_ = "invalid packet capture length " + std::to_string(caplen) +
                     ", bigger than snaplen of " + std::to_string(snapshot);
            status = Status::kError;
            break;
        }
        if (left - 16 < caplen) {
            error_ = "truncated dump file; tried to read " + std::to_string(caplen) +
                     " captured bytes, only got " + std::to_string(left - 16);
            status = Status::kError;
            break;
        }
        const int64_t ts = static_cast<int64_t>(h[0]) * 1'000'000'000 +
                           static_cast<int64_t>(h[1]) * (nano_ ? 1 : 1000);
        if (cfg_.replay_speed > 0) {
            if (!batch.empty()) {
                break;  // the packets already in the batch leave now; this one waits its turn
            }
            if (!wait_for_replay(ts)) {
                status = Status::kTimeout;  // not due yet: read again on the next call
                break;
            }
        }
        const uint8_t* data = map_ + map_pos_ + 16;
        map_pos_ += 16 + static_cast<std::size_t>(caplen);
        const uint32_t seen = std::min(caplen, snapshot);
        if (has_filter_) {
            pcap_pkthdr ph{};
            ph.caplen = seen;
            ph.len = wirelen;
            if (pcap_offline_filter(&filter_, &ph, data) == 0) {
                continue;
            }
        }
        PacketView& v = batch.append();
        v.data = data;
        v.caplen = seen;
        v.wirelen = wirelen;
        v.ts_ns = ts;
        v.linktype = static_cast<uint16_t>(linktype_);
        ++pkts;
        bytes += wirelen;
    }
    bump(packets_, pkts);
    bump(bytes_, bytes);
    progress_.store(static_cast<double>(map_pos_) / static_cast<double>(map_size_), std::memory_order_relaxed);
    // Keep the resident set small on huge files: drop mapped pages far behind the read position.
    // Safe even if a slow block still reads them: a private read-only mapping re-faults from the file.
    constexpr std::size_t kLag = std::size_t{64} << 20;
    if (map_pos_ > map_dropped_ + 2 * kLag) {
        const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
        const std::size_t upto = ((map_pos_ - kLag) / page) * page;
        madvise(const_cast<uint8_t*>(map_) + map_dropped_, upto - map_dropped_, MADV_DONTNEED);
        map_dropped_ = upto;
    }
    return status;
}

std::size_t PcapCapture::arena_bytes(uint32_t batch_size) const {
    if (map_ != nullptr) {
        return 0;  // views point into the mapped file
    }
    const std::size_t per_batch = static_cast<std::size_t>(batch_size) * 2048;
    const std::size_t one = std::min<std::size_t>(static_cast<std::size_t>(std::max(snaplen_, 0)), kMaxCopy) + 8;
    return std::max(per_batch, one);
}

bool PcapCapture::wait_for_replay(int64_t ts_ns) {
    if (replay_first_ts_ < 0) {
        replay_first_ts_ = ts_ns;
        replay_wall_start_ = wall_ns();
        return true;
    }
    const auto due = replay_wall_start_ +
                     static_cast<int64_t>(static_cast<double>(ts_ns - replay_first_ts_) / cfg_.replay_speed);
    const int64_t wait = due - wall_ns();
    if (wait <= 0) {
        return true;
    }
    // Long gaps in a trace are slept in slices, so the caller returns to the engine in between
    // and a stop request is noticed.
    const int64_t slice = std::min<int64_t>(wait, 100'000'000);
    timespec ts{static_cast<time_t>(slice / 1'000'000'000), static_cast<long>(slice % 1'000'000'000)};
    nanosleep(&ts, nullptr);
    return slice == wait;
}

void PcapCapture::update_progress() {
    if (cfg_.kind == PcapConfig::Kind::kFile) {
        if (FILE* f = pcap_file(pcap_); f != nullptr && file_size_ > 0) {
            const long pos = std::ftell(f);
            if (pos >= 0) {
                progress_.store(std::min(1.0, static_cast<double>(pos) / static_cast<double>(file_size_)),
                                std::memory_order_relaxed);
            }
        }
    } else {
        pcap_stat st{};
        if (pcap_stats(pcap_, &st) == 0) {
            kernel_drops_.store(st.ps_drop, std::memory_order_relaxed);
            if_drops_.store(st.ps_ifdrop, std::memory_order_relaxed);
        }
    }
}

CaptureSource::Status PcapCapture::fill(PacketBatch& batch) {
    if (map_ != nullptr) {
        return fill_mapped(batch);
    }
    if (++batches_since_progress_ >= 16) {
        batches_since_progress_ = 0;
        update_progress();
    }
    const auto ts_of = [this](const pcap_pkthdr& h) {
        return static_cast<int64_t>(h.ts.tv_sec) * 1'000'000'000 +
               static_cast<int64_t>(h.ts.tv_usec) * (nano_ ? 1 : 1000);
    };
    uint64_t pkts = 0;
    uint64_t bytes = 0;
    const auto add = [&](const uint8_t* data, const pcap_pkthdr& h) {
        uint32_t caplen = h.caplen;
        if (caplen > batch.arena_free()) {
            caplen = static_cast<uint32_t>(batch.arena_free());
            bump(oversize_, 1);
        }
        batch.append_copy(data, caplen, h.len, ts_of(h), static_cast<uint16_t>(linktype_));
        ++pkts;
        bytes += h.len;
    };
    const auto account = [&] {
        bump(packets_, pkts);
        bump(bytes_, bytes);
    };
    if (has_pending_) {
        if (cfg_.replay_speed > 0 && !wait_for_replay(ts_of(pending_hdr_))) {
            return Status::kTimeout;
        }
        has_pending_ = false;
        add(pending_.data(), pending_hdr_);
    }
    bool waited = false;
    while (!batch.full()) {
        pcap_pkthdr* h = nullptr;
        const u_char* data = nullptr;
        const int rc = pcap_next_ex(pcap_, &h, &data);
        if (rc == 1) {
            // Replay: every packet goes through the pending slot, so it is sent once it is due.
            const bool late = cfg_.replay_speed > 0;
            if ((h->caplen > batch.arena_free() && !batch.empty()) || late) {
                // Keep it for the next batch: it does not fit, or (replay) it is not due yet
                // and the packets already read should leave on time.
                if (h->caplen > kMaxCopy) {
                    bump(oversize_, 1);
                }
                pending_.assign(data, data + std::min<std::size_t>(h->caplen, kMaxCopy));
                pending_hdr_ = *h;
                pending_hdr_.caplen = static_cast<bpf_u_int32>(pending_.size());
                has_pending_ = true;
                account();
                return Status::kOk;
            }
            add(data, *h);
        } else if (rc == 0) {
            // Live and nothing pending: wait (bounded) for the next packets unless we have some.
            if (batch.empty() && !waited && selectable_fd_ >= 0) {
                waited = true;
                pollfd pfd{selectable_fd_, POLLIN, 0};
                poll(&pfd, 1, cfg_.timeout_ms);
                continue;
            }
            account();
            return batch.empty() ? Status::kTimeout : Status::kOk;
        } else if (rc == PCAP_ERROR_BREAK) {
            account();
            progress_.store(1.0);
            update_progress();
            return Status::kEnd;
        } else {
            error_ = pcap_geterr(pcap_);
            account();
            update_progress();
            return Status::kError;
        }
    }
    account();
    return Status::kOk;
}

CaptureStats PcapCapture::stats() const {
    CaptureStats s;
    s.packets = packets_.load(std::memory_order_relaxed);
    s.bytes = bytes_.load(std::memory_order_relaxed);
    s.kernel_drops = kernel_drops_.load(std::memory_order_relaxed);
    s.if_drops = if_drops_.load(std::memory_order_relaxed);
    s.oversize = oversize_.load(std::memory_order_relaxed);
    return s;
}

}  // namespace weir::capture
