/* ingest.c -- the ingest path: decode a request in one of its five modes, validate each
 * event's data against the port's compiled schema, wrap plain data in a CloudEvents
 * envelope, and append the accepted events in one durable channel append (one group
 * commit); rejected events go to the port's rejected store.
 *
 * Hot path (plain JSON data): the body is parsed once into a per-thread document, validated
 * from that document, and the envelope is written around the original bytes (no
 * re-encoding). Must not: acknowledge anything before the channel append returns.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "streams/streams_int.h"

/* ---- per-thread scratch: schema context and JSON document */

static pthread_key_t tls_ctx_key, tls_doc_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void ctx_dtor(void *p)
{
    dmp_schema_ctx_free(p);
}
static void doc_dtor(void *p)
{
    dmp_json_doc_free(p);
}
static void tls_make(void)
{
    pthread_key_create(&tls_ctx_key, ctx_dtor);
    pthread_key_create(&tls_doc_key, doc_dtor);
}
void streams_tls_init(void)
{
    pthread_once(&tls_once, tls_make);
}

dmp_schema_ctx_t *streams_tls_ctx(void)
{
    dmp_schema_ctx_t *c = pthread_getspecific(tls_ctx_key);
    if (c == NULL) {
        c = dmp_schema_ctx_new();
        pthread_setspecific(tls_ctx_key, c);
    }
    return c;
}

static dmp_json_doc_t *tls_doc(void)
{
    dmp_json_doc_t *d = pthread_getspecific(tls_doc_key);
    if (d == NULL) {
        d = dmp_json_doc_new();
        pthread_setspecific(tls_doc_key, d);
    }
    return d;
}

/* ---- helpers */

/* Compares the media type of 'ct' (before any ';') with 'want', case-insensitively. */
static int media_is(const char *ct, const char *want)
{
    if (ct == NULL)
        return 0;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, "; ");
    return n == strlen(want) && strncasecmp(ct, want, n) == 0;
}

static void trim(const char **p, size_t *len)
{
    const char *s = *p;
    size_t n = *len;
    while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    *p = s;
    *len = n;
}

/* One event of a request, as it goes through the pipeline. */
typedef struct item {
    int ok;           /* 1: accepted for append */
    size_t off, len;  /* payload in the payload buffer */
    size_t src, id;   /* offsets of NUL-terminated strings in the string buffer */
    int64_t time_ms;
    json_t *error;    /* rejection (owned) */
    dmp_error_t err;  /* the first error, for single-event replies */
    const char *raw;  /* the event as received (borrowed from the body) */
    size_t raw_len;
    uint64_t offset;
    int duplicate;
} item_t;

typedef struct job {
    dmp_stream_port_t *p;
    dmp_buf_t payloads;
    dmp_buf_t strs;
    item_t *items; /* &one until a second item is added */
    size_t n, cap;
    item_t one;    /* a single event needs no allocation */
    int64_t ts_ms; /* the time 'ts' holds, formatted once per millisecond of a batch */
    char ts[32];
} job_t;

static item_t *job_add(job_t *j, const char *raw, size_t raw_len)
{
    if (j->cap == 0) {
        j->items = &j->one;
        j->cap = 1;
    } else if (j->n == j->cap) {
        size_t cap = j->cap < 16 ? 16 : j->cap * 2;
        if (j->items == &j->one) {
            j->items = dmp_malloc(cap * sizeof(item_t));
            j->items[0] = j->one;
        } else {
            j->items = dmp_realloc(j->items, cap * sizeof(item_t));
        }
        j->cap = cap;
    }
    item_t *it = &j->items[j->n++];
    memset(it, 0, sizeof(*it));
    it->raw = raw;
    it->raw_len = raw_len;
    return it;
}

static size_t str_put(dmp_buf_t *b, const char *s)
{
    size_t at = b->len;
    dmp_buf_append(b, s, strlen(s) + 1);
    return at;
}

/* Marks 'it' rejected with 'err' (and, for schema failures, the full error list). */
static void reject(item_t *it, const dmp_error_t *err, json_t *errors)
{
    it->ok = 0;
    it->err = *err;
    json_t *e = json_pack("{s:s, s:s}", "code", dmp_errname(err->code), "detail", err->msg);
    if (err->path[0])
        json_object_set_new(e, "field", json_string(err->path));
    else if (err->where[0] == '/')
        json_object_set_new(e, "field", json_string(err->where));
    if (err->where[0] && err->where[0] != '/')
        json_object_set_new(e, "location", json_string(err->where));
    if (errors != NULL)
        json_object_set_new(e, "errors", errors);
    it->error = e;
}

/* Validates JSON data; on failure fills err (where/path = the instance pointer) and
 * returns the list of every error as JSON in *errors. */
static int validate_node(const dmp_schema_t *s, const dmp_json_node_t *node, dmp_error_t *err,
                         json_t **errors)
{
    dmp_schema_ctx_t *ctx = streams_tls_ctx();
    int rc = dmp_schema_validate_node(s, ctx, node, DMP_SCHEMA_FAIL_FAST, err);
    if (rc == DMP_OK)
        return rc;
    if (rc == DMP_SCHEMA) {
        dmp_error_t e2 = {0};
        dmp_schema_validate_node(s, ctx, node, DMP_SCHEMA_ALL_ERRORS, &e2);
        json_t *list = json_array();
        size_t n = dmp_schema_ctx_error_count(ctx);
        for (size_t i = 0; i < n && i < 20; i++) {
            const dmp_schema_error_t *se = dmp_schema_ctx_error(ctx, i);
            json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s}", "field",
                                                  se->instance_location ? se->instance_location : "",
                                                  "keyword", se->keyword ? se->keyword : "",
                                                  "schemaLocation",
                                                  se->keyword_location ? se->keyword_location : "",
                                                  "message", se->message ? se->message : ""));
        }
        *errors = list;
        if (err && err->where[0] && !err->path[0])
            snprintf(err->path, sizeof(err->path), "%s", err->where);
    }
    return rc;
}

static int check_reserved(const dmp_cloudevent_t *ev, dmp_error_t *err)
{
    for (size_t i = 0; i < ev->n_ext; i++)
        if (!strcmp(ev->ext[i].name, "dmpoffset") || !strcmp(ev->ext[i].name, "dmptime")) {
            DMP_ERR(err, DMP_INVALID,
                    "extension attribute '%s' is reserved: dmp sets it on output", ev->ext[i].name);
            dmp_error_path(err, "%s", ev->ext[i].name);
            return DMP_INVALID;
        }
    return DMP_OK;
}

/* Takes a decoded CloudEvent through validation into the job. Owns nothing of 'ev'. */
static void add_event(job_t *j, item_t *it, const dmp_cloudevent_t *ev)
{
    dmp_stream_port_t *p = j->p;
    dmp_error_t err = {0};
    json_t *errors = NULL;
    if (check_reserved(ev, &err) != DMP_OK) {
        reject(it, &err, NULL);
        return;
    }
    if (p->schema != NULL) {
        if (ev->data_kind != DMP_CE_DATA_JSON) {
            DMP_ERR(&err, DMP_SCHEMA,
                    "event data must be JSON for port '%s', which has a schema (got %s)", p->port,
                    ev->data_kind == DMP_CE_DATA_NONE ? "no data" : "binary data");
            dmp_error_path(&err, "data");
            reject(it, &err, NULL);
            return;
        }
        dmp_json_doc_t *doc = tls_doc();
        int rc = dmp_json_parse_into(doc, ev->data, ev->data_len, NULL, &err);
        if (rc == DMP_OK)
            rc = validate_node(p->schema, dmp_json_root(doc), &err, &errors);
        if (rc != DMP_OK) {
            reject(it, &err, errors);
            return;
        }
    }
    it->off = j->payloads.len;
    dmp_cloudevent_to_json(ev, NULL, 0, &j->payloads);
    it->len = j->payloads.len - it->off;
    it->src = str_put(&j->strs, ev->source);
    it->id = str_put(&j->strs, ev->id);
    it->time_ms = ev->time ? ev->time_ms : 0;
    it->ok = 1;
}

/* Plain data: 'node' is the parsed data (already validated when 'validated'). */
static void add_plain(job_t *j, item_t *it, const char *data, size_t len,
                      const dmp_json_node_t *node, const char *type)
{
    dmp_stream_port_t *p = j->p;
    dmp_error_t err = {0};
    json_t *errors = NULL;
    if (p->schema != NULL && validate_node(p->schema, node, &err, &errors) != DMP_OK) {
        reject(it, &err, errors);
        return;
    }
    char id[37];
    dmp_uuid_v7(id);
    int64_t now = dmp_now_ms();
    if (now != j->ts_ms) {
        dmp_time_format(now, j->ts);
        j->ts_ms = now;
    }
    const char *ts = j->ts;
    dmp_buf_t *b = &j->payloads;
    it->off = b->len;
    dmp_buf_puts(b, "{\"specversion\":\"1.0\",\"id\":\"");
    dmp_buf_puts(b, id);
    dmp_buf_puts(b, "\",\"source\":");
    dmp_buf_json_str(b, p->source, strlen(p->source));
    dmp_buf_puts(b, ",\"type\":");
    dmp_buf_json_str(b, type, strlen(type));
    dmp_buf_puts(b, ",\"datacontenttype\":\"application/json\",\"time\":\"");
    dmp_buf_puts(b, ts);
    dmp_buf_puts(b, "\",\"data\":");
    dmp_buf_append(b, data, len);
    dmp_buf_putc(b, '}');
    it->len = b->len - it->off;
    it->src = str_put(&j->strs, p->source);
    it->id = str_put(&j->strs, id);
    it->time_ms = now;
    it->ok = 1;
}

static int type_ok(const char *type, dmp_error_t *err)
{
    size_t n = strlen(type);
    if (n == 0 || n > 256)
        return DMP_ERR(err, DMP_INVALID, "event type '%s' must be 1..256 bytes", type);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)type[i] < 0x20)
            return DMP_ERR(err, DMP_INVALID, "event type holds a control character");
    return DMP_OK;
}

/* One NDJSON line or plain body: a structured event when it is an object with
 * "specversion", plain data otherwise. */
static void add_line(job_t *j, item_t *it, const char *s, size_t len, const char *type,
                     const dmp_ce_limits_t *lim)
{
    dmp_error_t err = {0};
    if (len > j->p->st->conf.max_event_bytes) {
        DMP_ERR(&err, DMP_LIMIT, "event of %zu bytes exceeds the limit of %zu bytes", len,
                j->p->st->conf.max_event_bytes);
        reject(it, &err, NULL);
        return;
    }
    dmp_json_doc_t *doc = tls_doc();
    if (dmp_json_parse_into(doc, s, len, NULL, &err) != DMP_OK) {
        char msg[sizeof(err.msg)];
        snprintf(msg, sizeof(msg), "%s", err.msg);
        DMP_ERR(&err, DMP_PARSE, "event data is not JSON: %s%s%s", msg, err.where[0] ? " at " : "",
                err.where);
        reject(it, &err, NULL);
        return;
    }
    const dmp_json_node_t *root = dmp_json_root(doc);
    if (dmp_json_type(root) == DMP_JSON_OBJECT && dmp_json_get(root, "specversion", 11) != NULL) {
        dmp_cloudevent_t *ev = NULL;
        if (dmp_cloudevent_parse(s, len, lim, &ev, &err) != DMP_OK) {
            reject(it, &err, NULL);
            return;
        }
        add_event(j, it, ev);
        dmp_cloudevent_free(ev);
        return;
    }
    add_plain(j, it, s, len, root, type);
}

static json_t *event_json_or_raw(const char *raw, size_t len)
{
    if (raw == NULL || len == 0)
        return json_pack("{s:n}", "event");
    json_t *v = json_loadb(raw, len, JSON_DECODE_ANY, NULL);
    if (v != NULL)
        return json_pack("{s:o}", "event", v);
    size_t n = len > 65536 ? 65536 : len;
    char *cut = dmp_strndup(raw, n);
    json_t *o = json_pack("{s:s?}", "raw", cut);
    if (o == NULL || json_object_size(o) == 0) {
        json_decref(o);
        o = json_pack("{s:s}", "raw", "(not valid UTF-8)");
    }
    dmp_free(cut);
    return o;
}

/* Keeps rejected events for inspection; a failure here is logged, never fatal. */
static void store_rejected(job_t *j)
{
    size_t n_rej = 0;
    for (size_t i = 0; i < j->n; i++)
        n_rej += !j->items[i].ok;
    if (n_rej == 0)
        return;
    char **texts = dmp_calloc(n_rej, sizeof(char *));
    dmp_channel_msg_t *msgs = dmp_calloc(n_rej, sizeof(*msgs));
    char ts[32];
    dmp_time_format(dmp_now_ms(), ts);
    size_t k = 0;
    for (size_t i = 0; i < j->n; i++) {
        item_t *it = &j->items[i];
        if (it->ok)
            continue;
        json_t *rec = event_json_or_raw(it->raw, it->raw_len);
        json_object_set_new(rec, "time", json_string(ts));
        json_object_set_new(rec, "index", json_integer((json_int_t)i));
        json_object_set(rec, "error", it->error);
        texts[k] = json_dumps(rec, JSON_COMPACT);
        json_decref(rec);
        msgs[k].payload = texts[k];
        msgs[k].len = strlen(texts[k]);
        k++;
    }
    dmp_error_t err = {0};
    if (dmp_channel_append(j->p->rejected, msgs, k, NULL, &err) != DMP_OK)
        dmp_log(DMP_LOG_WARN, "cannot keep rejected events", "port", j->p->port, "error", err.msg,
                NULL);
    for (size_t i = 0; i < k; i++)
        free(texts[i]);
    dmp_free(texts);
    dmp_free(msgs);
}

/* ---- group commit across requests
 *
 * Concurrent ingest requests on one channel are combined into one channel append (one
 * write and one fdatasync for all of them). A request queues its records on the channel's
 * combiner; the first one finding no combiner at work becomes it and takes everything
 * queued (up to GROUP_MAX_BYTES); what arrives during its fdatasync forms the next group.
 * (A variant that waited up to 250 us for the rest of recent groups gained ~20% with a
 * thread per connection, but with fibers it only made the groups lockstep with the loop
 * threads: 24.1k/28.3k/31.6k req/s with it against 29.9k/30.4k/32.1k without, so there
 * is no waiting.) Every request is acknowledged only after the append of its group
 * returned (after fdatasync); a failed append fails every request of the group.
 *
 * Fibers: when the HTTP server runs handlers on fibers (src/http/server.c installs
 * dmp_streams_set_fiber_hooks), a request does not block its thread: it queues its job,
 * parks the fiber and never leads; a group is then led by one of two combiner threads,
 * and completing a job wakes its fiber (the server resumes the connection). Blocking
 * callers (no fiber) lead groups themselves as before. Both kinds share the same groups. */

static dmp_streams_fiber_hooks_t fiber_hooks; /* zero: plain threads block */

void dmp_streams_set_fiber_hooks(const dmp_streams_fiber_hooks_t *hooks)
{
    static const dmp_streams_fiber_hooks_t none = {NULL, NULL, NULL};
    fiber_hooks = hooks != NULL && hooks->self && hooks->park && hooks->wake ? *hooks : none;
}

#define GROUP_MAX_BYTES (16u * 1024 * 1024)

typedef struct gc_job {
    const dmp_channel_msg_t *msgs;
    dmp_channel_result_t *res;
    size_t n, bytes;
    int done, rc;
    dmp_error_t *err;    /* the requester's, filled on failure (may be NULL) */
    pthread_cond_t cond; /* this request's wake-up: its group is done, or it leads next */
    void *fiber;         /* set: wake this fiber instead of signalling cond */
    struct gc_job *next;
} gc_job_t;

typedef struct gc {
    dmp_channel_t *ch;
    int refs;     /* requests using this combiner (under gc_mu) */
    int active;   /* a combiner is appending */
    gc_job_t *q_head, *q_tail;
    int queued;   /* on the combiner threads' list (holds a reference) */
    struct gc *next_pending;
    struct gc *next;
} gc_t;

/* One mutex for every combiner: it is held only to queue, take and finish (no I/O). */
static pthread_mutex_t gc_mu = PTHREAD_MUTEX_INITIALIZER;
static gc_t *gc_list;
/* Combiners waiting for a combiner thread (fiber jobs at their queue's head). */
static gc_t *gc_pending;
static pthread_cond_t gc_pool_cond = PTHREAD_COND_INITIALIZER;
static pthread_once_t gc_pool_once = PTHREAD_ONCE_INIT;

static gc_t *gc_get(dmp_channel_t *ch)
{
    gc_t *g;
    for (g = gc_list; g != NULL; g = g->next)
        if (g->ch == ch)
            break;
    if (g == NULL) {
        g = dmp_calloc(1, sizeof(*g));
        g->ch = ch;
        g->next = gc_list;
        gc_list = g;
    }
    g->refs++;
    return g;
}

/* Drops a reference (gc_mu held); the last one frees the combiner. */
static void gc_put(gc_t *g)
{
    if (--g->refs > 0)
        return;
    for (gc_t **pp = &gc_list; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    dmp_free(g);
}

/* The combiner's work: appends the jobs of one group in one call. Called without gc_mu. */
static void gc_run(gc_t *g, gc_job_t *group, size_t nmsgs)
{
    dmp_channel_msg_t *msgs = dmp_malloc(nmsgs * sizeof(*msgs));
    dmp_channel_result_t *res = dmp_malloc(nmsgs * sizeof(*res));
    size_t k = 0;
    for (gc_job_t *jb = group; jb; jb = jb->next) {
        memcpy(msgs + k, jb->msgs, jb->n * sizeof(*msgs));
        k += jb->n;
    }
    dmp_error_t err = {0};
    int rc = dmp_channel_append(g->ch, msgs, nmsgs, res, &err);
    /* The fibers are woken after gc_mu is released (a wake-up may be a system call, and
     * loop threads queueing the next group wait for gc_mu). A blocking caller's job stays
     * valid only until gc_mu is released (its owner re-takes gc_mu first), a parked
     * fiber's until it is woken: so the fibers are collected first. */
    void *fib1[64], **fibers = fib1;
    size_t nfib = 0, cap = sizeof(fib1) / sizeof(fib1[0]);
    pthread_mutex_lock(&gc_mu);
    k = 0;
    for (gc_job_t *jb = group; jb; jb = jb->next) {
        jb->rc = rc;
        if (rc == DMP_OK)
            memcpy(jb->res, res + k, jb->n * sizeof(*res));
        else if (jb->err != NULL)
            *jb->err = err;
        k += jb->n;
        if (jb->fiber) {
            if (nfib == cap) {
                cap *= 2;
                if (fibers == fib1) {
                    fibers = dmp_malloc(cap * sizeof(*fibers));
                    memcpy(fibers, fib1, sizeof(fib1));
                } else {
                    fibers = dmp_realloc(fibers, cap * sizeof(*fibers));
                }
            }
            fibers[nfib++] = jb->fiber;
        }
        jb->done = 1;
        if (!jb->fiber)
            pthread_cond_signal(&jb->cond);
    }
    pthread_mutex_unlock(&gc_mu);
    for (size_t i = 0; i < nfib; i++)
        fiber_hooks.wake(fibers[i]);
    if (fibers != fib1)
        dmp_free(fibers);
    dmp_free(msgs);
    dmp_free(res);
}

static void gc_kick(gc_t *g);

/* Leads one group (gc_mu held, no combiner active): takes the queue's head jobs, appends
 * them without gc_mu, completes them, then passes the role on. Returns 1 when the next
 * group is fibers' and a combiner thread called ('pool'): it leads that one too, rather
 * than waking the other combiner thread for it (a futex wake-up and a context switch per
 * group, docs/performance.md). */
static int gc_lead(gc_t *g, int pool)
{
    g->active = 1;
    gc_job_t *group = g->q_head, *last = group;
    size_t bytes = group->bytes, nmsgs = group->n;
    while (last->next && bytes + last->next->bytes <= GROUP_MAX_BYTES) {
        last = last->next;
        bytes += last->bytes;
        nmsgs += last->n;
    }
    g->q_head = last->next;
    if (g->q_head == NULL)
        g->q_tail = NULL;
    last->next = NULL;
    pthread_mutex_unlock(&gc_mu);
    gc_run(g, group, nmsgs);
    pthread_mutex_lock(&gc_mu);
    g->active = 0;
    /* The next request in line leads the next group; a fiber's goes to a combiner thread. */
    if (g->q_head != NULL) {
        if (!g->q_head->fiber)
            pthread_cond_signal(&g->q_head->cond);
        else if (pool)
            return 1;
        else
            gc_kick(g);
    }
    return 0;
}

static void *gc_pool_main(void *arg)
{
    pthread_mutex_lock(&gc_mu);
    for (;;) {
        while (gc_pending == NULL)
            pthread_cond_wait(&gc_pool_cond, &gc_mu);
        gc_t *g = gc_pending;
        gc_pending = g->next_pending;
        g->queued = 0;
        int rounds = 0;
        while (!g->active && g->q_head != NULL && gc_lead(g, 1)) {
            if (++rounds == 64) { /* other channels' groups may be waiting: queue up again */
                gc_kick(g);
                break;
            }
        }
        gc_put(g);
    }
    return NULL;
}

static void gc_pool_start(void)
{
    for (int i = 0; i < 2; i++) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &a, gc_pool_main, NULL) != 0)
            dmp_log(DMP_LOG_ERROR, "cannot start a group-commit thread", NULL);
        pthread_attr_destroy(&a);
    }
}

/* Hands g to a combiner thread (gc_mu held). */
static void gc_kick(gc_t *g)
{
    pthread_once(&gc_pool_once, gc_pool_start);
    if (g->queued)
        return;
    g->queued = 1;
    g->refs++;
    g->next_pending = NULL;
    gc_t **pp = &gc_pending;
    while (*pp)
        pp = &(*pp)->next_pending;
    *pp = g;
    pthread_cond_signal(&gc_pool_cond);
}

/* Appends msgs[0..n) through the channel's combiner; returns when they are durable. */
static int gc_append(dmp_channel_t *ch, const dmp_channel_msg_t *msgs, size_t n,
                     dmp_channel_result_t *res, dmp_error_t *err)
{
    gc_job_t job = {.msgs = msgs, .res = res, .n = n, .err = err};
    job.fiber = fiber_hooks.self ? fiber_hooks.self() : NULL;
    if (job.fiber == NULL)
        pthread_cond_init(&job.cond, NULL);
    for (size_t i = 0; i < n; i++)
        job.bytes += msgs[i].len;
    pthread_mutex_lock(&gc_mu);
    gc_t *g = gc_get(ch);
    if (g->q_tail)
        g->q_tail->next = &job;
    else
        g->q_head = &job;
    g->q_tail = &job;
    if (job.fiber && !g->active && g->q_head == &job)
        gc_kick(g);
    while (!job.done) {
        if (job.fiber) {
            pthread_mutex_unlock(&gc_mu);
            fiber_hooks.park();
            pthread_mutex_lock(&gc_mu);
        } else if (g->active || g->q_head != &job) {
            pthread_cond_wait(&job.cond, &gc_mu);
        } else {
            gc_lead(g, 0);
        }
    }
    int rc = job.rc;
    if (job.fiber == NULL)
        pthread_cond_destroy(&job.cond);
    gc_put(g);
    pthread_mutex_unlock(&gc_mu);
    return rc;
}

/* Appends the accepted items (one group commit, shared with concurrent requests); fills
 * offsets. */
static int append_accepted(job_t *j, dmp_error_t *err)
{
    size_t n_ok = 0;
    for (size_t i = 0; i < j->n; i++)
        n_ok += j->items[i].ok;
    if (n_ok == 0)
        return DMP_OK;
    dmp_channel_msg_t msg1[4], *msgs = n_ok <= 4 ? msg1 : dmp_malloc(n_ok * sizeof(*msgs));
    dmp_channel_result_t res1[4], *res = n_ok <= 4 ? res1 : dmp_malloc(n_ok * sizeof(*res));
    size_t k = 0;
    for (size_t i = 0; i < j->n; i++) {
        item_t *it = &j->items[i];
        if (!it->ok)
            continue;
        msgs[k].payload = j->payloads.data + it->off;
        msgs[k].len = it->len;
        msgs[k].event_ms = it->time_ms;
        msgs[k].source = j->strs.data + it->src;
        msgs[k].id = j->strs.data + it->id;
        k++;
    }
    int rc = gc_append(j->p->ch, msgs, n_ok, res, err);
    if (rc == DMP_OK) {
        k = 0;
        for (size_t i = 0; i < j->n; i++)
            if (j->items[i].ok) {
                j->items[i].offset = res[k].offset;
                j->items[i].duplicate = res[k].duplicate;
                k++;
            }
    }
    if (msgs != msg1)
        dmp_free(msgs);
    if (res != res1)
        dmp_free(res);
    return rc;
}

static void job_fini(job_t *j)
{
    for (size_t i = 0; i < j->n; i++)
        json_decref(j->items[i].error);
    if (j->items != &j->one)
        dmp_free(j->items);
    dmp_buf_free(&j->payloads);
    dmp_buf_free(&j->strs);
}

static json_t *accepted_json(job_t *j, item_t *it)
{
    return json_pack("{s:I, s:s, s:s, s:b}", "offset", (json_int_t)it->offset, "id",
                     j->strs.data + it->id, "source", j->strs.data + it->src, "duplicate",
                     it->duplicate);
}

/* The same object as accepted_json, as text. */
static void accepted_text(dmp_buf_t *b, job_t *j, item_t *it)
{
    const char *id = j->strs.data + it->id, *src = j->strs.data + it->src;
    dmp_buf_puts(b, "{\"offset\":");
    dmp_buf_put_u64(b, it->offset);
    dmp_buf_puts(b, ",\"id\":");
    dmp_buf_json_str(b, id, strlen(id));
    dmp_buf_puts(b, ",\"source\":");
    dmp_buf_json_str(b, src, strlen(src));
    dmp_buf_puts(b, it->duplicate ? ",\"duplicate\":true}" : ",\"duplicate\":false}");
}

int dmp_streams_ingest(dmp_streams_t *st, dmp_stream_port_t *p, const dmp_stream_input_t *in,
                       json_t **reply, int *batch_out, dmp_error_t *err)
{
    *reply = NULL;
    *batch_out = 0;
    const char *ct = in->content_type;
    const char *type = in->type && in->type[0] ? in->type : p->type;
    int rc;
    if ((rc = type_ok(type, err)) != DMP_OK)
        return rc;
    dmp_ce_limits_t lim = {
        .max_event_bytes = st->conf.max_event_bytes,
        .max_batch_bytes = st->conf.max_batch_bytes,
        .max_batch_events = st->conf.max_batch_events,
    };
    int binary = 0;
    for (size_t i = 0; i < in->n_headers; i++)
        if (!strcasecmp(in->headers[i].name, "ce-specversion"))
            binary = 1;
    int is_batch = media_is(ct, "application/cloudevents-batch+json");
    int is_ndjson = media_is(ct, "application/x-ndjson") || media_is(ct, "application/ndjson") ||
                    media_is(ct, "application/jsonl");
    int is_structured = media_is(ct, "application/cloudevents+json");
    if (is_batch || is_ndjson) {
        if (in->len > st->conf.max_batch_bytes)
            return DMP_ERR(err, DMP_LIMIT, "batch of %zu bytes exceeds the limit of %zu bytes",
                           in->len, st->conf.max_batch_bytes);
    } else if (in->len > st->conf.max_event_bytes) {
        return DMP_ERR(err, DMP_LIMIT, "event of %zu bytes exceeds the limit of %zu bytes",
                       in->len, st->conf.max_event_bytes);
    }
    if (!binary && !is_batch && !is_ndjson && !is_structured && ct != NULL && ct[0] != '\0' &&
        !dmp_ce_is_json_type(ct))
        return DMP_ERR(err, DMP_UNSUPPORTED,
                       "content type '%s' is not accepted: send application/json (plain data), "
                       "application/cloudevents+json, application/cloudevents-batch+json, "
                       "application/x-ndjson, or binary mode with ce-* headers",
                       ct);

    job_t j = {.p = p};
    if (is_batch) {
        *batch_out = 1;
        dmp_ce_batch_t b = {0};
        if ((rc = dmp_ce_parse_batch(in->body, in->len, &lim, &b, err)) != DMP_OK)
            return rc;
        for (size_t i = 0; i < b.n; i++) {
            item_t *it = job_add(&j, in->body, 0);
            if (b.items[i].ev == NULL) {
                reject(it, &b.items[i].err, NULL);
                continue;
            }
            add_event(&j, it, b.items[i].ev);
        }
        /* Keep each rejected event's own text for the rejected store. */
        for (size_t i = 0; i < b.n; i++) {
            item_t *it = &j.items[i];
            if (!it->ok) {
                dmp_buf_t tmp = DMP_BUF_INIT;
                if (b.items[i].ev)
                    dmp_cloudevent_to_json(b.items[i].ev, NULL, 0, &tmp);
                it->raw = tmp.len ? dmp_buf_steal(&tmp) : NULL;
                it->raw_len = it->raw ? strlen(it->raw) : 0;
                dmp_buf_free(&tmp);
            } else {
                it->raw = NULL;
            }
        }
        dmp_ce_batch_fini(&b);
    } else if (is_ndjson) {
        *batch_out = 1;
        const char *s = in->body, *end = in->body + in->len;
        while (s < end) {
            const char *nl = memchr(s, '\n', (size_t)(end - s));
            const char *le = nl ? nl : end;
            const char *line = s;
            size_t len = (size_t)(le - s);
            s = nl ? nl + 1 : end;
            trim(&line, &len);
            if (len == 0)
                continue;
            if (j.n >= st->conf.max_batch_events) {
                job_fini(&j);
                return DMP_ERR(err, DMP_LIMIT, "batch holds more than %zu events",
                               st->conf.max_batch_events);
            }
            item_t *it = job_add(&j, line, len);
            add_line(&j, it, line, len, type, &lim);
        }
    } else if (binary) {
        dmp_ce_header_t *hs = dmp_calloc(in->n_headers + 1, sizeof(*hs));
        for (size_t i = 0; i < in->n_headers; i++) {
            hs[i].name = in->headers[i].name;
            hs[i].value = in->headers[i].value;
        }
        dmp_cloudevent_t *ev = NULL;
        item_t *it = job_add(&j, in->body, in->len);
        dmp_error_t e = {0};
        if (dmp_cloudevent_from_binary(hs, in->n_headers, in->body, in->len, &lim, &ev, &e) != DMP_OK)
            reject(it, &e, NULL);
        else
            add_event(&j, it, ev);
        dmp_cloudevent_free(ev);
        dmp_free(hs);
    } else if (is_structured) {
        dmp_cloudevent_t *ev = NULL;
        item_t *it = job_add(&j, in->body, in->len);
        dmp_error_t e = {0};
        if (dmp_cloudevent_parse(in->body, in->len, &lim, &ev, &e) != DMP_OK)
            reject(it, &e, NULL);
        else
            add_event(&j, it, ev);
        dmp_cloudevent_free(ev);
    } else {
        const char *data = in->body;
        size_t len = in->len;
        trim(&data, &len);
        item_t *it = job_add(&j, in->body, in->len);
        dmp_error_t e = {0};
        dmp_json_doc_t *doc = tls_doc();
        if (dmp_json_parse_into(doc, data, len, NULL, &e) != DMP_OK) {
            char msg[sizeof(e.msg)];
            snprintf(msg, sizeof(msg), "%s", e.msg);
            DMP_ERR(&e, DMP_PARSE, "request body is not JSON: %s%s%s", msg,
                    e.where[0] ? " at " : "", e.where);
            reject(it, &e, NULL);
        } else {
            add_plain(&j, it, data, len, dmp_json_root(doc), type);
        }
    }

    rc = append_accepted(&j, err);
    store_rejected(&j);
    if (rc != DMP_OK)
        goto out;
    if (*batch_out) {
        size_t acc = 0, rej = 0, dup = 0;
        json_t *results = json_array();
        for (size_t i = 0; i < j.n; i++) {
            item_t *it = &j.items[i];
            json_t *r;
            if (it->ok) {
                r = json_pack("{s:I, s:s, s:I, s:s}", "index", (json_int_t)i, "status",
                              it->duplicate ? "duplicate" : "accepted", "offset",
                              (json_int_t)it->offset, "id", j.strs.data + it->id);
                acc += !it->duplicate;
                dup += it->duplicate;
            } else {
                r = json_pack("{s:I, s:s, s:O}", "index", (json_int_t)i, "status", "rejected",
                              "error", it->error);
                rej++;
            }
            json_array_append_new(results, r);
        }
        *reply = json_pack("{s:I, s:I, s:I, s:o}", "accepted", (json_int_t)acc, "rejected",
                           (json_int_t)rej, "duplicates", (json_int_t)dup, "results", results);
    } else {
        item_t *it = &j.items[0];
        if (it->ok && in->ack_json != NULL) {
            accepted_text(in->ack_json, &j, it);
            if (in->ack_duplicate != NULL)
                *in->ack_duplicate = it->duplicate;
        } else if (it->ok) {
            *reply = accepted_json(&j, it);
        } else {
            if (err != NULL)
                *err = it->err;
            rc = it->err.code ? (int)it->err.code : DMP_INVALID;
            json_t *errs = json_object_get(it->error, "errors");
            if (errs != NULL)
                *reply = json_pack("{s:O}", "errors", errs);
        }
    }
out:
    if (is_batch)
        for (size_t i = 0; i < j.n; i++)
            dmp_free((char *)j.items[i].raw);
    job_fini(&j);
    return rc;
}
