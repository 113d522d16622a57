/* test_core.c -- the core helpers of include/dmp/core.h that everything leans on: RFC 3339
 * times (with the per-thread seconds cache of dmp_time_format), JSON string escaping,
 * UUIDv7 ordering, and held log lines (dmp_log_hold / dmp_log_flush) read back from a
 * temporary file standing in for stderr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "dmp/core.h"

/* ---- dmp_time_format / dmp_time_parse */

/* The same text produced the slow way, as a reference for the cached formatter. */
static void ref_format(int64_t ms, char out[32])
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int frac = (int)(ms - secs * 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    char tmp[96]; /* room for any int values, so the compiler sees no truncation */
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    snprintf(out, 32, "%.31s", tmp);
}

static void check_format(int64_t ms, const char *want)
{
    char out[32];
    memset(out, 'x', sizeof(out));
    dmp_time_format(ms, out);
    assert_int_equal(strlen(out), 24);
    assert_string_equal(out, want);
}

static void test_time_format_known(void **state)
{
    check_format(0, "1970-01-01T00:00:00.000Z");
    check_format(951782400123LL, "2000-02-29T00:00:00.123Z");
    check_format(4102444799999LL, "2099-12-31T23:59:59.999Z");
    check_format(1, "1970-01-01T00:00:00.001Z");
    check_format(59999, "1970-01-01T00:00:59.999Z");
    check_format(1709164800000LL, "2024-02-29T00:00:00.000Z");
    /* before 1970 the milliseconds count forward from the floored second */
    check_format(-1, "1969-12-31T23:59:59.999Z");
    check_format(-999, "1969-12-31T23:59:59.001Z");
    check_format(-1000, "1969-12-31T23:59:59.000Z");
    check_format(-1001, "1969-12-31T23:59:58.999Z");
    check_format(-86400000LL, "1969-12-31T00:00:00.000Z");
}

/* The seconds part is cached per thread: moving within a second, across a boundary and
 * back, and through a negative instant must still give exact text every time. */
static void test_time_format_cache(void **state)
{
    check_format(1000, "1970-01-01T00:00:01.000Z");
    check_format(1999, "1970-01-01T00:00:01.999Z");
    check_format(2000, "1970-01-01T00:00:02.000Z");
    check_format(1500, "1970-01-01T00:00:01.500Z");
    check_format(1501, "1970-01-01T00:00:01.501Z");
    check_format(-500, "1969-12-31T23:59:59.500Z");
    check_format(1502, "1970-01-01T00:00:01.502Z");
    check_format(-1, "1969-12-31T23:59:59.999Z");
    check_format(-1, "1969-12-31T23:59:59.999Z");
    check_format(999, "1970-01-01T00:00:00.999Z");
    check_format(4102444799000LL, "2099-12-31T23:59:59.000Z");
    check_format(4102444799999LL, "2099-12-31T23:59:59.999Z");
    check_format(4102444800000LL, "2100-01-01T00:00:00.000Z");
    check_format(4102444799500LL, "2099-12-31T23:59:59.500Z");
    /* same seconds value after a different date must not reuse a stale date */
    check_format(86401000LL, "1970-01-02T00:00:01.000Z");
    check_format(1000, "1970-01-01T00:00:01.000Z");
    /* negative instants in different seconds, one after the other */
    check_format(-1001, "1969-12-31T23:59:58.999Z");
    check_format(-1, "1969-12-31T23:59:59.999Z");
    check_format(-2001, "1969-12-31T23:59:57.999Z");
    check_format(-1500, "1969-12-31T23:59:58.500Z");
}

/* A thread's first call finds an empty cache of its own, whatever the instant. */
static void *fresh_thread(void *arg)
{
    char *out = arg;
    dmp_time_format(1200, out); /* the same second the main thread formatted last */
    dmp_time_format(-1, out + 32);
    dmp_time_format(0, out + 64);
    dmp_time_format(5000, out + 96);
    return NULL;
}

static void test_time_format_fresh_thread(void **state)
{
    char before[32];
    dmp_time_format(1500, before);
    char out[128];
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fresh_thread, out), 0);
    pthread_join(t, NULL);
    assert_string_equal(out, "1970-01-01T00:00:01.200Z");
    assert_string_equal(out + 32, "1969-12-31T23:59:59.999Z");
    assert_string_equal(out + 64, "1970-01-01T00:00:00.000Z");
    assert_string_equal(out + 96, "1970-01-01T00:00:05.000Z");
    /* the other thread did not disturb this one's cache */
    check_format(1501, "1970-01-01T00:00:01.501Z");
    check_format(5001, "1970-01-01T00:00:05.001Z");
    check_format(1502, "1970-01-01T00:00:01.502Z");
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

/* Pseudo-random instants from 1970 to 2100: the text matches the slow reference and
 * parses back to the same instant. Every other step is a small move from the previous
 * instant so the cached seconds are both hit and missed. */
static void test_time_roundtrip(void **state)
{
    const int64_t span = 4102444800000LL; /* 2100-01-01 */
    int64_t ms = 0;
    for (int i = 0; i < 4000; i++) {
        if (i % 2 == 0)
            ms = (int64_t)(rng_next() % (uint64_t)span);
        else
            ms += (int64_t)(rng_next() % 2500) - 1000;
        if (ms < 0)
            ms = 0;
        char out[32], want[32];
        dmp_time_format(ms, out);
        ref_format(ms, want);
        assert_string_equal(out, want);
        int64_t back = -1;
        assert_int_equal(dmp_time_parse(out, &back), DMP_OK);
        assert_int_equal(back, ms);
    }
}

static void test_time_parse(void **state)
{
    int64_t ms = 0;
    assert_int_equal(dmp_time_parse("2000-02-29T00:00:00.123Z", &ms), DMP_OK);
    assert_int_equal(ms, 951782400123LL);
    assert_int_equal(dmp_time_parse("2000-02-29T01:00:00+01:00", &ms), DMP_OK);
    assert_int_equal(ms, 951782400000LL);
    assert_int_equal(dmp_time_parse("1970-01-01T00:00:00.5Z", &ms), DMP_OK);
    assert_int_equal(ms, 500);
    assert_int_equal(dmp_time_parse("2000-13-01T00:00:00Z", &ms), DMP_INVALID);
    assert_int_equal(dmp_time_parse("2000-01-01T00:00:00", &ms), DMP_INVALID);
    assert_int_equal(dmp_time_parse("2000-01-01T00:00:00.Z", &ms), DMP_INVALID);
    assert_int_equal(dmp_time_parse("2000-01-01T00:00:00Zjunk", &ms), DMP_INVALID);
    assert_int_equal(dmp_time_parse("", &ms), DMP_INVALID);
}

/* ---- dmp_buf_json_str */

/* Escapes s[0, n), checks the text against 'want' (when given), then decodes it with
 * jansson and compares the bytes with the input. */
static void check_json_str(const char *s, size_t n, const char *want)
{
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_buf_puts(&b, "[");
    size_t start = b.len;
    dmp_buf_json_str(&b, s, n);
    char *lit = dmp_strndup(b.data + start, b.len - start);
    dmp_buf_puts(&b, "]");
    if (want != NULL)
        assert_string_equal(lit, want);
    assert_int_equal(strlen(b.data), b.len); /* no raw NUL in the output */
    json_error_t jerr;
    json_t *arr = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &jerr);
    if (arr == NULL)
        fail_msg("jansson refused %s: %s", b.data, jerr.text);
    json_t *str = json_array_get(arr, 0);
    assert_non_null(str);
    assert_true(json_is_string(str));
    assert_int_equal(json_string_length(str), n);
    assert_memory_equal(json_string_value(str), s, n);
    /* the same literal decodes on its own too */
    json_t *alone = json_loadb(lit, strlen(lit), JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    assert_non_null(alone);
    assert_int_equal(json_string_length(alone), n);
    assert_memory_equal(json_string_value(alone), s, n);
    json_decref(alone);
    json_decref(arr);
    dmp_free(lit);
    dmp_buf_free(&b);
}

static void test_json_str(void **state)
{
    check_json_str("", 0, "\"\"");
    check_json_str("plain", 5, "\"plain\"");
    check_json_str("a\"b", 3, "\"a\\\"b\"");
    check_json_str("a\\b", 3, "\"a\\\\b\"");
    check_json_str("\n\r\t", 3, "\"\\n\\r\\t\"");
    check_json_str("\x01\x1f\b\f", 4, "\"\\u0001\\u001f\\u0008\\u000c\"");
    check_json_str("x\x7fy", 3, "\"x\x7fy\"");
    check_json_str("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
                   "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    check_json_str("a\0b", 3, "\"a\\u0000b\"");
    check_json_str("\0", 1, "\"\\u0000\"");
    /* only n bytes are read: what follows is not part of the string */
    check_json_str("abcdef", 3, "\"abc\"");
    check_json_str("/path?q=\"x\"\\\n", 13, "\"/path?q=\\\"x\\\"\\\\\\n\"");
    /* appending to a buffer that already holds text keeps that text */
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_buf_puts(&b, "k=");
    dmp_buf_json_str(&b, "v\n", 2);
    assert_string_equal(b.data, "k=\"v\\n\"");
    assert_int_equal(b.len, 7);
    dmp_buf_free(&b);
}

/* Every byte value 0x01..0x7f once, plus long runs, survive the round trip. */
static void test_json_str_all_bytes(void **state)
{
    char s[300];
    size_t n = 0;
    for (int c = 0; c < 0x80; c++)
        s[n++] = (char)c;
    for (int i = 0; i < 150; i++)
        s[n++] = (char)(i % 3 == 0 ? '"' : 'a' + i % 26);
    check_json_str(s, n, NULL);
    char big[5000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i % 97 == 0 ? '\\' : i % 89 == 0 ? '\n' : 'A' + i % 26);
    check_json_str(big, sizeof(big), NULL);
}

/* ---- dmp_uuid_v7 */

static int is_hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void check_uuid_shape(const char *u)
{
    assert_int_equal(strlen(u), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(u[i], '-');
        else if (!is_hex_lower(u[i]))
            fail_msg("uuid %s: char %d is not a lower-case hex digit", u, i);
    }
    assert_int_equal(u[14], '7'); /* version */
    assert_non_null(strchr("89ab", u[19])); /* variant 10 */
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_uuid_v7(void **state)
{
    enum { N = 10000 };
    char(*ids)[37] = dmp_malloc(sizeof(*ids) * N);
    int64_t before = dmp_now_ms();
    for (int i = 0; i < N; i++) {
        memset(ids[i], 'x', sizeof(ids[i]));
        dmp_uuid_v7(ids[i]);
    }
    for (int i = 0; i < N; i++) {
        check_uuid_shape(ids[i]);
        if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
            fail_msg("uuid %d %s is not after %d %s", i, ids[i], i - 1, ids[i - 1]);
    }
    /* the timestamp is the 48-bit ms clock: the first id is not before the start */
    char hex[13];
    memcpy(hex, ids[0], 8);
    memcpy(hex + 8, ids[0] + 9, 4);
    hex[12] = '\0';
    int64_t ts = (int64_t)strtoull(hex, NULL, 16);
    assert_true(ts >= before);
    assert_true(ts <= dmp_now_ms() + 1000);
    /* unique, independently of the order check */
    char **sorted = dmp_malloc(sizeof(char *) * N);
    for (int i = 0; i < N; i++)
        sorted[i] = ids[i];
    qsort(sorted, N, sizeof(char *), cmp_str);
    for (int i = 1; i < N; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            fail_msg("uuid %s was given twice", sorted[i]);
    dmp_free(sorted);
    dmp_free(ids);
}

/* ---- dmp_log_hold / dmp_log_flush */

/* The whole temp file, as a NUL-terminated string (caller frees). */
static char *slurp(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    if (dmp_read_file(path, 1 << 20, &text, &len, NULL) != DMP_OK)
        return dmp_strdup("<unreadable>");
    return text;
}

/* Splits 'text' into lines; each must be a JSON object whose msg is msgs[i]. */
static void check_lines(const char *text, const char *const *msgs, int nmsgs)
{
    int i = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (nl == NULL)
            fail_msg("log text does not end with a line end: %s", p);
        if (i >= nmsgs)
            fail_msg("unexpected log line %d: %.*s", i, (int)(nl - p), p);
        json_error_t jerr;
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, &jerr);
        if (o == NULL)
            fail_msg("log line %d is not JSON (%s): %.*s", i, jerr.text, (int)(nl - p), p);
        assert_true(json_is_object(o));
        assert_string_equal(json_string_value(json_object_get(o, "msg")), msgs[i]);
        const char *t = json_string_value(json_object_get(o, "time"));
        assert_non_null(t);
        int64_t ms;
        assert_int_equal(dmp_time_parse(t, &ms), DMP_OK);
        json_decref(o);
        p = nl + 1;
        i++;
    }
    assert_int_equal(i, nmsgs);
}

static json_t *line_obj(const char *text, int idx)
{
    const char *p = text;
    for (int i = 0; i < idx; i++) {
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    const char *nl = strchr(p, '\n');
    assert_non_null(nl);
    json_t *o = json_loadb(p, (size_t)(nl - p), 0, NULL);
    assert_non_null(o);
    return o;
}

static void test_log_hold(void **state)
{
    char path[] = "/tmp/dmp-test-core-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);

    /* Nothing is asserted while stderr points at the file: snapshots first. */
    dmp_log_set_json(1);
    dmp_log_set_level(DMP_LOG_INFO);
    dmp_log_hold(1);
    dmp_log(DMP_LOG_INFO, "held one", "k", "v1", NULL);
    dmp_log(DMP_LOG_INFO, "held two", "k", "v2", "odd", "q\"b\\s\nl\x01", NULL);
    char *s_before = slurp(path);
    dmp_log_flush();
    char *s_flushed = slurp(path);
    dmp_log_flush(); /* nothing held: writes nothing */
    char *s_again = slurp(path);
    dmp_log(DMP_LOG_INFO, "held three", "n", "3", NULL);
    char *s_three = slurp(path);
    dmp_log(DMP_LOG_WARN, "warned", "n", "4", NULL);
    char *s_warned = slurp(path);
    dmp_log(DMP_LOG_INFO, "held five", NULL);
    dmp_log(DMP_LOG_DEBUG, "below the level", NULL);
    char *s_five = slurp(path);
    dmp_log_hold(0);
    char *s_unheld = slurp(path);
    dmp_log(DMP_LOG_INFO, "direct", "n", "6", NULL);
    char *s_direct = slurp(path);

    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    close(fd);
    unlink(path);

    static const char *const msgs[] = {"held one", "held two", "held three",
                                       "warned",   "held five", "direct"};
    assert_string_equal(s_before, "");
    check_lines(s_flushed, msgs, 2);
    assert_string_equal(s_again, s_flushed);
    assert_string_equal(s_three, s_flushed);
    check_lines(s_warned, msgs, 4);
    assert_string_equal(s_five, s_warned);
    check_lines(s_unheld, msgs, 5);
    check_lines(s_direct, msgs, 6);

    /* key/value pairs and levels */
    json_t *o = line_obj(s_direct, 0);
    assert_string_equal(json_string_value(json_object_get(o, "k")), "v1");
    assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
    json_decref(o);
    o = line_obj(s_direct, 1);
    assert_string_equal(json_string_value(json_object_get(o, "k")), "v2");
    assert_string_equal(json_string_value(json_object_get(o, "odd")), "q\"b\\s\nl\x01");
    json_decref(o);
    o = line_obj(s_direct, 3);
    assert_string_equal(json_string_value(json_object_get(o, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(o, "n")), "4");
    json_decref(o);
    o = line_obj(s_direct, 5);
    assert_string_equal(json_string_value(json_object_get(o, "n")), "6");
    json_decref(o);

    dmp_free(s_before);
    dmp_free(s_flushed);
    dmp_free(s_again);
    dmp_free(s_three);
    dmp_free(s_warned);
    dmp_free(s_five);
    dmp_free(s_unheld);
    dmp_free(s_direct);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_format_known),
        cmocka_unit_test(test_time_format_cache),
        cmocka_unit_test(test_time_format_fresh_thread),
        cmocka_unit_test(test_time_roundtrip),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_json_str),
        cmocka_unit_test(test_json_str_all_bytes),
        cmocka_unit_test(test_uuid_v7),
        cmocka_unit_test(test_log_hold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
