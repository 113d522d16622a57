/* evlog.h -- durable embedded event log: one append-only log per stream port.
 *
 * A log lives in one directory and holds records numbered by a sequence (seq) that starts at
 * 1, grows by one per appended record and is never reused. A record carries an opaque payload
 * (the CloudEvent JSON bytes), its append time (processing time, ms since the epoch, set by
 * the log and never decreasing), the event time given by the caller (0 if none), a 64-bit
 * de-duplication key and 32 caller-defined flag bits.
 *
 * Durability: dmp_evlog_append returns DMP_OK only after the records are on disk
 * (fdatasync). Concurrent appenders share one write and one fdatasync (group commit).
 * A failed fdatasync makes the log read-only for good (DMP_UNAVAILABLE); a full disk gives
 * DMP_FULL and loses nothing already acknowledged. See docs/evlog.md for the file format
 * and the exact recovery rule.
 *
 * Threading: a dmp_evlog_t may be shared by any number of threads; appends, reads, waits
 * and stats may run concurrently. dmp_evlog_close must not race with any other call on the
 * same handle except dmp_evlog_wait, which it wakes (the waiter gets DMP_UNAVAILABLE).
 * One process at a time may open a directory (a lock file enforces it).
 */
#ifndef DMP_EVLOG_H
#define DMP_EVLOG_H

#include "dmp/core.h"

#include <stddef.h>
#include <stdint.h>

typedef struct dmp_evlog dmp_evlog_t;

/* Hard upper bound on one record's payload, whatever the configuration says. */
#define DMP_EVLOG_MAX_PAYLOAD (64u * 1024 * 1024)

/* Configuration. Start from dmp_evlog_conf_init() and change what you need; a zero field
 * does not mean "default". */
typedef struct dmp_evlog_conf {
    uint64_t segment_bytes;         /* roll to a new segment past this size (64 MiB) */
    uint32_t index_interval_bytes;  /* one sparse-index entry per this many bytes (4096) */
    uint32_t max_record_bytes;      /* payload limit per record (1 MiB) */
    uint64_t max_append_bytes;      /* limit on one dmp_evlog_append call (64 MiB) */
    uint64_t dedup_window_count;    /* de-dup against the last N seqs; 0: no count bound */
    int64_t dedup_window_ms;        /* ... and/or records appended in the last ms; 0: none */
    int64_t retention_ms;           /* delete whole segments older than this; 0: keep */
    uint64_t retention_bytes;       /* delete oldest segments past this total; 0: keep */
    int64_t checkpoint_interval_ms; /* synced-point checkpoint period (1000); 0: every sync */
    uint32_t prealloc_bytes;        /* zeros written ahead of the active segment's end, this
                                       many at a time (1 MiB; 0: none): an fdatasync of
                                       records inside them need not write the inode */
    int persist_index;              /* 1: keep seg-<first>.idx for sealed segments and trust
                                       it at open (fast open; damage in sealed segments is
                                       then reported by reads, not by open). 0 (default):
                                       scan and check every segment at open */
} dmp_evlog_conf_t;

/* Fills 'conf' with the defaults shown above (dedup: last 100000 seqs, no time bound;
 * retention: keep everything). */
DMP_EXPORT void dmp_evlog_conf_init(dmp_evlog_conf_t *conf);

/* One record to append. 'payload' is borrowed for the duration of the call. */
typedef struct dmp_evlog_rec {
    const void *payload;
    size_t len;
    int64_t event_ms;   /* event time from the event, ms since the epoch; 0 if none */
    uint64_t dedup_key; /* dmp_evlog_dedup_key(source, id); 0: never de-duplicated */
    uint32_t flags;     /* caller-defined, stored and returned as is */
} dmp_evlog_rec_t;

/* Per-record outcome of an append. */
typedef struct dmp_evlog_result {
    uint64_t seq;  /* the new seq, or the existing one when 'duplicate' is 1 */
    int duplicate; /* 1: the key was in the de-dup window; nothing was appended */
} dmp_evlog_result_t;

/* One record handed to a read callback. 'payload' is borrowed: valid only during the
 * callback. */
typedef struct dmp_evlog_entry {
    uint64_t seq;
    int64_t append_ms; /* processing time, never decreasing along the log */
    int64_t event_ms;  /* as given at append; 0 if none */
    uint64_t dedup_key;
    uint32_t flags;
    const void *payload;
    size_t len;
} dmp_evlog_entry_t;

/* Read callback: return 0 to go on, non-zero to stop after this record. */
typedef int (*dmp_evlog_read_fn)(void *ud, const dmp_evlog_entry_t *ent);

/* What a read did. */
typedef struct dmp_evlog_read_info {
    uint64_t first_seq; /* first readable seq when the read ran */
    uint64_t next_seq;  /* pass this as from_seq to continue after the last record seen */
    size_t count;       /* records delivered */
    size_t bytes;       /* payload bytes delivered */
    int gap;            /* 1: from_seq was below first_seq (deleted by retention); the read
                           started at first_seq instead */
} dmp_evlog_read_info_t;

typedef struct dmp_evlog_stats {
    uint64_t first_seq;           /* first readable seq */
    uint64_t next_seq;            /* seq of the next appended record */
    uint64_t segments;            /* segment files */
    uint64_t bytes;               /* bytes in segment files (durable part) */
    uint64_t appended;            /* records appended since open */
    uint64_t duplicates;          /* records acknowledged as duplicates since open */
    uint64_t append_calls;        /* dmp_evlog_append calls that succeeded */
    uint64_t writes;              /* write calls to segment files */
    uint64_t syncs;               /* fdatasync calls on segment files */
    uint64_t checkpoints;         /* synced-point checkpoints written */
    uint64_t segments_deleted;    /* by retention since open */
    uint64_t dedup_entries;       /* keys in the de-dup window */
    uint64_t recovered_truncated; /* torn-tail bytes cut off by recovery at open */
    uint64_t synced_seq;          /* last seq recorded in the checkpoint */
    int read_only;                /* 1 after a failed fdatasync */
    char read_only_reason[200];
} dmp_evlog_stats_t;

/* Opens the log in directory 'dir', creating it (not its parents) if missing, and runs
 * recovery (docs/evlog.md). 'conf' may be NULL for the defaults; it is copied.
 * On success *out owns the handle (release with dmp_evlog_close). Fails with DMP_CONFLICT
 * when another open handle holds the directory, DMP_IO when damage lies below the synced
 * point (the message names the segment and offset), DMP_INVALID for a bad 'conf'. */
DMP_EXPORT int dmp_evlog_open(const char *dir, const dmp_evlog_conf_t *conf, dmp_evlog_t **out,
                              dmp_error_t *err);

/* Closes the handle: wakes waiters, writes the checkpoint, releases the directory.
 * dmp_evlog_close(NULL) does nothing. */
DMP_EXPORT void dmp_evlog_close(dmp_evlog_t *elog);

/* Deletes the log stored in 'dir' (for deprovisioning): its segment, index, checkpoint and
 * lock files, then the directory. The log must not be open. Refuses (DMP_CONFLICT) when the
 * directory holds files that are not part of a log or when the log is open; a missing
 * directory is DMP_NOTFOUND. */
DMP_EXPORT int dmp_evlog_destroy(const char *dir, dmp_error_t *err);

/* Appends 'n' records (1 <= n) and returns once they are durable. Records whose non-zero
 * dedup_key is already in the de-dup window are not appended again: their result says
 * duplicate with the existing seq (durable too). The appended records of one call get
 * consecutive seqs; *first_seq (may be NULL) is the first of them, 0 if all were
 * duplicates. 'results' (may be NULL) receives n entries.
 * Errors: DMP_LIMIT (a payload over max_record_bytes or the call over max_append_bytes),
 * DMP_FULL (no space; retriable; nothing of this call was appended), DMP_UNAVAILABLE (the
 * log is read-only after a failed fdatasync, or closing), DMP_IO. On error no record of
 * this call is acknowledged. */
DMP_EXPORT int dmp_evlog_append(dmp_evlog_t *elog, const dmp_evlog_rec_t *recs, size_t n,
                                uint64_t *first_seq, dmp_evlog_result_t *results, dmp_error_t *err);

/* Reads durable records from 'from_seq' on, calling 'fn' for each, in seq order, up to
 * 'max_records' records and 'max_bytes' payload bytes (0: no bound; the first record is
 * always delivered whatever its size). from_seq 0 means 1. A from_seq below the first
 * readable seq (records deleted by retention) starts at the first readable one and sets
 * info->gap; a from_seq at or past the end delivers nothing.
 * 'info' may be NULL. A record that fails its CRC is DMP_IO naming the segment and offset. */
DMP_EXPORT int dmp_evlog_read(dmp_evlog_t *elog, uint64_t from_seq, size_t max_records,
                              size_t max_bytes, dmp_evlog_read_fn fn, void *ud,
                              dmp_evlog_read_info_t *info, dmp_error_t *err);

/* Finds the first seq whose append time is >= 'append_ms' (binary search over the sparse
 * index, then a short scan). *seq is the next seq when no record qualifies, and the first
 * readable seq when all do. */
DMP_EXPORT int dmp_evlog_seek_time(dmp_evlog_t *elog, int64_t append_ms, uint64_t *seq,
                                   dmp_error_t *err);

/* The seq the next appended record will get (last durable seq + 1). */
DMP_EXPORT uint64_t dmp_evlog_next_seq(dmp_evlog_t *elog);
/* The first readable seq (moves forward with retention). */
DMP_EXPORT uint64_t dmp_evlog_first_seq(dmp_evlog_t *elog);

/* Blocks until a record with seq > after_seq is durable, for at most timeout_ms (< 0: no
 * limit). Returns DMP_OK (then *next_seq, if non-NULL, is the current next seq),
 * DMP_TIMEOUT, or DMP_UNAVAILABLE when the log is closing. Never delays appenders. */
DMP_EXPORT int dmp_evlog_wait(dmp_evlog_t *elog, uint64_t after_seq, int timeout_ms,
                              uint64_t *next_seq);

/* Applies the retention policy now (appends also apply it when a segment rolls and at most
 * once a second). Deletes whole sealed segments only, never the active one. */
DMP_EXPORT int dmp_evlog_retain(dmp_evlog_t *elog, dmp_error_t *err);

DMP_EXPORT void dmp_evlog_stats(dmp_evlog_t *elog, dmp_evlog_stats_t *out);

/* The de-duplication key of a CloudEvent: a 64-bit hash of its source and id (never 0).
 * Two different (source, id) pairs collide with probability about 2^-64 per pair. */
DMP_EXPORT uint64_t dmp_evlog_dedup_key(const char *source, const char *id);

#endif
