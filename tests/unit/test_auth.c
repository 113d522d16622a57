/* test_auth.c -- authentication: token hashing (known SHA-256 vectors), token
 * generation, the tokens file (append, load, errors with file:line, revocation by
 * editing the file), bearer header parsing, JSON Web Tokens (HS256 and RS256: valid,
 * expired, not yet valid, wrong signature, alg none, algorithm confusion, issuer and
 * audience), the loopback rule, and the audit log (file lines, ring, queries). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmp/auth.h"

static char dir[256];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/dmp-test-auth-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *path_in(const char *name)
{
    return dmp_asprintf("%s/%s", dir, name);
}

static void test_hash_vectors(void **state)
{
    char h[65];
    assert_int_equal(dmp_token_hash("abc", h, NULL), DMP_OK);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(dmp_token_hash("", h, NULL), DMP_OK);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_generate(void **state)
{
    char a[DMP_TOKEN_NEW_LEN], b[DMP_TOKEN_NEW_LEN];
    assert_int_equal(dmp_token_generate(a, NULL), DMP_OK);
    assert_int_equal(dmp_token_generate(b, NULL), DMP_OK);
    assert_int_equal(strlen(a), 4 + 43);
    assert_memory_equal(a, "dmp_", 4);
    assert_string_not_equal(a, b);
    for (const char *p = a + 4; *p; p++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                               *p));
}

static dmp_auth_t *open_tokens(const char *file)
{
    dmp_auth_conf_t c = {.tokens_file = file};
    dmp_auth_t *a = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_auth_open(&c, &a, &err), DMP_OK);
    return a;
}

static int verify(dmp_auth_t *a, const char *hdr, dmp_principal_t **p, dmp_error_t *err)
{
    return dmp_auth_verify(a, hdr, p, err);
}

static char *bearer(const char *tok)
{
    return dmp_asprintf("Bearer %s", tok);
}

static void test_tokens_file_roundtrip(void **state)
{
    char *f = path_in("tokens.jsonl");
    char t1[DMP_TOKEN_NEW_LEN], t2[DMP_TOKEN_NEW_LEN];
    dmp_token_generate(t1, NULL);
    dmp_token_generate(t2, NULL);
    const char *g[] = {"london.hammersmith", "pii-reader:london"};
    assert_int_equal(dmp_tokens_append(f, t1, "alice", g, 2, 0, NULL, NULL), DMP_OK);
    assert_int_equal(dmp_tokens_append(f, t2, "root", NULL, 0, 1, "2001-01-01T00:00:00Z", NULL),
                     DMP_OK);
    /* only hashes are stored */
    char *text;
    size_t len;
    assert_int_equal(dmp_read_file(f, 1 << 20, &text, &len, NULL), DMP_OK);
    assert_null(strstr(text, t1));
    assert_null(strstr(text, t2));
    char h[65];
    dmp_token_hash(t1, h, NULL);
    assert_non_null(strstr(text, h));
    dmp_free(text);

    dmp_auth_t *a = open_tokens(f);
    assert_true(dmp_auth_enabled(a));
    dmp_principal_t *p = NULL;
    dmp_error_t err = {0};
    char *hdr = bearer(t1);
    assert_int_equal(verify(a, hdr, &p, &err), DMP_OK);
    assert_string_equal(p->name, "alice");
    assert_int_equal(p->n_groups, 2);
    assert_true(dmp_principal_in_group(p, "pii-reader:london"));
    assert_false(p->admin);
    dmp_principal_free(p);
    dmp_free(hdr);
    /* the scheme is case-insensitive */
    hdr = dmp_asprintf("bearer   %s  ", t1);
    assert_int_equal(verify(a, hdr, &p, &err), DMP_OK);
    dmp_principal_free(p);
    dmp_free(hdr);
    /* expired */
    hdr = bearer(t2);
    assert_int_equal(verify(a, hdr, &p, &err), DMP_UNAUTHENTICATED);
    assert_null(p);
    assert_non_null(strstr(err.msg, "expired"));
    assert_null(strstr(err.msg, t2));
    dmp_free(hdr);
    dmp_auth_close(a);
    dmp_free(f);
}

static void test_bad_headers(void **state)
{
    char *f = path_in("tokens2.jsonl");
    char t[DMP_TOKEN_NEW_LEN];
    dmp_token_generate(t, NULL);
    dmp_tokens_append(f, t, "bob", NULL, 0, 0, NULL, NULL);
    dmp_auth_t *a = open_tokens(f);
    static const char *bad[] = {
        NULL, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer dmp_unknown",
        "Bearer dmp_has space", "Bearer dmp_\"quote", "Bearer a.b.c", "Token abc",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        dmp_principal_t *p = NULL;
        dmp_error_t err = {0};
        assert_int_equal(verify(a, bad[i], &p, &err), DMP_UNAUTHENTICATED);
        assert_null(p);
        assert_true(err.msg[0] != '\0');
        if (bad[i] && strlen(bad[i]) > 7)
            assert_null(strstr(err.msg, bad[i] + 7)); /* the credential is never echoed */
    }
    /* an oversized token is refused without being looked at */
    char *big = dmp_malloc(DMP_TOKEN_MAX_LEN + 32);
    strcpy(big, "Bearer ");
    memset(big + 7, 'A', DMP_TOKEN_MAX_LEN + 10);
    big[DMP_TOKEN_MAX_LEN + 17] = '\0';
    dmp_principal_t *p = NULL;
    assert_int_equal(verify(a, big, &p, NULL), DMP_UNAUTHENTICATED);
    dmp_free(big);
    dmp_auth_close(a);
    dmp_free(f);
}

static void test_tokens_file_errors(void **state)
{
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"{\"principal\":\"a\",\"sha256\":\"00\"}\n", "bad.jsonl:1: sha256"},
        {"# comment\n\n{\"sha256\":\"" "0000000000000000000000000000000000000000000000000000000000000000"
         "\"}\n", "bad.jsonl:3: principal"},
        {"not json\n", "bad.jsonl:1:"},
        {"{\"principal\":\"a b\",\"sha256\":\""
         "0000000000000000000000000000000000000000000000000000000000000000\"}\n",
         "not allowed"},
        {"{\"principal\":\"a\",\"groups\":\"x\",\"sha256\":\""
         "0000000000000000000000000000000000000000000000000000000000000000\"}\n",
         "groups"},
        {"{\"principal\":\"a\",\"expires\":\"soon\",\"sha256\":\""
         "0000000000000000000000000000000000000000000000000000000000000000\"}\n",
         "expires"},
    };
    char *f = path_in("bad.jsonl");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        FILE *fp = fopen(f, "w");
        fputs(cases[i].text, fp);
        fclose(fp);
        json_t *recs = NULL;
        dmp_error_t err = {0};
        assert_int_not_equal(dmp_tokens_load(f, &recs, &err), DMP_OK);
        assert_null(recs);
        if (strstr(err.msg, cases[i].want) == NULL)
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].want);
        dmp_auth_conf_t c = {.tokens_file = f};
        dmp_auth_t *a = NULL;
        assert_int_not_equal(dmp_auth_open(&c, &a, NULL), DMP_OK);
        assert_null(a);
    }
    dmp_free(f);
    /* a missing file is a startup error naming the fix */
    dmp_auth_conf_t c = {.tokens_file = "/nonexistent/tokens"};
    dmp_auth_t *a = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_auth_open(&c, &a, &err), DMP_INVALID);
    assert_non_null(strstr(err.msg, "dmp token create"));
    /* bad names are refused when appending */
    assert_int_equal(dmp_tokens_append("/tmp/x", "t", "has,comma", NULL, 0, 0, NULL, NULL),
                     DMP_INVALID);
}

static void test_revocation_by_edit(void **state)
{
    char *f = path_in("rev.jsonl");
    char t1[DMP_TOKEN_NEW_LEN], t2[DMP_TOKEN_NEW_LEN];
    dmp_token_generate(t1, NULL);
    dmp_token_generate(t2, NULL);
    dmp_tokens_append(f, t1, "keep", NULL, 0, 0, NULL, NULL);
    dmp_auth_t *a = open_tokens(f);
    char *h1 = bearer(t1), *h2 = bearer(t2);
    dmp_principal_t *p = NULL;
    assert_int_equal(verify(a, h2, &p, NULL), DMP_UNAUTHENTICATED);
    /* add t2, drop t1: rewrite the file */
    char *tmp = path_in("rev.new");
    dmp_tokens_append(tmp, t2, "new", NULL, 0, 0, NULL, NULL);
    assert_int_equal(rename(tmp, f), 0);
    sleep(1); /* the file is checked at most once a second */
    usleep(150 * 1000);
    assert_int_equal(verify(a, h1, &p, NULL), DMP_UNAUTHENTICATED);
    assert_int_equal(verify(a, h2, &p, NULL), DMP_OK);
    assert_string_equal(p->name, "new");
    dmp_principal_free(p);
    dmp_free(h1);
    dmp_free(h2);
    dmp_free(tmp);
    dmp_auth_close(a);
    dmp_free(f);
}

/* ---- JWT */

static const char HS_KEY[] = "0123456789abcdef0123456789abcdef-test-secret";

static char *make_jwt(jwt_alg_t alg, const unsigned char *key, size_t key_len, const char *sub,
                      long exp_delta, long nbf_delta, const char *iss, const char *aud,
                      const char *groups_json)
{
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    long now = (long)(dmp_now_ms() / 1000);
    if (sub)
        jwt_add_grant(j, "sub", sub);
    if (exp_delta != 0)
        jwt_add_grant_int(j, "exp", now + exp_delta);
    if (nbf_delta != 0)
        jwt_add_grant_int(j, "nbf", now + nbf_delta);
    if (iss)
        jwt_add_grant(j, "iss", iss);
    if (aud)
        jwt_add_grant(j, "aud", aud);
    if (groups_json) {
        char *g = dmp_asprintf("{\"groups\":%s}", groups_json);
        jwt_add_grants_json(j, g);
        dmp_free(g);
    }
    assert_int_equal(jwt_set_alg(j, alg, key, (int)key_len), 0);
    char *s = jwt_encode_str(j);
    jwt_free(j);
    assert_non_null(s);
    char *out = dmp_strdup(s);
    free(s);
    return out;
}

static int jwt_verify(dmp_auth_t *a, const char *tok, dmp_principal_t **p, dmp_error_t *err)
{
    char *h = bearer(tok);
    int rc = dmp_auth_verify(a, h, p, err);
    dmp_free(h);
    return rc;
}

static void test_jwt_hs256(void **state)
{
    dmp_auth_conf_t c = {.jwt_hs256_secret = HS_KEY, .jwt_hs256_secret_len = strlen(HS_KEY),
                         .jwt_issuer = "https://idp.example", .jwt_audience = "dmp"};
    dmp_auth_t *a = NULL;
    assert_int_equal(dmp_auth_open(&c, &a, NULL), DMP_OK);
    const unsigned char *k = (const unsigned char *)HS_KEY;
    size_t kl = strlen(HS_KEY);
    dmp_principal_t *p = NULL;
    dmp_error_t err = {0};

    char *ok = make_jwt(JWT_ALG_HS256, k, kl, "carol", 300, -10, "https://idp.example", "dmp",
                        "[\"london\",\"finance\"]");
    assert_int_equal(jwt_verify(a, ok, &p, &err), DMP_OK);
    assert_string_equal(p->name, "carol");
    assert_int_equal(p->n_groups, 2);
    assert_true(dmp_principal_in_group(p, "finance"));
    dmp_principal_free(p);
    p = NULL;

    struct {
        char *tok;
        const char *why;
    } bad[] = {
        {make_jwt(JWT_ALG_HS256, k, kl, "carol", -120, 0, "https://idp.example", "dmp", NULL),
         "expired"},
        {make_jwt(JWT_ALG_HS256, k, kl, "carol", 300, 600, "https://idp.example", "dmp", NULL),
         "not valid yet"},
        {make_jwt(JWT_ALG_HS256, (const unsigned char *)"another-secret-of-32-bytes-long!!", 33,
                  "carol", 300, 0, "https://idp.example", "dmp", NULL),
         "signature"},
        {make_jwt(JWT_ALG_HS256, k, kl, "carol", 300, 0, "https://evil.example", "dmp", NULL),
         "issuer"},
        {make_jwt(JWT_ALG_HS256, k, kl, "carol", 300, 0, "https://idp.example", "other", NULL),
         "audience"},
        {make_jwt(JWT_ALG_HS256, k, kl, NULL, 300, 0, "https://idp.example", "dmp", NULL), "sub"},
        {make_jwt(JWT_ALG_HS256, k, kl, "carol", 0, 0, "https://idp.example", "dmp", NULL),
         "exp"},
        /* a different HMAC size is a different algorithm: refused */
        {make_jwt(JWT_ALG_HS512, k, kl, "carol", 300, 0, "https://idp.example", "dmp", NULL),
         "signature"},
        /* alg none, unsigned */
        {make_jwt(JWT_ALG_NONE, NULL, 0, "carol", 300, 0, "https://idp.example", "dmp", NULL),
         ""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        dmp_error_clear(&err);
        int rc = jwt_verify(a, bad[i].tok, &p, &err);
        if (rc != DMP_UNAUTHENTICATED)
            fail_msg("case %zu (%s) was accepted", i, bad[i].why);
        assert_null(p);
        if (strstr(err.msg, bad[i].why) == NULL)
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i].why);
        dmp_free(bad[i].tok);
    }
    /* a tampered payload with the original signature */
    char *dot1 = strchr(ok, '.');
    dot1[2] = dot1[2] == 'A' ? 'B' : 'A';
    assert_int_equal(jwt_verify(a, ok, &p, &err), DMP_UNAUTHENTICATED);
    dmp_free(ok);
    /* a short secret is refused at startup */
    dmp_auth_conf_t c2 = {.jwt_hs256_secret = "short", .jwt_hs256_secret_len = 5};
    dmp_auth_t *a2 = NULL;
    assert_int_equal(dmp_auth_open(&c2, &a2, NULL), DMP_INVALID);
    dmp_auth_close(a);
}

/* Makes an RSA key pair with openssl; returns 0 on success. */
static int rsa_pair(char **priv, char **pub)
{
    char *kp = path_in("rsa.key"), *pp = path_in("rsa.pub");
    char *cmd = dmp_asprintf("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
                             "-out %s 2>/dev/null && openssl pkey -in %s -pubout -out %s "
                             "2>/dev/null",
                             kp, kp, pp);
    int rc = system(cmd);
    dmp_free(cmd);
    size_t n;
    if (rc == 0)
        rc = dmp_read_file(kp, 1 << 16, priv, &n, NULL) | dmp_read_file(pp, 1 << 16, pub, &n, NULL);
    dmp_free(kp);
    dmp_free(pp);
    return rc;
}

static void test_jwt_rs256(void **state)
{
    char *priv = NULL, *pub = NULL;
    assert_int_equal(rsa_pair(&priv, &pub), 0);
    dmp_auth_conf_t c = {.jwt_rs256_pubkey = pub};
    dmp_auth_t *a = NULL;
    assert_int_equal(dmp_auth_open(&c, &a, NULL), DMP_OK);
    dmp_principal_t *p = NULL;
    dmp_error_t err = {0};
    char *ok = make_jwt(JWT_ALG_RS256, (unsigned char *)priv, strlen(priv), "dave", 300, 0,
                        NULL, NULL, "\"single-group\"");
    assert_int_equal(jwt_verify(a, ok, &p, &err), DMP_OK);
    assert_string_equal(p->name, "dave");
    assert_int_equal(p->n_groups, 1);
    assert_string_equal(p->groups[0], "single-group");
    dmp_principal_free(p);
    p = NULL;
    /* algorithm confusion: HS256 signed with the public key as the HMAC secret */
    char *conf = make_jwt(JWT_ALG_HS256, (unsigned char *)pub, strlen(pub), "mallory", 300, 0,
                          NULL, NULL, NULL);
    assert_int_equal(jwt_verify(a, conf, &p, &err), DMP_UNAUTHENTICATED);
    assert_null(p);
    /* alg none */
    char *none = make_jwt(JWT_ALG_NONE, NULL, 0, "mallory", 300, 0, NULL, NULL, NULL);
    assert_int_equal(jwt_verify(a, none, &p, &err), DMP_UNAUTHENTICATED);
    /* expired RS256 */
    char *old = make_jwt(JWT_ALG_RS256, (unsigned char *)priv, strlen(priv), "dave", -100, 0,
                         NULL, NULL, NULL);
    assert_int_equal(jwt_verify(a, old, &p, &err), DMP_UNAUTHENTICATED);
    assert_non_null(strstr(err.msg, "expired"));
    /* an opaque token when only JWTs are configured */
    assert_int_equal(dmp_auth_verify(a, "Bearer dmp_abc", &p, &err), DMP_UNAUTHENTICATED);
    /* a key that is not PEM */
    dmp_auth_conf_t c2 = {.jwt_rs256_pubkey = "not a key"};
    dmp_auth_t *a2 = NULL;
    assert_int_equal(dmp_auth_open(&c2, &a2, NULL), DMP_INVALID);
    dmp_free(ok);
    dmp_free(conf);
    dmp_free(none);
    dmp_free(old);
    dmp_free(priv);
    dmp_free(pub);
    dmp_auth_close(a);
}

static void test_dev_mode_and_loopback(void **state)
{
    dmp_auth_conf_t c = {0};
    dmp_auth_t *a = NULL;
    assert_int_equal(dmp_auth_open(&c, &a, NULL), DMP_OK);
    assert_false(dmp_auth_enabled(a));
    assert_false(dmp_auth_enabled(NULL));
    assert_true(dmp_auth_dev_principal()->admin);
    dmp_auth_close(a);
    assert_true(dmp_auth_listen_is_loopback("127.0.0.1:8181"));
    assert_true(dmp_auth_listen_is_loopback("127.1.2.3:0"));
    assert_true(dmp_auth_listen_is_loopback("localhost:80"));
    assert_true(dmp_auth_listen_is_loopback("[::1]:8181"));
    assert_false(dmp_auth_listen_is_loopback("0.0.0.0:8181"));
    assert_false(dmp_auth_listen_is_loopback("10.0.0.1:8181"));
    assert_false(dmp_auth_listen_is_loopback("[::]:8181"));
    assert_false(dmp_auth_listen_is_loopback("127.evil.com:80"));
    /* the security wiring refuses a public address without credentials */
    dmp_security_conf_t sc = {.listen = "0.0.0.0:8181", .data_dir = dir};
    dmp_security_t sec;
    dmp_error_t err = {0};
    assert_int_equal(dmp_security_open(&sc, &sec, &err), DMP_INVALID);
    assert_non_null(strstr(err.msg, "--tokens"));
    sc.listen = "127.0.0.1:8181";
    sc.tls_cert_file = "/x.pem";
    assert_int_equal(dmp_security_open(&sc, &sec, &err), DMP_INVALID);
    assert_non_null(strstr(err.msg, "tls-key"));
    sc.tls_cert_file = NULL;
    sc.mask_mode = "hash";
    assert_int_equal(dmp_security_open(&sc, &sec, &err), DMP_INVALID);
    sc.mask_mode = "redact";
    assert_int_equal(dmp_security_open(&sc, &sec, &err), DMP_OK);
    assert_non_null(sec.audit);
    dmp_security_close(&sec);
}

/* ---- audit */

static void test_audit(void **state)
{
    char *f = path_in("audit.log");
    dmp_audit_t *au = NULL;
    assert_int_equal(dmp_audit_open(f, 4, &au, NULL), DMP_OK);
    dmp_audit_record(au, "alice", "london/orders", "events", "read", "allowed", 200);
    dmp_audit_record(au, "bob", "london/orders", NULL, "apply", "denied", 403);
    dmp_audit_record(au, "carol", "paris/x", "p", "read", "notfound", 404);
    json_t *q = dmp_audit_query(au, "london/orders", 0);
    assert_int_equal(json_array_size(q), 2);
    /* newest first */
    assert_string_equal(json_string_value(json_object_get(json_array_get(q, 0), "principal")),
                        "bob");
    assert_string_equal(json_string_value(json_object_get(json_array_get(q, 0), "outcome")),
                        "denied");
    assert_true(json_is_null(json_object_get(json_array_get(q, 0), "port")));
    json_decref(q);
    q = dmp_audit_query(au, NULL, 1);
    assert_int_equal(json_array_size(q), 1);
    json_decref(q);
    /* the ring keeps the newest 4 */
    for (int i = 0; i < 10; i++)
        dmp_audit_record(au, "x", "a/b", NULL, "read", "allowed", 200);
    q = dmp_audit_query(au, NULL, 0);
    assert_int_equal(json_array_size(q), 4);
    json_decref(q);
    q = dmp_audit_query(au, "london/orders", 0);
    assert_int_equal(json_array_size(q), 0);
    json_decref(q);
    dmp_audit_close(au);
    /* the file has every record, one JSON object per line */
    char *text;
    size_t len;
    assert_int_equal(dmp_read_file(f, 1 << 20, &text, &len, NULL), DMP_OK);
    int lines = 0;
    for (char *p = text; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    assert_int_equal(lines, 13);
    json_t *first = json_loadb(text, strcspn(text, "\n"), 0, NULL);
    assert_non_null(first);
    assert_string_equal(json_string_value(json_object_get(first, "action")), "read");
    assert_non_null(json_object_get(first, "time"));
    json_decref(first);
    dmp_free(text);
    dmp_free(f);
    assert_string_equal(dmp_audit_outcome(DMP_DENIED), "denied");
    assert_string_equal(dmp_audit_outcome(DMP_NOTFOUND), "notfound");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_vectors),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_tokens_file_roundtrip),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_tokens_file_errors),
        cmocka_unit_test(test_revocation_by_edit),
        cmocka_unit_test(test_jwt_hs256),
        cmocka_unit_test(test_jwt_rs256),
        cmocka_unit_test(test_dev_mode_and_loopback),
        cmocka_unit_test(test_audit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
