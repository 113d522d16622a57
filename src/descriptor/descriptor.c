/* descriptor.c -- the data product descriptor: checks a loaded document against the
 * rules of DESIGN section 4 and builds the typed model (dmp_descriptor_t).
 *
 * Every problem becomes one diag with file:line:col, the dotted path and the JSON
 * pointer; checking goes on after an error so one run reports them all. Parsing and
 * positions are load.c's job; this file only reads the JSON tree. It must not do
 * provisioning checks (dependsOn cycles belong to src/provision).
 */
#include "descriptor/descriptor_int.h"

#include <ctype.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_LEN 128
#define DOMAIN_MAX_LEN 255

typedef struct ctx {
    dmp_descriptor_t *d;
    const dmp_descriptor_opts_t *opts;
    dmp_descriptor_limits_t lim;
    dmp_diags_t *diags;
    dmp_error_t *err;
    int rc; /* the first error's code */
} ctx_t;

/* ---- small helpers ---- */

const char *dmp_visibility_name(dmp_visibility_t v)
{
    switch (v) {
    case DMP_VIS_PUBLIC:
        return "public";
    case DMP_VIS_PROTECTED:
        return "protected";
    case DMP_VIS_PRIVATE:
        return "private";
    default:
        return "";
    }
}

const char *dmp_resource_kind_name(dmp_resource_kind_t k)
{
    switch (k) {
    case DMP_RES_OUTPUT:
        return "outputPorts";
    case DMP_RES_WORKLOAD:
        return "workloads";
    case DMP_RES_OBSERVABILITY:
        return "observability";
    }
    return "";
}

dmp_visibility_t dmp_resource_visibility(const dmp_resource_t *r)
{
    if (r->visibility != DMP_VIS_UNSET)
        return r->visibility;
    return r->allow.n > 0 ? DMP_VIS_PROTECTED : DMP_VIS_PRIVATE;
}

/* Appends one pointer segment, escaped. Caller frees. */
static char *ptr_join(const char *base, const char *key)
{
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_buf_puts(&b, base);
    dmp_buf_putc(&b, '/');
    for (const char *p = key; *p; p++) {
        if (*p == '~')
            dmp_buf_puts(&b, "~0");
        else if (*p == '/')
            dmp_buf_puts(&b, "~1");
        else
            dmp_buf_putc(&b, *p);
    }
    return dmp_buf_steal(&b);
}

static char *ptr_index(const char *base, size_t i)
{
    return dmp_asprintf("%s/%zu", base, i);
}

static void vreport(ctx_t *c, dmp_severity_t sev, int code, const char *rule, const char *pointer,
                    const char *fmt, va_list ap)
{
    dmp_buf_t msg = DMP_BUF_INIT;
    dmp_buf_vprintf(&msg, fmt, ap);
    char *path = dmp_pointer_to_path(pointer);
    dmp_loc_t loc = dmp_doc_locs_get(c->d->locs, pointer);
    const char *src = c->d->source;
    dmp_diags_add(c->diags, sev, code, rule, src, loc, path, pointer, "%s", msg.data);
    if (sev == DMP_SEV_ERROR && c->rc == DMP_OK) {
        c->rc = DMP_ERR(c->err, code, "%s", msg.data);
        if (loc.line > 0)
            dmp_error_where(c->err, "%s:%d:%d", src, loc.line, loc.col);
        else
            dmp_error_where(c->err, "%s", src);
        dmp_error_path(c->err, "%s", path);
    }
    dmp_free(path);
    dmp_buf_free(&msg);
}

static void report(ctx_t *c, const char *rule, const char *pointer, const char *fmt, ...)
    DMP_PRINTF(4, 5);
static void report(ctx_t *c, const char *rule, const char *pointer, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(c, DMP_SEV_ERROR, DMP_INVALID, rule, pointer, fmt, ap);
    va_end(ap);
}

void dmp_descriptor_diag(const dmp_descriptor_t *d, dmp_diags_t *diags, dmp_severity_t sev,
                         int code, const char *rule, const char *pointer, const char *fmt, ...)
{
    ctx_t c = {0};
    c.d = (dmp_descriptor_t *)d;
    c.diags = diags;
    c.rc = -1; /* never touches an error struct */
    va_list ap;
    va_start(ap, fmt);
    vreport(&c, sev, code, rule, pointer, fmt, ap);
    va_end(ap);
}

/* "a list", "the number 1.5", ... for type errors. */
static char *describe(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return dmp_strdup("a mapping");
    case JSON_ARRAY:
        return dmp_strdup("a list");
    case JSON_STRING:
        return dmp_asprintf("the string '%.60s'", json_string_value(v));
    case JSON_INTEGER:
        return dmp_asprintf("the number %lld", (long long)json_integer_value(v));
    case JSON_REAL: {
        double r = json_real_value(v);
        if (r > -1e15 && r < 1e15 && r == (double)(long long)r)
            return dmp_asprintf("the number %.1f", r);
        return dmp_asprintf("the number %g", r);
    }
    case JSON_TRUE:
    case JSON_FALSE:
        return dmp_strdup("a boolean");
    default:
        return dmp_strdup("null");
    }
}

static void type_error(ctx_t *c, const char *ptr, const json_t *v, const char *want)
{
    char *got = describe(v);
    report(c, "type", ptr, "expected %s, got %s", want, got);
    dmp_free(got);
}

static void free_strv(dmp_strv_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        dmp_free(s->v[i]);
    dmp_free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* The candidate to suggest for an unknown word, or NULL: the nearest by edit distance
 * when it is close (at most 2 edits, or a third of the word), else the first candidate
 * the word is a prefix of ("desc" -> description). */
static const char *suggest(const char *word, const char *const *cands, size_t n)
{
    size_t wl = strlen(word);
    const char *best = NULL;
    int best_d = 1000;
    for (size_t i = 0; i < n; i++) {
        if (cands[i] == NULL)
            continue;
        int d = dmp_str_distance(word, cands[i]);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    if (best && (size_t)best_d < wl && (best_d <= 2 || (size_t)best_d * 3 <= wl))
        return best;
    for (size_t i = 0; wl >= 3 && i < n; i++)
        if (cands[i] && strncasecmp(cands[i], word, wl) == 0)
            return cands[i];
    return NULL;
}

/* ---- field tables and unknown-field checks ---- */

static const char *const top_fields[] = {
    "name",   "domain",      "version",     "id",         "owner",     "description",   "tags",
    "status", "environment", "outputPorts", "inputPorts", "workloads", "observability", "specific",
};
static const char *const res_fields[] = {
    "name",  "type",      "resourceType", "technology", "visibility", "owner",     "description",
    "allow", "dependsOn", "specific",     "schema",     "slo",        "retention", "tags",
};
static const char *const input_fields[] = {"name", "product", "port", "filter"};
static const char *const env_fields[] = {"name", "specific"};
static const char *const retention_fields[] = {"time", "size"};

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static void check_fields(ctx_t *c, const json_t *obj, const char *ptr, const char *const *fields,
                         size_t n)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        int known = 0;
        for (size_t i = 0; i < n && !known; i++)
            known = !strcmp(k, fields[i]);
        if (known || !strncmp(k, "x-", 2))
            continue;
        const char *best = suggest(k, fields, n);
        char *fp = ptr_join(ptr, k);
        if (best) {
            report(c, "unknown-field", fp, "unknown field '%.80s' (did you mean '%s'?)", k, best);
        } else {
            dmp_buf_t list = DMP_BUF_INIT;
            for (size_t i = 0; i < n; i++)
                dmp_buf_printf(&list, "%s%s", i ? ", " : "", fields[i]);
            report(c, "unknown-field", fp,
                   "unknown field '%.80s'; known fields are %s (or an x-* extension)", k,
                   list.data);
            dmp_buf_free(&list);
        }
        dmp_free(fp);
    }
}

/* ---- typed getters: each reports its own errors and returns NULL/0 when absent ---- */

/* A string field. Absent or null gives NULL (and an error when required). */
static const char *get_str(ctx_t *c, const json_t *obj, const char *ptr, const char *key,
                           int required)
{
    json_t *v = json_object_get(obj, key);
    char *fp = ptr_join(ptr, key);
    const char *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (required)
            report(c, "required", fp, "required field '%s' is missing", key);
    } else if (!json_is_string(v)) {
        type_error(c, fp, v, "a string");
    } else if (required && json_string_length(v) == 0) {
        report(c, "required", fp, "'%s' must not be empty", key);
    } else {
        out = json_string_value(v);
    }
    dmp_free(fp);
    return out;
}

static char *dup_str(ctx_t *c, const json_t *obj, const char *ptr, const char *key, int required)
{
    return dmp_strdup(get_str(c, obj, ptr, key, required));
}

/* A list of non-empty strings; a missing or null field is an empty list. */
static void get_strv(ctx_t *c, const json_t *obj, const char *ptr, const char *key, dmp_strv_t *out)
{
    json_t *v = json_object_get(obj, key);
    out->v = NULL;
    out->n = 0;
    if (v == NULL || json_is_null(v))
        return;
    char *fp = ptr_join(ptr, key);
    if (!json_is_array(v)) {
        type_error(c, fp, v, "a list of strings");
        dmp_free(fp);
        return;
    }
    out->v = dmp_calloc(json_array_size(v) + 1, sizeof(char *));
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char *ep = ptr_index(fp, i);
        if (!json_is_string(e))
            type_error(c, ep, e, "a string");
        else if (json_string_length(e) == 0)
            report(c, "type", ep, "entries of '%s' must not be empty", key);
        else
            out->v[out->n++] = dmp_strdup(json_string_value(e));
        dmp_free(ep);
    }
    dmp_free(fp);
}

/* An object field; returns a new reference (an empty object when absent and 'empty'). */
static json_t *get_obj(ctx_t *c, const json_t *obj, const char *ptr, const char *key, int empty)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return empty ? json_object() : NULL;
    if (!json_is_object(v)) {
        char *fp = ptr_join(ptr, key);
        type_error(c, fp, v, "a mapping");
        dmp_free(fp);
        return empty ? json_object() : NULL;
    }
    return json_incref(v);
}

/* ---- value rules ---- */

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN || !isalnum((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
            return 0;
    return 1;
}

static int valid_domain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > DOMAIN_MAX_LEN)
        return 0;
    int at_start = 1;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '.') {
            if (at_start)
                return 0;
            at_start = 1;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
            at_start = 0;
        } else if ((ch == '_' || ch == '-') && !at_start) {
            continue;
        } else {
            return 0;
        }
    }
    return !at_start;
}

static int semver_num(const char **p, int *out)
{
    const char *s = *p;
    long v = 0;
    int n = 0;
    while (isdigit((unsigned char)s[n])) {
        v = v * 10 + (s[n] - '0');
        if (v > INT_MAX)
            return -1;
        n++;
    }
    if (n == 0 || (n > 1 && s[0] == '0'))
        return -1;
    *out = (int)v;
    *p = s + n;
    return 0;
}

static int semver_idents(const char *s)
{
    /* dot-separated, non-empty [0-9A-Za-z-] identifiers up to the end or a '+' */
    size_t run = 0;
    for (; *s && *s != '+'; s++) {
        if (*s == '.') {
            if (run == 0)
                return -1;
            run = 0;
        } else if (isalnum((unsigned char)*s) || *s == '-') {
            run++;
        } else {
            return -1;
        }
    }
    return run == 0 ? -1 : 0;
}

/* Parses MAJOR.MINOR.PATCH[-pre][+build]. */
static int parse_semver(const char *s, int *ma, int *mi, int *pa)
{
    const char *p = s;
    if (semver_num(&p, ma) || *p++ != '.' || semver_num(&p, mi) || *p++ != '.' ||
        semver_num(&p, pa))
        return -1;
    if (*p == '-') {
        if (semver_idents(p + 1))
            return -1;
        p = strchr(p, '+') ? strchr(p, '+') : p + strlen(p);
    }
    if (*p == '+') {
        if (semver_idents(p + 1))
            return -1;
        return strchr(p + 1, '+') ? -1 : 0;
    }
    return *p == '\0' ? 0 : -1;
}

/* ---- schema files ---- */

static int has_dotdot(const char *rel)
{
    const char *p = rel;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 1;
        p += n;
        while (*p == '/')
            p++;
    }
    return 0;
}

static json_t *load_schema_file(ctx_t *c, const char *rel, const char *ptr)
{
    const char *base = c->opts->base_dir;
    if (base == NULL) {
        report(c, "schema-file", ptr,
               "schema file '%.200s' cannot be read here (no base directory, e.g. a descriptor "
               "sent over HTTP); put the schema inline",
               rel);
        return NULL;
    }
    if (rel[0] == '\0' || rel[0] == '/' || has_dotdot(rel)) {
        report(c, "schema-file", ptr,
               "schema file '%.200s' must be a relative path inside the descriptor's "
               "directory (no leading '/', no '..')",
               rel);
        return NULL;
    }
    char *full = dmp_asprintf("%s/%s", base, rel);
    char *rbase = realpath(base, NULL);
    char *rfull = realpath(full, NULL);
    json_t *out = NULL;
    if (rfull == NULL || rbase == NULL) {
        report(c, "schema-file", ptr, "cannot read schema file '%.200s': no such file", rel);
        goto done;
    }
    size_t bl = strlen(rbase);
    if (strncmp(rfull, rbase, bl) != 0 || (rfull[bl] != '/' && strcmp(rbase, "/") != 0)) {
        report(c, "schema-file", ptr,
               "schema file '%.200s' resolves outside the descriptor's directory", rel);
        goto done;
    }
    char *buf = NULL;
    size_t len = 0;
    dmp_error_t e = {0};
    if (dmp_read_file(rfull, c->lim.max_bytes, &buf, &len, &e) != DMP_OK) {
        report(c, "schema-file", ptr, "cannot read schema file '%.200s': %s", rel, e.msg);
        goto done;
    }
    size_t rl = strlen(rel);
    dmp_doc_opts_t o = {0};
    o.format = rl > 5 && !strcmp(rel + rl - 5, ".json") ? DMP_FMT_JSON : DMP_FMT_AUTO;
    o.source = full;
    o.limits = c->lim;
    size_t before = c->diags ? c->diags->n : 0;
    int rc = dmp_doc_load(buf, len, &o, &out, NULL, c->diags, &e);
    dmp_free(buf);
    if (rc != DMP_OK) {
        /* the loader's diags name the schema file and its line:col; point here too */
        dmp_loc_t at =
            c->diags && c->diags->n > before ? c->diags->v[before].loc : (dmp_loc_t){0, 0};
        if (at.line > 0)
            report(c, "schema-file", ptr,
                   "schema file '%.200s' is not valid (line %d, column %d: %s)", rel, at.line,
                   at.col, e.msg);
        else
            report(c, "schema-file", ptr, "schema file '%.200s' is not valid: %s", rel, e.msg);
        out = NULL;
    } else if (!json_is_object(out)) {
        type_error(c, ptr, out, "a schema file holding a mapping");
        json_decref(out);
        out = NULL;
    }
done:
    free(rbase);
    free(rfull);
    dmp_free(full);
    return out;
}

/* ---- resources ---- */

static void parse_retention(ctx_t *c, dmp_resource_t *r, const json_t *obj, const char *ptr)
{
    json_t *ret = json_object_get(obj, "retention");
    if (ret == NULL || json_is_null(ret))
        return;
    char *rp = ptr_join(ptr, "retention");
    if (!json_is_object(ret)) {
        type_error(c, rp, ret, "a mapping with time and/or size");
        dmp_free(rp);
        return;
    }
    r->retention = json_incref(ret);
    check_fields(c, ret, rp, retention_fields, NFIELDS(retention_fields));
    json_t *t = json_object_get(ret, "time");
    char *tp = ptr_join(rp, "time");
    if (json_is_integer(t) && json_integer_value(t) >= 0) {
        r->retention_ms = json_integer_value(t);
    } else if (json_is_string(t)) {
        if (dmp_parse_duration_ms(json_string_value(t), &r->retention_ms) != DMP_OK)
            report(c, "retention", tp,
                   "'%.60s' is not a duration; write a whole number and a unit: ms, s, m, h, "
                   "d or w (e.g. 7d, 24h, 30m), or a number of ms",
                   json_string_value(t));
    } else if (t != NULL && !json_is_null(t)) {
        type_error(c, tp, t, "a duration such as 7d, or a number of ms (0 or more)");
    }
    dmp_free(tp);
    json_t *s = json_object_get(ret, "size");
    char *sp = ptr_join(rp, "size");
    if (json_is_integer(s) && json_integer_value(s) >= 0) {
        r->retention_bytes = json_integer_value(s);
    } else if (json_is_string(s)) {
        if (dmp_parse_size_bytes(json_string_value(s), &r->retention_bytes) != DMP_OK)
            report(c, "retention", sp,
                   "'%.60s' is not a size; write a whole number and a unit: B, KB, MB, GB, TB, "
                   "KiB, MiB, GiB or TiB (e.g. 1GiB), or a number of bytes",
                   json_string_value(s));
    } else if (s != NULL && !json_is_null(s)) {
        type_error(c, sp, s, "a size such as 1GiB, or a number of bytes (0 or more)");
    }
    dmp_free(sp);
    dmp_free(rp);
}

/* Replaces resourceType by type in the document, keeping the key's position. */
static void fold_resource_type(ctx_t *c, json_t *obj, const char *ptr)
{
    json_t *v = json_object_get(obj, "resourceType");
    if (v == NULL || json_object_get(obj, "type") != NULL)
        return;
    char *ap = ptr_join(ptr, "resourceType");
    dmp_loc_t kl = dmp_doc_locs_get(c->d->locs, ap);
    dmp_loc_t vl = dmp_doc_locs_get_value(c->d->locs, ap);
    dmp_free(ap);
    /* find the resource's entry: walk the two segments of ptr ("/kind/i") */
    char *tmp = dmp_strdup(ptr + 1);
    char *slash = strchr(tmp, '/');
    if (slash) {
        *slash = '\0';
        int64_t k = dmp_locs_child(c->d->locs, 0, tmp, strlen(tmp));
        int64_t e =
            k >= 0 ? dmp_locs_child(c->d->locs, (uint32_t)k, slash + 1, strlen(slash + 1)) : -1;
        if (e >= 0)
            dmp_locs_add(c->d->locs, (uint32_t)e, "type", 4, kl, vl);
    }
    dmp_free(tmp);
    json_object_set(obj, "type", v);
    json_object_del(obj, "resourceType");
}

static void parse_resource(ctx_t *c, dmp_resource_t *r, dmp_resource_kind_t kind, json_t *obj,
                           const char *ptr)
{
    r->kind = kind;
    snprintf(r->pointer, sizeof(r->pointer), "%s", ptr);
    r->loc = dmp_doc_locs_get(c->d->locs, ptr);
    check_fields(c, obj, ptr, res_fields, NFIELDS(res_fields));

    r->name = dup_str(c, obj, ptr, "name", 1);
    if (r->name && !valid_name(r->name)) {
        char *fp = ptr_join(ptr, "name");
        report(c, "name", fp,
               "'%.80s' is not a valid name: use letters, digits, '_', '-' or '.', starting "
               "with a letter or digit, at most %d characters",
               r->name, NAME_MAX_LEN);
        dmp_free(fp);
    }
    json_t *t1 = json_object_get(obj, "type"), *t2 = json_object_get(obj, "resourceType");
    if (t1 && t2) {
        char *fp = ptr_join(ptr, "resourceType");
        report(c, "alias", fp,
               "'type' and 'resourceType' are both given; resourceType is an alias of type, "
               "keep one");
        dmp_free(fp);
    }
    r->type = dup_str(c, obj, ptr, t1 || !t2 ? "type" : "resourceType", 1);
    r->technology = dup_str(c, obj, ptr, "technology", 0);
    r->owner = dup_str(c, obj, ptr, "owner", 0);
    r->description = dup_str(c, obj, ptr, "description", 0);

    const char *vis = get_str(c, obj, ptr, "visibility", 0);
    if (vis) {
        if (!strcmp(vis, "public"))
            r->visibility = DMP_VIS_PUBLIC;
        else if (!strcmp(vis, "protected"))
            r->visibility = DMP_VIS_PROTECTED;
        else if (!strcmp(vis, "private"))
            r->visibility = DMP_VIS_PRIVATE;
        else {
            char *fp = ptr_join(ptr, "visibility");
            report(c, "enum", fp, "'%.80s' is not one of public, protected, private", vis);
            dmp_free(fp);
        }
    }
    get_strv(c, obj, ptr, "allow", &r->allow);
    get_strv(c, obj, ptr, "dependsOn", &r->depends_on);
    get_strv(c, obj, ptr, "tags", &r->tags);
    if (r->visibility == DMP_VIS_PRIVATE && r->allow.n > 0) {
        char *fp = ptr_join(ptr, "allow");
        report(c, "visibility-allow", fp,
               "allow lists %zu reader%s but visibility is private (owner only); use "
               "protected to share with them",
               r->allow.n, r->allow.n == 1 ? "" : "s");
        dmp_free(fp);
    }
    r->specific = get_obj(c, obj, ptr, "specific", 1);
    r->slo = get_obj(c, obj, ptr, "slo", 0);

    json_t *sch = json_object_get(obj, "schema");
    if (sch && !json_is_null(sch)) {
        char *sp = ptr_join(ptr, "schema");
        if (json_is_object(sch)) {
            r->schema = json_incref(sch);
        } else if (json_is_string(sch)) {
            r->schema_file = dmp_strdup(json_string_value(sch));
            r->schema = load_schema_file(c, r->schema_file, sp);
        } else {
            type_error(c, sp, sch, "a mapping (an inline schema) or a string (a relative file)");
        }
        dmp_free(sp);
    }
    parse_retention(c, r, obj, ptr);
    fold_resource_type(c, obj, ptr);
    r->raw = json_incref(obj);
}

static void parse_resources(ctx_t *c, json_t *doc, size_t *declared)
{
    static const struct {
        const char *key;
        dmp_resource_kind_t kind;
    } kinds[] = {
        {"outputPorts", DMP_RES_OUTPUT},
        {"workloads", DMP_RES_WORKLOAD},
        {"observability", DMP_RES_OBSERVABILITY},
    };
    dmp_descriptor_t *d = c->d;
    size_t total = 0;
    for (size_t k = 0; k < NFIELDS(kinds); k++) {
        json_t *arr = json_object_get(doc, kinds[k].key);
        if (json_is_array(arr))
            total += json_array_size(arr);
    }
    d->resources = dmp_calloc(total + 1, sizeof(*d->resources));
    *declared = total;
    for (size_t k = 0; k < NFIELDS(kinds); k++) {
        json_t *arr = json_object_get(doc, kinds[k].key);
        char *kp = ptr_join("", kinds[k].key);
        if (arr != NULL && !json_is_null(arr) && !json_is_array(arr)) {
            type_error(c, kp, arr, "a list of resources");
        } else if (arr != NULL) {
            size_t i;
            json_t *e;
            json_array_foreach(arr, i, e)
            {
                char *ep = ptr_index(kp, i);
                if (!json_is_object(e)) {
                    type_error(c, ep, e, "a mapping (one resource)");
                } else {
                    dmp_resource_t *r = &d->resources[d->n_resources++];
                    r->specific = NULL;
                    parse_resource(c, r, kinds[k].kind, e, ep);
                }
                dmp_free(ep);
            }
        }
        dmp_free(kp);
    }
}

static const dmp_resource_t *find_resource(const dmp_descriptor_t *d, const char *name, size_t upto)
{
    for (size_t i = 0; i < upto; i++)
        if (d->resources[i].name && !strcmp(d->resources[i].name, name))
            return &d->resources[i];
    return NULL;
}

static void check_references(ctx_t *c)
{
    dmp_descriptor_t *d = c->d;
    for (size_t i = 0; i < d->n_resources; i++) {
        dmp_resource_t *r = &d->resources[i];
        if (r->name == NULL)
            continue;
        const dmp_resource_t *prev = find_resource(d, r->name, i);
        if (prev) {
            char *fp = ptr_join(r->pointer, "name");
            char *pp = dmp_pointer_to_path(prev->pointer);
            report(c, "duplicate-resource", fp,
                   "duplicated resource name '%.80s' (already used by %s)", r->name, pp);
            dmp_free(pp);
            dmp_free(fp);
        }
    }
    for (size_t i = 0; i < d->n_resources; i++) {
        dmp_resource_t *r = &d->resources[i];
        char *dp = ptr_join(r->pointer, "dependsOn");
        for (size_t j = 0; j < r->depends_on.n; j++) {
            const char *dep = r->depends_on.v[j];
            char *ep = ptr_index(dp, j);
            int dup = 0;
            for (size_t k = 0; k < j && !dup; k++)
                dup = !strcmp(r->depends_on.v[k], dep);
            if (dup) {
                report(c, "depends-on", ep, "'%.80s' is listed twice", dep);
            } else if (r->name && !strcmp(dep, r->name)) {
                report(c, "depends-on", ep, "a resource cannot depend on itself ('%.80s')", dep);
            } else if (find_resource(d, dep, d->n_resources) == NULL) {
                const char **names = dmp_calloc(d->n_resources + 1, sizeof(char *));
                for (size_t k = 0; k < d->n_resources; k++)
                    names[k] = d->resources[k].name;
                const char *best = suggest(dep, names, d->n_resources);
                dmp_free(names);
                if (best)
                    report(c, "depends-on", ep,
                           "'%.80s' is not a resource of this product (did you mean '%s'?)", dep,
                           best);
                else
                    report(c, "depends-on", ep, "'%.80s' is not a resource of this product", dep);
            }
            dmp_free(ep);
        }
        dmp_free(dp);
    }
}

/* ---- input ports ---- */

static int valid_product_ref(const char *s)
{
    if (!strncmp(s, "urn:", 4))
        return s[4] != '\0' && strcspn(s, " \t\r\n") == strlen(s);
    const char *slash = strchr(s, '/');
    if (slash == NULL || strchr(slash + 1, '/'))
        return 0;
    char *dom = dmp_strndup(s, (size_t)(slash - s));
    int ok = valid_domain(dom) && valid_name(slash + 1);
    dmp_free(dom);
    return ok;
}

static void parse_inputs(ctx_t *c, json_t *doc)
{
    dmp_descriptor_t *d = c->d;
    json_t *arr = json_object_get(doc, "inputPorts");
    if (arr == NULL || json_is_null(arr))
        return;
    if (!json_is_array(arr)) {
        type_error(c, "/inputPorts", arr, "a list of input ports");
        return;
    }
    d->inputs = dmp_calloc(json_array_size(arr) + 1, sizeof(*d->inputs));
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        char *ep = ptr_index("/inputPorts", i);
        if (!json_is_object(e)) {
            type_error(c, ep, e, "a mapping (one input port)");
            dmp_free(ep);
            continue;
        }
        dmp_input_port_t *in = &d->inputs[d->n_inputs++];
        snprintf(in->pointer, sizeof(in->pointer), "%s", ep);
        in->loc = dmp_doc_locs_get(d->locs, ep);
        check_fields(c, e, ep, input_fields, NFIELDS(input_fields));
        in->name = dup_str(c, e, ep, "name", 1);
        in->product = dup_str(c, e, ep, "product", 1);
        in->port = dup_str(c, e, ep, "port", 1);
        in->filter = dup_str(c, e, ep, "filter", 0);
        if (in->name && !valid_name(in->name)) {
            char *fp = ptr_join(ep, "name");
            report(c, "name", fp, "'%.80s' is not a valid name", in->name);
            dmp_free(fp);
        }
        if (in->name) {
            for (size_t k = 0; k + 1 < d->n_inputs; k++) {
                if (d->inputs[k].name && !strcmp(d->inputs[k].name, in->name)) {
                    char *fp = ptr_join(ep, "name");
                    report(c, "duplicate-input", fp,
                           "duplicated input port name '%.80s' (already used by inputPorts[%zu])",
                           in->name, k);
                    dmp_free(fp);
                    break;
                }
            }
        }
        if (in->product && !valid_product_ref(in->product)) {
            char *fp = ptr_join(ep, "product");
            report(c, "product-ref", fp,
                   "'%.80s' is not a product reference; write domain/name "
                   "(london.hammersmith/orders) or the product's URN",
                   in->product);
            dmp_free(fp);
        }
        dmp_free(ep);
    }
}

/* ---- the document ---- */

static int descriptor_parse(const char *buf, size_t len, const dmp_descriptor_opts_t *opts,
                            dmp_descriptor_t **out, dmp_diags_t *diags, dmp_error_t *err);

static void parse_environment(ctx_t *c, json_t *doc)
{
    dmp_descriptor_t *d = c->d;
    json_t *env = json_object_get(doc, "environment");
    if (env == NULL || json_is_null(env)) {
        d->environment = dmp_strdup("default");
    } else if (json_is_string(env)) {
        d->environment = dmp_strdup(json_string_value(env));
        if (!valid_name(d->environment))
            report(c, "name", "/environment", "'%.80s' is not a valid environment name",
                   d->environment);
    } else if (json_is_object(env)) {
        check_fields(c, env, "/environment", env_fields, NFIELDS(env_fields));
        d->environment = dup_str(c, env, "/environment", "name", 1);
        if (d->environment && !valid_name(d->environment))
            report(c, "name", "/environment/name", "'%.80s' is not a valid environment name",
                   d->environment);
        d->environment_specific = get_obj(c, env, "/environment", "specific", 1);
    } else {
        type_error(c, "/environment", env, "a string or a mapping with name and specific");
    }
    if (d->environment == NULL)
        d->environment = dmp_strdup("default");
    if (d->environment_specific == NULL)
        d->environment_specific = json_object();
}

static void parse_top(ctx_t *c, json_t *doc)
{
    dmp_descriptor_t *d = c->d;
    check_fields(c, doc, "", top_fields, NFIELDS(top_fields));
    d->name = dup_str(c, doc, "", "name", 1);
    if (d->name && !valid_name(d->name))
        report(c, "name", "/name",
               "'%.80s' is not a valid name: use letters, digits, '_', '-' or '.', starting "
               "with a letter or digit, at most %d characters",
               d->name, NAME_MAX_LEN);
    d->domain = dup_str(c, doc, "", "domain", 1);
    if (d->domain && !valid_domain(d->domain))
        report(c, "domain", "/domain",
               "'%.80s' is not a domain: write a dot path of lower-case names "
               "(letters, digits, '_' or '-'), e.g. london.hammersmith.olympia",
               d->domain);
    json_t *ver = json_object_get(doc, "version");
    if (json_is_number(ver)) {
        char *got = describe(ver);
        report(c, "semver", "/version",
               "expected a semver string such as 1.0.0, got %s; write all three parts "
               "(MAJOR.MINOR.PATCH) or quote it",
               got);
        dmp_free(got);
    } else {
        d->version = dup_str(c, doc, "", "version", 1);
        if (d->version && parse_semver(d->version, &d->major, &d->minor, &d->patch))
            report(c, "semver", "/version",
                   "'%.80s' is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.0.0)", d->version);
    }
    const char *id = get_str(c, doc, "", "id", 0);
    if (id) {
        if (strncmp(id, "urn:", 4) || id[4] == '\0' || strcspn(id, " \t\r\n") != strlen(id))
            report(c, "id", "/id", "'%.80s' is not a URN (urn:<namespace>:...)", id);
        d->id = dmp_strdup(id);
    } else if (d->name && d->domain) {
        d->id = dmp_asprintf("urn:dmp:%s:%s:%d", d->domain, d->name, d->major);
    }
    d->owner = dup_str(c, doc, "", "owner", 0);
    d->description = dup_str(c, doc, "", "description", 0);
    d->status = dup_str(c, doc, "", "status", 0);
    get_strv(c, doc, "", "tags", &d->tags);
    json_t *spec = get_obj(c, doc, "", "specific", 0);
    json_decref(spec);
    parse_environment(c, doc);
}

static void resource_free(dmp_resource_t *r)
{
    dmp_free(r->name);
    dmp_free(r->type);
    dmp_free(r->technology);
    dmp_free(r->owner);
    dmp_free(r->description);
    free_strv(&r->allow);
    free_strv(&r->depends_on);
    free_strv(&r->tags);
    json_decref(r->specific);
    json_decref(r->schema);
    dmp_free(r->schema_file);
    json_decref(r->slo);
    json_decref(r->retention);
    json_decref(r->raw);
}

void dmp_descriptor_free(dmp_descriptor_t *d)
{
    if (d == NULL)
        return;
    dmp_free(d->name);
    dmp_free(d->domain);
    dmp_free(d->version);
    dmp_free(d->id);
    dmp_free(d->owner);
    dmp_free(d->description);
    dmp_free(d->status);
    free_strv(&d->tags);
    dmp_free(d->environment);
    json_decref(d->environment_specific);
    for (size_t i = 0; i < d->n_resources; i++)
        resource_free(&d->resources[i]);
    dmp_free(d->resources);
    for (size_t i = 0; i < d->n_inputs; i++) {
        dmp_free(d->inputs[i].name);
        dmp_free(d->inputs[i].product);
        dmp_free(d->inputs[i].port);
        dmp_free(d->inputs[i].filter);
    }
    dmp_free(d->inputs);
    json_decref(d->doc);
    dmp_free(d->source);
    dmp_doc_locs_free(d->locs);
    dmp_free(d);
}

typedef struct sortent {
    dmp_diag_t dg;
    size_t seq;
} sortent_t;

static int diag_cmp(const void *a, const void *b)
{
    const sortent_t *x = a, *y = b;
    int f = strcmp(x->dg.file, y->dg.file);
    if (f)
        return f;
    if (x->dg.loc.line != y->dg.loc.line)
        return x->dg.loc.line < y->dg.loc.line ? -1 : 1;
    if (x->dg.loc.col != y->dg.loc.col)
        return x->dg.loc.col < y->dg.loc.col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Orders the findings added since 'from' by file and position (stable). */
static void sort_diags(dmp_diags_t *diags, size_t from)
{
    if (diags == NULL || diags->n - from < 2)
        return;
    size_t n = diags->n - from;
    sortent_t *v = dmp_malloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        v[i].dg = diags->v[from + i];
        v[i].seq = i;
    }
    qsort(v, n, sizeof(*v), diag_cmp);
    for (size_t i = 0; i < n; i++)
        diags->v[from + i] = v[i].dg;
    dmp_free(v);
}

int dmp_descriptor_parse(const char *buf, size_t len, const dmp_descriptor_opts_t *opts,
                         dmp_descriptor_t **out, dmp_diags_t *diags, dmp_error_t *err)
{
    size_t before = diags ? diags->n : 0;
    int rc = descriptor_parse(buf, len, opts, out, diags, err);
    sort_diags(diags, before);
    /* 'err' names the first problem in the file, like the first line a reader sees */
    for (size_t i = before; rc != DMP_OK && err && diags && i < diags->n; i++) {
        const dmp_diag_t *dg = &diags->v[i];
        if (dg->severity != DMP_SEV_ERROR)
            continue;
        dmp_error_set(err, dg->code, __FILE__, __LINE__, "%s", dg->msg);
        if (dg->loc.line > 0)
            dmp_error_where(err, "%s:%d:%d", dg->file, dg->loc.line, dg->loc.col);
        else
            dmp_error_where(err, "%s", dg->file);
        dmp_error_path(err, "%s", dg->path);
        break;
    }
    return rc;
}

static int descriptor_parse(const char *buf, size_t len, const dmp_descriptor_opts_t *opts,
                            dmp_descriptor_t **out, dmp_diags_t *diags, dmp_error_t *err)
{
    dmp_descriptor_opts_t defaults = {0};
    if (opts == NULL)
        opts = &defaults;
    *out = NULL;
    ctx_t c = {0};
    c.opts = opts;
    c.diags = diags;
    c.err = err;
    c.rc = DMP_OK;
    dmp_limits_resolve(&opts->limits, &c.lim);

    dmp_doc_opts_t lo = {0};
    lo.format = opts->format;
    lo.source = opts->source ? opts->source : "<input>";
    lo.limits = c.lim;
    json_t *doc = NULL;
    dmp_doc_locs_t *locs = NULL;
    int rc = dmp_doc_load(buf, len, &lo, &doc, &locs, diags, err);
    if (rc != DMP_OK)
        return rc;

    dmp_descriptor_t *d = dmp_calloc(1, sizeof(*d));
    d->doc = doc;
    d->locs = locs;
    d->source = dmp_strdup(lo.source);
    c.d = d;
    if (!json_is_object(doc)) {
        type_error(&c, "", doc, "a mapping (name, domain, version, outputPorts, ...)");
        dmp_descriptor_free(d);
        return c.rc;
    }
    parse_top(&c, doc);
    size_t declared = 0;
    parse_resources(&c, doc, &declared);
    parse_inputs(&c, doc);
    check_references(&c);
    if (declared == 0)
        report(&c, "required", "",
               "a data product needs at least one resource in outputPorts, workloads or "
               "observability");
    if (c.rc != DMP_OK) {
        dmp_descriptor_free(d);
        return c.rc;
    }
    *out = d;
    return DMP_OK;
}

int dmp_descriptor_load(const char *path, dmp_descriptor_t **out, dmp_diags_t *diags,
                        dmp_error_t *err)
{
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    dmp_error_t e = {0};
    int rc = dmp_read_file(path, DMP_DOC_DEFAULT_MAX_BYTES, &buf, &len, &e);
    if (rc != DMP_OK) {
        int code = rc == DMP_LIMIT ? DMP_LIMIT : rc;
        const char *rule = rc == DMP_LIMIT ? "limit" : "io";
        dmp_diags_add(diags, DMP_SEV_ERROR, code, rule, path, (dmp_loc_t){0, 0}, "", "", "%s",
                      e.msg);
        if (err)
            *err = e;
        return rc;
    }
    char *pcopy = dmp_strdup(path);
    const char *dir = dirname(pcopy);
    size_t pl = strlen(path);
    dmp_descriptor_opts_t o = {0};
    if (pl > 5 && !strcmp(path + pl - 5, ".json"))
        o.format = DMP_FMT_JSON;
    else if ((pl > 5 && !strcmp(path + pl - 5, ".yaml")) ||
             (pl > 4 && !strcmp(path + pl - 4, ".yml")))
        o.format = DMP_FMT_YAML;
    o.source = path;
    o.base_dir = dir;
    rc = dmp_descriptor_parse(buf, len, &o, out, diags, err);
    dmp_free(pcopy);
    dmp_free(buf);
    return rc;
}

dmp_loc_t dmp_descriptor_loc(const dmp_descriptor_t *d, const char *pointer)
{
    return d ? dmp_doc_locs_get(d->locs, pointer) : (dmp_loc_t){0, 0};
}

const dmp_resource_t *dmp_descriptor_resource(const dmp_descriptor_t *d, const char *name)
{
    if (d == NULL || name == NULL)
        return NULL;
    return find_resource(d, name, d->n_resources);
}
