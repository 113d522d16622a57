/* test_mask.c -- masking of pii: redaction, keyed-hash stability and key dependence,
 * nested objects, arrays (items, prefixItems), $defs references, allOf branches,
 * additionalProperties, who sees values unmasked (admin, owner, pii-reader of the
 * domain or a parent), and the depth bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmp/auth.h"

static const char *SCHEMA =
    "{\"type\":\"object\",\"properties\":{"
    " \"id\":{\"type\":\"string\"},"
    " \"email\":{\"type\":\"string\",\"x-dmp-classification\":\"pii\"},"
    " \"address\":{\"type\":\"object\",\"properties\":{"
    "   \"city\":{\"type\":\"string\"},"
    "   \"street\":{\"type\":\"string\",\"x-dmp-classification\":[\"pii\",\"location\"]}}},"
    " \"phones\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
    "   \"x-dmp-classification\":\"pii\"}},"
    " \"contacts\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/contact\"}},"
    " \"pair\":{\"type\":\"array\",\"prefixItems\":[{\"type\":\"string\"},"
    "   {\"x-dmp-classification\":\"pii\"}]},"
    " \"secret\":{\"type\":\"object\",\"x-dmp-classification\":\"pii\"},"
    " \"merged\":{\"allOf\":[{\"properties\":{\"ssn\":{\"x-dmp-classification\":\"pii\"}}},"
    "   {\"properties\":{\"note\":{\"type\":\"string\"}}}]},"
    " \"extra\":{\"type\":\"object\",\"additionalProperties\":"
    "   {\"x-dmp-classification\":\"pii\"}},"
    " \"label\":{\"type\":\"string\",\"x-dmp-classification\":\"internal\"}"
    "},\"$defs\":{\"contact\":{\"type\":\"object\",\"properties\":{"
    " \"name\":{\"type\":\"string\",\"x-dmp-classification\":\"pii\"},"
    " \"kind\":{\"type\":\"string\"}}}}}";

static const char *DATA =
    "{\"id\":\"c-1\",\"email\":\"ann@example.com\",\"address\":{\"city\":\"London\","
    "\"street\":\"1 High St\"},\"phones\":[\"+44 1\",\"+44 2\"],"
    "\"contacts\":[{\"name\":\"Bob\",\"kind\":\"friend\"},{\"kind\":\"work\"}],"
    "\"pair\":[\"k\",\"v-secret\"],\"secret\":{\"a\":1},"
    "\"merged\":{\"ssn\":\"123-45\",\"note\":\"hello\"},\"extra\":{\"x\":\"y\"},"
    "\"label\":\"keep\",\"unknown\":\"kept\"}";

static json_t *J(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (j == NULL)
        fail_msg("bad JSON in test: %s", e.text);
    return j;
}

static const char *S(json_t *o, const char *path)
{
    /* "a.b.0" */
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = o;
    for (char *save = NULL, *t = strtok_r(buf, ".", &save); t; t = strtok_r(NULL, ".", &save))
        cur = json_is_array(cur) ? json_array_get(cur, (size_t)atoi(t)) : json_object_get(cur, t);
    return json_string_value(cur);
}

static void acl_in(const char *domain, dmp_acl_t *acl)
{
    char *d = dmp_asprintf("{\"domain\":\"%s\",\"owner\":\"olivia\",\"outputPorts\":[{\"name\":"
                           "\"p\",\"visibility\":\"public\"}]}",
                           domain);
    json_t *j = J(d);
    assert_int_equal(dmp_acl_from_json(j, "p", acl, NULL), DMP_OK);
    json_decref(j);
    dmp_free(d);
}

static void test_redact(void **state)
{
    json_t *schema = J(SCHEMA), *data = J(DATA), *out = NULL;
    dmp_acl_t acl;
    acl_in("london.hammersmith", &acl);
    const char *g[] = {"finance"};
    dmp_principal_t *reader = dmp_principal_new("rita", g, 1, 0);
    dmp_mask_policy_t pol = {DMP_MASK_REDACT, NULL, 0};
    assert_true(dmp_mask_schema_has_pii(schema));
    assert_false(dmp_mask_may_see_pii(reader, &acl));
    assert_int_equal(dmp_mask_json(schema, data, reader, &acl, &pol, &out, NULL), DMP_OK);
    static const char *masked[] = {"email", "address.street", "phones.0", "phones.1",
                                   "contacts.0.name", "pair.1", "merged.ssn", "extra.x"};
    for (size_t i = 0; i < sizeof(masked) / sizeof(masked[0]); i++)
        if (!dmp_str_eq(S(out, masked[i]), "***"))
            fail_msg("%s: expected ***, got %s", masked[i], S(out, masked[i]));
    /* a classified object is replaced whole */
    assert_string_equal(json_string_value(json_object_get(out, "secret")), "***");
    static const char *kept[][2] = {{"id", "c-1"},         {"address.city", "London"},
                                    {"contacts.0.kind", "friend"}, {"contacts.1.kind", "work"},
                                    {"pair.0", "k"},       {"merged.note", "hello"},
                                    {"label", "keep"},     {"unknown", "kept"}};
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        if (!dmp_str_eq(S(out, kept[i][0]), kept[i][1]))
            fail_msg("%s: expected %s, got %s", kept[i][0], kept[i][1], S(out, kept[i][0]));
    /* nothing of the originals survives anywhere in the output */
    char *dump = json_dumps(out, JSON_COMPACT);
    static const char *secrets[] = {"ann@example.com", "1 High St", "+44 1", "Bob", "v-secret",
                                    "123-45"};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        if (strstr(dump, secrets[i]))
            fail_msg("%s leaked: %s", secrets[i], dump);
    free(dump);
    /* the input is untouched */
    assert_string_equal(S(data, "email"), "ann@example.com");
    json_decref(out);
    dmp_principal_free(reader);
    dmp_acl_fini(&acl);
    json_decref(schema);
    json_decref(data);
}

static void test_keyed_hash(void **state)
{
    json_t *schema = J(SCHEMA), *data = J(DATA), *o1 = NULL, *o2 = NULL, *o3 = NULL;
    dmp_acl_t acl;
    acl_in("london", &acl);
    dmp_principal_t *reader = dmp_principal_new("rita", NULL, 0, 0);
    const unsigned char k1[] = "key-one-0123456789", k2[] = "key-two-0123456789";
    dmp_mask_policy_t p1 = {DMP_MASK_KEYED_HASH, k1, sizeof(k1) - 1};
    dmp_mask_policy_t p2 = {DMP_MASK_KEYED_HASH, k2, sizeof(k2) - 1};
    assert_int_equal(dmp_mask_json(schema, data, reader, &acl, &p1, &o1, NULL), DMP_OK);
    assert_int_equal(dmp_mask_json(schema, data, reader, &acl, &p1, &o2, NULL), DMP_OK);
    assert_int_equal(dmp_mask_json(schema, data, reader, &acl, &p2, &o3, NULL), DMP_OK);
    const char *h = S(o1, "email");
    assert_non_null(h);
    assert_int_equal(strlen(h), 2 + 64);
    assert_memory_equal(h, "h:", 2);
    /* stable: the same value and key give the same hash (joins still work) */
    assert_string_equal(h, S(o2, "email"));
    assert_true(json_equal(o1, o2));
    /* another key gives another hash */
    assert_string_not_equal(h, S(o3, "email"));
    /* different values differ */
    assert_string_not_equal(S(o1, "phones.0"), S(o1, "phones.1"));
    /* the exposed helper agrees with what masking wrote */
    json_t *v = json_string("ann@example.com");
    char *hv = dmp_mask_hash_value(v, k1, sizeof(k1) - 1);
    assert_string_equal(hv, h);
    dmp_free(hv);
    json_decref(v);
    /* a short key is refused */
    dmp_mask_policy_t bad = {DMP_MASK_KEYED_HASH, (const unsigned char *)"k", 1};
    json_t *o4 = NULL;
    assert_int_equal(dmp_mask_json(schema, data, reader, &acl, &bad, &o4, NULL), DMP_INVALID);
    assert_null(o4);
    json_decref(o1);
    json_decref(o2);
    json_decref(o3);
    dmp_principal_free(reader);
    dmp_acl_fini(&acl);
    json_decref(schema);
    json_decref(data);
}

static void test_who_sees_pii(void **state)
{
    json_t *schema = J(SCHEMA), *data = J(DATA);
    dmp_acl_t acl;
    acl_in("london.hammersmith", &acl);
    dmp_mask_policy_t pol = {DMP_MASK_REDACT, NULL, 0};
    const char *gp[] = {"pii-reader:london"};          /* a parent domain's grant */
    const char *gx[] = {"pii-reader:london.chelsea"};  /* a sibling's grant: no */
    const char *gd[] = {"pii-reader:london.hammersmith.olympia"}; /* a child's: no */
    struct {
        dmp_principal_t *p;
        int sees;
    } cases[] = {
        {dmp_principal_new("olivia", NULL, 0, 0), 1}, /* owner */
        {dmp_principal_new("ada", NULL, 0, 1), 1},    /* admin */
        {dmp_principal_new("pat", gp, 1, 0), 1},
        {dmp_principal_new("sid", gx, 1, 0), 0},
        {dmp_principal_new("cid", gd, 1, 0), 0},
        {NULL, 0}, /* anonymous */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *out = NULL;
        assert_int_equal(dmp_mask_json(schema, data, cases[i].p, &acl, &pol, &out, NULL),
                         DMP_OK);
        int unmasked = json_equal(out, data);
        if (unmasked != cases[i].sees)
            fail_msg("case %zu: expected sees=%d", i, cases[i].sees);
        json_decref(out);
        dmp_principal_free(cases[i].p);
    }
    dmp_acl_fini(&acl);
    json_decref(schema);
    json_decref(data);
}

static void test_no_pii_and_bounds(void **state)
{
    json_t *plain = J("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}");
    json_t *data = J("{\"a\":\"x\"}"), *out = NULL;
    assert_false(dmp_mask_schema_has_pii(plain));
    assert_int_equal(dmp_mask_json(plain, data, NULL, NULL, NULL, &out, NULL), DMP_OK);
    assert_true(json_equal(out, data));
    json_decref(out);
    /* no schema: nothing to go by, data passes as is */
    assert_int_equal(dmp_mask_json(NULL, data, NULL, NULL, NULL, &out, NULL), DMP_OK);
    json_decref(out);
    assert_int_equal(dmp_mask_json(plain, NULL, NULL, NULL, NULL, &out, NULL), DMP_INVALID);
    json_decref(plain);
    json_decref(data);

    /* a self-referencing schema and data nested deeper than the walk: bounded, and the
     * part beyond the bound is masked rather than leaked */
    json_t *rec = J("{\"$defs\":{\"n\":{\"type\":\"object\",\"properties\":{"
                    "\"pii\":{\"x-dmp-classification\":\"pii\"},"
                    "\"next\":{\"$ref\":\"#/$defs/n\"}}}},\"$ref\":\"#/$defs/n\"}");
    json_t *deep = json_object(), *cur = deep;
    for (int i = 0; i < 200; i++) {
        json_object_set_new(cur, "pii", json_string("secret-value"));
        json_t *n = json_object();
        json_object_set_new(cur, "next", n);
        cur = n;
    }
    assert_true(dmp_mask_schema_has_pii(rec));
    assert_int_equal(dmp_mask_json(rec, deep, NULL, NULL, NULL, &out, NULL), DMP_OK);
    char *dump = json_dumps(out, JSON_COMPACT);
    assert_null(strstr(dump, "secret-value"));
    free(dump);
    json_decref(out);
    json_decref(rec);
    json_decref(deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_keyed_hash),
        cmocka_unit_test(test_who_sees_pii),
        cmocka_unit_test(test_no_pii_and_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
