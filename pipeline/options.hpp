// Start-up configuration: a plain struct with its defaults, filled from the TOML
// file and then the command line (the command line wins), validated once.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "detect/alerts.hpp"
#include "engine/shard.hpp"

namespace ws::pipeline {

enum class Mode { Replay, Eal };
enum class LogFormat { Zeek, Json };
// The workers' flow table: engine::FlowTable, or DPDK's rte_hash (for comparison).
enum class FlowTableKind { Compact, RteHash };
// How replay reads the capture: in place from the mapped file (capture::PcapFile,
// pcap and pcapng), or through DPDK's pcap PMD (libpcap; always for --infinite-rx).
enum class Reader { Mmap, PcapPmd };

struct Options {
    Mode mode = Mode::Eal;
    std::string replay_file;             // replay mode: the capture
    std::vector<std::string> eal_args;   // EAL mode: everything before "--"

    std::string config_path;
    unsigned workers = 1;
    std::string conn_log = "conn.log";  // "-" = stdout, "" = none
    LogFormat log_format = LogFormat::Zeek;
    std::string stats_json;
    std::string alerts;
    uint32_t flow_table_size = 1u << 20;  // connections per worker
    FlowTableKind flow_table = FlowTableKind::Compact;
    Reader reader = Reader::Mmap;         // replay: --infinite-rx uses the pcap PMD
    uint32_t port = 0;                    // EAL mode: the port to watch
    bool summary = true;                  // human summary on stdout at exit
    uint32_t table_rows = 0;              // print up to N connections as a table at exit
    unsigned memory_mb = 0;               // replay: EAL -m; 0 = sized from the tables
    bool infinite_rx = false;             // replay: loop the capture forever (pcap PMD infinite_rx=1)
    bool rx_only = false;                 // receive and free, nothing else: the source's ceiling
    double duration_s = 0;                // stop after this much wall time; 0 = at end of input
    double stats_interval_s = 0;          // log a progress line this often; 0 = never (live: 10)

    engine::ShardConfig shard{};  // parse, tracker and per-worker detection settings
    detect::AlertConfig alert{};   // management-side alert thresholds
};

// A problem with the arguments or the configuration: printed as one line, exit 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Parses argv (the whole command line). Throws UsageError.
Options parse_options(int argc, char** argv);

// Applies a TOML file over `o`. Unknown keys and wrong types are errors.
void load_config(const std::string& path, Options& o);

const char* usage_text() noexcept;

}  // namespace ws::pipeline
