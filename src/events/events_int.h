/* events_int.h -- private to src/events: shared helpers of the CloudEvents codec, CESQL
 * and the filters. Nothing outside src/events includes this file. */
#ifndef DMP_EVENTS_INT_H
#define DMP_EVENTS_INT_H

#include "dmp/cesql.h"
#include "dmp/events.h"

#include <stddef.h>
#include <stdint.h>

/* Defaults of dmp_ce_limits_t. */
#define CE_DEF_EVENT_BYTES ((size_t)1 << 20)
#define CE_DEF_BATCH_BYTES ((size_t)16 << 20)
#define CE_DEF_BATCH_EVENTS 10000
#define CE_DEF_EXTENSIONS 64
#define CE_DEF_ATTR_BYTES 4096
#define CE_JSON_MAX_DEPTH 64

/* Resolves zero fields of 'lim' (may be NULL) to the defaults. */
dmp_ce_limits_t ce_limits_resolve(const dmp_ce_limits_t *lim);

/* Standard base64 (RFC 4648, padded). ce_b64_decode returns -1 on bad input and
 * otherwise writes the decoded bytes (caller frees *out) and their length. */
void ce_b64_encode(const unsigned char *in, size_t len, dmp_buf_t *out);
int ce_b64_decode(const char *in, size_t len, char **out, size_t *out_len);

/* Structural JSON scanner for text that may be malformed: skips whitespace and one
 * value starting at *p, leaving *p after it. Returns 0, or -1 when the text is not
 * well-formed enough to find the value's end (or nests deeper than max_depth).
 * Scalars are not checked beyond their extent: jansson checks them afterwards. */
int ce_json_skip(const char **p, const char *end, int max_depth);
const char *ce_json_ws(const char *p, const char *end);

/* Finds the raw text of the top-level member 'key' of the JSON object in [buf, end).
 * Returns 1 and the span when found, 0 otherwise. */
int ce_json_member_span(const char *buf, const char *end, const char *key, const char **vbeg,
                        const char **vend);

/* Parses one structured event from [buf, buf+len) with limits resolved. 'ctx' prefixes
 * the error (e.g. "event 3: ") and 'pathpfx' the error path ("[3]."); both may be "". */
int ce_parse_one(const char *buf, size_t len, const dmp_ce_limits_t *lim, const char *ctx,
                 const char *pathpfx, dmp_cloudevent_t **out, dmp_error_t *err);

/* Is 'name' one of the spec's core attribute names? */
int ce_is_core_attr(const char *name);

/* Compiles a CESQL expression in strict mode (used by the sql filter dialect). */
int ce_sql_compile(const char *text, size_t len, dmp_cesql_t **out, dmp_error_t *err);

#endif
