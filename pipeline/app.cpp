#include "app.hpp"

#include <pcap/pcap.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_ring.h>
#include <rte_thash.h>
#include <sched.h>
#include <sys/stat.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "capture/pcap_file.hpp"
#include "detect/alerts.hpp"
#include "engine/flow_table.hpp"
#include "engine/shard.hpp"
#include "report/conn_log.hpp"
#include "report/summary.hpp"
#include "eal_start.hpp"
#include "rte_table.hpp"

namespace ws::pipeline {
namespace {

constexpr uint16_t kBurst = 32;
constexpr unsigned kInRingSize = 4096;     // packets queued to one worker (distributor mode)
constexpr unsigned kFeedRingSize = 4096;   // frames queued to one worker by worker 0 (replay from the file)
// Finished connections queued to the management core, per worker. Live: deep, so
// that a stall of the writer (a slow disk) is absorbed, not lost. Replay: a worker
// waits for room instead, and the management core formats records an order of
// magnitude faster than a worker finishes them, so a short ring is enough; its pool
// is written whole at creation (20 ms of start-up for the live size here).
constexpr unsigned kRecRingLive = 1u << 16;
constexpr unsigned kRecRingReplay = 1u << 12;
constexpr uint16_t kRxDesc = 1024;
constexpr unsigned kReportRingSize = 256;    // detection interval reports queued to the management core

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true, std::memory_order_relaxed); }

uint64_t wall_us() noexcept {
    timeval tv;
    gettimeofday(&tv, nullptr);
    return static_cast<uint64_t>(tv.tv_sec) * 1000000u + static_cast<uint64_t>(tv.tv_usec);
}

// Capture time of a frame: the PMD's RX timestamp (pcap PMD: microseconds) when it
// sets one, else the TSC-derived wall clock.
struct Clock {
    int ts_off = -1;
    uint64_t ts_flag = 0;
    uint64_t wall_base_us = 0, tsc_base = 0, tsc_hz = 1;

    void init() {
        wall_base_us = wall_us();
        tsc_base = rte_rdtsc();
        tsc_hz = rte_get_tsc_hz();
    }
    void lookup_dynfield() {
        ts_off = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, nullptr);
        int bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, nullptr);
        ts_flag = bit >= 0 ? (1ull << bit) : 0;
    }
    uint64_t now_us() const noexcept {
        return wall_base_us + (rte_rdtsc() - tsc_base) * 1000000u / tsc_hz;
    }
    uint64_t of(const rte_mbuf* m, uint64_t wall) const noexcept {
        if (ts_off >= 0 && (m->ol_flags & ts_flag))
            return *RTE_MBUF_DYNFIELD(m, ts_off, const rte_mbuf_timestamp_t*);
        return wall;
    }
};

// Waiting for another thread (room in a ring, records taken off it): spin a
// little, then give the CPU up. A replay may run more threads than there are CPUs
// (two workers and the management core on two), and the thread waited for may be
// the one queued behind us on our own CPU: spinning on would keep it off until the
// scheduler's next tick. Only ever on a wait, never per packet.
struct Backoff {
    unsigned spins = 0;
    void pause() noexcept {
        if (++spins > 64) sched_yield();
        else rte_pause();
    }
};

// Hands finished connections to the management core through a single-producer
// ring of records taken from a shared pool. Lossy (counted) unless `wait`: in
// replay, waiting costs nothing but time, so nothing is dropped, also while a stop
// (SIGINT, --duration) flushes every live connection: the management core keeps
// draining until every worker is done.
struct RecordSink {
    rte_mempool* pool = nullptr;
    rte_ring* ring = nullptr;
    bool wait = false;

    bool operator()(const track::ConnRecord& r) noexcept {
        void* obj = nullptr;
        Backoff wait_room;
        while (rte_mempool_get(pool, &obj) != 0) {
            if (!wait) return false;
            wait_room.pause();
        }
        std::memcpy(obj, &r, sizeof r);
        while (rte_ring_sp_enqueue(ring, obj) != 0) {
            if (!wait) {
                rte_mempool_put(pool, obj);
                return false;
            }
            wait_room.pause();
        }
        return true;
    }
};

// The worker's shard on either flow table (--flow-table). The hot loop is compiled
// once per table type; only per-burst and management calls go through the variant.
using CompactShard = engine::Shard<engine::FlowTable, RecordSink>;
using RteShard = engine::Shard<RteTable, RecordSink>;

struct alignas(64) Worker {
    unsigned id = 0;
    unsigned lcore = 0;
    uint16_t queue = 0;
    bool direct_rx = false;  // polls the port itself (no distributor)
    rte_ring* in_ring = nullptr;
    rte_ring* stats_ring = nullptr;  // periodic ShardStats snapshots to the management core
    rte_ring* report_ring = nullptr; // detection interval reports to the management core
    std::unique_ptr<engine::FlowTable> compact_table;
    std::unique_ptr<WorkerTable> rte_table;
    RecordSink sink;
    std::variant<std::unique_ptr<CompactShard>, std::unique_ptr<RteShard>> shard;
    // The shard's parts that do not depend on the table type (set with the shard).
    engine::ShardStats* stats = nullptr;
    detect::Detector* detector = nullptr;
    const engine::ShardConfig* config = nullptr;
    uint64_t max_ts = 0;
    std::atomic<bool> ready{false};  // its memory committed, waiting for the go
    std::atomic<bool> done{false};
    // Replay from the mapped file (file_loop): worker 0 reads it, and hands each other
    // worker the frames of its flows through its `feed` (engine::RawPacket: pointers
    // into the mapping, no copy, no mbuf), then sets its `fed_all`.
    std::unique_ptr<capture::PcapFile> file;
    rte_ring* feed = nullptr;
    std::atomic<bool> fed_all{false};
    std::atomic<uint64_t> file_pos{0};  // how far it is in the file, for Prefault (the file's size once done)
    std::atomic<uint32_t> records_high{0};  // its table's high_water(), for Prefault
};

struct App {
    Options* opt = nullptr;
    uint16_t port = 0;
    bool replay = false;
    uint64_t expected_packets = 0;  // replay with infinite_rx: frames in the capture file
    uint64_t losses_at_last_check = 0;  // replay: end-of-file detection (replay_complete)
    uint32_t max_caplen = 0;        // replay: largest frame in the capture file
    uint32_t linktype = 1;
    bool from_file = false;  // replay --reader mmap: the workers read the mapped file, no port
    bool pmd_replay = false;  // replay of a finite file through the pcap PMD
    std::atomic<bool> capture_read_error{false};  // pmd_replay: libpcap stopped at a damaged record
    Clock clock;
    rte_mempool* mbufs = nullptr;
    rte_mempool* records = nullptr;
    std::vector<std::unique_ptr<Worker>> workers;
    bool distribute = false;
    std::atomic<bool> rx_done{false};
    std::atomic<bool> go{false};  // every worker ready and the port (if any) started
    std::atomic<uint64_t> final_ts{0};
    uint64_t rx_ring_drops = 0;

    // management
    FILE* conn_log = nullptr;
    bool conn_log_owned = false;
    std::unique_ptr<report::ConnLogWriter> writer;
    std::string buf;
    report::RunSummary summary;
    std::vector<track::ConnRecord> table_rows;
    uint64_t table_more = 0;
    rte_mempool* stats_pool = nullptr;          // periodic per-worker statistics snapshots
    rte_mempool* report_pool = nullptr;         // detection interval reports
    std::unique_ptr<detect::AlertEngine> alert_engine;
    std::vector<detect::AlertEvent> events;
    FILE* alerts = nullptr;
    std::atomic<uint64_t> dist_ts{0};           // distributor: capture time of the last burst handed out
    std::vector<engine::ShardStats> latest;     // newest snapshot per worker (management core)
    uint64_t last_progress_tsc = 0;
    uint64_t last_progress_packets = 0;
};

App g;

[[noreturn]] void fail(const std::string& what) { throw UsageError(what); }

std::string rte_error(const char* what) { return std::string(what) + ": " + rte_strerror(rte_errno); }

uint64_t port_losses(uint16_t port) {
    rte_eth_stats st{};
    if (rte_eth_stats_get(port, &st) != 0) return 0;
    return st.ierrors + st.imissed + st.rx_nombuf;
}

uint64_t port_received(uint16_t port) {
    rte_eth_stats st{};
    if (rte_eth_stats_get(port, &st) != 0) return 0;
    return st.ipackets;
}

// Replay: the pcap PMD never signals end of file. It reads a frame before it takes an
// mbuf for it, and counts a failed allocation (rx_nombuf, the frame is lost) or a
// read error (ierrors): so an empty poll that moved neither counter since the last
// check found the end of the file. Called by the one thread polling the port, right
// after an empty poll.
bool replay_complete() {
    if (g.opt->infinite_rx) return false;
    const uint64_t losses = port_losses(g.port);
    const bool eof = losses == g.losses_at_last_check;
    g.losses_at_last_check = losses;
    return eof;
}

// Replay through the pcap PMD: where libpcap cannot read a record, the PMD counts an
// rx error (ierrors) and its next poll reads on from wherever libpcap stopped, in the
// middle of the damage, where tcpdump stops. So do we. A poll that hit the error
// returned fewer frames than asked: checked after each such poll, before the next.
bool replay_read_error() {
    if (!g.pmd_replay) return false;
    rte_eth_stats st{};
    if (rte_eth_stats_get(g.port, &st) != 0 || st.ierrors == 0) return false;
    g.capture_read_error = true;
    return true;
}

// The size of the file at `path`; 0 if it cannot be read.
uint64_t file_bytes(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && st.st_size > 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// Where and why libpcap stopped a PMD replay: the file read again with libpcap up to
// the frames the PMD took from it (a damaged capture only). Returns the bytes after
// the last frame read (the mapped-file reader counts from the damaged record, which
// is the same place unless blocks without a frame lie between them).
uint64_t locate_read_error(const std::string& path, uint64_t frames, uint64_t& at, std::string& why) {
    char err[PCAP_ERRBUF_SIZE] = {0};
    pcap_t* p = pcap_open_offline(path.c_str(), err);
    at = 0;
    if (p == nullptr) {
        why = err;
        return 0;
    }
    pcap_pkthdr* h;
    const u_char* d;
    for (uint64_t n = 0; n < frames && pcap_next_ex(p, &h, &d) == 1;) ++n;
    const long pos = std::ftell(pcap_file(p));
    why = pcap_next_ex(p, &h, &d) == PCAP_ERROR ? pcap_geterr(p) : "a read error";
    pcap_close(p);
    const uint64_t size = file_bytes(path);
    if (pos < 0 || size < static_cast<uint64_t>(pos)) return 0;
    at = static_cast<uint64_t>(pos);
    return size - at;
}

// The reading stopped at a record that cannot be framed (not at the end, not on a stop).
bool file_damaged(const capture::PcapFile& f) {
    return f.status() == capture::PcapFile::Status::Truncated || f.status() == capture::PcapFile::Status::BadRecord;
}

// ---- management core ------------------------------------------------------

void flush_log(bool force) {
    if (g.conn_log && (force || g.buf.size() >= (1u << 20))) {
        if (!g.buf.empty()) std::fwrite(g.buf.data(), 1, g.buf.size(), g.conn_log);
        g.buf.clear();
    }
}

// Alerts: a log line when one starts and ends; the JSON object when it ends.
void write_alert_events() {
    g.events.clear();
    g.alert_engine->take_events(g.events);
    for (const auto& ev : g.events) {
        spdlog::warn("{}", detect::to_text(ev));
        if (ev.kind == detect::AlertEvent::Kind::End && g.alerts) {
            std::string line = detect::to_json(ev.alert);
            line += '\n';
            std::fwrite(line.data(), 1, line.size(), g.alerts);
        }
    }
}

// Drains finished connections (and detection reports, statistics) from every
// worker; returns how many records and reports it took.
unsigned mgmt_poll() {
    unsigned total = 0;
    void* objs[64];
    for (auto& w : g.workers) {
        unsigned n = rte_ring_sc_dequeue_burst(w->sink.ring, objs, 64, nullptr);
        for (unsigned i = 0; i < n; ++i) {
            const auto& r = *static_cast<const track::ConnRecord*>(objs[i]);
            if (g.writer) g.writer->append(r, g.buf);
            g.summary.count(r);
            if (g.table_rows.size() < g.opt->table_rows) g.table_rows.push_back(r);
            else if (g.opt->table_rows) ++g.table_more;
        }
        if (n) rte_mempool_put_bulk(g.records, objs, n);
        total += n;
    }
    flush_log(false);
    if (g.alert_engine) {
        for (auto& w : g.workers) {
            unsigned k = rte_ring_sc_dequeue_burst(w->report_ring, objs, 64, nullptr);
            for (unsigned i = 0; i < k; ++i)
                g.alert_engine->submit(w->id, *static_cast<const detect::IntervalReport*>(objs[i]));
            if (k) rte_mempool_put_bulk(g.report_pool, objs, k);
            total += k;
        }
        write_alert_events();
    }
    for (size_t i = 0; i < g.workers.size(); ++i) {
        unsigned k = rte_ring_sc_dequeue_burst(g.workers[i]->stats_ring, objs, 64, nullptr);
        if (k == 0) continue;
        // Counters are cumulative: the newest snapshot supersedes the others.
        std::memcpy(&g.latest[i], objs[k - 1], sizeof(engine::ShardStats));
        rte_mempool_put_bulk(g.stats_pool, objs, k);
    }
    if (g.opt->stats_interval_s > 0) {
        const uint64_t now = rte_rdtsc(), hz = rte_get_tsc_hz();
        if (now - g.last_progress_tsc >= static_cast<uint64_t>(g.opt->stats_interval_s * static_cast<double>(hz))) {
            engine::ShardStats t{};
            for (const auto& st : g.latest) t += st;
            double secs = static_cast<double>(now - g.last_progress_tsc) / static_cast<double>(hz);
            spdlog::info("progress: {} packets ({:.3f} Mpps), {} live connections ({} half-open), {} records",
                         t.packets_rx, static_cast<double>(t.packets_rx - g.last_progress_packets) / secs / 1e6,
                         t.live_connections, t.live_embryonic, g.summary.records_written);
            g.last_progress_tsc = now;
            g.last_progress_packets = t.packets_rx;
        }
    }
    return total;
}

// Hands the detector's finished interval reports to the management core. In
// replay a worker waits until every one is handed over (the verdicts must not depend
// on timing; a burst may close an interval on each of its packets, which the detector
// holds); live, once its queue is full the detector drops the oldest, counted.
void drain_reports(Worker& w) noexcept {
    auto& det = *w.detector;
    auto hand = [&](const detect::IntervalReport& r) {
        void* obj;
        if (rte_mempool_get(g.report_pool, &obj) != 0) return false;
        std::memcpy(obj, &r, sizeof r);
        if (rte_ring_sp_enqueue(w.report_ring, obj) != 0) {
            rte_mempool_put(g.report_pool, obj);
            return false;
        }
        return true;
    };
    det.drain(hand);
    if (!g.replay) return;
    for (Backoff wait_room; det.pending() > 0;) {
        wait_room.pause();
        det.drain(hand);
    }
}

// Workers publish cumulative counters about every 100 ms; a snapshot that finds the
// ring full is skipped, the next one carries the same information.
void publish_stats(Worker& w) noexcept {
    void* obj;
    if (rte_mempool_get(g.stats_pool, &obj) != 0) return;
    std::memcpy(obj, w.stats, sizeof(engine::ShardStats));
    if (rte_ring_sp_enqueue(w.stats_ring, obj) != 0) rte_mempool_put(g.stats_pool, obj);
}

// ---- workers ----------------------------------------------------------------

uint64_t end_time(const Worker& w) {
    if (!g.replay) return g.clock.now_us();
    if (g.distribute) return g.final_ts.load(std::memory_order_acquire);
    return w.max_ts;
}

// What a worker does once its input has ended: its live connections are flushed at
// the run's last time, and its last reports (in replay every one: drain_reports
// waits) and statistics handed over.
template <class Shard>
int finish(Worker& w, Shard& shard) {
    shard.flush(end_time(w));
    drain_reports(w);
    publish_stats(w);
    w.done.store(true, std::memory_order_release);
    return 0;
}

// Hands frames to a worker fed by worker 0, waiting for room: a replay loses nothing.
void feed(Worker& to, const engine::RawPacket* p, uint32_t n) noexcept {
    Backoff wait_room;
    for (uint32_t sent = 0;;) {
        sent += rte_ring_sp_enqueue_burst_elem(to.feed, p + sent, sizeof *p, n - sent, nullptr);
        if (sent == n) return;
        wait_room.pause();
    }
}

// Replay from the mapped file: worker 0 reads every frame in place. With more
// workers it hands each of the others the frames of that worker's flows as pointers
// into the mapping (24 bytes each, through its `feed` ring) and tracks its own share.
// engine::owner_of says whose a frame is (read at fixed offsets for plain IPv4/IPv6
// TCP, parsed otherwise; a frame that is not TCP stays here to be counted). After
// each burst every other worker is also sent the capture time reached, so that its
// detection intervals close with the capture's.
template <class Shard>
int file_loop(Worker& w, Shard& shard) {
    capture::Frame fr[kBurst];
    engine::RawPacket raw[kBurst], own[kBurst];
    const auto nw = static_cast<uint32_t>(g.workers.size());
    std::vector<engine::RawPacket> out(size_t{nw} * (kBurst + 1));  // per other worker: a burst and the time
    std::vector<uint32_t> nout(nw, 0);
    const auto link = w.config->link;
    parse::PacketView v;  // owner_of's, for frames it parses
    const uint64_t hz = rte_get_tsc_hz();
    uint64_t last_publish = rte_rdtsc();
    while (!g_stop.load(std::memory_order_relaxed)) {  // SIGINT, --duration: also mid-file
        if (rte_rdtsc() - last_publish > hz / 10) {
            publish_stats(w);
            last_publish = rte_rdtsc();
        }
        const uint32_t n = w.file->next(fr, kBurst);
        if (n == 0) break;
        const uint64_t t0 = rte_rdtsc();
        uint64_t burst_ts = 0;
        for (uint32_t i = 0; i < n; ++i) {
            raw[i] = {fr[i].data, fr[i].caplen, fr[i].ts_us};
            burst_ts = std::max(burst_ts, fr[i].ts_us);
        }
        w.max_ts = std::max(w.max_ts, burst_ts);
        if (nw == 1) {
            if (g.opt->rx_only) {  // the reader's own ceiling: frames read and counted, no more
                shard.stats().packets_rx += n;
                shard.stats().packets_filtered += n;  // received, deliberately not analysed
            } else {
                shard.process(raw, n);
            }
        } else {
            // With --rx-only the frames are still handed out, and counted where they go:
            // the ceiling of reading and handing out, which bounds a replay on any
            // number of workers.
            uint32_t m = 0;
            for (uint32_t i = 0; i < n; ++i) {
                const uint32_t o = engine::owner_of(raw[i], link, w.config->parse, nw, v);
                if (o == 0) own[m++] = raw[i];
                else out[size_t{o} * (kBurst + 1) + nout[o]++] = raw[i];
            }
            for (uint32_t o = 1; o < nw; ++o) {
                engine::RawPacket* q = &out[size_t{o} * (kBurst + 1)];
                q[nout[o]++] = {nullptr, 0, burst_ts};  // the time reached
                feed(*g.workers[o], q, nout[o]);
                nout[o] = 0;
            }
            if (g.opt->rx_only) {
                shard.stats().packets_rx += m;
                shard.stats().packets_filtered += m;
            } else {
                if (m > 0) shard.process(own, m);
                shard.detect_advance(burst_ts);
            }
        }
        shard.sweep(shard.now());
        shard.stats().cycles += rte_rdtsc() - t0;
        drain_reports(w);
        w.file_pos.store(w.file->offset(), std::memory_order_relaxed);
        if (w.compact_table) w.records_high.store(w.compact_table->high_water(), std::memory_order_relaxed);
    }
    for (uint32_t o = 1; o < nw; ++o) g.workers[o]->fed_all.store(true, std::memory_order_release);
    w.file_pos.store(w.file->size(), std::memory_order_relaxed);
    return finish(w, shard);
}

// A worker fed by worker 0 (above): its frames, in capture order, each burst of
// them followed by the capture time worker 0 had reached, which it takes as the
// reader of the whole file would: process, close detection intervals, sweep.
template <class Shard>
int fed_loop(Worker& w, Shard& shard) {
    engine::RawPacket in[kBurst];
    const capture::PcapFile& file = *g.workers[0]->file;
    const uint64_t hz = rte_get_tsc_hz();
    Backoff idle;
    uint64_t last_publish = rte_rdtsc();
    for (;;) {
        if (rte_rdtsc() - last_publish > hz / 10) {
            publish_stats(w);
            last_publish = rte_rdtsc();
        }
        const bool last = w.fed_all.load(std::memory_order_acquire);  // before looking at the ring
        const unsigned n = rte_ring_sc_dequeue_burst_elem(w.feed, in, sizeof in[0], kBurst, nullptr);
        if (n == 0) {
            if (last) break;
            drain_reports(w);
            // Worker 0 is behind. Yield rather than sleep: a sleep lasts 50 us or
            // more, in which worker 0 fills the ring and waits.
            idle.pause();
            continue;
        }
        idle = {};
        const uint64_t t0 = rte_rdtsc();
        const uint8_t* at = nullptr;
        if (g.opt->rx_only) {  // worker 0's ceiling of handing out: frames counted, no more
            uint32_t m = 0;
            for (unsigned i = 0; i < n; ++i) {
                if (in[i].data != nullptr) ++m;
                else w.max_ts = std::max(w.max_ts, in[i].ts_us);  // where the run ends, as for the others
            }
            shard.stats().packets_rx += m;
            shard.stats().packets_filtered += m;
            continue;
        }
        // Runs of frames between time marks are tracked where they lie in `in`.
        unsigned from = 0;
        for (unsigned i = 0; i < n; ++i) {
            if (in[i].data != nullptr) continue;
            if (i > from) {
                at = in[i - 1].data;
                shard.process(in + from, i - from);
            }
            from = i + 1;
            shard.detect_advance(in[i].ts_us);
            shard.sweep(shard.now());
            w.max_ts = std::max(w.max_ts, in[i].ts_us);
        }
        if (n > from) {  // the rest of a burst: its time comes with the next dequeue
            at = in[n - 1].data;
            shard.process(in + from, n - from);
        }
        shard.stats().cycles += rte_rdtsc() - t0;
        drain_reports(w);
        if (at != nullptr) w.file_pos.store(static_cast<uint64_t>(at - file.bytes()), std::memory_order_relaxed);
        if (w.compact_table) w.records_high.store(w.compact_table->high_water(), std::memory_order_relaxed);
    }
    w.file_pos.store(file.size(), std::memory_order_relaxed);
    return finish(w, shard);
}

template <class Shard>
int worker_loop(Worker& w, Shard& shard) {
    if (w.file) return file_loop(w, shard);
    if (w.feed) return fed_loop(w, shard);
    rte_mbuf* mb[kBurst];
    engine::RawPacket raw[kBurst];
    uint64_t idle = 0, last_progress_tsc = rte_rdtsc(), last_publish = last_progress_tsc;
    const uint64_t hz = rte_get_tsc_hz();
    const bool rx_only = g.opt->rx_only;
    if (rx_only && !w.direct_rx) {  // the ceiling is measured on the port's queues alone
        w.done.store(true, std::memory_order_release);
        return 0;
    }
    for (;;) {
        if (g_stop.load(std::memory_order_relaxed)) break;  // SIGINT, --duration: also mid-stream
        if (rte_rdtsc() - last_publish > hz / 10) {
            publish_stats(w);
            last_publish = rte_rdtsc();
        }
        uint16_t n = w.direct_rx ? rte_eth_rx_burst(g.port, w.queue, mb, kBurst)
                                 : static_cast<uint16_t>(rte_ring_sc_dequeue_burst(
                                       w.in_ring, reinterpret_cast<void**>(mb), kBurst, nullptr));
        const bool read_error = w.direct_rx && n < kBurst && replay_read_error();  // after this burst
        if (n > 0 && rx_only) {
            auto& st = shard.stats();
            st.packets_rx += n;
            st.packets_filtered += n;  // received, deliberately not analysed
            rte_pktmbuf_free_bulk(mb, n);
            idle = 0;
            last_progress_tsc = rte_rdtsc();
            if (read_error) break;
            continue;
        }
        if (n > 0) {
            const uint64_t t0 = rte_rdtsc();
            const uint64_t wall = g.clock.now_us();
            // Another core wrote these mbufs (the distributor, or the PMD's copy): fetch
            // every header (its second line holds the timestamp) before reading any.
            for (uint16_t i = 0; i < n; ++i) {
                rte_prefetch0(mb[i]);
                rte_prefetch0(&mb[i]->cacheline1);
            }
            for (uint16_t i = 0; i < n; ++i) {
                raw[i].data = rte_pktmbuf_mtod(mb[i], const uint8_t*);  // the shard prefetches it
                raw[i].caplen = mb[i]->data_len;  // headers live in the first segment
                raw[i].ts_us = g.clock.of(mb[i], wall);
                if (raw[i].ts_us > w.max_ts) w.max_ts = raw[i].ts_us;
            }
            shard.process(raw, n);
            rte_pktmbuf_free_bulk(mb, n);
            shard.sweep(shard.now());
            shard.stats().cycles += rte_rdtsc() - t0;
            drain_reports(w);
            idle = 0;
            last_progress_tsc = t0;
            if (read_error) break;
            continue;
        }
        if (read_error) break;
        if (!g.replay) {  // live: time passes without packets
            const uint64_t now = g.clock.now_us();
            shard.sweep(now);
            shard.detect_advance(now);
        } else if (!w.direct_rx) {
            // Replay through the distributor: everything up to its last burst is queued
            // to us or was never ours, so our detection interval may close (load the time
            // before looking at the ring, which the distributor fills first).
            const uint64_t t = g.dist_ts.load(std::memory_order_acquire);
            if (t && rte_ring_empty(w.in_ring)) shard.detect_advance(t);
        }
        drain_reports(w);
        if (g_stop.load(std::memory_order_relaxed)) break;
        if (w.direct_rx) {
            if (g.replay && (idle & 63) == 0) {
                if (replay_complete()) break;
                // A PMD that loses frames without counting them must not hang us.
                if (rte_rdtsc() - last_progress_tsc > 5 * hz) {
                    spdlog::warn("replay: no frame for 5 s after {}; assuming end of capture",
                                 port_received(g.port));
                    break;
                }
            }
        } else if (g.rx_done.load(std::memory_order_acquire) && rte_ring_empty(w.in_ring)) {
            break;
        }
        // Idle: yield the core after a while (our 2-core machines share it with others).
        if (++idle > 256) rte_delay_us_sleep(20);
        else rte_pause();
    }
    if (!w.direct_rx) {  // shutdown: what is already queued to us is still ours to count
        unsigned n;
        while ((n = rte_ring_sc_dequeue_burst(w.in_ring, reinterpret_cast<void**>(mb), kBurst, nullptr)) > 0) {
            for (unsigned i = 0; i < n; ++i) {
                raw[i] = {rte_pktmbuf_mtod(mb[i], const uint8_t*), mb[i]->data_len, g.clock.of(mb[i], g.clock.now_us())};
            }
            shard.process(raw, n);
            rte_pktmbuf_free_bulk(mb, n);
        }
    }
    return finish(w, shard);
}

int worker_main(void* arg) {
    Worker& w = *static_cast<Worker*>(arg);
    // --rx-only measures the source alone: the table is never touched.
    const bool tracks = !g.opt->rx_only;
    if (w.compact_table && tracks) w.compact_table->prefault();  // what start-up's Prefault left, if anything
    // A port that runs on (live capture, or the endless replay of --infinite-rx)
    // commits its whole shard now, on the core that will use it: a burst of new
    // connections, a SYN flood first of all, would otherwise fault in and zero
    // fresh pages on the packet path (about 400 bytes a connection) while the
    // port's ring fills. A replay that ends starts at once instead, and Prefault
    // commits ahead of the worker (from the mapped file, all along; through the
    // PMD, while the EAL starts).
    if (tracks && (!g.replay || g.opt->infinite_rx))
        std::visit([](auto& shard) { shard->prefault_all(); }, w.shard);
    w.ready.store(true, std::memory_order_release);
    while (!g.go.load(std::memory_order_acquire)) rte_pause();
    return std::visit([&](auto& shard) { return worker_loop(w, *shard); }, w.shard);
}

// ---- software RSS distributor (ports without RSS: pcap, af_packet, ring, null) --

// The symmetric Toeplitz key (0x6d5a repeated): hash(a->b) == hash(b->a), as a NIC
// configured with the same key computes it.
constexpr uint8_t kSymKey[40] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a};

uint32_t soft_rss(const parse::PacketView& v) noexcept {
    uint32_t t[9];
    uint32_t len;
    auto word = [](const uint8_t* p) {
        return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    };
    if (parse::is_v4_mapped(v.src) && parse::is_v4_mapped(v.dst)) {
        t[0] = word(v.src.data() + 12);
        t[1] = word(v.dst.data() + 12);
        t[2] = (uint32_t{v.sport} << 16) | v.dport;
        len = 3;
    } else {
        for (int i = 0; i < 4; ++i) t[i] = word(v.src.data() + 4 * i), t[4 + i] = word(v.dst.data() + 4 * i);
        t[8] = (uint32_t{v.sport} << 16) | v.dport;
        len = 9;
    }
    return rte_softrss(t, len, kSymKey);
}

void distributor_main(uint64_t stop_at) {
    const auto& cfg = *g.workers[0]->config;
    const unsigned nw = static_cast<unsigned>(g.workers.size());
    rte_mbuf* mb[kBurst];
    std::vector<std::vector<rte_mbuf*>> out(nw);
    for (auto& o : out) o.reserve(kBurst);
    parse::PacketView v;
    uint64_t max_ts = 0, idle = 0, last_mgmt = rte_rdtsc(), last_progress = last_mgmt;
    const uint64_t hz = rte_get_tsc_hz();
    for (;;) {
        if (g_stop.load(std::memory_order_relaxed)) break;
        uint16_t n = rte_eth_rx_burst(g.port, 0, mb, kBurst);
        const bool read_error = n < kBurst && replay_read_error();  // after this burst
        uint64_t now_tsc = rte_rdtsc();
        if (n > 0) {
            const uint64_t wall = g.clock.now_us();
            for (uint16_t i = 0; i < n; ++i) {
                uint64_t ts = g.clock.of(mb[i], wall);
                if (ts > max_ts) max_ts = ts;
                unsigned target = 0;  // one worker: every frame is its own
                if (nw > 1 && parse::parse(rte_pktmbuf_mtod(mb[i], const uint8_t*), mb[i]->data_len,
                                 static_cast<parse::Link>(g.linktype), cfg.parse, v) == parse::Kind::Tcp)
                    target = soft_rss(v) % nw;
                out[target].push_back(mb[i]);
            }
            for (unsigned w = 0; w < nw; ++w) {
                auto& q = out[w];
                size_t sent = 0;
                Backoff wait_room;
                while (sent < q.size()) {
                    sent += rte_ring_sp_enqueue_burst(g.workers[w]->in_ring, reinterpret_cast<void**>(q.data() + sent),
                                                      static_cast<unsigned>(q.size() - sent), nullptr);
                    if (sent == q.size()) break;
                    if (!g.replay || g_stop.load(std::memory_order_relaxed)) {
                        // Live: a worker that cannot keep up loses packets here, counted.
                        g.rx_ring_drops += q.size() - sent;
                        rte_pktmbuf_free_bulk(q.data() + sent, static_cast<unsigned>(q.size() - sent));
                        break;
                    }
                    mgmt_poll();  // replay: wait for the worker, keeping records flowing meanwhile
                    wait_room.pause();
                }
                q.clear();
            }
            g.dist_ts.store(max_ts, std::memory_order_release);
            idle = 0;
            last_progress = now_tsc;
            if (read_error) break;
        } else {
            if (read_error) break;
            if (g_stop.load(std::memory_order_relaxed)) break;
            if (g.replay && (idle & 63) == 0) {
                if (replay_complete()) break;
                if (now_tsc - last_progress > 5 * hz) {
                    spdlog::warn("replay: no frame for 5 s; assuming end of capture");
                    break;
                }
            }
            if (++idle > 256) rte_delay_us_sleep(20);
        }
        if (now_tsc - last_mgmt > hz / 1000) {
            mgmt_poll();
            last_mgmt = now_tsc;
            if (stop_at && now_tsc >= stop_at) g_stop.store(true, std::memory_order_relaxed);
        }
    }
    g.final_ts.store(g.replay ? max_ts : g.clock.now_us(), std::memory_order_release);
    g.rx_done.store(true, std::memory_order_release);
}

// ---- start-up -----------------------------------------------------------------

std::vector<unsigned> allowed_cpus() {
    std::vector<unsigned> cpus;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (unsigned c = 0; c < CPU_SETSIZE; ++c)
            if (CPU_ISSET(c, &set)) cpus.push_back(c);
    if (cpus.empty()) cpus.push_back(0);
    return cpus;
}

// Replay builds its own EAL command line: no NIC, no hugepages, a pcap vdev, and
// one lcore per worker plus the main (management) lcore, mapped onto the CPUs we
// have even when there are fewer of them.
std::vector<std::string> replay_eal_args(const Options& o, const char* argv0) {
    auto cpus = allowed_cpus();
    std::string lcores;
    for (unsigned i = 0; i <= o.workers; ++i) {
        if (i) lcores += ',';
        lcores += std::to_string(i) + "@" + std::to_string(cpus[i % cpus.size()]);
    }
    unsigned mem = o.memory_mb;
    if (mem == 0) {
        // Flow tables live in heaps of their own (HugeHeap), not in EAL memory.
        mem = static_cast<unsigned>(256 + o.workers * 40);
        if (o.infinite_rx)  // the PMD keeps the whole capture in mbufs
            // mbuf (128) + headroom (128) + data room + mempool header and alignment (~128), + 25%
            mem += static_cast<unsigned>(
                (g.expected_packets * (std::max<uint64_t>(g.max_caplen, 128) + 384) * 5 / 4) >> 20);
    }
    std::vector<std::string> args = {
        argv0,
        "--lcores=" + lcores,
        "--no-huge",
        "--no-pci",
        "--no-shconf",  // no files shared with other DPDK processes: replays run side by side
        "--file-prefix=wirestate-" + std::to_string(getpid()),
        "--no-telemetry",
        "-m",
        std::to_string(mem),
        "--log-level=lib.*:warning",
        "--log-level=pmd.*:warning"};
    // The mapped-file reader needs no port; everything else reads through the pcap PMD.
    if (!g.from_file) args.push_back("--vdev=net_pcap0,rx_pcap=" + o.replay_file + (o.infinite_rx ? ",infinite_rx=1" : ""));
    return args;
}

// The link type and snap length come from the file header. Only infinite_rx, which
// keeps every frame in its own mbuf, needs the frame count and the largest frame:
// that costs a pass over the file.
void read_capture_header(const std::string& path, bool count_frames) {
    char err[PCAP_ERRBUF_SIZE] = {0};
    pcap_t* p = pcap_open_offline(path.c_str(), err);
    if (p == nullptr) fail("cannot read capture " + path + ": " + err);
    g.linktype = static_cast<uint32_t>(pcap_datalink(p));
    const int snap = pcap_snapshot(p);
    g.max_caplen = snap > 0 && snap < 65535 ? static_cast<uint32_t>(snap) : 65535u;
    if (!parse::link_supported(g.linktype)) {
        pcap_close(p);
        fail("capture " + path + " has link type " + std::to_string(g.linktype) + ", which wirestate does not read");
    }
    if (!count_frames) {
        pcap_close(p);
        return;
    }
    g.max_caplen = 0;
    pcap_pkthdr* h;
    const u_char* d;
    uint64_t n = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
        ++n;
        if (h->caplen > g.max_caplen) g.max_caplen = h->caplen;
    }
    if (rc == PCAP_ERROR) {
        std::string e = pcap_geterr(p);
        pcap_close(p);
        fail("cannot read capture " + path + ": " + e);
    }
    pcap_close(p);
    g.expected_packets = n;
}

void setup_port(const Options& o, bool want_rss) {
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(g.port, &info) != 0) fail(rte_error("cannot query port"));
    rte_eth_conf conf{};
    uint16_t nq = 1;
    if (want_rss) {
        nq = static_cast<uint16_t>(o.workers);
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = const_cast<uint8_t*>(kSymKey);
        conf.rx_adv_conf.rss_conf.rss_key_len = sizeof kSymKey;
        conf.rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP) & info.flow_type_rss_offloads;
    }
    // The pcap PMD's infinite_rx mode cannot chain mbufs: each holds a whole frame there.
    const bool whole_frames = g.replay && o.infinite_rx;
    if ((info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) && !whole_frames)
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
    if (int rc = rte_eth_dev_configure(g.port, nq, 0, &conf); rc != 0)
        fail(std::string("cannot configure port: ") + rte_strerror(-rc));
    uint16_t rxd = kRxDesc, txd = 0;
    rte_eth_dev_adjust_nb_rx_tx_desc(g.port, &rxd, &txd);
    const int socket = rte_eth_dev_socket_id(g.port) >= 0 ? rte_eth_dev_socket_id(g.port) : 0;
    // A NIC's queue holds rxd filled mbufs; the pcap PMD takes one per frame as it
    // reads, so replay needs only what is in flight (bursts, worker rings, per-lcore
    // caches): every mbuf is initialised, i.e. touched, when the pool is created.
    uint64_t nb_mbufs = g.replay ? 2047 + (o.workers + 1) * (256 + 2u * kBurst) + (g.distribute ? o.workers * kInRingSize : 0)
                                 : 8191 + o.workers * (kInRingSize + rxd + 2u * kBurst);
    if (g.replay && o.infinite_rx) nb_mbufs += g.expected_packets;  // infinite_rx preloads every frame
    // Replay knows its largest frame: smaller mbufs, less memory; larger frames chain (scatter).
    uint16_t room = RTE_MBUF_DEFAULT_BUF_SIZE;
    if ((g.replay && g.max_caplen + RTE_PKTMBUF_HEADROOM < room) || whole_frames)
        room = static_cast<uint16_t>(
            std::min<uint32_t>(std::max<uint32_t>(g.max_caplen, 128) + RTE_PKTMBUF_HEADROOM, UINT16_MAX));
    g.mbufs = rte_pktmbuf_pool_create("ws_mbufs", static_cast<unsigned>(nb_mbufs), 256, 0, room, socket);
    if (g.mbufs == nullptr) fail(rte_error("cannot create mbuf pool (try a larger --memory-mb)"));
    rte_eth_rxconf rxc = info.default_rxconf;
    rxc.offloads = conf.rxmode.offloads;
    for (uint16_t q = 0; q < nq; ++q)
        if (int rc = rte_eth_rx_queue_setup(g.port, q, rxd, static_cast<unsigned>(socket), &rxc, g.mbufs); rc != 0)
            fail(std::string("cannot set up rx queue: ") + rte_strerror(-rc));
}

// After the workers are ready: frames that arrived while they committed memory
// would only have overflowed the queues.
void start_port() {
    if (int rc = rte_eth_dev_start(g.port); rc != 0) fail(std::string("cannot start port: ") + rte_strerror(-rc));
    rte_eth_promiscuous_enable(g.port);  // a span port sees other hosts' frames
    g.clock.lookup_dynfield();
}

void open_outputs(const Options& o) {
    if (!o.conn_log.empty()) {
        if (o.conn_log == "-") {
            g.conn_log = stdout;
        } else {
            g.conn_log = std::fopen(o.conn_log.c_str(), "w");
            if (!g.conn_log) fail("cannot write connection log " + o.conn_log + ": " + std::strerror(errno));
            g.conn_log_owned = true;
        }
        g.writer = std::make_unique<report::ConnLogWriter>(
            o.log_format == LogFormat::Json ? report::ConnLogWriter::Format::Json : report::ConnLogWriter::Format::Zeek);
        g.buf = g.writer->header(wall_us() / 1000000u);
    }
    if (!o.stats_json.empty()) {
        FILE* f = std::fopen(o.stats_json.c_str(), "a");
        if (!f) fail("cannot write " + o.stats_json + ": " + std::strerror(errno));
        std::fclose(f);
    }
    if (!o.alerts.empty()) {
        g.alerts = o.alerts == "-" ? stdout : std::fopen(o.alerts.c_str(), "w");
        if (!g.alerts) fail("cannot write alerts " + o.alerts + ": " + std::strerror(errno));
    }
}

void write_file(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f) {
        spdlog::error("cannot write {}: {}", path, std::strerror(errno));
        return;
    }
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
}

// Replay's default reader (pcap, pcapng). A variant libpcap reads but we do not (such
// as the "modified" pcap of old Linux patches) goes through the pcap PMD instead.
std::unique_ptr<capture::PcapFile> open_capture_file(const std::string& path) {
    capture::PcapFile::OpenError err;
    std::string why;
    auto f = capture::PcapFile::open(path, err, why);
    if (f) return f;
    if (err != capture::PcapFile::OpenError::NotPcap) fail(why);
    spdlog::info("{}; reading it through the pcap PMD (libpcap)", why);
    return nullptr;
}

// The worker's pointers to the parts of its shard that do not depend on the table type.
template <class S>
void wire(Worker& w, std::unique_ptr<S>& shard) {
    w.stats = &shard->stats();
    w.detector = &shard->detector();
    w.config = &shard->config();
}

// A worker without its DPDK parts (lcore, rings): with the compact table, its table
// and shard too, which are plain memory; rte_hash's are made once the EAL is up.
std::unique_ptr<Worker> new_worker(unsigned id, const Options& o, const engine::ShardConfig& scfg) {
    auto w = std::make_unique<Worker>();
    w->id = id;
    if (o.flow_table == FlowTableKind::Compact) {
        w->compact_table = std::make_unique<engine::FlowTable>(o.flow_table_size);
        wire(*w, w->shard.emplace<std::unique_ptr<CompactShard>>(
                     std::make_unique<CompactShard>(*w->compact_table, w->sink, scfg)));
    }
    return w;
}

// Commits memory from a thread of its own, in the order the workers would otherwise
// fault it in: their flow tables first (first touched at random, each page would
// fault twice), then their records from index 0 up, as connections will take them
// (each huge page zeroed on the packet path otherwise), then the capture's pages.
// Until the workers take their first frame it touches their memory itself (the
// quickest way, see mem::Commit), while the EAL starts and then from the management
// core's CPU; once they run, it goes on committing their records ahead of the
// highest index each has handed out, with MADV_POPULATE_WRITE (it leaves the
// contents alone), as far as the capture could need (a connection takes at least
// one frame) and the table holds. Stopped when the EAL was up, as it was before,
// it had often not reached the records, and the worker zeroed a huge page on its
// packet path for every 6,000 connections (up to a quarter of its time on the
// 1M-frame peers cut, on this VM where fresh memory is slow to commit).
// Meanwhile it maps the capture's pages ahead of the workers (a worker that finds a
// page unmapped takes a fault for every 64 KiB) and unmaps them again behind the
// slowest: unmapping a whole capture's pages at exit, one by one where the page
// cache holds it in small pages, took 30 ms of a 1M-frame replay.
class Prefault {
    static constexpr uint64_t kRecordsAhead = 16384; // per worker: 6 MiB with their table entries
    static constexpr uint32_t kStep = 8192;          // records per round: 2 MiB of their cold lines
    static constexpr uint64_t kFileStep = uint64_t{8} << 20;
    // Released no nearer than this behind the slowest reader. A reader publishes its
    // offset once done with the frames before it, and a released page it touched
    // again would only be mapped again, so this is a cushion, not a condition.
    static constexpr uint64_t kBehind = uint64_t{4} << 20;

public:
    // `file`: the mapping the workers read, followed until they are done; null for a
    // replay through the pcap PMD, where only start-up is overlapped (the main
    // lcore's CPU, where the thread goes next, is busy reading the file).
    // `memory`: whether the workers need their tables (not with --rx-only).
    void start(const capture::PcapFile* file, uint64_t file_size, bool memory,
               const std::vector<std::unique_ptr<Worker>>& workers) {
        thread_ = std::thread([this, file, file_size, memory, &workers] {
            uint32_t need = 0;
            if (memory) {
                for (const auto& w : workers) w->compact_table->prefault(&stop_memory_);
                need = static_cast<uint32_t>(
                    std::min<uint64_t>(shard(*workers.front()).capacity(), capture::max_opening_frames(file_size)));
            }
            const auto first = static_cast<uint32_t>(std::min<uint64_t>(need, kRecordsAhead));
            for (uint32_t at = 0; at < first && !stop_memory_.load(std::memory_order_relaxed); at += kStep) {
                const uint32_t n = std::min(kStep, first - at);
                for (const auto& w : workers) shard(*w).prefault_records(at, n, &stop_memory_);
                if (!stop_memory_.load(std::memory_order_relaxed)) records_ = at + n;  // else redone below
            }
            memory_done_.store(true, std::memory_order_release);
            if (file) follow(*file, workers, need);
        });
    }
    // Moves the thread to `cpus` (the management core's) once the EAL is up.
    void pin(const rte_cpuset_t& cpus) {
        if (thread_.joinable()) pthread_setaffinity_np(thread_.native_handle(), sizeof cpus, &cpus);
    }
    // Returns once the thread has stopped touching the workers' memory, before they
    // write it; from then on it commits it beside them.
    void leave_workers_memory() {
        if (!thread_.joinable()) return;
        stop_memory_.store(true, std::memory_order_relaxed);
        while (!memory_done_.load(std::memory_order_acquire)) std::this_thread::yield();
    }
    void finish() {
        stop_memory_.store(true, std::memory_order_relaxed);
        stop_file_.store(true, std::memory_order_relaxed);
        if (thread_.joinable()) thread_.join();
    }
    ~Prefault() { finish(); }

private:
    static const CompactShard& shard(const Worker& w) { return *std::get<std::unique_ptr<CompactShard>>(w.shard); }

    // Records ahead of the workers and the capture's pages, a step of each in turn,
    // until every worker has read the whole file.
    void follow(const capture::PcapFile& f, const std::vector<std::unique_ptr<Worker>>& workers, uint32_t need) {
        const uint64_t size = f.size();
        uint64_t ahead = 0, behind = 0;
        while (!stop_file_.load(std::memory_order_relaxed)) {
            uint32_t high = 0;
            for (const auto& w : workers) high = std::max(high, w->records_high.load(std::memory_order_relaxed));
            const auto want = static_cast<uint32_t>(std::min<uint64_t>(need, uint64_t{high} + kRecordsAhead));
            // Whole steps (the last one excepted), not a few records at each new connection.
            const bool more_records = records_ < want && (want - records_ >= kStep || want == need);
            if (more_records) {
                const uint32_t n = std::min(kStep, want - records_);
                for (const auto& w : workers) shard(*w).prefault_records(records_, n, nullptr, mem::Commit::Beside);
                records_ += n;
            }
            if (ahead < size) {
                f.populate(ahead, std::min(size, ahead + kFileStep));
                ahead = std::min(size, ahead + kFileStep);
            }
            uint64_t low = size;
            for (const auto& w : workers) low = std::min(low, w->file_pos.load(std::memory_order_relaxed));
            if (low >= size) {  // every worker is done with it
                f.release(behind, size);
                return;
            }
            for (; behind + kFileStep + kBehind <= low; behind += kFileStep) f.release(behind, behind + kFileStep);
            if (ahead >= size && !more_records) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }

    std::atomic<bool> stop_memory_{false}, stop_file_{false}, memory_done_{false};
    uint32_t records_ = 0;  // every worker's records below this are committed (the thread's own)
    std::thread thread_;
};

// A port (NIC, af_packet, the pcap PMD): RSS queues when it has one for every
// worker, otherwise the main lcore polls its one queue and feeds the workers.
// Returns whether the workers poll RSS queues.
bool setup_port_source(const Options& o) {
    const uint16_t nports = rte_eth_dev_count_avail();
    if (nports == 0) fail("no port found (give a NIC's PCI address or a --vdev such as net_af_packet0,iface=eth0)");
    if (o.port >= RTE_MAX_ETHPORTS || !rte_eth_dev_is_valid_port(static_cast<uint16_t>(o.port)))
        fail("--port " + std::to_string(o.port) + " does not exist (" + std::to_string(nports) + " port(s) found)");
    g.port = static_cast<uint16_t>(o.port);

    rte_eth_dev_info info{};
    rte_eth_dev_info_get(g.port, &info);
    const bool rss = o.workers > 1 && info.flow_type_rss_offloads != 0 && info.max_rx_queues >= o.workers;
    // Without RSS queues the main lcore is the RX core and feeds the workers. A replay
    // does so even for one worker: the pcap PMD reads and copies every frame, and on
    // the main lcore that overlaps the worker's tracking instead of adding to it (1M
    // packets cut to 96 bytes: 0.67 -> 0.56 s, median of 7). Not for --infinite-rx,
    // whose frames are already in memory: there handing them across cores costs more
    // than the copy it moves (pipeline-bench, 1K connections: 4.94 -> 4.46 Mpps).
    g.distribute = !rss && !o.rx_only && (o.workers > 1 || (g.replay && !o.infinite_rx));
    setup_port(o, rss);
    return rss;
}

}  // namespace

int run(Options& o, const char* argv0) {
    const auto started = std::chrono::steady_clock::now();
    g.opt = &o;
    g.replay = o.mode == Mode::Replay;
    if (o.infinite_rx && !g.replay) fail("--infinite-rx applies to replay only");
    // Log lines go to stderr: stdout may carry the connection log ("--conn-log -").
    spdlog::set_default_logger(spdlog::stderr_color_mt("wirestate"));
    spdlog::set_pattern("wirestate [%l] %v");
    if (g.replay) read_capture_header(o.replay_file, o.infinite_rx);
    std::unique_ptr<capture::PcapFile> file;  // the mapping; worker 0 reads it with a cursor of its own
    if (g.replay && o.reader == Reader::Mmap && !o.infinite_rx) file = open_capture_file(o.replay_file);
    g.from_file = file != nullptr;
    g.pmd_replay = g.replay && !g.from_file && !o.infinite_rx;
    open_outputs(o);  // before EAL: a bad path is a usage error, not a half-started run
    if (!g.replay) g.linktype = static_cast<uint32_t>(parse::Link::Ethernet);
    engine::ShardConfig scfg = o.shard;
    scfg.link = static_cast<parse::Link>(g.linktype);
    // A capture opens no more connections than it has frames that could: a table whose
    // half-open share holds them all never fills, and gives every connection the record
    // the configured one would (in another order, maybe: its expiry sweep comes round
    // sooner), while a short capture commits a small table at start-up instead of the
    // default's 30 MB of buckets a worker. From the mapping only, whose size is fixed:
    // libpcap (the pcap PMD) would read on into a file that grows.
    if (file) {
        const uint64_t fits =
            engine::capacity_holding(capture::max_opening_frames(file->size()), o.shard.embryonic_share_pct);
        o.flow_table_size = static_cast<uint32_t>(std::min<uint64_t>(o.flow_table_size, std::max<uint64_t>(64, fits)));
    }
    // The EAL's start-up sleeps while it measures the TSC (1 ms in a replay from the
    // static build, see eal_start.cpp; 100 ms otherwise): meanwhile another thread
    // commits the workers' memory and maps the capture's pages, faults the workers
    // would take later. A replay that ends only, with the compact table, whose
    // workers' tables and shards are plain memory and so can be built before the EAL
    // (a port that runs on commits each worker's shard on its own core and memory
    // node, before its first packet).
    const bool early = g.replay && !o.infinite_rx && o.flow_table == FlowTableKind::Compact;
    if (early)
        for (unsigned i = 0; i < o.workers; ++i) g.workers.push_back(new_worker(i, o, scfg));
    Prefault prefault;
    if (early && (file || !o.rx_only)) {
        prefault.start(file.get(), file ? file->size() : file_bytes(o.replay_file), !o.rx_only, g.workers);
    }

    std::vector<std::string> args = g.replay ? replay_eal_args(o, argv0) : o.eal_args;
    if (!g.replay) args.insert(args.begin(), argv0);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    // A replay from the capture's own clock: the TSC times nothing but the run's
    // statistics (--infinite-rx stamps packets by it, as a port does).
    eal_replay_start(g.replay && !o.infinite_rx);
    const int eal = rte_eal_init(static_cast<int>(argv.size()), argv.data());
    eal_replay_start(false);
    if (eal < 0) {
        std::string why = rte_strerror(rte_errno);
        fail("EAL initialisation failed: " + why +
             (g.replay ? "" : " (on a machine without hugepages, add --no-huge; without a NIC, --no-pci and a --vdev)"));
    }
    prefault.pin(rte_lcore_cpuset(rte_get_main_lcore()));
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    g.clock.init();

    if (rte_lcore_count() < o.workers + 1)
        fail("--workers " + std::to_string(o.workers) + " needs " + std::to_string(o.workers + 1) +
             " lcores (main + workers); EAL gave " + std::to_string(rte_lcore_count()));
    // From the mapped file worker 0 reads every frame and feeds the others: no port,
    // and the main lcore only manages. Otherwise a port.
    const bool rss = g.from_file ? false : setup_port_source(o);

    const unsigned rec_ring = g.replay ? kRecRingReplay : kRecRingLive;
    const unsigned nrec = rec_ring * o.workers + 1024;
    g.records = rte_mempool_create("ws_records", nrec, sizeof(track::ConnRecord), 256, 0, nullptr, nullptr, nullptr,
                                   nullptr, static_cast<int>(rte_socket_id()), 0);
    if (!g.records) fail(rte_error("cannot create record pool"));

    g.stats_pool = rte_mempool_create("ws_stats", 64 * o.workers + 256, sizeof(engine::ShardStats), 0, 0, nullptr,
                                      nullptr, nullptr, nullptr, static_cast<int>(rte_socket_id()), 0);
    if (!g.stats_pool) fail(rte_error("cannot create statistics pool"));
    g.latest.assign(o.workers, engine::ShardStats{});
    if (o.shard.detect.enabled) {
        g.report_pool = rte_mempool_create("ws_reports", kReportRingSize * o.workers + 64, sizeof(detect::IntervalReport),
                                           0, 0, nullptr, nullptr, nullptr, nullptr, static_cast<int>(rte_socket_id()), 0);
        if (!g.report_pool) fail(rte_error("cannot create detection report pool"));
        detect::AlertConfig acfg = o.alert;
        if (g.replay) acfg.max_pending_reports = 0;  // replay: wait for every worker, deterministic
        g.alert_engine = std::make_unique<detect::AlertEngine>(acfg, o.workers);
    }

    if (!early)
        for (unsigned i = 0; i < o.workers; ++i) g.workers.push_back(new_worker(i, o, scfg));
    unsigned lcore = rte_get_next_lcore(static_cast<unsigned>(-1), 1, 0);
    for (unsigned i = 0; i < o.workers; ++i, lcore = rte_get_next_lcore(lcore, 1, 0)) {
        Worker* w = g.workers[i].get();
        w->lcore = lcore;
        w->queue = static_cast<uint16_t>(rss ? i : 0);
        // Without RSS there is one queue, and a queue has one poller (rx-only: worker 0).
        w->direct_rx = !g.from_file && !g.distribute && (rss || i == 0);
        if (g.from_file && i == 0) w->file = file->cursor();
        char name[RTE_RING_NAMESIZE];
        std::snprintf(name, sizeof name, "ws_rec_%u", i);
        w->sink.ring = rte_ring_create(name, rec_ring, static_cast<int>(rte_lcore_to_socket_id(lcore)),
                                       RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (!w->sink.ring) fail(rte_error("cannot create record ring"));
        std::snprintf(name, sizeof name, "ws_stats_%u", i);
        w->stats_ring = rte_ring_create(name, 64, static_cast<int>(rte_lcore_to_socket_id(lcore)),
                                        RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (!w->stats_ring) fail(rte_error("cannot create statistics ring"));
        if (o.shard.detect.enabled) {
            std::snprintf(name, sizeof name, "ws_rep_%u", i);
            w->report_ring = rte_ring_create(name, kReportRingSize, static_cast<int>(rte_lcore_to_socket_id(lcore)),
                                             RING_F_SP_ENQ | RING_F_SC_DEQ);
            if (!w->report_ring) fail(rte_error("cannot create detection report ring"));
        }
        w->sink.pool = g.records;
        w->sink.wait = g.replay;
        if (g.from_file && i > 0) {
            std::snprintf(name, sizeof name, "ws_feed_%u", i);
            w->feed = rte_ring_create_elem(name, sizeof(engine::RawPacket), kFeedRingSize,
                                           static_cast<int>(rte_lcore_to_socket_id(lcore)), RING_F_SP_ENQ | RING_F_SC_DEQ);
            if (!w->feed) fail(rte_error("cannot create worker ring"));
        }
        if (g.distribute) {
            std::snprintf(name, sizeof name, "ws_in_%u", i);
            w->in_ring = rte_ring_create(name, kInRingSize, static_cast<int>(rte_lcore_to_socket_id(lcore)),
                                         RING_F_SP_ENQ | RING_F_SC_DEQ);
            if (!w->in_ring) fail(rte_error("cannot create worker ring"));
        }
        if (!w->compact_table) {  // rte_hash lives in DPDK memory: made once the EAL is up
            w->rte_table = std::make_unique<WorkerTable>(o.flow_table_size,
                                                         static_cast<int>(rte_lcore_to_socket_id(lcore)), i);
            wire(*w, w->shard.emplace<std::unique_ptr<RteShard>>(
                         std::make_unique<RteShard>(w->rte_table->get(), w->sink, scfg)));
        }
    }

    g.summary.source = g.replay ? o.replay_file : std::string("port ") + std::to_string(g.port);
    g.summary.link = std::string(parse::link_name(g.linktype));
    spdlog::info("watching {} ({} link, {} worker{}, {})", g.summary.source, g.summary.link, o.workers,
                 o.workers == 1 ? "" : "s",
                 g.from_file      ? (o.workers > 1 ? "frames in place from the mapped file, worker 0 handing each worker its flows"
                                                   : "frames in place from the mapped file")
                 : rss            ? "RSS"
                 : !g.distribute  ? "direct RX"
                 : o.workers > 1  ? "software RSS"
                                  : "RX on the main lcore");
    // Workers commit their tables' memory on their own cores first; the port starts
    // and the clock of the run begins when all of them are ready.
    for (auto& w : g.workers) rte_eal_remote_launch(worker_main, w.get(), w->lcore);
    for (auto& w : g.workers)
        while (!w->ready.load(std::memory_order_acquire)) rte_delay_us_sleep(100);
    prefault.leave_workers_memory();
    if (!g.from_file) {
        try {
            start_port();
        } catch (...) {  // let the waiting workers finish (they stop at once) before failing
            g_stop.store(true, std::memory_order_relaxed);
            g.go.store(true, std::memory_order_release);
            rte_eal_mp_wait_lcore();
            throw;
        }
    }
    g.summary.startup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const uint64_t t0 = rte_rdtsc();
    const auto processing = std::chrono::steady_clock::now();  // duration_s by the system clock, not the TSC's rate
    g.go.store(true, std::memory_order_release);

    g.last_progress_tsc = t0;
    const uint64_t stop_at = o.duration_s > 0 ? t0 + static_cast<uint64_t>(o.duration_s * static_cast<double>(rte_get_tsc_hz())) : 0;
    if (g.distribute) distributor_main(stop_at);
    // The management core: drain records until every worker has flushed and stopped.
    for (;;) {
        if (stop_at && rte_rdtsc() >= stop_at) g_stop.store(true, std::memory_order_relaxed);
        bool all_done = true;
        for (auto& w : g.workers) all_done = all_done && w->done.load(std::memory_order_acquire);
        unsigned n = mgmt_poll();
        if (all_done && n == 0) break;
        if (n == 0) rte_delay_us_sleep(200);
    }
    rte_eal_mp_wait_lcore();
    prefault.finish();
    while (mgmt_poll() > 0) {
    }
    if (g.alert_engine) {  // alerts still active at the end are written now
        g.alert_engine->finish();
        write_alert_events();
    }
    if (g.alerts && g.alerts != stdout) std::fclose(g.alerts);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - processing).count();

    auto& s = g.summary;
    s.duration_s = secs;
    s.rx_ring_drops = g.rx_ring_drops;
    if (!g.from_file) s.port_rx_errors = port_losses(g.port);
    if (g.capture_read_error) {
        rte_eth_stats st{};
        rte_eth_stats_get(g.port, &st);  // a frame lost for want of an mbuf was read all the same
        uint64_t at;
        std::string why;
        s.capture_unread_bytes = locate_read_error(o.replay_file, st.ipackets + st.rx_nombuf, at, why);
        spdlog::warn("{}: libpcap: {}, at byte {} after frame {}; its last {} bytes were not read (tcpdump stops "
                     "there too)", o.replay_file, why, at, st.ipackets + st.rx_nombuf, s.capture_unread_bytes);
    }
    if (g.from_file && file_damaged(*g.workers[0]->file)) {
        const auto& f = *g.workers[0]->file;  // every worker read the same frames
        s.capture_unread_bytes = f.size() - f.offset();
        spdlog::warn("{}: {} at byte {}; its last {} bytes were not read", o.replay_file, capture::to_string(f.status()),
                     f.offset(), s.capture_unread_bytes);
    }
    s.reader = !g.replay ? "port" : g.from_file ? "mmap" : "pcap-pmd";
    s.flow_table_size = o.flow_table_size;
    if (g.alert_engine) s.alerts = g.alert_engine->stats().alerts;
    for (auto& w : g.workers) {
        const auto& st = *w->stats;
        s.detect_reports_dropped += w->detector->reports_dropped();
        s.totals += st;
        s.workers.push_back({w->lcore, st.packets_rx,
                             st.packets_rx ? static_cast<double>(st.cycles) / static_cast<double>(st.packets_rx) : 0});
    }
    if (g.writer) {
        g.buf += g.writer->footer(wall_us() / 1000000u);
        flush_log(true);
        if (g.conn_log_owned) std::fclose(g.conn_log);
        else std::fflush(g.conn_log);
    }
    if (!o.stats_json.empty()) write_file(o.stats_json, report::stats_json(s));
    if (o.table_rows) std::fputs(report::connection_table(g.table_rows, g.table_more).c_str(), stdout);
    if (o.summary) std::fputs(report::human_summary(s).c_str(), stdout);
    std::fflush(stdout);

    if (!g.from_file) {
        rte_eth_dev_stop(g.port);
        rte_eth_dev_close(g.port);
    }
    g.workers.clear();
    rte_eal_cleanup();
    return 0;
}

}  // namespace ws::pipeline
