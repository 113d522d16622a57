/* binary.c -- binary content mode of the CloudEvents HTTP protocol binding.
 *
 * Attributes travel as ce-<name> headers whose values are percent-encoded (HTTP binding
 * 3.1.3.2: space, double quote, percent and anything outside printable ASCII), the
 * Content-Type header is datacontenttype and the body is the data. Header values are
 * strings here: a binary-mode extension has no other type on the wire.
 */
#include "events_int.h"

#include <ctype.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Percent-decodes 's' into a new string; returns NULL on a bad escape or a decoded NUL. */
static char *pct_decode(const char *s)
{
    size_t n = strlen(s);
    char *o = dmp_malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 1 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            int h = hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
            if (h <= 0) {
                dmp_free(o);
                return NULL;
            }
            o[k++] = (char)h;
            i += 2;
        } else {
            o[k++] = s[i];
        }
    }
    o[k] = '\0';
    return o;
}

static const char *trim_ows(const char *v, char *tmp, size_t cap)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n >= cap)
        return NULL;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    return tmp;
}

int dmp_cloudevent_from_binary(const dmp_ce_header_t *hdrs, size_t n_hdrs, const char *body,
                               size_t len, const dmp_ce_limits_t *lim, dmp_cloudevent_t **out,
                               dmp_error_t *err)
{
    dmp_ce_limits_t l = ce_limits_resolve(lim);
    dmp_cloudevent_t *ev = dmp_cloudevent_new();
    char name[64];
    char *tmp = dmp_malloc(l.max_attr_bytes * 3 + 1);
    int rc = DMP_OK, seen_spec = 0;

    *out = NULL;
    if (len > l.max_event_bytes) {
        rc = DMP_ERR(err, DMP_LIMIT, "event body is %zu bytes, over the limit of %zu", len,
                     l.max_event_bytes);
        goto fail;
    }
    dmp_free(ev->specversion);
    ev->specversion = NULL;
    for (size_t i = 0; i < n_hdrs; i++) {
        const char *hn = hdrs[i].name, *hv = hdrs[i].value ? hdrs[i].value : "";
        int is_ct = strcasecmp(hn, "content-type") == 0;
        if (!is_ct && strncasecmp(hn, "ce-", 3) != 0)
            continue;
        const char *v = trim_ows(hv, tmp, l.max_attr_bytes * 3 + 1);
        if (v == NULL) {
            dmp_error_path(err, "%.60s", hn);
            rc = DMP_ERR(err, DMP_LIMIT, "header '%.60s' is over the limit of %zu bytes", hn,
                         l.max_attr_bytes);
            goto fail;
        }
        if (is_ct) {
            rc = dmp_cloudevent_set(ev, "datacontenttype", v, err);
            if (rc != DMP_OK)
                goto fail;
            continue;
        }
        size_t k = 0;
        for (const char *p = hn + 3; *p && k < sizeof(name) - 1; p++)
            name[k++] = (char)tolower((unsigned char)*p);
        name[k] = '\0';
        if (!dmp_ce_name_valid(name) || strcmp(name, "data") == 0) {
            dmp_error_path(err, "%.60s", name);
            rc = DMP_ERR(err, DMP_INVALID,
                         "header '%.60s' names attribute '%.60s', which %s", hn, name,
                         strcmp(name, "data") == 0
                             ? "is reserved for the event payload"
                             : "breaks the CloudEvents naming rules (only a-z and 0-9, "
                               "1 to 20 characters)");
            goto fail;
        }
        dmp_ce_value_t old;
        if ((strcmp(name, "specversion") == 0 && seen_spec) ||
            (strcmp(name, "specversion") != 0 && dmp_cloudevent_get(ev, name, &old))) {
            dmp_error_path(err, "%s", name);
            rc = DMP_ERR(err, DMP_INVALID, "header '%.60s' appears more than once", hn);
            goto fail;
        }
        if (strcmp(name, "specversion") == 0)
            seen_spec = 1;
        char *dec = pct_decode(v);
        if (dec == NULL) {
            dmp_error_path(err, "%s", name);
            rc = DMP_ERR(err, DMP_INVALID, "header '%.60s' has a bad percent-encoding", hn);
            goto fail;
        }
        if (strlen(dec) > l.max_attr_bytes) {
            dmp_free(dec);
            dmp_error_path(err, "%s", name);
            rc = DMP_ERR(err, DMP_LIMIT, "attribute '%s' is over the limit of %zu bytes", name,
                         l.max_attr_bytes);
            goto fail;
        }
        if (!ce_is_core_attr(name) && ev->n_ext >= l.max_extensions) {
            dmp_free(dec);
            rc = DMP_ERR(err, DMP_LIMIT, "event has more than %zu extension attributes",
                         l.max_extensions);
            goto fail;
        }
        rc = dmp_cloudevent_set(ev, name, dec, err);
        dmp_free(dec);
        if (rc != DMP_OK)
            goto fail;
    }
    if (ev->specversion == NULL) {
        dmp_error_path(err, "specversion");
        rc = DMP_ERR(err, DMP_INVALID,
                     "required attribute 'specversion' is missing (header ce-specversion)");
        goto fail;
    }
    if ((rc = dmp_cloudevent_validate(ev, err)) != DMP_OK) {
        goto fail;
    }
    if (len > 0 || body != NULL) {
        if (dmp_ce_is_json_type(ev->datacontenttype)) {
            json_error_t jerr;
            json_t *j = json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
            if (j == NULL) {
                dmp_error_path(err, "data");
                dmp_error_where(err, "%d:%d", jerr.line, jerr.column);
                rc = DMP_ERR(err, DMP_PARSE,
                             "body is not valid JSON for datacontenttype %.64s: %s at %d:%d",
                             ev->datacontenttype, jerr.text, jerr.line, jerr.column);
                goto fail;
            }
            json_decref(j);
            dmp_cloudevent_set_data(ev, DMP_CE_DATA_JSON, body, len);
        } else if (len > 0) {
            dmp_cloudevent_set_data(ev, DMP_CE_DATA_BINARY, body, len);
        }
    }
    dmp_free(tmp);
    *out = ev;
    return DMP_OK;
fail:
    dmp_free(tmp);
    dmp_cloudevent_free(ev);
    return rc;
}

static void pct_encode(dmp_buf_t *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '%') {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            dmp_buf_append(out, e, 3);
        } else {
            dmp_buf_putc(out, (char)c);
        }
    }
}

static void put_header(dmp_buf_t *out, const char *name, const char *val)
{
    if (val == NULL)
        return;
    dmp_buf_puts(out, "ce-");
    dmp_buf_puts(out, name);
    dmp_buf_puts(out, ": ");
    pct_encode(out, val);
    dmp_buf_puts(out, "\r\n");
}

void dmp_cloudevent_to_binary(const dmp_cloudevent_t *ev, dmp_buf_t *headers)
{
    put_header(headers, "specversion", ev->specversion ? ev->specversion : "1.0");
    put_header(headers, "id", ev->id);
    put_header(headers, "source", ev->source);
    put_header(headers, "type", ev->type);
    put_header(headers, "dataschema", ev->dataschema);
    put_header(headers, "subject", ev->subject);
    put_header(headers, "time", ev->time);
    for (size_t i = 0; i < ev->n_ext; i++)
        put_header(headers, ev->ext[i].name, ev->ext[i].text);
    if (ev->datacontenttype) {
        dmp_buf_puts(headers, "Content-Type: ");
        /* a media type is header-safe once validated; strip CR/LF defensively */
        for (const char *p = ev->datacontenttype; *p; p++)
            if (*p != '\r' && *p != '\n')
                dmp_buf_putc(headers, *p);
        dmp_buf_puts(headers, "\r\n");
    }
}
