/* h_audit.c -- authentication of each request (called by server.c before dispatch),
 * the authorization helpers handlers call (dmp_http_authorize*), masking of bodies,
 * the audit record written after each authorized request, and the accesses route:
 *   GET /v1/products/{domain}/{name}/accesses?limit=N   (owner or admin)
 * No credential is ever copied into a reply or a log line. */
#include <stdlib.h>
#include <string.h>

#include "dmp/auth.h"
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
    char msg[400];
    snprintf(msg, sizeof(msg), "product %.200s%s%.128s not found", product ? product : "",
             port ? " port " : "", port ? port : "");
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

int dmp_http_authorize_product(dmp_http_req_t *req, dmp_http_resp_t *resp, const char *env,
                               const char *domain, const char *name,
                               const dmp_descriptor_t *incoming, int action)
{
    char *product = dmp_asprintf("%s/%s", domain ? domain : "", name ? name : "");
    json_t *stored = stored_descriptor(req, env, domain, name);
    dmp_acl_t acl = {0};
    int rc = 0;
    dmp_error_t err = {0};
    /* A deployed product is governed by its stored ACL, so a request cannot make its
     * caller an owner by declaring it; a new product by the one it declares. */
    if (stored != NULL) {
        rc = dmp_acl_from_json(stored, NULL, &acl, &err);
    } else if (incoming != NULL) {
        rc = dmp_acl_from_descriptor(incoming, NULL, &acl, &err);
    } else {
        /* Nothing deployed and nothing declared: the handler answers 404 itself. */
        set_audit(req, product, NULL, dmp_action_name((dmp_action_t)action));
        dmp_free(product);
        return 0;
    }
    if (rc != DMP_OK) {
        set_audit(req, product, NULL, dmp_action_name((dmp_action_t)action));
        dmp_http_reply_error(resp, &err);
        rc = -1;
    } else {
        rc = dmp_http_authorize(req, resp, &acl, product, NULL, action);
    }
    dmp_acl_fini(&acl);
    json_decref(stored);
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
