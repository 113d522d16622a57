/* read.c -- reads of a port's channel by offset and time, with CESQL filtering, as a JSON
 * array, NDJSON or SSE frames; and reads of the rejected store.
 *
 * Stored records are complete CloudEvent JSON objects; on output dmp adds the extensions
 * dmpoffset (the offset) and dmptime (processing time) by writing them in front of the
 * stored members, so unfiltered reads never re-encode an event.
 */
#include <string.h>

#include "streams/streams_int.h"

void streams_emit_record(dmp_buf_t *out, const dmp_channel_rec_t *rec)
{
    char ts[32];
    dmp_time_format(rec->append_ms, ts);
    const char *pl = rec->payload;
    dmp_buf_printf(out, "{\"dmpoffset\":%llu,\"dmptime\":\"%s\"", (unsigned long long)rec->offset,
                   ts);
    if (rec->len > 2)
        dmp_buf_putc(out, ',');
    if (rec->len > 1)
        dmp_buf_append(out, pl + 1, rec->len - 1); /* members and the closing brace */
    else
        dmp_buf_putc(out, '}');
}

/* Bounds of one filtered read: a filter or event-time bound may pass over many records
 * without a match, so such a read goes on to the end of the log unless it has examined
 * this many records or spent this long; *next then says where the client continues. */
#define SCAN_RECORDS_MAX 200000
#define SCAN_TIME_MS 500
#define SCAN_CHUNK 4096 /* records per channel read */

typedef struct rd {
    const dmp_stream_query_t *q;
    dmp_buf_t *out;
    size_t count;
    size_t scanned;
    size_t max_scan;
    uint64_t last; /* last offset examined */
    int stop_time;
    int64_t deadline_ms; /* 0: no time bound */
    int stopped;         /* a bound was reached */
} rd_t;

/* The event with its output-only extensions, for filters that look at them. */
static int filter_pass(const dmp_cesql_t *f, const dmp_channel_rec_t *rec)
{
    dmp_cloudevent_t *ev = NULL;
    if (dmp_cloudevent_parse(rec->payload, rec->len, NULL, &ev, NULL) != DMP_OK)
        return 0;
    dmp_cloudevent_set_ext_int(ev, "dmpoffset", (int64_t)rec->offset, NULL);
    char ts[32];
    dmp_time_format(rec->append_ms, ts);
    dmp_cloudevent_set_ext(ev, "dmptime", DMP_CE_TIMESTAMP, ts, NULL);
    int ok = dmp_cesql_match(f, ev);
    dmp_cloudevent_free(ev);
    return ok;
}

static int on_rec_view(rd_t *r, const dmp_channel_rec_t *rec);

/* Masks the record for its reader first, so filters and output see the same event. */
static int on_rec(void *ud, const dmp_channel_rec_t *rec)
{
    rd_t *r = ud;
    dmp_channel_rec_t tmp;
    char *owned = NULL;
    if (dmp_streams_mask_record(r->q->mask, r->q->mask_ud, rec, &tmp, &owned))
        rec = &tmp;
    int stop = on_rec_view(r, rec);
    dmp_free(owned);
    return stop;
}

static int on_rec_view(rd_t *r, const dmp_channel_rec_t *rec)
{
    const dmp_stream_query_t *q = r->q;
    r->last = rec->offset;
    r->scanned++;
    if (q->until_ms && rec->append_ms >= q->until_ms) {
        r->stop_time = 1;
        r->stopped = 1;
        return 1;
    }
    int pass = 1;
    /* An event without `time` (stored with event_ms 0) has no event time to compare: any
     * event-time bound excludes it, or it would match every event_until. */
    if ((q->event_since_ms || q->event_until_ms) && rec->event_ms == 0)
        pass = 0;
    if (pass && q->event_since_ms && rec->event_ms < q->event_since_ms)
        pass = 0;
    if (pass && q->event_until_ms && rec->event_ms >= q->event_until_ms)
        pass = 0;
    if (pass && q->filter != NULL)
        pass = filter_pass(q->filter, rec);
    if (pass) {
        switch (q->format) {
        case DMP_STREAM_FMT_ARRAY:
            if (r->count > 0)
                dmp_buf_putc(r->out, ',');
            streams_emit_record(r->out, rec);
            break;
        case DMP_STREAM_FMT_NDJSON:
            streams_emit_record(r->out, rec);
            dmp_buf_putc(r->out, '\n');
            break;
        case DMP_STREAM_FMT_SSE:
            dmp_buf_printf(r->out, "id: %llu\ndata: ", (unsigned long long)rec->offset);
            streams_emit_record(r->out, rec);
            dmp_buf_puts(r->out, "\n\n");
            break;
        }
        r->count++;
    }
    if (r->count >= q->limit || r->scanned >= r->max_scan)
        r->stopped = 1;
    else if (r->deadline_ms && (r->scanned & 255) == 0 && dmp_now_ms() >= r->deadline_ms)
        r->stopped = 1;
    return r->stopped;
}

int dmp_streams_read(dmp_streams_t *st, dmp_stream_port_t *p, const dmp_stream_query_t *q0,
                     dmp_buf_t *out, uint64_t *next, size_t *count, dmp_error_t *err)
{
    dmp_stream_query_t q = *q0;
    if (q.limit == 0)
        q.limit = 100;
    if (q.limit > 10000)
        q.limit = 10000;
    uint64_t from = q.from ? q.from : 1;
    if (q.since_ms) {
        uint64_t t;
        int rc = dmp_channel_seek_time(p->ch, q.since_ms, &t, err);
        if (rc != DMP_OK)
            return rc;
        if (t > from)
            from = t;
    }
    int selective = q.filter != NULL || q.event_since_ms || q.event_until_ms;
    rd_t r = {.q = &q, .out = out};
    if (q.max_scan)
        r.max_scan = q.max_scan;
    else if (selective)
        r.max_scan = SCAN_RECORDS_MAX;
    else
        r.max_scan = q.limit;
    if (selective && !q.max_scan)
        r.deadline_ms = dmp_now_ms() + SCAN_TIME_MS;
    if (q.format == DMP_STREAM_FMT_ARRAY)
        dmp_buf_putc(out, '[');
    uint64_t nx = from;
    int rc = DMP_OK;
    /* Chunked so a selective read can run to the end of the log within its bounds. */
    while (!r.stopped) {
        size_t want = r.max_scan - r.scanned;
        if (want > SCAN_CHUNK)
            want = SCAN_CHUNK;
        size_t before = r.scanned;
        uint64_t at = nx;
        rc = dmp_channel_read(p->ch, at, want, 8u * 1024 * 1024, on_rec, &r, &nx, err);
        if (rc != DMP_OK || r.scanned == before || nx <= at)
            break; /* an error, or the end of the log */
    }
    if (q.format == DMP_STREAM_FMT_ARRAY)
        dmp_buf_putc(out, ']');
    if (rc != DMP_OK)
        return rc;
    /* Continue after the last record examined (a time bound stops before it). */
    if (r.stop_time)
        nx = r.last;
    else if (r.last)
        nx = r.last + 1;
    if (next)
        *next = nx;
    if (count)
        *count = r.count;
    return DMP_OK;
}

/* Waits in slices so a reader holding an old port object notices within a slice that the
 * port was replaced or deleted (and lets it go). */
#define WAIT_SLICE_MS 250

int dmp_streams_wait(dmp_stream_port_t *p, uint64_t after, int timeout_ms)
{
    int64_t deadline = dmp_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (dmp_streams_port_gone(p))
            return DMP_UNAVAILABLE;
        int64_t left = deadline - dmp_now_ms();
        int slice = left > WAIT_SLICE_MS ? WAIT_SLICE_MS : (int)(left > 0 ? left : 0);
        int rc = dmp_channel_wait(p->ch, after, slice);
        if (dmp_streams_port_gone(p))
            return DMP_UNAVAILABLE;
        if (rc != DMP_TIMEOUT || dmp_now_ms() >= deadline)
            return rc;
    }
}

typedef struct rj {
    json_t *arr;
    uint64_t last;
} rj_t;

static int on_rej(void *ud, const dmp_channel_rec_t *rec)
{
    rj_t *r = ud;
    r->last = rec->offset;
    json_t *v = json_loadb(rec->payload, rec->len, 0, NULL);
    if (v == NULL)
        v = json_object();
    json_object_set_new(v, "offset", json_integer((json_int_t)rec->offset));
    json_array_append_new(r->arr, v);
    return 0;
}

int dmp_streams_rejected(dmp_streams_t *st, dmp_stream_port_t *p, uint64_t from, size_t limit,
                         json_t **out, dmp_error_t *err)
{
    *out = NULL;
    if (limit == 0 || limit > 1000)
        limit = limit == 0 ? 100 : 1000;
    rj_t r = {.arr = json_array()};
    uint64_t nx = from;
    int rc = dmp_channel_read(p->rejected, from ? from : 1, limit, 0, on_rej, &r, &nx, err);
    if (rc != DMP_OK) {
        json_decref(r.arr);
        return rc;
    }
    dmp_channel_stats_t cs;
    dmp_channel_stats(p->rejected, &cs);
    *out = json_pack("{s:I, s:I, s:o}", "next", (json_int_t)(r.last ? r.last + 1 : nx), "total",
                     (json_int_t)(cs.next_offset ? cs.next_offset - 1 : 0), "rejected", r.arr);
    return DMP_OK;
}
