/* error.c -- the status table and caller-owned error detail. */
#include "dmp/core.h"

#include <stdio.h>
#include <string.h>

const char *dmp_strerror(int code)
{
    switch (code) {
#define X(name, val, msg, http)                                                            \
    case val:                                                                              \
        return msg;
        DMP_ERROR_MAP(X)
#undef X
    }
    return "unknown error";
}

const char *dmp_errname(int code)
{
    switch (code) {
#define X(name, val, msg, http)                                                            \
    case val:                                                                              \
        return "DMP_" #name;
        DMP_ERROR_MAP(X)
#undef X
    }
    return "DMP_UNKNOWN";
}

int dmp_errhttp(int code)
{
    switch (code) {
#define X(name, val, msg, http)                                                            \
    case val:                                                                              \
        return http;
        DMP_ERROR_MAP(X)
#undef X
    }
    return 500;
}

int dmp_error_set(dmp_error_t *err, int code, const char *file, int line, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = (dmp_status_t)code;
    err->file = file;
    err->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void dmp_error_where(dmp_error_t *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->where, sizeof(err->where), fmt, ap);
    va_end(ap);
}

void dmp_error_path(dmp_error_t *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->path, sizeof(err->path), fmt, ap);
    va_end(ap);
}

void dmp_error_clear(dmp_error_t *err)
{
    if (err != NULL)
        memset(err, 0, sizeof(*err));
}
