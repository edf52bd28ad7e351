// libFuzzer target: the packet decoder must never read past caplen (ASan: libFuzzer hands over an
// exactly sized buffer), never trip UBSan, and keep its output consistent with the frame.
// The first input byte picks a link type, the rest is the frame.
//   CXX=clang++ meson setup build-fuzz -Dfuzz=true -Dtests=false -Dbench=false
//   ninja -C build-fuzz && build-fuzz/tests/fuzz/decode_fuzz -max_total_time=60 corpus/
#include <proto/decode.hpp>

#include <cstddef>
#include <cstdint>

namespace {

// Every link type decode() handles, and one it does not.
constexpr uint16_t kLinkTypes[] = {1, 113, 276, 12, 14, 101, 228, 229, 0, 108, 105};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;
    }
    const uint16_t linktype = kLinkTypes[data[0] % (sizeof kLinkTypes / sizeof kLinkTypes[0])];
    const uint8_t* frame = data + 1;
    const auto caplen = static_cast<uint32_t>(size - 1);
    weir::proto::Decoded d;
    const weir::proto::Verdict v = weir::proto::decode(frame, caplen, linktype, d);
    if (v >= weir::proto::Verdict::kCount || d.tunnel_depth > weir::proto::kMaxTunnelDepth) {
        __builtin_trap();
    }
    if (v == weir::proto::Verdict::kOk) {
        // Headers lie inside the frame, in order; the captured payload too.
        if (d.l3_offset > d.l4_offset || d.l4_offset > d.payload_offset || d.payload_offset > caplen ||
            d.payload_captured > d.payload_len || d.payload_offset + d.payload_captured > caplen ||
            (d.ip_version != 4 && d.ip_version != 6)) {
            __builtin_trap();
        }
    }
    return 0;
}
