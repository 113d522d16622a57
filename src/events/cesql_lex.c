/* cesql_lex.c -- the CESQL tokenizer.
 *
 * Keywords are case-insensitive. Words are runs of [A-Za-z0-9_]: all digits make an
 * integer, anything else a keyword or identifier (the parser decides between attribute
 * and function names). Strings are '...' or "..."; inside them \' (resp. \") and a
 * doubled quote stand for the quote, and any other backslash pair is kept verbatim, so
 * LIKE escapes (\% \_) pass through to the pattern. Positions are 1-based LINE:COL in
 * bytes.
 */
#include "events_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int cq_parse_error(dmp_error_t *err, int line, int col, const char *fmt, ...)
{
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    dmp_error_where(err, "%d:%d", line, col);
    return DMP_ERR(err, DMP_PARSE, "CESQL: %s at %d:%d", what, line, col);
}

void cq_tok_describe(const cq_tok_t *t, char *out, size_t cap)
{
    if (t->kind == CQ_EOF)
        snprintf(out, cap, "end of expression");
    else if (t->len > 24)
        snprintf(out, cap, "'%.24s...'", t->text);
    else
        snprintf(out, cap, "'%.*s'", (int)t->len, t->text);
}

void cq_toks_free(cq_tok_t *toks, size_t n)
{
    if (toks == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        dmp_free(toks[i].str);
    dmp_free(toks);
}

static const struct {
    const char *word;
    cq_tok_kind_t kind;
} keywords[] = {
    {"AND", CQ_AND},   {"OR", CQ_OR},       {"XOR", CQ_XOR},   {"NOT", CQ_NOT},
    {"LIKE", CQ_LIKE}, {"IN", CQ_IN},       {"EXISTS", CQ_EXISTS},
    {"TRUE", CQ_TRUE}, {"FALSE", CQ_FALSE},
};

static int is_word(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

int cq_lex(const char *src, size_t len, cq_tok_t **out, size_t *n_out, dmp_error_t *err)
{
    const char *p = src, *end = src + len, *bol = src;
    int line = 1;
    size_t n = 0, cap = 16;
    cq_tok_t *toks = dmp_calloc(cap, sizeof(*toks));
    int rc;

    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
            if (*p == '\n') {
                line++;
                bol = p + 1;
            }
            p++;
        }
        if (n + 1 >= cap) {
            cap *= 2;
            toks = dmp_realloc(toks, cap * sizeof(*toks));
        }
        cq_tok_t *t = &toks[n];
        memset(t, 0, sizeof(*t));
        t->text = p;
        t->line = line;
        t->col = (int)(p - bol) + 1;
        if (p >= end) {
            t->kind = CQ_EOF;
            n++;
            break;
        }
        char c = *p;
        if (c == '\'' || c == '"') {
            char q = c;
            const char *s = p + 1;
            char *val = dmp_malloc((size_t)(end - s) + 1);
            size_t k = 0;
            int closed = 0;
            while (s < end) {
                if (*s == '\\' && s + 1 < end) {
                    if (s[1] == q)
                        val[k++] = q;
                    else {
                        val[k++] = s[0];
                        val[k++] = s[1];
                    }
                    s += 2;
                } else if (*s == q && s + 1 < end && s[1] == q) {
                    val[k++] = q;
                    s += 2;
                } else if (*s == q) {
                    closed = 1;
                    s++;
                    break;
                } else {
                    if (*s == '\n') {
                        line++;
                        bol = s + 1;
                    }
                    val[k++] = *s++;
                }
            }
            if (!closed) {
                dmp_free(val);
                rc = cq_parse_error(err, t->line, t->col, "unterminated string literal");
                goto fail;
            }
            if (memchr(val, '\0', k) != NULL) {
                dmp_free(val);
                rc = cq_parse_error(err, t->line, t->col, "NUL byte in string literal");
                goto fail;
            }
            val[k] = '\0';
            t->kind = CQ_STRING;
            t->str = val;
            t->slen = k;
            p = s;
        } else if (is_word(c)) {
            const char *s = p;
            int all_digits = 1;
            while (p < end && is_word(*p)) {
                if (!isdigit((unsigned char)*p))
                    all_digits = 0;
                p++;
            }
            size_t wl = (size_t)(p - s);
            if (all_digits) {
                int64_t v = 0;
                for (const char *d = s; d < p; d++) {
                    v = v * 10 + (*d - '0');
                    if (v > 2147483648LL) {
                        t->len = wl;
                        rc = cq_parse_error(err, t->line, t->col,
                                            "integer literal '%.*s' is outside the 32-bit range",
                                            (int)(wl > 30 ? 30 : wl), s);
                        goto fail;
                    }
                }
                t->kind = CQ_INT;
                t->ival = v;
            } else {
                t->kind = CQ_IDENT;
                for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
                    if (strlen(keywords[i].word) == wl && strncasecmp(keywords[i].word, s, wl) == 0)
                        t->kind = keywords[i].kind;
            }
        } else {
            p++;
            switch (c) {
            case '(': t->kind = CQ_LPAREN; break;
            case ')': t->kind = CQ_RPAREN; break;
            case ',': t->kind = CQ_COMMA; break;
            case '+': t->kind = CQ_PLUS; break;
            case '-': t->kind = CQ_MINUS; break;
            case '*': t->kind = CQ_STAR; break;
            case '/': t->kind = CQ_SLASH; break;
            case '%': t->kind = CQ_PERCENT; break;
            case '=': t->kind = CQ_EQ; break;
            case '!':
                if (p < end && *p == '=') {
                    p++;
                    t->kind = CQ_NE;
                    break;
                }
                rc = cq_parse_error(err, t->line, t->col, "unexpected character '!'");
                goto fail;
            case '<':
                t->kind = CQ_LT;
                if (p < end && *p == '=') {
                    p++;
                    t->kind = CQ_LE;
                } else if (p < end && *p == '>') {
                    p++;
                    t->kind = CQ_NE;
                }
                break;
            case '>':
                t->kind = CQ_GT;
                if (p < end && *p == '=') {
                    p++;
                    t->kind = CQ_GE;
                }
                break;
            default:
                if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
                    rc = cq_parse_error(err, t->line, t->col, "unexpected character '%c'", c);
                else
                    rc = cq_parse_error(err, t->line, t->col, "unexpected byte 0x%02x",
                                        (unsigned char)c);
                goto fail;
            }
        }
        t->len = (size_t)(p - t->text);
        n++;
    }
    *out = toks;
    *n_out = n;
    return DMP_OK;
fail:
    cq_toks_free(toks, n);
    *out = NULL;
    *n_out = 0;
    return rc;
}
