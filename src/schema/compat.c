/* compat.c -- schema compatibility (Confluent's BACKWARD / FORWARD / FULL, transitive too).
 *
 * One structural walk, narrower(A, B), lists every place where schema B rejects documents
 * that schema A accepts. BACKWARD (new reads old data) is narrower(old, new); FORWARD (old
 * reads new data) is narrower(new, old); FULL is both. The walk understands the keywords
 * whose effect on the accepted set is easy to order (type, enum, const, bounds, pattern,
 * required, properties, additionalProperties, items, ...); for composition keywords
 * (allOf/anyOf/oneOf/not/if/...) any change on the reading side is reported, which errs on
 * the side of calling a change breaking. Local "$ref"s ("#...") are followed.
 */
#include "schema/schema_int.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

static const char *const mode_names[] = {
    "none",           "backward", "forward", "full", "backward_transitive", "forward_transitive",
    "full_transitive"};

int dmp_compat_mode_parse(const char *s)
{
    for (int i = 0; i < 7; i++) {
        if (!strcasecmp(s, mode_names[i]))
            return i;
        /* accept "full-transitive" too */
        char alt[32];
        snprintf(alt, sizeof alt, "%s", mode_names[i]);
        for (char *p = alt; *p; p++)
            if (*p == '_')
                *p = '-';
        if (!strcasecmp(s, alt))
            return i;
    }
    return -1;
}

const char *dmp_compat_mode_name(dmp_compat_mode_t m)
{
    return (unsigned)m < 7 ? mode_names[m] : "unknown";
}

typedef struct walk {
    const dmp_json_node_t *aroot, *broot;
    dmp_compat_report_t *out;
    int dir;        /* DMP_COMPAT_BACKWARD: A = old, B = new; FORWARD: A = new, B = old */
    size_t version; /* index of the older version */
    int depth;
} walk_t;

static void add(walk_t *w, const char *loc, const char *kind, const char *fmt, ...)
    DMP_PRINTF(4, 5);
static void add(walk_t *w, const char *loc, const char *kind, const char *fmt, ...)
{
    dmp_compat_report_t *r = w->out;
    r->changes = dmp_realloc(r->changes, (r->n_changes + 1) * sizeof(dmp_compat_change_t));
    dmp_compat_change_t *c = &r->changes[r->n_changes++];
    c->location = dmp_strdup(loc[0] ? loc : "/");
    c->kind = dmp_strdup(kind);
    dmp_buf_t b = DMP_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    dmp_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    dmp_buf_printf(&b, " (breaks %s compatibility)",
                   w->dir == DMP_COMPAT_BACKWARD ? "backward" : "forward");
    c->message = dmp_buf_steal(&b);
    c->direction = w->dir;
    c->version = w->version;
}

/* "old"/"new" names of the A and B sides. */
static const char *aname(walk_t *w)
{
    return w->dir == DMP_COMPAT_BACKWARD ? "old" : "new";
}
static const char *bname(walk_t *w)
{
    return w->dir == DMP_COMPAT_BACKWARD ? "new" : "old";
}

static const dmp_json_node_t *kw(const dmp_json_node_t *s, const char *k)
{
    return s && s->type == DMP_JSON_OBJECT ? dmp_json_get(s, k, strlen(k)) : NULL;
}

static const dmp_json_node_t *follow_local_ref(const dmp_json_node_t *root,
                                               const dmp_json_node_t *s)
{
    for (int hops = 0; hops < 32; hops++) {
        const dmp_json_node_t *r = kw(s, "$ref");
        if (!r || r->type != DMP_JSON_STRING || r->u.s[0] != '#')
            return s;
        const char *p = r->u.s + 1;
        const dmp_json_node_t *cur = root;
        dmp_buf_t tok = DMP_BUF_INIT;
        while (cur && *p == '/') {
            p++;
            dmp_buf_reset(&tok);
            while (*p && *p != '/') {
                if (p[0] == '~' && (p[1] == '0' || p[1] == '1')) {
                    dmp_buf_putc(&tok, p[1] == '0' ? '~' : '/');
                    p += 2;
                } else {
                    dmp_buf_putc(&tok, *p++);
                }
            }
            const char *t = tok.data ? tok.data : "";
            if (cur->type == DMP_JSON_OBJECT)
                cur = dmp_json_get(cur, t, tok.len);
            else if (cur->type == DMP_JSON_ARRAY)
                cur = dmp_json_at(cur, strtoul(t, NULL, 10));
            else
                cur = NULL;
        }
        dmp_buf_free(&tok);
        if (!cur || *p)
            return s;
        /* the referencing schema may add siblings; keep it when it has any */
        if (s->aux > 1)
            return s;
        s = cur;
    }
    return s;
}

static unsigned types_of(const dmp_json_node_t *s)
{
    const dmp_json_node_t *t = kw(s, "type");
    if (!t)
        return 0x7f;
    unsigned m = 0;
    static const char *names[] = {"null",   "boolean", "integer", "number",
                                  "string", "array",   "object"};
    const dmp_json_node_t *one = t->type == DMP_JSON_ARRAY ? dmp_json_first(t) : t;
    while (one) {
        size_t L;
        const char *n = dmp_json_string(one, &L);
        for (int i = 0; n && i < 7; i++)
            if (!strcmp(n, names[i]))
                m |= 1u << i;
        one = t->type == DMP_JSON_ARRAY ? dmp_json_next(t, one) : NULL;
    }
    if (m & (1u << 3))
        m |= 1u << 2; /* number includes integer */
    return m;
}

static void types_str(unsigned m, dmp_buf_t *b)
{
    static const char *names[] = {"null",   "boolean", "integer", "number",
                                  "string", "array",   "object"};
    if (m == 0x7f) {
        dmp_buf_puts(b, "any");
        return;
    }
    int first = 1;
    for (int i = 0; i < 7; i++)
        if (m & (1u << i) && !(i == 2 && (m & (1u << 3)))) {
            dmp_buf_printf(b, "%s%s", first ? "" : ", ", names[i]);
            first = 0;
        }
}

static char *sub_loc(const char *loc, const char *a, const char *b)
{
    dmp_buf_t o = DMP_BUF_INIT;
    dmp_buf_puts(&o, loc);
    dmp_buf_putc(&o, '/');
    dmp_buf_puts(&o, a);
    if (b) {
        dmp_buf_putc(&o, '/');
        for (const char *p = b; *p; p++) {
            if (*p == '~')
                dmp_buf_puts(&o, "~0");
            else if (*p == '/')
                dmp_buf_puts(&o, "~1");
            else
                dmp_buf_putc(&o, *p);
        }
    }
    return dmp_buf_steal(&o);
}

static int is_false(const dmp_json_node_t *s)
{
    return s && s->type == DMP_JSON_FALSE;
}

static int is_open(const dmp_json_node_t *s)
{
    return !s || s->type == DMP_JSON_TRUE || (s->type == DMP_JSON_OBJECT && s->aux == 0);
}

static void narrower(walk_t *w, const dmp_json_node_t *a, const dmp_json_node_t *b,
                     const char *loc);

static void bound(walk_t *w, const dmp_json_node_t *a, const dmp_json_node_t *b, const char *loc,
                  const char *k, int is_min)
{
    const dmp_json_node_t *bv = kw(b, k), *av = kw(a, k);
    if (!bv || bv->type != DMP_JSON_NUMBER)
        return;
    if (!av || av->type != DMP_JSON_NUMBER) {
        dmp_buf_t v = DMP_BUF_INIT;
        dmp_json_dump(bv, &v);
        add(w, loc, "bound-added", "%s schema adds %s %s", bname(w), k, v.data);
        dmp_buf_free(&v);
        return;
    }
    double x = av->u.d, y = bv->u.d;
    if (is_min ? y > x : y < x) {
        dmp_buf_t v = DMP_BUF_INIT;
        dmp_json_dump(av, &v);
        dmp_buf_puts(&v, " to ");
        dmp_json_dump(bv, &v);
        add(w, loc, "bound-tightened", "%s tightened from %s", k, v.data);
        dmp_buf_free(&v);
    }
}

static int json_eq(const dmp_json_node_t *a, const dmp_json_node_t *b)
{
    if (!a || !b)
        return a == b;
    return dmp_json_equal(a, b);
}

static const dmp_json_node_t *prop_schema(const dmp_json_node_t *s, const char *name, size_t len,
                                          int *declared)
{
    const dmp_json_node_t *p = kw(s, "properties");
    const dmp_json_node_t *v = p ? dmp_json_get(p, name, len) : NULL;
    *declared = v != NULL;
    if (v)
        return v;
    const dmp_json_node_t *pp = kw(s, "patternProperties");
    if (pp && pp->type == DMP_JSON_OBJECT) {
        for (const dmp_json_node_t *k = dmp_json_first(pp); k; k = dmp_json_next(pp, k + 1)) {
            char msg[64];
            dmp_re_t *re = dmp_re_compile(k->u.s, k->len, msg, sizeof msg);
            if (!re)
                continue;
            pcre2_match_data *md = pcre2_match_data_create(4, NULL);
            int m = dmp_re_search(re, md, NULL, name, len);
            pcre2_match_data_free(md);
            dmp_re_free(re);
            if (m == 1)
                return k + 1;
        }
    }
    return kw(s, "additionalProperties"); /* NULL: open */
}

static void narrower(walk_t *w, const dmp_json_node_t *a, const dmp_json_node_t *b, const char *loc)
{
    if (++w->depth > 64) {
        w->depth--;
        return;
    }
    if (a && a->type == DMP_JSON_OBJECT)
        a = follow_local_ref(w->aroot, a);
    if (b && b->type == DMP_JSON_OBJECT)
        b = follow_local_ref(w->broot, b);
    if (is_false(a) || is_open(b))
        goto out;
    if (is_false(b)) {
        add(w, loc, "schema-closed", "%s schema accepts no value here", bname(w));
        goto out;
    }
    /* type */
    unsigned ta = types_of(a), tb = types_of(b);
    if (ta & ~tb) {
        dmp_buf_t x = DMP_BUF_INIT, y = DMP_BUF_INIT;
        types_str(ta, &x);
        types_str(tb, &y);
        add(w, loc, "type-narrowed", "type narrowed from %s (%s) to %s (%s)", x.data, aname(w),
            y.data, bname(w));
        dmp_buf_free(&x);
        dmp_buf_free(&y);
    }
    /* enum / const */
    const dmp_json_node_t *eb = kw(b, "enum"), *ea = kw(a, "enum");
    if (eb && eb->type == DMP_JSON_ARRAY) {
        const dmp_json_node_t *ca = kw(a, "const");
        if (ca) {
            int found = 0;
            for (const dmp_json_node_t *e = dmp_json_first(eb); e; e = dmp_json_next(eb, e))
                found |= dmp_json_equal(e, ca);
            if (!found)
                add(w, loc, "enum-narrowed", "%s enum does not allow the %s const value", bname(w),
                    aname(w));
        } else if (!ea || ea->type != DMP_JSON_ARRAY) {
            add(w, loc, "enum-added", "%s schema restricts the value to an enum", bname(w));
        } else {
            for (const dmp_json_node_t *e = dmp_json_first(ea); e; e = dmp_json_next(ea, e)) {
                int found = 0;
                for (const dmp_json_node_t *f = dmp_json_first(eb); f && !found;
                     f = dmp_json_next(eb, f))
                    found = dmp_json_equal(e, f);
                if (!found) {
                    dmp_buf_t v = DMP_BUF_INIT;
                    dmp_json_dump(e, &v);
                    add(w, loc, "enum-narrowed", "enum value %s is no longer allowed", v.data);
                    dmp_buf_free(&v);
                }
            }
        }
    }
    const dmp_json_node_t *cb = kw(b, "const");
    if (cb && !json_eq(kw(a, "const"), cb)) {
        dmp_buf_t v = DMP_BUF_INIT;
        dmp_json_dump(cb, &v);
        add(w, loc, "const-changed", "%s schema requires the constant %s", bname(w), v.data);
        dmp_buf_free(&v);
    }
    /* bounds */
    static const char *mins[] = {"minimum",  "exclusiveMinimum", "minLength",
                                 "minItems", "minProperties",    "minContains"};
    static const char *maxs[] = {"maximum",  "exclusiveMaximum", "maxLength",
                                 "maxItems", "maxProperties",    "maxContains"};
    for (int i = 0; i < 6; i++) {
        bound(w, a, b, loc, mins[i], 1);
        bound(w, a, b, loc, maxs[i], 0);
    }
    const dmp_json_node_t *mb = kw(b, "multipleOf"), *ma = kw(a, "multipleOf");
    if (mb && mb->type == DMP_JSON_NUMBER) {
        double q = ma && ma->type == DMP_JSON_NUMBER ? ma->u.d / mb->u.d : 0.5;
        if (fabs(q - nearbyint(q)) > 1e-9 || q == 0)
            add(w, loc, "bound-tightened", "multipleOf %g is stricter on the %s side", mb->u.d,
                bname(w));
    }
    /* string shape */
    const dmp_json_node_t *pb = kw(b, "pattern");
    if (pb && !json_eq(kw(a, "pattern"), pb))
        add(w, loc, kw(a, "pattern") ? "pattern-changed" : "pattern-added",
            "%s schema requires the pattern '%s'", bname(w),
            pb->type == DMP_JSON_STRING ? pb->u.s : "?");
    const dmp_json_node_t *fb = kw(b, "format");
    if (fb && !json_eq(kw(a, "format"), fb))
        add(w, loc, "format-changed", "%s schema requires the format '%s'", bname(w),
            fb->type == DMP_JSON_STRING ? fb->u.s : "?");
    const dmp_json_node_t *ub = kw(b, "uniqueItems");
    if (ub && ub->type == DMP_JSON_TRUE &&
        !(kw(a, "uniqueItems") && kw(a, "uniqueItems")->type == DMP_JSON_TRUE))
        add(w, loc, "bound-tightened", "%s schema requires unique items", bname(w));
    /* required */
    const dmp_json_node_t *rb = kw(b, "required"), *ra = kw(a, "required");
    if (rb && rb->type == DMP_JSON_ARRAY) {
        for (const dmp_json_node_t *r = dmp_json_first(rb); r; r = dmp_json_next(rb, r)) {
            int found = 0;
            if (ra && ra->type == DMP_JSON_ARRAY)
                for (const dmp_json_node_t *q = dmp_json_first(ra); q && !found;
                     q = dmp_json_next(ra, q))
                    found = dmp_json_equal(q, r);
            if (!found && r->type == DMP_JSON_STRING)
                add(w, loc, "required-added", "property '%s' is required by the %s schema only",
                    r->u.s, bname(w));
        }
    }
    /* properties */
    const dmp_json_node_t *pa = kw(a, "properties"), *pbp = kw(b, "properties");
    if (pa && pa->type == DMP_JSON_OBJECT) {
        for (const dmp_json_node_t *k = dmp_json_first(pa); k; k = dmp_json_next(pa, k + 1)) {
            int declared;
            const dmp_json_node_t *bs = prop_schema(b, k->u.s, k->len, &declared);
            char *pl = sub_loc(loc, "properties", k->u.s);
            if (!declared && is_false(bs))
                add(w, pl, w->dir == DMP_COMPAT_BACKWARD ? "property-removed" : "property-added",
                    "property '%s' exists only in the %s schema, and the %s schema does not "
                    "allow additional properties",
                    k->u.s, aname(w), bname(w));
            else
                narrower(w, k + 1, bs, pl);
            dmp_free(pl);
        }
    }
    if (pbp && pbp->type == DMP_JSON_OBJECT) {
        for (const dmp_json_node_t *k = dmp_json_first(pbp); k; k = dmp_json_next(pbp, k + 1)) {
            if (pa && dmp_json_get(pa, k->u.s, k->len))
                continue;
            int declared;
            const dmp_json_node_t *as = prop_schema(a, k->u.s, k->len, &declared);
            char *pl = sub_loc(loc, "properties", k->u.s);
            if (is_open(as) && !is_open(k + 1))
                add(w, pl, w->dir == DMP_COMPAT_BACKWARD ? "property-added" : "property-removed",
                    "property '%s' is constrained only by the %s schema, whose content model "
                    "is open in the %s schema",
                    k->u.s, bname(w), aname(w));
            else
                narrower(w, as, k + 1, pl);
            dmp_free(pl);
        }
    }
    const dmp_json_node_t *apb = kw(b, "additionalProperties");
    const dmp_json_node_t *apa = kw(a, "additionalProperties");
    if (apb) {
        char *pl = sub_loc(loc, "additionalProperties", NULL);
        if (is_false(apb) && !is_false(apa))
            add(w, pl, "additional-properties-closed",
                "%s schema does not allow additional properties", bname(w));
        else if (!is_false(apb))
            narrower(w, apa, apb, pl);
        dmp_free(pl);
    }
    /* arrays */
    const dmp_json_node_t *ib = kw(b, "items");
    if (ib) {
        char *pl = sub_loc(loc, "items", NULL);
        narrower(w, kw(a, "items"), ib, pl);
        dmp_free(pl);
    }
    const dmp_json_node_t *xb = kw(b, "prefixItems"), *xa = kw(a, "prefixItems");
    if (xb && xb->type == DMP_JSON_ARRAY) {
        size_t i = 0;
        for (const dmp_json_node_t *e = dmp_json_first(xb); e; e = dmp_json_next(xb, e), i++) {
            char idx[32];
            snprintf(idx, sizeof idx, "%zu", i);
            char *pl = sub_loc(loc, "prefixItems", idx);
            const dmp_json_node_t *ae = xa ? dmp_json_at(xa, i) : NULL;
            narrower(w, ae ? ae : kw(a, "items"), e, pl);
            dmp_free(pl);
        }
    }
    /* keywords compared as a whole: any difference on the reading side counts */
    static const char *whole[] = {"allOf",
                                  "anyOf",
                                  "oneOf",
                                  "not",
                                  "if",
                                  "then",
                                  "else",
                                  "contains",
                                  "propertyNames",
                                  "patternProperties",
                                  "dependentRequired",
                                  "dependentSchemas",
                                  "unevaluatedItems",
                                  "unevaluatedProperties",
                                  "$dynamicRef",
                                  NULL};
    for (int i = 0; whole[i]; i++) {
        const dmp_json_node_t *vb = kw(b, whole[i]);
        if (vb && !json_eq(kw(a, whole[i]), vb)) {
            char *pl = sub_loc(loc, whole[i], NULL);
            add(w, pl, "keyword-changed", "'%s' differs and the %s schema may reject more",
                whole[i], bname(w));
            dmp_free(pl);
        }
    }
out:
    w->depth--;
}

static int check_pair(const char *oj, size_t ol, const char *nj, size_t nl, int mode,
                      size_t version, dmp_compat_report_t *out, dmp_error_t *err)
{
    dmp_json_doc_t *od = NULL, *nd = NULL;
    int rc = dmp_json_parse(oj, ol, NULL, &od, err);
    if (rc != DMP_OK)
        goto done;
    if ((rc = dmp_json_parse(nj, nl, NULL, &nd, err)) != DMP_OK)
        goto done;
    /* both must be usable schemas */
    dmp_schema_t *s;
    if ((rc = dmp_schema_compile(oj, ol, NULL, &s, err)) != DMP_OK)
        goto done;
    dmp_schema_free(s);
    if ((rc = dmp_schema_compile(nj, nl, NULL, &s, err)) != DMP_OK)
        goto done;
    dmp_schema_free(s);
    int back = mode == DMP_COMPAT_BACKWARD || mode == DMP_COMPAT_FULL ||
               mode == DMP_COMPAT_BACKWARD_TRANSITIVE || mode == DMP_COMPAT_FULL_TRANSITIVE;
    int fwd = mode == DMP_COMPAT_FORWARD || mode == DMP_COMPAT_FULL ||
              mode == DMP_COMPAT_FORWARD_TRANSITIVE || mode == DMP_COMPAT_FULL_TRANSITIVE;
    const dmp_json_node_t *o = dmp_json_root(od), *n = dmp_json_root(nd);
    if (back) {
        walk_t w = {o, n, out, DMP_COMPAT_BACKWARD, version, 0};
        narrower(&w, o, n, "");
    }
    if (fwd) {
        walk_t w = {n, o, out, DMP_COMPAT_FORWARD, version, 0};
        narrower(&w, n, o, "");
    }
done:
    dmp_json_doc_free(od);
    dmp_json_doc_free(nd);
    return rc;
}

int dmp_schema_compat_versions(const char *const *versions, const size_t *lens, size_t n,
                               dmp_compat_mode_t mode, dmp_compat_report_t *out, dmp_error_t *err)
{
    out->compatible = 1;
    out->n_changes = 0;
    out->changes = NULL;
    if ((unsigned)mode > DMP_COMPAT_FULL_TRANSITIVE)
        return DMP_ERR(err, DMP_INVALID, "unknown compatibility mode %d", (int)mode);
    if (n < 2 || mode == DMP_COMPAT_NONE)
        return DMP_OK;
    int transitive = mode >= DMP_COMPAT_BACKWARD_TRANSITIVE;
    for (size_t i = transitive ? 0 : n - 2; i + 1 < n; i++) {
        int rc = check_pair(versions[i], lens[i], versions[n - 1], lens[n - 1], mode, i, out, err);
        if (rc != DMP_OK) {
            dmp_error_where(err, "version %zu", i);
            return rc;
        }
    }
    out->compatible = out->n_changes == 0;
    return DMP_OK;
}

int dmp_schema_compat(const char *old_json, size_t old_len, const char *new_json, size_t new_len,
                      dmp_compat_mode_t mode, dmp_compat_report_t *out, dmp_error_t *err)
{
    const char *v[2] = {old_json, new_json};
    size_t l[2] = {old_len, new_len};
    return dmp_schema_compat_versions(v, l, 2, mode, out, err);
}

void dmp_compat_report_fini(dmp_compat_report_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_changes; i++) {
        dmp_free(r->changes[i].location);
        dmp_free(r->changes[i].kind);
        dmp_free(r->changes[i].message);
    }
    dmp_free(r->changes);
    r->changes = NULL;
    r->n_changes = 0;
}
