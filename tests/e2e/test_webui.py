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
"""


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
                 "webui-topology.png"):
        if not os.path.getsize(os.path.join(artifacts, shot)):
            raise AssertionError("empty screenshot " + shot)


if __name__ == "__main__":
    if shutil.which("node") is None:
        print("node is not installed: scripts/deps.sh test installs it")
        print("0 passed, 1 failed")
        sys.exit(1)
    run(globals())
