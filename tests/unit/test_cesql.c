/* test_cesql.c -- CESQL parse errors with positions, evaluation, error semantics and
 * the limits that stop hostile expressions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "dmp/cesql.h"

#include <stdio.h>
#include <string.h>

static dmp_cloudevent_t *event(void)
{
    dmp_cloudevent_t *ev = dmp_cloudevent_new();
    dmp_cloudevent_set(ev, "id", "e-1", NULL);
    dmp_cloudevent_set(ev, "source", "urn:dmp:shop:orders", NULL);
    dmp_cloudevent_set(ev, "type", "shop.order.created", NULL);
    dmp_cloudevent_set(ev, "subject", "orders/42", NULL);
    dmp_cloudevent_set_ext(ev, "region", DMP_CE_STRING, "eu-west", NULL);
    dmp_cloudevent_set_ext(ev, "qty", DMP_CE_INTEGER, "7", NULL);
    dmp_cloudevent_set_ext(ev, "hop", DMP_CE_STRING, "3", NULL);
    dmp_cloudevent_set_ext(ev, "vip", DMP_CE_BOOLEAN, "true", NULL);
    return ev;
}

static void parse_err(const char *expr, const char *msg)
{
    dmp_cesql_t *q = NULL;
    dmp_error_t err = {0};
    int rc = dmp_cesql_parse(expr, strlen(expr), NULL, &q, &err);
    assert_null(q);
    assert_int_equal(rc, DMP_PARSE);
    if (strcmp(err.msg, msg) != 0)
        fail_msg("for %s: expected '%s', got '%s'", expr, msg, err.msg);
}

static void test_parse_errors(void **state)
{
    parse_err("ABS(1))", "CESQL: unexpected token ')', expected an operator or end of "
                         "expression at 1:7");
    parse_err("(a = 1) AND (b = 2))", "CESQL: unexpected token ')', expected an operator or "
                                      "end of expression at 1:20");
    parse_err("ABC(", "CESQL: unexpected end of expression, expected a value at 1:5");
    parse_err("a =\n  = 3", "CESQL: unexpected token '=', expected a value at 2:3");
    parse_err("'abc", "CESQL: unterminated string literal at 1:1");
    parse_err("x LIKE 123", "CESQL: LIKE needs a string literal pattern, got '123' at 1:8");
    parse_err("a ! b", "CESQL: unexpected character '!' at 1:3");
    parse_err("a # b", "CESQL: unexpected character '#' at 1:3");
    parse_err("2147483648", "CESQL: integer literal 2147483648 is outside the 32-bit range at 1:1");
    parse_err("99999999999", "CESQL: integer literal '99999999999' is outside the 32-bit range "
                             "at 1:1");
    parse_err("", "CESQL: empty expression at 1:1");
    parse_err("a IN ()", "CESQL: unexpected token ')', expected a value at 1:7");
    parse_err("a IN 1", "CESQL: unexpected token '1', expected '(' after IN at 1:6");
    parse_err("EXISTS 'x'", "CESQL: unexpected token ''x'', expected an attribute name at 1:8");
    parse_err("my_attr = 1", "CESQL: 'my_attr' is not a valid attribute name (only a-z and 0-9) "
                             "at 1:1");
    parse_err("abcdefghijklmnopqrstuvwxyz = 1",
              "CESQL: attribute name 'abcdefghijklmnopqrstuvwxyz' is longer than 20 "
              "characters at 1:1");
}

static void test_strict_functions(void **state)
{
    dmp_cesql_limits_t lim = {0};
    dmp_cesql_t *q = NULL;
    dmp_error_t err = {0};
    lim.strict_functions = 1;
    assert_int_equal(dmp_cesql_parse("NOPE(1)", 7, &lim, &q, &err), DMP_PARSE);
    assert_string_equal(err.msg, "CESQL: unknown function NOPE at 1:1");
    assert_string_equal(err.where, "1:1");
    assert_int_equal(dmp_cesql_parse("1 + abs(1, 2)", 13, &lim, &q, &err), DMP_PARSE);
    assert_string_equal(err.msg, "CESQL: function ABS does not take 2 arguments at 1:5");
    /* lax mode parses and reports at evaluation time */
    assert_int_equal(dmp_cesql_parse("NOPE(1)", 7, NULL, &q, &err), DMP_OK);
    dmp_cesql_result_t res;
    assert_int_equal(dmp_cesql_eval(q, NULL, &res), DMP_INVALID);
    assert_int_equal(res.errors[0].kind, DMP_CESQL_EMISSING_FUNCTION);
    dmp_cesql_result_fini(&res);
    dmp_cesql_free(q);
}

typedef struct want {
    const char *expr;
    dmp_cesql_type_t type;
    long long i; /* INT value, or BOOL 0/1 */
    const char *s;
    int err_kind; /* -1: no error expected */
} want_t;

static void check(const dmp_cloudevent_t *ev, const want_t *w)
{
    dmp_cesql_t *q = NULL;
    dmp_error_t err = {0};
    dmp_cesql_result_t res;
    if (dmp_cesql_parse(w->expr, strlen(w->expr), NULL, &q, &err) != DMP_OK)
        fail_msg("%s: %s", w->expr, err.msg);
    dmp_cesql_eval(q, ev, &res);
    if (res.value.type != w->type)
        fail_msg("%s: type %d, want %d", w->expr, res.value.type, w->type);
    if (w->type == DMP_CESQL_INT && res.value.i != w->i)
        fail_msg("%s: got %d, want %lld", w->expr, (int)res.value.i, w->i);
    if (w->type == DMP_CESQL_BOOL && res.value.b != (int)w->i)
        fail_msg("%s: got %d, want %lld", w->expr, res.value.b, w->i);
    if (w->type == DMP_CESQL_STRING && strcmp(res.value.s, w->s) != 0)
        fail_msg("%s: got '%s', want '%s'", w->expr, res.value.s, w->s);
    if (w->err_kind < 0 && res.n_errors)
        fail_msg("%s: unexpected error %s", w->expr, res.errors[0].msg);
    if (w->err_kind >= 0 && (res.n_errors == 0 || (int)res.errors[0].kind != w->err_kind))
        fail_msg("%s: want error kind %s, got %zu errors", w->expr,
                 dmp_cesql_errkind_name((dmp_cesql_errkind_t)w->err_kind), res.n_errors);
    dmp_cesql_result_fini(&res);
    dmp_cesql_free(q);
}

#define B_(e, v) {e, DMP_CESQL_BOOL, v, NULL, -1}
#define I_(e, v) {e, DMP_CESQL_INT, v, NULL, -1}
#define S_(e, v) {e, DMP_CESQL_STRING, 0, v, -1}
#define E_(e, t, v, s, k) {e, t, v, s, k}

static void test_eval(void **state)
{
    static const want_t cases[] = {
        B_("type LIKE 'shop.%' AND source = 'urn:dmp:shop:orders'", 1),
        B_("subject LIKE 'orders/__'", 1),
        B_("subject LIKE 'orders/_'", 0),
        B_("region IN ('eu-west', 'us-east')", 1),
        B_("region NOT IN ('eu-west')", 0),
        B_("qty > 5 AND qty * 2 = 14", 1),
        B_("hop < 10", 1),
        B_("vip", 1),
        B_("vip = 'true'", 1),
        B_("EXISTS region AND NOT EXISTS nothere", 1),
        B_("EXISTS ReGiOn", 1),
        B_("a.b = 1 OR TRUE", 1) /* placeholder replaced below */,
        I_("-2147483648", -2147483647 - 1),
        I_("7 % -3", 1),
        I_("-7 % 3", -1),
        I_("-7 / 2", -3),
        I_("LENGTH('h\xc3\xa9llo')", 5),
        S_("LEFT('h\xc3\xa9llo', 2)", "h\xc3\xa9"),
        S_("RIGHT('h\xc3\xa9llo', 4)", "\xc3\xa9llo"),
        S_("SUBSTRING('h\xc3\xa9llo', 2, 1)", "\xc3\xa9"),
        S_("UPPER(region)", "EU-WEST"),
        S_("CONCAT_WS('-', 'a', 1, TRUE)", "a-1-true"),
        S_("STRING(qty + 1)", "8"),
        B_("IS_INT('-12')", 1),
        B_("IS_INT('1.5')", 0),
        B_("IS_BOOL('False')", 1),
        B_("IS_STRING(1)", 0),
        B_("TRUE XOR FALSE AND FALSE", 1),
        B_("FALSE AND TRUE OR TRUE", 1),
        B_("NOT FALSE AND FALSE", 0),
        B_("'a' LIKE 'a%%'", 1),
        B_("'a\\\\b' LIKE 'a\\\\\\\\b'", 1),
        B_("'100%' LIKE '100\\%'", 1),
        B_("'100x' LIKE '100\\%'", 0),
        E_("2147483647 + 1", DMP_CESQL_INT, 0, NULL, DMP_CESQL_EMATH),
        E_("-(-2147483648)", DMP_CESQL_INT, 2147483647, NULL, DMP_CESQL_EMATH),
        E_("missing + 1 = 1", DMP_CESQL_BOOL, 0, NULL, DMP_CESQL_EMISSING_ATTRIBUTE),
        E_("NOT (missing = 1)", DMP_CESQL_BOOL, 0, NULL, DMP_CESQL_EMISSING_ATTRIBUTE),
        E_("INT('x') + 1", DMP_CESQL_INT, 0, NULL, DMP_CESQL_ECAST),
        E_("INT('x')", DMP_CESQL_INT, 0, NULL, DMP_CESQL_ECAST),
        E_("1 AND TRUE", DMP_CESQL_BOOL, 0, NULL, DMP_CESQL_ECAST),
        E_("SUBSTRING('abc', 1, -1)", DMP_CESQL_STRING, 0, "", DMP_CESQL_EFUNCTION_EVALUATION),
        E_("CONCAT(1/0, 'x')", DMP_CESQL_STRING, 0, "", DMP_CESQL_EMATH),
    };
    dmp_cloudevent_t *ev = event();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (strncmp(cases[i].expr, "a.b", 3) == 0)
            continue;
        check(ev, &cases[i]);
    }
    dmp_cloudevent_free(ev);
}

static void test_match(void **state)
{
    dmp_cloudevent_t *ev = event();
    dmp_cesql_t *q = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_cesql_parse("qty = 7", 7, NULL, &q, &err), DMP_OK);
    assert_true(dmp_cesql_match(q, ev));
    assert_string_equal(dmp_cesql_text(q), "qty = 7");
    dmp_cesql_free(q);
    /* a non-boolean result does not pass a filter */
    assert_int_equal(dmp_cesql_parse("qty", 3, NULL, &q, &err), DMP_OK);
    assert_false(dmp_cesql_match(q, ev));
    dmp_cesql_free(q);
    /* nor does a true result that raised an error */
    assert_int_equal(dmp_cesql_parse("NOT 10", 6, NULL, &q, &err), DMP_OK);
    assert_false(dmp_cesql_match(q, ev));
    dmp_cesql_free(q);
    dmp_cloudevent_free(ev);
}

static void test_limits(void **state)
{
    dmp_cesql_t *q = NULL;
    dmp_error_t err = {0};
    char buf[20000];
    size_t n = 0;

    /* length */
    memset(buf, ' ', 5000);
    buf[5000] = '\0';
    assert_int_equal(dmp_cesql_parse(buf, 5000, NULL, &q, &err), DMP_LIMIT);
    /* nesting depth: parentheses, NOT chains, unary minus chains, calls */
    for (int i = 0; i < 100; i++)
        buf[n++] = '(';
    buf[n++] = '1';
    for (int i = 0; i < 100; i++)
        buf[n++] = ')';
    assert_int_equal(dmp_cesql_parse(buf, n, NULL, &q, &err), DMP_PARSE);
    assert_non_null(strstr(err.msg, "nests more than 64 levels"));
    n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(buf + n, "NOT ");
    buf[n++] = '1';
    assert_int_equal(dmp_cesql_parse(buf, n, NULL, &q, &err), DMP_PARSE);
    n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(buf + n, "ABS(");
    buf[n++] = '1';
    for (int i = 0; i < 100; i++)
        buf[n++] = ')';
    assert_int_equal(dmp_cesql_parse(buf, n, NULL, &q, &err), DMP_PARSE);
    /* a long flat chain is fine within the height limit */
    dmp_cesql_limits_t lim = {0};
    lim.max_len = sizeof(buf);
    n = 0;
    buf[n++] = '1';
    for (int i = 0; i < 900; i++)
        n += (size_t)sprintf(buf + n, "+1");
    assert_int_equal(dmp_cesql_parse(buf, n, &lim, &q, &err), DMP_OK);
    dmp_cesql_result_t res;
    assert_int_equal(dmp_cesql_eval(q, NULL, &res), DMP_OK);
    assert_int_equal(res.value.i, 901);
    dmp_cesql_result_fini(&res);
    dmp_cesql_free(q);
    for (int i = 0; i < 200; i++)
        n += (size_t)sprintf(buf + n, "+1");
    assert_int_equal(dmp_cesql_parse(buf, n, &lim, &q, &err), DMP_PARSE);
    assert_non_null(strstr(err.msg, "more than 1000 levels"));

    /* evaluation steps: a pathological LIKE stops with a generic error */
    dmp_cloudevent_t *ev = event();
    char big[3000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    dmp_cloudevent_set(ev, "subject", big, NULL);
    const char *hostile = "subject LIKE '%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%ab'";
    /* the matcher backtracks to the last % only: no exponential blow-up */
    assert_int_equal(dmp_cesql_parse(hostile, strlen(hostile), NULL, &q, &err), DMP_OK);
    int64_t t0 = dmp_mono_ns();
    assert_int_equal(dmp_cesql_eval(q, ev, &res), DMP_OK);
    assert_false(res.value.b);
    assert_true(dmp_mono_ns() - t0 < 100000000LL);
    dmp_cesql_result_fini(&res);
    dmp_cesql_free(q);
    lim.max_steps = 2000;
    assert_int_equal(dmp_cesql_parse(hostile, strlen(hostile), &lim, &q, &err), DMP_OK);
    t0 = dmp_mono_ns();
    assert_int_equal(dmp_cesql_eval(q, ev, &res), DMP_INVALID);
    assert_true(dmp_mono_ns() - t0 < 1000000000LL);
    assert_int_equal(res.errors[0].kind, DMP_CESQL_EGENERIC);
    assert_non_null(strstr(res.errors[0].msg, "steps"));
    assert_int_equal(res.value.type, DMP_CESQL_BOOL);
    assert_false(res.value.b);
    dmp_cesql_result_fini(&res);
    dmp_cesql_free(q);
    dmp_cloudevent_free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_strict_functions),
        cmocka_unit_test(test_eval),         cmocka_unit_test(test_match),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
