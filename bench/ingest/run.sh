#!/usr/bin/env bash
# Ingest benchmarks, side by side in one run (docs/performance.md, "## Ingest"):
#   1. single-event durable POST, wrk keep-alive, 64 connections: dmp vs nginx (static file)
#   2. batch NDJSON, 1000 order events per request (validated, durable)
#   3. the same order payloads published to nats-server JetStream (file storage, 1 replica)
#   4. fan-out: 10 SSE subscribers at 10k events/s, publish-to-delivery p50/p99
# nginx, nats-server and dmp run on 127.0.0.1 with temp configs and are stopped after.
# DURATION (seconds per measurement, default 10) and DMP_BUILD_DIR may be set.
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
DMP="${DMP_BUILD_DIR:-$HERE/../../build}/dmp"
SHARED="${DMP_SHARED_DIR:-$HERE/../../../shared}"
D="${DURATION:-10}"
T=$(mktemp -d /tmp/dmp-bench-ingest-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
for tool in wrk nginx nats-server; do
    command -v "$tool" >/dev/null || { echo "ingest bench: $tool is missing (scripts/deps.sh bench)"; exit 1; }
done

# dmp with two stream ports: identity (single events) and orders (batches).
DP=$(port)
"$DMP" serve --listen 127.0.0.1:$DP --data-dir "$T/dmp" --log-level warn >"$T/dmp.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:$DP/readyz >/dev/null && break; sleep 0.05; done
python3 - "$DP" "$SHARED" <<'PY'
import json, sys, time, urllib.request
port, shared = sys.argv[1], sys.argv[2]
ident = json.load(open(shared + "/bench/schemas/identity.schema.json"))
order = json.load(open(shared + "/bench/schemas/order-event.schema.json"))
desc = {"name": "bench", "domain": "bench", "version": "1.0.0", "outputPorts": [
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

echo "-- single-event durable ingest vs nginx static file (wrk -t2 -c64 -d${D}s, keep-alive)"
NG_RPS=$(wrk -t2 -c64 -d${D}s "http://127.0.0.1:$NP/tiny.json" | awk '/Requests\/sec/ {print $2}')
DMP_OUT=$(wrk -t2 -c64 -d${D}s -s "$HERE/post.lua" --latency \
          "http://127.0.0.1:$DP/v1/products/bench/bench/ports/identity/events")
DMP_RPS=$(echo "$DMP_OUT" | awk '/Requests\/sec/ {print $2}')
echo "$DMP_OUT" | grep -E "Non-2xx|Socket errors" || true
echo "nginx static: $NG_RPS req/s"
echo "dmp ingest:   $DMP_RPS req/s (each a validated, fdatasync'd event)"
python3 -c "print('ratio dmp/nginx: %.2f (target >= 0.5)' % ($DMP_RPS / $NG_RPS))"
curl -s "http://127.0.0.1:$DP/v1/products/bench/bench/ports/identity/stream" | \
    python3 -c 'import json,sys;s=json.load(sys.stdin)["stats"];print("  appended %d" % s["appended"])'

echo "-- batch NDJSON ingest, 1000 order events/request, 4 connections, ${D}s"
BATCH=$(python3 "$HERE/batch.py" "$DP" /v1/products/bench/bench/ports/orders/events "$T/orders.ndjson" "$D" 4)
echo "dmp batch: $BATCH events/s (target >= 100000)"

echo "-- JetStream publish, same order payloads (file storage, 1 replica, 256 in flight)"
JP=$(port)
cat >"$T/nats.conf" <<NC
listen: 127.0.0.1:$JP
jetstream { store_dir: "$T/js" }
NC
nats-server -c "$T/nats.conf" >"$T/nats.log" 2>&1 &
pids+=($!)
sleep 0.5
python3 - "$JP" <<'PY'
import json, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); f = s.makefile("rb"); f.readline()
cfg = json.dumps({"name": "ORDERS", "subjects": ["orders"], "storage": "file", "num_replicas": 1}).encode()
s.sendall(b'CONNECT {"verbose":false}\r\nSUB _INBOX.c 1\r\nPUB $JS.API.STREAM.CREATE.ORDERS _INBOX.c %d\r\n%s\r\n' % (len(cfg), cfg))
while not f.readline().startswith(b"MSG"): pass
r = f.readline()
if b"error" in r: sys.exit("stream create failed: %r" % r)
PY
JS=$(python3 "$HERE/jetstream.py" "$JP" orders "$T/orders.ndjson" "$D" 256)
echo "JetStream publish: $JS msgs/s (unvalidated; python client)"
python3 -c "print('ratio dmp batch/JetStream: %.2f (target >= 1)' % ($BATCH / $JS))"

echo "-- fan-out: 10 SSE subscribers, 10000 events/s for ${D}s"
python3 "$HERE/fanout.py" "$DP" /v1/products/bench/bench/ports/identity 10 10000 "$D" || \
    echo "fan-out run failed"
