// The per-worker half of SYN-flood, half-open and scan detection: fixed-memory
// summaries updated inline on the packet path, turned into one IntervalReport
// per capture-time interval for the management core (detect::AlertEngine),
// which merges the workers' reports and decides. A worker never decides:
// RSS spreads one victim's flows (and one scanner's probes) over all workers.
//
// What is counted, from the packets and from the tracker's RFC states:
//   * per server (IP:port, and IP as a whole): SYNs received, SYN-ACKs sent,
//     handshakes completed or reset, and the number of its connections in
//     SYN-RECEIVED (a gauge: netstat's SYN_RECV on that host), with the
//     majority sender of its SYNs; top-K per interval (Space-Saving), the gauge
//     in a count-min sketch that persists across intervals;
//   * per source, over a window of intervals: SYNs, odd-flag probes (FIN, NULL,
//     XMAS, SYN+FIN), distinct hosts and ports probed (linear counting);
//   * per (source, host) pair, over the window: probes and distinct ports.
//
// Cost: an ordinary segment (ACK set, SYN clear) costs one compare against the
// interval boundary and one flag test. SYNs, SYN-ACKs and odd probes take the
// out-of-line path (a few sketch updates, O(log K) at worst). The Shard calls
// the half-open hooks only when a connection's server endpoint enters or
// leaves SYN-RECEIVED.
//
// Ownership: one Detector per worker (inside its Shard); single-threaded.
// Memory: everything is inline and sized at compile time (sizeof(Detector));
// nothing allocates after construction.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "detect/report.hpp"
#include "detect/sketch.hpp"
#include "parse/packet.hpp"

namespace ws::detect {

struct DetectConfig {
    // Run detection in the workers. Off: the Shard skips every hook (one
    // predictable branch per packet) and no reports are produced.
    bool enabled = true;
    // Length of a reporting interval, capture time. The management core merges
    // and decides once per interval, so it bounds the onset delay (a flood is
    // reported after AlertConfig::onset_intervals of them).
    uint64_t interval_us = 10'000;
    // Sources and (source, host) pairs are summarised over this many intervals
    // (default 1 s), long enough to see scans slower than one probe per interval.
    uint32_t window_intervals = 100;
    // A server with at least this many half-open connections on this worker is
    // reported every interval even when it received no SYN in it.
    int32_t half_open_report_min = 16;
    // Probes (SYNs and odd-flag packets) per interval whose sources and pairs are
    // all counted. Beyond it, 1 in 2, 4, ... 64 is, with that weight, so that a
    // flood of spoofed sources (every SYN replacing a Space-Saving entry) costs a
    // bounded share of the worker; heavy sources stay heavy under sampling. Victim
    // counts are never sampled.
    uint32_t probe_budget = 256;
    // Seed of the sketches' hash: unknown to an attacker, fixed for replays.
    uint64_t seed = 0x77697265'73746174ull;
};

// Which of an interval's probes (SYNs, odd-flag packets) are counted in the source
// and pair sketches, and with what weight: every one, weight 1, within the budget;
// beyond it every stride-th, weighing stride, where the stride doubles at 1, 2, 4,
// ... 32 times the budget, up to 64. Kept as a running stride rather than computed
// from the probe's number, which took a division per probe; inline, so that a
// skipped probe in a flood costs a compare and no call.
class ProbeSampler {
public:
    explicit ProbeSampler(uint32_t budget = 0) noexcept : budget_(std::max<uint32_t>(budget, 1)) { reset(); }
    void reset() noexcept {
        n_ = 0;
        stride_ = 1;
        doubles_at_ = budget_;
    }
    // The next probe's weight; 0: not counted.
    uint32_t next() noexcept {
        const uint64_t k = n_++;
        if (k == doubles_at_) [[unlikely]] {
            stride_ *= 2;
            doubles_at_ = stride_ == kMaxStride ? UINT64_MAX : doubles_at_ * 2;
        }
        return (k & (stride_ - 1)) == 0 ? stride_ : 0;
    }
    static constexpr uint32_t kMaxStride = 64;

private:
    uint64_t budget_;
    uint64_t n_ = 0;
    uint32_t stride_ = 1;
    uint64_t doubles_at_ = 0;
};

class Detector {
public:
    static constexpr unsigned kVictimSlots = 128;  // Space-Saving counters, ports and hosts each
    static constexpr unsigned kSourceSlots = 128;
    static constexpr unsigned kPairSlots = 128;
    static constexpr unsigned kHalfOpenCandidates = 16;
    // Finished reports waiting to be drained. Each packet closes at most one interval,
    // advance() and finish() one each: a caller that drains to empty after every burst
    // of up to kPending - 2 packets never loses one (engine::kMaxBurst is asserted so).
    static constexpr unsigned kPending = 66;
    static constexpr unsigned kTopPorts = 24, kTopHosts = 24;  // victims per report by SYNs

    // Why a server endpoint left SYN-RECEIVED.
    enum class Leave : uint8_t {
        Completed,  // the final ACK arrived (ESTABLISHED or later)
        Reset,      // a RST closed it
        Ended,      // the connection's record was written (timeout, eviction, flush)
    };

    explicit Detector(const DetectConfig& cfg = {}) noexcept;
    Detector(const Detector&) = delete;
    Detector& operator=(const Detector&) = delete;

    bool enabled() const noexcept { return cfg_.enabled; }
    const DetectConfig& config() const noexcept { return cfg_; }

    // Every TCP packet, in capture order. Time never goes backwards here: a
    // packet older than the open interval is counted in it.
    void on_packet(const parse::PacketView& v, uint64_t ts_us) noexcept {
        if (ts_us >= next_boundary_) [[unlikely]]
            roll(ts_us);
        ++packets_;
        if ((v.flags & (parse::flag::Syn | parse::flag::Ack)) == parse::flag::Ack) [[likely]]
            return;
        on_control(v, ts_us);
    }

    // A connection's server endpoint (host, port) entered / left SYN-RECEIVED.
    // Every enter is followed by exactly one leave for the same endpoint.
    void half_open_enter(const parse::Addr& host, uint16_t port) noexcept;
    void half_open_leave(const parse::Addr& host, uint16_t port, Leave why) noexcept;

    // Time passes without packets (an idle worker): closes the intervals that
    // ended before now_us so that the management core need not wait for us.
    void advance(uint64_t now_us) noexcept {
        if (now_us >= next_boundary_) roll(now_us);
    }

    // End of input: closes the open interval and its window in a report marked
    // `last`. Later calls and packets are ignored.
    void finish(uint64_t now_us) noexcept;

    // Hands finished reports, oldest first, to f(const IntervalReport&) -> bool;
    // stops at the first one f declines (it stays queued). Returns how many went.
    // When more than kPending wait, the oldest is dropped (reports_dropped).
    template <class F>
    unsigned drain(F&& f) {
        unsigned n = 0;
        while (pend_n_ > 0 && f(static_cast<const IntervalReport&>(pend_[pend_head_]))) {
            pend_head_ = pend_head_ + 1 == kPending ? 0 : pend_head_ + 1;
            --pend_n_;
            ++n;
        }
        return n;
    }
    unsigned pending() const noexcept { return pend_n_; }
    uint64_t reports_dropped() const noexcept { return dropped_; }
    bool finished() const noexcept { return finished_; }

    // This worker's half-open gauge of a server (port 0: the host), count-min estimate.
    int32_t half_open(const parse::Addr& host, uint16_t port) const noexcept;

private:
    struct VictimAux {
        uint32_t synack, completed, aborted;
        uint32_t top_src_syn;
        int32_t bm;  // Boyer-Moore counter of top_src
        parse::Addr top_src;
        uint64_t first_us, last_us;
    };
    struct SourceAux {
        uint32_t syn, odd;
        int32_t bm;
        parse::Addr top_dst;
        Distinct hosts, ports;
    };
    struct PairAux {
        uint32_t odd;
        uint64_t first_us, last_us;
        Distinct ports;
    };
    using Victims = SpaceSaving<VictimKey, VictimAux, kVictimSlots>;
    using Sources = SpaceSaving<parse::Addr, SourceAux, kSourceSlots>;
    using Pairs = SpaceSaving<PairKey, PairAux, kPairSlots>;

    struct Candidate {
        VictimKey key;
        uint64_t hash;
    };

    void roll(uint64_t ts_us) noexcept;
    void on_control(const parse::PacketView& v, uint64_t ts_us) noexcept;
    void count_syn_victim(Victims& s, const VictimKey& k, uint64_t h, const parse::Addr& src, uint64_t ts) noexcept;
    void count_probe(const parse::PacketView& v, uint64_t hh, bool odd, uint64_t ts, uint32_t w) noexcept;
    void note_candidate(const VictimKey& k, uint64_t h, int32_t est) noexcept;
    void emit(bool with_window, bool last) noexcept;
    void fill_victim(VictimStat& out, const Victims::Entry* e, const VictimKey& k, uint64_t h) const noexcept;

    uint64_t host_hash(const parse::Addr& a) const noexcept { return hash_key(a, cfg_.seed); }
    static uint64_t port_hash(uint64_t host_h, uint16_t port) noexcept {
        return mix64(host_h + 0x9e3779b97f4a7c15ull * (uint64_t{port} + 1));
    }

    DetectConfig cfg_;
    uint64_t next_boundary_ = 0;  // capture time at which the open interval ends
    uint64_t cur_ = 0;            // the open interval
    uint64_t window_ = 0;
    bool started_ = false, finished_ = false;

    uint64_t packets_ = 0, syn_ = 0, synack_ = 0, odd_ = 0;  // open interval
    ProbeSampler probes_;                                    // open interval, SYN + odd
    Victims ports_{}, hosts_{};  // cleared every interval
    Sources sources_{};          // cleared every window
    Pairs pairs_{};              // cleared every window
    CountMin<4096, 4> half_open_{};  // persistent gauge per server (ports and hosts)
    std::array<Candidate, kHalfOpenCandidates> cand_{};
    unsigned n_cand_ = 0;

    std::array<IntervalReport, kPending> pend_{};
    unsigned pend_head_ = 0, pend_n_ = 0;
    uint64_t dropped_ = 0;
};

}  // namespace ws::detect
