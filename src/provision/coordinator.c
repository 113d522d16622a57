/* coordinator.c -- the provisioning coordinator of DESIGN 3A.
 *
 * An apply plans (create / update ACLs / no changes, refusing other changes to a
 * published version), records every resource it will act on in its transit state, and
 * queues a job; worker threads run the job's resources in dependsOn order (deletes in
 * the reverse order), calling each resource's provisioner outside the lock. External
 * provisioners report through dmp_provision_report(); a report that does not come
 * within report_timeout_ms fails the resource. A resource whose dependency failed is
 * NOT_COMPLETED and never started. The store is written at every state change, so a
 * restart finds resources in transit and dmp_provision_open() resumes them.
 *
 * This file must not speak HTTP (prov_http.c does) nor SQL (src/catalog does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dmp/auth.h"
#include "provision/provision_int.h"

static void prov_cb_token_new(char out[PROV_CB_TOKEN_LEN]);

#define DEFAULT_HTTP_TIMEOUT_MS 10000
#define DEFAULT_REPORT_TIMEOUT_MS 300000
#define DEFAULT_WORKERS 4
#define MAX_WORKERS 64

enum { PLAN_NONE = 0, PLAN_CREATE, PLAN_UPDATE };
#define ACTION_NONE (-1)

static const char *const resource_arrays[] = {"outputPorts", "workloads", "observability"};

/* ---- keys and small helpers */

static dmp_product_key_t desc_key(const dmp_descriptor_t *d)
{
    dmp_product_key_t k = {d->environment != NULL ? d->environment : "default", d->domain, d->name,
                           d->version};
    return k;
}

static int key_check(const dmp_product_key_t *k, dmp_error_t *err)
{
    if (k == NULL || k->environment == NULL || k->domain == NULL || k->name == NULL ||
        k->version == NULL)
        return DMP_ERR(err, DMP_INVALID,
                       "a product is named by environment, domain, name and version");
    return DMP_OK;
}

static int key_eq(const dmp_product_key_t *a, const dmp_product_key_t *b)
{
    return strcmp(a->environment, b->environment) == 0 && strcmp(a->domain, b->domain) == 0 &&
           strcmp(a->name, b->name) == 0 && strcmp(a->version, b->version) == 0;
}

static json_t *key_json(const dmp_product_key_t *k)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "environment", k->environment, "domain", k->domain,
                     "name", k->name, "version", k->version);
}

static json_t *time_json(int64_t ms)
{
    char buf[32];
    if (ms <= 0)
        return json_null();
    dmp_time_format(ms, buf);
    return json_string(buf);
}

/* Makes a private copy of a descriptor from its JSON document (the job outlives the
 * caller's descriptor, and a restart has only the stored document). */
static int desc_from_doc(const json_t *doc, dmp_descriptor_t **out, dmp_error_t *err)
{
    dmp_descriptor_opts_t opts = {0};
    dmp_diags_t diags = {0};
    *out = NULL;
    char *text = json_dumps(doc, JSON_COMPACT);
    if (text == NULL)
        return DMP_ERR(err, DMP_INVALID, "descriptor document cannot be encoded");
    opts.format = DMP_FMT_JSON;
    opts.source = "<stored descriptor>";
    opts.limits.max_bytes = strlen(text) + 1;
    int rc = dmp_descriptor_parse(text, strlen(text), &opts, out, &diags, err);
    dmp_diags_free(&diags);
    free(text);
    return rc;
}

/* Resolves a simple JSON pointer ("/outputPorts/0") inside 'doc'; NULL when absent. */
static json_t *pointer_get(json_t *doc, const char *ptr)
{
    json_t *cur = doc;
    while (cur != NULL && ptr != NULL && *ptr == '/') {
        const char *seg = ptr + 1;
        const char *end = strchr(seg, '/');
        size_t n = end != NULL ? (size_t)(end - seg) : strlen(seg);
        char *key = dmp_strndup(seg, n);
        if (json_is_array(cur)) {
            char *e;
            unsigned long idx = strtoul(key, &e, 10);
            cur = (*e == '\0' && n > 0) ? json_array_get(cur, idx) : NULL;
        } else {
            cur = json_object_get(cur, key);
        }
        dmp_free(key);
        ptr = end;
    }
    return cur;
}

/* The descriptor document with every schema loaded from a file put inline, so the
 * private copy (and a restart) need no access to the descriptor's directory. New
 * reference. */
static json_t *doc_self_contained(const dmp_descriptor_t *desc)
{
    json_t *doc = json_deep_copy(desc->doc);
    for (size_t i = 0; i < desc->n_resources; i++) {
        const dmp_resource_t *r = &desc->resources[i];
        if (r->schema_file == NULL || r->schema == NULL)
            continue;
        json_t *obj = pointer_get(doc, r->pointer);
        if (json_is_object(obj))
            json_object_set(obj, "schema", r->schema);
    }
    return doc;
}

/* ---- jobs */

static void job_free(prov_job_t *job)
{
    if (job == NULL)
        return;
    for (size_t i = 0; job->desc != NULL && i < job->desc->n_resources; i++)
        dmp_free(job->tasks[i].reason);
    dmp_descriptor_free(job->desc);
    dmp_free(job->tasks);
    dmp_free(job->dep_base);
    dmp_free(job->dep_idx);
    dmp_free(job->environment);
    dmp_free(job->domain);
    dmp_free(job->name);
    dmp_free(job->version);
    dmp_free(job);
}

/* Takes ownership of desc. Unknown dependencies are dropped here: callers have run
 * dmp_provision_toposort first. */
static prov_job_t *job_new(const dmp_product_key_t *k, dmp_descriptor_t *desc)
{
    prov_job_t *job = dmp_calloc(1, sizeof(*job));
    size_t n = desc->n_resources, edges = 0;
    job->environment = dmp_strdup(k->environment);
    job->domain = dmp_strdup(k->domain);
    job->name = dmp_strdup(k->name);
    job->version = dmp_strdup(k->version);
    job->key = (dmp_product_key_t){job->environment, job->domain, job->name, job->version};
    job->desc = desc;
    job->tasks = dmp_calloc(n ? n : 1, sizeof(prov_task_t));
    for (size_t i = 0; i < n; i++)
        edges += desc->resources[i].depends_on.n;
    job->dep_base = dmp_calloc(n + 1, sizeof(size_t));
    job->dep_idx = dmp_calloc(edges ? edges : 1, sizeof(size_t));
    size_t e = 0;
    for (size_t i = 0; i < n; i++) {
        job->dep_base[i] = e;
        const dmp_strv_t *d = &desc->resources[i].depends_on;
        for (size_t j = 0; j < d->n; j++) {
            ssize_t w = dmp_provision_find_resource(desc, d->v[j]);
            if (w >= 0)
                job->dep_idx[e++] = (size_t)w;
        }
    }
    job->dep_base[n] = e;
    return job;
}

static int task_active(const prov_task_t *t);

/* The job of product k that still has work in flight, or NULL. A job whose tasks are all
 * done but whose worker is still returning from submit() (job->running) is finished for
 * callers: its states are final, so a new operation may start at once. */
static prov_job_t *job_find(dmp_provision_t *pr, const dmp_product_key_t *k)
{
    for (prov_job_t *job = pr->jobs; job != NULL; job = job->next) {
        if (!key_eq(&job->key, k))
            continue;
        for (size_t i = 0; i < job->desc->n_resources; i++)
            if (task_active(&job->tasks[i]))
                return job;
    }
    return NULL;
}

static int task_active(const prov_task_t *t)
{
    return t->status == TASK_WAITING || t->status == TASK_RUNNING || t->status == TASK_AWAITING;
}

/* Writes task i to the store. Caller holds the lock. */
static void task_persist(dmp_provision_t *pr, prov_job_t *job, size_t i)
{
    const dmp_resource_t *res = &job->desc->resources[i];
    prov_task_t *t = &job->tasks[i];
    dmp_error_t err = {0};
    dmp_resource_rec_t rec = {
        .name = res->name,
        .technology = (char *)prov_res_technology(res),
        .state = t->state,
        .reason = t->reason,
        .operation = (char *)dmp_op_name(t->op),
        .updated_ms = t->updated_ms ? t->updated_ms : dmp_now_ms(),
        .deadline_ms = t->status == TASK_AWAITING ? t->deadline_ms : 0,
    };
    if (pr->store->ops->resource_put(pr->store, &job->key, &rec, &err) != DMP_OK)
        dmp_log(DMP_LOG_ERROR, "cannot record resource state", "resource", res->name, "error",
                err.msg, NULL);
}

static dmp_state_t job_state(const prov_job_t *job)
{
    size_t n = job->desc->n_resources;
    dmp_state_t *v = dmp_calloc(n ? n : 1, sizeof(dmp_state_t));
    for (size_t i = 0; i < n; i++)
        v[i] = job->tasks[i].state;
    dmp_state_t s = dmp_state_derive(v, n);
    dmp_free(v);
    return s;
}

static void product_persist_state(dmp_provision_t *pr, prov_job_t *job)
{
    dmp_error_t err = {0};
    if (pr->store->ops->product_set_state(pr->store, &job->key, job_state(job), &err) != DMP_OK)
        dmp_log(DMP_LOG_ERROR, "cannot record product state", "product", job->name, "error",
                err.msg, NULL);
}

/* Moves task i to 'state' (a final state, or a transit one when starting). */
static void task_set(dmp_provision_t *pr, prov_job_t *job, size_t i, dmp_state_t state,
                     const char *reason)
{
    prov_task_t *t = &job->tasks[i];
    if (!dmp_state_can_move(t->state, state))
        dmp_log(DMP_LOG_WARN, "unexpected state transition", "resource",
                job->desc->resources[i].name, "from", dmp_state_name(t->state), "to",
                dmp_state_name(state), NULL);
    t->state = state;
    dmp_free(t->reason);
    t->reason = dmp_strdup(reason);
    t->updated_ms = dmp_now_ms();
    if (!dmp_state_in_transit(state))
        t->status = TASK_DONE;
    task_persist(pr, job, i);
    product_persist_state(pr, job);
    dmp_log(state == DMP_STATE_FAILED ? DMP_LOG_WARN : DMP_LOG_INFO, "resource state",
            "environment", job->environment, "domain", job->domain, "product", job->name, "version",
            job->version, "resource", job->desc->resources[i].name, "state", dmp_state_name(state),
            "reason", reason != NULL ? reason : "", NULL);
}

/* ---- scheduling (caller holds the lock) */

/* Is task i ready to start? 1 ready, 0 wait, -1 blocked for good (then *why is set). */
static int task_ready(prov_job_t *job, size_t i, char *why, size_t why_cap)
{
    const dmp_descriptor_t *d = job->desc;
    if (job->tasks[i].op != DMP_OP_DELETE) {
        for (size_t e = job->dep_base[i]; e < job->dep_base[i + 1]; e++) {
            const prov_task_t *dt = &job->tasks[job->dep_idx[e]];
            if (task_active(dt))
                return 0;
            if (dt->state != DMP_STATE_CREATED) {
                snprintf(why, why_cap, "dependency '%s' %s", d->resources[job->dep_idx[e]].name,
                         dt->state == DMP_STATE_FAILED          ? "failed"
                         : dt->state == DMP_STATE_NOT_COMPLETED ? "did not complete"
                                                                : "is not created");
                return -1;
            }
        }
        return 1;
    }
    /* A delete waits for every resource that depends on this one to be gone. */
    for (size_t j = 0; j < d->n_resources; j++) {
        for (size_t e = job->dep_base[j]; e < job->dep_base[j + 1]; e++) {
            if (job->dep_idx[e] != i || j == i)
                continue;
            const prov_task_t *jt = &job->tasks[j];
            if (task_active(jt))
                return 0;
            if (jt->state != DMP_STATE_DELETED && jt->state != DMP_STATE_NONE) {
                snprintf(why, why_cap, "dependant '%s' was not deleted (%s)", d->resources[j].name,
                         dmp_state_name(jt->state));
                return -1;
            }
        }
    }
    return 1;
}

/* Fails report deadlines, blocks tasks whose dependencies failed, and returns the
 * index of a task ready to start (or -1). Updates *next_deadline. */
static ssize_t job_step(dmp_provision_t *pr, prov_job_t *job, int64_t now, int64_t *next_deadline)
{
    char why[300];
    ssize_t ready = -1;
    int changed = 1;
    while (changed) {
        changed = 0;
        for (size_t i = 0; i < job->desc->n_resources; i++) {
            prov_task_t *t = &job->tasks[i];
            if (t->status == TASK_AWAITING) {
                if (t->deadline_ms <= now) {
                    snprintf(why, sizeof(why),
                             "no report from the provisioner within %d ms of the %s request",
                             pr->report_timeout_ms, dmp_op_name(t->op));
                    task_set(pr, job, i, DMP_STATE_FAILED, why);
                    changed = 1;
                } else if (t->deadline_ms < *next_deadline) {
                    *next_deadline = t->deadline_ms;
                }
            } else if (t->status == TASK_WAITING) {
                int r = task_ready(job, i, why, sizeof(why));
                if (r < 0) {
                    task_set(pr, job, i, DMP_STATE_NOT_COMPLETED, why);
                    changed = 1;
                } else if (r > 0 && ready < 0) {
                    ready = (ssize_t)i;
                }
            }
        }
        if (changed)
            ready = -1;
    }
    return ready;
}

static int job_finished(const prov_job_t *job)
{
    if (job->running > 0)
        return 0; /* a worker is inside submit() for this job, outside the lock */
    for (size_t i = 0; i < job->desc->n_resources; i++)
        if (task_active(&job->tasks[i]))
            return 0;
    return 1;
}

/* The wire request of the DESIGN 3A contract: the resource as declared (its fields also
 * at top level), the product key, the whole descriptor and the callback URL. */
static json_t *wire_body(const prov_job_t *job, const dmp_resource_t *res, dmp_op_t op,
                         const char *callback, const char *cb_token)
{
    json_t *r =
        res->raw != NULL && json_is_object(res->raw) ? json_deep_copy(res->raw) : json_object();
    json_object_set_new(r, "name", json_string(res->name));
    json_object_set_new(r, "technology", json_string(prov_res_technology(res)));
    if (res->type != NULL) {
        json_object_set_new(r, "type", json_string(res->type));
        json_object_set_new(r, "resourceType", json_string(res->type));
    }
    if (json_object_get(r, "specific") == NULL)
        json_object_set(r, "specific", res->specific != NULL ? res->specific : json_object());
    json_t *body = json_deep_copy(r);
    json_object_set_new(body, "operation", json_string(dmp_op_name(op)));
    json_object_set_new(body, "kind", json_string(dmp_resource_kind_name(res->kind)));
    json_object_set_new(body, "environment", json_string(job->environment));
    json_object_set_new(body, "domain", json_string(job->domain));
    json_object_set_new(body, "dataProduct", json_string(job->name));
    json_object_set_new(body, "version", json_string(job->version));
    json_object_set_new(body, "resource", r);
    json_object_set(body, "descriptor", job->desc->doc != NULL ? job->desc->doc : json_null());
    json_object_set_new(body, "callback", callback != NULL ? json_string(callback) : json_null());
    if (cb_token != NULL && cb_token[0])
        json_object_set_new(body, "callbackToken", json_string(cb_token));
    return body;
}

/* Starts task i: calls its provisioner outside the lock. Called and returns with the
 * lock held; the job cannot finish (and be freed) while the task is RUNNING. */
static void task_run(dmp_provision_t *pr, prov_job_t *job, size_t i)
{
    const dmp_resource_t *res = &job->desc->resources[i];
    prov_task_t *t = &job->tasks[i];
    const char *tech = prov_res_technology(res);
    char why[400];

    prov_reg_ent_t *ent = prov_registry_lookup(pr, job->environment, tech);
    if (ent == NULL) {
        snprintf(why, sizeof(why),
                 "%sno provisioner is registered for technology '%s' in environment '%s'",
                 job->recovered ? "not resumed after restart: " : "", tech, job->environment);
        task_set(pr, job, i, job->recovered ? DMP_STATE_NOT_COMPLETED : DMP_STATE_FAILED, why);
        return;
    }
    t->status = TASK_RUNNING;
    job->running++;
    dmp_op_t op = t->op;
    char *callback = dmp_strdup(pr->callback_url);
    /* A fresh secret per request: only the provisioner that got it can report. */
    char cb_token[PROV_CB_TOKEN_LEN];
    prov_cb_token_new(cb_token);
    memcpy(t->cb_token, cb_token, sizeof(cb_token));
    pthread_mutex_unlock(&pr->lock);

    dmp_state_t done = DMP_STATE_NONE;
    dmp_error_t err = {0};
    json_t *body = wire_body(job, res, op, callback, cb_token);
    dmp_prov_request_t req = {op, &job->key, job->desc, res, body, callback};
    int rc = ent->pv->ops->submit(ent->pv, &req, &done, &err);
    json_decref(body);
    dmp_free(callback);
    if (rc != DMP_OK && strstr(err.msg, cb_token) != NULL) /* a provisioner quoted it back */
        snprintf(err.msg, sizeof(err.msg), "provisioner failed (its reply is withheld: it "
                                           "quoted the callback token)");
    explicit_bzero(cb_token, sizeof(cb_token));

    pthread_mutex_lock(&pr->lock);
    job->running--;
    prov_registry_release(ent);
    if (t->status != TASK_RUNNING)
        return; /* the report arrived before submit() returned */
    if (rc != DMP_OK) {
        task_set(pr, job, i, DMP_STATE_FAILED, err.msg[0] ? err.msg : dmp_strerror(rc));
    } else if (done == dmp_op_target_state(op) || done == DMP_STATE_FAILED) {
        task_set(pr, job, i, done, done == DMP_STATE_FAILED ? "provisioner returned FAILED" : NULL);
    } else if (done != DMP_STATE_NONE) {
        snprintf(why, sizeof(why), "provisioner answered %s to a %s request", dmp_state_name(done),
                 dmp_op_name(op));
        task_set(pr, job, i, DMP_STATE_FAILED, why);
    } else {
        t->status = TASK_AWAITING;
        t->deadline_ms = dmp_now_ms() + pr->report_timeout_ms;
        task_persist(pr, job, i);
    }
}

static void *worker_main(void *arg)
{
    dmp_provision_t *pr = arg;
    pthread_mutex_lock(&pr->lock);
    while (!pr->stop) {
        int64_t now = dmp_now_ms();
        int64_t next = now + 1000;
        prov_job_t *run_job = NULL;
        ssize_t run_i = -1;
        /* An empty callback URL means "not known yet" (the server sets it once bound):
         * nothing starts before it is, so recovered requests carry a usable one. */
        int hold = pr->callback_url != NULL && pr->callback_url[0] == '\0';
        prov_job_t **pp = &pr->jobs;
        while (*pp != NULL) {
            prov_job_t *job = *pp;
            ssize_t i = job_step(pr, job, now, &next);
            if (i >= 0 && run_job == NULL && !hold) {
                run_job = job;
                run_i = i;
            }
            if (run_job != job && job_finished(job)) {
                *pp = job->next;
                dmp_log(DMP_LOG_INFO, "product operation finished", "environment", job->environment,
                        "domain", job->domain, "product", job->name, "version", job->version,
                        "state", dmp_state_name(job_state(job)), NULL);
                job_free(job);
                continue;
            }
            pp = &job->next;
        }
        if (run_job != NULL) {
            task_run(pr, run_job, (size_t)run_i);
            pthread_cond_broadcast(&pr->cond);
            continue;
        }
        struct timespec ts;
        int64_t wait_ms = next - dmp_now_ms();
        if (wait_ms < 1)
            wait_ms = 1;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (wait_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&pr->cond, &pr->lock, &ts);
    }
    pthread_mutex_unlock(&pr->lock);
    return NULL;
}

/* ---- planning */

typedef struct plan {
    int operation;      /* PLAN_* */
    int fresh;          /* no usable row: the product is (re)created from scratch */
    int *action;        /* per resource: ACTION_NONE or a dmp_op_t */
    dmp_state_t *state; /* per resource: the stored state (NONE when new) */
    json_t *json;
} plan_t;

static void plan_fini(plan_t *p)
{
    dmp_free(p->action);
    dmp_free(p->state);
    json_decref(p->json);
    memset(p, 0, sizeof(*p));
}

static json_t *acl_stripped(const json_t *doc)
{
    json_t *c = json_deep_copy(doc);
    json_object_del(c, "owner");
    for (size_t a = 0; a < 3; a++) {
        json_t *arr = json_object_get(c, resource_arrays[a]);
        size_t i;
        json_t *r;
        json_array_foreach(arr, i, r)
        {
            json_object_del(r, "owner");
            json_object_del(r, "allow");
        }
    }
    return c;
}

static int ident_plain(const char *k)
{
    if (k[0] == '\0' || !(k[0] == '_' || ((k[0] | 32) >= 'a' && (k[0] | 32) <= 'z')))
        return 0;
    for (const char *p = k; *p; p++)
        if (!(*p == '_' || *p == '-' || (*p >= '0' && *p <= '9') ||
              ((*p | 32) >= 'a' && (*p | 32) <= 'z')))
            return 0;
    return 1;
}

static void path_key(dmp_buf_t *path, const char *k)
{
    if (ident_plain(k))
        dmp_buf_printf(path, "%s%s", path->len ? "." : "", k);
    else
        dmp_buf_printf(path, "[\"%s\"]", k);
}

/* Finds the first place where 'a' (stored) and 'b' (new) differ; appends its path.
 * Returns 1 when they differ. Bounded by the documents' own depth limits. */
static int first_diff(const json_t *a, const json_t *b, dmp_buf_t *path)
{
    if (json_typeof(a) != json_typeof(b))
        return 1;
    if (json_is_object(a)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)b, k, v)
        {
            json_t *av = json_object_get(a, k);
            size_t mark = path->len;
            path_key(path, k);
            if (av == NULL || first_diff(av, v, path))
                return 1;
            path->len = mark;
            path->data[mark] = '\0';
        }
        json_object_foreach((json_t *)a, k, v)
        {
            if (json_object_get(b, k) == NULL) {
                path_key(path, k);
                return 1;
            }
        }
        return 0;
    }
    if (json_is_array(a)) {
        size_t na = json_array_size(a), nb = json_array_size(b);
        for (size_t i = 0; i < na && i < nb; i++) {
            size_t mark = path->len;
            dmp_buf_printf(path, "[%zu]", i);
            if (first_diff(json_array_get(a, i), json_array_get(b, i), path))
                return 1;
            path->len = mark;
            path->data[mark] = '\0';
        }
        if (na != nb) {
            dmp_buf_printf(path, "[%zu]", na < nb ? na : nb);
            return 1;
        }
        return 0;
    }
    return !json_equal((json_t *)a, (json_t *)b);
}

static const json_t *doc_resource(const json_t *doc, const char *name)
{
    for (size_t a = 0; a < 3; a++) {
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(doc, resource_arrays[a]), i, r)
        {
            if (dmp_str_eq(json_string_value(json_object_get(r, "name")), name))
                return r;
        }
    }
    return NULL;
}

static const char *action_name(int action)
{
    return action == ACTION_NONE ? "none" : dmp_op_name((dmp_op_t)action);
}

/* Plans an apply of 'desc'. Caller holds the lock. */
static int plan_build(dmp_provision_t *pr, const dmp_descriptor_t *desc, const json_t *doc,
                      plan_t *p, dmp_error_t *err)
{
    size_t n = desc->n_resources;
    dmp_product_key_t k = desc_key(desc);
    dmp_product_rec_t rec = {0};
    dmp_resource_rec_t *recs = NULL;
    size_t n_recs = 0;
    json_t **changes = NULL;
    int rc;

    memset(p, 0, sizeof(*p));
    if ((rc = key_check(&k, err)) != DMP_OK)
        return rc;
    if (n == 0)
        return DMP_ERR(err, DMP_INVALID,
                       "product %s/%s %s declares no resources (outputPorts, workloads or "
                       "observability)",
                       k.domain, k.name, k.version);
    size_t *order = dmp_calloc(n, sizeof(size_t));
    rc = dmp_provision_toposort(desc, order, err);
    dmp_free(order);
    if (rc != DMP_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const char *tech = prov_res_technology(&desc->resources[i]);
        prov_reg_ent_t *ent = prov_registry_lookup(pr, k.environment, tech);
        if (ent == NULL) {
            rc = DMP_ERR(err, DMP_NOTFOUND,
                         "no provisioner serves technology '%s' in environment '%s' (resource "
                         "'%s'); register one with PUT /v1/provisioners or dmp serve "
                         "--provisioner %s=URL",
                         tech[0] ? tech : "(none)", k.environment, desc->resources[i].name,
                         tech[0] ? tech : "TECH");
            prov_error_at(err, desc, &desc->resources[i], "technology");
            return rc;
        }
        prov_registry_release(ent);
    }

    p->action = dmp_calloc(n, sizeof(int));
    p->state = dmp_calloc(n, sizeof(dmp_state_t));
    changes = dmp_calloc(n, sizeof(json_t *));
    for (size_t i = 0; i < n; i++)
        changes[i] = json_array();

    rc = pr->store->ops->product_get(pr->store, &k, &rec, err);
    if (rc == DMP_NOTFOUND || (rc == DMP_OK && rec.state == DMP_STATE_DELETED)) {
        p->fresh = 1;
        p->operation = PLAN_CREATE;
        for (size_t i = 0; i < n; i++)
            p->action[i] = DMP_OP_CREATE;
        rc = DMP_OK;
        dmp_error_clear(err);
    } else if (rc == DMP_OK) {
        int doc_changed = !json_equal(rec.descriptor, (json_t *)doc);
        if (doc_changed) {
            json_t *a = acl_stripped(rec.descriptor), *b = acl_stripped(doc);
            dmp_buf_t path = DMP_BUF_INIT;
            if (first_diff(a, b, &path)) {
                rc = DMP_ERR(err, DMP_IMMUTABLE,
                             "product %s/%s version %s is published and immutable: '%s' "
                             "changed; only owner and allow may change in place, so bump the "
                             "version (for example to %d.%d.%d) to publish this change",
                             k.domain, k.name, k.version, path.data ? path.data : "(document)",
                             desc->major, desc->minor, desc->patch + 1);
                dmp_error_path(err, "%s", path.data ? path.data : "");
            }
            dmp_buf_free(&path);
            json_decref(a);
            json_decref(b);
            if (rc != DMP_OK)
                goto out;
        }
        if ((rc = pr->store->ops->resource_list(pr->store, &k, &recs, &n_recs, err)) != DMP_OK)
            goto out;
        int any_create = 0, any_update = 0;
        /* The product's owner is part of every resource's effective ACL: a change to it
         * is an ACL update of each resource, so provisioners (and the stream ports'
         * access data) see it. */
        json_t *po = json_object_get(rec.descriptor, "owner"), *pn = json_object_get(doc, "owner");
        int product_owner_changed = !(po == NULL && pn == NULL) &&
                                    (po == NULL || pn == NULL || !json_equal(po, pn));
        for (size_t i = 0; i < n; i++) {
            const dmp_resource_t *res = &desc->resources[i];
            const dmp_resource_rec_t *rr = NULL;
            for (size_t j = 0; j < n_recs; j++)
                if (strcmp(recs[j].name, res->name) == 0)
                    rr = &recs[j];
            dmp_state_t st = rr != NULL ? rr->state : DMP_STATE_NONE;
            const json_t *old = doc_resource(rec.descriptor, res->name);
            const json_t *neu = doc_resource(doc, res->name);
            static const char *const acl[] = {"owner", "allow"};
            for (size_t f = 0; f < 2; f++) {
                json_t *ov = old ? json_object_get(old, acl[f]) : NULL;
                json_t *nv = neu ? json_object_get(neu, acl[f]) : NULL;
                if (!(ov == NULL && nv == NULL) &&
                    (ov == NULL || nv == NULL || !json_equal(ov, nv)))
                    json_array_append_new(changes[i], json_string(acl[f]));
            }
            if (product_owner_changed)
                json_array_append_new(changes[i], json_string("owner (product)"));
            p->state[i] = st;
            if (st == DMP_STATE_CREATED)
                p->action[i] = json_array_size(changes[i]) ? DMP_OP_UPDATE : ACTION_NONE;
            else if (dmp_state_in_transit(st))
                p->action[i] = ACTION_NONE;
            else if (st != DMP_STATE_NONE && rr != NULL && dmp_str_eq(rr->operation, "update"))
                p->action[i] = DMP_OP_UPDATE; /* retry of a failed ACL update */
            else
                p->action[i] = DMP_OP_CREATE; /* first attempt, or retry of a failed create */
            any_create |= p->action[i] == DMP_OP_CREATE;
            any_update |= p->action[i] == DMP_OP_UPDATE;
        }
        p->operation = any_create                    ? PLAN_CREATE
                       : (any_update || doc_changed) ? PLAN_UPDATE
                                                     : PLAN_NONE;
    } else {
        goto out;
    }

    static const char *const op_names[] = {"none", "create", "update"};
    p->json = json_object();
    json_object_set_new(p->json, "product", key_json(&k));
    json_object_set_new(p->json, "operation", json_string(op_names[p->operation]));
    if (p->operation == PLAN_NONE)
        json_object_set_new(p->json, "message", json_string("no changes"));
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const dmp_resource_t *res = &desc->resources[i];
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", res->name, "kind",
                      dmp_resource_kind_name(res->kind), "technology", prov_res_technology(res),
                      "action", action_name(p->action[i]), "state", dmp_state_name(p->state[i]));
        json_object_set(o, "changes", changes[i]);
        json_array_append_new(arr, o);
    }
    json_object_set_new(p->json, "resources", arr);
out:
    for (size_t i = 0; changes != NULL && i < n; i++)
        json_decref(changes[i]);
    dmp_free(changes);
    dmp_resource_recs_free(recs, n_recs);
    dmp_product_rec_fini(&rec);
    if (rc != DMP_OK)
        plan_fini(p);
    return rc;
}

int dmp_provision_plan(dmp_provision_t *pr, const dmp_descriptor_t *desc, json_t **plan,
                       dmp_error_t *err)
{
    plan_t p;
    *plan = NULL;
    if (desc == NULL)
        return DMP_ERR(err, DMP_INVALID, "no descriptor");
    json_t *doc = doc_self_contained(desc);
    pthread_mutex_lock(&pr->lock);
    int rc = plan_build(pr, desc, doc, &p, err);
    pthread_mutex_unlock(&pr->lock);
    json_decref(doc);
    if (rc == DMP_OK) {
        *plan = p.json;
        p.json = NULL;
        plan_fini(&p);
    }
    return rc;
}

/* DMP_CONFLICT naming the first resource in transit. Caller holds the lock. */
static int conflict(const prov_job_t *job, const char *what, dmp_error_t *err)
{
    const char *rname = "?";
    dmp_state_t st = DMP_STATE_NONE;
    for (size_t i = 0; i < job->desc->n_resources; i++) {
        if (task_active(&job->tasks[i])) {
            rname = job->desc->resources[i].name;
            st = job->tasks[i].state;
            break;
        }
    }
    int rc = DMP_ERR(err, DMP_CONFLICT,
                     "cannot %s product %s/%s version %s in environment %s: it is in transit "
                     "(resource '%s' is %s); retry once every resource is consistent",
                     what, job->domain, job->name, job->version, job->environment, rname,
                     dmp_state_name(st));
    if (err != NULL)
        err->retriable = 1;
    return rc;
}

int dmp_provision_apply(dmp_provision_t *pr, const dmp_descriptor_t *desc, json_t **result,
                        dmp_error_t *err)
{
    dmp_descriptor_t *copy = NULL;
    plan_t p = {0};
    int rc;

    *result = NULL;
    if (desc == NULL || desc->doc == NULL)
        return DMP_ERR(err, DMP_INVALID, "no descriptor");
    json_t *doc = doc_self_contained(desc);
    rc = desc_from_doc(doc, &copy, err);
    json_decref(doc);
    if (rc != DMP_OK)
        return rc;
    dmp_product_key_t k = desc_key(copy);

    pthread_mutex_lock(&pr->lock);
    prov_job_t *busy = job_find(pr, &k);
    if (busy != NULL) {
        rc = conflict(busy, "apply", err);
        goto out;
    }
    if ((rc = plan_build(pr, copy, copy->doc, &p, err)) != DMP_OK || p.operation == PLAN_NONE)
        goto out;

    size_t n = copy->n_resources, acting = 0;
    for (size_t i = 0; i < n; i++)
        acting += p.action[i] != ACTION_NONE;
    if (p.fresh)
        pr->store->ops->product_delete(pr->store, &k, NULL);
    rc = pr->store->ops->product_put(
        pr->store, &k, copy->doc,
        acting ? dmp_op_transit_state(
                     (dmp_op_t)(p.operation == PLAN_CREATE ? DMP_OP_CREATE : DMP_OP_UPDATE))
               : DMP_STATE_CREATED,
        err);
    if (rc != DMP_OK || acting == 0)
        goto out;

    prov_job_t *job = job_new(&k, copy);
    copy = NULL;
    for (size_t i = 0; i < n; i++) {
        prov_task_t *t = &job->tasks[i];
        t->state = p.state[i];
        if (p.action[i] == ACTION_NONE) {
            t->status = TASK_IDLE;
            continue;
        }
        t->op = (dmp_op_t)p.action[i];
        t->status = TASK_WAITING;
        t->state = dmp_op_transit_state(t->op);
        task_persist(pr, job, i);
    }
    product_persist_state(pr, job);
    job->next = pr->jobs;
    pr->jobs = job;
    pthread_cond_broadcast(&pr->cond);
out:
    pthread_mutex_unlock(&pr->lock);
    if (rc == DMP_OK) {
        *result = p.json;
        p.json = NULL;
    }
    plan_fini(&p);
    dmp_descriptor_free(copy);
    return rc;
}

int dmp_provision_delete(dmp_provision_t *pr, const dmp_product_key_t *key, json_t **result,
                         dmp_error_t *err)
{
    dmp_product_rec_t rec = {0};
    dmp_resource_rec_t *recs = NULL;
    size_t n_recs = 0;
    dmp_descriptor_t *desc = NULL;
    int rc;

    *result = NULL;
    if ((rc = key_check(key, err)) != DMP_OK)
        return rc;
    pthread_mutex_lock(&pr->lock);
    prov_job_t *busy = job_find(pr, key);
    if (busy != NULL) {
        rc = conflict(busy, "delete", err);
        goto out;
    }
    if ((rc = pr->store->ops->product_get(pr->store, key, &rec, err)) != DMP_OK ||
        (rc = pr->store->ops->resource_list(pr->store, key, &recs, &n_recs, err)) != DMP_OK)
        goto out;
    if ((rc = desc_from_doc(rec.descriptor, &desc, err)) != DMP_OK)
        goto out;

    json_t *res_json = json_array();
    prov_job_t *job = job_new(key, desc);
    size_t acting = 0;
    for (size_t i = 0; i < desc->n_resources; i++) {
        const dmp_resource_t *res = &desc->resources[i];
        prov_task_t *t = &job->tasks[i];
        t->state = DMP_STATE_NONE;
        for (size_t j = 0; j < n_recs; j++)
            if (strcmp(recs[j].name, res->name) == 0)
                t->state = recs[j].state;
        int act = t->state != DMP_STATE_NONE && t->state != DMP_STATE_DELETED;
        json_array_append_new(res_json,
                              json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", res->name, "kind",
                                        dmp_resource_kind_name(res->kind), "technology",
                                        prov_res_technology(res), "action", act ? "delete" : "none",
                                        "state", dmp_state_name(t->state)));
        if (!act)
            continue;
        acting++;
        t->op = DMP_OP_DELETE;
        t->status = TASK_WAITING;
        t->state = DMP_STATE_DELETING;
        task_persist(pr, job, i);
    }
    desc = NULL;
    job->deleting = 1;
    *result = json_pack("{s:o, s:s, s:o}", "product", key_json(key), "operation",
                        acting ? "delete" : "none", "resources", res_json);
    if (acting == 0) {
        if (rec.state != DMP_STATE_DELETED)
            pr->store->ops->product_set_state(pr->store, key, DMP_STATE_DELETED, NULL);
        json_object_set_new(*result, "message", json_string("already deleted"));
        job_free(job);
        goto out;
    }
    product_persist_state(pr, job);
    job->next = pr->jobs;
    pr->jobs = job;
    pthread_cond_broadcast(&pr->cond);
out:
    pthread_mutex_unlock(&pr->lock);
    dmp_descriptor_free(desc);
    dmp_resource_recs_free(recs, n_recs);
    dmp_product_rec_fini(&rec);
    return rc;
}

/* ---- state service and reads */

static json_t *resource_json(const dmp_resource_rec_t *r)
{
    json_t *o = json_pack("{s:s, s:s, s:s?}", "name", r->name, "state", dmp_state_name(r->state),
                          "technology", r->technology);
    json_object_set_new(o, "reason", r->reason != NULL ? json_string(r->reason) : json_null());
    json_object_set_new(o, "operation",
                        r->operation != NULL ? json_string(r->operation) : json_null());
    json_object_set_new(o, "updated", time_json(r->updated_ms));
    if (dmp_state_in_transit(r->state) && r->deadline_ms > 0)
        json_object_set_new(o, "deadline", time_json(r->deadline_ms));
    return o;
}

static json_t *product_json(const dmp_product_rec_t *p)
{
    dmp_product_key_t k = {p->environment, p->domain, p->name, p->version};
    json_t *o = key_json(&k);
    json_object_set_new(o, "state", json_string(dmp_state_name(p->state)));
    json_object_set_new(o, "created", time_json(p->created_ms));
    json_object_set_new(o, "updated", time_json(p->updated_ms));
    return o;
}

static int state_json(dmp_provision_t *pr, const dmp_product_key_t *key, const char *resource,
                      int with_doc, json_t **out, dmp_error_t *err)
{
    dmp_product_rec_t rec = {0};
    dmp_resource_rec_t *recs = NULL;
    size_t n = 0;
    int rc;
    *out = NULL;
    if ((rc = key_check(key, err)) != DMP_OK)
        return rc;
    if ((rc = pr->store->ops->product_get(pr->store, key, &rec, err)) != DMP_OK)
        return rc;
    if ((rc = pr->store->ops->resource_list(pr->store, key, &recs, &n, err)) != DMP_OK) {
        dmp_product_rec_fini(&rec);
        return rc;
    }
    if (resource != NULL) {
        rc = DMP_ERR(err, DMP_NOTFOUND, "product %s/%s version %s has no resource '%s'",
                     key->domain, key->name, key->version, resource);
        for (size_t i = 0; i < n; i++) {
            if (strcmp(recs[i].name, resource) == 0) {
                *out = resource_json(&recs[i]);
                json_object_set_new(*out, "product", key_json(key));
                dmp_error_clear(err);
                rc = DMP_OK;
            }
        }
    } else {
        json_t *o = product_json(&rec);
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, resource_json(&recs[i]));
        json_object_set_new(o, "resources", arr);
        if (with_doc)
            json_object_set(o, "descriptor", rec.descriptor);
        *out = o;
    }
    dmp_resource_recs_free(recs, n);
    dmp_product_rec_fini(&rec);
    return rc;
}

int dmp_provision_state(dmp_provision_t *pr, const dmp_product_key_t *key, json_t **out,
                        dmp_error_t *err)
{
    return state_json(pr, key, NULL, 0, out, err);
}

int dmp_provision_resource_state(dmp_provision_t *pr, const dmp_product_key_t *key,
                                 const char *resource, json_t **out, dmp_error_t *err)
{
    if (resource == NULL)
        return DMP_ERR(err, DMP_INVALID, "no resource name");
    return state_json(pr, key, resource, 0, out, err);
}

/* "dmpcb_" + 43 base64url characters: 256 bits from the key-grade generator. */
static void prov_cb_token_new(char out[PROV_CB_TOKEN_LEN])
{
    char tok[DMP_TOKEN_NEW_LEN];
    out[0] = '\0';
    if (dmp_token_generate(tok, NULL) != DMP_OK)
        return; /* no secret: every report is refused, the resource times out */
    snprintf(out, PROV_CB_TOKEN_LEN, "dmpcb_%s", tok + strlen(DMP_TOKEN_PREFIX));
    explicit_bzero(tok, sizeof(tok));
}

/* Constant-time comparison of two NUL-terminated secrets. */
static int secret_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

int dmp_provision_report(dmp_provision_t *pr, const dmp_product_key_t *key, const char *resource,
                         dmp_state_t state, const char *reason, dmp_error_t *err)
{
    return dmp_provision_report_secret(pr, key, resource, state, reason, NULL, err);
}

int dmp_provision_report_secret(dmp_provision_t *pr, const dmp_product_key_t *key,
                                const char *resource, dmp_state_t state, const char *reason,
                                const char *secret, dmp_error_t *err)
{
    int rc;
    if ((rc = key_check(key, err)) != DMP_OK)
        return rc;
    if (resource == NULL || resource[0] == '\0')
        return DMP_ERR(err, DMP_INVALID, "a report names the resource ('name')");
    if (state != DMP_STATE_CREATED && state != DMP_STATE_DELETED && state != DMP_STATE_FAILED)
        return DMP_ERR(err, DMP_INVALID,
                       "state '%s' cannot be reported; a provisioner reports CREATED, DELETED "
                       "or FAILED",
                       dmp_state_name(state));
    pthread_mutex_lock(&pr->lock);
    prov_job_t *job = job_find(pr, key);
    ssize_t i = job != NULL ? dmp_provision_find_resource(job->desc, resource) : -1;
    if (i < 0 && secret != NULL) {
        /* nothing awaits a report, so no callback token is valid: say no more than that */
        rc = DMP_ERR(err, DMP_UNAUTHENTICATED,
                     "the report for resource '%s' of product %s/%s version %s does not carry "
                     "the callback token of a pending request",
                     resource, key->domain, key->name, key->version);
        goto out;
    }
    if (i < 0) {
        json_t *cur = NULL;
        dmp_error_t e2 = {0};
        rc = state_json(pr, key, resource, 0, &cur, &e2);
        if (rc != DMP_OK) {
            rc = DMP_ERR(err, rc, "%s", e2.msg);
        } else {
            rc = DMP_ERR(err, DMP_CONFLICT,
                         "resource '%s' of product %s/%s version %s is not awaiting a report "
                         "(state %s)",
                         resource, key->domain, key->name, key->version,
                         json_string_value(json_object_get(cur, "state")));
        }
        json_decref(cur);
        goto out;
    }
    prov_task_t *t = &job->tasks[i];
    if (secret != NULL && (t->cb_token[0] == '\0' || !secret_eq(secret, t->cb_token))) {
        /* never echo either value */
        rc = DMP_ERR(err, DMP_UNAUTHENTICATED,
                     "the report for resource '%s' of product %s/%s version %s does not carry "
                     "the callback token of its latest request",
                     resource, key->domain, key->name, key->version);
        goto out;
    }
    /* A resource accepted before a restart may report before it is re-submitted. */
    int awaiting = t->status == TASK_RUNNING || t->status == TASK_AWAITING ||
                   (t->status == TASK_WAITING && t->was_accepted);
    if (!awaiting) {
        rc = DMP_ERR(err, DMP_CONFLICT,
                     "resource '%s' of product %s/%s version %s is not awaiting a report (state "
                     "%s%s)",
                     resource, key->domain, key->name, key->version, dmp_state_name(t->state),
                     t->status == TASK_WAITING ? ", waiting for its dependencies" : "");
        goto out;
    }
    if (state != DMP_STATE_FAILED && state != dmp_op_target_state(t->op)) {
        rc = DMP_ERR(err, DMP_INVALID,
                     "resource '%s' is %s; a report of %s does not fit a %s (expected %s or "
                     "FAILED)",
                     resource, dmp_state_name(t->state), dmp_state_name(state), dmp_op_name(t->op),
                     dmp_state_name(dmp_op_target_state(t->op)));
        goto out;
    }
    task_set(pr, job, (size_t)i, state,
             state == DMP_STATE_FAILED
                 ? (reason != NULL && reason[0] ? reason : "provisioner reported FAILED")
                 : NULL);
    pthread_cond_broadcast(&pr->cond);
out:
    pthread_mutex_unlock(&pr->lock);
    return rc;
}

int dmp_provision_set_state(dmp_provision_t *pr, const dmp_product_key_t *key, dmp_state_t state,
                            dmp_error_t *err)
{
    int rc;
    if ((rc = key_check(key, err)) != DMP_OK)
        return rc;
    pthread_mutex_lock(&pr->lock);
    prov_job_t *busy = job_find(pr, key);
    if (busy != NULL)
        rc = conflict(busy, "set the state of", err);
    else
        rc = pr->store->ops->product_set_state(pr->store, key, state, err);
    pthread_mutex_unlock(&pr->lock);
    return rc;
}

int dmp_provision_list(dmp_provision_t *pr, json_t **out, dmp_error_t *err)
{
    dmp_product_rec_t *v = NULL;
    size_t n = 0;
    *out = NULL;
    int rc = pr->store->ops->product_list(pr->store, NULL, NULL, NULL, &v, &n, err);
    if (rc != DMP_OK)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, product_json(&v[i]));
    dmp_product_recs_free(v, n);
    *out = arr;
    return DMP_OK;
}

/* Compares dotted numeric versions ("1.10.0" > "1.9.3"); non-numeric parts by text. */
static int version_cmp(const char *a, const char *b)
{
    while (*a && *b) {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            char *ea, *eb;
            unsigned long long x = strtoull(a, &ea, 10), y = strtoull(b, &eb, 10);
            if (x != y)
                return x < y ? -1 : 1;
            a = ea;
            b = eb;
        } else {
            if (*a != *b)
                return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
            a++;
            b++;
        }
    }
    return *a ? 1 : *b ? -1 : 0;
}

int dmp_provision_get(dmp_provision_t *pr, const char *environment, const char *domain,
                      const char *name, const char *version, json_t **out, dmp_error_t *err)
{
    dmp_product_rec_t *v = NULL;
    size_t n = 0;
    *out = NULL;
    if (domain == NULL || name == NULL)
        return DMP_ERR(err, DMP_INVALID, "a product is named by domain and name");
    int rc = pr->store->ops->product_list(pr->store, environment, domain, name, &v, &n, err);
    if (rc != DMP_OK)
        return rc;
    dmp_product_rec_t *best = NULL;
    for (size_t i = 0; i < n; i++) {
        if (version != NULL ? strcmp(v[i].version, version) == 0
                            : (best == NULL || version_cmp(v[i].version, best->version) > 0))
            best = &v[i];
    }
    if (best == NULL) {
        rc = DMP_ERR(err, DMP_NOTFOUND, "product %s/%s%s%s%s%s not found", domain, name,
                     version ? " version " : "", version ? version : "",
                     environment ? " in environment " : "", environment ? environment : "");
    } else {
        dmp_product_key_t k = {best->environment, best->domain, best->name, best->version};
        rc = state_json(pr, &k, NULL, 1, out, err);
        if (rc == DMP_OK) {
            json_t *versions = json_array();
            for (size_t i = 0; i < n; i++)
                if (strcmp(v[i].environment, best->environment) == 0)
                    json_array_append_new(versions, json_string(v[i].version));
            json_object_set_new(*out, "versions", versions);
        }
    }
    dmp_product_recs_free(v, n);
    return rc;
}

/* ---- lifecycle and crash recovery */

/* Rebuilds the jobs of products left in transit. Resources in transit are re-submitted
 * (provisioners are idempotent by contract); the ones whose provisioner is gone become
 * NOT_COMPLETED when the worker reaches them. Caller holds the lock. */
static int recover(dmp_provision_t *pr, dmp_error_t *err)
{
    dmp_product_rec_t *v = NULL;
    size_t n = 0;
    int rc = pr->store->ops->product_list(pr->store, NULL, NULL, NULL, &v, &n, err);
    if (rc != DMP_OK)
        return rc;
    for (size_t p = 0; p < n; p++) {
        dmp_product_key_t k = {v[p].environment, v[p].domain, v[p].name, v[p].version};
        dmp_resource_rec_t *recs = NULL;
        size_t n_recs = 0, transit = 0;
        dmp_descriptor_t *desc = NULL;
        dmp_error_t e2 = {0};
        if (pr->store->ops->resource_list(pr->store, &k, &recs, &n_recs, &e2) != DMP_OK)
            continue;
        for (size_t j = 0; j < n_recs; j++)
            transit += dmp_state_in_transit(recs[j].state) != 0;
        if (transit == 0) {
            dmp_resource_recs_free(recs, n_recs);
            continue;
        }
        size_t *order = NULL;
        if (desc_from_doc(v[p].descriptor, &desc, &e2) == DMP_OK) {
            order = dmp_calloc(desc->n_resources ? desc->n_resources : 1, sizeof(size_t));
            if (dmp_provision_toposort(desc, order, &e2) != DMP_OK) {
                dmp_descriptor_free(desc);
                desc = NULL;
            }
            dmp_free(order);
        }
        if (desc == NULL) {
            /* Nothing can be resumed without a usable descriptor: close the books. */
            char *why = dmp_asprintf("not resumed after restart: %s", e2.msg);
            for (size_t j = 0; j < n_recs; j++) {
                if (!dmp_state_in_transit(recs[j].state))
                    continue;
                dmp_free(recs[j].reason);
                recs[j].reason = dmp_strdup(why);
                recs[j].state = DMP_STATE_NOT_COMPLETED;
                recs[j].updated_ms = dmp_now_ms();
                recs[j].deadline_ms = 0;
                pr->store->ops->resource_put(pr->store, &k, &recs[j], NULL);
            }
            pr->store->ops->product_set_state(pr->store, &k, DMP_STATE_NOT_COMPLETED, NULL);
            dmp_log(DMP_LOG_WARN, "product not resumed after restart", "product", k.name, "error",
                    e2.msg, NULL);
            dmp_free(why);
            dmp_resource_recs_free(recs, n_recs);
            continue;
        }
        prov_job_t *job = job_new(&k, desc);
        job->recovered = 1;
        for (size_t i = 0; i < desc->n_resources; i++) {
            prov_task_t *t = &job->tasks[i];
            t->state = DMP_STATE_NONE;
            for (size_t j = 0; j < n_recs; j++) {
                if (strcmp(recs[j].name, desc->resources[i].name) != 0)
                    continue;
                t->state = recs[j].state;
                if (!dmp_state_in_transit(t->state))
                    break;
                if (dmp_op_parse(recs[j].operation, &t->op) != DMP_OK)
                    t->op = t->state == DMP_STATE_DELETING   ? DMP_OP_DELETE
                            : t->state == DMP_STATE_UPDATING ? DMP_OP_UPDATE
                                                             : DMP_OP_CREATE;
                t->status = TASK_WAITING;
                t->was_accepted = recs[j].deadline_ms > 0;
                job->deleting |= t->op == DMP_OP_DELETE;
            }
        }
        job->next = pr->jobs;
        pr->jobs = job;
        dmp_log(DMP_LOG_INFO, "resuming product left in transit", "environment", k.environment,
                "domain", k.domain, "product", k.name, "version", k.version, NULL);
        dmp_resource_recs_free(recs, n_recs);
    }
    dmp_product_recs_free(v, n);
    return DMP_OK;
}

int dmp_provision_open(const dmp_provision_conf_t *conf, dmp_provision_t **out, dmp_error_t *err)
{
    int rc;
    *out = NULL;
    if (conf == NULL || conf->store == NULL)
        return DMP_ERR(err, DMP_INVALID, "the provisioning coordinator needs a store");
    dmp_provision_t *pr = dmp_calloc(1, sizeof(*pr));
    pr->store = conf->store;
    pr->callback_url = dmp_strdup(conf->callback_url);
    pr->data_dir = dmp_strdup(conf->data_dir != NULL ? conf->data_dir : "./dmp-data");
    pr->http_timeout_ms =
        conf->http_timeout_ms > 0 ? conf->http_timeout_ms : DEFAULT_HTTP_TIMEOUT_MS;
    pr->report_timeout_ms =
        conf->report_timeout_ms > 0 ? conf->report_timeout_ms : DEFAULT_REPORT_TIMEOUT_MS;
    pthread_mutex_init(&pr->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pr->cond, &ca);
    pthread_condattr_destroy(&ca);

    if ((rc = prov_registry_defaults(pr, err)) != DMP_OK ||
        (rc = prov_registry_load(pr, err)) != DMP_OK)
        goto fail;
    for (size_t i = 0; i < conf->n_provisioner_specs; i++)
        if ((rc = dmp_provision_register_arg(pr, conf->provisioner_specs[i], err)) != DMP_OK)
            goto fail;
    pthread_mutex_lock(&pr->lock);
    rc = recover(pr, err);
    pthread_mutex_unlock(&pr->lock);
    if (rc != DMP_OK)
        goto fail;

    int workers = conf->workers > 0 ? conf->workers : DEFAULT_WORKERS;
    if (workers > MAX_WORKERS)
        workers = MAX_WORKERS;
    pr->threads = dmp_calloc((size_t)workers, sizeof(pthread_t));
    for (int i = 0; i < workers; i++) {
        if (pthread_create(&pr->threads[i], NULL, worker_main, pr) != 0) {
            rc = DMP_ERR(err, DMP_IO, "cannot start provisioning worker thread");
            goto fail;
        }
        pr->n_threads++;
    }
    *out = pr;
    return DMP_OK;
fail:
    dmp_provision_close(pr);
    return rc;
}

void dmp_provision_close(dmp_provision_t *pr)
{
    if (pr == NULL)
        return;
    pthread_mutex_lock(&pr->lock);
    pr->stop = 1;
    pthread_cond_broadcast(&pr->cond);
    pthread_mutex_unlock(&pr->lock);
    for (int i = 0; i < pr->n_threads; i++)
        pthread_join(pr->threads[i], NULL);
    /* Jobs still under way stay in transit in the store; the next open resumes them. */
    while (pr->jobs != NULL) {
        prov_job_t *next = pr->jobs->next;
        job_free(pr->jobs);
        pr->jobs = next;
    }
    prov_registry_free_all(pr);
    pthread_cond_destroy(&pr->cond);
    pthread_mutex_destroy(&pr->lock);
    dmp_free(pr->threads);
    dmp_free(pr->callback_url);
    dmp_free(pr->data_dir);
    dmp_free(pr);
}

void dmp_provision_set_callback(dmp_provision_t *pr, const char *url)
{
    pthread_mutex_lock(&pr->lock);
    dmp_free(pr->callback_url);
    pr->callback_url = dmp_strdup(url);
    pthread_cond_broadcast(&pr->cond);
    pthread_mutex_unlock(&pr->lock);
}
