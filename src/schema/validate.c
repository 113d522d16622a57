/* validate.c -- runs a compiled schema over a parsed instance; errors and "basic" output.
 *
 * The walk is one recursive function over (schema node, instance node). State lives in the
 * caller's dmp_schema_ctx_t: the instance path (pointers to keys, built into a string only
 * when an error is reported), the dynamic scope for $dynamicRef, a word stack for the
 * "evaluated" bitsets that unevaluatedProperties/Items need (only when the schema uses
 * them), PCRE2 match data, and the error list.
 */
#include "schema/schema_int.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define MAX_ERRORS 1000
#define MAX_EVAL_DEPTH 2000
#define NOBITS ((size_t)-1)

typedef struct pseg {
    const char *key; /* NULL for an array index */
    uint32_t len;
    uint32_t idx;
} pseg_t;

typedef struct frame {
    const sch_t *s;
    const dmp_json_node_t *in;
} frame_t;

typedef struct verr {
    char *inst, *kwloc, *abs, *kw, *msg;
} verr_t;

struct dmp_schema_ctx {
    dmp_json_doc_t *doc;
    pcre2_match_data *md;
    pcre2_match_context *mc;
    uint32_t md_size;
    uint64_t *bits;
    size_t nbits, capbits;
    pseg_t *path;
    size_t depth, cap_path;
    sch_res_t **scope;
    size_t nscope, cap_scope;
    frame_t *frames; /* schemas with references entered, with their instance */
    size_t nframes, cap_frames;
    uint64_t steps, max_steps;
    verr_t *errs;
    size_t n_errs, cap_errs;
    dmp_schema_error_t *pub;
    size_t cap_pub;
    const dmp_schema_t *S;
    int all, mute, rdepth, limit_hit, valid, dropped;
    int detail;  /* build error records (0: the caller asked only for the verdict) */
    int pending; /* errors happened without records: rebuild them on demand */
    const dmp_json_node_t *last_root;
};

dmp_schema_ctx_t *dmp_schema_ctx_new(void)
{
    dmp_schema_ctx_t *c = dmp_calloc(1, sizeof *c);
    c->doc = dmp_json_doc_new();
    c->md_size = 1;
    c->md = pcre2_match_data_create(1, NULL);
    c->mc = pcre2_match_context_create(NULL);
    return c;
}

static void clear_errors(dmp_schema_ctx_t *c)
{
    for (size_t i = 0; i < c->n_errs; i++) {
        dmp_free(c->errs[i].inst);
        dmp_free(c->errs[i].kwloc);
        dmp_free(c->errs[i].abs);
        dmp_free(c->errs[i].kw);
        dmp_free(c->errs[i].msg);
    }
    c->n_errs = 0;
    c->dropped = 0;
}

void dmp_schema_ctx_free(dmp_schema_ctx_t *c)
{
    if (!c)
        return;
    clear_errors(c);
    dmp_json_doc_free(c->doc);
    pcre2_match_data_free(c->md);
    pcre2_match_context_free(c->mc);
    dmp_free(c->bits);
    dmp_free(c->path);
    dmp_free(c->scope);
    dmp_free(c->frames);
    dmp_free(c->errs);
    dmp_free(c->pub);
    dmp_free(c);
}

/* ---- error reporting (cold) ---- */

static void put_pointer_token(dmp_buf_t *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '~')
            dmp_buf_puts(b, "~0");
        else if (s[i] == '/')
            dmp_buf_puts(b, "~1");
        else
            dmp_buf_putc(b, s[i]);
    }
}

static char *inst_pointer(dmp_schema_ctx_t *c)
{
    dmp_buf_t b = DMP_BUF_INIT;
    for (size_t i = 0; i < c->depth; i++) {
        dmp_buf_putc(&b, '/');
        if (c->path[i].key)
            put_pointer_token(&b, c->path[i].key, c->path[i].len);
        else
            dmp_buf_printf(&b, "%u", c->path[i].idx);
    }
    if (!b.data)
        dmp_buf_puts(&b, "");
    return dmp_buf_steal(&b);
}

/* Short human rendering of a value for messages. */
static void show(dmp_buf_t *b, const dmp_json_node_t *v)
{
    switch (v->type) {
    case DMP_JSON_STRING:
        if (v->len > 40) {
            size_t cut = 37;
            while (cut > 0 && ((uint8_t)v->u.s[cut] & 0xC0) == 0x80)
                cut--;
            dmp_buf_json_str(b, v->u.s, cut);
            b->len--; /* drop the closing quote */
            dmp_buf_puts(b, "...\"");
        } else {
            dmp_buf_json_str(b, v->u.s, v->len);
        }
        break;
    case DMP_JSON_ARRAY:
        dmp_buf_printf(b, "[...] (%u item%s)", v->aux, v->aux == 1 ? "" : "s");
        break;
    case DMP_JSON_OBJECT:
        dmp_buf_printf(b, "{...} (%u properties)", v->aux);
        break;
    default:
        dmp_json_dump(v, b);
        break;
    }
}

static void fmt_num(dmp_buf_t *b, double d)
{
    if (d == floor(d) && fabs(d) < 1e15)
        dmp_buf_printf(b, "%.0f", d);
    else
        dmp_buf_printf(b, "%.17g", d);
}

static const char *type_name(const dmp_json_node_t *v)
{
    switch (v->type) {
    case DMP_JSON_NULL:
        return "null";
    case DMP_JSON_TRUE:
    case DMP_JSON_FALSE:
        return "a boolean";
    case DMP_JSON_NUMBER:
        return "a number";
    case DMP_JSON_STRING:
        return "a string";
    case DMP_JSON_ARRAY:
        return "an array";
    default:
        return "an object";
    }
}

/* Records an error. 'fmt' may use %V (the instance value) and printf conversions. */
static void report(dmp_schema_ctx_t *c, const sch_t *s, const char *kw, const dmp_json_node_t *inst,
                   const char *fmt, ...) __attribute__((noinline, cold));
static void report(dmp_schema_ctx_t *c, const sch_t *s, const char *kw, const dmp_json_node_t *inst,
                   const char *fmt, ...)
{
    if (c->mute)
        return;
    c->valid = 0;
    if (!c->detail) {
        c->pending = 1; /* formatted later, by a re-run, if someone asks */
        return;
    }
    if (c->n_errs >= MAX_ERRORS) {
        c->dropped++;
        return;
    }
    if (c->n_errs == c->cap_errs) {
        c->cap_errs = c->cap_errs ? c->cap_errs * 2 : 8;
        c->errs = dmp_realloc(c->errs, c->cap_errs * sizeof(verr_t));
    }
    verr_t *e = &c->errs[c->n_errs++];
    e->inst = inst_pointer(c);
    e->kw = dmp_strdup(kw);
    /* a boolean "false" schema is itself the keyword */
    const char *sep = s->boolean == 0 ? "" : "/", *k2 = s->boolean == 0 ? "" : kw;
    e->kwloc = dmp_asprintf("%s%s%s", s->loc, sep, k2);
    e->abs = s->doc_uri && s->doc_uri[0] ? dmp_asprintf("%s#%s%s%s", s->doc_uri, s->loc, sep, k2)
                                         : dmp_strdup("");
    /* substitute %V (the instance value, rendered) into the format, then printf it */
    dmp_buf_t v = DMP_BUF_INIT, f = DMP_BUF_INIT, b = DMP_BUF_INIT;
    show(&v, inst);
    for (const char *p = fmt; *p; p++) {
        if (p[0] == '%' && p[1] == 'V') {
            for (size_t i = 0; i < v.len; i++) {
                if (v.data[i] == '%')
                    dmp_buf_putc(&f, '%');
                dmp_buf_putc(&f, v.data[i]);
            }
            p++;
        } else {
            dmp_buf_putc(&f, *p);
        }
    }
    dmp_buf_puts(&b, e->inst[0] ? e->inst : "(root)");
    dmp_buf_puts(&b, ": ");
    va_list ap;
    va_start(ap, fmt);
    dmp_buf_vprintf(&b, f.data ? f.data : "", ap);
    va_end(ap);
    dmp_buf_free(&v);
    dmp_buf_free(&f);
    dmp_buf_printf(&b, " (%s)", kw);
    e->msg = dmp_buf_steal(&b);
}

/* ---- helpers ---- */

/* 1 when report() would keep no record: skip building message pieces. */
static inline int quiet(dmp_schema_ctx_t *c)
{
    if (c->mute)
        return 1;
    if (!c->detail) {
        c->valid = 0;
        c->pending = 1;
        return 1;
    }
    return 0;
}

static inline int fail_now(dmp_schema_ctx_t *c)
{
    return c->mute || !c->all || c->limit_hit;
}

static size_t bits_alloc(dmp_schema_ctx_t *c, uint32_t n)
{
    size_t w = (n + 63) / 64;
    if (c->nbits + w > c->capbits) {
        c->capbits = (c->nbits + w) * 2 + 64;
        c->bits = dmp_realloc(c->bits, c->capbits * sizeof(uint64_t));
    }
    size_t off = c->nbits;
    if (w)
        memset(c->bits + off, 0, w * sizeof(uint64_t));
    c->nbits += w;
    return off;
}

static inline void bit_set(dmp_schema_ctx_t *c, size_t ev, uint32_t i)
{
    if (ev != NOBITS)
        c->bits[ev + i / 64] |= 1ull << (i % 64);
}

static inline int bit_get(dmp_schema_ctx_t *c, size_t ev, uint32_t i)
{
    return (c->bits[ev + i / 64] >> (i % 64)) & 1;
}

static void bits_or(dmp_schema_ctx_t *c, size_t dst, size_t src, uint32_t n)
{
    if (dst == NOBITS || src == NOBITS)
        return;
    for (size_t w = 0; w < (n + 63) / 64; w++)
        c->bits[dst + w] |= c->bits[src + w];
}

static inline int is_integral(double d)
{
    return isfinite(d) && d == floor(d);
}

static inline void push_key(dmp_schema_ctx_t *c, const dmp_json_node_t *k)
{
    if (c->depth == c->cap_path) {
        c->cap_path = c->cap_path ? c->cap_path * 2 : 32;
        c->path = dmp_realloc(c->path, c->cap_path * sizeof(pseg_t));
    }
    c->path[c->depth++] = (pseg_t){k->u.s, k->len, 0};
}

static inline void push_idx(dmp_schema_ctx_t *c, uint32_t i)
{
    if (c->depth == c->cap_path) {
        c->cap_path = c->cap_path ? c->cap_path * 2 : 32;
        c->path = dmp_realloc(c->path, c->cap_path * sizeof(pseg_t));
    }
    c->path[c->depth++] = (pseg_t){NULL, 0, i};
}

static int re_match(dmp_schema_ctx_t *c, const sch_t *s, const char *kw, const dmp_re_t *re,
                    const dmp_json_node_t *str)
{
    int r = dmp_re_search(re, c->md, c->mc, str->u.s, str->len);
    if (r < 0) {
        c->limit_hit = 1;
        int m = c->mute;
        c->mute = 0;
        report(c, s, kw, str, "%V: regular expression hit its match limit");
        c->mute = m;
        return 0;
    }
    return r;
}

static int multiple_ok(double x, double m)
{
    double q = x / m;
    if (!isfinite(q))
        return is_integral(x) && is_integral(1.0 / m);
    double r = nearbyint(q);
    return fabs(q - r) <= 1e-9 * fmax(1.0, fabs(q));
}

static int v_node(dmp_schema_ctx_t *c, const sch_t *s, const dmp_json_node_t *in, size_t ev);

/* In-place applicator on the same instance whose result is only a boolean. */
static int v_quiet(dmp_schema_ctx_t *c, const sch_t *s, const dmp_json_node_t *in, size_t ev)
{
    c->mute++;
    int r = v_node(c, s, in, ev);
    c->mute--;
    return r;
}

static size_t child_count(const dmp_json_node_t *in)
{
    return in->type == DMP_JSON_OBJECT || in->type == DMP_JSON_ARRAY ? in->aux : 0;
}

/* Temporary evaluated-bitset for a branch, when the caller tracks annotations. */
static inline size_t tmp_bits(dmp_schema_ctx_t *c, const dmp_json_node_t *in, size_t ev)
{
    if (ev == NOBITS)
        return NOBITS;
    return bits_alloc(c, (uint32_t)child_count(in));
}

#define FAIL()                                                                                     \
    do {                                                                                           \
        ok = 0;                                                                                    \
        if (fail_now(c))                                                                           \
            goto done;                                                                             \
    } while (0)

static int v_string(dmp_schema_ctx_t *c, const sch_t *s, const dmp_json_node_t *in)
{
    int ok = 1;
    if (s->has & (K_MINLEN | K_MAXLEN)) {
        size_t n = dmp_json_strlen_cp(in);
        if ((s->has & K_MINLEN) && n < s->min_len) {
            report(c, s, "minLength", in, "%V is shorter than %llu characters",
                   (unsigned long long)s->min_len);
            FAIL();
        }
        if ((s->has & K_MAXLEN) && n > s->max_len) {
            report(c, s, "maxLength", in, "%V is longer than %llu characters",
                   (unsigned long long)s->max_len);
            FAIL();
        }
    }
    if (s->pattern && !re_match(c, s, "pattern", s->pattern, in)) {
        if (!c->limit_hit)
            report(c, s, "pattern", in, "%V does not match the pattern '%s'", s->pattern_src);
        FAIL();
    }
    if ((s->has & K_FORMAT) && c->S->format_assert && s->format >= 0 &&
        !dmp_format_check(s->format, in->u.s, in->len)) {
        report(c, s, "format", in, "%V is not a valid %s", s->format_name);
        FAIL();
    }
done:
    return ok;
}

static int v_number(dmp_schema_ctx_t *c, const sch_t *s, const dmp_json_node_t *in)
{
    int ok = 1;
    double x = in->u.d;
    if ((s->has & K_MINIMUM) && !(x >= s->minimum)) {
        if (!quiet(c)) {
            dmp_buf_t b = DMP_BUF_INIT;
            fmt_num(&b, s->minimum);
            report(c, s, "minimum", in, "%V is less than %s", b.data);
            dmp_buf_free(&b);
        }
        FAIL();
    }
    if ((s->has & K_MAXIMUM) && !(x <= s->maximum)) {
        if (!quiet(c)) {
            dmp_buf_t b = DMP_BUF_INIT;
            fmt_num(&b, s->maximum);
            report(c, s, "maximum", in, "%V is greater than %s", b.data);
            dmp_buf_free(&b);
        }
        FAIL();
    }
    if ((s->has & K_XMINIMUM) && !(x > s->xminimum)) {
        if (!quiet(c)) {
            dmp_buf_t b = DMP_BUF_INIT;
            fmt_num(&b, s->xminimum);
            report(c, s, "exclusiveMinimum", in, "%V is not greater than %s", b.data);
            dmp_buf_free(&b);
        }
        FAIL();
    }
    if ((s->has & K_XMAXIMUM) && !(x < s->xmaximum)) {
        if (!quiet(c)) {
            dmp_buf_t b = DMP_BUF_INIT;
            fmt_num(&b, s->xmaximum);
            report(c, s, "exclusiveMaximum", in, "%V is not less than %s", b.data);
            dmp_buf_free(&b);
        }
        FAIL();
    }
    if ((s->has & K_MULTIPLE) && !multiple_ok(x, s->multiple_of)) {
        if (!quiet(c)) {
            dmp_buf_t b = DMP_BUF_INIT;
            fmt_num(&b, s->multiple_of);
            report(c, s, "multipleOf", in, "%V is not a multiple of %s", b.data);
            dmp_buf_free(&b);
        }
        FAIL();
    }
done:
    return ok;
}

static int v_array(dmp_schema_ctx_t *c, const sch_t *s, const dmp_json_node_t *in, size_t ev)
{
    int ok = 1;
    uint32_t n = in->aux;
    if ((s->has & K_MINITEMS) && n < s->min_items) {
        report(c, s, "minItems", in, "%V has fewer than %llu items",
               (unsigned long long)s->min_items);
        FAIL();
    }
    if ((s->has & K_MAXITEMS) && n > s->max_items) {
        report(c, s, "maxItems", in, "%V has more than %llu items",
               (unsigned long long)s->max_items);
        FAIL();
    }
    if ((s->has & K_UNIQUE) && n > 1) {
        /* hash every item, then compare only items whose hashes collide */
        uint64_t hsmall[32];
        uint64_t *h = n <= 32 ? hsmall : dmp_malloc(n * sizeof(uint64_t));
        const dmp_json_node_t *x = in + 1;
        for (uint32_t i = 0; i < n; i++, x += x->span)
            h[i] = dmp_json_deep_hash(x);
        int dup = 0;
        const dmp_json_node_t *a = in + 1;
        for (uint32_t i = 0; i < n && !dup; i++, a += a->span) {
            const dmp_json_node_t *b = a + a->span;
            for (uint32_t j = i + 1; j < n; j++, b += b->span)
                if (h[i] == h[j] && dmp_json_equal(a, b)) {
                    dup = 1;
                    break;
                }
        }
        if (h != hsmall)
            dmp_free(h);
        if (dup) {
            report(c, s, "uniqueItems", in, "%V has duplicate items");
            FAIL();
        }
    }
    if (s->n_prefix || s->items) {
        const dmp_json_node_t *x = in + 1;
        for (uint32_t i = 0; i < n; i++, x += x->span) {
            const sch_t *sub = i < s->n_prefix ? s->prefix[i] : s->items;
            if (!sub)
                continue;
            push_idx(c, i);
            int r = v_node(c, sub, x, NOBITS);
            c->depth--;
            bit_set(c, ev, i);
            if (!r)
                FAIL();
        }
    }
    if (s->contains) {
        uint64_t cnt = 0;
        const dmp_json_node_t *x = in + 1;
        for (uint32_t i = 0; i < n; i++, x += x->span)
            if (v_quiet(c, s->contains, x, NOBITS)) {
                cnt++;
                bit_set(c, ev, i);
            }
        uint64_t minc = s->has_min_contains ? s->min_contains : 1;
        if (cnt < minc) {
            if (s->has_min_contains)
                report(c, s, "minContains", in, "%V has fewer than %llu items matching 'contains'",
                       (unsigned long long)minc);
            else
                report(c, s, "contains", in, "%V has no item matching 'contains'");
            FAIL();
        }
        if (s->has_max_contains && cnt > s->max_contains) {
            report(c, s, "maxContains", in, "%V has more than %llu items matching 'contains'",
                   (unsigned long long)s->max_contains);
            FAIL();
        }
    }
done:
    return ok;
}

static int v_object(dmp_schema_ctx_t *c, const sch_t *s, const dmp_json_node_t *in, size_t ev)
{
    int ok = 1;
    uint32_t n = in->aux;
    if ((s->has & K_MINPROPS) && n < s->min_props) {
        report(c, s, "minProperties", in, "%V has fewer than %llu properties",
               (unsigned long long)s->min_props);
        FAIL();
    }
    if ((s->has & K_MAXPROPS) && n > s->max_props) {
        report(c, s, "maxProperties", in, "%V has more than %llu properties",
               (unsigned long long)s->max_props);
        FAIL();
    }
    uint64_t seen = 0;
    const dmp_json_node_t *end = in + in->span;
    if (s->n_props || s->n_pprops || s->additional || s->prop_names || s->req_fast) {
        uint32_t i = 0;
        for (const dmp_json_node_t *k = in + 1; k < end; k = k + 1 + k[1].span, i++) {
            const dmp_json_node_t *v = k + 1;
            int matched = 0;
            if (s->prop_names) {
                push_key(c, k);
                int r = v_node(c, s->prop_names, k, NOBITS);
                c->depth--;
                if (!r)
                    FAIL();
            }
            const sch_prop_t *p = sch_find_prop(s, k->u.s, k->len, k->aux);
            if (p) {
                matched = 1;
                if (p->req >= 0)
                    seen |= 1ull << p->req;
                push_key(c, k);
                int r = v_node(c, p->s, v, NOBITS);
                c->depth--;
                bit_set(c, ev, i);
                if (!r)
                    FAIL();
            }
            for (size_t j = 0; j < s->n_pprops; j++) {
                const sch_pprop_t *pp = &s->pprops[j];
                if (re_match(c, s, "patternProperties", pp->re, k)) {
                    matched = 1;
                    push_key(c, k);
                    int r = v_node(c, pp->s, v, NOBITS);
                    c->depth--;
                    bit_set(c, ev, i);
                    if (!r)
                        FAIL();
                } else if (c->limit_hit) {
                    FAIL();
                }
            }
            if (!matched && s->additional) {
                push_key(c, k);
                int r;
                if (s->additional->boolean == 0) {
                    report(c, s, "additionalProperties", k, "property %V is not allowed");
                    r = 0;
                } else {
                    r = v_node(c, s->additional, v, NOBITS);
                }
                c->depth--;
                bit_set(c, ev, i);
                if (!r)
                    FAIL();
            }
        }
    }
    if (s->n_required) {
        if (s->req_fast) {
            uint64_t want = s->n_required == 64 ? ~0ull : (1ull << s->n_required) - 1;
            if ((seen & want) != want) {
                for (size_t r = 0; r < s->n_required; r++)
                    if (!(seen >> r & 1)) {
                        report(c, s, "required", in, "required property \"%s\" is missing",
                               s->required[r].name);
                        FAIL();
                    }
            }
        } else {
            for (size_t r = 0; r < s->n_required; r++)
                if (!dmp_json_get(in, s->required[r].name, s->required[r].len)) {
                    report(c, s, "required", in, "required property \"%s\" is missing",
                           s->required[r].name);
                    FAIL();
                }
        }
    }
    for (size_t d = 0; d < s->n_dep_req; d++) {
        const sch_depreq_t *dr = &s->dep_req[d];
        if (!dmp_json_get(in, dr->key.name, dr->key.len))
            continue;
        for (size_t r = 0; r < dr->n; r++)
            if (!dmp_json_get(in, dr->names[r].name, dr->names[r].len)) {
                report(c, s, "dependentRequired", in,
                       "property \"%s\" is required when \"%s\" is present", dr->names[r].name,
                       dr->key.name);
                FAIL();
            }
    }
    for (size_t d = 0; d < s->n_dep_schemas; d++) {
        const sch_prop_t *dp = &s->dep_schemas[d];
        if (!dmp_json_get(in, dp->key.name, dp->key.len))
            continue;
        if (!v_node(c, dp->s, in, ev))
            FAIL();
    }
done:
    return ok;
}

static const sch_t *dynamic_target(dmp_schema_ctx_t *c, const sch_t *s)
{
    for (size_t i = 0; i < c->nscope; i++) {
        const sch_res_t *r = c->scope[i];
        for (size_t j = 0; j < r->n_dyn; j++)
            if (r->dyn[j].s && !strcmp(r->dyn[j].name, s->dyn_name))
                return r->dyn[j].s;
    }
    return s->dyn_ref;
}

static int v_applicators(dmp_schema_ctx_t *c, const sch_t *s, const dmp_json_node_t *in, size_t ev)
{
    int ok = 1;
    if (s->ref && !v_node(c, s->ref, in, ev))
        FAIL();
    if (s->dyn_ref) {
        const sch_t *t = s->dyn_name ? dynamic_target(c, s) : s->dyn_ref;
        if (!v_node(c, t, in, ev))
            FAIL();
    }
    for (size_t i = 0; i < s->n_all_of; i++)
        if (!v_node(c, s->all_of[i], in, ev))
            FAIL();
    if (s->n_any_of) {
        int any = 0;
        for (size_t i = 0; i < s->n_any_of; i++) {
            size_t mark = c->nbits, t = tmp_bits(c, in, ev);
            if (v_quiet(c, s->any_of[i], in, t)) {
                any = 1;
                bits_or(c, ev, t, (uint32_t)child_count(in));
                c->nbits = mark;
                if (ev == NOBITS)
                    break;
            }
            c->nbits = mark;
        }
        if (!any) {
            report(c, s, "anyOf", in, "%V does not match any of the %zu 'anyOf' schemas",
                   s->n_any_of);
            FAIL();
        }
    }
    if (s->n_one_of) {
        size_t matches = 0, first = 0, second = 0;
        for (size_t i = 0; i < s->n_one_of; i++) {
            size_t mark = c->nbits, t = tmp_bits(c, in, ev);
            if (v_quiet(c, s->one_of[i], in, t)) {
                if (matches == 0) {
                    first = i;
                    bits_or(c, ev, t, (uint32_t)child_count(in));
                } else {
                    second = i;
                }
                matches++;
            }
            c->nbits = mark;
            if (matches > 1)
                break;
        }
        if (matches == 0) {
            report(c, s, "oneOf", in, "%V does not match any of the %zu 'oneOf' schemas",
                   s->n_one_of);
            FAIL();
        } else if (matches > 1) {
            report(c, s, "oneOf", in, "%V matches more than one 'oneOf' schema (%zu and %zu)",
                   first, second);
            FAIL();
        }
    }
    if (s->not_ && v_quiet(c, s->not_, in, NOBITS)) {
        report(c, s, "not", in, "%V must not match the 'not' schema");
        FAIL();
    }
    if (s->if_) {
        size_t mark = c->nbits, t = tmp_bits(c, in, ev);
        int r = v_quiet(c, s->if_, in, t);
        if (r)
            bits_or(c, ev, t, (uint32_t)child_count(in));
        c->nbits = mark;
        const sch_t *branch = r ? s->then_ : s->else_;
        if (branch && !v_node(c, branch, in, ev))
            FAIL();
    }
done:
    return ok;
}

static int v_node(dmp_schema_ctx_t *c, const sch_t *s, const dmp_json_node_t *in, size_t ev)
{
    if (s->boolean >= 0) {
        if (s->boolean)
            return 1;
        report(c, s, "false", in, "no value is allowed here (the schema is false)");
        return 0;
    }
    if (++c->rdepth > MAX_EVAL_DEPTH) {
        c->rdepth--;
        c->limit_hit = 1;
        int m = c->mute;
        c->mute = 0;
        report(c, s, "$ref", in, "schema recursion deeper than %d levels", MAX_EVAL_DEPTH);
        c->mute = m;
        return 0;
    }
    if (++c->steps > c->max_steps) {
        c->rdepth--;
        if (!c->limit_hit) {
            c->limit_hit = 1;
            int m = c->mute;
            c->mute = 0;
            report(c, s, "$ref", in, "validation needs more than %llu steps (limit)",
                   (unsigned long long)c->max_steps);
            c->mute = m;
        }
        return 0;
    }
    int framed = 0;
    if (s->ref || s->dyn_ref) {
        /* the same schema on the same instance, in place: an endless reference loop */
        for (size_t i = c->nframes; i-- > 0 && c->frames[i].in == in;)
            if (c->frames[i].s == s) {
                c->rdepth--;
                c->limit_hit = 1;
                int m = c->mute;
                c->mute = 0;
                report(c, s, "$ref", in,
                       "references loop back to this schema without "
                       "consuming the instance");
                c->mute = m;
                return 0;
            }
        if (c->nframes == c->cap_frames) {
            c->cap_frames = c->cap_frames ? c->cap_frames * 2 : 16;
            c->frames = dmp_realloc(c->frames, c->cap_frames * sizeof(frame_t));
        }
        c->frames[c->nframes++] = (frame_t){s, in};
        framed = 1;
    }
    int pushed = 0, ok = 1;
    if (c->nscope == 0 || c->scope[c->nscope - 1] != s->res) {
        if (c->nscope == c->cap_scope) {
            c->cap_scope = c->cap_scope ? c->cap_scope * 2 : 16;
            c->scope = dmp_realloc(c->scope, c->cap_scope * sizeof(sch_res_t *));
        }
        c->scope[c->nscope++] = s->res;
        pushed = 1;
    }
    size_t mark = c->nbits;
    size_t local = ev;
    int need_local = (s->uneval_props && in->type == DMP_JSON_OBJECT) ||
                     (s->uneval_items && in->type == DMP_JSON_ARRAY);
    if (need_local)
        local = bits_alloc(c, in->aux);

    uint8_t t = s->types;
    if (t) {
        int tok = (t >> in->type) & 1;
        if (!tok && in->type == DMP_JSON_NUMBER && (t & T_INTEGER))
            tok = is_integral(in->u.d);
        if (!tok) {
            if (!quiet(c)) {
                dmp_buf_t b = DMP_BUF_INIT;
                static const char *names[] = {"null",   "boolean", "boolean", "number",
                                              "string", "array",   "object",  "integer"};
                int first = 1;
                for (int i = 0; i < 8; i++) {
                    if (i == 2 || !((t >> i) & 1) || (i == 7 && (t & T_NUMBER)))
                        continue;
                    dmp_buf_printf(&b, "%s%s", first ? "" : " or ", names[i]);
                    first = 0;
                }
                report(c, s, "type", in, "%V is %s, not of type %s", type_name(in),
                       b.data ? b.data : "");
                dmp_buf_free(&b);
            }
            FAIL();
        }
    }
    if ((s->has & K_CONST) && !dmp_json_equal(in, s->const_v)) {
        if (!quiet(c)) {
            dmp_buf_t b = DMP_BUF_INIT;
            show(&b, s->const_v);
            report(c, s, "const", in, "%V is not the constant %s", b.data);
            dmp_buf_free(&b);
        }
        FAIL();
    }
    if ((s->has & K_ENUM) && s->enum_v->type == DMP_JSON_ARRAY) {
        int found = 0;
        for (const dmp_json_node_t *e = dmp_json_first(s->enum_v); e && !found;
             e = dmp_json_next(s->enum_v, e))
            found = dmp_json_equal(in, e);
        if (!found) {
            report(c, s, "enum", in, "%V is not one of the %u allowed values",
                   (unsigned)s->enum_v->aux);
            FAIL();
        }
    }
    switch (in->type) {
    case DMP_JSON_STRING:
        if ((s->has & (K_MINLEN | K_MAXLEN | K_FORMAT)) || s->pattern)
            if (!v_string(c, s, in))
                FAIL();
        break;
    case DMP_JSON_NUMBER:
        if (s->has & K_NUMERIC)
            if (!v_number(c, s, in))
                FAIL();
        break;
    case DMP_JSON_ARRAY:
        if (!v_array(c, s, in, local))
            FAIL();
        break;
    case DMP_JSON_OBJECT:
        if (!v_object(c, s, in, local))
            FAIL();
        break;
    default:
        break;
    }
    if (s->has_applicators && !v_applicators(c, s, in, local))
        FAIL();
    if (need_local) {
        const sch_t *u = in->type == DMP_JSON_OBJECT ? s->uneval_props : s->uneval_items;
        const char *kw = in->type == DMP_JSON_OBJECT ? "unevaluatedProperties" : "unevaluatedItems";
        if (in->type == DMP_JSON_OBJECT) {
            uint32_t i = 0;
            for (const dmp_json_node_t *k = in + 1; k < in + in->span; k = k + 1 + k[1].span, i++) {
                if (bit_get(c, local, i))
                    continue;
                push_key(c, k);
                int r;
                if (u->boolean == 0) {
                    report(c, s, kw, k, "property %V is not allowed (not evaluated)");
                    r = 0;
                } else {
                    r = v_node(c, u, k + 1, NOBITS);
                }
                c->depth--;
                bit_set(c, local, i);
                if (!r)
                    FAIL();
            }
        } else {
            uint32_t i = 0;
            for (const dmp_json_node_t *x = in + 1; x < in + in->span; x += x->span, i++) {
                if (bit_get(c, local, i))
                    continue;
                push_idx(c, i);
                int r;
                if (u->boolean == 0) {
                    report(c, s, kw, x, "item %V is not allowed (not evaluated)");
                    r = 0;
                } else {
                    r = v_node(c, u, x, NOBITS);
                }
                c->depth--;
                bit_set(c, local, i);
                if (!r)
                    FAIL();
            }
        }
        bits_or(c, ev, local, in->aux);
    }
done:
    c->nbits = need_local ? mark : c->nbits;
    if (pushed)
        c->nscope--;
    if (framed)
        c->nframes--;
    c->rdepth--;
    return ok;
}

/* ---- entry points ---- */

static int run(const dmp_schema_t *S, dmp_schema_ctx_t *c, const dmp_json_node_t *root, int flags,
               dmp_error_t *err)
{
    clear_errors(c);
    c->S = S;
    c->all = (flags & DMP_SCHEMA_ALL_ERRORS) != 0;
    c->detail = err != NULL || c->all;
    c->pending = 0;
    c->last_root = root;
    c->mute = 0;
    c->rdepth = 0;
    c->limit_hit = 0;
    c->valid = 1;
    c->depth = 0;
    c->nscope = 0;
    c->nframes = 0;
    c->nbits = 0;
    c->steps = 0;
    c->max_steps = S->max_steps;
    if (c->md_size < S->max_captures) {
        pcre2_match_data_free(c->md);
        c->md = pcre2_match_data_create(S->max_captures, NULL);
        c->md_size = S->max_captures;
    }
    pcre2_set_match_limit(c->mc, S->match_limit);
    pcre2_set_depth_limit(c->mc, S->match_limit);
    int ok = v_node(c, S->root, root, NOBITS);
    if (ok && c->n_errs == 0 && !c->limit_hit)
        return DMP_OK;
    c->valid = 0;
    if (c->pending)
        return c->limit_hit ? DMP_LIMIT : DMP_SCHEMA;
    if (c->n_errs == 0) {
        /* an error happened while muted (cannot be reported more precisely) */
        return DMP_ERR(err, DMP_SCHEMA, "document does not match the schema");
    }
    int code = c->limit_hit ? DMP_LIMIT : DMP_SCHEMA;
    DMP_ERR(err, code, "%s", c->errs[0].msg);
    dmp_error_where(err, "%s", c->errs[0].inst);
    return code;
}

int dmp_schema_validate(const dmp_schema_t *S, dmp_schema_ctx_t *c, const char *json, size_t len,
                        int flags, dmp_error_t *err)
{
    dmp_json_limits_t lim = {S->max_instance_bytes, S->max_instance_depth};
    clear_errors(c);
    int rc = dmp_json_parse_into(c->doc, json, len, &lim, err);
    if (rc != DMP_OK) {
        c->valid = 0;
        c->pending = 0;
        return rc;
    }
    return run(S, c, dmp_json_root(c->doc), flags, err);
}

int dmp_schema_validate_node(const dmp_schema_t *S, dmp_schema_ctx_t *c,
                             const dmp_json_node_t *value, int flags, dmp_error_t *err)
{
    return run(S, c, value, flags, err);
}

int dmp_schema_validate_jansson(const dmp_schema_t *S, dmp_schema_ctx_t *c,
                                const struct json_t *value, int flags, dmp_error_t *err)
{
    char *s = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        return DMP_ERR(err, DMP_INVALID, "value cannot be serialised to JSON");
    int rc = dmp_schema_validate(S, c, s, strlen(s), flags, err);
    free(s);
    return rc;
}

/* The last call ran without error records (fail-fast, no 'err'): run it again, on the same
 * instance, with records. */
static void materialise(dmp_schema_ctx_t *c)
{
    if (!c->pending)
        return;
    dmp_error_t e = {0};
    run(c->S, c, c->last_root, DMP_SCHEMA_FAIL_FAST, &e);
}

size_t dmp_schema_ctx_error_count(const dmp_schema_ctx_t *cc)
{
    dmp_schema_ctx_t *c = (dmp_schema_ctx_t *)cc;
    materialise(c);
    return c->n_errs;
}

const dmp_schema_error_t *dmp_schema_ctx_error(const dmp_schema_ctx_t *cc, size_t i)
{
    dmp_schema_ctx_t *c = (dmp_schema_ctx_t *)cc;
    materialise(c);
    if (i >= c->n_errs)
        return NULL;
    if (c->cap_pub < c->n_errs) {
        c->cap_pub = c->n_errs;
        c->pub = dmp_realloc(c->pub, c->cap_pub * sizeof(dmp_schema_error_t));
    }
    verr_t *e = &c->errs[i];
    c->pub[i] = (dmp_schema_error_t){e->inst, e->kwloc, e->abs, e->kw, e->msg};
    return &c->pub[i];
}

void dmp_schema_ctx_basic_output(const dmp_schema_ctx_t *cc, dmp_buf_t *out)
{
    dmp_schema_ctx_t *c = (dmp_schema_ctx_t *)cc;
    materialise(c);
    dmp_buf_printf(out, "{\"valid\":%s", c->valid && c->n_errs == 0 ? "true" : "false");
    if (c->n_errs) {
        dmp_buf_puts(out, ",\"errors\":[");
        for (size_t i = 0; i < c->n_errs; i++) {
            const verr_t *e = &c->errs[i];
            if (i)
                dmp_buf_putc(out, ',');
            dmp_buf_puts(out, "{\"keywordLocation\":");
            dmp_buf_json_str(out, e->kwloc, strlen(e->kwloc));
            if (e->abs[0]) {
                dmp_buf_puts(out, ",\"absoluteKeywordLocation\":");
                dmp_buf_json_str(out, e->abs, strlen(e->abs));
            }
            dmp_buf_puts(out, ",\"instanceLocation\":");
            dmp_buf_json_str(out, e->inst, strlen(e->inst));
            dmp_buf_puts(out, ",\"error\":");
            dmp_buf_json_str(out, e->msg, strlen(e->msg));
            dmp_buf_putc(out, '}');
        }
        dmp_buf_putc(out, ']');
    }
    dmp_buf_putc(out, '}');
}
