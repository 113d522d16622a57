/* cesql_eval.c -- evaluates a parsed CESQL expression against a CloudEvent.
 *
 * Semantics (CESQL v1 and its TCK):
 *   - every node yields a value; a node whose operand raised an error yields the zero
 *     value of its own type (false, 0, "") and passes the failure up, so
 *     "true AND (1 != 1/0)" is false with a math error and "missing / 0" is 0 with only
 *     a missingAttribute error;
 *   - the node that raises an error yields a defined value: a failed cast gives the
 *     target type's zero and the operator still computes ("NOT 10" is true + cast
 *     error), x/0 gives 0, ABS(-2^31) gives 2^31-1, LEFT(x,-1) gives x;
 *   - a missing attribute is false plus a missingAttribute error;
 *   - implicit casts: = != <> cast the left operand to the right operand's type, IN
 *     casts the set elements to the left operand's type, arithmetic and < <= > >= cast
 *     to Integer, AND OR XOR NOT to Boolean, LIKE to String. An implicit Integer ->
 *     Boolean cast fails (BOOL(x) converts explicitly);
 *   - AND and OR short-circuit.
 * Work is counted in steps; past the limit the evaluation stops with a generic error.
 * Strings are UTF-8; lengths and positions count code points.
 */
#include "events_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum {
    F_ABS = 1, F_LENGTH, F_CONCAT, F_CONCAT_WS, F_LOWER, F_UPPER, F_TRIM, F_LEFT, F_RIGHT,
    F_SUBSTRING2, F_SUBSTRING3, F_INT, F_BOOL, F_STRING, F_IS_BOOL, F_IS_INT, F_IS_STRING,
};

#define S DMP_CESQL_STRING
#define I DMP_CESQL_INT
#define B DMP_CESQL_BOOL
static const cq_func_t funcs[] = {
    {"ABS", 1, 1, I, {I, 0, 0}, 0, F_ABS},
    {"LENGTH", 1, 1, I, {S, 0, 0}, 0, F_LENGTH},
    {"CONCAT", 0, -1, S, {0, 0, 0}, S, F_CONCAT},
    {"CONCAT_WS", 1, -1, S, {S, 0, 0}, S, F_CONCAT_WS},
    {"LOWER", 1, 1, S, {S, 0, 0}, 0, F_LOWER},
    {"UPPER", 1, 1, S, {S, 0, 0}, 0, F_UPPER},
    {"TRIM", 1, 1, S, {S, 0, 0}, 0, F_TRIM},
    {"LEFT", 2, 2, S, {S, I, 0}, 0, F_LEFT},
    {"RIGHT", 2, 2, S, {S, I, 0}, 0, F_RIGHT},
    {"SUBSTRING", 2, 2, S, {S, I, 0}, 0, F_SUBSTRING2},
    {"SUBSTRING", 3, 3, S, {S, I, I}, 0, F_SUBSTRING3},
    {"INT", 1, 1, I, {-1, 0, 0}, 0, F_INT},
    {"BOOL", 1, 1, B, {-1, 0, 0}, 0, F_BOOL},
    {"STRING", 1, 1, S, {-1, 0, 0}, 0, F_STRING},
    {"IS_BOOL", 1, 1, B, {S, 0, 0}, 0, F_IS_BOOL},
    {"IS_INT", 1, 1, B, {S, 0, 0}, 0, F_IS_INT},
    {"IS_STRING", 1, 1, B, {-1, 0, 0}, 0, F_IS_STRING},
};
#undef S
#undef I
#undef B

const cq_func_t *cq_func_lookup(const char *name, size_t n_args, int *known)
{
    *known = 0;
    for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
        if (strcmp(funcs[i].name, name) != 0)
            continue;
        *known = 1;
        if ((int)n_args >= funcs[i].min_args &&
            (funcs[i].max_args < 0 || (int)n_args <= funcs[i].max_args))
            return &funcs[i];
    }
    return NULL;
}

const char *dmp_cesql_errkind_name(dmp_cesql_errkind_t kind)
{
    switch (kind) {
    case DMP_CESQL_EPARSE: return "parse";
    case DMP_CESQL_EMATH: return "math";
    case DMP_CESQL_ECAST: return "cast";
    case DMP_CESQL_EMISSING_FUNCTION: return "missingFunction";
    case DMP_CESQL_EFUNCTION_EVALUATION: return "functionEvaluation";
    case DMP_CESQL_EMISSING_ATTRIBUTE: return "missingAttribute";
    case DMP_CESQL_EGENERIC: return "generic";
    }
    return "generic";
}

typedef struct ectx {
    const dmp_cloudevent_t *ev;
    dmp_cesql_result_t *res;
    uint64_t steps, max_steps;
    int aborted;
} ectx_t;

typedef dmp_cesql_value_t val_t;

static void raise(ectx_t *c, dmp_cesql_errkind_t kind, const char *fmt, ...) DMP_PRINTF(3, 4);
static void raise(ectx_t *c, dmp_cesql_errkind_t kind, const char *fmt, ...)
{
    dmp_cesql_result_t *r = c->res;
    if (r->n_errors < DMP_CESQL_MAX_ERRORS) {
        va_list ap;
        r->errors[r->n_errors].kind = kind;
        va_start(ap, fmt);
        vsnprintf(r->errors[r->n_errors].msg, sizeof(r->errors[0].msg), fmt, ap);
        va_end(ap);
    }
    r->n_errors++;
}

static int step(ectx_t *c, uint64_t n)
{
    if (c->aborted)
        return -1;
    c->steps += n;
    if (c->steps > c->max_steps) {
        c->aborted = 1;
        raise(c, DMP_CESQL_EGENERIC, "evaluation exceeded the limit of %llu steps",
              (unsigned long long)c->max_steps);
        return -1;
    }
    return 0;
}

static void v_free(val_t *v)
{
    if (v->type == DMP_CESQL_STRING)
        dmp_free(v->s);
    v->s = NULL;
    v->len = 0;
}

static val_t v_bool(int b)
{
    val_t v = {DMP_CESQL_BOOL, b != 0, 0, NULL, 0};
    return v;
}

static val_t v_int(int32_t i)
{
    val_t v = {DMP_CESQL_INT, 0, i, NULL, 0};
    return v;
}

/* takes ownership of s */
static val_t v_str_own(char *s, size_t len)
{
    val_t v = {DMP_CESQL_STRING, 0, 0, s, len};
    return v;
}

static val_t v_str(const char *s, size_t len)
{
    return v_str_own(dmp_strndup(s, len), len);
}

static val_t v_zero(dmp_cesql_type_t t)
{
    if (t == DMP_CESQL_INT)
        return v_int(0);
    if (t == DMP_CESQL_STRING)
        return v_str("", 0);
    return v_bool(0);
}

static int parse_int32(const char *s, size_t len, int32_t *out)
{
    size_t i = 0;
    int neg = 0;
    int64_t v = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == len)
        return -1;
    for (; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
        if (v > 2147483648LL)
            return -1;
    }
    if (neg)
        v = -v;
    if (v > INT32_MAX || v < INT32_MIN)
        return -1;
    *out = (int32_t)v;
    return 0;
}

/* Casts *v in place; returns 1 and leaves the target's zero value when the cast fails. */
static int cast(ectx_t *c, val_t *v, dmp_cesql_type_t to, int explicit_cast)
{
    if (v->type == to)
        return 0;
    if (to == DMP_CESQL_STRING) {
        char buf[16];
        int n = v->type == DMP_CESQL_INT ? snprintf(buf, sizeof(buf), "%d", (int)v->i)
                                         : snprintf(buf, sizeof(buf), "%s", v->b ? "true" : "false");
        *v = v_str(buf, (size_t)n);
        return 0;
    }
    if (to == DMP_CESQL_INT) {
        if (v->type == DMP_CESQL_BOOL) {
            *v = v_int(v->b ? 1 : 0);
            return 0;
        }
        int32_t x;
        int bad = parse_int32(v->s, v->len, &x) != 0;
        if (bad)
            raise(c, DMP_CESQL_ECAST, "cannot cast String '%.40s' to Integer", v->s);
        v_free(v);
        *v = v_int(bad ? 0 : x);
        return bad;
    }
    /* to Boolean */
    if (v->type == DMP_CESQL_INT) {
        if (explicit_cast) {
            *v = v_bool(v->i != 0);
            return 0;
        }
        raise(c, DMP_CESQL_ECAST, "cannot cast Integer %d to Boolean", (int)v->i);
        *v = v_bool(0);
        return 1;
    }
    int b = -1;
    if (v->len == 4 && strncasecmp(v->s, "true", 4) == 0)
        b = 1;
    else if (v->len == 5 && strncasecmp(v->s, "false", 5) == 0)
        b = 0;
    if (b < 0)
        raise(c, DMP_CESQL_ECAST, "cannot cast String '%.40s' to Boolean", v->s);
    v_free(v);
    *v = v_bool(b > 0);
    return b < 0;
}

/* ---- UTF-8 helpers: code point counts and offsets */

static size_t u8_next(const char *s, size_t len, size_t i)
{
    i++;
    while (i < len && ((unsigned char)s[i] & 0xc0) == 0x80)
        i++;
    return i;
}

static size_t u8_len(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            n++;
    return n;
}

/* byte offset of code point 'k' (k may equal the count: returns len) */
static size_t u8_off(const char *s, size_t len, size_t k)
{
    size_t i = 0;
    while (k > 0 && i < len) {
        i = u8_next(s, len, i);
        k--;
    }
    return i;
}

/* ---- LIKE: % any run, _ one character, \% \_ \\ literal; other \ is literal.
 * Single-backtrack matching: O(len(s) * len(p)) steps at worst. */
static int like_match(ectx_t *c, const char *s, size_t sl, const char *p, size_t pl)
{
    size_t si = 0, pi = 0, star_p = 0, star_s = 0;
    int have_star = 0;

    while (si < sl) {
        if (step(c, 1) != 0)
            return 0;
        if (pi < pl) {
            char pc = p[pi];
            size_t w = 1;
            int any = 0;
            if (pc == '%') {
                have_star = 1;
                star_p = ++pi;
                star_s = si;
                continue;
            }
            if (pc == '\\' && pi + 1 < pl && (p[pi + 1] == '%' || p[pi + 1] == '_' ||
                                              p[pi + 1] == '\\')) {
                pc = p[pi + 1];
                w = 2;
            } else if (pc == '_') {
                any = 1;
            }
            if (any) {
                si = u8_next(s, sl, si);
                pi += w;
                continue;
            }
            if (s[si] == pc) {
                si++;
                pi += w;
                continue;
            }
        }
        if (!have_star)
            return 0;
        star_s = u8_next(s, sl, star_s);
        si = star_s;
        pi = star_p;
    }
    while (pi < pl && p[pi] == '%')
        pi++;
    return pi == pl;
}

static int eval(ectx_t *c, const cq_node_t *n, val_t *out);

/* Evaluates a child; on failure frees nothing and reports 1 (its value is in *out). */
static int eval_kid(ectx_t *c, const cq_node_t *n, size_t i, val_t *out)
{
    return eval(c, n->kids[i], out);
}

static int attr_value(ectx_t *c, const char *name, val_t *out)
{
    dmp_ce_value_t av;
    if (c->ev == NULL || !dmp_cloudevent_get(c->ev, name, &av)) {
        raise(c, DMP_CESQL_EMISSING_ATTRIBUTE, "attribute '%s' is missing", name);
        *out = v_bool(0);
        return 1;
    }
    if (av.type == DMP_CE_INTEGER && av.num >= INT32_MIN && av.num <= INT32_MAX)
        *out = v_int((int32_t)av.num);
    else if (av.type == DMP_CE_BOOLEAN)
        *out = v_bool(av.num != 0);
    else
        *out = v_str(av.text, strlen(av.text));
    return 0;
}

static int checked_arith(ectx_t *c, cq_tok_kind_t op, int32_t x, int32_t y, int32_t *r)
{
    int64_t v;
    switch (op) {
    case CQ_PLUS: v = (int64_t)x + y; break;
    case CQ_MINUS: v = (int64_t)x - y; break;
    case CQ_STAR: v = (int64_t)x * y; break;
    case CQ_SLASH:
    case CQ_PERCENT:
        if (y == 0) {
            raise(c, DMP_CESQL_EMATH, "division by zero");
            *r = 0;
            return 1;
        }
        if (x == INT32_MIN && y == -1) {
            if (op == CQ_PERCENT) {
                *r = 0;
                return 0;
            }
            raise(c, DMP_CESQL_EMATH, "integer overflow in %d / %d", (int)x, (int)y);
            *r = INT32_MAX;
            return 1;
        }
        *r = op == CQ_SLASH ? x / y : x % y;
        return 0;
    default: v = 0; break;
    }
    if (v > INT32_MAX || v < INT32_MIN) {
        raise(c, DMP_CESQL_EMATH, "integer overflow: result %lld is outside the 32-bit range",
              (long long)v);
        *r = 0;
        return 1;
    }
    *r = (int32_t)v;
    return 0;
}

static int values_equal(const val_t *a, const val_t *b)
{
    if (a->type != b->type)
        return 0;
    if (a->type == DMP_CESQL_INT)
        return a->i == b->i;
    if (a->type == DMP_CESQL_BOOL)
        return a->b == b->b;
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

static int eval_bin(ectx_t *c, const cq_node_t *n, val_t *out)
{
    val_t l, r;
    int fail = 0;
    cq_tok_kind_t op = n->op;

    if (op == CQ_AND || op == CQ_OR || op == CQ_XOR) {
        if (eval_kid(c, n, 0, &l)) {
            v_free(&l);
            *out = v_bool(0);
            return 1;
        }
        fail |= cast(c, &l, DMP_CESQL_BOOL, 0);
        if ((op == CQ_AND && !l.b) || (op == CQ_OR && l.b)) {
            *out = v_bool(l.b);
            return fail;
        }
        if (eval_kid(c, n, 1, &r)) {
            v_free(&r);
            *out = v_bool(0);
            return 1;
        }
        fail |= cast(c, &r, DMP_CESQL_BOOL, 0);
        *out = v_bool(op == CQ_XOR ? (l.b != r.b) : r.b);
        return fail;
    }
    int lf = eval_kid(c, n, 0, &l);
    int rf = lf ? 0 : eval_kid(c, n, 1, &r);
    if (lf || rf) {
        v_free(&l);
        if (!lf)
            v_free(&r);
        *out = (op == CQ_EQ || op == CQ_NE || op == CQ_LT || op == CQ_LE || op == CQ_GT ||
                op == CQ_GE)
                   ? v_bool(0)
                   : v_int(0);
        return 1;
    }
    switch (op) {
    case CQ_EQ:
    case CQ_NE: {
        fail |= cast(c, &l, r.type, 0);
        int eq = values_equal(&l, &r);
        *out = v_bool(op == CQ_EQ ? eq : !eq);
        break;
    }
    case CQ_LT:
    case CQ_LE:
    case CQ_GT:
    case CQ_GE:
        fail |= cast(c, &l, DMP_CESQL_INT, 0);
        fail |= cast(c, &r, DMP_CESQL_INT, 0);
        *out = v_bool(op == CQ_LT ? l.i < r.i : op == CQ_LE ? l.i <= r.i
                                              : op == CQ_GT ? l.i > r.i
                                                            : l.i >= r.i);
        break;
    default: {
        int32_t res = 0;
        fail |= cast(c, &l, DMP_CESQL_INT, 0);
        fail |= cast(c, &r, DMP_CESQL_INT, 0);
        fail |= checked_arith(c, op, l.i, r.i, &res);
        *out = v_int(res);
        break;
    }
    }
    v_free(&l);
    v_free(&r);
    return fail;
}

static int eval_call(ectx_t *c, const cq_node_t *n, val_t *out)
{
    const cq_func_t *f = n->fn;
    val_t args[64];
    val_t *a = n->n_kids <= 64 ? args : dmp_calloc(n->n_kids, sizeof(val_t));
    size_t got = 0;
    int fail = 0;

    for (; got < n->n_kids; got++) {
        if (eval_kid(c, n, got, &a[got])) {
            got++;
            for (size_t k = 0; k < got; k++)
                v_free(&a[k]);
            if (a != args)
                dmp_free(a);
            *out = v_zero(f->ret);
            return 1;
        }
        int pt = ((int)got < f->min_args || f->max_args >= 0) ? f->params[got < 3 ? got : 2]
                                                                : f->vararg;
        if (pt >= 0)
            fail |= cast(c, &a[got], (dmp_cesql_type_t)pt, 0);
    }
    switch (f->id) {
    case F_ABS:
        if (a[0].i == INT32_MIN) {
            raise(c, DMP_CESQL_EMATH, "ABS(-2147483648) overflows");
            fail = 1;
            *out = v_int(INT32_MAX);
        } else {
            *out = v_int(a[0].i < 0 ? -a[0].i : a[0].i);
        }
        break;
    case F_LENGTH:
        *out = v_int((int32_t)u8_len(a[0].s, a[0].len));
        break;
    case F_CONCAT:
    case F_CONCAT_WS: {
        dmp_buf_t b = DMP_BUF_INIT;
        size_t first = f->id == F_CONCAT_WS ? 1 : 0;
        for (size_t k = first; k < n->n_kids; k++) {
            if (k > first && f->id == F_CONCAT_WS)
                dmp_buf_append(&b, a[0].s, a[0].len);
            dmp_buf_append(&b, a[k].s, a[k].len);
        }
        step(c, b.len / 64);
        dmp_buf_putc(&b, '\0');
        size_t len = b.len - 1;
        *out = v_str_own(dmp_buf_steal(&b), len);
        break;
    }
    case F_LOWER:
    case F_UPPER: {
        char *s = dmp_strndup(a[0].s, a[0].len);
        for (size_t k = 0; k < a[0].len; k++)
            s[k] = (char)(f->id == F_LOWER ? tolower((unsigned char)s[k])
                                           : toupper((unsigned char)s[k]));
        *out = v_str_own(s, a[0].len);
        break;
    }
    case F_TRIM: {
        size_t b0 = 0, e = a[0].len;
        while (b0 < e && isspace((unsigned char)a[0].s[b0]))
            b0++;
        while (e > b0 && isspace((unsigned char)a[0].s[e - 1]))
            e--;
        *out = v_str(a[0].s + b0, e - b0);
        break;
    }
    case F_LEFT:
    case F_RIGHT: {
        size_t cl = u8_len(a[0].s, a[0].len);
        if (a[1].i < 0) {
            raise(c, DMP_CESQL_EFUNCTION_EVALUATION, "%s length %d is negative", f->name,
                  (int)a[1].i);
            fail = 1;
            *out = v_str(a[0].s, a[0].len);
        } else if ((size_t)a[1].i >= cl) {
            *out = v_str(a[0].s, a[0].len);
        } else if (f->id == F_LEFT) {
            *out = v_str(a[0].s, u8_off(a[0].s, a[0].len, (size_t)a[1].i));
        } else {
            size_t off = u8_off(a[0].s, a[0].len, cl - (size_t)a[1].i);
            *out = v_str(a[0].s + off, a[0].len - off);
        }
        break;
    }
    case F_SUBSTRING2:
    case F_SUBSTRING3: {
        int64_t cl = (int64_t)u8_len(a[0].s, a[0].len);
        int64_t pos = a[1].i;
        int64_t len = f->id == F_SUBSTRING3 ? a[2].i : INT64_MAX;
        if (pos > cl || pos < -cl || len < 0) {
            raise(c, DMP_CESQL_EFUNCTION_EVALUATION,
                  len < 0 ? "SUBSTRING length %lld is negative"
                          : "SUBSTRING position %lld is outside the string",
                  (long long)(len < 0 ? len : pos));
            fail = 1;
            *out = v_str("", 0);
        } else if (pos == 0) {
            *out = v_str("", 0);
        } else {
            int64_t start = pos > 0 ? pos - 1 : cl + pos;
            int64_t end = len > cl - start ? cl : start + len;
            size_t bo = u8_off(a[0].s, a[0].len, (size_t)start);
            size_t eo = u8_off(a[0].s, a[0].len, (size_t)end);
            *out = v_str(a[0].s + bo, eo - bo);
        }
        break;
    }
    case F_INT:
        fail |= cast(c, &a[0], DMP_CESQL_INT, 1);
        *out = v_int(a[0].i);
        break;
    case F_BOOL:
        fail |= cast(c, &a[0], DMP_CESQL_BOOL, 1);
        *out = v_bool(a[0].b);
        break;
    case F_STRING:
        cast(c, &a[0], DMP_CESQL_STRING, 1);
        *out = v_str(a[0].s, a[0].len);
        break;
    case F_IS_BOOL:
        *out = v_bool((a[0].len == 4 && strncasecmp(a[0].s, "true", 4) == 0) ||
                      (a[0].len == 5 && strncasecmp(a[0].s, "false", 5) == 0));
        break;
    case F_IS_INT: {
        int32_t x;
        *out = v_bool(parse_int32(a[0].s, a[0].len, &x) == 0);
        break;
    }
    case F_IS_STRING:
        *out = v_bool(a[0].type == DMP_CESQL_STRING);
        break;
    default:
        *out = v_zero(f->ret);
        break;
    }
    for (size_t k = 0; k < got; k++)
        v_free(&a[k]);
    if (a != args)
        dmp_free(a);
    return fail;
}

static int eval(ectx_t *c, const cq_node_t *n, val_t *out)
{
    val_t x, y;
    int fail = 0;

    if (step(c, 1) != 0) {
        *out = v_bool(0);
        return 1;
    }
    switch (n->kind) {
    case CQN_LIT:
        *out = n->lit;
        if (n->lit.type == DMP_CESQL_STRING)
            *out = v_str(n->lit.s, n->lit.len);
        return 0;
    case CQN_ATTR:
        return attr_value(c, n->name, out);
    case CQN_EXISTS: {
        dmp_ce_value_t av;
        *out = v_bool(c->ev != NULL && dmp_cloudevent_get(c->ev, n->name, &av));
        return 0;
    }
    case CQN_NOT:
        if (eval_kid(c, n, 0, &x)) {
            v_free(&x);
            *out = v_bool(0);
            return 1;
        }
        fail = cast(c, &x, DMP_CESQL_BOOL, 0);
        *out = v_bool(!x.b);
        return fail;
    case CQN_NEG:
        if (eval_kid(c, n, 0, &x)) {
            v_free(&x);
            *out = v_int(0);
            return 1;
        }
        fail = cast(c, &x, DMP_CESQL_INT, 0);
        if (x.i == INT32_MIN) {
            raise(c, DMP_CESQL_EMATH, "-(-2147483648) overflows");
            *out = v_int(INT32_MAX);
            return 1;
        }
        *out = v_int(-x.i);
        return fail;
    case CQN_BIN:
        return eval_bin(c, n, out);
    case CQN_LIKE:
        if (eval_kid(c, n, 0, &x)) {
            v_free(&x);
            *out = v_bool(0);
            return 1;
        }
        fail = cast(c, &x, DMP_CESQL_STRING, 0);
        {
            int m = like_match(c, x.s, x.len, n->lit.s, n->lit.len);
            if (c->aborted)
                fail = 1, m = n->negate;
            *out = v_bool(n->negate ? !m : m);
        }
        v_free(&x);
        return fail;
    case CQN_IN: {
        int found = 0;
        if (eval_kid(c, n, 0, &x)) {
            v_free(&x);
            *out = v_bool(0);
            return 1;
        }
        for (size_t i = 1; i < n->n_kids && !found; i++) {
            if (eval_kid(c, n, i, &y)) {
                v_free(&y);
                v_free(&x);
                *out = v_bool(0);
                return 1;
            }
            fail |= cast(c, &y, x.type, 0);
            found = values_equal(&x, &y);
            v_free(&y);
        }
        v_free(&x);
        *out = v_bool(n->negate ? !found : found);
        return fail;
    }
    case CQN_CALL:
        return eval_call(c, n, out);
    case CQN_BADCALL:
        raise(c, DMP_CESQL_EMISSING_FUNCTION, "no function %s with %zu argument%s", n->name,
              n->n_kids, n->n_kids == 1 ? "" : "s");
        *out = v_bool(0);
        return 1;
    }
    *out = v_bool(0);
    return 1;
}

int dmp_cesql_eval(const dmp_cesql_t *q, const dmp_cloudevent_t *ev, dmp_cesql_result_t *res)
{
    ectx_t c = {0};
    memset(res, 0, sizeof(*res));
    c.ev = ev;
    c.res = res;
    c.max_steps = q->lim.max_steps;
    eval(&c, q->root, &res->value);
    if (c.aborted) {
        v_free(&res->value);
        res->value = v_bool(0);
    }
    return res->n_errors ? DMP_INVALID : DMP_OK;
}

void dmp_cesql_result_fini(dmp_cesql_result_t *res)
{
    if (res == NULL)
        return;
    v_free(&res->value);
    memset(res, 0, sizeof(*res));
}

int dmp_cesql_match(const dmp_cesql_t *q, const dmp_cloudevent_t *ev)
{
    dmp_cesql_result_t res;
    int rc = dmp_cesql_eval(q, ev, &res);
    int ok = rc == DMP_OK && res.value.type == DMP_CESQL_BOOL && res.value.b;
    dmp_cesql_result_fini(&res);
    return ok;
}
