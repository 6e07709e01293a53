#!/usr/bin/env bash
# Quick start 2: install what is needed, build, and run every test (unit tests, the
# Zeek conformance replay, the pipeline integration tests). Ends with the runner's
# summary line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh || exit 1
bash scripts/build.sh || exit 1
meson test -C build --print-errorlogs --num-processes 1
rc=$?
log=build/meson-logs/testlog.json
if [ -f "$log" ]; then
  /usr/bin/python3 - "$log" <<'PY'
import json, sys
ok = bad = skip = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"): ok += 1
    elif r == "SKIP": skip += 1
    else: bad += 1
print(f"tests: {ok} passed, {bad} failed" + (f", {skip} skipped" if skip else ""))
PY
fi
exit $rc
