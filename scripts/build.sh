#!/usr/bin/env bash
# Configures (once) and builds wirestate in ./build. Used by the quick start.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=release >/dev/null
fi
jobs=$(nproc 2>/dev/null || echo 2)
ninja -C build -j "$jobs" | tail -n 1
