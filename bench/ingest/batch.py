"""Batch ingest: POST NDJSON bodies of 1000 order events (the shared order-event schema)
to a dmp stream port from N keep-alive connections; prints events/s."""
import http.client
import sys
import threading
import time

port, path, body_file, seconds, conns = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
body = open(body_file, "rb").read()
n_lines = body.count(b"\n")
count = [0] * conns
errors = []


def worker(i):
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
    end = time.time() + seconds
    while time.time() < end:
        c.request("POST", path, body, {"Content-Type": "application/x-ndjson"})
        r = c.getresponse()
        data = r.read()
        if r.status not in (200, 207):
            errors.append((r.status, data[:200]))
            return
        count[i] += n_lines


t0 = time.time()
ts = [threading.Thread(target=worker, args=(i,)) for i in range(conns)]
for t in ts:
    t.start()
for t in ts:
    t.join()
dt = time.time() - t0
if errors:
    print("errors:", errors[:3])
print("%.0f" % (sum(count) / dt))
