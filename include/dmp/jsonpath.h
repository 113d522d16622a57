/* jsonpath.h -- JSONPath (RFC 9535) queries over jansson values.
 *
 * A query is compiled once (dmp_jsonpath_compile) and may then be evaluated any
 * number of times, from several threads at once: a compiled query is immutable.
 * Evaluation returns a nodelist; each node borrows its value from the queried
 * document and carries its normalized path ("$['outputPorts'][0]") and JSON
 * pointer ("/outputPorts/0") so findings can be mapped back to file:line:col.
 *
 * Every phase is bounded: the expression length and nesting depth at compile
 * time, and the work (nodes visited, comparisons, regex steps) at evaluation time.
 * A query that exceeds a limit fails with DMP_LIMIT and a message naming the limit.
 */
#ifndef DMP_JSONPATH_H
#define DMP_JSONPATH_H

#include <jansson.h>

#include "dmp/core.h"

typedef struct dmp_jsonpath dmp_jsonpath_t;

typedef struct dmp_jsonpath_limits {
    size_t max_len;             /* expression bytes; default 4096 */
    int max_depth;              /* nesting of filters, parentheses, calls; default 32 */
    uint64_t max_steps;         /* evaluation work units per call; default 2,000,000 */
    size_t max_nodes;           /* nodes in any one nodelist; default 100,000 */
    uint32_t regex_match_limit; /* PCRE2 match limit for match()/search(); default 100,000 */
} dmp_jsonpath_limits_t;

/* One node of a result: 'value' is borrowed from the document passed to
 * dmp_jsonpath_eval (valid while that document is alive and unchanged); 'path'
 * and 'pointer' are owned by the nodelist. */
typedef struct dmp_jsonpath_node {
    json_t *value;
    char *path;    /* normalized path, "$['a'][0]" */
    char *pointer; /* RFC 6901 pointer, "/a/0"; "" for the root */
} dmp_jsonpath_node_t;

typedef struct dmp_jsonpath_nodelist {
    dmp_jsonpath_node_t *v;
    size_t n;
    size_t cap;
} dmp_jsonpath_nodelist_t;

#define DMP_JSONPATH_NODELIST_INIT                                                                 \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Compiles 'expr' (NUL-terminated). 'limits' may be NULL (defaults); zero fields
 * take the defaults. On success *out owns the query (release with
 * dmp_jsonpath_free). On a syntax or type error returns DMP_PARSE with *out NULL
 * and err->msg naming the problem and its 1-based column
 * ("column 7: expected ']' after selector"). */
DMP_EXPORT int dmp_jsonpath_compile(const char *expr, const dmp_jsonpath_limits_t *limits,
                                    dmp_jsonpath_t **out, dmp_error_t *err);
/* The same for an expression of 'len' bytes that may hold NUL bytes (which are
 * then rejected as the RFC requires, rather than ending the text early). */
DMP_EXPORT int dmp_jsonpath_compilen(const char *expr, size_t len,
                                     const dmp_jsonpath_limits_t *limits, dmp_jsonpath_t **out,
                                     dmp_error_t *err);
DMP_EXPORT void dmp_jsonpath_free(dmp_jsonpath_t *jp);
/* The source text of a compiled query (borrowed, valid while 'jp' lives). */
DMP_EXPORT const char *dmp_jsonpath_text(const dmp_jsonpath_t *jp);

/* Evaluates 'jp' against 'doc' and appends the resulting nodes to 'out' (which the
 * caller owns and releases with dmp_jsonpath_nodelist_free). Returns DMP_OK, or
 * DMP_LIMIT when the work or size limits are hit (out then holds no new nodes). */
DMP_EXPORT int dmp_jsonpath_eval(const dmp_jsonpath_t *jp, json_t *doc,
                                 dmp_jsonpath_nodelist_t *out, dmp_error_t *err);
DMP_EXPORT void dmp_jsonpath_nodelist_free(dmp_jsonpath_nodelist_t *nl);

/* Compile + evaluate in one call, with default limits. */
DMP_EXPORT int dmp_jsonpath_query(const char *expr, json_t *doc, dmp_jsonpath_nodelist_t *out,
                                  dmp_error_t *err);

/* A member name escaped as one JSON pointer token ("a/b~c" -> "a~1b~0c"), for
 * joining a rule's field to a node's pointer. The caller frees the result. */
DMP_EXPORT char *dmp_jsonpath_pointer_escape(const char *name);

#endif
