// The management half of detection: merges the workers' IntervalReports per
// interval, keeps a moving baseline per server, decides with absolute and
// relative thresholds, and turns decisions into alerts with hysteresis (one
// flood = one alert). DPDK-free and single-threaded: the management core owns it.
//
// Merge rule: interval i is decided once every worker has sent its report for
// i or a later one (a worker sends nothing for an interval it saw no packet in:
// its next report, or its `last` one, says it has moved past). A worker that
// falls more than max_pending_reports behind is left out (counted as forced).
//
// Decisions, on merged counts (a victim's flows are spread over all workers):
//   syn_flood  SYNs not followed by a completed handshake arrive at
//              >= syn_rate_min per second and >= baseline_factor x the server's
//              baseline, with completed/SYN <= completion_ratio_max in the
//              interval, for onset_intervals consecutive intervals. A spoofed
//              flood on a live server shows SYN + SYN-ACK without ACK; on a dead
//              host only SYNs; a busy server completes nearly every handshake,
//              and a large download sends one SYN: neither counts.
//   half_open  the server's connections in SYN-RECEIVED (netstat SYN_RECV) reach
//              half_open_min and baseline_factor x baseline while its smoothed
//              completion ratio (completed / SYN-ACK) is <= completion_ratio_max.
//              Becomes syn_flood if the rate condition is met later (one alert).
//   port_scan  one source probes >= scan_ports_min distinct ports of one host in
//              a window (SYN or FIN/NULL/XMAS probes), merged over workers.
// An alert ends after quiet_intervals (scans: scan_quiet_windows) without the
// condition. A host-wide alert (port 0) is not raised while a port of that host
// has one (and the reverse), nor when one source sends most of the host's SYNs
// (that is a scan, decided as such).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "detect/report.hpp"
#include "parse/packet.hpp"

namespace ws::detect {

struct AlertConfig {
    // ---- syn_flood ----
    double syn_rate_min = 10'000;       // uncompleted SYNs per second to one server (IP:port or IP)
    double baseline_factor = 4.0;       // ... and at least this many times its baseline
    double completion_ratio_max = 0.5;  // handshakes completed / SYNs at most this
    uint32_t onset_intervals = 3;       // consecutive intervals over threshold to start an alert
    uint32_t quiet_intervals = 50;      // consecutive intervals under threshold to end it (0.5 s)
    double baseline_alpha = 0.01;       // EWMA weight per interval of the baselines (~1 s at 10 ms)
    double dominant_source_share = 0.5; // host-wide SYNs mostly from one source: a scan, not a flood
    // ---- half_open ----
    double half_open_min = 1000;  // connections in SYN-RECEIVED on one server
    double ratio_alpha = 0.1;     // EWMA weight per interval of SYN-ACKs and completions (~100 ms)
    // ---- port_scan ----
    double scan_ports_min = 32;        // distinct ports of one host probed by one source in a window
    uint32_t scan_quiet_windows = 2;   // windows without that to end the alert
    // ---- output and bookkeeping ----
    uint32_t top_sources = 5;          // sources listed in an alert
    uint32_t max_victims = 1u << 16;   // servers with a baseline; the least recently active are forgotten
    uint32_t max_pending_reports = 1024;  // per worker; beyond, the oldest interval is decided without laggards
};

enum class AlertType : uint8_t { SynFlood, HalfOpen, PortScan };
const char* alert_type_name(AlertType t) noexcept;  // "syn_flood", "half_open", "port_scan"

struct SourceCount {
    parse::Addr h;
    uint64_t count;
};

struct Alert {
    AlertType type = AlertType::SynFlood;
    uint64_t start_us = 0, end_us = 0;  // capture time of the first and last packet over threshold
    parse::Addr victim_h{};
    uint16_t victim_p = 0;              // 0: the host as a whole
    bool has_scanner = false;
    parse::Addr scanner_h{};
    double peak_rate = 0;               // SYN/s (port_scan: probes/s), highest interval or window
    int64_t half_open = 0;              // peak of the server's SYN-RECEIVED count
    uint64_t syn = 0, synack = 0, completed = 0;  // floods: totals over the alert
    uint64_t probes = 0, odd_probes = 0;          // scans: totals over the alert
    double distinct_ports = 0;                    // scans: estimate over the alert
    std::vector<SourceCount> top_sources;         // largest first
    double completion_ratio() const noexcept {
        return syn ? static_cast<double>(completed) / static_cast<double>(syn) : 1.0;
    }
};

struct AlertEvent {
    enum class Kind : uint8_t { Start, End };
    Kind kind;
    uint64_t at_us;  // capture time of the decision (end of the interval or window)
    Alert alert;     // Start: what was known then; End: the complete alert
};

// One JSON object per alert (no newline): type, start, end, victim_h, victim_p,
// scanner_h (null unless port_scan), peak_rate, half_open, completion_ratio (null
// for port_scan), top_sources [{"h","count"}], then type-specific totals.
std::string to_json(const Alert& a);
// One human line per event, for the log ("syn_flood started on 10.0.0.1:80 ...").
std::string to_text(const AlertEvent& e);

class AlertEngine {
public:
    struct Stats {
        uint64_t reports = 0;            // reports submitted
        uint64_t intervals = 0;          // intervals decided (with at least one report)
        uint64_t forced = 0;             // decided without every worker (a laggard was too far behind)
        uint64_t late_reports = 0;       // reports for an interval already decided (ignored)
        uint64_t worker_drops = 0;       // reports the workers dropped (their queues were full)
        uint64_t alerts = 0;             // alerts started
    };

    AlertEngine(const AlertConfig& cfg, unsigned workers);

    // A worker's report, in the order that worker produced them. Decides every
    // interval that became complete; new events are appended to events().
    void submit(unsigned worker, const IntervalReport& r);
    // End of the run (after every worker's last report, or at shutdown): decides
    // what is pending and ends every active alert.
    void finish();

    // Events since the last take (start and end of alerts, in decision order).
    void take_events(std::vector<AlertEvent>& out);
    const std::vector<AlertEvent>& events() const noexcept { return events_; }
    const Stats& stats() const noexcept { return stats_; }
    size_t active_alerts() const noexcept;

private:
    struct VictimKeyHash {
        size_t operator()(const VictimKey& k) const noexcept { return hash_key(k, 1); }
    };
    struct PairKeyHash {
        size_t operator()(const PairKey& k) const noexcept { return hash_key(k, 2); }
    };
    struct AddrHash {
        size_t operator()(const parse::Addr& a) const noexcept { return hash_key(a, 3); }
    };

    struct Merged {  // one server in one interval, summed over workers
        uint64_t syn = 0, syn_err = 0, synack = 0, completed = 0, aborted = 0;
        int64_t half_open = 0;
        uint64_t first_us = 0, last_us = 0;
        parse::Addr top_src{};
        uint64_t top_src_syn = 0;
        std::vector<SourceCount> cands;  // majority candidates of the workers
    };
    struct VictimState {
        double base_excess = 0;     // uncompleted SYN/s, learnt while quiet
        double base_half_open = 0;  // SYN-RECEIVED count, learnt while quiet
        double ewma_synack = 0, ewma_completed = 0;
        uint64_t last_interval = 0;
        uint32_t over = 0, quiet = 0;
        bool active = false;
        bool ho_cooldown = false;  // a flood ended: its backlog drains without a second alert
        uint64_t last_over_us = 0;
        Alert alert;  // accumulating from the first interval over threshold
    };
    struct MergedSource {
        uint64_t syn = 0, odd = 0;
        parse::Addr top_dst{};
        uint32_t top_dst_probes = 0;
        Distinct hosts, ports;
    };
    struct MergedScan {
        uint64_t probes = 0, odd = 0, first_us = 0, last_us = 0;
        Distinct ports;
    };
    struct ScanState {
        bool active = false;
        uint32_t quiet = 0;
        uint64_t seen_window = 0;  // 1 + the last window over threshold
        Distinct ports;  // union over the alert
        Alert alert;
    };
    struct HostActive {
        uint32_t ports = 0;  // active port-level flood/half-open alerts
        bool host = false;   // an active host-wide one
        uint32_t scans = 0;  // active port scans against it
    };

    void pump(bool force_all);
    void decide(uint64_t i);
    void skip_to(uint64_t i);
    void quiet_steps(uint64_t n, uint64_t from_interval);
    void step(const VictimKey& k, VictimState& st, const Merged& m, uint64_t i);
    void start_alert(const VictimKey& k, VictimState& st, uint64_t at_us);
    void end_alert(const VictimKey& k, VictimState& st);
    void close_window();
    void end_scan(const PairKey& k, uint64_t at_us);
    void prune();
    void emit(AlertEvent::Kind kind, uint64_t at_us, const Alert& a);
    double interval_s() const noexcept { return static_cast<double>(interval_us_) * 1e-6; }

    AlertConfig cfg_;
    unsigned workers_;
    std::vector<std::deque<IntervalReport>> q_;
    std::vector<bool> done_;
    std::vector<uint64_t> worker_drops_;

    bool started_ = false;
    uint64_t interval_us_ = 10'000;
    uint32_t window_intervals_ = 100;
    uint64_t next_ = 0;    // first interval not yet decided
    uint64_t window_ = 0;  // the open window

    std::unordered_map<VictimKey, Merged, VictimKeyHash> merged_;
    std::unordered_map<VictimKey, VictimState, VictimKeyHash> victims_;
    std::vector<VictimKey> hot_;  // victims with an active or pending alert
    std::unordered_map<parse::Addr, HostActive, AddrHash> host_active_;
    std::vector<Alert> ending_;   // ended, waiting for the window's sources
    std::unordered_map<parse::Addr, MergedSource, AddrHash> win_sources_;
    std::unordered_map<PairKey, MergedScan, PairKeyHash> win_scans_;
    std::unordered_map<PairKey, ScanState, PairKeyHash> scans_;

    std::vector<AlertEvent> events_;
    Stats stats_;
};

}  // namespace ws::detect
