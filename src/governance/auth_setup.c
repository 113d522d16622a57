/* auth_setup.c -- the security wiring of `dmp serve`: reads the key and certificate
 * files named in the configuration, opens the authenticator and the audit log, and
 * enforces "no credentials, loopback only" (dev mode). */
#include <string.h>

#include "governance/auth_int.h"

#define KEY_FILE_MAX (1u << 20)

static int read_secret(const char *option, const char *path, char **out, size_t *len,
                       dmp_error_t *err)
{
    *out = NULL;
    *len = 0;
    if (path == NULL || *path == '\0')
        return DMP_OK;
    dmp_error_t e = {0};
    if (dmp_read_file(path, KEY_FILE_MAX, out, len, &e) != DMP_OK)
        return DMP_ERR(err, DMP_INVALID, "%s: cannot read %s: %s", option, path, e.msg);
    return DMP_OK;
}

static void wipe(char *s, size_t n)
{
    if (s) {
        volatile char *v = s;
        for (size_t i = 0; i < n; i++)
            v[i] = 0;
        dmp_free(s);
    }
}

int dmp_security_open(const dmp_security_conf_t *c, dmp_security_t *out, dmp_error_t *err)
{
    memset(out, 0, sizeof(*out));
    char *hs = NULL, *rs = NULL, *mk = NULL, *path = NULL;
    size_t hs_len = 0, rs_len = 0, mk_len = 0, n;
    int rc;
    if ((rc = read_secret("jwt-hs256-secret-file", c->jwt_hs256_secret_file, &hs, &hs_len,
                          err)) != DMP_OK)
        goto out;
    /* a trailing newline is not part of a secret written with echo */
    while (hs_len > 0 && (hs[hs_len - 1] == '\n' || hs[hs_len - 1] == '\r'))
        hs[--hs_len] = '\0';
    if (c->jwt_hs256_secret_file && c->jwt_hs256_secret_file[0] && hs_len == 0) {
        rc = DMP_ERR(err, DMP_INVALID, "jwt-hs256-secret-file: %s is empty",
                     c->jwt_hs256_secret_file);
        goto out;
    }
    if ((rc = read_secret("jwt-rs256-public-key", c->jwt_rs256_public_key_file, &rs, &rs_len,
                          err)) != DMP_OK)
        goto out;
    dmp_auth_conf_t ac = {
        .tokens_file = c->tokens_file,
        .jwt_hs256_secret = hs,
        .jwt_hs256_secret_len = hs_len,
        .jwt_rs256_pubkey = rs,
        .jwt_issuer = c->jwt_issuer,
        .jwt_audience = c->jwt_audience,
        .jwt_leeway_s = 30,
    };
    if ((rc = dmp_auth_open(&ac, &out->auth, err)) != DMP_OK)
        goto out;
    if (!dmp_auth_enabled(out->auth)) {
        if (!dmp_auth_listen_is_loopback(c->listen)) {
            rc = DMP_ERR(err, DMP_INVALID,
                         "refusing to serve on %s without authentication: give --tokens FILE "
                         "(or a JWT key), or listen on a loopback address such as "
                         "127.0.0.1",
                         c->listen);
            goto out;
        }
        dmp_log(DMP_LOG_WARN,
                "authentication is off (dev mode): every caller is treated as an admin; "
                "serving on loopback only. Give --tokens FILE to turn it on",
                "listen", c->listen, NULL);
    }
    int has_cert = c->tls_cert_file && c->tls_cert_file[0];
    int has_key = c->tls_key_file && c->tls_key_file[0];
    if (has_cert != has_key) {
        rc = DMP_ERR(err, DMP_INVALID, "%s is set without %s: TLS needs both",
                     has_cert ? "tls-cert" : "tls-key", has_cert ? "tls-key" : "tls-cert");
        goto out;
    }
    if (has_cert) {
        if ((rc = read_secret("tls-cert", c->tls_cert_file, &out->tls_cert_pem, &n, err)) !=
                DMP_OK ||
            (rc = read_secret("tls-key", c->tls_key_file, &out->tls_key_pem, &n, err)) !=
                DMP_OK)
            goto out;
        if (!strstr(out->tls_cert_pem, "-----BEGIN CERTIFICATE-----")) {
            rc = DMP_ERR(err, DMP_INVALID, "tls-cert: %s is not a PEM certificate",
                         c->tls_cert_file);
            goto out;
        }
        if (!strstr(out->tls_key_pem, "PRIVATE KEY-----")) {
            rc = DMP_ERR(err, DMP_INVALID, "tls-key: %s is not a PEM private key",
                         c->tls_key_file);
            goto out;
        }
    }
    const char *mode = c->mask_mode && c->mask_mode[0] ? c->mask_mode : "redact";
    if (!strcmp(mode, "hash")) {
        if ((rc = read_secret("mask-key-file", c->mask_key_file, &mk, &mk_len, err)) != DMP_OK)
            goto out;
        if (mk_len < 16) {
            rc = DMP_ERR(err, DMP_INVALID,
                         "mask: 'hash' needs --mask-key-file with at least 16 bytes of key");
            goto out;
        }
        out->mask.mode = DMP_MASK_KEYED_HASH;
        out->mask.key = (const unsigned char *)mk;
        out->mask.key_len = mk_len;
        mk = NULL; /* owned by out->mask now */
    } else if (strcmp(mode, "redact") != 0) {
        rc = DMP_ERR(err, DMP_INVALID, "mask: '%.32s' is not one of redact, hash", mode);
        goto out;
    }
    path = dmp_asprintf("%s/audit.log", c->data_dir ? c->data_dir : ".");
    if ((rc = dmp_audit_open(path, c->audit_ring ? c->audit_ring : 10000, &out->audit, err)) !=
        DMP_OK)
        goto out;
out:
    wipe(hs, hs_len);
    dmp_free(rs);
    wipe(mk, mk_len);
    dmp_free(path);
    if (rc != DMP_OK)
        dmp_security_close(out);
    return rc;
}

void dmp_security_close(dmp_security_t *sec)
{
    if (sec == NULL)
        return;
    dmp_auth_close(sec->auth);
    dmp_audit_close(sec->audit);
    wipe((char *)sec->mask.key, sec->mask.key_len);
    wipe(sec->tls_key_pem, sec->tls_key_pem ? strlen(sec->tls_key_pem) : 0);
    dmp_free(sec->tls_cert_pem);
    memset(sec, 0, sizeof(*sec));
}
