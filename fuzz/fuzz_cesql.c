/* fuzz_cesql.c -- libFuzzer target: CESQL parse + evaluate.
 * The input is an expression; when it parses it is evaluated against a fixed event
 * (with a small step limit), so the lexer, parser, evaluator and their limits all get
 * exercised. Must never crash, leak or hang. */
#include "dmp/cesql.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static dmp_cloudevent_t *ev;
    dmp_cesql_limits_t lim = {0};
    dmp_cesql_t *q = NULL;
    dmp_cesql_result_t res;

    if (ev == NULL) {
        ev = dmp_cloudevent_new();
        dmp_cloudevent_set(ev, "id", "id-1", NULL);
        dmp_cloudevent_set(ev, "source", "urn:dmp:fuzz", NULL);
        dmp_cloudevent_set(ev, "type", "fuzz.type", NULL);
        dmp_cloudevent_set(ev, "subject", "a/b/c", NULL);
        dmp_cloudevent_set_ext(ev, "n", DMP_CE_INTEGER, "42", NULL);
        dmp_cloudevent_set_ext(ev, "b", DMP_CE_BOOLEAN, "true", NULL);
    }
    lim.max_steps = 100000;
    if (dmp_cesql_parse((const char *)data, size, &lim, &q, NULL) != DMP_OK)
        return 0;
    dmp_cesql_eval(q, ev, &res);
    dmp_cesql_result_fini(&res);
    dmp_cesql_match(q, ev);
    dmp_cesql_free(q);
    return 0;
}
