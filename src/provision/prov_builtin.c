/* prov_builtin.c -- the built-in `dmp-files` provisioner (technology/type "files").
 *
 * Synchronous: create and update make
 *     <data-dir>/files/<environment>/<domain>/<product>/<port>/
 * and (re)write the grants file .dmp-grants.json inside it (owner read-write, allow[]
 * read-only); delete removes the directory with everything in it. Every path component
 * comes from the descriptor, so each is checked: no '/', not "." or "..", not empty.
 * It must not touch anything outside <data-dir>/files.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provision/provision_int.h"

typedef struct files_pv {
    dmp_provisioner_t base; /* MUST BE FIRST */
    char *root;             /* <data-dir>/files */
} files_pv_t;

static int component_check(const char *what, const char *s, dmp_error_t *err)
{
    if (s == NULL || s[0] == '\0')
        return DMP_ERR(err, DMP_INVALID, "dmp-files: %s is empty", what);
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strchr(s, '/') != NULL || strlen(s) > 200)
        return DMP_ERR(err, DMP_INVALID,
                       "dmp-files: %s '%s' is not a safe path component (no '/', '.', '..', "
                       "at most 200 bytes)",
                       what, s);
    return DMP_OK;
}

/* mkdir -p for the part of 'path' after 'from' (which must already exist). */
static int mkdirs(char *path, size_t from, dmp_error_t *err)
{
    for (char *p = path + from + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(path, 0755);
        *p = '/';
        if (r != 0 && errno != EEXIST)
            return DMP_ERR(err, DMP_IO, "dmp-files: cannot create %s: %s", path, strerror(errno));
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return DMP_ERR(err, DMP_IO, "dmp-files: cannot create %s: %s", path, strerror(errno));
    return DMP_OK;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static json_t *grants_doc(const dmp_prov_request_t *req)
{
    const dmp_resource_t *res = req->res;
    json_t *grants = json_array();
    if (res->owner != NULL)
        json_array_append_new(
            grants, json_pack("{s:s, s:s}", "principal", res->owner, "access", "read-write"));
    for (size_t i = 0; i < res->allow.n; i++)
        json_array_append_new(
            grants, json_pack("{s:s, s:s}", "principal", res->allow.v[i], "access", "read-only"));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o?, s:o}", "environment", req->key->environment,
                     "domain", req->key->domain, "dataProduct", req->key->name, "version",
                     req->key->version, "resource", res->name, "owner",
                     res->owner != NULL ? json_string(res->owner) : NULL, "grants", grants);
}

static int write_grants(const char *dir, const dmp_prov_request_t *req, dmp_error_t *err)
{
    char *path = dmp_asprintf("%s/.dmp-grants.json", dir);
    char *tmp = dmp_asprintf("%s/.dmp-grants.json.tmp", dir);
    json_t *doc = grants_doc(req);
    int rc = DMP_OK;
    if (json_dump_file(doc, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 || rename(tmp, path) != 0)
        rc = DMP_ERR(err, DMP_IO, "dmp-files: cannot write %s: %s", path, strerror(errno));
    json_decref(doc);
    dmp_free(path);
    dmp_free(tmp);
    return rc;
}

static int files_submit(dmp_provisioner_t *base, const dmp_prov_request_t *req, dmp_state_t *done,
                        dmp_error_t *err)
{
    files_pv_t *pv = (files_pv_t *)base;
    const dmp_product_key_t *k = req->key;
    int rc;
    *done = DMP_STATE_NONE;
    if ((rc = component_check("environment", k->environment, err)) != DMP_OK ||
        (rc = component_check("domain", k->domain, err)) != DMP_OK ||
        (rc = component_check("product name", k->name, err)) != DMP_OK ||
        (rc = component_check("port name", req->res->name, err)) != DMP_OK)
        return rc;
    char *dir = dmp_asprintf("%s/%s/%s/%s/%s", pv->root, k->environment, k->domain, k->name,
                             req->res->name);
    if (req->op == DMP_OP_DELETE) {
        if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
            rc = DMP_ERR(err, DMP_IO, "dmp-files: cannot remove %s: %s", dir, strerror(errno));
        else
            *done = DMP_STATE_DELETED;
    } else {
        if ((rc = mkdirs(dir, 0, err)) == DMP_OK && (rc = write_grants(dir, req, err)) == DMP_OK)
            *done = DMP_STATE_CREATED;
    }
    dmp_free(dir);
    return rc;
}

static json_t *files_describe(dmp_provisioner_t *base)
{
    files_pv_t *pv = (files_pv_t *)base;
    return json_pack("{s:s, s:s, s:s}", "type", "builtin", "name", "dmp-files", "root", pv->root);
}

static void files_close(dmp_provisioner_t *base)
{
    files_pv_t *pv = (files_pv_t *)base;
    dmp_free(pv->root);
    dmp_free(pv);
}

static const dmp_provisioner_ops_t files_ops = {
    .version = DMP_PROVISIONER_OPS_V1,
    .name = "dmp-files",
    .submit = files_submit,
    .describe = files_describe,
    .close = files_close,
};

/* Factory for "builtin:dmp-files"; 'arg' is the coordinator (for its data dir). */
int prov_builtin_files_new(void *arg, dmp_provisioner_t **out, dmp_error_t *err)
{
    dmp_provision_t *pr = arg;
    files_pv_t *pv = dmp_calloc(1, sizeof(*pv));
    pv->base.ops = &files_ops;
    pv->root = dmp_asprintf("%s/files", pr->data_dir);
    *out = &pv->base;
    return DMP_OK;
}
