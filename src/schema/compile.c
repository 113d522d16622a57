/* compile.c -- JSON Schema 2020-12 compiler: URI index, $ref resolution, keyword programs.
 *
 * Pass 1 indexes every schema document reached (root, registry entries, loaded remotes):
 * walking only real subschema keywords, it records each subschema's base URI and
 * resource, and maps "$id", "$anchor" and "$dynamicAnchor" URIs to their nodes.
 * Pass 2 compiles schemas on demand, memoised per JSON node, so recursive references
 * become pointer cycles and compilation always ends.
 */
#include "schema/schema_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_MAX_SCHEMA_BYTES ((size_t)4 << 20)
#define DEFAULT_MAX_SCHEMA_DEPTH 256u
#define DEFAULT_MAX_INSTANCE_BYTES ((size_t)16 << 20)
#define DEFAULT_MAX_INSTANCE_DEPTH 256u
#define DEFAULT_MATCH_LIMIT 200000u
#define DEFAULT_MAX_STEPS 10000000ull
#define MAX_EXTERNAL_DOCS 256

/* ---- registry ---- */

typedef struct reg_ent {
    char *uri;
    char *json;
    size_t len;
} reg_ent_t;

struct dmp_schema_registry {
    reg_ent_t *e;
    size_t n, cap;
};

dmp_schema_registry_t *dmp_schema_registry_new(void)
{
    return dmp_calloc(1, sizeof(dmp_schema_registry_t));
}

void dmp_schema_registry_free(dmp_schema_registry_t *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n; i++) {
        dmp_free(reg->e[i].uri);
        dmp_free(reg->e[i].json);
    }
    dmp_free(reg->e);
    dmp_free(reg);
}

int dmp_schema_registry_add(dmp_schema_registry_t *reg, const char *uri, const char *json,
                            size_t len, dmp_error_t *err)
{
    char *u = dmp_uri_resolve("", uri);
    for (size_t i = 0; i < reg->n; i++)
        if (!strcmp(reg->e[i].uri, u)) {
            dmp_free(u);
            return DMP_ERR(err, DMP_CONFLICT, "schema URI '%s' is already registered", uri);
        }
    dmp_json_doc_t *d;
    int rc = dmp_json_parse(json, len, NULL, &d, err);
    if (rc != DMP_OK) {
        dmp_free(u);
        return rc;
    }
    dmp_json_doc_free(d);
    if (reg->n == reg->cap) {
        reg->cap = reg->cap ? reg->cap * 2 : 8;
        reg->e = dmp_realloc(reg->e, reg->cap * sizeof(reg_ent_t));
    }
    reg->e[reg->n].uri = u;
    reg->e[reg->n].json = dmp_strndup(json, len);
    reg->e[reg->n].len = len;
    reg->n++;
    return DMP_OK;
}

/* ---- compiler state ---- */

typedef struct cdoc {
    dmp_json_doc_t *doc;
    const char *uri;
    const char **base; /* per node index */
    sch_res_t **res;
    sch_t **memo;
} cdoc_t;

typedef struct ent {
    char *key;
    cdoc_t *d;
    const dmp_json_node_t *n;
    sch_res_t *res;
} ent_t;

typedef struct comp {
    dmp_schema_t *S;
    const dmp_schema_opts_t *o;
    dmp_error_t *err;
    cdoc_t **docs;
    size_t n_docs;
    ent_t *map;
    size_t n_map, cap_map;
    int failed;
    int uses_uneval;
    int no_validation; /* the root's meta-schema leaves out the validation vocabulary */
} comp_t;

#define PUSH(arr, n, cap, v)                                                                       \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? (cap)*2 : 16;                                                          \
            (arr) = dmp_realloc((arr), (cap) * sizeof(*(arr)));                                    \
        }                                                                                          \
        (arr)[(n)++] = (v);                                                                        \
    } while (0)

static const char *keep(comp_t *C, char *s)
{
    PUSH(C->S->strs, C->S->n_strs, C->S->cap_strs, s);
    return s;
}

static uint32_t shash(const char *s)
{
    return dmp_json_hash(s, strlen(s));
}

static ent_t *map_get(comp_t *C, const char *key)
{
    if (!C->cap_map)
        return NULL;
    for (size_t i = shash(key) & (C->cap_map - 1);; i = (i + 1) & (C->cap_map - 1)) {
        if (!C->map[i].key)
            return NULL;
        if (!strcmp(C->map[i].key, key))
            return &C->map[i];
    }
}

static void map_put(comp_t *C, const char *key, cdoc_t *d, const dmp_json_node_t *n, sch_res_t *res)
{
    if (map_get(C, key))
        return; /* first definition wins */
    if ((C->n_map + 1) * 2 > C->cap_map) {
        size_t oc = C->cap_map;
        ent_t *om = C->map;
        C->cap_map = oc ? oc * 2 : 64;
        C->map = dmp_calloc(C->cap_map, sizeof(ent_t));
        for (size_t i = 0; i < oc; i++)
            if (om[i].key) {
                size_t j = shash(om[i].key) & (C->cap_map - 1);
                while (C->map[j].key)
                    j = (j + 1) & (C->cap_map - 1);
                C->map[j] = om[i];
            }
        dmp_free(om);
    }
    size_t j = shash(key) & (C->cap_map - 1);
    while (C->map[j].key)
        j = (j + 1) & (C->cap_map - 1);
    C->map[j] = (ent_t){dmp_strdup(key), d, n, res};
    C->n_map++;
}

static int cerr(comp_t *C, const char *loc, const char *fmt, const char *a, const char *b)
{
    if (!C->failed) {
        DMP_ERR(C->err, DMP_INVALID, fmt, a, b);
        dmp_error_where(C->err, "%s", loc[0] ? loc : "/");
    }
    C->failed = 1;
    return DMP_INVALID;
}

static sch_res_t *new_res(comp_t *C, const char *uri, const dmp_json_doc_t *doc)
{
    sch_res_t *r = dmp_calloc(1, sizeof *r);
    r->uri = dmp_strdup(uri);
    r->doc = doc;
    PUSH(C->S->res, C->S->n_res, C->S->cap_res, r);
    return r;
}

static int is_key(const dmp_json_node_t *k, const char *s)
{
    size_t n = strlen(s);
    return k->len == n && memcmp(k->u.s, s, n) == 0;
}

static int kw_class(const dmp_json_node_t *k)
{
    static const char *one[] = {"additionalProperties",
                                "items",
                                "contains",
                                "propertyNames",
                                "not",
                                "if",
                                "then",
                                "else",
                                "unevaluatedItems",
                                "unevaluatedProperties",
                                "contentSchema",
                                NULL};
    static const char *map[] = {
        "$defs",        "properties", "patternProperties", "dependentSchemas", "definitions",
        "dependencies", NULL};
    static const char *arr[] = {"prefixItems", "allOf", "anyOf", "oneOf", NULL};
    for (int i = 0; one[i]; i++)
        if (is_key(k, one[i]))
            return 1;
    for (int i = 0; map[i]; i++)
        if (is_key(k, map[i]))
            return 2;
    for (int i = 0; arr[i]; i++)
        if (is_key(k, arr[i]))
            return 3;
    return 0;
}

/* Pass 1: record base URI and resource of every subschema; register identifiers. */
static void index_walk(comp_t *C, cdoc_t *d, const dmp_json_node_t *n, const char *base,
                       sch_res_t *res)
{
    uint32_t idx = dmp_json_index(d->doc, n);
    if (d->base[idx])
        return;
    if (n->type == DMP_JSON_TRUE || n->type == DMP_JSON_FALSE) {
        d->base[idx] = base;
        d->res[idx] = res;
        return;
    }
    if (n->type != DMP_JSON_OBJECT)
        return;
    const dmp_json_node_t *id = dmp_json_get(n, "$id", 3);
    if (id && id->type == DMP_JSON_STRING) {
        char *nb = dmp_uri_resolve(base, id->u.s);
        char *hash = strchr(nb, '#');
        if (hash)
            *hash = '\0';
        base = keep(C, nb);
        res = new_res(C, base, d->doc);
        map_put(C, base, d, n, res);
    }
    d->base[idx] = base;
    d->res[idx] = res;
    const dmp_json_node_t *a = dmp_json_get(n, "$anchor", 7);
    if (a && a->type == DMP_JSON_STRING) {
        char *k = dmp_asprintf("%s#%s", base, a->u.s);
        map_put(C, k, d, n, res);
        dmp_free(k);
    }
    a = dmp_json_get(n, "$dynamicAnchor", 14);
    if (a && a->type == DMP_JSON_STRING) {
        char *k = dmp_asprintf("%s#%s", base, a->u.s);
        map_put(C, k, d, n, res);
        dmp_free(k);
        res->dyn = dmp_realloc(res->dyn, (res->n_dyn + 1) * sizeof(sch_dyn_t));
        res->dyn_nodes = dmp_realloc(res->dyn_nodes, (res->n_dyn + 1) * sizeof(void *));
        res->dyn[res->n_dyn] = (sch_dyn_t){a->u.s, NULL};
        res->dyn_nodes[res->n_dyn] = n;
        res->n_dyn++;
    }
    const dmp_json_node_t *end = n + n->span;
    for (const dmp_json_node_t *k = n + 1; k < end; k = k + 1 + k[1].span) {
        const dmp_json_node_t *v = k + 1;
        int cls = kw_class(k);
        if (cls == 1) {
            index_walk(C, d, v, base, res);
        } else if ((cls == 2 && v->type == DMP_JSON_OBJECT) ||
                   (cls == 3 && v->type == DMP_JSON_ARRAY)) {
            for (const dmp_json_node_t *c = dmp_json_first(v); c; c = dmp_json_next(v, c)) {
                if (cls == 2)
                    c = c + 1; /* member value */
                index_walk(C, d, c, base, res);
            }
        }
    }
}

static cdoc_t *add_doc(comp_t *C, dmp_json_doc_t *doc, const char *uri)
{
    cdoc_t *d = dmp_calloc(1, sizeof *d);
    d->doc = doc;
    d->uri = keep(C, dmp_strdup(uri));
    d->base = dmp_calloc(doc->n, sizeof(char *));
    d->res = dmp_calloc(doc->n, sizeof(sch_res_t *));
    d->memo = dmp_calloc(doc->n, sizeof(sch_t *));
    C->docs = dmp_realloc(C->docs, (C->n_docs + 1) * sizeof(cdoc_t *));
    C->docs[C->n_docs++] = d;
    PUSH(C->S->docs, C->S->n_docs, C->S->cap_docs, doc);
    sch_res_t *r = new_res(C, d->uri, doc);
    map_put(C, d->uri, d, dmp_json_root(doc), r);
    index_walk(C, d, dmp_json_root(doc), d->uri, r);
    return d;
}

/* Loads the document for an absolute URI from the registry or the loader. */
static int load_external(comp_t *C, const char *abs)
{
    if (C->n_docs >= MAX_EXTERNAL_DOCS)
        return cerr(C, "", "too many referenced documents (limit %s)%s", "256", "");
    const dmp_schema_registry_t *reg = C->o ? C->o->registry : NULL;
    char *json = NULL;
    size_t len = 0;
    int owned = 0;
    json = (char *)dmp_schema_builtin(abs, &len);
    for (size_t i = 0; !json && reg && i < reg->n; i++)
        if (!strcmp(reg->e[i].uri, abs)) {
            json = reg->e[i].json;
            len = reg->e[i].len;
        }
    if (!json && C->o && C->o->loader) {
        if (C->o->loader(C->o->loader_ud, abs, &json, &len) != DMP_OK)
            json = NULL;
        owned = json != NULL;
    }
    if (!json)
        return DMP_NOTFOUND;
    dmp_json_limits_t lim = {C->S->max_instance_bytes, 0};
    lim.max_bytes =
        C->o && C->o->max_schema_bytes ? C->o->max_schema_bytes : DEFAULT_MAX_SCHEMA_BYTES;
    lim.max_depth =
        C->o && C->o->max_schema_depth ? C->o->max_schema_depth : DEFAULT_MAX_SCHEMA_DEPTH;
    dmp_json_doc_t *doc;
    dmp_error_t e2 = {0};
    int rc = dmp_json_parse(json, len, &lim, &doc, &e2);
    if (owned)
        dmp_free(json);
    if (rc != DMP_OK) {
        if (!C->failed) {
            DMP_ERR(C->err, rc, "referenced schema '%s' is not usable: %s", abs, e2.msg);
            C->failed = 1;
        }
        return rc;
    }
    add_doc(C, doc, abs);
    return DMP_OK;
}

static void pct_decode(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        int h1, h2;
        if (p[0] == '%' && p[1] && p[2] &&
            (h1 = (p[1] >= 'a'   ? p[1] - 'a' + 10
                   : p[1] >= 'A' ? p[1] - 'A' + 10
                                 : p[1] - '0')) >= 0 &&
            h1 < 16 &&
            (h2 = (p[2] >= 'a'   ? p[2] - 'a' + 10
                   : p[2] >= 'A' ? p[2] - 'A' + 10
                                 : p[2] - '0')) >= 0 &&
            h2 < 16) {
            *o++ = (char)(h1 * 16 + h2);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

/* Follows a JSON pointer from 'n'. NULL when a step is missing. */
static const dmp_json_node_t *follow_pointer(const dmp_json_node_t *n, const char *ptr)
{
    dmp_buf_t tok = DMP_BUF_INIT;
    const char *p = ptr;
    while (n && *p == '/') {
        p++;
        dmp_buf_reset(&tok);
        while (*p && *p != '/') {
            if (p[0] == '~' && p[1] == '0') {
                dmp_buf_putc(&tok, '~');
                p += 2;
            } else if (p[0] == '~' && p[1] == '1') {
                dmp_buf_putc(&tok, '/');
                p += 2;
            } else {
                dmp_buf_putc(&tok, *p++);
            }
        }
        const char *t = tok.data ? tok.data : "";
        if (n->type == DMP_JSON_OBJECT) {
            n = dmp_json_get(n, t, tok.len);
        } else if (n->type == DMP_JSON_ARRAY) {
            char *e;
            unsigned long i = strtoul(t, &e, 10);
            n = (tok.len && *e == '\0' && (t[0] != '0' || tok.len == 1)) ? dmp_json_at(n, i) : NULL;
        } else {
            n = NULL;
        }
    }
    dmp_buf_free(&tok);
    return n;
}

/* JSON pointer of node 'n' in its document. */
static char *node_pointer(const dmp_json_doc_t *doc, const dmp_json_node_t *n)
{
    dmp_buf_t b = DMP_BUF_INIT;
    const dmp_json_node_t *cur = dmp_json_root(doc);
    while (cur != n) {
        if (cur->type == DMP_JSON_OBJECT) {
            const dmp_json_node_t *end = cur + cur->span, *k;
            for (k = cur + 1; k < end; k = k + 1 + k[1].span)
                if (n >= k + 1 && n < k + 1 + k[1].span)
                    break;
            dmp_buf_putc(&b, '/');
            for (uint32_t i = 0; i < k->len; i++) {
                if (k->u.s[i] == '~')
                    dmp_buf_puts(&b, "~0");
                else if (k->u.s[i] == '/')
                    dmp_buf_puts(&b, "~1");
                else
                    dmp_buf_putc(&b, k->u.s[i]);
            }
            cur = k + 1;
        } else {
            const dmp_json_node_t *e = cur + 1;
            size_t i = 0;
            while (!(n >= e && n < e + e->span)) {
                e += e->span;
                i++;
            }
            dmp_buf_printf(&b, "/%zu", i);
            cur = e;
        }
    }
    if (!b.data)
        dmp_buf_puts(&b, "");
    return dmp_buf_steal(&b);
}

static sch_t *compile_node(comp_t *C, cdoc_t *d, const dmp_json_node_t *n, const char *base,
                           sch_res_t *res);

/* Resolves a reference string against 'base'; on success sets od and on (the target). */
static int resolve(comp_t *C, const char *base, const char *ref, const char *loc, cdoc_t **od,
                   const dmp_json_node_t **on, char **frag_out)
{
    char *full = dmp_uri_resolve(base, ref);
    char *hash = strchr(full, '#');
    char *frag = NULL;
    if (hash) {
        *hash = '\0';
        frag = hash + 1;
        pct_decode(frag);
    }
    ent_t *e = map_get(C, full);
    if (!e && load_external(C, full) == DMP_OK)
        e = map_get(C, full);
    int rc = DMP_OK;
    if (!e) {
        rc = C->failed ? DMP_INVALID : cerr(C, loc, "cannot resolve reference '%s'%s", ref, "");
        goto out;
    }
    if (!frag || !*frag) {
        *od = e->d;
        *on = e->n;
    } else if (frag[0] == '/') {
        const dmp_json_node_t *t = follow_pointer(e->n, frag);
        if (!t) {
            rc = cerr(C, loc, "reference '%s' points at nothing%s", ref, "");
            goto out;
        }
        if (!e->d->base[dmp_json_index(e->d->doc, t)])
            index_walk(C, e->d, t, e->d->base[dmp_json_index(e->d->doc, e->n)], e->res);
        *od = e->d;
        *on = t;
    } else {
        char *k = dmp_asprintf("%s#%s", full, frag);
        ent_t *a = map_get(C, k);
        dmp_free(k);
        if (!a) {
            rc = cerr(C, loc, "reference '%s': no such anchor%s", ref, "");
            goto out;
        }
        *od = a->d;
        *on = a->n;
    }
    if (frag_out)
        *frag_out = dmp_strdup(frag ? frag : "");
out:
    dmp_free(full);
    return rc;
}

static sch_t *compile_ref(comp_t *C, const char *base, const char *ref, const char *loc,
                          char **frag)
{
    cdoc_t *td;
    const dmp_json_node_t *tn;
    if (resolve(C, base, ref, loc, &td, &tn, frag) != DMP_OK)
        return NULL;
    uint32_t ti = dmp_json_index(td->doc, tn);
    return compile_node(C, td, tn, td->base[ti], td->res[ti]);
}

static char *child_loc(const char *loc, const char *key, size_t klen)
{
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_buf_puts(&b, loc);
    dmp_buf_putc(&b, '/');
    for (size_t i = 0; i < klen; i++) {
        if (key[i] == '~')
            dmp_buf_puts(&b, "~0");
        else if (key[i] == '/')
            dmp_buf_puts(&b, "~1");
        else
            dmp_buf_putc(&b, key[i]);
    }
    return dmp_buf_steal(&b);
}

static int get_num(comp_t *C, const dmp_json_node_t *v, const char *loc, const char *kw,
                   double *out)
{
    if (v->type != DMP_JSON_NUMBER)
        return cerr(C, loc, "'%s' must be a number%s", kw, "");
    *out = v->u.d;
    return DMP_OK;
}

static int get_count(comp_t *C, const dmp_json_node_t *v, const char *loc, const char *kw,
                     uint64_t *out)
{
    if (v->type != DMP_JSON_NUMBER || v->u.d < 0 || v->u.d != floor(v->u.d))
        return cerr(C, loc, "'%s' must be a non-negative integer%s", kw, "");
    *out = v->u.d >= 1.8e19 ? UINT64_MAX : (uint64_t)v->u.d;
    return DMP_OK;
}

static sch_t *sub(comp_t *C, cdoc_t *d, const dmp_json_node_t *v, const char *base, sch_res_t *res)
{
    return compile_node(C, d, v, base, res);
}

static int sub_array(comp_t *C, cdoc_t *d, const dmp_json_node_t *v, const char *base,
                     sch_res_t *res, const char *loc, const char *kw, sch_t ***out, size_t *n)
{
    if (v->type != DMP_JSON_ARRAY || (v->aux == 0 && strcmp(kw, "prefixItems") != 0))
        return cerr(C, loc, "'%s' must be a non-empty array of schemas%s", kw, "");
    *out = dmp_calloc(v->aux ? v->aux : 1, sizeof(sch_t *));
    *n = v->aux;
    size_t i = 0;
    for (const dmp_json_node_t *c = dmp_json_first(v); c; c = dmp_json_next(v, c), i++)
        if (!((*out)[i] = sub(C, d, c, base, res)))
            return DMP_INVALID;
    return DMP_OK;
}

static int type_bit(const dmp_json_node_t *t, uint8_t *mask)
{
    static const struct {
        const char *n;
        uint8_t b;
    } tab[] = {{"null", T_NULL},       {"boolean", T_BOOL},  {"number", T_NUMBER},
               {"integer", T_INTEGER}, {"string", T_STRING}, {"array", T_ARRAY},
               {"object", T_OBJECT}};
    if (t->type != DMP_JSON_STRING)
        return -1;
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (is_key(t, tab[i].n)) {
            *mask |= tab[i].b;
            return 0;
        }
    return -1;
}

static dmp_re_t *compile_re(comp_t *C, const dmp_json_node_t *v, const char *loc)
{
    char msg[200];
    dmp_re_t *re = dmp_re_compile(v->u.s, v->len, msg, sizeof msg);
    if (!re) {
        cerr(C, loc, "pattern '%s' does not compile: %s", v->u.s, msg);
        return NULL;
    }
    PUSH(C->S->res_re, C->S->n_re, C->S->cap_re, re);
    uint32_t ov = dmp_re_ovec(re);
    if (ov > C->S->max_captures)
        C->S->max_captures = ov;
    return re;
}

static void build_ptab(sch_t *s)
{
    uint32_t cap = 4;
    while (cap < s->n_props * 2)
        cap *= 2;
    s->ptab = dmp_malloc(cap * sizeof(int32_t));
    memset(s->ptab, 0xff, cap * sizeof(int32_t));
    s->pmask = cap - 1;
    for (size_t i = 0; i < s->n_props; i++) {
        uint32_t j = s->props[i].key.hash & s->pmask;
        while (s->ptab[j] >= 0)
            j = (j + 1) & s->pmask;
        s->ptab[j] = (int32_t)i;
    }
}

/* Index of a keyword the compiler acts on, or -1: used to refuse duplicates. */
static int keyword_id(const dmp_json_node_t *k)
{
    static const char *const kws[] = {"type",
                                      "minimum",
                                      "maximum",
                                      "exclusiveMinimum",
                                      "exclusiveMaximum",
                                      "multipleOf",
                                      "minLength",
                                      "maxLength",
                                      "minItems",
                                      "maxItems",
                                      "minProperties",
                                      "maxProperties",
                                      "minContains",
                                      "maxContains",
                                      "uniqueItems",
                                      "pattern",
                                      "format",
                                      "const",
                                      "enum",
                                      "required",
                                      "dependentRequired",
                                      "dependencies",
                                      "$ref",
                                      "$dynamicRef",
                                      "allOf",
                                      "anyOf",
                                      "oneOf",
                                      "not",
                                      "if",
                                      "then",
                                      "else",
                                      "prefixItems",
                                      "items",
                                      "contains",
                                      "unevaluatedItems",
                                      "unevaluatedProperties",
                                      "additionalProperties",
                                      "propertyNames",
                                      "properties",
                                      "dependentSchemas",
                                      "patternProperties",
                                      "$defs",
                                      "definitions",
                                      "$id",
                                      "$anchor",
                                      "$dynamicAnchor",
                                      NULL};
    for (int i = 0; kws[i]; i++)
        if (is_key(k, kws[i]))
            return i;
    return -1;
}

static sch_key_t mkkey(const dmp_json_node_t *k)
{
    return (sch_key_t){k->u.s, k->len, k->aux};
}

static sch_t *compile_node(comp_t *C, cdoc_t *d, const dmp_json_node_t *n, const char *base,
                           sch_res_t *res)
{
    if (C->failed)
        return NULL;
    uint32_t idx = dmp_json_index(d->doc, n);
    if (d->memo[idx])
        return d->memo[idx];
    if (!d->base[idx])
        index_walk(C, d, n, base, res);
    if (d->base[idx]) {
        base = d->base[idx];
        res = d->res[idx];
    }
    sch_t *s = dmp_calloc(1, sizeof *s);
    PUSH(C->S->nodes, C->S->n_nodes, C->S->cap_nodes, s);
    d->memo[idx] = s;
    s->loc = keep(C, node_pointer(d->doc, n));
    s->doc_uri = d->base[0] ? d->base[0] : d->uri;
    s->res = res;
    if (res)
        res->used = 1;
    s->format = -1;
    const char *loc = s->loc;
    if (n->type == DMP_JSON_TRUE || n->type == DMP_JSON_FALSE) {
        s->boolean = n->type == DMP_JSON_TRUE;
        return s;
    }
    s->boolean = -1;
    if (n->type != DMP_JSON_OBJECT) {
        cerr(C, loc, "a schema must be an object or a boolean%s%s", "", "");
        return NULL;
    }
    const dmp_json_node_t *end = n + n->span;
    const dmp_json_node_t *required = NULL;
    uint8_t seen[64] = {0};
    for (const dmp_json_node_t *k = n + 1; k < end && !C->failed; k = k + 1 + k[1].span) {
        const dmp_json_node_t *v = k + 1;
        char *kl = child_loc(loc, k->u.s, k->len);
        const char *kw = k->u.s;
        int kid = keyword_id(k);
        if (kid >= 0) {
            if (seen[kid]) {
                cerr(C, kl, "duplicate keyword '%s'%s", kw, "");
                dmp_free(kl);
                break;
            }
            seen[kid] = 1;
        }
        if (C->no_validation && kid >= 0 && kid <= 21 && kid != 16) {
            dmp_free(kl);
            continue; /* validation vocabulary not in use: these are unknown keywords */
        }
        if (is_key(k, "type")) {
            if (v->type == DMP_JSON_ARRAY) {
                for (const dmp_json_node_t *t = dmp_json_first(v); t; t = dmp_json_next(v, t))
                    if (type_bit(t, &s->types) < 0)
                        cerr(C, kl, "unknown type in '%s'%s", kw, "");
                if (v->aux == 0)
                    cerr(C, kl, "'type' must not be an empty array%s%s", "", "");
            } else if (type_bit(v, &s->types) < 0) {
                cerr(C, kl, "'type' must be a type name or an array of them%s%s", "", "");
            }
            if (s->types & T_NUMBER)
                s->types |= T_INTEGER;
        } else if (is_key(k, "minimum")) {
            s->has |= K_MINIMUM;
            get_num(C, v, kl, kw, &s->minimum);
        } else if (is_key(k, "maximum")) {
            s->has |= K_MAXIMUM;
            get_num(C, v, kl, kw, &s->maximum);
        } else if (is_key(k, "exclusiveMinimum")) {
            s->has |= K_XMINIMUM;
            get_num(C, v, kl, kw, &s->xminimum);
        } else if (is_key(k, "exclusiveMaximum")) {
            s->has |= K_XMAXIMUM;
            get_num(C, v, kl, kw, &s->xmaximum);
        } else if (is_key(k, "multipleOf")) {
            s->has |= K_MULTIPLE;
            if (get_num(C, v, kl, kw, &s->multiple_of) == DMP_OK && !(s->multiple_of > 0))
                cerr(C, kl, "'multipleOf' must be greater than 0%s%s", "", "");
        } else if (is_key(k, "minLength")) {
            s->has |= K_MINLEN;
            get_count(C, v, kl, kw, &s->min_len);
        } else if (is_key(k, "maxLength")) {
            s->has |= K_MAXLEN;
            get_count(C, v, kl, kw, &s->max_len);
        } else if (is_key(k, "minItems")) {
            s->has |= K_MINITEMS;
            get_count(C, v, kl, kw, &s->min_items);
        } else if (is_key(k, "maxItems")) {
            s->has |= K_MAXITEMS;
            get_count(C, v, kl, kw, &s->max_items);
        } else if (is_key(k, "minProperties")) {
            s->has |= K_MINPROPS;
            get_count(C, v, kl, kw, &s->min_props);
        } else if (is_key(k, "maxProperties")) {
            s->has |= K_MAXPROPS;
            get_count(C, v, kl, kw, &s->max_props);
        } else if (is_key(k, "minContains")) {
            s->has_min_contains = 1;
            get_count(C, v, kl, kw, &s->min_contains);
        } else if (is_key(k, "maxContains")) {
            s->has_max_contains = 1;
            get_count(C, v, kl, kw, &s->max_contains);
        } else if (is_key(k, "uniqueItems")) {
            if (v->type != DMP_JSON_TRUE && v->type != DMP_JSON_FALSE)
                cerr(C, kl, "'uniqueItems' must be a boolean%s%s", "", "");
            if (v->type == DMP_JSON_TRUE)
                s->has |= K_UNIQUE;
        } else if (is_key(k, "pattern")) {
            if (v->type != DMP_JSON_STRING)
                cerr(C, kl, "'pattern' must be a string%s%s", "", "");
            else {
                s->pattern = compile_re(C, v, kl);
                s->pattern_src = v->u.s;
            }
        } else if (is_key(k, "format")) {
            if (v->type != DMP_JSON_STRING)
                cerr(C, kl, "'format' must be a string%s%s", "", "");
            else {
                s->has |= K_FORMAT;
                s->format = dmp_format_id(v->u.s, v->len);
                s->format_name = v->u.s;
            }
        } else if (is_key(k, "const")) {
            s->has |= K_CONST;
            s->const_v = v;
        } else if (is_key(k, "enum")) {
            if (v->type != DMP_JSON_ARRAY)
                cerr(C, kl, "'enum' must be an array%s%s", "", "");
            s->has |= K_ENUM;
            s->enum_v = v;
        } else if (is_key(k, "required")) {
            if (v->type != DMP_JSON_ARRAY)
                cerr(C, kl, "'required' must be an array of strings%s%s", "", "");
            for (const dmp_json_node_t *t = dmp_json_first(v); t; t = dmp_json_next(v, t))
                if (t->type != DMP_JSON_STRING)
                    cerr(C, kl, "'required' must be an array of strings%s%s", "", "");
            required = v;
        } else if (is_key(k, "dependentRequired")) {
            if (v->type != DMP_JSON_OBJECT) {
                cerr(C, kl, "'dependentRequired' must be an object%s%s", "", "");
            } else {
                s->dep_req = dmp_calloc(v->aux + 1, sizeof(sch_depreq_t));
                for (const dmp_json_node_t *m = dmp_json_first(v); m; m = dmp_json_next(v, m)) {
                    const dmp_json_node_t *arr = m + 1;
                    sch_depreq_t *dr = &s->dep_req[s->n_dep_req++];
                    dr->key = mkkey(m);
                    if (arr->type != DMP_JSON_ARRAY) {
                        cerr(C, kl, "'dependentRequired' values must be arrays%s%s", "", "");
                        break;
                    }
                    dr->names = dmp_calloc(arr->aux + 1, sizeof(sch_key_t));
                    for (const dmp_json_node_t *t = dmp_json_first(arr); t;
                         t = dmp_json_next(arr, t)) {
                        if (t->type != DMP_JSON_STRING) {
                            cerr(C, kl, "'dependentRequired' lists strings%s%s", "", "");
                            break;
                        }
                        dr->names[dr->n++] = mkkey(t);
                    }
                    m = arr;
                }
            }
        } else if (is_key(k, "dependencies") && v->type == DMP_JSON_OBJECT &&
                   !dmp_json_get(n, "dependentRequired", 17) &&
                   !dmp_json_get(n, "dependentSchemas", 16)) {
            /* pre-2019 form, accepted for compatibility: arrays are dependentRequired,
             * schemas are dependentSchemas */
            s->dep_req = dmp_calloc(v->aux + 1, sizeof(sch_depreq_t));
            s->dep_schemas = dmp_calloc(v->aux + 1, sizeof(sch_prop_t));
            for (const dmp_json_node_t *m = dmp_json_first(v); m; m = dmp_json_next(v, m)) {
                const dmp_json_node_t *val = m + 1;
                if (val->type == DMP_JSON_ARRAY) {
                    sch_depreq_t *dr = &s->dep_req[s->n_dep_req++];
                    dr->key = mkkey(m);
                    dr->names = dmp_calloc(val->aux + 1, sizeof(sch_key_t));
                    for (const dmp_json_node_t *t = dmp_json_first(val); t;
                         t = dmp_json_next(val, t))
                        if (t->type == DMP_JSON_STRING)
                            dr->names[dr->n++] = mkkey(t);
                } else {
                    sch_prop_t *dp = &s->dep_schemas[s->n_dep_schemas++];
                    dp->key = mkkey(m);
                    dp->req = -1;
                    dp->s = sub(C, d, val, base, res);
                    s->has_applicators = 1;
                }
                m = val;
            }
        } else if (is_key(k, "$ref")) {
            if (v->type != DMP_JSON_STRING)
                cerr(C, kl, "'$ref' must be a string%s%s", "", "");
            else
                s->ref = compile_ref(C, base, v->u.s, kl, NULL);
            s->has_applicators = 1;
        } else if (is_key(k, "$dynamicRef")) {
            if (v->type != DMP_JSON_STRING) {
                cerr(C, kl, "'$dynamicRef' must be a string%s%s", "", "");
            } else {
                char *frag = NULL;
                s->dyn_ref = compile_ref(C, base, v->u.s, kl, &frag);
                if (s->dyn_ref && frag && frag[0] && frag[0] != '/') {
                    for (size_t i = 0; i < s->dyn_ref->res->n_dyn; i++)
                        if (!strcmp(s->dyn_ref->res->dyn[i].name, frag))
                            s->dyn_name = keep(C, dmp_strdup(frag));
                }
                dmp_free(frag);
            }
            s->has_applicators = 1;
        } else if (is_key(k, "allOf")) {
            sub_array(C, d, v, base, res, kl, kw, &s->all_of, &s->n_all_of);
            s->has_applicators = 1;
        } else if (is_key(k, "anyOf")) {
            sub_array(C, d, v, base, res, kl, kw, &s->any_of, &s->n_any_of);
            s->has_applicators = 1;
        } else if (is_key(k, "oneOf")) {
            sub_array(C, d, v, base, res, kl, kw, &s->one_of, &s->n_one_of);
            s->has_applicators = 1;
        } else if (is_key(k, "not")) {
            s->not_ = sub(C, d, v, base, res);
            s->has_applicators = 1;
        } else if (is_key(k, "if")) {
            s->if_ = sub(C, d, v, base, res);
            s->has_applicators = 1;
        } else if (is_key(k, "then")) {
            s->then_ = sub(C, d, v, base, res);
        } else if (is_key(k, "else")) {
            s->else_ = sub(C, d, v, base, res);
        } else if (is_key(k, "prefixItems")) {
            sub_array(C, d, v, base, res, kl, kw, &s->prefix, &s->n_prefix);
        } else if (is_key(k, "items")) {
            s->items = sub(C, d, v, base, res);
        } else if (is_key(k, "contains")) {
            s->contains = sub(C, d, v, base, res);
        } else if (is_key(k, "unevaluatedItems")) {
            s->uneval_items = sub(C, d, v, base, res);
            C->uses_uneval = 1;
        } else if (is_key(k, "unevaluatedProperties")) {
            s->uneval_props = sub(C, d, v, base, res);
            C->uses_uneval = 1;
        } else if (is_key(k, "additionalProperties")) {
            s->additional = sub(C, d, v, base, res);
        } else if (is_key(k, "propertyNames")) {
            s->prop_names = sub(C, d, v, base, res);
        } else if (is_key(k, "properties") || is_key(k, "dependentSchemas")) {
            int dep = is_key(k, "dependentSchemas");
            if (v->type != DMP_JSON_OBJECT) {
                cerr(C, kl, "'%s' must be an object of schemas%s", kw, "");
            } else {
                sch_prop_t *arr = dmp_calloc(v->aux + 1, sizeof(sch_prop_t));
                size_t cnt = 0;
                for (const dmp_json_node_t *m = dmp_json_first(v); m; m = dmp_json_next(v, m)) {
                    arr[cnt].key = mkkey(m);
                    arr[cnt].req = -1;
                    arr[cnt].s = sub(C, d, m + 1, base, res);
                    cnt++;
                    m = m + 1;
                }
                if (dep) {
                    s->dep_schemas = arr;
                    s->n_dep_schemas = cnt;
                    s->has_applicators = 1;
                } else {
                    s->props = arr;
                    s->n_props = cnt;
                    build_ptab(s);
                }
            }
        } else if (is_key(k, "patternProperties")) {
            if (v->type != DMP_JSON_OBJECT) {
                cerr(C, kl, "'patternProperties' must be an object of schemas%s%s", "", "");
            } else {
                s->pprops = dmp_calloc(v->aux + 1, sizeof(sch_pprop_t));
                for (const dmp_json_node_t *m = dmp_json_first(v); m && !C->failed;
                     m = dmp_json_next(v, m)) {
                    char *pl = child_loc(kl, m->u.s, m->len);
                    sch_pprop_t *pp = &s->pprops[s->n_pprops++];
                    pp->re = compile_re(C, m, pl);
                    pp->src = m->u.s;
                    pp->s = sub(C, d, m + 1, base, res);
                    dmp_free(pl);
                    m = m + 1;
                }
            }
        } else if (is_key(k, "$defs") || is_key(k, "definitions")) {
            if (v->type == DMP_JSON_OBJECT)
                for (const dmp_json_node_t *m = dmp_json_first(v); m; m = dmp_json_next(v, m)) {
                    sub(C, d, m + 1, base, res);
                    m = m + 1;
                }
        }
        dmp_free(kl);
    }
    if (C->failed)
        return NULL;
    if (required) {
        s->required = dmp_calloc(required->aux + 1, sizeof(sch_key_t));
        s->req_fast = required->aux <= 64;
        for (const dmp_json_node_t *t = dmp_json_first(required); t;
             t = dmp_json_next(required, t)) {
            size_t ri = s->n_required++;
            s->required[ri] = mkkey(t);
            sch_prop_t *p = (sch_prop_t *)sch_find_prop(s, t->u.s, t->len, t->aux);
            if (!p || p->req >= 0)
                s->req_fast = 0;
            else
                p->req = (int)ri;
        }
    }
    if (s->then_ || s->else_)
        s->has_applicators = 1;
    return s;
}

/* A custom meta-schema named by the root's "$schema" may list the vocabularies in use: without
 * the validation vocabulary its keywords are ignored; with format-assertion, "format"
 * asserts. */
static void read_vocabularies(comp_t *C, const dmp_json_node_t *root)
{
    const dmp_json_node_t *ms = dmp_json_get(root, "$schema", 7);
    if (!ms || ms->type != DMP_JSON_STRING || strstr(ms->u.s, "json-schema.org/"))
        return;
    char *abs = dmp_uri_resolve("", ms->u.s);
    char *hash = strchr(abs, '#');
    if (hash)
        *hash = '\0';
    ent_t *e = map_get(C, abs);
    if (!e && load_external(C, abs) == DMP_OK)
        e = map_get(C, abs);
    C->failed = 0; /* an unknown meta-schema is not an error */
    dmp_error_clear(C->err);
    dmp_free(abs);
    if (!e)
        return;
    const dmp_json_node_t *voc = dmp_json_get(e->n, "$vocabulary", 11);
    if (!voc || voc->type != DMP_JSON_OBJECT)
        return;
    int validation = 0;
    for (const dmp_json_node_t *k = dmp_json_first(voc); k; k = dmp_json_next(voc, k + 1)) {
        if (strstr(k->u.s, "/vocab/validation"))
            validation = 1;
        if (strstr(k->u.s, "/vocab/format-assertion"))
            C->S->format_assert = 1;
    }
    C->no_validation = !validation;
}

static void free_node(sch_t *s)
{
    dmp_free(s->all_of);
    dmp_free(s->any_of);
    dmp_free(s->one_of);
    dmp_free(s->prefix);
    dmp_free(s->props);
    dmp_free(s->ptab);
    dmp_free(s->pprops);
    dmp_free(s->required);
    for (size_t i = 0; i < s->n_dep_req; i++)
        dmp_free(s->dep_req[i].names);
    dmp_free(s->dep_req);
    dmp_free(s->dep_schemas);
    dmp_free(s);
}

void dmp_schema_free(dmp_schema_t *S)
{
    if (!S)
        return;
    for (size_t i = 0; i < S->n_nodes; i++)
        free_node(S->nodes[i]);
    for (size_t i = 0; i < S->n_res; i++) {
        dmp_free(S->res[i]->uri);
        dmp_free(S->res[i]->dyn);
        dmp_free(S->res[i]->dyn_nodes);
        dmp_free(S->res[i]);
    }
    for (size_t i = 0; i < S->n_docs; i++)
        dmp_json_doc_free(S->docs[i]);
    for (size_t i = 0; i < S->n_strs; i++)
        dmp_free(S->strs[i]);
    for (size_t i = 0; i < S->n_re; i++)
        dmp_re_free(S->res_re[i]);
    dmp_free(S->nodes);
    dmp_free(S->res);
    dmp_free(S->docs);
    dmp_free(S->strs);
    dmp_free(S->res_re);
    dmp_free(S);
}

int dmp_schema_compile(const char *json, size_t len, const dmp_schema_opts_t *opts,
                       dmp_schema_t **out, dmp_error_t *err)
{
    *out = NULL;
    dmp_json_limits_t lim;
    lim.max_bytes =
        opts && opts->max_schema_bytes ? opts->max_schema_bytes : DEFAULT_MAX_SCHEMA_BYTES;
    lim.max_depth =
        opts && opts->max_schema_depth ? opts->max_schema_depth : DEFAULT_MAX_SCHEMA_DEPTH;
    if (len > lim.max_bytes)
        return DMP_ERR(err, DMP_LIMIT, "schema is %zu bytes, over the limit of %zu", len,
                       lim.max_bytes);
    dmp_json_doc_t *doc;
    int rc = dmp_json_parse(json, len, &lim, &doc, err);
    if (rc != DMP_OK)
        return rc;
    dmp_schema_t *S = dmp_calloc(1, sizeof *S);
    S->format_assert = opts ? opts->format_assert : 0;
    S->match_limit =
        opts && opts->regex_match_limit ? opts->regex_match_limit : DEFAULT_MATCH_LIMIT;
    S->max_instance_bytes =
        opts && opts->max_instance_bytes ? opts->max_instance_bytes : DEFAULT_MAX_INSTANCE_BYTES;
    S->max_instance_depth =
        opts && opts->max_instance_depth ? opts->max_instance_depth : DEFAULT_MAX_INSTANCE_DEPTH;
    S->max_captures = 1;
    S->max_steps = opts && opts->max_eval_steps ? opts->max_eval_steps : DEFAULT_MAX_STEPS;
    comp_t C = {.S = S, .o = opts, .err = err};
    cdoc_t *d = add_doc(&C, doc, opts && opts->base_uri ? opts->base_uri : "");
    read_vocabularies(&C, dmp_json_root(doc));
    S->root = compile_node(&C, d, dmp_json_root(doc), d->uri, d->res[0]);
    /* compile every dynamic anchor of every resource reached, until nothing new appears */
    for (int changed = 1; changed && !C.failed;) {
        changed = 0;
        for (size_t r = 0; r < S->n_res && !C.failed; r++) {
            sch_res_t *res = S->res[r];
            for (size_t i = 0; res->used && i < res->n_dyn && !C.failed; i++) {
                if (res->dyn[i].s)
                    continue;
                cdoc_t *od = NULL;
                for (size_t j = 0; j < C.n_docs; j++)
                    if (C.docs[j]->doc == res->doc)
                        od = C.docs[j];
                const dmp_json_node_t *nn = res->dyn_nodes[i];
                uint32_t ni = dmp_json_index(od->doc, nn);
                res->dyn[i].s = compile_node(&C, od, nn, od->base[ni], od->res[ni]);
                changed = 1;
            }
        }
    }
    S->track_eval = C.uses_uneval;
    rc = C.failed || !S->root ? DMP_INVALID : DMP_OK;
    if (rc != DMP_OK && err && err->code == DMP_OK)
        DMP_ERR(err, DMP_INVALID, "schema does not compile");
    for (size_t i = 0; i < C.n_docs; i++) {
        dmp_free(C.docs[i]->base);
        dmp_free(C.docs[i]->res);
        dmp_free(C.docs[i]->memo);
        dmp_free(C.docs[i]);
    }
    dmp_free(C.docs);
    for (size_t i = 0; i < C.cap_map; i++)
        dmp_free(C.map[i].key);
    dmp_free(C.map);
    if (rc != DMP_OK) {
        dmp_schema_free(S);
        return rc;
    }
    *out = S;
    return DMP_OK;
}
