/* chan_log.c -- the embedded-log channel backend ("dmp-log"): one evlog.h log per channel
 * in <root>/<namespace>/<name>. It only translates between the channel table and evlog;
 * durability, group commit, de-duplication and retention are the log's. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "dmp/channel.h"
#include "dmp/evlog.h"

typedef struct log_backend {
    dmp_channel_backend_t base; /* MUST BE FIRST */
    char *root;
} log_backend_t;

typedef struct log_channel {
    dmp_channel_t base; /* MUST BE FIRST */
    dmp_evlog_t *elog;
} log_channel_t;

/* Namespaces and names become path components: refuse anything that could escape. */
static int component_ok(const char *what, const char *s, dmp_error_t *err)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > DMP_CHANNEL_NAME_MAX || s[0] == '.' ||
        strchr(s, '/') != NULL)
        return DMP_ERR(err, DMP_INVALID,
                       "channel %s '%s' is not a safe name (no '/', no leading '.', 1..%d bytes)",
                       what, s ? s : "", DMP_CHANNEL_NAME_MAX);
    return DMP_OK;
}

static int mkdir_one(const char *path, dmp_error_t *err)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return DMP_ERR(err, DMP_IO, "cannot create %s: %s", path, strerror(errno));
    return DMP_OK;
}

static char *chan_dir(log_backend_t *lb, const char *ns, const char *name)
{
    return dmp_asprintf("%s/%s/%s", lb->root, ns, name);
}

static int log_open(dmp_channel_backend_t *be, const char *ns, const char *name,
                    const dmp_channel_conf_t *conf, dmp_channel_t **out, dmp_error_t *err)
{
    log_backend_t *lb = (log_backend_t *)be;
    int rc;
    if ((rc = component_ok("namespace", ns, err)) != DMP_OK ||
        (rc = component_ok("name", name, err)) != DMP_OK)
        return rc;
    char *nsdir = dmp_asprintf("%s/%s", lb->root, ns);
    rc = mkdir_one(nsdir, err);
    dmp_free(nsdir);
    if (rc != DMP_OK)
        return rc;
    dmp_evlog_conf_t ec;
    dmp_evlog_conf_init(&ec);
    if (conf != NULL) {
        ec.retention_ms = conf->retention_ms;
        ec.retention_bytes = conf->retention_bytes;
        if (conf->dedup_window_count)
            ec.dedup_window_count = conf->dedup_window_count;
        ec.dedup_window_ms = conf->dedup_window_ms;
        if (conf->max_record_bytes)
            ec.max_record_bytes = conf->max_record_bytes;
        if (conf->segment_bytes)
            ec.segment_bytes = conf->segment_bytes;
    }
    char *dir = chan_dir(lb, ns, name);
    dmp_evlog_t *elog = NULL;
    rc = dmp_evlog_open(dir, &ec, &elog, err);
    dmp_free(dir);
    if (rc != DMP_OK)
        return rc;
    log_channel_t *lc = dmp_calloc(1, sizeof(*lc));
    lc->base.be = be;
    lc->elog = elog;
    *out = &lc->base;
    return DMP_OK;
}

static void log_close(dmp_channel_t *ch)
{
    log_channel_t *lc = (log_channel_t *)ch;
    dmp_evlog_close(lc->elog);
    dmp_free(lc);
}

static int log_destroy(dmp_channel_backend_t *be, const char *ns, const char *name,
                       dmp_error_t *err)
{
    log_backend_t *lb = (log_backend_t *)be;
    int rc;
    if ((rc = component_ok("namespace", ns, err)) != DMP_OK ||
        (rc = component_ok("name", name, err)) != DMP_OK)
        return rc;
    char *dir = chan_dir(lb, ns, name);
    rc = dmp_evlog_destroy(dir, err);
    dmp_free(dir);
    return rc;
}

static int log_append(dmp_channel_t *ch, const dmp_channel_msg_t *msgs, size_t n,
                      dmp_channel_result_t *results, dmp_error_t *err)
{
    log_channel_t *lc = (log_channel_t *)ch;
    dmp_evlog_rec_t *recs = dmp_malloc(n * sizeof(*recs));
    dmp_evlog_result_t *res = dmp_malloc(n * sizeof(*res));
    for (size_t i = 0; i < n; i++) {
        recs[i].payload = msgs[i].payload;
        recs[i].len = msgs[i].len;
        recs[i].event_ms = msgs[i].event_ms;
        recs[i].dedup_key = (msgs[i].source != NULL && msgs[i].id != NULL)
                                ? dmp_evlog_dedup_key(msgs[i].source, msgs[i].id)
                                : 0;
        recs[i].flags = 0;
    }
    int rc = dmp_evlog_append(lc->elog, recs, n, NULL, res, err);
    if (rc == DMP_OK && results != NULL)
        for (size_t i = 0; i < n; i++) {
            results[i].offset = res[i].seq;
            results[i].duplicate = res[i].duplicate;
        }
    dmp_free(recs);
    dmp_free(res);
    return rc;
}

typedef struct read_ctx {
    dmp_channel_read_fn fn;
    void *ud;
} read_ctx_t;

static int on_entry(void *ud, const dmp_evlog_entry_t *ent)
{
    read_ctx_t *rc = ud;
    dmp_channel_rec_t rec = {
        .offset = ent->seq,
        .append_ms = ent->append_ms,
        .event_ms = ent->event_ms,
        .payload = ent->payload,
        .len = ent->len,
    };
    return rc->fn(rc->ud, &rec);
}

static int log_read(dmp_channel_t *ch, uint64_t from, size_t max_records, size_t max_bytes,
                    dmp_channel_read_fn fn, void *ud, uint64_t *next, dmp_error_t *err)
{
    log_channel_t *lc = (log_channel_t *)ch;
    read_ctx_t rc = {fn, ud};
    dmp_evlog_read_info_t info = {0};
    int r = dmp_evlog_read(lc->elog, from == 0 ? 1 : from, max_records, max_bytes, on_entry, &rc,
                           &info, err);
    if (next != NULL)
        *next = r == DMP_OK ? info.next_seq : from;
    return r;
}

static int log_seek_time(dmp_channel_t *ch, int64_t append_ms, uint64_t *offset,
                         dmp_error_t *err)
{
    return dmp_evlog_seek_time(((log_channel_t *)ch)->elog, append_ms, offset, err);
}

static int log_wait(dmp_channel_t *ch, uint64_t after, int timeout_ms)
{
    return dmp_evlog_wait(((log_channel_t *)ch)->elog, after, timeout_ms, NULL);
}

static int log_retain(dmp_channel_t *ch, dmp_error_t *err)
{
    return dmp_evlog_retain(((log_channel_t *)ch)->elog, err);
}

static void log_stats(dmp_channel_t *ch, dmp_channel_stats_t *out)
{
    dmp_evlog_stats_t st;
    memset(&st, 0, sizeof(st));
    dmp_evlog_stats(((log_channel_t *)ch)->elog, &st);
    out->first_offset = st.first_seq;
    out->next_offset = st.next_seq;
    out->bytes = st.bytes;
    out->appended = st.appended;
    out->duplicates = st.duplicates;
    out->syncs = st.syncs;
    out->read_only = st.read_only;
    snprintf(out->read_only_reason, sizeof(out->read_only_reason), "%s", st.read_only_reason);
}

static void log_backend_free(dmp_channel_backend_t *be)
{
    log_backend_t *lb = (log_backend_t *)be;
    dmp_free(lb->root);
    dmp_free(lb);
}

static const dmp_channel_backend_ops_t log_ops = {
    .version = DMP_CHANNEL_OPS_V1,
    .name = "dmp-log",
    .open = log_open,
    .close = log_close,
    .destroy = log_destroy,
    .append = log_append,
    .read = log_read,
    .seek_time = log_seek_time,
    .wait = log_wait,
    .retain = log_retain,
    .stats = log_stats,
    .backend_free = log_backend_free,
};

int dmp_channel_backend_log_new(const char *root, dmp_channel_backend_t **out, dmp_error_t *err)
{
    *out = NULL;
    int rc = mkdir_one(root, err);
    if (rc != DMP_OK)
        return rc;
    log_backend_t *lb = dmp_calloc(1, sizeof(*lb));
    lb->base.ops = &log_ops;
    lb->root = dmp_strdup(root);
    *out = &lb->base;
    return DMP_OK;
}
