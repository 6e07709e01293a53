// Builds captured frames byte for byte, inside out: a TCP segment, wrapped in an
// IP header, wrapped in a link layer or a tunnel. Used by the parser tests and
// by bench/bench_parse.cpp, so it stays header-only and free of GoogleTest.
//
// Every length and checksum is computed unless a field asks to override it,
// which is how the tests produce malformed packets on purpose.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ws::frames {

using Bytes = std::vector<uint8_t>;
using V4 = std::array<uint8_t, 4>;
using V6 = std::array<uint8_t, 16>;

inline void put8(Bytes& b, unsigned v) { b.push_back(static_cast<uint8_t>(v)); }
inline void put16(Bytes& b, unsigned v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}
inline void put32(Bytes& b, uint32_t v) {
    put16(b, v >> 16);
    put16(b, v & 0xffffu);
}
inline void set16(Bytes& b, size_t off, unsigned v) {
    b[off] = static_cast<uint8_t>(v >> 8);
    b[off + 1] = static_cast<uint8_t>(v);
}
inline void append(Bytes& b, const Bytes& tail) { b.insert(b.end(), tail.begin(), tail.end()); }
template <size_t N>
inline void append(Bytes& b, const std::array<uint8_t, N>& a) { b.insert(b.end(), a.begin(), a.end()); }

// Text to address; throws on a typo so a broken test fails loudly.
inline V4 v4(const char* s) {
    V4 a{};
    if (inet_pton(AF_INET, s, a.data()) != 1) throw std::invalid_argument(s);
    return a;
}
inline V6 v6(const char* s) {
    V6 a{};
    if (inet_pton(AF_INET6, s, a.data()) != 1) throw std::invalid_argument(s);
    return a;
}

// RFC 1071 one's-complement sum, folded but not inverted.
inline uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc = 0) {
    size_t i = 0;
    for (; i + 1 < n; i += 2) acc += static_cast<uint32_t>((p[i] << 8) | p[i + 1]);
    if (i < n) acc += static_cast<uint32_t>(p[i] << 8);
    while (acc >> 16) acc = (acc & 0xffffu) + (acc >> 16);
    return acc;
}
inline uint16_t finish(uint32_t acc) { return static_cast<uint16_t>(~acc & 0xffffu); }

// ---- TCP ---------------------------------------------------------------------

// Option list in wire order, written the way tcpdump prints it.
struct Opts {
    Bytes b;
    Opts& mss(uint16_t v) { put8(b, 2); put8(b, 4); put16(b, v); return *this; }
    Opts& nop() { put8(b, 1); return *this; }
    Opts& eol() { put8(b, 0); return *this; }
    Opts& wscale(uint8_t s) { put8(b, 3); put8(b, 3); put8(b, s); return *this; }
    Opts& sack_ok() { put8(b, 4); put8(b, 2); return *this; }
    Opts& ts(uint32_t val, uint32_t ecr) { put8(b, 8); put8(b, 10); put32(b, val); put32(b, ecr); return *this; }
    Opts& sack(std::initializer_list<std::pair<uint32_t, uint32_t>> blocks) {
        put8(b, 5);
        put8(b, static_cast<unsigned>(2 + 8 * blocks.size()));
        for (auto [l, r] : blocks) { put32(b, l); put32(b, r); }
        return *this;
    }
    Opts& raw(std::initializer_list<uint8_t> bytes) { b.insert(b.end(), bytes); return *this; }
};

struct Tcp {
    uint16_t sport = 40000, dport = 80;
    uint32_t seq = 1000, ack = 0;
    uint8_t flags = 0x02;
    uint16_t win = 65535, urg = 0;
    Bytes options;        // zero-padded to a multiple of 4 unless doff_words is set
    Bytes payload;
    int doff_words = -1;  // override the data offset nibble (malformed tests)
};

// The segment with checksum 0; the IP layer fills it (it needs the pseudo-header).
inline Bytes tcp(const Tcp& t) {
    Bytes b;
    put16(b, t.sport); put16(b, t.dport);
    put32(b, t.seq); put32(b, t.ack);
    Bytes opt = t.options;
    if (t.doff_words < 0) while (opt.size() % 4) opt.push_back(0);
    unsigned doff = t.doff_words >= 0 ? static_cast<unsigned>(t.doff_words)
                                      : static_cast<unsigned>((20 + opt.size()) / 4);
    put8(b, (doff & 0xfu) << 4);
    put8(b, t.flags);
    put16(b, t.win);
    put16(b, 0);  // checksum
    put16(b, t.urg);
    append(b, opt);
    append(b, t.payload);
    return b;
}

// Bytes of a generic payload: 0, 1, 2, ... so offsets are visible in a dump.
inline Bytes pattern(size_t n) {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i);
    return b;
}

// ---- UDP ---------------------------------------------------------------------

inline Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload) {
    Bytes b;
    put16(b, sport); put16(b, dport);
    put16(b, static_cast<unsigned>(8 + payload.size()));
    put16(b, 0);  // checksum optional over IPv4; the parser does not check it
    append(b, payload);
    return b;
}

// ---- IPv4 --------------------------------------------------------------------

struct Ip4 {
    V4 src = {10, 0, 0, 1}, dst = {10, 0, 0, 2};
    uint8_t proto = 6;
    uint8_t ttl = 64;
    uint8_t version = 4;
    uint16_t id = 0x1234;
    bool df = true, mf = false;
    uint16_t frag_off = 0;   // in 8-byte units
    Bytes options;           // zero-padded to a multiple of 4 unless ihl_words is set
    int ihl_words = -1;      // override IHL (malformed tests)
    int total_len = -1;      // override total length (malformed tests)
    bool fill_tcp_checksum = true;
};

inline Bytes ipv4(const Ip4& h, Bytes l4) {
    Bytes opt = h.options;
    if (h.ihl_words < 0) while (opt.size() % 4) opt.push_back(0);
    unsigned ihl = h.ihl_words >= 0 ? static_cast<unsigned>(h.ihl_words)
                                    : static_cast<unsigned>((20 + opt.size()) / 4);
    unsigned total = h.total_len >= 0 ? static_cast<unsigned>(h.total_len)
                                      : static_cast<unsigned>(20 + opt.size() + l4.size());
    if (h.proto == 6 && h.fill_tcp_checksum && l4.size() >= 20 && h.frag_off == 0 && !h.mf) {
        uint32_t acc = sum16(h.src.data(), 4);
        acc = sum16(h.dst.data(), 4, acc);
        acc += 6u + static_cast<uint32_t>(l4.size());
        acc = sum16(l4.data(), l4.size(), acc);
        set16(l4, 16, finish(acc));
    }
    Bytes b;
    put8(b, (static_cast<unsigned>(h.version) << 4) | (ihl & 0xfu));
    put8(b, 0);  // DSCP/ECN
    put16(b, total);
    put16(b, h.id);
    put16(b, (h.df ? 0x4000u : 0u) | (h.mf ? 0x2000u : 0u) | (h.frag_off & 0x1fffu));
    put8(b, h.ttl);
    put8(b, h.proto);
    put16(b, 0);
    append(b, h.src);
    append(b, h.dst);
    append(b, opt);
    set16(b, 10, finish(sum16(b.data(), b.size())));
    append(b, l4);
    return b;
}

// ---- IPv6 --------------------------------------------------------------------

// One extension header: its protocol number and its bytes, whose first byte (next
// header) the builder fills in.
struct Ext {
    uint8_t type;
    Bytes bytes;
};
// Hop-by-hop (0) or destination options (60) of `units8` 8-byte units, padded with PadN.
inline Ext ext_options(uint8_t type, unsigned units8 = 1) {
    Bytes b{0, static_cast<uint8_t>(units8 - 1)};
    unsigned pad = units8 * 8 - 2;
    put8(b, 1);  // PadN
    put8(b, pad - 2);
    b.resize(units8 * 8, 0);
    return {type, b};
}
// Type 0 routing header with `n` addresses (deprecated, but still a valid encoding).
inline Ext ext_routing(unsigned n) {
    Bytes b{0, static_cast<uint8_t>(2 * n), 0, static_cast<uint8_t>(n), 0, 0, 0, 0};
    for (unsigned i = 0; i < n; ++i) append(b, v6("2001:db8:ffff::1"));
    return {43, b};
}
inline Ext ext_fragment(uint16_t offset_units8, bool more, uint32_t ident = 0xabcdef01) {
    Bytes b{0, 0};
    put16(b, static_cast<unsigned>(offset_units8 << 3) | (more ? 1u : 0u));
    put32(b, ident);
    return {44, b};
}

struct Ip6 {
    V6 src = v6("2001:db8::1"), dst = v6("2001:db8::2");
    uint8_t proto = 6;          // the upper-layer protocol after the extension chain
    uint8_t hop_limit = 64;
    uint8_t version = 6;
    std::vector<Ext> ext;
    int payload_len = -1;       // override (malformed tests)
    bool fill_tcp_checksum = true;
};

inline Bytes ipv6(const Ip6& h, Bytes l4) {
    bool fragmented = false;
    for (const auto& e : h.ext) fragmented = fragmented || e.type == 44;
    if (h.proto == 6 && h.fill_tcp_checksum && l4.size() >= 20 && !fragmented) {
        uint32_t acc = sum16(h.src.data(), 16);
        acc = sum16(h.dst.data(), 16, acc);
        acc += 6u + static_cast<uint32_t>(l4.size());
        acc = sum16(l4.data(), l4.size(), acc);
        set16(l4, 16, finish(acc));
    }
    Bytes chain;
    for (size_t i = 0; i < h.ext.size(); ++i) {
        Bytes e = h.ext[i].bytes;
        e[0] = i + 1 < h.ext.size() ? h.ext[i + 1].type : h.proto;
        append(chain, e);
    }
    unsigned plen = h.payload_len >= 0 ? static_cast<unsigned>(h.payload_len)
                                       : static_cast<unsigned>(chain.size() + l4.size());
    Bytes b;
    put32(b, static_cast<uint32_t>(h.version) << 28);
    put16(b, plen);
    put8(b, h.ext.empty() ? h.proto : h.ext[0].type);
    put8(b, h.hop_limit);
    append(b, h.src);
    append(b, h.dst);
    append(b, chain);
    append(b, l4);
    return b;
}

// ---- Link layers -------------------------------------------------------------

inline constexpr uint16_t kEthIpv4 = 0x0800, kEthIpv6 = 0x86dd, kEthArp = 0x0806, kEthVlan = 0x8100,
                          kEthQinQ = 0x88a8, kEthMpls = 0x8847, kEthPppoe = 0x8864,
                          kEthTransEther = 0x6558, kEthErspanII = 0x88be;

struct Tag {
    uint16_t tpid;  // 0x8100 or 0x88a8
    uint16_t tci;   // PCP/DEI/VID
};

// Ethernet II with optional 802.1Q/802.1ad tags, zero-padded to `min_len` bytes
// (60 = minimum frame without FCS) when asked.
inline Bytes ether(uint16_t type, const Bytes& payload, std::initializer_list<Tag> tags = {},
                   size_t min_len = 0) {
    Bytes b{0x00, 0x16, 0x3e, 0x00, 0x00, 0x02, 0x00, 0x16, 0x3e, 0x00, 0x00, 0x01};
    for (const Tag& t : tags) { put16(b, t.tpid); put16(b, t.tci); }
    put16(b, type);
    append(b, payload);
    if (b.size() < min_len) b.resize(min_len, 0);
    return b;
}

// MPLS label stack entries in front of `payload`; the last one has bottom-of-stack set.
inline Bytes mpls(std::initializer_list<uint32_t> labels, const Bytes& payload) {
    Bytes b;
    size_t i = 0;
    for (uint32_t l : labels) {
        bool bottom = ++i == labels.size();
        put32(b, (l << 12) | (bottom ? 0x100u : 0u) | 64u);  // TTL 64
    }
    append(b, payload);
    return b;
}

// PPPoE session header (RFC 2516) and PPP protocol: 0x0021 IPv4, 0x0057 IPv6.
inline Bytes pppoe(uint16_t ppp_proto, const Bytes& payload) {
    Bytes b{0x11, 0x00};
    put16(b, 0x0001);  // session id
    put16(b, static_cast<unsigned>(2 + payload.size()));
    put16(b, ppp_proto);
    append(b, payload);
    return b;
}

// Linux cooked capture v1: packet type, ARPHRD, address length, 8 address bytes, protocol.
inline Bytes sll(uint16_t proto, const Bytes& payload) {
    Bytes b;
    put16(b, 0);       // sent to us
    put16(b, 1);       // ARPHRD_ETHER
    put16(b, 6);
    Bytes addr{0x00, 0x16, 0x3e, 0x00, 0x00, 0x01, 0, 0};
    append(b, addr);
    put16(b, proto);
    append(b, payload);
    return b;
}

// Linux cooked capture v2: protocol first, then reserved, ifindex, ARPHRD, type, addr.
inline Bytes sll2(uint16_t proto, const Bytes& payload) {
    Bytes b;
    put16(b, proto);
    put16(b, 0);
    put32(b, 2);       // interface index
    put16(b, 1);       // ARPHRD_ETHER
    put8(b, 4);        // outgoing
    put8(b, 6);
    Bytes addr{0x00, 0x16, 0x3e, 0x00, 0x00, 0x01, 0, 0};
    append(b, addr);
    append(b, payload);
    return b;
}

// BSD loopback: a 4-byte address family, little-endian (the capturing host's order
// on x86) for LINKTYPE_NULL, big-endian for LINKTYPE_LOOP.
inline Bytes loopback(uint32_t af, const Bytes& payload, bool big_endian) {
    Bytes b;
    if (big_endian) {
        put32(b, af);
    } else {
        for (int i = 0; i < 4; ++i) put8(b, (af >> (8 * i)) & 0xffu);
    }
    append(b, payload);
    return b;
}

// FDDI: frame control, destination, source, then 802.2 LLC/SNAP with an ethertype.
inline Bytes fddi(uint16_t type, const Bytes& payload) {
    Bytes b{0x50, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    Bytes snap{0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00};
    append(b, snap);
    put16(b, type);
    append(b, payload);
    return b;
}

// ---- Tunnels -----------------------------------------------------------------

struct Gre {
    uint16_t proto = kEthIpv4;
    bool checksum = false;
    bool key = false;
    bool sequence = false;
};
inline Bytes gre(const Gre& g, const Bytes& payload) {
    Bytes b;
    put8(b, (g.checksum ? 0x80u : 0u) | (g.key ? 0x20u : 0u) | (g.sequence ? 0x10u : 0u));
    put8(b, 0);  // version 0
    put16(b, g.proto);
    if (g.checksum) put32(b, 0);
    if (g.key) put32(b, 0x00000abc);
    if (g.sequence) put32(b, 7);
    append(b, payload);
    return b;
}

// ERSPAN type II header (8 bytes: version 1, VLAN, COS/En/T, session, index) in
// front of the mirrored Ethernet frame; carried in GRE with the S bit, 0x88be.
inline Bytes erspan2(uint16_t session, const Bytes& frame) {
    Bytes b;
    put16(b, 0x1000);            // version 1 (type II), VLAN 0
    put16(b, session & 0x3ffu);  // COS 0, En 0, T 0, session id
    put32(b, 0);                 // reserved + index
    append(b, frame);
    return b;
}

// VXLAN (RFC 7348): flags with I set, 24-bit VNI, then the inner Ethernet frame.
inline Bytes vxlan(uint32_t vni, const Bytes& frame) {
    Bytes b{0x08, 0, 0, 0};
    put32(b, vni << 8);
    append(b, frame);
    return b;
}

// GTP-U v1 G-PDU (3GPP TS 29.281); `with_seq` sets S and adds the 4 optional bytes.
inline Bytes gtpu(uint32_t teid, const Bytes& inner_ip, bool with_seq = false) {
    Bytes b;
    put8(b, 0x30u | (with_seq ? 0x02u : 0u));  // version 1, PT 1
    put8(b, 0xff);                             // G-PDU
    put16(b, static_cast<unsigned>(inner_ip.size() + (with_seq ? 4 : 0)));
    put32(b, teid);
    if (with_seq) { put16(b, 42); put8(b, 0); put8(b, 0); }
    append(b, inner_ip);
    return b;
}

// Teredo (RFC 4380) origin indication: 0x0000, obfuscated port and address.
inline Bytes teredo_origin(uint16_t port, V4 addr, const Bytes& inner_ipv6) {
    Bytes b{0x00, 0x00};
    put16(b, port ^ 0xffffu);
    for (uint8_t x : addr) put8(b, x ^ 0xffu);
    append(b, inner_ipv6);
    return b;
}

// ---- Common shapes -----------------------------------------------------------

inline Bytes eth_ipv4_tcp(const Ip4& ip, const Tcp& t, size_t min_len = 0) {
    return ether(kEthIpv4, ipv4(ip, tcp(t)), {}, min_len);
}
inline Bytes eth_ipv6_tcp(const Ip6& ip, const Tcp& t) {
    return ether(kEthIpv6, ipv6(ip, tcp(t)));
}

}  // namespace ws::frames
