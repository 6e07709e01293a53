// The core on a real capture, one thread, no DPDK: the frames of FILE (pcap or
// pcapng, read in place by capture::PcapFile from a cursor of its own, in bursts of
// 32) through engine::Shard::process, as one worker of a replay runs them. Prints
// ns per packet for each of --passes passes over fresh tables, then the median:
// what `wirestate replay` costs per packet before any pipeline.
//
// usage: bench-capture FILE [--no-detect] [--passes N (3)] [--flow-table-size N (1048576)]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
// Under callgrind (bench/instructions), instructions are counted between two of
// these: the timed part of a pass, and all of it. Natively a few no-op instructions.
#define WS_COUNT_INSTRUCTIONS() CALLGRIND_TOGGLE_COLLECT
#else
#define WS_COUNT_INSTRUCTIONS() ((void)0)
#endif

#include "args.hpp"
#include "capture/pcap_file.hpp"
#include "engine/flow_table.hpp"
#include "engine/shard.hpp"

namespace {

using namespace ws;

constexpr size_t kBurst = 32;  // the pipeline's

struct CountSink {
    uint64_t records = 0;
    bool operator()(const track::ConnRecord&) noexcept {
        ++records;
        return true;
    }
};

int usage(const char* why) {
    std::fprintf(stderr, "bench-capture: %s (usage: bench-capture FILE [--no-detect] [--passes N] [--flow-table-size N])\n",
                 why);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage("no capture file");
    bool detect = true;
    unsigned passes = 3;
    uint32_t table_size = 1u << 20;
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--no-detect") detect = false;
        else if (a == "--passes" || a == "--flow-table-size") {
            if (i + 1 >= argc) return usage((a + " needs a value").c_str());
            const bool p = a == "--passes";
            const uint64_t lo = p ? 1 : 64, hi = p ? 1000 : uint64_t{1} << 28;  // wirestate's table sizes
            const auto n = bench::whole_number(argv[++i], lo, hi);
            if (!n)
                return usage((a + ": " + argv[i] + " is not a whole number in [" + std::to_string(lo) + ", " +
                              std::to_string(hi) + "]").c_str());
            if (p) passes = static_cast<unsigned>(*n);
            else table_size = static_cast<uint32_t>(*n);
        } else return usage(("unknown option " + a).c_str());
    }
    capture::PcapFile::OpenError err;
    std::string why;
    auto file = capture::PcapFile::open(argv[1], err, why);
    if (!file) return usage(why.c_str());
    uint64_t frames = 0;
    {
        capture::Frame fr[kBurst];
        while (const uint32_t n = file->next(fr, kBurst)) frames += n;  // also faults the mapping in
    }
    if (frames == 0) return usage("no frames in the capture");

    std::vector<double> ns;
    for (unsigned p = 0; p < passes; ++p) {
        engine::FlowTable table(table_size);
        table.prefault();  // as the pipeline does before a worker's first packet
        CountSink sink;
        engine::ShardConfig cfg;
        cfg.link = static_cast<parse::Link>(file->linktype());
        cfg.detect.enabled = detect;
        auto shard = std::make_unique<engine::Shard<engine::FlowTable, CountSink>>(table, sink, cfg);
        auto reader = file->cursor();  // as a worker reads the file: bursts from its own cursor
        capture::Frame fr[kBurst];
        engine::RawPacket raw[kBurst];
        const auto t0 = std::chrono::steady_clock::now();
        WS_COUNT_INSTRUCTIONS();
        while (const uint32_t n = reader->next(fr, kBurst)) {
            for (uint32_t i = 0; i < n; ++i) raw[i] = {fr[i].data, fr[i].caplen, fr[i].ts_us};
            shard->process(raw, n);
            shard->sweep(shard->now());
            shard->detector().drain([](const detect::IntervalReport&) { return true; });
        }
        shard->flush(shard->now());
        WS_COUNT_INSTRUCTIONS();
        const auto t1 = std::chrono::steady_clock::now();
        ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(frames));
        std::printf("pass %u: %.1f ns/packet (%llu packets, %llu connections, detection %s)\n", p + 1, ns.back(),
                    static_cast<unsigned long long>(frames), static_cast<unsigned long long>(sink.records),
                    detect ? "on" : "off");
    }
    std::sort(ns.begin(), ns.end());
    std::printf("median: %.1f ns/packet, %.2f Mpps on one core\n", ns[ns.size() / 2], 1e3 / ns[ns.size() / 2]);
    return 0;
}
