"""End-to-end: the native HTTP/1.1 engine (src/http/native.c) on the wire -- keep-alive,
pipelining, Content-Length and chunked request bodies, Expect: 100-continue, HEAD, the
engine's limits and its 4xx/5xx problem+json replies, percent-decoding, the idle timeout,
the per-address connection cap, clients that vanish, chunked SSE framing and the access
log. Raw sockets where the behaviour is about bytes on the wire, http.client elsewhere."""
import os
import select
import socket
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from streams_common import *  # noqa: E402,F401,F403
import http.client as httpclient  # noqa: E402  (binds only httpclient, not dmptest's http)


# ---- a raw HTTP/1.1 client

class Resp:
    def __init__(self, version, status, reason, headers):
        self.version = version
        self.status = status
        self.reason = reason
        self.header_list = headers  # [(lower-case name, value)]
        self.headers = {}
        for k, v in headers:
            self.headers.setdefault(k, v)
        self.body = b""
        self.chunks = None  # sizes of the chunks of a chunked body

    def json(self):
        return json.loads(self.body.decode())

    def count(self, name):
        return sum(1 for k, _ in self.header_list if k == name)


class Conn:
    """One client connection with its own read buffer."""

    def __init__(self, s, timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", s.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("connection closed by the server; buffered: %r" % self.buf[:200])
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self):
        """Reads a status line and headers."""
        st = self.line()
        parts = st.split(b" ", 2)
        assert len(parts) == 3 and parts[0].startswith(b"HTTP/"), "bad status line %r" % st
        hdrs = []
        while True:
            ln = self.line()
            if ln == b"":
                break
            k, v = ln.split(b":", 1)
            hdrs.append((k.decode().strip().lower(), v.decode().strip()))
        return Resp(parts[0].decode(), int(parts[1]), parts[2].decode(), hdrs)

    def chunk(self):
        """One chunk of a chunked body: (size, data); size 0 ends the body (trailers read)."""
        size_line = self.line()
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            while self.line() != b"":
                pass
            return 0, b""
        data = self.exact(size)
        eq(self.exact(2), b"\r\n", "CRLF after chunk data")
        return size, data

    def response(self, head_req=False):
        """A whole response (interim 1xx ones are returned as they are)."""
        r = self.head()
        if 100 <= r.status < 200 or head_req or r.status in (204, 304):
            return r
        if r.headers.get("transfer-encoding", "").lower() == "chunked":
            r.chunks = []
            while True:
                n, data = self.chunk()
                if n == 0:
                    break
                r.chunks.append(n)
                r.body += data
        elif "content-length" in r.headers:
            r.body = self.exact(int(r.headers["content-length"]))
        else:
            try:
                while True:
                    self._fill()
            except EOFError:
                pass
            r.body, self.buf = self.buf, b""
        return r

    def closed(self, timeout=3.0):
        """True when the server closes (EOF or reset) within timeout with nothing more sent;
        extra bytes are kept in buf and make it False."""
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        if d:
            self.buf += d
            return False
        return True

    def close(self, reset=False):
        if reset:  # RST instead of FIN
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def get(path, version="HTTP/1.1", extra=""):
    host = "Host: t\r\n" if version == "HTTP/1.1" else ""
    return ("GET %s %s\r\n%s%s\r\n" % (path, version, host, extra)).encode()


def check_problem(r, status, code, detail=None, detail_part=None):
    eq(r.status, status, "status")
    eq(r.headers.get("content-type"), "application/problem+json", "content type")
    eq(int(r.headers["content-length"]), len(r.body), "Content-Length matches the body")
    p = r.json()
    eq(p["status"], status, "problem status")
    eq(p["code"], code, "problem code")
    if detail is not None:
        eq(p["detail"], detail, "problem detail")
    if detail_part is not None:
        contains(p["detail"], detail_part, "problem detail")
    return p


def engine_error(s, raw, status, code, detail):
    """Sends raw bytes on a fresh connection; the engine must answer one problem+json with
    Connection: close and then close the connection."""
    c = Conn(s)
    c.send(raw)
    r = c.response()
    check_problem(r, status, code, detail)
    eq(r.headers.get("connection"), "close", "Connection header of an engine error")
    assert c.closed(), "connection still open after the %d, extra bytes %r" % (status, c.buf[:100])
    c.close()
    return r


def alive(s):
    """The server process runs and answers /healthz on a fresh connection."""
    assert s.proc.poll() is None, "dmp serve died with %s" % s.proc.returncode
    c = Conn(s)
    c.send(get("/healthz", extra="Connection: close\r\n"))
    r = c.response()
    eq(r.status, 200, "healthz after the test")
    eq(r.json(), {"status": "ok"}, "healthz body")
    c.close()


def read_events(s, qs="from=1&limit=1000"):
    r = s.req("GET", PORT_PATH + "/events?" + qs)
    eq(r.status, 200, "events read")
    return r.body


def post_event(s, name, age=1):
    r = s.req("POST", PORT_PATH + "/events", {"Name": name, "Age": age})
    eq(r.status, 201, "ingest of %s" % name)
    return r.body["offset"]


def ingest_head(length=None, extra="", ctype="application/json"):
    h = "POST %s/events HTTP/1.1\r\nHost: t\r\nContent-Type: %s\r\n" % (PORT_PATH, ctype)
    if length is not None:
        h += "Content-Length: %d\r\n" % length
    return (h + extra + "\r\n").encode()


# ---- keep-alive

def test_keep_alive_many_requests_on_one_connection():
    s = Server()
    hc = httpclient.HTTPConnection("127.0.0.1", s.port, timeout=5)
    hc.connect()
    sock = hc.sock
    for i in range(60):
        path = "/healthz" if i % 3 else "/no/such/%d" % i
        hc.request("GET", path)
        r = hc.getresponse()
        body = r.read()
        if i % 3:
            eq(r.status, 200, "request %d" % i)
            eq(json.loads(body), {"status": "ok"}, "body %d" % i)
        else:
            eq(r.status, 404, "request %d" % i)
            eq(json.loads(body)["code"], "DMP_NOTFOUND", "code %d" % i)
        eq(r.getheader("Connection"), None, "no Connection header on a 1.1 keep-alive reply")
        assert hc.sock is sock, "http.client had to reconnect at request %d" % i
    hc.close()


def test_http10_without_keep_alive_closes_after_reply():
    s = Server()
    c = Conn(s)
    c.send(get("/healthz", "HTTP/1.0"))
    r = c.response()
    eq(r.status, 200, "status")
    eq(r.json(), {"status": "ok"}, "body")
    eq(r.headers.get("connection"), "close", "Connection header")
    assert c.closed(), "an HTTP/1.0 connection without keep-alive stayed open"


def test_http10_with_keep_alive_stays_open():
    s = Server()
    c = Conn(s)
    for i in range(3):
        c.send(get("/healthz", "HTTP/1.0", "Connection: keep-alive\r\n"))
        r = c.response()
        eq(r.status, 200, "status %d" % i)
        eq(r.headers.get("connection"), "keep-alive", "Connection header %d" % i)
        eq(r.json(), {"status": "ok"}, "body %d" % i)
    assert not c.closed(0.5), "an HTTP/1.0 keep-alive connection was closed"
    # The last 1.0 request without the token ends it.
    c.send(get("/healthz", "HTTP/1.0"))
    eq(c.response().headers.get("connection"), "close", "last reply")
    assert c.closed(), "not closed after a 1.0 request without keep-alive"


def test_connection_close_on_http11_closes():
    s = Server()
    c = Conn(s)
    c.send(get("/healthz"))
    eq(c.response().status, 200, "first")
    c.send(get("/healthz", extra="Connection: close\r\n"))
    r = c.response()
    eq(r.status, 200, "second")
    eq(r.headers.get("connection"), "close", "Connection header")
    assert c.closed(), "Connection: close on 1.1 did not close"
    # 'close' among other tokens counts too
    c = Conn(s)
    c.send(get("/healthz", extra="Connection: TE, Close\r\n"))
    eq(c.response().headers.get("connection"), "close", "token list")
    assert c.closed(), "Connection: TE, Close did not close"


# ---- pipelining

def test_pipelined_requests_answered_in_order():
    s = Server()
    c = Conn(s)
    c.send(get("/healthz") + get("/not/here") + get("/readyz"))
    r1, r2, r3 = c.response(), c.response(), c.response()
    eq(r1.status, 200, "first")
    eq(r1.json(), {"status": "ok"}, "first body")
    check_problem(r2, 404, "DMP_NOTFOUND", "no such endpoint")
    eq(r3.status, 200, "third")
    eq(r3.json(), {"status": "ready"}, "third body")
    # ...and the connection still serves
    c.send(get("/healthz"))
    eq(c.response().status, 200, "after the pipeline")
    # A pipeline with a body in the middle: the body is not taken for a request head.
    body = b'{"x": "GET /nope HTTP/1.1"}'
    c.send(get("/healthz") +
           b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body) + body +
           get("/readyz"))
    eq(c.response().status, 200, "before the body")
    check_problem(c.response(), 405, "DMP_INVALID", "method POST is not allowed on this path")
    eq(c.response().json(), {"status": "ready"}, "after the body")


# ---- request bodies

def test_content_length_body_split_across_sends():
    s = Server()
    provision(s)
    body = json.dumps({"Name": "split-body", "Age": 41}).encode()
    head = ingest_head(len(body))
    c = Conn(s)
    # the head itself in two pieces, then the body in three, with pauses
    for piece in (head[:17], head[17:], body[:5], body[5:11], body[11:]):
        c.send(piece)
        time.sleep(0.15)
    r = c.response()
    eq(r.status, 201, "split request")
    eq(r.json()["offset"], 1, "offset")
    # the connection is reusable after the body
    c.send(get(PORT_PATH + "/events?from=1"))
    r = c.response()
    eq(r.status, 200, "read back on the same connection")
    evs = r.json()
    eq([e["data"] for e in evs], [{"Name": "split-body", "Age": 41}], "events")


def test_chunked_bodies_with_extensions_and_trailers():
    s = Server()
    provision(s)
    nd = b'{"Name":"c1","Age":1}\n{"Name":"c2","Age":2}\n{"Name":"c3","Age":3}\n'
    # chunks of varying size, some with extensions, hex sizes in both cases
    pieces, i, sizes = [], 0, [7, 26, 1, 11]
    exts = [b"", b";foo=bar", b';q="a b"', b" ; x"]
    k = 0
    while i < len(nd):
        n = sizes[k % len(sizes)]
        part = nd[i:i + n]
        hexsize = (b"%x" if k % 2 else b"%X") % len(part)
        pieces.append(hexsize + exts[k % len(exts)] + b"\r\n" + part + b"\r\n")
        i += n
        k += 1
    pieces.append(b"0\r\nX-Trailer-One: 1\r\nX-Trailer-Two: two\r\n\r\n")
    c = Conn(s)
    c.send(ingest_head(extra="Transfer-Encoding: chunked\r\n", ctype="application/x-ndjson"))
    stream = b"".join(pieces)
    for j in range(0, len(stream), 13):  # cut across chunk boundaries
        c.send(stream[j:j + 13])
        if j % 39 == 0:
            time.sleep(0.05)
    r = c.response()
    eq(r.status, 200, "chunked ndjson")
    eq(r.json()["accepted"], 3, "accepted")
    # one event in one chunk, lower-case 'Transfer-Encoding: Chunked' value
    one = b'{"Name":"c4","Age":4}'
    c.send(ingest_head(extra="Transfer-Encoding: Chunked\r\n") +
           b"%x\r\n%s\r\n0\r\n\r\n" % (len(one), one))
    r = c.response()
    eq(r.status, 201, "single chunked event")
    eq(r.json()["offset"], 4, "offset")
    eq([e["data"]["Name"] for e in read_events(s)], ["c1", "c2", "c3", "c4"], "read back")


def test_malformed_chunked_body_is_400():
    s = Server()
    engine_error(s, b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"zz\r\nhello\r\n0\r\n\r\n", 400, "DMP_INVALID", "malformed chunk size")
    engine_error(s, b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"3\r\nhelloX\r\n0\r\n\r\n", 400, "DMP_INVALID", "malformed chunked body")
    alive(s)


def test_expect_100_continue():
    s = Server()
    provision(s)
    body = json.dumps({"Name": "expect", "Age": 7}).encode()
    c = Conn(s)
    c.send(ingest_head(len(body), "Expect: 100-continue\r\n"))
    interim = c.head()
    eq((interim.version, interim.status, interim.reason), ("HTTP/1.1", 100, "Continue"),
       "interim reply before the body")
    eq(interim.header_list, [], "100 Continue has no headers")
    c.send(body)
    r = c.response()
    eq(r.status, 201, "final reply")
    eq(r.json()["offset"], 1, "offset")
    eq(read_events(s)[0]["data"]["Name"], "expect", "stored")
    # Too large: the 413 comes instead of the 100, and the connection is closed.
    c = Conn(s)
    c.send(ingest_head(5 * 1024 * 1024, "Expect: 100-continue\r\n"))
    r = c.response()
    check_problem(r, 413, "DMP_LIMIT",
                  "request body of 5242880 bytes exceeds the limit of 4194304 bytes")
    assert c.closed(), "connection kept after the 413"
    # An expectation other than 100-continue: 417.
    engine_error(s, ingest_head(2, "Expect: 200-ok\r\n") + b"{}", 417, "DMP_INVALID",
                 "only the 100-continue expectation is met")


# ---- limits

def test_request_line_over_32k_is_414():
    s = Server()
    engine_error(s, get("/" + "a" * (33 * 1024)), 414, "DMP_LIMIT",
                 "the request line is longer than 32 KiB")
    # just under the limit is served (404 from dispatch, not an engine error)
    c = Conn(s)
    c.send(get("/" + "a" * (31 * 1024)))
    check_problem(c.response(), 404, "DMP_NOTFOUND", "no such endpoint")
    alive(s)


def test_headers_over_32k_are_431():
    s = Server()
    engine_error(s, get("/healthz", extra="X-Big: %s\r\n" % ("b" * (33 * 1024))), 431,
                 "DMP_LIMIT", "the request head is larger than 32 KiB")
    # many medium headers adding up over the limit, sent in one go after the request line
    extra = "".join("X-H%d: %s\r\n" % (i, "v" * 500) for i in range(70))
    engine_error(s, get("/healthz", extra=extra), 431, "DMP_LIMIT",
                 "the request head is larger than 32 KiB")
    alive(s)


def test_more_than_128_header_lines_is_431():
    s = Server()
    # Host + 127 others = 128 lines: served
    extra = "".join("X-N%d: %d\r\n" % (i, i) for i in range(127))
    c = Conn(s)
    c.send(get("/healthz", extra=extra))
    eq(c.response().status, 200, "128 header lines")
    extra = "".join("X-N%d: %d\r\n" % (i, i) for i in range(128))
    engine_error(s, get("/healthz", extra=extra), 431, "DMP_LIMIT", "more than 128 header lines")
    alive(s)


def test_content_length_over_max_body_is_413_and_closes():
    s = Server(args=["--max-body", "1KiB"])
    head = b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
    # exactly the limit: read and dispatched (405 from the route table)
    c = Conn(s)
    c.send(head % 1024 + b"x" * 1024)
    check_problem(c.response(), 405, "DMP_INVALID", "method POST is not allowed on this path")
    # one byte over: 413 before the body, Connection: close, then closed; the client may still
    # be sending its body (lingering close: no reset)
    c = Conn(s)
    c.send(head % 1025)
    r = c.response()
    check_problem(r, 413, "DMP_LIMIT", "request body of 1025 bytes exceeds the limit of 1024 bytes")
    eq(r.headers.get("connection"), "close", "Connection header")
    c.send(b"y" * 1025)
    assert c.closed(), "connection kept after the 413"
    alive(s)


def test_chunked_body_over_max_body_is_413():
    s = Server(args=["--max-body", "1KiB"])
    head = b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    c = Conn(s)
    c.send(head + b"200\r\n" + b"a" * 512 + b"\r\n200\r\n" + b"b" * 512 + b"\r\n0\r\n\r\n")
    check_problem(c.response(), 405, "DMP_INVALID", "method POST is not allowed on this path")
    c = Conn(s)
    c.send(head)
    for _ in range(3):
        c.send(b"200\r\n" + b"a" * 512 + b"\r\n")
    r = c.response()
    check_problem(r, 413, "DMP_LIMIT", "request body exceeds the limit of 1024 bytes")
    eq(r.headers.get("connection"), "close", "Connection header")
    assert c.closed(), "connection kept after the chunked 413"
    alive(s)


def test_conflicting_content_length_is_400():
    s = Server()
    engine_error(s, b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                 b"Content-Length: 3\r\n\r\nabc", 400, "DMP_INVALID",
                 "conflicting Content-Length headers")
    engine_error(s, b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\nabc", 400,
                 "DMP_INVALID", "Content-Length is not a number")
    engine_error(s, b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400,
                 "DMP_INVALID", "Content-Length is not a number")
    # the same value twice is one length (RFC 9110 8.6)
    c = Conn(s)
    c.send(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n"
           b"ab" + get("/healthz"))
    eq(c.response().status, 405, "repeated identical Content-Length")
    eq(c.response().status, 200, "next request after the 2-byte body")


def test_transfer_encoding_other_than_chunked_is_501():
    s = Server()
    engine_error(s, b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
                 "DMP_UNSUPPORTED", "only the chunked transfer coding is accepted")
    engine_error(s, b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n"
                 b"\r\n0\r\n\r\n", 501, "DMP_UNSUPPORTED",
                 "only the chunked transfer coding is accepted")


def test_transfer_encoding_split_over_two_header_lines_is_501():
    # RFC 9110 5.3: two Transfer-Encoding lines are one list, "gzip, chunked"; gzip is not
    # understood, so 501 -- the engine must not keep only the last line.
    s = Server()
    engine_error(s, b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501, "DMP_UNSUPPORTED",
                 "only the chunked transfer coding is accepted")


def test_both_transfer_encoding_and_content_length_is_400():
    s = Server()
    engine_error(s, b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "DMP_INVALID",
                 "both Transfer-Encoding and Content-Length were sent")


def test_http11_without_host_is_400():
    s = Server()
    engine_error(s, b"GET /healthz HTTP/1.1\r\nAccept: */*\r\n\r\n", 400, "DMP_INVALID",
                 "an HTTP/1.1 request needs a Host header")
    # HTTP/1.0 needs none
    c = Conn(s)
    c.send(b"GET /healthz HTTP/1.0\r\n\r\n")
    eq(c.response().status, 200, "1.0 without Host")


def test_two_host_headers_is_400():
    # RFC 9112 3.2: a server MUST answer 400 to a request with more than one Host line.
    s = Server()
    r = engine_error(s, b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
                     "DMP_INVALID", None)
    contains(r.json()["detail"], "Host", "names the header")


def test_http2_version_is_505():
    s = Server()
    engine_error(s, b"GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n", 505, "DMP_UNSUPPORTED",
                 "only HTTP/1.1 and HTTP/1.0 are served")
    engine_error(s, b"GET /healthz HTTP/1.2\r\nHost: t\r\n\r\n", 505, "DMP_UNSUPPORTED",
                 "only HTTP/1.1 and HTTP/1.0 are served")


def test_garbage_request_line_is_400():
    s = Server()
    for raw in (b"hello\r\n\r\n", b"GET /healthz\r\n\r\n", b"GET /a b HTTP/1.1\r\nHost: t\r\n\r\n",
                b"GET /healthz FOO/1.1\r\nHost: t\r\n\r\n", b" GET / HTTP/1.1\r\nHost: t\r\n\r\n"):
        engine_error(s, raw, 400, "DMP_INVALID", "malformed request line")
    engine_error(s, b"G(T /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 400, "DMP_INVALID",
                 "malformed request method")
    engine_error(s, b"GET healthz HTTP/1.1\r\nHost: t\r\n\r\n", 400, "DMP_INVALID",
                 "the request target must be a path")
    engine_error(s, b"GET /healthz HTTP/1.1\r\nHost t\r\n\r\n", 400, "DMP_INVALID",
                 "malformed header line")
    engine_error(s, b"GET /healthz HTTP/1.1\r\nHost : t\r\n\r\n", 400, "DMP_INVALID",
                 "malformed header name")
    alive(s)


def test_control_characters_in_target_are_400():
    s = Server()
    for ch in (b"\x01", b"\x1f", b"\x7f", b"\t"):
        engine_error(s, b"GET /heal" + ch + b"thz HTTP/1.1\r\nHost: t\r\n\r\n", 400,
                     "DMP_INVALID", "control character in the request target")
    alive(s)


def test_nul_byte_in_request_line_is_400():
    # A raw NUL in the target (or method) must get the same 400 as any control character;
    # the server must survive it.
    s = Server()
    for raw in (b"GET /a\x00b HTTP/1.1\r\nHost: t\r\n\r\n",
                b"GE\x00T /healthz HTTP/1.1\r\nHost: t\r\n\r\n"):
        c = Conn(s)
        c.send(raw)
        try:
            r = c.response()
        except (EOFError, ConnectionResetError):
            try:
                s.proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
            raise AssertionError("no reply to %r; server exit status %r" % (raw, s.proc.poll()))
        eq(r.status, 400, "status for %r" % raw)
        eq(r.json()["code"], "DMP_INVALID", "code for %r" % raw)
        alive(s)


def test_encoded_nul_in_path_is_400():
    s = Server()
    engine_error(s, get("/healthz%00"), 400, "DMP_INVALID", "the request path holds an encoded NUL")
    engine_error(s, get("/v1/products/a%00b/c"), 400, "DMP_INVALID",
                 "the request path holds an encoded NUL")
    # %00 in the query is not the path: served
    c = Conn(s)
    c.send(get("/healthz?x=%00"))
    eq(c.response().status, 200, "%00 in the query")


def test_obs_fold_header_is_400():
    s = Server()
    engine_error(s, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Long: a\r\n b\r\n\r\n", 400,
                 "DMP_INVALID", "folded header lines are not accepted")
    engine_error(s, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Long: a\r\n\tb\r\n\r\n", 400,
                 "DMP_INVALID", "folded header lines are not accepted")


def test_nul_in_header_value_does_not_hide_later_headers():
    # RFC 9110 5.5: a field value with NUL must be rejected (or the NUL replaced). Here it must
    # not end the header block early: the Content-Length after it frames the body, so the
    # body is never parsed as a second request.
    s = Server()
    smuggled = get("/no/such/smuggled")
    c = Conn(s)
    c.send(b"POST /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\nContent-Length: %d\r\n\r\n"
           % len(smuggled) + smuggled)
    r = c.response()
    check_problem(r, 400, "DMP_INVALID")
    assert c.closed(), "more replies after the 400: %r" % c.buf[:200]
    alive(s)


# ---- HEAD

def test_head_gets_headers_without_body():
    s = Server()
    c = Conn(s)
    c.send(get("/healthz"))
    g = c.response()
    eq(g.status, 200, "GET")
    # HEAD is served by the GET route: the same status and headers, the Content-Length
    # of the GET's body, and no body bytes on the wire.
    c.send(b"HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    h = c.response(head_req=True)
    eq(h.status, 200, "HEAD status")
    eq(h.headers.get("content-type"), g.headers.get("content-type"), "HEAD content type")
    eq(int(h.headers["content-length"]), len(g.body), "HEAD's Content-Length is the GET body's")
    # nothing follows the head: the next reply starts right away
    assert c.buf == b"", "body bytes after a HEAD reply: %r" % c.buf
    c.send(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
    p = c.response()
    eq(p.status, 405, "POST on a GET route")
    # pipelined HEAD + GET: the GET's status line comes right after the HEAD's blank line
    c.send(b"HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\n" + get("/healthz"))
    h = c.response(head_req=True)
    eq(h.status, 404, "HEAD of an unknown path")
    assert c.buf == b"" or c.buf.startswith(b"HTTP/1.1 200"), "HEAD body leaked: %r" % c.buf
    eq(c.response().json(), {"status": "ok"}, "GET after HEAD")


# ---- percent-decoding

def test_percent_decoding_of_path_and_query():
    s = Server()
    provision(s)
    for i in range(5):
        s.req("POST", PORT_PATH + "/events", {"Name": "p%d" % i, "Age": i},
              headers={"X-Dmp-Event-Type": "even" if i % 2 == 0 else "odd type"})
    c = Conn(s)
    c.send(get("/health%7a"))
    eq(c.response().json(), {"status": "ok"}, "escaped letter in the path")
    # escapes in the product's path segments reach the router decoded
    enc = PORT_PATH.replace("bigdatalondon", "bigdata%6Condon").replace("olympia", "olymp%69a")
    c.send(get(enc + "/stream"))
    r = c.response()
    eq(r.status, 200, "escaped product path")
    eq(r.json()["channel"], "london.hammersmith.olympia.bigdatalondon._public.attendee", "channel")
    c.send(b"POST " + PORT_PATH.replace("attendee", "no%5Fpe").encode() +
           b"/events HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
           b"Content-Length: 2\r\n\r\n{}")
    p = check_problem(c.response(), 404, "DMP_NOTFOUND", detail_part="no_pe")
    assert "%5F" not in p["detail"], p["detail"]
    # query values: '+' and %20 are spaces, and escapes are decoded
    c.send(get(PORT_PATH + "/events?from=a+b%20c%2B"))
    p = check_problem(c.response(), 400, "DMP_INVALID",
                      "query parameter 'from'='a b c+' is not an offset (a whole number)")
    # an escaped key matches
    c.send(get(PORT_PATH + "/events?fr%6Fm=4&limit=100"))
    eq([e["dmpoffset"] for e in c.response().json()], [4, 5], "escaped key")
    # a CESQL filter with '+' and %20 for spaces and an escaped quote and '='
    c.send(get(PORT_PATH + "/events?from=1&filter=type+%3D%20%27odd+type%27"))
    r = c.response()
    eq(r.status, 200, "filter")
    eq([e["data"]["Name"] for e in r.json()], ["p1", "p3"], "filtered by the decoded value")


# ---- the idle timeout

def test_slow_client_is_disconnected_after_timeout():
    s = Server(args=["--timeout", "2"])
    half_head = Conn(s)
    half_head.send(b"GET /healthz HTTP/1.1\r\nHo")
    half_body = Conn(s)
    half_body.send(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
    idle = Conn(s)
    idle.send(get("/healthz"))
    eq(idle.response().status, 200, "keep-alive request")
    # a client that keeps making progress is not cut off, even when the whole request takes
    # longer than the timeout
    trickle = Conn(s)
    req = get("/healthz")
    pieces = [req[i:i + 5] for i in range(0, len(req), 5)]
    t0 = time.time()
    closed_at = {}
    watch = {half_head.sock: "half head", half_body.sock: "half body", idle.sock: "idle"}
    next_piece = t0
    while time.time() - t0 < 5.0 and (pieces or len(closed_at) < 3):
        now = time.time()
        if pieces and now >= next_piece:
            trickle.send(pieces.pop(0))
            next_piece = now + 0.45
        rd, _, _ = select.select([k for k in watch if watch[k] not in closed_at], [], [], 0.05)
        for sk in rd:
            try:
                d = sk.recv(4096)
            except ConnectionResetError:
                d = b""
            assert d == b"", "%s: unexpected bytes %r" % (watch[sk], d)
            closed_at[watch[sk]] = time.time() - t0
    for name in ("half head", "half body", "idle"):
        assert name in closed_at, "%s connection not closed within 5 s" % name
        assert 1.8 <= closed_at[name] <= 4.0, "%s closed after %.2fs (timeout 2 s)" % (
            name, closed_at[name])
    assert time.time() - t0 > 2.5, "the trickle took longer than the timeout"
    r = trickle.response()
    eq(r.status, 200, "trickled request answered")
    alive(s)


# ---- the per-address cap

def test_per_ip_limit_refuses_fourth_connection():
    s = Server(args=["--per-ip-limit", "3"])
    time.sleep(0.2)  # the readiness probe's connection is released
    conns = [Conn(s) for _ in range(3)]
    for i, c in enumerate(conns):
        c.send(get("/healthz"))
        eq(c.response().status, 200, "connection %d" % i)
    fourth = Conn(s)
    try:
        fourth.send(get("/healthz"))
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert fourth.closed(), "the 4th connection was not closed"
    eq(fourth.buf, b"", "the 4th connection got no reply")
    for i, c in enumerate(conns):
        c.send(get("/healthz"))
        eq(c.response().status, 200, "connection %d after the refusal" % i)
    # a slot freed is a slot again
    conns[0].close()
    time.sleep(0.3)
    c = Conn(s)
    c.send(get("/healthz"))
    eq(c.response().status, 200, "a new connection after one closed")


# ---- clients that vanish

def test_disconnect_mid_body_and_while_ingest_waits():
    s = Server(args=["--per-ip-limit", "4"])
    provision(s)
    post_event(s, "before")
    body = json.dumps({"Name": "gone", "Age": 5}).encode()
    # mid Content-Length body, mid chunked body, mid head; FIN and RST
    for reset in (False, True):
        c = Conn(s)
        c.send(ingest_head(100) + body[:10])
        time.sleep(0.05)
        c.close(reset)
        c = Conn(s)
        c.send(ingest_head(extra="Transfer-Encoding: chunked\r\n") + b"%x\r\n" % len(body) + body[:7])
        time.sleep(0.05)
        c.close(reset)
        for _ in range(3):  # part of a head and the FIN (or RST) in one go
            c = Conn(s)
            c.send(ingest_head(len(body))[:30])
            c.close(reset)
    # whole ingest requests whose clients leave at once, while the append waits for its commit
    for i in range(16):
        c = Conn(s)
        c.send(ingest_head(len(body)) + body)
        c.close(reset=i % 2 == 0)
        time.sleep(0.02)
    time.sleep(0.5)
    # no connection is still held for a client that left (the default --timeout is 30 s): the
    # per-address cap of 4 still allows 4 at once
    conns = [Conn(s) for _ in range(4)]
    for i, c in enumerate(conns):
        c.send(get("/healthz"))
        try:
            eq(c.response().status, 200, "connection %d of 4" % i)
        except (EOFError, ConnectionResetError):
            raise AssertionError("connection %d of 4 refused: a slot is still held for a client "
                                 "that left" % i)
        c.close()
    time.sleep(0.2)
    alive(s)
    off = post_event(s, "after")
    evs = read_events(s)
    eq(evs[-1]["data"]["Name"], "after", "last event")
    eq(evs[-1]["dmpoffset"], off, "offsets consistent")
    eq(evs[0]["data"]["Name"], "before", "first event")
    assert all(e["data"]["Name"] in ("before", "gone", "after") for e in evs), evs
    eq(sum(1 for e in evs if e["data"]["Name"] == "gone") <= 16, True, "at most the whole ones")


def test_client_that_half_closes_after_its_request_is_closed():
    # A client sends a whole request and shuts down its side at once (printf ... | nc -q0).
    # It gets its reply; then the server must see the EOF and close, not hold the connection
    # (and its per-address slot) until --timeout.
    s = Server(args=["--per-ip-limit", "2"])
    for i in range(3):
        c = Conn(s)
        c.send(get("/healthz"))
        c.sock.shutdown(socket.SHUT_WR)
        r = c.response()
        eq(r.status, 200, "reply %d" % i)
        assert c.closed(1.5), "round %d: connection still open 1.5 s after the client's EOF" % i
        c.close()
    time.sleep(0.2)
    conns = [Conn(s) for _ in range(2)]
    for i, c in enumerate(conns):
        c.send(get("/healthz"))
        eq(c.response().status, 200, "a fresh connection %d within the cap" % i)


# ---- SSE

def test_sse_chunked_framing_and_client_close():
    s = Server()
    provision(s)
    for i in range(2):
        post_event(s, "s%d" % i, i)
    c = Conn(s)
    c.send(get(PORT_PATH + "/subscribe?from=1"))
    r = c.head()
    eq(r.status, 200, "subscribe")
    eq(r.headers.get("content-type"), "text/event-stream", "content type")
    eq(r.headers.get("transfer-encoding"), "chunked", "chunked on HTTP/1.1")
    assert "content-length" not in r.headers, "no Content-Length on a stream"
    eq(r.count("transfer-encoding"), 1, "one Transfer-Encoding line")
    text = b""
    ids = []
    deadline = time.time() + 10
    while len(ids) < 3 and time.time() < deadline:
        if len(ids) == 2 and b"live" not in text:
            post_event(s, "live", 9)  # a live event after the stream opened
        n, data = c.chunk()
        assert n > 0, "the stream ended"
        eq(len(data), n, "chunk size")
        text += data
        ids = [int(ln[4:]) for ln in text.decode().split("\n") if ln.startswith("id: ")]
    eq(ids, [1, 2, 3], "event ids from the chunks")
    frames = [f for f in text.decode().split("\n\n") if "data: " in f]
    datas = [json.loads([ln for ln in f.split("\n") if ln.startswith("data: ")][0][6:]) for f in frames]
    eq([d["data"]["Name"] for d in datas], ["s0", "s1", "live"], "event data")
    c.close()
    time.sleep(0.3)
    alive(s)
    post_event(s, "after-close")
    # the stream's log line says the client left
    deadline = time.time() + 3
    line = None
    while time.time() < deadline and line is None:
        for ln in s.logs().splitlines():
            if ln.startswith("{") and '"/v1/' in ln and "/subscribe" in ln:
                line = json.loads(ln)
        time.sleep(0.05)
    assert line is not None, "no access-log line for the stream"
    eq((line["status"], line["outcome"]), ("200", "aborted"), "stream log line")
    # HTTP/1.0 gets the raw stream, ended by closing the connection
    c = Conn(s)
    c.send(get(PORT_PATH + "/subscribe?from=1", "HTTP/1.0"))
    r = c.head()
    eq(r.status, 200, "1.0 subscribe")
    eq(r.headers.get("transfer-encoding"), None, "no chunked framing on 1.0")
    eq(r.headers.get("connection"), "close", "1.0 stream closes")
    while b"id: 3\n" not in c.buf:
        c._fill()
    assert c.buf.startswith(b": dmp stream\n"), "framing on a 1.0 stream: %r" % c.buf[:40]
    c.close()
    time.sleep(0.2)
    alive(s)


# ---- the access log

def test_access_log_has_a_line_per_request_including_engine_errors():
    s = Server()
    sent = [
        (get("/healthz", extra="Connection: close\r\n"), 200, "GET", "/healthz"),
        (get("/no/such/path", extra="Connection: close\r\n"), 404, "GET", "/no/such/path"),
        (b"hello\r\n\r\n", 400, None, None),
        (b"GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n", 505, "GET", None),
        (get("/" + "x" * (33 * 1024)), 414, None, None),
        (get("/healthz", extra="".join("X-N%d: 1\r\n" % i for i in range(130))), 431, "GET", None),
        (b"GET /healthz HTTP/1.1\r\n\r\n", 400, "GET", "/healthz"),
        (b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "POST",
         "/healthz"),
    ]
    for raw, status, _, _ in sent:
        c = Conn(s)
        c.send(raw)
        eq(c.response().status, status, "reply to %r" % raw[:30])
        c.closed()
        c.close()
    want = sorted(st for _, st, _, _ in sent)
    lines = []
    deadline = time.time() + 3
    while time.time() < deadline:
        lines = []
        for ln in s.logs().splitlines():
            if ln.startswith("{"):
                j = json.loads(ln)
                if j.get("msg") == "request" and j.get("path") != "/readyz":
                    lines.append(j)
        if len(lines) >= len(sent):
            break
        time.sleep(0.05)
    eq(sorted(int(j["status"]) for j in lines), want, "statuses logged")
    for _, status, method, path in sent:
        match = [x for x in lines if int(x["status"]) == status and x["remote"] == "127.0.0.1"
                 and (method is None or x["method"] == method)
                 and (path is None or x["path"] == path)]
        assert match, "no log line for the %d (%s %s) in %r" % (status, method, path, lines)


run(globals())
