// Frames of a few TCP flows spelled by a fuzzer's bytes. Random bytes alone seldom
// make two frames of one connection, so the input is read as 16-byte records, each
// one segment of one of four flows (IPv4, IPv6, VLAN) with the flags, sequence and
// acknowledgment offsets, window, payload length, options, time step, a byte
// overwritten and a snap length the record chooses. Sequence numbers follow each
// sender unless the record jumps, so handshakes, closes and resets come easily and
// so do retransmissions, holes, crossed FINs and wraps near 2^32.
// Shared by the fuzz targets beside it; header-only, no DPDK, no GoogleTest.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ws::fuzz {

struct Frames {
    std::vector<std::vector<uint8_t>> bytes;
    std::vector<uint64_t> ts_us;
};

namespace detail {

struct Out {
    uint8_t b[2048];
    size_t n = 0;
    void u8(unsigned v) { b[n++] = static_cast<uint8_t>(v); }
    void u16(unsigned v) { u8(v >> 8), u8(v); }
    void u32(uint32_t v) { u16(v >> 16), u16(v & 0xffffu); }
};

inline uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc = 0) {
    size_t i = 0;
    for (; i + 1 < n; i += 2) acc += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    if (i < n) acc += static_cast<uint32_t>(p[i] << 8);
    return acc;
}
inline uint16_t fold(uint32_t s) {
    while (s >> 16) s = (s & 0xffffu) + (s >> 16);
    return static_cast<uint16_t>(~s);
}

// TCP options chosen by `sel`: none, MSS, a full SYN set, timestamps, one SACK
// block, the record's own bytes, a window scale, or a kind with any length.
inline size_t options(uint8_t sel, const uint8_t* r, uint32_t seq, uint8_t* o) {
    size_t n = 0;
    auto ts = [&](int from) {
        o[n++] = 8, o[n++] = 10;
        for (int i = 0; i < 8; ++i) o[n++] = r[from + (i & 3)];
    };
    switch (sel & 7) {
        case 0: break;
        case 1: o[n++] = 2, o[n++] = 4, o[n++] = 5, o[n++] = 0xb4; break;
        case 2:
            o[n++] = 2, o[n++] = 4, o[n++] = 5, o[n++] = 0xb4, o[n++] = 4, o[n++] = 2;
            ts(11);
            o[n++] = 1, o[n++] = 3, o[n++] = 3, o[n++] = sel >> 3;
            break;
        case 3: o[n++] = 1, o[n++] = 1; ts(10); break;
        case 4:
            o[n++] = 5, o[n++] = 10;
            for (uint32_t edge : {seq + 100, seq + 200})
                for (int i = 3; i >= 0; --i) o[n++] = static_cast<uint8_t>(edge >> (8 * i));
            break;
        case 5: for (int i = 0; i < 12; ++i) o[n++] = r[(i + 9) % 16]; break;
        case 6: o[n++] = 3, o[n++] = 3, o[n++] = sel; break;
        case 7: o[n++] = sel, o[n++] = r[11]; break;
    }
    while (n % 4) o[n++] = 0;
    return n;
}

}  // namespace detail

// Record layout: [0] flow (bits 0-1), direction (2), IPv6 (3), VLAN (4), overwrite a
// byte (5), time step scale (6-7); [1] TCP flags; [2-3] seq offset, [4-5] ack offset
// (signed, from what the sender and its peer have sent); [6-7] window; [8] payload
// bytes; [9] options; [10] time step; [11] byte to overwrite; [12] IP id; [13] the
// byte written; [14] offsets x4096 (bits 0, 1), no ACK number (2), IPv4 more
// fragments (3), sender does not advance (4); [15] snap length (0 = whole frame).
inline Frames segments(const uint8_t* d, size_t n, size_t max_frames = 512) {
    using namespace detail;
    Frames f;
    uint64_t ts = 1'600'000'000ull * 1'000'000ull;
    // Per flow and direction, the next sequence number; two flows start near the wrap.
    uint32_t next[4][2] = {{1000, 5000}, {70000, 900000}, {0xfffffff0u, 0x7ffffff0u}, {123, 456}};
    for (size_t p = 0; p + 16 <= n && f.bytes.size() < max_frames; p += 16) {
        const uint8_t* r = d + p;
        const int flow = r[0] & 3, dir = (r[0] >> 2) & 1;
        const bool v6 = r[0] & 8, vlan = r[0] & 16;
        const uint8_t flags = r[1];
        const auto off = [&](int at, bool big) {
            return static_cast<uint32_t>(static_cast<int16_t>(r[at] << 8 | r[at + 1]) * (big ? 4096 : 1));
        };
        const uint32_t seq = next[flow][dir] + off(2, r[14] & 1);
        const uint32_t ack = (r[14] & 4) ? 0 : next[flow][!dir] + off(4, r[14] & 2);
        const unsigned plen = r[8];
        static constexpr uint64_t kStep[4] = {100, 100, 10'000, 1'000'000};
        ts += r[10] * kStep[r[0] >> 6];

        uint8_t opt[40];
        const size_t on = options(r[9], r, seq, opt);
        const unsigned tcp_len = static_cast<unsigned>(20 + on + plen);
        Out o;
        for (unsigned m : {2u, 0u, 0u, 0u, 0u, 1u, 2u, 0u, 0u, 0u, 0u, 2u}) o.u8(m);
        if (vlan) o.u16(0x8100), o.u16(100);
        o.u16(v6 ? 0x86dd : 0x0800);
        const size_t ip = o.n;
        // Client 10.0.0.(1+flow):(40000+flow), server 10.0.0.100:80 (flow 3: 8080).
        const uint8_t client = static_cast<uint8_t>(1 + flow), server = 100;
        const uint16_t cport = static_cast<uint16_t>(40000 + flow), sport = flow == 3 ? 8080 : 80;
        const uint8_t src = dir ? server : client, dst = dir ? client : server;
        if (v6) {
            o.u32(0x60000000), o.u16(tcp_len), o.u8(6), o.u8(64);
            for (uint8_t a : {src, dst}) {
                o.u8(10);
                for (int i = 0; i < 14; ++i) o.u8(0);
                o.u8(a);
            }
        } else {
            o.u8(0x45), o.u8(0), o.u16(20 + tcp_len), o.u16(r[12]), o.u16((r[14] & 8) ? 0x2000 : 0x4000);
            o.u8(64), o.u8(6), o.u16(0);
            o.u8(10), o.u8(0), o.u8(0), o.u8(src), o.u8(10), o.u8(0), o.u8(0), o.u8(dst);
        }
        const size_t th = o.n;
        o.u16(dir ? sport : cport), o.u16(dir ? cport : sport), o.u32(seq), o.u32(ack);
        o.u8(static_cast<unsigned>((5 + on / 4) << 4)), o.u8(flags), o.u16(r[6] << 8 | r[7]), o.u16(0), o.u16(0);
        for (size_t i = 0; i < on; ++i) o.u8(opt[i]);
        for (unsigned i = 0; i < plen; ++i) o.u8(i);

        uint32_t pseudo = v6 ? sum16(o.b + ip + 8, 32) : sum16(o.b + ip + 12, 8);
        pseudo += tcp_len + 6;
        if (!v6) {
            const uint16_t c = fold(sum16(o.b + ip, 20));
            o.b[ip + 10] = static_cast<uint8_t>(c >> 8), o.b[ip + 11] = static_cast<uint8_t>(c);
        }
        const uint16_t c = fold(sum16(o.b + th, tcp_len, pseudo));
        o.b[th + 16] = static_cast<uint8_t>(c >> 8), o.b[th + 17] = static_cast<uint8_t>(c);
        if (r[0] & 32) o.b[r[11] % o.n] = r[13];
        const size_t cap = r[15] != 0 ? std::min<size_t>(r[15], o.n) : o.n;
        f.bytes.emplace_back(o.b, o.b + cap);
        f.ts_us.push_back(ts);
        if (!(r[14] & 16)) next[flow][dir] = seq + plen + ((flags & 0x02) ? 1 : 0) + ((flags & 0x01) ? 1 : 0);
    }
    return f;
}

// The input as raw frames instead, each: two bytes (little-endian; the length in
// the low 11 bits, a time multiplier less one in the top 5), one byte of time step
// in milliseconds (times the multiplier), then the frame's bytes.
inline Frames raw(const uint8_t* d, size_t n, size_t max_frames = 256) {
    Frames f;
    uint64_t ts = 1'600'000'000ull * 1'000'000ull;
    for (size_t p = 0; p + 3 <= n && f.bytes.size() < max_frames;) {
        const size_t len = std::min<size_t>(d[p] | (d[p + 1] & 7) << 8, n - p - 3);
        ts += d[p + 2] * 1000ull * ((d[p + 1] >> 3) + 1);
        f.bytes.emplace_back(d + p + 3, d + p + 3 + len);
        f.ts_us.push_back(ts);
        p += 3 + len;
    }
    return f;
}

}  // namespace ws::fuzz
