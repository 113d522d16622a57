/* governance.c -- the policy service: one composed dmp_policy_set_t behind a
 * read/write lock, with each layer's source text persisted as a file under
 * <data-dir>/policies/ so a restart restores the same set. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmp/governance.h"

struct dmp_governance {
    pthread_rwlock_t lock;
    dmp_policy_set_t *set;
    json_t *docs;  /* "" (global) or domain -> the policy document as parsed */
    char *dir;     /* <data-dir>/policies */
};

#define MAX_POLICY_BYTES (1u << 20)

static int domain_ok(const char *d)
{
    if (d == NULL || *d == '\0' || strlen(d) > 200 || *d == '.')
        return 0;
    for (const char *p = d; *p; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                 *p == '-' || (*p == '.' && p[1] != '.' && p[1] != '\0');
        if (!ok)
            return 0;
    }
    return 1;
}

static char *layer_path(const dmp_governance_t *gov, const char *domain)
{
    if (domain == NULL)
        return dmp_asprintf("%s/global.yaml", gov->dir);
    return dmp_asprintf("%s/domains/%s.yaml", gov->dir, domain);
}

/* Writes 'text' atomically (temp file, fsync, rename); len 0 removes the file. */
static int persist(const char *path, const char *text, size_t len, dmp_error_t *err)
{
    if (len == 0) {
        if (unlink(path) != 0 && errno != ENOENT)
            return DMP_ERR(err, DMP_IO, "cannot remove %s: %s", path, strerror(errno));
        return DMP_OK;
    }
    char *tmp = dmp_asprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int rc = DMP_OK;
    if (f == NULL || fwrite(text, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = DMP_ERR(err, DMP_IO, "cannot write %s: %s", tmp, strerror(errno));
    if (f != NULL)
        fclose(f);
    if (rc == DMP_OK && rename(tmp, path) != 0)
        rc = DMP_ERR(err, DMP_IO, "cannot rename %s: %s", tmp, strerror(errno));
    dmp_free(tmp);
    return rc;
}

/* Parses and installs one layer; the caller holds the write lock. */
static int install(dmp_governance_t *gov, const char *domain, const char *buf, size_t len,
                   const char *source, dmp_diags_t *diags, dmp_error_t *err)
{
    dmp_policy_t *p = NULL;
    int rc;
    if (len > 0 && (rc = dmp_policy_parse(buf, len, source, &p, diags, err)) != DMP_OK)
        return rc;
    json_t *doc = p ? json_deep_copy(dmp_policy_document(p)) : NULL;
    if (domain == NULL)
        rc = dmp_policy_set_global(gov->set, p, err);
    else
        rc = dmp_policy_set_domain(gov->set, domain, p, err);
    if (rc != DMP_OK) {
        json_decref(doc);
        return rc;
    }
    if (doc)
        json_object_set_new(gov->docs, domain ? domain : "", doc);
    else
        json_object_del(gov->docs, domain ? domain : "");
    return DMP_OK;
}

static int mkdirs(const char *dir, dmp_error_t *err)
{
    char *d2 = dmp_asprintf("%s/domains", dir);
    int rc = DMP_OK;
    if ((mkdir(dir, 0755) != 0 && errno != EEXIST) || (mkdir(d2, 0755) != 0 && errno != EEXIST))
        rc = DMP_ERR(err, DMP_IO, "cannot create %s: %s", d2, strerror(errno));
    dmp_free(d2);
    return rc;
}

static int load_file_layer(dmp_governance_t *gov, const char *domain, const char *path,
                           dmp_error_t *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = dmp_read_file(path, MAX_POLICY_BYTES, &text, &len, err);
    if (rc == DMP_NOTFOUND && domain == NULL && strstr(path, "/policies/global.yaml"))
        return DMP_OK; /* no persisted global policy yet */
    if (rc != DMP_OK)
        return rc;
    dmp_diags_t diags = {0};
    rc = install(gov, domain, text, len, path, &diags, err);
    if (rc != DMP_OK && diags.n > 0) {
        char *s = dmp_diag_format(&diags.v[0]);
        DMP_ERR(err, rc, "%s", s);
        dmp_free(s);
    }
    dmp_diags_free(&diags);
    dmp_free(text);
    return rc;
}

int dmp_governance_open(const char *data_dir, const char *global_file, dmp_governance_t **out,
                        dmp_error_t *err)
{
    *out = NULL;
    dmp_governance_t *gov = dmp_calloc(1, sizeof(*gov));
    pthread_rwlock_init(&gov->lock, NULL);
    gov->docs = json_object();
    gov->dir = dmp_asprintf("%s/policies", data_dir);
    int rc = dmp_policy_set_new(0, &gov->set, err);
    if (rc == DMP_OK)
        rc = mkdirs(gov->dir, err);
    if (rc == DMP_OK) {
        if (global_file != NULL && *global_file != '\0') {
            char *text = NULL;
            size_t len = 0;
            rc = dmp_read_file(global_file, MAX_POLICY_BYTES, &text, &len, err);
            if (rc == DMP_OK)
                rc = load_file_layer(gov, NULL, global_file, err);
            if (rc == DMP_OK) {
                char *p = layer_path(gov, NULL);
                rc = persist(p, text, len, err);
                dmp_free(p);
            }
            dmp_free(text);
        } else {
            char *p = layer_path(gov, NULL);
            rc = load_file_layer(gov, NULL, p, err);
            dmp_free(p);
        }
    }
    if (rc == DMP_OK) {
        /* Domain layers, parents before children: sort names so "a" precedes "a.b". */
        char *dd = dmp_asprintf("%s/domains", gov->dir);
        struct dirent **names = NULL;
        int n = scandir(dd, &names, NULL, alphasort);
        for (int i = 0; i < n; i++) {
            const char *fn = names[i]->d_name;
            size_t l = strlen(fn);
            if (rc == DMP_OK && l > 5 && !strcmp(fn + l - 5, ".yaml")) {
                char *dom = dmp_strndup(fn, l - 5);
                char *p = dmp_asprintf("%s/%s", dd, fn);
                if (domain_ok(dom))
                    rc = load_file_layer(gov, dom, p, err);
                dmp_free(p);
                dmp_free(dom);
            }
            free(names[i]);
        }
        free(names);
        dmp_free(dd);
    }
    if (rc != DMP_OK) {
        dmp_governance_close(gov);
        return rc;
    }
    *out = gov;
    return DMP_OK;
}

void dmp_governance_close(dmp_governance_t *gov)
{
    if (gov == NULL)
        return;
    dmp_policy_set_free(gov->set);
    json_decref(gov->docs);
    pthread_rwlock_destroy(&gov->lock);
    dmp_free(gov->dir);
    dmp_free(gov);
}

int dmp_governance_evaluate(dmp_governance_t *gov, const dmp_descriptor_t *d,
                            const dmp_descriptor_t *prev, dmp_diags_t *diags, dmp_error_t *err)
{
    pthread_rwlock_rdlock(&gov->lock);
    int rc = dmp_policy_evaluate(gov->set, d, prev, diags, err);
    pthread_rwlock_unlock(&gov->lock);
    return rc;
}

int dmp_governance_put(dmp_governance_t *gov, const char *domain, const char *buf, size_t len,
                       dmp_diags_t *diags, dmp_error_t *err)
{
    if (domain != NULL && !domain_ok(domain))
        return DMP_ERR(err, DMP_INVALID,
                       "domain '%.64s' is not a dot path of lower-case names", domain);
    pthread_rwlock_wrlock(&gov->lock);
    char *path = layer_path(gov, domain);
    int rc = install(gov, domain, buf, len, domain ? domain : "global policy", diags, err);
    if (rc == DMP_OK)
        rc = persist(path, buf, len, err);
    pthread_rwlock_unlock(&gov->lock);
    dmp_free(path);
    return rc;
}

json_t *dmp_governance_get(dmp_governance_t *gov, const char *domain)
{
    pthread_rwlock_rdlock(&gov->lock);
    json_t *doc = json_object_get(gov->docs, domain ? domain : "");
    json_t *out = json_pack("{s:s?, s:O?, s:o}", "domain", domain, "policy", doc, "effective",
                            dmp_policy_set_effective(gov->set, domain));
    if (json_object_get(out, "policy") == NULL)
        json_object_set_new(out, "policy", json_null());
    pthread_rwlock_unlock(&gov->lock);
    return out;
}
