/* tokens.c -- opaque bearer tokens: generation (GnuTLS random), SHA-256 hashing
 * (GnuTLS), and the tokens file, which stores one JSON object per line and never
 * the token itself:
 *   {"id":"<uuid>","principal":"alice","groups":["london"],"admin":false,
 *    "sha256":"<64 hex>","created":"2026-...Z","expires":"2027-...Z"}
 * Blank lines and lines starting with '#' are ignored. docs/security.md. */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>
#include <unistd.h>

#include "governance/auth_int.h"

void dmp_auth_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int dmp_auth_ct_eq(const char *a, const char *b, size_t n)
{
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

int dmp_token_hash(const char *token, char out[65], dmp_error_t *err)
{
    unsigned char dig[32];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, token, strlen(token), dig) != 0)
        return DMP_ERR(err, DMP_IO, "sha-256 is not available from gnutls");
    dmp_auth_hex(dig, sizeof(dig), out);
    return DMP_OK;
}

int dmp_token_generate(char out[DMP_TOKEN_NEW_LEN], dmp_error_t *err)
{
    static const char b64u[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char rnd[32];
    if (gnutls_rnd(GNUTLS_RND_KEY, rnd, sizeof(rnd)) != 0)
        return DMP_ERR(err, DMP_IO, "the random generator failed");
    size_t o = strlen(DMP_TOKEN_PREFIX);
    memcpy(out, DMP_TOKEN_PREFIX, o);
    /* base64url without padding: 32 bytes -> 43 characters */
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < sizeof(rnd); i++) {
        acc = (acc << 8) | rnd[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64u[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[o++] = b64u[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    gnutls_memset(rnd, 0, sizeof(rnd));
    return DMP_OK;
}

int dmp_auth_check_name(const char *what, const char *s, dmp_error_t *err)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 256)
        return DMP_ERR(err, DMP_INVALID, "%s must be 1 to 256 characters", what);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c == 0x7f || c == ',' || c == '"' || c == '\\')
            return DMP_ERR(err, DMP_INVALID,
                           "%s '%.64s' has a character that is not allowed (spaces, control "
                           "characters, commas, quotes and backslashes are not)",
                           what, s);
    }
    return DMP_OK;
}

int dmp_tokens_append(const char *path, const char *token, const char *principal,
                      const char *const *groups, size_t n_groups, int admin,
                      const char *expires, dmp_error_t *err)
{
    int rc;
    if ((rc = dmp_auth_check_name("principal", principal, err)) != DMP_OK)
        return rc;
    for (size_t i = 0; i < n_groups; i++)
        if ((rc = dmp_auth_check_name("group", groups[i], err)) != DMP_OK)
            return rc;
    int64_t exp_ms = 0;
    if (expires && dmp_time_parse(expires, &exp_ms) != DMP_OK)
        return DMP_ERR(err, DMP_INVALID,
                       "expires '%.64s' is not an RFC 3339 time (2027-01-31T00:00:00Z)", expires);
    char hash[65], id[37], now[32];
    if ((rc = dmp_token_hash(token, hash, err)) != DMP_OK)
        return rc;
    dmp_uuid_v7(id);
    dmp_time_format(dmp_now_ms(), now);
    json_t *gs = json_array();
    for (size_t i = 0; i < n_groups; i++)
        json_array_append_new(gs, json_string(groups[i]));
    json_t *rec = json_pack("{s:s,s:s,s:o,s:b,s:s,s:s}", "id", id, "principal", principal,
                            "groups", gs, "admin", admin, "sha256", hash, "created", now);
    if (expires) {
        char e[32];
        dmp_time_format(exp_ms, e);
        json_object_set_new(rec, "expires", json_string(e));
    }
    char *line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(rec);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = DMP_ERR(err, DMP_IO, "cannot open tokens file %s: %s", path, strerror(errno));
        free(line);
        return rc;
    }
    size_t len = strlen(line);
    line[len] = '\n'; /* json_dumps leaves room: replace the NUL, write len+1 bytes */
    ssize_t w = write(fd, line, len + 1);
    int sync_rc = fsync(fd);
    close(fd);
    free(line);
    if (w != (ssize_t)(len + 1) || sync_rc != 0)
        return DMP_ERR(err, DMP_IO, "cannot write tokens file %s: %s", path, strerror(errno));
    return DMP_OK;
}

static int is_hex64(const char *s)
{
    if (s == NULL || strlen(s) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Checks one record; the message names the file, the line and the field. */
static int check_record(const char *path, int line, json_t *rec, dmp_error_t *err)
{
    if (!json_is_object(rec))
        return DMP_ERR(err, DMP_PARSE, "%s:%d: a token record must be a JSON object", path,
                       line);
    json_t *pr = json_object_get(rec, "principal");
    dmp_error_t e2 = {0};
    if (!json_is_string(pr) ||
        dmp_auth_check_name("principal", json_string_value(pr), &e2) != DMP_OK)
        return DMP_ERR(err, DMP_INVALID, "%s:%d: principal: %s", path, line,
                       json_is_string(pr) ? e2.msg : "missing or not a string");
    if (!is_hex64(json_string_value(json_object_get(rec, "sha256"))))
        return DMP_ERR(err, DMP_INVALID,
                       "%s:%d: sha256: must be the 64 lowercase hex digits of the token's "
                       "SHA-256",
                       path, line);
    json_t *gs = json_object_get(rec, "groups");
    if (gs != NULL && !json_is_array(gs))
        return DMP_ERR(err, DMP_INVALID, "%s:%d: groups: must be an array of strings", path,
                       line);
    size_t i;
    json_t *g;
    json_array_foreach(gs, i, g)
    {
        if (!json_is_string(g) ||
            dmp_auth_check_name("group", json_string_value(g), &e2) != DMP_OK)
            return DMP_ERR(err, DMP_INVALID, "%s:%d: groups[%zu]: %s", path, line, i,
                           json_is_string(g) ? e2.msg : "must be a string");
    }
    json_t *ad = json_object_get(rec, "admin");
    if (ad != NULL && !json_is_boolean(ad))
        return DMP_ERR(err, DMP_INVALID, "%s:%d: admin: must be true or false", path, line);
    json_t *ex = json_object_get(rec, "expires");
    int64_t ms;
    if (ex != NULL && (!json_is_string(ex) || dmp_time_parse(json_string_value(ex), &ms) != 0))
        return DMP_ERR(err, DMP_INVALID, "%s:%d: expires: must be an RFC 3339 time", path,
                       line);
    return DMP_OK;
}

int dmp_tokens_load(const char *path, json_t **out, dmp_error_t *err)
{
    *out = NULL;
    char *text;
    size_t len;
    int rc = dmp_read_file(path, DMP_TOKENS_MAX_BYTES, &text, &len, err);
    if (rc != DMP_OK)
        return rc;
    json_t *arr = json_array();
    int line = 0;
    char *p = text, *end = text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        line++;
        char *s = p;
        while (s < le && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++;
        if (s < le && *s != '#') {
            json_error_t jerr;
            json_t *rec = json_loadb(s, (size_t)(le - s), JSON_REJECT_DUPLICATES, &jerr);
            if (rec == NULL) {
                rc = DMP_ERR(err, DMP_PARSE, "%s:%d:%d: not a JSON object: %s", path, line,
                             jerr.column, jerr.text);
                break;
            }
            if ((rc = check_record(path, line, rec, err)) != DMP_OK) {
                json_decref(rec);
                break;
            }
            json_object_set_new(rec, "line", json_integer(line));
            json_array_append_new(arr, rec);
        }
        p = nl ? nl + 1 : end;
    }
    dmp_free(text);
    if (rc != DMP_OK) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return DMP_OK;
}
