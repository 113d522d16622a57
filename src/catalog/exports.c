/* exports.c -- a catalogued product as AsyncAPI 3.0 and OpenAPI 3.1 documents.
 *
 * AsyncAPI: one channel per stream port, addressed by the port's channel name; each
 * message's payload is the port schema converted from JSON Schema 2020-12 to draft-07
 * (AsyncAPI's default JSON Schema dialect) and declared with a Multi Format Schema
 * Object. OpenAPI: the HTTP endpoints that ingest into, read from and subscribe to each
 * port; OpenAPI 3.1 speaks 2020-12 natively, so schemas go in as written. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_int.h"

/* ---- references
 *
 * A port schema's local references ("#/$defs/point", "#/properties/a", "#") point into
 * the schema itself, but once the schema sits inside an AsyncAPI or OpenAPI document a
 * resolver reads them against the whole document. They are rewritten into pointers that
 * hold there: the schema's own place in the document (root), or, in AsyncAPI, the
 * component each top-level definition moved to (defs). References into a subschema that
 * declares its own $id are relative to that $id and stay as written. */

typedef struct conv_ctx {
    const char *root; /* "#/components/schemas/out": where the schema now sits, or NULL */
    const char *defs; /* "#/components/schemas/out_": moved definitions' prefix, or NULL */
    int draft07;      /* converting to draft-07: path segments are renamed too */
} conv_ctx_t;

/* One JSON-pointer segment of a reference, decoded (~1 -> '/', ~0 -> '~', %XX). */
static char *ptr_decode(const char *s, size_t n)
{
    dmp_buf_t b = DMP_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '~' && i + 1 < n && (s[i + 1] == '0' || s[i + 1] == '1')) {
            dmp_buf_putc(&b, s[++i] == '0' ? '~' : '/');
        } else if (c == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
                   isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            dmp_buf_putc(&b, (char)strtol(hex, NULL, 16));
            i += 2;
        } else {
            dmp_buf_putc(&b, c);
        }
    }
    return dmp_buf_steal(&b);
}

static char *key_of(const char *s);

/* The component name a moved top-level definition takes: "<port>_<definition>". */
static char *def_key(const char *prefix, const char *name)
{
    char *k = key_of(name);
    char *r = dmp_asprintf("%s%s", prefix, k);
    dmp_free(k);
    return r;
}

static json_t *rewrite_ref(const conv_ctx_t *c, const char *ref)
{
    if (c == NULL || ref[0] != '#' || (ref[1] != '\0' && ref[1] != '/'))
        return json_string(ref); /* another document, or a plain-name fragment */
    dmp_buf_t b = DMP_BUF_INIT;
    const char *p = ref + 1; /* "" or "/seg/seg" */
    if (c->defs && (!strncmp(p, "/$defs/", 7) || !strncmp(p, "/definitions/", 13))) {
        const char *name = p + (p[1] == '$' ? 7 : 13);
        size_t n = strcspn(name, "/");
        char *dn = ptr_decode(name, n);
        char *k = def_key(c->defs, dn);
        dmp_buf_puts(&b, k);
        dmp_free(k);
        dmp_free(dn);
        p = name + n;
    } else if (c->root) {
        dmp_buf_puts(&b, c->root);
    } else {
        dmp_buf_putc(&b, '#');
    }
    /* The rest of the path, with 2020-12 keyword names turned into draft-07 ones. */
    while (*p == '/') {
        const char *seg = p + 1;
        size_t n = strcspn(seg, "/");
        if (c->draft07 && n == 5 && !strncmp(seg, "$defs", 5))
            dmp_buf_puts(&b, "/definitions");
        else if (c->draft07 && n == 11 && !strncmp(seg, "prefixItems", 11))
            dmp_buf_puts(&b, "/items");
        else
            dmp_buf_printf(&b, "/%.*s", (int)n, seg);
        p = seg + n;
    }
    char *s = dmp_buf_steal(&b);
    json_t *v = json_string(s);
    dmp_free(s);
    return v;
}

/* Keywords whose values are data, not schemas: never rewritten. */
static int is_value_kw(const char *k)
{
    return !strcmp(k, "enum") || !strcmp(k, "const") || !strcmp(k, "examples") ||
           !strcmp(k, "default") || !strcmp(k, "required") || !strcmp(k, "example");
}

/* Keywords whose values map names to schemas (the names are kept as they are). */
static int is_map_kw(const char *k)
{
    return !strcmp(k, "properties") || !strcmp(k, "patternProperties") ||
           !strcmp(k, "definitions") || !strcmp(k, "$defs") || !strcmp(k, "dependentSchemas");
}

/* A 2020-12 schema with its local references rewritten for its place in a document
 * (OpenAPI 3.1 keeps the dialect, so only "$ref"/"$dynamicRef" change). */
static json_t *relocate(const json_t *s, const conv_ctx_t *c, int depth)
{
    if (depth > 64)
        return json_object();
    if (json_is_array(s)) {
        json_t *a = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(s, i, v) json_array_append_new(a, relocate(v, c, depth + 1));
        return a;
    }
    if (!json_is_object(s))
        return json_deep_copy(s);
    if (depth > 0 && json_is_string(json_object_get(s, "$id")))
        c = NULL; /* a new base: its references are its own */
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)s, k, v)
    {
        if ((!strcmp(k, "$ref") || !strcmp(k, "$dynamicRef")) && json_is_string(v)) {
            json_object_set_new(o, k, rewrite_ref(c, json_string_value(v)));
        } else if (is_value_kw(k) || !(json_is_object(v) || json_is_array(v))) {
            json_object_set_new(o, k, json_deep_copy(v));
        } else if (is_map_kw(k) && json_is_object(v)) {
            json_t *m = json_object();
            const char *pk;
            json_t *pv;
            json_object_foreach(v, pk, pv) json_object_set_new(m, pk, relocate(pv, c, depth + 1));
            json_object_set_new(o, k, m);
        } else {
            json_object_set_new(o, k, relocate(v, c, depth + 1));
        }
    }
    return o;
}

/* ---- 2020-12 -> draft-07 */

static json_t *conv(const json_t *s, const conv_ctx_t *c, int depth);

/* A dependentRequired list in draft-07 "dependencies" form is itself; to be combined
 * with a schema it becomes {"required": [...]}. */
static json_t *dep_as_schema(json_t *d)
{
    if (json_is_array(d))
        return json_pack("{s:O}", "required", d);
    return json_incref(d);
}

/* Adds one "dependencies" entry; a key named by both dependentRequired and
 * dependentSchemas gets both, under allOf. */
static void dep_add(json_t *deps, const char *key, json_t *val)
{
    json_t *old = json_object_get(deps, key);
    if (old == NULL) {
        json_object_set_new(deps, key, val);
        return;
    }
    json_t *all = json_array();
    json_array_append_new(all, dep_as_schema(old));
    json_array_append_new(all, dep_as_schema(val));
    json_decref(val);
    json_object_set_new(deps, key, json_pack("{s:o}", "allOf", all));
}

static json_t *conv(const json_t *s, const conv_ctx_t *c, int depth)
{
    if (depth > 64)
        return json_object();
    if (json_is_array(s)) {
        json_t *a = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(s, i, v) json_array_append_new(a, conv(v, c, depth + 1));
        return a;
    }
    if (!json_is_object(s))
        return json_deep_copy(s);
    if (depth > 0 && json_is_string(json_object_get(s, "$id")))
        c = NULL; /* a new base: its references are its own */
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)s, k, v)
    {
        if (!strcmp(k, "$schema") || !strcmp(k, "$dynamicAnchor") || !strcmp(k, "$anchor") ||
            !strcmp(k, "$vocabulary") || !strcmp(k, "unevaluatedProperties") ||
            !strcmp(k, "unevaluatedItems") || !strcmp(k, "$comment"))
            continue;
        if ((!strcmp(k, "$ref") || !strcmp(k, "$dynamicRef")) && json_is_string(v)) {
            json_object_set_new(o, "$ref", rewrite_ref(c, json_string_value(v)));
        } else if (!strcmp(k, "$defs") || !strcmp(k, "definitions")) {
            if (depth == 0 && c && c->defs)
                continue; /* moved to components by the caller */
            json_t *m = json_object(), *old = json_object_get(o, "definitions");
            if (old)
                json_object_update(m, old);
            const char *pk;
            json_t *pv;
            json_object_foreach(v, pk, pv) json_object_set_new(m, pk, conv(pv, c, depth + 1));
            json_object_set_new(o, "definitions", m);
        } else if (!strcmp(k, "prefixItems")) {
            json_object_set_new(o, "items", conv(v, c, depth + 1));
            json_t *items = json_object_get(s, "items");
            if (items)
                json_object_set_new(o, "additionalItems", conv(items, c, depth + 1));
        } else if (!strcmp(k, "items") && json_object_get(s, "prefixItems")) {
            continue; /* became additionalItems */
        } else if ((!strcmp(k, "dependentRequired") || !strcmp(k, "dependentSchemas")) &&
                   json_is_object(v)) {
            json_t *deps = json_object_get(o, "dependencies");
            if (deps == NULL) {
                deps = json_object();
                json_object_set_new(o, "dependencies", deps);
            }
            const char *dk;
            json_t *dv;
            json_object_foreach(v, dk, dv) dep_add(deps, dk, conv(dv, c, depth + 1));
        } else if (!strcmp(k, "properties") || !strcmp(k, "patternProperties")) {
            /* Maps of name -> schema: keep the names, convert the schemas. */
            json_t *m = json_object();
            const char *pk;
            json_t *pv;
            json_object_foreach(v, pk, pv) json_object_set_new(m, pk, conv(pv, c, depth + 1));
            json_object_set_new(o, k, m);
        } else if (is_value_kw(k)) {
            json_object_set(o, k, v); /* values, not schemas */
        } else {
            json_object_set_new(o, k, conv(v, c, depth + 1));
        }
    }
    return o;
}

json_t *dmp_catalog_schema_draft07(const json_t *schema)
{
    if (schema == NULL || !(json_is_object(schema) || json_is_boolean(schema)))
        return json_object();
    if (json_is_true(schema))
        return json_object();
    if (json_is_false(schema))
        return json_pack("{s:{}}", "not");
    conv_ctx_t c = {.root = NULL, .defs = NULL, .draft07 = 1};
    return conv(schema, &c, 0);
}

/* ---- helpers */

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* A component/channel key: letters, digits, '.', '-' and '_' only. */
static char *key_of(const char *s)
{
    char *k = dmp_strdup(s ? s : "port");
    for (char *p = k; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            *p = '_';
    }
    return k;
}

static int load(dmp_catalog_t *cat, const char *domain, const char *name, json_t **e,
                dmp_error_t *err)
{
    return dmp_catalog_get(cat, domain, name, NULL, e, err);
}

static json_t *info_of(const json_t *e)
{
    json_t *info = json_object();
    char *title = dmp_asprintf("%s/%s", jstr(e, "domain"), jstr(e, "name"));
    json_object_set_new(info, "title", json_string(title));
    dmp_free(title);
    json_object_set(info, "version", json_object_get(e, "version"));
    if (jstr(e, "description"))
        json_object_set(info, "description", json_object_get(e, "description"));
    if (jstr(e, "owner"))
        json_object_set_new(info, "contact",
                            json_pack("{s:O}", "name", json_object_get(e, "owner")));
    return info;
}

static const char *host_of(const char *base_url)
{
    const char *p = strstr(base_url, "://");
    return p ? p + 3 : base_url;
}

/* ---- AsyncAPI 3.0 */

/* A stream port's payload schema in draft-07, for message mkey of port key. Its
 * top-level definitions move to components/schemas/<key>_<definition> (added to
 * schemas), and every local reference is rewritten to resolve in the document. */
static json_t *payload_schema(const json_t *s, const char *key, const char *mkey, json_t *schemas)
{
    if (!json_is_object(s))
        return dmp_catalog_schema_draft07(s);
    char *root = dmp_asprintf("#/components/messages/%s/payload/schema", mkey);
    char *defs = dmp_asprintf("#/components/schemas/%s_", key);
    char *ckey = dmp_asprintf("%s_", key);
    conv_ctx_t c = {.root = root, .defs = defs, .draft07 = 1};
    json_t *out = conv(s, &c, 0);
    static const char *const kws[] = {"definitions", "$defs"}; /* $defs wins a clash */
    for (size_t i = 0; i < 2; i++) {
        const char *dn;
        json_t *dv;
        json_t *m = json_object_get(s, kws[i]);
        if (!json_is_object(m))
            continue;
        json_object_foreach(m, dn, dv)
        {
            char *k = def_key(ckey, dn);
            /* A definition is converted as a schema of its own (depth 1: its own nested
             * definitions stay inside it). */
            json_t *d = json_is_object(dv) ? conv(dv, &c, 1) : dmp_catalog_schema_draft07(dv);
            json_object_set_new(schemas, k, d);
            dmp_free(k);
        }
    }
    dmp_free(ckey);
    dmp_free(defs);
    dmp_free(root);
    return out;
}

int dmp_catalog_asyncapi(dmp_catalog_t *cat, const char *domain, const char *name,
                         const dmp_catalog_export_opts_t *opts, json_t **out, dmp_error_t *err)
{
    *out = NULL;
    json_t *e = NULL;
    int rc = load(cat, domain, name, &e, err);
    if (rc != DMP_OK)
        return rc;
    const char *base = opts && opts->base_url ? opts->base_url : "http://127.0.0.1:8181";
    json_t *doc = json_object();
    json_object_set_new(doc, "asyncapi", json_string("3.0.0"));
    if (jstr(e, "id"))
        json_object_set(doc, "id", json_object_get(e, "id"));
    json_t *info = info_of(e);
    json_t *tags = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(e, "tags"), i, v)
        json_array_append_new(tags, json_pack("{s:O}", "name", v));
    if (json_array_size(tags))
        json_object_set_new(info, "tags", tags);
    else
        json_decref(tags);
    json_object_set_new(doc, "info", info);
    json_object_set_new(doc, "defaultContentType", json_string("application/json"));
    json_object_set_new(
        doc, "servers",
        json_pack("{s:{s:s,s:s,s:s}}", "dmp", "host", host_of(base), "protocol",
                  strncmp(base, "https:", 6) ? "http" : "https", "description",
                  "dmp serve: events are published with POST and read or followed over HTTP"));
    json_t *channels = json_object(), *ops = json_object(), *msgs = json_object();
    json_t *schemas = json_object();
    json_t *p;
    json_array_foreach(json_object_get(e, "ports"), i, p)
    {
        if (!dmp_str_eq(jstr(p, "type"), "stream"))
            continue;
        char *key = key_of(jstr(p, "name"));
        char *mkey = dmp_asprintf("%sEvent", key);
        char *chname = jstr(p, "channel")
                           ? dmp_strdup(jstr(p, "channel"))
                           : dmp_catalog_channel_name(jstr(e, "id"), domain, name,
                                                      jstr(p, "visibility"), jstr(p, "name"));
        json_t *msg = json_object();
        json_object_set_new(msg, "name", json_string(mkey));
        json_object_set_new(msg, "title", json_string(jstr(p, "name")));
        json_object_set_new(msg, "contentType", json_string("application/json"));
        if (jstr(p, "description"))
            json_object_set(msg, "summary", json_object_get(p, "description"));
        json_t *schema = payload_schema(json_object_get(p, "schema"), key, mkey, schemas);
        json_object_set_new(msg, "payload",
                            json_pack("{s:s,s:o}", "schemaFormat",
                                      "application/schema+json;version=draft-07", "schema",
                                      schema));
        json_object_set_new(msgs, mkey, msg);
        char *mref = dmp_asprintf("#/components/messages/%s", mkey);
        json_t *ch = json_object();
        json_object_set_new(ch, "address", json_string(chname));
        json_object_set_new(ch, "title", json_string(jstr(p, "name")));
        if (jstr(p, "description"))
            json_object_set(ch, "description", json_object_get(p, "description"));
        json_object_set_new(ch, "messages", json_pack("{s:{s:s}}", mkey, "$ref", mref));
        json_object_set_new(ch, "servers", json_pack("[{s:s}]", "$ref", "#/servers/dmp"));
        json_object_set_new(channels, key, ch);
        char *chref = dmp_asprintf("#/channels/%s", key);
        char *cmref = dmp_asprintf("#/channels/%s/messages/%s", key, mkey);
        char *okey = dmp_asprintf("receive_%s", key);
        json_object_set_new(ops, okey,
                            json_pack("{s:s,s:{s:s},s:s,s:[{s:s}]}", "action", "receive", "channel",
                                      "$ref", chref, "summary", "Consume the port's events",
                                      "messages", "$ref", cmref));
        dmp_free(okey);
        okey = dmp_asprintf("send_%s", key);
        json_object_set_new(ops, okey,
                            json_pack("{s:s,s:{s:s},s:s,s:[{s:s}]}", "action", "send", "channel",
                                      "$ref", chref, "summary",
                                      "Publish events to the port (the producing product)",
                                      "messages", "$ref", cmref));
        dmp_free(okey);
        dmp_free(chref);
        dmp_free(cmref);
        dmp_free(mref);
        dmp_free(chname);
        dmp_free(mkey);
        dmp_free(key);
    }
    json_object_set_new(doc, "channels", channels);
    json_object_set_new(doc, "operations", ops);
    json_t *comp = json_pack("{s:o}", "messages", msgs);
    if (json_object_size(schemas))
        json_object_set_new(comp, "schemas", schemas);
    else
        json_decref(schemas);
    json_object_set_new(doc, "components", comp);
    json_decref(e);
    *out = doc;
    return DMP_OK;
}

/* ---- OpenAPI 3.1 */

static json_t *problem_ref(void)
{
    return json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", "A problem (RFC 9457)", "content",
                     "application/problem+json", "schema", "$ref", "#/components/schemas/Problem");
}

/* A stream port's HTTP endpoints: it takes events (POST), serves them from an offset
 * (GET) and follows them as server-sent events. */
static void port_paths(json_t *paths, const char *domain, const char *name, const json_t *p)
{
    const char *pn = jstr(p, "name");
    char *key = key_of(pn);
    char *sref = dmp_asprintf("#/components/schemas/%s", key);
    char *base = dmp_asprintf("/v1/products/%s/%s/ports/%s", domain, name, pn);
    char *events = dmp_asprintf("%s/events", base);
    json_t *item = json_object();
    json_t *event_schema = json_pack(
        "{s:s,s:[s,s,s,s],s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s,s:s},s:{s:s}}}", "type",
        "object", "required", "specversion", "id", "source", "type", "properties", "specversion",
        "type", "string", "id", "type", "string", "source", "type", "string", "type", "type",
        "string", "time", "type", "string", "format", "date-time", "data", "$ref", sref);
    char *op = dmp_asprintf("ingest_%s", key);
    json_object_set_new(
        item, "post",
        json_pack("{s:s,s:s,s:s,s:{s:b,s:{s:{s:{s:s}},s:{s:O}}},s:{s:{s:s},s:{s:s},s:o,s:o}}",
                  "operationId", op, "summary", "Publish events to this port", "description",
                  "The body is one event's data (application/json) or a CloudEvent "
                  "(application/cloudevents+json); it is validated against the port schema.",
                  "requestBody", "required", 1, "content", "application/json", "schema", "$ref",
                  sref, "application/cloudevents+json", "schema", event_schema, "responses", "201",
                  "description", "Durably appended", "200", "description",
                  "Already appended (the same event id): nothing new was written", "400",
                  problem_ref(), "422", problem_ref()));
    dmp_free(op);
    op = dmp_asprintf("read_%s", key);
    json_object_set_new(
        item, "get",
        json_pack("{s:s,s:s,s:[{s:s,s:s,s:b,s:{s:s,s:i}},{s:s,s:s,s:b,s:{s:s,s:i,s:i}}],"
                  "s:{s:{s:s,s:{s:{s:{s:s,s:O}}}},s:o}}",
                  "operationId", op, "summary", "Read events from an offset", "parameters", "name",
                  "from", "in", "query", "required", 0, "schema", "type", "integer", "minimum", 0,
                  "name", "limit", "in", "query", "required", 0, "schema", "type", "integer",
                  "minimum", 1, "maximum", 10000, "responses", "200", "description",
                  "Events, oldest first", "content", "application/json", "schema", "type", "array",
                  "items", event_schema, "404", problem_ref()));
    dmp_free(op);
    json_object_set_new(paths, events, item);
    char *sub = dmp_asprintf("%s/subscribe", base);
    op = dmp_asprintf("subscribe_%s", key);
    json_object_set_new(
        paths, sub,
        json_pack("{s:{s:s,s:s,s:{s:{s:s,s:{s:{s:{s:s}}}},s:o}}}", "get", "operationId", op,
                  "summary", "Follow new events as server-sent events", "responses", "200",
                  "description", "A text/event-stream; each event's data is a CloudEvent",
                  "content", "text/event-stream", "schema", "type", "string", "404",
                  problem_ref()));
    dmp_free(op);
    dmp_free(sub);
    json_decref(event_schema);
    dmp_free(events);
    dmp_free(base);
    dmp_free(sref);
    dmp_free(key);
}

static json_t *problem_schema(void)
{
    return json_pack("{s:s,s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s}}}", "type",
                     "object", "properties", "type", "type", "string", "title", "type", "string",
                     "status", "type", "integer", "detail", "type", "string", "code", "type",
                     "string", "field", "type", "string", "location", "type", "string");
}

int dmp_catalog_openapi(dmp_catalog_t *cat, const char *domain, const char *name,
                        const dmp_catalog_export_opts_t *opts, json_t **out, dmp_error_t *err)
{
    *out = NULL;
    json_t *e = NULL;
    int rc = load(cat, domain, name, &e, err);
    if (rc != DMP_OK)
        return rc;
    const char *base = opts && opts->base_url ? opts->base_url : "http://127.0.0.1:8181";
    json_t *doc = json_object();
    json_object_set_new(doc, "openapi", json_string("3.1.0"));
    json_object_set_new(doc, "info", info_of(e));
    json_object_set_new(doc, "jsonSchemaDialect",
                        json_string("https://json-schema.org/draft/2020-12/schema"));
    json_object_set_new(doc, "servers", json_pack("[{s:s}]", "url", base));
    json_t *paths = json_object(), *schemas = json_object();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(e, "ports"), i, p)
    {
        char *key = key_of(jstr(p, "name"));
        json_t *s = json_object_get(p, "schema");
        json_t *copy;
        if (json_is_object(s) && !json_is_string(json_object_get(s, "$id"))) {
            /* No $id: its local references are read against this document, so they
             * are rewritten to point under components/schemas/<key>. */
            char *root = dmp_asprintf("#/components/schemas/%s", key);
            conv_ctx_t c = {.root = root, .defs = NULL, .draft07 = 0};
            copy = relocate(s, &c, 0);
            dmp_free(root);
        } else {
            copy = s ? json_deep_copy(s) : json_object();
        }
        json_object_set_new(schemas, key, copy);
        dmp_free(key);
        /* Only stream ports are served over HTTP by dmp (ingest, read, subscribe); the
         * others are read where their technology keeps them. */
        if (dmp_str_eq(jstr(p, "type"), "stream"))
            port_paths(paths, domain, name, p);
    }
    json_object_set_new(schemas, "Problem", problem_schema());
    json_object_set_new(doc, "paths", paths);
    json_object_set_new(doc, "components", json_pack("{s:o}", "schemas", schemas));
    json_decref(e);
    *out = doc;
    return DMP_OK;
}
