/* policy.c -- policy files (Spectral-style rulesets), federated policy sets and
 * their evaluation over descriptors.
 *
 * A policy set is a stack of layers, lowest first:
 *     default (shipped)  <  global (admin)  <  domain "a"  <  domain "a.b"  < ...
 * The rules in force for a product of domain "a.b.c" come from the default and
 * global layers and from every domain layer that is "a.b.c" or one of its
 * ancestors. A layer may define new rules or override an inherited rule's
 * severity (`name: warn`, `name: off`). Only the global layer may redefine a rule
 * it inherits (from the defaults) or relax an inherited error; a domain layer that
 * tries is refused when it is installed (dmp_policy_set_domain), and, should a later
 * global change create such a conflict, the relaxation is ignored at evaluation
 * and reported as a warning.
 *
 * Parsing uses the descriptor module's YAML/JSON loader (dmp_doc_load), which
 * keeps node positions, so every policy error points at policy-file:line:col.
 */
#include <string.h>

#include "dmp/policy.h"
#include "governance/governance_int.h"

#define POLICY_MAX_BYTES (1u << 20)
#define POLICY_MAX_RULES 1000
#define SEV_OFF 3 /* after DMP_SEV_INFO: the rule is switched off */

typedef enum { F_NONE, F_PATH, F_KEY, F_JSONPATH } field_kind_t;

typedef struct gov_then {
    field_kind_t field_kind;
    char *field;  /* as written */
    char **parts; /* F_PATH: the dotted parts */
    size_t n_parts;
    dmp_jsonpath_t *jp; /* F_JSONPATH */
    const gov_func_t *fn;
    void *state;
} gov_then_t;

typedef struct gov_rule {
    char *name;
    char *description;
    char *message;
    int severity; /* dmp_severity_t or SEV_OFF */
    bool override_only;
    dmp_jsonpath_t **given;
    size_t n_given;
    gov_then_t *then;
    size_t n_then;
    bool needs_prev;
} gov_rule_t;

struct dmp_policy {
    char *source;
    json_t *doc;
    gov_rule_t *rules;
    size_t n;
};

typedef struct domain_layer {
    char *domain;
    dmp_policy_t *p;
} domain_layer_t;

struct dmp_policy_set {
    dmp_policy_t *defaults;
    dmp_policy_t *global;
    domain_layer_t *domains;
    size_t n_domains;
};

static const char *sev_name(int sev)
{
    switch (sev) {
    case DMP_SEV_ERROR:
        return "error";
    case DMP_SEV_WARN:
        return "warn";
    case DMP_SEV_INFO:
        return "info";
    default:
        return "off";
    }
}

/* "error", "warn"/"warning", "info"/"hint", "off" or false; -1 otherwise. */
static int sev_parse(const json_t *v)
{
    if (json_is_false(v))
        return SEV_OFF;
    if (json_is_true(v))
        return -2; /* "keep as is": Spectral's `rule: true` */
    if (!json_is_string(v))
        return -1;
    const char *s = json_string_value(v);
    if (!strcmp(s, "error"))
        return DMP_SEV_ERROR;
    if (!strcmp(s, "warn") || !strcmp(s, "warning"))
        return DMP_SEV_WARN;
    if (!strcmp(s, "info") || !strcmp(s, "hint"))
        return DMP_SEV_INFO;
    if (!strcmp(s, "off"))
        return SEV_OFF;
    return -1;
}

/* ---- rules */

static void then_fini(gov_then_t *t)
{
    if (t->fn)
        gov_func_release(t->fn, t->state);
    for (size_t i = 0; i < t->n_parts; i++)
        dmp_free(t->parts[i]);
    dmp_free(t->parts);
    dmp_free(t->field);
    dmp_jsonpath_free(t->jp);
}

static void rule_fini(gov_rule_t *r)
{
    dmp_free(r->name);
    dmp_free(r->description);
    dmp_free(r->message);
    for (size_t i = 0; i < r->n_given; i++)
        dmp_jsonpath_free(r->given[i]);
    dmp_free(r->given);
    for (size_t i = 0; i < r->n_then; i++)
        then_fini(&r->then[i]);
    dmp_free(r->then);
}

void dmp_policy_free(dmp_policy_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        rule_fini(&p->rules[i]);
    dmp_free(p->rules);
    dmp_free(p->source);
    if (p->doc)
        json_decref(p->doc);
    dmp_free(p);
}

size_t dmp_policy_rule_count(const dmp_policy_t *p)
{
    return p ? p->n : 0;
}

const json_t *dmp_policy_document(const dmp_policy_t *p)
{
    return p ? p->doc : NULL;
}

/* ---- parsing */

typedef struct pctx {
    const char *source;
    dmp_doc_locs_t *locs;
    dmp_diags_t *diags;
    dmp_error_t *err;
    int rc;
} pctx_t;

static void perr(pctx_t *pc, int code, const char *pointer, const char *fmt, ...) DMP_PRINTF(4, 5);

static void perr(pctx_t *pc, int code, const char *pointer, const char *fmt, ...)
{
    dmp_buf_t b = DMP_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    dmp_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    dmp_loc_t loc = pc->locs ? dmp_doc_locs_get(pc->locs, pointer) : (dmp_loc_t){0, 0};
    char *path = dmp_pointer_to_path(pointer);
    dmp_diags_add(pc->diags, DMP_SEV_ERROR, code, "policy", pc->source, loc, path, pointer, "%s",
                  b.data);
    if (pc->rc == DMP_OK) {
        pc->rc = DMP_ERR(pc->err, code, "%s:%d:%d: %s: %s", pc->source, loc.line, loc.col,
                         path[0] ? path : "policy", b.data);
        dmp_error_where(pc->err, "%s:%d:%d", pc->source, loc.line, loc.col);
        dmp_error_path(pc->err, "%s", path);
    }
    dmp_free(path);
    dmp_buf_free(&b);
}

static void key_ptr(dmp_buf_t *b, const char *base, const char *key)
{
    dmp_buf_reset(b);
    dmp_buf_puts(b, base);
    dmp_buf_putc(b, '/');
    jp_pointer_put_name(b, key, strlen(key));
}

static void check_keys(pctx_t *pc, json_t *obj, const char *ptr, const char *const *allowed)
{
    const char *key;
    json_t *v;
    dmp_buf_t b = DMP_BUF_INIT;
    json_object_foreach(obj, key, v)
    {
        const char *best = NULL;
        bool ok = false;
        int bd = 3;
        for (const char *const *a = allowed; *a; a++) {
            if (!strcmp(*a, key))
                ok = true;
            int d = dmp_str_distance(key, *a);
            if (d < bd)
                bd = d, best = *a;
        }
        if (!ok) {
            key_ptr(&b, ptr, key);
            if (best)
                perr(pc, DMP_INVALID, b.data, "unknown field '%s' (did you mean '%s'?)", key, best);
            else
                perr(pc, DMP_INVALID, b.data, "unknown field '%s'", key);
        }
    }
    dmp_buf_free(&b);
}

static void parse_then(pctx_t *pc, json_t *t, const char *ptr, gov_then_t *out)
{
    static const char *const keys[] = {"field", "function", "functionOptions", NULL};
    dmp_buf_t b = DMP_BUF_INIT;
    if (!json_is_object(t)) {
        perr(pc, DMP_INVALID, ptr, "'then' must be a mapping with 'function' (or a list)");
        return;
    }
    check_keys(pc, t, ptr, keys);
    json_t *fn = json_object_get(t, "function"), *field = json_object_get(t, "field");
    key_ptr(&b, ptr, "function");
    if (!json_is_string(fn)) {
        perr(pc, DMP_INVALID, fn ? b.data : ptr, "'function' is required and must be a name");
    } else if (!(out->fn = gov_func_find(json_string_value(fn)))) {
        const char *sug = gov_func_suggest(json_string_value(fn));
        perr(pc, DMP_INVALID, b.data, "unknown function '%s'%s%s%s", json_string_value(fn),
             sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
    } else {
        char msg[300];
        key_ptr(&b, ptr, "functionOptions");
        json_t *opts = json_object_get(t, "functionOptions");
        if (gov_func_prepare(out->fn, opts, &out->state, msg, sizeof(msg)) != DMP_OK) {
            perr(pc, DMP_INVALID, opts ? b.data : ptr, "%s: %s", json_string_value(fn), msg);
            out->fn = NULL; /* nothing to release */
        }
    }
    if (field) {
        key_ptr(&b, ptr, "field");
        const char *f = json_string_value(field);
        if (!f || !f[0]) {
            perr(pc, DMP_INVALID, b.data, "'field' must be a non-empty string");
        } else if (!strcmp(f, "@key")) {
            out->field_kind = F_KEY;
        } else if (f[0] == '$') {
            dmp_error_t e = {0};
            out->field_kind = F_JSONPATH;
            if (dmp_jsonpath_compile(f, NULL, &out->jp, &e) != DMP_OK)
                perr(pc, DMP_INVALID, b.data, "%s", e.msg);
        } else {
            out->field_kind = F_PATH;
            const char *s = f;
            while (s) {
                const char *dot = strchr(s, '.');
                size_t n = dot ? (size_t)(dot - s) : strlen(s);
                out->parts = dmp_realloc(out->parts, (out->n_parts + 1) * sizeof(char *));
                out->parts[out->n_parts++] = dmp_strndup(s, n);
                s = dot ? dot + 1 : NULL;
            }
        }
        out->field = dmp_strdup(f);
    }
    dmp_buf_free(&b);
}

static void parse_rule(pctx_t *pc, const char *name, json_t *v, const char *ptr, gov_rule_t *r)
{
    static const char *const keys[] = {"description", "message", "severity", "given", "then",
                                       "recommended", "formats", "resolved", NULL};
    dmp_buf_t b = DMP_BUF_INIT;
    r->name = dmp_strdup(name);
    r->severity = DMP_SEV_WARN; /* Spectral's default */
    if (!json_is_object(v)) {
        int sev = sev_parse(v);
        if (sev == -1)
            perr(pc, DMP_INVALID, ptr,
                 "rule '%s' must be a mapping, or a severity (error, warn, "
                 "info, off) that overrides an inherited rule",
                 name);
        r->override_only = true;
        r->severity = sev;
        return;
    }
    check_keys(pc, v, ptr, keys);
    json_t *given = json_object_get(v, "given"), *then = json_object_get(v, "then");
    json_t *sev = json_object_get(v, "severity");
    if (!given && !then) { /* {severity: x}: an override */
        r->override_only = true;
        r->severity = -2;
    }
    if (sev) {
        key_ptr(&b, ptr, "severity");
        int s = sev_parse(sev);
        if (s < 0 && !json_is_true(sev))
            perr(pc, DMP_INVALID, b.data, "severity must be error, warn, info or off");
        else
            r->severity = s;
    }
    json_t *d = json_object_get(v, "description"), *m = json_object_get(v, "message");
    if (d && !json_is_string(d)) {
        key_ptr(&b, ptr, "description");
        perr(pc, DMP_INVALID, b.data, "description must be a string");
    }
    if (m && !json_is_string(m)) {
        key_ptr(&b, ptr, "message");
        perr(pc, DMP_INVALID, b.data, "message must be a string");
    }
    r->description = dmp_strdup(json_string_value(d));
    r->message = dmp_strdup(json_string_value(m));
    if (r->override_only) {
        dmp_buf_free(&b);
        return;
    }
    if (!given || !then) {
        perr(pc, DMP_INVALID, ptr, "rule '%s' needs both 'given' and 'then'", name);
        dmp_buf_free(&b);
        return;
    }
    key_ptr(&b, ptr, "given");
    size_t ng = json_is_array(given) ? json_array_size(given) : 1;
    r->given = dmp_calloc(ng ? ng : 1, sizeof(*r->given));
    if (ng == 0)
        perr(pc, DMP_INVALID, b.data, "'given' is an empty list");
    for (size_t i = 0; i < ng; i++) {
        json_t *g = json_is_array(given) ? json_array_get(given, i) : given;
        char gp[512];
        if (json_is_array(given))
            snprintf(gp, sizeof(gp), "%s/%zu", b.data, i);
        else
            snprintf(gp, sizeof(gp), "%s", b.data);
        if (!json_is_string(g)) {
            perr(pc, DMP_INVALID, gp, "'given' must be a JSONPath string (or a list of them)");
            continue;
        }
        dmp_error_t e = {0};
        if (dmp_jsonpath_compile(json_string_value(g), NULL, &r->given[r->n_given], &e) != DMP_OK)
            perr(pc, e.code, gp, "%s", e.msg);
        else
            r->n_given++;
    }
    key_ptr(&b, ptr, "then");
    size_t nt = json_is_array(then) ? json_array_size(then) : 1;
    r->then = dmp_calloc(nt ? nt : 1, sizeof(*r->then));
    if (nt == 0)
        perr(pc, DMP_INVALID, b.data, "'then' is an empty list");
    for (size_t i = 0; i < nt; i++) {
        char tp[512];
        if (json_is_array(then))
            snprintf(tp, sizeof(tp), "%s/%zu", b.data, i);
        else
            snprintf(tp, sizeof(tp), "%s", b.data);
        parse_then(pc, json_is_array(then) ? json_array_get(then, i) : then, tp,
                   &r->then[r->n_then]);
        if (r->then[r->n_then].fn && gov_func_needs_prev(r->then[r->n_then].fn))
            r->needs_prev = true;
        r->n_then++;
    }
    dmp_buf_free(&b);
}

int dmp_policy_parse(const char *buf, size_t len, const char *source, dmp_policy_t **out,
                     dmp_diags_t *diags, dmp_error_t *err)
{
    static const char *const top_keys[] = {"rules",   "description",      "extends",
                                           "formats", "documentationUrl", NULL};
    *out = NULL;
    source = source ? source : "<policy>";
    if (len > POLICY_MAX_BYTES)
        return DMP_ERR(err, DMP_LIMIT, "%s: policy file of %zu bytes exceeds the limit of %u",
                       source, len, POLICY_MAX_BYTES);
    dmp_doc_opts_t o = {.format = DMP_FMT_AUTO, .source = source};
    o.limits.max_bytes = POLICY_MAX_BYTES;
    o.limits.max_depth = 64;
    o.limits.max_nodes = 100000;
    json_t *doc = NULL;
    pctx_t pc = {.source = source, .diags = diags, .err = err, .rc = DMP_OK};
    dmp_error_t lerr = {0};
    int rc = dmp_doc_load(buf, len, &o, &doc, &pc.locs, diags, &lerr);
    if (rc != DMP_OK) {
        /* the loader puts the position in 'where': put it in the sentence too */
        DMP_ERR(err, rc, "%s: %s", lerr.where[0] ? lerr.where : source, lerr.msg);
        dmp_error_where(err, "%s", lerr.where);
        return rc;
    }
    dmp_policy_t *p = dmp_calloc(1, sizeof(*p));
    p->source = dmp_strdup(source);
    p->doc = doc;
    json_t *rules = json_object_get(doc, "rules");
    if (!json_is_object(doc)) {
        perr(&pc, DMP_INVALID, "", "a policy file is a mapping with 'rules'");
    } else if (!json_is_object(rules)) {
        perr(&pc, DMP_INVALID, rules ? "/rules" : "",
             "'rules' is required and must be a mapping "
             "of rule names to rules");
    } else {
        check_keys(&pc, doc, "", top_keys);
        if (json_object_get(doc, "extends"))
            perr(&pc, DMP_UNSUPPORTED, "/extends",
                 "'extends' is not supported: dmp composes "
                 "policies by layer (default, global, domain)");
        if (json_object_size(rules) > POLICY_MAX_RULES)
            perr(&pc, DMP_LIMIT, "/rules", "%zu rules exceed the limit of %d",
                 json_object_size(rules), POLICY_MAX_RULES);
        else {
            const char *name;
            json_t *v;
            dmp_buf_t b = DMP_BUF_INIT;
            p->rules = dmp_calloc(json_object_size(rules) + 1, sizeof(*p->rules));
            json_object_foreach(rules, name, v)
            {
                key_ptr(&b, "/rules", name);
                if (!name[0] || strlen(name) > 128)
                    perr(&pc, DMP_INVALID, b.data, "a rule name must have 1 to 128 characters");
                parse_rule(&pc, name, v, b.data, &p->rules[p->n++]);
            }
            dmp_buf_free(&b);
        }
    }
    dmp_doc_locs_free(pc.locs);
    if (pc.rc != DMP_OK) {
        dmp_policy_free(p);
        return pc.rc;
    }
    *out = p;
    return DMP_OK;
}

int dmp_policy_load(const char *path, dmp_policy_t **out, dmp_diags_t *diags, dmp_error_t *err)
{
    char *buf = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = dmp_read_file(path, POLICY_MAX_BYTES, &buf, &len, err);
    if (rc != DMP_OK)
        return rc;
    rc = dmp_policy_parse(buf, len, path, out, diags, err);
    dmp_free(buf);
    return rc;
}

int dmp_policy_default(dmp_policy_t **out, dmp_error_t *err)
{
    const char *t = dmp_policy_default_text();
    return dmp_policy_parse(t, strlen(t), "<default policies>", out, NULL, err);
}

/* ---- sets and the effective rule list */

typedef struct eff_rule {
    const gov_rule_t *def;
    int severity;
    const char *origin;       /* "default", "global" or a domain */
    int level;                /* 0 default, 1 global, 2.. domain layers */
    int def_level;            /* the layer that defined the rule */
    const char *error_origin; /* the layer that made it an error, when it is one */
    int error_level;
} eff_rule_t;

typedef struct eff {
    eff_rule_t *v;
    size_t n;
} eff_t;

static eff_rule_t *eff_find(eff_t *e, const char *name)
{
    for (size_t i = 0; i < e->n; i++)
        if (!strcmp(e->v[i].def ? e->v[i].def->name : "", name))
            return &e->v[i];
    return NULL;
}

/* Applies one layer. Conflicts go to 'conflicts' (one sentence each, ';'-joined)
 * and the offending entry is ignored. */
static void eff_apply(eff_t *e, const dmp_policy_t *p, const char *origin, int level,
                      dmp_buf_t *conflicts)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        const gov_rule_t *r = &p->rules[i];
        eff_rule_t *x = eff_find(e, r->name);
        const char *problem = NULL;
        if (!r->override_only) {
            if (x && level >= 2) {
                problem = "redefines";
            } else {
                if (!x) {
                    e->v = dmp_realloc(e->v, (e->n + 1) * sizeof(*e->v));
                    x = &e->v[e->n++];
                }
                x->def = r;
                x->severity = r->severity < 0 ? DMP_SEV_WARN : r->severity;
                x->origin = origin;
                x->level = x->def_level = level;
                x->error_origin = x->severity == DMP_SEV_ERROR ? origin : NULL;
                x->error_level = level;
            }
        } else if (!x) {
            problem = "overrides unknown rule";
        } else if (r->severity >= 0) {
            if (level >= 2 && x->severity == DMP_SEV_ERROR && r->severity != DMP_SEV_ERROR) {
                problem = r->severity == SEV_OFF ? "switches off" : "downgrades";
            } else {
                if (r->severity == DMP_SEV_ERROR && x->severity != DMP_SEV_ERROR) {
                    x->error_origin = origin;
                    x->error_level = level;
                }
                x->severity = r->severity;
                x->origin = origin;
                x->level = level;
            }
        }
        if (problem && conflicts) {
            if (conflicts->len)
                dmp_buf_puts(conflicts, "; ");
            if (!strcmp(problem, "overrides unknown rule"))
                dmp_buf_printf(conflicts, "policy of %s overrides unknown rule '%s'", origin,
                               r->name);
            else if (!strcmp(problem, "redefines"))
                dmp_buf_printf(conflicts,
                               "policy of %s redefines rule '%s' inherited from %s; "
                               "give its rule a new name",
                               origin, r->name, x->origin);
            else
                dmp_buf_printf(conflicts,
                               "policy of %s %s rule '%s', an error set by %s: a "
                               "domain cannot relax an inherited error",
                               origin, problem, r->name,
                               x->error_origin ? x->error_origin : x->origin);
        }
    }
}

static bool domain_covers(const char *layer, const char *domain)
{
    size_t n = strlen(layer);
    return domain && strncmp(layer, domain, n) == 0 && (domain[n] == 0 || domain[n] == '.');
}

static size_t domain_depth(const char *d)
{
    size_t k = 1;
    for (; *d; d++)
        k += *d == '.';
    return k;
}

/* The rules for 'domain', layer by layer; 'extra' (may be NULL) is a candidate
 * layer for 'extra_domain' used instead of the installed one. */
static void effective(const dmp_policy_set_t *s, const char *domain, const char *extra_domain,
                      const dmp_policy_t *extra, eff_t *e, dmp_buf_t *conflicts)
{
    memset(e, 0, sizeof(*e));
    eff_apply(e, s->defaults, "default", 0, conflicts);
    eff_apply(e, s->global, "global", 1, conflicts);
    if (!domain || !domain[0])
        return;
    /* ancestors first: by depth */
    for (size_t depth = 1; depth <= domain_depth(domain); depth++) {
        for (size_t i = 0; i < s->n_domains; i++) {
            const domain_layer_t *l = &s->domains[i];
            if (domain_depth(l->domain) != depth || !domain_covers(l->domain, domain))
                continue;
            if (extra_domain && !strcmp(l->domain, extra_domain))
                continue;
            eff_apply(e, l->p, l->domain, (int)depth + 1, conflicts);
        }
        if (extra_domain && domain_depth(extra_domain) == depth &&
            domain_covers(extra_domain, domain))
            eff_apply(e, extra, extra_domain, (int)depth + 1, conflicts);
    }
}

int dmp_policy_set_new(int flags, dmp_policy_set_t **out, dmp_error_t *err)
{
    *out = NULL;
    dmp_policy_set_t *s = dmp_calloc(1, sizeof(*s));
    if (!(flags & DMP_POLICY_NO_DEFAULTS)) {
        int rc = dmp_policy_default(&s->defaults, err);
        if (rc != DMP_OK) {
            dmp_free(s);
            return rc;
        }
    }
    *out = s;
    return DMP_OK;
}

void dmp_policy_set_free(dmp_policy_set_t *s)
{
    if (!s)
        return;
    dmp_policy_free(s->defaults);
    dmp_policy_free(s->global);
    for (size_t i = 0; i < s->n_domains; i++) {
        dmp_free(s->domains[i].domain);
        dmp_policy_free(s->domains[i].p);
    }
    dmp_free(s->domains);
    dmp_free(s);
}

int dmp_policy_set_global(dmp_policy_set_t *s, dmp_policy_t *p, dmp_error_t *err)
{
    dmp_buf_t conflicts = DMP_BUF_INIT;
    eff_t e;
    memset(&e, 0, sizeof(e));
    eff_apply(&e, s->defaults, "default", 0, NULL);
    eff_apply(&e, p, "global", 1, &conflicts);
    dmp_free(e.v);
    if (conflicts.len) {
        int rc = DMP_ERR(err, DMP_POLICY, "%s", conflicts.data);
        dmp_buf_free(&conflicts);
        dmp_policy_free(p);
        return rc;
    }
    dmp_policy_free(s->global);
    s->global = p;
    return DMP_OK;
}

static bool domain_valid(const char *d)
{
    if (!d || !d[0] || strlen(d) > 255)
        return false;
    bool seg_start = true;
    for (const char *c = d; *c; c++) {
        if (*c == '.') {
            if (seg_start)
                return false;
            seg_start = true;
            continue;
        }
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-'))
            return false;
        seg_start = false;
    }
    return !seg_start;
}

int dmp_policy_set_domain(dmp_policy_set_t *s, const char *domain, dmp_policy_t *p,
                          dmp_error_t *err)
{
    if (!domain_valid(domain)) {
        dmp_policy_free(p);
        return DMP_ERR(err, DMP_INVALID,
                       "invalid domain '%.100s': dot-separated names of "
                       "letters, digits, '_' and '-'",
                       domain ? domain : "");
    }
    size_t k = 0;
    while (k < s->n_domains && strcmp(s->domains[k].domain, domain) != 0)
        k++;
    if (p) {
        /* the candidate must compose for its own domain; descendants are checked when
         * they are installed, and at evaluation */
        dmp_buf_t conflicts = DMP_BUF_INIT;
        eff_t e;
        effective(s, domain, domain, p, &e, &conflicts);
        dmp_free(e.v);
        if (conflicts.len) {
            int rc = DMP_ERR(err, DMP_POLICY, "%s", conflicts.data);
            dmp_buf_free(&conflicts);
            dmp_policy_free(p);
            return rc;
        }
    }
    if (k == s->n_domains) {
        if (!p)
            return DMP_OK;
        s->domains = dmp_realloc(s->domains, (s->n_domains + 1) * sizeof(*s->domains));
        s->domains[s->n_domains].domain = dmp_strdup(domain);
        s->domains[s->n_domains].p = NULL;
        s->n_domains++;
    }
    dmp_policy_free(s->domains[k].p);
    s->domains[k].p = p;
    if (!p) {
        dmp_free(s->domains[k].domain);
        s->domains[k] = s->domains[--s->n_domains];
    }
    return DMP_OK;
}

json_t *dmp_policy_set_effective(const dmp_policy_set_t *s, const char *domain)
{
    eff_t e;
    effective(s, domain, NULL, NULL, &e, NULL);
    json_t *a = json_array();
    for (size_t i = 0; i < e.n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(e.v[i].def->name));
        json_object_set_new(o, "severity", json_string(sev_name(e.v[i].severity)));
        json_object_set_new(o, "origin", json_string(e.v[i].origin));
        if (e.v[i].def->description)
            json_object_set_new(o, "description", json_string(e.v[i].def->description));
        json_array_append_new(a, o);
    }
    dmp_free(e.v);
    return a;
}

/* ---- evaluation */

typedef struct ectx {
    json_t *doc, *prev;
    const char *source;
    const dmp_descriptor_t *d;
    const dmp_doc_locs_t *locs;
    dmp_diags_t *diags;
    size_t errors;
    char first[512];
} ectx_t;

static dmp_loc_t loc_of(const ectx_t *x, const char *pointer)
{
    dmp_loc_t loc = {0, 0};
    char *p = dmp_strdup(pointer);
    for (;;) {
        if (x->d)
            loc = dmp_descriptor_loc(x->d, p);
        else if (x->locs)
            loc = dmp_doc_locs_get(x->locs, p);
        if (loc.line || !p[0])
            break;
        char *slash = strrchr(p, '/'); /* the nearest ancestor that has a position */
        if (!slash)
            slash = p;
        *slash = 0;
    }
    dmp_free(p);
    return loc;
}

static void add_finding(ectx_t *x, int sev, int code, const char *rule, const char *pointer,
                        const char *msg)
{
    char *path = dmp_pointer_to_path(pointer);
    dmp_loc_t loc = loc_of(x, pointer);
    dmp_diags_add(x->diags, (dmp_severity_t)sev, code, rule, x->source, loc, path, pointer, "%s",
                  msg);
    if (sev == DMP_SEV_ERROR && x->errors++ == 0)
        snprintf(x->first, sizeof(x->first), "%s:%d:%d: %s: %s [%s]", x->source, loc.line, loc.col,
                 path[0] ? path : "(document)", msg, rule);
    dmp_free(path);
}

/* The last token of a JSON pointer, unescaped: the {{property}} of a finding. */
static char *last_token(const char *pointer)
{
    const char *s = strrchr(pointer, '/');
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_buf_append(&b, "", 0);
    for (s = s ? s + 1 : pointer; *s; s++) {
        if (s[0] == '~' && s[1] == '0')
            dmp_buf_putc(&b, '~'), s++;
        else if (s[0] == '~' && s[1] == '1')
            dmp_buf_putc(&b, '/'), s++;
        else
            dmp_buf_putc(&b, *s);
    }
    return dmp_buf_steal(&b);
}

static void render(dmp_buf_t *out, const gov_rule_t *r, const char *pointer, json_t *value,
                   const char *error)
{
    const char *t = r->message ? r->message : "{{property}} {{error}}";
    char *prop = last_token(pointer);
    char *path = dmp_pointer_to_path(pointer);
    while (*t) {
        const char *open = strstr(t, "{{");
        if (!open) {
            dmp_buf_puts(out, t);
            break;
        }
        dmp_buf_append(out, t, (size_t)(open - t));
        const char *close = strstr(open, "}}");
        if (!close) {
            dmp_buf_puts(out, open);
            break;
        }
        size_t n = (size_t)(close - open - 2);
        const char *k = open + 2;
        if (n == 8 && !strncmp(k, "property", n)) {
            dmp_buf_puts(out, prop[0] ? prop : "document");
        } else if (n == 5 && !strncmp(k, "value", n)) {
            if (!value) {
                dmp_buf_puts(out, "undefined");
            } else if (json_is_string(value)) {
                dmp_buf_printf(out, "%.200s", json_string_value(value));
            } else {
                char *s = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
                dmp_buf_printf(out, "%.200s", s ? s : "");
                free(s);
            }
        } else if (n == 4 && !strncmp(k, "path", n)) {
            dmp_buf_puts(out, path[0] ? path : "(document)");
        } else if (n == 5 && !strncmp(k, "error", n)) {
            dmp_buf_puts(out, error);
        } else if (n == 11 && !strncmp(k, "description", n)) {
            dmp_buf_puts(out, r->description ? r->description : "");
        } else if (n == 4 && !strncmp(k, "rule", n)) {
            dmp_buf_puts(out, r->name);
        } else {
            dmp_buf_append(out, open, (size_t)(close + 2 - open));
        }
        t = close + 2;
    }
    dmp_free(prop);
    dmp_free(path);
}

static void run_check(ectx_t *x, const gov_rule_t *r, int sev, const gov_then_t *t, json_t *given,
                      json_t *value, const char *pointer)
{
    char msg[512];
    gov_call_t call = {.value = value, .given = given, .doc = x->doc, .prev = x->prev};
    int rc = gov_func_check(t->fn, t->state, &call, msg, sizeof(msg));
    if (rc == 0)
        return;
    if (rc < 0) {
        add_finding(x, DMP_SEV_ERROR, rc, r->name, pointer, msg);
        return;
    }
    dmp_buf_t b = DMP_BUF_INIT;
    render(&b, r, pointer, value, msg);
    add_finding(x, sev, DMP_POLICY, r->name, pointer, b.data ? b.data : "");
    dmp_buf_free(&b);
}

static void apply_then(ectx_t *x, const gov_rule_t *r, int sev, const gov_then_t *t,
                       const dmp_jsonpath_node_t *nd)
{
    dmp_buf_t p = DMP_BUF_INIT;
    dmp_buf_puts(&p, nd->pointer);
    switch (t->field_kind) {
    case F_NONE:
        run_check(x, r, sev, t, nd->value, nd->value, p.data);
        break;
    case F_KEY: {
        char *key = last_token(nd->pointer);
        json_t *k = nd->pointer[0] ? json_string(key) : NULL;
        run_check(x, r, sev, t, nd->value, k, p.data);
        if (k)
            json_decref(k);
        dmp_free(key);
        break;
    }
    case F_PATH: {
        json_t *v = nd->value;
        for (size_t i = 0; i < t->n_parts; i++) {
            dmp_buf_putc(&p, '/');
            jp_pointer_put_name(&p, t->parts[i], strlen(t->parts[i]));
            if (json_is_object(v)) {
                v = json_object_get(v, t->parts[i]);
            } else if (json_is_array(v)) {
                char *end;
                unsigned long idx = strtoul(t->parts[i], &end, 10);
                v = *end || !t->parts[i][0] ? NULL : json_array_get(v, idx);
            } else {
                v = NULL;
            }
        }
        run_check(x, r, sev, t, nd->value, v, p.data);
        break;
    }
    case F_JSONPATH: {
        dmp_jsonpath_nodelist_t nl = DMP_JSONPATH_NODELIST_INIT;
        dmp_error_t e = {0};
        if (dmp_jsonpath_eval(t->jp, nd->value, &nl, &e) != DMP_OK) {
            add_finding(x, DMP_SEV_ERROR, e.code, r->name, nd->pointer, e.msg);
        } else if (nl.n == 0) {
            run_check(x, r, sev, t, nd->value, NULL, nd->pointer);
        } else {
            for (size_t i = 0; i < nl.n; i++) {
                dmp_buf_reset(&p);
                dmp_buf_puts(&p, nd->pointer);
                dmp_buf_puts(&p, nl.v[i].pointer);
                run_check(x, r, sev, t, nd->value, nl.v[i].value, p.data);
            }
        }
        dmp_jsonpath_nodelist_free(&nl);
        break;
    }
    }
    dmp_buf_free(&p);
}

static void eval_rule(ectx_t *x, const gov_rule_t *r, int sev)
{
    for (size_t g = 0; g < r->n_given; g++) {
        dmp_jsonpath_nodelist_t nl = DMP_JSONPATH_NODELIST_INIT;
        dmp_error_t e = {0};
        if (dmp_jsonpath_eval(r->given[g], x->doc, &nl, &e) != DMP_OK) {
            char msg[700];
            snprintf(msg, sizeof(msg), "given '%.100s': %s", dmp_jsonpath_text(r->given[g]), e.msg);
            add_finding(x, DMP_SEV_ERROR, e.code, r->name, "", msg);
        }
        for (size_t i = 0; i < nl.n; i++)
            for (size_t k = 0; k < r->n_then; k++)
                if (!gov_func_needs_prev(r->then[k].fn) || x->prev)
                    apply_then(x, r, sev, &r->then[k], &nl.v[i]);
        dmp_jsonpath_nodelist_free(&nl);
    }
}

static int evaluate(const dmp_policy_set_t *s, ectx_t *x, const char *domain, dmp_error_t *err)
{
    eff_t e;
    dmp_buf_t conflicts = DMP_BUF_INIT;
    effective(s, domain, NULL, NULL, &e, &conflicts);
    if (conflicts.len)
        add_finding(x, DMP_SEV_WARN, DMP_POLICY, "policy-conflict", "", conflicts.data);
    dmp_buf_free(&conflicts);
    for (size_t i = 0; i < e.n; i++)
        if (e.v[i].severity != SEV_OFF)
            eval_rule(x, e.v[i].def, e.v[i].severity);
    dmp_free(e.v);
    if (x->errors)
        return DMP_ERR(err, DMP_POLICY, "%zu policy error%s; first: %s", x->errors,
                       x->errors == 1 ? "" : "s", x->first);
    return DMP_OK;
}

int dmp_policy_evaluate_json(const dmp_policy_set_t *s, json_t *doc, const char *domain,
                             json_t *prev_doc, const char *source, const dmp_doc_locs_t *locs,
                             dmp_diags_t *diags, dmp_error_t *err)
{
    if (!doc)
        return DMP_ERR(err, DMP_INVALID, "no document to evaluate policies on");
    ectx_t x = {.doc = doc,
                .prev = prev_doc,
                .source = source ? source : "<input>",
                .locs = locs,
                .diags = diags};
    if (!domain)
        domain = json_string_value(json_object_get(doc, "domain"));
    return evaluate(s, &x, domain, err);
}

/* The document policies see: d->doc, except that a port whose schema was written
 * as a file name sees the loaded schema (so rules can look inside it). */
static json_t *policy_view(const dmp_descriptor_t *d, bool *copied)
{
    json_t *ports = json_object_get(d->doc, "outputPorts");
    *copied = false;
    for (size_t i = 0; i < d->n_resources; i++) {
        const dmp_resource_t *r = &d->resources[i];
        if (r->kind == DMP_RES_OUTPUT && r->schema && r->schema_file)
            *copied = true;
    }
    if (!*copied || !json_is_array(ports))
        return (*copied = false), d->doc;
    json_t *view = json_copy(d->doc); /* shallow: only outputPorts[i] are replaced */
    json_t *nports = json_copy(ports);
    for (size_t i = 0, k = 0; i < d->n_resources; i++) {
        const dmp_resource_t *r = &d->resources[i];
        if (r->kind != DMP_RES_OUTPUT)
            continue;
        json_t *port = json_array_get(nports, k);
        if (r->schema && r->schema_file && json_is_object(port) &&
            json_is_string(json_object_get(port, "schema"))) {
            json_t *np = json_copy(port);
            json_object_set(np, "schema", r->schema);
            json_array_set_new(nports, k, np);
        }
        k++;
    }
    json_object_set_new(view, "outputPorts", nports);
    return view;
}

int dmp_policy_evaluate(const dmp_policy_set_t *s, const dmp_descriptor_t *d,
                        const dmp_descriptor_t *prev, dmp_diags_t *diags, dmp_error_t *err)
{
    if (!d || !d->doc)
        return DMP_ERR(err, DMP_INVALID, "no descriptor to evaluate policies on");
    bool copied, pcopied = false;
    json_t *doc = policy_view(d, &copied);
    json_t *pdoc = prev ? policy_view(prev, &pcopied) : NULL;
    ectx_t x = {.doc = doc,
                .prev = pdoc,
                .source = d->source ? d->source : "<input>",
                .d = d,
                .diags = diags};
    int rc = evaluate(s, &x, d->domain, err);
    if (copied)
        json_decref(doc);
    if (pcopied)
        json_decref(pdoc);
    return rc;
}
