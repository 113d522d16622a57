/* segment.c -- the record format: encoding, checking, and the CloudEvents de-dup key.
 *
 * Pure functions over bytes; no file descriptors and no locks here. The record layout is
 * drawn in evlog_int.h.
 */
#include "evlog_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void dmp_evlog__rec_encode(uint8_t *dst, const evlog_hdr_t *h, const void *payload)
{
    evlog_put32(dst, EVLOG_MAGIC);
    evlog_put32(dst + 4, h->len);
    evlog_put64(dst + 8, h->seq);
    evlog_put64(dst + 16, (uint64_t)h->append_ms);
    evlog_put64(dst + 24, (uint64_t)h->event_ms);
    evlog_put64(dst + 32, h->dedup_key);
    evlog_put32(dst + 40, h->flags);
    evlog_put64(dst + 44, h->synced_before);
    if (h->len)
        memcpy(dst + EVLOG_HDR, payload, h->len);
    uint32_t crc = dmp_evlog__crc32c(0, dst + 4, EVLOG_HDR - 8);
    crc = dmp_evlog__crc32c(crc, dst + EVLOG_HDR, h->len);
    evlog_put32(dst + EVLOG_HDR - 4, crc);
}

int dmp_evlog__rec_check(const uint8_t *p, size_t avail, evlog_hdr_t *h, const char **why)
{
    if (avail < 4)
        return 0;
    size_t hdr = evlog_hdr_size(evlog_get32(p));
    if (hdr == 0) {
        *why = "bad magic";
        return -1;
    }
    if (avail < 8)
        return 0;
    h->len = evlog_get32(p + 4);
    if (h->len > DMP_EVLOG_MAX_PAYLOAD) {
        *why = "length over the 64 MiB limit";
        return -1;
    }
    if (avail < hdr + (size_t)h->len)
        return 0;
    /* v1 and v2 alike: the crc is the header's last 4 bytes and covers the rest of the
     * header after the magic, then the payload */
    uint32_t crc = dmp_evlog__crc32c(0, p + 4, hdr - 8);
    crc = dmp_evlog__crc32c(crc, p + hdr, h->len);
    if (crc != evlog_get32(p + hdr - 4)) {
        *why = "crc mismatch";
        return -1;
    }
    h->seq = evlog_get64(p + 8);
    h->append_ms = (int64_t)evlog_get64(p + 16);
    h->event_ms = (int64_t)evlog_get64(p + 24);
    h->dedup_key = evlog_get64(p + 32);
    h->flags = evlog_get32(p + 40);
    h->synced_before = hdr == EVLOG_HDR ? evlog_get64(p + 44) : 0;
    h->hdr_len = (uint32_t)hdr;
    if (hdr == EVLOG_HDR && h->synced_before >= h->seq) {
        *why = "synced-before field not below the record's seq";
        return -1;
    }
    return 1;
}

/* FNV-1a over "source\0id", then a splitmix64 finaliser to spread the bits. */
uint64_t dmp_evlog_dedup_key(const char *source, const char *id)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const char *parts[2] = {source ? source : "", id ? id : ""};
    for (int i = 0; i < 2; i++) {
        for (const unsigned char *s = (const unsigned char *)parts[i]; *s; s++) {
            h ^= *s;
            h *= 0x100000001b3ull;
        }
        h ^= 0xff; /* separator: ("ab","c") and ("a","bc") differ */
        h *= 0x100000001b3ull;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h ? h : 1;
}

static int it_fill(evlog_it_t *it, size_t need)
{
    uint64_t left = it->end - it->off;
    size_t want = need > 256 * 1024 ? need : 256 * 1024;
    if (want > left)
        want = (size_t)left;
    if (it->cap < want) {
        dmp_free(it->buf);
        it->cap = want;
        it->buf = dmp_malloc(it->cap);
    }
    size_t got = 0;
    while (got < want) {
        ssize_t r = pread(it->fd, it->buf + got, want - got, (off_t)(it->off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            it->sys_errno = errno;
            return -3;
        }
        if (r == 0)
            break; /* the file is shorter than 'end' */
        got += (size_t)r;
    }
    it->bstart = it->off;
    it->blen = got;
    return 0;
}

int dmp_evlog__it_next(evlog_it_t *it)
{
    if (it->off >= it->end)
        return 0;
    for (int pass = 0;; pass++) {
        size_t in = 0;
        const uint8_t *p = NULL;
        if (it->off >= it->bstart && it->off < it->bstart + it->blen) {
            p = it->buf + (it->off - it->bstart);
            in = it->blen - (size_t)(it->off - it->bstart);
        }
        uint64_t left = it->end - it->off;
        int r = p ? dmp_evlog__rec_check(p, in, &it->h, &it->why) : 0;
        if (r == -1)
            return -1;
        if (r == 1) {
            it->payload = p + it->h.hdr_len;
            it->rec_off = it->off;
            it->off += it->h.hdr_len + it->h.len;
            return 1;
        }
        /* Incomplete in the buffer: is it incomplete in the file too? */
        size_t need = EVLOG_HDR;
        if (in >= 8)
            need = evlog_hdr_size(evlog_get32(p)) + evlog_get32(p + 4);
        if (in >= left || need > left || pass > 0) {
            it->why = "record cut short at the end of the file";
            return -2;
        }
        if (it_fill(it, need) != 0)
            return -3;
    }
}

void dmp_evlog__it_fini(evlog_it_t *it)
{
    dmp_free(it->buf);
    it->buf = NULL;
    it->cap = it->blen = 0;
}
