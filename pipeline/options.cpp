#include "options.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <toml++/toml.h>

namespace ws::pipeline {
namespace {

uint64_t parse_uint(const std::string& opt, const std::string& v, uint64_t lo, uint64_t hi) {
    uint64_t x = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc() || p != v.data() + v.size())
        throw UsageError(opt + ": '" + v + "' is not a whole number");
    if (x < lo || x > hi)
        throw UsageError(opt + ": " + v + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return x;
}

// Seconds (fractions allowed) to microseconds.
uint64_t parse_seconds(const std::string& opt, const std::string& v) {
    char* end = nullptr;
    double s = std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(s) || s < 0 || s > 1e9)
        throw UsageError(opt + ": '" + v + "' is not a duration in seconds");
    return static_cast<uint64_t>(std::llround(s * 1e6));
}

double parse_number(const std::string& opt, const std::string& v, double lo, double hi) {
    char* end = nullptr;
    double x = std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(x))
        throw UsageError(opt + ": '" + v + "' is not a number");
    if (x < lo || x > hi)
        throw UsageError(opt + ": " + v + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return x;
}

LogFormat parse_format(const std::string& opt, const std::string& v) {
    if (v == "zeek") return LogFormat::Zeek;
    if (v == "json") return LogFormat::Json;
    throw UsageError(opt + ": '" + v + "' is not one of zeek, json");
}

// One setter per option name, shared by the command line and the TOML file so the
// two cannot disagree on names, ranges or units.
void set_option(Options& o, const std::string& name, const std::string& v, const std::string& where) {
    auto& t = o.shard.tracker;
    auto& p = o.shard.parse;
    const std::string opt = where.empty() ? "--" + name : where;
    if (name == "workers") o.workers = static_cast<unsigned>(parse_uint(opt, v, 1, 64));
    else if (name == "conn-log") o.conn_log = v;
    else if (name == "log-format") o.log_format = parse_format(opt, v);
    else if (name == "stats-json") o.stats_json = v;
    else if (name == "alerts") o.alerts = v;
    else if (name == "flow-table") {
        if (v == "compact") o.flow_table = FlowTableKind::Compact;
        else if (v == "rte_hash") o.flow_table = FlowTableKind::RteHash;
        else throw UsageError(opt + ": '" + v + "' is not one of compact, rte_hash");
    }
    else if (name == "reader") {
        if (v == "mmap") o.reader = Reader::Mmap;
        else if (v == "pcap-pmd") o.reader = Reader::PcapPmd;
        else throw UsageError(opt + ": '" + v + "' is not one of mmap, pcap-pmd");
    }
    else if (name == "flow-table-size") o.flow_table_size = static_cast<uint32_t>(parse_uint(opt, v, 64, 1u << 28));
    else if (name == "embryonic-share") o.shard.embryonic_share_pct = static_cast<uint32_t>(parse_uint(opt, v, 1, 100));
    else if (name == "port") o.port = static_cast<uint32_t>(parse_uint(opt, v, 0, 1023));
    else if (name == "memory-mb") o.memory_mb = static_cast<unsigned>(parse_uint(opt, v, 0, 1u << 20));
    else if (name == "table") o.table_rows = static_cast<uint32_t>(parse_uint(opt, v, 0, 1000000));
    else if (name == "msl") t.msl_us = parse_seconds(opt, v);
    else if (name == "syn-timeout") t.syn_timeout_us = parse_seconds(opt, v);
    else if (name == "half-open-timeout") t.half_open_timeout_us = parse_seconds(opt, v);
    else if (name == "established-timeout") t.established_timeout_us = parse_seconds(opt, v);
    else if (name == "closing-timeout") t.closing_timeout_us = parse_seconds(opt, v);
    else if (name == "close-delay") t.close_delay_us = parse_seconds(opt, v);
    else if (name == "reset-delay") t.reset_delay_us = parse_seconds(opt, v);
    else if (name == "partial-close-delay") t.partial_close_delay_us = parse_seconds(opt, v);
    else if (name == "vxlan-port") p.vxlan_port = static_cast<uint16_t>(parse_uint(opt, v, 0, 65535));
    else if (name == "gtpu-port") p.gtpu_port = static_cast<uint16_t>(parse_uint(opt, v, 0, 65535));
    else if (name == "teredo-port") p.teredo_port = static_cast<uint16_t>(parse_uint(opt, v, 0, 65535));
    else if (name == "detect-interval") {
        o.shard.detect.interval_us = parse_seconds(opt, v);
        if (o.shard.detect.interval_us < 1000) throw UsageError(opt + ": at least 0.001 s");
    }
    else if (name == "syn-flood-rate") o.alert.syn_rate_min = parse_number(opt, v, 1, 1e12);
    else if (name == "baseline-factor") o.alert.baseline_factor = parse_number(opt, v, 1, 1e6);
    else if (name == "completion-ratio-max") o.alert.completion_ratio_max = parse_number(opt, v, 0, 1);
    else if (name == "onset-intervals") o.alert.onset_intervals = static_cast<uint32_t>(parse_uint(opt, v, 1, 100000));
    else if (name == "quiet-intervals") o.alert.quiet_intervals = static_cast<uint32_t>(parse_uint(opt, v, 1, 1000000));
    else if (name == "half-open-min") o.alert.half_open_min = parse_number(opt, v, 1, 1e12);
    else if (name == "scan-ports-min") o.alert.scan_ports_min = parse_number(opt, v, 2, 65536);
    else if (name == "top-sources") o.alert.top_sources = static_cast<uint32_t>(parse_uint(opt, v, 0, 64));
    else if (name == "duration") o.duration_s = static_cast<double>(parse_seconds(opt, v)) / 1e6;
    else if (name == "stats-interval") o.stats_interval_s = static_cast<double>(parse_seconds(opt, v)) / 1e6;
    else if (name == "verify-checksums" || name == "decapsulate-tunnels" || name == "summary" ||
             name == "infinite-rx" || name == "rx-only" || name == "detect") {
        bool b;
        if (v == "true") b = true;
        else if (v == "false") b = false;
        else throw UsageError(opt + ": '" + v + "' is not true or false");
        if (name == "verify-checksums") p.verify_checksums = b;
        else if (name == "decapsulate-tunnels") p.decapsulate_tunnels = b;
        else if (name == "infinite-rx") o.infinite_rx = b;
        else if (name == "rx-only") o.rx_only = b;
        else if (name == "detect") o.shard.detect.enabled = b;
        else o.summary = b;
    } else {
        throw UsageError("unknown option " + opt);
    }
}

const std::set<std::string>& value_options() {
    static const std::set<std::string> s = {
        "workers", "conn-log", "log-format", "stats-json", "alerts", "flow-table", "flow-table-size", "embryonic-share", "reader",
        "port", "memory-mb", "table", "msl", "syn-timeout", "half-open-timeout", "established-timeout",
        "closing-timeout", "close-delay", "reset-delay", "partial-close-delay", "duration", "stats-interval",
        "detect-interval", "syn-flood-rate", "baseline-factor", "completion-ratio-max", "onset-intervals",
        "quiet-intervals", "half-open-min", "scan-ports-min", "top-sources", "vxlan-port", "gtpu-port", "teredo-port"};
    return s;
}

void parse_app_args(Options& o, const std::vector<std::string>& args) {
    // --config first, so that every other option on the command line overrides the file.
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--config") {
            if (i + 1 >= args.size()) throw UsageError("--config needs a value");
            o.config_path = args[i + 1];
        } else if (args[i].rfind("--config=", 0) == 0) {
            o.config_path = args[i].substr(9);
        }
    }
    if (!o.config_path.empty()) load_config(o.config_path, o);

    for (size_t i = 0; i < args.size(); ++i) {
        std::string a = args[i];
        if (a == "--config") { ++i; continue; }
        if (a.rfind("--config=", 0) == 0) continue;
        if (a.rfind("--", 0) != 0 || a.size() < 3) throw UsageError("unexpected argument '" + a + "'");
        std::string name = a.substr(2), value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        } else if (value_options().count(name)) {
            if (i + 1 >= args.size()) throw UsageError("--" + name + " needs a value");
            value = args[++i];
        } else if (name.rfind("no-", 0) == 0) {
            name = name.substr(3);
            value = "false";
        } else {
            value = "true";
        }
        set_option(o, name, value, "");
    }
}

}  // namespace

const char* usage_text() noexcept {
    return R"(usage: wirestate replay FILE [options]          offline replay of a pcap or pcapng file
       wirestate [EAL options] -- [options]      live: any DPDK port (NIC, af_packet, pcap, ...)

options (each also settable in the TOML config; the command line wins):
  --config PATH              TOML configuration (see config/wirestate.toml)
  --workers N                worker lcores (default 1)
  --conn-log PATH            connection log, '-' = stdout (default conn.log)
  --log-format zeek|json     Zeek conn.log TSV or JSON lines (default zeek)
  --stats-json PATH          final statistics as JSON
  --alerts PATH              alerts as JSON lines
  --flow-table-size N        connections per worker (default 1048576; a replay from the
                             mapped file takes no more than its capture can open)
  --flow-table KIND          compact (default: one line per IPv4 lookup) or rte_hash
  --embryonic-share PCT      share of the table open to half-open connections (default 50)
  --msl S                    maximum segment lifetime; TIME-WAIT lasts 2*MSL (default 60)
  --syn-timeout S, --half-open-timeout S, --established-timeout S, --closing-timeout S,
  --close-delay S, --reset-delay S, --partial-close-delay S
                             tracker timeouts on capture time (config/wirestate.toml)
  --verify-checksums         verify TCP checksums (Zeek's default; off = Zeek's -C)
  --no-decapsulate-tunnels   do not look inside GRE/ERSPAN/VXLAN/GTP-U/Teredo
  --vxlan-port N, --gtpu-port N, --teredo-port N
  --port N                   EAL mode: port id to watch (default 0)
  --table N                  print up to N connections as a table at exit
  --memory-mb N              replay: EAL memory, 0 = sized for rings and pools (default)
  --reader mmap|pcap-pmd     replay: frames in place from the mapped file (default; pcap and
                             pcapng) or through DPDK's pcap PMD (libpcap reads, the PMD copies)
  --no-summary               no human summary at exit
  --no-detect                no SYN-flood / half-open / scan detection
  --syn-flood-rate R, --baseline-factor F, --completion-ratio-max X, --half-open-min N,
  --scan-ports-min N, --onset-intervals N, --quiet-intervals N, --detect-interval S, --top-sources N
                             alert thresholds ([detect] in config/wirestate.toml)
  --stats-interval S         log a progress line (packets, Mpps, live connections) every S seconds
  --duration S               stop after S seconds of wall time (as SIGINT would)
  --infinite-rx              replay: loop the capture forever (pcap PMD infinite_rx=1, no
                             capture timestamps: wall clock instead); use with --duration
  --rx-only                  receive and free only, no parsing or tracking: the source's ceiling
)";
}

void load_config(const std::string& path, Options& o) {
    std::ifstream probe(path);
    if (!probe) throw UsageError("cannot read config file " + path + ": " + std::strerror(errno));
    toml::table tbl;
    try {
        tbl = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        const auto& s = e.source().begin;
        throw UsageError(path + ":" + std::to_string(s.line) + ":" + std::to_string(s.column) + ": " +
                         std::string(e.description()));
    }
    // [section] key = value; keys spelled like the command-line options, with '_' for '-'.
    static const std::set<std::string> sections = {"output", "pipeline", "tracker", "parse", "detect"};
    for (auto&& [sec, node] : tbl) {
        std::string sname(sec.str());
        if (!sections.count(sname) || !node.is_table())
            throw UsageError(path + ": unknown section [" + sname + "] (expected output, pipeline, tracker, parse)");
        for (auto&& [key, val] : *node.as_table()) {
            std::string k(key.str());
            std::string name = k;
            for (char& c : name)
                if (c == '_') c = '-';
            const std::string where = path + ": " + sname + "." + k;
            std::string v;
            if (auto s = val.value<std::string>(); s && val.is_string()) v = *s;
            else if (val.is_integer()) v = std::to_string(*val.value<int64_t>());
            else if (val.is_floating_point()) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "%.6f", *val.value<double>());
                v = buf;
            } else if (val.is_boolean()) v = *val.value<bool>() ? "true" : "false";
            else throw UsageError(where + ": unsupported value type");
            if (sname == "detect" && name == "enabled") name = "detect";
            if (name == "msl-s") name = "msl";
            else if (name.size() > 2 && name.compare(name.size() - 2, 2, "-s") == 0) name.resize(name.size() - 2);
            try {
                set_option(o, name, v, where);
            } catch (const UsageError& e) {
                if (std::string(e.what()).rfind("unknown option", 0) == 0)
                    throw UsageError(where + ": unknown key");
                throw;
            }
        }
    }
}

Options parse_options(int argc, char** argv) {
    Options o;
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) throw UsageError("no command: try 'wirestate replay FILE' or 'wirestate --help'");
    if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        o.mode = Mode::Replay;
        o.replay_file.clear();
        throw UsageError("");  // main prints the usage text for an empty message
    }
    if (args[0] == "replay") {
        o.mode = Mode::Replay;
        if (args.size() < 2 || args[1].rfind("--", 0) == 0) throw UsageError("replay needs a capture file");
        o.replay_file = args[1];
        parse_app_args(o, {args.begin() + 2, args.end()});
    } else {
        o.stats_interval_s = 10;  // live: a progress line every 10 s unless configured
        o.mode = Mode::Eal;
        auto dash = std::find(args.begin(), args.end(), std::string("--"));
        o.eal_args.assign(args.begin(), dash);
        std::vector<std::string> app;
        if (dash != args.end()) app.assign(dash + 1, args.end());
        parse_app_args(o, app);
    }
    return o;
}

}  // namespace ws::pipeline
