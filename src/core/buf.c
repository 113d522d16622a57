/* buf.c -- growable byte buffer and whole-file reads. */
#include "dmp/core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void dmp_buf_reserve(dmp_buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = dmp_realloc(b->data, cap);
    b->cap = cap;
}

void dmp_buf_append(dmp_buf_t *b, const void *p, size_t n)
{
    dmp_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void dmp_buf_puts(dmp_buf_t *b, const char *s)
{
    dmp_buf_append(b, s, strlen(s));
}

void dmp_buf_putc(dmp_buf_t *b, char c)
{
    dmp_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void dmp_buf_vprintf(dmp_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    dmp_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
}

void dmp_buf_printf(dmp_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dmp_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void dmp_buf_json_str(dmp_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    dmp_buf_reserve(b, n + 2);
    dmp_buf_putc(b, '"');
    /* Plain runs are copied whole (one access-log line per request makes this hot). */
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        dmp_buf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': dmp_buf_append(b, "\\\"", 2); break;
        case '\\': dmp_buf_append(b, "\\\\", 2); break;
        case '\n': dmp_buf_append(b, "\\n", 2); break;
        case '\r': dmp_buf_append(b, "\\r", 2); break;
        case '\t': dmp_buf_append(b, "\\t", 2); break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            dmp_buf_append(b, esc, 6);
        }
        }
    }
    dmp_buf_append(b, s + run, n - run);
    dmp_buf_putc(b, '"');
}

void dmp_buf_put_u64(dmp_buf_t *b, uint64_t v)
{
    char tmp[21];
    dmp_buf_append(b, tmp, dmp_u64_str(v, tmp));
}

void dmp_buf_reset(dmp_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *dmp_buf_steal(dmp_buf_t *b)
{
    char *p = b->data ? b->data : dmp_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void dmp_buf_free(dmp_buf_t *b)
{
    dmp_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int dmp_read_file(const char *path, size_t max_bytes, char **out, size_t *len, dmp_error_t *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        int rc = DMP_ERR(err, e == ENOENT ? DMP_NOTFOUND : DMP_IO, "cannot open %s: %s", path,
                         strerror(e));
        if (err)
            err->sys_errno = e;
        return rc;
    }
    dmp_buf_t b = DMP_BUF_INIT;
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            dmp_buf_free(&b);
            return DMP_ERR(err, DMP_IO, "cannot read %s: %s", path, strerror(e));
        }
        if (n == 0)
            break;
        if (b.len + (size_t)n > max_bytes) {
            close(fd);
            dmp_buf_free(&b);
            return DMP_ERR(err, DMP_LIMIT, "%s is larger than the limit of %zu bytes", path,
                           max_bytes);
        }
        dmp_buf_append(&b, chunk, (size_t)n);
    }
    close(fd);
    if (len)
        *len = b.len;
    *out = dmp_buf_steal(&b);
    return DMP_OK;
}
