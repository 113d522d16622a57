"""Crash test: kill -9 the server repeatedly during concurrent ingest, the way a real client
sees it. Each writer sends events one at a time; when the server dies under a request, that
event is *in flight*: it may or may not have been stored, and the client was not told. After
the restart the writer retries exactly that event (same source + id) before going on, as a
producer with at-least-once delivery does; that retry is where duplicates would come from.

After each restart, and at the end:
  - every acknowledged event (201, or 200 duplicate) is present exactly once;
  - no id is visible twice;
  - a retried in-flight event is answered as a duplicate when its first attempt had been
    stored before the crash (it is in the log) and is appended when it had not; either
    way it is then present exactly once, never twice.
Short by default (CI, well under 20 s); DMP_LONG_TESTS=1 runs more and longer rounds."""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from streams_common import *  # noqa: E402,F401,F403

LONG = os.environ.get("DMP_LONG_TESTS") == "1"
ROUNDS = 20 if LONG else 3
WRITERS = 8
RUN_S = 2.0 if LONG else 0.8
SOURCE = "/crash"


def make_event(wid, n):
    return {"specversion": "1.0", "id": "w%d-%d" % (wid, n), "source": SOURCE, "type": "crash",
            "data": {"Name": "w%d" % wid, "Age": n % 100}}


class Writer:
    """One producer: its acknowledged ids, the event in flight at the last crash, and what
    its retries were answered."""

    def __init__(self, wid):
        self.wid = wid
        self.n = 0
        self.inflight = None      # the event sent when the server died, not acknowledged
        self.expect_dup = None    # whether the in-flight event was found stored
        self.acked = set()
        self.retries = []         # (id, answered duplicate, expected duplicate)
        self.errors = []

    def post(self, s, ev):
        """'dup' / 'new' when acknowledged, None when the request died with the server."""
        try:
            r = s.req("POST", PORT_PATH + "/events", json.dumps(ev),
                      "application/cloudevents+json", timeout=5)
        except Exception:
            return None
        if r.status in (200, 201):
            return "dup" if isinstance(r.body, dict) and r.body.get("duplicate") else "new"
        if r.status >= 500:
            return None  # shutting down: not acknowledged either
        self.errors.append("%s: HTTP %d %s" % (ev["id"], r.status, r.body))
        return None

    def retry_inflight(self, s):
        """Sends the in-flight event again (same source + id). False if the server died."""
        if self.inflight is None:
            return True
        ev = self.inflight
        res = self.post(s, ev)
        if res is None:
            return False  # still in flight; retried after the next restart
        self.retries.append((ev["id"], res == "dup", self.expect_dup))
        self.acked.add(ev["id"])
        self.inflight = None
        self.n += 1
        return True

    def run(self, s, stop):
        if not self.retry_inflight(s):
            return
        while not stop.is_set():
            ev = make_event(self.wid, self.n)
            self.inflight = ev
            res = self.post(s, ev)
            if res is None:
                return  # the server died under us: this event is in flight
            if res == "dup":
                self.errors.append("%s: a first attempt was answered as a duplicate" % ev["id"])
            self.acked.add(ev["id"])
            self.inflight = None
            self.n += 1


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


def check_log(s, writers, what):
    """Every acknowledged event present once, nothing twice. Returns the ids in the log."""
    ids = read_all(s)
    seen = {}
    for i in ids:
        seen[i] = seen.get(i, 0) + 1
    twice = sorted(i for i, c in seen.items() if c > 1)
    assert not twice, "%s: %d ids visible more than once, e.g. %s" % (what, len(twice), twice[:5])
    acked = set().union(*(w.acked for w in writers))
    missing = acked - set(seen)
    assert not missing, "%s: %d acknowledged events lost, e.g. %s" % (
        what, len(missing), sorted(missing)[:5])
    return seen


def test_kill9_during_concurrent_ingest_with_retries():
    s = Server()
    provision(s)
    writers = [Writer(w) for w in range(WRITERS)]
    inflight_total = 0
    for rnd in range(ROUNDS):
        stop = threading.Event()
        ts = [threading.Thread(target=w.run, args=(s, stop)) for w in writers]
        for t in ts:
            t.start()
        time.sleep(RUN_S)
        s.kill()
        stop.set()
        for t in ts:
            t.join(10)
        s.start()
        seen = check_log(s, writers, "round %d" % rnd)
        # What the retry must be answered: a duplicate exactly when the first attempt was
        # stored before the crash.
        for w in writers:
            if w.inflight is not None:
                inflight_total += 1
                w.expect_dup = w.inflight["id"] in seen
    # After the last restart, every writer retries its in-flight event once more.
    for w in writers:
        assert w.retry_inflight(s), "retry of w%d's in-flight event failed" % w.wid
    seen = check_log(s, writers, "after the retries")
    errors = [e for w in writers for e in w.errors]
    assert not errors, "unexpected answers: %s" % errors[:5]
    retries = [r for w in writers for r in w.retries]
    for eid, dup, expect in retries:
        assert dup == expect, "retry of %s answered %s, but its first attempt was %s" % (
            eid, "duplicate" if dup else "appended", "stored" if expect else "not stored")
        eq(seen.get(eid), 1, "copies of retried %s" % eid)
    # Resending recent acknowledged events is de-duplicated, not appended (recent: the
    # de-dup window is the last 100000 events, which a long run goes past).
    acked = set().union(*(w.acked for w in writers))
    for w in writers:
        for n in range(max(0, w.n - 3), w.n):
            r = s.req("POST", PORT_PATH + "/events", json.dumps(make_event(w.wid, n)),
                      "application/cloudevents+json")
            eq(r.body.get("duplicate"), True, "resend of w%d-%d" % (w.wid, n))
    check_log(s, writers, "after resending acknowledged events")
    n_dup = sum(1 for r in retries if r[1])
    print("  %d rounds, %d acknowledged events, %d in-flight events retried (%d were stored "
          "before the crash and answered as duplicates, %d appended); all present once"
          % (ROUNDS, len(acked), len(retries), n_dup, len(retries) - n_dup))
    assert len(acked) > 0
    assert len(retries) > 0 or inflight_total == 0


if __name__ == "__main__":
    run(globals())
