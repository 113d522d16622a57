/* authz.c -- authorization decisions: ACLs built from descriptors, the owner and
 * reader relations, and dmp_authz_check. The rules (docs/security.md):
 *   owner   = admin | a listed owner (principal name or one of its groups) |
 *             a group naming the product's domain or a parent domain |
 *             "domain-owner:<domain or parent>" | the ACL's explicit owner group;
 *   reader  = owner | public port | protected port and (allow[] names the principal,
 *             one of its groups, or a domain covering one of its groups, or a tag
 *             "grant-access:<domain>" covers one of its groups);
 *   apply, delete, publish need owner; admin actions need admin.
 * Whoever may not read gets DMP_NOTFOUND, so a hidden product looks absent. */
#include <string.h>

#include "governance/auth_int.h"

const char *dmp_action_name(dmp_action_t a)
{
    switch (a) {
    case DMP_ACT_READ: return "read";
    case DMP_ACT_APPLY: return "apply";
    case DMP_ACT_DELETE: return "delete";
    case DMP_ACT_PUBLISH: return "publish";
    case DMP_ACT_ADMIN: return "admin";
    }
    return "unknown";
}

int dmp_domain_covers(const char *outer, const char *inner)
{
    if (outer == NULL || inner == NULL || !*outer || !*inner)
        return 0;
    size_t n = strlen(outer);
    return strncmp(outer, inner, n) == 0 && (inner[n] == '\0' || inner[n] == '.');
}

/* ---- building ACLs */

static void strv_add(char ***v, size_t *n, const char *s)
{
    if (s == NULL || *s == '\0')
        return;
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return;
    *v = dmp_realloc(*v, sizeof(char *) * (*n + 1));
    (*v)[(*n)++] = dmp_strdup(s);
}

static void strv_add_json(char ***v, size_t *n, const json_t *arr)
{
    size_t i;
    json_t *s;
    json_array_foreach(arr, i, s)
    {
        strv_add(v, n, json_string_value(s));
    }
}

void dmp_acl_fini(dmp_acl_t *acl)
{
    if (acl == NULL)
        return;
    for (size_t i = 0; i < acl->n_owners; i++)
        dmp_free(acl->owners[i]);
    for (size_t i = 0; i < acl->n_allow; i++)
        dmp_free(acl->allow[i]);
    for (size_t i = 0; i < acl->n_tags; i++)
        dmp_free(acl->tags[i]);
    dmp_free(acl->owners);
    dmp_free(acl->allow);
    dmp_free(acl->tags);
    dmp_free(acl->domain);
    dmp_free(acl->owner_group);
    memset(acl, 0, sizeof(*acl));
}

static dmp_visibility_t vis_of(const char *s, int has_allow)
{
    if (s && !strcmp(s, "public"))
        return DMP_VIS_PUBLIC;
    if (s && !strcmp(s, "protected"))
        return DMP_VIS_PROTECTED;
    if (s && !strcmp(s, "private"))
        return DMP_VIS_PRIVATE;
    /* absent (or unknown): the descriptor default -- protected with allow[], else private */
    return has_allow ? DMP_VIS_PROTECTED : DMP_VIS_PRIVATE;
}

/* How open a visibility is, for the product-level union. */
static int openness(dmp_visibility_t v)
{
    return v == DMP_VIS_PUBLIC ? 3 : v == DMP_VIS_PROTECTED ? 2 : 1;
}

static void add_port(dmp_acl_t *acl, const json_t *port, int first)
{
    const json_t *allow = json_object_get(port, "allow");
    strv_add(&acl->owners, &acl->n_owners, json_string_value(json_object_get(port, "owner")));
    strv_add_json(&acl->allow, &acl->n_allow, allow);
    strv_add_json(&acl->tags, &acl->n_tags, json_object_get(port, "tags"));
    dmp_visibility_t v = vis_of(json_string_value(json_object_get(port, "visibility")),
                                json_array_size(allow) > 0);
    if (first || openness(v) > openness(acl->visibility))
        acl->visibility = v;
}

int dmp_acl_from_json(const json_t *doc, const char *port, dmp_acl_t *out, dmp_error_t *err)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(doc))
        return DMP_ERR(err, DMP_INVALID, "the product descriptor is not an object");
    out->domain = dmp_strdup(json_string_value(json_object_get(doc, "domain")));
    if (out->domain == NULL)
        out->domain = dmp_strdup("");
    strv_add(&out->owners, &out->n_owners, json_string_value(json_object_get(doc, "owner")));
    strv_add_json(&out->tags, &out->n_tags, json_object_get(doc, "tags"));
    const json_t *ports = json_object_get(doc, "outputPorts");
    size_t i;
    json_t *pt;
    int found = 0;
    json_array_foreach(ports, i, pt)
    {
        const char *name = json_string_value(json_object_get(pt, "name"));
        if (port != NULL && !dmp_str_eq(name, port))
            continue;
        add_port(out, pt, !found);
        found = 1;
    }
    if (port != NULL && !found) {
        dmp_acl_fini(out);
        return DMP_ERR(err, DMP_NOTFOUND, "the product has no output port '%.128s'", port);
    }
    if (!found) /* a product without output ports: only its owners see it */
        out->visibility = DMP_VIS_PRIVATE;
    return DMP_OK;
}

int dmp_acl_from_descriptor(const dmp_descriptor_t *d, const char *port, dmp_acl_t *out,
                            dmp_error_t *err)
{
    if (d->doc != NULL)
        return dmp_acl_from_json(d->doc, port, out, err);
    memset(out, 0, sizeof(*out));
    return DMP_ERR(err, DMP_INVALID, "the descriptor has no JSON form");
}

/* ---- relations */

static int names_or_groups(const dmp_principal_t *p, const char *who)
{
    return dmp_str_eq(p->name, who) || dmp_principal_in_group(p, who);
}

int dmp_authz_is_owner(const dmp_principal_t *p, const dmp_acl_t *acl)
{
    if (p == NULL || acl == NULL)
        return 0;
    if (p->admin)
        return 1;
    for (size_t i = 0; i < acl->n_owners; i++)
        if (names_or_groups(p, acl->owners[i]))
            return 1;
    if (acl->owner_group && dmp_principal_in_group(p, acl->owner_group))
        return 1;
    static const char pre[] = "domain-owner:";
    for (size_t i = 0; i < p->n_groups; i++) {
        const char *g = p->groups[i];
        if (!strncmp(g, pre, sizeof(pre) - 1))
            g += sizeof(pre) - 1;
        if (dmp_domain_covers(g, acl->domain))
            return 1;
    }
    return 0;
}

/* 1 when the allow entry or granted domain 'who' covers p: its name, one of its
 * groups, or a domain that is one of its groups or a parent of one. */
static int grants(const dmp_principal_t *p, const char *who)
{
    if (names_or_groups(p, who))
        return 1;
    for (size_t i = 0; i < p->n_groups; i++)
        if (dmp_domain_covers(who, p->groups[i]))
            return 1;
    return 0;
}

int dmp_authz_may_read(const dmp_principal_t *p, const dmp_acl_t *acl)
{
    if (p == NULL || acl == NULL)
        return 0;
    if (dmp_authz_is_owner(p, acl))
        return 1;
    switch (acl->visibility) {
    case DMP_VIS_PUBLIC:
        return 1;
    case DMP_VIS_PROTECTED: {
        for (size_t i = 0; i < acl->n_allow; i++)
            if (grants(p, acl->allow[i]))
                return 1;
        static const char pre[] = "grant-access:";
        for (size_t i = 0; i < acl->n_tags; i++)
            if (!strncmp(acl->tags[i], pre, sizeof(pre) - 1) &&
                grants(p, acl->tags[i] + sizeof(pre) - 1))
                return 1;
        return 0;
    }
    default:
        return 0;
    }
}

int dmp_authz_check(const dmp_principal_t *p, const dmp_acl_t *acl, dmp_action_t action,
                    dmp_error_t *err)
{
    if (p == NULL)
        return DMP_ERR(err, DMP_UNAUTHENTICATED, "authentication required to %s",
                       dmp_action_name(action));
    if (p->admin)
        return DMP_OK;
    if (acl == NULL) /* a mesh-wide action: only admins */
        return DMP_ERR(err, DMP_DENIED, "%s needs the admin role", dmp_action_name(action));
    int reader = dmp_authz_may_read(p, acl);
    if (action == DMP_ACT_READ) {
        if (reader)
            return DMP_OK;
        return DMP_ERR(err, DMP_NOTFOUND, "not found");
    }
    if (!reader)
        return DMP_ERR(err, DMP_NOTFOUND, "not found");
    if (action == DMP_ACT_ADMIN)
        return DMP_ERR(err, DMP_DENIED, "'%s' may not %s: it needs the admin role", p->name,
                       dmp_action_name(action));
    if (dmp_authz_is_owner(p, acl))
        return DMP_OK;
    return DMP_ERR(err, DMP_DENIED,
                   "'%s' may not %s this product: that needs its owner or the owner group of "
                   "domain '%s'",
                   p->name, dmp_action_name(action), acl->domain);
}
