"""Crash test: kill -9 the server repeatedly during concurrent ingest. After each restart
every acknowledged event is present and none is visible twice. Short by default; set
DMP_LONG_TESTS=1 for a longer run."""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from streams_common import *  # noqa: E402,F401,F403

LONG = os.environ.get("DMP_LONG_TESTS") == "1"
ROUNDS = 20 if LONG else 3
WRITERS = 8
RUN_S = 2.0 if LONG else 0.8


def writer(s, wid, acked, stop):
    n = 0
    while not stop.is_set():
        ev = {"specversion": "1.0", "id": "w%d-%d" % (wid, n), "source": "/crash",
              "type": "crash", "data": {"Name": "w%d" % wid, "Age": n % 100}}
        try:
            r = s.req("POST", PORT_PATH + "/events", json.dumps(ev), "application/cloudevents+json",
                      timeout=5)
        except Exception:
            return  # the server died under us: this event was not acknowledged
        if r.status in (200, 201):
            acked.add(ev["id"])
            n += 1
        else:
            return


def read_all(s):
    ids = []
    frm = 1
    while True:
        r = s.req("GET", PORT_PATH + "/events?limit=10000&from=%d" % frm)
        assert r.status == 200, r.body
        if not r.body:
            return ids
        ids.extend(e["id"] for e in r.body)
        frm = r.body[-1]["dmpoffset"] + 1


def test_kill9_during_concurrent_ingest():
    s = Server()
    provision(s)
    acked = set()
    for rnd in range(ROUNDS):
        stop = threading.Event()
        ts = [threading.Thread(target=writer, args=(s, w + rnd * 100, acked, stop))
              for w in range(WRITERS)]
        for t in ts:
            t.start()
        time.sleep(RUN_S)
        s.kill()
        stop.set()
        for t in ts:
            t.join(10)
        s.start()
        ids = read_all(s)
        missing = acked - set(ids)
        assert not missing, "round %d: %d acknowledged events lost, e.g. %s" % (
            rnd, len(missing), sorted(missing)[:5])
        assert len(ids) == len(set(ids)), "round %d: duplicates visible" % rnd
        # Retrying acknowledged events is de-duplicated.
        for eid in sorted(acked)[:20]:
            wid, n = eid[1:].split("-")
            ev = {"specversion": "1.0", "id": eid, "source": "/crash", "type": "crash",
                  "data": {"Name": "w" + wid, "Age": int(n) % 100}}
            r = s.req("POST", PORT_PATH + "/events", json.dumps(ev), "application/cloudevents+json")
            eq(r.body.get("duplicate"), True, "retry of %s" % eid)
    print("  %d rounds, %d acknowledged events, all present once" % (ROUNDS, len(acked)))
    assert len(acked) > 0


if __name__ == "__main__":
    run(globals())
