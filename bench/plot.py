#!/usr/bin/python3
"""Plots bench/pipeline-results.json (written by bench/pipeline-bench) as
bench/mpps_vs_connections.png: pipeline Mpps and the pcap PMD's ceiling against
live connections (log scale), one line per worker count; the per-second range
as error bars. Uses the newest run for each (workers, flow table, connections);
runs from before the flow_table field existed were on rte_hash.

usage: bench/plot.py [RESULTS.json] [OUT.png]
Needs matplotlib (Debian: python3-matplotlib); installs it with apt-get if missing.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def import_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "python3-matplotlib"], check=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def usage_error(message):
    """One line naming the problem, exit 2."""
    print(f"plot.py: {message}", file=sys.stderr)
    return 2


def main():
    if sys.argv[1:2] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    if len(sys.argv) > 3 or any(a.startswith("-") for a in sys.argv[1:]):
        return usage_error("usage: bench/plot.py [RESULTS.json] [OUT.png]")
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "pipeline-results.json")
    dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "mpps_vs_connections.png")
    try:
        with open(src) as f:
            runs = json.load(f)
    except OSError as e:
        return usage_error(f"{src}: {e.strerror}")
    except ValueError as e:
        return usage_error(f"{src}: not JSON ({e})")
    need = ("date", "workers", "live_connections_max", "mpps_median", "mpps_min", "mpps_max", "ceiling_mpps",
            "ns_per_packet_worker")
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) and all(k in r for k in need)
                                                          for r in runs):
        return usage_error(f"{src}: not a non-empty list of bench/pipeline-bench runs")
    if not os.path.isdir(os.path.dirname(os.path.abspath(dst))):
        return usage_error(f"{dst}: no such directory")
    newest = {}
    for r in runs:  # later entries replace earlier ones
        newest[(r["workers"], r.get("flow_table", "rte_hash"),
                r["live_connections_max"] // 1000 * 1000 or r["live_connections_max"])] = r
    plt = import_matplotlib()
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    ceiling_drawn = False
    for series, (w, table) in enumerate(sorted({k[:2] for k in newest})):
        pts = sorted((r["live_connections_max"], r) for (ww, tt, _), r in newest.items() if (ww, tt) == (w, table))
        x = [p[0] for p in pts]
        y = [p[1]["mpps_median"] for p in pts]
        lo = [p[1]["mpps_median"] - p[1]["mpps_min"] for p in pts]
        hi = [p[1]["mpps_max"] - p[1]["mpps_median"] for p in pts]
        # Which build and day each line shows (pipeline-bench records the commit since 2026-11-22).
        made = sorted({(p[1]["date"], p[1].get("commit") or "commit not recorded") for p in pts})
        when = "; ".join(f"{c}, {d}" for d, c in made)
        ax.errorbar(x, y, yerr=[lo, hi], marker="o", capsize=3,
                    label=f"wirestate, {w} worker{'s' if w > 1 else ''}, {table} table ({when})")
        for xi, p in zip(x, pts):
            ax.annotate(f"{p[1]['mpps_median']:.2f}\n{p[1]['ns_per_packet_worker'][0]:.0f} ns/pkt", (xi, p[1]["mpps_median"]),
                        textcoords="offset points", xytext=(6, 6 - 26 * series), fontsize=7)
        if not ceiling_drawn:
            ax.plot(x, [p[1]["ceiling_mpps"] for p in pts], linestyle="--", marker="s",
                    label="pcap PMD ceiling (--rx-only)")
            ceiling_drawn = True
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("live connections")
    ax.set_ylabel("Mpps (median of per-second rates)")
    ax.set_title("wirestate replay --infinite-rx, snaplen 96")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(dst)
    print(f"wrote {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
