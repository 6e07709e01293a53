// Test helper: N workers (engine::Shard over StdTable, detection on) fed with raw
// IPv4/TCP frames routed by the symmetric flow hash, as RSS would, and the
// management core's AlertEngine fed with their reports, as the pipeline does.
// Scenarios are lists of packets with capture times; run() sorts and plays them.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "detect/alerts.hpp"
#include "detect/detector.hpp"
#include "engine/shard.hpp"
#include "engine/std_table.hpp"
#include "flow/flow_key.hpp"

namespace ws::detect::testing {

namespace fl = parse::flag;

inline constexpr uint64_t kT0 = 1'600'000'000ull * 1'000'000ull;  // capture time origin, us
inline uint64_t at(double sec) { return kT0 + static_cast<uint64_t>(sec * 1e6 + 0.5); }

inline parse::Addr v4(uint32_t x) {
    parse::Addr a{};
    a[10] = a[11] = 0xff;
    a[12] = static_cast<uint8_t>(x >> 24);
    a[13] = static_cast<uint8_t>(x >> 16);
    a[14] = static_cast<uint8_t>(x >> 8);
    a[15] = static_cast<uint8_t>(x);
    return a;
}
inline parse::Addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return v4((uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d);
}

struct Pkt {
    uint64_t ts;
    parse::Addr src, dst;
    uint16_t sport, dport;
    uint8_t flags;
    uint32_t seq, ack, len;
};

// Raw IPv4 (LINKTYPE_RAW) + 20-byte TCP header; the payload is announced by the
// IP total length but not captured (a snaplen-cut frame).
inline uint32_t write_frame(const Pkt& p, uint8_t* b) {
    std::memset(b, 0, 40);
    const uint32_t total = 40 + p.len;
    b[0] = 0x45;
    b[2] = static_cast<uint8_t>(total >> 8);
    b[3] = static_cast<uint8_t>(total);
    b[8] = 64;
    b[9] = 6;
    std::memcpy(b + 12, p.src.data() + 12, 4);
    std::memcpy(b + 16, p.dst.data() + 12, 4);
    uint8_t* t = b + 20;
    auto put16 = [](uint8_t* q, uint32_t v) { q[0] = static_cast<uint8_t>(v >> 8), q[1] = static_cast<uint8_t>(v); };
    auto put32 = [&](uint8_t* q, uint32_t v) { put16(q, v >> 16), put16(q + 2, v & 0xffffu); };
    put16(t, p.sport);
    put16(t + 2, p.dport);
    put32(t + 4, p.seq);
    put32(t + 8, p.ack);
    t[12] = 5 << 4;
    t[13] = p.flags;
    put16(t + 14, 65535);
    return 40;
}

// One TCP conversation with consistent sequence numbers on both sides.
struct Conv {
    parse::Addr c, s;
    uint16_t cp, sp;
    uint32_t cseq, sseq;

    Pkt client(double t, uint8_t flags, uint32_t len = 0) { return make(true, at(t), flags, len); }
    Pkt server(double t, uint8_t flags, uint32_t len = 0) { return make(false, at(t), flags, len); }
    Pkt make(bool from_client, uint64_t ts, uint8_t flags, uint32_t len) {
        uint32_t& mine = from_client ? cseq : sseq;
        const uint32_t theirs = from_client ? sseq : cseq;
        Pkt p{ts, from_client ? c : s, from_client ? s : c, from_client ? cp : sp, from_client ? sp : cp,
              flags, mine, (flags & fl::Ack) ? theirs : 0, len};
        if (!(flags & fl::Rst)) mine += len + ((flags & fl::Syn) ? 1u : 0u) + ((flags & fl::Fin) ? 1u : 0u);
        return p;
    }
    // A complete short connection: handshake, request, response, close.
    void full(std::vector<Pkt>& out, double t, double rtt) {
        out.push_back(client(t, fl::Syn));
        out.push_back(server(t + rtt / 2, fl::Syn | fl::Ack));
        out.push_back(client(t + rtt, fl::Ack));
        out.push_back(client(t + rtt, fl::Ack | fl::Psh, 120));
        out.push_back(server(t + 1.5 * rtt, fl::Ack | fl::Psh, 900));
        out.push_back(server(t + 1.5 * rtt, fl::Ack | fl::Fin));
        out.push_back(client(t + 2 * rtt, fl::Ack | fl::Fin));
        out.push_back(server(t + 2.5 * rtt, fl::Ack));
    }
};

struct CountSink {
    uint64_t n = 0;
    bool operator()(const track::ConnRecord&) noexcept { return ++n, true; }
};
using TestShard = engine::Shard<engine::StdTable, CountSink>;

class Cluster {
public:
    explicit Cluster(unsigned workers, AlertConfig acfg = {}, DetectConfig dcfg = {}, uint32_t table = 1u << 16,
                     parse::Link link = parse::Link::Raw)
        : engine(acfg, workers) {
        engine::ShardConfig scfg;
        scfg.link = link;
        scfg.detect = dcfg;
        for (unsigned i = 0; i < workers; ++i) {
            auto w = std::make_unique<Worker>(table);
            w->shard = std::make_unique<TestShard>(w->table, w->sink, scfg);
            w_.push_back(std::move(w));
        }
    }

    unsigned worker_of(const Pkt& p) const {
        parse::PacketView v{};
        v.src = p.src, v.dst = p.dst, v.sport = p.sport, v.dport = p.dport;
        flow::FlowKey k;
        flow::make_key(v, k);
        return static_cast<unsigned>(engine::FlowKeyHash{}(k) % w_.size());
    }

    // A captured frame as it is (any link type), routed by its parsed flow.
    void send_raw(const uint8_t* data, uint32_t caplen, uint64_t ts) {
        parse::PacketView v{};
        unsigned wi = 0;
        if (parse::parse(data, caplen, w_[0]->shard->config().link, {}, v) == parse::Kind::Tcp)
            wi = worker_of(Pkt{ts, v.src, v.dst, v.sport, v.dport, 0, 0, 0, 0});
        Worker& w = *w_[wi];
        const uint32_t n = std::min<uint32_t>(caplen, kFrameCap);
        std::memcpy(w.frames[w.n].data(), data, n);
        w.raw[w.n] = {w.frames[w.n].data(), n, ts};
        if (++w.n == kBurst) flush(w);
        last_ts_ = std::max(last_ts_, ts);
    }
    void tick_all(uint64_t ts) { tick(ts); }

    void send(const Pkt& p) {
        Worker& w = *w_[worker_of(p)];
        write_frame(p, w.frames[w.n].data());
        w.raw[w.n] = {w.frames[w.n].data(), 40, p.ts};
        if (++w.n == kBurst) flush(w);
    }

    // Every worker's clock reaches ts (the pipeline's idle workers do this too).
    void tick(uint64_t ts) {
        for (unsigned i = 0; i < w_.size(); ++i) {
            flush(*w_[i]);
            w_[i]->shard->detect_advance(ts);
            w_[i]->shard->sweep(ts);
            drain(i);
        }
    }

    void run(std::vector<Pkt> pkts, double tick_s = 0.001) {
        std::stable_sort(pkts.begin(), pkts.end(), [](const Pkt& a, const Pkt& b) { return a.ts < b.ts; });
        const auto step = static_cast<uint64_t>(tick_s * 1e6);
        uint64_t next_tick = pkts.empty() ? 0 : pkts.front().ts + step;
        for (const Pkt& p : pkts) {
            while (p.ts >= next_tick) {
                tick(next_tick);
                next_tick += step;
            }
            send(p);
            last_ts_ = std::max(last_ts_, p.ts);
        }
    }

    // End of capture: every worker flushes (its last report), then the engine.
    void finish() {
        for (unsigned i = 0; i < w_.size(); ++i) {
            flush(*w_[i]);
            w_[i]->shard->flush(last_ts_ + 1);
            drain(i);
        }
        engine.finish();
        engine.take_events(events);
    }

    std::vector<Alert> ended(AlertType t) const { return pick(AlertEvent::Kind::End, t); }
    std::vector<Alert> started(AlertType t) const { return pick(AlertEvent::Kind::Start, t); }
    const AlertEvent* first_start() const {
        for (const auto& e : events)
            if (e.kind == AlertEvent::Kind::Start) return &e;
        return nullptr;
    }
    size_t workers() const { return w_.size(); }
    TestShard& shard(unsigned i) { return *w_[i]->shard; }

    AlertEngine engine;
    std::vector<AlertEvent> events;
    std::vector<IntervalReport> reports;  // every report, if keep_reports
    bool keep_reports = false;

private:
    static constexpr uint32_t kBurst = 32;
    static constexpr uint32_t kFrameCap = 256;  // headers only: deeper tunnels are cut
    struct Worker {
        explicit Worker(uint32_t cap) : table(cap) {}
        engine::StdTable table;
        CountSink sink;
        std::unique_ptr<TestShard> shard;
        std::array<std::array<uint8_t, kFrameCap>, kBurst> frames{};
        engine::RawPacket raw[kBurst];
        uint32_t n = 0;
    };

    void flush(Worker& w) {
        if (w.n == 0) return;
        w.shard->process(w.raw, w.n);
        w.n = 0;
    }
    void drain(unsigned i) {
        w_[i]->shard->detector().drain([&](const IntervalReport& r) {
            if (keep_reports) reports.push_back(r);
            engine.submit(i, r);
            return true;
        });
        engine.take_events(events);
    }
    std::vector<Alert> pick(AlertEvent::Kind k, AlertType t) const {
        std::vector<Alert> out;
        for (const auto& e : events)
            if (e.kind == k && e.alert.type == t) out.push_back(e.alert);
        return out;
    }

    std::vector<std::unique_ptr<Worker>> w_;
    uint64_t last_ts_ = 0;
};

}  // namespace ws::detect::testing
