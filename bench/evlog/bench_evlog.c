/* bench_evlog.c -- throughput of durable appends to the event log.
 *
 * Usage: bench_evlog DIR MODE THREADS SECONDS [RECORD_BYTES] [BATCH]
 *   MODE evlog: THREADS appenders call dmp_evlog_append with BATCH records each time
 *               (group commit; every call returns only after fdatasync);
 *   MODE raw:   the peer baseline - THREADS writers each do write + fdatasync per call
 *               on one O_APPEND file, with no group commit.
 * Prints one line: mode, threads, batch, records/s, MB/s, syncs/s, records per sync,
 * and the p50/p99 latency of one call in microseconds.
 */
#include "dmp/evlog.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct worker {
    dmp_evlog_t *elog;
    int fd;
    int raw;
    int id;
    size_t rec_bytes, batch;
    int64_t stop_ns;
    uint64_t records, calls;
    uint64_t *lat;
    size_t nlat, caplat;
} worker_t;

static uint64_t g_raw_syncs;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static void *run(void *arg)
{
    worker_t *w = arg;
    char *payload = malloc(w->rec_bytes);
    /* something shaped like a CloudEvent */
    int n = snprintf(payload, w->rec_bytes,
                     "{\"specversion\":\"1.0\",\"type\":\"order.created\",\"source\":"
                     "\"urn:shop:orders\",\"id\":\"%d\",\"data\":{\"pad\":\"",
                     w->id);
    memset(payload + n, 'x', w->rec_bytes - (size_t)n);
    memcpy(payload + w->rec_bytes - 3, "\"}}", 3);
    dmp_evlog_rec_t *recs = calloc(w->batch, sizeof(*recs));
    char *rawbuf = malloc(w->rec_bytes * w->batch);
    uint64_t seqno = 0;
    while (dmp_mono_ns() < w->stop_ns) {
        int64_t t0 = dmp_mono_ns();
        if (w->raw) {
            for (size_t i = 0; i < w->batch; i++)
                memcpy(rawbuf + i * w->rec_bytes, payload, w->rec_bytes);
            if (write(w->fd, rawbuf, w->rec_bytes * w->batch) < 0 || fdatasync(w->fd) != 0) {
                perror("raw write");
                exit(1);
            }
            pthread_mutex_lock(&g_mu);
            g_raw_syncs++;
            pthread_mutex_unlock(&g_mu);
        } else {
            char ids[64];
            for (size_t i = 0; i < w->batch; i++) {
                snprintf(ids, sizeof(ids), "%d-%" PRIu64, w->id, seqno++);
                recs[i] = (dmp_evlog_rec_t){payload, w->rec_bytes, 0,
                                            dmp_evlog_dedup_key("urn:shop:orders", ids), 0};
            }
            dmp_error_t err = {0};
            if (dmp_evlog_append(w->elog, recs, w->batch, NULL, NULL, &err) != DMP_OK) {
                fprintf(stderr, "append: %s\n", err.msg);
                exit(1);
            }
        }
        if (w->nlat == w->caplat) {
            w->caplat = w->caplat ? w->caplat * 2 : 4096;
            w->lat = realloc(w->lat, w->caplat * sizeof(*w->lat));
        }
        w->lat[w->nlat++] = (uint64_t)(dmp_mono_ns() - t0) / 1000;
        w->records += w->batch;
        w->calls++;
    }
    free(payload);
    free(recs);
    free(rawbuf);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s DIR evlog|raw THREADS SECONDS [RECORD_BYTES] [BATCH]\n",
                argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    int raw = strcmp(argv[2], "raw") == 0;
    int threads = atoi(argv[3]);
    double secs = atof(argv[4]);
    size_t rec_bytes = argc > 5 ? (size_t)atol(argv[5]) : 400;
    size_t batch = argc > 6 ? (size_t)atol(argv[6]) : 1;
    if (threads < 1 || secs <= 0 || rec_bytes < 200 || batch < 1) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    dmp_log_set_level(DMP_LOG_WARN);
    dmp_evlog_t *elog = NULL;
    int fd = -1;
    dmp_error_t err = {0};
    if (raw) {
        char path[512];
        snprintf(path, sizeof(path), "%s/raw.log", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
        if (fd < 0) {
            perror(path);
            return 1;
        }
    } else {
        dmp_evlog_conf_t c;
        dmp_evlog_conf_init(&c);
        c.max_append_bytes = 1024ull * 1024 * 1024;
        if (dmp_evlog_open(dir, &c, &elog, &err) != DMP_OK) {
            fprintf(stderr, "open: %s\n", err.msg);
            return 1;
        }
    }
    worker_t *w = calloc((size_t)threads, sizeof(*w));
    pthread_t *th = calloc((size_t)threads, sizeof(*th));
    int64_t t0 = dmp_mono_ns();
    int64_t stop = t0 + (int64_t)(secs * 1e9);
    for (int i = 0; i < threads; i++) {
        w[i] = (worker_t){elog, fd, raw, i, rec_bytes, batch, stop, 0, 0, NULL, 0, 0};
        pthread_create(&th[i], NULL, run, &w[i]);
    }
    uint64_t records = 0, calls = 0, nlat = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        records += w[i].records;
        calls += w[i].calls;
        nlat += w[i].nlat;
    }
    double el = (double)(dmp_mono_ns() - t0) / 1e9;
    uint64_t *lat = malloc(nlat * sizeof(*lat)), k = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(lat + k, w[i].lat, w[i].nlat * sizeof(*lat));
        k += w[i].nlat;
        free(w[i].lat);
    }
    qsort(lat, nlat, sizeof(*lat), cmp_u64);
    uint64_t syncs;
    if (raw) {
        syncs = g_raw_syncs;
        close(fd);
    } else {
        dmp_evlog_stats_t st;
        dmp_evlog_stats(elog, &st);
        syncs = st.syncs;
        dmp_evlog_close(elog);
    }
    printf("%-5s threads=%-3d batch=%-5zu records/s=%-9.0f MB/s=%-7.1f syncs/s=%-7.0f "
           "records/sync=%-7.1f p50_us=%" PRIu64 " p99_us=%" PRIu64 "\n",
           raw ? "raw" : "evlog", threads, batch, records / el,
           records * (double)rec_bytes / el / 1e6, syncs / el,
           syncs ? (double)records / syncs : 0.0, nlat ? lat[nlat / 2] : 0,
           nlat ? lat[nlat * 99 / 100] : 0);
    (void)calls;
    free(lat);
    free(w);
    free(th);
    return 0;
}
