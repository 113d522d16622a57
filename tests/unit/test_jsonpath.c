/* test_jsonpath.c -- the RFC 9535 JSONPath engine: results with their paths and
 * pointers, type errors with columns, I-Regexp mapping, and the limits that bound
 * hostile expressions (length, nesting, work, regex backtracking). The full
 * compliance suite runs in tests/conformance/jsonpath_cts.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "dmp/jsonpath.h"

static json_t *J(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test json: %s", e.text);
    return j;
}

/* Runs 'expr' over 'doc' and compares the pointers of the result, joined by ' '. */
static void expect(const char *doc, const char *expr, const char *pointers)
{
    json_t *d = J(doc);
    dmp_jsonpath_nodelist_t nl = DMP_JSONPATH_NODELIST_INIT;
    dmp_error_t err = {0};
    int rc = dmp_jsonpath_query(expr, d, &nl, &err);
    if (rc != DMP_OK)
        fail_msg("%s: %s", expr, err.msg);
    char got[2048] = "";
    for (size_t i = 0; i < nl.n; i++) {
        size_t l = strlen(got);
        snprintf(got + l, sizeof(got) - l, "%s%s", i ? " " : "", nl.v[i].pointer);
    }
    if (strcmp(got, pointers) != 0)
        fail_msg("%s: expected [%s], got [%s]", expr, pointers, got);
    dmp_jsonpath_nodelist_free(&nl);
    json_decref(d);
}

static void expect_invalid(const char *expr, int code, const char *needle)
{
    dmp_jsonpath_t *jp = NULL;
    dmp_error_t err = {0};
    int rc = dmp_jsonpath_compile(expr, NULL, &jp, &err);
    assert_null(jp);
    if (rc != code)
        fail_msg("%s: expected %s, got %s (%s)", expr, dmp_errname(code), dmp_errname(rc), err.msg);
    if (!strstr(err.msg, needle))
        fail_msg("%s: message '%s' lacks '%s'", expr, err.msg, needle);
}

static const char *DOC =
    "{\"name\":\"p\",\"outputPorts\":[{\"name\":\"a\",\"type\":\"stream\",\"owner\":\"x\"},"
    "{\"name\":\"b\",\"type\":\"table\",\"schema\":{\"properties\":{\"e\":{\"x\":\"pii\"}}}}],"
    "\"a/b\":{\"c~d\":1}}";

static void test_basic_selectors(void **state)
{
    expect(DOC, "$", "");
    expect(DOC, "$.name", "/name");
    expect(DOC, "$.outputPorts[*].name", "/outputPorts/0/name /outputPorts/1/name");
    expect(DOC, "$.outputPorts[-1].type", "/outputPorts/1/type");
    expect(DOC, "$.outputPorts[5]", "");
    expect(DOC, "$['a/b']['c~d']", "/a~1b/c~0d");
    expect("[0,1,2,3,4,5]", "$[1:5:2]", "/1 /3");
    expect("[0,1,2,3,4,5]", "$[::-2]", "/5 /3 /1");
    expect("[0,1,2,3,4,5]", "$[0, 0, -1]", "/0 /0 /5");
}

static void test_descendants_and_filters(void **state)
{
    expect(DOC, "$..x", "/outputPorts/1/schema/properties/e/x");
    expect(DOC, "$.outputPorts[?@.owner]", "/outputPorts/0");
    expect(DOC, "$.outputPorts[?!@.owner].name", "/outputPorts/1/name");
    expect(DOC, "$.outputPorts[?@.type == 'table' || @.name == 'a']",
           "/outputPorts/0 /outputPorts/1");
    expect(DOC, "$.outputPorts[?match(@.type, 'stream|table') && !$.owner].name",
           "/outputPorts/0/name /outputPorts/1/name");
    expect(DOC, "$..[?@.x == 'pii']", "/outputPorts/1/schema/properties/e");
    expect(DOC, "$.outputPorts[?length(@.name) == 1 && count(@.*) >= 3]",
           "/outputPorts/0 /outputPorts/1");
    expect(DOC, "$.outputPorts[?value(@..x) == 'pii'].name", "/outputPorts/1/name");
    expect("[1, 1.0, 2, \"1\"]", "$[?@ == 1]", "/0 /1");
    expect("[{\"a\":[1,{\"b\":2}]},{\"a\":[1,{\"b\":2.0}]},{\"a\":[1]}]", "$[?@.a == $[0].a]",
           "/0 /1");
    expect("[\"a\", \"b\", \"ab\"]", "$[?@ < 'b']", "/0 /2");
}

static void test_normalized_paths(void **state)
{
    json_t *d = J("{\"it's\":{\"\\n\":[7]}}");
    dmp_jsonpath_nodelist_t nl = DMP_JSONPATH_NODELIST_INIT;
    assert_int_equal(dmp_jsonpath_query("$..*", d, &nl, NULL), DMP_OK);
    assert_int_equal(nl.n, 3);
    assert_string_equal(nl.v[0].path, "$['it\\'s']");
    assert_string_equal(nl.v[1].path, "$['it\\'s']['\\n']");
    assert_string_equal(nl.v[2].path, "$['it\\'s']['\\n'][0]");
    assert_int_equal(json_integer_value(nl.v[2].value), 7);
    dmp_jsonpath_nodelist_free(&nl);
    json_decref(d);
}

static void test_iregexp(void **state)
{
    const char *doc = "[\"abc\", \"ab\\nc\", \"Ab\", \"x.y\", \"xzy\", \"\\u00e9t\\u00e9\"]";
    expect(doc, "$[?match(@, 'a.c')]", "/0"); /* '.' does not match \n */
    expect(doc, "$[?search(@, '[A-Z]')]", "/2");
    expect(doc, "$[?match(@, 'x\\\\.y')]", "/3"); /* escaped dot is literal */
    expect(doc, "$[?match(@, '\\\\p{L}+')]", "/0 /2 /4 /5");
    expect(doc, "$[?search(@, '\\\\d')]", "");  /* \d is not I-Regexp: false */
    expect(doc, "$[?match(@, 'a(?=b)c')]", ""); /* no lookahead in I-Regexp */
    expect(doc, "$[?match(@, 'abc$')]", "/0");
}

static void test_type_errors(void **state)
{
    expect_invalid("$[?length(@.a)]", DMP_PARSE, "returns a value");
    expect_invalid("$[?match(@.a, 'x') == true]", DMP_PARSE, "cannot be compared");
    expect_invalid("$[?@.* == 1]", DMP_PARSE, "singular");
    expect_invalid("$[?count(1) == 1]", DMP_PARSE, "must be a query");
    expect_invalid("$[?length(@.*) == 1]", DMP_PARSE, "must be a value");
    expect_invalid("$[?foo(@)]", DMP_PARSE, "unknown function 'foo'");
    expect_invalid("$[?1]", DMP_PARSE, "literal");
    expect_invalid("$.a ", DMP_PARSE, "column 4");
    expect_invalid("$[01]", DMP_PARSE, "leading zeros");
    expect_invalid("$[9007199254740992]", DMP_PARSE, "range");
    expect_invalid("a.b", DMP_PARSE, "start with '$'");
}

static void test_limits_length_and_depth(void **state)
{
    char big[6000];
    memset(big, 0, sizeof(big));
    strcpy(big, "$");
    for (size_t i = 1; i + 3 < 5000; i += 2)
        memcpy(big + i, ".a", 2);
    expect_invalid(big, DMP_LIMIT, "exceeds the limit");

    char deep[2000] = "$[?";
    for (int i = 0; i < 200; i++)
        strcat(deep, "(");
    strcat(deep, "@");
    for (int i = 0; i < 200; i++)
        strcat(deep, ")");
    strcat(deep, "]");
    expect_invalid(deep, DMP_LIMIT, "nesting deeper");

    char nested[4000] = "$";
    for (int i = 0; i < 100; i++)
        strcat(nested, "[?@");
    for (int i = 0; i < 100; i++)
        strcat(nested, "]");
    expect_invalid(nested, DMP_LIMIT, "nesting deeper");
}

/* A wide document and nested descendant filters: quadratic-and-worse work that the
 * step limit must cut short with a clear error, quickly. */
static void test_limits_work(void **state)
{
    json_t *d = json_array();
    for (int i = 0; i < 300; i++) {
        json_t *o = json_object();
        json_t *a = json_array();
        for (int k = 0; k < 30; k++)
            json_array_append_new(a, json_integer(k));
        json_object_set_new(o, "a", a);
        json_array_append_new(d, o);
    }
    dmp_jsonpath_t *jp = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_jsonpath_compile("$..[?$..[?$..[?@ == 1]]]", NULL, &jp, &err), DMP_OK);
    dmp_jsonpath_nodelist_t nl = DMP_JSONPATH_NODELIST_INIT;
    int64_t t0 = dmp_mono_ns();
    int rc = dmp_jsonpath_eval(jp, d, &nl, &err);
    int64_t ms = (dmp_mono_ns() - t0) / 1000000;
    assert_int_equal(rc, DMP_LIMIT);
    assert_non_null(strstr(err.msg, "work limit"));
    assert_int_equal(nl.n, 0);
    if (ms > 5000)
        fail_msg("hostile query took %lld ms before being stopped", (long long)ms);
    dmp_jsonpath_free(jp);

    /* a lower step budget stops a cheap-looking query on a big document */
    dmp_jsonpath_limits_t lim = {.max_steps = 1000};
    assert_int_equal(dmp_jsonpath_compile("$..*", &lim, &jp, &err), DMP_OK);
    assert_int_equal(dmp_jsonpath_eval(jp, d, &nl, &err), DMP_LIMIT);
    dmp_jsonpath_free(jp);
    json_decref(d);
}

static void test_limits_regex(void **state)
{
    char s[200];
    memset(s, 'a', 60);
    strcpy(s + 60, "!");
    json_t *d = json_pack("[s]", s);
    dmp_jsonpath_t *jp = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_jsonpath_compile("$[?match(@, '(a|aa)+')]", NULL, &jp, &err), DMP_OK);
    dmp_jsonpath_nodelist_t nl = DMP_JSONPATH_NODELIST_INIT;
    int64_t t0 = dmp_mono_ns();
    assert_int_equal(dmp_jsonpath_eval(jp, d, &nl, &err), DMP_LIMIT);
    assert_non_null(strstr(err.msg, "match limit"));
    assert_true((dmp_mono_ns() - t0) / 1000000 < 5000);
    dmp_jsonpath_free(jp);
    json_decref(d);
}

static void test_deep_document(void **state)
{
    /* a programmatically built 3000-deep document: '..' refuses, no stack overflow */
    json_t *root = json_array(), *cur = root;
    for (int i = 0; i < 3000; i++) {
        json_t *n = json_array();
        json_array_append_new(cur, n);
        cur = n;
    }
    dmp_jsonpath_nodelist_t nl = DMP_JSONPATH_NODELIST_INIT;
    dmp_error_t err = {0};
    assert_int_equal(dmp_jsonpath_query("$..*", root, &nl, &err), DMP_LIMIT);
    assert_non_null(strstr(err.msg, "deeper"));
    /* nor does comparing two deep values */
    assert_int_equal(dmp_jsonpath_query("$[?@ == $[0]]", root, &nl, &err), DMP_LIMIT);
    assert_non_null(strstr(err.msg, "deeper"));
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_selectors),  cmocka_unit_test(test_descendants_and_filters),
        cmocka_unit_test(test_normalized_paths), cmocka_unit_test(test_iregexp),
        cmocka_unit_test(test_type_errors),      cmocka_unit_test(test_limits_length_and_depth),
        cmocka_unit_test(test_limits_work),      cmocka_unit_test(test_limits_regex),
        cmocka_unit_test(test_deep_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
