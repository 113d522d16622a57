/* cesql_tck.c -- runs the CloudEvents CESQL TCK (the YAML files of cesql-tck) against
 * dmp's CESQL engine and prints pass counts.
 *
 * usage: conf_cesql_tck SUITES_DIR EXPECTED_DIR
 * Each case: parse 'expression'; an 'error: parse' case must fail to parse. Otherwise
 * evaluate it against 'event' (or a default valid event with 'eventOverrides' applied);
 * the 'result' must equal the value (type and value), and the error kind named by 'error'
 * must be among the raised errors (no error may be raised when none is expected).
 * Cases listed in EXPECTED_DIR/cesql_tck.expected-failures ("file.yaml: case name | reason")
 * are expected to fail; an expected failure that passes is reported too. Exit status 0
 * when every unlisted case passes.
 */
#include "dmp/cesql.h"
#include "dmp/events.h"

#include <dirent.h>
#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct xfail {
    char key[256];
    int seen;
} xfail_t;

static xfail_t xfails[256];
static int n_xfails;

static void load_xfails(const char *dir)
{
    char path[1024], line[1024];
    snprintf(path, sizeof(path), "%s/cesql_tck.expected-failures", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) && n_xfails < 256) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *bar = strchr(line, '|');
        if (bar == NULL) {
            fprintf(stderr, "expected-failures: line without '| reason': %s", line);
            continue;
        }
        while (bar > line && bar[-1] == ' ')
            bar--;
        *bar = '\0';
        snprintf(xfails[n_xfails++].key, sizeof(xfails[0].key), "%.255s", line);
    }
    fclose(f);
}

static xfail_t *find_xfail(const char *key)
{
    for (int i = 0; i < n_xfails; i++)
        if (strcmp(xfails[i].key, key) == 0)
            return &xfails[i];
    return NULL;
}

static const char *scalar(struct fy_node *n, size_t *len)
{
    if (n == NULL || !fy_node_is_scalar(n))
        return NULL;
    return fy_node_get_scalar(n, len);
}

static int is_plain(struct fy_node *n)
{
    return fy_node_get_style(n) == FYNS_PLAIN;
}

static int plain_int(const char *s, size_t len, long long *v)
{
    char buf[32], *end;
    if (len == 0 || len >= sizeof(buf))
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    *v = strtoll(buf, &end, 10);
    return *end == '\0';
}

/* Applies one YAML key/value to the event, typing plain scalars like the TCK does. */
static int apply_attr(dmp_cloudevent_t *ev, const char *key, struct fy_node *val)
{
    size_t len;
    const char *s = scalar(val, &len);
    char *v;
    long long iv;
    dmp_error_t err = {0};
    int rc;

    if (s == NULL)
        return -1;
    v = strndup(s, len);
    if (strcmp(key, "specversion") == 0 || strcmp(key, "id") == 0 ||
        strcmp(key, "source") == 0 || strcmp(key, "type") == 0 ||
        strcmp(key, "datacontenttype") == 0 || strcmp(key, "dataschema") == 0 ||
        strcmp(key, "subject") == 0 || strcmp(key, "time") == 0)
        rc = dmp_cloudevent_set(ev, key, v, &err);
    else if (is_plain(val) && (strcasecmp(v, "true") == 0 || strcasecmp(v, "false") == 0))
        rc = dmp_cloudevent_set_ext(ev, key, DMP_CE_BOOLEAN,
                                    strcasecmp(v, "true") == 0 ? "true" : "false", &err);
    else if (is_plain(val) && plain_int(v, len, &iv))
        rc = dmp_cloudevent_set_ext(ev, key, DMP_CE_INTEGER, v, &err);
    else
        rc = dmp_cloudevent_set_ext(ev, key, DMP_CE_STRING, v, &err);
    if (rc != DMP_OK)
        fprintf(stderr, "  cannot set attribute %s=%s: %s\n", key, v, err.msg);
    free(v);
    return rc == DMP_OK ? 0 : -1;
}

static int apply_map(dmp_cloudevent_t *ev, struct fy_node *map)
{
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it)) != NULL) {
        size_t kl;
        const char *k = scalar(fy_node_pair_key(p), &kl);
        char key[64];
        if (k == NULL || kl >= sizeof(key))
            return -1;
        memcpy(key, k, kl);
        key[kl] = '\0';
        if (apply_attr(ev, key, fy_node_pair_value(p)) != 0)
            return -1;
    }
    return 0;
}

static const char *vtype(dmp_cesql_type_t t)
{
    return t == DMP_CESQL_INT ? "int" : t == DMP_CESQL_STRING ? "string" : "bool";
}

/* Runs one case; returns 1 on pass and fills 'why' on failure. */
static int run_case(struct fy_node *tc, char *why, size_t cap)
{
    size_t len, el = 0;
    const char *expr = scalar(fy_node_mapping_lookup_by_string(tc, "expression", -1), &len);
    struct fy_node *resn = fy_node_mapping_lookup_by_string(tc, "result", -1);
    const char *err_kind = scalar(fy_node_mapping_lookup_by_string(tc, "error", -1), &el);
    struct fy_node *evn = fy_node_mapping_lookup_by_string(tc, "event", -1);
    struct fy_node *ovr = fy_node_mapping_lookup_by_string(tc, "eventOverrides", -1);
    dmp_error_t err = {0};
    dmp_cesql_t *q = NULL;
    dmp_cloudevent_t *ev = NULL;
    dmp_cesql_result_t res;
    char ek[64] = "";
    int pass = 0;

    if (expr == NULL) {
        snprintf(why, cap, "case has no expression");
        return 0;
    }
    if (err_kind)
        snprintf(ek, sizeof(ek), "%.*s", (int)el, err_kind);
    int prc = dmp_cesql_parse(expr, len, NULL, &q, &err);
    if (strcmp(ek, "parse") == 0) {
        if (prc == DMP_OK) {
            snprintf(why, cap, "expected a parse error, but it parsed");
            dmp_cesql_free(q);
            return 0;
        }
        return 1;
    }
    if (prc != DMP_OK) {
        snprintf(why, cap, "unexpected parse error: %.400s", err.msg);
        return 0;
    }
    ev = dmp_cloudevent_new();
    if (evn == NULL) {
        dmp_cloudevent_set(ev, "id", "myId", NULL);
        dmp_cloudevent_set(ev, "source", "localhost.localdomain", NULL);
        dmp_cloudevent_set(ev, "type", "myType", NULL);
    } else if (apply_map(ev, evn) != 0) {
        snprintf(why, cap, "cannot build the event");
        goto out;
    }
    if (ovr && apply_map(ev, ovr) != 0) {
        snprintf(why, cap, "cannot apply eventOverrides");
        goto out;
    }
    dmp_cesql_eval(q, ev, &res);
    if (resn) {
        size_t rl;
        const char *rs = scalar(resn, &rl);
        long long iv;
        char rbuf[256];
        snprintf(rbuf, sizeof(rbuf), "%.*s", (int)rl, rs ? rs : "");
        int ok;
        if (is_plain(resn) && (strcasecmp(rbuf, "true") == 0 || strcasecmp(rbuf, "false") == 0))
            ok = res.value.type == DMP_CESQL_BOOL &&
                 res.value.b == (strcasecmp(rbuf, "true") == 0);
        else if (is_plain(resn) && plain_int(rbuf, rl, &iv))
            ok = res.value.type == DMP_CESQL_INT && res.value.i == iv;
        else
            ok = res.value.type == DMP_CESQL_STRING && strcmp(res.value.s, rbuf) == 0;
        if (!ok) {
            char got[128];
            if (res.value.type == DMP_CESQL_STRING)
                snprintf(got, sizeof(got), "string '%.100s'", res.value.s);
            else if (res.value.type == DMP_CESQL_INT)
                snprintf(got, sizeof(got), "int %d", (int)res.value.i);
            else
                snprintf(got, sizeof(got), "bool %s", res.value.b ? "true" : "false");
            snprintf(why, cap, "expected result %s, got %s (%s)", rbuf, got,
                     vtype(res.value.type));
            dmp_cesql_result_fini(&res);
            goto out;
        }
    }
    if (ek[0]) {
        int found = 0;
        for (size_t i = 0; i < res.n_errors && i < DMP_CESQL_MAX_ERRORS; i++)
            if (strcmp(dmp_cesql_errkind_name(res.errors[i].kind), ek) == 0)
                found = 1;
        if (!found) {
            snprintf(why, cap, "expected a %s error, got %zu error(s)%s%s", ek, res.n_errors,
                     res.n_errors ? ", first: " : "", res.n_errors ? res.errors[0].msg : "");
            dmp_cesql_result_fini(&res);
            goto out;
        }
    } else if (res.n_errors) {
        snprintf(why, cap, "unexpected %s error: %s",
                 dmp_cesql_errkind_name(res.errors[0].kind), res.errors[0].msg);
        dmp_cesql_result_fini(&res);
        goto out;
    }
    dmp_cesql_result_fini(&res);
    pass = 1;
out:
    dmp_cloudevent_free(ev);
    dmp_cesql_free(q);
    return pass;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    char dir[1024];
    int total = 0, passed = 0, xfailed = 0, unexpected_fail = 0, unexpected_pass = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: %s SUITES_DIR EXPECTED_DIR\n", argv[0]);
        return 2;
    }
    snprintf(dir, sizeof(dir), "%s/cesql-tck/cesql/cesql_tck", argv[1]);
    load_xfails(argv[2]);
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "cannot open %s\n", dir);
        return 2;
    }
    char *files[128];
    int nf = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && nf < 128) {
        size_t l = strlen(de->d_name);
        if (l > 5 && strcmp(de->d_name + l - 5, ".yaml") == 0)
            files[nf++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(files, (size_t)nf, sizeof(files[0]), name_cmp);

    for (int fi = 0; fi < nf; fi++) {
        char path[2048];
        int fpass = 0, ftotal = 0;
        snprintf(path, sizeof(path), "%s/%s", dir, files[fi]);
        struct fy_document *doc = fy_document_build_from_file(NULL, path);
        if (doc == NULL) {
            fprintf(stderr, "FAIL %s: cannot parse the YAML\n", files[fi]);
            unexpected_fail++;
            continue;
        }
        struct fy_node *tests = fy_node_mapping_lookup_by_string(fy_document_root(doc), "tests", -1);
        void *it = NULL;
        struct fy_node *tc;
        while (tests && (tc = fy_node_sequence_iterate(tests, &it)) != NULL) {
            size_t nl;
            const char *nm = scalar(fy_node_mapping_lookup_by_string(tc, "name", -1), &nl);
            char key[256], why[512] = "";
            snprintf(key, sizeof(key), "%s: %.*s", files[fi], (int)nl, nm ? nm : "?");
            int ok = run_case(tc, why, sizeof(why));
            xfail_t *xf = find_xfail(key);
            total++;
            ftotal++;
            if (ok) {
                passed++;
                fpass++;
                if (xf) {
                    xf->seen = 1;
                    unexpected_pass++;
                    printf("XPASS %s (listed as an expected failure)\n", key);
                }
            } else if (xf) {
                xf->seen = 1;
                xfailed++;
                printf("XFAIL %s: %s\n", key, why);
            } else {
                unexpected_fail++;
                printf("FAIL  %s: %s\n", key, why);
            }
        }
        printf("%-40s %3d/%3d passed\n", files[fi], fpass, ftotal);
        fy_document_destroy(doc);
        free(files[fi]);
    }
    for (int i = 0; i < n_xfails; i++)
        if (!xfails[i].seen)
            printf("NOTE  expected failure '%s' matches no case\n", xfails[i].key);
    printf("CESQL TCK: %d/%d passed, %d expected failures, %d unexpected failures, "
           "%d unexpected passes\n",
           passed, total, xfailed, unexpected_fail, unexpected_pass);
    return unexpected_fail == 0 && unexpected_pass == 0 ? 0 : 1;
}
