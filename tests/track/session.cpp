#include "session.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ws::track::testing {

Endpoint ep(const char* dotted_quad, uint16_t port) {
    Endpoint e{};
    e.addr[10] = 0xff;
    e.addr[11] = 0xff;
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (std::sscanf(dotted_quad, "%u.%u.%u.%u", &a, &b, &c, &d) != 4) throw std::invalid_argument(dotted_quad);
    e.addr[12] = static_cast<uint8_t>(a);
    e.addr[13] = static_cast<uint8_t>(b);
    e.addr[14] = static_cast<uint8_t>(c);
    e.addr[15] = static_cast<uint8_t>(d);
    e.port = port;
    return e;
}

namespace {

// make_record() does not clear the record first: each call here also makes it over
// bytes of garbage, which must come out equal to the one made over zeros.
ConnRecord record_of(const Conn& conn, const ConnCold& cold, const flow::FlowKey& key, EndReason why,
                     uint64_t now, const TrackerConfig& cfg) {
    ConnRecord r{}, over_garbage;
    std::memset(&over_garbage, 0xa5, sizeof over_garbage);
    make_record(conn, cold, key, why, now, cfg, r);
    make_record(conn, cold, key, why, now, cfg, over_garbage);
    EXPECT_EQ(std::memcmp(&r, &over_garbage, sizeof r), 0) << "make_record left a byte of the record unwritten";
    return r;
}

std::vector<std::string> tokens(std::string_view desc) {
    std::vector<std::string> out;
    std::string cur;
    auto flush = [&] {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
    };
    bool in_flags = false;
    for (char ch : desc) {
        if (!in_flags && ch == '[' && cur.empty() && out.empty()) {
            in_flags = true;
            cur.push_back('[');
            continue;
        }
        if (in_flags) {
            cur += ch;
            if (ch == ']') {
                in_flags = false;
                flush();
            }
            continue;
        }
        if (ch == ' ' || ch == ',' || ch == '[' || ch == ']') flush();
        else cur += ch;
    }
    flush();
    return out;
}

uint32_t num(const std::vector<std::string>& t, size_t k) {
    if (k >= t.size()) throw std::invalid_argument("missing number");
    return static_cast<uint32_t>(std::stoul(t[k]));
}

}  // namespace

parse::PacketView make_view(std::string_view desc, const Endpoint& src, const Endpoint& dst, bool* had_seq) {
    parse::PacketView v{};
    v.kind = parse::Kind::Tcp;
    v.ip_version = 4;
    v.src = src.addr;
    v.dst = dst.addr;
    v.sport = src.port;
    v.dport = dst.port;
    v.window = 8192;
    bool have_len = false;
    uint32_t range_len = 0;
    uint32_t opt_bytes = 0;
    auto t = tokens(desc);
    for (size_t k = 0; k < t.size(); ++k) {
        const std::string& w = t[k];
        if (w.front() == '[') {
            for (char f : w) {
                switch (f) {
                    case 'S': v.flags |= parse::flag::Syn; break;
                    case 'F': v.flags |= parse::flag::Fin; break;
                    case 'R': v.flags |= parse::flag::Rst; break;
                    case 'P': v.flags |= parse::flag::Psh; break;
                    case '.': v.flags |= parse::flag::Ack; break;
                    case 'U': v.flags |= parse::flag::Urg; break;
                    case 'E': v.flags |= parse::flag::Ece; break;
                    case 'W': v.flags |= parse::flag::Cwr; break;
                    default: break;
                }
            }
        } else if (w == "seq") {
            if (had_seq) *had_seq = true;
            const std::string& s = t.at(++k);
            auto colon = s.find(':');
            if (colon == std::string::npos) {
                v.seq = static_cast<uint32_t>(std::stoul(s));
            } else {
                uint32_t a = static_cast<uint32_t>(std::stoul(s.substr(0, colon)));
                uint32_t b = static_cast<uint32_t>(std::stoul(s.substr(colon + 1)));
                v.seq = a;
                range_len = b - a;
            }
        } else if (w == "ack") {
            v.ack = num(t, ++k);
        } else if (w == "win") {
            v.window = static_cast<uint16_t>(num(t, ++k));
        } else if (w == "length") {
            v.payload_len = num(t, ++k);
            have_len = true;
        } else if (w == "mss") {
            v.opt.has_mss = true;
            v.opt.mss = static_cast<uint16_t>(num(t, ++k));
            opt_bytes += 4;
        } else if (w == "wscale") {
            v.opt.has_wscale = true;
            v.opt.wscale = static_cast<uint8_t>(num(t, ++k));
            opt_bytes += 3;
        } else if (w == "sackOK") {
            v.opt.sack_permitted = true;
            opt_bytes += 2;
        } else if (w == "TS") {
            v.opt.has_ts = true;
            opt_bytes += 10;
        } else if (w == "badsum") {
            v.checksum_checked = true;
            v.checksum_ok = false;
        }
    }
    if (!have_len) v.payload_len = range_len;
    v.tcp_hdr_len = static_cast<uint8_t>(20 + (opt_bytes + 3) / 4 * 4);
    v.ip_len = 20 + v.tcp_hdr_len + v.payload_len;
    v.captured_payload = v.payload_len;
    return v;
}

Session::Session(Endpoint client, Endpoint server, TrackerConfig c) : cfg(c), client_(client), server_(server) {}

Action Session::client(std::string_view desc, double t_sec) { return send(true, desc, t_sec); }
Action Session::server(std::string_view desc, double t_sec) { return send(false, desc, t_sec); }

Action Session::send(bool from_client, std::string_view desc, double t_sec) {
    const Endpoint& src = from_client ? client_ : server_;
    const Endpoint& dst = from_client ? server_ : client_;
    bool had_seq = false;
    parse::PacketView v = make_view(desc, src, dst, &had_seq);
    uint32_t& next = next_seq_[from_client ? 0 : 1];
    if (!had_seq) v.seq = next;
    if (!v.has(parse::flag::Rst))
        next = v.seq + v.payload_len + (v.has(parse::flag::Syn) ? 1u : 0u) + (v.has(parse::flag::Fin) ? 1u : 0u);
    flow::FlowKey k{};
    bool sender_lo = flow::make_key(v, k);
    now_ = at_us(t_sec);
    if (!started_) {
        key_ = k;
        init(conn, cold, v, sender_lo, now_);
        started_ = true;
        return Action::Continue;
    }
    // As the engine: a connection whose deadline passed ends before this packet.
    if (expired(conn, now_, cfg)) {
        ended_.push_back(record_of(conn, cold, key_, expiry_reason(conn), now_, cfg));
        init(conn, cold, v, sender_lo, now_);
        return Action::Reuse;
    }
    Action a = update(conn, cold, v, sender_lo, now_, cfg);
    if (a == Action::Reuse) {
        ended_.push_back(record_of(conn, cold, key_, EndReason::Reused, now_, cfg));
        init(conn, cold, v, sender_lo, now_);
    }
    return a;
}

Role Session::client_role() const {
    parse::PacketView v = make_view("[.]", client_, server_);
    flow::FlowKey k{};
    return role_of(conn, flow::make_key(v, k));
}

TcpState Session::state_of(bool client, double t_sec) const {
    uint64_t t = t_sec < 0 ? now_ : at_us(t_sec);
    Role r = client_role();
    if (!client) r = peer_of(r);
    return r == Role::Orig ? orig_state(conn, t, cfg) : resp_state(conn, t, cfg);
}

TcpState Session::client_state(double t_sec) const { return state_of(true, t_sec); }
TcpState Session::server_state(double t_sec) const { return state_of(false, t_sec); }

ConnRecord Session::record(EndReason why) const {
    return record_of(conn, cold, key_, why, now_, cfg);
}

}  // namespace ws::track::testing
