/* mask.c -- masking of classified values: a schema marks a property with
 * "x-dmp-classification": "pii" (or an array containing "pii"); readers without the
 * pii grant get "***" or "h:" + hex HMAC-SHA256(key, canonical JSON of the value)
 * (GnuTLS). The walk follows the schema alongside the data, so the cost is bounded
 * by the data's size times a small constant, and the depth by MASK_MAX_DEPTH. */
#include <gnutls/crypto.h>
#include <string.h>

#include "governance/auth_int.h"

#define MASK_MAX_DEPTH 64

int dmp_mask_may_see_pii(const dmp_principal_t *p, const dmp_acl_t *acl)
{
    if (p == NULL)
        return 0;
    if (p->admin || dmp_authz_is_owner(p, acl))
        return 1;
    static const char pre[] = "pii-reader:";
    for (size_t i = 0; i < p->n_groups; i++)
        if (!strncmp(p->groups[i], pre, sizeof(pre) - 1) && acl != NULL &&
            dmp_domain_covers(p->groups[i] + sizeof(pre) - 1, acl->domain))
            return 1;
    return 0;
}

static int is_pii(const json_t *schema)
{
    const json_t *c = json_object_get(schema, "x-dmp-classification");
    if (json_is_string(c))
        return strcmp(json_string_value(c), "pii") == 0;
    size_t i;
    json_t *v;
    json_array_foreach(c, i, v)
    {
        if (json_is_string(v) && !strcmp(json_string_value(v), "pii"))
            return 1;
    }
    return 0;
}

/* "#/$defs/name" or "#/definitions/name" inside root; NULL otherwise. */
static const json_t *resolve_ref(const json_t *root, const json_t *schema)
{
    const char *ref = json_string_value(json_object_get(schema, "$ref"));
    if (ref == NULL)
        return NULL;
    const char *name = NULL;
    const json_t *defs = NULL;
    if (!strncmp(ref, "#/$defs/", 8)) {
        defs = json_object_get(root, "$defs");
        name = ref + 8;
    } else if (!strncmp(ref, "#/definitions/", 14)) {
        defs = json_object_get(root, "definitions");
        name = ref + 14;
    }
    if (defs == NULL || strchr(name, '/') != NULL || strchr(name, '~') != NULL)
        return NULL;
    return json_object_get(defs, name);
}

static int has_pii(const json_t *root, const json_t *s, int depth)
{
    if (!json_is_object(s) || depth > MASK_MAX_DEPTH)
        return 0;
    if (is_pii(s))
        return 1;
    const char *k;
    json_t *v;
    static const char *const maps[] = {"properties", "patternProperties", "$defs",
                                       "definitions"};
    for (size_t m = 0; m < sizeof(maps) / sizeof(maps[0]); m++)
        json_object_foreach((json_t *)json_object_get(s, maps[m]), k, v)
        {
            if (has_pii(root, v, depth + 1))
                return 1;
        }
    static const char *const subs[] = {"items", "additionalProperties"};
    for (size_t m = 0; m < 2; m++)
        if (has_pii(root, json_object_get(s, subs[m]), depth + 1))
            return 1;
    static const char *const lists[] = {"prefixItems", "allOf", "anyOf", "oneOf"};
    for (size_t m = 0; m < 4; m++) {
        size_t i;
        json_array_foreach(json_object_get(s, lists[m]), i, v)
        {
            if (has_pii(root, v, depth + 1))
                return 1;
        }
    }
    return 0;
}

int dmp_mask_schema_has_pii(const json_t *schema)
{
    return has_pii(schema, schema, 0);
}

char *dmp_mask_hash_value(const json_t *value, const unsigned char *key, size_t key_len)
{
    char *canon = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    unsigned char mac[32];
    static const unsigned char nokey[1] = {0};
    int rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, key_len ? key : nokey, key_len ? key_len : 1,
                              canon ? canon : "", canon ? strlen(canon) : 0, mac);
    free(canon);
    if (rc != 0)
        return dmp_strdup(DMP_MASK_REDACTED); /* never leak the value when HMAC fails */
    char hex[65];
    dmp_auth_hex(mac, sizeof(mac), hex);
    return dmp_asprintf("%s%s", DMP_MASK_HASH_PREFIX, hex);
}

typedef struct mask_ctx {
    const json_t *root;
    const dmp_mask_policy_t *pol;
    size_t masked;
} mask_ctx_t;

static json_t *masked_value(mask_ctx_t *m, const json_t *v)
{
    m->masked++;
    if (m->pol->mode == DMP_MASK_KEYED_HASH) {
        char *h = dmp_mask_hash_value(v, m->pol->key, m->pol->key_len);
        json_t *out = json_string(h);
        dmp_free(h);
        return out;
    }
    return json_string(DMP_MASK_REDACTED);
}

/* Collects the schemas that apply to a value: s itself, its resolved $ref and the
 * branches of allOf/anyOf/oneOf (recursively, bounded). */
static void applicable(mask_ctx_t *m, const json_t *s, const json_t **out, size_t *n, size_t cap,
                       int depth)
{
    if (!json_is_object(s) || *n >= cap || depth > 8)
        return;
    out[(*n)++] = s;
    const json_t *r = resolve_ref(m->root, s);
    if (r)
        applicable(m, r, out, n, cap, depth + 1);
    static const char *const lists[] = {"allOf", "anyOf", "oneOf"};
    for (size_t l = 0; l < 3; l++) {
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(s, lists[l]), i, b)
        {
            applicable(m, b, out, n, cap, depth + 1);
        }
    }
}

#define MASK_MAX_APPLICABLE 32

/* Returns a new reference: 'data' with classified values masked under the schemas
 * in[0..n) (all of which apply to it). */
static json_t *mask_node(mask_ctx_t *m, const json_t *const *in, size_t n, const json_t *data,
                         int depth)
{
    if (depth > MASK_MAX_DEPTH)
        return masked_value(m, data); /* deeper than we check: mask rather than leak */
    const json_t *as[MASK_MAX_APPLICABLE];
    size_t na = 0;
    for (size_t i = 0; i < n; i++)
        applicable(m, in[i], as, &na, MASK_MAX_APPLICABLE, 0);
    for (size_t i = 0; i < na; i++)
        if (is_pii(as[i]))
            return masked_value(m, data);
    const json_t *subs[MASK_MAX_APPLICABLE];
    size_t ns;
    if (json_is_object(data)) {
        json_t *out = json_object();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)data, k, v)
        {
            ns = 0;
            for (size_t i = 0; i < na && ns < MASK_MAX_APPLICABLE; i++) {
                const json_t *ps = json_object_get(json_object_get(as[i], "properties"), k);
                if (ps) {
                    subs[ns++] = ps;
                    continue;
                }
                /* Patterns are not evaluated: every pattern schema that carries a pii
                 * mark applies, which can only mask more, never less. */
                const char *pk;
                json_t *pv;
                int matched = 0;
                json_object_foreach((json_t *)json_object_get(as[i], "patternProperties"), pk,
                                    pv)
                {
                    if (ns < MASK_MAX_APPLICABLE && has_pii(m->root, pv, 0)) {
                        subs[ns++] = pv;
                        matched = 1;
                    }
                }
                const json_t *ap = json_object_get(as[i], "additionalProperties");
                if (!matched && json_is_object(ap) && ns < MASK_MAX_APPLICABLE)
                    subs[ns++] = ap;
            }
            json_object_set_new(out, k, ns ? mask_node(m, subs, ns, v, depth + 1)
                                           : json_deep_copy(v));
        }
        return out;
    }
    if (json_is_array(data)) {
        json_t *out = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(data, i, v)
        {
            ns = 0;
            for (size_t a = 0; a < na && ns < MASK_MAX_APPLICABLE; a++) {
                const json_t *pre = json_object_get(as[a], "prefixItems");
                if (json_is_array(pre) && i < json_array_size(pre))
                    subs[ns++] = json_array_get(pre, i);
                else if (json_is_object(json_object_get(as[a], "items")))
                    subs[ns++] = json_object_get(as[a], "items");
            }
            json_array_append_new(out, ns ? mask_node(m, subs, ns, v, depth + 1)
                                          : json_deep_copy(v));
        }
        return out;
    }
    return json_deep_copy(data);
}

int dmp_mask_json(const json_t *schema, const json_t *data, const dmp_principal_t *p,
                  const dmp_acl_t *acl, const dmp_mask_policy_t *policy, json_t **out,
                  dmp_error_t *err)
{
    *out = NULL;
    if (data == NULL)
        return DMP_ERR(err, DMP_INVALID, "nothing to mask");
    if (policy && policy->mode == DMP_MASK_KEYED_HASH && policy->key_len < 16)
        return DMP_ERR(err, DMP_INVALID,
                       "the masking key is %zu bytes; keyed hashing needs at least 16",
                       policy ? policy->key_len : 0);
    if (!json_is_object(schema) || dmp_mask_may_see_pii(p, acl) ||
        !dmp_mask_schema_has_pii(schema)) {
        *out = json_deep_copy(data);
        return DMP_OK;
    }
    dmp_mask_policy_t redact = {DMP_MASK_REDACT, NULL, 0};
    mask_ctx_t m = {schema, policy ? policy : &redact, 0};
    const json_t *top[1] = {schema};
    *out = mask_node(&m, top, 1, data, 0);
    return DMP_OK;
}
