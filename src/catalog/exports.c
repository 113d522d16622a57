/* exports.c -- a catalogued product as AsyncAPI 3.0 and OpenAPI 3.1 documents.
 *
 * AsyncAPI: one channel per stream port, addressed by the port's channel name; each
 * message's payload is the port schema converted from JSON Schema 2020-12 to draft-07
 * (AsyncAPI's default JSON Schema dialect) and declared with a Multi Format Schema
 * Object. OpenAPI: the HTTP endpoints that ingest into, read from and subscribe to each
 * port; OpenAPI 3.1 speaks 2020-12 natively, so schemas go in as written. */
#include <string.h>

#include "catalog/catalog_int.h"

/* ---- 2020-12 -> draft-07 */

static json_t *conv(const json_t *s, int depth);

static json_t *conv_ref(const char *ref)
{
    if (!strncmp(ref, "#/$defs/", 8)) {
        char *r = dmp_asprintf("#/definitions/%s", ref + 8);
        json_t *v = json_string(r);
        dmp_free(r);
        return v;
    }
    return json_string(ref);
}

static json_t *conv(const json_t *s, int depth)
{
    if (depth > 64)
        return json_object();
    if (json_is_array(s)) {
        json_t *a = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(s, i, v) json_array_append_new(a, conv(v, depth + 1));
        return a;
    }
    if (!json_is_object(s))
        return json_deep_copy(s);
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)s, k, v)
    {
        if (!strcmp(k, "$schema") || !strcmp(k, "$dynamicAnchor") || !strcmp(k, "$anchor") ||
            !strcmp(k, "$vocabulary") || !strcmp(k, "unevaluatedProperties") ||
            !strcmp(k, "unevaluatedItems") || !strcmp(k, "$comment"))
            continue;
        if (!strcmp(k, "$ref") && json_is_string(v)) {
            json_object_set_new(o, "$ref", conv_ref(json_string_value(v)));
        } else if (!strcmp(k, "$dynamicRef") && json_is_string(v)) {
            json_object_set_new(o, "$ref", conv_ref(json_string_value(v)));
        } else if (!strcmp(k, "$defs")) {
            json_object_set_new(o, "definitions", conv(v, depth + 1));
        } else if (!strcmp(k, "prefixItems")) {
            json_object_set_new(o, "items", conv(v, depth + 1));
            json_t *items = json_object_get(s, "items");
            if (items)
                json_object_set_new(o, "additionalItems", conv(items, depth + 1));
        } else if (!strcmp(k, "items") && json_object_get(s, "prefixItems")) {
            continue; /* became additionalItems */
        } else if (!strcmp(k, "dependentRequired") || !strcmp(k, "dependentSchemas")) {
            json_t *deps = json_object_get(o, "dependencies");
            if (deps == NULL) {
                deps = json_object();
                json_object_set_new(o, "dependencies", deps);
            }
            const char *dk;
            json_t *dv;
            json_object_foreach(v, dk, dv) json_object_set_new(deps, dk, conv(dv, depth + 1));
        } else if (!strcmp(k, "properties") || !strcmp(k, "patternProperties") ||
                   !strcmp(k, "definitions")) {
            /* Maps of name -> schema: keep the names, convert the schemas. */
            json_t *m = json_object();
            const char *pk;
            json_t *pv;
            json_object_foreach(v, pk, pv) json_object_set_new(m, pk, conv(pv, depth + 1));
            json_object_set_new(o, k, m);
        } else if (!strcmp(k, "enum") || !strcmp(k, "const") || !strcmp(k, "examples") ||
                   !strcmp(k, "default") || !strcmp(k, "required")) {
            json_object_set(o, k, v); /* values, not schemas */
        } else {
            json_object_set_new(o, k, conv(v, depth + 1));
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
    return conv(schema, 0);
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

static int load(dmp_catalog_t *cat, const char *caller, const char *domain, const char *name,
                json_t **e, dmp_error_t *err)
{
    return dmp_catalog_get(cat, caller, domain, name, NULL, e, err);
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

int dmp_catalog_asyncapi(dmp_catalog_t *cat, const char *caller, const char *domain,
                         const char *name, const dmp_catalog_export_opts_t *opts, json_t **out,
                         dmp_error_t *err)
{
    *out = NULL;
    json_t *e = NULL;
    int rc = load(cat, caller, domain, name, &e, err);
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
        json_t *schema = dmp_catalog_schema_draft07(json_object_get(p, "schema"));
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
    json_object_set_new(doc, "components", json_pack("{s:o}", "messages", msgs));
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

/* The port's HTTP endpoints: stream ports take events (POST), serve them from an
 * offset (GET) and follow them as server-sent events; other ports are read. */
static void port_paths(json_t *paths, const char *domain, const char *name, const json_t *p)
{
    const char *pn = jstr(p, "name");
    char *key = key_of(pn);
    char *sref = dmp_asprintf("#/components/schemas/%s", key);
    int stream = dmp_str_eq(jstr(p, "type"), "stream");
    char *base = dmp_asprintf("/v1/products/%s/%s/ports/%s", domain, name, pn);
    char *events = dmp_asprintf("%s/events", base);
    json_t *item = json_object();
    json_t *event_schema = json_pack(
        "{s:s,s:[s,s,s,s],s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s,s:s},s:{s:s}}}", "type",
        "object", "required", "specversion", "id", "source", "type", "properties", "specversion",
        "type", "string", "id", "type", "string", "source", "type", "string", "type", "type",
        "string", "time", "type", "string", "format", "date-time", "data", "$ref", sref);
    char *op;
    if (stream) {
        op = dmp_asprintf("ingest_%s", key);
        json_object_set_new(
            item, "post",
            json_pack("{s:s,s:s,s:s,s:{s:b,s:{s:{s:{s:s}},s:{s:O}}},s:{s:{s:s},s:o,s:o}}",
                      "operationId", op, "summary", "Publish events to this port", "description",
                      "The body is one event's data (application/json) or a CloudEvent "
                      "(application/cloudevents+json); it is validated against the port schema.",
                      "requestBody", "required", 1, "content", "application/json", "schema", "$ref",
                      sref, "application/cloudevents+json", "schema", event_schema, "responses",
                      "202", "description", "Accepted and durably appended", "400", problem_ref(),
                      "422", problem_ref()));
        dmp_free(op);
    }
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
    if (stream) {
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
    }
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

int dmp_catalog_openapi(dmp_catalog_t *cat, const char *caller, const char *domain,
                        const char *name, const dmp_catalog_export_opts_t *opts, json_t **out,
                        dmp_error_t *err)
{
    *out = NULL;
    json_t *e = NULL;
    int rc = load(cat, caller, domain, name, &e, err);
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
        json_object_set_new(schemas, key, s ? json_deep_copy(s) : json_object());
        dmp_free(key);
        port_paths(paths, domain, name, p);
    }
    json_object_set_new(schemas, "Problem", problem_schema());
    json_object_set_new(doc, "paths", paths);
    json_object_set_new(doc, "components", json_pack("{s:o}", "schemas", schemas));
    json_decref(e);
    *out = doc;
    return DMP_OK;
}
