#!/usr/bin/env bash
# Runs every benchmark, each with its peer side by side where it has one.
# Figures go to stdout; docs/performance.md records them with this command.
set -euo pipefail
cd "$(dirname "$0")/.."
export DMP_BUILD_DIR="${DMP_BUILD_DIR:-$PWD/build}"
for b in bench/*/run.sh bench/*/run.py; do
    [ -e "$b" ] || continue
    echo "== $b"
    case "$b" in
        *.py) python3 "$b" ;;
        *) bash "$b" ;;
    esac
done
