/* dmp-provisioner-files -- an example external provisioner (DESIGN 3A contract).
 *
 * Serves technology `s3cdp` on POST|PUT|DELETE /v1/dataproduct/resource. A request is
 * answered 200 once its synchronous checks pass (a well-formed JSON body naming the
 * resource, specific.bucket and specific.directory present and safe, a callback URL);
 * the work then runs on a thread of its own and the outcome (CREATED, DELETED or
 * FAILED) is POSTed to the callback URL the request carried, so this program needs no
 * configuration to find the state service. The report carries the request's callbackToken
 * back as "Authorization: Bearer <token>" (docs/provisioning.md), never logged.
 *
 *   create (POST)  makes <root>/<bucket>/<directory>/ and writes the grants into
 *                  <root>/<bucket>/<directory>/.dmp-grants.json (owner read-write,
 *                  allow[] read-only);
 *   update (PUT)   rewrites the grants;
 *   delete         removes the directory and its grants.
 * Every operation is idempotent, as the contract requires: the coordinator re-submits
 * requests after a restart. --delay-ms N waits before working; --fail reports FAILED.
 * It never writes outside --root.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmp/core.h"

#define BODY_MAX (1024 * 1024)
#define TECHNOLOGY "s3cdp"
#define RESOURCE_PATH "/v1/dataproduct/resource"

static const char *root_dir;
static int delay_ms;
static int fail_all;
static volatile sig_atomic_t stopping;

typedef struct work {
    char op[8]; /* "create", "update", "delete" */
    char *dir;  /* <root>/<bucket>/<directory> */
    char *callback;
    char *cb_token; /* the request's callbackToken, echoed as a bearer token (NULL: none) */
    json_t *report; /* the report body without state/reason */
    json_t *grants;
} work_t;

typedef struct conn {
    dmp_buf_t body;
    int too_big;
} conn_t;

static void usage(FILE *f)
{
    fprintf(f, "usage: dmp-provisioner-files --listen HOST:PORT --root DIR [--delay-ms N] "
               "[--fail]\n"
               "\n"
               "An example provisioner for technology '" TECHNOLOGY "' (DESIGN 3A contract):\n"
               "POST|PUT|DELETE " RESOURCE_PATH " creates, re-grants or removes\n"
               "DIR/<specific.bucket>/<specific.directory> and reports the result to the\n"
               "request's callback URL.\n"
               "\n"
               "  --listen HOST:PORT  address to serve on (IPv4), e.g. 127.0.0.1:9090\n"
               "  --root DIR          directory holding the buckets (created if absent)\n"
               "  --delay-ms N        wait N ms before doing the work (default 0)\n"
               "  --fail              report every operation as FAILED (for tests)\n"
               "  --help              this text\n");
}

/* A bucket is one path component; a directory is a relative path without '..'. */
static const char *path_problem(const char *s, int allow_slash)
{
    if (s == NULL || s[0] == '\0')
        return "is empty";
    if (strlen(s) > 512)
        return "is longer than 512 bytes";
    if (s[0] == '/')
        return "is an absolute path";
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < ' ' || *p == '\\')
            return "contains a control character or a backslash";
        if (*p == '/' && !allow_slash)
            return "contains '/'";
    }
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
        if (n == 0)
            return "contains an empty path component";
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return "contains a '.' or '..' component";
        p += n;
        if (*p == '/')
            p++;
    }
    return NULL;
}

static int mkdirs(const char *path)
{
    char *tmp = dmp_strdup(path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
            dmp_free(tmp);
            return -1;
        }
        *p = '/';
    }
    int r = mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
    dmp_free(tmp);
    return r;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Does the work of one request; returns NULL on success or a reason (caller frees). */
static char *do_work(const work_t *w)
{
    if (strcmp(w->op, "delete") == 0) {
        if (nftw(w->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
            return dmp_asprintf("cannot remove %s: %s", w->dir, strerror(errno));
        return NULL;
    }
    if (mkdirs(w->dir) != 0)
        return dmp_asprintf("cannot create %s: %s", w->dir, strerror(errno));
    char *path = dmp_asprintf("%s/.dmp-grants.json", w->dir);
    char *tmp = dmp_asprintf("%s.tmp", path);
    char *why = NULL;
    if (json_dump_file(w->grants, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 ||
        rename(tmp, path) != 0)
        why = dmp_asprintf("cannot write %s: %s", path, strerror(errno));
    dmp_free(path);
    dmp_free(tmp);
    return why;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

/* POSTs the report to the callback URL, retrying a few times on transport errors. */
static void report(const work_t *w, const char *state, const char *reason)
{
    json_t *body = json_deep_copy(w->report);
    json_object_set_new(body, "state", json_string(state));
    if (reason != NULL)
        json_object_set_new(body, "reason", json_string(reason));
    char *text = json_dumps(body, JSON_COMPACT);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (w->cb_token != NULL) {
        /* the secret the platform sent with the request proves the report is ours */
        char *h = dmp_asprintf("Authorization: Bearer %s", w->cb_token);
        hdrs = curl_slist_append(hdrs, h);
        explicit_bzero(h, strlen(h));
        dmp_free(h);
    }
    for (int attempt = 0; attempt < 5; attempt++) {
        CURL *c = curl_easy_init();
        long status = 0;
        curl_easy_setopt(c, CURLOPT_URL, w->callback);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        CURLcode cr = curl_easy_perform(c);
        if (cr == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        if (cr == CURLE_OK) {
            fprintf(stderr, "dmp-provisioner-files: reported %s for %s to %s: HTTP %ld\n", state,
                    w->dir, w->callback, status);
            break;
        }
        fprintf(stderr, "dmp-provisioner-files: report to %s failed: %s\n", w->callback,
                curl_easy_strerror(cr));
        usleep(200000u << attempt);
    }
    curl_slist_free_all(hdrs);
    free(text);
    json_decref(body);
}

static void *work_main(void *arg)
{
    work_t *w = arg;
    if (delay_ms > 0)
        usleep((useconds_t)delay_ms * 1000u);
    char *why = fail_all ? dmp_strdup("injected failure (--fail)") : do_work(w);
    report(w, why != NULL ? "FAILED" : strcmp(w->op, "delete") == 0 ? "DELETED" : "CREATED", why);
    dmp_free(why);
    dmp_free(w->dir);
    dmp_free(w->callback);
    if (w->cb_token != NULL)
        explicit_bzero(w->cb_token, strlen(w->cb_token));
    dmp_free(w->cb_token);
    json_decref(w->report);
    json_decref(w->grants);
    dmp_free(w);
    return NULL;
}

static enum MHD_Result reply(struct MHD_Connection *mc, unsigned status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(mc, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result bad(struct MHD_Connection *mc, unsigned status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "dmp-provisioner-files: refused: %s\n", msg);
    return reply(mc, status, json_pack("{s:s, s:s}", "error", "invalid request", "message", msg));
}

static const char *str_field(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Checks a request and starts its work; answers 200 or 4xx. */
static enum MHD_Result handle_resource(struct MHD_Connection *mc, const char *op,
                                       const dmp_buf_t *b)
{
    json_error_t jerr;
    json_t *req = json_loadb(b->data != NULL ? b->data : "", b->len, 0, &jerr);
    if (!json_is_object(req)) {
        json_decref(req);
        return bad(mc, 400, "body is not a JSON object (%s at line %d)", jerr.text, jerr.line);
    }
    json_t *res = json_object_get(req, "resource");
    if (!json_is_object(res))
        res = req;
    const char *name = str_field(res, "name"), *tech = str_field(res, "technology");
    const char *cb = str_field(req, "callback");
    json_t *spec = json_object_get(res, "specific");
    const char *bucket = str_field(spec, "bucket"), *dir = str_field(spec, "directory");
    const char *problem;
    enum MHD_Result ret;
    if (name == NULL)
        ret = bad(mc, 400, "resource.name is missing");
    else if (tech == NULL || strcmp(tech, TECHNOLOGY) != 0)
        ret =
            bad(mc, 400, "resource '%s': technology '%s' is not served here (only " TECHNOLOGY ")",
                name, tech != NULL ? tech : "");
    else if (cb == NULL || (strncmp(cb, "http://", 7) != 0 && strncmp(cb, "https://", 8) != 0))
        ret = bad(mc, 400, "callback is missing or not an http(s) URL");
    else if ((problem = path_problem(bucket, 0)) != NULL)
        ret = bad(mc, 400, "resource '%s': specific.bucket %s", name, problem);
    else if ((problem = path_problem(dir, 1)) != NULL)
        ret = bad(mc, 400, "resource '%s': specific.directory %s", name, problem);
    else {
        work_t *w = dmp_calloc(1, sizeof(*w));
        snprintf(w->op, sizeof(w->op), "%s", op);
        w->dir = dmp_asprintf("%s/%s/%s", root_dir, bucket, dir);
        w->callback = dmp_strdup(cb);
        const char *tok = str_field(req, "callbackToken");
        /* one header value of printable characters, never logged */
        if (tok != NULL && strlen(tok) < 256 && strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
                                                            "nopqrstuvwxyz0123456789-_.~") ==
                                                        strlen(tok))
            w->cb_token = dmp_strdup(tok);
        w->report = json_object();
        static const char *const keys[] = {"environment", "domain", "dataProduct", "version"};
        for (size_t i = 0; i < 4; i++) {
            json_t *v = json_object_get(req, keys[i]);
            json_object_set_new(w->report, keys[i],
                                json_is_string(v) ? json_copy(v) : json_string(""));
        }
        json_object_set_new(w->report, "name", json_string(name));
        json_t *grants = json_array();
        const char *owner = str_field(res, "owner");
        if (owner != NULL)
            json_array_append_new(
                grants, json_pack("{s:s, s:s}", "principal", owner, "access", "read-write"));
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(res, "allow"), i, a)
        {
            if (json_is_string(a))
                json_array_append_new(grants,
                                      json_pack("{s:s, s:s}", "principal", json_string_value(a),
                                                "access", "read-only"));
        }
        w->grants = json_pack("{s:O, s:s, s:s, s:s, s:o}", "dataProduct", w->report, "bucket",
                              bucket, "directory", dir, "resource", name, "grants", grants);
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &attr, work_main, w) != 0) {
            ret = bad(mc, 503, "cannot start a worker thread");
            json_decref(w->report);
            json_decref(w->grants);
            dmp_free(w->dir);
            dmp_free(w->callback);
            dmp_free(w->cb_token);
            dmp_free(w);
        } else {
            fprintf(stderr, "dmp-provisioner-files: accepted %s of %s/%s\n", op, bucket, dir);
            ret = reply(
                mc, 200,
                json_pack("{s:s, s:s, s:s}", "status", "accepted", "operation", op, "name", name));
        }
        pthread_attr_destroy(&attr);
    }
    json_decref(req);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    conn_t *c = *con_cls;
    if (c == NULL) {
        c = dmp_calloc(1, sizeof(*c));
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (c->body.len + *upload_size > BODY_MAX)
            c->too_big = 1;
        else
            dmp_buf_append(&c->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/healthz") == 0)
        return reply(mc, 200, json_pack("{s:s}", "status", "ok"));
    if (strcmp(url, RESOURCE_PATH) != 0)
        return bad(mc, 404, "no route %s %s", method, url);
    const char *op = strcmp(method, "POST") == 0     ? "create"
                     : strcmp(method, "PUT") == 0    ? "update"
                     : strcmp(method, "DELETE") == 0 ? "delete"
                                                     : NULL;
    if (op == NULL)
        return bad(mc, 405, "method %s not allowed on %s (POST, PUT, DELETE)", method, url);
    if (c->too_big)
        return bad(mc, 413, "body is larger than %d bytes", BODY_MAX);
    return handle_resource(mc, op, &c->body);
}

static void on_done(void *cls, struct MHD_Connection *mc, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    conn_t *c = *con_cls;
    if (c != NULL) {
        dmp_buf_free(&c->body);
        dmp_free(c);
        *con_cls = NULL;
    }
}

static void on_signal(int sig)
{
    stopping = 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},   {"root", required_argument, NULL, 'r'},
        {"delay-ms", required_argument, NULL, 'd'}, {"fail", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    const char *listen = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "l:r:d:fh", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 'r':
            root_dir = optarg;
            break;
        case 'd': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end != '\0' || v < 0 || v > 3600000) {
                fprintf(stderr, "dmp-provisioner-files: --delay-ms '%s' is not 0..3600000\n",
                        optarg);
                return 64;
            }
            delay_ms = (int)v;
            break;
        }
        case 'f':
            fail_all = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 64;
        }
    }
    if (listen == NULL || root_dir == NULL || optind != argc) {
        usage(stderr);
        return 64;
    }
    const char *colon = strrchr(listen, ':');
    struct sockaddr_in sa = {0};
    char host[64];
    long port = colon != NULL ? strtol(colon + 1, NULL, 10) : -1;
    if (colon == NULL || (size_t)(colon - listen) >= sizeof(host) || port <= 0 || port > 65535) {
        fprintf(stderr, "dmp-provisioner-files: --listen '%s' is not HOST:PORT\n", listen);
        return 64;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &sa.sin_addr) !=
        1) {
        fprintf(stderr, "dmp-provisioner-files: --listen host '%s' is not an IPv4 address\n", host);
        return 64;
    }
    if (mkdirs(root_dir) != 0) {
        fprintf(stderr, "dmp-provisioner-files: cannot create --root %s: %s\n", root_dir,
                strerror(errno));
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
        (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &sa,
        MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_CONNECTION_LIMIT, 200u, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "dmp-provisioner-files: cannot listen on %s\n", listen);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fprintf(stderr, "dmp-provisioner-files: serving " TECHNOLOGY " on http://%s, root %s\n", listen,
            root_dir);
    while (!stopping)
        pause();
    MHD_stop_daemon(d);
    curl_global_cleanup();
    return 0;
}
