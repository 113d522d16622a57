/* schema_int.h -- the compiled form of a JSON Schema (private to src/schema).
 *
 * Compilation turns every (sub)schema into one sch_t; references become pointers (cycles
 * allowed), property names get precomputed hashes and a small open-addressing table,
 * patterns are compiled once with PCRE2 JIT (or to a tiny DFA-free matcher for the simple
 * anchored patterns common in event schemas). A compiled schema is never written after
 * dmp_schema_compile returns, so threads can share it.
 */
#ifndef DMP_SCHEMA_INT_H
#define DMP_SCHEMA_INT_H

#include "schema/json_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

/* ---- regex (regex.c) ---- */
typedef struct dmp_re dmp_re_t;
/* Compiles an ECMA-262 pattern. NULL on error with a message in errbuf. */
dmp_re_t *dmp_re_compile(const char *src, size_t len, char *errbuf, size_t errlen);
void dmp_re_free(dmp_re_t *re);
/* 1 match, 0 no match, -1 match limit hit or other matching error. */
int dmp_re_search(const dmp_re_t *re, pcre2_match_data *md, pcre2_match_context *mc, const char *s,
                  size_t len);
/* The same search through PCRE2 only, and whether the fast matcher handles 're'
 * (both for tests). */
int dmp_re_search_pcre2(const dmp_re_t *re, pcre2_match_data *md, pcre2_match_context *mc,
                        const char *s, size_t len);
int dmp_re_is_simple(const dmp_re_t *re);
/* Largest capture count over patterns (for sizing match data). */
uint32_t dmp_re_ovec(const dmp_re_t *re);

/* ---- formats (format.c) ---- */
/* Format id by name, or -1 when the engine does not know it (unknown formats pass). */
int dmp_format_id(const char *name, size_t len);
/* 1 when s[0..len) is valid for the format. */
int dmp_format_check(int id, const char *s, size_t len);

/* ---- compiled schema ---- */
typedef struct sch sch_t;

enum {
    T_NULL = 1 << DMP_JSON_NULL,
    T_BOOL = (1 << DMP_JSON_FALSE) | (1 << DMP_JSON_TRUE),
    T_NUMBER = 1 << DMP_JSON_NUMBER,
    T_STRING = 1 << DMP_JSON_STRING,
    T_ARRAY = 1 << DMP_JSON_ARRAY,
    T_OBJECT = 1 << DMP_JSON_OBJECT,
    T_INTEGER = 1 << 7
};

/* Presence bits for scalar keywords. */
enum {
    K_MINIMUM = 1u << 0,
    K_MAXIMUM = 1u << 1,
    K_XMINIMUM = 1u << 2,
    K_XMAXIMUM = 1u << 3,
    K_MULTIPLE = 1u << 4,
    K_MINLEN = 1u << 5,
    K_MAXLEN = 1u << 6,
    K_MINITEMS = 1u << 7,
    K_MAXITEMS = 1u << 8,
    K_MINPROPS = 1u << 9,
    K_MAXPROPS = 1u << 10,
    K_UNIQUE = 1u << 11,
    K_CONST = 1u << 12,
    K_ENUM = 1u << 13,
    K_FORMAT = 1u << 14,
    K_NUMERIC = K_MINIMUM | K_MAXIMUM | K_XMINIMUM | K_XMAXIMUM | K_MULTIPLE,
};

typedef struct sch_key {
    const char *name;
    uint32_t len, hash;
} sch_key_t;

typedef struct sch_prop {
    sch_key_t key;
    sch_t *s;
    int req; /* index into the required list, or -1 */
} sch_prop_t;

typedef struct sch_pprop {
    dmp_re_t *re;
    const char *src;
    sch_t *s;
} sch_pprop_t;

typedef struct sch_depreq {
    sch_key_t key;
    sch_key_t *names;
    size_t n;
} sch_depreq_t;

typedef struct sch_res sch_res_t;
typedef struct sch_dyn {
    const char *name;
    sch_t *s;
} sch_dyn_t;
struct sch_res {
    char *uri;
    sch_dyn_t *dyn;
    size_t n_dyn;
    const dmp_json_node_t **dyn_nodes; /* during compilation */
    const dmp_json_doc_t *doc;
    int used; /* some schema of this resource was compiled */
};

struct sch {
    int8_t boolean; /* -1 object schema; 0 false; 1 true */
    uint8_t types;  /* T_* mask; 0 = any */
    uint8_t has_applicators;
    uint32_t has;        /* K_* */
    const char *loc;     /* JSON pointer of this schema inside its document */
    const char *doc_uri; /* the document's URI, or "" */
    sch_res_t *res;

    double minimum, maximum, xminimum, xmaximum, multiple_of;
    uint64_t min_len, max_len, min_items, max_items, min_props, max_props;
    uint64_t min_contains, max_contains;
    int has_min_contains, has_max_contains;
    dmp_re_t *pattern;
    const char *pattern_src;
    int format;
    const char *format_name;
    const dmp_json_node_t *const_v, *enum_v;

    sch_t *ref, *dyn_ref;
    const char *dyn_name; /* $dynamicRef resolved dynamically when set */
    sch_t **all_of, **any_of, **one_of;
    size_t n_all_of, n_any_of, n_one_of;
    sch_t *not_, *if_, *then_, *else_;

    sch_t **prefix;
    size_t n_prefix;
    sch_t *items, *contains, *uneval_items;

    sch_prop_t *props;
    size_t n_props;
    int32_t *ptab; /* open addressing: index into props, -1 empty */
    uint32_t pmask;
    sch_pprop_t *pprops;
    size_t n_pprops;
    sch_t *additional, *prop_names, *uneval_props;
    sch_key_t *required;
    size_t n_required;
    int req_fast; /* every required name is a declared property and n_required <= 64 */
    sch_depreq_t *dep_req;
    size_t n_dep_req;
    sch_prop_t *dep_schemas;
    size_t n_dep_schemas;
};

struct dmp_schema {
    sch_t *root;
    int track_eval; /* some subschema uses unevaluated*: track evaluated members/items */
    unsigned format_assert;
    uint32_t match_limit;
    size_t max_instance_bytes;
    unsigned max_instance_depth;
    uint32_t max_captures;
    uint64_t max_steps;
    /* ownership lists */
    sch_t **nodes;
    size_t n_nodes, cap_nodes;
    sch_res_t **res;
    size_t n_res, cap_res;
    dmp_json_doc_t **docs;
    size_t n_docs, cap_docs;
    char **strs;
    size_t n_strs, cap_strs;
    dmp_re_t **res_re;
    size_t n_re, cap_re;
};

/* Equality of two byte strings of the same length 'n', inlined for short keys. */
static inline int sch_key_eq(const char *a, const char *b, uint32_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t x, y, z, w;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        memcpy(&z, a + n - 8, 8);
        memcpy(&w, b + n - 8, 8);
        return x == y && z == w;
    }
    if (n < 8) {
        for (uint32_t i = 0; i < n; i++)
            if (a[i] != b[i])
                return 0;
        return 1;
    }
    return memcmp(a, b, n) == 0;
}

static inline const sch_prop_t *sch_find_prop(const sch_t *s, const char *k, uint32_t len,
                                              uint32_t hash)
{
    if (!s->ptab)
        return NULL;
    for (uint32_t i = hash & s->pmask;; i = (i + 1) & s->pmask) {
        int32_t j = s->ptab[i];
        if (j < 0)
            return NULL;
        const sch_prop_t *p = &s->props[j];
        if (p->key.hash == hash && p->key.len == len && sch_key_eq(p->key.name, k, len))
            return p;
    }
}

/* Built-in documents (meta.c): the 2020-12 meta-schemas by URI; NULL when unknown. */
const char *dmp_schema_builtin(const char *uri, size_t *len);

/* URI helpers (uri.c) */
/* Resolves 'ref' against 'base' (RFC 3986 section 5.2). Caller frees. */
char *dmp_uri_resolve(const char *base, const char *ref);

#endif
