/* subs.c -- subscriptions after the CloudEvents Subscriptions API: CRUD, filters in the
 * exact/prefix/suffix/all/any/not/sql dialects (events.h), and one push worker per
 * subscription that POSTs each matching event (structured mode) to the sink with
 * exponential back-off, committing its offset to <id>.offset after each delivered batch.
 * Delivery is at-least-once: a crash between a delivery and its commit repeats it.
 * Must not: block other subscriptions or ingest while a sink is slow (each worker has its
 * own thread and its own bounded timeouts).
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "streams/streams_access.h"
#include "streams/streams_int.h"

struct stream_sub {
    dmp_streams_t *st;
    char *id;
    json_t *def;             /* the stored definition */
    dmp_ce_filter_t *filter; /* may be NULL: everything */
    char *sink;
    int binary; /* push in binary content mode (ce-* headers) */
    char *env, *domain, *name, *port;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    /* status, guarded by mu */
    uint64_t offset; /* next offset to deliver (committed) */
    uint64_t delivered;
    uint64_t attempts; /* failed attempts in a row */
    char last_error[256];
    int64_t last_delivery_ms;
    stream_sub_t *next;
};

static char *sub_path(dmp_streams_t *st, const char *id, const char *ext)
{
    return dmp_asprintf("%s/%s.%s", st->subs_dir, id, ext);
}

static int save_offset(stream_sub_t *s, uint64_t off)
{
    char *path = sub_path(s->st, s->id, "offset");
    char txt[32];
    int n = snprintf(txt, sizeof(txt), "%llu\n", (unsigned long long)off);
    dmp_error_t e = {0};
    int rc = streams_write_file(path, txt, (size_t)n, &e);
    if (rc != DMP_OK)
        dmp_log(DMP_LOG_WARN, "cannot commit subscription offset", "subscription", s->id, "error",
                e.msg, NULL);
    dmp_free(path);
    return rc;
}

/* Sleeps up to ms unless told to stop; returns 1 when stopping. */
static int sub_sleep(stream_sub_t *s, int ms)
{
    pthread_mutex_lock(&s->mu);
    if (!s->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (int64_t)ms * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    int stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static int stopping(stream_sub_t *s)
{
    pthread_mutex_lock(&s->mu);
    int stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void set_error(stream_sub_t *s, const char *fmt, ...) DMP_PRINTF(2, 3);
static void set_error(stream_sub_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&s->mu);
    vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
    s->attempts++;
    pthread_mutex_unlock(&s->mu);
    va_end(ap);
}

static int backoff_ms(stream_sub_t *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t a = s->attempts;
    pthread_mutex_unlock(&s->mu);
    int64_t ms = 100;
    for (uint64_t i = 1; i < a && ms < s->st->conf.push_backoff_max_ms; i++)
        ms *= 2;
    if (ms > s->st->conf.push_backoff_max_ms)
        ms = s->st->conf.push_backoff_max_ms;
    return (int)ms;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

typedef struct batch_rec {
    uint64_t offset;
    dmp_buf_t body;
    dmp_buf_t headers; /* binary mode: "name: value\r\n" lines */
    int pass;
} batch_rec_t;

typedef struct collect {
    stream_sub_t *s;
    batch_rec_t *recs;
    size_t n;
    streams_view_t view; /* the creator's view of the data (masking) */
} collect_t;

static int on_collect_view(collect_t *c, const dmp_channel_rec_t *rec);

/* Binary content mode: the attributes (with dmpoffset and dmptime) as ce-* headers and
 * the data as the body. */
static void render_binary(batch_rec_t *b, dmp_cloudevent_t *ev, const dmp_channel_rec_t *rec)
{
    char ts[32];
    dmp_time_format(rec->append_ms, ts);
    dmp_cloudevent_set_ext_int(ev, "dmpoffset", (int64_t)rec->offset, NULL);
    dmp_cloudevent_set_ext(ev, "dmptime", DMP_CE_TIMESTAMP, ts, NULL);
    dmp_cloudevent_to_binary(ev, &b->headers);
    if (ev->data_kind != DMP_CE_DATA_NONE)
        dmp_buf_append(&b->body, ev->data, ev->data_len);
}

static int on_collect(void *ud, const dmp_channel_rec_t *rec)
{
    collect_t *c = ud;
    dmp_channel_rec_t tmp;
    char *owned = NULL;
    if (dmp_streams_mask_record(c->view.mask, c->view.ud, rec, &tmp, &owned))
        rec = &tmp;
    int stop = on_collect_view(c, rec);
    dmp_free(owned);
    return stop;
}

static int on_collect_view(collect_t *c, const dmp_channel_rec_t *rec)
{
    batch_rec_t *b = &c->recs[c->n++];
    memset(b, 0, sizeof(*b));
    b->offset = rec->offset;
    b->pass = 1;
    dmp_cloudevent_t *ev = NULL;
    if (c->s->filter != NULL || c->s->binary) {
        if (dmp_cloudevent_parse(rec->payload, rec->len, NULL, &ev, NULL) != DMP_OK) {
            b->pass = 0;
            return 0;
        }
    }
    if (c->s->filter != NULL) {
        dmp_cloudevent_set_ext_int(ev, "dmpoffset", (int64_t)rec->offset, NULL);
        b->pass = dmp_ce_filter_match(c->s->filter, ev);
    }
    if (b->pass && c->s->binary)
        render_binary(b, ev, rec);
    else if (b->pass)
        streams_emit_record(&b->body, rec);
    dmp_cloudevent_free(ev);
    return 0;
}

/* Header list for one push: structured mode has one Content-Type; binary mode has the
 * event's own lines (a body without a content type still needs an explicit empty one, or
 * libcurl would send a form type). */
static struct curl_slist *push_headers(const stream_sub_t *s, const batch_rec_t *b)
{
    if (!s->binary)
        return curl_slist_append(NULL, "Content-Type: application/cloudevents+json");
    struct curl_slist *h = NULL;
    int have_ct = 0;
    const char *p = b->headers.data, *end = p + b->headers.len;
    while (p != NULL && p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
        if (n > 0) {
            char *line = dmp_strndup(p, n);
            if (!strncasecmp(line, "content-type:", 13))
                have_ct = 1;
            h = curl_slist_append(h, line);
            dmp_free(line);
        }
        p = eol ? eol + 2 : end;
    }
    if (!have_ct)
        h = curl_slist_append(h, "Content-Type:");
    return h;
}

#define PUSH_BATCH 64
#define ACCESS_CHECK_MS 1000

static void *sub_worker(void *arg)
{
    stream_sub_t *s = arg;
    dmp_streams_t *st = s->st;
    CURL *c = curl_easy_init();
    batch_rec_t recs[PUSH_BATCH];
    streams_view_t view = {0};
    int64_t checked_ms = 0;
    while (!stopping(s)) {
        dmp_stream_port_t *p = NULL;
        dmp_error_t e = {0};
        if (dmp_streams_port_find(st, s->env, s->domain, s->name, s->port, &p, &e) != DMP_OK) {
            set_error(s, "%s", e.msg);
            sub_sleep(s, backoff_ms(s));
            continue;
        }
        /* The creator must still be allowed to read the port: checked again at least once
         * a second, so a changed ACL stops pushes (docs/security.md). */
        if (checked_ms == 0 || dmp_now_ms() - checked_ms >= ACCESS_CHECK_MS) {
            streams_view_fini(&view);
            pthread_mutex_lock(&s->mu);
            json_t *who = json_incref(json_object_get(s->def, "owner"));
            pthread_mutex_unlock(&s->mu);
            int arc = streams_access_view(st, who, p, &view);
            json_decref(who);
            if (arc != DMP_OK) {
                checked_ms = 0;
                set_error(s, "the subscription's creator may no longer read %s/%s port %s",
                          s->domain, s->name, s->port);
                dmp_streams_port_release(p);
                sub_sleep(s, ACCESS_CHECK_MS);
                continue;
            }
            checked_ms = dmp_now_ms();
        }
        pthread_mutex_lock(&s->mu);
        uint64_t off = s->offset;
        pthread_mutex_unlock(&s->mu);
        collect_t col = {.s = s, .recs = recs, .view = view};
        uint64_t next = off;
        if (dmp_channel_read(p->ch, off, PUSH_BATCH, 4u * 1024 * 1024, on_collect, &col, &next,
                             &e) != DMP_OK) {
            set_error(s, "read failed: %s", e.msg);
            dmp_streams_port_release(p);
            sub_sleep(s, backoff_ms(s));
            continue;
        }
        if (col.n == 0) {
            if (next > off) { /* retention moved the start past our offset */
                pthread_mutex_lock(&s->mu);
                s->offset = next;
                pthread_mutex_unlock(&s->mu);
                save_offset(s, next);
            }
            dmp_streams_wait(p, next - 1, ACCESS_CHECK_MS / 2);
            dmp_streams_port_release(p);
            continue;
        }
        dmp_streams_port_release(p);
        uint64_t done = off;
        int failed = 0;
        for (size_t i = 0; i < col.n && !failed && !stopping(s); i++) {
            batch_rec_t *b = &recs[i];
            if (b->pass) {
                struct curl_slist *hdrs = push_headers(s, b);
                curl_easy_reset(c);
                curl_easy_setopt(c, CURLOPT_URL, s->sink);
                curl_easy_setopt(c, CURLOPT_POST, 1L);
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, b->body.data ? b->body.data : "");
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->body.len);
                curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
                curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)st->conf.push_timeout_ms);
                curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)st->conf.push_timeout_ms);
                curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
                curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
                CURLcode cc = curl_easy_perform(c);
                long code = 0;
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
                curl_slist_free_all(hdrs);
                if (cc != CURLE_OK) {
                    set_error(s, "push of offset %llu to %s failed: %s",
                              (unsigned long long)b->offset, s->sink, curl_easy_strerror(cc));
                    failed = 1;
                    break;
                }
                if (code < 200 || code > 299) {
                    set_error(s, "push of offset %llu to %s answered HTTP %ld",
                              (unsigned long long)b->offset, s->sink, code);
                    failed = 1;
                    break;
                }
                pthread_mutex_lock(&s->mu);
                s->delivered++;
                s->attempts = 0;
                s->last_error[0] = '\0';
                s->last_delivery_ms = dmp_now_ms();
                pthread_mutex_unlock(&s->mu);
            }
            done = b->offset + 1;
        }
        for (size_t i = 0; i < col.n; i++) {
            dmp_buf_free(&recs[i].body);
            dmp_buf_free(&recs[i].headers);
        }
        if (done != off) {
            pthread_mutex_lock(&s->mu);
            s->offset = done;
            pthread_mutex_unlock(&s->mu);
            save_offset(s, done);
        }
        if (failed)
            sub_sleep(s, backoff_ms(s));
    }
    streams_view_fini(&view);
    curl_easy_cleanup(c);
    return NULL;
}

/* ---- definitions */

static void sub_free(stream_sub_t *s)
{
    if (s == NULL)
        return;
    json_decref(s->def);
    dmp_ce_filter_free(s->filter);
    dmp_free(s->id);
    dmp_free(s->sink);
    dmp_free(s->env);
    dmp_free(s->domain);
    dmp_free(s->name);
    dmp_free(s->port);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    dmp_free(s);
}

static void sub_start(stream_sub_t *s)
{
    s->stop = 0;
    pthread_create(&s->th, NULL, sub_worker, s);
}

static void sub_stop(stream_sub_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->th, NULL);
}

/* Checks a definition and builds the subscription (not started). 'def' is borrowed. */
static int sub_build(dmp_streams_t *st, const json_t *def, stream_sub_t **out, dmp_error_t *err)
{
    *out = NULL;
    if (!json_is_object(def))
        return DMP_ERR(err, DMP_INVALID, "a subscription must be a JSON object");
    const char *product = json_string_value(json_object_get(def, "product"));
    const char *port = json_string_value(json_object_get(def, "port"));
    const char *sink = json_string_value(json_object_get(def, "sink"));
    json_t *proto = json_object_get(def, "protocol");
    json_t *env = json_object_get(def, "environment");
    if (product == NULL || strchr(product, '/') == NULL || product[0] == '/') {
        DMP_ERR(err, DMP_INVALID, "subscription 'product' must be \"domain/name\", got %s",
                product ? product : "nothing");
        dmp_error_path(err, "product");
        return DMP_INVALID;
    }
    if (port == NULL || port[0] == '\0') {
        DMP_ERR(err, DMP_INVALID, "subscription 'port' (the stream port name) is required");
        dmp_error_path(err, "port");
        return DMP_INVALID;
    }
    if (sink == NULL || (strncmp(sink, "http://", 7) && strncmp(sink, "https://", 8)) ||
        strlen(sink) > 2048) {
        DMP_ERR(err, DMP_INVALID, "subscription 'sink' must be an http:// or https:// URL, got %s",
                sink ? sink : "nothing");
        dmp_error_path(err, "sink");
        return DMP_INVALID;
    }
    if (proto != NULL && !(json_is_string(proto) && !strcmp(json_string_value(proto), "HTTP"))) {
        DMP_ERR(err, DMP_INVALID, "subscription 'protocol' must be \"HTTP\"");
        dmp_error_path(err, "protocol");
        return DMP_INVALID;
    }
    if (env != NULL && !json_is_string(env)) {
        DMP_ERR(err, DMP_INVALID, "subscription 'environment' must be a string");
        dmp_error_path(err, "environment");
        return DMP_INVALID;
    }
    json_t *mode = json_object_get(def, "contentmode");
    if (mode != NULL && !(json_is_string(mode) && (!strcmp(json_string_value(mode), "structured") ||
                                                   !strcmp(json_string_value(mode), "binary")))) {
        DMP_ERR(err, DMP_INVALID,
                "subscription 'contentmode' must be \"structured\" or \"binary\"");
        dmp_error_path(err, "contentmode");
        return DMP_INVALID;
    }
    stream_sub_t *s = dmp_calloc(1, sizeof(*s));
    s->binary = mode != NULL && !strcmp(json_string_value(mode), "binary");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->st = st;
    json_t *filters = json_object_get(def, "filters");
    if (filters != NULL) {
        if (!json_is_array(filters)) {
            sub_free(s);
            DMP_ERR(err, DMP_INVALID, "subscription 'filters' must be an array");
            dmp_error_path(err, "filters");
            return DMP_INVALID;
        }
        char *txt = json_dumps(filters, JSON_COMPACT);
        int rc = dmp_ce_filter_parse(txt, strlen(txt), &s->filter, err);
        free(txt);
        if (rc != DMP_OK) {
            sub_free(s);
            if (err && !err->path[0])
                dmp_error_path(err, "filters%s", err->where);
            return rc;
        }
    }
    const char *slash = strchr(product, '/');
    s->domain = dmp_strndup(product, (size_t)(slash - product));
    s->name = dmp_strdup(slash + 1);
    s->port = dmp_strdup(port);
    s->env = dmp_strdup(env ? json_string_value(env) : "");
    s->sink = dmp_strdup(sink);
    s->def = json_deep_copy(def);
    *out = s;
    return DMP_OK;
}

static json_t *sub_json(stream_sub_t *s)
{
    json_t *o = json_deep_copy(s->def);
    pthread_mutex_lock(&s->mu);
    json_object_set_new(o, "offset", json_integer((json_int_t)s->offset));
    char ts[32] = "";
    if (s->last_delivery_ms)
        dmp_time_format(s->last_delivery_ms, ts);
    json_object_set_new(o, "status",
                        json_pack("{s:I, s:I, s:s?, s:s?}", "delivered", (json_int_t)s->delivered,
                                  "failedAttempts", (json_int_t)s->attempts, "lastError",
                                  s->last_error[0] ? s->last_error : NULL, "lastDelivery",
                                  ts[0] ? ts : NULL));
    pthread_mutex_unlock(&s->mu);
    return o;
}

static int save_def(dmp_streams_t *st, stream_sub_t *s, dmp_error_t *err)
{
    char *path = sub_path(st, s->id, "json");
    char *txt = json_dumps(s->def, JSON_INDENT(2) | JSON_SORT_KEYS);
    int rc = streams_write_file(path, txt, strlen(txt), err);
    free(txt);
    dmp_free(path);
    return rc;
}

int dmp_streams_sub_create(dmp_streams_t *st, const json_t *body, json_t **out, dmp_error_t *err)
{
    *out = NULL;
    stream_sub_t *s = NULL;
    int rc = sub_build(st, body, &s, err);
    if (rc != DMP_OK)
        return rc;
    dmp_stream_port_t *p = NULL;
    if ((rc = dmp_streams_port_find(st, s->env, s->domain, s->name, s->port, &p, err)) != DMP_OK) {
        sub_free(s);
        return rc;
    }
    json_t *from = json_object_get(body, "from");
    uint64_t off;
    if (from == NULL || (json_is_string(from) && !strcmp(json_string_value(from), "end"))) {
        off = dmp_streams_next_offset(p);
    } else if (json_is_string(from) && !strcmp(json_string_value(from), "start")) {
        off = 1;
    } else if (json_is_integer(from) && json_integer_value(from) >= 1) {
        off = (uint64_t)json_integer_value(from);
    } else {
        dmp_streams_port_release(p);
        sub_free(s);
        DMP_ERR(err, DMP_INVALID,
                "subscription 'from' must be \"end\", \"start\" or an offset >= 1");
        dmp_error_path(err, "from");
        return DMP_INVALID;
    }
    char id[37];
    dmp_uuid_v7(id);
    s->id = dmp_strdup(id);
    s->offset = off;
    json_object_set_new(s->def, "id", json_string(id));
    json_object_set_new(s->def, "protocol", json_string("HTTP"));
    json_object_set_new(s->def, "source", json_string(p->source));
    json_object_set_new(s->def, "environment", json_string(p->environment));
    json_object_del(s->def, "from");
    dmp_free(s->env);
    s->env = dmp_strdup(p->environment);
    dmp_streams_port_release(p);
    if ((rc = save_def(st, s, err)) != DMP_OK || (rc = save_offset(s, off)) != DMP_OK) {
        sub_free(s);
        return rc;
    }
    pthread_mutex_lock(&st->sub_lock);
    s->next = st->subs;
    st->subs = s;
    sub_start(s);
    *out = sub_json(s);
    pthread_mutex_unlock(&st->sub_lock);
    return DMP_OK;
}

static stream_sub_t *find_locked(dmp_streams_t *st, const char *id)
{
    for (stream_sub_t *s = st->subs; s != NULL; s = s->next)
        if (!strcmp(s->id, id))
            return s;
    return NULL;
}

int dmp_streams_sub_get(dmp_streams_t *st, const char *id, json_t **out, dmp_error_t *err)
{
    pthread_mutex_lock(&st->sub_lock);
    stream_sub_t *s = find_locked(st, id);
    *out = s ? sub_json(s) : NULL;
    pthread_mutex_unlock(&st->sub_lock);
    return s ? DMP_OK : DMP_ERR(err, DMP_NOTFOUND, "no subscription '%s'", id);
}

json_t *dmp_streams_sub_list(dmp_streams_t *st)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&st->sub_lock);
    for (stream_sub_t *s = st->subs; s != NULL; s = s->next)
        json_array_append_new(arr, sub_json(s));
    pthread_mutex_unlock(&st->sub_lock);
    return arr;
}

int dmp_streams_sub_update(dmp_streams_t *st, const char *id, const json_t *body, json_t **out,
                           dmp_error_t *err)
{
    *out = NULL;
    if (!json_is_object(body))
        return DMP_ERR(err, DMP_INVALID, "a subscription update must be a JSON object");
    pthread_mutex_lock(&st->sub_lock);
    stream_sub_t *s = find_locked(st, id);
    if (s == NULL) {
        pthread_mutex_unlock(&st->sub_lock);
        return DMP_ERR(err, DMP_NOTFOUND, "no subscription '%s'", id);
    }
    json_t *def = json_deep_copy(s->def);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v)
    {
        if (!strcmp(k, "sink") || !strcmp(k, "filters") || !strcmp(k, "contentmode"))
            json_object_set(def, k, v);
        else if (strcmp(k, "id") && strcmp(k, "offset") && strcmp(k, "status") &&
                 !json_equal(v, json_object_get(def, k))) {
            json_decref(def);
            pthread_mutex_unlock(&st->sub_lock);
            DMP_ERR(err, DMP_INVALID,
                    "subscription field '%s' cannot change; only 'sink', 'filters' and "
                    "'contentmode' can",
                    k);
            dmp_error_path(err, "%s", k);
            return DMP_INVALID;
        }
    }
    stream_sub_t *ns = NULL;
    int rc = sub_build(st, def, &ns, err);
    json_decref(def);
    if (rc != DMP_OK) {
        pthread_mutex_unlock(&st->sub_lock);
        return rc;
    }
    sub_stop(s);
    /* Move the new pieces into the running subscription. */
    json_decref(s->def);
    s->def = ns->def;
    ns->def = NULL;
    dmp_ce_filter_free(s->filter);
    s->filter = ns->filter;
    ns->filter = NULL;
    dmp_free(s->sink);
    s->sink = ns->sink;
    ns->sink = NULL;
    s->binary = ns->binary;
    sub_free(ns);
    s->attempts = 0;
    rc = save_def(st, s, err);
    sub_start(s);
    if (rc == DMP_OK)
        *out = sub_json(s);
    pthread_mutex_unlock(&st->sub_lock);
    return rc;
}

int dmp_streams_sub_delete(dmp_streams_t *st, const char *id, dmp_error_t *err)
{
    pthread_mutex_lock(&st->sub_lock);
    stream_sub_t **pp = &st->subs;
    while (*pp != NULL && strcmp((*pp)->id, id) != 0)
        pp = &(*pp)->next;
    stream_sub_t *s = *pp;
    if (s != NULL)
        *pp = s->next;
    pthread_mutex_unlock(&st->sub_lock);
    if (s == NULL)
        return DMP_ERR(err, DMP_NOTFOUND, "no subscription '%s'", id);
    sub_stop(s);
    char *a = sub_path(st, id, "json"), *b = sub_path(st, id, "offset");
    unlink(a);
    unlink(b);
    dmp_free(a);
    dmp_free(b);
    sub_free(s);
    return DMP_OK;
}

int streams_subs_load(dmp_streams_t *st, dmp_error_t *err)
{
    DIR *d = opendir(st->subs_dir);
    if (d == NULL)
        return DMP_ERR(err, DMP_IO, "cannot read %s: %s", st->subs_dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        char *path = dmp_asprintf("%s/%s", st->subs_dir, de->d_name);
        json_t *def = json_load_file(path, 0, NULL);
        stream_sub_t *s = NULL;
        dmp_error_t e = {0};
        const char *id = json_string_value(json_object_get(def, "id"));
        if (def == NULL || id == NULL || sub_build(st, def, &s, &e) != DMP_OK) {
            dmp_log(DMP_LOG_WARN, "skipping unreadable subscription", "file", path, "error", e.msg,
                    NULL);
        } else {
            s->id = dmp_strdup(id);
            char *op = sub_path(st, id, "offset");
            char *txt = NULL;
            size_t len = 0;
            if (dmp_read_file(op, 64, &txt, &len, NULL) == DMP_OK)
                s->offset = strtoull(txt, NULL, 10);
            if (s->offset == 0)
                s->offset = 1;
            dmp_free(txt);
            dmp_free(op);
            pthread_mutex_lock(&st->sub_lock);
            s->next = st->subs;
            st->subs = s;
            sub_start(s);
            pthread_mutex_unlock(&st->sub_lock);
        }
        json_decref(def);
        dmp_free(path);
    }
    closedir(d);
    return DMP_OK;
}

void streams_subs_stop_all(dmp_streams_t *st)
{
    pthread_mutex_lock(&st->sub_lock);
    stream_sub_t *s = st->subs;
    st->subs = NULL;
    pthread_mutex_unlock(&st->sub_lock);
    while (s != NULL) {
        stream_sub_t *next = s->next;
        sub_stop(s);
        sub_free(s);
        s = next;
    }
}
