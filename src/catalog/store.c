/* store.c -- dmp_store_open() dispatch and the record helpers shared by every backend.
 *
 * The URL picks the backend: "sqlite:PATH" or a plain path is the embedded SQLite store
 * (store_sqlite.c). A new backend adds one line to the table below and a file of its own;
 * nothing above store.h changes. This file never includes a backend's own headers.
 */
#include "dmp/store.h"

#include <string.h>

#include "catalog/store_int.h"

typedef struct store_backend {
    const char *scheme; /* "sqlite:" */
    int (*open)(const char *path, dmp_store_t **out, dmp_error_t *err);
} store_backend_t;

static const store_backend_t backends[] = {
    {"sqlite:", dmp_store_sqlite_open},
};

int dmp_store_open(const char *url, dmp_store_t **out, dmp_error_t *err)
{
    *out = NULL;
    if (url == NULL || url[0] == '\0')
        return DMP_ERR(err, DMP_INVALID, "store url is empty");
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        size_t n = strlen(backends[i].scheme);
        if (strncmp(url, backends[i].scheme, n) == 0)
            return backends[i].open(url + n, out, err);
    }
    if (strncmp(url, "postgres:", 9) == 0 || strncmp(url, "postgresql:", 11) == 0)
        return DMP_ERR(err, DMP_UNSUPPORTED, "store '%s': postgres store not built", url);
    return dmp_store_sqlite_open(url, out, err);
}

void dmp_store_close(dmp_store_t *st)
{
    if (st != NULL)
        st->ops->close(st);
}

void dmp_product_rec_fini(dmp_product_rec_t *r)
{
    if (r == NULL)
        return;
    dmp_free(r->environment);
    dmp_free(r->domain);
    dmp_free(r->name);
    dmp_free(r->version);
    json_decref(r->descriptor);
    memset(r, 0, sizeof(*r));
}

void dmp_product_recs_free(dmp_product_rec_t *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        dmp_product_rec_fini(&v[i]);
    dmp_free(v);
}

void dmp_resource_recs_free(dmp_resource_rec_t *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        dmp_free(v[i].name);
        dmp_free(v[i].technology);
        dmp_free(v[i].reason);
        dmp_free(v[i].operation);
    }
    dmp_free(v);
}
