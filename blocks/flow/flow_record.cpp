#include "flow_record.hpp"

namespace weir::flow {

const char* to_string(EndReason r) {
    switch (r) {
        case EndReason::kFin: return "fin";
        case EndReason::kRst: return "rst";
        case EndReason::kIdle: return "idle";
        case EndReason::kSingleton: return "singleton";
        case EndReason::kActive: return "active";
        case EndReason::kEvicted: return "evicted";
        case EndReason::kShutdown: return "shutdown";
    }
    return "?";
}

FlowBatch::FlowBatch(FlowBatchPool* pool)
    : Message(&MessageTraits<FlowBatch>::type, &FlowBatch::recycle),
      pool_(pool),
      records_(new FlowRecord[kMax]) {}

void FlowBatch::recycle(Message* m) noexcept {
    auto* b = static_cast<FlowBatch*>(m);
    b->count_ = 0;
    (void)b->pool_->free_.try_push(b);
}

FlowBatchPool::FlowBatchPool(std::size_t max_batches) : max_(max_batches), free_(max_batches) {
    all_.reserve(max_batches);
}

FlowBatchPool::~FlowBatchPool() {
    for (FlowBatch* b : all_) {
        if (b->refs() == 0) {
            delete b;
        }
    }
}

FlowBatch* FlowBatchPool::acquire() {
    FlowBatch* b = nullptr;
    if (free_.try_pop(b)) {
        b->count_ = 0;
        b->reset_refs();
        b->set_time_ns(0);
        return b;
    }
    if (all_.size() < max_) {
        b = new FlowBatch(this);
        all_.push_back(b);
        return b;
    }
    return nullptr;
}

}  // namespace weir::flow
