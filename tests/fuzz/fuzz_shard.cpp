// The core as one worker runs it, on hostile frames: parser, flow table (small, so
// that it fills and evicts), tracker, detection and the conn.log writer. Fails on any
// sanitizer report, and when the counters stop adding up: every frame counted once,
// every connection made ends in exactly one record, every record one well-formed line;
// or when a TCP frame would be handed to another worker than its flow's.
//
// Input: byte 0 chooses the set-up (bit 0 verify checksums, 1 detection, 2 a 25%
// embryonic share, 3 a table of 4 instead of 64, 6 short timeouts, 7 raw frames on
// the link type in bits 4-5); the rest is frames.hpp's records or raw frames.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "check.hpp"
#include "engine/flow_table.hpp"
#include "engine/shard.hpp"
#include "flow/flow_key.hpp"
#include "frames.hpp"
#include "report/conn_log.hpp"

namespace {

using namespace ws;

struct Keep {
    std::vector<track::ConnRecord> records;
    bool operator()(const track::ConnRecord& r) {
        records.push_back(r);
        return true;
    }
};

size_t tabs(const std::string& line) {
    size_t n = 0;
    for (char c : line) n += c == '\t';
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
    if (n < 2) return 0;
    const uint8_t set = d[0];
    engine::ShardConfig cfg;
    cfg.parse.verify_checksums = set & 1;
    cfg.detect.enabled = set & 2;
    cfg.embryonic_share_pct = (set & 4) ? 25 : 50;
    if (set & 64) cfg.tracker.msl_us = 1'000'000, cfg.tracker.syn_timeout_us = 200'000;
    static constexpr parse::Link kLinks[] = {parse::Link::Ethernet, parse::Link::Raw, parse::Link::LinuxSll,
                                             parse::Link::Null};
    const bool raw = set & 128;
    cfg.link = raw ? kLinks[(set >> 4) & 3] : parse::Link::Ethernet;
    const fuzz::Frames f = raw ? fuzz::raw(d + 1, n - 1) : fuzz::segments(d + 1, n - 1);

    engine::FlowTable table((set & 8) ? 4 : 64, 0, 42);
    Keep keep;
    // The shard is 850 KB, nearly all of it its detector's sketches: built each time
    // in the same static memory, which stays mapped, rather than in a fresh allocation
    // whose pages fault in again (half of an input's time).
    using ShardT = engine::Shard<engine::FlowTable, Keep>;
    alignas(ShardT) static unsigned char shard_mem[sizeof(ShardT)];
    ShardT* const shard = new (shard_mem) ShardT(table, keep, cfg);
    struct Destroy {
        ShardT* s;
        ~Destroy() { s->~ShardT(); }
    } destroy{shard};
    static const uint8_t kEmpty[1] = {0};  // a frame of no bytes still has an address, as an mbuf's does
    std::vector<engine::RawPacket> pkts;
    for (size_t i = 0; i < f.bytes.size(); ++i)
        pkts.push_back({f.bytes[i].empty() ? kEmpty : f.bytes[i].data(), static_cast<uint32_t>(f.bytes[i].size()),
                        f.ts_us[i]});
    // A replay on several workers hands each frame to owner_of's worker (fixed
    // offsets where it can): every TCP frame must go where its flow key says.
    parse::PacketView v, scratch;
    for (const engine::RawPacket& p : pkts) {
        if (parse::parse(p.data, p.caplen, cfg.link, cfg.parse, v) != parse::Kind::Tcp) continue;
        flow::FlowKey key;
        flow::make_key(v, key);
        for (uint32_t workers : {2u, 3u, 8u})
            FUZZ_CHECK(engine::owner_of(p, cfg.link, cfg.parse, workers, scratch) == flow::share_of(key, workers));
    }

    const size_t burst = 1 + n % engine::kMaxBurst;
    for (size_t i = 0; i < pkts.size(); i += burst) {
        shard->process(pkts.data() + i, static_cast<uint32_t>(std::min(burst, pkts.size() - i)));
        shard->sweep(shard->now());
        shard->detector().drain([](const detect::IntervalReport&) { return true; });
    }
    shard->flush(shard->now());

    const engine::ShardStats& s = shard->stats();
    FUZZ_CHECK(s.packets_rx == pkts.size());
    FUZZ_CHECK(s.packets_rx == s.packets_tcp + s.packets_non_tcp + s.packets_filtered + s.packets_malformed);
    uint64_t by_reason = 0;
    for (uint64_t m : s.malformed) by_reason += m;
    FUZZ_CHECK(by_reason == s.packets_malformed);
    FUZZ_CHECK(keep.records.size() == s.connections_created);
    FUZZ_CHECK(s.connections_created ==
               s.connections_closed + s.connections_expired + s.connections_evicted + s.connections_flushed);
    FUZZ_CHECK(s.live_connections == 0 && s.live_embryonic == 0);

    const report::ConnLogWriter tsv(report::ConnLogWriter::Format::Zeek), json(report::ConnLogWriter::Format::Json);
    const std::string header = tsv.header(0);
    const size_t tabs_per_line = tabs(header.substr(header.rfind("#types"))) - 1;  // "#types" is a column more
    std::string line;
    for (const track::ConnRecord& r : keep.records) {
        FUZZ_CHECK(std::memchr(r.history, '\0', sizeof r.history) != nullptr);
        // A connection whose packets all failed the checksum counts none (Zeek's 'C').
        FUZZ_CHECK(r.orig_pkts + r.resp_pkts > 0 || std::strpbrk(r.history, "Cc") != nullptr);
        line.clear();
        tsv.append(r, line);
        FUZZ_CHECK(line.find('\n') == line.size() - 1 && tabs(line) == tabs_per_line);
        line.clear();
        json.append(r, line);
        FUZZ_CHECK(line.size() > 2 && line.front() == '{' && line.find('\n') == line.size() - 1);
    }
    return 0;
}
