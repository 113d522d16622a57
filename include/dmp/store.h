/* store.h -- the state and catalog store behind a small function table.
 *
 * The embedded default is SQLite under the data dir; PostgreSQL comes later behind the
 * same table. Only src/catalog/ includes <sqlite3.h>. A store is thread-safe: every
 * op serialises on its own lock. Strings returned in records are owned by the record
 * (free with the matching _free function).
 */
#ifndef DMP_STORE_H
#define DMP_STORE_H

#include <jansson.h>

#include "dmp/core.h"

typedef enum {
    DMP_STATE_NONE = 0,
    DMP_STATE_CREATING,
    DMP_STATE_CREATED,
    DMP_STATE_UPDATING,
    DMP_STATE_DELETING,
    DMP_STATE_DELETED,
    DMP_STATE_FAILED,
    DMP_STATE_NOT_COMPLETED,
} dmp_state_t;

DMP_EXPORT const char *dmp_state_name(dmp_state_t s); /* "CREATED" */
DMP_EXPORT int dmp_state_parse(const char *s, dmp_state_t *out); /* DMP_OK or DMP_INVALID */
DMP_EXPORT int dmp_state_in_transit(dmp_state_t s); /* CREATING, UPDATING, DELETING */

typedef struct dmp_product_key {
    const char *environment;
    const char *domain;
    const char *name;
    const char *version;
} dmp_product_key_t;

typedef struct dmp_product_rec {
    char *environment, *domain, *name, *version;
    dmp_state_t state;
    json_t *descriptor; /* the deployed descriptor document */
    int64_t created_ms, updated_ms;
} dmp_product_rec_t;

typedef struct dmp_resource_rec {
    char *name;
    char *technology;
    dmp_state_t state;
    char *reason;     /* why FAILED / NOT_COMPLETED; NULL otherwise */
    char *operation;  /* the operation in flight or last run: create/update/delete */
    int64_t updated_ms;
    int64_t deadline_ms; /* async report deadline while in transit; 0 = none */
} dmp_resource_rec_t;

typedef struct dmp_store dmp_store_t;

#define DMP_STORE_OPS_V1 1
typedef struct dmp_store_ops {
    int version;
    const char *name; /* "sqlite", "postgres" */
    void (*close)(dmp_store_t *st);
    /* products */
    int (*product_put)(dmp_store_t *st, const dmp_product_key_t *k, const json_t *descriptor,
                       dmp_state_t state, dmp_error_t *err);
    int (*product_get)(dmp_store_t *st, const dmp_product_key_t *k, dmp_product_rec_t *out,
                       dmp_error_t *err); /* DMP_NOTFOUND when absent */
    int (*product_set_state)(dmp_store_t *st, const dmp_product_key_t *k, dmp_state_t state,
                             dmp_error_t *err);
    /* All products; environment/domain/name may be NULL (= any). Caller frees with
     * dmp_product_recs_free. */
    int (*product_list)(dmp_store_t *st, const char *environment, const char *domain,
                        const char *name, dmp_product_rec_t **out, size_t *n, dmp_error_t *err);
    int (*product_delete)(dmp_store_t *st, const dmp_product_key_t *k, dmp_error_t *err);
    /* resources of a product */
    int (*resource_put)(dmp_store_t *st, const dmp_product_key_t *k, const dmp_resource_rec_t *r,
                        dmp_error_t *err);
    int (*resource_list)(dmp_store_t *st, const dmp_product_key_t *k, dmp_resource_rec_t **out,
                         size_t *n, dmp_error_t *err);
    /* key/value settings (the provisioner registry persists here) */
    int (*kv_put)(dmp_store_t *st, const char *key, const char *value, dmp_error_t *err);
    int (*kv_get)(dmp_store_t *st, const char *key, char **value, dmp_error_t *err);
    int (*kv_list)(dmp_store_t *st, const char *prefix, json_t **out, dmp_error_t *err);
} dmp_store_ops_t;

struct dmp_store {
    const dmp_store_ops_t *ops; /* MUST BE FIRST */
};

/* Opens a store from a URL: "sqlite:PATH" or a plain path (SQLite). */
DMP_EXPORT int dmp_store_open(const char *url, dmp_store_t **out, dmp_error_t *err);
DMP_EXPORT void dmp_store_close(dmp_store_t *st);
DMP_EXPORT void dmp_product_rec_fini(dmp_product_rec_t *r);
DMP_EXPORT void dmp_product_recs_free(dmp_product_rec_t *v, size_t n);
DMP_EXPORT void dmp_resource_recs_free(dmp_resource_rec_t *v, size_t n);

#endif
