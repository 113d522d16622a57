/* ports.c -- the stream-port service's lifecycle, the port table, port metadata on disk,
 * the `dmp-log` provisioner and the retention housekeeper.
 *
 * A port's metadata file (streams/ports/<env>~<domain>~<name>~<port>.json) is written
 * atomically (tmp + fsync + rename) by the provisioner; at open every file found is loaded,
 * its schema compiled and its channel opened, so ingest never asks the coordinator.
 * Must not: read the store, or know how a channel stores its records.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "streams/streams_int.h"

#define META_MAX_BYTES (8u * 1024 * 1024)
#define REOPEN_DRAIN_MS 15000 /* how long a retention change waits for a port's users */
#define LOOKUP_WAIT_MS 5000   /* how long a lookup waits for a port being reopened */

static int mkdir_p(const char *path, dmp_error_t *err)
{
    char *tmp = dmp_strdup(path);
    int rc = DMP_OK;
    for (char *p = tmp + 1; *p && rc == DMP_OK; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            rc = DMP_ERR(err, DMP_IO, "cannot create %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (rc == DMP_OK && mkdir(tmp, 0755) != 0 && errno != EEXIST)
        rc = DMP_ERR(err, DMP_IO, "cannot create %s: %s", tmp, strerror(errno));
    dmp_free(tmp);
    return rc;
}

int streams_write_file(const char *path, const char *data, size_t len, dmp_error_t *err)
{
    char *tmp = dmp_asprintf("%s.tmp", path);
    int rc = DMP_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = DMP_ERR(err, DMP_IO, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = DMP_ERR(err, errno == ENOSPC ? DMP_FULL : DMP_IO, "cannot write %s: %s", tmp,
                         strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (rc == DMP_OK && fdatasync(fd) != 0)
        rc = DMP_ERR(err, DMP_IO, "cannot sync %s: %s", tmp, strerror(errno));
    close(fd);
    if (rc == DMP_OK && rename(tmp, path) != 0)
        rc = DMP_ERR(err, DMP_IO, "cannot rename %s: %s", tmp, strerror(errno));
    if (rc != DMP_OK)
        unlink(tmp);
out:
    dmp_free(tmp);
    return rc;
}

/* ---- reference counting */

void streams_port_ref(dmp_stream_port_t *p)
{
    pthread_mutex_lock(&p->st->ref_lock);
    p->refs++;
    pthread_mutex_unlock(&p->st->ref_lock);
}

/* ---- channels shared between port objects
 *
 * An update that changes only metadata (ACLs, schema, event type, versions) builds a new
 * port object around the SAME open channels and swaps it into the list in one step, so a
 * concurrent lookup sees either the old or the new object, never nothing, and the channel
 * is not reopened. Objects are immutable once listed; the old one lives on until its last
 * reference goes. The channels therefore count their users here (file-static because the
 * count belongs to the channel, not to any one port object); the last user closes them,
 * and destroys them when the port was deleted. */

typedef struct chan_use {
    dmp_channel_t *ch;
    dmp_channel_backend_t *be;
    char *ns, *name;
    int users;
    int destroy;
    struct chan_use *next;
} chan_use_t;

static pthread_mutex_t chan_use_lock = PTHREAD_MUTEX_INITIALIZER;
static chan_use_t *chan_uses;

static chan_use_t *chan_use_find_locked(const dmp_channel_t *ch)
{
    for (chan_use_t *u = chan_uses; u != NULL; u = u->next)
        if (u->ch == ch)
            return u;
    return NULL;
}

/* Registers a freshly opened channel with one user. */
static void chan_adopt(dmp_channel_t *ch, dmp_channel_backend_t *be, const char *ns,
                       const char *name)
{
    chan_use_t *u = dmp_calloc(1, sizeof(*u));
    u->ch = ch;
    u->be = be;
    u->ns = dmp_strdup(ns);
    u->name = dmp_strdup(name);
    u->users = 1;
    pthread_mutex_lock(&chan_use_lock);
    u->next = chan_uses;
    chan_uses = u;
    pthread_mutex_unlock(&chan_use_lock);
}

static void chan_hold(dmp_channel_t *ch)
{
    pthread_mutex_lock(&chan_use_lock);
    chan_use_t *u = chan_use_find_locked(ch);
    if (u != NULL)
        u->users++;
    pthread_mutex_unlock(&chan_use_lock);
}

/* Drops one user; the last one closes the channel (and removes its data when 'destroy'
 * was asked by this or an earlier user). */
static void chan_drop(dmp_channel_t *ch, int destroy)
{
    if (ch == NULL)
        return;
    pthread_mutex_lock(&chan_use_lock);
    chan_use_t **pp = &chan_uses;
    while (*pp != NULL && (*pp)->ch != ch)
        pp = &(*pp)->next;
    chan_use_t *u = *pp;
    int last = 1;
    if (u != NULL) {
        u->destroy |= destroy;
        last = --u->users == 0;
        if (last)
            *pp = u->next;
    }
    pthread_mutex_unlock(&chan_use_lock);
    if (!last)
        return;
    dmp_channel_close(ch);
    if (u == NULL)
        return;
    if (u->destroy) {
        dmp_error_t e = {0};
        if (dmp_channel_destroy(u->be, u->ns, u->name, &e) != DMP_OK && e.code != DMP_NOTFOUND)
            dmp_log(DMP_LOG_WARN, "stream port delete: cannot remove channel", "channel", u->name,
                    "error", e.msg, NULL);
    }
    dmp_free(u->ns);
    dmp_free(u->name);
    dmp_free(u);
}

struct port_slot {
    void *v;
    void (*free_fn)(void *);
};

void *dmp_streams_port_slot(const dmp_stream_port_t *p)
{
    struct port_slot *s = __atomic_load_n(&p->slot, __ATOMIC_ACQUIRE);
    return s ? s->v : NULL;
}

void *dmp_streams_port_slot_set(dmp_stream_port_t *p, void *v, void (*free_fn)(void *))
{
    struct port_slot *s = dmp_malloc(sizeof(*s)), *cur = NULL;
    s->v = v;
    s->free_fn = free_fn;
    if (__atomic_compare_exchange_n(&p->slot, &cur, s, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return v;
    if (free_fn != NULL) /* another thread won: keep its value */
        free_fn(v);
    dmp_free(s);
    return cur->v;
}

static void port_free(dmp_stream_port_t *p)
{
    if (p->slot != NULL) {
        if (p->slot->free_fn != NULL)
            p->slot->free_fn(p->slot->v);
        dmp_free(p->slot);
    }
    chan_drop(p->ch, p->destroy);
    chan_drop(p->rejected, p->destroy);
    dmp_schema_free(p->schema);
    json_decref(p->meta);
    dmp_free(p->environment);
    dmp_free(p->domain);
    dmp_free(p->name);
    dmp_free(p->port);
    dmp_free(p->channel);
    dmp_free(p->source);
    dmp_free(p->type);
    dmp_free(p);
}

void dmp_streams_port_release(dmp_stream_port_t *p)
{
    if (p == NULL)
        return;
    dmp_streams_t *st = p->st;
    pthread_mutex_lock(&st->ref_lock);
    int last = --p->refs == 0;
    pthread_mutex_unlock(&st->ref_lock);
    if (last) {
        port_free(p);
        pthread_mutex_lock(&st->ref_lock);
        pthread_cond_broadcast(&st->ref_cond);
        pthread_mutex_unlock(&st->ref_lock);
    }
}

int dmp_streams_port_gone(dmp_stream_port_t *p)
{
    return __atomic_load_n(&p->deleted, __ATOMIC_ACQUIRE);
}

/* ---- lookup */

int dmp_streams_port_find(dmp_streams_t *st, const char *environment, const char *domain,
                          const char *name, const char *port, dmp_stream_port_t **out,
                          dmp_error_t *err)
{
    *out = NULL;
    int any_env = environment == NULL || environment[0] == '\0';
    dmp_stream_port_t *hit = NULL;
    int product_seen = 0, n_hits = 0;
    char envs[256] = "";
    int64_t deadline = 0;
again:
    hit = NULL;
    product_seen = n_hits = 0;
    envs[0] = '\0';
    pthread_rwlock_rdlock(&st->lock);
    for (dmp_stream_port_t *p = st->ports; p != NULL; p = p->next) {
        if (strcmp(p->domain, domain) != 0 || strcmp(p->name, name) != 0)
            continue;
        if (!any_env && strcmp(p->environment, environment) != 0)
            continue;
        product_seen = 1;
        if (strcmp(p->port, port) != 0)
            continue;
        n_hits++;
        if (strlen(envs) + strlen(p->environment) + 3 < sizeof(envs))
            snprintf(envs + strlen(envs), sizeof(envs) - strlen(envs), "%s%s", envs[0] ? ", " : "",
                     p->environment);
        hit = p;
    }
    if (n_hits == 1 && dmp_streams_port_gone(hit)) {
        /* Listed but gone: a retention change is reopening its channel. Wait for the new
         * object rather than answer "not found". */
        pthread_rwlock_unlock(&st->lock);
        if (deadline == 0)
            deadline = dmp_now_ms() + LOOKUP_WAIT_MS;
        if (dmp_now_ms() >= deadline)
            return DMP_ERR(err, DMP_UNAVAILABLE,
                           "stream port '%s' of product %s/%s is being reopened with a new "
                           "retention policy; retry",
                           port, domain, name);
        pthread_mutex_lock(&st->ref_lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&st->ref_cond, &st->ref_lock, &ts);
        pthread_mutex_unlock(&st->ref_lock);
        goto again;
    }
    if (n_hits == 1)
        streams_port_ref(hit);
    pthread_rwlock_unlock(&st->lock);
    if (n_hits == 1) {
        *out = hit;
        return DMP_OK;
    }
    if (n_hits > 1)
        return DMP_ERR(err, DMP_CONFLICT,
                       "stream port '%s' of product %s/%s exists in environments %s: pass "
                       "?environment=",
                       port, domain, name, envs);
    if (!product_seen)
        return DMP_ERR(err, DMP_NOTFOUND, "no product %s/%s with stream ports%s%s", domain, name,
                       any_env ? "" : " in environment ", any_env ? "" : environment);
    return DMP_ERR(err, DMP_NOTFOUND, "product %s/%s has no stream port '%s'", domain, name, port);
}

uint64_t dmp_streams_next_offset(dmp_stream_port_t *p)
{
    dmp_channel_stats_t cs;
    dmp_channel_stats(p->ch, &cs);
    return cs.next_offset;
}

json_t *dmp_streams_port_describe(dmp_stream_port_t *p)
{
    json_t *d = json_deep_copy(p->meta);
    json_object_del(d, "schema");
    json_object_set_new(d, "schema", json_boolean(p->schema != NULL));
    dmp_channel_stats_t cs;
    dmp_channel_stats(p->ch, &cs);
    json_object_set_new(d, "stats",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:b}", "first_offset",
                                  (json_int_t)cs.first_offset, "next_offset",
                                  (json_int_t)cs.next_offset, "bytes", (json_int_t)cs.bytes,
                                  "appended", (json_int_t)cs.appended, "duplicates",
                                  (json_int_t)cs.duplicates, "read_only", cs.read_only));
    return d;
}

json_t *dmp_streams_ports(dmp_streams_t *st)
{
    json_t *arr = json_array();
    pthread_rwlock_rdlock(&st->lock);
    for (dmp_stream_port_t *p = st->ports; p != NULL; p = p->next)
        json_array_append_new(arr, dmp_streams_port_describe(p));
    pthread_rwlock_unlock(&st->lock);
    return arr;
}

/* ---- building a port from its metadata */

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static char *meta_path(dmp_streams_t *st, const char *env, const char *domain, const char *name,
                       const char *port)
{
    return dmp_asprintf("%s/%s~%s~%s~%s.json", st->ports_dir, env, domain, name, port);
}

static int safe_component(const char *what, const char *s, dmp_error_t *err)
{
    if (s == NULL || s[0] == '\0' || s[0] == '.' || strchr(s, '/') != NULL ||
        strchr(s, '~') != NULL || strlen(s) > 128)
        return DMP_ERR(err, DMP_INVALID,
                       "dmp-log: %s '%s' is not usable as a name (no '/', '~', leading '.'; "
                       "1..128 bytes)",
                       what, s ? s : "");
    return DMP_OK;
}

/* Builds a port object from a metadata document (borrowed; copied) without channels. */
static int port_build(dmp_streams_t *st, const json_t *meta, dmp_stream_port_t **out,
                      dmp_error_t *err)
{
    *out = NULL;
    dmp_stream_port_t *p = dmp_calloc(1, sizeof(*p));
    p->st = st;
    p->refs = 1;
    p->meta = json_deep_copy(meta);
    p->environment = dmp_strdup(jstr(meta, "environment"));
    p->domain = dmp_strdup(jstr(meta, "domain"));
    p->name = dmp_strdup(jstr(meta, "product"));
    p->port = dmp_strdup(jstr(meta, "port"));
    p->channel = dmp_strdup(jstr(meta, "channel"));
    p->source = dmp_strdup(jstr(meta, "source"));
    p->type = dmp_strdup(jstr(meta, "type"));
    int rc = DMP_OK;
    if (!p->environment || !p->domain || !p->name || !p->port || !p->channel || !p->source ||
        !p->type) {
        rc = DMP_ERR(err, DMP_INVALID, "stream port metadata lacks a required member");
        goto fail;
    }
    json_t *schema = json_object_get(meta, "schema");
    if (schema != NULL && !json_is_null(schema)) {
        char *txt = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY);
        dmp_schema_opts_t so = {0};
        rc = dmp_schema_compile(txt, strlen(txt), &so, &p->schema, err);
        free(txt);
        if (rc != DMP_OK) {
            char msg[sizeof(err->msg)];
            snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
            rc = DMP_ERR(err, rc, "port '%s' schema does not compile: %s%s%s", p->port, msg,
                         err && err->where[0] ? " at " : "", err ? err->where : "");
            goto fail;
        }
    }
    *out = p;
    return DMP_OK;
fail:
    port_free(p);
    return rc;
}

/* Opens the port's own channels (a built object without channels). */
static int port_attach(dmp_streams_t *st, dmp_stream_port_t *p, dmp_error_t *err)
{
    json_t *ret = json_object_get(p->meta, "retention");
    dmp_channel_conf_t cc = {
        .retention_ms = json_integer_value(json_object_get(ret, "ms")),
        .retention_bytes = (uint64_t)json_integer_value(json_object_get(ret, "bytes")),
        .dedup_window_count = st->conf.dedup_window_count,
        .dedup_window_ms = st->conf.dedup_window_ms,
        .max_record_bytes = (uint32_t)(st->conf.max_event_bytes + 4096),
        .segment_bytes = st->conf.segment_bytes,
    };
    int rc = dmp_channel_open(st->be, p->environment, p->channel, &cc, &p->ch, err);
    if (rc != DMP_OK)
        return rc;
    chan_adopt(p->ch, st->be, p->environment, p->channel);
    dmp_channel_conf_t rcf = {
        .retention_bytes = 64u * 1024 * 1024,
        .dedup_window_count = 1,
        .max_record_bytes = (uint32_t)(st->conf.max_event_bytes * 2 + 8192),
        .segment_bytes = 4u * 1024 * 1024,
    };
    rc = dmp_channel_open(st->rej_be, p->environment, p->channel, &rcf, &p->rejected, err);
    if (rc != DMP_OK)
        return rc;
    chan_adopt(p->rejected, st->rej_be, p->environment, p->channel);
    return DMP_OK;
}

/* Opens a port object from a metadata document, with its own channels. */
static int port_open(dmp_streams_t *st, const json_t *meta, dmp_stream_port_t **out,
                     dmp_error_t *err)
{
    dmp_stream_port_t *p = NULL;
    int rc = port_build(st, meta, &p, err);
    if (rc == DMP_OK && (rc = port_attach(st, p, err)) != DMP_OK) {
        port_free(p);
        p = NULL;
    }
    *out = p;
    return rc;
}

/* A new object for 'meta' that shares the channels of 'old' (nothing is reopened). */
static int port_rebuild(dmp_streams_t *st, const json_t *meta, dmp_stream_port_t *old,
                        dmp_stream_port_t **out, dmp_error_t *err)
{
    int rc = port_build(st, meta, out, err);
    if (rc != DMP_OK)
        return rc;
    chan_hold(old->ch);
    chan_hold(old->rejected);
    (*out)->ch = old->ch;
    (*out)->rejected = old->rejected;
    return DMP_OK;
}

/* Removes 'p' from the list (exclusive lock held by the caller). */
static void list_remove_locked(dmp_streams_t *st, dmp_stream_port_t *p)
{
    for (dmp_stream_port_t **pp = &st->ports; *pp != NULL; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            p->next = NULL;
            return;
        }
}

static dmp_stream_port_t *find_exact_locked(dmp_streams_t *st, const char *env, const char *domain,
                                            const char *name, const char *port)
{
    for (dmp_stream_port_t *p = st->ports; p != NULL; p = p->next)
        if (!strcmp(p->environment, env) && !strcmp(p->domain, domain) && !strcmp(p->name, name) &&
            !strcmp(p->port, port))
            return p;
    return NULL;
}

/* Retires a port taken off the list: readers are told, and the call waits (bounded) until
 * every reference is gone, so its directory can be opened again. */
static int port_retire(dmp_streams_t *st, dmp_stream_port_t *p, int destroy, dmp_error_t *err)
{
    __atomic_store_n(&p->deleted, 1, __ATOMIC_RELEASE);
    p->destroy = destroy;
    /* Keep the object alive to watch its count without touching freed memory. */
    pthread_mutex_lock(&st->ref_lock);
    int64_t deadline = dmp_now_ms() + 15000;
    while (p->refs > 1 && dmp_now_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&st->ref_cond, &st->ref_lock, &ts);
    }
    int busy = p->refs > 1;
    pthread_mutex_unlock(&st->ref_lock);
    int rc = DMP_OK;
    if (busy)
        rc = DMP_ERR(err, DMP_CONFLICT, "stream port '%s' is still in use; retry later", p->port);
    dmp_streams_port_release(p); /* the list's reference */
    return rc;
}

/* ---- the provisioner */

typedef struct log_pv {
    dmp_provisioner_t base; /* MUST BE FIRST */
    dmp_streams_t *st;
} log_pv_t;

static json_t *build_meta(const dmp_prov_request_t *req, const char *channel, const json_t *old)
{
    const dmp_resource_t *res = req->res;
    const dmp_descriptor_t *desc = req->desc;
    json_t *allow = json_array();
    for (size_t i = 0; i < res->allow.n; i++)
        json_array_append_new(allow, json_string(res->allow.v[i]));
    json_t *versions = old ? json_deep_copy(json_object_get(old, "versions")) : json_array();
    if (versions == NULL)
        versions = json_array();
    int have = 0;
    size_t i;
    json_t *v;
    json_array_foreach(versions, i, v) if (!strcmp(json_string_value(v), req->key->version)) have =
        1;
    if (!have)
        json_array_append_new(versions, json_string(req->key->version));
    const char *type = json_string_value(json_object_get(res->specific, "eventType"));
    char *deftype = NULL;
    if (type == NULL)
        type = deftype = dmp_asprintf("%s.%s.%s", desc->domain, desc->name, res->name);
    json_t *ptags = json_array(), *rtags = json_array();
    for (size_t t = 0; t < desc->tags.n; t++)
        json_array_append_new(ptags, json_string(desc->tags.v[t]));
    for (size_t t = 0; t < res->tags.n; t++)
        json_array_append_new(rtags, json_string(res->tags.v[t]));
    json_t *m = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:o, s:{s:I, s:I, s:O?}, s:O?, s:o, "
        "s:s, s:I, s:s?, s:o, s:o}",
        "environment", req->key->environment, "domain", req->key->domain, "product", req->key->name,
        "port", res->name, "product_id", desc->id, "channel", channel, "visibility",
        dmp_visibility_name(dmp_resource_visibility(res)), "source", desc->id, "owner", res->owner,
        "allow", allow, "retention", "ms", (json_int_t)res->retention_ms, "bytes",
        (json_int_t)res->retention_bytes, "declared", res->retention, "schema", res->schema,
        "versions", versions, "type", type, "created",
        (json_int_t)(old ? json_integer_value(json_object_get(old, "created")) : dmp_now_ms()),
        "product_owner", desc->owner, "product_tags", ptags, "tags", rtags);
    dmp_free(deftype);
    return m;
}

static int save_meta(dmp_streams_t *st, const json_t *meta, dmp_error_t *err)
{
    char *path = meta_path(st, jstr(meta, "environment"), jstr(meta, "domain"),
                           jstr(meta, "product"), jstr(meta, "port"));
    char *txt = json_dumps(meta, JSON_INDENT(2) | JSON_SORT_KEYS);
    int rc = streams_write_file(path, txt, strlen(txt), err);
    free(txt);
    dmp_free(path);
    return rc;
}

static int retention_same(const json_t *a, const json_t *b)
{
    json_t *ra = json_object_get(a, "retention"), *rb = json_object_get(b, "retention");
    return json_integer_value(json_object_get(ra, "ms")) ==
               json_integer_value(json_object_get(rb, "ms")) &&
           json_integer_value(json_object_get(ra, "bytes")) ==
               json_integer_value(json_object_get(rb, "bytes"));
}

/* Puts 'p' where 'old' was in the list, in one step under the exclusive lock: a lookup sees
 * one or the other, never neither. 'old' is told it is gone (SSE readers follow to the new
 * object) and the list's reference to it is returned to the caller to release. */
static void swap_locked(dmp_streams_t *st, dmp_stream_port_t *old, dmp_stream_port_t *p)
{
    for (dmp_stream_port_t **pp = &st->ports; *pp != NULL; pp = &(*pp)->next)
        if (*pp == old) {
            p->next = old->next;
            *pp = p;
            old->next = NULL;
            break;
        }
    __atomic_store_n(&old->deleted, 1, __ATOMIC_RELEASE);
}

static int chan_users(const dmp_channel_t *ch)
{
    pthread_mutex_lock(&chan_use_lock);
    chan_use_t *u = chan_use_find_locked(ch);
    int n = u ? u->users : 0;
    pthread_mutex_unlock(&chan_use_lock);
    return n;
}

static void wake_lookups(dmp_streams_t *st)
{
    pthread_mutex_lock(&st->ref_lock);
    pthread_cond_broadcast(&st->ref_cond);
    pthread_mutex_unlock(&st->ref_lock);
}

/* A retention change: the log takes its policy at open, so the channel is reopened. 'old'
 * stays listed but marked gone while its users leave; lookups meanwhile wait (bounded) for
 * the new object instead of failing. Called with the exclusive lock held; returns with it
 * released. 'p' (built, no channels) is consumed. */
static int reopen_unlock(dmp_streams_t *st, dmp_stream_port_t *old, dmp_stream_port_t *p,
                         dmp_error_t *err)
{
    __atomic_store_n(&old->deleted, 1, __ATOMIC_RELEASE);
    pthread_rwlock_unlock(&st->lock);
    int64_t deadline = dmp_now_ms() + REOPEN_DRAIN_MS;
    for (;;) {
        pthread_mutex_lock(&st->ref_lock);
        int refs = old->refs;
        pthread_mutex_unlock(&st->ref_lock);
        if ((refs <= 1 && chan_users(old->ch) <= 1) || dmp_now_ms() >= deadline)
            break;
        usleep(20 * 1000);
    }
    pthread_rwlock_wrlock(&st->lock);
    pthread_mutex_lock(&st->ref_lock);
    int busy = old->refs > 1;
    pthread_mutex_unlock(&st->ref_lock);
    if (busy || chan_users(old->ch) > 1) {
        /* Still in use: keep the old object and its policy. */
        __atomic_store_n(&old->deleted, 0, __ATOMIC_RELEASE);
        dmp_error_t e = {0};
        save_meta(st, old->meta, &e);
        pthread_rwlock_unlock(&st->lock);
        wake_lookups(st);
        port_free(p);
        return DMP_ERR(err, DMP_CONFLICT,
                       "stream port '%s' is still in use; its retention change was not applied, "
                       "retry later",
                       old->port);
    }
    list_remove_locked(st, old);
    json_t *old_meta = json_incref(old->meta);
    dmp_streams_port_release(old); /* the last reference: closes the channels */
    int rc = port_attach(st, p, err);
    if (rc != DMP_OK) {
        port_free(p);
        p = NULL;
        /* Bring the port back as it was rather than leave it missing. */
        dmp_error_t e = {0};
        if (port_open(st, old_meta, &p, &e) == DMP_OK)
            save_meta(st, old_meta, &e);
    }
    if (p != NULL) {
        p->next = st->ports;
        st->ports = p;
    }
    json_decref(old_meta);
    pthread_rwlock_unlock(&st->lock);
    wake_lookups(st);
    return rc;
}

static int pv_apply(dmp_streams_t *st, const dmp_prov_request_t *req, dmp_error_t *err)
{
    const dmp_product_key_t *k = req->key;
    const dmp_resource_t *res = req->res;
    int rc;
    if ((rc = safe_component("environment", k->environment, err)) != DMP_OK ||
        (rc = safe_component("domain", k->domain, err)) != DMP_OK ||
        (rc = safe_component("product name", k->name, err)) != DMP_OK ||
        (rc = safe_component("port name", res->name, err)) != DMP_OK)
        return rc;
    pthread_rwlock_wrlock(&st->lock);
    dmp_stream_port_t *old = find_exact_locked(st, k->environment, k->domain, k->name, res->name);
    char channel[DMP_CHANNEL_NAME_MAX + 1];
    if (old != NULL) {
        snprintf(channel, sizeof(channel), "%s", old->channel); /* fixed at creation */
    } else if ((rc = dmp_channel_name(req->desc->id, k->domain, k->name,
                                      dmp_visibility_name(dmp_resource_visibility(res)), res->name,
                                      channel, err)) != DMP_OK) {
        pthread_rwlock_unlock(&st->lock);
        return rc;
    }
    json_t *meta = build_meta(req, channel, old ? old->meta : NULL);
    if (old != NULL && json_equal(meta, old->meta)) {
        pthread_rwlock_unlock(&st->lock);
        json_decref(meta);
        return DMP_OK;
    }
    /* Build (and compile the schema) before touching anything: a bad schema changes
     * nothing. */
    dmp_stream_port_t *p = NULL;
    if ((rc = port_build(st, meta, &p, err)) != DMP_OK) {
        pthread_rwlock_unlock(&st->lock);
        json_decref(meta);
        char msg[sizeof(err->msg)];
        snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
        return DMP_ERR(err, rc, "dmp-log: %s", msg);
    }
    int same_retention = old != NULL && retention_same(meta, old->meta);
    rc = save_meta(st, meta, err);
    json_decref(meta);
    if (rc != DMP_OK) {
        pthread_rwlock_unlock(&st->lock);
        port_free(p);
        return rc;
    }
    if (old == NULL) {
        if ((rc = port_attach(st, p, err)) != DMP_OK) {
            port_free(p);
        } else {
            p->next = st->ports;
            st->ports = p;
        }
        pthread_rwlock_unlock(&st->lock);
        return rc;
    }
    if (!same_retention)
        return reopen_unlock(st, old, p, err);
    /* Metadata only (ACLs, schema, type, versions): same channels, one-step swap. */
    chan_hold(old->ch);
    chan_hold(old->rejected);
    p->ch = old->ch;
    p->rejected = old->rejected;
    swap_locked(st, old, p);
    pthread_rwlock_unlock(&st->lock);
    dmp_streams_port_release(old);
    return DMP_OK;
}

static int pv_delete(dmp_streams_t *st, const dmp_prov_request_t *req, dmp_error_t *err)
{
    const dmp_product_key_t *k = req->key;
    pthread_rwlock_wrlock(&st->lock);
    dmp_stream_port_t *p =
        find_exact_locked(st, k->environment, k->domain, k->name, req->res->name);
    if (p == NULL) {
        pthread_rwlock_unlock(&st->lock);
        return DMP_OK; /* already gone: deleting is idempotent */
    }
    /* Other versions of the product still use the port: forget this version only. */
    json_t *versions = json_object_get(p->meta, "versions");
    size_t i;
    json_t *v;
    size_t others = 0;
    json_array_foreach(versions, i, v) if (strcmp(json_string_value(v), k->version)) others++;
    if (others > 0) {
        json_t *meta = json_deep_copy(p->meta);
        json_t *nv = json_array();
        json_array_foreach(versions, i, v) if (strcmp(json_string_value(v), k->version))
            json_array_append(nv, v);
        json_object_set_new(meta, "versions", nv);
        dmp_stream_port_t *np = NULL;
        int rc = port_rebuild(st, meta, p, &np, err);
        if (rc == DMP_OK && (rc = save_meta(st, meta, err)) != DMP_OK) {
            port_free(np);
            np = NULL;
        }
        json_decref(meta);
        if (np != NULL)
            swap_locked(st, p, np);
        pthread_rwlock_unlock(&st->lock);
        if (np != NULL)
            dmp_streams_port_release(p);
        return rc;
    }
    list_remove_locked(st, p);
    char *path = meta_path(st, p->environment, p->domain, p->name, p->port);
    unlink(path);
    dmp_free(path);
    pthread_rwlock_unlock(&st->lock);
    return port_retire(st, p, 1, err);
}

static int pv_submit(dmp_provisioner_t *base, const dmp_prov_request_t *req, dmp_state_t *done,
                     dmp_error_t *err)
{
    log_pv_t *pv = (log_pv_t *)base;
    *done = DMP_STATE_NONE;
    if (req->res->kind != DMP_RES_OUTPUT)
        return DMP_ERR(err, DMP_INVALID,
                       "dmp-log provisions output ports of type stream; '%s' is a %s",
                       req->res->name, dmp_resource_kind_name(req->res->kind));
    int rc = req->op == DMP_OP_DELETE ? pv_delete(pv->st, req, err) : pv_apply(pv->st, req, err);
    if (rc == DMP_OK)
        *done = req->op == DMP_OP_DELETE ? DMP_STATE_DELETED : DMP_STATE_CREATED;
    return rc;
}

static json_t *pv_describe(dmp_provisioner_t *base)
{
    log_pv_t *pv = (log_pv_t *)base;
    return json_pack("{s:s, s:s, s:s}", "type", "builtin", "name", "dmp-log", "root", pv->st->dir);
}

static void pv_close(dmp_provisioner_t *base)
{
    dmp_free(base);
}

static const dmp_provisioner_ops_t log_pv_ops = {
    .version = DMP_PROVISIONER_OPS_V1,
    .name = "dmp-log",
    .submit = pv_submit,
    .describe = pv_describe,
    .close = pv_close,
};

int dmp_streams_provisioner_new(dmp_streams_t *st, dmp_provisioner_t **out, dmp_error_t *err)
{
    log_pv_t *pv = dmp_calloc(1, sizeof(*pv));
    pv->base.ops = &log_pv_ops;
    pv->st = st;
    *out = &pv->base;
    return DMP_OK;
}

/* ---- loading and closing */

int streams_ports_load(dmp_streams_t *st, dmp_error_t *err)
{
    DIR *d = opendir(st->ports_dir);
    if (d == NULL)
        return DMP_ERR(err, DMP_IO, "cannot read %s: %s", st->ports_dir, strerror(errno));
    struct dirent *de;
    int rc = DMP_OK;
    while ((de = readdir(d)) != NULL && rc == DMP_OK) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        char *path = dmp_asprintf("%s/%s", st->ports_dir, de->d_name);
        json_error_t je;
        json_t *meta = json_load_file(path, 0, &je);
        if (meta == NULL) {
            rc = DMP_ERR(err, DMP_IO, "stream port metadata %s is unreadable: %s", path, je.text);
        } else {
            dmp_stream_port_t *p = NULL;
            rc = port_open(st, meta, &p, err);
            if (rc == DMP_OK) {
                p->next = st->ports;
                st->ports = p;
            } else {
                char msg[sizeof(err->msg)];
                snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
                rc = DMP_ERR(err, rc, "%s: %s", path, msg);
            }
            json_decref(meta);
        }
        dmp_free(path);
    }
    closedir(d);
    return rc;
}

void streams_ports_close_all(dmp_streams_t *st)
{
    pthread_rwlock_wrlock(&st->lock);
    dmp_stream_port_t *p = st->ports;
    st->ports = NULL;
    pthread_rwlock_unlock(&st->lock);
    while (p != NULL) {
        dmp_stream_port_t *next = p->next;
        dmp_error_t e = {0};
        port_retire(st, p, 0, &e);
        p = next;
    }
}

static void *housekeeper(void *arg)
{
    dmp_streams_t *st = arg;
    pthread_mutex_lock(&st->hk_lock);
    while (!st->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (int64_t)st->conf.retention_check_ms * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&st->hk_cond, &st->hk_lock, &ts);
        if (st->stopping)
            break;
        pthread_mutex_unlock(&st->hk_lock);
        /* Take references under the lock, retain outside it. */
        dmp_stream_port_t *list[256];
        size_t n = 0;
        pthread_rwlock_rdlock(&st->lock);
        for (dmp_stream_port_t *p = st->ports; p != NULL && n < 256; p = p->next) {
            streams_port_ref(p);
            list[n++] = p;
        }
        pthread_rwlock_unlock(&st->lock);
        for (size_t i = 0; i < n; i++) {
            dmp_error_t e = {0};
            if (dmp_channel_retain(list[i]->ch, &e) != DMP_OK)
                dmp_log(DMP_LOG_WARN, "retention failed", "channel", list[i]->channel, "error",
                        e.msg, NULL);
            dmp_channel_retain(list[i]->rejected, &e);
            dmp_streams_port_release(list[i]);
        }
        pthread_mutex_lock(&st->hk_lock);
    }
    pthread_mutex_unlock(&st->hk_lock);
    return NULL;
}

int dmp_streams_backend_log(void *ud, const char *data_dir, const char *role,
                            dmp_channel_backend_t **out, dmp_error_t *err)
{
    (void)ud;
    char *root;
    if (strcmp(role, "events") == 0)
        root = dmp_asprintf("%s/channels", data_dir);
    else if (strcmp(role, "rejected") == 0)
        root = dmp_asprintf("%s/streams/rejected", data_dir);
    else
        return DMP_ERR(err, DMP_INVALID,
                       "streams: unknown channel role '%s' (expected events or rejected)", role);
    int rc = dmp_channel_backend_log_new(root, out, err);
    dmp_free(root);
    return rc;
}

/* Makes one backend with the configured factory and checks that it is usable. */
static int make_backend(const dmp_streams_conf_t *conf, const char *role,
                        dmp_channel_backend_t **out, dmp_error_t *err)
{
    dmp_streams_backend_fn fn = conf->backend ? conf->backend : dmp_streams_backend_log;
    *out = NULL;
    int rc = fn(conf->backend_ud, conf->data_dir, role, out, err);
    if (rc != DMP_OK)
        return rc;
    if (*out == NULL || (*out)->ops == NULL || (*out)->ops->version < DMP_CHANNEL_OPS_V1) {
        dmp_channel_backend_free(*out);
        *out = NULL;
        return DMP_ERR(err, DMP_INVALID,
                       "streams: the %s channel backend has no operation table (version %d or "
                       "later needed)",
                       role, DMP_CHANNEL_OPS_V1);
    }
    return DMP_OK;
}

int dmp_streams_open(const dmp_streams_conf_t *conf, dmp_streams_t **out, dmp_error_t *err)
{
    *out = NULL;
    if (conf->data_dir == NULL || conf->data_dir[0] == '\0')
        return DMP_ERR(err, DMP_INVALID, "streams: data_dir is required");
    dmp_streams_t *st = dmp_calloc(1, sizeof(*st));
    st->conf = *conf;
    if (!st->conf.max_event_bytes)
        st->conf.max_event_bytes = 1024 * 1024;
    if (!st->conf.max_batch_bytes)
        st->conf.max_batch_bytes = 16u * 1024 * 1024;
    if (!st->conf.max_batch_events)
        st->conf.max_batch_events = 10000;
    if (!st->conf.dedup_window_count)
        st->conf.dedup_window_count = 100000;
    if (!st->conf.segment_bytes)
        st->conf.segment_bytes = 64u * 1024 * 1024;
    if (st->conf.retention_check_ms <= 0)
        st->conf.retention_check_ms = 5000;
    if (st->conf.push_timeout_ms <= 0)
        st->conf.push_timeout_ms = 5000;
    if (st->conf.push_backoff_max_ms <= 0)
        st->conf.push_backoff_max_ms = 30000;
    st->conf.data_dir = NULL;
    pthread_rwlock_init(&st->lock, NULL);
    pthread_mutex_init(&st->ref_lock, NULL);
    pthread_cond_init(&st->ref_cond, NULL);
    pthread_mutex_init(&st->sub_lock, NULL);
    pthread_mutex_init(&st->hk_lock, NULL);
    pthread_cond_init(&st->hk_cond, NULL);
    streams_tls_init();
    st->dir = dmp_asprintf("%s/streams", conf->data_dir);
    st->ports_dir = dmp_asprintf("%s/ports", st->dir);
    st->subs_dir = dmp_asprintf("%s/subscriptions", st->dir);
    int rc;
    if ((rc = mkdir_p(st->ports_dir, err)) != DMP_OK ||
        (rc = mkdir_p(st->subs_dir, err)) != DMP_OK ||
        (rc = mkdir_p(conf->data_dir, err)) != DMP_OK ||
        (rc = make_backend(conf, "events", &st->be, err)) != DMP_OK ||
        (rc = make_backend(conf, "rejected", &st->rej_be, err)) != DMP_OK)
        goto fail;
    if ((rc = streams_ports_load(st, err)) != DMP_OK)
        goto fail;
    if ((rc = streams_subs_load(st, err)) != DMP_OK)
        goto fail;
    pthread_create(&st->housekeeper, NULL, housekeeper, st);
    *out = st;
    return DMP_OK;
fail:
    st->housekeeper = 0;
    streams_subs_stop_all(st);
    streams_ports_close_all(st);
    dmp_channel_backend_free(st->be);
    dmp_channel_backend_free(st->rej_be);
    dmp_free(st->dir);
    dmp_free(st->ports_dir);
    dmp_free(st->subs_dir);
    dmp_free(st);
    return rc;
}

void dmp_streams_close(dmp_streams_t *st)
{
    if (st == NULL)
        return;
    pthread_mutex_lock(&st->hk_lock);
    st->stopping = 1;
    pthread_cond_broadcast(&st->hk_cond);
    pthread_mutex_unlock(&st->hk_lock);
    pthread_join(st->housekeeper, NULL);
    streams_subs_stop_all(st);
    streams_ports_close_all(st);
    dmp_channel_backend_free(st->be);
    dmp_channel_backend_free(st->rej_be);
    pthread_rwlock_destroy(&st->lock);
    pthread_mutex_destroy(&st->ref_lock);
    pthread_cond_destroy(&st->ref_cond);
    pthread_mutex_destroy(&st->sub_lock);
    pthread_mutex_destroy(&st->hk_lock);
    pthread_cond_destroy(&st->hk_cond);
    dmp_free(st->dir);
    dmp_free(st->ports_dir);
    dmp_free(st->subs_dir);
    dmp_free(st);
}
