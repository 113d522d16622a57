/* server.c -- the request layer shared by both HTTP engines (engine.h): dispatch to the
 * route tables, authentication before every handler, problem+json replies, handlers on
 * fibers, streaming responses from a pump thread, one access-log line per request.
 *
 * Thread model: an engine runs a few loop threads (native.c for plain HTTP, libmicrohttpd
 * in mhd.c for HTTPS). Every handler runs on a fiber (its own stack, switched to by
 * ctxsw.h) of the connection's loop thread. A handler that must wait for a group commit
 * (src/streams/ingest.c) parks its fiber instead of blocking the thread: the engine
 * suspends the connection, the group-commit thread wakes the fiber after the fdatasync,
 * the engine resumes the connection and the fiber runs on to its reply. So 64 clients
 * waiting for one fdatasync cost no thread and no context switch each. Other handlers run
 * to completion on the loop thread (they must not wait on other requests). Streaming
 * responses (SSE) have a blocking producer: it runs on a pump thread of its own that fills
 * a buffer the loop drains, suspending the connection while the buffer is empty.
 * Nothing here knows about stores or logs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "dmp/auth.h"
#include "dmp/streams.h"
#include "http/engine.h"

/* The web UI's static files (h_catalog.c). */
extern const dmp_http_route_t dmp_http_routes_webui[];

static const dmp_http_route_t *route_tables[] = {
    dmp_http_routes_health,
    dmp_http_routes_callbacks,
    dmp_http_routes_provision,
    dmp_http_routes_events,
    dmp_http_routes_catalog,
    dmp_http_routes_webui,
    dmp_http_routes_audit,
    dmp_http_routes_policies,
};

/* Tables served without authentication: liveness and readiness probes. */
static const dmp_http_route_t *public_tables[] = {
    dmp_http_routes_health,
    dmp_http_routes_callbacks, /* provisioner reports: authenticated by their callback token */
    dmp_http_routes_webui,     /* the UI's page and assets; its API calls carry a token */
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
            /* HEAD is served by the GET route (the engine sends no body) */
            if (strcmp(r->method, req->method) != 0 &&
                !(strcmp(req->method, "HEAD") == 0 && strcmp(r->method, "GET") == 0))
                continue;
            /* The values go into the request's buffer (one allocation when they do not
             * fit), not one allocation each. */
            size_t total = 0;
            for (int i = 0; i < n; i++)
                total += lens[i] + 1;
            char *dst = req->param_buf;
            if (total > sizeof(req->param_buf))
                dst = req->param_heap = dmp_malloc(total);
            req->nparams = n;
            for (int i = 0; i < n; i++) {
                req->param_names[i] = names[i];
                req->params[i] = dst;
                memcpy(dst, vals[i], lens[i]);
                dst[lens[i]] = '\0';
                dst += lens[i] + 1;
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
    return req->ops->query(req->conn, name);
}

const char *dmp_http_header(const dmp_http_req_t *req, const char *name)
{
    return req->ops->header(req->conn, name);
}

void dmp_http_each_header(const dmp_http_req_t *req,
                          int (*fn)(void *ud, const char *name, const char *value), void *ud)
{
    req->ops->each_header(req->conn, fn, ud);
}

int dmp_http_conn_fd(const dmp_http_req_t *req)
{
    return req->ops->fd(req->conn);
}

int dmp_http_server_ready(const struct dmp_http_server *srv)
{
    return srv->ready;
}

/* Writes a flat object (string, integer, boolean and null members) straight into b;
 * 0 when body is not one (json_dumps then writes it). The single-event ingest reply is
 * such an object, and json_dumps (its buffer growth and an snprintf per integer) was
 * about a tenth of a request's user CPU (docs/performance.md). */
static int put_flat_object(dmp_buf_t *b, json_t *body)
{
    const char *key;
    json_t *v;
    if (!json_is_object(body) || json_object_size(body) > 16)
        return 0;
    json_object_foreach(body, key, v)
    {
        if (!json_is_string(v) && !json_is_integer(v) && !json_is_boolean(v) && !json_is_null(v))
            return 0;
    }
    int first = 1;
    dmp_buf_putc(b, '{');
    json_object_foreach(body, key, v)
    {
        if (!first)
            dmp_buf_putc(b, ',');
        first = 0;
        dmp_buf_json_str(b, key, strlen(key));
        dmp_buf_putc(b, ':');
        if (json_is_string(v)) {
            dmp_buf_json_str(b, json_string_value(v), json_string_length(v));
        } else if (json_is_integer(v)) {
            json_int_t n = json_integer_value(v);
            if (n < 0)
                dmp_buf_putc(b, '-');
            dmp_buf_put_u64(b, n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n);
        } else {
            dmp_buf_puts(b, json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null");
        }
    }
    dmp_buf_putc(b, '}');
    return 1;
}

void dmp_http_reply_json(dmp_http_resp_t *resp, int status, json_t *body)
{
    resp->status = status;
    resp->content_type = "application/json";
    dmp_buf_reset(&resp->body);
    if (!put_flat_object(&resp->body, body)) {
        char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s) {
            dmp_buf_puts(&resp->body, s);
            free(s);
        }
    }
    dmp_buf_putc(&resp->body, '\n');
    json_decref(body);
}

const char *dmp_http_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 207: return "Multi-Status";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
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
    json_object_set_new(p, "title", json_string(dmp_http_status_text(status)));
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

/* ---- streaming responses: a pump thread runs the blocking producer
 *
 * The loop thread must never block, but a response's producer (resp->stream, e.g. SSE
 * waiting for new events) may. The pump thread calls it and appends what it returns to a
 * bounded buffer; the engine takes the buffer (dmp_http_pump_take), and when it is
 * empty suspends the connection until the pump resumes it. Whoever drops the last of the
 * two references (pump thread, response) frees the producer. */

#define PUMP_CAP (64 * 1024)

struct dmp_http_pump {
    pthread_mutex_t mu;
    pthread_cond_t cond; /* room in the buffer, or closed */
    long (*fn)(void *ud, char *buf, size_t max);
    void *ud;
    void (*free_fn)(void *ud);
    const dmp_http_conn_ops_t *ops;
    void *conn;
    char buf[PUMP_CAP];
    size_t len;
    int end;       /* -1 end of stream, -2 drop the connection (after the buffered bytes) */
    int closed;    /* the response is gone: stop */
    int suspended; /* the reader suspended the connection for want of bytes */
    int in_susp;   /* suspended and not yet called back (counted in srv->n_susp) */
    int refs;
    dmp_http_server_t *srv;
    struct dmp_http_pump *next, **prev; /* in srv->pumps while the response lives */
};
typedef dmp_http_pump_t pump_t;

static void pump_unref(pump_t *p)
{
    pthread_mutex_lock(&p->mu);
    int last = --p->refs == 0;
    pthread_mutex_unlock(&p->mu);
    if (!last)
        return;
    if (p->free_fn)
        p->free_fn(p->ud);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cond);
    dmp_free(p);
}

static void pump_resume(pump_t *p)
{
    if (p->suspended) {
        p->suspended = 0;
        p->ops->resume(p->conn);
    }
}

static void *pump_main(void *arg)
{
    pump_t *p = arg;
    char *tmp = dmp_malloc(PUMP_CAP);
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->closed && p->len == PUMP_CAP)
            pthread_cond_wait(&p->cond, &p->mu);
        size_t room = PUMP_CAP - p->len;
        int closed = p->closed;
        pthread_mutex_unlock(&p->mu);
        if (closed)
            break;
        long n = p->fn(p->ud, tmp, room);
        pthread_mutex_lock(&p->mu);
        if (n > 0) {
            memcpy(p->buf + p->len, tmp, (size_t)n);
            p->len += (size_t)n;
        } else {
            p->end = n == -1 ? -1 : -2;
        }
        if (!p->closed)
            pump_resume(p);
        int stop = p->end != 0 || p->closed;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
    }
    dmp_free(tmp);
    pump_unref(p);
    return NULL;
}

/* Lock order everywhere: srv->mu before a pump's or a fiber's mu. */
long dmp_http_pump_take(pump_t *p, char *buf, size_t max, void (*suspend)(void *conn))
{
    dmp_http_server_t *srv = p->srv;
    pthread_mutex_lock(&srv->mu);
    pthread_mutex_lock(&p->mu);
    if (p->in_susp) {
        p->in_susp = 0;
        srv->n_susp--;
    }
    long ret;
    if (p->len > 0) {
        size_t n = p->len < max ? p->len : max;
        memcpy(buf, p->buf, n);
        memmove(p->buf, p->buf + n, p->len - n);
        p->len -= n;
        pthread_cond_signal(&p->cond);
        ret = (long)n;
    } else if (p->end == -1) {
        ret = -1;
    } else if (p->end != 0 || srv->stopping) {
        ret = -2;
    } else {
        /* Nothing yet: park the connection until the pump has bytes (reporting "nothing"
         * without suspending would make the loop spin). */
        p->suspended = 1;
        p->in_susp = 1;
        srv->n_susp++;
        suspend(p->conn);
        ret = 0;
    }
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&srv->mu);
    return ret;
}

void dmp_http_pump_done(pump_t *p)
{
    pthread_mutex_lock(&p->srv->mu);
    *p->prev = p->next;
    if (p->next)
        p->next->prev = p->prev;
    if (p->in_susp) { /* the client left while the connection waited for bytes */
        p->in_susp = 0;
        p->srv->n_susp--;
    }
    pthread_mutex_unlock(&p->srv->mu);
    pthread_mutex_lock(&p->mu);
    p->closed = 1;
    p->suspended = 0;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
    pump_unref(p);
}

pump_t *dmp_http_pump_start(dmp_http_server_t *srv, const dmp_http_conn_ops_t *ops, void *conn,
                            dmp_http_resp_t *resp)
{
    pump_t *p = dmp_calloc(1, sizeof(*p));
    p->srv = srv;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->fn = resp->stream;
    p->ud = resp->stream_ud;
    p->free_fn = resp->stream_free;
    p->ops = ops;
    p->conn = conn;
    p->refs = 2;
    resp->stream = NULL;
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 512 * 1024);
    int rc = pthread_create(&t, &a, pump_main, p);
    pthread_attr_destroy(&a);
    if (rc != 0) {
        p->refs = 1;
        pump_unref(p);
        return NULL;
    }
    pthread_mutex_lock(&srv->mu);
    p->next = srv->pumps;
    if (p->next)
        p->next->prev = &p->next;
    p->prev = &srv->pumps;
    srv->pumps = p;
    pthread_mutex_unlock(&srv->mu);
    return p;
}

/* ---- fibers: handlers that can park without blocking the loop thread */

#define FIBER_STACK (512 * 1024)
#define FIBER_KEEP 256 /* idle stacks kept for reuse */

#ifdef DMP_FIBER_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
#endif

typedef dmp_http_fiber_t fiber_t;

static __thread fiber_t *tls_fiber; /* the fiber running on this thread */
/* A loop thread keeps a few idle fibers of its own (no lock per request); the rest go
 * to the shared pool. When the thread ends, a key destructor hands its spares back. */
#define FIBER_SPARE 8
static __thread fiber_t *tls_spare;
static __thread int tls_spare_n;
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t fiber_pool_mu = PTHREAD_MUTEX_INITIALIZER;

static void spare_key_dtor(void *p)
{
    (void)p;
    dmp_http_fiber_release_spares();
}

static void spare_key_make(void)
{
    pthread_key_create(&spare_key, spare_key_dtor);
}
static fiber_t *fiber_pool;
static size_t fiber_pool_n;

static void dispatch(fiber_t *f);

static void fiber_entry(void)
{
    fiber_t *f = tls_fiber;
#ifdef DMP_FIBER_ASAN
    __sanitizer_finish_switch_fiber(NULL, &f->back_bottom, &f->back_size);
#endif
    dispatch(f);
    f->finished = 1;
#ifdef DMP_FIBER_ASAN
    __sanitizer_start_switch_fiber(NULL, f->back_bottom, f->back_size);
#endif
    dmp_ctx_switch(&f->ctx, &f->back); /* for good: a reused fiber is prepared afresh */
}

fiber_t *dmp_http_fiber_new(dmp_http_server_t *srv, const dmp_http_conn_ops_t *ops, void *conn,
                            dmp_http_rctx_t *rctx, const char *method, const char *url)
{
    fiber_t *f = tls_spare;
    if (f != NULL) {
        tls_spare = f->next_free;
        tls_spare_n--;
    } else {
        pthread_mutex_lock(&fiber_pool_mu);
        if (fiber_pool != NULL) {
            f = fiber_pool;
            fiber_pool = f->next_free;
            fiber_pool_n--;
        }
        pthread_mutex_unlock(&fiber_pool_mu);
    }
    if (f == NULL) {
        void *st = mmap(NULL, FIBER_STACK, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (st == MAP_FAILED)
            return NULL;
        mprotect(st, 4096, PROT_NONE); /* guard page: an overflow faults, never corrupts */
        f = dmp_calloc(1, sizeof(*f));
        f->stack = st;
        pthread_mutex_init(&f->mu, NULL);
        pthread_cond_init(&f->cond, NULL);
    }
    memset(f, 0, offsetof(fiber_t, stack)); /* not the stack, mutex and condition */
    f->srv = srv;
    f->ops = ops;
    f->conn = conn;
    f->rctx = rctx;
    f->method = method;
    f->url = url;
    dmp_ctx_make(&f->ctx, f->stack, FIBER_STACK, fiber_entry);
    return f;
}

void dmp_http_fiber_free(fiber_t *f)
{
    if (tls_spare_n < FIBER_SPARE) {
        if (tls_spare_n == 0) {
            pthread_once(&spare_once, spare_key_make);
            pthread_setspecific(spare_key, (void *)1); /* the destructor runs at exit */
        }
        f->next_free = tls_spare;
        tls_spare = f;
        tls_spare_n++;
        return;
    }
    pthread_mutex_lock(&fiber_pool_mu);
    if (fiber_pool_n < FIBER_KEEP) {
        f->next_free = fiber_pool;
        fiber_pool = f;
        fiber_pool_n++;
        f = NULL;
    }
    pthread_mutex_unlock(&fiber_pool_mu);
    if (f != NULL) {
        munmap(f->stack, FIBER_STACK);
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->cond);
        dmp_free(f);
    }
}

void dmp_http_fiber_release_spares(void)
{
    while (tls_spare != NULL) {
        fiber_t *f = tls_spare;
        tls_spare = f->next_free;
        tls_spare_n--;
        pthread_mutex_lock(&fiber_pool_mu);
        int keep = fiber_pool_n < FIBER_KEEP;
        if (keep) {
            f->next_free = fiber_pool;
            fiber_pool = f;
            fiber_pool_n++;
        }
        pthread_mutex_unlock(&fiber_pool_mu);
        if (!keep) {
            munmap(f->stack, FIBER_STACK);
            pthread_mutex_destroy(&f->mu);
            pthread_cond_destroy(&f->cond);
            dmp_free(f);
        }
    }
}

/* Runs f on this thread until it finishes or parks. */
static void fiber_run(fiber_t *f)
{
    tls_fiber = f;
#ifdef DMP_FIBER_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, f->stack, FIBER_STACK);
#endif
    dmp_ctx_switch(&f->back, &f->ctx);
#ifdef DMP_FIBER_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    tls_fiber = NULL;
}

static void *fiber_self(void)
{
    return tls_fiber;
}

static void fiber_park(void)
{
    fiber_t *f = tls_fiber;
#ifdef DMP_FIBER_ASAN
    __sanitizer_start_switch_fiber(&f->fake_stack, f->back_bottom, f->back_size);
#endif
    dmp_ctx_switch(&f->ctx, &f->back);
#ifdef DMP_FIBER_ASAN
    __sanitizer_finish_switch_fiber(f->fake_stack, &f->back_bottom, &f->back_size);
#endif
}

/* Any thread: the parked fiber may continue; resumes its connection if suspended. */
static void fiber_wake(void *arg)
{
    fiber_t *f = arg;
    pthread_mutex_lock(&f->mu);
    f->woken = 1;
    if (f->suspended) {
        f->suspended = 0;
        f->ops->resume(f->conn);
    }
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->mu);
}

static void fiber_hooks_install(void)
{
    static const dmp_streams_fiber_hooks_t hooks = {fiber_self, fiber_park, fiber_wake};
    dmp_streams_set_fiber_hooks(&hooks);
}

int dmp_http_fiber_step(fiber_t *f, void (*suspend)(void *conn))
{
    dmp_http_server_t *srv = f->srv;
    for (;;) {
        pthread_mutex_lock(&f->mu);
        f->woken = 0;
        if (f->in_susp) {
            f->in_susp = 0;
            srv->n_susp--;
        }
        pthread_mutex_unlock(&f->mu);
        fiber_run(f);
        if (f->finished)
            return 1;
        pthread_mutex_lock(&f->mu);
        if (f->woken) {
            pthread_mutex_unlock(&f->mu);
            continue;
        }
        srv->n_susp++;
        if (srv->stopping) {
            /* No suspension while the server stops: wait here for the wake-up. */
            srv->n_susp--;
            while (!f->woken)
                pthread_cond_wait(&f->cond, &f->mu);
            pthread_mutex_unlock(&f->mu);
            continue;
        }
        f->suspended = 1;
        f->in_susp = 1;
        suspend(f->conn);
        pthread_mutex_unlock(&f->mu);
        return 0;
    }
}

/* Authenticates and runs the request's handler; on its fiber. The reply goes to f->resp. */
static void dispatch(fiber_t *f)
{
    dmp_http_server_t *srv = f->srv;
    dmp_http_rctx_t *ctx = f->rctx;
    dmp_http_req_t req = {0};
    req.method = f->method;
    req.url = f->url;
    req.content_type = f->ops->header(f->conn, "Content-Type");
    req.body = ctx->body.data ? ctx->body.data : "";
    req.body_len = ctx->body.len;
    req.svc = &srv->svc;
    req.srv = srv;
    req.conn = f->conn;
    req.ops = f->ops;

    dmp_http_resp_t resp = {0};
    int path_matched;
    const dmp_http_route_t *route = dmp_http_route_find(&req, &path_matched);
    /* Authenticate every request once, before dispatch (unknown paths too, so they
     * cannot be probed anonymously); public routes (probes) skip it. */
    dmp_principal_t *owned = NULL;
    int authed = 0;
    if (route == NULL || !route_is_public(route))
        authed = dmp_http_authenticate(&req, f->ops->header(f->conn, "Authorization"), &resp,
                                       &owned);
    if (req.principal != NULL)
        snprintf(ctx->principal, sizeof(ctx->principal), "%s", req.principal->name);
    if (authed != 0) {
        /* the 401 is in resp */
    } else if (route != NULL) {
        route->fn(&req, &resp);
    } else if (path_matched) {
        char msg[128];
        snprintf(msg, sizeof(msg), "method %.16s is not allowed on this path", f->method);
        dmp_http_reply_problem(&resp, 405, "DMP_INVALID", msg, NULL, NULL);
    } else {
        dmp_http_reply_problem(&resp, 404, "DMP_NOTFOUND", "no such endpoint", NULL, NULL);
    }
    if (resp.status == 0)
        dmp_http_reply_problem(&resp, 500, "DMP_IO", "handler produced no reply", NULL, NULL);
    if (resp.status == 401)
        dmp_buf_puts(&resp.headers, "WWW-Authenticate: Bearer realm=\"dmp\"\n");
    dmp_http_audit_finish(&req, resp.status);
    dmp_principal_free(owned);
    dmp_free(req.param_heap);
    f->resp = resp;
}

void dmp_http_access_log(const dmp_http_rctx_t *ctx, const char *remote, int completed)
{
    if (!ctx->srv->conf.access_log)
        return;
    char status[24], dur[32], bytes[24];
    dmp_u64_str(ctx->status > 0 ? (uint64_t)ctx->status : 0, status);
    int64_t us = (dmp_mono_ns() - ctx->start_ns + 500) / 1000;
    char *e = dur + dmp_u64_str(us > 0 ? (uint64_t)us / 1000 : 0, dur);
    unsigned frac = us > 0 ? (unsigned)(us % 1000) : 0;
    e[0] = '.';
    e[1] = (char)('0' + frac / 100);
    e[2] = (char)('0' + frac / 10 % 10);
    e[3] = (char)('0' + frac % 10);
    e[4] = '\0';
    dmp_u64_str(ctx->body.len, bytes);
    const char *path = ctx->url ? ctx->url : ctx->path ? ctx->path : "";
    char cut[513];
    if (strnlen(path, 513) > 512) { /* a log line names at most 512 bytes of a path */
        memcpy(cut, path, 512);
        cut[512] = '\0';
        path = cut;
    }
    dmp_log(DMP_LOG_INFO, "request", "method", ctx->method, "path", path,
            "status", status, "duration_ms", dur, "bytes_in", bytes, "remote", remote,
            "principal", ctx->principal[0] ? ctx->principal : "-", "outcome",
            completed ? "ok" : "aborted", NULL);
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

int dmp_http_start(const dmp_http_conf_t *conf, const dmp_services_t *svc, dmp_http_server_t **out,
                   dmp_error_t *err)
{
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int rc = parse_listen(conf->listen, &ss, &sl, err);
    if (rc != DMP_OK)
        return rc;
    fiber_hooks_install();
    dmp_http_server_t *srv = dmp_calloc(1, sizeof(*srv));
    pthread_mutex_init(&srv->mu, NULL);
    srv->conf = *conf;
    srv->svc = *svc;
    /* HTTPS on libmicrohttpd (it brings TLS); plain HTTP on our own loop, which the
     * single-event ingest benchmark needs (docs/performance.md, native.c). */
    if (conf->tls_cert_pem && conf->tls_key_pem)
        rc = dmp_http_mhd_start(srv, &ss, err);
    else
        rc = dmp_http_native_start(srv, &ss, sl, err);
    if (rc != DMP_OK) {
        pthread_mutex_destroy(&srv->mu);
        dmp_free(srv);
        return rc;
    }
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
    /* End every stream, let every parked request finish, and only then stop the engine:
     * neither engine may stop with a suspended connection. After 'stopping' nothing
     * suspends. */
    pthread_mutex_lock(&srv->mu);
    srv->stopping = 1;
    for (pump_t *p = srv->pumps; p; p = p->next) {
        pthread_mutex_lock(&p->mu);
        pump_resume(p);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&srv->mu);
    int n = 0;
    for (int i = 0; i < 30000; i++) {
        n = atomic_load(&srv->n_susp);
        if (n == 0)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (n != 0) {
        /* A waker may still come for those: freeing the engine under it would be worse
         * than leaving it to the process's exit. */
        dmp_log(DMP_LOG_ERROR, "HTTP server stop: requests still waiting after 30 s; "
                "leaving the engine running", NULL);
        return;
    }
    if (srv->d != NULL)
        dmp_http_mhd_stop(srv);
    else
        dmp_http_native_stop(srv);
    dmp_http_events_uninstall(&srv->svc);
    pthread_mutex_destroy(&srv->mu);
    dmp_free(srv);
}
