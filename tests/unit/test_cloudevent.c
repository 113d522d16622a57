/* test_cloudevent.c -- the CloudEvents envelope codec: structured, batch, NDJSON and
 * binary mode, the plain-data constructor, round-trips and every rejection rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "dmp/events.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static dmp_cloudevent_t *parse_ok(const char *s)
{
    dmp_error_t err = {0};
    dmp_cloudevent_t *ev = NULL;
    int rc = dmp_cloudevent_parse(s, strlen(s), NULL, &ev, &err);
    if (rc != DMP_OK)
        fail_msg("parse failed: %s", err.msg);
    return ev;
}

/* Expects a rejection with 'code' whose message contains 'needle' and whose path is
 * 'path' (NULL: not checked). */
static void parse_bad(const char *s, int code, const char *needle, const char *path)
{
    dmp_error_t err = {0};
    dmp_cloudevent_t *ev = NULL;
    int rc = dmp_cloudevent_parse(s, strlen(s), NULL, &ev, &err);
    assert_null(ev);
    if (rc != code)
        fail_msg("for %s: expected %s, got %s (%s)", s, dmp_errname(code), dmp_errname(rc),
                 err.msg);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("for %s: message '%s' lacks '%s'", s, err.msg, needle);
    if (path)
        assert_string_equal(err.path, path);
}

#define MIN "\"specversion\":\"1.0\",\"id\":\"e1\",\"source\":\"urn:dmp:x\",\"type\":\"t\""

static void test_structured_roundtrip(void **state)
{
    const char *in = "{\"type\":\"com.example.created\",\"specversion\":\"1.0\","
                     "\"source\":\"urn:dmp:shop:orders\",\"id\":\"A-1\",\"subject\":\"o/1\","
                     "\"time\":\"2024-01-02T03:04:05.678Z\",\"datacontenttype\":"
                     "\"application/json\",\"zeta\":\"z\",\"count\":7,\"flag\":true,"
                     "\"data\": {\"b\": [1, 2.50, \"x\"],  \"a\": null}}";
    dmp_cloudevent_t *ev = parse_ok(in);
    assert_string_equal(ev->id, "A-1");
    assert_string_equal(ev->subject, "o/1");
    assert_int_equal(ev->data_kind, DMP_CE_DATA_JSON);
    /* data kept byte for byte, not re-encoded */
    assert_string_equal(ev->data, "{\"b\": [1, 2.50, \"x\"],  \"a\": null}");
    dmp_ce_value_t v;
    assert_int_equal(dmp_cloudevent_get(ev, "count", &v), 1);
    assert_int_equal(v.type, DMP_CE_INTEGER);
    assert_int_equal(v.num, 7);
    assert_int_equal(dmp_cloudevent_get(ev, "flag", &v), 1);
    assert_int_equal(v.type, DMP_CE_BOOLEAN);
    assert_int_equal(dmp_cloudevent_get(ev, "dataschema", &v), 0);

    dmp_buf_t out = DMP_BUF_INIT;
    dmp_cloudevent_to_json(ev, NULL, 0, &out);
    assert_string_equal(out.data,
                        "{\"specversion\":\"1.0\",\"id\":\"A-1\",\"source\":"
                        "\"urn:dmp:shop:orders\",\"type\":\"com.example.created\","
                        "\"datacontenttype\":\"application/json\",\"subject\":\"o/1\","
                        "\"time\":\"2024-01-02T03:04:05.678Z\",\"count\":7,\"flag\":true,"
                        "\"zeta\":\"z\",\"data\":{\"b\": [1, 2.50, \"x\"],  \"a\": null}}");
    /* the output parses back to the same output */
    dmp_cloudevent_t *ev2 = parse_ok(out.data);
    dmp_buf_t out2 = DMP_BUF_INIT;
    dmp_cloudevent_to_json(ev2, NULL, 0, &out2);
    assert_string_equal(out.data, out2.data);
    dmp_buf_free(&out);
    dmp_buf_free(&out2);
    dmp_cloudevent_free(ev);
    dmp_cloudevent_free(ev2);
}

static void test_platform_extensions(void **state)
{
    dmp_cloudevent_t *ev = parse_ok("{" MIN ",\"dmpoffset\":\"old\",\"abc\":\"1\"}");
    dmp_ce_attr_t extra[2] = {{"dmpoffset", DMP_CE_INTEGER, "42", 42},
                              {"dmptime", DMP_CE_TIMESTAMP, "2024-01-01T00:00:00.000Z", 0}};
    dmp_buf_t out = DMP_BUF_INIT;
    dmp_cloudevent_to_json(ev, extra, 2, &out);
    assert_string_equal(out.data, "{" MIN ",\"abc\":\"1\",\"dmpoffset\":42,"
                                  "\"dmptime\":\"2024-01-01T00:00:00.000Z\"}");
    dmp_buf_free(&out);
    /* a 64-bit offset stays whole */
    dmp_error_t err = {0};
    assert_int_equal(dmp_cloudevent_set_ext_int(ev, "dmpoffset", 5000000000LL, &err), DMP_OK);
    dmp_cloudevent_to_json(ev, NULL, 0, &out);
    assert_non_null(strstr(out.data, "\"dmpoffset\":5000000000"));
    dmp_buf_free(&out);
    dmp_cloudevent_free(ev);
}

static void test_data_base64(void **state)
{
    dmp_cloudevent_t *ev =
        parse_ok("{" MIN ",\"datacontenttype\":\"application/octet-stream\","
                 "\"data_base64\":\"AAEC/w==\"}");
    assert_int_equal(ev->data_kind, DMP_CE_DATA_BINARY);
    assert_int_equal(ev->data_len, 4);
    assert_memory_equal(ev->data, "\x00\x01\x02\xff", 4);
    dmp_buf_t out = DMP_BUF_INIT;
    dmp_cloudevent_to_json(ev, NULL, 0, &out);
    assert_non_null(strstr(out.data, "\"data_base64\":\"AAEC/w==\""));
    dmp_buf_free(&out);
    dmp_cloudevent_free(ev);
}

static void test_rejections(void **state)
{
    parse_bad("{\"specversion\":\"0.3\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\"}",
              DMP_INVALID, "'specversion' must be \"1.0\"", "specversion");
    parse_bad("{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\"}", DMP_INVALID,
              "required attribute 'id' is missing", "id");
    parse_bad("{\"specversion\":\"1.0\",\"id\":\"1\",\"type\":\"t\"}", DMP_INVALID,
              "'source' is missing", "source");
    parse_bad("{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\"}", DMP_INVALID,
              "'type' is missing", "type");
    parse_bad("{\"id\":\"1\",\"source\":\"s\",\"type\":\"t\"}", DMP_INVALID,
              "'specversion' is missing", "specversion");
    parse_bad("{\"specversion\":\"1.0\",\"id\":\"\",\"source\":\"s\",\"type\":\"t\"}",
              DMP_INVALID, "'id' must not be empty", "id");
    parse_bad("{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"\",\"type\":\"t\"}",
              DMP_INVALID, "'source' must not be empty", "source");
    parse_bad("{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"\"}",
              DMP_INVALID, "'type' must not be empty", "type");
    parse_bad("{\"specversion\":\"1.0\",\"id\":7,\"source\":\"s\",\"type\":\"t\"}", DMP_INVALID,
              "'id' must be a string", "id");
    parse_bad("{" MIN ",\"Bad\":\"x\"}", DMP_INVALID, "naming rules", "Bad");
    parse_bad("{" MIN ",\"with_underscore\":\"x\"}", DMP_INVALID, "naming rules", NULL);
    parse_bad("{" MIN ",\"abcdefghijklmnopqrstu\":\"x\"}", DMP_INVALID, "naming rules", NULL);
    parse_bad("{" MIN ",\"time\":\"yesterday\"}", DMP_INVALID, "RFC 3339", "time");
    parse_bad("{" MIN ",\"time\":\"2024-01-02 03:04\"}", DMP_INVALID, "RFC 3339", "time");
    parse_bad("{" MIN ",\"data\":1,\"data_base64\":\"AA==\"}", DMP_INVALID,
              "mutually exclusive", "data_base64");
    parse_bad("{" MIN ",\"data_base64\":\"not base64!\"}", DMP_INVALID, "base64", NULL);
    parse_bad("{" MIN ",\"ext\":1.5}", DMP_INVALID, "real number", "ext");
    parse_bad("{" MIN ",\"ext\":{\"a\":1}}", DMP_INVALID, "object", "ext");
    parse_bad("{" MIN ",\"ext\":4294967296}", DMP_INVALID, "32-bit", "ext");
    parse_bad("{" MIN ",\"dataschema\":\"no scheme\"}", DMP_INVALID, "absolute URI",
              "dataschema");
    parse_bad("{" MIN ",\"datacontenttype\":\"json\"}", DMP_INVALID, "media type", NULL);
    parse_bad("{" MIN ",\"id\":\"dup\"}", DMP_PARSE, "duplicate", NULL);
    parse_bad("[1]", DMP_INVALID, "JSON object", NULL);
    parse_bad("{\"specversion\":", DMP_PARSE, "not valid JSON", NULL);
    parse_bad("", DMP_PARSE, "not valid JSON", NULL);
    /* nesting far below jansson's own limit is refused */
    char deep[400];
    size_t k = (size_t)snprintf(deep, sizeof(deep), "{" MIN ",\"data\":");
    for (int i = 0; i < 100; i++)
        deep[k++] = '[';
    for (int i = 0; i < 100; i++)
        deep[k++] = ']';
    deep[k++] = '}';
    deep[k] = '\0';
    parse_bad(deep, DMP_LIMIT, "deeper", NULL);
}

static void test_size_limits(void **state)
{
    dmp_ce_limits_t lim = {0};
    dmp_error_t err = {0};
    dmp_cloudevent_t *ev = NULL;
    const char *s = "{" MIN ",\"data\":\"0123456789\"}";
    lim.max_event_bytes = 20;
    assert_int_equal(dmp_cloudevent_parse(s, strlen(s), &lim, &ev, &err), DMP_LIMIT);
    assert_non_null(strstr(err.msg, "over the limit"));
    lim.max_event_bytes = 0;
    lim.max_attr_bytes = 10;
    s = "{" MIN ",\"subject\":\"long subject\"}";
    assert_int_equal(dmp_cloudevent_parse(s, strlen(s), &lim, &ev, &err), DMP_LIMIT);
    assert_string_equal(err.path, "subject");
    lim.max_attr_bytes = 0;
    lim.max_extensions = 2;
    s = "{" MIN ",\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}";
    assert_int_equal(dmp_cloudevent_parse(s, strlen(s), &lim, &ev, &err), DMP_LIMIT);
    assert_null(ev);
}

static void test_batch_mixed(void **state)
{
    const char *s = "[{" MIN "}, {\"specversion\":\"1.0\",\"id\":\"2\",\"source\":\"s\"},"
                    " {" MIN ",\"time\":\"bad\"}, {" MIN ",\"data\":[1,2]}, 42, {" MIN
                    ",\"x\":tru}]";
    dmp_ce_batch_t b;
    dmp_error_t err = {0};
    assert_int_equal(dmp_ce_parse_batch(s, strlen(s), NULL, &b, &err), DMP_OK);
    assert_int_equal(b.n, 6);
    assert_int_equal(b.n_ok, 2);
    assert_non_null(b.items[0].ev);
    assert_null(b.items[1].ev);
    assert_string_equal(b.items[1].err.path, "[1].type");
    assert_non_null(strstr(b.items[1].err.msg, "event 1: required attribute 'type'"));
    assert_null(b.items[2].ev);
    assert_string_equal(b.items[2].err.path, "[2].time");
    assert_non_null(b.items[3].ev);
    assert_string_equal(b.items[3].ev->data, "[1,2]");
    assert_null(b.items[4].ev);
    assert_non_null(strstr(b.items[4].err.msg, "event 4: "));
    assert_null(b.items[5].ev);
    assert_int_equal(b.items[5].err.code, DMP_PARSE);
    dmp_ce_batch_fini(&b);

    assert_int_equal(dmp_ce_parse_batch("[]", 2, NULL, &b, &err), DMP_OK);
    assert_int_equal(b.n, 0);
    assert_int_equal(dmp_ce_parse_batch("{}", 2, NULL, &b, &err), DMP_PARSE);
    assert_int_equal(dmp_ce_parse_batch("[{\"a\":1}", 8, NULL, &b, &err), DMP_PARSE);
    assert_int_equal(dmp_ce_parse_batch("[1,]", 4, NULL, &b, &err), DMP_PARSE);
    assert_int_equal(dmp_ce_parse_batch("[1] x", 5, NULL, &b, &err), DMP_PARSE);
    assert_int_equal(b.n, 0);

    dmp_ce_limits_t lim = {0};
    lim.max_batch_events = 2;
    assert_int_equal(dmp_ce_parse_batch("[1,2,3]", 7, &lim, &b, &err), DMP_LIMIT);
    lim.max_batch_events = 0;
    lim.max_batch_bytes = 4;
    assert_int_equal(dmp_ce_parse_batch("[1,2,3]", 7, &lim, &b, &err), DMP_LIMIT);
}

static void test_ndjson(void **state)
{
    const char *s = "{" MIN "}\n\n  {\"specversion\":\"2.0\"}\r\n{" MIN ",\"subject\":\"x\"}";
    dmp_ce_batch_t b;
    dmp_error_t err = {0};
    assert_int_equal(dmp_ce_parse_ndjson(s, strlen(s), NULL, &b, &err), DMP_OK);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.n_ok, 2);
    assert_non_null(strstr(b.items[1].err.msg, "event 1: "));
    assert_string_equal(b.items[2].ev->subject, "x");

    const dmp_cloudevent_t *evs[2] = {b.items[0].ev, b.items[2].ev};
    dmp_buf_t out = DMP_BUF_INIT;
    dmp_cloudevents_to_ndjson(evs, 2, &out);
    assert_string_equal(out.data, "{" MIN "}\n{" MIN ",\"subject\":\"x\"}\n");
    dmp_buf_reset(&out);
    dmp_cloudevents_to_json_array(evs, 2, &out);
    assert_string_equal(out.data, "[{" MIN "},{" MIN ",\"subject\":\"x\"}]");
    /* and the array reads back as a batch */
    dmp_ce_batch_t b2;
    assert_int_equal(dmp_ce_parse_batch(out.data, out.len, NULL, &b2, &err), DMP_OK);
    assert_int_equal(b2.n_ok, 2);
    dmp_ce_batch_fini(&b2);
    dmp_buf_free(&out);
    dmp_ce_batch_fini(&b);
}

static void test_binary_mode(void **state)
{
    dmp_ce_header_t h[] = {
        {"CE-SpecVersion", "1.0"},
        {"ce-id", "b-1"},
        {"ce-source", "urn:dmp:x"},
        {"ce-type", "com.example.t"},
        {"ce-subject", "hello%20world%20%22quoted%22%20%C3%A9"},
        {"ce-myext", " padded "},
        {"Content-Type", "application/json; charset=utf-8"},
        {"Host", "ignored"},
    };
    const char *body = "{\"n\": 1}";
    dmp_cloudevent_t *ev = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_cloudevent_from_binary(h, 8, body, strlen(body), NULL, &ev, &err),
                     DMP_OK);
    assert_string_equal(ev->subject, "hello world \"quoted\" \xc3\xa9");
    assert_string_equal(ev->datacontenttype, "application/json; charset=utf-8");
    assert_int_equal(ev->data_kind, DMP_CE_DATA_JSON);
    assert_string_equal(ev->data, body);
    dmp_ce_value_t v;
    assert_int_equal(dmp_cloudevent_get(ev, "myext", &v), 1);
    assert_string_equal(v.text, "padded");

    /* back to headers: the subject is percent-encoded again */
    dmp_buf_t hdr = DMP_BUF_INIT;
    dmp_cloudevent_to_binary(ev, &hdr);
    assert_non_null(strstr(hdr.data, "ce-subject: hello%20world%20%22quoted%22%20%C3%A9\r\n"));
    assert_non_null(strstr(hdr.data, "Content-Type: application/json; charset=utf-8\r\n"));
    dmp_buf_free(&hdr);
    dmp_cloudevent_free(ev);

    /* a non-JSON body is kept as bytes and written as data_base64 */
    dmp_ce_header_t h2[] = {{"ce-specversion", "1.0"}, {"ce-id", "2"}, {"ce-source", "s"},
                            {"ce-type", "t"}, {"content-type", "text/plain"}};
    assert_int_equal(dmp_cloudevent_from_binary(h2, 5, "hi", 2, NULL, &ev, &err), DMP_OK);
    assert_int_equal(ev->data_kind, DMP_CE_DATA_BINARY);
    dmp_cloudevent_free(ev);
}

static void binary_bad(const dmp_ce_header_t *h, size_t n, const char *body, int code,
                       const char *needle)
{
    dmp_cloudevent_t *ev = NULL;
    dmp_error_t err = {0};
    int rc = dmp_cloudevent_from_binary(h, n, body, body ? strlen(body) : 0, NULL, &ev, &err);
    assert_null(ev);
    if (rc != code || strstr(err.msg, needle) == NULL)
        fail_msg("expected %s '%s', got %s '%s'", dmp_errname(code), needle, dmp_errname(rc),
                 err.msg);
}

static void test_binary_rejections(void **state)
{
    dmp_ce_header_t nospec[] = {{"ce-id", "1"}, {"ce-source", "s"}, {"ce-type", "t"}};
    binary_bad(nospec, 3, NULL, DMP_INVALID, "'specversion' is missing");
    dmp_ce_header_t badspec[] = {{"ce-specversion", "0.3"}, {"ce-id", "1"}, {"ce-source", "s"},
                                 {"ce-type", "t"}};
    binary_bad(badspec, 4, NULL, DMP_INVALID, "must be \"1.0\"");
    dmp_ce_header_t noid[] = {{"ce-specversion", "1.0"}, {"ce-source", "s"}, {"ce-type", "t"}};
    binary_bad(noid, 3, NULL, DMP_INVALID, "'id' is missing");
    dmp_ce_header_t badname[] = {{"ce-specversion", "1.0"}, {"ce-id", "1"}, {"ce-source", "s"},
                                 {"ce-type", "t"}, {"ce-my_ext", "x"}};
    binary_bad(badname, 5, NULL, DMP_INVALID, "naming rules");
    dmp_ce_header_t reserved[] = {{"ce-specversion", "1.0"}, {"ce-id", "1"}, {"ce-source", "s"},
                                  {"ce-type", "t"}, {"ce-data", "x"}};
    binary_bad(reserved, 5, NULL, DMP_INVALID, "reserved");
    dmp_ce_header_t badpct[] = {{"ce-specversion", "1.0"}, {"ce-id", "1%zz"}, {"ce-source", "s"},
                                {"ce-type", "t"}};
    binary_bad(badpct, 4, NULL, DMP_INVALID, "percent-encoding");
    dmp_ce_header_t dup[] = {{"ce-specversion", "1.0"}, {"ce-id", "1"}, {"ce-id", "2"},
                             {"ce-source", "s"}, {"ce-type", "t"}};
    binary_bad(dup, 5, NULL, DMP_INVALID, "more than once");
    dmp_ce_header_t json[] = {{"ce-specversion", "1.0"}, {"ce-id", "1"}, {"ce-source", "s"},
                              {"ce-type", "t"}, {"content-type", "application/json"}};
    binary_bad(json, 5, "{not json", DMP_PARSE, "not valid JSON");
    dmp_ce_header_t badtime[] = {{"ce-specversion", "1.0"}, {"ce-id", "1"}, {"ce-source", "s"},
                                 {"ce-type", "t"}, {"ce-time", "noon"}};
    binary_bad(badtime, 5, NULL, DMP_INVALID, "RFC 3339");
}

static void test_plain_data(void **state)
{
    dmp_cloudevent_t *ev = NULL;
    dmp_error_t err = {0};
    const char *d = "{\"order\": 1}";
    assert_int_equal(dmp_cloudevent_new_data(d, strlen(d), "urn:dmp:shop:orders",
                                             "shop.order", NULL, &ev, &err),
                     DMP_OK);
    assert_int_equal(strlen(ev->id), 36);
    assert_int_equal(ev->id[14], '7'); /* UUIDv7 */
    assert_string_equal(ev->datacontenttype, "application/json");
    assert_non_null(ev->time);
    assert_true(ev->time_ms > 1700000000000LL);
    assert_string_equal(ev->data, d);
    assert_int_equal(dmp_cloudevent_validate(ev, &err), DMP_OK);
    dmp_cloudevent_t *copy = dmp_cloudevent_dup(ev);
    assert_string_equal(copy->id, ev->id);
    dmp_cloudevent_free(copy);
    dmp_cloudevent_free(ev);

    assert_int_equal(dmp_cloudevent_new_data("{oops", 5, "urn:x", "t", NULL, &ev, &err),
                     DMP_PARSE);
    assert_non_null(strstr(err.msg, "data is not valid JSON"));
    assert_int_equal(dmp_cloudevent_new_data("1", 1, "", "t", NULL, &ev, &err), DMP_INVALID);
    assert_string_equal(err.path, "source");
}

static void test_setters(void **state)
{
    dmp_cloudevent_t *ev = dmp_cloudevent_new();
    dmp_error_t err = {0};
    assert_int_equal(dmp_cloudevent_validate(ev, &err), DMP_INVALID);
    assert_int_equal(dmp_cloudevent_set(ev, "id", "1", &err), DMP_OK);
    assert_int_equal(dmp_cloudevent_set(ev, "source", "s", &err), DMP_OK);
    assert_int_equal(dmp_cloudevent_set(ev, "type", "t", &err), DMP_OK);
    assert_int_equal(dmp_cloudevent_validate(ev, &err), DMP_OK);
    assert_int_equal(dmp_cloudevent_set(ev, "id", NULL, &err), DMP_INVALID);
    assert_int_equal(dmp_cloudevent_set(ev, "data", "x", &err), DMP_INVALID);
    assert_int_equal(dmp_cloudevent_set(ev, "ok1", "\xff\xfe", &err), DMP_INVALID);
    assert_non_null(strstr(err.msg, "UTF-8"));
    assert_int_equal(dmp_cloudevent_set_ext(ev, "n", DMP_CE_INTEGER, "12x", &err), DMP_INVALID);
    assert_int_equal(dmp_cloudevent_set_ext(ev, "b", DMP_CE_BOOLEAN, "yes", &err), DMP_INVALID);
    assert_int_equal(dmp_cloudevent_set_ext(ev, "id", DMP_CE_STRING, "x", &err), DMP_INVALID);
    assert_int_equal(dmp_cloudevent_set(ev, "e1", "v", &err), DMP_OK);
    assert_int_equal(dmp_cloudevent_set(ev, "e1", NULL, &err), DMP_OK);
    assert_int_equal(ev->n_ext, 0);
    assert_true(dmp_ce_is_json_type("application/cloudevents+json"));
    assert_true(dmp_ce_is_json_type("Application/JSON ; charset=utf-8"));
    assert_false(dmp_ce_is_json_type("text/plain"));
    assert_false(dmp_ce_is_json_type("application/jsonx"));
    dmp_cloudevent_free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structured_roundtrip), cmocka_unit_test(test_platform_extensions),
        cmocka_unit_test(test_data_base64),          cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_size_limits),          cmocka_unit_test(test_batch_mixed),
        cmocka_unit_test(test_ndjson),               cmocka_unit_test(test_binary_mode),
        cmocka_unit_test(test_binary_rejections),    cmocka_unit_test(test_plain_data),
        cmocka_unit_test(test_setters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
