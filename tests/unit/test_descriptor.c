/* test_descriptor.c -- unit tests for src/descriptor: the YAML/JSON loader (positions,
 * limits, anchors, merge keys, duplicate keys), the descriptor rules and their
 * messages, and the case files in tests/cases/descriptor (each X.yaml or X.json with
 * X.expect holding the exact diagnostics, one per line, or the single word "valid").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "dmp/descriptor.h"
#include "fixtures.h"

static const char *req_3a = DMP_TEST_REQUEST_3A;

static const char *src_dir(void)
{
    const char *s = getenv("DMP_SOURCE_DIR");
    return s ? s : ".";
}

/* Parses 'text' as product.yaml; returns the status and leaves the findings in *diags. */
static int parse(const char *text, dmp_descriptor_t **d, dmp_diags_t *diags)
{
    dmp_descriptor_opts_t o = {0};
    o.source = "product.yaml";
    dmp_error_t err = {0};
    int rc = dmp_descriptor_parse(text, strlen(text), &o, d, diags, &err);
    if (rc != DMP_OK) {
        assert_null(*d);
        assert_true(err.msg[0] != '\0');
    }
    return rc;
}

/* Asserts that some finding formats exactly as 'want'. */
static void assert_diag(const dmp_diags_t *diags, const char *want)
{
    for (size_t i = 0; i < diags->n; i++) {
        char *s = dmp_diag_format(&diags->v[i]);
        int eq = !strcmp(s, want);
        dmp_free(s);
        if (eq)
            return;
    }
    for (size_t i = 0; i < diags->n; i++) {
        char *s = dmp_diag_format(&diags->v[i]);
        print_message("  have: %s\n", s);
        dmp_free(s);
    }
    fail_msg("no finding '%s'", want);
}

/* Asserts that some finding's message contains 'needle' and has the given rule. */
static void assert_diag_has(const dmp_diags_t *diags, const char *rule, const char *needle)
{
    for (size_t i = 0; i < diags->n; i++)
        if (!strcmp(diags->v[i].rule, rule) && strstr(diags->v[i].msg, needle))
            return;
    for (size_t i = 0; i < diags->n; i++)
        print_message("  have: [%s] %s\n", diags->v[i].rule, diags->v[i].msg);
    fail_msg("no finding of rule %s containing '%s'", rule, needle);
}

/* Builds a descriptor around one output port body (indented by 4). */
static char *with_port(const char *port_lines)
{
    return dmp_asprintf("name: p\ndomain: d\nversion: 1.0.0\noutputPorts:\n  - name: o\n"
                        "    type: stream\n%s",
                        port_lines);
}

static int expect_invalid_port(const char *lines, const char *rule, const char *needle)
{
    char *t = with_port(lines);
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    int rc = parse(t, &d, &diags);
    assert_int_equal(rc, DMP_INVALID);
    assert_diag_has(&diags, rule, needle);
    dmp_diags_free(&diags);
    dmp_free(t);
    return rc;
}

/* ---- the DESIGN 3A request ---- */

static void test_3a_request(void **state)
{
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    assert_int_equal(parse(req_3a, &d, &diags), DMP_OK);
    assert_int_equal(diags.n, 0);
    assert_string_equal(d->name, "test_name");
    assert_string_equal(d->domain, "test_domain");
    assert_string_equal(d->version, "1.0.1");
    assert_int_equal(d->major, 1);
    assert_int_equal(d->minor, 0);
    assert_int_equal(d->patch, 1);
    assert_string_equal(d->id, "urn:dmp:test_domain:test_name:1");
    assert_string_equal(d->environment, "test");
    assert_true(json_is_object(d->environment_specific));
    assert_int_equal(d->n_resources, 1);
    const dmp_resource_t *r = dmp_descriptor_resource(d, "test_s3");
    assert_non_null(r);
    assert_int_equal(r->kind, DMP_RES_OUTPUT);
    assert_string_equal(r->type, "raw");
    assert_string_equal(r->technology, "s3cdp");
    assert_string_equal(r->owner, "dmp-test-owner");
    assert_string_equal(r->description, "my s3 directory");
    assert_int_equal(r->allow.n, 2);
    assert_string_equal(r->allow.v[1], "dmp-test-2");
    assert_int_equal(r->depends_on.n, 0);
    assert_int_equal(r->visibility, DMP_VIS_UNSET);
    assert_int_equal(dmp_resource_visibility(r), DMP_VIS_PROTECTED);
    assert_string_equal(json_string_value(json_object_get(r->specific, "directory")),
                        "test_dir/full");
    assert_string_equal(r->pointer, "/outputPorts/0");
    assert_int_equal(r->loc.line, 6);
    assert_int_equal(r->loc.col, 5);
    /* resourceType is folded into type, keeping its position */
    assert_null(json_object_get(r->raw, "resourceType"));
    assert_string_equal(json_string_value(json_object_get(r->raw, "type")), "raw");
    dmp_loc_t l = dmp_descriptor_loc(d, "/outputPorts/0/type");
    assert_int_equal(l.line, 7);
    assert_int_equal(l.col, 5);
    l = dmp_descriptor_loc(d, "/outputPorts/0/allow/1");
    assert_int_equal(l.line, 10);
    assert_int_equal(l.col, 25);
    l = dmp_descriptor_loc(d, "/outputPorts/0/specific/bucket");
    assert_int_equal(l.line, 12);
    assert_null(dmp_descriptor_resource(d, "nope"));
    dmp_descriptor_free(d);
}

static void test_3a_as_json(void **state)
{
    const char *j = "{\"name\":\"test_name\",\"domain\":\"test_domain\",\"version\":\"1.0.1\",\n"
                    "\"environment\":{\"name\":\"test\",\"specific\":{}},\n"
                    "\"outputPorts\":[{\"name\":\"test_s3\",\"resourceType\":\"raw\",\n"
                    "\"technology\":\"s3cdp\",\"allow\":[\"a\"],\"dependsOn\":[]}],\n"
                    "\"workloads\":[],\"observability\":[]}";
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    assert_int_equal(parse(j, &d, &diags), DMP_OK);
    assert_string_equal(d->resources[0].type, "raw");
    dmp_loc_t l = dmp_descriptor_loc(d, "/outputPorts/0/technology");
    assert_int_equal(l.line, 4);
    assert_int_equal(l.col, 1);
    dmp_descriptor_free(d);
}

static void test_plain_environment_and_default(void **state)
{
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    assert_int_equal(parse("name: a\ndomain: b.c\nversion: 0.1.0-rc.1+b7\nenvironment: prod\n"
                           "workloads: [{name: w, type: transform}]\n",
                           &d, &diags),
                     DMP_OK);
    assert_string_equal(d->environment, "prod");
    assert_int_equal(d->major, 0);
    assert_int_equal(dmp_resource_visibility(&d->resources[0]), DMP_VIS_PRIVATE);
    dmp_descriptor_free(d);
    assert_int_equal(parse("name: a\ndomain: b\nversion: 1.2.3\nid: urn:x:y\n"
                           "observability: [{name: q, type: quality}]\n",
                           &d, &diags),
                     DMP_OK);
    assert_string_equal(d->environment, "default");
    assert_string_equal(d->id, "urn:x:y");
    assert_int_equal(d->resources[0].kind, DMP_RES_OBSERVABILITY);
    dmp_descriptor_free(d);
}

/* ---- error kinds ---- */

static void test_visibility_enum_message(void **state)
{
    const char *t = "name: p\n"
                    "domain: d\n"
                    "version: 1.0.0\n"
                    "outputPorts:\n"
                    "  - name: o\n"
                    "    type: stream\n"
                    "    visibility: publik\n";
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    assert_int_equal(parse(t, &d, &diags), DMP_INVALID);
    assert_int_equal(dmp_diags_errors(&diags), 1);
    assert_diag(&diags, "product.yaml:7:5: outputPorts[0].visibility: 'publik' is not one of "
                        "public, protected, private");
    assert_string_equal(diags.v[0].pointer, "/outputPorts/0/visibility");
    assert_string_equal(diags.v[0].rule, "enum");
    dmp_diags_free(&diags);
}

static void test_unknown_field_did_you_mean(void **state)
{
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    assert_int_equal(parse("name: p\ndomain: d\nversion: 1.0.0\ndescripton: x\n"
                           "outputPorts:\n  - name: o\n    type: stream\n    visibilty: public\n"
                           "    zzzzzzzz: 1\n",
                           &d, &diags),
                     DMP_INVALID);
    assert_diag(&diags, "product.yaml:4:1: descripton: unknown field 'descripton' (did you mean "
                        "'description'?)");
    assert_diag(&diags, "product.yaml:8:5: outputPorts[0].visibilty: unknown field 'visibilty' "
                        "(did you mean 'visibility'?)");
    assert_diag_has(&diags, "unknown-field", "'zzzzzzzz'; known fields are name, type");
    assert_int_equal(dmp_diags_errors(&diags), 3);
    dmp_diags_free(&diags);
    assert_int_equal(parse("name: p\ndomain: d\nversion: 1.0.0\ndesc: x\n"
                           "workloads: [{name: w, type: t, depends: [x]}]\n",
                           &d, &diags),
                     DMP_INVALID);
    assert_diag_has(&diags, "unknown-field", "'desc' (did you mean 'description'?)");
    assert_diag_has(&diags, "unknown-field", "'depends' (did you mean 'dependsOn'?)");
    assert_int_equal(dmp_diags_errors(&diags), 2);
    dmp_diags_free(&diags);
}

static void test_extensions_and_specific_are_free(void **state)
{
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    assert_int_equal(parse("name: p\ndomain: d\nversion: 1.0.0\nx-team: {anything: [1]}\n"
                           "environment: {name: e, x-note: 1, specific: {whatever: 2}}\n"
                           "outputPorts:\n  - name: o\n    type: stream\n    x-cost: 3\n"
                           "    specific: {nested: {deep: [{unknown: ok}]}}\n"
                           "    retention: {time: 1h, x-why: audit}\n",
                           &d, &diags),
                     DMP_OK);
    assert_int_equal(d->resources[0].retention_ms, 3600000);
    dmp_descriptor_free(d);
}

static void test_required_fields(void **state)
{
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    assert_int_equal(parse("owner: me\n", &d, &diags), DMP_INVALID);
    assert_diag(&diags, "product.yaml:1:1: name: required field 'name' is missing");
    assert_diag(&diags, "product.yaml:1:1: domain: required field 'domain' is missing");
    assert_diag(&diags, "product.yaml:1:1: version: required field 'version' is missing");
    assert_diag_has(&diags, "required", "at least one resource");
    dmp_diags_free(&diags);

    assert_int_equal(
        parse("name: ''\ndomain: d\nversion: 1.0.0\nworkloads: [{name: w, type: t}]\n", &d, &diags),
        DMP_INVALID);
    assert_diag(&diags, "product.yaml:1:1: name: 'name' must not be empty");
    dmp_diags_free(&diags);
    assert_int_equal(
        parse("name: p\ndomain: d\nversion: 1.0.0\noutputPorts:\n  - {name: o}\n", &d, &diags),
        DMP_INVALID);
    assert_diag(&diags, "product.yaml:5:5: outputPorts[0].type: required field 'type' is missing");
    dmp_diags_free(&diags);
}

static void test_no_resources(void **state)
{
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    assert_int_equal(
        parse("name: p\ndomain: d\nversion: 1.0.0\noutputPorts: []\nworkloads: []\n", &d, &diags),
        DMP_INVALID);
    assert_int_equal(dmp_diags_errors(&diags), 1);
    assert_string_equal(diags.v[0].path, "");
    assert_diag_has(&diags, "required",
                    "needs at least one resource in outputPorts, workloads or observability");
    dmp_diags_free(&diags);
}

static void test_names_domain_semver_id(void **state)
{
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    assert_int_equal(parse("name: 'bad name'\ndomain: London.Olympia\nversion: 1.0\nid: nope\n"
                           "workloads: [{name: w, type: t}]\n",
                           &d, &diags),
                     DMP_INVALID);
    assert_diag_has(&diags, "name", "'bad name' is not a valid name");
    assert_diag_has(&diags, "domain", "'London.Olympia' is not a domain");
    assert_diag(&diags, "product.yaml:3:1: version: expected a semver string such as 1.0.0, got "
                        "the number 1.0; write all three parts (MAJOR.MINOR.PATCH) or quote it");
    assert_diag_has(&diags, "id", "'nope' is not a URN");
    dmp_diags_free(&diags);
    const char *bad[] = {"1.0.x", "01.0.0", "1.0.0-", "1.0.0+", "1..0", "v1.0.0", "1.0.0-a..b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *t = dmp_asprintf("name: p\ndomain: d\nversion: '%s'\nworkloads: [{name: w, type: "
                               "t}]\n",
                               bad[i]);
        assert_int_equal(parse(t, &d, &diags), DMP_INVALID);
        assert_diag_has(&diags, "semver", "is not a semantic version");
        dmp_diags_free(&diags);
        dmp_free(t);
    }
}

static void test_types(void **state)
{
    expect_invalid_port("    allow: dmp-1\n", "type", "expected a list of strings, got the string");
    expect_invalid_port("    allow: [1]\n", "type", "expected a string, got the number 1");
    expect_invalid_port("    specific: [1]\n", "type", "expected a mapping, got a list");
    expect_invalid_port("    owner: {a: 1}\n", "type", "expected a string, got a mapping");
    expect_invalid_port("    schema: 3\n", "type", "a mapping (an inline schema) or a string");
    expect_invalid_port("    slo: true\n", "type", "expected a mapping, got a boolean");
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    assert_int_equal(parse("- a\n- b\n", &d, &diags), DMP_INVALID);
    assert_diag_has(&diags, "type", "expected a mapping (name, domain");
    dmp_diags_free(&diags);
    assert_int_equal(parse("name: p\ndomain: d\nversion: 1.0.0\noutputPorts: {a: 1}\n", &d, &diags),
                     DMP_INVALID);
    assert_diag(&diags, "product.yaml:4:1: outputPorts: expected a list of resources, got a "
                        "mapping");
    dmp_diags_free(&diags);
}

static void test_type_alias_conflict(void **state)
{
    expect_invalid_port("    resourceType: raw\n", "alias", "both given");
}

static void test_private_with_allow(void **state)
{
    expect_invalid_port("    visibility: private\n    allow: [x]\n", "visibility-allow",
                        "allow lists 1 reader but visibility is private");
}

static void test_retention(void **state)
{
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    char *t = with_port("    retention: {time: 7d, size: 1GiB}\n");
    assert_int_equal(parse(t, &d, &diags), DMP_OK);
    assert_int_equal(d->resources[0].retention_ms, 7LL * 86400000);
    assert_int_equal(d->resources[0].retention_bytes, 1073741824LL);
    dmp_descriptor_free(d);
    dmp_free(t);
    t = with_port("    retention: {time: 90000, size: 500MB}\n");
    assert_int_equal(parse(t, &d, &diags), DMP_OK);
    assert_int_equal(d->resources[0].retention_ms, 90000);
    assert_int_equal(d->resources[0].retention_bytes, 500000000LL);
    dmp_descriptor_free(d);
    dmp_free(t);
    expect_invalid_port("    retention: {time: 7 days}\n", "retention",
                        "'7 days' is not a duration");
    expect_invalid_port("    retention: {size: 1XB}\n", "retention", "'1XB' is not a size");
    expect_invalid_port("    retention: {time: -5}\n", "type", "a duration such as 7d");
    expect_invalid_port("    retention: {ttl: 1}\n", "unknown-field", "'ttl'");
    expect_invalid_port("    retention: 7d\n", "type", "a mapping with time and/or size");
    int64_t v;
    assert_int_equal(dmp_parse_duration_ms("30m", &v), DMP_OK);
    assert_int_equal(v, 1800000);
    assert_int_equal(dmp_parse_duration_ms("250ms", &v), DMP_OK);
    assert_int_equal(v, 250);
    assert_int_equal(dmp_parse_duration_ms("2w", &v), DMP_OK);
    assert_int_equal(v, 1209600000LL);
    assert_int_equal(dmp_parse_duration_ms("1.5h", &v), DMP_INVALID);
    assert_int_equal(dmp_parse_duration_ms("99999999999999999999d", &v), DMP_INVALID);
    assert_int_equal(dmp_parse_duration_ms("9999999999999999d", &v), DMP_INVALID);
    assert_int_equal(dmp_parse_duration_ms("", &v), DMP_INVALID);
    assert_int_equal(dmp_parse_size_bytes("10KiB", &v), DMP_OK);
    assert_int_equal(v, 10240);
    assert_int_equal(dmp_parse_size_bytes("1 TB", &v), DMP_OK);
    assert_int_equal(v, 1000000000000LL);
    assert_int_equal(dmp_parse_size_bytes("1gib", &v), DMP_INVALID);
}

static void test_duplicate_resources_and_depends_on(void **state)
{
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    assert_int_equal(parse("name: p\ndomain: d\nversion: 1.0.0\n"
                           "outputPorts:\n  - {name: orders, type: stream}\n"
                           "workloads:\n  - {name: orders, type: t, dependsOn: [order, ghost, "
                           "orders]}\n  - {name: w2, type: t, dependsOn: [orders, orders]}\n",
                           &d, &diags),
                     DMP_INVALID);
    assert_diag(&diags, "product.yaml:7:6: workloads[0].name: duplicated resource name 'orders' "
                        "(already used by outputPorts[0])");
    assert_diag_has(&diags, "depends-on",
                    "'order' is not a resource of this product (did you mean 'orders'?)");
    assert_diag_has(&diags, "depends-on", "'ghost' is not a resource of this product");
    assert_diag_has(&diags, "depends-on", "a resource cannot depend on itself");
    assert_diag_has(&diags, "depends-on", "'orders' is listed twice");
    dmp_diags_free(&diags);
    /* a valid chain across kinds */
    assert_int_equal(parse("name: p\ndomain: d\nversion: 1.0.0\n"
                           "outputPorts:\n  - {name: a, type: stream, dependsOn: [w]}\n"
                           "workloads:\n  - {name: w, type: t}\n",
                           &d, &diags),
                     DMP_OK);
    assert_string_equal(d->resources[0].depends_on.v[0], "w");
    dmp_descriptor_free(d);
}

static void test_input_ports(void **state)
{
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    assert_int_equal(
        parse("name: p\ndomain: d\nversion: 1.0.0\nworkloads: [{name: w, type: t}]\n"
              "inputPorts:\n"
              "  - {name: a, product: london.olympia/gates, port: x, filter: \"a = 1\"}\n"
              "  - {name: b, product: 'urn:dmp:london:gates:1', port: y}\n",
              &d, &diags),
        DMP_OK);
    assert_int_equal(d->n_inputs, 2);
    assert_string_equal(d->inputs[0].filter, "a = 1");
    assert_null(d->inputs[1].filter);
    assert_string_equal(d->inputs[1].pointer, "/inputPorts/1");
    dmp_descriptor_free(d);
    assert_int_equal(parse("name: p\ndomain: d\nversion: 1.0.0\nworkloads: [{name: w, type: t}]\n"
                           "inputPorts:\n"
                           "  - {name: a, product: nodomain, port: x}\n"
                           "  - {name: a, product: a/b/c}\n",
                           &d, &diags),
                     DMP_INVALID);
    assert_diag_has(&diags, "product-ref", "'nodomain' is not a product reference");
    assert_diag_has(&diags, "product-ref", "'a/b/c' is not a product reference");
    assert_diag_has(&diags, "duplicate-input", "duplicated input port name 'a'");
    assert_diag(&diags, "product.yaml:7:5: inputPorts[1].port: required field 'port' is missing");
    dmp_diags_free(&diags);
}

/* ---- schema files ---- */

static void test_schema_files(void **state)
{
    char *dir = dmp_asprintf("%s/examples/products", src_dir());
    char *path = dmp_asprintf("%s/olympia-visitors.yaml", dir);
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    dmp_error_t err = {0};
    assert_int_equal(dmp_descriptor_load(path, &d, &diags, &err), DMP_OK);
    const dmp_resource_t *r = dmp_descriptor_resource(d, "occupancy");
    assert_non_null(r);
    assert_string_equal(r->schema_file, "schemas/occupancy.json");
    assert_true(json_is_object(json_object_get(r->schema, "properties")));
    assert_true(json_is_object(dmp_descriptor_resource(d, "entries")->schema));
    dmp_descriptor_free(d);

    /* no base directory (a descriptor sent over HTTP) */
    char *t = with_port("    schema: schemas/occupancy.json\n");
    assert_int_equal(parse(t, &d, &diags), DMP_INVALID);
    assert_diag_has(&diags, "schema-file", "no base directory");
    dmp_diags_free(&diags);
    dmp_free(t);

    const char *escapes[] = {"/etc/passwd", "../s3cdp.yaml", "schemas/../../x.json", ""};
    for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
        t = with_port("    schema: 'PLACEHOLDER'\n");
        char *u = dmp_asprintf("name: p\ndomain: d\nversion: 1.0.0\noutputPorts:\n  - name: o\n"
                               "    type: stream\n    schema: '%s'\n",
                               escapes[i]);
        dmp_descriptor_opts_t o = {.source = "p.yaml", .base_dir = dir};
        assert_int_equal(dmp_descriptor_parse(u, strlen(u), &o, &d, &diags, &err), DMP_INVALID);
        assert_diag_has(&diags, "schema-file", "must be a relative path");
        dmp_diags_free(&diags);
        dmp_free(u);
        dmp_free(t);
    }
    const char *u = "name: p\ndomain: d\nversion: 1.0.0\noutputPorts:\n  - name: o\n"
                    "    type: stream\n    schema: schemas/missing.json\n";
    dmp_descriptor_opts_t o = {.source = "p.yaml", .base_dir = dir};
    assert_int_equal(dmp_descriptor_parse(u, strlen(u), &o, &d, &diags, &err), DMP_INVALID);
    assert_diag_has(&diags, "schema-file", "cannot read schema file 'schemas/missing.json'");
    dmp_diags_free(&diags);
    dmp_free(path);
    dmp_free(dir);
}

/* ---- the loader: hostile input ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_alias_bomb(void **state)
{
    /* billion laughs: 9 levels of 9 aliases, 9^9 nodes if expanded */
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_buf_puts(&b, "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (int i = 1; i <= 9; i++) {
        dmp_buf_printf(&b, "a%d: &a%d [", i, i);
        for (int j = 0; j < 9; j++)
            dmp_buf_printf(&b, "%s*a%d", j ? ", " : "", i - 1);
        dmp_buf_puts(&b, "]\n");
    }
    double t0 = now_s();
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    dmp_error_t err = {0};
    dmp_descriptor_opts_t o = {.source = "bomb.yaml"};
    int rc = dmp_descriptor_parse(b.data, b.len, &o, &d, &diags, &err);
    double dt = now_s() - t0;
    assert_int_equal(rc, DMP_LIMIT);
    assert_null(d);
    assert_non_null(strstr(err.msg, "limits.max_nodes"));
    assert_non_null(strstr(err.msg, "alias '*a"));
    assert_string_equal(diags.v[0].rule, "limit");
    assert_true(diags.v[0].loc.line > 0);
    assert_true(dt < 1.0);
    dmp_diags_free(&diags);
    dmp_buf_free(&b);
}

static void test_alias_within_limits_and_merge_keys(void **state)
{
    const char *t = "name: p\ndomain: d\nversion: 1.0.0\n"
                    "x-defaults: &defaults {type: stream, visibility: protected, allow: [ops]}\n"
                    "outputPorts:\n"
                    "  - <<: *defaults\n    name: a\n    visibility: public\n    allow: []\n"
                    "  - <<: [*defaults, {owner: me, type: table}]\n    name: b\n";
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    assert_int_equal(parse(t, &d, &diags), DMP_OK);
    assert_string_equal(d->resources[0].type, "stream");
    assert_int_equal(d->resources[0].visibility, DMP_VIS_PUBLIC);
    assert_int_equal(d->resources[0].allow.n, 0);
    assert_string_equal(d->resources[1].type, "stream"); /* the earlier merge source wins */
    assert_string_equal(d->resources[1].owner, "me");
    assert_int_equal(d->resources[1].visibility, DMP_VIS_PROTECTED);
    /* a merged field points at the mapping that merged it */
    dmp_loc_t l = dmp_descriptor_loc(d, "/outputPorts/1/owner");
    assert_int_equal(l.line, 10);
    dmp_descriptor_free(d);

    /* an inline merge source never lends its positions to the mapping's own keys */
    assert_int_equal(parse("name: p\ndomain: d\nversion: 1.0.0\noutputPorts:\n"
                           "  - <<: {name: zz, type: stream}\n    name: a\n",
                           &d, &diags),
                     DMP_OK);
    assert_string_equal(d->resources[0].name, "a");
    assert_int_equal(dmp_descriptor_loc(d, "/outputPorts/0/name").line, 6);
    assert_int_equal(dmp_descriptor_loc(d, "/outputPorts/0/type").line, 5);
    dmp_descriptor_free(d);

    assert_int_equal(parse("a: &x [1]\nb: *y\n", &d, &diags), DMP_PARSE);
    assert_diag_has(&diags, "syntax", "alias '*y' names no anchor");
    dmp_diags_free(&diags);
    assert_int_equal(parse("a: &x [1, *x]\n", &d, &diags), DMP_PARSE);
    assert_diag_has(&diags, "syntax", "inside the node it names");
    dmp_diags_free(&diags);
    assert_int_equal(parse("a: {<<: 3}\n", &d, &diags), DMP_PARSE);
    assert_diag_has(&diags, "syntax", "merge key '<<' needs a mapping");
    dmp_diags_free(&diags);
}

static void test_deep_nesting(void **state)
{
    const int n = 100000;
    char *flow = dmp_malloc((size_t)n * 2 + 1);
    memset(flow, '[', (size_t)n);
    memset(flow + n, ']', (size_t)n);
    flow[2 * n] = '\0';
    for (int fmt = 0; fmt < 2; fmt++) {
        double t0 = now_s();
        dmp_descriptor_t *d = NULL;
        dmp_diags_t diags = {0};
        dmp_error_t err = {0};
        dmp_descriptor_opts_t o = {.format = fmt ? DMP_FMT_JSON : DMP_FMT_YAML, .source = "deep"};
        int rc = dmp_descriptor_parse(flow, strlen(flow), &o, &d, &diags, &err);
        assert_int_equal(rc, DMP_LIMIT);
        assert_non_null(strstr(err.msg, "deeper than 64 levels (limits.max_depth)"));
        assert_string_equal(err.where, "deep:1:65");
        assert_true(now_s() - t0 < 1.0);
        dmp_diags_free(&diags);
    }
    dmp_free(flow);
    /* 4 MiB of '[' (the byte limit) is refused before libfyaml scans it */
    size_t big = (size_t)4 << 20;
    char *wall = dmp_malloc(big);
    memset(wall, '[', big);
    double t1 = now_s();
    dmp_descriptor_t *dw = NULL;
    dmp_diags_t dd = {0};
    dmp_descriptor_opts_t ow = {.source = "wall"};
    assert_int_equal(dmp_descriptor_parse(wall, big, &ow, &dw, &dd, NULL), DMP_LIMIT);
    assert_true(now_s() - t1 < 1.0);
    dmp_diags_free(&dd);
    dmp_free(wall);
    /* brackets in quoted and block scalars and comments are text, not nesting */
    dmp_buf_t t = DMP_BUF_INIT;
    dmp_buf_puts(&t, "name: p\ndomain: d\nversion: 1.0.0\nworkloads: [{name: w, type: t}]\n"
                     "description: |\n");
    for (int i = 0; i < 5; i++)
        dmp_buf_puts(&t, "  [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{{{{{\n");
    dmp_buf_puts(
        &t, "owner: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[''s'\n"
            "status: \"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\\\"\"\n"
            "# [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n");
    dmp_diags_t dt = {0};
    dmp_descriptor_t *dg = NULL;
    assert_int_equal(parse(t.data, &dg, &dt), DMP_OK);
    assert_string_equal(dg->owner + strlen(dg->owner) - 3, "['s");
    dmp_descriptor_free(dg);
    dmp_buf_free(&t);
    /* block style */
    dmp_buf_t b = DMP_BUF_INIT;
    for (int i = 0; i < 2000; i++)
        dmp_buf_printf(&b, "%*sk:\n", i, "");
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    assert_int_equal(parse(b.data, &d, &diags), DMP_LIMIT);
    assert_diag_has(&diags, "limit", "limits.max_depth");
    dmp_diags_free(&diags);
    dmp_buf_free(&b);
}

static void test_size_and_node_limits(void **state)
{
    dmp_descriptor_opts_t o = {.source = "big.yaml"};
    o.limits.max_bytes = 100;
    char buf[200];
    memset(buf, ' ', sizeof(buf));
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    dmp_error_t err = {0};
    assert_int_equal(dmp_descriptor_parse(buf, sizeof(buf), &o, &d, &diags, &err), DMP_LIMIT);
    assert_non_null(strstr(err.msg, "200 bytes, over the limit of 100 bytes (limits.max_bytes)"));
    dmp_diags_free(&diags);

    dmp_buf_t b = DMP_BUF_INIT;
    dmp_buf_puts(&b, "[");
    for (int i = 0; i < 300; i++)
        dmp_buf_printf(&b, "%s%d", i ? "," : "", i);
    dmp_buf_puts(&b, "]");
    dmp_descriptor_opts_t o2 = {.source = "many.json"};
    o2.limits.max_nodes = 100;
    assert_int_equal(dmp_descriptor_parse(b.data, b.len, &o2, &d, &diags, &err), DMP_LIMIT);
    assert_non_null(strstr(err.msg, "more than 100 nodes (limits.max_nodes)"));
    dmp_diags_free(&diags);
    dmp_buf_free(&b);
}

static void test_duplicate_keys(void **state)
{
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    assert_int_equal(parse("name: a\ndomain: b\nname: c\n", &d, &diags), DMP_PARSE);
    assert_diag(&diags, "product.yaml:3:1: duplicate key 'name' (first defined at line 1, "
                        "column 1)");
    assert_string_equal(diags.v[0].rule, "duplicate-key");
    dmp_diags_free(&diags);
    assert_int_equal(parse("{\"a\": 1,\n \"a\": 2}", &d, &diags), DMP_PARSE);
    assert_diag_has(&diags, "duplicate-key", "duplicate key 'a'");
    dmp_diags_free(&diags);
}

static void test_malformed(void **state)
{
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    assert_int_equal(parse("name: [a, b\ndomain: x\n", &d, &diags), DMP_PARSE);
    assert_string_equal(diags.v[0].rule, "syntax");
    assert_true(diags.v[0].loc.line > 0);
    assert_non_null(strstr(diags.v[0].msg, "malformed YAML"));
    dmp_diags_free(&diags);
    assert_int_equal(parse("{\"name\": 1,, }", &d, &diags), DMP_PARSE);
    assert_diag_has(&diags, "syntax", "malformed JSON");
    assert_int_equal(diags.v[0].loc.line, 1);
    assert_int_equal(diags.v[0].loc.col, 12);
    dmp_diags_free(&diags);
    assert_int_equal(parse("", &d, &diags), DMP_PARSE);
    assert_diag_has(&diags, "syntax", "the document is empty");
    dmp_diags_free(&diags);
    assert_int_equal(parse("a: 1\n---\nb: 2\n", &d, &diags), DMP_PARSE);
    assert_diag_has(&diags, "syntax", "found a second one");
    dmp_diags_free(&diags);
    assert_int_equal(parse("? [a]\n: 1\n", &d, &diags), DMP_PARSE);
    assert_diag_has(&diags, "syntax", "keys must be scalars");
    dmp_diags_free(&diags);
    const char bad_utf8[] = "name: ok\ndomain: \"\xff\xfe\"\n";
    assert_int_equal(parse(bad_utf8, &d, &diags), DMP_PARSE);
    assert_diag(&diags, "product.yaml:2:10: the text is not valid UTF-8 (byte 0xff at offset 18)");
    dmp_diags_free(&diags);
    /* libfyaml 0.7 spins on this input; the UTF-8 check must refuse it first */
    assert_int_equal(parse("%\xff", &d, &diags), DMP_PARSE);
    dmp_diags_free(&diags);
    const char *overlong[] = {"a: \xc0\xaf\n", "a: \xed\xa0\x80\n", "a: \xf4\x90\x80\x80\n",
                              "a: \xe2\x82\n"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(parse(overlong[i], &d, &diags), DMP_PARSE);
        assert_diag_has(&diags, "syntax", "not valid UTF-8");
        dmp_diags_free(&diags);
    }
}

static void test_yaml_scalars_and_tags(void **state)
{
    json_t *v = NULL;
    dmp_doc_locs_t *locs = NULL;
    dmp_doc_opts_t o = {.format = DMP_FMT_YAML};
    const char *t = "a: yes\nb: 0x1F\nc: 0o17\nd: ~\ne: !!str 12\nf: 1.5e3\ng: 'true'\n"
                    "h: !!int '7'\ni: .inf\nj: TRUE\nk: !custom 3\n";
    assert_int_equal(dmp_doc_load(t, strlen(t), &o, &v, &locs, NULL, NULL), DMP_OK);
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"a\":\"yes\",\"b\":31,\"c\":15,\"d\":null,\"e\":\"12\","
                           "\"f\":1500.0,\"g\":\"true\",\"h\":7,\"i\":\".inf\",\"j\":true,"
                           "\"k\":3}");
    free(s);
    dmp_loc_t l = dmp_doc_locs_get_value(locs, "/k");
    assert_int_equal(l.line, 11);
    assert_int_equal(l.col, 12);
    json_decref(v);
    dmp_doc_locs_free(locs);
    assert_int_equal(dmp_doc_load("a: !!int x", 10, &o, &v, NULL, NULL, NULL), DMP_PARSE);
    /* AUTO: flow-style YAML that looks like JSON falls back to YAML */
    dmp_doc_opts_t a = {0};
    assert_int_equal(dmp_doc_load("{a: yes, b: [1]}", 16, &a, &v, NULL, NULL, NULL), DMP_OK);
    assert_string_equal(json_string_value(json_object_get(v, "a")), "yes");
    json_decref(v);
    dmp_diags_t dd = {0};
    dmp_error_t e = {0};
    assert_int_equal(dmp_doc_load("{\"a\": [1,,]}", 12, &a, &v, NULL, &dd, &e), DMP_PARSE);
    assert_int_equal(dd.n, 1);
    assert_non_null(strstr(dd.v[0].msg, "malformed JSON"));
    assert_non_null(strstr(e.msg, "malformed JSON"));
    dmp_diags_free(&dd);
    /* multi-document streams */
    dmp_doc_opts_t m = {.format = DMP_FMT_YAML, .multi = 1};
    assert_int_equal(dmp_doc_load("--- 1\n--- [2]\n", 14, &m, &v, &locs, NULL, NULL), DMP_OK);
    assert_int_equal(json_array_size(v), 2);
    assert_int_equal(dmp_doc_locs_get(locs, "/1/0").line, 2);
    json_decref(v);
    dmp_doc_locs_free(locs);
}

static void test_pointer_to_path_and_json(void **state)
{
    char *p = dmp_pointer_to_path("/outputPorts/0/visibility");
    assert_string_equal(p, "outputPorts[0].visibility");
    dmp_free(p);
    p = dmp_pointer_to_path("/specific/a b/c~1d");
    assert_string_equal(p, "specific[\"a b\"][\"c/d\"]");
    dmp_free(p);
    p = dmp_pointer_to_path("");
    assert_string_equal(p, "");
    dmp_free(p);

    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    char *t = with_port("    visibility: nope\n");
    assert_int_equal(parse(t, &d, &diags), DMP_INVALID);
    json_t *j = dmp_diags_to_json(&diags);
    json_t *e = json_array_get(j, 0);
    assert_string_equal(json_string_value(json_object_get(e, "code")), "DMP_INVALID");
    assert_string_equal(json_string_value(json_object_get(e, "rule")), "enum");
    assert_string_equal(json_string_value(json_object_get(e, "path")), "outputPorts[0].visibility");
    assert_int_equal(json_integer_value(json_object_get(e, "line")), 7);
    assert_string_equal(json_string_value(json_object_get(e, "severity")), "error");
    json_decref(j);
    dmp_diags_free(&diags);
    dmp_free(t);

    /* policies add findings at a pointer of a parsed descriptor */
    assert_int_equal(parse(req_3a, &d, &diags), DMP_OK);
    dmp_descriptor_diag(d, &diags, DMP_SEV_WARN, DMP_POLICY, "owner-required",
                        "/outputPorts/0/owner", "owner '%s' is not a team", "dmp-test-owner");
    assert_int_equal(dmp_diags_errors(&diags), 0);
    assert_diag(&diags, "product.yaml:11:5: warning: outputPorts[0].owner: owner "
                        "'dmp-test-owner' is not a team");
    dmp_diags_free(&diags);
    dmp_descriptor_free(d);
}

/* ---- the dmp validate command (skipped when the binary is not built) ---- */

static int run_dmp(const char *args, char **out)
{
    const char *bd = getenv("DMP_BUILD_DIR");
    char *cmd = dmp_asprintf("cd '%s' && NO_COLOR=1 '%s/dmp' %s 2>/dev/null", src_dir(), bd, args);
    FILE *p = popen(cmd, "r");
    dmp_free(cmd);
    assert_non_null(p);
    dmp_buf_t b = DMP_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        dmp_buf_append(&b, chunk, n);
    int st = pclose(p);
    *out = b.data ? dmp_buf_steal(&b) : dmp_strdup("");
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli_validate(void **state)
{
    const char *bd = getenv("DMP_BUILD_DIR");
    struct stat st;
    char *bin = dmp_asprintf("%s/dmp", bd ? bd : "");
    int have = bd && stat(bin, &st) == 0;
    dmp_free(bin);
    if (!have)
        skip();
    char *out = NULL;
    assert_int_equal(run_dmp("validate examples/products/s3cdp.yaml "
                             "examples/products/olympia-visitors.yaml",
                             &out),
                     0);
    dmp_free(out);
    assert_int_equal(run_dmp("validate -o json examples/products/s3cdp.yaml "
                             "tests/cases/descriptor/bad-visibility.yaml",
                             &out),
                     1);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    json_t *files = json_object_get(j, "files");
    assert_int_equal(json_array_size(files), 2);
    assert_true(json_is_true(json_object_get(json_array_get(files, 0), "valid")));
    json_t *bad = json_array_get(files, 1);
    assert_true(json_is_false(json_object_get(bad, "valid")));
    json_t *e0 = json_array_get(json_object_get(bad, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e0, "path")),
                        "outputPorts[0].visibility");
    json_decref(j);
    dmp_free(out);
    assert_int_equal(run_dmp("validate", &out), 64);
    dmp_free(out);
    assert_int_equal(run_dmp("validate --bogus x.yaml", &out), 64);
    dmp_free(out);
    assert_int_equal(run_dmp("validate tests/cases/descriptor/no-such-file.yaml", &out), 65);
    dmp_free(out);
    assert_int_equal(run_dmp("validate --help", &out), 0);
    assert_non_null(strstr(out, "usage: dmp validate"));
    dmp_free(out);
}

/* ---- case files ---- */

static char *read_text(const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    if (dmp_read_file(path, 1 << 20, &buf, &len, NULL) != DMP_OK)
        return NULL;
    return buf;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_case_files(void **state)
{
    char *dir = dmp_asprintf("%s/tests/cases/descriptor", src_dir());
    DIR *dh = opendir(dir);
    assert_non_null(dh);
    char *names[512];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL && n < 512) {
        size_t l = strlen(e->d_name);
        if ((l > 5 && !strcmp(e->d_name + l - 5, ".yaml")) ||
            (l > 5 && !strcmp(e->d_name + l - 5, ".json")))
            names[n++] = dmp_strdup(e->d_name);
    }
    closedir(dh);
    qsort(names, n, sizeof(char *), cmp_names);
    assert_true(n >= 10);
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        char *in = dmp_asprintf("%s/%s", dir, names[i]);
        char *exp_path = dmp_asprintf("%s/%.*s.expect", dir, (int)(strlen(names[i]) - 5), names[i]);
        char *want = read_text(exp_path);
        char *text = read_text(in);
        assert_non_null(text);
        if (want == NULL)
            fail_msg("%s has no .expect file", names[i]);
        dmp_descriptor_opts_t o = {.source = names[i], .base_dir = dir};
        dmp_descriptor_t *d = NULL;
        dmp_diags_t diags = {0};
        dmp_error_t err = {0};
        int rc = dmp_descriptor_parse(text, strlen(text), &o, &d, &diags, &err);
        dmp_buf_t got = DMP_BUF_INIT;
        if (rc == DMP_OK && diags.n == 0)
            dmp_buf_puts(&got, "valid\n");
        for (size_t k = 0; k < diags.n; k++) {
            char *line = dmp_diag_format(&diags.v[k]);
            /* schema-file findings carry the directory; keep the case files portable */
            char *rel = strstr(line, names[i]) == line ? line : strstr(line, "descriptor/");
            dmp_buf_printf(&got, "%s\n", rel ? (rel == line ? line : rel + 11) : line);
            dmp_free(line);
        }
        if (strcmp(got.data, want) != 0) {
            print_message("case %s:\n--- want\n%s--- got\n%s", names[i], want, got.data);
            failed++;
        }
        dmp_buf_free(&got);
        dmp_diags_free(&diags);
        dmp_descriptor_free(d);
        dmp_free(text);
        dmp_free(want);
        dmp_free(in);
        dmp_free(exp_path);
        dmp_free(names[i]);
    }
    print_message("descriptor cases: %zu run, %zu failed\n", n, failed);
    dmp_free(dir);
    assert_int_equal(failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_3a_request),
        cmocka_unit_test(test_3a_as_json),
        cmocka_unit_test(test_plain_environment_and_default),
        cmocka_unit_test(test_visibility_enum_message),
        cmocka_unit_test(test_unknown_field_did_you_mean),
        cmocka_unit_test(test_extensions_and_specific_are_free),
        cmocka_unit_test(test_required_fields),
        cmocka_unit_test(test_no_resources),
        cmocka_unit_test(test_names_domain_semver_id),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_type_alias_conflict),
        cmocka_unit_test(test_private_with_allow),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_duplicate_resources_and_depends_on),
        cmocka_unit_test(test_input_ports),
        cmocka_unit_test(test_schema_files),
        cmocka_unit_test(test_alias_bomb),
        cmocka_unit_test(test_alias_within_limits_and_merge_keys),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_size_and_node_limits),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_yaml_scalars_and_tags),
        cmocka_unit_test(test_pointer_to_path_and_json),
        cmocka_unit_test(test_case_files),
        cmocka_unit_test(test_cli_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
