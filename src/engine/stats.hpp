// Per-worker counters. Written only by the owning worker; the management core
// reads copies (snapshots), never the live block.
#pragma once

#include <array>
#include <cstdint>

#include "parse/packet.hpp"

namespace ws::engine {

struct ShardStats {
    // Every received packet lands in exactly one of tcp / non_tcp / filtered / malformed.
    uint64_t packets_rx = 0;
    uint64_t packets_tcp = 0;
    uint64_t packets_non_tcp = 0;
    uint64_t packets_filtered = 0;
    uint64_t packets_malformed = 0;
    std::array<uint64_t, parse::kReasonCount> malformed{};  // indexed by parse::Reason

    uint64_t fragments = 0;         // of non_tcp: IP fragments after the first
    uint64_t tcp_bad_checksum = 0;  // of tcp: checksum verified and wrong (history 'C', not counted)
    uint64_t tcp_untracked = 0;     // of tcp: no table entry could be had (table full of established)
    uint64_t payload_bytes = 0;     // TCP payload per the headers

    uint64_t connections_created = 0;
    uint64_t connections_closed = 0;   // ended by FIN/RST exchange (incl. reuse of the 4-tuple)
    uint64_t connections_expired = 0;  // ended by an inactivity timeout
    uint64_t connections_evicted = 0;  // removed to make room
    uint64_t connections_evicted_embryonic = 0;
    uint64_t connections_flushed = 0;  // still live at end of capture / shutdown
    uint64_t records_dropped = 0;      // records the management core could not take (ring full)

    uint64_t live_connections = 0;
    uint64_t live_embryonic = 0;

    uint64_t bursts = 0;
    uint64_t cycles = 0;  // TSC cycles spent processing bursts (pipeline fills it)

    ShardStats& operator+=(const ShardStats& o) noexcept {
        packets_rx += o.packets_rx;
        packets_tcp += o.packets_tcp;
        packets_non_tcp += o.packets_non_tcp;
        packets_filtered += o.packets_filtered;
        packets_malformed += o.packets_malformed;
        for (size_t i = 0; i < malformed.size(); ++i) malformed[i] += o.malformed[i];
        fragments += o.fragments;
        tcp_bad_checksum += o.tcp_bad_checksum;
        tcp_untracked += o.tcp_untracked;
        payload_bytes += o.payload_bytes;
        connections_created += o.connections_created;
        connections_closed += o.connections_closed;
        connections_expired += o.connections_expired;
        connections_evicted += o.connections_evicted;
        connections_evicted_embryonic += o.connections_evicted_embryonic;
        connections_flushed += o.connections_flushed;
        records_dropped += o.records_dropped;
        live_connections += o.live_connections;
        live_embryonic += o.live_embryonic;
        bursts += o.bursts;
        cycles += o.cycles;
        return *this;
    }
};

}  // namespace ws::engine
