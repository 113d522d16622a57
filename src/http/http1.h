/* http1.h -- private to src/http/: HTTP/1.1 request parsing (RFC 9112) without I/O, for
 * the native engine (native.c) and its fuzz target (fuzz/fuzz_http1.c).
 *
 * The head is parsed in place: names, values and the method point into the caller's
 * buffer, which must outlive the request. Every refusal carries the HTTP status, a dmp
 * error code and a sentence naming what was wrong. */
#ifndef DMP_HTTP_HTTP1_H
#define DMP_HTTP_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#define DMP_HTTP1_HEAD_MAX (32 * 1024) /* request line + header lines */
#define DMP_HTTP1_MAX_HEADERS 128

typedef struct dmp_http1_hdr {
    const char *name, *value;
} dmp_http1_hdr_t;

typedef struct dmp_http1_req {
    const char *method;  /* NULL until the request line parsed */
    char *path;          /* percent-decoded; owned (dmp_http1_req_fini) */
    const char *query;   /* raw, without the '?'; NULL when there is none */
    int http10;          /* HTTP/1.0 (else 1.1) */
    int keep_alive;      /* the connection stays open after the reply */
    int chunked;         /* Transfer-Encoding: chunked */
    int expect_continue; /* Expect: 100-continue */
    uint64_t length;     /* Content-Length (0 without one) */
    int nhdrs;
    dmp_http1_hdr_t hdrs[DMP_HTTP1_MAX_HEADERS];
    char path_buf[256]; /* path, when it fits */
} dmp_http1_req_t;

typedef struct dmp_http1_err {
    int status;       /* 400, 413, 417, 431, 501, 505 */
    const char *code; /* DMP_INVALID, DMP_LIMIT, DMP_UNSUPPORTED */
    char detail[160];
} dmp_http1_err_t;

/* Length of the head at the start of b[0, len) up to and including its empty line
 * (CRLF or bare LF line ends), or 0 when the empty line has not arrived. */
size_t dmp_http1_head_end(const char *b, size_t len);

/* Parses the head h[0, n) in place (h[n] must be writable). A body over max_body (by its
 * Content-Length) is refused with 413. 0 on success; -1 with *e filled (r->method is set
 * when the request line parsed, so the refusal can be logged). Call dmp_http1_req_fini
 * either way. */
int dmp_http1_parse_head(char *h, size_t n, uint64_t max_body, dmp_http1_req_t *r,
                         dmp_http1_err_t *e);
void dmp_http1_req_fini(dmp_http1_req_t *r);

/* The value of the header 'name' (case-insensitive), or NULL. */
const char *dmp_http1_header(const dmp_http1_req_t *r, const char *name);

/* Percent-decodes s[0, n) into out (room for n + 1 bytes, NUL-terminated); '+' becomes a
 * space when 'plus' is set (query strings). An invalid escape is kept as it is. Returns
 * the decoded length (the result may hold a NUL before it). */
size_t dmp_http1_pct_decode(const char *s, size_t n, char *out, int plus);

/* Parses a chunk-size line (without its line end): hex digits, then optional
 * extensions after ';'. 0 with *size, or -1. */
int dmp_http1_chunk_size(const char *line, size_t len, uint64_t *size);

#endif
