// Closing a connection: FIN exchanges, RSTs, TIME-WAIT, keep-alives.
#include <gtest/gtest.h>

#include "session.hpp"

namespace ws::track {
namespace {

using testing::ep;
using testing::Session;

// An established connection: client ISN 1000, server ISN 5000, nothing sent yet.
Session established(uint16_t server_port = 8081) {
    Session s(ep("10.0.0.1", 50000), ep("10.0.0.2", server_port));
    s.client("[S] seq 1000 win 64240 mss 1460 wscale 7 sackOK", 0.0);
    s.server("[S.] seq 5000 ack 1001 win 65160 mss 1460 wscale 7 sackOK", 0.01);
    s.client("[.] seq 1001 ack 5001 win 502", 0.02);
    return s;
}

TEST(Teardown, FourWayClose) {
    Session s = established();
    s.client("[P.] seq 1001:1101 ack 5001 win 502", 0.1);
    s.server("[.] seq 5001 ack 1101 win 509", 0.11);
    s.client("[F.] seq 1101 ack 5001 win 502", 0.2);
    EXPECT_EQ(s.client_state(), TcpState::FinWait1);
    EXPECT_EQ(s.server_state(), TcpState::CloseWait);
    s.server("[.] seq 5001 ack 1102 win 509", 0.21);
    EXPECT_EQ(s.client_state(), TcpState::FinWait2);
    EXPECT_EQ(s.server_state(), TcpState::CloseWait);
    s.server("[F.] seq 5001 ack 1102 win 509", 0.3);
    EXPECT_EQ(s.client_state(), TcpState::TimeWait);
    EXPECT_EQ(s.server_state(), TcpState::LastAck);
    s.client("[.] seq 1102 ack 5002 win 502", 0.31);
    EXPECT_EQ(s.client_state(), TcpState::TimeWait);
    EXPECT_EQ(s.server_state(), TcpState::Closed);
    ConnRecord r = s.record(EndReason::Closed);
    EXPECT_EQ(r.conn_state, ZeekState::SF);
    EXPECT_STREQ(r.history, "ShADaFf");
    EXPECT_EQ(r.orig_bytes, 100u);
    EXPECT_EQ(r.resp_bytes, 0u);
    EXPECT_EQ(r.closed_first, Closer::Orig);
}

// seeds/004: the client's FIN, the server's FIN+ACK, the client's last ACK.
TEST(Teardown, MergedFinAckCloseIsThreePackets) {
    Session s(ep("192.168.43.226", 54739), ep("39.106.58.35", 443));
    s.client("[F.], seq 1024508534, ack 2329885927, length 0", 58.450967);
    EXPECT_EQ(s.client_state(), TcpState::FinWait1);
    EXPECT_EQ(s.server_state(), TcpState::CloseWait);
    EXPECT_EQ(relative_seq(s.conn, s.client_role(), 1024508534), 1u);
    EXPECT_EQ(relative_ack(s.conn, s.client_role(), 2329885927), 1u);
    s.server("[F.], seq 2329885927, ack 1024508535,  length 0", 58.520988);
    EXPECT_EQ(relative_ack(s.conn, peer_of(s.client_role()), 1024508535), 2u);
    EXPECT_EQ(s.client_state(), TcpState::TimeWait);
    EXPECT_EQ(s.server_state(), TcpState::LastAck);
    s.client("[.], ack 2329885928, length 0", 58.521051);
    EXPECT_EQ(s.client_state(), TcpState::TimeWait);
    EXPECT_EQ(s.server_state(), TcpState::Closed);

    ConnRecord r = s.record(EndReason::Closed);
    EXPECT_TRUE(r.midstream);
    EXPECT_EQ(r.conn_state, ZeekState::SF);  // Zeek: both endpoints closed, even without a SYN
    EXPECT_STREQ(r.history, "FfA");
    EXPECT_EQ(r.orig_state, TcpState::TimeWait);
    EXPECT_EQ(r.resp_state, TcpState::Closed);
}

TEST(Teardown, SimultaneousCloseBothEndpointsPassClosing) {
    Session s = established();
    s.client("[F.] seq 1001 ack 5001 win 502", 0.2);
    s.server("[F.] seq 5001 ack 1001 win 509", 0.2001);  // sent before the client's FIN arrived
    EXPECT_EQ(s.client_state(), TcpState::Closing);
    EXPECT_EQ(s.server_state(), TcpState::Closing);
    s.client("[.] seq 1002 ack 5002 win 502", 0.2100);
    EXPECT_EQ(s.server_state(), TcpState::TimeWait);
    EXPECT_EQ(s.client_state(), TcpState::Closing);
    s.server("[.] seq 5002 ack 1002 win 509", 0.2101);
    EXPECT_EQ(s.client_state(), TcpState::TimeWait);
    EXPECT_EQ(s.server_state(), TcpState::TimeWait);
    ConnRecord r = s.record(EndReason::Closed);
    EXPECT_EQ(r.closed_first, Closer::Both);
    EXPECT_EQ(r.conn_state, ZeekState::SF);
    EXPECT_STREQ(r.history, "ShAFfa");
}

TEST(Teardown, HalfCloseDataStillFlows) {
    Session s = established();
    s.client("[P.] seq 1001:1051 ack 5001 win 502", 0.1);
    s.client("[F.] seq 1051 ack 5001 win 502", 0.11);
    s.server("[.] seq 5001 ack 1052 win 509", 0.12);
    EXPECT_EQ(s.client_state(), TcpState::FinWait2);
    EXPECT_EQ(s.server_state(), TcpState::CloseWait);
    for (int k = 0; k < 3; ++k) {
        uint32_t at = 5001 + 1000u * static_cast<uint32_t>(k);
        s.server("[P.] seq " + std::to_string(at) + ":" + std::to_string(at + 1000) + " ack 1052 win 509", 0.2 + k * 0.01);
        s.client("[.] seq 1052 ack " + std::to_string(at + 1000) + " win 502", 0.205 + k * 0.01);
        EXPECT_EQ(s.client_state(), TcpState::FinWait2);
        EXPECT_EQ(s.server_state(), TcpState::CloseWait);
    }
    s.server("[F.] seq 8001 ack 1052 win 509", 0.3);
    s.client("[.] seq 1052 ack 8002 win 502", 0.31);
    EXPECT_EQ(s.client_state(), TcpState::TimeWait);
    EXPECT_EQ(s.server_state(), TcpState::Closed);
    ConnRecord r = s.record(EndReason::Closed);
    EXPECT_EQ(r.conn_state, ZeekState::SF);
    EXPECT_STREQ(r.history, "ShADFadf");
    EXPECT_EQ(r.orig_bytes, 50u);
    EXPECT_EQ(r.resp_bytes, 3000u);
    EXPECT_EQ(r.invalid_pkts, 0u);
}

TEST(Teardown, RstAnsweringSynIsRejected) {
    Session s(ep("10.0.0.1", 50000), ep("10.0.0.2", 8081));
    s.client("[S] seq 1000 win 64240", 0.0);
    s.server("[R.] seq 0 ack 1001 win 0", 0.001);
    EXPECT_EQ(s.client_state(), TcpState::Closed);
    EXPECT_EQ(s.server_state(), TcpState::Closed);
    ConnRecord r = s.record(EndReason::Closed);
    EXPECT_EQ(r.conn_state, ZeekState::REJ);
    EXPECT_STREQ(r.history, "Sr");
    EXPECT_EQ(r.closed_first, Closer::Resp);
    EXPECT_EQ(r.invalid_pkts, 0u);
}

TEST(Teardown, RstWithoutAckOfTheSynIsInvalidForTheClient) {
    Session s(ep("10.0.0.1", 50000), ep("10.0.0.2", 8081));
    s.client("[S] seq 1000 win 64240", 0.0);
    s.server("[R] seq 0 win 0", 0.001);  // RFC 9293: SYN-SENT ignores a RST without an ACK of the SYN
    EXPECT_EQ(s.client_state(), TcpState::SynSent);
    EXPECT_EQ(s.record().invalid_pkts, 1u);
    EXPECT_EQ(s.record().conn_state, ZeekState::REJ);  // Zeek does not validate
}

TEST(Teardown, RstFromOriginatorInEstablishedIsRsto) {
    Session s = established();
    s.client("[P.] seq 1001:1011 ack 5001 win 502", 0.1);
    s.client("[R.] seq 1011 ack 5001 win 0", 0.2);
    EXPECT_EQ(s.client_state(), TcpState::Closed);
    EXPECT_EQ(s.server_state(), TcpState::Closed);
    ConnRecord r = s.record(EndReason::Closed);
    EXPECT_EQ(r.conn_state, ZeekState::RSTO);
    EXPECT_STREQ(r.history, "ShADR");
}

TEST(Teardown, RstFromResponderAfterFinIsRstr) {
    Session s = established();
    s.client("[F.] seq 1001 ack 5001 win 502", 0.1);
    s.server("[R.] seq 5001 ack 1002 win 0", 0.2);
    ConnRecord r = s.record(EndReason::Closed);
    EXPECT_EQ(r.conn_state, ZeekState::RSTR);
    EXPECT_STREQ(r.history, "ShAFr");
    EXPECT_EQ(s.client_state(), TcpState::Closed);
}

TEST(Teardown, RstInFinWait2ClosesBoth) {
    Session s = established();
    s.client("[F.] seq 1001 ack 5001 win 502", 0.1);
    s.server("[.] seq 5001 ack 1002 win 509", 0.11);
    EXPECT_EQ(s.client_state(), TcpState::FinWait2);
    s.client("[R] seq 1002 win 0", 0.2);
    EXPECT_EQ(s.client_state(), TcpState::Closed);
    EXPECT_EQ(s.server_state(), TcpState::Closed);
    EXPECT_EQ(s.record().conn_state, ZeekState::RSTO);
}

TEST(Teardown, SynThenRstFromOriginatorIsRstos0) {
    Session s(ep("1.1.1.1", 13131), ep("1.1.1.2", 31313));
    s.client("[S] seq 10 win 8192", 0.0);
    s.client("[R] seq 11 win 0", 0.5);
    ConnRecord r = s.record(EndReason::Closed);
    EXPECT_EQ(r.conn_state, ZeekState::RSTOS0);
    EXPECT_STREQ(r.history, "SR");
}

TEST(Teardown, LoneRstIsOth) {
    Session s(ep("128.3.140.132", 2035), ep("194.140.136.34", 80));
    s.client("[R] seq 1388789261 win 8192", 0.0);
    ConnRecord r = s.record(EndReason::Closed);
    EXPECT_EQ(r.conn_state, ZeekState::OTH);
    EXPECT_STREQ(r.history, "R");
    EXPECT_FALSE(r.bytes_known);
    EXPECT_EQ(r.orig_pkts, 1u);
}

TEST(Teardown, TimeWaitLastsTwoMsl) {
    Session s = established();
    s.client("[F.] seq 1001 ack 5001 win 502", 1.0);
    s.server("[F.] seq 5001 ack 1002 win 509", 1.1);
    s.client("[.] seq 1002 ack 5002 win 502", 1.2);
    double two_msl = 2.0 * static_cast<double>(s.cfg.msl_us) / 1e6;
    EXPECT_EQ(s.client_state(1.2 + two_msl - 0.001), TcpState::TimeWait);
    EXPECT_EQ(s.client_state(1.2 + two_msl), TcpState::Closed);
    EXPECT_EQ(s.server_state(1.2 + two_msl - 0.001), TcpState::Closed);
}

TEST(Teardown, KeepAliveProbeCounted) {
    Session s = established();
    s.client("[P.] seq 1001:1101 ack 5001 win 502", 0.1);
    s.server("[.] seq 5001 ack 1101 win 509", 0.11);
    // Probes after 60 s idle (tcp_keepalive_time lowered below Zeek's 5-minute timeout).
    s.client("[.] seq 1100 ack 5001 win 502", 60.1);  // Linux: zero bytes at snd_nxt - 1
    s.server("[.] seq 5001 ack 1101 win 509", 60.11);
    s.client("[.] seq 1100:1101 ack 5001 win 502", 120.2);  // Windows: one garbage byte
    ConnRecord r = s.record();
    EXPECT_EQ(r.keepalives, 2u);
    EXPECT_EQ(r.invalid_pkts, 0u);
    EXPECT_EQ(s.client_state(), TcpState::Established);
    EXPECT_STREQ(r.history, "ShADaT");  // Zeek takes the 1-byte probe for a retransmission
}

}  // namespace
}  // namespace ws::track
