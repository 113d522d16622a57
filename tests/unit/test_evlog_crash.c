/* test_evlog_crash.c -- crash test for the event log: a child process appends from several
 * threads (with retries of recent events, as an at-least-once producer would) and is killed
 * with SIGKILL at a random moment, many times. After each kill the parent reopens the log
 * (running recovery) and checks that every seq the child reported as acknowledged (through
 * a pipe) is present with the right key, that seqs have no holes and that no de-dup key
 * appears twice.
 *
 * CI mode runs 6 kills; DMP_LONG_TESTS=1 runs 60.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "evlog/evlog_int.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { NTHREADS = 4, RESEND = 12 };

typedef struct ack {
    uint64_t seq;
    uint64_t key;
} ack_t;

static char *g_dir;
static int g_pipe_w = -1;
static uint64_t g_next_id[NTHREADS]; /* inherited by the child at fork */

static dmp_evlog_conf_t crash_conf(void)
{
    dmp_evlog_conf_t c;
    dmp_evlog_conf_init(&c);
    c.segment_bytes = 32 * 1024; /* rolls often */
    c.index_interval_bytes = 512;
    c.checkpoint_interval_ms = 5; /* the synced point moves during the run */
    c.dedup_window_count = 1000000;
    return c;
}

static uint64_t key_of(int tid, uint64_t id)
{
    char s[64];
    snprintf(s, sizeof(s), "%d-%" PRIu64, tid, id);
    return dmp_evlog_dedup_key("urn:crash", s);
}

typedef struct child_thr {
    dmp_evlog_t *elog;
    int tid;
} child_thr_t;

static void *child_thread(void *arg)
{
    child_thr_t *ct = arg;
    /* Resend the last few events of the previous run first: some were durable but never
     * acknowledged, some were acknowledged; none may appear twice. */
    uint64_t id = g_next_id[ct->tid] > RESEND ? g_next_id[ct->tid] - RESEND : 1;
    unsigned seed = (unsigned)(getpid() * 31 + ct->tid);
    for (;;) {
        int batch = 1 + (int)(rand_r(&seed) % 4);
        char p[4][128];
        dmp_evlog_rec_t r[4];
        dmp_evlog_result_t res[4];
        for (int j = 0; j < batch; j++) {
            snprintf(p[j], sizeof(p[j]), "t%d-%" PRIu64 "-payload-%0*d", ct->tid, id + j,
                     (int)(rand_r(&seed) % 80), 0);
            r[j] = (dmp_evlog_rec_t){p[j], strlen(p[j]), 0, key_of(ct->tid, id + (uint64_t)j),
                                     (uint32_t)ct->tid};
        }
        dmp_error_t err = {0};
        if (dmp_evlog_append(ct->elog, r, (size_t)batch, NULL, res, &err) != DMP_OK) {
            fprintf(stderr, "child append failed: %s\n", err.msg);
            _exit(4);
        }
        ack_t a[4];
        for (int j = 0; j < batch; j++)
            a[j] = (ack_t){res[j].seq, r[j].dedup_key};
        if (write(g_pipe_w, a, sizeof(a[0]) * (size_t)batch) < 0)
            _exit(5);
        id += (uint64_t)batch;
    }
    return NULL;
}

static void child_main(void)
{
    dmp_evlog_conf_t c = crash_conf();
    dmp_evlog_t *elog = NULL;
    dmp_error_t err = {0};
    if (dmp_evlog_open(g_dir, &c, &elog, &err) != DMP_OK) {
        fprintf(stderr, "child open failed: %s\n", err.msg);
        _exit(3);
    }
    pthread_t th[NTHREADS];
    child_thr_t ct[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        ct[i] = (child_thr_t){elog, i};
        pthread_create(&th[i], NULL, child_thread, &ct[i]);
    }
    for (;;)
        pause();
}

typedef struct verify {
    uint64_t n, expect;
    uint64_t *keys; /* by seq */
    size_t cap;
    uint64_t max_id[NTHREADS];
    int bad;
} verify_t;

static int verify_cb(void *ud, const dmp_evlog_entry_t *e)
{
    verify_t *v = ud;
    if (e->seq != v->expect)
        v->bad = 1;
    v->expect = e->seq + 1;
    if (e->seq >= v->cap) {
        size_t ncap = (size_t)e->seq * 2 + 1024;
        v->keys = dmp_realloc(v->keys, ncap * sizeof(*v->keys));
        memset(v->keys + v->cap, 0, (ncap - v->cap) * sizeof(*v->keys));
        v->cap = ncap;
    }
    v->keys[e->seq] = e->dedup_key;
    v->n++;
    char buf[48];
    int tid;
    uint64_t id;
    snprintf(buf, sizeof(buf), "%.*s", (int)(e->len < 47 ? e->len : 47), (const char *)e->payload);
    if (sscanf(buf, "t%d-%" SCNu64 "-", &tid, &id) != 2 || tid < 0 || tid >= NTHREADS ||
        e->dedup_key != key_of(tid, id))
        v->bad = 1;
    else if (id > v->max_id[tid])
        v->max_id[tid] = id;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void test_kill9_during_appends(void **state)
{
    const char *lt = getenv("DMP_LONG_TESTS");
    int rounds = lt && *lt == '1' ? 60 : 6;
    char tmpl[] = "/tmp/evlog-crash-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    g_dir = dmp_asprintf("%s/log", tmpl);
    ack_t *acks = NULL;
    size_t nacks = 0, capacks = 0;
    uint64_t total_acked_unique = 0;
    srand((unsigned)time(NULL));

    for (int round = 0; round < rounds; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            g_pipe_w = fds[1];
            child_main();
        }
        close(fds[1]);
        int64_t deadline = dmp_mono_ns() / 1000000 + 40 + rand() % 160;
        int killed = 0;
        for (;;) {
            int64_t now = dmp_mono_ns() / 1000000;
            if (!killed && now >= deadline) {
                kill(pid, SIGKILL);
                killed = 1;
            }
            struct pollfd pfd = {fds[0], POLLIN, 0};
            int pr = poll(&pfd, 1, killed ? 1000 : (int)(deadline - now));
            if (pr <= 0)
                continue;
            if (capacks - nacks < 512) {
                capacks = capacks ? capacks * 2 : 4096;
                acks = dmp_realloc(acks, capacks * sizeof(*acks));
            }
            ssize_t r = read(fds[0], acks + nacks, 512 * sizeof(*acks));
            if (r == 0)
                break;
            if (r < 0)
                continue;
            /* writes of whole acks are atomic (< PIPE_BUF) */
            assert_int_equal(r % (ssize_t)sizeof(ack_t), 0);
            nacks += (size_t)r / sizeof(ack_t);
        }
        close(fds[0]);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
            fail_msg("round %d: the child ended on its own (status %d) before the kill", round,
                     status);

        /* Reopen (recovery) and check every acknowledgement. */
        dmp_evlog_conf_t c = crash_conf();
        dmp_evlog_t *elog = NULL;
        dmp_error_t err = {0};
        if (dmp_evlog_open(g_dir, &c, &elog, &err) != DMP_OK)
            fail_msg("round %d: reopen failed: %s", round, err.msg);
        verify_t v = {.expect = 1};
        assert_int_equal(dmp_evlog_read(elog, 1, 0, 0, verify_cb, &v, NULL, &err), DMP_OK);
        assert_int_equal(v.bad, 0);
        assert_int_equal(v.expect, dmp_evlog_next_seq(elog));
        for (size_t i = 0; i < nacks; i++) {
            if (acks[i].seq >= v.expect || v.keys[acks[i].seq] != acks[i].key)
                fail_msg("round %d: acknowledged seq %" PRIu64 " is missing or wrong after "
                         "recovery (log ends at %" PRIu64 ")",
                         round, acks[i].seq, v.expect - 1);
        }
        /* no key twice */
        uint64_t *sorted = dmp_malloc((v.n + 1) * sizeof(*sorted));
        for (uint64_t s = 1; s < v.expect; s++)
            sorted[s - 1] = v.keys[s];
        qsort(sorted, v.n, sizeof(*sorted), cmp_u64);
        for (uint64_t i = 1; i < v.n; i++)
            if (sorted[i] == sorted[i - 1])
                fail_msg("round %d: dedup key %016" PRIx64 " appears twice", round, sorted[i]);
        dmp_free(sorted);
        /* next run: each thread resends the last RESEND ids it has in the log */
        for (int t = 0; t < NTHREADS; t++)
            g_next_id[t] = v.max_id[t] + 1;
        total_acked_unique = v.n;
        dmp_free(v.keys);
        dmp_evlog_close(elog);
    }
    print_message("crash test: %d kills, %zu acknowledgements checked, %" PRIu64
                  " records in the log\n",
                  rounds, nacks, total_acked_unique);
    assert_true(nacks > 0);
    dmp_free(acks);
    nftw(tmpl, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    dmp_free(g_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_during_appends),
    };
    dmp_log_set_level(DMP_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
