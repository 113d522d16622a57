/* filter.c -- CloudEvents Subscriptions API filter dialects: exact, prefix, suffix, all,
 * any, not and sql (CESQL).
 *
 * A subscription's "filters" is a JSON array of filter expressions that must all match.
 * Each expression is an object with exactly one dialect key:
 *   {"exact":  {"type": "com.example.created"}}     one attribute, case-sensitive
 *   {"prefix": {"source": "urn:dmp:"}}
 *   {"suffix": {"subject": ".pdf"}}
 *   {"all": [expr, ...]}  {"any": [expr, ...]}  {"not": expr}
 *   {"sql": "type LIKE 'com.%' AND EXISTS subject"}
 * exact/prefix/suffix name exactly one attribute with a non-empty name and value; an
 * absent attribute does not match. Attribute values compare in their string form.
 * Parsing is bounded: body size, nesting depth and the number of filter nodes.
 */
#include "events_int.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define FILTER_MAX_BYTES (64 * 1024)
#define FILTER_MAX_DEPTH 16
#define FILTER_MAX_NODES 256

typedef enum { FK_EXACT, FK_PREFIX, FK_SUFFIX, FK_ALL, FK_ANY, FK_NOT, FK_SQL } fkind_t;

typedef struct fnode {
    fkind_t kind;
    char *attr;
    char *value;
    size_t value_len;
    dmp_cesql_t *sql;
    struct fnode **kids;
    size_t n_kids;
} fnode_t;

struct dmp_ce_filter {
    fnode_t root; /* an implicit "all" over the array */
};

static void fnode_fini(fnode_t *n)
{
    for (size_t i = 0; i < n->n_kids; i++) {
        fnode_fini(n->kids[i]);
        dmp_free(n->kids[i]);
    }
    dmp_free(n->kids);
    dmp_free(n->attr);
    dmp_free(n->value);
    dmp_cesql_free(n->sql);
}

void dmp_ce_filter_free(dmp_ce_filter_t *f)
{
    if (f == NULL)
        return;
    fnode_fini(&f->root);
    dmp_free(f);
}

typedef struct pctx {
    int nodes;
    dmp_error_t *err;
} pctx_t;

static int fail(pctx_t *c, const char *ptr, int code, const char *fmt, const char *a,
                const char *b)
{
    dmp_error_where(c->err, "%s", ptr);
    dmp_error_path(c->err, "%s", ptr);
    char msg[400];
    snprintf(msg, sizeof(msg), fmt, a ? a : "", b ? b : "");
    return DMP_ERR(c->err, code, "filter %s: %s", ptr, msg);
}

static int parse_expr(pctx_t *c, json_t *j, const char *ptr, int depth, fnode_t *out);

static int parse_list(pctx_t *c, json_t *arr, const char *ptr, int depth, const char *dialect,
                      fnode_t *out)
{
    char sub[256];
    size_t i;
    json_t *v;

    if (!json_is_array(arr))
        return fail(c, ptr, DMP_INVALID, "the '%s' dialect needs an array of filters", dialect,
                    NULL);
    if (json_array_size(arr) == 0 && dialect[0])
        return fail(c, ptr, DMP_INVALID, "the '%s' dialect needs at least one filter", dialect,
                    NULL);
    out->kids = dmp_calloc(json_array_size(arr) + 1, sizeof(*out->kids));
    json_array_foreach(arr, i, v)
    {
        snprintf(sub, sizeof(sub), "%s/%zu", ptr, i);
        out->kids[i] = dmp_calloc(1, sizeof(fnode_t));
        out->n_kids = i + 1;
        int rc = parse_expr(c, v, sub, depth + 1, out->kids[i]);
        if (rc != DMP_OK)
            return rc;
    }
    return DMP_OK;
}

static int parse_expr(pctx_t *c, json_t *j, const char *ptr, int depth, fnode_t *out)
{
    static const char *const names[] = {"exact", "prefix", "suffix", "all", "any", "not", "sql"};
    char sub[256];
    const char *key;
    json_t *v;

    if (depth > FILTER_MAX_DEPTH)
        return fail(c, ptr, DMP_LIMIT, "filters nest deeper than the limit%s%s", "", "");
    if (++c->nodes > FILTER_MAX_NODES)
        return fail(c, ptr, DMP_LIMIT, "more filter expressions than the limit%s%s", "", "");
    if (!json_is_object(j))
        return fail(c, ptr, DMP_INVALID, "a filter must be a JSON object with one dialect key%s%s",
                    "", "");
    if (json_object_size(j) != 1)
        return fail(c, ptr, DMP_INVALID,
                    "a filter must have exactly one dialect key (exact, prefix, suffix, all, "
                    "any, not, sql)%s%s",
                    "", "");
    json_object_foreach(j, key, v) break;
    int kind = -1;
    for (int i = 0; i < 7; i++)
        if (strcmp(key, names[i]) == 0)
            kind = i;
    if (kind < 0)
        return fail(c, ptr, DMP_INVALID,
                    "unknown filter dialect '%.60s' (known: exact, prefix, suffix, all, any, "
                    "not, sql)%s",
                    key, "");
    out->kind = (fkind_t)kind;
    snprintf(sub, sizeof(sub), "%s/%s", ptr, key);
    switch (out->kind) {
    case FK_EXACT:
    case FK_PREFIX:
    case FK_SUFFIX: {
        const char *an;
        json_t *av;
        if (!json_is_object(v) || json_object_size(v) != 1)
            return fail(c, sub, DMP_INVALID,
                        "the '%s' dialect needs an object with exactly one attribute%s", key,
                        "");
        json_object_foreach(v, an, av) break;
        if (an[0] == '\0')
            return fail(c, sub, DMP_INVALID, "the '%s' dialect has an empty attribute name%s",
                        key, "");
        if (!dmp_ce_name_valid(an))
            return fail(c, sub, DMP_INVALID,
                        "the '%s' dialect names attribute '%.60s', which breaks the "
                        "CloudEvents naming rules",
                        key, an);
        if (!json_is_string(av) || json_string_length(av) == 0)
            return fail(c, sub, DMP_INVALID,
                        "the '%s' dialect needs a non-empty string value for '%s'", key, an);
        out->attr = dmp_strdup(an);
        out->value = dmp_strndup(json_string_value(av), json_string_length(av));
        out->value_len = json_string_length(av);
        return DMP_OK;
    }
    case FK_ALL:
    case FK_ANY:
        return parse_list(c, v, sub, depth, key, out);
    case FK_NOT:
        out->kids = dmp_calloc(1, sizeof(*out->kids));
        out->kids[0] = dmp_calloc(1, sizeof(fnode_t));
        out->n_kids = 1;
        return parse_expr(c, v, sub, depth + 1, out->kids[0]);
    case FK_SQL: {
        dmp_error_t e = {0};
        if (!json_is_string(v) || json_string_length(v) == 0)
            return fail(c, sub, DMP_INVALID,
                        "the 'sql' dialect needs a non-empty CESQL expression string%s%s", "",
                        "");
        if (ce_sql_compile(json_string_value(v), json_string_length(v), &out->sql, &e) !=
            DMP_OK) {
            int rc = fail(c, sub, e.code, "the 'sql' dialect has a bad expression: %s%s", e.msg,
                          "");
            dmp_error_where(c->err, "%s", e.where); /* the CESQL position */
            return rc;
        }
        return DMP_OK;
    }
    }
    return DMP_OK;
}

int dmp_ce_filter_parse(const char *json, size_t len, dmp_ce_filter_t **out, dmp_error_t *err)
{
    pctx_t c = {0, err};
    json_error_t jerr;
    json_t *j;
    int rc;

    *out = NULL;
    if (len > FILTER_MAX_BYTES)
        return DMP_ERR(err, DMP_LIMIT, "filters are %zu bytes, over the limit of %d", len,
                       FILTER_MAX_BYTES);
    const char *p = json;
    if (ce_json_skip(&p, json + len, FILTER_MAX_DEPTH * 3) != 0 &&
        (j = json_loadb(json, len, 0, &jerr)) != NULL) {
        json_decref(j);
        return DMP_ERR(err, DMP_LIMIT, "filters nest too deeply");
    }
    j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        dmp_error_where(err, "%d:%d", jerr.line, jerr.column);
        return DMP_ERR(err, DMP_PARSE, "filters are not valid JSON: %s at %d:%d", jerr.text,
                       jerr.line, jerr.column);
    }
    dmp_ce_filter_t *f = dmp_calloc(1, sizeof(*f));
    f->root.kind = FK_ALL;
    if (!json_is_array(j)) {
        rc = DMP_ERR(err, DMP_INVALID, "filters must be a JSON array of filter expressions");
    } else {
        rc = parse_list(&c, j, "", 0, "", &f->root);
    }
    json_decref(j);
    if (rc != DMP_OK) {
        dmp_ce_filter_free(f);
        return rc;
    }
    *out = f;
    return DMP_OK;
}

static int fmatch(const fnode_t *n, const dmp_cloudevent_t *ev)
{
    dmp_ce_value_t v;
    size_t tl;

    switch (n->kind) {
    case FK_EXACT:
    case FK_PREFIX:
    case FK_SUFFIX:
        if (!dmp_cloudevent_get(ev, n->attr, &v))
            return 0;
        tl = strlen(v.text);
        if (n->kind == FK_EXACT)
            return tl == n->value_len && memcmp(v.text, n->value, tl) == 0;
        if (tl < n->value_len)
            return 0;
        if (n->kind == FK_PREFIX)
            return memcmp(v.text, n->value, n->value_len) == 0;
        return memcmp(v.text + tl - n->value_len, n->value, n->value_len) == 0;
    case FK_ALL:
        for (size_t i = 0; i < n->n_kids; i++)
            if (!fmatch(n->kids[i], ev))
                return 0;
        return 1;
    case FK_ANY:
        for (size_t i = 0; i < n->n_kids; i++)
            if (fmatch(n->kids[i], ev))
                return 1;
        return 0;
    case FK_NOT:
        return !fmatch(n->kids[0], ev);
    case FK_SQL:
        return dmp_cesql_match(n->sql, ev);
    }
    return 0;
}

int dmp_ce_filter_match(const dmp_ce_filter_t *f, const dmp_cloudevent_t *ev)
{
    return fmatch(&f->root, ev);
}
