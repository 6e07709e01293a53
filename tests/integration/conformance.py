#!/usr/bin/python3
"""Zeek conformance: replay every trace of ../shared/conformance/zeek through the
real `wirestate replay` and compare, per TCP connection, the originator, conn_state,
history, packets and payload bytes per direction with the conn.log Zeek wrote.

Connections are matched as a multiset per (unordered) 4-tuple, since several
connections may share one. Every difference must be listed in KNOWN below with
its reason; an unlisted difference, or a listed one that no longer happens, fails
the test. The agreement figures are printed.

usage: conformance.py WIRESTATE CORPUS_DIR [--verbose]
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

# (trace, orig_h, orig_p, field) -> reason. field is one of conn_state, history,
# pkts, bytes, orient, missing (no connection of ours matched), extra.
VNTAG = ("A single SYN-ACK whose TCP options are cut by the 70-byte snaplen: Zeek rejects the segment "
         "(truncated header) and logs an empty connection; we track the segment from its complete fixed header "
         "(h, 1 packet, oriented to the server port as Zeek does with its default server ports, which this "
         "bare-mode test did not load), so headers-only captures (-s 96) keep their handshakes.")
GRIDFTP = ("Zeek's GridFTP script recognises the data channel and calls skip_further_processing, so Zeek "
           "stops counting at 7/6 packets and never sees the FINs (S1); a TCP tracker follows the close (SF).")
ANALYZER_X = ("History letter X is set by an application analyzer (FTP command-length limit, HTTP inside "
              "GTP), not by TCP state tracking; conn_state, packets and bytes agree.")
KNOWN = {
    ("vntag-vlan-sandwich-clean", "10.10.10.1", "443", "orient"): VNTAG,
    ("vntag-vlan-sandwich-clean", "10.10.10.1", "443", "history"): VNTAG,
    ("vntag-vlan-sandwich-clean", "10.10.10.1", "443", "pkts"): VNTAG,
    ("globus-url-copy", "192.168.57.103", "35391", "conn_state"): GRIDFTP,
    ("globus-url-copy", "192.168.57.103", "35391", "history"): GRIDFTP,
    ("globus-url-copy", "192.168.57.103", "35391", "pkts"): GRIDFTP,
    ("globus-url-copy", "192.168.57.103", "35391", "bytes"): GRIDFTP,
    ("ftp-fake-long-commands", "127.0.0.1", "58634", "history"): ANALYZER_X,
    ("tunnels-gtp-gtp2-different-udp-port", "10.131.17.170", "51803", "history"): ANALYZER_X,
}

# Goals from the issue.
MIN_STATE_AGREEMENT = 0.99
MIN_HISTORY_AGREEMENT = 0.99
MIN_TRACES_ALL_STATES = 42


def load_expected(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def run_trace(wirestate, trace, verify, workdir):
    log = os.path.join(workdir, "conn.json")
    stats = os.path.join(workdir, "stats.json")
    cmd = [wirestate, "replay", trace, "--conn-log", log, "--log-format", "json",
           "--stats-json", stats, "--no-summary", "--flow-table-size", "65536"]
    if verify:
        cmd.append("--verify-checksums")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
    rows = []
    with open(log) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    with open(stats) as f:
        st = json.load(f)
    return rows, st


def ours_fields(r):
    return {
        "orig_h": r["id.orig_h"], "orig_p": str(r["id.orig_p"]),
        "resp_h": r["id.resp_h"], "resp_p": str(r["id.resp_p"]),
        "conn_state": r.get("conn_state", ""),
        "history": r.get("history", "-") or "-",
        "orig_pkts": str(r.get("orig_pkts", 0)), "resp_pkts": str(r.get("resp_pkts", 0)),
        "orig_bytes": str(r["orig_bytes"]) if "orig_bytes" in r else "-",
        "resp_bytes": str(r["resp_bytes"]) if "resp_bytes" in r else "-",
    }


def norm_addr(a):
    # Zeek's baselines sometimes write IPv6 with leading zeros (2001:0:4137:...);
    # compare canonical forms.
    import ipaddress
    try:
        return str(ipaddress.ip_address(a))
    except ValueError:
        return a


def tuple_key(r):
    a = (norm_addr(r["orig_h"]), r["orig_p"])
    b = (norm_addr(r["resp_h"]), r["resp_p"])
    return tuple(sorted([a, b]))


def diffs(exp, got):
    """Fields on which one expected row and one of ours disagree."""
    out = []
    if (norm_addr(exp["orig_h"]), exp["orig_p"]) != (norm_addr(got["orig_h"]), got["orig_p"]):
        out.append("orient")
    if exp["conn_state"] != got["conn_state"]:
        out.append("conn_state")
    if exp["history"] != got["history"]:
        out.append("history")
    if exp["orig_pkts"] != "*" and (exp["orig_pkts"], exp["resp_pkts"]) != (got["orig_pkts"], got["resp_pkts"]):
        out.append("pkts")
    if exp["orig_bytes"] != "*" and (exp["orig_bytes"], exp["resp_bytes"]) != (got["orig_bytes"], got["resp_bytes"]):
        out.append("bytes")
    return out


def match(expected, ours):
    """Pairs expected rows with ours inside each 4-tuple, best agreement first."""
    groups = {}
    for i, r in enumerate(ours):
        groups.setdefault(tuple_key(r), []).append(i)
    used = set()
    pairs = []
    for e in expected:
        cands = [i for i in groups.get(tuple_key(e), []) if i not in used]
        if not cands:
            pairs.append((e, None))
            continue
        best = min(cands, key=lambda i: (len(diffs(e, ours[i])), i))
        used.add(best)
        pairs.append((e, ours[best]))
    extra = [ours[i] for i in range(len(ours)) if i not in used]
    return pairs, extra


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    wirestate, corpus = sys.argv[1], sys.argv[2]
    verbose = "--verbose" in sys.argv
    if not os.path.isdir(corpus):
        print(f"conformance: corpus {corpus} not found (../shared must sit beside the checkout)")
        return 1
    index = load_expected(os.path.join(corpus, "index.tsv"))
    total = state_ok = hist_ok = 0
    traces_all_states = 0
    seen_known = set()
    unexplained = []
    per_trace = []
    with tempfile.TemporaryDirectory() as tmp:
        for entry in index:
            name = entry["name"]
            trace = None
            for ext in (".pcap", ".pcapng"):
                p = os.path.join(corpus, "traces", name + ext)
                if os.path.exists(p):
                    trace = p
            verify = "-C" not in entry["zeek_options"].split()
            rows, stats = run_trace(wirestate, trace, verify, tmp)
            ours = [ours_fields(r) for r in rows]
            expected = load_expected(os.path.join(corpus, "expected", name + ".tsv"))
            pairs, extra = match(expected, ours)
            all_states = True
            t_state = 0
            for e, g in pairs:
                total += 1
                key_base = (name, norm_addr(e["orig_h"]), e["orig_p"])
                fields = ["missing"] if g is None else diffs(e, g)
                if g is not None and e["conn_state"] == g["conn_state"]:
                    state_ok += 1
                    t_state += 1
                else:
                    all_states = False
                if g is not None and e["history"] == g["history"]:
                    hist_ok += 1
                for f in fields:
                    k = key_base + (f,)
                    if k in KNOWN:
                        seen_known.add(k)
                    else:
                        got = "nothing" if g is None else f"{g['conn_state']} {g['history']} pkts {g['orig_pkts']}/{g['resp_pkts']} bytes {g['orig_bytes']}/{g['resp_bytes']} orig {g['orig_h']}:{g['orig_p']}"
                        unexplained.append(f"{name}: {e['orig_h']}:{e['orig_p']} -> {e['resp_h']}:{e['resp_p']} {f}: "
                                           f"zeek {e['conn_state']} {e['history']} pkts {e['orig_pkts']}/{e['resp_pkts']} "
                                           f"bytes {e['orig_bytes']}/{e['resp_bytes']}; ours {got}")
            for g in extra:
                k = (name, norm_addr(g["orig_h"]), g["orig_p"], "extra")
                if k in KNOWN:
                    seen_known.add(k)
                else:
                    unexplained.append(f"{name}: extra connection of ours {g['orig_h']}:{g['orig_p']} -> "
                                       f"{g['resp_h']}:{g['resp_p']} {g['conn_state']} {g['history']}")
            if all_states:
                traces_all_states += 1
            per_trace.append((name, len(expected), t_state, len(extra)))
            acct = stats["packets_tcp"] + stats["packets_non_tcp"] + stats["packets_filtered"] + stats["packets_malformed"]["total"]
            if acct != stats["packets_rx"]:
                unexplained.append(f"{name}: statistics do not add up: {acct} != packets_rx {stats['packets_rx']}")

    stale = sorted(set(KNOWN) - seen_known)
    if verbose:
        for name, n, ok, extra in per_trace:
            print(f"  {name:40s} {ok}/{n} conn_state{'' if not extra else f', {extra} extra'}")
    print(f"conformance: {len(index)} traces, {total} TCP connections")
    print(f"conformance: conn_state agrees on {state_ok}/{total} ({100.0 * state_ok / total:.2f}%), "
          f"history on {hist_ok}/{total} ({100.0 * hist_ok / total:.2f}%)")
    print(f"conformance: {traces_all_states}/{len(index)} traces agree on every conn_state")
    print(f"conformance: {len(seen_known)} listed deliberate differences")
    for k in sorted(seen_known):
        print(f"  listed: {k[0]} {k[1]}:{k[2]} {k[3]}: {KNOWN[k]}")
    ok = True
    for u in unexplained:
        print(f"  UNEXPLAINED {u}")
        ok = False
    for k in stale:
        print(f"  STALE listed difference no longer happens: {k}")
        ok = False
    if state_ok < MIN_STATE_AGREEMENT * total or hist_ok < MIN_HISTORY_AGREEMENT * total:
        print("conformance: below the 99% goal")
        ok = False
    if traces_all_states < MIN_TRACES_ALL_STATES:
        print(f"conformance: fewer than {MIN_TRACES_ALL_STATES} traces agree on every conn_state")
        ok = False
    print("conformance: PASS" if ok else "conformance: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
