"""End-to-end: the provisioning coordinator of DESIGN 3A against the real server and
the example files provisioner, over loopback."""
import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from dmptest import *  # noqa: E402,F401,F403


KEY = ("test", "test_domain", "test_name", "1.0.1")


def setup(prov_args=(), server_args=()):
    p = Provisioner(prov_args)
    s = Server(args=["--provisioner", "s3cdp=" + p.url] + list(server_args))
    return s, p


def test_example_file_is_the_3a_request():
    with open(os.path.join(SOURCE, "examples", "products", "s3cdp.yaml")) as f:
        eq(f.read(), REQUEST_3A, "examples/products/s3cdp.yaml is the DESIGN 3A request verbatim")


def test_happy_path_3a_request_unchanged():
    s, p = setup()
    r = s.req("POST", "/v1/dataproduct", REQUEST_3A, "application/yaml")
    eq(r.status, 202, "deploy status")
    eq(r.body["operation"], "create", "operation")
    st = s.wait_state(*KEY, "CREATED")
    eq(st["resources"][0]["state"], "CREATED", "resource state")
    d = os.path.join(p.root, "ms-datamesh-s3", "test_dir", "full")
    assert os.path.isdir(d), "provisioner did not create %s" % d
    grants = open(find_grants(p.root)).read()
    contains(grants, "dmp-test-owner", "grants")
    contains(grants, "dmp-test-1", "grants")
    # Both state endpoints agree.
    r2 = s.req("GET", "/v1/state/dataproduct/%s/%s/%s/%s" % KEY)
    eq(r2.body["state"], "CREATED", "state service")
    r3 = s.req("GET", "/v1/state/dataproduct/resource/%s/%s/%s/%s/test_s3" % KEY)
    eq(r3.status, 200, "resource state status")
    eq(r3.body["state"], "CREATED", "resource state")
    # Delete it to DELETED.
    r = s.req("DELETE", "/v1/dataproduct", REQUEST_3A, "application/yaml")
    eq(r.status, 202, "delete status")
    s.wait_state(*KEY, "DELETED")
    assert not os.path.exists(d), "directory still there after delete"


def find_grants(root):
    for dp, dn, fn in os.walk(root):
        for f in fn:
            if "grant" in f:
                return os.path.join(dp, f)
    raise AssertionError("no grants file under %s" % root)


def test_cli_apply_plan_no_changes_and_update_acl():
    s, p = setup()
    d = tmpdir()
    f = write(os.path.join(d, "product.yaml"), REQUEST_3A)
    r = s.cli("plan", f)
    eq(r.returncode, 2, "plan exit before apply: " + r.stderr)
    contains(r.stdout, "create", "plan output")
    r = s.cli("apply", f)
    eq(r.returncode, 0, "apply exit: " + r.stderr + r.stdout)
    contains(r.stdout, "CREATED", "apply output")
    r = s.cli("plan", f)
    eq(r.returncode, 0, "plan exit after apply: " + r.stderr)
    contains(r.stdout, "no changes", "plan output")
    r = s.cli("apply", f)
    eq(r.returncode, 0, "re-apply exit")
    contains(r.stdout.lower(), "no changes", "re-apply output")
    # ACL change on the same version: an update.
    f2 = write(os.path.join(d, "acl.yaml"), REQUEST_3A.replace("dmp-test-2]", "dmp-test-2, dmp-test-3]"))
    r = s.cli("plan", f2, "-o", "json")
    eq(r.returncode, 2, "plan exit for ACL change: " + r.stderr)
    eq(json.loads(r.stdout)["operation"], "update", "plan operation")
    r = s.cli("apply", f2)
    eq(r.returncode, 0, "apply ACL change: " + r.stderr)
    contains(open(find_grants(p.root)).read(), "dmp-test-3", "updated grants")
    # PUT with ACL change works too.
    body = REQUEST_3A.replace("dmp-test-2]", "dmp-test-4]")
    r = s.req("PUT", "/v1/dataproduct", body, "application/yaml")
    eq(r.status, 202, "PUT acl status: %s" % (r.body,))
    s.wait_state(*KEY, "CREATED")
    # status / list / get
    r = s.cli("status", f, "-o", "json")
    eq(r.returncode, 0, "status exit")
    eq(json.loads(r.stdout)["state"], "CREATED", "status state")
    r = s.cli("list", "-o", "json")
    eq(r.returncode, 0, "list exit")
    assert any(x["name"] == "test_name" for x in json.loads(r.stdout)), r.stdout
    r = s.cli("get", "test_domain/test_name", "-o", "json")
    eq(r.returncode, 0, "get exit: " + r.stderr)
    r = s.cli("delete", f)
    eq(r.returncode, 0, "delete exit: " + r.stderr)
    contains(r.stdout, "DELETED", "delete output")


def test_immutable_version_refused():
    s, p = setup()
    r = s.req("POST", "/v1/dataproduct", REQUEST_3A, "application/yaml")
    eq(r.status, 202, "deploy")
    s.wait_state(*KEY, "CREATED")
    changed = REQUEST_3A.replace("my s3 directory", "another description")
    r = s.req("POST", "/v1/dataproduct", changed, "application/yaml")
    eq(r.status, 409, "changed same version: %s" % (r.body,))
    eq(r.body["code"], "DMP_IMMUTABLE", "code")
    contains(r.body["detail"], "version", "detail says to bump the version")
    eq(r.headers.get("Content-Type"), "application/problem+json", "content type")
    # The CLI shows the same code and exits 1.
    d = tmpdir()
    r = s.cli("apply", write(os.path.join(d, "p.yaml"), changed))
    eq(r.returncode, 1, "cli exit")
    contains(r.stderr, "DMP_IMMUTABLE", "cli stderr")
    # A new version is accepted.
    r = s.req("POST", "/v1/dataproduct", changed.replace("1.0.1", "1.0.2"), "application/yaml")
    eq(r.status, 202, "bumped version")


def test_conflict_while_in_transit():
    s, p = setup(prov_args=["--delay-ms", "1500"])
    r = s.req("POST", "/v1/dataproduct", REQUEST_3A, "application/yaml")
    eq(r.status, 202, "deploy")
    acl = REQUEST_3A.replace("dmp-test-2]", "dmp-test-9]")
    r = s.req("POST", "/v1/dataproduct", acl, "application/yaml")
    eq(r.status, 409, "second operation while CREATING: %s" % (r.body,))
    eq(r.body["code"], "DMP_CONFLICT", "code")
    contains(r.body["detail"], "test_s3", "names the resource in transit")
    r = s.req("DELETE", "/v1/dataproduct", REQUEST_3A, "application/yaml")
    eq(r.status, 409, "delete while CREATING")
    s.wait_state(*KEY, "CREATED")


def test_failing_provisioner():
    s, p = setup(prov_args=["--fail"])
    s.req("POST", "/v1/dataproduct", REQUEST_3A, "application/yaml")
    st = s.wait_state(*KEY, "FAILED")
    assert st["resources"][0].get("reason"), "reason kept: %s" % st


def test_provisioner_down():
    port = free_port()  # nothing listens here
    s = Server(args=["--provisioner", "s3cdp=http://127.0.0.1:%d" % port])
    s.req("POST", "/v1/dataproduct", REQUEST_3A, "application/yaml")
    st = s.wait_state(*KEY, "FAILED")
    reason = st["resources"][0].get("reason", "")
    assert "refused" in reason.lower() or "connect" in reason.lower(), reason
    d = tmpdir()
    r = s.cli("status", "test/test_domain/test_name/1.0.1")
    contains(r.stdout, "FAILED", "status shows FAILED")


def test_provisioner_never_answers():
    b = Blackhole()
    s = Server(args=["--provisioner", "s3cdp=" + b.url, "--provisioner-timeout-ms", "500"])
    s.req("POST", "/v1/dataproduct", REQUEST_3A, "application/yaml")
    st = s.wait_state(*KEY, "FAILED", timeout=15)
    contains(st["resources"][0].get("reason", "").lower(), "time", "timeout reason")
    b.stop()


def test_no_provisioner_for_technology():
    s = Server()
    r = s.req("POST", "/v1/dataproduct", REQUEST_3A, "application/yaml")
    eq(r.status, 404, "unknown technology: %s" % (r.body,))
    contains(r.body["detail"], "s3cdp", "names the technology")


def test_provisioner_registry_api():
    p = Provisioner()
    s = Server()
    r = s.req("PUT", "/v1/provisioners", {"technology": "s3cdp", "provisioner": p.url})
    eq(r.status, 200, "register: %s" % (r.body,))
    r = s.req("GET", "/v1/provisioners")
    assert any(x.get("technology") == "s3cdp" for x in r.body["provisioners"]), r.body
    # It survives a restart.
    s.restart()
    r = s.req("GET", "/v1/provisioners")
    assert any(x.get("technology") == "s3cdp" for x in r.body["provisioners"]), r.body
    r = s.req("POST", "/v1/dataproduct", REQUEST_3A, "application/yaml")
    eq(r.status, 202, "deploy")
    s.wait_state(*KEY, "CREATED")


DEPS = """name: chain
domain: sales.emea
version: 1.0.0
owner: team-sales
environment: test
outputPorts:
  - {name: a, type: raw, technology: s3cdp, owner: o, specific: {bucket: b, directory: a}, dependsOn: [b]}
  - {name: b, type: raw, technology: s3cdp, owner: o, specific: {bucket: b, directory: b}, dependsOn: [c]}
  - {name: c, type: raw, technology: %s, owner: o, specific: {bucket: b, directory: c}}
"""


def test_depends_on_order_and_failed_dependency():
    s, p = setup()
    r = s.req("POST", "/v1/dataproduct", DEPS % "s3cdp", "application/yaml")
    eq(r.status, 202, "deploy chain: %s" % (r.body,))
    s.wait_state("test", "sales.emea", "chain", "1.0.0", "CREATED")
    # A dependency that fails leaves its dependants not started.
    down = free_port()
    s.req("PUT", "/v1/provisioners", {"technology": "brokentech", "provisioner": "http://127.0.0.1:%d" % down})
    r = s.req("POST", "/v1/dataproduct", (DEPS % "brokentech").replace("1.0.0", "2.0.0"), "application/yaml")
    eq(r.status, 202, "deploy v2")
    deadline = time.time() + 15
    while time.time() < deadline:
        st = s.req("GET", "/v1/dataproduct/state/test/sales.emea/chain/2.0.0").body
        states = {x["name"]: x for x in st["resources"]}
        if states["c"]["state"] == "FAILED" and states["a"]["state"] == "NOT_COMPLETED":
            break
        time.sleep(0.05)
    eq(states["c"]["state"], "FAILED", "c")
    eq(states["b"]["state"], "NOT_COMPLETED", "b")
    eq(states["a"]["state"], "NOT_COMPLETED", "a")
    contains(states["b"].get("reason", ""), "c", "b's reason names its dependency")


def test_depends_on_cycle_refused():
    s, p = setup()
    cyc = DEPS.replace("{name: c, type: raw, technology: %s, owner: o, specific: {bucket: b, directory: c}}",
                       "{name: c, type: raw, technology: s3cdp, owner: o, specific: {bucket: b, directory: c}, dependsOn: [a]}")
    r = s.req("POST", "/v1/dataproduct", cyc, "application/yaml")
    eq(r.status, 400, "cycle: %s" % (r.body,))
    contains(r.body["detail"], "->", "names the cycle")


def test_restart_mid_provisioning_resumes():
    s, p = setup(prov_args=["--delay-ms", "1500"])
    r = s.req("POST", "/v1/dataproduct", REQUEST_3A, "application/yaml")
    eq(r.status, 202, "deploy")
    time.sleep(0.3)
    eq(s.req("GET", "/v1/dataproduct/state/%s/%s/%s/%s" % KEY).body["state"], "CREATING", "in transit")
    s.kill()
    s.start()
    st = s.wait_state(*KEY, "CREATED", timeout=20)
    eq(st["resources"][0]["state"], "CREATED", "resumed after restart")


def test_bad_input():
    s = Server(args=["--max-body", "64KiB", "--timeout", "2"])
    # Malformed YAML: 400 with a location.
    r = s.req("POST", "/v1/dataproduct", "name: [unclosed\n  domain: x\n", "application/yaml")
    eq(r.status, 400, "malformed yaml")
    assert r.body.get("location") or r.body.get("errors"), r.body
    # Malformed JSON
    r = s.req("POST", "/v1/dataproduct", '{"name": "x", ', "application/json")
    eq(r.status, 400, "malformed json")
    # Billion laughs.
    lol = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    prev = "a"
    for i in range(1, 10):
        n = "a%d" % i
        lol += "%s: &%s [%s]\n" % (n, n, ", ".join(["*" + prev] * 10))
        prev = n
    t0 = time.time()
    r = s.req("POST", "/v1/dataproduct", lol, "application/yaml")
    eq(r.status in (400, 413), True, "billion laughs status %s" % r.status)
    assert time.time() - t0 < 5, "billion laughs took too long"
    # Deep nesting (100k levels): the body limit or the depth limit refuses it.
    r = s.req("POST", "/v1/dataproduct", "[" * 100000 + "]" * 100000, "application/json")
    eq(r.status in (400, 413), True, "deep nesting status %s" % r.status)
    s2 = Server(args=["--max-body", "1MiB"])
    r = s2.req("POST", "/v1/dataproduct", "[" * 100000 + "]" * 100000, "application/json")
    eq(r.status, 400, "deep nesting under the size limit")
    r = s2.req("POST", "/v1/dataproduct", "a:\n" + "  " * 1 + "- " * 50000 + "x\n", "application/yaml")
    eq(r.status, 400, "deep yaml nesting")
    # Oversized body: 413.
    r = s.req("POST", "/v1/dataproduct", "x" * (200 * 1024), "application/yaml")
    eq(r.status, 413, "oversized")
    eq(r.body["code"], "DMP_LIMIT", "oversized code")
    # Oversized chunked body (no Content-Length): still a 413 problem reply.
    c = socket.create_connection(("127.0.0.1", s.port))
    c.sendall(b"POST /v1/dataproduct HTTP/1.1\r\nHost: x\r\nContent-Type: application/yaml\r\n"
              b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    chunk = b"x" * 8192
    for _ in range(12):  # 96 KiB > 64 KiB
        c.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    c.sendall(b"0\r\n\r\n")
    c.settimeout(10)
    reply = b""
    while True:
        part = c.recv(65536)
        if not part:
            break
        reply += part
    c.close()
    contains(reply.split(b"\r\n")[0].decode(), "413", "chunked oversized body")
    contains(reply.decode("utf-8", "replace"), "DMP_LIMIT", "problem code")
    # Wrong content type: 415.
    r = s.req("POST", "/v1/dataproduct", REQUEST_3A, "text/html")
    eq(r.status, 415, "wrong content type")
    # Unknown endpoint 404, wrong method 405.
    eq(s.req("GET", "/v1/nope").status, 404, "unknown path")
    eq(s.req("PATCH", "/v1/dataproduct", "{}", "application/json").status, 405, "wrong method")
    # A slow client is cut off, and others are still served meanwhile.
    c = socket.create_connection(("127.0.0.1", s.port))
    c.sendall(b"POST /v1/dataproduct HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
    eq(s.req("GET", "/healthz").status, 200, "served while a client stalls")
    c.settimeout(8)
    t0 = time.time()
    try:
        data = c.recv(4096)
    except socket.timeout:
        data = b"timeout"
    assert data != b"timeout" and time.time() - t0 < 8, "slow client not cut off"
    c.close()
    eq(s.proc.poll(), None, "server still running")


def test_validation_errors_over_http_name_field_and_location():
    s = Server()
    bad = REQUEST_3A.replace("resourceType: raw", "resourceType: raw\n    visibility: publik")
    r = s.req("POST", "/v1/dataproduct", bad, "application/yaml")
    eq(r.status, 400, "invalid descriptor")
    contains(r.body["detail"], "publik", "detail names the value")
    contains(r.body.get("field", ""), "visibility", "field path")
    contains(r.body.get("location", ""), ":", "file:line:col")


def test_health_and_clean_shutdown():
    s = Server()
    eq(s.req("GET", "/healthz").status, 200, "healthz")
    eq(s.req("GET", "/readyz").status, 200, "readyz")
    eq(s.stop(signal.SIGINT), 0, "exit code after SIGINT")
    s.start()
    eq(s.stop(signal.SIGTERM), 0, "exit code after SIGTERM")
    logs = s.logs()
    for line in logs.splitlines():
        if line.startswith("{"):
            json.loads(line)  # every log line is JSON
    contains(logs, '"path":"/healthz"', "request logged")


def test_config_file_and_env():
    p = Provisioner()
    d = tmpdir()
    write(os.path.join(d, "dmp.yaml"), "provisioners:\n  s3cdp: %s\nmax-body: 1MiB\n" % p.url)
    s = Server(data_dir=d)  # cwd is the data dir, so ./dmp.yaml is found
    r = s.req("GET", "/v1/provisioners")
    assert any(x.get("technology") == "s3cdp" for x in r.body["provisioners"]), r.body
    bad = cli("serve", "--listen", "127.0.0.1:0", "--max-bdy", "1")
    eq(bad.returncode, 64, "unknown flag exit")
    contains(bad.stderr, "max-body", "did-you-mean")
    env = dict(os.environ, DMP_MAX_BODY="lots")
    bad = cli("serve", "--listen", "127.0.0.1:0", env=env)
    eq(bad.returncode, 64, "bad env exit")
    contains(bad.stderr, "DMP_MAX_BODY", "names the variable")


def test_cli_exit_codes():
    r = cli("plan")
    eq(r.returncode, 64, "usage")
    r = cli("plan", "/nonexistent/product.yaml")
    eq(r.returncode, 65, "unreadable file")
    d = tmpdir()
    f = write(os.path.join(d, "p.yaml"), REQUEST_3A)
    port = free_port()
    r = cli("plan", f, "--server", "http://127.0.0.1:%d" % port)
    eq(r.returncode, 69, "server unreachable: " + r.stderr)
    r = cli("nosuchcommand")
    eq(r.returncode, 64, "unknown command")
    for c in ["serve", "plan", "apply", "delete", "status", "list", "get", "validate"]:
        r = cli(c, "--help")
        eq(r.returncode, 0, c + " --help")
        contains(r.stdout, "usage", c + " --help output")


def test_one_server_per_port():
    s = Server()
    r = cli("serve", "--listen", "127.0.0.1:%d" % s.port, "--data-dir", os.path.join(tmpdir(), "d"))
    assert r.returncode != 0, "a second server on a port in use must fail"
    contains(r.stderr, "cannot listen", "says why")


def test_one_server_per_data_dir():
    s = Server()
    r = cli("serve", "--listen", "127.0.0.1:%d" % free_port(), "--data-dir", s.data_dir)
    eq(r.returncode, 1, "second server on the same data dir")
    contains(r.stderr, "in use by another dmp serve", "names the conflict")
    eq(s.req("GET", "/healthz").status, 200, "the first one still serves")


def test_dry_run_parameter_checked():
    s = Server()
    r = s.req("POST", "/v1/dataproduct?dryRun=maybe", REQUEST_3A, "application/yaml")
    eq(r.status, 400, "bad dryRun")
    eq(r.body.get("field"), "dryRun", "names the parameter")


def test_machine_output_on_failure():
    s, p = setup()
    s.req("POST", "/v1/dataproduct", REQUEST_3A, "application/yaml")
    s.wait_state(*KEY, "CREATED")
    d = tmpdir()
    f = write(os.path.join(d, "p.yaml"), REQUEST_3A.replace("my s3 directory", "changed"))
    r = s.cli("apply", f, "-ojson")
    eq(r.returncode, 1, "refused apply")
    eq(json.loads(r.stdout)["code"], "DMP_IMMUTABLE", "problem document on stdout for -o json")
    r = s.cli("get", "a/b/c")
    eq(r.returncode, 64, "malformed DOMAIN/NAME is a usage error")


if __name__ == "__main__":
    run(globals())
