/* streams_int.h -- private to src/streams/: the service, the port table and the
 * subscription workers.
 *
 * Locking: st->lock (a rwlock) guards the port list; port lookups take it shared, the
 * provisioner exclusive. A port is reference-counted: a request holds a reference for its
 * duration; a deleted port leaves the list at once and its channel is closed (and its files
 * removed) when the last reference goes. st->sub_lock guards the subscription list.
 */
#ifndef DMP_STREAMS_INT_H
#define DMP_STREAMS_INT_H

#include <pthread.h>

#include "dmp/channel.h"
#include "dmp/events.h"
#include "dmp/schema.h"
#include "dmp/streams.h"

struct dmp_stream_port {
    dmp_streams_t *st;
    char *environment, *domain, *name, *port;
    char *channel;     /* channel name, fixed at creation */
    char *source;      /* the product URN: the source of plain-mode events */
    char *type;        /* default event type of plain-mode events */
    json_t *meta;      /* the persisted metadata document */
    dmp_schema_t *schema; /* compiled; NULL: any JSON data */
    dmp_channel_t *ch;
    dmp_channel_t *rejected;
    int refs;          /* guarded by st->ref_lock */
    int deleted;       /* set once; readers stop */
    int destroy;       /* remove files when the last reference goes */
    struct port_slot *slot; /* dmp_streams_port_slot_set; set once (compare-and-swap) */
    struct dmp_stream_port *next;
};

typedef struct stream_sub stream_sub_t;

struct dmp_streams {
    dmp_streams_conf_t conf;
    char *dir;          /* <data>/streams */
    char *ports_dir;    /* <data>/streams/ports */
    char *subs_dir;     /* <data>/streams/subscriptions */
    dmp_channel_backend_t *be;     /* <data>/channels */
    dmp_channel_backend_t *rej_be; /* <data>/streams/rejected */
    pthread_rwlock_t lock;
    pthread_mutex_t ref_lock;
    pthread_cond_t ref_cond;
    dmp_stream_port_t *ports;
    pthread_mutex_t sub_lock;
    stream_sub_t *subs;
    pthread_t housekeeper;
    pthread_mutex_t hk_lock;
    pthread_cond_t hk_cond;
    int stopping;
};

/* ports.c */
void streams_port_ref(dmp_stream_port_t *p);
int streams_ports_load(dmp_streams_t *st, dmp_error_t *err);
void streams_ports_close_all(dmp_streams_t *st);
int streams_write_file(const char *path, const char *data, size_t len, dmp_error_t *err);

/* ingest.c: per-thread schema context and JSON document. */
dmp_schema_ctx_t *streams_tls_ctx(void);
void streams_tls_init(void);

/* read.c: writes one stored record with dmpoffset/dmptime in front. */
void streams_emit_record(dmp_buf_t *out, const dmp_channel_rec_t *rec);

/* subs.c */
int streams_subs_load(dmp_streams_t *st, dmp_error_t *err);
void streams_subs_stop_all(dmp_streams_t *st);

#endif
