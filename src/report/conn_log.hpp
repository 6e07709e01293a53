// The connection log: one line per finished connection, in Zeek's conn.log
// layout (TSV, so zeek-cut and existing Zeek tooling read it) or as JSON lines
// with Zeek's field names. Runs on the management core, never per packet.
//
// TSV columns: Zeek's 21 conn.log fields (without the newer ip_proto), then ours:
//
//   field           type      meaning                                          unset ('-') when
//   orig_tcp_state  string    RFC 9293 state of the originator at the end      never
//   resp_tcp_state  string    RFC 9293 state of the responder at the end       never
//   closed_first    string    who sent the first FIN/RST: orig, resp, both     nobody closed
//   rtt_syn_synack  interval  SYN -> SYN-ACK as seen at the tap (seconds)      not measured
//   rtt_synack_ack  interval  SYN-ACK -> ACK as seen at the tap (seconds)      not measured
//   orig_mss        count     MSS option of the originator's SYN               not offered/seen
//   resp_mss        count     MSS option of the responder's SYN-ACK            not offered/seen
//   orig_wscale     count     window scale option of the originator's SYN      not offered/seen
//   resp_wscale     count     window scale option of the responder's SYN-ACK   not offered/seen
//   orig_sack       bool      originator offered SACK-permitted                no SYN from it seen
//   resp_sack       bool      responder offered SACK-permitted                 no SYN-ACK seen
//   orig_ts         bool      originator offered timestamps                    no SYN from it seen
//   resp_ts         bool      responder offered timestamps                     no SYN-ACK seen
//   syn_retrans     count     retransmitted SYNs                               never
//   synack_retrans  count     retransmitted SYN-ACKs                           never
//   end_reason      string    closed, timeout, reused, evicted, flushed        never
//
// Whether a side's SYN was seen is read from the history: 'S'/'H' (originator)
// and 's'/'h' (responder), the letters Zeek records for a SYN and a SYN-ACK.
//
// Zeek rules followed (scripts/base/protocols/conn/main.zeek, set_conn()):
//  - duration, orig_bytes and resp_bytes are set only when duration > 0, so a
//    one-packet connection prints '-' for all three; orig_bytes/resp_bytes are
//    also '-' when the tracker had no usable sequence range (!bytes_known).
//  - history is set only when non-empty; service, local_orig, local_resp and
//    tunnel_parents are never set by wirestate, so they print '-'.
//  - time and interval print with 6 decimals and trailing zeros
//    (threading/formatters/Ascii.cc renders them with "%.6f").
// Deviations: #open/#close are in UTC (Zeek uses the host's local time) so the
// header does not depend on TZ; JSON prints time and interval with exactly 6
// decimals (Zeek's rapidjson prints the shortest round-trip double, which for
// microsecond timestamps is the same value, minus float noise on durations).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "track/record.hpp"

namespace ws::report {

// Zeek-style connection uid: 'C' then base62 of a 96-bit value, here always 17
// digits (11 for the first 64 bits, 6 for the last 32), so 18 characters.
inline constexpr size_t kUidLength = 18;

// Writes the uid of `r` (no NUL) into out[0..kUidLength). Deterministic: a hash
// of the direction-free flow key and the first packet's timestamp, so the same
// capture yields the same uids however many workers processed it.
void write_uid(const track::ConnRecord& r, char* out) noexcept;
std::string make_uid(const track::ConnRecord& r);

// "YYYY-MM-DD-HH-MM-SS" in UTC, as in the #open and #close lines.
std::string log_time(uint64_t epoch_s);

class ConnLogWriter {
public:
    enum class Format : uint8_t { Zeek, Json };

    explicit ConnLogWriter(Format f) noexcept : format_(f) {}
    Format format() const noexcept { return format_; }

    // The '#'-prefixed preamble ending with #types (TSV); empty for JSON.
    std::string header(uint64_t open_time_s) const;
    // Appends one record as one line, '\n' included. `out` is the caller's
    // reusable buffer: nothing is allocated once it has grown.
    void append(const track::ConnRecord& r, std::string& out) const;
    // "#close\t<date>\n" (TSV); empty for JSON.
    std::string footer(uint64_t close_time_s) const;

private:
    void append_tsv(const track::ConnRecord& r, std::string& out) const;
    void append_json(const track::ConnRecord& r, std::string& out) const;

    Format format_;
};

}  // namespace ws::report
