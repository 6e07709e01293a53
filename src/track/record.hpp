// One finished connection, as handed from a worker to the management core and
// written to the connection log. A plain fixed-size struct: it travels through a
// ring by pointer into a preallocated pool, never allocated per connection.
#pragma once

#include <cstdint>
#include <string_view>
#include <type_traits>

#include "parse/packet.hpp"

namespace ws::track {

// RFC 9293 section 3.3.2 connection states, one per endpoint: what `netstat`
// would print on that host.
enum class TcpState : uint8_t {
    Closed, Listen, SynSent, SynReceived, Established,
    FinWait1, FinWait2, CloseWait, Closing, LastAck, TimeWait,
};
inline constexpr int kTcpStateCount = 11;
// netstat spelling: "SYN_SENT", "TIME_WAIT", ...
std::string_view tcp_state_name(TcpState s) noexcept;

// Zeek's conn_state summary (base/protocols/conn/main.zeek).
enum class ZeekState : uint8_t { S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH };
inline constexpr int kZeekStateCount = 13;
std::string_view zeek_state_name(ZeekState s) noexcept;

// Why the record was written.
enum class EndReason : uint8_t {
    Closed,     // close/reset delay elapsed after FIN/RST exchange (Zeek's close/reset timers)
    Timeout,    // an inactivity timeout of its state fired
    Reused,     // a new SYN reopened the same 4-tuple; the old connection ends here
    Evicted,    // removed to make room (table full)
    Flushed,    // end of capture or shutdown
};
std::string_view end_reason_name(EndReason r) noexcept;

enum class Closer : uint8_t { None, Orig, Resp, Both };  // who sent the first FIN/RST

// Fields go from the widest to the narrowest, so that the struct has no padding:
// make_record() writes every byte of it (no clearing first), and two records of the
// same connection are equal byte for byte.
struct ConnRecord {
    uint64_t ts_us;        // first packet, capture time, microseconds since the epoch
    uint64_t duration_us;  // last packet - first packet
    uint64_t orig_bytes, resp_bytes;  // payload bytes per Zeek (from sequence numbers)
    uint64_t orig_pkts, resp_pkts;
    uint64_t orig_ip_bytes, resp_ip_bytes;
    uint64_t orig_payload, resp_payload;  // payload bytes summed from IP/TCP header lengths
    uint64_t missed_bytes;
    parse::Addr orig_h, resp_h;

    // Handshake, 0 = not seen. RTT halves as seen at the tap.
    uint32_t rtt_syn_synack_us, rtt_synack_ack_us;
    uint32_t orig_isn, resp_isn;
    uint32_t keepalives;    // keep-alive probes seen (both directions)
    uint32_t invalid_pkts;  // packets outside the window, counted but not moving state
    uint16_t orig_p, resp_p;
    uint16_t orig_mss, resp_mss;
    int8_t orig_wscale, resp_wscale;  // -1 = not offered
    bool orig_sack_ok, resp_sack_ok, orig_ts, resp_ts;
    uint8_t syn_retrans, synack_retrans;
    bool simultaneous_open;

    bool bytes_known;  // false: Zeek prints '-' (no usable sequence range)
    ZeekState conn_state;
    TcpState orig_state, resp_state;  // inferred RFC state of each endpoint at the end
    Closer closed_first;
    EndReason end;
    bool midstream;    // no SYN seen: picked up mid-connection
    char history[32];  // NUL-terminated Zeek history string, "-" semantics left to the writer
};
static_assert(std::is_trivially_copyable_v<ConnRecord>);
static_assert(std::has_unique_object_representations_v<ConnRecord>, "padding in ConnRecord");

}  // namespace ws::track
