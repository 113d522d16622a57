/* schema.h -- JSON parsing into a read-only document, and JSON Schema 2020-12 validation.
 *
 * Two layers:
 *   1. dmp_json_*: a strict RFC 8259 parser (UTF-8 checked, depth and size limits) that
 *      builds a flat, read-only document with a small traversal API. The ingest path parses
 *      an event body once with it and validates the same document.
 *   2. dmp_schema_*: a schema is compiled once into an immutable program (dmp_schema_t) that
 *      many threads may use at once. Per-call state lives in a caller-owned dmp_schema_ctx_t,
 *      reused across calls (one per thread) so validation allocates nothing in steady state.
 *
 * Also here: a registry of schemas keyed by URI (for $ref across schemas) and the
 * compatibility checker (BACKWARD / FORWARD / FULL and their transitive forms).
 * docs/schema.md describes the engine, its limits and its error format.
 */
#ifndef DMP_SCHEMA_H
#define DMP_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "dmp/core.h"

struct json_t; /* jansson's value type, for dmp_schema_validate_jansson */

/* ------------------------------------------------------------------------------------------
 * JSON documents
 * ---------------------------------------------------------------------------------------- */

typedef enum {
    DMP_JSON_NULL = 0,
    DMP_JSON_FALSE,
    DMP_JSON_TRUE,
    DMP_JSON_NUMBER,
    DMP_JSON_STRING,
    DMP_JSON_ARRAY,
    DMP_JSON_OBJECT
} dmp_json_type_t;

typedef struct dmp_json_doc dmp_json_doc_t;   /* a parsed document; owns its values */
typedef struct dmp_json_node dmp_json_node_t; /* one value inside a document (borrowed) */

typedef struct dmp_json_limits {
    size_t max_bytes;   /* refuse longer input; 0 = 64 MiB */
    unsigned max_depth; /* refuse deeper nesting; 0 = 512 */
} dmp_json_limits_t;

/* A new empty document to parse into repeatedly (memory is reused between parses). */
DMP_EXPORT dmp_json_doc_t *dmp_json_doc_new(void);
DMP_EXPORT void dmp_json_doc_free(dmp_json_doc_t *doc);

/* Parses buf[0..len) into 'doc', replacing what it held. The document copies what it needs,
 * so 'buf' may be freed afterwards. Errors: DMP_PARSE (err->where = "line:col", err->msg
 * names the problem), DMP_LIMIT (size or depth). 'limits' may be NULL. */
DMP_EXPORT int dmp_json_parse_into(dmp_json_doc_t *doc, const char *buf, size_t len,
                                   const dmp_json_limits_t *limits, dmp_error_t *err);
/* Convenience: a new document in *out (free with dmp_json_doc_free); *out is NULL on error. */
DMP_EXPORT int dmp_json_parse(const char *buf, size_t len, const dmp_json_limits_t *limits,
                              dmp_json_doc_t **out, dmp_error_t *err);

/* Traversal. Nodes are borrowed from the document: valid until it is re-parsed or freed. */
DMP_EXPORT const dmp_json_node_t *dmp_json_root(const dmp_json_doc_t *doc);
DMP_EXPORT dmp_json_type_t dmp_json_type(const dmp_json_node_t *n);
DMP_EXPORT double dmp_json_number(const dmp_json_node_t *n); /* 0 for non-numbers */
/* 1 when the number is written without fraction or exponent and fits an int64. */
DMP_EXPORT int dmp_json_is_int64(const dmp_json_node_t *n, int64_t *out);
/* Decoded UTF-8 string (NUL-terminated; may hold NUL bytes, so use *len). NULL if not a
 * string. */
DMP_EXPORT const char *dmp_json_string(const dmp_json_node_t *n, size_t *len);
/* Elements of an array or members of an object; 0 for scalars. */
DMP_EXPORT size_t dmp_json_size(const dmp_json_node_t *n);
/* Iteration: for arrays dmp_json_first gives the first element; for objects it gives the
 * first member's key (a string node) and dmp_json_next(key) is that member's value.
 * dmp_json_next gives the node after 'n' (skipping its subtree) inside the same parent,
 * or NULL at the end. */
DMP_EXPORT const dmp_json_node_t *dmp_json_first(const dmp_json_node_t *n);
DMP_EXPORT const dmp_json_node_t *dmp_json_next(const dmp_json_node_t *parent,
                                                const dmp_json_node_t *n);
/* Object member lookup; NULL when absent (the last one wins for duplicate keys). */
DMP_EXPORT const dmp_json_node_t *dmp_json_get(const dmp_json_node_t *obj, const char *key,
                                               size_t keylen);
/* Array element by index; NULL when out of range. O(n). */
DMP_EXPORT const dmp_json_node_t *dmp_json_at(const dmp_json_node_t *arr, size_t i);
/* Appends 'n' as compact JSON to 'out'. */
DMP_EXPORT void dmp_json_dump(const dmp_json_node_t *n, dmp_buf_t *out);

/* ------------------------------------------------------------------------------------------
 * Schema registry: documents known by URI, so "$ref": "urn:dmp:orders#/$defs/line" works.
 * Not thread-safe while being filled; read-only (and shareable) once compilation starts.
 * ---------------------------------------------------------------------------------------- */

typedef struct dmp_schema_registry dmp_schema_registry_t;

DMP_EXPORT dmp_schema_registry_t *dmp_schema_registry_new(void);
DMP_EXPORT void dmp_schema_registry_free(dmp_schema_registry_t *reg);
/* Registers the schema in json[0..len) under 'uri' (absolute, without fragment). The
 * registry copies the text. DMP_PARSE if it is not JSON; DMP_CONFLICT if 'uri' is taken. */
DMP_EXPORT int dmp_schema_registry_add(dmp_schema_registry_t *reg, const char *uri,
                                       const char *json, size_t len, dmp_error_t *err);

/* ------------------------------------------------------------------------------------------
 * Compilation
 * ---------------------------------------------------------------------------------------- */

typedef struct dmp_schema dmp_schema_t;

/* Called for a referenced URI found neither in the schema nor in the registry. Return
 * DMP_OK with *json (dmp_malloc'd, the compiler frees it) and *len, or an error status. */
typedef int (*dmp_schema_loader_fn)(void *ud, const char *uri, char **json, size_t *len);

typedef struct dmp_schema_opts {
    size_t max_schema_bytes;     /* 0 = 4 MiB */
    unsigned max_schema_depth;   /* JSON nesting of the schema; 0 = 256 */
    size_t max_instance_bytes;   /* 0 = 16 MiB */
    unsigned max_instance_depth; /* JSON nesting of instances; 0 = 256 */
    unsigned format_assert;      /* 1: "format" is an assertion; 0 (default): annotation */
    uint32_t regex_match_limit;  /* PCRE2 match limit per match; 0 = 200000 */
    const char *base_uri;        /* base URI of the root when it has no $id; NULL: none */
    const dmp_schema_registry_t *registry; /* borrowed during compilation only; may be NULL */
    dmp_schema_loader_fn loader;           /* may be NULL */
    void *loader_ud;
    uint64_t max_eval_steps; /* subschema evaluations per validation; 0 = 10 million */
} dmp_schema_opts_t;

/* Compiles json[0..len). On success *out owns the schema (free with dmp_schema_free); it
 * keeps no pointer to 'json', 'opts' or the registry. Errors: DMP_PARSE (not JSON),
 * DMP_LIMIT, DMP_INVALID (not a usable schema: bad keyword value, regex that does not
 * compile, unresolvable $ref), with err->where = the schema location (JSON pointer). */
DMP_EXPORT int dmp_schema_compile(const char *json, size_t len, const dmp_schema_opts_t *opts,
                                  dmp_schema_t **out, dmp_error_t *err);
DMP_EXPORT void dmp_schema_free(dmp_schema_t *s);

/* ------------------------------------------------------------------------------------------
 * Validation
 * ---------------------------------------------------------------------------------------- */

typedef struct dmp_schema_ctx dmp_schema_ctx_t;

/* Per-thread validation state (parse buffer, scratch, regex match data, error list).
 * One context serves any number of schemas, one call at a time. */
DMP_EXPORT dmp_schema_ctx_t *dmp_schema_ctx_new(void);
DMP_EXPORT void dmp_schema_ctx_free(dmp_schema_ctx_t *ctx);

enum {
    DMP_SCHEMA_FAIL_FAST = 0,  /* stop at the first error (the hot path) */
    DMP_SCHEMA_ALL_ERRORS = 1, /* collect every error */
};

/* Parses json[0..len) (within the schema's instance limits) and validates it.
 * Returns DMP_OK when valid; DMP_SCHEMA when invalid (err: where = instance pointer,
 * msg = the first error's sentence; the full list via dmp_schema_ctx_error); DMP_PARSE or
 * DMP_LIMIT when the bytes are not acceptable JSON; DMP_LIMIT also when a regex hits its
 * match limit, references loop without consuming the instance, or the evaluation step budget
 * runs out (the document is then treated as invalid). */
DMP_EXPORT int dmp_schema_validate(const dmp_schema_t *s, dmp_schema_ctx_t *ctx, const char *json,
                                   size_t len, int flags, dmp_error_t *err);
/* Validates an already-parsed value (e.g. an event body parsed once by the ingest path). */
DMP_EXPORT int dmp_schema_validate_node(const dmp_schema_t *s, dmp_schema_ctx_t *ctx,
                                        const dmp_json_node_t *value, int flags, dmp_error_t *err);
/* Validates a jansson value (serialised and re-parsed: for non-hot paths). */
DMP_EXPORT int dmp_schema_validate_jansson(const dmp_schema_t *s, dmp_schema_ctx_t *ctx,
                                           const struct json_t *value, int flags, dmp_error_t *err);

/* Error records. A fail-fast call made with err == NULL only computes the verdict (fastest);
 * asking for its errors afterwards re-runs it on the same instance to build them, so the
 * instance (the document given to dmp_schema_validate_node) must still be alive then. */

/* One validation error. Strings are borrowed from the context: valid until its next call. */
typedef struct dmp_schema_error {
    const char *instance_location; /* JSON pointer into the instance: "/items/0/sku" */
    const char *keyword_location;  /* JSON pointer into the schema: "/properties/Age/maximum" */
    const char *absolute_location; /* absolute URI of the keyword, when the schema has one */
    const char *keyword;           /* "exclusiveMaximum" */
    const char *message;           /* "/Age: 140 is not less than 130 (exclusiveMaximum)" */
} dmp_schema_error_t;

DMP_EXPORT size_t dmp_schema_ctx_error_count(const dmp_schema_ctx_t *ctx);
DMP_EXPORT const dmp_schema_error_t *dmp_schema_ctx_error(const dmp_schema_ctx_t *ctx, size_t i);
/* Appends the last result in the spec's "basic" output format (JSON) to 'out'. */
DMP_EXPORT void dmp_schema_ctx_basic_output(const dmp_schema_ctx_t *ctx, dmp_buf_t *out);

/* ------------------------------------------------------------------------------------------
 * Compatibility (Confluent's modes). "old" is the registered version, "new" the candidate.
 *   BACKWARD: the new schema accepts every document the old one accepted;
 *   FORWARD:  the old schema accepts every document the new one accepts;
 *   FULL:     both. The _TRANSITIVE forms check against every earlier version.
 * ---------------------------------------------------------------------------------------- */

typedef enum {
    DMP_COMPAT_NONE = 0,
    DMP_COMPAT_BACKWARD,
    DMP_COMPAT_FORWARD,
    DMP_COMPAT_FULL,
    DMP_COMPAT_BACKWARD_TRANSITIVE,
    DMP_COMPAT_FORWARD_TRANSITIVE,
    DMP_COMPAT_FULL_TRANSITIVE
} dmp_compat_mode_t;

/* Parses "backward", "FULL_TRANSITIVE", ... (case-insensitive); -1 when unknown. */
DMP_EXPORT int dmp_compat_mode_parse(const char *s);
DMP_EXPORT const char *dmp_compat_mode_name(dmp_compat_mode_t mode);

typedef struct dmp_compat_change {
    char *location; /* JSON pointer in the schema: "/properties/items/items/properties/sku" */
    char *kind;     /* stable word: "required-added", "type-narrowed", ... */
    char *message;  /* one sentence */
    int direction;  /* DMP_COMPAT_BACKWARD or DMP_COMPAT_FORWARD: which reading it breaks */
    size_t version; /* index of the older version compared against (transitive checks) */
} dmp_compat_change_t;

typedef struct dmp_compat_report {
    int compatible; /* 1 when no breaking change was found for the mode */
    size_t n_changes;
    dmp_compat_change_t *changes; /* owned; release with dmp_compat_report_fini */
} dmp_compat_report_t;

/* Compares two schemas (JSON text). Returns DMP_OK with 'out' filled (zero it first), or
 * DMP_PARSE / DMP_INVALID when a schema cannot be read. */
DMP_EXPORT int dmp_schema_compat(const char *old_json, size_t old_len, const char *new_json,
                                 size_t new_len, dmp_compat_mode_t mode, dmp_compat_report_t *out,
                                 dmp_error_t *err);
/* versions[0..n) oldest first; the last one is the candidate. Non-transitive modes compare
 * it with versions[n-2] only; transitive modes with every earlier version. */
DMP_EXPORT int dmp_schema_compat_versions(const char *const *versions, const size_t *lens, size_t n,
                                          dmp_compat_mode_t mode, dmp_compat_report_t *out,
                                          dmp_error_t *err);
DMP_EXPORT void dmp_compat_report_fini(dmp_compat_report_t *r);

#endif
