/* json_int.h -- layout of the flat JSON document (private to src/schema).
 *
 * A document is one array of fixed-size nodes in document order ("tape"). Containers
 * record how many nodes their subtree spans, so skipping a value is O(1). Object members
 * are stored as a key node (a string) followed by the value. Strings are decoded into one
 * arena sized from the input, so their pointers never move; each carries its byte length
 * and a hash for keyword/property lookup.
 */
#ifndef DMP_SCHEMA_JSON_INT_H
#define DMP_SCHEMA_JSON_INT_H

#include <string.h>

#include "dmp/schema.h"

enum {
    JN_ASCII = 1, /* string: every byte < 0x80 */
    JN_INTLEX = 2 /* number: written without fraction or exponent, value fits an int64 */
};

struct dmp_json_node {
    uint8_t type;  /* dmp_json_type_t */
    uint8_t flags; /* JN_* */
    uint16_t pad;
    uint32_t aux;  /* string: hash; array/object: number of elements/members */
    uint32_t span; /* nodes this value occupies, itself included (1 for scalars) */
    uint32_t len;  /* string: byte length */
    union {
        const char *s;
        double d;
    } u;
    int64_t i; /* number with JN_INTLEX */
};

struct dmp_json_doc {
    dmp_json_node_t *nodes;
    uint32_t n, cap;
    char *arena;
    size_t arena_cap;
};

/* The string hash used for keys everywhere in the engine: O(1), from the length and the
 * first and last 8 bytes (a collision only costs a memcmp). */
static inline uint32_t dmp_json_hash(const char *s, size_t n)
{
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
    } else {
        for (size_t i = 0; i < n; i++)
            a = a << 8 | (uint8_t)s[i];
    }
    uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + n) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    return (uint32_t)(h ^ (h >> 32));
}

/* Deep equality by JSON semantics (numbers by value, objects ignoring member order). */
int dmp_json_equal(const dmp_json_node_t *a, const dmp_json_node_t *b);
/* A structural hash consistent with dmp_json_equal. */
uint64_t dmp_json_deep_hash(const dmp_json_node_t *n);
/* Number of code points in a valid UTF-8 string node. */
size_t dmp_json_strlen_cp(const dmp_json_node_t *n);
/* Node index inside its document. */
static inline uint32_t dmp_json_index(const dmp_json_doc_t *d, const dmp_json_node_t *n)
{
    return (uint32_t)(n - d->nodes);
}

#endif
