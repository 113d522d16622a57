/* audit.c -- the access log of DESIGN 6 ("access is logged"): one JSON line per
 * access in <data-dir>/audit.log, plus a bounded ring of the newest records for
 * GET /v1/products/{domain}/{name}/accesses. Lines are written with one write(2)
 * on an O_APPEND descriptor, so concurrent requests never interleave; they are not
 * fsync'ed (an access record is evidence, not data the platform acknowledged). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "governance/auth_int.h"

#define AUDIT_FIELD_MAX 256 /* longer fields are cut (names are bounded upstream) */

struct dmp_audit {
    pthread_mutex_t mu;
    int fd; /* -1: memory only */
    json_t **ring;
    size_t cap, head, count; /* head = next slot to write */
    int warned;
};

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
    a->fd = fd;
    a->cap = ring ? ring : 1;
    a->ring = dmp_calloc(a->cap, sizeof(json_t *));
    *out = a;
    return DMP_OK;
}

void dmp_audit_close(dmp_audit_t *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->cap; i++)
        json_decref(a->ring[i]);
    dmp_free(a->ring);
    if (a->fd >= 0)
        close(a->fd);
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

static json_t *field(const char *s)
{
    if (s == NULL)
        return json_null();
    json_t *v = json_stringn(s, strnlen(s, AUDIT_FIELD_MAX));
    return v ? v : json_string("(not UTF-8)");
}

void dmp_audit_record(dmp_audit_t *a, const char *principal, const char *product,
                      const char *port, const char *action, const char *outcome, int status)
{
    if (a == NULL)
        return;
    char now[32];
    dmp_time_format(dmp_now_ms(), now);
    json_t *rec = json_object();
    json_object_set_new(rec, "time", json_string(now));
    json_object_set_new(rec, "principal", field(principal ? principal : "anonymous"));
    json_object_set_new(rec, "product", field(product));
    json_object_set_new(rec, "port", field(port));
    json_object_set_new(rec, "action", field(action));
    json_object_set_new(rec, "outcome", field(outcome));
    json_object_set_new(rec, "status", json_integer(status));
    char *line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    pthread_mutex_lock(&a->mu);
    if (a->fd >= 0 && line) {
        size_t len = strlen(line);
        line[len] = '\n';
        if (write(a->fd, line, len + 1) != (ssize_t)(len + 1) && !a->warned) {
            a->warned = 1;
            dmp_log(DMP_LOG_ERROR, "audit log write failed", "detail", strerror(errno), NULL);
        }
    }
    json_decref(a->ring[a->head]);
    a->ring[a->head] = rec;
    a->head = (a->head + 1) % a->cap;
    if (a->count < a->cap)
        a->count++;
    pthread_mutex_unlock(&a->mu);
    free(line);
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
        json_t *rec = a->ring[(a->head + a->cap - 1 - k) % a->cap];
        if (product && !dmp_str_eq(json_string_value(json_object_get(rec, "product")), product))
            continue;
        json_array_append_new(arr, json_deep_copy(rec));
    }
    pthread_mutex_unlock(&a->mu);
    return arr;
}
