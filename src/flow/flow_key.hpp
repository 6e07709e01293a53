// Canonical, direction-free flow key: both directions of a connection map to the
// same key, so one table entry (on one worker) serves both.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "parse/packet.hpp"

namespace ws::flow {

// Endpoints ordered so that (lo_addr, lo_port) <= (hi_addr, hi_port) bytewise.
// 40 bytes, no padding holes, so it can be hashed and compared as raw bytes.
struct FlowKey {
    parse::Addr lo_addr;
    parse::Addr hi_addr;
    uint16_t lo_port;  // host byte order
    uint16_t hi_port;
    uint8_t proto;
    uint8_t pad[3];

    bool operator==(const FlowKey& o) const noexcept { return std::memcmp(this, &o, sizeof o) == 0; }
};
static_assert(sizeof(FlowKey) == 40);
static_assert(std::is_trivially_copyable_v<FlowKey>);

// Builds the key of a parsed TCP packet. Returns true when the packet's sender is
// the "lo" endpoint of the key.
inline bool make_key(const parse::PacketView& v, FlowKey& k) noexcept {
    int c = std::memcmp(v.src.data(), v.dst.data(), v.src.size());
    bool sender_lo = c < 0 || (c == 0 && v.sport <= v.dport);
    if (sender_lo) {
        k.lo_addr = v.src; k.hi_addr = v.dst; k.lo_port = v.sport; k.hi_port = v.dport;
    } else {
        k.lo_addr = v.dst; k.hi_addr = v.src; k.lo_port = v.dport; k.hi_port = v.sport;
    }
    k.proto = 6;
    k.pad[0] = k.pad[1] = k.pad[2] = 0;
    return sender_lo;
}

}  // namespace ws::flow
