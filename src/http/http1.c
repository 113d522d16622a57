/* http1.c -- HTTP/1.1 request parsing without I/O (http1.h). */
#include "http/http1.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dmp/core.h"

static int is_tchar(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Whether the comma-separated list v holds token (case-insensitive). */
static int has_token(const char *v, const char *token)
{
    size_t tl = strlen(token);
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *e = v;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > v && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - v) == tl && strncasecmp(v, token, tl) == 0)
            return 1;
        v = e;
    }
    return 0;
}

size_t dmp_http1_pct_decode(const char *s, size_t n, char *out, int plus)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = dmp_hexval((unsigned char)s[i + 1])) >= 0 &&
            (lo = dmp_hexval((unsigned char)s[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (plus && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return o;
}

size_t dmp_http1_head_end(const char *b, size_t len)
{
    if (len == 0)
        return 0;
    for (const char *q = memchr(b, '\n', len); q != NULL;
         q = memchr(q + 1, '\n', len - (size_t)(q + 1 - b))) {
        size_t at = (size_t)(q - b);
        if (at + 1 < len && b[at + 1] == '\n')
            return at + 2;
        if (at + 2 < len && b[at + 1] == '\r' && b[at + 2] == '\n')
            return at + 3;
        if (at + 1 >= len)
            break;
    }
    return 0;
}

int dmp_http1_chunk_size(const char *line, size_t len, uint64_t *size)
{
    uint64_t v = 0;
    size_t i = 0;
    int h;
    for (; i < len && (h = dmp_hexval((unsigned char)line[i])) >= 0; i++) {
        if (v > (UINT64_MAX >> 4))
            return -1;
        v = v * 16 + (uint64_t)h;
    }
    if (i == 0)
        return -1; /* no digit */
    while (i < len && (line[i] == ' ' || line[i] == '\t')) /* whitespace before ';' */
        i++;
    if (i < len && line[i] != ';')
        return -1;
    *size = v;
    return 0;
}

const char *dmp_http1_header(const dmp_http1_req_t *r, const char *name)
{
    for (int i = 0; i < r->nhdrs; i++)
        if (strcasecmp(r->hdrs[i].name, name) == 0)
            return r->hdrs[i].value;
    return NULL;
}

void dmp_http1_req_fini(dmp_http1_req_t *r)
{
    if (r->path != r->path_buf)
        dmp_free(r->path);
    r->path = NULL;
}

static int refuse(dmp_http1_err_t *e, int status, const char *code, const char *detail)
{
    e->status = status;
    e->code = code;
    snprintf(e->detail, sizeof(e->detail), "%s", detail);
    return -1;
}

int dmp_http1_parse_head(char *h, size_t n, uint64_t max_body, dmp_http1_req_t *r,
                         dmp_http1_err_t *e)
{
    memset(r, 0, offsetof(dmp_http1_req_t, hdrs)); /* the header slots are filled in order */
    h[n] = '\0';
    if (memchr(h, '\0', n) != NULL) /* a NUL would end a line early and hide what follows */
        return refuse(e, 400, "DMP_INVALID", "NUL byte in the request head");
    /* request line */
    char *eol = strchr(h, '\n');
    if (eol == NULL) /* dmp_http1_head_end never hands over such a head */
        return refuse(e, 400, "DMP_INVALID", "malformed request line");
    char *line_end = eol > h && eol[-1] == '\r' ? eol - 1 : eol;
    *line_end = '\0';
    char *sp1 = strchr(h, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (sp1 == NULL || sp2 == NULL || strchr(sp2 + 1, ' ') != NULL || sp1 == h)
        return refuse(e, 400, "DMP_INVALID", "malformed request line");
    *sp1 = *sp2 = '\0';
    for (char *p = h; *p; p++)
        if (!is_tchar((unsigned char)*p))
            return refuse(e, 400, "DMP_INVALID", "malformed request method");
    r->method = h;
    const char *version = sp2 + 1;
    if (strcmp(version, "HTTP/1.1") == 0) {
        r->http10 = 0;
    } else if (strcmp(version, "HTTP/1.0") == 0) {
        r->http10 = 1;
    } else if (strncmp(version, "HTTP/", 5) == 0 && version[5] >= '0' && version[5] <= '9' &&
               version[6] == '.' && version[7] >= '0' && version[7] <= '9' && !version[8]) {
        return refuse(e, 505, "DMP_UNSUPPORTED", "only HTTP/1.1 and HTTP/1.0 are served");
    } else {
        return refuse(e, 400, "DMP_INVALID", "malformed request line");
    }
    char *target = sp1 + 1;
    if (target[0] != '/')
        return refuse(e, 400, "DMP_INVALID", "the request target must be a path");
    for (char *p = target; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return refuse(e, 400, "DMP_INVALID", "control character in the request target");
    char *qm = strchr(target, '?');
    size_t plen = qm ? (size_t)(qm - target) : strlen(target);
    r->query = qm ? qm + 1 : NULL;
    r->path = plen < sizeof(r->path_buf) ? r->path_buf : dmp_malloc(plen + 1);
    if (dmp_http1_pct_decode(target, plen, r->path, 0) != strlen(r->path))
        return refuse(e, 400, "DMP_INVALID", "the request path holds an encoded NUL");
    /* header lines */
    r->nhdrs = 0;
    const char *clen = NULL, *te = NULL, *host = NULL, *conn_hdr = NULL, *expect = NULL;
    char *p = eol + 1;
    for (;;) {
        char *nl = strchr(p, '\n');
        if (nl == NULL)
            break;
        char *le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
        *le = '\0';
        if (*p == '\0')
            break; /* the empty line */
        if (*p == ' ' || *p == '\t')
            return refuse(e, 400, "DMP_INVALID", "folded header lines are not accepted");
        char *colon = strchr(p, ':');
        if (colon == NULL || colon == p)
            return refuse(e, 400, "DMP_INVALID", "malformed header line");
        *colon = '\0';
        for (char *q = p; *q; q++)
            if (!is_tchar((unsigned char)*q))
                return refuse(e, 400, "DMP_INVALID", "malformed header name");
        char *v = colon + 1;
        if (strchr(v, '\r') != NULL) /* a bare CR is a line end to some parsers */
            return refuse(e, 400, "DMP_INVALID", "a bare CR in a header line");
        while (*v == ' ' || *v == '\t')
            v++;
        char *ve = v + strlen(v);
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            *--ve = '\0';
        if (r->nhdrs == DMP_HTTP1_MAX_HEADERS)
            return refuse(e, 431, "DMP_LIMIT", "more than 128 header lines");
        r->hdrs[r->nhdrs].name = p;
        r->hdrs[r->nhdrs].value = v;
        r->nhdrs++;
        if (strcasecmp(p, "Content-Length") == 0) {
            if (clen != NULL && strcmp(clen, v) != 0)
                return refuse(e, 400, "DMP_INVALID", "conflicting Content-Length headers");
            clen = v;
        } else if (strcasecmp(p, "Transfer-Encoding") == 0) {
            if (te != NULL) /* two lines make a list of codings: only "chunked" is known */
                return refuse(e, 501, "DMP_UNSUPPORTED",
                              "only the chunked transfer coding is accepted");
            te = v;
        } else if (strcasecmp(p, "Host") == 0) {
            if (host != NULL)
                return refuse(e, 400, "DMP_INVALID", "more than one Host header");
            host = v;
        } else if (strcasecmp(p, "Connection") == 0) {
            conn_hdr = v;
        } else if (strcasecmp(p, "Expect") == 0) {
            expect = v;
        }
        p = nl + 1;
    }
    r->keep_alive = r->http10 ? (conn_hdr && has_token(conn_hdr, "keep-alive"))
                              : !(conn_hdr && has_token(conn_hdr, "close"));
    if (!r->http10 && host == NULL)
        return refuse(e, 400, "DMP_INVALID", "an HTTP/1.1 request needs a Host header");
    if (te != NULL) {
        if (r->http10 || strcasecmp(te, "chunked") != 0)
            return refuse(e, 501, "DMP_UNSUPPORTED",
                          "only the chunked transfer coding is accepted");
        if (clen != NULL)
            return refuse(e, 400, "DMP_INVALID",
                          "both Transfer-Encoding and Content-Length were sent");
        r->chunked = 1;
    } else if (clen != NULL) {
        uint64_t v = 0;
        const char *q = clen;
        if (*q == '\0')
            return refuse(e, 400, "DMP_INVALID", "Content-Length is not a number");
        for (; *q; q++) {
            if (*q < '0' || *q > '9' || v > (UINT64_MAX - 9) / 10)
                return refuse(e, 400, "DMP_INVALID", "Content-Length is not a number");
            v = v * 10 + (uint64_t)(*q - '0');
        }
        if (v > max_body) {
            e->status = 413;
            e->code = "DMP_LIMIT";
            snprintf(e->detail, sizeof(e->detail),
                     "request body of %s bytes exceeds the limit of %llu bytes", clen,
                     (unsigned long long)max_body);
            return -1;
        }
        r->length = v;
    }
    if (expect != NULL) {
        if (strcasecmp(expect, "100-continue") != 0)
            return refuse(e, 417, "DMP_INVALID", "only the 100-continue expectation is met");
        r->expect_continue = !r->http10;
    }
    return 0;
}
