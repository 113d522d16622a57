/* test_evlog.c -- unit tests for the durable event log (src/evlog/): record format, CRC32C,
 * recovery (torn tails at every byte, flipped bits, zeroed tails), segment roll, group
 * commit, de-dup, retention, seek by time, waiting, and injected fsync / ENOSPC faults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "evlog/evlog_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers */

static char *t_mkdtemp(void)
{
    char tmpl[] = "/tmp/evlog-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return dmp_asprintf("%s/log", d);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void t_rmrf(char *logdir)
{
    char *parent = dmp_strdup(logdir);
    *strrchr(parent, '/') = 0;
    nftw(parent, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    dmp_free(parent);
    dmp_free(logdir);
}

static int t_count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static dmp_evlog_conf_t t_conf(void)
{
    dmp_evlog_conf_t c;
    dmp_evlog_conf_init(&c);
    c.checkpoint_interval_ms = 3600 * 1000; /* only at roll and close: tests control it */
    c.prealloc_bytes = 0; /* these tests cut files at offsets read from the file's size;
                             filling ahead has its own tests (test_prealloc_*) */
    return c;
}

static dmp_evlog_t *t_open(const char *dir, const dmp_evlog_conf_t *c)
{
    dmp_error_t err = {0};
    dmp_evlog_t *elog = NULL;
    int rc = dmp_evlog_open(dir, c, &elog, &err);
    if (rc != DMP_OK)
        fail_msg("open %s: %s", dir, err.msg);
    return elog;
}

static uint64_t t_append(dmp_evlog_t *elog, const char *payload, uint64_t key)
{
    dmp_error_t err = {0};
    dmp_evlog_rec_t r = {payload, strlen(payload), 1234, key, 7};
    uint64_t seq = 0;
    if (dmp_evlog_append(elog, &r, 1, &seq, NULL, &err) != DMP_OK)
        fail_msg("append: %s", err.msg);
    return seq;
}

typedef struct collect {
    size_t n;
    uint64_t seqs[20000];
    char payload[20000][24];
    int64_t ams[20000];
} collect_t;

static int collect_cb(void *ud, const dmp_evlog_entry_t *e)
{
    collect_t *c = ud;
    if (c->n < 20000) {
        c->seqs[c->n] = e->seq;
        snprintf(c->payload[c->n], 24, "%.*s", (int)(e->len < 23 ? e->len : 23),
                 (const char *)e->payload);
        c->ams[c->n] = e->append_ms;
    }
    c->n++;
    return 0;
}

static collect_t *t_read_all(dmp_evlog_t *elog, uint64_t from)
{
    collect_t *c = dmp_calloc(1, sizeof(*c));
    dmp_error_t err = {0};
    if (dmp_evlog_read(elog, from, 0, 0, collect_cb, c, NULL, &err) != DMP_OK)
        fail_msg("read: %s", err.msg);
    return c;
}

static char *seg_file(const char *dir, uint64_t first)
{
    return dmp_evlog__seg_path(dir, first, "log");
}

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

/* Writes 'h' + payload as a version-1 record (the format before synced_before), as an
 * older build did. Returns its size. */
static size_t t_encode_v1(uint8_t *dst, const evlog_hdr_t *h, const void *payload)
{
    evlog_put32(dst, EVLOG_MAGIC_V1);
    evlog_put32(dst + 4, h->len);
    evlog_put64(dst + 8, h->seq);
    evlog_put64(dst + 16, (uint64_t)h->append_ms);
    evlog_put64(dst + 24, (uint64_t)h->event_ms);
    evlog_put64(dst + 32, h->dedup_key);
    evlog_put32(dst + 40, h->flags);
    if (h->len)
        memcpy(dst + EVLOG_HDR_V1, payload, h->len);
    uint32_t crc = dmp_evlog__crc32c(0, dst + 4, 40);
    crc = dmp_evlog__crc32c(crc, dst + EVLOG_HDR_V1, h->len);
    evlog_put32(dst + 44, crc);
    return EVLOG_HDR_V1 + h->len;
}

/* ---- CRC32C and record format */

static void test_crc32c(void **state)
{
    assert_int_equal(dmp_evlog__crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(dmp_evlog__crc32c_sw(0, "123456789", 9), 0xE3069283u);
    uint8_t buf[1100];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n < 1090; n += 37) {
            uint32_t a = dmp_evlog__crc32c(0, buf + off, n);
            uint32_t b = dmp_evlog__crc32c_sw(0, buf + off, n);
            assert_int_equal(a, b);
            /* incremental == one shot */
            uint32_t c = dmp_evlog__crc32c(dmp_evlog__crc32c(0, buf + off, n / 2),
                                           buf + off + n / 2, n - n / 2);
            assert_int_equal(a, c);
        }
}

static void test_record_roundtrip(void **state)
{
    const char *pl = "{\"specversion\":\"1.0\",\"id\":\"x\"}";
    evlog_hdr_t h = {
        (uint32_t)strlen(pl), 42, 1700000000123, 1690000000000, 0xdeadbeefcafe, 0x80000001u, 40, 0};
    size_t n = EVLOG_HDR + h.len;
    uint8_t *b = dmp_malloc(n);
    dmp_evlog__rec_encode(b, &h, pl);
    assert_memory_equal(b, "DME2", 4);
    evlog_hdr_t g;
    const char *why = NULL;
    assert_int_equal(dmp_evlog__rec_check(b, n, &g, &why), 1);
    assert_int_equal(g.len, h.len);
    assert_int_equal(g.seq, 42);
    assert_int_equal(g.append_ms, h.append_ms);
    assert_int_equal(g.event_ms, h.event_ms);
    assert_int_equal(g.dedup_key, h.dedup_key);
    assert_int_equal(g.flags, h.flags);
    assert_int_equal(g.synced_before, 40);
    assert_int_equal(g.hdr_len, EVLOG_HDR);
    assert_memory_equal(b + EVLOG_HDR, pl, h.len);
    /* every prefix is incomplete, never valid */
    for (size_t k = 0; k < n; k++)
        assert_int_equal(dmp_evlog__rec_check(b, k, &g, &why), 0);
    /* every single-bit flip is detected */
    for (size_t bit = 0; bit < n * 8; bit++) {
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_not_equal(dmp_evlog__rec_check(b, n, &g, &why), 1);
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* a synced-before field at or above the record's own seq is invalid */
    evlog_hdr_t bad = h;
    bad.synced_before = 42;
    dmp_evlog__rec_encode(b, &bad, pl);
    assert_int_equal(dmp_evlog__rec_check(b, n, &g, &why), -1);
    /* a version-1 record (48-byte header, no synced-before field) still reads */
    size_t n1 = t_encode_v1(b, &h, pl);
    assert_int_equal(n1, n - 8);
    assert_memory_equal(b, "DMEV", 4);
    assert_int_equal(dmp_evlog__rec_check(b, n1, &g, &why), 1);
    assert_int_equal(g.hdr_len, EVLOG_HDR_V1);
    assert_int_equal(g.seq, 42);
    assert_int_equal(g.synced_before, 0);
    assert_int_equal(g.flags, h.flags);
    assert_int_equal(dmp_evlog__rec_check(b, n1 - 1, &g, &why), 0);
    b[n1 - 1] ^= 1;
    assert_int_equal(dmp_evlog__rec_check(b, n1, &g, &why), -1);
    /* an empty payload works */
    evlog_hdr_t z = {0, 1, 5, 0, 0, 0, 0, 0};
    dmp_evlog__rec_encode(b, &z, NULL);
    assert_int_equal(dmp_evlog__rec_check(b, EVLOG_HDR, &g, &why), 1);
    assert_int_equal(g.len, 0);
    /* zeros are not a record */
    memset(b, 0, n);
    assert_int_equal(dmp_evlog__rec_check(b, n, &g, &why), -1);
    assert_string_equal(why, "bad magic");
    dmp_free(b);
    assert_int_not_equal(dmp_evlog_dedup_key("a", "bc"), dmp_evlog_dedup_key("ab", "c"));
    assert_int_equal(dmp_evlog_dedup_key("s", "1"), dmp_evlog_dedup_key("s", "1"));
    assert_int_not_equal(dmp_evlog_dedup_key("s", "1"), 0);
}

/* ---- basic append / read / reopen */

static void test_append_read_reopen(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    dmp_evlog_t *elog = t_open(dir, &c);
    assert_int_equal(dmp_evlog_next_seq(elog), 1);
    assert_int_equal(dmp_evlog_first_seq(elog), 1);
    char p[32];
    for (int i = 0; i < 100; i++) {
        snprintf(p, sizeof(p), "event-%d", i);
        assert_int_equal(t_append(elog, p, 0), (uint64_t)i + 1);
    }
    collect_t *col = t_read_all(elog, 1);
    assert_int_equal(col->n, 100);
    for (int i = 0; i < 100; i++) {
        snprintf(p, sizeof(p), "event-%d", i);
        assert_string_equal(col->payload[i], p);
        assert_int_equal(col->seqs[i], (uint64_t)i + 1);
        if (i)
            assert_true(col->ams[i] >= col->ams[i - 1]);
    }
    dmp_free(col);
    /* limits: max_records and max_bytes, and from past the end */
    collect_t *c2 = dmp_calloc(1, sizeof(*c2));
    dmp_evlog_read_info_t info;
    dmp_error_t err = {0};
    assert_int_equal(dmp_evlog_read(elog, 10, 5, 0, collect_cb, c2, &info, &err), DMP_OK);
    assert_int_equal(info.count, 5);
    assert_int_equal(info.next_seq, 15);
    assert_int_equal(c2->seqs[0], 10);
    c2->n = 0;
    assert_int_equal(dmp_evlog_read(elog, 10, 0, 16, collect_cb, c2, &info, &err), DMP_OK);
    assert_int_equal(info.count, 2); /* "event-9".."event-10": 7 + 8 bytes */
    c2->n = 0;
    assert_int_equal(dmp_evlog_read(elog, 500, 0, 0, collect_cb, c2, &info, &err), DMP_OK);
    assert_int_equal(info.count, 0);
    assert_int_equal(info.gap, 0);
    c2->n = 0;
    assert_int_equal(dmp_evlog_read(elog, 0, 3, 0, collect_cb, c2, &info, &err), DMP_OK);
    assert_int_equal(info.count, 3);
    assert_int_equal(c2->seqs[0], 1);
    assert_int_equal(info.gap, 0); /* nothing was deleted */
    dmp_free(c2);

    /* a second open of the same directory is refused */
    dmp_evlog_t *other = NULL;
    assert_int_equal(dmp_evlog_open(dir, &c, &other, &err), DMP_CONFLICT);
    assert_null(other);

    dmp_evlog_close(elog);
    elog = t_open(dir, &c);
    assert_int_equal(dmp_evlog_next_seq(elog), 101);
    col = t_read_all(elog, 1);
    assert_int_equal(col->n, 100);
    assert_string_equal(col->payload[99], "event-99");
    dmp_free(col);
    assert_int_equal(t_append(elog, "after", 0), 101);
    dmp_evlog_stats_t st;
    dmp_evlog_stats(elog, &st);
    assert_int_equal(st.next_seq, 102);
    assert_int_equal(st.synced_seq, 100);
    dmp_evlog_close(elog);
    t_rmrf(dir);
}

static void test_bad_conf(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    dmp_error_t err = {0};
    dmp_evlog_t *elog = NULL;
    c.segment_bytes = 100;
    assert_int_equal(dmp_evlog_open(dir, &c, &elog, &err), DMP_INVALID);
    assert_non_null(strstr(err.msg, "segment_bytes"));
    c = t_conf();
    c.max_record_bytes = 10;
    elog = t_open(dir, &c);
    dmp_evlog_rec_t r = {"01234567890", 11, 0, 0, 0};
    assert_int_equal(dmp_evlog_append(elog, &r, 1, NULL, NULL, &err), DMP_LIMIT);
    assert_non_null(strstr(err.msg, "record limit"));
    assert_int_equal(dmp_evlog_append(elog, &r, 0, NULL, NULL, &err), DMP_INVALID);
    assert_int_equal(dmp_evlog_next_seq(elog), 1);
    dmp_evlog_close(elog);
    t_rmrf(dir);
}

/* ---- recovery */

typedef struct blob {
    char *data;
    size_t len;
} blob_t;

static blob_t slurp(const char *path)
{
    blob_t b = {0};
    assert_int_equal(dmp_read_file(path, 1u << 26, &b.data, &b.len, NULL), DMP_OK);
    return b;
}

/* Builds a log with 3 records acknowledged and checkpointed, then 3 more acknowledged after
 * the checkpoint and "crashed" (no checkpoint update). Returns the segment bytes, the
 * checkpoint bytes and the offset where record 4 starts. */
static void build_crashed(const char *dir, blob_t *seg, blob_t *ck, size_t *off4)
{
    dmp_evlog_conf_t c = t_conf();
    dmp_evlog_t *elog = t_open(dir, &c);
    t_append(elog, "first record", 0);
    t_append(elog, "second record", 0);
    t_append(elog, "third record", 0);
    dmp_evlog_close(elog); /* checkpoint: synced_seq = 3 */
    char *sp = seg_file(dir, 1);
    struct stat sb;
    assert_int_equal(stat(sp, &sb), 0);
    *off4 = (size_t)sb.st_size;
    elog = t_open(dir, &c);
    t_append(elog, "fourth record", 0);
    t_append(elog, "fifth record", 0);
    t_append(elog, "sixth record, a bit longer than the others", 0);
    dmp_evlog__abandon(elog);
    *seg = slurp(sp);
    char *cp = dmp_asprintf("%s/checkpoint", dir);
    *ck = slurp(cp);
    dmp_free(cp);
    dmp_free(sp);
}

static void put_log(const char *dir, const blob_t *ck, const void *seg, size_t seglen)
{
    char *sp = seg_file(dir, 1);
    char *cp = dmp_asprintf("%s/checkpoint", dir);
    write_file(sp, seg, seglen);
    write_file(cp, ck->data, ck->len);
    dmp_free(sp);
    dmp_free(cp);
}

static void test_truncated_tail_every_byte(void **state)
{
    char *dir = t_mkdtemp();
    blob_t seg, ck;
    size_t off4;
    build_crashed(dir, &seg, &ck, &off4);
    dmp_evlog_conf_t c = t_conf();
    c.persist_index = 0;
    /* record boundaries after off4 */
    size_t bounds[4];
    size_t nb = 0, o = off4;
    while (o < seg.len && nb < 4) {
        bounds[nb++] = o;
        o += EVLOG_HDR + evlog_get32((uint8_t *)seg.data + o + 4);
    }
    assert_int_equal(nb, 3);
    for (size_t cut = off4; cut <= seg.len; cut++) {
        put_log(dir, &ck, seg.data, cut);
        dmp_evlog_t *elog = t_open(dir, &c);
        uint64_t whole = 3;
        for (size_t k = 0; k < nb; k++)
            if (bounds[k] + EVLOG_HDR + evlog_get32((uint8_t *)seg.data + bounds[k] + 4) <= cut)
                whole++;
        assert_int_equal(dmp_evlog_next_seq(elog), whole + 1);
        collect_t *col = t_read_all(elog, 1);
        assert_int_equal(col->n, whole);
        dmp_free(col);
        /* the log is usable: the next append lands right after the cut */
        assert_int_equal(t_append(elog, "again", 0), whole + 1);
        dmp_evlog__abandon(elog);
    }
    /* a cut into the checkpointed records is refused, naming segment and offset */
    for (size_t cut = off4 - 20; cut < off4; cut += 7) {
        put_log(dir, &ck, seg.data, cut);
        dmp_evlog_t *elog = NULL;
        dmp_error_t err = {0};
        assert_int_equal(dmp_evlog_open(dir, &c, &elog, &err), DMP_IO);
        assert_non_null(strstr(err.msg, "below the synced point"));
        assert_non_null(strstr(err.msg, "seg-00000000000000000001.log"));
        assert_non_null(strstr(err.msg, "offset"));
    }
    dmp_free(seg.data);
    dmp_free(ck.data);
    t_rmrf(dir);
}

static void test_flipped_bits(void **state)
{
    char *dir = t_mkdtemp();
    blob_t seg, ck;
    size_t off4;
    build_crashed(dir, &seg, &ck, &off4);
    dmp_evlog_conf_t c = t_conf();
    /* a flip in record 5 (above the checkpoint, but record 6 was written after record 5's
     * sync and says so in its synced-before field): refused, naming the offset */
    size_t off5 = off4 + EVLOG_HDR + evlog_get32((uint8_t *)seg.data + off4 + 4);
    for (size_t pos = off5; pos < off5 + 60; pos += 5) {
        seg.data[pos] ^= 0x10;
        put_log(dir, &ck, seg.data, seg.len);
        dmp_evlog_t *elog = NULL;
        dmp_error_t err = {0};
        assert_int_equal(dmp_evlog_open(dir, &c, &elog, &err), DMP_IO);
        char want[64];
        snprintf(want, sizeof(want), "offset %zu", off5);
        assert_non_null(strstr(err.msg, want));
        assert_non_null(strstr(err.msg, "as shown by record seq 6"));
        seg.data[pos] ^= 0x10;
    }
    /* a flip in record 6 (the last one: nothing shows it was synced): cut there */
    size_t off6 = off5 + EVLOG_HDR + evlog_get32((uint8_t *)seg.data + off5 + 4);
    for (size_t pos = off6; pos < seg.len; pos += 5) {
        seg.data[pos] ^= 0x10;
        put_log(dir, &ck, seg.data, seg.len);
        dmp_evlog_t *elog = t_open(dir, &c);
        assert_int_equal(dmp_evlog_next_seq(elog), 6);
        dmp_evlog_stats_t st;
        dmp_evlog_stats(elog, &st);
        assert_int_equal(st.recovered_truncated, seg.len - off6);
        dmp_evlog__abandon(elog);
        seg.data[pos] ^= 0x10;
    }
    /* a flip in record 2 (acknowledged and checkpointed): refused */
    size_t off2 = EVLOG_HDR + evlog_get32((uint8_t *)seg.data + 4);
    for (size_t pos = off2; pos < off2 + EVLOG_HDR + 5; pos += 3) {
        seg.data[pos] ^= 0x01;
        put_log(dir, &ck, seg.data, seg.len);
        dmp_evlog_t *elog = NULL;
        dmp_error_t err = {0};
        assert_int_equal(dmp_evlog_open(dir, &c, &elog, &err), DMP_IO);
        assert_null(elog);
        char want[64];
        snprintf(want, sizeof(want), "offset %zu", off2);
        assert_non_null(strstr(err.msg, want));
        assert_non_null(strstr(err.msg, "seg-00000000000000000001.log"));
        seg.data[pos] ^= 0x01;
    }
    /* with no checkpoint at all, the same flip is still refused: the later records carry
     * the proof that record 2 was synced */
    seg.data[off2 + 50] ^= 0x01;
    put_log(dir, &ck, seg.data, seg.len);
    char *cp = dmp_asprintf("%s/checkpoint", dir);
    unlink(cp);
    dmp_free(cp);
    dmp_evlog_t *elog = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_evlog_open(dir, &c, &elog, &err), DMP_IO);
    assert_non_null(strstr(err.msg, "below the synced point"));
    dmp_free(seg.data);
    dmp_free(ck.data);
    t_rmrf(dir);
}

static void test_zeroed_tail(void **state)
{
    char *dir = t_mkdtemp();
    blob_t seg, ck;
    size_t off4;
    build_crashed(dir, &seg, &ck, &off4);
    dmp_evlog_conf_t c = t_conf();
    /* preallocated zeros after all records */
    size_t n = seg.len + 8192;
    char *z = dmp_calloc(1, n);
    memcpy(z, seg.data, seg.len);
    put_log(dir, &ck, z, n);
    dmp_evlog_t *elog = t_open(dir, &c);
    assert_int_equal(dmp_evlog_next_seq(elog), 7);
    dmp_evlog__abandon(elog);
    /* zeros over records 5 and 6 (the unsynced part) */
    size_t off5 = off4 + EVLOG_HDR + evlog_get32((uint8_t *)seg.data + off4 + 4);
    memset(z + off5 + 10, 0, n - off5 - 10);
    put_log(dir, &ck, z, n);
    elog = t_open(dir, &c);
    assert_int_equal(dmp_evlog_next_seq(elog), 5);
    char *sp = seg_file(dir, 1);
    struct stat sb;
    assert_int_equal(stat(sp, &sb), 0);
    dmp_free(sp);
    assert_int_equal((size_t)sb.st_size, off5);
    dmp_evlog__abandon(elog);
    /* zeros over record 3 (below the synced point): refused */
    memset(z + off4 - 10, 0, n - off4 + 10);
    put_log(dir, &ck, z, n);
    dmp_error_t err = {0};
    assert_int_equal(dmp_evlog_open(dir, &c, &elog, &err), DMP_IO);
    assert_non_null(strstr(err.msg, "below the synced point"));
    dmp_free(z);
    dmp_free(seg.data);
    dmp_free(ck.data);
    t_rmrf(dir);
}

/* ---- filling ahead (conf prealloc_bytes) */

static size_t file_size_of(const char *dir, uint64_t first)
{
    char *sp = seg_file(dir, first);
    struct stat sb;
    assert_int_equal(stat(sp, &sb), 0);
    dmp_free(sp);
    return (size_t)sb.st_size;
}

/* Records go over zeros written ahead; a crash leaves them there; recovery reads them as
 * filled-ahead space (nothing cut, nothing lost) and appending goes on inside them. */
static void test_prealloc_zero_tail(void **state)
{
    (void)state;
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    c.prealloc_bytes = 8192;
    dmp_evlog_t *elog = t_open(dir, &c);
    char p[32];
    for (int i = 0; i < 50; i++) {
        snprintf(p, sizeof(p), "rec-%d", i);
        t_append(elog, p, 0);
    }
    size_t fsz = file_size_of(dir, 1);
    assert_int_equal(fsz % 8192, 0); /* the file ends on a fill step */
    dmp_evlog__abandon(elog);          /* a crash: no checkpoint, zeros stay */
    elog = t_open(dir, &c);
    assert_int_equal(dmp_evlog_next_seq(elog), 51);
    dmp_evlog_stats_t st;
    dmp_evlog_stats(elog, &st);
    assert_int_equal(st.recovered_truncated, 0);
    assert_int_equal(file_size_of(dir, 1), fsz); /* not cut: it is written into next */
    for (int i = 50; i < 60; i++) {
        snprintf(p, sizeof(p), "rec-%d", i);
        assert_int_equal(t_append(elog, p, 0), (uint64_t)i + 1);
    }
    assert_int_equal(file_size_of(dir, 1), fsz); /* still inside the zeros */
    dmp_evlog__abandon(elog);
    elog = t_open(dir, &c);
    collect_t *col = t_read_all(elog, 1);
    assert_int_equal(col->n, 60);
    for (int i = 0; i < 60; i++) {
        snprintf(p, sizeof(p), "rec-%d", i);
        assert_string_equal(col->payload[i], p);
        assert_int_equal(col->seqs[i], (uint64_t)i + 1);
    }
    dmp_free(col);
    dmp_evlog_close(elog);
    t_rmrf(dir);
}

/* A roll cuts the sealed segment's zeros; if a crash left them, recovery still opens the
 * log; and zeros where acknowledged records were are still refused. */
static void test_prealloc_sealed_and_refusals(void **state)
{
    (void)state;
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    c.prealloc_bytes = 8192;
    c.segment_bytes = 4096;
    dmp_evlog_t *elog = t_open(dir, &c);
    char p[64];
    for (int i = 0; i < 120; i++) {
        snprintf(p, sizeof(p), "record number %d of a rolling log", i);
        t_append(elog, p, 0);
    }
    dmp_evlog_close(elog); /* checkpoint: all 120 acknowledged */
    size_t first_len = file_size_of(dir, 1);
    assert_true(first_len <= 4096 + 64); /* sealed: cut back to its records */
    /* a crash right after a roll could leave the zeros of a sealed segment */
    char *sp = seg_file(dir, 1);
    assert_int_equal(truncate(sp, (off_t)first_len + 8192), 0);
    elog = t_open(dir, &c);
    assert_int_equal(dmp_evlog_next_seq(elog), 121);
    collect_t *col = t_read_all(elog, 1);
    assert_int_equal(col->n, 120);
    dmp_free(col);
    dmp_evlog_close(elog);
    /* zeros over the sealed segment's last record: the next segment shows the gap */
    blob_t b = slurp(sp);
    size_t cut = first_len - 40;
    char *z = dmp_calloc(1, first_len + 8192);
    memcpy(z, b.data, cut);
    write_file(sp, z, first_len + 8192);
    dmp_error_t err = {0};
    assert_int_not_equal(dmp_evlog_open(dir, &c, &elog, &err), DMP_OK);
    assert_non_null(strstr(err.msg, "log"));
    write_file(sp, b.data, b.len); /* put it back */
    /* zeros over the last segment's acknowledged tail: the checkpoint shows it */
    elog = t_open(dir, &c);
    uint64_t last_first = 0;
    dmp_evlog_stats_t st;
    dmp_evlog_stats(elog, &st);
    dmp_evlog_close(elog);
    for (uint64_t f = 120; f >= 1 && last_first == 0; f--) {
        char *lp = seg_file(dir, f);
        struct stat sb;
        if (stat(lp, &sb) == 0)
            last_first = f;
        dmp_free(lp);
    }
    assert_true(last_first > 1);
    char *lp = seg_file(dir, last_first);
    blob_t lb = slurp(lp);
    char *lz = dmp_calloc(1, lb.len + 8192);
    memcpy(lz, lb.data, lb.len / 2);
    write_file(lp, lz, lb.len + 8192);
    err = (dmp_error_t){0};
    assert_int_equal(dmp_evlog_open(dir, &c, &elog, &err), DMP_IO);
    assert_non_null(strstr(err.msg, "acknowledged"));
    dmp_free(lz);
    dmp_free(lb.data);
    dmp_free(lp);
    dmp_free(z);
    dmp_free(b.data);
    dmp_free(sp);
    t_rmrf(dir);
}

/* ---- segments */

static void test_roll_and_read_across(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    c.segment_bytes = 4096;
    c.index_interval_bytes = 256;
    c.persist_index = 1;
    dmp_evlog_t *elog = t_open(dir, &c);
    char p[128];
    for (int i = 0; i < 600; i++) {
        snprintf(p, sizeof(p), "rec-%05d-%s", i, "padding padding padding padding padding");
        assert_int_equal(t_append(elog, p, 0), (uint64_t)i + 1);
    }
    dmp_evlog_stats_t st;
    dmp_evlog_stats(elog, &st);
    assert_true(st.segments > 5);
    for (uint64_t from = 1; from <= 600; from += 37) {
        collect_t *col = t_read_all(elog, from);
        assert_int_equal(col->n, 601 - from);
        for (size_t k = 0; k < col->n; k++)
            assert_int_equal(col->seqs[k], from + k);
        dmp_free(col);
    }
    uint64_t nsegs = st.segments;
    dmp_evlog_close(elog);
    /* sealed segments hold no descriptor: an open log uses a handful, not one per segment */
    int fds0 = t_count_fds();
    elog = t_open(dir, &c);
    assert_true(t_count_fds() - fds0 <= 4);
    collect_t *all = t_read_all(elog, 1);
    assert_int_equal(all->n, 600);
    dmp_free(all);
    assert_true(t_count_fds() - fds0 <= 4);
    dmp_evlog_close(elog);
    assert_int_equal(t_count_fds(), fds0);
    /* reopen with persisted indexes, then without them */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            char cmd[512];
            snprintf(cmd, sizeof(cmd), "rm -f %s/*.idx", dir);
            assert_int_equal(system(cmd), 0);
        }
        elog = t_open(dir, &c);
        dmp_evlog_stats(elog, &st);
        assert_int_equal(st.segments, nsegs);
        assert_int_equal(dmp_evlog_next_seq(elog), 601);
        collect_t *col = t_read_all(elog, 250);
        assert_int_equal(col->n, 351);
        assert_int_equal(col->seqs[0], 250);
        assert_memory_equal(col->payload[0], "rec-00249", 9);
        dmp_free(col);
        dmp_evlog_close(elog);
    }
    t_rmrf(dir);
}

/* ---- group commit */

typedef struct thr {
    dmp_evlog_t *elog;
    int id, n, batch;
    uint64_t *seqs;
    int fails;
} thr_t;

static void *thr_main(void *arg)
{
    thr_t *t = arg;
    for (int i = 0; i < t->n; i += t->batch) {
        char p[64][48];
        dmp_evlog_rec_t r[64];
        dmp_evlog_result_t res[64];
        int k = t->batch;
        for (int j = 0; j < k; j++) {
            snprintf(p[j], sizeof(p[j]), "t%02d-%06d", t->id, i + j);
            r[j] = (dmp_evlog_rec_t){p[j], strlen(p[j]), 0, 0, 0};
        }
        dmp_error_t err = {0};
        uint64_t first = 0;
        if (dmp_evlog_append(t->elog, r, (size_t)k, &first, res, &err) != DMP_OK) {
            t->fails++;
            continue;
        }
        for (int j = 0; j < k; j++) {
            t->seqs[i + j] = res[j].seq;
            if (res[j].seq != first + (uint64_t)j)
                t->fails++;
        }
    }
    return NULL;
}

static void test_group_commit_threads(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    c.segment_bytes = 16384;
    dmp_evlog_t *elog = t_open(dir, &c);
    enum { NT = 8, PER = 120 };
    pthread_t th[NT];
    thr_t t[NT];
    for (int i = 0; i < NT; i++) {
        t[i] = (thr_t){elog, i, PER, i % 2 ? 1 : 3, dmp_calloc(PER, sizeof(uint64_t)), 0};
        pthread_create(&th[i], NULL, thr_main, &t[i]);
    }
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    uint8_t *seen = dmp_calloc(NT * PER + 1, 1);
    for (int i = 0; i < NT; i++) {
        assert_int_equal(t[i].fails, 0);
        for (int j = 0; j < PER; j++) {
            assert_true(t[i].seqs[j] >= 1 && t[i].seqs[j] <= NT * PER);
            assert_int_equal(seen[t[i].seqs[j]], 0);
            seen[t[i].seqs[j]] = 1;
        }
    }
    dmp_evlog_stats_t st;
    dmp_evlog_stats(elog, &st);
    assert_int_equal(st.appended, NT * PER);
    assert_true(st.syncs <= st.append_calls);
    print_message("group commit: %" PRIu64 " append calls, %" PRIu64 " syncs\n", st.append_calls,
                  st.syncs);
    dmp_evlog__abandon(elog); /* as if killed: no checkpoint */
    elog = t_open(dir, &c);
    collect_t *col = t_read_all(elog, 1);
    assert_int_equal(col->n, NT * PER);
    for (size_t k = 0; k < col->n; k++) {
        int id, n;
        assert_int_equal(sscanf(col->payload[k], "t%02d-%06d", &id, &n), 2);
        assert_int_equal(t[id].seqs[n], col->seqs[k]);
    }
    dmp_free(col);
    dmp_evlog_close(elog);
    for (int i = 0; i < NT; i++)
        dmp_free(t[i].seqs);
    dmp_free(seen);
    t_rmrf(dir);
}

static void test_batch_one_sync(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    dmp_evlog_t *elog = t_open(dir, &c);
    enum { N = 1000 };
    dmp_evlog_rec_t *r = dmp_calloc(N, sizeof(*r));
    dmp_evlog_result_t *res = dmp_calloc(N, sizeof(*res));
    for (int i = 0; i < N; i++)
        r[i] = (dmp_evlog_rec_t){"{\"order\":1}", 11, 0, (uint64_t)i + 1, 0};
    dmp_evlog_stats_t st0, st1;
    dmp_evlog_stats(elog, &st0);
    uint64_t first;
    dmp_error_t err = {0};
    assert_int_equal(dmp_evlog_append(elog, r, N, &first, res, &err), DMP_OK);
    dmp_evlog_stats(elog, &st1);
    assert_int_equal(first, 1);
    assert_int_equal(res[N - 1].seq, N);
    assert_int_equal(st1.syncs - st0.syncs, 1);
    assert_int_equal(st1.writes - st0.writes, 1);
    dmp_free(r);
    dmp_free(res);
    dmp_evlog_close(elog);
    t_rmrf(dir);
}

/* ---- de-duplication */

static void test_dedup(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    c.dedup_window_count = 10;
    dmp_evlog_t *elog = t_open(dir, &c);
    uint64_t ka = dmp_evlog_dedup_key("urn:x", "a"), kb = dmp_evlog_dedup_key("urn:x", "b");
    assert_int_equal(t_append(elog, "A", ka), 1);
    /* within the window: acknowledged with the existing seq, not appended */
    dmp_evlog_rec_t r[3] = {{"A again", 7, 0, ka, 0}, {"B", 1, 0, kb, 0}, {"B dup", 5, 0, kb, 0}};
    dmp_evlog_result_t res[3];
    uint64_t first;
    dmp_error_t err = {0};
    assert_int_equal(dmp_evlog_append(elog, r, 3, &first, res, &err), DMP_OK);
    assert_int_equal(res[0].seq, 1);
    assert_int_equal(res[0].duplicate, 1);
    assert_int_equal(res[1].seq, 2);
    assert_int_equal(res[1].duplicate, 0);
    assert_int_equal(res[2].seq, 2); /* duplicate inside the same batch */
    assert_int_equal(res[2].duplicate, 1);
    assert_int_equal(first, 2);
    assert_int_equal(dmp_evlog_next_seq(elog), 3);
    /* key 0 is never de-duplicated */
    assert_int_equal(t_append(elog, "n1", 0), 3);
    assert_int_equal(t_append(elog, "n2", 0), 4);
    dmp_evlog_stats_t st;
    dmp_evlog_stats(elog, &st);
    assert_int_equal(st.duplicates, 2);
    dmp_evlog__abandon(elog);
    /* after a crash and reopen the window is rebuilt */
    elog = t_open(dir, &c);
    assert_int_equal(dmp_evlog_append(elog, r, 1, &first, res, &err), DMP_OK);
    assert_int_equal(res[0].duplicate, 1);
    assert_int_equal(res[0].seq, 1);
    assert_int_equal(first, 0);
    /* push 'A' out of the 10-seq window: then it is appended again */
    for (int i = 0; i < 10; i++)
        t_append(elog, "filler", 0);
    assert_int_equal(dmp_evlog_append(elog, r, 1, &first, res, &err), DMP_OK);
    assert_int_equal(res[0].duplicate, 0);
    assert_int_equal(res[0].seq, 15);
    dmp_evlog_close(elog);
    /* a time window */
    c.dedup_window_count = 0;
    c.dedup_window_ms = 150;
    elog = t_open(dir, &c);
    uint64_t kc = dmp_evlog_dedup_key("urn:x", "c");
    assert_int_equal(t_append(elog, "C", kc), 16);
    assert_int_equal(
        dmp_evlog_append(elog, &(dmp_evlog_rec_t){"C", 1, 0, kc, 0}, 1, &first, res, &err), DMP_OK);
    assert_int_equal(res[0].duplicate, 1);
    usleep(250 * 1000);
    assert_int_equal(t_append(elog, "C later", kc), 17);
    dmp_evlog_close(elog);
    t_rmrf(dir);
}

static void test_dedup_map_churn(void **state)
{
    evlog_dedup_t dd = {0};
    /* many inserts and evictions keep lookups exact */
    for (uint64_t s = 1; s <= 20000; s++) {
        dmp_evlog__dedup_add(&dd, s * 0x9E3779B97F4A7C15ull | 1, s, (int64_t)s);
        dmp_evlog__dedup_evict(&dd, s > 500 ? s - 500 : 0, INT64_MIN);
    }
    for (uint64_t s = 1; s <= 20000; s++) {
        uint64_t got = dmp_evlog__dedup_find(&dd, s * 0x9E3779B97F4A7C15ull | 1);
        assert_int_equal(got, s >= 19500 ? s : 0);
    }
    dmp_evlog__dedup_rollback(&dd, 19900);
    assert_int_equal(dmp_evlog__dedup_find(&dd, 19950 * 0x9E3779B97F4A7C15ull | 1), 0);
    assert_int_equal(dmp_evlog__dedup_find(&dd, 19800 * 0x9E3779B97F4A7C15ull | 1), 19800);
    dmp_evlog__dedup_fini(&dd);
}

/* ---- retention and time */

static void test_retention(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    c.segment_bytes = 4096;
    c.retention_bytes = 3 * 4096;
    dmp_evlog_t *elog = t_open(dir, &c);
    char p[200];
    memset(p, 'x', sizeof(p));
    p[199] = 0;
    for (int i = 0; i < 400; i++)
        t_append(elog, p, 0);
    dmp_evlog_stats_t st;
    dmp_evlog_stats(elog, &st);
    assert_true(st.segments_deleted > 0);
    assert_true(st.bytes <= 4 * 4096 + 4096);
    uint64_t first = dmp_evlog_first_seq(elog);
    assert_true(first > 1);
    /* a read from a deleted seq starts at the first available and says so */
    collect_t *col = dmp_calloc(1, sizeof(*col));
    dmp_evlog_read_info_t info;
    dmp_error_t err = {0};
    assert_int_equal(dmp_evlog_read(elog, 1, 0, 0, collect_cb, col, &info, &err), DMP_OK);
    assert_int_equal(info.gap, 1);
    assert_int_equal(info.first_seq, first);
    assert_int_equal(col->seqs[0], first);
    assert_int_equal(col->n, 401 - first);
    dmp_free(col);
    dmp_evlog_close(elog);
    /* reopen keeps the first seq; time retention deletes all sealed segments */
    c.retention_bytes = 0;
    c.retention_ms = 1;
    usleep(20 * 1000);
    elog = t_open(dir, &c);
    assert_int_equal(dmp_evlog_first_seq(elog), first);
    assert_int_equal(dmp_evlog_retain(elog, &err), DMP_OK);
    dmp_evlog_stats(elog, &st);
    assert_int_equal(st.segments, 1);
    assert_true(dmp_evlog_first_seq(elog) > first);
    assert_int_equal(dmp_evlog_next_seq(elog), 401);
    dmp_evlog_close(elog);
    elog = t_open(dir, &c);
    assert_int_equal(dmp_evlog_next_seq(elog), 401);
    dmp_evlog_close(elog);
    t_rmrf(dir);
}

static void test_seek_time(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    c.segment_bytes = 4096;
    c.index_interval_bytes = 200;
    dmp_evlog_t *elog = t_open(dir, &c);
    for (int i = 0; i < 300; i++) {
        t_append(elog, "some payload of forty bytes, more or less", 0);
        if (i % 30 == 0)
            usleep(3000);
    }
    collect_t *col = t_read_all(elog, 1);
    assert_int_equal(col->n, 300);
    dmp_error_t err = {0};
    for (size_t k = 0; k < col->n; k += 7) {
        uint64_t seq;
        int64_t t = col->ams[k];
        assert_int_equal(dmp_evlog_seek_time(elog, t, &seq, &err), DMP_OK);
        size_t want = 0;
        while (col->ams[want] < t)
            want++;
        assert_int_equal(seq, col->seqs[want]);
    }
    uint64_t seq;
    assert_int_equal(dmp_evlog_seek_time(elog, 0, &seq, &err), DMP_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(dmp_evlog_seek_time(elog, col->ams[299] + 1, &seq, &err), DMP_OK);
    assert_int_equal(seq, 301);
    dmp_free(col);
    dmp_evlog_close(elog);
    t_rmrf(dir);
}

/* ---- waiting */

static void *late_appender(void *arg)
{
    usleep(50 * 1000);
    t_append(arg, "late", 0);
    return NULL;
}

static void test_wait(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    dmp_evlog_t *elog = t_open(dir, &c);
    t_append(elog, "one", 0);
    uint64_t next = 0;
    assert_int_equal(dmp_evlog_wait(elog, 0, 0, &next), DMP_OK);
    assert_int_equal(next, 2);
    assert_int_equal(dmp_evlog_wait(elog, 1, 30, &next), DMP_TIMEOUT);
    pthread_t th;
    pthread_create(&th, NULL, late_appender, elog);
    assert_int_equal(dmp_evlog_wait(elog, 1, 5000, &next), DMP_OK);
    assert_int_equal(next, 3);
    pthread_join(th, NULL);
    dmp_evlog_close(elog);
    t_rmrf(dir);
}

/* ---- faults */

static int fail_sync(int fd)
{
    errno = EIO;
    return -1;
}

static int enospc_countdown = -1;
static ssize_t enospc_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (enospc_countdown == 0) {
        /* half of it lands, then the disk is full */
        size_t half = n / 2;
        if (half) {
            ssize_t w = pwrite(fd, buf, half, off);
            if (w > 0)
                return w;
        }
        errno = ENOSPC;
        return -1;
    }
    return pwrite(fd, buf, n, off);
}

static void test_fsync_failure_read_only(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    dmp_evlog_t *elog = t_open(dir, &c);
    t_append(elog, "safe-1", 0);
    t_append(elog, "safe-2", 0);
    dmp_evlog__fdatasync_hook = fail_sync;
    dmp_error_t err = {0};
    dmp_evlog_rec_t r = {"lost?", 5, 0, 0, 0};
    assert_int_equal(dmp_evlog_append(elog, &r, 1, NULL, NULL, &err), DMP_UNAVAILABLE);
    assert_non_null(strstr(err.msg, "read-only"));
    assert_non_null(strstr(err.msg, "fdatasync"));
    dmp_evlog__fdatasync_hook = fdatasync; /* even when the disk recovers: no retry */
    memset(&err, 0, sizeof(err));
    assert_int_equal(dmp_evlog_append(elog, &r, 1, NULL, NULL, &err), DMP_UNAVAILABLE);
    assert_non_null(strstr(err.msg, "fdatasync"));
    dmp_evlog_stats_t st;
    dmp_evlog_stats(elog, &st);
    assert_int_equal(st.read_only, 1);
    assert_non_null(strstr(st.read_only_reason, "Input/output error"));
    assert_int_equal(st.next_seq, 3);
    /* reads still work and never show the unsynced record */
    collect_t *col = t_read_all(elog, 1);
    assert_int_equal(col->n, 2);
    dmp_free(col);
    dmp_evlog_close(elog);
    /* a reopen recovers: the acknowledged records are there */
    elog = t_open(dir, &c);
    assert_true(dmp_evlog_next_seq(elog) >= 3);
    col = t_read_all(elog, 1);
    assert_string_equal(col->payload[0], "safe-1");
    assert_string_equal(col->payload[1], "safe-2");
    dmp_free(col);
    dmp_evlog_close(elog);
    t_rmrf(dir);
}

static void test_enospc(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    dmp_evlog_t *elog = t_open(dir, &c);
    t_append(elog, "kept-1", dmp_evlog_dedup_key("s", "1"));
    t_append(elog, "kept-2", 0);
    dmp_evlog__pwrite_hook = enospc_pwrite;
    enospc_countdown = 0;
    dmp_error_t err = {0};
    dmp_evlog_rec_t r[2] = {{"doomed-a", 8, 0, dmp_evlog_dedup_key("s", "3"), 0},
                            {"doomed-b", 8, 0, 0, 0}};
    assert_int_equal(dmp_evlog_append(elog, r, 2, NULL, NULL, &err), DMP_FULL);
    assert_true(err.retriable);
    assert_non_null(strstr(err.msg, "no space"));
    assert_int_equal(dmp_evlog_next_seq(elog), 3);
    /* space returns: the log goes on, with no gap and no garbage */
    enospc_countdown = -1;
    dmp_evlog_result_t res[2];
    uint64_t first;
    assert_int_equal(dmp_evlog_append(elog, r, 2, &first, res, &err), DMP_OK);
    assert_int_equal(first, 3);
    assert_int_equal(res[0].duplicate, 0); /* the failed append left no dedup entry */
    dmp_evlog__pwrite_hook = pwrite;
    dmp_evlog_close(elog);
    elog = t_open(dir, &c);
    collect_t *col = t_read_all(elog, 1);
    assert_int_equal(col->n, 4);
    assert_string_equal(col->payload[2], "doomed-a");
    assert_string_equal(col->payload[3], "doomed-b");
    dmp_free(col);
    dmp_evlog_stats_t st;
    dmp_evlog_stats(elog, &st);
    assert_int_equal(st.recovered_truncated, 0);
    dmp_evlog_close(elog);
    t_rmrf(dir);
}

static void test_destroy(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    dmp_evlog_t *elog = t_open(dir, &c);
    t_append(elog, "x", 0);
    dmp_error_t err = {0};
    assert_int_equal(dmp_evlog_destroy(dir, &err), DMP_CONFLICT); /* still open */
    dmp_evlog_close(elog);
    char *stray = dmp_asprintf("%s/notes.txt", dir);
    write_file(stray, "hi", 2);
    assert_int_equal(dmp_evlog_destroy(dir, &err), DMP_CONFLICT);
    assert_non_null(strstr(err.msg, "notes.txt"));
    unlink(stray);
    dmp_free(stray);
    assert_int_equal(dmp_evlog_destroy(dir, &err), DMP_OK);
    struct stat sb;
    assert_int_not_equal(stat(dir, &sb), 0);
    assert_int_equal(dmp_evlog_destroy(dir, &err), DMP_NOTFOUND);
    t_rmrf(dir);
}

static void test_gap_refused(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    c.segment_bytes = 4096;
    dmp_evlog_t *elog = t_open(dir, &c);
    char p[300];
    memset(p, 'y', sizeof(p));
    p[299] = 0;
    for (int i = 0; i < 60; i++)
        t_append(elog, p, 0);
    dmp_evlog_stats_t st;
    dmp_evlog_stats(elog, &st);
    assert_true(st.segments >= 3);
    dmp_evlog_close(elog);
    /* remove a middle segment */
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "ls %s/seg-*.log | sed -n 2p | xargs rm -f", dir);
    assert_int_equal(system(cmd), 0);
    dmp_error_t err = {0};
    assert_int_equal(dmp_evlog_open(dir, &c, &elog, &err), DMP_IO);
    assert_non_null(strstr(err.msg, "gap"));
    t_rmrf(dir);

    /* a sealed segment emptied by outside hands (lost records) is a gap too */
    dir = t_mkdtemp();
    elog = t_open(dir, &c);
    for (int i = 0; i < 30; i++)
        t_append(elog, p, 0);
    dmp_evlog_close(elog);
    char *sp = seg_file(dir, 1);
    assert_int_equal(truncate(sp, 0), 0);
    dmp_free(sp);
    memset(&err, 0, sizeof(err));
    assert_int_equal(dmp_evlog_open(dir, &c, &elog, &err), DMP_IO);
    assert_non_null(strstr(err.msg, "gap"));
    t_rmrf(dir);
}

/* ---- more recovery cases */

static void test_sealed_damage(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    c.segment_bytes = 4096;
    c.persist_index = 1;
    dmp_evlog_t *elog = t_open(dir, &c);
    char p[300];
    memset(p, 'z', sizeof(p));
    p[299] = 0;
    for (int i = 0; i < 40; i++)
        t_append(elog, p, 0);
    dmp_evlog_close(elog);
    /* flip one payload bit in the first (sealed) segment, record 3 */
    char *sp = seg_file(dir, 1);
    blob_t b = slurp(sp);
    size_t off3 = 2 * (EVLOG_HDR + 299);
    b.data[off3 + EVLOG_HDR + 10] ^= 0x04;
    write_file(sp, b.data, b.len);
    /* with a trusted .idx, open works and the read that reaches it reports the damage */
    c.dedup_window_count = 5; /* keep the dedup rebuild away from segment 1 */
    elog = t_open(dir, &c);
    collect_t *col = dmp_calloc(1, sizeof(*col));
    dmp_error_t err = {0};
    assert_int_equal(dmp_evlog_read(elog, 1, 0, 0, collect_cb, col, NULL, &err), DMP_IO);
    char want[64];
    snprintf(want, sizeof(want), "offset %zu", off3);
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, "seg-00000000000000000001.log"));
    assert_int_equal(col->n, 2);
    dmp_free(col);
    dmp_evlog_close(elog);
    /* the default (scan everything) refuses at open */
    c.persist_index = 0;
    memset(&err, 0, sizeof(err));
    assert_int_equal(dmp_evlog_open(dir, &c, &elog, &err), DMP_IO);
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, "sealed segment"));
    /* a corrupt .idx is ignored (rescan), and the rescan finds the damage */
    char *ip = dmp_evlog__seg_path(dir, 1, "idx");
    write_file(ip, "garbage", 7);
    c.persist_index = 1;
    assert_int_equal(dmp_evlog_open(dir, &c, &elog, &err), DMP_IO);
    /* repaired bytes: the .idx is rebuilt and the log opens */
    b.data[off3 + EVLOG_HDR + 10] ^= 0x04;
    write_file(sp, b.data, b.len);
    elog = t_open(dir, &c);
    col = t_read_all(elog, 1);
    assert_int_equal(col->n, 40);
    dmp_free(col);
    dmp_evlog_close(elog);
    dmp_free(ip);
    dmp_free(sp);
    dmp_free(b.data);
    t_rmrf(dir);
}

static void test_checkpoint_rules(void **state)
{
    char *dir = t_mkdtemp();
    blob_t seg, ck;
    size_t off4;
    build_crashed(dir, &seg, &ck, &off4);
    dmp_evlog_conf_t c = t_conf();
    /* the log cut cleanly at a record boundary below the synced point: refused */
    size_t off3 = off4 - (EVLOG_HDR + strlen("third record"));
    put_log(dir, &ck, seg.data, off3);
    dmp_evlog_t *elog = NULL;
    dmp_error_t err = {0};
    assert_int_equal(dmp_evlog_open(dir, &c, &elog, &err), DMP_IO);
    assert_non_null(strstr(err.msg, "ends at seq 2"));
    assert_non_null(strstr(err.msg, "seq 3 was acknowledged"));
    /* a torn newest checkpoint slot falls back to the older one */
    put_log(dir, &ck, seg.data, seg.len);
    elog = t_open(dir, &c); /* synced 3; close writes synced 6 into the other slot */
    dmp_evlog_close(elog);
    char *cp = dmp_asprintf("%s/checkpoint", dir);
    blob_t ck2 = slurp(cp);
    int newest = evlog_get64((uint8_t *)ck2.data + 8) == 6 ? 0 : 1;
    assert_int_equal(evlog_get64((uint8_t *)ck2.data + newest * EVLOG_CK_SLOT + 8), 6);
    ck2.data[newest * EVLOG_CK_SLOT + 20] ^= 0x01;
    write_file(cp, ck2.data, ck2.len);
    elog = t_open(dir, &c);
    dmp_evlog_stats_t st;
    dmp_evlog_stats(elog, &st);
    assert_int_equal(st.synced_seq, 3);
    assert_int_equal(st.next_seq, 7);
    dmp_evlog_close(elog);
    /* segment files gone but the checkpoint remembers acknowledged records: refused */
    char *sp = seg_file(dir, 1);
    unlink(sp);
    assert_int_equal(dmp_evlog_open(dir, &c, &elog, &err), DMP_IO);
    assert_non_null(strstr(err.msg, "no segment files"));
    dmp_free(sp);
    dmp_free(cp);
    dmp_free(ck2.data);
    dmp_free(seg.data);
    dmp_free(ck.data);
    t_rmrf(dir);
}

/* ---- concurrency: readers and retention while appending */

typedef struct rd {
    dmp_evlog_t *elog;
    volatile int *stop;
    int errors;
    uint64_t reads;
} rd_t;

typedef struct rdc {
    uint64_t expect;
    int bad;
} rdc_t;

static int rd_cb(void *ud, const dmp_evlog_entry_t *e)
{
    rdc_t *c = ud;
    if (c->expect && e->seq != c->expect)
        c->bad = 1;
    c->expect = e->seq + 1;
    return 0;
}

static void *reader_main(void *arg)
{
    rd_t *r = arg;
    uint64_t from = 1;
    while (!__atomic_load_n(r->stop, __ATOMIC_ACQUIRE)) {
        rdc_t c = {0};
        dmp_evlog_read_info_t info;
        dmp_error_t err = {0};
        if (dmp_evlog_read(r->elog, from, 50, 0, rd_cb, &c, &info, &err) != DMP_OK || c.bad)
            r->errors++;
        if (info.count && c.expect != info.next_seq)
            r->errors++;
        from = info.next_seq;
        r->reads++;
        if (info.count == 0)
            dmp_evlog_wait(r->elog, from - 1, 20, NULL);
    }
    return NULL;
}

static void *waiter_main(void *arg)
{
    dmp_evlog_t *elog = arg;
    return (void *)(intptr_t)dmp_evlog_wait(elog, 1u << 30, -1, NULL);
}

static void test_readers_during_appends(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    c.segment_bytes = 8192;
    c.retention_bytes = 4 * 8192;
    dmp_evlog_t *elog = t_open(dir, &c);
    volatile int stop = 0;
    pthread_t rth[3], wth[3];
    rd_t rd[3];
    for (int i = 0; i < 3; i++) {
        rd[i] = (rd_t){elog, &stop, 0, 0};
        pthread_create(&rth[i], NULL, reader_main, &rd[i]);
    }
    thr_t t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = (thr_t){elog, i, 300, 2, dmp_calloc(300, sizeof(uint64_t)), 0};
        pthread_create(&wth[i], NULL, thr_main, &t[i]);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(wth[i], NULL);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 3; i++) {
        pthread_join(rth[i], NULL);
        assert_int_equal(rd[i].errors, 0);
        assert_int_equal(t[i].fails, 0);
        assert_true(rd[i].reads > 0);
        dmp_free(t[i].seqs);
    }
    dmp_evlog_stats_t st;
    dmp_evlog_stats(elog, &st);
    assert_true(st.segments_deleted > 0);
    assert_int_equal(st.next_seq, 901);
    /* close wakes a subscriber blocked without a timeout */
    pthread_t w;
    pthread_create(&w, NULL, waiter_main, elog);
    usleep(30 * 1000);
    dmp_evlog_close(elog);
    void *ret;
    pthread_join(w, &ret);
    assert_int_equal((int)(intptr_t)ret, DMP_UNAVAILABLE);
    t_rmrf(dir);
}

static int slow_fail_sync(int fd)
{
    usleep(2000);
    errno = EIO;
    return -1;
}

static void test_fsync_failure_concurrent(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    dmp_evlog_t *elog = t_open(dir, &c);
    t_append(elog, "before", 0);
    dmp_evlog__fdatasync_hook = slow_fail_sync;
    pthread_t th[6];
    thr_t t[6];
    for (int i = 0; i < 6; i++) {
        t[i] = (thr_t){elog, i, 10, 1, dmp_calloc(10, sizeof(uint64_t)), 0};
        pthread_create(&th[i], NULL, thr_main, &t[i]);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].fails, 10); /* nothing acknowledged after the failure */
        dmp_free(t[i].seqs);
    }
    dmp_evlog__fdatasync_hook = fdatasync;
    dmp_evlog_stats_t st;
    dmp_evlog_stats(elog, &st);
    assert_int_equal(st.read_only, 1);
    assert_int_equal(st.syncs, 2); /* one good sync, one failed, never retried */
    assert_int_equal(st.next_seq, 2);
    dmp_evlog_close(elog);
    t_rmrf(dir);
}

/* ---- simulated power loss: what was not synced may be partly there, zeros or garbage */

#define PL_FILES 4
static struct {
    char path[PL_FILES][512];
    blob_t durable[PL_FILES];
    int n;
    int crash; /* 1: the next segment sync fails without reaching the disk */
} pl;

static int pl_sync(int fd)
{
    char link[64], path[512];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof(path) - 1);
    if (n <= 0)
        return fdatasync(fd);
    path[n] = 0;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        return fdatasync(fd);
    if (pl.crash && strstr(path, ".log")) {
        errno = EIO;
        return -1;
    }
    int i = 0;
    while (i < pl.n && strcmp(pl.path[i], path) != 0)
        i++;
    if (i == pl.n) {
        assert_true(pl.n < PL_FILES);
        snprintf(pl.path[pl.n++], sizeof(pl.path[0]), "%s", path);
    }
    dmp_free(pl.durable[i].data);
    pl.durable[i] = slurp(path);
    return fdatasync(fd);
}

static void test_power_loss(void **state)
{
    unsigned seed = 12345;
    for (int round = 0; round < 40; round++) {
        char *dir = t_mkdtemp();
        dmp_evlog_conf_t c = t_conf();
        c.checkpoint_interval_ms = round % 2 ? 0 : 3600 * 1000;
        memset(&pl, 0, sizeof(pl));
        dmp_evlog__fdatasync_hook = pl_sync;
        dmp_evlog_t *elog = t_open(dir, &c);
        uint64_t acked = 0;
        int batches = 1 + (int)(rand_r(&seed) % 6);
        for (int b = 0; b < batches; b++) {
            dmp_evlog_rec_t r[5];
            char p[5][40];
            int k = 1 + (int)(rand_r(&seed) % 5);
            for (int j = 0; j < k; j++) {
                snprintf(p[j], sizeof(p[j]), "r%d-b%d-%d", round, b, j);
                r[j] = (dmp_evlog_rec_t){p[j], strlen(p[j]), 0, 0, 0};
            }
            dmp_error_t err = {0};
            uint64_t first;
            assert_int_equal(dmp_evlog_append(elog, r, (size_t)k, &first, NULL, &err), DMP_OK);
            acked = first + (uint64_t)k - 1;
        }
        /* the last batch is in flight when the power goes */
        pl.crash = 1;
        dmp_evlog_rec_t r = {"in flight, never acknowledged", 29, 0, 0, 0};
        dmp_error_t err = {0};
        assert_int_not_equal(dmp_evlog_append(elog, &r, 1, NULL, NULL, &err), DMP_OK);
        dmp_evlog__abandon(elog);
        dmp_evlog__fdatasync_hook = fdatasync;
        /* rebuild each file as the disk would have it: the synced image, plus part of what
         * came after it, then nothing, zeros or garbage */
        for (int i = 0; i < pl.n; i++) {
            blob_t now = slurp(pl.path[i]);
            blob_t *d = &pl.durable[i];
            size_t extra = now.len > d->len ? now.len - d->len : 0;
            size_t keep = extra ? rand_r(&seed) % (extra + 1) : 0;
            size_t junk = rand_r(&seed) % 3 ? rand_r(&seed) % 300 : 0;
            int zeros = rand_r(&seed) % 2;
            size_t n = d->len + keep + junk;
            char *img = dmp_calloc(1, n + 1);
            memcpy(img, d->data, d->len);
            if (keep)
                memcpy(img + d->len, now.data + d->len, keep);
            for (size_t j = 0; j < junk && !zeros; j++)
                img[d->len + keep + j] = (char)rand_r(&seed);
            write_file(pl.path[i], img, n);
            dmp_free(img);
            dmp_free(now.data);
            dmp_free(d->data);
        }
        elog = t_open(dir, &c);
        assert_true(dmp_evlog_next_seq(elog) >= acked + 1);
        assert_true(dmp_evlog_next_seq(elog) <= acked + 2);
        collect_t *col = t_read_all(elog, 1);
        assert_true(col->n >= acked);
        for (uint64_t s = 0; s < acked; s++)
            assert_int_equal(col->seqs[s], s + 1);
        dmp_free(col);
        /* and the log takes appends again */
        assert_int_equal(t_append(elog, "after power loss", 0), dmp_evlog_next_seq(elog));
        dmp_evlog_close(elog);
        t_rmrf(dir);
    }
}

/* ---- acknowledged vs unacknowledged at recovery: idle checkpoints, synced-before */

/* Captures what the log writes to stderr between begin and end (recovery messages). */
static struct {
    int saved;
    char path[64];
} cap;

static void t_capture_begin(void)
{
    snprintf(cap.path, sizeof(cap.path), "/tmp/evlog-test-stderr-%d", (int)getpid());
    fflush(stderr);
    cap.saved = dup(2);
    int fd = open(cap.path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);
    dmp_log_set_level(DMP_LOG_WARN);
}

static char *t_capture_end(void)
{
    dmp_log_set_level(DMP_LOG_ERROR + 1);
    fflush(stderr);
    dup2(cap.saved, 2);
    close(cap.saved);
    blob_t b = slurp(cap.path);
    unlink(cap.path);
    return b.data;
}

static void t_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Offset of record 'k' (1-based) in a segment image holding records from seq 1. */
static size_t t_rec_off(const blob_t *seg, int k)
{
    size_t o = 0;
    for (int i = 1; i < k; i++) {
        assert_true(o + 8 <= seg->len);
        uint32_t magic = evlog_get32((uint8_t *)seg->data + o);
        o += evlog_hdr_size(magic) + evlog_get32((uint8_t *)seg->data + o + 4);
    }
    return o;
}

/* The reviewer's scenario: 10 appends acknowledged, the log idle past the checkpoint
 * interval, the process killed with SIGKILL, a bit flipped in record 6 of the last segment.
 * Reopening must refuse (offsets 6-10 were acknowledged), naming segment and offset; it
 * must refuse even when the checkpoint did not catch up (the records carry the proof). */
static void test_idle_ack_then_flip(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c;
    dmp_evlog_conf_init(&c);
    c.checkpoint_interval_ms = 200;
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        dmp_evlog_t *elog = NULL;
        if (dmp_evlog_open(dir, &c, &elog, NULL) != DMP_OK)
            _exit(2);
        for (int i = 1; i <= 10; i++) {
            char p[32];
            snprintf(p, sizeof(p), "{\"n\":%d}", i);
            dmp_evlog_rec_t r = {p, strlen(p), 0, (uint64_t)i, 0};
            if (dmp_evlog_append(elog, &r, 1, NULL, NULL, NULL) != DMP_OK)
                _exit(3);
        }
        char ok = 'a';
        if (write(pfd[1], &ok, 1) != 1)
            _exit(4);
        for (;;)
            pause(); /* idle until killed */
    }
    close(pfd[1]);
    char got = 0;
    assert_int_equal(read(pfd[0], &got, 1), 1);
    close(pfd[0]);
    t_sleep_ms(3 * 200 + 300); /* idle: three checkpoint intervals and some */
    kill(pid, SIGKILL);
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFSIGNALED(wst));

    /* (a) the idle log's checkpoint had caught up with the durable end */
    dmp_evlog_t *elog = t_open(dir, &c);
    dmp_evlog_stats_t st;
    dmp_evlog_stats(elog, &st);
    assert_int_equal(st.next_seq, 11);
    assert_int_equal(st.synced_seq, 10);
    dmp_evlog__abandon(elog);

    char *sp = seg_file(dir, 1);
    char *cp = dmp_asprintf("%s/checkpoint", dir);
    blob_t seg = slurp(sp), ck = slurp(cp);
    size_t off6 = t_rec_off(&seg, 6), off7 = t_rec_off(&seg, 7);
    for (int round = 0; round < 2; round++) {
        /* round 0: with the checkpoint; round 1: without it (as if it had lagged) */
        for (size_t pos = off6; pos < off7; pos += 2) {
            seg.data[pos] ^= 0x04;
            write_file(sp, seg.data, seg.len);
            if (round == 0)
                write_file(cp, ck.data, ck.len);
            else
                unlink(cp);
            dmp_error_t err = {0};
            elog = NULL;
            t_capture_begin();
            int rc = dmp_evlog_open(dir, &c, &elog, &err);
            char *log = t_capture_end();
            assert_int_equal(rc, DMP_IO);
            assert_null(elog);
            char want[64];
            snprintf(want, sizeof(want), "offset %zu", off6);
            if (!strstr(err.msg, want))
                fail_msg("round %d pos %zu: %s", round, pos - off6, err.msg);
            assert_non_null(strstr(err.msg, "seg-00000000000000000001.log"));
            assert_non_null(strstr(err.msg, "below the synced point"));
            assert_null(strstr(log, "cutting"));
            dmp_free(log);
            seg.data[pos] ^= 0x04;
        }
    }
    /* nothing was cut: the repaired log opens with all ten */
    write_file(sp, seg.data, seg.len);
    elog = t_open(dir, &c);
    assert_int_equal(dmp_evlog_next_seq(elog), 11);
    dmp_evlog_close(elog);
    dmp_free(seg.data);
    dmp_free(ck.data);
    dmp_free(sp);
    dmp_free(cp);
    t_rmrf(dir);
}

/* The housekeeper writes the deferred checkpoint of an idle log, and keeps out of the way
 * of appenders and of close. */
static void test_idle_checkpoint(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    c.checkpoint_interval_ms = 100;
    dmp_evlog_t *elog = t_open(dir, &c);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5; i++)
            t_append(elog, "idle soon", 0);
        uint64_t durable = dmp_evlog_next_seq(elog) - 1;
        dmp_evlog_stats_t st;
        for (int w = 0; w < 100; w++) { /* at most 2 s */
            dmp_evlog_stats(elog, &st);
            if (st.synced_seq == durable)
                break;
            t_sleep_ms(20);
        }
        assert_int_equal(st.synced_seq, durable);
    }
    dmp_evlog_close(elog);
    /* a log closed while its checkpoint is deferred: close writes it, nothing dangles */
    c.checkpoint_interval_ms = 3600 * 1000;
    for (int i = 0; i < 20; i++) {
        elog = t_open(dir, &c);
        t_append(elog, "then closed", 0);
        t_append(elog, "then closed", 0);
        if (i % 2)
            dmp_evlog_close(elog);
        else
            dmp_evlog__abandon(elog);
    }
    elog = t_open(dir, &c);
    assert_int_equal(dmp_evlog_next_seq(elog), 15 + 40 + 1);
    dmp_evlog_close(elog);
    t_rmrf(dir);
}

/* A group that may not have been synced: damage in it, with only records of the same group
 * after the damage, is a torn tail and is cut; the message says what is known. */
static void test_torn_unsynced_group(void **state)
{
    char *dir = t_mkdtemp();
    dmp_evlog_conf_t c = t_conf();
    dmp_evlog_t *elog = t_open(dir, &c);
    t_append(elog, "one", 0);
    t_append(elog, "two", 0);
    dmp_evlog_rec_t g[4];
    const char *pl[4] = {"group three", "group four", "group five", "group six"};
    for (int i = 0; i < 4; i++)
        g[i] = (dmp_evlog_rec_t){pl[i], strlen(pl[i]), 0, 0, 0};
    dmp_error_t err = {0};
    assert_int_equal(dmp_evlog_append(elog, g, 4, NULL, NULL, &err), DMP_OK);
    dmp_evlog__abandon(elog); /* the checkpoint still says 0 */
    char *sp = seg_file(dir, 1);
    char *cp = dmp_asprintf("%s/checkpoint", dir);
    blob_t seg = slurp(sp), ck = slurp(cp);
    size_t off3 = t_rec_off(&seg, 3), off4 = t_rec_off(&seg, 4), off6 = t_rec_off(&seg, 6);

    /* a flip in record 4: records 5 and 6 follow but were written in the same group, before
     * any sync of it, so nothing shows record 4 was acknowledged: cut at record 4 */
    seg.data[off4 + 20] ^= 0x01;
    write_file(sp, seg.data, seg.len);
    t_capture_begin();
    elog = t_open(dir, &c);
    char *log = t_capture_end();
    assert_int_equal(dmp_evlog_next_seq(elog), 4);
    dmp_evlog_stats_t st;
    dmp_evlog_stats(elog, &st);
    assert_int_equal(st.recovered_truncated, seg.len - off4);
    assert_non_null(strstr(log, "after the last synced record (seq 2"));
    assert_null(strstr(log, "unacknowledged"));
    dmp_free(log);
    dmp_evlog__abandon(elog);
    seg.data[off4 + 20] ^= 0x01;

    /* the file ends inside record 6: that write never completed a sync, so the cut bytes
     * are known to be unacknowledged */
    write_file(sp, seg.data, off6 + 10);
    t_capture_begin();
    elog = t_open(dir, &c);
    log = t_capture_end();
    assert_int_equal(dmp_evlog_next_seq(elog), 6);
    assert_non_null(strstr(log, "cutting 10 bytes of unacknowledged data"));
    dmp_free(log);
    dmp_evlog__abandon(elog);

    /* a flip in record 2: the group's records say seq 2 was synced before they were
     * written: refused */
    write_file(cp, ck.data, ck.len);
    size_t off2 = t_rec_off(&seg, 2);
    seg.data[off2 + 9] ^= 0x80;
    write_file(sp, seg.data, seg.len);
    elog = NULL;
    assert_int_equal(dmp_evlog_open(dir, &c, &elog, &err), DMP_IO);
    char want[64];
    snprintf(want, sizeof(want), "offset %zu", off2);
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, "as shown by record seq 3"));
    seg.data[off2 + 9] ^= 0x80;
    /* a bad record 3 whose length field is damaged too: the proof is still found by the
     * record magic (record 4 onwards say seq 2, not 3, so it is cut) */
    evlog_put32((uint8_t *)seg.data + off3 + 4, 0x00ffffffu);
    write_file(sp, seg.data, seg.len);
    t_capture_begin();
    elog = t_open(dir, &c);
    log = t_capture_end();
    assert_int_equal(dmp_evlog_next_seq(elog), 3);
    /* it looks cut short by the end of the file, but valid records follow: not known
     * (record 2 shows seq 1 synced; nothing shows seq 2 was) */
    assert_non_null(strstr(log, "after the last synced record (seq 1;"));
    assert_null(strstr(log, "unacknowledged"));
    dmp_free(log);
    dmp_evlog__abandon(elog);
    /* the same damage to record 2's length: the proof behind it is found by the magic */
    evlog_put32((uint8_t *)seg.data + off3 + 4, (uint32_t)strlen("group three"));
    evlog_put32((uint8_t *)seg.data + off2 + 4, 0x00ffffffu);
    write_file(sp, seg.data, seg.len);
    elog = NULL;
    assert_int_equal(dmp_evlog_open(dir, &c, &elog, &err), DMP_IO);
    assert_non_null(strstr(err.msg, "as shown by record seq 3"));
    dmp_free(seg.data);
    dmp_free(ck.data);
    dmp_free(sp);
    dmp_free(cp);
    t_rmrf(dir);
}

/* A log written by an older build (version-1 records) opens, reads and takes appends; the
 * new records after it carry the proof that the old ones were synced. */
static void test_v1_records(void **state)
{
    char *dir = t_mkdtemp();
    assert_int_equal(mkdir(dir, 0755), 0);
    uint8_t img[4096];
    size_t n = 0;
    for (int i = 1; i <= 3; i++) {
        char p[16];
        snprintf(p, sizeof(p), "old %d", i);
        evlog_hdr_t h = {(uint32_t)strlen(p), (uint64_t)i, 1000 + i, 0, 0, 0, 0, 0};
        n += t_encode_v1(img + n, &h, p);
    }
    char *sp = seg_file(dir, 1);
    write_file(sp, img, n);
    dmp_evlog_conf_t c = t_conf();
    dmp_evlog_t *elog = t_open(dir, &c);
    assert_int_equal(dmp_evlog_next_seq(elog), 4);
    assert_int_equal(t_append(elog, "new 4", 0), 4);
    assert_int_equal(t_append(elog, "new 5", 0), 5);
    collect_t *col = t_read_all(elog, 1);
    assert_int_equal(col->n, 5);
    assert_string_equal(col->payload[0], "old 1");
    assert_string_equal(col->payload[3], "new 4");
    dmp_free(col);
    dmp_evlog__abandon(elog);
    blob_t seg = slurp(sp);
    assert_memory_equal(seg.data + n, "DME2", 4);
    /* damage in old record 2, no checkpoint: record 4 was written after seq 3 was synced */
    char *cp = dmp_asprintf("%s/checkpoint", dir);
    unlink(cp);
    seg.data[EVLOG_HDR_V1 + 5 + EVLOG_HDR_V1 + 2] ^= 0x01;
    write_file(sp, seg.data, seg.len);
    dmp_error_t err = {0};
    elog = NULL;
    assert_int_equal(dmp_evlog_open(dir, &c, &elog, &err), DMP_IO);
    assert_non_null(strstr(err.msg, "as shown by record seq 4"));
    dmp_free(seg.data);
    dmp_free(cp);
    dmp_free(sp);
    t_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test(test_record_roundtrip),
        cmocka_unit_test(test_append_read_reopen),
        cmocka_unit_test(test_bad_conf),
        cmocka_unit_test(test_truncated_tail_every_byte),
        cmocka_unit_test(test_flipped_bits),
        cmocka_unit_test(test_zeroed_tail),
        cmocka_unit_test(test_prealloc_zero_tail),
        cmocka_unit_test(test_prealloc_sealed_and_refusals),
        cmocka_unit_test(test_roll_and_read_across),
        cmocka_unit_test(test_group_commit_threads),
        cmocka_unit_test(test_batch_one_sync),
        cmocka_unit_test(test_dedup),
        cmocka_unit_test(test_dedup_map_churn),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_seek_time),
        cmocka_unit_test(test_wait),
        cmocka_unit_test(test_fsync_failure_read_only),
        cmocka_unit_test(test_enospc),
        cmocka_unit_test(test_destroy),
        cmocka_unit_test(test_gap_refused),
        cmocka_unit_test(test_sealed_damage),
        cmocka_unit_test(test_checkpoint_rules),
        cmocka_unit_test(test_readers_during_appends),
        cmocka_unit_test(test_fsync_failure_concurrent),
        cmocka_unit_test(test_power_loss),
        cmocka_unit_test(test_idle_ack_then_flip),
        cmocka_unit_test(test_idle_checkpoint),
        cmocka_unit_test(test_torn_unsynced_group),
        cmocka_unit_test(test_v1_records),
    };
    dmp_log_set_level(DMP_LOG_ERROR + 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
