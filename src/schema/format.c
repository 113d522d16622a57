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
#include <pthread.h>
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
    "date-time", "date",          "time", "duration",     "email",        "idn-email",
    "hostname",  "idn-hostname",  "ipv4", "ipv6",         "uri",          "uri-reference",
    "iri",       "iri-reference", "uuid", "uri-template", "json-pointer", "relative-json-pointer",
    "regex"};

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

/* ---- host names: RFC 1123 labels; A-labels and U-labels per IDNA2008 (RFC 5890-5893),
 * with reasonable effort: Punycode decoding, the DISALLOWED exceptions, the CONTEXTJ/O rules
 * of RFC 5892 appendix A, and the Bidi rule, using code point ranges for the scripts. */

static pthread_once_t mark_once = PTHREAD_ONCE_INIT;
static pcre2_code *mark_re;

static void mark_init(void)
{
    int ec;
    PCRE2_SIZE off;
    mark_re =
        pcre2_compile((PCRE2_SPTR) "^\\p{M}", PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &off, NULL);
}

static int is_mark(uint32_t cp)
{
    pthread_once(&mark_once, mark_init);
    if (!mark_re)
        return 0;
    char buf[4];
    size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (n == 1) {
        buf[0] = (char)cp;
    } else if (n == 2) {
        buf[0] = (char)(0xC0 | cp >> 6);
        buf[1] = (char)(0x80 | (cp & 0x3F));
    } else if (n == 3) {
        buf[0] = (char)(0xE0 | cp >> 12);
        buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[2] = (char)(0x80 | (cp & 0x3F));
    } else {
        buf[0] = (char)(0xF0 | cp >> 18);
        buf[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        buf[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[3] = (char)(0x80 | (cp & 0x3F));
    }
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc = pcre2_match(mark_re, (PCRE2_SPTR)buf, n, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

static int in(uint32_t c, uint32_t lo, uint32_t hi)
{
    return c >= lo && c <= hi;
}
static int is_greek(uint32_t c)
{
    return in(c, 0x370, 0x3FF) && c != 0x375 ? 1 : in(c, 0x1F00, 0x1FFF);
}
static int is_hebrew(uint32_t c)
{
    return in(c, 0x591, 0x5F4) || in(c, 0xFB1D, 0xFB4F);
}
static int is_kana_han(uint32_t c)
{
    return (in(c, 0x3040, 0x30FF) && c != 0x30FB) || in(c, 0x31F0, 0x31FF) ||
           in(c, 0x3400, 0x4DBF) || in(c, 0x4E00, 0x9FFF) || in(c, 0xF900, 0xFAFF) ||
           in(c, 0x20000, 0x2FA1F) || c == 0x3005 || c == 0x3006 || c == 0x3007;
}
static int is_virama(uint32_t c)
{
    static const uint32_t v[] = {0x94D,  0x9CD,   0xA4D,   0xACD,   0xB4D,  0xBCD,  0xC4D,  0xCCD,
                                 0xD3B,  0xD3C,   0xD4D,   0xDCA,   0xE3A,  0xEBA,  0xF84,  0x1039,
                                 0x103A, 0x1714,  0x1734,  0x17D2,  0x1A60, 0x1B44, 0x1BAA, 0x1BAB,
                                 0x1BF2, 0x1BF3,  0x2D7F,  0xA806,  0xA8C4, 0xA953, 0xA9C0, 0xAAF6,
                                 0xABED, 0x10A3F, 0x11046, 0x1107F, 0x110B9};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i] == c)
            return 1;
    return 0;
}

/* Bidi classes we need: 'L', 'R' (R and AL), 'A' (AN), 'E' (EN), 'N' (NSM), 'O' (other). */
static char bidi(uint32_t c)
{
    if (in(c, '0', '9') || in(c, 0x6F0, 0x6F9))
        return 'E';
    if (in(c, 0x660, 0x669) || c == 0x66B || c == 0x66C)
        return 'A';
    if (is_mark(c))
        return 'N';
    if (in(c, 0x590, 0x8FF) || in(c, 0xFB1D, 0xFDFF) || in(c, 0xFE70, 0xFEFF) ||
        in(c, 0x10800, 0x10FFF) || in(c, 0x1E800, 0x1EFFF))
        return 'R';
    if (c == '-')
        return 'O';
    return 'L';
}

/* RFC 3492 decoding of the part after "xn--"; 0 on error. */
static int puny_decode(const char *s, size_t n, uint32_t *out, size_t *outn, size_t cap)
{
    size_t b = 0, o = 0;
    for (size_t j = 0; j < n; j++)
        if (s[j] == '-')
            b = j;
    if (b > 0) {
        for (size_t j = 0; j < b; j++) {
            if ((unsigned char)s[j] >= 0x80 || o >= cap)
                return 0;
            out[o++] = (unsigned char)s[j];
        }
        b++;
    }
    uint32_t nn = 128, bias = 72, i = 0;
    for (size_t in_ = b; in_ < n;) {
        uint32_t oldi = i, w = 1;
        for (uint32_t k = 36;; k += 36) {
            if (in_ >= n)
                return 0;
            char c = s[in_++];
            uint32_t d = c >= '0' && c <= '9'   ? (uint32_t)(c - '0' + 26)
                         : c >= 'a' && c <= 'z' ? (uint32_t)(c - 'a')
                         : c >= 'A' && c <= 'Z' ? (uint32_t)(c - 'A')
                                                : 36;
            if (d >= 36 || d > (UINT32_MAX - i) / w)
                return 0;
            i += d * w;
            uint32_t t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
            if (d < t)
                break;
            if (w > UINT32_MAX / (36 - t))
                return 0;
            w *= 36 - t;
        }
        /* adapt */
        uint32_t delta = oldi == 0 ? (i - oldi) / 700 : (i - oldi) / 2;
        delta += delta / (uint32_t)(o + 1);
        uint32_t k = 0;
        while (delta > 455) {
            delta /= 35;
            k += 36;
        }
        bias = k + (36 * delta) / (delta + 38);
        if (i / (o + 1) > 0x10FFFF - nn)
            return 0;
        nn += i / (uint32_t)(o + 1);
        i %= (uint32_t)(o + 1);
        if (o >= cap || nn > 0x10FFFF || (nn >= 0xD800 && nn <= 0xDFFF))
            return 0;
        memmove(out + i + 1, out + i, (o - i) * sizeof(uint32_t));
        out[i++] = nn;
        o++;
    }
    *outn = o;
    return 1;
}

/* Checks one U-label (code points). rtl_domain: some label of the name is right-to-left. */
static int ulabel_ok(const uint32_t *c, size_t n, int rtl_domain)
{
    if (n == 0 || n > 63 || c[0] == '-' || c[n - 1] == '-')
        return 0;
    if (n >= 4 && c[2] == '-' && c[3] == '-')
        return 0;
    if (is_mark(c[0]))
        return 0;
    int arabic_digits = 0, ext_digits = 0, has_kana = 0, has_dot = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t x = c[i];
        if (x < 0x80) {
            if (!isalnum((int)x) && x != '-')
                return 0;
            continue;
        }
        if (x == 0x640 || x == 0x7FA || x == 0x302E || x == 0x302F || in(x, 0x3031, 0x3035) ||
            x == 0x303B || in(x, 0x3002, 0x3002) || x == 0xFF0E || x == 0xFF61)
            return 0;
        if (x == 0xB7 && !(i > 0 && c[i - 1] == 'l' && i + 1 < n && c[i + 1] == 'l'))
            return 0;
        if (x == 0x375 && !(i + 1 < n && is_greek(c[i + 1])))
            return 0;
        if ((x == 0x5F3 || x == 0x5F4) && !(i > 0 && is_hebrew(c[i - 1])))
            return 0;
        if ((x == 0x200D || x == 0x200C) && !(i > 0 && is_virama(c[i - 1])))
            return 0;
        if (x == 0x30FB)
            has_dot = 1;
        if (is_kana_han(x))
            has_kana = 1;
        arabic_digits |= in(x, 0x660, 0x669);
        ext_digits |= in(x, 0x6F0, 0x6F9);
    }
    if (has_dot && !has_kana)
        return 0;
    if (arabic_digits && ext_digits)
        return 0;
    if (!rtl_domain)
        return 1;
    /* RFC 5893 Bidi rule */
    char first = bidi(c[0]);
    size_t last = n;
    while (last > 0 && bidi(c[last - 1]) == 'N')
        last--;
    if (last == 0)
        return 0;
    char end = bidi(c[last - 1]);
    int en = 0, an = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        char b = bidi(c[i]);
        en |= b == 'E';
        an |= b == 'A';
        r |= b == 'R' || b == 'A';
    }
    if (first == 'R') {
        if (en && an)
            return 0;
        for (size_t i = 0; i < n; i++)
            if (bidi(c[i]) == 'L')
                return 0;
        return end == 'R' || end == 'E' || end == 'A';
    }
    if (first == 'L') {
        if (r)
            return 0;
        return end == 'L' || end == 'E';
    }
    return 0;
}

static size_t utf8_decode(const char *s, size_t n, uint32_t *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o < cap;) {
        unsigned char b = (unsigned char)s[i];
        uint32_t cp;
        size_t k = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
        if (i + k > n)
            break;
        cp = k == 1 ? b : k == 2 ? b & 0x1F : k == 3 ? b & 0x0F : b & 0x07;
        for (size_t j = 1; j < k; j++)
            cp = cp << 6 | ((unsigned char)s[i + j] & 0x3F);
        out[o++] = cp;
        i += k;
    }
    return o;
}

static int check_hostname(const char *s, size_t n, int idn)
{
    if (n == 0 || n > 1024)
        return 0;
    uint32_t cps[1024];
    size_t m = utf8_decode(s, n, cps, 1024);
    if (!idn) {
        if (n > 253)
            return 0;
        for (size_t i = 0; i < m; i++)
            if (cps[i] >= 0x80)
                return 0;
    }
    if (m > 253)
        return 0;
    /* split into labels (IDN: the ideographic and fullwidth full stops separate too) */
    size_t starts[256], ends[256], nl = 0, st = 0;
    for (size_t i = 0; i <= m; i++) {
        if (i == m || cps[i] == '.' ||
            (idn && (cps[i] == 0x3002 || cps[i] == 0xFF0E || cps[i] == 0xFF61))) {
            if (nl == 256)
                return 0;
            starts[nl] = st;
            ends[nl++] = i;
            st = i + 1;
        }
    }
    /* decode A-labels, find whether the name is a Bidi domain name */
    uint32_t dec[256][64];
    size_t dn[256];
    int rtl = 0;
    for (size_t l = 0; l < nl; l++) {
        const uint32_t *c = cps + starts[l];
        size_t L = ends[l] - starts[l];
        if (L == 0 || L > 63)
            return 0;
        if (L > 4 && (c[0] | 32) == 'x' && (c[1] | 32) == 'n' && c[2] == '-' && c[3] == '-') {
            char a[64];
            for (size_t i = 4; i < L; i++) {
                if (c[i] >= 0x80)
                    return 0;
                a[i - 4] = (char)c[i];
            }
            if (!puny_decode(a, L - 4, dec[l], &dn[l], 64) || dn[l] == 0)
                return 0;
            int ascii = 1;
            for (size_t i = 0; i < dn[l]; i++)
                ascii &= dec[l][i] < 0x80;
            if (ascii)
                return 0; /* an A-label must encode some non-ASCII */
        } else {
            for (size_t i = 0; i < L; i++) {
                if (!idn && !(isalnum((int)c[i]) || c[i] == '-'))
                    return 0;
                dec[l][i] = c[i];
            }
            dn[l] = L;
            if (!idn && L >= 4 && c[2] == '-' && c[3] == '-')
                return 0;
        }
        for (size_t i = 0; i < dn[l]; i++) {
            char b = bidi(dec[l][i]);
            rtl |= b == 'R' || b == 'A';
        }
    }
    for (size_t l = 0; l < nl; l++)
        if (!ulabel_ok(dec[l], dn[l], rtl))
            return 0;
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
                if (!dot || dot == ip + 1 ||
                    !uri_part(dot + 1, il - (size_t)(dot + 1 - ip), 0, ":"))
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
        if (s[i] == '(' && s[i + 1] == '?' && i + 2 < n && !strchr(":=!<", s[i + 2]))
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
    case F_DATE_TIME:
        return check_date_time(s, n);
    case F_DATE:
        return check_date(s, n);
    case F_TIME:
        return check_time(s, n);
    case F_DURATION:
        return check_duration(s, n);
    case F_EMAIL:
        return check_email(s, n, 0);
    case F_IDN_EMAIL:
        return check_email(s, n, 1);
    case F_HOSTNAME:
        return check_hostname(s, n, 0);
    case F_IDN_HOSTNAME:
        return check_hostname(s, n, 1);
    case F_IPV4:
        return check_ipv4(s, n);
    case F_IPV6:
        return check_ipv6(s, n);
    case F_URI:
        return check_uri(s, n, 0, 1);
    case F_URI_REF:
        return check_uri(s, n, 0, 0);
    case F_IRI:
        return check_uri(s, n, 1, 1);
    case F_IRI_REF:
        return check_uri(s, n, 1, 0);
    case F_UUID:
        return check_uuid(s, n);
    case F_URI_TEMPLATE:
        return check_uri_template(s, n);
    case F_JSON_POINTER:
        return check_json_pointer(s, n);
    case F_REL_JSON_POINTER:
        return check_rel_pointer(s, n);
    case F_REGEX:
        return check_regex(s, n);
    default:
        return 1;
    }
}
