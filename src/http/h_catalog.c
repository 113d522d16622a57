/* h_catalog.c -- the discovery API: search, registration of existing products,
 * product entries and versions, lineage and topology, AsyncAPI/OpenAPI exports,
 * dmp's own OpenAPI document, and the static web UI at /.
 *
 * Handlers see only catalog.h and auth.h: the catalog answers, and the access rules of
 * auth.h (applied here, per product and per port) decide what the caller sees. */
#include <stdlib.h>
#include <string.h>

#include "dmp/auth.h"
#include "dmp/catalog.h"
#include "dmp/streams.h"
#include "http/http_int.h"

#define SAMPLE_EVENTS 3 /* newest events shown per stream port */

/* ---- visibility: the caller reads a product under its entry's ACL (auth.h) */

/* The ACL of a whole catalog entry (the union of its ports). */
static int entry_acl(const json_t *e, dmp_acl_t *acl)
{
    json_t *doc = dmp_http_entry_doc(e);
    int rc = dmp_acl_from_json(doc, NULL, acl, NULL);
    json_decref(doc);
    return rc;
}

/* 1 when the caller may read port 'port' of the product in descriptor shape 'doc'. */
static int port_readable(const dmp_http_req_t *req, const json_t *doc, const char *port)
{
    if (req->principal != NULL && req->principal->admin)
        return 1;
    dmp_acl_t acl = {0};
    int ok = port != NULL && dmp_acl_from_json(doc, port, &acl, NULL) == DMP_OK &&
             dmp_authz_check(req->principal, &acl, DMP_ACT_READ, NULL) == DMP_OK;
    dmp_acl_fini(&acl);
    return ok;
}

/* Removes from entry 'e' every port the caller may not read (its schema, samples and
 * read URLs go with it). When 'hidden' is not NULL, the removed port names are appended
 * to it. A product is readable as a whole when one port is; each port keeps its own
 * rule. */
static void keep_readable_ports(const dmp_http_req_t *req, json_t *e, json_t *hidden)
{
    json_t *ports = json_object_get(e, "ports");
    if (!json_is_array(ports) || (req->principal != NULL && req->principal->admin))
        return;
    json_t *doc = dmp_http_entry_doc(e);
    for (size_t i = json_array_size(ports); i-- > 0;) {
        const char *pn = json_string_value(json_object_get(json_array_get(ports, i), "name"));
        if (port_readable(req, doc, pn))
            continue;
        if (hidden != NULL && pn != NULL)
            json_array_append_new(hidden, json_string(pn));
        json_array_remove(ports, i);
    }
    json_decref(doc);
}

/* The ports of 'summary' (a search result or graph node: its ports carry owner,
 * visibility, allow and tags) the caller may read, as {name: true}; NULL when the caller
 * may not read the product at all. */
static json_t *readable_ports(const dmp_http_req_t *req, const json_t *summary)
{
    json_t *doc = dmp_http_entry_doc(summary);
    dmp_acl_t acl = {0};
    int ok = dmp_acl_from_json(doc, NULL, &acl, NULL) == DMP_OK &&
             dmp_authz_check(req->principal, &acl, DMP_ACT_READ, NULL) == DMP_OK;
    dmp_acl_fini(&acl);
    json_t *out = NULL;
    if (ok) {
        out = json_object();
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(summary, "ports"), i, p)
        {
            const char *pn = json_string_value(json_object_get(p, "name"));
            if (pn != NULL && port_readable(req, doc, pn))
                json_object_set_new(out, pn, json_true());
        }
    }
    json_decref(doc);
    return out;
}

/* dmp_catalog_query_t.port_readable for a request's caller (never used for admins). */
static int search_port_readable(void *ud, const json_t *summary, const char *port)
{
    const dmp_http_req_t *req = ud;
    json_t *doc = dmp_http_entry_doc(summary);
    int ok;
    if (port != NULL) {
        ok = port_readable(req, doc, port);
    } else {
        dmp_acl_t acl = {0};
        ok = dmp_acl_from_json(doc, NULL, &acl, NULL) == DMP_OK &&
             dmp_authz_check(req->principal, &acl, DMP_ACT_READ, NULL) == DMP_OK;
        dmp_acl_fini(&acl);
    }
    json_decref(doc);
    return ok;
}

/* Authorizes reading the product of the request's path; a product the caller may not
 * read answers exactly as one that is not catalogued. Returns 0 to go on. */
static int authorize_read(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (req->principal != NULL && req->principal->admin)
        return 0; /* admins read everything; the handler answers for what does not exist */
    const char *domain = dmp_http_param(req, "domain"), *name = dmp_http_param(req, "name");
    char *product = dmp_asprintf("%s/%s", domain ? domain : "", name ? name : "");
    json_t *e = NULL;
    int rc = -1;
    if (domain == NULL || name == NULL ||
        dmp_catalog_current(req->svc->cat, domain, name, &e, NULL) != DMP_OK) {
        dmp_http_reply_hidden(req, resp, product, NULL, DMP_ACT_READ);
    } else {
        dmp_acl_t acl = {0};
        if (entry_acl(e, &acl) != DMP_OK)
            dmp_http_reply_hidden(req, resp, product, NULL, DMP_ACT_READ);
        else
            rc = dmp_http_authorize(req, resp, &acl, product, NULL, DMP_ACT_READ);
        dmp_acl_fini(&acl);
    }
    json_decref(e);
    dmp_free(product);
    return rc;
}

/* A node of a product the caller may not read becomes the placeholder an unknown
 * product gets: its key, domain, name and level, "missing": true. */
static json_t *placeholder(const json_t *n)
{
    json_t *p = json_object();
    static const char *const keep[] = {"key", "domain", "name", "level"};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        if (json_object_get(n, keep[i]) != NULL)
            json_object_set(p, keep[i], json_object_get(n, keep[i]));
    json_object_set_new(p, "missing", json_true());
    return p;
}

/* Lineage and topology as the caller may see them, decided per port from each node's
 * summary:
 * - a node the caller may not read becomes a placeholder (lineage) or goes (topology:
 *   with the edges into it; a hidden producer of a shown consumer stays a placeholder);
 * - a readable node lists only the ports the caller may read;
 * - an edge keeps its producer "port" only when the caller may read that port, and its
 *   consumer's "input" only when the caller may read the consumer; otherwise the name
 *   is removed and "hidden": true says so (the edge itself stays).
 * Admins see everything and never get here. */
static void filter_graph(const dmp_http_req_t *req, json_t *g, int drop)
{
    if (req->principal != NULL && req->principal->admin)
        return;
    json_t *views = json_object(), *gone = json_object();
    json_t *nodes = json_object_get(g, "nodes"), *kept = json_array();
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n)
    {
        const char *key = json_string_value(json_object_get(n, "key"));
        if (key == NULL)
            continue;
        json_t *ports = json_is_true(json_object_get(n, "missing")) ? NULL
                                                                     : readable_ports(req, n);
        if (json_is_true(json_object_get(n, "missing"))) {
            json_array_append(kept, n);
        } else if (ports != NULL) {
            json_object_set(views, key, ports);
            json_t *pl = json_object_get(n, "ports"), *kp = json_array();
            size_t j;
            json_t *p;
            json_array_foreach(pl, j, p) if (json_object_get(
                ports, json_string_value(json_object_get(p, "name"))) != NULL)
                json_array_append(kp, p);
            json_t *copy = json_copy(n);
            json_object_set_new(copy, "ports", kp);
            json_array_append_new(kept, copy);
        } else if (drop) {
            json_object_set_new(gone, key, json_true());
        } else {
            json_array_append_new(kept, placeholder(n));
        }
        json_decref(ports);
    }
    json_t *edges = json_object_get(g, "edges"), *kept_e = json_array();
    json_array_foreach(edges, i, n)
    {
        const char *to = json_string_value(json_object_get(n, "to"));
        const char *from = json_string_value(json_object_get(n, "from"));
        if (to != NULL && json_object_get(gone, to))
            continue;
        if (from != NULL && json_object_get(gone, from)) {
            /* the hidden producer of a shown consumer: a placeholder, once */
            json_t *ph = json_pack("{s:s,s:b}", "key", from, "missing", 1);
            const char *slash = strchr(from, '/');
            if (slash != NULL) {
                json_object_set_new(ph, "domain", json_stringn(from, (size_t)(slash - from)));
                json_object_set_new(ph, "name", json_string(slash + 1));
            }
            json_array_append_new(kept, ph);
            json_object_del(gone, from);
        }
        json_t *e = json_copy(n);
        json_t *fv = from ? json_object_get(views, from) : NULL;
        const char *port = json_string_value(json_object_get(n, "port"));
        if (port != NULL && (fv == NULL || json_object_get(fv, port) == NULL)) {
            json_object_del(e, "port");
            json_object_set_new(e, "hidden", json_true());
        }
        if (json_object_get(n, "input") != NULL &&
            (to == NULL || json_object_get(views, to) == NULL)) {
            json_object_del(e, "input");
            json_object_set_new(e, "hidden", json_true());
        }
        json_array_append_new(kept_e, e);
    }
    json_object_set_new(g, "nodes", kept);
    json_object_set_new(g, "edges", kept_e);
    json_array_foreach(json_object_get(g, "domains"), i, n)
    {
        json_t *list = json_object_get(n, "products"), *kl = json_array();
        size_t j;
        json_t *k;
        json_array_foreach(list, j, k) if (json_object_get(views, json_string_value(k)) != NULL)
            json_array_append(kl, k);
        json_object_set_new(n, "products", kl);
    }
    /* domains with nothing left to show go too */
    json_t *dl = json_object_get(g, "domains");
    for (size_t j = json_array_size(dl); j-- > 0;)
        if (json_array_size(json_object_get(json_array_get(dl, j), "products")) == 0)
            json_array_remove(dl, j);
    json_decref(views);
    json_decref(gone);
}

static int need_catalog(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (req->svc->cat != NULL)
        return 1;
    dmp_http_reply_problem(resp, 503, "DMP_UNAVAILABLE", "the catalog is not open on this server",
                           NULL, NULL);
    return 0;
}

/* "http://<Host>" as the client reached us, for exports and consume snippets. */
static char *base_url(const dmp_http_req_t *req)
{
    const char *host = dmp_http_header(req, "Host");
    if (host == NULL || *host == '\0' || strlen(host) > 255 || strpbrk(host, " \"<>\\/"))
        host = "127.0.0.1:8181";
    return dmp_asprintf("http://%s", host);
}

static void h_search(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (!need_catalog(req, resp))
        return;
    dmp_catalog_query_t q = {0};
    q.q = dmp_http_query(req, "q");
    q.domain = dmp_http_query(req, "domain");
    q.tag = dmp_http_query(req, "tag");
    q.owner = dmp_http_query(req, "owner");
    q.type = dmp_http_query(req, "type");
    q.cursor = dmp_http_query(req, "cursor");
    const char *limit = dmp_http_query(req, "limit");
    if (limit && *limit) {
        char *end;
        long n = strtol(limit, &end, 10);
        if (*end != '\0' || n < 1) {
            dmp_http_reply_problem(resp, 400, "DMP_INVALID",
                                   "limit must be a whole number from 1 (larger values are "
                                   "capped at 100)",
                                   "limit", NULL);
            return;
        }
        q.limit = n > DMP_CATALOG_MAX_PAGE ? DMP_CATALOG_MAX_PAGE : (int)n;
    }
    /* Products the caller may not read are absent, and a readable one is found only by
     * text it may read and shows only its readable ports (dmp_catalog_search decides with
     * this per-port rule). Admins take the plain path. */
    if (req->principal == NULL || !req->principal->admin) {
        q.port_readable = search_port_readable;
        q.port_ud = req;
    }
    json_t *out = NULL;
    dmp_error_t err = {0};
    if (dmp_catalog_search(req->svc->cat, &q, &out, &err) != DMP_OK) {
        dmp_http_reply_error(resp, &err);
        return;
    }
    dmp_http_reply_json(resp, 200, out);
}

/* POST /v1/register: catalogue a product without provisioning anything. */
static void h_register(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (!need_catalog(req, resp))
        return;
    if (req->body_len == 0) {
        dmp_http_reply_problem(resp, 400, "DMP_INVALID",
                               "request body is empty: send a data product descriptor (YAML or "
                               "JSON)",
                               NULL, NULL);
        return;
    }
    dmp_descriptor_opts_t opts = {0};
    const char *ct = req->content_type ? req->content_type : "";
    opts.format = strstr(ct, "json")   ? DMP_FMT_JSON
                  : strstr(ct, "yaml") ? DMP_FMT_YAML
                                       : DMP_FMT_AUTO;
    opts.source = "<request>";
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    dmp_error_t err = {0};
    if (dmp_descriptor_parse(req->body, req->body_len, &opts, &d, &diags, &err) != DMP_OK) {
        json_t *p = json_object();
        int status = err.code == DMP_LIMIT ? 413 : 400;
        json_object_set_new(p, "type",
                            json_string(err.code == DMP_PARSE ? "urn:dmp:problem:DMP_PARSE"
                                                              : "urn:dmp:problem:DMP_INVALID"));
        json_object_set_new(p, "title",
                            json_string(status == 413 ? "Content Too Large" : "Bad Request"));
        json_object_set_new(p, "status", json_integer(status));
        json_object_set_new(p, "code", json_string(dmp_errname(err.code)));
        json_object_set_new(p, "detail", json_string(err.msg));
        json_object_set_new(p, "errors", dmp_diags_to_json(&diags));
        dmp_http_reply_json(resp, status, p);
        resp->content_type = "application/problem+json";
        dmp_diags_free(&diags);
        return;
    }
    dmp_diags_free(&diags);
    /* An existing product (catalogued, or deployed in any environment) is its owners'
     * (the stored ACLs, never the declared one), so registering cannot take it over; a
     * new one needs the owner group of its domain (h_audit.c). */
    if (dmp_http_authorize_product(req, resp, NULL, d->domain, d->name, d, DMP_ACT_APPLY) != 0) {
        dmp_descriptor_free(d);
        return;
    }
    if (dmp_catalog_register(req->svc->cat, d, "register", &err) != DMP_OK) {
        dmp_http_reply_error(resp, &err);
    } else {
        resp->location = dmp_asprintf("/v1/catalog/products/%s/%s", d->domain, d->name);
        dmp_http_reply_json(resp, 201,
                            json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", d->id, "domain", d->domain,
                                      "name", d->name, "version", d->version, "status",
                                      "registered"));
    }
    dmp_descriptor_free(d);
}

/* Adds how to read each port: URLs for HTTP clients and the dmp command. */
static void add_consume(json_t *e, const char *base)
{
    const char *domain = json_string_value(json_object_get(e, "domain"));
    const char *name = json_string_value(json_object_get(e, "name"));
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(e, "ports"), i, p)
    {
        const char *pn = json_string_value(json_object_get(p, "name"));
        if (!dmp_str_eq(json_string_value(json_object_get(p, "type")), "stream"))
            continue; /* only stream ports are read through dmp; others say how in specific */
        char *read = dmp_asprintf("%s/v1/products/%s/%s/ports/%s/events", base, domain, name, pn);
        char *sub = dmp_asprintf("%s/v1/products/%s/%s/ports/%s/subscribe", base, domain, name, pn);
        char *curl = dmp_asprintf("curl -s '%s?from=1&limit=10'", read);
        char *tail = dmp_asprintf("dmp tail %s/%s %s --follow --server %s", domain, name, pn, base);
        json_t *c = json_pack("{s:s,s:s,s:s,s:s}", "read", read, "curl", curl, "subscribe", sub,
                              "cli", tail);
        json_object_set_new(p, "consume", c);
        dmp_free(read);
        dmp_free(sub);
        dmp_free(curl);
        dmp_free(tail);
    }
    char *aa = dmp_asprintf("%s/v1/products/%s/%s/asyncapi", base, domain, name);
    char *oa = dmp_asprintf("%s/v1/products/%s/%s/openapi", base, domain, name);
    json_object_set_new(e, "exports", json_pack("{s:s,s:s}", "asyncapi", aa, "openapi", oa));
    dmp_free(aa);
    dmp_free(oa);
}

/* Adds "samples" to each provisioned stream port: its newest events, each one's data
 * masked as this caller must see it (fail closed: an event that cannot be masked is
 * left out). */
static void add_samples(dmp_http_req_t *req, json_t *e)
{
    dmp_streams_t *streams = req->svc->streams;
    if (streams == NULL)
        return;
    const char *domain = json_string_value(json_object_get(e, "domain"));
    const char *name = json_string_value(json_object_get(e, "name"));
    const char *env = json_string_value(json_object_get(e, "environment"));
    json_t *ports = json_object_get(e, "ports");
    /* The ACL comes from the entry in descriptor shape (auth.h reads outputPorts). */
    json_t *acl_doc = json_pack("{s:O?,s:O?,s:O?,s:O}", "domain", json_object_get(e, "domain"),
                                "owner", json_object_get(e, "owner"), "tags",
                                json_object_get(e, "tags"), "outputPorts", ports);
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        const char *pn = json_string_value(json_object_get(p, "name"));
        if (!dmp_str_eq(json_string_value(json_object_get(p, "type")), "stream") || pn == NULL)
            continue;
        dmp_stream_port_t *sp = NULL;
        if (dmp_streams_port_find(streams, env, domain, name, pn, &sp, NULL) != DMP_OK)
            continue;
        uint64_t next = dmp_streams_next_offset(sp);
        dmp_stream_query_t q = {0};
        q.from = next > SAMPLE_EVENTS ? next - SAMPLE_EVENTS : 1;
        q.limit = SAMPLE_EVENTS;
        q.format = DMP_STREAM_FMT_ARRAY;
        dmp_buf_t buf = DMP_BUF_INIT;
        uint64_t after = 0;
        size_t count = 0;
        dmp_acl_t acl;
        if (dmp_streams_read(streams, sp, &q, &buf, &after, &count, NULL) == DMP_OK &&
            dmp_acl_from_json(acl_doc, pn, &acl, NULL) == DMP_OK) {
            json_t *events = json_loadb(buf.data ? buf.data : "", buf.len, 0, NULL);
            json_t *samples = json_array();
            size_t j;
            json_t *ev;
            json_array_foreach(events, j, ev)
            {
                json_t *data = json_object_get(ev, "data");
                json_t *masked = NULL;
                if (data == NULL) {
                    json_array_append(samples, ev);
                } else if (dmp_http_mask(req, json_object_get(p, "schema"), &acl, data, &masked) ==
                               DMP_OK &&
                           masked != NULL) {
                    json_t *copy = json_copy(ev);
                    json_object_set_new(copy, "data", masked);
                    json_array_append_new(samples, copy);
                } else {
                    json_decref(masked);
                }
            }
            json_object_set_new(p, "samples", samples);
            json_decref(events);
            dmp_acl_fini(&acl);
        }
        dmp_buf_free(&buf);
        dmp_streams_port_release(sp);
    }
    json_decref(acl_doc);
}

json_t *dmp_http_catalog_view(dmp_http_req_t *req, const char *version, dmp_error_t *err)
{
    if (req->svc->cat == NULL) {
        DMP_ERR(err, DMP_UNAVAILABLE, "the catalog is not enabled");
        return NULL;
    }
    json_t *out = NULL;
    if (dmp_catalog_get(req->svc->cat, dmp_http_param(req, "domain"),
                        dmp_http_param(req, "name"), version, &out, err) != DMP_OK)
        return NULL;
    keep_readable_ports(req, out, NULL);
    char *base = base_url(req);
    add_consume(out, base);
    dmp_free(base);
    add_samples(req, out);
    return out;
}

json_t *dmp_http_catalog_entry(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (!need_catalog(req, resp) || authorize_read(req, resp) != 0)
        return NULL;
    dmp_error_t err = {0};
    json_t *out = dmp_http_catalog_view(req, dmp_http_query(req, "version"), &err);
    if (out == NULL)
        dmp_http_reply_error(resp, &err);
    return out;
}

static void h_entry(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    json_t *out = dmp_http_catalog_entry(req, resp);
    if (out != NULL)
        dmp_http_reply_json(resp, 200, out);
}

static void h_versions(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (!need_catalog(req, resp) || authorize_read(req, resp) != 0)
        return;
    json_t *out = NULL;
    dmp_error_t err = {0};
    if (dmp_catalog_versions(req->svc->cat, dmp_http_param(req, "domain"),
                             dmp_http_param(req, "name"), &out, &err) != DMP_OK)
        dmp_http_reply_error(resp, &err);
    else
        dmp_http_reply_json(resp, 200, json_pack("{s:o}", "versions", out));
}

static void h_lineage(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (!need_catalog(req, resp) || authorize_read(req, resp) != 0)
        return;
    const char *d = dmp_http_query(req, "direction");
    dmp_lineage_dir_t dir = DMP_LINEAGE_BOTH;
    if (d && !strcmp(d, "up"))
        dir = DMP_LINEAGE_UP;
    else if (d && !strcmp(d, "down"))
        dir = DMP_LINEAGE_DOWN;
    else if (d && *d && strcmp(d, "both")) {
        dmp_http_reply_problem(resp, 400, "DMP_INVALID", "direction must be one of up, down, both",
                               "direction", NULL);
        return;
    }
    int depth = 3;
    const char *ds = dmp_http_query(req, "depth");
    if (ds && *ds) {
        char *end;
        long long n = strtoll(ds, &end, 10);
        if (*end != '\0' || n < 1) {
            dmp_http_reply_problem(resp, 400, "DMP_INVALID",
                                   "depth must be a whole number from 1 (values above 32 are "
                                   "capped)",
                                   "depth", NULL);
            return;
        }
        depth = n > DMP_CATALOG_MAX_DEPTH ? DMP_CATALOG_MAX_DEPTH : (int)n;
    }
    json_t *out = NULL;
    dmp_error_t err = {0};
    if (dmp_catalog_lineage(req->svc->cat, dmp_http_param(req, "domain"),
                            dmp_http_param(req, "name"), dir, depth, &out, &err) != DMP_OK) {
        dmp_http_reply_error(resp, &err);
    } else {
        filter_graph(req, out, 0);
        dmp_http_reply_json(resp, 200, out);
    }
}

static void h_topology(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (!need_catalog(req, resp))
        return;
    json_t *out = NULL;
    dmp_error_t err = {0};
    if (dmp_catalog_topology(req->svc->cat, &out, &err) != DMP_OK) {
        dmp_http_reply_error(resp, &err);
    } else {
        filter_graph(req, out, 1);
        dmp_http_reply_json(resp, 200, out);
    }
}

/* A port's key in the exports (as src/catalog/exports.c names channels, messages and
 * schemas): letters, digits, '.', '-' and '_'; anything else becomes '_'. */
static char *export_key(const char *s)
{
    char *k = dmp_strdup(s);
    for (char *p = k; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            *p = '_';
    }
    return k;
}

/* Adds to 'names' the component schema named by every "#/components/schemas/NAME..."
 * reference under 'v' (bounded depth). */
static void collect_schema_refs(const json_t *v, json_t *names, int depth)
{
    static const char pre[] = "#/components/schemas/";
    if (depth > 64)
        return;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c)
        {
            const char *ref = json_string_value(c);
            if (!strcmp(k, "$ref") && ref != NULL && !strncmp(ref, pre, sizeof(pre) - 1)) {
                const char *n = ref + sizeof(pre) - 1;
                char *name = dmp_strndup(n, strcspn(n, "/"));
                json_object_set_new(names, name, json_true());
                dmp_free(name);
            } else {
                collect_schema_refs(c, names, depth + 1);
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) collect_schema_refs(c, names, depth + 1);
    }
}

/* Drops the component schemas that were moved out of hidden ports' schemas (named
 * "<port key>_<definition>") and that nothing left in the document refers to. */
static void drop_orphan_schemas(json_t *doc, const json_t *hidden_keys)
{
    json_t *comp = json_object_get(doc, "components");
    json_t *schemas = json_incref(json_object_get(comp, "schemas"));
    if (!json_is_object(schemas)) {
        json_decref(schemas);
        return;
    }
    json_object_del(comp, "schemas");
    json_t *reached = json_object();
    collect_schema_refs(doc, reached, 0);
    for (size_t seen = 0; json_object_size(reached) != seen;) { /* the transitive closure */
        seen = json_object_size(reached);
        json_t *round = json_deep_copy(reached);
        const char *k;
        json_t *v;
        json_object_foreach(round, k, v)
            collect_schema_refs(json_object_get(schemas, k), reached, 0);
        json_decref(round);
    }
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(schemas, tmp, k, v)
    {
        if (json_object_get(reached, k) != NULL)
            continue;
        size_t i;
        json_t *h;
        json_array_foreach(hidden_keys, i, h)
        {
            size_t n = json_string_length(h);
            if (!strncmp(k, json_string_value(h), n) && k[n] == '_') {
                json_object_del(schemas, k);
                break;
            }
        }
    }
    json_object_set_new(comp, "schemas", schemas);
    json_decref(reached);
}

/* Removes from an export every part that describes a port the caller may not read:
 * AsyncAPI channels, operations, messages and the definitions moved out of the port's
 * schema; OpenAPI paths and schemas. */
static void drop_hidden_ports(json_t *doc, const json_t *hidden, const char *domain,
                              const char *name)
{
    size_t i;
    json_t *h;
    json_t *keys = json_array();
    json_array_foreach(hidden, i, h)
    {
        const char *pn = json_string_value(h);
        char *key = export_key(pn);
        json_array_append_new(keys, json_string(key));
        char *mkey = dmp_asprintf("%sEvent", key);
        char *recv = dmp_asprintf("receive_%s", key), *send = dmp_asprintf("send_%s", key);
        char *events = dmp_asprintf("/v1/products/%s/%s/ports/%s/events", domain, name, pn);
        char *sub = dmp_asprintf("/v1/products/%s/%s/ports/%s/subscribe", domain, name, pn);
        json_t *comp = json_object_get(doc, "components");
        json_object_del(json_object_get(doc, "channels"), key);
        json_object_del(json_object_get(doc, "operations"), recv);
        json_object_del(json_object_get(doc, "operations"), send);
        json_object_del(json_object_get(comp, "messages"), mkey);
        json_object_del(json_object_get(comp, "schemas"), key);
        json_object_del(json_object_get(doc, "paths"), events);
        json_object_del(json_object_get(doc, "paths"), sub);
        dmp_free(key);
        dmp_free(mkey);
        dmp_free(recv);
        dmp_free(send);
        dmp_free(events);
        dmp_free(sub);
    }
    if (json_array_size(keys) > 0)
        drop_orphan_schemas(doc, keys);
    json_decref(keys);
}

static void export_doc(dmp_http_req_t *req, dmp_http_resp_t *resp, int asyncapi)
{
    if (!need_catalog(req, resp) || authorize_read(req, resp) != 0)
        return;
    char *base = base_url(req);
    dmp_catalog_export_opts_t o = {.base_url = base};
    json_t *out = NULL;
    dmp_error_t err = {0};
    int rc =
        asyncapi
            ? dmp_catalog_asyncapi(req->svc->cat, dmp_http_param(req, "domain"),
                                   dmp_http_param(req, "name"), &o, &out, &err)
            : dmp_catalog_openapi(req->svc->cat, dmp_http_param(req, "domain"),
                                  dmp_http_param(req, "name"), &o, &out, &err);
    dmp_free(base);
    /* only the ports the caller may read (the export is built from the current entry) */
    json_t *e = NULL;
    if (rc == DMP_OK &&
        (rc = dmp_catalog_get(req->svc->cat, dmp_http_param(req, "domain"),
                              dmp_http_param(req, "name"), NULL, &e, &err)) == DMP_OK) {
        json_t *hidden = json_array();
        keep_readable_ports(req, e, hidden);
        drop_hidden_ports(out, hidden, dmp_http_param(req, "domain"), dmp_http_param(req, "name"));
        json_decref(hidden);
    }
    json_decref(e);
    if (rc != DMP_OK) {
        json_decref(out);
        dmp_http_reply_error(resp, &err);
    } else {
        dmp_http_reply_json(resp, 200, out);
    }
}

static void h_asyncapi(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    export_doc(req, resp, 1);
}

static void h_openapi_product(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    export_doc(req, resp, 0);
}

/* ---- dmp's own OpenAPI document, generated from the live route tables */

static const struct {
    const char *method, *pattern, *summary;
} known[] = {
    {"GET", "/v1/search", "Search the catalog (q, domain, tag, owner, type, limit, cursor)"},
    {"POST", "/v1/register", "Catalogue an existing product without provisioning it"},
    {"GET", "/v1/catalog/products/{domain}/{name}", "A product's catalog entry"},
    {"GET", "/v1/products/{domain}/{name}/versions", "A product's version history"},
    {"GET", "/v1/lineage/{domain}/{name}", "Lineage graph (direction=up|down|both, depth)"},
    {"GET", "/v1/topology", "The whole mesh: products, ports, consumers, domains"},
    {"GET", "/v1/products/{domain}/{name}/asyncapi", "AsyncAPI 3.0 document of a product"},
    {"GET", "/v1/products/{domain}/{name}/openapi", "OpenAPI 3.1 document of a product"},
    {"GET", "/openapi", "This document"},
    {"POST", "/v1/dataproduct", "Deploy a data product descriptor"},
    {"PUT", "/v1/dataproduct", "Update the ACLs of a deployed version"},
    {"DELETE", "/v1/dataproduct", "Delete a deployed version"},
    {"GET", "/v1/products", "List deployed products"},
    {"GET", "/v1/products/{domain}/{name}", "A deployed product and its state"},
    {"GET", "/v1/provisioners", "The provisioner registry"},
    {"PUT", "/v1/provisioners", "Register provisioners"},
};

static char *op_id(const char *method, const char *pattern)
{
    dmp_buf_t b = DMP_BUF_INIT;
    for (const char *m = method; *m; m++)
        dmp_buf_putc(&b, (char)(*m >= 'A' && *m <= 'Z' ? *m + 32 : *m));
    int up = 1;
    for (const char *p = pattern; *p; p++) {
        char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            dmp_buf_putc(&b, up && c >= 'a' && c <= 'z' ? (char)(c - 32) : c);
            up = 0;
        } else {
            up = 1;
        }
    }
    return dmp_buf_steal(&b);
}

static void h_openapi(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    json_t *paths = json_object();
    size_t nt = 0;
    const dmp_http_route_t *const *tables = dmp_http_route_tables(&nt);
    for (size_t t = 0; t < nt; t++) {
        for (const dmp_http_route_t *r = tables[t]; r->pattern; r++) {
            if (r->pattern[1] == '\0' || !strncmp(r->pattern, "/assets/", 8) ||
                !strcmp(r->pattern, "/index.html"))
                continue; /* the web UI's files */
            json_t *item = json_object_get(paths, r->pattern);
            if (item == NULL) {
                item = json_object();
                json_object_set_new(paths, r->pattern, item);
                json_t *params = json_array();
                for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{')) {
                    const char *e = strchr(p, '}');
                    if (e == NULL)
                        break;
                    json_t *nm = json_stringn(p + 1, (size_t)(e - p - 1));
                    json_array_append_new(params, json_pack("{s:o,s:s,s:b,s:{s:s}}", "name", nm,
                                                            "in", "path", "required", 1, "schema",
                                                            "type", "string"));
                }
                if (json_array_size(params))
                    json_object_set_new(item, "parameters", params);
                else
                    json_decref(params);
            }
            const char *summary = NULL;
            for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
                if (!strcmp(known[k].method, r->method) && !strcmp(known[k].pattern, r->pattern))
                    summary = known[k].summary;
            char lower[8];
            size_t ml = strlen(r->method);
            if (ml >= sizeof(lower))
                continue;
            for (size_t i = 0; i <= ml; i++)
                lower[i] = (char)(r->method[i] >= 'A' && r->method[i] <= 'Z' ? r->method[i] + 32
                                                                             : r->method[i]);
            char *id = op_id(r->method, r->pattern);
            json_t *op = json_pack("{s:s,s:s,s:{s:{s:s,s:{s:{s:{}}}},s:{s:s,s:{s:{s:{s:s}}}}}}",
                                   "operationId", id, "summary", summary ? summary : r->pattern,
                                   "responses", "2XX", "description", "Success", "content",
                                   "application/json", "schema", "default", "description",
                                   "A problem (RFC 9457)", "content", "application/problem+json",
                                   "schema", "$ref", "#/components/schemas/Problem");
            if (!strcmp(r->method, "POST") || !strcmp(r->method, "PUT"))
                json_object_set_new(op, "requestBody",
                                    json_pack("{s:{s:{s:{s:s}},s:{s:{s:s}}}}", "content",
                                              "application/json", "schema", "type", "object",
                                              "application/yaml", "schema", "type", "string"));
            json_object_set_new(item, lower, op);
            dmp_free(id);
        }
    }
    char *base = base_url(req);
    json_t *doc = json_pack(
        "{s:s,s:{s:s,s:s,s:s},s:[{s:s}],s:o,s:{s:{s:{s:s,s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s},"
        "s:{s:s},s:{s:s},s:{s:s}}}}}}",
        "openapi", "3.1.0", "info", "title", "dmp", "version", "0.1.0", "description",
        "The dmp data mesh platform API (generated from the server's route tables)", "servers",
        "url", base, "paths", paths, "components", "schemas", "Problem", "type", "object",
        "properties", "type", "type", "string", "title", "type", "string", "status", "type",
        "integer", "detail", "type", "string", "code", "type", "string", "field", "type", "string",
        "location", "type", "string");
    dmp_free(base);
    dmp_http_reply_json(resp, 200, doc);
}

/* ---- the web UI: static files from the configured directory */

static const char *mime_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".json", "application/json"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".map", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
    };
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

static void send_file(dmp_http_req_t *req, dmp_http_resp_t *resp, const char *rel)
{
    const char *dir = req->svc->web_dir;
    if (dir == NULL || *dir == '\0') {
        dmp_http_reply_problem(resp, 404, "DMP_NOTFOUND",
                               "the web UI is not configured (set --web-dir to a built web/dist)",
                               NULL, NULL);
        return;
    }
    /* One path segment of safe characters: no traversal, no hidden files. */
    if (rel[0] == '.' || strstr(rel, "..") || strchr(rel + (rel[0] == '/'), '/') != NULL ||
        strlen(rel) > 200) {
        dmp_http_reply_problem(resp, 404, "DMP_NOTFOUND", "no such file", NULL, NULL);
        return;
    }
    char *path = dmp_asprintf("%s/%s", dir, rel);
    char *data = NULL;
    size_t len = 0;
    dmp_error_t err = {0};
    if (dmp_read_file(path, 16u << 20, &data, &len, &err) != DMP_OK) {
        dmp_http_reply_problem(resp, 404, "DMP_NOTFOUND",
                               strstr(rel, "index.html")
                                   ? "the web UI is not built: run 'make' (it needs npm) or set "
                                     "--web-dir"
                                   : "no such file",
                               NULL, NULL);
    } else {
        resp->status = 200;
        resp->content_type = mime_of(rel);
        dmp_buf_reset(&resp->body);
        dmp_buf_append(&resp->body, data, len);
    }
    dmp_free(data);
    dmp_free(path);
}

static void h_index(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    send_file(req, resp, "index.html");
}

static void h_asset(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    const char *f = dmp_http_param(req, "file");
    char *rel = dmp_asprintf("assets/%s", f ? f : "");
    if (f == NULL || strchr(f, '/') || f[0] == '.' || strstr(f, ".."))
        dmp_http_reply_problem(resp, 404, "DMP_NOTFOUND", "no such file", NULL, NULL);
    else {
        /* send_file refuses a second segment; read assets/<file> directly. */
        const char *dir = req->svc->web_dir;
        char *path = dmp_asprintf("%s/%s", dir ? dir : "", rel);
        char *data = NULL;
        size_t len = 0;
        dmp_error_t err = {0};
        if (dir == NULL || dmp_read_file(path, 16u << 20, &data, &len, &err) != DMP_OK) {
            dmp_http_reply_problem(resp, 404, "DMP_NOTFOUND", "no such file", NULL, NULL);
        } else {
            resp->status = 200;
            resp->content_type = mime_of(f);
            dmp_buf_reset(&resp->body);
            dmp_buf_append(&resp->body, data, len);
        }
        dmp_free(data);
        dmp_free(path);
    }
    dmp_free(rel);
}

static void h_favicon(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    send_file(req, resp, "favicon.svg");
}

const dmp_http_route_t dmp_http_routes_catalog[] = {
    {.method = "GET", .pattern = "/v1/search", .fn = h_search},
    {.method = "POST", .pattern = "/v1/register", .fn = h_register},
    {.method = "GET", .pattern = "/v1/catalog/products/{domain}/{name}", .fn = h_entry},
    {.method = "GET", .pattern = "/v1/products/{domain}/{name}/versions", .fn = h_versions},
    {.method = "GET", .pattern = "/v1/lineage/{domain}/{name}", .fn = h_lineage},
    {.method = "GET", .pattern = "/v1/topology", .fn = h_topology},
    {.method = "GET", .pattern = "/v1/products/{domain}/{name}/asyncapi", .fn = h_asyncapi},
    {.method = "GET", .pattern = "/v1/products/{domain}/{name}/openapi", .fn = h_openapi_product},
    {.method = "GET", .pattern = "/openapi", .fn = h_openapi},
    {.method = NULL},
};

/* The web UI's static files: served without authentication (server.c lists this table
 * in public_tables), so a browser can load the page and then send a token with each API
 * call. They hold no data: everything the page shows comes from the API above. */
const dmp_http_route_t dmp_http_routes_webui[] = {
    {.method = "GET", .pattern = "/", .fn = h_index},
    {.method = "GET", .pattern = "/index.html", .fn = h_index},
    {.method = "GET", .pattern = "/favicon.svg", .fn = h_favicon},
    {.method = "GET", .pattern = "/assets/{file}", .fn = h_asset},
    {.method = NULL},
};
