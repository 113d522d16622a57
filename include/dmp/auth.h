/* auth.h -- who is calling (authentication), what they may do (authorization),
 * what they may see (masking), and the record of it (audit). docs/security.md
 * describes the rules in words; this header is the API the HTTP handlers call.
 *
 * Authentication: a bearer token is either an opaque token from a tokens file
 * (only its SHA-256 is stored) or, when configured, an HS256/RS256 JWT verified
 * with libjwt. Either way it becomes a dmp_principal_t {name, groups, admin}.
 *
 * Authorization: one call per request, dmp_authz_check(principal, acl, action).
 * A caller who may not see a product gets DMP_NOTFOUND (the same answer as for a
 * product that does not exist); one who may see it but not act gets DMP_DENIED.
 *
 * Thread safety: a dmp_auth_t and a dmp_audit_t may be shared by all request
 * threads. Principals and ACLs are plain values owned by whoever made them.
 */
#ifndef DMP_AUTH_H
#define DMP_AUTH_H

#include <jansson.h>

#include "dmp/core.h"
#include "dmp/descriptor.h"

/* ---- principals */

typedef struct dmp_principal {
    char *name;     /* "alice", or the JWT "sub" */
    char **groups;  /* teams and domains: "london.hammersmith", "pii-reader:london" */
    size_t n_groups;
    int admin;      /* admins may do everything */
} dmp_principal_t;

DMP_EXPORT dmp_principal_t *dmp_principal_new(const char *name, const char *const *groups,
                                              size_t n_groups, int admin);
DMP_EXPORT dmp_principal_t *dmp_principal_dup(const dmp_principal_t *p);
DMP_EXPORT void dmp_principal_free(dmp_principal_t *p); /* NULL does nothing */
/* 1 when 'group' is one of p's groups (exact match). */
DMP_EXPORT int dmp_principal_in_group(const dmp_principal_t *p, const char *group);
/* {"name","groups","admin"} */
DMP_EXPORT json_t *dmp_principal_to_json(const dmp_principal_t *p);

/* ---- tokens and the authenticator */

#define DMP_TOKEN_PREFIX "dmp_"
#define DMP_TOKEN_MAX_LEN 8192     /* longer bearer values are refused unread */
#define DMP_TOKENS_MAX_BYTES (16u << 20) /* a larger tokens file is refused */

/* SHA-256 of 'token' as 64 lowercase hex characters + NUL. */
DMP_EXPORT int dmp_token_hash(const char *token, char out[65], dmp_error_t *err);
/* A new random token: "dmp_" + 43 base64url characters (256 bits from the GnuTLS
 * key-grade generator). out must hold DMP_TOKEN_NEW_LEN bytes. */
#define DMP_TOKEN_NEW_LEN 64
DMP_EXPORT int dmp_token_generate(char out[DMP_TOKEN_NEW_LEN], dmp_error_t *err);
/* Appends one record {"id","principal","groups","admin","sha256","created","expires"?}
 * to the tokens file (JSON lines; created 0600 when missing). 'expires' may be NULL. */
DMP_EXPORT int dmp_tokens_append(const char *path, const char *token, const char *principal,
                                 const char *const *groups, size_t n_groups, int admin,
                                 const char *expires, dmp_error_t *err);
/* Reads the tokens file into a JSON array of its records, checking each line
 * (errors name "file:line"). Used by `dmp token list` and by the authenticator. */
DMP_EXPORT int dmp_tokens_load(const char *path, json_t **out, dmp_error_t *err);

typedef struct dmp_auth_conf {
    const char *tokens_file;       /* NULL/"": no opaque tokens */
    const char *jwt_hs256_secret;  /* the shared secret (bytes); NULL: HS256 off */
    size_t jwt_hs256_secret_len;
    const char *jwt_rs256_pubkey;  /* PEM; NULL: RS256 off */
    const char *jwt_issuer;        /* required "iss" when set */
    const char *jwt_audience;      /* required in "aud" when set */
    const char *jwt_groups_claim;  /* default "groups" */
    int jwt_leeway_s;              /* clock skew allowed on exp/nbf */
} dmp_auth_conf_t;

typedef struct dmp_auth dmp_auth_t;

/* Loads the tokens file and keys. *out owns the authenticator (dmp_auth_close). */
DMP_EXPORT int dmp_auth_open(const dmp_auth_conf_t *conf, dmp_auth_t **out, dmp_error_t *err);
DMP_EXPORT void dmp_auth_close(dmp_auth_t *auth);
/* 1 when any credential source is configured (otherwise: dev mode). */
DMP_EXPORT int dmp_auth_enabled(const dmp_auth_t *auth);
/* Verifies an Authorization header value ("Bearer <token>"). On success *out owns a
 * principal. Missing, malformed, unknown, expired or wrongly signed credentials give
 * DMP_UNAUTHENTICATED; the message never contains the credential. The tokens file is
 * re-read when its modification time changes (checked at most once a second), so
 * removing a line revokes a token without a restart. */
DMP_EXPORT int dmp_auth_verify(dmp_auth_t *auth, const char *authorization,
                               dmp_principal_t **out, dmp_error_t *err);
/* 1 when principal 'name' can still authenticate: it has an unexpired token in the
 * tokens file (re-read when it changed), a JWT key is configured (JWTs cannot be
 * listed; they end at their "exp"), or authentication is off (dev mode). Long-lived
 * access granted at some earlier request (push subscriptions) checks this. */
DMP_EXPORT int dmp_auth_principal_active(dmp_auth_t *auth, const char *name);
/* The principal of every request in dev mode (no credentials configured): named
 * "anonymous", an admin. Static; never free it. */
DMP_EXPORT const dmp_principal_t *dmp_auth_dev_principal(void);
/* 1 when a listen address ("HOST:PORT") is a loopback address. */
DMP_EXPORT int dmp_auth_listen_is_loopback(const char *listen);

/* ---- authorization */

typedef enum {
    DMP_ACT_READ = 0, /* events, subscribe, subscriptions, rejected, schemas, discover, search */
    DMP_ACT_APPLY,    /* deploy, update ACLs */
    DMP_ACT_DELETE,
    DMP_ACT_PUBLISH,  /* append events to a port */
    DMP_ACT_ADMIN,    /* global policies and controls */
} dmp_action_t;

DMP_EXPORT const char *dmp_action_name(dmp_action_t a); /* "read", "apply", ... */

/* What authorization needs to know about a product or one of its ports. Owns its
 * strings (dmp_acl_fini). */
typedef struct dmp_acl {
    char *domain;       /* "london.hammersmith.olympia" */
    char **owners;      /* principals or groups: product owner, port owner(s) */
    size_t n_owners;
    char *owner_group;  /* an extra owner group; NULL: only the domain rule */
    char **allow;       /* principals, groups or domains allowed to read when protected */
    size_t n_allow;
    char **tags;        /* product and port tags ("grant-access:<domain>") */
    size_t n_tags;
    dmp_visibility_t visibility; /* resolved: public, protected or private */
} dmp_acl_t;

/* The ACL of port 'port' of a descriptor, or of the whole product when port is NULL
 * (owners = product owner + every port owner; visibility = the most open port's;
 * allow and tags = the union). DMP_NOTFOUND when the port does not exist. */
DMP_EXPORT int dmp_acl_from_descriptor(const dmp_descriptor_t *d, const char *port,
                                       dmp_acl_t *out, dmp_error_t *err);
/* The same from a descriptor as JSON (as stored by the provisioner or catalog). */
DMP_EXPORT int dmp_acl_from_json(const json_t *doc, const char *port, dmp_acl_t *out,
                                 dmp_error_t *err);
DMP_EXPORT void dmp_acl_fini(dmp_acl_t *acl);

/* Relations, exposed for the handlers and the tests. */
/* p owns acl: admin, a listed owner (by name or group), or the owner group of the
 * domain: a group equal to the domain or a parent domain ("london" owns
 * "london.hammersmith"), "domain-owner:<domain or parent>", or acl->owner_group. */
DMP_EXPORT int dmp_authz_is_owner(const dmp_principal_t *p, const dmp_acl_t *acl);
/* p may read under the port's visibility (owners always may). */
DMP_EXPORT int dmp_authz_may_read(const dmp_principal_t *p, const dmp_acl_t *acl);

/* The decision. p NULL = anonymous: DMP_UNAUTHENTICATED. DMP_OK when allowed;
 * DMP_NOTFOUND when p may not even read (the product must look absent); DMP_DENIED
 * when p may read but not perform 'action'. 'err' says which rule refused. */
DMP_EXPORT int dmp_authz_check(const dmp_principal_t *p, const dmp_acl_t *acl,
                               dmp_action_t action, dmp_error_t *err);

/* ---- masking */

typedef enum { DMP_MASK_REDACT = 0, DMP_MASK_KEYED_HASH } dmp_mask_mode_t;

typedef struct dmp_mask_policy {
    dmp_mask_mode_t mode;
    const unsigned char *key; /* HMAC-SHA256 key for DMP_MASK_KEYED_HASH */
    size_t key_len;
} dmp_mask_policy_t;

#define DMP_MASK_REDACTED "***"
#define DMP_MASK_HASH_PREFIX "h:"

/* 1 when p sees classified (pii) values of acl's product unmasked: admin, owner, or a
 * group "pii-reader:<domain or parent domain>". */
DMP_EXPORT int dmp_mask_may_see_pii(const dmp_principal_t *p, const dmp_acl_t *acl);
/* 1 when 'schema' classifies any property as pii (so masking may be needed). */
DMP_EXPORT int dmp_mask_schema_has_pii(const json_t *schema);
/* Copies 'data' into *out with every value the schema classifies
 * (x-dmp-classification: pii, or an array containing "pii") replaced by "***" or by
 * "h:" + hex HMAC-SHA256(key, canonical JSON of the value), unless p may see pii.
 * Follows properties, patternProperties, additionalProperties, items, prefixItems,
 * allOf/anyOf/oneOf and local "#/$defs/..." references, to a bounded depth.
 * *out is a new reference even when nothing was masked. */
DMP_EXPORT int dmp_mask_json(const json_t *schema, const json_t *data, const dmp_principal_t *p,
                             const dmp_acl_t *acl, const dmp_mask_policy_t *policy,
                             json_t **out, dmp_error_t *err);
/* "h:<64 hex>" of a value (exposed so filters and tests can compare). Caller frees. */
DMP_EXPORT char *dmp_mask_hash_value(const json_t *value, const unsigned char *key,
                                     size_t key_len);

/* ---- audit */

typedef struct dmp_audit dmp_audit_t;

/* Opens (appends to) the JSON-lines file 'path' (NULL: memory only) and keeps the
 * last 'ring' records in memory for queries. */
DMP_EXPORT int dmp_audit_open(const char *path, size_t ring, dmp_audit_t **out,
                              dmp_error_t *err);
DMP_EXPORT void dmp_audit_close(dmp_audit_t *audit);
/* Records one access: {"time","principal","product","port","action","outcome","status"}.
 * product is "domain/name" (or NULL for mesh-wide actions); outcome is "allowed",
 * "denied", "notfound", "failed"...; status the HTTP status. Never fails the caller. */
DMP_EXPORT void dmp_audit_record(dmp_audit_t *audit, const char *principal,
                                 const char *product, const char *port, const char *action,
                                 const char *outcome, int status);
/* The newest records first, at most 'limit' (0: all kept), for one product
 * ("domain/name") or all when product is NULL. A new JSON array. */
DMP_EXPORT json_t *dmp_audit_query(dmp_audit_t *audit, const char *product, size_t limit);
/* Outcome word of a status code: DMP_OK "allowed", DMP_DENIED "denied", ... */
DMP_EXPORT const char *dmp_audit_outcome(int status);

/* ---- wiring for `dmp serve`: everything above, from file paths */

typedef struct dmp_security_conf {
    const char *listen;           /* refuses a non-loopback address without credentials */
    const char *data_dir;         /* audit.log goes here */
    const char *tokens_file;
    const char *jwt_hs256_secret_file;
    const char *jwt_rs256_public_key_file;
    const char *jwt_issuer;
    const char *jwt_audience;
    const char *tls_cert_file;    /* both or neither */
    const char *tls_key_file;
    const char *mask_mode;        /* "redact" (default) or "hash" */
    const char *mask_key_file;    /* required for "hash" */
    size_t audit_ring;            /* records kept in memory (0: 10000) */
} dmp_security_conf_t;

typedef struct dmp_security {
    dmp_auth_t *auth;
    dmp_audit_t *audit;
    dmp_mask_policy_t mask;
    char *tls_cert_pem; /* NULL: plain HTTP */
    char *tls_key_pem;
} dmp_security_t;

/* Loads keys and files, opens the audit log, and checks the rules of the wiring (no
 * credentials -> loopback only, logged as dev mode). Messages name the option, never
 * a secret. */
DMP_EXPORT int dmp_security_open(const dmp_security_conf_t *conf, dmp_security_t *out,
                                 dmp_error_t *err);
DMP_EXPORT void dmp_security_close(dmp_security_t *sec);

#endif
