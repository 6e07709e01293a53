// Per-connection state of the TCP lifecycle tracker: one hot cache line (Conn)
// that every packet touches, and a cold record (ConnCold) for what is read
// rarely or only when the connection's record is written.
//
// Ownership: the engine's per-lcore table owns both arrays; the tracker only
// reads and writes the pair it is handed. Nothing here is shared between
// threads.
//
// Two views of every endpoint are kept side by side, because they answer
// different questions:
//   * TcpState (RFC 9293 3.3.2): what `netstat` on that host would print,
//     inferred from what the tap saw. Packets that fail validation do not move it.
//   * ZeekEp: Zeek's coarser per-endpoint state (TCP_Endpoint.h), kept exactly
//     as Zeek keeps it, because conn.log's conn_state is a function of it and
//     Zeek does not validate sequence numbers before changing it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "track/record.hpp"

namespace ws::track {

// A TCP sequence number: arithmetic modulo 2^32, comparisons by the sign of the
// 32-bit difference (RFC 9293 3.4; Linux `before()`/`after()`). Only meaningful
// for numbers less than 2^31 apart, which the window guarantees.
struct SeqNum {
    uint32_t v = 0;

    constexpr SeqNum() = default;
    constexpr explicit SeqNum(uint32_t x) : v(x) {}

    // Signed distance from `o` to this number.
    constexpr int32_t operator-(SeqNum o) const noexcept { return static_cast<int32_t>(v - o.v); }
    constexpr SeqNum operator+(uint32_t n) const noexcept { return SeqNum(v + n); }
    constexpr SeqNum operator-(uint32_t n) const noexcept { return SeqNum(v - n); }
    constexpr bool operator==(SeqNum o) const noexcept { return v == o.v; }
    constexpr bool operator<(SeqNum o) const noexcept { return (*this - o) < 0; }
    constexpr bool operator<=(SeqNum o) const noexcept { return (*this - o) <= 0; }
    constexpr bool operator>(SeqNum o) const noexcept { return (*this - o) > 0; }
    constexpr bool operator>=(SeqNum o) const noexcept { return (*this - o) >= 0; }
};

// Index of an endpoint in the role-indexed arrays below. Roles are Zeek's:
// the originator is the side Zeek would log as id.orig_h after its flip rules.
enum class Role : uint8_t { Orig = 0, Resp = 1 };
constexpr int idx(Role r) noexcept { return static_cast<int>(r); }
constexpr Role peer_of(Role r) noexcept { return r == Role::Orig ? Role::Resp : Role::Orig; }

// Zeek's endpoint states (analyzer/protocol/tcp/TCP_Endpoint.h), same meaning.
enum class ZeekEp : uint8_t {
    Inactive,    // nothing seen from this side yet (or only packets with bad checksums)
    SynSent,     // sent a SYN (the originator's opening)
    SynAckSent,  // the originator sent a SYN-ACK as its first packet
    Partial,     // data/ACK without having seen a SYN from this side
    Established, // handshake done (as far as Zeek cares)
    Closed,      // sent a FIN
    Reset,       // sent a RST
};

// Which of Zeek's fixed-time removal timers is pending (Conn::timer_at_us holds
// the time of the event that armed it; deadline() adds the configured delay).
// Zeek arms these once and does not push them back when more packets come,
// which is why they are not derived from last_ts_us.
enum class TimerKind : uint8_t {
    None,
    Attempt,       // first SYN from the originator: removed syn_timeout later if unanswered
    Close,         // close complete (both FINs, FIN with silent peer): removed close_delay later
    Reset,         // close complete by a RST: removed reset_delay later
    PartialClose,  // an endpoint's first packet was a FIN while its peer was active
};

// Conn::flags bits.
namespace cflag {
inline constexpr uint16_t OrigIsLo = 1u << 0;    // the originator is the FlowKey's lo endpoint
inline constexpr uint16_t Midstream = 1u << 1;   // first packet had no SYN
inline constexpr uint16_t Flipped = 1u << 2;     // Zeek's '^': roles differ from the first packet's
inline constexpr uint16_t DidClose0 = 1u << 3;   // Zeek did_close, originator (FIN or RST processed)
inline constexpr uint16_t DidClose1 = 1u << 4;   // ... responder
inline constexpr uint16_t Fin0 = 1u << 5;        // originator sent a FIN (Zeek FIN_cnt > 0)
inline constexpr uint16_t Fin1 = 1u << 6;        // responder sent a FIN
inline constexpr uint16_t Syn0 = 1u << 7;        // originator's SYN seen (its ISN is known)
inline constexpr uint16_t Syn1 = 1u << 8;        // responder's SYN/SYN-ACK seen
inline constexpr uint16_t SimOpen = 1u << 9;     // simultaneous open (both sent a bare SYN)
inline constexpr uint16_t SimClose = 1u << 10;   // simultaneous close (FINs crossed)
inline constexpr uint16_t Ooo0 = 1u << 11;       // originator payload seen beyond a hole (ConnCold::ooo_end
inline constexpr uint16_t Ooo1 = 1u << 12;       // ... responder                      may be ahead of data_end)
inline constexpr uint16_t HandshakeTimed = 1u << 13;  // rtt_synack_ack_us measured (non-zero)
}  // namespace cflag

// The hot record. Layout (offsets in bytes), and why each width:
//   0  last_ts_us    8  capture time of the last counted packet; microseconds
//                       since the epoch need 64 bits. Drives inactivity deadlines
//                       and the end of TIME-WAIT.
//   8  timer_at_us   8  time of the event that armed a fixed Zeek timer (see
//                       TimerKind); absolute so it survives connections of any length.
//  16  start_seq[2]  8  Zeek's start_seq per role: the ISN, or (no SYN) first seq - 1.
//                       Relative sequence numbers are taken from it.
//  24  last_seq[2]   8  highest "seq + segment length" sent (Zeek last_seq; RFC snd_nxt
//                       as far as the tap saw). 32-bit like the header field; the
//                       rare wrap counters live in ConnCold.
//  32  ack_seq[2]    8  highest ack the peer sent for this role's data (Zeek ack_seq).
//  40  pkts[2]       8  packets counted per role; 2^32 packets per connection is
//                       beyond any real flow (saturating would still be correct).
//  48  flags         2  cflag bits above.
//  50  hist_seen     2  Zeek's once-only history letters already written: bits 0-6
//                       originator, 8-14 responder (see hist:: in tracker.cpp).
//  52  zeek[2]       2  ZeekEp per role.
//  54  zeek_prev[2]  2  Zeek prev_state per role (conn_state and Size() read it).
//  56  rfc[2]        2  TcpState per role (netstat view).
//  58  timer         1  TimerKind.
//  59  wscale[2]     2  window scale shift offered in the role's SYN; -1 = not offered.
//                       Every segment's window is scaled by it.
//  61  reserved      3  free; zero.
// Everything that only make_record() or the handshake needs lives in ConnCold.
struct alignas(64) Conn {
    uint64_t last_ts_us;
    uint64_t timer_at_us;
    uint32_t start_seq[2];
    uint32_t last_seq[2];
    uint32_t ack_seq[2];
    uint32_t pkts[2];
    uint16_t flags;
    uint16_t hist_seen;
    ZeekEp zeek[2];
    ZeekEp zeek_prev[2];
    TcpState rfc[2];
    TimerKind timer;
    int8_t wscale[2];
    uint8_t reserved[3];

    bool has(uint16_t f) const noexcept { return (flags & f) != 0; }
};
static_assert(sizeof(Conn) <= 64, "Conn must fit one cache line");
static_assert(alignof(Conn) == 64);
static_assert(std::is_trivially_copyable_v<Conn>);
static_assert(std::is_standard_layout_v<Conn>);

// History letters whose count is logged on a log10 scale (Zeek ScaledHistoryEntry).
enum class LogLetter : uint8_t { Checksum, Gap, Retransmit, ZeroWindow };
inline constexpr int kLogLetters = 4;

inline constexpr size_t kHistoryCap = 31;  // ConnRecord::history holds 31 chars + NUL

// The cold record: four cache lines. The first holds all that an ordinary
// segment writes (byte counters, window tracking, the in-order payload edge), so
// the engine prefetches it with the hot line and a data segment touches two
// lines in all. The rest is read by validation of unusual segments, the
// handshake and make_record(). Arrays are indexed by Role and swapped when
// Zeek's rules flip the roles.
struct alignas(64) ConnCold {
    // ---- line 0: every segment
    uint64_t ip_bytes[2];
    uint64_t payload[2];       // from header lengths
    // Window tracking after van Rooij / nf_conntrack (per sending role).
    uint32_t win_end[2];     // highest seq + len sent
    uint32_t win_maxend[2];  // highest ack + window the peer advertised for this data
    uint32_t win_max[2];     // largest window this role advertised (scaled)
    uint32_t data_end[2];    // contiguous payload end seen (for the gap heuristic)

    // ---- lines 1-3: the rest
    uint64_t first_ts_us;
    // Zeek's last_time is the last packet's time until both sides have closed,
    // then stops: Conn::last_ts_us until then, frozen here at that moment.
    uint64_t zeek_last_ts_us;
    uint64_t missed_bytes;     // bytes acked that the tap never saw (Zeek's content gaps)
    uint32_t ooo_start[2];     // payload seen beyond a hole: one run [ooo_start, ooo_end),
    uint32_t ooo_end[2];       // read only while Conn's OooN flag says it is open
    uint32_t fin_seq[2];       // sequence number of the FIN octet

    // Handshake, per role: index Orig = the SYN side, Resp = the SYN-ACK side.
    uint32_t isn[2];
    uint32_t syn_at;          // last SYN of the originator before the SYN-ACK, and the last
    uint32_t synack_at;       // SYN-ACK: microseconds after first_ts_us, plus one; 0 = none
                              // (or more than 71 minutes into the connection: no RTT then)
    uint32_t rtt_syn_synack_us, rtt_synack_ack_us;
    uint16_t seq_wraps[2];    // Zeek seq_wraps / ack_wraps: transfers beyond 4 GiB
    uint16_t ack_wraps[2];    // (16 bits: 256 TiB per direction)
    uint16_t mss[2];
    bool sack_ok[2], ts_ok[2];
    uint8_t syn_retrans, synack_retrans;
    Closer closer;
    uint8_t history_len;

    uint32_t keepalives;
    uint32_t invalid_pkts;

    // History (Zeek semantics): letters, last seqs for f/h/r/s repetition,
    // counters for the log-scaled letters.
    uint32_t hist_last_syn[2], hist_last_fin[2], hist_last_rst[2];
    uint32_t log_count[2][kLogLetters];
    char history[kHistoryCap + 1];
};
static_assert(sizeof(ConnCold) == 256, "ConnCold is four cache lines");
static_assert(offsetof(ConnCold, first_ts_us) == 64, "what every segment writes fills line 0 exactly");
static_assert(std::is_trivially_copyable_v<ConnCold>);

// Wireshark-style relative numbers: the sequence number `seq` sent by `who`,
// and the acknowledgment `ack` sent by `who` (which acknowledges its peer's
// data), both relative to the respective side's initial sequence number (or,
// picked up mid-stream, to one before the first sequence number seen).
uint32_t relative_seq(const Conn& c, Role who, uint32_t seq) noexcept;
uint32_t relative_ack(const Conn& c, Role who, uint32_t ack) noexcept;

// Which role sent a packet whose sender is the key's lo endpoint iff `sender_lo`.
inline Role role_of(const Conn& c, bool sender_lo) noexcept {
    return sender_lo == c.has(cflag::OrigIsLo) ? Role::Orig : Role::Resp;
}

// Zeek's conn_state and Zeek's orig/resp payload size (TCP_Endpoint::Size()),
// exposed for tests and for the report code.
ZeekState zeek_conn_state(const Conn& c, const ConnCold& cold) noexcept;
uint64_t zeek_size(const Conn& c, const ConnCold& cold, Role r) noexcept;

// True while a port is in Zeek's likely_server_ports with the default scripts
// loaded (used for the direction heuristics of connections without a SYN).
bool likely_server_port(uint16_t port) noexcept;

}  // namespace ws::track
