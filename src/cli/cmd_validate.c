/* cmd_validate.c -- `dmp validate FILE...`: checks descriptors offline.
 *
 * Exit codes (docs/cli.md): 0 every file is valid, 1 some file is invalid, 64 usage,
 * 65 some file cannot be read (that wins over 1). Human output: one
 * `file:line:col: path: message` line per finding on stderr and a summary; with
 * -o json|yaml the findings go to stdout as {"files":[{"file","valid","errors"}]}.
 * It never talks to a server.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "dmp/descriptor.h"
#include "dmp/policy.h"
#include "dmp/provision.h"

/* `-` reads one descriptor from stdin; it has no directory, so schema files are refused. */
static int load_stdin(dmp_descriptor_t **d, dmp_diags_t *diags, dmp_error_t *err)
{
    dmp_buf_t b = DMP_BUF_INIT;
    char chunk[65536];
    size_t n;
    const size_t max = (size_t)4 << 20;
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
        if (b.len + n > max) {
            dmp_buf_free(&b);
            dmp_diags_add(diags, DMP_SEV_ERROR, DMP_LIMIT, "limit", "<stdin>", (dmp_loc_t){0, 0},
                          "", "", "input is larger than the limit of %zu bytes", max);
            return DMP_ERR(err, DMP_LIMIT, "input is larger than the limit of %zu bytes", max);
        }
        dmp_buf_append(&b, chunk, n);
    }
    if (ferror(stdin)) {
        dmp_buf_free(&b);
        dmp_diags_add(diags, DMP_SEV_ERROR, DMP_IO, "io", "<stdin>", (dmp_loc_t){0, 0}, "", "",
                      "cannot read standard input");
        return DMP_ERR(err, DMP_IO, "cannot read standard input");
    }
    dmp_descriptor_opts_t o = {0};
    o.source = "<stdin>";
    int rc = dmp_descriptor_parse(b.data ? b.data : "", b.len, &o, d, diags, err);
    dmp_buf_free(&b);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: dmp validate [-o json|yaml] [--policies FILE] FILE...\n\n"
               "Checks data product descriptors (YAML or JSON) offline: syntax, required\n"
               "fields, types, names, references, then the governance policies: the\n"
               "default set that ships with dmp, plus a global policy file if given.\n"
               "Policy errors make a file invalid; warnings are shown. Schema files named\n"
               "by a descriptor are read relative to its directory. FILE '-' reads\n"
               "standard input. The rules are in docs/descriptor.md and docs/policies.md.\n\n"
               "options:\n"
               "  -o, --output FMT     print the findings as json or yaml on stdout\n"
               "  -p, --policies FILE  a global policy file on top of the default set\n"
               "      --no-policies    check the descriptor rules only\n"
               "  -q, --quiet          print nothing for valid files\n"
               "  -h, --help           show this help\n\n"
               "exit: 0 all valid, 1 some invalid, 64 usage, 65 a file (or the policy\n"
               "file) cannot be read or used\n");
}

int dmp_cmd_validate(int argc, char **argv)
{
    int fmt = DMP_OUT_TEXT, quiet = 0, use_policies = 1;
    const char *policy_file = NULL;
    /* Options may come before or after the files (as in plan and apply). Files are
     * collected in order into argv itself: slot 1 + n_paths was already read. */
    char **paths = argv + 1;
    int n_paths = 0, only_files = 0;
    int first = 1;
    for (; first < argc; first++) {
        const char *a = argv[first];
        if (only_files || a[0] != '-' || a[1] == '\0') {
            paths[n_paths++] = argv[first];
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return DMP_EXIT_OK;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output") || !strncmp(a, "--output=", 9) ||
                   (!strncmp(a, "-o", 2) && a[2])) {
            const char *v = NULL;
            if (!strncmp(a, "--output=", 9))
                v = a + 9;
            else if (a[1] == 'o' && a[2])
                v = a + 2;
            else if (first + 1 < argc)
                v = argv[++first];
            if (v == NULL)
                return dmp_cli_fail(DMP_EXIT_USAGE, "validate", "%s needs a value (json or yaml)",
                                    a);
            fmt = dmp_cli_parse_output(v);
            if (fmt != DMP_OUT_JSON && fmt != DMP_OUT_YAML && fmt != DMP_OUT_TEXT)
                return dmp_cli_fail(DMP_EXIT_USAGE, "validate",
                                    "unknown output format '%s' (use json or yaml)", v);
        } else if (!strcmp(a, "--no-policies")) {
            use_policies = 0;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--policies") ||
                   !strncmp(a, "--policies=", 11)) {
            policy_file = !strncmp(a, "--policies=", 11) ? a + 11
                          : first + 1 < argc             ? argv[++first]
                                                         : NULL;
            if (policy_file == NULL || *policy_file == '\0')
                return dmp_cli_fail(DMP_EXIT_USAGE, "validate", "%s needs a policy FILE", a);
        } else if (!strcmp(a, "--")) {
            only_files = 1;
        } else {
            usage(stderr);
            return dmp_cli_fail(DMP_EXIT_USAGE, "validate", "unknown option '%s'", a);
        }
    }
    if (n_paths == 0) {
        usage(stderr);
        return dmp_cli_fail(DMP_EXIT_USAGE, "validate", "no file given");
    }

    dmp_policy_set_t *set = NULL;
    if (use_policies) {
        dmp_error_t perr = {0};
        dmp_diags_t pdiags = {0};
        int prc = dmp_policy_set_new(0, &set, &perr);
        if (prc == DMP_OK && policy_file != NULL) {
            dmp_policy_t *pol = NULL;
            prc = dmp_policy_load(policy_file, &pol, &pdiags, &perr);
            if (prc == DMP_OK)
                prc = dmp_policy_set_global(set, pol, &perr);
        }
        for (size_t k = 0; k < pdiags.n; k++) {
            char *line = dmp_diag_format(&pdiags.v[k]);
            fprintf(stderr, "%s\n", line);
            dmp_free(line);
        }
        dmp_diags_free(&pdiags);
        if (prc != DMP_OK) {
            dmp_policy_set_free(set);
            return dmp_cli_fail(DMP_EXIT_DATAERR, "validate", "policies: %s", perr.msg);
        }
    }

    int color = dmp_cli_color(stderr);
    const char *red = color ? "\033[31m" : "", *green = color ? "\033[32m" : "";
    const char *bold = color ? "\033[1m" : "", *reset = color ? "\033[0m" : "";
    json_t *files = json_array();
    size_t n_valid = 0, n_invalid = 0, n_unreadable = 0, n_errors = 0;
    for (int i = 0; i < n_paths; i++) {
        dmp_descriptor_t *d = NULL;
        dmp_diags_t diags = {0};
        dmp_error_t err = {0};
        int rc = !strcmp(paths[i], "-") ? load_stdin(&d, &diags, &err)
                                       : dmp_descriptor_load(paths[i], &d, &diags, &err);
        int unreadable = rc == DMP_IO || rc == DMP_NOTFOUND;
        if (rc == DMP_OK && d->n_resources > 0) {
            /* dependsOn must be acyclic: the same check the server makes before provisioning */
            size_t *order = dmp_calloc(d->n_resources, sizeof(size_t));
            dmp_error_t terr = {0};
            if (dmp_provision_toposort(d, order, &terr) != DMP_OK) {
                dmp_loc_t loc = {0, 0};
                if (sscanf(terr.where, "%*[^:]:%d:%d", &loc.line, &loc.col) != 2)
                    loc = (dmp_loc_t){0, 0};
                dmp_diags_add(&diags, DMP_SEV_ERROR, DMP_INVALID, "depends-on", d->source, loc,
                              terr.path, "", "%s", terr.msg);
                rc = DMP_INVALID;
            }
            dmp_free(order);
        }
        if (rc == DMP_OK && set != NULL)
            rc = dmp_policy_evaluate(set, d, NULL, &diags, &err);
        int valid = rc == DMP_OK;
        if (valid)
            n_valid++;
        else if (unreadable)
            n_unreadable++;
        else
            n_invalid++;
        n_errors += dmp_diags_errors(&diags);
        if (fmt == DMP_OUT_TEXT) {
            for (size_t k = 0; k < diags.n; k++) {
                char *line = dmp_diag_format(&diags.v[k]);
                if (diags.v[k].severity == DMP_SEV_ERROR)
                    fprintf(stderr, "%s%s%s\n", red, line, reset);
                else
                    fprintf(stderr, "%s\n", line);
                dmp_free(line);
            }
            if (valid && !quiet)
                fprintf(stderr, "%s%s: valid%s (%s %s, %zu resource%s)\n", green, paths[i], reset,
                        d->id, d->version, d->n_resources, d->n_resources == 1 ? "" : "s");
        } else {
            json_t *o = json_object();
            json_object_set_new(o, "file", json_string(paths[i]));
            json_object_set_new(o, "valid", json_boolean(valid));
            if (valid) {
                json_object_set_new(o, "id", json_string(d->id));
                json_object_set_new(o, "version", json_string(d->version));
            }
            json_object_set_new(o, "errors", dmp_diags_to_json(&diags));
            json_array_append_new(files, o);
        }
        dmp_diags_free(&diags);
        dmp_descriptor_free(d);
    }
    if (fmt == DMP_OUT_TEXT) {
        size_t total = (size_t)n_paths;
        if (!quiet || n_valid != total)
            fprintf(stderr, "%s%zu file%s checked: %zu valid, %zu invalid%s, %zu error%s%s\n", bold,
                    total, total == 1 ? "" : "s", n_valid, n_invalid + n_unreadable,
                    n_unreadable ? " (some unreadable)" : "", n_errors, n_errors == 1 ? "" : "s",
                    reset);
    } else {
        json_t *root = json_object();
        json_object_set_new(root, "files", files);
        files = NULL;
        if (fmt == DMP_OUT_JSON)
            dmp_cli_print_json(root);
        else
            dmp_cli_print_yaml(root);
        json_decref(root);
    }
    json_decref(files);
    dmp_policy_set_free(set);
    if (n_unreadable)
        return DMP_EXIT_DATAERR;
    return n_invalid ? DMP_EXIT_FAIL : DMP_EXIT_OK;
}
