/* fuzz_jsonpath.c -- libFuzzer target for the JSONPath parser and evaluator.
 *
 * Input: an expression, then optionally a NUL byte and a JSON document to query
 * (a fixed small document otherwise). Tight limits keep every run short: the
 * target checks that compilation and evaluation end (with a result or a clean
 * error) without crashing, leaking or hanging.
 */
#include <stdint.h>
#include <string.h>

#include "dmp/jsonpath.h"

static const char FIXED[] =
    "{\"a\":[1,2,{\"b\":\"x\",\"c\":[true,null,1.5]}],\"d\":{\"e\":\"\\u00e9\"}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nul = memchr(s, 0, size);
    size_t elen = nul ? (size_t)(nul - s) : size;
    json_t *doc = NULL;
    if (nul && size - elen > 1)
        doc = json_loadb(nul + 1, size - elen - 1, JSON_DECODE_ANY, NULL);
    if (!doc)
        doc = json_loads(FIXED, 0, NULL);

    dmp_jsonpath_limits_t lim = {.max_len = 1024,
                                 .max_depth = 16,
                                 .max_steps = 20000,
                                 .max_nodes = 2000,
                                 .regex_match_limit = 10000};
    dmp_jsonpath_t *jp = NULL;
    dmp_error_t err = {0};
    if (dmp_jsonpath_compilen(s, elen, &lim, &jp, &err) == DMP_OK) {
        dmp_jsonpath_nodelist_t nl = DMP_JSONPATH_NODELIST_INIT;
        if (dmp_jsonpath_eval(jp, doc, &nl, &err) == DMP_OK) {
            for (size_t i = 0; i < nl.n; i++)
                if (!nl.v[i].value || !nl.v[i].path || nl.v[i].path[0] != '$')
                    __builtin_trap();
        }
        dmp_jsonpath_nodelist_free(&nl);
        dmp_jsonpath_free(jp);
    }
    json_decref(doc);
    return 0;
}
