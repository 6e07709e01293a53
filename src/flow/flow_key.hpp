// Canonical, direction-free flow key: both directions of a connection map to the
// same key, so one table entry (on one worker) serves both.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "flow/hash.hpp"
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
// memcmp's order on two addresses (bytes in network order), inline: two 64-bit
// loads each instead of a library call on every packet.
inline int compare_addr(const parse::Addr& a, const parse::Addr& b) noexcept {
    uint64_t a0, a1, b0, b1;
    std::memcpy(&a0, a.data(), 8);
    std::memcpy(&a1, a.data() + 8, 8);
    std::memcpy(&b0, b.data(), 8);
    std::memcpy(&b1, b.data() + 8, 8);
    if (a0 != b0) return __builtin_bswap64(a0) < __builtin_bswap64(b0) ? -1 : 1;
    if (a1 != b1) return __builtin_bswap64(a1) < __builtin_bswap64(b1) ? -1 : 1;
    return 0;
}

inline bool make_key(const parse::PacketView& v, FlowKey& k) noexcept {
    static_assert(sizeof(parse::Addr) == 16);
    int c = compare_addr(v.src, v.dst);
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

// Which of `shares` workers owns a flow, when each of them reads every frame and
// keeps its own (replay from the mapped file): one answer for both directions (the
// key is canonical), spread evenly, the same in every run.
inline uint32_t share_of(const FlowKey& k, uint32_t shares) noexcept {
    uint64_t w[4];
    std::memcpy(w, k.lo_addr.data(), 16);
    std::memcpy(w + 2, k.hi_addr.data(), 16);
    const uint64_t h = mix64(mix64(w[0] ^ w[3]) ^ w[1] ^ (w[2] << 1) ^ ((uint64_t{k.lo_port} << 16) | k.hi_port));
    return static_cast<uint32_t>(((h >> 32) * shares) >> 32);
}

}  // namespace ws::flow
