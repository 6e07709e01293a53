#include "report/summary.hpp"

#include <cstdio>

#include "parse/packet.hpp"

namespace ws::report {
namespace {

void kv(std::string& o, const char* k, uint64_t v, bool comma = true) {
    o += '"';
    o += k;
    o += "\":";
    o += std::to_string(v);
    if (comma) o += ',';
}

std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

std::string json_str(const std::string& s) {
    std::string o = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') { o += '\\'; o += c; }
        else if (static_cast<unsigned char>(c) < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", c);
            o += b;
        } else o += c;
    }
    return o + "\"";
}

}  // namespace

std::string stats_json(const RunSummary& s) {
    const auto& t = s.totals;
    std::string o = "{";
    o += "\"source\":" + json_str(s.source) + ",\"link\":" + json_str(s.link) + ",\"reader\":" + json_str(s.reader) + ",";
    kv(o, "packets_rx", t.packets_rx);
    kv(o, "packets_tcp", t.packets_tcp);
    kv(o, "packets_non_tcp", t.packets_non_tcp);
    kv(o, "packets_filtered", t.packets_filtered);
    o += "\"packets_malformed\":{";
    kv(o, "total", t.packets_malformed, false);
    for (size_t i = 1; i < parse::kReasonCount; ++i) {
        o += ',';
        kv(o, std::string(parse::reason_name(static_cast<parse::Reason>(i))).c_str(), t.malformed[i], false);
    }
    o += "},";
    kv(o, "fragments", t.fragments);
    kv(o, "tcp_bad_checksum", t.tcp_bad_checksum);
    kv(o, "tcp_untracked", t.tcp_untracked);
    kv(o, "payload_bytes", t.payload_bytes);
    kv(o, "flow_table_size", s.flow_table_size);
    kv(o, "connections_created", t.connections_created);
    kv(o, "connections_closed", t.connections_closed);
    kv(o, "connections_expired", t.connections_expired);
    kv(o, "connections_evicted", t.connections_evicted);
    kv(o, "connections_evicted_embryonic", t.connections_evicted_embryonic);
    kv(o, "connections_flushed", t.connections_flushed);
    kv(o, "records_written", s.records_written);
    kv(o, "records_dropped", t.records_dropped);
    kv(o, "port_rx_errors", s.port_rx_errors);
    kv(o, "rx_ring_drops", s.rx_ring_drops);
    kv(o, "capture_unread_bytes", s.capture_unread_bytes);
    kv(o, "alerts", s.alerts);
    kv(o, "detect_reports_dropped", s.detect_reports_dropped);
    o += "\"conn_state\":{";
    for (int i = 0; i < track::kZeekStateCount; ++i) {
        if (i) o += ',';
        kv(o, std::string(track::zeek_state_name(static_cast<track::ZeekState>(i))).c_str(), s.conn_state[i], false);
    }
    o += "},\"tcp_state\":{";
    for (int i = 0; i < track::kTcpStateCount; ++i) {
        if (i) o += ',';
        kv(o, std::string(track::tcp_state_name(static_cast<track::TcpState>(i))).c_str(), s.tcp_state[i], false);
    }
    o += "},";
    o += "\"startup_s\":" + fmt("%.6f", s.startup_s) + ",";
    o += "\"duration_s\":" + fmt("%.6f", s.duration_s) + ",";
    o += "\"mpps\":" + fmt("%.4f", s.mpps()) + ",";
    o += "\"workers\":[";
    for (size_t i = 0; i < s.workers.size(); ++i) {
        if (i) o += ',';
        o += "{";
        kv(o, "lcore", s.workers[i].lcore);
        kv(o, "packets", s.workers[i].packets);
        o += "\"cycles_per_packet\":" + fmt("%.1f", s.workers[i].cycles_per_packet) + "}";
    }
    o += "]}\n";
    return o;
}

std::string human_summary(const RunSummary& s) {
    const auto& t = s.totals;
    std::string o;
    char b[512];
    std::snprintf(b, sizeof b, "wirestate: %s (%s): %llu packets in %.3f s, %.2f Mpps, %zu worker%s\n",
                  s.source.c_str(), s.link.c_str(), static_cast<unsigned long long>(t.packets_rx), s.duration_s,
                  s.mpps(), s.workers.size(), s.workers.size() == 1 ? "" : "s");
    o += b;
    std::snprintf(b, sizeof b, "packets: tcp %llu, non-tcp %llu, filtered %llu, malformed %llu",
                  static_cast<unsigned long long>(t.packets_tcp), static_cast<unsigned long long>(t.packets_non_tcp),
                  static_cast<unsigned long long>(t.packets_filtered),
                  static_cast<unsigned long long>(t.packets_malformed));
    o += b;
    if (t.packets_malformed) {
        o += " (";
        bool first = true;
        for (size_t i = 1; i < parse::kReasonCount; ++i) {
            if (!t.malformed[i]) continue;
            if (!first) o += ", ";
            first = false;
            o += std::string(parse::reason_name(static_cast<parse::Reason>(i))) + " " + std::to_string(t.malformed[i]);
        }
        o += ")";
    }
    o += "\n";
    std::snprintf(b, sizeof b,
                  "connections: %llu (closed %llu, expired %llu, evicted %llu, still open at end %llu); "
                  "records written %llu, dropped %llu\n",
                  static_cast<unsigned long long>(t.connections_created),
                  static_cast<unsigned long long>(t.connections_closed),
                  static_cast<unsigned long long>(t.connections_expired),
                  static_cast<unsigned long long>(t.connections_evicted),
                  static_cast<unsigned long long>(t.connections_flushed),
                  static_cast<unsigned long long>(s.records_written),
                  static_cast<unsigned long long>(t.records_dropped));
    o += b;
    if (s.port_rx_errors || s.rx_ring_drops || t.tcp_untracked || s.capture_unread_bytes) {
        std::snprintf(b, sizeof b,
                      "lost: port rx errors %llu, rx ring drops %llu, tcp untracked (table full) %llu, "
                      "capture bytes unread (damaged record) %llu\n",
                      static_cast<unsigned long long>(s.port_rx_errors),
                      static_cast<unsigned long long>(s.rx_ring_drops),
                      static_cast<unsigned long long>(t.tcp_untracked),
                      static_cast<unsigned long long>(s.capture_unread_bytes));
        o += b;
    }
    if (s.alerts) o += "alerts: " + std::to_string(s.alerts) + "\n";
    o += "conn_state:";
    for (int i = 0; i < track::kZeekStateCount; ++i)
        if (s.conn_state[i])
            o += " " + std::string(track::zeek_state_name(static_cast<track::ZeekState>(i))) + " " +
                 std::to_string(s.conn_state[i]);
    // `netstat -n` lists connections, not listening or closed sockets: neither do we
    // here (the statistics JSON keeps every state).
    o += "\nendpoint states (netstat -n on every host at once):\n";
    for (int i = 0; i < track::kTcpStateCount; ++i) {
        auto st = static_cast<track::TcpState>(i);
        if (s.tcp_state[i] && st != track::TcpState::Closed && st != track::TcpState::Listen)
            o += "  " + std::string(track::tcp_state_name(st)) + " " + std::to_string(s.tcp_state[i]) + "\n";
    }
    return o;
}

std::string connection_table(const std::vector<track::ConnRecord>& recs, uint64_t more) {
    std::string o;
    char b[512];
    std::snprintf(b, sizeof b, "%-5s %-46s %-46s %-12s %-12s %-7s %s\n", "Proto", "Originator", "Responder",
                  "Orig state", "Resp state", "Zeek", "History");
    o += b;
    for (const auto& r : recs) {
        char oh[64], rh[64];
        parse::format_addr(r.orig_h, oh, sizeof oh);
        parse::format_addr(r.resp_h, rh, sizeof rh);
        std::string os = std::string(oh) + ":" + std::to_string(r.orig_p);
        std::string rs = std::string(rh) + ":" + std::to_string(r.resp_p);
        std::snprintf(b, sizeof b, "%-5s %-46s %-46s %-12s %-12s %-7s %s\n", "tcp", os.c_str(), rs.c_str(),
                      std::string(track::tcp_state_name(r.orig_state)).c_str(),
                      std::string(track::tcp_state_name(r.resp_state)).c_str(),
                      std::string(track::zeek_state_name(r.conn_state)).c_str(), r.history[0] ? r.history : "-");
        o += b;
    }
    if (more) o += "... and " + std::to_string(more) + " more connections\n";
    return o;
}

}  // namespace ws::report
