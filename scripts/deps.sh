#!/usr/bin/env bash
# Installs the Debian packages dmp needs to build, test and benchmark.
# Idempotent: installs only what is missing. Uses sudo when not root.
set -euo pipefail

BUILD_PKGS="build-essential cmake pkg-config git ca-certificates curl python3 \
 libfyaml-dev libjansson-dev libpcre2-dev libsqlite3-dev sqlite3 libmicrohttpd-dev \
 libcurl4-openssl-dev libcmocka-dev libgnutls28-dev libjwt-dev"
TEST_PKGS="clang libclang-rt-14-dev nodejs npm chromium graphviz gnutls-bin"
BENCH_PKGS="wrk nginx-light nats-server hyperfine libnats-dev"

want="$BUILD_PKGS"
case "${1:-build}" in
    build) ;;
    test)  want="$want $TEST_PKGS" ;;
    bench) want="$want $TEST_PKGS $BENCH_PKGS" ;;
    *) echo "usage: $0 [build|test|bench]" >&2; exit 64 ;;
esac

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# The machine may ship node/npm outside Debian's packages; accept those.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    missing=$(echo "$missing" | tr ' ' '\n' | grep -vxE 'nodejs|npm' | tr '\n' ' ')
fi
missing=$(echo $missing)
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps: installing $missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || true
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
