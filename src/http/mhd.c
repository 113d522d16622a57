/* mhd.c -- the HTTPS engine: libmicrohttpd's epoll loop on a pool of MHD_THREADS
 * threads (MHD_USE_EPOLL_INTERNAL_THREAD, MHD_ALLOW_SUSPEND_RESUME), with its GnuTLS.
 * Plain HTTP is served by native.c; this file only moves bytes between libmicrohttpd and
 * the request layer of server.c (engine.h). Slow clients are cut by the per-connection
 * timeout. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "http/engine.h"

/* Loop threads: two per core of the 2-core target, as in native.c. */
#define MHD_THREADS 4

/* Each connection's libmicrohttpd memory pool (request line, headers, read and write
 * buffers; bodies are copied out as they arrive). The pool also bounds the request line,
 * so it stays at libmicrohttpd's default of 32 KiB (a long catalog search URL must fit). */
#define MHD_CONN_MEMORY (32 * 1024)

static const char *mhd_header(void *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static const char *mhd_query(void *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct each_hdr {
    int (*fn)(void *ud, const char *name, const char *value);
    void *ud;
} each_hdr_t;

static enum MHD_Result on_each_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    each_hdr_t *e = cls;
    return e->fn(e->ud, key, value ? value : "") == 0 ? MHD_YES : MHD_NO;
}

static void mhd_each_header(void *conn, int (*fn)(void *ud, const char *name, const char *value),
                            void *ud)
{
    each_hdr_t e = {fn, ud};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, on_each_header, &e);
}

static int mhd_fd(void *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

static void mhd_resume(void *conn)
{
    MHD_resume_connection(conn);
}

static void mhd_suspend(void *conn)
{
    MHD_suspend_connection(conn);
}

static const dmp_http_conn_ops_t mhd_ops = {mhd_header, mhd_query, mhd_each_header, mhd_fd,
                                            mhd_resume};

static int json_stdout_safe(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20)
            *s = ' ';
    return 0;
}

static ssize_t pump_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    long n = dmp_http_pump_take(cls, buf, max, mhd_suspend);
    if (n == -1)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n == -2)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return (ssize_t)n;
}

static void pump_free(void *cls)
{
    dmp_http_pump_done(cls);
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
                                 dmp_http_rctx_t *ctx)
{
    struct MHD_Response *r;
    dmp_http_pump_t *pump = NULL;
    if (resp->stream != NULL &&
        (pump = dmp_http_pump_start(ctx->srv, &mhd_ops, conn, resp)) == NULL) {
        dmp_buf_free(&resp->headers);
        dmp_http_reply_problem(resp, 503, "DMP_UNAVAILABLE", "cannot start a stream thread",
                               NULL, NULL);
    }
    if (pump != NULL) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, pump_read, pump,
                                              pump_free);
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

static enum MHD_Result problem_now(struct MHD_Connection *conn, dmp_http_rctx_t *ctx, int status,
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
    (void)version;
    dmp_http_server_t *srv = cls;
    dmp_http_rctx_t *ctx = *con_cls;
    if (ctx == NULL) {
        ctx = dmp_calloc(1, sizeof(*ctx));
        ctx->srv = srv;
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
            ctx->replied = 1;
            return problem_now(conn, ctx, 413, "DMP_LIMIT", msg);
        }
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        if (!ctx->too_big) {
            if (ctx->body.len + *upload_data_size > srv->conf.max_body_bytes) {
                /* A body without Content-Length (chunked) ran over: libmicrohttpd does
                 * not take a reply in the middle of an upload, so drop the rest (the
                 * per-connection timeout bounds a slow sender) and answer 413 at its end. */
                ctx->too_big = 1;
                dmp_buf_free(&ctx->body);
            }
            dmp_buf_append(&ctx->body, upload_data, *upload_data_size);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (ctx->too_big) {
        if (ctx->replied)
            return MHD_YES; /* the 413 is already queued */
        ctx->replied = 1;
        char msg[160];
        snprintf(msg, sizeof(msg), "request body exceeds the limit of %zu bytes",
                 srv->conf.max_body_bytes);
        return problem_now(conn, ctx, 413, "DMP_LIMIT", msg);
    }

    if (ctx->fiber == NULL) {
        ctx->fiber = dmp_http_fiber_new(srv, &mhd_ops, conn, ctx, method, url);
        if (ctx->fiber == NULL)
            return problem_now(conn, ctx, 503, "DMP_UNAVAILABLE", "out of memory for a request");
    }
    dmp_http_fiber_t *f = ctx->fiber;
    if (!dmp_http_fiber_step(f, mhd_suspend))
        return MHD_YES; /* parked: the connection is suspended until the fiber's wake-up */
    enum MHD_Result ret = send_resp(conn, &f->resp, ctx);
    dmp_free(f->resp.location);
    ctx->fiber = NULL;
    dmp_http_fiber_free(f);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    dmp_http_rctx_t *ctx = *con_cls;
    if (ctx == NULL)
        return;
    char addr[64] = "";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)ci->client_addr)->sin_addr, addr,
                  sizeof(addr));
    else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ci->client_addr)->sin6_addr, addr,
                  sizeof(addr));
    dmp_http_access_log(ctx, addr, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    dmp_buf_free(&ctx->body);
    dmp_free(ctx->url);
    dmp_free(ctx);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    dmp_log(DMP_LOG_DEBUG, "libmicrohttpd", "detail", msg, NULL);
}

int dmp_http_mhd_start(dmp_http_server_t *srv, const struct sockaddr_storage *ss, dmp_error_t *err)
{
    const dmp_http_conf_t *conf = &srv->conf;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (ss->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return DMP_ERR(err, DMP_UNSUPPORTED, "this libmicrohttpd was built without TLS");
    flags |= MHD_USE_TLS;
    srv->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)ss,
        MHD_OPTION_CONNECTION_LIMIT, conf->connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
        conf->timeout_s, MHD_OPTION_PER_IP_CONNECTION_LIMIT, conf->per_ip_limit,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        srv, MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024), MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)MHD_THREADS, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MHD_CONN_MEMORY,
        MHD_OPTION_HTTPS_MEM_CERT, conf->tls_cert_pem, MHD_OPTION_HTTPS_MEM_KEY,
        conf->tls_key_pem, MHD_OPTION_END);
    if (srv->d == NULL)
        return DMP_ERR(err, DMP_IO,
                       "cannot listen on %s (address in use or not allowed, or the TLS "
                       "certificate or key was rejected)",
                       conf->listen);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : 0;
    return DMP_OK;
}

void dmp_http_mhd_stop(dmp_http_server_t *srv)
{
    MHD_stop_daemon(srv->d);
    srv->d = NULL;
}
