"""What the benchmark scripts share (bench/pipeline-bench, bench/instructions): the
commit and the machine every run names beside its figures, and their handling of
arguments."""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tsc_ghz():
    """The TSC frequency (wirestate counts rte_rdtsc cycles)."""
    try:
        out = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
        m = re.search(r"tsc: Detected ([0-9.]+) MHz", out)
        if m:
            return float(m.group(1)) / 1000
    except OSError:
        pass
    with open("/proc/cpuinfo") as f:
        m = re.search(r"cpu MHz\s*:\s*([0-9.]+)", f.read())
    return float(m.group(1)) / 1000 if m else 1.0


def source_commit():
    """The commit of the tree the benchmark runs from, "-dirty" when code in it has
    changed since (results, documents and plots excepted); None outside a checkout."""
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                                 capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return None
    code = [c for c in changed if not c.rstrip().endswith((".md", ".png", ".json"))]
    return head + ("-dirty" if code else "")


def machine(ghz):
    """What the figures were measured on: they mean little without it."""
    model = None
    with open("/proc/cpuinfo") as f:
        m = re.search(r"model name\s*:\s*(.+)", f.read())
        if m:
            model = m.group(1).strip()
    return {"cpu": model, "cpus": os.cpu_count(), "tsc_ghz": round(ghz, 3), "kernel": os.uname().release}


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        """One line naming the problem, exit 2 (argparse would print the whole usage first)."""
        print(f"{self.prog}: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def int_in(lo, hi):
    """An argparse type: a whole number in [lo, hi]."""
    def conv(v):
        try:
            n = int(v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {v}")
        if not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"{v} is not in [{lo}, {hi}]")
        return n
    return conv


def describe():
    """One line for a script that prints its figures as text (bench/peers.sh)."""
    host = machine(tsc_ghz())
    return (f"wirestate {source_commit() or 'outside a checkout'}; {host['cpus']} CPUs ({host['cpu']}), "
            f"TSC {host['tsc_ghz']:.3f} GHz, kernel {host['kernel']}")


if __name__ == "__main__":
    print(describe())
