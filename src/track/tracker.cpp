// The TCP lifecycle tracker. Each packet goes through two independent models:
//
//  1. Zeek's endpoint model (zeek_*): the states, sequence bookkeeping, history
//     letters and timers that Zeek's TCP analyzer keeps, reproduced rule for rule
//     (packet_analysis/protocol/tcp/TCPSessionAdapter.cc, TCP_Endpoint.cc), because
//     conn.log's conn_state, history and byte counts are functions of exactly
//     those, including Zeek's quirks. Zeek does not validate packets, so neither
//     does this model.
//  2. The RFC 9293 model (rfc_*): what each host's own stack would be in, inferred
//     from the tap. Packets outside the window (van Rooij / nf_conntrack checks)
//     are counted as invalid and do not move it.
#include "track/tracker.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <iterator>
#include <utility>

namespace ws::track {
namespace {

using parse::PacketView;
namespace fl = parse::flag;

// Zeek's once-only history bits (Connection::CheckHistory masks) of one endpoint;
// the responder's are shifted left by 8 in Conn::hist_seen.
namespace hist {
inline constexpr uint16_t Syn = 1u << 0, Fin = 1u << 1, Rst = 1u << 2, FinRst = 1u << 3,
                          Data = 1u << 4, Ack = 1u << 5, Multi = 1u << 6;
}

// Zeek ignores SYN/RST sequence numbers that jump further than this.
constexpr int32_t kTooLargeSeqDelta = 1048576;
// nf_conntrack's MAXACKWINDOW when the sender never advertised a window.
constexpr uint32_t kMaxAckWindowDefault = 66000;

constexpr int ix(Role r) noexcept { return idx(r); }
constexpr uint16_t did_close_bit(Role r) noexcept { return r == Role::Orig ? cflag::DidClose0 : cflag::DidClose1; }
constexpr uint16_t fin_bit(Role r) noexcept { return r == Role::Orig ? cflag::Fin0 : cflag::Fin1; }
constexpr uint16_t syn_bit(Role r) noexcept { return r == Role::Orig ? cflag::Syn0 : cflag::Syn1; }

int32_t seq_delta(uint32_t a, uint32_t b) noexcept { return SeqNum(a) - SeqNum(b); }

// The facts about one packet that every rule below reads.
struct Seg {
    bool syn, fin, rst, ack;
    uint32_t seq, ack_no, len;
    uint32_t seg_len;   // sequence space consumed: payload + SYN + FIN (RST: no payload)
    uint32_t one_past;  // seq + seg_len
};

Seg make_seg(const PacketView& v) noexcept {
    Seg s{};
    s.syn = v.has(fl::Syn);
    s.fin = v.has(fl::Fin);
    s.rst = v.has(fl::Rst);
    s.ack = v.has(fl::Ack);
    s.seq = v.seq;
    s.ack_no = v.ack;
    s.len = v.payload_len;
    // A RST's payload is not part of the stream (Zeek get_segment_len).
    s.seg_len = (s.rst ? 0 : s.len) + (s.syn ? 1u : 0u) + (s.fin ? 1u : 0u);
    s.one_past = s.seq + s.seg_len;
    return s;
}

// ---- small state helpers ---------------------------------------------------

void set_flag(Conn& c, uint16_t bit, bool on) noexcept {
    c.flags = static_cast<uint16_t>(on ? (c.flags | bit) : (c.flags & ~bit));
}
bool did_close(const Conn& c, Role r) noexcept { return c.has(did_close_bit(r)); }
bool both_closed(const Conn& c) noexcept { return c.has(cflag::DidClose0) && c.has(cflag::DidClose1); }
constexpr uint16_t ooo_bit(Role r) noexcept { return r == Role::Orig ? cflag::Ooo0 : cflag::Ooo1; }

// Zeek's last_time (see ConnCold::zeek_last_ts_us).
uint64_t zeek_last_ts(const Conn& c, const ConnCold& cold) noexcept {
    return both_closed(c) ? cold.zeek_last_ts_us : c.last_ts_us;
}

// Handshake times are kept as offsets from the first packet (ConnCold::syn_at).
uint32_t offset_of(const ConnCold& cold, uint64_t ts) noexcept {
    return ts >= cold.first_ts_us && ts - cold.first_ts_us < UINT32_MAX ? static_cast<uint32_t>(ts - cold.first_ts_us + 1)
                                                                        : 0;
}
uint64_t time_of(const ConnCold& cold, uint32_t at) noexcept { return cold.first_ts_us + at - 1; }

// Zeek's TCP_Endpoint::SetState: prev_state changes only on a real transition.
void set_zeek(Conn& c, Role r, ZeekEp s) noexcept {
    int i = ix(r);
    if (c.zeek[i] != s) {
        c.zeek_prev[i] = c.zeek[i];
        c.zeek[i] = s;
    }
}

char cased(Role r, char upper) noexcept {
    return r == Role::Orig ? upper : static_cast<char>(upper - 'A' + 'a');
}

void add_history(ConnCold& cold, char ch) noexcept {
    if (cold.history_len < kHistoryCap) {
        cold.history[cold.history_len++] = ch;
        cold.history[cold.history_len] = '\0';
    }
}

// Zeek CheckHistory: records the letter the first time; true if seen before.
bool check_history(Conn& c, ConnCold& cold, Role r, uint16_t bit, char upper) noexcept {
    uint16_t mask = r == Role::Orig ? bit : static_cast<uint16_t>(bit << 8);
    if ((c.hist_seen & mask) != 0) return true;
    c.hist_seen = static_cast<uint16_t>(c.hist_seen | mask);
    add_history(cold, cased(r, upper));
    return false;
}

// Zeek ScaledHistoryEntry: the letter at the 1st, 10th, 100th, ... event.
void scaled_history(ConnCold& cold, Role r, LogLetter l, char upper) noexcept {
    uint32_t& n = cold.log_count[ix(r)][static_cast<int>(l)];
    ++n;
    uint32_t t = 1;
    while (t < n && t <= 100000000u) t *= 10;
    if (t == n) add_history(cold, cased(r, upper));
}

// Swaps every role-indexed field: the originator becomes the responder.
void swap_roles(Conn& c, ConnCold& cold) noexcept {
    std::swap(c.start_seq[0], c.start_seq[1]);
    std::swap(c.last_seq[0], c.last_seq[1]);
    std::swap(c.ack_seq[0], c.ack_seq[1]);
    std::swap(c.pkts[0], c.pkts[1]);
    std::swap(c.zeek[0], c.zeek[1]);
    std::swap(c.zeek_prev[0], c.zeek_prev[1]);
    std::swap(c.rfc[0], c.rfc[1]);
    auto swap_bits = [&c](uint16_t a, uint16_t b) {
        bool ha = c.has(a), hb = c.has(b);
        set_flag(c, a, hb);
        set_flag(c, b, ha);
    };
    swap_bits(cflag::DidClose0, cflag::DidClose1);
    swap_bits(cflag::Fin0, cflag::Fin1);
    swap_bits(cflag::Syn0, cflag::Syn1);
    swap_bits(cflag::Ooo0, cflag::Ooo1);
    std::swap(c.wscale[0], c.wscale[1]);
    set_flag(c, cflag::OrigIsLo, !c.has(cflag::OrigIsLo));
    c.hist_seen = static_cast<uint16_t>((c.hist_seen >> 8) | (c.hist_seen << 8));

    std::swap(cold.ip_bytes[0], cold.ip_bytes[1]);
    std::swap(cold.payload[0], cold.payload[1]);
    std::swap(cold.seq_wraps[0], cold.seq_wraps[1]);
    std::swap(cold.ack_wraps[0], cold.ack_wraps[1]);
    std::swap(cold.win_end[0], cold.win_end[1]);
    std::swap(cold.win_maxend[0], cold.win_maxend[1]);
    std::swap(cold.win_max[0], cold.win_max[1]);
    std::swap(cold.data_end[0], cold.data_end[1]);
    std::swap(cold.ooo_start[0], cold.ooo_start[1]);
    std::swap(cold.ooo_end[0], cold.ooo_end[1]);
    std::swap(cold.fin_seq[0], cold.fin_seq[1]);
    std::swap(cold.isn[0], cold.isn[1]);
    std::swap(cold.mss[0], cold.mss[1]);
    std::swap(cold.sack_ok[0], cold.sack_ok[1]);
    std::swap(cold.ts_ok[0], cold.ts_ok[1]);
    std::swap(cold.hist_last_syn[0], cold.hist_last_syn[1]);
    std::swap(cold.hist_last_fin[0], cold.hist_last_fin[1]);
    std::swap(cold.hist_last_rst[0], cold.hist_last_rst[1]);
    std::swap(cold.log_count[0], cold.log_count[1]);
    if (cold.closer == Closer::Orig) cold.closer = Closer::Resp;
    else if (cold.closer == Closer::Resp) cold.closer = Closer::Orig;
}

// Zeek issue/PR 2191: a connection that began with a SYN-ACK is flipped once an
// ACK or data follows. The history then reads as if the flip had happened at
// the start ("^h..." rather than "H^..."), as Zeek's baselines show.
void late_flip(Conn& c, ConnCold& cold) noexcept {
    swap_roles(c, cold);
    set_flag(c, cflag::Flipped, true);
    char buf[kHistoryCap + 1];
    uint8_t n = 0;
    buf[n++] = '^';
    for (uint8_t k = 0; k < cold.history_len && n < kHistoryCap; ++k) {
        char ch = cold.history[k];
        if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
        else if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
        buf[n++] = ch;
    }
    buf[n] = '\0';
    std::copy(buf, buf + n + 1, cold.history);
    cold.history_len = n;
    // The SYN-ACK's sender is now the responder, established as if its SYN-ACK
    // had answered a SYN we missed.
    set_zeek(c, Role::Resp, ZeekEp::Established);
}

// Arms one of Zeek's fixed removal timers. A close/reset timer, once armed,
// stays: it is the earliest removal Zeek would make.
void arm_timer(Conn& c, TimerKind k, uint64_t at) noexcept {
    bool have_close = c.timer == TimerKind::Close || c.timer == TimerKind::Reset;
    if (k == TimerKind::Close || k == TimerKind::Reset) {
        if (have_close) return;
    } else if (c.timer != TimerKind::None) {
        return;
    }
    c.timer = k;
    c.timer_at_us = at;
}

// ---- Zeek's model --------------------------------------------------------------

void zeek_update_last_seq(Conn& c, ConnCold& cold, Role r, uint32_t v) noexcept {
    int i = ix(r);
    if (v < c.last_seq[i]) ++cold.seq_wraps[i];
    c.last_seq[i] = v;
}

void zeek_init_seqs(Conn& c, Role r, uint32_t start, uint32_t last) noexcept {
    int i = ix(r);
    c.start_seq[i] = start;
    c.ack_seq[i] = start;
    c.last_seq[i] = last;
}

// Zeek init_endpoint: where an endpoint's sequence space starts.
void zeek_init_endpoint(Conn& c, Role r, const Seg& s) noexcept {
    int i = ix(r);
    switch (c.zeek[i]) {
        case ZeekEp::Inactive:
            if (s.syn) zeek_init_seqs(c, r, s.seq, s.one_past);
            else zeek_init_seqs(c, r, s.seq - 1, s.seq);  // as if a SYN preceded it
            break;
        case ZeekEp::SynSent:
        case ZeekEp::SynAckSent:
            if (s.syn && s.seq != c.start_seq[i]) zeek_init_seqs(c, r, s.seq, s.one_past);
            break;
        case ZeekEp::Established:
        case ZeekEp::Partial:
            if (s.syn) zeek_init_seqs(c, r, s.seq, s.one_past);
            break;
        case ZeekEp::Reset:
            if (s.syn && c.zeek_prev[i] == ZeekEp::Inactive) zeek_init_seqs(c, r, s.seq, s.one_past);
            break;
        case ZeekEp::Closed:
            break;
    }
}

void zeek_history(Conn& c, ConnCold& cold, Role r, const Seg& s, uint32_t rel_seq) noexcept {
    int i = ix(r);
    int bits = (s.syn ? 1 : 0) + (s.fin ? 1 : 0) + (s.rst ? 1 : 0);
    if (bits > 1) {
        if (s.fin && s.rst) check_history(c, cold, r, hist::FinRst, 'I');
        else check_history(c, cold, r, hist::Multi, 'Q');
    } else if (bits == 1) {
        if (s.syn) {
            char code = s.ack ? 'H' : 'S';
            if (check_history(c, cold, r, hist::Syn, code) && rel_seq != cold.hist_last_syn[i])
                add_history(cold, cased(r, code));
            cold.hist_last_syn[i] = rel_seq;
        }
        if (s.fin) {
            // A FIN's sequence number is taken after its payload.
            uint32_t at = rel_seq + s.len;
            if (check_history(c, cold, r, hist::Fin, 'F') && at != cold.hist_last_fin[i])
                add_history(cold, cased(r, 'F'));
            cold.hist_last_fin[i] = at;
        }
        if (s.rst) {
            if (check_history(c, cold, r, hist::Rst, 'R') && rel_seq != cold.hist_last_rst[i])
                add_history(cold, cased(r, 'R'));
            cold.hist_last_rst[i] = rel_seq;
        }
    } else if (s.len > 0) {
        check_history(c, cold, r, hist::Data, 'D');
    } else if (s.ack) {
        check_history(c, cold, r, hist::Ack, 'A');
    }
}

// Zeek's ACK bookkeeping for the peer's data (init_peer / update_ack_seq).
void zeek_ack(Conn& c, ConnCold& cold, Role peer, const Seg& s) noexcept {
    int p = ix(peer);
    if (c.zeek[p] == ZeekEp::Inactive) {
        zeek_init_seqs(c, peer, s.ack_no - 1, s.ack_no - 1);
        return;
    }
    int32_t d = seq_delta(s.ack_no, c.ack_seq[p]);
    // get_relative_seq's underflow test: an ack before the peer's start, unless
    // the sequence space has wrapped (the wrap count is read only then).
    if (seq_delta(s.ack_no, c.start_seq[p]) < 0) {
        uint32_t wraps = cold.ack_wraps[p];
        if (d < 0 && wraps != 0 && s.ack_no > c.ack_seq[p]) --wraps;
        else if (d > 0 && s.ack_no < c.ack_seq[p]) ++wraps;
        if (wraps == 0) return;  // Zeek does not trust it
    }
    if (s.rst) return;
    if (s.ack_no == 0 && d > kTooLargeSeqDelta) return;  // more likely a broken ack
    if (d > 0) {
        if (s.ack_no < c.ack_seq[p]) ++cold.ack_wraps[p];
        c.ack_seq[p] = s.ack_no;
    }
}

// Zeek update_last_seq; also where Zeek notices retransmissions ('T').
void zeek_last_seq(Conn& c, ConnCold& cold, Role r, const Seg& s) noexcept {
    int i = ix(r);
    int32_t d = seq_delta(s.one_past, c.last_seq[i]);
    if ((s.syn || s.rst) && (d > kTooLargeSeqDelta || d < -kTooLargeSeqDelta)) return;
    if (s.fin && c.last_seq[i] == c.start_seq[i] + 1) {
        zeek_update_last_seq(c, cold, r, s.one_past);
    } else if (c.zeek[i] == ZeekEp::Reset) {
        // sequence numbers after a RST are not trusted
    } else if (d > 0) {
        zeek_update_last_seq(c, cold, r, s.one_past);
    } else if (s.len > 0) {
        scaled_history(cold, r, LogLetter::Retransmit, 'T');
    }
}

// Zeek ConnectionClosed: decides when the connection is removed.
void zeek_closed(Conn& c, ConnCold& cold, Role r) noexcept {
    if (did_close(c, r)) return;
    set_flag(c, did_close_bit(r), true);
    if (both_closed(c)) cold.zeek_last_ts_us = c.last_ts_us;  // Zeek's last_time stops here
    int i = ix(r), p = ix(peer_of(r));
    bool complete = c.zeek[i] == ZeekEp::Reset || did_close(c, peer_of(r)) || c.zeek[p] == ZeekEp::Inactive;
    if (complete) {
        arm_timer(c, c.zeek[i] == ZeekEp::Reset ? TimerKind::Reset : TimerKind::Close, zeek_last_ts(c, cold));
    } else if (c.zeek_prev[i] == ZeekEp::Inactive) {
        arm_timer(c, TimerKind::PartialClose, zeek_last_ts(c, cold));
    }
}

// Zeek UpdateStateMachine. `r` may change: a SYN/SYN-ACK reversal flips roles.
// Returns whether the sender closed (Zeek's do_close).
bool zeek_state_machine(Conn& c, ConnCold& cold, Role& r, const Seg& s, uint64_t ts) noexcept {
    bool do_close = false;
    Role peer = peer_of(r);
    switch (c.zeek[ix(r)]) {
        case ZeekEp::Inactive: {
            if (s.syn) {
                if (r == Role::Orig) {
                    set_zeek(c, r, s.ack ? ZeekEp::SynAckSent : ZeekEp::SynSent);
                    arm_timer(c, TimerKind::Attempt, ts);
                } else {
                    if (!s.ack && c.zeek[ix(peer)] == ZeekEp::SynAckSent && s.seq == c.start_seq[ix(r)]) {
                        // The SYN arrived after its SYN-ACK (capture reordering): flip and
                        // establish. Zeek appends '^' after this packet's letter.
                        swap_roles(c, cold);
                        set_flag(c, cflag::Flipped, true);
                        add_history(cold, '^');
                        r = peer_of(r);
                        peer = peer_of(r);
                        set_zeek(c, peer, ZeekEp::Established);
                    }
                    if (c.zeek[ix(peer)] == ZeekEp::SynSent) set_zeek(c, peer, ZeekEp::Established);
                    set_zeek(c, r, ZeekEp::Established);
                }
            }
            if (s.fin) {
                set_zeek(c, r, ZeekEp::Closed);
                do_close = true;
            }
            if (s.rst) {
                set_zeek(c, r, ZeekEp::Reset);
                do_close = true;
            }
            if (c.zeek[ix(r)] == ZeekEp::Inactive) {
                if (r == Role::Resp && s.len == 0 && c.zeek[0] == ZeekEp::SynSent) {
                    // an ACK of the SYN before the SYN-ACK: not a partial connection
                } else if (s.ack && c.zeek[ix(peer)] == ZeekEp::Established) {
                    set_zeek(c, r, ZeekEp::Established);  // the SYN was missed
                } else {
                    set_zeek(c, r, ZeekEp::Partial);
                }
            }
            break;
        }
        case ZeekEp::SynSent:
        case ZeekEp::SynAckSent:
            if (s.fin) {
                set_zeek(c, r, ZeekEp::Closed);
                do_close = true;
            }
            if (s.rst) {
                set_zeek(c, r, ZeekEp::Reset);
                do_close = true;
            }
            break;
        case ZeekEp::Established:
        case ZeekEp::Partial:
            if (s.syn && c.zeek[ix(r)] == ZeekEp::Partial && c.zeek[ix(peer)] == ZeekEp::Inactive && !s.ack)
                set_zeek(c, r, ZeekEp::SynSent);
            if (s.fin && !s.rst) {
                set_zeek(c, r, ZeekEp::Closed);
                // A FIN after the peer's FIN+RST: that was a normal close after all.
                if (c.zeek[ix(peer)] == ZeekEp::Reset && c.zeek_prev[ix(peer)] == ZeekEp::Closed)
                    set_zeek(c, peer, ZeekEp::Closed);
                do_close = true;
            }
            if (s.rst) {
                set_zeek(c, r, ZeekEp::Reset);
                do_close = true;
            }
            break;
        case ZeekEp::Closed:
            // A RST after our FIN counts unless the peer has closed too.
            if (s.rst && c.zeek[ix(peer)] != ZeekEp::Closed) {
                set_zeek(c, r, ZeekEp::Reset);
                if (!did_close(c, r)) do_close = true;
                arm_timer(c, TimerKind::Reset, ts);
            }
            break;
        case ZeekEp::Reset:
            break;
    }
    return do_close;
}

// Zeek's content gaps need its reassembler; without one, approximate them: the
// peer acknowledged payload the tap never saw. Gaps revealed by FIN or RST
// packets are not reported (Zeek does not trust them either), nor gaps of
// partial connections (Zeek's report_gaps_for_partial default).
void zeek_gap(Conn& c, ConnCold& cold, Role acker, const Seg& s) noexcept {
    Role owner = peer_of(acker);
    int o = ix(owner);
    if (!s.ack || s.fin || s.rst || s.syn) return;
    if (c.zeek[0] == ZeekEp::Partial || c.zeek[1] == ZeekEp::Partial) return;
    if (c.zeek[o] == ZeekEp::Inactive) return;
    // Before any payload, the data would start right after the (real or assumed) SYN.
    if (cold.data_end[o] == 0 && cold.ooo_end[o] == 0) cold.data_end[o] = c.start_seq[o] + 1;
    // An ack of the peer's FIN covers one octet that is not data.
    uint32_t fin_octet =
        (c.has(fin_bit(owner)) && SeqNum(s.ack_no) == SeqNum(cold.fin_seq[o]) + 1) ? 1u : 0u;
    SeqNum acked = SeqNum(s.ack_no) - fin_octet;
    const SeqNum contiguous(cold.data_end[o]);
    if (acked > contiguous) {
        auto missed = static_cast<uint32_t>(acked - contiguous);
        SeqNum next = acked;
        if (c.has(ooo_bit(owner)) && SeqNum(cold.ooo_start[o]) > contiguous && SeqNum(cold.ooo_start[o]) < acked) {
            // Payload seen beyond the hole was not missed; what the ack does not reach of it is seen too.
            const SeqNum run_end = SeqNum(cold.ooo_end[o]) < acked ? SeqNum(cold.ooo_end[o]) : acked;
            missed -= static_cast<uint32_t>(run_end - SeqNum(cold.ooo_start[o]));
            if (SeqNum(cold.ooo_end[o]) > next) next = SeqNum(cold.ooo_end[o]);
            set_flag(c, ooo_bit(owner), false);
        }
        cold.missed_bytes += missed;
        scaled_history(cold, owner, LogLetter::Gap, 'G');
        cold.data_end[o] = next.v;
    }
}

// Tracks the contiguous payload seen per direction for zeek_gap(), and one run of
// payload seen beyond a hole (ooo_start..ooo_end; the OooN flag says it is open).
void track_data(Conn& c, ConnCold& cold, Role r, const Seg& s) noexcept {
    int i = ix(r);
    if (s.syn) {
        cold.data_end[i] = s.seq + 1;
        cold.ooo_end[i] = s.seq + 1;
        set_flag(c, ooo_bit(r), false);
        return;
    }
    if (s.rst) return;
    if (s.fin) cold.fin_seq[i] = s.seq + s.len;
    if (s.len == 0) return;
    // First data from a side whose start we only know from Zeek's guess.
    if (cold.data_end[i] == 0 && cold.ooo_end[i] == 0) cold.data_end[i] = c.start_seq[i] + 1;
    SeqNum end = SeqNum(s.seq) + s.len;
    if (SeqNum(s.seq) <= SeqNum(cold.data_end[i])) {
        if (end > SeqNum(cold.data_end[i])) cold.data_end[i] = end.v;
        // A late segment that reaches the run beyond the hole closes it.
        if (c.has(ooo_bit(r)) && SeqNum(cold.ooo_start[i]) <= SeqNum(cold.data_end[i])) {
            if (SeqNum(cold.ooo_end[i]) > SeqNum(cold.data_end[i])) cold.data_end[i] = cold.ooo_end[i];
            set_flag(c, ooo_bit(r), false);
        }
    } else if (!c.has(ooo_bit(r))) {
        cold.ooo_start[i] = s.seq;
        cold.ooo_end[i] = end.v;
        set_flag(c, ooo_bit(r), true);
    } else {
        // More beyond the hole: one run is kept, holes inside it are not told apart.
        if (SeqNum(s.seq) < SeqNum(cold.ooo_start[i])) cold.ooo_start[i] = s.seq;
        if (end > SeqNum(cold.ooo_end[i])) cold.ooo_end[i] = end.v;
    }
}

// ---- RFC 9293 model ---------------------------------------------------------------

void record_syn_options(Conn& c, ConnCold& cold, Role r, const PacketView& v) noexcept {
    int i = ix(r);
    cold.isn[i] = v.seq;
    cold.mss[i] = v.opt.has_mss ? v.opt.mss : 0;
    c.wscale[i] = v.opt.has_wscale ? static_cast<int8_t>(std::min<uint8_t>(v.opt.wscale, 14)) : int8_t{-1};
    cold.sack_ok[i] = v.opt.sack_permitted;
    cold.ts_ok[i] = v.opt.has_ts;
}

// Window scale in effect for a role's advertised windows: RFC 7323 applies it
// only if both SYNs offered it, and never to the SYNs themselves.
uint32_t scaled_window(const Conn& c, Role r, const Seg& s, uint16_t win) noexcept {
    if (s.syn) return win;
    if (!c.has(cflag::Syn0) || !c.has(cflag::Syn1)) return win;
    int8_t mine = c.wscale[ix(r)], theirs = c.wscale[ix(peer_of(r))];
    if (mine < 0 || theirs < 0) return win;
    return static_cast<uint32_t>(win) << mine;
}

// The van Rooij / nf_conntrack window check for a segment from `r`. Only done
// once both SYNs were seen: without them the window scale is unknown and the
// tracker is liberal (like conntrack's loose pickup).
bool rfc_in_window(const Conn& c, const ConnCold& cold, Role r, const Seg& s) noexcept {
    int i = ix(r), p = ix(peer_of(r));
    if (c.has(cflag::Midstream) || !c.has(cflag::Syn0) || !c.has(cflag::Syn1)) return true;
    if (s.syn) return true;  // SYNs are checked against the handshake instead
    // I: starts no later than the receiver allowed.
    if (SeqNum(s.seq) > SeqNum(cold.win_maxend[i])) return false;
    // II: ends no earlier than one receive window before what was already sent.
    if (SeqNum(s.one_past) < SeqNum(cold.win_end[i]) - cold.win_max[p]) return false;
    if (s.ack) {
        // III: acknowledges nothing the peer could not yet have sent.
        SeqNum could = SeqNum(cold.win_maxend[p]) > SeqNum(cold.win_end[p]) ? SeqNum(cold.win_maxend[p])
                                                                             : SeqNum(cold.win_end[p]);
        if (SeqNum(s.ack_no) > could) return false;
        // IV: and is not older than one of our windows.
        uint32_t maxack = cold.win_max[i] != 0 ? cold.win_max[i] : kMaxAckWindowDefault;
        if (SeqNum(s.ack_no) < SeqNum(cold.win_end[p]) - maxack) return false;
    }
    return true;
}

// Records the handshake (ISNs, options, retransmissions, RTT) and checks the
// SYN-ACK. Returns false for a SYN-ACK that does not acknowledge ISN+1.
bool rfc_handshake(Conn& c, ConnCold& cold, Role r, const Seg& s, const PacketView& v, uint64_t ts) noexcept {
    int i = ix(r);
    Role peer = peer_of(r);
    if (s.syn && !s.ack) {
        if (!c.has(syn_bit(r))) {
            record_syn_options(c, cold, r, v);
            set_flag(c, syn_bit(r), true);
            if (c.has(syn_bit(peer)) && c.rfc[ix(peer)] == TcpState::SynSent) set_flag(c, cflag::SimOpen, true);
        } else if (s.seq == cold.isn[i]) {
            ++cold.syn_retrans;
        }
        if (r == Role::Orig) cold.syn_at = offset_of(cold, ts);
        return true;
    }
    if (s.syn && s.ack) {
        if (c.has(syn_bit(peer)) && s.ack_no != cold.isn[ix(peer)] + 1) return false;
        if (!c.has(syn_bit(r))) {
            record_syn_options(c, cold, r, v);
            set_flag(c, syn_bit(r), true);
            if (cold.syn_at != 0 && ts >= time_of(cold, cold.syn_at))
                cold.rtt_syn_synack_us =
                    static_cast<uint32_t>(std::min<uint64_t>(ts - time_of(cold, cold.syn_at), UINT32_MAX));
        } else if (s.seq == cold.isn[i]) {
            ++cold.synack_retrans;
        }
        cold.synack_at = offset_of(cold, ts);
        return true;
    }
    // The ACK that completes the handshake: the second RTT half (flag first: once
    // measured, later ACKs need not read the cold record).
    if (s.ack && r == Role::Orig && !c.has(cflag::HandshakeTimed) && c.has(cflag::Syn1) && cold.synack_at != 0 &&
        s.ack_no == cold.isn[1] + 1 && ts >= time_of(cold, cold.synack_at)) {
        cold.rtt_synack_ack_us =
            static_cast<uint32_t>(std::min<uint64_t>(ts - time_of(cold, cold.synack_at), UINT32_MAX));
        set_flag(c, cflag::HandshakeTimed, cold.rtt_synack_ack_us != 0);
    }
    return true;
}

void rfc_track_window(const Conn& c, ConnCold& cold, Role r, const Seg& s, uint16_t win) noexcept {
    int i = ix(r), p = ix(peer_of(r));
    uint32_t w = scaled_window(c, r, s, win);
    if (s.syn || (cold.win_end[i] == 0 && cold.win_maxend[i] == 0 && cold.win_max[i] == 0)) {
        // First sight of this side: start its window bookkeeping.
        cold.win_end[i] = s.one_past;
        cold.win_maxend[i] = s.one_past;
        cold.win_max[i] = std::max<uint32_t>(w, 1);
        // A SYN-ACK's sender may send what the SYN's window allowed before the
        // handshake's last ACK is seen.
        if (s.syn && s.ack && cold.win_max[p] != 0) cold.win_maxend[i] = s.one_past + cold.win_max[p];
    }
    if (SeqNum(s.one_past) > SeqNum(cold.win_end[i])) cold.win_end[i] = s.one_past;
    if (SeqNum(cold.win_maxend[i]) < SeqNum(cold.win_end[i])) cold.win_maxend[i] = cold.win_end[i];
    cold.win_max[i] = std::max(cold.win_max[i], w);
    if (s.ack && !s.rst) {
        SeqNum edge = SeqNum(s.ack_no) + std::max<uint32_t>(w, 1);
        if (edge > SeqNum(cold.win_maxend[p])) cold.win_maxend[p] = edge.v;
    }
}

bool acks_fin(const Conn& c, const ConnCold& cold, Role of, const Seg& s) noexcept {
    return c.has(fin_bit(of)) && s.ack && SeqNum(s.ack_no) >= SeqNum(cold.fin_seq[ix(of)]) + 1;
}

// One endpoint-pair transition per valid packet, from the sender's side and
// from the receiver's (which is assumed to receive what the tap saw).
void rfc_transition(Conn& c, ConnCold& cold, Role r, const Seg& s) noexcept {
    int i = ix(r), p = ix(peer_of(r));
    Role peer = peer_of(r);
    TcpState& me = c.rfc[i];
    TcpState& them = c.rfc[p];

    if (s.rst) {
        me = TcpState::Closed;
        them = TcpState::Closed;
        return;
    }
    if (s.syn && !s.ack) {
        if (me == TcpState::Closed || me == TcpState::Listen) me = TcpState::SynSent;
        if (them == TcpState::Closed) {
            them = TcpState::Listen;  // a listener must exist for this to go anywhere
        } else if (them == TcpState::SynSent && c.has(cflag::SimOpen)) {
            // Simultaneous open: each side receives the other's SYN in SYN-SENT.
            them = TcpState::SynReceived;
            me = TcpState::SynReceived;
        }
        return;
    }
    if (s.syn && s.ack) {
        if (me == TcpState::Closed || me == TcpState::Listen || me == TcpState::SynSent) me = TcpState::SynReceived;
        if (them == TcpState::SynSent || them == TcpState::SynReceived || them == TcpState::Closed ||
            them == TcpState::Listen)
            them = TcpState::Established;
        return;
    }

    // What this packet's ACK tells about the receiver.
    if (s.ack) {
        if (them == TcpState::SynReceived && c.has(syn_bit(peer)) && SeqNum(s.ack_no) >= SeqNum(cold.isn[p]) + 1)
            them = TcpState::Established;
        if (them == TcpState::Listen) them = TcpState::Established;  // its SYN-ACK was missed
        if (me == TcpState::SynSent) me = TcpState::Established;      // likewise
        if (acks_fin(c, cold, peer, s)) {
            switch (them) {
                case TcpState::FinWait1: them = TcpState::FinWait2; break;
                case TcpState::Closing: them = TcpState::TimeWait; break;
                case TcpState::LastAck: them = TcpState::Closed; break;
                case TcpState::Closed:
                case TcpState::Listen:
                case TcpState::SynSent:
                case TcpState::SynReceived:
                case TcpState::Established:
                case TcpState::FinWait2:
                case TcpState::CloseWait:
                case TcpState::TimeWait:
                    break;
            }
        }
    }
    if (!s.fin) return;

    bool crossed = c.has(fin_bit(peer)) && !acks_fin(c, cold, peer, s);
    switch (me) {
        case TcpState::Established:
        case TcpState::SynReceived:
            me = TcpState::FinWait1;
            break;
        case TcpState::CloseWait:
            // Our FIN does not acknowledge theirs: we sent it before theirs arrived.
            if (crossed) {
                me = TcpState::Closing;
                set_flag(c, cflag::SimClose, true);
            } else {
                me = TcpState::LastAck;
            }
            break;
        case TcpState::SynSent:
            me = TcpState::Closed;
            break;
        case TcpState::Closed:
        case TcpState::Listen:
        case TcpState::FinWait1:
        case TcpState::FinWait2:
        case TcpState::Closing:
        case TcpState::LastAck:
        case TcpState::TimeWait:
            break;  // a retransmitted FIN changes nothing
    }
    switch (them) {
        case TcpState::Established:
        case TcpState::SynReceived:
            them = TcpState::CloseWait;
            break;
        case TcpState::FinWait1:
            // Its own FIN is not acknowledged yet (the ACK above would have moved
            // it to FIN-WAIT-2): the FINs crossed.
            them = TcpState::Closing;
            set_flag(c, cflag::SimClose, true);
            break;
        case TcpState::FinWait2:
            them = TcpState::TimeWait;
            break;
        case TcpState::Closed:
        case TcpState::Listen:
        case TcpState::SynSent:
        case TcpState::CloseWait:
        case TcpState::Closing:
        case TcpState::LastAck:
        case TcpState::TimeWait:
            break;
    }
}

bool rfc_valid_rst(const Conn& c, const ConnCold& cold, Role r, const Seg& s) noexcept {
    Role peer = peer_of(r);
    // RFC 9293 3.10.7.3: in SYN-SENT a RST is acceptable only if it acks the SYN.
    if (c.rfc[ix(peer)] == TcpState::SynSent && c.has(syn_bit(peer)) && !c.has(syn_bit(r)))
        return s.ack && s.ack_no == cold.isn[ix(peer)] + 1;
    return true;
}

void rfc_process(Conn& c, ConnCold& cold, Role r, const Seg& s, const PacketView& v, uint64_t ts) noexcept {
    int i = ix(r);
    bool valid = rfc_handshake(c, cold, r, s, v, ts) && rfc_in_window(c, cold, r, s) &&
                 (!s.rst || rfc_valid_rst(c, cold, r, s));
    if (!valid) {
        ++cold.invalid_pkts;
        return;
    }
    // Keep-alive probe: 0 or 1 byte at snd_nxt - 1 on an open connection.
    if (!s.syn && !s.fin && !s.rst && s.ack && s.len <= 1 && cold.win_end[i] != 0 &&
        SeqNum(s.seq) + 1 == SeqNum(cold.win_end[i]) &&
        (c.rfc[i] == TcpState::Established || c.rfc[i] == TcpState::CloseWait || c.rfc[i] == TcpState::FinWait2))
        ++cold.keepalives;
    if (s.fin) cold.fin_seq[i] = s.seq + s.len;
    rfc_track_window(c, cold, r, s, v.window);
    rfc_transition(c, cold, r, s);
}

// ---- the packet path --------------------------------------------------------------

void note_closer(ConnCold& cold, Role r) noexcept {
    if (cold.closer == Closer::None) cold.closer = r == Role::Orig ? Closer::Orig : Closer::Resp;
}

void process(Conn& c, ConnCold& cold, const PacketView& v, Role r, uint64_t ts) noexcept {
    // Zeek drops a packet with a bad checksum before any TCP processing: it is
    // only noted in the history ('C'), not counted and does not move state.
    if (v.checksum_checked && !v.checksum_ok) {
        scaled_history(cold, r, LogLetter::Checksum, 'C');
        return;
    }
    // Picked up mid-stream: assume open, once a packet counts (one with a bad
    // checksum says nothing of the endpoints).
    if (c.has(cflag::Midstream) && c.pkts[0] == 0 && c.pkts[1] == 0)
        c.rfc[0] = c.rfc[1] = TcpState::Established;
    Seg s = make_seg(v);

    // PR 2191: an ACK or data right after a connection-opening SYN-ACK.
    if (c.zeek[0] == ZeekEp::SynAckSent && c.zeek[1] == ZeekEp::Inactive && !s.syn && !s.fin && !s.rst &&
        (s.ack || s.len > 0)) {
        late_flip(c, cold);
        r = peer_of(r);
    }

    zeek_init_endpoint(c, r, s);
    uint32_t rel_seq = s.seq - c.start_seq[ix(r)];
    zeek_history(c, cold, r, s, rel_seq);
    {
        Role peer = peer_of(r);
        if (v.window == 0 && !s.rst && c.zeek[ix(peer)] != ZeekEp::Closed && c.zeek[ix(r)] != ZeekEp::Reset)
            scaled_history(cold, r, LogLetter::ZeroWindow, 'W');
    }
    c.last_ts_us = ts;  // also Zeek's last_time until both sides have closed

    if (s.fin) {
        set_flag(c, fin_bit(r), true);
        note_closer(cold, r);
    }
    if (s.rst) note_closer(cold, r);
    if (s.ack) zeek_ack(c, cold, peer_of(r), s);
    zeek_last_seq(c, cold, r, s);
    bool do_close = zeek_state_machine(c, cold, r, s, ts);

    track_data(c, cold, r, s);
    zeek_gap(c, cold, r, s);
    if (do_close) zeek_closed(c, cold, r);

    rfc_process(c, cold, r, s, v, ts);
    if (c.has(cflag::SimClose)) cold.closer = Closer::Both;

    int i = ix(r);
    if (c.pkts[i] != UINT32_MAX) ++c.pkts[i];
    cold.ip_bytes[i] += v.ip_len;
    cold.payload[i] += v.payload_len;
}

// The common case, an in-order segment of an established connection, decided
// from the hot line and the cold record's first line alone. Applies it and returns
// true only where process() would change exactly what this changes: every
// condition below stands for a branch of the general path that this segment
// would not take (a history letter to write, a retransmission, a hole, a gap, a
// sequence wrap, a window check failing, a keep-alive, a close). Otherwise it
// changes nothing and returns false. tests/track/test_fast_path.cpp checks it
// against process() byte for byte. One instance per sending role, so that every
// role-indexed field is at a fixed offset (53 fewer instructions a packet on the
// peers cut, bench/instructions).
template <Role r>
bool fast_segment_as(Conn& c, ConnCold& cold, const PacketView& v, uint64_t ts) noexcept {
    if ((v.flags & (fl::Syn | fl::Fin | fl::Rst | fl::Ack)) != fl::Ack) return false;
    if (v.window == 0 || (v.checksum_checked && !v.checksum_ok)) return false;
    constexpr uint16_t kMask = cflag::Midstream | cflag::DidClose0 | cflag::DidClose1 | cflag::Fin0 | cflag::Fin1 |
                               cflag::Syn0 | cflag::Syn1 | cflag::SimClose | cflag::Ooo0 | cflag::Ooo1;
    if ((c.flags & kMask) != (cflag::Syn0 | cflag::Syn1)) return false;
    if (r == Role::Orig && !c.has(cflag::HandshakeTimed)) return false;  // the handshake's last ACK may be due
    if (c.zeek[0] != ZeekEp::Established || c.zeek[1] != ZeekEp::Established ||
        c.rfc[0] != TcpState::Established || c.rfc[1] != TcpState::Established)
        return false;
    constexpr int i = ix(r), p = ix(peer_of(r));
    const uint32_t len = v.payload_len, seq = v.seq, ack = v.ack, one_past = seq + len;
    // Zeek's once-only letter ('D' or 'A', lower case for the responder) is written
    // here too when it is new: each side's first data segment stays on this path.
    const uint16_t letter = len > 0 ? hist::Data : hist::Ack;
    const auto letter_bit = static_cast<uint16_t>(r == Role::Orig ? letter : letter << 8);

    // Zeek's ack bookkeeping: no ack before the peer's start, no wrap.
    const int32_t d_ack = seq_delta(ack, c.ack_seq[p]);
    if (seq_delta(ack, c.start_seq[p]) < 0 || (ack == 0 && d_ack > kTooLargeSeqDelta)) return false;
    if (d_ack > 0 && ack < c.ack_seq[p]) return false;
    // Zeek's last_seq: moves forward without wrapping, or a pure ACK (no 'T').
    const int32_t d_seq = seq_delta(one_past, c.last_seq[i]);
    if (d_seq > 0 ? one_past < c.last_seq[i] : len > 0) return false;
    // Payload continues the contiguous edge; the ack reaches no further than the peer's.
    if (cold.data_end[i] == 0 || cold.data_end[p] == 0) return false;
    if (len > 0 && SeqNum(seq) > SeqNum(cold.data_end[i])) return false;
    if (SeqNum(ack) > SeqNum(cold.data_end[p])) return false;
    // The window checks pass (rfc_in_window, both SYNs seen), bookkeeping started, no keep-alive.
    if (SeqNum(seq) > SeqNum(cold.win_maxend[i])) return false;
    if (SeqNum(one_past) < SeqNum(cold.win_end[i]) - cold.win_max[p]) return false;
    const SeqNum could = SeqNum(cold.win_maxend[p]) > SeqNum(cold.win_end[p]) ? SeqNum(cold.win_maxend[p])
                                                                              : SeqNum(cold.win_end[p]);
    if (SeqNum(ack) > could) return false;
    if (cold.win_max[i] == 0) return false;
    if (SeqNum(ack) < SeqNum(cold.win_end[p]) - cold.win_max[i]) return false;
    if (len <= 1 && cold.win_end[i] != 0 && SeqNum(seq) + 1 == SeqNum(cold.win_end[i])) return false;

    if ((c.hist_seen & letter_bit) == 0) {
        c.hist_seen = static_cast<uint16_t>(c.hist_seen | letter_bit);
        add_history(cold, cased(r, len > 0 ? 'D' : 'A'));
    }
    c.last_ts_us = ts;
    if (d_ack > 0) c.ack_seq[p] = ack;
    if (d_seq > 0) c.last_seq[i] = one_past;
    if (len > 0 && SeqNum(one_past) > SeqNum(cold.data_end[i])) cold.data_end[i] = one_past;
    const int8_t mine = c.wscale[i], theirs = c.wscale[p];
    const uint32_t w = mine >= 0 && theirs >= 0 ? uint32_t{v.window} << mine : v.window;
    if (SeqNum(one_past) > SeqNum(cold.win_end[i])) cold.win_end[i] = one_past;
    if (SeqNum(cold.win_maxend[i]) < SeqNum(cold.win_end[i])) cold.win_maxend[i] = cold.win_end[i];
    cold.win_max[i] = std::max(cold.win_max[i], w);
    const SeqNum edge = SeqNum(ack) + std::max<uint32_t>(w, 1);
    if (edge > SeqNum(cold.win_maxend[p])) cold.win_maxend[p] = edge.v;
    if (c.pkts[i] != UINT32_MAX) ++c.pkts[i];
    cold.ip_bytes[i] += v.ip_len;
    cold.payload[i] += len;
    return true;
}

bool fast_segment(Conn& c, ConnCold& cold, const PacketView& v, Role r, uint64_t ts) noexcept {
    return r == Role::Orig ? fast_segment_as<Role::Orig>(c, cold, v, ts) : fast_segment_as<Role::Resp>(c, cold, v, ts);
}

// Zeek TCPSessionAdapter::IsReuse, seen from one new packet.
bool is_reuse(const Conn& c, const Seg& s, Role r) noexcept {
    if (!s.syn) return false;
    Role conn_orig = Role::Orig;
    if (s.ack) {
        if (c.zeek[0] != ZeekEp::Inactive) return false;  // not a half connection
        conn_orig = Role::Resp;
    }
    bool closed = did_close(c, Role::Orig) || did_close(c, Role::Resp);
    if (closed) return true;
    if (s.seq == c.start_seq[ix(conn_orig)]) return false;  // a retransmission
    if (!s.ack && c.zeek[ix(conn_orig)] == ZeekEp::SynAckSent && c.zeek[1] == ZeekEp::Inactive &&
        s.seq == c.start_seq[1])
        return false;  // the SYN of a reordered SYN/SYN-ACK pair
    // Simultaneous open: the responder's own bare SYN while the originator waits
    // in SYN-SENT. (Zeek would start a second connection here; the RFC does not.)
    if (!s.ack && r == Role::Resp && c.zeek[0] == ZeekEp::SynSent && c.zeek[1] == ZeekEp::Inactive) return false;
    return true;
}

bool history_is_rstos0(const ConnCold& cold) noexcept {
    // Zeek: /^?S[^HAFGIQ]*R.*/ matched against the whole history.
    const char* h = cold.history;
    size_t n = cold.history_len, k = 0;
    if (k < n && h[k] == '^') ++k;
    if (k >= n || h[k] != 'S') return false;
    for (++k; k < n; ++k) {
        char ch = h[k];
        if (ch == 'R') return true;
        if (ch == 'H' || ch == 'A' || ch == 'F' || ch == 'G' || ch == 'I' || ch == 'Q') return false;
    }
    return false;
}

bool no_data_acked(const Conn& c, const ConnCold& cold, Role r) noexcept {
    int i = ix(r);
    uint64_t ack = (static_cast<uint64_t>(cold.ack_wraps[i]) << 32) + c.ack_seq[i];
    uint64_t start = c.start_seq[i];
    return ack == start || ack == start + 1;
}

uint64_t timer_delay(TimerKind k, const TrackerConfig& cfg) noexcept {
    switch (k) {
        case TimerKind::None: return 0;
        case TimerKind::Attempt: return cfg.syn_timeout_us;
        case TimerKind::Close: return cfg.close_delay_us;
        case TimerKind::Reset: return cfg.reset_delay_us;
        case TimerKind::PartialClose: return cfg.partial_close_delay_us;
    }
    return 0;
}

// Whether the armed fixed timer would still remove the connection (Zeek
// re-checks the condition when the timer fires).
bool timer_effective(const Conn& c) noexcept {
    switch (c.timer) {
        case TimerKind::None: return false;
        case TimerKind::Attempt:
            return (c.zeek[0] == ZeekEp::SynSent || c.zeek[0] == ZeekEp::SynAckSent) &&
                   c.zeek[1] == ZeekEp::Inactive;
        case TimerKind::Close:
        case TimerKind::Reset: return true;
        case TimerKind::PartialClose:
            return c.zeek[0] != ZeekEp::Inactive && c.zeek[1] != ZeekEp::Inactive &&
                   !(did_close(c, Role::Orig) && did_close(c, Role::Resp)) && c.zeek[0] != ZeekEp::Reset &&
                   c.zeek[1] != ZeekEp::Reset;
    }
    return false;
}

bool is_open_zeek(ZeekEp s) noexcept {
    return s == ZeekEp::Established || s == ZeekEp::Partial || s == ZeekEp::Closed || s == ZeekEp::Reset;
}

// Ports the default Zeek scripts add to likely_server_ports over TCP: FTP, SSH,
// SMTP, DNS, finger, HTTP, Kerberos, POP3, DCE-RPC/SMB, IMAP, LDAP, SSL/TLS,
// Modbus, SOCKS, MQTT, GridFTP, MySQL, RDP, XMPP, PostgreSQL, Redis, IRC, DNP3.
constexpr uint16_t kLikelyServerPorts[] = {
    21,   22,   25,   53,   79,   80,   81,   88,   110,  135,  139,  143,  389,  443,  445,  502,  563,
    585,  587,  614,  631,  636,  989,  990,  992,  993,  995,  1080, 1883, 2811, 3128, 3268, 3306, 3389,
    5222, 5223, 5269, 5432, 6379, 6666, 6667, 6668, 6669, 8000, 8080, 8888, 20000,
};
static_assert(std::is_sorted(std::begin(kLikelyServerPorts), std::end(kLikelyServerPorts)));

}  // namespace

// ---- public API -------------------------------------------------------------------

bool likely_server_port(uint16_t port) noexcept {
    return std::binary_search(std::begin(kLikelyServerPorts), std::end(kLikelyServerPorts), port);
}

uint32_t relative_seq(const Conn& c, Role who, uint32_t seq) noexcept { return seq - c.start_seq[ix(who)]; }

uint32_t relative_ack(const Conn& c, Role who, uint32_t ack) noexcept {
    return ack - c.start_seq[ix(peer_of(who))];
}

uint64_t zeek_size(const Conn& c, const ConnCold& cold, Role r) noexcept {
    int i = ix(r), p = ix(peer_of(r));
    // A half-open connection discovered and aborted: its sequence numbers say nothing.
    if (c.zeek_prev[i] == ZeekEp::SynSent && c.zeek[i] == ZeekEp::Reset && c.zeek[p] == ZeekEp::Inactive &&
        !no_data_acked(c, cold, r))
        return 0;
    uint64_t last = (static_cast<uint64_t>(cold.seq_wraps[i]) << 32) + c.last_seq[i];
    uint64_t ack = (static_cast<uint64_t>(cold.ack_wraps[i]) << 32) + c.ack_seq[i];
    uint64_t size = (last > ack ? last : ack) - static_cast<uint64_t>(c.start_seq[i]);
    if (size != 0) --size;                                // the SYN octet
    if (c.has(fin_bit(r)) && size != 0) --size;           // the FIN octet
    return size;
}

ZeekState zeek_conn_state(const Conn& c, const ConnCold& cold) noexcept {
    ZeekEp os = c.zeek[0], rs = c.zeek[1];
    bool o_inactive = os == ZeekEp::Inactive || os == ZeekEp::Partial;
    bool r_inactive = rs == ZeekEp::Inactive || rs == ZeekEp::Partial;
    if (rs == ZeekEp::Reset) {
        if (os == ZeekEp::SynSent || os == ZeekEp::SynAckSent ||
            (os == ZeekEp::Reset && zeek_size(c, cold, Role::Orig) == 0 && zeek_size(c, cold, Role::Resp) == 0))
            return ZeekState::REJ;
        return o_inactive ? ZeekState::RSTRH : ZeekState::RSTR;
    }
    if (os == ZeekEp::Reset) {
        if (r_inactive) return history_is_rstos0(cold) ? ZeekState::RSTOS0 : ZeekState::OTH;
        return ZeekState::RSTO;
    }
    if (rs == ZeekEp::Closed && os == ZeekEp::Closed) return ZeekState::SF;
    if (os == ZeekEp::Closed) return r_inactive ? ZeekState::SH : ZeekState::S2;
    if (rs == ZeekEp::Closed) return o_inactive ? ZeekState::SHR : ZeekState::S3;
    if (os == ZeekEp::SynSent && rs == ZeekEp::Inactive) return ZeekState::S0;
    if (os == ZeekEp::Established && rs == ZeekEp::Established) return ZeekState::S1;
    return ZeekState::OTH;
}

namespace {

// A connection's first packet is most often a bare SYN (under a spoofed SYN flood,
// always): no ACK, FIN, RST or payload, and no bad checksum.
bool clean_first_syn(const PacketView& v) noexcept {
    return (v.flags & (fl::Syn | fl::Ack | fl::Fin | fl::Rst)) == fl::Syn && v.payload_len == 0 &&
           !(v.checksum_checked && !v.checksum_ok);
}

// What init_general() and process() make of a clean first SYN, written out: one
// straight pass instead of both models' rules (about 230 fewer instructions a new
// connection, bench/instructions). tests/track/test_fast_path.cpp checks it byte
// for byte.
void init_syn(Conn& c, ConnCold& cold, const PacketView& v, bool sender_lo, uint64_t ts) noexcept {
    constexpr int o = idx(Role::Orig);
    const uint32_t next = v.seq + 1;  // the SYN takes one sequence number
    c = Conn{};
    cold = ConnCold{};
    c.last_ts_us = ts;
    c.timer = TimerKind::Attempt;  // Zeek's attempt timer, from the first SYN
    c.timer_at_us = ts;
    c.start_seq[o] = c.ack_seq[o] = v.seq;
    c.last_seq[o] = next;
    c.pkts[o] = 1;
    c.flags = static_cast<uint16_t>((sender_lo ? cflag::OrigIsLo : 0) | cflag::Syn0);
    c.zeek[o] = ZeekEp::SynSent;
    c.rfc[o] = TcpState::SynSent;
    c.rfc[idx(Role::Resp)] = TcpState::Listen;
    c.wscale[idx(Role::Resp)] = -1;
    record_syn_options(c, cold, Role::Orig, v);
    cold.first_ts_us = cold.zeek_last_ts_us = ts;
    cold.syn_at = 1;  // offset_of(cold, ts): the first packet's time
    cold.ip_bytes[o] = v.ip_len;
    cold.win_end[o] = cold.win_maxend[o] = next;
    cold.win_max[o] = std::max<uint32_t>(v.window, 1);  // a SYN's window is never scaled
    cold.data_end[o] = cold.ooo_end[o] = next;
    check_history(c, cold, Role::Orig, hist::Syn, 'S');
    if (v.window == 0) scaled_history(cold, Role::Orig, LogLetter::ZeroWindow, 'W');
}

}  // namespace

void init(Conn& c, ConnCold& cold, const parse::PacketView& v, bool sender_lo, uint64_t ts_us) noexcept {
    if (clean_first_syn(v)) init_syn(c, cold, v, sender_lo, ts_us);
    else init_general(c, cold, v, sender_lo, ts_us);
}

void init_general(Conn& c, ConnCold& cold, const parse::PacketView& v, bool sender_lo, uint64_t ts_us) noexcept {
    c = Conn{};
    cold = ConnCold{};
    cold.first_ts_us = ts_us;
    cold.zeek_last_ts_us = ts_us;
    c.wscale[0] = c.wscale[1] = -1;
    c.last_ts_us = ts_us;

    bool syn = v.has(fl::Syn), ack = v.has(fl::Ack);
    // Zeek WantConnection: without a clean SYN, guess the server by its port.
    bool flip = false;
    if (!syn || ack) {
        if (likely_server_port(v.sport))
            flip = likely_server_port(v.dport) ? (!syn && v.sport < v.dport) : true;
    }
    set_flag(c, cflag::OrigIsLo, flip ? !sender_lo : sender_lo);
    if (flip) {
        set_flag(c, cflag::Flipped, true);
        add_history(cold, '^');
    }
    if (!syn) set_flag(c, cflag::Midstream, true);  // its RFC states: see process()
    process(c, cold, v, role_of(c, sender_lo), ts_us);
}

Action update(Conn& c, ConnCold& cold, const parse::PacketView& v, bool sender_lo, uint64_t ts_us,
              const TrackerConfig& cfg) noexcept {
    assert(!expired(c, ts_us, cfg));  // the caller's to check (see tracker.hpp)
    (void)cfg;
    Role r = role_of(c, sender_lo);
    if (fast_segment(c, cold, v, r, ts_us)) return Action::Continue;
    if (is_reuse(c, make_seg(v), r)) return Action::Reuse;
    process(c, cold, v, r, ts_us);
    return Action::Continue;
}

bool update_fast(Conn& c, ConnCold& cold, const parse::PacketView& v, bool sender_lo, uint64_t ts_us) noexcept {
    return fast_segment(c, cold, v, role_of(c, sender_lo), ts_us);
}

Action update_general(Conn& c, ConnCold& cold, const parse::PacketView& v, bool sender_lo, uint64_t ts_us) noexcept {
    Role r = role_of(c, sender_lo);
    if (is_reuse(c, make_seg(v), r)) return Action::Reuse;
    process(c, cold, v, r, ts_us);
    return Action::Continue;
}

uint64_t deadline(const Conn& c, const TrackerConfig& cfg) noexcept {
    if (timer_effective(c)) return c.timer_at_us + timer_delay(c.timer, cfg);
    ZeekEp o = c.zeek[0], r = c.zeek[1];
    if (o == ZeekEp::Inactive && r == ZeekEp::Inactive) return c.last_ts_us + cfg.syn_timeout_us;
    if (did_close(c, Role::Orig) || did_close(c, Role::Resp)) return c.last_ts_us + cfg.closing_timeout_us;
    if (is_open_zeek(o) && is_open_zeek(r)) return c.last_ts_us + cfg.established_timeout_us;
    return c.last_ts_us + cfg.half_open_timeout_us;
}

EndReason expiry_reason(const Conn& c) noexcept {
    if (timer_effective(c) && c.timer != TimerKind::Attempt) return EndReason::Closed;
    return EndReason::Timeout;
}

bool is_embryonic(const Conn& c) noexcept {
    if (c.has(cflag::Midstream)) return false;
    return c.rfc[0] == TcpState::SynSent || c.rfc[1] == TcpState::Listen || c.rfc[1] == TcpState::SynReceived;
}

bool opens_embryonic(const parse::PacketView& v) noexcept { return clean_first_syn(v); }

namespace {
TcpState state_at(const Conn& c, Role r, uint64_t now_us, const TrackerConfig& cfg) noexcept {
    TcpState s = c.rfc[ix(r)];
    // TIME-WAIT lasts 2*MSL; any segment in it (a retransmitted FIN) restarts it,
    // so it ends 2*MSL after the last packet.
    if (s == TcpState::TimeWait && now_us >= c.last_ts_us + 2 * cfg.msl_us) return TcpState::Closed;
    return s;
}
}  // namespace

TcpState orig_state(const Conn& c, uint64_t now_us, const TrackerConfig& cfg) noexcept {
    return state_at(c, Role::Orig, now_us, cfg);
}

TcpState resp_state(const Conn& c, uint64_t now_us, const TrackerConfig& cfg) noexcept {
    return state_at(c, Role::Resp, now_us, cfg);
}

void make_record(const Conn& c, const ConnCold& cold, const flow::FlowKey& key, EndReason why, uint64_t now_us,
                 const TrackerConfig& cfg, ConnRecord& out) noexcept {
    // Every field is written below (ConnRecord has no padding), so `out` is not cleared first.
    bool orig_lo = c.has(cflag::OrigIsLo);
    out.orig_h = orig_lo ? key.lo_addr : key.hi_addr;
    out.resp_h = orig_lo ? key.hi_addr : key.lo_addr;
    out.orig_p = orig_lo ? key.lo_port : key.hi_port;
    out.resp_p = orig_lo ? key.hi_port : key.lo_port;

    out.ts_us = cold.first_ts_us;
    const uint64_t last = zeek_last_ts(c, cold);
    out.duration_us = last >= cold.first_ts_us ? last - cold.first_ts_us : 0;
    // Zeek sets orig_bytes/resp_bytes only when the duration is positive.
    out.bytes_known = out.duration_us > 0;
    out.orig_bytes = out.bytes_known ? zeek_size(c, cold, Role::Orig) : 0;
    out.resp_bytes = out.bytes_known ? zeek_size(c, cold, Role::Resp) : 0;
    out.orig_pkts = c.pkts[0];
    out.resp_pkts = c.pkts[1];
    out.orig_ip_bytes = cold.ip_bytes[0];
    out.resp_ip_bytes = cold.ip_bytes[1];
    out.orig_payload = cold.payload[0];
    out.resp_payload = cold.payload[1];
    out.missed_bytes = cold.missed_bytes;

    out.conn_state = zeek_conn_state(c, cold);
    static_assert(sizeof out.history == sizeof cold.history);
    std::memcpy(out.history, cold.history, sizeof out.history);  // a fixed size: no call
    out.history[cold.history_len] = '\0';
    out.orig_state = orig_state(c, now_us, cfg);
    out.resp_state = resp_state(c, now_us, cfg);
    out.closed_first = cold.closer;
    out.end = why;
    out.midstream = c.has(cflag::Midstream);

    out.rtt_syn_synack_us = cold.rtt_syn_synack_us;
    out.rtt_synack_ack_us = cold.rtt_synack_ack_us;
    out.orig_isn = cold.isn[0];
    out.resp_isn = cold.isn[1];
    out.orig_mss = cold.mss[0];
    out.resp_mss = cold.mss[1];
    out.orig_wscale = c.wscale[0];
    out.resp_wscale = c.wscale[1];
    out.orig_sack_ok = cold.sack_ok[0];
    out.resp_sack_ok = cold.sack_ok[1];
    out.orig_ts = cold.ts_ok[0];
    out.resp_ts = cold.ts_ok[1];
    out.syn_retrans = cold.syn_retrans;
    out.synack_retrans = cold.synack_retrans;
    out.simultaneous_open = c.has(cflag::SimOpen);
    out.keepalives = cold.keepalives;
    out.invalid_pkts = cold.invalid_pkts;
}

}  // namespace ws::track
