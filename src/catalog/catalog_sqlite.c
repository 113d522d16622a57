/* catalog_sqlite.c -- the catalog's embedded backend: one SQLite file
 * (<data-dir>/catalog.db) with an FTS5 index over the current version of each product.
 *
 * Tables: versions (every version's entry as JSON), products (the current live version's
 * summary), product_tags / product_types (filters), edges (input ports of current
 * versions: consumer -> producer port), fts (one row per product, rowid = pid), and units
 * (the same text split into the product's own and each port's, so that a caller who may
 * not read every port is matched only on what it may read; read by pid, never searched).
 * user_version 2 added units and the access facts in summaries: an older file is
 * re-indexed once at open.
 * Statements are prepared once at open; catalog.c serialises calls. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_int.h"

enum {
    S_VER_PUT,
    S_VER_DEL,
    S_VER_GET,
    S_VER_CUR,
    S_VER_LIST,
    S_PROD_GET,
    S_PROD_DEL,
    S_PROD_INS,
    S_PROD_URN,
    S_PROD_SUM,
    S_FTS_DEL,
    S_FTS_INS,
    S_TAG_DEL,
    S_TAG_INS,
    S_TYPE_DEL,
    S_TYPE_INS,
    S_EDGE_DEL,
    S_EDGE_INS,
    S_EDGE_UP,
    S_EDGE_DOWN,
    S_ALL_PROD,
    S_ALL_EDGE,
    S_HIGHLIGHT,
    S_PROD_BY_PID,
    S_UNIT_DEL,
    S_UNIT_INS,
    S_UNIT_GET,
    S_COUNT
};

static const char *const sql_text[S_COUNT] = {
    [S_VER_PUT] = "INSERT OR REPLACE INTO versions(domain,name,version,major,minor,patch,urn,"
                  "source,registered,deleted,entry) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,0,?10)",
    [S_VER_DEL] = "UPDATE versions SET deleted=1 WHERE domain=?1 AND name=?2 AND version=?3",
    [S_VER_GET] = "SELECT entry, deleted FROM versions WHERE domain=?1 AND name=?2 AND version=?3",
    [S_VER_CUR] = "SELECT entry FROM versions WHERE domain=?1 AND name=?2 AND deleted=0 "
                  "ORDER BY major DESC, minor DESC, patch DESC, registered DESC LIMIT 1",
    [S_VER_LIST] = "SELECT version, urn, source, registered, deleted, "
                   "json_extract(entry,'$.status') FROM versions WHERE domain=?1 AND name=?2 "
                   "ORDER BY major DESC, minor DESC, patch DESC, version DESC",
    [S_PROD_GET] = "SELECT pid FROM products WHERE domain=?1 AND name=?2",
    [S_PROD_DEL] = "DELETE FROM products WHERE pid=?1",
    [S_PROD_INS] = "INSERT INTO products(domain,name,version,urn,owner,summary) "
                   "VALUES(?1,?2,?3,?4,?5,?6)",
    [S_PROD_URN] = "SELECT domain || '/' || name FROM products WHERE urn=?1",
    [S_PROD_SUM] = "SELECT summary FROM products WHERE domain=?1 AND name=?2",
    [S_FTS_DEL] = "DELETE FROM fts WHERE rowid=?1",
    [S_FTS_INS] = "INSERT INTO fts(rowid,name,description,tags,owner,ports,fields,field_docs) "
                  "VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
    [S_TAG_DEL] = "DELETE FROM product_tags WHERE pid=?1",
    [S_TAG_INS] = "INSERT OR IGNORE INTO product_tags(pid,tag) VALUES(?1,?2)",
    [S_TYPE_DEL] = "DELETE FROM product_types WHERE pid=?1",
    [S_TYPE_INS] = "INSERT OR IGNORE INTO product_types(pid,type) VALUES(?1,?2)",
    [S_EDGE_DEL] = "DELETE FROM edges WHERE consumer=?1",
    [S_EDGE_INS] = "INSERT INTO edges(consumer,input,producer_ref,port) VALUES(?1,?2,?3,?4)",
    /* producer_ref is "domain/name" or an id; resolve ids through products.urn. */
    [S_EDGE_UP] = "SELECT coalesce(p.domain || '/' || p.name, e.producer_ref), e.port, "
                  "e.consumer, e.input FROM edges e LEFT JOIN products p ON p.urn = "
                  "e.producer_ref WHERE e.consumer=?1 ORDER BY 1, 2",
    /* Consumers name a producer by "domain/name" or by its id: two indexed lookups. */
    [S_EDGE_DOWN] = "SELECT ?1, port, consumer, input FROM (SELECT port, consumer, input FROM "
                    "edges WHERE producer_ref = ?1 UNION ALL SELECT port, consumer, input FROM "
                    "edges WHERE producer_ref = (SELECT urn FROM products WHERE domain = ?2 AND "
                    "name = ?3) AND producer_ref <> ?1) ORDER BY 3, 4",
    [S_ALL_PROD] = "SELECT summary FROM products ORDER BY domain, name",
    [S_ALL_EDGE] = "SELECT coalesce(p.domain || '/' || p.name, e.producer_ref), e.port, "
                   "e.consumer, e.input FROM edges e LEFT JOIN products p ON p.urn = "
                   "e.producer_ref ORDER BY 3, 4",
    /* The indexed text of one product, read by rowid (no MATCH): catalog.c works out
     * which columns a result matched. */
    [S_HIGHLIGHT] = "SELECT name, description, tags, owner, ports, fields, field_docs FROM fts "
                    "WHERE rowid = ?1",
    [S_PROD_BY_PID] = "SELECT summary FROM products WHERE pid = ?1",
    [S_UNIT_DEL] = "DELETE FROM units WHERE pid=?1",
    [S_UNIT_INS] = "INSERT INTO units(pid,unit,port,name,description,tags,owner,ports,fields,"
                   "field_docs) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
    [S_UNIT_GET] = "SELECT port,name,description,tags,owner,ports,fields,field_docs FROM units "
                   "WHERE pid=?1 ORDER BY unit",
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS versions(domain TEXT NOT NULL, name TEXT NOT NULL,"
    " version TEXT NOT NULL, major INT, minor INT, patch INT, urn TEXT, source TEXT,"
    " registered INT, deleted INT NOT NULL DEFAULT 0, entry TEXT NOT NULL,"
    " PRIMARY KEY(domain, name, version));"
    "CREATE TABLE IF NOT EXISTS products(pid INTEGER PRIMARY KEY, domain TEXT NOT NULL,"
    " name TEXT NOT NULL, version TEXT, urn TEXT, owner TEXT, summary TEXT NOT NULL,"
    " UNIQUE(domain, name));"
    "CREATE INDEX IF NOT EXISTS products_urn ON products(urn);"
    "CREATE INDEX IF NOT EXISTS products_owner ON products(owner);"
    "CREATE TABLE IF NOT EXISTS product_tags(pid INT NOT NULL, tag TEXT NOT NULL,"
    " PRIMARY KEY(tag, pid)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS product_tags_pid ON product_tags(pid);"
    "CREATE TABLE IF NOT EXISTS product_types(pid INT NOT NULL, type TEXT NOT NULL,"
    " PRIMARY KEY(type, pid)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS product_types_pid ON product_types(pid);"
    "CREATE TABLE IF NOT EXISTS edges(consumer TEXT NOT NULL, input TEXT, producer_ref TEXT,"
    " port TEXT);"
    "CREATE INDEX IF NOT EXISTS edges_consumer ON edges(consumer);"
    "CREATE INDEX IF NOT EXISTS edges_producer ON edges(producer_ref);"
    "CREATE TABLE IF NOT EXISTS units(pid INT NOT NULL, unit INT NOT NULL, port TEXT,"
    " name TEXT, description TEXT, tags TEXT, owner TEXT, ports TEXT, fields TEXT,"
    " field_docs TEXT, PRIMARY KEY(pid, unit)) WITHOUT ROWID;"
    "CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(name, description, tags, owner, ports,"
    " fields, field_docs, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');";

/* The default rank with the column weights: name, description, tags, owner, ports,
 * fields, field_docs. Set at every open, so a catalog made by an older dmp follows. */
static const char rank_sql[] =
    "INSERT INTO fts(fts, rank) VALUES('rank', 'dmp_rank(10.0, 2.0, 5.0, 1.0, 3.0, 4.0, 1.0)')";

typedef struct sqlite_be {
    dmp_catalog_be_t base;
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
} sqlite_be_t;

/* The ranking function (FTS5 auxiliary function "dmp_rank", the table's default rank):
 * every hit of a query phrase adds its column's weight, and repeated hits of one phrase
 * in one column add less each time (w, w/2, w/3, then nothing). bm25 reads every
 * matching row's column sizes from the docsize table; on broad prefix queries over
 * 10,000 products that lookup was most of a search's time (docs/performance.md), and
 * the column weights -- a name hit outranks a description hit -- carry the ordering
 * users expect. Lower is better, as with bm25. */
static void rank_fn(const Fts5ExtensionApi *x, Fts5Context *fts, sqlite3_context *ctx, int nval,
                    sqlite3_value **vals)
{
    enum { MAXP = 16, MAXC = 8 };
    unsigned char hits[MAXP][MAXC];
    memset(hits, 0, sizeof(hits));
    int ninst = 0;
    if (x->xInstCount(fts, &ninst) != SQLITE_OK) {
        sqlite3_result_error(ctx, "dmp_rank: cannot read phrase instances", -1);
        return;
    }
    double score = 0;
    for (int i = 0; i < ninst; i++) {
        int ip, ic, io;
        if (x->xInst(fts, i, &ip, &ic, &io) != SQLITE_OK)
            break;
        if (ip < 0 || ip >= MAXP || ic < 0 || ic >= MAXC || hits[ip][ic] >= 3)
            continue;
        hits[ip][ic]++;
        double w = ic < nval ? sqlite3_value_double(vals[ic]) : 1.0;
        score += w / hits[ip][ic];
    }
    sqlite3_result_double(ctx, -score);
}

static int register_rank(sqlite3 *db)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    if (api == NULL || api->iVersion < 2)
        return -1;
    return api->xCreateFunction(api, "dmp_rank", NULL, rank_fn, NULL) == SQLITE_OK ? 0 : -1;
}

static int db_err(sqlite_be_t *s, dmp_error_t *err, const char *what)
{
    int code = sqlite3_errcode(s->db);
    return DMP_ERR(err, code == SQLITE_FULL ? DMP_FULL : DMP_IO, "catalog: %s: %s", what,
                   sqlite3_errmsg(s->db));
}

static sqlite3_stmt *stmt(sqlite_be_t *s, int i)
{
    sqlite3_stmt *st = s->st[i];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static json_t *col_json(sqlite3_stmt *st, int i)
{
    const char *t = col_text(st, i);
    return t ? json_loads(t, 0, NULL) : NULL;
}

static int exec(sqlite_be_t *s, const char *sql, dmp_error_t *err)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_err(s, err, "exec");
    return DMP_OK;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static char *dumps(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT);
}

/* Rebuilds the products/fts/tags/types/edges rows of one product from its current
 * live version (or removes them when none is left). */
static int reindex(sqlite_be_t *s, const char *domain, const char *name, dmp_error_t *err)
{
    sqlite3_stmt *st = stmt(s, S_PROD_GET);
    bind_text(st, 1, domain);
    bind_text(st, 2, name);
    char *id = dmp_asprintf("%s/%s", domain, name);
    int rc = DMP_OK;
    if (sqlite3_step(st) == SQLITE_ROW) {
        sqlite3_int64 pid = sqlite3_column_int64(st, 0);
        static const int dels[] = {S_PROD_DEL, S_FTS_DEL, S_TAG_DEL, S_TYPE_DEL, S_UNIT_DEL};
        for (size_t i = 0; i < sizeof(dels) / sizeof(dels[0]) && rc == DMP_OK; i++) {
            sqlite3_stmt *d = stmt(s, dels[i]);
            sqlite3_bind_int64(d, 1, pid);
            if (sqlite3_step(d) != SQLITE_DONE)
                rc = db_err(s, err, "remove index rows");
        }
    }
    st = stmt(s, S_EDGE_DEL);
    bind_text(st, 1, id);
    if (rc == DMP_OK && sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(s, err, "remove edges");
    json_t *entry = NULL;
    if (rc == DMP_OK) {
        st = stmt(s, S_VER_CUR);
        bind_text(st, 1, domain);
        bind_text(st, 2, name);
        if (sqlite3_step(st) == SQLITE_ROW)
            entry = col_json(st, 0);
    }
    if (rc != DMP_OK || entry == NULL) {
        dmp_free(id);
        json_decref(entry);
        return rc;
    }
    dmp_catalog_index_t ix;
    dmp_catalog_index_build(entry, &ix);
    char *sum = dumps(ix.summary);
    st = stmt(s, S_PROD_INS);
    bind_text(st, 1, domain);
    bind_text(st, 2, name);
    bind_text(st, 3, jstr(entry, "version"));
    bind_text(st, 4, jstr(entry, "id"));
    bind_text(st, 5, jstr(entry, "owner"));
    bind_text(st, 6, sum);
    free(sum);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(s, err, "insert product");
    sqlite3_int64 pid = sqlite3_last_insert_rowid(s->db);
    if (rc == DMP_OK) {
        st = stmt(s, S_FTS_INS);
        sqlite3_bind_int64(st, 1, pid);
        dmp_buf_t *cols[] = {&ix.name,  &ix.description, &ix.tags,      &ix.owner,
                             &ix.ports, &ix.fields,      &ix.field_docs};
        for (int i = 0; i < 7; i++)
            sqlite3_bind_text(st, i + 2, cols[i]->data ? cols[i]->data : "", (int)cols[i]->len,
                              SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_err(s, err, "index product text");
    }
    size_t i;
    json_t *v;
    json_array_foreach(ix.units, i, v)
    {
        if (rc != DMP_OK)
            break;
        static const char *const ucols[] = {"port",  "name",   "description", "tags",
                                            "owner", "ports",  "fields",      "field_docs"};
        st = stmt(s, S_UNIT_INS);
        sqlite3_bind_int64(st, 1, pid);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
        for (int c = 0; c < 8; c++)
            bind_text(st, c + 3, jstr(v, ucols[c]));
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_err(s, err, "index port text");
    }
    json_array_foreach(ix.tag_list, i, v)
    {
        if (rc != DMP_OK)
            break;
        st = stmt(s, S_TAG_INS);
        sqlite3_bind_int64(st, 1, pid);
        bind_text(st, 2, json_string_value(v));
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_err(s, err, "index tags");
    }
    json_array_foreach(ix.type_list, i, v)
    {
        if (rc != DMP_OK)
            break;
        st = stmt(s, S_TYPE_INS);
        sqlite3_bind_int64(st, 1, pid);
        bind_text(st, 2, json_string_value(v));
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_err(s, err, "index types");
    }
    json_array_foreach(ix.edges, i, v)
    {
        if (rc != DMP_OK)
            break;
        /* Store "domain/name" when the reference says it, else the id as written. */
        const char *ref = jstr(v, "product");
        char *parsed = dmp_catalog_ref_parse(ref);
        st = stmt(s, S_EDGE_INS);
        bind_text(st, 1, id);
        bind_text(st, 2, jstr(v, "input"));
        int is_dmp_urn = ref && !strncmp(ref, "urn:dmp:", 8);
        bind_text(st, 3, parsed && !is_dmp_urn ? parsed : ref);
        bind_text(st, 4, jstr(v, "port"));
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_err(s, err, "index edges");
        dmp_free(parsed);
    }
    dmp_catalog_index_fini(&ix);
    json_decref(entry);
    dmp_free(id);
    return rc;
}

static int in_txn(sqlite_be_t *s, int rc, dmp_error_t *err)
{
    if (rc == DMP_OK && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return DMP_OK;
    if (rc == DMP_OK)
        rc = db_err(s, err, "commit");
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int be_put(dmp_catalog_be_t *be, const json_t *e, dmp_error_t *err)
{
    sqlite_be_t *s = (sqlite_be_t *)be;
    int rc = exec(s, "BEGIN IMMEDIATE", err);
    if (rc != DMP_OK)
        return rc;
    sqlite3_stmt *st = stmt(s, S_VER_PUT);
    bind_text(st, 1, jstr(e, "domain"));
    bind_text(st, 2, jstr(e, "name"));
    bind_text(st, 3, jstr(e, "version"));
    sqlite3_bind_int64(st, 4, json_integer_value(json_object_get(e, "major")));
    sqlite3_bind_int64(st, 5, json_integer_value(json_object_get(e, "minor")));
    sqlite3_bind_int64(st, 6, json_integer_value(json_object_get(e, "patch")));
    bind_text(st, 7, jstr(e, "id"));
    bind_text(st, 8, jstr(e, "source"));
    sqlite3_bind_int64(st, 9, dmp_now_ms());
    char *text = dumps(e);
    bind_text(st, 10, text);
    free(text);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(s, err, "store version");
    if (rc == DMP_OK)
        rc = reindex(s, jstr(e, "domain"), jstr(e, "name"), err);
    return in_txn(s, rc, err);
}

static int be_mark_deleted(dmp_catalog_be_t *be, const char *domain, const char *name,
                           const char *version, dmp_error_t *err)
{
    sqlite_be_t *s = (sqlite_be_t *)be;
    int rc = exec(s, "BEGIN IMMEDIATE", err);
    if (rc != DMP_OK)
        return rc;
    sqlite3_stmt *st = stmt(s, S_VER_DEL);
    bind_text(st, 1, domain);
    bind_text(st, 2, name);
    bind_text(st, 3, version);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(s, err, "mark version deleted");
    else if (sqlite3_changes(s->db) == 0)
        rc = DMP_ERR(err, DMP_NOTFOUND, "product %s/%s version %s is not in the catalog", domain,
                     name, version);
    if (rc == DMP_OK)
        rc = reindex(s, domain, name, err);
    return in_txn(s, rc, err);
}

static int be_get(dmp_catalog_be_t *be, const char *domain, const char *name, const char *version,
                  json_t **entry, dmp_error_t *err)
{
    sqlite_be_t *s = (sqlite_be_t *)be;
    *entry = NULL;
    sqlite3_stmt *st = stmt(s, version ? S_VER_GET : S_VER_CUR);
    bind_text(st, 1, domain);
    bind_text(st, 2, name);
    if (version)
        bind_text(st, 3, version);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *entry = col_json(st, 0);
        if (version && sqlite3_column_int(st, 1))
            json_object_set_new(*entry, "deleted", json_true());
    } else if (r != SQLITE_DONE) {
        return db_err(s, err, "read entry");
    }
    if (*entry == NULL) {
        if (version)
            return DMP_ERR(err, DMP_NOTFOUND, "product %s/%s version %s is not in the catalog",
                           domain, name, version);
        return DMP_ERR(err, DMP_NOTFOUND, "product %s/%s is not in the catalog", domain, name);
    }
    return DMP_OK;
}

static int be_versions(dmp_catalog_be_t *be, const char *domain, const char *name, json_t **out,
                       dmp_error_t *err)
{
    sqlite_be_t *s = (sqlite_be_t *)be;
    sqlite3_stmt *st = stmt(s, S_VER_LIST);
    bind_text(st, 1, domain);
    bind_text(st, 2, name);
    json_t *a = json_array();
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        char ts[32];
        dmp_time_format(sqlite3_column_int64(st, 3), ts);
        json_array_append_new(a, json_pack("{s:s?,s:s?,s:s?,s:s,s:b,s:s?}", "version",
                                           col_text(st, 0), "id", col_text(st, 1), "source",
                                           col_text(st, 2), "registered", ts, "deleted",
                                           sqlite3_column_int(st, 4), "status", col_text(st, 5)));
    }
    if (r != SQLITE_DONE) {
        json_decref(a);
        return db_err(s, err, "list versions");
    }
    *out = a;
    return DMP_OK;
}

static char *be_resolve_id(dmp_catalog_be_t *be, const char *urn)
{
    sqlite_be_t *s = (sqlite_be_t *)be;
    sqlite3_stmt *st = stmt(s, S_PROD_URN);
    bind_text(st, 1, urn);
    if (sqlite3_step(st) == SQLITE_ROW)
        return dmp_strdup(col_text(st, 0));
    return NULL;
}

static json_t *be_summary(dmp_catalog_be_t *be, const char *id)
{
    sqlite_be_t *s = (sqlite_be_t *)be;
    const char *slash = strrchr(id, '/');
    if (slash == NULL)
        return NULL;
    sqlite3_stmt *st = stmt(s, S_PROD_SUM);
    sqlite3_bind_text(st, 1, id, (int)(slash - id), SQLITE_TRANSIENT);
    bind_text(st, 2, slash + 1);
    if (sqlite3_step(st) == SQLITE_ROW)
        return col_json(st, 0);
    return NULL;
}

static int read_edges(sqlite_be_t *s, sqlite3_stmt *st, json_t **out, dmp_error_t *err)
{
    json_t *a = json_array();
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(a, json_pack("{s:s?,s:s?,s:s?,s:s?}", "from", col_text(st, 0), "port",
                                           col_text(st, 1), "to", col_text(st, 2), "input",
                                           col_text(st, 3)));
    if (r != SQLITE_DONE) {
        json_decref(a);
        return db_err(s, err, "read edges");
    }
    *out = a;
    return DMP_OK;
}

static int be_edges(dmp_catalog_be_t *be, const char *id, dmp_lineage_dir_t dir, json_t **out,
                    dmp_error_t *err)
{
    sqlite_be_t *s = (sqlite_be_t *)be;
    sqlite3_stmt *st = stmt(s, dir == DMP_LINEAGE_UP ? S_EDGE_UP : S_EDGE_DOWN);
    bind_text(st, 1, id);
    if (dir != DMP_LINEAGE_UP) {
        const char *slash = strrchr(id, '/');
        if (slash == NULL) {
            *out = json_array();
            return DMP_OK;
        }
        sqlite3_bind_text(st, 2, id, (int)(slash - id), SQLITE_TRANSIENT);
        bind_text(st, 3, slash + 1);
    }
    return read_edges(s, st, out, err);
}

static int be_all(dmp_catalog_be_t *be, json_t **sums, json_t **edges, dmp_error_t *err)
{
    sqlite_be_t *s = (sqlite_be_t *)be;
    sqlite3_stmt *st = stmt(s, S_ALL_PROD);
    json_t *a = json_array();
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *v = col_json(st, 0);
        if (v)
            json_array_append_new(a, v);
    }
    if (r != SQLITE_DONE) {
        json_decref(a);
        return db_err(s, err, "list products");
    }
    int rc = read_edges(s, stmt(s, S_ALL_EDGE), edges, err);
    if (rc != DMP_OK) {
        json_decref(a);
        return rc;
    }
    *sums = a;
    return DMP_OK;
}

static int be_search(dmp_catalog_be_t *be, const dmp_catalog_search_args_t *a, json_t **rows,
                     int *more, dmp_error_t *err)
{
    sqlite_be_t *s = (sqlite_be_t *)be;
    *rows = NULL;
    *more = 0;
    /* Stage 1 picks the page's rowids (FTS5 ranks inside its own sorter; filters are
     * added only when given, so the common query stays a plain ranked MATCH). Stage 2
     * reads each row's summary and indexed text by rowid. */
    dmp_buf_t sql = DMP_BUF_INIT;
    const char *pid = a->match ? "fts.rowid" : "p.pid";
    if (a->match)
        dmp_buf_puts(&sql, "SELECT fts.rowid, fts.rank FROM fts WHERE fts MATCH ?1");
    else
        dmp_buf_puts(&sql, "SELECT p.pid, 0 FROM products p WHERE ?1 IS NULL");
    if (a->domain)
        dmp_buf_printf(&sql,
                       " AND EXISTS (SELECT 1 FROM products f WHERE f.pid = %s AND"
                       " (f.domain = ?2 OR substr(f.domain, 1, length(?2) + 1) = ?2 || '.'))",
                       pid);
    if (a->tag)
        dmp_buf_printf(&sql,
                       " AND EXISTS (SELECT 1 FROM product_tags t WHERE t.tag = ?3 AND"
                       " t.pid = %s)",
                       pid);
    if (a->owner)
        dmp_buf_printf(&sql,
                       " AND EXISTS (SELECT 1 FROM products f WHERE f.pid = %s AND"
                       " f.owner = ?4)",
                       pid);
    if (a->type)
        dmp_buf_printf(&sql,
                       " AND EXISTS (SELECT 1 FROM product_types t WHERE t.type = ?5 AND"
                       " t.pid = %s)",
                       pid);
    dmp_buf_puts(&sql, a->match ? " ORDER BY fts.rank, fts.rowid" : " ORDER BY p.domain, p.name");
    dmp_buf_puts(&sql, " LIMIT ?6 OFFSET ?7");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql.data, (int)sql.len, &st, NULL) != SQLITE_OK) {
        dmp_buf_free(&sql);
        return db_err(s, err, "prepare search");
    }
    dmp_buf_free(&sql);
    bind_text(st, 1, a->match);
    bind_text(st, 2, a->domain);
    bind_text(st, 3, a->tag);
    bind_text(st, 4, a->owner);
    bind_text(st, 5, a->type);
    sqlite3_bind_int(st, 6, a->limit + 1);
    sqlite3_bind_int64(st, 7, a->offset);
    json_t *out = json_array();
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if ((int)json_array_size(out) == a->limit) {
            *more = 1;
            break;
        }
        /* bm25 is negative, lower is better; report a positive score. */
        json_array_append_new(out,
                              json_pack("{s:I,s:f}", "pid", (json_int_t)sqlite3_column_int64(st, 0),
                                        "score", -sqlite3_column_double(st, 1)));
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        int rc = db_err(s, err, "search");
        sqlite3_finalize(st);
        json_decref(out);
        return rc;
    }
    sqlite3_finalize(st);
    static const char *const cols[] = {"name",  "description", "tags",      "owner",
                                       "ports", "fields",      "field_docs"};
    size_t i;
    json_t *row;
    json_array_foreach(out, i, row)
    {
        sqlite3_int64 id = json_integer_value(json_object_get(row, "pid"));
        sqlite3_stmt *q = stmt(s, S_PROD_BY_PID);
        sqlite3_bind_int64(q, 1, id);
        json_t *sum = sqlite3_step(q) == SQLITE_ROW ? col_json(q, 0) : NULL;
        json_object_set_new(row, "summary", sum ? sum : json_object());
        if (a->match) {
            sqlite3_stmt *h = stmt(s, S_HIGHLIGHT);
            sqlite3_bind_int64(h, 1, id);
            json_t *texts = json_object();
            if (sqlite3_step(h) == SQLITE_ROW)
                for (int c = 0; c < 7; c++)
                    json_object_set_new(texts, cols[c],
                                        json_string(col_text(h, c) ? col_text(h, c) : ""));
            json_object_set_new(row, "texts", texts);
        }
        if (a->with_units) {
            static const char *const ucols[] = {"port",  "name",  "description", "tags",
                                                "owner", "ports", "fields",      "field_docs"};
            sqlite3_stmt *u = stmt(s, S_UNIT_GET);
            sqlite3_bind_int64(u, 1, id);
            json_t *units = json_array();
            while (sqlite3_step(u) == SQLITE_ROW) {
                json_t *o = json_object();
                for (int c = 0; c < 8; c++)
                    if (col_text(u, c) != NULL)
                        json_object_set_new(o, ucols[c], json_string(col_text(u, c)));
                json_array_append_new(units, o);
            }
            json_object_set_new(row, "units", units);
        }
    }
    *rows = out;
    return DMP_OK;
}

static void be_close(dmp_catalog_be_t *be)
{
    sqlite_be_t *s = (sqlite_be_t *)be;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    dmp_free(s);
}

#define CATALOG_FORMAT 2 /* PRAGMA user_version: 2 = units table, access facts in summaries */

/* Brings a file written by an older dmp up to CATALOG_FORMAT by re-indexing every
 * product from its stored versions (once). A new file is stamped. */
static int upgrade(sqlite_be_t *s, int existed, dmp_error_t *err)
{
    sqlite3_stmt *st = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version >= CATALOG_FORMAT)
        return DMP_OK;
    int rc = exec(s, "BEGIN IMMEDIATE", err);
    if (rc != DMP_OK)
        return rc;
    if (existed) {
        json_t *ids = json_array();
        st = NULL;
        if (sqlite3_prepare_v2(s->db, "SELECT DISTINCT domain, name FROM versions", -1, &st,
                               NULL) != SQLITE_OK) {
            rc = db_err(s, err, "upgrade");
        } else {
            while (sqlite3_step(st) == SQLITE_ROW)
                json_array_append_new(ids, json_pack("[s?,s?]", col_text(st, 0), col_text(st, 1)));
        }
        sqlite3_finalize(st);
        size_t i;
        json_t *v;
        json_array_foreach(ids, i, v)
        {
            if (rc != DMP_OK)
                break;
            rc = reindex(s, json_string_value(json_array_get(v, 0)),
                         json_string_value(json_array_get(v, 1)), err);
        }
        json_decref(ids);
    }
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", CATALOG_FORMAT);
    if (rc == DMP_OK)
        rc = exec(s, sql, err);
    return in_txn(s, rc, err);
}

static const dmp_catalog_ops_t sqlite_ops = {
    .version = DMP_CATALOG_OPS_V1,
    .name = "sqlite",
    .close = be_close,
    .put = be_put,
    .mark_deleted = be_mark_deleted,
    .get = be_get,
    .versions = be_versions,
    .resolve_id = be_resolve_id,
    .search = be_search,
    .summary = be_summary,
    .edges = be_edges,
    .all = be_all,
};

int dmp_catalog_sqlite_open(const char *path, dmp_catalog_be_t **out, dmp_error_t *err)
{
    *out = NULL;
    sqlite_be_t *s = dmp_calloc(1, sizeof(*s));
    s->base.ops = &sqlite_ops;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = DMP_OK;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        rc = DMP_ERR(err, DMP_IO, "cannot open catalog %s: %s", path,
                     s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (register_rank(s->db) != 0) {
        rc = DMP_ERR(err, DMP_IO, "catalog %s: this SQLite has no usable FTS5", path);
        goto fail;
    }
    if ((rc = exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", err)) != DMP_OK)
        goto fail;
    /* Create the schema once; the rank setting is an insert, so guard it. */
    sqlite3_stmt *chk = NULL;
    int have = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master WHERE name='fts'", -1, &chk, NULL) ==
            SQLITE_OK &&
        sqlite3_step(chk) == SQLITE_ROW)
        have = 1;
    sqlite3_finalize(chk);
    /* schema_sql is all CREATE ... IF NOT EXISTS: an older file gains the new tables. */
    if ((rc = exec(s, schema_sql, err)) != DMP_OK || (rc = exec(s, rank_sql, err)) != DMP_OK) {
        dmp_error_path(err, "%s", path);
        goto fail;
    }
    for (int i = 0; i < S_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            rc = db_err(s, err, "prepare");
            goto fail;
        }
    }
    if ((rc = upgrade(s, have, err)) != DMP_OK) {
        dmp_error_path(err, "%s", path);
        goto fail;
    }
    *out = &s->base;
    return DMP_OK;
fail:
    be_close(&s->base);
    return rc;
}
