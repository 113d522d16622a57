/* dedup.c -- the de-duplication window: which dedup keys were appended recently, and at
 * which seq.
 *
 * A ring of {key, seq, ms} in seq order gives eviction by count and by time; a hash map
 * (open addressing, linear probing, backward-shift deletion) gives lookup by key. Owned by
 * the writer; not thread-safe on its own. Memory is one ring entry and at most two map
 * slots per key in the window.
 */
#include "evlog_int.h"

#include <string.h>

static size_t slot_of(uint64_t key, size_t mcap)
{
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 7) & (mcap - 1);
}

static void map_put(evlog_dedup_t *dd, uint64_t key, uint64_t seq, int64_t ms);

static void map_grow(evlog_dedup_t *dd)
{
    evlog_dd_ent_t *old = dd->map;
    size_t ocap = dd->mcap;
    dd->mcap = ocap ? ocap * 2 : 1024;
    dd->map = dmp_calloc(dd->mcap, sizeof(*dd->map));
    dd->mcount = 0;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].key)
            map_put(dd, old[i].key, old[i].seq, old[i].ms);
    dmp_free(old);
}

static void map_put(evlog_dedup_t *dd, uint64_t key, uint64_t seq, int64_t ms)
{
    if ((dd->mcount + 1) * 2 > dd->mcap)
        map_grow(dd);
    size_t i = slot_of(key, dd->mcap);
    while (dd->map[i].key && dd->map[i].key != key)
        i = (i + 1) & (dd->mcap - 1);
    if (!dd->map[i].key)
        dd->mcount++;
    dd->map[i] = (evlog_dd_ent_t){key, seq, ms};
}

/* Removes 'key' if it maps to 'seq'. */
static void map_del(evlog_dedup_t *dd, uint64_t key, uint64_t seq)
{
    if (!dd->mcap)
        return;
    size_t mask = dd->mcap - 1, i = slot_of(key, dd->mcap);
    while (dd->map[i].key && dd->map[i].key != key)
        i = (i + 1) & mask;
    if (dd->map[i].key != key || dd->map[i].seq != seq)
        return;
    /* Backward shift: pull later members of the cluster into the hole when their home
     * slot does not lie strictly between the hole and their position. */
    size_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!dd->map[j].key)
            break;
        size_t home = slot_of(dd->map[j].key, dd->mcap);
        int between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!between) {
            dd->map[hole] = dd->map[j];
            hole = j;
        }
    }
    dd->map[hole] = (evlog_dd_ent_t){0, 0, 0};
    dd->mcount--;
}

void dmp_evlog__dedup_fini(evlog_dedup_t *dd)
{
    dmp_free(dd->ring);
    dmp_free(dd->map);
    memset(dd, 0, sizeof(*dd));
}

uint64_t dmp_evlog__dedup_find(const evlog_dedup_t *dd, uint64_t key)
{
    if (!key || !dd->mcap)
        return 0;
    size_t i = slot_of(key, dd->mcap);
    while (dd->map[i].key) {
        if (dd->map[i].key == key)
            return dd->map[i].seq;
        i = (i + 1) & (dd->mcap - 1);
    }
    return 0;
}

void dmp_evlog__dedup_add(evlog_dedup_t *dd, uint64_t key, uint64_t seq, int64_t ms)
{
    if (!key)
        return;
    if (dd->rcount == dd->rcap) {
        size_t ncap = dd->rcap ? dd->rcap * 2 : 1024;
        evlog_dd_ent_t *nr = dmp_malloc(ncap * sizeof(*nr));
        for (size_t i = 0; i < dd->rcount; i++)
            nr[i] = dd->ring[(dd->rhead + i) % dd->rcap];
        dmp_free(dd->ring);
        dd->ring = nr;
        dd->rcap = ncap;
        dd->rhead = 0;
    }
    dd->ring[(dd->rhead + dd->rcount) % dd->rcap] = (evlog_dd_ent_t){key, seq, ms};
    dd->rcount++;
    map_put(dd, key, seq, ms);
}

void dmp_evlog__dedup_evict(evlog_dedup_t *dd, uint64_t min_seq, int64_t min_ms)
{
    while (dd->rcount) {
        evlog_dd_ent_t *e = &dd->ring[dd->rhead];
        if (e->seq >= min_seq && e->ms >= min_ms)
            break;
        map_del(dd, e->key, e->seq);
        dd->rhead = (dd->rhead + 1) % dd->rcap;
        dd->rcount--;
    }
}

void dmp_evlog__dedup_rollback(evlog_dedup_t *dd, uint64_t from_seq)
{
    while (dd->rcount) {
        evlog_dd_ent_t *e = &dd->ring[(dd->rhead + dd->rcount - 1) % dd->rcap];
        if (e->seq < from_seq)
            break;
        map_del(dd, e->key, e->seq);
        dd->rcount--;
    }
}
