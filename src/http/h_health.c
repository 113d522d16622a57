/* h_health.c -- liveness and readiness probes. */
#include "http/http_int.h"

static void h_healthz(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    dmp_http_reply_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_readyz(dmp_http_req_t *req, dmp_http_resp_t *resp)
{
    if (dmp_http_server_ready(req->srv))
        dmp_http_reply_json(resp, 200, json_pack("{s:s}", "status", "ready"));
    else
        dmp_http_reply_problem(resp, 503, "DMP_UNAVAILABLE", "starting up", NULL, NULL);
}

const dmp_http_route_t dmp_http_routes_health[] = {
    {"GET", "/healthz", h_healthz},
    {"GET", "/readyz", h_readyz},
    {NULL, NULL, NULL},
};
