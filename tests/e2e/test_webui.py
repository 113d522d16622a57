"""End-to-end: the web UI served by `dmp serve` at /, driven in Debian's chromium by
playwright-core (web/e2e/ui.mjs): search for a product by a schema field, open it, see
its ports and its upstream product in the lineage graph, and the topology. Screenshots
go to build/test-artifacts/ (under DMP_BUILD_DIR)."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from dmptest import *  # noqa: E402,F401,F403

WEB = os.path.join(SOURCE, "web")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

GATES = """name: gate-sensors
domain: london.hammersmith.olympia
version: 1.0.0
owner: team-olympia
description: Raw readings from the turnstile gates.
outputPorts:
  - name: readings
    type: stream
    visibility: public
    schema:
      type: object
      properties:
        gate_id: {type: string, description: Which turnstile fired}
  - name: heartbeats
    type: stream
    visibility: public
    schema:
      type: object
      properties:
        alive: {type: boolean}
"""

# Two inputs from the same upstream product: two parallel edges in the graphs.
FOOTFALL = """name: footfall
domain: london.hammersmith.olympia
version: 1.0.0
owner: team-olympia
tags: [footfall]
inputPorts:
  - {name: r, product: london.hammersmith.olympia/gate-sensors, port: readings}
  - {name: h, product: london.hammersmith.olympia/gate-sensors, port: heartbeats}
outputPorts:
  - name: counts
    type: stream
    visibility: public
    schema: {type: object, properties: {n: {type: integer}}}
"""

# No tags, no inputs, $defs and $ref, a tuple, a files port and a long channel name.
GEO = """name: geo-positions-of-every-visitor
domain: london.hammersmith.olympia.exhibition-halls.navigation
version: 1.0.0
owner: team-maps
outputPorts:
  - name: positions-with-a-long-port-name
    type: stream
    visibility: public
    schema:
      type: object
      required: [p]
      properties:
        p: {$ref: "#/$defs/point", description: Where the visitor stands}
        pair: {type: array, prefixItems: [{type: integer}, {type: string, format: date-time}]}
        trail: {type: array, items: {$ref: "#/$defs/point"}}
        a_very_long_property_name_that_does_not_fit_on_a_phone_screen_at_all:
          type: string
          pattern: '^[a-z0-9-]{1,64}(\\.[a-z0-9-]{1,64})*$'
          description: A long description that wraps across the width of a narrow screen.
      $defs:
        point:
          type: object
          required: [x, y]
          properties:
            x: {type: number, minimum: -180, maximum: 180}
            y: {type: number, minimum: -90, maximum: 90}
  - name: dumps
    type: files
    visibility: public
    schema: {type: object, properties: {file: {type: string}}}
"""


def cyc(name, up):
    return ("name: %s\ndomain: cyc\nversion: 1.0.0\nowner: team-cyc\n"
            "inputPorts:\n  - {name: in, product: %s, port: out}\n"
            "outputPorts:\n  - name: out\n    type: stream\n    visibility: public\n"
            "    schema: {type: object, properties: {v: {type: number}}}\n" % (name, up))


def test_webui_search_open_lineage():
    if not os.path.exists(os.path.join(WEB, "dist", "index.html")):
        raise AssertionError("web/dist is not built: run 'make' (it needs npm)")
    if not os.path.isdir(os.path.join(WEB, "node_modules", "playwright-core")):
        raise AssertionError("web/node_modules is missing: run 'make' (npm ci in web/)")
    if not os.path.exists(CHROMIUM):
        raise AssertionError("chromium is not installed: scripts/deps.sh test installs it")
    s = Server(args=["--web-dir", os.path.join(WEB, "dist")])
    d = tmpdir()
    r = s.cli("register", write(os.path.join(d, "gates.yaml"), GATES))
    eq(r.returncode, 0, r.stderr)
    r = s.cli("register", os.path.join(SOURCE, "examples", "products", "olympia-visitors.yaml"))
    eq(r.returncode, 0, r.stderr)
    for name, doc in (("footfall", FOOTFALL), ("geo", GEO), ("a", cyc("a", "cyc/c")),
                      ("b", cyc("b", "cyc/a")), ("c", cyc("c", "cyc/b"))):
        r = s.cli("register", write(os.path.join(d, name + ".yaml"), doc))
        eq(r.returncode, 0, "register %s: %s" % (name, r.stderr))
    artifacts = os.path.join(os.path.abspath(BUILD), "test-artifacts")
    os.makedirs(artifacts, exist_ok=True)
    env = dict(os.environ, CHROMIUM=CHROMIUM)
    r = subprocess.run(["node", os.path.join("e2e", "ui.mjs"), s.url, artifacts], cwd=WEB,
                       capture_output=True, text=True, timeout=240, env=env)
    print(r.stdout.rstrip())
    if r.returncode != 0:
        raise AssertionError("browser run failed (screenshots in %s):\n%s%s" %
                             (artifacts, r.stdout, r.stderr[-3000:]))
    for shot in ("webui-search.png", "webui-product.png", "webui-lineage.png",
                 "webui-topology.png", "webui-product-notags.png", "webui-product-390.png",
                 "webui-parallel.png", "webui-cycle.png"):
        if not os.path.getsize(os.path.join(artifacts, shot)):
            raise AssertionError("empty screenshot " + shot)


def test_webui_with_tokens():
    """With --tokens the page and its assets load without a token (public routes), the API
    answers 401 until a token is entered in the UI's "API token" field, then search works
    (web/e2e/token.mjs)."""
    if not os.path.exists(os.path.join(WEB, "dist", "index.html")):
        raise AssertionError("web/dist is not built: run 'make' (it needs npm)")
    d = tmpdir()
    tokens = os.path.join(d, "tokens.jsonl")
    r = cli("token", "create", "--tokens", tokens, "--principal", "root", "--admin")
    eq(r.returncode, 0, r.stderr)
    token = r.stdout.strip()
    s = Server(args=["--web-dir", os.path.join(WEB, "dist"), "--tokens", tokens])
    auth = {"Authorization": "Bearer " + token}
    r = s.req("POST", "/v1/register", GATES, "application/yaml", auth)
    eq(r.status, 201, "register: %s" % r.body)
    # the files are public, the API is not
    r = s.req("GET", "/")
    eq(r.status, 200, "GET / without a token")
    eq(s.req("GET", "/v1/search?q=gate").status, 401, "search without a token")
    eq(s.req("GET", "/v1/search?q=gate", headers=auth).status, 200, "search with the token")
    artifacts = os.path.join(os.path.abspath(BUILD), "test-artifacts")
    env = dict(os.environ, CHROMIUM=CHROMIUM)
    r = subprocess.run(["node", os.path.join("e2e", "token.mjs"), s.url, artifacts, token],
                       cwd=WEB, capture_output=True, text=True, timeout=120, env=env)
    print(r.stdout.rstrip())
    if r.returncode != 0:
        raise AssertionError("browser run failed (screenshots in %s):\n%s%s" %
                             (artifacts, r.stdout, r.stderr[-3000:]))
    if token in r.stdout:
        raise AssertionError("the token was printed")


if __name__ == "__main__":
    if shutil.which("node") is None:
        print("node is not installed: scripts/deps.sh test installs it")
        print("0 passed, 1 failed")
        sys.exit(1)
    run(globals())
