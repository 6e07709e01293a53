// flow::make_key: one key for both directions, endpoints in memcmp order.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "flow/flow_key.hpp"

namespace ws::flow {
namespace {

int sign(int x) { return (x > 0) - (x < 0); }

TEST(FlowKey, AddressOrderIsMemcmpOrder) {
    std::mt19937 rng(7);
    for (int i = 0; i < 20000; ++i) {
        parse::Addr a{}, b{};
        for (auto& x : a) x = static_cast<uint8_t>(rng());
        b = a;
        // Differ in one random byte (or not at all), so every position decides sometimes.
        if (i % 17 != 0) b[rng() % 16] = static_cast<uint8_t>(rng());
        EXPECT_EQ(sign(compare_addr(a, b)), sign(std::memcmp(a.data(), b.data(), 16)));
        EXPECT_EQ(sign(compare_addr(b, a)), sign(std::memcmp(b.data(), a.data(), 16)));
    }
}

TEST(FlowKey, BothDirectionsGiveOneKey) {
    parse::PacketView v{};
    v.src[15] = 2;
    v.dst[15] = 1;
    v.sport = 443;
    v.dport = 50000;
    FlowKey k1, k2;
    const bool lo1 = make_key(v, k1);
    std::swap(v.src, v.dst);
    std::swap(v.sport, v.dport);
    const bool lo2 = make_key(v, k2);
    EXPECT_TRUE(k1 == k2);
    EXPECT_NE(lo1, lo2);
    EXPECT_EQ(k1.lo_addr[15], 1);
    EXPECT_EQ(k1.lo_port, 50000);
}

TEST(FlowKey, SameAddressOrdersByPort) {
    parse::PacketView v{};
    v.src[15] = v.dst[15] = 1;  // a connection to itself over loopback
    v.sport = 80;
    v.dport = 40000;
    FlowKey k;
    EXPECT_TRUE(make_key(v, k));
    EXPECT_EQ(k.lo_port, 80);
    EXPECT_EQ(k.hi_port, 40000);
}

}  // namespace
}  // namespace ws::flow
