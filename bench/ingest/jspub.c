/* jspub.c -- JetStream publish benchmark: creates a file-storage, 1-replica stream on
 * SUBJECT and publishes every line of FILE (the same NDJSON order payloads dmp ingests) as
 * one message each, round-robin, for SECONDS with asynchronous publish and acknowledgements
 * (up to WINDOW publishes in flight, the way a throughput-minded JetStream producer works).
 * Prints acknowledged messages/s; fails when any publish got an error.
 *
 * usage: jspub URL SUBJECT FILE SECONDS WINDOW
 * Build: cc -O2 jspub.c $(pkg-config --cflags --libs libnats) -o jspub (Debian libnats-dev). */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t n_ok, n_err;

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    if (pa != NULL) {
        __atomic_add_fetch(&n_ok, 1, __ATOMIC_RELAXED);
    } else if (__atomic_add_fetch(&n_err, 1, __ATOMIC_RELAXED) <= 3) {
        fprintf(stderr, "jspub: publish failed: %s\n",
                pae && pae->ErrText ? pae->ErrText : natsStatus_GetText(pae ? pae->Err : 0));
    }
    natsMsg_Destroy(msg);
}

static void die(const char *what, natsStatus s)
{
    fprintf(stderr, "jspub: %s: %s\n", what, natsStatus_GetText(s));
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: jspub URL SUBJECT FILE SECONDS WINDOW\n");
        return 2;
    }
    const char *subject = argv[2];
    double seconds = atof(argv[4]);
    FILE *f = fopen(argv[3], "rb");
    if (f == NULL) {
        perror(argv[3]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long fl = ftell(f);
    rewind(f);
    char *data = malloc((size_t)fl + 1);
    if (fread(data, 1, (size_t)fl, f) != (size_t)fl) {
        perror("read");
        return 1;
    }
    fclose(f);
    data[fl] = '\0';
    size_t nlines = 0, cap = 1024;
    char **line = malloc(cap * sizeof(char *));
    int *len = malloc(cap * sizeof(int));
    for (char *p = data; *p;) {
        char *e = strchr(p, '\n');
        if (e == NULL)
            e = p + strlen(p);
        if (e > p) {
            if (nlines == cap) {
                cap *= 2;
                line = realloc(line, cap * sizeof(char *));
                len = realloc(len, cap * sizeof(int));
            }
            line[nlines] = p;
            len[nlines++] = (int)(e - p);
        }
        p = *e ? e + 1 : e;
    }
    if (nlines == 0) {
        fprintf(stderr, "jspub: %s has no lines\n", argv[3]);
        return 1;
    }

    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsStatus s = natsConnection_ConnectTo(&nc, argv[1]);
    if (s != NATS_OK)
        die("connect", s);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = atoi(argv[5]);
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.StallWait = 5000;
    if ((s = natsConnection_JetStream(&js, nc, &jo)) != NATS_OK)
        die("jetstream context", s);
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = "ORDERS";
    sc.Subjects = (const char *[]){subject};
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Replicas = 1;
    jsErrCode jerr = 0;
    jsStreamInfo *si = NULL;
    if ((s = js_AddStream(&si, js, &sc, NULL, &jerr)) != NATS_OK) {
        fprintf(stderr, "jspub: stream create failed (code %d)\n", (int)jerr);
        die("add stream", s);
    }
    jsStreamInfo_Destroy(si);

    int64_t t0 = nats_NowInNanoSeconds(), end = t0 + (int64_t)(seconds * 1e9);
    int64_t sent = 0;
    while (nats_NowInNanoSeconds() < end) {
        for (int i = 0; i < 256; i++, sent++) {
            size_t k = (size_t)(sent % (int64_t)nlines);
            if ((s = js_PublishAsync(js, subject, line[k], len[k], NULL)) != NATS_OK)
                die("publish", s);
        }
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 30000;
    if ((s = js_PublishAsyncComplete(js, &po)) != NATS_OK)
        die("waiting for acks", s);
    double dt = (double)(nats_NowInNanoSeconds() - t0) / 1e9;
    if (n_err) {
        fprintf(stderr, "jspub: %lld of %lld publishes failed\n", (long long)n_err,
                (long long)sent);
        return 1;
    }
    printf("%.0f\n", (double)n_ok / dt);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return 0;
}
