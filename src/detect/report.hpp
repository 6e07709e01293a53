// What a worker's detector hands to the management core at each interval
// boundary: one fixed-size, trivially copyable IntervalReport. It travels
// through a single-producer ring like a ConnRecord (copied into a pooled
// buffer); nothing in it points anywhere.
//
// Units: counts are per interval on that worker unless marked as a gauge;
// times are capture time in microseconds since the epoch.
#pragma once

#include <cstdint>
#include <type_traits>

#include "detect/sketch.hpp"
#include "parse/packet.hpp"

namespace ws::detect {

// A server under observation: one port of a host, or (port 0) the host as a whole.
struct VictimKey {
    parse::Addr host;
    uint16_t port;
    uint16_t pad;  // zero

    bool operator==(const VictimKey& o) const noexcept { return key_eq(*this, o); }
};
static_assert(sizeof(VictimKey) == 20);

// A scanner and the host it probes.
struct PairKey {
    parse::Addr src;
    parse::Addr dst;

    bool operator==(const PairKey& o) const noexcept { return key_eq(*this, o); }
};
static_assert(sizeof(PairKey) == 32);

// Report capacities (entries per report, per worker).
inline constexpr unsigned kReportVictims = 64;  // top SYN receivers (ports and hosts) + half-open candidates
inline constexpr unsigned kReportSources = 16;  // top SYN/probe senders of the window
inline constexpr unsigned kReportScans = 16;    // top (source, host) probe pairs of the window

struct VictimStat {
    VictimKey key;
    uint32_t syn;        // SYNs (no ACK) received since it entered the sketch: a lower bound
    uint32_t syn_err;    // SYNs it may have had before that (Space-Saving error)
    uint32_t synack;     // SYN-ACKs it sent
    uint32_t completed;  // handshakes completed: its endpoint left SYN-RECEIVED for ESTABLISHED or later
    uint32_t aborted;    // of its half-open connections, reset before completing (SYN scans, RST floods)
    int32_t half_open;   // gauge: its connections in SYN-RECEIVED now (count-min estimate, this worker)
    parse::Addr top_src; // majority candidate among the senders of its SYNs (Boyer-Moore)
    uint32_t top_src_syn;  // SYNs from top_src while it was the candidate
    uint32_t pad;
    uint64_t first_us, last_us;  // capture time of the first and last SYN counted; 0 if none
};

struct SourceStat {
    parse::Addr src;
    uint32_t syn;       // SYNs (no ACK) sent in the window, since it entered the sketch
    uint32_t syn_err;
    uint32_t odd;       // probes with odd flag sets: FIN, NULL, XMAS, SYN+FIN, ...
    uint32_t top_dst_probes;  // Boyer-Moore counter of top_dst
    parse::Addr top_dst;      // majority candidate among the hosts it probes
    Distinct hosts;           // distinct destination hosts (linear counting)
    Distinct ports;           // distinct destination ports, any host
};

struct ScanStat {
    PairKey key;
    uint32_t probes;     // SYN and odd-flag probes from key.src to key.dst in the window
    uint32_t probes_err;
    uint32_t odd;        // of which odd-flag probes
    uint32_t pad;
    uint64_t first_us, last_us;
    Distinct ports;      // distinct ports of key.dst probed
};

struct IntervalReport {
    uint64_t interval;     // capture time / interval_us; intervals are numbered alike on every worker
    uint64_t interval_us;  // the interval's length
    uint64_t window;       // interval / window_intervals
    uint32_t window_intervals;
    uint8_t has_window;    // sources[] and scans[] summarise `window` (sent with the worker's last
                           // interval of that window)
    uint8_t last;          // the worker's final report (it flushed): it is past every later interval
    uint8_t pad[2];

    // Totals of this worker's interval.
    uint64_t packets;      // TCP packets seen
    uint64_t syn, synack, odd;

    // Cumulative counters of the worker's detector.
    uint64_t reports_dropped;  // reports it could not hand over (queue full), before this one

    uint32_t n_victims, n_sources, n_scans, pad2;
    VictimStat victims[kReportVictims];
    SourceStat sources[kReportSources];
    ScanStat scans[kReportScans];
};
static_assert(std::is_trivially_copyable_v<IntervalReport>);

}  // namespace ws::detect
