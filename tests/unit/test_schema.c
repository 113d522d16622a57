/* test_schema.c -- unit tests of the JSON parser and the schema engine (compile, validate,
 * errors, limits, registry, threads). The full conformance suites run in
 * tests/conformance/. */
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dmp/schema.h"

#define IDENTITY                                                                                   \
    "{\"$id\":\"urn:test:identity\",\"type\":\"object\",\"properties\":{"                          \
    "\"first\":{\"type\":\"string\",\"pattern\":\"^[A-Z].*\"},"                                    \
    "\"Last\":{\"type\":\"string\",\"pattern\":\"^[A-Z].*\"},"                                     \
    "\"Age\":{\"type\":\"number\",\"exclusiveMaximum\":130}},"                                     \
    "\"required\":[\"first\",\"Last\"]}"

static dmp_schema_t *compile_ok(const char *json, const dmp_schema_opts_t *o)
{
    dmp_schema_t *s = NULL;
    dmp_error_t err = {0};
    int rc = dmp_schema_compile(json, strlen(json), o, &s, &err);
    if (rc != DMP_OK)
        fail_msg("compile failed: %s at %s", err.msg, err.where);
    return s;
}

static int check(const dmp_schema_t *s, dmp_schema_ctx_t *c, const char *doc, int flags,
                 dmp_error_t *err)
{
    return dmp_schema_validate(s, c, doc, strlen(doc), flags, err);
}

static void test_parse_roundtrip(void **st)
{
    const char *src = "{\"a\":[1,2.5,-3e2,true,false,null,\"x\\u00e9\\ud83d\\ude00\"],\"b\":{}}";
    dmp_json_doc_t *d;
    assert_int_equal(dmp_json_parse(src, strlen(src), NULL, &d, NULL), DMP_OK);
    const dmp_json_node_t *r = dmp_json_root(d);
    assert_int_equal(dmp_json_type(r), DMP_JSON_OBJECT);
    assert_int_equal(dmp_json_size(r), 2);
    const dmp_json_node_t *a = dmp_json_get(r, "a", 1);
    assert_non_null(a);
    assert_int_equal(dmp_json_size(a), 7);
    assert_true(dmp_json_number(dmp_json_at(a, 2)) == -300.0);
    int64_t i;
    assert_true(dmp_json_is_int64(dmp_json_at(a, 0), &i));
    assert_int_equal(i, 1);
    assert_false(dmp_json_is_int64(dmp_json_at(a, 1), NULL));
    size_t len;
    const char *s = dmp_json_string(dmp_json_at(a, 6), &len);
    assert_int_equal(len, 1 + 2 + 4);
    assert_memory_equal(s, "x\xc3\xa9\xf0\x9f\x98\x80", 7);
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_json_dump(r, &b);
    assert_string_equal(b.data, "{\"a\":[1,2.5,-300,true,false,null,\"x\xc3\xa9\xf0\x9f\x98\x80\"],"
                                "\"b\":{}}");
    dmp_buf_free(&b);
    /* iteration over an object: key, value, key, value */
    int n = 0;
    for (const dmp_json_node_t *k = dmp_json_first(r); k; k = dmp_json_next(r, k))
        n++;
    assert_int_equal(n, 4);
    dmp_json_doc_free(d);
}

static void test_parse_errors(void **st)
{
    const char *bad[] = {"",        "{",           "[1,]",         "{\"a\" 1}", "01",
                         "\"\\x\"", "\"\x01\"",    "\"\xc0\xaf\"", "[1] x",     "nul",
                         "1.",      "\"\\ud800\"", "{\"a\":1,}",   "-",         "\"\xed\xa0\x80\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dmp_json_doc_t *d;
        dmp_error_t err = {0};
        int rc = dmp_json_parse(bad[i], strlen(bad[i]), NULL, &d, &err);
        if (rc != DMP_PARSE)
            fail_msg("accepted or wrong code for case %zu: %d", i, rc);
        assert_null(d);
        assert_true(err.msg[0] != '\0');
        assert_true(err.where[0] != '\0');
    }
    dmp_json_doc_t *d;
    dmp_error_t err = {0};
    assert_int_equal(dmp_json_parse("[1,\n  x]", 8, NULL, &d, &err), DMP_PARSE);
    assert_string_equal(err.where, "2:3");
}

static void test_parse_limits(void **st)
{
    size_t n = 100000;
    char *deep = malloc(2 * n + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';
    dmp_json_doc_t *d;
    dmp_error_t err = {0};
    assert_int_equal(dmp_json_parse(deep, 2 * n, NULL, &d, &err), DMP_LIMIT);
    assert_non_null(strstr(err.msg, "nesting"));
    dmp_json_limits_t lim = {0, 200000};
    assert_int_equal(dmp_json_parse(deep, 2 * n, &lim, &d, &err), DMP_OK);
    dmp_json_doc_free(d);
    free(deep);
    dmp_json_limits_t small = {10, 0};
    assert_int_equal(dmp_json_parse("[1,2,3,4,5,6]", 13, &small, &d, &err), DMP_LIMIT);
    /* huge numbers parse (to +/-inf or a rounded double), never crash */
    const char *big = "[1e999999, -1e999999, 123456789012345678901234567890]";
    assert_int_equal(dmp_json_parse(big, strlen(big), NULL, &d, &err), DMP_OK);
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_json_dump(dmp_json_root(d), &b);
    assert_string_equal(b.data, "[1e999,-1e999,1.2345678901234568e+29]");
    dmp_buf_free(&b);
    dmp_json_doc_free(d);
}

static void test_error_sentence(void **st)
{
    dmp_schema_t *s = compile_ok(IDENTITY, NULL);
    dmp_schema_ctx_t *c = dmp_schema_ctx_new();
    dmp_error_t err = {0};
    assert_int_equal(check(s, c, "{\"first\":\"Ann\",\"Last\":\"Lee\",\"Age\":140}", 0, &err),
                     DMP_SCHEMA);
    assert_string_equal(err.msg, "/Age: 140 is not less than 130 (exclusiveMaximum)");
    assert_string_equal(err.where, "/Age");
    const dmp_schema_error_t *e = dmp_schema_ctx_error(c, 0);
    assert_string_equal(e->instance_location, "/Age");
    assert_string_equal(e->keyword_location, "/properties/Age/exclusiveMaximum");
    assert_string_equal(e->absolute_location, "urn:test:identity#/properties/Age/exclusiveMaximum");
    assert_string_equal(e->keyword, "exclusiveMaximum");
    assert_int_equal(check(s, c, "{\"first\":\"Ann\",\"Last\":\"Lee\",\"Age\":129.5}", 0, &err),
                     DMP_OK);
    dmp_schema_ctx_free(c);
    dmp_schema_free(s);
}

static void test_fail_fast_and_all(void **st)
{
    dmp_schema_t *s = compile_ok(IDENTITY, NULL);
    dmp_schema_ctx_t *c = dmp_schema_ctx_new();
    const char *doc = "{\"first\":\"ann\",\"Age\":\"x\"}";
    assert_int_equal(check(s, c, doc, DMP_SCHEMA_FAIL_FAST, NULL), DMP_SCHEMA);
    assert_int_equal(dmp_schema_ctx_error_count(c), 1);
    assert_int_equal(check(s, c, doc, DMP_SCHEMA_ALL_ERRORS, NULL), DMP_SCHEMA);
    assert_int_equal(dmp_schema_ctx_error_count(c), 3);
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_schema_ctx_basic_output(c, &b);
    json_t *j = json_loads(b.data, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_false(json_object_get(j, "valid")));
    json_t *errs = json_object_get(j, "errors");
    assert_int_equal(json_array_size(errs), 3);
    json_t *e0 = json_array_get(errs, 0);
    assert_non_null(json_object_get(e0, "keywordLocation"));
    assert_non_null(json_object_get(e0, "instanceLocation"));
    assert_non_null(json_object_get(e0, "error"));
    json_decref(j);
    dmp_buf_free(&b);
    /* a valid document gives {"valid":true} */
    assert_int_equal(check(s, c, "{\"first\":\"A\",\"Last\":\"B\"}", 1, NULL), DMP_OK);
    dmp_schema_ctx_basic_output(c, &b);
    assert_string_equal(b.data, "{\"valid\":true}");
    dmp_buf_free(&b);
    dmp_schema_ctx_free(c);
    dmp_schema_free(s);
}

static void test_compile_errors(void **st)
{
    struct {
        const char *schema, *where, *needle;
    } cases[] = {
        {"{\"properties\":{\"a\":{\"pattern\":\"((\"}}}", "/properties/a/pattern", "pattern"},
        {"{\"$ref\":\"#/$defs/missing\"}", "/$ref", "points at nothing"},
        {"{\"$ref\":\"http://example.com/nowhere.json\"}", "/$ref", "cannot resolve"},
        {"{\"type\":\"strnig\"}", "/type", "type"},
        {"{\"minLength\":-1}", "/minLength", "non-negative"},
        {"{\"items\":5}", "/items", "object or a boolean"},
        {"{\"multipleOf\":0}", "/multipleOf", "greater than 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dmp_schema_t *s = NULL;
        dmp_error_t err = {0};
        int rc = dmp_schema_compile(cases[i].schema, strlen(cases[i].schema), NULL, &s, &err);
        assert_int_equal(rc, DMP_INVALID);
        assert_null(s);
        assert_string_equal(err.where, cases[i].where);
        if (!strstr(err.msg, cases[i].needle))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].needle);
    }
    dmp_schema_t *s = NULL;
    assert_int_equal(dmp_schema_compile("{", 1, NULL, &s, NULL), DMP_PARSE);
    dmp_schema_opts_t o = {0};
    o.max_schema_bytes = 8;
    assert_int_equal(dmp_schema_compile(IDENTITY, strlen(IDENTITY), &o, &s, NULL), DMP_LIMIT);
}

static void test_recursion_and_cycles(void **st)
{
    /* a reference loop that never consumes the instance: bounded, reported */
    const char *loop = "{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"$ref\":\"#/$defs/a\"}},"
                       "\"$ref\":\"#/$defs/a\"}";
    dmp_schema_t *s = compile_ok(loop, NULL);
    dmp_schema_ctx_t *c = dmp_schema_ctx_new();
    dmp_error_t err = {0};
    assert_int_not_equal(check(s, c, "1", 0, &err), DMP_OK);
    assert_non_null(strstr(err.msg, "loop back"));
    assert_int_equal(check(s, c, "1", 0, &err), DMP_LIMIT);
    dmp_schema_free(s);
    /* a real recursive tree schema */
    const char *tree = "{\"type\":\"object\",\"properties\":{\"kids\":{\"type\":\"array\","
                       "\"items\":{\"$ref\":\"#\"}},\"v\":{\"type\":\"integer\"}}}";
    s = compile_ok(tree, NULL);
    assert_int_equal(check(s, c, "{\"v\":1,\"kids\":[{\"v\":2,\"kids\":[{\"v\":3}]}]}", 0, NULL),
                     DMP_OK);
    assert_int_equal(check(s, c, "{\"kids\":[{\"kids\":[{\"v\":\"x\"}]}]}", 0, &err), DMP_SCHEMA);
    assert_string_equal(err.where, "/kids/0/kids/0/v");
    dmp_schema_free(s);
    dmp_schema_ctx_free(c);
}

static void test_step_budget(void **st)
{
    /* 2^24 paths through anyOf without any cycle: the step budget ends it */
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_buf_puts(&b, "{\"$ref\":\"#/$defs/d0\",\"$defs\":{");
    for (int i = 0; i < 24; i++)
        dmp_buf_printf(&b,
                       "\"d%d\":{\"anyOf\":[{\"$ref\":\"#/$defs/d%d\"},"
                       "{\"$ref\":\"#/$defs/d%d\"}]},",
                       i, i + 1, i + 1);
    dmp_buf_puts(&b, "\"d24\":false}}");
    dmp_schema_opts_t o = {0};
    o.max_eval_steps = 100000;
    dmp_schema_t *s = compile_ok(b.data, &o);
    dmp_buf_free(&b);
    dmp_schema_ctx_t *c = dmp_schema_ctx_new();
    dmp_error_t err = {0};
    assert_int_equal(check(s, c, "1", 0, &err), DMP_LIMIT);
    assert_non_null(strstr(err.msg, "steps"));
    dmp_schema_ctx_free(c);
    dmp_schema_free(s);
}

static void test_redos_limit(void **st)
{
    dmp_schema_opts_t o = {0};
    o.regex_match_limit = 10000;
    dmp_schema_t *s = compile_ok("{\"pattern\":\"^(a+)+$\"}", &o);
    dmp_schema_ctx_t *c = dmp_schema_ctx_new();
    char doc[80];
    memset(doc, 'a', sizeof doc);
    doc[0] = '"';
    doc[sizeof doc - 3] = '!';
    doc[sizeof doc - 2] = '"';
    doc[sizeof doc - 1] = '\0';
    dmp_error_t err = {0};
    int64_t t0 = dmp_mono_ns();
    int rc = check(s, c, doc, 0, &err);
    assert_true(dmp_mono_ns() - t0 < 2000000000LL);
    /* either the JIT found the answer fast, or the limit ended it with an error */
    assert_int_not_equal(rc, DMP_OK);
    if (rc == DMP_LIMIT)
        assert_non_null(strstr(err.msg, "match limit"));
    dmp_schema_ctx_free(c);
    dmp_schema_free(s);
}

static void test_instance_limits(void **st)
{
    dmp_schema_opts_t o = {0};
    o.max_instance_bytes = 16;
    o.max_instance_depth = 3;
    dmp_schema_t *s = compile_ok("{}", &o);
    dmp_schema_ctx_t *c = dmp_schema_ctx_new();
    dmp_error_t err = {0};
    assert_int_equal(check(s, c, "[[[[1]]]]", 0, &err), DMP_LIMIT);
    assert_non_null(strstr(err.msg, "limit of 3"));
    assert_int_equal(check(s, c, "\"0123456789abcdefgh\"", 0, &err), DMP_LIMIT);
    assert_int_equal(check(s, c, "[[1]]", 0, &err), DMP_OK);
    assert_int_equal(check(s, c, "[1", 0, &err), DMP_PARSE);
    dmp_schema_ctx_free(c);
    dmp_schema_free(s);
}

static void test_registry(void **st)
{
    dmp_schema_registry_t *reg = dmp_schema_registry_new();
    const char *addr = "{\"$defs\":{\"zip\":{\"type\":\"string\",\"pattern\":\"^[0-9]{5}$\"}}}";
    assert_int_equal(dmp_schema_registry_add(reg, "urn:dmp:address", addr, strlen(addr), NULL),
                     DMP_OK);
    assert_int_equal(dmp_schema_registry_add(reg, "urn:dmp:address", addr, strlen(addr), NULL),
                     DMP_CONFLICT);
    dmp_schema_opts_t o = {0};
    o.registry = reg;
    dmp_schema_t *s =
        compile_ok("{\"properties\":{\"zip\":{\"$ref\":\"urn:dmp:address#/$defs/zip\"}}}", &o);
    dmp_schema_registry_free(reg); /* the compiled schema keeps no pointer to it */
    dmp_schema_ctx_t *c = dmp_schema_ctx_new();
    assert_int_equal(check(s, c, "{\"zip\":\"12345\"}", 0, NULL), DMP_OK);
    assert_int_equal(check(s, c, "{\"zip\":\"1234\"}", 0, NULL), DMP_SCHEMA);
    dmp_schema_ctx_free(c);
    dmp_schema_free(s);
}

static void test_format_modes(void **st)
{
    const char *sch = "{\"format\":\"date-time\"}";
    dmp_schema_t *ann = compile_ok(sch, NULL);
    dmp_schema_opts_t o = {0};
    o.format_assert = 1;
    dmp_schema_t *as = compile_ok(sch, &o);
    dmp_schema_ctx_t *c = dmp_schema_ctx_new();
    dmp_error_t err = {0};
    assert_int_equal(check(ann, c, "\"yesterday\"", 0, NULL), DMP_OK);
    assert_int_equal(check(as, c, "\"yesterday\"", 0, &err), DMP_SCHEMA);
    assert_string_equal(err.msg, "(root): \"yesterday\" is not a valid date-time (format)");
    assert_int_equal(check(as, c, "\"2026-11-23T10:00:00.5+01:00\"", 0, NULL), DMP_OK);
    dmp_schema_ctx_free(c);
    dmp_schema_free(ann);
    dmp_schema_free(as);
}

static void test_node_and_jansson(void **st)
{
    dmp_schema_t *s = compile_ok(IDENTITY, NULL);
    dmp_schema_ctx_t *c = dmp_schema_ctx_new();
    const char *ev = "{\"data\":{\"first\":\"Ann\",\"Last\":\"x\"}}";
    dmp_json_doc_t *d;
    assert_int_equal(dmp_json_parse(ev, strlen(ev), NULL, &d, NULL), DMP_OK);
    dmp_error_t err = {0};
    const dmp_json_node_t *data = dmp_json_get(dmp_json_root(d), "data", 4);
    assert_int_equal(dmp_schema_validate_node(s, c, data, 0, &err), DMP_SCHEMA);
    assert_string_equal(err.where, "/Last");
    dmp_json_doc_free(d);
    json_t *j = json_pack("{s:s, s:s, s:i}", "first", "Ann", "Last", "Lee", "Age", 30);
    assert_int_equal(dmp_schema_validate_jansson(s, c, j, 0, NULL), DMP_OK);
    json_object_set_new(j, "Age", json_integer(200));
    assert_int_equal(dmp_schema_validate_jansson(s, c, j, 0, NULL), DMP_SCHEMA);
    json_decref(j);
    dmp_schema_ctx_free(c);
    dmp_schema_free(s);
}

typedef struct {
    const dmp_schema_t *s;
    int bad;
} thr_t;

static void *worker(void *arg)
{
    thr_t *t = arg;
    dmp_schema_ctx_t *c = dmp_schema_ctx_new();
    for (int i = 0; i < 2000; i++) {
        char doc[128];
        snprintf(doc, sizeof doc, "{\"first\":\"Ann\",\"Last\":\"Lee\",\"Age\":%d}", i % 200);
        int want = i % 200 < 130 ? DMP_OK : DMP_SCHEMA;
        if (dmp_schema_validate(t->s, c, doc, strlen(doc), 0, NULL) != want)
            t->bad++;
    }
    dmp_schema_ctx_free(c);
    return NULL;
}

static void test_threads(void **st)
{
    dmp_schema_t *s = compile_ok(IDENTITY, NULL);
    pthread_t th[4];
    thr_t args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thr_t){s, 0};
        pthread_create(&th[i], NULL, worker, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].bad, 0);
    }
    dmp_schema_free(s);
}

static void test_unevaluated_and_dynamic(void **st)
{
    const char *sch = "{\"$id\":\"https://example.com/list\",\"$dynamicAnchor\":\"item\","
                      "\"type\":\"object\",\"properties\":{\"a\":true},"
                      "\"allOf\":[{\"properties\":{\"b\":true}}],\"unevaluatedProperties\":false}";
    dmp_schema_t *s = compile_ok(sch, NULL);
    dmp_schema_ctx_t *c = dmp_schema_ctx_new();
    dmp_error_t err = {0};
    assert_int_equal(check(s, c, "{\"a\":1,\"b\":2}", 0, NULL), DMP_OK);
    assert_int_equal(check(s, c, "{\"a\":1,\"c\":2}", 0, &err), DMP_SCHEMA);
    assert_string_equal(err.where, "/c");
    dmp_schema_ctx_free(c);
    dmp_schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_roundtrip),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_error_sentence),
        cmocka_unit_test(test_fail_fast_and_all),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_recursion_and_cycles),
        cmocka_unit_test(test_redos_limit),
        cmocka_unit_test(test_step_budget),
        cmocka_unit_test(test_instance_limits),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_format_modes),
        cmocka_unit_test(test_node_and_jansson),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_unevaluated_and_dynamic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
