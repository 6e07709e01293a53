#include "report/conn_log.hpp"

#include "flow/hash.hpp"

#include <array>
#include <charconv>
#include <cstring>

#include "flow/flow_key.hpp"
#include "parse/packet.hpp"

namespace ws::report {
namespace {

using track::ConnRecord;

// ---- uid -----------------------------------------------------------------------

using flow::mix64;

// Words are assembled little-endian from bytes so the uid does not depend on the
// host's byte order.
uint64_t load_le64(const uint8_t* p) noexcept {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

uint64_t hash_words(const uint64_t* w, size_t n, uint64_t seed) noexcept {
    uint64_t h = mix64(seed ^ n);
    for (size_t i = 0; i < n; ++i) h = mix64(h ^ w[i]) + 0x9e3779b97f4a7c15ull;
    return mix64(h);
}

constexpr char kBase62[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr uint32_t k62p3 = 62 * 62 * 62;
constexpr uint64_t k62p6 = uint64_t{k62p3} * k62p3;

// Three base-62 digits of v < 62^3, least significant first, as Zeek's uitoa_n
// writes them.
void put_base62x3(uint32_t v, char* out) noexcept {
    out[0] = kBase62[v % 62];
    out[1] = kBase62[v / 62 % 62];
    out[2] = kBase62[v / (62 * 62)];
}

// The uid's digits: 11 of a 64-bit value (62^11 > 2^64), then 6 of a 32-bit one
// (62^6 > 2^32), least significant first. Digit i is v / 62^i % 62 however v is
// split: in groups of three the digits come from independent 32-bit divisions
// instead of one chain of seventeen.
void put_uid_digits(uint64_t v, uint32_t w, char* out) noexcept {
    const uint64_t low = v % k62p6;
    const auto high = static_cast<uint32_t>(v / k62p6);  // < 2^64 / 62^6 < 62^5
    put_base62x3(static_cast<uint32_t>(low % k62p3), out);
    put_base62x3(static_cast<uint32_t>(low / k62p3), out + 3);
    put_base62x3(high % k62p3, out + 6);
    const uint32_t top = high / k62p3;  // < 62^2: digits 9 and 10
    out[9] = kBase62[top % 62];
    out[10] = kBase62[top / 62];
    put_base62x3(w % k62p3, out + 11);
    put_base62x3(w / k62p3, out + 14);  // < 2^32 / 62^3 < 62^3
}

// ---- numbers and text ---------------------------------------------------------
//
// A record is written into a line buffer on the stack, then appended to the output
// at once: a character at a time into a std::string cost more than the formatting.
// Each writer takes the position and returns the one after what it wrote; the
// buffer's size (kLineMax) bounds every record.

// Text longer than this is cut (no field a record holds comes near: the history is
// at most 31 characters, names are a few).
constexpr size_t kTextMax = 64;
// The longest a field can be as written: text escaped as \u00XX (6 bytes a
// character), with its JSON name, quotes and separators.
constexpr size_t kFieldMax = 6 * kTextMax + 48;

char* put(char* p, std::string_view s) noexcept {
    std::memcpy(p, s.data(), s.size());
    return p + s.size();
}

char* put_uint(char* p, uint64_t v) noexcept { return std::to_chars(p, p + 20, v).ptr; }

// "00" to "99", so that the decimals are three independent pairs, not a chain of six.
constexpr std::array<char, 200> kDigitPairs = [] {
    std::array<char, 200> t{};
    for (int i = 0; i < 100; ++i) {
        t[2 * i] = static_cast<char>('0' + i / 10);
        t[2 * i + 1] = static_cast<char>('0' + i % 10);
    }
    return t;
}();

// Microseconds as seconds with exactly 6 decimals: integer arithmetic, no rounding.
char* put_micros(char* p, uint64_t us) noexcept {
    p = put_uint(p, us / 1000000);
    *p = '.';
    const auto f = static_cast<uint32_t>(us % 1000000);
    std::memcpy(p + 1, &kDigitPairs[2 * (f / 10000)], 2);
    std::memcpy(p + 3, &kDigitPairs[2 * (f / 100 % 100)], 2);
    std::memcpy(p + 5, &kDigitPairs[2 * (f % 100)], 2);
    return p + 7;
}

char* put_addr(char* p, const parse::Addr& a) noexcept { return p + parse::format_addr(a, p, 64); }

std::string_view history_of(const ConnRecord& r) noexcept {
    std::string_view h(r.history, strnlen(r.history, sizeof r.history));
    if (h == "-") return {};  // the unset marker itself means "no history"
    return h;
}

bool orig_syn_seen(std::string_view h) noexcept {
    return h.find_first_of("SH") != std::string_view::npos;
}
bool resp_syn_seen(std::string_view h) noexcept {
    return h.find_first_of("sh") != std::string_view::npos;
}

std::string_view closer_name(track::Closer c) noexcept {
    switch (c) {
        case track::Closer::None: return {};
        case track::Closer::Orig: return "orig";
        case track::Closer::Resp: return "resp";
        case track::Closer::Both: return "both";
    }
    return {};
}

// Zeek's ASCII writer escapes bytes that would break a column as \xNN.
char* put_tsv_text(char* p, std::string_view s) noexcept {
    static constexpr char hex[] = "0123456789abcdef";
    for (char ch : s.substr(0, kTextMax)) {
        auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c >= 0x7f || c == '\\') {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 0xf];
        } else {
            *p++ = ch;
        }
    }
    return p;
}

// RFC 8259 string body. Bytes >= 0x80 are escaped as \u00XX (Latin-1) so that the
// output stays valid UTF-8 whatever the input holds.
char* put_json_text(char* p, std::string_view s) noexcept {
    static constexpr char hex[] = "0123456789abcdef";
    for (char ch : s.substr(0, kTextMax)) {
        auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"': p = put(p, "\\\""); break;
            case '\\': p = put(p, "\\\\"); break;
            case '\n': p = put(p, "\\n"); break;
            case '\r': p = put(p, "\\r"); break;
            case '\t': p = put(p, "\\t"); break;
            default:
                if (c < 0x20 || c >= 0x7f) {
                    const char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
                    p = put(p, std::string_view(esc, 6));
                } else {
                    *p++ = ch;
                }
        }
    }
    return p;
}

// Days since 1970-01-01 to a civil date (H. Hinnant's algorithm), avoiding
// gmtime_r's dependence on the C library's time zone state.
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) noexcept {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<uint64_t>(z - era * 146097);
    const uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = static_cast<int64_t>(yoe) + era * 400;
    const uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const uint64_t mp = (5 * doy + 2) / 153;
    d = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
    m = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
    if (m <= 2) ++y;
}

// ---- the columns ----------------------------------------------------------------

struct Column {
    std::string_view name;
    std::string_view type;  // Zeek type for the #types line
};

// The Zeek conn.log columns, in Zeek's order, then wirestate's.
constexpr std::array<Column, 37> kColumns = {{
    {"ts", "time"},
    {"uid", "string"},
    {"id.orig_h", "addr"},
    {"id.orig_p", "port"},
    {"id.resp_h", "addr"},
    {"id.resp_p", "port"},
    {"proto", "enum"},
    {"service", "string"},
    {"duration", "interval"},
    {"orig_bytes", "count"},
    {"resp_bytes", "count"},
    {"conn_state", "string"},
    {"local_orig", "bool"},
    {"local_resp", "bool"},
    {"missed_bytes", "count"},
    {"history", "string"},
    {"orig_pkts", "count"},
    {"orig_ip_bytes", "count"},
    {"resp_pkts", "count"},
    {"resp_ip_bytes", "count"},
    {"tunnel_parents", "set[string]"},
    {"orig_tcp_state", "string"},
    {"resp_tcp_state", "string"},
    {"closed_first", "string"},
    {"rtt_syn_synack", "interval"},
    {"rtt_synack_ack", "interval"},
    {"orig_mss", "count"},
    {"resp_mss", "count"},
    {"orig_wscale", "count"},
    {"resp_wscale", "count"},
    {"orig_sack", "bool"},
    {"resp_sack", "bool"},
    {"orig_ts", "bool"},
    {"resp_ts", "bool"},
    {"syn_retrans", "count"},
    {"synack_retrans", "count"},
    {"end_reason", "string"},
}};

// Hands each column of a record, in kColumns order, to the format's writer `e`:
// e.unset(), e.text(s) (from the record: escaped as the format needs), e.name(s)
// (one of our own names: printable, written as it is), e.count(v), e.micros(v),
// e.boolean(b), e.addr(a). What is set is decided here once for every format; each
// format's writer is inlined into it, so a record is written without a branch on
// each field's kind.
template <class E>
void columns(const ConnRecord& r, const char* uid, E& e) {
    const bool has_duration = r.duration_us > 0;
    const bool bytes = has_duration && r.bytes_known;
    const std::string_view hist = history_of(r);
    const bool orig_syn = orig_syn_seen(hist), resp_syn = resp_syn_seen(hist);
    const std::string_view closer = closer_name(r.closed_first);
    auto count_if = [&](bool set, uint64_t v) { set ? e.count(v) : e.unset(); };
    auto micros_if = [&](bool set, uint64_t v) { set ? e.micros(v) : e.unset(); };
    auto bool_if = [&](bool set, bool v) { set ? e.boolean(v) : e.unset(); };
    e.micros(r.ts_us);
    e.name(std::string_view(uid, kUidLength));
    e.addr(r.orig_h);
    e.count(r.orig_p);
    e.addr(r.resp_h);
    e.count(r.resp_p);
    e.name("tcp");
    e.unset();  // service: no protocol detection
    micros_if(has_duration, r.duration_us);
    count_if(bytes, r.orig_bytes);
    count_if(bytes, r.resp_bytes);
    e.name(track::zeek_state_name(r.conn_state));
    e.unset();  // local_orig: Zeek sets it only with Site::local_nets
    e.unset();  // local_resp
    e.count(r.missed_bytes);
    hist.empty() ? e.unset() : e.text(hist);
    e.count(r.orig_pkts);
    e.count(r.orig_ip_bytes);
    e.count(r.resp_pkts);
    e.count(r.resp_ip_bytes);
    e.unset();  // tunnel_parents: no tunnel connections are tracked
    e.name(track::tcp_state_name(r.orig_state));
    e.name(track::tcp_state_name(r.resp_state));
    closer.empty() ? e.unset() : e.name(closer);
    micros_if(r.rtt_syn_synack_us != 0, r.rtt_syn_synack_us);
    micros_if(r.rtt_synack_ack_us != 0, r.rtt_synack_ack_us);
    count_if(r.orig_mss != 0, r.orig_mss);
    count_if(r.resp_mss != 0, r.resp_mss);
    count_if(r.orig_wscale >= 0, static_cast<uint64_t>(r.orig_wscale));
    count_if(r.resp_wscale >= 0, static_cast<uint64_t>(r.resp_wscale));
    bool_if(orig_syn, r.orig_sack_ok);
    bool_if(resp_syn, r.resp_sack_ok);
    bool_if(orig_syn, r.orig_ts);
    bool_if(resp_syn, r.resp_ts);
    e.count(r.syn_retrans);
    e.count(r.synack_retrans);
    e.name(track::end_reason_name(r.end));
}

// Zeek's TSV: every column, tab-separated, "-" when unset.
struct TsvLine {
    char* p;
    bool first = true;
    void sep() noexcept {
        if (!first) *p++ = '\t';
        first = false;
    }
    void unset() noexcept { sep(), *p++ = '-'; }
    void text(std::string_view s) noexcept { sep(), p = put_tsv_text(p, s); }
    void name(std::string_view s) noexcept { sep(), p = put(p, s.substr(0, kTextMax)); }
    void count(uint64_t v) noexcept { sep(), p = put_uint(p, v); }
    void micros(uint64_t v) noexcept { sep(), p = put_micros(p, v); }
    void boolean(bool b) noexcept { sep(), *p++ = b ? 'T' : 'F'; }
    void addr(const parse::Addr& a) noexcept { sep(), p = put_addr(p, a); }
};

// Zeek's JSON: the set columns only, by name.
struct JsonLine {
    char* p;
    size_t col = 0;  // index in kColumns of the next column
    bool first = true;
    void key() noexcept {
        if (!first) *p++ = ',';
        first = false;
        *p++ = '"';
        p = put(p, kColumns[col++].name);
        p = put(p, "\":");
    }
    void unset() noexcept { ++col; }  // Zeek's JSON writer omits unset fields
    void text(std::string_view s) noexcept {
        key();
        *p++ = '"';
        p = put_json_text(p, s);
        *p++ = '"';
    }
    void name(std::string_view s) noexcept {
        key();
        *p++ = '"';
        p = put(p, s.substr(0, kTextMax));
        *p++ = '"';
    }
    void count(uint64_t v) noexcept { key(), p = put_uint(p, v); }
    void micros(uint64_t v) noexcept { key(), p = put_micros(p, v); }
    void boolean(bool b) noexcept { key(), p = put(p, b ? "true" : "false"); }
    void addr(const parse::Addr& a) noexcept {
        key();
        *p++ = '"';
        p = put_addr(p, a);
        *p++ = '"';
    }
};

}  // namespace

void write_uid(const ConnRecord& r, char* out) noexcept {
    // Direction-free: the flow key (flow::make_key's order: the lower address first,
    // then the lower port) whichever endpoint the tracker called orig, as six
    // little-endian words: both addresses, the ports and protocol as the key holds
    // them (lo, hi, 6, three bytes of padding), the first packet's time.
    const int c = flow::compare_addr(r.orig_h, r.resp_h);
    const bool orig_lo = c < 0 || (c == 0 && r.orig_p <= r.resp_p);
    const parse::Addr& lo_addr = orig_lo ? r.orig_h : r.resp_h;
    const parse::Addr& hi_addr = orig_lo ? r.resp_h : r.orig_h;
    const uint64_t lo_port = orig_lo ? r.orig_p : r.resp_p;
    const uint64_t hi_port = orig_lo ? r.resp_p : r.orig_p;
    const uint64_t w[6] = {load_le64(lo_addr.data()), load_le64(lo_addr.data() + 8),
                           load_le64(hi_addr.data()), load_le64(hi_addr.data() + 8),
                           lo_port | hi_port << 16 | uint64_t{6} << 32, r.ts_us};
    const uint64_t hi = hash_words(w, 6, 0x5a656b2d55494431ull);  // two independent seeds
    const uint64_t lo = hash_words(w, 6, 0x7769726573746174ull);

    out[0] = 'C';
    put_uid_digits(hi, static_cast<uint32_t>(lo >> 32), out + 1);  // 96 bits in all
}

std::string make_uid(const ConnRecord& r) {
    std::string s(kUidLength, '\0');
    write_uid(r, s.data());
    return s;
}

std::string log_time(uint64_t epoch_s) {
    int64_t y;
    unsigned mo, d;
    civil_from_days(static_cast<int64_t>(epoch_s / 86400), y, mo, d);
    uint64_t sod = epoch_s % 86400;
    auto two = [](std::string& s, uint64_t v) {
        s.push_back(static_cast<char>('0' + v / 10 % 10));
        s.push_back(static_cast<char>('0' + v % 10));
    };
    std::string s = std::to_string(y);
    s.push_back('-');
    two(s, mo);
    s.push_back('-');
    two(s, d);
    s.push_back('-');
    two(s, sod / 3600);
    s.push_back('-');
    two(s, sod / 60 % 60);
    s.push_back('-');
    two(s, sod % 60);
    return s;
}

std::string ConnLogWriter::header(uint64_t open_time_s) const {
    if (format_ == Format::Json) return {};
    std::string h =
        "#separator \\x09\n"
        "#set_separator\t,\n"
        "#empty_field\t(empty)\n"
        "#unset_field\t-\n"
        "#path\tconn\n"
        "#open\t";
    h += log_time(open_time_s);
    h += "\n#fields";
    for (const Column& c : kColumns) {
        h.push_back('\t');
        h.append(c.name);
    }
    h += "\n#types";
    for (const Column& c : kColumns) {
        h.push_back('\t');
        h.append(c.type);
    }
    h.push_back('\n');
    return h;
}

std::string ConnLogWriter::footer(uint64_t close_time_s) const {
    if (format_ == Format::Json) return {};
    return "#close\t" + log_time(close_time_s) + "\n";
}

void ConnLogWriter::append(const ConnRecord& r, std::string& out) const {
    if (format_ == Format::Json)
        append_json(r, out);
    else
        append_tsv(r, out);
}

// Bounds what one record's line can hold, whatever it contains.
constexpr size_t kLineMax = kColumns.size() * kFieldMax + 8;

void ConnLogWriter::append_tsv(const ConnRecord& r, std::string& out) const {
    char uid[kUidLength];
    write_uid(r, uid);
    char line[kLineMax];
    TsvLine e{line};
    columns(r, uid, e);
    *e.p++ = '\n';
    out.append(line, static_cast<size_t>(e.p - line));
}

void ConnLogWriter::append_json(const ConnRecord& r, std::string& out) const {
    char uid[kUidLength];
    write_uid(r, uid);
    char line[kLineMax];
    line[0] = '{';
    JsonLine e{line + 1};
    columns(r, uid, e);
    e.p = put(e.p, "}\n");
    out.append(line, static_cast<size_t>(e.p - line));
}

}  // namespace ws::report
