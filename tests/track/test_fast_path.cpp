// The tracker's fast path for in-order segments of established connections
// against its general path, byte for byte: random connections (ISNs near the
// wrap, window scaling on and off, mid-stream pick-ups, lost handshake ACKs)
// carrying random segments from both sides: in-order data, pure ACKs,
// retransmissions, holes, acks of unseen data, zero windows, keep-alives,
// out-of-window segments, bad checksums, and the occasional FIN or RST. And the
// fast path for a connection's first packet, a clean SYN, against init_general().
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "flow/flow_key.hpp"
#include "track/conn.hpp"
#include "track/tracker.hpp"

namespace ws::track {
namespace {

namespace fl = parse::flag;

struct Side {
    parse::Addr addr{};
    uint16_t port = 0;
    uint32_t next = 0;   // next sequence number to send
    uint32_t acked = 0;  // what this side has received of the peer: its ack number
};

parse::PacketView segment(const Side& from, const Side& to, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len,
                          uint16_t win) {
    parse::PacketView v{};
    v.kind = parse::Kind::Tcp;
    v.ip_version = 4;
    v.src = from.addr;
    v.dst = to.addr;
    v.sport = from.port;
    v.dport = to.port;
    v.flags = flags;
    v.seq = seq;
    v.ack = ack;
    v.window = win;
    v.payload_len = len;
    v.tcp_hdr_len = 20;
    v.ip_len = 40 + len;
    return v;
}

class FastPath : public ::testing::Test {
protected:
    std::mt19937 rng{20261122};
    Conn c{};
    ConnCold cold{};
    uint64_t ts = 1'600'000'000ull * 1'000'000ull;
    uint64_t fast = 0, general = 0;
    uint64_t fast_letters = 0;  // fast segments that wrote a side's first 'D' or 'A'

    uint32_t pick(uint32_t n) { return static_cast<uint32_t>(rng() % n); }

    // One packet: through the fast path on a copy of the state and, where it
    // applied, through the general path on another; the results must be identical.
    // Where it did not apply, it must have changed nothing.
    void send(const parse::PacketView& v, bool sender_lo) {
        ts += 1 + pick(2000);
        Conn c1, c2;
        ConnCold k1, k2;
        std::memcpy(&c1, &c, sizeof c);
        std::memcpy(&k1, &cold, sizeof cold);
        std::memcpy(&c2, &c, sizeof c);
        std::memcpy(&k2, &cold, sizeof cold);
        if (update_fast(c1, k1, v, sender_lo, ts)) {
            ++fast;
            if (c1.hist_seen != c.hist_seen) ++fast_letters;
            ASSERT_EQ(update_general(c2, k2, v, sender_lo, ts), Action::Continue);
            ASSERT_EQ(std::memcmp(&c1, &c2, sizeof c1), 0) << "hot record differs";
            ASSERT_EQ(std::memcmp(&k1, &k2, sizeof k1), 0) << "cold record differs";
        } else {
            ++general;
            ASSERT_EQ(std::memcmp(&c1, &c, sizeof c1), 0) << "a refused fast path wrote the hot record";
            ASSERT_EQ(std::memcmp(&k1, &cold, sizeof k1), 0) << "a refused fast path wrote the cold record";
            if (update_general(c2, k2, v, sender_lo, ts) == Action::Reuse) return;
        }
        std::memcpy(&c, &c2, sizeof c);
        std::memcpy(&cold, &k2, sizeof cold);
    }

    void connection() {
        Side a, b;
        a.addr[10] = a.addr[11] = b.addr[10] = b.addr[11] = 0xff;
        a.addr[12] = 10, a.addr[15] = static_cast<uint8_t>(1 + pick(200));
        b.addr[12] = 192, b.addr[15] = 1;
        a.port = static_cast<uint16_t>(1024 + pick(60000));
        b.port = 443;
        // ISNs anywhere, often a few kilobytes before the 2^32 wrap.
        a.next = pick(3) ? static_cast<uint32_t>(rng()) : 0xFFFFFFFFu - pick(20000);
        b.next = pick(3) ? static_cast<uint32_t>(rng()) : 0xFFFFFFFFu - pick(20000);
        flow::FlowKey key;
        const bool a_lo = flow::make_key(segment(a, b, fl::Ack, 0, 0, 0, 1), key);
        const bool scale = pick(2);
        const auto win = [&] { return static_cast<uint16_t>(pick(100) == 0 ? 0 : 200 + pick(65000)); };
        auto opts = [&](parse::PacketView& v) {
            if (scale) {
                v.opt.has_wscale = true;
                v.opt.wscale = static_cast<uint8_t>(pick(9));
            }
            v.opt.has_mss = true;
            v.opt.mss = 1460;
        };
        if (pick(10) == 0) {  // picked up mid-stream: no handshake
            auto v = segment(a, b, fl::Ack | fl::Psh, a.next, b.next, 100, win());
            a.next += 100;
            init(c, cold, v, a_lo, ts);
        } else {
            auto syn = segment(a, b, fl::Syn, a.next, 0, 0, win());
            opts(syn);
            init(c, cold, syn, a_lo, ts);
            ++a.next;
            auto synack = segment(b, a, fl::Syn | fl::Ack, b.next, a.next, 0, win());
            opts(synack);
            send(synack, !a_lo);
            ++b.next;
            if (pick(8) != 0) send(segment(a, b, fl::Ack, a.next, b.next, 0, win()), a_lo);  // else: lost ACK
        }
        a.acked = b.next;
        b.acked = a.next;
        for (uint32_t n = 0, count = 20 + pick(200); n < count && !HasFatalFailure(); ++n) {
            const bool from_a = pick(2);
            Side& s = from_a ? a : b;
            Side& d = from_a ? b : a;
            const bool lo = from_a == a_lo;
            uint32_t seq = s.next, len = pick(3) ? pick(1461) : 0, ack = d.next;
            uint8_t flags = fl::Ack | (len ? fl::Psh : 0);
            switch (pick(64)) {
                case 0: seq -= 1 + pick(3000); break;                      // retransmission
                case 1: seq += 1 + pick(3000); break;                      // a hole before it
                case 2: ack += 1 + pick(3000); break;                      // acks data the tap missed
                case 3: ack -= pick(5000); break;                          // an old ack
                case 4: seq = s.next - 1, len = pick(2); break;            // keep-alive
                case 5: seq += 0x40000000u; break;                         // far outside the window
                case 6: if (pick(3) == 0) flags = fl::Ack | fl::Fin; break;  // a close
                case 7: if (pick(6) == 0) flags = fl::Rst | fl::Ack; break;
                case 8: if (pick(3) == 0) flags = fl::Psh; break;          // no ACK flag
                default: break;                                            // in order
            }
            auto v = segment(s, d, flags, seq, ack, len, win());
            if (pick(200) == 0) v.checksum_checked = true;  // and checksum_ok false: a bad checksum
            send(v, lo);
            if (SeqNum(seq + len) > SeqNum(s.next) && (seq - s.next) < 0x10000u) s.next = seq + len;
            if (flags & fl::Fin) ++s.next;
        }
    }
};

TEST_F(FastPath, AppliesExactlyWhatTheGeneralPathWould) {
    for (int i = 0; i < 3000 && !HasFatalFailure(); ++i) connection();
    // The comparison means something only if both paths were taken often.
    EXPECT_GT(fast, general / 4) << fast << " fast, " << general << " general";
    EXPECT_GT(general, fast / 20) << fast << " fast, " << general << " general";
    EXPECT_GT(fast_letters, 1000u);  // first letters written on the fast path were compared too
}

// A clean transfer: every segment is fast but two, which the general path must
// see: the server's segment whose end wraps past 2^32 (Zeek counts sequence wraps)
// and the client's first ack beyond that wrap (and ack wraps). Each side's first
// data segment (history letters 'D' and 'd') is fast.
TEST_F(FastPath, InOrderTransferTakesTheFastPath) {
    Side a, b;
    a.addr[10] = a.addr[11] = b.addr[10] = b.addr[11] = 0xff;
    a.addr[12] = 10, b.addr[12] = 192;
    a.port = 40000, b.port = 80;
    a.next = 1000, b.next = 0xFFFFF000u;  // the server's numbers wrap during the transfer
    flow::FlowKey key;
    const bool a_lo = flow::make_key(segment(a, b, fl::Ack, 0, 0, 0, 1), key);
    auto syn = segment(a, b, fl::Syn, a.next++, 0, 0, 65535);
    init(c, cold, syn, a_lo, ts);
    send(segment(b, a, fl::Syn | fl::Ack, b.next++, a.next, 0, 65535), !a_lo);
    send(segment(a, b, fl::Ack, a.next, b.next, 0, 65535), a_lo);
    fast = general = 0;
    for (int n = 0; n < 100 && !HasFatalFailure(); ++n) {
        send(segment(a, b, fl::Ack | fl::Psh, a.next, b.next, 100, 65535), a_lo);  // request
        a.next += 100;
        send(segment(b, a, fl::Ack | fl::Psh, b.next, a.next, 1000, 65535), !a_lo);  // response
        b.next += 1000;
        send(segment(a, b, fl::Ack, a.next, b.next, 0, 65535), a_lo);  // ack
    }
    EXPECT_EQ(general, 2u);
    EXPECT_EQ(fast, 298u);
}

// init()'s fast path for a connection's first packet, a clean SYN, against the
// general path on random first packets: SYNs with and without options, zero
// windows, ISNs at the wrap, either side of the key, and the packets it must
// leave to the general path (SYN-ACKs, SYNs with payload, FIN or RST, bad
// checksums, no SYN at all), from ports that are and are not likely servers.
TEST(FirstSyn, StartsTheConnectionAsTheGeneralPathDoes) {
    std::mt19937 rng{20261122};
    auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
    const uint16_t ports[] = {80, 443, 22, 1024, 8080, 40000, 65535};
    uint64_t clean = 0, other = 0, surely_embryonic = 0;
    for (int i = 0; i < 200000 && !::testing::Test::HasFatalFailure(); ++i) {
        parse::PacketView v{};
        v.kind = parse::Kind::Tcp;
        v.ip_version = 4;
        v.src[10] = v.src[11] = v.dst[10] = v.dst[11] = 0xff;
        v.src[15] = static_cast<uint8_t>(pick(256));
        v.dst[15] = static_cast<uint8_t>(pick(256));
        v.sport = pick(3) ? static_cast<uint16_t>(rng()) : ports[pick(7)];
        v.dport = pick(3) ? ports[pick(7)] : static_cast<uint16_t>(rng());
        v.flags = fl::Syn;
        if (pick(4) == 0) v.flags = static_cast<uint8_t>(rng());  // anything, SYN or not
        if (pick(4) == 0) v.flags |= fl::Psh | fl::Ece | fl::Cwr;    // flags that change nothing
        v.seq = pick(8) ? static_cast<uint32_t>(rng()) : 0xFFFFFFFFu - pick(2);
        v.ack = pick(2) ? static_cast<uint32_t>(rng()) : 0;
        v.window = pick(10) ? static_cast<uint16_t>(rng()) : 0;
        v.payload_len = pick(10) ? 0 : 1 + pick(1460);
        v.tcp_hdr_len = 20;
        v.ip_len = 40 + v.payload_len;
        v.checksum_checked = pick(4) == 0;
        v.checksum_ok = !v.checksum_checked || pick(2);
        v.opt.has_mss = pick(2);
        v.opt.mss = static_cast<uint16_t>(rng());
        v.opt.has_wscale = pick(2);
        v.opt.wscale = static_cast<uint8_t>(pick(20));  // above 14 is clamped
        v.opt.sack_permitted = pick(2);
        v.opt.has_ts = pick(2);
        const bool sender_lo = pick(2);
        const uint64_t ts = 1'600'000'000'000'000ull + rng();
        Conn c1, c2;
        ConnCold k1, k2;
        for (void* p : {static_cast<void*>(&c1), static_cast<void*>(&c2)}) std::memset(p, 0xAB, sizeof(Conn));
        for (void* p : {static_cast<void*>(&k1), static_cast<void*>(&k2)}) std::memset(p, 0xAB, sizeof(ConnCold));
        init(c1, k1, v, sender_lo, ts);
        init_general(c2, k2, v, sender_lo, ts);
        ASSERT_EQ(std::memcmp(&c1, &c2, sizeof c1), 0) << "hot record differs, flags " << int{v.flags};
        ASSERT_EQ(std::memcmp(&k1, &k2, sizeof k1), 0) << "cold record differs, flags " << int{v.flags};
        const bool is_clean = (v.flags & (fl::Syn | fl::Ack | fl::Fin | fl::Rst)) == fl::Syn && v.payload_len == 0 &&
                              v.checksum_ok;
        ++(is_clean ? clean : other);
        // The shard trusts opens_embryonic() at the embryonic cap, before init().
        if (opens_embryonic(v)) ASSERT_TRUE(is_embryonic(c2)) << "flags " << int{v.flags};
        surely_embryonic += opens_embryonic(v);
    }
    EXPECT_EQ(surely_embryonic, clean);
    // Both kinds were compared, often.
    EXPECT_GT(clean, 50000u);
    EXPECT_GT(other, 50000u);
}

}  // namespace
}  // namespace ws::track
