#!/usr/bin/env bash
# bench/evlog/run.sh -- durable append throughput of the event log (src/evlog/), with the
# peer baseline (write + fdatasync per call, no group commit) run side by side.
# Usage: bash bench/evlog/run.sh [SECONDS]   (default 3 s per line; results on stdout)
# Env: BUILD=build (where libdmpcore.a is), BENCH_DIR=/tmp (where the logs are written).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-3}
BUILD=${BUILD:-build}
WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/bench-evlog-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
BIN=$WORK/bench_evlog
CFLAGS="-std=c11 -O2 -D_GNU_SOURCE -Iinclude -Isrc"
if [ -f "$BUILD/libdmpcore.a" ] && \
   cc $CFLAGS -o "$BIN" bench/evlog/bench_evlog.c "$BUILD/libdmpcore.a" \
      $(pkg-config --libs libfyaml jansson libpcre2-8 sqlite3 libmicrohttpd libcurl) \
      -lpthread -lm 2>/dev/null; then
    :
else
    # The library may not build while other modules are in flux: compile what we need.
    cc $CFLAGS -o "$BIN" bench/evlog/bench_evlog.c src/evlog/*.c src/core/*.c -lpthread -lm
fi
echo "# evlog bench: $(date -u +%FT%TZ), $(nproc) cores, ${SECS}s per line, 400-byte records, dir $WORK"
echo "# filesystem: $(df -T "$WORK" | awk 'NR==2{print $2" on "$1}')"
run() { rm -rf "$WORK/log"; mkdir -p "$WORK/log"; "$BIN" "$WORK/log" "$@"; }
for t in 1 4 16 64; do
    run raw "$t" "$SECS" 400 1
    run evlog "$t" "$SECS" 400 1
done
run raw 1 "$SECS" 400 1000
run evlog 1 "$SECS" 400 1000
run evlog 4 "$SECS" 400 1000
