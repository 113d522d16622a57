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

#include "dmp/auth.h"
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

/* ---- access: who may do what on a port, and what they see of its events */

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* The ACL of a port from its metadata: the port's owner, allow, visibility and tags, and
 * the product's owner and tags, which the dmp-log provisioner records at every create and
 * ACL update (a PUT swaps in a new port object). No store lookup on the request path. */
static int port_acl(const json_t *meta, dmp_acl_t *acl)
{
    const char *port = jstr(meta, "port");
    json_t *pt = json_object();
    static const char *const keep[] = {"owner", "allow", "visibility", "tags"};
    json_object_set_new(pt, "name", json_string(port ? port : ""));
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        json_t *v = json_object_get(meta, keep[i]);
        if (v != NULL && !json_is_null(v))
            json_object_set(pt, keep[i], v);
    }
    json_t *doc = json_pack("{s:s, s:[o]}", "domain", jstr(meta, "domain") ? jstr(meta, "domain")
                                                                            : "",
                            "outputPorts", pt);
    if (jstr(meta, "product_owner") != NULL)
        json_object_set(doc, "owner", json_object_get(meta, "product_owner"));
    if (json_is_array(json_object_get(meta, "product_tags")))
        json_object_set(doc, "tags", json_object_get(meta, "product_tags"));
    int rc = dmp_acl_from_json(doc, port, acl, NULL);
    json_decref(doc);
    return rc;
}

/* What access checks need of one port object, worked out once per port object (which
 * never changes; an update swaps in a new one) and kept in the port's slot. Counted: the
 * port holds one reference, every view that may outlive the request holds another. */
typedef struct port_facts {
    int refs;     /* atomic */
    dmp_acl_t acl;
    json_t *schema; /* NULL: no schema (nothing is classified) */
    int pii;        /* the schema classifies something */
} port_facts_t;

static void facts_release(void *ud)
{
    port_facts_t *f = ud;
    if (f == NULL || __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    dmp_acl_fini(&f->acl);
    json_decref(f->schema);
    dmp_free(f);
}

/* p's facts (borrowed: valid while p is held); NULL when its ACL cannot be worked out. */
static port_facts_t *port_facts(dmp_stream_port_t *p)
{
    port_facts_t *f = dmp_streams_port_slot(p);
    if (f != NULL)
        return f;
    const json_t *meta = dmp_streams_port_meta_ref(p);
    f = dmp_calloc(1, sizeof(*f));
    f->refs = 1;
    if (port_acl(meta, &f->acl) != DMP_OK) {
        dmp_free(f);
        return NULL; /* not cached: the metadata is judged again next time */
    }
    json_t *schema = json_object_get(meta, "schema");
    if (json_is_object(schema) || json_is_boolean(schema))
        f->schema = json_deep_copy(schema); /* jansson references are not atomic */
    f->pii = f->schema != NULL && dmp_mask_schema_has_pii(f->schema);
    return dmp_streams_port_slot_set(p, f, facts_release);
}

/* One reader's view of one port: the ACL and schema it is judged and masked by. Owns
 * what it points to (a reference to the port's facts, a copy of the principal), so it may
 * outlive the request (SSE, push workers). */
typedef struct port_view {
    port_facts_t *f;
    dmp_acl_t *acl;       /* &f->acl */
    json_t *schema;       /* f->schema */
    dmp_principal_t *who; /* NULL: anonymous */
    dmp_mask_policy_t pol;
    int masked;           /* 1 when who must see classified values masked */
} port_view_t;

static void view_free(void *ud)
{
    port_view_t *v = ud;
    if (v == NULL)
        return;
    facts_release(v->f);
    dmp_principal_free(v->who);
    dmp_free(v);
}

/* Builds who's view of p; NULL when the ACL cannot be worked out. */
static port_view_t *view_new(const dmp_services_t *svc, const dmp_principal_t *who,
                             dmp_stream_port_t *p)
{
    port_facts_t *f = port_facts(p);
    if (f == NULL)
        return NULL;
    __atomic_add_fetch(&f->refs, 1, __ATOMIC_ACQ_REL);
    port_view_t *v = dmp_calloc(1, sizeof(*v));
    v->f = f;
    v->acl = &f->acl;
    v->schema = f->schema;
    v->who = who ? dmp_principal_dup(who) : NULL;
    static const dmp_mask_policy_t redact = {DMP_MASK_REDACT, NULL, 0};
    v->pol = svc->mask ? *svc->mask : redact;
    v->masked = f->pii && !dmp_mask_may_see_pii(v->who, v->acl);
    return v;
}

/* dmp_streams_mask_fn: the event data as the view's reader may see it. */
static json_t *view_mask(void *ud, const json_t *data)
{
    port_view_t *v = ud;
    if (!v->masked)
        return NULL;
    json_t *out = NULL;
    if (dmp_mask_json(v->schema, data, v->who, v->acl, &v->pol, &out, NULL) != DMP_OK)
        return json_string(DMP_MASK_REDACTED); /* cannot walk it: hide all of it */
    return out;
}

/* Resolves the request's product and port and authorizes 'action' on it; replies and
 * returns NULL when it cannot. A port the caller may not read answers exactly as a port
 * that does not exist. On success *view (when asked for) is the caller's view. */
static dmp_stream_port_t *resolve_named(dmp_http_req_t *req, dmp_http_resp_t *resp,
                                        dmp_action_t action, port_view_t **view,
                                        const char *domain, const char *name, const char *port,
                                        const char *product);

static dmp_stream_port_t *resolve_port(dmp_http_req_t *req, dmp_http_resp_t *resp,
                                       dmp_action_t action, port_view_t **view)
{
    if (view != NULL)
        *view = NULL;
    if (no_service(req, resp))
        return NULL;
    const char *domain = dmp_http_param(req, "domain"), *name = dmp_http_param(req, "name");
    const char *port = dmp_http_param(req, "port");
    char pbuf[256]; /* "domain/name"; a longer one is allocated */
    size_t dl = strlen(domain), nl = strlen(name), plen = dl + nl + 2;
    char *product = plen <= sizeof(pbuf) ? pbuf : dmp_malloc(plen);
    memcpy(product, domain, dl);
    product[dl] = '/';
    memcpy(product + dl + 1, name, nl + 1);
    dmp_stream_port_t *p = resolve_named(req, resp, action, view, domain, name, port, product);
    if (product != pbuf)
        dmp_free(product);
    return p;
}

static dmp_stream_port_t *resolve_named(dmp_http_req_t *req, dmp_http_resp_t *resp,
                                        dmp_action_t action, port_view_t **view,
                                        const char *domain, const char *name, const char *port,
                                        const char *product)
{
    dmp_error_t err = {0};
    dmp_stream_port_t *p = NULL;
    int rc = dmp_streams_port_find(req->svc->streams, dmp_http_query(req, "environment"), domain,
                                   name, port, &p, &err);
    if (rc == DMP_NOTFOUND || rc == DMP_INVALID) {
        dmp_http_reply_hidden(req, resp, product, port, action);
        return NULL;
    }
    if (rc != DMP_OK) {
        reply_err(resp, &err, NULL);
        return NULL;
    }
    /* The port's facts are cached on the port object; a view (a copy of the principal
     * and a reference to the facts) is made only for the handlers that ask for one. */
    port_facts_t *f = port_facts(p);
    if (f == NULL) {
        dmp_http_reply_hidden(req, resp, product, port, action);
        rc = -1;
    } else {
        rc = dmp_http_authorize(req, resp, &f->acl, product, port, action);
    }
    if (rc == 0 && view != NULL && (*view = view_new(req->svc, req->principal, p)) == NULL) {
        dmp_http_reply_hidden(req, resp, product, port, action);
        rc = -1;
    }
    if (rc != 0) {
        dmp_streams_port_release(p);
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
    dmp_stream_header_t *v; /* stack, or allocated past it */
    size_t n, cap;
    dmp_stream_header_t stack[32];
} hdrs_t;

static int collect_header(void *ud, const char *name, const char *value)
{
    hdrs_t *h = ud;
    if (h->n == 256)
        return 1;
    if (h->n == h->cap) { /* the first 32 sit on the stack */
        h->cap = h->cap ? h->cap * 2 : 16;
        if (h->v == h->stack) {
            h->v = dmp_malloc(h->cap * sizeof(*h->v));
            memcpy(h->v, h->stack, h->n * sizeof(*h->v));
        } else {
            h->v = dmp_realloc(h->v, h->cap * sizeof(*h->v));
        }
    }
    h->v[h->n].name = name;
    h->v[h->n].value = value;
    h->n++;
    return 0;
}

static void h_post_events(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    dmp_stream_port_t *p = resolve_port(req, resp, DMP_ACT_PUBLISH, NULL);
    if (p == NULL)
        return;
    hdrs_t h;
    h.v = h.stack;
    h.n = 0;
    h.cap = sizeof(h.stack) / sizeof(h.stack[0]);
    dmp_http_each_header(req, collect_header, &h);
    const char *type = dmp_http_header(req, "X-Dmp-Event-Type");
    if (type == NULL)
        type = dmp_http_query(req, "type");
    int dup = 0;
    dmp_stream_input_t in = {
        .content_type = req->content_type,
        .headers = h.v,
        .n_headers = h.n,
        .body = req->body,
        .len = req->body_len,
        .type = type,
        .ack_json = &resp->body, /* a single accepted event's reply, written in place */
        .ack_duplicate = &dup,
    };
    json_t *reply = NULL;
    int batch = 0;
    dmp_error_t err = {0};
    int rc = dmp_streams_ingest(req->svc->streams, p, &in, &reply, &batch, &err);
    if (rc == DMP_OK && !batch && reply == NULL) {
        dmp_buf_putc(&resp->body, '\n');
        resp->status = dup ? 200 : 201;
        resp->content_type = "application/json";
    } else if (rc != DMP_OK) {
        reply_err(resp, &err, json_object_get(reply, "errors"));
        json_decref(reply);
    } else if (batch) {
        json_int_t acc = json_integer_value(json_object_get(reply, "accepted"));
        json_int_t rej = json_integer_value(json_object_get(reply, "rejected"));
        json_int_t dups = json_integer_value(json_object_get(reply, "duplicates"));
        int status = rej == 0 ? 200 : (acc + dups > 0 ? 207 : 422);
        if (acc + rej + dups == 0) {
            json_decref(reply);
            dmp_http_reply_problem(resp, 400, "DMP_INVALID", "the batch holds no events", NULL,
                                   NULL);
        } else {
            dmp_http_reply_json(resp, status, reply);
        }
    } else {
        dmp_http_reply_json(resp, json_is_true(json_object_get(reply, "duplicate")) ? 200 : 201,
                            reply);
    }
    if (h.v != h.stack)
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
    port_view_t *view = NULL;
    dmp_stream_port_t *p = resolve_port(req, resp, DMP_ACT_READ, &view);
    if (p == NULL)
        return;
    dmp_stream_query_t q = {0};
    if (view->masked) {
        q.mask = view_mask;
        q.mask_ud = view;
    }
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
    view_free(view);
    dmp_streams_port_release(p);
}

/* ---- GET .../subscribe (Server-Sent Events) */

#define SSE_ACCESS_CHECK_MS 1000

typedef struct sse {
    const dmp_services_t *svc;
    port_view_t *view; /* the subscriber's view; rebuilt (and re-judged) every second */
    int64_t checked_ms;
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
    view_free(s->view);
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
            s->checked_ms = 0;
        }
        /* Access is judged again against the port's current ACL about once a second: a
         * PUT that withdraws it ends the stream (docs/security.md). */
        if (dmp_now_ms() - s->checked_ms >= SSE_ACCESS_CHECK_MS) {
            port_view_t *nv = view_new(s->svc, s->view->who, s->p);
            if (nv == NULL || dmp_authz_check(nv->who, nv->acl, DMP_ACT_READ, NULL) != DMP_OK) {
                view_free(nv);
                return -1;
            }
            view_free(s->view);
            s->view = nv;
            s->checked_ms = dmp_now_ms();
        }
        dmp_stream_query_t q = {.from = s->next, .limit = 256, .filter = s->filter,
                                .format = DMP_STREAM_FMT_SSE};
        if (s->view->masked) {
            q.mask = view_mask;
            q.mask_ud = s->view;
        }
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
    port_view_t *view = NULL;
    dmp_stream_port_t *p = resolve_port(req, resp, DMP_ACT_READ, &view);
    if (p == NULL)
        return;
    dmp_stream_query_t q = {0};
    dmp_cesql_t *filter = NULL;
    if (read_query(req, resp, &q, &filter) != 0) {
        view_free(view);
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
    s->svc = req->svc;
    s->view = view;
    s->checked_ms = dmp_now_ms();
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

/* Masks the rejected events of a rejected-events page for the view's reader. A
 * rejected event need not match the schema; what the schema classifies is masked where
 * it is found, and an event that is not a JSON object is hidden whole. */
static void mask_rejected(port_view_t *v, json_t *page)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(page, "rejected"), i, r)
    {
        if (json_object_get(r, "raw") != NULL)
            json_object_set_new(r, "raw", json_string(DMP_MASK_REDACTED));
        /* the error message may quote the offending (classified) value */
        json_t *e = json_object_get(r, "error");
        if (json_is_object(e)) {
            json_t *keep = json_object();
            static const char *const safe[] = {"code", "field", "path", "pointer", "location"};
            for (size_t k = 0; k < sizeof(safe) / sizeof(safe[0]); k++)
                if (json_object_get(e, safe[k]) != NULL)
                    json_object_set(keep, safe[k], json_object_get(e, safe[k]));
            json_object_set_new(keep, "message",
                                json_string("hidden: it may quote a classified value"));
            json_object_set_new(r, "error", keep);
        }
        json_t *ev = json_object_get(r, "event");
        if (ev == NULL)
            continue;
        json_t *data = json_is_object(ev) ? json_object_get(ev, "data") : NULL;
        if (json_is_object(ev) && json_object_get(ev, "specversion") != NULL) {
            if (data != NULL) {
                json_t *m = view_mask(v, data);
                if (m != NULL)
                    json_object_set_new(ev, "data", m);
            }
            json_object_del(ev, "data_base64");
        } else {
            json_t *m = json_is_object(ev) ? view_mask(v, ev) : json_string(DMP_MASK_REDACTED);
            if (m != NULL)
                json_object_set_new(r, "event", m);
        }
    }
}

static void h_rejected(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    port_view_t *view = NULL;
    dmp_stream_port_t *p = resolve_port(req, resp, DMP_ACT_READ, &view);
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
        if (dmp_streams_rejected(req->svc->streams, p, from, (size_t)limit, &out, &err) !=
            DMP_OK) {
            reply_err(resp, &err, NULL);
        } else {
            if (view->masked)
                mask_rejected(view, out);
            dmp_http_reply_json(resp, 200, out);
        }
    }
    view_free(view);
    dmp_streams_port_release(p);
}

static void h_port(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    dmp_stream_port_t *p = resolve_port(req, resp, DMP_ACT_READ, NULL);
    if (p == NULL)
        return;
    dmp_http_reply_json(resp, 200, dmp_streams_port_describe(p));
    dmp_streams_port_release(p);
}

static void h_streams(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (no_service(req, resp))
        return;
    /* only the ports the caller may read */
    json_t *all = dmp_streams_ports(req->svc->streams), *out = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(all, i, d)
    {
        dmp_acl_t acl = {0};
        if (port_acl(d, &acl) == DMP_OK &&
            dmp_authz_check(req->principal, &acl, DMP_ACT_READ, NULL) == DMP_OK)
            json_array_append(out, d);
        dmp_acl_fini(&acl);
    }
    json_decref(all);
    dmp_http_reply_json(resp, 200, out);
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

/* A subscription belongs to its creator (its "owner" member, the creator's principal);
 * only the creator and admins see or change it. Others get the answer for an unknown id. */
static int sub_mine(const dmp_http_req_t *req, const json_t *sub)
{
    const dmp_principal_t *me = req->principal;
    if (me == NULL)
        return 0;
    if (me->admin)
        return 1;
    const char *owner = jstr(json_object_get(sub, "owner"), "name");
    return owner != NULL && dmp_str_eq(owner, me->name);
}

static void reply_no_sub(dmp_http_resp_t *resp, const char *id)
{
    dmp_error_t err = {0};
    DMP_ERR(&err, DMP_NOTFOUND, "no subscription '%.100s'", id ? id : "");
    reply_err(resp, &err, NULL);
}

/* The subscription 'id' when the caller may see it (new reference), else replies 404. */
static json_t *sub_load(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    const char *id = dmp_http_param(req, "id");
    json_t *out = NULL;
    if (dmp_streams_sub_get(req->svc->streams, id, &out, NULL) != DMP_OK ||
        !sub_mine(req, out)) {
        json_decref(out);
        reply_no_sub(resp, id);
        return NULL;
    }
    return out;
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
    /* The creator must be allowed to read the port; hidden ports look absent. */
    const char *product = jstr(body, "product"), *port = jstr(body, "port");
    const char *slash = product ? strchr(product, '/') : NULL;
    if (json_is_object(body) && slash != NULL && port != NULL) {
        char *domain = dmp_strndup(product, (size_t)(slash - product));
        dmp_stream_port_t *p = NULL;
        int rc = dmp_streams_port_find(req->svc->streams, jstr(body, "environment"), domain,
                                       slash + 1, port, &p, &err);
        dmp_free(domain);
        if (rc == DMP_NOTFOUND || rc == DMP_INVALID) {
            dmp_http_reply_hidden(req, resp, product, port, DMP_ACT_READ);
            json_decref(body);
            return;
        }
        if (rc == DMP_OK) {
            port_view_t *v = view_new(req->svc, req->principal, p);
            int denied = v == NULL ? (dmp_http_reply_hidden(req, resp, product, port,
                                                            DMP_ACT_READ),
                                      1)
                                   : dmp_http_authorize(req, resp, v->acl, product, port,
                                                        DMP_ACT_READ) != 0;
            view_free(v);
            dmp_streams_port_release(p);
            if (denied) {
                json_decref(body);
                return;
            }
        }
        memset(&err, 0, sizeof(err));
    }
    if (json_is_object(body)) {
        json_object_del(body, "owner");
        if (req->principal != NULL)
            json_object_set_new(body, "owner", dmp_principal_to_json(req->principal));
    }
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
    json_t *all = dmp_streams_sub_list(req->svc->streams), *out = json_array();
    size_t i;
    json_t *sub;
    json_array_foreach(all, i, sub) if (sub_mine(req, sub)) json_array_append(out, sub);
    json_decref(all);
    dmp_http_reply_json(resp, 200, out);
}

static void h_sub_get(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (no_service(req, resp))
        return;
    json_t *out = sub_load(req, resp);
    if (out != NULL)
        dmp_http_reply_json(resp, 200, out);
}

static void h_sub_update(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (no_service(req, resp))
        return;
    json_t *cur = sub_load(req, resp);
    if (cur == NULL)
        return;
    json_decref(cur);
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
    json_t *cur = sub_load(req, resp);
    if (cur == NULL)
        return;
    json_decref(cur);
    dmp_error_t err = {0};
    if (dmp_streams_sub_delete(req->svc->streams, dmp_http_param(req, "id"), &err) != DMP_OK) {
        reply_err(resp, &err, NULL);
        return;
    }
    resp->status = 204;
    resp->content_type = NULL;
}

/* ---- the access check of push subscriptions (dmp_streams_set_access) */

/* The principal a subscription was created by, from its stored "owner" member. */
static dmp_principal_t *principal_of(const json_t *who)
{
    const char *name = jstr(who, "name");
    if (name == NULL)
        return NULL;
    json_t *gs = json_object_get(who, "groups");
    size_t n = json_array_size(gs);
    const char **groups = dmp_calloc(n + 1, sizeof(*groups));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (json_is_string(json_array_get(gs, i)))
            groups[k++] = json_string_value(json_array_get(gs, i));
    dmp_principal_t *p =
        dmp_principal_new(name, groups, k, json_is_true(json_object_get(who, "admin")));
    dmp_free(groups);
    return p;
}

static int push_view(void *ud, const json_t *who, dmp_stream_port_t *p, dmp_streams_mask_fn *mask,
                     void **mask_ud)
{
    const dmp_services_t *svc = ud;
    *mask = NULL;
    *mask_ud = NULL;
    dmp_principal_t *owned = NULL;
    const dmp_principal_t *pr = NULL;
    if (!dmp_auth_enabled(svc->auth))
        pr = dmp_auth_dev_principal(); /* dev mode: every caller is the admin */
    else if (!dmp_auth_principal_active(svc->auth, jstr(who, "name")))
        return DMP_UNAUTHENTICATED; /* the creator's token is gone: stop delivering */
    else
        pr = owned = principal_of(who);
    port_view_t *v = view_new(svc, pr, p);
    dmp_principal_free(owned);
    int rc = v == NULL ? DMP_NOTFOUND : dmp_authz_check(v->who, v->acl, DMP_ACT_READ, NULL);
    if (rc != DMP_OK) {
        view_free(v);
        return rc;
    }
    if (v->masked)
        *mask = view_mask;
    *mask_ud = v;
    return DMP_OK;
}

void dmp_http_events_install(const dmp_services_t *svc)
{
    if (svc->streams == NULL)
        return;
    dmp_streams_access_t a = {push_view, view_free, (void *)svc};
    dmp_streams_set_access(svc->streams, &a);
}

void dmp_http_events_uninstall(const dmp_services_t *svc)
{
    if (svc->streams != NULL)
        dmp_streams_set_access(svc->streams, NULL);
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
