/* evlog.c -- the read side of the event log: reads by seq, seek by append time, waiting
 * for new records, stats, and deleting a whole log.
 *
 * Readers take elog->mu only to find a segment and pin it (a reference keeps its file
 * descriptor open even if retention deletes the file); the reading itself runs unlocked
 * with pread on the durable part only. Readers never wait for appenders.
 */
#include "evlog_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

void dmp_evlog__seg_free(evlog_seg_t *seg)
{
    if (!seg)
        return;
    if (seg->fd >= 0)
        close(seg->fd);
    dmp_free(seg->idx);
    dmp_free(seg);
}

int dmp_evlog__seg_pin(dmp_evlog_t *elog, evlog_seg_t *seg, dmp_error_t *err)
{
    if (seg->fd < 0) {
        char *p = dmp_evlog__seg_path(elog->dir, seg->first_seq, "log");
        seg->fd = open(p, O_RDONLY | O_CLOEXEC);
        if (seg->fd < 0) {
            int rc = DMP_ERR(err, DMP_IO, "cannot open %s: %s", p, strerror(errno));
            dmp_free(p);
            return rc;
        }
        dmp_free(p);
    }
    seg->refs++;
    seg->pins++;
    return DMP_OK;
}

void dmp_evlog__seg_release(dmp_evlog_t *elog, evlog_seg_t *seg, int pinned)
{
    int fd = -1;
    pthread_mutex_lock(&elog->mu);
    int last = --seg->refs == 0;
    if (pinned && --seg->pins == 0 && seg->sealed && !last) {
        fd = seg->fd;
        seg->fd = -1;
    }
    pthread_mutex_unlock(&elog->mu);
    if (fd >= 0)
        close(fd);
    if (last)
        dmp_evlog__seg_free(seg);
}

void dmp_evlog__fail(dmp_evlog_t *elog, const char *fmt, ...)
{
    if (elog->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(elog->fail_msg, sizeof(elog->fail_msg), fmt, ap);
    va_end(ap);
    elog->failed = 1;
    elog->st.read_only = 1;
    snprintf(elog->st.read_only_reason, sizeof(elog->st.read_only_reason), "%s", elog->fail_msg);
    dmp_logf(DMP_LOG_ERROR, "evlog: %s is now read-only: %s", elog->dir, elog->fail_msg);
}

static void enter(dmp_evlog_t *elog)
{
    elog->users++;
}

static void leave(dmp_evlog_t *elog)
{
    if (--elog->users == 0)
        pthread_cond_broadcast(&elog->cond_idle);
}

/* Index of the segment holding 'seq' (mu held; seq >= segs[0]->first_seq). */
static size_t seg_find(dmp_evlog_t *elog, uint64_t seq)
{
    size_t lo = 0, hi = elog->nsegs;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (elog->segs[mid]->first_seq <= seq)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static int damaged(dmp_evlog_t *elog, const evlog_seg_t *seg, uint64_t off, const char *why,
                   dmp_error_t *err)
{
    char *name = dmp_evlog__seg_path(elog->dir, seg->first_seq, "log");
    int rc = DMP_ERR(err, DMP_IO, "damaged record in %s at offset %" PRIu64 ": %s", name, off, why);
    dmp_error_where(err, "%s:%" PRIu64, name, off);
    dmp_free(name);
    return rc;
}

int dmp_evlog_read(dmp_evlog_t *elog, uint64_t from_seq, size_t max_records, size_t max_bytes,
                   dmp_evlog_read_fn fn, void *ud, dmp_evlog_read_info_t *info, dmp_error_t *err)
{
    dmp_evlog_read_info_t inf = {0};
    evlog_it_t it = {0};
    int rc = DMP_OK, stop = 0;

    pthread_mutex_lock(&elog->mu);
    enter(elog);
    inf.first_seq = elog->segs[0]->first_seq;
    uint64_t end = elog->next_seq;
    pthread_mutex_unlock(&elog->mu);
    if (from_seq == 0)
        from_seq = 1; /* seqs start at 1: from 0 means "from the beginning" */
    if (from_seq < inf.first_seq) {
        inf.gap = 1; /* records before first_seq were deleted by retention */
        from_seq = inf.first_seq;
    }
    uint64_t cur = from_seq;
    while (!stop && cur < end && (!max_records || inf.count < max_records)) {
        pthread_mutex_lock(&elog->mu);
        if (cur < elog->segs[0]->first_seq) { /* retention ran meanwhile */
            cur = elog->segs[0]->first_seq;
            inf.gap = 1;
        }
        evlog_seg_t *seg = elog->segs[seg_find(elog, cur)];
        if (cur > seg->last_seq || seg->nidx == 0) {
            pthread_mutex_unlock(&elog->mu);
            break;
        }
        const evlog_idx_ent_t *ent = dmp_evlog__idx_find_seq(seg, cur);
        uint64_t expect = ent->seq, seg_last = seg->last_seq;
        if ((rc = dmp_evlog__seg_pin(elog, seg, err)) != DMP_OK) {
            pthread_mutex_unlock(&elog->mu);
            break;
        }
        it.fd = seg->fd;
        it.off = ent->off;
        it.end = seg->size;
        it.blen = 0;
        pthread_mutex_unlock(&elog->mu);

        while (!stop) {
            int r = dmp_evlog__it_next(&it);
            if (r == 0)
                break;
            if (r == -3) {
                rc = DMP_ERR(err, DMP_IO, "cannot read the log in %s: %s", elog->dir,
                             strerror(it.sys_errno));
                break;
            }
            if (r < 0) {
                rc = damaged(elog, seg, it.off, it.why, err);
                break;
            }
            if (it.h.seq != expect) {
                char why[96];
                snprintf(why, sizeof(why), "seq %" PRIu64 " where %" PRIu64 " was expected",
                         it.h.seq, expect);
                rc = damaged(elog, seg, it.rec_off, why, err);
                break;
            }
            expect++;
            if (it.h.seq < cur)
                continue;
            if (max_bytes && inf.count && inf.bytes + it.h.len > max_bytes) {
                stop = 1;
                break;
            }
            dmp_evlog_entry_t e = {it.h.seq,   it.h.append_ms, it.h.event_ms, it.h.dedup_key,
                                   it.h.flags, it.payload,     it.h.len};
            inf.count++;
            inf.bytes += it.h.len;
            cur = it.h.seq + 1;
            if (fn && fn(ud, &e) != 0)
                stop = 1;
            if (max_records && inf.count >= max_records)
                stop = 1;
        }
        dmp_evlog__seg_release(elog, seg, 1);
        if (rc != DMP_OK)
            break;
        if (!stop) {
            if (cur <= seg_last) {
                rc = DMP_ERR(err, DMP_IO, "log %s: segment ended before seq %" PRIu64, elog->dir,
                             seg_last);
                break;
            }
        }
    }
    dmp_evlog__it_fini(&it);
    pthread_mutex_lock(&elog->mu);
    leave(elog);
    pthread_mutex_unlock(&elog->mu);
    inf.next_seq = cur;
    if (info)
        *info = inf;
    return rc;
}

int dmp_evlog_seek_time(dmp_evlog_t *elog, int64_t append_ms, uint64_t *seq, dmp_error_t *err)
{
    evlog_it_t it = {0};
    int rc = DMP_OK;

    pthread_mutex_lock(&elog->mu);
    /* First non-empty segment whose last record is at or after append_ms. */
    size_t lo = 0, hi = elog->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        evlog_seg_t *s = elog->segs[mid];
        if (s->last_seq >= s->first_seq && s->last_ms >= append_ms)
            hi = mid;
        else
            lo = mid + 1;
    }
    /* An empty segment can only be the last one, so the predicate is monotonic. */
    if (lo == elog->nsegs) {
        *seq = elog->next_seq;
        pthread_mutex_unlock(&elog->mu);
        return DMP_OK;
    }
    evlog_seg_t *seg = elog->segs[lo];
    if (seg->first_ms >= append_ms || seg->nidx == 0) {
        *seq = seg->first_seq;
        pthread_mutex_unlock(&elog->mu);
        return DMP_OK;
    }
    const evlog_idx_ent_t *ent = dmp_evlog__idx_find_time(seg, append_ms);
    if ((rc = dmp_evlog__seg_pin(elog, seg, err)) != DMP_OK) {
        pthread_mutex_unlock(&elog->mu);
        return rc;
    }
    it.fd = seg->fd;
    it.off = ent->off;
    it.end = seg->size;
    *seq = seg->last_seq + 1;
    pthread_mutex_unlock(&elog->mu);
    for (;;) {
        int r = dmp_evlog__it_next(&it);
        if (r == 0)
            break;
        if (r < 0) {
            rc = r == -3 ? DMP_ERR(err, DMP_IO, "cannot read the log in %s: %s", elog->dir,
                                   strerror(it.sys_errno))
                         : damaged(elog, seg, it.off, it.why, err);
            break;
        }
        if (it.h.append_ms >= append_ms) {
            *seq = it.h.seq;
            break;
        }
    }
    dmp_evlog__it_fini(&it);
    dmp_evlog__seg_release(elog, seg, 1);
    return rc;
}

uint64_t dmp_evlog_next_seq(dmp_evlog_t *elog)
{
    pthread_mutex_lock(&elog->mu);
    uint64_t s = elog->next_seq;
    pthread_mutex_unlock(&elog->mu);
    return s;
}

uint64_t dmp_evlog_first_seq(dmp_evlog_t *elog)
{
    pthread_mutex_lock(&elog->mu);
    uint64_t s = elog->segs[0]->first_seq;
    pthread_mutex_unlock(&elog->mu);
    return s;
}

int dmp_evlog_wait(dmp_evlog_t *elog, uint64_t after_seq, int timeout_ms, uint64_t *next_seq)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    if (timeout_ms > 0) {
        dl.tv_sec += timeout_ms / 1000;
        dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (dl.tv_nsec >= 1000000000) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000;
        }
    }
    int rc = DMP_OK;
    pthread_mutex_lock(&elog->mu);
    enter(elog);
    while (elog->next_seq <= after_seq + 1) {
        if (elog->closing) {
            rc = DMP_UNAVAILABLE;
            break;
        }
        if (timeout_ms == 0) {
            rc = DMP_TIMEOUT;
            break;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&elog->cond_data, &elog->mu);
        } else if (pthread_cond_timedwait(&elog->cond_data, &elog->mu, &dl) == ETIMEDOUT &&
                   elog->next_seq <= after_seq + 1) {
            rc = elog->closing ? DMP_UNAVAILABLE : DMP_TIMEOUT;
            break;
        }
    }
    if (next_seq)
        *next_seq = elog->next_seq;
    leave(elog);
    pthread_mutex_unlock(&elog->mu);
    return rc;
}

void dmp_evlog_stats(dmp_evlog_t *elog, dmp_evlog_stats_t *out)
{
    pthread_mutex_lock(&elog->mu);
    *out = elog->st;
    out->first_seq = elog->segs[0]->first_seq;
    out->next_seq = elog->next_seq;
    out->segments = elog->nsegs;
    out->bytes = 0;
    for (size_t i = 0; i < elog->nsegs; i++)
        out->bytes += elog->segs[i]->size;
    pthread_mutex_unlock(&elog->mu);
}

static int is_log_file(const char *n)
{
    size_t len = strlen(n);
    if (!strcmp(n, "LOCK") || !strcmp(n, "checkpoint"))
        return 1;
    if (strncmp(n, "seg-", 4) != 0)
        return 0;
    return (len > 4 && !strcmp(n + len - 4, ".log")) || (len > 4 && !strcmp(n + len - 4, ".idx")) ||
           (len > 8 && !strcmp(n + len - 8, ".idx.tmp"));
}

int dmp_evlog_destroy(const char *dir, dmp_error_t *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return DMP_ERR(err, errno == ENOENT ? DMP_NOTFOUND : DMP_IO,
                       "cannot open log directory %s: %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (!is_log_file(de->d_name)) {
            int rc = DMP_ERR(err, DMP_CONFLICT,
                             "%s holds '%s', which is not part of an event log; not deleting", dir,
                             de->d_name);
            closedir(d);
            return rc;
        }
    }
    char *lp = dmp_asprintf("%s/LOCK", dir);
    int lfd = open(lp, O_RDWR | O_CLOEXEC);
    dmp_free(lp);
    if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) != 0) {
        close(lfd);
        closedir(d);
        return DMP_ERR(err, DMP_CONFLICT, "log %s is open; close it before deleting it", dir);
    }
    int rc = DMP_OK;
    rewinddir(d);
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, "LOCK"))
            continue;
        char *p = dmp_asprintf("%s/%s", dir, de->d_name);
        if (unlink(p) != 0 && errno != ENOENT && rc == DMP_OK)
            rc = DMP_ERR(err, DMP_IO, "cannot delete %s: %s", p, strerror(errno));
        dmp_free(p);
    }
    closedir(d);
    if (rc == DMP_OK) {
        lp = dmp_asprintf("%s/LOCK", dir);
        unlink(lp);
        dmp_free(lp);
        if (rmdir(dir) != 0)
            rc = DMP_ERR(err, DMP_IO, "cannot remove log directory %s: %s", dir, strerror(errno));
    }
    if (lfd >= 0)
        close(lfd);
    return rc;
}
