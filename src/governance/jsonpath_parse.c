/* jsonpath_parse.c -- RFC 9535 JSONPath: the recursive-descent parser and the
 * well-typedness checks of section 2.4.3.
 *
 * The parser works directly on the bytes of the expression (the grammar is small
 * enough that a separate token stream buys nothing). It enforces the length and
 * nesting limits and rejects every expression the RFC calls invalid; it does not
 * evaluate anything (see jsonpath_eval.c).
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "governance/governance_int.h"

#define JP_MAX_INT 9007199254740991LL /* 2^53 - 1, the I-JSON range of RFC 9535 */

typedef struct parser {
    const char *s;
    size_t len, pos;
    int depth, max_depth;
    dmp_error_t *err;
    int rc;
} parser_t;

static jp_expr_t *parse_or(parser_t *p);

static int fail(parser_t *p, const char *what)
{
    if (p->rc == DMP_OK)
        p->rc = DMP_ERR(p->err, DMP_PARSE, "jsonpath column %zu: %s", p->pos + 1, what);
    return p->rc;
}

static int peek(const parser_t *p)
{
    return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static bool at(const parser_t *p, const char *lit)
{
    size_t n = strlen(lit);
    return p->len - p->pos >= n && memcmp(p->s + p->pos, lit, n) == 0;
}

static void skip_ws(parser_t *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static bool enter(parser_t *p)
{
    if (++p->depth > p->max_depth) {
        if (p->rc == DMP_OK)
            p->rc = DMP_ERR(p->err, DMP_LIMIT, "jsonpath column %zu: nesting deeper than %d",
                            p->pos + 1, p->max_depth);
        return false;
    }
    return true;
}

/* ---- nodes */

void jp_query_fini(jp_query_t *q)
{
    for (size_t i = 0; i < q->n; i++) {
        jp_segment_t *sg = &q->segs[i];
        for (size_t j = 0; j < sg->n; j++) {
            dmp_free(sg->sels[j].name);
            jp_expr_free(sg->sels[j].filter);
        }
        dmp_free(sg->sels);
    }
    dmp_free(q->segs);
    q->segs = NULL;
    q->n = 0;
}

void jp_expr_free(jp_expr_t *e)
{
    if (!e)
        return;
    jp_expr_free(e->a);
    jp_expr_free(e->b);
    jp_query_fini(&e->q);
    if (e->lit)
        json_decref(e->lit);
    if (e->re)
        pcre2_code_free(e->re);
    dmp_free(e);
}

static jp_expr_t *expr_new(jp_expr_kind_t kind)
{
    jp_expr_t *e = dmp_calloc(1, sizeof(*e));
    e->kind = kind;
    return e;
}

/* ---- lexical pieces */

int jp_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    uint32_t c;
    int n;
    if (len == 0)
        return -1;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    } else if ((s[0] & 0xE0) == 0xC0) {
        c = s[0] & 0x1F;
        n = 2;
    } else if ((s[0] & 0xF0) == 0xE0) {
        c = s[0] & 0x0F;
        n = 3;
    } else if ((s[0] & 0xF8) == 0xF0) {
        c = s[0] & 0x07;
        n = 4;
    } else {
        return -1;
    }
    if ((size_t)n > len)
        return -1;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10FFFF ||
        (c >= 0xD800 && c <= 0xDFFF))
        return -1;
    *cp = c;
    return n;
}

static void put_utf8(dmp_buf_t *b, uint32_t c)
{
    char t[4];
    size_t n;
    if (c < 0x80) {
        t[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        t[0] = (char)(0xC0 | (c >> 6));
        t[1] = (char)(0x80 | (c & 0x3F));
        n = 2;
    } else if (c < 0x10000) {
        t[0] = (char)(0xE0 | (c >> 12));
        t[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        t[2] = (char)(0x80 | (c & 0x3F));
        n = 3;
    } else {
        t[0] = (char)(0xF0 | (c >> 18));
        t[1] = (char)(0x80 | ((c >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((c >> 6) & 0x3F));
        t[3] = (char)(0x80 | (c & 0x3F));
        n = 4;
    }
    dmp_buf_append(b, t, n);
}

static int hex4(parser_t *p, uint32_t *out)
{
    uint32_t v = 0;
    if (p->len - p->pos < 4)
        return fail(p, "truncated \\u escape");
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos + i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return fail(p, "bad hex digit in \\u escape");
    }
    p->pos += 4;
    *out = v;
    return DMP_OK;
}

/* A quoted string literal ('...' or "..."), unescaped into 'b'. */
static int parse_string(parser_t *p, dmp_buf_t *b)
{
    char q = p->s[p->pos++];
    for (;;) {
        if (p->pos >= p->len)
            return fail(p, "unterminated string literal");
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == (unsigned char)q) {
            p->pos++;
            if (!b->data)
                dmp_buf_append(b, "", 0);
            return DMP_OK;
        }
        if (c < 0x20)
            return fail(p, "control character in string literal");
        if (c == '\\') {
            p->pos++;
            int e = peek(p);
            uint32_t cp, lo;
            p->pos++;
            switch (e) {
            case 'b':
                dmp_buf_putc(b, '\b');
                break;
            case 'f':
                dmp_buf_putc(b, '\f');
                break;
            case 'n':
                dmp_buf_putc(b, '\n');
                break;
            case 'r':
                dmp_buf_putc(b, '\r');
                break;
            case 't':
                dmp_buf_putc(b, '\t');
                break;
            case '/':
                dmp_buf_putc(b, '/');
                break;
            case '\\':
                dmp_buf_putc(b, '\\');
                break;
            case '\'':
            case '"':
                if (e != q)
                    return fail(p, "this quote must not be escaped here");
                dmp_buf_putc(b, (char)e);
                break;
            case 'u':
                if (hex4(p, &cp) != DMP_OK)
                    return p->rc;
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return fail(p, "lone low surrogate in \\u escape");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (!at(p, "\\u"))
                        return fail(p, "high surrogate not followed by a low surrogate");
                    p->pos += 2;
                    if (hex4(p, &lo) != DMP_OK)
                        return p->rc;
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return fail(p, "high surrogate not followed by a low surrogate");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                put_utf8(b, cp);
                break;
            default:
                p->pos--;
                return fail(p, "unknown escape in string literal");
            }
            continue;
        }
        uint32_t cp;
        int n = jp_utf8_decode((const unsigned char *)p->s + p->pos, p->len - p->pos, &cp);
        if (n < 0)
            return fail(p, "invalid UTF-8 in string literal");
        dmp_buf_append(b, p->s + p->pos, (size_t)n);
        p->pos += (size_t)n;
    }
}

/* name-first: ALPHA / "_" / non-ASCII; name-char adds DIGIT. Returns the byte
 * length of the character, 0 when it is not one. */
static int name_char(parser_t *p, bool first)
{
    int c = peek(p);
    if (c < 0)
        return 0;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return 1;
    if (!first && c >= '0' && c <= '9')
        return 1;
    if (c >= 0x80) {
        uint32_t cp;
        int n = jp_utf8_decode((const unsigned char *)p->s + p->pos, p->len - p->pos, &cp);
        return n < 0 ? 0 : n;
    }
    return 0;
}

static int parse_int(parser_t *p, int64_t *out)
{
    size_t start = p->pos;
    bool neg = false;
    if (peek(p) == '-') {
        neg = true;
        p->pos++;
    }
    int c = peek(p);
    if (c < '0' || c > '9')
        return fail(p, "expected an integer");
    if (c == '0') {
        p->pos++;
        c = peek(p);
        if (neg)
            return fail(p, "-0 is not a valid integer here");
        if (c >= '0' && c <= '9')
            return fail(p, "leading zeros are not allowed");
        *out = 0;
        return DMP_OK;
    }
    int64_t v = 0;
    while ((c = peek(p)) >= '0' && c <= '9') {
        v = v * 10 + (c - '0');
        if (v > JP_MAX_INT) {
            p->pos = start;
            return fail(p, "integer out of the range -(2^53-1)..2^53-1");
        }
        p->pos++;
    }
    *out = neg ? -v : v;
    return DMP_OK;
}

/* ---- segments and selectors */

static int parse_segments(parser_t *p, jp_query_t *q);

static void add_selector(jp_segment_t *sg, const jp_selector_t *sel)
{
    sg->sels = dmp_realloc(sg->sels, (sg->n + 1) * sizeof(*sg->sels));
    sg->sels[sg->n++] = *sel;
}

static int parse_filter(parser_t *p, jp_selector_t *sel)
{
    p->pos++; /* '?' */
    if (!enter(p))
        return p->rc;
    skip_ws(p);
    jp_expr_t *e = parse_or(p);
    p->depth--;
    if (!e)
        return p->rc;
    sel->kind = JP_SEL_FILTER;
    sel->filter = e;
    return DMP_OK;
}

static int check_logical(parser_t *p, const jp_expr_t *e, size_t at_pos);

static int parse_selector(parser_t *p, jp_segment_t *sg)
{
    jp_selector_t sel = {0};
    int c = peek(p);
    if (c == '\'' || c == '"') {
        dmp_buf_t b = DMP_BUF_INIT;
        if (parse_string(p, &b) != DMP_OK) {
            dmp_buf_free(&b);
            return p->rc;
        }
        sel.kind = JP_SEL_NAME;
        sel.name_len = b.len;
        sel.name = dmp_buf_steal(&b);
    } else if (c == '*') {
        p->pos++;
        sel.kind = JP_SEL_WILD;
    } else if (c == '?') {
        size_t at_pos = p->pos + 1;
        if (parse_filter(p, &sel) != DMP_OK)
            return p->rc;
        if (check_logical(p, sel.filter, at_pos) != DMP_OK) {
            jp_expr_free(sel.filter);
            return p->rc;
        }
    } else if (c == '-' || (c >= '0' && c <= '9') || c == ':') {
        int64_t v = 0;
        bool have = false;
        if (c != ':') {
            if (parse_int(p, &v) != DMP_OK)
                return p->rc;
            have = true;
        }
        size_t save = p->pos;
        skip_ws(p);
        if (peek(p) != ':') {
            p->pos = save;
            sel.kind = JP_SEL_INDEX;
            sel.index = v;
        } else {
            sel.kind = JP_SEL_SLICE;
            sel.has_start = have;
            sel.start = v;
            sel.step = 1;
            p->pos++;
            skip_ws(p);
            c = peek(p);
            if (c == '-' || (c >= '0' && c <= '9')) {
                if (parse_int(p, &sel.end) != DMP_OK)
                    return p->rc;
                sel.has_end = true;
                skip_ws(p);
            }
            if (peek(p) == ':') {
                p->pos++;
                save = p->pos;
                skip_ws(p);
                c = peek(p);
                if (c == '-' || (c >= '0' && c <= '9')) {
                    if (parse_int(p, &sel.step) != DMP_OK)
                        return p->rc;
                } else {
                    p->pos = save;
                }
            }
        }
    } else {
        return fail(p, "expected a selector (name, *, index, slice or ?filter)");
    }
    add_selector(sg, &sel);
    return DMP_OK;
}

static int parse_bracketed(parser_t *p, jp_segment_t *sg)
{
    p->pos++; /* '[' */
    for (;;) {
        skip_ws(p);
        if (parse_selector(p, sg) != DMP_OK)
            return p->rc;
        skip_ws(p);
        int c = peek(p);
        if (c == ',') {
            p->pos++;
            continue;
        }
        if (c == ']') {
            p->pos++;
            return DMP_OK;
        }
        return fail(p, "expected ',' or ']' after a selector");
    }
}

static int parse_shorthand(parser_t *p, jp_segment_t *sg)
{
    jp_selector_t sel = {0};
    if (peek(p) == '*') {
        p->pos++;
        sel.kind = JP_SEL_WILD;
        add_selector(sg, &sel);
        return DMP_OK;
    }
    size_t start = p->pos;
    int n = name_char(p, true);
    if (n == 0)
        return fail(p, "expected a member name or '*' after '.'");
    while (n > 0) {
        p->pos += (size_t)n;
        n = name_char(p, false);
    }
    sel.kind = JP_SEL_NAME;
    sel.name_len = p->pos - start;
    sel.name = dmp_strndup(p->s + start, sel.name_len);
    add_selector(sg, &sel);
    return DMP_OK;
}

static int parse_segments(parser_t *p, jp_query_t *q)
{
    for (;;) {
        size_t save = p->pos;
        skip_ws(p);
        int c = peek(p);
        if (c != '[' && c != '.') {
            p->pos = save;
            return DMP_OK;
        }
        q->segs = dmp_realloc(q->segs, (q->n + 1) * sizeof(*q->segs));
        jp_segment_t *sg = &q->segs[q->n++];
        memset(sg, 0, sizeof(*sg));
        if (c == '[') {
            sg->kind = JP_SEG_CHILD;
            if (parse_bracketed(p, sg) != DMP_OK)
                return p->rc;
        } else if (at(p, "..")) {
            sg->kind = JP_SEG_DESC;
            p->pos += 2;
            if (peek(p) == '[') {
                if (parse_bracketed(p, sg) != DMP_OK)
                    return p->rc;
            } else if (parse_shorthand(p, sg) != DMP_OK) {
                return p->rc;
            }
        } else {
            sg->kind = JP_SEG_CHILD;
            p->pos++;
            if (parse_shorthand(p, sg) != DMP_OK)
                return p->rc;
        }
    }
}

static void set_singular(jp_query_t *q)
{
    q->singular = true;
    for (size_t i = 0; i < q->n; i++) {
        const jp_segment_t *sg = &q->segs[i];
        if (sg->kind != JP_SEG_CHILD || sg->n != 1 ||
            (sg->sels[0].kind != JP_SEL_NAME && sg->sels[0].kind != JP_SEL_INDEX))
            q->singular = false;
    }
}

/* ---- filter expressions */

/* The declared result type of an expression used as a function argument or operand. */
typedef enum { T_VALUE, T_LOGICAL, T_NODES } jp_type_t;

static jp_type_t func_result(jp_func_t fn)
{
    switch (fn) {
    case JP_FN_MATCH:
    case JP_FN_SEARCH:
        return T_LOGICAL;
    default:
        return T_VALUE;
    }
}

static const char *func_name(jp_func_t fn)
{
    static const char *names[] = {"length", "count", "match", "search", "value"};
    return names[fn];
}

static int fail_at(parser_t *p, size_t at_pos, const char *fmt, const char *arg)
{
    if (p->rc == DMP_OK) {
        char msg[256];
        snprintf(msg, sizeof(msg), fmt, arg);
        p->rc = DMP_ERR(p->err, DMP_PARSE, "jsonpath column %zu: %s", at_pos + 1, msg);
    }
    return p->rc;
}

/* A test expression (operand of &&, ||, !, a whole filter) must be logical. */
static int check_logical(parser_t *p, const jp_expr_t *e, size_t at_pos)
{
    if (e->paren)
        return DMP_OK;
    switch (e->kind) {
    case JP_E_LIT:
        return fail_at(p, at_pos, "%s", "a literal cannot be used as a test");
    case JP_E_FUNC:
        if (func_result(e->fn) != T_LOGICAL)
            return fail_at(p, at_pos, "%s() returns a value, not a logical result",
                           func_name(e->fn));
        return DMP_OK;
    default:
        return DMP_OK;
    }
}

/* A side of a comparison: a literal, a singular query, or a value-typed call. */
static int check_comparable(parser_t *p, const jp_expr_t *e, size_t at_pos)
{
    if (e->paren)
        return fail_at(p, at_pos, "%s", "a parenthesised expression cannot be compared");
    switch (e->kind) {
    case JP_E_LIT:
        return DMP_OK;
    case JP_E_QUERY:
        if (!e->q.singular)
            return fail_at(p, at_pos, "%s", "only singular queries can be compared");
        return DMP_OK;
    case JP_E_FUNC:
        if (func_result(e->fn) != T_VALUE)
            return fail_at(p, at_pos, "%s() returns a logical result, which cannot be compared",
                           func_name(e->fn));
        return DMP_OK;
    default:
        return fail_at(p, at_pos, "%s", "a logical expression cannot be compared");
    }
}

static int check_arg(parser_t *p, const jp_expr_t *e, jp_type_t want, jp_func_t fn, size_t at_pos)
{
    if (want == T_VALUE) {
        if (!e->paren && (e->kind == JP_E_LIT || (e->kind == JP_E_QUERY && e->q.singular) ||
                          (e->kind == JP_E_FUNC && func_result(e->fn) == T_VALUE)))
            return DMP_OK;
        return fail_at(p, at_pos,
                       "argument of %s() must be a value (literal, singular query "
                       "or value function)",
                       func_name(fn));
    }
    if (!e->paren && e->kind == JP_E_QUERY)
        return DMP_OK;
    return fail_at(p, at_pos, "argument of %s() must be a query", func_name(fn));
}

static jp_expr_t *parse_literal_number(parser_t *p)
{
    size_t start = p->pos;
    bool is_int = true;
    if (peek(p) == '-')
        p->pos++;
    int c = peek(p);
    if (c < '0' || c > '9') {
        fail(p, "expected a number");
        return NULL;
    }
    if (c == '0') {
        p->pos++;
        c = peek(p);
        if (c >= '0' && c <= '9') {
            fail(p, "leading zeros are not allowed");
            return NULL;
        }
    } else {
        while ((c = peek(p)) >= '0' && c <= '9')
            p->pos++;
    }
    if (peek(p) == '.') {
        is_int = false;
        p->pos++;
        c = peek(p);
        if (c < '0' || c > '9') {
            fail(p, "expected digits after '.'");
            return NULL;
        }
        while ((c = peek(p)) >= '0' && c <= '9')
            p->pos++;
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        is_int = false;
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-')
            p->pos++;
        c = peek(p);
        if (c < '0' || c > '9') {
            fail(p, "expected digits in the exponent");
            return NULL;
        }
        while ((c = peek(p)) >= '0' && c <= '9')
            p->pos++;
    }
    char tmp[64];
    size_t n = p->pos - start;
    if (n >= sizeof(tmp)) {
        p->pos = start;
        fail(p, "number literal too long");
        return NULL;
    }
    memcpy(tmp, p->s + start, n);
    tmp[n] = 0;
    jp_expr_t *e = expr_new(JP_E_LIT);
    if (is_int) {
        errno = 0;
        long long v = strtoll(tmp, NULL, 10);
        if (errno == 0) {
            e->lit = json_integer(v);
            return e;
        }
    }
    double d = strtod(tmp, NULL);
    if (!isfinite(d))
        d = d < 0 ? -DBL_MAX : DBL_MAX;
    e->lit = json_real(d);
    return e;
}

static jp_expr_t *parse_function(parser_t *p, const char *name, size_t name_len, size_t at_pos)
{
    static const struct {
        const char *name;
        jp_func_t fn;
        int nargs;
        jp_type_t args[2];
    } table[] = {
        {"length", JP_FN_LENGTH, 1, {T_VALUE, T_VALUE}},
        {"count", JP_FN_COUNT, 1, {T_NODES, T_VALUE}},
        {"match", JP_FN_MATCH, 2, {T_VALUE, T_VALUE}},
        {"search", JP_FN_SEARCH, 2, {T_VALUE, T_VALUE}},
        {"value", JP_FN_VALUE, 1, {T_NODES, T_VALUE}},
    };
    int k = -1;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strlen(table[i].name) == name_len && memcmp(table[i].name, name, name_len) == 0)
            k = (int)i;
    if (k < 0) {
        char nm[64];
        snprintf(nm, sizeof(nm), "%.*s", (int)(name_len > 40 ? 40 : name_len), name);
        fail_at(p, at_pos, "unknown function '%s'", nm);
        return NULL;
    }
    if (!enter(p))
        return NULL;
    p->pos++; /* '(' */
    jp_expr_t *e = expr_new(JP_E_FUNC);
    e->fn = table[k].fn;
    int nargs = 0;
    skip_ws(p);
    if (peek(p) != ')') {
        for (;;) {
            size_t arg_pos = p->pos;
            jp_expr_t *a = parse_or(p);
            if (!a)
                goto bad;
            if (nargs >= table[k].nargs) {
                jp_expr_free(a);
                fail_at(p, arg_pos, "too many arguments to %s()", table[k].name);
                goto bad;
            }
            if (nargs == 0)
                e->a = a;
            else
                e->b = a;
            if (check_arg(p, a, table[k].args[nargs], e->fn, arg_pos) != DMP_OK)
                goto bad;
            nargs++;
            skip_ws(p);
            if (peek(p) == ',') {
                p->pos++;
                skip_ws(p);
                continue;
            }
            break;
        }
    }
    if (peek(p) != ')') {
        fail(p, "expected ')' to close the function call");
        goto bad;
    }
    p->pos++;
    if (nargs != table[k].nargs) {
        fail_at(p, at_pos, "%s() takes a different number of arguments", table[k].name);
        goto bad;
    }
    p->depth--;
    if ((e->fn == JP_FN_MATCH || e->fn == JP_FN_SEARCH) && e->b->kind == JP_E_LIT &&
        json_is_string(e->b->lit)) {
        e->re = jp_iregexp_compile(json_string_value(e->b->lit), json_string_length(e->b->lit),
                                   e->fn == JP_FN_MATCH);
        e->re_invalid = e->re == NULL;
    }
    return e;
bad:
    p->depth--;
    jp_expr_free(e);
    return NULL;
}

/* literal / query / function call, unchecked: the caller knows the context. */
static jp_expr_t *parse_primary(parser_t *p)
{
    int c = peek(p);
    if (c == '@' || c == '$') {
        jp_expr_t *e = expr_new(JP_E_QUERY);
        e->q.relative = c == '@';
        p->pos++;
        if (parse_segments(p, &e->q) != DMP_OK) {
            jp_expr_free(e);
            return NULL;
        }
        set_singular(&e->q);
        return e;
    }
    if (c == '\'' || c == '"') {
        dmp_buf_t b = DMP_BUF_INIT;
        if (parse_string(p, &b) != DMP_OK) {
            dmp_buf_free(&b);
            return NULL;
        }
        jp_expr_t *e = expr_new(JP_E_LIT);
        e->lit = json_stringn(b.data, b.len);
        dmp_buf_free(&b);
        if (!e->lit) {
            jp_expr_free(e);
            fail(p, "string literal is not valid UTF-8");
            return NULL;
        }
        return e;
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return parse_literal_number(p);
    if (c >= 'a' && c <= 'z') {
        size_t start = p->pos;
        while ((c = peek(p)) >= 0 && ((c >= 'a' && c <= 'z') || c == '_' || (c >= '0' && c <= '9')))
            p->pos++;
        size_t n = p->pos - start;
        if (peek(p) == '(')
            return parse_function(p, p->s + start, n, start);
        jp_expr_t *e = NULL;
        if (n == 4 && memcmp(p->s + start, "true", 4) == 0)
            (e = expr_new(JP_E_LIT))->lit = json_true();
        else if (n == 5 && memcmp(p->s + start, "false", 5) == 0)
            (e = expr_new(JP_E_LIT))->lit = json_false();
        else if (n == 4 && memcmp(p->s + start, "null", 4) == 0)
            (e = expr_new(JP_E_LIT))->lit = json_null();
        if (!e) {
            p->pos = start;
            fail(p, "expected a literal, a query or a function call");
        }
        return e;
    }
    fail(p, "expected a literal, '@', '$', '(' , '!' or a function call");
    return NULL;
}

static jp_expr_t *parse_paren(parser_t *p)
{
    if (!enter(p))
        return NULL;
    p->pos++; /* '(' */
    skip_ws(p);
    size_t at_pos = p->pos;
    jp_expr_t *e = parse_or(p);
    p->depth--;
    if (!e)
        return NULL;
    if (check_logical(p, e, at_pos) != DMP_OK) {
        jp_expr_free(e);
        return NULL;
    }
    skip_ws(p);
    if (peek(p) != ')') {
        jp_expr_free(e);
        fail(p, "expected ')'");
        return NULL;
    }
    p->pos++;
    e->paren = true;
    return e;
}

static jp_expr_t *parse_basic(parser_t *p)
{
    int c = peek(p);
    if (c == '!') {
        p->pos++;
        skip_ws(p);
        size_t at_pos = p->pos;
        jp_expr_t *in;
        if (peek(p) == '(') {
            in = parse_paren(p);
        } else {
            in = parse_primary(p);
            if (in && in->kind == JP_E_LIT) {
                jp_expr_free(in);
                fail_at(p, at_pos, "%s", "'!' applies to a query, a call or (...), not a literal");
                return NULL;
            }
            if (in && check_logical(p, in, at_pos) != DMP_OK) {
                jp_expr_free(in);
                return NULL;
            }
        }
        if (!in)
            return NULL;
        jp_expr_t *e = expr_new(JP_E_NOT);
        e->a = in;
        return e;
    }
    if (c == '(')
        return parse_paren(p);
    size_t lhs_pos = p->pos;
    jp_expr_t *lhs = parse_primary(p);
    if (!lhs)
        return NULL;
    size_t save = p->pos;
    skip_ws(p);
    jp_cmp_op_t op;
    size_t oplen = 2;
    if (at(p, "=="))
        op = JP_OP_EQ;
    else if (at(p, "!="))
        op = JP_OP_NE;
    else if (at(p, "<="))
        op = JP_OP_LE;
    else if (at(p, ">="))
        op = JP_OP_GE;
    else if (at(p, "<"))
        op = JP_OP_LT, oplen = 1;
    else if (at(p, ">"))
        op = JP_OP_GT, oplen = 1;
    else {
        p->pos = save;
        return lhs;
    }
    p->pos += oplen;
    skip_ws(p);
    size_t rhs_pos = p->pos;
    jp_expr_t *rhs = parse_primary(p);
    jp_expr_t *e = expr_new(JP_E_CMP);
    e->op = op;
    e->a = lhs;
    e->b = rhs;
    if (!rhs || check_comparable(p, lhs, lhs_pos) != DMP_OK ||
        check_comparable(p, rhs, rhs_pos) != DMP_OK) {
        jp_expr_free(e);
        return NULL;
    }
    return e;
}

static jp_expr_t *parse_and(parser_t *p)
{
    size_t at_pos = p->pos;
    jp_expr_t *a = parse_basic(p);
    while (a) {
        size_t save = p->pos;
        skip_ws(p);
        if (!at(p, "&&")) {
            p->pos = save;
            break;
        }
        p->pos += 2;
        skip_ws(p);
        size_t b_pos = p->pos;
        jp_expr_t *b = parse_basic(p);
        jp_expr_t *e = expr_new(JP_E_AND);
        e->a = a;
        e->b = b;
        if (!b || check_logical(p, a, at_pos) != DMP_OK || check_logical(p, b, b_pos) != DMP_OK) {
            jp_expr_free(e);
            return NULL;
        }
        a = e;
    }
    return a;
}

static jp_expr_t *parse_or(parser_t *p)
{
    size_t at_pos = p->pos;
    jp_expr_t *a = parse_and(p);
    while (a) {
        size_t save = p->pos;
        skip_ws(p);
        if (!at(p, "||")) {
            p->pos = save;
            break;
        }
        p->pos += 2;
        skip_ws(p);
        size_t b_pos = p->pos;
        jp_expr_t *b = parse_and(p);
        jp_expr_t *e = expr_new(JP_E_OR);
        e->a = a;
        e->b = b;
        if (!b || check_logical(p, a, at_pos) != DMP_OK || check_logical(p, b, b_pos) != DMP_OK) {
            jp_expr_free(e);
            a = NULL;
            break;
        }
        a = e;
    }
    return a;
}

int jp_parse(dmp_jsonpath_t *jp, dmp_error_t *err)
{
    parser_t p = {.s = jp->text,
                  .len = jp->text_len,
                  .max_depth = jp->lim.max_depth,
                  .err = err,
                  .rc = DMP_OK};
    if (p.len > jp->lim.max_len)
        return DMP_ERR(err, DMP_LIMIT, "jsonpath expression of %zu bytes exceeds the limit of %zu",
                       p.len, jp->lim.max_len);
    if (peek(&p) != '$')
        return fail(&p, "a query must start with '$'");
    p.pos++;
    if (parse_segments(&p, &jp->q) != DMP_OK)
        return p.rc;
    if (p.pos != p.len)
        return fail(&p, "unexpected character after the query");
    set_singular(&jp->q);
    return DMP_OK;
}
