/* crc32c.c -- CRC32C (Castagnoli, reflected polynomial 0x82F63B78) for event-log records.
 *
 * Two paths give identical results: the SSE4.2 crc32 instruction, chosen at run time when
 * the CPU has it, and a slicing-by-8 table path built on first use. No state beyond the
 * tables; thread-safe. Must not depend on anything but libc.
 */
#include "evlog_int.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define EVLOG_HAVE_X86 1
#endif

#define CRC32C_POLY 0x82F63B78u

static uint32_t tab[8][256];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void tab_build(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            tab[t][i] = (tab[t - 1][i] >> 8) ^ tab[0][tab[t - 1][i] & 0xff];
}

uint32_t dmp_evlog__crc32c_sw(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    pthread_once(&tab_once, tab_build);
    crc = ~crc;
    while (n >= 8) {
        uint32_t lo = crc ^ evlog_get32(b);
        uint32_t hi = evlog_get32(b + 4);
        crc = tab[7][lo & 0xff] ^ tab[6][(lo >> 8) & 0xff] ^ tab[5][(lo >> 16) & 0xff] ^
              tab[4][lo >> 24] ^ tab[3][hi & 0xff] ^ tab[2][(hi >> 8) & 0xff] ^
              tab[1][(hi >> 16) & 0xff] ^ tab[0][hi >> 24];
        b += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ tab[0][(crc ^ *b++) & 0xff];
    return ~crc;
}

#ifdef EVLOG_HAVE_X86
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t c = ~crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        c = _mm_crc32_u64(c, w);
        b += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = _mm_crc32_u8(c32, *b++);
    return ~c32;
}
#endif

#ifdef EVLOG_HAVE_X86
static pthread_once_t hw_once = PTHREAD_ONCE_INIT;
static int hw_have;

static void hw_detect(void)
{
    __builtin_cpu_init();
    hw_have = __builtin_cpu_supports("sse4.2") ? 1 : 0;
}
#endif

int dmp_evlog__crc32c_hw_available(void)
{
#ifdef EVLOG_HAVE_X86
    pthread_once(&hw_once, hw_detect);
    return hw_have;
#else
    return 0;
#endif
}

uint32_t dmp_evlog__crc32c(uint32_t crc, const void *p, size_t n)
{
#ifdef EVLOG_HAVE_X86
    if (dmp_evlog__crc32c_hw_available())
        return crc_hw(crc, p, n);
#endif
    return dmp_evlog__crc32c_sw(crc, p, n);
}
