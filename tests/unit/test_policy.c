/* test_policy.c -- policies as code: the shipped default rules (each with a descriptor
 * that passes and one that fails), the rule functions and message templates, policy
 * file errors with their locations, federation (global vs domain layers), and
 * hostile rules that must stay bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "dmp/policy.h"
#include "fixtures.h"

static const char *REQ_3A = DMP_TEST_REQUEST_3A;

static dmp_descriptor_t *desc(const char *yaml)
{
    dmp_descriptor_t *d = NULL;
    dmp_diags_t dg = {0};
    dmp_error_t err = {0};
    dmp_descriptor_opts_t o = {.source = "product.yaml"};
    if (dmp_descriptor_parse(yaml, strlen(yaml), &o, &d, &dg, &err) != DMP_OK)
        fail_msg("test descriptor does not parse: %s\n%s", err.msg, yaml);
    dmp_diags_free(&dg);
    return d;
}

static dmp_policy_set_t *defaults(void)
{
    dmp_policy_set_t *s = NULL;
    dmp_error_t err = {0};
    if (dmp_policy_set_new(0, &s, &err) != DMP_OK)
        fail_msg("default set: %s", err.msg);
    return s;
}

/* Evaluates and returns the findings; *rc gets the status. */
static dmp_diags_t run(dmp_policy_set_t *s, const char *yaml, int *rc)
{
    dmp_diags_t dg = {0};
    dmp_error_t err = {0};
    dmp_descriptor_t *d = desc(yaml);
    *rc = dmp_policy_evaluate(s, d, NULL, &dg, &err);
    dmp_descriptor_free(d);
    return dg;
}

static const dmp_diag_t *find_rule(const dmp_diags_t *dg, const char *rule)
{
    for (size_t i = 0; i < dg->n; i++)
        if (!strcmp(dg->v[i].rule, rule))
            return &dg->v[i];
    return NULL;
}

static void dump(const dmp_diags_t *dg)
{
    for (size_t i = 0; i < dg->n; i++) {
        char *t = dmp_diag_format(&dg->v[i]);
        print_message("  finding: [%s] %s\n", dg->v[i].rule, t);
        dmp_free(t);
    }
}

/* 'yaml' must produce no finding at all under the default set. */
static void default_pass(const char *yaml)
{
    dmp_policy_set_t *s = defaults();
    int rc;
    dmp_diags_t dg = run(s, yaml, &rc);
    if (rc != DMP_OK || dg.n) {
        dump(&dg);
        fail_msg("expected no findings for:\n%s", yaml);
    }
    dmp_diags_free(&dg);
    dmp_policy_set_free(s);
}

/* 'yaml' must fail 'rule' (severity error) at 'pointer', line 'line'; the message
 * must contain 'needle'. */
static void default_fail(const char *yaml, const char *rule, const char *pointer, int line,
                         const char *needle)
{
    dmp_policy_set_t *s = defaults();
    int rc;
    dmp_diags_t dg = run(s, yaml, &rc);
    const dmp_diag_t *f = find_rule(&dg, rule);
    if (!f) {
        dump(&dg);
        fail_msg("expected rule %s to fire on:\n%s", rule, yaml);
    }
    assert_int_equal(rc, DMP_POLICY);
    assert_int_equal(f->severity, DMP_SEV_ERROR);
    assert_int_equal(f->code, DMP_POLICY);
    assert_string_equal(f->pointer, pointer);
    assert_string_equal(f->file, "product.yaml");
    if (f->loc.line != line)
        fail_msg("rule %s: expected line %d, got %d:%d", rule, line, f->loc.line, f->loc.col);
    assert_true(f->loc.col > 0);
    if (!strstr(f->msg, needle))
        fail_msg("rule %s: message '%s' lacks '%s'", rule, f->msg, needle);
    dmp_diags_free(&dg);
    dmp_policy_set_free(s);
}

#define HEAD "name: orders\ndomain: london.hammersmith\nversion: 1.0.0\n"

static void test_design_3a_passes_defaults(void **state)
{
    default_pass(REQ_3A);
}

static void test_rule_owner_required(void **state)
{
    default_pass(HEAD "owner: team_a\noutputPorts:\n  - name: p1\n    type: files\n");
    default_pass(HEAD "outputPorts:\n  - name: p1\n    type: files\n    owner: bob\n");
    default_fail(HEAD "outputPorts:\n  - name: p1\n    type: files\n    owner: bob\n"
                      "  - name: p2\n    type: files\n",
                 "owner-required", "/outputPorts/1/owner", 8, "no owner");
}

static void test_rule_owner_required_product(void **state)
{
    default_pass(HEAD "owner: team_a\nworkloads:\n  - name: w1\n    type: job\n");
    default_fail(HEAD "workloads:\n  - name: w1\n    type: job\n", "owner-required-product",
                 "/name", 1, "has no owner");
}

static void test_rule_name_casing(void **state)
{
    default_pass(HEAD "owner: a\noutputPorts:\n  - name: daily_totals_v2\n    type: files\n");
    default_fail(HEAD "owner: a\noutputPorts:\n  - name: dailyTotals\n    type: files\n",
                 "name-casing", "/outputPorts/0/name", 6, "'dailyTotals' is not snake_case");
    default_fail("name: Orders\ndomain: d\nversion: 1.0.0\nowner: a\noutputPorts:\n"
                 "  - name: p\n    type: files\n",
                 "name-casing", "/name", 1, "'Orders'");
}

static void test_rule_domain_casing(void **state)
{
    default_pass("name: o\ndomain: london.hammer_smith\nversion: 1.0.0\nowner: a\n"
                 "outputPorts:\n  - name: p\n    type: files\n");
    default_fail("name: o\ndomain: london.hammer-smith\nversion: 1.0.0\nowner: a\n"
                 "outputPorts:\n  - name: p\n    type: files\n",
                 "domain-casing", "/domain", 2, "london.hammer-smith");
}

static void test_rule_typed_schema_required(void **state)
{
    default_pass(HEAD "owner: a\noutputPorts:\n  - name: s\n    type: stream\n"
                      "    visibility: public\n    schema: {type: object}\n");
    /* private ports and raw ports need no schema */
    default_pass(HEAD "owner: a\noutputPorts:\n  - name: s\n    type: stream\n"
                      "    visibility: private\n  - name: r\n    type: raw\n    allow: [x]\n");
    default_fail(HEAD "owner: a\noutputPorts:\n  - name: s\n    type: table\n"
                      "    visibility: protected\n    allow: [x]\n",
                 "typed-schema-required", "/outputPorts/0/schema", 6, "needs a schema");
    /* no visibility but an allow list: protected by default */
    default_fail(HEAD "owner: a\noutputPorts:\n  - name: s\n    type: stream\n    allow: [x]\n",
                 "typed-schema-required", "/outputPorts/0/schema", 6, "needs a schema");
}

static void test_rule_typed_schema_typed(void **state)
{
    default_pass(HEAD
                 "owner: a\noutputPorts:\n  - name: s\n    type: stream\n"
                 "    visibility: public\n    schema:\n      properties: {a: {type: string}}\n");
    default_fail(HEAD "owner: a\noutputPorts:\n  - name: s\n    type: stream\n"
                      "    visibility: public\n    schema:\n      description: anything goes\n",
                 "typed-schema-typed", "/outputPorts/0/schema/type", 9, "neither 'type'");
}

static void test_rule_pii_public_masked(void **state)
{
    const char *ok_masked =
        HEAD "owner: a\noutputPorts:\n  - name: s\n    type: stream\n    visibility: public\n"
             "    schema:\n      type: object\n      properties:\n"
             "        email: {type: string, x-dmp-classification: pii, x-dmp-mask: hash}\n";
    const char *ok_protected =
        HEAD "owner: a\noutputPorts:\n  - name: s\n    type: stream\n    visibility: protected\n"
             "    allow: [x]\n    schema:\n      type: object\n      properties:\n"
             "        email: {type: string, x-dmp-classification: pii}\n";
    const char *bad =
        HEAD "owner: a\noutputPorts:\n  - name: s\n    type: stream\n    visibility: public\n"
             "    schema:\n      type: object\n      properties:\n"
             "        name: {type: string}\n"
             "        email: {type: string, x-dmp-classification: pii}\n";
    default_pass(ok_masked);
    default_pass(ok_protected);
    default_fail(bad, "pii-public-masked", "/outputPorts/0/schema/properties/email/x-dmp-mask", 13,
                 "must be masked");
}

static void test_rule_retention_max(void **state)
{
    default_pass(HEAD "owner: a\noutputPorts:\n  - name: s\n    type: files\n"
                      "    retention: {time: 365d}\n");
    default_fail(HEAD "owner: a\noutputPorts:\n  - name: s\n    type: files\n"
                      "    retention: {time: 400d}\n",
                 "retention-max", "/outputPorts/0/retention/time", 8,
                 "exceeds the maximum of 365d");
}

static void test_rule_breaking_change_major(void **state)
{
    const char *v1 = "name: o\ndomain: d\nversion: 1.2.0\nowner: a\noutputPorts:\n"
                     "  - name: s\n    type: stream\n    visibility: public\n"
                     "    schema:\n      type: object\n      properties: {a: {type: string}}\n";
    /* compatible: 'a' widened to string or integer, and documented */
    const char *v1_3 = "name: o\ndomain: d\nversion: 1.3.0\nowner: a\noutputPorts:\n"
                       "  - name: s\n    type: stream\n    visibility: public\n"
                       "    schema:\n      type: object\n      description: widened\n"
                       "      properties: {a: {type: [string, integer]}}\n";
    /* breaking: 'a' changes type and becomes required */
    const char *breaking = "name: o\ndomain: d\nversion: %s\nowner: a\noutputPorts:\n"
                           "  - name: s\n    type: stream\n    visibility: public\n"
                           "    schema:\n      type: object\n      required: [a]\n"
                           "      properties: {a: {type: integer}}\n";
    dmp_policy_set_t *s = defaults();
    dmp_descriptor_t *old = desc(v1), *d;
    dmp_diags_t dg = {0};
    dmp_error_t err = {0};
    char text[1024];

    d = desc(v1_3);
    if (dmp_policy_evaluate(s, d, old, &dg, &err) != DMP_OK) {
        dump(&dg);
        fail_msg("a compatible change was refused: %s", err.msg);
    }
    assert_int_equal(dg.n, 0);
    dmp_descriptor_free(d);

    snprintf(text, sizeof(text), breaking, "1.3.0");
    d = desc(text);
    /* without the previous version the rule cannot run */
    assert_int_equal(dmp_policy_evaluate(s, d, NULL, &dg, &err), DMP_OK);
    assert_int_equal(dmp_policy_evaluate(s, d, old, &dg, &err), DMP_POLICY);
    const dmp_diag_t *f = find_rule(&dg, "breaking-change-major");
    if (!f) {
        dump(&dg);
        fail_msg("breaking change not reported");
    }
    assert_string_equal(f->pointer, "/outputPorts/0");
    assert_int_equal(f->loc.line, 6);
    if (!strstr(f->msg, "breaks backward compatibility with version 1.2.0"))
        fail_msg("message: %s", f->msg);
    assert_non_null(strstr(f->msg, "version 1.3.0 needs a new major version"));
    dmp_diags_free(&dg);
    dmp_descriptor_free(d);

    snprintf(text, sizeof(text), breaking, "2.0.0");
    d = desc(text);
    assert_int_equal(dmp_policy_evaluate(s, d, old, &dg, &err), DMP_OK);
    assert_int_equal(dg.n, 0);
    dmp_descriptor_free(d);
    dmp_descriptor_free(old);
    dmp_policy_set_free(s);
}

/* A schema given as a file is checked after loading. */
static void test_schema_file_is_seen(void **state)
{
    char dir[] = "/tmp/dmp-policy-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *prod = dmp_asprintf("%s/product.yaml", dir), *sch = dmp_asprintf("%s/s.json", dir);
    FILE *f = fopen(prod, "w");
    fputs(HEAD "owner: a\noutputPorts:\n  - name: s\n    type: stream\n"
               "    visibility: public\n    schema: s.json\n",
          f);
    fclose(f);
    const char *schemas[2] = {"{\"description\": \"untyped\"}",
                              "{\"type\": \"object\", \"properties\": {\"e\": "
                              "{\"type\": \"string\", \"x-dmp-classification\": \"pii\"}}}"};
    const char *expect[2] = {"typed-schema-typed", "pii-public-masked"};
    for (int i = 0; i < 2; i++) {
        f = fopen(sch, "w");
        fputs(schemas[i], f);
        fclose(f);
        dmp_descriptor_t *d = NULL;
        dmp_diags_t dg = {0};
        dmp_error_t err = {0};
        if (dmp_descriptor_load(prod, &d, &dg, &err) != DMP_OK)
            fail_msg("load: %s", err.msg);
        dmp_policy_set_t *s = defaults();
        assert_int_equal(dmp_policy_evaluate(s, d, NULL, &dg, &err), DMP_POLICY);
        if (dg.n != 1 || strcmp(dg.v[0].rule, expect[i]) != 0) {
            dump(&dg);
            fail_msg("expected exactly %s", expect[i]);
        }
        dmp_diags_free(&dg);
        dmp_policy_set_free(s);
        dmp_descriptor_free(d);
    }
    remove(sch);
    remove(prod);
    rmdir(dir);
    dmp_free(prod);
    dmp_free(sch);
}

static void test_admin_changes_default(void **state)
{
    /* the admin's global layer may redefine a default rule (a tighter retention) or
     * switch one off */
    const char *g = "rules:\n"
                    "  retention-max:\n"
                    "    given: \"$.outputPorts[*].retention.time\"\n"
                    "    then: {function: duration, functionOptions: {max: 30d}}\n"
                    "    severity: error\n"
                    "  name-casing: off\n";
    dmp_policy_t *p = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_policy_parse(g, strlen(g), "global.yaml", &p, NULL, &err), DMP_OK);
    dmp_policy_set_t *s = defaults();
    assert_int_equal(dmp_policy_set_global(s, p, &err), DMP_OK);
    int rc;
    dmp_diags_t dg = run(s,
                         HEAD "owner: a\noutputPorts:\n  - name: camelCase\n    type: files\n"
                              "    retention: {time: 60d}\n",
                         &rc);
    assert_int_equal(rc, DMP_POLICY);
    assert_int_equal(dg.n, 1);
    assert_string_equal(dg.v[0].rule, "retention-max");
    dmp_diags_free(&dg);
    dmp_policy_set_free(s);
}

/* ---- functions and templates, over bare JSON documents */

static dmp_diags_t eval_json(const char *policy, const char *doc, int *rc)
{
    dmp_policy_t *p = NULL;
    dmp_error_t err = {0};
    if (dmp_policy_parse(policy, strlen(policy), "p.yaml", &p, NULL, &err) != DMP_OK)
        fail_msg("policy does not parse: %s", err.msg);
    dmp_policy_set_t *s = NULL;
    assert_int_equal(dmp_policy_set_new(DMP_POLICY_NO_DEFAULTS, &s, &err), DMP_OK);
    assert_int_equal(dmp_policy_set_global(s, p, &err), DMP_OK);
    json_error_t je;
    json_t *j = json_loads(doc, 0, &je);
    assert_non_null(j);
    dmp_diags_t dg = {0};
    *rc = dmp_policy_evaluate_json(s, j, NULL, NULL, "doc.json", NULL, &dg, &err);
    json_decref(j);
    dmp_policy_set_free(s);
    return dg;
}

/* One rule with function 'fn' and options 'opts' over $.v of each document: 'pass'
 * must give no finding and 'fail' exactly one whose message contains 'needle'. */
static void fn_case(const char *fn, const char *opts, const char *pass, const char *fail,
                    const char *needle)
{
    char policy[1024];
    snprintf(policy, sizeof(policy),
             "rules:\n  r:\n    given: \"$\"\n    then: {field: v, function: %s%s%s}\n"
             "    severity: warn\n",
             fn, opts ? ", functionOptions: " : "", opts ? opts : "");
    int rc;
    dmp_diags_t dg = eval_json(policy, pass, &rc);
    if (dg.n) {
        dump(&dg);
        fail_msg("%s should pass %s", fn, pass);
    }
    assert_int_equal(rc, DMP_OK);
    dmp_diags_free(&dg);
    dg = eval_json(policy, fail, &rc);
    if (dg.n != 1)
        fail_msg("%s should fail %s once, got %zu findings", fn, fail, dg.n);
    assert_int_equal(rc, DMP_OK); /* warnings do not block */
    assert_int_equal(dg.v[0].severity, DMP_SEV_WARN);
    assert_string_equal(dg.v[0].pointer, "/v");
    if (!strstr(dg.v[0].msg, needle))
        fail_msg("%s: message '%s' lacks '%s'", fn, dg.v[0].msg, needle);
    dmp_diags_free(&dg);
}

static void test_functions(void **state)
{
    fn_case("truthy", NULL, "{\"v\": \"x\"}", "{\"v\": \"\"}", "is empty");
    fn_case("truthy", NULL, "{\"v\": []}", "{}", "is missing");
    fn_case("falsy", NULL, "{\"v\": 0}", "{\"v\": true}", "must be empty");
    fn_case("defined", NULL, "{\"v\": null}", "{}", "is not defined");
    fn_case("undefined", NULL, "{}", "{\"v\": 1}", "must not be defined");
    fn_case("pattern", "{match: \"^[a-z]+$\"}", "{\"v\": \"abc\"}", "{\"v\": \"aBc\"}",
            "does not match");
    fn_case("pattern", "{notMatch: \"/secret/i\"}", "{\"v\": \"abc\"}", "{\"v\": \"SeCrEt\"}",
            "must not match");
    fn_case("enumeration", "{values: [public, protected]}", "{\"v\": \"public\"}",
            "{\"v\": \"publik\"}", "'publik' is not one of");
    fn_case("length", "{min: 2, max: 3}", "{\"v\": [1, 2]}",
            "{\"v\": \"\u00e9\u00e9\u00e9\u00e9\"}", "too long: 4 characters");
    fn_case("length", "{min: 1}", "{\"v\": {\"a\": 1}}", "{\"v\": {}}", "too short");
    fn_case("casing", "{type: camel}", "{\"v\": \"helloWorld2\"}", "{\"v\": \"HelloWorld\"}",
            "not camel case");
    fn_case("casing", "{type: pascal}", "{\"v\": \"HelloWorld\"}", "{\"v\": \"helloWorld\"}",
            "not pascal case");
    fn_case("casing", "{type: kebab}", "{\"v\": \"a-b-c\"}", "{\"v\": \"a_b\"}", "kebab");
    fn_case("casing", "{type: cobol}", "{\"v\": \"A-B\"}", "{\"v\": \"a-b\"}", "cobol");
    fn_case("casing", "{type: macro}", "{\"v\": \"A_B\"}", "{\"v\": \"A-B\"}", "macro");
    fn_case("casing", "{type: flat}", "{\"v\": \"ab2\"}", "{\"v\": \"a_b\"}", "flat");
    fn_case("casing", "{type: snake, disallowDigits: true}", "{\"v\": \"a_b\"}",
            "{\"v\": \"a_b2\"}", "snake");
    fn_case("xor", "{properties: [a, b]}", "{\"v\": {\"a\": 1}}", "{\"v\": {\"a\": 1, \"b\": 2}}",
            "exactly one of 'a', 'b'");
    fn_case("duration", "{max: 7d}", "{\"v\": \"24h\"}", "{\"v\": \"2w\"}", "exceeds the maximum");
    fn_case("duration", "{max: 7d}", "{\"v\": \"1d\"}", "{\"v\": \"forever\"}", "not a duration");
    fn_case("schema", "{schema: {type: object, required: [id]}}", "{\"v\": {\"id\": 1}}",
            "{\"v\": {\"x\": 1}}", "does not match the schema");
}

static void test_message_template(void **state)
{
    const char *policy =
        "rules:\n  port-vis:\n    description: ports say their visibility\n"
        "    given: \"$.ports[*]\"\n"
        "    then: {field: visibility, function: enumeration, functionOptions: "
        "{values: [public, private]}}\n    severity: error\n"
        "    message: \"{{property}}={{value}} at {{path}}: {{error}} ({{description}})\"\n";
    int rc;
    dmp_diags_t dg = eval_json(policy,
                               "{\"ports\": [{\"visibility\": \"public\"}, "
                               "{\"visibility\": \"open\"}]}",
                               &rc);
    assert_int_equal(rc, DMP_POLICY);
    assert_int_equal(dg.n, 1);
    assert_string_equal(dg.v[0].rule, "port-vis");
    assert_string_equal(dg.v[0].pointer, "/ports/1/visibility");
    assert_string_equal(dg.v[0].path, "ports[1].visibility");
    assert_string_equal(dg.v[0].msg, "visibility=open at ports[1].visibility: 'open' is not one "
                                     "of [\"public\",\"private\"] (ports say their visibility)");
    dmp_diags_free(&dg);

    /* @key: the member names of a mapping */
    const char *keys =
        "rules:\n  prop-names:\n    given: \"$.schema.properties.*\"\n"
        "    then: {field: \"@key\", function: casing, functionOptions: {type: snake}}\n"
        "    severity: warn\n    message: \"property {{value}} is not snake_case\"\n";
    dg = eval_json(keys, "{\"schema\": {\"properties\": {\"a_b\": {}, \"cD\": {}}}}", &rc);
    assert_int_equal(dg.n, 1);
    assert_string_equal(dg.v[0].msg, "property cD is not snake_case");
    assert_string_equal(dg.v[0].pointer, "/schema/properties/cD");
    dmp_diags_free(&dg);
}

/* ---- policy file errors carry file:line:col */

static void policy_bad(const char *text, int code, int line, const char *needle)
{
    dmp_policy_t *p = NULL;
    dmp_diags_t dg = {0};
    dmp_error_t err = {0};
    int rc = dmp_policy_parse(text, strlen(text), "policy.yaml", &p, &dg, &err);
    assert_null(p);
    if (rc != code)
        fail_msg("expected %s, got %s: %s", dmp_errname(code), dmp_errname(rc), err.msg);
    if (!strstr(err.msg, needle))
        fail_msg("message '%s' lacks '%s'", err.msg, needle);
    char where[64];
    snprintf(where, sizeof(where), "policy.yaml:%d:", line);
    if (!strstr(err.msg, where))
        fail_msg("message '%s' lacks the location '%s'", err.msg, where);
    assert_true(dg.n >= 1);
    dmp_diags_free(&dg);
}

static void test_policy_file_errors(void **state)
{
    policy_bad("rules:\n  r:\n    given: $\n    then: {function: truthyy}\n", DMP_INVALID, 4,
               "unknown function 'truthyy' (did you mean 'truthy'?)");
    policy_bad("rules:\n  r:\n    given: \"$.a[?@.b ==]\"\n    then: {function: truthy}\n",
               DMP_PARSE, 3, "jsonpath column 12");
    policy_bad("rules:\n  r:\n    given: $\n    severty: error\n    then: {function: truthy}\n",
               DMP_INVALID, 4, "unknown field 'severty' (did you mean 'severity'?)");
    policy_bad("rules:\n  r:\n    given: $\n    then: {function: pattern, functionOptions: "
               "{match: \"(\"}}\n",
               DMP_INVALID, 4, "does not compile");
    policy_bad("rules:\n  r:\n    given: $\n    then: {function: casing}\n", DMP_INVALID, 4,
               "casing needs 'type'");
    policy_bad("rules:\n  r:\n    given: $\n    then: {function: truthy}\n    severity: fatal\n",
               DMP_INVALID, 5, "severity must be error, warn, info or off");
    policy_bad("rules: [a, b\n", DMP_PARSE, 2, "malformed YAML");
    policy_bad("rulez: {}\n", DMP_INVALID, 1, "'rules' is required");
}

static void test_default_text_parses(void **state)
{
    dmp_policy_t *p = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_policy_default(&p, &err), DMP_OK);
    assert_int_equal(dmp_policy_rule_count(p), 9);
    dmp_policy_free(p);
}

/* ---- federation */

static dmp_policy_t *pol(const char *text)
{
    dmp_policy_t *p = NULL;
    dmp_error_t err = {0};
    if (dmp_policy_parse(text, strlen(text), "layer.yaml", &p, NULL, &err) != DMP_OK)
        fail_msg("layer does not parse: %s", err.msg);
    return p;
}

static const char *GLOBAL =
    "rules:\n"
    "  desc-required:\n"
    "    given: $\n    then: {field: description, function: truthy}\n    severity: error\n"
    "  tags-wanted:\n"
    "    given: $\n    then: {field: tags, function: truthy}\n    severity: warn\n";

static void test_federation_domain_cannot_relax_global_error(void **state)
{
    dmp_policy_set_t *s = defaults();
    dmp_error_t err = {0};
    assert_int_equal(dmp_policy_set_global(s, pol(GLOBAL), &err), DMP_OK);

    assert_int_equal(
        dmp_policy_set_domain(s, "london", pol("rules:\n  desc-required: warn\n"), &err),
        DMP_POLICY);
    assert_non_null(strstr(err.msg, "policy of london downgrades rule 'desc-required', an error "
                                    "set by global"));
    assert_int_equal(
        dmp_policy_set_domain(s, "london", pol("rules:\n  desc-required: off\n"), &err),
        DMP_POLICY);
    assert_non_null(strstr(err.msg, "switches off"));
    /* default rules are just as binding */
    assert_int_equal(
        dmp_policy_set_domain(s, "london", pol("rules:\n  owner-required: info\n"), &err),
        DMP_POLICY);
    assert_non_null(strstr(err.msg, "set by default"));
    /* nor can a domain redefine an inherited rule, or override one that is not there */
    assert_int_equal(dmp_policy_set_domain(s, "london",
                                           pol("rules:\n  desc-required:\n"
                                               "    given: $.x\n"
                                               "    then: {function: truthy}\n"),
                                           &err),
                     DMP_POLICY);
    assert_non_null(strstr(err.msg, "redefines rule 'desc-required'"));
    assert_int_equal(
        dmp_policy_set_domain(s, "london", pol("rules:\n  no-such-rule: warn\n"), &err),
        DMP_POLICY);
    assert_non_null(strstr(err.msg, "unknown rule 'no-such-rule'"));
    /* a global warning may be raised, or switched off */
    assert_int_equal(
        dmp_policy_set_domain(s, "london", pol("rules:\n  tags-wanted: error\n"), &err), DMP_OK);
    assert_int_equal(dmp_policy_set_domain(s, "paris", pol("rules:\n  tags-wanted: off\n"), &err),
                     DMP_OK);
    assert_int_equal(dmp_policy_set_domain(s, "bad..domain", NULL, &err), DMP_INVALID);

    json_t *eff = dmp_policy_set_effective(s, "london.hammersmith");
    size_t i;
    json_t *r;
    int seen = 0;
    json_array_foreach(eff, i, r)
    {
        if (!strcmp(json_string_value(json_object_get(r, "name")), "tags-wanted")) {
            assert_string_equal(json_string_value(json_object_get(r, "severity")), "error");
            assert_string_equal(json_string_value(json_object_get(r, "origin")), "london");
            seen = 1;
        }
    }
    assert_true(seen);
    json_decref(eff);
    dmp_policy_set_free(s);
}

static void test_federation_domain_rules_apply_to_subtree(void **state)
{
    dmp_policy_set_t *s = defaults();
    dmp_error_t err = {0};
    const char *london =
        "rules:\n"
        "  london-status:\n"
        "    given: $\n    then: {field: status, function: enumeration, functionOptions: "
        "{values: [draft, live]}}\n    severity: error\n"
        "  london-hint:\n"
        "    given: $\n    then: {field: tags, function: truthy}\n    severity: info\n";
    assert_int_equal(dmp_policy_set_domain(s, "london", pol(london), &err), DMP_OK);
    /* the subdomain may change london's info rule, not its error rule */
    assert_int_equal(dmp_policy_set_domain(s, "london.hammersmith",
                                           pol("rules:\n  london-status: warn\n"), &err),
                     DMP_POLICY);
    assert_non_null(strstr(err.msg, "an error set by london"));
    assert_int_equal(
        dmp_policy_set_domain(s, "london.hammersmith", pol("rules:\n  london-hint: warn\n"), &err),
        DMP_OK);

    const char *body = "version: 1.0.0\nowner: a\nstatus: retired\n"
                       "outputPorts:\n  - name: p\n    type: files\n";
    char doc[512];
    int rc;
    /* a product of london.hammersmith.olympia gets both london's rules */
    snprintf(doc, sizeof(doc), "name: o\ndomain: london.hammersmith.olympia\n%s", body);
    dmp_diags_t dg = run(s, doc, &rc);
    assert_int_equal(rc, DMP_POLICY);
    const dmp_diag_t *f = find_rule(&dg, "london-status");
    assert_non_null(f);
    assert_int_equal(f->loc.line, 5);
    f = find_rule(&dg, "london-hint");
    assert_non_null(f);
    assert_int_equal(f->severity, DMP_SEV_WARN); /* raised by london.hammersmith */
    dmp_diags_free(&dg);
    /* a product of "londonderry" or "paris" gets none of them */
    snprintf(doc, sizeof(doc), "name: o\ndomain: londonderry\n%s", body);
    dg = run(s, doc, &rc);
    assert_int_equal(rc, DMP_OK);
    assert_int_equal(dg.n, 0);
    dmp_diags_free(&dg);
    dmp_policy_set_free(s);
}

static void test_federation_later_global_conflict_is_reported(void **state)
{
    /* london relaxes a global warning; then the admin makes it an error: the global
     * error holds, and the ignored relaxation is reported as a warning */
    dmp_policy_set_t *s = defaults();
    dmp_error_t err = {0};
    assert_int_equal(dmp_policy_set_global(s, pol(GLOBAL), &err), DMP_OK);
    assert_int_equal(dmp_policy_set_domain(s, "london", pol("rules:\n  tags-wanted: off\n"), &err),
                     DMP_OK);
    assert_int_equal(dmp_policy_set_global(s,
                                           pol("rules:\n  tags-wanted:\n    given: $\n"
                                               "    then: {field: tags, function: truthy}\n"
                                               "    severity: error\n"),
                                           &err),
                     DMP_OK);
    int rc;
    dmp_diags_t dg = run(s,
                         "name: o\ndomain: london\nversion: 1.0.0\nowner: a\n"
                         "outputPorts:\n  - name: p\n    type: files\n",
                         &rc);
    assert_int_equal(rc, DMP_POLICY);
    const dmp_diag_t *f = find_rule(&dg, "tags-wanted");
    assert_non_null(f);
    assert_int_equal(f->severity, DMP_SEV_ERROR);
    f = find_rule(&dg, "policy-conflict");
    assert_non_null(f);
    assert_int_equal(f->severity, DMP_SEV_WARN);
    assert_non_null(strstr(f->msg, "switches off rule 'tags-wanted'"));
    dmp_diags_free(&dg);
    dmp_policy_set_free(s);
}

/* ---- hostile rules stay bounded */

static void test_hostile_rule_is_bounded(void **state)
{
    const char *policy = "rules:\n  slow:\n    given: \"$..[?$..[?$..[?@ == 1]]]\"\n"
                         "    then: {function: truthy}\n    severity: warn\n";
    json_t *big = json_array();
    for (int i = 0; i < 200; i++)
        json_array_append_new(
            big, json_pack("{s:[i,i,i,i,i,i,i,i,i,i]}", "a", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
    char *doc = json_dumps(big, JSON_COMPACT);
    char *wrapped = dmp_asprintf("{\"v\": %s}", doc);
    int rc;
    int64_t t0 = dmp_mono_ns();
    dmp_diags_t dg = eval_json(policy, wrapped, &rc);
    int64_t ms = (dmp_mono_ns() - t0) / 1000000;
    assert_int_equal(rc, DMP_POLICY);
    assert_int_equal(dg.n, 1);
    assert_int_equal(dg.v[0].code, DMP_LIMIT);
    assert_int_equal(dg.v[0].severity, DMP_SEV_ERROR);
    assert_non_null(strstr(dg.v[0].msg, "work limit"));
    assert_true(ms < 5000);
    dmp_diags_free(&dg);
    free(doc);
    dmp_free(wrapped);
    json_decref(big);

    /* a catastrophic user regex stops at its match limit */
    const char *re = "rules:\n  re:\n    given: $\n    then: {field: v, function: pattern, "
                     "functionOptions: {match: \"^(a|aa)+$\"}}\n";
    char text[200];
    snprintf(text, sizeof(text), "{\"v\": \"%s!\"}",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    dg = eval_json(re, text, &rc);
    assert_int_equal(dg.n, 1);
    assert_int_equal(dg.v[0].code, DMP_LIMIT);
    assert_non_null(strstr(dg.v[0].msg, "match limit"));
    dmp_diags_free(&dg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_3a_passes_defaults),
        cmocka_unit_test(test_rule_owner_required),
        cmocka_unit_test(test_rule_owner_required_product),
        cmocka_unit_test(test_rule_name_casing),
        cmocka_unit_test(test_rule_domain_casing),
        cmocka_unit_test(test_rule_typed_schema_required),
        cmocka_unit_test(test_rule_typed_schema_typed),
        cmocka_unit_test(test_rule_pii_public_masked),
        cmocka_unit_test(test_rule_retention_max),
        cmocka_unit_test(test_rule_breaking_change_major),
        cmocka_unit_test(test_schema_file_is_seen),
        cmocka_unit_test(test_admin_changes_default),
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_message_template),
        cmocka_unit_test(test_policy_file_errors),
        cmocka_unit_test(test_default_text_parses),
        cmocka_unit_test(test_federation_domain_cannot_relax_global_error),
        cmocka_unit_test(test_federation_domain_rules_apply_to_subtree),
        cmocka_unit_test(test_federation_later_global_conflict_is_reported),
        cmocka_unit_test(test_hostile_rule_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
