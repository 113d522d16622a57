"""Shared pieces of the stream-port end-to-end tests: a product with a stream port, and a
small HTTP sink that records pushed events."""
import json
import threading

from dmptest import *  # noqa: F401,F403
import http.server as _hs  # after the star import, which binds the name http

DOMAIN = "london.hammersmith.olympia"
NAME = "bigdatalondon"
PRODUCT = DOMAIN + "/" + NAME
PORT_PATH = "/v1/products/%s/%s/ports/attendee" % (DOMAIN, NAME)

DESCRIPTOR = """name: bigdatalondon
domain: london.hammersmith.olympia
id: urn:london:hammersmith:olympia:bigdatalondon
version: 1.0.0
owner: alice
outputPorts:
  - name: attendee
    type: stream
    visibility: public
    schema:
      type: object
      required: [Name, Age]
      properties:
        Name: {type: string}
        Age: {type: integer, exclusiveMaximum: 130}
"""


def provision(s, descriptor=DESCRIPTOR, version="1.0.0"):
    r = s.req("POST", "/v1/dataproduct", descriptor, "application/yaml")
    assert r.status == 202, r.body
    s.wait_state("default", DOMAIN, NAME, version, "CREATED")


class Sink:
    """Records the CloudEvents POSTed to it; can be told to fail the next N requests."""

    def __init__(self):
        self.events = []
        self.fail = 0
        self.lock = threading.Lock()
        outer = self

        class H(_hs.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    if outer.fail > 0:
                        outer.fail -= 1
                        self.send_response(503)
                        self.end_headers()
                        return
                    outer.events.append((self.headers.get("Content-Type"), json.loads(body)))
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
                if len(self.events) >= n:
                    return list(self.events)
            time.sleep(0.05)
        raise AssertionError("sink got %d events, wanted %d" % (len(self.events), n))

    def stop(self):
        self.srv.shutdown()
