/* h_events.c -- the data-plane endpoints: ingest, reads, Server-Sent Events, rejected
 * events and subscriptions. Handlers only translate HTTP to the stream-port service
 * (streams.h); every port-scoped request goes through resolve_port(), the one place a
 * per-request access check belongs.
 *
 *   POST   /v1/products/{domain}/{name}/ports/{port}/events
 *   GET    /v1/products/{domain}/{name}/ports/{port}/events
 *   GET    /v1/products/{domain}/{name}/ports/{port}/subscribe      (text/event-stream)
 *   GET    /v1/products/{domain}/{name}/ports/{port}/rejected
 *   GET    /v1/products/{domain}/{name}/ports/{port}/stream         (port metadata, stats)
 *   GET    /v1/streams
 *   POST   /v1/subscriptions, GET /v1/subscriptions
 *   GET|PUT|DELETE /v1/subscriptions/{id}
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "dmp/cesql.h"
#include "dmp/streams.h"
#include "http/http_int.h"

#define SSE_HEARTBEAT_MS 15000
#define SSE_WAIT_SLICE_MS 250

/* problem+json from 'err', plus an optional "errors" list (borrowed). */
static void reply_err(dmp_http_resp_t *resp, const dmp_error_t *err, json_t *errors)
{
    int status = dmp_errhttp(err->code);
    json_t *p = json_object();
    char type[96];
    snprintf(type, sizeof(type), "urn:dmp:problem:%s", dmp_errname(err->code));
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "title", json_string(dmp_strerror(err->code)));
    json_object_set_new(p, "status", json_integer(status));
    json_object_set_new(p, "code", json_string(dmp_errname(err->code)));
    json_object_set_new(p, "detail", json_string(err->msg));
    if (err->path[0])
        json_object_set_new(p, "field", json_string(err->path));
    if (err->where[0])
        json_object_set_new(p, "location", json_string(err->where));
    if (errors != NULL)
        json_object_set(p, "errors", errors);
    dmp_http_reply_json(resp, status, p);
    resp->content_type = "application/problem+json";
}

static int no_service(const dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (req->svc->streams != NULL)
        return 0;
    dmp_http_reply_problem(resp, 503, "DMP_UNAVAILABLE", "the stream service is not running",
                           NULL, NULL);
    return 1;
}

/* Resolves the request's product and port; replies and returns NULL when it cannot.
 * The single place where a request meets a port: an access check goes here. */
static dmp_stream_port_t *resolve_port(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (no_service(req, resp))
        return NULL;
    dmp_error_t err = {0};
    dmp_stream_port_t *p = NULL;
    if (dmp_streams_port_find(req->svc->streams, dmp_http_query(req, "environment"),
                              dmp_http_param(req, "domain"), dmp_http_param(req, "name"),
                              dmp_http_param(req, "port"), &p, &err) != DMP_OK) {
        reply_err(resp, &err, NULL);
        return NULL;
    }
    return p;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s == '\0' || *s == '-')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno)
        return -1;
    *out = v;
    return 0;
}

/* RFC 3339 or ms since the epoch. */
static int parse_time(const char *s, int64_t *out)
{
    uint64_t v;
    if (parse_u64(s, &v) == 0) {
        *out = (int64_t)v;
        return 0;
    }
    return dmp_time_parse(s, out) == DMP_OK ? 0 : -1;
}

static int bad_param(dmp_http_resp_t *resp, const char *name, const char *val, const char *rule)
{
    char msg[300];
    snprintf(msg, sizeof(msg), "query parameter '%s'='%.100s' %s", name, val, rule);
    dmp_http_reply_problem(resp, 400, "DMP_INVALID", msg, name, NULL);
    return -1;
}

/* ---- POST .../events */

typedef struct hdrs {
    dmp_stream_header_t *v;
    size_t n, cap;
} hdrs_t;

static int collect_header(void *ud, const char *name, const char *value)
{
    hdrs_t *h = ud;
    if (h->n == 256)
        return 1;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->v = dmp_realloc(h->v, h->cap * sizeof(*h->v));
    }
    h->v[h->n].name = name;
    h->v[h->n].value = value;
    h->n++;
    return 0;
}

static void h_post_events(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    dmp_stream_port_t *p = resolve_port(req, resp);
    if (p == NULL)
        return;
    hdrs_t h = {0};
    dmp_http_each_header(req, collect_header, &h);
    const char *type = dmp_http_header(req, "X-Dmp-Event-Type");
    if (type == NULL)
        type = dmp_http_query(req, "type");
    dmp_stream_input_t in = {
        .content_type = req->content_type,
        .headers = h.v,
        .n_headers = h.n,
        .body = req->body,
        .len = req->body_len,
        .type = type,
    };
    json_t *reply = NULL;
    int batch = 0;
    dmp_error_t err = {0};
    int rc = dmp_streams_ingest(req->svc->streams, p, &in, &reply, &batch, &err);
    if (rc != DMP_OK) {
        reply_err(resp, &err, json_object_get(reply, "errors"));
        json_decref(reply);
    } else if (batch) {
        json_int_t acc = json_integer_value(json_object_get(reply, "accepted"));
        json_int_t rej = json_integer_value(json_object_get(reply, "rejected"));
        json_int_t dup = json_integer_value(json_object_get(reply, "duplicates"));
        int status = rej == 0 ? 200 : (acc + dup > 0 ? 207 : 422);
        if (acc + rej + dup == 0) {
            json_decref(reply);
            dmp_http_reply_problem(resp, 400, "DMP_INVALID", "the batch holds no events", NULL,
                                   NULL);
        } else {
            dmp_http_reply_json(resp, status, reply);
        }
    } else {
        int dup = json_is_true(json_object_get(reply, "duplicate"));
        dmp_http_reply_json(resp, dup ? 200 : 201, reply);
    }
    dmp_free(h.v);
    dmp_streams_port_release(p);
}

/* ---- GET .../events */

static int read_query(dmp_http_req_t *req, dmp_http_resp_t *resp, dmp_stream_query_t *q,
                      dmp_cesql_t **filter)
{
    const char *v;
    uint64_t u;
    *filter = NULL;
    if ((v = dmp_http_query(req, "from")) != NULL) {
        if (parse_u64(v, &u) != 0)
            return bad_param(resp, "from", v, "is not an offset (a whole number)");
        q->from = u;
    }
    if ((v = dmp_http_query(req, "limit")) != NULL) {
        if (parse_u64(v, &u) != 0 || u == 0 || u > 10000)
            return bad_param(resp, "limit", v, "must be 1..10000");
        q->limit = (size_t)u;
    }
    static const char *tnames[] = {"since", "until", "event_since", "event_until"};
    int64_t *tvals[] = {&q->since_ms, &q->until_ms, &q->event_since_ms, &q->event_until_ms};
    for (int i = 0; i < 4; i++)
        if ((v = dmp_http_query(req, tnames[i])) != NULL && parse_time(v, tvals[i]) != 0)
            return bad_param(resp, tnames[i], v,
                             "is not a time (RFC 3339, or ms since the epoch)");
    if ((v = dmp_http_query(req, "filter")) != NULL && *v) {
        dmp_error_t err = {0};
        if (dmp_cesql_parse(v, strlen(v), NULL, filter, &err) != DMP_OK) {
            if (!err.path[0])
                snprintf(err.path, sizeof(err.path), "filter");
            reply_err(resp, &err, NULL);
            return -1;
        }
        q->filter = *filter;
    }
    return 0;
}

static int accepts(const dmp_http_req_t *req, const char *type)
{
    const char *a = dmp_http_header(req, "Accept");
    return a != NULL && strcasestr(a, type) != NULL;
}

static void h_get_events(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    dmp_stream_port_t *p = resolve_port(req, resp);
    if (p == NULL)
        return;
    dmp_stream_query_t q = {0};
    dmp_cesql_t *filter = NULL;
    uint64_t wait_ms = 0;
    const char *w = dmp_http_query(req, "wait_ms");
    if (read_query(req, resp, &q, &filter) != 0)
        goto out;
    if (w != NULL && (parse_u64(w, &wait_ms) != 0 || wait_ms > 60000)) {
        bad_param(resp, "wait_ms", w, "must be 0..60000");
        goto out;
    }
    q.format = accepts(req, "application/x-ndjson") || accepts(req, "application/ndjson")
                   ? DMP_STREAM_FMT_NDJSON
                   : DMP_STREAM_FMT_ARRAY;
    dmp_buf_t out = DMP_BUF_INIT;
    uint64_t next = 0;
    size_t count = 0;
    dmp_error_t err = {0};
    int64_t deadline = dmp_now_ms() + (int64_t)wait_ms;
    int rc;
    for (;;) {
        dmp_buf_reset(&out);
        rc = dmp_streams_read(req->svc->streams, p, &q, &out, &next, &count, &err);
        if (rc != DMP_OK || count > 0 || dmp_now_ms() >= deadline)
            break;
        if (next > q.from && q.from != 0)
            q.from = next; /* skip what the filter or time bounds passed over */
        int left = (int)(deadline - dmp_now_ms());
        if (dmp_streams_wait(p, (next ? next : 1) - 1, left > 0 ? left : 0) == DMP_UNAVAILABLE)
            break;
    }
    if (rc != DMP_OK) {
        dmp_buf_free(&out);
        reply_err(resp, &err, NULL);
        goto out;
    }
    resp->status = 200;
    resp->content_type = q.format == DMP_STREAM_FMT_NDJSON ? "application/x-ndjson"
                                                           : "application/cloudevents-batch+json";
    resp->body = out;
    dmp_buf_printf(&resp->headers, "X-Dmp-Next-Offset: %llu\nX-Dmp-Count: %zu\n",
                   (unsigned long long)next, count);
out:
    dmp_cesql_free(filter);
    dmp_streams_port_release(p);
}

/* ---- GET .../subscribe (Server-Sent Events) */

typedef struct sse {
    dmp_streams_t *st;
    dmp_stream_port_t *p;
    char *env, *domain, *name, *port;
    dmp_cesql_t *filter;
    uint64_t next;
    int fd;
    dmp_buf_t pending;
    size_t pos;
    int64_t last_write_ms;
} sse_t;

static void sse_free(void *ud)
{
    sse_t *s = ud;
    dmp_streams_port_release(s->p);
    dmp_cesql_free(s->filter);
    dmp_buf_free(&s->pending);
    dmp_free(s->env);
    dmp_free(s->domain);
    dmp_free(s->name);
    dmp_free(s->port);
    dmp_free(s);
}

/* 1 when the peer closed or reset the connection. */
static int client_gone(int fd)
{
    if (fd < 0)
        return 0;
    struct pollfd pf = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll(&pf, 1, 0) <= 0)
        return 0;
    if (pf.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
        return 1;
    if (pf.revents & POLLIN) {
        char c;
        ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        return n == 0;
    }
    return 0;
}

static long sse_next(void *ud, char *buf, size_t max)
{
    sse_t *s = ud;
    for (;;) {
        if (s->pos < s->pending.len) {
            size_t n = s->pending.len - s->pos;
            if (n > max)
                n = max;
            memcpy(buf, s->pending.data + s->pos, n);
            s->pos += n;
            s->last_write_ms = dmp_now_ms();
            return (long)n;
        }
        dmp_buf_reset(&s->pending);
        s->pos = 0;
        if (client_gone(s->fd))
            return -2;
        if (dmp_streams_port_gone(s->p)) {
            /* An update replaces the port object: follow it; a delete ends the stream. */
            dmp_stream_port_t *np = NULL;
            if (dmp_streams_port_find(s->st, s->env, s->domain, s->name, s->port, &np, NULL) !=
                DMP_OK)
                return -1;
            dmp_streams_port_release(s->p);
            s->p = np;
        }
        dmp_stream_query_t q = {.from = s->next, .limit = 256, .filter = s->filter,
                                .format = DMP_STREAM_FMT_SSE};
        uint64_t next = s->next;
        size_t count = 0;
        dmp_error_t err = {0};
        if (dmp_streams_read(s->st, s->p, &q, &s->pending, &next, &count, &err) != DMP_OK) {
            dmp_buf_reset(&s->pending);
            dmp_buf_printf(&s->pending, "event: error\ndata: %s\n\n", err.msg);
            s->next = dmp_streams_next_offset(s->p);
            continue;
        }
        if (next > s->next)
            s->next = next;
        if (s->pending.len > 0)
            continue;
        if (dmp_now_ms() - s->last_write_ms >= SSE_HEARTBEAT_MS) {
            dmp_buf_puts(&s->pending, ": keepalive\n\n");
            continue;
        }
        dmp_streams_wait(s->p, s->next - 1, SSE_WAIT_SLICE_MS);
    }
}

static void h_subscribe(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    dmp_stream_port_t *p = resolve_port(req, resp);
    if (p == NULL)
        return;
    dmp_stream_query_t q = {0};
    dmp_cesql_t *filter = NULL;
    if (read_query(req, resp, &q, &filter) != 0) {
        dmp_streams_port_release(p);
        return;
    }
    uint64_t from = dmp_streams_next_offset(p); /* live by default */
    const char *v = dmp_http_query(req, "from");
    const char *last = dmp_http_header(req, "Last-Event-ID");
    uint64_t u;
    if (last != NULL && parse_u64(last, &u) == 0)
        from = u + 1;
    else if (v != NULL)
        from = q.from ? q.from : 1;
    sse_t *s = dmp_calloc(1, sizeof(*s));
    s->st = req->svc->streams;
    s->p = p;
    s->env = dmp_strdup(dmp_http_query(req, "environment"));
    s->domain = dmp_strdup(dmp_http_param(req, "domain"));
    s->name = dmp_strdup(dmp_http_param(req, "name"));
    s->port = dmp_strdup(dmp_http_param(req, "port"));
    s->filter = filter;
    s->next = from;
    s->fd = dmp_http_conn_fd(req);
    s->last_write_ms = dmp_now_ms();
    dmp_buf_puts(&s->pending, ": dmp stream\nretry: 2000\n\n");
    resp->status = 200;
    resp->content_type = "text/event-stream";
    dmp_buf_puts(&resp->headers, "Cache-Control: no-cache\nX-Accel-Buffering: no\n");
    resp->stream = sse_next;
    resp->stream_ud = s;
    resp->stream_free = sse_free;
}

/* ---- GET .../rejected, .../stream, /v1/streams */

static void h_rejected(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    dmp_stream_port_t *p = resolve_port(req, resp);
    if (p == NULL)
        return;
    uint64_t from = 1, limit = 100;
    const char *v;
    if ((v = dmp_http_query(req, "from")) != NULL && parse_u64(v, &from) != 0) {
        bad_param(resp, "from", v, "is not an offset (a whole number)");
    } else if ((v = dmp_http_query(req, "limit")) != NULL &&
               (parse_u64(v, &limit) != 0 || limit == 0 || limit > 1000)) {
        bad_param(resp, "limit", v, "must be 1..1000");
    } else {
        json_t *out = NULL;
        dmp_error_t err = {0};
        if (dmp_streams_rejected(req->svc->streams, p, from, (size_t)limit, &out, &err) != DMP_OK)
            reply_err(resp, &err, NULL);
        else
            dmp_http_reply_json(resp, 200, out);
    }
    dmp_streams_port_release(p);
}

static void h_port(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    dmp_stream_port_t *p = resolve_port(req, resp);
    if (p == NULL)
        return;
    dmp_http_reply_json(resp, 200, dmp_streams_port_describe(p));
    dmp_streams_port_release(p);
}

static void h_streams(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (no_service(req, resp))
        return;
    dmp_http_reply_json(resp, 200, dmp_streams_ports(req->svc->streams));
}

/* ---- /v1/subscriptions */

static json_t *json_body(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    json_error_t je;
    json_t *v = json_loadb(req->body, req->body_len, 0, &je);
    if (v == NULL) {
        char msg[300], loc[32];
        snprintf(msg, sizeof(msg), "request body is not JSON: %s", je.text);
        snprintf(loc, sizeof(loc), "%d:%d", je.line, je.column);
        dmp_http_reply_problem(resp, 400, "DMP_PARSE", msg, NULL, loc);
    }
    return v;
}

static void h_sub_create(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (no_service(req, resp))
        return;
    json_t *body = json_body(req, resp);
    if (body == NULL)
        return;
    json_t *out = NULL;
    dmp_error_t err = {0};
    if (dmp_streams_sub_create(req->svc->streams, body, &out, &err) != DMP_OK) {
        reply_err(resp, &err, NULL);
    } else {
        resp->location = dmp_asprintf("/v1/subscriptions/%s",
                                      json_string_value(json_object_get(out, "id")));
        dmp_http_reply_json(resp, 201, out);
    }
    json_decref(body);
}

static void h_sub_list(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (no_service(req, resp))
        return;
    dmp_http_reply_json(resp, 200, dmp_streams_sub_list(req->svc->streams));
}

static void h_sub_get(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (no_service(req, resp))
        return;
    json_t *out = NULL;
    dmp_error_t err = {0};
    if (dmp_streams_sub_get(req->svc->streams, dmp_http_param(req, "id"), &out, &err) != DMP_OK)
        reply_err(resp, &err, NULL);
    else
        dmp_http_reply_json(resp, 200, out);
}

static void h_sub_update(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (no_service(req, resp))
        return;
    json_t *body = json_body(req, resp);
    if (body == NULL)
        return;
    json_t *out = NULL;
    dmp_error_t err = {0};
    if (dmp_streams_sub_update(req->svc->streams, dmp_http_param(req, "id"), body, &out, &err) !=
        DMP_OK)
        reply_err(resp, &err, NULL);
    else
        dmp_http_reply_json(resp, 200, out);
    json_decref(body);
}

static void h_sub_delete(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (no_service(req, resp))
        return;
    dmp_error_t err = {0};
    if (dmp_streams_sub_delete(req->svc->streams, dmp_http_param(req, "id"), &err) != DMP_OK) {
        reply_err(resp, &err, NULL);
        return;
    }
    resp->status = 204;
    resp->content_type = NULL;
}

#define PORT_PATH "/v1/products/{domain}/{name}/ports/{port}"

const dmp_http_route_t dmp_http_routes_events[] = {
    {"POST", PORT_PATH "/events", h_post_events},
    {"GET", PORT_PATH "/events", h_get_events},
    {"GET", PORT_PATH "/subscribe", h_subscribe},
    {"GET", PORT_PATH "/rejected", h_rejected},
    {"GET", PORT_PATH "/stream", h_port},
    {"GET", "/v1/streams", h_streams},
    {"POST", "/v1/subscriptions", h_sub_create},
    {"GET", "/v1/subscriptions", h_sub_list},
    {"GET", "/v1/subscriptions/{id}", h_sub_get},
    {"PUT", "/v1/subscriptions/{id}", h_sub_update},
    {"DELETE", "/v1/subscriptions/{id}", h_sub_delete},
    {NULL, NULL, NULL},
};
