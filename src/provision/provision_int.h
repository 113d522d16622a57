/* provision_int.h -- private to src/provision/: the coordinator's structures, the
 * registry entries, the state table and the built-in provisioners.
 *
 * Locking: one mutex per coordinator (dmp_provision.lock) guards jobs, tasks, the
 * registry and the callback URL. It is never held across a provisioner's submit() (an
 * external HTTP call); store calls are made with it held (the store has its own lock).
 */
#ifndef DMP_PROVISION_INT_H
#define DMP_PROVISION_INT_H

#include <pthread.h>
#include <sys/types.h>

#include "dmp/provision.h"

/* ---- states (state.c) */
int dmp_op_parse(const char *s, dmp_op_t *out);
int dmp_state_can_move(dmp_state_t from, dmp_state_t to); /* 1 when the table allows it */
dmp_state_t dmp_op_transit_state(dmp_op_t op);            /* CREATING, UPDATING, DELETING */
dmp_state_t dmp_op_target_state(dmp_op_t op);             /* CREATED or DELETED */
dmp_state_t dmp_state_derive(const dmp_state_t *res, size_t n);

/* ---- toposort.c */
ssize_t dmp_provision_find_resource(const dmp_descriptor_t *desc, const char *name);

/* ---- registry (registry.c). Entries are reference-counted: a task holds a reference
 * while it calls submit() outside the lock, so replacing a mapping never closes a
 * provisioner in use. */
typedef struct prov_reg_ent {
    char *environment; /* "*" matches any */
    char *technology;
    char *spec; /* "builtin:NAME" or a URL; NULL when registered as an object */
    dmp_provisioner_t *pv;
    int refs; /* 1 for the registry's own reference + 1 per task in flight */
    struct prov_reg_ent *next;
} prov_reg_ent_t;

typedef struct prov_builtin {
    char *name;
    dmp_provisioner_factory_t factory;
    void *arg;
    struct prov_builtin *next;
} prov_builtin_t;

/* ---- jobs: one per product with an operation under way. */
typedef enum {
    TASK_IDLE = 0, /* not part of this operation */
    TASK_WAITING,  /* in a transit state, waiting for its dependencies (or dependants) */
    TASK_RUNNING,  /* submit() in progress, outside the lock */
    TASK_AWAITING, /* accepted; waiting for the provisioner's report until deadline_ms */
    TASK_DONE,
} prov_task_status_t;

#define PROV_CB_TOKEN_LEN 72 /* "dmpcb_" + 43 base64url + NUL, with room */

typedef struct prov_task {
    dmp_op_t op;
    prov_task_status_t status;
    dmp_state_t state;
    char *reason;
    int64_t deadline_ms;
    int64_t updated_ms;
    int was_accepted; /* recovered: the provisioner had accepted it before the restart */
    /* The secret sent with the latest request for this resource ("callbackToken"); a
     * report must carry it back. Kept in memory only, never logged. "" = none yet. */
    char cb_token[PROV_CB_TOKEN_LEN];
} prov_task_t;

typedef struct prov_job {
    char *environment, *domain, *name, *version;
    dmp_product_key_t key;      /* points at the strings above */
    dmp_descriptor_t *desc;     /* owned private copy */
    prov_task_t *tasks;         /* one per desc->resources */
    size_t *dep_base, *dep_idx; /* dependsOn as indices: deps of i are dep_idx[dep_base[i]..i+1] */
    int deleting;               /* a DELETE of the product */
    int recovered;              /* resumed after a restart */
    int running;                /* tasks in TASK_RUNNING */
    struct prov_job *next;
} prov_job_t;

struct dmp_provision {
    dmp_store_t *store;
    char *callback_url;
    char *data_dir;
    int http_timeout_ms;
    int report_timeout_ms;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    pthread_t *threads;
    int n_threads;
    prov_reg_ent_t *registry;
    prov_builtin_t *builtins;
    prov_job_t *jobs;
};

/* Points 'err' at a resource's field: path "outputPorts[0].technology" and, when the
 * descriptor has positions, where "file:line:col" of the resource. */
void prov_error_at(dmp_error_t *err, const dmp_descriptor_t *desc, const dmp_resource_t *r,
                   const char *field);

/* Registry helpers; the caller holds pr->lock. lookup returns a new reference or NULL. */
prov_reg_ent_t *prov_registry_lookup(dmp_provision_t *pr, const char *environment,
                                     const char *technology);
void prov_registry_release(prov_reg_ent_t *ent);
void prov_registry_free_all(dmp_provision_t *pr);
/* Loads the registrations persisted in the store's kv (called by open). */
int prov_registry_load(dmp_provision_t *pr, dmp_error_t *err);
/* Registers the defaults: technologies served by the built-in provisioners. */
int prov_registry_defaults(dmp_provision_t *pr, dmp_error_t *err);

/* The technology a resource is routed by: its `technology`, else its `type`. */
const char *prov_res_technology(const dmp_resource_t *res);

/* ---- built-in provisioners (prov_builtin.c) */
int prov_builtin_files_new(void *arg, dmp_provisioner_t **out, dmp_error_t *err);

#endif
