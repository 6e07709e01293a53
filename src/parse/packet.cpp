#include "parse/packet.hpp"

#include <bit>
#include <cstdio>
#include <cstring>

namespace ws::parse {
namespace {

// Fields are read with memcpy + byte swap: packet data has no alignment guarantee.
inline uint16_t rd16(const uint8_t* p) noexcept {
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
inline uint32_t rd32(const uint8_t* p) noexcept {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return __builtin_bswap32(v);
}

namespace eth {
inline constexpr uint16_t Ipv4 = 0x0800, Ipv6 = 0x86dd, Vlan = 0x8100, QinQ = 0x88a8,
                          QinQOld = 0x9100, Mpls = 0x8847, MplsMc = 0x8848, PppoeSess = 0x8864,
                          Pbb = 0x88e7, VnTag = 0x8926, ErspanII = 0x88be, ErspanIII = 0x22eb,
                          TransEther = 0x6558, Ppp = 0x880b;
}
inline constexpr uint8_t kIpTcp = 6, kIpUdp = 17, kIpGre = 47, kIpIpip = 4, kIpIpv6 = 41;
inline constexpr int kMaxL2Tags = 6;  // VLAN, QinQ, VNTag, PBB, MPLS labels... per link layer
// NOP, NOP, kind 8 (timestamps), length 10, as the four bytes are in memory.
inline constexpr uint32_t kAlignedTimestamps = std::endian::native == std::endian::little ? 0x0a080101u : 0x0101080au;

// Walks one packet from its link layer to the TCP header. Every step checks the
// bytes it reads against `end`; the first failure decides the Reason.
class Walker {
public:
    Walker(const uint8_t* begin, const uint8_t* end, const ParseConfig& cfg, PacketView& out) noexcept
        : begin_(begin), end_(end), cfg_(cfg), v_(out) {}

    // Ethernet, IPv4 without options or fragments, TCP with its whole header
    // captured: most of what a span port carries, checked in a few compares and
    // filled by the same steps as the walk below (ipv4_header, tcp_header), which
    // with the defaults set here write every field of the view: it is not cleared
    // first. Returns false for anything else, and false too if the options are
    // malformed (the view then partly written): the walk decides, on a clear view.
    bool plain_ipv4_tcp() noexcept {
        const uint8_t* p = begin_;
        if (avail(p) < 14 + 20 + 20) return false;
        if (rd16(p + 12) != eth::Ipv4 || p[14] != 0x45 || p[14 + 9] != kIpTcp) return false;
        const unsigned total = rd16(p + 14 + 2);
        if (total < 20 + 20 || (rd16(p + 14 + 6) & 0x3fffu) != 0) return false;  // MF or an offset: a fragment
        const uint8_t* t = p + 14 + 20;
        const uint8_t* l4_end = p + 14 + total <= end_ ? p + 14 + total : end_;
        const auto cap = static_cast<size_t>(l4_end - t);  // >= 20: both ends are 54 bytes in or more
        const unsigned doff = (t[12] >> 4) * 4u, l4_len = total - 20;
        if (doff < 20 || doff > l4_len) return false;
        v_.kind = Kind::Tcp;
        v_.reason = Reason::None;
        v_.encap_depth = 0;
        v_.vlan_count = 0;
        v_.checksum_checked = false;
        v_.checksum_ok = true;
        v_.opt = TcpOptions{};
        ipv4_header(p + 14, total, false);
        return tcp_header(t, doff, l4_len, cap) == Reason::None;
    }

    Kind link(Link lt) noexcept {
        const uint8_t* p = begin_;
        switch (lt) {
            case Link::Ethernet: return ethernet(p);
            case Link::Null:
            case Link::Loop: {
                if (avail(p) < 4) return bad(Reason::TruncatedL2);
                uint32_t af_be = rd32(p);
                uint32_t af = lt == Link::Loop ? af_be : __builtin_bswap32(af_be);
                // The capturing host's byte order is unknown for DLT_NULL: accept both.
                if (lt == Link::Null && af > 0xffff) af = af_be;
                if (af == 2) return ipv4(p + 4);
                if (af == 10 || af == 24 || af == 28 || af == 30) return ipv6(p + 4);
                return Kind::NonTcp;
            }
            case Link::Raw: return raw_ip(p);
            case Link::Ipv4: return ipv4(p);
            case Link::Ipv6: return ipv6(p);
            case Link::LinuxSll:
                if (avail(p) < 16) return bad(Reason::TruncatedL2);
                return ethertype(rd16(p + 14), p + 16, 0);
            case Link::LinuxSll2:
                if (avail(p) < 20) return bad(Reason::TruncatedL2);
                return ethertype(rd16(p), p + 20, 0);
            case Link::Fddi:
                // Frame control (1), destination (6), source (6), then 802.2 LLC.
                if (avail(p) < 13) return bad(Reason::TruncatedL2);
                return llc(p + 13);
        }
        return Kind::NonTcp;
    }

private:
    size_t avail(const uint8_t* p) const noexcept { return p <= end_ ? static_cast<size_t>(end_ - p) : 0; }
    Kind bad(Reason r) noexcept {
        v_.reason = r;
        return Kind::Malformed;
    }

    Kind ethernet(const uint8_t* p) noexcept {
        if (avail(p) < 14) return bad(Reason::TruncatedL2);
        uint16_t type = rd16(p + 12);
        if (type < 0x0600) return llc(p + 14);  // 802.3 length field: LLC follows
        // Untagged IPv4, most of any span port, straight to ipv4(): the same step
        // ethertype() would take, without the call and its dispatch.
        if (type == eth::Ipv4) return ipv4(p + 14);
        return ethertype(type, p + 14, 0);
    }

    // 802.2 LLC with SNAP carries an ethertype; other SAPs are not IP.
    Kind llc(const uint8_t* p) noexcept {
        if (avail(p) < 3) return bad(Reason::TruncatedL2);
        if (p[0] == 0xaa && p[1] == 0xaa && p[2] == 0x03) {
            if (avail(p) < 8) return bad(Reason::TruncatedL2);
            return ethertype(rd16(p + 6), p + 8, 0);
        }
        return Kind::NonTcp;
    }

    Kind raw_ip(const uint8_t* p) noexcept {
        if (avail(p) < 1) return bad(Reason::TruncatedL3);
        switch (p[0] >> 4) {
            case 4: return ipv4(p);
            case 6: return ipv6(p);
            default: return bad(Reason::BadIpVersion);
        }
    }

    Kind ethertype(uint16_t type, const uint8_t* p, int tags) noexcept {
        for (;;) {
            if (tags > kMaxL2Tags) return bad(Reason::EncapTooDeep);
            switch (type) {
                case eth::Ipv4: return ipv4(p);
                case eth::Ipv6: return ipv6(p);
                case eth::Vlan:
                case eth::QinQ:
                case eth::QinQOld:
                    if (avail(p) < 4) return bad(Reason::TruncatedL2);
                    ++v_.vlan_count;
                    type = rd16(p + 2);
                    p += 4;
                    ++tags;
                    continue;
                case eth::VnTag:  // Cisco VN-Tag: 4 bytes of tag, then the next ethertype
                    if (avail(p) < 6) return bad(Reason::TruncatedL2);
                    type = rd16(p + 4);
                    p += 6;
                    ++tags;
                    continue;
                case eth::Pbb:  // 802.1ah: I-TAG (4), customer dst+src MAC (12), ethertype
                    if (avail(p) < 18) return bad(Reason::TruncatedL2);
                    type = rd16(p + 16);
                    p += 18;
                    ++tags;
                    continue;
                case eth::Mpls:
                case eth::MplsMc: return mpls(p);
                case eth::PppoeSess:
                    // PPPoE header (6) then the PPP protocol field (2).
                    if (avail(p) < 8) return bad(Reason::TruncatedL2);
                    return ppp_protocol(rd16(p + 6), p + 8);
                default:
                    if (type < 0x0600) return llc(p);
                    return Kind::NonTcp;
            }
        }
    }

    Kind ppp_protocol(uint16_t proto, const uint8_t* p) noexcept {
        if (proto == 0x0021) return ipv4(p);
        if (proto == 0x0057) return ipv6(p);
        return Kind::NonTcp;
    }

    Kind mpls(const uint8_t* p) noexcept {
        for (int i = 0;; ++i) {
            if (i >= kMaxL2Tags) return bad(Reason::EncapTooDeep);
            if (avail(p) < 4) return bad(Reason::TruncatedL2);
            bool bottom = (p[2] & 0x01) != 0;
            p += 4;
            if (bottom) break;
        }
        // MPLS does not say what it carries; like Zeek, guess from the version nibble.
        if (avail(p) < 1) return bad(Reason::TruncatedL3);
        switch (p[0] >> 4) {
            case 4: return ipv4(p);
            case 6: return ipv6(p);
            default: return Kind::NonTcp;
        }
    }

    Kind ipv4(const uint8_t* p) noexcept {
        if (avail(p) < 20) return bad(Reason::TruncatedL3);
        if ((p[0] >> 4) != 4) return bad(Reason::BadIpVersion);
        unsigned ihl = (p[0] & 0x0fu) * 4u;
        if (ihl < 20 || ihl > avail(p)) return bad(Reason::BadIhl);
        unsigned total = rd16(p + 2);
        // Captured on the sending host with segmentation offload, the length is not
        // filled in yet; like Zeek, take what was captured.
        if (total == 0) total = static_cast<unsigned>(avail(p) < 0xffff ? avail(p) : 0xffff);
        if (total < ihl) return bad(Reason::BadTotalLength);
        // Trailing Ethernet padding is not IP payload; a snaplen cut keeps the header's length.
        const uint8_t* l4_end = p + total <= end_ ? p + total : end_;
        uint16_t frag = rd16(p + 6);
        bool more = (frag & 0x2000) != 0;
        unsigned offset = frag & 0x1fffu;
        uint8_t proto = p[9];
        ipv4_header(p, total, more || offset != 0);
        if (offset != 0) return Kind::NonTcp;  // only the first fragment carries the L4 header
        if (proto == kIpTcp) return tcp(p + ihl, l4_end, total - ihl);  // as l4() would, without the call
        return l4(proto, p + ihl, l4_end, total - ihl);
    }

    void ipv4_header(const uint8_t* p, unsigned total, bool fragment) noexcept {
        v_.ip_version = 4;
        v_.l3 = p;
        v_.ip_len = total;
        v_.is_fragment = fragment;
        v_.src = v4_mapped(p + 12);
        v_.dst = v4_mapped(p + 16);
    }

    Kind ipv6(const uint8_t* p) noexcept {
        if (avail(p) < 40) return bad(Reason::TruncatedL3);
        if ((p[0] >> 4) != 6) return bad(Reason::BadIpVersion);
        unsigned plen = rd16(p + 4);
        if (plen == 0) return bad(Reason::BadTotalLength);  // jumbograms are not seen on the wire we watch
        v_.ip_version = 6;
        v_.l3 = p;
        v_.ip_len = 40 + plen;
        v_.is_fragment = false;
        std::memcpy(v_.src.data(), p + 8, 16);
        std::memcpy(v_.dst.data(), p + 24, 16);
        const uint8_t* q = p + 40;
        const uint8_t* l4_end = q + plen <= end_ ? q + plen : end_;
        unsigned remaining = plen;  // payload bytes per the header, from q on
        uint8_t next = p[6];
        for (int n = 0;; ++n) {
            unsigned hlen;
            switch (next) {
                case 0:    // hop-by-hop
                case 43:   // routing
                case 60:   // destination options
                case 135:  // mobility
                    if (n >= kMaxIpv6Ext) return bad(Reason::Ipv6ExtChainTooLong);
                    if (avail(q) < 8 || remaining < 8) return bad(Reason::Ipv6ExtTruncated);
                    hlen = (q[1] + 1u) * 8u;
                    break;
                case 51:  // authentication header counts its length in 4-byte units
                    if (n >= kMaxIpv6Ext) return bad(Reason::Ipv6ExtChainTooLong);
                    if (avail(q) < 8 || remaining < 8) return bad(Reason::Ipv6ExtTruncated);
                    hlen = (q[1] + 2u) * 4u;
                    break;
                case 44: {  // fragment
                    if (n >= kMaxIpv6Ext) return bad(Reason::Ipv6ExtChainTooLong);
                    if (avail(q) < 8 || remaining < 8) return bad(Reason::Ipv6ExtTruncated);
                    uint16_t fo = rd16(q + 2);
                    v_.is_fragment = true;
                    if ((fo & 0xfff8u) != 0) return Kind::NonTcp;
                    hlen = 8;
                    break;
                }
                default: return l4(next, q, l4_end, remaining);
            }
            if (hlen > avail(q) || hlen > remaining) return bad(Reason::Ipv6ExtTruncated);
            next = q[0];
            q += hlen;
            remaining -= hlen;
        }
    }

    // `l4_end` bounds the captured L4 bytes; `l4_len` is the length the IP header claims.
    Kind l4(uint8_t proto, const uint8_t* p, const uint8_t* l4_end, unsigned l4_len) noexcept {
        switch (proto) {
            case kIpTcp: return tcp(p, l4_end, l4_len);
            case kIpUdp: return udp(p, l4_end);
            case kIpGre: return gre(p, l4_end);
            case kIpIpip: return tunnel_ip(p, l4_end, true);
            case kIpIpv6: return tunnel_ip(p, l4_end, false);
            default: return Kind::NonTcp;
        }
    }

    bool enter_tunnel() noexcept {
        if (!cfg_.decapsulate_tunnels) return false;
        ++v_.encap_depth;
        return true;
    }
    Kind too_deep_or(Kind k) noexcept {
        return v_.encap_depth > kMaxEncapDepth ? bad(Reason::EncapTooDeep) : k;
    }

    Kind tunnel_ip(const uint8_t* p, const uint8_t* l4_end, bool v4) noexcept {
        if (!enter_tunnel()) return Kind::NonTcp;
        if (v_.encap_depth > kMaxEncapDepth) return bad(Reason::EncapTooDeep);
        return bounded(p, l4_end, v4);
    }

    Kind udp(const uint8_t* p, const uint8_t* l4_end) noexcept {
        if (!cfg_.decapsulate_tunnels) return Kind::NonTcp;
        if (static_cast<size_t>(l4_end - p) < 8) return Kind::NonTcp;  // a short UDP datagram is not our business
        uint16_t sport = rd16(p), dport = rd16(p + 2);
        const uint8_t* q = p + 8;
        auto on = [&](uint16_t port) { return port != 0 && (sport == port || dport == port); };
        if (on(cfg_.vxlan_port)) {
            // VXLAN (RFC 7348): 8-byte header with the I flag, then an Ethernet frame.
            if (l4_end - q < 8) return bad(Reason::TunnelTruncated);
            if ((q[0] & 0x08) == 0) return Kind::NonTcp;
            enter_tunnel();
            if (v_.encap_depth > kMaxEncapDepth) return bad(Reason::EncapTooDeep);
            return inner_ethernet(q + 8, l4_end);
        }
        if (on(cfg_.gtpu_port)) return gtpu(q, l4_end);
        // Teredo relays use any port pair, so Zeek finds Teredo by its payload; off
        // its port we demand an exact fit of the IPv6 packet in the UDP datagram.
        if (on(cfg_.teredo_port) || cfg_.teredo_any_port) {
            unsigned udp_len = rd16(p + 4);
            return teredo(q, l4_end, udp_len >= 8 ? udp_len - 8u : 0u, !on(cfg_.teredo_port));
        }
        return Kind::NonTcp;
    }

    // GTP-U v1 (3GPP TS 29.281): 8-byte header, 4 more if E/S/PN, then extension headers.
    Kind gtpu(const uint8_t* q, const uint8_t* l4_end) noexcept {
        if (l4_end - q < 8) return bad(Reason::TunnelTruncated);
        if ((q[0] >> 5) != 1 || q[1] != 0xff) return Kind::NonTcp;  // version 1, G-PDU only
        const uint8_t* r = q + 8;
        if (q[0] & 0x07) {
            if (l4_end - r < 4) return bad(Reason::TunnelTruncated);
            uint8_t ext = r[3];
            r += 4;
            for (int n = 0; ext != 0 && (q[0] & 0x04); ++n) {
                if (n >= kMaxIpv6Ext) return bad(Reason::EncapTooDeep);
                if (l4_end - r < 4) return bad(Reason::TunnelTruncated);
                unsigned len = r[0] * 4u;
                if (len == 0 || static_cast<size_t>(l4_end - r) < len) return bad(Reason::TunnelTruncated);
                ext = r[len - 1];
                r += len;
            }
        }
        if (l4_end - r < 1) return bad(Reason::TunnelTruncated);
        enter_tunnel();
        if (v_.encap_depth > kMaxEncapDepth) return bad(Reason::EncapTooDeep);
        switch (r[0] >> 4) {
            case 4: return bounded(r, l4_end, true);
            case 6: return bounded(r, l4_end, false);
            default: return Kind::NonTcp;
        }
    }

    // Teredo (RFC 4380): optional authentication and origin-indication headers, then IPv6.
    Kind teredo(const uint8_t* q, const uint8_t* l4_end, unsigned udp_payload, bool strict) noexcept {
        // Off the Teredo port a datagram that does not fit is simply not Teredo.
        auto cut = [&] { return strict ? Kind::NonTcp : bad(Reason::TunnelTruncated); };
        const uint8_t* r = q;
        for (int n = 0; n < 2; ++n) {
            if (l4_end - r < 2) return Kind::NonTcp;
            uint16_t ind = rd16(r);
            if (ind == 0x0001) {  // authentication: id-len, au-len, then 9 bytes
                if (l4_end - r < 4) return cut();
                size_t len = 4u + r[2] + r[3] + 9u;
                if (static_cast<size_t>(l4_end - r) < len) return cut();
                r += len;
            } else if (ind == 0x0000) {  // origin indication: 8 bytes
                if (l4_end - r < 8) return cut();
                r += 8;
            } else {
                break;
            }
        }
        // Only a well-formed IPv6 header makes this Teredo; other traffic on the port is not.
        if (l4_end - r < 40 || (r[0] >> 4) != 6 || static_cast<size_t>(l4_end - r) < 40u + rd16(r + 4))
            return Kind::NonTcp;
        if (strict && static_cast<size_t>(r - q) + 40u + rd16(r + 4) != udp_payload) return Kind::NonTcp;
        enter_tunnel();
        if (v_.encap_depth > kMaxEncapDepth) return bad(Reason::EncapTooDeep);
        return bounded(r, l4_end, false);
    }

    // GRE (RFC 2784/2890, and PPTP's enhanced GRE, RFC 2637), incl. ERSPAN II/III payloads.
    Kind gre(const uint8_t* p, const uint8_t* l4_end) noexcept {
        if (!cfg_.decapsulate_tunnels) return Kind::NonTcp;
        if (l4_end - p < 4) return bad(Reason::TunnelTruncated);
        uint8_t f = p[0];
        uint8_t ver = p[1] & 0x07;
        uint16_t proto = rd16(p + 2);
        size_t hlen = 4;
        if (ver == 0) {
            if (f & 0x80) hlen += 4;  // checksum + reserved
            if (f & 0x20) hlen += 4;  // key
            if (f & 0x10) hlen += 4;  // sequence
        } else if (ver == 1) {
            hlen += 4;                // payload length + call id
            if (f & 0x10) hlen += 4;  // sequence
            if (p[1] & 0x80) hlen += 4;  // acknowledgment
        } else {
            return Kind::NonTcp;
        }
        if (static_cast<size_t>(l4_end - p) < hlen) return bad(Reason::TunnelTruncated);
        const uint8_t* q = p + hlen;
        enter_tunnel();
        if (v_.encap_depth > kMaxEncapDepth) return bad(Reason::EncapTooDeep);
        switch (proto) {
            case eth::Ipv4: return bounded(q, l4_end, true);
            case eth::Ipv6: return bounded(q, l4_end, false);
            case eth::TransEther: return inner_ethernet(q, l4_end);
            case eth::ErspanII:
                if (l4_end - q < 8) return bad(Reason::TunnelTruncated);
                return inner_ethernet(q + 8, l4_end);
            case eth::ErspanIII: {
                if (l4_end - q < 12) return bad(Reason::TunnelTruncated);
                size_t h = (q[11] & 0x01) ? 20 : 12;  // O bit: 8-byte platform sub-header
                if (static_cast<size_t>(l4_end - q) < h) return bad(Reason::TunnelTruncated);
                return inner_ethernet(q + h, l4_end);
            }
            case eth::Ppp: {
                // PPTP: optional address/control (ff 03), then a 1- or 2-byte protocol.
                const uint8_t* r = q;
                if (l4_end - r >= 2 && r[0] == 0xff && r[1] == 0x03) r += 2;
                if (l4_end - r < 1) return bad(Reason::TunnelTruncated);
                uint16_t pp;
                if (r[0] & 0x01) {
                    pp = r[0];
                    r += 1;
                } else {
                    if (l4_end - r < 2) return bad(Reason::TunnelTruncated);
                    pp = rd16(r);
                    r += 2;
                }
                if (pp == 0x21) return bounded(r, l4_end, true);
                if (pp == 0x57) return bounded(r, l4_end, false);
                return Kind::NonTcp;
            }
            default: return Kind::NonTcp;
        }
    }

    // Inner headers of a tunnel must not run past the outer packet's payload.
    Kind bounded(const uint8_t* p, const uint8_t* inner_end, bool v4) noexcept {
        const uint8_t* saved = end_;
        end_ = inner_end;
        Kind k = v4 ? ipv4(p) : ipv6(p);
        end_ = saved;
        return k;
    }
    Kind inner_ethernet(const uint8_t* p, const uint8_t* inner_end) noexcept {
        const uint8_t* saved = end_;
        end_ = inner_end;
        Kind k = ethernet(p);
        end_ = saved;
        return too_deep_or(k);
    }

    Kind tcp(const uint8_t* p, const uint8_t* l4_end, unsigned l4_len) noexcept {
        size_t cap = l4_end > p ? static_cast<size_t>(l4_end - p) : 0;
        if (cap < 20) return bad(l4_len < 20 ? Reason::BadTotalLength : Reason::TruncatedL4);
        if (l4_len < 20) return bad(Reason::BadTotalLength);
        unsigned doff = (p[12] >> 4) * 4u;
        if (doff < 20 || doff > l4_len) return bad(Reason::BadDataOffset);
        const Reason r = tcp_header(p, doff, l4_len, cap);
        return r == Reason::None ? Kind::Tcp : bad(r);
    }

    // The TCP header at p once its lengths are known good (20 <= doff <= l4_len,
    // cap >= 20 bytes of it captured): its fields, its options, its checksum if asked.
    Reason tcp_header(const uint8_t* p, unsigned doff, unsigned l4_len, size_t cap) noexcept {
        // A snaplen may cut the options (a 96-byte capture of a SYN with every option):
        // the fixed header is enough to track the segment, so keep it and the options
        // that were captured, and say so.
        v_.options_truncated = doff > cap;
        v_.sport = rd16(p);
        v_.dport = rd16(p + 2);
        v_.seq = rd32(p + 4);
        v_.ack = rd32(p + 8);
        v_.flags = p[13];
        v_.window = rd16(p + 14);
        v_.urgent = rd16(p + 18);
        v_.tcp_hdr_len = static_cast<uint8_t>(doff);
        v_.tcp = p;
        v_.payload = p + doff;
        v_.payload_len = l4_len - doff;
        size_t cap_payload = cap > doff ? cap - doff : 0;
        v_.captured_payload = static_cast<uint32_t>(cap_payload < v_.payload_len ? cap_payload : v_.payload_len);
        const unsigned opt_captured = static_cast<unsigned>(doff < cap ? doff : cap) - 20;
        Reason r = options(p + 20, doff - 20, opt_captured);
        if (r != Reason::None) return r;
        if (cfg_.verify_checksums && !v_.options_truncated && v_.captured_payload == v_.payload_len &&
            !v_.is_fragment) {
            v_.checksum_checked = true;
            v_.checksum_ok = checksum_ok(p, l4_len);
        }
        return Reason::None;
    }

    // `len`: option bytes per the data offset; `captured`: how many of them are in
    // the buffer. An option cut by the capture ends the walk; one that runs past the
    // data offset is malformed.
    Reason options(const uint8_t* o, unsigned len, unsigned captured) noexcept {
        TcpOptions& t = v_.opt;
        // Nearly every segment of an established Linux or BSD connection carries
        // exactly NOP, NOP, timestamps (RFC 7323 Appendix A's layout, which Linux's
        // tcp_parse_aligned_timestamp also takes first): one compare instead of the walk.
        if (len == 12 && captured == 12) {
            uint32_t head;
            std::memcpy(&head, o, 4);
            if (head == kAlignedTimestamps) {
                t.has_ts = true;
                t.ts_val = rd32(o + 4);
                t.ts_ecr = rd32(o + 8);
                return Reason::None;
            }
        }
        unsigned i = 0;
        while (i < len) {
            if (i >= captured) break;
            uint8_t kind = o[i];
            if (kind == 0) break;  // end of option list
            if (kind == 1) {       // no-operation
                ++i;
                continue;
            }
            if (i + 1 >= len) return Reason::OptionOverrun;
            if (i + 1 >= captured) break;
            unsigned olen = o[i + 1];
            if (olen < 2) return Reason::BadOptionLength;
            if (i + olen > len) return Reason::OptionOverrun;
            if (i + olen > captured) break;
            const uint8_t* d = o + i + 2;
            switch (kind) {
                case 2:
                    if (olen != 4) return Reason::BadOptionLength;
                    t.has_mss = true;
                    t.mss = rd16(d);
                    break;
                case 3:
                    if (olen != 3) return Reason::BadOptionLength;
                    t.has_wscale = true;
                    t.wscale = d[0];
                    break;
                case 4:
                    if (olen != 2) return Reason::BadOptionLength;
                    t.sack_permitted = true;
                    break;
                case 5: {
                    if ((olen - 2) % 8 != 0) return Reason::BadOptionLength;
                    unsigned n = (olen - 2) / 8;
                    for (unsigned b = 0; b < n && b < kMaxSackBlocks; ++b) {
                        t.sack[b][0] = rd32(d + 8 * b);
                        t.sack[b][1] = rd32(d + 8 * b + 4);
                    }
                    t.sack_blocks = static_cast<uint8_t>(n < kMaxSackBlocks ? n : kMaxSackBlocks);
                    break;
                }
                case 8:
                    if (olen != 10) return Reason::BadOptionLength;
                    t.has_ts = true;
                    t.ts_val = rd32(d);
                    t.ts_ecr = rd32(d + 4);
                    break;
                default: break;  // unknown kinds are skipped by their length
            }
            i += olen;
        }
        return Reason::None;
    }

    bool checksum_ok(const uint8_t* tcp, unsigned l4_len) const noexcept {
        uint64_t sum = 0;
        auto add = [&sum](const uint8_t* b, size_t n) {
            size_t i = 0;
            for (; i + 1 < n; i += 2) sum += rd16(b + i);
            if (i < n) sum += static_cast<uint32_t>(b[i]) << 8;
        };
        if (v_.ip_version == 4) {
            add(v_.l3 + 12, 8);
        } else {
            add(v_.src.data(), 16);
            add(v_.dst.data(), 16);
        }
        sum += kIpTcp;
        sum += l4_len;
        add(tcp, l4_len);
        while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
        return sum == 0xffff;
    }

    static Addr v4_mapped(const uint8_t* p) noexcept {
        Addr a{};
        a[10] = 0xff;
        a[11] = 0xff;
        std::memcpy(a.data() + 12, p, 4);
        return a;
    }

    const uint8_t* begin_;
    const uint8_t* end_;
    const ParseConfig& cfg_;
    PacketView& v_;
};

}  // namespace

bool link_supported(uint32_t lt) noexcept {
    switch (lt) {
        case 0: case 1: case 10: case 12: case 14: case 101: case 108: case 113: case 228: case 229: case 276:
            return true;
        default: return false;
    }
}

std::string_view link_name(uint32_t lt) noexcept {
    switch (lt) {
        case 0: return "NULL";
        case 1: return "EN10MB";
        case 10: return "FDDI";
        case 12: case 14: case 101: return "RAW";
        case 108: return "LOOP";
        case 113: return "LINUX_SLL";
        case 228: return "IPV4";
        case 229: return "IPV6";
        case 276: return "LINUX_SLL2";
        default: return "unknown";
    }
}

std::string_view reason_name(Reason r) noexcept {
    switch (r) {
        case Reason::None: return "none";
        case Reason::TruncatedL2: return "truncated_l2";
        case Reason::TruncatedL3: return "truncated_l3";
        case Reason::BadIpVersion: return "bad_ip_version";
        case Reason::BadIhl: return "bad_ihl";
        case Reason::BadTotalLength: return "bad_total_length";
        case Reason::Ipv6ExtTruncated: return "ipv6_ext_truncated";
        case Reason::Ipv6ExtChainTooLong: return "ipv6_ext_chain_too_long";
        case Reason::TruncatedL4: return "truncated_l4";
        case Reason::BadDataOffset: return "bad_data_offset";
        case Reason::OptionOverrun: return "option_overrun";
        case Reason::BadOptionLength: return "bad_option_length";
        case Reason::TunnelTruncated: return "tunnel_truncated";
        case Reason::EncapTooDeep: return "encap_too_deep";
        case Reason::Count: break;
    }
    return "unknown";
}

namespace {

template <bool Short>
Kind parse_as(const uint8_t* data, uint32_t caplen, Link link, const ParseConfig& cfg, PacketView& out) noexcept {
    // Link values 12 and 14 are DLT_RAW on some platforms; map them with Raw.
    uint16_t lt = static_cast<uint16_t>(link);
    Link l = (lt == 12 || lt == 14) ? Link::Raw : link;
    Walker w(data, data + caplen, cfg, out);
    if (Short && l == Link::Ethernet && w.plain_ipv4_tcp()) return Kind::Tcp;
    out = PacketView{};
    out.kind = w.link(l);
    if (out.kind != Kind::Malformed) out.reason = Reason::None;
    return out.kind;
}

}  // namespace

Kind parse(const uint8_t* data, uint32_t caplen, Link link, const ParseConfig& cfg, PacketView& out) noexcept {
    return parse_as<true>(data, caplen, link, cfg, out);
}

Kind parse_general(const uint8_t* data, uint32_t caplen, Link link, const ParseConfig& cfg,
                   PacketView& out) noexcept {
    return parse_as<false>(data, caplen, link, cfg, out);
}

bool is_v4_mapped(const Addr& a) noexcept {
    static constexpr uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(a.data(), prefix, 12) == 0;
}

size_t format_addr(const Addr& a, char* buf, size_t cap) noexcept {
    // By hand rather than with snprintf: the management core formats two addresses
    // per connection record, and printf's machinery cost more than the rest of it.
    if (cap == 0) return 0;
    char tmp[48];
    size_t o = 0;
    if (is_v4_mapped(a)) {
        for (int i = 12; i < 16; ++i) {
            const unsigned b = a[i];
            if (b >= 100) tmp[o++] = static_cast<char>('0' + b / 100);
            if (b >= 10) tmp[o++] = static_cast<char>('0' + b / 10 % 10);
            tmp[o++] = static_cast<char>('0' + b % 10);
            if (i != 15) tmp[o++] = '.';
        }
    } else {
        // RFC 5952: lower-case hex, leading zeros dropped, longest run (>=2) of zero groups as "::".
        static constexpr char hex[] = "0123456789abcdef";
        uint16_t g[8];
        for (int i = 0; i < 8; ++i) g[i] = static_cast<uint16_t>((a[2 * i] << 8) | a[2 * i + 1]);
        int best = -1, best_len = 0;
        for (int i = 0; i < 8;) {
            if (g[i] != 0) { ++i; continue; }
            int j = i;
            while (j < 8 && g[j] == 0) ++j;
            if (j - i > best_len && j - i >= 2) { best = i; best_len = j - i; }
            i = j;
        }
        for (int i = 0; i < 8; ++i) {
            if (i == best) {
                tmp[o++] = ':';
                if (i == 0) tmp[o++] = ':';
                i += best_len - 1;
                continue;
            }
            bool lead = true;
            for (int sh = 12; sh >= 0; sh -= 4) {
                const unsigned d = (g[i] >> sh) & 0xf;
                if (lead && d == 0 && sh != 0) continue;
                lead = false;
                tmp[o++] = hex[d];
            }
            if (i != 7) tmp[o++] = ':';
        }
    }
    const size_t n = o < cap ? o : cap - 1;
    std::memcpy(buf, tmp, n);
    buf[n] = '\0';
    return n;
}

}  // namespace ws::parse
