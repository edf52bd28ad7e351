// Packet decoder tests (being written).
#include <proto/decode.hpp>

#include <gtest/gtest.h>

TEST(Decode, Placeholder) { SUCCEED(); }
