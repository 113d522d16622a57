/* writer.c -- appends: group commit, segment roll, de-dup and retention.
 *
 * Group commit: an appender queues its request under elog->mu. If no leader is writing it
 * becomes the leader, takes the whole queue, and - without holding mu - assigns seqs,
 * de-duplicates, encodes every record into one buffer, writes it with one pwrite and makes
 * it durable with one fdatasync. Then, under mu, it publishes the records to readers, marks
 * the requests done and wakes everyone. Waiting appenders either find their request done or
 * take the leader role for what queued meanwhile.
 * Invariant: only the leader touches the w_* fields, the dedup window and the active
 * segment's file; readers never see a record before its fdatasync returned.
 * A failed fdatasync is never retried: the log turns read-only (what the kernel dropped
 * cannot be known). A failed write is undone with ftruncate and the log stays usable.
 */
#include "evlog_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int (*dmp_evlog__fdatasync_hook)(int fd) = fdatasync;
ssize_t (*dmp_evlog__pwrite_hook)(int fd, const void *buf, size_t n, off_t off) = pwrite;

static evlog_seg_t *active_seg(dmp_evlog_t *elog)
{
    return elog->segs[elog->nsegs - 1];
}

/* Marks requests [from, to) done with 'rc' (mu held). */
static void finish_reqs(evlog_req_t *from, evlog_req_t *to, int rc, const dmp_error_t *e)
{
    for (evlog_req_t *r = from; r != to; r = r->next) {
        r->rc = rc;
        if (rc != DMP_OK && e)
            r->err = *e;
        r->done = 1;
    }
}

static int write_all(dmp_evlog_t *elog, int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t w = dmp_evlog__pwrite_hook(fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* Fills the active segment with zeros ahead of the chunk about to be written, prealloc_bytes
 * at a time (never past the segment's size limit, unless the chunk itself goes past it).
 * An fdatasync of records written over zeros already in the file changes no size and no
 * block map, so it writes no inode: one I/O less per group commit (measured: about 7% more
 * single-event acknowledgements, docs/performance.md). Recovery reads zeros after the last
 * record as this space, not as damage (recover.c). Best effort: a failure here only means
 * the records extend the file themselves. Leader only. */
static void prefill(dmp_evlog_t *elog, evlog_seg_t *seg)
{
    static const uint8_t zeros[64 * 1024];
    uint64_t step = elog->conf.prealloc_bytes;
    uint64_t end = elog->w_off + elog->w_buf.len;
    if (step == 0 || end <= elog->w_zero_end)
        return;
    uint64_t target = (end + step - 1) / step * step;
    uint64_t cap = elog->conf.segment_bytes > end ? elog->conf.segment_bytes : end;
    if (target > cap)
        target = cap;
    uint64_t at = elog->w_zero_end > elog->w_off ? elog->w_zero_end : elog->w_off;
    while (at < target) {
        size_t n = target - at < sizeof(zeros) ? (size_t)(target - at) : sizeof(zeros);
        ssize_t w = pwrite(seg->fd, zeros, n, (off_t)at);
        if (w <= 0)
            break; /* the records will extend the file themselves */
        at += (uint64_t)w;
    }
    elog->w_zero_end = at;
}

/* Undoes the leader's unpublished work back to the state at 'first_seq' / 'off'. */
static void rollback(dmp_evlog_t *elog, uint64_t first_seq, uint64_t idx_off, int idx_any)
{
    dmp_evlog__dedup_rollback(&elog->dd, first_seq);
    elog->w_next_seq = first_seq;
    elog->w_idx_off = idx_off;
    elog->w_idx_any = idx_any;
    elog->w_npidx = 0;
    dmp_buf_reset(&elog->w_buf);
}

/* Writes and syncs w_buf, then publishes requests [from, to). On failure finishes them (and
 * every later one) with the error and returns it. */
static int flush_chunk(dmp_evlog_t *elog, evlog_req_t *from, evlog_req_t *to, uint64_t chunk_seq,
                       uint64_t idx_off, int idx_any, int64_t last_ms)
{
    dmp_error_t e = {0};
    int rc = DMP_OK;
    evlog_seg_t *seg;
    int synced = 0;

    pthread_mutex_lock(&elog->mu);
    seg = active_seg(elog);
    pthread_mutex_unlock(&elog->mu);

    if (elog->w_buf.len)
        prefill(elog, seg);
    if (elog->w_buf.len) {
        char *name = dmp_evlog__seg_path(elog->dir, seg->first_seq, "log");
        if (write_all(elog, seg->fd, (const uint8_t *)elog->w_buf.data, elog->w_buf.len,
                      elog->w_off) != 0) {
            int en = errno;
            if (en == ENOSPC || en == EDQUOT) {
                rc = DMP_ERR(&e, DMP_FULL, "no space left to append to %s: %s", name, strerror(en));
                e.retriable = 1;
            } else {
                rc = DMP_ERR(&e, DMP_IO, "write to %s failed: %s", name, strerror(en));
                e.sys_errno = en;
            }
            /* Cut off whatever part did land, so the next write starts clean. */
            elog->w_zero_end = elog->w_off;
            if (ftruncate(seg->fd, (off_t)elog->w_off) != 0) {
                pthread_mutex_lock(&elog->mu);
                dmp_evlog__fail(elog, "ftruncate of %s after a failed write failed: %s", name,
                                strerror(errno));
                pthread_mutex_unlock(&elog->mu);
            }
        } else {
            pthread_mutex_lock(&elog->mu);
            elog->st.writes++;
            pthread_mutex_unlock(&elog->mu);
            if (dmp_evlog__fdatasync_hook(seg->fd) != 0) {
                int en = errno;
                pthread_mutex_lock(&elog->mu);
                elog->st.syncs++;
                dmp_evlog__fail(elog, "fdatasync of %s failed: %s", name, strerror(en));
                rc = DMP_ERR(&e, DMP_UNAVAILABLE, "log %s is read-only: %s", elog->dir,
                             elog->fail_msg);
                pthread_mutex_unlock(&elog->mu);
            } else {
                synced = 1;
            }
        }
        dmp_free(name);
    }

    pthread_mutex_lock(&elog->mu);
    if (rc != DMP_OK) {
        rollback(elog, chunk_seq, idx_off, idx_any);
        finish_reqs(from, NULL, rc, &e);
        pthread_cond_broadcast(&elog->cond_done);
        pthread_mutex_unlock(&elog->mu);
        return rc;
    }
    if (synced)
        elog->st.syncs++;
    if (elog->w_buf.len) {
        for (size_t i = 0; i < elog->w_npidx; i++)
            dmp_evlog__idx_push(seg, elog->w_pidx[i].seq, elog->w_pidx[i].off,
                                elog->w_pidx[i].append_ms);
        seg->first_ms = seg->idx[0].append_ms;
        seg->last_ms = last_ms;
        seg->size = elog->w_off + elog->w_buf.len;
        seg->last_seq = elog->w_next_seq - 1;
        elog->st.appended += elog->w_next_seq - chunk_seq;
        elog->next_seq = elog->w_next_seq;
        elog->st.dedup_entries = elog->dd.mcount;
        pthread_cond_broadcast(&elog->cond_data);
    }
    for (evlog_req_t *r = from; r != to; r = r->next)
        elog->st.append_calls++;
    finish_reqs(from, to, DMP_OK, NULL);
    pthread_cond_broadcast(&elog->cond_done);
    pthread_mutex_unlock(&elog->mu);
    elog->w_off += elog->w_buf.len;
    elog->w_npidx = 0;
    dmp_buf_reset(&elog->w_buf);
    return DMP_OK;
}

/* Seals the active segment and starts seg-<w_next_seq>.log. */
static int roll(dmp_evlog_t *elog, dmp_error_t *e)
{
    evlog_seg_t *old;
    pthread_mutex_lock(&elog->mu);
    old = active_seg(elog);
    pthread_mutex_unlock(&elog->mu);
    /* The sealed segment keeps no zeros past its records (best effort: recovery reads a
     * zero tail as filled-ahead space anyway). */
    if (elog->w_zero_end > elog->w_off && ftruncate(old->fd, (off_t)elog->w_off) == 0)
        old->alloc_end = elog->w_off;
    if (elog->conf.persist_index)
        dmp_evlog__idx_save(elog->dir, old);

    char *path = dmp_evlog__seg_path(elog->dir, elog->w_next_seq, "log");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int en = errno;
        int rc = (en == ENOSPC || en == EDQUOT)
                     ? DMP_ERR(e, DMP_FULL, "cannot create %s: %s", path, strerror(en))
                     : DMP_ERR(e, DMP_IO, "cannot create %s: %s", path, strerror(en));
        if (rc == DMP_FULL)
            e->retriable = 1;
        dmp_free(path);
        return rc;
    }
    if (dmp_evlog__fdatasync_hook(elog->dir_fd) != 0) {
        int en = errno;
        close(fd);
        pthread_mutex_lock(&elog->mu);
        dmp_evlog__fail(elog, "fsync of directory %s failed: %s", elog->dir, strerror(en));
        int rc = DMP_ERR(e, DMP_UNAVAILABLE, "log %s is read-only: %s", elog->dir, elog->fail_msg);
        pthread_mutex_unlock(&elog->mu);
        dmp_free(path);
        return rc;
    }
    dmp_free(path);
    evlog_seg_t *seg = dmp_calloc(1, sizeof(*seg));
    seg->first_seq = elog->w_next_seq;
    seg->last_seq = seg->first_seq - 1;
    seg->fd = fd;
    seg->refs = 1;
    int old_fd = -1;
    pthread_mutex_lock(&elog->mu);
    old->sealed = 1;
    if (old->pins == 0) {
        old_fd = old->fd;
        old->fd = -1;
    }
    if (elog->nsegs == elog->capsegs) {
        elog->capsegs = elog->capsegs ? elog->capsegs * 2 : 16;
        elog->segs = dmp_realloc(elog->segs, elog->capsegs * sizeof(*elog->segs));
    }
    elog->segs[elog->nsegs++] = seg;
    elog->st.segments = elog->nsegs;
    pthread_mutex_unlock(&elog->mu);
    if (old_fd >= 0)
        close(old_fd);
    elog->w_off = 0;
    elog->w_zero_end = 0;
    elog->w_idx_off = 0;
    elog->w_idx_any = 0;
    return DMP_OK;
}

static void pidx_push(dmp_evlog_t *elog, uint64_t seq, uint64_t off, int64_t ms)
{
    if (elog->w_npidx == elog->w_cappidx) {
        elog->w_cappidx = elog->w_cappidx ? elog->w_cappidx * 2 : 64;
        elog->w_pidx = dmp_realloc(elog->w_pidx, elog->w_cappidx * sizeof(*elog->w_pidx));
    }
    elog->w_pidx[elog->w_npidx++] = (evlog_idx_ent_t){seq, off, ms};
}

/* Assigns seqs to one request's records, de-duplicates them and encodes the new ones into
 * w_buf. */
static void encode_req(dmp_evlog_t *elog, evlog_req_t *r, int64_t now)
{
    const dmp_evlog_conf_t *c = &elog->conf;
    if (now < elog->w_last_ms)
        now = elog->w_last_ms; /* append time never decreases */
    elog->w_last_ms = now;
    if (c->dedup_window_count || c->dedup_window_ms) {
        uint64_t min_seq = 0;
        if (c->dedup_window_count && elog->w_next_seq > c->dedup_window_count)
            min_seq = elog->w_next_seq - c->dedup_window_count;
        int64_t min_ms = c->dedup_window_ms ? now - c->dedup_window_ms : INT64_MIN;
        dmp_evlog__dedup_evict(&elog->dd, min_seq, min_ms);
    }
    int dedup_on = c->dedup_window_count || c->dedup_window_ms;
    r->first_seq = 0;
    r->ndup = 0;
    for (size_t i = 0; i < r->n; i++) {
        const dmp_evlog_rec_t *rec = &r->recs[i];
        uint64_t dup = dedup_on ? dmp_evlog__dedup_find(&elog->dd, rec->dedup_key) : 0;
        if (dup) {
            r->ndup++;
            if (r->results)
                r->results[i] = (dmp_evlog_result_t){dup, 1};
            continue;
        }
        uint64_t seq = elog->w_next_seq++;
        if (!r->first_seq)
            r->first_seq = seq;
        if (r->results)
            r->results[i] = (dmp_evlog_result_t){seq, 0};
        if (dedup_on)
            dmp_evlog__dedup_add(&elog->dd, rec->dedup_key, seq, now);
        uint64_t off = elog->w_off + elog->w_buf.len;
        if (!elog->w_idx_any || off - elog->w_idx_off >= c->index_interval_bytes) {
            pidx_push(elog, seq, off, now);
            elog->w_idx_off = off;
            elog->w_idx_any = 1;
        }
        /* synced_before: next_seq (written only by the leader, so no lock needed here) is
         * the published durable end; every seq below it was fdatasync'd */
        evlog_hdr_t h = {(uint32_t)rec->len, seq, now, rec->event_ms, rec->dedup_key,
                         rec->flags, elog->next_seq - 1, EVLOG_HDR};
        dmp_buf_reserve(&elog->w_buf, EVLOG_HDR + rec->len);
        dmp_evlog__rec_encode((uint8_t *)elog->w_buf.data + elog->w_buf.len, &h, rec->payload);
        elog->w_buf.len += EVLOG_HDR + rec->len;
    }
}

static size_t req_bytes(const evlog_req_t *r)
{
    size_t b = 0;
    for (size_t i = 0; i < r->n; i++)
        b += EVLOG_HDR + r->recs[i].len;
    return b;
}

static void maybe_checkpoint(dmp_evlog_t *elog, int force)
{
    int64_t now = dmp_now_ms();
    uint64_t durable = elog->w_next_seq - 1;
    if (durable <= elog->ck_seq)
        return;
    if (!force && now - elog->ck_last_ms < elog->conf.checkpoint_interval_ms) {
        /* not yet: the housekeeper writes it when the interval is up, if no later group
         * has by then, so an idle log's checkpoint catches up */
        dmp_evlog__ck_defer(elog, elog->ck_last_ms + elog->conf.checkpoint_interval_ms);
        return;
    }
    dmp_error_t e = {0};
    if (dmp_evlog__ck_write(elog, &e) != DMP_OK)
        dmp_logf(DMP_LOG_ERROR, "evlog: %s", e.msg);
}

/* The leader's work on a taken batch. Called without mu. */
static void lead(dmp_evlog_t *elog, evlog_req_t *batch)
{
    evlog_req_t *chunk = batch;
    uint64_t chunk_seq = elog->w_next_seq;
    uint64_t idx_off = elog->w_idx_off;
    int idx_any = elog->w_idx_any, rolled = 0;
    int64_t now = dmp_now_ms();

    for (evlog_req_t *r = batch; r; r = r->next) {
        uint64_t need = req_bytes(r);
        if (elog->w_off + elog->w_buf.len > 0 &&
            elog->w_off + elog->w_buf.len + need > elog->conf.segment_bytes) {
            if (flush_chunk(elog, chunk, r, chunk_seq, idx_off, idx_any, elog->w_last_ms) != DMP_OK)
                return;
            dmp_error_t e = {0};
            int rc = roll(elog, &e);
            if (rc != DMP_OK) {
                pthread_mutex_lock(&elog->mu);
                finish_reqs(r, NULL, rc, &e);
                pthread_cond_broadcast(&elog->cond_done);
                pthread_mutex_unlock(&elog->mu);
                return;
            }
            rolled = 1;
            chunk = r;
            chunk_seq = elog->w_next_seq;
            idx_off = elog->w_idx_off;
            idx_any = elog->w_idx_any;
        }
        encode_req(elog, r, now);
    }
    if (flush_chunk(elog, chunk, NULL, chunk_seq, idx_off, idx_any, elog->w_last_ms) != DMP_OK)
        return;
    maybe_checkpoint(elog, rolled || elog->conf.checkpoint_interval_ms == 0);
    if ((elog->conf.retention_ms || elog->conf.retention_bytes) &&
        (rolled || now - elog->retain_last_ms >= 1000)) {
        elog->retain_last_ms = now;
        dmp_evlog_retain(elog, NULL);
    }
}

int dmp_evlog_append(dmp_evlog_t *elog, const dmp_evlog_rec_t *recs, size_t n, uint64_t *first_seq,
                     dmp_evlog_result_t *results, dmp_error_t *err)
{
    if (first_seq)
        *first_seq = 0;
    if (n == 0 || !recs)
        return DMP_ERR(err, DMP_INVALID, "append needs at least one record (got %zu)", n);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].len > elog->conf.max_record_bytes)
            return DMP_ERR(err, DMP_LIMIT,
                           "record %zu is %zu bytes, over the %" PRIu32 "-byte record limit", i,
                           recs[i].len, elog->conf.max_record_bytes);
        if (recs[i].len && !recs[i].payload)
            return DMP_ERR(err, DMP_INVALID, "record %zu has a length but no payload", i);
        total += EVLOG_HDR + recs[i].len;
    }
    if (total > elog->conf.max_append_bytes)
        return DMP_ERR(err, DMP_LIMIT,
                       "append of %zu records is %" PRIu64 " bytes, over the %" PRIu64
                       "-byte limit",
                       n, total, elog->conf.max_append_bytes);

    evlog_req_t req = {.recs = recs, .n = n, .results = results};
    pthread_mutex_lock(&elog->mu);
    if (elog->failed || elog->closing) {
        int rc =
            DMP_ERR(err, DMP_UNAVAILABLE, "log %s is %s%s", elog->dir,
                    elog->failed ? "read-only: " : "closing", elog->failed ? elog->fail_msg : "");
        pthread_mutex_unlock(&elog->mu);
        return rc;
    }
    elog->users++;
    if (elog->q_tail)
        elog->q_tail->next = &req;
    else
        elog->q_head = &req;
    elog->q_tail = &req;
    while (!req.done) {
        if (!elog->writing) {
            evlog_req_t *batch = elog->q_head;
            elog->q_head = elog->q_tail = NULL;
            if (elog->failed) {
                dmp_error_t e = {0};
                DMP_ERR(&e, DMP_UNAVAILABLE, "log %s is read-only: %s", elog->dir, elog->fail_msg);
                finish_reqs(batch, NULL, DMP_UNAVAILABLE, &e);
                pthread_cond_broadcast(&elog->cond_done);
                break;
            }
            elog->writing = 1;
            pthread_mutex_unlock(&elog->mu);
            lead(elog, batch);
            pthread_mutex_lock(&elog->mu);
            elog->writing = 0;
            pthread_cond_broadcast(&elog->cond_done);
        } else {
            pthread_cond_wait(&elog->cond_done, &elog->mu);
        }
    }
    if (req.rc == DMP_OK)
        elog->st.duplicates += req.ndup;
    if (--elog->users == 0)
        pthread_cond_broadcast(&elog->cond_idle);
    pthread_mutex_unlock(&elog->mu);
    if (req.rc != DMP_OK) {
        if (err)
            *err = req.err;
        return req.rc;
    }
    if (first_seq)
        *first_seq = req.first_seq;
    return DMP_OK;
}

int dmp_evlog_retain(dmp_evlog_t *elog, dmp_error_t *err)
{
    const dmp_evlog_conf_t *c = &elog->conf;
    if (!c->retention_ms && !c->retention_bytes)
        return DMP_OK;
    int64_t cutoff = dmp_now_ms() - c->retention_ms;
    evlog_seg_t **gone = NULL;
    size_t ngone = 0;

    pthread_mutex_lock(&elog->mu);
    uint64_t total = 0;
    for (size_t i = 0; i < elog->nsegs; i++)
        total += elog->segs[i]->size;
    size_t k = 0;
    while (elog->nsegs - k > 1) {
        evlog_seg_t *s = elog->segs[k];
        int by_time = c->retention_ms && s->last_seq >= s->first_seq && s->last_ms < cutoff;
        int by_size = c->retention_bytes && total > c->retention_bytes;
        if (!by_time && !by_size)
            break;
        total -= s->size;
        k++;
    }
    if (k) {
        gone = dmp_malloc(k * sizeof(*gone));
        memcpy(gone, elog->segs, k * sizeof(*gone));
        ngone = k;
        memmove(elog->segs, elog->segs + k, (elog->nsegs - k) * sizeof(*elog->segs));
        elog->nsegs -= k;
        elog->st.segments = elog->nsegs;
        elog->st.segments_deleted += k;
    }
    pthread_mutex_unlock(&elog->mu);

    int rc = DMP_OK;
    for (size_t i = 0; i < ngone; i++) {
        char *p = dmp_evlog__seg_path(elog->dir, gone[i]->first_seq, "log");
        if (unlink(p) != 0 && errno != ENOENT && rc == DMP_OK)
            rc = DMP_ERR(err, DMP_IO, "retention could not delete %s: %s", p, strerror(errno));
        dmp_free(p);
        p = dmp_evlog__seg_path(elog->dir, gone[i]->first_seq, "idx");
        unlink(p);
        dmp_free(p);
    }
    if (ngone && fsync(elog->dir_fd) != 0 && rc == DMP_OK)
        rc = DMP_ERR(err, DMP_IO, "fsync of directory %s failed: %s", elog->dir, strerror(errno));
    for (size_t i = 0; i < ngone; i++)
        dmp_evlog__seg_release(elog, gone[i], 0);
    dmp_free(gone);
    return rc;
}
