/* json_parsing.c -- runs JSONTestSuite (<suites>/json-parsing/test_parsing) against the
 * schema engine's JSON parser: every y_ file must parse, every n_ file must be rejected,
 * i_ files only must not crash. Deliberate deviations are listed, with a reason each, in
 * <expected>/json_parsing.expected-failures ("name  reason" per line).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmp/schema.h"

static int listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t L = nl ? (size_t)(nl - p) : strlen(p);
        if (L > n && !strncmp(p, name, n) && (p[n] == ' ' || p[n] == '\t'))
            return 1;
        p = nl ? nl + 1 : NULL;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s SUITES_DIR EXPECTED_DIR\n", argv[0]);
        return 64;
    }
    char dir[1024], lpath[1024];
    snprintf(dir, sizeof dir, "%s/json-parsing/test_parsing", argv[1]);
    snprintf(lpath, sizeof lpath, "%s/json_parsing.expected-failures", argv[2]);
    char *list = NULL;
    size_t llen;
    dmp_read_file(lpath, 1 << 20, &list, &llen, NULL);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", dir);
        return 1;
    }
    int pass = 0, fail = 0, expected = 0, impl_acc = 0, impl_rej = 0;
    dmp_json_doc_t *doc = dmp_json_doc_new();
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strlen(name) < 3 || name[1] != '_')
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        char *buf;
        size_t len;
        if (dmp_read_file(path, 64 << 20, &buf, &len, NULL) != DMP_OK)
            continue;
        dmp_error_t err = {0};
        dmp_json_limits_t lim = {0, 500};
        int rc = dmp_json_parse_into(doc, buf, len, &lim, &err);
        dmp_free(buf);
        if (name[0] == 'i') {
            rc == DMP_OK ? impl_acc++ : impl_rej++;
            pass++;
            continue;
        }
        int ok = name[0] == 'y' ? rc == DMP_OK : rc != DMP_OK;
        if (ok) {
            pass++;
        } else if (listed(list, name)) {
            expected++;
        } else {
            fail++;
            printf("FAIL %s: %s\n", name, rc == DMP_OK ? "accepted" : err.msg);
        }
    }
    closedir(d);
    dmp_json_doc_free(doc);
    dmp_free(list);
    printf("json-parsing: %d passed, %d failed, %d expected failures (i_: %d accepted, %d "
           "rejected)\n",
           pass, fail, expected, impl_acc, impl_rej);
    printf("%d passed, %d failed\n", pass, fail);
    if (pass == 0) {
        fprintf(stderr, "no test ran: is %s there?\n", dir);
        return 1;
    }
    return fail ? 1 : 0;
}
