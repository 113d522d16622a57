/* util.c -- clocks, RFC 3339 times, UUIDv7 and small string helpers. */
#include "dmp/core.h"

#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int64_t dmp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t dmp_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void put2(char *o, int v)
{
    o[0] = (char)('0' + v / 10 % 10);
    o[1] = (char)('0' + v % 10);
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ". Every event envelope, access-log line and audit record
 * carries one, so the seconds part is kept per thread and only the milliseconds are
 * written anew within the same second (no gmtime_r and no snprintf per call). */
void dmp_time_format(int64_t ms, char out[32])
{
    static _Thread_local int64_t cached_secs = -1;
    static _Thread_local char cached[20];
    int64_t secs = ms / 1000;
    int frac = (int)(ms % 1000);
    if (ms < 0) { /* before 1970: floor, so the milliseconds stay positive */
        secs = (ms - 999) / 1000;
        frac = (int)(ms - secs * 1000);
    }
    if (secs != cached_secs || ms < 0) {
        time_t t = (time_t)secs;
        struct tm tm;
        gmtime_r(&t, &tm);
        int y = (tm.tm_year + 1900) % 10000;
        put2(cached, y / 100);
        put2(cached + 2, y % 100);
        cached[4] = '-';
        put2(cached + 5, tm.tm_mon + 1);
        cached[7] = '-';
        put2(cached + 8, tm.tm_mday);
        cached[10] = 'T';
        put2(cached + 11, tm.tm_hour);
        cached[13] = ':';
        put2(cached + 14, tm.tm_min);
        cached[16] = ':';
        put2(cached + 17, tm.tm_sec);
        cached[19] = '.';
        cached_secs = ms < 0 ? -1 : secs;
    }
    memcpy(out, cached, 20);
    out[20] = (char)('0' + frac / 100);
    put2(out + 21, frac % 100);
    out[23] = 'Z';
    out[24] = '\0';
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int dmp_time_parse(const char *s, int64_t *ms)
{
    int Y, M, D, h, m, sec, frac = 0;
    if (strlen(s) < 20 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) ||
        s[7] != '-' || digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return DMP_INVALID;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return DMP_INVALID;
    const char *p = s + 19;
    if (*p == '.') {
        int n = 0;
        p++;
        while (isdigit((unsigned char)*p)) {
            if (n < 3)
                frac = frac * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0)
            return DMP_INVALID;
        while (n < 3) {
            frac *= 10;
            n++;
        }
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return DMP_INVALID;
        off = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return DMP_INVALID;
    }
    if (*p != '\0')
        return DMP_INVALID;
    struct tm tm = {0};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec == 60 ? 59 : sec;
    time_t t = timegm(&tm);
    *ms = ((int64_t)t - (int64_t)off * 60) * 1000 + frac;
    return DMP_OK;
}

/* Random bytes from a per-thread pool filled by getrandom 512 bytes at a time: one
 * syscall per 32 UUIDs instead of one each (a getrandom per event was about 1 us of a
 * single-event ingest's CPU, docs/performance.md). */
static void random_bytes(uint8_t *out, size_t n)
{
    static __thread uint8_t pool[512];
    static __thread size_t left;
    while (n > 0) {
        if (left == 0) {
            if (getrandom(pool, sizeof(pool), 0) != (ssize_t)sizeof(pool)) {
                for (size_t i = 0; i < sizeof(pool); i++)
                    pool[i] = (uint8_t)rand();
            }
            left = sizeof(pool);
        }
        size_t k = n < left ? n : left;
        memcpy(out, pool + sizeof(pool) - left, k);
        memset(pool + sizeof(pool) - left, 0, k); /* a used byte is never handed out twice */
        left -= k;
        out += k;
        n -= k;
    }
}

/* UUIDv7: 48-bit ms timestamp, version 7, 12 bits of a per-process counter seeded
 * at random (monotonic within a ms), variant 10, 62 random bits. */
void dmp_uuid_v7(char out[37])
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static int64_t last_ms;
    static uint16_t counter;
    uint8_t b[16];
    random_bytes(b, sizeof(b));
    int64_t ms = dmp_now_ms();
    pthread_mutex_lock(&mu);
    if (ms <= last_ms) {
        ms = last_ms;
        counter++;
        if (counter > 0x0fff) {
            ms = ++last_ms;
            counter = 0;
        }
    } else {
        last_ms = ms;
        counter = (uint16_t)(((b[6] << 8) | b[7]) & 0x01ff);
    }
    uint16_t c = counter;
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | ((c >> 8) & 0x0f));
    b[7] = (uint8_t)(c & 0xff);
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

size_t dmp_u64_str(uint64_t v, char out[21])
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

void dmp_fd_writeback(int fd, size_t *unflushed, size_t written)
{
    *unflushed += written;
    if (*unflushed >= (1u << 20)) {
        *unflushed = 0;
        sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    }
}

int dmp_str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

int dmp_str_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    int prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int v = prev[j - 1] + cost;
            if (prev[j] + 1 < v)
                v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            cur[j] = v;
        }
        memcpy(prev, cur, sizeof(int) * (lb + 1));
    }
    return prev[lb];
}
