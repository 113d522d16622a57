/* catalog.h -- the registry of data products (DESIGN 3B, 3D, 3E): every applied or
 * registered product version with its ports, schemas, SLOs and input ports; full-text
 * search; the lineage and topology graph formed by input ports; AsyncAPI 3.0 and
 * OpenAPI 3.1 exports.
 *
 * The embedded default keeps the catalog in its own SQLite file with an FTS5 index
 * (src/catalog/catalog_sqlite.c). Storage goes through a small function table
 * (catalog_int.h) so another database can back it later; everything else here
 * (entry building, query escaping, graph walks, exports) is backend-neutral.
 *
 * A dmp_catalog_t is thread-safe: HTTP worker threads call it concurrently. Results
 * cross this API as jansson values the caller owns (json_decref).
 *
 * The catalog stores no principals and makes no access decisions: the HTTP layer
 * (src/http/h_catalog.c) decides with auth.h who may read a product and which of its
 * ports, and passes per-port checks into search (dmp_catalog_query_t.port_readable).
 */
#ifndef DMP_CATALOG_H
#define DMP_CATALOG_H

#include <jansson.h>

#include "dmp/core.h"
#include "dmp/descriptor.h"

typedef struct dmp_catalog dmp_catalog_t;

/* Limits on what callers may ask for; larger values are capped, not refused. */
#define DMP_CATALOG_MAX_QUERY_BYTES 256 /* longer search strings are cut here */
#define DMP_CATALOG_MAX_TERMS 16        /* further search terms are ignored */
#define DMP_CATALOG_MAX_PAGE 100        /* results per page */
#define DMP_CATALOG_MAX_DEPTH 32        /* lineage depth */
#define DMP_CATALOG_MAX_NODES 5000      /* lineage nodes in one answer */

/* Opens or creates the catalog. 'url' is "sqlite:PATH" or a plain path. *out owns the
 * handle (dmp_catalog_close). */
DMP_EXPORT int dmp_catalog_open(const char *url, dmp_catalog_t **out, dmp_error_t *err);
DMP_EXPORT void dmp_catalog_close(dmp_catalog_t *cat);

/* Records a product version from its parsed descriptor. 'source' says how it came:
 * "apply" (provisioned) or "register" (brownfield, nothing provisioned). Re-registering
 * the same version replaces it; the product's current entry follows its highest
 * version. */
DMP_EXPORT int dmp_catalog_register(dmp_catalog_t *cat, const dmp_descriptor_t *desc,
                                    const char *source, dmp_error_t *err);

/* Marks a version deleted (kept in the history with "deleted": true). When no live
 * version remains, the product leaves search, lineage and topology. DMP_NOTFOUND when
 * the version was never catalogued. */
DMP_EXPORT int dmp_catalog_mark_deleted(dmp_catalog_t *cat, const char *domain, const char *name,
                                        const char *version, dmp_error_t *err);

/* Checks a descriptor's input ports before it is applied: each must name a
 * catalogued product (domain/name or URN) with that output port, readable by this
 * product (public; protected and granted by allow[] to its domain, name, URN or
 * owner; private and the same owner). DMP_NOTFOUND or DMP_DENIED naming the input. */
DMP_EXPORT int dmp_catalog_check_inputs(dmp_catalog_t *cat, const dmp_descriptor_t *desc,
                                        dmp_error_t *err);

typedef struct dmp_catalog_query {
    const char *q;      /* free text; NULL or "" lists everything (filters still apply) */
    const char *domain; /* exact domain, or a parent: "london" matches "london.x.y" */
    const char *tag;    /* product or port tag */
    const char *owner;  /* product owner */
    const char *type;   /* an output port type: stream, table, files ... */
    const char *cursor; /* from a previous reply's "next"; NULL for the first page */
    int limit;          /* 0 = 20; capped at DMP_CATALOG_MAX_PAGE */
    /* Per-port access. NULL: the caller may read every port (admins, owners' local
     * tools). Otherwise it is asked with a result's summary (its ports carry name, type,
     * visibility, owner, allow and tags) and a port name, or NULL for the product as a
     * whole, and returns 1 when the caller may read it. Then a product is listed only
     * when readable as a whole; free text counts only where it occurs in the product's
     * own text (name, domain, description, tags, owner) or in a port the caller may
     * read; 'tag' and 'type' must hold for the product or a readable port; a result
     * lists (and "matched" names) only readable ports. */
    int (*port_readable)(void *ud, const json_t *summary, const char *port);
    void *port_ud;
} dmp_catalog_query_t;

/* {"results": [{"id","domain","name","version","description","owner","tags","ports",
 *   "score","matched": ["name", "schema:customer_id", ...]}], "next": "20"|null}
 * With q->port_readable, hits the caller may not see are skipped and further rows are
 * read (a bounded number of rounds) to fill the page; "next" is where the next page
 * starts in the ranking.
 * Free text is split into terms; each is quoted for FTS5 (so operators and quotes are
 * plain text) and matched as a prefix; all terms must match. DMP_INVALID for a bad
 * cursor. */
DMP_EXPORT int dmp_catalog_search(dmp_catalog_t *cat, const dmp_catalog_query_t *q, json_t **out,
                                  dmp_error_t *err);

/* The current entry of a product: {"id","domain","name","version","owner","description",
 * "status","tags","state","source","ports":[{"name","type","visibility","owner",
 * "description","tags","schema","slo","retention","allow"}],"inputs":[...],
 * "versions":[...]}. version NULL = the latest live one. DMP_NOTFOUND when unknown
 * (or invisible to the caller). */
DMP_EXPORT int dmp_catalog_get(dmp_catalog_t *cat, const char *domain, const char *name,
                               const char *version, json_t **out, dmp_error_t *err);

/* The current live entry alone (no "versions"): what access checks read the ACL fields
 * from, cheaply. */
DMP_EXPORT int dmp_catalog_current(dmp_catalog_t *cat, const char *domain, const char *name,
                                   json_t **out, dmp_error_t *err);

/* [{"version","id","registered","source","deleted","status"}], newest first. */
DMP_EXPORT int dmp_catalog_versions(dmp_catalog_t *cat, const char *domain, const char *name,
                                    json_t **out, dmp_error_t *err);

typedef enum { DMP_LINEAGE_UP = 1, DMP_LINEAGE_DOWN = 2, DMP_LINEAGE_BOTH = 3 } dmp_lineage_dir_t;

/* Walks the graph from a product: up = its producers, down = its consumers. depth is
 * capped at DMP_CATALOG_MAX_DEPTH (<= 0 means 3). Each node and edge appears once, so
 * cycles are shown and never looped on:
 * {"root","direction","depth","nodes":[{"id","domain","name","version","owner",
 *  "ports","level","missing"?}],"edges":[{"from","port","to","input"}],"truncated"} */
DMP_EXPORT int dmp_catalog_lineage(dmp_catalog_t *cat, const char *domain, const char *name,
                                   dmp_lineage_dir_t dir, int depth, json_t **out,
                                   dmp_error_t *err);

/* The whole mesh: {"domains":[{"name","products":[ids]}],"nodes":[...],"edges":[...]} */
DMP_EXPORT int dmp_catalog_topology(dmp_catalog_t *cat, json_t **out, dmp_error_t *err);

/* Lineage JSON (as returned above) as a Graphviz DOT digraph (caller frees). */
DMP_EXPORT char *dmp_catalog_lineage_dot(const json_t *lineage);

/* Where consumers reach the platform, for exports and "how to consume" snippets. */
typedef struct dmp_catalog_export_opts {
    const char *base_url; /* "http://127.0.0.1:8181" */
} dmp_catalog_export_opts_t;

/* AsyncAPI 3.0 document for a product's stream ports: one channel per stream port,
 * named as the channel interface names it (dmp_catalog_channel_name), messages whose
 * payload is the port schema converted to JSON Schema draft-07 and declared with a
 * Multi Format Schema Object, and the server. */
DMP_EXPORT int dmp_catalog_asyncapi(dmp_catalog_t *cat, const char *domain, const char *name,
                                    const dmp_catalog_export_opts_t *opts, json_t **out,
                                    dmp_error_t *err);
/* OpenAPI 3.1 document for a product's HTTP endpoints (ingest, read, subscribe per port). */
DMP_EXPORT int dmp_catalog_openapi(dmp_catalog_t *cat, const char *domain, const char *name,
                                   const dmp_catalog_export_opts_t *opts, json_t **out,
                                   dmp_error_t *err);

/* The channel a stream port's events travel on, as channel.h's dmp_channel_name() names
 * it ("london.hammersmith.olympia.visitors._public.entries"); caller frees. */
DMP_EXPORT char *dmp_catalog_channel_name(const char *id, const char *domain, const char *name,
                                          const char *visibility, const char *port);

/* A JSON Schema 2020-12 document converted to draft-07 (new reference): $defs become
 * definitions (and refs follow), prefixItems become an items array, $schema goes. */
DMP_EXPORT json_t *dmp_catalog_schema_draft07(const json_t *schema);

/* The FTS5 MATCH expression for free text (caller frees); NULL when the text has no
 * term. Exposed for tests. */
DMP_EXPORT char *dmp_catalog_fts_query(const char *text);

#endif
