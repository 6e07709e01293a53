#!/usr/bin/env bash
# Quick start 1: install what is needed, build, and replay the bundled capture through
# DPDK's pcap PMD (no NIC, no hugepages), printing the per-connection table and the
# state summary. The conn.log lands in ./out/conn.log.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
mkdir -p out
exec build/pipeline/wirestate replay tests/pcaps/scenarios.pcap \
  --conn-log out/conn.log --stats-json out/stats.json --table 50 "$@"
