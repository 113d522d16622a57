/* cloudevent.c -- the CloudEvents 1.0 envelope: construction, validation, structured-mode
 * JSON parsing (jansson) and compact structured output.
 *
 * The data member is kept as the exact bytes it arrived in: after jansson has checked
 * the whole event, a structural scan finds the raw span of "data" and copies it, so data
 * is never re-encoded. This file must not know about HTTP, logs or schemas.
 */
#include "events_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *const core_attrs[] = {"specversion", "id",      "source", "type",
                                         "datacontenttype", "dataschema", "subject",
                                         "time"};

dmp_ce_limits_t ce_limits_resolve(const dmp_ce_limits_t *lim)
{
    dmp_ce_limits_t l = {0};
    if (lim)
        l = *lim;
    if (!l.max_event_bytes)
        l.max_event_bytes = CE_DEF_EVENT_BYTES;
    if (!l.max_batch_bytes)
        l.max_batch_bytes = CE_DEF_BATCH_BYTES;
    if (!l.max_batch_events)
        l.max_batch_events = CE_DEF_BATCH_EVENTS;
    if (!l.max_extensions)
        l.max_extensions = CE_DEF_EXTENSIONS;
    if (!l.max_attr_bytes)
        l.max_attr_bytes = CE_DEF_ATTR_BYTES;
    return l;
}

int ce_is_core_attr(const char *name)
{
    for (size_t i = 0; i < sizeof(core_attrs) / sizeof(core_attrs[0]); i++)
        if (strcmp(name, core_attrs[i]) == 0)
            return 1;
    return 0;
}

int dmp_ce_name_valid(const char *name)
{
    size_t n = 0;
    if (name == NULL)
        return 0;
    for (; name[n]; n++) {
        char c = name[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) || n >= DMP_CE_NAME_MAX)
            return 0;
    }
    return n > 0;
}

/* ---- base64 */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void ce_b64_encode(const unsigned char *in, size_t len, dmp_buf_t *out)
{
    dmp_buf_reserve(out, (len + 2) / 3 * 4 + 1);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        char q[4] = {b64chars[(v >> 18) & 63], b64chars[(v >> 12) & 63],
                     i + 1 < len ? b64chars[(v >> 6) & 63] : '=',
                     i + 2 < len ? b64chars[v & 63] : '='};
        dmp_buf_append(out, q, 4);
    }
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int ce_b64_decode(const char *in, size_t len, char **out, size_t *out_len)
{
    if (len % 4 != 0)
        return -1;
    char *buf = dmp_malloc(len / 4 * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)in[i + k];
            if (c == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || (v[k] = b64val(c)) < 0) {
                dmp_free(buf);
                return -1;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                     (uint32_t)v[3];
        buf[o++] = (char)(w >> 16);
        if (pad < 2)
            buf[o++] = (char)(w >> 8);
        if (pad < 1)
            buf[o++] = (char)w;
    }
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    return 0;
}

/* ---- lifecycle */

dmp_cloudevent_t *dmp_cloudevent_new(void)
{
    dmp_cloudevent_t *ev = dmp_calloc(1, sizeof(*ev));
    ev->specversion = dmp_strdup("1.0");
    return ev;
}

static void ext_clear(dmp_ce_attr_t *a)
{
    dmp_free(a->text);
    a->text = NULL;
}

void dmp_cloudevent_free(dmp_cloudevent_t *ev)
{
    if (ev == NULL)
        return;
    dmp_free(ev->specversion);
    dmp_free(ev->id);
    dmp_free(ev->source);
    dmp_free(ev->type);
    dmp_free(ev->datacontenttype);
    dmp_free(ev->dataschema);
    dmp_free(ev->subject);
    dmp_free(ev->time);
    for (size_t i = 0; i < ev->n_ext; i++)
        ext_clear(&ev->ext[i]);
    dmp_free(ev->ext);
    dmp_free(ev->data);
    dmp_free(ev);
}

dmp_cloudevent_t *dmp_cloudevent_dup(const dmp_cloudevent_t *ev)
{
    dmp_cloudevent_t *c = dmp_calloc(1, sizeof(*c));
    c->specversion = dmp_strdup(ev->specversion);
    c->id = dmp_strdup(ev->id);
    c->source = dmp_strdup(ev->source);
    c->type = dmp_strdup(ev->type);
    c->datacontenttype = dmp_strdup(ev->datacontenttype);
    c->dataschema = dmp_strdup(ev->dataschema);
    c->subject = dmp_strdup(ev->subject);
    c->time = dmp_strdup(ev->time);
    c->time_ms = ev->time_ms;
    if (ev->n_ext) {
        c->ext = dmp_calloc(ev->n_ext, sizeof(*c->ext));
        c->cap_ext = c->n_ext = ev->n_ext;
        for (size_t i = 0; i < ev->n_ext; i++) {
            c->ext[i] = ev->ext[i];
            c->ext[i].text = dmp_strdup(ev->ext[i].text);
        }
    }
    dmp_cloudevent_set_data(c, ev->data_kind, ev->data, ev->data_len);
    return c;
}

void dmp_cloudevent_set_data(dmp_cloudevent_t *ev, dmp_ce_data_kind_t kind, const void *data,
                             size_t len)
{
    dmp_free(ev->data);
    ev->data = NULL;
    ev->data_len = 0;
    ev->data_kind = kind;
    if (kind == DMP_CE_DATA_NONE)
        return;
    ev->data = dmp_malloc(len + 1);
    if (len)
        memcpy(ev->data, data, len);
    ev->data[len] = '\0';
    ev->data_len = len;
}

/* ---- typed checks */

static int uri_has_scheme(const char *s)
{
    if (!isalpha((unsigned char)s[0]))
        return 0;
    for (size_t i = 1; s[i]; i++) {
        char c = s[i];
        if (c == ':')
            return 1;
        if (!isalnum((unsigned char)c) && c != '+' && c != '-' && c != '.')
            return 0;
    }
    return 0;
}

static int has_space_or_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static int utf8_valid(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s;
        int n;
        unsigned min;
        if (c < 0x80) {
            s++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return 0;
        }
        for (int k = 1; k <= n; k++) {
            if ((s[k] & 0xc0) != 0x80)
                return 0;
            c = (c << 6) | (s[k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return 0;
        s += n + 1;
    }
    return 1;
}

static int parse_int32(const char *s, int64_t *v)
{
    char *end;
    errno = 0;
    if (*s == '\0' || isspace((unsigned char)*s))
        return -1;
    long long x = strtoll(s, &end, 10);
    if (errno || *end || x < INT32_MIN || x > INT32_MAX)
        return -1;
    *v = x;
    return 0;
}

/* Checks 'text' against 'type' for attribute 'name'; fills *num for INTEGER/BOOLEAN. */
static int check_typed(const char *name, dmp_ce_type_t type, const char *text, int64_t *num,
                       dmp_error_t *err)
{
    int64_t ms;
    char *bin;
    size_t blen;

    *num = 0;
    switch (type) {
    case DMP_CE_STRING:
        return DMP_OK;
    case DMP_CE_INTEGER:
        if (parse_int32(text, num) != 0)
            return DMP_ERR(err, DMP_INVALID,
                           "attribute '%s' must be a 32-bit integer, got \"%.64s\"", name, text);
        return DMP_OK;
    case DMP_CE_BOOLEAN:
        if (strcmp(text, "true") == 0)
            *num = 1;
        else if (strcmp(text, "false") != 0)
            return DMP_ERR(err, DMP_INVALID,
                           "attribute '%s' must be true or false, got \"%.64s\"", name, text);
        return DMP_OK;
    case DMP_CE_BINARY:
        if (ce_b64_decode(text, strlen(text), &bin, &blen) != 0)
            return DMP_ERR(err, DMP_INVALID, "attribute '%s' must be base64, got \"%.64s\"",
                           name, text);
        dmp_free(bin);
        return DMP_OK;
    case DMP_CE_URI:
        if (!uri_has_scheme(text) || has_space_or_ctl(text))
            return DMP_ERR(err, DMP_INVALID,
                           "attribute '%s' must be an absolute URI, got \"%.64s\"", name, text);
        return DMP_OK;
    case DMP_CE_URIREF:
        if (has_space_or_ctl(text))
            return DMP_ERR(err, DMP_INVALID,
                           "attribute '%s' must be a URI-reference (no spaces), got \"%.64s\"",
                           name, text);
        return DMP_OK;
    case DMP_CE_TIMESTAMP:
        if (dmp_time_parse(text, &ms) != DMP_OK)
            return DMP_ERR(err, DMP_INVALID,
                           "attribute '%s' must be an RFC 3339 timestamp, got \"%.64s\"", name,
                           text);
        *num = ms;
        return DMP_OK;
    }
    return DMP_ERR(err, DMP_INVALID, "attribute '%s' has an unknown type", name);
}

static char **core_slot(dmp_cloudevent_t *ev, const char *name)
{
    if (strcmp(name, "specversion") == 0)
        return &ev->specversion;
    if (strcmp(name, "id") == 0)
        return &ev->id;
    if (strcmp(name, "source") == 0)
        return &ev->source;
    if (strcmp(name, "type") == 0)
        return &ev->type;
    if (strcmp(name, "datacontenttype") == 0)
        return &ev->datacontenttype;
    if (strcmp(name, "dataschema") == 0)
        return &ev->dataschema;
    if (strcmp(name, "subject") == 0)
        return &ev->subject;
    if (strcmp(name, "time") == 0)
        return &ev->time;
    return NULL;
}

static int check_name(const char *name, dmp_error_t *err)
{
    if (name == NULL || !dmp_ce_name_valid(name)) {
        dmp_error_path(err, "%.64s", name ? name : "");
        return DMP_ERR(err, DMP_INVALID,
                       "attribute name '%.64s' breaks the CloudEvents naming rules "
                       "(only a-z and 0-9, 1 to %d characters)",
                       name ? name : "", DMP_CE_NAME_MAX);
    }
    if (strcmp(name, "data") == 0) {
        dmp_error_path(err, "data");
        return DMP_ERR(err, DMP_INVALID,
                       "attribute name 'data' is reserved for the event payload");
    }
    return DMP_OK;
}

static int set_core(dmp_cloudevent_t *ev, const char *name, const char *value,
                    dmp_error_t *err)
{
    char **slot = core_slot(ev, name);
    int64_t num = 0;
    int rc;

    if (value != NULL && !utf8_valid(value)) {
        dmp_error_path(err, "%s", name);
        return DMP_ERR(err, DMP_INVALID, "attribute '%s' is not valid UTF-8", name);
    }
    if (value == NULL) {
        if (strcmp(name, "id") == 0 || strcmp(name, "source") == 0 ||
            strcmp(name, "type") == 0 || strcmp(name, "specversion") == 0) {
            dmp_error_path(err, "%s", name);
            return DMP_ERR(err, DMP_INVALID, "required attribute '%s' cannot be removed", name);
        }
        dmp_free(*slot);
        *slot = NULL;
        return DMP_OK;
    }
    if (strcmp(name, "specversion") == 0) {
        if (strcmp(value, "1.0") != 0) {
            dmp_error_path(err, "specversion");
            return DMP_ERR(err, DMP_INVALID,
                           "attribute 'specversion' must be \"1.0\", got \"%.32s\"", value);
        }
    } else if (strcmp(name, "id") == 0 || strcmp(name, "type") == 0) {
        if (*value == '\0') {
            dmp_error_path(err, "%s", name);
            return DMP_ERR(err, DMP_INVALID, "attribute '%s' must not be empty", name);
        }
    } else if (strcmp(name, "source") == 0) {
        if (*value == '\0') {
            dmp_error_path(err, "source");
            return DMP_ERR(err, DMP_INVALID, "attribute 'source' must not be empty");
        }
        rc = check_typed(name, DMP_CE_URIREF, value, &num, err);
    } else if (strcmp(name, "datacontenttype") == 0) {
        /* type/subtype without spaces; parameters ("; charset=utf-8") may hold spaces */
        const char *slash = strchr(value, '/');
        const char *sc = strchr(value, ';');
        int bad = slash == NULL || slash == value || (sc && sc < slash);
        for (const char *p = value; !bad && *p && p != sc; p++)
            if ((unsigned char)*p <= 0x20 || *p == 0x7f)
                bad = 1;
        if (bad) {
            dmp_error_path(err, "datacontenttype");
            return DMP_ERR(err, DMP_INVALID,
                           "attribute 'datacontenttype' must be a media type like "
                           "\"application/json\", got \"%.64s\"",
                           value);
        }
    } else if (strcmp(name, "dataschema") == 0) {
        rc = check_typed(name, DMP_CE_URI, value, &num, err);
        if (rc != DMP_OK) {
            dmp_error_path(err, "dataschema");
            return rc;
        }
    } else if (strcmp(name, "subject") == 0) {
        if (*value == '\0') {
            dmp_error_path(err, "subject");
            return DMP_ERR(err, DMP_INVALID, "attribute 'subject' must not be empty");
        }
    } else if (strcmp(name, "time") == 0) {
        rc = check_typed(name, DMP_CE_TIMESTAMP, value, &num, err);
        if (rc != DMP_OK) {
            dmp_error_path(err, "time");
            return rc;
        }
        ev->time_ms = num;
    }
    dmp_free(*slot);
    *slot = dmp_strdup(value);
    return DMP_OK;
}

int dmp_cloudevent_set_ext(dmp_cloudevent_t *ev, const char *name, dmp_ce_type_t type,
                           const char *text, dmp_error_t *err)
{
    int64_t num;
    int rc;

    if ((rc = check_name(name, err)) != DMP_OK)
        return rc;
    if (ce_is_core_attr(name)) {
        dmp_error_path(err, "%s", name);
        return DMP_ERR(err, DMP_INVALID, "'%s' is a core attribute, not an extension", name);
    }
    if (text == NULL) {
        for (size_t i = 0; i < ev->n_ext; i++) {
            if (strcmp(ev->ext[i].name, name) == 0) {
                ext_clear(&ev->ext[i]);
                memmove(&ev->ext[i], &ev->ext[i + 1], (ev->n_ext - i - 1) * sizeof(*ev->ext));
                ev->n_ext--;
                break;
            }
        }
        return DMP_OK;
    }
    if (!utf8_valid(text)) {
        dmp_error_path(err, "%s", name);
        return DMP_ERR(err, DMP_INVALID, "attribute '%s' is not valid UTF-8", name);
    }
    if ((rc = check_typed(name, type, text, &num, err)) != DMP_OK) {
        dmp_error_path(err, "%s", name);
        return rc;
    }
    dmp_ce_attr_t *a = NULL;
    for (size_t i = 0; i < ev->n_ext; i++)
        if (strcmp(ev->ext[i].name, name) == 0)
            a = &ev->ext[i];
    if (a == NULL) {
        if (ev->n_ext == ev->cap_ext) {
            ev->cap_ext = ev->cap_ext ? ev->cap_ext * 2 : 4;
            ev->ext = dmp_realloc(ev->ext, ev->cap_ext * sizeof(*ev->ext));
        }
        a = &ev->ext[ev->n_ext++];
        memset(a, 0, sizeof(*a));
        snprintf(a->name, sizeof(a->name), "%s", name);
    }
    ext_clear(a);
    a->type = type;
    a->text = dmp_strdup(text);
    a->num = num;
    return DMP_OK;
}

int dmp_cloudevent_set_ext_int(dmp_cloudevent_t *ev, const char *name, int64_t v,
                               dmp_error_t *err)
{
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
    /* the platform's own counters (dmpoffset) may exceed 32 bits: keep them whole */
    int rc = dmp_cloudevent_set_ext(ev, name, DMP_CE_STRING, tmp, err);
    if (rc != DMP_OK)
        return rc;
    for (size_t i = 0; i < ev->n_ext; i++) {
        if (strcmp(ev->ext[i].name, name) == 0) {
            ev->ext[i].type = DMP_CE_INTEGER;
            ev->ext[i].num = v;
        }
    }
    return DMP_OK;
}

int dmp_cloudevent_set(dmp_cloudevent_t *ev, const char *name, const char *value,
                       dmp_error_t *err)
{
    int rc;
    if ((rc = check_name(name, err)) != DMP_OK)
        return rc;
    if (ce_is_core_attr(name))
        return set_core(ev, name, value, err);
    return dmp_cloudevent_set_ext(ev, name, DMP_CE_STRING, value, err);
}

int dmp_cloudevent_validate(const dmp_cloudevent_t *ev, dmp_error_t *err)
{
    static const char *const req[] = {"specversion", "id", "source", "type"};
    const char *vals[] = {ev->specversion, ev->id, ev->source, ev->type};
    for (int i = 0; i < 4; i++) {
        if (vals[i] == NULL || vals[i][0] == '\0') {
            dmp_error_path(err, "%s", req[i]);
            return DMP_ERR(err, DMP_INVALID, "required attribute '%s' is %s", req[i],
                           vals[i] ? "empty" : "missing");
        }
    }
    if (strcmp(ev->specversion, "1.0") != 0) {
        dmp_error_path(err, "specversion");
        return DMP_ERR(err, DMP_INVALID, "attribute 'specversion' must be \"1.0\", got \"%.32s\"",
                       ev->specversion);
    }
    for (size_t i = 0; i < ev->n_ext; i++) {
        if (!dmp_ce_name_valid(ev->ext[i].name) || ce_is_core_attr(ev->ext[i].name)) {
            dmp_error_path(err, "%s", ev->ext[i].name);
            return DMP_ERR(err, DMP_INVALID, "extension name '%s' is not allowed",
                           ev->ext[i].name);
        }
    }
    return DMP_OK;
}

int dmp_cloudevent_get(const dmp_cloudevent_t *ev, const char *name, dmp_ce_value_t *out)
{
    static const dmp_ce_type_t core_types[] = {
        DMP_CE_STRING, DMP_CE_STRING, DMP_CE_URIREF, DMP_CE_STRING,
        DMP_CE_STRING, DMP_CE_URI,    DMP_CE_STRING, DMP_CE_TIMESTAMP};
    const char *vals[] = {ev->specversion,     ev->id,         ev->source,  ev->type,
                          ev->datacontenttype, ev->dataschema, ev->subject, ev->time};
    for (int i = 0; i < 8; i++) {
        if (strcmp(name, core_attrs[i]) == 0) {
            if (vals[i] == NULL)
                return 0;
            out->type = core_types[i];
            out->text = vals[i];
            out->num = i == 7 ? ev->time_ms : 0;
            return 1;
        }
    }
    for (size_t i = 0; i < ev->n_ext; i++) {
        if (strcmp(ev->ext[i].name, name) == 0) {
            out->type = ev->ext[i].type;
            out->text = ev->ext[i].text;
            out->num = ev->ext[i].num;
            return 1;
        }
    }
    return 0;
}

/* ---- media types */

int dmp_ce_is_json_type(const char *ct)
{
    if (ct == NULL)
        return 0;
    size_t n = strcspn(ct, ";");
    while (n > 0 && isspace((unsigned char)ct[n - 1]))
        n--;
    if ((n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
        (n == 9 && strncasecmp(ct, "text/json", 9) == 0))
        return 1;
    if (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0 && memchr(ct, '/', n) != NULL)
        return 1;
    return 0;
}

int dmp_cloudevent_new_data(const char *data, size_t len, const char *source, const char *type,
                            const char *content_type, dmp_cloudevent_t **out, dmp_error_t *err)
{
    dmp_cloudevent_t *ev = dmp_cloudevent_new();
    char id[37], ts[32];
    int64_t now = dmp_now_ms();
    int rc;

    *out = NULL;
    if (content_type == NULL)
        content_type = "application/json";
    dmp_uuid_v7(id);
    dmp_time_format(now, ts);
    if ((rc = set_core(ev, "id", id, err)) != DMP_OK ||
        (rc = set_core(ev, "source", source ? source : "", err)) != DMP_OK ||
        (rc = set_core(ev, "type", type ? type : "", err)) != DMP_OK ||
        (rc = set_core(ev, "time", ts, err)) != DMP_OK ||
        (rc = set_core(ev, "datacontenttype", content_type, err)) != DMP_OK)
        goto fail;
    if (dmp_ce_is_json_type(content_type)) {
        json_error_t jerr;
        json_t *j = json_loadb(data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (j == NULL) {
            dmp_error_path(err, "data");
            dmp_error_where(err, "%d:%d", jerr.line, jerr.column);
            rc = DMP_ERR(err, DMP_PARSE, "data is not valid JSON: %s at %d:%d", jerr.text,
                         jerr.line, jerr.column);
            goto fail;
        }
        json_decref(j);
        dmp_cloudevent_set_data(ev, DMP_CE_DATA_JSON, data, len);
    } else {
        dmp_cloudevent_set_data(ev, DMP_CE_DATA_BINARY, data, len);
    }
    *out = ev;
    return DMP_OK;
fail:
    dmp_cloudevent_free(ev);
    return rc;
}

/* ---- structural JSON scanning */

const char *ce_json_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static int skip_string(const char **pp, const char *end)
{
    const char *p = *pp + 1;
    while (p < end) {
        if (*p == '\\') {
            p += 2;
            continue;
        }
        if (*p == '"') {
            *pp = p + 1;
            return 0;
        }
        p++;
    }
    return -1;
}

int ce_json_skip(const char **pp, const char *end, int max_depth)
{
    /* Iterative: a small stack of open brackets, bounded by max_depth. */
    char stack[256];
    int depth = 0;
    const char *p = ce_json_ws(*pp, end);

    if (max_depth > (int)sizeof(stack))
        max_depth = (int)sizeof(stack);
    for (;;) {
        p = ce_json_ws(p, end);
        if (p >= end)
            return -1;
        char c = *p;
        if (c == '{' || c == '[') {
            if (depth >= max_depth)
                return -1;
            stack[depth++] = c == '{' ? '}' : ']';
            p++;
            continue; /* an empty container is closed below */
        } else if (c == '}' || c == ']') {
            if (depth == 0 || stack[depth - 1] != c)
                return -1;
            depth--;
            p++;
        } else if (c == '"') {
            if (skip_string(&p, end) != 0)
                return -1;
        } else if (c == ',' || c == ':') {
            if (depth == 0)
                return -1;
            p++;
            continue;
        } else {
            const char *s = p;
            while (p < end && *p != ',' && *p != ':' && *p != '}' && *p != ']' && *p != ' ' &&
                   *p != '\t' && *p != '\n' && *p != '\r' && *p != '"' && *p != '{' &&
                   *p != '[')
                p++;
            if (p == s)
                return -1;
        }
        if (depth == 0) {
            *pp = p;
            return 0;
        }
    }
}

int ce_json_member_span(const char *buf, const char *end, const char *key, const char **vbeg,
                        const char **vend)
{
    size_t klen = strlen(key);
    const char *p = ce_json_ws(buf, end);
    if (p >= end || *p != '{')
        return 0;
    p++;
    for (;;) {
        p = ce_json_ws(p, end);
        if (p >= end || *p != '"')
            return 0;
        const char *ks = p + 1;
        if (skip_string(&p, end) != 0)
            return 0;
        int match = (size_t)(p - 1 - ks) == klen && memcmp(ks, key, klen) == 0;
        p = ce_json_ws(p, end);
        if (p >= end || *p != ':')
            return 0;
        p = ce_json_ws(p + 1, end);
        const char *vs = p;
        if (ce_json_skip(&p, end, CE_JSON_MAX_DEPTH) != 0)
            return 0;
        if (match) {
            *vbeg = vs;
            *vend = p;
            return 1;
        }
        p = ce_json_ws(p, end);
        if (p >= end || *p != ',')
            return 0;
        p++;
    }
}

/* ---- structured-mode parsing */

static int attr_from_json(dmp_cloudevent_t *ev, const char *name, json_t *v,
                          const dmp_ce_limits_t *lim, dmp_error_t *err)
{
    char tmp[32];

    if (json_is_null(v)) {
        if (ce_is_core_attr(name))
            return set_core(ev, name, NULL, err);
        return DMP_OK; /* a null extension is an absent one */
    }
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        if (n > lim->max_attr_bytes) {
            dmp_error_path(err, "%s", name);
            return DMP_ERR(err, DMP_LIMIT, "attribute '%s' is %zu bytes, over the limit of %zu",
                           name, n, lim->max_attr_bytes);
        }
        if (strlen(json_string_value(v)) != n) {
            dmp_error_path(err, "%s", name);
            return DMP_ERR(err, DMP_INVALID, "attribute '%s' contains a NUL character", name);
        }
        if (ce_is_core_attr(name))
            return set_core(ev, name, json_string_value(v), err);
        return dmp_cloudevent_set_ext(ev, name, DMP_CE_STRING, json_string_value(v), err);
    }
    if (ce_is_core_attr(name)) {
        dmp_error_path(err, "%s", name);
        return DMP_ERR(err, DMP_INVALID, "attribute '%s' must be a string", name);
    }
    if (json_is_boolean(v))
        return dmp_cloudevent_set_ext(ev, name, DMP_CE_BOOLEAN,
                                      json_is_true(v) ? "true" : "false", err);
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < INT32_MIN || x > INT32_MAX) {
            dmp_error_path(err, "%s", name);
            return DMP_ERR(err, DMP_INVALID,
                           "attribute '%s' is an integer outside the 32-bit range", name);
        }
        snprintf(tmp, sizeof(tmp), "%lld", (long long)x);
        return dmp_cloudevent_set_ext(ev, name, DMP_CE_INTEGER, tmp, err);
    }
    dmp_error_path(err, "%s", name);
    return DMP_ERR(err, DMP_INVALID,
                   "attribute '%s' must be a string, an integer or a boolean, got a %s", name,
                   json_is_real(v) ? "real number" : json_is_array(v) ? "array" : "object");
}

static int event_from_json(const char *buf, size_t len, json_t *obj, const dmp_ce_limits_t *lim,
                           dmp_cloudevent_t **out, dmp_error_t *err)
{
    dmp_cloudevent_t *ev = dmp_cloudevent_new();
    const char *key;
    json_t *v, *data = NULL, *b64 = NULL;
    int rc = DMP_OK;

    /* the four required attributes first, so a missing one is reported as such */
    static const char *const req[] = {"specversion", "id", "source", "type"};
    for (int i = 0; i < 4; i++) {
        v = json_object_get(obj, req[i]);
        if (v == NULL || json_is_null(v)) {
            dmp_error_path(err, "%s", req[i]);
            rc = DMP_ERR(err, DMP_INVALID, "required attribute '%s' is missing", req[i]);
            goto fail;
        }
    }
    if (json_object_size(obj) > lim->max_extensions + 10) {
        rc = DMP_ERR(err, DMP_LIMIT, "event has %zu members, over the limit of %zu extensions",
                     json_object_size(obj), lim->max_extensions);
        goto fail;
    }
    json_object_foreach(obj, key, v)
    {
        if (strcmp(key, "data") == 0) {
            data = v;
            continue;
        }
        if (strcmp(key, "data_base64") == 0) {
            b64 = v;
            continue;
        }
        if ((rc = check_name(key, err)) != DMP_OK)
            goto fail;
        if ((rc = attr_from_json(ev, key, v, lim, err)) != DMP_OK)
            goto fail;
    }
    if (ev->n_ext > lim->max_extensions) {
        rc = DMP_ERR(err, DMP_LIMIT, "event has %zu extension attributes, over the limit of %zu",
                     ev->n_ext, lim->max_extensions);
        goto fail;
    }
    if (data && json_is_null(data))
        data = NULL;
    if (b64 && json_is_null(b64))
        b64 = NULL;
    if (data && b64) {
        dmp_error_path(err, "data_base64");
        rc = DMP_ERR(err, DMP_INVALID, "'data' and 'data_base64' are mutually exclusive");
        goto fail;
    }
    if (b64) {
        char *bin;
        size_t blen;
        if (!json_is_string(b64) ||
            ce_b64_decode(json_string_value(b64), json_string_length(b64), &bin, &blen) != 0) {
            dmp_error_path(err, "data_base64");
            rc = DMP_ERR(err, DMP_INVALID, "'data_base64' must be a base64 string");
            goto fail;
        }
        ev->data_kind = DMP_CE_DATA_BINARY;
        ev->data = bin;
        ev->data_len = blen;
    } else if (data) {
        const char *vb, *ve;
        if (ce_json_member_span(buf, buf + len, "data", &vb, &ve)) {
            dmp_cloudevent_set_data(ev, DMP_CE_DATA_JSON, vb, (size_t)(ve - vb));
        } else {
            /* the key was spelled with escapes: fall back to re-encoding */
            char *s = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
            dmp_cloudevent_set_data(ev, DMP_CE_DATA_JSON, s, strlen(s));
            free(s);
        }
    }
    *out = ev;
    return DMP_OK;
fail:
    dmp_cloudevent_free(ev);
    return rc;
}

int ce_parse_one(const char *buf, size_t len, const dmp_ce_limits_t *lim, const char *ctx,
                 const char *pathpfx, dmp_cloudevent_t **out, dmp_error_t *err)
{
    dmp_error_t e = {0};
    json_error_t jerr;
    json_t *obj = NULL;
    int rc;

    *out = NULL;
    if (len > lim->max_event_bytes) {
        rc = DMP_ERR(&e, DMP_LIMIT, "event is %zu bytes, over the limit of %zu", len,
                     lim->max_event_bytes);
        goto out;
    }
    /* jansson's own depth limit (2048) is too generous; scan first */
    const char *p = buf;
    if (ce_json_skip(&p, buf + len, CE_JSON_MAX_DEPTH) != 0 && len > 0) {
        obj = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
        if (obj == NULL) {
            dmp_error_where(&e, "%d:%d", jerr.line, jerr.column);
            rc = DMP_ERR(&e, DMP_PARSE, "event is not valid JSON: %s at %d:%d", jerr.text,
                         jerr.line, jerr.column);
        } else {
            rc = DMP_ERR(&e, DMP_LIMIT, "event nests deeper than %d levels", CE_JSON_MAX_DEPTH);
        }
        goto out;
    }
    obj = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL) {
        dmp_error_where(&e, "%d:%d", jerr.line, jerr.column);
        rc = DMP_ERR(&e, DMP_PARSE, "event is not valid JSON: %s at %d:%d", jerr.text,
                     jerr.line, jerr.column);
        goto out;
    }
    if (!json_is_object(obj)) {
        rc = DMP_ERR(&e, DMP_INVALID, "a structured event must be a JSON object");
        goto out;
    }
    rc = event_from_json(buf, len, obj, lim, out, &e);
out:
    json_decref(obj);
    if (rc != DMP_OK && err) {
        *err = e;
        snprintf(err->msg, sizeof(err->msg), "%s%s", ctx, e.msg);
        snprintf(err->path, sizeof(err->path), "%s%s", e.path[0] ? pathpfx : "", e.path);
        if (!e.path[0] && pathpfx[0]) {
            size_t n = strlen(pathpfx);
            snprintf(err->path, sizeof(err->path), "%.*s", (int)(n - (pathpfx[n - 1] == '.')),
                     pathpfx);
        }
    }
    return rc;
}

int dmp_cloudevent_parse(const char *buf, size_t len, const dmp_ce_limits_t *lim,
                         dmp_cloudevent_t **out, dmp_error_t *err)
{
    dmp_ce_limits_t l = ce_limits_resolve(lim);
    return ce_parse_one(buf, len, &l, "", "", out, err);
}

/* ---- structured output */

static void put_attr(dmp_buf_t *out, const char *name, const char *val, int *first)
{
    if (val == NULL)
        return;
    if (!*first)
        dmp_buf_putc(out, ',');
    *first = 0;
    dmp_buf_putc(out, '"');
    dmp_buf_puts(out, name);
    dmp_buf_puts(out, "\":");
    dmp_buf_json_str(out, val, strlen(val));
}

static void put_ext(dmp_buf_t *out, const dmp_ce_attr_t *a)
{
    dmp_buf_puts(out, ",\"");
    dmp_buf_puts(out, a->name);
    dmp_buf_puts(out, "\":");
    if (a->type == DMP_CE_INTEGER)
        dmp_buf_printf(out, "%lld", (long long)a->num);
    else if (a->type == DMP_CE_BOOLEAN)
        dmp_buf_puts(out, a->num ? "true" : "false");
    else
        dmp_buf_json_str(out, a->text, strlen(a->text));
}

static int attr_ptr_cmp(const void *a, const void *b)
{
    const dmp_ce_attr_t *x = *(const dmp_ce_attr_t *const *)a;
    const dmp_ce_attr_t *y = *(const dmp_ce_attr_t *const *)b;
    return strcmp(x->name, y->name);
}

void dmp_cloudevent_to_json(const dmp_cloudevent_t *ev, const dmp_ce_attr_t *extra,
                            size_t n_extra, dmp_buf_t *out)
{
    int first = 1;
    const dmp_ce_attr_t *local[16];
    const dmp_ce_attr_t **all = local;
    size_t n = 0, cap = ev->n_ext + n_extra;

    if (cap > 16)
        all = dmp_malloc(cap * sizeof(*all));
    for (size_t i = 0; i < n_extra; i++)
        all[n++] = &extra[i];
    for (size_t i = 0; i < ev->n_ext; i++) {
        int shadowed = 0;
        for (size_t k = 0; k < n_extra; k++)
            if (strcmp(extra[k].name, ev->ext[i].name) == 0)
                shadowed = 1;
        if (!shadowed)
            all[n++] = &ev->ext[i];
    }
    qsort(all, n, sizeof(*all), attr_ptr_cmp);

    dmp_buf_putc(out, '{');
    put_attr(out, "specversion", ev->specversion ? ev->specversion : "1.0", &first);
    put_attr(out, "id", ev->id, &first);
    put_attr(out, "source", ev->source, &first);
    put_attr(out, "type", ev->type, &first);
    put_attr(out, "datacontenttype", ev->datacontenttype, &first);
    put_attr(out, "dataschema", ev->dataschema, &first);
    put_attr(out, "subject", ev->subject, &first);
    put_attr(out, "time", ev->time, &first);
    for (size_t i = 0; i < n; i++)
        put_ext(out, all[i]);
    if (ev->data_kind == DMP_CE_DATA_JSON) {
        dmp_buf_puts(out, ",\"data\":");
        dmp_buf_append(out, ev->data, ev->data_len);
    } else if (ev->data_kind == DMP_CE_DATA_BINARY) {
        dmp_buf_puts(out, ",\"data_base64\":\"");
        ce_b64_encode((const unsigned char *)ev->data, ev->data_len, out);
        dmp_buf_putc(out, '"');
    }
    dmp_buf_putc(out, '}');
    if (all != local)
        dmp_free(all);
}

void dmp_cloudevents_to_json_array(const dmp_cloudevent_t *const *evs, size_t n, dmp_buf_t *out)
{
    dmp_buf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            dmp_buf_putc(out, ',');
        dmp_cloudevent_to_json(evs[i], NULL, 0, out);
    }
    dmp_buf_putc(out, ']');
}

void dmp_cloudevents_to_ndjson(const dmp_cloudevent_t *const *evs, size_t n, dmp_buf_t *out)
{
    for (size_t i = 0; i < n; i++) {
        dmp_cloudevent_to_json(evs[i], NULL, 0, out);
        dmp_buf_putc(out, '\n');
    }
}
