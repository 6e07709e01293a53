#!/usr/bin/env bash
# Installs every Debian 12 package wirestate needs to build, test and benchmark.
# Idempotent: re-running only installs what is missing. Used verbatim by the README,
# .ci/run and docker/Dockerfile so none of them can drift from the others.
set -euo pipefail

packages=(
  # build
  g++ meson ninja-build pkg-config
  # libraries (README: "Dependencies")
  libdpdk-dev dpdk libspdlog-dev libfmt-dev libpcap-dev libgtest-dev libbenchmark-dev libtomlplusplus-dev
  # integration tests: real kernel TCP in network namespaces, captures, helpers
  iproute2 ethtool tcpdump tshark python3 curl procps
  # benchmarks that CI checks: instruction counts (bench/instructions)
  valgrind
  # fuzz targets (tests/fuzz/run.sh): libFuzzer, AddressSanitizer, UBSan
  clang-14 libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer for it.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
