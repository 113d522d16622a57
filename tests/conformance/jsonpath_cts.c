/* jsonpath_cts.c -- runs the JSONPath Compliance Test Suite (RFC 9535) against
 * dmp_jsonpath_*.
 *
 * usage: conf_jsonpath_cts <testsuites dir> <dir with jsonpath_cts.expected-failures>
 * Each case is checked for its values and its normalized paths; invalid_selector
 * cases must fail to compile. Cases named in the expected-failures file (one per
 * line: "<case name> | <reason>") may fail; the program exits non-zero on any other
 * failure, and reports expected failures that now pass.
 */
#include <stdio.h>
#include <string.h>

#include "dmp/jsonpath.h"

typedef struct {
    char **names;
    size_t n;
} xfail_t;

static void load_xfail(const char *dir, xfail_t *xf)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/jsonpath_cts.expected-failures", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[2048];
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *bar = strstr(line, " | ");
        if (!bar)
            continue;
        *bar = 0;
        xf->names = dmp_realloc(xf->names, (xf->n + 1) * sizeof(char *));
        xf->names[xf->n++] = dmp_strdup(line);
    }
    fclose(f);
}

static int is_xfail(const xfail_t *xf, const char *name)
{
    for (size_t i = 0; i < xf->n; i++)
        if (strcmp(xf->names[i], name) == 0)
            return 1;
    return 0;
}

static int same(const dmp_jsonpath_nodelist_t *nl, json_t *values, json_t *paths)
{
    if (json_array_size(values) != nl->n)
        return 0;
    for (size_t i = 0; i < nl->n; i++) {
        if (!json_equal(nl->v[i].value, json_array_get(values, i)))
            return 0;
        if (paths && strcmp(nl->v[i].path, json_string_value(json_array_get(paths, i))) != 0)
            return 0;
    }
    return 1;
}

/* 1 pass, 0 fail; 'why' explains a failure. */
static int run_case(json_t *tc, char *why, size_t whylen)
{
    json_t *jsel = json_object_get(tc, "selector");
    const char *sel = json_string_value(jsel);
    dmp_jsonpath_t *jp = NULL;
    dmp_error_t err = {0};
    int rc = dmp_jsonpath_compilen(sel, json_string_length(jsel), NULL, &jp, &err);
    if (json_is_true(json_object_get(tc, "invalid_selector"))) {
        dmp_jsonpath_free(jp);
        if (rc == DMP_OK) {
            snprintf(why, whylen, "invalid selector was accepted");
            return 0;
        }
        return 1;
    }
    if (rc != DMP_OK) {
        snprintf(why, whylen, "rejected: %s", err.msg);
        return 0;
    }
    dmp_jsonpath_nodelist_t nl = DMP_JSONPATH_NODELIST_INIT;
    rc = dmp_jsonpath_eval(jp, json_object_get(tc, "document"), &nl, &err);
    int ok = 0;
    if (rc != DMP_OK) {
        snprintf(why, whylen, "eval failed: %s", err.msg);
    } else if (json_object_get(tc, "result")) {
        ok = same(&nl, json_object_get(tc, "result"), json_object_get(tc, "result_paths"));
    } else {
        json_t *alts = json_object_get(tc, "results");
        json_t *palts = json_object_get(tc, "results_paths");
        for (size_t i = 0; i < json_array_size(alts) && !ok; i++)
            ok = same(&nl, json_array_get(alts, i), json_array_get(palts, i));
    }
    if (rc == DMP_OK && !ok) {
        json_t *got = json_array();
        for (size_t i = 0; i < nl.n; i++)
            json_array_append_new(got, json_string(nl.v[i].path));
        char *s = json_dumps(got, JSON_COMPACT);
        snprintf(why, whylen, "wrong result, got %s", s);
        free(s);
        json_decref(got);
    }
    dmp_jsonpath_nodelist_free(&nl);
    dmp_jsonpath_free(jp);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <testsuites dir> <expected-failures dir>\n", argv[0]);
        return 2;
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/jsonpath/cts.json", argv[1]);
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (!root) {
        fprintf(stderr, "%s:%d: %s\n", path, jerr.line, jerr.text);
        return 2;
    }
    xfail_t xf = {0};
    load_xfail(argv[2], &xf);
    json_t *tests = json_object_get(root, "tests");
    size_t pass = 0, fail = 0, xfailed = 0, xpassed = 0, invalid_total = 0, invalid_pass = 0;
    for (size_t i = 0; i < json_array_size(tests); i++) {
        json_t *tc = json_array_get(tests, i);
        const char *name = json_string_value(json_object_get(tc, "name"));
        char why[1024] = "";
        int ok = run_case(tc, why, sizeof(why));
        int inv = json_is_true(json_object_get(tc, "invalid_selector"));
        invalid_total += inv;
        if (ok) {
            pass++;
            invalid_pass += inv;
            if (is_xfail(&xf, name)) {
                xpassed++;
                printf("XPASS %s\n", name);
            }
        } else if (is_xfail(&xf, name)) {
            xfailed++;
        } else {
            fail++;
            printf("FAIL  %s: %s  [%s]\n", name, why,
                   json_string_value(json_object_get(tc, "selector")));
        }
    }
    printf("jsonpath cts: %zu/%zu passed (%zu/%zu invalid-selector cases rejected), "
           "%zu expected failures, %zu unexpected failures, %zu expected failures passed\n",
           pass, json_array_size(tests), invalid_pass, invalid_total, xfailed, fail, xpassed);
    for (size_t i = 0; i < xf.n; i++)
        dmp_free(xf.names[i]);
    dmp_free(xf.names);
    json_decref(root);
    return fail ? 1 : 0;
}
