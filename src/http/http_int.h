/* http_int.h -- private to src/http/: the request/response model handlers see,
 * the route table, and reply helpers. No engine type leaks into handlers (engine.h). */
#ifndef DMP_HTTP_INT_H
#define DMP_HTTP_INT_H

#include <jansson.h>

#include "dmp/http.h"

#define DMP_HTTP_MAX_PARAMS 8

typedef struct dmp_http_req dmp_http_req_t;

typedef struct dmp_http_resp {
    int status;
    const char *content_type; /* static string */
    dmp_buf_t body;
    char *location; /* optional Location header (owned) */
    dmp_buf_t headers; /* extra "Name: value\n" lines (owned) */
    /* Streaming body (Server-Sent Events): when 'stream' is set the body buffer is ignored
     * and 'stream' is called on the connection's thread for the next bytes (it may block):
     * it returns the bytes written to buf (> 0), -1 at the end, -2 to drop the connection.
     * 'stream_free' (may be NULL) releases 'stream_ud' when the response ends. */
    long (*stream)(void *ud, char *buf, size_t max);
    void *stream_ud;
    void (*stream_free)(void *ud);
} dmp_http_resp_t;

struct dmp_http_req {
    const char *method;
    const char *url;     /* path without the query, percent-decoded by the engine */
    const char *content_type;
    const char *body;    /* NUL-terminated; body_len bytes */
    size_t body_len;
    const dmp_services_t *svc;
    struct dmp_http_server *srv;
    void *conn; /* the engine's connection, for header/query lookups (engine.h) */
    const struct dmp_http_conn_ops *ops;
    int nparams;
    const char *param_names[DMP_HTTP_MAX_PARAMS];
    char *params[DMP_HTTP_MAX_PARAMS]; /* in param_buf, or in param_heap when longer */
    char param_buf[256];
    char *param_heap;
    const struct dmp_principal *principal; /* the caller (auth.h); NULL = anonymous */
    /* Set by dmp_http_authorize*: what the audit record written after the reply names. */
    char *audit_product, *audit_port;
    const char *audit_action;
};

typedef void (*dmp_http_handler_fn)(dmp_http_req_t *req, dmp_http_resp_t *resp);

typedef struct dmp_http_route {
    const char *method;  /* "GET", "POST" ... */
    const char *pattern; /* "/v1/state/dataproduct/{environment}/{domain}/{name}/{version}" */
    dmp_http_handler_fn fn;
} dmp_http_route_t;

/* Matches method+path against the route table; fills req params on success.
 * Returns the route, or NULL; *path_matched says whether another method exists. */
const dmp_http_route_t *dmp_http_route_find(dmp_http_req_t *req, int *path_matched);

/* Route tables contributed by each handler file. */
extern const dmp_http_route_t dmp_http_routes_provision[];
extern const dmp_http_route_t dmp_http_routes_callbacks[];
extern const dmp_http_route_t dmp_http_routes_health[];
extern const dmp_http_route_t dmp_http_routes_events[];
extern const dmp_http_route_t dmp_http_routes_catalog[];
extern const dmp_http_route_t dmp_http_routes_audit[];
extern const dmp_http_route_t dmp_http_routes_policies[];
/* Every route needs an authenticated caller except those of the tables listed in
 * server.c's public_tables (the health probes); see docs/security.md. */

/* Every route table, in match order (for GET /openapi). */
const dmp_http_route_t *const *dmp_http_route_tables(size_t *n);

/* Request accessors */
const char *dmp_http_param(const dmp_http_req_t *req, const char *name);
const char *dmp_http_query(const dmp_http_req_t *req, const char *name);
const char *dmp_http_header(const dmp_http_req_t *req, const char *name);
/* Calls fn for every request header (stops when fn returns non-zero). */
void dmp_http_each_header(const dmp_http_req_t *req,
                          int (*fn)(void *ud, const char *name, const char *value), void *ud);
/* The connection's socket, to notice a client that went away (-1 if unknown). */
int dmp_http_conn_fd(const dmp_http_req_t *req);

/* Replies */
void dmp_http_reply_json(dmp_http_resp_t *resp, int status, json_t *body); /* steals body */
/* RFC 9457 problem+json: {"type","title","status","detail","code", "field"?, "location"?} */
void dmp_http_reply_problem(dmp_http_resp_t *resp, int status, const char *code,
                            const char *detail, const char *field, const char *location);
/* Problem from a dmp_error_t, with the HTTP status of its code. */
void dmp_http_reply_error(dmp_http_resp_t *resp, const dmp_error_t *err);

/* ---- authentication, authorization, masking, audit (h_audit.c; rules in auth.h) */
struct dmp_acl;
struct dmp_descriptor;
/* Called by server.c before dispatch: sets req->principal (the dev principal when no
 * credentials are configured). On failure replies 401 and returns -1. *owned is the
 * principal to free after the request (dmp_principal_free). */
int dmp_http_authenticate(dmp_http_req_t *req, const char *authorization, dmp_http_resp_t *resp,
                          struct dmp_principal **owned);
/* One call per request: 0 when req->principal may do 'action' (a dmp_action_t) on the
 * product/port under 'acl'; otherwise replies 401/403/404 (404 when the caller may not
 * see it, as for a product that does not exist) and returns -1. Either way the access
 * is audited after the reply, with its final status. product is "domain/name". */
int dmp_http_authorize(dmp_http_req_t *req, dmp_http_resp_t *resp, const struct dmp_acl *acl,
                       const char *product, const char *port, int action);
/* The same for a whole product. APPLY: a product that exists (deployed in any environment,
 * or catalogued) is judged by its stored ACLs only; a new one needs the owner group of
 * its domain. Other actions: the stored ACL in 'env'. Hidden or missing: 404. */
int dmp_http_authorize_product(dmp_http_req_t *req, dmp_http_resp_t *resp, const char *env,
                               const char *domain, const char *name,
                               const struct dmp_descriptor *incoming, int action);
/* Masks 'data' for req->principal under the port's schema and ACL (svc->mask policy).
 * *out is a new reference. */
int dmp_http_mask(dmp_http_req_t *req, const json_t *schema, const struct dmp_acl *acl,
                  const json_t *data, json_t **out);
/* Replies 404 exactly as dmp_http_authorize does for a product the caller may not see
 * (so a missing product and a hidden one look the same), and audits it. */
void dmp_http_reply_hidden(dmp_http_req_t *req, dmp_http_resp_t *resp, const char *product,
                           const char *port, int action);
/* h_events.c: installs/removes the access check of push subscriptions (streams.h) for
 * svc->streams; called by server.c at start and stop. */
void dmp_http_events_install(const dmp_services_t *svc);
void dmp_http_events_uninstall(const dmp_services_t *svc);
/* The catalog's consumer view of the product named by the request's {domain}/{name}
 * (ports with schemas, SLOs, how to read them, sample events masked for the caller), or
 * NULL with 'err' set when it is not catalogued. The caller must have authorized the read. */
json_t *dmp_http_catalog_view(dmp_http_req_t *req, const char *version, dmp_error_t *err);

/* The catalog entry of the request's {domain}/{name} (?version=), authorized for the
 * caller; NULL when it replied (404 for hidden or missing, 503 without a catalog). */
json_t *dmp_http_catalog_entry(dmp_http_req_t *req, dmp_http_resp_t *resp);

/* A catalog entry reshaped as a descriptor ({domain, owner, tags, outputPorts}) so
 * dmp_acl_from_json can read its ACL. New reference. */
json_t *dmp_http_entry_doc(const json_t *entry);

/* Called by server.c after the handler: writes the audit record, if any. */
void dmp_http_audit_finish(dmp_http_req_t *req, int status);

int dmp_http_server_ready(const struct dmp_http_server *srv);

#endif
