/* load.c -- YAML and JSON text -> jansson values plus a position map.
 *
 * libfyaml's event parser does the lexing (it is iterative, so deep nesting cannot
 * overflow the C stack); this file turns the events into JSON with an explicit stack
 * of open collections. Every limit is checked as events arrive:
 *   - bytes: before parsing;
 *   - depth: when a collection opens, and when an alias would place a deep value;
 *   - nodes: every node counts one, and an alias counts the whole size of what it
 *     names *before* the copy is made, so an alias bomb stops at the limit.
 * It must not know anything about descriptors.
 */
#include "descriptor/descriptor_int.h"

#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct anchor {
    char *name;
    json_t *val;  /* NULL while the collection it names is still open */
    size_t nodes; /* nodes it holds, aliases expanded */
    int height;   /* collection levels it holds */
} anchor_t;

typedef struct frame {
    json_t *node; /* the open object or array (owned by its parent, or by the frame when
                     it is a merge source or the root) */
    uint32_t loc_idx;
    int anchor; /* index into anchors, or -1 */
    size_t nodes_before;
    int height;
    int is_merge; /* the value of a `<<` key: goes to the parent's merge list at the end */
    /* mapping state */
    int have_key;
    char *key;
    size_t key_len;
    dmp_loc_t key_loc;
    int key_is_merge;
    json_t *merges; /* array of merge sources, or NULL */
} frame_t;

typedef struct loader {
    const dmp_doc_opts_t *opts;
    dmp_descriptor_limits_t lim;
    const char *source;
    int json; /* input is JSON */
    dmp_diags_t *diags;
    dmp_error_t *err;
    int rc;

    frame_t *stack;
    size_t depth, stack_cap;
    anchor_t *anchors;
    size_t n_anchors, anchors_cap;
    json_t *anchor_index; /* name -> index of the latest definition */
    size_t nodes;

    json_t *docs; /* array of finished documents */
    json_t *cur;  /* the current document's root */
    int have_root;
    dmp_doc_locs_t *locs;
    uint32_t doc_loc; /* entry of the current document's root */
} loader_t;

static dmp_loc_t mark_loc(const struct fy_mark *m)
{
    if (m == NULL)
        return (dmp_loc_t){0, 0};
    return (dmp_loc_t){m->line + 1, m->column + 1};
}

/* Records a failure; only the first becomes the return code and 'err'. */
static void fail(loader_t *ld, int code, const char *rule, dmp_loc_t loc, const char *fmt, ...)
    DMP_PRINTF(5, 6);
static void fail(loader_t *ld, int code, const char *rule, dmp_loc_t loc, const char *fmt, ...)
{
    dmp_buf_t b = DMP_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    dmp_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (ld->rc == DMP_OK) {
        ld->rc = DMP_ERR(ld->err, code, "%s", b.data);
        if (loc.line > 0)
            dmp_error_where(ld->err, "%s:%d:%d", ld->source, loc.line, loc.col);
        else
            dmp_error_where(ld->err, "%s", ld->source);
    }
    dmp_diags_add(ld->diags, DMP_SEV_ERROR, code, rule, ld->source, loc, "", "", "%s", b.data);
    dmp_buf_free(&b);
}

/* ---- scalars ---- */

static int match_ci3(const char *s, size_t n, const char *lower, const char *title,
                     const char *upper)
{
    size_t l = strlen(lower);
    return n == l && (!memcmp(s, lower, n) || !memcmp(s, title, n) || !memcmp(s, upper, n));
}

static int is_int10(const char *s, size_t n)
{
    size_t i = 0;
    if (n && (s[0] == '-' || s[0] == '+'))
        i = 1;
    if (i == n)
        return 0;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int is_float(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    if (n && (s[0] == '-' || s[0] == '+'))
        i = 1;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
        digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            digits++;
        }
    }
    if (digits == 0)
        return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t e = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            e++;
        }
        if (e == 0)
            return 0;
    }
    return i == n;
}

static int is_radix(const char *s, size_t n, char p, const char *set)
{
    if (n < 3 || s[0] != '0' || s[1] != p)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (!strchr(set, s[i]))
            return 0;
    return 1;
}

static json_t *make_number(loader_t *ld, const char *s, size_t n, int base, dmp_loc_t loc)
{
    char tmp[128];
    if (n >= sizeof(tmp)) {
        fail(ld, DMP_PARSE, "syntax", loc, "number '%.20s...' is too long", s);
        return NULL;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    if (base) {
        const char *d = tmp;
        if (base != 10)
            d = tmp + 2;
        long long v = strtoll(d, NULL, base);
        if (errno != ERANGE)
            return json_integer(v);
        if (base != 10) {
            fail(ld, DMP_PARSE, "syntax", loc, "integer %s is out of range", tmp);
            return NULL;
        }
        errno = 0;
    }
    double v = strtod(tmp, NULL);
    if (!isfinite(v)) {
        fail(ld, DMP_PARSE, "syntax", loc, "number %s is out of range", tmp);
        return NULL;
    }
    return json_real(v);
}

static json_t *make_string(loader_t *ld, const char *s, size_t n, dmp_loc_t loc)
{
    json_t *v = json_stringn(s, n);
    if (v == NULL)
        fail(ld, DMP_PARSE, "syntax", loc, "text is not valid UTF-8");
    return v;
}

#define TAG_PREFIX "tag:yaml.org,2002:"

/* Resolves a scalar with the YAML 1.2 core schema (or JSON rules for JSON input). */
/* Copies a scalar token's text (escapes and folding applied) into 'out'. It walks the
 * token's chunks rather than calling fy_token_get_text(): libfyaml 0.7.12 leaks the
 * cached text of single-quoted scalars with many '' escapes (found by fuzzing). */
static void token_text(struct fy_token *t, dmp_buf_t *out)
{
    dmp_buf_reset(out);
    dmp_buf_puts(out, "");
    struct fy_token_iter *it = fy_token_iter_create(t);
    if (it == NULL)
        return;
    const struct fy_iter_chunk *ch = NULL;
    int e = 0;
    while ((ch = fy_token_iter_chunk_next(it, ch, &e)) != NULL)
        dmp_buf_append(out, ch->str, ch->len);
    fy_token_iter_destroy(it);
}

static json_t *scalar_value(loader_t *ld, const char *s, size_t n, enum fy_scalar_style style,
                            struct fy_token *tag, dmp_loc_t loc)
{
    const char *t = tag ? fy_token_get_text0(tag) : NULL;

    if (t && !strncmp(t, TAG_PREFIX, strlen(TAG_PREFIX))) {
        const char *k = t + strlen(TAG_PREFIX);
        if (!strcmp(k, "str") || !strcmp(k, "binary") || !strcmp(k, "timestamp"))
            return make_string(ld, s, n, loc);
        if (!strcmp(k, "null")) {
            if (n == 0 || (n == 1 && s[0] == '~') || match_ci3(s, n, "null", "Null", "NULL"))
                return json_null();
        } else if (!strcmp(k, "bool")) {
            if (match_ci3(s, n, "true", "True", "TRUE"))
                return json_true();
            if (match_ci3(s, n, "false", "False", "FALSE"))
                return json_false();
        } else if (!strcmp(k, "int")) {
            if (is_int10(s, n))
                return make_number(ld, s, n, 10, loc);
            if (is_radix(s, n, 'x', "0123456789abcdefABCDEF"))
                return make_number(ld, s, n, 16, loc);
            if (is_radix(s, n, 'o', "01234567"))
                return make_number(ld, s, n, 8, loc);
        } else if (!strcmp(k, "float")) {
            if (is_float(s, n) || is_int10(s, n))
                return make_number(ld, s, n, 0, loc);
        } else {
            fail(ld, DMP_PARSE, "syntax", loc, "tag !!%s does not apply to a scalar", k);
            return NULL;
        }
        fail(ld, DMP_PARSE, "syntax", loc, "'%.*s' is not a valid !!%s", (int)(n > 60 ? 60 : n), s,
             k);
        return NULL;
    }
    /* Quoted and block scalars, and the non-specific tag '!', are strings. Other
     * (application) tags are ignored: the value resolves as if untagged. */
    if (style != FYSS_PLAIN || (t && !strcmp(t, "!")))
        return make_string(ld, s, n, loc);
    if (n == 0 || (n == 1 && s[0] == '~') || match_ci3(s, n, "null", "Null", "NULL")) {
        if (ld->json && !(n == 4 && !memcmp(s, "null", 4)))
            goto bad_json;
        return json_null();
    }
    if (match_ci3(s, n, "true", "True", "TRUE")) {
        if (ld->json && memcmp(s, "true", 4))
            goto bad_json;
        return json_true();
    }
    if (match_ci3(s, n, "false", "False", "FALSE")) {
        if (ld->json && memcmp(s, "false", 5))
            goto bad_json;
        return json_false();
    }
    if (is_int10(s, n))
        return make_number(ld, s, n, 10, loc);
    if (is_float(s, n))
        return make_number(ld, s, n, 0, loc);
    if (ld->json)
        goto bad_json;
    if (is_radix(s, n, 'x', "0123456789abcdefABCDEF"))
        return make_number(ld, s, n, 16, loc);
    if (is_radix(s, n, 'o', "01234567"))
        return make_number(ld, s, n, 8, loc);
    /* .inf and .nan have no JSON form; they stay strings */
    return make_string(ld, s, n, loc);
bad_json:
    fail(ld, DMP_PARSE, "syntax", loc, "'%.*s' is not a JSON value", (int)(n > 60 ? 60 : n), s);
    return NULL;
}

/* ---- the tree ---- */

static int count_node(loader_t *ld, size_t add, dmp_loc_t loc, const char *alias)
{
    if (ld->nodes + add > ld->lim.max_nodes) {
        if (alias)
            fail(ld, DMP_LIMIT, "limit", loc,
                 "alias '*%s' would expand the document past %zu nodes (limits.max_nodes); "
                 "refusing it (a nested-alias bomb?)",
                 alias, ld->lim.max_nodes);
        else
            fail(ld, DMP_LIMIT, "limit", loc, "document has more than %zu nodes (limits.max_nodes)",
                 ld->lim.max_nodes);
        return -1;
    }
    ld->nodes += add;
    return 0;
}

static void set_anchor(loader_t *ld, struct fy_token *atok, int *out_idx, dmp_loc_t loc)
{
    *out_idx = -1;
    if (atok == NULL)
        return;
    const char *name = fy_token_get_text0(atok);
    if (name == NULL)
        return;
    if (ld->n_anchors == ld->anchors_cap) {
        ld->anchors_cap = ld->anchors_cap ? ld->anchors_cap * 2 : 16;
        ld->anchors = dmp_realloc(ld->anchors, ld->anchors_cap * sizeof(*ld->anchors));
    }
    anchor_t *a = &ld->anchors[ld->n_anchors];
    a->name = dmp_strdup(name);
    a->val = NULL;
    a->nodes = 0;
    a->height = 0;
    if (json_object_set_new(ld->anchor_index, name, json_integer((json_int_t)ld->n_anchors))) {
        dmp_free(a->name);
        fail(ld, DMP_PARSE, "syntax", loc, "anchor name is not valid UTF-8");
        return;
    }
    *out_idx = (int)ld->n_anchors++;
}

static void locs_child(loader_t *ld, frame_t *top, dmp_loc_t val, uint32_t *out_idx)
{
    uint32_t idx;
    if (top == NULL) {
        if (ld->opts->multi) {
            char seg[24];
            int n = snprintf(seg, sizeof(seg), "%zu", json_array_size(ld->docs));
            idx = dmp_locs_add(ld->locs, 0, seg, (size_t)n, (dmp_loc_t){0, 0}, val);
        } else {
            ld->locs->ents[0].val = val;
            idx = 0;
        }
        ld->doc_loc = idx;
    } else if (json_is_array(top->node)) {
        char seg[24];
        int n = snprintf(seg, sizeof(seg), "%zu", json_array_size(top->node));
        idx = dmp_locs_add(ld->locs, top->loc_idx, seg, (size_t)n, (dmp_loc_t){0, 0}, val);
    } else {
        idx = dmp_locs_add(ld->locs, top->loc_idx, top->key, top->key_len, top->key_loc, val);
    }
    if (out_idx)
        *out_idx = idx;
}

/* Places a finished value (steals the reference) into the open collection or as the
 * document root. 'record' adds a position entry (not for alias copies' insides). */
static int attach(loader_t *ld, json_t *v, dmp_loc_t loc, uint32_t *loc_idx)
{
    frame_t *top = ld->depth ? &ld->stack[ld->depth - 1] : NULL;
    if (top == NULL) {
        ld->cur = v;
        ld->have_root = 1;
        locs_child(ld, NULL, loc, loc_idx);
        return 0;
    }
    if (json_is_array(top->node)) {
        locs_child(ld, top, loc, loc_idx);
        json_array_append_new(top->node, v);
        return 0;
    }
    /* mapping value */
    if (top->key_is_merge) {
        if (top->merges == NULL)
            top->merges = json_array();
        json_array_append_new(top->merges, v);
    } else {
        locs_child(ld, top, loc, loc_idx);
        json_object_setn_new_nocheck(top->node, top->key, top->key_len, v);
    }
    dmp_free(top->key);
    top->key = NULL;
    top->have_key = 0;
    top->key_is_merge = 0;
    return 0;
}

/* A scalar (or an alias to a scalar) in key position. */
static int take_key(loader_t *ld, frame_t *top, const char *k, size_t n, dmp_loc_t loc,
                    int maybe_merge)
{
    if (memchr(k, '\0', n)) {
        fail(ld, DMP_PARSE, "syntax", loc, "mapping key contains a NUL character");
        return -1;
    }
    json_t *probe = json_stringn(k, n);
    if (probe == NULL) {
        fail(ld, DMP_PARSE, "syntax", loc, "mapping key is not valid UTF-8");
        return -1;
    }
    json_decref(probe);
    if (maybe_merge && n == 2 && !memcmp(k, "<<", 2)) {
        top->key_is_merge = 1;
    } else if (json_object_getn(top->node, k, n) != NULL) {
        int64_t prev = dmp_locs_child(ld->locs, top->loc_idx, k, n);
        dmp_loc_t pl = prev >= 0 ? ld->locs->ents[prev].key : (dmp_loc_t){0, 0};
        if (pl.line > 0)
            fail(ld, DMP_PARSE, "duplicate-key", loc,
                 "duplicate key '%.*s' (first defined at line %d, column %d)",
                 (int)(n > 80 ? 80 : n), k, pl.line, pl.col);
        else
            fail(ld, DMP_PARSE, "duplicate-key", loc, "duplicate key '%.*s'",
                 (int)(n > 80 ? 80 : n), k);
        return -1;
    }
    top->key = dmp_strndup(k, n);
    top->key_len = n;
    top->key_loc = loc;
    top->have_key = 1;
    return 0;
}

static int in_key_position(loader_t *ld)
{
    frame_t *top = ld->depth ? &ld->stack[ld->depth - 1] : NULL;
    return top && json_is_object(top->node) && !top->have_key;
}

static void note_height(loader_t *ld, int h)
{
    if (ld->depth) {
        frame_t *top = &ld->stack[ld->depth - 1];
        if (h + 1 > top->height)
            top->height = h + 1;
    }
}

static int on_scalar(loader_t *ld, struct fy_event *ev)
{
    dmp_loc_t loc = mark_loc(fy_event_start_mark(ev));
    struct fy_token *val = ev->scalar.value;
    enum fy_scalar_style st = fy_token_scalar_style(val);
    /* libfyaml marks a quoted scalar at its first character; point at the quote */
    if ((st == FYSS_SINGLE_QUOTED || st == FYSS_DOUBLE_QUOTED) && loc.col > 1)
        loc.col--;
    if (count_node(ld, 1, loc, NULL))
        return -1;
    dmp_buf_t text = DMP_BUF_INIT;
    token_text(val, &text);
    const char *k = text.data;
    size_t n = text.len;
    if (in_key_position(ld)) {
        if (ev->scalar.anchor) {
            int ai;
            set_anchor(ld, ev->scalar.anchor, &ai, loc);
            if (ai >= 0) {
                ld->anchors[ai].val = json_stringn(k, n);
                ld->anchors[ai].nodes = 1;
            }
        }
        int merge = !ld->json && st == FYSS_PLAIN && ev->scalar.tag == NULL;
        int rc = take_key(ld, &ld->stack[ld->depth - 1], k, n, loc, merge);
        dmp_buf_free(&text);
        return rc;
    }
    json_t *v = scalar_value(ld, k, n, st, ev->scalar.tag, loc);
    dmp_buf_free(&text);
    if (v == NULL)
        return -1;
    if (ev->scalar.anchor) {
        int ai;
        set_anchor(ld, ev->scalar.anchor, &ai, loc);
        if (ai >= 0) {
            ld->anchors[ai].val = json_incref(v);
            ld->anchors[ai].nodes = 1;
        }
    }
    return attach(ld, v, loc, NULL);
}

static int on_alias(loader_t *ld, struct fy_event *ev)
{
    dmp_loc_t loc = mark_loc(fy_event_start_mark(ev));
    const char *name = fy_token_get_text0(fy_event_get_token(ev));
    if (name == NULL)
        name = "";
    json_t *ix = json_object_get(ld->anchor_index, name);
    if (ix == NULL) {
        fail(ld, DMP_PARSE, "syntax", loc, "alias '*%s' names no anchor defined before it", name);
        return -1;
    }
    anchor_t *a = &ld->anchors[json_integer_value(ix)];
    if (a->val == NULL) {
        fail(ld, DMP_PARSE, "syntax", loc, "alias '*%s' is used inside the node it names", name);
        return -1;
    }
    if (count_node(ld, a->nodes, loc, name))
        return -1;
    if (in_key_position(ld)) {
        if (json_is_object(a->val) || json_is_array(a->val)) {
            fail(ld, DMP_PARSE, "syntax", loc,
                 "alias '*%s' used as a mapping key names a collection; keys must be scalars",
                 name);
            return -1;
        }
        if (json_is_string(a->val))
            return take_key(ld, &ld->stack[ld->depth - 1], json_string_value(a->val),
                            json_string_length(a->val), loc, 0);
        char *txt = json_dumps(a->val, JSON_ENCODE_ANY);
        int rc = take_key(ld, &ld->stack[ld->depth - 1], txt, strlen(txt), loc, 0);
        free(txt);
        return rc;
    }
    if ((int)ld->depth + a->height > ld->lim.max_depth) {
        fail(ld, DMP_LIMIT, "limit", loc,
             "alias '*%s' would nest the document deeper than %d levels (limits.max_depth)", name,
             ld->lim.max_depth);
        return -1;
    }
    json_t *copy = json_deep_copy(a->val);
    note_height(ld, a->height);
    return attach(ld, copy, loc, NULL);
}

static int on_start(loader_t *ld, struct fy_event *ev, int is_map)
{
    dmp_loc_t loc = mark_loc(fy_event_start_mark(ev));
    struct fy_token *atok = is_map ? ev->mapping_start.anchor : ev->sequence_start.anchor;
    struct fy_token *ttok = is_map ? ev->mapping_start.tag : ev->sequence_start.tag;
    if (in_key_position(ld)) {
        fail(ld, DMP_PARSE, "syntax", loc,
             "a %s used as a mapping key is not supported; keys must be scalars",
             is_map ? "mapping" : "sequence");
        return -1;
    }
    if (ttok) {
        const char *t = fy_token_get_text0(ttok);
        if (t && !strncmp(t, TAG_PREFIX, strlen(TAG_PREFIX))) {
            const char *k = t + strlen(TAG_PREFIX);
            const char *want = is_map ? "map" : "seq";
            /* YAML 1.1's !!set is a mapping; !!omap and !!pairs are sequences of pairs */
            int ok = !strcmp(k, want) || (is_map && !strcmp(k, "set")) ||
                     (!is_map && (!strcmp(k, "omap") || !strcmp(k, "pairs")));
            if (!ok) {
                fail(ld, DMP_PARSE, "syntax", loc, "tag !!%s does not apply to a %s", k,
                     is_map ? "mapping" : "sequence");
                return -1;
            }
        }
    }
    if ((int)ld->depth + 1 > ld->lim.max_depth) {
        fail(ld, DMP_LIMIT, "limit", loc,
             "document is nested deeper than %d levels "
             "(limits.max_depth)",
             ld->lim.max_depth);
        return -1;
    }
    if (count_node(ld, 1, loc, NULL))
        return -1;
    json_t *node = is_map ? json_object() : json_array();
    frame_t *top = ld->depth ? &ld->stack[ld->depth - 1] : NULL;
    int is_merge = top && json_is_object(top->node) && top->key_is_merge;
    uint32_t loc_idx = 0;
    int anchor;
    set_anchor(ld, atok, &anchor, loc);
    if (ld->rc != DMP_OK) {
        json_decref(node);
        return -1;
    }
    if (is_merge) {
        /* kept by the frame; handed to the parent's merge list when it closes. Its
         * positions hang under a "<<" entry, so they never shadow the mapping's own keys */
        loc_idx = dmp_locs_add(ld->locs, top->loc_idx, "<<", 2, top->key_loc, loc);
        dmp_free(top->key);
        top->key = NULL;
        top->have_key = 0;
        top->key_is_merge = 0;
    } else {
        attach(ld, json_incref(node), loc, &loc_idx);
        json_decref(node);
    }
    if (ld->depth == ld->stack_cap) {
        ld->stack_cap = ld->stack_cap ? ld->stack_cap * 2 : 16;
        ld->stack = dmp_realloc(ld->stack, ld->stack_cap * sizeof(*ld->stack));
    }
    frame_t *f = &ld->stack[ld->depth++];
    memset(f, 0, sizeof(*f));
    f->node = node;
    f->loc_idx = loc_idx;
    f->anchor = anchor;
    f->nodes_before = ld->nodes - 1;
    f->height = 1;
    f->is_merge = is_merge;
    return 0;
}

static int apply_merges(loader_t *ld, frame_t *f, dmp_loc_t loc)
{
    size_t i;
    json_t *src;
    json_array_foreach(f->merges, i, src)
    {
        json_t *list = src;
        size_t n = json_is_array(src) ? json_array_size(src) : 1;
        for (size_t j = 0; j < n; j++) {
            json_t *m = json_is_array(list) ? json_array_get(list, j) : list;
            if (!json_is_object(m)) {
                fail(ld, DMP_PARSE, "syntax", loc,
                     "merge key '<<' needs a mapping or a list of mappings");
                return -1;
            }
            const char *k;
            size_t kl;
            json_t *v;
            json_object_keylen_foreach(m, k, kl, v)
            {
                if (json_object_getn(f->node, k, kl) == NULL)
                    json_object_setn_nocheck(f->node, k, kl, v);
            }
        }
    }
    return 0;
}

static int on_end(loader_t *ld)
{
    if (ld->depth == 0)
        return 0;
    frame_t *f = &ld->stack[ld->depth - 1];
    if (f->merges) {
        int rc = apply_merges(ld, f, ld->locs->ents[f->loc_idx].val);
        json_decref(f->merges);
        f->merges = NULL;
        if (rc)
            return rc;
    }
    if (f->anchor >= 0) {
        anchor_t *a = &ld->anchors[f->anchor];
        a->val = json_incref(f->node);
        a->nodes = ld->nodes - f->nodes_before;
        a->height = f->height;
    }
    frame_t done = *f;
    ld->depth--;
    note_height(ld, done.height);
    dmp_free(done.key);
    if (done.is_merge) {
        frame_t *top = &ld->stack[ld->depth - 1];
        if (top->merges == NULL)
            top->merges = json_array();
        json_array_append_new(top->merges, done.node);
    }
    return 0;
}

static void clear_anchors(loader_t *ld)
{
    for (size_t i = 0; i < ld->n_anchors; i++) {
        dmp_free(ld->anchors[i].name);
        json_decref(ld->anchors[i].val);
    }
    ld->n_anchors = 0;
    json_object_clear(ld->anchor_index);
}

static void clear_stack(loader_t *ld)
{
    while (ld->depth) {
        frame_t *f = &ld->stack[--ld->depth];
        dmp_free(f->key);
        json_decref(f->merges);
        if (f->is_merge)
            json_decref(f->node);
    }
}

/* Returns the offset of the first byte that is not well-formed UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF included), or len when all is well. The
 * loader refuses such input up front: JSON strings must be UTF-8, and libfyaml 0.7
 * can spin on some invalid bytes (found by fuzz/fuzz_descriptor.c: "%\xff"). */
static size_t utf8_bad_offset(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return i;
        }
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += n + 1;
    }
    return len;
}

/* Returns the offset of the first '[' or '{' that opens flow level max_depth + 1, or
 * len. libfyaml's scanner reads a whole flow collection ahead before it emits the first
 * event, in time that grows faster than linearly with the nesting (4 MiB of '[' took
 * seconds), so deep flow nesting is refused before libfyaml sees it. Quoted scalars and
 * comments are skipped; a quote opens a scalar only where a token can start. Brackets
 * inside plain or block scalars are counted, which could only refuse a document early if
 * it held more than max_depth unbalanced ones there; closers never drop below zero. */
static size_t flow_depth_offset(const char *buf, size_t len, int max_depth)
{
    int depth = 0;
    char prev = '\n';
    size_t line_indent = 0;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (prev == '\n') {
            line_indent = 0;
            while (i + line_indent < len && buf[i + line_indent] == ' ')
                line_indent++;
        }
        if ((c == '|' || c == '>') && depth == 0 && (prev == ' ' || prev == '\t' || prev == '\n')) {
            /* a block scalar: its lines are those indented past the indicator's line */
            while (i < len && buf[i] != '\n')
                i++;
            while (i + 1 < len) {
                size_t j = i + 1, ind = 0;
                while (j < len && buf[j] == ' ') {
                    j++;
                    ind++;
                }
                if (j < len && buf[j] != '\n' && buf[j] != '\r' && ind <= line_indent)
                    break;
                while (j < len && buf[j] != '\n')
                    j++;
                i = j;
            }
            prev = '\n';
            continue;
        }
        int token_start = prev == '\n' || prev == ' ' || prev == '\t' || prev == '[' ||
                          prev == '{' || prev == ',' || prev == ':' || prev == '-' || prev == '?';
        if (c == '#' && (prev == '\n' || prev == ' ' || prev == '\t')) {
            while (i < len && buf[i] != '\n')
                i++;
            prev = '\n';
            continue;
        }
        if ((c == '"' || c == '\'') && token_start) {
            char q = c;
            for (i++; i < len; i++) {
                if (q == '"' && buf[i] == '\\') {
                    i++;
                } else if (buf[i] == q) {
                    if (q == '\'' && i + 1 < len && buf[i + 1] == '\'')
                        i++;
                    else
                        break;
                }
            }
            prev = q;
            continue;
        }
        if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return i;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
        prev = c;
    }
    return len;
}

static dmp_loc_t offset_loc(const char *buf, size_t off)
{
    dmp_loc_t l = {1, 1};
    for (size_t i = 0; i < off; i++) {
        if (buf[i] == '\n') {
            l.line++;
            l.col = 1;
        } else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
            l.col++;
        }
    }
    return l;
}

static int sniff_json(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        return c == '{' || c == '[';
    }
    return 0;
}

static int doc_load(const char *buf, size_t len, const dmp_doc_opts_t *opts, json_t **out,
                    dmp_doc_locs_t **locs, dmp_diags_t *diags, dmp_error_t *err)
{
    loader_t ld = {0};
    ld.opts = opts;
    dmp_limits_resolve(&opts->limits, &ld.lim);
    ld.source = opts->source ? opts->source : "<input>";
    ld.diags = diags;
    ld.err = err;
    ld.rc = DMP_OK;
    *out = NULL;
    if (locs)
        *locs = NULL;

    if (len > ld.lim.max_bytes) {
        fail(&ld, DMP_LIMIT, "limit", (dmp_loc_t){0, 0},
             "document is %zu bytes, over the limit of %zu bytes (limits.max_bytes)", len,
             ld.lim.max_bytes);
        return ld.rc;
    }
    size_t bad = utf8_bad_offset((const unsigned char *)buf, len);
    if (bad < len) {
        fail(&ld, DMP_PARSE, "syntax", offset_loc(buf, bad),
             "the text is not valid UTF-8 (byte 0x%02x at offset %zu)", (unsigned char)buf[bad],
             bad);
        return ld.rc;
    }
    size_t deep = flow_depth_offset(buf, len, ld.lim.max_depth);
    if (deep < len) {
        fail(&ld, DMP_LIMIT, "limit", offset_loc(buf, deep),
             "document is nested deeper than %d levels (limits.max_depth)", ld.lim.max_depth);
        return ld.rc;
    }
    /* dmp_doc_load() resolves DMP_FMT_AUTO before calling here */
    ld.json = opts->format == DMP_FMT_JSON;

    struct fy_diag_cfg dc;
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;
    dc.level = FYET_ERROR;
    dc.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dc);
    if (diag == NULL)
        return DMP_ERR(err, DMP_IO, "cannot create the YAML diagnostics object");
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg cfg = {0};
    cfg.flags =
        FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 | (ld.json ? FYPCF_JSON_FORCE : FYPCF_JSON_NONE);
    cfg.diag = diag;
    struct fy_parser *fyp = fy_parser_create(&cfg);
    if (fyp == NULL) {
        fy_diag_destroy(diag);
        return DMP_ERR(err, DMP_IO, "cannot create the YAML parser");
    }
    /* libfyaml wants a non-NULL pointer even for empty input */
    fy_parser_set_string(fyp, len ? buf : "", len);

    ld.anchor_index = json_object();
    ld.docs = json_array();
    ld.locs = dmp_locs_new((dmp_loc_t){1, 1});
    int ndocs = 0;
    struct fy_event *ev;
    while (ld.rc == DMP_OK && (ev = fy_parser_parse(fyp)) != NULL) {
        int rc = 0;
        switch (ev->type) {
        case FYET_DOCUMENT_START:
            if (!opts->multi && ndocs == 1) {
                fail(&ld, DMP_PARSE, "syntax", mark_loc(fy_event_start_mark(ev)),
                     "expected one document, found a second one");
                rc = -1;
            }
            ndocs++;
            clear_anchors(&ld);
            ld.have_root = 0;
            break;
        case FYET_DOCUMENT_END:
            if (ld.have_root) {
                json_array_append_new(ld.docs, ld.cur);
                ld.cur = NULL;
            }
            break;
        case FYET_SCALAR:
            rc = on_scalar(&ld, ev);
            break;
        case FYET_ALIAS:
            rc = on_alias(&ld, ev);
            break;
        case FYET_SEQUENCE_START:
            rc = on_start(&ld, ev, 0);
            break;
        case FYET_MAPPING_START:
            rc = on_start(&ld, ev, 1);
            break;
        case FYET_SEQUENCE_END:
        case FYET_MAPPING_END:
            rc = on_end(&ld);
            break;
        default:
            break;
        }
        fy_parser_event_free(fyp, ev);
        (void)rc;
    }
    if (ld.rc == DMP_OK && fy_parser_get_stream_error(fyp)) {
        void *it = NULL;
        struct fy_diag_error *de;
        int any = 0;
        while ((de = fy_diag_errors_iterate(diag, &it)) != NULL) {
            fail(&ld, DMP_PARSE, "syntax", (dmp_loc_t){de->line, de->column}, "%s %s",
                 ld.json ? "malformed JSON:" : "malformed YAML:", de->msg);
            any = 1;
            break; /* later errors are usually consequences of the first */
        }
        if (!any)
            fail(&ld, DMP_PARSE, "syntax", (dmp_loc_t){0, 0}, "malformed %s",
                 ld.json ? "JSON" : "YAML");
    }
    fy_parser_destroy(fyp);
    fy_diag_destroy(diag);

    clear_stack(&ld);
    clear_anchors(&ld);
    json_decref(ld.anchor_index);
    dmp_free(ld.anchors);
    dmp_free(ld.stack);
    json_decref(ld.cur);

    if (ld.rc == DMP_OK && !opts->multi && json_array_size(ld.docs) == 0)
        fail(&ld, DMP_PARSE, "syntax", (dmp_loc_t){0, 0}, "the document is empty");
    if (ld.rc != DMP_OK) {
        json_decref(ld.docs);
        dmp_doc_locs_free(ld.locs);
        return ld.rc;
    }
    if (opts->multi) {
        *out = ld.docs;
    } else {
        *out = json_incref(json_array_get(ld.docs, 0));
        json_decref(ld.docs);
    }
    if (locs)
        *locs = ld.locs;
    else
        dmp_doc_locs_free(ld.locs);
    return DMP_OK;
}

int dmp_doc_load(const char *buf, size_t len, const dmp_doc_opts_t *opts, json_t **out,
                 dmp_doc_locs_t **locs, dmp_diags_t *diags, dmp_error_t *err)
{
    dmp_doc_opts_t o = {0};
    if (opts != NULL)
        o = *opts;
    if (o.format != DMP_FMT_AUTO)
        return doc_load(buf, len, &o, out, locs, diags, err);
    if (!sniff_json(buf, len)) {
        o.format = DMP_FMT_YAML;
        return doc_load(buf, len, &o, out, locs, diags, err);
    }
    /* Looks like JSON. If it is not, it may still be YAML in flow style ({name: x});
     * when YAML cannot read it either, the JSON findings are the ones reported. */
    dmp_diags_t jd = {0};
    dmp_error_t je = {0};
    o.format = DMP_FMT_JSON;
    int rc = doc_load(buf, len, &o, out, locs, &jd, &je);
    if (rc == DMP_PARSE) {
        o.format = DMP_FMT_YAML;
        if (doc_load(buf, len, &o, out, locs, NULL, NULL) == DMP_OK)
            rc = DMP_OK;
    }
    if (rc != DMP_OK) {
        for (size_t i = 0; i < jd.n; i++) {
            const dmp_diag_t *dg = &jd.v[i];
            dmp_diags_add(diags, dg->severity, dg->code, dg->rule, dg->file, dg->loc, dg->path,
                          dg->pointer, "%s", dg->msg);
        }
        if (err)
            *err = je;
    }
    dmp_diags_free(&jd);
    return rc;
}
