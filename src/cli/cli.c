/* cli.c -- the command table, `dmp --help`, and helpers shared by subcommands. */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmd_version(int argc, char **argv);

/* People read this output: 15 significant digits print 0.99 as 0.99, where jansson's
 * default of 17 prints 0.98999999999999999. */
#define CLI_REAL_PRECISION JSON_REAL_PRECISION(15)

static const dmp_cli_cmd_t commands[] = {
    {"serve", "serve the HTTP API on the embedded default", dmp_cmd_serve},
    {"validate", "check descriptors offline", dmp_cmd_validate},
    {"schema", "validate instances, check and diff JSON Schemas", dmp_cmd_schema},
    {"plan", "show what apply would change", dmp_cmd_plan},
    {"apply", "deploy a descriptor and wait for its resources", dmp_cmd_apply},
    {"delete", "remove a deployed product version", dmp_cmd_delete},
    {"status", "show the state of a product and its resources", dmp_cmd_status},
    {"list", "list deployed products", dmp_cmd_list},
    {"get", "show a deployed product", dmp_cmd_get},
    {"publish", "publish NDJSON events to a stream port", dmp_cmd_publish},
    {"tail", "read a stream port's events (--follow to keep reading)", dmp_cmd_tail},
    {"search", "search the catalog", dmp_cmd_search},
    {"lineage", "show a product's upstream and downstream products", dmp_cmd_lineage},
    {"register", "catalogue an existing product without provisioning", dmp_cmd_register},
    {"token", "create and list bearer tokens for dmp serve --tokens", dmp_cmd_token},
    {"version", "print the version", cmd_version},
};

static int cmd_version(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: dmp version\n\nPrints the version of dmp.\n");
        return DMP_EXIT_OK;
    }
    printf("dmp 0.1.0\n");
    return DMP_EXIT_OK;
}

static void usage(FILE *f)
{
    fprintf(f, "dmp -- a self-serve data mesh platform\n\n"
               "usage: dmp <command> [options] [args]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'dmp <command> --help' for a command's options.\n"
               "Exit codes: 0 ok, 1 failed/invalid, 2 changes pending (plan), 64 usage,\n"
               "65 unusable input, 69 server unreachable (docs/cli.md).\n");
}

int dmp_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return DMP_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return DMP_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version"))
        return cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "dmp: unknown command '%s' (see 'dmp --help')\n", argv[1]);
    return DMP_EXIT_USAGE;
}

int dmp_cli_parse_output(const char *s)
{
    if (!strcmp(s, "json"))
        return DMP_OUT_JSON;
    if (!strcmp(s, "yaml"))
        return DMP_OUT_YAML;
    if (!strcmp(s, "wide"))
        return DMP_OUT_WIDE;
    if (!strcmp(s, "text"))
        return DMP_OUT_TEXT;
    return -1;
}

int dmp_cli_color(FILE *f)
{
    const char *nc = getenv("NO_COLOR");
    if (nc != NULL && nc[0] != '\0')
        return 0;
    return isatty(fileno(f));
}

void dmp_cli_print_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY | CLI_REAL_PRECISION);
    if (s) {
        puts(s);
        free(s);
    }
}

static void yaml_scalar(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const char *s = json_string_value(v);
        int plain = s[0] != '\0' && strcspn(s, ":#{}[],&*!|>'\"%@`\n") == strlen(s) &&
                    s[0] != ' ' && s[0] != '-' && s[0] != '?' && strcmp(s, "true") &&
                    strcmp(s, "false") && strcmp(s, "null") && strspn(s, "0123456789.") != strlen(s);
        if (plain) {
            fputs(s, stdout);
        } else {
            char *q = json_dumps(v, JSON_ENCODE_ANY | CLI_REAL_PRECISION);
            fputs(q, stdout);
            free(q);
        }
        break;
    }
    default: {
        char *q = json_dumps(v, JSON_ENCODE_ANY | CLI_REAL_PRECISION);
        fputs(q, stdout);
        free(q);
    }
    }
}

static void yaml_node(const json_t *v, int indent, int inline_first)
{
    if (json_is_object(v) && json_object_size(v) > 0) {
        const char *k;
        json_t *c;
        int first = 1;
        json_object_foreach((json_t *)v, k, c)
        {
            if (!(first && inline_first))
                printf("%*s", indent, "");
            first = 0;
            printf("%s:", k);
            if ((json_is_object(c) && json_object_size(c)) || (json_is_array(c) && json_array_size(c))) {
                putchar('\n');
                yaml_node(c, indent + 2, 0);
            } else {
                putchar(' ');
                if (json_is_object(c))
                    fputs("{}", stdout);
                else if (json_is_array(c))
                    fputs("[]", stdout);
                else
                    yaml_scalar(c);
                putchar('\n');
            }
        }
    } else if (json_is_array(v) && json_array_size(v) > 0) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            printf("%*s- ", indent, "");
            if ((json_is_object(c) && json_object_size(c)) || (json_is_array(c) && json_array_size(c))) {
                yaml_node(c, indent + 2, 1);
            } else {
                yaml_scalar(c);
                putchar('\n');
            }
        }
    } else {
        printf("%*s", inline_first ? 0 : indent, "");
        if (json_is_object(v))
            fputs("{}", stdout);
        else if (json_is_array(v))
            fputs("[]", stdout);
        else
            yaml_scalar(v);
        putchar('\n');
    }
}

void dmp_cli_print_yaml(const json_t *v)
{
    yaml_node(v, 0, 0);
}

int dmp_cli_fail(int code, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "dmp %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}
