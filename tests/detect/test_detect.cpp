// Detection end to end: packets through the workers' shards (parse, track,
// detector hooks), reports merged by the AlertEngine, alerts checked.
#include <gtest/gtest.h>

#include <pcap/pcap.h>

#include <filesystem>
#include <random>

#include "cluster.hpp"

namespace ws::detect::testing {
namespace {

uint32_t u32(std::mt19937& r) { return static_cast<uint32_t>(r()); }

const parse::Addr kVictim = v4(192, 0, 2, 80);
const parse::Addr kBusy = v4(192, 0, 2, 10);
const parse::Addr kScanner = v4(203, 0, 113, 7);

// A spoofed SYN flood: `rate` SYNs/s from random sources to dst:port during
// [t0, t0 + dur). With `answered`, the server SYN-ACKs each (a live server; the
// ACK never comes), else it is a dead host. `gap_every`/`gap_s`: pauses.
void flood(std::vector<Pkt>& out, parse::Addr dst, uint16_t port, double rate, double t0, double dur, bool answered,
           uint32_t seed = 1) {
    std::mt19937 rng(seed);
    const auto n = static_cast<uint64_t>(rate * dur);
    for (uint64_t i = 0; i < n; ++i) {
        const double t = t0 + static_cast<double>(i) / rate;
        Conv c{v4(0x0a000000u | (u32(rng) & 0xffffffu)), dst, static_cast<uint16_t>(1024 + u32(rng) % 60000), port, u32(rng),
                u32(rng)};
        out.push_back(c.client(t, fl::Syn));
        if (answered) out.push_back(c.server(t + 0.0001, fl::Syn | fl::Ack));
    }
}

// A normal busy server: `rate` short connections per second (ramping up over
// `ramp` seconds, as load does), from 5000 clients, round-trip times 2-20 ms.
void busy(std::vector<Pkt>& out, parse::Addr srv, uint16_t port, double rate, double t0, double dur, double ramp,
          uint32_t seed = 2) {
    std::mt19937 rng(seed);
    double t = t0;
    while (t < t0 + dur) {
        const double r = t < t0 + ramp ? std::max(rate * (t - t0) / ramp, rate / 100) : rate;
        Conv c{v4(0x64400000u | (u32(rng) % 5000)), srv, static_cast<uint16_t>(1024 + u32(rng) % 60000), port, u32(rng),
                u32(rng)};
        c.full(out, t, 0.002 + 0.018 * static_cast<double>(u32(rng) % 1000) / 1000.0);
        t += 1.0 / r;
    }
}

TEST(Detect, SynFloodOf100kPpsAlertsWithin100ms) {
    Cluster cl(4);
    std::vector<Pkt> p;
    busy(p, kBusy, 443, 2000, 0.0, 1.0, 0.1);
    const double t0 = 0.5;
    flood(p, kVictim, 80, 100'000, t0, 0.3, true);
    cl.run(std::move(p));
    cl.finish();

    const AlertEvent* s = cl.first_start();
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->alert.type, AlertType::SynFlood);
    EXPECT_EQ(s->alert.victim_h, kVictim);
    EXPECT_EQ(s->alert.victim_p, 80);
    EXPECT_LE(s->at_us, at(t0 + 0.100)) << "onset " << (static_cast<double>(s->at_us - at(t0)) / 1000) << " ms";
    EXPECT_GE(s->alert.start_us, at(t0));

    auto ended = cl.ended(AlertType::SynFlood);
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_GE(ended[0].peak_rate, 90'000);
    EXPECT_LT(ended[0].completion_ratio(), 0.05);
    EXPECT_GT(ended[0].half_open, 10'000);  // SYN-ACKed, never completed: SYN_RECV on the victim
    EXPECT_LE(ended[0].end_us, at(t0 + 0.3));
    EXPECT_EQ(cl.events.size(), 2u) << "only the flood, once; nothing about the busy server";
}

TEST(Detect, NormalBusyServerRaisesNoAlert) {
    Cluster cl(4);
    std::vector<Pkt> p;
    busy(p, kBusy, 443, 50'000, 0.0, 1.5, 0.5);  // 50k connections/s at peak: 5x the absolute SYN threshold
    cl.run(std::move(p));
    cl.finish();
    for (const auto& e : cl.events) ADD_FAILURE() << to_text(e);
    EXPECT_GT(cl.engine.stats().intervals, 100u);
}

TEST(Detect, SingleLargeDownloadRaisesNoAlert) {
    Cluster cl(2);
    std::vector<Pkt> p;
    Conv c{v4(198, 51, 100, 5), kBusy, 50000, 443, 1000, 90000};
    p.push_back(c.client(0.0, fl::Syn));
    p.push_back(c.server(0.001, fl::Syn | fl::Ack));
    p.push_back(c.client(0.002, fl::Ack));
    p.push_back(c.client(0.002, fl::Ack | fl::Psh, 200));
    // ~1 Gbit/s for 2 s: 170k full-size segments, an ACK for every second one.
    double t = 0.003;
    for (int i = 0; i < 170'000; ++i, t += 1.0 / 85'000) {
        p.push_back(c.server(t, fl::Ack, 1460));
        if (i % 2) p.push_back(c.client(t + 0.0005, fl::Ack));
    }
    p.push_back(c.server(t, fl::Ack | fl::Fin));
    p.push_back(c.client(t + 0.001, fl::Ack | fl::Fin));
    p.push_back(c.server(t + 0.002, fl::Ack));
    cl.run(std::move(p));
    cl.finish();
    for (const auto& e : cl.events) ADD_FAILURE() << to_text(e);
}

TEST(Detect, HalfOpenBuildUpAlerts) {
    Cluster cl(4);
    std::vector<Pkt> p;
    // 3000 SYN/s: under the flood threshold, but every one SYN-ACKed and never
    // completed, so the server's SYN_RECV backlog grows by 3000 a second...
    flood(p, kVictim, 443, 3000, 0.0, 1.5, true);
    // ...while a few real clients still get through.
    busy(p, kVictim, 443, 100, 0.0, 1.5, 0.0);
    cl.run(std::move(p));
    cl.finish();

    EXPECT_TRUE(cl.started(AlertType::SynFlood).empty());
    auto ended = cl.ended(AlertType::HalfOpen);
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].victim_h, kVictim);
    EXPECT_EQ(ended[0].victim_p, 443);
    EXPECT_GE(ended[0].half_open, 4000);
    EXPECT_LT(ended[0].completion_ratio(), 0.1);
    EXPECT_LT(ended[0].peak_rate, 10'000);
    auto s = cl.started(AlertType::HalfOpen);
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(cl.events.size(), 2u);
}

TEST(Detect, SynScanAlertsWithScanner) {
    Cluster cl(4);
    std::vector<Pkt> p;
    busy(p, kBusy, 443, 500, 0.0, 1.0, 0.0);
    // 4000 ports at 20k probes/s (faster than the SYN-flood threshold): closed
    // ports answer RST, open ones SYN-ACK and the scanner resets.
    const parse::Addr host = v4(192, 0, 2, 99);
    for (uint16_t i = 0; i < 4000; ++i) {
        const double t = 0.2 + i / 20'000.0;
        const auto port = static_cast<uint16_t>(1 + i);
        Conv c{kScanner, host, 40000, port, 7777u + i, 5000u * i};
        p.push_back(c.client(t, fl::Syn));
        if (port == 22 || port == 80 || port == 443) {
            p.push_back(c.server(t + 0.0002, fl::Syn | fl::Ack));
            p.push_back(c.client(t + 0.0004, fl::Rst));
        } else {
            p.push_back(c.server(t + 0.0002, fl::Rst | fl::Ack));
        }
    }
    cl.run(std::move(p));
    cl.finish();

    auto ended = cl.ended(AlertType::PortScan);
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_TRUE(ended[0].has_scanner);
    EXPECT_EQ(ended[0].scanner_h, kScanner);
    EXPECT_EQ(ended[0].victim_h, host);
    EXPECT_EQ(ended[0].probes, 4000u);
    EXPECT_GE(ended[0].distinct_ports, 1500);  // linear counting saturates near 3,200 with 512 bits
    ASSERT_EQ(ended[0].top_sources.size(), 1u);
    EXPECT_EQ(ended[0].top_sources[0].h, kScanner);
    EXPECT_TRUE(cl.started(AlertType::SynFlood).empty()) << "a fast scan is one port_scan, not a flood of the host";
    EXPECT_EQ(cl.events.size(), 2u);
    const std::string json = to_json(ended[0]);
    EXPECT_NE(json.find("\"scanner_h\":\"203.0.113.7\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"victim_h\":\"192.0.2.99\",\"victim_p\":0"), std::string::npos) << json;
}

TEST(Detect, ClockJumpOfYearsIsCrossedAtOnce) {
    // A capture whose clock jumps by tens of thousands of years after a scan (one
    // bad timestamp is enough): the scan still ends where it went quiet, and the
    // jump costs nothing. Crossed a window (1 s) at a time, it never finished.
    Cluster cl(2);
    std::vector<Pkt> p;
    const parse::Addr host = v4(192, 0, 2, 99);
    for (uint16_t i = 0; i < 2000; ++i) {
        Conv c{kScanner, host, 40000, static_cast<uint16_t>(1 + i), 7777u + i, 5000u * i};
        p.push_back(c.client(0.2 + i / 20'000.0, fl::Syn));
        p.push_back(c.server(0.2002 + i / 20'000.0, fl::Rst | fl::Ack));
    }
    cl.run(std::move(p));
    Conv late{kBusy, host, 50000, 80, 1, 2};
    cl.run({late.client(1e12, fl::Syn)});  // 1e18 us: 1e12 windows on
    cl.finish();

    const auto ended = cl.ended(AlertType::PortScan);
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].probes, 2000u);
    const AlertEvent* end = nullptr;
    for (const auto& e : cl.events)
        if (e.kind == AlertEvent::Kind::End) end = &e;
    ASSERT_NE(end, nullptr);
    EXPECT_LT(end->at_us, at(60)) << "the scan ends when it has been quiet long enough, not at the jump";
}

TEST(Detect, FinNullXmasProbesCountAsScan) {
    Cluster cl(4);
    std::vector<Pkt> p;
    const parse::Addr host = v4(192, 0, 2, 77);
    const uint8_t kinds[3] = {fl::Fin, 0, fl::Fin | fl::Psh | fl::Urg};  // FIN, NULL, XMAS
    for (uint16_t i = 0; i < 300; ++i) {
        Conv c{kScanner, host, 41000, static_cast<uint16_t>(1000 + i), 100u + i, 0};
        p.push_back(c.client(0.1 + i * 0.001, kinds[i % 3]));
        if (i % 2) p.push_back(c.server(0.1 + i * 0.001 + 0.0002, fl::Rst | fl::Ack));
    }
    cl.run(std::move(p));
    cl.finish();

    auto ended = cl.ended(AlertType::PortScan);
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].scanner_h, kScanner);
    EXPECT_EQ(ended[0].victim_h, host);
    EXPECT_EQ(ended[0].odd_probes, 300u);
    EXPECT_NEAR(ended[0].distinct_ports, 300, 30);
}

TEST(Detect, OneFloodIsOneAlert) {
    Cluster cl(4);
    std::vector<Pkt> p;
    // One flood of 1 s with the attacker's own pauses (40 ms on, 60 ms off), on
    // a live server whose backlog stays full long after: one alert, not one per
    // burst, nor a host-wide duplicate, nor a half-open alert for the backlog.
    for (int b = 0; b < 10; ++b) flood(p, kVictim, 80, 150'000, 0.1 + 0.1 * b, 0.04, true, 10 + b);
    // A second, separate flood two seconds later is a second alert.
    flood(p, kVictim, 80, 150'000, 3.0, 0.1, false, 99);
    Conv tail{v4(198, 51, 100, 1), kBusy, 999, 443, 1, 1};  // keeps capture time going
    tail.full(p, 4.5, 0.01);
    cl.run(std::move(p));
    cl.finish();

    auto s = cl.started(AlertType::SynFlood);
    auto e = cl.ended(AlertType::SynFlood);
    ASSERT_EQ(s.size(), 2u);
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[0].victim_p, 80);
    EXPECT_EQ(e[1].victim_p, 80);
    EXPECT_LT(e[0].start_us, at(0.11));
    EXPECT_GT(e[0].end_us, at(0.9));
    EXPECT_LT(e[0].end_us, at(1.05));
    EXPECT_GE(e[1].start_us, at(3.0));
    EXPECT_EQ(cl.events.size(), 4u);
    for (const auto& ev : cl.events) EXPECT_EQ(ev.alert.type, AlertType::SynFlood) << to_text(ev);
}

TEST(Detect, AlertsMergeAcrossWorkers) {
    // 8 workers; a 40k SYN/s flood gives each about 5k SYN/s, half the threshold:
    // only the merged counts cross it. Likewise a scan's probes are spread.
    Cluster cl(8);
    cl.keep_reports = true;
    std::vector<Pkt> p;
    flood(p, kVictim, 80, 40'000, 0.1, 0.3, false);
    const parse::Addr host = v4(192, 0, 2, 55);
    for (uint16_t i = 0; i < 400; ++i) {
        Conv c{kScanner, host, 42000, static_cast<uint16_t>(2000 + i), 1u + i, 0};
        p.push_back(c.client(0.5 + i * 0.0005, fl::Syn));
    }
    cl.run(std::move(p));
    cl.finish();

    // No single worker saw enough.
    uint64_t max_syn = 0;
    double max_ports = 0;
    for (const auto& r : cl.reports) {
        for (uint32_t k = 0; k < r.n_victims; ++k)
            if (r.victims[k].key.port == 80) max_syn = std::max<uint64_t>(max_syn, r.victims[k].syn);
        for (uint32_t k = 0; k < r.n_scans; ++k) max_ports = std::max(max_ports, r.scans[k].ports.estimate());
    }
    EXPECT_LT(static_cast<double>(max_syn) / 0.01, 10'000);
    EXPECT_LT(max_ports, 100);

    auto f = cl.ended(AlertType::SynFlood);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_GE(f[0].peak_rate, 35'000);
    EXPECT_NEAR(static_cast<double>(f[0].syn), 12'000, 600);
    auto sc = cl.ended(AlertType::PortScan);
    ASSERT_EQ(sc.size(), 1u);
    EXPECT_NEAR(sc[0].distinct_ports, 400, 40);
    EXPECT_EQ(sc[0].probes, 400u);
    EXPECT_EQ(cl.engine.stats().forced, 0u);
}

// The bundled scenarios and the Zeek conformance traces (when ../shared is
// beside the checkout): ordinary traffic, including rejected and half-open
// connections, raises nothing.
TEST(Detect, BundledCapturesRaiseNoAlert) {
    namespace fs = std::filesystem;
    const fs::path src = fs::path(WS_SOURCE_ROOT) / "tests";
    std::vector<fs::path> files;
    if (fs::exists(src / "pcaps/scenarios.pcap")) files.push_back(src / "pcaps/scenarios.pcap");
    const fs::path zeek = src / "../../shared/conformance/zeek/traces";
    if (fs::exists(zeek))
        for (const auto& e : fs::recursive_directory_iterator(zeek))
            if (e.is_regular_file() && e.path().string().find(".pcap") != std::string::npos) files.push_back(e.path());
    ASSERT_FALSE(files.empty()) << "no captures found under " << src;
    size_t read = 0;
    for (const auto& f : files) {
        char err[PCAP_ERRBUF_SIZE];
        pcap_t* p = pcap_open_offline(f.c_str(), err);
        if (!p) continue;
        const int link = pcap_datalink(p);
        if (!parse::link_supported(static_cast<uint32_t>(link))) {
            pcap_close(p);
            continue;
        }
        Cluster cl(2, {}, {}, 1u << 14, static_cast<parse::Link>(link));
        pcap_pkthdr* h;
        const u_char* d;
        uint64_t last_tick = 0;
        while (pcap_next_ex(p, &h, &d) == 1) {
            const uint64_t ts = static_cast<uint64_t>(h->ts.tv_sec) * 1000000u + static_cast<uint64_t>(h->ts.tv_usec);
            if (ts >= last_tick + 1000) cl.tick_all(last_tick = ts);
            cl.send_raw(d, h->caplen, ts);
        }
        pcap_close(p);
        cl.finish();
        ++read;
        for (const auto& e : cl.events) ADD_FAILURE() << f.filename() << ": " << to_text(e);
    }
    EXPECT_GT(read, 0u);
    std::printf("[ detect   ] %zu captures, no alert expected\n", read);
}

}  // namespace
}  // namespace ws::detect::testing
