/* toposort.c -- orders a descriptor's resources so each comes after its dependsOn.
 *
 * Depth-first, iterative (a hostile descriptor may chain thousands of resources), visiting
 * resources in descriptor order so independent resources keep the order they were
 * written in. A back edge is a cycle; the message lists it from its first member round
 * to itself: "a -> b -> a".
 */
#include <stdio.h>
#include <string.h>

#include "provision/provision_int.h"

ssize_t dmp_provision_find_resource(const dmp_descriptor_t *desc, const char *name)
{
    for (size_t i = 0; i < desc->n_resources; i++)
        if (dmp_str_eq(desc->resources[i].name, name))
            return (ssize_t)i;
    return -1;
}

enum { WHITE = 0, GREY, BLACK };

void prov_error_at(dmp_error_t *err, const dmp_descriptor_t *desc, const dmp_resource_t *r,
                   const char *field)
{
    if (err == NULL)
        return;
    char *path = r->pointer[0] ? dmp_pointer_to_path(r->pointer) : dmp_strdup(r->name);
    dmp_error_path(err, "%s%s%s", path ? path : "", field[0] && field[0] != '[' ? "." : "",
                   field);
    dmp_free(path);
    if (r->loc.line > 0)
        dmp_error_where(err, "%s:%d:%d", desc->source ? desc->source : "<input>", r->loc.line,
                        r->loc.col);
}

static int cycle_error(const dmp_descriptor_t *desc, const size_t *stack, size_t depth,
                       size_t back_to, dmp_error_t *err)
{
    dmp_buf_t b = DMP_BUF_INIT;
    size_t start = 0;
    while (start < depth && stack[start] != back_to)
        start++;
    for (size_t i = start; i < depth && b.len < 300; i++)
        dmp_buf_printf(&b, "%s -> ", desc->resources[stack[i]].name);
    if (b.len >= 300)
        dmp_buf_puts(&b, "... -> ");
    dmp_buf_puts(&b, desc->resources[back_to].name);
    const dmp_resource_t *r = &desc->resources[back_to];
    int rc = DMP_ERR(err, DMP_INVALID, "dependsOn cycle: %s", b.data);
    prov_error_at(err, desc, r, "dependsOn");
    dmp_buf_free(&b);
    return rc;
}

int dmp_provision_toposort(const dmp_descriptor_t *desc, size_t *order, dmp_error_t *err)
{
    size_t n = desc->n_resources, out = 0;
    int rc = DMP_OK;
    if (n == 0)
        return DMP_OK;
    unsigned char *color = dmp_calloc(n, 1);
    size_t *next = dmp_calloc(n, sizeof(size_t)); /* next dependsOn entry to visit */
    size_t *stack = dmp_calloc(n, sizeof(size_t));
    ssize_t *dep_idx = NULL;

    /* Resolve names once; unknown or duplicated names are refused here. */
    size_t n_edges = 0;
    for (size_t i = 0; i < n; i++) {
        const dmp_resource_t *r = &desc->resources[i];
        if (r->name == NULL || r->name[0] == '\0') {
            rc = DMP_ERR(err, DMP_INVALID, "resource %zu has no name", i);
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(desc->resources[j].name, r->name) == 0) {
                rc = DMP_ERR(err, DMP_INVALID, "resource name '%s' is used twice", r->name);
                goto out;
            }
        n_edges += r->depends_on.n;
    }
    size_t *edge_base = dmp_calloc(n + 1, sizeof(size_t));
    dep_idx = dmp_calloc(n_edges ? n_edges : 1, sizeof(ssize_t));
    for (size_t i = 0, e = 0; i < n; i++) {
        const dmp_resource_t *r = &desc->resources[i];
        edge_base[i] = e;
        for (size_t d = 0; d < r->depends_on.n; d++, e++) {
            dep_idx[e] = dmp_provision_find_resource(desc, r->depends_on.v[d]);
            if (dep_idx[e] < 0) {
                rc = DMP_ERR(err, DMP_INVALID,
                             "resource '%s' depends on '%s', which is not a resource of this "
                             "product",
                             r->name, r->depends_on.v[d]);
                char field[40];
                snprintf(field, sizeof(field), "dependsOn[%zu]", d);
                prov_error_at(err, desc, r, field);
                dmp_free(edge_base);
                goto out;
            }
        }
    }
    edge_base[n] = n_edges;

    for (size_t root = 0; root < n && rc == DMP_OK; root++) {
        if (color[root] != WHITE)
            continue;
        size_t depth = 0;
        stack[depth++] = root;
        color[root] = GREY;
        while (depth > 0) {
            size_t v = stack[depth - 1];
            size_t ndeps = edge_base[v + 1] - edge_base[v];
            if (next[v] < ndeps) {
                size_t w = (size_t)dep_idx[edge_base[v] + next[v]++];
                if (color[w] == GREY) {
                    rc = cycle_error(desc, stack, depth, w, err);
                    break;
                }
                if (color[w] == WHITE) {
                    color[w] = GREY;
                    stack[depth++] = w;
                }
            } else {
                color[v] = BLACK;
                order[out++] = v;
                depth--;
            }
        }
    }
    dmp_free(edge_base);
out:
    dmp_free(color);
    dmp_free(next);
    dmp_free(stack);
    dmp_free(dep_idx);
    return rc;
}
