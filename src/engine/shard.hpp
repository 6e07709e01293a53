// One worker's share of the connections: its flow table, its connection records,
// its expiry sweep and its counters. Owned by exactly one thread; no locks.
//
// The shard is generic over two policies so that the core stays DPDK-free:
//
//   Table (single writer), indices in [0, capacity()):
//     uint32_t capacity() const;
//     void lookup_bulk(const flow::FlowKey* keys, uint32_t n, int32_t* idx);  // -1 = miss
//     int32_t lookup(const flow::FlowKey& k);        // index or -1
//     int32_t add(const flow::FlowKey& k);           // new index, or -1 when full
//     int32_t insert(const flow::FlowKey& k);        // optional: add() of an absent key
//     void del(const flow::FlowKey& k);
//     const flow::FlowKey& key(uint32_t ix) const;   // the key of a live index
//   Optional, together: a Probe type (the key's hash h and first bucket),
//   lookup_bulk(keys, n, idx, probes) that keeps each key's, lookup(k, probe) and
//   insert(k, probe) that start from it, del_at(ix, h) and prefetch_hashed(h) that
//   need no key (engine::FlowTable).
//   The pipeline plugs in engine::FlowTable (or rte_hash, pipeline/rte_table.hpp);
//   tests use engine::StdTable too.
//
//   Sink: bool operator()(const track::ConnRecord&); false = could not take it
//   (counted as records_dropped).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <new>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "detect/detector.hpp"
#include "engine/stats.hpp"
#include "flow/flow_key.hpp"
#include "mem/region.hpp"
#include "parse/packet.hpp"
#include "track/tracker.hpp"

namespace ws::engine {

// A captured frame handed to the shard: bytes in place (zero copy) and capture time.
struct RawPacket {
    const uint8_t* data;
    uint32_t caplen;
    uint64_t ts_us;
};

inline constexpr uint32_t kMaxBurst = 64;
// Replay drains the detector to empty after each burst and must lose no report.
static_assert(detect::Detector::kPending >= kMaxBurst + 2);
// How many packets ahead of its update a record is prefetched. Far enough to hide
// most of a miss, near enough not to flood the core's miss queue: at 1M connections
// (bench-track) 8 ahead beat the whole burst at once by 15-18%, 4 ahead by about
// the same, 16 ahead by 8%.
inline constexpr uint32_t kPrefetchAhead = 8;
// How many evictions ahead a victim's lines are prefetched (Shard::prefetch_victims).
inline constexpr uint32_t kVictimAhead = 16;

// A table's Probe type, or an empty stand-in for tables without one.
template <class Table>
struct ProbeOf {
    struct type {};
    static constexpr bool kKept = false;
};
template <class Table>
    requires requires { typename Table::Probe; }
struct ProbeOf<Table> {
    using type = typename Table::Probe;
    static constexpr bool kKept = true;
};

// Which of `shares` workers takes a frame when one reader hands each worker the
// frames of its flows (replay from the mapped file): flow::peek_share read at fixed
// offsets, else the share of the parsed key (into `scratch`); a frame that does not
// parse as TCP goes to share 0, which counts it. Both directions of a flow, and
// every frame of it whatever its encapsulation, go to one share.
inline uint32_t owner_of(const RawPacket& p, parse::Link link, const parse::ParseConfig& cfg, uint32_t shares,
                         parse::PacketView& scratch) noexcept {
    const int o = flow::peek_share(p.data, p.caplen, link, shares);
    if (o >= 0) return static_cast<uint32_t>(o);
    if (parse::parse(p.data, p.caplen, link, cfg, scratch) != parse::Kind::Tcp) return 0;
    flow::FlowKey key;
    flow::make_key(scratch, key);
    return flow::share_of(key, shares);
}

struct ShardConfig {
    parse::Link link = parse::Link::Ethernet;
    parse::ParseConfig parse{};
    track::TrackerConfig tracker{};
    // Connections without a completed handshake may hold at most this share of the
    // table; beyond it the oldest embryonic one makes room (SYN-flood defence).
    uint32_t embryonic_share_pct = 50;
    // Table slots the expiry sweep visits per call; bounds the work per poll loop.
    uint32_t sweep_budget = 64;
    // SYN-flood, half-open and scan detection (src/detect/): per-worker summaries,
    // one IntervalReport per interval for the management core's AlertEngine.
    detect::DetectConfig detect{};
};

// The least table capacity whose half-open share (ShardConfig::embryonic_share_pct)
// holds `connections`: a table that large never fills, so every connection gets the
// record any larger one would give it.
constexpr uint64_t capacity_holding(uint64_t connections, uint32_t embryonic_share_pct) noexcept {
    return (connections * 100 + embryonic_share_pct - 1) / embryonic_share_pct;
}

template <class Table, class Sink>
class Shard {
public:
    Shard(Table& table, Sink& sink, const ShardConfig& cfg)
        : table_(table),
          sink_(sink),
          cfg_(cfg),
          cap_(table.capacity()),
          // Fresh mappings (mem::Array): zero without being written, so a large table
          // starts at once and grows into memory as it fills (small pages for its first
          // 2 MiB, then huge pages where THP allows: mem::Pages::Grow).
          conns_(cap_, mem::Pages::Grow),
          cold_(cap_, mem::Pages::Grow),
          gen_(cap_, mem::Pages::Grow),
          flags_(cap_, mem::Pages::Grow),
          fresh_(cap_),
          retried_(cap_),
          det_(cfg.detect),
          det_on_(cfg.detect.enabled) {
        embryonic_cap_ = std::max<uint64_t>(1, uint64_t{cap_} * cfg_.embryonic_share_pct / 100);
    }
    Shard(const Shard&) = delete;
    Shard& operator=(const Shard&) = delete;

    // Parses and tracks a burst of at most kMaxBurst packets, in order.
    void process(const RawPacket* pkts, uint32_t n) noexcept {
        n = std::min(n, kMaxBurst);
        ++stats_.bursts;
        uint32_t m = 0;
        // Headers span two lines (Ethernet + IP + TCP with options); frames read in
        // place from a large capture are rarely in cache.
        for (uint32_t i = 0; i < n; ++i) {
            __builtin_prefetch(pkts[i].data);
            __builtin_prefetch(pkts[i].data + 64);
        }
        for (uint32_t i = 0; i < n; ++i) {
            parse::PacketView& v = views_[m];
            parse::Kind k = parse::parse(pkts[i].data, pkts[i].caplen, cfg_.link, cfg_.parse, v);
            if (k == parse::Kind::Tcp) {
                sender_lo_[m] = flow::make_key(v, keys_in_[m]);
                ts_[m] = pkts[i].ts_us;
                ++m;
            } else if (k == parse::Kind::NonTcp) {
                ++stats_.packets_non_tcp;
                if (v.is_fragment) ++stats_.fragments;
            } else {
                ++stats_.packets_malformed;
                ++stats_.malformed[static_cast<size_t>(v.reason)];
            }
        }
        stats_.packets_rx += n;
        stats_.packets_tcp += m;
        if (m > 0) track_burst(m);
    }

    // Ends connections whose deadline passed, visiting at most `budget` slots.
    // Most slots it visits are empty (the table is sized for the worst case): their
    // flags are tested 64 at a time, and only the live ones are looked at.
    void sweep(uint64_t now_us, uint32_t budget) noexcept {
        if (cap_ == 0) return;
        while (budget > 0) {
            const uint32_t base = cursor_, n = std::min({budget, 64u, cap_ - cursor_});
            cursor_ = base + n == cap_ ? 0 : base + n;
            budget -= n;
            for (uint64_t live = live_among(base, n); live != 0; live &= live - 1) {
                const uint32_t ix = base + static_cast<uint32_t>(__builtin_ctzll(live));
                if (track::expired(conns_[ix], now_us, cfg_.tracker))
                    end(ix, track::expiry_reason(conns_[ix]), track::deadline(conns_[ix], cfg_.tracker));
            }
        }
    }
    void sweep(uint64_t now_us) noexcept { sweep(now_us, cfg_.sweep_budget); }

    // Ends every live connection: those past their deadline as expired, the rest as
    // flushed at `now_us` (end of capture, or shutdown). The detector closes its
    // last interval first (a report marked `last`, to be drained like the others).
    void flush(uint64_t now_us) noexcept {
        if (det_on_) det_.finish(now_us);
        // Each end() finds its key's bucket, at random: take the live connections a
        // few at a time and fetch their buckets first. No index at or above the
        // table's high-water mark was ever handed out.
        constexpr uint32_t kBatch = 16;
        uint32_t live[kBatch];
        uint64_t hashes[kBatch];  // where the table keeps probes: each key hashed once
        uint32_t last = cap_;
        if constexpr (requires { table_.high_water(); }) last = std::min(cap_, table_.high_water());
        for (uint32_t ix = 0; ix < last;) {
            uint32_t n = 0;
            for (; ix < last && n < kBatch; ++ix)
                if (flags_[ix] & kLive) {
                    if constexpr (kKeepsProbes) {
                        hashes[n] = table_.probe(table_.key(ix)).h;
                        table_.prefetch_hashed(hashes[n]);
                    }
                    live[n++] = ix;
                }
            for (uint32_t i = 0; i < n; ++i) {
                const uint32_t x = live[i];
                const uint64_t* h = kKeepsProbes ? &hashes[i] : nullptr;
                if (track::expired(conns_[x], now_us, cfg_.tracker))
                    end(x, track::expiry_reason(conns_[x]), track::deadline(conns_[x], cfg_.tracker), h);
                else
                    end(x, track::EndReason::Flushed, now_us, h);
            }
        }
    }

    // Commits the memory of records [first, first + count) (and the table's, where it
    // keeps some per index), until done or `stop`. Records are handed out from index
    // 0 up, so committing a prefix ahead of time spares the packet path the faults
    // (and the zeroing of each huge page) of the connections it creates. With
    // mem::Commit::Beside, another thread may do it while the shard runs.
    void prefault_records(uint32_t first, uint32_t count, const std::atomic<bool>* stop = nullptr,
                          mem::Commit how = mem::Commit::Touch) const noexcept {
        if constexpr (requires { table_.prefault_entries(first, count, stop, how); })
            table_.prefault_entries(first, count, stop, how);
        conns_.populate(first, count, stop, how);
        cold_.populate(first, count, stop, how);
        gen_.populate(first, count, stop, how);
        flags_.populate(first, count, stop, how);
    }
    // Commits all of the shard's memory now: the records, the table's entries where it
    // keeps some per index, and the eviction queues (for a worker that runs on, so
    // that no page is faulted in on its packet path; the table's buckets have their own).
    void prefault_all() const noexcept {
        prefault_records(0, cap_);
        fresh_.prefault();
        retried_.prefault();
    }
    uint32_t capacity() const noexcept { return cap_; }

    const ShardStats& stats() const noexcept { return stats_; }
    ShardStats& stats() noexcept { return stats_; }
    uint64_t now() const noexcept { return now_; }
    const ShardConfig& config() const noexcept { return cfg_; }

    // The worker's detector: drain() its reports after process()/sweep()/flush().
    detect::Detector& detector() noexcept { return det_; }
    const detect::Detector& detector() const noexcept { return det_; }
    // An idle worker's clock: lets the detector close intervals without packets.
    void detect_advance(uint64_t now_us) noexcept {
        if (det_on_) det_.advance(now_us);
    }

    // Visits every live connection (for snapshots such as the live state view).
    template <class F>
    void for_each_live(F&& f) const {
        for (uint32_t ix = 0; ix < cap_; ++ix)
            if (flags_[ix] & kLive) f(conns_[ix], cold_[ix], table_.key(ix));
    }

private:
    // flags_ bits. kHalfOpen: the server endpoint is in SYN-RECEIVED and counted in
    // the detector's half-open gauge; kHalfOpenLo: that endpoint is the key's lo side.
    static constexpr uint8_t kLive = 1, kEmbryonic = 2, kHalfOpen = 4, kHalfOpenLo = 8;
    // kRetried: an embryonic connection that has shown a second packet (a retransmitted
    // SYN, a SYN-ACK): queued in retried_, evicted only when no one-packet one is left.
    static constexpr uint8_t kRetried = 16;
    // A table that can fetch a key's bucket ahead (engine::FlowTable) keeps its keys
    // in an array, where key() of any index is a plain read; rte_hash's key() looks
    // the slot up, and offers no prefetch.
    static constexpr bool kTablePrefetches = requires(const Table& t, uint64_t h) { t.prefetch_hashed(h); };
    // Whether the table keeps each key's probe from the bulk lookup (ProbeOf).
    static constexpr bool kKeepsProbes = ProbeOf<Table>::kKept;

    struct FifoEntry {
        uint32_t ix;
        uint32_t gen;
        uint64_t hash;  // the key's Probe::h, where the table keeps probes: eviction reads no key to find its entry
    };

    // A ring of (slot, generation, hash) in arrival order; when full, the oldest entry is
    // dropped (that connection is still ended by the sweep, just not evicted early).
    class EvictionQueue {
    public:
        explicit EvictionQueue(uint32_t cap) : size_(cap ? cap : 1), ring_(size_, mem::Pages::Grow) {}
        void push(FifoEntry e) noexcept {
            if (len_ == size_) {
                head_ = head_ + 1 == size_ ? 0 : head_ + 1;
                --len_;
            }
            size_t tail = head_ + len_;
            if (tail >= size_) tail -= size_;
            ring_[tail] = e;
            ++len_;
        }
        // The entry `k` places behind the head, if there is one.
        bool peek(size_t k, FifoEntry& e) const noexcept {
            if (k >= len_) return false;
            size_t at = head_ + k;
            if (at >= size_) at -= size_;
            e = ring_[at];
            return true;
        }
        void prefault() const noexcept { ring_.populate(); }
        bool pop(FifoEntry& e) noexcept {
            if (len_ == 0) return false;
            e = ring_[head_];
            head_ = head_ + 1 == size_ ? 0 : head_ + 1;
            --len_;
            return true;
        }

    private:
        size_t size_;
        mem::Array<FifoEntry> ring_;
        size_t head_ = 0, len_ = 0;
    };

    // Looks up and tracks the m parsed TCP packets of the burst scratch, in order.
    void track_burst(uint32_t m) noexcept {
        if constexpr (kKeepsProbes) table_.lookup_bulk(keys_in_, m, idx_, probes_);
        else table_.lookup_bulk(keys_in_, m, idx_);
        removed_in_burst_ = false;
        // Each packet's record is fetched kPrefetchAhead packets before its turn: the
        // hot line and the cold line an ordinary segment writes (ConnCold's first).
        for (uint32_t j = 0; j < std::min(m, kPrefetchAhead); ++j) prefetch_record(j);
        for (uint32_t j = 0; j < m; ++j) {
            if (j + kPrefetchAhead < m) prefetch_record(j + kPrefetchAhead);
            track_one(j);
        }
    }

    [[gnu::always_inline]] void prefetch_record(uint32_t j) const noexcept {  // see prefetch_victims
        if (idx_[j] < 0) return;
        __builtin_prefetch(&conns_[idx_[j]], 1, 3);
        __builtin_prefetch(&cold_[idx_[j]], 1, 3);
    }

    void track_one(uint32_t j) noexcept {
        const parse::PacketView& v = views_[j];
        const flow::FlowKey& key = keys_in_[j];
        const uint64_t ts = ts_[j];
        if (ts > now_) now_ = ts;
        if (det_on_) det_.on_packet(v, ts);
        stats_.payload_bytes += v.payload_len;
        if (v.checksum_checked && !v.checksum_ok) ++stats_.tcp_bad_checksum;

        // The bulk lookup ran before this burst's packets: one of them may since have
        // created this key's entry, or ended it (freeing the slot for another key).
        int32_t ix = idx_[j];
        if (ix < 0 || removed_in_burst_) {
            if constexpr (kKeepsProbes) ix = table_.lookup(key, probes_[j]);
            else ix = table_.lookup(key);
        }
        if (ix >= 0) {
            auto u = static_cast<uint32_t>(ix);
            track::Conn& c = conns_[u];
            if (track::expired(c, ts, cfg_.tracker)) {
                // Its time ran out before this packet: same result as if the sweep had been first.
                end(u, track::expiry_reason(c), track::deadline(c, cfg_.tracker), kept_hash(j));
            } else if (track::update(c, cold_[u], v, sender_lo_[j], ts, cfg_.tracker) ==
                       track::Action::Continue) {
                if (flags_[u] & kEmbryonic) {
                    if (!track::is_embryonic(c)) {
                        flags_[u] = static_cast<uint8_t>(flags_[u] & ~(kEmbryonic | kRetried));
                        --stats_.live_embryonic;
                    } else if (!(flags_[u] & kRetried)) {
                        flags_[u] |= kRetried;
                        retried_.push({u, gen_[u], hash_of(j)});
                    }
                }
                if (det_on_) half_open_check(u);
                return;
            } else {
                end(u, track::EndReason::Reused, ts, kept_hash(j));
            }
        }
        create(j, ts);
    }

    // Packet j of the burst starts its connection. The connection is built in its
    // slot, except where it must be known before it has one whether it will be
    // embryonic (at the embryonic cap, a newcomer that is evicts the oldest first)
    // and its first packet does not tell: then it is built aside and copied in.
    void create(uint32_t j, uint64_t ts) noexcept {
        const parse::PacketView& v = views_[j];
        bool aside = false;
        if (stats_.live_embryonic >= embryonic_cap_) {
            bool emb = track::opens_embryonic(v);
            if (!emb) {
                track::init(tmp_, tmp_cold_, v, sender_lo_[j], ts);
                emb = track::is_embryonic(tmp_);
                aside = true;
            }
            if (emb) evict_oldest_embryonic(ts);
        }
        int32_t ix = insert(j);
        if (ix < 0 && evict_oldest_embryonic(ts)) ix = insert(j);
        if (ix < 0) {
            // Full of established connections: those are never evicted for a newcomer.
            ++stats_.tcp_untracked;
            return;
        }
        auto u = static_cast<uint32_t>(ix);
        if (aside) {
            conns_[u] = tmp_;
            cold_[u] = tmp_cold_;
        } else {
            track::init(conns_[u], cold_[u], v, sender_lo_[j], ts);
        }
        const bool emb = track::is_embryonic(conns_[u]);
        ++gen_[u];
        flags_[u] = kLive;
        ++stats_.connections_created;
        ++stats_.live_connections;
        if (emb) {
            flags_[u] |= kEmbryonic;
            ++stats_.live_embryonic;
            fresh_.push({u, gen_[u], hash_of(j)});
        }
        if (det_on_) half_open_check(u);
    }

    // Packet j's key's hash, kept from the bulk lookup: for the eviction queue, and
    // for end() of the connection the packet found, whose key it is.
    uint64_t hash_of(uint32_t j) const noexcept {
        if constexpr (kKeepsProbes) return probes_[j].h;
        else return 0;
    }
    const uint64_t* kept_hash(uint32_t j) const noexcept {
        if constexpr (kKeepsProbes) return &probes_[j].h;
        else return nullptr;
    }

    // Packet j's key is absent here: its lookup missed, or its connection has just
    // ended (an eviction in between removes another key). A table that can skip the
    // search for it (engine::FlowTable::insert) does, from the key's probe if kept.
    int32_t insert(uint32_t j) noexcept {
        const flow::FlowKey& key = keys_in_[j];
        if constexpr (kKeepsProbes) return table_.insert(key, probes_[j]);
        else if constexpr (requires { table_.insert(key); }) return table_.insert(key);
        else return table_.add(key);
    }

    // Keeps the detector's half-open gauge equal to the number of connections whose
    // server endpoint is in SYN-RECEIVED (netstat's SYN_RECV on that host). The
    // server is the responder when it enters; it is followed by its side of the
    // key, so a later role flip cannot unbalance the gauge. Common case: one load
    // from the hot line already in cache and one compare.
    void half_open_check(uint32_t u) noexcept {
        const track::Conn& c = conns_[u];
        const bool was = flags_[u] & kHalfOpen;
        if (!was) {
            if (c.rfc[track::idx(track::Role::Resp)] != track::TcpState::SynReceived) return;
            const bool lo = !c.has(track::cflag::OrigIsLo);
            flags_[u] = static_cast<uint8_t>(flags_[u] | kHalfOpen | (lo ? kHalfOpenLo : 0));
            const flow::FlowKey& k = table_.key(u);
            det_.half_open_enter(lo ? k.lo_addr : k.hi_addr, lo ? k.lo_port : k.hi_port);
            return;
        }
        const bool lo = flags_[u] & kHalfOpenLo;
        const track::Role r = lo == c.has(track::cflag::OrigIsLo) ? track::Role::Orig : track::Role::Resp;
        const track::TcpState s = c.rfc[track::idx(r)];
        if (s == track::TcpState::SynReceived) return;
        flags_[u] = static_cast<uint8_t>(flags_[u] & ~(kHalfOpen | kHalfOpenLo));
        const flow::FlowKey& k = table_.key(u);
        det_.half_open_leave(lo ? k.lo_addr : k.hi_addr, lo ? k.lo_port : k.hi_port,
                             s == track::TcpState::Closed ? detect::Detector::Leave::Reset
                                                          : detect::Detector::Leave::Completed);
    }

    // Among connections still in their handshake, one-packet ones go first (a spoofed
    // SYN shows one packet; a real client retransmits, a real server answers), oldest
    // first within each class. Amortized O(1): each queue entry is popped once; stale
    // ones (completed, ended, moved to retried_) are skipped.
    bool evict_oldest_embryonic(uint64_t now_us) noexcept {
        for (EvictionQueue* q : {&fresh_, &retried_}) {
            const uint8_t want = q == &fresh_ ? (kLive | kEmbryonic) : (kLive | kEmbryonic | kRetried);
            FifoEntry e;
            while (q->pop(e)) {
                prefetch_victims(*q);
                if ((flags_[e.ix] & (kLive | kEmbryonic | kRetried)) == want && gen_[e.ix] == e.gen) {
                    ++stats_.connections_evicted_embryonic;
                    end(e.ix, track::EndReason::Evicted, now_us, &e.hash);
                    return true;
                }
            }
        }
        return false;
    }

    // Under a flood every new connection evicts the oldest embryonic one, whose lines
    // were last touched a table's share of connections ago: fetch the next victims'
    // ahead along the queue, kVictimAhead evictions ahead; a table that keeps probes
    // has the bucket's address in the queue entry (the key's hash). Queue entries
    // may be stale (the slot since ended or reused), so the key is read only from a
    // table that keeps it in an array (see kTablePrefetches).
    // Always inline: GCC removed an out-of-line call to it (a function whose only
    // effect is prefetching counts as having none), and every eviction then
    // waited on its victim's bucket.
    [[gnu::always_inline]] void prefetch_victims(const EvictionQueue& q) const noexcept {
        FifoEntry f;
        if (q.peek(kVictimAhead, f)) {
            __builtin_prefetch(&flags_[f.ix]);
            __builtin_prefetch(&gen_[f.ix]);
            __builtin_prefetch(&conns_[f.ix], 1);
            const auto* cold = reinterpret_cast<const char*>(&cold_[f.ix]);
            for (size_t at = 0; at < sizeof(track::ConnCold); at += 64) __builtin_prefetch(cold + at, 1);
            if constexpr (kTablePrefetches) __builtin_prefetch(&table_.key(f.ix));
            if constexpr (kKeepsProbes) table_.prefetch_hashed(f.hash);
        }
    }

    // Bit i set: slot first + i is live (n <= 64). Ending one of them clears only its own flags.
    uint64_t live_among(uint32_t first, uint32_t n) const noexcept {
        const uint8_t* f = flags_.data() + first;
#if defined(__SSE2__)
        if (n == 64) {
            const __m128i bit = _mm_set1_epi8(static_cast<char>(kLive));
            uint64_t m = 0;
            for (int q = 0; q < 4; ++q) {
                const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(f + 16 * q));
                const auto b = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(v, bit), bit)));
                m |= uint64_t{b} << (16 * q);
            }
            return m;
        }
#endif
        uint64_t m = 0;
        for (uint32_t i = 0; i < n; ++i) m |= uint64_t{(f[i] & kLive) != 0} << i;
        return m;
    }

    // `hash`: the key's Probe::h when the caller kept it (an eviction, a packet of the
    // connection that ends it, the flush), else null.
    void end(uint32_t ix, track::EndReason why, uint64_t at_us, const uint64_t* hash = nullptr) noexcept {
        const flow::FlowKey& key = table_.key(ix);
        uint64_t h = 0;
        if constexpr (kKeepsProbes) {
            // Without a kept hash (the sweep), the key is hashed here and its bucket
            // fetched while the record is written.
            if (hash != nullptr) {
                h = *hash;
            } else {
                h = table_.probe(key).h;
                table_.prefetch_hashed(h);
            }
        }
        track::make_record(conns_[ix], cold_[ix], key, why, at_us, cfg_.tracker, rec_);
        if (!sink_(rec_)) ++stats_.records_dropped;
        if (flags_[ix] & kHalfOpen) {
            const bool lo = flags_[ix] & kHalfOpenLo;
            det_.half_open_leave(lo ? key.lo_addr : key.hi_addr, lo ? key.lo_port : key.hi_port,
                                 detect::Detector::Leave::Ended);
        }
        if constexpr (kKeepsProbes) table_.del_at(ix, h);
        else table_.del(key);
        removed_in_burst_ = true;
        if (flags_[ix] & kEmbryonic) --stats_.live_embryonic;
        flags_[ix] = 0;
        --stats_.live_connections;
        switch (why) {
            case track::EndReason::Closed:
            case track::EndReason::Reused: ++stats_.connections_closed; break;
            case track::EndReason::Timeout: ++stats_.connections_expired; break;
            case track::EndReason::Evicted: ++stats_.connections_evicted; break;
            case track::EndReason::Flushed: ++stats_.connections_flushed; break;
        }
    }

    Table& table_;
    Sink& sink_;
    ShardConfig cfg_;
    uint32_t cap_;
    mem::Array<track::Conn> conns_;  // hot: one cache line each
    mem::Array<track::ConnCold> cold_;
    mem::Array<uint32_t> gen_;   // bumped when a slot is reused: invalidates FIFO entries
    mem::Array<uint8_t> flags_;  // kLive | kEmbryonic | kHalfOpen | kHalfOpenLo | kRetried
    EvictionQueue fresh_;    // embryonic, one packet so far
    EvictionQueue retried_;  // embryonic, more than one packet
    uint64_t embryonic_cap_ = 1;
    uint32_t cursor_ = 0;
    uint64_t now_ = 0;
    bool removed_in_burst_ = false;
    ShardStats stats_{};
    detect::Detector det_;
    bool det_on_;

    // Burst scratch, reused: nothing is allocated per packet.
    parse::PacketView views_[kMaxBurst];
    flow::FlowKey keys_in_[kMaxBurst];
    bool sender_lo_[kMaxBurst];
    uint64_t ts_[kMaxBurst];
    int32_t idx_[kMaxBurst];
    typename ProbeOf<Table>::type probes_[kMaxBurst];
    track::Conn tmp_{};
    track::ConnCold tmp_cold_{};
    track::ConnRecord rec_{};
};

}  // namespace ws::engine
