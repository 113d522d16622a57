/* jsonpath_eval.c -- RFC 9535 JSONPath: evaluation of a compiled query over a
 * jansson document, and the public compile/eval API.
 *
 * Evaluation is a loop over segments: each segment maps the current nodelist to
 * the next. Nodes of the top-level query carry a parent-linked location (an
 * arena-allocated chain) from which the normalized path and JSON pointer are built
 * once at the end; filter sub-queries track no location.
 *
 * Work is counted in steps (one per node a selector looks at, per filter run, per
 * value compared); past limits.max_steps the evaluation stops with DMP_LIMIT.
 * Recursion depth is bounded by the parse-time nesting limit and, for the
 * descendant segment, by JP_MAX_DOC_DEPTH.
 */
#include <math.h>
#include <string.h>

#include "governance/governance_int.h"

#define JP_MAX_DOC_DEPTH 1000

/* Location of a node: a chain up to the root (NULL parent). */
typedef struct jp_loc {
    const struct jp_loc *parent;
    const char *key; /* member name, or NULL for an array index */
    size_t key_len;
    size_t index;
} jp_loc_t;

typedef struct arena_blk {
    struct arena_blk *next;
    size_t used;
    jp_loc_t locs[256];
} arena_blk_t;

typedef struct jp_item {
    json_t *v;
    const jp_loc_t *loc; /* NULL when not tracked */
} jp_item_t;

typedef struct jp_list {
    jp_item_t *v;
    size_t n, cap;
} jp_list_t;

typedef struct ctx {
    const dmp_jsonpath_limits_t *lim;
    json_t *root;
    uint64_t steps;
    int rc;
    dmp_error_t *err;
    arena_blk_t *arena;
} ctx_t;

/* An evaluated filter operand. */
typedef enum { V_NOTHING, V_JSON, V_NUM, V_LOGICAL, V_NODES } vkind_t;
typedef struct val {
    vkind_t kind;
    json_t *j;  /* V_JSON, borrowed */
    double num; /* V_NUM */
    bool logical;
    jp_list_t nodes; /* V_NODES, owned */
} val_t;

static bool step(ctx_t *c, uint64_t n)
{
    if (c->rc != DMP_OK)
        return false;
    c->steps += n;
    if (c->steps > c->lim->max_steps) {
        c->rc =
            DMP_ERR(c->err, DMP_LIMIT, "jsonpath evaluation exceeded the work limit of %llu steps",
                    (unsigned long long)c->lim->max_steps);
        return false;
    }
    return true;
}

static const jp_loc_t *loc_new(ctx_t *c, const jp_loc_t *parent, const char *key, size_t key_len,
                               size_t index)
{
    if (!c->arena || c->arena->used == sizeof(c->arena->locs) / sizeof(c->arena->locs[0])) {
        arena_blk_t *b = dmp_malloc(sizeof(*b));
        b->next = c->arena;
        b->used = 0;
        c->arena = b;
    }
    jp_loc_t *l = &c->arena->locs[c->arena->used++];
    l->parent = parent;
    l->key = key;
    l->key_len = key_len;
    l->index = index;
    return l;
}

static void list_push(ctx_t *c, jp_list_t *l, json_t *v, const jp_loc_t *parent, const char *key,
                      size_t key_len, size_t index)
{
    if (c->rc != DMP_OK)
        return;
    if (l->n >= c->lim->max_nodes) {
        c->rc = DMP_ERR(c->err, DMP_LIMIT, "jsonpath result exceeds the limit of %zu nodes",
                        c->lim->max_nodes);
        return;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = dmp_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n].v = v;
    l->v[l->n].loc = parent ? loc_new(c, parent, key, key_len, index) : NULL;
    l->n++;
}

static void list_free(jp_list_t *l)
{
    dmp_free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static bool eval_logical(ctx_t *c, const jp_expr_t *e, json_t *cur);
static void eval_query(ctx_t *c, const jp_query_t *q, json_t *start, const jp_loc_t *start_loc,
                       jp_list_t *out);

/* ---- selectors */

static int64_t norm_index(int64_t i, int64_t len)
{
    return i >= 0 ? i : len + i;
}

static void select_slice(ctx_t *c, const jp_selector_t *s, json_t *arr, const jp_loc_t *loc,
                         jp_list_t *out)
{
    int64_t len = (int64_t)json_array_size(arr), step_ = s->step, lo, hi;
    if (step_ == 0)
        return;
    int64_t start = s->has_start ? s->start : (step_ > 0 ? 0 : len - 1);
    int64_t end = s->has_end ? s->end : (step_ > 0 ? len : -len - 1);
    int64_t ns = norm_index(start, len), ne = norm_index(end, len);
    if (step_ > 0) {
        lo = ns < 0 ? 0 : (ns > len ? len : ns);
        hi = ne < 0 ? 0 : (ne > len ? len : ne);
        for (int64_t i = lo; i < hi && step(c, 1); i += step_)
            list_push(c, out, json_array_get(arr, (size_t)i), loc, NULL, 0, (size_t)i);
    } else {
        hi = ns < -1 ? -1 : (ns >= len ? len - 1 : ns);
        lo = ne < -1 ? -1 : (ne >= len ? len - 1 : ne);
        for (int64_t i = hi; lo < i && step(c, 1); i += step_)
            list_push(c, out, json_array_get(arr, (size_t)i), loc, NULL, 0, (size_t)i);
    }
}

static void apply_selector(ctx_t *c, const jp_selector_t *s, json_t *v, const jp_loc_t *loc,
                           jp_list_t *out)
{
    json_t *child;
    void *it;
    switch (s->kind) {
    case JP_SEL_NAME:
        if (json_is_object(v) && step(c, 1)) {
            child = json_object_getn(v, s->name, s->name_len);
            if (child) /* the name outlives the locs: they die with this call */
                list_push(c, out, child, loc, s->name, s->name_len, 0);
        }
        break;
    case JP_SEL_WILD:
        if (json_is_object(v)) {
            for (it = json_object_iter(v); it && step(c, 1); it = json_object_iter_next(v, it))
                list_push(c, out, json_object_iter_value(it), loc, json_object_iter_key(it),
                          json_object_iter_key_len(it), 0);
        } else if (json_is_array(v)) {
            for (size_t i = 0; i < json_array_size(v) && step(c, 1); i++)
                list_push(c, out, json_array_get(v, i), loc, NULL, 0, i);
        }
        break;
    case JP_SEL_INDEX:
        if (json_is_array(v) && step(c, 1)) {
            int64_t len = (int64_t)json_array_size(v), i = norm_index(s->index, len);
            if (i >= 0 && i < len)
                list_push(c, out, json_array_get(v, (size_t)i), loc, NULL, 0, (size_t)i);
        }
        break;
    case JP_SEL_SLICE:
        if (json_is_array(v))
            select_slice(c, s, v, loc, out);
        break;
    case JP_SEL_FILTER:
        if (json_is_object(v)) {
            for (it = json_object_iter(v); it && step(c, 1); it = json_object_iter_next(v, it)) {
                child = json_object_iter_value(it);
                if (eval_logical(c, s->filter, child))
                    list_push(c, out, child, loc, json_object_iter_key(it),
                              json_object_iter_key_len(it), 0);
            }
        } else if (json_is_array(v)) {
            for (size_t i = 0; i < json_array_size(v) && step(c, 1); i++) {
                child = json_array_get(v, i);
                if (eval_logical(c, s->filter, child))
                    list_push(c, out, child, loc, NULL, 0, i);
            }
        }
        break;
    }
}

/* The descendant segment: the selectors applied to v, then to every descendant,
 * parents before children. */
static void descend(ctx_t *c, const jp_segment_t *sg, json_t *v, const jp_loc_t *loc,
                    jp_list_t *out, int depth)
{
    if (depth > JP_MAX_DOC_DEPTH) {
        if (c->rc == DMP_OK)
            c->rc = DMP_ERR(c->err, DMP_LIMIT,
                            "jsonpath '..' over a document nested deeper "
                            "than %d",
                            JP_MAX_DOC_DEPTH);
        return;
    }
    for (size_t k = 0; k < sg->n && c->rc == DMP_OK; k++)
        apply_selector(c, &sg->sels[k], v, loc, out);
    if (json_is_object(v)) {
        for (void *it = json_object_iter(v); it && step(c, 1); it = json_object_iter_next(v, it))
            descend(c, sg, json_object_iter_value(it),
                    loc ? loc_new(c, loc, json_object_iter_key(it), json_object_iter_key_len(it), 0)
                        : NULL,
                    out, depth + 1);
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && step(c, 1); i++)
            descend(c, sg, json_array_get(v, i), loc ? loc_new(c, loc, NULL, 0, i) : NULL, out,
                    depth + 1);
    }
}

static void eval_query(ctx_t *c, const jp_query_t *q, json_t *start, const jp_loc_t *start_loc,
                       jp_list_t *out)
{
    jp_list_t cur = {0}, next = {0};
    list_push(c, &cur, start, NULL, NULL, 0, 0);
    if (cur.n)
        cur.v[0].loc = start_loc;
    for (size_t i = 0; i < q->n && c->rc == DMP_OK; i++) {
        const jp_segment_t *sg = &q->segs[i];
        next.n = 0;
        for (size_t j = 0; j < cur.n && c->rc == DMP_OK; j++) {
            if (sg->kind == JP_SEG_DESC) {
                descend(c, sg, cur.v[j].v, cur.v[j].loc, &next, 0);
            } else {
                for (size_t k = 0; k < sg->n && c->rc == DMP_OK; k++)
                    apply_selector(c, &sg->sels[k], cur.v[j].v, cur.v[j].loc, &next);
            }
        }
        jp_list_t t = cur;
        cur = next;
        next = t;
    }
    list_free(&next);
    if (c->rc != DMP_OK) {
        list_free(&cur);
        return;
    }
    *out = cur;
}

/* ---- filter expressions */

static bool num_of(const val_t *v, double *d, json_int_t *i, bool *is_int)
{
    if (v->kind == V_NUM) {
        *d = v->num;
        *is_int = false;
        return true;
    }
    if (v->kind == V_JSON && json_is_integer(v->j)) {
        *i = json_integer_value(v->j);
        *d = (double)*i;
        *is_int = true;
        return true;
    }
    if (v->kind == V_JSON && json_is_real(v->j)) {
        *d = json_real_value(v->j);
        *is_int = false;
        return true;
    }
    return false;
}

static bool json_eq(ctx_t *c, json_t *a, json_t *b, int depth)
{
    if (!step(c, 1))
        return false;
    if (depth > JP_MAX_DOC_DEPTH) {
        c->rc = DMP_ERR(c->err, DMP_LIMIT, "jsonpath comparison of values nested deeper than %d",
                        JP_MAX_DOC_DEPTH);
        return false;
    }
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!json_eq(c, json_array_get(a, i), json_array_get(b, i), depth + 1))
                return false;
        return true;
    case JSON_OBJECT:
        if (json_object_size(a) != json_object_size(b))
            return false;
        for (void *it = json_object_iter(a); it; it = json_object_iter_next(a, it)) {
            json_t *o = json_object_getn(b, json_object_iter_key(it), json_object_iter_key_len(it));
            if (!o || !json_eq(c, json_object_iter_value(it), o, depth + 1))
                return false;
        }
        return true;
    default:
        return true; /* true, false, null */
    }
}

static bool val_eq(ctx_t *c, const val_t *a, const val_t *b)
{
    if (a->kind == V_NOTHING || b->kind == V_NOTHING)
        return a->kind == b->kind;
    double da, db;
    json_int_t ia, ib;
    bool inta, intb;
    bool na = num_of(a, &da, &ia, &inta), nb = num_of(b, &db, &ib, &intb);
    if (na || nb) {
        if (!(na && nb))
            return false;
        return inta && intb ? ia == ib : da == db;
    }
    return json_eq(c, a->j, b->j, 0);
}

static bool val_lt(const val_t *a, const val_t *b)
{
    double da, db;
    json_int_t ia, ib;
    bool inta, intb;
    if (num_of(a, &da, &ia, &inta) && num_of(b, &db, &ib, &intb))
        return inta && intb ? ia < ib : da < db;
    if (a->kind == V_JSON && b->kind == V_JSON && json_is_string(a->j) && json_is_string(b->j)) {
        size_t la = json_string_length(a->j), lb = json_string_length(b->j);
        int r = memcmp(json_string_value(a->j), json_string_value(b->j), la < lb ? la : lb);
        return r < 0 || (r == 0 && la < lb); /* UTF-8 byte order is code point order */
    }
    return false;
}

static void eval_value(ctx_t *c, const jp_expr_t *e, json_t *cur, val_t *out);
static void eval_comparable(ctx_t *c, const jp_expr_t *e, json_t *cur, val_t *out);

static size_t utf8_count(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            k++;
    return k;
}

static bool regex_call(ctx_t *c, const jp_expr_t *e, json_t *cur)
{
    val_t s = {0}, pat = {0};
    bool r = false;
    eval_comparable(c, e->a, cur, &s);
    if (e->re_invalid || c->rc != DMP_OK || s.kind != V_JSON || !json_is_string(s.j))
        return false;
    pcre2_code *re = e->re, *own = NULL;
    if (!re) {
        eval_comparable(c, e->b, cur, &pat);
        if (pat.kind != V_JSON || !json_is_string(pat.j))
            return false;
        if (!step(c, json_string_length(pat.j) + 1))
            return false;
        re = own = jp_iregexp_compile(json_string_value(pat.j), json_string_length(pat.j),
                                      e->fn == JP_FN_MATCH);
        if (!re)
            return false;
    }
    if (step(c, json_string_length(s.j) + 1)) {
        int m = jp_regex_match(re, json_string_value(s.j), json_string_length(s.j),
                               c->lim->regex_match_limit);
        if (m == DMP_LIMIT)
            c->rc = DMP_ERR(c->err, DMP_LIMIT, "jsonpath %s() exceeded the regex match limit",
                            e->fn == JP_FN_MATCH ? "match" : "search");
        r = m == 1;
    }
    if (own)
        pcre2_code_free(own);
    return r;
}

/* Value of a comparable or a ValueType/NodesType argument. */
static void eval_value(ctx_t *c, const jp_expr_t *e, json_t *cur, val_t *out)
{
    memset(out, 0, sizeof(*out));
    if (c->rc != DMP_OK)
        return;
    switch (e->kind) {
    case JP_E_LIT:
        out->kind = V_JSON;
        out->j = e->lit;
        return;
    case JP_E_QUERY: {
        jp_list_t l = {0};
        eval_query(c, &e->q, e->q.relative ? cur : c->root, NULL, &l);
        out->kind = V_NODES;
        out->nodes = l;
        return;
    }
    case JP_E_FUNC:
        break;
    default:
        out->kind = V_LOGICAL;
        out->logical = eval_logical(c, e, cur);
        return;
    }
    val_t a = {0};
    switch (e->fn) {
    case JP_FN_LENGTH:
        eval_comparable(c, e->a, cur, &a);
        if (a.kind == V_JSON && json_is_string(a.j)) {
            out->kind = V_NUM;
            out->num = (double)utf8_count(json_string_value(a.j), json_string_length(a.j));
        } else if (a.kind == V_JSON && json_is_array(a.j)) {
            out->kind = V_NUM;
            out->num = (double)json_array_size(a.j);
        } else if (a.kind == V_JSON && json_is_object(a.j)) {
            out->kind = V_NUM;
            out->num = (double)json_object_size(a.j);
        }
        return;
    case JP_FN_COUNT:
        eval_value(c, e->a, cur, &a);
        out->kind = V_NUM;
        out->num = (double)a.nodes.n;
        list_free(&a.nodes);
        return;
    case JP_FN_VALUE:
        eval_value(c, e->a, cur, &a);
        if (a.nodes.n == 1) {
            out->kind = V_JSON;
            out->j = a.nodes.v[0].v;
        }
        list_free(&a.nodes);
        return;
    case JP_FN_MATCH:
    case JP_FN_SEARCH:
        out->kind = V_LOGICAL;
        out->logical = regex_call(c, e, cur);
        return;
    }
}

/* A comparable: singular query results become a value or Nothing. */
static void eval_comparable(ctx_t *c, const jp_expr_t *e, json_t *cur, val_t *out)
{
    eval_value(c, e, cur, out);
    if (out->kind == V_NODES) {
        json_t *j = out->nodes.n == 1 ? out->nodes.v[0].v : NULL;
        list_free(&out->nodes);
        out->kind = j ? V_JSON : V_NOTHING;
        out->j = j;
    }
}

static bool eval_logical(ctx_t *c, const jp_expr_t *e, json_t *cur)
{
    if (!step(c, 1))
        return false;
    switch (e->kind) {
    case JP_E_OR:
        return eval_logical(c, e->a, cur) || eval_logical(c, e->b, cur);
    case JP_E_AND:
        return eval_logical(c, e->a, cur) && eval_logical(c, e->b, cur);
    case JP_E_NOT:
        return !eval_logical(c, e->a, cur) && c->rc == DMP_OK;
    case JP_E_QUERY: {
        jp_list_t l = {0};
        eval_query(c, &e->q, e->q.relative ? cur : c->root, NULL, &l);
        bool r = l.n > 0;
        list_free(&l);
        return r;
    }
    case JP_E_FUNC:
        return regex_call(c, e, cur);
    case JP_E_CMP: {
        val_t a, b;
        bool r = false;
        eval_comparable(c, e->a, cur, &a);
        eval_comparable(c, e->b, cur, &b);
        if (c->rc != DMP_OK)
            return false;
        switch (e->op) {
        case JP_OP_EQ:
            r = val_eq(c, &a, &b);
            break;
        case JP_OP_NE:
            r = !val_eq(c, &a, &b);
            break;
        case JP_OP_LT:
            r = val_lt(&a, &b);
            break;
        case JP_OP_LE:
            r = val_lt(&a, &b) || val_eq(c, &a, &b);
            break;
        case JP_OP_GT:
            r = val_lt(&b, &a);
            break;
        case JP_OP_GE:
            r = val_lt(&b, &a) || val_eq(c, &a, &b);
            break;
        }
        return r;
    }
    case JP_E_LIT:
        return false;
    }
    return false;
}

/* ---- paths */

void jp_path_put_name(dmp_buf_t *b, const char *name, size_t len)
{
    dmp_buf_putc(b, '\'');
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        switch (ch) {
        case '\b':
            dmp_buf_puts(b, "\\b");
            break;
        case '\f':
            dmp_buf_puts(b, "\\f");
            break;
        case '\n':
            dmp_buf_puts(b, "\\n");
            break;
        case '\r':
            dmp_buf_puts(b, "\\r");
            break;
        case '\t':
            dmp_buf_puts(b, "\\t");
            break;
        case '\'':
            dmp_buf_puts(b, "\\'");
            break;
        case '\\':
            dmp_buf_puts(b, "\\\\");
            break;
        default:
            if (ch < 0x20)
                dmp_buf_printf(b, "\\u%04x", ch);
            else
                dmp_buf_putc(b, (char)ch);
        }
    }
    dmp_buf_putc(b, '\'');
}

void jp_pointer_put_name(dmp_buf_t *b, const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '~')
            dmp_buf_puts(b, "~0");
        else if (name[i] == '/')
            dmp_buf_puts(b, "~1");
        else
            dmp_buf_putc(b, name[i]);
    }
}

char *dmp_jsonpath_pointer_escape(const char *name)
{
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_buf_append(&b, "", 0);
    jp_pointer_put_name(&b, name, strlen(name));
    return dmp_buf_steal(&b);
}

static void loc_strings(const jp_loc_t *l, char **path, char **pointer)
{
    const jp_loc_t *chain[JP_MAX_DOC_DEPTH + 64];
    size_t n = 0;
    for (; l && l->parent && n < sizeof(chain) / sizeof(chain[0]); l = l->parent)
        chain[n++] = l;
    dmp_buf_t p = DMP_BUF_INIT, q = DMP_BUF_INIT;
    dmp_buf_putc(&p, '$');
    dmp_buf_append(&q, "", 0);
    while (n-- > 0) {
        const jp_loc_t *x = chain[n];
        dmp_buf_putc(&p, '[');
        dmp_buf_putc(&q, '/');
        if (x->key) {
            jp_path_put_name(&p, x->key, x->key_len);
            jp_pointer_put_name(&q, x->key, x->key_len);
        } else {
            dmp_buf_printf(&p, "%zu", x->index);
            dmp_buf_printf(&q, "%zu", x->index);
        }
        dmp_buf_putc(&p, ']');
    }
    *path = dmp_buf_steal(&p);
    *pointer = dmp_buf_steal(&q);
}

/* ---- public API */

int dmp_jsonpath_compilen(const char *expr, size_t len, const dmp_jsonpath_limits_t *limits,
                          dmp_jsonpath_t **out, dmp_error_t *err)
{
    *out = NULL;
    if (!expr)
        return DMP_ERR(err, DMP_INVALID, "jsonpath expression is missing");
    dmp_jsonpath_t *jp = dmp_calloc(1, sizeof(*jp));
    if (limits)
        jp->lim = *limits;
    if (!jp->lim.max_len)
        jp->lim.max_len = 4096;
    if (!jp->lim.max_depth)
        jp->lim.max_depth = 32;
    if (!jp->lim.max_steps)
        jp->lim.max_steps = 2000000;
    if (!jp->lim.max_nodes)
        jp->lim.max_nodes = 100000;
    if (!jp->lim.regex_match_limit)
        jp->lim.regex_match_limit = 100000;
    if (len > jp->lim.max_len) {
        size_t max = jp->lim.max_len;
        dmp_free(jp);
        return DMP_ERR(err, DMP_LIMIT,
                       "jsonpath expression of %zu bytes exceeds the limit of "
                       "%zu bytes",
                       len, max);
    }
    jp->text = dmp_strndup(expr, len);
    jp->text_len = len;
    int rc = jp_parse(jp, err);
    if (rc != DMP_OK) {
        dmp_jsonpath_free(jp);
        return rc;
    }
    *out = jp;
    return DMP_OK;
}

int dmp_jsonpath_compile(const char *expr, const dmp_jsonpath_limits_t *limits,
                         dmp_jsonpath_t **out, dmp_error_t *err)
{
    *out = NULL;
    if (!expr)
        return DMP_ERR(err, DMP_INVALID, "jsonpath expression is missing");
    return dmp_jsonpath_compilen(expr, strlen(expr), limits, out, err);
}

void dmp_jsonpath_free(dmp_jsonpath_t *jp)
{
    if (!jp)
        return;
    jp_query_fini(&jp->q);
    dmp_free(jp->text);
    dmp_free(jp);
}

const char *dmp_jsonpath_text(const dmp_jsonpath_t *jp)
{
    return jp->text;
}

int dmp_jsonpath_eval(const dmp_jsonpath_t *jp, json_t *doc, dmp_jsonpath_nodelist_t *out,
                      dmp_error_t *err)
{
    if (!doc)
        return DMP_ERR(err, DMP_INVALID, "jsonpath evaluated over no document");
    ctx_t c = {.lim = &jp->lim, .root = doc, .rc = DMP_OK, .err = err};
    static const jp_loc_t root_loc = {NULL, NULL, 0, 0};
    jp_list_t l = {0};
    eval_query(&c, &jp->q, doc, &root_loc, &l);
    if (c.rc == DMP_OK) {
        if (out->cap < out->n + l.n) {
            out->cap = out->n + l.n;
            out->v = dmp_realloc(out->v, out->cap * sizeof(*out->v));
        }
        for (size_t i = 0; i < l.n; i++) {
            dmp_jsonpath_node_t *nd = &out->v[out->n++];
            nd->value = l.v[i].v;
            loc_strings(l.v[i].loc, &nd->path, &nd->pointer);
        }
    }
    list_free(&l);
    while (c.arena) {
        arena_blk_t *b = c.arena->next;
        dmp_free(c.arena);
        c.arena = b;
    }
    return c.rc;
}

void dmp_jsonpath_nodelist_free(dmp_jsonpath_nodelist_t *nl)
{
    if (!nl)
        return;
    for (size_t i = 0; i < nl->n; i++) {
        dmp_free(nl->v[i].path);
        dmp_free(nl->v[i].pointer);
    }
    dmp_free(nl->v);
    nl->v = NULL;
    nl->n = nl->cap = 0;
}

int dmp_jsonpath_query(const char *expr, json_t *doc, dmp_jsonpath_nodelist_t *out,
                       dmp_error_t *err)
{
    dmp_jsonpath_t *jp = NULL;
    int rc = dmp_jsonpath_compile(expr, NULL, &jp, err);
    if (rc == DMP_OK)
        rc = dmp_jsonpath_eval(jp, doc, out, err);
    dmp_jsonpath_free(jp);
    return rc;
}
