#!/usr/bin/env python3
"""Provisioning benchmark (issue: foundation).

Applies N products of 3 resources each (built-in dmp-files provisioner) through the
HTTP API of a real `dmp serve` on the embedded default, waits until every product is
CREATED, and reports products per second. Then times M no-change `dmp plan` runs of
one product (the whole CLI process: read, validate, HTTP round trip) and reports
p50/p99.

usage: bench/provision/run.py [--products N] [--plans M] [--concurrency C]
"""
import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "e2e"))
from dmptest import Server, cli, http, cleanup  # noqa: E402

TEMPLATE = """name: product_{i}
domain: bench.domain{d}
version: 1.0.0
owner: team-bench
description: benchmark product {i}
environment: bench
outputPorts:
  - {{name: raw_files, type: files, owner: team-bench, allow: [readers]}}
  - {{name: curated_files, type: files, owner: team-bench, dependsOn: [raw_files]}}
  - {{name: export_files, type: files, owner: team-bench, dependsOn: [curated_files]}}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=1000)
    ap.add_argument("--plans", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    a = ap.parse_args()

    s = Server()
    try:
        docs = [TEMPLATE.format(i=i, d=i % 20) for i in range(a.products)]
        t0 = time.time()

        def post(doc):
            r = http("POST", s.url + "/v1/dataproduct", doc, "application/yaml")
            if r.status != 202:
                raise RuntimeError("deploy failed: %s %s" % (r.status, r.body))

        with concurrent.futures.ThreadPoolExecutor(a.concurrency) as ex:
            list(ex.map(post, docs))
        accepted = time.time() - t0
        # Wait until every product is CREATED.
        while True:
            r = http("GET", s.url + "/v1/products")
            states = [p["state"] for p in r.body["products"]]
            if len(states) == a.products and all(st == "CREATED" for st in states):
                break
            if any(st in ("FAILED", "NOT_COMPLETED") for st in states):
                raise RuntimeError("a product failed")
            time.sleep(0.05)
        total = time.time() - t0
        print("apply: %d products x 3 resources: accepted in %.2f s, all CREATED in %.2f s "
              "(%.0f products/s)" % (a.products, accepted, total, a.products / total))

        d = tempfile.mkdtemp()
        f = os.path.join(d, "p.yaml")
        with open(f, "w") as fh:
            fh.write(docs[0])
        times = []
        for _ in range(a.plans):
            t = time.perf_counter()
            r = s.cli("plan", f)
            times.append((time.perf_counter() - t) * 1000)
            if r.returncode != 0:
                raise RuntimeError("plan did not report no changes: %s %s" % (r.stdout, r.stderr))
        times.sort()
        p50 = times[len(times) // 2]
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print("plan (no changes, whole CLI process): n=%d p50 %.2f ms p99 %.2f ms" % (a.plans, p50, p99))
        print(json.dumps({"products": a.products, "apply_seconds": round(total, 3),
                          "products_per_second": round(a.products / total, 1),
                          "plan_p50_ms": round(p50, 2), "plan_p99_ms": round(p99, 2)}))
    finally:
        s.stop()
        cleanup()


if __name__ == "__main__":
    main()
