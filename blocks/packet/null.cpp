#include "null.hpp"

#include <weir/packet.hpp>
#include <weir/registry.hpp>

namespace weir::blocks {

Null::Null(BlockSetup& s) : Block(s) {
    s.input_any("in_msg", "anything; dropped", true, {"in_pkt"});
    s.counter("msgcnt", msgcnt_, "messages", "messages received");
    s.counter("pktcnt", pktcnt_, "packets", "packets received, when messages are packet batches");
}

void Null::receive(InputId, const Message& msg) {
    msgcnt_.add(1);
    if (const auto* b = msg.as<PacketBatch>()) {
        pktcnt_.add(b->size());
    }
}

}  // namespace weir::blocks

WEIR_REGISTER_BLOCK(weir::blocks::Null, "Null", weir::Invocation::kDirect | weir::Invocation::kIndirect,
                    "discards every message (counting them)")
