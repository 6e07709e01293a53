#!/usr/bin/python3
"""The workload generator and the tracker agree: wsgen writes captures with a
ground-truth verdict for every legitimate connection (--truth), wirestate replays
them, and every connection's conn_state, history, both endpoints' RFC states,
packet and payload-byte counts must match, with no extra or split records.

Several captures cover the options that change the frames but not the verdicts:
IPv4 and IPv6, 802.1Q tags, sequence numbers wrapping around 2^32 (wsgen does
that for one connection in twenty), high concurrency (interleaving), and a SYN
flood plus port scans beside the legitimate traffic (their records are counted,
not judged). TCP checksums are verified by wirestate (--verify-checksums), so a
wrong checksum from the generator shows up as a 'C' in a history.

usage: generator_truth.py WSGEN WIRESTATE [--keep DIR] [--verbose]
"""
import ipaddress
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter

# Each case: name and wsgen arguments (--truth and the output are added).
CASES = [
    ("ipv4-sequential", ["--connections", "400", "--concurrency", "1", "--seed", "1"]),
    ("mixed-interleaved", ["--connections", "3000", "--concurrency", "300", "--ipv6-fraction", "0.3",
                           "--vlan-fraction", "0.2", "--seed", "2"]),
    ("flood-and-scans", ["--connections", "1500", "--concurrency", "500", "--ipv6-fraction", "0.1",
                         "--syn-flood-pps", "2000", "--flood-start", "0.5", "--flood-duration", "2",
                         "--flood-victim", "172.16.0.80:443",
                         "--scan", "198.51.100.7:172.16.9.9:syn", "--scan", "198.51.100.8:172.16.9.10:xmas",
                         "--scan-ports", "200", "--seed", "3"]),
]

COMPARED = ["conn_state", "history", "orig_tcp_state", "resp_tcp_state",
            "orig_pkts", "resp_pkts", "orig_bytes", "resp_bytes"]


def key(oh, op, rh, rp):
    return (ipaddress.ip_address(oh), int(op), ipaddress.ip_address(rh), int(rp))


def read_truth(path):
    with open(path) as f:
        lines = f.read().splitlines()
    hdr = lines[0].split("\t")
    rows = [dict(zip(hdr, l.split("\t"))) for l in lines[1:] if l]
    return {key(r["orig_h"], r["orig_p"], r["resp_h"], r["resp_p"]): r for r in rows}


def run_case(name, args, wsgen, ws, tmp, verbose):
    pcap = os.path.join(tmp, name + ".pcap")
    truth_path = os.path.join(tmp, name + ".truth.tsv")
    log = os.path.join(tmp, name + ".conn.json")
    stats = os.path.join(tmp, name + ".stats.json")
    subprocess.run([wsgen, pcap, "--truth", truth_path, *args], check=True, capture_output=True, timeout=300)
    p = subprocess.run([ws, "replay", pcap, "--conn-log", log, "--log-format", "json", "--stats-json", stats,
                        "--no-summary", "--verify-checksums", "--flow-table-size", "65536"],
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        print(f"FAIL {name}: wirestate exited {p.returncode}: {p.stderr.strip()}")
        return False
    truth = read_truth(truth_path)
    records = {}
    dup = Counter()
    with open(log) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            k = key(r["id.orig_h"], r["id.orig_p"], r["id.resp_h"], r["id.resp_p"])
            dup[k] += 1
            records[k] = r
    with open(stats) as f:
        st = json.load(f)

    bad = Counter()
    shown = 0
    for k, t in truth.items():
        r = records.get(k)
        problems = []
        if r is None:
            problems.append("no record (or orig/resp reversed)")
        else:
            if dup[k] > 1:
                problems.append(f"{dup[k]} records")
            for field in COMPARED:
                got = str(r.get(field, "-"))
                if got != t[field]:
                    problems.append(f"{field} {got} != {t[field]}")
        if problems:
            bad[t["kind"]] += 1
            if shown < 20 or verbose:
                shown += 1
                print(f"  {name} {t['kind']} {t['orig_h']}:{t['orig_p']} > {t['resp_h']}:{t['resp_p']}: "
                      + "; ".join(problems))
    others = len(records) - sum(1 for k in truth if k in records)
    malformed = st["packets_malformed"]["total"]
    kinds = Counter(t["kind"] for t in truth.values())
    ok = not bad and malformed == 0
    verdict = "ok  " if ok else "FAIL"
    print(f"{verdict} {name}: {len(truth) - sum(bad.values())}/{len(truth)} connections agree "
          f"({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}); "
          f"{others} other records (flood/scan), {st['packets_rx']} packets, {malformed} malformed")
    if bad:
        print(f"     disagreeing by shape: {dict(bad)}")
    return ok


def main():
    argv = sys.argv[1:]
    verbose = "--verbose" in argv
    keep = None
    if "--keep" in argv:
        keep = argv[argv.index("--keep") + 1]
        argv = [a for a in argv if a not in ("--keep", keep)]
    argv = [a for a in argv if a != "--verbose"]
    if len(argv) != 2:
        print(__doc__)
        return 2
    wsgen, ws = argv
    failed = 0
    if keep:
        os.makedirs(keep, exist_ok=True)
        tmp_ctx = None
        tmp = keep
    else:
        tmp_ctx = tempfile.TemporaryDirectory()
        tmp = tmp_ctx.name
    try:
        for name, args in CASES:
            if not run_case(name, args, wsgen, ws, tmp, verbose):
                failed += 1
    finally:
        if tmp_ctx:
            tmp_ctx.cleanup()
    print(f"generator-truth: {len(CASES) - failed} of {len(CASES)} captures agree")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
