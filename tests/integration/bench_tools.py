#!/usr/bin/python3
"""The benchmark programs behave as the issue asks of every tool: a bad argument,
a missing file or a file of the wrong kind is one line on stderr naming the
problem, and exit 2, before anything is installed, generated or run. And each
does its job on a small input: wsgen writes a flood with no legitimate traffic
(which wirestate replays into one S0 record per spoofed SYN and an alert),
bench-capture prints its median, pipeline-bench's last line is the JSON
object the issue specifies, and each run it keeps names its machine and commit;
bench/instructions counts a pass of bench-capture by stage.

Timings are printed by these programs, never judged here.

usage: bench_tools.py SRC_ROOT WSGEN WIRESTATE [BENCH_CAPTURE BENCH_PARSE BENCH_TABLE]
"""
import json
import os
import subprocess
import sys
import tempfile

failures = []


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}")
    if not ok:
        failures.append(name)


def rejects(name, cmd, must_name):
    """cmd exits 2 with one stderr line that names the problem (contains must_name)."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:  # it ignored the argument and ran
        return check(f"{name} rejects {' '.join(cmd[1:])!r}", False, "still running after 120 s")
    lines = p.stderr.strip().splitlines()
    ok = p.returncode == 2 and len(lines) == 1 and must_name in lines[0]
    check(f"{name} rejects {' '.join(cmd[1:])!r}", ok,
          f"exit {p.returncode}, stderr {p.stderr.strip()[-400:]!r}, wanted one line naming {must_name!r}")


def last_json(stdout):
    """The last line printed, and what it reads as JSON ({} if it does not)."""
    last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    try:
        return last, json.loads(last)
    except ValueError:
        return last, {}


def main():
    if len(sys.argv) not in (4, 7):
        print(__doc__)
        return 2
    root, wsgen, ws = sys.argv[1:4]
    bench_capture, bench_parse, bench_table = sys.argv[4:7] if len(sys.argv) == 7 else (None, None, None)
    pipeline_bench = os.path.join(root, "bench", "pipeline-bench")
    peers = os.path.join(root, "bench", "peers.sh")
    plot = os.path.join(root, "bench", "plot.py")
    instructions = os.path.join(root, "bench", "instructions")

    with tempfile.TemporaryDirectory() as tmp:
        not_capture = os.path.join(tmp, "notes.txt")
        with open(not_capture, "w") as f:
            f.write("not a capture\n")
        missing = os.path.join(tmp, "missing.pcap")

        # ---- wsgen
        out = os.path.join(tmp, "x.pcap")
        rejects("wsgen", [wsgen], "no output file")
        rejects("wsgen", [wsgen, out, "--connections", "abc"], "abc")
        rejects("wsgen", [wsgen, out, "--packets", "10", "--connections", "10"], "not both")
        rejects("wsgen", [wsgen, out, "--connections", "0"], "nothing to write")
        rejects("wsgen", [wsgen, out, "--snaplen", "10"], "--snaplen")
        rejects("wsgen", [wsgen, out, "--syn-flood-pps", "100"], "--flood-victim")
        rejects("wsgen", [wsgen, os.path.join(tmp, "no", "dir.pcap"), "--connections", "5"], "cannot write")

        # A flood alone: every spoofed SYN is a one-packet S0 connection, and the victim is named.
        flood = os.path.join(tmp, "flood.pcap")
        p = subprocess.run([wsgen, flood, "--connections", "0", "--syn-flood-pps", "20000", "--flood-duration",
                            "0.5", "--flood-victim", "10.9.9.9:443", "--seed", "5"],
                           capture_output=True, text=True, timeout=120)
        check("wsgen writes a flood with no legitimate traffic", p.returncode == 0 and "0 connections" in p.stderr,
              p.stderr.strip())
        stats, alerts = os.path.join(tmp, "flood.json"), os.path.join(tmp, "flood.alerts")
        p = subprocess.run([ws, "replay", flood, "--conn-log", os.devnull, "--alerts", alerts, "--stats-json", stats,
                            "--no-summary"], capture_output=True, text=True, timeout=300)
        if p.returncode == 0:
            st = json.load(open(stats))
            states = {k: v for k, v in st["conn_state"].items() if v}
            check("the flood replays as one S0 record per SYN",
                  st["packets_rx"] == 10000 and states == {"S0": 10000} and st["records_written"] == 10000,
                  f"{st['packets_rx']} packets, conn_state {states}, {st['records_written']} records")
            text = open(alerts).read()
            check("the flood raises an alert naming its victim", "10.9.9.9" in text, text[:400])
        else:
            check("wirestate replays the flood", False, p.stderr.strip()[-400:])

        # ---- pipeline-bench, peers.sh, plot.py: arguments checked before anything runs
        for args, named in ((["--connections", "x"], "--connections"), (["--connections", "0"], "--connections"),
                            (["--duration", "0"], "--duration"), (["--workers", "0"], "--workers"),
                            (["--bogus"], "--bogus"), (["--capture", missing], missing),
                            (["--capture", not_capture], not_capture), (["--results", not_capture], not_capture),
                            (["--wirestate", missing], missing)):
            rejects("pipeline-bench", [pipeline_bench, *args], named)
        for args, named in ((["--bogus"], "--bogus"), (["--packets"], "--packets"), (["--packets", "x"], "x"),
                            (["--runs", "0"], "--runs"), (["--capture", missing], missing),
                            (["--wirestate", missing], missing)):
            rejects("peers.sh", ["bash", peers, *args], named)
        for args, named in (([missing], missing), ([not_capture], not_capture), (["a", "b", "c"], "usage")):
            rejects("plot.py", [plot, *args], named)

        # pipeline-bench's contract: its last line is one JSON object with these keys.
        results = os.path.join(tmp, "results.json")
        p = subprocess.run([pipeline_bench, "--connections", "200", "--duration", "1", "--out", tmp,
                            "--results", results, "--wirestate", ws, "--wsgen", wsgen],
                           capture_output=True, text=True, timeout=600)
        last, summary = last_json(p.stdout)
        keys = ("mpps", "ceiling_mpps", "workers", "live_connections", "ns_per_packet_worker", "drops")
        check("pipeline-bench ends with the JSON summary",
              p.returncode == 0 and all(k in summary for k in keys) and summary["mpps"] > 0
              and summary["ceiling_mpps"] > 0 and summary["drops"] == 0,
              f"exit {p.returncode}, last line {last[:300]!r}, stderr {p.stderr.strip()[-300:]!r}")
        saved = json.load(open(results)) if os.path.exists(results) else []
        check("pipeline-bench appends its runs to --results", len(saved) == 1)
        # A figure is only worth keeping with what it was measured on and from.
        run = saved[0] if saved else {}
        try:  # outside a git checkout (or without git) the commit is null
            head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True,
                                  text=True).stdout.strip()
        except OSError:
            head = ""
        check("pipeline-bench records the machine and the commit of each run",
              run.get("machine", {}).get("cpus") == os.cpu_count() and "commit" in run
              and (not head or str(run["commit"]).startswith(head)),
              f"machine {run.get('machine')!r}, commit {run.get('commit')!r}")
        rejects("plot.py", [plot, results, os.path.join(tmp, "no", "dir.png")], "no such directory")

        # ---- bench-capture and the Google Benchmark programs
        if bench_capture:
            rejects("bench-capture", [bench_capture], "no capture file")
            rejects("bench-capture", [bench_capture, missing], missing)
            rejects("bench-capture", [bench_capture, not_capture], not_capture)
            rejects("bench-capture", [bench_capture, flood, "--passes", "x"], "--passes")
            rejects("bench-capture", [bench_capture, flood, "--flow-table-size", "10"], "--flow-table-size")
            p = subprocess.run([bench_capture, flood, "--passes", "1", "--flow-table-size", "65536"],
                               capture_output=True, text=True, timeout=300)
            check("bench-capture measures a capture", p.returncode == 0 and "median:" in p.stdout
                  and "10000 packets, 10000 connections" in p.stdout, p.stdout.strip()[-300:])
            for prog in (bench_parse, bench_table):
                rejects(os.path.basename(prog), [prog, "--bogus"], "--bogus")

        # ---- instructions: bench-capture's pass counted by callgrind, in a build of its own
        for args, named in (([missing], missing), ([not_capture], not_capture), ([flood, "--top", "x"], "--top"),
                            ([flood, "--keep", os.path.join(tmp, "no", "cg.out")], "--keep")):
            rejects("instructions", [instructions, *args], named)
        p = subprocess.run([instructions, flood, "--build", os.path.join(tmp, "build-vg"), "--top", "3"],
                           capture_output=True, text=True, timeout=1200)
        last, counted = last_json(p.stdout)
        stages = counted.get("stages", {})
        total = counted.get("instructions_per_packet", 0)
        # Every instruction of the pass belongs to one stage, and a flood of bare
        # SYNs is parsed, looked up, tracked and counted by the detector.
        check("instructions counts a pass by stage",
              p.returncode == 0 and counted.get("packets") == 10000 and total > 0
              and abs(sum(stages.values()) - total) <= 0.01 * total
              and all(stages.get(k, 0) > 0 for k in ("reader", "parser", "flow table", "tracker", "detection")),
              f"exit {p.returncode}, last line {last[:300]!r}, stderr {p.stderr.strip()[-300:]!r}")

    print(f"bench-tools: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
