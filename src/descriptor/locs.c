/* locs.c -- the JSON pointer -> line:col map kept beside every loaded document.
 * See descriptor_int.h for the layout. It never owns JSON values. */
#include "descriptor/descriptor_int.h"

#include <stdio.h>
#include <string.h>

static uint64_t seg_hash(uint32_t parent, const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ parent;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 29;
    return h;
}

dmp_doc_locs_t *dmp_locs_new(dmp_loc_t root)
{
    dmp_doc_locs_t *l = dmp_calloc(1, sizeof(*l));
    l->cap = 64;
    l->ents = dmp_malloc(l->cap * sizeof(*l->ents));
    l->ents[0].key = (dmp_loc_t){0, 0};
    l->ents[0].val = root;
    l->n = 1;
    l->nslots = 128;
    l->slots = dmp_calloc(l->nslots, sizeof(*l->slots));
    return l;
}

static void slots_insert(dmp_locslot_t *slots, size_t nslots, const dmp_buf_t *segs,
                         dmp_locslot_t in)
{
    size_t mask = nslots - 1;
    size_t i = seg_hash(in.parent, segs->data + in.seg_off, in.seg_len) & mask;
    while (slots[i].parent != 0)
        i = (i + 1) & mask;
    slots[i] = in;
}

uint32_t dmp_locs_add(dmp_doc_locs_t *l, uint32_t parent, const char *seg, size_t seg_len,
                      dmp_loc_t key, dmp_loc_t val)
{
    if (l->n == l->cap) {
        l->cap *= 2;
        l->ents = dmp_realloc(l->ents, l->cap * sizeof(*l->ents));
    }
    uint32_t idx = (uint32_t)l->n++;
    l->ents[idx].key = key;
    l->ents[idx].val = val;
    if ((l->used + 1) * 2 > l->nslots) {
        size_t nn = l->nslots * 2;
        dmp_locslot_t *ns = dmp_calloc(nn, sizeof(*ns));
        for (size_t i = 0; i < l->nslots; i++)
            if (l->slots[i].parent != 0)
                slots_insert(ns, nn, &l->segs, l->slots[i]);
        dmp_free(l->slots);
        l->slots = ns;
        l->nslots = nn;
    }
    dmp_locslot_t s = {parent + 1, idx, (uint32_t)l->segs.len, (uint32_t)seg_len};
    dmp_buf_append(&l->segs, seg, seg_len);
    slots_insert(l->slots, l->nslots, &l->segs, s);
    l->used++;
    return idx;
}

int64_t dmp_locs_child(const dmp_doc_locs_t *l, uint32_t parent, const char *seg, size_t seg_len)
{
    size_t mask = l->nslots - 1;
    size_t i = seg_hash(parent + 1, seg, seg_len) & mask;
    while (l->slots[i].parent != 0) {
        const dmp_locslot_t *s = &l->slots[i];
        if (s->parent == parent + 1 && s->seg_len == seg_len &&
            memcmp(l->segs.data + s->seg_off, seg, seg_len) == 0)
            return s->child;
        i = (i + 1) & mask;
    }
    return -1;
}

/* Walks 'pointer' as far as the map knows it. Sets *exact when every segment was found. */
static uint32_t locs_walk(const dmp_doc_locs_t *l, const char *pointer, int *exact)
{
    uint32_t cur = 0;
    *exact = 1;
    if (pointer == NULL || pointer[0] == '\0')
        return 0;
    const char *p = pointer[0] == '/' ? pointer + 1 : pointer;
    dmp_buf_t seg = DMP_BUF_INIT;
    for (;;) {
        dmp_buf_reset(&seg);
        while (*p && *p != '/') {
            if (p[0] == '~' && p[1] == '1') {
                dmp_buf_putc(&seg, '/');
                p += 2;
            } else if (p[0] == '~' && p[1] == '0') {
                dmp_buf_putc(&seg, '~');
                p += 2;
            } else {
                dmp_buf_putc(&seg, *p++);
            }
        }
        int64_t c = dmp_locs_child(l, cur, seg.data ? seg.data : "", seg.len);
        if (c < 0) {
            *exact = 0;
            break;
        }
        cur = (uint32_t)c;
        if (*p == '\0')
            break;
        p++;
    }
    dmp_buf_free(&seg);
    return cur;
}

dmp_loc_t dmp_doc_locs_get(const dmp_doc_locs_t *l, const char *pointer)
{
    if (l == NULL)
        return (dmp_loc_t){0, 0};
    int exact;
    uint32_t i = locs_walk(l, pointer, &exact);
    if (l->ents[i].key.line > 0)
        return l->ents[i].key;
    return l->ents[i].val;
}

dmp_loc_t dmp_doc_locs_get_value(const dmp_doc_locs_t *l, const char *pointer)
{
    if (l == NULL)
        return (dmp_loc_t){0, 0};
    int exact;
    uint32_t i = locs_walk(l, pointer, &exact);
    return l->ents[i].val;
}

void dmp_doc_locs_free(dmp_doc_locs_t *l)
{
    if (l == NULL)
        return;
    dmp_free(l->ents);
    dmp_free(l->slots);
    dmp_buf_free(&l->segs);
    dmp_free(l);
}

void dmp_limits_resolve(const dmp_descriptor_limits_t *in, dmp_descriptor_limits_t *out)
{
    dmp_descriptor_limits_t z = {0, 0, 0};
    if (in == NULL)
        in = &z;
    out->max_bytes = in->max_bytes ? in->max_bytes : DMP_DOC_DEFAULT_MAX_BYTES;
    out->max_depth = in->max_depth > 0 ? in->max_depth : DMP_DOC_DEFAULT_MAX_DEPTH;
    if (out->max_depth > DMP_DOC_MAX_DEPTH_CAP)
        out->max_depth = DMP_DOC_MAX_DEPTH_CAP;
    out->max_nodes = in->max_nodes ? in->max_nodes : DMP_DOC_DEFAULT_MAX_NODES;
}
