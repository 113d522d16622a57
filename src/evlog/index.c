/* index.c -- the sparse per-segment index: lookup by seq and by append time, and its
 * optional persisted copy seg-<first_seq>.idx for sealed segments.
 *
 * The in-memory index is modified only by the writer under elog->mu and read under mu.
 * The .idx file is a cache: it is never fsync'd and never trusted without its crc and a
 * matching segment size.
 */
#include "evlog_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *dmp_evlog__seg_path(const char *dir, uint64_t first_seq, const char *ext)
{
    return dmp_asprintf("%s/seg-%020" PRIu64 ".%s", dir, first_seq, ext);
}

void dmp_evlog__idx_push(evlog_seg_t *seg, uint64_t seq, uint64_t off, int64_t ms)
{
    if (seg->nidx == seg->capidx) {
        seg->capidx = seg->capidx ? seg->capidx * 2 : 16;
        seg->idx = dmp_realloc(seg->idx, seg->capidx * sizeof(*seg->idx));
    }
    seg->idx[seg->nidx++] = (evlog_idx_ent_t){seq, off, ms};
}

const evlog_idx_ent_t *dmp_evlog__idx_find_seq(const evlog_seg_t *seg, uint64_t seq)
{
    size_t lo = 0, hi = seg->nidx; /* answer in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (seg->idx[mid].seq <= seq)
            lo = mid;
        else
            hi = mid;
    }
    return &seg->idx[lo];
}

const evlog_idx_ent_t *dmp_evlog__idx_find_time(const evlog_seg_t *seg, int64_t ms)
{
    size_t lo = 0, hi = seg->nidx;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (seg->idx[mid].append_ms < ms)
            lo = mid;
        else
            hi = mid;
    }
    return &seg->idx[lo];
}

void dmp_evlog__idx_save(const char *dir, const evlog_seg_t *seg)
{
    if (seg->nidx == 0)
        return;
    size_t len = EVLOG_IDX_HDR + 24 * seg->nidx + 4;
    uint8_t *b = dmp_malloc(len);
    evlog_put32(b, EVLOG_IDX_MAGIC);
    evlog_put32(b + 4, (uint32_t)seg->nidx);
    evlog_put64(b + 8, seg->size);
    evlog_put64(b + 16, seg->last_seq);
    evlog_put64(b + 24, (uint64_t)seg->first_ms);
    evlog_put64(b + 32, (uint64_t)seg->last_ms);
    for (size_t i = 0; i < seg->nidx; i++) {
        uint8_t *e = b + EVLOG_IDX_HDR + 24 * i;
        evlog_put64(e, seg->idx[i].seq);
        evlog_put64(e + 8, seg->idx[i].off);
        evlog_put64(e + 16, (uint64_t)seg->idx[i].append_ms);
    }
    evlog_put32(b + len - 4, dmp_evlog__crc32c(0, b, len - 4));
    char *path = dmp_evlog__seg_path(dir, seg->first_seq, "idx");
    char *tmp = dmp_asprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ssize_t w = write(fd, b, len);
        close(fd);
        if (w == (ssize_t)len && rename(tmp, path) == 0)
            goto out;
        unlink(tmp);
    }
    dmp_logf(DMP_LOG_WARN, "evlog: could not write %s: %s (it will be rebuilt on open)", path,
             strerror(errno));
out:
    dmp_free(tmp);
    dmp_free(path);
    dmp_free(b);
}

int dmp_evlog__idx_load(const char *dir, evlog_seg_t *seg, uint64_t file_size)
{
    char *path = dmp_evlog__seg_path(dir, seg->first_seq, "idx");
    char *buf = NULL;
    size_t len = 0;
    int ok = 0;
    if (dmp_read_file(path, 64u * 1024 * 1024, &buf, &len, NULL) != DMP_OK)
        goto out;
    const uint8_t *b = (const uint8_t *)buf;
    if (len < EVLOG_IDX_HDR + 24 + 4 || evlog_get32(b) != EVLOG_IDX_MAGIC)
        goto out;
    uint32_t count = evlog_get32(b + 4);
    if (count == 0 || len != EVLOG_IDX_HDR + 24 * (size_t)count + 4)
        goto out;
    if (evlog_get32(b + len - 4) != dmp_evlog__crc32c(0, b, len - 4))
        goto out;
    if (evlog_get64(b + 8) != file_size)
        goto out;
    uint64_t last_seq = evlog_get64(b + 16);
    uint64_t prev_seq = 0, prev_off = 0;
    int64_t prev_ms = INT64_MIN;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = b + EVLOG_IDX_HDR + 24 * (size_t)i;
        uint64_t s = evlog_get64(e), off = evlog_get64(e + 8);
        int64_t ms = (int64_t)evlog_get64(e + 16);
        if ((i == 0 && (s != seg->first_seq || off != 0)) ||
            (i > 0 && (s <= prev_seq || off <= prev_off || ms < prev_ms)) || s > last_seq ||
            off >= file_size) {
            seg->nidx = 0;
            goto out;
        }
        dmp_evlog__idx_push(seg, s, off, ms);
        prev_seq = s;
        prev_off = off;
        prev_ms = ms;
    }
    seg->last_seq = last_seq;
    seg->size = file_size;
    seg->first_ms = (int64_t)evlog_get64(b + 24);
    seg->last_ms = (int64_t)evlog_get64(b + 32);
    ok = 1;
out:
    dmp_free(buf);
    dmp_free(path);
    return ok;
}
