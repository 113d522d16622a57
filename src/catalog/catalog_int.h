/* catalog_int.h -- private to src/catalog/: the catalog's storage function table and
 * the index fields the generic layer derives from an entry. A backend stores entries
 * (one JSON document per product version) and answers the few indexed questions the
 * generic layer (catalog.c) cannot answer itself. Calls are serialised by catalog.c's
 * mutex, so a backend needs no locking of its own. */
#ifndef DMP_CATALOG_INT_H
#define DMP_CATALOG_INT_H

#include "dmp/catalog.h"

/* What search indexes of a product's current version (all owned by the struct). */
typedef struct dmp_catalog_index {
    dmp_buf_t name;        /* name and domain */
    dmp_buf_t description; /* product and port descriptions */
    dmp_buf_t tags;        /* product and port tags */
    dmp_buf_t owner;       /* product and port owners */
    dmp_buf_t ports;       /* port names and types */
    dmp_buf_t fields;      /* schema property names (all levels) */
    dmp_buf_t field_docs;  /* schema titles and descriptions */
    json_t *tag_list;      /* ["events", ...] distinct */
    json_t *type_list;     /* ["stream", ...] distinct */
    json_t *summary;       /* {"id","domain","name","version","owner","description","tags",
                              "ports":[{"name","type","visibility"}]} */
    json_t *edges;         /* [{"input","product","port"}] as declared */
    json_t *units;         /* the same text split by who may read it: [{"port": null (the
                              product's own text) | port name, "name","description","tags",
                              "owner","ports","fields","field_docs"}], product first, then
                              the ports in order */
} dmp_catalog_index_t;

void dmp_catalog_index_build(const json_t *entry, dmp_catalog_index_t *ix);
void dmp_catalog_index_fini(dmp_catalog_index_t *ix);

/* "domain/name" of an input's product reference ("d/n" or a URN). The URN form
 * urn:dmp:<domain>:<name>:<major> is parsed; other ids go through the backend. */
char *dmp_catalog_ref_parse(const char *ref);

typedef struct dmp_catalog_be dmp_catalog_be_t;

typedef struct dmp_catalog_search_args {
    const char *match; /* FTS expression or NULL */
    const char *domain, *tag, *owner, *type;
    long offset;
    int limit;
    int with_units; /* free text: add each row's "units" (as dmp_catalog_index_t.units) */
} dmp_catalog_search_args_t;

#define DMP_CATALOG_OPS_V1 1
typedef struct dmp_catalog_ops {
    int version;
    const char *name;
    void (*close)(dmp_catalog_be_t *be);
    /* Stores one version's entry (replacing it) and re-indexes the product. */
    int (*put)(dmp_catalog_be_t *be, const json_t *entry, dmp_error_t *err);
    int (*mark_deleted)(dmp_catalog_be_t *be, const char *domain, const char *name,
                        const char *version, dmp_error_t *err);
    /* Entry of a version (NULL = the current live one). DMP_NOTFOUND when absent. */
    int (*get)(dmp_catalog_be_t *be, const char *domain, const char *name, const char *version,
               json_t **entry, dmp_error_t *err);
    int (*versions)(dmp_catalog_be_t *be, const char *domain, const char *name, json_t **out,
                    dmp_error_t *err);
    /* "domain/name" of the live product whose id is 'urn', or NULL. */
    char *(*resolve_id)(dmp_catalog_be_t *be, const char *urn);
    /* Results: [{"summary":{...},"score":x,"texts":{"name","description","tags","owner",
     * "ports","fields","field_docs"}}] ("texts" only for free-text queries: the indexed
     * text, from which catalog.c says why each matched; "units" too when a->with_units);
     * *more when a row follows. */
    int (*search)(dmp_catalog_be_t *be, const dmp_catalog_search_args_t *a, json_t **rows,
                  int *more, dmp_error_t *err);
    /* Summary of a live product, or NULL. */
    json_t *(*summary)(dmp_catalog_be_t *be, const char *id);
    /* Edges touching 'id' (consumer == id for up, producer == id for down):
     * [{"from","port","to","input"}] */
    int (*edges)(dmp_catalog_be_t *be, const char *id, dmp_lineage_dir_t dir, json_t **out,
                 dmp_error_t *err);
    /* Every live product's summary and every edge. */
    int (*all)(dmp_catalog_be_t *be, json_t **summaries, json_t **edges, dmp_error_t *err);
} dmp_catalog_ops_t;

struct dmp_catalog_be {
    const dmp_catalog_ops_t *ops; /* MUST BE FIRST in every backend */
};

int dmp_catalog_sqlite_open(const char *path, dmp_catalog_be_t **out, dmp_error_t *err);

#endif
