/* client.c -- HTTP calls from the CLI to the server, with libcurl. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "cli/client.h"

/* The output format of this process's command: problem replies go to stdout as JSON or
 * YAML when a script asked for machine output. */
static int client_output = DMP_OUT_TEXT;

int dmp_client_parse(const char *cmd, int argc, char **argv, dmp_client_opts_t *o,
                     const char *usage)
{
    memset(o, 0, sizeof(*o));
    o->server = getenv("DMP_SERVER");
    if (o->server == NULL || *o->server == '\0')
        o->server = "http://127.0.0.1:8181";
    o->timeout_s = 300;
    o->token = getenv("DMP_TOKEN");
    if (o->token != NULL && *o->token == '\0')
        o->token = NULL;
    o->cacert = getenv("DMP_CACERT");
    if (o->cacert != NULL && *o->cacert == '\0')
        o->cacert = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
#define TAKE(name)                                                                         \
    ((!strcmp(a, name) && i + 1 < argc && (val = argv[++i]) != NULL) ||                      \
     (!strncmp(a, name "=", sizeof(name)) && (val = a + sizeof(name)) != NULL))
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            o->help = 1;
            return 0;
        } else if (TAKE("-o") || TAKE("--output") ||
                   (!strncmp(a, "-o", 2) && a[2] != '\0' && (val = a + 2) != NULL)) {
            o->output = dmp_cli_parse_output(val);
            if (o->output < 0) {
                fprintf(stderr, "dmp %s: --output '%s' is not one of json, yaml, wide, text\n",
                        cmd, val);
                return DMP_EXIT_USAGE;
            }
        } else if (TAKE("--server") || TAKE("-s")) {
            o->server = val;
        } else if (TAKE("--token")) {
            /* the value is never echoed, not even in this message */
            if (*val == '\0' || strpbrk(val, "\r\n") != NULL) {
                fprintf(stderr, "dmp %s: --token must be one non-empty line\n", cmd);
                return DMP_EXIT_USAGE;
            }
            o->token = val;
        } else if (TAKE("--cacert")) {
            o->cacert = val;
        } else if (TAKE("--environment") || TAKE("-e")) {
            o->environment = val;
        } else if (TAKE("--version")) {
            o->version = val;
        } else if (TAKE("--timeout")) {
            o->timeout_s = atoi(val);
            if (o->timeout_s <= 0) {
                fprintf(stderr, "dmp %s: --timeout '%s' must be a positive number of seconds\n",
                        cmd, val);
                return DMP_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--no-wait")) {
            o->no_wait = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "dmp %s: unknown option '%s' (see dmp %s --help)\n", cmd, a, cmd);
            return DMP_EXIT_USAGE;
        } else {
            if (o->nargs == (int)(sizeof(o->args) / sizeof(o->args[0]))) {
                fprintf(stderr, "dmp %s: too many arguments\n", cmd);
                return DMP_EXIT_USAGE;
            }
            o->args[o->nargs++] = argv[i];
        }
#undef TAKE
    }
    client_output = o->output;
    return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    dmp_buf_append(ud, p, size * n);
    return size * n;
}

void dmp_client_setup_curl(const dmp_client_opts_t *o, void *curl, struct curl_slist **hdrs)
{
    if (o->token != NULL && strpbrk(o->token, "\r\n") == NULL) {
        char *h = dmp_asprintf("Authorization: Bearer %s", o->token);
        *hdrs = curl_slist_append(*hdrs, h); /* libcurl copies it */
        explicit_bzero(h, strlen(h));
        dmp_free(h);
    }
    if (o->cacert != NULL)
        curl_easy_setopt(curl, CURLOPT_CAINFO, o->cacert);
}

void dmp_client_free_headers(struct curl_slist *hdrs)
{
    for (struct curl_slist *h = hdrs; h != NULL; h = h->next)
        if (h->data != NULL && !strncmp(h->data, "Authorization:", 14))
            explicit_bzero(h->data, strlen(h->data));
    curl_slist_free_all(hdrs);
}

int dmp_client_call(const dmp_client_opts_t *o, const char *method, const char *path,
                    const char *body, size_t len, const char *content_type, long *status,
                    json_t **reply, dmp_error_t *err)
{
    *reply = NULL;
    *status = 0;
    CURL *c = curl_easy_init();
    if (c == NULL)
        return DMP_ERR(err, DMP_IO, "cannot initialise libcurl");
    char *url = dmp_asprintf("%s%s", o->server, path);
    dmp_buf_t out = DMP_BUF_INIT;
    struct curl_slist *hdrs = NULL;
    char ct[128];
    if (content_type) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, ct);
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    dmp_client_setup_curl(o, c, &hdrs);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode cc = curl_easy_perform(c);
    int rc = DMP_OK;
    if (cc != CURLE_OK) {
        int unreachable = cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
                          cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_URL_MALFORMAT ||
                          cc == CURLE_UNSUPPORTED_PROTOCOL;
        rc = DMP_ERR(err, unreachable ? DMP_UNAVAILABLE : DMP_IO, "%s %s: %s", method, url,
                     curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        if (out.len) {
            json_error_t jerr;
            *reply = json_loadb(out.data, out.len, 0, &jerr);
        }
    }
    dmp_client_free_headers(hdrs);
    curl_easy_cleanup(c);
    dmp_buf_free(&out);
    dmp_free(url);
    return rc;
}

int dmp_client_report_problem(const char *cmd, long status, json_t *reply)
{
    if (reply != NULL && client_output == DMP_OUT_JSON)
        dmp_cli_print_json(reply);
    else if (reply != NULL && client_output == DMP_OUT_YAML)
        dmp_cli_print_yaml(reply);
    const char *code = json_string_value(json_object_get(reply, "code"));
    const char *detail = json_string_value(json_object_get(reply, "detail"));
    const char *loc = json_string_value(json_object_get(reply, "location"));
    json_t *errors = json_object_get(reply, "errors");
    if (json_array_size(errors) > 0) {
        size_t i;
        json_t *e;
        json_array_foreach(errors, i, e)
        {
            const char *file = json_string_value(json_object_get(e, "file"));
            json_int_t line = json_integer_value(json_object_get(e, "line"));
            json_int_t col = json_integer_value(json_object_get(e, "col"));
            const char *path = json_string_value(json_object_get(e, "path"));
            const char *msg = json_string_value(json_object_get(e, "message"));
            const char *ecode = json_string_value(json_object_get(e, "code"));
            if (line > 0)
                fprintf(stderr, "%s:%lld:%lld: ", file ? file : "<request>", (long long)line,
                        (long long)col);
            fprintf(stderr, "%s%s%s [%s]\n", path && *path ? path : "", path && *path ? ": " : "",
                    msg ? msg : "", ecode ? ecode : "");
        }
    }
    fprintf(stderr, "dmp %s: %s: %s%s%s%s\n", cmd, code ? code : "HTTP error",
            detail ? detail : "(no detail)", loc ? " (" : "", loc ? loc : "", loc ? ")" : "");
    if (code == NULL)
        fprintf(stderr, "dmp %s: server answered HTTP %ld\n", cmd, status);
    if (status == 401)
        fprintf(stderr, "  (the server needs a token: pass --token TOKEN or set DMP_TOKEN)\n");
    return DMP_EXIT_FAIL;
}

int dmp_client_fail_call(const char *cmd, const dmp_client_opts_t *o, const dmp_error_t *err)
{
    if (err->code == DMP_UNAVAILABLE) {
        fprintf(stderr, "dmp %s: cannot reach the server at %s: %s\n"
                        "  (start it with 'dmp serve', or set --server / DMP_SERVER)\n",
                cmd, o->server, err->msg);
        return DMP_EXIT_UNAVAILABLE;
    }
    fprintf(stderr, "dmp %s: %s\n", cmd, err->msg);
    return DMP_EXIT_FAIL;
}

char *dmp_client_escape(const char *s)
{
    dmp_buf_t b = DMP_BUF_INIT;
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            dmp_buf_putc(&b, (char)c);
        } else {
            dmp_buf_putc(&b, '%');
            dmp_buf_putc(&b, hex[c >> 4]);
            dmp_buf_putc(&b, hex[c & 15]);
        }
    }
    return dmp_buf_steal(&b);
}

int dmp_client_get_json(const dmp_client_opts_t *o, const char *cmd, const char *path,
                        json_t **out)
{
    long status = 0;
    dmp_error_t err = {0};
    *out = NULL;
    if (dmp_client_call(o, "GET", path, NULL, 0, NULL, &status, out, &err) != DMP_OK)
        return dmp_client_fail_call(cmd, o, &err);
    if (status / 100 != 2) {
        int code = dmp_client_report_problem(cmd, status, *out);
        json_decref(*out);
        *out = NULL;
        return code;
    }
    if (*out == NULL)
        return dmp_cli_fail(DMP_EXIT_FAIL, cmd, "the server sent no JSON");
    return DMP_EXIT_OK;
}

int dmp_client_product_path(const char *cmd, const char *product, const char *prefix,
                            dmp_buf_t *out)
{
    const char *slash = product ? strchr(product, '/') : NULL;
    if (slash == NULL || slash == product || slash[1] == '\0' || strchr(slash + 1, '/'))
        return dmp_cli_fail(DMP_EXIT_USAGE, cmd, "PRODUCT '%s' is not DOMAIN/NAME (see --help)",
                            product ? product : "");
    char *domain = dmp_strndup(product, (size_t)(slash - product));
    char *ed = dmp_client_escape(domain), *en = dmp_client_escape(slash + 1);
    dmp_buf_printf(out, "%s/%s/%s", prefix, ed, en);
    dmp_free(domain);
    dmp_free(ed);
    dmp_free(en);
    return 0;
}

void dmp_client_add_query(dmp_buf_t *path, char *sep, const char *name, const char *value)
{
    if (value == NULL)
        return;
    char *e = dmp_client_escape(value);
    dmp_buf_printf(path, "%c%s=%s", *sep, name, e);
    *sep = '&';
    dmp_free(e);
}
