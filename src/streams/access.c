/* access.c -- the stream service's side of access control: the check installed by the
 * HTTP server for push subscriptions (dmp_streams_set_access), the port metadata
 * accessor handlers build ACLs from, and masking of one stored record.
 *
 * The installed check is kept in a small table keyed by service, under one rwlock:
 * workers hold it shared while they ask, so removing it waits for them. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "streams/streams_access.h"
#include "streams/streams_int.h"

#define ACCESS_SLOTS 16

static struct {
    dmp_streams_t *st;
    dmp_streams_access_t a;
} g_access[ACCESS_SLOTS];
static pthread_rwlock_t g_access_lock = PTHREAD_RWLOCK_INITIALIZER;

void dmp_streams_set_access(dmp_streams_t *st, const dmp_streams_access_t *a)
{
    pthread_rwlock_wrlock(&g_access_lock);
    int done = 0;
    for (int i = 0; i < ACCESS_SLOTS; i++) {
        if (g_access[i].st == st) {
            if (a != NULL)
                g_access[i].a = *a;
            else
                memset(&g_access[i], 0, sizeof(g_access[i]));
            done = 1;
            break;
        }
    }
    for (int i = 0; !done && a != NULL && i < ACCESS_SLOTS; i++) {
        if (g_access[i].st == NULL) {
            g_access[i].st = st;
            g_access[i].a = *a;
            done = 1;
        }
    }
    pthread_rwlock_unlock(&g_access_lock);
    if (!done && a != NULL)
        dmp_log(DMP_LOG_ERROR, "too many stream services for the access table", NULL);
}

int streams_access_view(dmp_streams_t *st, const json_t *who, dmp_stream_port_t *p,
                        streams_view_t *v)
{
    memset(v, 0, sizeof(*v));
    int rc = DMP_OK;
    pthread_rwlock_rdlock(&g_access_lock);
    for (int i = 0; i < ACCESS_SLOTS; i++) {
        if (g_access[i].st == st && g_access[i].a.view != NULL) {
            rc = g_access[i].a.view(g_access[i].a.ud, who, p, &v->mask, &v->ud);
            v->free = g_access[i].a.view_free;
            break;
        }
    }
    pthread_rwlock_unlock(&g_access_lock);
    if (rc != DMP_OK)
        streams_view_fini(v);
    return rc;
}

void streams_view_fini(streams_view_t *v)
{
    if (v->free != NULL && v->ud != NULL)
        v->free(v->ud);
    memset(v, 0, sizeof(*v));
}

json_t *dmp_streams_port_meta(dmp_stream_port_t *p)
{
    return json_deep_copy(p->meta);
}

const json_t *dmp_streams_port_meta_ref(const dmp_stream_port_t *p)
{
    return p->meta;
}

int dmp_streams_mask_record(dmp_streams_mask_fn mask, void *mask_ud, const dmp_channel_rec_t *rec,
                            dmp_channel_rec_t *tmp, char **owned)
{
    *owned = NULL;
    if (mask == NULL)
        return 0;
    json_t *ev = json_loadb(rec->payload, rec->len, 0, NULL);
    json_t *data = json_object_get(ev, "data");
    if (data == NULL) {
        json_decref(ev);
        return 0;
    }
    json_t *m = mask(mask_ud, data);
    if (m == NULL) {
        json_decref(ev);
        return 0;
    }
    json_object_set_new(ev, "data", m);
    char *txt = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (txt == NULL)
        return 0;
    *owned = dmp_strdup(txt);
    free(txt);
    *tmp = *rec;
    tmp->payload = *owned;
    tmp->len = strlen(*owned);
    return 1;
}
