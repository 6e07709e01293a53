// Header parser throughput: ns per packet on a traffic mix and per frame type.
// Frames are built once (tests/parse/frame_builder.hpp) into separate heap
// buffers, as mbufs would be, and parsed in bursts into reused views.
//
// Mix (by packet count), from what a data-centre tap typically carries:
//   60% IPv4 TCP data/ACK with the timestamps option
//   10% SYN / SYN-ACK with MSS, SACK-permitted, timestamps, window scale
//   10% 802.1Q-tagged IPv4 TCP
//   10% IPv6 TCP
//    5% UDP (DNS-sized; NonTcp)
//    5% VXLAN-encapsulated IPv4 TCP
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "../tests/parse/frame_builder.hpp"
#include "bench_main.hpp"
#include "parse/packet.hpp"

namespace {

using namespace ws::frames;
namespace parse = ws::parse;

enum class Shape { Ipv4TcpTs, SynFullOptions, SynAck, Vlan, QinQ, Ipv6Tcp, Ipv6Ext, Udp, Vxlan,
                   GreErspan, Gtpu, Truncated };

// Payload sizes of a bulk transfer: mostly full segments and bare ACKs.
size_t payload_for(uint32_t i) {
    static constexpr size_t sizes[] = {0, 0, 0, 1448, 1448, 1448, 517, 93, 0, 1448};
    return sizes[i % std::size(sizes)];
}

Tcp data(uint32_t i) {
    Tcp t;
    t.sport = static_cast<uint16_t>(32768 + i % 28000);
    t.dport = 443;
    t.seq = 1328522650u + i * 1448u;
    t.ack = 466300161u;
    t.flags = static_cast<uint8_t>(parse::flag::Ack | (i % 3 == 0 ? parse::flag::Psh : 0));
    t.win = 2064;
    t.options = Opts().nop().nop().ts(555445118u + i, 2928333455u).b;
    t.payload = pattern(payload_for(i));
    return t;
}

Ip4 ip4(uint32_t i) {
    Ip4 ip;
    ip.src = {10, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 7};
    ip.dst = v4("172.17.51.219");
    return ip;
}

Bytes build(Shape s, uint32_t i) {
    switch (s) {
        case Shape::Ipv4TcpTs: return eth_ipv4_tcp(ip4(i), data(i), 60);
        case Shape::SynFullOptions: {
            Tcp t = data(i);
            t.flags = parse::flag::Syn;
            t.payload.clear();
            t.options = Opts().mss(1360).nop().wscale(6).nop().nop().ts(555445081, 0).sack_ok().eol().b;
            return eth_ipv4_tcp(ip4(i), t);
        }
        case Shape::SynAck: {
            Tcp t = data(i);
            t.flags = parse::flag::Syn | parse::flag::Ack;
            t.payload.clear();
            t.options = Opts().mss(1460).sack_ok().ts(2928333455u, 555445081).nop().wscale(7).b;
            return eth_ipv4_tcp(ip4(i), t);
        }
        case Shape::Vlan:
            return ether(kEthIpv4, ipv4(ip4(i), tcp(data(i))), {{kEthVlan, static_cast<uint16_t>(100 + i % 8)}}, 60);
        case Shape::QinQ:
            return ether(kEthIpv4, ipv4(ip4(i), tcp(data(i))), {{kEthQinQ, 10}, {kEthVlan, 200}}, 60);
        case Shape::Ipv6Tcp: {
            Ip6 ip;
            ip.src[15] = static_cast<uint8_t>(i);
            return eth_ipv6_tcp(ip, data(i));
        }
        case Shape::Ipv6Ext: {
            Ip6 ip;
            ip.ext = {ext_options(0), ext_options(60)};
            return eth_ipv6_tcp(ip, data(i));
        }
        case Shape::Udp: {
            Ip4 ip = ip4(i);
            ip.proto = 17;
            return ether(kEthIpv4, ipv4(ip, udp(static_cast<uint16_t>(40000 + i % 1000), 53, pattern(40))));
        }
        case Shape::Vxlan: {
            Ip4 outer;
            outer.proto = 17;
            Bytes inner = ether(kEthIpv4, ipv4(ip4(i), tcp(data(i))));
            return ether(kEthIpv4, ipv4(outer, udp(static_cast<uint16_t>(49152 + i % 1000), 4789, vxlan(42, inner))));
        }
        case Shape::GreErspan: {
            Ip4 outer;
            outer.proto = 47;
            Gre g;
            g.proto = kEthErspanII;
            g.sequence = true;
            return ether(kEthIpv4, ipv4(outer, gre(g, erspan2(1, ether(kEthIpv4, ipv4(ip4(i), tcp(data(i))))))));
        }
        case Shape::Gtpu: {
            Ip4 outer;
            outer.proto = 17;
            return ether(kEthIpv4, ipv4(outer, udp(2152, 2152, gtpu(i, ipv4(ip4(i), tcp(data(i)))))));
        }
        case Shape::Truncated: {
            Bytes f = eth_ipv4_tcp(ip4(i), data(i));
            f.resize(14 + 20 + 10);  // TCP header cut: Malformed
            return f;
        }
    }
    return {};
}

struct Burst {
    std::vector<Bytes> frames;
};

Burst mix(size_t n) {
    // Percentages of the mix, in Shape units.
    const std::pair<Shape, int> share[] = {{Shape::Ipv4TcpTs, 60}, {Shape::SynFullOptions, 5}, {Shape::SynAck, 5},
                                           {Shape::Vlan, 10},      {Shape::Ipv6Tcp, 10},       {Shape::Udp, 5},
                                           {Shape::Vxlan, 5}};
    Burst b;
    uint32_t i = 0;
    for (auto [shape, pct] : share)
        for (size_t k = 0; k < n * static_cast<size_t>(pct) / 100; ++k) b.frames.push_back(build(shape, i++));
    // Interleave the shapes as on a real link; fixed seed for repeatable runs.
    std::mt19937 rng(12345);
    std::shuffle(b.frames.begin(), b.frames.end(), rng);
    return b;
}

Burst same_shape(Shape s, size_t n) {
    Burst b;
    for (uint32_t i = 0; i < n; ++i) b.frames.push_back(build(s, i));
    return b;
}

// Parses the burst 32 packets at a time into reused views, like a worker's rx loop.
void run(benchmark::State& state, const Burst& b, const parse::ParseConfig& cfg) {
    constexpr size_t kBurst = 32;
    std::array<parse::PacketView, kBurst> views;
    const size_t n = b.frames.size();
    uint64_t tcp = 0;
    for (auto _ : state) {
        for (size_t i = 0; i < n; i += kBurst) {
            size_t m = std::min(kBurst, n - i);
            for (size_t j = 0; j < m; ++j) {
                const Bytes& f = b.frames[i + j];
                parse::parse(f.data(), static_cast<uint32_t>(f.size()), parse::Link::Ethernet, cfg, views[j]);
            }
            benchmark::DoNotOptimize(views.data());
            benchmark::ClobberMemory();
            tcp += views[0].kind == parse::Kind::Tcp;
        }
    }
    benchmark::DoNotOptimize(tcp);
    const auto items = static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n);
    state.SetItemsProcessed(items);
    // Seconds per packet; the console prints it with an SI prefix ("18.1n" = 18.1 ns).
    state.counters["per_pkt"] =
        benchmark::Counter(static_cast<double>(items), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_ParseMix(benchmark::State& state) {
    static const Burst b = mix(1000);
    run(state, b, parse::ParseConfig{});
}
BENCHMARK(BM_ParseMix);

// The same mix with TCP checksum verification (Zeek's default without -C).
void BM_ParseMixVerifyChecksums(benchmark::State& state) {
    static const Burst b = mix(1000);
    parse::ParseConfig cfg;
    cfg.verify_checksums = true;
    run(state, b, cfg);
}
BENCHMARK(BM_ParseMixVerifyChecksums);

void BM_Parse(benchmark::State& state, Shape s) {
    const Burst b = same_shape(s, 64);
    run(state, b, parse::ParseConfig{});
}
BENCHMARK_CAPTURE(BM_Parse, ipv4_tcp_ts, Shape::Ipv4TcpTs);
BENCHMARK_CAPTURE(BM_Parse, syn_full_options, Shape::SynFullOptions);
BENCHMARK_CAPTURE(BM_Parse, synack, Shape::SynAck);
BENCHMARK_CAPTURE(BM_Parse, vlan, Shape::Vlan);
BENCHMARK_CAPTURE(BM_Parse, qinq, Shape::QinQ);
BENCHMARK_CAPTURE(BM_Parse, ipv6_tcp, Shape::Ipv6Tcp);
BENCHMARK_CAPTURE(BM_Parse, ipv6_ext_headers, Shape::Ipv6Ext);
BENCHMARK_CAPTURE(BM_Parse, udp, Shape::Udp);
BENCHMARK_CAPTURE(BM_Parse, vxlan_tcp, Shape::Vxlan);
BENCHMARK_CAPTURE(BM_Parse, gre_erspan_tcp, Shape::GreErspan);
BENCHMARK_CAPTURE(BM_Parse, gtpu_tcp, Shape::Gtpu);
BENCHMARK_CAPTURE(BM_Parse, truncated_tcp, Shape::Truncated);

}  // namespace

int main(int argc, char** argv) {
    return ws::bench::init_benchmarks(argc, argv) ? ws::bench::run_benchmarks() : 2;
}
