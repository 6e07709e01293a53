// The per-worker shard: table ownership, bursts, eviction under SYN floods.
// Runs the real parse -> key -> table -> tracker path on byte-built frames.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/flow_table.hpp"
#include "engine/shard.hpp"
#include "engine/std_table.hpp"
#include "parse/frame_builder.hpp"

namespace {

using namespace ws;
using frames::Bytes;

struct Collect {
    std::vector<track::ConnRecord> recs;
    bool operator()(const track::ConnRecord& r) {
        recs.push_back(r);
        return true;
    }
};

constexpr uint8_t S = 0x02, A = 0x10, R = 0x04;

Bytes frame(frames::V4 src, uint16_t sport, frames::V4 dst, uint16_t dport, uint8_t flags, uint32_t seq,
            uint32_t ack) {
    frames::Tcp t;
    t.sport = sport;
    t.dport = dport;
    t.flags = flags;
    t.seq = seq;
    t.ack = ack;
    frames::Ip4 ip;
    ip.src = src;
    ip.dst = dst;
    return frames::ether(0x0800, frames::ipv4(ip, frames::tcp(t)));
}

// A shard on `Table` with detection off, fed bursts of byte-built frames.
template <class Table>
struct BasicRig {
    explicit BasicRig(uint32_t capacity, uint32_t embryonic_pct = 100) : table(make_table(capacity)) {
        cfg.embryonic_share_pct = embryonic_pct;
        cfg.detect.enabled = false;
        shard = std::make_unique<engine::Shard<Table, Collect>>(table, sink, cfg);
    }
    // One burst, in order.
    void burst(const std::vector<std::pair<Bytes, uint64_t>>& pkts) {
        std::vector<engine::RawPacket> raw;
        for (const auto& [b, ts] : pkts) raw.push_back({b.data(), static_cast<uint32_t>(b.size()), ts});
        shard->process(raw.data(), static_cast<uint32_t>(raw.size()));
    }
    void one(const Bytes& b, uint64_t ts) { burst({{b, ts}}); }
    const track::ConnRecord* find(uint16_t sport) const {
        for (const auto& r : sink.recs)
            if (r.orig_p == sport) return &r;
        return nullptr;
    }

    static Table make_table(uint32_t capacity) {
        if constexpr (std::is_same_v<Table, engine::FlowTable>) return Table(capacity, 0, 7);  // a fixed seed
        else return Table(capacity);
    }

    Table table;
    Collect sink;
    engine::ShardConfig cfg;
    std::unique_ptr<engine::Shard<Table, Collect>> shard;
};
using Rig = BasicRig<engine::StdTable>;
using CompactRig = BasicRig<engine::FlowTable>;  // the workers' own table

const frames::V4 kClient = {10, 0, 0, 1}, kServer = {10, 0, 0, 2};

// Behaviours that depend on how the table finds, adds and removes entries (within
// a burst, on eviction) run on both: the oracle table and the workers' own.
template <class R>
class ShardOn : public ::testing::Test {};
struct TableName {
    template <class R>
    static std::string GetName(int) {
        return std::is_same_v<R, CompactRig> ? "FlowTable" : "StdTable";
    }
};
using BothTables = ::testing::Types<Rig, CompactRig>;
TYPED_TEST_SUITE(ShardOn, BothTables, TableName);

TYPED_TEST(ShardOn, ConnectionEndingMidBurstIsRecordedOnce) {
    // 32 lone RSTs on one 4-tuple, 60 s apart, in one burst: each is its own
    // connection (Zeek's reset delay is 5 s). Bulk-lookup results computed before
    // the burst must not be reused once the entry they point to has ended.
    TypeParam rig(64);
    std::vector<std::pair<Bytes, uint64_t>> pkts;
    for (uint64_t i = 0; i < 32; ++i)
        pkts.push_back({frame(kClient, 2035, kServer, 80, R | A, 1000, 2000), 1'000'000 + i * 60'000'000});
    rig.burst(pkts);
    rig.shard->flush(40'000'000'000);
    EXPECT_EQ(rig.sink.recs.size(), 32u);
    EXPECT_EQ(rig.shard->stats().connections_created, 32u);
}

TYPED_TEST(ShardOn, EstablishedConnectionsAreNeverEvictedForASyn) {
    TypeParam rig(4);
    uint64_t t = 1'000'000;
    for (uint16_t p = 1; p <= 4; ++p) {
        rig.one(frame(kClient, p, kServer, 443, S, 100, 0), t++);
        rig.one(frame(kServer, 443, kClient, p, S | A, 500, 101), t++);
        rig.one(frame(kClient, p, kServer, 443, A, 101, 501), t++);
    }
    EXPECT_EQ(rig.shard->stats().live_embryonic, 0u);
    rig.one(frame({192, 0, 2, 9}, 999, kServer, 443, S, 7, 0), t++);  // table full of established
    EXPECT_EQ(rig.shard->stats().tcp_untracked, 1u);
    EXPECT_EQ(rig.shard->stats().connections_evicted, 0u);
    EXPECT_TRUE(rig.sink.recs.empty());
}

TYPED_TEST(ShardOn, OnePacketSynsAreEvictedBeforeRetriedAttempts) {
    // A real client retransmits its SYN; a spoofed source sends one. When the
    // table is full, the one-packet entries go first, however old the real one is.
    TypeParam rig(4);
    uint64_t t = 1'000'000;
    rig.one(frame(kClient, 5000, kServer, 443, S, 100, 0), t);
    rig.one(frame(kClient, 5000, kServer, 443, S, 100, 0), t + 1'000'000);  // retransmission
    for (uint8_t i = 1; i <= 20; ++i)
        rig.one(frame({192, 0, 2, i}, 1000, kServer, 443, S, i, 0), t + 1'100'000 + i);
    EXPECT_EQ(rig.shard->stats().connections_evicted_embryonic, 17u);  // 3 slots for 20 spoofed SYNs
    EXPECT_EQ(rig.find(5000), nullptr) << "the retried attempt was evicted";
    rig.one(frame(kClient, 5000, kServer, 443, S, 100, 0), t + 3'000'000);  // second retransmission
    rig.shard->flush(t + 3'500'000);
    const auto* r = rig.find(5000);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->orig_pkts, 3u) << "the attempt keeps one record with its three SYNs";
    EXPECT_EQ(r->syn_retrans, 2u);
}

// A replay sizes its table from the capture (pipeline/app.cpp): capacity_holding(n, pct)
// is the least table whose half-open share takes n one-packet SYNs without an eviction
// (for n >= 2: every table's share takes one).
TYPED_TEST(ShardOn, CapacityHoldingIsTheLeastTableWhoseHalfOpenShareTakesEveryConnection) {
    for (uint32_t pct : {1u, 33u, 50u, 100u}) {
        for (uint32_t n : {2u, 7u, 100u}) {
            const auto cap = static_cast<uint32_t>(engine::capacity_holding(n, pct));
            for (uint32_t c : {cap, cap - 1}) {
                TypeParam rig(c, pct);
                for (uint32_t i = 0; i < n; ++i)
                    rig.one(frame({192, 0, 2, static_cast<uint8_t>(i)}, static_cast<uint16_t>(1000 + i), kServer, 80, S,
                                  i, 0),
                            1'000'000 + i);
                const auto evicted = rig.shard->stats().connections_evicted;
                if (c == cap) EXPECT_EQ(evicted, 0u) << n << " SYNs, " << pct << "% of " << c;
                else EXPECT_GT(evicted, 0u) << n << " SYNs, " << pct << "% of " << c;
            }
        }
    }
}

TYPED_TEST(ShardOn, EmbryonicShareIsBounded) {
    // Half the table for connections in their handshake: a flood never takes the
    // other half, which stays free for connections that complete.
    TypeParam rig(16, 50);
    uint64_t t = 1'000'000;
    for (uint16_t i = 1; i <= 100; ++i) rig.one(frame({192, 0, 2, 1}, i, kServer, 80, S, i, 0), t + i);
    EXPECT_EQ(rig.shard->stats().live_embryonic, 8u);
    EXPECT_EQ(rig.shard->stats().connections_evicted_embryonic, 92u);
    for (uint16_t p = 1; p <= 8; ++p) {
        rig.one(frame(kClient, p, kServer, 443, S, 100, 0), t + 1000 + 3 * p);
        rig.one(frame(kServer, 443, kClient, p, S | A, 500, 101), t + 1001 + 3 * p);
        rig.one(frame(kClient, p, kServer, 443, A, 101, 501), t + 1002 + 3 * p);
    }
    // The first real SYN found the share full and evicted one spoofed entry; every
    // real connection completed and is live.
    EXPECT_EQ(rig.shard->stats().live_connections - rig.shard->stats().live_embryonic, 8u);
    EXPECT_EQ(rig.shard->stats().live_embryonic, 7u);
    EXPECT_EQ(rig.shard->stats().tcp_untracked, 0u);
}

TEST(Shard, PacketsAddUpByKind) {
    Rig rig(16);
    Bytes arp(60, 0);
    arp[12] = 0x08;
    arp[13] = 0x06;
    Bytes runt = {0x00, 0x01};
    rig.burst({{frame(kClient, 1, kServer, 2, S, 1, 0), 1}, {arp, 2}, {runt, 3}});
    const auto& st = rig.shard->stats();
    EXPECT_EQ(st.packets_rx, 3u);
    EXPECT_EQ(st.packets_tcp, 1u);
    EXPECT_EQ(st.packets_non_tcp, 1u);
    EXPECT_EQ(st.packets_malformed, 1u);
    EXPECT_EQ(st.malformed[static_cast<size_t>(parse::Reason::TruncatedL2)], 1u);
}

TEST(Shard, FramesSplitByOwnerTrackEachConnectionOnceAndCountEachFrameOnce) {
    // Replay from the mapped file: one reader hands each worker the frames owner_of
    // gives it. Two (and three) shards so fed give the records one shard gives, and
    // count each frame once.
    std::vector<std::pair<Bytes, uint64_t>> pkts;
    for (uint16_t c = 0; c < 40; ++c) {
        const uint16_t port = static_cast<uint16_t>(1000 + c);
        const uint64_t t = 1'000'000 + c * 1000;
        pkts.push_back({frame(kClient, port, kServer, 80, S, 100, 0), t});
        Bytes synack = frame(kServer, 80, kClient, port, S | A, 500, 101);
        // A third of the SYN-ACKs carry an 802.1Q tag (as one direction may on a span
        // port): owner_of parses those, and must place them with the rest of their flow.
        if (c % 3 == 0) synack.insert(synack.begin() + 12, {0x81, 0x00, 0x00, 0x07});
        pkts.push_back({synack, t + 10});
        pkts.push_back({frame(kClient, port, kServer, 80, A, 101, 501), t + 20});
        pkts.push_back({frame(kClient, port, kServer, 80, R | A, 101, 501), t + 30});
    }
    Bytes arp(60, 0);
    arp[12] = 0x08, arp[13] = 0x06;
    pkts.insert(pkts.begin() + 7, {arp, 1'000'005});
    pkts.insert(pkts.begin() + 50, {Bytes{0x00, 0x01}, 1'020'000});  // a runt: malformed
    // IPv4 TCP that the parser rejects (a data offset below 5): owner_of places it by
    // the addresses and ports it reads, and its owner counts it as malformed, once.
    Bytes bad_doff = frame(kClient, 999, kServer, 80, A, 1, 1);
    bad_doff[14 + 20 + 12] = 0x40;
    pkts.insert(pkts.begin() + 90, {bad_doff, 1'040'000});

    // The frames of `share`, in capture order, in bursts of up to 32 as a fed worker takes them.
    auto run = [&](Rig& rig, uint32_t share, uint32_t shares) {
        std::vector<engine::RawPacket> raw;
        parse::PacketView scratch;
        for (const auto& [b, ts] : pkts) {
            const engine::RawPacket p{b.data(), static_cast<uint32_t>(b.size()), ts};
            if (engine::owner_of(p, parse::Link::Ethernet, parse::ParseConfig{}, shares, scratch) == share)
                raw.push_back(p);
        }
        for (size_t i = 0; i < raw.size(); i += 32)
            rig.shard->process(&raw[i], static_cast<uint32_t>(std::min<size_t>(32, raw.size() - i)));
        rig.shard->flush(10'000'000);
    };
    Rig one(256);
    run(one, 0, 1);
    const auto& s1 = one.shard->stats();
    EXPECT_EQ(s1.packets_rx, pkts.size());
    EXPECT_EQ(s1.packets_non_tcp, 1u);
    EXPECT_EQ(s1.packets_malformed, 2u);
    for (uint32_t shares : {2u, 3u}) {
        std::vector<std::unique_ptr<Rig>> rigs;
        engine::ShardStats sum{};
        size_t records = 0;
        for (uint32_t k = 0; k < shares; ++k) {
            rigs.push_back(std::make_unique<Rig>(256));
            run(*rigs.back(), k, shares);
            const auto& st = rigs.back()->shard->stats();
            sum.packets_rx += st.packets_rx;
            sum.packets_tcp += st.packets_tcp;
            sum.packets_non_tcp += st.packets_non_tcp;
            sum.packets_malformed += st.packets_malformed;
            EXPECT_GT(rigs.back()->sink.recs.size(), 5u) << "share " << k << " of " << shares;  // each holds some of the 40
            records += rigs.back()->sink.recs.size();
        }
        EXPECT_EQ(sum.packets_rx, s1.packets_rx);
        EXPECT_EQ(sum.packets_tcp, s1.packets_tcp);
        EXPECT_EQ(sum.packets_non_tcp, 1u);
        EXPECT_EQ(sum.packets_malformed, 2u);
        ASSERT_EQ(records, one.sink.recs.size());
        for (const auto& r : one.sink.recs) {
            const track::ConnRecord* other = nullptr;
            for (const auto& rig : rigs)
                if (!other) other = rig->find(r.orig_p);
            ASSERT_NE(other, nullptr) << r.orig_p;
            EXPECT_EQ(std::memcmp(other, &r, sizeof r), 0) << "record of port " << r.orig_p;
        }
    }
}

TEST(Shard, BurstClosingAnIntervalOnEveryPacketLosesNoDetectionReport) {
    // A sparse capture: a full burst whose packets lie 20 ms apart, each in its own
    // 10 ms detection interval. The worker drains reports only between bursts, so
    // the detector must hold one per packet (replay may not lose any).
    Rig rig(256);
    rig.cfg.detect.enabled = true;
    rig.shard = std::make_unique<engine::Shard<engine::StdTable, Collect>>(rig.table, rig.sink, rig.cfg);
    std::vector<std::pair<Bytes, uint64_t>> pkts;
    for (uint32_t i = 0; i < engine::kMaxBurst; ++i)
        pkts.push_back({frame(kClient, static_cast<uint16_t>(3000 + i), kServer, 80, S, 1, 0),
                        1'000'000 + uint64_t{i} * 20'000});
    rig.burst(pkts);
    rig.shard->flush(1'000'000 + uint64_t{engine::kMaxBurst} * 20'000);
    std::vector<uint64_t> intervals;
    rig.shard->detector().drain([&](const detect::IntervalReport& r) {
        intervals.push_back(r.interval);
        return true;
    });
    EXPECT_EQ(rig.shard->detector().reports_dropped(), 0u);
    ASSERT_EQ(intervals.size(), engine::kMaxBurst);  // 63 closed by a packet, the last by flush
    for (uint32_t i = 0; i < engine::kMaxBurst; ++i) EXPECT_EQ(intervals[i], 100u + 2 * i);
}

TEST(Shard, FlushEndsEveryLiveConnectionOnceAndEmptiesTheTable) {
    // On the workers' own table, which flush walks in batches up to its high-water
    // mark: more connections than a batch, some ended before (holes, reused slots).
    CompactRig rig(1024, 50);
    auto& table = rig.table;
    auto& sink = rig.sink;
    auto& shard = *rig.shard;
    auto send = [&](const Bytes& b, uint64_t ts) { rig.one(b, ts); };
    uint64_t t = 1'000'000;
    for (uint16_t p = 1000; p < 1100; ++p) {  // half-open: minutes before they time out
        send(frame(kClient, p, kServer, 80, S, 1000, 0), t++);
        send(frame(kServer, 80, kClient, p, S | A, 5000, 1001), t++);
    }
    for (uint16_t p = 1000; p < 1100; p += 7)  // 15 reset: they end after the reset delay
        send(frame(kClient, p, kServer, 80, R | A, 1001, 5001), t++);
    shard.sweep(t + 10'000'000, 1u << 20);
    const size_t ended_early = sink.recs.size();
    EXPECT_EQ(ended_early, 15u);
    for (uint16_t p = 2000; p < 2010; ++p) send(frame(kClient, p, kServer, 80, S, 1, 0), t + 10'000'000);  // freed slots
    shard.flush(t + 10'000'001);
    EXPECT_EQ(sink.recs.size(), 110u);
    EXPECT_EQ(table.size(), 0u);
    EXPECT_EQ(shard.stats().live_connections, 0u);
    std::vector<int> seen(2010, 0);
    for (const auto& r : sink.recs) ++seen[r.orig_p];
    for (uint16_t p = 1000; p < 1100; ++p) EXPECT_EQ(seen[p], 1) << p;
    for (uint16_t p = 2000; p < 2010; ++p) EXPECT_EQ(seen[p], 1) << p;
}

TEST(Shard, SweepVisitsEachSlotInTurnWhateverItsBudget) {
    // The sweep tests slots' flags 64 at a time; with budgets that cut those windows
    // anywhere and a cursor that wraps, it must still visit every slot once per
    // round: after a whole round of visits, every expired connection has ended
    // and no live one has.
    for (const uint32_t budget : {1u, 7u, 63u, 64u, 65u, 200u, 1u << 20}) {
        SCOPED_TRACE(budget);
        CompactRig rig(1024, 50);
        auto& sink = rig.sink;
        auto& shard = *rig.shard;
        auto send = [&](const Bytes& b, uint64_t ts) { rig.one(b, ts); };
        uint64_t t = 1'000'000;
        for (uint16_t p = 1000; p < 1300; ++p) send(frame(kClient, p, kServer, 80, S, 1000, 0), t);  // 5 s attempts
        for (uint16_t p = 1000; p < 1300; p += 3) send(frame(kServer, 80, kClient, p, S | A, 5000, 1001), t + 1);
        const uint32_t slots = shard.capacity();
        shard.sweep(t + 2'000'000, budget);  // nothing expired yet: a visit must not end anything
        EXPECT_EQ(sink.recs.size(), 0u);
        // 6 s later the 200 unanswered SYNs have expired, the 100 answered have not.
        uint32_t visited = budget < slots ? budget : slots;  // the cursor moved on by this much
        while (visited < slots + budget) {
            shard.sweep(t + 6'000'000, budget);
            visited += budget;
        }
        EXPECT_EQ(sink.recs.size(), 200u);
        EXPECT_EQ(shard.stats().live_connections, 100u);
        for (const auto& r : sink.recs) EXPECT_NE((r.orig_p - 1000) % 3, 0) << r.orig_p;
    }
}

}  // namespace
