"""End-to-end: the authorization matrix -- 6 principals x 3 visibilities x every read and
write endpoint, against the real `dmp serve --tokens`. Each expected status comes from the
small oracle below (written from docs/security.md), never from the code under test.
Also: revocation of a live SSE subscription and of a push subscription by a PUT, masking on
every read path (including filtered reads), the provisioner callback with authentication
on, path traversal on every route with parameters, and a canary token grep."""
import json
import os
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from dmptest import *  # noqa: E402,F401,F403
from streams_common import Sink  # noqa: E402

CANARY = "dmp_CANARYmatrixCANARYmatrixCANARYmatrixCANARYmat"
DOMAIN = "sales"
VIS = ["public", "protected", "private"]
KINDS = ["owner", "member", "allowed", "other", "admin", "anon"]
PII = "alice@example.com"

# ---- the oracle (docs/security.md): who reads and who owns, per visibility
READS = {
    "owner": {"public", "protected", "private"},    # the named product owner
    "member": {"public", "protected", "private"},   # group "sales": the domain's owner group
    "allowed": {"public", "protected"},             # group "finance", in allow[]
    "other": {"public"},                            # group "hr"
    "admin": {"public", "protected", "private"},
    "anon": set(),
}
OWNS = {"owner", "member", "admin"}
SEES_PII = {"owner", "member", "admin"}
# a product that does not exist yet may be created by the owner group of its domain
# ("sales": bob) or an admin -- naming oneself owner is not enough (alice is the owner
# by name only, so she cannot create in "sales")
CREATES = {"member", "admin"}


def expect_read(kind, vis, ok=200):
    if kind == "anon":
        return 401
    return ok if vis in READS[kind] else 404


def expect_write(kind, vis, ok):
    if kind == "anon":
        return 401
    if kind in OWNS:
        return ok
    return 403 if vis in READS[kind] else 404


def descriptor(vis, version="1.0.0", allow=("finance",), owner="alice"):
    return """name: %s
domain: %s
version: %s
owner: %s
tags: [matrix]
outputPorts:
  - name: events
    type: stream
    visibility: %s
    allow: [%s]
    schema:
      type: object
      required: [user, n]
      properties:
        user: {type: string, x-dmp-classification: pii, x-dmp-mask: true}
        n: {type: integer}
""" % (vis[:4], DOMAIN, version, owner, vis, ", ".join(allow if vis != "private" else ()))


def make_token(tokens, principal, *extra):
    r = cli("token", "create", "--tokens", tokens, "--principal", principal, *extra)
    eq(r.returncode, 0, "token create: " + r.stderr)
    return r.stdout.strip()


class World:
    def __init__(self, prov=False):
        d = tmpdir()
        self.tokens = os.path.join(d, "tokens.jsonl")
        self.tok = {
            "owner": make_token(self.tokens, "alice"),
            "member": make_token(self.tokens, "bob", "--groups", DOMAIN),
            "allowed": make_token(self.tokens, "carol", "--groups", "finance"),
            "other": make_token(self.tokens, "eve", "--groups", "hr"),
            "admin": make_token(self.tokens, "root", "--admin"),
            "anon": None,
        }
        self.replies = []
        args = ["--tokens", self.tokens]
        self.prov = None
        if prov:
            self.prov = Provisioner()
            args += ["--provisioner", "s3cdp=" + self.prov.url]
        # The data dir sits in a private parent, so the traversal test can see anything
        # written next to it (other tests' temp dirs share /tmp when ctest runs in parallel).
        self.srv = Server(data_dir=os.path.join(tmpdir(), "data"), args=args)

    def req(self, kind, method, path, body=None, ctype=None, headers=None, timeout=30):
        h = dict(headers or {})
        if kind is not None and self.tok.get(kind):
            h["Authorization"] = "Bearer " + self.tok[kind]
        r = self.srv.req(method, path, body, ctype, h, timeout=timeout)
        self.replies.append(json.dumps(r.body) + str(dict(r.headers.items())))
        return r

    def create(self, text):
        """Creates a new product in "sales" as its domain's owner group (bob)."""
        return self.req("member", "POST", "/v1/dataproduct", text, "application/yaml")

    def deploy_all(self):
        for v in VIS:
            r = self.create(descriptor(v))
            eq(r.status, 202, "deploy %s: %s" % (v, r.body))
        for v in VIS:
            self.wait_created("default", DOMAIN, v[:4], "1.0.0")
            for i in range(3):
                r = self.req("owner", "POST", port_path(v) + "/events", {"user": PII, "n": i})
                eq(r.status, 201, "publish seed: %s" % r.body)
            # one rejected event (n is a string) for the rejected view
            self.req("owner", "POST", port_path(v) + "/events", {"user": PII, "n": "x"})

    def wait_created(self, env, domain, name, version, timeout=20):
        deadline = time.time() + timeout
        r = None
        while time.time() < deadline:
            r = self.req("admin", "GET", "/v1/dataproduct/state/%s/%s/%s/%s"
                         % (env, domain, name, version))
            if r.status == 200 and r.body.get("state") == "CREATED":
                return
            time.sleep(0.05)
        raise AssertionError("%s/%s never CREATED: %s" % (domain, name, r.body))

    def secrets(self):
        return [t for t in self.tok.values() if t] + [CANARY]


def port_path(vis):
    return "/v1/products/%s/%s/ports/events" % (DOMAIN, vis[:4])


def sse_open(w, kind, path, timeout=5):
    """A raw SSE connection; returns (status, socket file) -- the caller reads events."""
    s = socket.create_connection(("127.0.0.1", w.srv.port), timeout=timeout)
    hdr = "GET %s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nConnection: close\r\n" % path
    if w.tok.get(kind):
        hdr += "Authorization: Bearer %s\r\n" % w.tok[kind]
    s.sendall((hdr + "\r\n").encode())
    f = s.makefile("rb")
    status = int(f.readline().split()[1])
    while f.readline() not in (b"\r\n", b""):
        pass
    return status, s, f


def sse_events(f, want, timeout):
    """Reads SSE data lines until 'want' events, the end of the stream, or the timeout."""
    got = []
    end = time.time() + timeout
    buf = b""
    while time.time() < end and len(got) < want:
        try:
            chunk = f.read1(65536)
        except (socket.timeout, OSError):
            break
        if not chunk:
            return got, True
        buf += chunk
        if buf.startswith(b"0\r\n\r\n") or b"\n0\r\n\r\n" in buf:
            return got, True  # the last chunk: the server ended the stream
        for line in buf.split(b"\n"):
            if line.startswith(b"data: {"):
                got.append(json.loads(line[6:]))
        buf = buf[buf.rfind(b"\n") + 1:] if b"\n" in buf else buf
    return got, False


def test_matrix():
    w = World()
    w.deploy_all()
    sink = Sink()
    fails = []

    def check(got, want, what):
        if got != want:
            fails.append("%s: got %s, want %s" % (what, got, want))

    for v in VIS:
        pp = port_path(v)
        prod = "/v1/products/%s/%s" % (DOMAIN, v[:4])
        for k in KINDS:
            tag = "%s/%s" % (k, v)
            # reads
            for path in [pp + "/events?from=1", pp + "/rejected", pp + "/stream",
                         prod, "/v1/catalog/products/%s/%s" % (DOMAIN, v[:4]),
                         prod + "/versions", "/v1/lineage/%s/%s" % (DOMAIN, v[:4]),
                         prod + "/asyncapi", prod + "/openapi",
                         "/v1/dataproduct/state/default/%s/%s/1.0.0" % (DOMAIN, v[:4])]:
                r = w.req(k, "GET", path)
                check(r.status, expect_read(k, v), "%s GET %s" % (tag, path))
                if r.status == 404:
                    check(r.body.get("code"), "DMP_NOTFOUND", "%s 404 code %s" % (tag, path))
            # SSE subscribe: the status line is enough here
            st, s, f = sse_open(w, k, pp + "/subscribe?from=1")
            s.close()
            check(st, expect_read(k, v), "%s subscribe" % tag)
            # search: present exactly when readable
            r = w.req(k, "GET", "/v1/search?tag=matrix&limit=100")
            if k == "anon":
                check(r.status, 401, "%s search" % tag)
            else:
                names = {x["name"] for x in r.body["results"]}
                check(v[:4] in names, v in READS[k], "%s search lists it" % tag)
            # streams listing
            if k != "anon":
                r = w.req(k, "GET", "/v1/streams")
                listed = any(x.get("product") == v[:4] for x in r.body)
                check(listed, v in READS[k], "%s /v1/streams lists it" % tag)
            # subscriptions: create (needs READ), then read back by its creator only
            r = w.req(k, "POST", "/v1/subscriptions",
                      {"product": "%s/%s" % (DOMAIN, v[:4]), "port": "events",
                       "sink": sink.url, "from": "end"})
            check(r.status, expect_read(k, v, 201), "%s subscription create" % tag)
            if r.status == 201:
                sid = r.body["id"]
                check(w.req(k, "GET", "/v1/subscriptions/" + sid).status, 200,
                      "%s subscription read by its creator" % tag)
                for o in KINDS:
                    if o in (k, "admin"):
                        continue
                    check(w.req(o, "GET", "/v1/subscriptions/" + sid).status,
                          401 if o == "anon" else 404, "%s subscription read by %s" % (tag, o))
                    check(w.req(o, "DELETE", "/v1/subscriptions/" + sid).status,
                          401 if o == "anon" else 404, "%s subscription delete by %s" % (tag, o))
                check(w.req(k, "DELETE", "/v1/subscriptions/" + sid).status, 204,
                      "%s subscription delete by its creator" % tag)
            # writes
            r = w.req(k, "POST", pp + "/events", {"user": PII, "n": 7})
            check(r.status, expect_write(k, v, 201), "%s publish" % tag)
            r = w.req(k, "GET", prod + "/accesses")
            check(r.status, expect_write(k, v, 200), "%s accesses" % tag)
            r = w.req(k, "PUT", "/v1/dataproduct", descriptor(v), "application/yaml")
            check(r.status, expect_write(k, v, 200), "%s apply (PUT, unchanged)" % tag)
            if k not in OWNS:
                key = {"environment": "default", "domain": DOMAIN, "name": v[:4],
                       "version": "1.0.0"}
                r = w.req(k, "DELETE", "/v1/dataproduct", key)
                check(r.status, expect_write(k, v, 202), "%s delete" % tag)
    # policies: global changes are the admin's; domain changes the domain's owners
    # (the domain group, not a product's owner)
    pol_global = {"owner": 403, "member": 403, "allowed": 403, "other": 403, "admin": 200,
                  "anon": 401}
    pol_domain = {"owner": 403, "member": 200, "allowed": 403, "other": 403, "admin": 200,
                  "anon": 401}
    for k in KINDS:
        check(w.req(k, "DELETE", "/v1/global-policies").status, pol_global[k],
              "%s global policy change" % k)
        check(w.req(k, "DELETE", "/v1/domains/%s/policies" % DOMAIN).status, pol_domain[k],
              "%s domain policy change" % k)
        check(w.req(k, "GET", "/v1/global-policies").status, 401 if k == "anon" else 200,
              "%s global policy read" % k)
    # a hidden product and a missing one get the same answer
    a = w.req("other", "GET", "/v1/products/%s/priv/versions" % DOMAIN)
    b = w.req("other", "GET", "/v1/products/%s/nope/versions" % DOMAIN)
    eq((a.status, a.body["code"], a.body["title"]), (b.status, b.body["code"], b.body["title"]),
       "hidden == missing")
    eq(a.body["detail"].replace("priv", "X"), b.body["detail"].replace("nope", "X"),
       "hidden == missing (message)")
    # the owner deletes
    key = {"environment": "default", "domain": DOMAIN, "name": "publ", "version": "1.0.0"}
    eq(w.req("owner", "DELETE", "/v1/dataproduct", key).status, 202, "owner delete")
    sink.stop()
    if fails:
        raise AssertionError("%d matrix cells wrong:\n  " % len(fails) + "\n  ".join(fails))
    everything = w.srv.logs() + "\n".join(w.replies)
    everything += open(os.path.join(w.srv.data_dir, "audit.log")).read()
    for s in w.secrets():
        assert s not in everything, "a token leaked into the output"


def data_of(events):
    return [e.get("data") for e in events]


def test_masking_every_read_path():
    w = World()
    w.deploy_all()
    v = "public"
    pp = port_path(v)
    sinks = {}
    for k in ("other", "owner"):
        sinks[k] = Sink()
        r = w.req(k, "POST", "/v1/subscriptions",
                  {"product": "%s/publ" % DOMAIN, "port": "events", "sink": sinks[k].url,
                   "from": "start"})
        eq(r.status, 201, "subscribe %s" % k)
    for k in ("other", "owner", "allowed", "admin"):
        masked = k not in SEES_PII
        want_user = "***" if masked else PII
        # events (array and NDJSON)
        r = w.req(k, "GET", pp + "/events?from=1")
        eq({d["user"] for d in data_of(r.body)}, {want_user}, "%s events" % k)
        r = w.req(k, "GET", pp + "/events?from=1", headers={"Accept": "application/x-ndjson"})
        lines = [json.loads(x) for x in r.body.splitlines()] if isinstance(r.body, str) \
            else [r.body]
        eq({e["data"]["user"] for e in lines}, {want_user}, "%s ndjson" % k)
        # a filtered read is masked too, and a filter cannot name the data to probe it
        q = urllib.parse.quote("type LIKE '%'")
        r = w.req(k, "GET", pp + "/events?from=1&filter=" + q)
        eq({d["user"] for d in data_of(r.body)}, {want_user}, "%s filtered events" % k)
        q = urllib.parse.quote("data = '%s'" % PII)
        r = w.req(k, "GET", pp + "/events?from=1&filter=" + q)
        eq(r.status, 200, "filter over data")
        eq(len(r.body), 0, "%s: a filter over the masked data matches nothing" % k)
        # SSE
        st, s, f = sse_open(w, k, pp + "/subscribe?from=1")
        eq(st, 200, "sse")
        got, _ = sse_events(f, 3, 3)
        s.close()
        eq({e["data"]["user"] for e in got}, {want_user}, "%s sse" % k)
        # rejected view
        r = w.req(k, "GET", pp + "/rejected")
        ev = r.body["rejected"][0]["event"]
        ev_user = ev["data"]["user"] if "data" in ev else ev.get("user")
        eq(ev_user, want_user, "%s rejected" % k)
        if masked:
            assert PII not in json.dumps(r.body), "rejected view leaks the value"
    # catalog sample events are masked too (when the catalog shows samples)
    r = w.req("other", "GET", "/v1/catalog/products/%s/publ" % DOMAIN)
    eq(r.status, 200, "catalog entry")
    assert PII not in json.dumps(r.body), "catalog entry leaks a classified value"
    # push sinks
    eq({e[1]["data"]["user"] for e in sinks["other"].wait(3)}, {"***"}, "push, masked")
    eq({e[1]["data"]["user"] for e in sinks["owner"].wait(3)}, {PII}, "push, owner")
    for s in sinks.values():
        s.stop()


def test_revocation_live_sse_and_push():
    w = World()
    r = w.create(descriptor("protected"))
    eq(r.status, 202, "deploy")
    w.wait_created("default", DOMAIN, "prot", "1.0.0")
    pp = port_path("protected")
    sink = Sink()
    r = w.req("allowed", "POST", "/v1/subscriptions",
              {"product": "%s/prot" % DOMAIN, "port": "events", "sink": sink.url,
               "from": "end"})
    eq(r.status, 201, "push subscription by the allowed reader")
    st, s, f = sse_open(w, "allowed", pp + "/subscribe")
    eq(st, 200, "allowed reader subscribes")
    eq(w.req("owner", "POST", pp + "/events", {"user": PII, "n": 1}).status, 201, "publish")
    got, _ = sse_events(f, 1, 5)
    eq(len(got), 1, "the reader receives while allowed")
    sink.wait(1)
    # the owner withdraws finance's access: PUT, same version, new allow[]
    r = w.req("owner", "PUT", "/v1/dataproduct", descriptor("protected", allow=("legal",)),
              "application/yaml")
    assert r.status in (200, 202), r.body
    t0 = time.time()
    got, ended = sse_events(f, 1, 3)
    # the stream ends within about a second of the change (before any new event)
    assert ended, "the SSE stream did not end after revocation"
    assert time.time() - t0 < 2.5, "revocation took %.2fs" % (time.time() - t0)
    s.close()
    time.sleep(1.2)
    eq(w.req("owner", "POST", pp + "/events", {"user": PII, "n": 2}).status, 201, "publish")
    time.sleep(1.5)
    eq(len(sink.events), 1, "push stopped after revocation")
    eq(w.req("allowed", "GET", pp + "/events").status, 404, "reads refused after revocation")
    sink.stop()


def test_provisioner_callback_with_auth():
    w = World(prov=True)
    req3a = """name: test_name
domain: test_domain
version: 1.0.1
environment: {name: test, specific: {}}
outputPorts:
  - name: test_s3
    resourceType: raw
    technology: s3cdp
    description: my s3 directory
    allow: [dmp-test-1, dmp-test-2]
    owner: alice
    specific: {directory: test_dir/full, bucket: ms-datamesh-s3}
    dependsOn: []
workloads: []
observability: []
"""
    # test_domain has no owner group among the principals: the admin creates it, for alice
    r = w.req("admin", "POST", "/v1/dataproduct", req3a, "application/yaml")
    eq(r.status, 202, "deploy: %s" % r.body)
    deadline = time.time() + 20
    state = None
    while time.time() < deadline:
        r = w.req("owner", "GET", "/v1/dataproduct/state/test/test_domain/test_name/1.0.1")
        state = r.body.get("state")
        if state == "CREATED":
            break
        time.sleep(0.1)
    eq(state, "CREATED", "the 3A request reaches CREATED with --tokens")
    # forged reports: no token, a wrong token, a user's token
    rep = {"environment": "test", "domain": "test_domain", "dataProduct": "test_name",
           "version": "1.0.1", "name": "test_s3", "state": "FAILED"}
    eq(w.req(None, "POST", "/v1/state/dataproduct/resource", rep).status, 401, "no token")
    bad = dict(rep, callbackToken="dmpcb_" + "A" * 43)
    eq(w.req(None, "POST", "/v1/state/dataproduct/resource", bad).status, 401, "wrong token")
    eq(w.req(None, "POST", "/v1/state/dataproduct/resource", rep,
             headers={"Authorization": "Bearer " + CANARY}).status, 401, "canary token")
    eq(w.req("other", "POST", "/v1/state/dataproduct/resource", rep).status, 403, "user token")
    r = w.req("owner", "GET", "/v1/dataproduct/state/test/test_domain/test_name/1.0.1")
    eq(r.body.get("state"), "CREATED", "forged reports changed nothing")
    # the callback token never shows in a log
    w.srv.stop()
    w.prov.stop()
    logs = w.srv.logs() + open(os.path.join(w.prov.root, "provisioner.log")).read()
    assert "dmpcb_" not in logs, "a callback token was logged"
    for s in w.secrets():
        assert s not in logs + "\n".join(w.replies), "a token leaked"


def test_path_traversal_every_route():
    w = World()
    w.deploy_all()
    bad = ["..", "%2e%2e", "a%2fb", "..%2f..%2fetc", "%2F", "a%00b", "..%5c.."]
    routes = [
        "/v1/products/{p}/x/ports/events/events", "/v1/products/sales/{p}/ports/events/events",
        "/v1/products/sales/publ/ports/{p}/events", "/v1/products/sales/publ/ports/{p}/subscribe",
        "/v1/products/sales/publ/ports/{p}/rejected", "/v1/products/sales/publ/ports/{p}/stream",
        "/v1/products/{p}/publ", "/v1/products/sales/{p}", "/v1/products/sales/{p}/versions",
        "/v1/products/sales/{p}/asyncapi", "/v1/products/sales/{p}/openapi",
        "/v1/products/sales/{p}/accesses", "/v1/catalog/products/sales/{p}",
        "/v1/lineage/sales/{p}", "/v1/subscriptions/{p}", "/v1/domains/{p}/policies",
        "/v1/dataproduct/state/{p}/sales/publ/1.0.0", "/v1/dataproduct/state/default/sales/publ/{p}",
        "/v1/state/dataproduct/resource/default/sales/publ/1.0.0/{p}", "/assets/{p}",
    ]
    before = set(os.listdir(os.path.dirname(w.srv.data_dir)))
    for route in routes:
        for b in bad:
            path = route.replace("{p}", b)
            for method in ("GET", "DELETE", "PUT", "POST"):
                r = w.req("admin", method, path, body="{}" if method in ("PUT", "POST") else None,
                          ctype="application/json" if method in ("PUT", "POST") else None)
                assert r.status in (400, 404, 405, 415, 422), \
                    "%s %s answered %s: %s" % (method, path, r.status, r.body)
    # nothing was created outside the data dir, and the server is still well
    eq(set(os.listdir(os.path.dirname(w.srv.data_dir))) - before, set(), "files outside")
    eq(w.req("admin", "GET", "/healthz").status, 200, "alive")


# ---- one product, three ports: each port's pieces reach only its readers (H1)

MIX_PORTS = [("pubport", "public"), ("protport", "protected"), ("privport", "private")]


def mixed_descriptor(version="1.0.0"):
    ports = ""
    for pn, vis in MIX_PORTS:
        ports += """  - name: %s
    type: stream
    visibility: %s
    allow: [%s]
    schema:
      type: object
      required: [f_%s]
      properties:
        f_%s: {type: string}
""" % (pn, vis, "finance" if vis == "protected" else "", pn, pn)
    return """name: mix
domain: %s
version: %s
owner: alice
tags: [mixed]
outputPorts:
%s""" % (DOMAIN, version, ports)


def mixed_world():
    w = World()
    r = w.create(mixed_descriptor())
    eq(r.status, 202, "deploy mix: %s" % r.body)
    w.wait_created("default", DOMAIN, "mix", "1.0.0")
    for pn, _ in MIX_PORTS:
        path = "/v1/products/%s/mix/ports/%s/events" % (DOMAIN, pn)
        r = w.req("owner", "POST", path, {"f_" + pn: "sample-of-" + pn})
        eq(r.status, 201, "publish to %s: %s" % (pn, r.body))
    return w


def test_mixed_visibility_ports():
    w = mixed_world()
    fails = []
    paths = ["/v1/products/%s/mix" % DOMAIN, "/v1/catalog/products/%s/mix" % DOMAIN,
             "/v1/products/%s/mix/asyncapi" % DOMAIN, "/v1/products/%s/mix/openapi" % DOMAIN,
             "/v1/dataproduct/state/default/%s/mix/1.0.0" % DOMAIN]
    for k in KINDS:
        for path in paths:
            r = w.req(k, "GET", path)
            # the product is readable by whoever reads its most open (public) port
            if r.status != expect_read(k, "public"):
                fails.append("%s GET %s: %s" % (k, path, r.status))
                continue
            if k == "anon":
                continue
            text = json.dumps(r.body)
            for pn, vis in MIX_PORTS:
                sees = vis in READS[k]
                # the port's name (entries, resources, channels, paths) and its schema
                if (pn in text) != sees:
                    fails.append("%s GET %s: port %s present=%s" % (k, path, pn, pn in text))
                if ("f_" + pn in text) != sees and "state" not in path:
                    fails.append("%s GET %s: schema of %s present=%s"
                                 % (k, path, pn, "f_" + pn in text))
                # sample events (the catalog views carry them)
                if "asyncapi" not in path and "openapi" not in path and "state" not in path \
                        and sees and "sample-of-" + pn not in text:
                    fails.append("%s GET %s: no sample of readable port %s" % (k, path, pn))
                if not sees and "sample-of-" + pn in text:
                    fails.append("%s GET %s: sample of hidden port %s" % (k, path, pn))
        if k != "anon":
            for pn, vis in MIX_PORTS:
                path = "/v1/state/dataproduct/resource/default/%s/mix/1.0.0/%s" % (DOMAIN, pn)
                r = w.req(k, "GET", path)
                want = 200 if vis in READS[k] else 404
                if r.status != want:
                    fails.append("%s GET resource state %s: %s, want %s"
                                 % (k, pn, r.status, want))
    if fails:
        raise AssertionError("%d cells wrong:\n  " % len(fails) + "\n  ".join(fails))


# A consumer of the mixed product's public and private ports, for the graphs.
MIX_USER = """name: mixuser
domain: %s
version: 1.0.0
owner: alice
inputPorts:
  - {name: in_a, product: %s/mix, port: pubport}
  - {name: in_b, product: %s/mix, port: privport}
outputPorts:
  - name: usage
    type: stream
    visibility: public
    schema: {type: object, properties: {n: {type: integer}}}
""" % (DOMAIN, DOMAIN, DOMAIN)


def test_search_and_graphs_per_port():
    """Search matches only text the caller may read, and results, lineage and topology
    name only the ports the caller may read (docs/security.md, "Per-port views")."""
    w = mixed_world()
    r = w.req("member", "POST", "/v1/register", MIX_USER, "application/yaml")
    eq(r.status, 201, "register mixuser: %s" % r.body)
    fails = []
    for k in KINDS:
        hidden = [pn for pn, vis in MIX_PORTS if vis not in READS[k]]
        # a field of one port finds the product only for that port's readers
        for pn, vis in MIX_PORTS:
            r = w.req(k, "GET", "/v1/search?q=f_" + pn)
            if k == "anon":
                if r.status != 401:
                    fails.append("anon search: %s" % r.status)
                continue
            ids = [x["name"] for x in r.body.get("results", [])]
            want = ["mix"] if vis in READS[k] else []
            if ids != want:
                fails.append("%s search f_%s: %s, want %s" % (k, pn, ids, want))
        if k == "anon":
            continue
        # a prefix or a two-word query that needs the hidden field finds nothing either
        for q in ("mixed%20f_priv", "f_privp"):
            r = w.req(k, "GET", "/v1/search?q=" + q)
            ids = [x["name"] for x in r.body.get("results", [])]
            want = ["mix"] if "private" in READS[k] else []
            if ids != want:
                fails.append("%s search %s: %s, want %s" % (k, q, ids, want))
        # product-level text finds it; the result lists the readable ports only
        r = w.req(k, "GET", "/v1/search?q=mixed")
        res = [x for x in r.body.get("results", []) if x["name"] == "mix"]
        if len(res) != 1:
            fails.append("%s search mixed: %s" % (k, r.body))
        else:
            got = sorted(p["name"] for p in res[0]["ports"])
            want = sorted(pn for pn, vis in MIX_PORTS if vis in READS[k])
            if got != want:
                fails.append("%s search result ports %s, want %s" % (k, got, want))
        for path in ("/v1/search?q=mixed", "/v1/search?q=mix",
                     "/v1/search?q=&domain=" + DOMAIN,
                     "/v1/lineage/%s/mix?direction=both" % DOMAIN,
                     "/v1/lineage/%s/mixuser?direction=up" % DOMAIN, "/v1/topology"):
            r = w.req(k, "GET", path)
            if r.status != 200:
                fails.append("%s GET %s: %s" % (k, path, r.status))
                continue
            text = json.dumps(r.body)
            for pn in hidden:
                if pn in text:
                    fails.append("%s GET %s names hidden port %s" % (k, path, pn))
            if "lineage" in path or "topology" in path:
                edges = r.body["edges"]
                # both edges stay; the one through a hidden port has no port name
                if len([e for e in edges if e.get("to") == DOMAIN + "/mixuser"]) != 2:
                    fails.append("%s GET %s: edges %s" % (k, path, edges))
                for e in edges:
                    if e.get("to") == DOMAIN + "/mixuser" and \
                            ("port" in e) == bool(e.get("hidden")):
                        fails.append("%s GET %s: edge %s" % (k, path, e))
                nodes = {n["key"]: n for n in r.body["nodes"]}
                mix = nodes.get(DOMAIN + "/mix")
                if mix is None:
                    fails.append("%s GET %s: no mix node" % (k, path))
                else:
                    got = sorted(p["name"] for p in mix.get("ports", []))
                    want = sorted(pn for pn, vis in MIX_PORTS if vis in READS[k])
                    if got != want:
                        fails.append("%s GET %s: mix ports %s, want %s" % (k, path, got, want))
    if fails:
        raise AssertionError("%d cells wrong:\n  " % len(fails) + "\n  ".join(fails))


# ---- changes that need the owner, the domain's owner group or the admin (H2-H5)

def test_changes_need_ownership():
    w = World()
    w.deploy_all()
    fails = []

    def check(got, want, what):
        if got != want:
            fails.append("%s: got %s, want %s" % (what, got, want))

    for k in KINDS:
        # H4: the provisioner registry: changes are the admin's, reads anyone's
        reg = {"technology": "evil%s" % k, "provisioner": "http://u:sekret@127.0.0.1:1/p?key=k3y"}
        r = w.req(k, "PUT", "/v1/provisioners", reg)
        check(r.status, {"admin": 200, "anon": 401}.get(k, 403), "%s PUT provisioners" % k)
        r = w.req(k, "GET", "/v1/provisioners")
        check(r.status, 401 if k == "anon" else 200, "%s GET provisioners" % k)
        if k not in ("anon", "admin"):
            text = json.dumps(r.body)
            check("sekret" in text or "k3y" in text, False, "%s sees provisioner secrets" % k)
        # H3: a new product needs the domain's owner group
        new = descriptor("public").replace("name: publ", "name: new%s" % k).replace(
            "owner: alice", "owner: %s" % {"owner": "alice", "member": "bob", "allowed": "carol",
                                           "other": "eve", "admin": "root", "anon": "x"}[k])
        r = w.req(k, "POST", "/v1/dataproduct", new, "application/yaml")
        check(r.status, 401 if k == "anon" else 202 if k in CREATES else 404,
              "%s creates a product in %s" % (k, DOMAIN))
        for v in VIS:
            tag = "%s/%s" % (k, v)
            key = {"environment": "default", "domain": DOMAIN, "name": v[:4],
                   "version": "1.0.0"}
            # H5: setting a product's state
            r = w.req(k, "PUT", "/v1/state/dataproduct", dict(key, state="CREATED"))
            check(r.status, expect_write(k, v, 200), "%s set state" % tag)
            if k in OWNS:
                continue
            # H2: a take-over under another environment name, or through the catalog
            hijack = descriptor(v).replace("owner: alice", "owner: %s" % k) \
                + "environment: evil\n"
            r = w.req(k, "POST", "/v1/dataproduct", hijack, "application/yaml")
            check(r.status, expect_write(k, v, 202), "%s deploy under another env" % tag)
            r = w.req(k, "POST", "/v1/register", descriptor(v, "9.0.0", owner=k),
                      "application/yaml")
            check(r.status, expect_write(k, v, 201), "%s register over it" % tag)
    # the owner still owns everything, and the catalog entries still name alice
    for v in VIS:
        r = w.req("admin", "GET", "/v1/catalog/products/%s/%s" % (DOMAIN, v[:4]))
        check((r.body.get("owner"), r.body.get("version")), ("alice", "1.0.0"),
              "catalog entry of %s" % v)
    check(w.req("owner", "PUT", "/v1/state/dataproduct",
                {"environment": "default", "domain": DOMAIN, "name": "publ",
                 "version": "1.0.0", "state": "CREATED"}).status, 200, "owner sets state")
    # hidden and missing products answer alike: state, delete by path, PUT
    for k in ("other", "allowed"):
        for method, path, body in [
                ("PUT", "/v1/state/dataproduct",
                 {"environment": "default", "domain": DOMAIN, "name": "NAME",
                  "version": "1.0.0", "state": "FAILED"}),
                ("DELETE", "/v1/dataproduct/default/%s/NAME/1.0.0" % DOMAIN, None),
                ("PUT", "/v1/dataproduct",
                 descriptor("private").replace("name: priv", "name: NAME"))]:
            def ask(name):
                b = json.loads(json.dumps(body).replace("NAME", name)) \
                    if isinstance(body, dict) else body.replace("NAME", name) if body else None
                r = w.req(k, method, path.replace("NAME", name), b,
                          "application/yaml" if isinstance(b, str) else None)
                return (r.status, r.body.get("code"),
                        r.body.get("detail", "").replace(name, "X"))
            check(ask("priv"), ask("nope"), "%s %s %s: hidden == missing" % (k, method, path))
            check(ask("priv")[0], 404, "%s %s %s: 404" % (k, method, path))
    if fails:
        raise AssertionError("%d cells wrong:\n  " % len(fails) + "\n  ".join(fails))
    for s in w.secrets():
        assert s not in w.srv.logs() + "\n".join(w.replies), "a token leaked"


# ---- (c) a push subscription ends when its creator's token is removed

def test_push_stops_when_token_removed():
    w = World()
    w.deploy_all()
    pp = port_path("public")
    sink = Sink()
    r = w.req("allowed", "POST", "/v1/subscriptions",
              {"product": "%s/publ" % DOMAIN, "port": "events", "sink": sink.url,
               "from": "end"})
    eq(r.status, 201, "push subscription by carol")
    eq(w.req("owner", "POST", pp + "/events", {"user": PII, "n": 1}).status, 201, "publish")
    sink.wait(1)
    keep = [ln for ln in open(w.tokens) if '"carol"' not in ln]
    with open(w.tokens + ".new", "w") as f:
        f.writelines(keep)
    os.rename(w.tokens + ".new", w.tokens)
    deadline = time.time() + 5
    while time.time() < deadline and w.req("allowed", "GET", "/v1/streams").status != 401:
        time.sleep(0.2)
    time.sleep(1.5)  # the push worker re-checks at least once a second
    eq(w.req("owner", "POST", pp + "/events", {"user": PII, "n": 2}).status, 201, "publish")
    time.sleep(1.5)
    eq(len(sink.events), 1, "push stopped after the creator's token was removed")
    sink.stop()


run(globals())
