/* policy_funcs.c -- the functions a policy rule applies to its targets (`then.function`):
 * truthy, falsy, defined, undefined, pattern, enumeration, length, casing, schema,
 * xor (as in Spectral), plus dmp's duration and compatible.
 *
 * Each function validates its functionOptions once, when the policy is parsed
 * (prepare), and keeps the result (compiled regexes, parsed limits) as its state;
 * check() is then read-only on that state, so one compiled policy serves many
 * threads. User regexes are PCRE2 with a match limit: a hostile pattern fails the
 * check with DMP_LIMIT instead of spinning.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dmp/descriptor.h"
#include "dmp/schema.h"
#include "governance/governance_int.h"

#define FN_REGEX_MATCH_LIMIT 100000

struct gov_func {
    const char *name;
    bool needs_prev;
    int (*prepare)(json_t *opts, void **state, char *msg, size_t n);
    void (*release)(void *state);
    int (*check)(void *state, const gov_call_t *call, char *msg, size_t n);
};

/* ---- helpers */

static bool js_truthy(const json_t *v)
{
    if (!v)
        return false;
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE:
        return false;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0 && !isnan(json_real_value(v));
    case JSON_STRING:
        return json_string_length(v) > 0;
    default:
        return true; /* true, arrays and objects, as in JavaScript */
    }
}

/* A short quoted rendering of a value for messages. */
static void show(const json_t *v, char *out, size_t n)
{
    if (!v) {
        snprintf(out, n, "undefined");
    } else if (json_is_string(v)) {
        snprintf(out, n, "'%.80s%s'", json_string_value(v),
                 json_string_length(v) > 80 ? "..." : "");
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(out, n, "%.80s%s", s ? s : "?", s && strlen(s) > 80 ? "..." : "");
        free(s);
    }
}

static bool opts_only(json_t *opts, const char *const *allowed, char *msg, size_t n)
{
    const char *key;
    json_t *v;
    if (!opts)
        return true;
    if (!json_is_object(opts)) {
        snprintf(msg, n, "functionOptions must be a mapping");
        return false;
    }
    json_object_foreach(opts, key, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok |= strcmp(*a, key) == 0;
        if (!ok) {
            snprintf(msg, n, "unknown option '%s'", key);
            return false;
        }
    }
    return true;
}

typedef struct regex_state {
    pcre2_code *re;
    char *src;
} regex_state_t;

/* Compiles a user pattern: "re" or "/re/flags" with flags among i, m, s, x. */
static pcre2_code *user_regex(const char *pat, char *msg, size_t n, const char *opt)
{
    uint32_t flags = PCRE2_UTF;
    size_t len = strlen(pat);
    const char *body = pat;
    size_t blen = len;
    if (len >= 2 && pat[0] == '/') {
        const char *end = strrchr(pat, '/');
        if (end > pat) {
            bool ok = true;
            uint32_t f = 0;
            for (const char *q = end + 1; *q; q++) {
                if (*q == 'i')
                    f |= PCRE2_CASELESS;
                else if (*q == 'm')
                    f |= PCRE2_MULTILINE;
                else if (*q == 's')
                    f |= PCRE2_DOTALL;
                else if (*q == 'x')
                    f |= PCRE2_EXTENDED;
                else
                    ok = false;
            }
            if (ok) {
                body = pat + 1;
                blen = (size_t)(end - pat - 1);
                flags |= f;
            }
        }
    }
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)body, blen, flags, &ec, &eo, NULL);
    if (!re) {
        PCRE2_UCHAR buf[160];
        pcre2_get_error_message(ec, buf, sizeof(buf));
        snprintf(msg, n, "%s: regex '%.60s' does not compile at offset %zu: %s", opt, pat,
                 (size_t)eo, (const char *)buf);
    }
    return re;
}

/* 1 match, 0 no match, DMP_LIMIT when the match limit was hit. */
static int user_match(pcre2_code *re, const char *s, size_t len)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(mc, FN_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(mc, FN_REGEX_MATCH_LIMIT / 10);
    int rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, mc);
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    return DMP_LIMIT;
}

/* ---- truthy, falsy, defined, undefined: no options */

static int no_opts(json_t *opts, void **state, char *msg, size_t n)
{
    static const char *const none[] = {NULL};
    *state = NULL;
    return opts_only(opts, none, msg, n) ? DMP_OK : DMP_INVALID;
}

static int check_truthy(void *st, const gov_call_t *c, char *msg, size_t n)
{
    if (js_truthy(c->value))
        return 0;
    if (!c->value)
        snprintf(msg, n, "is missing");
    else
        snprintf(msg, n, "is empty (%s)",
                 json_is_string(c->value)  ? "''"
                 : json_is_null(c->value)  ? "null"
                 : json_is_false(c->value) ? "false"
                                           : "0");
    return 1;
}

static int check_falsy(void *st, const gov_call_t *c, char *msg, size_t n)
{
    char v[128];
    if (!js_truthy(c->value))
        return 0;
    show(c->value, v, sizeof(v));
    snprintf(msg, n, "must be empty or absent, not %s", v);
    return 1;
}

static int check_defined(void *st, const gov_call_t *c, char *msg, size_t n)
{
    if (c->value)
        return 0;
    snprintf(msg, n, "is not defined");
    return 1;
}

static int check_undefined(void *st, const gov_call_t *c, char *msg, size_t n)
{
    if (!c->value)
        return 0;
    snprintf(msg, n, "must not be defined");
    return 1;
}

/* ---- pattern: {match, notMatch} */

typedef struct pattern_state {
    regex_state_t match, not_match;
} pattern_state_t;

static void pattern_release(void *st)
{
    pattern_state_t *p = st;
    if (!p)
        return;
    if (p->match.re)
        pcre2_code_free(p->match.re);
    if (p->not_match.re)
        pcre2_code_free(p->not_match.re);
    dmp_free(p->match.src);
    dmp_free(p->not_match.src);
    dmp_free(p);
}

static int pattern_prepare(json_t *opts, void **state, char *msg, size_t n)
{
    static const char *const allowed[] = {"match", "notMatch", NULL};
    if (!opts_only(opts, allowed, msg, n))
        return DMP_INVALID;
    json_t *m = json_object_get(opts, "match"), *nm = json_object_get(opts, "notMatch");
    if (!m && !nm) {
        snprintf(msg, n, "pattern needs 'match' or 'notMatch'");
        return DMP_INVALID;
    }
    if ((m && !json_is_string(m)) || (nm && !json_is_string(nm))) {
        snprintf(msg, n, "'match' and 'notMatch' must be strings");
        return DMP_INVALID;
    }
    pattern_state_t *p = dmp_calloc(1, sizeof(*p));
    if (m && !(p->match.re = user_regex(json_string_value(m), msg, n, "match")))
        goto bad;
    if (nm && !(p->not_match.re = user_regex(json_string_value(nm), msg, n, "notMatch")))
        goto bad;
    p->match.src = dmp_strdup(m ? json_string_value(m) : NULL);
    p->not_match.src = dmp_strdup(nm ? json_string_value(nm) : NULL);
    *state = p;
    return DMP_OK;
bad:
    pattern_release(p);
    return DMP_INVALID;
}

static int pattern_check(void *st, const gov_call_t *c, char *msg, size_t n)
{
    pattern_state_t *p = st;
    char v[128];
    if (!c->value || !json_is_string(c->value))
        return 0;
    const char *s = json_string_value(c->value);
    size_t len = json_string_length(c->value);
    show(c->value, v, sizeof(v));
    if (p->match.re) {
        int m = user_match(p->match.re, s, len);
        if (m < 0) {
            snprintf(msg, n, "regex /%s/ exceeded its match limit on %s", p->match.src, v);
            return DMP_LIMIT;
        }
        if (m == 0) {
            snprintf(msg, n, "%s does not match /%s/", v, p->match.src);
            return 1;
        }
    }
    if (p->not_match.re) {
        int m = user_match(p->not_match.re, s, len);
        if (m < 0) {
            snprintf(msg, n, "regex /%s/ exceeded its match limit on %s", p->not_match.src, v);
            return DMP_LIMIT;
        }
        if (m == 1) {
            snprintf(msg, n, "%s must not match /%s/", v, p->not_match.src);
            return 1;
        }
    }
    return 0;
}

/* ---- enumeration: {values} */

static void json_release(void *st)
{
    if (st)
        json_decref(st);
}

static int enum_prepare(json_t *opts, void **state, char *msg, size_t n)
{
    static const char *const allowed[] = {"values", NULL};
    if (!opts_only(opts, allowed, msg, n))
        return DMP_INVALID;
    json_t *v = json_object_get(opts, "values");
    if (!json_is_array(v) || json_array_size(v) == 0) {
        snprintf(msg, n, "enumeration needs 'values', a non-empty list");
        return DMP_INVALID;
    }
    *state = json_incref(v);
    return DMP_OK;
}

static int enum_check(void *st, const gov_call_t *c, char *msg, size_t n)
{
    json_t *values = st;
    size_t i;
    json_t *x;
    if (!c->value)
        return 0;
    json_array_foreach(values, i, x)
    {
        if (json_equal(x, c->value))
            return 0;
        if (json_is_number(x) && json_is_number(c->value) &&
            json_number_value(x) == json_number_value(c->value))
            return 0;
    }
    char v[128], *all = json_dumps(values, JSON_COMPACT);
    show(c->value, v, sizeof(v));
    snprintf(msg, n, "%s is not one of %.200s", v, all ? all : "the allowed values");
    free(all);
    return 1;
}

/* ---- length: {min, max} */

typedef struct length_state {
    bool has_min, has_max;
    double min, max;
} length_state_t;

static int length_prepare(json_t *opts, void **state, char *msg, size_t n)
{
    static const char *const allowed[] = {"min", "max", NULL};
    if (!opts_only(opts, allowed, msg, n))
        return DMP_INVALID;
    json_t *mn = json_object_get(opts, "min"), *mx = json_object_get(opts, "max");
    if ((!mn && !mx) || (mn && !json_is_number(mn)) || (mx && !json_is_number(mx))) {
        snprintf(msg, n, "length needs a number 'min' or 'max' (or both)");
        return DMP_INVALID;
    }
    length_state_t *l = dmp_calloc(1, sizeof(*l));
    l->has_min = mn != NULL;
    l->has_max = mx != NULL;
    l->min = mn ? json_number_value(mn) : 0;
    l->max = mx ? json_number_value(mx) : 0;
    *state = l;
    return DMP_OK;
}

static int length_check(void *st, const gov_call_t *c, char *msg, size_t n)
{
    length_state_t *l = st;
    double len;
    const char *unit = "";
    json_t *v = c->value;
    if (!v)
        return 0;
    if (json_is_string(v)) {
        size_t k = 0;
        for (const char *s = json_string_value(v); *s; s++)
            k += ((unsigned char)*s & 0xC0) != 0x80;
        len = (double)k;
        unit = " characters";
    } else if (json_is_array(v)) {
        len = (double)json_array_size(v);
        unit = " items";
    } else if (json_is_object(v)) {
        len = (double)json_object_size(v);
        unit = " members";
    } else if (json_is_number(v)) {
        len = json_number_value(v);
    } else {
        return 0;
    }
    if (l->has_min && len < l->min) {
        snprintf(msg, n, "is too short: %g%s, the minimum is %g", len, unit, l->min);
        return 1;
    }
    if (l->has_max && len > l->max) {
        snprintf(msg, n, "is too long: %g%s, the maximum is %g", len, unit, l->max);
        return 1;
    }
    return 0;
}

/* ---- casing: {type, disallowDigits} */

typedef struct casing_state {
    pcre2_code *re;
    char type[8];
} casing_state_t;

static void casing_release(void *st)
{
    casing_state_t *c = st;
    if (c && c->re)
        pcre2_code_free(c->re);
    dmp_free(c);
}

static int casing_prepare(json_t *opts, void **state, char *msg, size_t n)
{
    static const char *const allowed[] = {"type", "disallowDigits", NULL};
    /* %s is the digit set: "0-9", or nothing when digits are disallowed */
    static const struct {
        const char *type, *fmt;
    } kinds[] = {
        {"flat", "[a-z][a-z%s]*"},
        {"camel", "[a-z][a-z%s]*(?:[A-Z%s](?:[a-z%s]+|$))*"},
        {"pascal", "[A-Z][a-z%s]*(?:[A-Z%s](?:[a-z%s]+|$))*"},
        {"kebab", "[a-z][a-z%s]*(?:-[a-z%s]+)*"},
        {"cobol", "[A-Z][A-Z%s]*(?:-[A-Z%s]+)*"},
        {"snake", "[a-z][a-z%s]*(?:_[a-z%s]+)*"},
        {"macro", "[A-Z][A-Z%s]*(?:_[A-Z%s]+)*"},
    };
    if (!opts_only(opts, allowed, msg, n))
        return DMP_INVALID;
    json_t *t = json_object_get(opts, "type"), *dd = json_object_get(opts, "disallowDigits");
    int k = -1;
    for (size_t i = 0; t && json_is_string(t) && i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].type, json_string_value(t)) == 0)
            k = (int)i;
    if (k < 0) {
        snprintf(msg, n,
                 "casing needs 'type', one of flat, camel, pascal, kebab, cobol, snake, "
                 "macro");
        return DMP_INVALID;
    }
    if (dd && !json_is_boolean(dd)) {
        snprintf(msg, n, "'disallowDigits' must be true or false");
        return DMP_INVALID;
    }
    const char *digits = json_is_true(dd) ? "" : "0-9";
    char body[256], pat[300];
    snprintf(body, sizeof(body), kinds[k].fmt, digits, digits, digits);
    snprintf(pat, sizeof(pat), "\\A(?:%s)\\z", body);
    casing_state_t *c = dmp_calloc(1, sizeof(*c));
    snprintf(c->type, sizeof(c->type), "%s", kinds[k].type);
    int ec;
    PCRE2_SIZE eo;
    c->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
    *state = c;
    return DMP_OK;
}

static int casing_check(void *st, const gov_call_t *c, char *msg, size_t n)
{
    casing_state_t *cs = st;
    char v[128];
    if (!c->value || !json_is_string(c->value))
        return 0;
    int m = user_match(cs->re, json_string_value(c->value), json_string_length(c->value));
    if (m == 1)
        return 0;
    show(c->value, v, sizeof(v));
    snprintf(msg, n, "%s is not %s case", v, cs->type);
    return 1;
}

/* ---- xor: {properties} */

static int xor_prepare(json_t *opts, void **state, char *msg, size_t n)
{
    static const char *const allowed[] = {"properties", NULL};
    if (!opts_only(opts, allowed, msg, n))
        return DMP_INVALID;
    json_t *p = json_object_get(opts, "properties"), *x;
    size_t i;
    if (!json_is_array(p) || json_array_size(p) < 2) {
        snprintf(msg, n, "xor needs 'properties', a list of at least two names");
        return DMP_INVALID;
    }
    json_array_foreach(p, i, x)
    {
        if (!json_is_string(x)) {
            snprintf(msg, n, "xor 'properties' must all be strings");
            return DMP_INVALID;
        }
    }
    *state = json_incref(p);
    return DMP_OK;
}

static int xor_check(void *st, const gov_call_t *c, char *msg, size_t n)
{
    json_t *props = st, *x;
    size_t i, found = 0;
    char names[200] = "";
    if (!c->value || !json_is_object(c->value))
        return 0;
    json_array_foreach(props, i, x)
    {
        if (json_object_get(c->value, json_string_value(x)))
            found++;
        size_t l = strlen(names);
        snprintf(names + l, sizeof(names) - l, "%s'%s'", i ? ", " : "", json_string_value(x));
    }
    if (found == 1)
        return 0;
    snprintf(msg, n, "must define exactly one of %s (it defines %zu)", names, found);
    return 1;
}

/* ---- duration: {max, min} ("7d", "24h", ... as retention is written) */

typedef struct duration_state {
    int64_t min_ms, max_ms;
    char min[32], max[32];
} duration_state_t;

static int duration_prepare(json_t *opts, void **state, char *msg, size_t n)
{
    static const char *const allowed[] = {"min", "max", NULL};
    if (!opts_only(opts, allowed, msg, n))
        return DMP_INVALID;
    json_t *mn = json_object_get(opts, "min"), *mx = json_object_get(opts, "max");
    duration_state_t *d = dmp_calloc(1, sizeof(*d));
    d->max_ms = -1;
    if ((!mn && !mx) ||
        (mn && (!json_is_string(mn) || dmp_parse_duration_ms(json_string_value(mn), &d->min_ms))) ||
        (mx && (!json_is_string(mx) || dmp_parse_duration_ms(json_string_value(mx), &d->max_ms)))) {
        dmp_free(d);
        snprintf(msg, n, "duration needs 'min' or 'max' written as a duration (\"365d\")");
        return DMP_INVALID;
    }
    snprintf(d->min, sizeof(d->min), "%s", mn ? json_string_value(mn) : "");
    snprintf(d->max, sizeof(d->max), "%s", mx ? json_string_value(mx) : "");
    *state = d;
    return DMP_OK;
}

static int duration_check(void *st, const gov_call_t *c, char *msg, size_t n)
{
    duration_state_t *d = st;
    int64_t ms;
    char v[128];
    if (!c->value)
        return 0;
    show(c->value, v, sizeof(v));
    if (json_is_integer(c->value) && json_integer_value(c->value) >= 0) {
        ms = json_integer_value(c->value);
    } else if (!json_is_string(c->value) ||
               dmp_parse_duration_ms(json_string_value(c->value), &ms) != DMP_OK) {
        snprintf(msg, n, "%s is not a duration such as \"7d\" or \"24h\"", v);
        return 1;
    }
    if (d->max_ms >= 0 && ms > d->max_ms) {
        snprintf(msg, n, "%s exceeds the maximum of %s", v, d->max);
        return 1;
    }
    if (ms < d->min_ms) {
        snprintf(msg, n, "%s is below the minimum of %s", v, d->min);
        return 1;
    }
    return 0;
}

/* ---- schema: {schema} -- a JSON Schema (2020-12) the value must satisfy, checked by
 * the schema module (dmp/schema.h): this file holds no validator of its own. */

static void schema_release(void *st)
{
    dmp_schema_free(st);
}

static int schema_prepare(json_t *opts, void **state, char *msg, size_t n)
{
    static const char *const allowed[] = {"schema", "allErrors", NULL};
    if (!opts_only(opts, allowed, msg, n))
        return DMP_INVALID;
    json_t *sc = json_object_get(opts, "schema");
    if (!json_is_object(sc) && !json_is_boolean(sc)) {
        snprintf(msg, n, "schema needs 'schema', a JSON Schema (a mapping)");
        return DMP_INVALID;
    }
    char *text = json_dumps(sc, JSON_COMPACT | JSON_ENCODE_ANY);
    dmp_error_t err = {0};
    dmp_schema_t *s = NULL;
    int rc = dmp_schema_compile(text, strlen(text), NULL, &s, &err);
    free(text);
    if (rc != DMP_OK) {
        snprintf(msg, n, "the schema does not compile%s%s: %s", err.where[0] ? " at " : "",
                 err.where, err.msg);
        return DMP_INVALID;
    }
    *state = s;
    return DMP_OK;
}

static int schema_check(void *st, const gov_call_t *c, char *msg, size_t n)
{
    if (!c->value)
        return 0;
    dmp_schema_ctx_t *ctx = dmp_schema_ctx_new();
    dmp_error_t err = {0};
    int rc = dmp_schema_validate_jansson(st, ctx, c->value, DMP_SCHEMA_FAIL_FAST, &err);
    dmp_schema_ctx_free(ctx);
    if (rc == DMP_OK)
        return 0;
    snprintf(msg, n, "does not match the schema: %s", err.msg);
    return rc == DMP_SCHEMA ? 1 : rc;
}

/* ---- compatible: {mode} -- applied to an output port: when the previous version of
 * the product has a port of the same name with another schema, the change must be
 * compatible under 'mode' (the schema module's checker), unless the major version
 * went up. Runs only when the previous version is given. */

typedef struct compat_state {
    int mode;
} compat_state_t;

static int compat_prepare(json_t *opts, void **state, char *msg, size_t n)
{
    static const char *const allowed[] = {"mode", NULL};
    if (!opts_only(opts, allowed, msg, n))
        return DMP_INVALID;
    json_t *m = json_object_get(opts, "mode");
    int mode = m ? (json_is_string(m) ? dmp_compat_mode_parse(json_string_value(m)) : -1)
                 : DMP_COMPAT_BACKWARD;
    if (mode < 0) {
        snprintf(msg, n, "'mode' must be none, backward, forward or full (or *_transitive)");
        return DMP_INVALID;
    }
    compat_state_t *c = dmp_calloc(1, sizeof(*c));
    c->mode = mode;
    *state = c;
    return DMP_OK;
}

/* The major number of a document's "version" ("2.1.0" -> 2), or -1. */
static long doc_major(json_t *doc)
{
    const char *v = json_string_value(json_object_get(doc, "version"));
    char *end;
    if (!v || !(*v >= '0' && *v <= '9'))
        return -1;
    long m = strtol(v, &end, 10);
    return *end == '.' || *end == 0 ? m : -1;
}

static json_t *prev_port(json_t *prev, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(prev, "outputPorts"), i, p)
    {
        const char *pn = json_string_value(json_object_get(p, "name"));
        if (pn && !strcmp(pn, name))
            return p;
    }
    return NULL;
}

static int compat_check(void *st, const gov_call_t *c, char *msg, size_t n)
{
    compat_state_t *cs = st;
    const char *name = json_string_value(json_object_get(c->value, "name"));
    if (!c->prev || !name)
        return 0;
    json_t *old_port = prev_port(c->prev, name);
    json_t *os = json_object_get(old_port, "schema"), *ns = json_object_get(c->value, "schema");
    if (!json_is_object(os) || !json_is_object(ns) || json_equal(os, ns))
        return 0;
    long om = doc_major(c->prev), nm = doc_major(c->doc);
    if (om >= 0 && nm > om)
        return 0;
    char *ot = json_dumps(os, JSON_COMPACT), *nt = json_dumps(ns, JSON_COMPACT);
    dmp_compat_report_t rep = {0};
    dmp_error_t err = {0};
    int rc =
        dmp_schema_compat(ot, strlen(ot), nt, strlen(nt), (dmp_compat_mode_t)cs->mode, &rep, &err);
    free(ot);
    free(nt);
    if (rc != DMP_OK) {
        snprintf(msg, n, "cannot compare the schemas of port '%s': %s", name, err.msg);
        return rc;
    }
    int bad = !rep.compatible;
    if (bad) {
        const char *ver = json_string_value(json_object_get(c->doc, "version"));
        const char *pver = json_string_value(json_object_get(c->prev, "version"));
        const char *loc = rep.n_changes && rep.changes[0].location ? rep.changes[0].location : "";
        snprintf(msg, n,
                 "the schema of port '%s' breaks %s compatibility with version %s "
                 "(%zu change%s; first: %s%s%s), so version %s needs a new major version",
                 name, dmp_compat_mode_name((dmp_compat_mode_t)cs->mode), pver ? pver : "?",
                 rep.n_changes, rep.n_changes == 1 ? "" : "s",
                 rep.n_changes ? rep.changes[0].message : "incompatible", loc[0] ? " at " : "", loc,
                 ver ? ver : "?");
    }
    dmp_compat_report_fini(&rep);
    return bad;
}

/* ---- the table */

static const gov_func_t funcs[] = {
    {"truthy", false, no_opts, NULL, check_truthy},
    {"falsy", false, no_opts, NULL, check_falsy},
    {"defined", false, no_opts, NULL, check_defined},
    {"undefined", false, no_opts, NULL, check_undefined},
    {"pattern", false, pattern_prepare, pattern_release, pattern_check},
    {"enumeration", false, enum_prepare, json_release, enum_check},
    {"length", false, length_prepare, dmp_free, length_check},
    {"casing", false, casing_prepare, casing_release, casing_check},
    {"schema", false, schema_prepare, schema_release, schema_check},
    {"xor", false, xor_prepare, json_release, xor_check},
    {"duration", false, duration_prepare, dmp_free, duration_check},
    {"compatible", true, compat_prepare, dmp_free, compat_check},
};

const gov_func_t *gov_func_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(funcs) / sizeof(funcs[0]); i++)
        if (strcmp(funcs[i].name, name) == 0)
            return &funcs[i];
    return NULL;
}

const char *gov_func_name(const gov_func_t *f)
{
    return f->name;
}

const char *gov_func_suggest(const char *name)
{
    const char *best = NULL;
    int bd = 3;
    for (size_t i = 0; name && i < sizeof(funcs) / sizeof(funcs[0]); i++) {
        int d = dmp_str_distance(name, funcs[i].name);
        if (d < bd) {
            bd = d;
            best = funcs[i].name;
        }
    }
    return best;
}

bool gov_func_needs_prev(const gov_func_t *f)
{
    return f->needs_prev;
}

int gov_func_prepare(const gov_func_t *f, json_t *opts, void **state, char *msg, size_t n)
{
    *state = NULL;
    return f->prepare(opts, state, msg, n);
}

void gov_func_release(const gov_func_t *f, void *state)
{
    if (f->release && state)
        f->release(state);
}

int gov_func_check(const gov_func_t *f, void *state, const gov_call_t *call, char *msg, size_t n)
{
    msg[0] = 0;
    return f->check(state, call, msg, n);
}
