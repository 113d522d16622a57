/* native.c -- the plain-HTTP engine: our own HTTP/1.1 server on NATIVE_THREADS epoll
 * loops.
 *
 * Why hand-written (DEVELOPERS: only where a benchmark proves the need). The single-event
 * ingest benchmark (bench/ingest/run.sh, docs/performance.md) asks for half of nginx's
 * request rate with a durable acknowledgement. On libmicrohttpd every parked request
 * cost a suspend and a resume: two epoll_ctl calls, an eventfd write per connection and
 * the daemon's cleanup mutex, on the group-commit thread's critical path, and the
 * connection's 32 KiB pool was zeroed between two requests. Here a connection is
 * registered once (edge-triggered, in and out), a parked connection is simply not driven,
 * and a wake-up puts it on its loop's queue with one eventfd write per loop and batch,
 * not per connection. A request costs one recv and one send when nothing is pending.
 *
 * What it speaks: HTTP/1.1 and 1.0 (RFC 9112): keep-alive, pipelined requests (answered
 * in order), Content-Length and chunked request bodies, Expect: 100-continue, HEAD,
 * chunked streaming responses (SSE). Limits: the request head (request line and headers)
 * 32 KiB and 128 lines (414 / 431, http1.c), the body --max-body (413), the
 * connection count and per-address count (refused at accept), and --timeout seconds
 * without progress while reading a request or writing a reply. A malformed request gets a
 * 4xx problem+json and the connection is closed after it; bytes still arriving are read
 * and dropped for a moment first (a lingering close), so the client sees the reply
 * rather than a reset. HTTPS is served by libmicrohttpd (mhd.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/engine.h"
#include "http/http1.h"

/* Loop threads. A handler validating a large batch keeps its loop busy for milliseconds;
 * two loops per core of the 2-core target let the kernel balance that. */
#define NATIVE_THREADS 4
#define HEAD_MAX DMP_HTTP1_HEAD_MAX
#define IN_MIN 4096           /* first read buffer of a connection */
#define BODY_READ (64 * 1024) /* read buffer while a large body streams in */
#define LINE_MAX_CHUNK 1024   /* a chunk-size line with extensions */
#define LINGER_MS 2000        /* reading and dropping input after a closing error reply */
#define ACCEPT_BATCH 32
#define SHRINK_ABOVE (64 * 1024) /* buffers over this are freed between requests */
#define ACCEPT_PAUSE_MS 500      /* a loop stops accepting this long after accept fails */

enum {
    NC_NEW,    /* accepted, not yet on its loop */
    NC_HEAD,   /* reading a request head */
    NC_BODY,   /* reading a Content-Length body */
    NC_CHUNK,  /* reading a chunked body */
    NC_RUN,    /* the handler's fiber is parked */
    NC_WRITE,  /* writing a reply */
    NC_STREAM, /* writing a streaming reply from a pump */
    NC_LINGER  /* closing: dropping input until EOF or LINGER_MS */
};

enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

typedef struct nloop nloop_t;
typedef struct nconn nconn_t;

struct nconn {
    int fd;
    int st;
    nloop_t *lp;
    int can_read, can_write, peer_gone;
    int rdhup; /* the peer shut its side: read on to the EOF */
    size_t trailer_bytes;
    int64_t last_ms; /* last progress, for the timeout */
    int64_t head_ms; /* when the first byte of the current request head came (0: none) */
    size_t head_scan; /* bytes of the head already searched for its end */
    char addr[INET6_ADDRSTRLEN];
    /* input: unconsumed bytes are in[pos, len) */
    char *in;
    size_t in_len, in_cap, in_pos;
    /* the current request; head is a private copy of its head, cut into strings */
    char *head;
    size_t head_cap;
    dmp_http1_req_t req;
    char **qvals; /* decoded query values handed out (freed with the request) */
    int nq, qcap;
    int head_req, chunk_st, in_request;
    uint64_t remaining; /* body bytes (or bytes of the current chunk) still to come */
    dmp_http_rctx_t rctx;
    dmp_http_fiber_t *fiber;
    dmp_http_pump_t *pump;
    int stream_chunked, stream_done;
    /* output: unsent bytes are out[off, len) */
    char *out;
    size_t out_len, out_cap, out_off;
    int close_after; /* close once out is written */
    int linger_after; /* ...after reading and dropping what the client still sends */
    int64_t linger_until;
    int queued; /* on lp's wake queue (under lp->mu) */
    nconn_t *next, *prev; /* lp's connections */
    nconn_t *wnext;
};

struct nloop {
    struct dmp_native *nat;
    int ep, evfd;
    pthread_t th;
    pthread_mutex_t mu; /* wq, signalled */
    nconn_t *wq;        /* woken and adopted connections */
    int signalled;      /* evfd written since wq was last taken */
    nconn_t *conns;
    nconn_t **batch; /* take_wakeups' copy of the queue */
    size_t batch_cap;
    int64_t last_sweep;
    int64_t accept_paused_until; /* not listening until then (0: listening) */
};

typedef struct ipent {
    struct ipent *next;
    unsigned n;
    char addr[INET6_ADDRSTRLEN];
} ipent_t;

#define IP_BUCKETS 256

struct dmp_native {
    dmp_http_server_t *srv;
    int lfd;
    atomic_int quit;
    atomic_uint nconns;
    atomic_uint rr; /* round-robin loop for the next accepted connection */
    _Atomic int64_t accept_warned; /* when "accept failed" was last logged */
    pthread_mutex_t ip_mu;
    ipent_t *ips[IP_BUCKETS];
    nloop_t loops[NATIVE_THREADS];
};

static void conn_drive(nconn_t *c);

/* ---- the connection as handlers see it (engine.h) */

static const char *n_header(void *cv, const char *name)
{
    nconn_t *c = cv;
    return dmp_http1_header(&c->req, name);
}

static const char *n_query(void *cv, const char *name)
{
    nconn_t *c = cv;
    if (c->req.query == NULL)
        return NULL;
    size_t nl = strlen(name);
    const char *p = c->req.query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t plen = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq ? (size_t)(eq - p) : plen;
        char kbuf[256];
        if (klen < sizeof(kbuf)) {
            size_t kd = dmp_http1_pct_decode(p, klen, kbuf, 1);
            if (kd == nl && memcmp(kbuf, name, nl) == 0) {
                const char *v = eq ? eq + 1 : p + plen;
                size_t vlen = eq ? plen - klen - 1 : 0;
                char *dv = dmp_malloc(vlen + 1);
                dmp_http1_pct_decode(v, vlen, dv, 1);
                if (c->nq == c->qcap) {
                    c->qcap = c->qcap ? c->qcap * 2 : 8;
                    c->qvals = dmp_realloc(c->qvals, (size_t)c->qcap * sizeof(*c->qvals));
                }
                c->qvals[c->nq++] = dv;
                return dv;
            }
        }
        if (amp == NULL)
            break;
        p = amp + 1;
    }
    return NULL;
}

static void n_each_header(void *cv, int (*fn)(void *ud, const char *name, const char *value),
                          void *ud)
{
    nconn_t *c = cv;
    for (int i = 0; i < c->req.nhdrs; i++)
        if (fn(ud, c->req.hdrs[i].name, c->req.hdrs[i].value) != 0)
            return;
}

static int n_fd(void *cv)
{
    return ((nconn_t *)cv)->fd;
}

/* Any thread: queue c on its loop; one eventfd write per batch of wake-ups. */
static void n_resume(void *cv)
{
    nconn_t *c = cv;
    nloop_t *lp = c->lp;
    pthread_mutex_lock(&lp->mu);
    if (!c->queued) {
        c->queued = 1;
        c->wnext = lp->wq;
        lp->wq = c;
    }
    int signal = !lp->signalled;
    lp->signalled = 1;
    pthread_mutex_unlock(&lp->mu);
    if (signal) {
        uint64_t one = 1;
        ssize_t w = write(lp->evfd, &one, sizeof(one));
        (void)w; /* a full counter still wakes the loop */
    }
}

/* A parked connection needs nothing from the loop until n_resume. */
static void n_suspend(void *cv)
{
    (void)cv;
}

static const dmp_http_conn_ops_t native_ops = {n_header, n_query, n_each_header, n_fd,
                                               n_resume};

/* ---- buffers */

static void out_reserve(nconn_t *c, size_t more)
{
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + more <= c->out_cap)
        return;
    size_t cap = c->out_cap ? c->out_cap : 1024;
    while (cap < c->out_len + more)
        cap *= 2;
    c->out = dmp_realloc(c->out, cap);
    c->out_cap = cap;
}

static void out_put(nconn_t *c, const void *p, size_t n)
{
    out_reserve(c, n);
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static void out_puts(nconn_t *c, const char *s)
{
    out_put(c, s, strlen(s));
}

static void out_u64(nconn_t *c, uint64_t v)
{
    char tmp[21];
    out_put(c, tmp, dmp_u64_str(v, tmp));
}

/* Header values come from handlers; a CR or LF in one would split the reply. */
static void out_header_value(nconn_t *c, const char *v, size_t n)
{
    out_reserve(c, n);
    for (size_t i = 0; i < n; i++)
        c->out[c->out_len++] = (v[i] == '\r' || v[i] == '\n') ? ' ' : v[i];
}

/* The Date header, formatted once a second per thread. */
static void out_date(nconn_t *c)
{
    static __thread time_t last;
    static __thread char buf[64];
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof(buf), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        last = now;
    }
    out_puts(c, buf);
}

/* ---- replies */

static void reply_head(nconn_t *c, int status, const dmp_http_resp_t *resp, int64_t length)
{
    out_puts(c, "HTTP/1.1 ");
    out_u64(c, (uint64_t)status);
    out_puts(c, " ");
    out_puts(c, dmp_http_status_text(status));
    out_puts(c, "\r\n");
    out_date(c);
    if (resp->content_type) {
        out_puts(c, "Content-Type: ");
        out_header_value(c, resp->content_type, strlen(resp->content_type));
        out_puts(c, "\r\n");
    }
    if (resp->location) {
        out_puts(c, "Location: ");
        out_header_value(c, resp->location, strlen(resp->location));
        out_puts(c, "\r\n");
    }
    const char *h = resp->headers.data;
    while (h != NULL && *h) {
        const char *nl = strchr(h, '\n');
        size_t n = nl ? (size_t)(nl - h) : strlen(h);
        if (n > 0 && memchr(h, ':', n) != NULL) {
            out_header_value(c, h, n);
            out_puts(c, "\r\n");
        }
        h = nl ? nl + 1 : NULL;
    }
    if (status == 204 || status == 304) {
        /* no body and no length (RFC 9110 8.6) */
    } else if (length >= 0) {
        out_puts(c, "Content-Length: ");
        out_u64(c, (uint64_t)length);
        out_puts(c, "\r\n");
    } else if (c->stream_chunked) {
        out_puts(c, "Transfer-Encoding: chunked\r\n");
    }
    if (c->close_after)
        out_puts(c, "Connection: close\r\n");
    else if (c->req.http10)
        out_puts(c, "Connection: keep-alive\r\n");
    out_puts(c, "\r\n");
}

/* Queues the reply of the current request and moves to writing it. */
static void send_resp(nconn_t *c, dmp_http_resp_t *resp)
{
    dmp_http_server_t *srv = c->lp->nat->srv;
    if (resp->stream != NULL && c->head_req) {
        /* HEAD of a stream: the head only */
        if (resp->stream_free)
            resp->stream_free(resp->stream_ud);
        resp->stream = NULL;
    }
    if (resp->stream != NULL) {
        c->pump = dmp_http_pump_start(srv, &native_ops, c, resp);
        if (c->pump == NULL) {
            dmp_buf_free(&resp->headers);
            dmp_http_reply_problem(resp, 503, "DMP_UNAVAILABLE", "cannot start a stream thread",
                                   NULL, NULL);
        }
    }
    if (resp->status == 413 || srv->stopping || !c->req.keep_alive)
        c->close_after = 1;
    c->rctx.status = resp->status;
    if (c->pump != NULL) {
        c->stream_chunked = !c->req.http10;
        if (c->req.http10)
            c->close_after = 1; /* the end of the stream is the end of the connection */
        reply_head(c, resp->status, resp, -1);
        c->st = NC_STREAM;
    } else {
        reply_head(c, resp->status, resp, (int64_t)resp->body.len);
        if (!c->head_req)
            out_put(c, resp->body.data ? resp->body.data : "", resp->body.len);
        c->st = NC_WRITE;
    }
    dmp_buf_free(&resp->body);
    dmp_buf_free(&resp->headers);
    dmp_free(resp->location);
    resp->location = NULL;
}

/* A reply from the engine itself (bad request, limits): always closes the connection;
 * linger: drop what the client still sends before closing. */
static void send_problem(nconn_t *c, int status, const char *code, const char *detail,
                         int linger)
{
    dmp_http_resp_t resp = {0};
    dmp_http_reply_problem(&resp, status, code, detail, NULL, NULL);
    if (!c->in_request) {
        /* the head did not parse: log it with what is known */
        c->in_request = 1;
        c->rctx.srv = c->lp->nat->srv;
        c->rctx.start_ns = dmp_mono_ns();
        snprintf(c->rctx.method, sizeof(c->rctx.method), "%s", c->req.method ? c->req.method : "-");
    }
    c->close_after = 1;
    c->linger_after = linger;
    c->head_req = 0;
    send_resp(c, &resp);
}

/* ---- requests */

static void request_reset(nconn_t *c)
{
    /* The body buffer is kept for the connection's next request unless it grew large. */
    dmp_buf_t body = c->rctx.body;
    if (body.cap > SHRINK_ABOVE)
        dmp_buf_free(&body);
    else
        dmp_buf_reset(&body);
    memset(&c->rctx, 0, sizeof(c->rctx));
    c->rctx.body = body;
    for (int i = 0; i < c->nq; i++)
        dmp_free(c->qvals[i]);
    c->nq = 0;
    dmp_http1_req_fini(&c->req);
    c->req.method = NULL;
    c->req.query = NULL;
    c->req.nhdrs = 0;
    c->in_request = 0;
    c->head_req = c->req.chunked = 0;
    c->stream_chunked = c->stream_done = 0;
}

/* The request is over (reply written, or the connection is going). */
static void request_end(nconn_t *c, int completed)
{
    if (c->in_request)
        dmp_http_access_log(&c->rctx, c->addr, completed);
    request_reset(c);
    /* A large reply or body must not pin its buffer for the connection's life. */
    if (c->out_cap > SHRINK_ABOVE && c->out_off == c->out_len) {
        dmp_free(c->out);
        c->out = NULL;
        c->out_cap = c->out_len = c->out_off = 0;
    }
    if (c->in_cap > SHRINK_ABOVE && c->in_pos == c->in_len) {
        dmp_free(c->in);
        c->in = NULL;
        c->in_cap = c->in_len = c->in_pos = 0;
    }
}

static void run_fiber(nconn_t *c)
{
    dmp_http_fiber_t *f = c->fiber;
    if (!dmp_http_fiber_step(f, n_suspend)) {
        c->st = NC_RUN; /* parked until n_resume */
        return;
    }
    dmp_http_resp_t resp = f->resp;
    c->fiber = NULL;
    c->rctx.fiber = NULL;
    dmp_http_fiber_free(f);
    send_resp(c, &resp);
}

/* The whole request is in: run its handler. */
static void request_run(nconn_t *c)
{
    dmp_http_server_t *srv = c->lp->nat->srv;
    c->fiber = dmp_http_fiber_new(srv, &native_ops, c, &c->rctx, c->req.method, c->req.path);
    if (c->fiber == NULL) {
        send_problem(c, 503, "DMP_UNAVAILABLE", "out of memory for a request", 0);
        return;
    }
    c->rctx.fiber = c->fiber;
    run_fiber(c);
}

/* Parses the head in h[0, n) (ends with an empty line). 0 on success, else an error
 * reply was queued. */
static int parse_head(nconn_t *c, char *h, size_t n)
{
    dmp_http_server_t *srv = c->lp->nat->srv;
    dmp_http1_err_t e;
    int rc = dmp_http1_parse_head(h, n, srv->conf.max_body_bytes, &c->req, &e);
    if (c->req.method != NULL && c->req.path != NULL) {
        /* the request is known: from here on it is logged */
        c->in_request = 1;
        c->rctx.srv = srv;
        c->rctx.start_ns = dmp_mono_ns();
        snprintf(c->rctx.method, sizeof(c->rctx.method), "%s", c->req.method);
        c->rctx.path = c->req.path; /* lives until request_reset, after the log line */
        c->head_req = strcmp(c->req.method, "HEAD") == 0;
    }
    if (rc != 0) {
        send_problem(c, e.status, e.code, e.detail, 1);
        return -1;
    }
    c->remaining = c->req.length;
    c->chunk_st = CH_SIZE;
    if (c->req.expect_continue && (c->req.chunked || c->remaining > 0) &&
        c->in_pos == c->in_len)
        out_puts(c, "HTTP/1.1 100 Continue\r\n\r\n");
    return 0;
}

/* Reads what the socket has. 1: bytes arrived; 0: nothing now (wait for the next edge);
 * -1: the peer closed or the connection failed. */
static int conn_fill(nconn_t *c, size_t want_cap)
{
    if (!c->can_read)
        return 0;
    if (c->in_pos > 0 && c->in_pos == c->in_len)
        c->in_pos = c->in_len = 0;
    if (c->in_len == c->in_cap) {
        if (c->in_pos > 0) {
            memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
            c->in_len -= c->in_pos;
            c->in_pos = 0;
        }
        if (c->in_len == c->in_cap) {
            size_t cap = c->in_cap ? c->in_cap * 2 : IN_MIN;
            if (cap > want_cap)
                cap = want_cap;
            if (cap <= c->in_cap)
                return 0; /* full: the caller judges the limit */
            c->in = dmp_realloc(c->in, cap + 1);
            c->in_cap = cap;
        }
    }
    size_t room = c->in_cap - c->in_len;
    ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
    if (n > 0) {
        c->in_len += (size_t)n;
        c->last_ms = dmp_now_ms();
        if ((size_t)n < room && !c->rdhup)
            c->can_read = 0; /* drained: the next arrival raises a new edge (the FIN's
                              * edge may have come with these bytes: then read on) */
        return 1;
    }
    if (n == 0)
        return -1;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c->can_read = 0;
        return 0;
    }
    if (errno == EINTR)
        return 1;
    return -1;
}

/* Writes what is queued. 1: all written; 0: the socket is full (wait); -1: failed. */
static int conn_flush(nconn_t *c)
{
    while (c->out_off < c->out_len) {
        if (!c->can_write)
            return 0;
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            c->last_ms = dmp_now_ms();
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->can_write = 0;
            return 0;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return -1;
    }
    c->out_off = c->out_len = 0;
    return 1;
}

static void ip_release(struct dmp_native *nat, const char *addr);

static void conn_close(nconn_t *c, int completed)
{
    nloop_t *lp = c->lp;
    struct dmp_native *nat = lp->nat;
    if (c->fiber != NULL) {
        /* Never with a parked fiber: it points at this connection. Callers check. */
        c->peer_gone = 1;
        return;
    }
    if (c->pump != NULL) {
        dmp_http_pump_done(c->pump);
        c->pump = NULL;
    }
    request_end(c, completed);
    pthread_mutex_lock(&lp->mu);
    if (c->queued) {
        for (nconn_t **pp = &lp->wq; *pp; pp = &(*pp)->wnext)
            if (*pp == c) {
                *pp = c->wnext;
                break;
            }
        c->queued = 0;
    }
    pthread_mutex_unlock(&lp->mu);
    if (c->prev)
        c->prev->next = c->next;
    else if (lp->conns == c)
        lp->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    close(c->fd);
    ip_release(nat, c->addr);
    atomic_fetch_sub(&nat->nconns, 1);
    dmp_buf_free(&c->rctx.body);
    dmp_free(c->in);
    dmp_free(c->out);
    dmp_free(c->head);
    dmp_free(c->qvals);
    dmp_free(c);
}

/* After a closing reply: stop writing, read and drop input until EOF or LINGER_MS. */
static void conn_linger(nconn_t *c)
{
    shutdown(c->fd, SHUT_WR);
    request_end(c, 1);
    c->st = NC_LINGER;
    c->linger_until = dmp_now_ms() + LINGER_MS;
    c->can_read = 1;
}

/* Takes the head of the next request from the input, if it is all there. 1: a request
 * started (state moved on); 0: more input needed; -1: an error reply was queued. */
static int take_head(nconn_t *c)
{
    if (c->in == NULL)
        return 0; /* nothing read yet */
    /* RFC 9112 2.2: empty lines before a request line are ignored */
    while (c->in_pos < c->in_len && (c->in[c->in_pos] == '\r' || c->in[c->in_pos] == '\n'))
        c->in_pos++;
    const char *b = c->in + c->in_pos;
    size_t len = c->in_len - c->in_pos;
    if (len == 0)
        return 0;
    if (c->head_ms == 0)
        c->head_ms = dmp_now_ms();
    /* Search only what is new (and the 3 bytes before it, where a line end may begin):
     * a head dripped in tiny reads must not be rescanned whole each time. */
    size_t from = c->head_scan > 3 ? c->head_scan - 3 : 0;
    size_t hlen = len > from ? dmp_http1_head_end(b + from, len - from) : 0;
    if (hlen > 0)
        hlen += from;
    c->head_scan = hlen > 0 ? 0 : len;
    if (hlen == 0) {
        if (len >= HEAD_MAX) {
            int no_line = memchr(b, '\n', len) == NULL;
            send_problem(c, no_line ? 414 : 431, "DMP_LIMIT",
                         no_line ? "the request line is longer than 32 KiB"
                                 : "the request head is larger than 32 KiB",
                         1);
            return -1;
        }
        return 0;
    }
    if (hlen > HEAD_MAX) {
        send_problem(c, 431, "DMP_LIMIT", "the request head is larger than 32 KiB", 1);
        return -1;
    }
    if (c->head_cap < hlen + 1) {
        dmp_free(c->head);
        c->head = dmp_malloc(hlen + 1);
        c->head_cap = hlen + 1;
    }
    memcpy(c->head, b, hlen);
    c->in_pos += hlen;
    c->head_ms = 0;
    if (parse_head(c, c->head, hlen) != 0)
        return -1;
    if (c->req.chunked)
        c->st = NC_CHUNK;
    else if (c->remaining > 0)
        c->st = NC_BODY;
    else
        request_run(c);
    return 1;
}

/* Moves body bytes from the input to the request. 1: the body is complete (the handler
 * ran); 0: more input needed; -1: an error reply was queued. */
static int take_body(nconn_t *c)
{
    size_t avail = c->in_len - c->in_pos;
    size_t k = avail < c->remaining ? avail : (size_t)c->remaining;
    if (k > 0) {
        dmp_buf_append(&c->rctx.body, c->in + c->in_pos, k);
        c->in_pos += k;
        c->remaining -= k;
    }
    if (c->remaining > 0)
        return 0;
    request_run(c);
    return 1;
}

static int take_chunked(nconn_t *c)
{
    dmp_http_server_t *srv = c->lp->nat->srv;
    for (;;) {
        const char *b = c->in + c->in_pos;
        size_t avail = c->in_len - c->in_pos;
        if (c->chunk_st == CH_DATA) {
            size_t k = avail < c->remaining ? avail : (size_t)c->remaining;
            if (k > 0) {
                if (c->rctx.body.len + k > srv->conf.max_body_bytes) {
                    char msg[160];
                    snprintf(msg, sizeof(msg), "request body exceeds the limit of %zu bytes",
                             srv->conf.max_body_bytes);
                    send_problem(c, 413, "DMP_LIMIT", msg, 1);
                    return -1;
                }
                dmp_buf_append(&c->rctx.body, b, k);
                c->in_pos += k;
                c->remaining -= k;
            }
            if (c->remaining > 0)
                return 0;
            c->chunk_st = CH_DATA_END;
            continue;
        }
        const char *nl = memchr(b, '\n', avail);
        if (nl == NULL) {
            if (avail > LINE_MAX_CHUNK) {
                send_problem(c, 400, "DMP_INVALID", "malformed chunked body", 1);
                return -1;
            }
            return 0;
        }
        size_t ll = (size_t)(nl - b);
        size_t line_len = ll > 0 && b[ll - 1] == '\r' ? ll - 1 : ll;
        c->in_pos += ll + 1;
        if (c->chunk_st == CH_DATA_END) {
            if (line_len != 0) {
                send_problem(c, 400, "DMP_INVALID", "malformed chunked body", 1);
                return -1;
            }
            c->chunk_st = CH_SIZE;
        } else if (c->chunk_st == CH_SIZE) {
            uint64_t v;
            if (dmp_http1_chunk_size(b, line_len, &v) != 0) {
                send_problem(c, 400, "DMP_INVALID", "malformed chunk size", 1);
                return -1;
            }
            c->remaining = v;
            c->chunk_st = v == 0 ? CH_TRAILER : CH_DATA;
            c->trailer_bytes = 0;
        } else { /* CH_TRAILER: lines until the empty one, within the head's limit */
            if (line_len == 0) {
                request_run(c);
                return 1;
            }
            c->trailer_bytes += ll + 1;
            if (c->trailer_bytes > HEAD_MAX) {
                send_problem(c, 431, "DMP_LIMIT", "the chunked body's trailer is larger than "
                             "32 KiB", 1);
                return -1;
            }
        }
    }
}

/* Moves the stream's bytes from the pump to the output. 1: progress; 0: wait; -1: the
 * stream failed. */
static int stream_pull(nconn_t *c)
{
    char buf[16 * 1024];
    long n = dmp_http_pump_take(c->pump, buf, sizeof(buf), n_suspend);
    if (n > 0) {
        if (c->stream_chunked) {
            char hex[24];
            int hl = snprintf(hex, sizeof(hex), "%lx\r\n", (unsigned long)n);
            out_put(c, hex, (size_t)hl);
            out_put(c, buf, (size_t)n);
            out_puts(c, "\r\n");
        } else {
            out_put(c, buf, (size_t)n);
        }
        return 1;
    }
    if (n == 0)
        return 0;
    if (n == -1) {
        if (c->stream_chunked)
            out_puts(c, "0\r\n\r\n");
        c->stream_done = 1;
        return 1;
    }
    return -1;
}

/* Writes what is queued: 1 when all of it went, 0 when c must wait for the socket or was
 * closed (a failed write). */
static int flush_or_close(nconn_t *c)
{
    int r = conn_flush(c);
    if (r < 0)
        conn_close(c, 0);
    return r > 0;
}

/* Drives c as far as it goes without waiting. */
static void conn_drive(nconn_t *c)
{
    for (;;) {
        switch (c->st) {
        case NC_HEAD:
        case NC_BODY:
        case NC_CHUNK: {
            if (!flush_or_close(c)) /* a 100 Continue */
                return;
            int r;
            if (c->st == NC_HEAD)
                r = take_head(c);
            else if (c->st == NC_BODY)
                r = take_body(c);
            else
                r = take_chunked(c);
            if (r != 0)
                continue;
            size_t cap = c->st == NC_HEAD ? HEAD_MAX : BODY_READ;
            int f = conn_fill(c, cap);
            if (f < 0) {
                conn_close(c, 0);
                return;
            }
            if (f == 0) {
                if (c->st == NC_HEAD && c->in_len - c->in_pos >= HEAD_MAX)
                    continue; /* take_head answers 414/431 */
                return;
            }
            continue;
        }
        case NC_RUN:
            return; /* the fiber is parked; n_resume brings it back */
        case NC_WRITE: {
            if (!flush_or_close(c))
                return;
            if (c->close_after) {
                if (c->linger_after) {
                    conn_linger(c);
                    continue;
                }
                conn_close(c, 1);
                return;
            }
            request_end(c, 1);
            c->st = NC_HEAD;
            c->last_ms = dmp_now_ms();
            continue;
        }
        case NC_STREAM: {
            if (!flush_or_close(c))
                return;
            if (c->stream_done) {
                dmp_http_pump_done(c->pump);
                c->pump = NULL;
                c->st = NC_WRITE;
                continue;
            }
            int r = stream_pull(c);
            if (r < 0) {
                conn_close(c, 0);
                return;
            }
            if (r == 0)
                return;
            continue;
        }
        case NC_LINGER: {
            char drop[4096];
            for (;;) {
                ssize_t n = recv(c->fd, drop, sizeof(drop), 0);
                if (n > 0)
                    continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    return;
                if (n < 0 && errno == EINTR)
                    continue;
                conn_close(c, 1);
                return;
            }
        }
        default:
            return;
        }
    }
}

/* ---- accepting */

static unsigned ip_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % IP_BUCKETS;
}

/* Counts a connection from addr; 0 when the per-address limit refuses it. */
static int ip_acquire(struct dmp_native *nat, const char *addr)
{
    unsigned limit = nat->srv->conf.per_ip_limit;
    unsigned b = ip_hash(addr);
    pthread_mutex_lock(&nat->ip_mu);
    ipent_t *e = nat->ips[b];
    while (e != NULL && strcmp(e->addr, addr) != 0)
        e = e->next;
    if (e == NULL) {
        e = dmp_calloc(1, sizeof(*e));
        snprintf(e->addr, sizeof(e->addr), "%s", addr);
        e->next = nat->ips[b];
        nat->ips[b] = e;
    }
    int ok = limit == 0 || e->n < limit;
    if (ok)
        e->n++;
    pthread_mutex_unlock(&nat->ip_mu);
    return ok;
}

static void ip_release(struct dmp_native *nat, const char *addr)
{
    unsigned b = ip_hash(addr);
    pthread_mutex_lock(&nat->ip_mu);
    for (ipent_t **pp = &nat->ips[b]; *pp; pp = &(*pp)->next) {
        ipent_t *e = *pp;
        if (strcmp(e->addr, addr) == 0) {
            if (--e->n == 0) {
                *pp = e->next;
                dmp_free(e);
            }
            break;
        }
    }
    pthread_mutex_unlock(&nat->ip_mu);
}

static void accept_some(nloop_t *lp)
{
    struct dmp_native *nat = lp->nat;
    dmp_http_server_t *srv = nat->srv;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(nat->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == EINTR || e == ECONNABORTED)
                continue;
            if (e == EAGAIN || e == EWOULDBLOCK)
                return;
            /* Out of descriptors (or another failure): the connection stays in the
             * backlog and the level-triggered listener would wake this loop at once, so
             * the loop stops listening for ACCEPT_PAUSE_MS (as nginx does). */
            int64_t now = dmp_now_ms();
            if (lp->accept_paused_until == 0 &&
                epoll_ctl(lp->ep, EPOLL_CTL_DEL, nat->lfd, NULL) == 0)
                lp->accept_paused_until = now + ACCEPT_PAUSE_MS;
            if (now - atomic_load(&nat->accept_warned) >= 1000) {
                atomic_store(&nat->accept_warned, now);
                dmp_log(DMP_LOG_WARN, "accept failed", "error", strerror(e), NULL);
            }
            return;
        }
        char addr[INET6_ADDRSTRLEN] = "";
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
        if (atomic_fetch_add(&nat->nconns, 1) >= srv->conf.connection_limit) {
            atomic_fetch_sub(&nat->nconns, 1);
            dmp_log(DMP_LOG_WARN, "connection refused: connection limit reached", "remote",
                    addr, NULL);
            close(fd);
            continue;
        }
        if (!ip_acquire(nat, addr)) {
            atomic_fetch_sub(&nat->nconns, 1);
            dmp_log(DMP_LOG_WARN, "connection refused: per-address limit reached", "remote",
                    addr, NULL);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        nconn_t *c = dmp_calloc(1, sizeof(*c));
        c->fd = fd;
        c->st = NC_NEW;
        snprintf(c->addr, sizeof(c->addr), "%s", addr);
        /* Round robin over the loops, so a burst of connections spreads over them. */
        unsigned k = atomic_fetch_add(&nat->rr, 1) % NATIVE_THREADS;
        c->lp = &nat->loops[k];
        n_resume(c); /* the loop adopts it */
    }
}

/* On c's loop: registers a new connection. */
static void adopt(nconn_t *c)
{
    nloop_t *lp = c->lp;
    c->st = NC_HEAD;
    c->can_write = 1;
    c->last_ms = dmp_now_ms();
    c->next = lp->conns;
    if (c->next)
        c->next->prev = c;
    lp->conns = c;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        conn_close(c, 0);
}

/* ---- the loop */

static void take_wakeups(nloop_t *lp)
{
    /* The eventfd is edge-triggered and never read: each write raises an edge, and n_resume
     * writes once per batch (after 'signalled' is cleared below), so a read per wake-up
     * would only cost a system call. Its counter would need 2^64 writes to fill. */
    /* The queue is copied out under the lock and its links are cleared there: once a
     * connection is off the queue (queued = 0) a waker may queue it again at once, so
     * nothing may walk its old links after the lock is released. */
    pthread_mutex_lock(&lp->mu);
    size_t n = 0;
    for (nconn_t *c = lp->wq; c; c = c->wnext)
        n++;
    if (n > lp->batch_cap) {
        lp->batch_cap = n * 2;
        lp->batch = dmp_realloc(lp->batch, lp->batch_cap * sizeof(*lp->batch));
    }
    size_t k = n;
    for (nconn_t *c = lp->wq, *next; c; c = next) { /* LIFO as queued: fill from the end */
        next = c->wnext;
        c->wnext = NULL;
        c->queued = 0;
        lp->batch[--k] = c;
    }
    lp->wq = NULL;
    lp->signalled = 0;
    pthread_mutex_unlock(&lp->mu);
    for (size_t i = 0; i < n; i++) {
        nconn_t *c = lp->batch[i];
        if (c->st == NC_NEW) {
            adopt(c);
            continue;
        }
        if (c->st == NC_RUN && c->fiber != NULL) {
            run_fiber(c);
            if (c->fiber == NULL && c->peer_gone) {
                conn_close(c, 0);
                continue;
            }
        }
        if (c->st != NC_RUN)
            conn_drive(c);
    }
}

static void sweep(nloop_t *lp, int64_t now)
{
    unsigned timeout_ms = lp->nat->srv->conf.timeout_s * 1000u;
    nconn_t *c = lp->conns;
    while (c) {
        nconn_t *next = c->next;
        int idle = now - c->last_ms > (int64_t)timeout_ms;
        if (c->st == NC_LINGER && now > c->linger_until)
            conn_close(c, 1);
        else if (c->st == NC_HEAD && c->head_ms != 0 && now - c->head_ms > (int64_t)timeout_ms)
            conn_close(c, 0); /* a head dripped a byte at a time: bounded as a whole */
        else if (idle && (c->st == NC_HEAD || c->st == NC_BODY || c->st == NC_CHUNK ||
                          c->st == NC_WRITE || (c->st == NC_STREAM && c->out_off < c->out_len)))
            conn_close(c, 0); /* idle, too slow a client, or a subscriber that stopped reading */
        c = next;
    }
}

static void *loop_main(void *arg)
{
    nloop_t *lp = arg;
    struct dmp_native *nat = lp->nat;
    struct epoll_event evs[64];
    dmp_log_hold(1); /* one write(2) of the access-log lines per pass, not per request */
    while (!atomic_load(&nat->quit)) {
        dmp_log_flush();
        int wait_ms = 1000;
        if (lp->accept_paused_until != 0) {
            int64_t left = lp->accept_paused_until - dmp_now_ms();
            if (left <= 0) {
                struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = nat};
                if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, nat->lfd, &lev) == 0)
                    lp->accept_paused_until = 0;
                else
                    lp->accept_paused_until = dmp_now_ms() + ACCEPT_PAUSE_MS;
            } else if (left < wait_ms) {
                wait_ms = (int)left;
            }
        }
        int n = epoll_wait(lp->ep, evs, 64, wait_ms);
        int woken = 0;
        for (int i = 0; i < n; i++) {
            void *ptr = evs[i].data.ptr;
            if (ptr == (void *)lp) {
                /* after this batch's events: a wake-up may close a connection whose
                 * event is further down evs[] */
                woken = 1;
                continue;
            }
            if (ptr == (void *)nat) {
                accept_some(lp);
                continue;
            }
            nconn_t *c = ptr;
            uint32_t e = evs[i].events;
            if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                c->can_read = 1;
            if (e & EPOLLRDHUP)
                c->rdhup = 1;
            if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                c->can_write = 1;
            if (e & (EPOLLHUP | EPOLLERR))
                c->peer_gone = 1;
            if ((e & EPOLLRDHUP) && c->st == NC_STREAM)
                c->peer_gone = 1; /* a subscriber does not half-close and go on reading */
            if (c->st == NC_RUN)
                continue; /* its fiber runs on when woken */
            if (c->peer_gone && c->st == NC_STREAM) {
                conn_close(c, 0); /* a subscriber went away */
                continue;
            }
            conn_drive(c);
        }
        if (woken)
            take_wakeups(lp);
        int64_t now = dmp_now_ms();
        if (now - lp->last_sweep >= 1000) {
            lp->last_sweep = now;
            sweep(lp, now);
        }
    }
    dmp_log_hold(0);
    return NULL;
}

/* After every loop stopped: closes what is left (every fiber has finished: dmp_http_stop
 * waited for them; a connection under a fiber that did not is left alone, never freed). */
static void loop_drain(nloop_t *lp)
{
    take_wakeups(lp);
    while (lp->conns) {
        nconn_t *c = lp->conns;
        if (c->fiber != NULL) {
            lp->conns = c->next;
            continue;
        }
        conn_close(c, 0);
    }
}

int dmp_http_native_start(dmp_http_server_t *srv, const struct sockaddr_storage *ss,
                          socklen_t sl, dmp_error_t *err)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return DMP_ERR(err, DMP_IO, "cannot listen on %s: %s", srv->conf.listen, strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, sl) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        close(fd);
        return DMP_ERR(err, DMP_IO, "cannot listen on %s: %s", srv->conf.listen,
                       e == EADDRINUSE ? "address in use" : strerror(e));
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof(bound);
    getsockname(fd, (struct sockaddr *)&bound, &bl);
    srv->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    struct dmp_native *nat = dmp_calloc(1, sizeof(*nat));
    nat->srv = srv;
    nat->lfd = fd;
    pthread_mutex_init(&nat->ip_mu, NULL);
    /* Each connection is a descriptor: raise the soft limit to the hard one, so the
     * default connection limit (1024) fits beside the logs and stores. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int started = 0;
    for (int i = 0; i < NATIVE_THREADS; i++) {
        nloop_t *lp = &nat->loops[i];
        lp->nat = nat;
        pthread_mutex_init(&lp->mu, NULL);
        lp->ep = epoll_create1(EPOLL_CLOEXEC);
        lp->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.ptr = lp};
        struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = nat};
        if (lp->ep < 0 || lp->evfd < 0 || epoll_ctl(lp->ep, EPOLL_CTL_ADD, lp->evfd, &ev) != 0 ||
            epoll_ctl(lp->ep, EPOLL_CTL_ADD, fd, &lev) != 0)
            break;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 512 * 1024);
        int rc = pthread_create(&lp->th, &a, loop_main, lp);
        pthread_attr_destroy(&a);
        if (rc != 0)
            break;
        started++;
    }
    srv->nat = nat;
    if (started < NATIVE_THREADS) {
        dmp_http_native_stop(srv);
        return DMP_ERR(err, DMP_IO, "cannot start the HTTP loop threads");
    }
    return DMP_OK;
}

void dmp_http_native_stop(dmp_http_server_t *srv)
{
    struct dmp_native *nat = srv->nat;
    if (nat == NULL)
        return;
    atomic_store(&nat->quit, 1);
    for (int i = 0; i < NATIVE_THREADS; i++) {
        nloop_t *lp = &nat->loops[i];
        if (lp->evfd >= 0 && lp->th) {
            uint64_t one = 1;
            ssize_t w = write(lp->evfd, &one, sizeof(one));
            (void)w;
            pthread_join(lp->th, NULL);
        }
    }
    for (int i = 0; i < NATIVE_THREADS; i++)
        if (nat->loops[i].th)
            loop_drain(&nat->loops[i]);
    for (int i = 0; i < NATIVE_THREADS; i++) {
        nloop_t *lp = &nat->loops[i];
        if (lp->ep > 0)
            close(lp->ep);
        if (lp->evfd > 0)
            close(lp->evfd);
        pthread_mutex_destroy(&lp->mu);
        dmp_free(lp->batch);
    }
    close(nat->lfd);
    for (int b = 0; b < IP_BUCKETS; b++)
        while (nat->ips[b]) {
            ipent_t *e = nat->ips[b];
            nat->ips[b] = e->next;
            dmp_free(e);
        }
    pthread_mutex_destroy(&nat->ip_mu);
    dmp_free(nat);
    srv->nat = NULL;
}
