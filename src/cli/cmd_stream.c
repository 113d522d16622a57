/* cmd_stream.c -- `dmp publish` (NDJSON in, per-event results out) and `dmp tail` (read a
 * stream port by offset, optionally filtered with CESQL, optionally following). Both talk
 * to the events endpoints of `dmp serve` (docs/streams.md). */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <unistd.h>

#include "cli/client.h"

#define PUBLISH_MAX_LINES 1000
#define PUBLISH_MAX_BYTES (1024 * 1024)
#define PUBLISH_MAX_INPUT ((size_t)1 << 30)

static const char publish_usage[] =
    "usage: dmp publish PRODUCT PORT [FILE|-] [options]\n\n"
    "Publishes NDJSON to a stream port: each line is plain JSON data (dmp wraps it in a\n"
    "CloudEvents envelope) or a structured CloudEvent. Reads stdin when FILE is '-' or absent.\n"
    "PRODUCT is DOMAIN/NAME. Prints one result per event: accepted (with its offset),\n"
    "duplicate, or rejected (with the field, value and rule).\n\n"
    "options:\n"
    "  -e, --environment ENV  the product's environment when it has several\n"
    "  -o, --output FMT       text (default) or json\n"
    "  -s, --server URL       the server (default $DMP_SERVER or http://127.0.0.1:8181)\n"
    "      --token TOKEN      bearer token (default $DMP_TOKEN); never printed\n"
    "      --cacert FILE      CA certificates (PEM) for an https server (default $DMP_CACERT)\n"
    "  -h, --help             this help\n\n"
    "exit codes: 0 all accepted, 1 some rejected or the server refused, 64 usage,\n"
    "65 unreadable input, 69 server unreachable\n";

static const char tail_usage[] =
    "usage: dmp tail PRODUCT PORT [options]\n\n"
    "Prints a stream port's events (CloudEvents, one JSON object per line), oldest first.\n\n"
    "options:\n"
    "  --from N               start at offset N (default: the start of the retained log)\n"
    "  --limit N              stop after N events (default: all, or forever with --follow)\n"
    "  --filter CESQL         only events matching the CESQL expression\n"
    "  -f, --follow           keep waiting for new events\n"
    "  -e, --environment ENV  the product's environment when it has several\n"
    "  -o, --output FMT       text (default: offset, time, type, data) or json\n"
    "  -s, --server URL       the server (default $DMP_SERVER or http://127.0.0.1:8181)\n"
    "      --token TOKEN      bearer token (default $DMP_TOKEN); never printed\n"
    "      --cacert FILE      CA certificates (PEM) for an https server (default $DMP_CACERT)\n"
    "  -h, --help             this help\n\n"
    "exit codes: 0 ok, 1 the server refused, 64 usage, 69 server unreachable\n";

/* "domain/name" -> escaped "/v1/products/<d>/<n>/ports/<p>"; NULL on a bad PRODUCT. */
static char *port_path(const char *cmd, const char *product, const char *port)
{
    dmp_buf_t b = DMP_BUF_INIT;
    if (dmp_client_product_path(cmd, product, "/v1/products", &b) != 0) {
        dmp_buf_free(&b);
        return NULL;
    }
    char *p = dmp_client_escape(port);
    dmp_buf_printf(&b, "/ports/%s", p);
    dmp_free(p);
    return dmp_buf_steal(&b);
}

static int read_input(const char *file, char **out, size_t *len)
{
    if (file != NULL && strcmp(file, "-") != 0)
        return dmp_read_file(file, PUBLISH_MAX_INPUT, out, len, NULL);
    dmp_buf_t b = DMP_BUF_INIT;
    char chunk[65536];
    ssize_t n;
    while ((n = read(0, chunk, sizeof(chunk))) > 0) {
        dmp_buf_append(&b, chunk, (size_t)n);
        if (b.len > PUBLISH_MAX_INPUT) {
            dmp_buf_free(&b);
            return DMP_LIMIT;
        }
    }
    if (n < 0) {
        dmp_buf_free(&b);
        return DMP_IO;
    }
    *len = b.len;
    *out = b.data ? dmp_buf_steal(&b) : dmp_strdup("");
    return DMP_OK;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

static void print_result(const dmp_client_opts_t *o, json_t *r, size_t line)
{
    const char *status = json_string_value(json_object_get(r, "status"));
    if (o->output == DMP_OUT_JSON)
        return;
    if (status && !strcmp(status, "rejected")) {
        json_t *e = json_object_get(r, "error");
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *detail = json_string_value(json_object_get(e, "detail"));
        printf("line %zu: rejected: %s [%s]\n", line, detail ? detail : "", code ? code : "error");
    } else {
        printf("line %zu: %s offset %lld id %s\n", line, status ? status : "?",
               (long long)json_integer_value(json_object_get(r, "offset")),
               json_string_value(json_object_get(r, "id")) ?: "");
    }
}

int dmp_cmd_publish(int argc, char **argv)
{
    dmp_client_opts_t o;
    int rc = dmp_client_parse("publish", argc, argv, &o, publish_usage);
    if (rc != 0 || o.help)
        return rc;
    if (o.nargs < 2 || o.nargs > 3) {
        fputs(publish_usage, stderr);
        return DMP_EXIT_USAGE;
    }
    char *path = port_path("publish", o.args[0], o.args[1]);
    if (path == NULL)
        return DMP_EXIT_USAGE;
    char *url = o.environment ? dmp_asprintf("%s/events?environment=%s", path, o.environment)
                              : dmp_asprintf("%s/events", path);
    char *input = NULL;
    size_t len = 0;
    if (read_input(o.nargs == 3 ? o.args[2] : NULL, &input, &len) != DMP_OK) {
        dmp_free(path);
        dmp_free(url);
        return dmp_cli_fail(DMP_EXIT_DATAERR, "publish", "cannot read %s: %s",
                            o.nargs == 3 ? o.args[2] : "stdin", strerror(errno));
    }
    json_t *all = json_array();
    size_t accepted = 0, rejected = 0, duplicates = 0;
    size_t lineno = 0;
    int exit_code = DMP_EXIT_OK;
    const char *s = input, *end = input + len;
    size_t lines_cap = PUBLISH_MAX_LINES;
    size_t *lines = dmp_malloc(lines_cap * sizeof(size_t));
    while (s < end && exit_code == DMP_EXIT_OK) {
        /* One chunk: up to 1000 non-blank lines and about 1 MiB. */
        const char *start = s;
        size_t n = 0;
        while (s < end && n < PUBLISH_MAX_LINES && (size_t)(s - start) < PUBLISH_MAX_BYTES) {
            const char *nl = memchr(s, '\n', (size_t)(end - s));
            const char *le = nl ? nl : end;
            lineno++;
            if (!blank(s, (size_t)(le - s)))
                lines[n++] = lineno;
            s = nl ? nl + 1 : end;
        }
        if (n == 0)
            continue;
        long status = 0;
        json_t *reply = NULL;
        dmp_error_t err = {0};
        if (dmp_client_call(&o, "POST", url, start, (size_t)(s - start), "application/x-ndjson",
                            &status, &reply, &err) != DMP_OK) {
            exit_code = dmp_client_fail_call("publish", &o, &err);
            break;
        }
        json_t *results = json_object_get(reply, "results");
        if (!json_is_array(results)) {
            exit_code = dmp_client_report_problem("publish", status, reply);
            json_decref(reply);
            break;
        }
        size_t i;
        json_t *r;
        json_array_foreach(results, i, r)
        {
            size_t idx = (size_t)json_integer_value(json_object_get(r, "index"));
            size_t line = idx < n ? lines[idx] : 0;
            json_object_set_new(r, "line", json_integer((json_int_t)line));
            print_result(&o, r, line);
            const char *st = json_string_value(json_object_get(r, "status"));
            if (st && !strcmp(st, "rejected"))
                rejected++;
            else if (st && !strcmp(st, "duplicate"))
                duplicates++;
            else
                accepted++;
            json_array_append(all, r);
        }
        json_decref(reply);
    }
    if (o.output == DMP_OUT_JSON) {
        json_t *doc =
            json_pack("{s:I, s:I, s:I, s:o}", "accepted", (json_int_t)accepted, "rejected",
                      (json_int_t)rejected, "duplicates", (json_int_t)duplicates, "results", all);
        dmp_cli_print_json(doc);
        json_decref(doc);
    } else {
        if (exit_code == DMP_EXIT_OK)
            printf("%zu accepted, %zu duplicates, %zu rejected\n", accepted, duplicates, rejected);
        json_decref(all);
    }
    if (exit_code == DMP_EXIT_OK && rejected > 0)
        exit_code = DMP_EXIT_FAIL;
    dmp_free(lines);
    dmp_free(input);
    dmp_free(path);
    dmp_free(url);
    return exit_code;
}

/* One GET of the events endpoint. Like dmp_client_call, but it also returns the
 * X-Dmp-Next-Offset header: a filtered read may pass over many records without a match,
 * and tail continues from where the server stopped looking. */
typedef struct tail_resp {
    dmp_buf_t body;
    unsigned long long next; /* 0: the header was absent */
} tail_resp_t;

static size_t tail_on_body(char *p, size_t size, size_t n, void *ud)
{
    tail_resp_t *r = ud;
    dmp_buf_append(&r->body, p, size * n);
    return size * n;
}

static size_t tail_on_header(char *p, size_t size, size_t n, void *ud)
{
    tail_resp_t *r = ud;
    static const char name[] = "X-Dmp-Next-Offset:";
    size_t len = size * n;
    if (len > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
        char v[32];
        size_t vl = len - (sizeof(name) - 1);
        if (vl >= sizeof(v))
            vl = sizeof(v) - 1;
        memcpy(v, p + sizeof(name) - 1, vl);
        v[vl] = '\0';
        r->next = strtoull(v, NULL, 10);
    }
    return len;
}

static int tail_get(const dmp_client_opts_t *o, const char *path, long *status, json_t **reply,
                    unsigned long long *next, dmp_error_t *err)
{
    *reply = NULL;
    *status = 0;
    *next = 0;
    CURL *c = curl_easy_init();
    if (c == NULL)
        return DMP_ERR(err, DMP_IO, "cannot initialise libcurl");
    char *url = dmp_asprintf("%s%s", o->server, path);
    tail_resp_t r = {.body = DMP_BUF_INIT};
    struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: application/json");
    dmp_client_setup_curl(o, c, &hdrs); /* token and CA bundle, as every client call */
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tail_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, tail_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c);
    int rc = DMP_OK;
    if (cc != CURLE_OK) {
        int unreachable = cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
                          cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_URL_MALFORMAT ||
                          cc == CURLE_UNSUPPORTED_PROTOCOL;
        rc = DMP_ERR(err, unreachable ? DMP_UNAVAILABLE : DMP_IO, "GET %s: %s", url,
                     curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        if (r.body.len)
            *reply = json_loadb(r.body.data, r.body.len, 0, NULL);
        *next = r.next;
    }
    dmp_client_free_headers(hdrs);
    curl_easy_cleanup(c);
    dmp_buf_free(&r.body);
    dmp_free(url);
    return rc;
}

static void print_event(const dmp_client_opts_t *o, json_t *ev)
{
    if (o->output == DMP_OUT_JSON) {
        char *s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
        return;
    }
    json_t *data = json_object_get(ev, "data");
    char *d = data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) : NULL;
    printf("%lld\t%s\t%s\t%s\n", (long long)json_integer_value(json_object_get(ev, "dmpoffset")),
           json_string_value(json_object_get(ev, "time")) ?: "-",
           json_string_value(json_object_get(ev, "type")) ?: "-", d ? d : "");
    free(d);
}

int dmp_cmd_tail(int argc, char **argv)
{
    /* Take tail's own options out before the shared parser sees argv. */
    char **rest = dmp_calloc((size_t)argc + 1, sizeof(char *));
    int nrest = 0, follow = 0;
    const char *filter = NULL;
    unsigned long long from = 0, limit = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i > 0 && (!strcmp(a, "--follow") || !strcmp(a, "-f"))) {
            follow = 1;
        } else if (i > 0 &&
                   (!strcmp(a, "--from") || !strcmp(a, "--limit") || !strcmp(a, "--filter"))) {
            if (i + 1 >= argc) {
                dmp_free(rest);
                return dmp_cli_fail(DMP_EXIT_USAGE, "tail", "%s needs a value", a);
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--filter")) {
                filter = v;
            } else {
                char *e;
                errno = 0;
                unsigned long long n = strtoull(v, &e, 10);
                if (*v == '\0' || *v == '-' || *e || errno) {
                    dmp_free(rest);
                    return dmp_cli_fail(DMP_EXIT_USAGE, "tail", "%s '%s' is not a whole number", a,
                                        v);
                }
                if (!strcmp(a, "--from"))
                    from = n;
                else
                    limit = n;
            }
        } else {
            rest[nrest++] = argv[i];
        }
    }
    dmp_client_opts_t o;
    int rc = dmp_client_parse("tail", nrest, rest, &o, tail_usage);
    if (rc != 0 || o.help) {
        dmp_free(rest);
        return rc;
    }
    if (o.nargs != 2) {
        dmp_free(rest);
        fputs(tail_usage, stderr);
        return DMP_EXIT_USAGE;
    }
    char *path = port_path("tail", o.args[0], o.args[1]);
    if (path == NULL) {
        dmp_free(rest);
        return DMP_EXIT_USAGE;
    }
    char *ffilter = filter ? dmp_client_escape(filter) : NULL;
    if (from == 0)
        from = 1;
    unsigned long long printed = 0;
    int exit_code = DMP_EXIT_OK;
    for (;;) {
        unsigned long long want = limit ? limit - printed : 1000;
        if (want > 1000)
            want = 1000;
        char *url = dmp_asprintf(
            "%s/events?from=%llu&limit=%llu%s%s%s%s%s", path, from, want, ffilter ? "&filter=" : "",
            ffilter ? ffilter : "", follow ? "&wait_ms=20000" : "",
            o.environment ? "&environment=" : "", o.environment ? o.environment : "");
        long status = 0;
        json_t *reply = NULL;
        dmp_error_t err = {0};
        unsigned long long next = 0;
        rc = tail_get(&o, url, &status, &reply, &next, &err);
        dmp_free(url);
        if (rc != DMP_OK) {
            exit_code = dmp_client_fail_call("tail", &o, &err);
            break;
        }
        if (status != 200 || !json_is_array(reply)) {
            exit_code = dmp_client_report_problem("tail", status, reply);
            json_decref(reply);
            break;
        }
        size_t i;
        json_t *ev;
        json_array_foreach(reply, i, ev)
        {
            print_event(&o, ev);
            from = (unsigned long long)json_integer_value(json_object_get(ev, "dmpoffset")) + 1;
            printed++;
        }
        size_t got = json_array_size(reply);
        json_decref(reply);
        fflush(stdout);
        if (limit && printed >= limit)
            break;
        /* The server says where it stopped looking (past records a filter skipped). */
        int moved = next > from;
        if (moved)
            from = next;
        if (got == 0 && !moved && !follow)
            break; /* nothing more to examine: the end of the log */
    }
    dmp_free(ffilter);
    dmp_free(path);
    dmp_free(rest);
    return exit_code;
}
