/* events.h -- CloudEvents 1.0 envelopes and CloudEvents Subscriptions filters.
 *
 * The codec reads structured mode (application/cloudevents+json), batch mode
 * (application/cloudevents-batch+json), NDJSON of structured events and binary mode
 * (ce-* headers + body), and writes compact structured JSON with a fixed attribute order.
 * The event's data is kept as the bytes it arrived in wherever possible, so a schema
 * validator can read it (dmp_cloudevent_t.data) and it is never re-encoded on output.
 *
 * A dmp_cloudevent_t is a plain struct: read its fields freely, change it only through
 * the setters below (they keep the invariants). Events are not shared between threads
 * while being modified; reading one from many threads is fine.
 */
#ifndef DMP_EVENTS_H
#define DMP_EVENTS_H

#include "dmp/core.h"

#include <stddef.h>
#include <stdint.h>

/* CloudEvents attribute types (spec "Type System"). */
typedef enum {
    DMP_CE_STRING = 0,
    DMP_CE_INTEGER,   /* signed 32-bit */
    DMP_CE_BOOLEAN,
    DMP_CE_BINARY,    /* text holds the base64 form */
    DMP_CE_URI,
    DMP_CE_URIREF,
    DMP_CE_TIMESTAMP, /* text holds the RFC 3339 form as received */
} dmp_ce_type_t;

/* One extension attribute. 'text' is the canonical string form for every type
 * ("42", "true", base64, the URI, the timestamp); 'num' is the value of INTEGER
 * (and 0/1 for BOOLEAN). */
typedef struct dmp_ce_attr {
    char name[24];
    dmp_ce_type_t type;
    char *text;
    int64_t num;
} dmp_ce_attr_t;

/* How the data travels. JSON: 'data' holds one JSON value as text (structured "data"
 * member, or a JSON body). BINARY: 'data' holds raw bytes (written as data_base64). */
typedef enum { DMP_CE_DATA_NONE = 0, DMP_CE_DATA_JSON, DMP_CE_DATA_BINARY } dmp_ce_data_kind_t;

/* A CloudEvent. Every char * is NUL-terminated and owned by the event; optional
 * attributes are NULL when absent. Invariant after a successful parse or constructor:
 * specversion is "1.0", id/source/type are non-empty, time (when set) is RFC 3339 and
 * time_ms holds its value, extension names follow the naming rules and are unique. */
typedef struct dmp_cloudevent {
    char *specversion;
    char *id;
    char *source;
    char *type;
    char *datacontenttype;
    char *dataschema;
    char *subject;
    char *time;
    int64_t time_ms;       /* valid when time != NULL */
    dmp_ce_attr_t *ext;    /* extensions, in insertion order */
    size_t n_ext;
    size_t cap_ext;
    dmp_ce_data_kind_t data_kind;
    char *data;            /* NUL-terminated for convenience; data_len excludes the NUL */
    size_t data_len;
} dmp_cloudevent_t;

/* Size limits for parsing. Zero fields mean the default (in brackets). */
typedef struct dmp_ce_limits {
    size_t max_event_bytes;  /* one structured event or binary body [1 MiB] */
    size_t max_batch_bytes;  /* a whole batch or NDJSON body [16 MiB] */
    size_t max_batch_events; /* events in one batch [10000] */
    size_t max_extensions;   /* extension attributes per event [64] */
    size_t max_attr_bytes;   /* one attribute value [4096] */
} dmp_ce_limits_t;

#define DMP_CE_NAME_MAX 20 /* longest attribute name allowed */

/* ---- lifecycle and setters */

/* New empty event with specversion "1.0". The caller owns it (dmp_cloudevent_free). */
DMP_EXPORT dmp_cloudevent_t *dmp_cloudevent_new(void);
DMP_EXPORT void dmp_cloudevent_free(dmp_cloudevent_t *ev); /* NULL does nothing */
/* Deep copy; the caller owns the result. */
DMP_EXPORT dmp_cloudevent_t *dmp_cloudevent_dup(const dmp_cloudevent_t *ev);

/* Plain JSON data mode: builds an event around 'data' (copied) with id = a UUIDv7,
 * time = now, the given source (product URN) and type, and datacontenttype
 * 'content_type' (NULL means "application/json"). For a JSON content type the data must
 * be one valid JSON value (DMP_PARSE otherwise). On success *out is owned by the caller. */
DMP_EXPORT int dmp_cloudevent_new_data(const char *data, size_t len, const char *source,
                                       const char *type, const char *content_type,
                                       dmp_cloudevent_t **out, dmp_error_t *err);

/* Sets any attribute from its string form: a core attribute by name ("subject", "time",
 * ...) or an extension (typed STRING). 'value' NULL removes an optional attribute.
 * Checks the naming rules, the reserved names and the attribute's type (time must be
 * RFC 3339, specversion "1.0"). Copies 'value'. */
DMP_EXPORT int dmp_cloudevent_set(dmp_cloudevent_t *ev, const char *name, const char *value,
                                  dmp_error_t *err);
/* Sets an extension with an explicit type; 'text' is its string form (checked for
 * INTEGER, BOOLEAN, TIMESTAMP, BINARY). Replaces a same-named extension. */
DMP_EXPORT int dmp_cloudevent_set_ext(dmp_cloudevent_t *ev, const char *name,
                                      dmp_ce_type_t type, const char *text, dmp_error_t *err);
DMP_EXPORT int dmp_cloudevent_set_ext_int(dmp_cloudevent_t *ev, const char *name, int64_t v,
                                          dmp_error_t *err);
/* Replaces the data with a copy of 'len' bytes ('kind' NONE clears it). JSON data is not
 * re-checked here; the caller vouches for it. */
DMP_EXPORT void dmp_cloudevent_set_data(dmp_cloudevent_t *ev, dmp_ce_data_kind_t kind,
                                        const void *data, size_t len);
/* Checks the invariants above (required attributes present and non-empty...). */
DMP_EXPORT int dmp_cloudevent_validate(const dmp_cloudevent_t *ev, dmp_error_t *err);

/* Typed view of one attribute, borrowed from the event (valid until it changes). */
typedef struct dmp_ce_value {
    dmp_ce_type_t type;
    const char *text; /* string form, always set */
    int64_t num;      /* INTEGER value, BOOLEAN 0/1 */
} dmp_ce_value_t;

/* Looks up a core attribute or extension by name (exact, lower-case). Returns 1 and
 * fills *out when present, 0 when absent. "data" is not an attribute. */
DMP_EXPORT int dmp_cloudevent_get(const dmp_cloudevent_t *ev, const char *name,
                                  dmp_ce_value_t *out);
/* Checks an attribute name against the naming rules (a-z0-9, 1..20 chars). */
DMP_EXPORT int dmp_ce_name_valid(const char *name);

/* ---- structured mode */

/* Parses one structured-mode event (a JSON object). On success *out is owned by the
 * caller. Errors name the attribute in err->path and err->msg ("attribute 'specversion'
 * must be \"1.0\", got \"0.3\""). Returns DMP_PARSE (bad JSON), DMP_INVALID (rule
 * broken) or DMP_LIMIT (over a size limit). 'lim' may be NULL. */
DMP_EXPORT int dmp_cloudevent_parse(const char *buf, size_t len, const dmp_ce_limits_t *lim,
                                    dmp_cloudevent_t **out, dmp_error_t *err);

/* Appends the event as compact structured JSON: specversion, id, source, type,
 * datacontenttype, dataschema, subject, time, then extensions sorted by name, then
 * data or data_base64. 'extra' (may be NULL) are extensions added on output only (e.g.
 * dmpoffset, dmptime); they replace same-named extensions of the event. */
DMP_EXPORT void dmp_cloudevent_to_json(const dmp_cloudevent_t *ev, const dmp_ce_attr_t *extra,
                                       size_t n_extra, dmp_buf_t *out);

/* ---- batches */

/* One entry of a parsed batch: either an event (owned by the batch) or an error whose
 * msg starts "event N: " and whose path is "[N].attribute". */
typedef struct dmp_ce_batch_item {
    dmp_cloudevent_t *ev;
    dmp_error_t err;
} dmp_ce_batch_item_t;

typedef struct dmp_ce_batch {
    dmp_ce_batch_item_t *items;
    size_t n;     /* entries, in input order */
    size_t n_ok;  /* entries with an event */
} dmp_ce_batch_t;

/* Parses application/cloudevents-batch+json (a JSON array of structured events). A bad
 * entry does not stop the others: it is reported in its item. The call itself fails
 * only when the body is not a JSON array or breaks a batch limit; then 'out' is empty.
 * Release 'out' with dmp_ce_batch_fini. */
DMP_EXPORT int dmp_ce_parse_batch(const char *buf, size_t len, const dmp_ce_limits_t *lim,
                                  dmp_ce_batch_t *out, dmp_error_t *err);
/* Parses NDJSON: one structured event per non-empty line; entry i is line i's event
 * (blank lines are skipped and not counted). Same error rules as dmp_ce_parse_batch. */
DMP_EXPORT int dmp_ce_parse_ndjson(const char *buf, size_t len, const dmp_ce_limits_t *lim,
                                   dmp_ce_batch_t *out, dmp_error_t *err);
DMP_EXPORT void dmp_ce_batch_fini(dmp_ce_batch_t *b);

/* Appends a JSON array of events, or NDJSON (one event per line, each ending in \n). */
DMP_EXPORT void dmp_cloudevents_to_json_array(const dmp_cloudevent_t *const *evs, size_t n,
                                              dmp_buf_t *out);
DMP_EXPORT void dmp_cloudevents_to_ndjson(const dmp_cloudevent_t *const *evs, size_t n,
                                          dmp_buf_t *out);

/* ---- binary mode (HTTP protocol binding) */

typedef struct dmp_ce_header {
    const char *name;  /* any case */
    const char *value;
} dmp_ce_header_t;

/* Builds an event from HTTP headers and a body: ce-<name> headers (percent-decoded)
 * give the attributes, Content-Type gives datacontenttype, the body is the data (JSON
 * when the content type is JSON, checked; raw bytes otherwise). Other headers are
 * ignored. On success *out is owned by the caller. */
DMP_EXPORT int dmp_cloudevent_from_binary(const dmp_ce_header_t *hdrs, size_t n_hdrs,
                                          const char *body, size_t len,
                                          const dmp_ce_limits_t *lim, dmp_cloudevent_t **out,
                                          dmp_error_t *err);

/* Renders the event for binary mode: appends "name: value\r\n" header lines (ce-*
 * percent-encoded, plus Content-Type when set) to 'headers'. The body is ev->data,
 * ev->data_len. */
DMP_EXPORT void dmp_cloudevent_to_binary(const dmp_cloudevent_t *ev, dmp_buf_t *headers);

/* Is this media type JSON ("application/json", "text/json", "...+json", params ignored)? */
DMP_EXPORT int dmp_ce_is_json_type(const char *content_type);

/* ---- CloudEvents Subscriptions API filters */

/* A compiled filter list: exact, prefix, suffix, all, any, not and sql dialects.
 * Immutable after parsing; matching from many threads at once is safe. */
typedef struct dmp_ce_filter dmp_ce_filter_t;

/* Parses the "filters" member of a subscription: a JSON array of filter expressions
 * (all must match; an empty array matches everything). Errors name the dialect, the
 * JSON pointer of the offending filter in err->where and the problem in err->msg. */
DMP_EXPORT int dmp_ce_filter_parse(const char *json, size_t len, dmp_ce_filter_t **out,
                                   dmp_error_t *err);
/* Returns 1 when the event passes, 0 otherwise (a sql filter that errors or yields a
 * non-boolean does not pass). 'ev' may be a masked view of the event. */
DMP_EXPORT int dmp_ce_filter_match(const dmp_ce_filter_t *f, const dmp_cloudevent_t *ev);
DMP_EXPORT void dmp_ce_filter_free(dmp_ce_filter_t *f);

#endif
