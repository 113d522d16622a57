/* channel.h -- the channel interface: where a stream port's events are stored and read.
 *
 * A channel is an ordered, append-only sequence of opaque records (CloudEvent JSON bytes)
 * numbered by an offset that starts at 1 and never goes back. Everything above this header
 * (the stream-port service, HTTP handlers) sees only dmp_channel_t and the backend table
 * below; the embedded log (src/channel/chan_log.c over evlog.h) is the first backend, and a
 * NATS JetStream or Kafka backend is another implementation of dmp_channel_backend_ops_t
 * with no change above it.
 *
 * Names: dmp_channel_name() derives a channel's name from the product's domain hierarchy and
 * the port's visibility, after SpecMesh topics:
 *     london.hammersmith.olympia.bigdatalondon._public.attendee
 * A namespace (the environment) keeps equal names of different environments apart.
 *
 * Threading: a backend and its channels may be used from any number of threads, with the
 * same rules as evlog.h: close must not race with other calls on the channel except wait.
 */
#ifndef DMP_CHANNEL_H
#define DMP_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "dmp/core.h"

typedef struct dmp_channel_backend dmp_channel_backend_t;
typedef struct dmp_channel dmp_channel_t;

/* Longest channel name dmp_channel_name() produces (bytes, without the NUL). */
#define DMP_CHANNEL_NAME_MAX 240

/* Per-channel settings, given at open. Zero fields take the backend's defaults. */
typedef struct dmp_channel_conf {
    int64_t retention_ms;        /* drop records older than this; 0: keep */
    uint64_t retention_bytes;    /* drop the oldest past this size; 0: keep */
    uint64_t dedup_window_count; /* de-duplicate against the last N records [100000] */
    int64_t dedup_window_ms;     /* ... and/or those appended in the last ms [0: none] */
    uint32_t max_record_bytes;   /* one record's payload [1 MiB] */
    uint64_t segment_bytes;      /* storage unit size, for backends that have one [64 MiB] */
} dmp_channel_conf_t;

/* One record to append; everything is borrowed for the call. */
typedef struct dmp_channel_msg {
    const void *payload;
    size_t len;
    int64_t event_ms;   /* the event's own time, 0 if none */
    const char *source; /* de-duplication identity: CloudEvents source + id; NULL: none */
    const char *id;
} dmp_channel_msg_t;

typedef struct dmp_channel_result {
    uint64_t offset; /* the record's offset (the earlier one for a duplicate) */
    int duplicate;   /* 1: acknowledged, not appended again */
} dmp_channel_result_t;

/* One record handed to a read callback; payload borrowed for the callback only. */
typedef struct dmp_channel_rec {
    uint64_t offset;
    int64_t append_ms; /* processing time */
    int64_t event_ms;  /* event time, 0 if none */
    const void *payload;
    size_t len;
} dmp_channel_rec_t;

/* Return 0 to go on, non-zero to stop after this record. */
typedef int (*dmp_channel_read_fn)(void *ud, const dmp_channel_rec_t *rec);

typedef struct dmp_channel_stats {
    uint64_t first_offset; /* first readable */
    uint64_t next_offset;  /* the next appended record's offset */
    uint64_t bytes;
    uint64_t appended;
    uint64_t duplicates;
    uint64_t syncs;
    int read_only;
    char read_only_reason[200];
} dmp_channel_stats_t;

#define DMP_CHANNEL_OPS_V1 1
typedef struct dmp_channel_backend_ops {
    int version;      /* DMP_CHANNEL_OPS_V1; new ops go at the end */
    const char *name; /* "dmp-log", "nats", "kafka" */
    /* Opens (creating when absent) channel 'name' in namespace 'ns'. */
    int (*open)(dmp_channel_backend_t *be, const char *ns, const char *name,
                const dmp_channel_conf_t *conf, dmp_channel_t **out, dmp_error_t *err);
    void (*close)(dmp_channel_t *ch);
    /* Removes a channel that is not open, with its data. DMP_NOTFOUND when absent. */
    int (*destroy)(dmp_channel_backend_t *be, const char *ns, const char *name,
                   dmp_error_t *err);
    /* Durable append of n >= 1 records (all acknowledged or none). Errors: DMP_LIMIT,
     * DMP_FULL (no space), DMP_UNAVAILABLE (read-only after a failed sync), DMP_IO. */
    int (*append)(dmp_channel_t *ch, const dmp_channel_msg_t *msgs, size_t n,
                  dmp_channel_result_t *results, dmp_error_t *err);
    /* Reads from 'from' on (see dmp_channel_read). */
    int (*read)(dmp_channel_t *ch, uint64_t from, size_t max_records, size_t max_bytes,
                dmp_channel_read_fn fn, void *ud, uint64_t *next, dmp_error_t *err);
    int (*seek_time)(dmp_channel_t *ch, int64_t append_ms, uint64_t *offset, dmp_error_t *err);
    /* Waits until a record past 'after' exists: DMP_OK, DMP_TIMEOUT or DMP_UNAVAILABLE. */
    int (*wait)(dmp_channel_t *ch, uint64_t after, int timeout_ms);
    /* Applies the retention policy now. */
    int (*retain)(dmp_channel_t *ch, dmp_error_t *err);
    void (*stats)(dmp_channel_t *ch, dmp_channel_stats_t *out);
    void (*backend_free)(dmp_channel_backend_t *be);
} dmp_channel_backend_ops_t;

/* Every backend embeds this first; every channel embeds dmp_channel first. */
struct dmp_channel_backend {
    const dmp_channel_backend_ops_t *ops;
};
struct dmp_channel {
    dmp_channel_backend_t *be;
};

/* The embedded-log backend: channel 'name' of namespace 'ns' lives in the directory
 * <root>/<ns>/<name>. *out is owned by the caller (dmp_channel_backend_free). */
DMP_EXPORT int dmp_channel_backend_log_new(const char *root, dmp_channel_backend_t **out,
                                           dmp_error_t *err);
DMP_EXPORT void dmp_channel_backend_free(dmp_channel_backend_t *be); /* NULL does nothing */

/* Builds the channel name into out[DMP_CHANNEL_NAME_MAX + 1]:
 *   <hierarchy>._<visibility>.<port>
 * The hierarchy comes from the product id when it is a URN that is not dmp's default
 * ("urn:london:hammersmith:olympia:bigdatalondon" -> "london.hammersmith.olympia.
 * bigdatalondon"), else from "<domain>.<name>". visibility is "public", "protected" or
 * "private". Characters other than [A-Za-z0-9_-] in a token become '_'. DMP_INVALID when a
 * part is empty or the result is too long. */
DMP_EXPORT int dmp_channel_name(const char *product_id, const char *domain, const char *name,
                                const char *visibility, const char *port, char *out,
                                dmp_error_t *err);

/* Thin wrappers over the backend table. */
DMP_EXPORT int dmp_channel_open(dmp_channel_backend_t *be, const char *ns, const char *name,
                                const dmp_channel_conf_t *conf, dmp_channel_t **out,
                                dmp_error_t *err);
DMP_EXPORT void dmp_channel_close(dmp_channel_t *ch); /* NULL does nothing */
DMP_EXPORT int dmp_channel_destroy(dmp_channel_backend_t *be, const char *ns, const char *name,
                                   dmp_error_t *err);
DMP_EXPORT int dmp_channel_append(dmp_channel_t *ch, const dmp_channel_msg_t *msgs, size_t n,
                                  dmp_channel_result_t *results, dmp_error_t *err);
/* Calls 'fn' for records from offset 'from' on (a 'from' below the first readable offset
 * starts there), at most max_records and max_bytes (0: no bound; the first record is
 * always delivered). *next (may be NULL) is where to continue. */
DMP_EXPORT int dmp_channel_read(dmp_channel_t *ch, uint64_t from, size_t max_records,
                                size_t max_bytes, dmp_channel_read_fn fn, void *ud,
                                uint64_t *next, dmp_error_t *err);
/* First offset whose append time is >= append_ms. */
DMP_EXPORT int dmp_channel_seek_time(dmp_channel_t *ch, int64_t append_ms, uint64_t *offset,
                                     dmp_error_t *err);
DMP_EXPORT int dmp_channel_wait(dmp_channel_t *ch, uint64_t after, int timeout_ms);
DMP_EXPORT int dmp_channel_retain(dmp_channel_t *ch, dmp_error_t *err);
DMP_EXPORT void dmp_channel_stats(dmp_channel_t *ch, dmp_channel_stats_t *out);

#endif
