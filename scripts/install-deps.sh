#!/usr/bin/env bash
# install-deps.sh [--run]: installs everything conec needs to build and test
# on Debian 12 (bookworm) from Debian's own packages; with --run only what
# building the conec binary needs (-DCONEC_TESTS=OFF -DCONEC_BENCH=OFF: no
# Catch2, clang or test tools). Idempotent: when every package is already
# installed it touches nothing and exits in well under a second. Run as root
# (or with sudo available).
set -euo pipefail

run_only=0
case "${1:-}" in
  "") ;;
  --run) run_only=1 ;;
  *) echo "usage: install-deps.sh [--run]" >&2; exit 2 ;;
esac

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config
  # libraries (see cmake/Dependencies.cmake)
  libngtcp2-dev libngtcp2-crypto-gnutls-dev libgnutls28-dev libuv1-dev libcli11-dev libspdlog-dev
)
if ((!run_only)); then
  packages+=(
    git catch2
    # libFuzzer (scripts/fuzz.sh)
    clang libclang-rt-14-dev
    # the API reference check (docs/Doxyfile)
    doxygen
    # tools used by the CLI, netlab and benchmark tests
    iperf3 openssh-server openssh-client iproute2 iptables nftables conntrack python3 rsync ncat
  )
fi

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == installed ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi

echo "install-deps: installing ${#missing[@]} missing package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: done"
