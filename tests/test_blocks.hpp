#pragma once

#include <weir/block.hpp>
#include <weir/packet.hpp>
#include <flow/flow_record.hpp>

#include <map>
#include <mutex>
#include <vector>

#include <atomic>
#include <memory>

namespace weir::testing {

// Never constructed: only its type matters, to test gate type checking.
struct TestRecord final : Message {};

class SeqSource final : public Block {
public:
    explicit SeqSource(BlockSetup& s);
    void start() override;
    RunResult run() override;
    bool offline() const override { return true; }

private:
    uint64_t count_ = 0;
    uint32_t batch_ = 32;
    uint32_t max_batches_ = 4096;
    int64_t step_ns_ = 1000;
    bool endless_ = false;
    uint64_t next_ = 0;
    OutputId out_ = 0;
    Counter sent_;
    std::unique_ptr<BatchPool> pool_;
    uint8_t payload_[60] = {};
};

class SeqChecker final : public Block {
public:
    explicit SeqChecker(BlockSetup& s);
    void receive(InputId, const Message& m) override;
    void on_timer(TimerId, int64_t) override;
    void flush() override;
    static std::atomic<uint64_t> total_received;

private:
    int64_t step_ns_ = 1000;
    uint32_t work_ = 0;
    InputId in_ = 0;
    uint64_t last_ = 0;
    Counter received_, out_of_order_, gaps_, flushed_, ticks_;
};

class Thrower final : public Block {
public:
    explicit Thrower(BlockSetup& s);
    void start() override;
    void receive(InputId, const Message& m) override;
    void flush() override;

private:
    uint64_t after_ = 0;
    std::string where_;
    Counter received_;
};

// Folds every packet (time, lengths, link type, bytes) into one FNV-1a digest.
class Digest final : public Block {
public:
    explicit Digest(BlockSetup& s);
    void receive(InputId, const Message& m) override;

private:
    uint64_t h_ = 1469598103934665603ULL;
    Counter digest_, packets_, capbytes_;
};

// Keeps every finished flow (for tests to inspect after the run).
class FlowCollector final : public Block {
public:
    explicit FlowCollector(BlockSetup& s);
    void receive(InputId, const Message& m) override;
    static std::vector<flow::FlowRecord> take();

private:
    static std::mutex mutex_;
    static std::vector<flow::FlowRecord> records_;
};

// Remembers which replica saw each bidirectional 5-tuple; a tuple seen by two replicas is a conflict.
class Affinity final : public Block {
public:
    explicit Affinity(BlockSetup& s);
    void receive(InputId, const Message& m) override;
    static void reset();
    static uint64_t conflicts();
    static std::size_t tuples();

private:
    int replica_ = 0;
    Counter packets_;
    static std::mutex mutex_;
    static std::map<std::string, int> owner_;
    static uint64_t conflicts_;
};

class RecordSource final : public Block {
public:
    explicit RecordSource(BlockSetup& s);
};

}  // namespace weir::testing

WEIR_MESSAGE_TYPE(weir::testing::TestRecord, "TestRecord", "a message type only the tests use");
