#!/usr/bin/python3
"""Integration tests of the real wirestate binary (DPDK EAL, pcap PMD, both flow tables).

usage: pipeline_test.py CASE WIRESTATE SOURCE_DIR [CORPUS_DIR]
cases:
  scenarios  replay tests/pcaps/scenarios.pcap; every connection's verdict and both
             endpoints' states match scenarios.expected.tsv; statistics add up
  workers    the sorted connection log is identical with --workers 1, 2 and 4, and with
             --flow-table rte_hash, on the bundled capture and every Zeek conformance trace
  reader     the mapped-file reader (default) and the pcap PMD give identical logs and
             alerts on every capture, pcap and pcapng; a capture cut inside
             a record is read up to it, the unread bytes counted and reported; a
             capture whose clock jumps by 136 years is replayed at once
  hostile    48 damaged captures (tests/pcaps/hostile/, from fuzz_capture's corpus)
             through both readers, 1 and 2 workers: each ends with exit 0, having read the frames
             libpcap reads (and counted the same bytes unread), or with one line and exit 2;
             never a crash or a hang
  errors     bad arguments, a missing file, a bad config: one line on stderr, exit 2
  config     TOML config is applied and the command line overrides it
  flood      SYN flood + scans over legitimate traffic, small table: alerts, eviction of
             half-open only, every legitimate record exact; no alert without the attack;
             a table sized from the capture holds a capture of nothing but the smallest SYNs
  sigint     SIGINT mid-replay flushes every live connection and exits 0
  live       real kernel TCP across a veth pair in network namespaces, watched through
             net_af_packet; SIGINT flushes; SF, REJ and RSTO records (skips without root)
"""
import ctypes
import json
import os
import struct
import subprocess
import sys
import tempfile


def replay(ws, pcap, tmp, *extra, fmt="json", timeout=600):
    log = os.path.join(tmp, "conn.log")
    stats = os.path.join(tmp, "stats.json")
    cmd = [ws, "replay", pcap, "--conn-log", log, "--log-format", fmt, "--stats-json", stats,
           "--flow-table-size", "65536", *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr}")
    with open(log) as f:
        text = f.read()
    with open(stats) as f:
        st = json.load(f)
    return text, st, p.stdout


def check_accounting(st, what):
    acct = st["packets_tcp"] + st["packets_non_tcp"] + st["packets_filtered"] + st["packets_malformed"]["total"]
    assert acct == st["packets_rx"], f"{what}: packets do not add up: {acct} != {st['packets_rx']}"
    assert st["records_dropped"] == 0, f"{what}: records dropped in replay"
    assert st["detect_reports_dropped"] == 0, f"{what}: detection interval reports lost in replay"
    ended = (st["connections_closed"] + st["connections_expired"] + st["connections_evicted"]
             + st["connections_flushed"])
    assert ended == st["connections_created"], f"{what}: {st['connections_created']} created, {ended} ended"
    assert st["records_written"] == st["connections_created"], f"{what}: not every connection has a record"
    assert 0 < st["startup_s"] < 60 and st["duration_s"] > 0, f"{what}: start-up {st['startup_s']} s, processing {st['duration_s']} s"


def case_scenarios(ws, src, corpus):
    pcap = os.path.join(src, "tests/pcaps/scenarios.pcap")
    with open(os.path.join(src, "tests/pcaps/scenarios.expected.tsv")) as f:
        lines = f.read().splitlines()
    hdr = lines[0].split("\t")
    expected = [dict(zip(hdr, l.split("\t"))) for l in lines[1:]]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        text, st, out = replay(ws, pcap, tmp)
        check_accounting(st, "scenarios")
        rows = [json.loads(l) for l in text.splitlines() if l.strip()]
        by_orig = {f"{r['id.orig_h']}:{r['id.orig_p']}": r for r in rows}
        for e in expected:
            r = by_orig.get(e["orig"])
            if r is None:
                print(f"FAIL {e['behaviour']}: no record with originator {e['orig']}")
                failures += 1
                continue
            got = (f"{r['id.resp_h']}:{r['id.resp_p']}", r["conn_state"], r.get("history", "-"),
                   r["orig_tcp_state"], r["resp_tcp_state"])
            want = (e["resp"], e["conn_state"], e["history"], e["orig_tcp_state"], e["resp_tcp_state"])
            status = "ok  " if got == want else "FAIL"
            if got != want:
                failures += 1
            print(f"{status} {e['behaviour']}: want {want}, got {got}")
        if len(rows) != len(expected):
            print(f"FAIL {len(rows)} records for {len(expected)} connections")
            failures += 1
    return failures


def sorted_log(text):
    return sorted(l for l in text.splitlines() if l and not l.startswith("#"))


def every_capture(src, corpus):
    """The bundled capture, then every Zeek conformance trace when the corpus is there."""
    pcaps = [os.path.join(src, "tests/pcaps/scenarios.pcap")]
    if corpus and os.path.isdir(corpus):
        tdir = os.path.join(corpus, "traces")
        pcaps += sorted(os.path.join(tdir, t) for t in os.listdir(tdir))
    return pcaps


def case_workers(ws, src, corpus):
    pcaps = every_capture(src, corpus)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for pcap in pcaps:
            logs = {}
            for n in (1, 2, 4):
                text, st, _ = replay(ws, pcap, tmp, "--workers", str(n), fmt="zeek")
                check_accounting(st, f"{os.path.basename(pcap)} --workers {n}")
                assert len(st["workers"]) == n
                logs[n] = sorted_log(text)
            text, st, _ = replay(ws, pcap, tmp, "--flow-table", "rte_hash", fmt="zeek")
            check_accounting(st, f"{os.path.basename(pcap)} --flow-table rte_hash")
            logs["rte_hash"] = sorted_log(text)
            same = logs[1] == logs[2] == logs[4] == logs["rte_hash"]
            if not same:
                failures += 1
            print(f"{'ok  ' if same else 'FAIL'} {os.path.basename(pcap)}: {len(logs[1])} records, "
                  f"workers 1/2/4 and rte_hash {'identical' if same else 'differ'}")
    return failures


def case_reader(ws, src, corpus):
    pcaps = every_capture(src, corpus)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        alerts = os.path.join(tmp, "alerts.json")
        for pcap in pcaps:
            got = {}
            for reader in ("mmap", "pcap-pmd"):
                text, st, _ = replay(ws, pcap, tmp, "--reader", reader, "--alerts", alerts, fmt="zeek")
                check_accounting(st, f"{os.path.basename(pcap)} --reader {reader}")
                with open(alerts) as f:
                    got[reader] = (sorted_log(text), f.read(), st["packets_rx"], st["reader"])
            ok = got["mmap"][:3] == got["pcap-pmd"][:3] and (got["mmap"][3], got["pcap-pmd"][3]) == ("mmap", "pcap-pmd")
            if not ok:
                failures += 1
            print(f"{'ok  ' if ok else 'FAIL'} {os.path.basename(pcap)}: {got['mmap'][2]} packets, "
                  f"{len(got['mmap'][0])} records, read by {got['mmap'][3]}; "
                  f"{'identical to' if got['mmap'][:3] == got['pcap-pmd'][:3] else 'differs from'} the pcap PMD's")

        # A capture cut short inside its last record: every whole frame is read, the
        # rest counted and named; libpcap (under the PMD) stops at the same place.
        with open(pcaps[0], "rb") as f:
            whole = f.read()
        cut = os.path.join(tmp, "cut.pcap")
        with open(cut, "wb") as f:
            f.write(whole[:-10])
        logs = {}
        for reader in ("mmap", "pcap-pmd"):
            cmd = [ws, "replay", cut, "--reader", reader, "--conn-log", os.path.join(tmp, "cut.log"),
                   "--stats-json", os.path.join(tmp, "cut.json")]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            with open(os.path.join(tmp, "cut.json")) as f:
                st = json.load(f)
            with open(os.path.join(tmp, "cut.log")) as f:
                logs[reader] = sorted_log(f.read())
            if reader == "mmap":
                ok = (p.returncode == 0 and "ends inside a record" in p.stderr
                      and st["capture_unread_bytes"] > 0 and "capture bytes unread" in p.stdout)
                print(f"{'ok  ' if ok else 'FAIL'} truncated capture: exit {p.returncode}, "
                      f"{st['packets_rx']} packets, {st['capture_unread_bytes']} bytes unread and reported")
                failures += 0 if ok else 1
        same = logs["mmap"] == logs["pcap-pmd"]
        failures += 0 if same else 1
        print(f"{'ok  ' if same else 'FAIL'} truncated capture: both readers give the same {len(logs['mmap'])} records")

        # A record in the middle that claims 300000 bytes: libpcap refuses it, and the
        # PMD, polled again, would read on from inside the damage. Both readers stop
        # there, as tcpdump does: three SYNs of six.
        bad = os.path.join(tmp, "bad.pcap")
        with open(bad, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
            for k in range(6):
                if k == 3:
                    f.write(struct.pack("<IIII", 4, 0, 300000, 300000))
                tcp = struct.pack(">HHIIBBHHH", 1000 + k, 80, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
                ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 1, k]))
                frame = bytes(6) + bytes([0, 1, 2, 3, 4, 5]) + b"\x08\x00" + ip + tcp
                f.write(struct.pack("<IIII", 1 + k, 0, len(frame), len(frame)) + frame)
        for reader in ("mmap", "pcap-pmd"):
            for workers in ("1", "2"):
                cmd = [ws, "replay", bad, "--reader", reader, "--workers", workers, "--conn-log",
                       os.path.join(tmp, "bad.log"), "--stats-json", os.path.join(tmp, "bad.json")]
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
                with open(os.path.join(tmp, "bad.json")) as f:
                    st = json.load(f)
                said = "cannot be framed" if reader == "mmap" else "bigger than snaplen of 65535, at byte 234 after frame 3"
                ok = (p.returncode == 0 and st["packets_rx"] == 3 and said in p.stderr
                      and st["capture_unread_bytes"] == os.path.getsize(bad) - 234)
                failures += 0 if ok else 1
                print(f"{'ok  ' if ok else 'FAIL'} damaged record, --reader {reader} --workers {workers}: "
                      f"{st['packets_rx']} frames read, stops as tcpdump does, {st['capture_unread_bytes']} bytes unread")

        # A capture whose clock jumps by 136 years (a bad timestamp): three SYNs, three
        # records, at once with 1 and 2 workers (the alert engine once crossed such a
        # gap a detection window at a time: a minute for every 4e9 s).
        jump = os.path.join(tmp, "jump.pcap")
        with open(jump, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
            for k, sec in enumerate((1, 2, 0xfffffff0)):
                tcp = struct.pack(">HHIIBBHHH", 1000 + k, 80, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
                ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 1, k]))
                frame = bytes(6) + bytes([0, 1, 2, 3, 4, 5]) + b"\x08\x00" + ip + tcp
                f.write(struct.pack("<IIII", sec, 0, len(frame), len(frame)) + frame)
        for workers in ("1", "2"):
            try:
                text, st, _ = replay(ws, jump, tmp, "--workers", workers, "--alerts", alerts, fmt="zeek", timeout=30)
                ok = len(sorted_log(text)) == 3 and st["packets_tcp"] == 3
                what = f"{len(sorted_log(text))} records"
            except subprocess.TimeoutExpired:
                ok, what = False, "still running after 30 s"
            failures += 0 if ok else 1
            print(f"{'ok  ' if ok else 'FAIL'} a clock jump of 136 years, --workers {workers}: {what}")
    return failures


def libpcap_frame_count(path):
    """The frames libpcap reads from a capture (up to its end or its first error), or
    None if it cannot open it: what tcpdump would read."""
    pcap = ctypes.CDLL("libpcap.so.0.8")
    pcap.pcap_open_offline.restype = ctypes.c_void_p
    pcap.pcap_open_offline.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    pcap.pcap_next_ex.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    pcap.pcap_close.argtypes = [ctypes.c_void_p]
    err = ctypes.create_string_buffer(256)
    p = pcap.pcap_open_offline(path.encode(), err)
    if not p:
        return None
    hdr, data = ctypes.c_void_p(), ctypes.c_void_p()
    n = 0
    while pcap.pcap_next_ex(p, ctypes.byref(hdr), ctypes.byref(data)) == 1:
        n += 1
    pcap.pcap_close(p)
    return n


def case_hostile(ws, src, corpus):
    d = os.path.join(src, "tests/pcaps/hostile")
    failures = 0
    read = refused = 0
    with tempfile.TemporaryDirectory() as tmp:
        stats = os.path.join(tmp, "stats.json")
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            want = libpcap_frame_count(path)
            unread = set()  # capture_unread_bytes: the same from every run that reads the file
            for reader, workers in (("mmap", "1"), ("mmap", "2"), ("pcap-pmd", "1"), ("pcap-pmd", "2")):
                if os.path.exists(stats):
                    os.remove(stats)
                cmd = [ws, "replay", path, "--reader", reader, "--workers", workers, "--conn-log",
                       os.path.join(tmp, "conn.log"), "--stats-json", stats, "--no-summary"]
                try:
                    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
                except subprocess.TimeoutExpired:
                    failures += 1
                    print(f"FAIL {name} --reader {reader} --workers {workers}: still running after 60 s")
                    continue
                errors = [l for l in p.stderr.splitlines() if not l.startswith("wirestate [")]
                if p.returncode == 2 and len(errors) == 1:
                    refused += 1  # libpcap cannot open it, or wirestate does not read its link type
                    ok = want is None or "which wirestate does not read" in errors[0]
                    what = errors[0]
                elif p.returncode == 0:
                    read += 1
                    with open(stats) as f:
                        st = json.load(f)
                    got = st["packets_rx"]
                    unread.add(st["capture_unread_bytes"])
                    ok = got == want and len(unread) == 1
                    what = f"{got} frames, libpcap reads {want}; unread bytes {sorted(unread)}"
                else:
                    ok, what = False, f"exit {p.returncode}: {p.stderr.strip()[-300:]}"
                if not ok:
                    failures += 1
                    print(f"FAIL {name} --reader {reader} --workers {workers}: {what}")
    print(f"{'ok  ' if failures == 0 else 'FAIL'} {read} runs read as libpcap reads (the unread bytes the same "
          f"from both readers), {refused} refused in one line, none crashed or hung")
    return failures


def case_errors(ws, src, corpus):
    pcap = os.path.join(src, "tests/pcaps/scenarios.pcap")
    bad_toml = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    bad_toml.write("[tracker]\nmsl_s = 60\nbogus = 1\n")
    bad_toml.close()
    cases = [
        ([], "no command"),
        (["replay"], "needs a capture file"),
        (["replay", "/nonexistent.pcap"], "cannot read capture /nonexistent.pcap"),
        (["replay", pcap, "--workers", "zero"], "--workers: 'zero' is not a whole number"),
        (["replay", pcap, "--workers", "0"], "--workers: 0 is out of range"),
        (["replay", pcap, "--frobnicate"], "unknown option --frobnicate"),
        (["replay", pcap, "--log-format", "xml"], "--log-format: 'xml' is not one of zeek, json"),
        (["replay", pcap, "--reader", "libpcap"], "--reader: 'libpcap' is not one of mmap, pcap-pmd"),
        (["replay", pcap, "--conn-log", "/nonexistent/dir/conn.log"], "cannot write connection log"),
        (["replay", pcap, "--config", "/nonexistent.toml"], "cannot read config file /nonexistent.toml"),
        (["replay", pcap, "--config", bad_toml.name], "tracker.bogus: unknown key"),
        (["replay", pcap, "--msl", "-3"], "--msl: '-3' is not a duration in seconds"),
        (["--no-huge", "--no-pci", "-m", "256", "--no-shconf", "--", "--workers", "1"], "no port found"),
    ]
    failures = 0
    for args, want in cases:
        p = subprocess.run([ws, *args], capture_output=True, text=True, timeout=120)
        err_lines = [l for l in p.stderr.splitlines() if l.startswith("wirestate:")]
        ok = p.returncode == 2 and len(err_lines) == 1 and want in err_lines[0]
        if not ok:
            failures += 1
        print(f"{'ok  ' if ok else 'FAIL'} {' '.join(args) or '(no args)'}: exit {p.returncode}, "
              f"{err_lines[0] if err_lines else p.stderr.strip()[:200]!r}")
    os.unlink(bad_toml.name)
    return failures


def case_config(ws, src, corpus):
    pcap = os.path.join(src, "tests/pcaps/scenarios.pcap")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "ws.toml")
        with open(cfg, "w") as f:
            f.write('[output]\nlog_format = "zeek"\n[pipeline]\nworkers = 2\n')
        # The file asks for zeek TSV and 2 workers; the command line asks for JSON.
        text, st, _ = replay(ws, pcap, tmp, "--config", cfg, fmt="json")
        ok = len(st["workers"]) == 2 and text.lstrip().startswith("{")
        failures += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} config sets workers=2, command line overrides log_format: "
              f"workers {len(st['workers'])}, first byte {text.lstrip()[:1]!r}")
        # The documented default config must load as it is.
        text, st, _ = replay(ws, pcap, tmp, "--config", os.path.join(src, "config/wirestate.toml"))
        ok = st["records_written"] > 0
        failures += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} config/wirestate.toml loads: {st['records_written']} records")
    return failures


def sh(*cmd, check=True, **kw):
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True, timeout=60, **kw)


SKIP = 77  # meson's exit code for a skipped test


def case_live(ws, src, corpus):
    """A span port on a veth pair between two network namespaces: real kernel TCP
    connections cross it while wirestate watches through the af_packet PMD."""
    if os.geteuid() != 0:
        print("SKIP: live test needs root for network namespaces")
        return SKIP
    cli, srv = "ws-live-cli", "ws-live-srv"
    for ns in (cli, srv):
        sh("ip", "netns", "del", ns, check=False)
    try:
        sh("ip", "netns", "add", cli)
        sh("ip", "netns", "add", srv)
    except subprocess.CalledProcessError as e:
        print(f"SKIP: network namespaces unavailable here: {e.stderr.strip()}")
        return SKIP
    failures = 0
    server = ws_proc = None
    tmp = tempfile.mkdtemp()
    try:
        sh("ip", "link", "add", "wsc0", "netns", cli, "type", "veth", "peer", "name", "wss0", "netns", srv)
        for ns, dev, addr in ((cli, "wsc0", "10.77.0.1/24"), (srv, "wss0", "10.77.0.2/24")):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        # Segmentation offloads would hand the tap 64 KB super-frames; a span port sees MTU frames.
        for ns, dev in ((cli, "wsc0"), (srv, "wss0")):
            subprocess.run(["ip", "netns", "exec", ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off"],
                           capture_output=True)
        www = os.path.join(tmp, "www")
        os.makedirs(www)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write("hello from the server side\n" * 200)
        server = subprocess.Popen(["ip", "netns", "exec", srv, "/usr/bin/python3", "-m", "http.server", "8080",
                                   "--bind", "10.77.0.2", "--directory", www],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        log = os.path.join(tmp, "conn.json")
        stats = os.path.join(tmp, "stats.json")
        ws_proc = subprocess.Popen(
            ["ip", "netns", "exec", srv, ws, "-l", "0-1", "--no-huge", "--no-pci", "--no-shconf", "-m", "512",
             "--no-telemetry", "--log-level=lib.*:warning", "--vdev=net_af_packet0,iface=wss0", "--",
             "--workers", "1", "--conn-log", log, "--log-format", "json", "--stats-json", stats,
             "--flow-table-size", "4096"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # Ready when it says it is watching the port.
        ready = False
        import select
        import time
        deadline = time.time() + 30
        lines = []
        while time.time() < deadline:
            r, _, _ = select.select([ws_proc.stdout], [], [], 0.5)
            if r:
                line = ws_proc.stdout.readline()
                lines.append(line)
                if "watching" in line:
                    ready = True
                    break
            if ws_proc.poll() is not None:
                break
        if not ready:
            print("FAIL wirestate did not start: " + "".join(lines))
            return 1
        for _ in range(50):  # the server needs a moment to bind
            if sh("ip", "netns", "exec", cli, "curl", "-s", "-o", "/dev/null", "http://10.77.0.2:8080/",
                  check=False).returncode == 0:
                break
            time.sleep(0.1)
        client = "\n".join([
            "import socket, struct, time",
            "s = socket.create_connection(('10.77.0.2', 8080)); s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')",
            "while s.recv(65536): pass",
            "s.close()",                                             # complete exchange: SF
            "try:\n    socket.create_connection(('10.77.0.2', 9), timeout=2)\nexcept OSError: pass",  # REJ
            "a = socket.create_connection(('10.77.0.2', 8080)); a.sendall(b'GET / HTTP/1.0\\r\\n')",
            "time.sleep(0.2)",
            "a.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); a.close()",  # RSTO
            "time.sleep(0.5)",
        ])
        c = subprocess.run(["ip", "netns", "exec", cli, "/usr/bin/python3", "-c", client],
                           capture_output=True, text=True, timeout=60)
        if c.returncode != 0:
            print(f"FAIL client: {c.stderr}")
            return 1
        time.sleep(1.0)
        ws_proc.send_signal(2)  # SIGINT: stop, flush every live connection, write statistics
        out, _ = ws_proc.communicate(timeout=60)
        if ws_proc.returncode != 0:
            print(f"FAIL wirestate exited {ws_proc.returncode}: {out}")
            return 1
        rows = [json.loads(l) for l in open(log) if l.strip()]
        st = json.load(open(stats))
        check_accounting(st, "live")
        mine = [r for r in rows if r["id.resp_h"] == "10.77.0.2"]
        verdicts = sorted((r["id.resp_p"], r["conn_state"]) for r in mine)
        print("records: " + ", ".join(f"{r['id.orig_h']}:{r['id.orig_p']} -> {r['id.resp_h']}:{r['id.resp_p']} "
                                      f"{r['conn_state']} {r.get('history', '-')} "
                                      f"{r['orig_tcp_state']}/{r['resp_tcp_state']}" for r in mine))
        want_any = [(8080, "SF"), (9, "REJ"), (8080, "RSTO")]
        for w in want_any:
            ok = w in verdicts
            failures += 0 if ok else 1
            print(f"{'ok  ' if ok else 'FAIL'} a connection to port {w[0]} ends {w[1]}")
        rej = [r for r in mine if r["id.resp_p"] == 9]
        ok = bool(rej) and rej[0].get("history") == "Sr"
        failures += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} the rejected connection's history is Sr")
    finally:
        for p in (ws_proc, server):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        for ns in (cli, srv):
            sh("ip", "netns", "del", ns, check=False)
    return failures


def case_sigint(ws, src, corpus):
    """SIGINT in the middle of a replay: RX stops, every live connection gets its
    record, the statistics are written, exit 0. --infinite-rx keeps the replay
    going until the signal, so the signal always lands mid-stream."""
    import signal
    import time
    pcap = os.path.join(src, "tests/pcaps/scenarios.pcap")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        log, stats = os.path.join(tmp, "conn.log"), os.path.join(tmp, "stats.json")
        p = subprocess.Popen([ws, "replay", pcap, "--infinite-rx", "--conn-log", log, "--stats-json", stats,
                              "--no-summary", "--flow-table-size", "4096"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(2.0)
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=60)
        ok = p.returncode == 0
        failures += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} exit code after SIGINT: {p.returncode} {out.strip()[-300:]}")
        if not ok:
            return failures
        st = json.load(open(stats))
        check_accounting(st, "sigint")
        records = sum(1 for l in open(log) if l.strip() and not l.startswith("#"))
        checks = [
            (st["packets_rx"] > 0, f"packets processed before the signal: {st['packets_rx']}"),
            (st["connections_flushed"] > 0, f"live connections flushed at the signal: {st['connections_flushed']}"),
            (records == st["connections_created"], f"{records} records for {st['connections_created']} connections"),
            (open(log).read().rstrip().splitlines()[-1].startswith("#close"), "the log is closed properly"),
        ]
        for good, what in checks:
            failures += 0 if good else 1
            print(f"{'ok  ' if good else 'FAIL'} {what}")
    return failures


def truth_rows(path):
    with open(path) as f:
        lines = f.read().splitlines()
    hdr = lines[0].split("\t")
    return [dict(zip(hdr, l.split("\t"))) for l in lines[1:]]


def case_flood(ws, src, corpus, wsgen=None):
    """A spoofed SYN flood (200k SYN/s for 1 s, 200k distinct sources) and SYN and
    XMAS port scans mixed into 5,000 legitimate connections, replayed with a flow
    table of 64K entries per worker: the flood and both scans are alerted with the
    right victim and scanners, the table evicts only half-open connections, and
    every legitimate connection that was answered (completed or rejected) still gets
    its exact record. The same legitimate traffic without the attack raises no
    alert, and every one of its connections gets its exact record."""
    wsgen = wsgen or os.path.join(os.path.dirname(ws), "..", "bench", "gen", "wsgen")
    failures = 0

    def check(good, what):
        nonlocal failures
        failures += 0 if good else 1
        print(f"{'ok  ' if good else 'FAIL'} {what}")

    with tempfile.TemporaryDirectory() as tmp:
        check_table_sized_from_capture(ws, tmp, check)
        for attack in (True, False):
            pcap, truth = os.path.join(tmp, "mix.pcap"), os.path.join(tmp, "mix.truth")
            args = [wsgen, pcap, "--connections", "5000", "--concurrency", "500", "--seed", "7", "--truth", truth]
            if attack:
                args += ["--syn-flood-pps", "200000", "--flood-start", "1", "--flood-duration", "1",
                         "--flood-victim", "10.9.9.9:80", "--scan", "192.0.2.66:10.9.9.10:syn",
                         "--scan", "192.0.2.67:10.9.9.11:xmas"]
            subprocess.run(args, check=True, capture_output=True, timeout=300)
            alerts = os.path.join(tmp, "alerts.json")
            text, st, _ = replay(ws, pcap, tmp, "--alerts", alerts, "--flow-table-size", "65536",
                                 "--workers", "2" if attack else "1", fmt="json")
            check_accounting(st, "flood" if attack else "clean")
            got = [json.loads(l) for l in open(alerts) if l.strip()]
            kinds = sorted((a["type"], a["victim_h"], a.get("scanner_h")) for a in got)
            if attack:
                want = sorted([("syn_flood", "10.9.9.9", None), ("port_scan", "10.9.9.10", "192.0.2.66"),
                               ("port_scan", "10.9.9.11", "192.0.2.67")])
                check(kinds == want, f"alerts {kinds}")
                flood = [a for a in got if a["type"] == "syn_flood"]
                check(bool(flood) and flood[0]["victim_p"] == 80 and flood[0]["peak_rate"] >= 100000,
                      f"the flood's victim port and peak rate: {flood[0] if flood else None}")
                check(st["connections_evicted"] > 0 and
                      st["connections_evicted"] == st["connections_evicted_embryonic"],
                      f"only half-open connections evicted: {st['connections_evicted']} evicted, "
                      f"{st['connections_evicted_embryonic']} of them embryonic")
            else:
                check(kinds == [], f"no alert on the clean mix: {kinds}")
            recs = {}
            for l in text.splitlines():
                r = json.loads(l)
                recs.setdefault((r["id.orig_h"], str(r["id.orig_p"]), r["id.resp_h"], str(r["id.resp_p"])), []).append(r)
            wrong = 0
            truth_list = truth_rows(truth)
            # An unanswered SYN (and a half-open attempt) looks exactly like a spoofed one
            # until it is retransmitted: under attack such an attempt may be evicted and its
            # retransmission start a second record. Its packets must all be accounted for.
            embryonic = [t for t in truth_list if attack and t["kind"] in ("syn_only", "half_open")]
            split_lost = 0
            for t in embryonic:
                fwd = recs.get((t["orig_h"], t["orig_p"], t["resp_h"], t["resp_p"]), [])
                rev = recs.get((t["resp_h"], t["resp_p"], t["orig_h"], t["orig_p"]), [])  # first seen by a SYN-ACK
                client = sum(r["orig_pkts"] for r in fwd) + sum(r["resp_pkts"] for r in rev)
                server = sum(r["resp_pkts"] for r in fwd) + sum(r["orig_pkts"] for r in rev)
                if (client, server) != (int(t["orig_pkts"]), int(t["resp_pkts"])):
                    split_lost += 1
            if attack:
                check(split_lost == 0, f"{len(embryonic)} legitimate half-open attempts: every packet in a record "
                                       f"({split_lost} with packets missing)")
            truth_list = [t for t in truth_list if t not in embryonic]
            for t in truth_list:
                rs = recs.get((t["orig_h"], t["orig_p"], t["resp_h"], t["resp_p"]), [])
                ok = any(r["conn_state"] == t["conn_state"] and r.get("history", "-") == t["history"]
                         and str(r["orig_pkts"]) == t["orig_pkts"] and str(r["resp_pkts"]) == t["resp_pkts"]
                         and r["orig_tcp_state"] == t["orig_tcp_state"] and r["resp_tcp_state"] == t["resp_tcp_state"]
                         for r in rs)
                if not ok:
                    wrong += 1
                    if wrong <= 5:
                        print(f"     truth {t}; ours {rs[:2]}")
            check(wrong == 0, f"{'under attack: ' if attack else ''}{len(truth_list) - wrong}/{len(truth_list)} "
                              f"legitimate {'answered ' if attack else ''}connections have their exact record")
    return failures


def smallest_syns_pcap(path, n):
    """n raw IPv4 SYNs (LINKTYPE_RAW, 40 bytes each, a source apiece): the smallest
    frames that open connections, 56 bytes of file each."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for i in range(n):
            ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0,
                             bytes([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]), bytes([10, 255, 0, 1]))
            tcp = struct.pack(">HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x02, 65535, 0, 0)
            f.write(struct.pack("<IIII", 1700000000, i, 40, 40) + ip + tcp)


def check_table_sized_from_capture(ws, tmp, check):
    """Without --flow-table-size, a replay from the mapped file sizes each worker's
    table from the capture (one connection per 56 bytes of file at most, divided by
    the half-open share): a capture made of nothing but the smallest frames that open
    connections fills that share exactly, and nothing is evicted."""
    n = 3000
    pcap = os.path.join(tmp, "syns.pcap")
    smallest_syns_pcap(pcap, n)
    for share, workers in ((50, "1"), (100, "2"), (1, "1")):
        text, st, _ = replay(ws, pcap, tmp, "--flow-table-size", "1048576", "--embryonic-share", str(share),
                             "--workers", workers, "--no-detect")
        check_accounting(st, f"{n} SYNs")
        want_size = (n * 100 + share - 1) // share
        states = {json.loads(l)["conn_state"] for l in text.splitlines() if l.strip()}
        check(st["flow_table_size"] == want_size and st["records_written"] == n and st["connections_evicted"] == 0
              and states == {"S0"},
              f"{n} smallest SYNs, half-open share {share}%, {workers} worker(s): table of {st['flow_table_size']} "
              f"(want {want_size}), {st['records_written']} records, {st['connections_evicted']} evicted, {states}")


CASES = {"scenarios": case_scenarios, "sigint": case_sigint, "flood": case_flood, "workers": case_workers,
         "reader": case_reader, "hostile": case_hostile, "errors": case_errors, "config": case_config, "live": case_live}


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in CASES:
        print(__doc__)
        return 2
    case, ws, src = sys.argv[1], sys.argv[2], sys.argv[3]
    corpus = sys.argv[4] if len(sys.argv) > 4 else None
    failures = CASES[case](ws, src, corpus)
    if failures == SKIP:
        return SKIP
    print(f"{case}: {'PASS' if failures == 0 else f'FAIL ({failures})'}")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
