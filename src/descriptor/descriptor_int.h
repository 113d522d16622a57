/* descriptor_int.h -- private to src/descriptor: the position map behind
 * dmp_doc_locs_t and the defaults of the loader limits.
 *
 * Position map layout: every node the loader saw in the source gets an entry; the
 * root is entry 0. Children are found through one open-addressing hash keyed by
 * (parent entry, pointer segment), where an array element's segment is its decimal
 * index. Nodes that came from an alias or a merge have no entry of their own, so a
 * lookup stops at the nearest ancestor. Memory is linear in the source size.
 */
#ifndef DMP_DESCRIPTOR_INT_H
#define DMP_DESCRIPTOR_INT_H

#include <stdint.h>

#include "dmp/descriptor.h"

#define DMP_DOC_DEFAULT_MAX_BYTES ((size_t)4 << 20)
#define DMP_DOC_DEFAULT_MAX_DEPTH 64
#define DMP_DOC_DEFAULT_MAX_NODES ((size_t)200000)
#define DMP_DOC_MAX_DEPTH_CAP 1000

typedef struct dmp_locent {
    dmp_loc_t key; /* where the member's key is written; {0,0} for elements and the root */
    dmp_loc_t val; /* where the value starts */
} dmp_locent_t;

typedef struct dmp_locslot {
    uint32_t parent; /* entry index + 1; 0 marks an empty slot */
    uint32_t child;
    uint32_t seg_off; /* into segs */
    uint32_t seg_len;
} dmp_locslot_t;

struct dmp_descriptor_locs {
    dmp_locent_t *ents;
    size_t n, cap;
    dmp_locslot_t *slots;
    size_t nslots, used; /* nslots is a power of two */
    dmp_buf_t segs;
};

/* Creates a map whose root (entry 0) starts at 'root'. */
dmp_doc_locs_t *dmp_locs_new(dmp_loc_t root);
/* Adds a child of 'parent' named by 'seg' and returns its index. */
uint32_t dmp_locs_add(dmp_doc_locs_t *l, uint32_t parent, const char *seg, size_t seg_len,
                      dmp_loc_t key, dmp_loc_t val);
/* Index of a child, or -1. */
int64_t dmp_locs_child(const dmp_doc_locs_t *l, uint32_t parent, const char *seg, size_t seg_len);

/* Fills a limits struct's zero fields with the defaults and caps max_depth. */
void dmp_limits_resolve(const dmp_descriptor_limits_t *in, dmp_descriptor_limits_t *out);

#endif
