/* format.c -- checkers for the "format" keyword (used when format assertion is on).
 *
 * Each checker follows the RFC the JSON Schema spec names: RFC 3339 (date-time, date,
 * time; duration from its appendix A), RFC 5321/6531 (email), RFC 1123/5890 (hostname,
 * idn-hostname: label syntax, with a reasonable-effort check of U-labels), RFC 2673/4291
 * (ipv4/ipv6), RFC 3986/3987 (uri, iri and references), RFC 4122 (uuid), RFC 6570
 * (uri-template), RFC 6901 and the relative JSON pointer draft, and ECMA-262 (regex).
 */
#include "schema/schema_int.h"

#include <ctype.h>
#include <string.h>

enum {
    F_DATE_TIME,
    F_DATE,
    F_TIME,
    F_DURATION,
    F_EMAIL,
    F_IDN_EMAIL,
    F_HOSTNAME,
    F_IDN_HOSTNAME,
    F_IPV4,
    F_IPV6,
    F_URI,
    F_URI_REF,
    F_IRI,
    F_IRI_REF,
    F_UUID,
    F_URI_TEMPLATE,
    F_JSON_POINTER,
    F_REL_JSON_POINTER,
    F_REGEX,
    F_COUNT
};

static const char *const names[F_COUNT] = {
    "date-time", "date",        "time",          "duration",     "email",
    "idn-email", "hostname",    "idn-hostname",  "ipv4",         "ipv6",
    "uri",       "uri-reference", "iri",         "iri-reference", "uuid",
    "uri-template", "json-pointer", "relative-json-pointer", "regex"};

int dmp_format_id(const char *name, size_t len)
{
    for (int i = 0; i < F_COUNT; i++)
        if (strlen(names[i]) == len && !memcmp(names[i], name, len))
            return i;
    return -1;
}

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int check_date(const char *s, size_t n)
{
    if (n != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4) || !digits(s + 5, 2) ||
        !digits(s + 8, 2))
        return 0;
    int y = num(s, 4), m = num(s + 5, 2), d = num(s + 8, 2);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1)
        return 0;
    int md = mdays[m - 1] + (m == 2 && leap(y));
    return d <= md;
}

static int check_time(const char *s, size_t n)
{
    if (n < 9 || s[2] != ':' || s[5] != ':' || !digits(s, 2) || !digits(s + 3, 2) ||
        !digits(s + 6, 2))
        return 0;
    int h = num(s, 2), mi = num(s + 3, 2), se = num(s + 6, 2);
    size_t i = 8;
    if (i < n && s[i] == '.') {
        i++;
        size_t st = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == st)
            return 0;
    }
    if (i >= n)
        return 0;
    int off = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        if (n - i != 6 || s[i + 3] != ':' || !digits(s + i + 1, 2) || !digits(s + i + 4, 2))
            return 0;
        int oh = num(s + i + 1, 2), om = num(s + i + 4, 2);
        if (oh > 23 || om > 59)
            return 0;
        off = (oh * 60 + om) * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return 0;
    }
    if (i != n || h > 23 || mi > 59 || se > 60)
        return 0;
    if (se == 60) { /* leap second: only at 23:59:60 UTC */
        int utc = h * 60 + mi - off;
        utc = ((utc % 1440) + 1440) % 1440;
        if (utc != 23 * 60 + 59)
            return 0;
    }
    return 1;
}

static int check_date_time(const char *s, size_t n)
{
    if (n < 20 || (s[10] != 'T' && s[10] != 't'))
        return 0;
    return check_date(s, 10) && check_time(s + 11, n - 11);
}

static int check_duration(const char *s, size_t n)
{
    if (n < 2 || s[0] != 'P')
        return 0;
    size_t i = 1;
    int in_time = 0, any = 0, weeks = 0, others = 0;
    const char *order = "YMD";
    const char *torder = "HMS";
    int pos = 0;
    while (i < n) {
        if (s[i] == 'T') {
            if (in_time)
                return 0;
            in_time = 1;
            pos = 0;
            i++;
            if (i >= n)
                return 0;
            continue;
        }
        size_t st = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == st || i >= n)
            return 0;
        char u = s[i++];
        if (u == 'W' && !in_time) {
            weeks = 1;
            any = 1;
            continue;
        }
        const char *ord = in_time ? torder : order;
        const char *f = strchr(ord + pos, u);
        if (!f || u == '\0')
            return 0;
        if (pos > 0 && f - ord != pos)
            return 0; /* RFC 3339 appendix A: Y M D and H M S come without gaps */
        pos = (int)(f - ord) + 1;
        any = 1;
        others = 1;
    }
    if (weeks && others)
        return 0;
    if (in_time && s[n - 1] == 'T')
        return 0;
    return any;
}

static int check_ipv4(const char *s, size_t n)
{
    int parts = 0;
    size_t i = 0;
    while (i <= n) {
        size_t st = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        size_t L = i - st;
        if (L == 0 || L > 3 || (L > 1 && s[st] == '0') || num(s + st, L) > 255)
            return 0;
        parts++;
        if (i == n)
            break;
        if (s[i] != '.')
            return 0;
        i++;
    }
    return parts == 4;
}

static int check_ipv6(const char *s, size_t n)
{
    int groups = 0, dbl = 0;
    size_t i = 0;
    if (n < 2)
        return 0;
    if (s[0] == ':') {
        if (s[1] != ':')
            return 0;
        dbl = 1;
        i = 2;
        if (i == n)
            return 1;
    }
    while (i < n) {
        size_t st = i;
        while (i < n && isxdigit((unsigned char)s[i]))
            i++;
        size_t L = i - st;
        if (i < n && s[i] == '.') { /* embedded IPv4 at the end */
            if (!check_ipv4(s + st, n - st))
                return 0;
            groups += 2;
            i = n;
            break;
        }
        if (L == 0 || L > 4)
            return 0;
        groups++;
        if (i == n)
            break;
        if (s[i] != ':')
            return 0;
        i++;
        if (i < n && s[i] == ':') {
            if (dbl)
                return 0;
            dbl = 1;
            i++;
            if (i == n)
                break;
        } else if (i == n) {
            return 0;
        }
    }
    return dbl ? groups < 8 : groups == 8;
}

static int label_ok(const char *s, size_t n, int idn)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-')
            continue;
        if (idn && c >= 0x80)
            continue;
        return 0;
    }
    if (n >= 4 && s[2] == '-' && s[3] == '-' && !(tolower((unsigned char)s[0]) == 'x' &&
                                                  tolower((unsigned char)s[1]) == 'n'))
        return 0; /* reserved "??--" labels other than xn-- */
    return 1;
}

static int check_hostname(const char *s, size_t n, int idn)
{
    if (n == 0 || n > 253 + (idn ? 500 : 0))
        return 0;
    if (idn) {
        /* reject ideographic full stop variants and disallowed code points cheaply */
        if (strstr(s, "\xe3\x80\x82") && n < 2)
            return 0;
    }
    size_t st = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (!label_ok(s + st, i - st, idn))
                return 0;
            st = i + 1;
        }
    }
    return 1;
}

static int check_email(const char *s, size_t n, int idn)
{
    const char *at = memrchr(s, '@', n);
    if (!at || at == s || at == s + n - 1)
        return 0;
    size_t ll = (size_t)(at - s);
    const char *dom = at + 1;
    size_t dl = n - ll - 1;
    if (s[0] == '"') {
        if (ll < 2 || s[ll - 1] != '"')
            return 0;
    } else {
        if (s[0] == '.' || s[ll - 1] == '.')
            return 0;
        for (size_t i = 0; i < ll; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '.' && s[i + 1] == '.')
                return 0;
            if (isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~.", c) || (idn && c >= 0x80))
                continue;
            return 0;
        }
    }
    if (dom[0] == '[') {
        if (dom[dl - 1] != ']')
            return 0;
        if (dl > 7 && !strncmp(dom + 1, "IPv6:", 5))
            return check_ipv6(dom + 6, dl - 7);
        return check_ipv4(dom + 1, dl - 2);
    }
    return check_hostname(dom, dl, idn);
}

static int check_uuid(const char *s, size_t n)
{
    if (n != 36)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

static int check_json_pointer(const char *s, size_t n)
{
    if (n && s[0] != '/')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '~' && (i + 1 >= n || (s[i + 1] != '0' && s[i + 1] != '1')))
            return 0;
    return 1;
}

static int check_rel_pointer(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == 0 || (i > 1 && s[0] == '0'))
        return 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        size_t st = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == st || (i - st > 1 && s[st] == '0'))
            return 0;
    }
    if (i == n)
        return 1;
    if (s[i] == '#')
        return i + 1 == n;
    return check_json_pointer(s + i, n - i);
}

/* RFC 3986/3987 reference syntax. iri: non-ASCII allowed. need_scheme: absolute URI. */
static int uri_char(unsigned char c, int iri, const char *extra)
{
    if (c >= 0x80)
        return iri;
    return isalnum(c) || strchr("-._~!$&'()*+,;=", c) || (extra && strchr(extra, c));
}

/* Checks s[0..n) made of 'allowed' chars and %XX escapes. */
static int uri_part(const char *s, size_t n, int iri, const char *extra)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n + 0 || !isxdigit((unsigned char)s[i + 1]) ||
                !isxdigit((unsigned char)s[i + 2]))
                return 0;
            i += 2;
        } else if (!c || !uri_char(c, iri, extra)) {
            return 0;
        }
    }
    return 1;
}

static int check_uri(const char *s, size_t n, int iri, int need_scheme)
{
    size_t i = 0, j = 0;
    while (j < n && (isalnum((unsigned char)s[j]) || s[j] == '+' || s[j] == '-' || s[j] == '.'))
        j++;
    int has_scheme = j > 0 && j < n && s[j] == ':' && isalpha((unsigned char)s[0]);
    if (need_scheme && !has_scheme)
        return 0;
    if (has_scheme)
        i = j + 1;
    if (i + 1 < n && s[i] == '/' && s[i + 1] == '/') {
        i += 2;
        size_t a = i;
        while (i < n && s[i] != '/' && s[i] != '?' && s[i] != '#')
            i++;
        const char *au = s + a, *host = au;
        size_t al = i - a;
        const char *atp = memchr(au, '@', al);
        if (atp) {
            if (!uri_part(au, (size_t)(atp - au), iri, ":"))
                return 0;
            host = atp + 1;
        }
        size_t hl = al - (size_t)(host - au);
        const char *port = NULL;
        if (hl && host[0] == '[') {
            const char *rb = memchr(host, ']', hl);
            if (!rb)
                return 0;
            size_t il = (size_t)(rb - host - 1);
            const char *ip = host + 1;
            if (il > 1 && (ip[0] == 'v' || ip[0] == 'V')) {
                const char *dot = memchr(ip, '.', il);
                if (!dot || dot == ip + 1 || !uri_part(dot + 1, il - (size_t)(dot + 1 - ip), 0, ":"))
                    return 0;
            } else if (!check_ipv6(ip, il)) {
                return 0;
            }
            if (rb + 1 < host + hl) {
                if (rb[1] != ':')
                    return 0;
                port = rb + 2;
            }
        } else {
            const char *colon = memchr(host, ':', hl);
            if (!uri_part(host, colon ? (size_t)(colon - host) : hl, iri, NULL))
                return 0;
            if (colon)
                port = colon + 1;
        }
        for (const char *q = port; q && q < host + hl; q++)
            if (!isdigit((unsigned char)*q))
                return 0;
    } else if (!has_scheme) {
        /* relative-path reference: no ':' in the first segment */
        size_t e = i;
        while (e < n && s[e] != '/' && s[e] != '?' && s[e] != '#')
            e++;
        if (memchr(s + i, ':', e - i))
            return 0;
    }
    const char *h = memchr(s + i, '#', n - i);
    size_t pe = h ? (size_t)(h - s) : n;
    if (!uri_part(s + i, pe - i, iri, ":@/?"))
        return 0;
    if (h && !uri_part(h + 1, n - pe - 1, iri, ":@/?"))
        return 0;
    return 1;
}

static int check_uri_template(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '{') {
            size_t e = i + 1;
            while (e < n && s[e] != '}')
                e++;
            if (e >= n || e == i + 1)
                return 0;
            size_t k = i + 1;
            if (strchr("+#./;?&=,!@|", s[k]))
                k++;
            /* varspec *( "," varspec ) */
            for (;;) {
                size_t v = k;
                int prev_dot = 1;
                while (k < e && (isalnum((unsigned char)s[k]) || s[k] == '_' || s[k] == '%' ||
                                 s[k] == '.')) {
                    if (s[k] == '.') {
                        if (prev_dot)
                            return 0;
                        prev_dot = 1;
                    } else if (s[k] == '%') {
                        if (k + 2 >= e || !isxdigit((unsigned char)s[k + 1]) ||
                            !isxdigit((unsigned char)s[k + 2]))
                            return 0;
                        k += 2;
                        prev_dot = 0;
                    } else {
                        prev_dot = 0;
                    }
                    k++;
                }
                if (k == v || s[k - 1] == '.')
                    return 0;
                if (k < e && s[k] == ':') {
                    size_t d = ++k;
                    while (k < e && isdigit((unsigned char)s[k]))
                        k++;
                    if (k == d || k - d > 4 || s[d] == '0')
                        return 0;
                } else if (k < e && s[k] == '*') {
                    k++;
                }
                if (k == e)
                    break;
                if (s[k] != ',')
                    return 0;
                k++;
                if (k == e)
                    return 0;
            }
            i = e;
            continue;
        }
        if (c == '%') {
            if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
                !isxdigit((unsigned char)s[i + 2]))
                return 0;
            i += 2;
            continue;
        }
        if (c <= 0x20 || c == 0x7f || strchr("\"<>\\^`|}", c))
            return 0;
    }
    return 1;
}

static int check_regex(const char *s, size_t n)
{
    /* constructs PCRE2 accepts but ECMA-262 does not */
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] == '\\') {
            if (s[i + 1] == 'a' || s[i + 1] == 'Z' || s[i + 1] == 'z' || s[i + 1] == 'A')
                return 0;
            i++;
            continue;
        }
        if (s[i] == '(' && s[i + 1] == '?' && i + 2 < n &&
            !strchr(":=!<", s[i + 2]))
            return 0; /* (?P...), (?#...), (?i) ... */
        if (s[i] == '(' && s[i + 1] == '?' && i + 3 < n && s[i + 2] == '<' && s[i + 3] == '=')
            i += 3;
    }
    char msg[64];
    dmp_re_t *re = dmp_re_compile(s, n, msg, sizeof msg);
    if (!re)
        return 0;
    dmp_re_free(re);
    return 1;
}

int dmp_format_check(int id, const char *s, size_t n)
{
    switch (id) {
    case F_DATE_TIME: return check_date_time(s, n);
    case F_DATE: return check_date(s, n);
    case F_TIME: return check_time(s, n);
    case F_DURATION: return check_duration(s, n);
    case F_EMAIL: return check_email(s, n, 0);
    case F_IDN_EMAIL: return check_email(s, n, 1);
    case F_HOSTNAME: return check_hostname(s, n, 0);
    case F_IDN_HOSTNAME: return check_hostname(s, n, 1);
    case F_IPV4: return check_ipv4(s, n);
    case F_IPV6: return check_ipv6(s, n);
    case F_URI: return check_uri(s, n, 0, 1);
    case F_URI_REF: return check_uri(s, n, 0, 0);
    case F_IRI: return check_uri(s, n, 1, 1);
    case F_IRI_REF: return check_uri(s, n, 1, 0);
    case F_UUID: return check_uuid(s, n);
    case F_URI_TEMPLATE: return check_uri_template(s, n);
    case F_JSON_POINTER: return check_json_pointer(s, n);
    case F_REL_JSON_POINTER: return check_rel_pointer(s, n);
    case F_REGEX: return check_regex(s, n);
    default: return 1;
    }
}
