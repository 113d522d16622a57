/* server.h -- `dmp serve`: the configuration table and the wiring of store,
 * coordinator and HTTP server. One table (name, environment variable, type,
 * default, limits, description) drives flags, DMP_* variables, the dmp.yaml
 * config file, `dmp serve --help-config` and docs/configuration.md. */
#ifndef DMP_SERVER_H
#define DMP_SERVER_H

#include <stdio.h>

#include "dmp/core.h"

typedef struct dmp_server_conf {
    char *listen;
    char *data_dir;
    char *config_file;
    size_t max_body_bytes;
    unsigned connection_limit;
    unsigned per_ip_limit;
    unsigned timeout_s;
    unsigned provisioner_timeout_ms;
    unsigned report_timeout_ms;
    char *log_level;
    char *log_format;
    char *public_url; /* how provisioners reach us; derived from listen when empty */
    char *policies;   /* global policy file (replaces the persisted one); "" = keep */
    char *web_dir;    /* the built web UI; "" = <binary dir>/../web/dist */
    char *tokens_file;            /* security (auth.h, docs/security.md) */
    char *jwt_hs256_secret_file;
    char *jwt_rs256_public_key;
    char *jwt_issuer;
    char *jwt_audience;
    char *tls_cert;
    char *tls_key;
    char *mask;
    char *mask_key_file;
    size_t event_max_bytes;    /* stream ingest: one event */
    unsigned batch_max_events; /* stream ingest: events per batch */
    unsigned dedup_window;     /* stream ingest: de-dup window, in events per port */
    unsigned dedup_window_ms;  /* stream ingest: de-dup window in time (0: none) */
    size_t log_segment_bytes;  /* stream log segment size */
    char **provisioners;   /* "technology=URL" or "env:technology=URL" */
    /* Invariant: n_provisioners directly follows provisioners (config.c relies on it). */
    size_t n_provisioners;
} dmp_server_conf_t;

/* Fills 'conf' from defaults, then the config file (--config, DMP_CONFIG, or ./dmp.yaml
 * when present), then DMP_* variables, then flags. Returns DMP_OK, or DMP_INVALID with
 * a message naming the flag/key and the value. *help is set when --help or
 * --help-config was given (the text is printed to 'out'). */
DMP_EXPORT int dmp_server_conf_load(int argc, char **argv, dmp_server_conf_t *conf, int *help,
                                    FILE *out, dmp_error_t *err);
DMP_EXPORT void dmp_server_conf_fini(dmp_server_conf_t *conf);
/* Writes the configuration reference as Markdown (docs/configuration.md). */
DMP_EXPORT void dmp_server_conf_markdown(FILE *out);

/* Runs the server until SIGINT/SIGTERM. Returns DMP_OK on a clean shutdown. */
DMP_EXPORT int dmp_server_run(const dmp_server_conf_t *conf, dmp_error_t *err);

#endif
