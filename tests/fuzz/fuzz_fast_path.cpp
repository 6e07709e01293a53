// The tracker's fast paths against its general paths on the same packets: init()
// against init_general() on a connection's first packet, update() and update_fast()
// against update_general() on every later one. Where the fast path takes a packet,
// both must leave identical records; where it refuses one, it must have written
// nothing. The unit test FastPath does this on generated connections; here the
// fuzzer chooses the packets (frames.hpp), parsed from real frames.
//
// Input: byte 0 bit 0 verify checksums, bit 6 short timeouts; the rest frames.hpp's records.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "check.hpp"
#include "flow/flow_key.hpp"
#include "frames.hpp"
#include "parse/packet.hpp"
#include "track/tracker.hpp"

namespace {

using namespace ws;

struct Pair {
    track::Conn c;
    track::ConnCold cold;
    bool operator==(const Pair& o) const {
        return std::memcmp(&c, &o.c, sizeof c) == 0 && std::memcmp(&cold, &o.cold, sizeof cold) == 0;
    }
};

struct Slot {
    flow::FlowKey key;
    Pair conn;
};

// A connection's first packet, through both of init()'s paths.
void start(Pair& p, const parse::PacketView& v, bool lo, uint64_t ts) {
    Pair general;
    std::memset(&p, 0, sizeof p);
    std::memset(&general, 0, sizeof general);
    track::init(p.c, p.cold, v, lo, ts);
    track::init_general(general.c, general.cold, v, lo, ts);
    FUZZ_CHECK(p == general);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
    if (n < 2) return 0;
    parse::ParseConfig pc;
    pc.verify_checksums = d[0] & 1;
    track::TrackerConfig tc;
    if (d[0] & 64) tc.msl_us = 1'000'000, tc.syn_timeout_us = 200'000;
    const fuzz::Frames f = fuzz::segments(d + 1, n - 1);
    std::vector<Slot> slots;
    parse::PacketView v;
    for (size_t i = 0; i < f.bytes.size(); ++i) {
        const auto& b = f.bytes[i];
        if (b.empty() ||
            parse::parse(b.data(), static_cast<uint32_t>(b.size()), parse::Link::Ethernet, pc, v) != parse::Kind::Tcp)
            continue;
        flow::FlowKey key;
        const bool lo = flow::make_key(v, key);
        const uint64_t ts = f.ts_us[i];
        Slot* s = nullptr;
        for (Slot& x : slots)
            if (std::memcmp(&x.key, &key, sizeof key) == 0) s = &x;
        if (s == nullptr) {
            s = &slots.emplace_back();
            s->key = key;
            start(s->conn, v, lo, ts);
            continue;
        }
        if (track::expired(s->conn.c, ts, tc)) {  // as the shard does: the old one ends, this one starts
            start(s->conn, v, lo, ts);
            continue;
        }
        Pair fast = s->conn, general = s->conn, both = s->conn;
        const bool took = track::update_fast(fast.c, fast.cold, v, lo, ts);
        const track::Action a = track::update_general(general.c, general.cold, v, lo, ts);
        FUZZ_CHECK(track::update(both.c, both.cold, v, lo, ts, tc) == a);
        if (took) FUZZ_CHECK(a == track::Action::Continue && fast == general);
        else FUZZ_CHECK(fast == s->conn);
        if (a == track::Action::Reuse) {
            start(s->conn, v, lo, ts);
            continue;
        }
        FUZZ_CHECK(both == general);
        s->conn = general;
    }
    return 0;
}
