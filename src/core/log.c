/* log.c -- structured logging: one JSON object per line on stderr.
 * Must never print secrets: callers pass only what is safe to show. */
#include "dmp/core.h"

#include <pthread.h>
#include <stdio.h>
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

static void emit(dmp_log_level_t lvl, const char *msg, va_list kv)
{
    char ts[32];
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_time_format(dmp_now_ms(), ts);
    if (as_json) {
        dmp_buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level_names[lvl]);
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
    pthread_mutex_lock(&log_mu);
    ssize_t w = write(STDERR_FILENO, b.data, b.len);
    (void)w;
    pthread_mutex_unlock(&log_mu);
    dmp_buf_free(&b);
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
