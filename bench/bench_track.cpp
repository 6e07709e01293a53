// Per-packet cost of the tracker, with and without the flow-table lookup, at 1K,
// 1M and 16M live connections. The table is the pipeline's: rte_hash under a real
// EAL (--no-huge), one writer, bulk lookups with prefetch, as a worker runs it.
#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <rte_errno.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "engine/shard.hpp"
#include "flow/flow_key.hpp"
#include "rte_table.hpp"
#include "track/tracker.hpp"

namespace {

using namespace ws;

parse::PacketView view_of(uint32_t i, bool from_client, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len) {
    parse::PacketView v{};
    v.kind = parse::Kind::Tcp;
    v.ip_version = 4;
    parse::Addr c{}, s{};
    c[10] = c[11] = s[10] = s[11] = 0xff;
    c[12] = 10;
    c[13] = static_cast<uint8_t>(i >> 16);
    c[14] = static_cast<uint8_t>(i >> 8);
    c[15] = static_cast<uint8_t>(i);
    s[12] = 192;
    s[13] = 168;
    s[14] = static_cast<uint8_t>(i >> 24);
    s[15] = 1;
    uint16_t cport = static_cast<uint16_t>(1024 + (i % 60000)), sport = 443;
    v.src = from_client ? c : s;
    v.dst = from_client ? s : c;
    v.sport = from_client ? cport : sport;
    v.dport = from_client ? sport : cport;
    v.flags = flags;
    v.seq = seq;
    v.ack = ack;
    v.window = 502;
    v.payload_len = len;
    v.ip_len = 40 + len;
    v.tcp_hdr_len = 20;
    return v;
}

// N established connections (handshake done) and, per connection, the next data segment.
struct Population {
    std::vector<flow::FlowKey> keys;
    std::vector<bool> sender_lo;
    std::vector<parse::PacketView> next;
    explicit Population(uint32_t n) : keys(n), sender_lo(n), next(n) {
        for (uint32_t i = 0; i < n; ++i) {
            next[i] = view_of(i, true, parse::flag::Ack | parse::flag::Psh, 1001, 5001, 100);
            sender_lo[i] = flow::make_key(next[i], keys[i]);
        }
    }
    void open(uint32_t i, track::Conn& c, track::ConnCold& cold, const track::TrackerConfig& cfg) const {
        auto syn = view_of(i, true, parse::flag::Syn, 1000, 0, 0);
        auto synack = view_of(i, false, parse::flag::Syn | parse::flag::Ack, 5000, 1001, 0);
        auto ack = view_of(i, true, parse::flag::Ack, 1001, 5001, 0);
        flow::FlowKey k;
        bool lo = flow::make_key(syn, k);
        track::init(c, cold, syn, lo, 1000);
        track::update(c, cold, synack, !lo, 1100, cfg);
        track::update(c, cold, ack, lo, 1200, cfg);
    }
};

// Random visiting order over the live connections: a span port interleaves flows.
std::vector<uint32_t> order_of(uint32_t n) {
    std::vector<uint32_t> o(1u << 20);
    std::mt19937 rng(42);
    for (auto& x : o) x = static_cast<uint32_t>(rng() % n);
    return o;
}

void BM_TrackerUpdate(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    Population pop(n);
    track::TrackerConfig cfg;
    std::vector<track::Conn, std::allocator<track::Conn>> conns(n);
    std::vector<track::ConnCold> cold(n);
    for (uint32_t i = 0; i < n; ++i) pop.open(i, conns[i], cold[i], cfg);
    auto order = order_of(n);
    size_t k = 0;
    uint64_t ts = 2000;
    for (auto _ : state) {
        uint32_t i = order[k++ & (order.size() - 1)];
        auto& v = pop.next[i];
        benchmark::DoNotOptimize(track::update(conns[i], cold[i], v, pop.sender_lo[i], ++ts, cfg));
        v.seq += v.payload_len;
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
    state.counters["hot_bytes_per_conn"] = sizeof(track::Conn);
    state.counters["cold_bytes_per_conn"] = sizeof(track::ConnCold);
}

// The worker's per-packet path minus parsing: bulk rte_hash lookup of a burst,
// prefetch of the records, tracker update.
void BM_LookupAndUpdate(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    Population pop(n);
    track::TrackerConfig cfg;
    pipeline::RteTable table(n + n / 8, 0, 99);
    std::vector<track::Conn> conns(table.capacity());
    std::vector<track::ConnCold> cold(table.capacity());
    for (uint32_t i = 0; i < n; ++i) {
        int32_t ix = table.add(pop.keys[i]);
        if (ix < 0) {
            state.SkipWithError("table full");
            return;
        }
        pop.open(i, conns[static_cast<size_t>(ix)], cold[static_cast<size_t>(ix)], cfg);
    }
    auto order = order_of(n);
    size_t k = 0;
    uint64_t ts = 2000;
    constexpr uint32_t kB = 32;
    flow::FlowKey keys[kB];
    uint32_t which[kB];
    int32_t idx[kB];
    for (auto _ : state) {
        for (uint32_t j = 0; j < kB; ++j) {
            which[j] = order[k++ & (order.size() - 1)];
            keys[j] = pop.keys[which[j]];
        }
        table.lookup_bulk(keys, kB, idx);
        for (uint32_t j = 0; j < kB; ++j) __builtin_prefetch(&conns[static_cast<size_t>(idx[j])], 1, 3);
        for (uint32_t j = 0; j < kB; ++j) {
            auto& v = pop.next[which[j]];
            auto ix = static_cast<size_t>(idx[j]);
            benchmark::DoNotOptimize(track::update(conns[ix], cold[ix], v, pop.sender_lo[which[j]], ++ts, cfg));
            v.seq += v.payload_len;
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kB);
}

}  // namespace

BENCHMARK(BM_TrackerUpdate)->Arg(1 << 10)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_LookupAndUpdate)->Arg(1 << 10)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kNanosecond);

int main(int argc, char** argv) {
    char prog[] = "bench-track";
    char a1[] = "--no-huge", a2[] = "--no-pci", a3[] = "--no-shconf", a4[] = "-m", a5[] = "6144",
         a6[] = "--log-level=lib.*:error", a7[] = "--no-telemetry", a8[] = "-l", a9[] = "0";
    char* eal[] = {prog, a1, a2, a3, a4, a5, a6, a7, a8, a9};
    if (rte_eal_init(10, eal) < 0) {
        std::fprintf(stderr, "bench-track: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
        return 2;
    }
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    rte_eal_cleanup();
    return 0;
}
