/* test_http1.c -- the native engine's HTTP/1.1 request parsing without I/O (src/http/http1.c):
 * finding the end of a head, parsing it in place with every refusal and its status, percent
 * decoding, and chunk-size lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dmp/core.h"
#include "http/http1.h"

/* ---- dmp_http1_head_end */

static void test_head_end(void **state)
{
    const char crlf[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(dmp_http1_head_end(crlf, strlen(crlf)), strlen(crlf));
    const char lf[] = "GET / HTTP/1.1\nHost: a\n\n";
    assert_int_equal(dmp_http1_head_end(lf, strlen(lf)), strlen(lf));
    const char mixed[] = "GET / HTTP/1.1\r\nHost: a\n\r\n";
    assert_int_equal(dmp_http1_head_end(mixed, strlen(mixed)), strlen(mixed));
    /* what follows the head (a body, the next request) is not counted */
    const char body[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET";
    assert_int_equal(dmp_http1_head_end(body, strlen(body)), strlen(body) - 6);
    /* leading bytes before the head are counted in the length */
    const char lead[] = "xyz\r\n\r\nrest";
    assert_int_equal(dmp_http1_head_end(lead, strlen(lead)), 7);
    const char lead_lf[] = "\nGET / HTTP/1.1\n\n";
    assert_int_equal(dmp_http1_head_end(lead_lf, strlen(lead_lf)), strlen(lead_lf));
    /* the terminator not yet complete: every proper prefix of a CRLF head gives 0 */
    for (size_t k = 0; k < strlen(crlf); k++)
        assert_int_equal(dmp_http1_head_end(crlf, k), 0);
    for (size_t k = 0; k < strlen(lf); k++)
        assert_int_equal(dmp_http1_head_end(lf, k), 0);
    assert_int_equal(dmp_http1_head_end("GET / HTTP/1.1\r\nHost: a\r\n\r", 26), 0);
    assert_int_equal(dmp_http1_head_end("GET / HTTP/1.1\r\nHost: a\r\n", 25), 0);
    assert_int_equal(dmp_http1_head_end("a\r\nb\r\nc\r\n", 9), 0);
    assert_int_equal(dmp_http1_head_end("\n", 1), 0);
    assert_int_equal(dmp_http1_head_end("\n\n", 2), 2);
    assert_int_equal(dmp_http1_head_end("", 0), 0);
    /* the first empty line wins, not a later one */
    const char two[] = "A\n\nB\n\n";
    assert_int_equal(dmp_http1_head_end(two, strlen(two)), 3);
    /* a buffer that is exactly the head, with no byte after it, read within bounds */
    char *exact = malloc(4);
    memcpy(exact, "a\n\r\n", 4);
    assert_int_equal(dmp_http1_head_end(exact, 4), 4);
    assert_int_equal(dmp_http1_head_end(exact, 3), 0);
    free(exact);
}

/* ---- dmp_http1_parse_head */

typedef struct parsed {
    char *h; /* the head the request points into */
    dmp_http1_req_t r;
    dmp_http1_err_t e;
    int rc;
} parsed_t;

/* Parses text[0, n) from a heap copy of exactly n + 1 bytes (the parser writes h[n]). */
static parsed_t *parse_n(const char *text, size_t n, uint64_t max_body)
{
    parsed_t *p = calloc(1, sizeof(*p));
    p->h = malloc(n + 1);
    memcpy(p->h, text, n);
    p->h[n] = 'X'; /* the parser must not rely on a terminator being there */
    p->e.status = 0;
    p->e.code = NULL;
    p->rc = dmp_http1_parse_head(p->h, n, max_body, &p->r, &p->e);
    return p;
}

static parsed_t *parse(const char *text)
{
    return parse_n(text, strlen(text), 1 << 20);
}

static void done(parsed_t *p)
{
    dmp_http1_req_fini(&p->r);
    assert_null(p->r.path);
    free(p->h);
    free(p);
}

static void expect_ok(parsed_t *p)
{
    if (p->rc != 0)
        fail_msg("refused with %d %s: %s", p->e.status, p->e.code ? p->e.code : "(null)",
                 p->e.detail);
}

/* Parses 'text' and expects a refusal with 'status', 'code' and a detail containing
 * 'detail'; 'method' is what r.method must be (NULL: not set). */
static void refused_n(const char *text, size_t n, uint64_t max_body, int status,
                      const char *code, const char *detail, const char *method)
{
    parsed_t *p = parse_n(text, n, max_body);
    if (p->rc == 0)
        fail_msg("accepted, expected %d: %.*s", status, (int)n, text);
    assert_int_equal(p->rc, -1);
    assert_int_equal(p->e.status, status);
    assert_non_null(p->e.code);
    assert_string_equal(p->e.code, code);
    if (strstr(p->e.detail, detail) == NULL)
        fail_msg("detail \"%s\" does not hold \"%s\" for %.*s", p->e.detail, detail, (int)n,
                 text);
    if (method == NULL)
        assert_null(p->r.method);
    else {
        assert_non_null(p->r.method);
        assert_string_equal(p->r.method, method);
    }
    done(p);
}

static void refused(const char *text, int status, const char *code, const char *detail,
                    const char *method)
{
    refused_n(text, strlen(text), 1 << 20, status, code, detail, method);
}

static void test_parse_get(void **state)
{
    parsed_t *p = parse("GET /a%20b/c%2Fd?x=1&y=%20z+w HTTP/1.1\r\n"
                        "Host:  example.com \t\r\n"
                        "X-Empty:\r\n"
                        "Accept:\t*/*\r\n"
                        "User-Agent: t/1 (x; y)\r\n"
                        "\r\n");
    expect_ok(p);
    assert_string_equal(p->r.method, "GET");
    assert_string_equal(p->r.path, "/a b/c/d");
    assert_string_equal(p->r.query, "x=1&y=%20z+w");
    assert_int_equal(p->r.http10, 0);
    assert_int_equal(p->r.keep_alive, 1);
    assert_int_equal(p->r.chunked, 0);
    assert_int_equal(p->r.expect_continue, 0);
    assert_int_equal(p->r.length, 0);
    assert_int_equal(p->r.nhdrs, 4);
    assert_string_equal(p->r.hdrs[0].name, "Host");
    assert_string_equal(p->r.hdrs[0].value, "example.com");
    assert_string_equal(p->r.hdrs[1].name, "X-Empty");
    assert_string_equal(p->r.hdrs[1].value, "");
    assert_string_equal(p->r.hdrs[2].value, "*/*");
    assert_string_equal(p->r.hdrs[3].value, "t/1 (x; y)");
    assert_string_equal(dmp_http1_header(&p->r, "host"), "example.com");
    assert_string_equal(dmp_http1_header(&p->r, "USER-AGENT"), "t/1 (x; y)");
    assert_null(dmp_http1_header(&p->r, "Cookie"));
    done(p);

    /* bare LF line ends, no query, an empty query */
    p = parse("DELETE /x HTTP/1.1\nhost: h\n\n");
    expect_ok(p);
    assert_string_equal(p->r.method, "DELETE");
    assert_string_equal(p->r.path, "/x");
    assert_null(p->r.query);
    assert_string_equal(dmp_http1_header(&p->r, "Host"), "h");
    done(p);
    p = parse("GET /?  HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(p->rc, -1); /* two spaces: not a request line */
    done(p);
    p = parse("GET /? HTTP/1.1\r\nHost: h\r\n\r\n");
    expect_ok(p);
    assert_string_equal(p->r.path, "/");
    assert_string_equal(p->r.query, "");
    done(p);
    /* invalid escapes stay as they are in the path; '+' is not a space there */
    p = parse("GET /%zz/%4/a+b/%e2%82%ac HTTP/1.1\r\nHost: h\r\n\r\n");
    expect_ok(p);
    assert_string_equal(p->r.path, "/%zz/%4/a+b/\xe2\x82\xac");
    done(p);
}

static void test_parse_connection(void **state)
{
    parsed_t *p = parse("GET / HTTP/1.0\r\n\r\n"); /* no Host needed on 1.0 */
    expect_ok(p);
    assert_int_equal(p->r.http10, 1);
    assert_int_equal(p->r.keep_alive, 0);
    done(p);
    p = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    expect_ok(p);
    assert_int_equal(p->r.keep_alive, 1);
    done(p);
    p = parse("GET / HTTP/1.0\r\nConnection: foo, keep-alive \r\n\r\n");
    expect_ok(p);
    assert_int_equal(p->r.keep_alive, 1);
    done(p);
    p = parse("GET / HTTP/1.0\r\nConnection: keep-alive-ish\r\n\r\n");
    expect_ok(p);
    assert_int_equal(p->r.keep_alive, 0);
    done(p);
    p = parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    expect_ok(p);
    assert_int_equal(p->r.keep_alive, 0);
    done(p);
    p = parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade,CLOSE\r\n\r\n");
    expect_ok(p);
    assert_int_equal(p->r.keep_alive, 0);
    done(p);
    p = parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n");
    expect_ok(p);
    assert_int_equal(p->r.keep_alive, 1);
    done(p);
    p = parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n");
    expect_ok(p);
    assert_int_equal(p->r.keep_alive, 1);
    done(p);
}

static void test_parse_body_headers(void **state)
{
    parsed_t *p = parse("POST /in HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n");
    expect_ok(p);
    assert_string_equal(p->r.method, "POST");
    assert_int_equal(p->r.length, 42);
    assert_int_equal(p->r.chunked, 0);
    done(p);
    /* identical duplicates are one length */
    p = parse("POST / HTTP/1.1\r\nHost: h\r\ncontent-length: 7\r\nContent-Length:  7\r\n\r\n");
    expect_ok(p);
    assert_int_equal(p->r.length, 7);
    done(p);
    /* the limit itself is allowed */
    const char at_limit[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n";
    p = parse_n(at_limit, strlen(at_limit), 100);
    expect_ok(p);
    assert_int_equal(p->r.length, 100);
    done(p);
    p = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    expect_ok(p);
    assert_int_equal(p->r.length, 0);
    done(p);
    p = parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    expect_ok(p);
    assert_int_equal(p->r.chunked, 1);
    assert_int_equal(p->r.length, 0);
    done(p);
    p = parse("POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: Chunked\r\n\r\n");
    expect_ok(p);
    assert_int_equal(p->r.chunked, 1);
    done(p);
    p = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
              "Expect: 100-continue\r\n\r\n");
    expect_ok(p);
    assert_int_equal(p->r.expect_continue, 1);
    assert_int_equal(p->r.length, 5);
    done(p);
    p = parse("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n\r\n");
    expect_ok(p);
    assert_int_equal(p->r.expect_continue, 1);
    done(p);
    /* HTTP/1.0 clients do not wait for a 100 */
    p = parse("POST / HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    expect_ok(p);
    assert_int_equal(p->r.expect_continue, 0);
    done(p);
}

static void test_parse_request_line_refusals(void **state)
{
    refused("GET /\r\nHost: h\r\n\r\n", 400, "DMP_INVALID", "malformed request line", NULL);
    refused("GET / HTTP/1.1 x\r\nHost: h\r\n\r\n", 400, "DMP_INVALID",
            "malformed request line", NULL);
    refused(" / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "DMP_INVALID", "malformed request line",
            NULL);
    refused("\r\n\r\n", 400, "DMP_INVALID", "malformed request line", NULL);
    refused("GET / FOO/1.1\r\nHost: h\r\n\r\n", 400, "DMP_INVALID", "malformed request line",
            "GET");
    refused("GET / http/1.1\r\nHost: h\r\n\r\n", 400, "DMP_INVALID", "malformed request line",
            "GET");
    refused("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "DMP_INVALID", "request method", NULL);
    refused("GE\x80T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "DMP_INVALID", "request method",
            NULL);
    refused("GE\tT / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "DMP_INVALID", "request method", NULL);
    refused("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "DMP_UNSUPPORTED", "HTTP/1.1", "GET");
    refused("GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505, "DMP_UNSUPPORTED", "HTTP/1.1", "GET");
    refused("GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "DMP_INVALID", "must be a path",
            "GET");
    refused("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 400, "DMP_INVALID", "must be a path",
            "OPTIONS");
    refused("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "DMP_INVALID", "control character",
            "GET");
    refused("GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400, "DMP_INVALID", "control character",
            "GET");
    refused("GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n", 400, "DMP_INVALID", "control character",
            "GET");
    refused("GET /a%00b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "DMP_INVALID", "encoded NUL",
            "GET");
    /* %00 in the query is the application's business, not the path's */
    parsed_t *p = parse("GET /a?x=%00 HTTP/1.1\r\nHost: h\r\n\r\n");
    expect_ok(p);
    assert_string_equal(p->r.query, "x=%00");
    done(p);
}

static void test_parse_nul(void **state)
{
    static const char req[] = "GET /a HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\r\n";
    size_t n = sizeof(req) - 1;
    /* a NUL at every position is refused, whatever it would have cut */
    char buf[sizeof(req)];
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, req, n);
        buf[i] = '\0';
        refused_n(buf, n, 1 << 20, 400, "DMP_INVALID", "NUL byte", NULL);
    }
    parsed_t *p = parse_n(req, n, 1 << 20);
    expect_ok(p);
    done(p);
}

static void test_parse_header_refusals(void **state)
{
    refused("GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n  folded\r\n\r\n", 400, "DMP_INVALID",
            "folded", "GET");
    refused("GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\tfolded\r\n\r\n", 400, "DMP_INVALID",
            "folded", "GET");
    refused("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400, "DMP_INVALID", "folded", "GET");
    refused("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400, "DMP_INVALID",
            "malformed header line", "GET");
    refused("GET / HTTP/1.1\r\nHost: h\r\n: empty-name\r\n\r\n", 400, "DMP_INVALID",
            "malformed header line", "GET");
    refused("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, "DMP_INVALID", "header name", "GET");
    refused("GET / HTTP/1.1\r\nHost: h\r\nX(y): 1\r\n\r\n", 400, "DMP_INVALID", "header name",
            "GET");
    refused("GET / HTTP/1.1\r\nHost: h\r\nX\ry: 1\r\n\r\n", 400, "DMP_INVALID", "header name",
            "GET");
    refused("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", 400, "DMP_INVALID", "bare CR",
            "GET");
    refused("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\r\n\r\n", 400, "DMP_INVALID", "bare CR",
            "GET");
    refused("GET / HTTP/1.1\nHost: h\nX-A: ab\r\r\n\n", 400, "DMP_INVALID", "bare CR", "GET");
}

/* A GET with Host and 'extra' more header lines. */
static char *many_headers(int extra)
{
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_buf_puts(&b, "GET /many HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < extra; i++)
        dmp_buf_printf(&b, "X-H%d: v%d\r\n", i, i);
    dmp_buf_puts(&b, "\r\n");
    return dmp_buf_steal(&b);
}

static void test_parse_header_count(void **state)
{
    char *ok = many_headers(DMP_HTTP1_MAX_HEADERS - 1);
    parsed_t *p = parse(ok);
    expect_ok(p);
    assert_int_equal(p->r.nhdrs, 128);
    assert_string_equal(p->r.hdrs[127].name, "X-H126");
    assert_string_equal(p->r.hdrs[127].value, "v126");
    assert_string_equal(dmp_http1_header(&p->r, "x-h126"), "v126");
    done(p);
    dmp_free(ok);
    char *over = many_headers(DMP_HTTP1_MAX_HEADERS);
    refused(over, 431, "DMP_LIMIT", "128", "GET");
    dmp_free(over);
    char *far = many_headers(1000);
    refused(far, 431, "DMP_LIMIT", "128", "GET");
    dmp_free(far);
}

static void test_parse_body_refusals(void **state)
{
    refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400,
            "DMP_INVALID", "conflicting Content-Length", "POST");
    refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n",
            400, "DMP_INVALID", "conflicting Content-Length", "POST");
    static const char *const bad_len[] = {"abc", "5x", "-1", "+5", "5 5", "5,5", "0x10", "",
                                          "99999999999999999999",
                                          "18446744073709551616", NULL};
    for (int i = 0; bad_len[i]; i++) {
        char *req = dmp_asprintf("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %s\r\n\r\n",
                                 bad_len[i]);
        /* max_body at its largest: a huge value must be refused as a number, not a size */
        refused_n(req, strlen(req), UINT64_MAX, 400, "DMP_INVALID", "not a number", "POST");
        dmp_free(req);
    }
    const char big[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n";
    refused_n(big, strlen(big), 100, 413, "DMP_LIMIT", "101", "POST");
    const char huge[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10000000000\r\n\r\n";
    refused_n(huge, strlen(huge), 1 << 20, 413, "DMP_LIMIT", "limit", "POST");
    refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
            "Transfer-Encoding: chunked\r\n\r\n",
            501, "DMP_UNSUPPORTED", "chunked", "POST");
    refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
            "DMP_UNSUPPORTED", "chunked", "POST");
    refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
            "DMP_UNSUPPORTED", "chunked", "POST");
    refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "DMP_UNSUPPORTED",
            "chunked", "POST");
    refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
            "Content-Length: 5\r\n\r\n",
            400, "DMP_INVALID", "both Transfer-Encoding and Content-Length", "POST");
    refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
            "Transfer-Encoding: chunked\r\n\r\n",
            400, "DMP_INVALID", "both Transfer-Encoding and Content-Length", "POST");
}

static void test_parse_host_expect_refusals(void **state)
{
    refused("GET / HTTP/1.1\r\n\r\n", 400, "DMP_INVALID", "Host", "GET");
    refused("PUT /x HTTP/1.1\r\nX-Host: h\r\n\r\n", 400, "DMP_INVALID", "Host", "PUT");
    refused("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "DMP_INVALID",
            "more than one Host", "GET");
    refused("GET / HTTP/1.0\r\nhost: a\r\nHOST: b\r\n\r\n", 400, "DMP_INVALID",
            "more than one Host", "GET");
    refused("POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", 417, "DMP_INVALID",
            "100-continue", "POST");
    refused("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue, x\r\n\r\n", 417,
            "DMP_INVALID", "100-continue", "POST");
    refused("POST / HTTP/1.0\r\nExpect: nope\r\n\r\n", 417, "DMP_INVALID", "100-continue",
            "POST");
}

/* A request after a refused one parses from a clean slate. */
static void test_parse_reuse(void **state)
{
    parsed_t *p = parse("POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                        "Expect: 100-continue\r\n\r\n");
    expect_ok(p);
    char h2[] = "GET /b HTTP/1.0\r\n\r\n";
    dmp_http1_req_fini(&p->r);
    assert_int_equal(dmp_http1_parse_head(h2, strlen(h2), 10, &p->r, &p->e), 0);
    assert_string_equal(p->r.path, "/b");
    assert_int_equal(p->r.chunked, 0);
    assert_int_equal(p->r.expect_continue, 0);
    assert_int_equal(p->r.http10, 1);
    assert_int_equal(p->r.nhdrs, 0);
    done(p);
}

/* ---- dmp_http1_pct_decode */

static void check_pct(const char *in, int plus, const char *want, size_t want_len)
{
    size_t n = strlen(in);
    char *out = malloc(n + 1);
    size_t got = dmp_http1_pct_decode(in, n, out, plus);
    assert_int_equal(got, want_len);
    assert_memory_equal(out, want, want_len);
    assert_int_equal(out[got], '\0');
    free(out);
}

static void test_pct_decode(void **state)
{
    check_pct("%41", 0, "A", 1);
    check_pct("a%41b%42", 0, "aAbB", 4);
    check_pct("%e2%82%AC", 0, "\xe2\x82\xac", 3);
    check_pct("%zz", 0, "%zz", 3);
    check_pct("%4", 0, "%4", 2);
    check_pct("a%4", 0, "a%4", 3);
    check_pct("%", 0, "%", 1);
    check_pct("ab%", 0, "ab%", 3);
    check_pct("%g1%1g", 0, "%g1%1g", 6);
    check_pct("%%41", 0, "%A", 2);
    check_pct("a+b", 0, "a+b", 3);
    check_pct("a+b", 1, "a b", 3);
    check_pct("%2B+", 1, "+ ", 2);
    check_pct("", 1, "", 0);
    check_pct("a%00b", 0, "a\0b", 3);
    check_pct("%00", 1, "\0", 1);
    /* only n bytes are read: an escape cut by the length stays as it is */
    char out[8];
    assert_int_equal(dmp_http1_pct_decode("%41", 2, out, 0), 2);
    assert_memory_equal(out, "%4", 3);
}

/* ---- dmp_http1_chunk_size */

static void check_chunk_ok(const char *line, uint64_t want)
{
    uint64_t v = 12345;
    if (dmp_http1_chunk_size(line, strlen(line), &v) != 0)
        fail_msg("chunk size line \"%s\" refused", line);
    assert_int_equal(v, want);
}

static void check_chunk_bad(const char *line)
{
    uint64_t v = 12345;
    if (dmp_http1_chunk_size(line, strlen(line), &v) == 0)
        fail_msg("chunk size line \"%s\" accepted as %llu", line, (unsigned long long)v);
}

static void test_chunk_size(void **state)
{
    check_chunk_ok("1a", 26);
    check_chunk_ok("1A", 26);
    check_chunk_ok("1a;ext=1", 26);
    check_chunk_ok("1a ;x", 26);
    check_chunk_ok("1a\t;x=\"y\"", 26);
    check_chunk_ok("1a ", 26);
    check_chunk_ok("0", 0);
    check_chunk_ok("000", 0);
    check_chunk_ok("ffffffffffffffff", UINT64_MAX);
    check_chunk_ok("0000000000000000001", 1); /* leading zeros are not an overflow */
    check_chunk_bad("");
    check_chunk_bad("x");
    check_chunk_bad(";ext");
    check_chunk_bad("1a junk");
    check_chunk_bad("1a x");
    check_chunk_bad("1ax");
    check_chunk_bad("-1");
    check_chunk_bad("0x1a");
    check_chunk_bad("10000000000000000"); /* 17 hex digits */
    check_chunk_bad("fffffffffffffffff");
    /* the length bounds the line: a digit past it is not read */
    uint64_t v = 0;
    assert_int_equal(dmp_http1_chunk_size("1a", 1, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(dmp_http1_chunk_size("1a", 0, &v), -1);
}

/* A chunk-size line needs at least one hex digit: whitespace alone, or whitespace then an
 * extension, is no size (the engine would take it for the last chunk, size 0). */
static void test_chunk_size_needs_a_digit(void **state)
{
    check_chunk_bad(" ");
    check_chunk_bad("\t");
    check_chunk_bad(" ;ext");
    check_chunk_bad(" 1a");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_end),
        cmocka_unit_test(test_parse_get),
        cmocka_unit_test(test_parse_connection),
        cmocka_unit_test(test_parse_body_headers),
        cmocka_unit_test(test_parse_request_line_refusals),
        cmocka_unit_test(test_parse_nul),
        cmocka_unit_test(test_parse_header_refusals),
        cmocka_unit_test(test_parse_header_count),
        cmocka_unit_test(test_parse_body_refusals),
        cmocka_unit_test(test_parse_host_expect_refusals),
        cmocka_unit_test(test_parse_reuse),
        cmocka_unit_test(test_pct_decode),
        cmocka_unit_test(test_chunk_size),
        cmocka_unit_test(test_chunk_size_needs_a_digit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
