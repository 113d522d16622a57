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

#endif
