/* alloc.c -- the one allocation wrapper. Failure aborts with a message (redis zmalloc):
 * per-request limits, not NULL checks, keep memory bounded. */
#include "dmp/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "dmp: out of memory allocating %zu bytes\n", n);
    abort();
}

void *dmp_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *dmp_calloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (p == NULL)
        oom(count * n);
    return p;
}

void *dmp_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *dmp_strdup(const char *s)
{
    return s ? dmp_strndup(s, strlen(s)) : NULL;
}

char *dmp_strndup(const char *s, size_t n)
{
    char *p = dmp_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *dmp_asprintf(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = dmp_malloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void dmp_free(void *p)
{
    free(p);
}
