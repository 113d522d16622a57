/* test_channel.c -- the channel interface: names from the domain hierarchy and visibility,
 * and the embedded-log backend behind the function table (append, de-dup, read, time
 * seek, reopen, destroy, unsafe names). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dmp/channel.h"

static void test_name_from_urn(void **state)
{
    char out[DMP_CHANNEL_NAME_MAX + 1];
    assert_int_equal(dmp_channel_name("urn:london:hammersmith:olympia:bigdatalondon",
                                      "london.hammersmith.olympia", "bigdatalondon", "public",
                                      "attendee", out, NULL),
                     DMP_OK);
    assert_string_equal(out, "london.hammersmith.olympia.bigdatalondon._public.attendee");
}

static void test_name_from_domain_when_default_urn(void **state)
{
    char out[DMP_CHANNEL_NAME_MAX + 1];
    assert_int_equal(dmp_channel_name("urn:dmp:sales.eu:orders:1", "sales.eu", "orders",
                                      "private", "order events", out, NULL),
                     DMP_OK);
    assert_string_equal(out, "sales.eu.orders._private.order_events");
}

static void test_name_rejects_bad_parts(void **state)
{
    char out[DMP_CHANNEL_NAME_MAX + 1];
    dmp_error_t err = {0};
    assert_int_equal(dmp_channel_name(NULL, "a", "b", "secret", "p", out, &err), DMP_INVALID);
    assert_non_null(strstr(err.msg, "secret"));
    assert_int_equal(dmp_channel_name(NULL, "", "b", "public", "p", out, NULL), DMP_INVALID);
    assert_int_equal(dmp_channel_name(NULL, "a", "b", "public", "", out, NULL), DMP_INVALID);
    char longname[400];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(dmp_channel_name(NULL, "a", longname, "public", "p", out, NULL),
                     DMP_INVALID);
}

typedef struct seen {
    uint64_t offsets[64];
    char payloads[64][32];
    size_t n;
} seen_t;

static int on_rec(void *ud, const dmp_channel_rec_t *rec)
{
    seen_t *s = ud;
    s->offsets[s->n] = rec->offset;
    snprintf(s->payloads[s->n], sizeof(s->payloads[0]), "%.*s", (int)rec->len,
             (const char *)rec->payload);
    s->n++;
    return 0;
}

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/dmp-chan-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return dmp_strdup(d);
}

static void rm_rf(const char *dir)
{
    char *cmd = dmp_asprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    dmp_free(cmd);
}

static void test_log_backend_roundtrip(void **state)
{
    char *root = tmpdir();
    dmp_channel_backend_t *be = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_channel_backend_log_new(root, &be, &err), DMP_OK);
    dmp_channel_t *ch = NULL;
    assert_int_equal(dmp_channel_open(be, "default", "a._public.p", NULL, &ch, &err), DMP_OK);
    dmp_channel_msg_t msgs[3] = {
        {"{\"n\":1}", 7, 1000, "/s", "1"},
        {"{\"n\":2}", 7, 0, "/s", "2"},
        {"{\"n\":3}", 7, 0, NULL, NULL},
    };
    dmp_channel_result_t res[3];
    assert_int_equal(dmp_channel_append(ch, msgs, 3, res, &err), DMP_OK);
    assert_int_equal(res[0].offset, 1);
    assert_int_equal(res[2].offset, 3);
    /* A retried source+id is acknowledged with its first offset, not appended. */
    assert_int_equal(dmp_channel_append(ch, &msgs[1], 1, res, &err), DMP_OK);
    assert_int_equal(res[0].duplicate, 1);
    assert_int_equal(res[0].offset, 2);
    seen_t s = {0};
    uint64_t next = 0;
    assert_int_equal(dmp_channel_read(ch, 2, 0, 0, on_rec, &s, &next, &err), DMP_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.offsets[0], 2);
    assert_string_equal(s.payloads[1], "{\"n\":3}");
    assert_int_equal(next, 4);
    uint64_t off = 0;
    assert_int_equal(dmp_channel_seek_time(ch, 0, &off, &err), DMP_OK);
    assert_int_equal(off, 1);
    assert_int_equal(dmp_channel_wait(ch, 3, 10), DMP_TIMEOUT);
    assert_int_equal(dmp_channel_wait(ch, 2, 10), DMP_OK);
    dmp_channel_stats_t st;
    dmp_channel_stats(ch, &st);
    assert_int_equal(st.next_offset, 4);
    assert_int_equal(st.duplicates, 1);
    /* Destroy refuses an open channel; close, reopen keeps the data, then destroy. */
    assert_int_not_equal(dmp_channel_destroy(be, "default", "a._public.p", &err), DMP_OK);
    dmp_channel_close(ch);
    assert_int_equal(dmp_channel_open(be, "default", "a._public.p", NULL, &ch, &err), DMP_OK);
    dmp_channel_stats(ch, &st);
    assert_int_equal(st.next_offset, 4);
    dmp_channel_close(ch);
    assert_int_equal(dmp_channel_destroy(be, "default", "a._public.p", &err), DMP_OK);
    assert_int_equal(dmp_channel_destroy(be, "default", "a._public.p", &err), DMP_NOTFOUND);
    dmp_channel_backend_free(be);
    rm_rf(root);
    dmp_free(root);
}

static void test_log_backend_refuses_unsafe_names(void **state)
{
    char *root = tmpdir();
    dmp_channel_backend_t *be = NULL;
    assert_int_equal(dmp_channel_backend_log_new(root, &be, NULL), DMP_OK);
    dmp_channel_t *ch = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_channel_open(be, "default", "../x", NULL, &ch, &err), DMP_INVALID);
    assert_null(ch);
    assert_int_equal(dmp_channel_open(be, "..", "x", NULL, &ch, &err), DMP_INVALID);
    assert_int_equal(dmp_channel_open(be, "", "x", NULL, &ch, &err), DMP_INVALID);
    dmp_channel_backend_free(be);
    rm_rf(root);
    dmp_free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_from_urn),
        cmocka_unit_test(test_name_from_domain_when_default_urn),
        cmocka_unit_test(test_name_rejects_bad_parts),
        cmocka_unit_test(test_log_backend_roundtrip),
        cmocka_unit_test(test_log_backend_refuses_unsafe_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
