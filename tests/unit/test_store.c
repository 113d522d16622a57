/* test_store.c -- the SQLite state store: products, resources, kv, reopen, migrations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dmp/store.h"

static char *tmp_db(void)
{
    char tmpl[] = "/tmp/dmp-store-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    return dmp_asprintf("%s/state.db", dir);
}

/* Removes the directory holding 'path' (the database and its -wal/-shm files). */
static void rm_db(char *path)
{
    char *cmd = dmp_asprintf("rm -rf \"$(dirname '%s')\"", path);
    assert_int_equal(system(cmd), 0);
    dmp_free(cmd);
    dmp_free(path);
}

static const dmp_product_key_t key1 = {"test", "test_domain", "test_name", "1.0.1"};

static void test_product_roundtrip(void **state)
{
    char *path = tmp_db();
    dmp_store_t *st = NULL;
    dmp_error_t err = {0};
    dmp_product_rec_t rec;

    assert_int_equal(dmp_store_open(path, &st, &err), DMP_OK);
    assert_string_equal(st->ops->name, "sqlite");
    assert_int_equal(st->ops->product_get(st, &key1, &rec, &err), DMP_NOTFOUND);
    assert_non_null(strstr(err.msg, "test_name"));

    json_t *doc = json_pack("{s:s, s:[{s:s}]}", "name", "test_name", "outputPorts", "name", "p");
    assert_int_equal(st->ops->product_put(st, &key1, doc, DMP_STATE_CREATING, &err), DMP_OK);
    assert_int_equal(st->ops->product_get(st, &key1, &rec, &err), DMP_OK);
    assert_string_equal(rec.version, "1.0.1");
    assert_int_equal(rec.state, DMP_STATE_CREATING);
    assert_true(json_equal(rec.descriptor, doc));
    assert_true(rec.created_ms > 0);
    dmp_product_rec_fini(&rec);

    assert_int_equal(st->ops->product_set_state(st, &key1, DMP_STATE_CREATED, &err), DMP_OK);
    dmp_product_key_t other = {"test", "x", "y", "1.0.0"};
    assert_int_equal(st->ops->product_set_state(st, &other, DMP_STATE_CREATED, &err), DMP_NOTFOUND);
    assert_int_equal(st->ops->product_put(st, &other, doc, DMP_STATE_NONE, &err), DMP_OK);

    dmp_product_rec_t *v = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->product_list(st, NULL, NULL, NULL, &v, &n, &err), DMP_OK);
    assert_int_equal(n, 2);
    dmp_product_recs_free(v, n);
    assert_int_equal(st->ops->product_list(st, "test", "test_domain", NULL, &v, &n, &err), DMP_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].state, DMP_STATE_CREATED);
    dmp_product_recs_free(v, n);

    assert_int_equal(st->ops->product_delete(st, &other, &err), DMP_OK);
    assert_int_equal(st->ops->product_get(st, &other, &rec, &err), DMP_NOTFOUND);
    json_decref(doc);
    dmp_store_close(st);
    rm_db(path);
}

static void test_resources_keep_order_and_update(void **state)
{
    char *path = tmp_db();
    dmp_store_t *st = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_store_open(path, &st, &err), DMP_OK);
    const char *names[] = {"zeta", "alpha", "mid"};
    for (int i = 0; i < 3; i++) {
        dmp_resource_rec_t r = {.name = (char *)names[i],
                                .technology = "s3cdp",
                                .state = DMP_STATE_CREATING,
                                .operation = "create"};
        assert_int_equal(st->ops->resource_put(st, &key1, &r, &err), DMP_OK);
    }
    dmp_resource_rec_t upd = {.name = "zeta",
                              .technology = "s3cdp",
                              .state = DMP_STATE_FAILED,
                              .reason = "boom",
                              .operation = "create",
                              .deadline_ms = 42};
    assert_int_equal(st->ops->resource_put(st, &key1, &upd, &err), DMP_OK);

    dmp_resource_rec_t *v = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->resource_list(st, &key1, &v, &n, &err), DMP_OK);
    assert_int_equal(n, 3);
    assert_string_equal(v[0].name, "zeta");
    assert_string_equal(v[1].name, "alpha");
    assert_string_equal(v[2].name, "mid");
    assert_int_equal(v[0].state, DMP_STATE_FAILED);
    assert_string_equal(v[0].reason, "boom");
    assert_int_equal(v[0].deadline_ms, 42);
    assert_null(v[1].reason);
    dmp_resource_recs_free(v, n);

    /* Deleting the product deletes its resources. */
    json_t *doc = json_object();
    assert_int_equal(st->ops->product_put(st, &key1, doc, DMP_STATE_CREATED, &err), DMP_OK);
    assert_int_equal(st->ops->product_delete(st, &key1, &err), DMP_OK);
    assert_int_equal(st->ops->resource_list(st, &key1, &v, &n, &err), DMP_OK);
    assert_int_equal(n, 0);
    dmp_resource_recs_free(v, n);
    json_decref(doc);
    dmp_store_close(st);
    rm_db(path);
}

static void test_kv_and_reopen(void **state)
{
    char *path = tmp_db();
    char *url = dmp_asprintf("sqlite:%s", path);
    dmp_store_t *st = NULL;
    dmp_error_t err = {0};
    char *val = NULL;
    json_t *all = NULL;

    assert_int_equal(dmp_store_open(url, &st, &err), DMP_OK);
    assert_int_equal(st->ops->kv_put(st, "provisioner/*/s3cdp", "http://a", &err), DMP_OK);
    assert_int_equal(st->ops->kv_put(st, "provisioner/*/s3cdp", "http://b", &err), DMP_OK);
    assert_int_equal(st->ops->kv_put(st, "provisioner/test/x", "builtin:dmp-files", &err), DMP_OK);
    assert_int_equal(st->ops->kv_put(st, "other", "1", &err), DMP_OK);
    assert_int_equal(st->ops->kv_put(st, "", "1", &err), DMP_INVALID);
    json_t *doc = json_pack("{s:s}", "a", "b");
    assert_int_equal(st->ops->product_put(st, &key1, doc, DMP_STATE_DELETING, &err), DMP_OK);
    dmp_store_close(st);

    /* Everything survives a reopen (the schema migration does not run twice). */
    assert_int_equal(dmp_store_open(path, &st, &err), DMP_OK);
    assert_int_equal(st->ops->kv_get(st, "provisioner/*/s3cdp", &val, &err), DMP_OK);
    assert_string_equal(val, "http://b");
    dmp_free(val);
    assert_int_equal(st->ops->kv_get(st, "missing", &val, &err), DMP_NOTFOUND);
    assert_int_equal(st->ops->kv_list(st, "provisioner/", &all, &err), DMP_OK);
    assert_int_equal(json_object_size(all), 2);
    assert_string_equal(json_string_value(json_object_get(all, "provisioner/test/x")),
                        "builtin:dmp-files");
    json_decref(all);
    assert_int_equal(st->ops->kv_put(st, "provisioner/test/x", NULL, &err), DMP_OK);
    assert_int_equal(st->ops->kv_list(st, "provisioner/", &all, &err), DMP_OK);
    assert_int_equal(json_object_size(all), 1);
    json_decref(all);
    dmp_product_rec_t rec;
    assert_int_equal(st->ops->product_get(st, &key1, &rec, &err), DMP_OK);
    assert_int_equal(rec.state, DMP_STATE_DELETING);
    dmp_product_rec_fini(&rec);
    dmp_store_close(st);
    json_decref(doc);
    dmp_free(url);
    rm_db(path);
}

static void test_open_errors(void **state)
{
    dmp_store_t *st = (dmp_store_t *)1;
    dmp_error_t err = {0};
    assert_int_equal(dmp_store_open("", &st, &err), DMP_INVALID);
    assert_null(st);
    assert_int_equal(dmp_store_open("/nonexistent-dir-dmp/x/state.db", &st, &err), DMP_IO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir-dmp/x/state.db"));
    assert_int_equal(dmp_store_open("postgres://localhost/dmp", &st, &err), DMP_UNSUPPORTED);
    dmp_product_key_t bad = {"e", NULL, "n", "1"};
    char *path = tmp_db();
    assert_int_equal(dmp_store_open(path, &st, &err), DMP_OK);
    assert_int_equal(st->ops->product_put(st, &bad, NULL, DMP_STATE_NONE, &err), DMP_INVALID);
    dmp_store_close(st);
    rm_db(path);
    dmp_store_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_product_roundtrip),
        cmocka_unit_test(test_resources_keep_order_and_update),
        cmocka_unit_test(test_kv_and_reopen),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
