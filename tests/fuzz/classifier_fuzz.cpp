// libFuzzer target: the per-flow classifier over a flow built from the input: each segment is
// [direction/proto byte][length byte][bytes]. Checks: no out-of-bounds read, no slot leaked,
// done() flows stay done, names within their buffers.
#include <classify/classifier.hpp>

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <memory>

using namespace weir::classify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static auto clf = std::make_unique<Classifier>(2);
    if (size < 3) {
        return 0;
    }
    ClassifierState s;
    const uint8_t proto = (data[0] & 1) != 0 ? IPPROTO_UDP : IPPROTO_TCP;
    const uint16_t ports[] = {443, 80, 53, 22, 25, 143, 110, 5060, 3478, 6881, 4433};
    Classifier::init(s, proto, 40000, ports[(data[0] >> 1) % (sizeof ports / sizeof ports[0])]);
    uint32_t seq[2] = {1000, 5000};
    size_t pos = 1;
    while (pos + 2 <= size) {
        const uint8_t ctl = data[pos];
        const size_t len = data[pos + 1] + size_t{(ctl & 0x70u) << 4};
        pos += 2;
        const size_t take = len < size - pos ? len : size - pos;
        const int dir = ctl & 1;
        if (!s.done() && take != 0) {
            // Occasionally resend or skip ahead, as TCP does.
            const uint32_t at = (ctl & 0x80) != 0 ? seq[dir] - static_cast<uint32_t>(take / 2) : seq[dir];
            clf->classify(s, dir, data + pos, take, at);
            seq[dir] = at + static_cast<uint32_t>(take);
        }
        pos += take;
    }
    clf->finish(s);
    if (!s.done() || clf->slots_in_use() != 0 || s.name.len >= sizeof s.name.data || s.ja4.len > 36) {
        __builtin_trap();
    }
    return 0;
}
