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

// Which of `shares` workers owns a flow in a replay from the mapped file (worker 0
// hands each of them its frames): one answer for both directions (the key is
// canonical), spread evenly, the same in every run.
// (The key's two addresses as two 64-bit loads each, its ports as lo << 16 | hi.)
inline uint32_t share_of(const uint64_t lo[2], const uint64_t hi[2], uint32_t ports, uint32_t shares) noexcept {
    const uint64_t h = mix64(mix64(lo[0] ^ hi[1]) ^ lo[1] ^ (hi[0] << 1) ^ ports);
    return static_cast<uint32_t>(((h >> 32) * shares) >> 32);
}
inline uint32_t share_of(const FlowKey& k, uint32_t shares) noexcept {
    uint64_t lo[2], hi[2];
    std::memcpy(lo, k.lo_addr.data(), 16);
    std::memcpy(hi, k.hi_addr.data(), 16);
    return share_of(lo, hi, uint32_t{k.lo_port} << 16 | k.hi_port, shares);
}

// share_of() of an untagged Ethernet frame carrying IPv4 or IPv6 (no extension
// header) and TCP, read at fixed offsets without parsing: the replay's reader
// hands each frame to its owner this way. Equal to share_of(make_key(v)) whenever
// parse() reports such a frame as TCP with view v: with TCP as the protocol of the
// outermost IP header there is no tunnel to open, so the addresses and ports are
// the ones at these offsets. -1 for every other frame (tags, other link types or
// protocols, too short), which the caller parses; a frame given an owner here may
// still be malformed, and its owner counts it as such.
inline int peek_share(const uint8_t* f, uint32_t caplen, parse::Link link, uint32_t shares) noexcept {
    if (link != parse::Link::Ethernet || caplen < 14 + 20 + 4) return -1;
    const uint16_t type = static_cast<uint16_t>(f[12] << 8 | f[13]);
    uint64_t lo[2], hi[2];
    uint32_t ports;  // sport in the high half, as read
    if (type == 0x0800) {
        const uint32_t ihl = (f[14] & 15u) * 4;
        if ((f[14] >> 4) != 4 || ihl < 20 || f[23] != 6 || caplen < 14 + ihl + 4) return -1;
        uint32_t a, b;  // bytes as stored; compared in network order
        std::memcpy(&a, f + 26, 4);
        std::memcpy(&b, f + 30, 4);
        ports = uint32_t{f[14 + ihl]} << 24 | uint32_t{f[15 + ihl]} << 16 | uint32_t{f[16 + ihl]} << 8 | f[17 + ihl];
        const uint32_t ab = __builtin_bswap32(a), bb = __builtin_bswap32(b);
        const bool src_lo = ab < bb || (ab == bb && (ports >> 16) <= (ports & 0xffff));
        // The IPv4-mapped form of parse::Addr (::ffff:a.b.c.d), as share_of loads it.
        lo[0] = hi[0] = 0;
        lo[1] = 0xffff0000u | uint64_t{src_lo ? a : b} << 32;
        hi[1] = 0xffff0000u | uint64_t{src_lo ? b : a} << 32;
        if (!src_lo) ports = ports >> 16 | ports << 16;
    } else if (type == 0x86dd) {
        if (caplen < 14 + 40 + 4 || (f[14] >> 4) != 6 || f[20] != 6) return -1;
        parse::Addr s, d;
        std::memcpy(s.data(), f + 22, 16);
        std::memcpy(d.data(), f + 38, 16);
        ports = uint32_t{f[54]} << 24 | uint32_t{f[55]} << 16 | uint32_t{f[56]} << 8 | f[57];
        const int c = compare_addr(s, d);
        const bool src_lo = c < 0 || (c == 0 && (ports >> 16) <= (ports & 0xffff));
        std::memcpy(lo, src_lo ? s.data() : d.data(), 16);
        std::memcpy(hi, src_lo ? d.data() : s.data(), 16);
        if (!src_lo) ports = ports >> 16 | ports << 16;
    } else {
        return -1;
    }
    return static_cast<int>(share_of(lo, hi, ports, shares));
}

}  // namespace ws::flow
