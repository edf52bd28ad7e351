// The flow table's timer wheel: a flow visited in the second it is due, but before its deadline
// in that second, is visited again in the next second (not a whole wheel turn later).
#include <flow/flow_table.hpp>

#include <gtest/gtest.h>

#include <vector>

using namespace weir::flow;

namespace {

constexpr int64_t kSec = 1'000'000'000;

CanonicalKey key(uint8_t host) {
    std::array<uint8_t, 16> a{}, b{};
    a[0] = 10;
    a[3] = host;
    b[0] = 10;
    b[3] = 200;
    bool src_is_lo = false;
    return make_key(4, 17, a, 5000, b, 53, src_is_lo);
}

}  // namespace

TEST(FlowTable, AFlowNotYetDueInTheDrainedSecondIsVisitedTheNextSecond) {
    FlowTable t(64);
    t.advance(9 * kSec, [](Flow*) -> int64_t { return 0; });  // the wheel starts at second 9
    const CanonicalKey k = key(1);
    Flow* f = t.insert(k, hash_key(k));
    ASSERT_NE(f, nullptr);
    const int64_t deadline = 10 * kSec + 700'000'000;  // 10.7 s
    t.schedule(f, deadline);
    std::vector<int64_t> visits;
    auto on_due = [&](Flow* g) -> int64_t {
        visits.push_back(0);
        if (t.find(k, hash_key(k)) != g) {
            ADD_FAILURE() << "a visited flow is the one scheduled";
        }
        return visits.size() == 1 ? deadline : (t.erase(g), int64_t{0});
    };
    t.advance(10 * kSec + 300'000'000, on_due);  // 10.3 s: visited, not due yet
    EXPECT_EQ(visits.size(), 1u);
    t.advance(11 * kSec + 200'000'000, on_due);  // 11.2 s: due, visited again and erased
    EXPECT_EQ(visits.size(), 2u);
    EXPECT_EQ(t.size(), 0u);
}

TEST(FlowTable, DeadlinesAcrossAJumpLongerThanTheWheel) {
    FlowTable t(64);
    t.advance(100 * kSec, [](Flow*) -> int64_t { return 0; });
    std::vector<Flow*> flows;
    for (uint8_t i = 0; i < 10; ++i) {
        const CanonicalKey k = key(i);
        Flow* f = t.insert(k, hash_key(k));
        t.schedule(f, (101 + i * 300) * kSec);
        flows.push_back(f);
    }
    int expired = 0;
    // A jump of more than one turn (4096 s): every flow is visited once and all are due.
    t.advance((100 + 2 * FlowTable::kWheelSlots) * kSec, [&](Flow* g) -> int64_t {
        ++expired;
        t.erase(g);
        return 0;
    });
    EXPECT_EQ(expired, 10);
    EXPECT_EQ(t.size(), 0u);
}
