/* core.h -- errors, allocation, growable buffers, logging and clocks.
 *
 * Every other module builds on this header; it depends on nothing but libc.
 * Conventions used across the API:
 *   - functions return an int status (DMP_OK or a negative dmp_status_t);
 *   - arguments go inputs, then outputs, then a caller-owned dmp_error_t *err last;
 *   - 'err' may be NULL when the caller does not want the detail.
 */
#ifndef DMP_CORE_H
#define DMP_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define DMP_EXPORT __attribute__((visibility("default")))

#if defined(__GNUC__)
#define DMP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DMP_PRINTF(a, b)
#endif

/* One table holds each status code, its stable name, its message, and the HTTP
 * status it maps to (used by the HTTP layer for problem+json replies). */
#define DMP_ERROR_MAP(X)                                                                   \
    X(OK, 0, "success", 200)                                                               \
    X(IO, -2, "i/o error", 500)                                                            \
    X(INVALID, -3, "invalid argument", 400)                                                \
    X(SCHEMA, -4, "document does not match schema", 422)                                   \
    X(NOTFOUND, -5, "not found", 404)                                                      \
    X(CONFLICT, -6, "state conflict", 409)                                                 \
    X(BACKEND, -7, "backend error", 502)                                                   \
    X(PARSE, -8, "malformed input", 400)                                                   \
    X(LIMIT, -9, "limit exceeded", 413)                                                    \
    X(UNAVAILABLE, -10, "service unavailable", 503)                                        \
    X(DENIED, -11, "permission denied", 403)                                               \
    X(UNAUTHENTICATED, -12, "authentication required", 401)                                \
    X(FULL, -13, "storage full", 507)                                                      \
    X(UNSUPPORTED, -14, "unsupported", 415)                                                \
    X(IMMUTABLE, -15, "published version is immutable", 409)                               \
    X(TIMEOUT, -16, "timed out", 504)                                                      \
    X(POLICY, -17, "policy violation", 422)

typedef enum {
#define X(name, val, msg, http) DMP_##name = val,
    DMP_ERROR_MAP(X)
#undef X
} dmp_status_t;

/* Caller-owned error detail. Zero-initialise it ({0}); DMP_ERR() fills it. */
typedef struct dmp_error {
    dmp_status_t code;
    int sys_errno;          /* errno when code == DMP_IO */
    unsigned retriable : 1; /* repeating the call may succeed */
    const char *file;       /* where it was raised, set by DMP_ERR() */
    int line;
    char where[256]; /* "product.yaml:14:7" or a JSON pointer "/outputPorts/0/name" */
    char path[256];  /* field path, "outputPorts[0].visibility", when known */
    char msg[512];   /* one lower-case sentence naming the thing and the bad value */
} dmp_error_t;

DMP_EXPORT const char *dmp_strerror(int code); /* "not found" */
DMP_EXPORT const char *dmp_errname(int code);  /* "DMP_NOTFOUND" */
DMP_EXPORT int dmp_errhttp(int code);          /* 404 */

/* Fills 'err' (when non-NULL) and returns 'code'. */
DMP_EXPORT int dmp_error_set(dmp_error_t *err, int code, const char *file, int line,
                             const char *fmt, ...) DMP_PRINTF(5, 6);
#define DMP_ERR(err, code, ...) dmp_error_set((err), (code), __FILE__, __LINE__, __VA_ARGS__)
/* Sets err->where / err->path (printf-style); no-op when err is NULL. */
DMP_EXPORT void dmp_error_where(dmp_error_t *err, const char *fmt, ...) DMP_PRINTF(2, 3);
DMP_EXPORT void dmp_error_path(dmp_error_t *err, const char *fmt, ...) DMP_PRINTF(2, 3);
DMP_EXPORT void dmp_error_clear(dmp_error_t *err);

/* ---- memory: allocation failure aborts with a message, so callers never see NULL. */
DMP_EXPORT void *dmp_malloc(size_t n);
DMP_EXPORT void *dmp_calloc(size_t count, size_t n);
DMP_EXPORT void *dmp_realloc(void *p, size_t n);
DMP_EXPORT char *dmp_strdup(const char *s);            /* dmp_strdup(NULL) == NULL */
DMP_EXPORT char *dmp_strndup(const char *s, size_t n); /* always NUL-terminates */
DMP_EXPORT char *dmp_asprintf(const char *fmt, ...) DMP_PRINTF(1, 2);
DMP_EXPORT void dmp_free(void *p); /* dmp_free(NULL) does nothing */

/* ---- growable byte buffer; data is always NUL-terminated when non-NULL. */
typedef struct dmp_buf {
    char *data;
    size_t len;
    size_t cap;
} dmp_buf_t;

#define DMP_BUF_INIT {NULL, 0, 0}
DMP_EXPORT void dmp_buf_reserve(dmp_buf_t *b, size_t extra);
DMP_EXPORT void dmp_buf_append(dmp_buf_t *b, const void *p, size_t n);
DMP_EXPORT void dmp_buf_puts(dmp_buf_t *b, const char *s);
DMP_EXPORT void dmp_buf_putc(dmp_buf_t *b, char c);
DMP_EXPORT void dmp_buf_printf(dmp_buf_t *b, const char *fmt, ...) DMP_PRINTF(2, 3);
DMP_EXPORT void dmp_buf_vprintf(dmp_buf_t *b, const char *fmt, va_list ap);
/* Appends 's' as a JSON string literal, quotes included. */
DMP_EXPORT void dmp_buf_json_str(dmp_buf_t *b, const char *s, size_t n);
DMP_EXPORT void dmp_buf_put_u64(dmp_buf_t *b, uint64_t v); /* decimal, no printf */
DMP_EXPORT void dmp_buf_reset(dmp_buf_t *b); /* len = 0, keeps the memory */
DMP_EXPORT char *dmp_buf_steal(dmp_buf_t *b); /* caller owns the result; b is emptied */
DMP_EXPORT void dmp_buf_free(dmp_buf_t *b);

/* Reads a whole file into *out (caller frees with dmp_free); refuses files over max_bytes. */
DMP_EXPORT int dmp_read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                             dmp_error_t *err);

/* ---- logging: structured, one JSON object per line on stderr. */
typedef enum { DMP_LOG_DEBUG, DMP_LOG_INFO, DMP_LOG_WARN, DMP_LOG_ERROR } dmp_log_level_t;
DMP_EXPORT void dmp_log_set_level(dmp_log_level_t lvl);
DMP_EXPORT void dmp_log_set_json(int on); /* 1: JSON lines (default); 0: plain text */
/* Logs 'msg' with extra key/value pairs given as a NULL-terminated list of
 * const char * (key, value, key, value, ..., NULL). Values are JSON-escaped. */
DMP_EXPORT void dmp_log(dmp_log_level_t lvl, const char *msg, ...);
DMP_EXPORT void dmp_logf(dmp_log_level_t lvl, const char *fmt, ...) DMP_PRINTF(2, 3);
/* For a thread that serves many requests per wake-up: dmp_log_hold(1) makes this thread's
 * info and debug lines gather (a warning or error writes them at once, in order);
 * dmp_log_flush writes what gathered with one write(2) and must be called before the
 * thread sleeps; dmp_log_hold(0) flushes and stops holding. */
DMP_EXPORT void dmp_log_hold(int on);
DMP_EXPORT void dmp_log_flush(void);

/* ---- clocks */
DMP_EXPORT int64_t dmp_now_ms(void);   /* wall clock, ms since the epoch */
DMP_EXPORT int64_t dmp_mono_ns(void);  /* monotonic */
/* Formats a wall-clock time in ms as RFC 3339 UTC with ms ("2026-11-23T10:00:00.123Z"). */
DMP_EXPORT void dmp_time_format(int64_t ms, char out[32]);
/* Parses RFC 3339; returns DMP_OK and ms since the epoch, or DMP_INVALID. */
DMP_EXPORT int dmp_time_parse(const char *s, int64_t *ms);

/* ---- identifiers: a UUIDv7 string (36 chars + NUL). Thread-safe. */
DMP_EXPORT void dmp_uuid_v7(char out[37]);

/* ---- small string helpers */
DMP_EXPORT int dmp_str_eq(const char *a, const char *b); /* NULL-safe */
/* Writes v in decimal and a NUL to out; returns the number of digits. For hot paths
 * (access-log lines, replies) where a printf per number shows in profiles. */
DMP_EXPORT size_t dmp_u64_str(uint64_t v, char out[21]);
/* For files written continuously and never synced (logs): after 'written' more bytes,
 * starts the write-back of fd once *unflushed reaches 1 MiB, so the kernel does not flush
 * them in one burst 30 s later, stalling other files' syncs on the same disk. Does not
 * wait for it. */
DMP_EXPORT void dmp_fd_writeback(int fd, size_t *unflushed, size_t written);
/* The value of the hex digit c (0-15), or -1 (JSON \u escapes, URL escapes, chunk sizes). */
static inline int dmp_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
/* Levenshtein distance, capped; used for did-you-mean suggestions. */
DMP_EXPORT int dmp_str_distance(const char *a, const char *b);

#endif
