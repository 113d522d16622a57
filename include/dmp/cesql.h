/* cesql.h -- CloudEvents SQL Expression Language (CESQL) v1.
 *
 * Parse once, evaluate many times: a dmp_cesql_t is immutable after parsing and may be
 * evaluated from several threads at once. Parsing fails on bad syntax with a position
 * ("CESQL: unexpected token ')' at 1:14"); evaluation never fails, it returns a value and
 * a list of errors, as the spec asks. Both are bounded: expression length, nesting depth
 * and evaluation steps have limits, so hostile expressions end with an error.
 */
#ifndef DMP_CESQL_H
#define DMP_CESQL_H

#include "dmp/core.h"
#include "dmp/events.h"

#include <stddef.h>
#include <stdint.h>

typedef struct dmp_cesql dmp_cesql_t;

typedef enum { DMP_CESQL_BOOL = 0, DMP_CESQL_INT, DMP_CESQL_STRING } dmp_cesql_type_t;

/* Error kinds of the spec (and of the TCK's "error:" field). */
typedef enum {
    DMP_CESQL_EPARSE = 0,
    DMP_CESQL_EMATH,
    DMP_CESQL_ECAST,
    DMP_CESQL_EMISSING_FUNCTION,
    DMP_CESQL_EFUNCTION_EVALUATION,
    DMP_CESQL_EMISSING_ATTRIBUTE,
    DMP_CESQL_EGENERIC,
} dmp_cesql_errkind_t;

typedef struct dmp_cesql_limits {
    size_t max_len;          /* expression bytes [4096] */
    int max_depth;           /* nesting of sub-expressions [64] */
    uint64_t max_steps;      /* evaluation work units [1000000] */
    int strict_functions;    /* 1: unknown function or arity is a parse error [0] */
} dmp_cesql_limits_t;

/* A value. For STRING, 's' is owned by the result holding it (NUL-terminated). */
typedef struct dmp_cesql_value {
    dmp_cesql_type_t type;
    int b;
    int32_t i;
    char *s;
    size_t len;
} dmp_cesql_value_t;

#define DMP_CESQL_MAX_ERRORS 8

typedef struct dmp_cesql_evalerr {
    dmp_cesql_errkind_t kind;
    char msg[160];
} dmp_cesql_evalerr_t;

/* The outcome of one evaluation: the value plus the errors raised (the first
 * DMP_CESQL_MAX_ERRORS are kept; n_errors counts them all). Release with
 * dmp_cesql_result_fini. */
typedef struct dmp_cesql_result {
    dmp_cesql_value_t value;
    size_t n_errors;
    dmp_cesql_evalerr_t errors[DMP_CESQL_MAX_ERRORS];
} dmp_cesql_result_t;

/* Compiles 'expr' ('len' bytes). On success *out is owned by the caller (free with
 * dmp_cesql_free). On failure returns DMP_PARSE (or DMP_LIMIT) and err->msg reads
 * "CESQL: <problem> at LINE:COL", err->where "LINE:COL". 'lim' may be NULL. */
DMP_EXPORT int dmp_cesql_parse(const char *expr, size_t len, const dmp_cesql_limits_t *lim,
                               dmp_cesql_t **out, dmp_error_t *err);
DMP_EXPORT void dmp_cesql_free(dmp_cesql_t *q);

/* Evaluates against 'ev' (which may be a masked view). Always fills 'res'; returns
 * DMP_OK when no error was raised, DMP_INVALID otherwise. */
DMP_EXPORT int dmp_cesql_eval(const dmp_cesql_t *q, const dmp_cloudevent_t *ev,
                              dmp_cesql_result_t *res);
DMP_EXPORT void dmp_cesql_result_fini(dmp_cesql_result_t *res);

/* Filter semantics: 1 when the result is boolean true with no errors, else 0. */
DMP_EXPORT int dmp_cesql_match(const dmp_cesql_t *q, const dmp_cloudevent_t *ev);

/* "parse", "math", "cast", "missingFunction", "functionEvaluation",
 * "missingAttribute", "generic" (the TCK's names). */
DMP_EXPORT const char *dmp_cesql_errkind_name(dmp_cesql_errkind_t kind);

/* The source text the expression was compiled from (borrowed). */
DMP_EXPORT const char *dmp_cesql_text(const dmp_cesql_t *q);

#endif
