/* descriptor.h -- the data product descriptor: parsing (YAML or JSON) into a typed
 * model, with positions for every node so errors can say file:line:col.
 *
 * The model follows DESIGN section 4. It owns all its strings and JSON values;
 * release it with dmp_descriptor_free(). A descriptor is immutable once parsed and
 * may be shared between threads for reading.
 */
#ifndef DMP_DESCRIPTOR_H
#define DMP_DESCRIPTOR_H

#include <jansson.h>

#include "dmp/core.h"

typedef struct dmp_loc {
    int line; /* 1-based; 0 when unknown */
    int col;  /* 1-based */
} dmp_loc_t;

typedef struct dmp_strv {
    char **v;
    size_t n;
} dmp_strv_t;

typedef enum {
    DMP_VIS_UNSET = 0,
    DMP_VIS_PUBLIC,
    DMP_VIS_PROTECTED,
    DMP_VIS_PRIVATE,
} dmp_visibility_t;

DMP_EXPORT const char *dmp_visibility_name(dmp_visibility_t v); /* "public", ... "" */

/* A resource is anything the platform provisions: an output port, a workload or an
 * observability entry (DESIGN 3A splits a descriptor into one request per resource). */
typedef enum {
    DMP_RES_OUTPUT = 0,
    DMP_RES_WORKLOAD,
    DMP_RES_OBSERVABILITY,
} dmp_resource_kind_t;

DMP_EXPORT const char *dmp_resource_kind_name(dmp_resource_kind_t k); /* "outputPorts", ... */

typedef struct dmp_resource {
    dmp_resource_kind_t kind;
    char *name;
    char *type;       /* "stream", "table", "files", "raw", ...; `resourceType` is an alias */
    char *technology; /* NULL when not declared: the platform picks the default for `type` */
    dmp_visibility_t visibility; /* as declared; DMP_VIS_UNSET when absent */
    char *owner;
    char *description;
    dmp_strv_t allow;
    dmp_strv_t depends_on;
    dmp_strv_t tags;
    json_t *specific;    /* object, never NULL (empty when absent) */
    json_t *schema;      /* inline schema, or the loaded file's content; NULL when none */
    char *schema_file;   /* the relative path as written, when the schema came from a file */
    json_t *slo;         /* object or NULL */
    json_t *retention;   /* as declared ({"time": "7d", "size": "1GiB"}) or NULL */
    int64_t retention_ms;    /* parsed from retention.time; 0 = unlimited */
    int64_t retention_bytes; /* parsed from retention.size; 0 = unlimited */
    json_t *raw;         /* the resource exactly as declared (after alias folding) */
    char pointer[64];    /* JSON pointer, "/outputPorts/0" */
    dmp_loc_t loc;
} dmp_resource_t;

typedef struct dmp_input_port {
    char *name;
    char *product; /* "domain/name" or a URN */
    char *port;
    char *filter;  /* CESQL, or NULL */
    char pointer[64];
    dmp_loc_t loc;
} dmp_input_port_t;

typedef struct dmp_descriptor {
    char *name;
    char *domain;  /* dot path, "london.hammersmith.olympia" */
    char *version; /* semver */
    int major, minor, patch;
    char *id;      /* as declared, or derived: urn:dmp:<domain>:<name>:<major> */
    char *owner;
    char *description;
    char *status;
    dmp_strv_t tags;
    char *environment;         /* environment.name, or a plain string; "default" when absent */
    json_t *environment_specific;

    dmp_resource_t *resources; /* output ports, then workloads, then observability */
    size_t n_resources;
    dmp_input_port_t *inputs;
    size_t n_inputs;

    json_t *doc;  /* the whole descriptor as JSON, after alias folding; owned */
    char *source; /* the name used in messages ("product.yaml", "<request>") */
    struct dmp_descriptor_locs *locs; /* private: JSON pointer -> position */
} dmp_descriptor_t;

/* One finding about a descriptor: an error, or a warning from a policy. */
typedef enum { DMP_SEV_ERROR = 0, DMP_SEV_WARN, DMP_SEV_INFO } dmp_severity_t;

typedef struct dmp_diag {
    dmp_severity_t severity;
    int code;      /* dmp_status_t: DMP_PARSE, DMP_INVALID, DMP_LIMIT, DMP_POLICY ... */
    char *rule;    /* a stable rule name, "unknown-field", "required", policy name ... */
    char *file;
    dmp_loc_t loc;
    char *path;    /* "outputPorts[0].visibility" ("" for the document itself) */
    char *pointer; /* "/outputPorts/0/visibility" */
    char *msg;     /* "'publik' is not one of public, protected, private" */
} dmp_diag_t;

typedef struct dmp_diags {
    dmp_diag_t *v;
    size_t n;
    size_t cap;
} dmp_diags_t;

DMP_EXPORT void dmp_diags_add(dmp_diags_t *d, dmp_severity_t sev, int code, const char *rule,
                              const char *file, dmp_loc_t loc, const char *path,
                              const char *pointer, const char *fmt, ...) DMP_PRINTF(9, 10);
DMP_EXPORT size_t dmp_diags_errors(const dmp_diags_t *d); /* how many have severity error */
DMP_EXPORT void dmp_diags_free(dmp_diags_t *d);
/* "product.yaml:7:5: outputPorts[0].visibility: 'publik' is not one of ..." (caller frees) */
DMP_EXPORT char *dmp_diag_format(const dmp_diag_t *dg);
/* [{"severity","code","rule","file","line","col","path","pointer","message"}] */
DMP_EXPORT json_t *dmp_diags_to_json(const dmp_diags_t *d);

typedef struct dmp_descriptor_limits {
    size_t max_bytes;      /* whole document; default 4 MiB */
    int max_depth;         /* nesting; default 64 */
    size_t max_nodes;      /* after alias expansion; default 200000 */
} dmp_descriptor_limits_t;

/* The content type of the input. AUTO sniffs: JSON when the first non-blank byte
 * is '{' or '[', YAML otherwise. */
typedef enum { DMP_FMT_AUTO = 0, DMP_FMT_YAML, DMP_FMT_JSON } dmp_doc_format_t;

typedef struct dmp_descriptor_opts {
    dmp_doc_format_t format;
    const char *source;   /* name for messages; "<input>" when NULL */
    const char *base_dir; /* resolves `schema: file.json`; NULL refuses file schemas */
    dmp_descriptor_limits_t limits; /* zeros take the defaults */
} dmp_descriptor_opts_t;

/* Parses and checks a descriptor. Returns DMP_OK with *out owning the model, or an
 * error with *out NULL; every problem found is added to 'diags' (which the caller
 * owns and frees), and 'err' holds the first. Never crashes on hostile input: limits
 * bound size, depth and alias expansion. */
DMP_EXPORT int dmp_descriptor_parse(const char *buf, size_t len, const dmp_descriptor_opts_t *opts,
                                    dmp_descriptor_t **out, dmp_diags_t *diags, dmp_error_t *err);
/* Reads 'path' and parses it; the format comes from the extension, and schema files
 * resolve relative to the file's directory. */
DMP_EXPORT int dmp_descriptor_load(const char *path, dmp_descriptor_t **out, dmp_diags_t *diags,
                                   dmp_error_t *err);
DMP_EXPORT void dmp_descriptor_free(dmp_descriptor_t *d);

/* Position of the node at a JSON pointer ("/outputPorts/0/name"); {0,0} when unknown. */
DMP_EXPORT dmp_loc_t dmp_descriptor_loc(const dmp_descriptor_t *d, const char *pointer);
DMP_EXPORT const dmp_resource_t *dmp_descriptor_resource(const dmp_descriptor_t *d,
                                                         const char *name);

/* ---- additions: effective values, diagnostics at a pointer, generic loading ---- */

/* The visibility that applies: as declared, or the default when absent --
 * protected when allow[] is non-empty, private otherwise (docs/descriptor.md). */
DMP_EXPORT dmp_visibility_t dmp_resource_visibility(const dmp_resource_t *r);

/* Adds a finding about the node at 'pointer' of a parsed descriptor: the file, the
 * line:col and the dotted path are filled in from the descriptor. For policies. */
DMP_EXPORT void dmp_descriptor_diag(const dmp_descriptor_t *d, dmp_diags_t *diags,
                                    dmp_severity_t sev, int code, const char *rule,
                                    const char *pointer, const char *fmt, ...)
    DMP_PRINTF(7, 8);

/* "/outputPorts/0/visibility" -> "outputPorts[0].visibility" (caller frees with dmp_free).
 * Keys that are not plain identifiers are quoted: "/a/b c" -> "a[\"b c\"]". */
DMP_EXPORT char *dmp_pointer_to_path(const char *pointer);

/* "7d", "24h", "30m", "10s", "250ms", "2w" (or a bare number of ms) -> ms. DMP_INVALID
 * on anything else, negative or overflowing values. */
DMP_EXPORT int dmp_parse_duration_ms(const char *s, int64_t *out);
/* "1GiB", "500MB", "10KiB", "1TB", "512B" (or a bare number of bytes) -> bytes; SI units
 * are powers of 1000, IEC units (KiB, MiB, GiB, TiB) powers of 1024. */
DMP_EXPORT int dmp_parse_size_bytes(const char *s, int64_t *out);

/* A YAML or JSON loader that keeps the position of every node, for any module that
 * reads user documents (descriptors, policies, request bodies).
 *
 * YAML is read with the 1.2 core schema (yes/no/on/off stay strings), anchors and
 * aliases are expanded (counting nodes, so a billion-laughs document is refused
 * before it is built), `<<` merge keys are honoured, duplicate keys are errors and
 * mapping keys must be scalars. JSON is read strictly (libfyaml's JSON mode).
 * DMP_FMT_AUTO reads text starting with '{' or '[' as JSON and, when that fails with
 * DMP_PARSE, as YAML flow style ({name: x}); if both fail the JSON findings are kept. */
typedef struct dmp_descriptor_locs dmp_doc_locs_t;

typedef struct dmp_doc_opts {
    dmp_doc_format_t format;
    const char *source;             /* name for messages; "<input>" when NULL */
    dmp_descriptor_limits_t limits; /* zeros take the defaults; max_depth is capped at 1000 */
    int multi; /* 0: exactly one document; 1: a stream, *out is an array of its documents */
} dmp_doc_opts_t;

/* Parses 'buf'. On success *out owns the JSON value and *locs (when 'locs' is not
 * NULL) owns the position map; release them with json_decref and dmp_doc_locs_free.
 * On failure both are NULL, every problem is added to 'diags' (when not NULL) with
 * rule "syntax" (DMP_PARSE) or "limit" (DMP_LIMIT), and the first goes to 'err'. */
DMP_EXPORT int dmp_doc_load(const char *buf, size_t len, const dmp_doc_opts_t *opts, json_t **out,
                            dmp_doc_locs_t **locs, dmp_diags_t *diags, dmp_error_t *err);
/* Position of the node at a JSON pointer: for an object member, where its key is
 * written; for an array element or the root, where the value starts. A pointer into
 * a part that came from an alias or a merge gives the nearest known ancestor. */
DMP_EXPORT dmp_loc_t dmp_doc_locs_get(const dmp_doc_locs_t *locs, const char *pointer);
/* Same, but always where the value starts. */
DMP_EXPORT dmp_loc_t dmp_doc_locs_get_value(const dmp_doc_locs_t *locs, const char *pointer);
DMP_EXPORT void dmp_doc_locs_free(dmp_doc_locs_t *locs);

#endif
