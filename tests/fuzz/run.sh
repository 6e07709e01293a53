#!/usr/bin/env bash
# Builds the fuzz targets beside this script with clang's libFuzzer, AddressSanitizer
# and UndefinedBehaviorSanitizer (the core library's sources, no DPDK) and runs each
# for a fixed time from its seeds. Exit 0 when no target failed; otherwise the
# failing input is left in the build directory, with the command that replays it.
#
# usage: tests/fuzz/run.sh [--seconds N (20)] [--build DIR (build-fuzz)] [TARGET...]
#   TARGET: shard, fast_path, capture (default: all three)
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/tests/fuzz"
seconds=20
build="$root/build-fuzz"
targets=()
die() { echo "fuzz: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) [ $# -ge 2 ] || die "--seconds needs a value"
               [[ "$2" =~ ^[1-9][0-9]{0,4}$ ]] || die "--seconds: $2 is not a whole number of seconds in [1, 99999]"
               seconds="$2"; shift 2 ;;
    --build) [ $# -ge 2 ] || die "--build needs a directory"; build="$2"; shift 2 ;;
    shard|fast_path|capture) targets+=("$1"); shift ;;
    *) die "unknown argument $1 (usage: tests/fuzz/run.sh [--seconds N] [--build DIR] [shard|fast_path|capture]...)" ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(shard fast_path capture)
cxx="${FUZZ_CXX:-clang++-14}"
command -v "$cxx" >/dev/null || die "$cxx not found (scripts/install-deps.sh installs clang-14 and libclang-rt-14-dev)"

# Assertions stay on (no NDEBUG): the tracker's own checks are part of what is fuzzed.
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -fno-omit-frame-pointer -I"$root/src" -I"$here")
mkdir -p "$build/obj" || die "cannot create $build"
rm -f "$build"/obj/*.o  # none left over from a source since renamed
echo "fuzz: building with $cxx in $build"
# The core's sources once (-fsanitize=fuzzer on them adds coverage only), two at a time.
built=0
for src in "$root"/src/*/*.cpp; do
  "$cxx" "${flags[@]}" -c "$src" -o "$build/obj/$(basename "$src" .cpp).o" &
  if [ "$(jobs -rp | wc -l)" -ge 2 ]; then wait -n || built=1; fi
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || built=1; done
[ $built -eq 0 ] || die "the core did not build"
for t in "${targets[@]}"; do
  libs=()
  [ "$t" = capture ] && libs=(-lpcap)  # the oracle it compares the reader with
  "$cxx" "${flags[@]}" "$here/fuzz_$t.cpp" "$build"/obj/*.o "${libs[@]}" -o "$build/fuzz_$t" || die "fuzz_$t did not build"
done

case_of() { case "$1" in capture) echo capture ;; *) echo segments ;; esac; }
# The capture target also starts from the damaged captures of the pipeline-hostile test.
more_seeds() { [ "$1" = capture ] && echo "$root/tests/pcaps/hostile"; }
failed=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  mkdir -p "$corpus"
  echo "fuzz: $t for ${seconds}s from tests/fuzz/seeds/$(case_of "$t")$([ "$t" = capture ] && echo " and tests/pcaps/hostile")"
  # New inputs go to the build directory's corpus; the committed seeds are only read.
  if "$build/fuzz_$t" "$corpus" "$here/seeds/$(case_of "$t")" $(more_seeds "$t") -max_total_time="$seconds" -max_len=4096 \
       -len_control=0 -seed=1 -print_final_stats=1 -artifact_prefix="$build/$t-" >"$build/$t.log" 2>&1; then
    grep -E "^stat::(number_of_executed_units|new_units_added)" "$build/$t.log" | tr '\n' ' '
    echo
  else
    failed=1
    grep -B2 -A30 -E "ERROR|runtime error|check failed" "$build/$t.log" | head -60
    echo "fuzz: $t FAILED; input: $(ls -t "$build/$t-"* 2>/dev/null | head -1); replay: $build/fuzz_$t INPUT"
  fi
done
exit $failed
