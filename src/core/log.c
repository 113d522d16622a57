/* log.c -- structured logging: one JSON object per line on stderr.
 * Must never print secrets: callers pass only what is safe to show.
 * A line is built in its thread's reusable buffer with the time formatted at most once per
 * millisecond per thread (one access-log line per request makes this a hot path), then
 * written with one write(2). A thread that serves many requests per wake-up (an HTTP loop)
 * may hold its info and debug lines and write them with one write(2) before it sleeps
 * (dmp_log_hold / dmp_log_flush): a held line waits for at most one pass of its loop. */
#include "dmp/core.h"

#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

static dmp_log_level_t min_level = DMP_LOG_INFO;
static int as_json = 1;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void dmp_log_set_level(dmp_log_level_t lvl)
{
    min_level = lvl;
}

void dmp_log_set_json(int on)
{
    as_json = on;
}

static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;

static void buf_dtor(void *p)
{
    dmp_buf_free(p);
    dmp_free(p);
}

static void buf_key_make(void)
{
    pthread_key_create(&buf_key, buf_dtor);
}

/* This thread's line buffer, emptied (NULL when the key cannot hold one). */
static dmp_buf_t *line_buf(void)
{
    pthread_once(&buf_once, buf_key_make);
    dmp_buf_t *b = pthread_getspecific(buf_key);
    if (b == NULL) {
        b = dmp_calloc(1, sizeof(*b));
        if (pthread_setspecific(buf_key, b) != 0) {
            dmp_free(b);
            return NULL;
        }
    }
    dmp_buf_reset(b);
    return b;
}

/* Lines held by this thread (dmp_log_hold), or NULL. */
static _Thread_local dmp_buf_t *held;
#define HOLD_MAX (64 * 1024)

/* When stderr is a regular file, its write-back starts every MiB logged (dmp_fd_writeback:
 * a burst 30 s later stalled the event logs' fdatasyncs for 100-200 ms,
 * docs/performance.md). */
static int stderr_is_file = -1; /* under log_mu; -1: not looked at yet */
static size_t unflushed;

static void write_all(const char *p, size_t n)
{
    pthread_mutex_lock(&log_mu);
    if (stderr_is_file < 0) {
        struct stat sb;
        stderr_is_file = fstat(STDERR_FILENO, &sb) == 0 && S_ISREG(sb.st_mode);
    }
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w <= 0)
            break; /* nowhere to report a failed log write */
        p += w;
        n -= (size_t)w;
        if (stderr_is_file)
            dmp_fd_writeback(STDERR_FILENO, &unflushed, (size_t)w);
    }
    pthread_mutex_unlock(&log_mu);
}

void dmp_log_flush(void)
{
    if (held != NULL && held->len > 0) {
        write_all(held->data, held->len);
        dmp_buf_reset(held);
    }
}

void dmp_log_hold(int on)
{
    if (on && held == NULL) {
        held = dmp_calloc(1, sizeof(*held));
    } else if (!on && held != NULL) {
        dmp_log_flush();
        dmp_buf_free(held);
        dmp_free(held);
        held = NULL;
    }
}

static _Thread_local int64_t ts_ms = -1;
static _Thread_local char ts_text[32];

static void emit(dmp_log_level_t lvl, const char *msg, va_list kv)
{
    int64_t now = dmp_now_ms();
    if (now != ts_ms) {
        dmp_time_format(now, ts_text);
        ts_ms = now;
    }
    const char *ts = ts_text;
    dmp_buf_t own = DMP_BUF_INIT, *bp = line_buf();
    if (bp == NULL)
        bp = &own;
    dmp_buf_t b = *bp;
    if (as_json) {
        dmp_buf_puts(&b, "{\"time\":\"");
        dmp_buf_puts(&b, ts);
        dmp_buf_puts(&b, "\",\"level\":\"");
        dmp_buf_puts(&b, level_names[lvl]);
        dmp_buf_puts(&b, "\",\"msg\":");
        dmp_buf_json_str(&b, msg, strlen(msg));
    } else {
        dmp_buf_printf(&b, "%s %-5s %s", ts, level_names[lvl], msg);
    }
    for (;;) {
        const char *k = va_arg(kv, const char *);
        if (k == NULL)
            break;
        const char *v = va_arg(kv, const char *);
        if (v == NULL)
            v = "";
        if (as_json) {
            dmp_buf_putc(&b, ',');
            dmp_buf_json_str(&b, k, strlen(k));
            dmp_buf_putc(&b, ':');
            dmp_buf_json_str(&b, v, strlen(v));
        } else {
            dmp_buf_printf(&b, " %s=%s", k, v);
        }
    }
    dmp_buf_puts(&b, as_json ? "}\n" : "\n");
    if (held != NULL) {
        dmp_buf_append(held, b.data, b.len);
        if (lvl >= DMP_LOG_WARN || held->len >= HOLD_MAX)
            dmp_log_flush(); /* warnings at once, in order after what is held */
    } else {
        write_all(b.data, b.len);
    }
    if (bp == &own)
        dmp_buf_free(&b);
    else
        *bp = b; /* keep the (possibly grown) memory for the next line */
}

void dmp_log(dmp_log_level_t lvl, const char *msg, ...)
{
    if (lvl < min_level)
        return;
    va_list ap;
    va_start(ap, msg);
    emit(lvl, msg, ap);
    va_end(ap);
}

static void emit_plain(dmp_log_level_t lvl, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    emit(lvl, msg, ap);
    va_end(ap);
}

void dmp_logf(dmp_log_level_t lvl, const char *fmt, ...)
{
    if (lvl < min_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    emit_plain(lvl, msg, NULL);
}
