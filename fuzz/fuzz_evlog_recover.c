/* fuzz_evlog_recover.c -- libFuzzer target for event-log recovery and reading.
 *
 * Input: byte 0 chooses the setup (bit 0: write a checkpoint; bits 1-7: its synced seq),
 * the rest becomes seg-00000000000000000001.log. The log is opened (recovery), read end to
 * end, searched by time, appended to once and closed. Any outcome but a crash, a hang or a
 * leak is fine: open must either refuse with an error or give a readable log.
 */
#include "evlog/evlog_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64];

/* Durability is not under test here; skipping the syncs makes runs ~10x faster. */
static int no_sync(int fd)
{
    return 0;
}

static void put(const char *name, const void *p, size_t n)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        abort();
    if (n && write(fd, p, n) != (ssize_t)n)
        abort();
    close(fd);
}

static int count_cb(void *ud, const dmp_evlog_entry_t *e)
{
    size_t *n = ud;
    *n += e->len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(g_dir, sizeof(g_dir), "%s/fuzz-evlog-%d", base, (int)getpid());
        dmp_log_set_level(DMP_LOG_ERROR);
        dmp_evlog__fdatasync_hook = no_sync;
    }
    if (size < 1)
        return 0;
    dmp_evlog_destroy(g_dir, NULL);
    if (mkdir(g_dir, 0755) != 0)
        abort();
    put("seg-00000000000000000001.log", data + 1, size - 1);
    if (data[0] & 1) {
        uint8_t ck[EVLOG_CK_LEN] = {0};
        evlog_put32(ck, EVLOG_CK_MAGIC);
        evlog_put32(ck + 4, 1);
        evlog_put64(ck + 8, data[0] >> 1);
        evlog_put32(ck + 40, dmp_evlog__crc32c(0, ck, 40));
        put("checkpoint", ck, sizeof(ck));
    }
    dmp_evlog_conf_t c;
    dmp_evlog_conf_init(&c);
    c.dedup_window_count = 64;
    dmp_evlog_t *elog = NULL;
    dmp_error_t err = {0};
    if (dmp_evlog_open(g_dir, &c, &elog, &err) == DMP_OK) {
        size_t bytes = 0;
        dmp_evlog_read(elog, 0, 0, 0, count_cb, &bytes, NULL, &err);
        uint64_t seq;
        dmp_evlog_seek_time(elog, 1000, &seq, &err);
        dmp_evlog_rec_t r = {"{}", 2, 0, 42, 0};
        dmp_evlog_append(elog, &r, 1, NULL, NULL, &err);
        dmp_evlog_close(elog);
    }
    dmp_evlog_destroy(g_dir, NULL);
    return 0;
}
