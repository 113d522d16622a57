/* fuzz_descriptor.c -- libFuzzer target for the descriptor parser: YAML and JSON
 * loading (anchors, merges, limits) and the descriptor rules, plus the findings'
 * text and JSON forms. The first input byte picks the format; the limits are kept
 * small so the fuzzer explores the limit paths too. Schema files are off (no
 * base_dir), so the target never touches the file system. */
#include <stdint.h>
#include <stdlib.h>

#include "dmp/descriptor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    dmp_descriptor_opts_t o = {0};
    o.format = (dmp_doc_format_t)(data[0] % 3);
    o.source = "fuzz.yaml";
    o.limits.max_bytes = 1 << 20;
    o.limits.max_depth = 32;
    o.limits.max_nodes = 20000;
    dmp_descriptor_t *d = NULL;
    dmp_diags_t diags = {0};
    dmp_error_t err = {0};
    int rc = dmp_descriptor_parse((const char *)data + 1, size - 1, &o, &d, &diags, &err);
    for (size_t i = 0; i < diags.n; i++) {
        char *s = dmp_diag_format(&diags.v[i]);
        dmp_free(s);
    }
    json_t *j = dmp_diags_to_json(&diags);
    json_decref(j);
    if (rc == DMP_OK) {
        for (size_t i = 0; i < d->n_resources; i++) {
            (void)dmp_resource_visibility(&d->resources[i]);
            (void)dmp_descriptor_loc(d, d->resources[i].pointer);
        }
        (void)dmp_descriptor_loc(d, "/outputPorts/0/specific/x~1y/0");
    }
    dmp_descriptor_free(d);
    dmp_diags_free(&diags);
    return 0;
}
