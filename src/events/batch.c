/* batch.c -- batch mode (application/cloudevents-batch+json) and NDJSON of structured
 * events.
 *
 * The body is split into entries by a structural scan, then each entry is parsed on its
 * own, so one bad entry is reported by index while the others still parse. The scan and
 * every entry are bounded by dmp_ce_limits_t.
 */
#include "events_int.h"

#include <stdio.h>
#include <string.h>

static void batch_push(dmp_ce_batch_t *b, size_t *cap, dmp_cloudevent_t *ev,
                       const dmp_error_t *err)
{
    if (b->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        b->items = dmp_realloc(b->items, *cap * sizeof(*b->items));
    }
    dmp_ce_batch_item_t *it = &b->items[b->n++];
    memset(it, 0, sizeof(*it));
    it->ev = ev;
    if (ev)
        b->n_ok++;
    else
        it->err = *err;
}

void dmp_ce_batch_fini(dmp_ce_batch_t *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        dmp_cloudevent_free(b->items[i].ev);
    dmp_free(b->items);
    memset(b, 0, sizeof(*b));
}

static void parse_entry(dmp_ce_batch_t *b, size_t *cap, const char *s, size_t n,
                        const dmp_ce_limits_t *lim, const char *what)
{
    char ctx[48], pfx[32];
    dmp_error_t e = {0};
    dmp_cloudevent_t *ev = NULL;

    snprintf(ctx, sizeof(ctx), "%s %zu: ", what, b->n);
    snprintf(pfx, sizeof(pfx), "[%zu].", b->n);
    if (ce_parse_one(s, n, lim, ctx, pfx, &ev, &e) != DMP_OK)
        ev = NULL;
    batch_push(b, cap, ev, &e);
}

int dmp_ce_parse_batch(const char *buf, size_t len, const dmp_ce_limits_t *lim,
                       dmp_ce_batch_t *out, dmp_error_t *err)
{
    dmp_ce_limits_t l = ce_limits_resolve(lim);
    const char *p, *end = buf + len;
    size_t cap = 0;

    memset(out, 0, sizeof(*out));
    if (len > l.max_batch_bytes)
        return DMP_ERR(err, DMP_LIMIT, "batch is %zu bytes, over the limit of %zu", len,
                       l.max_batch_bytes);
    p = ce_json_ws(buf, end);
    if (p >= end || *p != '[')
        return DMP_ERR(err, DMP_PARSE, "a batch must be a JSON array of events");
    /* check the whole array's structure before taking it apart */
    const char *q = p;
    if (ce_json_skip(&q, end, CE_JSON_MAX_DEPTH + 1) != 0 || ce_json_ws(q, end) != end)
        return DMP_ERR(err, DMP_PARSE,
                       "batch is not a well-formed JSON array (unbalanced brackets, an "
                       "unterminated string, trailing bytes or nesting over %d levels)",
                       CE_JSON_MAX_DEPTH);
    p = ce_json_ws(p + 1, end);
    if (p < end && *p == ']')
        return DMP_OK;
    for (;;) {
        const char *s = ce_json_ws(p, end);
        p = s;
        if (ce_json_skip(&p, end, CE_JSON_MAX_DEPTH) != 0)
            goto malformed;
        if (out->n >= l.max_batch_events) {
            dmp_ce_batch_fini(out);
            return DMP_ERR(err, DMP_LIMIT, "batch has more than %zu events", l.max_batch_events);
        }
        parse_entry(out, &cap, s, (size_t)(p - s), &l, "event");
        p = ce_json_ws(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == ']')
            return DMP_OK;
        goto malformed;
    }
malformed:
    dmp_ce_batch_fini(out);
    return DMP_ERR(err, DMP_PARSE, "batch is not a well-formed JSON array");
}

int dmp_ce_parse_ndjson(const char *buf, size_t len, const dmp_ce_limits_t *lim,
                        dmp_ce_batch_t *out, dmp_error_t *err)
{
    dmp_ce_limits_t l = ce_limits_resolve(lim);
    const char *p = buf, *end = buf + len;
    size_t cap = 0;

    memset(out, 0, sizeof(*out));
    if (len > l.max_batch_bytes)
        return DMP_ERR(err, DMP_LIMIT, "NDJSON body is %zu bytes, over the limit of %zu", len,
                       l.max_batch_bytes);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *s = ce_json_ws(p, le);
        const char *e = le;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (e > s) {
            if (out->n >= l.max_batch_events) {
                dmp_ce_batch_fini(out);
                return DMP_ERR(err, DMP_LIMIT, "NDJSON body has more than %zu events",
                               l.max_batch_events);
            }
            parse_entry(out, &cap, s, (size_t)(e - s), &l, "event");
        }
        p = nl ? nl + 1 : end;
    }
    return DMP_OK;
}
