// End-of-run figures: the statistics JSON (a stable schema for scripts) and the
// human summary printed at exit. Built by the management core from the workers'
// final counters and the records it wrote.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/stats.hpp"
#include "track/record.hpp"

namespace ws::report {

struct WorkerFigures {
    unsigned lcore = 0;
    uint64_t packets = 0;
    double cycles_per_packet = 0;
};

struct RunSummary {
    std::string source;          // capture file or port description
    std::string link;            // link-layer name
    std::string reader;          // replay: "mmap" or "pcap-pmd"; live: "port"
    uint32_t flow_table_size = 0;  // connections each worker's table holds
    engine::ShardStats totals{};  // sum over workers
    std::vector<WorkerFigures> workers;
    std::array<uint64_t, track::kZeekStateCount> conn_state{};  // records per Zeek state
    std::array<uint64_t, track::kTcpStateCount> tcp_state{};    // endpoints per RFC state, at record time
    uint64_t records_written = 0;
    uint64_t port_rx_errors = 0;    // frames the PMD could not deliver (ierrors + imissed + rx_nombuf)
    uint64_t rx_ring_drops = 0;     // packets the RX core could not hand to a worker
    uint64_t capture_unread_bytes = 0;  // replay: bytes after a damaged record (file cut short)
    uint64_t alerts = 0;            // alerts raised (syn_flood, half_open, port_scan)
    uint64_t detect_reports_dropped = 0;  // detection interval reports lost (live, management too slow)
    double startup_s = 0;           // wall time before the first packet: outputs, EAL, memory, rings
    double duration_s = 0;          // wall time of processing
    double mpps() const noexcept { return duration_s > 0 ? static_cast<double>(totals.packets_rx) / duration_s / 1e6 : 0; }

    void count(const track::ConnRecord& r) noexcept {
        ++records_written;
        ++conn_state[static_cast<size_t>(r.conn_state)];
        ++tcp_state[static_cast<size_t>(r.orig_state)];
        ++tcp_state[static_cast<size_t>(r.resp_state)];
    }
};

// The statistics JSON document (one object, newline-terminated).
std::string stats_json(const RunSummary& s);

// The human summary: totals, conn_state histogram, and the endpoint state
// histogram as `netstat -n | awk '/^tcp/ {++S[$NF]} ...'` would print on every host at once.
std::string human_summary(const RunSummary& s);

// A netstat-like table of connections (both endpoints' states), for --table.
std::string connection_table(const std::vector<track::ConnRecord>& recs, uint64_t more);

}  // namespace ws::report
