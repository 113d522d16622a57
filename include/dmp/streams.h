/* streams.h -- the stream-port service: the data plane of DESIGN 3C.
 *
 * A stream port (an output port of `type: stream`) is provisioned by the built-in `dmp-log`
 * provisioner, which creates the port's channel (channel.h) and writes the port's metadata
 * (schema, visibility, owner, allow, retention, channel name) next to it, so ingest needs no
 * provisioning lookups. The service then:
 *   - ingests events: validates each event's data against the port's compiled schema, wraps
 *     plain data in a CloudEvents 1.0 envelope, appends durably (de-duplicated on
 *     source+id), and keeps rejected events in a per-port store;
 *   - reads by offset or time, as a JSON array, NDJSON or Server-Sent Events;
 *   - runs subscriptions (CloudEvents Subscriptions API) that push to HTTP sinks with retry,
 *     back-off and a committed offset persisted under the data dir;
 *   - enforces retention.
 *
 * Files under <data-dir>:
 *   channels/<environment>/<channel-name>/       the port's log (embedded backend; another
 *                                                backend keeps its data its own way)
 *   streams/ports/<env>~<domain>~<name>~<port>.json     port metadata
 *   streams/rejected/<environment>/<channel-name>/      rejected-event log
 *   streams/subscriptions/<id>.json, <id>.offset        subscriptions
 *
 * Thread-safe: HTTP worker threads call everything concurrently.
 */
#ifndef DMP_STREAMS_H
#define DMP_STREAMS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "dmp/cesql.h"
#include "dmp/channel.h"
#include "dmp/core.h"
#include "dmp/provision.h"

typedef struct dmp_streams dmp_streams_t;
typedef struct dmp_stream_port dmp_stream_port_t;

/* Makes the channel backend (channel.h) that stores one family of channels: 'role' is
 * "events" (the ports' channels) or "rejected" (the per-port rejected-event stores).
 * 'data_dir' is the service's data directory, for backends that keep files there. On
 * success *out is owned by the service, which frees it (dmp_channel_backend_free) at
 * close. The service sees only the backend table, so a NATS or Kafka backend plugs in here
 * with no change above it. */
typedef int (*dmp_streams_backend_fn)(void *ud, const char *data_dir, const char *role,
                                      dmp_channel_backend_t **out, dmp_error_t *err);

/* The default factory: the embedded log (channel.h's dmp_channel_backend_log_new), with the
 * "events" channels under <data_dir>/channels and the "rejected" ones under
 * <data_dir>/streams/rejected. 'ud' is unused. */
DMP_EXPORT int dmp_streams_backend_log(void *ud, const char *data_dir, const char *role,
                                       dmp_channel_backend_t **out, dmp_error_t *err);

typedef struct dmp_streams_conf {
    const char *data_dir;        /* required */
    dmp_streams_backend_fn backend; /* channel backend factory; NULL: dmp_streams_backend_log */
    void *backend_ud;               /* passed to 'backend' (borrowed; outlives the service) */
    size_t max_event_bytes;      /* one event [1 MiB]; larger: DMP_LIMIT (413) */
    size_t max_batch_bytes;      /* one batch body [16 MiB] */
    size_t max_batch_events;     /* events per batch [10000] */
    uint64_t dedup_window_count; /* de-dup against the last N events per port [100000] */
    int64_t dedup_window_ms;     /* ... and/or the last ms [0: no time bound] */
    uint64_t segment_bytes;      /* log segment size [64 MiB] */
    int retention_check_ms;      /* how often retention runs on idle ports [5000] */
    int push_timeout_ms;         /* one push to a sink [5000] */
    int push_backoff_max_ms;     /* longest wait between retries [30000] */
} dmp_streams_conf_t;

/* Opens the service and every port and subscription persisted under data_dir. */
DMP_EXPORT int dmp_streams_open(const dmp_streams_conf_t *conf, dmp_streams_t **out,
                                dmp_error_t *err);
DMP_EXPORT void dmp_streams_close(dmp_streams_t *st); /* NULL does nothing */

/* A provisioner (ops name "dmp-log") for `type: stream` resources, bound to 'st' (which
 * must outlive it). Register it with dmp_provision_register. */
DMP_EXPORT int dmp_streams_provisioner_new(dmp_streams_t *st, dmp_provisioner_t **out,
                                           dmp_error_t *err);

/* ---- ports */

/* Finds a provisioned port. 'environment' NULL or "" matches any environment; when the port
 * exists in several, DMP_CONFLICT names them. DMP_NOTFOUND names what is missing (the
 * product or the port). On success *out holds a reference: release it. This is the one
 * place a request meets a port (the hook for a per-request access check). */
DMP_EXPORT int dmp_streams_port_find(dmp_streams_t *st, const char *environment,
                                     const char *domain, const char *name, const char *port,
                                     dmp_stream_port_t **out, dmp_error_t *err);
DMP_EXPORT void dmp_streams_port_release(dmp_stream_port_t *p);
/* {"environment","domain","product","port","channel","visibility","owner","allow",
 *  "retention","schema":bool,"source","type","versions","stats":{...}} (new reference) */
DMP_EXPORT json_t *dmp_streams_port_describe(dmp_stream_port_t *p);
/* [describe...] of every port (new reference). */
DMP_EXPORT json_t *dmp_streams_ports(dmp_streams_t *st);

/* ---- ingest */

typedef struct dmp_stream_header {
    const char *name;
    const char *value;
} dmp_stream_header_t;

typedef struct dmp_stream_input {
    const char *content_type; /* may be NULL (then JSON) */
    const dmp_stream_header_t *headers; /* all request headers (ce-* make binary mode) */
    size_t n_headers;
    const char *body;
    size_t len;
    const char *type; /* plain mode: the event type (a header or query); NULL: the port's */
    /* Optional: a single accepted event's reply is written here as JSON text (the same
     * members as *reply below) and *reply stays NULL; *ack_duplicate says whether it was a
     * duplicate. Spares the single-event path a jansson object (docs/performance.md). */
    dmp_buf_t *ack_json;
    int *ack_duplicate;
} dmp_stream_input_t;

/* Ingests one request (in->ack_json: see above). Modes by content type: application/cloudevents+json (structured),
 * application/cloudevents-batch+json (batch), application/x-ndjson or application/ndjson
 * (one event per line: a structured event, or plain data), ce-specversion header (binary),
 * any other JSON type (plain data: dmp makes the envelope).
 * Single events: DMP_OK with *reply {"offset","id","source","duplicate"}; a rejected event
 * returns DMP_SCHEMA/DMP_INVALID/DMP_PARSE/DMP_LIMIT with 'err' naming the field, value and
 * rule and *reply {"errors":[...]} (may be NULL).
 * Batches: DMP_OK with *reply {"accepted","rejected","duplicates","results":[{"index",
 * "status":"accepted|duplicate|rejected","offset"|"error"}]}; *batch_out is 1.
 * Whole-request errors: DMP_UNSUPPORTED (content type), DMP_LIMIT (size), DMP_UNAVAILABLE
 * (the log is read-only), DMP_FULL (disk full). Acknowledged means durable. */
DMP_EXPORT int dmp_streams_ingest(dmp_streams_t *st, dmp_stream_port_t *p,
                                  const dmp_stream_input_t *in, json_t **reply, int *batch_out,
                                  dmp_error_t *err);

/* ---- reads */

/* Rewrites one event's data for its reader (masking, docs/security.md): a new reference,
 * or NULL to keep the data as stored. Applied before filters, so a filter sees exactly
 * what the reader would. */
typedef json_t *(*dmp_streams_mask_fn)(void *ud, const json_t *data);

typedef enum {
    DMP_STREAM_FMT_ARRAY = 0, /* application/cloudevents-batch+json */
    DMP_STREAM_FMT_NDJSON,    /* application/x-ndjson */
    DMP_STREAM_FMT_SSE,       /* text/event-stream frames: "id: N\ndata: {...}\n\n" */
} dmp_stream_fmt_t;

typedef struct dmp_stream_query {
    uint64_t from;          /* first offset (0 or 1: the start) */
    size_t limit;           /* records to return [100], at most 10000 */
    int64_t since_ms;       /* processing time >= (0: none) */
    int64_t until_ms;       /* processing time < (0: none) */
    int64_t event_since_ms; /* event time >= (0: none) */
    int64_t event_until_ms; /* event time < (0: none); with either bound, events without
                               a `time` attribute are excluded */
    const dmp_cesql_t *filter; /* CESQL filter or NULL (borrowed) */
    dmp_stream_fmt_t format;
    size_t max_scan;        /* records examined at most [limit * 10 + 1000] */
    dmp_streams_mask_fn mask; /* NULL: events as stored */
    void *mask_ud;
} dmp_stream_query_t;

/* Appends matching events to 'out' in the format asked, each with the extensions
 * dmpoffset (its offset) and dmptime (append time). *next is the offset to continue from;
 * *count the events written. An ARRAY is always a complete JSON array. */
DMP_EXPORT int dmp_streams_read(dmp_streams_t *st, dmp_stream_port_t *p,
                                const dmp_stream_query_t *q, dmp_buf_t *out, uint64_t *next,
                                size_t *count, dmp_error_t *err);
/* Waits for an event past 'after' for at most timeout_ms: DMP_OK, DMP_TIMEOUT, or
 * DMP_UNAVAILABLE when the port is being closed or deleted. */
DMP_EXPORT int dmp_streams_wait(dmp_stream_port_t *p, uint64_t after, int timeout_ms);
/* The next offset to be assigned (one past the last event). */
DMP_EXPORT uint64_t dmp_streams_next_offset(dmp_stream_port_t *p);
/* 1 when the port has been deleted (readers should stop). */
DMP_EXPORT int dmp_streams_port_gone(dmp_stream_port_t *p);

/* Rejected events from offset 'from': {"next":N,"rejected":[{"offset","time","index",
 * "error":{...},"event":...}]} (new reference in *out). */
DMP_EXPORT int dmp_streams_rejected(dmp_streams_t *st, dmp_stream_port_t *p, uint64_t from,
                                    size_t limit, json_t **out, dmp_error_t *err);

/* ---- subscriptions (CloudEvents Subscriptions API shape plus "product" and "port") */

/* Creates from a JSON body {"product":"domain/name","port","environment"?,"sink",
 * "protocol":"HTTP"?,"filters":[...]?,"from":"end|start|N"?}. *out is the stored
 * subscription (new reference). DMP_INVALID names the field; a CESQL filter that does not
 * parse is DMP_INVALID with its position. */
DMP_EXPORT int dmp_streams_sub_create(dmp_streams_t *st, const json_t *body, json_t **out,
                                      dmp_error_t *err);
DMP_EXPORT int dmp_streams_sub_get(dmp_streams_t *st, const char *id, json_t **out,
                                   dmp_error_t *err);
DMP_EXPORT json_t *dmp_streams_sub_list(dmp_streams_t *st);
/* Replaces sink and/or filters (other fields are kept). */
DMP_EXPORT int dmp_streams_sub_update(dmp_streams_t *st, const char *id, const json_t *body,
                                      json_t **out, dmp_error_t *err);
DMP_EXPORT int dmp_streams_sub_delete(dmp_streams_t *st, const char *id, dmp_error_t *err);

/* ---- access control of push subscriptions (installed by the HTTP server) */

typedef struct dmp_streams_access {
    /* Whether 'who' (a subscription's creator as stored in its "owner" member, a principal
     * {"name","groups","admin"}; NULL when it has none) may read port p now. DMP_OK with its
     * view of the data in *mask and *mask_ud (*mask NULL: unmasked); another code when not.
     * *mask_ud is released with view_free and must not depend on the installer. */
    int (*view)(void *ud, const json_t *who, dmp_stream_port_t *p, dmp_streams_mask_fn *mask,
                void **mask_ud);
    void (*view_free)(void *mask_ud);
    void *ud;
} dmp_streams_access_t;

/* How a server that runs handlers on fibers lets an ingest request wait for its group
 * commit without blocking its thread (src/http/server.c installs them). self: the
 * running fiber, NULL on a plain thread; park: parks the running fiber until woken;
 * wake: from any thread, resumes that fiber soon. All three or none (NULL: requests
 * block their thread, as any plain caller does). Install before serving. */
typedef struct dmp_streams_fiber_hooks {
    void *(*self)(void);
    void (*park)(void);
    void (*wake)(void *fiber);
} dmp_streams_fiber_hooks_t;
DMP_EXPORT void dmp_streams_set_fiber_hooks(const dmp_streams_fiber_hooks_t *hooks);

/* Installs the check push workers make before each batch (at least once a second), or
 * removes it (a = NULL; waits for checks in progress). Without one, pushes are unchecked. */
DMP_EXPORT void dmp_streams_set_access(dmp_streams_t *st, const dmp_streams_access_t *a);
/* A deep copy of the port's metadata (with its schema and ACL members). */
DMP_EXPORT json_t *dmp_streams_port_meta(dmp_stream_port_t *p);
/* The same, borrowed: valid while the caller holds 'p' (a port object never changes;
 * an update swaps in a new one). Members for access checks: domain, product_owner,
 * product_tags, owner, allow, visibility, tags, schema. */
DMP_EXPORT const json_t *dmp_streams_port_meta_ref(const dmp_stream_port_t *p);
/* An opaque per-port slot for a layer above (the HTTP server keeps each port's access
 * facts there, built once per port object instead of once per request). A port object never
 * changes -- an update swaps in a new one with an empty slot -- so whatever is derived from
 * its metadata may be cached here. dmp_streams_port_slot: the value, or NULL when not set
 * (borrowed; valid while the caller holds 'p'). dmp_streams_port_slot_set: sets it once
 * (compare-and-swap) and returns the value in the slot: 'v' when this call set it, else the
 * one another thread set first, in which case free_fn(v) has already been called. free_fn
 * runs on the slot's value when the port object is freed. */
DMP_EXPORT void *dmp_streams_port_slot(const dmp_stream_port_t *p);
DMP_EXPORT void *dmp_streams_port_slot_set(dmp_stream_port_t *p, void *v,
                                           void (*free_fn)(void *));
/* Masks one stored record with 'mask': 1 and *tmp (payload in *owned, dmp_free it) when it
 * rewrote the event, 0 when the record stays as it is. */
struct dmp_channel_rec;
DMP_EXPORT int dmp_streams_mask_record(dmp_streams_mask_fn mask, void *mask_ud,
                                       const struct dmp_channel_rec *rec,
                                       struct dmp_channel_rec *tmp, char **owned);

#endif
