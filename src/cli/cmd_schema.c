/* cmd_schema.c -- `dmp schema validate|check|diff`: the schema engine from the shell.
 *
 *   dmp schema validate SCHEMA [INSTANCE... | -]   files, or NDJSON on stdin
 *   dmp schema check SCHEMA                        does the schema compile?
 *   dmp schema diff OLD [MIDDLE...] NEW [--mode M] compatibility of NEW with earlier versions
 *
 * Exit codes (cli.h): 0 all valid / compatible, 1 some invalid / breaking, 64 usage,
 * 65 a schema or file that cannot be used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "dmp/schema.h"

#define MAX_FILE_BYTES ((size_t)64 << 20)

typedef struct vopts {
    int quiet, json, all, format_assert;
    dmp_schema_registry_t *reg;
} vopts_t;

static void usage_validate(FILE *f)
{
    fprintf(f, "usage: dmp schema validate SCHEMA [INSTANCE... | -] [options]\n\n"
               "Validates each INSTANCE file (one JSON document each) against SCHEMA, or NDJSON\n"
               "(one document per line) from stdin when INSTANCE is '-' or absent, and prints one\n"
               "result per instance.\n\n"
               "options:\n"
               "  -q, --quiet          print only the counts (valid, invalid) at the end\n"
               "  -o, --output FMT     text (default) or json (one basic-output object per line)\n"
               "  --first-error        stop at the first error of each instance\n"
               "  --format-assert      treat \"format\" as an assertion (default: annotation)\n"
               "  --ref URI=FILE       register another schema under URI (repeatable)\n\n"
               "exit: 0 all valid, 1 some invalid, 64 usage, 65 schema unusable\n");
}

static void usage_check(FILE *f)
{
    fprintf(f, "usage: dmp schema check SCHEMA [--ref URI=FILE]...\n\n"
               "Checks that SCHEMA compiles (JSON Schema 2020-12): keyword values, regular\n"
               "expressions, references; then validates it against the 2020-12 meta-schema.\n"
               "exit: 0 ok, 1 does not compile or does not conform, 64 usage, 65 unreadable\n");
}

static void usage_diff(FILE *f)
{
    fprintf(f, "usage: dmp schema diff OLD [OLDER...] NEW [--mode MODE] [-o json]\n\n"
               "Reports whether NEW is compatible with the earlier version(s) and lists every\n"
               "breaking change with its location. Versions are given oldest first.\n"
               "MODE: backward (default), forward, full, backward_transitive,\n"
               "forward_transitive, full_transitive. Non-transitive modes compare NEW with the\n"
               "version just before it.\n\n"
               "exit: 0 compatible, 1 breaking changes, 64 usage, 65 unreadable schema\n");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: dmp schema <validate|check|diff> ...\n\n"
               "  validate SCHEMA [INSTANCE... | -]  validate instances (files or NDJSON)\n"
               "  check SCHEMA                       check that a schema compiles\n"
               "  diff OLD NEW [--mode MODE]         compatibility between versions\n\n"
               "Run 'dmp schema <subcommand> --help' for options.\n");
}

static int add_ref(dmp_schema_registry_t *reg, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq) {
        dmp_cli_fail(DMP_EXIT_USAGE, "schema", "--ref wants URI=FILE, got '%s'", arg);
        return DMP_EXIT_USAGE;
    }
    char *uri = dmp_strndup(arg, (size_t)(eq - arg));
    char *buf;
    size_t len;
    dmp_error_t err = {0};
    int rc = dmp_read_file(eq + 1, MAX_FILE_BYTES, &buf, &len, &err);
    if (rc == DMP_OK) {
        rc = dmp_schema_registry_add(reg, uri, buf, len, &err);
        dmp_free(buf);
    }
    if (rc != DMP_OK)
        dmp_cli_fail(DMP_EXIT_DATAERR, "schema", "--ref %s: %s", arg, err.msg);
    dmp_free(uri);
    return rc == DMP_OK ? 0 : DMP_EXIT_DATAERR;
}

static int load_schema(const char *path, const vopts_t *o, dmp_schema_t **out, int quiet_ok)
{
    char *buf;
    size_t len;
    dmp_error_t err = {0};
    if (dmp_read_file(path, MAX_FILE_BYTES, &buf, &len, &err) != DMP_OK)
        return dmp_cli_fail(DMP_EXIT_DATAERR, "schema", "cannot read %s: %s", path, err.msg);
    dmp_schema_opts_t so = {0};
    so.format_assert = (unsigned)o->format_assert;
    so.registry = o->reg;
    int rc = dmp_schema_compile(buf, len, &so, out, &err);
    dmp_free(buf);
    if (rc != DMP_OK) {
        fprintf(stderr, "dmp schema: %s: %s%s%s\n", path, err.msg, err.where[0] ? " at " : "",
                err.where);
        return -1;
    }
    return 0;
}

static void print_result(const vopts_t *o, dmp_schema_ctx_t *ctx, const char *name, int rc,
                         const dmp_error_t *err)
{
    if (o->quiet)
        return;
    if (o->json) {
        dmp_buf_t b = DMP_BUF_INIT;
        dmp_buf_puts(&b, "{\"instance\":");
        dmp_buf_json_str(&b, name, strlen(name));
        if (rc == DMP_OK || rc == DMP_SCHEMA || dmp_schema_ctx_error_count(ctx)) {
            dmp_buf_t basic = DMP_BUF_INIT;
            dmp_schema_ctx_basic_output(ctx, &basic);
            dmp_buf_putc(&b, ',');
            dmp_buf_puts(&b, basic.data + 1); /* merge: drop basic's '{' */
            dmp_buf_free(&basic);
        } else {
            dmp_buf_puts(&b, ",\"valid\":false,\"errors\":[{\"instanceLocation\":\"\","
                             "\"keywordLocation\":\"\",\"error\":");
            char msg[1024];
            snprintf(msg, sizeof msg, "%s%s%s", err->msg, err->where[0] ? " at " : "", err->where);
            dmp_buf_json_str(&b, msg, strlen(msg));
            dmp_buf_puts(&b, "}]}");
        }
        puts(b.data);
        dmp_buf_free(&b);
        return;
    }
    if (rc == DMP_OK) {
        printf("%s: valid\n", name);
        return;
    }
    size_t n = dmp_schema_ctx_error_count(ctx);
    if (n == 0) {
        printf("%s: invalid: %s%s%s\n", name, err->msg, err->where[0] ? " at " : "", err->where);
        return;
    }
    printf("%s: invalid\n", name);
    for (size_t i = 0; i < n; i++) {
        const dmp_schema_error_t *e = dmp_schema_ctx_error(ctx, i);
        printf("  %s  [%s]\n", e->message, e->keyword_location);
    }
}

static int cmd_validate(int argc, char **argv)
{
    vopts_t o = {0};
    o.all = 1;
    o.reg = dmp_schema_registry_new();
    const char *schema = NULL;
    const char **inst = dmp_calloc((size_t)argc + 1, sizeof(char *));
    size_t n_inst = 0;
    int rc = DMP_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage_validate(stdout);
            goto out;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o.quiet = 1;
        } else if (!strcmp(a, "--first-error")) {
            o.all = 0;
        } else if (!strcmp(a, "--format-assert")) {
            o.format_assert = 1;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (i + 1 >= argc) {
                rc = dmp_cli_fail(DMP_EXIT_USAGE, "schema validate", "%s needs a value", a);
                goto out;
            }
            int f = dmp_cli_parse_output(argv[++i]);
            if (f != DMP_OUT_JSON && f != DMP_OUT_TEXT) {
                rc = dmp_cli_fail(DMP_EXIT_USAGE, "schema validate",
                                  "unknown output format '%s' (text or json)", argv[i]);
                goto out;
            }
            o.json = f == DMP_OUT_JSON;
        } else if (!strcmp(a, "--ref")) {
            if (i + 1 >= argc) {
                rc = dmp_cli_fail(DMP_EXIT_USAGE, "schema validate", "--ref needs URI=FILE");
                goto out;
            }
            if ((rc = add_ref(o.reg, argv[++i])) != 0)
                goto out;
        } else if (a[0] == '-' && a[1] != '\0') {
            rc = dmp_cli_fail(DMP_EXIT_USAGE, "schema validate", "unknown option '%s'", a);
            goto out;
        } else if (!schema) {
            schema = a;
        } else {
            inst[n_inst++] = a;
        }
    }
    if (!schema) {
        usage_validate(stderr);
        rc = DMP_EXIT_USAGE;
        goto out;
    }
    dmp_schema_t *s = NULL;
    if ((rc = load_schema(schema, &o, &s, 0)) != 0) {
        rc = rc < 0 ? DMP_EXIT_DATAERR : rc;
        goto out;
    }
    if (n_inst == 0)
        inst[n_inst++] = "-";
    dmp_schema_ctx_t *ctx = dmp_schema_ctx_new();
    int flags = o.all ? DMP_SCHEMA_ALL_ERRORS : DMP_SCHEMA_FAIL_FAST;
    size_t valid = 0, invalid = 0;
    for (size_t i = 0; i < n_inst; i++) {
        dmp_error_t err = {0};
        if (!strcmp(inst[i], "-")) {
            char *line = NULL;
            size_t cap = 0, lineno = 0;
            ssize_t len;
            while ((len = getline(&line, &cap, stdin)) >= 0) {
                lineno++;
                while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                    len--;
                if (len == 0)
                    continue;
                char name[64];
                snprintf(name, sizeof name, "-:%zu", lineno);
                dmp_error_clear(&err);
                int r = dmp_schema_validate(s, ctx, line, (size_t)len, flags, &err);
                r == DMP_OK ? valid++ : invalid++;
                print_result(&o, ctx, name, r, &err);
            }
            free(line);
            continue;
        }
        char *buf;
        size_t len;
        int r = dmp_read_file(inst[i], MAX_FILE_BYTES, &buf, &len, &err);
        if (r == DMP_OK) {
            r = dmp_schema_validate(s, ctx, buf, len, flags, &err);
            dmp_free(buf);
        }
        r == DMP_OK ? valid++ : invalid++;
        print_result(&o, ctx, inst[i], r, &err);
    }
    if (o.json && o.quiet)
        printf("{\"valid\":%zu,\"invalid\":%zu}\n", valid, invalid);
    else if (!o.json)
        printf("%zu valid, %zu invalid\n", valid, invalid);
    dmp_schema_ctx_free(ctx);
    dmp_schema_free(s);
    rc = invalid ? DMP_EXIT_FAIL : DMP_EXIT_OK;
out:
    dmp_free(inst);
    dmp_schema_registry_free(o.reg);
    return rc;
}

/* Validates the schema document against the 2020-12 meta-schema (built into the engine). */
static int check_meta(const char *path)
{
    static const char meta[] = "{\"$ref\":\"https://json-schema.org/draft/2020-12/schema\"}";
    dmp_schema_t *m = NULL;
    char *buf;
    size_t len;
    int rc = DMP_EXIT_OK;
    if (dmp_schema_compile(meta, sizeof meta - 1, NULL, &m, NULL) != DMP_OK ||
        dmp_read_file(path, MAX_FILE_BYTES, &buf, &len, NULL) != DMP_OK) {
        dmp_schema_free(m);
        return DMP_EXIT_DATAERR;
    }
    dmp_schema_ctx_t *ctx = dmp_schema_ctx_new();
    dmp_error_t err = {0};
    if (dmp_schema_validate(m, ctx, buf, len, DMP_SCHEMA_ALL_ERRORS, &err) != DMP_OK) {
        fprintf(stderr, "dmp schema: %s does not conform to the 2020-12 meta-schema:\n", path);
        for (size_t i = 0; i < dmp_schema_ctx_error_count(ctx); i++)
            fprintf(stderr, "  %s\n", dmp_schema_ctx_error(ctx, i)->message);
        rc = DMP_EXIT_FAIL;
    }
    dmp_schema_ctx_free(ctx);
    dmp_schema_free(m);
    dmp_free(buf);
    return rc;
}

static int cmd_check(int argc, char **argv)
{
    vopts_t o = {0};
    o.reg = dmp_schema_registry_new();
    const char *schema = NULL;
    int rc = DMP_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage_check(stdout);
            goto out;
        } else if (!strcmp(argv[i], "--ref") && i + 1 < argc) {
            if ((rc = add_ref(o.reg, argv[++i])) != 0)
                goto out;
        } else if (argv[i][0] == '-' || schema) {
            usage_check(stderr);
            rc = DMP_EXIT_USAGE;
            goto out;
        } else {
            schema = argv[i];
        }
    }
    if (!schema) {
        usage_check(stderr);
        rc = DMP_EXIT_USAGE;
        goto out;
    }
    dmp_schema_t *s = NULL;
    rc = load_schema(schema, &o, &s, 0);
    if (rc != 0) {
        rc = rc < 0 ? DMP_EXIT_FAIL : rc;
        goto out;
    }
    dmp_schema_free(s);
    rc = check_meta(schema);
    if (rc == 0)
        printf("%s: ok\n", schema);
out:
    dmp_schema_registry_free(o.reg);
    return rc;
}

static int cmd_diff(int argc, char **argv)
{
    int mode = DMP_COMPAT_BACKWARD, json = 0, rc = DMP_EXIT_OK;
    const char **files = dmp_calloc((size_t)argc + 1, sizeof(char *));
    size_t n = 0;
    char **bufs = NULL;
    size_t *lens = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage_diff(stdout);
            goto out;
        } else if (!strcmp(a, "--mode") || !strncmp(a, "--mode=", 7)) {
            const char *v = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || (mode = dmp_compat_mode_parse(v)) < 0) {
                rc = dmp_cli_fail(DMP_EXIT_USAGE, "schema diff",
                                  "unknown mode '%s' (backward, forward, full, or their "
                                  "_transitive forms)",
                                  v ? v : "");
                goto out;
            }
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            int f = i + 1 < argc ? dmp_cli_parse_output(argv[++i]) : -1;
            if (f != DMP_OUT_JSON && f != DMP_OUT_TEXT) {
                rc = dmp_cli_fail(DMP_EXIT_USAGE, "schema diff", "-o wants text or json");
                goto out;
            }
            json = f == DMP_OUT_JSON;
        } else if (a[0] == '-') {
            rc = dmp_cli_fail(DMP_EXIT_USAGE, "schema diff", "unknown option '%s'", a);
            goto out;
        } else {
            files[n++] = a;
        }
    }
    if (n < 2) {
        usage_diff(stderr);
        rc = DMP_EXIT_USAGE;
        goto out;
    }
    bufs = dmp_calloc(n, sizeof(char *));
    lens = dmp_calloc(n, sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        dmp_error_t err = {0};
        if (dmp_read_file(files[i], MAX_FILE_BYTES, &bufs[i], &lens[i], &err) != DMP_OK) {
            rc = dmp_cli_fail(DMP_EXIT_DATAERR, "schema diff", "cannot read %s: %s", files[i],
                              err.msg);
            goto out;
        }
    }
    dmp_compat_report_t rep = {0};
    dmp_error_t err = {0};
    if (dmp_schema_compat_versions((const char *const *)bufs, lens, n, (dmp_compat_mode_t)mode,
                                   &rep, &err) != DMP_OK) {
        rc = dmp_cli_fail(DMP_EXIT_DATAERR, "schema diff", "%s (%s)", err.msg, err.where);
        goto out;
    }
    if (json) {
        dmp_buf_t b = DMP_BUF_INIT;
        dmp_buf_printf(&b, "{\"mode\":\"%s\",\"compatible\":%s,\"changes\":[",
                       dmp_compat_mode_name((dmp_compat_mode_t)mode),
                       rep.compatible ? "true" : "false");
        for (size_t i = 0; i < rep.n_changes; i++) {
            const dmp_compat_change_t *c = &rep.changes[i];
            dmp_buf_puts(&b, i ? ",{\"location\":" : "{\"location\":");
            dmp_buf_json_str(&b, c->location, strlen(c->location));
            dmp_buf_puts(&b, ",\"kind\":");
            dmp_buf_json_str(&b, c->kind, strlen(c->kind));
            dmp_buf_printf(&b, ",\"breaks\":\"%s\",\"against\":",
                           c->direction == DMP_COMPAT_BACKWARD ? "backward" : "forward");
            dmp_buf_json_str(&b, files[c->version], strlen(files[c->version]));
            dmp_buf_puts(&b, ",\"message\":");
            dmp_buf_json_str(&b, c->message, strlen(c->message));
            dmp_buf_putc(&b, '}');
        }
        dmp_buf_puts(&b, "]}");
        puts(b.data);
        dmp_buf_free(&b);
    } else {
        printf("%s is %s with %s (%s)\n", files[n - 1],
               rep.compatible ? "compatible" : "NOT compatible",
               n > 2 ? "the earlier versions" : files[0],
               dmp_compat_mode_name((dmp_compat_mode_t)mode));
        for (size_t i = 0; i < rep.n_changes; i++) {
            const dmp_compat_change_t *c = &rep.changes[i];
            printf("  %s: %s [%s]%s%s\n", c->location, c->message, c->kind, n > 2 ? " vs " : "",
                   n > 2 ? files[c->version] : "");
        }
    }
    rc = rep.compatible ? DMP_EXIT_OK : DMP_EXIT_FAIL;
    dmp_compat_report_fini(&rep);
out:
    for (size_t i = 0; bufs && i < n; i++)
        dmp_free(bufs[i]);
    dmp_free(bufs);
    dmp_free(lens);
    dmp_free(files);
    return rc;
}

int dmp_cmd_schema(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return DMP_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        usage(stdout);
        return DMP_EXIT_OK;
    }
    if (!strcmp(sub, "validate"))
        return cmd_validate(argc - 1, argv + 1);
    if (!strcmp(sub, "check"))
        return cmd_check(argc - 1, argv + 1);
    if (!strcmp(sub, "diff"))
        return cmd_diff(argc - 1, argv + 1);
    fprintf(stderr, "dmp schema: unknown subcommand '%s' (validate, check, diff)\n", sub);
    return DMP_EXIT_USAGE;
}
