/* h_audit.c -- authentication of each request (called by server.c before dispatch),
 * the authorization helpers handlers call (dmp_http_authorize*), masking of bodies,
 * the audit record written after each authorized request, and the accesses route:
 *   GET /v1/products/{domain}/{name}/accesses?limit=N   (owner or admin)
 * No credential is ever copied into a reply or a log line. */
#include <stdlib.h>
#include <string.h>

#include "dmp/auth.h"
#include "dmp/catalog.h"
#include "http/http_int.h"

int dmp_http_authenticate(dmp_http_req_t *req, const char *authorization, dmp_http_resp_t *resp,
                          dmp_principal_t **owned)
{
    *owned = NULL;
    dmp_auth_t *auth = req->svc->auth;
    if (!dmp_auth_enabled(auth)) {
        req->principal = dmp_auth_dev_principal();
        return 0;
    }
    dmp_error_t err = {0};
    if (dmp_auth_verify(auth, authorization, owned, &err) != DMP_OK) {
        /* err.msg is built without the credential (auth.c) */
        dmp_http_reply_problem(resp, 401, "DMP_UNAUTHENTICATED", err.msg, NULL, NULL);
        dmp_audit_record(req->svc->audit, NULL, NULL, NULL, "authenticate", "unauthenticated",
                         401);
        return -1;
    }
    req->principal = *owned;
    return 0;
}

static void set_audit(dmp_http_req_t *req, const char *product, const char *port,
                      const char *action)
{
    dmp_free(req->audit_product);
    dmp_free(req->audit_port);
    req->audit_product = dmp_strdup(product);
    req->audit_port = dmp_strdup(port);
    req->audit_action = action;
}

void dmp_http_reply_hidden(dmp_http_req_t *req, dmp_http_resp_t *resp, const char *product,
                           const char *port, int action)
{
    if (req->audit_action == NULL)
        set_audit(req, product, port, dmp_action_name((dmp_action_t)action));
    char msg[512];
    /* A change to a product the caller cannot see reads as a change to a product that
     * does not exist, so the hint is about creating one (the same words either way). */
    snprintf(msg, sizeof(msg), "product %.200s%s%.128s not found%s", product ? product : "",
             port ? " port " : "", port ? port : "",
             action == DMP_ACT_APPLY && port == NULL
                 ? " (creating a product needs the owner group of its domain, or admin)"
                 : "");
    dmp_http_reply_problem(resp, 404, "DMP_NOTFOUND", msg, NULL, NULL);
}

int dmp_http_authorize(dmp_http_req_t *req, dmp_http_resp_t *resp, const dmp_acl_t *acl,
                       const char *product, const char *port, int action)
{
    set_audit(req, product, port, dmp_action_name((dmp_action_t)action));
    dmp_error_t err = {0};
    int rc = dmp_authz_check(req->principal, acl, (dmp_action_t)action, &err);
    if (rc == DMP_OK)
        return 0;
    if (rc == DMP_NOTFOUND) {
        dmp_http_reply_hidden(req, resp, product, port, action);
    } else {
        dmp_http_reply_error(resp, &err);
    }
    return -1;
}

/* The stored descriptor of the newest version of domain/name (any environment when
 * env is NULL), or NULL. */
static json_t *stored_descriptor(dmp_http_req_t *req, const char *env, const char *domain,
                                 const char *name)
{
    if (req->svc->prov == NULL || domain == NULL || name == NULL)
        return NULL;
    json_t *got = NULL;
    if (dmp_provision_get(req->svc->prov, env, domain, name, NULL, &got, NULL) != DMP_OK)
        return NULL;
    json_t *doc = json_incref(json_object_get(got, "descriptor"));
    json_decref(got);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* A catalog entry in descriptor shape, as auth.h reads ACLs: domain, owner, tags, and its
 * ports named outputPorts (each with owner, visibility, allow, tags). */
json_t *dmp_http_entry_doc(const json_t *e)
{
    json_t *doc = json_object();
    static const char *const keys[] = {"domain", "owner", "tags"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (json_object_get(e, keys[i]) != NULL && !json_is_null(json_object_get(e, keys[i])))
            json_object_set(doc, keys[i], json_object_get(e, keys[i]));
    json_t *ports = json_object_get(e, "ports");
    json_object_set_new(doc, "outputPorts",
                        json_is_array(ports) ? json_deep_copy(ports) : json_array());
    return doc;
}

/* The stored descriptors of domain/name: the newest version in every environment it
 * was ever deployed to (deleted ones included: a name once taken stays its owners'). */
static json_t *deployments(dmp_http_req_t *req, const char *domain, const char *name)
{
    json_t *docs = json_array(), *all = NULL, *envs = json_object();
    if (req->svc->prov == NULL || dmp_provision_list(req->svc->prov, &all, NULL) != DMP_OK) {
        json_decref(envs);
        return docs;
    }
    size_t i;
    json_t *p;
    json_array_foreach(all, i, p)
    {
        const char *env = json_string_value(json_object_get(p, "environment"));
        if (env == NULL || json_object_get(envs, env) != NULL ||
            !dmp_str_eq(json_string_value(json_object_get(p, "domain")), domain) ||
            !dmp_str_eq(json_string_value(json_object_get(p, "name")), name))
            continue;
        json_object_set_new(envs, env, json_true());
        json_t *doc = stored_descriptor(req, env, domain, name);
        if (doc != NULL)
            json_array_append_new(docs, doc);
    }
    json_decref(all);
    json_decref(envs);
    return docs;
}

/* Apply (deploy, PUT, register) of domain/name. A product that exists -- deployed in
 * any environment or catalogued -- is governed by what is stored: the caller must own
 * one of its deployments and its catalog entry, never judged by the incoming
 * descriptor (so naming oneself owner, or deploying under another environment name,
 * takes nothing over). A new product needs the owner group of its domain. */
static int authorize_apply(dmp_http_req_t *req, dmp_http_resp_t *resp, const char *domain,
                           const char *name, const char *product)
{
    const dmp_principal_t *p = req->principal;
    json_t *docs = deployments(req, domain, name);
    size_t n_dep = json_array_size(docs);
    json_t *entry = NULL;
    if (req->svc->cat != NULL &&
        dmp_catalog_current(req->svc->cat, domain, name, &entry, NULL) == DMP_OK)
        json_array_append_new(docs, dmp_http_entry_doc(entry));
    json_decref(entry);
    int has_entry = json_array_size(docs) > n_dep;
    int rc = -1;
    if (json_array_size(docs) == 0) {
        dmp_acl_t dom = {0};
        dom.domain = (char *)domain;
        dom.visibility = DMP_VIS_PRIVATE;
        if (p == NULL) {
            rc = dmp_http_authorize(req, resp, &dom, product, NULL, DMP_ACT_APPLY);
        } else if (dmp_authz_is_owner(p, &dom)) {
            set_audit(req, product, NULL, dmp_action_name(DMP_ACT_APPLY));
            rc = 0;
        } else {
            dmp_http_reply_hidden(req, resp, product, NULL, DMP_ACT_APPLY);
        }
        json_decref(docs);
        return rc;
    }
    int owns_dep = n_dep == 0, owns_entry = !has_entry, reads = 0;
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        dmp_acl_t acl = {0};
        if (dmp_acl_from_json(doc, NULL, &acl, NULL) != DMP_OK)
            continue;
        if (p == NULL) { /* anonymous: 401 from the one decision function */
            rc = dmp_http_authorize(req, resp, &acl, product, NULL, DMP_ACT_APPLY);
            dmp_acl_fini(&acl);
            json_decref(docs);
            return rc;
        }
        if (dmp_authz_is_owner(p, &acl)) {
            if (i < n_dep)
                owns_dep = 1;
            else
                owns_entry = 1;
        }
        if (dmp_authz_check(p, &acl, DMP_ACT_READ, NULL) == DMP_OK)
            reads = 1;
        dmp_acl_fini(&acl);
    }
    json_decref(docs);
    set_audit(req, product, NULL, dmp_action_name(DMP_ACT_APPLY));
    if (owns_dep && owns_entry)
        return 0;
    if (!reads) {
        dmp_http_reply_hidden(req, resp, product, NULL, DMP_ACT_APPLY);
        return -1;
    }
    char msg[600];
    snprintf(msg, sizeof(msg),
             "'%.128s' may not apply product %.256s: that needs its owner or the owner group "
             "of domain '%.128s'",
             p->name, product, domain);
    dmp_http_reply_problem(resp, 403, "DMP_DENIED", msg, NULL, NULL);
    return -1;
}

int dmp_http_authorize_product(dmp_http_req_t *req, dmp_http_resp_t *resp, const char *env,
                               const char *domain, const char *name,
                               const dmp_descriptor_t *incoming, int action)
{
    (void)incoming; /* never trusted for authorization: see authorize_apply */
    char *product = dmp_asprintf("%s/%s", domain ? domain : "", name ? name : "");
    int rc = -1;
    if (domain == NULL || name == NULL) {
        dmp_http_reply_hidden(req, resp, product, NULL, action);
    } else if (action == DMP_ACT_APPLY) {
        rc = authorize_apply(req, resp, domain, name, product);
    } else {
        /* Delete and the like act on what is deployed in 'env', under its stored ACL; a
         * product the caller may not see answers as one that does not exist. */
        json_t *stored = stored_descriptor(req, env, domain, name);
        dmp_acl_t acl = {0};
        if (stored == NULL || dmp_acl_from_json(stored, NULL, &acl, NULL) != DMP_OK)
            dmp_http_reply_hidden(req, resp, product, NULL, action);
        else
            rc = dmp_http_authorize(req, resp, &acl, product, NULL, action);
        dmp_acl_fini(&acl);
        json_decref(stored);
    }
    dmp_free(product);
    return rc;
}

int dmp_http_mask(dmp_http_req_t *req, const json_t *schema, const dmp_acl_t *acl,
                  const json_t *data, json_t **out)
{
    static const dmp_mask_policy_t redact = {DMP_MASK_REDACT, NULL, 0};
    const dmp_mask_policy_t *pol = req->svc->mask ? req->svc->mask : &redact;
    return dmp_mask_json(schema, data, req->principal, acl, pol, out, NULL);
}

void dmp_http_audit_finish(dmp_http_req_t *req, int status)
{
    if (req->audit_action != NULL) {
        const char *outcome = status < 400   ? "allowed"
                              : status == 401 ? "unauthenticated"
                              : status == 403 ? "denied"
                              : status == 404 ? "notfound"
                                              : "failed";
        dmp_audit_record(req->svc->audit, req->principal ? req->principal->name : NULL,
                         req->audit_product, req->audit_port, req->audit_action, outcome,
                         status);
    }
    dmp_free(req->audit_product);
    dmp_free(req->audit_port);
    req->audit_product = req->audit_port = NULL;
    req->audit_action = NULL;
}

/* GET /v1/products/{domain}/{name}/accesses?limit=N */
static void h_accesses(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    const char *domain = dmp_http_param(req, "domain"), *name = dmp_http_param(req, "name");
    const char *ls = dmp_http_query(req, "limit");
    long limit = 100;
    if (ls != NULL) {
        char *end;
        limit = strtol(ls, &end, 10);
        if (*ls == '\0' || *end != '\0' || limit < 1 || limit > 10000) {
            dmp_http_reply_problem(resp, 400, "DMP_INVALID",
                                   "limit must be a whole number from 1 to 10000", "limit",
                                   NULL);
            return;
        }
    }
    char *product = dmp_asprintf("%s/%s", domain, name);
    json_t *stored = stored_descriptor(req, NULL, domain, name);
    if (stored == NULL) {
        set_audit(req, product, NULL, "accesses");
        char msg[300];
        snprintf(msg, sizeof(msg), "product %.256s not found", product);
        dmp_http_reply_problem(resp, 404, "DMP_NOTFOUND", msg, NULL, NULL);
        dmp_free(product);
        return;
    }
    dmp_acl_t acl = {0};
    dmp_error_t err = {0};
    if (dmp_acl_from_json(stored, NULL, &acl, &err) != DMP_OK) {
        dmp_http_reply_error(resp, &err);
    } else if (dmp_http_authorize(req, resp, &acl, product, NULL, DMP_ACT_APPLY) == 0) {
        /* Owner or admin (the apply rule); recorded as its own action. */
        req->audit_action = "accesses";
        json_t *recs = dmp_audit_query(req->svc->audit, product, (size_t)limit);
        dmp_http_reply_json(resp, 200,
                            json_pack("{s:s,s:o}", "product", product, "accesses", recs));
    } else {
        req->audit_action = "accesses";
    }
    dmp_acl_fini(&acl);
    json_decref(stored);
    dmp_free(product);
}

const dmp_http_route_t dmp_http_routes_audit[] = {
    {"GET", "/v1/products/{domain}/{name}/accesses", h_accesses},
    {NULL, NULL, NULL},
};
