"""End-to-end: the catalog against the real server -- registration (HTTP and CLI),
applied products catalogued, input-port checks on apply, search (ranking, reasons,
hostile text, paging), versions and deletion, lineage (cycles, depth cap, DOT through
Graphviz), topology, the AsyncAPI/OpenAPI exports checked by the official npm parsers,
and the web UI's files."""
import json
import os
import shutil
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from dmptest import *  # noqa: E402,F401,F403

WEB_DIST = os.path.join(SOURCE, "web", "dist")
EXPORTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "exports")

GATES = """name: gate-sensors
domain: london.hammersmith.olympia
version: 1.0.0
owner: team-olympia
description: Raw readings from the turnstile gates.
tags: [iot]
outputPorts:
  - name: readings
    type: stream
    visibility: public
    schema:
      type: object
      properties:
        gate_id: {type: string, description: Which turnstile fired}
        hall: {type: string}
"""


def product(domain, name, version="1.0.0", inputs=(), vis="public", owner="team-x", field="amount",
            technology=None):
    lines = ["name: %s" % name, "domain: %s" % domain, "version: %s" % version,
             "owner: %s" % owner, "description: %s of %s" % (name, domain),
             "outputPorts:", "  - name: out", "    type: stream", "    visibility: %s" % vis]
    if technology:
        lines.append("    technology: %s" % technology)
    lines += ["    schema:", "      type: object", "      properties:",
              "        %s: {type: number}" % field]
    if inputs:
        lines.append("inputPorts:")
        for i, (ref, port) in enumerate(inputs):
            lines += ["  - name: in%d" % i, "    product: %s" % ref, "    port: %s" % port]
    return "\n".join(lines) + "\n"


def server():
    """A fresh server per test (the harness stops everything after each), with the
    gate-sensors -> visitors example registered through the CLI."""
    p = Provisioner()
    s = Server(args=["--provisioner", "s3cdp=" + p.url, "--web-dir", WEB_DIST])
    d = tmpdir()
    r = s.cli("register", write(os.path.join(d, "gates.yaml"), GATES))
    eq(r.returncode, 0, "register gates: " + r.stderr)
    r = s.cli("register", os.path.join(SOURCE, "examples", "products", "olympia-visitors.yaml"))
    eq(r.returncode, 0, "register visitors (schema from a file): " + r.stderr)
    return s


def test_discover_a_registered_product():
    s = server()
    st, body = s.req("GET", "/v1/products/london.hammersmith.olympia/visitors")
    eq(st, 200, "registered product through /v1/products: %s" % (body,))
    eq(body["state"], "REGISTERED", "not deployed here")
    eq(body["catalog"]["name"], "visitors", "catalog view")
    assert body["catalog"]["ports"], "ports with their schemas"
    r = s.cli("get", "london.hammersmith.olympia/visitors", "-o", "json")
    eq(r.returncode, 0, "dmp get of a registered product: " + r.stderr)
    eq(s.req("GET", "/v1/products/london.hammersmith.olympia/nope").status, 404, "unknown")


def q(s, **params):
    return s.req("GET", "/v1/search?" + urllib.parse.urlencode(params))


def test_search_by_schema_field_with_reason():
    s = server()
    st, body = q(s, q="party")
    eq(st, 200, "search")
    names = [r["name"] for r in body["results"]]
    eq(names, ["visitors"], "results for a schema field")
    contains(body["results"][0]["matched"], "schema:party", "matched")
    for k in ("id", "domain", "name", "version", "matched"):
        contains(body["results"][0], k, "result keys")
    contains(body, "next", "reply keys")
    # The file schema (schemas/occupancy.json) was inlined by the CLI and indexed too.
    r = s.cli("search", "-o", "json", "gate")
    eq(r.returncode, 0, r.stderr)
    got = json.loads(r.stdout)
    eq(got["results"][0]["name"], "gate-sensors", "cli search")
    r = s.cli("search", "nothing-like-this")
    eq(r.returncode, 1, "no match exits 1")


def test_search_hostile_and_long_text():
    s = server()
    for text in ['"', '"""', 'a" OR "b', 'NEAR(a b)', 'party AND', '*', 'col:"x',
                 "'); DROP TABLE fts; --", "\u00fc\u00f6\u00e4 \"", "^", "-", "(", ")"]:
        st, body = q(s, q=text)
        eq(st, 200, "search %r: %s" % (text, body))
        contains(body, "results", "reply")
    st, body = q(s, q="party " * 5000)
    eq(st, 200, "long query is capped")
    eq([r["name"] for r in body["results"]], ["visitors"], "long query still matches")
    st, body = q(s, q="x", limit="abc")
    eq(st, 400, "bad limit")
    st, body = q(s, q="x", cursor="-5")
    eq(st, 400, "bad cursor")
    st, body = q(s, q="gate", limit="100000")
    eq(st, 200, "huge limit is capped")


def test_search_filters_and_paging():
    s = server()
    for i in range(7):
        st, body = s.req("POST", "/v1/register", product("paging.dept%d" % (i % 2), "p%d" % i,
                                                         field="paged_field"),
                         "application/yaml")
        eq(st, 201, "register: %s" % body)
    seen, cursor = [], None
    for _ in range(10):
        params = {"q": "paged_field", "limit": "3"}
        if cursor:
            params["cursor"] = cursor
        st, body = q(s, **params)
        eq(st, 200, "page")
        seen += [r["name"] for r in body["results"]]
        cursor = body["next"]
        if cursor is None:
            break
    eq(sorted(seen), ["p%d" % i for i in range(7)], "all pages")
    st, body = q(s, domain="paging.dept1")
    eq(sorted(r["name"] for r in body["results"]), ["p1", "p3", "p5"], "domain filter")
    st, body = q(s, domain="paging")
    eq(len(body["results"]), 7, "parent domain filter")
    st, body = q(s, tag="iot")
    eq([r["name"] for r in body["results"]], ["gate-sensors"], "tag filter")
    st, body = q(s, owner="team-olympia", type="stream")
    eq(sorted(r["name"] for r in body["results"]), ["gate-sensors", "visitors"], "owner+type")


def test_apply_registers_and_delete_marks():
    s = server()
    doc = """name: orders
domain: shop
version: 1.0.0
owner: team-shop
description: Orders placed in the shop.
environment: test
outputPorts:
  - name: files
    type: raw
    technology: s3cdp
    visibility: public
    description: order files
    specific: {directory: orders, bucket: b}
    schema: {type: object, properties: {order_ref: {type: string}}}
"""
    st, body = s.req("POST", "/v1/dataproduct", doc, "application/yaml")
    eq(st, 202, "apply: %s" % body)
    s.wait_state("test", "shop", "orders", "1.0.0", "CREATED")
    st, body = q(s, q="order_ref")
    eq([r["name"] for r in body["results"]], ["orders"], "applied product is searchable")
    st, e = s.req("GET", "/v1/catalog/products/shop/orders")
    eq(st, 200, "entry")
    eq(e["source"], "apply", "source")
    eq(e["ports"][0]["name"], "files", "ports")
    assert "consume" not in e["ports"][0], "a files port has no dmp read URL (it would 404)"
    st, v = s.req("GET", "/v1/products/shop/orders/versions")
    eq([x["version"] for x in v["versions"]], ["1.0.0"], "versions")
    st, body = s.req("DELETE", "/v1/dataproduct/test/shop/orders/1.0.0")
    eq(st, 202, "delete")
    st, body = q(s, q="order_ref")
    eq(body["results"], [], "deleted product leaves search")
    st, v = s.req("GET", "/v1/products/shop/orders/versions")
    eq(st, 200, "history stays")
    eq(v["versions"][0]["deleted"], True, "marked deleted")


def test_apply_refuses_unknown_or_unreadable_inputs():
    s = server()
    s.req("POST", "/v1/register", product("sec", "vault", vis="private", owner="team-vault"),
          "application/yaml")
    consumer = product("shop", "reader", inputs=[("shop/does-not-exist", "out")],
                       technology="s3cdp")
    st, body = s.req("POST", "/v1/dataproduct", consumer, "application/yaml")
    eq(st, 404, "unknown upstream: %s" % body)
    contains(body["detail"], "shop/does-not-exist", "message names the product")
    contains(body["detail"], "in0", "message names the input")
    consumer = product("shop", "reader", inputs=[("london.hammersmith.olympia/gate-sensors",
                                                  "nope")], technology="s3cdp")
    st, body = s.req("POST", "/v1/dataproduct", consumer, "application/yaml")
    eq(st, 404, "unknown port")
    contains(body["detail"], "nope", "names the port")
    consumer = product("shop", "reader", inputs=[("sec/vault", "out")], technology="s3cdp")
    st, body = s.req("POST", "/v1/dataproduct?dryRun=true", consumer, "application/yaml")
    eq(st, 403, "private port: %s" % body)
    contains(body["detail"], "private", "says why")


def test_sample_events_on_product_entry():
    s = server()
    doc = ("name: live\ndomain: shop\nversion: 1.0.0\nowner: team-shop\noutputPorts:\n"
           "  - name: clicks\n    type: stream\n    visibility: public\n    schema:\n"
           "      type: object\n      properties:\n        page: {type: string}\n")
    st, body = s.req("POST", "/v1/dataproduct", doc, "application/yaml")
    eq(st, 202, "apply: %s" % body)
    s.wait_state("default", "shop", "live", "1.0.0", "CREATED")
    for i in range(5):
        st, body = s.req("POST", "/v1/products/shop/live/ports/clicks/events", {"page": "p%d" % i})
        eq(st, 201, "publish: %s" % body)
    st, e = s.req("GET", "/v1/catalog/products/shop/live")
    eq(st, 200, "entry")
    port = e["ports"][0]
    eq([x["data"]["page"] for x in port["samples"]], ["p2", "p3", "p4"], "newest events")
    contains(port["consume"]["cli"], "dmp tail shop/live clicks", "dmp tail snippet")
    st, body = s.req("GET", port["consume"]["read"].replace(s.url, "") + "?from=1&limit=2")
    eq(st, 200, "the advertised read URL works: %s" % body)


def test_lineage_cycles_depth_and_dot():
    s = server()
    for name, up in (("a", "cyc/c"), ("b", "cyc/a"), ("c", "urn:dmp:cyc:b:1")):
        st, body = s.req("POST", "/v1/register", product("cyc", name, inputs=[(up, "out")]),
                         "application/yaml")
        eq(st, 201, "register %s: %s" % (name, body))
    st, g = s.req("GET", "/v1/lineage/cyc/a?direction=both&depth=99999999")
    eq(st, 200, "lineage")
    eq(g["depth"], 32, "depth capped")
    eq(sorted(n["key"] for n in g["nodes"]), ["cyc/a", "cyc/b", "cyc/c"], "each node once")
    eq(len(g["edges"]), 3, "each edge once")
    eq(g["cyclic"], True, "cycle reported")
    st, g = s.req("GET", "/v1/lineage/london.hammersmith.olympia/visitors?direction=up")
    eq([e["from"] for e in g["edges"]], ["london.hammersmith.olympia/gate-sensors"], "upstream")
    st, body = s.req("GET", "/v1/lineage/no/such")
    eq(st, 404, "unknown product")
    st, body = s.req("GET", "/v1/lineage/cyc/a?direction=sideways")
    eq(st, 400, "bad direction")
    st, body = s.req("GET", "/v1/lineage/cyc/a?depth=-1")
    eq(st, 400, "bad depth")
    r = s.cli("lineage", "cyc/a", "-o", "dot")
    eq(r.returncode, 0, r.stderr)
    contains(r.stdout, '"cyc/c" -> "cyc/a"', "dot edge")
    if shutil.which("dot"):
        out = subprocess.run(["dot", "-Tsvg"], input=r.stdout, capture_output=True, text=True)
        eq(out.returncode, 0, "graphviz renders the DOT: " + out.stderr)
        contains(out.stdout, "<svg", "svg")
    else:
        print("  note: graphviz not installed; DOT not rendered")
    r = s.cli("lineage", "cyc/a", "-o", "json")
    eq(json.loads(r.stdout)["root"], "cyc/a", "cli json")
    r = s.cli("lineage", "no/such")
    eq(r.returncode, 1, "cli unknown product")
    r = s.cli("lineage", "nodomain")
    eq(r.returncode, 64, "cli usage")


def test_topology():
    s = server()
    st, t = s.req("GET", "/v1/topology")
    eq(st, 200, "topology")
    keys = {n["key"] for n in t["nodes"]}
    contains(keys, "london.hammersmith.olympia/visitors", "nodes")
    contains([d["name"] for d in t["domains"]], "london.hammersmith.olympia", "domains")
    contains([(e["from"], e["to"]) for e in t["edges"]],
             ("london.hammersmith.olympia/gate-sensors", "london.hammersmith.olympia/visitors"),
             "edges")


GEO = """name: geo
domain: maps
version: 1.0.0
owner: team-maps
description: Points and lines, with definitions and references.
outputPorts:
  - name: main
    type: stream
    visibility: public
    schema:
      $schema: https://json-schema.org/draft/2020-12/schema
      type: object
      properties:
        p: {$ref: "#/$defs/point"}
        line: {type: array, items: {$ref: "#/$defs/point"}}
        pair: {type: array, prefixItems: [{$ref: "#/$defs/point"}, {type: string}]}
        again: {$ref: "#/properties/p"}
        a: {type: string}
      dependentRequired: {a: [p]}
      dependentSchemas: {a: {properties: {line: {minItems: 2}}}}
      $defs:
        point:
          type: object
          required: [x, y]
          properties:
            x: {type: number}
            y: {type: number}
            next: {$ref: "#/$defs/point"}
  - name: dump
    type: files
    visibility: public
    schema: {type: object, properties: {q: {$ref: "#/$defs/x"}}, $defs: {x: {type: string}}}
"""


def test_exports_pass_official_parsers():
    s = server()
    st, body = s.req("POST", "/v1/register", GEO, "application/yaml")
    eq(st, 201, "register geo: %s" % body)
    d = tmpdir()
    files = []
    for kind, path in (("asyncapi", "/v1/products/london.hammersmith.olympia/visitors/asyncapi"),
                       ("openapi", "/v1/products/london.hammersmith.olympia/visitors/openapi"),
                       ("openapi", "/openapi"),
                       ("asyncapi", "/v1/products/maps/geo/asyncapi"),
                       ("openapi", "/v1/products/maps/geo/openapi")):
        st, body = s.req("GET", path)
        eq(st, 200, path)
        f = os.path.join(d, "%d.json" % len(files))
        write(f, json.dumps(body))
        files.append("%s=%s" % (kind, f))
    st, a = s.req("GET", "/v1/products/london.hammersmith.olympia/visitors/asyncapi")
    eq(a["channels"]["entries"]["address"], "london.hammersmith.olympia.visitors._public.entries",
       "channel named as the channel interface names it")
    st, body = s.req("GET", "/v1/products/no/such/asyncapi")
    eq(st, 404, "unknown product")
    # Definitions moved where the document's resolver finds them; no files-port paths.
    st, a = s.req("GET", "/v1/products/maps/geo/asyncapi")
    contains(a["components"]["schemas"], "main_point", "moved definition")
    eq(a["components"]["messages"]["mainEvent"]["payload"]["schema"]["properties"]["p"]["$ref"],
       "#/components/schemas/main_point", "asyncapi ref")
    st, o = s.req("GET", "/v1/products/maps/geo/openapi")
    eq(o["components"]["schemas"]["main"]["properties"]["p"]["$ref"],
       "#/components/schemas/main/$defs/point", "openapi ref")
    eq([p for p in o["paths"] if "/ports/dump/" in p], [], "no paths for a files port")
    contains(o["paths"], "/v1/products/maps/geo/ports/main/events", "stream port paths")
    if not os.path.isdir(os.path.join(EXPORTS_DIR, "node_modules")):
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                           cwd=EXPORTS_DIR, capture_output=True, text=True, timeout=300)
        eq(r.returncode, 0, "npm ci: " + r.stderr)
    r = subprocess.run(["node", "validate.mjs"] + files, cwd=EXPORTS_DIR, capture_output=True,
                       text=True, timeout=120)
    print(r.stdout.rstrip())
    eq(r.returncode, 0, "validators: " + r.stdout + r.stderr)


def test_register_bad_input():
    s = server()
    st, body = s.req("POST", "/v1/register", "name: [", "application/yaml")
    eq(st, 400, "bad yaml")
    st, body = s.req("POST", "/v1/register", "", "application/yaml")
    eq(st, 400, "empty")
    r = s.cli("register", "/nonexistent.yaml")
    contains((64, 65, 1), r.returncode, "missing file exit code")
    r = s.cli("register", "--help")
    eq(r.returncode, 0, "help")
    contains(r.stdout, "usage: dmp register", "help text")


def test_web_ui_files():
    s = server()
    if not os.path.exists(os.path.join(WEB_DIST, "index.html")):
        raise AssertionError("web/dist is not built: run make (npm)")
    st, body = s.req("GET", "/")
    eq(st, 200, "index")
    contains(body, "<main", "html")
    import re
    asset = re.search(r'/assets/[^"]+\.js', body).group(0)
    st, js = s.req("GET", asset)
    eq(st, 200, "asset")
    for bad in ("/assets/..%2F..%2Fetc%2Fpasswd", "/assets/.hidden", "/assets/../index.html"):
        st, body = s.req("GET", bad)
        eq(st, 404, "traversal " + bad)


if __name__ == "__main__":
    run(globals())
