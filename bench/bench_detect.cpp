// Cost of detection on the worker's packet path: engine::Shard::process (parse,
// flow-table bulk lookup, tracking, on either table) with the detector on and off, on the common
// case (data segments of established connections) and under a spoofed SYN
// flood (every packet a new half-open connection); and Detector::on_packet
// alone. ns/packet = time per iteration / packets per iteration.
#include <benchmark/benchmark.h>

#include "eal_main.hpp"
#include <rte_eal.h>
#include <rte_errno.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "detect/detector.hpp"
#include "flow/hash.hpp"
#include "engine/flow_table.hpp"
#include "engine/shard.hpp"
#include "rte_table.hpp"

namespace {

using namespace ws;
namespace fl = parse::flag;

constexpr uint32_t kBurst = 32;

struct Frame {
    uint8_t b[40];
};

void put16(uint8_t* q, uint32_t v) { q[0] = static_cast<uint8_t>(v >> 8), q[1] = static_cast<uint8_t>(v); }
void put32(uint8_t* q, uint32_t v) { put16(q, v >> 16), put16(q + 2, v & 0xffffu); }

// Raw IPv4 + TCP, payload announced (len) but not captured.
Frame frame(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack,
            uint32_t len) {
    Frame f{};
    f.b[0] = 0x45;
    put16(f.b + 2, 40 + len);
    f.b[8] = 64;
    f.b[9] = 6;
    put32(f.b + 12, src);
    put32(f.b + 16, dst);
    put16(f.b + 20, sport);
    put16(f.b + 22, dport);
    put32(f.b + 24, seq);
    put32(f.b + 28, ack);
    f.b[32] = 5 << 4;
    f.b[33] = flags;
    put16(f.b + 34, 65535);
    return f;
}

struct NullSink {
    bool operator()(const track::ConnRecord&) noexcept { return true; }
};
unsigned g_table_id = 0;

// A shard on either flow table (argument `table`: 0 = engine::FlowTable, the
// workers' default; 1 = rte_hash), built as a worker builds it.
struct Bench {
    NullSink sink;
    std::unique_ptr<engine::FlowTable> compact;
    std::unique_ptr<pipeline::WorkerTable> rte;
    std::unique_ptr<engine::Shard<engine::FlowTable, NullSink>> on_compact;
    std::unique_ptr<engine::Shard<pipeline::RteTable, NullSink>> on_rte;

    Bench(uint32_t cap, bool detect, bool use_rte) {
        engine::ShardConfig cfg;
        cfg.link = parse::Link::Raw;
        cfg.detect.enabled = detect;
        if (use_rte) {
            rte = std::make_unique<pipeline::WorkerTable>(cap, 0, 100 + g_table_id++);
            on_rte = std::make_unique<engine::Shard<pipeline::RteTable, NullSink>>(rte->get(), sink, cfg);
        } else {
            compact = std::make_unique<engine::FlowTable>(cap);
            on_compact = std::make_unique<engine::Shard<engine::FlowTable, NullSink>>(*compact, sink, cfg);
        }
    }
    template <class F>
    void with(F&& f) {
        if (on_rte) f(*on_rte);
        else f(*on_compact);
    }
};

// Data segments of N established connections, in random order, 10 us apart in
// capture time (100 kpps: every 10 ms interval closes and reports on the way).
template <class Shard>
void established(benchmark::State& state, Shard& shard, uint32_t n) {
    std::vector<Frame> data(n);
    std::vector<uint32_t> seq(n);
    uint64_t ts = 1'600'000'000ull * 1'000'000ull;
    engine::RawPacket raw[kBurst];
    for (uint32_t i = 0; i < n; ++i) {
        const uint32_t c = 0x0a000000u + i, s = 0xc0000201u;
        const auto cp = static_cast<uint16_t>(1024 + i % 60000);
        Frame hs[3] = {frame(c, s, cp, 443, fl::Syn, 1000, 0, 0), frame(s, c, 443, cp, fl::Syn | fl::Ack, 5000, 1001, 0),
                       frame(c, s, cp, 443, fl::Ack, 1001, 5001, 0)};
        for (auto& f : hs) {
            raw[0] = {f.b, 40, ts += 10};
            shard.process(raw, 1);
        }
        data[i] = frame(c, s, cp, 443, fl::Ack | fl::Psh, 1001, 5001, 100);
        seq[i] = 1001;
    }
    std::mt19937 rng(1);
    std::vector<uint32_t> order(1u << 16);
    for (auto& x : order) x = static_cast<uint32_t>(rng() % n);
    size_t k = 0;
    auto drain = [](const detect::IntervalReport& r) {
        benchmark::DoNotOptimize(r.n_victims);
        return true;
    };
    for (auto _ : state) {
        for (uint32_t j = 0; j < kBurst; ++j) {
            const uint32_t i = order[k++ & (order.size() - 1)];
            put32(data[i].b + 24, seq[i]);
            seq[i] += 100;
            raw[j] = {data[i].b, 40, ts += 10};
        }
        shard.process(raw, kBurst);
        shard.detector().drain(drain);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
    state.counters["ns_per_pkt"] = benchmark::Counter(static_cast<double>(state.iterations()) * kBurst,
                                                      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_ShardEstablished(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    Bench b(n + n / 4 + 64, state.range(1) != 0, state.range(2) != 0);
    b.with([&](auto& shard) { established(state, shard, n); });
}

// A spoofed SYN flood: every packet a SYN from a new source to one server, so
// every packet creates a connection, and (the table's embryonic share being
// full) evicts the oldest half-open one. 1 us apart: 1 Mpps.
template <class Shard>
void syn_flood(benchmark::State& state, Shard& shard) {
    std::vector<Frame> f(kBurst);
    for (auto& x : f) x = frame(0, 0xc0000250u, 0, 80, fl::Syn, 0, 0, 0);
    uint64_t ts = 1'600'000'000ull * 1'000'000ull;
    uint32_t src = 0x0a000000u;
    engine::RawPacket raw[kBurst];
    auto drain = [](const detect::IntervalReport& r) {
        benchmark::DoNotOptimize(r.n_victims);
        return true;
    };
    for (auto _ : state) {
        for (uint32_t j = 0; j < kBurst; ++j) {
            ++src;
            put32(f[j].b + 12, src);
            put16(f[j].b + 20, 1024 + (src & 0x7fff));
            put32(f[j].b + 24, src * 2654435761u);
            raw[j] = {f[j].b, 40, ts += 1};
        }
        shard.process(raw, kBurst);
        shard.sweep(ts);
        shard.detector().drain(drain);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
    state.counters["ns_per_pkt"] = benchmark::Counter(static_cast<double>(state.iterations()) * kBurst,
                                                      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_ShardSynFlood(benchmark::State& state) {
    Bench b(1u << 16, state.range(0) != 0, state.range(1) != 0);
    b.with([&](auto& shard) { syn_flood(state, shard); });
}

// Detector::on_packet alone: the ordinary-segment fast path (syn=0); SYNs from
// spoofed sources to one victim (syn=1, a flood: the out-of-line path, four sketch
// updates); SYNs of ordinary connection set-up (syn=2: 1,000 clients opening
// connections to 1,000 servers at random, so that most SYNs name a victim and a
// pair the sketches do not hold and take over their smallest entry).
void BM_DetectorOnPacket(benchmark::State& state) {
    const bool syn = state.range(0) != 0;
    const bool spread = state.range(0) == 2;
    auto det = std::make_unique<detect::Detector>();
    parse::PacketView v{};
    v.kind = parse::Kind::Tcp;
    v.flags = syn ? fl::Syn : (fl::Ack | fl::Psh);
    v.src[10] = v.src[11] = v.dst[10] = v.dst[11] = 0xff;
    v.dst[12] = 192, v.dst[15] = 80;
    v.dport = 80;
    uint64_t ts = 1'600'000'000ull * 1'000'000ull;
    uint32_t src = 0;
    auto drain = [](const detect::IntervalReport& r) {
        benchmark::DoNotOptimize(r.n_victims);
        return true;
    };
    for (auto _ : state) {
        ++src;
        std::memcpy(v.src.data() + 12, &src, 4);
        v.sport = static_cast<uint16_t>(src);
        if (spread) {
            const auto x = static_cast<uint32_t>(flow::mix64(src));
            const uint32_t client = x % 1000, server = (x >> 16) % 1000;
            std::memcpy(v.src.data() + 12, &client, 4);
            std::memcpy(v.dst.data() + 12, &server, 4);
        }
        det->on_packet(v, ts += 1);
        if ((src & 1023) == 0) det->drain(drain);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

}  // namespace

BENCHMARK(BM_ShardEstablished)
    ->ArgsProduct({{1 << 10, 1 << 16, 1 << 20}, {0, 1}, {0, 1}})
    ->ArgNames({"conns", "detect", "rte_hash"});
BENCHMARK(BM_ShardSynFlood)->ArgsProduct({{0, 1}, {0, 1}})->ArgNames({"detect", "rte_hash"});
BENCHMARK(BM_DetectorOnPacket)->Arg(0)->Arg(1)->Arg(2)->ArgName("syn");

int main(int argc, char** argv) { return ws::bench::run_under_eal(argc, argv, "bench-detect"); }
