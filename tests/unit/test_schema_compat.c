/* test_schema_compat.c -- the compatibility checker, and `dmp schema` end to end (exit codes
 * and output) through the built binary ($DMP_BUILD_DIR/dmp). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dmp/schema.h"

#define BASE                                                                                       \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"id\"],"                   \
    "\"properties\":{\"id\":{\"type\":\"string\",\"pattern\":\"^[a-z]+$\"},"                       \
    "\"n\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":10},"                                   \
    "\"s\":{\"enum\":[\"a\",\"b\",\"c\"]},\"opt\":{\"type\":[\"string\",\"null\"]}}}"

static int has_kind(const dmp_compat_report_t *r, const char *kind, const char *loc, int dir)
{
    for (size_t i = 0; i < r->n_changes; i++)
        if (!strcmp(r->changes[i].kind, kind) && !strcmp(r->changes[i].location, loc) &&
            r->changes[i].direction == dir)
            return 1;
    return 0;
}

static dmp_compat_report_t diff(const char *old, const char *neu, dmp_compat_mode_t mode)
{
    dmp_compat_report_t r = {0};
    dmp_error_t err = {0};
    int rc = dmp_schema_compat(old, strlen(old), neu, strlen(neu), mode, &r, &err);
    if (rc != DMP_OK)
        fail_msg("compat failed: %s", err.msg);
    return r;
}

static char *replace(const char *s, const char *from, const char *to)
{
    const char *p = strstr(s, from);
    assert_non_null(p);
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_buf_append(&b, s, (size_t)(p - s));
    dmp_buf_puts(&b, to);
    dmp_buf_puts(&b, p + strlen(from));
    return dmp_buf_steal(&b);
}

static void test_identical(void **st)
{
    dmp_compat_report_t r = diff(BASE, BASE, DMP_COMPAT_FULL);
    assert_true(r.compatible);
    assert_int_equal(r.n_changes, 0);
    dmp_compat_report_fini(&r);
}

static void test_each_breaking_kind(void **st)
{
    struct {
        const char *from, *to, *kind, *loc;
        int dir;
    } cases[] = {
        {"\"required\":[\"id\"]", "\"required\":[\"id\",\"n\"]", "required-added", "/",
         DMP_COMPAT_BACKWARD},
        {"\"maximum\":10", "\"maximum\":5", "bound-tightened", "/properties/n",
         DMP_COMPAT_BACKWARD},
        {"\"minimum\":0", "\"minimum\":1", "bound-tightened", "/properties/n", DMP_COMPAT_BACKWARD},
        {"[\"a\",\"b\",\"c\"]", "[\"a\",\"b\"]", "enum-narrowed", "/properties/s",
         DMP_COMPAT_BACKWARD},
        {"[\"string\",\"null\"]", "\"string\"", "type-narrowed", "/properties/opt",
         DMP_COMPAT_BACKWARD},
        {"^[a-z]+$", "^[a-z]{3}$", "pattern-changed", "/properties/id", DMP_COMPAT_BACKWARD},
        {",\"opt\":{\"type\":[\"string\",\"null\"]}", "", "property-removed", "/properties/opt",
         DMP_COMPAT_BACKWARD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *neu = replace(BASE, cases[i].from, cases[i].to);
        dmp_compat_report_t r = diff(BASE, neu, DMP_COMPAT_BACKWARD);
        assert_false(r.compatible);
        if (!has_kind(&r, cases[i].kind, cases[i].loc, cases[i].dir))
            fail_msg("case %zu: no %s at %s (%zu changes, first %s at %s)", i, cases[i].kind,
                     cases[i].loc, r.n_changes, r.n_changes ? r.changes[0].kind : "-",
                     r.n_changes ? r.changes[0].location : "-");
        dmp_compat_report_fini(&r);
        /* the reverse change is the widening one: backward compatible (a changed pattern
         * cannot be ordered, so it breaks both ways) */
        r = diff(neu, BASE, DMP_COMPAT_BACKWARD);
        if (strcmp(cases[i].kind, "pattern-changed") != 0 && !r.compatible)
            fail_msg("case %zu reversed: %s", i, r.changes[0].message);
        dmp_compat_report_fini(&r);
        /* ... but forward-incompatible */
        r = diff(neu, BASE, DMP_COMPAT_FORWARD);
        assert_false(r.compatible);
        dmp_compat_report_fini(&r);
        dmp_free(neu);
    }
}

static void test_additional_closed(void **st)
{
    const char *open = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}";
    const char *closed = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},"
                         "\"additionalProperties\":false}";
    dmp_compat_report_t r = diff(open, closed, DMP_COMPAT_BACKWARD);
    assert_false(r.compatible);
    assert_true(
        has_kind(&r, "additional-properties-closed", "/additionalProperties", DMP_COMPAT_BACKWARD));
    dmp_compat_report_fini(&r);
    r = diff(open, closed, DMP_COMPAT_FORWARD);
    assert_true(r.compatible);
    dmp_compat_report_fini(&r);
}

static void test_transitive(void **st)
{
    const char *v1 = "{\"properties\":{\"n\":{\"type\":\"integer\",\"maximum\":100}}}";
    const char *v2 = "{\"properties\":{\"n\":{\"type\":\"integer\",\"maximum\":200}}}";
    const char *v3 = "{\"properties\":{\"n\":{\"type\":\"integer\",\"maximum\":150}}}";
    const char *vs[] = {v1, v2, v3};
    size_t ls[] = {strlen(v1), strlen(v2), strlen(v3)};
    dmp_compat_report_t r = {0};
    /* v3 narrows v2 (200 -> 150) but not v1 (100) */
    assert_int_equal(dmp_schema_compat_versions(vs, ls, 3, DMP_COMPAT_BACKWARD, &r, NULL), DMP_OK);
    assert_false(r.compatible);
    assert_int_equal(r.n_changes, 1);
    assert_int_equal(r.changes[0].version, 1);
    dmp_compat_report_fini(&r);
    const char *ws[] = {v2, v1, v3};
    size_t wl[] = {strlen(v2), strlen(v1), strlen(v3)};
    assert_int_equal(dmp_schema_compat_versions(ws, wl, 3, DMP_COMPAT_BACKWARD, &r, NULL), DMP_OK);
    assert_true(r.compatible); /* v1 -> v3 widens */
    dmp_compat_report_fini(&r);
    assert_int_equal(
        dmp_schema_compat_versions(ws, wl, 3, DMP_COMPAT_BACKWARD_TRANSITIVE, &r, NULL), DMP_OK);
    assert_false(r.compatible); /* but v2 (first) had 200 */
    assert_int_equal(r.changes[0].version, 0);
    dmp_compat_report_fini(&r);
    assert_int_equal(dmp_compat_mode_parse("FULL_TRANSITIVE"), DMP_COMPAT_FULL_TRANSITIVE);
    assert_int_equal(dmp_compat_mode_parse("full-transitive"), DMP_COMPAT_FULL_TRANSITIVE);
    assert_int_equal(dmp_compat_mode_parse("sideways"), -1);
    dmp_error_t err = {0};
    assert_int_equal(dmp_schema_compat("{", 1, v1, strlen(v1), DMP_COMPAT_FULL, &r, &err),
                     DMP_PARSE);
}

/* ---- CLI ---- */

static char tmpdir[256];

static void write_file(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Runs "dmp schema ARGS" in tmpdir with 'in' on stdin; returns the exit code, output in out. */
static int run_dmp(const char *args, const char *in, char *out, size_t outsz)
{
    const char *bd = getenv("DMP_BUILD_DIR");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && printf '%%s' '%s' | %s/dmp schema %s 2>&1", tmpdir,
             in ? in : "", bd ? bd : "build", args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, outsz - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void **st)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dmp-schema-test-%d", (int)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", tmpdir);
    assert_int_equal(system(cmd), 0);
    write_file("s.json", BASE);
    write_file("bad.json", "{\"pattern\":\"((\"}");
    write_file("good.json", "{\"id\":\"abc\",\"n\":3}");
    write_file("inv.json", "{\"id\":\"ABC\",\"n\":30}");
    char *narrow = replace(BASE, "\"maximum\":10", "\"maximum\":5");
    write_file("s2.json", narrow);
    dmp_free(narrow);
    char out[8192];
    assert_int_equal(run_dmp("validate s.json good.json", NULL, out, sizeof out), 0);
    assert_non_null(strstr(out, "good.json: valid"));
    assert_int_equal(run_dmp("validate s.json good.json inv.json", NULL, out, sizeof out), 1);
    assert_non_null(strstr(out, "/n: 30 is greater than 10 (maximum)"));
    assert_non_null(strstr(out, "1 valid, 1 invalid"));
    assert_int_equal(
        run_dmp("validate s.json - --quiet", "{\"id\":\"a\"}\n{\"id\":1}\n", out, sizeof out), 1);
    assert_string_equal(out, "1 valid, 1 invalid\n");
    assert_int_equal(run_dmp("validate s.json -o json", "{\"id\":\"a\"}\n", out, sizeof out), 0);
    assert_string_equal(out, "{\"instance\":\"-:1\",\"valid\":true}\n");
    assert_int_equal(run_dmp("validate bad.json good.json", NULL, out, sizeof out), 65);
    assert_non_null(strstr(out, "/pattern"));
    assert_int_equal(run_dmp("validate", NULL, out, sizeof out), 64);
    assert_int_equal(run_dmp("validate s.json --bogus", NULL, out, sizeof out), 64);
    assert_int_equal(run_dmp("check s.json", NULL, out, sizeof out), 0);
    assert_int_equal(run_dmp("check bad.json", NULL, out, sizeof out), 1);
    assert_int_equal(run_dmp("check missing.json", NULL, out, sizeof out), 65);
    write_file("nonconf.json", "{\"title\":5}");
    assert_int_equal(run_dmp("check nonconf.json", NULL, out, sizeof out), 1);
    assert_non_null(strstr(out, "/title: 5 is a number, not of type string (type)"));
    assert_int_equal(run_dmp("diff s.json s.json --mode full", NULL, out, sizeof out), 0);
    assert_int_equal(run_dmp("diff s.json s2.json", NULL, out, sizeof out), 1);
    assert_non_null(strstr(out, "/properties/n: maximum tightened from 10 to 5"));
    assert_int_equal(run_dmp("diff s.json s2.json --mode forward", NULL, out, sizeof out), 0);
    assert_int_equal(run_dmp("diff s.json s2.json --mode sideways", NULL, out, sizeof out), 64);
    assert_int_equal(run_dmp("validate --help", NULL, out, sizeof out), 0);
    assert_int_equal(run_dmp("diff --help", NULL, out, sizeof out), 0);
    assert_int_equal(run_dmp("check --help", NULL, out, sizeof out), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical),
        cmocka_unit_test(test_each_breaking_kind),
        cmocka_unit_test(test_additional_closed),
        cmocka_unit_test(test_transitive),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
