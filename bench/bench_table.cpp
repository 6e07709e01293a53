// The flow tables on their own: insert and 32-key burst lookup at 1K, 1M and 16M
// entries, for engine::FlowTable and for rte_hash (one writer, EXT_TABLE, in a heap
// of its own as a worker's table is without hugepages); the cost of formatting a finished connection for conn.log
// (TSV and JSON), which the management core pays once per connection; and the
// random-access memory throughput that bounds any table at scale.
#include <benchmark/benchmark.h>

#include "eal_main.hpp"
#include <rte_eal.h>
#include <rte_errno.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/flow_table.hpp"
#include "flow/flow_key.hpp"
#include "mem/region.hpp"
#include "report/conn_log.hpp"
#include "rte_table.hpp"

namespace {

using namespace ws;

flow::FlowKey key_of(uint32_t i) {
    flow::FlowKey k{};
    k.lo_addr[10] = k.lo_addr[11] = k.hi_addr[10] = k.hi_addr[11] = 0xff;
    k.lo_addr[12] = 10;
    k.lo_addr[13] = static_cast<uint8_t>(i >> 16);
    k.lo_addr[14] = static_cast<uint8_t>(i >> 8);
    k.lo_addr[15] = static_cast<uint8_t>(i);
    k.hi_addr[12] = 192;
    k.hi_addr[13] = 168;
    k.hi_addr[14] = static_cast<uint8_t>(i >> 24);
    k.hi_addr[15] = 1;
    k.lo_port = static_cast<uint16_t>(1024 + i % 60000);
    k.hi_port = 443;
    k.proto = 6;
    return k;
}

// Inserts n keys into an empty table (then deletes them, untimed, and repeats).
template <class Table>
void table_insert(benchmark::State& state, Table& table) {
    const auto n = static_cast<uint32_t>(state.range(0));
    std::vector<flow::FlowKey> keys(n);
    for (uint32_t i = 0; i < n; ++i) keys[i] = key_of(i);
    // Untimed first pass: the memory is faulted in, as a running worker's table is.
    for (uint32_t i = 0; i < n; ++i) table.add(keys[i]);
    for (uint32_t i = 0; i < n; ++i) table.del(keys[i]);
    for (auto _ : state) {
        for (uint32_t i = 0; i < n; ++i) benchmark::DoNotOptimize(table.add(keys[i]));
        state.PauseTiming();
        for (uint32_t i = 0; i < n; ++i) table.del(keys[i]);
        state.ResumeTiming();
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
}

// Bursts of 32 random live keys, as a worker looks up a received burst.
template <class Table>
void table_burst_lookup(benchmark::State& state, Table& table) {
    const auto n = static_cast<uint32_t>(state.range(0));
    for (uint32_t i = 0; i < n; ++i) table.add(key_of(i));
    std::vector<flow::FlowKey> probe(1u << 20);
    std::mt19937 rng(3);
    for (auto& k : probe) k = key_of(static_cast<uint32_t>(rng() % n));
    constexpr uint32_t kB = 32;
    int32_t idx[kB];
    size_t at = 0;
    for (auto _ : state) {
        table.lookup_bulk(&probe[at], kB, idx);
        benchmark::DoNotOptimize(idx);
        at = (at + kB) & (probe.size() - 1);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kB);
}

// Each table built as a worker builds it, for n live connections plus an eighth.
void BM_TableInsert_FlowTable(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    engine::FlowTable table(n + n / 8);
    table_insert(state, table);
}
void BM_TableInsert_RteHash(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    pipeline::WorkerTable owned(n + n / 8, 0, 90);
    table_insert(state, owned.get());
}
void BM_TableBurstLookup_FlowTable(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    engine::FlowTable table(n + n / 8);
    table_burst_lookup(state, table);
}
void BM_TableBurstLookup_RteHash(benchmark::State& state) {
    const auto n = static_cast<uint32_t>(state.range(0));
    pipeline::WorkerTable owned(n + n / 8, 0, 91);
    table_burst_lookup(state, owned.get());
}

// What this machine's memory allows, whatever the table: read-modify-write of
// random 64-byte lines in 1 GiB (as the per-worker arrays are mapped: mem::Region,
// THP where available), `batch` lines prefetched before any is used. A table at 1M+
// connections pays about this per distinct line a packet touches.
void BM_RandomLines(benchmark::State& state) {
    const auto batch = static_cast<uint32_t>(state.range(0));
    constexpr size_t kBytes = size_t{1} << 30, kLines = kBytes / 64;
    mem::Array<uint8_t> region(kBytes);
    std::memset(region.data(), 1, kBytes);  // faulted in before timing
    std::vector<uint32_t> line(1u << 22);
    std::mt19937 rng(5);
    for (auto& l : line) l = static_cast<uint32_t>(rng() % kLines);
    size_t at = 0;
    for (auto _ : state) {
        for (uint32_t j = 0; j < batch; ++j) __builtin_prefetch(&region[size_t{line[at + j]} * 64], 1, 3);
        for (uint32_t j = 0; j < batch; ++j) ++region[size_t{line[at + j]} * 64];
        at = (at + batch) & (line.size() - 1);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * batch);
}

track::ConnRecord sample_record() {
    track::ConnRecord r{};
    r.ts_us = 1'600'000'000'123'456;
    r.duration_us = 210'000;
    r.orig_h = key_of(7).lo_addr;
    r.resp_h = key_of(7).hi_addr;
    r.orig_p = 41033;
    r.resp_p = 443;
    r.orig_bytes = 616;
    r.resp_bytes = 3335;
    r.bytes_known = true;
    r.orig_pkts = 9;
    r.resp_pkts = 7;
    r.orig_ip_bytes = 1000;
    r.resp_ip_bytes = 3639;
    r.conn_state = track::ZeekState::SF;
    std::snprintf(r.history, sizeof r.history, "ShADadFf");
    r.orig_state = track::TcpState::TimeWait;
    r.resp_state = track::TcpState::Closed;
    r.closed_first = track::Closer::Orig;
    r.rtt_syn_synack_us = 38;
    r.rtt_synack_ack_us = 25583;
    r.orig_mss = 1360;
    r.resp_mss = 1460;
    r.orig_wscale = 6;
    r.resp_wscale = 7;
    r.orig_sack_ok = r.resp_sack_ok = r.orig_ts = r.resp_ts = true;
    return r;
}

void BM_FormatRecord(benchmark::State& state) {
    report::ConnLogWriter w(state.range(0) ? report::ConnLogWriter::Format::Json
                                           : report::ConnLogWriter::Format::Zeek);
    track::ConnRecord r = sample_record();
    std::string out;
    out.reserve(1 << 20);
    for (auto _ : state) {
        w.append(r, out);
        if (out.size() > (1u << 19)) out.clear();
        ++r.orig_p;
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
    state.SetLabel(state.range(0) ? "json" : "zeek tsv");
}

}  // namespace

BENCHMARK(BM_TableInsert_FlowTable)->Arg(1 << 10)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_TableInsert_RteHash)->Arg(1 << 10)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_TableBurstLookup_FlowTable)->Arg(1 << 10)->Arg(1 << 20)->Arg(1 << 24);
BENCHMARK(BM_TableBurstLookup_RteHash)->Arg(1 << 10)->Arg(1 << 20)->Arg(1 << 24);
BENCHMARK(BM_FormatRecord)->Arg(0)->Arg(1);
BENCHMARK(BM_RandomLines)->Arg(1)->Arg(8)->Arg(32);

int main(int argc, char** argv) { return ws::bench::run_under_eal(argc, argv, "bench-table"); }
