/* test_streams.c -- the stream-port service without HTTP: the dmp-log provisioner writes
 * port metadata and opens the channel; ingest validates, wraps and appends; reads add
 * dmpoffset; rejected events are kept; everything survives a reopen; subscriptions check
 * their definitions; delete removes the port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dmp/descriptor.h"
#include "dmp/streams.h"

static const char DESC[] = "name: orders\n"
                           "domain: sales.eu\n"
                           "version: 1.0.0\n"
                           "outputPorts:\n"
                           "  - name: events\n"
                           "    type: stream\n"
                           "    visibility: protected\n"
                           "    allow: [finance]\n"
                           "    schema:\n"
                           "      type: object\n"
                           "      required: [Age]\n"
                           "      properties: {Age: {type: integer, exclusiveMaximum: 130}}\n";

typedef struct fx {
    char *dir;
    dmp_streams_t *st;
    dmp_descriptor_t *desc;
    dmp_provisioner_t *pv;
} fx_t;

static void open_st(fx_t *f)
{
    dmp_streams_conf_t c = {.data_dir = f->dir, .max_event_bytes = 4096};
    dmp_error_t err = {0};
    assert_int_equal(dmp_streams_open(&c, &f->st, &err), DMP_OK);
    assert_int_equal(dmp_streams_provisioner_new(f->st, &f->pv, &err), DMP_OK);
}

static void close_st(fx_t *f)
{
    f->pv->ops->close(f->pv);
    dmp_streams_close(f->st);
}

static int prov(fx_t *f, dmp_op_t op)
{
    dmp_product_key_t key = {"default", "sales.eu", "orders", "1.0.0"};
    dmp_prov_request_t req = {
        .op = op, .key = &key, .desc = f->desc, .res = &f->desc->resources[0]};
    dmp_state_t done = DMP_STATE_NONE;
    dmp_error_t err = {0};
    int rc = f->pv->ops->submit(f->pv, &req, &done, &err);
    if (rc == DMP_OK)
        assert_int_equal(done, op == DMP_OP_DELETE ? DMP_STATE_DELETED : DMP_STATE_CREATED);
    return rc;
}

static int setup(void **state)
{
    fx_t *f = dmp_calloc(1, sizeof(*f));
    char tmpl[] = "/tmp/dmp-streams-XXXXXX";
    f->dir = dmp_strdup(mkdtemp(tmpl));
    dmp_diags_t dg = {0};
    dmp_descriptor_opts_t o = {0};
    assert_int_equal(dmp_descriptor_parse(DESC, strlen(DESC), &o, &f->desc, &dg, NULL), DMP_OK);
    dmp_diags_free(&dg);
    open_st(f);
    assert_int_equal(prov(f, DMP_OP_CREATE), DMP_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    close_st(f);
    dmp_descriptor_free(f->desc);
    char *cmd = dmp_asprintf("rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    dmp_free(cmd);
    dmp_free(f->dir);
    dmp_free(f);
    return 0;
}

static int ingest(fx_t *f, const char *ct, const char *body, json_t **reply, int *batch,
                  dmp_error_t *err)
{
    dmp_stream_port_t *p = NULL;
    assert_int_equal(dmp_streams_port_find(f->st, NULL, "sales.eu", "orders", "events", &p, NULL),
                     DMP_OK);
    dmp_stream_input_t in = {.content_type = ct, .body = body, .len = strlen(body)};
    int rc = dmp_streams_ingest(f->st, p, &in, reply, batch, err);
    dmp_streams_port_release(p);
    return rc;
}

static void test_metadata_and_lookup(void **state)
{
    fx_t *f = *state;
    dmp_stream_port_t *p = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_streams_port_find(f->st, NULL, "sales.eu", "orders", "nope", &p, &err),
                     DMP_NOTFOUND);
    assert_non_null(strstr(err.msg, "'nope'"));
    assert_int_equal(dmp_streams_port_find(f->st, NULL, "sales.eu", "orders", "events", &p, &err),
                     DMP_OK);
    json_t *d = dmp_streams_port_describe(p);
    assert_string_equal(json_string_value(json_object_get(d, "channel")),
                        "sales.eu.orders._protected.events");
    assert_string_equal(json_string_value(json_array_get(json_object_get(d, "allow"), 0)),
                        "finance");
    json_decref(d);
    dmp_streams_port_release(p);
    /* A second apply of the same spec changes nothing. */
    assert_int_equal(prov(f, DMP_OP_UPDATE), DMP_OK);
}

static void test_ingest_validate_read(void **state)
{
    fx_t *f = *state;
    json_t *reply = NULL;
    int batch = 0;
    dmp_error_t err = {0};
    assert_int_equal(ingest(f, "application/json", "{\"Age\": 30}", &reply, &batch, &err), DMP_OK);
    assert_int_equal(json_integer_value(json_object_get(reply, "offset")), 1);
    json_decref(reply);
    assert_int_equal(ingest(f, "application/json", "{\"Age\": 140}", &reply, &batch, &err),
                     DMP_SCHEMA);
    assert_string_equal(err.msg, "/Age: 140 is not less than 130 (exclusiveMaximum)");
    json_decref(reply);
    assert_int_equal(
        ingest(f, "application/x-ndjson", "{\"Age\":1}\n{\"Age\":\"x\"}\n", &reply, &batch, &err),
        DMP_OK);
    assert_int_equal(batch, 1);
    assert_int_equal(json_integer_value(json_object_get(reply, "accepted")), 1);
    assert_int_equal(json_integer_value(json_object_get(reply, "rejected")), 1);
    json_decref(reply);
    dmp_error_clear(&err);
    assert_int_equal(ingest(f, "text/csv", "a,b", &reply, &batch, &err), DMP_UNSUPPORTED);
    char big[5000];
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[0] = '1';
    assert_int_equal(ingest(f, "application/json", big, &reply, &batch, &err), DMP_LIMIT);

    dmp_stream_port_t *p = NULL;
    assert_int_equal(
        dmp_streams_port_find(f->st, "default", "sales.eu", "orders", "events", &p, NULL), DMP_OK);
    dmp_stream_query_t q = {.from = 1, .format = DMP_STREAM_FMT_ARRAY};
    dmp_buf_t out = DMP_BUF_INIT;
    uint64_t next = 0;
    size_t count = 0;
    assert_int_equal(dmp_streams_read(f->st, p, &q, &out, &next, &count, &err), DMP_OK);
    assert_int_equal(count, 2);
    assert_int_equal(next, 3);
    json_t *arr = json_loads(out.data, 0, NULL);
    assert_non_null(arr);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 1), "dmpoffset")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "source")),
                        "urn:dmp:sales.eu:orders:1");
    json_decref(arr);
    dmp_buf_free(&out);
    json_t *rej = NULL;
    assert_int_equal(dmp_streams_rejected(f->st, p, 1, 10, &rej, &err), DMP_OK);
    assert_int_equal(json_array_size(json_object_get(rej, "rejected")), 2);
    json_decref(rej);
    dmp_streams_port_release(p);

    /* Reopen: ports, data and rejected events are still there. */
    close_st(f);
    open_st(f);
    assert_int_equal(dmp_streams_port_find(f->st, NULL, "sales.eu", "orders", "events", &p, NULL),
                     DMP_OK);
    assert_int_equal(dmp_streams_next_offset(p), 3);
    dmp_streams_port_release(p);
}

static void test_subscription_definitions(void **state)
{
    fx_t *f = *state;
    json_t *out = NULL;
    dmp_error_t err = {0};
    json_t *bad = json_pack("{s:s, s:s, s:s}", "product", "sales.eu/orders", "port", "events",
                            "sink", "ftp://x");
    assert_int_equal(dmp_streams_sub_create(f->st, bad, &out, &err), DMP_INVALID);
    assert_string_equal(err.path, "sink");
    json_decref(bad);
    bad = json_loads("{\"product\":\"sales.eu/orders\",\"port\":\"events\",\"sink\":"
                     "\"http://127.0.0.1:9/\",\"filters\":[{\"sql\":\"a = = 1\"}]}",
                     0, NULL);
    dmp_error_clear(&err);
    assert_int_not_equal(dmp_streams_sub_create(f->st, bad, &out, &err), DMP_OK);
    json_decref(bad);
    json_t *ok = json_loads("{\"product\":\"sales.eu/orders\",\"port\":\"events\",\"sink\":"
                            "\"http://127.0.0.1:9/\",\"filters\":[{\"exact\":{\"type\":\"x\"}}]}",
                            0, NULL);
    assert_int_equal(dmp_streams_sub_create(f->st, ok, &out, &err), DMP_OK);
    char *id = dmp_strdup(json_string_value(json_object_get(out, "id")));
    json_decref(out);
    json_decref(ok);
    json_t *list = dmp_streams_sub_list(f->st);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    close_st(f);
    open_st(f); /* persisted */
    assert_int_equal(dmp_streams_sub_get(f->st, id, &out, &err), DMP_OK);
    json_decref(out);
    assert_int_equal(dmp_streams_sub_delete(f->st, id, &err), DMP_OK);
    assert_int_equal(dmp_streams_sub_get(f->st, id, &out, &err), DMP_NOTFOUND);
    dmp_free(id);
}

static void test_delete_removes_port(void **state)
{
    fx_t *f = *state;
    assert_int_equal(prov(f, DMP_OP_DELETE), DMP_OK);
    dmp_stream_port_t *p = NULL;
    assert_int_equal(dmp_streams_port_find(f->st, NULL, "sales.eu", "orders", "events", &p, NULL),
                     DMP_NOTFOUND);
    char *chan = dmp_asprintf("%s/channels/default/sales.eu.orders._protected.events", f->dir);
    assert_int_not_equal(access(chan, F_OK), 0);
    dmp_free(chan);
    assert_int_equal(prov(f, DMP_OP_DELETE), DMP_OK); /* idempotent */
}

/* Replaces the fixture's descriptor with 'text' and applies it. */
static int apply_desc(fx_t *f, const char *text, const char *version)
{
    dmp_descriptor_free(f->desc);
    dmp_diags_t dg = {0};
    dmp_descriptor_opts_t o = {0};
    assert_int_equal(dmp_descriptor_parse(text, strlen(text), &o, &f->desc, &dg, NULL), DMP_OK);
    dmp_diags_free(&dg);
    dmp_product_key_t key = {"default", "sales.eu", "orders", version};
    dmp_prov_request_t req = {
        .op = DMP_OP_UPDATE, .key = &key, .desc = f->desc, .res = &f->desc->resources[0]};
    dmp_state_t done = DMP_STATE_NONE;
    dmp_error_t err = {0};
    return f->pv->ops->submit(f->pv, &req, &done, &err);
}

static char *desc_variant(const char *allow, int max, const char *retention)
{
    return dmp_asprintf("name: orders\n"
                        "domain: sales.eu\n"
                        "version: 1.0.0\n"
                        "outputPorts:\n"
                        "  - name: events\n"
                        "    type: stream\n"
                        "    visibility: protected\n"
                        "    allow: [%s]\n"
                        "%s"
                        "    schema:\n"
                        "      type: object\n"
                        "      required: [Age]\n"
                        "      properties: {Age: {type: integer, exclusiveMaximum: %d}}\n",
                        allow, retention ? retention : "", max);
}

typedef struct hammer {
    fx_t *f;
    volatile int stop;
    int notfound, failed, ok;
} hammer_t;

static void *hammer_ingest(void *arg)
{
    hammer_t *h = arg;
    while (!h->stop) {
        dmp_stream_port_t *p = NULL;
        dmp_error_t err = {0};
        int rc = dmp_streams_port_find(h->f->st, NULL, "sales.eu", "orders", "events", &p, &err);
        if (rc != DMP_OK) {
            __atomic_add_fetch(rc == DMP_NOTFOUND ? &h->notfound : &h->failed, 1, __ATOMIC_RELAXED);
            continue;
        }
        json_t *reply = NULL;
        int batch = 0;
        dmp_stream_input_t in = {
            .content_type = "application/json", .body = "{\"Age\":1}", .len = 9};
        rc = dmp_streams_ingest(h->f->st, p, &in, &reply, &batch, &err);
        json_decref(reply);
        dmp_streams_port_release(p);
        __atomic_add_fetch(rc == DMP_OK ? &h->ok : &h->failed, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static uint64_t appended(dmp_stream_port_t *p)
{
    json_t *d = dmp_streams_port_describe(p);
    uint64_t n =
        (uint64_t)json_integer_value(json_object_get(json_object_get(d, "stats"), "appended"));
    json_decref(d);
    return n;
}

/* An ACL or schema change swaps the port object in one step around the same open channel:
 * concurrent lookups never miss, a reference to the old object keeps working, and the
 * channel is not reopened (its since-open counter keeps counting). */
static void test_update_swaps_metadata_without_reopen(void **state)
{
    fx_t *f = *state;
    dmp_stream_port_t *old = NULL;
    assert_int_equal(dmp_streams_port_find(f->st, NULL, "sales.eu", "orders", "events", &old, NULL),
                     DMP_OK);
    hammer_t h = {.f = f};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, hammer_ingest, &h);
    for (int i = 0; i < 20; i++) {
        char allow[32];
        snprintf(allow, sizeof(allow), "team%d", i);
        char *d = desc_variant(allow, 100 + i, NULL);
        assert_int_equal(apply_desc(f, d, "1.0.0"), DMP_OK);
        dmp_free(d);
        usleep(2000);
    }
    h.stop = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(h.notfound, 0);
    assert_int_equal(h.failed, 0);
    assert_true(h.ok > 0);

    assert_true(dmp_streams_port_gone(old));
    dmp_stream_port_t *p = NULL;
    assert_int_equal(dmp_streams_port_find(f->st, NULL, "sales.eu", "orders", "events", &p, NULL),
                     DMP_OK);
    assert_ptr_not_equal(p, old);
    json_t *d = dmp_streams_port_describe(p);
    assert_string_equal(json_string_value(json_array_get(json_object_get(d, "allow"), 0)),
                        "team19");
    json_decref(d);
    /* Same channel: both objects see every append, and the counter since open was never
     * reset. */
    assert_int_equal(appended(p), (uint64_t)h.ok);
    assert_int_equal(dmp_streams_next_offset(old), dmp_streams_next_offset(p));
    /* The new schema is in force (exclusiveMaximum 119), the old object still ingests. */
    json_t *reply = NULL;
    int batch = 0;
    dmp_error_t err = {0};
    dmp_stream_input_t in = {
        .content_type = "application/json", .body = "{\"Age\":125}", .len = 11};
    assert_int_equal(dmp_streams_ingest(f->st, p, &in, &reply, &batch, &err), DMP_SCHEMA);
    json_decref(reply);
    in.body = "{\"Age\":5}";
    in.len = 9;
    assert_int_equal(dmp_streams_ingest(f->st, old, &in, &reply, &batch, &err), DMP_OK);
    json_decref(reply);
    assert_int_equal(appended(p), (uint64_t)h.ok + 1);
    dmp_streams_port_release(old);
    dmp_streams_port_release(p);
}

/* The descriptor's retention reaches the log: with small segments and a size limit the
 * oldest sealed segments go; a changed retention reopens the channel with the new policy. */
static void test_retention_size_and_change(void **state)
{
    fx_t *f = *state;
    close_st(f);
    dmp_streams_conf_t c = {.data_dir = f->dir,
                            .max_event_bytes = 4096,
                            .segment_bytes = 8192,
                            .retention_check_ms = 50};
    dmp_error_t err = {0};
    assert_int_equal(dmp_streams_open(&c, &f->st, &err), DMP_OK);
    assert_int_equal(dmp_streams_provisioner_new(f->st, &f->pv, &err), DMP_OK);
    char *d = desc_variant("finance", 130, "    retention: {size: 32KiB}\n");
    assert_int_equal(apply_desc(f, d, "1.0.0"), DMP_OK);
    dmp_free(d);
    char body[600];
    int n = snprintf(body, sizeof(body), "{\"Age\":1,\"pad\":\"%0500d\"}", 0);
    for (int i = 0; i < 400; i++) {
        json_t *reply = NULL;
        int batch = 0;
        dmp_stream_input_t in = {
            .content_type = "application/json", .body = body, .len = (size_t)n};
        dmp_stream_port_t *p = NULL;
        assert_int_equal(
            dmp_streams_port_find(f->st, NULL, "sales.eu", "orders", "events", &p, NULL), DMP_OK);
        assert_int_equal(dmp_streams_ingest(f->st, p, &in, &reply, &batch, &err), DMP_OK);
        json_decref(reply);
        dmp_streams_port_release(p);
    }
    dmp_stream_port_t *p = NULL;
    json_t *stats = NULL;
    for (int i = 0; i < 100; i++) { /* the housekeeper runs every 50 ms */
        assert_int_equal(
            dmp_streams_port_find(f->st, NULL, "sales.eu", "orders", "events", &p, NULL), DMP_OK);
        json_t *desc = dmp_streams_port_describe(p);
        dmp_streams_port_release(p);
        json_decref(stats);
        stats = json_incref(json_object_get(desc, "stats"));
        json_decref(desc);
        if (json_integer_value(json_object_get(stats, "bytes")) <= 40 * 1024)
            break;
        usleep(20000);
    }
    assert_true(json_integer_value(json_object_get(stats, "first_offset")) > 1);
    assert_true(json_integer_value(json_object_get(stats, "bytes")) <= 40 * 1024);
    assert_int_equal(json_integer_value(json_object_get(stats, "next_offset")), 401);
    json_decref(stats);

    /* A bigger limit: the channel is reopened with it (lookups wait, never miss), data
     * is kept. */
    d = desc_variant("finance", 130, "    retention: {size: 1MiB}\n");
    assert_int_equal(apply_desc(f, d, "1.0.0"), DMP_OK);
    dmp_free(d);
    assert_int_equal(dmp_streams_port_find(f->st, NULL, "sales.eu", "orders", "events", &p, NULL),
                     DMP_OK);
    json_t *desc = dmp_streams_port_describe(p);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(desc, "retention"), "bytes")),
        1024 * 1024);
    assert_int_equal(appended(p), 0); /* reopened */
    assert_int_equal(dmp_streams_next_offset(p), 401);
    json_decref(desc);
    dmp_streams_port_release(p);
}

/* A filter that matches nothing for thousands of records still reaches the match; a
 * bounded scan says where to continue. */
static void test_filtered_read_scans_to_the_end(void **state)
{
    fx_t *f = *state;
    dmp_buf_t nd = DMP_BUF_INIT;
    for (int i = 0; i < 5000; i++)
        dmp_buf_puts(&nd, "{\"Age\":1}\n");
    dmp_buf_puts(&nd, "{\"specversion\":\"1.0\",\"id\":\"needle\",\"source\":\"/n\",\"type\":\"t\","
                      "\"data\":{\"Age\":2}}\n");
    json_t *reply = NULL;
    int batch = 0;
    dmp_error_t err = {0};
    assert_int_equal(ingest(f, "application/x-ndjson", nd.data, &reply, &batch, &err), DMP_OK);
    json_decref(reply);
    dmp_buf_free(&nd);
    dmp_cesql_t *filter = NULL;
    assert_int_equal(dmp_cesql_parse("id = 'needle'", 13, NULL, &filter, &err), DMP_OK);
    dmp_stream_port_t *p = NULL;
    assert_int_equal(dmp_streams_port_find(f->st, NULL, "sales.eu", "orders", "events", &p, NULL),
                     DMP_OK);
    dmp_stream_query_t q = {.from = 1, .limit = 10, .filter = filter};
    dmp_buf_t out = DMP_BUF_INIT;
    uint64_t next = 0;
    size_t count = 0;
    assert_int_equal(dmp_streams_read(f->st, p, &q, &out, &next, &count, &err), DMP_OK);
    assert_int_equal(count, 1);
    assert_int_equal(next, 5002);
    assert_non_null(strstr(out.data, "\"dmpoffset\":5001"));
    /* With a scan bound, the read stops early and the next offset continues it. */
    q.max_scan = 3000;
    dmp_buf_reset(&out);
    assert_int_equal(dmp_streams_read(f->st, p, &q, &out, &next, &count, &err), DMP_OK);
    assert_int_equal(count, 0);
    assert_int_equal(next, 3001);
    q.from = next;
    dmp_buf_reset(&out);
    assert_int_equal(dmp_streams_read(f->st, p, &q, &out, &next, &count, &err), DMP_OK);
    assert_int_equal(count, 1);
    assert_int_equal(next, 5002);
    dmp_buf_free(&out);
    dmp_cesql_free(filter);
    dmp_streams_port_release(p);
}

/* Event-time bounds: an event without `time` (stored with event time 0) has no event time
 * and is left out whenever a bound is given, never matched by event_until. */
static void test_event_time_bounds_skip_timeless(void **state)
{
    fx_t *f = *state;
    const char *nd = "{\"specversion\":\"1.0\",\"id\":\"jan\",\"source\":\"/t\",\"type\":\"t\","
                     "\"time\":\"2024-01-10T00:00:00Z\",\"data\":{\"Age\":1}}\n"
                     "{\"specversion\":\"1.0\",\"id\":\"none\",\"source\":\"/t\",\"type\":\"t\","
                     "\"data\":{\"Age\":2}}\n"
                     "{\"specversion\":\"1.0\",\"id\":\"jun\",\"source\":\"/t\",\"type\":\"t\","
                     "\"time\":\"2024-06-10T00:00:00Z\",\"data\":{\"Age\":3}}\n";
    json_t *reply = NULL;
    int batch = 0;
    dmp_error_t err = {0};
    assert_int_equal(ingest(f, "application/x-ndjson", nd, &reply, &batch, &err), DMP_OK);
    assert_int_equal(json_integer_value(json_object_get(reply, "accepted")), 3);
    json_decref(reply);
    dmp_stream_port_t *p = NULL;
    assert_int_equal(dmp_streams_port_find(f->st, NULL, "sales.eu", "orders", "events", &p, NULL),
                     DMP_OK);
    int64_t mar = 0, jan1 = 0;
    assert_int_equal(dmp_time_parse("2024-03-01T00:00:00Z", &mar), DMP_OK);
    assert_int_equal(dmp_time_parse("2024-01-01T00:00:00Z", &jan1), DMP_OK);
    struct {
        int64_t since, until;
        size_t want;
        const char *ids[3];
    } cases[] = {
        {0, 0, 3, {"jan", "none", "jun"}},
        {0, mar, 1, {"jan"}}, /* the timeless event does not count as "before" */
        {mar, 0, 1, {"jun"}},
        {jan1, mar, 1, {"jan"}},
        {jan1, 0, 2, {"jan", "jun"}},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        dmp_stream_query_t q = {.from = 1,
                                .limit = 10,
                                .event_since_ms = cases[c].since,
                                .event_until_ms = cases[c].until,
                                .format = DMP_STREAM_FMT_ARRAY};
        dmp_buf_t out = DMP_BUF_INIT;
        uint64_t next = 0;
        size_t count = 0;
        assert_int_equal(dmp_streams_read(f->st, p, &q, &out, &next, &count, &err), DMP_OK);
        assert_int_equal(count, cases[c].want);
        assert_int_equal(next, 4);
        json_t *arr = json_loads(out.data, 0, NULL);
        assert_non_null(arr);
        assert_int_equal(json_array_size(arr), cases[c].want);
        for (size_t i = 0; i < cases[c].want; i++)
            assert_string_equal(json_string_value(json_object_get(json_array_get(arr, i), "id")),
                                cases[c].ids[i]);
        json_decref(arr);
        dmp_buf_free(&out);
    }
    dmp_streams_port_release(p);
}

/* ---- a second channel backend: in memory, behind the same dmp_channel ops table */

typedef struct mem_rec {
    uint64_t off;
    int64_t append_ms, event_ms;
    char *data;
    size_t len;
    char *key; /* "source\nid" or NULL */
} mem_rec_t;

typedef struct mem_data { /* one channel's records, kept by the store across reopen */
    char *role, *ns, *name;
    mem_rec_t *recs;
    size_t n, cap, head; /* recs[head..n) are readable */
    uint64_t next;
    struct mem_data *link;
} mem_data_t;

typedef struct mem_store { /* the factory's ud: outlives the service */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mem_data_t *all;
    int backends, opens, closes, destroys, appends, reads;
} mem_store_t;

typedef struct mem_be {
    dmp_channel_backend_t base;
    mem_store_t *store;
    char *role;
} mem_be_t;

typedef struct mem_ch {
    dmp_channel_t base;
    mem_data_t *d;
    dmp_channel_conf_t conf;
} mem_ch_t;

static mem_store_t *mstore(dmp_channel_t *ch)
{
    return ((mem_be_t *)ch->be)->store;
}

static mem_data_t *mem_find(mem_store_t *s, const char *role, const char *ns, const char *name,
                            mem_data_t ***link)
{
    for (mem_data_t **pp = &s->all; *pp; pp = &(*pp)->link) {
        mem_data_t *d = *pp;
        if (!strcmp(d->role, role) && !strcmp(d->ns, ns) && !strcmp(d->name, name)) {
            if (link)
                *link = pp;
            return d;
        }
    }
    return NULL;
}

static void mem_data_free(mem_data_t *d)
{
    for (size_t i = 0; i < d->n; i++) {
        dmp_free(d->recs[i].data);
        dmp_free(d->recs[i].key);
    }
    dmp_free(d->recs);
    dmp_free(d->role);
    dmp_free(d->ns);
    dmp_free(d->name);
    dmp_free(d);
}

static int mem_open(dmp_channel_backend_t *be, const char *ns, const char *name,
                    const dmp_channel_conf_t *conf, dmp_channel_t **out, dmp_error_t *err)
{
    mem_be_t *b = (mem_be_t *)be;
    pthread_mutex_lock(&b->store->mu);
    mem_data_t *d = mem_find(b->store, b->role, ns, name, NULL);
    if (!d) {
        d = dmp_calloc(1, sizeof(*d));
        d->role = dmp_strdup(b->role);
        d->ns = dmp_strdup(ns);
        d->name = dmp_strdup(name);
        d->next = 1;
        d->link = b->store->all;
        b->store->all = d;
    }
    b->store->opens++;
    pthread_mutex_unlock(&b->store->mu);
    mem_ch_t *c = dmp_calloc(1, sizeof(*c));
    c->base.be = be;
    c->d = d;
    c->conf = *conf;
    *out = &c->base;
    return DMP_OK;
}

static void mem_close(dmp_channel_t *ch)
{
    mem_store_t *s = mstore(ch);
    pthread_mutex_lock(&s->mu);
    s->closes++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    dmp_free(ch);
}

static int mem_destroy(dmp_channel_backend_t *be, const char *ns, const char *name,
                       dmp_error_t *err)
{
    mem_be_t *b = (mem_be_t *)be;
    pthread_mutex_lock(&b->store->mu);
    mem_data_t **link = NULL;
    mem_data_t *d = mem_find(b->store, b->role, ns, name, &link);
    if (d) {
        *link = d->link;
        mem_data_free(d);
        b->store->destroys++;
    }
    pthread_mutex_unlock(&b->store->mu);
    return d ? DMP_OK : DMP_ERR(err, DMP_NOTFOUND, "memory channel %s/%s does not exist", ns, name);
}

static int mem_append(dmp_channel_t *ch, const dmp_channel_msg_t *msgs, size_t n,
                      dmp_channel_result_t *results, dmp_error_t *err)
{
    mem_ch_t *c = (mem_ch_t *)ch;
    mem_store_t *s = mstore(ch);
    for (size_t i = 0; i < n; i++)
        if (c->conf.max_record_bytes && msgs[i].len > c->conf.max_record_bytes)
            return DMP_ERR(err, DMP_LIMIT, "record %zu is over %u bytes", i,
                           c->conf.max_record_bytes);
    pthread_mutex_lock(&s->mu);
    mem_data_t *d = c->d;
    int64_t now = dmp_now_ms();
    for (size_t i = 0; i < n; i++) {
        char *key = msgs[i].source && msgs[i].id
                        ? dmp_asprintf("%s\n%s", msgs[i].source, msgs[i].id)
                        : NULL;
        uint64_t dup = 0;
        for (size_t k = d->head; key && k < d->n && !dup; k++)
            if (d->recs[k].key && !strcmp(d->recs[k].key, key))
                dup = d->recs[k].off;
        if (dup) {
            dmp_free(key);
            if (results)
                results[i] = (dmp_channel_result_t){dup, 1};
            continue;
        }
        if (d->n == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 16;
            d->recs = dmp_realloc(d->recs, d->cap * sizeof(*d->recs));
        }
        mem_rec_t *r = &d->recs[d->n++];
        r->off = d->next++;
        r->append_ms = now;
        r->event_ms = msgs[i].event_ms;
        r->data = dmp_malloc(msgs[i].len + 1);
        memcpy(r->data, msgs[i].payload, msgs[i].len);
        r->len = msgs[i].len;
        r->key = key;
        if (results)
            results[i] = (dmp_channel_result_t){r->off, 0};
    }
    s->appends++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return DMP_OK;
}

static int mem_read(dmp_channel_t *ch, uint64_t from, size_t max_records, size_t max_bytes,
                    dmp_channel_read_fn fn, void *ud, uint64_t *next, dmp_error_t *err)
{
    mem_ch_t *c = (mem_ch_t *)ch;
    mem_store_t *s = mstore(ch);
    pthread_mutex_lock(&s->mu);
    mem_data_t *d = c->d;
    s->reads++;
    uint64_t cur = from ? from : 1;
    size_t count = 0, bytes = 0;
    for (size_t k = d->head; k < d->n; k++) {
        mem_rec_t *r = &d->recs[k];
        if (r->off < cur)
            continue;
        if ((max_records && count >= max_records) ||
            (max_bytes && count && bytes + r->len > max_bytes))
            break;
        dmp_channel_rec_t rec = {r->off, r->append_ms, r->event_ms, r->data, r->len};
        count++;
        bytes += r->len;
        cur = r->off + 1;
        if (fn(ud, &rec) != 0)
            break;
    }
    pthread_mutex_unlock(&s->mu);
    if (next)
        *next = cur;
    return DMP_OK;
}

static int mem_seek_time(dmp_channel_t *ch, int64_t append_ms, uint64_t *offset, dmp_error_t *err)
{
    mem_ch_t *c = (mem_ch_t *)ch;
    mem_store_t *s = mstore(ch);
    pthread_mutex_lock(&s->mu);
    *offset = c->d->next;
    for (size_t k = c->d->head; k < c->d->n; k++)
        if (c->d->recs[k].append_ms >= append_ms) {
            *offset = c->d->recs[k].off;
            break;
        }
    pthread_mutex_unlock(&s->mu);
    return DMP_OK;
}

static int mem_wait(dmp_channel_t *ch, uint64_t after, int timeout_ms)
{
    mem_ch_t *c = (mem_ch_t *)ch;
    mem_store_t *s = mstore(ch);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    int rc = DMP_OK;
    pthread_mutex_lock(&s->mu);
    while (c->d->next <= after + 1) {
        if (timeout_ms == 0 ||
            (timeout_ms > 0 && pthread_cond_timedwait(&s->cv, &s->mu, &dl) != 0)) {
            rc = c->d->next <= after + 1 ? DMP_TIMEOUT : DMP_OK;
            break;
        }
        if (timeout_ms < 0)
            pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int mem_retain(dmp_channel_t *ch, dmp_error_t *err)
{
    mem_ch_t *c = (mem_ch_t *)ch;
    mem_store_t *s = mstore(ch);
    pthread_mutex_lock(&s->mu);
    mem_data_t *d = c->d;
    uint64_t total = 0;
    for (size_t k = d->head; k < d->n; k++)
        total += d->recs[k].len;
    while (c->conf.retention_bytes && total > c->conf.retention_bytes && d->head < d->n)
        total -= d->recs[d->head++].len;
    pthread_mutex_unlock(&s->mu);
    return DMP_OK;
}

static void mem_stats(dmp_channel_t *ch, dmp_channel_stats_t *out)
{
    mem_ch_t *c = (mem_ch_t *)ch;
    mem_store_t *s = mstore(ch);
    pthread_mutex_lock(&s->mu);
    mem_data_t *d = c->d;
    out->first_offset = d->head < d->n ? d->recs[d->head].off : d->next;
    out->next_offset = d->next;
    for (size_t k = d->head; k < d->n; k++)
        out->bytes += d->recs[k].len;
    out->appended = d->n;
    pthread_mutex_unlock(&s->mu);
}

static void mem_backend_free(dmp_channel_backend_t *be)
{
    mem_be_t *b = (mem_be_t *)be;
    pthread_mutex_lock(&b->store->mu);
    b->store->backends--;
    pthread_mutex_unlock(&b->store->mu);
    dmp_free(b->role);
    dmp_free(b);
}

static const dmp_channel_backend_ops_t mem_ops = {
    .version = DMP_CHANNEL_OPS_V1,
    .name = "memory",
    .open = mem_open,
    .close = mem_close,
    .destroy = mem_destroy,
    .append = mem_append,
    .read = mem_read,
    .seek_time = mem_seek_time,
    .wait = mem_wait,
    .retain = mem_retain,
    .stats = mem_stats,
    .backend_free = mem_backend_free,
};

static int mem_factory(void *ud, const char *data_dir, const char *role,
                       dmp_channel_backend_t **out, dmp_error_t *err)
{
    mem_store_t *s = ud;
    mem_be_t *b = dmp_calloc(1, sizeof(*b));
    b->base.ops = &mem_ops;
    b->store = s;
    b->role = dmp_strdup(role);
    pthread_mutex_lock(&s->mu);
    s->backends++;
    pthread_mutex_unlock(&s->mu);
    *out = &b->base;
    return DMP_OK;
}

static int bad_factory(void *ud, const char *data_dir, const char *role,
                       dmp_channel_backend_t **out, dmp_error_t *err)
{
    return DMP_ERR(err, DMP_UNAVAILABLE, "test backend for %s is down", role);
}

static void open_mem(fx_t *f, mem_store_t *ms)
{
    dmp_streams_conf_t c = {
        .data_dir = f->dir, .max_event_bytes = 4096, .backend = mem_factory, .backend_ud = ms};
    dmp_error_t err = {0};
    assert_int_equal(dmp_streams_open(&c, &f->st, &err), DMP_OK);
    assert_int_equal(dmp_streams_provisioner_new(f->st, &f->pv, &err), DMP_OK);
}

/* The whole service (provision, ingest with de-dup and rejection, read, reopen, delete) runs
 * over a second backend with no change above the channel interface. */
static void test_second_backend(void **state)
{
    fx_t fx = {0}, *f = &fx;
    char tmpl[] = "/tmp/dmp-streams-mem-XXXXXX";
    f->dir = dmp_strdup(mkdtemp(tmpl));
    dmp_diags_t dg = {0};
    dmp_descriptor_opts_t o = {0};
    assert_int_equal(dmp_descriptor_parse(DESC, strlen(DESC), &o, &f->desc, &dg, NULL), DMP_OK);
    dmp_diags_free(&dg);
    mem_store_t ms = {0};
    pthread_mutex_init(&ms.mu, NULL);
    pthread_cond_init(&ms.cv, NULL);

    /* a factory that fails makes open fail with its message */
    dmp_streams_conf_t bad = {.data_dir = f->dir, .backend = bad_factory};
    dmp_streams_t *st = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_streams_open(&bad, &st, &err), DMP_UNAVAILABLE);
    assert_non_null(strstr(err.msg, "test backend for events is down"));
    assert_null(st);

    open_mem(f, &ms);
    assert_int_equal(ms.backends, 2); /* events and rejected */
    assert_int_equal(prov(f, DMP_OP_CREATE), DMP_OK);
    assert_int_equal(ms.opens, 2);
    json_t *reply = NULL;
    int batch = 0;
    const char *nd = "{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"/m\",\"type\":\"t\","
                     "\"time\":\"2024-01-10T00:00:00Z\",\"data\":{\"Age\":1}}\n"
                     "{\"specversion\":\"1.0\",\"id\":\"b\",\"source\":\"/m\",\"type\":\"t\","
                     "\"data\":{\"Age\":200}}\n"
                     "{\"specversion\":\"1.0\",\"id\":\"c\",\"source\":\"/m\",\"type\":\"t\","
                     "\"data\":{\"Age\":3}}\n"
                     "{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"/m\",\"type\":\"t\","
                     "\"data\":{\"Age\":1}}\n";
    assert_int_equal(ingest(f, "application/x-ndjson", nd, &reply, &batch, &err), DMP_OK);
    assert_int_equal(json_integer_value(json_object_get(reply, "accepted")), 2);
    assert_int_equal(json_integer_value(json_object_get(reply, "rejected")), 1);
    assert_int_equal(json_integer_value(json_object_get(reply, "duplicates")), 1);
    json_decref(reply);
    assert_true(ms.appends >= 2); /* the events and the rejected one */

    dmp_stream_port_t *p = NULL;
    assert_int_equal(dmp_streams_port_find(f->st, NULL, "sales.eu", "orders", "events", &p, NULL),
                     DMP_OK);
    dmp_stream_query_t q = {.from = 1, .limit = 10, .format = DMP_STREAM_FMT_ARRAY};
    dmp_buf_t out = DMP_BUF_INIT;
    uint64_t next = 0;
    size_t count = 0;
    assert_int_equal(dmp_streams_read(f->st, p, &q, &out, &next, &count, &err), DMP_OK);
    assert_int_equal(count, 2);
    assert_int_equal(next, 3);
    json_t *arr = json_loads(out.data, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "id")), "c");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 1), "dmpoffset")), 2);
    json_decref(arr);
    dmp_buf_free(&out);
    assert_true(ms.reads >= 1);
    json_t *rej = NULL;
    assert_int_equal(dmp_streams_rejected(f->st, p, 1, 10, &rej, &err), DMP_OK);
    assert_int_equal(json_array_size(json_object_get(rej, "rejected")), 1);
    json_decref(rej);
    assert_int_equal(dmp_streams_wait(p, 2, 0), DMP_TIMEOUT);
    assert_int_equal(dmp_streams_wait(p, 1, 0), DMP_OK);
    dmp_streams_port_release(p);

    /* nothing went to the embedded log's directories */
    char *chdir_ = dmp_asprintf("%s/channels", f->dir);
    assert_int_not_equal(access(chdir_, F_OK), 0);
    dmp_free(chdir_);

    /* reopen over the same store: the port and its events are back */
    close_st(f);
    assert_int_equal(ms.backends, 0);
    assert_int_equal(ms.closes, ms.opens);
    open_mem(f, &ms);
    assert_int_equal(dmp_streams_port_find(f->st, NULL, "sales.eu", "orders", "events", &p, NULL),
                     DMP_OK);
    assert_int_equal(dmp_streams_next_offset(p), 3);
    dmp_streams_port_release(p);
    /* delete removes the channels through the backend */
    assert_int_equal(prov(f, DMP_OP_DELETE), DMP_OK);
    assert_int_equal(ms.destroys, 2);
    assert_null(ms.all);
    close_st(f);
    assert_int_equal(ms.backends, 0);

    pthread_mutex_destroy(&ms.mu);
    pthread_cond_destroy(&ms.cv);
    dmp_descriptor_free(f->desc);
    char *cmd = dmp_asprintf("rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    dmp_free(cmd);
    dmp_free(f->dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metadata_and_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_validate_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscription_definitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_removes_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_swaps_metadata_without_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_size_and_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filtered_read_scans_to_the_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_time_bounds_skip_timeless, setup, teardown),
        cmocka_unit_test(test_second_backend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
