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

std::optional<L7Selection> parse_l7_selection(std::string_view text) {
    L7Selection sel;
    for (std::size_t pos = 0; pos < text.size();) {
        const std::size_t comma = std::min(text.find(',', pos), text.size());
        const std::string_view item = text.substr(pos, comma - pos);
        if (item == "http") {
            sel.http = true;
        } else if (item == "dns") {
            sel.dns = true;
        } else {
            return std::nullopt;
        }
        pos = comma + 1;
    }
    return sel;
}

}  // namespace weir::flow
