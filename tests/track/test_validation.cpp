// Window validation, sequence wrap-around, direction rules, bad checksums.
#include <gtest/gtest.h>

#include "session.hpp"

namespace ws::track {
namespace {

using testing::ep;
using testing::Session;

TEST(SeqNum, ComparesAcrossTheWrap) {
    SeqNum near_end(0xFFFFFF00u), after_wrap(0x00000010u);
    EXPECT_TRUE(near_end < after_wrap);
    EXPECT_TRUE(after_wrap > near_end);
    EXPECT_EQ(after_wrap - near_end, 0x110);
    EXPECT_EQ((near_end + 0x110u).v, 0x10u);
    EXPECT_FALSE(SeqNum(5) < SeqNum(5));
    EXPECT_TRUE(SeqNum(5) <= SeqNum(5));
}

TEST(Validation, SequenceWrapsAround) {
    Session s(ep("10.0.0.1", 50000), ep("10.0.0.2", 8081));
    const uint32_t isn = 0xFFFFF000u;  // 4096 bytes before the wrap
    s.client("[S] seq " + std::to_string(isn) + " win 65535 mss 1460", 0.0);
    s.server("[S.] seq 5000 ack " + std::to_string(isn + 1) + " win 65535 mss 1460", 0.01);
    s.client("[.] seq " + std::to_string(isn + 1) + " ack 5001 win 65535", 0.02);
    uint32_t at = isn + 1;
    for (int k = 0; k < 4; ++k) {  // 4 x 1460 bytes: crosses 2^32
        s.client("[.] seq " + std::to_string(at) + " ack 5001 win 65535 length 1460", 0.1 + 0.01 * k);
        at += 1460;
        s.server("[.] seq 5001 ack " + std::to_string(at) + " win 65535", 0.105 + 0.01 * k);
    }
    EXPECT_LT(at, 0x10000u);  // wrapped
    EXPECT_EQ(relative_seq(s.conn, Role::Orig, at), 5841u);
    s.client("[F.] seq " + std::to_string(at) + " ack 5001 win 65535", 0.3);
    s.server("[F.] seq 5001 ack " + std::to_string(at + 1) + " win 65535", 0.31);
    s.client("[.] seq " + std::to_string(at + 1) + " ack 5002 win 65535", 0.32);
    ConnRecord r = s.record(EndReason::Closed);
    EXPECT_EQ(r.invalid_pkts, 0u);
    EXPECT_EQ(r.orig_bytes, 5840u);
    EXPECT_EQ(r.conn_state, ZeekState::SF);
    EXPECT_STREQ(r.history, "ShADaFf");
    EXPECT_EQ(s.client_state(), TcpState::TimeWait);
    EXPECT_EQ(s.server_state(), TcpState::Closed);
}

TEST(Validation, OutOfWindowSegmentIsInvalidAndDoesNotMoveState) {
    Session s(ep("10.0.0.1", 50000), ep("10.0.0.2", 8081));
    s.client("[S] seq 1000 win 1000", 0.0);
    s.server("[S.] seq 5000 ack 1001 win 1000", 0.01);
    s.client("[.] seq 1001 ack 5001 win 1000", 0.02);
    s.client("[F.] seq 900000 ack 5001 win 1000", 0.1);  // far beyond the server's window
    EXPECT_EQ(s.client_state(), TcpState::Established);
    EXPECT_EQ(s.server_state(), TcpState::Established);
    s.server("[R.] seq 77777777 ack 1001 win 0", 0.2);  // a blind RST
    EXPECT_EQ(s.server_state(), TcpState::Established);
    s.client("[.] seq 1001 ack 999999 win 1000", 0.3);  // acks data never sent
    EXPECT_EQ(s.record().invalid_pkts, 3u);
    s.client("[F.] seq 1001 ack 5001 win 1000", 0.4);
    EXPECT_EQ(s.client_state(), TcpState::FinWait1);
    EXPECT_EQ(s.record().invalid_pkts, 3u);
}

TEST(Validation, MidstreamPickupIsLiberal) {
    Session s(ep("10.0.0.1", 50000), ep("10.0.0.2", 8081));
    s.client("[P.] seq 123456:124456 ack 987654 win 20", 0.0);  // tiny window: scale unknown
    s.server("[.] seq 987654:997654 ack 124456 win 30", 0.01);
    s.client("[.] seq 124456 ack 997654 win 20", 0.02);
    EXPECT_EQ(s.record().invalid_pkts, 0u);
}

TEST(Validation, BadChecksumIsNotCountedAndDoesNotMoveState) {
    Session s(ep("141.142.228.5", 59856), ep("192.150.187.43", 80));
    s.client("[S] seq 1000 win 8192 badsum", 0.0);
    ConnRecord r = s.record();
    EXPECT_STREQ(r.history, "C");
    EXPECT_EQ(r.conn_state, ZeekState::OTH);
    EXPECT_EQ(r.orig_pkts, 0u);
    EXPECT_EQ(r.resp_pkts, 0u);
    EXPECT_EQ(s.client_state(), TcpState::Closed);
}

TEST(Validation, MidstreamConnectionOfBadChecksumsOnlyIsNotAssumedOpen) {
    // With no SYN the tracker assumes an open connection, but only once a packet
    // counts: until then nothing is known of either endpoint.
    Session s(ep("10.0.0.1", 50000), ep("10.0.0.2", 80));
    s.client("[.] seq 1000:1100 ack 5000 win 500 badsum", 0.0);
    s.server("[.] seq 5000 ack 1100 win 500 badsum", 0.01);
    ConnRecord r = s.record();
    EXPECT_STREQ(r.history, "Cc");
    EXPECT_EQ(r.conn_state, ZeekState::OTH);
    EXPECT_EQ(r.orig_pkts + r.resp_pkts, 0u);
    EXPECT_EQ(s.client_state(), TcpState::Closed);
    EXPECT_EQ(s.server_state(), TcpState::Closed);
    s.client("[.] seq 1100:1200 ack 5000 win 500", 0.02);  // the first that counts
    EXPECT_EQ(s.client_state(), TcpState::Established);
    EXPECT_EQ(s.server_state(), TcpState::Established);
    EXPECT_EQ(s.record().orig_pkts, 1u);
}

TEST(Direction, SynAckFirstIsFlipped) {
    // A SYN-ACK from a well-known server port: Zeek flips at once ("^h").
    Session s(ep("141.142.220.235", 6705), ep("173.192.163.128", 80));
    s.server("[S.] seq 1385838722 ack 3057737591 win 16384 mss 1460 sackOK", 0.0);
    ConnRecord r = s.record();
    EXPECT_EQ(s.client_role(), Role::Orig);
    EXPECT_STREQ(r.history, "^h");
    EXPECT_EQ(r.conn_state, ZeekState::OTH);
    EXPECT_EQ(r.resp_pkts, 1u);
    EXPECT_EQ(r.orig_p, 6705);
    EXPECT_EQ(s.server_state(), TcpState::SynReceived);
    EXPECT_EQ(s.client_state(), TcpState::Established);
}

TEST(Direction, SynAckFirstOnUnknownPortFlipsWhenAckFollows) {
    // Zeek PR 2191: no port hint, but an ACK right after the SYN-ACK.
    Session s(ep("127.0.0.1", 1081), ep("44.1.1.1", 8001));
    s.server("[S.] seq 298814948 ack 889486239 win 65160 mss 1460 sackOK TS wscale 7", 0.0);
    EXPECT_EQ(s.client_role(), Role::Resp);
    EXPECT_STREQ(s.record().history, "H");
    s.client("[.] seq 889486239 ack 298814949 win 502", 0.001);
    EXPECT_EQ(s.client_role(), Role::Orig);
    s.client("[.] seq 889486239:889487687 ack 298814949 win 502", 0.002);
    s.server("[.] seq 298814949 ack 889487687 win 502", 0.003);
    ConnRecord r = s.record();
    EXPECT_STREQ(r.history, "^hADa");
    EXPECT_EQ(r.conn_state, ZeekState::S1);
    EXPECT_EQ(r.orig_pkts, 2u);
    EXPECT_EQ(r.resp_pkts, 2u);
    EXPECT_EQ(r.orig_bytes, 1448u);
    EXPECT_EQ(s.client_state(), TcpState::Established);
    EXPECT_EQ(s.server_state(), TcpState::Established);
}

TEST(Direction, MidstreamPickupIsOth) {
    Session s(ep("192.168.2.42", 54297), ep("192.168.88.100", 40502));
    s.client("[P.] seq 100:111 ack 200 win 8192", 0.0);
    s.server("[P.] seq 200:218 ack 111 win 8192", 0.01);
    ConnRecord r = s.record();
    EXPECT_TRUE(r.midstream);
    EXPECT_EQ(s.client_role(), Role::Orig);  // oriented by the first packet
    EXPECT_EQ(r.conn_state, ZeekState::OTH);
    EXPECT_STREQ(r.history, "Dd");
    EXPECT_EQ(r.orig_bytes, 11u);
    EXPECT_EQ(r.resp_bytes, 18u);
    EXPECT_EQ(s.client_state(), TcpState::Established);
    EXPECT_EQ(s.server_state(), TcpState::Established);
}

TEST(Direction, MidstreamFromServerPortIsFlipped) {
    Session s(ep("192.168.2.16", 1576), ep("75.126.130.163", 80));
    s.server("[F.] seq 3545886737 ack 3717931297 win 6432", 0.0);
    s.client("[.] ack 3545886738 win 17129", 0.0004);
    ConnRecord r = s.record();
    EXPECT_EQ(s.client_role(), Role::Orig);
    EXPECT_STREQ(r.history, "^fA");
    EXPECT_EQ(r.conn_state, ZeekState::SHR);
    EXPECT_TRUE(r.bytes_known);
    EXPECT_EQ(r.orig_bytes, 0u);
    EXPECT_EQ(r.resp_bytes, 0u);
}

}  // namespace
}  // namespace ws::track
