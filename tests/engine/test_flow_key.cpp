// flow::make_key: one key for both directions, endpoints in memcmp order.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "flow/flow_key.hpp"
#include "parse/frame_builder.hpp"

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

// The replay's reader gives each frame to a worker by peek_share(), read at fixed
// offsets; the worker keys it by make_key() of the parsed view. The two must agree
// on every frame parse() reports as TCP, or a flow's packets would be split between
// workers: checked on IPv4 (with and without options) and IPv6 frames of random
// endpoints, including equal addresses and equal ports, and on random mutations of
// their header bytes, at several worker counts.
TEST(FlowKey, PeekedShareIsTheParsedShare) {
    using namespace ws::frames;
    std::mt19937 rng(11);
    auto v4addr = [&] { return V4{10, 0, static_cast<uint8_t>(rng() % 3), static_cast<uint8_t>(rng() % 3)}; };
    auto v6addr = [&] {
        V6 a = v6("2001:db8::1");
        a[14] = static_cast<uint8_t>(rng() % 3);
        a[15] = static_cast<uint8_t>(rng() % 3);
        return a;
    };
    uint64_t tcp_frames = 0, peeked = 0, mutated_tcp = 0;
    parse::PacketView v;
    for (int i = 0; i < 40000; ++i) {
        Tcp t;
        t.sport = static_cast<uint16_t>(rng() % 4 == 0 ? 80 : rng());
        t.dport = rng() % 4 == 0 ? t.sport : static_cast<uint16_t>(rng() % 4 == 0 ? 80 : rng());
        t.flags = 0x10;
        if (rng() % 2) t.options = Opts{}.nop().nop().ts(static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng())).b;
        Bytes frame;
        if (rng() % 3 == 0) {
            Ip6 h;
            h.src = v6addr();
            h.dst = v6addr();
            frame = ether(kEthIpv6, ipv6(h, tcp(t)));
        } else {
            Ip4 h;
            h.src = v4addr();
            h.dst = v4addr();
            if (rng() % 4 == 0) h.options = {0x94, 0x04, 0x00, 0x00};  // router alert
            frame = ether(kEthIpv4, ipv4(h, tcp(t)));
        }
        const bool mutate = i % 2 == 1;
        if (mutate) {  // a few header bytes (Ethernet type through the TCP ports) set at random
            for (int m = 1 + static_cast<int>(rng() % 3); m > 0; --m)
                frame[12 + rng() % std::min<size_t>(frame.size() - 12, 50)] = static_cast<uint8_t>(rng());
            if (rng() % 8 == 0) frame.resize(rng() % frame.size());
        }
        const auto len = static_cast<uint32_t>(frame.size());
        if (parse::parse(frame.data(), len, parse::Link::Ethernet, parse::ParseConfig{}, v) != parse::Kind::Tcp)
            continue;
        ++tcp_frames;
        mutated_tcp += mutate;
        FlowKey k;
        make_key(v, k);
        for (uint32_t shares : {2u, 3u, 4u, 7u}) {
            const int p = peek_share(frame.data(), len, parse::Link::Ethernet, shares);
            if (p < 0) continue;
            ++peeked;
            ASSERT_EQ(static_cast<uint32_t>(p), share_of(k, shares))
                << "frame " << i << " (" << (mutate ? "mutated" : "as built") << "), " << shares << " shares";
        }
        if (!mutate) {
            EXPECT_GE(peek_share(frame.data(), len, parse::Link::Ethernet, 2), 0) << "frame " << i;
        }
    }
    EXPECT_GT(mutated_tcp, 2000u);  // the mutations left many frames TCP
    EXPECT_GT(peeked, 4 * (tcp_frames - mutated_tcp));
}

TEST(FlowKey, PeekLeavesOtherFramesToTheParser) {
    using namespace ws::frames;
    const Bytes seg = tcp(Tcp{});
    const Bytes tagged = ether(kEthIpv4, ipv4(Ip4{}, seg), {{kEthVlan, 7}});
    Ip4 udp_header;
    udp_header.proto = 17;
    const Bytes udp4 = ether(kEthIpv4, ipv4(udp_header, udp(1, 2, {})));
    Ip6 with_ext;
    with_ext.ext.push_back(ext_options(0));
    const Bytes ext6 = ether(kEthIpv6, ipv6(with_ext, seg));
    const Bytes plain = ether(kEthIpv4, ipv4(Ip4{}, seg));
    for (const Bytes* f : {&tagged, &udp4, &ext6})
        EXPECT_EQ(peek_share(f->data(), static_cast<uint32_t>(f->size()), parse::Link::Ethernet, 2), -1);
    EXPECT_EQ(peek_share(plain.data(), 14 + 20 + 3, parse::Link::Ethernet, 2), -1);  // ports cut off
    EXPECT_EQ(peek_share(plain.data(), static_cast<uint32_t>(plain.size()), parse::Link::Raw, 2), -1);
    EXPECT_GE(peek_share(plain.data(), static_cast<uint32_t>(plain.size()), parse::Link::Ethernet, 2), 0);
}

}  // namespace
}  // namespace ws::flow
