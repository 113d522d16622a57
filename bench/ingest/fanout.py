"""Fan-out: S SSE subscribers on one port while a publisher appends R events/s (NDJSON
batches every 10 ms, each event carrying its send time). Each subscriber records
delivery time - send time; prints p50 and p99 in ms over all deliveries."""
import http.client
import json
import multiprocessing as mp
import sys
import time

port, path, subs, rate, seconds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])


def subscriber(q, ready):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=seconds + 10)
    c.request("GET", path + "/subscribe")
    r = c.getresponse()
    ready.set()
    lat = []
    end = time.time() + seconds + 2
    buf = b""
    while time.time() < end:
        chunk = r.read1(65536)
        if not chunk:
            break
        now = time.time()
        buf += chunk
        *frames, buf = buf.split(b"\n\n")
        for fr in frames:
            i = fr.find(b'"sent":')
            if i >= 0:
                lat.append(now - float(fr[i + 7:fr.index(b",", i)]))
    q.put(lat)


if __name__ == "__main__":
    q = mp.Queue()
    readies = [mp.Event() for _ in range(subs)]
    ps = [mp.Process(target=subscriber, args=(q, readies[i])) for i in range(subs)]
    for p in ps:
        p.start()
    for e in readies:
        e.wait(10)
    time.sleep(0.3)
    c = http.client.HTTPConnection("127.0.0.1", port)
    per = max(1, rate // 100)
    t0 = time.time()
    k = 0
    while time.time() - t0 < seconds:
        now = time.time()
        body = "".join('{"sent":%.6f,"Name":"f","Email":"f@x.io","Age":%d}\n' % (now, (k + i) % 100)
                       for i in range(per))
        k += per
        c.request("POST", path + "/events", body, {"Content-Type": "application/x-ndjson"})
        c.getresponse().read()
        sleep = t0 + k / rate - time.time()
        if sleep > 0:
            time.sleep(sleep)
    lat = []
    for _ in ps:
        lat.extend(q.get(timeout=seconds + 20))
    for p in ps:
        p.join()
    lat.sort()
    if not lat:
        sys.exit("no deliveries")
    print("published %d events at %.0f/s; %d deliveries; p50 %.2f ms p99 %.2f ms" % (
        k, k / seconds, len(lat), lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000))
