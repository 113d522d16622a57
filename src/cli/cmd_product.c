/* cmd_product.c -- the client subcommands over the provisioning API:
 * plan, apply, delete, status, list, get. Human output on stdout, messages and
 * progress on stderr, one exit-code table (cli.h). */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/client.h"
#include "dmp/descriptor.h"
#include "dmp/store.h"

#define COMMON_OPTS                                                                        \
    "  -o, --output FMT     text (default), json, yaml or wide\n"                           \
    "  -s, --server URL     server to talk to [$DMP_SERVER or http://127.0.0.1:8181]\n"     \
    "      --token TOKEN    bearer token [$DMP_TOKEN]; never printed\n"                 \
    "      --cacert FILE    CA certificates (PEM) for an https server [$DMP_CACERT]\n"   \
    "  -h, --help           this help\n"

static const char *json_str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static const char *color(int on, const char *code)
{
    return on ? code : "";
}

/* Loads and validates a descriptor file locally, printing findings. Returns NULL
 * and sets *code on failure. */
static dmp_descriptor_t *load_local(const char *cmd, const char *path, int *code)
{
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    dmp_error_t err = {0};
    int rc = dmp_descriptor_load(path, &d, &diags, &err);
    for (size_t i = 0; i < diags.n; i++) {
        char *s = dmp_diag_format(&diags.v[i]);
        fprintf(stderr, "%s\n", s);
        dmp_free(s);
    }
    dmp_diags_free(&diags);
    if (rc != DMP_OK) {
        if (rc == DMP_NOTFOUND || rc == DMP_IO)
            *code = dmp_cli_fail(DMP_EXIT_DATAERR, cmd, "%s", err.msg);
        else
            *code = dmp_cli_fail(DMP_EXIT_FAIL, cmd, "%s is not a valid descriptor", path);
        return NULL;
    }
    return d;
}

/* Prints server findings (policy errors and warnings) against the local file: the
 * server saw the JSON we sent, so positions are recomputed from each finding's JSON
 * pointer in the locally parsed descriptor. */
static void print_findings(const dmp_descriptor_t *d, json_t *findings)
{
    size_t i;
    json_t *f;
    json_array_foreach(findings, i, f)
    {
        const char *ptr = json_str(f, "pointer");
        dmp_loc_t loc = dmp_descriptor_loc(d, ptr);
        const char *path = json_str(f, "path");
        if (loc.line > 0)
            fprintf(stderr, "%s:%d:%d: ", d->source, loc.line, loc.col);
        else
            fprintf(stderr, "%s: ", d->source);
        fprintf(stderr, "%s: %s%s%s [%s]\n", json_str(f, "severity"), path, *path ? ": " : "",
                json_str(f, "message"), *json_str(f, "rule") ? json_str(f, "rule")
                                                              : json_str(f, "code"));
    }
}

/* Sends the descriptor (as JSON, schema files inlined) with 'method' to 'path'. */
static int send_descriptor(const char *cmd, const dmp_client_opts_t *o, const char *method,
                           const char *path, const dmp_descriptor_t *d, long *status,
                           json_t **reply)
{
    char *body = json_dumps(d->doc, JSON_COMPACT);
    dmp_error_t err = {0};
    int rc = dmp_client_call(o, method, path, body, strlen(body), "application/json", status,
                             reply, &err);
    free(body);
    if (rc != DMP_OK)
        return dmp_client_fail_call(cmd, o, &err);
    if (*status >= 400) {
        json_t *errors = json_object_get(*reply, "errors");
        if (json_array_size(errors) > 0) {
            print_findings(d, errors);
            json_object_del(*reply, "errors");
            json_object_del(*reply, "location");
        }
        int code = dmp_client_report_problem(cmd, *status, *reply);
        json_decref(*reply);
        *reply = NULL;
        return code;
    }
    print_findings(d, json_object_get(*reply, "warnings"));
    return DMP_EXIT_OK;
}

static void print_plan(json_t *plan, int col)
{
    json_t *p = json_object_get(plan, "product");
    const char *op = json_str(plan, "operation");
    printf("Plan for %s/%s %s (environment %s): %s\n", json_str(p, "domain"), json_str(p, "name"),
           json_str(p, "version"), json_str(p, "environment"),
           !strcmp(op, "none") ? "no changes" : op);
    size_t i;
    json_t *r;
    int nc = 0, nu = 0, nd = 0, nn = 0;
    json_array_foreach(json_object_get(plan, "resources"), i, r)
    {
        const char *a = json_str(r, "action");
        const char *sym = " ", *c = "";
        if (!strcmp(a, "create")) {
            sym = "+";
            c = "\033[32m";
            nc++;
        } else if (!strcmp(a, "update")) {
            sym = "~";
            c = "\033[33m";
            nu++;
        } else if (!strcmp(a, "delete")) {
            sym = "-";
            c = "\033[31m";
            nd++;
        } else {
            nn++;
        }
        printf("  %s%s %s/%s%s  (%s) %s\n", color(col, c), sym, json_str(r, "kind"),
               json_str(r, "name"), color(col, "\033[0m"), json_str(r, "technology"), a);
        size_t j;
        json_t *ch;
        json_array_foreach(json_object_get(r, "changes"), j, ch)
        {
            char *s = json_is_string(ch) ? NULL : json_dumps(ch, JSON_COMPACT);
            printf("      %s\n", s ? s : json_string_value(ch));
            free(s);
        }
    }
    printf("%d to create, %d to update, %d to delete, %d unchanged.\n", nc, nu, nd, nn);
}

static int plan_has_changes(json_t *plan)
{
    return strcmp(json_str(plan, "operation"), "none") != 0;
}

static void print_value(int fmt, json_t *v)
{
    if (fmt == DMP_OUT_YAML)
        dmp_cli_print_yaml(v);
    else
        dmp_cli_print_json(v);
}

int dmp_cmd_plan(int argc, char **argv)
{
    static const char usage[] =
        "usage: dmp plan [options] FILE\n\n"
        "Shows what 'dmp apply FILE' would create, update or delete, per resource.\n"
        "Exit: 0 no changes, 2 changes pending, 1 invalid or refused (e.g. a changed\n"
        "published version), 64 usage, 65 unreadable file, 69 server unreachable.\n\noptions:\n"
        COMMON_OPTS;
    dmp_client_opts_t o;
    int code = dmp_client_parse("plan", argc, argv, &o, usage);
    if (code || o.help)
        return code;
    if (o.nargs != 1)
        return dmp_cli_fail(DMP_EXIT_USAGE, "plan", "expected one descriptor FILE (see --help)");
    dmp_descriptor_t *d = load_local("plan", o.args[0], &code);
    if (d == NULL)
        return code;
    long status;
    json_t *plan = NULL;
    code = send_descriptor("plan", &o, "POST", "/v1/dataproduct?dryRun=true", d, &status, &plan);
    dmp_descriptor_free(d);
    if (code != DMP_EXIT_OK)
        return code;
    if (o.output == DMP_OUT_JSON || o.output == DMP_OUT_YAML)
        print_value(o.output, plan);
    else
        print_plan(plan, dmp_cli_color(stdout));
    code = plan_has_changes(plan) ? DMP_EXIT_CHANGES : DMP_EXIT_OK;
    json_decref(plan);
    return code;
}

static char *state_path(const char *env, const char *domain, const char *name,
                        const char *version)
{
    char *e = dmp_client_escape(env), *d = dmp_client_escape(domain),
         *n = dmp_client_escape(name), *v = dmp_client_escape(version);
    char *p = dmp_asprintf("/v1/dataproduct/state/%s/%s/%s/%s", e, d, n, v);
    dmp_free(e);
    dmp_free(d);
    dmp_free(n);
    dmp_free(v);
    return p;
}

static int state_in_transit(json_t *st)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(st, "resources"), i, r)
    {
        dmp_state_t s;
        if (dmp_state_parse(json_str(r, "state"), &s) == DMP_OK && dmp_state_in_transit(s))
            return 1;
    }
    dmp_state_t s;
    return dmp_state_parse(json_str(st, "state"), &s) == DMP_OK && dmp_state_in_transit(s);
}

static void print_state(json_t *st, int wide, int col)
{
    printf("%s/%s %s (environment %s): %s\n", json_str(st, "domain"), json_str(st, "name"),
           json_str(st, "version"), json_str(st, "environment"), json_str(st, "state"));
    printf("  %-24s %-14s %-14s %s\n", "RESOURCE", "TECHNOLOGY", "STATE",
           wide ? "UPDATED  REASON" : "REASON");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(st, "resources"), i, r)
    {
        const char *s = json_str(r, "state");
        const char *c = !strcmp(s, "CREATED") || !strcmp(s, "DELETED") ? "\033[32m"
                        : !strcmp(s, "FAILED") || !strcmp(s, "NOT_COMPLETED") ? "\033[31m"
                                                                               : "\033[33m";
        printf("  %-24s %-14s %s%-14s%s ", json_str(r, "name"), json_str(r, "technology"),
               color(col, c), s, color(col, "\033[0m"));
        if (wide)
            printf("%s  ", json_str(r, "updated"));
        printf("%s\n", json_str(r, "reason"));
    }
}

/* Polls the state until no resource is in transit, printing transitions on stderr. */
static int wait_state(const dmp_client_opts_t *o, const char *cmd, const char *path,
                      json_t **final)
{
    json_t *prev = NULL;
    int64_t deadline = dmp_now_ms() + (int64_t)o->timeout_s * 1000;
    int tty = isatty(fileno(stderr));
    for (;;) {
        json_t *st = NULL;
        int code = dmp_client_get_json(o, cmd, path, &st);
        if (code != DMP_EXIT_OK) {
            json_decref(prev);
            return code;
        }
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(st, "resources"), i, r)
        {
            const char *before = "";
            size_t j;
            json_t *pr;
            json_array_foreach(json_object_get(prev, "resources"), j, pr)
            {
                if (!strcmp(json_str(pr, "name"), json_str(r, "name")))
                    before = json_str(pr, "state");
            }
            if (strcmp(before, json_str(r, "state")) != 0)
                fprintf(stderr, "%s  %s: %s%s%s\n", tty ? "\033[2K" : "", json_str(r, "name"),
                        *before ? before : "", *before ? " -> " : "", json_str(r, "state"));
        }
        json_decref(prev);
        prev = st;
        if (!state_in_transit(st))
            break;
        if (dmp_now_ms() > deadline) {
            json_decref(prev);
            return dmp_cli_fail(DMP_EXIT_FAIL, cmd,
                                "still in progress after %d s (see 'dmp status'; raise "
                                "--timeout to wait longer)",
                                o->timeout_s);
        }
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
    *final = prev;
    return DMP_EXIT_OK;
}

static int all_in(json_t *st, const char *want)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(st, "resources"), i, r)
    {
        if (strcmp(json_str(r, "state"), want) != 0)
            return 0;
    }
    return 1;
}

static int finish(const dmp_client_opts_t *o, const char *cmd, const char *path,
                  const char *want)
{
    json_t *st = NULL;
    int code = wait_state(o, cmd, path, &st);
    if (code != DMP_EXIT_OK)
        return code;
    if (o->output == DMP_OUT_JSON || o->output == DMP_OUT_YAML)
        print_value(o->output, st);
    else
        print_state(st, o->output == DMP_OUT_WIDE, dmp_cli_color(stdout));
    code = all_in(st, want) ? DMP_EXIT_OK : DMP_EXIT_FAIL;
    if (code != DMP_EXIT_OK)
        fprintf(stderr, "dmp %s: not every resource is %s (see the reasons above)\n", cmd, want);
    json_decref(st);
    return code;
}

int dmp_cmd_apply(int argc, char **argv)
{
    static const char usage[] =
        "usage: dmp apply [options] FILE\n\n"
        "Deploys the descriptor: creates a new version, updates the ACLs (owner, allow)\n"
        "of a deployed one, or reports 'no changes'. Waits until every resource is\n"
        "consistent, showing progress, then prints the final states.\n"
        "Exit: 0 applied (or no changes), 1 invalid, refused or a resource failed,\n"
        "64 usage, 65 unreadable file, 69 server unreachable.\n\noptions:\n"
        "      --no-wait        return once the server accepted the request\n"
        "      --timeout SECS   how long to wait for the resources [300]\n" COMMON_OPTS;
    dmp_client_opts_t o;
    int code = dmp_client_parse("apply", argc, argv, &o, usage);
    if (code || o.help)
        return code;
    if (o.nargs != 1)
        return dmp_cli_fail(DMP_EXIT_USAGE, "apply", "expected one descriptor FILE (see --help)");
    dmp_descriptor_t *d = load_local("apply", o.args[0], &code);
    if (d == NULL)
        return code;
    long status;
    json_t *res = NULL;
    code = send_descriptor("apply", &o, "POST", "/v1/dataproduct", d, &status, &res);
    char *path = state_path(d->environment, d->domain, d->name, d->version);
    dmp_descriptor_free(d);
    if (code == DMP_EXIT_OK) {
        if (!plan_has_changes(res)) {
            if (o.output == DMP_OUT_JSON || o.output == DMP_OUT_YAML)
                print_value(o.output, res);
            else
                printf("No changes: the deployed product already matches %s.\n", o.args[0]);
        } else if (o.no_wait) {
            if (o.output == DMP_OUT_JSON || o.output == DMP_OUT_YAML)
                print_value(o.output, res);
            else
                print_plan(res, dmp_cli_color(stdout));
            fprintf(stderr, "accepted; follow it with 'dmp status %s'\n", o.args[0]);
        } else {
            if (o.output != DMP_OUT_JSON && o.output != DMP_OUT_YAML)
                fprintf(stderr, "applying %s (%s)...\n", o.args[0],
                        json_str(res, "operation"));
            code = finish(&o, "apply", path, "CREATED");
        }
    }
    json_decref(res);
    dmp_free(path);
    return code;
}

/* Resolves the product key from a FILE or ENV/DOMAIN/NAME/VERSION argument. */
static int key_from_args(const char *cmd, dmp_client_opts_t *o, dmp_descriptor_t **d,
                         char *parts[4], char **copy)
{
    *d = NULL;
    *copy = NULL;
    if (o->nargs != 1)
        return dmp_cli_fail(DMP_EXIT_USAGE, cmd,
                            "expected FILE or ENVIRONMENT/DOMAIN/NAME/VERSION (see --help)");
    const char *a = o->args[0];
    if (access(a, R_OK) == 0) {
        int code;
        *d = load_local(cmd, a, &code);
        if (*d == NULL)
            return code;
        parts[0] = (*d)->environment;
        parts[1] = (*d)->domain;
        parts[2] = (*d)->name;
        parts[3] = (*d)->version;
        return DMP_EXIT_OK;
    }
    *copy = dmp_strdup(a);
    char *save = NULL;
    int n = 0;
    for (char *t = strtok_r(*copy, "/", &save); t && n < 5; t = strtok_r(NULL, "/", &save))
        parts[n < 4 ? n : 3] = t, n++;
    if (n != 4)
        return dmp_cli_fail(DMP_EXIT_USAGE, cmd,
                            "'%s' is neither a readable file nor ENVIRONMENT/DOMAIN/NAME/VERSION",
                            a);
    return DMP_EXIT_OK;
}

int dmp_cmd_delete(int argc, char **argv)
{
    static const char usage[] =
        "usage: dmp delete [options] FILE | ENVIRONMENT/DOMAIN/NAME/VERSION\n\n"
        "Removes a deployed product version: its resources are deleted in reverse\n"
        "dependency order. Waits until every resource is DELETED.\n"
        "Exit: 0 deleted, 1 failed or refused, 64 usage, 69 server unreachable.\n\noptions:\n"
        "      --no-wait        return once the server accepted the request\n"
        "      --timeout SECS   how long to wait [300]\n" COMMON_OPTS;
    dmp_client_opts_t o;
    int code = dmp_client_parse("delete", argc, argv, &o, usage);
    if (code || o.help)
        return code;
    dmp_descriptor_t *d;
    char *parts[4], *copy;
    if ((code = key_from_args("delete", &o, &d, parts, &copy)) != DMP_EXIT_OK)
        return code;
    json_t *key = json_pack("{s:s,s:s,s:s,s:s}", "environment", parts[0], "domain", parts[1],
                            "name", parts[2], "version", parts[3]);
    char *body = json_dumps(key, JSON_COMPACT);
    char *path = state_path(parts[0], parts[1], parts[2], parts[3]);
    long status;
    json_t *res = NULL;
    dmp_error_t err = {0};
    if (dmp_client_call(&o, "DELETE", "/v1/dataproduct", body, strlen(body), "application/json",
                        &status, &res, &err) != DMP_OK) {
        code = dmp_client_fail_call("delete", &o, &err);
    } else if (status >= 400) {
        code = dmp_client_report_problem("delete", status, res);
    } else if (o.no_wait) {
        fprintf(stderr, "accepted; follow it with 'dmp status %s'\n", o.args[0]);
    } else {
        code = finish(&o, "delete", path, "DELETED");
    }
    json_decref(res);
    json_decref(key);
    free(body);
    dmp_free(path);
    dmp_free(copy);
    dmp_descriptor_free(d);
    return code;
}

int dmp_cmd_status(int argc, char **argv)
{
    static const char usage[] =
        "usage: dmp status [options] FILE | ENVIRONMENT/DOMAIN/NAME/VERSION\n\n"
        "Shows the state of a product version and of each of its resources, with the\n"
        "reason of any failure.\n"
        "Exit: 0 shown, 1 not found or failed, 64 usage, 69 server unreachable.\n\noptions:\n"
        COMMON_OPTS;
    dmp_client_opts_t o;
    int code = dmp_client_parse("status", argc, argv, &o, usage);
    if (code || o.help)
        return code;
    dmp_descriptor_t *d;
    char *parts[4], *copy;
    if ((code = key_from_args("status", &o, &d, parts, &copy)) != DMP_EXIT_OK)
        return code;
    char *path = state_path(parts[0], parts[1], parts[2], parts[3]);
    json_t *st = NULL;
    code = dmp_client_get_json(&o, "status", path, &st);
    if (code == DMP_EXIT_OK) {
        if (o.output == DMP_OUT_JSON || o.output == DMP_OUT_YAML)
            print_value(o.output, st);
        else
            print_state(st, o.output == DMP_OUT_WIDE, dmp_cli_color(stdout));
    }
    json_decref(st);
    dmp_free(path);
    dmp_free(copy);
    dmp_descriptor_free(d);
    return code;
}

int dmp_cmd_list(int argc, char **argv)
{
    static const char usage[] = "usage: dmp list [options]\n\n"
                                "Lists deployed product versions and their states.\n"
                                "Exit: 0 listed, 1 failed, 64 usage, 69 server unreachable.\n\n"
                                "options:\n" COMMON_OPTS;
    dmp_client_opts_t o;
    int code = dmp_client_parse("list", argc, argv, &o, usage);
    if (code || o.help)
        return code;
    if (o.nargs != 0)
        return dmp_cli_fail(DMP_EXIT_USAGE, "list", "takes no arguments (see --help)");
    json_t *res = NULL;
    code = dmp_client_get_json(&o, "list", "/v1/products", &res);
    if (code != DMP_EXIT_OK)
        return code;
    json_t *list = json_object_get(res, "products");
    if (o.output == DMP_OUT_JSON || o.output == DMP_OUT_YAML) {
        print_value(o.output, list);
    } else {
        int wide = o.output == DMP_OUT_WIDE;
        printf("%-12s %-28s %-24s %-10s %-14s%s\n", "ENVIRONMENT", "DOMAIN", "NAME", "VERSION",
               "STATE", wide ? " UPDATED" : "");
        size_t i;
        json_t *p;
        json_array_foreach(list, i, p)
        {
            printf("%-12s %-28s %-24s %-10s %-14s", json_str(p, "environment"),
                   json_str(p, "domain"), json_str(p, "name"), json_str(p, "version"),
                   json_str(p, "state"));
            if (wide)
                printf(" %s", json_str(p, "updated"));
            putchar('\n');
        }
    }
    json_decref(res);
    return DMP_EXIT_OK;
}

int dmp_cmd_get(int argc, char **argv)
{
    static const char usage[] =
        "usage: dmp get [options] DOMAIN/NAME\n\n"
        "Shows a deployed product: its descriptor as deployed and its state.\n"
        "Exit: 0 shown, 1 not found, 64 usage, 69 server unreachable.\n\noptions:\n"
        "      --version V      a given version (default: the latest)\n"
        "  -e, --environment E  a given environment\n" COMMON_OPTS;
    dmp_client_opts_t o;
    int code = dmp_client_parse("get", argc, argv, &o, usage);
    if (code || o.help)
        return code;
    if (o.nargs != 1)
        return dmp_cli_fail(DMP_EXIT_USAGE, "get", "expected DOMAIN/NAME (see --help)");
    dmp_buf_t path = DMP_BUF_INIT;
    if ((code = dmp_client_product_path("get", o.args[0], "/v1/products", &path)) != 0)
        return code;
    char sep = '?';
    dmp_client_add_query(&path, &sep, "version", o.version);
    dmp_client_add_query(&path, &sep, "environment", o.environment);
    json_t *res = NULL;
    code = dmp_client_get_json(&o, "get", path.data, &res);
    if (code == DMP_EXIT_OK) {
        if (o.output == DMP_OUT_JSON)
            dmp_cli_print_json(res);
        else
            dmp_cli_print_yaml(res);
    }
    json_decref(res);
    dmp_buf_free(&path);
    return code;
}
