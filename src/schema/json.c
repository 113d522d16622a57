/* json.c -- strict RFC 8259 parser into a flat read-only document, and its traversal API.
 *
 * Hand-written for the validation hot path (docs/schema.md has the numbers): no allocation
 * per value, an explicit stack instead of recursion (depth limit), UTF-8 checked as strings
 * are copied, key hashes computed during the copy.
 */
#include "schema/json_int.h"

#include <math.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_DEFAULT_MAX_BYTES ((size_t)64 << 20)
#define JSON_DEFAULT_MAX_DEPTH 512u

/* 1 for bytes that end the fast string copy: '"', '\\', control characters, non-ASCII. */
static const uint8_t str_stop[256] = {1, 1, 1,
                                      1, 1, 1,
                                      1, 1, 1,
                                      1, 1, 1,
                                      1, 1, 1,
                                      1, 1, 1,
                                      1, 1, 1,
                                      1, 1, 1,
                                      1, 1, 1,
                                      1, 1, 1,
                                      1, 1, 0,
                                      0, 1, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 1,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, 0,
                                      0, 0, [128 ... 255] = 1};

typedef struct parser {
    const char *p, *beg, *end;
    dmp_json_doc_t *doc;
    char *out; /* arena write position */
    dmp_error_t *err;
} parser_t;

dmp_json_doc_t *dmp_json_doc_new(void)
{
    return dmp_calloc(1, sizeof(dmp_json_doc_t));
}

void dmp_json_doc_free(dmp_json_doc_t *doc)
{
    if (!doc)
        return;
    dmp_free(doc->nodes);
    dmp_free(doc->arena);
    dmp_free(doc);
}

static int perr(parser_t *ps, int code, const char *fmt, const char *detail)
{
    int line = 1, col = 1;
    for (const char *q = ps->beg; q < ps->p && q < ps->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    DMP_ERR(ps->err, code, fmt, detail);
    dmp_error_where(ps->err, "%d:%d", line, col);
    return code;
}

static int unexpected(parser_t *ps, const char *wanted)
{
    if (ps->p >= ps->end)
        return perr(ps, DMP_PARSE, "unexpected end of input, expected %s", wanted);
    char what[48];
    unsigned char c = (unsigned char)*ps->p;
    if (c >= 0x20 && c < 0x7f)
        snprintf(what, sizeof what, "unexpected '%c', expected %%s", c);
    else
        snprintf(what, sizeof what, "unexpected byte 0x%02x, expected %%s", c);
    return perr(ps, DMP_PARSE, what, wanted);
}

static inline dmp_json_node_t *new_node(parser_t *ps, uint8_t type)
{
    dmp_json_doc_t *d = ps->doc;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->nodes = dmp_realloc(d->nodes, (size_t)d->cap * sizeof(dmp_json_node_t));
    }
    dmp_json_node_t *n = &d->nodes[d->n];
    n->type = type;
    n->flags = 0;
    n->span = 1;
    d->n++;
    return n;
}

static inline void skip_ws(parser_t *ps)
{
    const char *p = ps->p, *e = ps->end;
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    ps->p = p;
}

static int read_hex4(parser_t *ps, const char *p, unsigned *out)
{
    if (ps->end - p < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = dmp_hexval((unsigned char)p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return 0;
}

/* Length of a valid UTF-8 sequence starting at p, or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *e)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (e - p >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (e - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && p[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && p[1] >= 0xA0)
            return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (e - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && p[1] < 0x90)
            return 0;
        if (c == 0xF4 && p[1] >= 0x90)
            return 0;
        return 4;
    }
    return 0;
}

static char *put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | cp >> 18);
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* ps->p is on the opening quote. */
static int parse_string(parser_t *ps, dmp_json_node_t *n)
{
    const unsigned char *p = (const unsigned char *)ps->p + 1;
    const unsigned char *e = (const unsigned char *)ps->end;
    char *o = ps->out, *start = o;
    uint8_t ascii = JN_ASCII;
    for (;;) {
#ifdef __SSE2__
        /* 16 bytes at a time while none of them is '"', '\\', a control or non-ASCII;
         * the arena is as long as the input, so a 16-byte store cannot overrun it */
        const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), sp = _mm_set1_epi8(0x20);
        while (e - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)),
                                     _mm_cmplt_epi8(v, sp));
            unsigned mask = (unsigned)_mm_movemask_epi8(m);
            _mm_storeu_si128((__m128i *)o, v);
            if (mask) {
                unsigned k = (unsigned)__builtin_ctz(mask);
                p += k;
                o += k;
                break;
            }
            p += 16;
            o += 16;
        }
#endif
        while (p < e && !str_stop[*p])
            *o++ = (char)*p++;
        if (p >= e) {
            ps->p = (const char *)p;
            return perr(ps, DMP_PARSE, "unterminated string%s", "");
        }
        unsigned c = *p;
        if (c == '"') {
            p++;
            break;
        }
        if (c < 0x20) {
            ps->p = (const char *)p;
            return perr(ps, DMP_PARSE, "control character in string%s (escape it)", "");
        }
        if (c >= 0x80) {
            size_t k = utf8_seq(p, e);
            if (k == 0) {
                ps->p = (const char *)p;
                return perr(ps, DMP_PARSE, "invalid UTF-8 in string%s", "");
            }
            ascii = 0;
            for (size_t i = 0; i < k; i++)
                *o++ = (char)p[i];
            p += k;
            continue;
        }
        /* backslash */
        if (e - p < 2) {
            ps->p = (const char *)p;
            return perr(ps, DMP_PARSE, "unterminated escape in string%s", "");
        }
        switch (p[1]) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '/':
            *o++ = '/';
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            unsigned cp;
            if (read_hex4(ps, (const char *)p + 2, &cp) < 0) {
                ps->p = (const char *)p;
                return perr(ps, DMP_PARSE, "bad \\u escape in string%s", "");
            }
            p += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (e - p < 6 || p[0] != '\\' || p[1] != 'u' ||
                    read_hex4(ps, (const char *)p + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF) {
                    ps->p = (const char *)p;
                    return perr(ps, DMP_PARSE, "unpaired UTF-16 surrogate in string%s", "");
                }
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                ps->p = (const char *)p;
                return perr(ps, DMP_PARSE, "unpaired UTF-16 surrogate in string%s", "");
            }
            if (cp >= 0x80)
                ascii = 0;
            o = put_utf8(o, cp);
            continue;
        }
        default:
            ps->p = (const char *)p;
            return perr(ps, DMP_PARSE, "invalid escape in string%s", "");
        }
        p += 2;
    }
    *o++ = '\0';
    n->u.s = start;
    n->len = (uint32_t)(o - start - 1);
    n->aux = dmp_json_hash(start, n->len);
    n->flags = ascii;
    ps->out = o;
    ps->p = (const char *)p;
    return DMP_OK;
}

/* An object member's key and its ':' (white space skipped after both); 'wanted' names
 * what was expected when no key comes. */
static inline int parse_key(parser_t *ps, const char *wanted)
{
    if (ps->p >= ps->end || *ps->p != '"')
        return unexpected(ps, wanted);
    int rc = parse_string(ps, new_node(ps, DMP_JSON_STRING));
    if (rc != DMP_OK)
        return rc;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != ':')
        return unexpected(ps, "':'");
    ps->p++;
    skip_ws(ps);
    return DMP_OK;
}

static const double pow10_tab[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int parse_number(parser_t *ps, dmp_json_node_t *n)
{
    const char *p = ps->p, *e = ps->end, *s = p;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p >= e || *p < '0' || *p > '9') {
        ps->p = p;
        return unexpected(ps, "a digit");
    }
    uint64_t m = 0;
    int digits = 0, exp10 = 0;
    if (*p == '0') {
        p++;
        if (p < e && *p >= '0' && *p <= '9') {
            ps->p = p;
            return perr(ps, DMP_PARSE, "leading zero in number%s", "");
        }
    } else {
        while (p < e && *p >= '0' && *p <= '9') {
            if (digits < 19)
                m = m * 10 + (uint64_t)(*p - '0');
            else
                exp10++;
            digits++;
            p++;
        }
    }
    int is_int = 1;
    if (p < e && *p == '.') {
        is_int = 0;
        p++;
        if (p >= e || *p < '0' || *p > '9') {
            ps->p = p;
            return unexpected(ps, "a digit after '.'");
        }
        while (p < e && *p >= '0' && *p <= '9') {
            if (digits < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                exp10--;
            }
            if (m != 0 || digits)
                digits++;
            p++;
        }
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        is_int = 0;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || *p < '0' || *p > '9') {
            ps->p = p;
            return unexpected(ps, "a digit in the exponent");
        }
        while (p < e && *p >= '0' && *p <= '9')
            p++;
        digits = 99; /* take the slow path */
    }
    double d;
    if (digits <= 15 && exp10 >= -22 && exp10 <= 22) {
        d = (double)m;
        d = exp10 < 0 ? d / pow10_tab[-exp10] : d * pow10_tab[exp10];
        if (neg)
            d = -d;
    } else {
        size_t L = (size_t)(p - s);
        char small[64];
        char *tmp = L < sizeof small ? small : dmp_malloc(L + 1);
        memcpy(tmp, s, L);
        tmp[L] = '\0';
        d = strtod(tmp, NULL);
        if (tmp != small)
            dmp_free(tmp);
    }
    n->u.d = d;
    n->i = 0;
    if (is_int && digits <= 18) {
        n->flags = JN_INTLEX;
        n->i = neg ? -(int64_t)m : (int64_t)m;
    }
    ps->p = p;
    return DMP_OK;
}

static int lit(parser_t *ps, const char *word, size_t wl)
{
    if ((size_t)(ps->end - ps->p) < wl || memcmp(ps->p, word, wl) != 0)
        return unexpected(ps, "a JSON value");
    ps->p += wl;
    return DMP_OK;
}

int dmp_json_parse_into(dmp_json_doc_t *doc, const char *buf, size_t len,
                        const dmp_json_limits_t *limits, dmp_error_t *err)
{
    size_t max_bytes = limits && limits->max_bytes ? limits->max_bytes : JSON_DEFAULT_MAX_BYTES;
    unsigned max_depth = limits && limits->max_depth ? limits->max_depth : JSON_DEFAULT_MAX_DEPTH;
    doc->n = 0;
    if (len > max_bytes || len >= UINT32_MAX)
        return DMP_ERR(err, DMP_LIMIT, "document is %zu bytes, over the limit of %zu", len,
                       max_bytes);
    if (doc->arena_cap < len + 1) {
        dmp_free(doc->arena);
        doc->arena_cap = len + 1 > 256 ? len + 1 : 256;
        doc->arena = dmp_malloc(doc->arena_cap);
    }
    parser_t ps = {buf, buf, buf + len, doc, doc->arena, err};
    uint32_t stack_small[64];
    uint32_t *stack = stack_small;
    unsigned depth = 0, stack_cap = 64;
    int rc = DMP_OK;

    skip_ws(&ps);
    for (;;) {
        /* parse one value */
        if (ps.p >= ps.end) {
            rc = unexpected(&ps, "a JSON value");
            goto out;
        }
        char c = *ps.p;
        dmp_json_node_t *n;
        int opened = 0;
        switch (c) {
        case '{':
        case '[':
            if (depth >= max_depth) {
                char lim[48];
                snprintf(lim, sizeof lim, " of %u", max_depth);
                rc = perr(&ps, DMP_LIMIT, "nesting deeper than the limit%s", lim);
                goto out;
            }
            n = new_node(&ps, c == '{' ? DMP_JSON_OBJECT : DMP_JSON_ARRAY);
            n->aux = 0;
            if (depth == stack_cap) {
                stack_cap *= 2;
                if (stack == stack_small) {
                    stack = dmp_malloc(stack_cap * sizeof(uint32_t));
                    memcpy(stack, stack_small, sizeof stack_small);
                } else {
                    stack = dmp_realloc(stack, stack_cap * sizeof(uint32_t));
                }
            }
            stack[depth++] = doc->n - 1;
            ps.p++;
            skip_ws(&ps);
            opened = 1;
            if (ps.p < ps.end && *ps.p == (c == '{' ? '}' : ']')) {
                ps.p++;
                depth--;
                doc->nodes[stack[depth]].span = doc->n - stack[depth];
                opened = 0;
            } else if (c == '{') {
                if ((rc = parse_key(&ps, "a string key or '}'")) != DMP_OK)
                    goto out;
                continue;
            } else {
                continue;
            }
            break;
        case '"':
            n = new_node(&ps, DMP_JSON_STRING);
            if ((rc = parse_string(&ps, n)) != DMP_OK)
                goto out;
            break;
        case 't':
            if ((rc = lit(&ps, "true", 4)) != DMP_OK)
                goto out;
            new_node(&ps, DMP_JSON_TRUE);
            break;
        case 'f':
            if ((rc = lit(&ps, "false", 5)) != DMP_OK)
                goto out;
            new_node(&ps, DMP_JSON_FALSE);
            break;
        case 'n':
            if ((rc = lit(&ps, "null", 4)) != DMP_OK)
                goto out;
            new_node(&ps, DMP_JSON_NULL);
            break;
        default:
            if (c == '-' || (c >= '0' && c <= '9')) {
                n = new_node(&ps, DMP_JSON_NUMBER);
                if ((rc = parse_number(&ps, n)) != DMP_OK)
                    goto out;
                break;
            }
            rc = unexpected(&ps, "a JSON value");
            goto out;
        }
        (void)opened;
        /* after a value: close containers or move to the next element */
        for (;;) {
            skip_ws(&ps);
            if (depth == 0) {
                if (ps.p != ps.end) {
                    rc = unexpected(&ps, "end of input");
                    goto out;
                }
                goto out;
            }
            dmp_json_node_t *top = &doc->nodes[stack[depth - 1]];
            top->aux++;
            char close = top->type == DMP_JSON_OBJECT ? '}' : ']';
            if (ps.p < ps.end && *ps.p == ',') {
                ps.p++;
                skip_ws(&ps);
                if (top->type == DMP_JSON_OBJECT) {
                    if ((rc = parse_key(&ps, "a string key")) != DMP_OK)
                        goto out;
                }
                break;
            }
            if (ps.p < ps.end && *ps.p == close) {
                ps.p++;
                depth--;
                top->span = doc->n - stack[depth];
                continue;
            }
            rc = unexpected(&ps, close == '}' ? "',' or '}'" : "',' or ']'");
            goto out;
        }
    }
out:
    if (stack != stack_small)
        dmp_free(stack);
    if (rc != DMP_OK)
        doc->n = 0;
    return rc;
}

int dmp_json_parse(const char *buf, size_t len, const dmp_json_limits_t *limits,
                   dmp_json_doc_t **out, dmp_error_t *err)
{
    dmp_json_doc_t *doc = dmp_json_doc_new();
    int rc = dmp_json_parse_into(doc, buf, len, limits, err);
    if (rc != DMP_OK) {
        dmp_json_doc_free(doc);
        doc = NULL;
    }
    *out = doc;
    return rc;
}

/* ---- traversal ---- */

const dmp_json_node_t *dmp_json_root(const dmp_json_doc_t *doc)
{
    return doc && doc->n ? &doc->nodes[0] : NULL;
}

dmp_json_type_t dmp_json_type(const dmp_json_node_t *n)
{
    return (dmp_json_type_t)n->type;
}

double dmp_json_number(const dmp_json_node_t *n)
{
    return n->type == DMP_JSON_NUMBER ? n->u.d : 0;
}

int dmp_json_is_int64(const dmp_json_node_t *n, int64_t *out)
{
    if (n->type != DMP_JSON_NUMBER || !(n->flags & JN_INTLEX))
        return 0;
    if (out)
        *out = n->i;
    return 1;
}

const char *dmp_json_string(const dmp_json_node_t *n, size_t *len)
{
    if (n->type != DMP_JSON_STRING)
        return NULL;
    if (len)
        *len = n->len;
    return n->u.s;
}

size_t dmp_json_size(const dmp_json_node_t *n)
{
    return n->type == DMP_JSON_ARRAY || n->type == DMP_JSON_OBJECT ? n->aux : 0;
}

const dmp_json_node_t *dmp_json_first(const dmp_json_node_t *n)
{
    if ((n->type != DMP_JSON_ARRAY && n->type != DMP_JSON_OBJECT) || n->aux == 0)
        return NULL;
    return n + 1;
}

const dmp_json_node_t *dmp_json_next(const dmp_json_node_t *parent, const dmp_json_node_t *n)
{
    const dmp_json_node_t *nx = n + n->span;
    return nx < parent + parent->span ? nx : NULL;
}

const dmp_json_node_t *dmp_json_get(const dmp_json_node_t *obj, const char *key, size_t keylen)
{
    if (obj->type != DMP_JSON_OBJECT)
        return NULL;
    uint32_t h = dmp_json_hash(key, keylen);
    const dmp_json_node_t *found = NULL, *end = obj + obj->span;
    for (const dmp_json_node_t *k = obj + 1; k < end; k = k + 1 + k[1].span)
        if (k->aux == h && k->len == keylen && memcmp(k->u.s, key, keylen) == 0)
            found = k + 1;
    return found;
}

const dmp_json_node_t *dmp_json_at(const dmp_json_node_t *arr, size_t i)
{
    if (arr->type != DMP_JSON_ARRAY || i >= arr->aux)
        return NULL;
    const dmp_json_node_t *e = arr + 1;
    while (i--)
        e += e->span;
    return e;
}

size_t dmp_json_strlen_cp(const dmp_json_node_t *n)
{
    if (n->flags & JN_ASCII)
        return n->len;
    size_t c = 0;
    for (uint32_t i = 0; i < n->len; i++)
        c += ((uint8_t)n->u.s[i] & 0xC0) != 0x80;
    return c;
}

static int num_equal(double a, double b)
{
    return a == b;
}

int dmp_json_equal(const dmp_json_node_t *a, const dmp_json_node_t *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case DMP_JSON_NUMBER:
        if ((a->flags & JN_INTLEX) && (b->flags & JN_INTLEX))
            return a->i == b->i;
        return num_equal(a->u.d, b->u.d);
    case DMP_JSON_STRING:
        return a->len == b->len && a->aux == b->aux && memcmp(a->u.s, b->u.s, a->len) == 0;
    case DMP_JSON_ARRAY: {
        if (a->aux != b->aux)
            return 0;
        const dmp_json_node_t *x = a + 1, *y = b + 1;
        for (uint32_t i = 0; i < a->aux; i++, x += x->span, y += y->span)
            if (!dmp_json_equal(x, y))
                return 0;
        return 1;
    }
    case DMP_JSON_OBJECT: {
        if (a->aux != b->aux)
            return 0;
        const dmp_json_node_t *end = a + a->span;
        for (const dmp_json_node_t *k = a + 1; k < end; k = k + 1 + k[1].span) {
            const dmp_json_node_t *v = dmp_json_get(b, k->u.s, k->len);
            if (!v || !dmp_json_equal(k + 1, v))
                return 0;
        }
        return 1;
    }
    default:
        return 1;
    }
}

uint64_t dmp_json_deep_hash(const dmp_json_node_t *n)
{
    uint64_t h = (uint64_t)n->type * 0x9E3779B97F4A7C15ull;
    switch (n->type) {
    case DMP_JSON_NUMBER: {
        double d = n->u.d;
        if (d == 0)
            d = 0; /* -0 and 0 hash alike */
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return h ^ (bits * 0xFF51AFD7ED558CCDull);
    }
    case DMP_JSON_STRING:
        return h ^ ((uint64_t)n->aux * 0xC4CEB9FE1A85EC53ull) ^ n->len;
    case DMP_JSON_ARRAY: {
        const dmp_json_node_t *x = n + 1;
        for (uint32_t i = 0; i < n->aux; i++, x += x->span)
            h = (h ^ dmp_json_deep_hash(x)) * 0x100000001B3ull;
        return h;
    }
    case DMP_JSON_OBJECT: {
        uint64_t sum = 0; /* order-independent */
        const dmp_json_node_t *end = n + n->span;
        for (const dmp_json_node_t *k = n + 1; k < end; k = k + 1 + k[1].span)
            sum += (dmp_json_deep_hash(k) * 31) ^ dmp_json_deep_hash(k + 1);
        return h ^ sum;
    }
    default:
        return h;
    }
}

static void dump_str(dmp_buf_t *out, const char *s, size_t n)
{
    dmp_buf_json_str(out, s, n);
}

void dmp_json_dump(const dmp_json_node_t *n, dmp_buf_t *out)
{
    switch (n->type) {
    case DMP_JSON_NULL:
        dmp_buf_puts(out, "null");
        break;
    case DMP_JSON_TRUE:
        dmp_buf_puts(out, "true");
        break;
    case DMP_JSON_FALSE:
        dmp_buf_puts(out, "false");
        break;
    case DMP_JSON_NUMBER:
        if (n->flags & JN_INTLEX)
            dmp_buf_printf(out, "%lld", (long long)n->i);
        else if (isfinite(n->u.d) && n->u.d == floor(n->u.d) && fabs(n->u.d) < 1e15)
            dmp_buf_printf(out, "%.0f", n->u.d);
        else if (isinf(n->u.d)) /* written as a number that parses back to infinity */
            dmp_buf_puts(out, n->u.d > 0 ? "1e999" : "-1e999");
        else {
            /* The shortest of 15, 16 and 17 significant digits that reads back as the
             * same double: 0.99 stays "0.99", not "0.98999999999999999". */
            char num[40];
            for (int prec = 15; prec <= 17; prec++) {
                snprintf(num, sizeof(num), "%.*g", prec, n->u.d);
                if (prec == 17 || strtod(num, NULL) == n->u.d)
                    break;
            }
            dmp_buf_puts(out, num);
        }
        break;
    case DMP_JSON_STRING:
        dump_str(out, n->u.s, n->len);
        break;
    case DMP_JSON_ARRAY: {
        dmp_buf_putc(out, '[');
        const dmp_json_node_t *x = n + 1;
        for (uint32_t i = 0; i < n->aux; i++, x += x->span) {
            if (i)
                dmp_buf_putc(out, ',');
            dmp_json_dump(x, out);
        }
        dmp_buf_putc(out, ']');
        break;
    }
    case DMP_JSON_OBJECT: {
        dmp_buf_putc(out, '{');
        const dmp_json_node_t *end = n + n->span;
        for (const dmp_json_node_t *k = n + 1; k < end; k = k + 1 + k[1].span) {
            if (k != n + 1)
                dmp_buf_putc(out, ',');
            dump_str(out, k->u.s, k->len);
            dmp_buf_putc(out, ':');
            dmp_json_dump(k + 1, out);
        }
        dmp_buf_putc(out, '}');
        break;
    }
    }
}
