/* auth_int.h -- private to src/governance/: helpers shared by the authentication,
 * authorization, masking and audit files. */
#ifndef DMP_AUTH_INT_H
#define DMP_AUTH_INT_H

#include <stdlib.h>

#include "dmp/auth.h"

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void dmp_auth_hex(const unsigned char *in, size_t n, char *out);
/* Compares n bytes without an early exit. */
int dmp_auth_ct_eq(const char *a, const char *b, size_t n);
/* A principal or group name: 1..256 printable characters, no space, comma, quote or
 * backslash. */
int dmp_auth_check_name(const char *what, const char *s, dmp_error_t *err);
/* 1 when domain 'outer' is 'inner' or one of its parents ("london" covers
 * "london.hammersmith"). Both non-empty. */
int dmp_domain_covers(const char *outer, const char *inner);

#endif
