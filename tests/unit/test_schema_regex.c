/* test_schema_regex.c -- the pattern engine: ECMA-262 details on PCRE2, and the fast
 * matcher for simple anchored patterns checked against PCRE2 on random subjects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "schema/schema_int.h"

static dmp_re_t *re_ok(const char *p)
{
    char msg[200];
    dmp_re_t *re = dmp_re_compile(p, strlen(p), msg, sizeof msg);
    if (!re)
        fail_msg("pattern %s: %s", p, msg);
    return re;
}

static void test_fast_matches_pcre2(void **st)
{
    static const char *pats[] = {"^[A-Z].*",
                                 "^ORD-[0-9]{8}$",
                                 "^C[0-9]{6,10}$",
                                 "^[A-Z]{3}$",
                                 "^[A-Z0-9 -]{3,10}$",
                                 "^[A-Z]{2}$",
                                 "^[A-Z]{3}-[0-9]{4,6}$",
                                 "a*b",
                                 "^a?b+c*$",
                                 "x{2,}y",
                                 "^[^abc]{1,3}\\d$",
                                 "\\w+@\\w+\\.com$",
                                 "^.$",
                                 "[.-]",
                                 "^a{0,}$",
                                 "ab?c",
                                 "^\\s*\\S",
                                 "^[a-c]*a[a-c]{3}$"};
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    srand(12345);
    const char alphabet[] = "ABCxyzab0123456789-. @c\n_";
    for (size_t p = 0; p < sizeof pats / sizeof pats[0]; p++) {
        dmp_re_t *re = re_ok(pats[p]);
        for (int t = 0; t < 3000; t++) {
            char s[24];
            size_t n = (size_t)(rand() % 16);
            for (size_t i = 0; i < n; i++)
                s[i] = alphabet[rand() % (int)(sizeof alphabet - 1)];
            int a = dmp_re_search(re, md, NULL, s, n);
            int b = dmp_re_search_pcre2(re, md, NULL, s, n);
            if (a != b)
                fail_msg("pattern %s subject '%.*s': fast %d, pcre2 %d", pats[p], (int)n, s, a, b);
        }
        dmp_re_free(re);
    }
    pcre2_match_data_free(md);
    /* the bench patterns take the fast path */
    dmp_re_t *re = re_ok("^ORD-[0-9]{8}$");
    assert_true(dmp_re_is_simple(re));
    dmp_re_free(re);
    re = re_ok("^(a|b)$");
    assert_false(dmp_re_is_simple(re));
    dmp_re_free(re);
}

static void test_ecma_semantics(void **st)
{
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    struct {
        const char *pat, *subj;
        int want;
    } cases[] = {
        {"^\\d$", "\xe0\xa7\xa8", 0},   /* \d is ASCII only */
        {"^\\s$", "\xc2\xa0", 1},       /* \s includes NBSP */
        {"^\\S$", "\xe2\x80\x83", 0},   /* EM SPACE is white space */
        {"^.$", "\xf0\x9f\x90\xb2", 1}, /* '.' is one code point */
        {"^.$", "\n", 0},
        {"abc$", "abc\n", 0}, /* '$' only at the very end */
        {"^\\p{Letter}+$", "\xc3\xa9t\xc3\xa9", 1},
        {"^\\u0041$", "A", 1},
        {"^[^]$", "x", 1},
        {"[]", "x", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dmp_re_t *re = re_ok(cases[i].pat);
        int got = dmp_re_search(re, md, NULL, cases[i].subj, strlen(cases[i].subj));
        if (got != cases[i].want)
            fail_msg("case %zu (%s): got %d", i, cases[i].pat, got);
        dmp_re_free(re);
    }
    char msg[200];
    assert_null(dmp_re_compile("(?<n", 4, msg, sizeof msg));
    assert_true(msg[0] != '\0');
    pcre2_match_data_free(md);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_matches_pcre2),
        cmocka_unit_test(test_ecma_semantics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
