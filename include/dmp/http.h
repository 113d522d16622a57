/* http.h -- the HTTP API server: routing, limits, problem+json errors, one structured
 * log line per request.
 *
 * The server sees only the service APIs (provision.h, ...), never a store or a
 * log file. Plain HTTP runs on dmp's own HTTP/1.1 engine (src/http/native.c: a few epoll
 * loop threads), HTTPS on libmicrohttpd (src/http/mhd.c); each handler runs on a fiber,
 * and one that waits for a group commit parks instead of blocking its thread
 * (src/http/server.c and engine.h have the details).
 */
#ifndef DMP_HTTP_H
#define DMP_HTTP_H

#include "dmp/core.h"
#include "dmp/provision.h"

struct dmp_catalog;
struct dmp_auth;
struct dmp_audit;
struct dmp_mask_policy;

/* The services the handlers call. Borrowed: they must outlive the server. */
typedef struct dmp_services {
    dmp_provision_t *prov;
    struct dmp_streams *streams; /* the stream-port service (streams.h); NULL: no data plane */
    struct dmp_catalog *cat; /* the catalog (catalog.h); NULL disables discovery */
    const char *web_dir;     /* built web UI served at / (NULL: none) */
    struct dmp_auth *auth;   /* authenticator (auth.h); NULL or empty: dev mode, all admin */
    struct dmp_audit *audit; /* access records (auth.h); NULL: none */
    const struct dmp_mask_policy *mask; /* how pii is masked (auth.h); NULL: redact */
    struct dmp_governance *gov; /* policies (governance.h); NULL: none evaluated */
} dmp_services_t;

typedef struct dmp_http_conf {
    const char *listen;         /* "127.0.0.1:8181"; port 0 picks a free port */
    size_t max_body_bytes;      /* larger bodies get 413 */
    unsigned connection_limit;  /* concurrent connections (more are refused at accept) */
    unsigned per_ip_limit;      /* 0 = no per-address cap */
    unsigned timeout_s;         /* idle / slow-client timeout per connection */
    int access_log;             /* 1: one JSON line per request on stderr */
    const char *tls_cert_pem;   /* HTTPS when both are set (PEM text, not paths) */
    const char *tls_key_pem;
} dmp_http_conf_t;

typedef struct dmp_http_server dmp_http_server_t;

/* Starts serving. *out owns the server (dmp_http_stop). */
DMP_EXPORT int dmp_http_start(const dmp_http_conf_t *conf, const dmp_services_t *svc,
                              dmp_http_server_t **out, dmp_error_t *err);
/* The bound port (useful with port 0). */
DMP_EXPORT int dmp_http_port(const dmp_http_server_t *srv);
/* Marks the server ready (/readyz answers 200 from then on). */
DMP_EXPORT void dmp_http_set_ready(dmp_http_server_t *srv, int ready);
DMP_EXPORT void dmp_http_stop(dmp_http_server_t *srv);

#endif
