// Zero-copy packet header parser: link layer -> (tunnels) -> IPv4/IPv6 -> TCP.
//
// Contract: parse() reads only bytes inside [data, data + caplen). It never copies
// payload; the result holds views (pointers + lengths) into the caller's buffer,
// valid as long as that buffer is. Every malformed input yields one Reason.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ws::parse {

// Link-layer header types, numbered as libpcap's LINKTYPE_* (pcap file header).
enum class Link : uint16_t {
    Null = 0,        // BSD loopback: 4-byte address family in host byte order
    Ethernet = 1,
    Fddi = 10,       // FDDI with 802.2 LLC/SNAP
    Raw = 101,       // raw IPv4/IPv6 (LINKTYPE_RAW)
    Loop = 108,      // OpenBSD loopback: address family in network byte order
    LinuxSll = 113,  // Linux cooked capture v1
    Ipv4 = 228,
    Ipv6 = 229,
    LinuxSll2 = 276,
};

// Whether wirestate knows how to read this link type.
bool link_supported(uint32_t linktype) noexcept;
std::string_view link_name(uint32_t linktype) noexcept;

// What kind of packet this was. Exactly one per packet, so that
// packets_rx = tcp + non_tcp + malformed holds at every stage.
enum class Kind : uint8_t {
    Tcp,        // a TCP segment with a complete header (maybe bad checksum)
    NonTcp,     // valid, but not TCP (ARP, UDP, ICMP, non-first fragment, ...)
    Malformed,  // see Reason
};

// Why a packet is malformed; one counter per value. Keep names stable: they are
// the keys of `packets_malformed` in the statistics JSON.
enum class Reason : uint8_t {
    None = 0,
    TruncatedL2,         // shorter than its link/VLAN/MPLS/PPPoE header
    TruncatedL3,         // shorter than the IPv4/IPv6 fixed header
    BadIpVersion,        // version nibble disagrees with the ethertype
    BadIhl,              // IPv4 IHL < 5 or beyond the captured bytes
    BadTotalLength,      // IPv4 total length < IHL*4, or IPv6 payload length inconsistent
    Ipv6ExtTruncated,    // an IPv6 extension header runs past the packet
    Ipv6ExtChainTooLong, // more extension headers than we walk (kMaxIpv6Ext)
    TruncatedL4,         // shorter than the 20-byte fixed TCP header (cut options are not malformed)
    BadDataOffset,       // TCP data offset < 5 or beyond the IP payload
    OptionOverrun,       // a TCP option's length runs past the header
    BadOptionLength,     // a TCP option with length < 2, or a known kind with a wrong length
    TunnelTruncated,     // GRE/VXLAN/GTP-U/Teredo/ERSPAN header cut short
    EncapTooDeep,        // more nested encapsulations than kMaxEncapDepth
    Count
};

std::string_view reason_name(Reason r) noexcept;
inline constexpr size_t kReasonCount = static_cast<size_t>(Reason::Count);

inline constexpr int kMaxIpv6Ext = 8;
inline constexpr int kMaxEncapDepth = 4;  // tunnels inside tunnels
inline constexpr int kMaxSackBlocks = 4;

// TCP flag bits, as in the header's 13th byte.
namespace flag {
inline constexpr uint8_t Fin = 0x01, Syn = 0x02, Rst = 0x04, Psh = 0x08, Ack = 0x10, Urg = 0x20,
                         Ece = 0x40, Cwr = 0x80;
}

// Options a TCP header carried (RFC 9293 3.1, RFC 7323, RFC 2018).
struct TcpOptions {
    uint16_t mss = 0;
    uint8_t wscale = 0;
    uint8_t sack_blocks = 0;  // number of valid entries in sack[]
    uint32_t ts_val = 0, ts_ecr = 0;
    std::array<std::array<uint32_t, 2>, kMaxSackBlocks> sack{};  // [left, right)
    bool has_mss = false, has_wscale = false, sack_permitted = false, has_ts = false;
};

// An IPv4 or IPv6 address as 16 bytes; IPv4 uses the IPv4-mapped form ::ffff:a.b.c.d
// so that both families share one key layout.
using Addr = std::array<uint8_t, 16>;

struct PacketView {
    Kind kind = Kind::Malformed;
    Reason reason = Reason::None;

    uint8_t ip_version = 0;  // 4 or 6 (of the innermost IP header)
    uint8_t encap_depth = 0; // tunnels removed to reach it
    uint16_t vlan_count = 0;
    bool is_fragment = false;      // any IPv4/IPv6 fragment (first or later)
    bool checksum_checked = false; // verify requested and whole segment captured
    bool checksum_ok = true;
    bool options_truncated = false; // the capture cut the TCP options; opt holds those captured

    Addr src{}, dst{};
    uint16_t sport = 0, dport = 0;

    // TCP header fields, host byte order.
    uint32_t seq = 0, ack = 0;
    uint16_t window = 0;
    uint16_t urgent = 0;
    uint8_t flags = 0;
    uint8_t tcp_hdr_len = 0;

    // Lengths from the headers, not from the capture: a snaplen-cut packet still
    // reports its real payload size.
    uint32_t ip_len = 0;       // IP total length (IPv4) or 40 + payload length (IPv6)
    uint32_t payload_len = 0;  // TCP payload bytes per the IP and TCP headers
    uint32_t captured_payload = 0; // of those, how many bytes are in the buffer

    // Views into the caller's buffer.
    const uint8_t* l3 = nullptr;      // innermost IP header
    const uint8_t* tcp = nullptr;     // TCP header
    const uint8_t* payload = nullptr; // first payload byte (captured_payload bytes valid)

    TcpOptions opt{};

    bool has(uint8_t f) const noexcept { return (flags & f) != 0; }
};

struct ParseConfig {
    // Decapsulate GRE (incl. ERSPAN II/III), VXLAN, GTP-U and Teredo to reach the inner TCP.
    bool decapsulate_tunnels = true;
    // Verify TCP checksums where the whole segment was captured (Zeek's default; off
    // for captures taken on a host with checksum offload, Zeek's -C).
    bool verify_checksums = false;
    // UDP ports that carry tunnels.
    uint16_t vxlan_port = 4789;
    uint16_t gtpu_port = 2152;
    uint16_t teredo_port = 3544;
    // Also recognise Teredo on other UDP ports (relay traffic), by an exact fit of
    // an IPv6 packet in the datagram, as Zeek does.
    bool teredo_any_port = true;
};

// Parses one captured frame. `caplen` is the number of bytes in the buffer.
// Returns out.kind; for Kind::Malformed, out.reason says why.
Kind parse(const uint8_t* data, uint32_t caplen, Link link, const ParseConfig& cfg,
           PacketView& out) noexcept;

// parse() without its short path for plain Ethernet/IPv4/TCP frames: every frame
// through the general walk. The reference the short path is tested against.
Kind parse_general(const uint8_t* data, uint32_t caplen, Link link, const ParseConfig& cfg,
                   PacketView& out) noexcept;

// Format an address as text (dotted quad for IPv4-mapped, RFC 5952 for IPv6).
// Writes at most 46 bytes plus NUL into buf; returns the length.
size_t format_addr(const Addr& a, char* buf, size_t cap) noexcept;
bool is_v4_mapped(const Addr& a) noexcept;

}  // namespace ws::parse
