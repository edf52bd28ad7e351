// The one interface every capture backend implements (libpcap here; DPDK behind the same calls).
// Source blocks own a backend and a BatchPool; the backend fills batches, the blocks emit them.
#pragma once

#include <weir/packet.hpp>

#include <atomic>
#include <cstdint>
#include <string>

namespace weir::capture {

struct CaptureStats {
    uint64_t packets = 0;        // read by the backend
    uint64_t bytes = 0;          // wire bytes read
    uint64_t kernel_drops = 0;   // dropped before we could read them (buffer full)
    uint64_t if_drops = 0;       // dropped by the interface / hardware
    uint64_t oversize = 0;       // packets longer than the batch arena, cut to fit
};

class CaptureSource {
public:
    enum class Status {
        kOk,       // the batch holds packets (possibly fewer than its capacity)
        kTimeout,  // nothing arrived in time (live capture); the batch may be empty
        kEnd,      // end of input; the batch may still hold the last packets
        kError     // error(): the batch holds the packets read before the damage
    };

    virtual ~CaptureSource() = default;
    // Opens the device or file; throws std::runtime_error with a readable reason.
    virtual void open() = 0;
    // Appends up to batch.capacity() packets. Owner thread only.
    virtual Status fill(PacketBatch& batch) = 0;
    // A finite input (a file).
    virtual bool offline() const = 0;
    // Bytes per batch the backend copies into (0 for zero-copy backends).
    virtual std::size_t arena_bytes(uint32_t batch_size) const = 0;
    // Any thread.
    virtual CaptureStats stats() const = 0;
    // 0..1 through a file, negative when unknown. Any thread.
    virtual double progress() const = 0;
    virtual const std::string& error() const = 0;
};

}  // namespace weir::capture
