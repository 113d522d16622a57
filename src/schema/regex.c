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

struct dmp_re {
    pcre2_code *code;
    int jit;
};

#define ECMA_WS "\\t\\n\\x0b\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029" \
                "\\u202f\\u205f\\u3000\\ufeff"

/* ECMA long Unicode property names that PCRE2 spells differently. */
static const char *const prop_names[][2] = {
    {"Letter", "L"},           {"Lowercase_Letter", "Ll"}, {"Uppercase_Letter", "Lu"},
    {"Titlecase_Letter", "Lt"}, {"Modifier_Letter", "Lm"},  {"Other_Letter", "Lo"},
    {"digit", "Nd"},           {"Decimal_Number", "Nd"},   {"Number", "N"},
    {"Letter_Number", "Nl"},   {"Other_Number", "No"},     {"Punctuation", "P"},
    {"Symbol", "S"},           {"Math_Symbol", "Sm"},      {"Currency_Symbol", "Sc"},
    {"Separator", "Z"},        {"Space_Separator", "Zs"},  {"Line_Separator", "Zl"},
    {"Paragraph_Separator", "Zp"}, {"Mark", "M"},          {"Nonspacing_Mark", "Mn"},
    {"Other", "C"},            {"Control", "Cc"},          {"Format", "Cf"},
    {"Private_Use", "Co"},     {"Unassigned", "Cn"},       {"Surrogate", "Cs"},
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
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)(t.data ? t.data : ""), t.len,
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
    return re;
}

void dmp_re_free(dmp_re_t *re)
{
    if (!re)
        return;
    pcre2_code_free(re->code);
    dmp_free(re);
}

int dmp_re_search(const dmp_re_t *re, pcre2_match_data *md, pcre2_match_context *mc,
                  const char *s, size_t len)
{
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, PCRE2_NO_UTF_CHECK, md, mc);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    return -1;
}

uint32_t dmp_re_ovec(const dmp_re_t *re)
{
    uint32_t n = 0;
    pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &n);
    return n + 1;
}
