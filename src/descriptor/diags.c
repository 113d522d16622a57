/* diags.c -- findings about a document (dmp_diags_t), their text and JSON forms,
 * and JSON pointer -> dotted path conversion. No parsing happens here. */
#include "descriptor/descriptor_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void dmp_diags_add(dmp_diags_t *d, dmp_severity_t sev, int code, const char *rule, const char *file,
                   dmp_loc_t loc, const char *path, const char *pointer, const char *fmt, ...)
{
    if (d == NULL)
        return;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->v = dmp_realloc(d->v, d->cap * sizeof(*d->v));
    }
    dmp_diag_t *dg = &d->v[d->n++];
    dg->severity = sev;
    dg->code = code;
    dg->rule = dmp_strdup(rule ? rule : "");
    dg->file = dmp_strdup(file ? file : "<input>");
    dg->loc = loc;
    dg->path = dmp_strdup(path ? path : "");
    dg->pointer = dmp_strdup(pointer ? pointer : "");
    dmp_buf_t b = DMP_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    dmp_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    dg->msg = b.data ? dmp_buf_steal(&b) : dmp_strdup("");
}

size_t dmp_diags_errors(const dmp_diags_t *d)
{
    size_t n = 0;
    if (d == NULL)
        return 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].severity == DMP_SEV_ERROR)
            n++;
    return n;
}

void dmp_diags_free(dmp_diags_t *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++) {
        dmp_free(d->v[i].rule);
        dmp_free(d->v[i].file);
        dmp_free(d->v[i].path);
        dmp_free(d->v[i].pointer);
        dmp_free(d->v[i].msg);
    }
    dmp_free(d->v);
    d->v = NULL;
    d->n = d->cap = 0;
}

static const char *sev_name(dmp_severity_t s)
{
    switch (s) {
    case DMP_SEV_WARN:
        return "warning";
    case DMP_SEV_INFO:
        return "info";
    default:
        return "error";
    }
}

char *dmp_diag_format(const dmp_diag_t *dg)
{
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_buf_puts(&b, dg->file ? dg->file : "<input>");
    if (dg->loc.line > 0)
        dmp_buf_printf(&b, ":%d:%d", dg->loc.line, dg->loc.col);
    dmp_buf_puts(&b, ": ");
    if (dg->severity != DMP_SEV_ERROR)
        dmp_buf_printf(&b, "%s: ", sev_name(dg->severity));
    if (dg->path && dg->path[0])
        dmp_buf_printf(&b, "%s: ", dg->path);
    dmp_buf_puts(&b, dg->msg ? dg->msg : "");
    return dmp_buf_steal(&b);
}

json_t *dmp_diags_to_json(const dmp_diags_t *d)
{
    json_t *arr = json_array();
    for (size_t i = 0; d && i < d->n; i++) {
        const dmp_diag_t *dg = &d->v[i];
        json_t *o = json_object();
        json_object_set_new(o, "severity", json_string(sev_name(dg->severity)));
        json_object_set_new(o, "code", json_string(dmp_errname(dg->code)));
        json_object_set_new(o, "rule", json_string(dg->rule ? dg->rule : ""));
        json_object_set_new(o, "file", json_string(dg->file ? dg->file : ""));
        json_object_set_new(o, "line", json_integer(dg->loc.line));
        json_object_set_new(o, "col", json_integer(dg->loc.col));
        json_object_set_new(o, "path", json_string(dg->path ? dg->path : ""));
        json_object_set_new(o, "pointer", json_string(dg->pointer ? dg->pointer : ""));
        /* messages quote user text, which the loader has checked to be UTF-8 */
        json_t *m = json_string(dg->msg ? dg->msg : "");
        json_object_set_new(o, "message", m ? m : json_string("(message is not UTF-8)"));
        json_array_append_new(arr, o);
    }
    return arr;
}

static int plain_key(const char *s, size_t n)
{
    if (n == 0 || isdigit((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '$')
            return 0;
    return 1;
}

char *dmp_pointer_to_path(const char *pointer)
{
    dmp_buf_t out = DMP_BUF_INIT;
    dmp_buf_t seg = DMP_BUF_INIT;
    dmp_buf_puts(&out, "");
    if (pointer == NULL || pointer[0] == '\0')
        return dmp_buf_steal(&out);
    const char *p = pointer[0] == '/' ? pointer + 1 : pointer;
    for (;;) {
        dmp_buf_reset(&seg);
        dmp_buf_puts(&seg, "");
        while (*p && *p != '/') {
            if (p[0] == '~' && (p[1] == '0' || p[1] == '1')) {
                dmp_buf_putc(&seg, p[1] == '0' ? '~' : '/');
                p += 2;
            } else {
                dmp_buf_putc(&seg, *p++);
            }
        }
        int numeric = seg.len > 0 && strspn(seg.data, "0123456789") == seg.len;
        if (numeric) {
            dmp_buf_printf(&out, "[%s]", seg.data);
        } else if (plain_key(seg.data, seg.len)) {
            if (out.len)
                dmp_buf_putc(&out, '.');
            dmp_buf_append(&out, seg.data, seg.len);
        } else {
            dmp_buf_putc(&out, '[');
            dmp_buf_json_str(&out, seg.data, seg.len);
            dmp_buf_putc(&out, ']');
        }
        if (*p == '\0')
            break;
        p++;
    }
    dmp_buf_free(&seg);
    return dmp_buf_steal(&out);
}
