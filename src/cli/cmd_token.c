/* cmd_token.c -- `dmp token create|list`: manages the tokens file of `dmp serve
 * --tokens` (docs/security.md). create prints the new token once, on stdout, and
 * stores only its SHA-256; list shows who holds tokens, never a secret. */
#include <string.h>

#include "cli/cli.h"
#include "dmp/auth.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dmp token create --tokens FILE --principal NAME [--groups a,b] [--admin]\n"
            "                        [--expires RFC3339]\n"
            "       dmp token list --tokens FILE [-o json]\n\n"
            "create  makes a random bearer token, prints it on stdout (only this once) and\n"
            "        appends its SHA-256, the principal and its groups to FILE (JSON lines,\n"
            "        created with mode 0600). Groups are teams and domains\n"
            "        (\"london.hammersmith\", \"domain-owner:london\", \"pii-reader:london\").\n"
            "list    shows the principals that hold tokens, without secrets.\n\n"
            "The server re-reads FILE when it changes: deleting a line revokes that token.\n");
}

static int split_groups(const char *s, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (s == NULL || *s == '\0')
        return 0;
    char *copy = dmp_strdup(s), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t l = strlen(t);
        while (l > 0 && t[l - 1] == ' ')
            t[--l] = '\0';
        if (l == 0)
            continue;
        *out = dmp_realloc(*out, sizeof(char *) * (*n + 1));
        (*out)[(*n)++] = dmp_strdup(t);
    }
    dmp_free(copy);
    return 0;
}

static int cmd_create(int argc, char **argv)
{
    const char *tokens = NULL, *principal = NULL, *groups = NULL, *expires = NULL;
    int admin = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return DMP_EXIT_OK;
        } else if (!strcmp(a, "--admin")) {
            admin = 1;
        } else if (i + 1 < argc && !strcmp(a, "--tokens")) {
            tokens = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--principal")) {
            principal = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--groups")) {
            groups = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--expires")) {
            expires = argv[++i];
        } else {
            usage(stderr);
            return dmp_cli_fail(DMP_EXIT_USAGE, "token create", "unexpected argument '%s'", a);
        }
    }
    if (tokens == NULL || principal == NULL) {
        usage(stderr);
        return dmp_cli_fail(DMP_EXIT_USAGE, "token create", "--tokens and --principal are "
                                                            "required");
    }
    char **gv;
    size_t ng;
    split_groups(groups, &gv, &ng);
    char tok[DMP_TOKEN_NEW_LEN];
    dmp_error_t err = {0};
    int rc = dmp_token_generate(tok, &err);
    if (rc == DMP_OK)
        rc = dmp_tokens_append(tokens, tok, principal, (const char *const *)gv, ng, admin, expires,
                               &err);
    for (size_t i = 0; i < ng; i++)
        dmp_free(gv[i]);
    dmp_free(gv);
    if (rc != DMP_OK) {
        memset(tok, 0, sizeof(tok));
        return dmp_cli_fail(rc == DMP_INVALID ? DMP_EXIT_USAGE : DMP_EXIT_FAIL, "token create",
                            "%s", err.msg);
    }
    printf("%s\n", tok);
    fflush(stdout);
    memset(tok, 0, sizeof(tok));
    return DMP_EXIT_OK;
}

static int cmd_list(int argc, char **argv)
{
    const char *tokens = NULL;
    int fmt = DMP_OUT_TEXT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return DMP_EXIT_OK;
        } else if (i + 1 < argc && !strcmp(a, "--tokens")) {
            tokens = argv[++i];
        } else if (i + 1 < argc && (!strcmp(a, "-o") || !strcmp(a, "--output"))) {
            fmt = dmp_cli_parse_output(argv[++i]);
            if (fmt < 0)
                return dmp_cli_fail(DMP_EXIT_USAGE, "token list",
                                    "output '%s' is not one of text, json, yaml", argv[i]);
        } else {
            usage(stderr);
            return dmp_cli_fail(DMP_EXIT_USAGE, "token list", "unexpected argument '%s'", a);
        }
    }
    if (tokens == NULL)
        return dmp_cli_fail(DMP_EXIT_USAGE, "token list", "--tokens FILE is required");
    json_t *recs = NULL;
    dmp_error_t err = {0};
    if (dmp_tokens_load(tokens, &recs, &err) != DMP_OK)
        return dmp_cli_fail(DMP_EXIT_DATAERR, "token list", "%s", err.msg);
    /* never show the hashes either: they identify a token */
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        json_object_del(r, "sha256");
    }
    if (fmt == DMP_OUT_JSON) {
        dmp_cli_print_json(recs);
    } else if (fmt == DMP_OUT_YAML) {
        dmp_cli_print_yaml(recs);
    } else {
        printf("%-24s %-5s %-24s %-24s %s\n", "PRINCIPAL", "ADMIN", "CREATED", "EXPIRES",
               "GROUPS");
        json_array_foreach(recs, i, r)
        {
            dmp_buf_t gs = DMP_BUF_INIT;
            size_t j;
            json_t *g;
            json_array_foreach(json_object_get(r, "groups"), j, g)
            {
                if (j)
                    dmp_buf_putc(&gs, ',');
                dmp_buf_puts(&gs, json_string_value(g));
            }
            const char *ex = json_string_value(json_object_get(r, "expires"));
            const char *cr = json_string_value(json_object_get(r, "created"));
            printf("%-24s %-5s %-24s %-24s %s\n",
                   json_string_value(json_object_get(r, "principal")),
                   json_is_true(json_object_get(r, "admin")) ? "yes" : "no", cr ? cr : "-",
                   ex ? ex : "-", gs.data ? gs.data : "-");
            dmp_buf_free(&gs);
        }
    }
    json_decref(recs);
    return DMP_EXIT_OK;
}

int dmp_cmd_token(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? DMP_EXIT_USAGE : DMP_EXIT_OK;
    }
    if (!strcmp(argv[1], "create"))
        return cmd_create(argc - 1, argv + 1);
    if (!strcmp(argv[1], "list"))
        return cmd_list(argc - 1, argv + 1);
    usage(stderr);
    return dmp_cli_fail(DMP_EXIT_USAGE, "token", "unknown subcommand '%s' (create, list)",
                        argv[1]);
}
