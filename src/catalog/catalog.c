/* catalog.c -- the backend-neutral half of the catalog: entries built from
 * descriptors, search-text extraction, FTS query quoting, input-port checks, the
 * lineage walk and the topology, DOT output, and the access-check hook. Storage is
 * behind catalog_int.h's function table; one mutex serialises calls into it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_int.h"
#include "dmp/channel.h"

struct dmp_catalog {
    dmp_catalog_be_t *be;
    pthread_mutex_t mu;
};

int dmp_catalog_open(const char *url, dmp_catalog_t **out, dmp_error_t *err)
{
    *out = NULL;
    if (url == NULL || *url == '\0')
        return DMP_ERR(err, DMP_INVALID, "catalog url is empty");
    const char *path = url;
    if (!strncmp(url, "sqlite:", 7))
        path = url + 7;
    else if (strstr(url, "://") != NULL)
        return DMP_ERR(err, DMP_UNSUPPORTED,
                       "catalog url '%s': only sqlite:PATH (or a plain path) is supported", url);
    dmp_catalog_be_t *be = NULL;
    int rc = dmp_catalog_sqlite_open(path, &be, err);
    if (rc != DMP_OK)
        return rc;
    dmp_catalog_t *cat = dmp_calloc(1, sizeof(*cat));
    cat->be = be;
    pthread_mutex_init(&cat->mu, NULL);
    *out = cat;
    return DMP_OK;
}

void dmp_catalog_close(dmp_catalog_t *cat)
{
    if (cat == NULL)
        return;
    cat->be->ops->close(cat->be);
    pthread_mutex_destroy(&cat->mu);
    dmp_free(cat);
}

/* ---- entries */

static json_t *strv_json(const dmp_strv_t *v)
{
    json_t *a = json_array();
    for (size_t i = 0; i < v->n; i++)
        json_array_append_new(a, json_string(v->v[i]));
    return a;
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v != NULL)
        json_object_set_new(o, k, json_string(v));
}

char *dmp_catalog_channel_name(const char *id, const char *domain, const char *name,
                               const char *visibility, const char *port)
{
    char out[DMP_CHANNEL_NAME_MAX + 1];
    if (dmp_channel_name(id, domain, name, visibility, port, out, NULL) == DMP_OK)
        return dmp_strdup(out);
    return dmp_asprintf("%s.%s._%s.%s", domain, name, visibility, port);
}

static json_t *entry_of(const dmp_descriptor_t *d, const char *source)
{
    json_t *e = json_object();
    set_str(e, "id", d->id);
    set_str(e, "domain", d->domain);
    set_str(e, "name", d->name);
    set_str(e, "version", d->version);
    json_object_set_new(e, "major", json_integer(d->major));
    json_object_set_new(e, "minor", json_integer(d->minor));
    json_object_set_new(e, "patch", json_integer(d->patch));
    set_str(e, "owner", d->owner);
    set_str(e, "description", d->description);
    set_str(e, "status", d->status);
    set_str(e, "environment", d->environment);
    json_object_set_new(e, "tags", strv_json(&d->tags));
    set_str(e, "source", source);
    char ts[32];
    dmp_time_format(dmp_now_ms(), ts);
    json_object_set_new(e, "registered", json_string(ts));
    json_t *ports = json_array(), *work = json_array(), *obs = json_array();
    for (size_t i = 0; i < d->n_resources; i++) {
        const dmp_resource_t *r = &d->resources[i];
        json_t *p = json_object();
        set_str(p, "name", r->name);
        set_str(p, "type", r->type);
        set_str(p, "technology", r->technology);
        if (r->kind == DMP_RES_OUTPUT) {
            json_object_set_new(p, "visibility",
                                json_string(dmp_visibility_name(dmp_resource_visibility(r))));
            set_str(p, "owner", r->owner ? r->owner : d->owner);
            set_str(p, "description", r->description);
            json_object_set_new(p, "tags", strv_json(&r->tags));
            json_object_set_new(p, "allow", strv_json(&r->allow));
            if (r->schema)
                json_object_set(p, "schema", r->schema);
            if (r->slo)
                json_object_set(p, "slo", r->slo);
            if (r->retention)
                json_object_set(p, "retention", r->retention);
            if (r->type && !strcmp(r->type, "stream")) {
                char *ch = dmp_catalog_channel_name(d->id, d->domain, d->name,
                                                    dmp_visibility_name(dmp_resource_visibility(r)),
                                                    r->name);
                json_object_set_new(p, "channel", json_string(ch));
                dmp_free(ch);
            }
            json_array_append_new(ports, p);
        } else {
            set_str(p, "description", r->description);
            json_object_set_new(p, "dependsOn", strv_json(&r->depends_on));
            json_array_append_new(r->kind == DMP_RES_WORKLOAD ? work : obs, p);
        }
    }
    json_object_set_new(e, "ports", ports);
    json_object_set_new(e, "workloads", work);
    json_object_set_new(e, "observability", obs);
    json_t *inputs = json_array();
    for (size_t i = 0; i < d->n_inputs; i++) {
        const dmp_input_port_t *in = &d->inputs[i];
        json_t *o = json_object();
        set_str(o, "name", in->name);
        set_str(o, "product", in->product);
        set_str(o, "port", in->port);
        set_str(o, "filter", in->filter);
        json_array_append_new(inputs, o);
    }
    json_object_set_new(e, "inputs", inputs);
    return e;
}

/* ---- index text */

static void add_text(dmp_buf_t *b, const char *s)
{
    if (s == NULL || *s == '\0')
        return;
    if (b->len)
        dmp_buf_putc(b, ' ');
    dmp_buf_puts(b, s);
}

static void add_unique(json_t *list, const char *s)
{
    if (s == NULL || *s == '\0')
        return;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (!strcmp(json_string_value(v), s)) return;
    json_array_append_new(list, json_string(s));
}

/* Walks a JSON Schema collecting property names and their docs, bounded in depth
 * and in the number of nodes visited. */
static void schema_walk(const json_t *s, dmp_buf_t *fields, dmp_buf_t *docs, int depth,
                        int *budget)
{
    if (!json_is_object(s) || depth > 24 || --*budget < 0)
        return;
    add_text(docs, json_string_value(json_object_get(s, "title")));
    add_text(docs, json_string_value(json_object_get(s, "description")));
    static const char *const maps[] = {"properties", "$defs", "definitions", "patternProperties",
                                       NULL};
    for (int m = 0; maps[m]; m++) {
        json_t *props = json_object_get(s, maps[m]);
        const char *k;
        json_t *v;
        json_object_foreach(props, k, v)
        {
            if (m == 0)
                add_text(fields, k);
            schema_walk(v, fields, docs, depth + 1, budget);
        }
    }
    static const char *const subs[] = {
        "items", "additionalProperties", "contains", "not", "if", "then", "else", NULL};
    for (int i = 0; subs[i]; i++)
        schema_walk(json_object_get(s, subs[i]), fields, docs, depth + 1, budget);
    static const char *const lists[] = {"allOf", "anyOf", "oneOf", "prefixItems", NULL};
    for (int i = 0; lists[i]; i++) {
        size_t j;
        json_t *v;
        json_array_foreach(json_object_get(s, lists[i]), j, v)
            schema_walk(v, fields, docs, depth + 1, budget);
    }
}

static json_t *tags_of(const json_t *o)
{
    return json_object_get(o, "tags");
}

/* One searchable unit's text (product level, or one port) as the backend stores it. */
static json_t *unit_json(const char *port, const dmp_buf_t *name, const dmp_buf_t *description,
                         const dmp_buf_t *tags, const dmp_buf_t *owner, const dmp_buf_t *ports,
                         const dmp_buf_t *fields, const dmp_buf_t *docs)
{
    const dmp_buf_t *cols[] = {name, description, tags, owner, ports, fields, docs};
    static const char *const keys[] = {"name",  "description", "tags",      "owner",
                                       "ports", "fields",      "field_docs"};
    json_t *u = json_pack("{s:s?}", "port", port);
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
        json_object_set_new(u, keys[i],
                            json_stringn(cols[i]->data ? cols[i]->data : "", cols[i]->len));
    return u;
}

static void append_buf(dmp_buf_t *to, const dmp_buf_t *from)
{
    if (from->len)
        add_text(to, from->data);
}

void dmp_catalog_index_build(const json_t *e, dmp_catalog_index_t *ix)
{
    memset(ix, 0, sizeof(*ix));
    ix->tag_list = json_array();
    ix->type_list = json_array();
    ix->units = json_array();
    const char *domain = json_string_value(json_object_get(e, "domain"));
    const char *name = json_string_value(json_object_get(e, "name"));
    const char *powner = json_string_value(json_object_get(e, "owner"));
    add_text(&ix->name, name);
    add_text(&ix->name, domain);
    add_text(&ix->description, json_string_value(json_object_get(e, "description")));
    add_text(&ix->owner, powner);
    size_t i, j;
    json_t *v, *p;
    dmp_buf_t ptags = DMP_BUF_INIT, none = DMP_BUF_INIT;
    json_array_foreach(tags_of(e), i, v)
    {
        add_unique(ix->tag_list, json_string_value(v));
        add_text(&ptags, json_string_value(v));
    }
    /* Unit 0: the product's own text, readable by anyone who may read the product. */
    json_array_append_new(ix->units, unit_json(NULL, &ix->name, &ix->description, &ptags,
                                               &ix->owner, &none, &none, &none));
    dmp_buf_free(&ptags);
    json_t *ports = json_array();
    int budget = 20000;
    json_array_foreach(json_object_get(e, "ports"), i, p)
    {
        /* Units 1..n: one per port, readable under that port's own rule. */
        dmp_buf_t u_ports = DMP_BUF_INIT, u_desc = DMP_BUF_INIT, u_tags = DMP_BUF_INIT;
        dmp_buf_t u_owner = DMP_BUF_INIT, u_fields = DMP_BUF_INIT, u_docs = DMP_BUF_INIT;
        const char *pn = json_string_value(json_object_get(p, "name"));
        const char *type = json_string_value(json_object_get(p, "type"));
        add_text(&u_ports, pn);
        add_text(&u_ports, type);
        add_unique(ix->type_list, type);
        add_text(&u_desc, json_string_value(json_object_get(p, "description")));
        const char *po = json_string_value(json_object_get(p, "owner"));
        if (po && !dmp_str_eq(po, powner))
            add_text(&u_owner, po);
        json_array_foreach(tags_of(p), j, v)
        {
            add_unique(ix->tag_list, json_string_value(v));
            add_text(&u_tags, json_string_value(v));
        }
        schema_walk(json_object_get(p, "schema"), &u_fields, &u_docs, 0, &budget);
        append_buf(&ix->ports, &u_ports);
        append_buf(&ix->description, &u_desc);
        append_buf(&ix->owner, &u_owner);
        append_buf(&ix->fields, &u_fields);
        append_buf(&ix->field_docs, &u_docs);
        json_array_append_new(ix->units, unit_json(pn, &none, &u_desc, &u_tags, &u_owner,
                                                   &u_ports, &u_fields, &u_docs));
        dmp_buf_free(&u_ports);
        dmp_buf_free(&u_desc);
        dmp_buf_free(&u_tags);
        dmp_buf_free(&u_owner);
        dmp_buf_free(&u_fields);
        dmp_buf_free(&u_docs);
        /* The summary keeps each port's access facts (owner, allow, tags) so that a
         * caller's view can be decided from the summary alone. */
        json_array_append_new(ports, json_pack("{s:s?,s:s?,s:O?,s:O?,s:O?,s:O?}", "name", pn,
                                               "type", type, "visibility",
                                               json_object_get(p, "visibility"), "owner",
                                               json_object_get(p, "owner"), "allow",
                                               json_object_get(p, "allow"), "tags",
                                               json_object_get(p, "tags")));
    }
    json_array_foreach(ix->tag_list, i, v) add_text(&ix->tags, json_string_value(v));
    ix->summary =
        json_pack("{s:O?,s:s?,s:s?,s:O?,s:O?,s:O?,s:O?,s:o}", "id", json_object_get(e, "id"),
                  "domain", domain, "name", name, "version", json_object_get(e, "version"), "owner",
                  json_object_get(e, "owner"), "description", json_object_get(e, "description"),
                  "tags", json_object_get(e, "tags"), "ports", ports);
    ix->edges = json_array();
    json_array_foreach(json_object_get(e, "inputs"), i, v) json_array_append_new(
        ix->edges, json_pack("{s:O?,s:O?,s:O?}", "input", json_object_get(v, "name"), "product",
                             json_object_get(v, "product"), "port", json_object_get(v, "port")));
}

void dmp_catalog_index_fini(dmp_catalog_index_t *ix)
{
    dmp_buf_free(&ix->name);
    dmp_buf_free(&ix->description);
    dmp_buf_free(&ix->tags);
    dmp_buf_free(&ix->owner);
    dmp_buf_free(&ix->ports);
    dmp_buf_free(&ix->fields);
    dmp_buf_free(&ix->field_docs);
    json_decref(ix->tag_list);
    json_decref(ix->type_list);
    json_decref(ix->summary);
    json_decref(ix->edges);
    json_decref(ix->units);
    memset(ix, 0, sizeof(*ix));
}

char *dmp_catalog_ref_parse(const char *ref)
{
    if (ref == NULL)
        return NULL;
    if (!strncmp(ref, "urn:dmp:", 8)) {
        const char *d = ref + 8;
        const char *c1 = strchr(d, ':');
        if (c1 == NULL || c1 == d)
            return NULL;
        const char *c2 = strchr(c1 + 1, ':');
        if (c2 == NULL || c2 == c1 + 1)
            return NULL;
        return dmp_asprintf("%.*s/%.*s", (int)(c1 - d), d, (int)(c2 - c1 - 1), c1 + 1);
    }
    const char *slash = strrchr(ref, '/');
    if (slash == NULL || slash == ref || slash[1] == '\0' || strchr(ref, ':'))
        return NULL;
    return dmp_strdup(ref);
}

/* Resolves an input's product reference to a live "domain/name" (caller frees). */
static char *resolve_ref(dmp_catalog_t *cat, const char *ref)
{
    char *id = cat->be->ops->resolve_id(cat->be, ref);
    if (id == NULL)
        id = dmp_catalog_ref_parse(ref);
    return id;
}

/* ---- writes */

int dmp_catalog_register(dmp_catalog_t *cat, const dmp_descriptor_t *desc, const char *source,
                         dmp_error_t *err)
{
    if (desc == NULL || desc->domain == NULL || desc->name == NULL || desc->version == NULL)
        return DMP_ERR(err, DMP_INVALID, "a catalogued product needs domain, name and version");
    json_t *e = entry_of(desc, source ? source : "register");
    pthread_mutex_lock(&cat->mu);
    int rc = cat->be->ops->put(cat->be, e, err);
    pthread_mutex_unlock(&cat->mu);
    json_decref(e);
    return rc;
}

int dmp_catalog_mark_deleted(dmp_catalog_t *cat, const char *domain, const char *name,
                             const char *version, dmp_error_t *err)
{
    pthread_mutex_lock(&cat->mu);
    int rc = cat->be->ops->mark_deleted(cat->be, domain, name, version, err);
    pthread_mutex_unlock(&cat->mu);
    return rc;
}

/* allow[] grants: a domain (or a parent of it), "domain/name", the URN, or the owner. */
static int granted(const json_t *allow, const dmp_descriptor_t *d)
{
    size_t i;
    json_t *v;
    json_array_foreach(allow, i, v)
    {
        const char *a = json_string_value(v);
        if (a == NULL)
            continue;
        size_t n = strlen(a);
        if (!strncmp(d->domain, a, n) && (d->domain[n] == '\0' || d->domain[n] == '.'))
            return 1;
        if (dmp_str_eq(a, d->id) || dmp_str_eq(a, d->owner))
            return 1;
        const char *slash = strrchr(a, '/');
        if (slash && !strncmp(a, d->domain, (size_t)(slash - a)) && d->domain[slash - a] == '\0' &&
            !strcmp(slash + 1, d->name))
            return 1;
    }
    return 0;
}

int dmp_catalog_check_inputs(dmp_catalog_t *cat, const dmp_descriptor_t *d, dmp_error_t *err)
{
    int rc = DMP_OK;
    for (size_t i = 0; i < d->n_inputs && rc == DMP_OK; i++) {
        const dmp_input_port_t *in = &d->inputs[i];
        pthread_mutex_lock(&cat->mu);
        char *id = resolve_ref(cat, in->product);
        json_t *e = NULL;
        dmp_error_t gerr = {0};
        if (id != NULL) {
            char *slash = strrchr(id, '/');
            *slash = '\0';
            cat->be->ops->get(cat->be, id, slash + 1, NULL, &e, &gerr);
            *slash = '/';
        }
        pthread_mutex_unlock(&cat->mu);
        if (e == NULL) {
            rc = DMP_ERR(err, DMP_NOTFOUND,
                         "input port '%s' reads product '%s', which is not in the catalog "
                         "(apply or register it first)",
                         in->name, in->product);
        } else {
            json_t *port = NULL, *p;
            size_t j;
            json_array_foreach(json_object_get(e, "ports"), j,
                               p) if (dmp_str_eq(json_string_value(json_object_get(p, "name")),
                                                 in->port)) port = p;
            if (port == NULL) {
                rc = DMP_ERR(err, DMP_NOTFOUND,
                             "input port '%s' reads port '%s' of %s, which has no such output "
                             "port",
                             in->name, in->port, id);
            } else {
                const char *vis = json_string_value(json_object_get(port, "visibility"));
                const char *owner = json_string_value(json_object_get(port, "owner"));
                int same = !strcmp(id + strlen(id) - strlen(d->name), d->name) &&
                           !strncmp(id, d->domain, strlen(d->domain)) &&
                           id[strlen(d->domain)] == '/';
                int ok =
                    same || dmp_str_eq(vis, "public") ||
                    (dmp_str_eq(vis, "protected") &&
                     (granted(json_object_get(port, "allow"), d) || dmp_str_eq(owner, d->owner))) ||
                    (dmp_str_eq(vis, "private") && owner && dmp_str_eq(owner, d->owner));
                if (!ok)
                    rc = DMP_ERR(err, DMP_DENIED,
                                 "input port '%s' may not read %s port '%s': it is %s%s%s",
                                 in->name, id, in->port, vis ? vis : "private",
                                 dmp_str_eq(vis, "protected")
                                     ? " and allow[] grants neither this product's domain, id "
                                       "nor owner"
                                     : "",
                                 dmp_str_eq(vis, "private") ? " to its owner" : "");
            }
        }
        if (rc != DMP_OK)
            dmp_error_path(err, "inputPorts[%zu].product", i);
        json_decref(e);
        dmp_free(id);
    }
    return rc;
}

/* ---- reads */

/* Tokens of [s, s+n): runs of ASCII letters and digits (lower-cased) or non-ASCII bytes,
 * the same split as FTS5's unicode61 tokenizer for ASCII text. Appends to 'out'. */
static void tokenize(const char *s, size_t n, json_t *out)
{
    size_t i = 0;
    char tok[128];
    while (i < n) {
        size_t k = 0;
        while (i < n) {
            unsigned char c = (unsigned char)s[i];
            int word = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       c >= 0x80;
            if (!word)
                break;
            if (k < sizeof(tok) - 1)
                tok[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            i++;
        }
        if (k) {
            tok[k] = '\0';
            json_array_append_new(out, json_string(tok));
        }
        while (i < n) {
            unsigned char c = (unsigned char)s[i];
            if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                c >= 0x80)
                break;
            i++;
        }
    }
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Free text -> [[token, ...], ...]: one phrase per whitespace-separated word, capped at
 * DMP_CATALOG_MAX_QUERY_BYTES and DMP_CATALOG_MAX_TERMS. A UTF-8 sequence cut by the cap
 * is dropped. */
static json_t *query_phrases(const char *text)
{
    json_t *out = json_array();
    if (text == NULL)
        return out;
    size_t len = strnlen(text, DMP_CATALOG_MAX_QUERY_BYTES);
    if (len == DMP_CATALOG_MAX_QUERY_BYTES)
        while (len && ((unsigned char)text[len - 1] & 0xC0) == 0x80)
            len--;
    if (len && (unsigned char)text[len - 1] >= 0xC0)
        len--;
    size_t i = 0;
    while (i < len && json_array_size(out) < DMP_CATALOG_MAX_TERMS) {
        while (i < len && is_space(text[i]))
            i++;
        size_t start = i;
        while (i < len && !is_space(text[i]))
            i++;
        if (i == start)
            break;
        json_t *toks = json_array();
        tokenize(text + start, i - start, toks);
        if (json_array_size(toks))
            json_array_append_new(out, toks);
        else
            json_decref(toks);
    }
    return out;
}

char *dmp_catalog_fts_query(const char *text)
{
    json_t *ph = query_phrases(text);
    if (json_array_size(ph) == 0) {
        json_decref(ph);
        return NULL;
    }
    /* Each phrase is quoted (so FTS5 sees no operators or column filters; tokens hold no
     * quote) and matched as a prefix; all phrases must match. */
    dmp_buf_t b = DMP_BUF_INIT;
    size_t i, j;
    json_t *p, *t;
    json_array_foreach(ph, i, p)
    {
        if (i)
            dmp_buf_puts(&b, " AND ");
        dmp_buf_putc(&b, '"');
        json_array_foreach(p, j, t)
        {
            if (j)
                dmp_buf_putc(&b, ' ');
            dmp_buf_puts(&b, json_string_value(t));
        }
        dmp_buf_puts(&b, "\"*");
    }
    json_decref(ph);
    return dmp_buf_steal(&b);
}

/* Does a phrase occur in 'toks' (all tokens equal, the last one as a prefix)? */
static int phrase_in(const json_t *phrase, const json_t *toks)
{
    size_t n = json_array_size(phrase), m = json_array_size(toks);
    for (size_t k = 0; n && k + n <= m; k++) {
        size_t j = 0;
        for (; j < n; j++) {
            const char *q = json_string_value(json_array_get(phrase, j));
            const char *w = json_string_value(json_array_get(toks, k + j));
            if (j + 1 < n ? strcmp(q, w) != 0 : strncmp(q, w, strlen(q)) != 0)
                break;
        }
        if (j == n)
            return 1;
    }
    return 0;
}

static int any_phrase_in(const json_t *phrases, const json_t *toks)
{
    size_t i;
    json_t *p;
    json_array_foreach(phrases, i, p) if (phrase_in(p, toks)) return 1;
    return 0;
}

/* Why a result matched: "name", "description", "owner", "schema-docs", or for tags,
 * ports and schema fields the word that matched ("schema:customer_id"). */
static json_t *matched_of(const json_t *phrases, const json_t *texts)
{
    static const struct {
        const char *col, *label;
        int per_word;
    } cols[] = {
        {"name", "name", 0},
        {"description", "description", 0},
        {"tags", "tags", 1},
        {"owner", "owner", 0},
        {"ports", "ports", 1},
        {"fields", "schema", 1},
        {"field_docs", "schema-docs", 0},
    };
    json_t *out = json_array();
    for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++) {
        const char *text = json_string_value(json_object_get(texts, cols[c].col));
        if (text == NULL || *text == '\0')
            continue;
        int found = 0;
        if (cols[c].per_word) {
            const char *p = text;
            while (*p && json_array_size(out) < 16) {
                while (is_space(*p))
                    p++;
                const char *e = p;
                while (*e && !is_space(*e))
                    e++;
                if (e == p)
                    break;
                json_t *toks = json_array();
                tokenize(p, (size_t)(e - p), toks);
                if (any_phrase_in(phrases, toks)) {
                    char *m = dmp_asprintf("%s:%.*s", cols[c].label, (int)(e - p), p);
                    add_unique(out, m);
                    dmp_free(m);
                    found = 1;
                }
                json_decref(toks);
                p = e;
            }
        }
        if (!found) {
            json_t *toks = json_array();
            tokenize(text, strlen(text), toks);
            if (any_phrase_in(phrases, toks))
                add_unique(out, cols[c].label);
            json_decref(toks);
        }
    }
    return out;
}

/* Search reads at most this many pages of the ranking to fill one page for a caller
 * who may not read every hit. */
#define SEARCH_ROUNDS 5

static int has_string(const json_t *list, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (dmp_str_eq(json_string_value(v), s)) return 1;
    return 0;
}

/* Decides one search row for a caller with per-port access (q->port_readable). Returns
 * 1 when it counts: the product is readable, 'tag' and 'type' hold for the product or a
 * readable port, and every phrase occurs in text the caller may read. Then the row's
 * summary keeps only the readable ports and *texts is the readable text, column by
 * column (for "matched"). */
static int row_for_caller(const dmp_catalog_query_t *q, const dmp_catalog_search_args_t *a,
                          const json_t *phrases, json_t *row, json_t **texts)
{
    *texts = NULL;
    json_t *s = json_object_get(row, "summary");
    if (!q->port_readable(q->port_ud, s, NULL))
        return 0;
    json_t *kept = json_array(), *readable = json_object();
    int tag_ok = a->tag == NULL || has_string(json_object_get(s, "tags"), a->tag);
    int type_ok = a->type == NULL;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(s, "ports"), i, p)
    {
        const char *pn = json_string_value(json_object_get(p, "name"));
        if (pn == NULL || !q->port_readable(q->port_ud, s, pn))
            continue;
        json_array_append(kept, p);
        json_object_set_new(readable, pn, json_true());
        if (a->tag && has_string(json_object_get(p, "tags"), a->tag))
            tag_ok = 1;
        if (a->type && dmp_str_eq(json_string_value(json_object_get(p, "type")), a->type))
            type_ok = 1;
    }
    int ok = tag_ok && type_ok;
    if (ok && phrases != NULL) {
        static const char *const cols[] = {"name",  "description", "tags",      "owner",
                                           "ports", "fields",      "field_docs"};
        enum { NCOLS = sizeof(cols) / sizeof(cols[0]) };
        dmp_buf_t text[NCOLS];
        memset(text, 0, sizeof(text));
        json_t *u;
        json_array_foreach(json_object_get(row, "units"), i, u)
        {
            const char *port = json_string_value(json_object_get(u, "port"));
            if (port != NULL && json_object_get(readable, port) == NULL)
                continue;
            for (size_t c = 0; c < NCOLS; c++)
                add_text(&text[c], json_string_value(json_object_get(u, cols[c])));
        }
        json_t *toks[NCOLS];
        *texts = json_object();
        for (size_t c = 0; c < NCOLS; c++) {
            toks[c] = json_array();
            tokenize(text[c].data ? text[c].data : "", text[c].len, toks[c]);
            json_object_set_new(*texts, cols[c], json_string(text[c].data ? text[c].data : ""));
            dmp_buf_free(&text[c]);
        }
        /* All phrases must occur, each in some readable column (as FTS5 matched them
         * over the whole product). */
        json_t *ph;
        json_array_foreach(phrases, i, ph)
        {
            int found = 0;
            for (size_t c = 0; c < NCOLS && !found; c++)
                found = phrase_in(ph, toks[c]);
            if (!found) {
                ok = 0;
                break;
            }
        }
        for (size_t c = 0; c < NCOLS; c++)
            json_decref(toks[c]);
    }
    if (ok)
        json_object_set(s, "ports", kept);
    json_decref(kept);
    json_decref(readable);
    if (!ok) {
        json_decref(*texts);
        *texts = NULL;
    }
    return ok;
}

int dmp_catalog_search(dmp_catalog_t *cat, const dmp_catalog_query_t *q,
                       json_t **out, dmp_error_t *err)
{
    *out = NULL;
    dmp_catalog_search_args_t a = {0};
    a.domain = q->domain && *q->domain ? q->domain : NULL;
    a.tag = q->tag && *q->tag ? q->tag : NULL;
    a.owner = q->owner && *q->owner ? q->owner : NULL;
    a.type = q->type && *q->type ? q->type : NULL;
    a.limit = q->limit <= 0                     ? 20
              : q->limit > DMP_CATALOG_MAX_PAGE ? DMP_CATALOG_MAX_PAGE
                                                : q->limit;
    if (q->cursor && *q->cursor) {
        char *end;
        a.offset = strtol(q->cursor, &end, 10);
        if (*end != '\0' || a.offset < 0 || a.offset > 1000000)
            return DMP_ERR(err, DMP_INVALID,
                           "cursor '%.40s' is not one this server gave out (use the reply's "
                           "\"next\")",
                           q->cursor);
    }
    char *match = dmp_catalog_fts_query(q->q);
    json_t *phrases = match ? query_phrases(q->q) : NULL;
    if (match == NULL && q->q && *q->q) {
        /* Only punctuation: nothing can match. */
        *out = json_pack("{s:[],s:n}", "results", "next");
        return DMP_OK;
    }
    a.match = match;
    a.with_units = q->port_readable != NULL && match != NULL;
    json_t *results = json_array();
    long pos = a.offset, next = -1;
    int rc = DMP_OK;
    for (int round = 0; round < SEARCH_ROUNDS; round++) {
        json_t *rows = NULL;
        int more = 0, full = 0;
        a.offset = pos;
        pthread_mutex_lock(&cat->mu);
        rc = cat->be->ops->search(cat->be, &a, &rows, &more, err);
        pthread_mutex_unlock(&cat->mu);
        if (rc != DMP_OK)
            break;
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r)
        {
            if ((int)json_array_size(results) == a.limit) {
                full = 1;
                break;
            }
            pos++;
            json_t *s = json_object_get(r, "summary");
            json_t *texts = NULL;
            if (s == NULL)
                continue;
            if (q->port_readable != NULL && !row_for_caller(q, &a, phrases, r, &texts))
                continue;
            json_t *o = json_deep_copy(s);
            json_object_set(o, "score", json_object_get(r, "score"));
            json_object_set_new(o, "matched",
                                phrases ? matched_of(phrases, texts ? texts
                                                                    : json_object_get(r, "texts"))
                                        : json_array());
            json_decref(texts);
            json_array_append_new(results, o);
        }
        json_decref(rows);
        if (full || (more && (int)json_array_size(results) == a.limit) ||
            (more && round == SEARCH_ROUNDS - 1)) {
            next = pos;
            break;
        }
        if (!more)
            break;
    }
    dmp_free(match);
    json_decref(phrases);
    if (rc != DMP_OK) {
        json_decref(results);
        return rc;
    }
    json_t *nx = json_null();
    if (next >= 0) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%ld", next);
        nx = json_string(buf);
    }
    *out = json_pack("{s:o,s:o}", "results", results, "next", nx);
    return DMP_OK;
}

int dmp_catalog_get(dmp_catalog_t *cat, const char *domain, const char *name,
                    const char *version, json_t **out, dmp_error_t *err)
{
    *out = NULL;
    json_t *e = NULL, *vers = NULL;
    pthread_mutex_lock(&cat->mu);
    int rc = cat->be->ops->get(cat->be, domain, name, version, &e, err);
    if (rc == DMP_OK)
        rc = cat->be->ops->versions(cat->be, domain, name, &vers, err);
    pthread_mutex_unlock(&cat->mu);
    if (rc == DMP_OK && e == NULL)
        rc = DMP_ERR(err, DMP_NOTFOUND, "product %s/%s is not in the catalog", domain, name);
    if (rc != DMP_OK) {
        json_decref(e);
        json_decref(vers);
        return rc;
    }
    json_object_set_new(e, "versions", vers);
    *out = e;
    return DMP_OK;
}

int dmp_catalog_current(dmp_catalog_t *cat, const char *domain, const char *name, json_t **out,
                        dmp_error_t *err)
{
    *out = NULL;
    pthread_mutex_lock(&cat->mu);
    int rc = cat->be->ops->get(cat->be, domain, name, NULL, out, err);
    pthread_mutex_unlock(&cat->mu);
    return rc;
}

int dmp_catalog_versions(dmp_catalog_t *cat, const char *domain,
                         const char *name, json_t **out, dmp_error_t *err)
{
    json_t *e = NULL;
    int rc = dmp_catalog_get(cat, domain, name, NULL, &e, err);
    *out = NULL;
    if (rc != DMP_OK) {
        /* A product whose every version was deleted still has a history. */
        json_t *vers = NULL;
        dmp_error_t e2 = {0};
        pthread_mutex_lock(&cat->mu);
        int r2 = cat->be->ops->versions(cat->be, domain, name, &vers, &e2);
        pthread_mutex_unlock(&cat->mu);
        if (r2 == DMP_OK && json_array_size(vers) > 0) {
            *out = vers;
            return DMP_OK;
        }
        json_decref(vers);
        return rc;
    }
    *out = json_incref(json_object_get(e, "versions"));
    json_decref(e);
    return DMP_OK;
}

/* ---- graph */

typedef struct walk {
    json_t *seen;  /* id -> node */
    json_t *nodes; /* array, in visit order */
    json_t *edges;
    json_t *edge_keys; /* "from|port|to|input" -> true */
    int truncated;
} walk_t;

static json_t *node_for(dmp_catalog_t *cat, const char *id, int level)
{
    json_t *s = cat->be->ops->summary(cat->be, id); /* a new reference we own */
    json_t *n;
    if (s != NULL) {
        n = s;
        s = NULL;
    } else {
        /* Unknown or invisible upstream: shown as a placeholder with no details. */
        n = json_object();
        const char *slash = strrchr(id, '/');
        if (slash) {
            json_object_set_new(n, "domain", json_stringn(id, (size_t)(slash - id)));
            json_object_set_new(n, "name", json_string(slash + 1));
        }
        json_object_set_new(n, "missing", json_true());
    }
    json_decref(s);
    json_object_set_new(n, "key", json_string(id));
    json_object_set_new(n, "level", json_integer(level));
    return n;
}

static void add_edge(walk_t *w, json_t *e)
{
    char *key = dmp_asprintf("%s|%s|%s|%s", json_string_value(json_object_get(e, "from")),
                             json_string_value(json_object_get(e, "port")),
                             json_string_value(json_object_get(e, "to")),
                             json_string_value(json_object_get(e, "input")));
    if (json_object_get(w->edge_keys, key) == NULL) {
        json_object_set_new(w->edge_keys, key, json_true());
        json_array_append(w->edges, e);
    }
    dmp_free(key);
}

/* Breadth-first from 'root' in one direction; level is negative upstream. */
static int walk_dir(dmp_catalog_t *cat, walk_t *w, const char *root,
                    dmp_lineage_dir_t dir, int depth, dmp_error_t *err)
{
    json_t *frontier = json_pack("[s]", root);
    json_t *visited = json_pack("{s:b}", root, 1);
    int rc = DMP_OK;
    for (int level = 1; level <= depth && json_array_size(frontier) && rc == DMP_OK; level++) {
        json_t *next = json_array();
        size_t i;
        json_t *f;
        json_array_foreach(frontier, i, f)
        {
            json_t *edges = NULL;
            rc = cat->be->ops->edges(cat->be, json_string_value(f), dir, &edges, err);
            if (rc != DMP_OK)
                break;
            size_t j;
            json_t *e;
            json_array_foreach(edges, j, e)
            {
                const char *other =
                    json_string_value(json_object_get(e, dir == DMP_LINEAGE_UP ? "from" : "to"));
                if (other == NULL)
                    continue;
                if (json_object_get(w->seen, other) == NULL) {
                    if (json_array_size(w->nodes) >= DMP_CATALOG_MAX_NODES) {
                        w->truncated = 1;
                        continue;
                    }
                    json_t *n =
                        node_for(cat, other, dir == DMP_LINEAGE_UP ? -level : level);
                    json_object_set(w->seen, other, n);
                    json_array_append_new(w->nodes, n);
                }
                add_edge(w, e);
                if (json_object_get(visited, other) == NULL) {
                    json_object_set_new(visited, other, json_true());
                    json_array_append_new(next, json_string(other));
                }
            }
            json_decref(edges);
        }
        json_decref(frontier);
        frontier = next;
    }
    if (json_array_size(frontier) > 0 && rc == DMP_OK) {
        /* Stopped by depth: say so when something lies beyond. */
        size_t i;
        json_t *f;
        json_array_foreach(frontier, i, f)
        {
            json_t *edges = NULL;
            if (cat->be->ops->edges(cat->be, json_string_value(f), dir, &edges, NULL) == DMP_OK &&
                json_array_size(edges) > 0)
                w->truncated = 1;
            json_decref(edges);
            if (w->truncated)
                break;
        }
    }
    json_decref(frontier);
    json_decref(visited);
    return rc;
}

int dmp_catalog_lineage(dmp_catalog_t *cat, const char *domain,
                        const char *name, dmp_lineage_dir_t dir, int depth, json_t **out,
                        dmp_error_t *err)
{
    *out = NULL;
    if (depth <= 0)
        depth = 3;
    if (depth > DMP_CATALOG_MAX_DEPTH)
        depth = DMP_CATALOG_MAX_DEPTH;
    char *root = dmp_asprintf("%s/%s", domain, name);
    pthread_mutex_lock(&cat->mu);
    json_t *s = cat->be->ops->summary(cat->be, root);
    int rc = DMP_OK;
    walk_t w = {json_object(), json_array(), json_array(), json_object(), 0};
    if (s == NULL || s == NULL) {
        rc = DMP_ERR(err, DMP_NOTFOUND, "product %s is not in the catalog", root);
    } else {
        json_t *n = json_deep_copy(s);
        json_object_set_new(n, "key", json_string(root));
        json_object_set_new(n, "level", json_integer(0));
        json_object_set(w.seen, root, n);
        json_array_append_new(w.nodes, n);
        if (dir & DMP_LINEAGE_UP)
            rc = walk_dir(cat, &w, root, DMP_LINEAGE_UP, depth, err);
        if (rc == DMP_OK && (dir & DMP_LINEAGE_DOWN))
            rc = walk_dir(cat, &w, root, DMP_LINEAGE_DOWN, depth, err);
    }
    pthread_mutex_unlock(&cat->mu);
    json_decref(s);
    if (rc == DMP_OK) {
        /* An edge back into a node already shown closes a cycle. */
        int cyclic = 0;
        size_t i;
        json_t *e;
        json_array_foreach(w.edges, i, e)
        {
            json_t *from = json_object_get(w.seen, json_string_value(json_object_get(e, "from")));
            json_t *to = json_object_get(w.seen, json_string_value(json_object_get(e, "to")));
            if (from && to &&
                json_integer_value(json_object_get(from, "level")) >=
                    json_integer_value(json_object_get(to, "level")))
                cyclic = 1;
        }
        const char *dn = dir == DMP_LINEAGE_UP ? "up" : dir == DMP_LINEAGE_DOWN ? "down" : "both";
        *out = json_pack("{s:s,s:s,s:i,s:O,s:O,s:b,s:b}", "root", root, "direction", dn, "depth",
                         depth, "nodes", w.nodes, "edges", w.edges, "cyclic", cyclic, "truncated",
                         w.truncated);
    }
    json_decref(w.seen);
    json_decref(w.nodes);
    json_decref(w.edges);
    json_decref(w.edge_keys);
    dmp_free(root);
    return rc;
}

int dmp_catalog_topology(dmp_catalog_t *cat, json_t **out, dmp_error_t *err)
{
    *out = NULL;
    json_t *sums = NULL, *edges = NULL;
    pthread_mutex_lock(&cat->mu);
    int rc = cat->be->ops->all(cat->be, &sums, &edges, err);
    pthread_mutex_unlock(&cat->mu);
    if (rc != DMP_OK)
        return rc;
    json_t *nodes = json_array(), *domains = json_object(), *shown = json_object();
    size_t i;
    json_t *s;
    json_array_foreach(sums, i, s)
    {
        if (s == NULL)
            continue;
        const char *d = json_string_value(json_object_get(s, "domain"));
        char *key = dmp_asprintf("%s/%s", d, json_string_value(json_object_get(s, "name")));
        json_t *n = json_deep_copy(s);
        json_object_set_new(n, "key", json_string(key));
        json_array_append_new(nodes, n);
        json_object_set_new(shown, key, json_true());
        json_t *list = json_object_get(domains, d);
        if (list == NULL) {
            list = json_array();
            json_object_set_new(domains, d, list);
        }
        json_array_append_new(list, json_string(key));
        dmp_free(key);
    }
    json_t *vis_edges = json_array();
    json_array_foreach(edges, i, s)
    {
        /* An edge is shown when its consumer is; an unseen producer is a placeholder. */
        const char *to = json_string_value(json_object_get(s, "to"));
        const char *from = json_string_value(json_object_get(s, "from"));
        if (!to || !from || !json_object_get(shown, to))
            continue;
        if (!json_object_get(shown, from)) {
            json_t *n = node_for(cat, from, 0);
            json_object_set_new(n, "missing", json_true());
            json_array_append_new(nodes, n);
            json_object_set_new(shown, from, json_true());
        }
        json_array_append(vis_edges, s);
    }
    json_t *dl = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(domains, k, v)
        json_array_append_new(dl, json_pack("{s:s,s:O}", "name", k, "products", v));
    *out = json_pack("{s:o,s:o,s:o}", "domains", dl, "nodes", nodes, "edges", vis_edges);
    json_decref(domains);
    json_decref(shown);
    json_decref(sums);
    json_decref(edges);
    return DMP_OK;
}

static void dot_id(dmp_buf_t *b, const char *s)
{
    dmp_buf_putc(b, '"');
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            dmp_buf_putc(b, '\\');
        if ((unsigned char)*s >= 0x20)
            dmp_buf_putc(b, *s);
    }
    dmp_buf_putc(b, '"');
}

char *dmp_catalog_lineage_dot(const json_t *g)
{
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_buf_puts(&b, "digraph lineage {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
    const char *root = json_string_value(json_object_get(g, "root"));
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(g, "nodes"), i, n)
    {
        const char *key = json_string_value(json_object_get(n, "key"));
        const char *ver = json_string_value(json_object_get(n, "version"));
        dmp_buf_puts(&b, "  ");
        dot_id(&b, key);
        dmp_buf_puts(&b, " [label=");
        char *label = dmp_asprintf("%s%s%s", key, ver ? "\\n" : "", ver ? ver : "");
        dmp_buf_putc(&b, '"');
        for (const char *p = label; *p; p++) {
            if (*p == '"')
                dmp_buf_putc(&b, '\\');
            dmp_buf_putc(&b, *p);
        }
        dmp_buf_putc(&b, '"');
        dmp_free(label);
        if (dmp_str_eq(key, root))
            dmp_buf_puts(&b, ", penwidth=2");
        if (json_is_true(json_object_get(n, "missing")))
            dmp_buf_puts(&b, ", style=dashed");
        dmp_buf_puts(&b, "];\n");
    }
    json_array_foreach(json_object_get(g, "edges"), i, n)
    {
        dmp_buf_puts(&b, "  ");
        dot_id(&b, json_string_value(json_object_get(n, "from")));
        dmp_buf_puts(&b, " -> ");
        dot_id(&b, json_string_value(json_object_get(n, "to")));
        dmp_buf_puts(&b, " [label=");
        dot_id(&b, json_string_value(json_object_get(n, "port")));
        dmp_buf_puts(&b, "];\n");
    }
    dmp_buf_puts(&b, "}\n");
    return dmp_buf_steal(&b);
}
