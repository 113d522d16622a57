#!/usr/bin/env bash
# bench/schema/run.sh -- schema validation throughput: dmp vs ajv, side by side, one core.
#
# Generates the mixed corpora with shared/bench/gen_instances.py (10% invalid), builds the
# dmp bench program (-O2, from src/schema and src/core), installs ajv from the lock file
# (npm ci), then for each bench schema runs dmp and ajv on the same corpus and prints
# docs/s and the ratio. Each runner is pinned to one CPU with taskset when available.
#
#   bash bench/schema/run.sh [N_DOCS] [SECONDS] [ROUNDS]   (defaults: 20000 docs, 2 s, 3)
# Environment: DMP_SHARED_DIR (default: <repo>/../shared), CC (default: cc).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(git -C "$here" rev-parse --show-toplevel)"
shared="${DMP_SHARED_DIR:-$repo/../shared}"
n="${1:-20000}"
secs="${2:-2}"
rounds="${3:-3}"
out="$repo/bench/out/schema"
mkdir -p "$out"
[ -f "$shared/bench/gen_instances.py" ] || { echo "no $shared/bench/gen_instances.py" >&2; exit 1; }

pin=""
command -v taskset >/dev/null 2>&1 && pin="taskset -c 0"

# 1. corpora
python3 "$shared/bench/gen_instances.py" identity "$n" --invalid-ratio 0.1 --seed 7 \
    --out "$out/identity.ndjson" --labels "$out/identity.labels"
python3 "$shared/bench/gen_instances.py" order "$n" --invalid-ratio 0.1 --seed 7 \
    --out "$out/order.ndjson" --labels "$out/order.labels"

# 2. our runner
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -I"$repo/include" -I"$repo/src" \
    "$here/bench_schema.c" "$repo"/src/schema/*.c "$repo"/src/core/*.c \
    -o "$out/bench_schema" -lpcre2-8 -ljansson -lm -lpthread

# 3. the peer
if [ ! -d "$here/node_modules/ajv" ]; then
    (cd "$here" && npm ci --no-audit --no-fund >/dev/null)
fi
ajv_version="$(node -p "require('$here/node_modules/ajv/package.json').version")"

printf '%-12s %14s %14s %8s  %s\n' schema "dmp docs/s" "ajv docs/s" ratio "verdicts"
for pair in identity:identity order:order-event; do
    corpus="${pair%%:*}"
    schema="$shared/bench/schemas/${pair##*:}.schema.json"
    # alternate the two runners $rounds times and keep each one's best run, so that load
    # from other processes on the machine hits both sides alike
    ours=0 theirs=0
    for _ in $(seq "$rounds"); do
        read -r o v i mism < <($pin "$out/bench_schema" "$schema" "$out/$corpus.ndjson" "$secs" \
                                    "$out/$corpus.labels")
        read -r t av ai < <($pin node "$here/bench_ajv.js" "$schema" "$out/$corpus.ndjson" "$secs")
        [ "$o" -gt "$ours" ] && ours=$o
        [ "$t" -gt "$theirs" ] && theirs=$t
    done
    ratio="$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2fx", a / b }')"
    verdicts="dmp $v valid/$i invalid, ajv $av/$ai, label mismatches $mism"
    printf '%-12s %14s %14s %8s  %s\n' "${pair##*:}" "$ours" "$theirs" "$ratio" "$verdicts"
done
echo "(ajv $ajv_version, JSON.parse + validate, validateFormats: false; dmp parse + validate," \
     "fail-fast; $n docs, 10% invalid, best of $rounds alternating ${secs}s runs, one core)"
