/* fanout.c -- fan-out benchmark: S Server-Sent-Events subscribers on one stream port while
 * a publisher appends R events/s as NDJSON batches every 10 ms over one keep-alive
 * connection. Every event carries its send time ("sent", microseconds of CLOCK_REALTIME);
 * each subscriber records delivery time - send time for every event it receives.
 * Prints the publish rate, the deliveries, p50/p99 publish-to-delivery and the p50/p99 of
 * the publisher's durable POST round trip (the part of the delay spent before the append
 * is acknowledged).
 *
 * usage: fanout PORT PATH SUBSCRIBERS RATE SECONDS
 *   PATH is the port's base path, e.g. /v1/products/bench/bench/ports/identity
 * Build: cc -O2 -pthread fanout.c -o fanout (raw sockets, no libraries). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int g_port;
static const char *g_path;
static volatile int g_stop;

typedef struct lat {
    double *v;
    size_t n, cap;
} lat_t;

static void lat_add(lat_t *l, double x)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->v = realloc(l->v, l->cap * sizeof(double));
        if (l->v == NULL) {
            perror("realloc");
            exit(1);
        }
    }
    l->v[l->n++] = x;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("connect");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {1, 0}; /* so subscribers notice g_stop */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            perror("write");
            exit(1);
        }
        p += w;
        n -= (size_t)w;
    }
}

typedef struct sub {
    pthread_t t;
    lat_t lat;
    int ready;
} sub_t;

/* Reads the SSE stream; scans each received chunk for "sent": values. A value split across
 * two reads is handled by keeping the unscanned tail. Chunked-encoding size lines never
 * contain "sent", so the raw stream can be scanned directly. */
static void *subscriber(void *arg)
{
    sub_t *s = arg;
    int fd = dial();
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET %s/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream"
                     "\r\n\r\n",
                     g_path);
    send_all(fd, req, (size_t)n);
    static const size_t cap = 1 << 20;
    char *buf = malloc(cap + 1);
    size_t have = 0;
    while (!g_stop) {
        ssize_t r = read(fd, buf + have, cap - have);
        if (r == 0)
            break;
        if (r < 0)
            continue; /* timeout: look at g_stop */
        int64_t t = now_us();
        have += (size_t)r;
        buf[have] = '\0';
        if (!s->ready && strstr(buf, "\r\n\r\n"))
            __atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
        char *p = buf, *keep = buf;
        for (;;) {
            char *q = strstr(p, "\"sent\":");
            if (q == NULL) {
                /* keep a tail that may hold the start of a split marker */
                keep = have > 16 ? buf + have - 16 : buf;
                if (keep < p)
                    keep = p;
                break;
            }
            char *e = q + 7;
            while (*e >= '0' && *e <= '9')
                e++;
            if (*e == '\0') { /* number cut by the read: rescan it next time */
                keep = q;
                break;
            }
            lat_add(&s->lat, (double)(t - strtoll(q + 7, NULL, 10)) / 1000.0);
            p = e;
            keep = p;
        }
        have = (size_t)(buf + have - keep);
        memmove(buf, keep, have);
    }
    free(buf);
    close(fd);
    return NULL;
}

/* Reads one HTTP response (Content-Length or chunked body) and returns its status. */
static int read_reply(int fd, char *buf, size_t cap)
{
    size_t have = 0;
    for (;;) {
        ssize_t r = read(fd, buf + have, cap - 1 - have);
        if (r <= 0) {
            fprintf(stderr, "publisher: connection closed\n");
            exit(1);
        }
        have += (size_t)r;
        buf[have] = '\0';
        char *hdr_end = strstr(buf, "\r\n\r\n");
        if (hdr_end == NULL)
            continue;
        char *cl = strcasestr(buf, "\r\nContent-Length:");
        if (cl == NULL || cl > hdr_end) {
            if (strstr(hdr_end, "\r\n0\r\n\r\n")) /* chunked: last chunk seen */
                break;
            continue;
        }
        size_t want = (size_t)(hdr_end + 4 - buf) + strtoul(cl + 17, NULL, 10);
        if (have >= want)
            break;
    }
    return atoi(buf + 9);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(lat_t *l, double p)
{
    size_t i = (size_t)((double)l->n * p);
    return l->v[i < l->n ? i : l->n - 1];
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: fanout PORT PATH SUBSCRIBERS RATE SECONDS\n");
        return 2;
    }
    g_port = atoi(argv[1]);
    g_path = argv[2];
    int nsub = atoi(argv[3]), rate = atoi(argv[4]);
    double seconds = atof(argv[5]);
    sub_t *subs = calloc((size_t)nsub, sizeof(sub_t));
    for (int i = 0; i < nsub; i++)
        pthread_create(&subs[i].t, NULL, subscriber, &subs[i]);
    for (int waited = 0;; waited++) {
        int all = 1;
        for (int i = 0; i < nsub; i++)
            all &= __atomic_load_n(&subs[i].ready, __ATOMIC_ACQUIRE);
        if (all)
            break;
        if (waited > 1000) {
            fprintf(stderr, "fanout: subscribers did not get a reply within 10 s\n");
            return 1;
        }
        usleep(10000);
    }
    usleep(200000);

    int fd = dial();
    int per = rate / 100 > 0 ? rate / 100 : 1;
    size_t cap = (size_t)per * 128 + 1024;
    char *body = malloc(cap), *req = malloc(cap + 512), *reply = malloc(1 << 20);
    lat_t post = {0};
    long k = 0;
    int64_t t0 = now_us();
    while (now_us() - t0 < (int64_t)(seconds * 1e6)) {
        int64_t sent = now_us();
        size_t bl = 0;
        for (int i = 0; i < per; i++, k++)
            bl += (size_t)snprintf(body + bl, cap - bl,
                                   "{\"first\":\"Fan\",\"Last\":\"Out\",\"Age\":%ld,\"sent\":%lld}\n",
                                   k % 100, (long long)sent);
        int hl = snprintf(req, 512,
                          "POST %s/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                          "application/x-ndjson\r\nContent-Length: %zu\r\n\r\n",
                          g_path, bl);
        memcpy(req + hl, body, bl);
        send_all(fd, req, (size_t)hl + bl);
        int st = read_reply(fd, reply, 1 << 20);
        if (st != 200 && st != 207) {
            fprintf(stderr, "fanout: publish got status %d: %.300s\n", st, reply);
            return 1;
        }
        lat_add(&post, (double)(now_us() - sent) / 1000.0);
        int64_t next = t0 + (int64_t)((double)k * 1e6 / rate);
        int64_t d = next - now_us();
        if (d > 0)
            usleep((useconds_t)d);
    }
    double dt = (double)(now_us() - t0) / 1e6;
    usleep(500000); /* let the last deliveries arrive */
    g_stop = 1;
    lat_t all = {0};
    for (int i = 0; i < nsub; i++) {
        pthread_join(subs[i].t, NULL);
        for (size_t j = 0; j < subs[i].lat.n; j++)
            lat_add(&all, subs[i].lat.v[j]);
    }
    if (all.n == 0) {
        fprintf(stderr, "fanout: no deliveries\n");
        return 1;
    }
    qsort(all.v, all.n, sizeof(double), cmp_d);
    qsort(post.v, post.n, sizeof(double), cmp_d);
    printf("published %ld events at %.0f/s; %zu deliveries (%.1f%% of %ld x %d); "
           "publish-to-delivery p50 %.2f ms p99 %.2f ms; durable POST round trip p50 %.2f ms "
           "p99 %.2f ms\n",
           k, (double)k / dt, all.n, 100.0 * (double)all.n / ((double)k * nsub), k, nsub,
           pct(&all, 0.5), pct(&all, 0.99), pct(&post, 0.5), pct(&post, 0.99));
    return 0;
}
