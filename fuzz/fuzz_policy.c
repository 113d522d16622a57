/* fuzz_policy.c -- libFuzzer target for policy files: YAML/JSON parsing, rule
 * validation (JSONPath, function options, regexes, schemas) and evaluation of what
 * parses over a fixed descriptor document, as the global layer of a set that also
 * holds the default policies.
 */
#include <stdint.h>
#include <string.h>

#include "dmp/policy.h"

static const char DOC[] =
    "{\"name\":\"test_name\",\"domain\":\"london.x\",\"version\":\"1.0.1\",\"outputPorts\":"
    "[{\"name\":\"p\",\"type\":\"stream\",\"visibility\":\"public\",\"owner\":\"o\","
    "\"retention\":{\"time\":\"7d\"},\"schema\":{\"type\":\"object\",\"properties\":"
    "{\"e\":{\"type\":\"string\",\"x-dmp-classification\":\"pii\"}}}}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    dmp_policy_t *p = NULL;
    dmp_error_t err = {0};
    dmp_diags_t dg = {0};
    if (dmp_policy_parse((const char *)data, size, "fuzz.yaml", &p, &dg, &err) == DMP_OK) {
        dmp_policy_set_t *s = NULL;
        if (dmp_policy_set_new(0, &s, &err) == DMP_OK) {
            if (dmp_policy_set_global(s, p, &err) == DMP_OK) {
                json_t *doc = json_loads(DOC, 0, NULL);
                dmp_policy_evaluate_json(s, doc, NULL, NULL, "doc.json", NULL, &dg, &err);
                json_decref(doc);
            }
            dmp_policy_set_free(s);
        } else {
            dmp_policy_free(p);
        }
    }
    dmp_diags_free(&dg);
    return 0;
}
