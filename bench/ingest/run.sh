#!/usr/bin/env bash
# Ingest benchmarks, side by side in one run (docs/performance.md, "## Ingest"):
#   1. single-event durable POST, wrk keep-alive, 64 connections: dmp vs nginx (static file)
#   2. batch NDJSON, 1000 order events per request (validated, durable), wrk + batch.lua,
#      4 connections (4000 events in flight)
#   3. the same order payloads published to nats-server JetStream (file storage, 1 replica)
#      by jspub.c (libnats, async publish, 4000 in flight)
#   4. fan-out: 10 SSE subscribers at 10k events/s (fanout.c), publish-to-delivery p50/p99
# nginx, nats-server and dmp run on 127.0.0.1 with temp configs and are stopped after; the
# load generators are C (wrk, jspub, fanout) so they take as little of the 2 cores as we can.
# DURATION (seconds per measurement, default 10), ROUNDS (single-event rounds, default 3)
# and DMP_BUILD_DIR may be set; PARTS picks
# measurements (default "single batch js fanout"). Any non-2xx reply fails the run. dmp
# runs at the default log level: one access-log line per request, as in production.
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
DMP="${DMP_BUILD_DIR:-$HERE/../../build}/dmp"
SHARED="${DMP_SHARED_DIR:-$HERE/../../../shared}"
D="${DURATION:-10}"
ROUNDS="${ROUNDS:-3}"
T=$(mktemp -d /tmp/dmp-bench-ingest-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PARTS="${PARTS:-single batch js fanout}"
want() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
for tool in wrk nginx nats-server cc pkg-config; do
    command -v "$tool" >/dev/null || { echo "ingest bench: $tool is missing (scripts/deps.sh bench)"; exit 1; }
done
pkg-config --exists libnats || { echo "ingest bench: libnats-dev is missing (scripts/deps.sh bench)"; exit 1; }
cc -O2 -pthread "$HERE/fanout.c" -o "$T/fanout"
cc -O2 "$HERE/jspub.c" $(pkg-config --cflags --libs libnats) -o "$T/jspub"
cc -O2 "$HERE/fsync_probe.c" -o "$T/fsync_probe"

# dmp with two stream ports: identity (single events) and orders (batches).
DP=$(port)
"$DMP" serve --listen 127.0.0.1:$DP --data-dir "$T/dmp" --log-level info >"$T/dmp.log" 2>&1 &
DMP_PID=$!
pids+=($DMP_PID)
for _ in $(seq 100); do curl -sf http://127.0.0.1:$DP/readyz >/dev/null && break; sleep 0.05; done
python3 - "$DP" "$SHARED" <<'PY'
import json, sys, time, urllib.request
port, shared = sys.argv[1], sys.argv[2]
ident = json.load(open(shared + "/bench/schemas/identity.schema.json"))
order = json.load(open(shared + "/bench/schemas/order-event.schema.json"))
desc = {"name": "bench", "domain": "bench", "version": "1.0.0", "owner": "bench-team", "outputPorts": [
    {"name": "identity", "type": "stream", "visibility": "public", "schema": ident},
    {"name": "orders", "type": "stream", "visibility": "public", "schema": order}]}
req = urllib.request.Request("http://127.0.0.1:%s/v1/dataproduct" % port, json.dumps(desc).encode(),
                             {"Content-Type": "application/json"})
urllib.request.urlopen(req).read()
for _ in range(200):
    st = json.load(urllib.request.urlopen("http://127.0.0.1:%s/v1/dataproduct/state/default/bench/bench/1.0.0" % port))
    if st["state"] == "CREATED":
        break
    time.sleep(0.05)
else:
    sys.exit("ports not provisioned: %s" % st)
PY
python3 "$SHARED/bench/gen_instances.py" order 1000 --invalid-ratio 0 --seed 7 --out "$T/orders.ndjson"

# nginx serving a tiny static file.
NP=$(port)
mkdir -p "$T/www" "$T/nginx"
echo '{"ok":true}' >"$T/www/tiny.json"
# nginx started as root serves with an unprivileged worker user: the file must be
# readable by it, or every request is a 403 plus an error-log line (as this bench did
# until the check below was added).
chmod 755 "$T" "$T/www"
chmod 644 "$T/www/tiny.json"
cat >"$T/nginx.conf" <<NG
worker_processes 2;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $T/nginx; proxy_temp_path $T/nginx; fastcgi_temp_path $T/nginx;
    uwsgi_temp_path $T/nginx; scgi_temp_path $T/nginx;
    server { listen 127.0.0.1:$NP; root $T/www; keepalive_requests 1000000; }
}
NG
nginx -c "$T/nginx.conf" -g 'daemon off;' &
pids+=($!)
sleep 0.3

# wrk prints "Non-2xx or 3xx responses" when any reply was not 2xx: that is a failed run.
check_2xx() { if echo "$1" | grep -q "Non-2xx"; then echo "$1"; echo "ingest bench: $2 got non-2xx replies"; exit 1; fi; }

# CPU seconds (user+system) a process used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }

if want single; then
    echo "-- disk: 500 x (pwrite 400 bytes + fdatasync) in the data directory (fsync_probe.c)"
    read -r FS_MEAN FS_P50 FS_P99 < <("$T/fsync_probe" "$T/dmp" 500 400)
    echo "fdatasync: mean $FS_MEAN us, p50 $FS_P50 us, p99 $FS_P99 us;" \
         "64 clients, one sync per group: at most $((64 * 1000000 / FS_P50)) acks/s"
    # Rounds alternate nginx and dmp, so drift on the shared machine (other work, the
    # host) hits both alike; each round gives a ratio and the median is the result.
    echo "-- single-event durable ingest vs nginx static file (wrk -t2 -c64 -d${D}s, keep-alive, $ROUNDS rounds)"
    RATIOS=()
    for r in $(seq "$ROUNDS"); do
        NG_OUT=$(wrk -t2 -c64 -d${D}s "http://127.0.0.1:$NP/tiny.json")
        check_2xx "$NG_OUT" "nginx"
        NG_RPS=$(echo "$NG_OUT" | awk '/Requests\/sec/ {print $2}')
        C0=$(cpu_s "$DMP_PID")
        DMP_OUT=$(wrk -t2 -c64 -d${D}s -s "$HERE/post.lua" --latency \
                  "http://127.0.0.1:$DP/v1/products/bench/bench/ports/identity/events")
        C1=$(cpu_s "$DMP_PID")
        check_2xx "$DMP_OUT" "single-event ingest"
        DMP_RPS=$(echo "$DMP_OUT" | awk '/Requests\/sec/ {print $2}')
        LAT=$(echo "$DMP_OUT" | awk '$1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2} END {print "p50 " p50 ", p99 " p99}')
        RATIO=$(python3 -c "print('%.2f' % ($DMP_RPS / $NG_RPS))")
        RATIOS+=("$RATIO")
        python3 -c "print('round $r: nginx %.0f req/s, dmp %.0f req/s (each a validated, fdatasync\'d event; $LAT), ratio %s, dmp CPU %.2f cores, %.1f us per request' % ($NG_RPS, $DMP_RPS, '$RATIO', ($C1 - $C0) / $D, ($C1 - $C0) / $D / $DMP_RPS * 1e6))"
    done
    MED=$(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
    echo "ratio dmp/nginx: median $MED of ${RATIOS[*]} (target >= 0.5)"
    curl -s "http://127.0.0.1:$DP/v1/products/bench/bench/ports/identity/stream" | \
        python3 -c 'import json,sys;s=json.load(sys.stdin)["stats"];print("  appended %d" % s["appended"])'
fi

BATCH=""
if want batch; then
    echo "-- batch NDJSON ingest, 1000 order events/request, wrk -t1 -c4 -d${D}s (4000 events in flight)"
    B_OUT=$(BODY_FILE="$T/orders.ndjson" wrk -t1 -c4 -d${D}s -s "$HERE/batch.lua" --latency \
            "http://127.0.0.1:$DP/v1/products/bench/bench/ports/orders/events")
    check_2xx "$B_OUT" "batch ingest"
    echo "$B_OUT" | grep -E "Socket errors|^ +(50|99)%" || true
    BATCH=$(echo "$B_OUT" | awk '/Requests\/sec/ {printf "%.0f", $2 * 1000}')
    echo "dmp batch: $BATCH events/s (target >= 100000)"
fi

if want js; then
    echo "-- JetStream publish, same order payloads (file storage, 1 replica, async, 4000 in flight)"
    JP=$(port)
    cat >"$T/nats.conf" <<NC
listen: 127.0.0.1:$JP
jetstream { store_dir: "$T/js" }
NC
    nats-server -c "$T/nats.conf" >"$T/nats.log" 2>&1 &
    pids+=($!)
    sleep 0.5
    JS=$("$T/jspub" "nats://127.0.0.1:$JP" orders "$T/orders.ndjson" "$D" 4000)
    echo "JetStream publish: $JS msgs/s (unvalidated; acknowledged before fsync: nats-server $(nats-server --version | awk '{print $2}') syncs on an interval)"
    [ -n "$BATCH" ] && python3 -c "print('ratio dmp batch/JetStream: %.2f (target >= 1)' % ($BATCH / $JS))"
fi

if want fanout; then
    echo "-- fan-out: 10 SSE subscribers, 10000 events/s for ${D}s"
    "$T/fanout" "$DP" /v1/products/bench/bench/ports/identity 10 10000 "$D" || echo "fan-out run failed"
fi
