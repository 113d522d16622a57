/* registry.c -- the discovery registry: (environment, technology) -> provisioner.
 *
 * Lookups try the exact environment first, then "*". Mappings registered from a spec
 * string ("builtin:NAME" or an http(s) URL) are persisted in the store's kv under
 * "provisioner/<environment>/<technology>" so PUT /v1/provisioners survives a restart;
 * mappings registered as objects (dmp_provision_register) live in memory only.
 * Built-in provisioner factories are named here too ("builtin:dmp-files").
 */
#include <stdio.h>
#include <string.h>

#include "provision/provision_int.h"

#define KV_PREFIX "provisioner/"
#define NAME_MAX_LEN 128

const char *prov_res_technology(const dmp_resource_t *res)
{
    if (res->technology != NULL && res->technology[0] != '\0')
        return res->technology;
    return res->type != NULL ? res->type : "";
}

static const char *env_norm(const char *environment)
{
    return (environment == NULL || environment[0] == '\0') ? "*" : environment;
}

/* Environment and technology names end up in kv keys and messages: keep them plain. */
static int name_check(const char *what, const char *s, dmp_error_t *err)
{
    if (s == NULL || s[0] == '\0')
        return DMP_ERR(err, DMP_INVALID, "%s is empty", what);
    size_t n = strlen(s);
    if (n > NAME_MAX_LEN)
        return DMP_ERR(err, DMP_INVALID, "%s is longer than %d bytes", what, NAME_MAX_LEN);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == '/' || c == '=' || c >= 0x7f)
            return DMP_ERR(err, DMP_INVALID,
                           "%s '%s' may not contain spaces, '/', '=' or control characters", what,
                           s);
    }
    return DMP_OK;
}

static void ent_free(prov_reg_ent_t *e)
{
    if (e->pv != NULL)
        e->pv->ops->close(e->pv);
    dmp_free(e->environment);
    dmp_free(e->technology);
    dmp_free(e->spec);
    dmp_free(e);
}

void prov_registry_release(prov_reg_ent_t *ent)
{
    if (ent != NULL && --ent->refs == 0)
        ent_free(ent);
}

prov_reg_ent_t *prov_registry_lookup(dmp_provision_t *pr, const char *environment,
                                     const char *technology)
{
    prov_reg_ent_t *any = NULL;
    for (prov_reg_ent_t *e = pr->registry; e != NULL; e = e->next) {
        if (strcmp(e->technology, technology) != 0)
            continue;
        if (environment != NULL && strcmp(e->environment, environment) == 0) {
            e->refs++;
            return e;
        }
        if (strcmp(e->environment, "*") == 0)
            any = e;
    }
    if (any != NULL)
        any->refs++;
    return any;
}

void prov_registry_free_all(dmp_provision_t *pr)
{
    prov_reg_ent_t *e = pr->registry;
    while (e != NULL) {
        prov_reg_ent_t *next = e->next;
        prov_registry_release(e);
        e = next;
    }
    pr->registry = NULL;
    prov_builtin_t *b = pr->builtins;
    while (b != NULL) {
        prov_builtin_t *next = b->next;
        dmp_free(b->name);
        dmp_free(b);
        b = next;
    }
    pr->builtins = NULL;
}

/* Inserts (replacing) a mapping; takes ownership of pv. Caller holds the lock. */
static void registry_put(dmp_provision_t *pr, const char *environment, const char *technology,
                         const char *spec, dmp_provisioner_t *pv)
{
    prov_reg_ent_t **pp = &pr->registry;
    for (; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->environment, environment) == 0 &&
            strcmp((*pp)->technology, technology) == 0) {
            prov_reg_ent_t *old = *pp;
            *pp = old->next;
            prov_registry_release(old);
            break;
        }
    }
    prov_reg_ent_t *e = dmp_calloc(1, sizeof(*e));
    e->environment = dmp_strdup(environment);
    e->technology = dmp_strdup(technology);
    e->spec = dmp_strdup(spec);
    e->pv = pv;
    e->refs = 1;
    e->next = pr->registry;
    pr->registry = e;
}

int dmp_provision_register(dmp_provision_t *pr, const char *environment, const char *technology,
                           dmp_provisioner_t *pv, dmp_error_t *err)
{
    int rc;
    environment = env_norm(environment);
    if ((rc = name_check("environment", environment, err)) != DMP_OK ||
        (rc = name_check("technology", technology, err)) != DMP_OK) {
        if (pv != NULL)
            pv->ops->close(pv);
        return rc;
    }
    if (pv == NULL || pv->ops == NULL || pv->ops->submit == NULL)
        return DMP_ERR(err, DMP_INVALID, "provisioner for technology '%s' has no submit op",
                       technology);
    pthread_mutex_lock(&pr->lock);
    registry_put(pr, environment, technology, NULL, pv);
    pthread_mutex_unlock(&pr->lock);
    return DMP_OK;
}

/* Builds a provisioner from a spec string. Caller holds the lock. */
static int spec_instantiate(dmp_provision_t *pr, const char *technology, const char *spec,
                            dmp_provisioner_t **out, dmp_error_t *err)
{
    *out = NULL;
    if (spec == NULL || spec[0] == '\0')
        return DMP_ERR(err, DMP_INVALID, "provisioner spec for technology '%s' is empty",
                       technology);
    if (strncmp(spec, "builtin:", 8) == 0) {
        const char *name = spec + 8;
        for (prov_builtin_t *b = pr->builtins; b != NULL; b = b->next)
            if (strcmp(b->name, name) == 0)
                return b->factory(b->arg, out, err);
        dmp_buf_t names = DMP_BUF_INIT;
        for (prov_builtin_t *b = pr->builtins; b != NULL; b = b->next)
            dmp_buf_printf(&names, "%s%s", names.len ? ", " : "", b->name);
        int rc = DMP_ERR(err, DMP_NOTFOUND, "unknown built-in provisioner '%s' (known: %s)", name,
                         names.data != NULL ? names.data : "none");
        dmp_buf_free(&names);
        return rc;
    }
    if (strncmp(spec, "http://", 7) == 0 || strncmp(spec, "https://", 8) == 0)
        return dmp_provisioner_http_new(spec, pr->http_timeout_ms, out, err);
    return DMP_ERR(err, DMP_INVALID,
                   "provisioner spec '%s' for technology '%s' is neither builtin:NAME nor an "
                   "http(s):// URL",
                   spec, technology);
}

/* Registers a spec; persists it when 'persist'. Caller holds the lock. */
static int register_spec_locked(dmp_provision_t *pr, const char *environment,
                                const char *technology, const char *spec, int persist,
                                dmp_error_t *err)
{
    dmp_provisioner_t *pv = NULL;
    int rc;
    if ((rc = name_check("environment", environment, err)) != DMP_OK ||
        (rc = name_check("technology", technology, err)) != DMP_OK)
        return rc;
    if (strlen(spec != NULL ? spec : "") > 2048)
        return DMP_ERR(err, DMP_INVALID, "provisioner spec for '%s' is longer than 2048 bytes",
                       technology);
    if ((rc = spec_instantiate(pr, technology, spec, &pv, err)) != DMP_OK)
        return rc;
    if (persist) {
        char key[16 + 2 * NAME_MAX_LEN];
        snprintf(key, sizeof(key), KV_PREFIX "%s/%s", environment, technology);
        if ((rc = pr->store->ops->kv_put(pr->store, key, spec, err)) != DMP_OK) {
            pv->ops->close(pv);
            return rc;
        }
    }
    registry_put(pr, environment, technology, spec, pv);
    return DMP_OK;
}

int dmp_provision_register_spec(dmp_provision_t *pr, const char *environment,
                                const char *technology, const char *spec, dmp_error_t *err)
{
    pthread_mutex_lock(&pr->lock);
    int rc = register_spec_locked(pr, env_norm(environment), technology, spec, 1, err);
    pthread_mutex_unlock(&pr->lock);
    return rc;
}

int dmp_provision_register_arg(dmp_provision_t *pr, const char *arg, dmp_error_t *err)
{
    const char *eq = arg != NULL ? strchr(arg, '=') : NULL;
    if (eq == NULL || eq == arg || eq[1] == '\0')
        return DMP_ERR(err, DMP_INVALID,
                       "provisioner '%s' is not TECH=SPEC or ENV/TECH=SPEC (for example "
                       "s3cdp=http://127.0.0.1:9000)",
                       arg != NULL ? arg : "");
    char *left = dmp_strndup(arg, (size_t)(eq - arg));
    char *slash = strpbrk(left, "/:");
    const char *env = "*", *tech = left;
    if (slash != NULL) {
        *slash = '\0';
        env = left;
        tech = slash + 1;
    }
    int rc = dmp_provision_register_spec(pr, env, tech, eq + 1, err);
    dmp_free(left);
    return rc;
}

int dmp_provision_unregister(dmp_provision_t *pr, const char *environment, const char *technology,
                             dmp_error_t *err)
{
    int rc = DMP_OK;
    environment = env_norm(environment);
    if (technology == NULL)
        return DMP_ERR(err, DMP_INVALID, "technology is empty");
    pthread_mutex_lock(&pr->lock);
    prov_reg_ent_t **pp = &pr->registry;
    for (; *pp != NULL; pp = &(*pp)->next)
        if (strcmp((*pp)->environment, environment) == 0 &&
            strcmp((*pp)->technology, technology) == 0)
            break;
    if (*pp == NULL) {
        rc = DMP_ERR(err, DMP_NOTFOUND,
                     "no provisioner is registered for technology '%s' in environment '%s'",
                     technology, environment);
    } else {
        prov_reg_ent_t *old = *pp;
        if (old->spec != NULL && strlen(environment) <= NAME_MAX_LEN &&
            strlen(technology) <= NAME_MAX_LEN) {
            char key[16 + 2 * NAME_MAX_LEN];
            snprintf(key, sizeof(key), KV_PREFIX "%s/%s", environment, technology);
            rc = pr->store->ops->kv_put(pr->store, key, NULL, err);
        }
        if (rc == DMP_OK) {
            *pp = old->next;
            prov_registry_release(old);
        }
    }
    pthread_mutex_unlock(&pr->lock);
    return rc;
}

int dmp_provision_add_builtin(dmp_provision_t *pr, const char *name,
                              dmp_provisioner_factory_t factory, void *arg, dmp_error_t *err)
{
    int rc;
    if ((rc = name_check("built-in provisioner name", name, err)) != DMP_OK)
        return rc;
    if (factory == NULL)
        return DMP_ERR(err, DMP_INVALID, "built-in provisioner '%s' has no factory", name);
    pthread_mutex_lock(&pr->lock);
    prov_builtin_t *b = pr->builtins;
    while (b != NULL && strcmp(b->name, name) != 0)
        b = b->next;
    if (b == NULL) {
        b = dmp_calloc(1, sizeof(*b));
        b->name = dmp_strdup(name);
        b->next = pr->builtins;
        pr->builtins = b;
    }
    b->factory = factory;
    b->arg = arg;
    pthread_mutex_unlock(&pr->lock);
    return DMP_OK;
}

json_t *dmp_provision_registry(dmp_provision_t *pr)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&pr->lock);
    for (prov_reg_ent_t *e = pr->registry; e != NULL; e = e->next) {
        json_t *d = e->pv->ops->describe != NULL ? e->pv->ops->describe(e->pv) : NULL;
        json_t *o =
            json_pack("{s:s, s:s}", "environment", e->environment, "technology", e->technology);
        json_object_set_new(o, "spec", e->spec != NULL ? json_string(e->spec) : json_null());
        json_object_set_new(o, "provisioner", d != NULL ? d : json_object());
        json_array_append_new(arr, o);
    }
    pthread_mutex_unlock(&pr->lock);
    return arr;
}

int prov_registry_load(dmp_provision_t *pr, dmp_error_t *err)
{
    json_t *all = NULL;
    const char *key;
    json_t *val;
    int rc = pr->store->ops->kv_list(pr->store, KV_PREFIX, &all, err);
    if (rc != DMP_OK)
        return rc;
    pthread_mutex_lock(&pr->lock);
    json_object_foreach(all, key, val)
    {
        const char *rest = key + strlen(KV_PREFIX);
        const char *slash = strchr(rest, '/');
        dmp_error_t e2 = {0};
        if (slash == NULL || !json_is_string(val)) {
            dmp_log(DMP_LOG_WARN, "ignoring malformed persisted provisioner", "key", key, NULL);
            continue;
        }
        char *env = dmp_strndup(rest, (size_t)(slash - rest));
        if (register_spec_locked(pr, env, slash + 1, json_string_value(val), 0, &e2) != DMP_OK)
            dmp_log(DMP_LOG_WARN, "cannot restore persisted provisioner", "key", key, "error",
                    e2.msg, NULL);
        dmp_free(env);
    }
    pthread_mutex_unlock(&pr->lock);
    json_decref(all);
    return DMP_OK;
}

/* Technologies the shipped built-ins serve, in every environment. */
static const struct {
    const char *technology;
    const char *spec;
} default_routes[] = {
    {"files", "builtin:dmp-files"},
    {"dmp-files", "builtin:dmp-files"},
};

int prov_registry_defaults(dmp_provision_t *pr, dmp_error_t *err)
{
    int rc = dmp_provision_add_builtin(pr, "dmp-files", prov_builtin_files_new, pr, err);
    if (rc != DMP_OK)
        return rc;
    pthread_mutex_lock(&pr->lock);
    for (size_t i = 0; i < sizeof(default_routes) / sizeof(default_routes[0]) && rc == DMP_OK; i++)
        rc = register_spec_locked(pr, "*", default_routes[i].technology, default_routes[i].spec, 0,
                                  err);
    pthread_mutex_unlock(&pr->lock);
    return rc;
}
