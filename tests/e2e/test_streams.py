"""End-to-end: stream ports (DESIGN 3C) -- provision, ingest in every mode, validation
errors, de-duplication, reads, SSE, subscriptions pushing to a sink, replay after restart,
and bad input."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(__file__))
from streams_common import *  # noqa: E402,F401,F403


def events(s, qs="from=1&limit=1000", accept=None):
    r = s.req("GET", PORT_PATH + "/events?" + qs, headers={"Accept": accept} if accept else None)
    assert r.status == 200, r.body
    return r


def test_provision_creates_channel_named_from_hierarchy():
    s = Server()
    provision(s)
    r = s.req("GET", PORT_PATH + "/stream")
    eq(r.status, 200, "port status")
    eq(r.body["channel"], "london.hammersmith.olympia.bigdatalondon._public.attendee", "channel")
    assert os.path.isdir(os.path.join(s.data_dir, "channels", "default", r.body["channel"]))


def test_ingest_modes_and_read_back():
    s = Server()
    provision(s)
    r = s.req("POST", PORT_PATH + "/events", {"Name": "Ann", "Age": 30})
    eq(r.status, 201, "plain")
    eq(r.body["offset"], 1, "offset")
    eq(r.body["source"], "urn:london:hammersmith:olympia:bigdatalondon", "source")
    ce = {"specversion": "1.0", "id": "s1", "source": "/src", "type": "t.s",
          "data": {"Name": "S", "Age": 2}}
    r = s.req("POST", PORT_PATH + "/events", json.dumps(ce), "application/cloudevents+json")
    eq(r.status, 201, "structured")
    r = s.req("POST", PORT_PATH + "/events", json.dumps({"Name": "B", "Age": 3}), "application/json",
              headers={"ce-specversion": "1.0", "ce-id": "b1", "ce-source": "/bin",
                       "ce-type": "t.b", "ce-color": "red"})
    eq(r.status, 201, "binary")
    batch = [dict(ce, id="s2"), dict(ce, id="s3", data={"Name": "X", "Age": 131})]
    r = s.req("POST", PORT_PATH + "/events", json.dumps(batch), "application/cloudevents-batch+json")
    eq(r.status, 207, "batch with a rejected event")
    eq([x["status"] for x in r.body["results"]], ["accepted", "rejected"], "batch results")
    eq(r.body["results"][1]["index"], 1, "index")
    nd = '{"Name":"n1","Age":1}\n\n{"Name":"n2","Age":2}\n'
    r = s.req("POST", PORT_PATH + "/events", nd, "application/x-ndjson")
    eq(r.status, 200, "ndjson")
    eq(r.body["accepted"], 2, "ndjson accepted")
    r = events(s)
    eq(r.headers["Content-Type"], "application/cloudevents-batch+json", "content type")
    evs = r.body
    eq([e["dmpoffset"] for e in evs], [1, 2, 3, 4, 5, 6], "offsets")
    eq(evs[2]["color"], "red", "binary extension kept")
    eq(evs[0]["data"], {"Name": "Ann", "Age": 30}, "data")
    assert "dmptime" in evs[0] and "time" in evs[0], "both times"
    r = events(s, "from=5", accept="application/x-ndjson")
    lines = [json.loads(x) for x in r.body.strip().split("\n")] if isinstance(r.body, str) else [r.body]
    eq([e["dmpoffset"] for e in lines], [5, 6], "ndjson read")
    eq(r.headers["X-Dmp-Next-Offset"], "7", "next offset")


def test_rejection_names_field_value_rule_and_is_kept():
    s = Server()
    provision(s)
    r = s.req("POST", PORT_PATH + "/events", {"Name": "Old", "Age": 140})
    eq(r.status, 422, "status")
    eq(r.headers["Content-Type"], "application/problem+json", "problem")
    eq(r.body["detail"], "/Age: 140 is not less than 130 (exclusiveMaximum)", "detail")
    eq(r.body["field"], "/Age", "field")
    r = s.req("GET", PORT_PATH + "/rejected")
    eq(r.status, 200, "rejected status")
    eq(len(r.body["rejected"]), 1, "kept")
    eq(r.body["rejected"][0]["event"], {"Name": "Old", "Age": 140}, "kept event")


def test_dedup_on_source_and_id():
    s = Server()
    provision(s)
    ce = {"specversion": "1.0", "id": "dup-1", "source": "/d", "type": "t",
          "data": {"Name": "D", "Age": 1}}
    r1 = s.req("POST", PORT_PATH + "/events", json.dumps(ce), "application/cloudevents+json")
    r2 = s.req("POST", PORT_PATH + "/events", json.dumps(ce), "application/cloudevents+json")
    eq((r1.status, r2.status), (201, 200), "statuses")
    eq(r2.body["duplicate"], True, "duplicate")
    eq(r2.body["offset"], r1.body["offset"], "same offset")
    eq(len(events(s).body), 1, "appended once")


def test_bad_input():
    s = Server(args=["--event-max-size", "2KiB"])
    provision(s)
    post = lambda body, ct, h=None: s.req("POST", PORT_PATH + "/events", body, ct, headers=h)
    eq(post("{not json", "application/json").status, 400, "non-JSON")
    eq(post("x", "text/plain").status, 415, "content type")
    r = post(json.dumps({"specversion": "0.3", "id": "1", "source": "/s", "type": "t"}),
             "application/cloudevents+json")
    eq(r.status, 400, "specversion")
    contains(r.body["detail"], "specversion", "names the attribute")
    r = post(json.dumps({"specversion": "1.0", "source": "/s", "type": "t"}),
             "application/cloudevents+json")
    eq(r.status, 400, "missing id")
    r = post(json.dumps({"specversion": "1.0", "id": "1", "source": "/s", "type": "t",
                         "Bad_Name": 1, "data": {"Name": "a", "Age": 1}}),
             "application/cloudevents+json")
    eq(r.status, 400, "bad attribute name")
    eq(post(json.dumps({"Name": "x" * 5000, "Age": 1}), "application/json").status, 413, "oversized")
    r = s.req("POST", "/v1/products/nope/nope/ports/attendee/events", {"a": 1})
    eq(r.status, 404, "unknown product")
    r = s.req("POST", "/v1/products/%s/%s/ports/nope/events" % (DOMAIN, NAME), {"a": 1})
    eq(r.status, 404, "unknown port")
    contains(r.body["detail"], "nope", "names the port")
    r = s.req("GET", PORT_PATH + "/events?filter=" + urllib.request.quote("type = = 'x'"))
    eq(r.status, 400, "CESQL parse error")
    contains(r.body["detail"], "1:", "position")


def test_cesql_filter_on_read():
    s = Server()
    provision(s)
    for i in range(6):
        s.req("POST", PORT_PATH + "/events", {"Name": "n%d" % i, "Age": i}, headers={
            "X-Dmp-Event-Type": "even" if i % 2 == 0 else "odd"})
    q = urllib.request.quote("type = 'odd' AND dmpoffset > 2")
    evs = events(s, "from=1&filter=" + q).body
    eq([e["dmpoffset"] for e in evs], [4, 6], "filtered")


def read_sse(port_url, n, headers=None, timeout=10):
    """Opens the SSE stream and returns the first n events as (id, json)."""
    host, port = "127.0.0.1", int(port_url.split(":")[2].split("/")[0])
    path = "/" + port_url.split("/", 3)[3]
    sock = socket.create_connection((host, port), timeout=timeout)
    h = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path, h)).encode())
    buf = b""
    out = []
    deadline = time.time() + timeout
    while len(out) < n and time.time() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
        text = buf.decode("utf-8", "replace")
        out = []
        for frame in text.split("\n\n"):
            lines = dict(l.split(": ", 1) for l in frame.split("\n") if l.startswith(("id: ", "data: ")))
            if "id" in lines and "data" in lines:
                out.append((int(lines["id"]), json.loads(lines["data"])))
    sock.close()
    return out


def test_sse_subscribe_and_resume_with_last_event_id():
    s = Server()
    provision(s)
    for i in range(3):
        s.req("POST", PORT_PATH + "/events", {"Name": "e%d" % i, "Age": i})
    got = read_sse(s.url + PORT_PATH + "/subscribe?from=1", 3)
    eq([g[0] for g in got], [1, 2, 3], "ids are offsets")
    got = read_sse(s.url + PORT_PATH + "/subscribe", 1, headers={"Last-Event-ID": "2"})
    eq(got[0][0], 3, "resumed after Last-Event-ID")
    # Live delivery: the event arrives after the stream opened.
    res = []
    t = threading.Thread(target=lambda: res.extend(read_sse(s.url + PORT_PATH + "/subscribe", 1)))
    t.start()
    time.sleep(0.5)
    s.req("POST", PORT_PATH + "/events", {"Name": "live", "Age": 9})
    t.join(10)
    eq(res[0][1]["data"]["Name"], "live", "live event")
    # A vanished subscriber does not hurt anyone else.
    socks = []
    for _ in range(5):
        c = socket.create_connection(("127.0.0.1", s.port))
        c.sendall(("GET %s/subscribe HTTP/1.1\r\nHost: x\r\n\r\n" % PORT_PATH).encode())
        socks.append(c)
    for c in socks:
        c.close()
    eq(s.req("POST", PORT_PATH + "/events", {"Name": "after", "Age": 1}).status, 201, "still serving")


def test_subscription_push_retry_and_offset_survives_restart():
    s = Server()
    provision(s)
    sink = Sink()
    sink.fail = 2  # the first two pushes fail: retry with back-off
    r = s.req("POST", "/v1/subscriptions", {"product": PRODUCT, "port": "attendee", "sink": sink.url,
                                            "filters": [{"prefix": {"type": "london"}}],
                                            "from": "start"})
    eq(r.status, 201, "create")
    sid = r.body["id"]
    s.req("POST", PORT_PATH + "/events", {"Name": "p1", "Age": 1})
    s.req("POST", PORT_PATH + "/events", json.dumps({"specversion": "1.0", "id": "skip", "source": "/x",
                                                     "type": "other", "data": {"Name": "s", "Age": 1}}),
          "application/cloudevents+json")
    s.req("POST", PORT_PATH + "/events", {"Name": "p2", "Age": 2})
    got = sink.wait(2)
    eq([e[1]["data"]["Name"] for e in got], ["p1", "p2"], "pushed, filtered, in order")
    eq(got[0][0], "application/cloudevents+json", "structured mode")
    deadline = time.time() + 5
    while time.time() < deadline and s.req("GET", "/v1/subscriptions/" + sid).body["offset"] != 4:
        time.sleep(0.05)
    eq(s.req("GET", "/v1/subscriptions/" + sid).body["offset"], 4, "committed offset")
    s.restart()
    eq(s.req("GET", "/v1/subscriptions/" + sid).body["offset"], 4, "offset after restart")
    s.req("POST", PORT_PATH + "/events", {"Name": "p3", "Age": 3})
    got = sink.wait(3)
    eq([e[1]["data"]["Name"] for e in got], ["p1", "p2", "p3"], "no redelivery after restart")
    # Update the filter, list, delete.
    r = s.req("PUT", "/v1/subscriptions/" + sid, {"filters": [{"sql": "type = 'other'"}]})
    eq(r.status, 200, "update")
    eq(len(s.req("GET", "/v1/subscriptions").body), 1, "list")
    r = s.req("POST", "/v1/subscriptions", {"product": PRODUCT, "port": "attendee", "sink": sink.url,
                                            "filters": [{"sql": "type = = 'x'"}]})
    eq(r.status, 400, "bad CESQL in a subscription")
    eq(s.req("DELETE", "/v1/subscriptions/" + sid).status, 204, "delete")
    eq(s.req("GET", "/v1/subscriptions/" + sid).status, 404, "gone")
    sink.stop()


def test_replay_after_restart_and_cli():
    s = Server()
    provision(s)
    path = write(os.path.join(s.data_dir, "in.ndjson"),
                 '{"Name":"a","Age":1}\n{"Name":"b","Age":500}\n{"Name":"c","Age":3}\n')
    p = s.cli("publish", PRODUCT, "attendee", path)
    eq(p.returncode, 1, "exit code with a rejected event: " + p.stderr)
    contains(p.stdout, "line 2: rejected: /Age: 500 is not less than 130", "per-event result")
    contains(p.stdout, "2 accepted", "summary")
    p = s.cli("publish", PRODUCT, "attendee", "-o", "json", stdin='{"Name":"d","Age":4}\n')
    eq(p.returncode, 0, "all accepted")
    eq(json.loads(p.stdout)["accepted"], 1, "json output")
    s.kill()
    s.start()
    p = s.cli("tail", PRODUCT, "attendee", "-o", "json")
    eq(p.returncode, 0, p.stderr)
    names = [json.loads(l)["data"]["Name"] for l in p.stdout.strip().split("\n")]
    eq(names, ["a", "c", "d"], "replay after kill -9")
    p = s.cli("tail", PRODUCT, "attendee", "--from", "2", "--filter", "id = 'nope'")
    eq(p.returncode, 0, p.stderr)
    p = s.cli("tail", PRODUCT, "attendee", "--filter", "type = = 1")
    eq(p.returncode, 1, "bad filter")
    contains(p.stderr, "1:", "position")
    eq(s.cli("publish", "--help").returncode, 0, "help")
    eq(s.cli("tail", PRODUCT).returncode, 64, "usage")


def test_delete_removes_channel():
    s = Server()
    provision(s)
    s.req("POST", PORT_PATH + "/events", {"Name": "a", "Age": 1})
    chan = os.path.join(s.data_dir, "channels", "default",
                        "london.hammersmith.olympia.bigdatalondon._public.attendee")
    assert os.path.isdir(chan)
    r = s.req("DELETE", "/v1/dataproduct", DESCRIPTOR, "application/yaml")
    eq(r.status, 202, "delete")
    s.wait_state("default", DOMAIN, NAME, "1.0.0", "DELETED")
    eq(s.req("GET", PORT_PATH + "/events").status, 404, "port gone")
    assert not os.path.exists(chan), "channel removed"


def test_tail_filter_scans_past_empty_windows():
    # Thousands of non-matching events before the one match: a filtered tail must look
    # through all of them (the server continues where the last request stopped).
    s = Server()
    provision(s)
    for chunk in range(3):
        nd = "".join('{"Name":"x%d","Age":1}\n' % i for i in range(1000))
        eq(s.req("POST", PORT_PATH + "/events", nd, "application/x-ndjson").status, 200, "bulk")
    ce = {"specversion": "1.0", "id": "needle", "source": "/n", "type": "t",
          "data": {"Name": "needle", "Age": 2}}
    eq(s.req("POST", PORT_PATH + "/events", json.dumps(ce), "application/cloudevents+json").status,
       201, "needle")
    p = s.cli("tail", PRODUCT, "attendee", "-o", "json", "--filter", "id = 'needle'")
    eq(p.returncode, 0, p.stderr)
    got = [json.loads(l) for l in p.stdout.strip().split("\n") if l]
    eq([(e["id"], e["dmpoffset"]) for e in got], [("needle", 3001)], "found past the window")
    r = s.req("GET", PORT_PATH + "/events?from=1&limit=5&filter=" +
              urllib.request.quote("id = 'nothing'"))
    eq((r.status, r.body), (200, []), "no match")
    eq(r.headers["X-Dmp-Next-Offset"], "3002", "scanned to the end")


def _port_stats(s):
    r = s.req("GET", PORT_PATH + "/stream")
    assert r.status == 200, r.body
    return r.body


def test_acl_update_during_concurrent_ingest_never_404s():
    s = Server()
    provision(s)
    stop = threading.Event()
    results = []
    lock = threading.Lock()

    def producer(k):
        n = 0
        while not stop.is_set():
            r = s.req("POST", PORT_PATH + "/events", {"Name": "p%d-%d" % (k, n), "Age": 1})
            with lock:
                results.append(r.status)
            n += 1

    threads = [threading.Thread(target=producer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        version, limit = "1.0.0", 130
        for i in range(6):
            # PUT changes the ACLs of the deployed (latest) version; POST deploys a new
            # version, here with a schema change (a loosened limit: backward compatible).
            method = "POST" if i % 2 else "PUT"
            if method == "POST":
                version, limit = "1.0.%d" % i, 130 + i
            acl = "    allow: [team-%d]\n" % i
            desc = DESCRIPTOR.replace("    visibility: public\n", "    visibility: public\n" + acl)
            desc = desc.replace("version: 1.0.0", "version: " + version)
            desc = desc.replace("exclusiveMaximum: 130", "exclusiveMaximum: %d" % limit)
            r = s.req(method, "/v1/dataproduct", desc, "application/yaml")
            assert r.status in (200, 202), r.body
            s.wait_state("default", DOMAIN, NAME, version, "CREATED")
            deadline = time.time() + 10
            while time.time() < deadline and _port_stats(s)["allow"] != ["team-%d" % i]:
                time.sleep(0.02)
            eq(_port_stats(s)["allow"], ["team-%d" % i], "ACL applied")
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    bad = {x: results.count(x) for x in set(results) if x != 201}
    eq(bad, {}, "every concurrent ingest accepted (status: count)")
    assert len(results) > 50, len(results)
    st = _port_stats(s)["stats"]
    # Not reopened: the channel's counter since open saw every event.
    eq(st["appended"], len(results), "appended since open")
    eq(st["next_offset"], len(results) + 1, "next offset")
    eq(_port_stats(s)["versions"], ["1.0.0", "1.0.1", "1.0.3", "1.0.5"], "versions")


def test_retention_size_removes_old_segments():
    s = Server(args=["--log-segment-size", "64KiB"])
    desc = DESCRIPTOR.replace("    visibility: public\n",
                              "    visibility: public\n    retention: {size: 256KiB}\n")
    provision(s, desc)
    eq(_port_stats(s)["retention"]["bytes"], 256 * 1024, "retention in the port metadata")
    pad = "x" * 900
    for chunk in range(12):  # about 1.2 MB in all
        nd = "".join('{"Name":"%s","Age":%d}\n' % (pad, i % 100) for i in range(100))
        eq(s.req("POST", PORT_PATH + "/events", nd, "application/x-ndjson").status, 200, "bulk")
    chan = os.path.join(s.data_dir, "channels", "default", _port_stats(s)["channel"])
    deadline = time.time() + 10
    while time.time() < deadline:
        st = _port_stats(s)["stats"]
        if st["first_offset"] > 1 and st["bytes"] <= (256 + 64) * 1024:
            break
        time.sleep(0.1)
    st = _port_stats(s)["stats"]
    assert st["first_offset"] > 1, st
    assert st["bytes"] <= (256 + 64) * 1024, st
    on_disk = sum(os.path.getsize(os.path.join(chan, f)) for f in os.listdir(chan)
                  if f.startswith("seg") and not f.endswith(".idx"))
    assert on_disk <= (256 + 2 * 64) * 1024, (on_disk, sorted(os.listdir(chan)))
    evs = events(s, "from=1&limit=5").body
    eq(evs[0]["dmpoffset"], st["first_offset"], "reads start at the first retained offset")
    eq(_port_stats(s)["stats"]["next_offset"], 1201, "nothing newer lost")


if __name__ == "__main__":
    import urllib.request  # noqa: F811
    run(globals())
