/* auth.c -- principals and the authenticator: "Authorization: Bearer <token>" ->
 * dmp_principal_t. Opaque tokens are looked up by SHA-256 in the tokens file
 * (tokens.c); three-part tokens are JWTs verified by libjwt against the configured
 * HS256 secret or RS256 public key, with the algorithm pinned to the key's (so an
 * "alg":"none" token, or an HS256 token signed with the RSA public key, fails).
 * No message built here ever contains the credential. */
#include <jwt.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "governance/auth_int.h"

/* ---- principals */

dmp_principal_t *dmp_principal_new(const char *name, const char *const *groups, size_t n_groups,
                                   int admin)
{
    dmp_principal_t *p = dmp_calloc(1, sizeof(*p));
    p->name = dmp_strdup(name ? name : "");
    p->groups = dmp_calloc(n_groups ? n_groups : 1, sizeof(char *));
    for (size_t i = 0; i < n_groups; i++)
        p->groups[i] = dmp_strdup(groups[i]);
    p->n_groups = n_groups;
    p->admin = admin ? 1 : 0;
    return p;
}

dmp_principal_t *dmp_principal_dup(const dmp_principal_t *p)
{
    if (p == NULL)
        return NULL;
    return dmp_principal_new(p->name, (const char *const *)p->groups, p->n_groups, p->admin);
}

void dmp_principal_free(dmp_principal_t *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_groups; i++)
        dmp_free(p->groups[i]);
    dmp_free(p->groups);
    dmp_free(p->name);
    dmp_free(p);
}

int dmp_principal_in_group(const dmp_principal_t *p, const char *group)
{
    if (p == NULL || group == NULL)
        return 0;
    for (size_t i = 0; i < p->n_groups; i++)
        if (strcmp(p->groups[i], group) == 0)
            return 1;
    return 0;
}

json_t *dmp_principal_to_json(const dmp_principal_t *p)
{
    json_t *gs = json_array();
    for (size_t i = 0; i < p->n_groups; i++)
        json_array_append_new(gs, json_string(p->groups[i]));
    return json_pack("{s:s,s:o,s:b}", "name", p->name, "groups", gs, "admin", p->admin);
}

/* Principal from a JSON array of group strings (NULL/non-array: none). */
static dmp_principal_t *principal_from(const char *name, json_t *groups, int admin)
{
    size_t n = json_is_array(groups) ? json_array_size(groups) : 0;
    const char **gv = dmp_calloc(n ? n : 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *g = json_string_value(json_array_get(groups, i));
        if (g != NULL && dmp_auth_check_name("group", g, NULL) == DMP_OK)
            gv[k++] = g;
    }
    dmp_principal_t *p = dmp_principal_new(name, gv, k, admin);
    dmp_free(gv);
    return p;
}

/* ---- the authenticator */

struct dmp_auth {
    char *tokens_file;
    pthread_mutex_t mu;
    json_t *tokens;         /* records of the tokens file (under mu) */
    struct stat st;         /* of the loaded file: inode, size, times */
    int64_t checked_ms;     /* last stat() */
    unsigned char *hs_key;
    size_t hs_len;
    char *rs_key;
    char *issuer;
    char *audience;
    char *groups_claim;
    int leeway_s;
};

int dmp_auth_open(const dmp_auth_conf_t *conf, dmp_auth_t **out, dmp_error_t *err)
{
    *out = NULL;
    dmp_auth_t *a = dmp_calloc(1, sizeof(*a));
    pthread_mutex_init(&a->mu, NULL);
    if (conf->tokens_file && conf->tokens_file[0]) {
        a->tokens_file = dmp_strdup(conf->tokens_file);
        struct stat st;
        int rc;
        if (stat(a->tokens_file, &st) != 0) {
            rc = DMP_ERR(err, DMP_INVALID, "tokens file %s does not exist (make one with 'dmp "
                                           "token create --tokens %s --principal NAME')",
                         a->tokens_file, a->tokens_file);
            dmp_auth_close(a);
            return rc;
        }
        if ((rc = dmp_tokens_load(a->tokens_file, &a->tokens, err)) != DMP_OK) {
            dmp_auth_close(a);
            return rc;
        }
        a->st = st;
        a->checked_ms = dmp_now_ms();
    }
    if (conf->jwt_hs256_secret && conf->jwt_hs256_secret_len > 0) {
        if (conf->jwt_hs256_secret_len < 32) {
            dmp_auth_close(a);
            return DMP_ERR(err, DMP_INVALID,
                           "the HS256 secret is %zu bytes; at least 32 are required",
                           conf->jwt_hs256_secret_len);
        }
        a->hs_key = dmp_malloc(conf->jwt_hs256_secret_len);
        memcpy(a->hs_key, conf->jwt_hs256_secret, conf->jwt_hs256_secret_len);
        a->hs_len = conf->jwt_hs256_secret_len;
    }
    if (conf->jwt_rs256_pubkey && conf->jwt_rs256_pubkey[0]) {
        if (strstr(conf->jwt_rs256_pubkey, "-----BEGIN PUBLIC KEY-----") == NULL) {
            dmp_auth_close(a);
            return DMP_ERR(err, DMP_INVALID,
                           "the RS256 public key is not a PEM 'BEGIN PUBLIC KEY' block");
        }
        a->rs_key = dmp_strdup(conf->jwt_rs256_pubkey);
    }
    a->issuer = conf->jwt_issuer && conf->jwt_issuer[0] ? dmp_strdup(conf->jwt_issuer) : NULL;
    a->audience =
        conf->jwt_audience && conf->jwt_audience[0] ? dmp_strdup(conf->jwt_audience) : NULL;
    a->groups_claim = dmp_strdup(
        conf->jwt_groups_claim && conf->jwt_groups_claim[0] ? conf->jwt_groups_claim : "groups");
    a->leeway_s = conf->jwt_leeway_s < 0 ? 0 : conf->jwt_leeway_s;
    *out = a;
    return DMP_OK;
}

void dmp_auth_close(dmp_auth_t *a)
{
    if (a == NULL)
        return;
    json_decref(a->tokens);
    if (a->hs_key) {
        memset(a->hs_key, 0, a->hs_len);
        dmp_free(a->hs_key);
    }
    dmp_free(a->rs_key);
    dmp_free(a->issuer);
    dmp_free(a->audience);
    dmp_free(a->groups_claim);
    dmp_free(a->tokens_file);
    pthread_mutex_destroy(&a->mu);
    dmp_free(a);
}

int dmp_auth_enabled(const dmp_auth_t *a)
{
    return a != NULL && (a->tokens_file != NULL || a->hs_key != NULL || a->rs_key != NULL);
}

/* Re-reads the tokens file when it changed (stat at most once a second). A file
 * that stops parsing keeps the last good set, with a warning. Caller holds mu. */
static void maybe_reload(dmp_auth_t *a)
{
    int64_t now = dmp_now_ms();
    if (now - a->checked_ms < 1000)
        return;
    a->checked_ms = now;
    struct stat st;
    if (stat(a->tokens_file, &st) != 0) {
        /* A removed file revokes every token. */
        if (json_array_size(a->tokens) > 0)
            dmp_log(DMP_LOG_WARN, "tokens file is gone: every token is revoked", "file",
                    a->tokens_file, NULL);
        json_array_clear(a->tokens);
        memset(&a->st, 0, sizeof(a->st));
        return;
    }
    /* File times are coarse (one tick), so the inode (a rename), size and ctime count too. */
    if (st.st_ino == a->st.st_ino && st.st_dev == a->st.st_dev && st.st_size == a->st.st_size &&
        st.st_mtim.tv_sec == a->st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == a->st.st_mtim.tv_nsec &&
        st.st_ctim.tv_sec == a->st.st_ctim.tv_sec && st.st_ctim.tv_nsec == a->st.st_ctim.tv_nsec)
        return;
    json_t *fresh = NULL;
    dmp_error_t e = {0};
    if (dmp_tokens_load(a->tokens_file, &fresh, &e) != DMP_OK) {
        dmp_log(DMP_LOG_WARN, "tokens file did not reload; keeping the previous tokens",
                "detail", e.msg, NULL);
        a->st = st;
        return;
    }
    json_decref(a->tokens);
    a->tokens = fresh;
    a->st = st;
    char n[32];
    snprintf(n, sizeof(n), "%zu", json_array_size(fresh));
    dmp_log(DMP_LOG_INFO, "tokens file reloaded", "file", a->tokens_file, "tokens", n, NULL);
}

static int verify_opaque(dmp_auth_t *a, const char *token, dmp_principal_t **out,
                         dmp_error_t *err)
{
    if (a->tokens_file == NULL)
        return DMP_ERR(err, DMP_UNAUTHENTICATED, "opaque tokens are not accepted here");
    char hash[65];
    int rc = dmp_token_hash(token, hash, err);
    if (rc != DMP_OK)
        return rc;
    pthread_mutex_lock(&a->mu);
    maybe_reload(a);
    json_t *hit = NULL;
    size_t i;
    json_t *rec;
    json_array_foreach(a->tokens, i, rec)
    {
        const char *h = json_string_value(json_object_get(rec, "sha256"));
        if (dmp_auth_ct_eq(h, hash, 64) && hit == NULL)
            hit = rec;
    }
    rc = DMP_OK;
    if (hit == NULL) {
        rc = DMP_ERR(err, DMP_UNAUTHENTICATED, "the bearer token is not known");
    } else {
        const char *ex = json_string_value(json_object_get(hit, "expires"));
        int64_t ms;
        if (ex && dmp_time_parse(ex, &ms) == DMP_OK && ms <= dmp_now_ms())
            rc = DMP_ERR(err, DMP_UNAUTHENTICATED, "the bearer token expired at %s", ex);
        else
            *out = principal_from(json_string_value(json_object_get(hit, "principal")),
                                  json_object_get(hit, "groups"),
                                  json_is_true(json_object_get(hit, "admin")));
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

int dmp_auth_principal_active(dmp_auth_t *a, const char *name)
{
    if (!dmp_auth_enabled(a))
        return 1; /* dev mode: every caller is the dev principal */
    if (name == NULL)
        return 0;
    /* JWTs are not listed anywhere: they stay valid until they expire. */
    int active = a->hs_key != NULL || a->rs_key != NULL;
    if (a->tokens_file == NULL)
        return active;
    pthread_mutex_lock(&a->mu);
    maybe_reload(a);
    size_t i;
    json_t *rec;
    int64_t now = dmp_now_ms();
    json_array_foreach(a->tokens, i, rec)
    {
        if (!dmp_str_eq(json_string_value(json_object_get(rec, "principal")), name))
            continue;
        const char *ex = json_string_value(json_object_get(rec, "expires"));
        int64_t ms;
        if (ex == NULL || dmp_time_parse(ex, &ms) != DMP_OK || ms > now) {
            active = 1;
            break;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return active;
}

/* "aud" is a string or an array of strings. */
static int aud_has(json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
            return 1;
    }
    return 0;
}

/* Checks the claims of a verified token and builds the principal. */
static int jwt_claims(dmp_auth_t *a, jwt_t *jwt, dmp_principal_t **out, dmp_error_t *err)
{
    char *js = jwt_get_grants_json(jwt, NULL);
    json_t *c = js ? json_loads(js, 0, NULL) : NULL;
    free(js);
    int rc = DMP_OK;
    if (!json_is_object(c)) {
        rc = DMP_ERR(err, DMP_UNAUTHENTICATED, "the token's claims are not a JSON object");
        goto out;
    }
    const char *sub = json_string_value(json_object_get(c, "sub"));
    if (sub == NULL || dmp_auth_check_name("sub", sub, NULL) != DMP_OK) {
        rc = DMP_ERR(err, DMP_UNAUTHENTICATED,
                     "the token has no usable 'sub' claim (1 to 256 printable characters)");
        goto out;
    }
    int64_t now = dmp_now_ms() / 1000;
    json_t *exp = json_object_get(c, "exp");
    if (!json_is_number(exp)) {
        rc = DMP_ERR(err, DMP_UNAUTHENTICATED, "the token has no numeric 'exp' claim");
        goto out;
    }
    if ((int64_t)json_number_value(exp) + a->leeway_s <= now) {
        rc = DMP_ERR(err, DMP_UNAUTHENTICATED, "the token expired");
        goto out;
    }
    json_t *nbf = json_object_get(c, "nbf");
    if (nbf != NULL && (!json_is_number(nbf) || (int64_t)json_number_value(nbf) - a->leeway_s > now)) {
        rc = DMP_ERR(err, DMP_UNAUTHENTICATED, "the token is not valid yet ('nbf')");
        goto out;
    }
    if (a->issuer && !dmp_str_eq(json_string_value(json_object_get(c, "iss")), a->issuer)) {
        rc = DMP_ERR(err, DMP_UNAUTHENTICATED, "the token's issuer is not '%s'", a->issuer);
        goto out;
    }
    if (a->audience && !aud_has(json_object_get(c, "aud"), a->audience)) {
        rc = DMP_ERR(err, DMP_UNAUTHENTICATED, "the token's audience does not include '%s'",
                     a->audience);
        goto out;
    }
    json_t *groups = json_object_get(c, a->groups_claim);
    if (json_is_string(groups)) {
        json_t *one = json_array();
        json_array_append(one, groups);
        *out = principal_from(sub, one, json_is_true(json_object_get(c, "admin")));
        json_decref(one);
    } else {
        *out = principal_from(sub, groups, json_is_true(json_object_get(c, "admin")));
    }
out:
    json_decref(c);
    return rc;
}

typedef struct jwt_key {
    jwt_alg_t alg;
    const unsigned char *key;
    size_t len;
} jwt_key_t;

static int verify_jwt(dmp_auth_t *a, const char *token, dmp_principal_t **out, dmp_error_t *err)
{
    jwt_key_t keys[2];
    int nk = 0;
    if (a->rs_key)
        keys[nk++] = (jwt_key_t){JWT_ALG_RS256, (const unsigned char *)a->rs_key,
                                 strlen(a->rs_key)};
    if (a->hs_key)
        keys[nk++] = (jwt_key_t){JWT_ALG_HS256, a->hs_key, a->hs_len};
    if (nk == 0)
        return DMP_ERR(err, DMP_UNAUTHENTICATED, "JSON Web Tokens are not accepted here");
    for (int i = 0; i < nk; i++) {
        jwt_t *jwt = NULL;
        if (jwt_decode(&jwt, token, keys[i].key, (int)keys[i].len) != 0) {
            jwt_free(jwt);
            continue;
        }
        /* Pin the algorithm: libjwt verifies with whatever the header names. */
        if (jwt_get_alg(jwt) != keys[i].alg) {
            jwt_free(jwt);
            continue;
        }
        int rc = jwt_claims(a, jwt, out, err);
        jwt_free(jwt);
        return rc;
    }
    return DMP_ERR(err, DMP_UNAUTHENTICATED,
                   "the token's signature does not verify with the configured %s key",
                   nk == 2 ? "HS256 or RS256" : (a->rs_key ? "RS256" : "HS256"));
}

int dmp_auth_verify(dmp_auth_t *a, const char *authz, dmp_principal_t **out, dmp_error_t *err)
{
    *out = NULL;
    if (authz == NULL || *authz == '\0')
        return DMP_ERR(err, DMP_UNAUTHENTICATED,
                       "authentication required: send 'Authorization: Bearer <token>'");
    if (strncasecmp(authz, "Bearer ", 7) != 0)
        return DMP_ERR(err, DMP_UNAUTHENTICATED,
                       "the Authorization header must use the Bearer scheme");
    const char *t = authz + 7;
    while (*t == ' ')
        t++;
    size_t n = strnlen(t, DMP_TOKEN_MAX_LEN + 1);
    while (n > 0 && t[n - 1] == ' ')
        n--;
    if (n == 0 || n > DMP_TOKEN_MAX_LEN)
        return DMP_ERR(err, DMP_UNAUTHENTICATED, "the bearer token is empty or too long");
    /* RFC 6750 b64token characters only */
    int dots = 0;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' ||
                 c == '=';
        if (!ok)
            return DMP_ERR(err, DMP_UNAUTHENTICATED,
                           "the bearer token has a character outside the token alphabet");
        dots += c == '.';
    }
    char *tok = dmp_strndup(t, n);
    int rc = dots == 2 ? verify_jwt(a, tok, out, err) : verify_opaque(a, tok, out, err);
    memset(tok, 0, n);
    dmp_free(tok);
    return rc;
}

const dmp_principal_t *dmp_auth_dev_principal(void)
{
    static char name[] = "anonymous";
    static dmp_principal_t dev = {name, NULL, 0, 1};
    return &dev;
}

int dmp_auth_listen_is_loopback(const char *listen)
{
    if (listen == NULL)
        return 0;
    const char *colon = strrchr(listen, ':');
    size_t hl = colon ? (size_t)(colon - listen) : strlen(listen);
    if ((hl == 9 && !strncmp(listen, "localhost", 9)) || (hl == 5 && !strncmp(listen, "[::1]", 5)))
        return 1;
    /* 127.0.0.0/8 */
    if (hl >= 4 && !strncmp(listen, "127.", 4)) {
        for (size_t i = 4; i < hl; i++)
            if (!((listen[i] >= '0' && listen[i] <= '9') || listen[i] == '.'))
                return 0;
        return 1;
    }
    return 0;
}
