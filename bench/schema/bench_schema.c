/* bench_schema.c -- validations per second of the dmp schema engine, parsing from bytes.
 *
 * usage: bench_schema SCHEMA NDJSON [SECONDS] [LABELS]
 * Validates every line of NDJSON (one document per line) in a loop for about SECONDS
 * (default 3) on one thread, one reused context, fail-fast mode, and prints
 * "docs/s valid invalid". With LABELS (from gen_instances.py --labels) it also checks that
 * each verdict matches the label (format-only mutations count as valid: format is an
 * annotation by default). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmp/schema.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s SCHEMA NDJSON [SECONDS] [LABELS]\n", argv[0]);
        return 64;
    }
    double secs = argc > 3 ? atof(argv[3]) : 3.0;
    char *sj, *data;
    size_t sl, dl;
    dmp_error_t err = {0};
    if (dmp_read_file(argv[1], 1 << 24, &sj, &sl, &err) != DMP_OK ||
        dmp_read_file(argv[2], (size_t)1 << 31, &data, &dl, &err) != DMP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    dmp_schema_t *s;
    if (dmp_schema_compile(sj, sl, NULL, &s, &err) != DMP_OK) {
        fprintf(stderr, "schema: %s at %s\n", err.msg, err.where);
        return 1;
    }
    size_t n = 0, cap = 1024;
    const char **lines = malloc(cap * sizeof *lines);
    size_t *lens = malloc(cap * sizeof *lens);
    for (char *p = data; p < data + dl;) {
        char *nl = memchr(p, '\n', (size_t)(data + dl - p));
        size_t L = nl ? (size_t)(nl - p) : (size_t)(data + dl - p);
        if (L) {
            if (n == cap) {
                cap *= 2;
                lines = realloc(lines, cap * sizeof *lines);
                lens = realloc(lens, cap * sizeof *lens);
            }
            lines[n] = p;
            lens[n++] = L;
        }
        p += L + 1;
    }
    dmp_schema_ctx_t *ctx = dmp_schema_ctx_new();
    size_t valid = 0, invalid = 0, mismatches = 0;
    if (argc > 4) {
        char *lab;
        size_t ll;
        if (dmp_read_file(argv[4], (size_t)1 << 30, &lab, &ll, &err) == DMP_OK) {
            char *p = lab;
            for (size_t i = 0; i < n && p < lab + ll; i++) {
                int want = p[0] == '1' || !strncmp(p, "0 format:", 9);
                int got = dmp_schema_validate(s, ctx, lines[i], lens[i], 0, NULL) == DMP_OK;
                if (want != got)
                    mismatches++;
                char *nl = strchr(p, '\n');
                p = nl ? nl + 1 : lab + ll;
            }
            dmp_free(lab);
        }
    }
    size_t done = 0;
    int64_t t0 = dmp_mono_ns(), t1;
    do {
        for (size_t i = 0; i < n; i++) {
            if (dmp_schema_validate(s, ctx, lines[i], lens[i], 0, NULL) == DMP_OK)
                valid++;
            else
                invalid++;
        }
        done += n;
        t1 = dmp_mono_ns();
    } while ((double)(t1 - t0) / 1e9 < secs);
    double rate = (double)done / ((double)(t1 - t0) / 1e9);
    printf("%.0f %zu %zu %zu\n", rate, valid * n / done, invalid * n / done, mismatches);
    dmp_schema_ctx_free(ctx);
    dmp_schema_free(s);
    free(lines);
    free(lens);
    dmp_free(sj);
    dmp_free(data);
    return mismatches ? 1 : 0;
}
