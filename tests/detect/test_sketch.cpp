// The fixed-memory summaries and the detector's memory contract.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <new>
#include <random>

#include "cluster.hpp"
#include "detect/sketch.hpp"

// Counts every allocation of this test binary, so that a test can assert that a
// stretch of code allocates nothing.
namespace {
std::atomic<uint64_t> g_allocs{0};
}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t n) {
    g_allocs.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace ws::detect::testing {
namespace {

void benchmark_guard(volatile int* p) { *p = 2; }  // keeps the probe allocation

struct Key {
    uint64_t a, b;
};
struct NoAux {
    uint32_t x;
};

TEST(Sketch, SketchKeepsTopKUnderChurn) {
    // 10 heavy keys with 1% of the stream each, among 900k one-off keys (the
    // spoofed-source churn of a flood): all 10 are the top 10, with true counts
    // inside [count - err, count].
    SpaceSaving<Key, NoAux, 128> ss;
    std::mt19937_64 rng(7);
    std::map<uint64_t, uint32_t> truth;
    for (int i = 0; i < 1'000'000; ++i) {
        Key k;
        if (i % 10 == 0) {
            k = {static_cast<uint64_t>(i / 10 % 10), 0};
            ++truth[k.a];
        } else {
            k = {rng() | (1ull << 63), rng()};
        }
        ss.add(k, hash_key(k, 42));
    }
    EXPECT_EQ(ss.size(), 128u);
    EXPECT_EQ(ss.total(), 1'000'000u);
    const SpaceSaving<Key, NoAux, 128>::Entry* top[10];
    ASSERT_EQ(ss.top(top, 10), 10u);
    std::map<uint64_t, bool> seen;
    for (auto* e : top) {
        ASSERT_LT(e->key.a, 10u) << "a one-off key in the top 10";
        EXPECT_EQ(e->key.b, 0u);
        seen[e->key.a] = true;
        const uint32_t t = truth[e->key.a];
        EXPECT_LE(e->count - e->err, t);
        EXPECT_GE(e->count, t);
    }
    EXPECT_EQ(seen.size(), 10u);
    // Every key still indexed: find() agrees with the entries.
    ss.for_each([&](const auto& e) { EXPECT_EQ(ss.find(e.key, e.hash), &e); });
}

TEST(Sketch, ReplacementTakesAnEntryWithTheSmallestCount) {
    // Weighted adds (as sampled probes are) of a few heavy keys and many one-off
    // ones, with clears between rounds: every key that enters a full sketch takes
    // over an entry whose count was the smallest of all, and inherits it as err.
    SpaceSaving<Key, NoAux, 16> ss;
    std::mt19937_64 rng(11);
    uint64_t replaced = 0;
    for (int round = 0; round < 4; ++round) {
        ss.clear();
        uint64_t sum = 0;
        for (int i = 0; i < 50'000; ++i) {
            const Key k = rng() % 4 == 0 ? Key{rng() % 8, 1} : Key{rng(), 2};
            const uint32_t w = 1u << (rng() % 7);
            const bool full = ss.size() == 16;
            uint32_t least = UINT32_MAX;
            ss.for_each([&](const auto& e) { least = std::min(least, e.count); });
            bool fresh = false;
            const auto& e = ss.add(k, hash_key(k, 42), w, fresh);
            sum += w;
            if (fresh && full) {
                ++replaced;
                ASSERT_EQ(e.err, least) << "round " << round << ", add " << i;
                ASSERT_EQ(e.count, least + w);
            }
        }
        uint64_t counted = 0;
        ss.for_each([&](const auto& e) { counted += e.count - e.err; });
        EXPECT_LE(counted, sum);
        EXPECT_EQ(ss.total(), sum);
    }
    EXPECT_GT(replaced, 100'000u);
}

TEST(Sketch, LinearCountingMergesWithoutDoubleCounting) {
    Distinct a, b;
    for (uint64_t i = 0; i < 600; ++i) a.add(mix64(i));
    for (uint64_t i = 300; i < 900; ++i) b.add(mix64(i));
    EXPECT_NEAR(a.estimate(), 600, 40);
    a.merge(b);
    EXPECT_NEAR(a.estimate(), 900, 70);  // the union, not 1200
}

TEST(Sketch, CountMinGaugeReturnsToZero) {
    CountMin<1024, 4> cm;
    for (uint64_t k = 0; k < 5000; ++k) cm.add(mix64(k), 1);
    for (int i = 0; i < 3000; ++i) cm.add(mix64(77777), 1);
    EXPECT_GE(cm.estimate(mix64(77777)), 3000);
    EXPECT_LE(cm.estimate(mix64(77777)), 3050);
    for (uint64_t k = 0; k < 5000; ++k) cm.add(mix64(k), -1);
    for (int i = 0; i < 3000; ++i) cm.add(mix64(77777), -1);
    EXPECT_EQ(cm.estimate(mix64(77777)), 0);
}

TEST(Detector, MemoryIsFixed) {
    // Millions of distinct spoofed sources, each opening a half-open connection
    // on the victim: nothing allocates, the victim stays on top, its gauge is right.
    DetectConfig cfg;
    auto det = std::make_unique<Detector>(cfg);
    const parse::Addr victim = v4(192, 0, 2, 80);
    parse::PacketView syn{}, synack{};
    syn.kind = synack.kind = parse::Kind::Tcp;
    syn.flags = fl::Syn;
    synack.flags = fl::Syn | fl::Ack;
    syn.dst = synack.src = victim;
    syn.dport = synack.sport = 80;
    std::vector<IntervalReport> last(1);
    uint64_t reports = 0;
    auto take = [&](const IntervalReport& r) {
        last[0] = r;  // no allocation: the vector was sized before
        ++reports;
        return true;
    };
    const uint64_t probe = g_allocs.load();
    { auto p = std::make_unique<int>(1); benchmark_guard(p.get()); }
    ASSERT_GT(g_allocs.load(), probe) << "the allocation counter does not count";
    const uint64_t before = g_allocs.load();
    uint64_t ts = at(0);
    constexpr uint32_t kSources = 3'000'000;
    for (uint32_t i = 0; i < kSources; ++i, ts += 1) {  // 1M SYN/s
        syn.src = synack.dst = v4(0x0a000000u + i);
        syn.sport = synack.dport = static_cast<uint16_t>(1024 + i % 60000);
        det->on_packet(syn, ts);
        det->on_packet(synack, ts);
        det->half_open_enter(victim, 80);
        if (i % 2) det->half_open_leave(victim, 80, Detector::Leave::Ended);
        det->drain(take);
    }
    det->finish(ts);
    det->drain(take);
    EXPECT_EQ(g_allocs.load() - before, 0u) << "the detector allocated on the packet path";
    EXPECT_EQ(reports, kSources / 10'000);
    EXPECT_EQ(det->reports_dropped(), 0u);
    const int32_t gauge = det->half_open(victim, 80);
    EXPECT_GE(gauge, static_cast<int32_t>(kSources / 2));
    EXPECT_LE(gauge, static_cast<int32_t>(kSources / 2 + 1000));
    const IntervalReport& r = last[0];
    ASSERT_GE(r.n_victims, 1u);
    EXPECT_EQ(r.victims[0].key.host, victim);
    EXPECT_EQ(r.victims[0].key.port, 80);
    EXPECT_EQ(r.victims[0].syn + r.victims[0].syn_err, r.syn);
    EXPECT_EQ(r.victims[0].half_open, gauge);
    EXPECT_LE(r.n_sources, kReportSources);
}

TEST(Detector, MergeWaitsForEveryWorker) {
    // Interval 5 is decided only once both workers have reported it or moved past.
    AlertConfig acfg;
    acfg.syn_rate_min = 1000;
    acfg.onset_intervals = 1;
    AlertEngine eng(acfg, 2);
    auto report = [](uint64_t iv, uint32_t syn) {
        IntervalReport r{};
        r.interval = iv;
        r.interval_us = 10'000;
        r.window_intervals = 100;
        r.window = iv / 100;
        r.n_victims = 1;
        r.victims[0].key.host = v4(192, 0, 2, 1);
        r.victims[0].key.port = 80;
        r.victims[0].syn = syn;
        r.victims[0].first_us = r.victims[0].last_us = iv * 10'000 + 1;
        return r;
    };
    eng.submit(0, report(5, 6));  // 600 SYN/s: under the threshold alone
    EXPECT_EQ(eng.stats().intervals, 0u);
    eng.submit(1, report(5, 6));  // together 1200 SYN/s
    EXPECT_EQ(eng.stats().intervals, 1u);
    ASSERT_EQ(eng.events().size(), 1u);
    EXPECT_EQ(eng.events()[0].kind, AlertEvent::Kind::Start);
    eng.submit(0, report(9, 0));
    EXPECT_EQ(eng.stats().intervals, 1u);  // worker 1 has not moved past 6..8 yet
    eng.submit(1, report(7, 0));
    EXPECT_EQ(eng.stats().intervals, 2u);
}

// The probe sampler's running stride against the rule it keeps: probe k (from 0)
// of an interval weighs 1 below the budget B, else 2^min(6, bit width of k / B) if
// k is a multiple of that, and 0 otherwise; reset() starts an interval afresh.
TEST(ProbeSampler, StrideDoublesAtTheBudgetsMultiplesUpTo64) {
    for (uint32_t budget : {0u, 1u, 3u, 256u, 1000u}) {
        const uint64_t b = std::max<uint32_t>(budget, 1);
        auto rule = [b](uint64_t k) -> uint32_t {
            if (k < b) return 1;
            const uint64_t over = k / b;
            const uint32_t w = 1u << std::min(6, 64 - __builtin_clzll(over));
            return k % w == 0 ? w : 0;
        };
        ProbeSampler s(budget);
        for (int interval = 0; interval < 2; ++interval) {
            uint64_t weighed = 0, counted = 0;
            const uint64_t n = 70 * b + 123;
            for (uint64_t k = 0; k < n; ++k) {
                const uint32_t w = s.next();
                ASSERT_EQ(w, rule(k)) << "budget " << budget << ", probe " << k;
                weighed += w;
                counted += w != 0;
            }
            EXPECT_GE(weighed, n - 64) << budget;  // every counted probe stands for the ones it skipped
            EXPECT_LE(counted, b + n / 2) << budget;
            s.reset();
        }
    }
}

}  // namespace
}  // namespace ws::detect::testing
