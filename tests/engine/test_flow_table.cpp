// engine::FlowTable, the workers' flow table, against std::unordered_map as the oracle.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "engine/flow_table.hpp"
#include "engine/std_table.hpp"
#include "flow/flow_key.hpp"

namespace ws::engine {
namespace {

flow::FlowKey v4_key(uint32_t i) {
    flow::FlowKey k{};
    k.lo_addr[10] = k.lo_addr[11] = k.hi_addr[10] = k.hi_addr[11] = 0xff;
    k.lo_addr[12] = 10;
    k.lo_addr[13] = static_cast<uint8_t>(i >> 16);
    k.lo_addr[14] = static_cast<uint8_t>(i >> 8);
    k.lo_addr[15] = static_cast<uint8_t>(i);
    k.hi_addr[12] = 192;
    k.hi_addr[13] = 168;
    k.hi_addr[15] = 1;
    k.lo_port = static_cast<uint16_t>(1024 + i % 50000);
    k.hi_port = 443;
    k.proto = 6;
    return k;
}

// 2001:db8::/32 addresses whose last four bytes are those of v4_key(i): the IPv4
// part of the entry layout must not confuse them.
flow::FlowKey v6_key(uint32_t i) {
    flow::FlowKey k = v4_key(i);
    for (auto* a : {&k.lo_addr, &k.hi_addr}) {
        (*a)[0] = 0x20;
        (*a)[1] = 0x01;
        (*a)[2] = 0x0d;
        (*a)[3] = 0xb8;
        (*a)[10] = (*a)[11] = 0;
    }
    return k;
}

TEST(FlowTable, FindsWhatWasAddedAndNothingElse) {
    FlowTable t(100);
    const int32_t a = t.add(v4_key(1));
    const int32_t b = t.add(v6_key(1));
    ASSERT_GE(a, 0);
    ASSERT_GE(b, 0);
    EXPECT_NE(a, b);
    EXPECT_EQ(t.lookup(v4_key(1)), a);
    EXPECT_EQ(t.lookup(v6_key(1)), b);
    EXPECT_EQ(t.lookup(v4_key(2)), -1);
    EXPECT_EQ(t.lookup(v6_key(2)), -1);
    EXPECT_EQ(t.add(v4_key(1)), a) << "adding a present key returns its index";
    EXPECT_TRUE(t.key(static_cast<uint32_t>(b)) == v6_key(1));
    EXPECT_EQ(t.size(), 2u);
    EXPECT_TRUE(t.consistent());
}

TEST(FlowTable, AllZeroKeyIsNotMistakenForAnEmptyEntry) {
    // 0.0.0.0:0 <-> 0.0.0.0:0 (hostile, but parseable) stores as ab = 0, ports = 0:
    // the very bytes of an empty entry, which only its slot tells apart. With one
    // bucket, every lookup compares it against empty ways.
    FlowTable t(4, 1);
    flow::FlowKey z{};
    z.lo_addr[10] = z.lo_addr[11] = z.hi_addr[10] = z.hi_addr[11] = 0xff;
    z.proto = 6;
    EXPECT_EQ(t.lookup(z), -1);
    const int32_t a = t.add(v4_key(7));
    EXPECT_EQ(t.lookup(z), -1) << "an empty way matched";
    const int32_t b = t.add(z);
    ASSERT_GE(b, 0);
    EXPECT_NE(a, b);
    EXPECT_EQ(t.lookup(z), b);
    int32_t idx[2];
    const flow::FlowKey both[2] = {z, v4_key(7)};
    t.lookup_bulk(both, 2, idx);
    EXPECT_EQ(idx[0], b);
    EXPECT_EQ(idx[1], a);
    t.del(v4_key(7));  // the way before z's is empty now
    EXPECT_EQ(t.lookup(z), b);
    t.lookup_bulk(both, 2, idx);
    EXPECT_EQ(idx[0], b);
    EXPECT_EQ(idx[1], -1);
    t.del(z);
    EXPECT_EQ(t.lookup(z), -1);
    EXPECT_EQ(t.size(), 0u);
    EXPECT_TRUE(t.consistent());
}

TEST(FlowTable, IndicesAreDenseAndFreedOnesAreReused) {
    FlowTable t(8);
    for (uint32_t i = 0; i < 8; ++i) EXPECT_EQ(t.add(v4_key(i)), static_cast<int32_t>(i));
    EXPECT_EQ(t.add(v4_key(8)), -1) << "full";
    t.del(v4_key(3));
    EXPECT_EQ(t.lookup(v4_key(3)), -1);
    EXPECT_EQ(t.add(v4_key(8)), 3);
    EXPECT_EQ(t.size(), 8u);
    EXPECT_TRUE(t.consistent());
}

TEST(FlowTable, DefaultSizingLeavesMostSlotsFree) {
    for (uint32_t cap : {1u, 64u, 1000u, 1u << 20}) {
        FlowTable t(cap);
        EXPECT_LE(uint64_t{cap} * 8, uint64_t{t.buckets()} * FlowTable::kWays * 5) << cap;  // <= 62.5% full
        EXPECT_EQ(t.buckets() & (t.buckets() - 1), 0u);
    }
}

TEST(FlowTable, EveryKeyFitsAtCapacityWithIPv4AndIPv6Mixed) {
    const uint32_t cap = 20000;
    FlowTable t(cap);
    for (uint32_t i = 0; i < cap; ++i) ASSERT_GE(t.add(i % 5 ? v4_key(i) : v6_key(i)), 0) << i;
    for (uint32_t i = 0; i < cap; ++i) ASSERT_GE(t.lookup(i % 5 ? v4_key(i) : v6_key(i)), 0) << i;
    EXPECT_EQ(t.add(v4_key(cap)), -1);
    EXPECT_TRUE(t.consistent());
}

// Fuller than the default sizing (90% of the slots): first and second buckets fill
// up and new keys need displacement chains; every key stays findable.
TEST(FlowTable, DisplacementKeepsEveryKeyAtNinetyPercentLoad) {
    const uint32_t nb = 256, cap = nb * FlowTable::kWays * 9 / 10;
    FlowTable t(cap, nb, 7);
    for (uint32_t i = 0; i < cap; ++i) ASSERT_GE(t.add(v4_key(i)), 0) << i;
    EXPECT_GT(t.displaced(), 0u) << "this load needs displacement chains";
    ASSERT_TRUE(t.consistent());
    for (uint32_t i = 0; i < cap; ++i) ASSERT_GE(t.lookup(v4_key(i)), 0) << i;
    for (uint32_t i = 0; i < cap; i += 2) t.del(v4_key(i));
    EXPECT_TRUE(t.consistent());
    for (uint32_t i = 0; i < cap; ++i) EXPECT_EQ(t.lookup(v4_key(i)) >= 0, i % 2 == 1) << i;
}

TEST(FlowTable, EmptiedTableHasNoOverflowLeft) {
    const uint32_t nb = 64, cap = nb * FlowTable::kWays * 8 / 10;
    FlowTable t(cap, nb, 11);
    for (uint32_t i = 0; i < cap; ++i) ASSERT_GE(t.add(v6_key(i)), 0);
    for (uint32_t i = 0; i < cap; ++i) t.del(v6_key(i));
    EXPECT_EQ(t.size(), 0u);
    EXPECT_TRUE(t.consistent());  // every overflow count back to zero
}

// n keys, every v6_every-th of them IPv6.
std::vector<flow::FlowKey> key_pool(uint32_t n, uint32_t v6_every) {
    std::vector<flow::FlowKey> pool;
    for (uint32_t i = 0; i < n; ++i) pool.push_back(i % v6_every ? v4_key(i) : v6_key(i));
    return pool;
}

// A table of `buckets` buckets for load_pct% of its ways, and the standard library's
// map it is checked against.
struct AgainstOracle {
    AgainstOracle(uint32_t buckets, uint32_t load_pct, uint64_t seed)
        : table(buckets * FlowTable::kWays * load_pct / 100, buckets, seed), oracle(table.capacity()) {}
    FlowTable table;
    StdTable oracle;
    const uint32_t cap = table.capacity();
};

// Random adds, inserts, deletes and bulk lookups at high load, against the standard library.
TEST(FlowTable, AgreesWithAnOracleUnderChurn) {
    AgainstOracle o(128, 85, 3);
    auto& [t, oracle, cap] = o;
    std::mt19937 rng(5);
    const std::vector<flow::FlowKey> pool = key_pool(3 * cap, 3);
    for (int step = 0; step < 200000; ++step) {
        const flow::FlowKey& k = pool[rng() % pool.size()];
        if (rng() % 2) {
            // An absent key goes in by insert() (no search first) half of the time.
            const bool absent = oracle.lookup(k) < 0;
            const int32_t want = oracle.add(k);
            const int32_t got = absent && rng() % 2 ? t.insert(k) : t.add(k);
            ASSERT_EQ(want >= 0, got >= 0) << step;
        } else {
            oracle.del(k);
            t.del(k);
        }
        ASSERT_EQ(t.size(), oracle.size());
        if (step % 1000 == 0) {
            flow::FlowKey probe[64];
            int32_t idx[64];
            for (auto& p : probe) p = pool[rng() % pool.size()];
            t.lookup_bulk(probe, 64, idx);
            for (int i = 0; i < 64; ++i) {
                ASSERT_EQ(idx[i] >= 0, oracle.lookup(probe[i]) >= 0) << step;
                if (idx[i] >= 0) {
                    ASSERT_TRUE(t.key(static_cast<uint32_t>(idx[i])) == probe[i]);
                }
            }
            ASSERT_TRUE(t.consistent()) << step;
        }
    }
}

// As a shard uses the probes a bulk lookup keeps: bursts longer than the table's
// own chunk of 64, keys repeated within a burst (an earlier packet creates the key
// a later one missed) and deletions in between, half of them by index and kept
// hash (del_at); every answer as the oracle's.
TEST(FlowTable, ProbesKeptByABulkLookupServeTheBurstsLaterCalls) {
    AgainstOracle o(64, 80, 11);
    auto& [t, oracle, cap] = o;
    std::mt19937 rng(9);
    const std::vector<flow::FlowKey> pool = key_pool(2 * cap, 4);
    constexpr uint32_t kBurst = 100;
    flow::FlowKey keys[kBurst];
    int32_t idx[kBurst];
    FlowTable::Probe probes[kBurst];
    uint64_t hits_after_miss = 0, inserted = 0;
    for (int burst = 0; burst < 3000; ++burst) {
        const auto n = static_cast<uint32_t>(1 + rng() % kBurst);
        for (uint32_t j = 0; j < n; ++j) keys[j] = pool[rng() % (j % 3 ? pool.size() : 16)];
        t.lookup_bulk(keys, n, idx, probes);
        for (uint32_t j = 0; j < n; ++j) {
            const flow::FlowKey& k = keys[j];
            ASSERT_EQ(probes[j].h, t.probe(k).h) << burst << " " << j;
            ASSERT_EQ(probes[j].b1, t.probe(k).b1);
            const int32_t got = t.lookup(k, probes[j]);
            ASSERT_EQ(got >= 0, oracle.lookup(k) >= 0) << burst << " " << j;
            if (idx[j] < 0 && got >= 0) ++hits_after_miss;
            if (got >= 0) {
                ASSERT_TRUE(t.key(static_cast<uint32_t>(got)) == k);
                if (rng() % 4 == 0) {
                    // By key, or by index and the kept hash, as an eviction does.
                    if (rng() % 2) t.del(k);
                    else t.del_at(static_cast<uint32_t>(got), probes[j].h);
                    oracle.del(k);
                }
            } else if (oracle.add(k) >= 0) {
                ASSERT_GE(t.insert(k, probes[j]), 0) << burst << " " << j;
                ++inserted;
            }
            ASSERT_EQ(t.size(), oracle.size());
        }
        if (burst % 100 == 0) {
            ASSERT_TRUE(t.consistent()) << burst;
        }
    }
    EXPECT_GT(hits_after_miss, 1000u);  // the case the kept probe must get right
    EXPECT_GT(inserted, 10000u);
}

}  // namespace
}  // namespace ws::engine
