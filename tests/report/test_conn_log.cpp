// Connection log writer: Zeek conn.log TSV (what zeek-cut reads) and JSON lines.
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "report/conn_log.hpp"

namespace ws::report {
namespace {

using track::ConnRecord;

parse::Addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    parse::Addr m{};
    m[10] = m[11] = 0xff;
    m[12] = a; m[13] = b; m[14] = c; m[15] = d;
    return m;
}

// The 41033 -> 443 TLS session of seeds/004, closed normally.
ConnRecord tls_session() {
    ConnRecord r{};
    r.ts_us = 1300475167096535ull;
    r.duration_us = 99853;
    r.orig_h = v4(114, 242, 250, 59);
    r.resp_h = v4(172, 17, 51, 219);
    r.orig_p = 41033;
    r.resp_p = 443;
    r.orig_bytes = 616;
    r.resp_bytes = 3335;
    r.bytes_known = true;
    r.orig_pkts = 9;
    r.resp_pkts = 7;
    r.orig_ip_bytes = 1092;
    r.resp_ip_bytes = 3699;
    r.orig_payload = 616;
    r.resp_payload = 3335;
    r.missed_bytes = 0;
    r.conn_state = track::ZeekState::SF;
    std::strcpy(r.history, "ShADadFf");
    r.orig_state = track::TcpState::TimeWait;
    r.resp_state = track::TcpState::Closed;
    r.closed_first = track::Closer::Orig;
    r.end = track::EndReason::Closed;
    r.rtt_syn_synack_us = 38;
    r.rtt_synack_ack_us = 25583;
    r.orig_isn = 1328522649;
    r.resp_isn = 466300160;
    r.orig_mss = 1360;
    r.resp_mss = 1460;
    r.orig_wscale = 6;
    r.resp_wscale = 7;
    r.orig_sack_ok = r.resp_sack_ok = true;
    r.orig_ts = r.resp_ts = true;
    return r;
}

// A lone SYN that nobody answered (conn_state S0).
ConnRecord lone_syn() {
    ConnRecord r{};
    r.ts_us = 1300475168000001ull;
    r.orig_h = v4(10, 0, 0, 1);
    r.resp_h = v4(10, 0, 0, 2);
    r.orig_p = 50000;
    r.resp_p = 22;
    r.bytes_known = true;
    r.orig_pkts = 1;
    r.orig_ip_bytes = 60;
    r.conn_state = track::ZeekState::S0;
    std::strcpy(r.history, "S");
    r.orig_state = track::TcpState::SynSent;
    r.resp_state = track::TcpState::Listen;
    r.end = track::EndReason::Timeout;
    r.orig_mss = 1460;
    r.orig_wscale = 7;
    r.resp_wscale = -1;
    r.orig_sack_ok = true;
    return r;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        size_t p = s.find(sep, start);
        out.push_back(s.substr(start, p - start));
        if (p == std::string::npos) return out;
        start = p + 1;
    }
}

// Field names as the header's #fields line declares them.
std::vector<std::string> header_fields(const std::string& header, const char* line) {
    for (const std::string& l : split(header, '\n')) {
        if (l.rfind(line, 0) == 0) {
            auto cols = split(l, '\t');
            cols.erase(cols.begin());
            return cols;
        }
    }
    return {};
}

// One TSV line keyed by the header's field names, the way zeek-cut reads it.
std::map<std::string, std::string> tsv_record(const ConnRecord& r) {
    ConnLogWriter w(ConnLogWriter::Format::Zeek);
    std::string line;
    w.append(r, line);
    EXPECT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one record, one line";
    line.pop_back();
    auto names = header_fields(w.header(0), "#fields");
    auto values = split(line, '\t');
    EXPECT_EQ(names.size(), values.size());
    std::map<std::string, std::string> m;
    for (size_t i = 0; i < names.size() && i < values.size(); ++i) m[names[i]] = values[i];
    return m;
}

// ---- A minimal JSON reader: validates RFC 8259 syntax and flattens one object ----

class Json {
public:
    explicit Json(std::string_view s) : s_(s) {}

    // Parses a whole document holding one object; fills `fields` with name -> raw
    // scalar text (strings unescaped). Returns false on any syntax error.
    bool object(std::map<std::string, std::string>& fields) {
        ws();
        if (!eat('{')) return false;
        ws();
        if (eat('}')) return end();
        for (;;) {
            std::string key, value;
            ws();
            if (!string(key)) return false;
            ws();
            if (!eat(':')) return false;
            ws();
            if (!scalar(value)) return false;
            if (!fields.emplace(key, value).second) return false;  // duplicate key
            ws();
            if (eat('}')) return end();
            if (!eat(',')) return false;
        }
    }

private:
    bool end() {
        ws();
        return i_ == s_.size();
    }
    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }
    bool eat(char c) {
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool lit(std::string_view w) {
        if (s_.substr(i_, w.size()) != w) return false;
        i_ += w.size();
        return true;
    }
    bool string(std::string& out) {
        if (!eat('"')) return false;
        while (i_ < s_.size()) {
            auto c = static_cast<unsigned char>(s_[i_++]);
            if (c == '"') return true;
            if (c < 0x20) return false;  // raw control characters are not allowed
            if (c != '\\') {
                out.push_back(static_cast<char>(c));
                continue;
            }
            if (i_ >= s_.size()) return false;
            char e = s_[i_++];
            switch (e) {
                case '"': out.push_back('"'); break;
                case '\\': out.push_back('\\'); break;
                case '/': out.push_back('/'); break;
                case 'b': out.push_back('\b'); break;
                case 'f': out.push_back('\f'); break;
                case 'n': out.push_back('\n'); break;
                case 'r': out.push_back('\r'); break;
                case 't': out.push_back('\t'); break;
                case 'u': {
                    if (i_ + 4 > s_.size()) return false;
                    unsigned v = 0;
                    for (int k = 0; k < 4; ++k) {
                        char h = s_[i_++];
                        v <<= 4;
                        if (h >= '0' && h <= '9') v |= static_cast<unsigned>(h - '0');
                        else if (h >= 'a' && h <= 'f') v |= static_cast<unsigned>(h - 'a' + 10);
                        else if (h >= 'A' && h <= 'F') v |= static_cast<unsigned>(h - 'A' + 10);
                        else return false;
                    }
                    if (v > 0xff) return false;  // enough for this writer's output
                    out.push_back(static_cast<char>(v));
                    break;
                }
                default: return false;
            }
        }
        return false;
    }
    bool number(std::string& out) {
        size_t start = i_;
        eat('-');
        if (eat('0')) {
        } else if (i_ < s_.size() && s_[i_] >= '1' && s_[i_] <= '9') {
            while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
        } else {
            return false;
        }
        if (eat('.')) {
            size_t d = i_;
            while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
            if (i_ == d) return false;
        }
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            ++i_;
            if (!eat('+')) eat('-');
            size_t d = i_;
            while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
            if (i_ == d) return false;
        }
        out.assign(s_.substr(start, i_ - start));
        return true;
    }
    bool scalar(std::string& out) {
        if (i_ >= s_.size()) return false;
        if (s_[i_] == '"') return string(out);
        if (lit("true")) { out = "true"; return true; }
        if (lit("false")) { out = "false"; return true; }
        if (lit("null")) { out = "null"; return true; }
        return number(out);
    }

    std::string_view s_;
    size_t i_ = 0;
};

std::map<std::string, std::string> json_record(const ConnRecord& r) {
    ConnLogWriter w(ConnLogWriter::Format::Json);
    std::string line;
    w.append(r, line);
    EXPECT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one record, one line";
    std::map<std::string, std::string> m;
    EXPECT_TRUE(Json(line).object(m)) << "invalid JSON: " << line;
    return m;
}

// ---- TSV -----------------------------------------------------------------------

TEST(ConnLog, HeaderLinesMatchZeek) {
    ConnLogWriter w(ConnLogWriter::Format::Zeek);
    const std::string expected =
        "#separator \\x09\n"
        "#set_separator\t,\n"
        "#empty_field\t(empty)\n"
        "#unset_field\t-\n"
        "#path\tconn\n"
        "#open\t2011-03-18-19-06-07\n"
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\t"
        "orig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\t"
        "orig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\t"
        "orig_tcp_state\tresp_tcp_state\tclosed_first\trtt_syn_synack\trtt_synack_ack\t"
        "orig_mss\tresp_mss\torig_wscale\tresp_wscale\torig_sack\tresp_sack\torig_ts\tresp_ts\t"
        "syn_retrans\tsynack_retrans\tend_reason\n"
        "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\t"
        "string\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\t"
        "string\tstring\tstring\tinterval\tinterval\tcount\tcount\tcount\tcount\t"
        "bool\tbool\tbool\tbool\tcount\tcount\tstring\n";
    EXPECT_EQ(w.header(1300475167), expected);
}

TEST(ConnLog, FooterIsCloseLine) {
    ConnLogWriter w(ConnLogWriter::Format::Zeek);
    EXPECT_EQ(w.footer(1300475170), "#close\t2011-03-18-19-06-10\n");
}

TEST(ConnLog, FieldsAndTypesLinesHaveSameWidth) {
    std::string h = ConnLogWriter(ConnLogWriter::Format::Zeek).header(0);
    auto fields = header_fields(h, "#fields");
    auto types = header_fields(h, "#types");
    EXPECT_EQ(fields.size(), 21u + 16u);
    EXPECT_EQ(fields.size(), types.size());
    EXPECT_EQ(std::set<std::string>(fields.begin(), fields.end()).size(), fields.size()) << "duplicate name";
}

TEST(ConnLog, TsvLineFieldByField) {
    auto f = tsv_record(tls_session());
    EXPECT_EQ(f["ts"], "1300475167.096535");
    EXPECT_EQ(f["uid"], make_uid(tls_session()));
    EXPECT_EQ(f["id.orig_h"], "114.242.250.59");
    EXPECT_EQ(f["id.orig_p"], "41033");
    EXPECT_EQ(f["id.resp_h"], "172.17.51.219");
    EXPECT_EQ(f["id.resp_p"], "443");
    EXPECT_EQ(f["proto"], "tcp");
    EXPECT_EQ(f["service"], "-");
    EXPECT_EQ(f["duration"], "0.099853");
    EXPECT_EQ(f["orig_bytes"], "616");
    EXPECT_EQ(f["resp_bytes"], "3335");
    EXPECT_EQ(f["conn_state"], "SF");
    EXPECT_EQ(f["local_orig"], "-");
    EXPECT_EQ(f["local_resp"], "-");
    EXPECT_EQ(f["missed_bytes"], "0");
    EXPECT_EQ(f["history"], "ShADadFf");
    EXPECT_EQ(f["orig_pkts"], "9");
    EXPECT_EQ(f["orig_ip_bytes"], "1092");
    EXPECT_EQ(f["resp_pkts"], "7");
    EXPECT_EQ(f["resp_ip_bytes"], "3699");
    EXPECT_EQ(f["tunnel_parents"], "-");
    EXPECT_EQ(f["orig_tcp_state"], "TIME_WAIT");
    EXPECT_EQ(f["resp_tcp_state"], "CLOSED");
    EXPECT_EQ(f["closed_first"], "orig");
    EXPECT_EQ(f["rtt_syn_synack"], "0.000038");
    EXPECT_EQ(f["rtt_synack_ack"], "0.025583");
    EXPECT_EQ(f["orig_mss"], "1360");
    EXPECT_EQ(f["resp_mss"], "1460");
    EXPECT_EQ(f["orig_wscale"], "6");
    EXPECT_EQ(f["resp_wscale"], "7");
    EXPECT_EQ(f["orig_sack"], "T");
    EXPECT_EQ(f["resp_sack"], "T");
    EXPECT_EQ(f["orig_ts"], "T");
    EXPECT_EQ(f["resp_ts"], "T");
    EXPECT_EQ(f["syn_retrans"], "0");
    EXPECT_EQ(f["synack_retrans"], "0");
    EXPECT_EQ(f["end_reason"], "closed");
}

TEST(ConnLog, WholeTsvLineIsExact) {
    ConnLogWriter w(ConnLogWriter::Format::Zeek);
    std::string line;
    w.append(tls_session(), line);
    EXPECT_EQ(line, "1300475167.096535\t" + make_uid(tls_session()) +
                        "\t114.242.250.59\t41033\t172.17.51.219\t443\ttcp\t-\t0.099853\t616\t3335\tSF\t-\t-\t0\t"
                        "ShADadFf\t9\t1092\t7\t3699\t-\tTIME_WAIT\tCLOSED\torig\t0.000038\t0.025583\t1360\t1460\t"
                        "6\t7\tT\tT\tT\tT\t0\t0\tclosed\n");
}

TEST(ConnLog, AppendAddsToCallerBuffer) {
    // The management core batches lines into one buffer before each write().
    ConnLogWriter w(ConnLogWriter::Format::Zeek);
    std::string buf = "previous\n";
    w.append(tls_session(), buf);
    w.append(lone_syn(), buf);
    auto lines = split(buf, '\n');
    ASSERT_EQ(lines.size(), 4u);  // three lines and the empty tail
    EXPECT_EQ(lines[0], "previous");
    EXPECT_EQ(lines[1].substr(0, 17), "1300475167.096535");
    EXPECT_EQ(lines[2].substr(0, 17), "1300475168.000001");
}

TEST(ConnLog, SinglePacketConnectionHasNoDurationOrBytes) {
    // Zeek sets duration, orig_bytes and resp_bytes only when duration > 0.
    auto f = tsv_record(lone_syn());
    EXPECT_EQ(f["duration"], "-");
    EXPECT_EQ(f["orig_bytes"], "-");
    EXPECT_EQ(f["resp_bytes"], "-");
    EXPECT_EQ(f["conn_state"], "S0");
    EXPECT_EQ(f["history"], "S");
    EXPECT_EQ(f["orig_pkts"], "1");
    EXPECT_EQ(f["orig_ip_bytes"], "60");
    EXPECT_EQ(f["resp_pkts"], "0");
    EXPECT_EQ(f["resp_ip_bytes"], "0");
}

TEST(ConnLog, RetransmittedSynHasDurationAndZeroBytes) {
    ConnRecord r = lone_syn();
    r.duration_us = 3000000;  // SYN at 0 s and 3 s
    r.orig_pkts = 2;
    r.syn_retrans = 1;
    auto f = tsv_record(r);
    EXPECT_EQ(f["duration"], "3.000000");  // trailing zeros kept, as Zeek's Render()
    EXPECT_EQ(f["orig_bytes"], "0");
    EXPECT_EQ(f["resp_bytes"], "0");
    EXPECT_EQ(f["syn_retrans"], "1");
}

TEST(ConnLog, UnknownByteCountsPrintUnset) {
    ConnRecord r = tls_session();
    r.bytes_known = false;
    auto f = tsv_record(r);
    EXPECT_EQ(f["duration"], "0.099853");
    EXPECT_EQ(f["orig_bytes"], "-");
    EXPECT_EQ(f["resp_bytes"], "-");
}

TEST(ConnLog, EmptyHistoryPrintsUnset) {
    ConnRecord r = tls_session();
    r.history[0] = '\0';
    EXPECT_EQ(tsv_record(r)["history"], "-");
}

TEST(ConnLog, UnterminatedHistoryStopsAtItsArray) {
    ConnRecord r = tls_session();
    std::memset(r.history, 'D', sizeof r.history);  // no NUL: never read past the field
    EXPECT_EQ(tsv_record(r)["history"], std::string(sizeof r.history, 'D'));
}

TEST(ConnLog, ControlBytesInHistoryAreEscaped) {
    ConnRecord r = tls_session();
    std::strcpy(r.history, "S\tA\n");
    auto f = tsv_record(r);  // also checks the column count and the single line
    EXPECT_EQ(f["history"], "S\\x09A\\x0a");
}

TEST(ConnLog, TimestampKeepsTrailingZeros) {
    ConnRecord r = tls_session();
    r.ts_us = 1300475167000000ull;
    r.duration_us = 1000000;
    auto f = tsv_record(r);
    EXPECT_EQ(f["ts"], "1300475167.000000");
    EXPECT_EQ(f["duration"], "1.000000");
}

TEST(ConnLog, MidstreamPickupLeavesHandshakeFieldsUnset) {
    ConnRecord r = tls_session();
    std::strcpy(r.history, "DdAa");
    r.midstream = true;
    r.rtt_syn_synack_us = r.rtt_synack_ack_us = 0;
    r.orig_mss = r.resp_mss = 0;
    r.orig_wscale = r.resp_wscale = -1;
    r.orig_sack_ok = r.resp_sack_ok = r.orig_ts = r.resp_ts = false;
    r.closed_first = track::Closer::None;
    r.conn_state = track::ZeekState::OTH;
    r.end = track::EndReason::Flushed;
    auto f = tsv_record(r);
    for (const char* k : {"closed_first", "rtt_syn_synack", "rtt_synack_ack", "orig_mss", "resp_mss",
                          "orig_wscale", "resp_wscale", "orig_sack", "resp_sack", "orig_ts", "resp_ts"})
        EXPECT_EQ(f[k], "-") << k;
    EXPECT_EQ(f["conn_state"], "OTH");
    EXPECT_EQ(f["end_reason"], "flushed");
}

TEST(ConnLog, OptionsNotOfferedInSeenSynPrintFalse) {
    // The SYN was seen and had no SACK or timestamps: that is F, not unknown.
    auto f = tsv_record(lone_syn());
    EXPECT_EQ(f["orig_sack"], "T");
    EXPECT_EQ(f["orig_ts"], "F");
    EXPECT_EQ(f["orig_wscale"], "7");
    EXPECT_EQ(f["resp_wscale"], "-");  // no SYN-ACK
    EXPECT_EQ(f["resp_sack"], "-");
    EXPECT_EQ(f["resp_mss"], "-");
}

TEST(ConnLog, WindowScaleZeroIsPrinted) {
    ConnRecord r = tls_session();
    r.resp_wscale = 0;  // offered with shift 0: not the same as not offered
    EXPECT_EQ(tsv_record(r)["resp_wscale"], "0");
}

TEST(ConnLog, Ipv6AddressesFollowRfc5952) {
    ConnRecord r = tls_session();
    r.orig_h = parse::Addr{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
    r.resp_h = parse::Addr{0x24, 0x04, 0x68, 0x00, 0x40, 0x08, 0x0c, 0x07, 0, 0, 0, 0, 0, 0, 0, 0x71};
    auto f = tsv_record(r);
    EXPECT_EQ(f["id.orig_h"], "2001:db8::1");
    EXPECT_EQ(f["id.resp_h"], "2404:6800:4008:c07::71");
    auto j = json_record(r);
    EXPECT_EQ(j["id.orig_h"], "2001:db8::1");
}

TEST(ConnLog, EveryStateAndReasonHasAName) {
    ConnRecord r = tls_session();
    for (int s = 0; s < track::kZeekStateCount; ++s) {
        r.conn_state = static_cast<track::ZeekState>(s);
        std::string v = tsv_record(r)["conn_state"];
        EXPECT_NE(v, "?");
        EXPECT_FALSE(v.empty());
    }
    for (int s = 0; s < track::kTcpStateCount; ++s) {
        r.orig_state = static_cast<track::TcpState>(s);
        EXPECT_NE(tsv_record(r)["orig_tcp_state"], "?");
    }
}

// ---- JSON ----------------------------------------------------------------------

TEST(ConnLog, JsonIsValidAndUsesZeekNames) {
    auto j = json_record(tls_session());
    EXPECT_EQ(j["ts"], "1300475167.096535");
    EXPECT_EQ(j["uid"], make_uid(tls_session()));
    EXPECT_EQ(j["id.orig_h"], "114.242.250.59");
    EXPECT_EQ(j["id.orig_p"], "41033");
    EXPECT_EQ(j["id.resp_h"], "172.17.51.219");
    EXPECT_EQ(j["id.resp_p"], "443");
    EXPECT_EQ(j["proto"], "tcp");
    EXPECT_EQ(j["duration"], "0.099853");
    EXPECT_EQ(j["orig_bytes"], "616");
    EXPECT_EQ(j["resp_bytes"], "3335");
    EXPECT_EQ(j["conn_state"], "SF");
    EXPECT_EQ(j["missed_bytes"], "0");
    EXPECT_EQ(j["history"], "ShADadFf");
    EXPECT_EQ(j["orig_pkts"], "9");
    EXPECT_EQ(j["orig_ip_bytes"], "1092");
    EXPECT_EQ(j["resp_pkts"], "7");
    EXPECT_EQ(j["resp_ip_bytes"], "3699");
    EXPECT_EQ(j["orig_tcp_state"], "TIME_WAIT");
    EXPECT_EQ(j["closed_first"], "orig");
    EXPECT_EQ(j["rtt_syn_synack"], "0.000038");
    EXPECT_EQ(j["orig_mss"], "1360");
    EXPECT_EQ(j["orig_sack"], "true");
    EXPECT_EQ(j["resp_ts"], "true");
    EXPECT_EQ(j["end_reason"], "closed");
}

TEST(ConnLog, JsonFieldsComeInZeekOrder) {
    ConnLogWriter w(ConnLogWriter::Format::Json);
    std::string line;
    w.append(tls_session(), line);
    EXPECT_EQ(line.rfind("{\"ts\":1300475167.096535,\"uid\":\"", 0), 0u) << line;
    EXPECT_LT(line.find("\"id.resp_p\""), line.find("\"proto\""));
    EXPECT_LT(line.find("\"resp_ip_bytes\""), line.find("\"orig_tcp_state\""));
}

TEST(ConnLog, JsonOmitsUnsetFields) {
    auto j = json_record(lone_syn());
    for (const char* k : {"service", "duration", "orig_bytes", "resp_bytes", "local_orig", "local_resp",
                          "tunnel_parents", "closed_first", "rtt_syn_synack", "resp_mss", "resp_wscale",
                          "resp_sack", "resp_ts"})
        EXPECT_EQ(j.count(k), 0u) << k;
    EXPECT_EQ(j["history"], "S");
    EXPECT_EQ(j["orig_ts"], "false");
    EXPECT_EQ(j["resp_pkts"], "0");  // counts are set even when zero
    ConnRecord r = lone_syn();
    r.history[0] = '\0';
    EXPECT_EQ(json_record(r).count("history"), 0u);
}

TEST(ConnLog, JsonEscapesStrings) {
    ConnRecord r = tls_session();
    std::strcpy(r.history, "S\"\\\x01\xff");
    auto j = json_record(r);  // fails on invalid JSON
    EXPECT_EQ(j["history"], "S\"\\\x01\xff");
}

TEST(ConnLog, HeaderAndFooterAreEmptyForJson) {
    ConnLogWriter w(ConnLogWriter::Format::Json);
    EXPECT_EQ(w.header(1300475167), "");
    EXPECT_EQ(w.footer(1300475167), "");
}

// ---- uid -----------------------------------------------------------------------

TEST(Uid, HasZeekShape) {
    std::string uid = make_uid(tls_session());
    EXPECT_EQ(uid.size(), kUidLength);
    // ^C[0-9A-Za-z]{17}$
    ASSERT_FALSE(uid.empty());
    EXPECT_EQ(uid[0], 'C');
    for (size_t i = 1; i < uid.size(); ++i)
        EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(uid[i]))) << uid << " at " << i;
}

TEST(Uid, SameConnectionSameUid) {
    // Workers and runs differ; the uid must not.
    EXPECT_EQ(make_uid(tls_session()), make_uid(tls_session()));
    ConnRecord r = tls_session();
    r.duration_us += 5;  // what happened later does not change who it is
    r.orig_pkts += 3;
    r.end = track::EndReason::Evicted;
    EXPECT_EQ(make_uid(r), make_uid(tls_session()));
    char raw[kUidLength];
    write_uid(r, raw);
    EXPECT_EQ(std::string(raw, kUidLength), make_uid(r));
}

TEST(Uid, IsTheSameFromOneVersionToTheNext) {
    // Logs of the same capture join on uid across runs and releases: these are the
    // uids the first writer gave (IPv4; IPv6 with equal ports, so the address order
    // alone decides the key).
    EXPECT_EQ(make_uid(tls_session()), "CpjuQ4pqjGcckmPan3");
    EXPECT_EQ(make_uid(lone_syn()), "CABgbDJWTSvciDP551");
    ConnRecord r{};
    r.ts_us = 1735689600000148ull;
    r.orig_h = parse::Addr{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    r.resp_h = parse::Addr{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    r.orig_p = r.resp_p = 443;
    EXPECT_EQ(make_uid(r), "COKR8t4Bi44cVRh9b3");
}

TEST(Uid, DoesNotDependOnDirection) {
    // The flow key is direction-free: a tracker that flipped orig/resp names the same connection.
    ConnRecord a = tls_session(), b = tls_session();
    std::swap(b.orig_h, b.resp_h);
    std::swap(b.orig_p, b.resp_p);
    EXPECT_EQ(make_uid(a), make_uid(b));
}

TEST(Uid, ChangesWithTimestampAndEndpoints) {
    ConnRecord base = tls_session();
    std::string u = make_uid(base);
    ConnRecord r = base;
    r.ts_us += 1;
    EXPECT_NE(make_uid(r), u);
    r = base;
    r.orig_p += 1;
    EXPECT_NE(make_uid(r), u);
    r = base;
    r.resp_h[15] ^= 1;
    EXPECT_NE(make_uid(r), u);
}

TEST(Uid, NoCollisionsAcrossManySimilarFlows) {
    // Port-scan-like input: same hosts, consecutive ports and microseconds.
    std::set<std::string> seen;
    ConnRecord r = lone_syn();
    for (uint32_t i = 0; i < 20000; ++i) {
        r.orig_p = static_cast<uint16_t>(1024 + i % 60000);
        r.ts_us = 1300475168000000ull + i / 4;
        ASSERT_TRUE(seen.insert(make_uid(r)).second) << i;
    }
}

TEST(Uid, DigitsAreSpreadOverTheAlphabet) {
    // A weak mix would leave some positions nearly constant.
    ConnRecord r = lone_syn();
    std::vector<std::set<char>> per_pos(kUidLength);
    for (uint32_t i = 0; i < 2000; ++i) {
        r.ts_us = 1300475168000000ull + i;
        std::string u = make_uid(r);
        for (size_t p = 0; p < u.size(); ++p) per_pos[p].insert(u[p]);
    }
    EXPECT_EQ(per_pos[0].size(), 1u);  // the 'C'
    // Positions 11 and 17 are the top digits of the 64- and 32-bit parts (2^64 / 62^10
    // is about 22, 2^32 / 62^5 about 4.7), so only their low digits occur; every other
    // position should see most of the 62 digits.
    EXPECT_GT(per_pos[11].size(), 15u);
    EXPECT_GE(per_pos[17].size(), 4u);
    for (size_t p = 1; p < kUidLength; ++p) {
        if (p == 11 || p == 17) continue;
        EXPECT_GT(per_pos[p].size(), 50u) << "position " << p;
    }
}

// ---- log_time ------------------------------------------------------------------

TEST(LogTime, FormatsUtcDates) {
    EXPECT_EQ(log_time(0), "1970-01-01-00-00-00");
    EXPECT_EQ(log_time(951782400), "2000-02-29-00-00-00");  // leap day of a century leap year
    EXPECT_EQ(log_time(1300475167), "2011-03-18-19-06-07");
    EXPECT_EQ(log_time(1546300799), "2018-12-31-23-59-59");
    EXPECT_EQ(log_time(4102444799), "2099-12-31-23-59-59");
}

}  // namespace
}  // namespace ws::report
