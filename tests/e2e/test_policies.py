"""End-to-end: federated governance policies on a real server."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from dmptest import *  # noqa: E402,F401,F403

GOOD = """name: visitors
domain: london.hammersmith
version: 1.0.0
owner: team-london
environment: dev
outputPorts:
  - name: entries
    type: stream
    visibility: public
    schema:
      type: object
      required: [hall]
      properties:
        hall: {type: string}
"""


def test_default_rules_block_with_422_and_findings():
    s = Server()
    bad = GOOD.replace("name: visitors", "name: BadName").replace("owner: team-london\n", "")
    r = s.req("POST", "/v1/dataproduct", bad, "application/yaml")
    eq(r.status, 422, "policy error status: %s" % (r.body,))
    eq(r.body["code"], "DMP_POLICY", "code")
    rules = {e["rule"] for e in r.body["errors"]}
    assert {"name-casing", "owner-required"} <= rules, rules
    assert all(e["line"] > 0 for e in r.body["errors"]), r.body["errors"]
    # The dry run says the same, and the CLI shows it against the local file.
    d = tmpdir()
    f = write(os.path.join(d, "bad.yaml"), bad)
    c = s.cli("plan", f)
    eq(c.returncode, 1, "plan exit")
    contains(c.stderr, f + ":1:1: error: name:", "finding against the local file")
    contains(c.stderr, "[name-casing]", "rule named")
    # And offline validate agrees.
    c = cli("validate", f)
    eq(c.returncode, 1, "validate exit")
    contains(c.stderr, "snake_case", "validate finding")


def test_global_warning_and_domain_rules():
    s = Server()
    warn = ("rules:\n  product-tags:\n    description: products should be tagged\n"
            "    given: \"$\"\n    then: {field: tags, function: truthy}\n"
            "    severity: warn\n    message: add tags so people can find it\n")
    r = s.req("PUT", "/v1/global-policies", warn, "application/yaml")
    eq(r.status, 200, "put global: %s" % (r.body,))
    assert any(x["name"] == "product-tags" for x in r.body["effective"]), r.body
    r = s.req("POST", "/v1/dataproduct", GOOD, "application/yaml")
    eq(r.status, 202, "deploy with a warning: %s" % (r.body,))
    eq(r.body["warnings"][0]["rule"], "product-tags", "warning returned")
    # A domain policy adds an error rule for its subtree only.
    dom = ("rules:\n  needs-description:\n    given: \"$\"\n"
           "    then: {field: description, function: truthy}\n    severity: error\n"
           "    message: london products need a description\n")
    r = s.req("PUT", "/v1/domains/london/policies", dom, "application/yaml")
    eq(r.status, 200, "put domain: %s" % (r.body,))
    r = s.req("POST", "/v1/dataproduct?dryRun=true", GOOD.replace("1.0.0", "1.0.1"), "application/yaml")
    eq(r.status, 422, "subdomain product under the domain rule")
    contains(json.dumps(r.body["errors"]), "needs-description", "rule named")
    other = GOOD.replace("london.hammersmith", "paris.centre")
    r = s.req("POST", "/v1/dataproduct?dryRun=true", other, "application/yaml")
    eq(r.status, 200, "other domain not affected: %s" % (r.body,))
    # A domain policy cannot switch off a global or default error rule.
    off = "rules:\n  owner-required: off\n"
    r = s.req("PUT", "/v1/domains/london/policies", off, "application/yaml")
    eq(r.status, 422, "relaxing an inherited error: %s" % (r.body,))
    eq(r.body["code"], "DMP_POLICY", "code")
    contains(r.body["detail"], "owner-required", "names the rule")
    # Malformed policy: 400 with a location.
    r = s.req("PUT", "/v1/domains/london/policies", "rules: [unclosed", "application/yaml")
    eq(r.status, 400, "malformed policy")
    assert r.body["errors"][0]["line"] >= 1, r.body
    # Policies survive a restart.
    s.restart()
    r = s.req("GET", "/v1/domains/london/policies")
    assert any(x["name"] == "needs-description" for x in r.body["effective"]), r.body
    r = s.req("GET", "/v1/global-policies")
    assert any(x["name"] == "product-tags" for x in r.body["effective"]), r.body


def test_breaking_schema_change_needs_a_new_major():
    s = Server()
    r = s.req("POST", "/v1/dataproduct", GOOD, "application/yaml")
    eq(r.status, 202, "v1.0.0")
    breaking = GOOD.replace("1.0.0", "1.1.0").replace("required: [hall]", "required: [hall, gate]")
    breaking = breaking.replace("hall: {type: string}", "hall: {type: string}\n        gate: {type: integer}")
    r = s.req("POST", "/v1/dataproduct", breaking, "application/yaml")
    eq(r.status, 422, "breaking change in a minor version: %s" % (r.body,))
    contains(json.dumps(r.body["errors"]), "breaking-change-major", "rule")
    r = s.req("POST", "/v1/dataproduct", breaking.replace("1.1.0", "2.0.0"), "application/yaml")
    eq(r.status, 202, "new major accepted: %s" % (r.body,))


def test_policies_flag_and_bad_file_at_startup():
    d = tmpdir()
    bad = write(os.path.join(d, "bad.yaml"), "rules:\n  x:\n    given: \"$\"\n    then: {function: truthyy}\n")
    r = cli("serve", "--listen", "127.0.0.1:0", "--data-dir", os.path.join(d, "data"), "--policies", bad)
    assert r.returncode != 0, "a bad policy file must stop the server"
    contains(r.stderr, "bad.yaml:", "names the file and position")
    contains(r.stderr, "truthy", "did-you-mean")


if __name__ == "__main__":
    run(globals())
