"""End-to-end: authentication, authorization of changes, the accesses endpoint, TLS,
dev mode, and secrets kept out of every output -- against the real `dmp serve`."""
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from dmptest import *  # noqa: E402,F401,F403


CANARY = "dmp_CANARY0canary0CANARY0canary0CANARY0canary0"


def make_token(tokens, principal, *extra):
    r = cli("token", "create", "--tokens", tokens, "--principal", principal, *extra)
    eq(r.returncode, 0, "token create: " + r.stderr)
    tok = r.stdout.strip()
    assert tok.startswith("dmp_") and len(tok) == 47, tok
    return tok


def auth(tok):
    return {"Authorization": "Bearer " + tok}


class World:
    def __init__(self):
        d = tmpdir()
        self.tokens = os.path.join(d, "tokens.jsonl")
        # the owner is in the domain's owner group: creating a product needs it
        self.owner = make_token(self.tokens, "dmp-test-owner", "--groups", "test_domain")
        self.reader = make_token(self.tokens, "dmp-test-1")
        self.eve = make_token(self.tokens, "eve", "--groups", "other_domain")
        self.admin = make_token(self.tokens, "root", "--admin")
        self.expired = make_token(self.tokens, "old", "--expires", "2001-01-01T00:00:00Z")
        self.secrets = [self.owner, self.reader, self.eve, self.admin, self.expired, CANARY]
        self.replies = []
        self.prov = Provisioner()
        self.srv = Server(args=["--tokens", self.tokens, "--provisioner",
                                "s3cdp=" + self.prov.url])

    def req(self, method, path, tok=None, body=None, ctype=None, headers=None):
        h = dict(headers or {})
        if tok:
            h.update(auth(tok))
        r = self.srv.req(method, path, body, ctype, h)
        self.replies.append(json.dumps(r.body) + str(dict(r.headers.items())))
        return r


def test_token_file_holds_no_secret():
    w = World()
    text = open(w.tokens).read()
    for s in w.secrets:
        assert s not in text, "a token is stored in clear"
    r = cli("token", "list", "--tokens", w.tokens, "-o", "json")
    eq(r.returncode, 0, "token list")
    recs = json.loads(r.stdout)
    eq(sorted(x["principal"] for x in recs), ["dmp-test-1", "dmp-test-owner", "eve", "old", "root"],
       "principals")
    assert "sha256" not in r.stdout
    eq(oct(os.stat(w.tokens).st_mode & 0o777), "0o600", "tokens file mode")
    r = cli("token", "create", "--tokens", w.tokens)
    eq(r.returncode, 64, "missing --principal is a usage error")


def test_401s_and_probes():
    w = World()
    eq(w.req("GET", "/healthz").status, 200, "probes are public")
    cases = [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer " + CANARY, "Bearer " + w.expired,
             "Bearer a.b.c", "Bearer " + CANARY + "\"x"]
    for h in cases:
        hdr = {"Authorization": h} if h is not None else {}
        r = w.req("GET", "/v1/dataproduct/state/test/test_domain/test_name/1.0.1", headers=hdr)
        eq(r.status, 401, "status for %r" % (h and h[:12]))
        contains(r.headers.get("WWW-Authenticate", ""), "Bearer", "WWW-Authenticate")
        eq(r.body["code"], "DMP_UNAUTHENTICATED", "problem code")
        eq(r.headers.get("Content-Type"), "application/problem+json", "problem type")
    # unknown paths also need a caller, so they cannot be probed anonymously
    eq(w.req("GET", "/v1/nothing-here").status, 401, "unknown path, anonymous")
    eq(w.req("GET", "/v1/nothing-here", w.eve).status, 404, "unknown path, authenticated")
    eq(w.req("GET", "/v1/dataproduct/state/test/test_domain/test_name/1.0.1", w.eve).status, 404,
       "valid token passes authentication")


def test_deploy_delete_authorization_and_accesses():
    w = World()
    # a new product needs the owner group of its domain: naming oneself owner is not enough
    # (and the answer is the one a hidden product gets, so it probes nothing)
    eve_3a = REQUEST_3A.replace("owner: dmp-test-owner", "owner: eve")
    r = w.req("POST", "/v1/dataproduct", w.eve, eve_3a, "application/yaml")
    eq(r.status, 404, "create by a stranger naming herself owner")
    r = w.req("POST", "/v1/dataproduct", w.reader, REQUEST_3A, "application/yaml")
    eq(r.status, 404, "create by a reader outside the domain")
    # the port owner, in the domain's owner group, deploys
    r = w.req("POST", "/v1/dataproduct", w.owner, REQUEST_3A, "application/yaml")
    eq(r.status, 202, "deploy by the owner: %s" % r.body)
    # eve cannot see the (protected) product: 404, as if it did not exist
    r = w.req("POST", "/v1/dataproduct", w.eve, REQUEST_3A, "application/yaml")
    eq(r.status, 404, "deploy by a stranger")
    # dmp-test-1 is allowed to read, but is not the owner: 403
    r = w.req("POST", "/v1/dataproduct", w.reader, REQUEST_3A, "application/yaml")
    eq(r.status, 403, "deploy by a reader")
    eq(r.body["code"], "DMP_DENIED", "denied code")
    # nor under another environment name, nor by registering it in the catalog
    other_env = eve_3a.replace("environment: {name: test", "environment: {name: eves")
    eq(w.req("POST", "/v1/dataproduct", w.eve, other_env, "application/yaml").status, 404,
       "take-over by deploying under another environment")
    eq(w.req("POST", "/v1/register", w.eve, eve_3a, "application/yaml").status, 404,
       "take-over by registering")
    eq(w.req("POST", "/v1/register", w.reader,
             REQUEST_3A.replace("owner: dmp-test-owner", "owner: dmp-test-1"),
             "application/yaml").status, 403, "take-over by registering, as a reader")
    # eve creates in her own domain
    mine = eve_3a.replace("domain: test_domain", "domain: other_domain")
    r = w.req("POST", "/v1/dataproduct", w.eve, mine, "application/yaml")
    eq(r.status, 202, "create in one's own domain: %s" % r.body)
    # once deployed, the stored ACL governs: eve cannot claim ownership by declaring it
    hijack = REQUEST_3A.replace("owner: dmp-test-owner", "owner: eve")
    eq(w.req("POST", "/v1/dataproduct", w.eve, hijack, "application/yaml").status, 404,
       "hijack by re-declaring the owner")
    key = {"environment": "test", "domain": "test_domain", "name": "test_name",
           "version": "1.0.1"}
    eq(w.req("DELETE", "/v1/dataproduct", w.eve, key).status, 404, "delete by a stranger")
    eq(w.req("DELETE", "/v1/dataproduct", w.reader, key).status, 403, "delete by a reader")
    # accesses: owner and admin only
    path = "/v1/products/test_domain/test_name/accesses"
    eq(w.req("GET", path, w.eve).status, 404, "accesses by a stranger")
    eq(w.req("GET", path, w.reader).status, 403, "accesses by a reader")
    r = w.req("GET", path, w.owner)
    eq(r.status, 200, "accesses by the owner")
    recs = r.body["accesses"]
    seen = {(x["principal"], x["action"], x["outcome"]) for x in recs}
    for want in [("eve", "apply", "notfound"), ("dmp-test-1", "apply", "denied"),
                 ("dmp-test-owner", "apply", "allowed"), ("eve", "delete", "notfound"),
                 ("dmp-test-1", "delete", "denied"), ("dmp-test-1", "accesses", "denied")]:
        assert want in seen, "missing %s in %s" % (want, seen)
    for x in recs:
        for k in ("time", "principal", "product", "port", "action", "outcome", "status"):
            assert k in x, "record lacks %s" % k
    eq(w.req("GET", path + "?limit=2", w.admin).body["accesses"].__len__(), 2, "limit")
    eq(w.req("GET", path + "?limit=0", w.admin).status, 400, "bad limit")
    eq(w.req("GET", "/v1/products/test_domain/nope/accesses", w.admin).status, 404, "unknown")
    # the owner may delete: 202, or 409 while the product is still in transit (the example
    # provisioner reports back with its callback token, which may not have arrived yet) --
    # either way authorization let it through
    st = w.req("DELETE", "/v1/dataproduct", w.owner, key).status
    assert st in (202, 409), "delete by the owner: %s" % st
    # the audit file has JSON lines
    lines = open(os.path.join(w.srv.data_dir, "audit.log")).read().splitlines()
    assert len(lines) >= 8, lines
    for ln in lines:
        json.loads(ln)
    # the access log names the principal
    contains(w.srv.logs(), '"principal":"dmp-test-owner"', "access log")
    # no secret in any output: server log, audit log, replies
    w.srv.stop()
    everything = w.srv.logs() + "\n".join(lines) + "\n".join(w.replies)
    for s in w.secrets:
        assert s not in everything, "a token leaked into the output"
    assert CANARY[4:20] not in everything, "part of the canary leaked"


def test_cli_with_token():
    w = World()
    f = write(os.path.join(tmpdir(), "dp.yaml"), REQUEST_3A)
    # without a token the server refuses, and the CLI says how to pass one
    r = w.srv.cli("plan", f)
    eq(r.returncode, 1, "plan without a token")
    contains(r.stderr, "DMP_TOKEN", "the 401 hint")
    # DMP_TOKEN
    r = w.srv.cli("plan", f, env={"DMP_TOKEN": w.owner})
    eq(r.returncode, 2, "plan with DMP_TOKEN (2: changes pending): " + r.stderr)
    contains(r.stdout, "create", "plan output")
    # --token, and a token the server does not know
    r = w.srv.cli("apply", f, "--token", w.owner, "--timeout", "30")
    eq(r.returncode, 0, "apply with --token: " + r.stdout + r.stderr)
    r = w.srv.cli("plan", f, "--token", CANARY)
    eq(r.returncode, 1, "plan with an unknown token")
    out = r.stdout + r.stderr
    assert CANARY not in out and CANARY[4:20] not in out, "the CLI printed the token"
    # a reader's token: 403 from the server
    r = w.srv.cli("apply", f, env={"DMP_TOKEN": w.reader})
    assert r.returncode != 0 and "DMP_DENIED" in r.stderr, r.stderr
    assert w.reader not in r.stdout + r.stderr, "the CLI printed the token"


def test_revocation_by_file_edit():
    w = World()
    path = "/v1/dataproduct/state/test/test_domain/test_name/1.0.1"
    eq(w.req("GET", path, w.eve).status, 404, "before")
    keep = [ln for ln in open(w.tokens) if '"eve"' not in ln]
    tmp = w.tokens + ".new"
    with open(tmp, "w") as f:
        f.writelines(keep)
    os.rename(tmp, w.tokens)
    deadline = time.time() + 5
    while time.time() < deadline and w.req("GET", path, w.eve).status != 401:
        time.sleep(0.2)
    eq(w.req("GET", path, w.eve).status, 401, "revoked")
    eq(w.req("GET", path, w.owner).status, 404, "others still work")


def test_dev_mode_loopback_only():
    s = Server()
    contains(s.logs(), "authentication is off", "dev mode warning")
    eq(s.req("GET", "/v1/dataproduct/state/a/b/c/1.0.0").status, 404, "dev mode serves")
    s.stop()
    d = tmpdir()
    r = subprocess.run([DMP, "serve", "--listen", "0.0.0.0:%d" % free_port(), "--data-dir", d],
                       capture_output=True, text=True, timeout=20)
    eq(r.returncode, 64, "refused on a public address: " + r.stderr)
    contains(r.stderr, "--tokens", "message")


def test_tls_round_trip():
    d = tmpdir()
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], capture_output=True, timeout=60)
    eq(r.returncode, 0, "openssl: %s" % r.stderr)
    tokens = os.path.join(d, "tokens.jsonl")
    tok = make_token(tokens, "alice", "--groups", "test_domain")
    port = free_port()
    log = open(os.path.join(d, "server.log"), "wb")
    prov = Provisioner()
    p = subprocess.Popen([DMP, "serve", "--listen", "127.0.0.1:%d" % port, "--data-dir", d,
                          "--tokens", tokens, "--tls-cert", cert, "--tls-key", key,
                          "--provisioner", "s3cdp=" + prov.url],
                         stdout=log, stderr=log)
    try:
        ctx = ssl.create_default_context(cafile=cert)
        url = "https://127.0.0.1:%d" % port
        deadline = time.time() + 10
        status = None
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(url + "/readyz", context=ctx, timeout=2) as resp:
                    status = resp.status
                    break
            except OSError:
                time.sleep(0.1)
        eq(status, 200, "HTTPS readyz")
        req = urllib.request.Request(url + "/v1/dataproduct/state/a/b/c/1.0.0",
                                     headers=auth(tok))
        try:
            urllib.request.urlopen(req, context=ctx, timeout=5)
            code = 200
        except urllib.error.HTTPError as e:
            code = e.code
        eq(code, 404, "authenticated request over TLS")
        # plain HTTP on the TLS port does not get an API answer
        try:
            st = http("GET", "http://127.0.0.1:%d/healthz" % port, timeout=3).status
        except Exception:
            st = None
        assert st != 200, "plain HTTP was served on the TLS port"
        # the CLI over TLS: --cacert (or DMP_CACERT) trusts the server's certificate
        f = write(os.path.join(d, "dp.yaml"), REQUEST_3A)
        env = dict(os.environ, NO_COLOR="1", DMP_SERVER=url)
        r = cli("plan", f, "--token", tok, "--cacert", cert, env=env)
        eq(r.returncode, 2, "dmp plan over TLS (2: changes pending): " + r.stderr)
        contains(r.stdout, "create", "plan output")
        r = cli("plan", f, env=dict(env, DMP_TOKEN=tok, DMP_CACERT=cert))
        eq(r.returncode, 2, "dmp plan over TLS (environment): " + r.stderr)
        r = cli("plan", f, "--token", tok, env=env)
        assert r.returncode not in (0, 2), "an unknown certificate was trusted"
        assert tok not in r.stdout + r.stderr, "the CLI printed the token"
    finally:
        p.terminate()
        p.wait(timeout=10)
        log.close()
    text = open(os.path.join(d, "server.log")).read()
    contains(text, "https://127.0.0.1", "the listening URL says https")
    assert tok not in text
    # a key without its certificate is refused
    r = subprocess.run([DMP, "serve", "--listen", "127.0.0.1:0", "--data-dir", d,
                        "--tls-key", key], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "tls-cert" in r.stderr, r.stderr


run(globals())
