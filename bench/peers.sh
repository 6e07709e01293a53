#!/usr/bin/env bash
# Peers side by side: the same wsgen capture, once at full size and once cut to
# 96 bytes (editcap -s 96), through softflowd, nfpcapd (nfdump), argus, tcptrace,
# tshark's TCP conversations, wirestate replay (both readers), the pcap PMD alone
# (wirestate replay --reader pcap-pmd --rx-only) and wirestate's default reader alone
# (the mapped file, --rx-only). Prints a markdown table: wall time, Mpps and the
# number of TCP connections each tool reports (NetFlow/argus flows are counted as
# distinct unordered 4-tuples, so both directions of a connection count once).
#
# Installs the peers it needs with apt-get (CI does not run benchmarks, so they
# are not in scripts/install-deps.sh). The median of --runs runs per tool, one tool at a time; run it on
# an otherwise idle machine.
#
# --head-to-head N times only softflowd, nfpcapd and wirestate replay, the three in
# turn, N rounds on each capture, and prints the median and range of each one's wall
# time: on a VM whose speed drifts between minutes, tools timed in turn see the
# same drift, where the medians of tools run one after the other need not.
#
# usage: bench/peers.sh [--packets N] [--concurrency N] [--out DIR]
#        [--wirestate PATH] [--wsgen PATH] [--capture FILE] [--runs N (3)]
#        [--head-to-head N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
packets=1000000
concurrency=10000
out="$root/out/peers"
ws="$root/build/pipeline/wirestate"
wsgen="$root/build/bench/gen/wsgen"
capture=""
runs=3
h2h=0
# Every argument is checked before anything is installed or generated: one line
# naming the problem, exit 2.
die() { echo "peers.sh: $*" >&2; exit 2; }
count() {  # option value lo hi
  [[ $2 =~ ^[0-9]+$ ]] && [ "${#2}" -le 9 ] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] ||
    die "$1: $2 is not a whole number in [$3, $4]"
}
while [ $# -gt 0 ]; do
  case "$1" in
    --packets | --concurrency | --out | --wirestate | --wsgen | --capture | --runs | --head-to-head)
      [ $# -ge 2 ] || die "$1 needs a value" ;;&
    --packets) count "$1" "$2" 1 100000000; packets=$2; shift 2 ;;
    --concurrency) count "$1" "$2" 1 50000000; concurrency=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --wirestate) ws=$2; shift 2 ;;
    --wsgen) wsgen=$2; shift 2 ;;
    --capture) capture=$2; shift 2 ;;
    --runs) count "$1" "$2" 1 1000; runs=$2; shift 2 ;;
    --head-to-head) count "$1" "$2" 0 1000; h2h=$2; shift 2 ;;
    *) die "unknown option $1" ;;
  esac
done
[ -x "$ws" ] || die "--wirestate $ws: no such executable (build with scripts/build.sh)"
if [ -n "$capture" ]; then
  [ -f "$capture" ] && [ -r "$capture" ] || die "--capture $capture: no such readable file"
else
  [ -x "$wsgen" ] || die "--wsgen $wsgen: no such executable (build with scripts/build.sh)"
fi
mkdir -p "$out" 2>/dev/null || die "--out $out: cannot create the directory"

# ---- the peers ------------------------------------------------------------------
need=()
for pair in softflowd:softflowd nfpcapd:nfdump argus:argus-server ra:argus-client tcptrace:tcptrace \
            tshark:tshark editcap:wireshark-common; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "# installing ${need[*]}" >&2
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# ---- the captures ---------------------------------------------------------------
if [ -z "$capture" ]; then
  capture="$out/peers-${packets}p.pcap"
  [ -f "$capture" ] || "$wsgen" "$capture" --packets "$packets" --concurrency "$concurrency" \
      --ipv6-fraction 0.1 --truth "$out/peers-${packets}p.truth.tsv" --seed 1 2>&1 | sed 's/^/# /' >&2
fi
cut96="${capture%.pcap}-s96.pcap"
[ -f "$cut96" ] || editcap -s 96 "$capture" "$cut96"
frames=$(capinfos -c -M "$capture" | awk '/Number of packets/ {print $NF}')
truth=""
[ -f "${capture%.pcap}.truth.tsv" ] && truth=$(( $(wc -l < "${capture%.pcap}.truth.tsv") - 1 ))

# Distinct unordered TCP 4-tuples in "saddr sport daddr dport" lines on stdin.
count_tuples() {
  /usr/bin/python3 -c '
import sys
s = set()
for line in sys.stdin:
    f = line.split()
    if len(f) >= 4:
        a, b = (f[0], f[1]), (f[2], f[3])
        s.add((a, b) if a <= b else (b, a))
print(len(s))'
}

# Each runner: $1 = capture, $2 = scratch dir; runs the tool under `timed` (which
# leaves the wall time in $2/wall) and prints the connection count.
limit=${PEERS_TIMEOUT:-120}
timed() {
  local dir=$1; shift
  local t0 t1 rc=0
  t0=$(date +%s.%N)
  timeout -s KILL "$limit" "$@" || rc=$?
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l > "$dir/wall"
  [ "$rc" -eq 137 ] && echo "timeout" > "$dir/wall"
  return 0
}
# The median of the numbers among the words of $1 (nothing when there are none).
median() { printf '%s\n' $1 | grep -E '^[0-9.]+$' | sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]}'; }
# softflowd's flow limit (-m): beyond it flows are force-expired, and a connection
# split in two is counted twice (its default, 8192, reports 44,799 flows for the
# 1M-packet capture's 32,404 connections); its time grows with the limit too (4M:
# 4.0 s on the 96-byte cut instead of 0.4 s). The smallest power of two at least
# four times the connections live at once holds every flow.
sf_max=8192
while [ "$sf_max" -lt $(( 4 * concurrency )) ]; do sf_max=$(( sf_max * 2 )); done
run_softflowd() {
  local port=$(( 20000 + RANDOM % 20000 ))
  mkdir -p "$2/nf"
  # A 4 MiB receive buffer (as far as net.core.rmem_max allows): softflowd sends the
  # whole export (about 3 MB) at once at the end, and the default buffer lost a third.
  nfcapd -p "$port" -b 127.0.0.1 -w "$2/nf" -t 3600 -B 4194304 >/dev/null 2>&1 & local col=$!
  sleep 0.5
  # -c none: no control socket. With one, softflowd 1.1.0 reading a file skips its
  # poll() but still tests the socket's (unset) revents, and blocks in accept().
  timed "$2" softflowd -r "$1" -n "127.0.0.1:$port" -v 9 -6 -d -m "$sf_max" -c none -p "$2/sf.pid" \
      >/dev/null 2>&1
  sleep 1; kill -TERM "$col" 2>/dev/null; wait "$col" 2>/dev/null || true
  nfdump -R "$2/nf" -q -o 'fmt:%sa %sp %da %dp' 'proto tcp' 2>/dev/null | count_tuples
}
run_nfpcapd() {
  mkdir -p "$2/nfp"
  timed "$2" nfpcapd -r "$1" -w "$2/nfp" >/dev/null 2>&1
  nfdump -R "$2/nfp" -q -o 'fmt:%sa %sp %da %dp' 'proto tcp' 2>/dev/null | count_tuples
}
run_argus() {
  timed "$2" argus -r "$1" -w "$2/a.argus" >/dev/null 2>&1
  ra -n -r "$2/a.argus" -c ' ' -s saddr sport daddr dport - tcp 2>/dev/null | count_tuples
}
run_tcptrace() {
  timed "$2" sh -c 'tcptrace -n "$1" > "$2/tcptrace.txt" 2>/dev/null' sh "$1" "$2"
  grep -cE '^ *[0-9]+: ' "$2/tcptrace.txt" || true
}
run_tshark() {
  timed "$2" sh -c 'tshark -q -n -r "$1" -z conv,tcp > "$2/tshark.txt" 2>/dev/null' sh "$1" "$2"
  grep -c '<->' "$2/tshark.txt" || true
}
run_wirestate() {  # the default reader: frames in place from the mapped file
  timed "$2" "$ws" replay "$1" --conn-log "$2/conn.log" --stats-json "$2/ws.json" --no-summary --workers 1 \
      >/dev/null 2>&1
  /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records_written"])' "$2/ws.json"
}
run_wirestate2() {  # two workers: worker 0 reads the file and hands the other its flows
  timed "$2" "$ws" replay "$1" --conn-log "$2/conn.log" --stats-json "$2/ws.json" --no-summary --workers 2 \
      >/dev/null 2>&1
  /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records_written"])' "$2/ws.json"
}
run_wirestate_pmd() {
  timed "$2" "$ws" replay "$1" --reader pcap-pmd --conn-log "$2/conn.log" --stats-json "$2/ws.json" --no-summary \
      --workers 1 >/dev/null 2>&1
  /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records_written"])' "$2/ws.json"
}
run_mmap() {
  timed "$2" "$ws" replay "$1" --rx-only --conn-log /dev/null --no-summary --workers 1 >/dev/null 2>&1
  echo "-"
}
run_pmd() {
  timed "$2" "$ws" replay "$1" --reader pcap-pmd --rx-only --conn-log /dev/null --no-summary --workers 1 \
      >/dev/null 2>&1
  echo "-"
}

if [ "$h2h" -gt 0 ]; then
  declare -A times
  for variant in full s96; do
    f=$capture; [ "$variant" = s96 ] && f=$cut96
    for ((k = 0; k < h2h; ++k)); do
      for tool in softflowd nfpcapd wirestate; do
        scratch=$(mktemp -d "$out/run-XXXXXX")
        "run_$tool" "$f" "$scratch" >/dev/null 2>&1 || true
        times[$tool-$variant]+="$(cat "$scratch/wall" 2>/dev/null || echo failed) "
        rm -rf "$scratch"
      done
    done
  done
  # "median s (min-max)" of the numeric runs, and how many of them did not finish.
  summary() {
    printf '%s\n' $1 | awk '/^[0-9.]+$/ {v[++n] = $1; next} {bad++}
      END {
        if (n == 0) { print "did not finish"; exit }
        for (i = 1; i <= n; ++i) for (j = i + 1; j <= n; ++j) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
        printf "%.3f s (%.3f-%.3f)%s", v[int((n + 1) / 2)], v[1], v[n], bad ? ", " bad " did not finish" : ""
      }'
  }
  echo
  echo "Capture: $(basename "$capture"), $frames packets; cut: editcap -s 96. $h2h rounds, the three in turn."
  echo "Measured with $(/usr/bin/python3 "$root/bench/benchinfo.py")."
  echo
  echo "| | full size | 96-byte cut |"
  echo "|---|---|---|"
  for tool in softflowd nfpcapd wirestate; do
    echo "| $tool | $(summary "${times[$tool-full]}") | $(summary "${times[$tool-s96]}") |"
  done
  # The goals (issue 6: >= 2x the fastest peer at full size, >= 5x on the cut), from the medians.
  echo
  for variant in full s96; do
    ws_s=$(median "${times[wirestate-$variant]}")
    sf_s=$(median "${times[softflowd-$variant]}"); nf_s=$(median "${times[nfpcapd-$variant]}")
    awk -v v="$variant" -v w="$ws_s" -v s="$sf_s" -v n="$nf_s" 'BEGIN {
      name = v == "full" ? "full size" : "96-byte cut"; goal = v == "full" ? 2 : 5
      if (w == "" || (s == "" && n == "")) { print name ": no ratio (a tool did not finish)"; exit }
      peer = "softflowd"; p = s + 0
      if (s == "" || (n != "" && n + 0 < p)) { peer = "nfpcapd"; p = n + 0 }
      printf "%s: wirestate %.1fx the fastest peer (%s), goal >= %dx\n", name, p / w, peer, goal }'
  done
  exit 0
fi

declare -A result wall_of
tools=(softflowd nfpcapd argus tcptrace tshark wirestate wirestate2 wirestate_pmd mmap pmd)
for tool in "${tools[@]}"; do
  for variant in full s96; do
    f=$capture; [ "$variant" = s96 ] && f=$cut96
    # The median of $runs runs (single runs of a half-second job vary by 30% or
    # more on a shared VM); a tool that times out or fails is not run again.
    walls=()
    for ((k = 0; k < runs; ++k)); do
      scratch=$(mktemp -d "$out/run-XXXXXX")
      n=$("run_$tool" "$f" "$scratch" 2>/dev/null || echo "failed")
      wall=$(cat "$scratch/wall" 2>/dev/null || echo "failed")
      rm -rf "$scratch"
      [ "$wall" = timeout ] || [ "$wall" = failed ] && break
      walls+=("$wall")
    done
    if [ ${#walls[@]} -gt 0 ] && [ "$wall" != timeout ] && [ "$wall" != failed ]; then
      wall=$(median "${walls[*]}")
    fi
    if [ "$wall" = timeout ] || [ "$wall" = failed ]; then
      result[$tool-$variant]="$wall (> ${limit} s) | - | ${n:--}"
    else
      wall_of[$tool-$variant]=$wall
      mpps=$(echo "$frames / $wall / 1000000" | bc -l)
      result[$tool-$variant]=$(printf "%.2f | %.2f | %s" "$wall" "$mpps" "${n:--}")
    fi
    echo "# $tool $variant: ${result[$tool-$variant]} (runs: ${walls[*]:-none})" >&2
  done
done

declare -A label=(
  [softflowd]="softflowd -r (NetFlow v9 to nfcapd)" [nfpcapd]="nfpcapd -r (nfdump)"
  [argus]="argus -r" [tcptrace]="tcptrace -n" [tshark]="tshark -q -z conv,tcp"
  [wirestate]="wirestate replay (1 worker)" [wirestate2]="wirestate replay --workers 2" [wirestate_pmd]="wirestate replay --reader pcap-pmd (1 worker)"
  [mmap]="mapped-file reader alone (wirestate replay --rx-only)"
  [pmd]="pcap PMD alone (wirestate replay --reader pcap-pmd --rx-only)")
echo
echo "Capture: $(basename "$capture"), $frames packets${truth:+, $truth TCP connections (wsgen ground truth)};" \
     "cut: editcap -s 96."
echo "Measured with $(/usr/bin/python3 "$root/bench/benchinfo.py")."
echo
echo "| tool | full: wall s | Mpps | TCP connections | 96 B: wall s | Mpps | TCP connections |"
echo "|---|---|---|---|---|---|---|"
for tool in "${tools[@]}"; do
  echo "| ${label[$tool]} | ${result[$tool-full]} | ${result[$tool-s96]} |"
done
# Each replay against its reader's own ceiling on the same file (the issue's "pipeline
# at >= 80% of the raw PMD ceiling", read on a finite file): packets per second of the
# whole command, as a share of the same reader doing receive-and-free only.
echo
for variant in full s96; do
  awk -v v="$variant" -v ws="${wall_of[wirestate-$variant]}" -v pmdws="${wall_of[wirestate_pmd-$variant]}" \
      -v mmap="${wall_of[mmap-$variant]}" -v pmd="${wall_of[pmd-$variant]}" 'BEGIN {
    name = v == "full" ? "full size" : "96-byte cut"
    line = name ":"
    if (ws != "" && pmd != "") line = line sprintf(" wirestate replay %.0f%% of the pcap PMD alone", 100 * pmd / ws)
    if (ws != "" && mmap != "") line = line sprintf(", %.0f%% of its own reader alone", 100 * mmap / ws)
    if (pmdws != "" && pmd != "") line = line sprintf("; through the pcap PMD (--reader pcap-pmd) %.0f%% of it", 100 * pmd / pmdws)
    if (line == name ":") line = line " no ratio (a run did not finish)"
    print line }'
done
