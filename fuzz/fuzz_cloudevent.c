/* fuzz_cloudevent.c -- libFuzzer target: the CloudEvents codec and filters.
 * The first byte picks the entry point: structured event, batch, NDJSON, binary-mode
 * headers ("name: value" lines, a blank line, then the body) or a filter array. Parsed
 * events are serialised and parsed again: the output must always read back. */
#include "dmp/events.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void roundtrip(const dmp_cloudevent_t *ev)
{
    dmp_buf_t out = DMP_BUF_INIT;
    dmp_cloudevent_t *again = NULL;
    dmp_cloudevent_to_json(ev, NULL, 0, &out);
    if (dmp_cloudevent_parse(out.data, out.len, NULL, &again, NULL) != DMP_OK)
        abort(); /* what we write must read back */
    dmp_cloudevent_free(again);
    dmp_buf_reset(&out);
    dmp_cloudevent_to_binary(ev, &out);
    dmp_buf_free(&out);
}

static void binary(const char *s, size_t n)
{
    dmp_ce_header_t h[32];
    char *copy = malloc(n + 1);
    size_t nh = 0;
    char *p, *end;
    dmp_cloudevent_t *ev = NULL;

    memcpy(copy, s, n);
    copy[n] = '\0';
    p = copy;
    end = copy + n;
    while (p < end && nh < 32) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL || nl == p)
            break;
        *nl = '\0';
        char *colon = strchr(p, ':');
        if (colon) {
            *colon = '\0';
            h[nh].name = p;
            h[nh].value = colon + 1;
            nh++;
        }
        p = nl + 1;
    }
    if (p < end && *p == '\n')
        p++;
    if (dmp_cloudevent_from_binary(h, nh, p, (size_t)(end - p), NULL, &ev, NULL) == DMP_OK) {
        roundtrip(ev);
        dmp_cloudevent_free(ev);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data + 1;
    size_t n = size ? size - 1 : 0;
    dmp_cloudevent_t *ev = NULL;
    dmp_ce_batch_t b;
    dmp_ce_filter_t *f = NULL;

    if (size == 0)
        return 0;
    switch (data[0] % 5) {
    case 0:
        if (dmp_cloudevent_parse(s, n, NULL, &ev, NULL) == DMP_OK) {
            roundtrip(ev);
            dmp_cloudevent_free(ev);
        }
        break;
    case 1:
        if (dmp_ce_parse_batch(s, n, NULL, &b, NULL) == DMP_OK) {
            for (size_t i = 0; i < b.n; i++)
                if (b.items[i].ev)
                    roundtrip(b.items[i].ev);
            dmp_ce_batch_fini(&b);
        }
        break;
    case 2:
        if (dmp_ce_parse_ndjson(s, n, NULL, &b, NULL) == DMP_OK)
            dmp_ce_batch_fini(&b);
        break;
    case 3:
        binary(s, n);
        break;
    case 4:
        if (dmp_ce_filter_parse(s, n, &f, NULL) == DMP_OK) {
            ev = dmp_cloudevent_new();
            dmp_cloudevent_set(ev, "id", "1", NULL);
            dmp_cloudevent_set(ev, "source", "s", NULL);
            dmp_cloudevent_set(ev, "type", "t", NULL);
            dmp_ce_filter_match(f, ev);
            dmp_cloudevent_free(ev);
            dmp_ce_filter_free(f);
        }
        break;
    }
    return 0;
}
