/* engine.h -- private to src/http/: what an HTTP engine and the request layer of
 * server.c give each other.
 *
 * Two engines move the bytes: native.c, our own HTTP/1.1 loop, serves plain HTTP (the
 * default), and libmicrohttpd (mhd.c) serves HTTPS. Everything above the bytes is shared
 * and lives in server.c: the request context, handlers on fibers, the streaming pump,
 * dispatch to the route tables and the access-log line. An engine hands a complete
 * request (method, decoded path, body) to a fiber, suspends the connection when the
 * fiber parks, and writes the reply the fiber leaves in f->resp. Handlers reach the
 * connection's headers and query only through dmp_http_conn_ops_t. */
#ifndef DMP_HTTP_ENGINE_H
#define DMP_HTTP_ENGINE_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "http/ctxsw.h"
#include "http/http_int.h"

#if defined(__SANITIZE_ADDRESS__)
#define DMP_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DMP_FIBER_ASAN 1
#endif
#endif

/* A connection as handlers see it. resume may be called from any thread: it makes the
 * engine call back into the connection's fiber or pump soon (on the connection's loop). */
typedef struct dmp_http_conn_ops {
    const char *(*header)(void *conn, const char *name); /* case-insensitive; NULL: none */
    const char *(*query)(void *conn, const char *name);  /* decoded; NULL: none */
    void (*each_header)(void *conn, int (*fn)(void *ud, const char *name, const char *value),
                        void *ud);
    int (*fd)(void *conn);
    void (*resume)(void *conn);
} dmp_http_conn_ops_t;

typedef struct dmp_http_fiber dmp_http_fiber_t;
typedef struct dmp_http_pump dmp_http_pump_t;
struct dmp_native;

struct dmp_http_server {
    struct MHD_Daemon *d;      /* HTTPS (mhd.c), or NULL */
    struct dmp_native *nat;    /* plain HTTP (native.c), or NULL */
    dmp_http_conf_t conf;
    dmp_services_t svc;
    int port;
    volatile int ready;
    /* Shutdown: no engine may be stopped with a suspended connection. */
    pthread_mutex_t mu;
    /* Atomic, so a fiber suspends without srv->mu: a suspender counts itself in n_susp
     * before it reads stopping, the stopper sets stopping before it reads n_susp, so one
     * of them sees the other. */
    atomic_int stopping;       /* no new suspension; pumps end their streams */
    atomic_int n_susp;         /* connections suspended by us and not yet called back */
    dmp_http_pump_t *pumps;    /* live streaming responses */
};

/* Per-request state kept by the engine from the request line to the access-log line. */
typedef struct dmp_http_rctx {
    dmp_http_server_t *srv;
    dmp_http_fiber_t *fiber; /* the handler's fiber, once the body is complete */
    dmp_buf_t body;
    int too_big;   /* 1: over the limit, the rest of the body is dropped */
    int replied;   /* a reply was queued before the body was read (Content-Length check) */
    int status;
    int64_t start_ns;
    char method[12];
    char *url;        /* for the access log (owned), or NULL: */
    const char *path; /* the access log's path, not owned */
    char principal[128]; /* the caller's name, for the access log ("" = none) */
} dmp_http_rctx_t;

struct dmp_http_fiber {
    dmp_ctx_t ctx;  /* the fiber */
    dmp_ctx_t back; /* the loop thread that runs it */
    dmp_http_server_t *srv;
    const dmp_http_conn_ops_t *ops;
    void *conn;
    const char *url, *method;
    dmp_http_rctx_t *rctx;
    dmp_http_resp_t resp; /* the handler's reply, once finished */
    int finished;
    int woken, suspended, in_susp; /* under mu */
    struct dmp_http_fiber *next_free;
#ifdef DMP_FIBER_ASAN
    void *fake_stack;
    const void *back_bottom;
    size_t back_size;
#endif
    /* From here on, kept while the fiber waits in a pool for its next request. */
    void *stack;
    pthread_mutex_t mu;  /* woken, suspended */
    pthread_cond_t cond; /* woken, while the server stops (no suspension then) */
};

/* A fiber for one request (NULL when out of memory). */
dmp_http_fiber_t *dmp_http_fiber_new(dmp_http_server_t *srv, const dmp_http_conn_ops_t *ops,
                                     void *conn, dmp_http_rctx_t *rctx, const char *method,
                                     const char *url);
/* Runs the fiber as far as it goes on this thread. Returns 1 when it finished (the reply
 * is in f->resp; the caller sends it and frees f), 0 when it parked: then suspend(conn)
 * was called, and ops->resume(conn) will come from the waker. */
int dmp_http_fiber_step(dmp_http_fiber_t *f, void (*suspend)(void *conn));
void dmp_http_fiber_free(dmp_http_fiber_t *f);
/* Hands this thread's idle fibers to the shared pool (runs by itself at thread exit). */
void dmp_http_fiber_release_spares(void);

/* Streaming responses (SSE): a pump thread runs the blocking producer into a buffer. */
dmp_http_pump_t *dmp_http_pump_start(dmp_http_server_t *srv, const dmp_http_conn_ops_t *ops,
                                     void *conn, dmp_http_resp_t *resp);
/* On the connection's loop: copies up to max buffered bytes to buf. Returns the count
 * (> 0); 0 when nothing is buffered yet (suspend(conn) was called; ops->resume follows);
 * -1 at the end of the stream; -2 when the stream failed or the server stops. */
long dmp_http_pump_take(dmp_http_pump_t *p, char *buf, size_t max, void (*suspend)(void *conn));
/* The response is gone (sent, or the client left): the pump stops and is freed. */
void dmp_http_pump_done(dmp_http_pump_t *p);

/* The access-log line of a finished request (if the access log is on). */
void dmp_http_access_log(const dmp_http_rctx_t *ctx, const char *remote, int completed);

/* Text of a status code ("Not Found"). */
const char *dmp_http_status_text(int status);

/* Engines. */
int dmp_http_native_start(dmp_http_server_t *srv, const struct sockaddr_storage *ss,
                          socklen_t sl, dmp_error_t *err);
void dmp_http_native_stop(dmp_http_server_t *srv);
int dmp_http_mhd_start(dmp_http_server_t *srv, const struct sockaddr_storage *ss,
                       dmp_error_t *err);
void dmp_http_mhd_stop(dmp_http_server_t *srv);

#endif
