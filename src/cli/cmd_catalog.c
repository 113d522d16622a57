/* cmd_catalog.c -- the discovery commands: `dmp search`, `dmp lineage` and
 * `dmp register`, thin clients of the catalog API (docs/catalog.md). */
#include <stdlib.h>
#include <string.h>

#include "cli/client.h"
#include "dmp/catalog.h"

#define COMMON_OPTS                                                                                \
    "  -o, --output F       text (default) or json\n"                                              \
    "  -s, --server URL     the dmp server (default $DMP_SERVER or http://127.0.0.1:8181)\n"       \
    "      --token TOKEN    bearer token (default $DMP_TOKEN); never printed\n"                    \
    "      --cacert FILE    CA certificates (PEM) for an https server (default $DMP_CACERT)\n"     \
    "  -h, --help           this help\n"

/* Pulls "--name VALUE" / "--name=VALUE" out of argv (so the shared parser does not see
 * it); returns the value or NULL. */
static const char *take_opt(int *argc, char **argv, const char *name)
{
    size_t nl = strlen(name);
    for (int i = 1; i < *argc; i++) {
        const char *val = NULL;
        int used = 0;
        if (!strcmp(argv[i], name) && i + 1 < *argc) {
            val = argv[i + 1];
            used = 2;
        } else if (!strncmp(argv[i], name, nl) && argv[i][nl] == '=') {
            val = argv[i] + nl + 1;
            used = 1;
        }
        if (used) {
            memmove(&argv[i], &argv[i + used], sizeof(char *) * (size_t)(*argc - i - used));
            *argc -= used;
            return val;
        }
    }
    return NULL;
}

int dmp_cmd_search(int argc, char **argv)
{
    static const char usage[] =
        "usage: dmp search [options] [TEXT...]\n\n"
        "Searches the catalog: names, descriptions, tags, owners, ports and schema fields.\n"
        "Terms are matched as prefixes; all must match. Results are ranked.\n"
        "Exit: 0 results shown, 1 nothing found or failed, 64 usage, 69 server unreachable.\n\n"
        "options:\n"
        "      --domain D       only this domain (or its sub-domains)\n"
        "      --tag T          only products or ports with this tag\n"
        "      --owner O        only this owner\n"
        "      --type T         only products with an output port of this type\n"
        "      --limit N        results per page (default 20, at most 100)\n"
        "      --cursor C       the page after a previous reply's \"next\"\n" COMMON_OPTS;
    const char *domain = take_opt(&argc, argv, "--domain");
    const char *tag = take_opt(&argc, argv, "--tag");
    const char *owner = take_opt(&argc, argv, "--owner");
    const char *type = take_opt(&argc, argv, "--type");
    const char *limit = take_opt(&argc, argv, "--limit");
    const char *cursor = take_opt(&argc, argv, "--cursor");
    dmp_client_opts_t o;
    int code = dmp_client_parse("search", argc, argv, &o, usage);
    if (code || o.help)
        return code;
    if (o.output != DMP_OUT_TEXT && o.output != DMP_OUT_JSON)
        return dmp_cli_fail(DMP_EXIT_USAGE, "search", "--output must be text or json");
    dmp_buf_t text = DMP_BUF_INIT;
    for (int i = 0; i < o.nargs; i++) {
        if (i)
            dmp_buf_putc(&text, ' ');
        dmp_buf_puts(&text, o.args[i]);
    }
    dmp_buf_t path = DMP_BUF_INIT;
    dmp_buf_puts(&path, "/v1/search");
    char sep = '?';
    dmp_client_add_query(&path, &sep, "q", text.data);
    dmp_client_add_query(&path, &sep, "domain", domain);
    dmp_client_add_query(&path, &sep, "tag", tag);
    dmp_client_add_query(&path, &sep, "owner", owner);
    dmp_client_add_query(&path, &sep, "type", type);
    dmp_client_add_query(&path, &sep, "limit", limit);
    dmp_client_add_query(&path, &sep, "cursor", cursor);
    json_t *res = NULL;
    code = dmp_client_get_json(&o, "search", path.data, &res);
    if (code == DMP_EXIT_OK) {
        json_t *results = json_object_get(res, "results");
        if (o.output == DMP_OUT_JSON) {
            dmp_cli_print_json(res);
        } else {
            size_t i;
            json_t *r;
            json_array_foreach(results, i, r)
            {
                printf("%s/%s  %s", json_string_value(json_object_get(r, "domain")),
                       json_string_value(json_object_get(r, "name")),
                       json_string_value(json_object_get(r, "version")));
                json_t *m = json_object_get(r, "matched");
                if (json_array_size(m)) {
                    printf("  (matched:");
                    size_t j;
                    json_t *v;
                    json_array_foreach(m, j, v) printf(" %s", json_string_value(v));
                    printf(")");
                }
                putchar('\n');
                const char *desc = json_string_value(json_object_get(r, "description"));
                if (desc)
                    printf("    %.200s\n", desc);
            }
            const char *next = json_string_value(json_object_get(res, "next"));
            if (next)
                printf("more: dmp search --cursor %s ...\n", next);
        }
        if (json_array_size(results) == 0) {
            if (o.output != DMP_OUT_JSON)
                fprintf(stderr, "dmp search: no product matches\n");
            code = DMP_EXIT_FAIL;
        }
    }
    json_decref(res);
    dmp_buf_free(&path);
    dmp_buf_free(&text);
    return code;
}

int dmp_cmd_lineage(int argc, char **argv)
{
    static const char usage[] =
        "usage: dmp lineage [options] DOMAIN/NAME\n\n"
        "Shows the products a product reads from (up) and those that read it (down).\n"
        "Exit: 0 shown, 1 not found or failed, 64 usage, 69 server unreachable.\n\n"
        "options:\n"
        "      --direction D    up, down or both (default both)\n"
        "      --depth N        how many hops (default 3, at most 32)\n"
        "  -o, --output F       text (default), json or dot (Graphviz)\n"
        "  -s, --server URL     the dmp server (default $DMP_SERVER or http://127.0.0.1:8181)\n"
        "      --token TOKEN    bearer token (default $DMP_TOKEN); never printed\n"
        "      --cacert FILE    CA certificates (PEM) for an https server (default $DMP_CACERT)\n"
        "  -h, --help           this help\n";
    const char *dir = take_opt(&argc, argv, "--direction");
    const char *depth = take_opt(&argc, argv, "--depth");
    /* -o dot is ours: the shared parser knows text/json/yaml/wide only. */
    int dot = 0;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc &&
            !strcmp(argv[i + 1], "dot")) {
            dot = 1;
            memmove(&argv[i], &argv[i + 2], sizeof(char *) * (size_t)(argc - i - 2));
            argc -= 2;
            break;
        }
        if (!strcmp(argv[i], "-o=dot") || !strcmp(argv[i], "--output=dot")) {
            dot = 1;
            memmove(&argv[i], &argv[i + 1], sizeof(char *) * (size_t)(argc - i - 1));
            argc -= 1;
            break;
        }
    }
    dmp_client_opts_t o;
    int code = dmp_client_parse("lineage", argc, argv, &o, usage);
    if (code || o.help)
        return code;
    if (o.output != DMP_OUT_TEXT && o.output != DMP_OUT_JSON)
        return dmp_cli_fail(DMP_EXIT_USAGE, "lineage", "--output must be text, json or dot");
    if (dir && strcmp(dir, "up") && strcmp(dir, "down") && strcmp(dir, "both"))
        return dmp_cli_fail(DMP_EXIT_USAGE, "lineage", "--direction '%s' is not up, down or both",
                            dir);
    if (depth && (atoi(depth) < 1 || strspn(depth, "0123456789") != strlen(depth)))
        return dmp_cli_fail(DMP_EXIT_USAGE, "lineage", "--depth '%s' is not a positive number",
                            depth);
    if (o.nargs != 1)
        return dmp_cli_fail(DMP_EXIT_USAGE, "lineage", "expected DOMAIN/NAME (see --help)");
    dmp_buf_t path = DMP_BUF_INIT;
    if ((code = dmp_client_product_path("lineage", o.args[0], "/v1/lineage", &path)) != 0)
        return code;
    char sep = '?';
    dmp_client_add_query(&path, &sep, "direction", dir);
    dmp_client_add_query(&path, &sep, "depth", depth);
    json_t *res = NULL;
    code = dmp_client_get_json(&o, "lineage", path.data, &res);
    if (code == DMP_EXIT_OK) {
        if (dot) {
            char *s = dmp_catalog_lineage_dot(res);
            fputs(s, stdout);
            dmp_free(s);
        } else if (o.output == DMP_OUT_JSON) {
            dmp_cli_print_json(res);
        } else {
            printf("lineage of %s (%s, depth %lld)\n",
                   json_string_value(json_object_get(res, "root")),
                   json_string_value(json_object_get(res, "direction")),
                   (long long)json_integer_value(json_object_get(res, "depth")));
            size_t i;
            json_t *e;
            json_array_foreach(json_object_get(res, "edges"), i, e)
                printf("  %s.%s -> %s (input %s)\n", json_string_value(json_object_get(e, "from")),
                       json_string_value(json_object_get(e, "port")),
                       json_string_value(json_object_get(e, "to")),
                       json_string_value(json_object_get(e, "input")));
            if (json_array_size(json_object_get(res, "edges")) == 0)
                printf("  (no upstream or downstream products)\n");
            if (json_is_true(json_object_get(res, "cyclic")))
                printf("  note: the graph has a cycle; each product is shown once\n");
            if (json_is_true(json_object_get(res, "truncated")))
                printf("  note: more lies beyond this depth (use --depth)\n");
        }
    }
    json_decref(res);
    dmp_buf_free(&path);
    return code;
}

int dmp_cmd_register(int argc, char **argv)
{
    static const char usage[] =
        "usage: dmp register [options] FILE\n\n"
        "Catalogues an existing product from its descriptor (YAML or JSON) without\n"
        "provisioning anything, so brownfield resources can be found and traced.\n"
        "Exit: 0 registered, 1 refused, 64 usage, 65 unreadable file, 69 server unreachable.\n\n"
        "options:\n" COMMON_OPTS;
    dmp_client_opts_t o;
    int code = dmp_client_parse("register", argc, argv, &o, usage);
    if (code || o.help)
        return code;
    if (o.nargs != 1)
        return dmp_cli_fail(DMP_EXIT_USAGE, "register", "expected one descriptor FILE");
    /* Parse locally first: errors point at the file, and file schemas resolve. */
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    dmp_error_t err = {0};
    if (dmp_descriptor_load(o.args[0], &d, &diags, &err) != DMP_OK) {
        for (size_t i = 0; i < diags.n; i++) {
            char *s = dmp_diag_format(&diags.v[i]);
            fprintf(stderr, "%s\n", s);
            dmp_free(s);
        }
        if (diags.n == 0)
            fprintf(stderr, "dmp register: %s\n", err.msg);
        dmp_diags_free(&diags);
        return err.code == DMP_IO ? DMP_EXIT_DATAERR : DMP_EXIT_FAIL;
    }
    dmp_diags_free(&diags);
    /* Schemas read from files go inline: the server cannot read our files. */
    json_t *doc = json_deep_copy(d->doc);
    for (size_t i = 0; i < d->n_resources; i++) {
        const dmp_resource_t *r = &d->resources[i];
        char key[32];
        unsigned idx;
        if (r->schema_file == NULL || r->schema == NULL ||
            sscanf(r->pointer, "/%31[^/]/%u", key, &idx) != 2)
            continue;
        json_t *res = json_array_get(json_object_get(doc, key), idx);
        if (json_is_object(res))
            json_object_set(res, "schema", r->schema);
    }
    char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    long status = 0;
    json_t *res = NULL;
    if (dmp_client_call(&o, "POST", "/v1/register", body, strlen(body), "application/json", &status,
                        &res, &err) != DMP_OK) {
        code = dmp_client_fail_call("register", &o, &err);
    } else if (status / 100 != 2) {
        code = dmp_client_report_problem("register", status, res);
    } else if (o.output == DMP_OUT_JSON) {
        dmp_cli_print_json(res);
    } else {
        printf("registered %s/%s %s (%s)\n", d->domain, d->name, d->version, d->id);
    }
    free(body);
    json_decref(res);
    dmp_descriptor_free(d);
    return code;
}
