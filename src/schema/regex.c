/* regex.c -- ECMA-262 patterns on PCRE2 (JIT), with a match limit.
 *
 * PCRE2 is close to ECMA-262; the differences the JSON Schema suite tests are bridged by a
 * small rewrite: '.' excludes only the ECMA line terminators, '\s'/'\S' use ECMA's Unicode
 * white space, '$' matches only at the very end, '\uXXXX' and '\u{...}' are accepted, and
 * '[]' / '[^]' mean "nothing" / "anything". \d and \w stay ASCII as in ECMA.
 */
#include "schema/schema_int.h"

#include <stdio.h>
#include <string.h>

/* Simple patterns -- an optional '^', a sequence of single-character atoms (literal, class,
 * '.', \d \w \s) each with an optional quantifier, an optional '$' -- are also compiled to
 * a bit-parallel NFA (one bit per expanded atom, at most 63). Matching an ASCII subject
 * is then a few word operations per byte, with no backtracking; a subject with non-ASCII
 * bytes goes to PCRE2. Typical event-schema patterns ("^ORD-[0-9]{8}$") take this path. */
typedef struct simple_re {
    uint64_t acc[128]; /* bit j: atom j accepts this byte */
    uint64_t opt;      /* atoms that may be skipped */
    uint64_t loop;     /* atoms that may repeat */
    unsigned n;        /* number of atoms; accepting position is n */
    unsigned max_skip; /* longest run of optional atoms */
    int anchored_start, anchored_end;
} simple_re_t;

struct dmp_re {
    pcre2_code *code;
    int jit;
    simple_re_t *simple;
};

/* Parses one atom at s[*i] into a 128-bit set; 0 on success. */
static int simple_atom(const char *s, size_t n, size_t *i, uint64_t set[2])
{
    set[0] = set[1] = 0;
#define ADD(ch) (set[(ch) >> 6] |= 1ull << ((ch)&63))
    char c = s[*i];
    if (c == '.') {
        for (int ch = 0; ch < 128; ch++)
            if (ch != '\n' && ch != '\r')
                ADD(ch);
        (*i)++;
        return 0;
    }
    if (c == '\\') {
        if (*i + 1 >= n)
            return -1;
        char e = s[*i + 1];
        *i += 2;
        if (e == 'd') {
            for (int ch = '0'; ch <= '9'; ch++)
                ADD(ch);
        } else if (e == 'w') {
            for (int ch = 0; ch < 128; ch++)
                if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= 'A' && ch <= 'Z') || ch == '_')
                    ADD(ch);
        } else if (e == 's') {
            const char *ws = "\t\n\v\f\r ";
            for (const char *w = ws; *w; w++)
                ADD(*w);
        } else if (strchr(".-\\/^$*+?()[]{}|", e) && e) {
            ADD(e);
        } else {
            return -1;
        }
        return 0;
    }
    if (c == '[') {
        size_t j = *i + 1;
        int neg = 0;
        if (j < n && s[j] == '^') {
            neg = 1;
            j++;
        }
        int any = 0;
        while (j < n && s[j] != ']') {
            int lo;
            if (s[j] == '\\') {
                if (j + 1 >= n)
                    return -1;
                char e = s[j + 1];
                if (e == 'd' || e == 'w' || e == 's') {
                    uint64_t sub[2];
                    size_t k = j;
                    if (simple_atom(s, n, &k, sub) < 0)
                        return -1;
                    set[0] |= sub[0];
                    set[1] |= sub[1];
                    j = k;
                    any = 1;
                    continue;
                }
                if (!strchr(".-\\/^$*+?()[]{}|", e) || !e)
                    return -1;
                lo = e;
                j += 2;
            } else {
                lo = (unsigned char)s[j];
                j++;
            }
            if (lo >= 128)
                return -1;
            int hi = lo;
            if (j + 1 < n && s[j] == '-' && s[j + 1] != ']') {
                hi = (unsigned char)s[j + 1];
                if (hi == '\\' || hi >= 128 || hi < lo)
                    return -1;
                j += 2;
            }
            for (int ch = lo; ch <= hi; ch++)
                ADD(ch);
            any = 1;
        }
        if (j >= n || !any)
            return -1;
        if (neg) {
            set[0] = ~set[0];
            set[1] = ~set[1];
        }
        *i = j + 1;
        return 0;
    }
    if ((unsigned char)c >= 128 || strchr("()|*+?{}]$^", c))
        return -1;
    ADD(c);
    (*i)++;
    return 0;
#undef ADD
}

static simple_re_t *simple_compile(const char *s, size_t n)
{
    simple_re_t r;
    memset(&r, 0, sizeof r);
    size_t i = 0;
    if (i < n && s[i] == '^') {
        r.anchored_start = 1;
        i++;
    }
    while (i < n) {
        if (s[i] == '$' && i + 1 == n) {
            r.anchored_end = 1;
            break;
        }
        uint64_t set[2];
        if (simple_atom(s, n, &i, set) < 0)
            return NULL;
        unsigned lo = 1, hi = 1; /* hi == 0: unbounded */
        if (i < n && (s[i] == '*' || s[i] == '+' || s[i] == '?')) {
            lo = s[i] == '+';
            hi = s[i] == '?';
            i++;
        } else if (i < n && s[i] == '{') {
            size_t j = i + 1;
            unsigned a = 0, b;
            if (j >= n || s[j] < '0' || s[j] > '9')
                return NULL;
            while (j < n && s[j] >= '0' && s[j] <= '9' && a < 100)
                a = a * 10 + (unsigned)(s[j++] - '0');
            b = a;
            if (j < n && s[j] == ',') {
                j++;
                if (j < n && s[j] == '}') {
                    b = 0;
                } else {
                    b = 0;
                    while (j < n && s[j] >= '0' && s[j] <= '9' && b < 100)
                        b = b * 10 + (unsigned)(s[j++] - '0');
                    if (b < a)
                        return NULL;
                }
            }
            if (j >= n || s[j] != '}')
                return NULL;
            i = j + 1;
            lo = a;
            hi = b;
            if (hi == 0 && lo == 0 && s[j - 1] != ',')
                return NULL;
        }
        if (i < n && s[i] == '?') /* lazy: same set of matches */
            i++;
        unsigned copies = hi ? hi : lo + 1;
        if (r.n + copies > 63)
            return NULL;
        for (unsigned k = 0; k < copies; k++) {
            unsigned j = r.n++;
            for (int ch = 0; ch < 128; ch++)
                if ((set[ch >> 6] >> (ch & 63)) & 1)
                    r.acc[ch] |= 1ull << j;
            if (k >= lo)
                r.opt |= 1ull << j;
            if (!hi && k == copies - 1)
                r.loop |= 1ull << j;
        }
    }
    unsigned run = 0;
    for (unsigned j = 0; j < r.n; j++) {
        run = (r.opt >> j & 1) ? run + 1 : 0;
        if (run > r.max_skip)
            r.max_skip = run;
    }
    simple_re_t *out = dmp_malloc(sizeof *out);
    *out = r;
    return out;
}

/* Epsilon closure over skippable atoms in O(1): adding the run of 'opt' bits to the active
 * bits inside it carries from the lowest active bit to just past the run, so XOR with
 * 'opt' leaves exactly the positions reachable by skipping. */
static inline uint64_t simple_close(const simple_re_t *r, uint64_t d)
{
    uint64_t x = d & r->opt;
    return d | ((x + r->opt) ^ r->opt);
}

/* 1 match, 0 no match, -1 the subject is not ASCII (use PCRE2). */
static int simple_match(const simple_re_t *r, const char *s, size_t len)
{
    uint64_t fin = 1ull << r->n;
    uint64_t d = simple_close(r, 1);
    if (!r->anchored_end && (d & fin))
        return 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 128)
            return -1;
        uint64_t a = r->acc[c] & d;
        d = (a << 1) | (a & r->loop);
        if (!r->anchored_start)
            d |= 1;
        d = simple_close(r, d);
        if (!r->anchored_end && (d & fin))
            return 1;
        if (!d)
            return 0;
    }
    return (d & fin) != 0;
}

#define ECMA_WS                                                                                    \
    "\\t\\n\\x0b\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029"                                \
    "\\u202f\\u205f\\u3000\\ufeff"

/* ECMA long Unicode property names that PCRE2 spells differently. */
static const char *const prop_names[][2] = {{"Letter", "L"},
                                            {"Lowercase_Letter", "Ll"},
                                            {"Uppercase_Letter", "Lu"},
                                            {"Titlecase_Letter", "Lt"},
                                            {"Modifier_Letter", "Lm"},
                                            {"Other_Letter", "Lo"},
                                            {"digit", "Nd"},
                                            {"Decimal_Number", "Nd"},
                                            {"Number", "N"},
                                            {"Letter_Number", "Nl"},
                                            {"Other_Number", "No"},
                                            {"Punctuation", "P"},
                                            {"Symbol", "S"},
                                            {"Math_Symbol", "Sm"},
                                            {"Currency_Symbol", "Sc"},
                                            {"Separator", "Z"},
                                            {"Space_Separator", "Zs"},
                                            {"Line_Separator", "Zl"},
                                            {"Paragraph_Separator", "Zp"},
                                            {"Mark", "M"},
                                            {"Nonspacing_Mark", "Mn"},
                                            {"Other", "C"},
                                            {"Control", "Cc"},
                                            {"Format", "Cf"},
                                            {"Private_Use", "Co"},
                                            {"Unassigned", "Cn"},
                                            {"Surrogate", "Cs"},
                                            {"", ""}};

static void translate(const char *s, size_t n, dmp_buf_t *o)
{
    int in_class = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            char d = s[i + 1];
            i++;
            if (d == 's' || d == 'S') {
                if (in_class && d == 's')
                    dmp_buf_puts(o, ECMA_WS);
                else if (in_class)
                    dmp_buf_puts(o, "\\S");
                else
                    dmp_buf_puts(o, d == 's' ? "[" ECMA_WS "]" : "[^" ECMA_WS "]");
                continue;
            }
            if (d == 'd' && !in_class) {
                dmp_buf_puts(o, "[0-9]");
                continue;
            }
            if (d == 'D' && !in_class) {
                dmp_buf_puts(o, "[^0-9]");
                continue;
            }
            if ((d == 'p' || d == 'P') && i + 1 < n && s[i + 1] == '{') {
                const char *close = memchr(s + i + 1, '}', n - i - 1);
                if (close) {
                    size_t L = (size_t)(close - (s + i + 2));
                    const char *name = s + i + 2;
                    const char *mapped = NULL;
                    for (size_t k = 0; prop_names[k][0][0]; k++)
                        if (strlen(prop_names[k][0]) == L && !strncmp(prop_names[k][0], name, L))
                            mapped = prop_names[k][1];
                    dmp_buf_putc(o, '\\');
                    dmp_buf_putc(o, d);
                    dmp_buf_putc(o, '{');
                    if (mapped)
                        dmp_buf_puts(o, mapped);
                    else
                        dmp_buf_append(o, name, L);
                    dmp_buf_putc(o, '}');
                    i = (size_t)(close - s);
                    continue;
                }
            }
            dmp_buf_putc(o, '\\');
            dmp_buf_putc(o, d);
            continue;
        }
        if (in_class) {
            if (c == ']')
                in_class = 0;
            dmp_buf_putc(o, c);
            continue;
        }
        if (c == '[') {
            in_class = 1;
            dmp_buf_putc(o, c);
            if (i + 1 < n && s[i + 1] == '^')
                dmp_buf_putc(o, s[++i]);
            if (i + 1 < n && s[i + 1] == ']') {
                dmp_buf_putc(o, s[++i]);
                in_class = 0;
            }
            continue;
        }
        if (c == '.') {
            dmp_buf_puts(o, "[^\\n\\r\\u2028\\u2029]");
            continue;
        }
        dmp_buf_putc(o, c);
    }
}

dmp_re_t *dmp_re_compile(const char *src, size_t len, char *errbuf, size_t errlen)
{
    dmp_buf_t t = DMP_BUF_INIT;
    translate(src, len, &t);
    int ec;
    PCRE2_SIZE eoff;
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    pcre2_set_compile_extra_options(cc, PCRE2_EXTRA_ALT_BSUX);
    pcre2_set_max_pattern_length(cc, 1 << 16);
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)(t.data ? t.data : ""), t.len,
                                     PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX |
                                         PCRE2_ALLOW_EMPTY_CLASS | PCRE2_NEVER_BACKSLASH_C,
                                     &ec, &eoff, cc);
    pcre2_compile_context_free(cc);
    dmp_buf_free(&t);
    if (!code) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        snprintf(errbuf, errlen, "%s", (const char *)msg);
        return NULL;
    }
    dmp_re_t *re = dmp_calloc(1, sizeof *re);
    re->code = code;
    re->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    re->simple = simple_compile(src, len);
    return re;
}

void dmp_re_free(dmp_re_t *re)
{
    if (!re)
        return;
    pcre2_code_free(re->code);
    dmp_free(re->simple);
    dmp_free(re);
}

int dmp_re_search(const dmp_re_t *re, pcre2_match_data *md, pcre2_match_context *mc, const char *s,
                  size_t len)
{
    if (re->simple) {
        int m = simple_match(re->simple, s, len);
        if (m >= 0)
            return m;
    }
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, PCRE2_NO_UTF_CHECK, md, mc);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    return -1;
}

int dmp_re_search_pcre2(const dmp_re_t *re, pcre2_match_data *md, pcre2_match_context *mc,
                        const char *s, size_t len)
{
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, PCRE2_NO_UTF_CHECK, md, mc);
    return rc >= 0 ? 1 : rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

int dmp_re_is_simple(const dmp_re_t *re)
{
    return re->simple != NULL;
}

uint32_t dmp_re_ovec(const dmp_re_t *re)
{
    uint32_t n = 0;
    pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &n);
    return n + 1;
}
