/* server.c -- libmicrohttpd glue: accepts requests, enforces the body limit and
 * content checks, dispatches to the route table, writes one log line per request.
 *
 * Thread model: one thread per connection (MHD_USE_THREAD_PER_CONNECTION), capped
 * by connection_limit, so handlers may block. Slow clients are cut by the
 * per-connection timeout. Nothing here knows about stores or logs. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "dmp/auth.h"
#include "http/http_int.h"

struct dmp_http_server {
    struct MHD_Daemon *d;
    dmp_http_conf_t conf;
    dmp_services_t svc;
    int port;
    volatile int ready;
};

/* Per-request state, kept in MHD's con_cls between callbacks. */
typedef struct req_ctx {
    dmp_buf_t body;
    int too_big;
    int status;
    int64_t start_ns;
    char method[12];
    char *url; /* for the access log */
    char principal[128]; /* the caller's name, for the access log ("" = none) */
} req_ctx_t;

static const dmp_http_route_t *route_tables[] = {
    dmp_http_routes_health,
    dmp_http_routes_callbacks,
    dmp_http_routes_provision,
    dmp_http_routes_events,
    dmp_http_routes_catalog,
    dmp_http_routes_audit,
    dmp_http_routes_policies,
};

/* Tables served without authentication: liveness and readiness probes. */
static const dmp_http_route_t *public_tables[] = {
    dmp_http_routes_health,
    dmp_http_routes_callbacks, /* provisioner reports: authenticated by their callback token */
};

static int route_is_public(const dmp_http_route_t *route)
{
    for (size_t t = 0; t < sizeof(public_tables) / sizeof(public_tables[0]); t++)
        for (const dmp_http_route_t *r = public_tables[t]; r->pattern != NULL; r++)
            if (r == route)
                return 1;
    return 0;
}

const dmp_http_route_t *const *dmp_http_route_tables(size_t *n)
{
    *n = sizeof(route_tables) / sizeof(route_tables[0]);
    return route_tables;
}

const dmp_http_route_t *dmp_http_route_find(dmp_http_req_t *req, int *path_matched)
{
    *path_matched = 0;
    for (size_t t = 0; t < sizeof(route_tables) / sizeof(route_tables[0]); t++) {
        for (const dmp_http_route_t *r = route_tables[t]; r->pattern != NULL; r++) {
            /* Walk pattern and url segment by segment. */
            const char *p = r->pattern, *u = req->url;
            int n = 0;
            const char *names[DMP_HTTP_MAX_PARAMS];
            const char *vals[DMP_HTTP_MAX_PARAMS];
            size_t lens[DMP_HTTP_MAX_PARAMS];
            int ok = 1;
            while (*p && *u) {
                if (*p == '{') {
                    const char *pe = strchr(p, '}');
                    const char *ue = strchr(u, '/');
                    if (ue == NULL)
                        ue = u + strlen(u);
                    if (ue == u || n == DMP_HTTP_MAX_PARAMS) {
                        ok = 0;
                        break;
                    }
                    names[n] = p + 1;
                    vals[n] = u;
                    lens[n] = (size_t)(ue - u);
                    n++;
                    p = pe + 1;
                    u = ue;
                } else if (*p == *u) {
                    p++;
                    u++;
                } else {
                    ok = 0;
                    break;
                }
            }
            if (!ok || *p || *u)
                continue;
            *path_matched = 1;
            if (strcmp(r->method, req->method) != 0)
                continue;
            req->nparams = n;
            for (int i = 0; i < n; i++) {
                req->param_names[i] = names[i];
                req->params[i] = dmp_strndup(vals[i], lens[i]);
            }
            return r;
        }
    }
    return NULL;
}

const char *dmp_http_param(const dmp_http_req_t *req, const char *name)
{
    size_t nl = strlen(name);
    for (int i = 0; i < req->nparams; i++)
        if (strncmp(req->param_names[i], name, nl) == 0 && req->param_names[i][nl] == '}')
            return req->params[i];
    return NULL;
}

const char *dmp_http_query(const dmp_http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *dmp_http_header(const dmp_http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

typedef struct each_hdr {
    int (*fn)(void *ud, const char *name, const char *value);
    void *ud;
} each_hdr_t;

static enum MHD_Result on_each_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    each_hdr_t *e = cls;
    return e->fn(e->ud, key, value ? value : "") == 0 ? MHD_YES : MHD_NO;
}

void dmp_http_each_header(const dmp_http_req_t *req,
                          int (*fn)(void *ud, const char *name, const char *value), void *ud)
{
    each_hdr_t e = {fn, ud};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, on_each_header, &e);
}

int dmp_http_conn_fd(const dmp_http_req_t *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

int dmp_http_server_ready(const struct dmp_http_server *srv)
{
    return srv->ready;
}

void dmp_http_reply_json(dmp_http_resp_t *resp, int status, json_t *body)
{
    resp->status = status;
    resp->content_type = "application/json";
    char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    dmp_buf_reset(&resp->body);
    if (s) {
        dmp_buf_puts(&resp->body, s);
        free(s);
    }
    dmp_buf_putc(&resp->body, '\n');
    json_decref(body);
}

static const char *status_title(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 507: return "Insufficient Storage";
    default: return "Error";
    }
}

void dmp_http_reply_problem(dmp_http_resp_t *resp, int status, const char *code,
                            const char *detail, const char *field, const char *location)
{
    json_t *p = json_object();
    char type[96];
    snprintf(type, sizeof(type), "urn:dmp:problem:%s", code);
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "title", json_string(status_title(status)));
    json_object_set_new(p, "status", json_integer(status));
    json_object_set_new(p, "code", json_string(code));
    json_object_set_new(p, "detail", json_string(detail ? detail : ""));
    if (field && *field)
        json_object_set_new(p, "field", json_string(field));
    if (location && *location)
        json_object_set_new(p, "location", json_string(location));
    dmp_http_reply_json(resp, status, p);
    resp->content_type = "application/problem+json";
}

void dmp_http_reply_error(dmp_http_resp_t *resp, const dmp_error_t *err)
{
    dmp_http_reply_problem(resp, dmp_errhttp(err->code), dmp_errname(err->code), err->msg,
                           err->path, err->where);
}

static int json_stdout_safe(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20)
            *s = ' ';
    return 0;
}

typedef struct stream_ctx {
    long (*fn)(void *ud, char *buf, size_t max);
    void *ud;
    void (*free_fn)(void *ud);
} stream_ctx_t;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream_ctx_t *s = cls;
    long n = s->fn(s->ud, buf, max);
    if (n == -1)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return (ssize_t)n;
}

static void stream_done(void *cls)
{
    stream_ctx_t *s = cls;
    if (s->free_fn)
        s->free_fn(s->ud);
    dmp_free(s);
}

/* Adds "Name: value\n" lines to the response. */
static void add_extra_headers(struct MHD_Response *r, dmp_buf_t *h)
{
    char *line = h->data;
    while (line != NULL && *line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *colon = strchr(line, ':');
        if (colon) {
            *colon = '\0';
            const char *v = colon + 1;
            while (*v == ' ')
                v++;
            MHD_add_response_header(r, line, v);
        }
        line = nl ? nl + 1 : NULL;
    }
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, dmp_http_resp_t *resp,
                                 req_ctx_t *ctx)
{
    struct MHD_Response *r;
    if (resp->stream != NULL) {
        stream_ctx_t *s = dmp_malloc(sizeof(*s));
        s->fn = resp->stream;
        s->ud = resp->stream_ud;
        s->free_fn = resp->stream_free;
        resp->stream = NULL;
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, s,
                                              stream_done);
        dmp_buf_free(&resp->body);
    } else {
        size_t len = resp->body.len;
        char *data = dmp_buf_steal(&resp->body);
        r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    }
    add_extra_headers(r, &resp->headers);
    dmp_buf_free(&resp->headers);
    if (resp->content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    if (resp->location) {
        json_stdout_safe(resp->location);
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, resp->location);
    }
    if (resp->status == 413)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    ctx->status = resp->status;
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result problem_now(struct MHD_Connection *conn, req_ctx_t *ctx, int status,
                                   const char *code, const char *detail)
{
    dmp_http_resp_t resp = {0};
    dmp_http_reply_problem(&resp, status, code, detail, NULL, NULL);
    enum MHD_Result ret = send_resp(conn, &resp, ctx);
    dmp_free(resp.location);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    dmp_http_server_t *srv = cls;
    req_ctx_t *ctx = *con_cls;
    if (ctx == NULL) {
        ctx = dmp_calloc(1, sizeof(*ctx));
        ctx->start_ns = dmp_mono_ns();
        snprintf(ctx->method, sizeof(ctx->method), "%s", method);
        ctx->url = dmp_strndup(url, strnlen(url, 512));
        *con_cls = ctx;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoull(cl, NULL, 10) > srv->conf.max_body_bytes) {
            char msg[160];
            snprintf(msg, sizeof(msg), "request body of %s bytes exceeds the limit of %zu bytes",
                     cl, srv->conf.max_body_bytes);
            ctx->too_big = 1;
            return problem_now(conn, ctx, 413, "DMP_LIMIT", msg);
        }
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        if (!ctx->too_big) {
            if (ctx->body.len + *upload_data_size > srv->conf.max_body_bytes) {
                ctx->too_big = 1;
                dmp_buf_free(&ctx->body);
                char msg[160];
                snprintf(msg, sizeof(msg), "request body exceeds the limit of %zu bytes",
                         srv->conf.max_body_bytes);
                *upload_data_size = 0;
                return problem_now(conn, ctx, 413, "DMP_LIMIT", msg);
            }
            dmp_buf_append(&ctx->body, upload_data, *upload_data_size);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (ctx->too_big)
        return MHD_YES; /* the 413 is already queued */

    dmp_http_req_t req = {0};
    req.method = method;
    req.url = url;
    req.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_CONTENT_TYPE);
    req.body = ctx->body.data ? ctx->body.data : "";
    req.body_len = ctx->body.len;
    req.svc = &srv->svc;
    req.srv = srv;
    req.conn = conn;

    dmp_http_resp_t resp = {0};
    int path_matched;
    const dmp_http_route_t *route = dmp_http_route_find(&req, &path_matched);
    /* Authenticate every request once, before dispatch (unknown paths too, so they
     * cannot be probed anonymously); public routes (probes) skip it. */
    dmp_principal_t *owned = NULL;
    int authed = 0;
    if (route == NULL || !route_is_public(route))
        authed = dmp_http_authenticate(&req,
                                       MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                                   MHD_HTTP_HEADER_AUTHORIZATION),
                                       &resp, &owned);
    if (req.principal != NULL)
        snprintf(ctx->principal, sizeof(ctx->principal), "%s", req.principal->name);
    if (authed != 0) {
        /* the 401 is in resp */
    } else if (route != NULL) {
        route->fn(&req, &resp);
    } else if (path_matched) {
        char msg[128];
        snprintf(msg, sizeof(msg), "method %.16s is not allowed on this path", method);
        dmp_http_reply_problem(&resp, 405, "DMP_INVALID", msg, NULL, NULL);
    } else {
        dmp_http_reply_problem(&resp, 404, "DMP_NOTFOUND", "no such endpoint", NULL, NULL);
    }
    if (resp.status == 0)
        dmp_http_reply_problem(&resp, 500, "DMP_IO", "handler produced no reply", NULL, NULL);
    if (resp.status == 401)
        dmp_buf_puts(&resp.headers, "WWW-Authenticate: Bearer realm=\"dmp\"\n");
    dmp_http_audit_finish(&req, resp.status);
    enum MHD_Result ret = send_resp(conn, &resp, ctx);
    dmp_principal_free(owned);
    for (int i = 0; i < req.nparams; i++)
        dmp_free(req.params[i]);
    dmp_free(resp.location);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    dmp_http_server_t *srv = cls;
    req_ctx_t *ctx = *con_cls;
    if (ctx == NULL)
        return;
    if (srv->conf.access_log) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        char addr[64] = "";
        if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)ci->client_addr)->sin_addr, addr,
                      sizeof(addr));
        char status[16], dur[32], bytes[32];
        snprintf(status, sizeof(status), "%d", ctx->status);
        snprintf(dur, sizeof(dur), "%.3f", (double)(dmp_mono_ns() - ctx->start_ns) / 1e6);
        snprintf(bytes, sizeof(bytes), "%zu", ctx->body.len);
        dmp_log(DMP_LOG_INFO, "request", "method", ctx->method, "path", ctx->url, "status", status, "duration_ms", dur, "bytes_in",
                bytes, "remote", addr, "principal", ctx->principal[0] ? ctx->principal : "-",
                "outcome",
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ok" : "aborted", NULL);
    }
    dmp_buf_free(&ctx->body);
    dmp_free(ctx->url);
    dmp_free(ctx);
    *con_cls = NULL;
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sl,
                        dmp_error_t *err)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || (size_t)(colon - listen) >= sizeof(host))
        return DMP_ERR(err, DMP_INVALID, "listen address '%s' is not HOST:PORT", listen);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || colon[1] == '\0' || port < 0 || port > 65535)
        return DMP_ERR(err, DMP_INVALID, "listen address '%s' has a bad port", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    if (!strcmp(host, "localhost"))
        strcpy(host, "127.0.0.1");
    memset(ss, 0, sizeof(*ss));
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return DMP_ERR(err, DMP_INVALID, "listen address '%s' has a bad IPv6 host", listen);
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *sl = sizeof(*a6);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
            return DMP_ERR(err, DMP_INVALID, "listen address '%s' has a bad IPv4 host", listen);
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *sl = sizeof(*a4);
    }
    return DMP_OK;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    dmp_log(DMP_LOG_DEBUG, "libmicrohttpd", "detail", msg, NULL);
}

int dmp_http_start(const dmp_http_conf_t *conf, const dmp_services_t *svc, dmp_http_server_t **out,
                   dmp_error_t *err)
{
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t sl;
    int rc = parse_listen(conf->listen, &ss, &sl, err);
    if (rc != DMP_OK)
        return rc;
    dmp_http_server_t *srv = dmp_calloc(1, sizeof(*srv));
    srv->conf = *conf;
    srv->svc = *svc;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct MHD_OptionItem tls[3] = {{MHD_OPTION_END, 0, NULL}};
    if (conf->tls_cert_pem && conf->tls_key_pem) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            dmp_free(srv);
            return DMP_ERR(err, DMP_UNSUPPORTED, "this libmicrohttpd was built without TLS");
        }
        flags |= MHD_USE_TLS;
        tls[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)conf->tls_cert_pem};
        tls[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)conf->tls_key_pem};
        tls[2] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    }
    srv->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, conf->connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
        conf->timeout_s, MHD_OPTION_PER_IP_CONNECTION_LIMIT, conf->per_ip_limit,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv, MHD_OPTION_LISTENING_ADDRESS_REUSE,
        (unsigned)1, MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024), MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (srv->d == NULL) {
        dmp_free(srv);
        return DMP_ERR(err, DMP_IO, "cannot listen on %s (address in use or not allowed%s)",
                       conf->listen,
                       tls[0].option != MHD_OPTION_END ? ", or the TLS certificate or key was "
                                                         "rejected"
                                                       : "");
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : 0;
    dmp_http_events_install(&srv->svc); /* access checks of push subscriptions */
    *out = srv;
    return DMP_OK;
}

int dmp_http_port(const dmp_http_server_t *srv)
{
    return srv->port;
}

void dmp_http_set_ready(dmp_http_server_t *srv, int ready)
{
    srv->ready = ready;
}

void dmp_http_stop(dmp_http_server_t *srv)
{
    if (srv == NULL)
        return;
    MHD_stop_daemon(srv->d);
    dmp_http_events_uninstall(&srv->svc);
    dmp_free(srv);
}
