// Test helper: drives the tracker the way the engine does, from packets written
// like tcpdump prints them, so that scenarios read like captures.
//
//   Session s(ep("114.242.250.59", 41033), ep("172.17.51.219", 443));
//   s.client("[S] seq 1328522649 win 65535 mss 1360 wscale 6 sackOK TS", 0.0);
//   s.server("[S.] seq 466300160 ack 1328522650 win 28960 mss 1460", 0.001);
//
// Description tokens (commas and option brackets are ignored, so tcpdump text
// can be pasted): "[FLAGS]" with S F R P . (ACK) U E W; "seq N" or "seq A:B";
// "ack N"; "win N"; "length N"; "mss N"; "wscale N"; "sackOK"; "TS"; "badsum".
// Without "length", a "seq A:B" range gives the payload length. Without "seq",
// Session uses the sender's next sequence number (as tcpdump omits it).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "flow/flow_key.hpp"
#include "parse/packet.hpp"
#include "track/conn.hpp"
#include "track/tracker.hpp"

namespace ws::track::testing {

struct Endpoint {
    parse::Addr addr;
    uint16_t port;
};

Endpoint ep(const char* dotted_quad, uint16_t port);

parse::PacketView make_view(std::string_view desc, const Endpoint& src, const Endpoint& dst,
                            bool* had_seq = nullptr);

// One 4-tuple, driven like engine::Shard drives it: expiry checked before each
// packet, Action::Reuse answered by emitting the old record and starting anew.
class Session {
public:
    Session(Endpoint client, Endpoint server, TrackerConfig cfg = {});

    // A packet from the client / server at `t_sec` seconds after the start.
    Action client(std::string_view desc, double t_sec);
    Action server(std::string_view desc, double t_sec);

    // Inferred RFC state of the client / server at `t_sec` (default: last packet).
    TcpState client_state(double t_sec = -1) const;
    TcpState server_state(double t_sec = -1) const;

    // The record of the current connection if it ended now.
    ConnRecord record(EndReason why = EndReason::Flushed) const;
    // Records emitted so far because connections ended (expiry or reuse).
    const std::vector<ConnRecord>& ended() const { return ended_; }

    Role client_role() const;
    uint64_t now_us() const { return now_; }

    Conn conn{};
    ConnCold cold{};
    TrackerConfig cfg;

private:
    Action send(bool from_client, std::string_view desc, double t_sec);
    TcpState state_of(bool client, double t_sec) const;

    Endpoint client_, server_;
    flow::FlowKey key_{};
    bool started_ = false;
    uint64_t now_ = 0;
    std::vector<ConnRecord> ended_;
    uint32_t next_seq_[2] = {0, 0};  // client, server: seq after the last packet sent
};

inline constexpr uint64_t kBaseUs = 1'600'000'000ull * 1'000'000ull;
inline uint64_t at_us(double t_sec) { return kBaseUs + static_cast<uint64_t>(t_sec * 1e6 + 0.5); }

}  // namespace ws::track::testing

#include <ostream>

namespace ws::track {
// Readable gtest failure messages.
inline void PrintTo(TcpState s, std::ostream* os) { *os << tcp_state_name(s); }
inline void PrintTo(ZeekState s, std::ostream* os) { *os << zeek_state_name(s); }
inline void PrintTo(Action a, std::ostream* os) { *os << (a == Action::Reuse ? "Reuse" : "Continue"); }
}  // namespace ws::track
