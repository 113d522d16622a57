/* h_provision.c -- the provisioning API of DESIGN 3A: deploy, plan, delete, state,
 * the state service that provisioners report to, and the provisioner registry.
 * Bodies are YAML or JSON; replies are JSON, errors RFC 9457 problem+json. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dmp/auth.h"
#include "dmp/catalog.h"
#include "dmp/governance.h"
#include "http/http_int.h"

/* Accepts JSON, YAML, or no declared type (sniffed). Returns 0, or replies 415. */
static int body_format(dmp_http_req_t *req, dmp_http_resp_t *resp, dmp_doc_format_t *fmt)
{
    const char *ct = req->content_type;
    *fmt = DMP_FMT_AUTO;
    if (ct == NULL || *ct == '\0')
        return 0;
    size_t n = strcspn(ct, "; ");
    if ((n == 16 && !strncasecmp(ct, "application/json", n)))
        *fmt = DMP_FMT_JSON;
    else if ((n == 16 && !strncasecmp(ct, "application/yaml", n)) ||
             (n == 18 && !strncasecmp(ct, "application/x-yaml", n)) ||
             (n == 9 && !strncasecmp(ct, "text/yaml", n)) ||
             (n == 11 && !strncasecmp(ct, "text/x-yaml", n)))
        *fmt = DMP_FMT_YAML;
    else {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "content type '%.*s' is not accepted: send application/json or "
                 "application/yaml",
                 (int)(n > 100 ? 100 : n), ct);
        dmp_http_reply_problem(resp, 415, "DMP_UNSUPPORTED", msg, NULL, NULL);
        return -1;
    }
    return 0;
}

/* Replies 400/413/422 with every finding in "errors". */
static void reply_diags(dmp_http_resp_t *resp, int status, const dmp_diags_t *diags,
                        const dmp_error_t *err)
{
    const dmp_diag_t *first = NULL;
    for (size_t i = 0; i < diags->n; i++)
        if (diags->v[i].severity == DMP_SEV_ERROR) {
            first = &diags->v[i];
            break;
        }
    int code = first ? first->code : (int)err->code;
    /* The body-size limit answers 413 before parsing; a depth or alias-expansion limit
     * inside an accepted body is a malformed document: 400. Policy errors are 422. */
    json_t *p = json_object();
    char loc[300] = "";
    /* "field: message"; the position goes in "location" */
    char *detail = first == NULL ? dmp_strdup(err->msg)
                   : first->path && *first->path
                       ? dmp_asprintf("%s: %s", first->path, first->msg)
                       : dmp_strdup(first->msg);
    if (first && first->loc.line > 0)
        snprintf(loc, sizeof(loc), "%s:%d:%d", first->file ? first->file : "<request>",
                 first->loc.line, first->loc.col);
    char type[64];
    snprintf(type, sizeof(type), "urn:dmp:problem:%s", dmp_errname(code));
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "title",
                        json_string(status == 422 ? "Unprocessable Content" : "Bad Request"));
    json_object_set_new(p, "status", json_integer(status));
    json_object_set_new(p, "code", json_string(dmp_errname(code)));
    json_object_set_new(p, "detail", json_string(detail));
    if (first && first->path && *first->path)
        json_object_set_new(p, "field", json_string(first->path));
    if (loc[0])
        json_object_set_new(p, "location", json_string(loc));
    json_object_set_new(p, "errors", dmp_diags_to_json(diags));
    dmp_free(detail);
    dmp_http_reply_json(resp, status, p);
    resp->content_type = "application/problem+json";
}

/* Parses the request body as a descriptor; replies on failure and returns NULL. */
static dmp_descriptor_t *parse_body(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    dmp_doc_format_t fmt;
    if (body_format(req, resp, &fmt) != 0)
        return NULL;
    if (req->body_len == 0) {
        dmp_http_reply_problem(resp, 400, "DMP_INVALID",
                               "request body is empty: send a data product descriptor", NULL,
                               NULL);
        return NULL;
    }
    dmp_descriptor_opts_t opts = {0};
    opts.format = fmt;
    opts.source = "<request>";
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    dmp_error_t err = {0};
    if (dmp_descriptor_parse(req->body, req->body_len, &opts, &d, &diags, &err) != DMP_OK)
        reply_diags(resp, 400, &diags, &err);
    dmp_diags_free(&diags);
    return d;
}

static int plan_is_create(json_t *plan)
{
    const char *op = json_string_value(json_object_get(plan, "operation"));
    return op && !strcmp(op, "create");
}

/* The newest deployed version of the product in its environment, parsed, or NULL:
 * the `prev` that version-comparing policies (breaking changes) look at. */
static dmp_descriptor_t *previous_version(dmp_http_req_t *req, const dmp_descriptor_t *d)
{
    json_t *got = NULL;
    if (dmp_provision_get(req->svc->prov, d->environment, d->domain, d->name, NULL, &got, NULL) !=
        DMP_OK)
        return NULL;
    dmp_descriptor_t *prev = NULL;
    json_t *doc = json_object_get(got, "descriptor");
    char *text = json_is_object(doc) ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (text != NULL) {
        dmp_descriptor_opts_t opts = {0};
        opts.format = DMP_FMT_JSON;
        opts.source = "<deployed>";
        dmp_diags_t diags = {0};
        if (dmp_descriptor_parse(text, strlen(text), &opts, &prev, &diags, NULL) != DMP_OK)
            prev = NULL;
        dmp_diags_free(&diags);
        free(text);
    }
    json_decref(got);
    return prev;
}

/* Evaluates the policies in force for the product. Errors block with 422 and every
 * finding; warnings and infos come back in *findings for the reply. Returns -1 when
 * it replied. */
static int check_policies(dmp_http_req_t *req, dmp_http_resp_t *resp, const dmp_descriptor_t *d,
                          json_t **findings)
{
    *findings = NULL;
    if (req->svc->gov == NULL)
        return 0;
    dmp_descriptor_t *prev = previous_version(req, d);
    dmp_diags_t diags = {0};
    dmp_error_t err = {0};
    int rc = dmp_governance_evaluate(req->svc->gov, d, prev, &diags, &err);
    dmp_descriptor_free(prev);
    if (rc != DMP_OK && dmp_diags_errors(&diags) > 0) {
        reply_diags(resp, 422, &diags, &err);
        dmp_diags_free(&diags);
        return -1;
    }
    if (rc != DMP_OK) {
        dmp_http_reply_error(resp, &err);
        dmp_diags_free(&diags);
        return -1;
    }
    if (diags.n > 0)
        *findings = dmp_diags_to_json(&diags);
    dmp_diags_free(&diags);
    return 0;
}

static void deploy(dmp_http_req_t *req, dmp_http_resp_t *resp, int is_put)
{
    dmp_descriptor_t *d = parse_body(req, resp);
    if (d == NULL)
        return;
    /* the product's owner or its domain's owner group (auth.h); 404 if hidden */
    if (dmp_http_authorize_product(req, resp, d->environment, d->domain, d->name, d,
                                   DMP_ACT_APPLY) != 0) {
        dmp_descriptor_free(d);
        return;
    }
    dmp_error_t err = {0};
    json_t *out = NULL;
    const char *dry = dmp_http_query(req, "dryRun");
    int dry_run = dry && (!strcmp(dry, "true") || !strcmp(dry, "1") || !strcmp(dry, "All"));
    if (dry && !dry_run && strcmp(dry, "false") && strcmp(dry, "0")) {
        dmp_http_reply_problem(resp, 400, "DMP_INVALID",
                               "dryRun must be true or false (also 1, 0 or All)", "dryRun", NULL);
        dmp_descriptor_free(d);
        return;
    }
    int rc = DMP_OK;
    if (req->svc->cat && dmp_catalog_check_inputs(req->svc->cat, d, &err) != DMP_OK) {
        dmp_http_reply_error(resp, &err); /* input ports must name readable ports */
        dmp_descriptor_free(d);
        return;
    }
    json_t *findings = NULL;
    if (check_policies(req, resp, d, &findings) != 0) {
        dmp_descriptor_free(d);
        return;
    }
    if (dry_run || is_put) {
        rc = dmp_provision_plan(req->svc->prov, d, &out, &err);
        if (rc == DMP_OK && is_put && plan_is_create(out)) {
            json_decref(out);
            out = NULL;
            rc = DMP_ERR(&err, DMP_NOTFOUND,
                         "product %s/%s version %s is not deployed: PUT updates ACLs of a "
                         "deployed version, POST creates",
                         d->domain, d->name, d->version);
        }
        if (rc == DMP_OK && !dry_run) {
            json_decref(out);
            out = NULL;
            rc = dmp_provision_apply(req->svc->prov, d, &out, &err);
        }
    } else {
        rc = dmp_provision_apply(req->svc->prov, d, &out, &err);
    }
    if (rc != DMP_OK) {
        dmp_http_reply_error(resp, &err);
    } else {
        const char *op = json_string_value(json_object_get(out, "operation"));
        int none = op && !strcmp(op, "none");
        if (!dry_run && req->svc->cat)
            dmp_catalog_register(req->svc->cat, d, "apply", NULL);
        if (!dry_run)
            resp->location = dmp_asprintf("/v1/dataproduct/state/%s/%s/%s/%s", d->environment,
                                          d->domain, d->name, d->version);
        if (findings != NULL)
            json_object_set(out, "warnings", findings);
        dmp_http_reply_json(resp, dry_run || none ? 200 : 202, out);
    }
    json_decref(findings);
    dmp_descriptor_free(d);
}

static void h_deploy(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    deploy(req, resp, 0);
}

static void h_update(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    deploy(req, resp, 1);
}

static const char *env_of(json_t *doc)
{
    json_t *e = json_object_get(doc, "environment");
    if (json_is_string(e))
        return json_string_value(e);
    if (json_is_object(e) && json_is_string(json_object_get(e, "name")))
        return json_string_value(json_object_get(e, "name"));
    return "default";
}

static void do_delete(dmp_http_req_t *req, dmp_http_resp_t *resp, const dmp_product_key_t *k)
{
    if (dmp_http_authorize_product(req, resp, k->environment, k->domain, k->name, NULL,
                                   DMP_ACT_DELETE) != 0)
        return;
    dmp_error_t err = {0};
    json_t *out = NULL;
    if (dmp_provision_delete(req->svc->prov, k, &out, &err) != DMP_OK) {
        dmp_http_reply_error(resp, &err);
    } else {
        if (req->svc->cat)
            dmp_catalog_mark_deleted(req->svc->cat, k->domain, k->name, k->version, NULL);
        dmp_http_reply_json(resp, 202, out);
    }
}

/* DELETE /v1/dataproduct: the body is the descriptor, or just its key
 * {"environment","domain","name","version"}. */
static void h_delete(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    dmp_doc_format_t fmt;
    if (body_format(req, resp, &fmt) != 0)
        return;
    json_error_t jerr;
    json_t *doc = json_loadb(req->body, req->body_len, 0, &jerr);
    if (doc != NULL && json_is_object(doc) && !json_object_get(doc, "outputPorts") &&
        !json_object_get(doc, "workloads") && !json_object_get(doc, "observability")) {
        dmp_product_key_t k = {env_of(doc), json_string_value(json_object_get(doc, "domain")),
                               json_string_value(json_object_get(doc, "name")),
                               json_string_value(json_object_get(doc, "version"))};
        if (!k.domain || !k.name || !k.version)
            dmp_http_reply_problem(resp, 400, "DMP_INVALID",
                                   "delete needs domain, name and version (and optionally "
                                   "environment)",
                                   NULL, NULL);
        else
            do_delete(req, resp, &k);
        json_decref(doc);
        return;
    }
    json_decref(doc);
    dmp_descriptor_t *d = parse_body(req, resp);
    if (d == NULL)
        return;
    dmp_product_key_t k = {d->environment, d->domain, d->name, d->version};
    do_delete(req, resp, &k);
    dmp_descriptor_free(d);
}

static dmp_product_key_t path_key(dmp_http_req_t *req, const char *name_param)
{
    dmp_product_key_t k = {dmp_http_param(req, "environment"), dmp_http_param(req, "domain"),
                           dmp_http_param(req, name_param), dmp_http_param(req, "version")};
    return k;
}

static void h_delete_path(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    dmp_product_key_t k = path_key(req, "name");
    do_delete(req, resp, &k);
}

/* Removes from a deployed product's record what the caller may not read: the output
 * ports of "descriptor" (with their schemas) and their entries in "resources". Owners
 * and admins keep everything. */
static void keep_readable(dmp_http_req_t *req, json_t *rec, const json_t *doc)
{
    dmp_acl_t whole = {0};
    if (!json_is_object(doc) || dmp_acl_from_json(doc, NULL, &whole, NULL) != DMP_OK)
        return;
    int owner = dmp_authz_is_owner(req->principal, &whole);
    dmp_acl_fini(&whole);
    if (owner)
        return;
    json_t *hidden = json_object();
    json_t *ports = json_object_get(doc, "outputPorts");
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        const char *pn = json_string_value(json_object_get(p, "name"));
        dmp_acl_t acl = {0};
        if (pn == NULL || dmp_acl_from_json(doc, pn, &acl, NULL) != DMP_OK ||
            dmp_authz_check(req->principal, &acl, DMP_ACT_READ, NULL) != DMP_OK)
            json_object_set_new(hidden, pn ? pn : "", json_true());
        dmp_acl_fini(&acl);
    }
    json_t *d = json_object_get(rec, "descriptor");
    json_t *dports = json_object_get(d, "outputPorts");
    for (i = json_array_size(dports); i-- > 0;) {
        const char *pn = json_string_value(json_object_get(json_array_get(dports, i), "name"));
        if (pn == NULL || json_object_get(hidden, pn))
            json_array_remove(dports, i);
    }
    json_t *res = json_object_get(rec, "resources");
    for (i = json_array_size(res); i-- > 0;) {
        const char *rn = json_string_value(json_object_get(json_array_get(res, i), "name"));
        if (rn != NULL && json_object_get(hidden, rn))
            json_array_remove(res, i);
    }
    json_decref(hidden);
}

/* Acting on a deployed product's record ('action': READ for its state and record, APPLY
 * to set its state) needs that action under its stored ACL (newest version in 'env', or
 * in any environment when NULL); one the caller may not see, or that is not deployed,
 * gets the same 404. Returns 0 to go on. */
static int authorize_stored(dmp_http_req_t *req, dmp_http_resp_t *resp, const char *env,
                            const char *domain, const char *name, dmp_action_t action)
{
    if (req->principal != NULL && req->principal->admin)
        return 0; /* admins may do anything; the handler answers for what does not exist */
    json_t *got = NULL;
    char *product = dmp_asprintf("%s/%s", domain ? domain : "", name ? name : "");
    int rc = -1;
    if (domain == NULL || name == NULL ||
        dmp_provision_get(req->svc->prov, env, domain, name, NULL, &got, NULL) != DMP_OK ||
        !json_is_object(json_object_get(got, "descriptor"))) {
        dmp_http_reply_hidden(req, resp, product, NULL, action);
    } else {
        dmp_acl_t acl = {0};
        if (dmp_acl_from_json(json_object_get(got, "descriptor"), NULL, &acl, NULL) != DMP_OK)
            dmp_http_reply_hidden(req, resp, product, NULL, action);
        else
            rc = dmp_http_authorize(req, resp, &acl, product, NULL, action);
        dmp_acl_fini(&acl);
    }
    json_decref(got);
    dmp_free(product);
    return rc;
}

static int authorize_read(dmp_http_req_t *req, dmp_http_resp_t *resp, const char *env,
                          const char *domain, const char *name)
{
    return authorize_stored(req, resp, env, domain, name, DMP_ACT_READ);
}

static void h_state(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    dmp_product_key_t k = path_key(req, "name");
    if (authorize_read(req, resp, k.environment, k.domain, k.name) != 0)
        return;
    dmp_error_t err = {0};
    json_t *out = NULL;
    if (dmp_provision_state(req->svc->prov, &k, &out, &err) != DMP_OK) {
        dmp_http_reply_error(resp, &err);
        return;
    }
    json_t *got = NULL; /* the resources of ports the caller may not read are left out */
    if (dmp_provision_get(req->svc->prov, k.environment, k.domain, k.name, k.version, &got,
                          NULL) == DMP_OK)
        keep_readable(req, out, json_object_get(got, "descriptor"));
    json_decref(got);
    dmp_http_reply_json(resp, 200, out);
}

static void h_resource_state(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    dmp_product_key_t k = path_key(req, "dataProduct");
    if (authorize_read(req, resp, k.environment, k.domain, k.name) != 0)
        return;
    dmp_error_t err = {0};
    json_t *out = NULL;
    /* an output port the caller may not read answers as a resource that does not exist */
    json_t *got = NULL, *probe = json_pack("{s:[{s:s}]}", "resources", "name",
                                           dmp_http_param(req, "name"));
    if (dmp_provision_get(req->svc->prov, k.environment, k.domain, k.name, k.version, &got,
                          NULL) == DMP_OK)
        keep_readable(req, probe, json_object_get(got, "descriptor"));
    json_decref(got);
    int hidden = json_array_size(json_object_get(probe, "resources")) == 0;
    json_decref(probe);
    if (hidden) {
        DMP_ERR(&err, DMP_NOTFOUND, "product %s/%s version %s has no resource '%s'", k.domain,
                k.name, k.version, dmp_http_param(req, "name"));
        dmp_http_reply_error(resp, &err);
        return;
    }
    if (dmp_provision_resource_state(req->svc->prov, &k, dmp_http_param(req, "name"), &out,
                                     &err) != DMP_OK)
        dmp_http_reply_error(resp, &err);
    else
        dmp_http_reply_json(resp, 200, out);
}

/* Parses a JSON object body; replies 400 on failure. */
static json_t *json_body(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    dmp_doc_format_t fmt;
    if (body_format(req, resp, &fmt) != 0)
        return NULL;
    json_error_t jerr;
    json_t *doc = json_loadb(req->body, req->body_len, 0, &jerr);
    if (doc == NULL || !json_is_object(doc)) {
        char msg[300];
        if (doc == NULL)
            snprintf(msg, sizeof(msg), "body is not valid JSON: %s", jerr.text);
        else
            snprintf(msg, sizeof(msg), "body must be a JSON object");
        char loc[64];
        snprintf(loc, sizeof(loc), "<request>:%d:%d", jerr.line, jerr.column);
        dmp_http_reply_problem(resp, 400, "DMP_PARSE", msg, NULL, doc ? NULL : loc);
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static const char *str_field(json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

static int require_fields(dmp_http_resp_t *resp, json_t *o, const char *const *names)
{
    for (; *names; names++) {
        json_t *v = json_object_get(o, *names);
        if (!json_is_string(v) || json_string_length(v) == 0) {
            char msg[128];
            snprintf(msg, sizeof(msg), "field '%s' is required and must be a non-empty string",
                     *names);
            dmp_http_reply_problem(resp, 400, "DMP_INVALID", msg, *names, NULL);
            return -1;
        }
    }
    return 0;
}

/* The report's credential: the request's "callbackToken", from the body or as
 * "Authorization: Bearer dmpcb_...". Without one (dev mode aside) only an admin's bearer
 * token will do. Returns 0 to go on (*secret NULL: unchecked), -1 when it replied. */
static int report_credential(dmp_http_req_t *req, dmp_http_resp_t *resp, json_t *o,
                             const char **secret)
{
    const char *authz = dmp_http_header(req, "Authorization");
    *secret = json_string_value(json_object_get(o, "callbackToken"));
    if (*secret == NULL && authz != NULL && !strncasecmp(authz, "Bearer dmpcb_", 13))
        *secret = authz + 7;
    if (*secret != NULL || !dmp_auth_enabled(req->svc->auth))
        return 0;
    dmp_principal_t *owned = NULL;
    if (dmp_http_authenticate(req, authz, resp, &owned) != 0)
        return -1;
    int admin = owned != NULL && owned->admin;
    req->principal = NULL;
    dmp_principal_free(owned);
    if (admin)
        return 0;
    dmp_http_reply_problem(resp, 403, "DMP_DENIED",
                           "a resource report must carry the callbackToken of its request (or "
                           "come from an admin)",
                           "callbackToken", NULL);
    return -1;
}

/* POST /v1/state/dataproduct/resource: a provisioner reports a resource's outcome. It is
 * served without bearer authentication: the per-request callback token authenticates it. */
static void h_report(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    json_t *o = json_body(req, resp);
    if (o == NULL)
        return;
    const char *secret = NULL;
    if (report_credential(req, resp, o, &secret) != 0) {
        json_decref(o);
        return;
    }
    static const char *const need[] = {"environment", "domain", "dataProduct", "version",
                                       "name", "state", NULL};
    dmp_state_t st;
    dmp_error_t err = {0};
    if (require_fields(resp, o, need) == 0) {
        if (dmp_state_parse(str_field(o, "state"), &st) != DMP_OK) {
            char msg[160];
            snprintf(msg, sizeof(msg),
                     "state '%.40s' is not one of NONE, CREATING, CREATED, UPDATING, DELETING, "
                     "DELETED, FAILED, NOT_COMPLETED",
                     str_field(o, "state"));
            dmp_http_reply_problem(resp, 400, "DMP_INVALID", msg, "state", NULL);
        } else {
            dmp_product_key_t k = {str_field(o, "environment"), str_field(o, "domain"),
                                   str_field(o, "dataProduct"), str_field(o, "version")};
            if (dmp_provision_report_secret(req->svc->prov, &k, str_field(o, "name"), st,
                                            str_field(o, "reason"), secret, &err) != DMP_OK)
                dmp_http_reply_error(resp, &err);
            else
                dmp_http_reply_json(resp, 200, json_pack("{s:s}", "status", "recorded"));
        }
    }
    json_decref(o);
}

/* PUT|POST /v1/state/dataproduct: sets a product's state. */
static void h_set_state(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    json_t *o = json_body(req, resp);
    if (o == NULL)
        return;
    static const char *const need[] = {"environment", "domain", "name", "version", "state",
                                       NULL};
    dmp_state_t st;
    dmp_error_t err = {0};
    if (require_fields(resp, o, need) == 0) {
        if (dmp_state_parse(str_field(o, "state"), &st) != DMP_OK) {
            dmp_http_reply_problem(resp, 400, "DMP_INVALID", "state is not a known state",
                                   "state", NULL);
        } else {
            dmp_product_key_t k = {str_field(o, "environment"), str_field(o, "domain"),
                                   str_field(o, "name"), str_field(o, "version")};
            /* the product's owners (stored ACL in that environment) or an admin; one the
             * caller may not see answers as one that does not exist */
            if (authorize_stored(req, resp, k.environment, k.domain, k.name, DMP_ACT_APPLY) != 0)
                ;
            else if (dmp_provision_set_state(req->svc->prov, &k, st, &err) != DMP_OK)
                dmp_http_reply_error(resp, &err);
            else
                dmp_http_reply_json(resp, 200, json_pack("{s:s}", "status", "recorded"));
        }
    }
    json_decref(o);
}

/* A provisioner URL as anyone may see it: credentials in its user-info part and its
 * query string (where a key could travel) become "***". A new string. */
static char *url_without_secrets(const char *v)
{
    const char *scheme = strstr(v, "://");
    dmp_buf_t b = DMP_BUF_INIT;
    const char *rest = v;
    if (scheme != NULL) {
        const char *host = scheme + 3;
        size_t auth_len = strcspn(host, "/?#");
        const char *at = memchr(host, '@', auth_len);
        dmp_buf_append(&b, v, (size_t)(host - v));
        if (at != NULL) {
            dmp_buf_append(&b, "***@", 4);
            host = at + 1;
        }
        rest = host;
    }
    size_t keep = strcspn(rest, "?#");
    dmp_buf_append(&b, rest, keep);
    if (rest[keep] == '?')
        dmp_buf_append(&b, "?***", 4);
    return dmp_buf_steal(&b);
}

/* Replaces every string member of 'o' (and of its objects) by its secret-free form. */
static void scrub_strings(json_t *o, int depth)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(o, tmp, k, v)
    {
        if (json_is_string(v)) {
            char *clean = url_without_secrets(json_string_value(v));
            json_object_set_new(o, k, json_string(clean));
            dmp_free(clean);
        } else if (json_is_object(v) && depth < 4) {
            scrub_strings(v, depth + 1);
        }
    }
}

/* GET /v1/provisioners: any authenticated caller; URLs lose their credentials except
 * for admins. */
static void h_provisioners_get(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    json_t *reg = dmp_provision_registry(req->svc->prov);
    if (req->principal == NULL || !req->principal->admin) {
        size_t i;
        json_t *e;
        json_array_foreach(reg, i, e) scrub_strings(e, 0);
    }
    dmp_http_reply_json(resp, 200, json_pack("{s:o}", "provisioners", reg));
}

/* PUT /v1/provisioners: {"technology","provisioner","environment"?} or a list of them. */
static void h_provisioners_put(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    /* redirecting a technology (and the callback tokens its requests carry) is the
     * admin's: mesh-wide, so anyone else gets 403 */
    if (dmp_http_authorize(req, resp, NULL, NULL, NULL, DMP_ACT_ADMIN) != 0)
        return;
    dmp_doc_format_t fmt;
    if (body_format(req, resp, &fmt) != 0)
        return;
    json_error_t jerr;
    json_t *doc = json_loadb(req->body, req->body_len, 0, &jerr);
    json_t *list = NULL;
    if (json_is_object(doc)) {
        list = json_object_get(doc, "provisioners");
        if (list)
            json_incref(list);
        else
            list = json_pack("[O]", doc);
    } else if (json_is_array(doc)) {
        list = json_incref(doc);
    }
    if (list == NULL || !json_is_array(list)) {
        dmp_http_reply_problem(resp, 400, "DMP_PARSE",
                               "body must be {\"technology\":..., \"provisioner\":...} or a list "
                               "of them",
                               NULL, NULL);
        json_decref(doc);
        json_decref(list);
        return;
    }
    size_t i;
    json_t *it;
    dmp_error_t err = {0};
    json_array_foreach(list, i, it)
    {
        const char *tech = str_field(it, "technology");
        const char *spec = str_field(it, "provisioner");
        if (spec == NULL)
            spec = str_field(it, "url");
        const char *env = str_field(it, "environment");
        if (tech == NULL || spec == NULL) {
            char msg[128];
            snprintf(msg, sizeof(msg), "provisioners[%zu] needs 'technology' and 'provisioner'",
                     i);
            dmp_http_reply_problem(resp, 400, "DMP_INVALID", msg, NULL, NULL);
            goto out;
        }
        if (dmp_provision_register_spec(req->svc->prov, env, tech, spec, &err) != DMP_OK) {
            dmp_http_reply_error(resp, &err);
            goto out;
        }
    }
    dmp_http_reply_json(resp, 200,
                        json_pack("{s:o}", "provisioners", dmp_provision_registry(req->svc->prov)));
out:
    json_decref(doc);
    json_decref(list);
}

static void h_products_list(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    json_t *out = NULL;
    dmp_error_t err = {0};
    if (dmp_provision_list(req->svc->prov, &out, &err) != DMP_OK) {
        dmp_http_reply_error(resp, &err);
        return;
    }
    /* only the products the caller may read */
    json_t *kept = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(out, i, p)
    {
        json_t *got = NULL;
        dmp_acl_t acl = {0};
        if (dmp_provision_get(req->svc->prov, json_string_value(json_object_get(p, "environment")),
                              json_string_value(json_object_get(p, "domain")),
                              json_string_value(json_object_get(p, "name")),
                              json_string_value(json_object_get(p, "version")), &got,
                              NULL) == DMP_OK &&
            dmp_acl_from_json(json_object_get(got, "descriptor"), NULL, &acl, NULL) == DMP_OK &&
            dmp_authz_check(req->principal, &acl, DMP_ACT_READ, NULL) == DMP_OK)
            json_array_append(kept, p);
        dmp_acl_fini(&acl);
        json_decref(got);
    }
    json_decref(out);
    dmp_http_reply_json(resp, 200, json_pack("{s:o}", "products", kept));
}

static void h_product_get(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    json_t *out = NULL;
    dmp_error_t err = {0};
    const char *env = dmp_http_query(req, "environment");
    json_t *probe = NULL;
    if (env == NULL && req->svc->cat != NULL &&
        dmp_provision_get(req->svc->prov, NULL, dmp_http_param(req, "domain"),
                          dmp_http_param(req, "name"), NULL, &probe, NULL) == DMP_NOTFOUND) {
        /* Registered but never deployed here (a brownfield product): the catalog's view. */
        json_t *entry = dmp_http_catalog_entry(req, resp);
        if (entry != NULL)
            dmp_http_reply_json(resp, 200,
                                json_pack("{s:O?, s:O?, s:O?, s:s, s:o}", "domain",
                                          json_object_get(entry, "domain"), "name",
                                          json_object_get(entry, "name"), "version",
                                          json_object_get(entry, "version"), "state",
                                          "REGISTERED", "catalog", entry));
        return;
    }
    json_decref(probe);
    if (authorize_read(req, resp, env, dmp_http_param(req, "domain"),
                       dmp_http_param(req, "name")) != 0)
        return;
    if (dmp_provision_get(req->svc->prov, env, dmp_http_param(req, "domain"),
                          dmp_http_param(req, "name"), dmp_http_query(req, "version"), &out,
                          &err) != DMP_OK) {
        dmp_http_reply_error(resp, &err);
        return;
    }
    json_t *doc = json_deep_copy(json_object_get(out, "descriptor"));
    keep_readable(req, out, doc);
    json_decref(doc);
    /* Everything a consumer needs in one reply: the deployed version and its state, plus
     * the catalog's view of it (ports with schemas and SLOs, how to read them, samples). */
    json_t *view = dmp_http_catalog_view(req, json_string_value(json_object_get(out, "version")),
                                         NULL);
    if (view != NULL)
        json_object_set_new(out, "catalog", view);
    dmp_http_reply_json(resp, 200, out);
}

/* Served without bearer authentication (server.c's public_tables): h_report checks the
 * per-request callback token itself. */
const dmp_http_route_t dmp_http_routes_callbacks[] = {
    {"POST", "/v1/state/dataproduct/resource", h_report},
    {NULL, NULL, NULL},
};

const dmp_http_route_t dmp_http_routes_provision[] = {
    {"POST", "/v1/dataproduct", h_deploy},
    {"PUT", "/v1/dataproduct", h_update},
    {"DELETE", "/v1/dataproduct", h_delete},
    {"DELETE", "/v1/dataproduct/{environment}/{domain}/{name}/{version}", h_delete_path},
    {"GET", "/v1/dataproduct/state/{environment}/{domain}/{name}/{version}", h_state},
    {"GET", "/v1/state/dataproduct/{environment}/{domain}/{name}/{version}", h_state},
    {"GET", "/v1/state/dataproduct/resource/{environment}/{domain}/{dataProduct}/{version}/{name}",
     h_resource_state},
    {"PUT", "/v1/state/dataproduct", h_set_state},
    {"POST", "/v1/state/dataproduct", h_set_state},
    {"GET", "/v1/provisioners", h_provisioners_get},
    {"PUT", "/v1/provisioners", h_provisioners_put},
    {"GET", "/v1/products", h_products_list},
    {"GET", "/v1/products/{domain}/{name}", h_product_get},
    {NULL, NULL, NULL},
};
