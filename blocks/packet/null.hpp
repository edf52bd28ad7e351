// Null — a sink that takes any message and drops it (counting them).
//
// Invocation: direct or indirect.
// Params: none.
// Gates: in in_msg (alias in_pkt): any message type.
// Variables: msgcnt (messages received), pktcnt (packets, when the messages are PacketBatch).
#pragma once

#include <weir/block.hpp>

namespace weir::blocks {

class Null final : public Block {
public:
    explicit Null(BlockSetup& s);
    void receive(InputId gate, const Message& msg) override;

private:
    Counter msgcnt_;
    Counter pktcnt_;
};

}  // namespace weir::blocks
