/* governance_int.h -- private to src/governance: the compiled JSONPath syntax tree,
 * the I-Regexp translator and the YAML loader shared by the policy engine.
 *
 * Nothing outside src/governance includes this file.
 */
#ifndef DMP_GOVERNANCE_INT_H
#define DMP_GOVERNANCE_INT_H

#include <stdbool.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "dmp/jsonpath.h"

/* ---- JSONPath syntax tree. A compiled query owns every node below it. */

typedef enum { JP_SEL_NAME, JP_SEL_WILD, JP_SEL_INDEX, JP_SEL_SLICE, JP_SEL_FILTER } jp_sel_kind_t;
typedef enum { JP_SEG_CHILD, JP_SEG_DESC } jp_seg_kind_t;

struct jp_expr;

typedef struct jp_selector {
    jp_sel_kind_t kind;
    char *name; /* JP_SEL_NAME: unescaped member name (may hold NUL bytes) */
    size_t name_len;
    int64_t index;            /* JP_SEL_INDEX */
    int64_t start, end, step; /* JP_SEL_SLICE */
    bool has_start, has_end;
    struct jp_expr *filter; /* JP_SEL_FILTER */
} jp_selector_t;

typedef struct jp_segment {
    jp_seg_kind_t kind;
    jp_selector_t *sels;
    size_t n;
} jp_segment_t;

typedef struct jp_query {
    bool relative; /* starts with '@' */
    bool singular; /* only name/index child segments: yields at most one node */
    jp_segment_t *segs;
    size_t n;
} jp_query_t;

typedef enum {
    JP_E_OR,
    JP_E_AND,
    JP_E_NOT,
    JP_E_CMP,
    JP_E_QUERY, /* existence test, or a value when singular and compared */
    JP_E_FUNC,
    JP_E_LIT,
} jp_expr_kind_t;

typedef enum { JP_OP_EQ, JP_OP_NE, JP_OP_LT, JP_OP_LE, JP_OP_GT, JP_OP_GE } jp_cmp_op_t;

/* The built-in function extensions of RFC 9535 section 2.4. */
typedef enum { JP_FN_LENGTH, JP_FN_COUNT, JP_FN_MATCH, JP_FN_SEARCH, JP_FN_VALUE } jp_func_t;

typedef struct jp_expr {
    jp_expr_kind_t kind;
    bool paren;            /* written inside parentheses: a logical expression */
    jp_cmp_op_t op;        /* JP_E_CMP */
    struct jp_expr *a, *b; /* operands; JP_E_FUNC: the arguments (b may be NULL) */
    jp_query_t q;          /* JP_E_QUERY */
    json_t *lit;           /* JP_E_LIT, owned */
    jp_func_t fn;          /* JP_E_FUNC */
    pcre2_code *re;        /* match/search with a literal pattern: compiled once */
    bool re_invalid;       /* the literal pattern is not a valid I-Regexp */
} jp_expr_t;

struct dmp_jsonpath {
    char *text;
    size_t text_len;
    jp_query_t q;
    dmp_jsonpath_limits_t lim;
};

void jp_query_fini(jp_query_t *q);
void jp_expr_free(jp_expr_t *e);
/* Parses the whole text into jp->q. Returns DMP_OK or DMP_PARSE/DMP_LIMIT. */
int jp_parse(dmp_jsonpath_t *jp, dmp_error_t *err);

/* ---- I-Regexp (RFC 9485) to PCRE2. 'anchored' wraps the pattern for a whole-string
 * match (match()); otherwise it is searched for (search()). Returns the compiled
 * code, or NULL when 'pattern' is not a valid I-Regexp (or too large). */
pcre2_code *jp_iregexp_compile(const char *pattern, size_t len, bool anchored);
/* 1 match, 0 no match, DMP_LIMIT when the match limit was hit. */
int jp_regex_match(pcre2_code *re, const char *s, size_t len, uint32_t match_limit);

/* Decodes one UTF-8 sequence at s[0..len); returns its length and sets *cp, or -1
 * when the bytes are not well-formed UTF-8 (surrogates and overlongs included). */
int jp_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

/* Normalized-path form of a member name: "'a\\'b'" appended to 'b'. */
void jp_path_put_name(dmp_buf_t *b, const char *name, size_t len);
/* JSON pointer token form of a member name ("~0", "~1" escapes) appended to 'b'. */
void jp_pointer_put_name(dmp_buf_t *b, const char *name, size_t len);

/* ---- policy functions (policy_funcs.c): the `then.function` of a rule. */

typedef struct gov_call {
    json_t *value; /* the target value; NULL when it is undefined */
    json_t *given; /* the node `given` selected */
    json_t *doc;   /* the whole document */
    json_t *prev;  /* the previous version's document, or NULL */
} gov_call_t;

typedef struct gov_func gov_func_t;

/* The function called 'name', or NULL. */
const gov_func_t *gov_func_find(const char *name);
const char *gov_func_name(const gov_func_t *f);
/* The closest known name to 'name', for did-you-mean messages, or NULL. */
const char *gov_func_suggest(const char *name);
/* true for functions that need the previous version (skipped without one). */
bool gov_func_needs_prev(const gov_func_t *f);
/* Checks 'opts' (functionOptions, may be NULL) and builds the function's state.
 * Returns DMP_OK, or DMP_INVALID with 'msg' naming the bad option. */
int gov_func_prepare(const gov_func_t *f, json_t *opts, void **state, char *msg, size_t n);
void gov_func_release(const gov_func_t *f, void *state);
/* 0 when the value passes, 1 when it violates the rule ('msg' says why, as a phrase
 * such as "is missing"), or a negative status when the check could not run. */
int gov_func_check(const gov_func_t *f, void *state, const gov_call_t *call, char *msg, size_t n);

#endif
