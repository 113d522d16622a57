/* cli.h -- shared pieces of the dmp subcommands: the exit-code table, output
 * formats, colour, and the command table. Each subcommand lives in its own
 * src/cli/cmd_<name>.c and is listed once in cli.c's table. */
#ifndef DMP_CLI_H
#define DMP_CLI_H

#include <jansson.h>
#include <stdio.h>

#include "dmp/core.h"

/* One exit-code table for every command (docs/cli.md). */
enum {
    DMP_EXIT_OK = 0,          /* success: valid, no changes */
    DMP_EXIT_FAIL = 1,        /* invalid, or the operation failed */
    DMP_EXIT_CHANGES = 2,     /* changes pending (plan only) */
    DMP_EXIT_USAGE = 64,      /* usage error */
    DMP_EXIT_DATAERR = 65,    /* an input that cannot be used */
    DMP_EXIT_UNAVAILABLE = 69 /* the server cannot be reached */
};

typedef enum { DMP_OUT_TEXT = 0, DMP_OUT_JSON, DMP_OUT_YAML, DMP_OUT_WIDE } dmp_out_fmt_t;

/* Parses "json", "yaml", "wide", "text"; returns -1 for anything else. */
int dmp_cli_parse_output(const char *s);
/* 1 when stdout is a terminal and NO_COLOR is unset. */
int dmp_cli_color(FILE *f);
/* Prints 'v' as JSON (pretty) or YAML to stdout. */
void dmp_cli_print_json(const json_t *v);
void dmp_cli_print_yaml(const json_t *v);
/* Prints "dmp <cmd>: <msg>" to stderr; returns 'code'. */
int dmp_cli_fail(int code, const char *cmd, const char *fmt, ...) DMP_PRINTF(3, 4);

typedef struct dmp_cli_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} dmp_cli_cmd_t;

int dmp_cli_main(int argc, char **argv);

/* Subcommands (one file each). */
int dmp_cmd_serve(int argc, char **argv);
int dmp_cmd_validate(int argc, char **argv);
int dmp_cmd_schema(int argc, char **argv);
int dmp_cmd_plan(int argc, char **argv);
int dmp_cmd_apply(int argc, char **argv);
int dmp_cmd_delete(int argc, char **argv);
int dmp_cmd_status(int argc, char **argv);
int dmp_cmd_list(int argc, char **argv);
int dmp_cmd_get(int argc, char **argv);
int dmp_cmd_publish(int argc, char **argv);
int dmp_cmd_tail(int argc, char **argv);
int dmp_cmd_search(int argc, char **argv);
int dmp_cmd_lineage(int argc, char **argv);
int dmp_cmd_register(int argc, char **argv);

int dmp_cmd_token(int argc, char **argv);

#endif
