/* evlog_int.h -- private to src/evlog/: on-disk formats, the handle, cross-file helpers.
 *
 * Nothing outside src/evlog/ (and its tests) may include this file.
 */
#ifndef DMP_EVLOG_INT_H
#define DMP_EVLOG_INT_H

#include "dmp/evlog.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

/* Event-log record, little-endian, appended to seg-<first_seq>.log (first_seq printed as
 * 20 decimal digits so names sort by seq). Version 2 (written since the synced-before field
 * was added):
 *   OFFSET SIZE  FIELD
 *     0     4    magic      "DME2"
 *     4     4    len        payload bytes (N), <= DMP_EVLOG_MAX_PAYLOAD
 *     8     8    seq        strictly increasing by one, never reused
 *    16     8    append_ms  processing time, ms since the epoch, never decreasing
 *    24     8    event_ms   event time from the event, ms; 0 if none
 *    32     8    dedup_key  64-bit hash of CloudEvents source+id; 0: none
 *    40     4    flags      caller-defined
 *    44     8    synced_before  every seq <= this had been fdatasync'd (acknowledged)
 *                           before this record was written; < seq
 *    52     4    crc        CRC32C of bytes 4..51 and the payload
 *    56     N    payload    the CloudEvent JSON bytes, opaque here
 * Version 1 (still read, never written): magic "DMEV", no synced_before field, crc at 44
 * over bytes 4..43 and the payload, payload at 48. A segment may hold v1 records followed
 * by v2 ones (a log written by an older build and appended to by a newer one).
 * Invariant: a record exists only if its magic, length, seq and crc all check out.
 * Records are packed back to back with no padding; the first record of a segment has
 * seq == first_seq from the file name. */
#define EVLOG_MAGIC 0x32454d44u    /* "DME2" read as little-endian */
#define EVLOG_MAGIC_V1 0x56454d44u /* "DMEV" */
#define EVLOG_HDR 56               /* header of the records written now (v2) */
#define EVLOG_HDR_V1 48

/* Synced-point checkpoint, file "checkpoint": two 512-byte slots written alternately with
 * pwrite + fdatasync, so a torn write loses at most the newest slot. Each slot:
 *   OFFSET SIZE  FIELD
 *     0     4    magic      "DMCK"
 *     4     4    version    1
 *     8     8    synced_seq every seq <= this was acknowledged (durable)
 *    16     8    seg_first  first_seq of the segment holding synced_seq
 *    24     8    seg_end    byte offset just past synced_seq's record in that segment
 *    32     8    written_ms wall clock when written
 *    40     4    crc        CRC32C of bytes 0..39
 * A slot of all zeros is empty; a slot whose crc fails is ignored (torn). The valid slot
 * with the larger synced_seq wins. */
#define EVLOG_CK_MAGIC 0x4b434d44u /* "DMCK" */
#define EVLOG_CK_SLOT 512
#define EVLOG_CK_LEN 44

/* Persisted sparse index of a sealed segment, seg-<first_seq>.idx (a cache: rebuilt by
 * scanning the segment when missing or invalid, never fsync'd):
 *   OFFSET SIZE  FIELD
 *     0     4    magic      "DMIX"
 *     4     4    count      entries (C >= 1)
 *     8     8    seg_size   size of the .log file it describes
 *    16     8    last_seq   seq of the last record in the segment
 *    24     8    first_ms   append time of the first record
 *    32     8    last_ms    append time of the last record
 *    40  24*C    entries    {seq u64, offset u64, append_ms i64}, increasing
 *  40+24C   4    crc        CRC32C of everything before it */
#define EVLOG_IDX_MAGIC 0x58494d44u /* "DMIX" */
#define EVLOG_IDX_HDR 40

/* ---- crc32c.c */
uint32_t dmp_evlog__crc32c(uint32_t crc, const void *p, size_t n);
uint32_t dmp_evlog__crc32c_sw(uint32_t crc, const void *p, size_t n); /* table path, tests */
int dmp_evlog__crc32c_hw_available(void);

/* ---- little-endian helpers */
static inline void evlog_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void evlog_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t evlog_get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static inline uint64_t evlog_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* ---- segment.c: records */
typedef struct evlog_hdr {
    uint32_t len;
    uint64_t seq;
    int64_t append_ms;
    int64_t event_ms;
    uint64_t dedup_key;
    uint32_t flags;
    uint64_t synced_before; /* v2; 0 for a v1 record */
    uint32_t hdr_len;       /* set by rec_check: EVLOG_HDR or EVLOG_HDR_V1 */
} evlog_hdr_t;

/* Header size of a record starting with 'magic' (0 when the magic is not a record's). */
static inline size_t evlog_hdr_size(uint32_t magic)
{
    return magic == EVLOG_MAGIC ? EVLOG_HDR : magic == EVLOG_MAGIC_V1 ? EVLOG_HDR_V1 : 0;
}

/* Writes a v2 header + payload at 'dst' (EVLOG_HDR + h->len bytes). */
void dmp_evlog__rec_encode(uint8_t *dst, const evlog_hdr_t *h, const void *payload);

/* Checks the record at 'p' with 'avail' bytes available. Returns 1 and fills *h when a whole
 * valid record is there, 0 when more bytes are needed (header or payload incomplete), -1
 * when it is invalid (*why says how). */
int dmp_evlog__rec_check(const uint8_t *p, size_t avail, evlog_hdr_t *h, const char **why);

/* Sequential reader over one segment file, from 'off' up to 'end', through a buffer. */
typedef struct evlog_it {
    int fd;
    uint64_t off, end; /* next record's offset; bytes readable */
    uint8_t *buf;
    size_t cap, blen;
    uint64_t bstart; /* file offset of buf[0] */
    evlog_hdr_t h;   /* the current record, after evlog_it_next returned 1 */
    const uint8_t *payload;
    uint64_t rec_off;
    const char *why; /* for -1 / -2 */
    int sys_errno;   /* for -3 */
} evlog_it_t;

/* Returns 1 with the next record (it->h, it->payload, it->rec_off), 0 at 'end' exactly,
 * -1 for an invalid record at it->off (it->why), -2 for a record cut short by 'end', -3
 * for a read error. The payload is valid until the next call. */
int dmp_evlog__it_next(evlog_it_t *it);
void dmp_evlog__it_fini(evlog_it_t *it);

/* ---- index.c: sparse index and segments */
typedef struct evlog_idx_ent {
    uint64_t seq;
    uint64_t off;
    int64_t append_ms;
} evlog_idx_ent_t;

typedef struct evlog_seg {
    uint64_t first_seq;
    uint64_t last_seq; /* durable; first_seq - 1 when empty */
    uint64_t size;     /* durable bytes */
    uint64_t alloc_end; /* the file's length: zeros past 'size' were filled ahead */
    int64_t first_ms, last_ms;
    int fd;     /* -1 for a sealed segment no reader has pinned: fds are opened on demand,
                   so a log holds few descriptors however many segments it has */
    int sealed; /* no longer the active segment */
    int refs;   /* under elog->mu: one for the segment list plus one per pin */
    int pins;   /* readers using fd */
    evlog_idx_ent_t *idx;
    size_t nidx, capidx;
} evlog_seg_t;

void dmp_evlog__idx_push(evlog_seg_t *seg, uint64_t seq, uint64_t off, int64_t ms);
/* Largest entry with seq <= 'seq' (the first entry when none). Requires nidx > 0. */
const evlog_idx_ent_t *dmp_evlog__idx_find_seq(const evlog_seg_t *seg, uint64_t seq);
/* Last entry with append_ms < 'ms' (the first entry when none). Requires nidx > 0. */
const evlog_idx_ent_t *dmp_evlog__idx_find_time(const evlog_seg_t *seg, int64_t ms);
/* Writes seg-<first>.idx next to the segment (best effort; a failure only costs a rescan). */
void dmp_evlog__idx_save(const char *dir, const evlog_seg_t *seg);
/* Loads seg-<first>.idx if it exists and matches 'file_size'. Returns 1 when loaded. */
int dmp_evlog__idx_load(const char *dir, evlog_seg_t *seg, uint64_t file_size);
char *dmp_evlog__seg_path(const char *dir, uint64_t first_seq, const char *ext);

/* ---- dedup.c: the de-duplication window */
typedef struct evlog_dd_ent {
    uint64_t key, seq;
    int64_t ms;
} evlog_dd_ent_t;

typedef struct evlog_dedup {
    evlog_dd_ent_t *ring; /* in seq order */
    size_t rcap, rhead, rcount;
    evlog_dd_ent_t *map; /* open addressing, linear probing; key 0 = empty */
    size_t mcap, mcount;
} evlog_dedup_t;

void dmp_evlog__dedup_fini(evlog_dedup_t *dd);
uint64_t dmp_evlog__dedup_find(const evlog_dedup_t *dd, uint64_t key); /* seq or 0 */
void dmp_evlog__dedup_add(evlog_dedup_t *dd, uint64_t key, uint64_t seq, int64_t ms);
/* Drops entries with seq < min_seq or ms < min_ms. */
void dmp_evlog__dedup_evict(evlog_dedup_t *dd, uint64_t min_seq, int64_t min_ms);
/* Drops entries with seq >= from_seq (undo of a failed write). */
void dmp_evlog__dedup_rollback(evlog_dedup_t *dd, uint64_t from_seq);

/* ---- writer.c: group commit */
typedef struct evlog_req {
    const dmp_evlog_rec_t *recs;
    size_t n;
    dmp_evlog_result_t *results;
    uint64_t first_seq;
    size_t ndup;
    int rc;
    int done;
    dmp_error_t err;
    struct evlog_req *next;
} evlog_req_t;

struct dmp_evlog {
    char *dir;
    dmp_evlog_conf_t conf;
    int dir_fd, lock_fd, ck_fd;

    pthread_mutex_t mu;
    pthread_cond_t cond_done; /* appenders: their request finished or the leader role is free */
    pthread_cond_t cond_data; /* subscribers in dmp_evlog_wait */
    pthread_cond_t cond_idle; /* close waits for users to leave */

    /* Under mu. */
    evlog_seg_t **segs; /* oldest first; the last one is active */
    size_t nsegs, capsegs;
    uint64_t next_seq; /* durable end */
    evlog_req_t *q_head, *q_tail;
    int writing; /* a leader is writing */
    int failed;  /* read-only after a failed fdatasync */
    char fail_msg[200];
    int closing;
    int users;
    dmp_evlog_stats_t st;

    /* Owned by the leader (whoever has writing == 1), or by open/close. */
    uint64_t w_next_seq;
    uint64_t w_off;     /* bytes written to the active segment */
    uint64_t w_zero_end; /* the active segment's file holds zeros up to here */
    uint64_t w_idx_off; /* offset of the last index entry in the active segment */
    int w_idx_any;      /* the active segment has an index entry */
    int64_t w_last_ms;
    dmp_buf_t w_buf;
    evlog_idx_ent_t *w_pidx; /* index entries not yet published */
    size_t w_npidx, w_cappidx;
    evlog_dedup_t dd;
    uint64_t ck_seq; /* synced point in the checkpoint file */
    int ck_slot;     /* slot written last */
    int64_t ck_last_ms;
    int64_t retain_last_ms;

    /* Deferred checkpoint (ckpt.c), under that file's lock. */
    int hk_queued;     /* in the housekeeper's list (valid when hk_gen matches) */
    unsigned hk_gen;   /* the housekeeper generation it was queued in */
    int64_t hk_due_ms; /* wall clock when the checkpoint is due */
    struct dmp_evlog *hk_next;
};

/* Fault-injection hooks (tests only): replace the system calls the writer uses. */
extern int (*dmp_evlog__fdatasync_hook)(int fd);
extern ssize_t (*dmp_evlog__pwrite_hook)(int fd, const void *buf, size_t n, off_t off);

/* ckpt.c: the checkpoint housekeeper, one thread per process, started when a log first
 * defers a checkpoint and ended when no log has one pending. */
/* Asks for a checkpoint of 'elog' at wall-clock 'due_ms' unless a later group writes one
 * first (called by the leader, without mu). */
void dmp_evlog__ck_defer(dmp_evlog_t *elog, int64_t due_ms);
/* Takes 'elog' off the housekeeper's list; after it returns the housekeeper no longer
 * touches 'elog'. Call with closing set and the writer role free (close, abandon). */
void dmp_evlog__ck_undefer(dmp_evlog_t *elog);

/* recover.c */
int dmp_evlog__ck_write(dmp_evlog_t *elog, dmp_error_t *err);
/* Drops the handle as a crash would: no checkpoint, no index files (tests only). */
void dmp_evlog__abandon(dmp_evlog_t *elog);

/* evlog.c */
/* Pins 'seg' for reading (mu held): opens its fd if needed and takes a reference. */
int dmp_evlog__seg_pin(dmp_evlog_t *elog, evlog_seg_t *seg, dmp_error_t *err);
/* Drops a pin (pinned = 1) or the list's reference (pinned = 0); takes mu. The last
 * reference frees the segment; the last pin of a sealed segment closes its fd. */
void dmp_evlog__seg_release(dmp_evlog_t *elog, evlog_seg_t *seg, int pinned);
void dmp_evlog__seg_free(evlog_seg_t *seg);
/* Sets read-only mode (mu held). */
void dmp_evlog__fail(dmp_evlog_t *elog, const char *fmt, ...) DMP_PRINTF(2, 3);

#endif
