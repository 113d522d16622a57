/* provision.h -- the provisioning coordinator (DESIGN 3A), the state machine, the
 * discovery registry of provisioners, and the provisioner function table.
 *
 * A dmp_provision_t is thread-safe: HTTP worker threads call it concurrently. It owns
 * a worker thread that runs resource operations in dependsOn order; external
 * provisioners report back through dmp_provision_report() (the state service).
 * Results cross this API as jansson values the caller owns (json_decref).
 */
#ifndef DMP_PROVISION_H
#define DMP_PROVISION_H

#include <jansson.h>

#include "dmp/core.h"
#include "dmp/descriptor.h"
#include "dmp/store.h"

/* ---- provisioners: a small, versioned function table. */
typedef struct dmp_provisioner dmp_provisioner_t;

typedef enum { DMP_OP_CREATE = 0, DMP_OP_UPDATE, DMP_OP_DELETE } dmp_op_t;
DMP_EXPORT const char *dmp_op_name(dmp_op_t op); /* "create", "update", "delete" */

typedef struct dmp_prov_request {
    dmp_op_t op;
    const dmp_product_key_t *key;
    const dmp_descriptor_t *desc;  /* the product as deployed (borrowed for the call) */
    const dmp_resource_t *res;     /* the resource to act on (borrowed) */
    json_t *body;                  /* the wire request of the DESIGN 3A contract (borrowed) */
    const char *callback_url;      /* where an asynchronous provisioner reports */
} dmp_prov_request_t;

#define DMP_PROVISIONER_OPS_V1 1
typedef struct dmp_provisioner_ops {
    int version;      /* DMP_PROVISIONER_OPS_V1; new ops go at the end */
    const char *name; /* "http", "dmp-log", "noop" ... */
    /* Starts the operation. On DMP_OK either *done is set to the final state
     * (synchronous provisioners: CREATED, DELETED ...) or left DMP_STATE_NONE, meaning
     * the result arrives later through dmp_provision_report(). Any error marks the
     * resource FAILED with err->msg as the reason. */
    int (*submit)(dmp_provisioner_t *pv, const dmp_prov_request_t *req, dmp_state_t *done,
                  dmp_error_t *err);
    /* Describes the provisioner for GET /v1/provisioners (new reference). */
    json_t *(*describe)(dmp_provisioner_t *pv);
    void (*close)(dmp_provisioner_t *pv);
} dmp_provisioner_ops_t;

struct dmp_provisioner {
    const dmp_provisioner_ops_t *ops; /* MUST BE FIRST in every implementation */
};

/* Creates a provisioner instance (for "builtin:NAME" specs); 'arg' is the one given to
 * dmp_provision_add_builtin. *out is owned by the caller (ops->close releases it). */
typedef int (*dmp_provisioner_factory_t)(void *arg, dmp_provisioner_t **out, dmp_error_t *err);

/* An HTTP provisioner speaking the DESIGN 3A contract at 'url'; timeout in ms. */
DMP_EXPORT int dmp_provisioner_http_new(const char *url, int timeout_ms, dmp_provisioner_t **out,
                                        dmp_error_t *err);

/* ---- the coordinator */
typedef struct dmp_provision dmp_provision_t;

typedef struct dmp_provision_conf {
    dmp_store_t *store;           /* borrowed; must outlive the coordinator */
    /* The state-service URL given to provisioners. "" means "not known yet": no resource
     * starts (crash recovery included) until dmp_provision_set_callback() gives one. */
    const char *callback_url;
    int http_timeout_ms;          /* external provisioner request timeout (default 10000) */
    int report_timeout_ms;        /* async report deadline before FAILED (default 300000) */
    const char *data_dir;         /* root for built-in provisioners' files (dmp-files) */
    /* Added fields; zero means the default. */
    int workers;                  /* provisioning worker threads (default 4) */
    /* Registrations applied (and persisted) before crash recovery runs, so resources of
     * these technologies resume: "TECH=SPEC" or "ENV/TECH=SPEC", SPEC as in
     * dmp_provision_register_spec. The server passes its --provisioner flags here. */
    const char *const *provisioner_specs;
    size_t n_provisioner_specs;
} dmp_provision_conf_t;

/* Opens the coordinator and recovers products left in transit by a crash (see
 * docs/provisioning.md). *out owns it; release with dmp_provision_close(). */
DMP_EXPORT int dmp_provision_open(const dmp_provision_conf_t *conf, dmp_provision_t **out,
                                  dmp_error_t *err);
DMP_EXPORT void dmp_provision_close(dmp_provision_t *pr);
/* Changes the callback URL (the server learns its port after binding). */
DMP_EXPORT void dmp_provision_set_callback(dmp_provision_t *pr, const char *url);

/* Discovery registry: maps (environment, technology) to a provisioner. 'environment'
 * NULL or "*" matches any. Takes ownership of 'pv'. Replaces an existing mapping. */
DMP_EXPORT int dmp_provision_register(dmp_provision_t *pr, const char *environment,
                                      const char *technology, dmp_provisioner_t *pv,
                                      dmp_error_t *err);
/* Registers from a spec string: "builtin:NAME" or an http(s):// URL. */
DMP_EXPORT int dmp_provision_register_spec(dmp_provision_t *pr, const char *environment,
                                           const char *technology, const char *spec,
                                           dmp_error_t *err);
/* Removes a mapping (and its persisted spec). DMP_NOTFOUND when absent. */
DMP_EXPORT int dmp_provision_unregister(dmp_provision_t *pr, const char *environment,
                                        const char *technology, dmp_error_t *err);
/* Makes "builtin:NAME" available to register_spec (and to the registry persisted in the
 * store). Replaces a builtin of the same name. Used by modules that ship provisioners
 * (e.g. stream ports on the embedded log). */
DMP_EXPORT int dmp_provision_add_builtin(dmp_provision_t *pr, const char *name,
                                         dmp_provisioner_factory_t factory, void *arg,
                                         dmp_error_t *err);
/* Parses "TECH=SPEC" or "ENV/TECH=SPEC" ("ENV:TECH=SPEC" too) and registers it (the
 * --provisioner flag). */
DMP_EXPORT int dmp_provision_register_arg(dmp_provision_t *pr, const char *arg,
                                          dmp_error_t *err);
/* [{"environment","technology","spec","provisioner":{...}}] */
DMP_EXPORT json_t *dmp_provision_registry(dmp_provision_t *pr);

/* What an apply would do, without doing it:
 *   {"product": {...key...}, "operation": "create|update|none",
 *    "resources": [{"name","kind","technology","action":"create|update|delete|none",
 *                   "changes":[...]}]}
 * Fails with DMP_IMMUTABLE when the same version changes anything but ACLs, with
 * DMP_INVALID for a dependsOn cycle (the message names the cycle) or unknown
 * dependency, and with DMP_NOTFOUND when no provisioner serves a technology. */
DMP_EXPORT int dmp_provision_plan(dmp_provision_t *pr, const dmp_descriptor_t *desc, json_t **plan,
                                  dmp_error_t *err);
/* Plans, then starts the operations asynchronously (POST creates, PUT updates ACLs).
 * Returns the plan; "operation":"none" means no changes and nothing was done.
 * DMP_CONFLICT (409) while the product is in transit, naming the resource. */
DMP_EXPORT int dmp_provision_apply(dmp_provision_t *pr, const dmp_descriptor_t *desc,
                                   json_t **result, dmp_error_t *err);
DMP_EXPORT int dmp_provision_delete(dmp_provision_t *pr, const dmp_product_key_t *key,
                                    json_t **result, dmp_error_t *err);
/* {"environment","domain","name","version","state","resources":[{"name","state",
 *  "reason","technology","updated"}]} */
DMP_EXPORT int dmp_provision_state(dmp_provision_t *pr, const dmp_product_key_t *key,
                                   json_t **out, dmp_error_t *err);
DMP_EXPORT int dmp_provision_resource_state(dmp_provision_t *pr, const dmp_product_key_t *key,
                                            const char *resource, json_t **out,
                                            dmp_error_t *err);
/* The state service: a provisioner reports a resource's outcome. */
DMP_EXPORT int dmp_provision_report(dmp_provision_t *pr, const dmp_product_key_t *key,
                                    const char *resource, dmp_state_t state, const char *reason,
                                    dmp_error_t *err);
/* The same, checked: 'secret' must equal the "callbackToken" sent with the resource's
 * latest request (DMP_UNAUTHENTICATED otherwise; neither value appears in the message).
 * secret NULL skips the check (in-process callers, dev mode). */
DMP_EXPORT int dmp_provision_report_secret(dmp_provision_t *pr, const dmp_product_key_t *key,
                                           const char *resource, dmp_state_t state,
                                           const char *reason, const char *secret,
                                           dmp_error_t *err);
/* Sets a product's state directly (PUT|POST /v1/state/dataproduct). */
DMP_EXPORT int dmp_provision_set_state(dmp_provision_t *pr, const dmp_product_key_t *key,
                                       dmp_state_t state, dmp_error_t *err);
/* [{"environment","domain","name","version","state","updated"}] */
DMP_EXPORT int dmp_provision_list(dmp_provision_t *pr, json_t **out, dmp_error_t *err);
/* The descriptor as deployed plus its state. version NULL = the latest. */
DMP_EXPORT int dmp_provision_get(dmp_provision_t *pr, const char *environment, const char *domain,
                                 const char *name, const char *version, json_t **out,
                                 dmp_error_t *err);

/* ---- pure helpers, exposed for tests */
/* Orders resources so each comes after its dependsOn. On success order[i] is an index
 * into desc->resources. A cycle fails with DMP_INVALID naming it: "a -> b -> a". */
DMP_EXPORT int dmp_provision_toposort(const dmp_descriptor_t *desc, size_t *order,
                                      dmp_error_t *err);

#endif
