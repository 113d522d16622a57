/* serve.c -- wires the embedded default together: the SQLite store under the data
 * dir, the provisioning coordinator, the provisioners from the config, and the HTTP
 * server; then waits for SIGINT/SIGTERM and shuts down in reverse order. */
#include <errno.h>
#include <sys/file.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmp/auth.h"
#include "dmp/governance.h"
#include "dmp/catalog.h"
#include "dmp/http.h"
#include "dmp/provision.h"
#include "dmp/server.h"
#include "dmp/store.h"
#include "dmp/streams.h"

static int mkdir_p(const char *path, dmp_error_t *err)
{
    char tmp[4096];
    if (strlen(path) >= sizeof(tmp))
        return DMP_ERR(err, DMP_INVALID, "data-dir path is too long");
    strcpy(tmp, path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return DMP_ERR(err, DMP_IO, "cannot create %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return DMP_ERR(err, DMP_IO, "cannot create %s: %s", tmp, strerror(errno));
    return DMP_OK;
}

/* Takes <data-dir>/LOCK so that a second `dmp serve` on the same data dir fails at once
 * instead of resuming the first one's work. The lock lives as long as the fd. */
static int lock_data_dir(const char *dir, int *fd_out, dmp_error_t *err)
{
    char *path = dmp_asprintf("%s/LOCK", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    int rc = DMP_OK;
    if (fd < 0) {
        rc = DMP_ERR(err, DMP_IO, "cannot open %s: %s", path, strerror(errno));
    } else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        rc = DMP_ERR(err, DMP_CONFLICT,
                     "data dir %s is in use by another dmp serve%s%s%s: one server per data dir",
                     dir, pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
        close(fd);
        fd = -1;
    } else {
        char pid[32];
        int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
            dmp_log(DMP_LOG_WARN, "cannot record the pid in the data dir lock", "path", path,
                    NULL);
    }
    dmp_free(path);
    *fd_out = fd;
    return rc;
}

/* "s3cdp=http://..." or "test:s3cdp=http://..." */
static int register_flag(dmp_provision_t *prov, const char *spec, dmp_error_t *err)
{
    const char *eq = strchr(spec, '=');
    char lhs[256];
    size_t n = (size_t)(eq - spec);
    if (n == 0 || n >= sizeof(lhs))
        return DMP_ERR(err, DMP_INVALID, "provisioner '%s' is not TECHNOLOGY=URL", spec);
    memcpy(lhs, spec, n);
    lhs[n] = '\0';
    char *colon = strchr(lhs, ':');
    const char *env = NULL, *tech = lhs;
    if (colon) {
        *colon = '\0';
        env = lhs;
        tech = colon + 1;
    }
    return dmp_provision_register_spec(prov, env, tech, eq + 1, err);
}

/* The web UI directory: --web-dir, or ../web/dist next to the binary (build/dmp in the
 * source tree), when it holds an index.html. NULL when there is none. */
static char *web_dir_of(const dmp_server_conf_t *conf)
{
    if (conf->web_dir && conf->web_dir[0])
        return strcmp(conf->web_dir, "none") ? dmp_strdup(conf->web_dir) : NULL;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    char *dir = dmp_asprintf("%s/../web/dist", exe);
    char *index = dmp_asprintf("%s/index.html", dir);
    int ok = access(index, R_OK) == 0;
    dmp_free(index);
    if (!ok) {
        dmp_free(dir);
        return NULL;
    }
    return dir;
}

int dmp_server_run(const dmp_server_conf_t *conf, dmp_error_t *err)
{
    dmp_log_set_json(strcmp(conf->log_format, "text") != 0);
    dmp_log_set_level(!strcmp(conf->log_level, "debug")  ? DMP_LOG_DEBUG
                      : !strcmp(conf->log_level, "warn") ? DMP_LOG_WARN
                      : !strcmp(conf->log_level, "error") ? DMP_LOG_ERROR
                                                          : DMP_LOG_INFO);
    /* Block the shutdown signals before any thread starts, so only sigwait sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    dmp_store_t *store = NULL;
    dmp_provision_t *prov = NULL;
    dmp_http_server_t *srv = NULL;
    dmp_catalog_t *cat = NULL;
    dmp_streams_t *streams = NULL;
    dmp_governance_t *gov = NULL;
    char *db = NULL, *url = NULL, *catdb = NULL, *web = NULL;
    dmp_security_t sec = {0};
    int rc, lock_fd = -1;
    if ((rc = mkdir_p(conf->data_dir, err)) != DMP_OK)
        goto out;
    if ((rc = lock_data_dir(conf->data_dir, &lock_fd, err)) != DMP_OK)
        goto out;
    dmp_security_conf_t secc = {
        .listen = conf->listen,
        .data_dir = conf->data_dir,
        .tokens_file = conf->tokens_file,
        .jwt_hs256_secret_file = conf->jwt_hs256_secret_file,
        .jwt_rs256_public_key_file = conf->jwt_rs256_public_key,
        .jwt_issuer = conf->jwt_issuer,
        .jwt_audience = conf->jwt_audience,
        .tls_cert_file = conf->tls_cert,
        .tls_key_file = conf->tls_key,
        .mask_mode = conf->mask,
        .mask_key_file = conf->mask_key_file,
    };
    if ((rc = dmp_security_open(&secc, &sec, err)) != DMP_OK)
        goto out;
    db = dmp_asprintf("sqlite:%s/dmp.db", conf->data_dir);
    if ((rc = dmp_store_open(db, &store, err)) != DMP_OK)
        goto out;
    dmp_provision_conf_t pc = {0};
    pc.store = store;
    pc.callback_url = "";
    pc.data_dir = conf->data_dir;
    pc.http_timeout_ms = (int)conf->provisioner_timeout_ms;
    pc.report_timeout_ms = (int)conf->report_timeout_ms;
    if ((rc = dmp_provision_open(&pc, &prov, err)) != DMP_OK)
        goto out;
    for (size_t i = 0; i < conf->n_provisioners; i++)
        if ((rc = register_flag(prov, conf->provisioners[i], err)) != DMP_OK)
            goto out;

    dmp_streams_conf_t sc = {
        .data_dir = conf->data_dir,
        /* where stream ports keep their events: the embedded log is the one backend built
         * in; a NATS/Kafka backend would be chosen here by its own factory */
        .backend = dmp_streams_backend_log,
        .max_event_bytes = conf->event_max_bytes,
        .max_batch_bytes = conf->max_body_bytes,
        .max_batch_events = conf->batch_max_events,
        .dedup_window_count = conf->dedup_window,
        .dedup_window_ms = conf->dedup_window_ms,
        .segment_bytes = conf->log_segment_bytes,
    };
    if ((rc = dmp_streams_open(&sc, &streams, err)) != DMP_OK)
        goto out;
    /* Stream ports: `type: stream` (the default technology) and `technology: dmp-log`. */
    static const char *stream_techs[] = {"stream", "dmp-log"};
    for (size_t i = 0; i < 2; i++) {
        dmp_provisioner_t *pv = NULL;
        if ((rc = dmp_streams_provisioner_new(streams, &pv, err)) != DMP_OK ||
            (rc = dmp_provision_register(prov, NULL, stream_techs[i], pv, err)) != DMP_OK)
            goto out;
    }

    if ((rc = dmp_governance_open(conf->data_dir, conf->policies, &gov, err)) != DMP_OK)
        goto out;

    catdb = dmp_asprintf("sqlite:%s/catalog.db", conf->data_dir);
    if ((rc = dmp_catalog_open(catdb, &cat, err)) != DMP_OK)
        goto out;
    web = web_dir_of(conf);
    dmp_services_t svc = {.prov = prov, .cat = cat, .web_dir = web, .streams = streams,
                          .auth = sec.auth, .audit = sec.audit, .mask = &sec.mask,
                          .gov = gov};
    dmp_http_conf_t hc = {
        .listen = conf->listen,
        .max_body_bytes = conf->max_body_bytes,
        .connection_limit = conf->connection_limit,
        .per_ip_limit = conf->per_ip_limit,
        .timeout_s = conf->timeout_s,
        .access_log = 1,
        .tls_cert_pem = sec.tls_cert_pem,
        .tls_key_pem = sec.tls_key_pem,
    };
    if ((rc = dmp_http_start(&hc, &svc, &srv, err)) != DMP_OK)
        goto out;
    if (conf->public_url && conf->public_url[0]) {
        url = dmp_strdup(conf->public_url);
    } else {
        char host[256];
        snprintf(host, sizeof(host), "%s", conf->listen);
        char *colon = strrchr(host, ':');
        if (colon)
            *colon = '\0';
        url = dmp_asprintf("%s://%s:%d", sec.tls_cert_pem ? "https" : "http", host,
                           dmp_http_port(srv));
    }
    char *cb = dmp_asprintf("%s/v1/state/dataproduct/resource", url);
    dmp_provision_set_callback(prov, cb);
    dmp_free(cb);
    dmp_http_set_ready(srv, 1);
    char port[16];
    snprintf(port, sizeof(port), "%d", dmp_http_port(srv));
    dmp_log(DMP_LOG_INFO, "listening", "url", url, "port", port, "data_dir", conf->data_dir,
            "config", conf->config_file[0] ? conf->config_file : "(none)", NULL);

    int sig = 0;
    sigwait(&set, &sig);
    dmp_log(DMP_LOG_INFO, "shutting down", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
    dmp_http_set_ready(srv, 0);
    rc = DMP_OK;
out:
    dmp_http_stop(srv);
    dmp_provision_close(prov);
    dmp_streams_close(streams);
    dmp_catalog_close(cat);
    dmp_governance_close(gov);
    dmp_free(catdb);
    dmp_free(web);
    dmp_store_close(store);
    dmp_security_close(&sec);
    dmp_free(db);
    dmp_free(url);
    if (lock_fd >= 0)
        close(lock_fd); /* releases the data dir */
    return rc;
}
