// Zeek's history letters, timers and connection reuse, as its conn.log shows them.
#include <gtest/gtest.h>

#include <iterator>
#include <random>

#include "session.hpp"

namespace ws::track {
namespace {

using testing::ep;
using testing::Session;

Session established() {
    Session s(ep("10.0.0.1", 50000), ep("10.0.0.2", 8081));
    s.client("[S] seq 1000 win 64240 mss 1460", 0.0);
    s.server("[S.] seq 5000 ack 1001 win 65160 mss 1460", 0.01);
    s.client("[.] seq 1001 ack 5001 win 64240", 0.02);
    return s;
}

TEST(History, RetransmittedPayloadIsT) {
    Session s = established();
    s.client("[P.] seq 1001:1101 ack 5001 win 64240", 0.1);
    s.client("[P.] seq 1001:1101 ack 5001 win 64240", 0.3);
    EXPECT_STREQ(s.record().history, "ShADT");
}

TEST(History, LogarithmicLettersRepeatAtTenAndHundred) {
    Session s = established();
    for (int k = 0; k < 9; ++k) s.server("[.] seq 5001 ack 1001 win 0", 0.1 + 0.01 * k);
    EXPECT_STREQ(s.record().history, "ShAaw");
    s.server("[.] seq 5001 ack 1001 win 0", 0.5);  // the 10th
    EXPECT_STREQ(s.record().history, "ShAaww");
    for (int k = 0; k < 89; ++k) s.server("[.] seq 5001 ack 1001 win 0", 1.0 + 0.01 * k);
    EXPECT_STREQ(s.record().history, "ShAaww");
    s.server("[.] seq 5001 ack 1001 win 0", 3.0);  // the 100th
    EXPECT_STREQ(s.record().history, "ShAawww");
}

TEST(History, FinRepeatsOnlyWithANewSequenceNumber) {
    Session s = established();
    s.client("[F.] seq 1001 ack 5001 win 64240", 0.1);
    s.client("[F.] seq 1001 ack 5001 win 64240", 0.3);  // retransmitted: no new letter
    EXPECT_STREQ(s.record().history, "ShAF");
    s.client("[F.] seq 1001:1011 ack 5001 win 64240", 0.5);  // FIN after new data: new position
    EXPECT_STREQ(s.record().history, "ShAFF");
}

TEST(History, FinWithRstIsInconsistentAndSynWithFinIsMultiFlag) {
    Session s(ep("10.0.0.1", 50000), ep("10.0.0.2", 8081));
    s.client("[SF] seq 1000 win 1024", 0.0);
    s.server("[FR.] seq 9 ack 1002 win 0", 0.1);
    EXPECT_STREQ(s.record().history, "Qi");
}

TEST(History, AckedButUnseenDataIsAGap) {
    // tcp-miss-end-data: the server's payload never reached the tap.
    Session s(ep("192.168.122.230", 60648), ep("77.238.160.184", 80));
    s.client("[S] seq 3810936567 win 8192 mss 1460 wscale 2 sackOK", 0.0);
    s.server("[S.] seq 1268090424 ack 3810936568 win 5840 mss 1460 sackOK wscale 9", 0.0055);
    s.client("[.] ack 1268090425 win 16425", 0.0057);
    s.client("[P.] seq 3810936568:3810937106 ack 1268090425 win 16425", 0.0072);
    s.server("[.] ack 3810937106 win 14", 0.0123);
    s.server("[F.] seq 1268093327 ack 3810937106 win 14", 10.0479);
    s.client("[.] ack 1268093328 win 16425", 10.0481);
    s.client("[F.] seq 3810937106 ack 1268093328 win 16425", 10.0484);
    s.server("[.] ack 3810937107 win 14", 10.0533);
    ConnRecord r = s.record(EndReason::Closed);
    EXPECT_STREQ(r.history, "ShADafgF");
    EXPECT_EQ(r.conn_state, ZeekState::SF);
    EXPECT_EQ(r.orig_bytes, 538u);
    EXPECT_EQ(r.resp_bytes, 2902u);
    EXPECT_EQ(r.missed_bytes, 2902u);
}

TEST(History, HoleFilledByALateSegmentIsNotAGap) {
    // The second segment overtakes the first; once the first arrives the payload is
    // contiguous, and the ACK of both reveals nothing unseen.
    Session s = established();
    s.client("[P.] seq 1101:1201 ack 5001 win 64240", 0.1);
    s.client("[P.] seq 1001:1101 ack 5001 win 64240", 0.11);
    s.server("[.] ack 1201 win 65160", 0.2);
    ConnRecord r = s.record();
    EXPECT_EQ(r.missed_bytes, 0u);
    EXPECT_STREQ(r.history, "ShADTa");  // Zeek's 'T': the late segment ends before last_seq
    // A hole that stays open is one: of 1201:1501 only 1301:1401 was seen.
    s.client("[P.] seq 1301:1401 ack 5001 win 64240", 0.3);
    s.server("[.] ack 1501 win 65160", 0.4);
    EXPECT_EQ(s.record().missed_bytes, 200u);
    // A run the ack does not reach stays seen: 1601:1701 arrives, 1501:1601 never does.
    s.client("[P.] seq 1601:1701 ack 5001 win 64240", 0.5);
    s.server("[.] ack 1651 win 65160", 0.6);
    EXPECT_EQ(s.record().missed_bytes, 300u);
    s.server("[.] ack 1701 win 65160", 0.7);
    EXPECT_EQ(s.record().missed_bytes, 300u);
}

TEST(Timers, DurationStopsWhenBothSidesHaveClosed) {
    // Zeek's last_time is not advanced by packets after the second FIN: the
    // final ACK (and any retransmission after it) does not lengthen the record.
    Session s = established();
    s.client("[F.] seq 1001 ack 5001 win 64240", 1.0);
    s.server("[F.] seq 5001 ack 1002 win 65160", 2.0);
    s.client("[.] seq 1002 ack 5002 win 64240", 3.0);
    s.server("[F.] seq 5001 ack 1002 win 65160", 4.0);
    ConnRecord r = s.record(EndReason::Closed);
    EXPECT_EQ(r.duration_us, 2000000u);
    EXPECT_EQ(r.orig_pkts, 4u);
    EXPECT_EQ(r.resp_pkts, 3u);
}

TEST(Timers, UnansweredSynEndsAfterTheAttemptDelay) {
    // ssh-client-side-half-duplex: only the client's side was captured.
    Session s(ep("192.168.1.79", 51880), ep("131.159.21.1", 22));
    s.client("[S] seq 2755953355 win 65535", 0.0);
    s.client("[.] ack 912166851 win 4096", 0.15);
    s.client("[P.] seq 2755953356:2755953377 ack 912166851 win 4096", 0.30);
    EXPECT_EQ(deadline(s.conn, s.cfg), testing::at_us(5.0));
    EXPECT_EQ(s.client("[P.] seq 2755953377:2755953457 ack 912166900 win 4096", 5.13), Action::Reuse);
    ASSERT_EQ(s.ended().size(), 1u);
    EXPECT_EQ(s.ended()[0].conn_state, ZeekState::S0);
    EXPECT_STREQ(s.ended()[0].history, "SAD");
    EXPECT_EQ(s.ended()[0].end, EndReason::Timeout);
    s.client("[F.] seq 2755953457 ack 912166900 win 4096", 6.0);
    ConnRecord r = s.record();
    EXPECT_STREQ(r.history, "DF");
    EXPECT_EQ(r.conn_state, ZeekState::SH);
}

TEST(Timers, CloseDelayIsNotExtendedByLaterPackets) {
    // Teredo.pcap, port 1577: the server's FIN closes the half-seen connection.
    Session s(ep("192.168.2.16", 1577), ep("75.126.203.78", 80));
    s.server("[F.] seq 4041691595 ack 1974006671 win 8576", 50.867067);
    s.client("[.] ack 4041691596 win 17424", 50.867454);
    EXPECT_EQ(deadline(s.conn, s.cfg), testing::at_us(50.867067 + 5.0));
    EXPECT_EQ(s.client("[F.] seq 1974006671 ack 4041691596 win 17424", 57.833364), Action::Reuse);
    ASSERT_EQ(s.ended().size(), 1u);
    EXPECT_STREQ(s.ended()[0].history, "^fA");
    EXPECT_EQ(s.ended()[0].conn_state, ZeekState::SHR);
    EXPECT_EQ(s.ended()[0].end, EndReason::Closed);
    s.server("[.] ack 1974006672 win 8576", 57.912572);
    ConnRecord r = s.record();
    EXPECT_STREQ(r.history, "Fa");
    EXPECT_EQ(r.conn_state, ZeekState::SH);
}

TEST(Timers, InactivityTimeoutSplitsTheConnection) {
    // tcp-retransmit-timeout: the same request again exactly 5 minutes later.
    Session s(ep("10.0.0.1", 51889), ep("192.168.0.1", 80));
    s.client("[.] seq 1001:1019 ack 2001 win 8192", 0.0);
    s.server("[.] ack 1019 win 8192", 0.00001);
    s.client("[.] seq 1001:1019 ack 2001 win 8192", 300.00001);
    ASSERT_EQ(s.ended().size(), 1u);
    EXPECT_STREQ(s.ended()[0].history, "Da");
    EXPECT_EQ(s.ended()[0].conn_state, ZeekState::OTH);
    EXPECT_EQ(s.ended()[0].orig_bytes, 18u);
    ConnRecord r = s.record();
    EXPECT_STREQ(r.history, "D");
    EXPECT_FALSE(r.bytes_known);
}

TEST(Timers, DeadlineFollowsTheState) {
    Session s = established();
    EXPECT_EQ(deadline(s.conn, s.cfg), testing::at_us(0.02) + s.cfg.established_timeout_us);
    s.client("[F.] seq 1001 ack 5001 win 64240", 1.0);
    EXPECT_EQ(deadline(s.conn, s.cfg), testing::at_us(1.0) + s.cfg.closing_timeout_us);
    s.server("[F.] seq 5001 ack 1002 win 65160", 2.0);
    EXPECT_EQ(deadline(s.conn, s.cfg), testing::at_us(2.0) + s.cfg.close_delay_us);
    Session r = established();
    r.server("[R.] seq 5001 ack 1001 win 0", 1.0);
    EXPECT_EQ(deadline(r.conn, r.cfg), testing::at_us(1.0) + r.cfg.reset_delay_us);
    EXPECT_EQ(expiry_reason(r.conn), EndReason::Closed);
}

TEST(Timers, ExpiredIsExactlyThePassingOfTheDeadline) {
    // expired() answers most packets from a bound without deadline(): on random
    // states, timers and timeouts (zero, equal, huge), at random times around the
    // deadline, it must say what now >= deadline() says.
    std::mt19937_64 rng(9293);
    auto pick = [&](uint64_t n) { return rng() % n; };
    const uint64_t choices[] = {0, 1, 3'000'000, 5'000'000, 300'000'000, uint64_t{1} << 40, UINT64_MAX / 4};
    uint64_t yes = 0, no = 0;
    for (int i = 0; i < 200000; ++i) {
        TrackerConfig cfg;
        for (uint64_t* t : {&cfg.syn_timeout_us, &cfg.half_open_timeout_us, &cfg.established_timeout_us,
                            &cfg.closing_timeout_us, &cfg.close_delay_us, &cfg.reset_delay_us,
                            &cfg.partial_close_delay_us})
            if (pick(2)) *t = choices[pick(std::size(choices))];
        Conn c{};
        c.last_ts_us = 1'600'000'000'000'000ull + pick(1'000'000'000);
        c.timer_at_us = c.last_ts_us - pick(3) * pick(400'000'000);
        c.timer = static_cast<TimerKind>(pick(5));
        for (int r = 0; r < 2; ++r) {
            c.zeek[r] = static_cast<ZeekEp>(pick(7));
            c.zeek_prev[r] = static_cast<ZeekEp>(pick(7));
        }
        c.flags = static_cast<uint16_t>(rng());
        const uint64_t d = deadline(c, cfg);
        for (uint64_t now : {d - 1, d, d + 1, c.last_ts_us, c.last_ts_us + pick(600'000'000), d - pick(10'000'000)}) {
            const bool e = expired(c, now, cfg);
            ASSERT_EQ(e, now >= d) << "timer " << int(c.timer) << " now " << now << " deadline " << d;
            (e ? yes : no) += 1;
        }
    }
    EXPECT_GT(yes, 100000u);
    EXPECT_GT(no, 100000u);
}

TEST(Reuse, NewSynAfterCloseStartsANewConnection) {
    Session s = established();
    s.client("[F.] seq 1001 ack 5001 win 64240", 0.1);
    s.server("[F.] seq 5001 ack 1002 win 65160", 0.2);
    s.client("[.] seq 1002 ack 5002 win 64240", 0.3);
    EXPECT_EQ(s.client("[S] seq 777777 win 64240", 1.0), Action::Reuse);
    ASSERT_EQ(s.ended().size(), 1u);
    EXPECT_EQ(s.ended()[0].end, EndReason::Reused);
    EXPECT_EQ(s.ended()[0].conn_state, ZeekState::SF);
    EXPECT_STREQ(s.record().history, "S");
}

TEST(Reuse, SynWithANewIsnWhileWaitingIsANewAttempt) {
    Session s(ep("10.0.0.1", 50000), ep("10.0.0.2", 8081));
    s.client("[S] seq 1000 win 64240", 0.0);
    EXPECT_EQ(s.client("[S] seq 1000 win 64240", 1.0), Action::Continue);
    EXPECT_EQ(s.client("[S] seq 424242 win 64240", 2.0), Action::Reuse);
    EXPECT_EQ(s.ended()[0].conn_state, ZeekState::S0);
}

}  // namespace
}  // namespace ws::track
