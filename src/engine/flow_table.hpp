// A worker's flow table: FlowKey -> index of the connection's record, for one
// writer (the worker that owns it), with no locks and no allocation after start-up.
//
// Why not rte_hash: at a million connections every line a packet touches is a
// cache (and often TLB) miss. rte_hash's bulk lookup reads the primary and the
// secondary bucket of every key and then the key slot: three lines before the
// record. Here a lookup of an established IPv4 flow reads one:
//   * buckets are one cache line of four 16-byte entries, and an IPv4 key (its 12
//     significant bytes: two addresses and two ports) is stored whole in its entry;
//   * the table is sized for at most 62.5% of its slots, and a key goes to its
//     first bucket whenever it has room, so nearly every key is found there;
//   * each bucket has a count of the keys that overflowed from it into their
//     second bucket: a miss (a new connection) reads the second bucket only when
//     that count is not zero.
// An IPv6 key is stored as a 96-bit digest and confirmed against the key array,
// one more line. Full buckets make room by cuckoo displacement along the shortest
// path (breadth-first), as rte_hash does.
//
// Memory is fresh anonymous mappings (mem::Array): zero is an empty entry, so a
// table of any size starts at once. Indices are handed out densely from 0.
#pragma once

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "flow/flow_key.hpp"
#include "flow/hash.hpp"
#include "mem/region.hpp"

namespace ws::engine {

class FlowTable {
public:
    static constexpr uint32_t kWays = 4;
    static constexpr uint32_t kMaxCapacity = (1u << 31) - 2;

    // `buckets` (a power of two) is for tests that want a fuller table than the
    // default sizing gives; 0 sizes the table for `capacity` keys at <= 62.5% load.
    explicit FlowTable(uint32_t capacity, uint32_t buckets = 0, uint64_t seed = std::random_device{}())
        : cap_(std::min(capacity, kMaxCapacity)),
          nb_(buckets ? buckets : default_buckets(cap_)),
          mask_(nb_ - 1),
          seed_(flow::mix64(seed)),
          buckets_(nb_),
          over_(nb_),
          keys_(cap_, mem::Pages::Grow),
          free_(cap_, mem::Pages::Grow) {}
    FlowTable(const FlowTable&) = delete;
    FlowTable& operator=(const FlowTable&) = delete;

    // A key's hash and first bucket, which every operation on the key starts by
    // computing (an IPv6 key's digest is seven rounds of mixing in a row). The
    // lookup_bulk below that fills one per key lets the calls that follow on the
    // same key in the same burst, lookup() and insert(), start from it instead.
    struct Probe {
        uint64_t ab;
        uint32_t ports;
        uint32_t v6;  // 0 or kV6
        uint64_t h;
        uint32_t b1;
    };
    Probe probe(const flow::FlowKey& k) const noexcept {
        Probe p;
        if (is_v4_mapped(k.lo_addr) && is_v4_mapped(k.hi_addr)) {
            uint32_t lo, hi;
            std::memcpy(&lo, k.lo_addr.data() + 12, 4);
            std::memcpy(&hi, k.hi_addr.data() + 12, 4);
            p.ab = uint64_t{lo} << 32 | hi;
            p.ports = uint32_t{k.lo_port} << 16 | k.hi_port;
            p.v6 = 0;
        } else {
            uint64_t w[5];
            std::memcpy(w, &k, sizeof w);
            uint64_t d = seed_;
            for (uint64_t x : w) d = flow::mix64(d ^ x);
            p.ab = d;
            p.ports = static_cast<uint32_t>(flow::mix64(d ^ 0x9E3779B97F4A7C15ull));
            p.v6 = kV6;
        }
        p.h = hash(p.ab, p.ports, p.v6);
        p.b1 = static_cast<uint32_t>(p.h) & mask_;
        return p;
    }

    uint32_t capacity() const noexcept { return cap_; }
    uint32_t size() const noexcept { return next_ - nfree_; }  // handed out, not given back
    uint32_t buckets() const noexcept { return nb_; }
    // Keys placed by a displacement chain (both their buckets were full).
    uint64_t displaced() const noexcept { return displaced_; }

    // Bytes the table maps for `capacity` keys (buckets, overflow counts, keys, free list).
    static size_t footprint(uint32_t capacity) noexcept {
        const size_t nb = default_buckets(capacity);
        return nb * (sizeof(Bucket) + sizeof(uint16_t)) + size_t{capacity} * (sizeof(flow::FlowKey) + sizeof(uint32_t));
    }

    // All first buckets of the burst are prefetched before any is read. A key not
    // in its first bucket (a new connection, mostly) needs that bucket's overflow
    // count, another random line: it is prefetched when the miss is found and read
    // once the whole burst's first buckets are, so that its wait overlaps theirs.
    void lookup_bulk(const flow::FlowKey* keys, uint32_t n, int32_t* idx) noexcept {
        Probe p[kBulk];
        for (uint32_t done = 0; done < n; done += kBulk)
            lookup_bulk(keys + done, std::min(n - done, kBulk), idx + done, p);
    }
    // The same, keeping each key's probe in `probes` (n of them) for lookup() and
    // insert() of the same key while the table is what it was or only changed since.
    void lookup_bulk(const flow::FlowKey* keys, uint32_t n, int32_t* idx, Probe* probes) noexcept {
        uint8_t missed[kBulk];
        for (uint32_t done = 0; done < n; done += kBulk) {
            const uint32_t m = std::min(n - done, kBulk);
            Probe* const p = probes + done;
            for (uint32_t i = 0; i < m; ++i) {
                p[i] = probe(keys[done + i]);
                __builtin_prefetch(&buckets_[p[i].b1], 0, 3);
            }
            uint32_t nm = 0;
            for (uint32_t i = 0; i < m; ++i) {
                Where w{-1, 0, 0};
                scan(p[i].b1, keys[done + i], p[i], w);
                idx[done + i] = w.ix;
                if (w.ix < 0) {
                    __builtin_prefetch(&over_[p[i].b1], 0, 3);
                    missed[nm++] = static_cast<uint8_t>(i);
                }
            }
            for (uint32_t k = 0; k < nm; ++k) {
                const uint32_t i = missed[k];
                Where w{-1, 0, 0};
                if (scan_second(keys[done + i], p[i], w)) idx[done + i] = w.ix;
            }
        }
    }

    int32_t lookup(const flow::FlowKey& k) const noexcept { return find(k, probe(k)).ix; }
    // `p`: probe(k), or k's from lookup_bulk (a probe depends on the key alone).
    int32_t lookup(const flow::FlowKey& k, const Probe& p) const noexcept { return find(k, p).ix; }

    // The key's index: the one it has, or a new one. -1 when the table is full (or,
    // never seen at the sizing above, no displacement path frees a slot).
    int32_t add(const flow::FlowKey& k) noexcept {
        const Probe p = probe(k);
        if (const Where w = find(k, p); w.ix >= 0) return w.ix;
        return add_new(k, p);
    }
    // add() of a key known to be absent (its lookup has just missed, or it has just
    // been deleted): no search for it first.
    int32_t insert(const flow::FlowKey& k) noexcept { return insert(k, probe(k)); }
    int32_t insert(const flow::FlowKey& k, const Probe& p) noexcept {
        assert(find(k, p).ix < 0);
        return add_new(k, p);
    }

    void del(const flow::FlowKey& k) noexcept {
        const Probe p = probe(k);
        const Where w = find(k, p);
        if (w.ix < 0) return;
        buckets_[w.bucket].e[w.way] = Entry{};
        if (w.bucket != p.b1) dec(over_[p.b1]);
        free_[nfree_++] = static_cast<uint32_t>(w.ix);
    }

    // del() of the key at index ix, whose probe's hash (Probe::h) the caller kept:
    // its entry is told by its slot, which no other key has, so neither the key
    // nor its hash is read again.
    void del_at(uint32_t ix, uint64_t h) noexcept {
        const uint32_t b1 = static_cast<uint32_t>(h) & mask_;
        for (const uint32_t b : {b1, alt(b1, h)}) {
            Bucket& bk = buckets_[b];
            for (uint32_t i = 0; i < kWays; ++i) {
                if ((bk.e[i].slot & ~kV6) != ix + 1) continue;  // an empty entry's slot is 0
                bk.e[i] = Entry{};
                if (b != b1) dec(over_[b1]);
                free_[nfree_++] = ix;
                return;
            }
        }
        assert(false && "del_at: no entry for this index at this hash");
    }
    // Fetches the line del_at(ix, h) reads first.
    void prefetch_hashed(uint64_t h) const noexcept {
        __builtin_prefetch(&buckets_[static_cast<uint32_t>(h) & mask_], 1);
    }

    const flow::FlowKey& key(uint32_t ix) const noexcept { return keys_[ix]; }

    // Commits the buckets and overflow counts, which keys reach at random (a few
    // hundred connections touch every page of them), so that the packet path takes
    // no page fault there. The key array and the free list fill from index 0 and
    // grow into memory. Repeating it costs only a walk of the committed pages.
    void prefault(const std::atomic<bool>* stop = nullptr) const noexcept {
        buckets_.populate(stop);
        over_.populate(stop);
    }
    // Commits the key array and free list for indices [first, first + count), which
    // the table hands out from 0 up.
    void prefault_entries(uint32_t first, uint32_t count, const std::atomic<bool>* stop = nullptr,
                          mem::Commit how = mem::Commit::Touch) const noexcept {
        keys_.populate(first, count, stop, how);
        free_.populate(first, count, stop, how);
    }
    // Indices handed out so far: those below it may be in use, those above never were.
    uint32_t high_water() const noexcept { return next_; }

    // For tests: every entry sits in one of its two buckets, overflow counts are
    // exact (or saturated), and the entry count equals size().
    bool consistent() const {
        std::vector<uint32_t> overflowed(nb_);  // keys whose first bucket is b, stored in their second
        uint32_t entries = 0;
        for (uint32_t x = 0; x < nb_; ++x)
            for (const Entry& e : buckets_[x].e) {
                if (e.slot == 0) continue;
                ++entries;
                const uint64_t h = hash(e.ab, e.ports, e.slot & kV6);
                const uint32_t b1 = static_cast<uint32_t>(h) & mask_;
                if (x != b1 && x != alt(b1, h)) return false;
                if (x != b1) ++overflowed[b1];
            }
        for (uint32_t b = 0; b < nb_; ++b)
            if (over_[b] != kSaturated && over_[b] != overflowed[b]) return false;
        return entries == size();
    }

private:
    static constexpr uint32_t kV6 = 1u << 31;   // Entry::slot: the entry holds an IPv6 digest
    static constexpr uint16_t kSaturated = 0xFFFF;
    static constexpr uint32_t kBulk = 64;

    // ab: the two IPv4 addresses (or 64 bits of an IPv6 digest); ports: lo_port << 16
    // | hi_port (or 32 more digest bits); slot: index + 1, | kV6; 0 = empty, so
    // zeroed memory is an empty table.
    struct Entry {
        uint64_t ab;
        uint32_t ports;
        uint32_t slot;
    };
    static_assert(sizeof(Entry) == 16, "an entry is one 128-bit lane: ab (low, high), ports, slot");
    struct alignas(64) Bucket {
        Entry e[kWays];
    };
    static_assert(sizeof(Bucket) == 64);

    struct Where {
        int32_t ix;
        uint32_t bucket, way;
    };

    static uint32_t default_buckets(uint32_t capacity) noexcept {
        // 4 ways per bucket, at most 62.5% full: capacity / 2.5 buckets, rounded up to a power of two.
        const uint64_t want = std::max<uint64_t>(1, (uint64_t{capacity} * 2 + 4) / 5);
        uint64_t nb = 1;
        while (nb < want) nb <<= 1;
        return static_cast<uint32_t>(nb);
    }

    uint64_t hash(uint64_t ab, uint32_t ports, uint32_t v6) const noexcept {
        return flow::mix64(flow::mix64(ab ^ seed_) ^ (uint64_t{ports} | uint64_t{v6} << 32));
    }
    // The second bucket: differs from the first in bits drawn from the hash's upper half.
    uint32_t alt(uint32_t b1, uint64_t h) const noexcept {
        const uint32_t b2 = (b1 ^ static_cast<uint32_t>(h >> 32)) & mask_;
        return b2 != b1 ? b2 : (b1 ^ 1) & mask_;
    }

    static bool is_v4_mapped(const parse::Addr& a) noexcept {
        uint64_t w0;
        uint32_t w1;
        std::memcpy(&w0, a.data(), 8);
        std::memcpy(&w1, a.data() + 8, 4);
        return w0 == 0 && w1 == 0xFFFF0000u;  // ::ffff:0:0/96, as bytes 00..00 ff ff
    }

    // Which ways hold p's (ab, ports), as bits 0-3. With SSE2, the four entries are
    // compared at once and the way is found without a branch per way: which way a
    // key sits in varies from packet to packet, and a branch on each way would be
    // mispredicted about once per lookup.
    static uint32_t matches(const Bucket& bk, const Probe& p) noexcept {
#if defined(__SSE2__)
        static_assert(kWays == 4);
        const __m128i want = _mm_set_epi32(0, static_cast<int>(p.ports), static_cast<int>(p.ab >> 32),
                                           static_cast<int>(p.ab & 0xFFFFFFFFu));
        // One bit per 32-bit lane that matches, four lanes per way: way i's nibble is
        // bits 4i..4i+3. A way matches when its lanes 0-2 (ab and ports) all do; the
        // slot lane is checked after.
        uint32_t lanes = 0;
        for (uint32_t i = 0; i < kWays; ++i) {
            const __m128i e = _mm_load_si128(reinterpret_cast<const __m128i*>(&bk.e[i]));
            lanes |= static_cast<uint32_t>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(e, want)))) << (4 * i);
        }
        const uint32_t nib = lanes & (lanes >> 1) & (lanes >> 2) & 0x1111u;  // bit 4i: way i
        return ((nib * 0x1248u) >> 12) & 0xFu;  // bits 0, 4, 8, 12 to 12-15 (no two products overlap), then down
#else
        uint32_t hits = 0;
        for (uint32_t i = 0; i < kWays; ++i)
            hits |= static_cast<uint32_t>(bk.e[i].ab == p.ab && bk.e[i].ports == p.ports) << i;
        return hits;
#endif
    }

    bool scan(uint32_t b, const flow::FlowKey& k, const Probe& p, Where& w) const noexcept {
        const Bucket& bk = buckets_[b];
        for (uint32_t hits = matches(bk, p); hits != 0; hits &= hits - 1) {
            const auto i = static_cast<uint32_t>(__builtin_ctz(hits));
            const Entry& e = bk.e[i];
            if ((e.slot & kV6) != p.v6 || e.slot == 0) continue;  // an empty entry is all zero
            const uint32_t ix = (e.slot & ~kV6) - 1;
            if (p.v6 && !(keys_[ix] == k)) continue;  // a digest only: confirm the key
            w = {static_cast<int32_t>(ix), b, i};
            return true;
        }
        return false;
    }

    // The second bucket, read only when keys overflowed from the first into theirs.
    bool scan_second(const flow::FlowKey& k, const Probe& p, Where& w) const noexcept {
        return over_[p.b1] != 0 && scan(alt(p.b1, p.h), k, p, w);
    }

    Where find(const flow::FlowKey& k, const Probe& p) const noexcept {
        Where w{-1, 0, 0};
        if (!scan(p.b1, k, p, w)) scan_second(k, p, w);
        return w;
    }

    static void inc(uint16_t& c) noexcept {
        if (c != kSaturated) ++c;
    }
    static void dec(uint16_t& c) noexcept {
        if (c != kSaturated) --c;
    }

    static int free_way(const Bucket& b) noexcept {
        for (uint32_t i = 0; i < kWays; ++i)
            if (b.e[i].slot == 0) return static_cast<int>(i);
        return -1;
    }

    // Writes `e` into bucket `to`, keeping the overflow count of its first bucket.
    void put(const Entry& e, uint32_t to, uint32_t way) noexcept {
        const uint32_t b1 = static_cast<uint32_t>(hash(e.ab, e.ports, e.slot & kV6)) & mask_;
        buckets_[to].e[way] = e;
        if (to != b1) inc(over_[b1]);
    }
    void take(uint32_t from, uint32_t way) noexcept {
        const Entry& e = buckets_[from].e[way];
        const uint32_t b1 = static_cast<uint32_t>(hash(e.ab, e.ports, e.slot & kV6)) & mask_;
        if (from != b1) dec(over_[b1]);
        buckets_[from].e[way] = Entry{};
    }

    int32_t add_new(const flow::FlowKey& k, const Probe& p) noexcept {
        uint32_t ix;
        if (nfree_ > 0) ix = free_[--nfree_];
        else if (next_ < cap_) ix = next_++;
        else return -1;
        if (!place(p, ix)) {
            free_[nfree_++] = ix;
            return -1;
        }
        keys_[ix] = k;
        return static_cast<int32_t>(ix);
    }

    bool place(const Probe& p, uint32_t ix) noexcept {
        const Entry mine{p.ab, p.ports, (ix + 1) | p.v6};
        const uint32_t b2 = alt(p.b1, p.h);  // == b1 only in a one-bucket table
        for (uint32_t b : {p.b1, b2}) {
            if (int w = free_way(buckets_[b]); w >= 0) {
                buckets_[b].e[w] = mine;  // put(), with the first bucket known
                if (b != p.b1) inc(over_[p.b1]);
                return true;
            }
        }
        // Both full: breadth-first search for the shortest chain of moves that ends
        // in a free slot, each entry moving to its other bucket.
        uint32_t n = 0;
        bfs_[n++] = {p.b1, UINT32_MAX, 0};
        bfs_[n++] = {b2, UINT32_MAX, 0};
        for (uint32_t at = 0; at < n; ++at) {
            const uint32_t b = bfs_[at].bucket;
            for (uint32_t i = 0; i < kWays; ++i) {
                const Entry& e = buckets_[b].e[i];
                const uint64_t h = hash(e.ab, e.ports, e.slot & kV6);
                const uint32_t eb1 = static_cast<uint32_t>(h) & mask_;
                const uint32_t other = b == eb1 ? alt(eb1, h) : eb1;
                if (other == b) continue;
                if (int w = free_way(buckets_[other]); w >= 0) {
                    // Shift along the chain, from its free end back to a root bucket.
                    uint32_t to = other, to_way = static_cast<uint32_t>(w), node = at, way = i;
                    for (;;) {
                        const uint32_t from = bfs_[node].bucket;
                        const Entry moving = buckets_[from].e[way];
                        take(from, way);
                        put(moving, to, to_way);
                        to = from;
                        to_way = way;
                        if (bfs_[node].parent == UINT32_MAX) break;
                        way = bfs_[node].way;
                        node = bfs_[node].parent;
                    }
                    put(mine, to, to_way);
                    ++displaced_;
                    return true;
                }
                // A bucket enters the tree once, so a chain never passes through one twice.
                bool seen = false;
                for (uint32_t j = 0; j < n && !seen; ++j) seen = bfs_[j].bucket == other;
                if (!seen && n < kBfsNodes) bfs_[n++] = {other, at, i};
            }
        }
        return false;
    }

    // Search tree for displacement: a node is a bucket reached by moving the entry
    // in way `way` of its parent's bucket (roots: the new key's two buckets).
    struct Node {
        uint32_t bucket, parent, way;
    };
    static constexpr uint32_t kBfsNodes = 2 * (1 + kWays + kWays * kWays + kWays * kWays * kWays);

    uint32_t cap_;
    uint32_t nb_;
    uint32_t mask_;
    uint64_t seed_;
    mem::Array<Bucket> buckets_;
    mem::Array<uint16_t> over_;  // per first bucket: its keys stored in their second one
    mem::Array<flow::FlowKey> keys_;
    mem::Array<uint32_t> free_;  // indices given back, reused last-in first-out
    uint32_t nfree_ = 0;
    uint32_t next_ = 0;  // indices never handed out start here
    uint64_t displaced_ = 0;
    Node bfs_[kBfsNodes];
};

}  // namespace ws::engine
