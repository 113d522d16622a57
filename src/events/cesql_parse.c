/* cesql_parse.c -- recursive-descent parser for CESQL v1, building the tree that
 * cesql_eval.c walks.
 *
 * Precedence, loosest first (keywords are case-insensitive):
 *   OR  <  XOR  <  AND  <  NOT x  <  = != <> < <= > >= [NOT] LIKE [NOT] IN
 *   <  + -  <  * / %  <  -x  <  literal, attribute, f(...), (...), EXISTS attr
 * Binary operators associate to the left. A '-' directly before an integer literal
 * folds into the literal, so -2147483648 is a valid literal.
 * Limits: source length, parenthesis/call nesting (recursion) and tree height.
 */
#include "events_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define CQ_DEF_MAX_LEN 4096
#define CQ_DEF_MAX_DEPTH 64
#define CQ_DEF_MAX_STEPS 1000000
#define CQ_MAX_TREE_HEIGHT 1000

typedef struct parser {
    cq_tok_t *toks;
    size_t n, pos;
    int depth;
    const dmp_cesql_limits_t *lim;
    dmp_error_t *err;
} parser_t;

void cq_node_free(cq_node_t *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n_kids; i++)
        cq_node_free(n->kids[i]);
    dmp_free(n->kids);
    dmp_free(n->name);
    if (n->lit.type == DMP_CESQL_STRING)
        dmp_free(n->lit.s);
    dmp_free(n);
}

static cq_node_t *node_new(cq_node_kind_t kind)
{
    cq_node_t *n = dmp_calloc(1, sizeof(*n));
    n->kind = kind;
    n->lit.type = DMP_CESQL_BOOL;
    n->depth = 1;
    return n;
}

static void node_add(cq_node_t *n, cq_node_t *kid)
{
    n->kids = dmp_realloc(n->kids, (n->n_kids + 1) * sizeof(*n->kids));
    n->kids[n->n_kids++] = kid;
    if (kid->depth + 1 > n->depth)
        n->depth = kid->depth + 1;
}

static cq_tok_t *peek(parser_t *ps)
{
    return &ps->toks[ps->pos];
}

static cq_tok_t *peek2(parser_t *ps)
{
    return ps->pos + 1 < ps->n ? &ps->toks[ps->pos + 1] : &ps->toks[ps->n - 1];
}

static cq_tok_t *next(parser_t *ps)
{
    cq_tok_t *t = &ps->toks[ps->pos];
    if (t->kind != CQ_EOF)
        ps->pos++;
    return t;
}

static int unexpected(parser_t *ps, const cq_tok_t *t, const char *wanted)
{
    char d[40];
    cq_tok_describe(t, d, sizeof(d));
    if (t->kind == CQ_EOF)
        return cq_parse_error(ps->err, t->line, t->col, "unexpected end of expression%s%s",
                              wanted ? ", expected " : "", wanted ? wanted : "");
    return cq_parse_error(ps->err, t->line, t->col, "unexpected token %s%s%s", d,
                          wanted ? ", expected " : "", wanted ? wanted : "");
}

static int check_height(parser_t *ps, cq_node_t *n, const cq_tok_t *at)
{
    if (n->depth > CQ_MAX_TREE_HEIGHT)
        return cq_parse_error(ps->err, at->line, at->col,
                              "expression is nested more than %d levels deep",
                              CQ_MAX_TREE_HEIGHT);
    return DMP_OK;
}

static int parse_or(parser_t *ps, cq_node_t **out);

static int attr_name(parser_t *ps, const cq_tok_t *t, char **out)
{
    char name[64];
    if (t->kind != CQ_IDENT && t->kind != CQ_INT)
        return unexpected(ps, t, "an attribute name");
    if (t->len > DMP_CE_NAME_MAX)
        return cq_parse_error(ps->err, t->line, t->col,
                              "attribute name '%.*s' is longer than %d characters",
                              (int)(t->len > 30 ? 30 : t->len), t->text, DMP_CE_NAME_MAX);
    for (size_t i = 0; i < t->len; i++) {
        char c = t->text[i];
        if (!isalnum((unsigned char)c))
            return cq_parse_error(ps->err, t->line, t->col,
                                  "'%.*s' is not a valid attribute name (only a-z and 0-9)",
                                  (int)t->len, t->text);
        name[i] = (char)tolower((unsigned char)c);
    }
    name[t->len] = '\0';
    *out = dmp_strdup(name);
    return DMP_OK;
}

static int parse_call(parser_t *ps, cq_tok_t *id, cq_node_t **out)
{
    char upper[64];
    cq_node_t *n = node_new(CQN_CALL);
    int rc, known = 0;

    if (id->len >= sizeof(upper)) {
        cq_node_free(n);
        return cq_parse_error(ps->err, id->line, id->col, "function name '%.30s...' is too long",
                              id->text);
    }
    for (size_t i = 0; i < id->len; i++)
        upper[i] = (char)toupper((unsigned char)id->text[i]);
    upper[id->len] = '\0';
    n->name = dmp_strdup(upper);
    next(ps); /* '(' */
    if (peek(ps)->kind != CQ_RPAREN) {
        for (;;) {
            cq_node_t *arg = NULL;
            if ((rc = parse_or(ps, &arg)) != DMP_OK)
                goto fail;
            node_add(n, arg);
            if (peek(ps)->kind == CQ_COMMA) {
                next(ps);
                continue;
            }
            break;
        }
    }
    if (peek(ps)->kind != CQ_RPAREN) {
        rc = unexpected(ps, peek(ps), "',' or ')'");
        goto fail;
    }
    next(ps);
    n->fn = cq_func_lookup(upper, n->n_kids, &known);
    if (n->fn == NULL) {
        if (ps->lim->strict_functions) {
            rc = known ? cq_parse_error(ps->err, id->line, id->col,
                                        "function %s does not take %zu argument%s", upper,
                                        n->n_kids, n->n_kids == 1 ? "" : "s")
                       : cq_parse_error(ps->err, id->line, id->col, "unknown function %s",
                                        upper);
            goto fail;
        }
        n->kind = CQN_BADCALL;
    }
    *out = n;
    return DMP_OK;
fail:
    cq_node_free(n);
    return rc;
}

static int parse_primary(parser_t *ps, cq_node_t **out)
{
    cq_tok_t *t = peek(ps);
    cq_node_t *n;
    int rc;

    switch (t->kind) {
    case CQ_INT:
    case CQ_PLUS:
        if (t->kind == CQ_PLUS) {
            if (peek2(ps)->kind != CQ_INT)
                return unexpected(ps, t, NULL);
            next(ps);
            t = peek(ps);
        }
        if (t->ival > 2147483647LL)
            return cq_parse_error(ps->err, t->line, t->col,
                                  "integer literal %.*s is outside the 32-bit range",
                                  (int)t->len, t->text);
        next(ps);
        n = node_new(CQN_LIT);
        n->lit.type = DMP_CESQL_INT;
        n->lit.i = (int32_t)t->ival;
        *out = n;
        return DMP_OK;
    case CQ_STRING:
        next(ps);
        n = node_new(CQN_LIT);
        n->lit.type = DMP_CESQL_STRING;
        n->lit.s = dmp_strndup(t->str, t->slen);
        n->lit.len = t->slen;
        *out = n;
        return DMP_OK;
    case CQ_TRUE:
    case CQ_FALSE:
        next(ps);
        n = node_new(CQN_LIT);
        n->lit.type = DMP_CESQL_BOOL;
        n->lit.b = t->kind == CQ_TRUE;
        *out = n;
        return DMP_OK;
    case CQ_IDENT:
        if (peek2(ps)->kind == CQ_LPAREN) {
            if (ps->depth >= ps->lim->max_depth)
                return cq_parse_error(ps->err, t->line, t->col,
                                      "expression nests more than %d levels deep",
                                      ps->lim->max_depth);
            ps->depth++;
            next(ps);
            rc = parse_call(ps, t, out);
            ps->depth--;
            return rc;
        }
        next(ps);
        n = node_new(CQN_ATTR);
        if ((rc = attr_name(ps, t, &n->name)) != DMP_OK) {
            cq_node_free(n);
            return rc;
        }
        *out = n;
        return DMP_OK;
    case CQ_EXISTS:
        next(ps);
        n = node_new(CQN_EXISTS);
        if ((rc = attr_name(ps, peek(ps), &n->name)) != DMP_OK) {
            cq_node_free(n);
            return rc;
        }
        next(ps);
        *out = n;
        return DMP_OK;
    case CQ_LPAREN:
        if (ps->depth >= ps->lim->max_depth)
            return cq_parse_error(ps->err, t->line, t->col,
                                  "expression nests more than %d levels deep",
                                  ps->lim->max_depth);
        next(ps);
        ps->depth++;
        rc = parse_or(ps, out);
        ps->depth--;
        if (rc != DMP_OK)
            return rc;
        if (peek(ps)->kind != CQ_RPAREN) {
            cq_node_free(*out);
            *out = NULL;
            return unexpected(ps, peek(ps), "')'");
        }
        next(ps);
        return DMP_OK;
    default:
        return unexpected(ps, t, "a value");
    }
}

static int parse_not(parser_t *ps, cq_node_t **out);

static int parse_unary(parser_t *ps, cq_node_t **out)
{
    cq_tok_t *t = peek(ps);
    cq_node_t *n, *kid = NULL;
    int rc;

    if (t->kind == CQ_NOT)
        return parse_not(ps, out);
    if (t->kind != CQ_MINUS)
        return parse_primary(ps, out);
    next(ps);
    if (peek(ps)->kind == CQ_INT) {
        cq_tok_t *lit = next(ps);
        n = node_new(CQN_LIT);
        n->lit.type = DMP_CESQL_INT;
        n->lit.i = (int32_t)(-lit->ival);
        *out = n;
        return DMP_OK;
    }
    if (ps->depth >= ps->lim->max_depth)
        return cq_parse_error(ps->err, t->line, t->col, "expression nests more than %d levels deep",
                              ps->lim->max_depth);
    ps->depth++;
    rc = parse_unary(ps, &kid);
    ps->depth--;
    if (rc != DMP_OK)
        return rc;
    n = node_new(CQN_NEG);
    node_add(n, kid);
    *out = n;
    return DMP_OK;
}

static int binop_loop(parser_t *ps, cq_node_t **out, int (*sub)(parser_t *, cq_node_t **),
                      const cq_tok_kind_t *ops, size_t n_ops)
{
    cq_node_t *left = NULL, *right = NULL;
    int rc;

    if ((rc = sub(ps, &left)) != DMP_OK)
        return rc;
    for (;;) {
        cq_tok_t *t = peek(ps);
        size_t i;
        for (i = 0; i < n_ops && ops[i] != t->kind; i++)
            ;
        if (i == n_ops)
            break;
        next(ps);
        if ((rc = sub(ps, &right)) != DMP_OK) {
            cq_node_free(left);
            return rc;
        }
        cq_node_t *n = node_new(CQN_BIN);
        n->op = t->kind;
        node_add(n, left);
        node_add(n, right);
        left = n;
        if ((rc = check_height(ps, n, t)) != DMP_OK) {
            cq_node_free(left);
            return rc;
        }
    }
    *out = left;
    return DMP_OK;
}

static int parse_mul(parser_t *ps, cq_node_t **out)
{
    static const cq_tok_kind_t ops[] = {CQ_STAR, CQ_SLASH, CQ_PERCENT};
    return binop_loop(ps, out, parse_unary, ops, 3);
}

static int parse_add(parser_t *ps, cq_node_t **out)
{
    static const cq_tok_kind_t ops[] = {CQ_PLUS, CQ_MINUS};
    return binop_loop(ps, out, parse_mul, ops, 2);
}

static int parse_cmp(parser_t *ps, cq_node_t **out)
{
    cq_node_t *left = NULL, *right = NULL, *n;
    int rc;

    if ((rc = parse_add(ps, &left)) != DMP_OK)
        return rc;
    for (;;) {
        cq_tok_t *t = peek(ps);
        int negate = 0;
        if (t->kind == CQ_NOT && (peek2(ps)->kind == CQ_LIKE || peek2(ps)->kind == CQ_IN)) {
            negate = 1;
            next(ps);
            t = peek(ps);
        }
        if (t->kind == CQ_LIKE) {
            next(ps);
            cq_tok_t *pat = peek(ps);
            if (pat->kind != CQ_STRING) {
                cq_node_free(left);
                char d[40];
                cq_tok_describe(pat, d, sizeof(d));
                return cq_parse_error(ps->err, pat->line, pat->col,
                                      "LIKE needs a string literal pattern, got %s", d);
            }
            next(ps);
            n = node_new(CQN_LIKE);
            n->negate = negate;
            n->lit.type = DMP_CESQL_STRING;
            n->lit.s = dmp_strndup(pat->str, pat->slen);
            n->lit.len = pat->slen;
            node_add(n, left);
        } else if (t->kind == CQ_IN) {
            next(ps);
            n = node_new(CQN_IN);
            n->negate = negate;
            node_add(n, left);
            if (peek(ps)->kind != CQ_LPAREN) {
                rc = unexpected(ps, peek(ps), "'(' after IN");
                cq_node_free(n);
                return rc;
            }
            next(ps);
            for (;;) {
                if (ps->depth >= ps->lim->max_depth) {
                    cq_node_free(n);
                    return cq_parse_error(ps->err, t->line, t->col,
                                          "expression nests more than %d levels deep",
                                          ps->lim->max_depth);
                }
                ps->depth++;
                rc = parse_or(ps, &right);
                ps->depth--;
                if (rc != DMP_OK) {
                    cq_node_free(n);
                    return rc;
                }
                node_add(n, right);
                if (peek(ps)->kind == CQ_COMMA) {
                    next(ps);
                    continue;
                }
                if (peek(ps)->kind == CQ_RPAREN) {
                    next(ps);
                    break;
                }
                rc = unexpected(ps, peek(ps), "',' or ')'");
                cq_node_free(n);
                return rc;
            }
        } else if (t->kind == CQ_EQ || t->kind == CQ_NE || t->kind == CQ_LT ||
                   t->kind == CQ_LE || t->kind == CQ_GT || t->kind == CQ_GE) {
            next(ps);
            if ((rc = parse_add(ps, &right)) != DMP_OK) {
                cq_node_free(left);
                return rc;
            }
            n = node_new(CQN_BIN);
            n->op = t->kind;
            node_add(n, left);
            node_add(n, right);
        } else {
            break;
        }
        left = n;
        if ((rc = check_height(ps, n, t)) != DMP_OK) {
            cq_node_free(left);
            return rc;
        }
    }
    *out = left;
    return DMP_OK;
}

static int parse_not(parser_t *ps, cq_node_t **out)
{
    cq_tok_t *t = peek(ps);
    cq_node_t *kid = NULL, *n;
    int rc;

    if (t->kind != CQ_NOT)
        return parse_cmp(ps, out);
    next(ps);
    if (ps->depth >= ps->lim->max_depth)
        return cq_parse_error(ps->err, t->line, t->col, "expression nests more than %d levels deep",
                              ps->lim->max_depth);
    ps->depth++;
    rc = parse_not(ps, &kid);
    ps->depth--;
    if (rc != DMP_OK)
        return rc;
    n = node_new(CQN_NOT);
    node_add(n, kid);
    *out = n;
    return DMP_OK;
}

static int parse_and(parser_t *ps, cq_node_t **out)
{
    static const cq_tok_kind_t ops[] = {CQ_AND};
    return binop_loop(ps, out, parse_not, ops, 1);
}

static int parse_xor(parser_t *ps, cq_node_t **out)
{
    static const cq_tok_kind_t ops[] = {CQ_XOR};
    return binop_loop(ps, out, parse_and, ops, 1);
}

static int parse_or(parser_t *ps, cq_node_t **out)
{
    static const cq_tok_kind_t ops[] = {CQ_OR};
    return binop_loop(ps, out, parse_xor, ops, 1);
}

int dmp_cesql_parse(const char *expr, size_t len, const dmp_cesql_limits_t *lim,
                    dmp_cesql_t **out, dmp_error_t *err)
{
    dmp_cesql_limits_t l = {0};
    parser_t ps = {0};
    cq_node_t *root = NULL;
    int rc;

    *out = NULL;
    if (lim)
        l = *lim;
    if (!l.max_len)
        l.max_len = CQ_DEF_MAX_LEN;
    if (l.max_depth <= 0)
        l.max_depth = CQ_DEF_MAX_DEPTH;
    if (!l.max_steps)
        l.max_steps = CQ_DEF_MAX_STEPS;
    if (expr == NULL)
        return DMP_ERR(err, DMP_INVALID, "CESQL: no expression given");
    if (len > l.max_len) {
        dmp_error_where(err, "1:1");
        return DMP_ERR(err, DMP_LIMIT, "CESQL: expression is %zu bytes, over the limit of %zu",
                       len, l.max_len);
    }
    if ((rc = cq_lex(expr, len, &ps.toks, &ps.n, err)) != DMP_OK)
        return rc;
    ps.lim = &l;
    ps.err = err;
    if (ps.toks[0].kind == CQ_EOF) {
        rc = cq_parse_error(err, 1, 1, "empty expression");
        goto out;
    }
    if ((rc = parse_or(&ps, &root)) != DMP_OK)
        goto out;
    if (peek(&ps)->kind != CQ_EOF) {
        rc = unexpected(&ps, peek(&ps), "an operator or end of expression");
        cq_node_free(root);
        goto out;
    }
    dmp_cesql_t *q = dmp_calloc(1, sizeof(*q));
    q->text = dmp_strndup(expr, len);
    q->root = root;
    q->lim = l;
    *out = q;
out:
    cq_toks_free(ps.toks, ps.n);
    return rc;
}

void dmp_cesql_free(dmp_cesql_t *q)
{
    if (q == NULL)
        return;
    cq_node_free(q->root);
    dmp_free(q->text);
    dmp_free(q);
}

const char *dmp_cesql_text(const dmp_cesql_t *q)
{
    return q->text;
}

int ce_sql_compile(const char *text, size_t len, dmp_cesql_t **out, dmp_error_t *err)
{
    dmp_cesql_limits_t l = {0};
    l.strict_functions = 1;
    return dmp_cesql_parse(text, len, &l, out, err);
}
