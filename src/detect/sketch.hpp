// Fixed-memory summaries for the detector: a seeded hash of small POD keys, a
// linear-counting bitmap (distinct counts that merge by OR), a count-min sketch
// with signed counters (gauges that go up and down), and a Space-Saving top-K
// (Metwally et al., "Efficient Computation of Frequent and Top-k Elements in
// Data Streams", 2005) with per-entry auxiliary counters.
//
// Everything is sized by template parameters and lives inline: no allocation,
// no growth, whatever the input. Nothing here is thread-safe; each worker owns
// its own instances.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "flow/hash.hpp"

namespace ws::detect {

// A bijection, so distinct inputs stay distinct.
using flow::mix64;

// Seeded hash of a key's bytes. The seed comes from the configuration, so an
// attacker who does not know it cannot aim spoofed keys at one sketch column.
template <class Key>
inline uint64_t hash_key(const Key& k, uint64_t seed) noexcept {
    static_assert(std::is_trivially_copyable_v<Key>);
    static_assert(std::has_unique_object_representations_v<Key>, "keys are hashed as bytes: no padding");
    const auto* p = reinterpret_cast<const unsigned char*>(&k);
    uint64_t h = seed ^ (sizeof(Key) * 0x9e3779b97f4a7c15ull);
    size_t i = 0;
    for (; i + 8 <= sizeof(Key); i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        h = (h ^ mix64(w)) * 0x9e3779b97f4a7c15ull;
    }
    if (i < sizeof(Key)) {
        uint64_t w = 0;
        std::memcpy(&w, p + i, sizeof(Key) - i);
        h = (h ^ mix64(w)) * 0x9e3779b97f4a7c15ull;
    }
    return mix64(h);
}

// Byte equality of small POD keys, inlined (no libc call on the packet path).
template <class Key>
inline bool key_eq(const Key& a, const Key& b) noexcept {
    static_assert(sizeof(Key) % 4 == 0);
    const auto* p = reinterpret_cast<const unsigned char*>(&a);
    const auto* q = reinterpret_cast<const unsigned char*>(&b);
    uint64_t diff = 0;
    size_t i = 0;
    for (; i + 8 <= sizeof(Key); i += 8) {
        uint64_t x, y;
        std::memcpy(&x, p + i, 8);
        std::memcpy(&y, q + i, 8);
        diff |= x ^ y;
    }
    if (i < sizeof(Key)) {
        uint32_t x, y;
        std::memcpy(&x, p + i, 4);
        std::memcpy(&y, q + i, 4);
        diff |= x ^ y;
    }
    return diff == 0;
}

// Linear counting (Whang et al., 1990): a bitmap of Bits bits; the estimate of
// n distinct items is m ln(m / zeros). Accurate to a few percent up to about
// m ln m / 2 items (1,500 for 512 bits); saturates at m ln m. Merging two is
// OR-ing them: the estimate of the union, without double counting.
template <unsigned Bits>
struct LinearCounter {
    static_assert(Bits % 64 == 0 && (Bits & (Bits - 1)) == 0);
    std::array<uint64_t, Bits / 64> w{};

    void add(uint64_t h) noexcept {
        const unsigned b = static_cast<unsigned>(h & (Bits - 1));
        w[b >> 6] |= 1ull << (b & 63);
    }
    void merge(const LinearCounter& o) noexcept {
        for (size_t i = 0; i < w.size(); ++i) w[i] |= o.w[i];
    }
    void clear() noexcept { w.fill(0); }
    unsigned bits_set() const noexcept {
        unsigned n = 0;
        for (uint64_t x : w) n += static_cast<unsigned>(__builtin_popcountll(x));
        return n;
    }
    double estimate() const noexcept {
        const double m = Bits;
        const unsigned zeros = Bits - bits_set();
        if (zeros == 0) return m * std::log(m);
        return m * std::log(m / zeros);
    }
};
using Distinct = LinearCounter<512>;
static_assert(sizeof(Distinct) == 64);

// Count-min sketch (Cormode and Muthukrishnan, 2005) with signed counters, used
// for gauges: every key's true value must stay >= 0 (a +1 always precedes its
// -1), and then the minimum over the rows is an overestimate by at most
// e * total / Width with probability 1 - e^-Depth.
template <unsigned Width, unsigned Depth>
class CountMin {
    static_assert((Width & (Width - 1)) == 0);

public:
    // Adds `delta` to the key with hash `h`; returns its new estimate.
    int32_t add(uint64_t h, int32_t delta) noexcept {
        int32_t est = INT32_MAX;
        for (unsigned r = 0; r < Depth; ++r) {
            int32_t& c = c_[r * Width + col(h, r)];
            c += delta;
            est = std::min(est, c);
        }
        return est;
    }
    int32_t estimate(uint64_t h) const noexcept {
        int32_t est = INT32_MAX;
        for (unsigned r = 0; r < Depth; ++r) est = std::min(est, c_[r * Width + col(h, r)]);
        return est;
    }
    void clear() noexcept { c_.fill(0); }

private:
    // Kirsch-Mitzenmacher: row r uses h1 + r*h2, enough independence for count-min.
    static unsigned col(uint64_t h, unsigned r) noexcept {
        const uint64_t h1 = h, h2 = (h >> 32) | 1;
        return static_cast<unsigned>((h1 + r * h2) & (Width - 1));
    }
    std::array<int32_t, Width * Depth> c_{};
};

// Space-Saving top-K with Cap counters. add() always finds a slot: an unknown
// key takes over the entry with the smallest count, inheriting that count as
// its error bound. Guarantees: every key with a true weight above total/Cap is
// present; for a present key, count - err <= true weight <= count.
//
// Lookup is an open-addressed index (linear probing, backward-shift deletion)
// holding the entry number. Counts only grow until clear(), so the minimum
// does too: the sketch keeps it (floor_) and how many entries are at it, and a
// replacement takes the next entry at the floor after the last one taken (where
// keys churn, as in ordinary connection set-up to many servers, that is usually
// the very next entry). Only when none is left is the floor found again, by one
// scan of a compact copy of the counts that the compiler vectorizes. A binary
// min-heap instead sifted every replaced entry down its seven levels: ~90 ns per
// sketch and SYN (bench-detect BM_DetectorOnPacket/syn:2).
template <class Key, class Aux, unsigned Cap>
class SpaceSaving {
    static_assert(Cap >= 2 && Cap < 32768);
    static_assert(std::is_trivially_copyable_v<Key> && std::is_trivially_copyable_v<Aux>);

public:
    struct Entry {
        Key key;
        uint64_t hash;
        uint32_t count;  // upper bound of the key's weight since clear()
        uint32_t err;    // weight it may have inherited: count - err is a lower bound
        Aux aux;         // value-initialised when the key enters
    };

    // The key's entry, or nullptr. Never inserts.
    Entry* find(const Key& k, uint64_t h) noexcept {
        for (unsigned s = static_cast<unsigned>(h) & kMask;; s = (s + 1) & kMask) {
            const uint16_t e = slot_[s];
            if (e == 0) return nullptr;
            Entry& en = e_[e - 1u];
            if (en.hash == h && key_eq(en.key, k)) return &en;
        }
    }
    const Entry* find(const Key& k, uint64_t h) const noexcept { return const_cast<SpaceSaving*>(this)->find(k, h); }

    // Adds weight w to the key, inserting it (replacing the minimum) if absent.
    // `fresh` tells whether the entry is new (its aux was just reset).
    Entry& add(const Key& k, uint64_t h, uint32_t w, bool& fresh) noexcept {
        total_ += w;
        if (Entry* en = find(k, h)) {
            fresh = false;
            if (en->count == floor_ && at_floor_ > 0) --at_floor_;
            en->count += w;
            cnt_[static_cast<size_t>(en - e_.data())] = en->count;
            return *en;
        }
        fresh = true;
        uint16_t ix;
        uint32_t base = 0;
        const bool appended = n_ < Cap;
        if (appended) {
            ix = static_cast<uint16_t>(n_++);
        } else {
            ix = min_entry();
            base = e_[ix].count;
            unindex(ix);
        }
        Entry& en = e_[ix];
        en.key = k;
        en.hash = h;
        en.count = base + w;
        cnt_[ix] = en.count;
        en.err = base;
        en.aux = Aux{};
        index(ix);
        return en;
    }
    Entry& add(const Key& k, uint64_t h, uint32_t w = 1) noexcept {
        bool fresh;
        return add(k, h, w, fresh);
    }

    void clear() noexcept {
        n_ = 0;
        total_ = 0;
        floor_ = 0;
        at_floor_ = 0;
        next_ = 0;
        slot_.fill(0);
    }
    uint32_t size() const noexcept { return n_; }
    uint64_t total() const noexcept { return total_; }
    static constexpr uint32_t capacity() noexcept { return Cap; }

    // Writes pointers to the (at most n) entries with the largest counts, in
    // descending order of count; returns how many.
    unsigned top(const Entry** out, unsigned n) const noexcept {
        std::array<const Entry*, Cap> all;
        for (uint32_t i = 0; i < n_; ++i) all[i] = &e_[i];
        const unsigned m = std::min<unsigned>(n, n_);
        std::partial_sort(all.begin(), all.begin() + m, all.begin() + n_, [](const Entry* a, const Entry* b) {
            if (a->count != b->count) return a->count > b->count;
            return a->err < b->err;
        });
        std::copy(all.begin(), all.begin() + m, out);
        return m;
    }

    template <class F>
    void for_each(F&& f) const {
        for (uint32_t i = 0; i < n_; ++i) f(e_[i]);
    }

private:
    static constexpr unsigned slots_for(unsigned c) {
        unsigned s = 1;
        while (s < 2 * c) s <<= 1;
        return s;
    }
    static constexpr unsigned kSlots = slots_for(Cap);
    static constexpr unsigned kMask = kSlots - 1;

    void index(uint16_t ix) noexcept {
        unsigned s = static_cast<unsigned>(e_[ix].hash) & kMask;
        while (slot_[s] != 0) s = (s + 1) & kMask;
        slot_[s] = static_cast<uint16_t>(ix + 1u);
    }
    void unindex(uint16_t ix) noexcept {
        unsigned s = static_cast<unsigned>(e_[ix].hash) & kMask;
        while (slot_[s] != ix + 1u) s = (s + 1) & kMask;
        // Backward-shift deletion keeps every probe chain unbroken without tombstones.
        unsigned hole = s;
        for (unsigned j = (hole + 1) & kMask; slot_[j] != 0; j = (j + 1) & kMask) {
            const unsigned home = static_cast<unsigned>(e_[slot_[j] - 1u].hash) & kMask;
            if (((j - home) & kMask) >= ((j - hole) & kMask)) {
                slot_[hole] = slot_[j];
                hole = j;
            }
        }
        slot_[hole] = 0;
    }
    // An entry with the smallest count (all Cap entries are in use); it leaves the floor.
    uint16_t min_entry() noexcept {
        if (at_floor_ == 0) {
            uint32_t m = UINT32_MAX;
            for (uint32_t i = 0; i < Cap; ++i) m = std::min(m, cnt_[i]);
            uint32_t at = 0;
            for (uint32_t i = 0; i < Cap; ++i) at += cnt_[i] == m;
            floor_ = m;
            at_floor_ = at;
        }
        uint32_t i = next_;
        while (cnt_[i] != floor_) i = i + 1 == Cap ? 0 : i + 1;
        next_ = i + 1 == Cap ? 0 : i + 1;
        --at_floor_;
        return static_cast<uint16_t>(i);
    }

    std::array<Entry, Cap> e_{};
    std::array<uint32_t, Cap> cnt_{};  // entry number -> count, compact for the minimum's scan
    std::array<uint16_t, kSlots> slot_{};  // hash index: entry number + 1, 0 = empty
    uint32_t n_ = 0;
    uint64_t total_ = 0;
    uint32_t floor_ = 0;     // the smallest count, once all entries are in use
    uint32_t at_floor_ = 0;  // entries with that count; 0 = find the floor again
    uint32_t next_ = 0;      // where the search for an entry at the floor starts
};

}  // namespace ws::detect
