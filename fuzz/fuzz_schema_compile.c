/* fuzz_schema_compile.c -- libFuzzer: arbitrary bytes as a schema. Compilation must end
 * with a schema or an error; a compiled schema then validates a few fixed instances. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dmp/schema.h"

static const char *const instances[] = {
    "null", "true",
    "0",    "-1.5e3",
    "\"\"", "\"abc\"",
    "[]",   "[1,\"a\",[2]]",
    "{}",   "{\"a\":1,\"b\":[true,{\"c\":null}],\"\":\"x\"}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dmp_schema_opts_t o = {0};
    o.max_schema_bytes = 1 << 16;
    o.max_schema_depth = 64;
    o.regex_match_limit = 10000;
    o.format_assert = size & 1;
    dmp_schema_t *s = NULL;
    dmp_error_t err = {0};
    if (dmp_schema_compile((const char *)data, size, &o, &s, &err) != DMP_OK)
        return 0;
    dmp_schema_ctx_t *c = dmp_schema_ctx_new();
    for (size_t i = 0; i < sizeof instances / sizeof instances[0]; i++) {
        dmp_schema_validate(s, c, instances[i], strlen(instances[i]), DMP_SCHEMA_ALL_ERRORS, &err);
        dmp_buf_t b = DMP_BUF_INIT;
        dmp_schema_ctx_basic_output(c, &b);
        dmp_buf_free(&b);
    }
    dmp_schema_ctx_free(c);
    dmp_schema_free(s);
    return 0;
}
