// The TCP lifecycle tracker: per-packet update of one connection's hot record,
// driven by capture time so that replay is deterministic.
//
// The tracker owns no table: the caller (engine::Shard) finds or creates the
// connection's Conn/ConnCold pair and passes it in. Nothing here allocates,
// throws, locks or logs.
#pragma once

#include <algorithm>
#include <cstdint>

#include "flow/flow_key.hpp"
#include "parse/packet.hpp"
#include "track/conn.hpp"
#include "track/record.hpp"

namespace ws::track {

// Timeouts on capture time, microseconds. Defaults follow Zeek where Zeek has one
// (so conn.log splits connections where Zeek does) and Linux otherwise.
struct TrackerConfig {
    uint64_t syn_timeout_us = 5ull * 1000000;               // SYN-only attempt, no answer: Zeek's
                                                            // tcp_attempt_delay, counted from the first SYN
    uint64_t half_open_timeout_us = 5ull * 60 * 1000000;    // SYN/SYN-ACK seen, final ACK not
    uint64_t established_timeout_us = 5ull * 60 * 1000000;  // idle established (Zeek tcp_inactivity_timeout)
    uint64_t closing_timeout_us = 5ull * 60 * 1000000;      // one FIN seen, idle
    uint64_t close_delay_us = 5ull * 1000000;               // both FINs seen -> record (Zeek tcp_close_delay)
    uint64_t reset_delay_us = 5ull * 1000000;               // RST seen -> record (Zeek tcp_reset_delay)
    uint64_t partial_close_delay_us = 3ull * 1000000;       // first packet of a side is a FIN (Zeek tcp_partial_close_delay)
    uint64_t msl_us = 60ull * 1000000;                      // TIME-WAIT lasts 2*MSL (RFC 9293: MSL 2 min; Linux uses 60 s for 2MSL)
};

// What the caller must do after update().
enum class Action : uint8_t {
    Continue,  // state updated
    Reuse,     // this packet opens a new connection on the same 4-tuple: emit the old
               // record (EndReason::Reused), then init() a fresh one with this packet.
               // The packet was not applied.
};

// Starts a connection with its first packet (which is also counted and tracked).
// `sender_lo`: whether the packet's sender is the key's lo endpoint.
void init(Conn& c, ConnCold& cold, const parse::PacketView& v, bool sender_lo, uint64_t ts_us) noexcept;
// init() without its fast path for a clean first SYN: the first packet through the
// full Zeek and RFC models. The reference the fast path is tested against.
void init_general(Conn& c, ConnCold& cold, const parse::PacketView& v, bool sender_lo, uint64_t ts_us) noexcept;

// Tracks one more packet of an existing connection. Precondition: the connection
// has not expired by ts_us (!expired(c, ts_us, cfg)); the caller checks that first
// and, if it has, ends the connection instead. Not checked again here: it would
// cost a second deadline() per packet (asserted in debug builds).
Action update(Conn& c, ConnCold& cold, const parse::PacketView& v, bool sender_lo, uint64_t ts_us,
              const TrackerConfig& cfg) noexcept;

// update() without its fast path for in-order segments of established connections:
// every packet through the full Zeek and RFC models. The reference the fast path
// is tested against (same precondition as update()).
Action update_general(Conn& c, ConnCold& cold, const parse::PacketView& v, bool sender_lo, uint64_t ts_us) noexcept;
// The fast path alone: applies the packet and returns true when it is an in-order
// segment of an established connection that the general path would treat exactly
// so; otherwise changes nothing and returns false.
bool update_fast(Conn& c, ConnCold& cold, const parse::PacketView& v, bool sender_lo, uint64_t ts_us) noexcept;

// Capture time (us) at which the connection should end if no packet arrives
// before then; the timer wheel re-checks this lazily.
uint64_t deadline(const Conn& c, const TrackerConfig& cfg) noexcept;

// Whether the connection has ended by `now_us` (now_us >= deadline()). The engine
// should check this before update() and, if so, make_record(expiry_reason(c))
// and init() a fresh connection with the packet: Zeek removes connections on
// fixed timers (attempt 5 s after the SYN, 5 s after the close) that later
// packets do not extend.
//
// Asked for every packet, and nearly always no: deadline() is never earlier than
// the shortest timeout after the last packet, nor (with a timer armed) than the
// shortest delay after the event that armed it, so within both it is not called.
inline bool expired(const Conn& c, uint64_t now_us, const TrackerConfig& cfg) noexcept {
    const uint64_t quiet = std::min(std::min(cfg.syn_timeout_us, cfg.half_open_timeout_us),
                                    std::min(cfg.established_timeout_us, cfg.closing_timeout_us));
    const uint64_t delay = std::min(std::min(cfg.syn_timeout_us, cfg.close_delay_us),
                                    std::min(cfg.reset_delay_us, cfg.partial_close_delay_us));
    if (now_us < c.last_ts_us + quiet && (c.timer == TimerKind::None || now_us < c.timer_at_us + delay)) return false;
    return now_us >= deadline(c, cfg);
}

// EndReason for a connection whose deadline passed: Closed after a FIN/RST
// exchange, Timeout otherwise.
EndReason expiry_reason(const Conn& c) noexcept;

// Handshake not completed: a candidate for eviction under SYN floods.
bool is_embryonic(const Conn& c) noexcept;
// True when init() from this first packet is sure to make an embryonic connection
// (a clean SYN), without making it; false when only init() can tell.
bool opens_embryonic(const parse::PacketView& v) noexcept;

// Endpoint state of the originator / responder (netstat view) at time now_us
// (TIME-WAIT ends 2*MSL after it began, then the endpoint is CLOSED).
TcpState orig_state(const Conn& c, uint64_t now_us, const TrackerConfig& cfg) noexcept;
TcpState resp_state(const Conn& c, uint64_t now_us, const TrackerConfig& cfg) noexcept;

// Fills the record of a connection that ends now.
void make_record(const Conn& c, const ConnCold& cold, const flow::FlowKey& key, EndReason why,
                 uint64_t now_us, const TrackerConfig& cfg, ConnRecord& out) noexcept;

}  // namespace ws::track
