/* h_policies.c -- federated governance over HTTP:
 *   GET|PUT|DELETE /v1/global-policies              (changes: admin)
 *   GET|PUT|DELETE /v1/domains/{domain}/policies    (changes: the domain's owners)
 * Bodies are policy files (YAML or JSON). A domain policy that would relax an
 * inherited error rule is refused with 422 DMP_POLICY. */
#include <string.h>

#include "dmp/auth.h"
#include "dmp/governance.h"
#include "http/http_int.h"

static int have_gov(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (req->svc->gov != NULL)
        return 1;
    dmp_http_reply_problem(resp, 503, "DMP_UNAVAILABLE", "policies are not enabled", NULL,
                           NULL);
    return 0;
}

/* Authorizes a policy change: admin for the global layer, the domain's owners for a
 * domain layer (a group equal to the domain or a parent, see docs/security.md). */
static int may_change(dmp_http_req_t *req, dmp_http_resp_t *resp, const char *domain)
{
    dmp_acl_t acl = {0};
    acl.domain = (char *)(domain ? domain : "");
    acl.visibility = DMP_VIS_PUBLIC;
    char what[256];
    snprintf(what, sizeof(what), "policies/%s", domain ? domain : "global");
    return dmp_http_authorize(req, resp, &acl, what, NULL,
                              domain ? DMP_ACT_APPLY : DMP_ACT_ADMIN) == 0;
}

static void reply_put_error(dmp_http_resp_t *resp, const dmp_diags_t *diags,
                            const dmp_error_t *err)
{
    int status = err->code == DMP_POLICY ? 422 : dmp_errhttp(err->code);
    json_t *p = json_pack("{s:s, s:s, s:i, s:s, s:s, s:o}", "type", "urn:dmp:problem:policy",
                          "title", status == 422 ? "Unprocessable Content" : "Bad Request",
                          "status", status, "code", dmp_errname(err->code), "detail", err->msg,
                          "errors", dmp_diags_to_json(diags));
    dmp_http_reply_json(resp, status, p);
    resp->content_type = "application/problem+json";
}

/* A domain path parameter: dot-separated names of [a-z0-9_-], no empty segment (so no
 * "..", "/", NUL or encoded slash can reach the policy files). Replies 400 otherwise. */
static int domain_ok(dmp_http_resp_t *resp, const char *domain)
{
    if (domain == NULL)
        return 1;
    size_t n = strlen(domain);
    int ok = n > 0 && n <= 255 && domain[0] != '.' && domain[n - 1] != '.' &&
             strstr(domain, "..") == NULL &&
             strspn(domain, "abcdefghijklmnopqrstuvwxyz0123456789_-.") == n;
    if (!ok)
        dmp_http_reply_problem(resp, 400, "DMP_INVALID",
                               "domain must be a dot path of names of lower-case letters, digits, "
                               "'_' and '-'",
                               "domain", NULL);
    return ok;
}

static void get_layer(dmp_http_req_t *req, dmp_http_resp_t *resp, const char *domain)
{
    if (!have_gov(req, resp) || !domain_ok(resp, domain))
        return;
    if (req->principal == NULL) {
        dmp_http_reply_problem(resp, 401, "DMP_UNAUTHENTICATED", "authentication required",
                               NULL, NULL);
        return;
    }
    dmp_http_reply_json(resp, 200, dmp_governance_get(req->svc->gov, domain));
}

static void put_layer(dmp_http_req_t *req, dmp_http_resp_t *resp, const char *domain,
                      int remove)
{
    if (!have_gov(req, resp) || !domain_ok(resp, domain) || !may_change(req, resp, domain))
        return;
    if (!remove && req->body_len == 0) {
        dmp_http_reply_problem(resp, 400, "DMP_INVALID",
                               "request body is empty: send a policy file (use DELETE to remove)",
                               NULL, NULL);
        return;
    }
    dmp_diags_t diags = {0};
    dmp_error_t err = {0};
    if (dmp_governance_put(req->svc->gov, domain, remove ? "" : req->body,
                           remove ? 0 : req->body_len, &diags, &err) != DMP_OK)
        reply_put_error(resp, &diags, &err);
    else
        dmp_http_reply_json(resp, 200, dmp_governance_get(req->svc->gov, domain));
    dmp_diags_free(&diags);
}

static void h_global_get(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    get_layer(req, resp, NULL);
}

static void h_global_put(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    put_layer(req, resp, NULL, 0);
}

static void h_global_delete(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    put_layer(req, resp, NULL, 1);
}

static void h_domain_get(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    get_layer(req, resp, dmp_http_param(req, "domain"));
}

static void h_domain_put(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    put_layer(req, resp, dmp_http_param(req, "domain"), 0);
}

static void h_domain_delete(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    put_layer(req, resp, dmp_http_param(req, "domain"), 1);
}

const dmp_http_route_t dmp_http_routes_policies[] = {
    {"GET", "/v1/global-policies", h_global_get},
    {"PUT", "/v1/global-policies", h_global_put},
    {"DELETE", "/v1/global-policies", h_global_delete},
    {"GET", "/v1/domains/{domain}/policies", h_domain_get},
    {"PUT", "/v1/domains/{domain}/policies", h_domain_put},
    {"DELETE", "/v1/domains/{domain}/policies", h_domain_delete},
    {NULL, NULL, NULL},
};
