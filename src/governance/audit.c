/* audit.c -- the access log of DESIGN 6 ("access is logged"): one JSON line per
 * access in <data-dir>/audit.log, plus a bounded ring of the newest records for
 * GET /v1/products/{domain}/{name}/accesses.
 *
 * A record costs the request little: its line is formatted once (no JSON tree) into a
 * ring slot whose memory is reused, and appended to a pending buffer. Every record but an
 * allowed publish is written at once by its caller (with whatever is pending before it);
 * allowed publishes, the one record per ingested request, are written in batches by a
 * writer thread, at most AUDIT_FLUSH_MS after the record (and at close), or by the caller
 * that finds more than AUDIT_PENDING_MAX bytes pending.
 * Writes go to an O_APPEND descriptor under one write lock, so lines never interleave or
 * reorder. They are not fsync'ed (an access record is evidence, not data the platform
 * acknowledged): a crash may lose the last AUDIT_FLUSH_MS of records. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "governance/auth_int.h"

#define AUDIT_FIELD_MAX 256        /* longer fields are cut (names are bounded upstream) */
#define AUDIT_FLUSH_MS 20          /* the writer thread's period */
#define AUDIT_PENDING_MAX (256 << 10)

struct dmp_audit {
    pthread_mutex_t mu;   /* the ring and 'pending' */
    pthread_mutex_t wmu;  /* one writer at a time, in order */
    pthread_cond_t cond;
    int fd; /* -1: memory only */
    dmp_buf_t *ring;      /* formatted lines, no newline; the memory of a slot is reused */
    size_t cap, head, count; /* head = next slot to write */
    dmp_buf_t pending;    /* lines not yet written */
    int warned;
    size_t unflushed; /* bytes written since the last write-back start (under wmu) */
    int stop;
    int writer_on;
    pthread_t writer;
};

/* Writes what is pending (whoever calls it: the writer thread, a record that found too
 * much pending, close). */
static void audit_flush(dmp_audit_t *a)
{
    pthread_mutex_lock(&a->wmu);
    pthread_mutex_lock(&a->mu);
    dmp_buf_t out = a->pending;
    a->pending = (dmp_buf_t)DMP_BUF_INIT;
    pthread_mutex_unlock(&a->mu);
    if (out.len > 0 && a->fd >= 0) {
        size_t off = 0;
        while (off < out.len) {
            ssize_t w = write(a->fd, out.data + off, out.len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                if (!a->warned) {
                    a->warned = 1;
                    dmp_log(DMP_LOG_ERROR, "audit log write failed", "detail",
                            w < 0 ? strerror(errno) : "short write", NULL);
                }
                break;
            }
            off += (size_t)w;
        }
        dmp_fd_writeback(a->fd, &a->unflushed, off); /* no burst 30 s later */
    }
    pthread_mutex_lock(&a->mu);
    if (a->pending.data == NULL) { /* keep the memory for the next batch */
        dmp_buf_reset(&out);
        a->pending = out;
        out = (dmp_buf_t)DMP_BUF_INIT;
    }
    pthread_mutex_unlock(&a->mu);
    dmp_buf_free(&out);
    pthread_mutex_unlock(&a->wmu);
}

static void *audit_writer(void *ud)
{
    dmp_audit_t *a = ud;
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        if (a->pending.len == 0) {
            pthread_cond_wait(&a->cond, &a->mu);
            continue;
        }
        /* let a batch gather for a moment, then write it */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += AUDIT_FLUSH_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&a->cond, &a->mu, &ts);
        pthread_mutex_unlock(&a->mu);
        audit_flush(a);
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

int dmp_audit_open(const char *path, size_t ring, dmp_audit_t **out, dmp_error_t *err)
{
    *out = NULL;
    int fd = -1;
    if (path && *path) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return DMP_ERR(err, DMP_IO, "cannot open audit log %s: %s", path, strerror(errno));
    }
    dmp_audit_t *a = dmp_calloc(1, sizeof(*a));
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->wmu, NULL);
    pthread_cond_init(&a->cond, NULL);
    a->fd = fd;
    a->cap = ring ? ring : 1;
    a->ring = dmp_calloc(a->cap, sizeof(*a->ring));
    if (fd >= 0) {
        if (pthread_create(&a->writer, NULL, audit_writer, a) != 0) {
            dmp_audit_close(a);
            return DMP_ERR(err, DMP_IO, "cannot start the audit log writer: %s",
                           strerror(errno));
        }
        a->writer_on = 1;
    }
    *out = a;
    return DMP_OK;
}

void dmp_audit_close(dmp_audit_t *a)
{
    if (a == NULL)
        return;
    if (a->writer_on) {
        pthread_mutex_lock(&a->mu);
        a->stop = 1;
        pthread_cond_signal(&a->cond);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->writer, NULL);
    }
    audit_flush(a);
    for (size_t i = 0; i < a->cap; i++)
        dmp_buf_free(&a->ring[i]);
    dmp_free(a->ring);
    dmp_buf_free(&a->pending);
    if (a->fd >= 0)
        close(a->fd);
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->wmu);
    pthread_mutex_destroy(&a->mu);
    dmp_free(a);
}

const char *dmp_audit_outcome(int status)
{
    switch (status) {
    case DMP_OK: return "allowed";
    case DMP_DENIED: return "denied";
    case DMP_NOTFOUND: return "notfound";
    case DMP_UNAUTHENTICATED: return "unauthenticated";
    default: return "failed";
    }
}

/* Length of the longest prefix of s (at most AUDIT_FIELD_MAX bytes, up to a NUL) that
 * is valid UTF-8; -1 when the cut field is not valid UTF-8 (jansson's rule before). */
static ssize_t field_len(const char *s)
{
    size_t n = strnlen(s, AUDIT_FIELD_MAX);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        size_t k = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2
                              : (c & 0xf8) == 0xf0 ? 3 : 9;
        if (k == 9 || (k == 1 && c < 0xc2) || (k == 3 && c > 0xf4) || i + k >= n + (k ? 0 : 1))
            return -1;
        uint32_t cp = k == 0 ? c : c & (0x3f >> k);
        for (size_t j = 1; j <= k; j++) {
            if ((u[i + j] & 0xc0) != 0x80)
                return -1;
            cp = (cp << 6) | (u[i + j] & 0x3f);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return -1;
        i += k + 1;
    }
    return (ssize_t)n;
}

static void put_field(dmp_buf_t *b, const char *key, const char *s)
{
    dmp_buf_puts(b, key);
    if (s == NULL) {
        dmp_buf_puts(b, "null");
        return;
    }
    ssize_t n = field_len(s);
    if (n < 0)
        dmp_buf_puts(b, "\"(not UTF-8)\"");
    else
        dmp_buf_json_str(b, s, (size_t)n);
}

void dmp_audit_record(dmp_audit_t *a, const char *principal, const char *product,
                      const char *port, const char *action, const char *outcome, int status)
{
    if (a == NULL)
        return;
    static _Thread_local int64_t now_ms = -1;
    static _Thread_local char now[32]; /* formatted once per ms per thread */
    int64_t ms = dmp_now_ms();
    if (ms != now_ms) {
        dmp_time_format(ms, now);
        now_ms = ms;
    }
    pthread_mutex_lock(&a->mu);
    dmp_buf_t *b = &a->ring[a->head];
    dmp_buf_reset(b);
    dmp_buf_puts(b, "{\"time\":\"");
    dmp_buf_puts(b, now);
    dmp_buf_putc(b, '"');
    put_field(b, ",\"principal\":", principal ? principal : "anonymous");
    put_field(b, ",\"product\":", product);
    put_field(b, ",\"port\":", port);
    put_field(b, ",\"action\":", action);
    put_field(b, ",\"outcome\":", outcome);
    dmp_buf_puts(b, ",\"status\":");
    dmp_buf_put_u64(b, status > 0 ? (uint64_t)status : 0);
    dmp_buf_putc(b, '}');
    a->head = (a->head + 1) % a->cap;
    if (a->count < a->cap)
        a->count++;
    size_t pend = 0;
    int batch = status < 400 && action != NULL && strcmp(action, "publish") == 0;
    if (a->fd >= 0) {
        int wake = a->pending.len == 0;
        dmp_buf_append(&a->pending, b->data, b->len);
        dmp_buf_putc(&a->pending, '\n');
        pend = a->pending.len;
        if (wake && batch)
            pthread_cond_signal(&a->cond);
    }
    pthread_mutex_unlock(&a->mu);
    if (pend > 0 && (!batch || pend > AUDIT_PENDING_MAX))
        audit_flush(a);
}

json_t *dmp_audit_query(dmp_audit_t *a, const char *product, size_t limit)
{
    json_t *arr = json_array();
    if (a == NULL)
        return arr;
    pthread_mutex_lock(&a->mu);
    for (size_t k = 0; k < a->count; k++) {
        if (limit && json_array_size(arr) >= limit)
            break;
        const dmp_buf_t *b = &a->ring[(a->head + a->cap - 1 - k) % a->cap];
        json_t *rec = json_loadb(b->data, b->len, 0, NULL);
        if (rec == NULL ||
            (product && !dmp_str_eq(json_string_value(json_object_get(rec, "product")),
                                    product))) {
            json_decref(rec);
            continue;
        }
        json_array_append_new(arr, rec);
    }
    pthread_mutex_unlock(&a->mu);
    return arr;
}
