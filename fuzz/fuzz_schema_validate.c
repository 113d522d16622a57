/* fuzz_schema_validate.c -- libFuzzer: arbitrary bytes as an instance, validated against a
 * fixed schema that exercises most keywords (refs, dynamic refs, unevaluated*, patterns,
 * formats), in both fail-fast and collect-all modes; also the parser and the compat
 * checker (input vs a fixed schema, when the input is itself a schema). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dmp/schema.h"

static const char schema[] =
    "{\"$id\":\"https://example.com/root\",\"$defs\":{"
    "\"node\":{\"$dynamicAnchor\":\"n\",\"type\":[\"object\",\"array\",\"string\",\"number\"],"
    "\"properties\":{\"kids\":{\"type\":\"array\",\"items\":{\"$dynamicRef\":\"#n\"},"
    "\"uniqueItems\":true,\"maxItems\":50}},"
    "\"patternProperties\":{\"^x-\":{\"type\":\"string\",\"pattern\":\"^(a|b)*c$\"}},"
    "\"unevaluatedProperties\":{\"type\":[\"number\",\"string\",\"object\"],\"maxLength\":8}}},"
    "\"anyOf\":[{\"$ref\":\"#/$defs/node\"},{\"type\":\"array\",\"prefixItems\":[{\"const\":1}],"
    "\"contains\":{\"format\":\"date-time\"},\"minContains\":1,\"unevaluatedItems\":false}],"
    "\"oneOf\":[{\"required\":[\"id\"]},{\"not\":{\"type\":\"object\"}}],"
    "\"if\":{\"properties\":{\"t\":{\"enum\":[\"a\",1,null]}}},\"then\":{\"minProperties\":2},"
    "\"else\":{\"dependentRequired\":{\"u\":[\"v\"]}},"
    "\"propertyNames\":{\"maxLength\":20,\"format\":\"hostname\"},"
    "\"multipleOf\":0.5,\"exclusiveMaximum\":1e300}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static dmp_schema_t *s[2];
    static dmp_schema_ctx_t *c;
    if (!c) {
        for (int i = 0; i < 2; i++) {
            dmp_schema_opts_t o = {0};
            o.format_assert = (unsigned)i;
            o.max_instance_bytes = 1 << 16;
            o.max_instance_depth = 64;
            o.regex_match_limit = 10000;
            if (dmp_schema_compile(schema, sizeof schema - 1, &o, &s[i], NULL) != DMP_OK)
                __builtin_trap();
        }
        c = dmp_schema_ctx_new();
    }
    dmp_error_t err = {0};
    int r0 =
        dmp_schema_validate(s[size & 1], c, (const char *)data, size, DMP_SCHEMA_FAIL_FAST, &err);
    int r1 =
        dmp_schema_validate(s[size & 1], c, (const char *)data, size, DMP_SCHEMA_ALL_ERRORS, &err);
    /* both modes must agree on validity */
    if ((r0 == DMP_OK) != (r1 == DMP_OK))
        __builtin_trap();
    dmp_buf_t b = DMP_BUF_INIT;
    dmp_schema_ctx_basic_output(c, &b);
    dmp_buf_free(&b);
    if (size < 4096) {
        dmp_compat_report_t rep = {0};
        if (dmp_schema_compat(schema, sizeof schema - 1, (const char *)data, size, DMP_COMPAT_FULL,
                              &rep, &err) == DMP_OK)
            dmp_compat_report_fini(&rep);
    }
    return 0;
}
