/* uri.c -- RFC 3986 reference resolution for $id / $ref. */
#include "schema/schema_int.h"

#include <string.h>

typedef struct {
    const char *scheme, *auth, *path, *query, *frag;
    size_t ls, la, lp, lq, lf;
    int has_scheme, has_auth, has_query, has_frag;
} uri_parts_t;

static void split(const char *u, uri_parts_t *p)
{
    memset(p, 0, sizeof *p);
    const char *s = u;
    const char *c = s;
    while (*c && *c != ':' && *c != '/' && *c != '?' && *c != '#')
        c++;
    if (*c == ':' && c > s) {
        p->has_scheme = 1;
        p->scheme = s;
        p->ls = (size_t)(c - s);
        s = c + 1;
    }
    if (s[0] == '/' && s[1] == '/') {
        p->has_auth = 1;
        s += 2;
        p->auth = s;
        while (*s && *s != '/' && *s != '?' && *s != '#')
            s++;
        p->la = (size_t)(s - p->auth);
    }
    p->path = s;
    while (*s && *s != '?' && *s != '#')
        s++;
    p->lp = (size_t)(s - p->path);
    if (*s == '?') {
        p->has_query = 1;
        p->query = ++s;
        while (*s && *s != '#')
            s++;
        p->lq = (size_t)(s - p->query);
    }
    if (*s == '#') {
        p->has_frag = 1;
        p->frag = s + 1;
        p->lf = strlen(p->frag);
    }
}

/* Removes "." and ".." segments (RFC 3986 5.2.4) from path[0..n) into out. */
static void remove_dots(const char *in, size_t n, dmp_buf_t *out)
{
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_buf_append(&b, in, n);
    char *s = b.data ? b.data : (char *)"";
    dmp_buf_reset(out);
    while (*s) {
        if (!strncmp(s, "../", 3)) {
            s += 3;
        } else if (!strncmp(s, "./", 2)) {
            s += 2;
        } else if (!strncmp(s, "/./", 3)) {
            s += 2;
        } else if (!strcmp(s, "/.")) {
            s[1] = '\0';
        } else if (!strncmp(s, "/../", 4) || !strcmp(s, "/..")) {
            if (s[3] == '/')
                s += 3;
            else {
                s += 2;
                s[0] = '/';
            }
            char *slash = out->len ? memrchr(out->data, '/', out->len) : NULL;
            out->len = slash ? (size_t)(slash - out->data) : 0;
            if (out->data)
                out->data[out->len] = '\0';
        } else if (!strcmp(s, ".") || !strcmp(s, "..")) {
            break;
        } else {
            char *e = strchr(s + 1, '/');
            size_t L = e ? (size_t)(e - s) : strlen(s);
            dmp_buf_append(out, s, L);
            s += L;
        }
    }
    if (!out->data)
        dmp_buf_puts(out, "");
    dmp_buf_free(&b);
}

char *dmp_uri_resolve(const char *base, const char *ref)
{
    uri_parts_t B, R;
    split(base ? base : "", &B);
    split(ref, &R);
    dmp_buf_t o = DMP_BUF_INIT, path = DMP_BUF_INIT;
    const uri_parts_t *q; /* whose query */
    if (R.has_scheme) {
        dmp_buf_append(&o, R.scheme, R.ls);
        dmp_buf_putc(&o, ':');
        if (R.has_auth) {
            dmp_buf_puts(&o, "//");
            dmp_buf_append(&o, R.auth, R.la);
        }
        remove_dots(R.path, R.lp, &path);
        if (R.path[0] != '/' && !R.has_auth)
            dmp_buf_reset(&path), dmp_buf_append(&path, R.path, R.lp);
        q = &R;
    } else {
        if (B.has_scheme) {
            dmp_buf_append(&o, B.scheme, B.ls);
            dmp_buf_putc(&o, ':');
        }
        if (R.has_auth) {
            dmp_buf_puts(&o, "//");
            dmp_buf_append(&o, R.auth, R.la);
            remove_dots(R.path, R.lp, &path);
            q = &R;
        } else {
            if (B.has_auth) {
                dmp_buf_puts(&o, "//");
                dmp_buf_append(&o, B.auth, B.la);
            }
            if (R.lp == 0) {
                dmp_buf_append(&path, B.path, B.lp);
                q = R.has_query ? &R : &B;
            } else {
                if (R.path[0] == '/') {
                    remove_dots(R.path, R.lp, &path);
                } else {
                    dmp_buf_t m = DMP_BUF_INIT;
                    if (B.has_auth && B.lp == 0) {
                        dmp_buf_putc(&m, '/');
                    } else {
                        const char *slash = NULL;
                        for (size_t i = 0; i < B.lp; i++)
                            if (B.path[i] == '/')
                                slash = B.path + i;
                        if (slash)
                            dmp_buf_append(&m, B.path, (size_t)(slash - B.path) + 1);
                    }
                    dmp_buf_append(&m, R.path, R.lp);
                    if (B.has_auth || (m.len && m.data[0] == '/'))
                        remove_dots(m.data, m.len, &path);
                    else
                        dmp_buf_append(&path, m.data, m.len);
                    dmp_buf_free(&m);
                }
                q = &R;
            }
        }
    }
    if (path.data)
        dmp_buf_append(&o, path.data, path.len);
    if (q->has_query) {
        dmp_buf_putc(&o, '?');
        dmp_buf_append(&o, q->query, q->lq);
    }
    if (R.has_frag && R.lf) {
        dmp_buf_putc(&o, '#');
        dmp_buf_append(&o, R.frag, R.lf);
    }
    dmp_buf_free(&path);
    if (!o.data)
        dmp_buf_puts(&o, "");
    return dmp_buf_steal(&o);
}
