/* events_int.h -- private to src/events: shared helpers of the CloudEvents codec, CESQL
 * and the filters. Nothing outside src/events includes this file. */
#ifndef DMP_EVENTS_INT_H
#define DMP_EVENTS_INT_H

#include "dmp/cesql.h"
#include "dmp/events.h"

#include <stddef.h>
#include <stdint.h>

/* Defaults of dmp_ce_limits_t. */
#define CE_DEF_EVENT_BYTES ((size_t)1 << 20)
#define CE_DEF_BATCH_BYTES ((size_t)16 << 20)
#define CE_DEF_BATCH_EVENTS 10000
#define CE_DEF_EXTENSIONS 64
#define CE_DEF_ATTR_BYTES 4096
#define CE_JSON_MAX_DEPTH 64

/* Resolves zero fields of 'lim' (may be NULL) to the defaults. */
dmp_ce_limits_t ce_limits_resolve(const dmp_ce_limits_t *lim);

/* Standard base64 (RFC 4648, padded). ce_b64_decode returns -1 on bad input and
 * otherwise writes the decoded bytes (caller frees *out) and their length. */
void ce_b64_encode(const unsigned char *in, size_t len, dmp_buf_t *out);
int ce_b64_decode(const char *in, size_t len, char **out, size_t *out_len);

/* Structural JSON scanner for text that may be malformed: skips whitespace and one
 * value starting at *p, leaving *p after it. Returns 0, or -1 when the text is not
 * well-formed enough to find the value's end (or nests deeper than max_depth).
 * Scalars are not checked beyond their extent: jansson checks them afterwards. */
int ce_json_skip(const char **p, const char *end, int max_depth);
const char *ce_json_ws(const char *p, const char *end);

/* Finds the raw text of the top-level member 'key' of the JSON object in [buf, end).
 * Returns 1 and the span when found, 0 otherwise. */
int ce_json_member_span(const char *buf, const char *end, const char *key, const char **vbeg,
                        const char **vend);

/* Parses one structured event from [buf, buf+len) with limits resolved. 'ctx' prefixes
 * the error (e.g. "event 3: ") and 'pathpfx' the error path ("[3]."); both may be "". */
int ce_parse_one(const char *buf, size_t len, const dmp_ce_limits_t *lim, const char *ctx,
                 const char *pathpfx, dmp_cloudevent_t **out, dmp_error_t *err);

/* Is 'name' one of the spec's core attribute names? */
int ce_is_core_attr(const char *name);

/* Compiles a CESQL expression in strict mode (used by the sql filter dialect). */
int ce_sql_compile(const char *text, size_t len, dmp_cesql_t **out, dmp_error_t *err);

/* ---- CESQL internals (cesql_lex.c, cesql_parse.c, cesql_eval.c) */

typedef enum {
    CQ_EOF = 0, CQ_INT, CQ_STRING, CQ_IDENT, CQ_TRUE, CQ_FALSE,
    CQ_AND, CQ_OR, CQ_XOR, CQ_NOT, CQ_LIKE, CQ_IN, CQ_EXISTS,
    CQ_LPAREN, CQ_RPAREN, CQ_COMMA,
    CQ_PLUS, CQ_MINUS, CQ_STAR, CQ_SLASH, CQ_PERCENT,
    CQ_EQ, CQ_NE, CQ_LT, CQ_LE, CQ_GT, CQ_GE,
} cq_tok_kind_t;

/* A token. 'text'/'len' point into the source; STRING tokens carry the decoded value
 * in 'str' (owned by the token array); INT tokens carry 'ival' (at most 2^31). */
typedef struct cq_tok {
    cq_tok_kind_t kind;
    const char *text;
    size_t len;
    int line, col;
    char *str;
    size_t slen;
    int64_t ival;
} cq_tok_t;

/* Splits 'src' into tokens ending with CQ_EOF. On success *toks (free with
 * cq_toks_free) holds *n tokens. Errors are DMP_PARSE with "CESQL: ... at L:C". */
int cq_lex(const char *src, size_t len, cq_tok_t **toks, size_t *n, dmp_error_t *err);
void cq_toks_free(cq_tok_t *toks, size_t n);
/* Short printable form of a token for messages ("')'", "end of expression"). */
void cq_tok_describe(const cq_tok_t *t, char *out, size_t cap);
int cq_parse_error(dmp_error_t *err, int line, int col, const char *fmt, ...)
    DMP_PRINTF(4, 5);

typedef enum {
    CQN_LIT, CQN_ATTR, CQN_NOT, CQN_NEG, CQN_BIN, CQN_LIKE, CQN_IN, CQN_EXISTS, CQN_CALL,
    CQN_BADCALL,
} cq_node_kind_t;

struct cq_func;

typedef struct cq_node {
    cq_node_kind_t kind;
    cq_tok_kind_t op;     /* CQN_BIN: the operator */
    int negate;           /* NOT LIKE, NOT IN */
    int depth;            /* height of this subtree */
    dmp_cesql_value_t lit; /* CQN_LIT value; CQN_LIKE pattern (a STRING) */
    char *name;           /* CQN_ATTR / CQN_EXISTS attribute, CQN_*CALL function name */
    const struct cq_func *fn;
    struct cq_node **kids;
    size_t n_kids;
} cq_node_t;

/* A built-in function: fixed parameter types, then 'vararg' repeated when variadic. */
typedef struct cq_func {
    const char *name;
    int min_args;
    int max_args; /* -1: variadic */
    dmp_cesql_type_t ret;
    int params[3]; /* dmp_cesql_type_t, or -1 for Any (no implicit cast) */
    int vararg;
    int id;
} cq_func_t;

const cq_func_t *cq_func_lookup(const char *upper_name, size_t n_args, int *name_known);

struct dmp_cesql {
    char *text;
    cq_node_t *root;
    dmp_cesql_limits_t lim;
};

void cq_node_free(cq_node_t *n);

#endif
