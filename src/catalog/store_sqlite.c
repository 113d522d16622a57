/* store_sqlite.c -- the embedded state/catalog store on SQLite (the default backend).
 *
 * One connection per store, in WAL mode with a busy timeout, guarded by a mutex so the
 * HTTP worker threads and the provisioning workers may share it. Every statement is
 * prepared once at open. The schema is versioned with PRAGMA user_version: migrations[i]
 * takes the database from version i to i+1, each inside a transaction.
 *
 * States are stored as their dmp_state_t integer so this file does not depend on the
 * provisioning module. Descriptors are stored as compact JSON text.
 *
 * Only this directory includes <sqlite3.h>; nothing here knows about HTTP or provisioning.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/store_int.h"

/* Schema, by version:
 *   products(environment, domain, name, version) -> state, descriptor JSON, times
 *   resources(product key, resource)             -> technology, state, reason,
 *                                                   operation, updated_ms, deadline_ms
 *   kv(key) -> value                              settings (the provisioner registry)
 * resources keep their insertion order (rowid), which is the descriptor's order. */
static const char *const migrations[] = {
    "CREATE TABLE products ("
    "  environment TEXT NOT NULL, domain TEXT NOT NULL, name TEXT NOT NULL,"
    "  version TEXT NOT NULL, state INTEGER NOT NULL, descriptor TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (environment, domain, name, version));"
    "CREATE TABLE resources ("
    "  environment TEXT NOT NULL, domain TEXT NOT NULL, product TEXT NOT NULL,"
    "  version TEXT NOT NULL, name TEXT NOT NULL, technology TEXT, state INTEGER NOT NULL,"
    "  reason TEXT, operation TEXT, updated_ms INTEGER NOT NULL,"
    "  deadline_ms INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (environment, domain, product, version, name));"
    "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
};
#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

enum {
    Q_PRODUCT_PUT,
    Q_PRODUCT_GET,
    Q_PRODUCT_SET_STATE,
    Q_PRODUCT_LIST,
    Q_PRODUCT_DELETE,
    Q_RESOURCES_DELETE,
    Q_RESOURCE_PUT,
    Q_RESOURCE_LIST,
    Q_KV_PUT,
    Q_KV_DELETE,
    Q_KV_GET,
    Q_KV_LIST,
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_COUNT
};

static const char *const queries[Q_COUNT] = {
    [Q_PRODUCT_PUT] = "INSERT INTO products(environment, domain, name, version, state, descriptor, "
                      "created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) "
                      "ON CONFLICT(environment, domain, name, version) DO UPDATE SET "
                      "state = excluded.state, descriptor = excluded.descriptor, "
                      "updated_ms = excluded.updated_ms",
    [Q_PRODUCT_GET] = "SELECT environment, domain, name, version, state, descriptor, created_ms, "
                      "updated_ms FROM products WHERE environment = ?1 AND domain = ?2 AND "
                      "name = ?3 AND version = ?4",
    [Q_PRODUCT_SET_STATE] = "UPDATE products SET state = ?5, updated_ms = ?6 WHERE "
                            "environment = ?1 AND domain = ?2 AND name = ?3 AND version = ?4",
    [Q_PRODUCT_LIST] =
        "SELECT environment, domain, name, version, state, descriptor, created_ms, updated_ms "
        "FROM products WHERE (?1 IS NULL OR environment = ?1) AND (?2 IS NULL OR domain = ?2) "
        "AND (?3 IS NULL OR name = ?3) ORDER BY environment, domain, name, created_ms, version",
    [Q_PRODUCT_DELETE] = "DELETE FROM products WHERE environment = ?1 AND domain = ?2 AND "
                         "name = ?3 AND version = ?4",
    [Q_RESOURCES_DELETE] = "DELETE FROM resources WHERE environment = ?1 AND domain = ?2 AND "
                           "product = ?3 AND version = ?4",
    [Q_RESOURCE_PUT] =
        "INSERT INTO resources(environment, domain, product, version, name, technology, state, "
        "reason, operation, updated_ms, deadline_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
        "?9, ?10, ?11) ON CONFLICT(environment, domain, product, version, name) DO UPDATE SET "
        "technology = excluded.technology, state = excluded.state, reason = excluded.reason, "
        "operation = excluded.operation, updated_ms = excluded.updated_ms, "
        "deadline_ms = excluded.deadline_ms",
    [Q_RESOURCE_LIST] = "SELECT name, technology, state, reason, operation, updated_ms, "
                        "deadline_ms FROM resources WHERE environment = ?1 AND domain = ?2 AND "
                        "product = ?3 AND version = ?4 ORDER BY rowid",
    [Q_KV_PUT] = "INSERT INTO kv(key, value) VALUES (?1, ?2) "
                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [Q_KV_DELETE] = "DELETE FROM kv WHERE key = ?1",
    [Q_KV_GET] = "SELECT value FROM kv WHERE key = ?1",
    [Q_KV_LIST] = "SELECT key, value FROM kv WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
};

typedef struct sqlite_store {
    dmp_store_t base; /* MUST BE FIRST */
    sqlite3 *db;
    sqlite3_stmt *stmt[Q_COUNT];
    pthread_mutex_t lock; /* Invariant: held for every use of db and stmt[] */
    char *path;
} sqlite_store_t;

static int db_err(sqlite_store_t *s, dmp_error_t *err, const char *what)
{
    int code = sqlite3_errcode(s->db);
    int status = (code == SQLITE_FULL)                            ? DMP_FULL
                 : (code == SQLITE_BUSY || code == SQLITE_LOCKED) ? DMP_UNAVAILABLE
                                                                  : DMP_IO;
    return DMP_ERR(err, status, "store %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* Returns statement 'q', reset and unbound, ready for binding. Caller holds the lock. */
static sqlite3_stmt *stmt_get(sqlite_store_t *s, int q)
{
    sqlite3_stmt *st = s->stmt[q];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

static void bind_key(sqlite3_stmt *st, const dmp_product_key_t *k)
{
    sqlite3_bind_text(st, 1, k->environment, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, k->domain, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, k->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, k->version, -1, SQLITE_STATIC);
}

static int key_check(const dmp_product_key_t *k, dmp_error_t *err)
{
    if (k == NULL || k->environment == NULL || k->domain == NULL || k->name == NULL ||
        k->version == NULL)
        return DMP_ERR(err, DMP_INVALID, "product key needs environment, domain, name and version");
    return DMP_OK;
}

/* Runs a statement that returns no rows. Caller holds the lock. */
static int step_done(sqlite_store_t *s, sqlite3_stmt *st, const char *what, dmp_error_t *err)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        int r = db_err(s, err, what);
        sqlite3_reset(st);
        return r;
    }
    sqlite3_reset(st);
    return DMP_OK;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t == NULL ? NULL : dmp_strdup((const char *)t);
}

static int row_to_product(sqlite_store_t *s, sqlite3_stmt *st, dmp_product_rec_t *out,
                          dmp_error_t *err)
{
    json_error_t jerr;
    const char *doc = (const char *)sqlite3_column_text(st, 5);
    json_t *j = json_loads(doc != NULL ? doc : "null", JSON_DECODE_ANY, &jerr);
    if (j == NULL)
        return DMP_ERR(err, DMP_IO, "store %s: stored descriptor is not JSON: %s", s->path,
                       jerr.text);
    memset(out, 0, sizeof(*out));
    out->environment = col_dup(st, 0);
    out->domain = col_dup(st, 1);
    out->name = col_dup(st, 2);
    out->version = col_dup(st, 3);
    out->state = (dmp_state_t)sqlite3_column_int(st, 4);
    out->descriptor = j;
    out->created_ms = sqlite3_column_int64(st, 6);
    out->updated_ms = sqlite3_column_int64(st, 7);
    return DMP_OK;
}

static void sq_close(dmp_store_t *base)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    dmp_free(s->path);
    dmp_free(s);
}

static int sq_product_put(dmp_store_t *base, const dmp_product_key_t *k, const json_t *descriptor,
                          dmp_state_t state, dmp_error_t *err)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int rc = key_check(k, err);
    if (rc != DMP_OK)
        return rc;
    char *doc = json_dumps(descriptor != NULL ? descriptor : json_null(),
                           JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (doc == NULL)
        return DMP_ERR(err, DMP_INVALID, "descriptor cannot be encoded as JSON");
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt_get(s, Q_PRODUCT_PUT);
    bind_key(st, k);
    sqlite3_bind_int(st, 5, (int)state);
    sqlite3_bind_text(st, 6, doc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, dmp_now_ms());
    rc = step_done(s, st, "product put", err);
    pthread_mutex_unlock(&s->lock);
    free(doc);
    return rc;
}

static int sq_product_get(dmp_store_t *base, const dmp_product_key_t *k, dmp_product_rec_t *out,
                          dmp_error_t *err)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    memset(out, 0, sizeof(*out));
    int rc = key_check(k, err);
    if (rc != DMP_OK)
        return rc;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt_get(s, Q_PRODUCT_GET);
    bind_key(st, k);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        rc = row_to_product(s, st, out, err);
    else if (r == SQLITE_DONE)
        rc = DMP_ERR(err, DMP_NOTFOUND, "product %s/%s/%s version %s not found", k->environment,
                     k->domain, k->name, k->version);
    else
        rc = db_err(s, err, "product get");
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_product_set_state(dmp_store_t *base, const dmp_product_key_t *k, dmp_state_t state,
                                dmp_error_t *err)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int rc = key_check(k, err);
    if (rc != DMP_OK)
        return rc;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt_get(s, Q_PRODUCT_SET_STATE);
    bind_key(st, k);
    sqlite3_bind_int(st, 5, (int)state);
    sqlite3_bind_int64(st, 6, dmp_now_ms());
    rc = step_done(s, st, "product set state", err);
    if (rc == DMP_OK && sqlite3_changes(s->db) == 0)
        rc = DMP_ERR(err, DMP_NOTFOUND, "product %s/%s/%s version %s not found", k->environment,
                     k->domain, k->name, k->version);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_product_list(dmp_store_t *base, const char *environment, const char *domain,
                           const char *name, dmp_product_rec_t **out, size_t *n, dmp_error_t *err)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    dmp_product_rec_t *v = NULL;
    size_t len = 0, cap = 0;
    int rc = DMP_OK, r;

    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt_get(s, Q_PRODUCT_LIST);
    if (environment != NULL)
        sqlite3_bind_text(st, 1, environment, -1, SQLITE_STATIC);
    if (domain != NULL)
        sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
    if (name != NULL)
        sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            v = dmp_realloc(v, cap * sizeof(*v));
        }
        if ((rc = row_to_product(s, st, &v[len], err)) != DMP_OK)
            break;
        len++;
    }
    if (rc == DMP_OK && r != SQLITE_DONE)
        rc = db_err(s, err, "product list");
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    if (rc != DMP_OK) {
        dmp_product_recs_free(v, len);
        return rc;
    }
    *out = v;
    *n = len;
    return DMP_OK;
}

static int sq_product_delete(dmp_store_t *base, const dmp_product_key_t *k, dmp_error_t *err)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int rc = key_check(k, err);
    if (rc != DMP_OK)
        return rc;
    pthread_mutex_lock(&s->lock);
    if ((rc = step_done(s, stmt_get(s, Q_BEGIN), "begin", err)) == DMP_OK) {
        sqlite3_stmt *st = stmt_get(s, Q_RESOURCES_DELETE);
        bind_key(st, k);
        rc = step_done(s, st, "resources delete", err);
        if (rc == DMP_OK) {
            st = stmt_get(s, Q_PRODUCT_DELETE);
            bind_key(st, k);
            rc = step_done(s, st, "product delete", err);
        }
        if (rc == DMP_OK)
            rc = step_done(s, stmt_get(s, Q_COMMIT), "commit", err);
        if (rc != DMP_OK)
            step_done(s, stmt_get(s, Q_ROLLBACK), "rollback", NULL);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_resource_put(dmp_store_t *base, const dmp_product_key_t *k,
                           const dmp_resource_rec_t *r, dmp_error_t *err)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int rc = key_check(k, err);
    if (rc != DMP_OK)
        return rc;
    if (r == NULL || r->name == NULL)
        return DMP_ERR(err, DMP_INVALID, "resource record needs a name");
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt_get(s, Q_RESOURCE_PUT);
    bind_key(st, k);
    sqlite3_bind_text(st, 5, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->technology, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, (int)r->state);
    sqlite3_bind_text(st, 8, r->reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, r->operation, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, r->updated_ms ? r->updated_ms : dmp_now_ms());
    sqlite3_bind_int64(st, 11, r->deadline_ms);
    rc = step_done(s, st, "resource put", err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_resource_list(dmp_store_t *base, const dmp_product_key_t *k, dmp_resource_rec_t **out,
                            size_t *n, dmp_error_t *err)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    dmp_resource_rec_t *v = NULL;
    size_t len = 0, cap = 0;
    int rc, r;

    *out = NULL;
    *n = 0;
    if ((rc = key_check(k, err)) != DMP_OK)
        return rc;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt_get(s, Q_RESOURCE_LIST);
    bind_key(st, k);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 8;
            v = dmp_realloc(v, cap * sizeof(*v));
        }
        dmp_resource_rec_t *rec = &v[len++];
        rec->name = col_dup(st, 0);
        rec->technology = col_dup(st, 1);
        rec->state = (dmp_state_t)sqlite3_column_int(st, 2);
        rec->reason = col_dup(st, 3);
        rec->operation = col_dup(st, 4);
        rec->updated_ms = sqlite3_column_int64(st, 5);
        rec->deadline_ms = sqlite3_column_int64(st, 6);
    }
    if (r != SQLITE_DONE)
        rc = db_err(s, err, "resource list");
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    if (rc != DMP_OK) {
        dmp_resource_recs_free(v, len);
        return rc;
    }
    *out = v;
    *n = len;
    return DMP_OK;
}

static int sq_kv_put(dmp_store_t *base, const char *key, const char *value, dmp_error_t *err)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int rc;
    if (key == NULL || key[0] == '\0')
        return DMP_ERR(err, DMP_INVALID, "kv key is empty");
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt_get(s, value != NULL ? Q_KV_PUT : Q_KV_DELETE);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (value != NULL)
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    rc = step_done(s, st, "kv put", err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_kv_get(dmp_store_t *base, const char *key, char **value, dmp_error_t *err)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    int rc = DMP_OK;
    *value = NULL;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt_get(s, Q_KV_GET);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *value = col_dup(st, 0);
    else if (r == SQLITE_DONE)
        rc = DMP_ERR(err, DMP_NOTFOUND, "setting '%s' not found", key);
    else
        rc = db_err(s, err, "kv get");
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int sq_kv_list(dmp_store_t *base, const char *prefix, json_t **out, dmp_error_t *err)
{
    sqlite_store_t *s = (sqlite_store_t *)base;
    json_t *obj = json_object();
    int rc = DMP_OK, r;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = stmt_get(s, Q_KV_LIST);
    sqlite3_bind_text(st, 1, prefix != NULL ? prefix : "", -1, SQLITE_STATIC);
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        json_object_set_new(obj, (const char *)sqlite3_column_text(st, 0),
                            json_string((const char *)sqlite3_column_text(st, 1)));
    if (r != SQLITE_DONE)
        rc = db_err(s, err, "kv list");
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    if (rc != DMP_OK) {
        json_decref(obj);
        obj = NULL;
    }
    *out = obj;
    return rc;
}

static const dmp_store_ops_t sqlite_ops = {
    .version = DMP_STORE_OPS_V1,
    .name = "sqlite",
    .close = sq_close,
    .product_put = sq_product_put,
    .product_get = sq_product_get,
    .product_set_state = sq_product_set_state,
    .product_list = sq_product_list,
    .product_delete = sq_product_delete,
    .resource_put = sq_resource_put,
    .resource_list = sq_resource_list,
    .kv_put = sq_kv_put,
    .kv_get = sq_kv_get,
    .kv_list = sq_kv_list,
};

static int exec(sqlite_store_t *s, const char *sql, const char *what, dmp_error_t *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = DMP_ERR(err, DMP_IO, "store %s: %s: %s", s->path, what,
                         msg != NULL ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return rc;
    }
    return DMP_OK;
}

/* Brings the schema to the newest version, one transaction per step. */
static int migrate(sqlite_store_t *s, dmp_error_t *err)
{
    sqlite3_stmt *st = NULL;
    int version = 0, rc;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return db_err(s, err, "read user_version");
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > N_MIGRATIONS)
        return DMP_ERR(err, DMP_UNSUPPORTED,
                       "store %s: schema version %d is newer than this dmp knows (%d)", s->path,
                       version, N_MIGRATIONS);
    for (; version < N_MIGRATIONS; version++) {
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version + 1);
        if ((rc = exec(s, "BEGIN IMMEDIATE", "begin migration", err)) != DMP_OK)
            return rc;
        if ((rc = exec(s, migrations[version], "migration", err)) != DMP_OK ||
            (rc = exec(s, pragma, "set user_version", err)) != DMP_OK) {
            exec(s, "ROLLBACK", "rollback migration", NULL);
            return rc;
        }
        if ((rc = exec(s, "COMMIT", "commit migration", err)) != DMP_OK)
            return rc;
    }
    return DMP_OK;
}

int dmp_store_sqlite_open(const char *path, dmp_store_t **out, dmp_error_t *err)
{
    int rc;
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return DMP_ERR(err, DMP_INVALID, "sqlite store path is empty");
    sqlite_store_t *s = dmp_calloc(1, sizeof(*s));
    s->base.ops = &sqlite_ops;
    s->path = dmp_strdup(path);
    pthread_mutex_init(&s->lock, NULL);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        rc = DMP_ERR(err, DMP_IO, "cannot open store %s: %s", path,
                     s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if ((rc = exec(s, "PRAGMA journal_mode = WAL", "set WAL mode", err)) != DMP_OK ||
        (rc = exec(s, "PRAGMA synchronous = NORMAL", "set synchronous", err)) != DMP_OK ||
        (rc = exec(s, "PRAGMA foreign_keys = ON", "set foreign_keys", err)) != DMP_OK ||
        (rc = migrate(s, err)) != DMP_OK)
        goto fail;
    for (int i = 0; i < Q_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, queries[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
                               NULL) != SQLITE_OK) {
            rc = db_err(s, err, "prepare");
            goto fail;
        }
    }
    *out = &s->base;
    return DMP_OK;
fail:
    sq_close(&s->base);
    return rc;
}
