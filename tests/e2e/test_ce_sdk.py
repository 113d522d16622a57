"""End-to-end: interoperability with the official CloudEvents SDK for JavaScript (npm
`cloudevents`, pinned in tests/e2e/ce_sdk/package-lock.json). Events the SDK writes in
structured and binary mode are accepted by a real `dmp serve`; what dmp emits -- reads as a
batch and as single structured events, and subscription pushes in both content modes --
parses back with the SDK's HTTP.toEvent with attributes and data intact.

Needs node and npm (scripts/deps.sh test installs them); runs `npm ci` on first use."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from streams_common import *  # noqa: E402,F401,F403
import http.server as _hs  # noqa: E402 (after the star import, which binds the name http)

SDK_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ce_sdk")


def sdk(cmd, request):
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise AssertionError("%s is not installed: run scripts/deps.sh test" % tool)
    if not os.path.isdir(os.path.join(SDK_DIR, "node_modules")):
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                           cwd=SDK_DIR, capture_output=True, text=True, timeout=300)
        eq(r.returncode, 0, "npm ci: " + r.stderr)
    r = subprocess.run(["node", "ce.mjs", cmd], cwd=SDK_DIR, input=json.dumps(request),
                       capture_output=True, text=True, timeout=60)
    eq(r.returncode, 0, "node ce.mjs %s: %s" % (cmd, r.stderr))
    return json.loads(r.stdout)


SDK_EVENTS = [
    {"id": "sdk-structured-1", "source": "https://example.com/sdk", "type": "com.example.attendee",
     "subject": "attendee/1", "time": "2024-05-01T10:00:00.000Z", "color": "blue",
     "datacontenttype": "application/json", "data": {"Name": "Ann", "Age": 31}},
    {"id": "sdk-binary-1", "source": "urn:example:sdk", "type": "com.example.attendee",
     "subject": "attendee/2", "time": "2024-05-01T10:00:01.000Z", "tier": "gold",
     "dataschema": "https://example.com/schemas/attendee", "data": {"Name": "Bob", "Age": 42}},
]
ATTRS = ("id", "source", "type", "subject", "time", "dataschema")


def same_event(got, want, what):
    for k in ATTRS + ("color", "tier"):
        if k in want:
            eq(got.get(k), want[k], "%s: attribute %s" % (what, k))
    eq(got.get("specversion"), "1.0", what + ": specversion")
    eq(got.get("data"), want["data"], what + ": data")


def publish_with_sdk(s):
    enc = sdk("encode", {"events": SDK_EVENTS})
    sm = enc[0]["structured"]
    r = s.req("POST", PORT_PATH + "/events", sm["body"], headers=sm["headers"])
    eq(r.status, 201, "structured from the SDK: %s" % (r.body,))
    bm = enc[1]["binary"]
    r = s.req("POST", PORT_PATH + "/events", bm["body"], headers=bm["headers"])
    eq(r.status, 201, "binary from the SDK: %s" % (r.body,))
    eq(r.body["id"], "sdk-binary-1", "binary id")
    # The SDK's binary message of an event that breaks the port's schema is refused.
    bad = sdk("encode", {"events": [dict(SDK_EVENTS[1], id="sdk-bad", data={"Name": "X", "Age": 500})]})
    r = s.req("POST", PORT_PATH + "/events", bad[0]["binary"]["body"], headers=bad[0]["binary"]["headers"])
    eq(r.status, 422, "schema still applies to SDK events")


def test_sdk_events_accepted_and_reads_parse_back():
    s = Server()
    provision(s)
    publish_with_sdk(s)
    # Batch read: application/cloudevents-batch+json, decoded by the SDK as a batch.
    r = s.req("GET", PORT_PATH + "/events?from=1&limit=10")
    eq(r.status, 200, "read")
    raw = json.dumps(r.body)
    ctype = r.headers["Content-Type"]
    eq(ctype, "application/cloudevents-batch+json", "batch content type")
    # Each event of an NDJSON read is one structured-mode event.
    nd = s.req("GET", PORT_PATH + "/events?from=1&limit=10", headers={"Accept": "application/x-ndjson"})
    lines = [l for l in nd.body.split("\n") if l.strip()] if isinstance(nd.body, str) else [json.dumps(nd.body)]
    msgs = [{"headers": {"content-type": ctype}, "body": raw}]
    msgs += [{"headers": {"content-type": "application/cloudevents+json"}, "body": l} for l in lines]
    dec = sdk("decode", {"messages": msgs})
    batch = dec[0]
    eq(len(batch), 2, "batch size")
    for i, want in enumerate(SDK_EVENTS):
        same_event(batch[i], want, "batch event %d" % i)
        eq(batch[i]["dmpoffset"], i + 1, "dmpoffset extension")
        assert "dmptime" in batch[i], batch[i]
        same_event(dec[1 + i], want, "structured event %d" % i)
    eq(batch[1]["datacontenttype"].split(";")[0], "application/json", "content type kept")


def test_sdk_parses_pushes_in_both_content_modes():
    s = Server()
    provision(s)
    sink = RawSink()
    for mode in ("structured", "binary"):
        r = s.req("POST", "/v1/subscriptions", {"product": PRODUCT, "port": "attendee",
                                                "sink": sink.url + "/" + mode, "from": "start",
                                                "contentmode": mode})
        eq(r.status, 201, "subscription %s: %s" % (mode, r.body))
    r = s.req("POST", "/v1/subscriptions", {"product": PRODUCT, "port": "attendee",
                                            "sink": sink.url, "contentmode": "batched"})
    eq(r.status, 400, "unknown content mode")
    eq(r.body["field"], "contentmode", "names the field")
    publish_with_sdk(s)
    got = sink.wait(4)
    by_mode = {"structured": [], "binary": []}
    for path, headers, body in got:
        by_mode[path.rsplit("/", 1)[1]].append({"headers": headers, "body": body})
    for mode, msgs in by_mode.items():
        eq(len(msgs), 2, mode + " pushes")
        if mode == "binary":
            assert "ce-id" in msgs[0]["headers"], msgs[0]["headers"]
        else:
            eq(msgs[0]["headers"]["content-type"], "application/cloudevents+json", "structured")
        dec = sdk("decode", {"messages": msgs})
        for i, want in enumerate(SDK_EVENTS):
            same_event(dec[i], want, "%s push %d" % (mode, i))
            eq(str(dec[i]["dmpoffset"]), str(i + 1), mode + " dmpoffset")
    sink.stop()


class RawSink:
    """Records each POST as (path, lower-cased headers, body text)."""

    def __init__(self):
        self.got = []
        self.lock = threading.Lock()
        outer = self

        class H(_hs.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n).decode("utf-8")
                hdrs = {k.lower(): v for k, v in self.headers.items()
                        if k.lower().startswith("ce-") or k.lower() == "content-type"}
                with outer.lock:
                    outer.got.append((self.path, hdrs, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = _hs.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/hook" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def wait(self, n, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.got) >= n:
                    return sorted(self.got, key=lambda g: g[0])
            time.sleep(0.05)
        raise AssertionError("sink got %d pushes, wanted %d" % (len(self.got), n))

    def stop(self):
        self.srv.shutdown()


if __name__ == "__main__":
    run(globals())
