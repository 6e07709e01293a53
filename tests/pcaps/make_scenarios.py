#!/usr/bin/python3
"""Writes tests/pcaps/scenarios.pcap: the bundled capture of the quick start and of
the integration tests. Each connection is one behaviour, with the sequence numbers
of ../shared/seeds where a seed gives them (004: tcpdump lines with absolute
numbers; 003: the 725-byte request). Deterministic: same bytes every run.

The expected verdicts are in scenarios.expected.tsv beside it (written too).
usage: make_scenarios.py [OUTDIR]
"""
import os
import struct
import sys

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")

S, A, F, R, P = 0x02, 0x10, 0x01, 0x04, 0x08


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def tcp_options(mss=None, wscale=None, sack_ok=False, ts=None, eol=False):
    o = b""
    if mss is not None:
        o += struct.pack("!BBH", 2, 4, mss)
    if wscale is not None:
        o += b"\x01" + struct.pack("!BBB", 3, 3, wscale)
    if ts is not None:
        o += b"\x01\x01" + struct.pack("!BBII", 8, 10, ts[0], ts[1])
    if sack_ok:
        o += struct.pack("!BB", 4, 2)
    if eol:
        o += b"\x00"
    while len(o) % 4:
        o += b"\x00"
    return o


def frame(src, sport, dst, dport, flags, seq, ack, win=65535, payload=b"", opts=b""):
    doff = (20 + len(opts)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, doff << 4, flags, win, 0, 0)
    tcp += opts + payload
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    c = csum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, ip4(src), ip4(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return MAC_B + MAC_A + b"\x08\x00" + ip + tcp


class Capture:
    def __init__(self):
        self.pkts = []  # (ts_us, bytes)

    def add(self, ts_us, data):
        self.pkts.append((ts_us, data))

    def write(self, path):
        self.pkts.sort(key=lambda p: p[0])
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for ts, d in self.pkts:
                f.write(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(d), len(d)))
                f.write(d)


class Conn:
    """Writes one connection's packets; c = client (originator), s = server."""

    def __init__(self, cap, client, cport, server, sport):
        self.cap, self.c, self.cp, self.s, self.sp = cap, client, cport, server, sport

    def c2s(self, ts, flags, seq, ack, payload=b"", **kw):
        self.cap.add(ts, frame(self.c, self.cp, self.s, self.sp, flags, seq, ack, payload=payload, **kw))

    def s2c(self, ts, flags, seq, ack, payload=b"", **kw):
        self.cap.add(ts, frame(self.s, self.sp, self.c, self.cp, flags, seq, ack, payload=payload, **kw))


T0 = 1_600_000_000_000_000  # capture time base, microseconds


def build():
    cap = Capture()
    exp = []  # (orig, resp, conn_state, history, orig_state, resp_state, behaviour)

    # 004: 114.242.250.59.41033 > 172.17.51.219.443, handshake with options, requests and
    # responses exactly as tcpdump printed them, then the client's four-way close.
    c = Conn(cap, "114.242.250.59", 41033, "172.17.51.219", 443)
    t = T0
    c.c2s(t, S, 1328522649, 0, win=65535,
          opts=tcp_options(mss=1360, wscale=6, ts=(555445081, 0), sack_ok=True, eol=True))
    c.s2c(t + 38, S | A, 466300160, 1328522650, win=28960,
          opts=tcp_options(mss=1460, sack_ok=True, ts=(2928333455, 555445081), wscale=7))
    c.c2s(t + 25621, A, 1328522650, 466300161, win=2064)
    c.c2s(t + 30584, P | A, 1328522650, 466300161, payload=b"Q" * 523, win=2064)
    c.s2c(t + 30622, A, 466300161, 1328523173, win=235)
    c.s2c(t + 31756, A, 466300161, 1328523173, payload=b"R" * 2696, win=235)
    c.s2c(t + 31763, P | A, 466302857, 1328523173, payload=b"R" * 365, win=235)
    c.c2s(t + 63727, A, 1328523173, 466302857, win=2022)
    c.c2s(t + 63729, A, 1328523173, 466303222, win=2016)
    c.c2s(t + 66944, P | A, 1328523173, 466303222, payload=b"Q" * 93, win=2048)
    c.s2c(t + 67146, P | A, 466303222, 1328523266, payload=b"R" * 274, win=235)
    c.c2s(t + 99692, A, 1328523266, 466303496, win=2043)
    c.c2s(t + 200000, F | A, 1328523266, 466303496)
    c.s2c(t + 200100, A, 466303496, 1328523267)
    c.s2c(t + 210000, F | A, 466303496, 1328523267)
    c.c2s(t + 210100, A, 1328523267, 466303497)
    exp.append(("114.242.250.59:41033", "172.17.51.219:443", "SF", "ShADadFf", "TIME_WAIT", "CLOSED",
                "FourWayCloseClientTimeWait"))

    # 004: the merged three-packet close (FIN, FIN+ACK, ACK) of 192.168.43.226.54739.
    c = Conn(cap, "192.168.43.226", 54739, "39.106.58.35", 443)
    t = T0 + 1_000_000
    c.c2s(t, S, 1024508000, 0, opts=tcp_options(mss=1460))
    c.s2c(t + 70000, S | A, 2329885000, 1024508001, opts=tcp_options(mss=1460))
    c.c2s(t + 70100, A, 1024508001, 2329885001)
    c.c2s(t + 80000, P | A, 1024508001, 2329885001, payload=b"G" * 533)
    c.s2c(t + 150000, P | A, 2329885001, 1024508534, payload=b"H" * 926)
    c.c2s(t + 150100, A, 1024508534, 2329885927)
    c.c2s(t + 300000, F | A, 1024508534, 2329885927)
    c.s2c(t + 370021, F | A, 2329885927, 1024508535)
    c.c2s(t + 370084, A, 1024508535, 2329885928)
    exp.append(("192.168.43.226:54739", "39.106.58.35:443", "SF", "ShADdFf", "TIME_WAIT", "CLOSED",
                "MergedFinAckCloseIsThreePackets"))

    # 003: a 725-byte HTTP request answered with 1448-byte segments, client closes.
    c = Conn(cap, "192.168.1.10", 50123, "93.184.216.34", 80)
    t = T0 + 2_000_000
    isn_c, isn_s = 4129057982, 310000000
    c.c2s(t, S, isn_c, 0, opts=tcp_options(mss=1460, sack_ok=True))
    c.s2c(t + 20000, S | A, isn_s, isn_c + 1, opts=tcp_options(mss=1448, sack_ok=True))
    c.c2s(t + 20100, A, isn_c + 1, isn_s + 1)
    c.c2s(t + 20200, P | A, isn_c + 1, isn_s + 1, payload=b"G" * 725)
    c.s2c(t + 40000, A, isn_s + 1, isn_c + 726)
    for k in range(3):
        c.s2c(t + 41000 + k * 100, A, isn_s + 1 + 1448 * k, isn_c + 726, payload=b"B" * 1448)
        c.c2s(t + 41050 + k * 100, A, isn_c + 726, isn_s + 1 + 1448 * (k + 1))
    c.c2s(t + 60000, F | A, isn_c + 726, isn_s + 1 + 1448 * 3)
    c.s2c(t + 60100, F | A, isn_s + 1 + 1448 * 3, isn_c + 727)
    c.c2s(t + 60200, A, isn_c + 727, isn_s + 2 + 1448 * 3)
    exp.append(("192.168.1.10:50123", "93.184.216.34:80", "SF", "ShADadFf", "TIME_WAIT", "CLOSED",
                "HttpRequest725BytesAckAdvancesTo726"))

    # A connection to a closed port: SYN answered by RST+ACK.
    c = Conn(cap, "10.0.0.5", 40000, "10.0.0.9", 23)
    t = T0 + 3_000_000
    c.c2s(t, S, 1000, 0, opts=tcp_options(mss=1460))
    c.s2c(t + 300, R | A, 0, 1001)
    exp.append(("10.0.0.5:40000", "10.0.0.9:23", "REJ", "Sr", "CLOSED", "CLOSED", "RstAnsweringSynIsRejected"))

    # A SYN retransmitted twice and never answered.
    c = Conn(cap, "10.0.0.5", 40001, "10.0.0.77", 443)
    t = T0 + 3_100_000
    for k, dt in enumerate((0, 1_000_000, 3_000_000)):
        c.c2s(t + dt, S, 7777, 0, opts=tcp_options(mss=1460))
    exp.append(("10.0.0.5:40001", "10.0.0.77:443", "S0", "S", "SYN_SENT", "LISTEN", "SynRetransmittedUnanswered"))

    # Simultaneous close: both FINs cross on the wire, both endpoints pass CLOSING.
    c = Conn(cap, "10.0.0.5", 40002, "10.0.0.9", 8080)
    t = T0 + 4_000_000
    c.c2s(t, S, 5000, 0)
    c.s2c(t + 100, S | A, 9000, 5001)
    c.c2s(t + 200, A, 5001, 9001)
    c.c2s(t + 300, P | A, 5001, 9001, payload=b"x" * 10)
    c.s2c(t + 400, A, 9001, 5011)
    c.c2s(t + 1000, F | A, 5011, 9001)
    c.s2c(t + 1001, F | A, 9001, 5011)
    c.c2s(t + 1100, A, 5012, 9002)
    c.s2c(t + 1101, A, 9002, 5012)
    exp.append(("10.0.0.5:40002", "10.0.0.9:8080", "SF", "ShADaFf", "TIME_WAIT", "TIME_WAIT",
                "SimultaneousCloseBothEndpointsPassClosing"))

    # Originator aborts an established connection with RST.
    c = Conn(cap, "10.0.0.6", 40003, "10.0.0.9", 443)
    t = T0 + 5_000_000
    c.c2s(t, S, 100, 0)
    c.s2c(t + 100, S | A, 200, 101)
    c.c2s(t + 200, A, 101, 201)
    c.c2s(t + 300, P | A, 101, 201, payload=b"y" * 20)
    c.s2c(t + 400, A, 201, 121)
    c.c2s(t + 500, R | A, 121, 201)
    exp.append(("10.0.0.6:40003", "10.0.0.9:443", "RSTO", "ShADaR", "CLOSED", "CLOSED", "OriginatorAbortIsRsto"))

    # Half-open: SYN, SYN-ACK, the final ACK never comes (server in SYN_RECV).
    c = Conn(cap, "10.0.0.7", 40004, "10.0.0.9", 80)
    t = T0 + 6_000_000
    c.c2s(t, S, 300, 0)
    c.s2c(t + 100, S | A, 400, 301)
    exp.append(("10.0.0.7:40004", "10.0.0.9:80", "S1", "Sh", "ESTABLISHED", "SYN_RECV", "HalfOpenServerInSynRecv"))

    # Keep-alive probes on an idle established connection, still open at the end.
    c = Conn(cap, "10.0.0.8", 40005, "10.0.0.9", 22)
    t = T0 + 7_000_000
    c.c2s(t, S, 600, 0)
    c.s2c(t + 100, S | A, 700, 601)
    c.c2s(t + 200, A, 601, 701)
    c.c2s(t + 300, P | A, 601, 701, payload=b"z" * 5)
    c.s2c(t + 400, A, 701, 606)
    for k in range(2):
        c.c2s(t + 30_000_000 + k * 5_000_000, A, 605, 701)  # probe: seq = snd.nxt - 1, no data
        c.s2c(t + 30_000_100 + k * 5_000_000, A, 701, 606)
    exp.append(("10.0.0.8:40005", "10.0.0.9:22", "S1", "ShADa", "ESTABLISHED", "ESTABLISHED", "KeepAliveProbesCounted"))

    return cap, exp


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    cap, exp = build()
    cap.write(os.path.join(out, "scenarios.pcap"))
    with open(os.path.join(out, "scenarios.expected.tsv"), "w") as f:
        f.write("orig\tresp\tconn_state\thistory\torig_tcp_state\tresp_tcp_state\tbehaviour\n")
        for e in exp:
            f.write("\t".join(e) + "\n")
    print(f"wrote {len(cap.pkts)} packets, {len(exp)} connections")


if __name__ == "__main__":
    main()
