/* streams_access.h -- private to src/streams/: what push workers ask the installed
 * access check (access.c; the public half is in streams.h). */
#ifndef DMP_STREAMS_ACCESS_H
#define DMP_STREAMS_ACCESS_H

#include "dmp/streams.h"

/* One reader's view of a port: how its events' data are masked. */
typedef struct streams_view {
    dmp_streams_mask_fn mask; /* NULL: unmasked */
    void *ud;
    void (*free)(void *ud);
} streams_view_t;

/* DMP_OK with *v when 'who' may read p now (or when no check is installed: unmasked);
 * otherwise the check's code and *v empty. Release *v with streams_view_fini. */
int streams_access_view(dmp_streams_t *st, const json_t *who, dmp_stream_port_t *p,
                        streams_view_t *v);
void streams_view_fini(streams_view_t *v);

#endif
