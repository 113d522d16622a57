/* recover.c -- opening a log: the directory lock, the synced-point checkpoint, segment
 * discovery, torn-tail recovery and rebuilding the de-dup window.
 *
 * The recovery rule (docs/evlog.md):
 *   - every segment but the last is sealed: it was fully synced before the next one was
 *     created, so any invalid record in it is damage and open refuses;
 *   - in the last segment, let the first invalid or incomplete record sit at offset O with
 *     expected seq S. The damage lies below the synced point, and open refuses, when
 *     S <= synced_seq (the checkpoint) or when a valid record after O says, in its
 *     synced_before field, that S had been fdatasync'd before it was written (the proof
 *     is found by the record magic, as the bad record's length cannot be trusted).
 *     Otherwise it is a torn tail and the file is cut at O. The warning says "unacknowledged
 *     data" only when that is known (the file ends inside record S and nothing valid
 *     follows: its sync never completed), else "after the last synced record";
 *   - open also refuses when the log ends before synced_seq, or when segments do not
 *     follow each other seq by seq. The writer never rolls an empty segment, so an empty
 *     sealed segment means lost records; the gap check catches it. Invariant after a
 *     successful open: only the last segment may be empty.
 * Open never deletes acknowledged data it can see; it only cuts a torn tail.
 */
#include "evlog_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

void dmp_evlog_conf_init(dmp_evlog_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->segment_bytes = 64u * 1024 * 1024;
    conf->index_interval_bytes = 4096;
    conf->max_record_bytes = 1024 * 1024;
    conf->max_append_bytes = 64u * 1024 * 1024;
    conf->dedup_window_count = 100000;
    conf->dedup_window_ms = 0;
    conf->retention_ms = 0;
    conf->retention_bytes = 0;
    conf->checkpoint_interval_ms = 1000;
    conf->prealloc_bytes = 1024 * 1024;
    conf->persist_index = 0;
}

static int conf_check(const dmp_evlog_conf_t *c, dmp_error_t *err)
{
    if (c->segment_bytes < 4096)
        return DMP_ERR(err, DMP_INVALID, "segment_bytes %" PRIu64 " is below the 4096 minimum",
                       c->segment_bytes);
    if (c->index_interval_bytes == 0)
        return DMP_ERR(err, DMP_INVALID, "index_interval_bytes must be at least 1");
    if (c->max_record_bytes == 0 || c->max_record_bytes > DMP_EVLOG_MAX_PAYLOAD)
        return DMP_ERR(err, DMP_INVALID, "max_record_bytes %" PRIu32 " must be between 1 and %u",
                       c->max_record_bytes, DMP_EVLOG_MAX_PAYLOAD);
    if (c->max_append_bytes < EVLOG_HDR + (uint64_t)c->max_record_bytes)
        return DMP_ERR(err, DMP_INVALID,
                       "max_append_bytes %" PRIu64 " is below one record of max_record_bytes",
                       c->max_append_bytes);
    if (c->dedup_window_count > 16u * 1024 * 1024)
        return DMP_ERR(err, DMP_INVALID,
                       "dedup_window_count %" PRIu64 " is over the 16777216 limit",
                       c->dedup_window_count);
    if (c->dedup_window_ms < 0 || c->retention_ms < 0 || c->checkpoint_interval_ms < 0)
        return DMP_ERR(err, DMP_INVALID,
                       "dedup_window_ms, retention_ms and checkpoint_interval_ms must be >= 0");
    return DMP_OK;
}

/* ---- checkpoint */

static int ck_read(dmp_evlog_t *elog, uint64_t *synced, dmp_error_t *err)
{
    uint8_t b[2 * EVLOG_CK_SLOT];
    memset(b, 0, sizeof(b));
    ssize_t r = pread(elog->ck_fd, b, sizeof(b), 0);
    if (r < 0)
        return DMP_ERR(err, DMP_IO, "cannot read %s/checkpoint: %s", elog->dir, strerror(errno));
    *synced = 0;
    elog->ck_slot = 1; /* so the first write goes to slot 0 */
    for (int s = 0; s < 2; s++) {
        const uint8_t *p = b + s * EVLOG_CK_SLOT;
        int zero = 1;
        for (int i = 0; i < EVLOG_CK_LEN; i++)
            zero &= p[i] == 0;
        if (zero)
            continue;
        if (evlog_get32(p) != EVLOG_CK_MAGIC || evlog_get32(p + 4) != 1 ||
            evlog_get32(p + 40) != dmp_evlog__crc32c(0, p, 40)) {
            dmp_logf(DMP_LOG_WARN,
                     "evlog: %s/checkpoint slot %d is invalid (torn write?); "
                     "using the other slot",
                     elog->dir, s);
            continue;
        }
        uint64_t seq = evlog_get64(p + 8);
        if (seq >= *synced) {
            *synced = seq;
            elog->ck_slot = s;
        }
    }
    return DMP_OK;
}

int dmp_evlog__ck_write(dmp_evlog_t *elog, dmp_error_t *err)
{
    uint8_t b[EVLOG_CK_LEN];
    uint64_t seq = elog->w_next_seq - 1, seg_first = 0, seg_end = 0;

    pthread_mutex_lock(&elog->mu);
    for (size_t i = elog->nsegs; i-- > 0;) {
        evlog_seg_t *s = elog->segs[i];
        if (s->first_seq <= seq && s->last_seq >= seq) {
            seg_first = s->first_seq;
            seg_end = s->size;
            break;
        }
    }
    pthread_mutex_unlock(&elog->mu);
    int64_t now = dmp_now_ms();
    evlog_put32(b, EVLOG_CK_MAGIC);
    evlog_put32(b + 4, 1);
    evlog_put64(b + 8, seq);
    evlog_put64(b + 16, seg_first);
    evlog_put64(b + 24, seg_end);
    evlog_put64(b + 32, (uint64_t)now);
    evlog_put32(b + 40, dmp_evlog__crc32c(0, b, 40));
    int slot = elog->ck_slot ^ 1;
    ssize_t w = dmp_evlog__pwrite_hook(elog->ck_fd, b, sizeof(b), (off_t)slot * EVLOG_CK_SLOT);
    if (w != (ssize_t)sizeof(b))
        return DMP_ERR(err, DMP_IO, "cannot write %s/checkpoint: %s", elog->dir,
                       w < 0 ? strerror(errno) : "short write");
    if (dmp_evlog__fdatasync_hook(elog->ck_fd) != 0) {
        int en = errno;
        pthread_mutex_lock(&elog->mu);
        dmp_evlog__fail(elog, "fdatasync of %s/checkpoint failed: %s", elog->dir, strerror(en));
        pthread_mutex_unlock(&elog->mu);
        return DMP_ERR(err, DMP_UNAVAILABLE, "fdatasync of %s/checkpoint failed: %s", elog->dir,
                       strerror(en));
    }
    elog->ck_slot = slot;
    elog->ck_seq = seq;
    elog->ck_last_ms = now;
    pthread_mutex_lock(&elog->mu);
    elog->st.checkpoints++;
    elog->st.synced_seq = seq;
    pthread_mutex_unlock(&elog->mu);
    return DMP_OK;
}

/* ---- segments */

static int parse_seg_name(const char *name, uint64_t *first)
{
    /* seg-<20 digits>.log */
    if (strlen(name) != 4 + 20 + 4 || strncmp(name, "seg-", 4) != 0 ||
        strcmp(name + 24, ".log") != 0)
        return 0;
    uint64_t v = 0;
    for (int i = 4; i < 24; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    if (v == 0)
        return 0;
    *first = v;
    return 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int list_segments(dmp_evlog_t *elog, uint64_t **out, size_t *n, dmp_error_t *err)
{
    DIR *d = opendir(elog->dir);
    if (!d)
        return DMP_ERR(err, DMP_IO, "cannot list %s: %s", elog->dir, strerror(errno));
    uint64_t *v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        uint64_t first;
        if (!parse_seg_name(de->d_name, &first))
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            v = dmp_realloc(v, cap * sizeof(*v));
        }
        v[cnt++] = first;
    }
    closedir(d);
    if (cnt)
        qsort(v, cnt, sizeof(*v), cmp_u64);
    *out = v;
    *n = cnt;
    return DMP_OK;
}

/* Reads exactly n bytes at 'off' (0 on success, -1 with errno, 1 when the file is shorter). */
static int pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            return 1;
        got += (size_t)r;
    }
    return 0;
}

/* Proof that a record was acknowledged: a valid v2 record found after it. */
typedef struct evlog_evidence {
    uint64_t seq, off, synced_before;
    int any_after; /* some valid record (proof or not) lies after the bad one */
} evlog_evidence_t;

/* Looks in [off, end) of a segment, past a bad record at 'off' whose expected seq is
 * 'expect', for a valid v2 record with seq > expect and synced_before >= expect: it was
 * written after 'expect' had been fdatasync'd, so 'expect' was acknowledged. Records are
 * found by their magic at any byte (the bad record's length cannot be trusted), each
 * candidate checked in full (crc). Returns 1 with *ev filled, 0 when there is no such
 * record, -1 on a read error (errno). Bounded: one pass over the tail in 1 MiB windows,
 * plus one read per candidate whose record does not fit in its window. */
static int find_evidence(int fd, uint64_t off, uint64_t end, uint64_t expect, evlog_evidence_t *ev)
{
    const size_t win = 1u << 20;
    uint8_t magic[4];
    evlog_put32(magic, EVLOG_MAGIC);
    uint8_t *buf = dmp_malloc(win);
    uint8_t *rec = NULL;
    size_t reccap = 0;
    int found = 0;
    for (uint64_t pos = off; pos < end && !found;) {
        size_t n = end - pos < win ? (size_t)(end - pos) : win;
        int r = pread_all(fd, buf, n, pos);
        if (r < 0) {
            found = -1;
            break;
        }
        if (r > 0)
            break; /* the file is shorter than it was a moment ago: nothing more to see */
        for (size_t i = 0; i + 4 <= n && !found;) {
            const uint8_t *m = memmem(buf + i, n - i, magic, 4);
            if (!m)
                break;
            size_t at = (size_t)(m - buf);
            i = at + 1;
            uint64_t roff = pos + at;
            if (end - roff < EVLOG_HDR)
                continue;
            const uint8_t *p = buf + at;
            uint32_t len;
            if (n - at >= 8) {
                len = evlog_get32(p + 4);
            } else { /* the length straddles the window's edge */
                uint8_t h8[8];
                if (pread_all(fd, h8, 8, roff) != 0)
                    continue;
                len = evlog_get32(h8 + 4);
            }
            if (len > DMP_EVLOG_MAX_PAYLOAD || end - roff < EVLOG_HDR + (uint64_t)len)
                continue;
            size_t need = EVLOG_HDR + (size_t)len;
            if (n - at < need) {
                if (reccap < need) {
                    dmp_free(rec);
                    reccap = need;
                    rec = dmp_malloc(reccap);
                }
                int rr = pread_all(fd, rec, need, roff);
                if (rr < 0) {
                    found = -1;
                    break;
                }
                if (rr > 0)
                    continue;
                p = rec;
            }
            evlog_hdr_t h;
            const char *why;
            if (dmp_evlog__rec_check(p, need, &h, &why) != 1 || h.seq < expect)
                continue;
            ev->any_after = 1;
            if (h.seq > expect && h.synced_before >= expect) {
                ev->seq = h.seq;
                ev->off = roff;
                ev->synced_before = h.synced_before;
                found = 1;
            }
        }
        if (n < win || found)
            break;
        pos += n - 3; /* overlap so a magic across the window edge is seen */
    }
    dmp_free(buf);
    dmp_free(rec);
    return found;
}

/* 1 when bytes [off, end) of fd are all zero, 0 when not, -1 on a read error. */
static int all_zero(int fd, uint64_t off, uint64_t end)
{
    uint8_t buf[65536];
    while (off < end) {
        size_t n = end - off < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
        int r = pread_all(fd, buf, n, off);
        if (r < 0)
            return -1;
        if (r > 0)
            return 0; /* shorter than it was: not what we looked at */
        for (size_t i = 0; i < n; i++)
            if (buf[i] != 0)
                return 0;
        off += n;
    }
    return 1;
}

/* Scans a segment, building its index. See the rule at the top of the file. */
static int scan_seg(dmp_evlog_t *elog, evlog_seg_t *seg, int is_last, uint64_t synced,
                    uint64_t file_size, dmp_error_t *err)
{
    evlog_it_t it = {.fd = seg->fd, .off = 0, .end = file_size};
    uint64_t expect = seg->first_seq, last_idx = 0, max_synced = 0;
    int64_t prev_ms = INT64_MIN;
    int rc = DMP_OK;
    char *name = dmp_evlog__seg_path(elog->dir, seg->first_seq, "log");

    seg->nidx = 0;
    for (;;) {
        int r = dmp_evlog__it_next(&it);
        const char *why = it.why;
        char whybuf[128];
        int whole = r == 1; /* a whole record, bad by its seq or time */
        if (r == 0)
            break;
        if (r == -3) {
            rc = DMP_ERR(err, DMP_IO, "cannot read %s: %s", name, strerror(it.sys_errno));
            goto out;
        }
        if (r == 1 && it.h.seq != expect) {
            snprintf(whybuf, sizeof(whybuf), "seq %" PRIu64 " where %" PRIu64 " was expected",
                     it.h.seq, expect);
            why = whybuf;
            r = -1;
        } else if (r == 1 && it.h.append_ms < prev_ms) {
            why = "append time goes backwards";
            r = -1;
        }
        if (r < 0) {
            /* a whole record with the wrong seq or time is bad from its own start */
            uint64_t off = whole ? it.rec_off : it.off;
            /* Zeros from here to the end are space the writer filled ahead (conf
             * prealloc_bytes), not damage: the records end here. Acknowledged records
             * missing from them would still be seen: in a sealed segment by the next
             * segment's first seq, in the last one by the checkpoint (as below). */
            if (!whole && (!is_last || expect > synced)) {
                int z = all_zero(seg->fd, off, file_size);
                if (z < 0) {
                    rc = DMP_ERR(err, DMP_IO, "cannot read %s: %s", name, strerror(errno));
                    goto out;
                }
                if (z > 0) {
                    seg->alloc_end = file_size;
                    file_size = off;
                    break;
                }
            }
            evlog_evidence_t ev = {0};
            int fe = 0;
            if (is_last && expect > synced) {
                fe = find_evidence(seg->fd, off, file_size, expect, &ev);
                if (fe < 0) {
                    rc = DMP_ERR(err, DMP_IO, "cannot read %s: %s", name, strerror(errno));
                    goto out;
                }
            }
            if (fe > 0) {
                rc = DMP_ERR(err, DMP_IO,
                             "log %s is damaged below the synced point: %s at offset %" PRIu64
                             " (%s; record seq %" PRIu64 " expected, synced point seq %" PRIu64
                             " as shown by record seq %" PRIu64 " at offset %" PRIu64
                             ", written after it); refusing to open rather than drop "
                             "acknowledged records",
                             elog->dir, name, off, why, expect, ev.synced_before, ev.seq, ev.off);
                dmp_error_where(err, "%s:%" PRIu64, name, off);
                goto out;
            }
            if (!is_last || expect <= synced) {
                rc = DMP_ERR(err, DMP_IO,
                             "log %s is damaged below the synced point: %s at offset %" PRIu64
                             " (%s; record seq %" PRIu64 " expected, synced point seq %" PRIu64
                             "%s); refusing to open rather than drop acknowledged records",
                             elog->dir, name, off, why, expect, synced,
                             is_last ? "" : ", in a sealed segment");
                dmp_error_where(err, "%s:%" PRIu64, name, off);
                goto out;
            }
            if (r == -2 && !ev.any_after) /* the file ends inside this record (and nothing
                                              valid follows): its sync never completed */
                dmp_logf(DMP_LOG_WARN,
                         "evlog: %s: torn tail at offset %" PRIu64 " (%s): cutting %" PRIu64
                         " bytes of unacknowledged data",
                         name, off, why, file_size - off);
            else /* damage, not a short file: whether its group was synced is unknown */
                dmp_logf(DMP_LOG_WARN,
                         "evlog: %s: torn tail at offset %" PRIu64 " (%s): cutting %" PRIu64
                         " bytes after the last synced record (seq %" PRIu64
                         "; no later record shows that seq %" PRIu64 " was synced)",
                         name, off, why, file_size - off, max_synced > synced ? max_synced : synced,
                         expect);
            if (ftruncate(seg->fd, (off_t)off) != 0 || fdatasync(seg->fd) != 0) {
                rc = DMP_ERR(err, DMP_IO, "cannot cut the torn tail of %s at %" PRIu64 ": %s", name,
                             off, strerror(errno));
                goto out;
            }
            elog->st.recovered_truncated += file_size - off;
            file_size = off;
            break;
        }
        if (it.h.synced_before > max_synced)
            max_synced = it.h.synced_before;
        if (seg->nidx == 0 || it.rec_off - last_idx >= elog->conf.index_interval_bytes) {
            dmp_evlog__idx_push(seg, it.h.seq, it.rec_off, it.h.append_ms);
            last_idx = it.rec_off;
        }
        if (expect == seg->first_seq)
            seg->first_ms = it.h.append_ms;
        seg->last_ms = it.h.append_ms;
        prev_ms = it.h.append_ms;
        expect++;
    }
    seg->last_seq = expect - 1;
    seg->size = file_size;
    if (seg->alloc_end < file_size)
        seg->alloc_end = file_size;
    if (is_last) {
        elog->w_idx_any = seg->nidx > 0;
        elog->w_idx_off = last_idx;
    }
out:
    dmp_evlog__it_fini(&it);
    dmp_free(name);
    return rc;
}

static int open_seg(dmp_evlog_t *elog, uint64_t first, int create, evlog_seg_t **out,
                    uint64_t *size, dmp_error_t *err)
{
    char *path = dmp_evlog__seg_path(elog->dir, first, "log");
    int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int rc = DMP_ERR(err, errno == ENOSPC ? DMP_FULL : DMP_IO, "cannot open %s: %s", path,
                         strerror(errno));
        if (fd >= 0)
            close(fd);
        dmp_free(path);
        return rc;
    }
    dmp_free(path);
    evlog_seg_t *seg = dmp_calloc(1, sizeof(*seg));
    seg->first_seq = first;
    seg->last_seq = first - 1;
    seg->fd = fd;
    seg->refs = 1;
    *out = seg;
    *size = (uint64_t)sb.st_size;
    return DMP_OK;
}

static void push_seg(dmp_evlog_t *elog, evlog_seg_t *seg)
{
    if (elog->nsegs == elog->capsegs) {
        elog->capsegs = elog->capsegs ? elog->capsegs * 2 : 16;
        elog->segs = dmp_realloc(elog->segs, elog->capsegs * sizeof(*elog->segs));
    }
    elog->segs[elog->nsegs++] = seg;
}

static int dd_cb(void *ud, const dmp_evlog_entry_t *ent)
{
    dmp_evlog_t *elog = ud;
    if (ent->dedup_key)
        dmp_evlog__dedup_add(&elog->dd, ent->dedup_key, ent->seq, ent->append_ms);
    return 0;
}

/* Rebuilds the de-dup window from the tail of the log. */
static int dedup_rebuild(dmp_evlog_t *elog, dmp_error_t *err)
{
    const dmp_evlog_conf_t *c = &elog->conf;
    if (!c->dedup_window_count && !c->dedup_window_ms)
        return DMP_OK;
    uint64_t from = 1;
    if (c->dedup_window_count && elog->next_seq > c->dedup_window_count)
        from = elog->next_seq - c->dedup_window_count;
    if (c->dedup_window_ms) {
        uint64_t t;
        int rc = dmp_evlog_seek_time(elog, dmp_now_ms() - c->dedup_window_ms, &t, err);
        if (rc != DMP_OK)
            return rc;
        if (t > from)
            from = t;
    }
    return dmp_evlog_read(elog, from, 0, 0, dd_cb, elog, NULL, err);
}

static void handle_free(dmp_evlog_t *elog)
{
    for (size_t i = 0; i < elog->nsegs; i++)
        dmp_evlog__seg_free(elog->segs[i]);
    dmp_free(elog->segs);
    if (elog->ck_fd >= 0)
        close(elog->ck_fd);
    if (elog->dir_fd >= 0)
        close(elog->dir_fd);
    if (elog->lock_fd >= 0)
        close(elog->lock_fd);
    dmp_buf_free(&elog->w_buf);
    dmp_free(elog->w_pidx);
    dmp_evlog__dedup_fini(&elog->dd);
    pthread_mutex_destroy(&elog->mu);
    pthread_cond_destroy(&elog->cond_done);
    pthread_cond_destroy(&elog->cond_data);
    pthread_cond_destroy(&elog->cond_idle);
    dmp_free(elog->dir);
    dmp_free(elog);
}

int dmp_evlog_open(const char *dir, const dmp_evlog_conf_t *conf, dmp_evlog_t **out,
                   dmp_error_t *err)
{
    dmp_evlog_t *elog = NULL;
    uint64_t *firsts = NULL;
    size_t nfirst = 0;
    uint64_t synced = 0;
    int rc;

    *out = NULL;
    if (!dir || !*dir)
        return DMP_ERR(err, DMP_INVALID, "log directory is empty");
    dmp_evlog_conf_t c;
    if (conf)
        c = *conf;
    else
        dmp_evlog_conf_init(&c);
    if ((rc = conf_check(&c, err)) != DMP_OK)
        return rc;

    elog = dmp_calloc(1, sizeof(*elog));
    elog->dir = dmp_strdup(dir);
    elog->conf = c;
    elog->dir_fd = elog->lock_fd = elog->ck_fd = -1;
    pthread_mutex_init(&elog->mu, NULL);
    pthread_cond_init(&elog->cond_done, NULL);
    pthread_cond_init(&elog->cond_idle, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&elog->cond_data, &ca);
    pthread_condattr_destroy(&ca);

    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        rc = DMP_ERR(err, errno == ENOSPC ? DMP_FULL : DMP_IO, "cannot create log directory %s: %s",
                     dir, strerror(errno));
        goto fail;
    }
    elog->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (elog->dir_fd < 0) {
        rc = DMP_ERR(err, DMP_IO, "cannot open log directory %s: %s", dir, strerror(errno));
        goto fail;
    }
    char *p = dmp_asprintf("%s/LOCK", dir);
    elog->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    dmp_free(p);
    if (elog->lock_fd < 0) {
        rc = DMP_ERR(err, DMP_IO, "cannot create %s/LOCK: %s", dir, strerror(errno));
        goto fail;
    }
    if (flock(elog->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = DMP_ERR(err, DMP_CONFLICT, "log %s is already open (by this or another process)", dir);
        goto fail;
    }
    p = dmp_asprintf("%s/checkpoint", dir);
    elog->ck_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    dmp_free(p);
    if (elog->ck_fd < 0) {
        rc = DMP_ERR(err, DMP_IO, "cannot open %s/checkpoint: %s", dir, strerror(errno));
        goto fail;
    }
    if ((rc = ck_read(elog, &synced, err)) != DMP_OK)
        goto fail;
    elog->ck_seq = synced;
    elog->st.synced_seq = synced;
    if ((rc = list_segments(elog, &firsts, &nfirst, err)) != DMP_OK)
        goto fail;

    if (nfirst == 0) {
        if (synced) {
            rc = DMP_ERR(err, DMP_IO,
                         "log %s has no segment files but its checkpoint says seq %" PRIu64
                         " was acknowledged; refusing to start an empty log",
                         dir, synced);
            goto fail;
        }
        evlog_seg_t *seg;
        uint64_t size;
        if ((rc = open_seg(elog, 1, 1, &seg, &size, err)) != DMP_OK)
            goto fail;
        push_seg(elog, seg);
        if (fsync(elog->dir_fd) != 0) {
            rc = DMP_ERR(err, DMP_IO, "fsync of directory %s failed: %s", dir, strerror(errno));
            goto fail;
        }
    }
    for (size_t i = 0; i < nfirst; i++) {
        int is_last = i + 1 == nfirst;
        evlog_seg_t *seg;
        uint64_t size;
        if ((rc = open_seg(elog, firsts[i], 0, &seg, &size, err)) != DMP_OK)
            goto fail;
        push_seg(elog, seg);
        if (i > 0) {
            evlog_seg_t *prev = elog->segs[i - 1];
            if (prev->last_seq + 1 != seg->first_seq) {
                rc = DMP_ERR(err, DMP_IO,
                             "log %s has a gap: seg-%020" PRIu64 ".log ends at seq %" PRIu64
                             " but the next segment starts at seq %" PRIu64,
                             dir, prev->first_seq, prev->last_seq, seg->first_seq);
                goto fail;
            }
        }
        if (!is_last && c.persist_index && dmp_evlog__idx_load(dir, seg, size)) {
            close(seg->fd);
            seg->fd = -1;
            seg->sealed = 1;
            continue;
        }
        if ((rc = scan_seg(elog, seg, is_last, synced, size, err)) != DMP_OK)
            goto fail;
        if (!is_last && c.persist_index)
            dmp_evlog__idx_save(dir, seg);
        if (!is_last) { /* sealed: its fd is opened again on demand */
            close(seg->fd);
            seg->fd = -1;
            seg->sealed = 1;
        }
    }

    evlog_seg_t *last = elog->segs[elog->nsegs - 1];
    elog->next_seq = last->last_seq + 1;
    if (elog->next_seq - 1 < synced) {
        rc = DMP_ERR(err, DMP_IO,
                     "log %s ends at seq %" PRIu64 " (seg-%020" PRIu64 ".log, offset %" PRIu64
                     ") but its checkpoint says seq %" PRIu64
                     " was acknowledged; acknowledged records are missing",
                     dir, elog->next_seq - 1, last->first_seq, last->size, synced);
        goto fail;
    }
    elog->w_next_seq = elog->next_seq;
    elog->w_off = last->size;
    elog->w_zero_end = last->alloc_end; /* zeros already there need not be written again */
    elog->w_last_ms = last->last_seq >= last->first_seq ? last->last_ms : 0;
    for (size_t i = 0; i < elog->nsegs && !elog->w_last_ms; i++)
        if (elog->segs[i]->last_seq >= elog->segs[i]->first_seq)
            elog->w_last_ms = elog->segs[i]->last_ms;
    elog->ck_last_ms = dmp_now_ms();
    elog->st.segments = elog->nsegs;
    if ((rc = dedup_rebuild(elog, err)) != DMP_OK)
        goto fail;
    elog->st.dedup_entries = elog->dd.mcount;
    dmp_free(firsts);
    *out = elog;
    return DMP_OK;
fail:
    dmp_free(firsts);
    handle_free(elog);
    return rc;
}

/* Sets closing, wakes waiters, waits until no caller and no writer (leader or the
 * checkpoint housekeeper) is inside, then takes the log off the housekeeper's list.
 * Returns the failed flag. */
static int quiesce(dmp_evlog_t *elog)
{
    pthread_mutex_lock(&elog->mu);
    elog->closing = 1;
    pthread_cond_broadcast(&elog->cond_data);
    pthread_cond_broadcast(&elog->cond_done);
    while (elog->users > 0 || elog->writing)
        pthread_cond_wait(&elog->cond_idle, &elog->mu);
    int failed = elog->failed;
    pthread_mutex_unlock(&elog->mu);
    dmp_evlog__ck_undefer(elog);
    return failed;
}

void dmp_evlog__abandon(dmp_evlog_t *elog)
{
    if (!elog)
        return;
    quiesce(elog);
    handle_free(elog);
}

void dmp_evlog_close(dmp_evlog_t *elog)
{
    if (!elog)
        return;
    int failed = quiesce(elog);
    if (!failed && elog->w_next_seq - 1 > elog->ck_seq) {
        dmp_error_t e = {0};
        if (dmp_evlog__ck_write(elog, &e) != DMP_OK)
            dmp_logf(DMP_LOG_ERROR, "evlog: %s", e.msg);
    }
    handle_free(elog);
}
