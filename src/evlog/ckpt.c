/* ckpt.c -- the checkpoint housekeeper: deferred synced-point checkpoints for idle logs.
 *
 * The leader writes the checkpoint at most once per checkpoint_interval_ms. When it skips
 * one, it defers it here: the housekeeper (one thread per process, not per log) writes it
 * when the interval is up, unless a later group wrote it first. So a log that goes idle has
 * its checkpoint equal to its durable end within about one interval.
 *
 * To write, the housekeeper takes the writer role (elog->writing) exactly like a leader, so
 * it never runs beside one: appenders that arrive meanwhile queue and one of them leads
 * once the role is free. It skips a log that is closing, read-only or being written (that
 * leader re-defers at the end of its group if needed).
 *
 * Locks: hk_mu guards the list and the hk_* fields of every log; the order is hk_mu, then
 * elog->mu. Close and abandon first wait for the writer role to be free with closing set
 * (so the housekeeper will not take it again), then take the log off the list under hk_mu.
 * The thread exits when the list is empty and is started again by the next deferral.
 * After fork, the child starts with an empty list and no thread (pthread_atfork).
 */
#include "evlog_int.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t hk_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hk_cond;
static pthread_once_t hk_once = PTHREAD_ONCE_INIT;
static dmp_evlog_t *hk_head; /* logs with a deferred checkpoint */
static int hk_running;       /* a housekeeper thread exists */
static unsigned hk_gen = 1;  /* bumped in a forked child: older hk_queued flags are stale */

static void hk_cond_init(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&hk_cond, &ca);
    pthread_condattr_destroy(&ca);
}

static void hk_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    hk_mu = fresh;
    hk_cond_init();
    hk_head = NULL;
    hk_running = 0;
    hk_gen++;
}

static void hk_init(void)
{
    hk_cond_init();
    pthread_atfork(NULL, NULL, hk_atfork_child);
}

static int queued(const dmp_evlog_t *elog)
{
    return elog->hk_queued && elog->hk_gen == hk_gen;
}

/* Removes 'elog' from the list (hk_mu held; it is queued). */
static void unlink_locked(dmp_evlog_t *elog)
{
    for (dmp_evlog_t **pp = &hk_head; *pp; pp = &(*pp)->hk_next) {
        if (*pp == elog) {
            *pp = elog->hk_next;
            break;
        }
    }
    elog->hk_next = NULL;
    elog->hk_queued = 0;
}

static void push_locked(dmp_evlog_t *elog, int64_t due_ms)
{
    elog->hk_due_ms = due_ms;
    elog->hk_gen = hk_gen;
    elog->hk_queued = 1;
    elog->hk_next = hk_head;
    hk_head = elog;
}

/* Writes the checkpoint of 'elog' if it is due, holding the writer role, or queues it again
 * for when it is. Called with hk_mu held and 'elog' off the list; returns with hk_mu held. */
static void hk_run_one(dmp_evlog_t *elog)
{
    pthread_mutex_lock(&elog->mu);
    if (elog->closing || elog->failed || elog->writing) {
        /* closing: close writes it; failed: nothing more is durable; writing: that leader
         * writes it or defers again when its group ends */
        pthread_mutex_unlock(&elog->mu);
        return;
    }
    elog->writing = 1;
    pthread_mutex_unlock(&elog->mu);
    /* The role keeps close from freeing 'elog' (it waits for writing == 0), so hk_mu can go
     * while the checkpoint's fdatasync runs. */
    pthread_mutex_unlock(&hk_mu);

    int64_t again = 0, now = dmp_now_ms();
    if (elog->w_next_seq - 1 > elog->ck_seq) {
        if (now - elog->ck_last_ms < elog->conf.checkpoint_interval_ms) {
            again = elog->ck_last_ms + elog->conf.checkpoint_interval_ms;
        } else {
            dmp_error_t e = {0};
            if (dmp_evlog__ck_write(elog, &e) != DMP_OK)
                dmp_logf(DMP_LOG_ERROR, "evlog: deferred checkpoint: %s", e.msg);
        }
    }

    pthread_mutex_lock(&hk_mu);
    pthread_mutex_lock(&elog->mu);
    elog->writing = 0;
    if (again && !elog->closing && !elog->failed && !queued(elog))
        push_locked(elog, again);
    pthread_cond_broadcast(&elog->cond_done);
    pthread_cond_broadcast(&elog->cond_idle);
    pthread_mutex_unlock(&elog->mu);
}

static void *hk_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&hk_mu);
    while (hk_head) {
        int64_t now = dmp_now_ms();
        dmp_evlog_t *due = NULL;
        int64_t next = INT64_MAX;
        for (dmp_evlog_t *l = hk_head; l; l = l->hk_next) {
            if (l->hk_due_ms <= now) {
                due = l;
                break;
            }
            if (l->hk_due_ms < next)
                next = l->hk_due_ms;
        }
        if (due) {
            unlink_locked(due);
            hk_run_one(due);
            continue;
        }
        /* Sleep until the earliest due time on the monotonic clock (the wall clock may
         * jump); a deferral or an undefer wakes us early. */
        int64_t wait_ms = next - now;
        if (wait_ms > 60000)
            wait_ms = 60000;
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_sec += (time_t)(wait_ms / 1000);
        dl.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&hk_cond, &hk_mu, &dl);
    }
    hk_running = 0;
    pthread_mutex_unlock(&hk_mu);
    return NULL;
}

void dmp_evlog__ck_defer(dmp_evlog_t *elog, int64_t due_ms)
{
    pthread_once(&hk_once, hk_init);
    pthread_mutex_lock(&hk_mu);
    if (queued(elog)) {
        if (due_ms < elog->hk_due_ms) {
            elog->hk_due_ms = due_ms;
            pthread_cond_signal(&hk_cond);
        }
        pthread_mutex_unlock(&hk_mu);
        return;
    }
    push_locked(elog, due_ms);
    if (hk_running) {
        pthread_cond_signal(&hk_cond);
        pthread_mutex_unlock(&hk_mu);
        return;
    }
    pthread_attr_t a;
    pthread_t t;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &a, hk_main, NULL);
    pthread_attr_destroy(&a);
    if (rc != 0) {
        /* The checkpoint then waits for the next group or close; the records carry their
         * own synced-before evidence, so recovery stays safe. */
        unlink_locked(elog);
        dmp_logf(DMP_LOG_WARN, "evlog: cannot start the checkpoint housekeeper: %s", strerror(rc));
    } else {
        hk_running = 1;
    }
    pthread_mutex_unlock(&hk_mu);
}

void dmp_evlog__ck_undefer(dmp_evlog_t *elog)
{
    pthread_once(&hk_once, hk_init);
    pthread_mutex_lock(&hk_mu);
    if (queued(elog)) {
        unlink_locked(elog);
        pthread_cond_signal(&hk_cond);
    }
    pthread_mutex_unlock(&hk_mu);
}
