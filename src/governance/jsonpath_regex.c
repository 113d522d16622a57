/* jsonpath_regex.c -- I-Regexp (RFC 9485) for the JSONPath match() and search()
 * functions, translated to PCRE2.
 *
 * The translator parses the I-Regexp grammar itself, so PCRE2 never sees syntax
 * that I-Regexp does not have (backreferences, lookaround, \d, possessive
 * quantifiers...): such patterns are invalid, and match()/search() then yield
 * LogicalFalse as RFC 9535 requires. The output uses only constructs whose PCRE2
 * meaning is the I-Regexp meaning:
 *   literal characters   -> \x{HHHH}         (no metacharacter surprises)
 *   .                    -> [^\n\r]          (I-Regexp dot excludes CR and LF)
 *   \p{Lu} \P{Lu}        -> the same         (Unicode general categories)
 *   ( ... )              -> (?: ... )        (no captures)
 *   ^ and $ outside [...] -> \A and \z     (anchors, as the compliance suite expects;
 *                                             never PCRE's '$' that allows a final \n)
 *   match()              -> \A(?: ... )\z    (whole string)
 * Matching runs with a match limit and a depth limit, so a hostile pattern costs
 * bounded time.
 */
#include <string.h>

#include "governance/governance_int.h"

#define RX_MAX_PATTERN 4096
#define RX_MAX_GROUPS 64

typedef struct rx {
    const unsigned char *s;
    size_t len, pos;
    int depth;
    dmp_buf_t out;
    bool bad;
} rx_t;

static int rx_peek(const rx_t *r)
{
    return r->pos < r->len ? r->s[r->pos] : -1;
}

static void emit_cp(rx_t *r, uint32_t cp)
{
    dmp_buf_printf(&r->out, "\\x{%X}", (unsigned)cp);
}

/* Reads one literal code point of the pattern (UTF-8). */
static bool next_cp(rx_t *r, uint32_t *cp)
{
    int n = jp_utf8_decode(r->s + r->pos, r->len - r->pos, cp);
    if (n < 0)
        return false;
    r->pos += (size_t)n;
    return true;
}

/* After a '\': a single-character escape, or \p{..} / \P{..}. Returns 1 for a
 * single char (in *cp), 2 for a category escape (already emitted), 0 on error. */
static int escape(rx_t *r, uint32_t *cp)
{
    int c = rx_peek(r);
    if (c < 0)
        return 0;
    r->pos++;
    switch (c) {
    case 'n':
        *cp = '\n';
        return 1;
    case 'r':
        *cp = '\r';
        return 1;
    case 't':
        *cp = '\t';
        return 1;
    case '(':
    case ')':
    case '*':
    case '+':
    case '-':
    case '.':
    case '?':
    case '[':
    case '\\':
    case ']':
    case '^':
    case '{':
    case '|':
    case '}':
        *cp = (uint32_t)c;
        return 1;
    case 'p':
    case 'P': {
        if (rx_peek(r) != '{')
            return 0;
        r->pos++;
        int major = rx_peek(r);
        const char *minors;
        switch (major) {
        case 'L':
            minors = "lmotu";
            break;
        case 'M':
            minors = "cen";
            break;
        case 'N':
            minors = "dlo";
            break;
        case 'P':
            minors = "cdefios";
            break;
        case 'Z':
            minors = "lps";
            break;
        case 'S':
            minors = "ckmo";
            break;
        case 'C':
            minors = "cfno";
            break;
        default:
            return 0;
        }
        r->pos++;
        char cat[3] = {(char)major, 0, 0};
        int m = rx_peek(r);
        if (m > 0 && m != '}') {
            if (!strchr(minors, m))
                return 0;
            cat[1] = (char)m;
            r->pos++;
        }
        if (rx_peek(r) != '}')
            return 0;
        r->pos++;
        dmp_buf_printf(&r->out, "\\%c{%s}", c, cat);
        return 2;
    }
    default:
        return 0;
    }
}

/* One CCchar or escape inside [...]: 1 = char in *cp, 2 = category emitted, 0 = bad. */
static int class_char(rx_t *r, uint32_t *cp)
{
    int c = rx_peek(r);
    if (c == '\\') {
        r->pos++;
        return escape(r, cp);
    }
    if (c < 0 || c == '[' || c == ']' || c == '-')
        return 0;
    return next_cp(r, cp) ? 1 : 0;
}

static void parse_class(rx_t *r)
{
    r->pos++; /* '[' */
    dmp_buf_putc(&r->out, '[');
    if (rx_peek(r) == '^') {
        r->pos++;
        dmp_buf_putc(&r->out, '^');
    }
    bool first = true;
    for (;;) {
        int c = rx_peek(r);
        if (c < 0) {
            r->bad = true;
            return;
        }
        if (c == ']') {
            if (first) { /* "[]" and "[^]" are not I-Regexp */
                r->bad = true;
                return;
            }
            r->pos++;
            dmp_buf_putc(&r->out, ']');
            return;
        }
        if (c == '-') {
            /* only as the first or the last character of the class */
            r->pos++;
            if (!first && rx_peek(r) != ']') {
                r->bad = true;
                return;
            }
            emit_cp(r, '-');
            first = false;
            continue;
        }
        uint32_t lo, hi;
        int k = class_char(r, &lo);
        if (k == 0) {
            r->bad = true;
            return;
        }
        first = false;
        if (k == 2)
            continue;
        emit_cp(r, lo);
        if (rx_peek(r) == '-' && r->pos + 1 < r->len && r->s[r->pos + 1] != ']') {
            r->pos++;
            k = class_char(r, &hi);
            if (k != 1 || hi < lo) {
                r->bad = true;
                return;
            }
            dmp_buf_putc(&r->out, '-');
            emit_cp(r, hi);
        }
    }
}

static void parse_branches(rx_t *r);

static void parse_quantifier(rx_t *r)
{
    int c = rx_peek(r);
    if (c == '*' || c == '+' || c == '?') {
        r->pos++;
        dmp_buf_putc(&r->out, (char)c);
        return;
    }
    if (c != '{')
        return;
    r->pos++;
    size_t start = r->pos, digits = 0;
    while (rx_peek(r) >= '0' && rx_peek(r) <= '9')
        r->pos++, digits++;
    if (digits == 0) {
        r->bad = true;
        return;
    }
    if (rx_peek(r) == ',') {
        r->pos++;
        while (rx_peek(r) >= '0' && rx_peek(r) <= '9')
            r->pos++;
    }
    if (rx_peek(r) != '}') {
        r->bad = true;
        return;
    }
    r->pos++;
    dmp_buf_putc(&r->out, '{');
    dmp_buf_append(&r->out, r->s + start, r->pos - start);
}

static void parse_branch(rx_t *r)
{
    while (!r->bad) {
        int c = rx_peek(r);
        if (c < 0 || c == '|' || c == ')')
            return;
        uint32_t cp;
        switch (c) {
        case '(':
            if (++r->depth > RX_MAX_GROUPS) {
                r->bad = true;
                return;
            }
            r->pos++;
            dmp_buf_puts(&r->out, "(?:");
            parse_branches(r);
            if (rx_peek(r) != ')') {
                r->bad = true;
                return;
            }
            r->pos++;
            r->depth--;
            dmp_buf_putc(&r->out, ')');
            break;
        case '.':
            r->pos++;
            dmp_buf_puts(&r->out, "[^\\n\\r]");
            break;
        case '^':
        case '$':
            /* anchors, as the compliance suite and ECMAScript-based implementations
             * read them (RFC 9485 section 5.3 leaves them to the mapping) */
            r->pos++;
            dmp_buf_puts(&r->out, c == '^' ? "\\A" : "\\z");
            break;
        case '[':
            parse_class(r);
            break;
        case '\\': {
            r->pos++;
            int k = escape(r, &cp);
            if (k == 0)
                r->bad = true;
            else if (k == 1)
                emit_cp(r, cp);
            break;
        }
        case '*':
        case '+':
        case '?':
        case '{':
        case '}':
        case ']':
            r->bad = true; /* a quantifier with nothing to repeat, or a stray bracket */
            return;
        default:
            if (!next_cp(r, &cp)) {
                r->bad = true;
                return;
            }
            emit_cp(r, cp);
        }
        if (!r->bad)
            parse_quantifier(r);
    }
}

static void parse_branches(rx_t *r)
{
    parse_branch(r);
    while (!r->bad && rx_peek(r) == '|') {
        r->pos++;
        dmp_buf_putc(&r->out, '|');
        parse_branch(r);
    }
}

pcre2_code *jp_iregexp_compile(const char *pattern, size_t len, bool anchored)
{
    if (len > RX_MAX_PATTERN)
        return NULL;
    rx_t r = {.s = (const unsigned char *)pattern, .len = len};
    dmp_buf_puts(&r.out, anchored ? "\\A(?:" : "(?:");
    parse_branches(&r);
    if (r.pos != r.len)
        r.bad = true;
    dmp_buf_puts(&r.out, anchored ? ")\\z" : ")");
    pcre2_code *re = NULL;
    if (!r.bad) {
        int ec;
        PCRE2_SIZE eo;
        re =
            pcre2_compile((PCRE2_SPTR)r.out.data, r.out.len, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    }
    dmp_buf_free(&r.out);
    return re;
}

int jp_regex_match(pcre2_code *re, const char *s, size_t len, uint32_t match_limit)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(mc, match_limit);
    pcre2_set_depth_limit(mc, match_limit / 10 + 100);
    int rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, mc);
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT)
        return DMP_LIMIT;
    return 0; /* invalid UTF-8 in the subject and the like: no match */
}
