/* test_filter.c -- CloudEvents Subscriptions API filter dialects: parsing, validation
 * errors and matching for exact, prefix, suffix, all, any, not and sql. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "dmp/events.h"

#include <stdio.h>
#include <string.h>

static dmp_cloudevent_t *event(void)
{
    dmp_cloudevent_t *ev = dmp_cloudevent_new();
    dmp_cloudevent_set(ev, "id", "e-1", NULL);
    dmp_cloudevent_set(ev, "source", "urn:dmp:shop:orders", NULL);
    dmp_cloudevent_set(ev, "type", "shop.order.created", NULL);
    dmp_cloudevent_set(ev, "subject", "invoice.pdf", NULL);
    dmp_cloudevent_set_ext(ev, "region", DMP_CE_STRING, "eu-west", NULL);
    dmp_cloudevent_set_ext(ev, "qty", DMP_CE_INTEGER, "7", NULL);
    return ev;
}

static int match(const char *filters, const dmp_cloudevent_t *ev)
{
    dmp_ce_filter_t *f = NULL;
    dmp_error_t err = {0};
    if (dmp_ce_filter_parse(filters, strlen(filters), &f, &err) != DMP_OK)
        fail_msg("%s: %s", filters, err.msg);
    int m = dmp_ce_filter_match(f, ev);
    dmp_ce_filter_free(f);
    return m;
}

static void test_dialects(void **state)
{
    dmp_cloudevent_t *ev = event();
    assert_true(match("[]", ev));
    assert_true(match("[{\"exact\":{\"type\":\"shop.order.created\"}}]", ev));
    assert_false(match("[{\"exact\":{\"type\":\"shop.order\"}}]", ev));
    assert_false(match("[{\"exact\":{\"type\":\"SHOP.ORDER.CREATED\"}}]", ev));
    assert_true(match("[{\"exact\":{\"qty\":\"7\"}}]", ev));
    assert_true(match("[{\"prefix\":{\"source\":\"urn:dmp:\"}}]", ev));
    assert_false(match("[{\"prefix\":{\"source\":\"urn:dmp:shop:orders:more\"}}]", ev));
    assert_true(match("[{\"suffix\":{\"subject\":\".pdf\"}}]", ev));
    assert_false(match("[{\"suffix\":{\"subject\":\".png\"}}]", ev));
    /* an absent attribute never matches */
    assert_false(match("[{\"exact\":{\"nothere\":\"x\"}}]", ev));
    assert_false(match("[{\"prefix\":{\"dataschema\":\"h\"}}]", ev));
    assert_true(match("[{\"not\":{\"exact\":{\"nothere\":\"x\"}}}]", ev));
    /* the top-level array is an implicit all */
    assert_true(match("[{\"prefix\":{\"type\":\"shop.\"}},{\"exact\":{\"region\":\"eu-west\"}}]",
                      ev));
    assert_false(match("[{\"prefix\":{\"type\":\"shop.\"}},{\"exact\":{\"region\":\"us\"}}]",
                       ev));
    assert_true(match("[{\"any\":[{\"exact\":{\"region\":\"us\"}},"
                      "{\"exact\":{\"region\":\"eu-west\"}}]}]",
                      ev));
    assert_false(match("[{\"any\":[{\"exact\":{\"region\":\"us\"}},"
                       "{\"exact\":{\"region\":\"ap\"}}]}]",
                       ev));
    assert_true(match("[{\"all\":[{\"suffix\":{\"type\":\"created\"}},"
                      "{\"not\":{\"any\":[{\"exact\":{\"region\":\"us\"}}]}}]}]",
                      ev));
    assert_true(match("[{\"sql\":\"qty > 5 AND region LIKE 'eu-%'\"}]", ev));
    assert_false(match("[{\"sql\":\"qty > 10\"}]", ev));
    /* a sql filter that errors (missing attribute) or is not boolean does not pass */
    assert_false(match("[{\"sql\":\"NOT (nothere = 'x')\"}]", ev));
    assert_false(match("[{\"sql\":\"qty\"}]", ev));
    dmp_cloudevent_free(ev);
}

static void test_masked_event(void **state)
{
    /* the caller may pass a masked view: here 'region' has been removed */
    dmp_cloudevent_t *ev = event();
    const char *f = "[{\"exact\":{\"region\":\"eu-west\"}}]";
    assert_true(match(f, ev));
    dmp_cloudevent_t *masked = dmp_cloudevent_dup(ev);
    dmp_cloudevent_set(masked, "region", NULL, NULL);
    assert_false(match(f, masked));
    dmp_cloudevent_free(masked);
    dmp_cloudevent_free(ev);
}

static void bad(const char *filters, int code, const char *needle, const char *where)
{
    dmp_ce_filter_t *f = NULL;
    dmp_error_t err = {0};
    int rc = dmp_ce_filter_parse(filters, strlen(filters), &f, &err);
    assert_null(f);
    if (rc != code || strstr(err.msg, needle) == NULL)
        fail_msg("%s: want %s '%s', got %s '%s'", filters, dmp_errname(code), needle,
                 dmp_errname(rc), err.msg);
    if (where && strcmp(err.where, where) != 0)
        fail_msg("%s: want where '%s', got '%s'", filters, where, err.where);
}

static void test_validation(void **state)
{
    bad("{}", DMP_INVALID, "must be a JSON array", NULL);
    bad("[", DMP_PARSE, "not valid JSON", NULL);
    bad("[1]", DMP_INVALID, "filter /0: a filter must be a JSON object", "/0");
    bad("[{}]", DMP_INVALID, "exactly one dialect key", "/0");
    bad("[{\"exact\":{\"a\":\"b\"},\"prefix\":{\"a\":\"b\"}}]", DMP_INVALID,
        "exactly one dialect key", "/0");
    bad("[{\"regex\":{\"a\":\"b\"}}]", DMP_INVALID, "unknown filter dialect 'regex'", "/0");
    bad("[{\"exact\":{}}]", DMP_INVALID, "'exact' dialect needs an object with exactly one",
        "/0/exact");
    bad("[{\"prefix\":{\"a\":\"1\",\"b\":\"2\"}}]", DMP_INVALID, "'prefix' dialect needs",
        "/0/prefix");
    bad("[{\"suffix\":{\"type\":\"\"}}]", DMP_INVALID, "non-empty string value for 'type'",
        "/0/suffix");
    bad("[{\"suffix\":{\"type\":5}}]", DMP_INVALID, "non-empty string value", NULL);
    bad("[{\"exact\":{\"\":\"x\"}}]", DMP_INVALID, "empty attribute name", NULL);
    bad("[{\"exact\":{\"Type\":\"x\"}}]", DMP_INVALID, "naming rules", NULL);
    bad("[{\"all\":{}}]", DMP_INVALID, "'all' dialect needs an array", "/0/all");
    bad("[{\"any\":[]}]", DMP_INVALID, "'any' dialect needs at least one", "/0/any");
    bad("[{\"all\":[{\"exact\":{\"a\":\"1\"}},{\"nope\":1}]}]", DMP_INVALID,
        "unknown filter dialect 'nope'", "/0/all/1");
    bad("[{\"not\":[]}]", DMP_INVALID, "filter /0/not: a filter must be a JSON object", NULL);
    bad("[{\"sql\":5}]", DMP_INVALID, "'sql' dialect needs a non-empty CESQL", "/0/sql");
    bad("[{\"sql\":\"type = \"}]", DMP_PARSE,
        "filter /0/sql: the 'sql' dialect has a bad expression: CESQL: unexpected end of "
        "expression, expected a value at 1:8",
        "1:8");
    bad("[{\"sql\":\"NOPE(type)\"}]", DMP_PARSE, "unknown function NOPE", NULL);
    bad("[{\"exact\":{\"a\":\"1\"}},{\"exact\":{\"a\":\"1\"}, \"exact\":{\"a\":\"2\"}}]",
        DMP_PARSE, "duplicate", NULL);
    /* nesting and size limits */
    char deep[2000];
    size_t n = 0;
    deep[n++] = '[';
    for (int i = 0; i < 40; i++)
        n += (size_t)sprintf(deep + n, "{\"not\":");
    n += (size_t)sprintf(deep + n, "{\"exact\":{\"a\":\"1\"}}");
    for (int i = 0; i < 40; i++)
        deep[n++] = '}';
    deep[n++] = ']';
    deep[n] = '\0';
    bad(deep, DMP_LIMIT, "nest", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dialects),
        cmocka_unit_test(test_masked_event),
        cmocka_unit_test(test_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
