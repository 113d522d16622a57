/* config.c -- the one configuration table and its three sources: the dmp.yaml
 * file, DMP_* environment variables, and command-line flags (in that order of
 * precedence, flags last). */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <libfyaml.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dmp/server.h"

typedef enum { OPT_STR, OPT_SIZE, OPT_UINT, OPT_LIST } opt_type_t;

typedef struct opt {
    const char *name; /* flag --name, key in dmp.yaml, env DMP_NAME (dashes -> underscores) */
    opt_type_t type;
    size_t offset;
    const char *def;
    unsigned long long min, max;
    const char *desc;
} opt_t;

#define OFF(f) offsetof(dmp_server_conf_t, f)
static const opt_t opts[] = {
    {"listen", OPT_STR, OFF(listen), "127.0.0.1:8181", 0, 0,
     "Address and port to serve on (HOST:PORT; port 0 picks a free one)."},
    {"data-dir", OPT_STR, OFF(data_dir), "./dmp-data", 0, 0,
     "Directory for the embedded store (SQLite) and logs."},
    {"config", OPT_STR, OFF(config_file), "", 0, 0,
     "Config file (YAML). Default: ./dmp.yaml when present."},
    {"max-body", OPT_SIZE, OFF(max_body_bytes), "4MiB", 1024, 1ULL << 32,
     "Largest request body accepted; larger bodies get 413."},
    {"connection-limit", OPT_UINT, OFF(connection_limit), "1024", 1, 100000,
     "Most concurrent connections."},
    {"per-ip-limit", OPT_UINT, OFF(per_ip_limit), "256", 0, 100000,
     "Most concurrent connections from one address (0: no cap), so one client cannot "
     "hold every slot of connection-limit."},
    {"timeout", OPT_UINT, OFF(timeout_s), "30", 1, 86400,
     "Seconds a connection may stay idle or stall mid-request before it is closed; a "
     "request head (request line and headers) must also arrive whole within it."},
    {"policies", OPT_STR, OFF(policies), "", 0, 0,
     "Global policy file (YAML/JSON) applied on top of the shipped default rules; it "
     "replaces the one set through PUT /v1/global-policies."},
    {"provisioner-timeout-ms", OPT_UINT, OFF(provisioner_timeout_ms), "10000", 100, 600000,
     "Timeout of a request to an external provisioner; a timeout marks the resource FAILED."},
    {"report-timeout-ms", OPT_UINT, OFF(report_timeout_ms), "300000", 100, 86400000,
     "How long an external provisioner may take to report back before the resource FAILS."},
    {"log-level", OPT_STR, OFF(log_level), "info", 0, 0, "debug, info, warn or error."},
    {"log-format", OPT_STR, OFF(log_format), "json", 0, 0,
     "json (one object per line) or text."},
    {"public-url", OPT_STR, OFF(public_url), "", 0, 0,
     "URL provisioners use to report back. Default: http://<listen>."},
    {"web-dir", OPT_STR, OFF(web_dir), "", 0, 0,
     "Directory of the built web UI served at /. Default: ../web/dist next to the dmp binary "
     "(the source tree's build, made by 'make'); 'none' turns the UI off."},
    {"event-max-size", OPT_SIZE, OFF(event_max_bytes), "1MiB", 256, 64ULL << 20,
     "Largest single event accepted on a stream port; larger events get 413."},
    {"batch-max-events", OPT_UINT, OFF(batch_max_events), "10000", 1, 1000000,
     "Most events in one batch or NDJSON request; more get 413."},
    {"dedup-window", OPT_UINT, OFF(dedup_window), "100000", 1, 100000000,
     "De-duplication window per stream port, in events: a retried source+id inside it is "
     "acknowledged but not appended again."},
    {"dedup-window-ms", OPT_UINT, OFF(dedup_window_ms), "0", 0, 4000000000U,
     "De-duplication window in time (ms); 0: bounded by dedup-window only."},
    {"log-segment-size", OPT_SIZE, OFF(log_segment_bytes), "64MiB", 65536, 1ULL << 40,
     "Size at which a stream log rolls to a new segment (retention deletes whole segments)."},
    {"tokens", OPT_STR, OFF(tokens_file), "", 0, 0,
     "Tokens file (JSON lines of SHA-256 token hashes, made by 'dmp token create'). Without "
     "it or a JWT key, authentication is off and dmp serves on loopback only."},
    {"jwt-hs256-secret-file", OPT_STR, OFF(jwt_hs256_secret_file), "", 0, 0,
     "File holding the shared secret (32+ bytes) that HS256 JSON Web Tokens are signed with."},
    {"jwt-rs256-public-key", OPT_STR, OFF(jwt_rs256_public_key), "", 0, 0,
     "PEM public key file that RS256 JSON Web Tokens are verified with."},
    {"jwt-issuer", OPT_STR, OFF(jwt_issuer), "", 0, 0,
     "Required 'iss' claim of JSON Web Tokens (empty: not checked)."},
    {"jwt-audience", OPT_STR, OFF(jwt_audience), "", 0, 0,
     "Required 'aud' claim of JSON Web Tokens (empty: not checked)."},
    {"tls-cert", OPT_STR, OFF(tls_cert), "", 0, 0,
     "PEM certificate (chain) file: serve HTTPS. Needs --tls-key."},
    {"tls-key", OPT_STR, OFF(tls_key), "", 0, 0, "PEM private key file of --tls-cert."},
    {"mask", OPT_STR, OFF(mask), "redact", 0, 0,
     "How pii values are masked for readers without the grant: redact (\"***\") or hash "
     "(a stable keyed HMAC-SHA256, needs --mask-key-file)."},
    {"mask-key-file", OPT_STR, OFF(mask_key_file), "", 0, 0,
     "File holding the key (16+ bytes) of --mask hash."},
    {"provisioner", OPT_LIST, OFF(provisioners), "", 0, 0,
     "Registers a provisioner: TECHNOLOGY=URL or ENV:TECHNOLOGY=URL (repeatable)."},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static int parse_size(const char *s, unsigned long long *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0)
        return -1;
    while (*end == ' ')
        end++;
    double mul = 1;
    if (!strcasecmp(end, "") || !strcasecmp(end, "b"))
        mul = 1;
    else if (!strcasecmp(end, "k") || !strcasecmp(end, "kb"))
        mul = 1e3;
    else if (!strcasecmp(end, "kib"))
        mul = 1024;
    else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb"))
        mul = 1e6;
    else if (!strcasecmp(end, "mib"))
        mul = 1024.0 * 1024;
    else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb"))
        mul = 1e9;
    else if (!strcasecmp(end, "gib"))
        mul = 1024.0 * 1024 * 1024;
    else
        return -1;
    *out = (unsigned long long)(v * mul);
    return 0;
}

static int set_opt(dmp_server_conf_t *c, const opt_t *o, const char *val, const char *origin,
                   dmp_error_t *err)
{
    char *base = (char *)c + o->offset;
    unsigned long long n = 0;
    char *end;
    switch (o->type) {
    case OPT_STR:
        dmp_free(*(char **)base);
        *(char **)base = dmp_strdup(val);
        return DMP_OK;
    case OPT_LIST: {
        if (*val == '\0')
            return DMP_OK;
        char ***v = (char ***)base;
        size_t *cnt = (size_t *)(base + sizeof(char **));
        *v = dmp_realloc(*v, sizeof(char *) * (*cnt + 1));
        (*v)[(*cnt)++] = dmp_strdup(val);
        return DMP_OK;
    }
    case OPT_SIZE:
        if (parse_size(val, &n) != 0)
            return DMP_ERR(err, DMP_INVALID,
                           "%s: '%s' is not a size (a number with an optional unit: KiB, MiB, "
                           "GiB, KB, MB, GB)",
                           origin, val);
        break;
    case OPT_UINT:
        errno = 0;
        n = strtoull(val, &end, 10);
        if (*val == '\0' || *end != '\0' || errno || *val == '-')
            return DMP_ERR(err, DMP_INVALID, "%s: '%s' is not a whole number", origin, val);
        break;
    }
    if (n < o->min || n > o->max)
        return DMP_ERR(err, DMP_INVALID, "%s: %s is out of range (%llu to %llu)", origin, val,
                       o->min, o->max);
    if (o->type == OPT_SIZE)
        *(size_t *)base = (size_t)n;
    else
        *(unsigned *)base = (unsigned)n;
    return DMP_OK;
}

static const opt_t *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
            return &opts[i];
    return NULL;
}

static const char *suggest(const char *name)
{
    const char *best = NULL;
    int bd = 4;
    for (size_t i = 0; i < NOPTS; i++) {
        int d = dmp_str_distance(name, opts[i].name);
        if (d < bd) {
            bd = d;
            best = opts[i].name;
        }
    }
    return best;
}

static void env_name(const char *name, char *out, size_t n)
{
    size_t o = snprintf(out, n, "DMP_");
    for (; *name && o + 1 < n; name++)
        out[o++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
    out[o] = '\0';
}

/* Reads a YAML (or JSON) config file into a jansson object via libfyaml's JSON emitter. */
static int load_file(const char *path, json_t **out, dmp_error_t *err)
{
    char *text;
    size_t len;
    int rc = dmp_read_file(path, 1 << 20, &text, &len, err);
    if (rc != DMP_OK)
        return rc;
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_AUTO};
    struct fy_document *fyd = fy_document_build_from_string(&cfg, text, len);
    if (fyd == NULL) {
        dmp_free(text);
        return DMP_ERR(err, DMP_PARSE, "%s: not valid YAML", path);
    }
    char *js = fy_emit_document_to_string(fyd, FYECF_MODE_JSON_ONELINE);
    fy_document_destroy(fyd);
    dmp_free(text);
    json_error_t jerr;
    json_t *doc = js ? json_loads(js, JSON_DECODE_ANY, &jerr) : NULL;
    free(js);
    if (doc == NULL || (!json_is_object(doc) && !json_is_null(doc))) {
        json_decref(doc);
        return DMP_ERR(err, DMP_PARSE, "%s: the config file must be a mapping of option names",
                       path);
    }
    if (json_is_null(doc)) {
        json_decref(doc);
        doc = json_object();
    }
    *out = doc;
    return DMP_OK;
}

static int apply_file(dmp_server_conf_t *c, const char *path, dmp_error_t *err)
{
    json_t *doc = NULL;
    int rc = load_file(path, &doc, err);
    if (rc != DMP_OK)
        return rc;
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v)
    {
        const char *k = !strcmp(key, "provisioners") ? "provisioner" : key;
        const opt_t *o = find_opt(k, strlen(k));
        char origin[300];
        snprintf(origin, sizeof(origin), "%s: %s", path, key);
        if (o == NULL) {
            const char *s = suggest(key);
            rc = DMP_ERR(err, DMP_INVALID, "%s: unknown option '%s'%s%s%s", path, key,
                         s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
            break;
        }
        if (o->type == OPT_LIST && (json_is_array(v) || json_is_object(v))) {
            /* a list of "tech=url", or a mapping {tech: url} */
            size_t i;
            json_t *it;
            const char *mk;
            if (json_is_array(v)) {
                json_array_foreach(v, i, it)
                {
                    if (!json_is_string(it)) {
                        rc = DMP_ERR(err, DMP_INVALID, "%s[%zu]: must be a string", origin, i);
                        goto out;
                    }
                    set_opt(c, o, json_string_value(it), origin, err);
                }
            } else {
                json_object_foreach(v, mk, it)
                {
                    if (!json_is_string(it)) {
                        rc = DMP_ERR(err, DMP_INVALID, "%s.%s: must be a URL string", origin, mk);
                        goto out;
                    }
                    char *s = dmp_asprintf("%s=%s", mk, json_string_value(it));
                    set_opt(c, o, s, origin, err);
                    dmp_free(s);
                }
            }
            continue;
        }
        char buf[64];
        const char *val;
        if (json_is_string(v))
            val = json_string_value(v);
        else if (json_is_integer(v)) {
            snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
            val = buf;
        } else {
            rc = DMP_ERR(err, DMP_INVALID, "%s: must be a string or a number", origin);
            break;
        }
        if ((rc = set_opt(c, o, val, origin, err)) != DMP_OK)
            break;
    }
out:
    json_decref(doc);
    return rc;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: dmp serve [options]\n\n"
                 "Serves the dmp HTTP API on the embedded default (SQLite under --data-dir).\n"
                 "Every option can also be set as DMP_<NAME> in the environment or as <name>\n"
                 "in dmp.yaml; flags win over variables, variables over the file.\n\noptions:\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char flag[48];
        snprintf(flag, sizeof(flag), "--%s %s", opts[i].name,
                 opts[i].type == OPT_UINT ? "N" : (opts[i].type == OPT_SIZE ? "SIZE" : "VALUE"));
        fprintf(out, "  %-32s %s", flag, opts[i].desc);
        if (opts[i].def[0])
            fprintf(out, " [%s]", opts[i].def);
        fputc('\n', out);
    }
    fprintf(out, "  %-32s %s\n  %-32s %s\n", "--help-config", "print the configuration table",
            "-h, --help", "this help");
}

void dmp_server_conf_markdown(FILE *out)
{
    fprintf(out, "# Configuration\n\n"
                 "`dmp serve` reads its settings from, in increasing order of precedence:\n"
                 "the built-in defaults, the config file (`--config FILE`, `DMP_CONFIG`, or\n"
                 "`./dmp.yaml` when present), `DMP_*` environment variables, and flags.\n"
                 "This page is generated by `dmp serve --help-config`.\n\n"
                 "| option | variable | type | default | description |\n"
                 "|---|---|---|---|---|\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char env[64];
        env_name(opts[i].name, env, sizeof(env));
        static const char *tn[] = {"string", "size", "integer", "list"};
        fprintf(out, "| `%s` | `%s` | %s | %s%s%s | %s", opts[i].name, env, tn[opts[i].type],
                opts[i].def[0] ? "`" : "", opts[i].def[0] ? opts[i].def : "(none)",
                opts[i].def[0] ? "`" : "", opts[i].desc);
        if (opts[i].type == OPT_UINT || opts[i].type == OPT_SIZE)
            fprintf(out, " Range %llu to %llu.", opts[i].min, opts[i].max);
        fprintf(out, " |\n");
    }
    fprintf(out, "\nExample `dmp.yaml`:\n\n```yaml\nlisten: 127.0.0.1:8181\ndata-dir: ./dmp-data\n"
                 "max-body: 8MiB\nprovisioners:\n  s3cdp: http://127.0.0.1:9090\n```\n");
}

int dmp_server_conf_load(int argc, char **argv, dmp_server_conf_t *c, int *help, FILE *out,
                         dmp_error_t *err)
{
    memset(c, 0, sizeof(*c));
    *help = 0;
    int rc;
    for (size_t i = 0; i < NOPTS; i++)
        if (opts[i].type != OPT_LIST && (rc = set_opt(c, &opts[i], opts[i].def, opts[i].name,
                                                      err)) != DMP_OK)
            return rc;
    /* Find --config / DMP_CONFIG first: the file is the lowest-precedence source. */
    const char *cfg = getenv("DMP_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(out);
            *help = 1;
            return DMP_OK;
        }
        if (!strcmp(argv[i], "--help-config")) {
            dmp_server_conf_markdown(out);
            *help = 1;
            return DMP_OK;
        }
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            cfg = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            cfg = argv[i] + 9;
    }
    if (cfg != NULL && *cfg) {
        if ((rc = apply_file(c, cfg, err)) != DMP_OK)
            return rc;
        set_opt(c, find_opt("config", 6), cfg, "config", err);
    } else if (access("dmp.yaml", R_OK) == 0) {
        if ((rc = apply_file(c, "dmp.yaml", err)) != DMP_OK)
            return rc;
        set_opt(c, find_opt("config", 6), "dmp.yaml", "config", err);
    }
    for (size_t i = 0; i < NOPTS; i++) {
        char env[64];
        env_name(opts[i].name, env, sizeof(env));
        const char *v = getenv(env);
        if (v == NULL || (opts[i].type == OPT_LIST && *v == '\0'))
            continue;
        if (opts[i].type == OPT_LIST) {
            /* comma-separated list */
            char *copy = dmp_strdup(v), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                set_opt(c, &opts[i], t, env, err);
            dmp_free(copy);
        } else if ((rc = set_opt(c, &opts[i], v, env, err)) != DMP_OK) {
            return rc;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0)
            return DMP_ERR(err, DMP_INVALID, "unexpected argument '%s' (see dmp serve --help)", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        const opt_t *o = find_opt(name, nl);
        if (o == NULL) {
            char tmp[64];
            snprintf(tmp, sizeof(tmp), "%.*s", (int)(nl > 60 ? 60 : nl), name);
            const char *s = suggest(tmp);
            return DMP_ERR(err, DMP_INVALID, "unknown flag '--%s'%s%s%s", tmp,
                           s ? " (did you mean '--" : "", s ? s : "", s ? "'?)" : "");
        }
        const char *val = eq ? eq + 1 : NULL;
        if (val == NULL) {
            if (i + 1 >= argc)
                return DMP_ERR(err, DMP_INVALID, "flag '--%s' needs a value", o->name);
            val = argv[++i];
        }
        char origin[64];
        snprintf(origin, sizeof(origin), "--%s", o->name);
        if ((rc = set_opt(c, o, val, origin, err)) != DMP_OK)
            return rc;
    }
    if (strcmp(c->log_level, "debug") && strcmp(c->log_level, "info") &&
        strcmp(c->log_level, "warn") && strcmp(c->log_level, "error"))
        return DMP_ERR(err, DMP_INVALID,
                       "log-level: '%s' is not one of debug, info, warn, error", c->log_level);
    if (strcmp(c->log_format, "json") && strcmp(c->log_format, "text"))
        return DMP_ERR(err, DMP_INVALID, "log-format: '%s' is not one of json, text",
                       c->log_format);
    for (size_t i = 0; i < c->n_provisioners; i++)
        if (strchr(c->provisioners[i], '=') == NULL)
            return DMP_ERR(err, DMP_INVALID,
                           "provisioner: '%s' is not TECHNOLOGY=URL (e.g. s3cdp=http://127.0.0.1:9090)",
                           c->provisioners[i]);
    return DMP_OK;
}

void dmp_server_conf_fini(dmp_server_conf_t *c)
{
    for (size_t i = 0; i < NOPTS; i++) {
        char *base = (char *)c + opts[i].offset;
        if (opts[i].type == OPT_STR) {
            dmp_free(*(char **)base);
        } else if (opts[i].type == OPT_LIST) {
            char **v = *(char ***)base;
            size_t n = *(size_t *)(base + sizeof(char **));
            for (size_t j = 0; j < n; j++)
                dmp_free(v[j]);
            dmp_free(v);
        }
    }
    memset(c, 0, sizeof(*c));
}
