// Opening a connection: ISNs, options, retransmissions, RTT, relative numbers.
// The 41033 connection is the capture in seeds/004 (an HTTPS client behind NAT).
#include <gtest/gtest.h>

#include <cstring>

#include "session.hpp"

namespace ws::track {
namespace {

using testing::ep;
using testing::Session;

Session seed004_41033() { return Session(ep("114.242.250.59", 41033), ep("172.17.51.219", 443)); }

TEST(Handshake, ThreeWayHandshakeFromSeedEstablishesBothEndpoints) {
    Session s = seed004_41033();
    s.client("[S], seq 1328522649, win 65535, options [mss 1360,nop,wscale 6,nop,nop,TS val 555445081 ecr 0,sackOK,eol], length 0",
             40.966228);
    EXPECT_EQ(s.client_state(), TcpState::SynSent);
    EXPECT_EQ(s.server_state(), TcpState::Listen);
    EXPECT_TRUE(is_embryonic(s.conn));

    s.server("[S.], seq 466300160, ack 1328522650, win 28960, options [mss 1460,sackOK,TS val 2928333455 ecr 555445081,nop,wscale 7], length 0",
             40.966266);
    EXPECT_EQ(s.server_state(), TcpState::SynReceived);
    EXPECT_EQ(s.client_state(), TcpState::Established);

    s.client("[.], ack 466300161, win 2064, length 0", 40.991849);
    EXPECT_EQ(s.client_state(), TcpState::Established);
    EXPECT_EQ(s.server_state(), TcpState::Established);
    EXPECT_FALSE(is_embryonic(s.conn));

    ConnRecord r = s.record();
    EXPECT_EQ(r.orig_isn, 1328522649u);
    EXPECT_EQ(r.resp_isn, 466300160u);
    EXPECT_EQ(r.orig_mss, 1360);
    EXPECT_EQ(r.resp_mss, 1460);
    EXPECT_EQ(r.orig_wscale, 6);
    EXPECT_EQ(r.resp_wscale, 7);
    EXPECT_TRUE(r.orig_sack_ok);
    EXPECT_TRUE(r.resp_sack_ok);
    EXPECT_TRUE(r.orig_ts);
    EXPECT_TRUE(r.resp_ts);
    EXPECT_EQ(r.rtt_syn_synack_us, 38u);
    EXPECT_EQ(r.rtt_synack_ack_us, 25583u);
    EXPECT_EQ(r.syn_retrans, 0);
    EXPECT_EQ(r.invalid_pkts, 0u);
    EXPECT_FALSE(r.midstream);
    EXPECT_EQ(r.conn_state, ZeekState::S1);
    EXPECT_STREQ(r.history, "ShA");
}

TEST(Handshake, SeedRequestAndResponseUseWiresharkRelativeNumbers) {
    Session s = seed004_41033();
    s.client("[S] seq 1328522649 win 65535 mss 1360 wscale 6 sackOK TS", 40.966228);
    s.server("[S.] seq 466300160 ack 1328522650 win 28960 mss 1460 sackOK TS wscale 7", 40.966266);
    s.client("[.] ack 466300161 win 2064", 40.991849);
    s.client("[P.] seq 1328522650:1328523173 ack 466300161 win 2064 length 523", 40.996812);
    s.server("[.] ack 1328523173 win 235", 40.996850);
    s.server("[.] seq 466300161:466302857 ack 1328523173 win 235 length 2696", 40.997984);
    s.server("[P.] seq 466302857:466303222 ack 1328523173 win 235 length 365", 40.997991);
    s.client("[.] ack 466302857 win 2022", 41.029955);
    s.client("[.] ack 466303222 win 2016", 41.029957);
    s.client("[P.] seq 1328523173:1328523266 ack 466303222 win 2048 length 93", 41.033172);
    s.server("[P.] seq 466303222:466303496 ack 1328523266 win 235 length 274", 41.033374);
    s.client("[.] ack 466303496 win 2043", 41.065920);

    Role c = s.client_role();
    EXPECT_EQ(c, Role::Orig);
    EXPECT_EQ(relative_seq(s.conn, Role::Orig, 1328522650), 1u);     // the request
    EXPECT_EQ(relative_ack(s.conn, Role::Resp, 1328523173), 524u);   // server acks 523 bytes
    EXPECT_EQ(relative_seq(s.conn, Role::Resp, 466302857), 2697u);
    EXPECT_EQ(relative_ack(s.conn, Role::Orig, 466303496), 3336u);

    ConnRecord r = s.record();
    EXPECT_EQ(r.conn_state, ZeekState::S1);
    EXPECT_STREQ(r.history, "ShADad");
    EXPECT_EQ(r.orig_pkts, 7u);
    EXPECT_EQ(r.resp_pkts, 5u);
    EXPECT_TRUE(r.bytes_known);
    EXPECT_EQ(r.orig_bytes, 616u);
    EXPECT_EQ(r.resp_bytes, 3335u);
    EXPECT_EQ(r.orig_payload, 616u);
    EXPECT_EQ(r.resp_payload, 3335u);
    EXPECT_EQ(r.invalid_pkts, 0u);
    EXPECT_EQ(s.client_state(), TcpState::Established);
    EXPECT_EQ(s.server_state(), TcpState::Established);
}

TEST(Handshake, SynRetransmittedThenAnswered) {
    Session s(ep("10.0.0.1", 50000), ep("10.0.0.2", 8081));
    s.client("[S] seq 1000 win 64240 mss 1460", 0.0);
    EXPECT_EQ(s.client("[S] seq 1000 win 64240 mss 1460", 1.0), Action::Continue);
    EXPECT_EQ(s.client("[S] seq 1000 win 64240 mss 1460", 3.0), Action::Continue);
    EXPECT_EQ(s.client_state(), TcpState::SynSent);
    s.server("[S.] seq 7000 ack 1001 win 65160 mss 1460", 3.020);
    s.client("[.] ack 7001 win 502", 3.021);

    ConnRecord r = s.record();
    EXPECT_EQ(r.syn_retrans, 2);
    EXPECT_EQ(r.synack_retrans, 0);
    EXPECT_EQ(r.rtt_syn_synack_us, 20000u);  // measured from the SYN that was answered
    EXPECT_EQ(r.rtt_synack_ack_us, 1000u);
    EXPECT_STREQ(r.history, "ShA");  // Zeek repeats 'S' only for a new sequence number
    EXPECT_EQ(r.orig_pkts, 4u);
    EXPECT_EQ(r.conn_state, ZeekState::S1);
    EXPECT_EQ(s.client_state(), TcpState::Established);
    EXPECT_EQ(s.server_state(), TcpState::Established);
}

TEST(Handshake, SynAckRetransmissionCounted) {
    Session s(ep("10.0.0.1", 50000), ep("10.0.0.2", 8081));
    s.client("[S] seq 1000 win 64240", 0.0);
    s.server("[S.] seq 7000 ack 1001 win 65160", 0.01);
    s.server("[S.] seq 7000 ack 1001 win 65160", 1.01);
    EXPECT_EQ(s.server_state(), TcpState::SynReceived);
    s.client("[.] ack 7001 win 502", 1.02);
    ConnRecord r = s.record();
    EXPECT_EQ(r.synack_retrans, 1);
    EXPECT_STREQ(r.history, "ShA");
    EXPECT_EQ(s.server_state(), TcpState::Established);
}

TEST(Handshake, SynAckMustAcknowledgeIsnPlusOne) {
    Session s(ep("10.0.0.1", 50000), ep("10.0.0.2", 8081));
    s.client("[S] seq 1000 win 64240", 0.0);
    s.server("[S.] seq 7000 ack 5555 win 65160", 0.01);  // acks nothing we sent
    EXPECT_EQ(s.client_state(), TcpState::SynSent);
    EXPECT_EQ(s.server_state(), TcpState::Listen);
    EXPECT_EQ(s.record().invalid_pkts, 1u);
    s.server("[S.] seq 7000 ack 1001 win 65160", 0.02);
    EXPECT_EQ(s.client_state(), TcpState::Established);
    EXPECT_EQ(s.server_state(), TcpState::SynReceived);
    EXPECT_EQ(s.record().invalid_pkts, 1u);
}

TEST(Handshake, SimultaneousOpenBothEndpointsPassSynReceived) {
    Session s(ep("10.0.0.1", 40000), ep("10.0.0.2", 40001));
    s.client("[S] seq 100 win 8192", 0.0);
    EXPECT_EQ(s.server("[S] seq 900 win 8192", 0.001), Action::Continue);
    EXPECT_EQ(s.client_state(), TcpState::SynReceived);
    EXPECT_EQ(s.server_state(), TcpState::SynReceived);
    s.client("[S.] seq 100 ack 901 win 8192", 0.002);
    EXPECT_EQ(s.server_state(), TcpState::Established);
    EXPECT_EQ(s.client_state(), TcpState::SynReceived);
    s.server("[S.] seq 900 ack 101 win 8192", 0.003);
    EXPECT_EQ(s.client_state(), TcpState::Established);
    EXPECT_EQ(s.server_state(), TcpState::Established);
    ConnRecord r = s.record();
    EXPECT_TRUE(r.simultaneous_open);
    EXPECT_EQ(r.conn_state, ZeekState::S1);
}

// seeds/003: a browser fetching one image; Wireshark's relative numbers.
TEST(Handshake, SeedHttpRequestAdvancesServerAckTo726) {
    const uint32_t c0 = 4129057982u;  // client ISN 0xf61c6cbe
    const uint32_t s0 = 3000000000u;
    auto seq = [](uint32_t isn, uint32_t rel) { return std::to_string(isn + rel); };
    Session s(ep("192.168.1.2", 54841), ep("93.184.216.34", 80));
    s.client("[S] seq " + seq(c0, 0) + " win 8192 mss 1460", 0.000);
    s.server("[S.] seq " + seq(s0, 0) + " ack " + seq(c0, 1) + " win 5840 mss 1448", 0.030);
    s.client("[.] seq " + seq(c0, 1) + " ack " + seq(s0, 1) + " win 16425", 0.031);
    s.client("[P.] seq " + seq(c0, 1) + " ack " + seq(s0, 1) + " win 16425 length 725", 0.032);
    s.server("[.] seq " + seq(s0, 1) + " ack " + seq(c0, 726) + " win 6432", 0.062);
    EXPECT_EQ(relative_ack(s.conn, Role::Resp, c0 + 726), 726u);
    uint32_t rel = 1;
    for (int k = 0; k < 3; ++k) {
        s.server("[.] seq " + seq(s0, rel) + " ack " + seq(c0, 726) + " win 6432 length 1448", 0.070 + 0.001 * k);
        EXPECT_EQ(relative_seq(s.conn, Role::Resp, s0 + rel), rel);
        rel += 1448;
        s.client("[.] seq " + seq(c0, 726) + " ack " + seq(s0, rel) + " win 16425", 0.080 + 0.001 * k);
    }
    EXPECT_EQ(relative_seq(s.conn, Role::Orig, c0 + 726), 726u);
    s.client("[F.] seq " + seq(c0, 726) + " ack " + seq(s0, rel) + " win 16425", 0.2);
    EXPECT_EQ(s.client_state(), TcpState::FinWait1);
    EXPECT_EQ(s.server_state(), TcpState::CloseWait);
    s.server("[F.] seq " + seq(s0, rel) + " ack " + seq(c0, 727) + " win 6432", 0.23);
    EXPECT_EQ(relative_ack(s.conn, Role::Resp, c0 + 727), 727u);
    EXPECT_EQ(s.client_state(), TcpState::TimeWait);
    EXPECT_EQ(s.server_state(), TcpState::LastAck);
    s.client("[.] seq " + seq(c0, 727) + " ack " + seq(s0, rel + 1) + " win 16425", 0.231);
    EXPECT_EQ(relative_seq(s.conn, Role::Orig, c0 + 727), 727u);  // the client's final seq
    EXPECT_EQ(s.client_state(), TcpState::TimeWait);
    EXPECT_EQ(s.server_state(), TcpState::Closed);

    ConnRecord r = s.record(EndReason::Closed);
    EXPECT_EQ(r.conn_state, ZeekState::SF);
    EXPECT_STREQ(r.history, "ShADadFf");
    EXPECT_EQ(r.orig_bytes, 725u);
    EXPECT_EQ(r.resp_bytes, 3u * 1448u);
    EXPECT_EQ(r.closed_first, Closer::Orig);
    EXPECT_EQ(r.invalid_pkts, 0u);
}

TEST(Handshake, RttHalvesMeasuredFromTheSynAndTheSynAck) {
    Session s(ep("10.0.0.1", 50000), ep("10.0.0.2", 8081));
    s.client("[S] seq 1000 win 64240 mss 1460", 10.0);
    s.client("[S] seq 1000 win 64240 mss 1460", 11.0);  // retransmitted: the RTT counts from it
    s.server("[S.] seq 5000 ack 1001 win 65160 mss 1460", 11.004);
    s.client("[.] seq 1001 ack 5001 win 64240", 11.0065);
    s.client("[.] seq 1001 ack 5001 win 64240", 12.0);  // a later ACK does not measure again
    ConnRecord r = s.record();
    EXPECT_EQ(r.rtt_syn_synack_us, 4000u);
    EXPECT_EQ(r.rtt_synack_ack_us, 2500u);
    EXPECT_EQ(r.syn_retrans, 1u);
}

TEST(Layout, HotConnFitsOneCacheLine) {
    EXPECT_LE(sizeof(Conn), 64u);
    EXPECT_EQ(alignof(Conn), 64u);
    EXPECT_TRUE(std::is_trivially_copyable_v<Conn>);
    EXPECT_TRUE(std::is_trivially_copyable_v<ConnCold>);
    EXPECT_EQ(sizeof(ConnCold), 256u);
    EXPECT_EQ(alignof(ConnCold), 64u);
}

}  // namespace
}  // namespace ws::track
