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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
