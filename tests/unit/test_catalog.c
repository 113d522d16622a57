/* test_catalog.c -- the catalog: registration, FTS5 search (ranking, matched fields,
 * hostile query text, paging, filters), versions and deletion, input-port checks,
 * lineage (directions, depth cap, cycles), topology, DOT, and the AsyncAPI/OpenAPI
 * exports' shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dmp/catalog.h"
#include "dmp/schema.h"

typedef struct fixture {
    char *dir;
    dmp_catalog_t *cat;
} fixture_t;

static int setup(void **state)
{
    char tmpl[] = "/tmp/dmp-catalog-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    fixture_t *f = dmp_calloc(1, sizeof(*f));
    f->dir = dmp_strdup(dir);
    char *url = dmp_asprintf("sqlite:%s/catalog.db", dir);
    dmp_error_t err = {0};
    assert_int_equal(dmp_catalog_open(url, &f->cat, &err), DMP_OK);
    dmp_free(url);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    dmp_catalog_close(f->cat);
    char *cmd = dmp_asprintf("rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    dmp_free(cmd);
    dmp_free(f->dir);
    dmp_free(f);
    return 0;
}

static dmp_descriptor_t *parse(const char *yaml)
{
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    dmp_error_t err = {0};
    dmp_descriptor_opts_t o = {.format = DMP_FMT_YAML, .source = "test.yaml"};
    int rc = dmp_descriptor_parse(yaml, strlen(yaml), &o, &d, &diags, &err);
    if (rc != DMP_OK)
        fprintf(stderr, "parse: %s\n", err.msg);
    assert_int_equal(rc, DMP_OK);
    dmp_diags_free(&diags);
    return d;
}

/* A product with one stream port and optional input from another product. */
static void reg(dmp_catalog_t *cat, const char *domain, const char *name, const char *version,
                const char *vis, const char *input_from, const char *extra_field)
{
    char *y = dmp_asprintf(
        "name: %s\ndomain: %s\nversion: %s\nowner: team-%s\n"
        "description: The %s product of %s.\ntags: [t-%s]\n"
        "outputPorts:\n"
        "  - name: out\n    type: stream\n    visibility: %s\n%s"
        "    schema:\n      $schema: https://json-schema.org/draft/2020-12/schema\n"
        "      type: object\n      properties:\n"
        "        %s: {type: string, description: a field of %s}\n"
        "        tuple: {type: array, prefixItems: [{type: integer}, {$ref: '#/$defs/x'}]}\n"
        "      $defs:\n        x: {type: string}\n"
        "%s%s%s",
        name, domain, version, name, name, domain, name, vis,
        strcmp(vis, "protected") ? "" : "    allow: [friends]\n",
        extra_field ? extra_field : "amount", name,
        input_from ? "inputPorts:\n  - name: in\n"
                     "    port: out\n    product: "
                   : "",
        input_from ? input_from : "", input_from ? "\n" : "");
    dmp_descriptor_t *d = parse(y);
    dmp_error_t err = {0};
    assert_int_equal(dmp_catalog_register(cat, d, "register", &err), DMP_OK);
    dmp_descriptor_free(d);
    dmp_free(y);
}

static json_t *search(dmp_catalog_t *cat, const char *q)
{
    dmp_catalog_query_t query = {.q = q};
    json_t *out = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_catalog_search(cat, &query, &out, &err), DMP_OK);
    assert_non_null(json_object_get(out, "results"));
    return out;
}

static int has_match(json_t *result, const char *m)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(result, "matched"), i,
                       v) if (!strcmp(json_string_value(v), m)) return 1;
    return 0;
}

static void test_search_ranked_with_reasons(void **state)
{
    fixture_t *f = *state;
    reg(f->cat, "shop", "orders", "1.0.0", "public", NULL, "customer_id");
    reg(f->cat, "shop", "payments", "1.0.0", "public", NULL, "card_token");
    reg(f->cat, "finance", "ledger", "2.3.1", "public", NULL, "orders_total");

    json_t *r = search(f->cat, "customer");
    json_t *res = json_object_get(r, "results");
    assert_int_equal(json_array_size(res), 1);
    json_t *first = json_array_get(res, 0);
    assert_string_equal(json_string_value(json_object_get(first, "name")), "orders");
    assert_true(has_match(first, "schema:customer_id"));
    assert_true(json_is_null(json_object_get(r, "next")));
    json_decref(r);

    /* "orders" is a name for one product and a field prefix for another: the name ranks
     * first. */
    r = search(f->cat, "orders");
    res = json_object_get(r, "results");
    assert_true(json_array_size(res) >= 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(res, 0), "name")),
                        "orders");
    assert_true(has_match(json_array_get(res, 0), "name"));
    json_decref(r);

    /* Field descriptions and tags match too. */
    r = search(f->cat, "t-ledger");
    assert_int_equal(json_array_size(json_object_get(r, "results")), 1);
    assert_true(has_match(json_array_get(json_object_get(r, "results"), 0), "tags:t-ledger"));
    json_decref(r);
}

static void test_search_hostile_text(void **state)
{
    fixture_t *f = *state;
    reg(f->cat, "shop", "orders", "1.0.0", "public", NULL, "customer_id");
    static const char *const hostile[] = {
        "\"",   "\"\"\"",    "customer\" OR \"x", "NEAR(a b)",   "a AND", "OR",
        "*",    "^customer", "customer*:",        "name:orders", "-x",    "(",
        "')--", "col:\"x",   "{name}: orders",    "\xc3",        "ü\"ö",  "",
    };
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        json_t *r = search(f->cat, hostile[i]);
        json_decref(r);
    }
    /* Quotes around a real term still find it. */
    json_t *r = search(f->cat, "\"customer\"");
    assert_int_equal(json_array_size(json_object_get(r, "results")), 1);
    json_decref(r);
    /* Column filters are not honoured: "name:orders" is the phrase "name orders". */
    r = search(f->cat, "name:orders");
    assert_int_equal(json_array_size(json_object_get(r, "results")), 0);
    json_decref(r);

    /* A huge query is capped, not refused, and stays fast. */
    size_t n = 1 << 20;
    char *big = dmp_malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = (i % 7 == 6) ? ' ' : "abc\"*(x"[i % 7];
    big[n] = '\0';
    int64_t t0 = dmp_mono_ns();
    r = search(f->cat, big);
    assert_true(dmp_mono_ns() - t0 < 2000000000LL);
    json_decref(r);
    dmp_free(big);

    char *q = dmp_catalog_fts_query("a\"b c*d");
    assert_string_equal(q, "\"a b\"* AND \"c d\"*");
    dmp_free(q);
    assert_null(dmp_catalog_fts_query("\"\" ** ()"));
}

static void test_search_paging_and_filters(void **state)
{
    fixture_t *f = *state;
    char name[32];
    for (int i = 0; i < 25; i++) {
        snprintf(name, sizeof(name), "p%02d", i);
        reg(f->cat, i % 2 ? "east.sales" : "west", name, "1.0.0", "public", NULL, NULL);
    }
    dmp_catalog_query_t q = {.q = "amount", .limit = 10};
    json_t *out = NULL;
    dmp_error_t err = {0};
    int seen = 0;
    char cursor[32] = "";
    for (int page = 0; page < 5; page++) {
        q.cursor = cursor[0] ? cursor : NULL;
        assert_int_equal(dmp_catalog_search(f->cat, &q, &out, &err), DMP_OK);
        seen += (int)json_array_size(json_object_get(out, "results"));
        const char *next = json_string_value(json_object_get(out, "next"));
        if (next == NULL) {
            json_decref(out);
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", next);
        json_decref(out);
    }
    assert_int_equal(seen, 25);

    dmp_catalog_query_t fq = {.domain = "east", .limit = 100};
    assert_int_equal(dmp_catalog_search(f->cat, &fq, &out, &err), DMP_OK);
    assert_int_equal(json_array_size(json_object_get(out, "results")), 12);
    json_decref(out);
    dmp_catalog_query_t tq = {.tag = "t-p03", .type = "stream", .owner = "team-p03"};
    assert_int_equal(dmp_catalog_search(f->cat, &tq, &out, &err), DMP_OK);
    assert_int_equal(json_array_size(json_object_get(out, "results")), 1);
    json_decref(out);
    dmp_catalog_query_t ty = {.type = "table"};
    assert_int_equal(dmp_catalog_search(f->cat, &ty, &out, &err), DMP_OK);
    assert_int_equal(json_array_size(json_object_get(out, "results")), 0);
    json_decref(out);
    dmp_catalog_query_t bad = {.cursor = "abc"};
    assert_int_equal(dmp_catalog_search(f->cat, &bad, &out, &err), DMP_INVALID);
}

/* A caller who reads only public ports (the test's stand-in for auth.h's rule). */
static int public_only(void *ud, const json_t *summary, const char *port)
{
    int *calls = ud;
    (*calls)++;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(summary, "ports"), i, p)
    {
        const char *vis = json_string_value(json_object_get(p, "visibility"));
        const char *pn = json_string_value(json_object_get(p, "name"));
        if (vis && !strcmp(vis, "public") && (port == NULL || !strcmp(port, pn)))
            return 1;
    }
    return 0;
}

static void test_search_per_port(void **state)
{
    fixture_t *f = *state;
    dmp_descriptor_t *d = parse("name: mixed\ndomain: sec\nversion: 1.0.0\nowner: team-sec\n"
                                "description: Mixed visibility.\n"
                                "outputPorts:\n"
                                "  - name: open\n    type: stream\n    visibility: public\n"
                                "    schema: {type: object, properties: {visible_total: "
                                "{type: integer}}}\n"
                                "  - name: vault\n    type: table\n    visibility: private\n"
                                "    tags: [secret-tag]\n"
                                "    schema: {type: object, properties: {zeta_hidden_ssn: "
                                "{type: string, description: quasar notes}}}\n");
    dmp_error_t err = {0};
    assert_int_equal(dmp_catalog_register(f->cat, d, "register", &err), DMP_OK);
    dmp_descriptor_free(d);
    reg(f->cat, "sec", "closed", "1.0.0", "private", NULL, "zeta_other");
    int calls = 0;
    json_t *out = NULL;
    /* Everyone (no per-port rule) finds the hidden field. */
    dmp_catalog_query_t all = {.q = "zeta_hidden_ssn"};
    assert_int_equal(dmp_catalog_search(f->cat, &all, &out, &err), DMP_OK);
    assert_int_equal(json_array_size(json_object_get(out, "results")), 1);
    assert_true(
        has_match(json_array_get(json_object_get(out, "results"), 0), "schema:zeta_hidden_ssn"));
    json_decref(out);
    /* The public-only caller does not: not by the field, its docs, its port name, the
     * private port's tag or type, nor a prefix of them. */
    const char *probes[] = {"zeta_hidden_ssn", "zeta", "quasar", "vault", "mixed zeta"};
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        dmp_catalog_query_t q = {.q = probes[i], .port_readable = public_only, .port_ud = &calls};
        assert_int_equal(dmp_catalog_search(f->cat, &q, &out, &err), DMP_OK);
        if (json_array_size(json_object_get(out, "results")) != 0)
            fail_msg("probe '%s' found a hidden port", probes[i]);
        json_decref(out);
    }
    dmp_catalog_query_t tq = {.tag = "secret-tag", .port_readable = public_only, .port_ud = &calls};
    assert_int_equal(dmp_catalog_search(f->cat, &tq, &out, &err), DMP_OK);
    assert_int_equal(json_array_size(json_object_get(out, "results")), 0);
    json_decref(out);
    dmp_catalog_query_t yq = {.type = "table", .port_readable = public_only, .port_ud = &calls};
    assert_int_equal(dmp_catalog_search(f->cat, &yq, &out, &err), DMP_OK);
    assert_int_equal(json_array_size(json_object_get(out, "results")), 0);
    json_decref(out);
    /* By readable text it is found, listing the public port only and matching only
     * readable words; the wholly private product is absent. */
    dmp_catalog_query_t vq = {
        .q = "mixed visible_total", .port_readable = public_only, .port_ud = &calls};
    assert_int_equal(dmp_catalog_search(f->cat, &vq, &out, &err), DMP_OK);
    json_t *res = json_object_get(out, "results");
    assert_int_equal(json_array_size(res), 1);
    json_t *ports = json_object_get(json_array_get(res, 0), "ports");
    assert_int_equal(json_array_size(ports), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ports, 0), "name")),
                        "open");
    assert_true(has_match(json_array_get(res, 0), "schema:visible_total"));
    json_decref(out);
    dmp_catalog_query_t cq = {.q = "closed", .port_readable = public_only, .port_ud = &calls};
    assert_int_equal(dmp_catalog_search(f->cat, &cq, &out, &err), DMP_OK);
    assert_int_equal(json_array_size(json_object_get(out, "results")), 0);
    json_decref(out);
    assert_true(calls > 0);
}

/* Hits the caller may not read are skipped and the page is filled from further rows. */
static void test_search_per_port_paging(void **state)
{
    fixture_t *f = *state;
    char name[32];
    for (int i = 0; i < 30; i++) {
        snprintf(name, sizeof(name), "q%02d", i);
        reg(f->cat, "pg", name, "1.0.0", i % 3 ? "private" : "public", NULL, NULL);
    }
    int calls = 0, seen = 0;
    char cursor[32] = "";
    dmp_error_t err = {0};
    for (int page = 0; page < 10; page++) {
        dmp_catalog_query_t q = {.q = "amount",
                                 .limit = 4,
                                 .cursor = cursor[0] ? cursor : NULL,
                                 .port_readable = public_only,
                                 .port_ud = &calls};
        json_t *out = NULL;
        assert_int_equal(dmp_catalog_search(f->cat, &q, &out, &err), DMP_OK);
        size_t n = json_array_size(json_object_get(out, "results"));
        seen += (int)n;
        const char *next = json_string_value(json_object_get(out, "next"));
        if (next == NULL) {
            json_decref(out);
            break;
        }
        assert_int_equal(n, 4);
        snprintf(cursor, sizeof(cursor), "%s", next);
        json_decref(out);
    }
    assert_int_equal(seen, 10);
}

static void test_versions_and_delete(void **state)
{
    fixture_t *f = *state;
    reg(f->cat, "shop", "orders", "1.0.0", "public", NULL, "customer_id");
    reg(f->cat, "shop", "orders", "1.10.0", "public", NULL, "customer_id");
    reg(f->cat, "shop", "orders", "1.9.0", "public", NULL, "customer_id");
    json_t *v = NULL, *e = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_catalog_versions(f->cat, "shop", "orders", &v, &err), DMP_OK);
    assert_int_equal(json_array_size(v), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "version")),
                        "1.10.0");
    json_decref(v);
    assert_int_equal(dmp_catalog_get(f->cat, "shop", "orders", NULL, &e, &err), DMP_OK);
    assert_string_equal(json_string_value(json_object_get(e, "version")), "1.10.0");
    json_t *port = json_array_get(json_object_get(e, "ports"), 0);
    assert_string_equal(json_string_value(json_object_get(port, "channel")),
                        "shop.orders._public.out");
    json_decref(e);

    assert_int_equal(dmp_catalog_mark_deleted(f->cat, "shop", "orders", "1.10.0", &err), DMP_OK);
    assert_int_equal(dmp_catalog_get(f->cat, "shop", "orders", NULL, &e, &err), DMP_OK);
    assert_string_equal(json_string_value(json_object_get(e, "version")), "1.9.0");
    json_decref(e);
    assert_int_equal(dmp_catalog_mark_deleted(f->cat, "shop", "orders", "1.9.0", &err), DMP_OK);
    assert_int_equal(dmp_catalog_mark_deleted(f->cat, "shop", "orders", "1.0.0", &err), DMP_OK);
    assert_int_equal(dmp_catalog_get(f->cat, "shop", "orders", NULL, &e, &err), DMP_NOTFOUND);
    json_t *r = search(f->cat, "customer");
    assert_int_equal(json_array_size(json_object_get(r, "results")), 0);
    json_decref(r);
    /* History survives. */
    assert_int_equal(dmp_catalog_versions(f->cat, "shop", "orders", &v, &err), DMP_OK);
    assert_int_equal(json_array_size(v), 3);
    assert_true(json_is_true(json_object_get(json_array_get(v, 0), "deleted")));
    json_decref(v);
    assert_int_equal(dmp_catalog_mark_deleted(f->cat, "shop", "orders", "9.9.9", &err),
                     DMP_NOTFOUND);
    assert_int_equal(dmp_catalog_versions(f->cat, "no", "such", &v, &err), DMP_NOTFOUND);
}

static void test_check_inputs(void **state)
{
    fixture_t *f = *state;
    reg(f->cat, "shop", "orders", "1.0.0", "public", NULL, NULL);
    reg(f->cat, "shop", "secret", "1.0.0", "private", NULL, NULL);
    reg(f->cat, "shop", "guarded", "1.0.0", "protected", NULL, NULL);
    static const char tmpl[] = "name: c\ndomain: %s\nversion: 1.0.0\nowner: %s\n"
                               "inputPorts:\n  - name: in\n    product: %s\n    port: %s\n"
                               "outputPorts:\n  - name: o\n    type: stream\n";
    struct {
        const char *domain, *owner, *product, *port;
        int rc;
    } cases[] = {
        {"x", "o", "shop/orders", "out", DMP_OK},
        {"x", "o", "urn:dmp:shop:orders:1", "out", DMP_OK},
        {"x", "o", "shop/nothing", "out", DMP_NOTFOUND},
        {"x", "o", "shop/orders", "nope", DMP_NOTFOUND},
        {"x", "o", "shop/secret", "out", DMP_DENIED},
        {"x", "team-secret", "shop/secret", "out", DMP_OK},
        {"x", "o", "shop/guarded", "out", DMP_DENIED},
        {"friends.sub", "o", "shop/guarded", "out", DMP_OK},
        {"x", "friends", "shop/guarded", "out", DMP_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *y =
            dmp_asprintf(tmpl, cases[i].domain, cases[i].owner, cases[i].product, cases[i].port);
        dmp_descriptor_t *d = parse(y);
        dmp_error_t err = {0};
        int rc = dmp_catalog_check_inputs(f->cat, d, &err);
        if (rc != cases[i].rc)
            fprintf(stderr, "case %zu: %d %s\n", i, rc, err.msg);
        assert_int_equal(rc, cases[i].rc);
        if (rc != DMP_OK)
            assert_non_null(strstr(err.msg, "'in'"));
        dmp_descriptor_free(d);
        dmp_free(y);
    }
}

static int has_node(json_t *g, const char *key)
{
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(g, "nodes"), i,
                       n) if (!strcmp(json_string_value(json_object_get(n, "key")), key)) return 1;
    return 0;
}

static void test_lineage_and_cycles(void **state)
{
    fixture_t *f = *state;
    /* a -> b -> c -> a (a cycle across products), d reads c, a reads a missing product. */
    reg(f->cat, "m", "a", "1.0.0", "public", "m/c", NULL);
    reg(f->cat, "m", "b", "1.0.0", "public", "m/a", NULL);
    reg(f->cat, "m", "c", "1.0.0", "public", "urn:dmp:m:b:1", NULL);
    reg(f->cat, "m", "d", "1.0.0", "public", "m/c", NULL);
    reg(f->cat, "m", "e", "1.0.0", "public", "m/ghost", NULL);
    json_t *g = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_catalog_lineage(f->cat, "m", "b", DMP_LINEAGE_BOTH, 1000, &g, &err),
                     DMP_OK);
    assert_int_equal(json_integer_value(json_object_get(g, "depth")), DMP_CATALOG_MAX_DEPTH);
    assert_int_equal(json_array_size(json_object_get(g, "nodes")), 4); /* b a c d */
    assert_int_equal(json_array_size(json_object_get(g, "edges")), 4); /* c>a a>b b>c c>d */
    assert_true(json_is_true(json_object_get(g, "cyclic")));
    assert_true(has_node(g, "m/d"));
    json_decref(g);

    assert_int_equal(dmp_catalog_lineage(f->cat, "m", "d", DMP_LINEAGE_UP, 1, &g, &err), DMP_OK);
    assert_int_equal(json_array_size(json_object_get(g, "nodes")), 2);
    assert_true(json_is_true(json_object_get(g, "truncated")));
    char *dot = dmp_catalog_lineage_dot(g);
    assert_non_null(strstr(dot, "\"m/c\" -> \"m/d\" [label=\"out\"]"));
    assert_non_null(strstr(dot, "digraph lineage {"));
    dmp_free(dot);
    json_decref(g);

    assert_int_equal(dmp_catalog_lineage(f->cat, "m", "e", DMP_LINEAGE_UP, 3, &g, &err), DMP_OK);
    assert_true(has_node(g, "m/ghost"));
    json_t *ghost = json_array_get(json_object_get(g, "nodes"), 1);
    assert_true(json_is_true(json_object_get(ghost, "missing")));
    json_decref(g);

    assert_int_equal(dmp_catalog_lineage(f->cat, "no", "such", DMP_LINEAGE_UP, 3, &g, &err),
                     DMP_NOTFOUND);

    json_t *t = NULL;
    assert_int_equal(dmp_catalog_topology(f->cat, &t, &err), DMP_OK);
    assert_int_equal(json_array_size(json_object_get(t, "edges")), 5);
    assert_int_equal(json_array_size(json_object_get(t, "nodes")), 6); /* 5 + ghost */
    assert_int_equal(json_array_size(json_object_get(t, "domains")), 1);
    json_decref(t);
}

static void test_exports(void **state)
{
    fixture_t *f = *state;
    reg(f->cat, "shop", "orders", "1.2.3", "public", NULL, "customer_id");
    dmp_catalog_export_opts_t o = {.base_url = "http://127.0.0.1:9999"};
    json_t *a = NULL, *oa = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_catalog_asyncapi(f->cat, "shop", "orders", &o, &a, &err), DMP_OK);
    assert_string_equal(json_string_value(json_object_get(a, "asyncapi")), "3.0.0");
    json_t *ch = json_object_get(json_object_get(a, "channels"), "out");
    assert_string_equal(json_string_value(json_object_get(ch, "address")),
                        "shop.orders._public.out");
    json_t *payload = json_object_get(
        json_object_get(json_object_get(json_object_get(a, "components"), "messages"), "outEvent"),
        "payload");
    assert_string_equal(json_string_value(json_object_get(payload, "schemaFormat")),
                        "application/schema+json;version=draft-07");
    json_t *schema = json_object_get(payload, "schema");
    assert_null(json_object_get(schema, "$schema"));
    /* Refs are resolved against the whole AsyncAPI document: the definitions moved to
     * components/schemas/<port>_<name> and the refs point there. */
    assert_null(json_object_get(schema, "definitions"));
    assert_null(json_object_get(schema, "$defs"));
    json_t *moved =
        json_object_get(json_object_get(json_object_get(a, "components"), "schemas"), "out_x");
    assert_string_equal(json_string_value(json_object_get(moved, "type")), "string");
    json_t *tuple = json_object_get(json_object_get(schema, "properties"), "tuple");
    assert_true(json_is_array(json_object_get(tuple, "items")));
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(tuple, "items"), 1), "$ref")),
                        "#/components/schemas/out_x");
    json_decref(a);

    assert_int_equal(dmp_catalog_openapi(f->cat, "shop", "orders", &o, &oa, &err), DMP_OK);
    assert_string_equal(json_string_value(json_object_get(oa, "openapi")), "3.1.0");
    json_t *paths = json_object_get(oa, "paths");
    assert_non_null(json_object_get(
        json_object_get(paths, "/v1/products/shop/orders/ports/out/events"), "post"));
    assert_non_null(json_object_get(paths, "/v1/products/shop/orders/ports/out/subscribe"));
    /* No $id: the $defs ref is rewritten to where the schema sits in the document. */
    json_t *os =
        json_object_get(json_object_get(json_object_get(oa, "components"), "schemas"), "out");
    json_t *pi =
        json_object_get(json_object_get(json_object_get(os, "properties"), "tuple"), "prefixItems");
    assert_string_equal(json_string_value(json_object_get(json_array_get(pi, 1), "$ref")),
                        "#/components/schemas/out/$defs/x");
    assert_non_null(json_object_get(json_object_get(os, "$defs"), "x"));
    json_decref(oa);
    assert_int_equal(dmp_catalog_asyncapi(f->cat, "shop", "none", &o, &a, &err), DMP_NOTFOUND);
}

/* Looks a JSON pointer ("#/a/b/0") up in doc; NULL when it does not resolve. */
static json_t *resolve(json_t *doc, const char *ref)
{
    assert_true(ref[0] == '#');
    json_t *cur = doc;
    const char *p = ref + 1;
    while (*p == '/' && cur) {
        const char *seg = p + 1;
        size_t n = strcspn(seg, "/");
        char *k = dmp_strndup(seg, n);
        cur = json_is_array(cur) ? json_array_get(cur, (size_t)atoi(k)) : json_object_get(cur, k);
        dmp_free(k);
        p = seg + n;
    }
    return cur;
}

/* Every "$ref" in v must resolve inside doc (local refs only). */
static void all_refs_resolve(json_t *doc, json_t *v, int *count)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) all_refs_resolve(doc, x, count);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (!strcmp(k, "$ref") && json_is_string(x)) {
                if (resolve(doc, json_string_value(x)) == NULL)
                    fail_msg("dangling $ref %s", json_string_value(x));
                (*count)++;
            } else {
                all_refs_resolve(doc, x, count);
            }
        }
    }
}

static void test_export_refs_resolve(void **state)
{
    fixture_t *f = *state;
    dmp_descriptor_t *d =
        parse("name: geo\ndomain: maps\nversion: 1.0.0\nowner: team-maps\n"
              "outputPorts:\n"
              "  - name: main\n    type: stream\n    visibility: public\n"
              "    schema:\n      type: object\n"
              "      properties:\n"
              "        p: {$ref: '#/$defs/point'}\n"
              "        line: {type: array, items: {$ref: '#/$defs/point'}}\n"
              "        self: {$ref: '#'}\n"
              "        same: {$ref: '#/properties/p'}\n"
              "        a: {type: string}\n"
              "      dependentRequired: {a: [p]}\n"
              "      dependentSchemas: {a: {properties: {line: {minItems: 2}}}}\n"
              "      $defs:\n"
              "        point:\n          type: object\n          required: [x, y]\n"
              "          properties: {x: {type: number}, y: {type: number}, "
              "next: {$ref: '#/$defs/point'}}\n"
              "  - name: dump\n    type: files\n    visibility: public\n"
              "    schema: {type: object, properties: {q: {$ref: '#/$defs/x'}}, "
              "$defs: {x: {type: string}}}\n");
    dmp_error_t err = {0};
    assert_int_equal(dmp_catalog_register(f->cat, d, "register", &err), DMP_OK);
    dmp_descriptor_free(d);
    dmp_catalog_export_opts_t o = {.base_url = "http://127.0.0.1:9999"};
    json_t *a = NULL, *oa = NULL;
    assert_int_equal(dmp_catalog_asyncapi(f->cat, "maps", "geo", &o, &a, &err), DMP_OK);
    int n = 0;
    all_refs_resolve(a, a, &n);
    assert_true(n >= 5);
    json_t *schemas = json_object_get(json_object_get(a, "components"), "schemas");
    json_t *point = json_object_get(schemas, "main_point");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(point, "properties"), "next"), "$ref")),
                        "#/components/schemas/main_point");
    json_t *schema = json_object_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(a, "components"), "messages"),
                            "mainEvent"),
            "payload"),
        "schema");
    json_t *props = json_object_get(schema, "properties");
    assert_string_equal(json_string_value(json_object_get(json_object_get(props, "self"), "$ref")),
                        "#/components/messages/mainEvent/payload/schema");
    /* dependentRequired and dependentSchemas on one key: both kept, under allOf. */
    json_t *dep = json_object_get(json_object_get(schema, "dependencies"), "a");
    json_t *all = json_object_get(dep, "allOf");
    assert_int_equal(json_array_size(all), 2);
    int saw_required = 0, saw_schema = 0;
    for (size_t i = 0; i < 2; i++) {
        json_t *x = json_array_get(all, i);
        saw_required += json_is_array(json_object_get(x, "required"));
        saw_schema += json_is_object(json_object_get(x, "properties"));
    }
    assert_int_equal(saw_required, 1);
    assert_int_equal(saw_schema, 1);
    /* The files port has no channel. */
    assert_null(json_object_get(json_object_get(a, "channels"), "dump"));
    json_decref(a);

    assert_int_equal(dmp_catalog_openapi(f->cat, "maps", "geo", &o, &oa, &err), DMP_OK);
    n = 0;
    all_refs_resolve(oa, oa, &n);
    assert_true(n >= 8);
    json_t *paths = json_object_get(oa, "paths");
    assert_non_null(json_object_get(paths, "/v1/products/maps/geo/ports/main/events"));
    /* dmp serves no HTTP endpoints for a files port: no paths, but its schema is there. */
    const char *pk;
    json_t *pv;
    json_object_foreach(paths, pk, pv) assert_null(strstr(pk, "/ports/dump/"));
    assert_non_null(
        json_object_get(json_object_get(json_object_get(oa, "components"), "schemas"), "dump"));
    json_decref(oa);

    /* The standalone draft-07 conversion keeps refs inside the schema. */
    json_t *in = json_pack("{s:{s:{s:s}},s:{s:{s:s}}}", "properties", "p", "$ref", "#/$defs/point",
                           "$defs", "point", "type", "object");
    json_t *out = dmp_catalog_schema_draft07(in);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(out, "properties"), "p"), "$ref")),
                        "#/definitions/point");
    n = 0;
    all_refs_resolve(out, out, &n);
    assert_int_equal(n, 1);
    json_decref(out);
    json_decref(in);
}

/* dmp_json_dump (src/schema/json.c) writes a double's shortest round-tripping form; it
 * lives here because descriptor and catalog values (`dmp get -o yaml`) show it. */
static char *dump_number(const char *text)
{
    dmp_json_doc_t *d = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_json_parse(text, strlen(text), NULL, &d, &err), DMP_OK);
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_json_dump(dmp_json_root(d), &b);
    dmp_json_doc_free(d);
    return dmp_buf_steal(&b);
}

static void test_json_number_shortest(void **state)
{
    static const char *const same[] = {"0.99",
                                       "0.1",
                                       "1.5",
                                       "-2.25",
                                       "123.456",
                                       "1e-07",
                                       "3.141592653589793",
                                       "0.30000000000000004",
                                       "1.7976931348623157e+308"};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        char *out = dump_number(same[i]);
        assert_string_equal(out, same[i]);
        dmp_free(out);
    }
    /* Random doubles: what is written reads back as the same value, in at most 17
     * digits. */
    unsigned long long x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof(v));
        if (v != v || v - v != 0) /* NaN and infinities are not JSON numbers */
            continue;
        char in[40];
        snprintf(in, sizeof(in), "%.17g", v);
        char *out = dump_number(in);
        if (strtod(out, NULL) != v)
            fail_msg("%s was written as %s", in, out);
        assert_true(strlen(out) <= strlen(in));
        dmp_free(out);
    }
}

static void test_reopen_keeps_index(void **state)
{
    fixture_t *f = *state;
    reg(f->cat, "shop", "orders", "1.0.0", "public", NULL, "customer_id");
    dmp_catalog_close(f->cat);
    char *url = dmp_asprintf("%s/catalog.db", f->dir);
    dmp_error_t err = {0};
    assert_int_equal(dmp_catalog_open(url, &f->cat, &err), DMP_OK);
    dmp_free(url);
    json_t *r = search(f->cat, "cust");
    assert_int_equal(json_array_size(json_object_get(r, "results")), 1);
    json_decref(r);
    dmp_catalog_t *other = NULL;
    assert_int_equal(dmp_catalog_open("postgres://x", &other, &err), DMP_UNSUPPORTED);
    assert_null(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_search_ranked_with_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_hostile_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_paging_and_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_per_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_per_port_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versions_and_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lineage_and_cycles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_refs_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_index, setup, teardown),
        cmocka_unit_test(test_json_number_shortest),
    };
    return cmocka_run_group_tests_name("catalog", tests, NULL, NULL);
}
