// Per-packet cost of the tracker, with and without the flow-table lookup, at 1K,
// 1M and 16M live connections. The tables are the pipeline's: engine::FlowTable,
// and rte_hash under a real EAL (--no-huge), one writer, bulk lookups with
// prefetch, as a worker runs them.
#include <benchmark/benchmark.h>

#include "eal_main.hpp"
#include <rte_eal.h>
#include <rte_errno.h>

#include <immintrin.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "engine/flow_table.hpp"
#include "engine/shard.hpp"
#include "flow/flow_key.hpp"
#include "mem/region.hpp"
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

constexpr uint32_t kPayload = 100;

// N connections with data flowing: handshake done and the client's first data
// segment seen, so that every packet of the stream below is an ordinary segment
// of an established connection. (A connection's first data segment also writes
// its 'D' history letter, on a cold line nothing prefetches: before 2026-11-22
// the stream carried it, on one packet in eight at 1M connections and on every
// packet at 16M.)
struct Population {
    std::vector<flow::FlowKey> keys;
    explicit Population(uint32_t n) : keys(n) {
        for (uint32_t i = 0; i < n; ++i) flow::make_key(view_of(i, true, parse::flag::Ack, 1001, 5001, 0), keys[i]);
    }
    void open(uint32_t i, track::Conn& c, track::ConnCold& cold, const track::TrackerConfig& cfg) const {
        auto syn = view_of(i, true, parse::flag::Syn, 1000, 0, 0);
        auto synack = view_of(i, false, parse::flag::Syn | parse::flag::Ack, 5000, 1001, 0);
        auto ack = view_of(i, true, parse::flag::Ack, 1001, 5001, 0);
        auto data = view_of(i, true, parse::flag::Ack | parse::flag::Psh, 1001, 5001, kPayload);
        flow::FlowKey k;
        bool lo = flow::make_key(syn, k);
        track::init(c, cold, syn, lo, 1000);
        track::update(c, cold, synack, !lo, 1100, cfg);
        track::update(c, cold, ack, lo, 1200, cfg);
        track::update(c, cold, data, lo, 1300, cfg);
    }
};

// The packets, in arrival order: which connection and its sequence number. A span
// port interleaves flows at random; a worker finds each packet in a freshly
// written mbuf, so the stream is read sequentially and the view is built from it
// arithmetically (no memory access): only connection state and table are random.
struct Arrival {
    uint32_t conn;
    uint32_t seq;
};
std::vector<Arrival> stream_of(uint32_t n) {
    std::vector<Arrival> st(1u << 23);
    std::vector<uint32_t> next(n, 1001 + kPayload);  // after open()'s data segment
    std::mt19937 rng(42);
    for (auto& a : st) {
        a.conn = static_cast<uint32_t>(rng() % n);
        a.seq = next[a.conn];
        next[a.conn] += kPayload;
    }
    return st;
}

inline parse::PacketView arrival_view(const Arrival& a) {
    return view_of(a.conn, true, parse::flag::Ack | parse::flag::Psh, a.seq, 5001, kPayload);
}

// An IPv4-mapped address written with one 16-byte store, as the parser's copy of
// an address is: the key's loads from it are then forwarded from the store buffer
// (a view built byte by byte, then copied whole, stalls every load of the copy and
// times the store buffer instead of the tracker).
inline void store_mapped(parse::Addr& a, uint32_t ip) noexcept {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(a.data()),
                     _mm_set_epi32(static_cast<int>(__builtin_bswap32(ip)), static_cast<int>(0xffff0000u), 0, 0));
}

// Rewrites in place what differs between two arrivals' views (the rest, set once
// from arrival_view, is the same for every data segment of the stream).
inline void set_arrival(parse::PacketView& v, const Arrival& a) noexcept {
    const uint32_t i = a.conn;
    store_mapped(v.src, (10u << 24) | (i & 0xffffffu));
    store_mapped(v.dst, (192u << 24) | (168u << 16) | ((i >> 24) << 8) | 1u);
    v.sport = static_cast<uint16_t>(1024 + (i % 60000));
    v.seq = a.seq;
}

void BM_TrackerUpdate(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    Population pop(n);
    track::TrackerConfig cfg;
    mem::Array<track::Conn> conns(n);
    mem::Array<track::ConnCold> cold(n);
    for (uint32_t i = 0; i < n; ++i) pop.open(i, conns[i], cold[i], cfg);
    auto stream = stream_of(n);
    parse::PacketView v = arrival_view(stream[0]);
    size_t k = 0;
    uint64_t ts = 2000;
    for (auto _ : state) {
        if (k == stream.size()) {
            state.PauseTiming();  // past the prepared stream: start the connections over
            for (uint32_t i = 0; i < n; ++i) pop.open(i, conns[i], cold[i], cfg);
            k = 0;
            state.ResumeTiming();
        }
        const Arrival& a = stream[k++];
        set_arrival(v, a);
        flow::FlowKey key;
        bool lo = flow::make_key(v, key);
        benchmark::DoNotOptimize(track::update(conns[a.conn], cold[a.conn], v, lo, ++ts, cfg));
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
    state.counters["hot_bytes_per_conn"] = sizeof(track::Conn);
    state.counters["cold_bytes_per_conn"] = sizeof(track::ConnCold);
}

// The worker's per-packet path minus parsing: bulk lookup of a burst, prefetch of
// each record (hot line and the cold line a data segment writes) a few packets
// ahead, tracker update. On either flow table, built as a worker builds it:
// engine::FlowTable, or rte_hash in a heap of its own.
template <class Table>
void lookup_and_update(benchmark::State& state, Table& table) {
    const auto n = static_cast<uint32_t>(state.range(0));
    Population pop(n);
    track::TrackerConfig cfg;
    mem::Array<track::Conn> conns(table.capacity());  // as engine::Shard keeps them
    mem::Array<track::ConnCold> cold(table.capacity());
    std::vector<int32_t> slot(n);
    for (uint32_t i = 0; i < n; ++i) {
        slot[i] = table.add(pop.keys[i]);
        if (slot[i] < 0) {
            state.SkipWithError("table full");
            return;
        }
        pop.open(i, conns[static_cast<size_t>(slot[i])], cold[static_cast<size_t>(slot[i])], cfg);
    }
    auto stream = stream_of(n);
    size_t k = 0;
    uint64_t ts = 2000;
    constexpr uint32_t kB = 32;
    parse::PacketView views[kB];
    for (auto& v : views) v = arrival_view(stream[0]);
    flow::FlowKey keys[kB];
    bool lo[kB];
    int32_t idx[kB];
    for (auto _ : state) {
        if (k + kB > stream.size()) {
            state.PauseTiming();
            for (uint32_t i = 0; i < n; ++i)
                pop.open(i, conns[static_cast<size_t>(slot[i])], cold[static_cast<size_t>(slot[i])], cfg);
            k = 0;
            state.ResumeTiming();
        }
        for (uint32_t j = 0; j < kB; ++j) {
            set_arrival(views[j], stream[k++]);
            lo[j] = flow::make_key(views[j], keys[j]);
        }
        table.lookup_bulk(keys, kB, idx);
        // As engine::Shard does: each record prefetched kPrefetchAhead packets before its update.
        auto prefetch = [&](uint32_t j) {
            auto ix = static_cast<size_t>(idx[j]);
            __builtin_prefetch(&conns[ix], 1, 3);
            __builtin_prefetch(&cold[ix], 1, 3);  // line 0: what a segment writes
        };
        constexpr uint32_t kAhead = engine::kPrefetchAhead;
        for (uint32_t j = 0; j < kAhead; ++j) prefetch(j);
        for (uint32_t j = 0; j < kB; ++j) {
            if (j + kAhead < kB) prefetch(j + kAhead);
            auto ix = static_cast<size_t>(idx[j]);
            benchmark::DoNotOptimize(track::update(conns[ix], cold[ix], views[j], lo[j], ++ts, cfg));
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kB);
}

// The memory system's share of BM_LookupAndUpdate_FlowTable: the same three random
// lines per packet (a bucket; then, at an index read from it, as a lookup finds
// it, the hot line and cold line 0 of the record, read and written), in arrays of
// the same sizes, with the same burst and prefetch pattern, and nothing computed
// besides. A path that touches these lines cannot go below it on this machine.
// Without the software prefetches (prefetch_lines false), only the core's own
// out-of-order window overlaps the misses: the difference is what prefetching buys.
void memory_floor(benchmark::State& state, bool prefetch_lines) {
    const auto n = static_cast<uint32_t>(state.range(0));
    const uint32_t cap = n + n / 8;
    const uint32_t nb = engine::FlowTable(cap).buckets();  // maps, touches nothing
    struct alignas(64) Line {
        uint32_t ix[16];
    };
    mem::Array<Line> buckets(nb);
    mem::Array<track::Conn> conns(cap);
    mem::Array<track::ConnCold> cold(cap);
    auto bucket_of = [&](uint32_t c) { return static_cast<uint32_t>(flow::mix64(c)) & (nb - 1); };
    for (uint32_t i = 0; i < n; ++i) {
        buckets[bucket_of(i)].ix[i & 15] = i;  // a shared slot keeps the last: still an index at random
        conns[i].pkts[0] = 1;
        cold[i].ip_bytes[0] = 1;
    }
    auto stream = stream_of(n);
    size_t k = 0;
    constexpr uint32_t kB = 32;
    uint32_t conn[kB], b[kB], idx[kB];
    for (auto _ : state) {
        if (k + kB > stream.size()) k = 0;
        for (uint32_t j = 0; j < kB; ++j) {
            conn[j] = stream[k++].conn;
            b[j] = bucket_of(conn[j]);
            if (prefetch_lines) __builtin_prefetch(&buckets[b[j]], 0, 3);
        }
        for (uint32_t j = 0; j < kB; ++j) idx[j] = buckets[b[j]].ix[conn[j] & 15];
        auto prefetch = [&](uint32_t j) {
            if (!prefetch_lines) return;
            __builtin_prefetch(&conns[idx[j]], 1, 3);
            __builtin_prefetch(&cold[idx[j]], 1, 3);
        };
        constexpr uint32_t kAhead = engine::kPrefetchAhead;
        for (uint32_t j = 0; j < kAhead; ++j) prefetch(j);
        for (uint32_t j = 0; j < kB; ++j) {
            if (j + kAhead < kB) prefetch(j + kAhead);
            conns[idx[j]].pkts[0] += 1;
            cold[idx[j]].ip_bytes[0] += kPayload;
        }
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kB);
}

void BM_MemoryFloor(benchmark::State& state) { memory_floor(state, true); }
void BM_MemoryFloorNoPrefetch(benchmark::State& state) { memory_floor(state, false); }

void BM_LookupAndUpdate_FlowTable(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    engine::FlowTable table(n + n / 8);  // as a worker sizes it
    lookup_and_update(state, table);
}

void BM_LookupAndUpdate_RteHash(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    pipeline::WorkerTable owned(n + n / 8, 0, 99);
    lookup_and_update(state, owned.get());
}

}  // namespace

BENCHMARK(BM_TrackerUpdate)->Arg(1 << 10)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_MemoryFloor)->Arg(1 << 10)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_MemoryFloorNoPrefetch)->Arg(1 << 20)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_LookupAndUpdate_FlowTable)->Arg(1 << 10)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_LookupAndUpdate_RteHash)->Arg(1 << 10)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kNanosecond);

int main(int argc, char** argv) { return ws::bench::run_under_eal(argc, argv, "bench-track"); }
