/* prov_http.c -- an external provisioner reached over HTTP (the DESIGN 3A contract).
 *
 * submit() sends the wire request with POST (create), PUT (update) or DELETE to
 * <url>/v1/dataproduct/resource and waits for the synchronous answer, bounded by the
 * timeout. A 2xx reply means "accepted": the outcome arrives later through the state
 * service (dmp_provision_report), unless the reply body carries a final
 * {"state":"CREATED|DELETED|FAILED","reason":...}, which a synchronous provisioner may
 * send. A timeout, a refused connection or a non-2xx reply is an error whose message
 * becomes the resource's FAILED reason. One curl handle per call, so calls from
 * several worker threads never share state. Called without the coordinator's lock.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <string.h>

#include "provision/provision_int.h"

#define REPLY_MAX (64 * 1024) /* bytes of a reply kept; the rest is discarded */
#define REASON_BODY_MAX 200   /* bytes of a failing reply quoted in the reason */
#define RESOURCE_PATH "/v1/dataproduct/resource"

typedef struct http_pv {
    dmp_provisioner_t base; /* MUST BE FIRST */
    char *url;              /* as registered */
    char *endpoint;         /* url + RESOURCE_PATH */
    int timeout_ms;
} http_pv_t;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    dmp_buf_t *b = ud;
    size_t len = size * n;
    if (b->len < REPLY_MAX)
        dmp_buf_append(b, p, len < REPLY_MAX - b->len ? len : REPLY_MAX - b->len);
    return len;
}

/* Copies at most REASON_BODY_MAX bytes of 'body', one line, for a FAILED reason. */
static void quote_body(const char *body, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && i < REASON_BODY_MAX && n + 1 < cap; i++) {
        unsigned char c = (unsigned char)body[i];
        out[n++] = (c < ' ' || c == 0x7f) ? ' ' : (char)c;
    }
    out[n] = '\0';
}

/* Reads an optional final state from a 2xx reply: {"state": "...", "reason": "..."}. */
static int reply_state(const char *endpoint, const dmp_buf_t *b, dmp_state_t *done,
                       dmp_error_t *err)
{
    if (b->len == 0)
        return DMP_OK;
    json_t *j = json_loadb(b->data, b->len, 0, NULL);
    json_t *st = json_object_get(j, "state");
    dmp_state_t s;
    int rc = DMP_OK;
    if (json_is_string(st) && dmp_state_parse(json_string_value(st), &s) == DMP_OK &&
        (s == DMP_STATE_CREATED || s == DMP_STATE_DELETED || s == DMP_STATE_FAILED)) {
        if (s == DMP_STATE_FAILED) {
            const char *why = json_string_value(json_object_get(j, "reason"));
            rc = DMP_ERR(err, DMP_BACKEND, "provisioner %s: %s", endpoint,
                         why != NULL ? why : "reported FAILED");
        } else {
            *done = s;
        }
    }
    json_decref(j);
    return rc;
}

static int http_submit(dmp_provisioner_t *base, const dmp_prov_request_t *req, dmp_state_t *done,
                       dmp_error_t *err)
{
    http_pv_t *pv = (http_pv_t *)base;
    static const char *const methods[] = {"POST", "PUT", "DELETE"};
    dmp_buf_t reply = DMP_BUF_INIT;
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    long status = 0;
    int rc = DMP_OK;

    *done = DMP_STATE_NONE;
    pthread_once(&curl_once, curl_init_once);
    char *body = json_dumps(req->body, JSON_COMPACT);
    if (body == NULL)
        return DMP_ERR(err, DMP_INVALID, "provisioner %s: request cannot be encoded", pv->endpoint);
    CURL *c = curl_easy_init();
    if (c == NULL) {
        free(body);
        return DMP_ERR(err, DMP_IO, "provisioner %s: cannot create an HTTP client", pv->endpoint);
    }
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, pv->endpoint);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, methods[req->op]);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)pv->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)pv->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cr = curl_easy_perform(c);
    if (cr == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);

    if (cr == CURLE_COULDNT_CONNECT) {
        rc = DMP_ERR(err, DMP_UNAVAILABLE, "provisioner %s: connection refused", pv->endpoint);
        if (err != NULL)
            err->retriable = 1;
    } else if (cr == CURLE_OPERATION_TIMEDOUT) {
        rc = DMP_ERR(err, DMP_TIMEOUT, "provisioner %s: timed out after %d ms", pv->endpoint,
                     pv->timeout_ms);
        if (err != NULL)
            err->retriable = 1;
    } else if (cr != CURLE_OK) {
        rc = DMP_ERR(err, DMP_BACKEND, "provisioner %s: %s", pv->endpoint,
                     errbuf[0] ? errbuf : curl_easy_strerror(cr));
    } else if (status < 200 || status > 299) {
        char quoted[REASON_BODY_MAX + 1];
        quote_body(reply.data != NULL ? reply.data : "", reply.len, quoted, sizeof(quoted));
        rc = DMP_ERR(err, DMP_BACKEND, "provisioner %s: HTTP %ld%s%s", pv->endpoint, status,
                     quoted[0] ? ": " : "", quoted);
    } else {
        rc = reply_state(pv->endpoint, &reply, done, err);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    free(body);
    dmp_buf_free(&reply);
    return rc;
}

static json_t *http_describe(dmp_provisioner_t *base)
{
    http_pv_t *pv = (http_pv_t *)base;
    return json_pack("{s:s, s:s, s:s, s:i}", "type", "http", "url", pv->url, "endpoint",
                     pv->endpoint, "timeout_ms", pv->timeout_ms);
}

static void http_close(dmp_provisioner_t *base)
{
    http_pv_t *pv = (http_pv_t *)base;
    dmp_free(pv->url);
    dmp_free(pv->endpoint);
    dmp_free(pv);
}

static const dmp_provisioner_ops_t http_ops = {
    .version = DMP_PROVISIONER_OPS_V1,
    .name = "http",
    .submit = http_submit,
    .describe = http_describe,
    .close = http_close,
};

int dmp_provisioner_http_new(const char *url, int timeout_ms, dmp_provisioner_t **out,
                             dmp_error_t *err)
{
    *out = NULL;
    if (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return DMP_ERR(err, DMP_INVALID, "provisioner url '%s' is not an http(s):// URL",
                       url != NULL ? url : "");
    size_t n = strlen(url);
    if (n > 2000 || strpbrk(url, " \t\r\n") != NULL)
        return DMP_ERR(err, DMP_INVALID, "provisioner url '%.64s' is too long or has spaces", url);
    http_pv_t *pv = dmp_calloc(1, sizeof(*pv));
    pv->base.ops = &http_ops;
    pv->url = dmp_strdup(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    size_t pl = strlen(RESOURCE_PATH);
    if (n >= pl && strncmp(url + n - pl, RESOURCE_PATH, pl) == 0)
        pv->endpoint = dmp_strndup(url, n);
    else
        pv->endpoint = dmp_asprintf("%.*s%s", (int)n, url, RESOURCE_PATH);
    pv->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    *out = &pv->base;
    return DMP_OK;
}
