/* state.c -- resource and product states: names, the transit rule, the transition
 * table and the rule that derives a product's state from its resources.
 *
 * Pure functions, no locks, no I/O: the coordinator asks here whether a move is allowed.
 */
#include <string.h>

#include "provision/provision_int.h"

static const char *const state_names[] = {
    [DMP_STATE_NONE] = "NONE",         [DMP_STATE_CREATING] = "CREATING",
    [DMP_STATE_CREATED] = "CREATED",   [DMP_STATE_UPDATING] = "UPDATING",
    [DMP_STATE_DELETING] = "DELETING", [DMP_STATE_DELETED] = "DELETED",
    [DMP_STATE_FAILED] = "FAILED",     [DMP_STATE_NOT_COMPLETED] = "NOT_COMPLETED",
};
#define N_STATES ((int)(sizeof(state_names) / sizeof(state_names[0])))

const char *dmp_state_name(dmp_state_t s)
{
    if ((int)s < 0 || (int)s >= N_STATES)
        return "UNKNOWN";
    return state_names[s];
}

int dmp_state_parse(const char *s, dmp_state_t *out)
{
    for (int i = 0; s != NULL && i < N_STATES; i++) {
        if (strcasecmp(s, state_names[i]) == 0) {
            *out = (dmp_state_t)i;
            return DMP_OK;
        }
    }
    return DMP_INVALID;
}

int dmp_state_in_transit(dmp_state_t s)
{
    return s == DMP_STATE_CREATING || s == DMP_STATE_UPDATING || s == DMP_STATE_DELETING;
}

const char *dmp_op_name(dmp_op_t op)
{
    switch (op) {
    case DMP_OP_CREATE:
        return "create";
    case DMP_OP_UPDATE:
        return "update";
    case DMP_OP_DELETE:
        return "delete";
    }
    return "unknown";
}

int dmp_op_parse(const char *s, dmp_op_t *out)
{
    static const dmp_op_t ops[] = {DMP_OP_CREATE, DMP_OP_UPDATE, DMP_OP_DELETE};
    for (size_t i = 0; s != NULL && i < 3; i++) {
        if (strcmp(s, dmp_op_name(ops[i])) == 0) {
            *out = ops[i];
            return DMP_OK;
        }
    }
    return DMP_INVALID;
}

/* The transition table. A row is the current state, a column the next one.
 *   - an operation starts only from a consistent state: create from NONE, DELETED,
 *     FAILED or NOT_COMPLETED (a retry); update from CREATED (or a failed update);
 *     delete from anything consistent;
 *   - a transit state ends in its target, FAILED, or (when the coordinator gives up
 *     before the provisioner was called) NOT_COMPLETED; CREATING/UPDATING/DELETING
 *     may be re-entered by crash recovery, which re-submits the same operation;
 *   - a resource waiting on a failed dependency goes straight to NOT_COMPLETED. */
#define T 1
/* clang-format off */
static const unsigned char transitions[8][8] = {
    /*                           NONE CRTG CRTD UPDG DELG DELD FAIL NOTC */
    [DMP_STATE_NONE]          = { 0,   T,   0,   0,   T,   T,   0,   T },
    [DMP_STATE_CREATING]      = { 0,   T,   T,   0,   0,   0,   T,   T },
    [DMP_STATE_CREATED]       = { 0,   0,   0,   T,   T,   0,   0,   0 },
    [DMP_STATE_UPDATING]      = { 0,   0,   T,   T,   0,   0,   T,   T },
    [DMP_STATE_DELETING]      = { 0,   0,   0,   0,   T,   T,   T,   T },
    [DMP_STATE_DELETED]       = { 0,   T,   0,   0,   T,   T,   0,   0 },
    [DMP_STATE_FAILED]        = { 0,   T,   0,   T,   T,   T,   0,   0 },
    [DMP_STATE_NOT_COMPLETED] = { 0,   T,   0,   T,   T,   T,   0,   0 },
};
/* clang-format on */
#undef T

int dmp_state_can_move(dmp_state_t from, dmp_state_t to)
{
    if ((int)from < 0 || (int)from >= N_STATES || (int)to < 0 || (int)to >= N_STATES)
        return 0;
    return transitions[from][to];
}

dmp_state_t dmp_op_transit_state(dmp_op_t op)
{
    return op == DMP_OP_CREATE   ? DMP_STATE_CREATING
           : op == DMP_OP_UPDATE ? DMP_STATE_UPDATING
                                 : DMP_STATE_DELETING;
}

dmp_state_t dmp_op_target_state(dmp_op_t op)
{
    return op == DMP_OP_DELETE ? DMP_STATE_DELETED : DMP_STATE_CREATED;
}

/* The product-state rule (docs/provisioning.md):
 *   1. any resource in transit: the product is in transit, DELETING before UPDATING
 *      before CREATING when several differ;
 *   2. else any FAILED: FAILED;
 *   3. else any NOT_COMPLETED: NOT_COMPLETED;
 *   4. else any CREATED: CREATED;
 *   5. else any DELETED: DELETED;
 *   6. else (no resources, or all NONE): NONE. */
dmp_state_t dmp_state_derive(const dmp_state_t *res, size_t n)
{
    static const dmp_state_t order[] = {
        DMP_STATE_DELETING,      DMP_STATE_UPDATING, DMP_STATE_CREATING, DMP_STATE_FAILED,
        DMP_STATE_NOT_COMPLETED, DMP_STATE_CREATED,  DMP_STATE_DELETED};
    for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++)
        for (size_t i = 0; i < n; i++)
            if (res[i] == order[o])
                return order[o];
    return DMP_STATE_NONE;
}
