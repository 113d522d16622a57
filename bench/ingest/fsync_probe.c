/* fsync_probe.c -- how long a durable append takes on this disk: N times pwrite(SIZE
 * bytes at the end of a file) + fdatasync, in DIR (the benchmark's data directory).
 * Prints the mean and the p50/p99 in microseconds. With C concurrent single-event
 * clients and one fdatasync per group commit, C / p50 is the most acknowledgements per
 * second the disk allows, whatever the server does.
 *
 * usage: fsync_probe DIR N SIZE     Build: cc -O2 fsync_probe.c -o fsync_probe */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int cmp_l(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: fsync_probe DIR N SIZE\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/fsync-probe.dat", argv[1]);
    int n = atoi(argv[2]);
    size_t size = (size_t)atol(argv[3]);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || n <= 0) {
        perror(path);
        return 1;
    }
    char *buf = malloc(size);
    long *us = malloc((size_t)n * sizeof(long));
    memset(buf, 'x', size);
    double total = 0;
    for (int i = 0; i < n; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (pwrite(fd, buf, size, (off_t)i * (off_t)size) != (ssize_t)size || fdatasync(fd)) {
            perror("pwrite/fdatasync");
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        us[i] = (b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000;
        total += (double)us[i];
    }
    qsort(us, (size_t)n, sizeof(long), cmp_l);
    printf("%.0f %ld %ld\n", total / n, us[n / 2], us[(int)(n * 0.99)]);
    close(fd);
    unlink(path);
    return 0;
}
