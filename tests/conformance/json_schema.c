/* json_schema.c -- runs the JSON Schema Test Suite (draft2020-12, optional/ included)
 * against the schema engine and prints pass counts per file and in total.
 *
 * usage: conf_json_schema SUITES_DIR EXPECTED_DIR [-v]
 * Remote references to http://localhost:1234/... are served from
 * SUITES_DIR/json-schema/remotes. Files under optional/format/ run with format assertion
 * on. A failing case fails the run unless EXPECTED_DIR/json_schema.expected-failures lists
 * it as "file<TAB>group description<TAB>test description (or *)<TAB>reason".
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmp/schema.h"

static char remotes[1024];
static char *expected;
static int verbose;

static int loader(void *ud, const char *uri, char **json, size_t *len)
{
    const char *pfx = "http://localhost:1234/";
    if (strncmp(uri, pfx, strlen(pfx)) != 0)
        return DMP_NOTFOUND;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", remotes, uri + strlen(pfx));
    return dmp_read_file(path, 1 << 20, json, len, NULL);
}

static int is_expected(const char *file, const char *group, const char *test)
{
    for (const char *p = expected; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t L = nl ? (size_t)(nl - p) : strlen(p);
        char line[2048];
        if (L < sizeof line && *p != '#') {
            memcpy(line, p, L);
            line[L] = '\0';
            char *f = strtok(line, "\t"), *g = strtok(NULL, "\t"), *t = strtok(NULL, "\t");
            if (f && g && t && !strcmp(f, file) && (!strcmp(g, group) || !strcmp(g, "*")) &&
                (!strcmp(t, test) || !strcmp(t, "*")))
                return 1;
        }
        p = nl ? nl + 1 : NULL;
    }
    return 0;
}

static int total_pass, total_fail, total_expected;

static void run_file(const char *dir, const char *rel, int format_assert)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *buf;
    size_t len;
    if (dmp_read_file(path, 16 << 20, &buf, &len, NULL) != DMP_OK)
        return;
    dmp_json_doc_t *doc;
    dmp_error_t err = {0};
    if (dmp_json_parse(buf, len, NULL, &doc, &err) != DMP_OK) {
        printf("FAIL %s: cannot parse: %s\n", rel, err.msg);
        total_fail++;
        dmp_free(buf);
        return;
    }
    dmp_free(buf);
    int pass = 0, fail = 0, exp = 0;
    dmp_schema_ctx_t *ctx = dmp_schema_ctx_new();
    const dmp_json_node_t *root = dmp_json_root(doc);
    for (const dmp_json_node_t *g = dmp_json_first(root); g; g = dmp_json_next(root, g)) {
        const char *gdesc = dmp_json_string(dmp_json_get(g, "description", 11), NULL);
        dmp_buf_t sb = DMP_BUF_INIT;
        dmp_json_dump(dmp_json_get(g, "schema", 6), &sb);
        dmp_schema_opts_t opts = {0};
        opts.format_assert = format_assert;
        opts.loader = loader;
        opts.base_uri = "http://localhost:1234/__root__.json";
        dmp_schema_t *s = NULL;
        dmp_error_t cerr = {0};
        int crc = dmp_schema_compile(sb.data, sb.len, &opts, &s, &cerr);
        dmp_buf_free(&sb);
        const dmp_json_node_t *tests = dmp_json_get(g, "tests", 5);
        for (const dmp_json_node_t *t = dmp_json_first(tests); t; t = dmp_json_next(tests, t)) {
            const char *tdesc = dmp_json_string(dmp_json_get(t, "description", 11), NULL);
            int want = dmp_json_type(dmp_json_get(t, "valid", 5)) == DMP_JSON_TRUE;
            int got = -1;
            dmp_error_t verr = {0};
            if (crc == DMP_OK) {
                int rc = dmp_schema_validate_node(s, ctx, dmp_json_get(t, "data", 4),
                                                  DMP_SCHEMA_ALL_ERRORS, &verr);
                got = rc == DMP_OK;
                /* the fail-fast mode must agree with the collect-all mode */
                int rc2 = dmp_schema_validate_node(s, ctx, dmp_json_get(t, "data", 4),
                                                   DMP_SCHEMA_FAIL_FAST, NULL);
                if ((rc2 == DMP_OK) != got)
                    got = -2;
            }
            if (got == want) {
                pass++;
            } else if (is_expected(rel, gdesc, tdesc)) {
                exp++;
            } else {
                fail++;
                printf("FAIL %s\t%s\t%s\t(%s)\n", rel, gdesc, tdesc,
                       got == -1   ? cerr.msg
                       : got == -2 ? "modes disagree"
                                   : verr.msg);
            }
        }
        dmp_schema_free(s);
    }
    dmp_schema_ctx_free(ctx);
    dmp_json_doc_free(doc);
    if (verbose || fail)
        printf("%-48s %4d passed, %d failed, %d expected failures\n", rel, pass, fail, exp);
    total_pass += pass;
    total_fail += fail;
    total_expected += exp;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_dir(const char *base, const char *sub, int format_assert)
{
    char dir[2048];
    snprintf(dir, sizeof dir, "%s%s%s", base, sub[0] ? "/" : "", sub);
    DIR *d = opendir(dir);
    if (!d)
        return;
    char *names[512];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 512) {
        size_t L = strlen(de->d_name);
        if (L > 5 && !strcmp(de->d_name + L - 5, ".json"))
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    for (size_t i = 0; i < n; i++) {
        char rel[1024];
        snprintf(rel, sizeof rel, "%s%s%s", sub, sub[0] ? "/" : "", names[i]);
        run_file(base, rel, format_assert);
        free(names[i]);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s SUITES_DIR EXPECTED_DIR [-v]\n", argv[0]);
        return 64;
    }
    verbose = argc > 3 && !strcmp(argv[3], "-v");
    char base[1024], lpath[1024];
    snprintf(base, sizeof base, "%s/json-schema/tests/draft2020-12", argv[1]);
    snprintf(remotes, sizeof remotes, "%s/json-schema/remotes", argv[1]);
    snprintf(lpath, sizeof lpath, "%s/json_schema.expected-failures", argv[2]);
    size_t llen;
    dmp_read_file(lpath, 1 << 20, &expected, &llen, NULL);
    run_dir(base, "", 0);
    run_dir(base, "optional", 0);
    run_dir(base, "optional/format", 1);
    printf("json-schema draft2020-12: %d passed, %d failed, %d expected failures (listed)\n",
           total_pass, total_fail, total_expected);
    printf("%d passed, %d failed\n", total_pass, total_fail);
    dmp_free(expected);
    if (total_pass == 0) {
        fprintf(stderr, "no test ran: is %s there?\n", base);
        return 1;
    }
    return total_fail ? 1 : 0;
}
