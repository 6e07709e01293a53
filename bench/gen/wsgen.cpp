// wsgen: writes a pcap of TCP traffic with a known verdict for every connection.
//
// The workload of the pipeline benchmark and of the generator-truth test: N
// connections live at once, their packets interleaved in capture-time order, each
// following one of the shapes a span port really sees (handshake with Linux-style
// options, request/response rounds, every close variant, rejected and unanswered
// attempts, half-open connections, keep-alive probes), plus optional SYN floods
// and port scans. Sequence numbers are consistent (some connections wrap around
// 2^32), checksums are correct (also when --snaplen cuts the frame: they cover the
// original bytes), timestamps are microseconds.
//
// --truth writes, for every legitimate connection, what a Zeek-conformant tracker
// must report: conn_state, history, both endpoints' RFC 9293 states, packets and
// payload bytes per direction. The verdicts follow Zeek's rules for the fixed
// packet sequences below (the shapes are simple enough that the history letters
// and states can be derived here without a tracker).
//
// Deterministic: the same options and --seed give the same bytes. No DPDK, no
// libpcap: frames are built in place and written with buffered fwrite.
#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <queue>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../args.hpp"

namespace {

// ---- options ----------------------------------------------------------------------

struct Endpoint {
    bool v6 = false;
    std::array<uint8_t, 16> addr{};  // IPv4 in the first 4 bytes
    uint16_t port = 0;
};

enum class ScanKind : uint8_t { Syn, Fin, Null, Xmas };

struct Scan {
    Endpoint src, target;
    ScanKind kind = ScanKind::Syn;
};

struct Options {
    std::string out;
    uint64_t packets = 0;       // legitimate traffic budget (0 = use connections)
    uint64_t connections = 0;   // legitimate connections (0 = use packets)
    uint32_t concurrency = 1000;
    double ipv6_fraction = 0.0;
    double vlan_fraction = 0.0;
    uint32_t snaplen = 65535;
    uint64_t seed = 1;
    std::string truth;
    double flood_pps = 0.0;
    double flood_start_s = 0.0;
    double flood_duration_s = 0.0;
    Endpoint flood_victim;
    std::vector<Scan> scans;
    double scan_start_s = 0.0;
    uint32_t scan_ports = 1024;
    double ramp_s = 1.0;        // initial connections start spread over this much capture time
    uint32_t max_rounds = 0;    // request/response rounds per connection (0 = the shapes' own mix)
    uint32_t max_segments = 40; // response segments per round
};

[[noreturn]] void usage_error(const std::string& what) {
    std::fprintf(stderr, "wsgen: %s (see wsgen --help)\n", what.c_str());
    std::exit(2);
}

constexpr const char* kUsage =
    "usage: wsgen OUT.pcap [options]\n"
    "  --packets N            legitimate packets to write (default 1000000 unless --connections);\n"
    "                         new connections stop once N are written or scheduled, every\n"
    "                         connection is then completed, so the total is N plus a few\n"
    "  --connections N        legitimate connections to write instead (either one 0: no\n"
    "                         legitimate traffic, only the flood and the scans)\n"
    "  --concurrency N        connections live at once, packets interleaved (default 1000)\n"
    "  --ipv6-fraction F      share of IPv6 connections (default 0)\n"
    "  --vlan-fraction F      share of connections carried in an 802.1Q tag (default 0)\n"
    "  --snaplen N            cut frames to N bytes (checksums still cover the full frame)\n"
    "  --seed N               random seed (default 1); same options + seed = same file\n"
    "  --ramp S               capture seconds over which the first N connections start (default 1)\n"
    "  --rounds N             at most N request/response rounds per connection (default: 1-2,\n"
    "                         1-4 for open and keep-alive connections)\n"
    "  --segments N           at most N segments per response (default 40)\n"
    "  --truth PATH           TSV of the expected verdict of every legitimate connection\n"
    "  --syn-flood-pps R --flood-start S --flood-duration S --flood-victim IP:PORT\n"
    "                         spoofed SYN flood: R SYN/s from random sources, one SYN each\n"
    "  --scan SRC:TARGET:KIND port scan of --scan-ports ports (default 1024) on TARGET from\n"
    "                         SRC (IPv4), KIND syn|fin|null|xmas; repeatable; starts at --scan-start S\n"
    "flood and scan packets come on top of --packets.\n";

bool parse_ip(std::string_view s, Endpoint& e) {
    std::string t(s);
    if (!t.empty() && t.front() == '[' && t.back() == ']') t = t.substr(1, t.size() - 2);
    if (inet_pton(AF_INET, t.c_str(), e.addr.data()) == 1) {
        e.v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, t.c_str(), e.addr.data()) == 1) {
        e.v6 = true;
        return true;
    }
    return false;
}

uint64_t parse_u64(const std::string& opt, const char* v) {
    const auto x = ws::bench::whole_number(v);
    if (!x) usage_error(opt + ": not a count: " + v);
    return *x;
}

double parse_double(const std::string& opt, const char* v, double lo, double hi) {
    char* end = nullptr;
    double x = std::strtod(v, &end);
    if (end == v || *end != '\0' || !(x >= lo && x <= hi))
        usage_error(opt + ": " + v + " is not a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return x;
}

Endpoint parse_ip_port(const std::string& opt, const std::string& v) {
    size_t colon = v.rfind(':');
    Endpoint e;
    if (colon == std::string::npos || !parse_ip(std::string_view(v).substr(0, colon), e))
        usage_error(opt + ": expected IP:PORT, got " + v);
    uint64_t port = parse_u64(opt, v.c_str() + colon + 1);
    if (port == 0 || port > 65535) usage_error(opt + ": bad port in " + v);
    e.port = static_cast<uint16_t>(port);
    return e;
}

Scan parse_scan(const std::string& v) {
    size_t a = v.find(':'), b = v.find(':', a == std::string::npos ? a : a + 1);
    if (a == std::string::npos || b == std::string::npos) usage_error("--scan: expected SRC:TARGET:KIND, got " + v);
    Scan s;
    if (!parse_ip(v.substr(0, a), s.src) || s.src.v6) usage_error("--scan: SRC must be IPv4 in " + v);
    if (!parse_ip(v.substr(a + 1, b - a - 1), s.target) || s.target.v6)
        usage_error("--scan: TARGET must be IPv4 in " + v);
    std::string k = v.substr(b + 1);
    if (k == "syn") s.kind = ScanKind::Syn;
    else if (k == "fin") s.kind = ScanKind::Fin;
    else if (k == "null") s.kind = ScanKind::Null;
    else if (k == "xmas") s.kind = ScanKind::Xmas;
    else usage_error("--scan: KIND must be syn, fin, null or xmas, got " + k);
    return s;
}

Options parse_args(int argc, char** argv) {
    Options o;
    bool have_victim = false, have_count = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        }
        if (a.rfind("--", 0) != 0) {
            if (!o.out.empty()) usage_error("more than one output file: " + a);
            o.out = a;
            continue;
        }
        if (i + 1 >= argc) usage_error(a + " needs a value");
        const char* v = argv[++i];
        if (a == "--packets" || a == "--connections") {
            if (have_count) usage_error("give --packets or --connections, not both");
            (a == "--packets" ? o.packets : o.connections) = parse_u64(a, v);
            have_count = true;
        } else if (a == "--concurrency") {
            uint64_t c = parse_u64(a, v);
            if (c == 0 || c > 50000000) usage_error("--concurrency must be in [1, 50000000]");
            o.concurrency = static_cast<uint32_t>(c);
        } else if (a == "--ipv6-fraction") o.ipv6_fraction = parse_double(a, v, 0, 1);
        else if (a == "--vlan-fraction") o.vlan_fraction = parse_double(a, v, 0, 1);
        else if (a == "--snaplen") {
            uint64_t s = parse_u64(a, v);
            if (s < 14 || s > 65535) usage_error("--snaplen must be in [14, 65535]");
            o.snaplen = static_cast<uint32_t>(s);
        } else if (a == "--seed") o.seed = parse_u64(a, v);
        else if (a == "--ramp") o.ramp_s = parse_double(a, v, 0, 86400);
        else if (a == "--truth") o.truth = v;
        else if (a == "--rounds") {
            const uint64_t n = parse_u64(a, v);
            if (n == 0 || n > 1000) usage_error("--rounds must be in [1, 1000]");
            o.max_rounds = static_cast<uint32_t>(n);
        } else if (a == "--segments") {
            const uint64_t n = parse_u64(a, v);
            if (n == 0 || n > 40) usage_error("--segments must be in [1, 40]");
            o.max_segments = static_cast<uint32_t>(n);
        }
        else if (a == "--syn-flood-pps") o.flood_pps = parse_double(a, v, 0, 1e9);
        else if (a == "--flood-start") o.flood_start_s = parse_double(a, v, 0, 1e6);
        else if (a == "--flood-duration") o.flood_duration_s = parse_double(a, v, 0, 1e6);
        else if (a == "--flood-victim") {
            o.flood_victim = parse_ip_port(a, v);
            have_victim = true;
        } else if (a == "--scan") o.scans.push_back(parse_scan(v));
        else if (a == "--scan-start") o.scan_start_s = parse_double(a, v, 0, 1e6);
        else if (a == "--scan-ports") {
            uint64_t n = parse_u64(a, v);
            if (n == 0 || n > 65535) usage_error("--scan-ports must be in [1, 65535]");
            o.scan_ports = static_cast<uint32_t>(n);
        } else usage_error("unknown option " + a);
    }
    if (o.out.empty()) usage_error("no output file");
    if (!have_count) o.packets = 1000000;
    // An explicit 0 means no legitimate traffic: a flood or a scan on its own.
    if (o.packets == 0 && o.connections == 0 && o.flood_pps <= 0 && o.scans.empty())
        usage_error("nothing to write: no legitimate traffic, no --syn-flood-pps, no --scan");
    if (o.flood_pps > 0 && !have_victim) usage_error("--syn-flood-pps needs --flood-victim IP:PORT");
    if (o.flood_pps > 0 && o.flood_duration_s <= 0) usage_error("--syn-flood-pps needs --flood-duration S");
    return o;
}

// ---- randomness -------------------------------------------------------------------

// xoshiro256** seeded through SplitMix64: fast, and the same stream on every host.
class Rng {
public:
    explicit Rng(uint64_t seed) {
        for (auto& w : s_) {
            seed += 0x9e3779b97f4a7c15ull;
            uint64_t z = seed;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            w = z ^ (z >> 31);
        }
    }
    uint64_t next() noexcept {
        const uint64_t r = rotl(s_[1] * 5, 7) * 9;
        const uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return r;
    }
    uint32_t u32() noexcept { return static_cast<uint32_t>(next() >> 32); }
    // Uniform in [lo, hi].
    uint32_t range(uint32_t lo, uint32_t hi) noexcept {
        return lo + static_cast<uint32_t>((static_cast<uint64_t>(u32()) * (uint64_t{hi} - lo + 1)) >> 32);
    }
    double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    bool chance(double p) noexcept { return unit() < p; }
    // Log-uniform in [lo, hi]: RTTs and think times span orders of magnitude.
    uint32_t log_range(double lo, double hi) noexcept {
        return static_cast<uint32_t>(std::exp(std::log(lo) + unit() * (std::log(hi) - std::log(lo))));
    }

private:
    static uint64_t rotl(uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
    uint64_t s_[4];
};

// ---- connection scripts ---------------------------------------------------------

namespace tcpf {
inline constexpr uint8_t Fin = 0x01, Syn = 0x02, Rst = 0x04, Psh = 0x08, Ack = 0x10, Urg = 0x20;
}

enum class Opt : uint8_t { None, Syn, Ts };

// One packet of a script. dir 0 = originator (client) to responder.
struct Pkt {
    uint32_t t_us;  // after the connection's start
    uint32_t seq, ack;
    uint16_t len;
    uint16_t win;
    uint8_t dir;
    uint8_t flags;
    Opt opt;
};

// The shapes, each one behaviour with a fixed verdict.
enum class Kind : uint8_t {
    FourWayOrig,  // originator closes first: FIN, ACK, FIN, ACK
    FourWayResp,  // responder closes first
    MergedFin,    // FIN, FIN+ACK, ACK (three-packet close)
    SimClose,     // FINs cross
    RstOrig,      // originator aborts with RST after data
    RstResp,      // responder aborts with RST after data
    Rej,          // SYN answered by RST+ACK
    HalfOpen,     // SYN, SYN-ACK (retransmitted), no ACK
    SynOnly,      // SYN retransmitted twice, no answer
    KeepAlive,    // idle, keep-alive probes answered, then four-way close
    Open,         // data, not closed within the capture
};
constexpr int kKinds = 11;

struct KindInfo {
    const char* name;
    uint32_t weight;  // per mille of connections
    const char* conn_state;
    const char* orig_state;
    const char* resp_state;
};
constexpr std::array<KindInfo, kKinds> kKindInfo = {{
    {"four_way_orig_first", 330, "SF", "TIME_WAIT", "CLOSED"},
    {"four_way_resp_first", 100, "SF", "CLOSED", "TIME_WAIT"},
    {"merged_fin_ack", 200, "SF", "TIME_WAIT", "CLOSED"},
    {"simultaneous_close", 30, "SF", "TIME_WAIT", "TIME_WAIT"},
    {"rst_by_orig", 50, "RSTO", "CLOSED", "CLOSED"},
    {"rst_by_resp", 40, "RSTR", "CLOSED", "CLOSED"},
    {"rejected", 50, "REJ", "CLOSED", "CLOSED"},
    {"half_open", 30, "S1", "ESTABLISHED", "SYN_RECV"},
    {"syn_only", 50, "S0", "SYN_SENT", "LISTEN"},
    {"keep_alive", 50, "SF", "TIME_WAIT", "CLOSED"},
    {"open", 70, "S1", "ESTABLISHED", "ESTABLISHED"},
}};

struct Conn {
    uint64_t start_us = 0;
    uint64_t serial = 0;
    std::vector<Pkt> pkts;
    uint32_t next = 0;
    Endpoint ep[2];  // [0] originator, [1] responder
    uint16_t vlan = 0;
    uint16_t ip_id[2] = {0, 0};
    uint32_t flow_label[2] = {0, 0};
    uint32_t ts_base[2] = {0, 0};
    uint16_t mss[2] = {1460, 1460};
    int8_t wscale[2] = {7, 7};  // -1 = not offered
    bool ts = true, sack = true;
    Kind kind = Kind::Open;
};

// Builds one connection's packet list in causal order; sorted by time afterwards.
class ScriptBuilder {
public:
    ScriptBuilder(Conn& c, Rng& rng, uint32_t max_rounds, uint32_t max_segments)
        : c_(c), rng_(rng), max_rounds_(max_rounds), max_segments_(max_segments) {}

    void build() {
        c_.pkts.clear();
        c_.next = 0;
        nxt_[0] = isn();
        nxt_[1] = isn();
        srv_ = rng_.log_range(20, 400);         // responder's turnaround at the tap (tap near it)
        rtt_ = rng_.log_range(500, 150000);     // tap -> originator -> tap
        uint32_t t = 0;
        switch (c_.kind) {
            case Kind::Rej:
                add(t, 0, tcpf::Syn, 0, Opt::Syn);
                t += srv_;
                add(t, 1, tcpf::Rst | tcpf::Ack, 0, Opt::None, 0, nxt_[0]);
                break;
            case Kind::SynOnly:
                // Linux retransmits after 1 s and 3 s; Zeek's attempt timer (5 s) has not fired.
                for (uint32_t at : {0u, 1000000u, 3000000u}) add_syn_retrans(at, 0, tcpf::Syn);
                break;
            case Kind::HalfOpen:
                add(t, 0, tcpf::Syn, 0, Opt::Syn);
                t += srv_;
                for (uint32_t at : {t, t + 1000000u, t + 3000000u}) add_syn_retrans(at, 1, tcpf::Syn | tcpf::Ack);
                break;
            case Kind::FourWayOrig:
            case Kind::FourWayResp:
            case Kind::MergedFin:
            case Kind::SimClose:
            case Kind::RstOrig:
            case Kind::RstResp:
            case Kind::KeepAlive:
            case Kind::Open:
                t = handshake_and_data();
                close(t);
                break;
        }
        std::stable_sort(c_.pkts.begin(), c_.pkts.end(), [](const Pkt& a, const Pkt& b) { return a.t_us < b.t_us; });
    }

private:
    uint32_t isn() {
        // One connection in twenty starts just below 2^32 so that its data wraps.
        if (rng_.chance(0.05)) return 0u - rng_.range(1, 40000);
        return rng_.u32();
    }

    // Appends a packet; seq defaults to the sender's next sequence number and the
    // ack to everything the peer has sent so far.
    void add(uint32_t t, uint8_t dir, uint8_t flags, uint16_t len, Opt opt, uint32_t seq_back = 0,
             uint32_t ack = kAuto) {
        Pkt p{};
        p.t_us = t;
        p.dir = dir;
        p.flags = flags;
        p.len = len;
        p.opt = opt == Opt::None && c_.ts && !(flags & (tcpf::Syn | tcpf::Rst)) ? Opt::Ts : opt;
        p.seq = nxt_[dir] - seq_back;
        p.ack = (flags & tcpf::Ack) ? (ack == kAuto ? nxt_[1 - dir] : ack) : 0;
        p.win = window(dir, flags);
        c_.pkts.push_back(p);
        if (seq_back == 0) {
            nxt_[dir] += len;
            if (flags & tcpf::Syn) ++nxt_[dir];
            if (flags & tcpf::Fin) ++nxt_[dir];
        }
    }

    // A SYN or SYN-ACK that repeats the first one's sequence number.
    void add_syn_retrans(uint32_t t, uint8_t dir, uint8_t flags) {
        if (syn_sent_[dir]) {
            add(t, dir, flags, 0, Opt::Syn, 1);
        } else {
            add(t, dir, flags, 0, Opt::Syn);
            syn_sent_[dir] = true;
        }
    }

    uint16_t window(uint8_t dir, uint8_t flags) const {
        const bool scaled = c_.wscale[0] >= 0 && c_.wscale[1] >= 0;
        if ((flags & tcpf::Syn) || !scaled) return dir == 0 ? 64240 : 65160;
        return dir == 0 ? 502 : 509;  // << 7: Linux's default receive windows
    }

    uint16_t segment_payload(uint8_t dir) const {
        int p = c_.mss[1 - dir] - (c_.ts ? 12 : 0);
        return static_cast<uint16_t>(p);
    }

    // Handshake, then one or more request/response rounds. Returns the time of the last packet.
    uint32_t handshake_and_data() {
        uint32_t t = 0;
        add(t, 0, tcpf::Syn, 0, Opt::Syn);
        t += srv_;
        add(t, 1, tcpf::Syn | tcpf::Ack, 0, Opt::Syn);
        t += rtt_;
        add(t, 0, tcpf::Ack, 0, Opt::None);
        uint32_t rounds = c_.kind == Kind::Open || c_.kind == Kind::KeepAlive ? rng_.range(1, 4)
                                                                              : (rng_.chance(0.7) ? 1 : 2);
        if (max_rounds_) rounds = rng_.range(1, max_rounds_);
        for (uint32_t r = 0; r < rounds; ++r) {
            t += r == 0 ? rng_.range(5, 200) : rng_.log_range(1000, 200000);
            const uint16_t req = static_cast<uint16_t>(rng_.range(60, std::min<uint32_t>(1200, segment_payload(0))));
            add(t, 0, tcpf::Psh | tcpf::Ack, req, Opt::None);
            const uint32_t think = rng_.log_range(50, 50000);
            if (think > 40000 || rng_.chance(0.3)) {  // a slow answer: the request is acked on its own
                add(t + srv_, 1, tcpf::Ack, 0, Opt::None);
            }
            t += srv_ + think;
            // Response: back-to-back segments (the tap is near the responder); the
            // originator acks every second one, one RTT later.
            const uint32_t segs = std::min(max_segments_, rng_.chance(0.5) ? rng_.range(1, 3) : rng_.range(4, 40));
            const uint16_t full = segment_payload(1);
            uint32_t last = t;
            for (uint32_t k = 0; k < segs; ++k) {
                const uint32_t ts = t + k * 12;
                uint16_t len = k + 1 == segs ? static_cast<uint16_t>(rng_.range(1, full)) : full;
                uint8_t fl = tcpf::Ack;
                if (k + 1 == segs) fl |= tcpf::Psh;
                add(ts, 1, fl, len, Opt::None);
                if (k % 2 == 1 || k + 1 == segs) {
                    const uint32_t at = ts + rtt_;
                    acks_.push_back({at, nxt_[1]});
                    last = at;
                }
            }
            for (const auto& a : acks_) add(a.first, 0, tcpf::Ack, 0, Opt::None, 0, a.second);
            acks_.clear();
            t = last;
        }
        if (c_.kind == Kind::KeepAlive) {
            // Idle, then probes at snd_nxt - 1 (no payload, as Linux sends them), each answered.
            const uint32_t probes = rng_.range(1, 3);
            for (uint32_t k = 0; k < probes; ++k) {
                t += rng_.range(1000000, 2000000);
                add(t, 0, tcpf::Ack, 0, Opt::None, 1);
                t += rtt_ / 2 + srv_;
                add(t, 1, tcpf::Ack, 0, Opt::None);
            }
        }
        return t;
    }

    void close(uint32_t t) {
        t += rng_.log_range(100, 20000);
        switch (c_.kind) {
            case Kind::FourWayOrig:
            case Kind::KeepAlive:
                add(t, 0, tcpf::Fin | tcpf::Ack, 0, Opt::None);
                t += srv_;
                add(t, 1, tcpf::Ack, 0, Opt::None);
                t += rng_.log_range(50, 5000);
                add(t, 1, tcpf::Fin | tcpf::Ack, 0, Opt::None);
                t += rtt_;
                add(t, 0, tcpf::Ack, 0, Opt::None);
                break;
            case Kind::FourWayResp:
                add(t, 1, tcpf::Fin | tcpf::Ack, 0, Opt::None);
                t += rtt_;
                add(t, 0, tcpf::Ack, 0, Opt::None);
                t += rng_.log_range(50, 5000);
                add(t, 0, tcpf::Fin | tcpf::Ack, 0, Opt::None);
                t += srv_;
                add(t, 1, tcpf::Ack, 0, Opt::None);
                break;
            case Kind::MergedFin:
                add(t, 0, tcpf::Fin | tcpf::Ack, 0, Opt::None);
                t += srv_;
                add(t, 1, tcpf::Fin | tcpf::Ack, 0, Opt::None);
                t += rtt_;
                add(t, 0, tcpf::Ack, 0, Opt::None);
                break;
            case Kind::SimClose: {
                // The responder's FIN leaves before the originator's arrives: it does
                // not acknowledge it. Each side then acknowledges the other's FIN.
                add(t, 0, tcpf::Fin | tcpf::Ack, 0, Opt::None);
                const uint32_t orig_before_fin = nxt_[0] - 1;
                add(t + 3, 1, tcpf::Fin | tcpf::Ack, 0, Opt::None, 0, orig_before_fin);
                add(t + 3 + srv_, 1, tcpf::Ack, 0, Opt::None);
                add(t + rtt_, 0, tcpf::Ack, 0, Opt::None);
                break;
            }
            case Kind::RstOrig:
                add(t, 0, tcpf::Rst | tcpf::Ack, 0, Opt::None);
                break;
            case Kind::RstResp:
                add(t, 1, tcpf::Rst | tcpf::Ack, 0, Opt::None);
                break;
            case Kind::Rej:
            case Kind::HalfOpen:
            case Kind::SynOnly:
            case Kind::Open:
                break;
        }
    }

    static constexpr uint32_t kAuto = 0xffffffffu;  // (an ack of exactly 2^32-1 is never needed here)
    Conn& c_;
    Rng& rng_;
    uint32_t max_rounds_, max_segments_;
    uint32_t nxt_[2] = {0, 0};
    uint32_t srv_ = 0, rtt_ = 0;
    bool syn_sent_[2] = {false, false};
    std::vector<std::pair<uint32_t, uint32_t>> acks_;
};

// Zeek's history string for a script already in capture order (the letters of
// Connection::CheckHistory for the flag combinations the shapes use: no
// multi-flag packets, no zero windows, no retransmitted data).
std::string zeek_history(const Conn& c) {
    std::string h;
    bool seen[2][128] = {};
    uint32_t last_syn[2] = {0, 0}, last_fin[2] = {0, 0};
    for (const Pkt& p : c.pkts) {
        const int d = p.dir;
        char letter = 0;
        bool repeat_ok = false;
        if (p.flags & tcpf::Syn) {
            letter = (p.flags & tcpf::Ack) ? 'H' : 'S';
            repeat_ok = seen[d]['S'] && p.seq != last_syn[d];
            last_syn[d] = p.seq;
            if (seen[d]['S'] && !repeat_ok) continue;
            seen[d]['S'] = true;
        } else if (p.flags & tcpf::Fin) {
            letter = 'F';
            repeat_ok = seen[d]['F'] && p.seq + p.len != last_fin[d];
            last_fin[d] = p.seq + p.len;
            if (seen[d]['F'] && !repeat_ok) continue;
            seen[d]['F'] = true;
        } else if (p.flags & tcpf::Rst) {
            letter = 'R';
            if (seen[d]['R']) continue;
            seen[d]['R'] = true;
        } else {
            letter = p.len > 0 ? 'D' : (p.flags & tcpf::Ack) ? 'A' : 0;
            if (letter == 0 || seen[d][static_cast<int>(letter)]) continue;
            seen[d][static_cast<int>(letter)] = true;
        }
        h.push_back(d == 0 ? letter : static_cast<char>(letter - 'A' + 'a'));
    }
    return h;
}

// ---- frames -------------------------------------------------------------------------

// Ones' complement sum helpers (RFC 1071) over big-endian 16-bit words.
uint64_t sum16(const uint8_t* p, size_t n) noexcept {
    uint64_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2) s += static_cast<uint64_t>(p[i] << 8 | p[i + 1]);
    if (n & 1) s += static_cast<uint64_t>(p[n - 1]) << 8;
    return s;
}

uint16_t fold(uint64_t s) noexcept {
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s & 0xffff);
}

void put16(uint8_t* p, uint32_t v) noexcept {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) noexcept {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}

constexpr size_t kMaxPayload = 9000;
constexpr uint8_t kMacOrigSide[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};  // router towards the originators
constexpr uint8_t kMacRespSide[6] = {0x02, 0x00, 0x5e, 0x20, 0x00, 0x02};  // the responders' side

// The packet writer: a pcap file written through a large buffer. Payload bytes
// come from one fixed random pattern, so their checksum is a prefix sum looked up
// in a table and bytes beyond the snap length are never touched.
class PcapWriter {
public:
    PcapWriter(const std::string& path, uint32_t snaplen, Rng& rng) : snaplen_(snaplen) {
        f_ = std::fopen(path.c_str(), "wb");
        if (!f_) usage_error("cannot write " + path + ": " + std::strerror(errno));
        buf_.resize(kBufSize);
        payload_.resize(kMaxPayload);
        for (auto& b : payload_) b = static_cast<uint8_t>(rng.u32());
        prefix_.resize(kMaxPayload + 1);
        prefix_[0] = 0;
        for (size_t n = 1; n <= kMaxPayload; ++n) {
            // sum of the first n bytes as 16-bit words, the odd byte padded with zero
            const size_t i = n - 1;
            prefix_[n] = prefix_[n - 1] + (i % 2 == 0 ? static_cast<uint64_t>(payload_[i]) << 8
                                                      : static_cast<uint64_t>(payload_[i]));
        }
        uint8_t hdr[24];
        const uint32_t magic = 0xa1b2c3d4;
        std::memcpy(hdr, &magic, 4);  // host order, as libpcap writes it
        const uint16_t vmaj = 2, vmin = 4;
        std::memcpy(hdr + 4, &vmaj, 2);
        std::memcpy(hdr + 6, &vmin, 2);
        const int32_t zone = 0;
        const uint32_t sigfigs = 0, snap = snaplen, link = 1;  // LINKTYPE_ETHERNET
        std::memcpy(hdr + 8, &zone, 4);
        std::memcpy(hdr + 12, &sigfigs, 4);
        std::memcpy(hdr + 16, &snap, 4);
        std::memcpy(hdr + 20, &link, 4);
        append(hdr, sizeof hdr);
    }
    ~PcapWriter() { finish(); }

    void finish() {
        if (!f_) return;
        flush();
        if (std::fclose(f_) != 0) usage_error(std::string("write failed: ") + std::strerror(errno));
        f_ = nullptr;
    }

    // One TCP segment. TCP options in `opts` (a multiple of 4 bytes).
    void tcp(uint64_t ts_us, bool from_orig_side, const Endpoint& src, const Endpoint& dst, uint16_t vlan, uint16_t ip_id,
             uint32_t flow_label, uint8_t ttl, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
             const uint8_t* opts, size_t opt_len, uint16_t payload_len) {
        uint8_t h[128];
        size_t n = 0;
        std::memcpy(h, from_orig_side ? kMacRespSide : kMacOrigSide, 6);
        std::memcpy(h + 6, from_orig_side ? kMacOrigSide : kMacRespSide, 6);
        n = 12;
        if (vlan != 0) {
            put16(h + n, 0x8100);
            put16(h + n + 2, vlan);
            n += 4;
        }
        put16(h + n, src.v6 ? 0x86dd : 0x0800);
        n += 2;
        const size_t tcp_len = 20 + opt_len + payload_len;
        uint64_t pseudo = 0;
        if (src.v6) {
            uint8_t* ip = h + n;
            put32(ip, 0x60000000u | (flow_label & 0xfffff));
            put16(ip + 4, static_cast<uint32_t>(tcp_len));
            ip[6] = 6;
            ip[7] = ttl;
            std::memcpy(ip + 8, src.addr.data(), 16);
            std::memcpy(ip + 24, dst.addr.data(), 16);
            pseudo = sum16(ip + 8, 32) + 6 + tcp_len;
            n += 40;
        } else {
            uint8_t* ip = h + n;
            ip[0] = 0x45;
            ip[1] = 0;
            put16(ip + 2, static_cast<uint32_t>(20 + tcp_len));
            put16(ip + 4, ip_id);
            put16(ip + 6, 0x4000);  // DF
            ip[8] = ttl;
            ip[9] = 6;
            put16(ip + 10, 0);
            std::memcpy(ip + 12, src.addr.data(), 4);
            std::memcpy(ip + 16, dst.addr.data(), 4);
            put16(ip + 10, fold(sum16(ip, 20)));
            pseudo = sum16(ip + 12, 8) + 6 + tcp_len;
            n += 20;
        }
        uint8_t* t = h + n;
        put16(t, src.port);
        put16(t + 2, dst.port);
        put32(t + 4, seq);
        put32(t + 8, ack);
        t[12] = static_cast<uint8_t>(((20 + opt_len) / 4) << 4);
        t[13] = flags;
        put16(t + 14, win);
        put16(t + 16, 0);
        put16(t + 18, 0);
        if (opt_len > 0) std::memcpy(t + 20, opts, opt_len);  // opts may be null when there are none
        n += 20 + opt_len;
        put16(t + 16, fold(pseudo + sum16(t, 20 + opt_len) + prefix_[payload_len]));

        const size_t wire = n + payload_len;
        const size_t cap = std::min<size_t>(wire, snaplen_);
        uint8_t rec[16];
        const auto sec = static_cast<uint32_t>(ts_us / 1000000), usec = static_cast<uint32_t>(ts_us % 1000000);
        const auto caplen = static_cast<uint32_t>(cap), len = static_cast<uint32_t>(wire);
        std::memcpy(rec, &sec, 4);
        std::memcpy(rec + 4, &usec, 4);
        std::memcpy(rec + 8, &caplen, 4);
        std::memcpy(rec + 12, &len, 4);
        if (buf_.size() - used_ < 16 + cap) flush();
        std::memcpy(buf_.data() + used_, rec, 16);
        std::memcpy(buf_.data() + used_ + 16, h, std::min(n, cap));
        if (cap > n) std::memcpy(buf_.data() + used_ + 16 + n, payload_.data(), cap - n);
        used_ += 16 + cap;
        ++packets_;
        bytes_ += 16 + cap;
    }

    uint64_t packets() const noexcept { return packets_; }
    uint64_t bytes() const noexcept { return bytes_ + 24; }

private:
    static constexpr size_t kBufSize = 8u << 20;

    void append(const uint8_t* p, size_t n) {
        if (buf_.size() - used_ < n) flush();
        std::memcpy(buf_.data() + used_, p, n);
        used_ += n;
    }
    void flush() {
        if (used_ && std::fwrite(buf_.data(), 1, used_, f_) != used_)
            usage_error(std::string("write failed: ") + std::strerror(errno));
        used_ = 0;
    }

    FILE* f_ = nullptr;
    uint32_t snaplen_;
    std::vector<uint8_t> buf_;
    size_t used_ = 0;
    std::vector<uint8_t> payload_;
    std::vector<uint64_t> prefix_;
    uint64_t packets_ = 0, bytes_ = 0;
};

// ---- the generator ----------------------------------------------------------------

constexpr uint64_t kEpochUs = 1735689600ull * 1000000;  // 2025-01-01 00:00:00 UTC

// Where a port scan is: the port being probed and the step of its exchange.
struct ScanState {
    uint32_t port = 0;
    uint8_t phase = 0;  // 0 probe, 1 target's answer, 2 scanner's RST to a SYN-ACK
    uint32_t seq = 0, next = 0;
    uint64_t probe_at = 0;
};

class Generator {
public:
    explicit Generator(const Options& o)
        : o_(o), rng_(o.seed), writer_(o.out, o.snaplen, rng_), slots_(o.concurrency) {
        if (!o.truth.empty()) {
            truth_ = std::fopen(o.truth.c_str(), "w");
            if (!truth_) usage_error("cannot write " + o.truth + ": " + std::strerror(errno));
            std::fputs(
                "orig_h\torig_p\tresp_h\tresp_p\tconn_state\thistory\torig_tcp_state\tresp_tcp_state\t"
                "orig_pkts\tresp_pkts\torig_bytes\tresp_bytes\tkind\n",
                truth_);
        }
        // Servers: a pool of addresses and a port mix dominated by the web.
        servers_v4_.resize(256);
        for (auto& s : servers_v4_) {
            s.v6 = false;
            put32(s.addr.data(), 0xac100000u | (rng_.u32() & 0x000fffffu));  // 172.16.0.0/12
        }
        servers_v6_.resize(64);
        for (auto& s : servers_v6_) {
            s.v6 = true;
            const uint8_t pre[8] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x10, 0x00, 0x00};  // 2001:db8:10::/48
            std::memcpy(s.addr.data(), pre, 8);
            for (int i = 8; i < 16; ++i) s.addr[static_cast<size_t>(i)] = static_cast<uint8_t>(rng_.u32());
        }
        client_salt_ = rng_.u32() & 0xffffff;
        uint32_t total = 0;
        for (const auto& k : kKindInfo) total += k.weight;
        kind_total_ = total;
    }

    ~Generator() {
        if (truth_) std::fclose(truth_);
    }

    void run() {
        using Entry = std::pair<uint64_t, uint32_t>;  // (capture time, source)
        std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap;
        const uint64_t ramp_us = static_cast<uint64_t>(o_.ramp_s * 1e6);
        for (uint32_t i = 0; i < o_.concurrency; ++i) {
            if (!may_start()) break;
            const uint64_t at = ramp_us ? rng_.next() % ramp_us : 0;
            start(slots_[i], at);
            heap.push({at + slots_[i].pkts.front().t_us, i});
        }
        if (o_.flood_pps > 0) {
            flood_next_ = static_cast<uint64_t>(o_.flood_start_s * 1e6);
            flood_end_ = flood_next_ + static_cast<uint64_t>(o_.flood_duration_s * 1e6);
            flood_period_ = 1e6 / o_.flood_pps;
            heap.push({flood_next_, kFlood});
        }
        for (size_t k = 0; k < o_.scans.size(); ++k) {
            ScanState st;
            st.probe_at = static_cast<uint64_t>(o_.scan_start_s * 1e6) + k * 1000;
            scan_state_.push_back(st);
            heap.push({st.probe_at, static_cast<uint32_t>(kScan0 + k)});
        }
        while (!heap.empty()) {
            const auto [t, src] = heap.top();
            heap.pop();
            // With many live connections the next slot is a cache miss: start it now.
            if (!heap.empty() && heap.top().second < slots_.size()) {
                const Conn& n = slots_[heap.top().second];
                __builtin_prefetch(&n);
                __builtin_prefetch(n.pkts.data() + n.next);
            }
            if (src == kFlood) {
                flood_syn(t);
                flood_acc_ += flood_period_;
                const uint64_t next = flood_next_ + static_cast<uint64_t>(flood_acc_);
                if (next < flood_end_) heap.push({next, kFlood});
                continue;
            }
            if (src >= kScan0) {
                const size_t k = src - kScan0;
                if (const uint64_t next = scan_step(o_.scans[k], scan_state_[k], t)) heap.push({next, src});
                continue;
            }
            Conn& c = slots_[src];
            emit(c, c.pkts[c.next]);
            --pending_;
            if (++c.next < c.pkts.size()) {
                heap.push({c.start_us + c.pkts[c.next].t_us, src});
            } else if (may_start()) {
                const uint64_t at = t + rng_.log_range(10, 20000);
                start(c, at);
                heap.push({at + c.pkts.front().t_us, src});
            }
        }
        writer_.finish();
    }

    uint64_t packets() const noexcept { return writer_.packets(); }
    uint64_t bytes() const noexcept { return writer_.bytes(); }
    uint64_t connections() const noexcept { return serial_; }
    uint64_t flood_packets() const noexcept { return flood_pkts_; }
    uint64_t scan_packets() const noexcept { return scan_pkts_; }
    uint64_t last_ts_us() const noexcept { return last_ts_; }
    uint64_t first_ts_us() const noexcept { return first_ts_; }

private:
    static constexpr uint32_t kFlood = 0xfffffff0u;
    static constexpr uint32_t kScan0 = 0xfffffff1u - 0x10000u;

    bool may_start() const noexcept {
        if (o_.connections) return serial_ < o_.connections;
        return legit_written_ + pending_ < o_.packets;
    }

    Kind pick_kind() {
        uint32_t r = rng_.range(0, kind_total_ - 1);
        for (int k = 0; k < kKinds; ++k) {
            if (r < kKindInfo[static_cast<size_t>(k)].weight) return static_cast<Kind>(k);
            r -= kKindInfo[static_cast<size_t>(k)].weight;
        }
        return Kind::Open;
    }

    // Originator addresses: connection number -> (address, port) is one-to-one, so
    // no two legitimate connections share a 4-tuple, and consecutive connections
    // come from different hosts.
    Endpoint client(uint64_t serial, bool v6) const {
        constexpr uint64_t kHosts = 65521;  // prime: hosts cycle before ports do
        const auto host = static_cast<uint32_t>(serial % kHosts);
        // Linux's ephemeral range, each host starting somewhere else in it.
        const auto port = static_cast<uint16_t>(32768 + (serial / kHosts + uint64_t{host} * 7919) % 28232);
        const uint32_t id = ((host * 2654435761u) ^ client_salt_) & 0xffffff;   // bijection on 24 bits
        Endpoint e;
        e.v6 = v6;
        e.port = port;
        if (v6) {
            const uint8_t pre[8] = {0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
            std::memcpy(e.addr.data(), pre, 8);
            put32(e.addr.data() + 12, id + 1);
        } else {
            put32(e.addr.data(), 0x0a000000u | id);  // 10.0.0.0/8
        }
        return e;
    }

    Endpoint server(bool v6) {
        Endpoint e = v6 ? servers_v6_[rng_.range(0, static_cast<uint32_t>(servers_v6_.size() - 1))]
                        : servers_v4_[rng_.range(0, static_cast<uint32_t>(servers_v4_.size() - 1))];
        static constexpr uint16_t kPorts[] = {443, 443, 443, 443, 443, 443, 80, 80, 22, 8080, 25, 5432, 6379, 9000};
        e.port = kPorts[rng_.range(0, static_cast<uint32_t>(std::size(kPorts) - 1))];
        return e;
    }

    void start(Conn& c, uint64_t at) {
        c.serial = serial_++;
        c.start_us = at;
        c.kind = pick_kind();
        const bool v6 = rng_.chance(o_.ipv6_fraction);
        c.ep[0] = client(c.serial, v6);
        c.ep[1] = server(v6);
        c.vlan = rng_.chance(o_.vlan_fraction) ? static_cast<uint16_t>(100 + rng_.range(0, 15)) : 0;
        c.ip_id[0] = static_cast<uint16_t>(rng_.u32());
        c.ip_id[1] = static_cast<uint16_t>(rng_.u32());
        c.flow_label[0] = rng_.u32() & 0xfffff;
        c.flow_label[1] = rng_.u32() & 0xfffff;
        c.ts_base[0] = rng_.u32();
        c.ts_base[1] = rng_.u32();
        c.ts = rng_.chance(0.85);  // Linux/macOS send timestamps, Windows by default not
        c.sack = true;
        const uint16_t mss = v6 ? 1440 : 1460;
        c.mss[0] = mss;
        c.mss[1] = rng_.chance(0.2) ? static_cast<uint16_t>(mss - 40) : mss;  // a tunnel on the server side
        c.wscale[0] = rng_.chance(0.95) ? static_cast<int8_t>(rng_.range(6, 8)) : int8_t{-1};
        c.wscale[1] = rng_.chance(0.95) ? int8_t{7} : int8_t{-1};
        ScriptBuilder(c, rng_, o_.max_rounds, o_.max_segments).build();
        pending_ += c.pkts.size();
        if (truth_) write_truth(c);
    }

    void write_truth(const Conn& c) {
        const KindInfo& k = kKindInfo[static_cast<size_t>(c.kind)];
        uint64_t pkts[2] = {0, 0}, bytes[2] = {0, 0};
        for (const Pkt& p : c.pkts) {
            ++pkts[p.dir];
            if (!(p.flags & tcpf::Rst)) bytes[p.dir] += p.len;
        }
        char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
        const int af = c.ep[0].v6 ? AF_INET6 : AF_INET;
        inet_ntop(af, c.ep[0].addr.data(), a, sizeof a);
        inet_ntop(af, c.ep[1].addr.data(), b, sizeof b);
        std::fprintf(truth_, "%s\t%u\t%s\t%u\t%s\t%s\t%s\t%s\t%llu\t%llu\t%llu\t%llu\t%s\n", a, c.ep[0].port, b,
                     c.ep[1].port, k.conn_state, zeek_history(c).c_str(), k.orig_state, k.resp_state,
                     static_cast<unsigned long long>(pkts[0]), static_cast<unsigned long long>(pkts[1]),
                     static_cast<unsigned long long>(bytes[0]), static_cast<unsigned long long>(bytes[1]), k.name);
    }

    // TCP options as Linux writes them: SYN: MSS, SACK-permitted, timestamps, NOP,
    // window scale; others: NOP, NOP, timestamps.
    size_t options(const Conn& c, const Pkt& p, uint64_t ts_us, uint8_t* o) const {
        const int d = p.dir;
        const auto tsval = static_cast<uint32_t>(c.ts_base[d] + ts_us / 1000);
        // What the sender last heard from its peer: roughly half an RTT ago.
        const auto tsecr = static_cast<uint32_t>(c.ts_base[1 - d] + (ts_us - c.start_us) / 2000 + c.start_us / 1000);
        size_t n = 0;
        auto ts_opt = [&](uint32_t ecr) {
            o[n++] = 8;
            o[n++] = 10;
            put32(o + n, tsval);
            put32(o + n + 4, ecr);
            n += 8;
        };
        if (p.opt == Opt::Syn) {
            const bool synack = (p.flags & tcpf::Ack) != 0;
            o[n++] = 2;
            o[n++] = 4;
            put16(o + n, c.mss[d]);
            n += 2;
            if (c.ts) {
                if (c.sack) {
                    o[n++] = 4;
                    o[n++] = 2;
                }
                ts_opt(synack ? tsecr : 0);
            } else if (c.sack) {
                o[n++] = 1;
                o[n++] = 1;
                o[n++] = 4;
                o[n++] = 2;
            }
            // The responder offers a window scale only if the originator did.
            const bool ws = c.wscale[d] >= 0 && (d == 0 || c.wscale[0] >= 0);
            if (ws) {
                o[n++] = 1;
                o[n++] = 3;
                o[n++] = 3;
                o[n++] = static_cast<uint8_t>(c.wscale[d]);
            }
            while (n % 4) o[n++] = 1;
        } else if (p.opt == Opt::Ts) {
            o[n++] = 1;
            o[n++] = 1;
            ts_opt(tsecr);
        }
        return n;
    }

    void emit(Conn& c, const Pkt& p) {
        const uint64_t ts = kEpochUs + c.start_us + p.t_us;
        uint8_t opts[40];
        const size_t olen = options(c, p, c.start_us + p.t_us, opts);
        const int d = p.dir;
        const uint8_t ttl = d == 0 ? 52 : 64;  // originators are a few hops away
        writer_.tcp(ts, d == 0, c.ep[d], c.ep[1 - d], c.vlan, c.ip_id[d]++, c.flow_label[d], ttl, p.seq, p.ack, p.flags,
                    p.win, opts, olen, p.len);
        ++legit_written_;
        note_ts(ts);
    }

    void note_ts(uint64_t ts) {
        if (first_ts_ == 0) first_ts_ = ts;
        last_ts_ = ts;
    }

    // One spoofed SYN: random source outside the legitimate ranges, random port.
    void flood_syn(uint64_t t) {
        Endpoint src;
        src.v6 = o_.flood_victim.v6;
        if (src.v6) {
            for (auto& b : src.addr) b = static_cast<uint8_t>(rng_.u32());
            src.addr[0] = 0x20;
            src.addr[1] = 0x02;  // 2002::/16, never a legitimate originator here
        } else {
            uint32_t a;
            do {
                a = rng_.u32();
            } while ((a >> 24) == 10 || (a >> 20) == 0xac1 || (a >> 24) == 0 || (a >> 28) >= 0xe);
            put32(src.addr.data(), a);
        }
        src.port = static_cast<uint16_t>(rng_.range(1024, 65535));
        const uint8_t opts[4] = {2, 4, 0x05, 0xb4};  // MSS 1460, as hping3 --syn with -O 5
        writer_.tcp(kEpochUs + t, true, src, o_.flood_victim, 0, static_cast<uint16_t>(rng_.u32()), 0,
                    static_cast<uint8_t>(rng_.range(32, 128)), rng_.u32(), 0, tcpf::Syn, 512, opts, sizeof opts, 0);
        ++flood_pkts_;
        note_ts(kEpochUs + t);
    }

    // One step of a scan: the probe of the next port, then the target's answer
    // (closed port: RST+ACK; open port, ports 22, 80 and 443: SYN-ACK to a SYN
    // probe, which the scanner resets; no answer to FIN/NULL/XMAS), 30 us apart.
    // Returns the time of the next step, or 0 when the scan is done.
    uint64_t scan_step(const Scan& s, ScanState& st, uint64_t t) {
        Endpoint src = s.src, dst = s.target;
        src.port = static_cast<uint16_t>(40000 + (o_.seed % 20000));  // nmap keeps one source port
        dst.port = static_cast<uint16_t>(1 + st.port);
        const bool open = dst.port == 22 || dst.port == 80 || dst.port == 443;
        const bool syn = s.kind == ScanKind::Syn;
        const uint8_t mss[4] = {2, 4, 0x05, 0xb4};
        const uint64_t at = kEpochUs + t;
        ++scan_pkts_;
        note_ts(at);
        switch (st.phase) {
            case 0: {
                uint8_t flags = 0;
                switch (s.kind) {
                    case ScanKind::Syn: flags = tcpf::Syn; break;
                    case ScanKind::Fin: flags = tcpf::Fin; break;
                    case ScanKind::Null: flags = 0; break;
                    case ScanKind::Xmas: flags = tcpf::Fin | tcpf::Psh | tcpf::Urg; break;
                }
                st.seq = rng_.u32();
                writer_.tcp(at, true, src, dst, 0, static_cast<uint16_t>(rng_.u32()), 0, 44, st.seq, 0, flags, 1024,
                            mss, syn ? 4 : 0, 0);
                st.next = st.seq + ((flags & (tcpf::Syn | tcpf::Fin)) ? 1u : 0u);
                if (!open || syn) {
                    st.phase = 1;
                    return t + 30;
                }
                break;
            }
            case 1:
                if (syn && open) {
                    writer_.tcp(at, false, dst, src, 0, 0, 0, 64, rng_.u32(), st.next, tcpf::Syn | tcpf::Ack, 65160,
                                mss, 4, 0);
                    st.phase = 2;
                    return t + 30;
                }
                writer_.tcp(at, false, dst, src, 0, 0, 0, 64, 0, st.next, tcpf::Rst | tcpf::Ack, 0, nullptr, 0, 0);
                break;
            default:
                writer_.tcp(at, true, src, dst, 0, 0, 0, 44, st.next, 0, tcpf::Rst, 0, nullptr, 0, 0);
                break;
        }
        // Next port: nmap -T4 sends about 10K probes/s.
        st.phase = 0;
        if (++st.port >= o_.scan_ports) return 0;
        st.probe_at += 100;
        return st.probe_at > t ? st.probe_at : t + 1;
    }

    const Options& o_;
    Rng rng_;
    PcapWriter writer_;
    std::vector<Conn> slots_;
    std::vector<Endpoint> servers_v4_, servers_v6_;
    uint32_t client_salt_ = 0;
    uint32_t kind_total_ = 1;
    FILE* truth_ = nullptr;
    uint64_t serial_ = 0;
    uint64_t legit_written_ = 0, pending_ = 0;
    uint64_t flood_next_ = 0, flood_end_ = 0, flood_pkts_ = 0;
    double flood_period_ = 0, flood_acc_ = 0;
    std::vector<ScanState> scan_state_;
    uint64_t scan_pkts_ = 0;
    uint64_t first_ts_ = 0, last_ts_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse_args(argc, argv);
    const auto t0 = std::chrono::steady_clock::now();
    Generator g(o);
    g.run();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double span = g.last_ts_us() > g.first_ts_us()
                            ? static_cast<double>(g.last_ts_us() - g.first_ts_us()) / 1e6
                            : 0.0;
    std::fprintf(stderr,
                 "wsgen: %llu packets (%llu flood, %llu scan), %llu connections, %.1f MB, capture span %.3f s; "
                 "written in %.2f s (%.2f Mpps)\n",
                 static_cast<unsigned long long>(g.packets()), static_cast<unsigned long long>(g.flood_packets()),
                 static_cast<unsigned long long>(g.scan_packets()), static_cast<unsigned long long>(g.connections()),
                 static_cast<double>(g.bytes()) / 1e6, span, secs,
                 secs > 0 ? static_cast<double>(g.packets()) / secs / 1e6 : 0.0);
    return 0;
}
