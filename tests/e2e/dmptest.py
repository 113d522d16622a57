"""dmptest -- a small harness for dmp's end-to-end tests.

Starts the real `dmp serve` (and helper processes) on 127.0.0.1 with a temporary
data dir, drives it over HTTP and through the CLI, and stops everything it started.
Each test file calls run(globals()): every function named test_* runs in order,
and the file ends with the plain 'N passed, N failed' line.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

BUILD = os.environ.get("DMP_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
SOURCE = os.environ.get("DMP_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
SHARED = os.environ.get("DMP_SHARED_DIR") or os.path.join(SOURCE, "..", "shared")
DMP = os.path.join(BUILD, "dmp")
PROVISIONER = os.path.join(BUILD, "dmp-provisioner-files")

# The request of DESIGN 3A, unchanged (examples/products/s3cdp.yaml holds the same).
REQUEST_3A = """name: test_name
domain: test_domain
version: 1.0.1
environment: {name: test, specific: {}}
outputPorts:
  - name: test_s3
    resourceType: raw
    technology: s3cdp
    description: my s3 directory
    allow: [dmp-test-1, dmp-test-2]
    owner: dmp-test-owner
    specific: {directory: test_dir/full, bucket: ms-datamesh-s3}
    dependsOn: []
workloads: []
observability: []
"""

_procs = []
_tmpdirs = []
_servers = []


def tmpdir():
    d = tempfile.mkdtemp(prefix="dmp-e2e-")
    _tmpdirs.append(d)
    return d


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """A running `dmp serve` on a free loopback port."""

    def __init__(self, data_dir=None, args=(), env=None):
        self.data_dir = data_dir or tmpdir()
        os.makedirs(self.data_dir, exist_ok=True)
        self.args = list(args)
        self.env = env
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "server.log")
        _servers.append(self)
        self.start()

    def start(self):
        env = dict(os.environ)
        env.pop("DMP_SERVER", None)
        if self.env:
            env.update(self.env)
        self.log = open(self.log_path, "ab")
        port = getattr(self, "port", None) or free_port()
        self.port = port
        self.proc = subprocess.Popen(
            [DMP, "serve", "--listen", "127.0.0.1:%d" % port, "--data-dir", self.data_dir] + self.args,
            stdout=self.log, stderr=self.log, env=env, cwd=self.data_dir)
        _procs.append(self.proc)
        self.url = "http://127.0.0.1:%d" % port
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dmp serve exited with %s:\n%s" % (self.proc.returncode, self.logs()))
            try:
                if http("GET", self.url + "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("dmp serve did not become ready:\n" + self.logs())

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        self.log.close()
        return self.proc.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        self.start()

    def req(self, method, path, body=None, ctype=None, headers=None, timeout=30):
        return http(method, self.url + path, body, ctype, headers, timeout)

    def cli(self, *args, stdin=None, env=None, timeout=120):
        e = dict(os.environ)
        e["DMP_SERVER"] = self.url
        e["NO_COLOR"] = "1"
        if env:
            e.update(env)
        return cli(*args, stdin=stdin, env=e, timeout=timeout)

    def wait_state(self, env, domain, name, version, want, timeout=20):
        path = "/v1/dataproduct/state/%s/%s/%s/%s" % (env, domain, name, version)
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            st, body = self.req("GET", path)
            last = body
            if st == 200 and body.get("state") == want:
                return body
            time.sleep(0.05)
        raise AssertionError("state never became %s: %s" % (want, json.dumps(last)))


class Provisioner:
    """The example files provisioner (technology s3cdp)."""

    def __init__(self, args=()):
        self.root = tmpdir()
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(self.root, "provisioner.log"), "ab")
        self.proc = subprocess.Popen(
            [PROVISIONER, "--listen", "127.0.0.1:%d" % self.port, "--root", self.root] + list(args),
            stdout=self.log, stderr=self.log)
        _procs.append(self.proc)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("provisioner did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.close()


class Blackhole:
    """Accepts connections and never answers: a provisioner that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.conns = []
        self.stopped = False
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                return

    def stop(self):
        self.stopped = True
        self.sock.close()
        for c in self.conns:
            c.close()


def http(method, url, body=None, ctype=None, headers=None, timeout=30):
    """Returns (status, parsed JSON or text, headers)."""
    data = body
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        ctype = ctype or "application/json"
    elif isinstance(body, str):
        data = body.encode()
    h = dict(headers or {})
    if ctype:
        h["Content-Type"] = ctype
    r = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            raw = resp.read()
            status, hdrs = resp.status, resp.headers
    except urllib.error.HTTPError as e:
        raw = e.read()
        status, hdrs = e.code, e.headers
    text = raw.decode("utf-8", "replace")
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = text
    return Result(status, parsed, hdrs)


class Result(tuple):
    def __new__(cls, status, body, headers):
        return tuple.__new__(cls, (status, body))

    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers


def cli(*args, stdin=None, env=None, timeout=120):
    """Runs build/dmp; returns CompletedProcess with text stdout/stderr."""
    e = env or dict(os.environ, NO_COLOR="1")
    return subprocess.run([DMP] + [str(a) for a in args], input=stdin, capture_output=True,
                          text=True, env=e, timeout=timeout)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s: expected %r, got %r" % (what, b, a))


def contains(haystack, needle, what=""):
    if needle not in haystack:
        raise AssertionError("%s: %r not found in %r" % (what, needle, haystack))


def cleanup():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)
    del _servers[:]
    del _tmpdirs[:]
    del _procs[:]


def run(ns):
    only = sys.argv[1:]
    tests = [(k, v) for k, v in ns.items() if k.startswith("test_") and callable(v)]
    passed = failed = 0
    for name, fn in tests:
        if only and name not in only:
            continue
        t0 = time.time()
        try:
            fn()
            passed += 1
            print("ok   %s (%.2fs)" % (name, time.time() - t0), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s (%.2fs)" % (name, time.time() - t0), flush=True)
            traceback.print_exc()
            for srv in _servers:
                try:
                    lines = srv.logs().splitlines()
                except OSError:
                    continue
                print("--- server log %s (last lines, sanitizer reports first)" % srv.log_path)
                odd = [ln for ln in lines if not ln.startswith("{")]
                for ln in (odd[:60] + lines[-15:]):
                    print("    " + ln)
        finally:
            cleanup()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
