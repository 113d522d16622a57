/* client.h -- the CLI's HTTP client (libcurl) for talking to `dmp serve`, and the
 * option parsing shared by the client subcommands. */
#ifndef DMP_CLI_CLIENT_H
#define DMP_CLI_CLIENT_H

#include <jansson.h>

#include "cli/cli.h"

/* Options every client command takes. */
typedef struct dmp_client_opts {
    const char *server;      /* --server or DMP_SERVER; default http://127.0.0.1:8181 */
    int output;              /* dmp_out_fmt_t */
    int no_wait;             /* --no-wait */
    int timeout_s;           /* --timeout: how long apply/delete wait (default 300) */
    const char *environment; /* -e/--environment */
    const char *version;     /* --version */
    const char *token;       /* --token or DMP_TOKEN: sent as "Authorization: Bearer"; never
                                printed */
    const char *cacert;      /* --cacert or DMP_CACERT: PEM CA bundle for https servers */
    int help;
    int nargs;
    char *args[8]; /* positional arguments (borrowed from argv) */
} dmp_client_opts_t;

/* Parses argv; on a usage error prints it and returns DMP_EXIT_USAGE, else 0. */
int dmp_client_parse(const char *cmd, int argc, char **argv, dmp_client_opts_t *o,
                     const char *usage);

/* Calls the server. On DMP_OK, *status holds the HTTP status and *reply the parsed
 * JSON body (NULL when empty or not JSON; caller decrefs). DMP_UNAVAILABLE when the
 * server cannot be reached. */
int dmp_client_call(const dmp_client_opts_t *o, const char *method, const char *path,
                    const char *body, size_t len, const char *content_type, long *status,
                    json_t **reply, dmp_error_t *err);

/* Sets what every request of 'o' carries on a libcurl handle: the bearer token (appended
 * to *hdrs, which the caller frees after the transfer, wiping it with
 * dmp_client_free_headers) and the CA bundle. For commands that drive libcurl
 * themselves (streaming reads). */
struct curl_slist;
void dmp_client_setup_curl(const dmp_client_opts_t *o, void *curl, struct curl_slist **hdrs);
/* Frees a header list built with dmp_client_setup_curl, wiping the token first. */
void dmp_client_free_headers(struct curl_slist *hdrs);

/* Prints a problem+json reply ("dmp <cmd>: DMP_CODE: detail (location)") and every
 * entry of its "errors" list to stderr; returns the exit code for it. */
int dmp_client_report_problem(const char *cmd, long status, json_t *reply);

/* Maps a transport failure to an exit code and message. */
int dmp_client_fail_call(const char *cmd, const dmp_client_opts_t *o, const dmp_error_t *err);

/* Percent-encodes one path segment into a new string. */
char *dmp_client_escape(const char *s);

/* GETs 'path' and parses the JSON reply into *out (caller decrefs). Reports a problem
 * reply or a transport failure itself; returns the exit code. */
int dmp_client_get_json(const dmp_client_opts_t *o, const char *cmd, const char *path,
                        json_t **out);

/* Appends "<prefix>/<domain>/<name>" to 'out', escaped, from a "DOMAIN/NAME" argument
 * (the domain is a dot path, so the last '/' splits). On a malformed argument prints a
 * usage message and returns DMP_EXIT_USAGE; else 0. */
int dmp_client_product_path(const char *cmd, const char *product, const char *prefix,
                            dmp_buf_t *out);

/* Appends "?name=value" (or "&..." once *sep is '&'), escaped; nothing when value is NULL. */
void dmp_client_add_query(dmp_buf_t *path, char *sep, const char *name, const char *value);

#endif
