// Parser tests: frames are built byte for byte (frame_builder.hpp) and the parsed
// view is compared with what the headers say, or with what tcpdump printed for
// the same packet (seeds/004: a TLS session to 172.17.51.219:443).
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>

#include "parse/frame_builder.hpp"
#include "parse/packet.hpp"

namespace ws::parse {
namespace {

using namespace ws::frames;

PacketView parse_frame(const Bytes& f, Link link = Link::Ethernet, const ParseConfig& cfg = {}) {
    PacketView v;
    Kind k = parse(f.data(), static_cast<uint32_t>(f.size()), link, cfg, v);
    EXPECT_EQ(k, v.kind);  // the return value and the view agree
    return v;
}

PacketView parse_prefix(const Bytes& f, size_t n, Link link = Link::Ethernet, const ParseConfig& cfg = {}) {
    PacketView v;
    parse(f.data(), static_cast<uint32_t>(n), link, cfg, v);
    return v;
}

std::string text(const Addr& a) {
    char buf[64];
    size_t n = format_addr(a, buf, sizeof buf);
    return std::string(buf, n);
}

Addr mapped(V4 a) {
    Addr m{};
    m[10] = m[11] = 0xff;
    std::memcpy(m.data() + 12, a.data(), 4);
    return m;
}

Addr addr6(const char* s) { return v6(s); }

// A plain data segment over Ethernet/IPv4, the baseline most tests vary.
Tcp data_segment(size_t payload = 100) {
    Tcp t;
    t.sport = 41033;
    t.dport = 443;
    t.seq = 1328522650;
    t.ack = 466300161;
    t.flags = flag::Psh | flag::Ack;
    t.win = 2064;
    t.options = Opts().nop().nop().ts(555445118, 2928333455).b;
    t.payload = pattern(payload);
    return t;
}

Ip4 client_to_server() {
    Ip4 ip;
    ip.src = v4("114.242.250.59");
    ip.dst = v4("172.17.51.219");
    return ip;
}
Ip4 server_to_client() {
    Ip4 ip;
    ip.src = v4("172.17.51.219");
    ip.dst = v4("114.242.250.59");
    return ip;
}

void expect_malformed(const PacketView& v, Reason r) {
    EXPECT_EQ(v.kind, Kind::Malformed);
    EXPECT_EQ(v.reason, r) << "got " << reason_name(v.reason) << ", want " << reason_name(r);
}

// ---- Packets from seeds/004 ----------------------------------------------------

// 13:51:40.966228 IP 114.242.250.59.41033 > 172.17.51.219.443: Flags [S], seq 1328522649,
// win 65535, options [mss 1360,nop,wscale 6,nop,nop,TS val 555445081 ecr 0,sackOK,eol], length 0
TEST(Tcp, SynOptionsMatchTcpdump) {
    Tcp t;
    t.sport = 41033;
    t.dport = 443;
    t.seq = 1328522649;
    t.flags = flag::Syn;
    t.win = 65535;
    t.options = Opts().mss(1360).nop().wscale(6).nop().nop().ts(555445081, 0).sack_ok().eol().b;
    PacketView v = parse_frame(eth_ipv4_tcp(client_to_server(), t));

    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(text(v.src), "114.242.250.59");
    EXPECT_EQ(text(v.dst), "172.17.51.219");
    EXPECT_EQ(v.sport, 41033);
    EXPECT_EQ(v.dport, 443);
    EXPECT_EQ(v.flags, flag::Syn);
    EXPECT_TRUE(v.has(flag::Syn));
    EXPECT_FALSE(v.has(flag::Ack));
    EXPECT_EQ(v.seq, 1328522649u);
    EXPECT_EQ(v.window, 65535);
    EXPECT_EQ(v.tcp_hdr_len, 44);  // 23 option bytes padded to 24
    EXPECT_TRUE(v.opt.has_mss);
    EXPECT_EQ(v.opt.mss, 1360);
    EXPECT_TRUE(v.opt.has_wscale);
    EXPECT_EQ(v.opt.wscale, 6);
    EXPECT_TRUE(v.opt.has_ts);
    EXPECT_EQ(v.opt.ts_val, 555445081u);
    EXPECT_EQ(v.opt.ts_ecr, 0u);
    EXPECT_TRUE(v.opt.sack_permitted);
    EXPECT_EQ(v.opt.sack_blocks, 0);
    EXPECT_EQ(v.payload_len, 0u);
    EXPECT_EQ(v.ip_version, 4);
    EXPECT_EQ(v.ip_len, 20u + 44u);
}

// 13:51:40.966266 IP 172.17.51.219.443 > 114.242.250.59.41033: Flags [S.], seq 466300160,
// ack 1328522650, win 28960, options [mss 1460,sackOK,TS val 2928333455 ecr 555445081,nop,wscale 7]
TEST(Tcp, SynAckOptionsMatchTcpdump) {
    Tcp t;
    t.sport = 443;
    t.dport = 41033;
    t.seq = 466300160;
    t.ack = 1328522650;
    t.flags = flag::Syn | flag::Ack;
    t.win = 28960;
    t.options = Opts().mss(1460).sack_ok().ts(2928333455, 555445081).nop().wscale(7).b;
    PacketView v = parse_frame(eth_ipv4_tcp(server_to_client(), t, 60));

    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(text(v.src), "172.17.51.219");
    EXPECT_EQ(text(v.dst), "114.242.250.59");
    EXPECT_EQ(v.sport, 443);
    EXPECT_EQ(v.dport, 41033);
    EXPECT_EQ(v.flags, flag::Syn | flag::Ack);
    EXPECT_EQ(v.seq, 466300160u);
    EXPECT_EQ(v.ack, 1328522650u);
    EXPECT_EQ(v.window, 28960);
    EXPECT_EQ(v.tcp_hdr_len, 40);
    EXPECT_EQ(v.opt.mss, 1460);
    EXPECT_TRUE(v.opt.sack_permitted);
    EXPECT_EQ(v.opt.ts_val, 2928333455u);  // above INT32_MAX: must stay unsigned
    EXPECT_EQ(v.opt.ts_ecr, 555445081u);
    EXPECT_TRUE(v.opt.has_wscale);
    EXPECT_EQ(v.opt.wscale, 7);
    EXPECT_EQ(v.payload_len, 0u);
}

// 13:51:40.996812 IP 114.242.250.59.41033 > 172.17.51.219.443: Flags [P.],
// seq 1328522650:1328523173, ack 466300161, win 2064,
// options [nop,nop,TS val 555445118 ecr 2928333455], length 523
TEST(Tcp, DataSegmentMatchesTcpdump) {
    Bytes f = eth_ipv4_tcp(client_to_server(), data_segment(523));
    PacketView v = parse_frame(f);

    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.flags, flag::Psh | flag::Ack);
    EXPECT_EQ(v.seq, 1328522650u);
    EXPECT_EQ(v.seq + v.payload_len, 1328523173u);  // tcpdump's seq a:b range
    EXPECT_EQ(v.ack, 466300161u);
    EXPECT_EQ(v.window, 2064);
    EXPECT_FALSE(v.opt.has_mss);
    EXPECT_FALSE(v.opt.has_wscale);
    EXPECT_FALSE(v.opt.sack_permitted);
    EXPECT_EQ(v.opt.ts_val, 555445118u);
    EXPECT_EQ(v.opt.ts_ecr, 2928333455u);
    EXPECT_EQ(v.payload_len, 523u);
    EXPECT_EQ(v.captured_payload, 523u);
    EXPECT_EQ(v.l3, f.data() + 14);
    EXPECT_EQ(v.tcp, f.data() + 34);
    EXPECT_EQ(v.payload, f.data() + 34 + 32);
    EXPECT_EQ(v.payload[522], static_cast<uint8_t>(522));
}

// 13:51:40.965707 IP 114.242.250.59.41032 > 172.17.51.219.443: Flags [F.], seq 3249586170,
// ack 137328987, win 2061, options [nop,nop,TS val 555445081 ecr 2928319486], length 0
// 13:51:40.965838 IP 172.17.51.219.443 > 114.242.250.59.41032: Flags [F.], seq 137328987,
// ack 3249586171, win 235, options [nop,nop,TS val 2928333454 ecr 555445081], length 0
TEST(Tcp, FinSegmentsMatchTcpdump) {
    Tcp a;
    a.sport = 41032; a.dport = 443;
    a.seq = 3249586170; a.ack = 137328987;
    a.flags = flag::Fin | flag::Ack;
    a.win = 2061;
    a.options = Opts().nop().nop().ts(555445081, 2928319486).b;
    Tcp b = a;
    b.sport = 443; b.dport = 41032;
    b.seq = 137328987; b.ack = 3249586171;
    b.win = 235;
    b.options = Opts().nop().nop().ts(2928333454, 555445081).b;

    PacketView va = parse_frame(eth_ipv4_tcp(client_to_server(), a, 60));
    PacketView vb = parse_frame(eth_ipv4_tcp(server_to_client(), b, 60));
    ASSERT_EQ(va.kind, Kind::Tcp);
    ASSERT_EQ(vb.kind, Kind::Tcp);
    EXPECT_TRUE(va.has(flag::Fin) && va.has(flag::Ack));
    EXPECT_EQ(va.seq, 3249586170u);
    EXPECT_EQ(va.ack, 137328987u);
    EXPECT_EQ(va.window, 2061);
    EXPECT_EQ(va.opt.ts_val, 555445081u);
    EXPECT_EQ(va.opt.ts_ecr, 2928319486u);
    EXPECT_EQ(va.payload_len, 0u);
    EXPECT_EQ(vb.sport, 443);
    EXPECT_EQ(vb.dport, 41032);
    EXPECT_EQ(vb.seq, 137328987u);
    EXPECT_EQ(vb.ack, 3249586171u);
    EXPECT_EQ(vb.window, 235);
    EXPECT_EQ(vb.opt.ts_val, 2928333454u);
    EXPECT_EQ(vb.opt.ts_ecr, 555445081u);
    EXPECT_EQ(vb.payload_len, 0u);
}

// ---- TCP header and options ----------------------------------------------------

TEST(Tcp, EachFlagBitIsReported) {
    const uint8_t bits[] = {flag::Fin, flag::Syn, flag::Rst, flag::Psh,
                            flag::Ack, flag::Urg, flag::Ece, flag::Cwr};
    for (uint8_t bit : bits) {
        Tcp t;
        t.flags = bit;
        PacketView v = parse_frame(eth_ipv4_tcp({}, t));
        ASSERT_EQ(v.kind, Kind::Tcp);
        EXPECT_EQ(v.flags, bit);
        for (uint8_t other : bits) EXPECT_EQ(v.has(other), other == bit) << int(bit) << " vs " << int(other);
    }
}

TEST(Tcp, UrgentPointerIsRead) {
    Tcp t;
    t.flags = flag::Urg | flag::Ack;
    t.urg = 7;
    t.payload = pattern(10);
    PacketView v = parse_frame(eth_ipv4_tcp({}, t));
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.urgent, 7);
}

TEST(Tcp, SackBlocksAreDecoded) {
    Tcp t;
    t.flags = flag::Ack;
    t.options = Opts().nop().nop().sack({{1000, 2000}, {3000, 4000}}).b;
    PacketView v = parse_frame(eth_ipv4_tcp({}, t));
    ASSERT_EQ(v.kind, Kind::Tcp);
    ASSERT_EQ(v.opt.sack_blocks, 2);
    EXPECT_EQ(v.opt.sack[0][0], 1000u);
    EXPECT_EQ(v.opt.sack[0][1], 2000u);
    EXPECT_EQ(v.opt.sack[1][0], 3000u);
    EXPECT_EQ(v.opt.sack[1][1], 4000u);
}

TEST(Tcp, FourSackBlocksFillTheArray) {
    Tcp t;
    t.flags = flag::Ack;
    t.options = Opts().nop().nop().sack({{1, 2}, {3, 4}, {5, 6}, {0xfffffff0u, 0x10}}).b;
    PacketView v = parse_frame(eth_ipv4_tcp({}, t));
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.tcp_hdr_len, 56);
    ASSERT_EQ(v.opt.sack_blocks, kMaxSackBlocks);
    EXPECT_EQ(v.opt.sack[2][0], 5u);
    EXPECT_EQ(v.opt.sack[3][0], 0xfffffff0u);  // a block may wrap around 2^32
    EXPECT_EQ(v.opt.sack[3][1], 0x10u);
}

TEST(Tcp, SackWithTimestampsLikeLinux) {
    // Linux sends nop,nop,TS then nop,nop,sack when both are on.
    Tcp t;
    t.flags = flag::Ack;
    t.options = Opts().nop().nop().ts(10, 20).nop().nop().sack({{100, 200}}).b;
    PacketView v = parse_frame(eth_ipv4_tcp({}, t));
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_TRUE(v.opt.has_ts);
    EXPECT_EQ(v.opt.ts_val, 10u);
    ASSERT_EQ(v.opt.sack_blocks, 1);
    EXPECT_EQ(v.opt.sack[0][1], 200u);
}

TEST(Tcp, AlignedTimestampsReadAsTheWalkReadsThem) {
    // NOP, NOP, TS is taken in one compare; the same option in other places, and
    // layouts that only resemble it, go through the walk. Every field must agree.
    const uint32_t val = 0x89abcdefu, ecr = 0x01234567u;
    auto opts_of = [](const Bytes& options, size_t cut = 0) {
        Tcp t;
        t.flags = flag::Ack;
        t.options = options;
        const Bytes f = eth_ipv4_tcp({}, t);
        return cut ? parse_prefix(f, cut) : parse_frame(f);
    };
    auto same = [](const PacketView& a, const PacketView& b) {
        EXPECT_EQ(a.kind, b.kind);
        EXPECT_EQ(a.opt.has_ts, b.opt.has_ts);
        EXPECT_EQ(a.opt.ts_val, b.opt.ts_val);
        EXPECT_EQ(a.opt.ts_ecr, b.opt.ts_ecr);
        EXPECT_EQ(a.opt.has_mss || a.opt.has_wscale || a.opt.sack_permitted || a.opt.sack_blocks,
                  b.opt.has_mss || b.opt.has_wscale || b.opt.sack_permitted || b.opt.sack_blocks);
    };
    const PacketView aligned = opts_of(Opts().nop().nop().ts(val, ecr).b);
    ASSERT_EQ(aligned.kind, Kind::Tcp);
    EXPECT_TRUE(aligned.opt.has_ts);
    EXPECT_EQ(aligned.opt.ts_val, val);
    EXPECT_EQ(aligned.opt.ts_ecr, ecr);
    EXPECT_FALSE(aligned.opt.has_mss || aligned.opt.has_wscale || aligned.opt.sack_permitted);
    EXPECT_EQ(aligned.opt.sack_blocks, 0);
    same(aligned, opts_of(Opts().ts(val, ecr).nop().nop().b));             // the walk, same option
    same(aligned, opts_of(Opts().nop().nop().ts(val, ecr).nop().nop().nop().nop().b));  // 16 bytes
    // The same twelve bytes cut by the capture: the walk keeps what it can.
    const PacketView cut = opts_of(Opts().nop().nop().ts(val, ecr).b, 14 + 20 + 20 + 8);
    ASSERT_EQ(cut.kind, Kind::Tcp);
    EXPECT_TRUE(cut.options_truncated);
    EXPECT_FALSE(cut.opt.has_ts);
    // Look-alikes: a wrong timestamp length is still malformed, another kind is skipped.
    expect_malformed(opts_of(Opts().nop().nop().raw({8, 11, 0, 0, 0, 1, 0, 0, 0, 2}).b), Reason::OptionOverrun);
    const PacketView other = opts_of(Opts().nop().nop().raw({9, 10, 0, 0, 0, 1, 0, 0, 0, 2}).b);
    ASSERT_EQ(other.kind, Kind::Tcp);
    EXPECT_FALSE(other.opt.has_ts);
}

TEST(Tcp, UnknownOptionKindsAreSkippedByLength) {
    // MPTCP (30, len 12) and TCP Fast Open (34, len 10) before an MSS we must still find.
    Tcp t;
    t.options = Opts()
                    .raw({30, 12, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8})
                    .raw({34, 10, 9, 9, 9, 9, 9, 9, 9, 9})
                    .mss(1400)
                    .b;
    PacketView v = parse_frame(eth_ipv4_tcp({}, t));
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_TRUE(v.opt.has_mss);
    EXPECT_EQ(v.opt.mss, 1400);
}

TEST(Tcp, EndOfOptionListStopsTheWalk) {
    // Bytes after EOL are padding: even an MSS-looking pattern with a bad length there
    // must be neither read nor judged.
    Tcp t;
    t.options = Opts().nop().eol().raw({2, 9, 1, 1}).b;
    PacketView v = parse_frame(eth_ipv4_tcp({}, t));
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_FALSE(v.opt.has_mss);
}

TEST(Tcp, NoOptionsMeansNothingSet) {
    PacketView v = parse_frame(eth_ipv4_tcp({}, Tcp{}));
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.tcp_hdr_len, 20);
    EXPECT_FALSE(v.opt.has_mss || v.opt.has_wscale || v.opt.sack_permitted || v.opt.has_ts);
    EXPECT_EQ(v.opt.sack_blocks, 0);
}

TEST(Tcp, ReusedViewIsResetBetweenPackets) {
    // Workers parse a burst into reused views: nothing may leak from the previous packet.
    Tcp syn;
    syn.options = Opts().mss(1460).wscale(7).sack_ok().ts(1, 2).b;
    Bytes f1 = eth_ipv4_tcp({}, syn);
    Bytes f2 = eth_ipv4_tcp({}, Tcp{});
    ParseConfig cfg;
    PacketView v;
    ASSERT_EQ(parse(f1.data(), static_cast<uint32_t>(f1.size()), Link::Ethernet, cfg, v), Kind::Tcp);
    ASSERT_EQ(parse(f2.data(), static_cast<uint32_t>(f2.size()), Link::Ethernet, cfg, v), Kind::Tcp);
    EXPECT_FALSE(v.opt.has_mss || v.opt.has_wscale || v.opt.sack_permitted || v.opt.has_ts);

    Bytes bad(5, 0);
    ASSERT_EQ(parse(bad.data(), 5, Link::Ethernet, cfg, v), Kind::Malformed);
    ASSERT_EQ(parse(f2.data(), static_cast<uint32_t>(f2.size()), Link::Ethernet, cfg, v), Kind::Tcp);
    EXPECT_EQ(v.reason, Reason::None);
}

// ---- Ethernet, VLAN, MPLS, PPPoE ------------------------------------------------

TEST(Ethernet, PaddingIsNotPayload) {
    // A bare ACK is 54 bytes; the NIC pads it to 60. Those 6 bytes are not TCP data.
    Tcp t;
    t.flags = flag::Ack;
    Bytes f = eth_ipv4_tcp({}, t, 60);
    ASSERT_EQ(f.size(), 60u);
    PacketView v = parse_frame(f);
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.ip_len, 40u);
    EXPECT_EQ(v.payload_len, 0u);
    EXPECT_EQ(v.captured_payload, 0u);
}

TEST(Ethernet, PaddingAfterSmallPayloadIsNotPayload) {
    Tcp t;
    t.flags = flag::Psh | flag::Ack;
    t.payload = pattern(1);
    PacketView v = parse_frame(eth_ipv4_tcp({}, t, 60));
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.payload_len, 1u);
    EXPECT_EQ(v.captured_payload, 1u);
}

TEST(Ethernet, ArpIsNonTcp) {
    Bytes arp{0, 1, 8, 0, 6, 4, 0, 1};
    arp.resize(28, 0);
    PacketView v = parse_frame(ether(kEthArp, arp, {}, 60));
    EXPECT_EQ(v.kind, Kind::NonTcp);
    EXPECT_EQ(v.reason, Reason::None);
}

TEST(Ethernet, UdpAndIcmpAreNonTcp) {
    Ip4 ip;
    ip.proto = 17;
    EXPECT_EQ(parse_frame(ether(kEthIpv4, ipv4(ip, udp(5353, 53, pattern(20))))).kind, Kind::NonTcp);
    ip.proto = 1;
    EXPECT_EQ(parse_frame(ether(kEthIpv4, ipv4(ip, Bytes{8, 0, 0, 0, 0, 1, 0, 1}))).kind, Kind::NonTcp);
}

TEST(Ethernet, Ieee8023SnapFrameCarriesIpv4) {
    // 802.3 length field instead of an ethertype, then LLC/SNAP with 0x0800.
    Bytes ip = ipv4({}, tcp(Tcp{}));
    Bytes payload{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00};
    append(payload, ip);
    PacketView v = parse_frame(ether(static_cast<uint16_t>(payload.size()), payload));
    EXPECT_EQ(v.kind, Kind::Tcp);
}

TEST(Vlan, SingleTagIsSkipped) {
    Bytes f = ether(kEthIpv4, ipv4(client_to_server(), tcp(data_segment())), {{kEthVlan, 100}});
    PacketView v = parse_frame(f);
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.vlan_count, 1);
    EXPECT_EQ(v.l3, f.data() + 18);
    EXPECT_EQ(v.sport, 41033);
    EXPECT_EQ(v.payload_len, 100u);
}

TEST(Vlan, QinQTwoTagsAreSkipped) {
    Bytes f = ether(kEthIpv4, ipv4(client_to_server(), tcp(data_segment())),
                    {{kEthQinQ, 10}, {kEthVlan, 200}});
    PacketView v = parse_frame(f);
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.vlan_count, 2);
    EXPECT_EQ(v.l3, f.data() + 22);
    EXPECT_EQ(text(v.dst), "172.17.51.219");
}

TEST(Vlan, TaggedIpv6IsParsed) {
    PacketView v = parse_frame(ether(kEthIpv6, ipv6({}, tcp(Tcp{})), {{kEthVlan, 5}}));
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.ip_version, 6);
    EXPECT_EQ(v.vlan_count, 1);
}

TEST(Mpls, LabelStackIsSkipped) {
    Bytes ip = ipv4(client_to_server(), tcp(data_segment(7)));
    PacketView v = parse_frame(ether(kEthMpls, mpls({16, 17, 18}, ip)));
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(text(v.src), "114.242.250.59");
    EXPECT_EQ(v.payload_len, 7u);
}

TEST(Mpls, Ipv6UnderLabelIsRecognisedByVersion) {
    PacketView v = parse_frame(ether(kEthMpls, mpls({100}, ipv6({}, tcp(Tcp{})))));
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.ip_version, 6);
}

TEST(Pppoe, SessionCarriesIpv4AndIpv6) {
    PacketView v4v = parse_frame(ether(kEthPppoe, pppoe(0x0021, ipv4({}, tcp(Tcp{})))));
    EXPECT_EQ(v4v.kind, Kind::Tcp);
    EXPECT_EQ(v4v.ip_version, 4);
    PacketView v6v = parse_frame(ether(kEthPppoe, pppoe(0x0057, ipv6({}, tcp(Tcp{})))));
    EXPECT_EQ(v6v.kind, Kind::Tcp);
    EXPECT_EQ(v6v.ip_version, 6);
}

TEST(Pppoe, LcpIsNonTcp) {
    PacketView v = parse_frame(ether(kEthPppoe, pppoe(0xc021, Bytes{1, 1, 0, 4})));
    EXPECT_EQ(v.kind, Kind::NonTcp);
}

// ---- Other link types -----------------------------------------------------------

TEST(Link, LinuxCookedV1CarriesIpv4) {
    PacketView v = parse_frame(sll(kEthIpv4, ipv4(client_to_server(), tcp(data_segment(5)))), Link::LinuxSll);
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(text(v.src), "114.242.250.59");
    EXPECT_EQ(v.payload_len, 5u);
}

TEST(Link, LinuxCookedV2CarriesIpv6) {
    Ip6 ip;
    ip.src = v6("2001:db8:1::10");
    PacketView v = parse_frame(sll2(kEthIpv6, ipv6(ip, tcp(Tcp{}))), Link::LinuxSll2);
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(text(v.src), "2001:db8:1::10");
}

TEST(Link, BsdNullLoopbackInHostOrder) {
    PacketView v = parse_frame(loopback(2, ipv4({}, tcp(Tcp{})), false), Link::Null);
    EXPECT_EQ(v.kind, Kind::Tcp);
    // IPv6 is AF 24, 28 or 30 depending on which BSD wrote the capture.
    for (uint32_t af : {24u, 28u, 30u}) {
        PacketView w = parse_frame(loopback(af, ipv6({}, tcp(Tcp{})), false), Link::Null);
        EXPECT_EQ(w.kind, Kind::Tcp) << "AF " << af;
        EXPECT_EQ(w.ip_version, 6);
    }
}

TEST(Link, BsdNullFromBigEndianHostIsAccepted) {
    PacketView v = parse_frame(loopback(2, ipv4({}, tcp(Tcp{})), true), Link::Null);
    EXPECT_EQ(v.kind, Kind::Tcp);
}

TEST(Link, OpenBsdLoopIsNetworkOrder) {
    PacketView v = parse_frame(loopback(2, ipv4({}, tcp(Tcp{})), true), Link::Loop);
    EXPECT_EQ(v.kind, Kind::Tcp);
}

TEST(Link, FddiWithSnapCarriesIpv4) {
    PacketView v = parse_frame(fddi(kEthIpv4, ipv4(client_to_server(), tcp(data_segment(3)))), Link::Fddi);
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.sport, 41033);
    EXPECT_EQ(v.payload_len, 3u);
}

TEST(Link, RawIpPicksFamilyFromVersion) {
    EXPECT_EQ(parse_frame(ipv4({}, tcp(Tcp{})), Link::Raw).ip_version, 4);
    EXPECT_EQ(parse_frame(ipv6({}, tcp(Tcp{})), Link::Raw).ip_version, 6);
    EXPECT_EQ(parse_frame(ipv4({}, tcp(Tcp{})), Link::Ipv4).kind, Kind::Tcp);
    EXPECT_EQ(parse_frame(ipv6({}, tcp(Tcp{})), Link::Ipv6).kind, Kind::Tcp);
}

TEST(Link, SupportedTypesHaveNames) {
    for (Link l : {Link::Null, Link::Ethernet, Link::Fddi, Link::Raw, Link::Loop, Link::LinuxSll,
                   Link::Ipv4, Link::Ipv6, Link::LinuxSll2}) {
        auto lt = static_cast<uint32_t>(l);
        EXPECT_TRUE(link_supported(lt)) << lt;
        EXPECT_FALSE(link_name(lt).empty()) << lt;
    }
    EXPECT_FALSE(link_supported(127));  // 802.11 radiotap
}

// ---- IPv4 ----------------------------------------------------------------------

TEST(Ipv4, AddressesAreV4Mapped) {
    PacketView v = parse_frame(eth_ipv4_tcp(client_to_server(), Tcp{}));
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_TRUE(is_v4_mapped(v.src));
    EXPECT_EQ(v.src, mapped(v4("114.242.250.59")));
    EXPECT_EQ(v.dst, mapped(v4("172.17.51.219")));
}

TEST(Ipv4, OptionsAreSkippedByIhl) {
    // Router alert (4 bytes), then a 36-byte record-route: IHL 6 and IHL 15.
    Ip4 ip = client_to_server();
    ip.options = {0x94, 0x04, 0x00, 0x00};
    Bytes f = eth_ipv4_tcp(ip, data_segment(9));
    PacketView v = parse_frame(f);
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.tcp, f.data() + 14 + 24);
    EXPECT_EQ(v.sport, 41033);
    EXPECT_EQ(v.payload_len, 9u);

    ip.options = {0x07, 39, 4};
    ip.options.resize(40, 0);
    f = eth_ipv4_tcp(ip, data_segment(9));
    v = parse_frame(f);
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.tcp, f.data() + 14 + 60);
    EXPECT_EQ(v.payload_len, 9u);
    EXPECT_EQ(v.ip_len, 60u + 32u + 9u);
}

TEST(Ipv4, SnaplenCutKeepsHeaderLengths) {
    // tcpdump -s 96: the 523-byte segment is cut, but its size is still known.
    Bytes f = eth_ipv4_tcp(client_to_server(), data_segment(523));
    PacketView v = parse_prefix(f, 96);
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.ip_len, 20u + 32u + 523u);
    EXPECT_EQ(v.payload_len, 523u);
    EXPECT_EQ(v.captured_payload, 96u - 14u - 20u - 32u);
    EXPECT_EQ(v.payload, f.data() + 66);
}

TEST(Ipv4, CutRightAfterTcpHeaderHasNoCapturedPayload) {
    Bytes f = eth_ipv4_tcp(client_to_server(), data_segment(523));
    PacketView v = parse_prefix(f, 66);
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.payload_len, 523u);
    EXPECT_EQ(v.captured_payload, 0u);
}

TEST(Ipv4, FirstFragmentWithTcpHeaderIsTcp) {
    Ip4 ip = client_to_server();
    ip.df = false;
    ip.mf = true;
    PacketView v = parse_frame(eth_ipv4_tcp(ip, data_segment(64)));
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_TRUE(v.is_fragment);
    EXPECT_EQ(v.sport, 41033);
    EXPECT_EQ(v.seq, 1328522650u);
}

TEST(Ipv4, LaterFragmentIsNonTcp) {
    // Its first bytes are payload, not a TCP header: reading ports there would invent a flow.
    Ip4 ip = client_to_server();
    ip.df = false;
    ip.frag_off = 185;  // 1480 bytes in
    PacketView v = parse_frame(ether(kEthIpv4, ipv4(ip, pattern(200))));
    EXPECT_EQ(v.kind, Kind::NonTcp);
    EXPECT_TRUE(v.is_fragment);

    ip.mf = true;  // a middle fragment
    EXPECT_EQ(parse_frame(ether(kEthIpv4, ipv4(ip, pattern(200)))).kind, Kind::NonTcp);
}

TEST(Ipv4, UnfragmentedPacketIsNotAFragment) {
    Ip4 ip;
    ip.df = false;
    PacketView v = parse_frame(eth_ipv4_tcp(ip, Tcp{}));
    EXPECT_FALSE(v.is_fragment);
}

// ---- IPv6 ----------------------------------------------------------------------

TEST(Ipv6, TcpFieldsAndLengths) {
    Ip6 ip;
    ip.src = v6("2001:da8:215:6a01::be:5d");
    ip.dst = v6("2404:6800:4008:c07::71");
    Tcp t = data_segment(300);
    Bytes f = eth_ipv6_tcp(ip, t);
    PacketView v = parse_frame(f);
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.ip_version, 6);
    EXPECT_FALSE(is_v4_mapped(v.src));
    EXPECT_EQ(v.src, addr6("2001:da8:215:6a01::be:5d"));
    EXPECT_EQ(text(v.dst), "2404:6800:4008:c07::71");
    EXPECT_EQ(v.ip_len, 40u + 32u + 300u);
    EXPECT_EQ(v.payload_len, 300u);
    EXPECT_EQ(v.tcp, f.data() + 14 + 40);
}

TEST(Ipv6, ExtensionHeadersAreWalked) {
    Ip6 ip;
    ip.ext = {ext_options(0, 1), ext_routing(2), ext_options(60, 2)};
    Bytes f = eth_ipv6_tcp(ip, data_segment(11));
    PacketView v = parse_frame(f);
    ASSERT_EQ(v.kind, Kind::Tcp);
    size_t chain = 8 + (8 + 32) + 16;
    EXPECT_EQ(v.tcp, f.data() + 14 + 40 + chain);
    EXPECT_EQ(v.sport, 41033);
    EXPECT_EQ(v.payload_len, 11u);
    EXPECT_EQ(v.ip_len, 40u + chain + 32u + 11u);
    EXPECT_FALSE(v.is_fragment);
}

TEST(Ipv6, FirstFragmentIsTcpLaterIsNonTcp) {
    Ip6 ip;
    ip.ext = {ext_fragment(0, true)};
    PacketView first = parse_frame(eth_ipv6_tcp(ip, data_segment(40)));
    ASSERT_EQ(first.kind, Kind::Tcp);
    EXPECT_TRUE(first.is_fragment);
    EXPECT_EQ(first.sport, 41033);

    ip.ext = {ext_fragment(10, false)};
    PacketView later = parse_frame(ether(kEthIpv6, ipv6(ip, pattern(64))));
    EXPECT_EQ(later.kind, Kind::NonTcp);
    EXPECT_TRUE(later.is_fragment);
}

TEST(Ipv6, EightExtensionHeadersAreWalked) {
    Ip6 ip;
    for (int i = 0; i < kMaxIpv6Ext; ++i) ip.ext.push_back(ext_options(60));
    PacketView v = parse_frame(eth_ipv6_tcp(ip, Tcp{}));
    EXPECT_EQ(v.kind, Kind::Tcp);
}

TEST(Ipv6, NoNextHeaderIsNonTcp) {
    // Destination options then "no next header" (59): nothing to track.
    Ip6 ip;
    ip.proto = 59;
    ip.ext = {ext_options(60)};
    PacketView v = parse_frame(ether(kEthIpv6, ipv6(ip, Bytes{})));
    EXPECT_EQ(v.kind, Kind::NonTcp);
}

TEST(Ipv6, UdpIsNonTcp) {
    Ip6 ip;
    ip.proto = 17;
    EXPECT_EQ(parse_frame(ether(kEthIpv6, ipv6(ip, udp(1000, 53, pattern(12))))).kind, Kind::NonTcp);
}

// ---- Tunnels -------------------------------------------------------------------

Bytes inner_ipv4_tcp() { return ipv4(client_to_server(), tcp(data_segment(50))); }

void expect_inner(const PacketView& v, uint8_t depth) {
    ASSERT_EQ(v.kind, Kind::Tcp) << reason_name(v.reason);
    EXPECT_EQ(v.encap_depth, depth);
    EXPECT_EQ(text(v.src), "114.242.250.59");
    EXPECT_EQ(text(v.dst), "172.17.51.219");
    EXPECT_EQ(v.sport, 41033);
    EXPECT_EQ(v.dport, 443);
    EXPECT_EQ(v.payload_len, 50u);
}

Ip4 outer(uint8_t proto) {
    Ip4 ip;
    ip.src = v4("192.0.2.1");
    ip.dst = v4("192.0.2.2");
    ip.proto = proto;
    return ip;
}

TEST(Tunnel, GreCarriesIpv4) {
    expect_inner(parse_frame(ether(kEthIpv4, ipv4(outer(47), gre({}, inner_ipv4_tcp())))), 1);
}

TEST(Tunnel, GreOptionalFieldsAreSkipped) {
    Gre g;
    g.checksum = g.key = g.sequence = true;
    expect_inner(parse_frame(ether(kEthIpv4, ipv4(outer(47), gre(g, inner_ipv4_tcp())))), 1);
}

TEST(Tunnel, GreTransparentEthernetBridging) {
    Gre g;
    g.proto = kEthTransEther;
    Bytes inner = ether(kEthIpv4, inner_ipv4_tcp(), {{kEthVlan, 3}});
    expect_inner(parse_frame(ether(kEthIpv4, ipv4(outer(47), gre(g, inner)))), 1);
}

TEST(Tunnel, ErspanTypeIIOverGre) {
    Gre g;
    g.proto = kEthErspanII;
    g.sequence = true;  // ERSPAN II always sets S
    Bytes mirrored = ether(kEthIpv4, inner_ipv4_tcp());
    expect_inner(parse_frame(ether(kEthIpv4, ipv4(outer(47), gre(g, erspan2(7, mirrored))))), 1);
}

TEST(Tunnel, VxlanCarriesEthernet) {
    Bytes inner = ether(kEthIpv4, inner_ipv4_tcp());
    expect_inner(parse_frame(ether(kEthIpv4, ipv4(outer(17), udp(51000, 4789, vxlan(42, inner))))), 1);
}

TEST(Tunnel, VxlanPortIsConfigurable) {
    Bytes f = ether(kEthIpv4, ipv4(outer(17), udp(51000, 8472, vxlan(42, ether(kEthIpv4, inner_ipv4_tcp())))));
    EXPECT_EQ(parse_frame(f).kind, Kind::NonTcp);
    ParseConfig cfg;
    cfg.vxlan_port = 8472;  // Linux's historical default
    expect_inner(parse_frame(f, Link::Ethernet, cfg), 1);
}

TEST(Tunnel, GtpuCarriesIpv4) {
    expect_inner(parse_frame(ether(kEthIpv4, ipv4(outer(17), udp(2152, 2152, gtpu(0x1234, inner_ipv4_tcp()))))), 1);
}

TEST(Tunnel, GtpuWithSequenceNumber) {
    expect_inner(
        parse_frame(ether(kEthIpv4, ipv4(outer(17), udp(2152, 2152, gtpu(0x1234, inner_ipv4_tcp(), true))))), 1);
}

TEST(Tunnel, TeredoCarriesIpv6) {
    Ip6 in;
    in.src = v6("2001:0:4136:e378:8000:63bf:3fff:fdd2");
    Bytes inner = ipv6(in, tcp(data_segment(20)));
    PacketView v = parse_frame(ether(kEthIpv4, ipv4(outer(17), udp(3544, 50000, inner))));
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.encap_depth, 1);
    EXPECT_EQ(v.ip_version, 6);
    EXPECT_EQ(text(v.src), "2001:0:4136:e378:8000:63bf:3fff:fdd2");
    EXPECT_EQ(v.payload_len, 20u);
}

TEST(Tunnel, TeredoOriginIndicationIsSkipped) {
    Bytes inner = ipv6({}, tcp(data_segment(20)));
    PacketView v = parse_frame(
        ether(kEthIpv4, ipv4(outer(17), udp(3544, 50000, teredo_origin(40000, v4("203.0.113.9"), inner)))));
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.encap_depth, 1);
    EXPECT_EQ(v.payload_len, 20u);
}

TEST(Tunnel, IpInIpAndSixInFour) {
    expect_inner(parse_frame(ether(kEthIpv4, ipv4(outer(4), inner_ipv4_tcp()))), 1);
    PacketView v = parse_frame(ether(kEthIpv4, ipv4(outer(41), ipv6({}, tcp(Tcp{})))));
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.ip_version, 6);
    EXPECT_EQ(v.encap_depth, 1);
}

TEST(Tunnel, DecapsulationOffLeavesTunnelsNonTcp) {
    ParseConfig cfg;
    cfg.decapsulate_tunnels = false;
    EXPECT_EQ(parse_frame(ether(kEthIpv4, ipv4(outer(47), gre({}, inner_ipv4_tcp()))), Link::Ethernet, cfg).kind,
              Kind::NonTcp);
    Bytes vx = ether(kEthIpv4, ipv4(outer(17), udp(1, 4789, vxlan(1, ether(kEthIpv4, inner_ipv4_tcp())))));
    EXPECT_EQ(parse_frame(vx, Link::Ethernet, cfg).kind, Kind::NonTcp);
}

TEST(Tunnel, IpInIpInnerPacketCannotReachPastOuterPayload) {
    // Same rule for IP-in-IP as for GRE: the outer length bounds the inner packet.
    Bytes in = inner_ipv4_tcp();
    Ip4 o = outer(4);
    o.total_len = static_cast<int>(20 + in.size() - 30);
    PacketView v = parse_frame(ether(kEthIpv4, ipv4(o, in)));
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.payload_len, 50u);
    EXPECT_EQ(v.captured_payload, 20u);
}

Bytes nest_gre(int depth) {
    Bytes ip = inner_ipv4_tcp();
    for (int i = 0; i < depth; ++i) ip = ipv4(outer(47), gre({}, ip));
    return ether(kEthIpv4, ip);
}

TEST(Tunnel, NestingUpToTheLimitIsDecapsulated) {
    expect_inner(parse_frame(nest_gre(kMaxEncapDepth)), kMaxEncapDepth);
}

TEST(Tunnel, InnerPacketCannotReachPastOuterPayload) {
    // The outer IP length ends the tunnel: bytes after it (padding) are not inner data.
    Bytes in = inner_ipv4_tcp();
    Ip4 o = outer(47);
    Bytes g = gre({}, in);
    o.total_len = static_cast<int>(20 + g.size() - 30);  // outer claims 30 bytes fewer
    PacketView v = parse_frame(ether(kEthIpv4, ipv4(o, g)));
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_EQ(v.payload_len, 50u);        // from the inner headers
    EXPECT_EQ(v.captured_payload, 20u);   // only what lies inside the outer packet
}

// ---- Checksums -----------------------------------------------------------------

ParseConfig verifying() {
    ParseConfig cfg;
    cfg.verify_checksums = true;
    return cfg;
}

TEST(Checksum, CorrectIpv4SegmentVerifies) {
    PacketView v = parse_frame(eth_ipv4_tcp(client_to_server(), data_segment(523)), Link::Ethernet, verifying());
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_TRUE(v.checksum_checked);
    EXPECT_TRUE(v.checksum_ok);
}

TEST(Checksum, OddPayloadLengthVerifies) {
    PacketView v = parse_frame(eth_ipv4_tcp(client_to_server(), data_segment(365)), Link::Ethernet, verifying());
    EXPECT_TRUE(v.checksum_checked);
    EXPECT_TRUE(v.checksum_ok);
}

TEST(Checksum, PaddedFrameVerifies) {
    // Ethernet padding must not enter the sum.
    Tcp t;
    t.flags = flag::Ack;
    Bytes f = eth_ipv4_tcp({}, t, 60);
    f[59] = 0xee;
    PacketView v = parse_frame(f, Link::Ethernet, verifying());
    EXPECT_TRUE(v.checksum_checked);
    EXPECT_TRUE(v.checksum_ok);
}

TEST(Checksum, CorrectIpv6SegmentVerifies) {
    Ip6 ip;
    ip.ext = {ext_options(0)};
    PacketView v = parse_frame(eth_ipv6_tcp(ip, data_segment(77)), Link::Ethernet, verifying());
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_TRUE(v.checksum_checked);
    EXPECT_TRUE(v.checksum_ok);
}

TEST(Checksum, CorruptedPayloadFails) {
    Bytes f = eth_ipv4_tcp(client_to_server(), data_segment(100));
    f[f.size() - 10] ^= 0x01;
    PacketView v = parse_frame(f, Link::Ethernet, verifying());
    ASSERT_EQ(v.kind, Kind::Tcp);  // a bad checksum is still a TCP segment (Zeek's 'c')
    EXPECT_TRUE(v.checksum_checked);
    EXPECT_FALSE(v.checksum_ok);
}

TEST(Checksum, CorruptedPseudoHeaderFails) {
    Bytes f = eth_ipv6_tcp({}, data_segment(10));
    f[14 + 8 + 15] ^= 0x40;  // last byte of the source address
    PacketView v = parse_frame(f, Link::Ethernet, verifying());
    EXPECT_TRUE(v.checksum_checked);
    EXPECT_FALSE(v.checksum_ok);
}

TEST(Checksum, NotCheckedWhenSegmentIsCut) {
    Bytes f = eth_ipv4_tcp(client_to_server(), data_segment(523));
    PacketView v = parse_prefix(f, 200, Link::Ethernet, verifying());
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_FALSE(v.checksum_checked);
    EXPECT_TRUE(v.checksum_ok);  // unchecked reads as fine
}

TEST(Checksum, NotCheckedUnlessAsked) {
    Bytes f = eth_ipv4_tcp(client_to_server(), data_segment(10));
    f[f.size() - 1] ^= 0xff;
    PacketView v = parse_frame(f);
    EXPECT_FALSE(v.checksum_checked);
    EXPECT_TRUE(v.checksum_ok);
}

TEST(Checksum, InnerSegmentOfTunnelVerifies) {
    PacketView v = parse_frame(ether(kEthIpv4, ipv4(outer(47), gre({}, inner_ipv4_tcp()))), Link::Ethernet,
                               verifying());
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_TRUE(v.checksum_checked);
    EXPECT_TRUE(v.checksum_ok);
}

// ---- Malformed: one test per Reason ----------------------------------------------

TEST(Malformed, ShortEthernetIsTruncatedL2) {
    Bytes f = eth_ipv4_tcp({}, Tcp{});
    expect_malformed(parse_prefix(f, 13), Reason::TruncatedL2);
}

TEST(Malformed, CutVlanTagIsTruncatedL2) {
    Bytes f = ether(kEthIpv4, ipv4({}, tcp(Tcp{})), {{kEthVlan, 1}});
    expect_malformed(parse_prefix(f, 16), Reason::TruncatedL2);
}

TEST(Malformed, CutLinkHeadersOfOtherLinkTypesAreTruncatedL2) {
    Bytes ip = ipv4({}, tcp(Tcp{}));
    expect_malformed(parse_prefix(sll(kEthIpv4, ip), 15, Link::LinuxSll), Reason::TruncatedL2);
    expect_malformed(parse_prefix(sll2(kEthIpv4, ip), 19, Link::LinuxSll2), Reason::TruncatedL2);
    expect_malformed(parse_prefix(loopback(2, ip, false), 3, Link::Null), Reason::TruncatedL2);
    expect_malformed(parse_prefix(fddi(kEthIpv4, ip), 20, Link::Fddi), Reason::TruncatedL2);
    expect_malformed(parse_prefix(ether(kEthPppoe, pppoe(0x21, ip)), 20), Reason::TruncatedL2);
    expect_malformed(parse_prefix(ether(kEthMpls, mpls({1, 2}, ip)), 20), Reason::TruncatedL2);
}

TEST(Malformed, ShortIpv4HeaderIsTruncatedL3) {
    Bytes f = eth_ipv4_tcp({}, Tcp{});
    expect_malformed(parse_prefix(f, 14 + 19), Reason::TruncatedL3);
}

TEST(Malformed, ShortIpv6HeaderIsTruncatedL3) {
    Bytes f = eth_ipv6_tcp({}, Tcp{});
    expect_malformed(parse_prefix(f, 14 + 39), Reason::TruncatedL3);
}

TEST(Malformed, VersionDisagreeingWithEthertypeIsBadIpVersion) {
    Ip4 ip;
    ip.version = 6;
    expect_malformed(parse_frame(eth_ipv4_tcp(ip, Tcp{})), Reason::BadIpVersion);
    Ip6 ip6;
    ip6.version = 4;
    expect_malformed(parse_frame(eth_ipv6_tcp(ip6, Tcp{})), Reason::BadIpVersion);
}

TEST(Malformed, RawLinkWithUnknownVersionIsBadIpVersion) {
    Ip4 ip;
    ip.version = 5;
    expect_malformed(parse_frame(ipv4(ip, tcp(Tcp{})), Link::Raw), Reason::BadIpVersion);
}

TEST(Malformed, IhlBelowFiveIsBadIhl) {
    Ip4 ip;
    ip.ihl_words = 4;
    expect_malformed(parse_frame(eth_ipv4_tcp(ip, Tcp{})), Reason::BadIhl);
}

TEST(Malformed, IhlBeyondCaptureIsBadIhl) {
    Ip4 ip;
    ip.ihl_words = 15;  // 60-byte header, but only 20 + 20 bytes follow
    expect_malformed(parse_frame(eth_ipv4_tcp(ip, Tcp{})), Reason::BadIhl);
}

TEST(Malformed, TotalLengthBelowHeaderIsBadTotalLength) {
    Ip4 ip;
    ip.total_len = 19;
    expect_malformed(parse_frame(eth_ipv4_tcp(ip, Tcp{})), Reason::BadTotalLength);
}

TEST(Malformed, IpPayloadTooShortForTcpIsBadTotalLength) {
    // The headers themselves say there is no room for a TCP header: not a capture cut.
    Ip4 ip;
    ip.total_len = 30;
    expect_malformed(parse_frame(eth_ipv4_tcp(ip, Tcp{})), Reason::BadTotalLength);
}

TEST(Malformed, ZeroIpv6PayloadLengthIsBadTotalLength) {
    // A jumbogram needs a hop-by-hop Jumbo option, which never fits a wire we watch.
    Ip6 ip;
    ip.payload_len = 0;
    expect_malformed(parse_frame(eth_ipv6_tcp(ip, Tcp{})), Reason::BadTotalLength);
}

TEST(Malformed, ExtensionHeaderPastPacketIsIpv6ExtTruncated) {
    Ip6 ip;
    ip.ext = {ext_options(0)};
    Bytes f = eth_ipv6_tcp(ip, Tcp{});
    f[14 + 40 + 1] = 20;  // hop-by-hop now claims 168 bytes
    expect_malformed(parse_frame(f), Reason::Ipv6ExtTruncated);
    // Cut inside the first 8 bytes of the extension header.
    expect_malformed(parse_prefix(eth_ipv6_tcp(ip, Tcp{}), 14 + 40 + 4), Reason::Ipv6ExtTruncated);
}

TEST(Malformed, ExtensionHeaderPastPayloadLengthIsIpv6ExtTruncated) {
    // Captured bytes are there, but the IPv6 payload length ends before the header does.
    Ip6 ip;
    ip.ext = {ext_options(60, 4)};
    ip.payload_len = 16;
    expect_malformed(parse_frame(eth_ipv6_tcp(ip, Tcp{})), Reason::Ipv6ExtTruncated);
}

TEST(Malformed, NineExtensionHeadersAreChainTooLong) {
    Ip6 ip;
    for (int i = 0; i < kMaxIpv6Ext + 1; ++i) ip.ext.push_back(ext_options(60));
    expect_malformed(parse_frame(eth_ipv6_tcp(ip, Tcp{})), Reason::Ipv6ExtChainTooLong);
}

TEST(Malformed, CutTcpHeaderIsTruncatedL4) {
    Bytes f = eth_ipv4_tcp({}, data_segment(10));
    expect_malformed(parse_prefix(f, 14 + 20 + 19), Reason::TruncatedL4);
}

TEST(Tcp, SnaplenCutOptionsKeepTheFixedHeader) {
    // A 96-byte capture of a SYN with every option: the fixed header is whole, the
    // options are cut. The segment is tracked; the options captured are kept.
    Bytes f = eth_ipv4_tcp({}, data_segment(10));
    PacketView v = parse_prefix(f, 14 + 20 + 25);
    ASSERT_EQ(v.kind, Kind::Tcp);
    EXPECT_TRUE(v.options_truncated);
    EXPECT_EQ(v.payload_len, 10u);
    EXPECT_EQ(v.captured_payload, 0u);
    EXPECT_FALSE(v.checksum_checked);
}

TEST(Malformed, DataOffsetBelowFiveIsBadDataOffset) {
    Tcp t;
    t.doff_words = 4;
    expect_malformed(parse_frame(eth_ipv4_tcp({}, t)), Reason::BadDataOffset);
}

TEST(Malformed, DataOffsetBeyondIpPayloadIsBadDataOffset) {
    Tcp t;
    t.doff_words = 15;   // 60-byte header in a 20-byte segment
    t.payload = {};
    expect_malformed(parse_frame(eth_ipv4_tcp({}, t, 120)), Reason::BadDataOffset);
}

TEST(Malformed, OptionLengthPastHeaderIsOptionOverrun) {
    Tcp t;
    t.options = Opts().nop().nop().raw({8, 10, 0, 0}).b;  // TS claims 10, 2 bytes left
    expect_malformed(parse_frame(eth_ipv4_tcp({}, t)), Reason::OptionOverrun);
}

TEST(Malformed, OptionKindWithoutLengthByteIsOptionOverrun) {
    Tcp t;
    t.options = Opts().nop().nop().nop().raw({2}).b;
    expect_malformed(parse_frame(eth_ipv4_tcp({}, t)), Reason::OptionOverrun);
}

TEST(Malformed, OptionLengthBelowTwoIsBadOptionLength) {
    // Length 0 or 1 would loop forever or step backwards.
    for (uint8_t len : {uint8_t{0}, uint8_t{1}}) {
        Tcp t;
        t.options = Opts().raw({30, len, 0, 0}).b;
        expect_malformed(parse_frame(eth_ipv4_tcp({}, t)), Reason::BadOptionLength);
    }
}

TEST(Malformed, KnownOptionWithWrongLengthIsBadOptionLength) {
    const Bytes cases[] = {
        {2, 3, 5, 0},                          // MSS must be 4
        {3, 4, 7, 0},                          // window scale must be 3
        {4, 3, 0, 0},                          // SACK-permitted must be 2
        {8, 8, 0, 0, 0, 1, 0, 0, 0, 2},        // timestamps must be 10
        {5, 7, 0, 0, 0, 1, 0, 0},              // SACK must be 2 + 8n
    };
    for (const Bytes& o : cases) {
        Tcp t;
        t.options = o;
        PacketView v = parse_frame(eth_ipv4_tcp({}, t));
        expect_malformed(v, Reason::BadOptionLength);
        EXPECT_EQ(v.kind, Kind::Malformed) << "option kind " << int(o[0]);
    }
}

TEST(Malformed, ShortVxlanHeaderIsTunnelTruncated) {
    Bytes f = ether(kEthIpv4, ipv4(outer(17), udp(1, 4789, Bytes{0x08, 0, 0, 0})));
    expect_malformed(parse_frame(f), Reason::TunnelTruncated);
}

TEST(Malformed, ShortGreHeaderIsTunnelTruncated) {
    Gre g;
    g.key = true;
    Bytes greb = gre(g, {});
    greb.resize(6);  // key field cut
    expect_malformed(parse_frame(ether(kEthIpv4, ipv4(outer(47), greb))), Reason::TunnelTruncated);
}

TEST(Malformed, ShortErspanHeaderIsTunnelTruncated) {
    Gre g;
    g.proto = kEthErspanII;
    g.sequence = true;
    expect_malformed(parse_frame(ether(kEthIpv4, ipv4(outer(47), gre(g, Bytes{0x10, 0, 0, 1})))),
                     Reason::TunnelTruncated);
}

TEST(Malformed, ShortGtpuHeaderIsTunnelTruncated) {
    expect_malformed(parse_frame(ether(kEthIpv4, ipv4(outer(17), udp(2152, 2152, Bytes{0x30, 0xff, 0, 0})))),
                     Reason::TunnelTruncated);
}

TEST(Malformed, TooManyNestedTunnelsAreEncapTooDeep) {
    expect_malformed(parse_frame(nest_gre(kMaxEncapDepth + 1)), Reason::EncapTooDeep);
}

TEST(Malformed, ReasonNamesAreDistinct) {
    // They are keys of the statistics JSON: empty or duplicate names would merge counters.
    std::set<std::string_view> names;
    for (size_t i = 0; i < kReasonCount; ++i) {
        std::string_view n = reason_name(static_cast<Reason>(i));
        EXPECT_FALSE(n.empty()) << i;
        EXPECT_TRUE(names.insert(n).second) << n;
    }
}

// ---- Bounds --------------------------------------------------------------------

// Each prefix is copied to the end of a heap block of exactly its size, so a read
// past caplen touches memory ASan (or valgrind) reports.
TEST(Bounds, NeverReadsPastCaplen) {
    Tcp syn;
    syn.flags = flag::Syn;
    syn.options = Opts().mss(1360).nop().wscale(6).nop().nop().ts(555445081, 0).sack_ok().eol().b;
    Ip6 ip6;
    ip6.ext = {ext_options(0), ext_routing(1), ext_fragment(0, true)};
    Ip4 opts4 = client_to_server();
    opts4.options = {0x94, 4, 0, 0};
    Gre erspan;
    erspan.proto = kEthErspanII;
    erspan.sequence = true;
    struct Case {
        const char* name;
        Bytes frame;
        Link link;
    };
    const Case cases[] = {
        {"syn", eth_ipv4_tcp(client_to_server(), syn, 60), Link::Ethernet},
        {"qinq", ether(kEthIpv4, ipv4(opts4, tcp(data_segment(30))), {{kEthQinQ, 1}, {kEthVlan, 2}}),
         Link::Ethernet},
        {"ipv6-ext", eth_ipv6_tcp(ip6, data_segment(30)), Link::Ethernet},
        {"mpls", ether(kEthMpls, mpls({1, 2}, ipv4({}, tcp(syn)))), Link::Ethernet},
        {"vxlan", ether(kEthIpv4, ipv4(outer(17), udp(1, 4789, vxlan(1, ether(kEthIpv4, inner_ipv4_tcp()))))),
         Link::Ethernet},
        {"erspan", ether(kEthIpv4, ipv4(outer(47), gre(erspan, erspan2(1, ether(kEthIpv4, inner_ipv4_tcp()))))),
         Link::Ethernet},
        {"gtpu", ether(kEthIpv4, ipv4(outer(17), udp(2152, 2152, gtpu(1, inner_ipv4_tcp(), true)))),
         Link::Ethernet},
        {"teredo", ether(kEthIpv4, ipv4(outer(17), udp(3544, 1, teredo_origin(1, {1, 2, 3, 4}, ipv6({}, tcp(syn)))))),
         Link::Ethernet},
        {"sll2", sll2(kEthIpv6, ipv6({}, tcp(syn))), Link::LinuxSll2},
        {"fddi", fddi(kEthIpv4, ipv4({}, tcp(syn))), Link::Fddi},
        {"null", loopback(2, ipv4({}, tcp(syn)), false), Link::Null},
    };
    ParseConfig cfg = verifying();
    for (const Case& c : cases) {
        PacketView full = parse_frame(c.frame, c.link, cfg);
        ASSERT_EQ(full.kind, Kind::Tcp) << c.name << ": " << reason_name(full.reason);
        // The fixed 20-byte header is required; options may be cut (options_truncated).
        size_t needed = static_cast<size_t>(full.tcp - c.frame.data()) + 20;
        size_t whole = static_cast<size_t>(full.tcp - c.frame.data()) + full.tcp_hdr_len;
        for (size_t n = 0; n <= c.frame.size(); ++n) {
            std::unique_ptr<uint8_t[]> block(new uint8_t[n]);
            if (n) std::memcpy(block.get(), c.frame.data(), n);
            PacketView v;
            Kind k = parse(block.get(), static_cast<uint32_t>(n), c.link, cfg, v);
            ASSERT_EQ(k, v.kind) << c.name << " n=" << n;
            ASSERT_TRUE(k == Kind::Tcp || k == Kind::NonTcp || k == Kind::Malformed) << c.name << " n=" << n;
            ASSERT_EQ(k == Kind::Malformed, v.reason != Reason::None) << c.name << " n=" << n;
            ASSERT_LT(static_cast<size_t>(v.reason), kReasonCount) << c.name << " n=" << n;
            if (n < needed) {
                EXPECT_NE(k, Kind::Tcp) << c.name << ": complete header claimed at n=" << n;
            } else if (std::string_view(c.name) != "teredo") {
                // A cut payload leaves the header intact. (Teredo is recognised only
                // when the whole inner IPv6 packet is there, so it is exempt.)
                EXPECT_EQ(k, Kind::Tcp) << c.name << " n=" << n << " " << reason_name(v.reason);
                EXPECT_EQ(v.options_truncated, n < whole) << c.name << " n=" << n;
                EXPECT_EQ(v.payload_len, full.payload_len) << c.name << " n=" << n;
                EXPECT_LE(v.captured_payload, v.payload_len) << c.name << " n=" << n;
                if (v.captured_payload) {
                    EXPECT_LE(static_cast<size_t>(v.payload - block.get()) + v.captured_payload, n) << c.name;
                }
            }
        }
    }
}

// ---- The short path for plain Ethernet/IPv4/TCP ---------------------------------

// Every field of two views, the sack blocks in use only.
void expect_same_view(const PacketView& a, const PacketView& b, const std::string& what) {
    SCOPED_TRACE(what);
    ASSERT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.reason, b.reason);
    EXPECT_EQ(a.ip_version, b.ip_version);
    EXPECT_EQ(a.encap_depth, b.encap_depth);
    EXPECT_EQ(a.vlan_count, b.vlan_count);
    EXPECT_EQ(a.is_fragment, b.is_fragment);
    EXPECT_EQ(a.checksum_checked, b.checksum_checked);
    EXPECT_EQ(a.checksum_ok, b.checksum_ok);
    EXPECT_EQ(a.options_truncated, b.options_truncated);
    EXPECT_EQ(a.src, b.src);
    EXPECT_EQ(a.dst, b.dst);
    EXPECT_EQ(a.sport, b.sport);
    EXPECT_EQ(a.dport, b.dport);
    EXPECT_EQ(a.seq, b.seq);
    EXPECT_EQ(a.ack, b.ack);
    EXPECT_EQ(a.window, b.window);
    EXPECT_EQ(a.urgent, b.urgent);
    EXPECT_EQ(a.flags, b.flags);
    EXPECT_EQ(a.tcp_hdr_len, b.tcp_hdr_len);
    EXPECT_EQ(a.ip_len, b.ip_len);
    EXPECT_EQ(a.payload_len, b.payload_len);
    EXPECT_EQ(a.captured_payload, b.captured_payload);
    EXPECT_EQ(a.l3, b.l3);
    EXPECT_EQ(a.tcp, b.tcp);
    EXPECT_EQ(a.payload, b.payload);
    EXPECT_EQ(a.opt.mss, b.opt.mss);
    EXPECT_EQ(a.opt.wscale, b.opt.wscale);
    EXPECT_EQ(a.opt.ts_val, b.opt.ts_val);
    EXPECT_EQ(a.opt.ts_ecr, b.opt.ts_ecr);
    EXPECT_EQ(a.opt.has_mss, b.opt.has_mss);
    EXPECT_EQ(a.opt.has_wscale, b.opt.has_wscale);
    EXPECT_EQ(a.opt.sack_permitted, b.opt.sack_permitted);
    EXPECT_EQ(a.opt.has_ts, b.opt.has_ts);
    ASSERT_EQ(a.opt.sack_blocks, b.opt.sack_blocks);
    for (unsigned i = 0; i < a.opt.sack_blocks; ++i) EXPECT_EQ(a.opt.sack[i], b.opt.sack[i]);
}

TEST(ShortPath, PlainFramesAndTheirMutationsParseAsTheWalkParsesThem) {
    // Frames of the kind the short path takes, and each byte of their Ethernet, IPv4
    // and TCP headers and options set to values that sit on its conditions (version
    // and IHL, total length, fragment bits, protocol, data offset, option kinds and
    // lengths), cut at every length, with and without checksum verification, each
    // into a view full of another packet's bytes (the short path does not clear it).
    Tcp ts_seg = data_segment(40);
    ts_seg.options = Opts().nop().nop().ts(1234567, 7654321).b;
    Tcp syn;
    syn.flags = flag::Syn;
    syn.options = Opts().mss(1460).sack_ok().ts(1, 0).nop().wscale(7).b;
    Tcp sack = data_segment(0);
    sack.options = Opts().nop().nop().ts(10, 20).nop().nop().sack({{100, 200}, {300, 400}}).b;
    Ip4 no_df = client_to_server();
    no_df.df = false;  // DF set or not, the frame is plain
    const Bytes seeds[] = {eth_ipv4_tcp(client_to_server(), ts_seg), eth_ipv4_tcp(client_to_server(), syn),
                           eth_ipv4_tcp(no_df, sack), eth_ipv4_tcp(client_to_server(), data_segment(0), 60)};
    const uint8_t values[] = {0x00, 0x01, 0x02, 0x05, 0x06, 0x08, 0x0a, 0x11, 0x20, 0x3f, 0x40,
                              0x44, 0x45, 0x46, 0x4f, 0x50, 0x60, 0x80, 0x86, 0xdd, 0xf0, 0xff};
    std::mt19937 rng(7323);
    uint64_t frames = 0, short_tcp = 0;
    for (const bool verify : {false, true}) {
        ParseConfig cfg;
        cfg.verify_checksums = verify;
        auto check = [&](const Bytes& f, size_t n, const std::string& what) {
            PacketView a, b;
            std::memset(static_cast<void*>(&a), 0xab, sizeof a);  // the last packet's view: nothing of it may remain
            parse(f.data(), static_cast<uint32_t>(n), Link::Ethernet, cfg, a);
            parse_general(f.data(), static_cast<uint32_t>(n), Link::Ethernet, cfg, b);
            expect_same_view(a, b, what);
            ++frames;
            short_tcp += a.kind == Kind::Tcp && a.ip_version == 4 && a.vlan_count == 0;
        };
        for (const Bytes& seed : seeds) {
            for (size_t n = 0; n <= seed.size(); ++n) check(seed, n, "cut at " + std::to_string(n));
            const size_t headers = std::min<size_t>(seed.size(), 14 + 20 + 60);
            for (size_t at = 12; at < headers; ++at)
                for (uint8_t x : values) {
                    Bytes f = seed;
                    f[at] = x;
                    check(f, f.size(), "byte " + std::to_string(at) + " = " + std::to_string(x));
                }
            for (int i = 0; i < 3000; ++i) {  // two bytes at once, anywhere in the headers, and a random cut
                Bytes f = seed;
                f[12 + rng() % (headers - 12)] = values[rng() % std::size(values)];
                f[12 + rng() % (headers - 12)] = static_cast<uint8_t>(rng());
                check(f, rng() % (f.size() + 1), "random " + std::to_string(i));
            }
        }
    }
    EXPECT_GT(short_tcp, frames / 4);  // the short path was taken, not only refused
}

// ---- Addresses -----------------------------------------------------------------

TEST(Addr, V4MappedPrintsDottedQuad) {
    EXPECT_EQ(text(mapped(v4("0.0.0.0"))), "0.0.0.0");
    EXPECT_EQ(text(mapped(v4("255.255.255.255"))), "255.255.255.255");
    EXPECT_TRUE(is_v4_mapped(mapped(v4("1.2.3.4"))));
    EXPECT_FALSE(is_v4_mapped(addr6("::1")));
}

TEST(Addr, Ipv6FollowsRfc5952) {
    EXPECT_EQ(text(addr6("2001:0DB8:0000:0000:0000:0000:0000:0001")), "2001:db8::1");
    EXPECT_EQ(text(addr6("::1")), "::1");
    EXPECT_EQ(text(addr6("::")), "::");
    EXPECT_EQ(text(addr6("fe80::")), "fe80::");
    EXPECT_EQ(text(addr6("2001:db8:0:1:1:1:1:1")), "2001:db8:0:1:1:1:1:1");  // one zero group stays
    EXPECT_EQ(text(addr6("2001:0:0:1:0:0:0:1")), "2001:0:0:1::1");          // longest run wins
    EXPECT_EQ(text(addr6("2001:db8:0:0:1:0:0:1")), "2001:db8::1:0:0:1");    // first of equal runs
    EXPECT_EQ(text(addr6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
              "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

// The C library's inet_ntop as the oracle, on random addresses rich in zero groups
// (where RFC 5952's "::" rules bite). Left out: the forms it writes with an embedded
// dotted quad (::a.b.c.d, ::ffff:a.b.c.d), which we write as IPv4 or in hex.
TEST(Addr, MatchesInetNtopOnRandomAddresses) {
    std::mt19937_64 rng(5952);
    int compared = 0;
    for (int n = 0; n < 200000; ++n) {
        Addr a{};
        for (int g = 0; g < 8; ++g) {
            const uint64_t r = rng();
            if (r % 5 < 2) continue;  // a zero group
            const auto v = static_cast<uint16_t>(r % 7 == 0 ? (r >> 8) & 0xf : r >> 16);  // short ones too
            a[static_cast<size_t>(2 * g)] = static_cast<uint8_t>(v >> 8);
            a[static_cast<size_t>(2 * g + 1)] = static_cast<uint8_t>(v);
        }
        char want[INET6_ADDRSTRLEN];
        if (n % 4 == 0) {  // IPv4
            a = mapped({a[12], a[13], a[14], a[15]});
            ASSERT_NE(inet_ntop(AF_INET, a.data() + 12, want, sizeof want), nullptr);
        } else {
            bool low_zero = true;
            for (int i = 0; i < 10; ++i) low_zero = low_zero && a[static_cast<size_t>(i)] == 0;
            if (low_zero && ((a[10] == 0 && a[11] == 0) || (a[10] == 0xff && a[11] == 0xff))) continue;
            ASSERT_NE(inet_ntop(AF_INET6, a.data(), want, sizeof want), nullptr);
        }
        ASSERT_EQ(text(a), std::string(want));
        ++compared;
    }
    EXPECT_GT(compared, 190000);
}

TEST(Addr, SmallBufferIsTruncatedAndTerminated) {
    char buf[8];
    std::memset(buf, 'x', sizeof buf);
    size_t n = format_addr(addr6("2001:db8::1"), buf, 5);
    EXPECT_EQ(n, 4u);
    EXPECT_STREQ(buf, "2001");
    EXPECT_EQ(buf[5], 'x');
}

}  // namespace
}  // namespace ws::parse
