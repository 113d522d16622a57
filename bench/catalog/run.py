#!/usr/bin/env python3
"""bench/catalog -- the catalog at scale (docs/performance.md, "Catalog").

Seeds a fresh `dmp serve` with N products of 3 stream ports each (default 10,000) through
POST /v1/register, the first 1,000 of which form a lineage tree; then measures:

  - search p50/p99 over HTTP (one keep-alive connection, mixed one- and two-term queries,
    prefix terms and schema field names), target p99 < 10 ms;
  - lineage of the 1,000-node tree (GET /v1/lineage, direction=down, depth=32), target
    < 50 ms;
  - cold `dmp serve` start on the populated data dir: exec to the first 200 from /readyz,
    target < 200 ms.

Usage: python3 bench/catalog/run.py [--products N] [--queries N] [--keep DIR]
Results are printed and written to bench/out/catalog.json. Stdlib only.
"""
import argparse
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("DMP_BUILD_DIR") or os.path.join(ROOT, "build")
DMP = os.path.join(BUILD, "dmp")

WORDS = ("customer order payment invoice shipment visitor gate hall sensor reading amount "
         "currency region store product basket discount refund ticket session device account "
         "balance ledger stock warehouse route driver vehicle meter tariff energy weather "
         "station flight booking passenger seat airport claim policy premium patient visit "
         "clinic dose sample batch lot supplier contract").split()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(data_dir, port):
    t0 = time.perf_counter()
    proc = subprocess.Popen([DMP, "serve", "--listen", "127.0.0.1:%d" % port, "--data-dir",
                             data_dir, "--log-level", "warn"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/readyz")
            if c.getresponse().status == 200:
                c.close()
                return proc, (time.perf_counter() - t0) * 1000
        except OSError:
            pass
        if proc.poll() is not None:
            sys.exit("dmp serve exited with %s" % proc.returncode)
        if time.perf_counter() - t0 > 30:
            sys.exit("dmp serve did not become ready")
        time.sleep(0.001)


def stop(proc):
    proc.terminate()
    proc.wait(timeout=30)


def descriptor(i, rng):
    up = (i - 1) // 2 if 0 < i < 1000 else None
    ports = []
    for p in range(3):
        fields = rng.sample(WORDS, 5)
        props = ",".join('"%s_%d":{"type":"string","description":"the %s of %s"}' %
                         (f, i % 97, f, rng.choice(WORDS)) for f in fields)
        ports.append('{"name":"port%d","type":"stream","visibility":"public",'
                      '"description":"%s events","schema":{"type":"object","properties":{%s}}}'
                      % (p, rng.choice(WORDS), props))
    inputs = ""
    if up is not None:
        inputs = (',"inputPorts":[{"name":"in","product":"bench.d%d/p%d","port":"port0"}]'
                  % (up % 50, up))
    return ('{"name":"p%d","domain":"bench.d%d","version":"1.%d.0","owner":"team-%d",'
            '"description":"Product %d about %s and %s","tags":["%s","t%d"],'
            '"outputPorts":[%s]%s}' % (i, i % 50, i % 7, i % 40, i, rng.choice(WORDS),
                                       rng.choice(WORDS), rng.choice(WORDS), i % 20,
                                       ",".join(ports), inputs))


def cpu_ms(pid):
    """User+system CPU time of a process so far, in ms (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=10000)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--keep", help="reuse/keep this data dir (seeded once)")
    ap.add_argument("--rounds", type=int, default=3, help="search rounds (each reported)")
    a = ap.parse_args()
    if not os.path.exists(DMP):
        sys.exit("build dmp first (make): %s not found" % DMP)
    rng = random.Random(42)
    data = a.keep or tempfile.mkdtemp(prefix="dmp-bench-catalog-")
    port = free_port()
    proc, _ = start(data, port)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(method, path, body=None):
        nonlocal c
        for attempt in (0, 1):
            try:
                c.request(method, path, body=body,
                          headers={"Content-Type": "application/json"} if body else {})
                r = c.getresponse()
                return r.status, r.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if attempt:
                    raise
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    st, body = call("GET", "/v1/search?limit=1")
    seeded = st == 200 and json.loads(body)["results"]
    seed_s = None
    if not seeded:
        t0 = time.perf_counter()
        for i in range(a.products):
            st, body = call("POST", "/v1/register", descriptor(i, rng))
            if st != 201:
                sys.exit("register p%d: %d %s" % (i, st, body[:300]))
        seed_s = time.perf_counter() - t0
        print("seeded %d products x 3 ports in %.1f s (%.2f ms each)" %
              (a.products, seed_s, seed_s * 1000 / a.products))

    # Search: one- and two-term queries, whole words and prefixes, field names.
    queries = []
    for _ in range(a.queries):
        w = rng.choice(WORDS)
        kind = rng.random()
        if kind < 0.3:
            queries.append(w)
        elif kind < 0.55:
            queries.append(w[:3])
        elif kind < 0.8:
            queries.append("%s %s" % (w, rng.choice(WORDS)))
        else:
            queries.append("%s_%d" % (w, rng.randrange(97)))
    for q in queries[:50]:  # warm-up
        call("GET", "/v1/search?q=" + q.replace(" ", "+"))
    # Rounds: the machine is shared, so one round's p99 can be another process's stall.
    rounds = []
    for rnd in range(a.rounds):
        lat, hits = [], 0
        cpu0 = cpu_ms(proc.pid)
        for q in queries:
            t0 = time.perf_counter()
            st, body = call("GET", "/v1/search?q=" + q.replace(" ", "+"))
            lat.append((time.perf_counter() - t0) * 1000)
            if st != 200:
                sys.exit("search %r: %d" % (q, st))
            hits += bool(json.loads(body)["results"])
        r = {"queries": len(lat), "with_results": hits, "p50_ms": round(pct(lat, 50), 3),
             "p99_ms": round(pct(lat, 99), 3), "max_ms": round(max(lat), 3),
             "load1": round(os.getloadavg()[0], 2),
             "server_cpu_ms_per_query": round((cpu_ms(proc.pid) - cpu0) / len(lat), 3)}
        rounds.append(r)
        print("search over HTTP, round %d: %d queries (%d with results), p50 %.2f ms, "
              "p99 %.2f ms, max %.2f ms; server CPU %.2f ms/query (load average %.1f)"
              % (rnd + 1, len(lat), hits, r["p50_ms"], r["p99_ms"], r["max_ms"],
                 r["server_cpu_ms_per_query"], r["load1"]))
    search = {"rounds": rounds,
              "median_p50_ms": statistics.median(r["p50_ms"] for r in rounds),
              "median_p99_ms": statistics.median(r["p99_ms"] for r in rounds)}
    print("search: median of rounds p50 %.2f ms, p99 %.2f ms" %
          (search["median_p50_ms"], search["median_p99_ms"]))

    # Lineage of the 1,000-node tree rooted at p0.
    llat, nodes = [], 0
    cpu0 = cpu_ms(proc.pid)
    for _ in range(25):
        t0 = time.perf_counter()
        st, body = call("GET", "/v1/lineage/bench.d0/p0?direction=down&depth=32")
        llat.append((time.perf_counter() - t0) * 1000)
        g = json.loads(body)
        nodes = len(g["nodes"])
    lineage = {"nodes": nodes, "edges": len(g["edges"]), "p50_ms": round(statistics.median(llat), 3),
               "max_ms": round(max(llat), 3),
               "server_cpu_ms": round((cpu_ms(proc.pid) - cpu0) / len(llat), 2)}
    print("lineage of a %d-node graph over HTTP: p50 %.2f ms, max %.2f ms; server CPU %.1f ms"
          % (nodes, lineage["p50_ms"], lineage["max_ms"], lineage["server_cpu_ms"]))
    c.close()
    stop(proc)

    # Cold start on the populated data dir.
    starts = []
    for _ in range(7):
        proc, ms = start(data, free_port())
        starts.append(ms)
        stop(proc)
    cold = {"runs": len(starts), "median_ms": round(statistics.median(starts), 2),
            "max_ms": round(max(starts), 2)}
    print("cold dmp serve start (exec to /readyz 200, %d products): median %.1f ms, max %.1f ms"
          % (a.products, cold["median_ms"], cold["max_ms"]))
    size = sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data)
               if f.startswith("catalog.db"))
    out = {"products": a.products, "ports_per_product": 3, "seed_s": seed_s,
           "catalog_db_bytes": size, "search": search, "lineage": lineage, "cold_start": cold}
    os.makedirs(os.path.join(ROOT, "bench", "out"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "out", "catalog.json"), "w") as f:
        json.dump(out, f, indent=2)
    print("catalog.db and WAL: %.1f MB" % (size / 1e6))
    if not a.keep:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
