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

}  // namespace weir::flow
