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
    dmp_prov_request_t req = {.op = op, .key = &key, .desc = f->desc,
                              .res = &f->desc->resources[0]};
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
    assert_int_equal(ingest(f, "application/x-ndjson", "{\"Age\":1}\n{\"Age\":\"x\"}\n", &reply,
                            &batch, &err),
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
    assert_int_equal(dmp_streams_port_find(f->st, "default", "sales.eu", "orders", "events", &p,
                                           NULL),
                     DMP_OK);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metadata_and_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_validate_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscription_definitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_removes_port, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
