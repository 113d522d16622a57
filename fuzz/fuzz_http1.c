/* fuzz_http1.c -- libFuzzer target: the native engine's HTTP/1.1 request parsing
 * (src/http/http1.c): finding the end of a head, parsing it in place, percent-decoding
 * its path and query, and chunk-size lines. Must never crash, leak or read out of
 * bounds. */
#include "http/http1.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    size_t n = dmp_http1_head_end(in, size);
    if (n > 0 && n <= DMP_HTTP1_HEAD_MAX) {
        char *h = malloc(n + 1); /* the parser writes a NUL at h[n] */
        memcpy(h, in, n);
        dmp_http1_req_t r;
        dmp_http1_err_t e;
        if (dmp_http1_parse_head(h, n, 1024, &r, &e) == 0) {
            for (int i = 0; i < r.nhdrs; i++)
                (void)dmp_http1_header(&r, r.hdrs[i].name);
            if (r.query != NULL) {
                size_t ql = strlen(r.query);
                char *q = malloc(ql + 1);
                dmp_http1_pct_decode(r.query, ql, q, 1);
                free(q);
            }
        }
        dmp_http1_req_fini(&r);
        free(h);
    }
    uint64_t chunk;
    const char *nl = memchr(in, '\n', size);
    (void)dmp_http1_chunk_size(in, nl ? (size_t)(nl - in) : size, &chunk);
    return 0;
}
