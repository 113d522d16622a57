/* yaml_suite.c -- runs the YAML test suite (../shared/testsuites/yaml) through the
 * descriptor module's YAML loader (dmp_doc_load, multi-document mode).
 *
 * A case is a directory holding in.yaml and either in.json (the expected documents,
 * one JSON value after another) or a file named `error` (the YAML must be refused).
 * Some cases hold numbered sub-directories instead. Cases without either file only
 * need to load without crashing. Cases listed in yaml_suite.expected-failures
 * ("ID reason", one a line, '#' comments) are run but their result does not count;
 * an expected failure that passes is reported so the list can shrink.
 *
 * usage: conf_yaml_suite SUITES_DIR LISTS_DIR [-v]
 */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dmp/descriptor.h"

typedef struct names {
    char **v;
    size_t n, cap;
} names_t;

static void names_add(names_t *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = dmp_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = dmp_strdup(s);
}

static int names_has(const names_t *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s))
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int exists(const char *dir, const char *name)
{
    struct stat st;
    char *p = dmp_asprintf("%s/%s", dir, name);
    int rc = stat(p, &st) == 0;
    dmp_free(p);
    return rc;
}

/* JSON equality where 1 and 1.0 are the same number. */
static int same(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v)
        {
            json_t *w = json_object_get(b, k);
            if (w == NULL || !same(v, w))
                return 0;
        }
        return 1;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

/* Reads every JSON value in 'path' into an array; NULL when it cannot. */
static json_t *load_expected(const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    if (dmp_read_file(path, 1 << 24, &buf, &len, NULL) != DMP_OK)
        return NULL;
    json_t *docs = json_array();
    size_t off = 0;
    for (;;) {
        while (off < len && strchr(" \t\r\n", buf[off]))
            off++;
        if (off >= len)
            break;
        json_error_t je;
        json_t *v = json_loadb(buf + off, len - off,
                               JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, &je);
        if (v == NULL) {
            json_decref(docs);
            docs = NULL;
            break;
        }
        json_array_append_new(docs, v);
        off += je.position;
    }
    dmp_free(buf);
    return docs;
}

/* Returns 1 pass, 0 fail; *why says what went wrong. */
static int run_case(const char *dir, char *why, size_t why_len)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/in.yaml", dir);
    char *buf = NULL;
    size_t len = 0;
    if (dmp_read_file(p, 1 << 24, &buf, &len, NULL) != DMP_OK) {
        snprintf(why, why_len, "cannot read in.yaml");
        return 0;
    }
    dmp_doc_opts_t opts = {.format = DMP_FMT_YAML, .source = "in.yaml", .multi = 1};
    json_t *docs = NULL;
    dmp_error_t err = {0};
    int rc = dmp_doc_load(buf, len, &opts, &docs, NULL, NULL, &err);
    dmp_free(buf);
    int ok;
    if (exists(dir, "error")) {
        ok = rc != DMP_OK;
        if (!ok)
            snprintf(why, why_len, "accepted YAML that must be refused");
    } else if (exists(dir, "in.json")) {
        snprintf(p, sizeof(p), "%s/in.json", dir);
        json_t *want = load_expected(p);
        if (rc != DMP_OK) {
            ok = 0;
            snprintf(why, why_len, "refused: %.200s: %.300s", err.where, err.msg);
        } else if (want == NULL) {
            ok = 0;
            snprintf(why, why_len, "in.json is not readable JSON");
        } else {
            ok = same(docs, want);
            if (!ok) {
                char *g = json_dumps(docs, JSON_COMPACT | JSON_ENCODE_ANY);
                char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
                snprintf(why, why_len, "got %.200s want %.200s", g, w);
                free(g);
                free(w);
            }
        }
        json_decref(want);
    } else {
        ok = 1; /* only needs to load (or refuse) without crashing */
    }
    json_decref(docs);
    return ok;
}

static void collect(const char *root, names_t *cases)
{
    DIR *d = opendir(root);
    if (d == NULL)
        return;
    struct dirent *e;
    names_t top = {0};
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            names_add(&top, e->d_name);
    closedir(d);
    if (top.n > 1)
        qsort(top.v, top.n, sizeof(*top.v), cmp_str);
    for (size_t i = 0; i < top.n; i++) {
        char *p = dmp_asprintf("%s/%s", root, top.v[i]);
        if (exists(p, "in.yaml")) {
            names_add(cases, top.v[i]);
        } else {
            DIR *s = opendir(p);
            if (s == NULL) {
                dmp_free(p);
                dmp_free(top.v[i]);
                continue;
            }
            names_t sub = {0};
            while ((e = readdir(s)) != NULL) {
                char *sp = dmp_asprintf("%s/%s", p, e->d_name);
                if (e->d_name[0] != '.' && exists(sp, "in.yaml")) {
                    char *id = dmp_asprintf("%s/%s", top.v[i], e->d_name);
                    names_add(&sub, id);
                    dmp_free(id);
                }
                dmp_free(sp);
            }
            closedir(s);
            if (sub.n > 1)
                qsort(sub.v, sub.n, sizeof(*sub.v), cmp_str);
            for (size_t j = 0; j < sub.n; j++) {
                names_add(cases, sub.v[j]);
                dmp_free(sub.v[j]);
            }
            dmp_free(sub.v);
        }
        dmp_free(p);
        dmp_free(top.v[i]);
    }
    dmp_free(top.v);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s SUITES_DIR LISTS_DIR [-v]\n", argv[0]);
        return 2;
    }
    int verbose = argc > 3 && !strcmp(argv[3], "-v");
    char *root = dmp_asprintf("%s/yaml", argv[1]);
    char *list = dmp_asprintf("%s/yaml_suite.expected-failures", argv[2]);

    names_t xfail = {0};
    char *lb = NULL;
    size_t ll = 0;
    if (dmp_read_file(list, 1 << 20, &lb, &ll, NULL) == DMP_OK) {
        for (char *line = strtok(lb, "\n"); line; line = strtok(NULL, "\n")) {
            if (line[0] == '#' || line[0] == '\0')
                continue;
            line[strcspn(line, " \t")] = '\0';
            names_add(&xfail, line);
        }
        dmp_free(lb);
    }

    names_t cases = {0};
    collect(root, &cases);
    if (cases.n == 0) {
        fprintf(stderr, "no cases under %s\n", root);
        return 1;
    }
    size_t pass = 0, fail = 0, xf = 0, xpass = 0;
    for (size_t i = 0; i < cases.n; i++) {
        char why[600] = "";
        char *dir = dmp_asprintf("%s/%s", root, cases.v[i]);
        int ok = run_case(dir, why, sizeof(why));
        dmp_free(dir);
        int expected_fail = names_has(&xfail, cases.v[i]);
        if (ok && !expected_fail) {
            pass++;
        } else if (ok && expected_fail) {
            xpass++;
            printf("XPASS %s (listed as an expected failure; remove it)\n", cases.v[i]);
        } else if (expected_fail) {
            xf++;
            if (verbose)
                printf("xfail %s: %s\n", cases.v[i], why);
        } else {
            fail++;
            printf("FAIL %s: %s\n", cases.v[i], why);
        }
    }
    printf("yaml suite: %zu cases, %zu passed, %zu failed, %zu expected failures, "
           "%zu unexpectedly passed\n",
           cases.n, pass, fail, xf, xpass);
    for (size_t i = 0; i < cases.n; i++)
        dmp_free(cases.v[i]);
    dmp_free(cases.v);
    for (size_t i = 0; i < xfail.n; i++)
        dmp_free(xfail.v[i]);
    dmp_free(xfail.v);
    dmp_free(root);
    dmp_free(list);
    return fail == 0 ? 0 : 1;
}
