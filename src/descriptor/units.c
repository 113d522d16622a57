/* units.c -- durations ("7d") and sizes ("1GiB") as written in descriptors, e.g. in
 * outputPorts[].retention. Integers only: "1.5h" is refused, write "90m". */
#include "descriptor/descriptor_int.h"

#include <string.h>

/* Reads the leading decimal digits of 's' into *v; returns the count, or -1 on overflow. */
static int read_uint(const char *s, int64_t *v)
{
    int n = 0;
    *v = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        int d = s[n] - '0';
        if (*v > (INT64_MAX - d) / 10)
            return -1;
        *v = *v * 10 + d;
        n++;
    }
    return n;
}

typedef struct unit {
    const char *name;
    int64_t mult;
} unit_t;

static int apply_units(const char *s, const unit_t *units, size_t n_units, int64_t *out)
{
    int64_t v;
    if (s == NULL)
        return DMP_INVALID;
    int nd = read_uint(s, &v);
    if (nd <= 0)
        return DMP_INVALID;
    const char *u = s + nd;
    if (*u == ' ')
        u++;
    for (size_t i = 0; i < n_units; i++) {
        if (strcmp(u, units[i].name) == 0) {
            if (units[i].mult != 0 && v > INT64_MAX / units[i].mult)
                return DMP_INVALID;
            *out = v * units[i].mult;
            return DMP_OK;
        }
    }
    return DMP_INVALID;
}

int dmp_parse_duration_ms(const char *s, int64_t *out)
{
    static const unit_t units[] = {
        {"", 1},        {"ms", 1},       {"s", 1000},      {"m", 60000},
        {"h", 3600000}, {"d", 86400000}, {"w", 604800000},
    };
    return apply_units(s, units, sizeof(units) / sizeof(units[0]), out);
}

int dmp_parse_size_bytes(const char *s, int64_t *out)
{
    static const unit_t units[] = {
        {"", 1},
        {"B", 1},
        {"KB", 1000},
        {"MB", 1000000},
        {"GB", 1000000000},
        {"TB", 1000000000000LL},
        {"PB", 1000000000000000LL},
        {"KiB", 1024},
        {"MiB", 1048576},
        {"GiB", 1073741824LL},
        {"TiB", 1099511627776LL},
        {"PiB", 1125899906842624LL},
    };
    return apply_units(s, units, sizeof(units) / sizeof(units[0]), out);
}
