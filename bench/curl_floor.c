/* curl_floor.c -- the benchmark's floor: what libcurl alone costs per page.
 *
 * Fetches every URL of a file (one per line) with one curl multi handle on epoll,
 * CONCURRENCY transfers at a time, the way zcrawl's fetcher drives libcurl (a
 * socket callback and one timer feeding curl_multi_socket_action, then draining
 * curl_multi_info_read), keeps each body in memory and drops it. No parsing, no
 * Redis, no ZeroMQ, no storage, and it is handed every URL up front: no crawler
 * built on libcurl can spend less CPU per page on this machine. run_bench.py
 * reports it beside the contenders of scenario 1.
 *
 * With RECV_BUFFER it is also libcurl's memory floor (bench/README.md, scenario 7):
 * every easy handle gets CURLOPT_BUFFERSIZE RECV_BUFFER, and after each turn of
 * the loop it samples the heap (mallinfo2) and the transfers in flight, so the
 * line adds what the process held before the first transfer, at its most
 * transfers, and at its peak.
 *
 * usage: curl_floor URL_FILE CONCURRENCY [RECV_BUFFER]
 * Prints one JSON line: {"pages", "status_200", "status_404", "errors", "elapsed_s",
 * "cpu_s"}, with RECV_BUFFER also "recv_buffer", "rss_start_kb", "rss_peak_kb",
 * "heap_start_kb", "heap_at_most_kb", "most_in_flight". Exits 1 with one line on
 * stderr when it cannot run, or when a transfer failed (errors > 0). */
#include <curl/curl.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define PROG "curl_floor"

typedef struct floor_xfer {
    CURL *easy;
    char *body;
    size_t len, cap;
} floor_xfer;

/* One run: the URLs, the multi handle, the epoll set and the counters. */
typedef struct floor_run {
    char **urls;
    size_t nurls, next, done;
    long timeout_ms; /* curl's timer; -1 when none is set */
    int epfd;
    CURLM *multi;
    CURLSH *share; /* the TLS session cache, as the fetcher shares it */
    long n200, n404, errors;
    long in_flight, most_in_flight;
    size_t heap_at_most; /* bytes malloc'd when in_flight was most_in_flight */
} floor_run;

static size_t on_body(char *p, size_t size, size_t n, void *userp) {
    floor_xfer *x = userp;
    size_t k = size * n;
    if (x->len + k > x->cap) {
        size_t cap = (x->len + k) * 2;
        char *b = realloc(x->body, cap);
        if (!b) return 0; /* curl fails the transfer: counted as an error */
        x->body = b;
        x->cap = cap;
    }
    memcpy(x->body + x->len, p, k);
    x->len += k;
    return k;
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *sockp) {
    (void)e;
    floor_run *r = userp;
    if (what == CURL_POLL_REMOVE) {
        if (epoll_ctl(r->epfd, EPOLL_CTL_DEL, s, NULL) != 0 && errno != EBADF && errno != ENOENT) return -1;
        return curl_multi_assign(r->multi, s, NULL) == CURLM_OK ? 0 : -1;
    }
    struct epoll_event ev = { .events = (what & CURL_POLL_IN ? EPOLLIN : 0u) |
                                        (what & CURL_POLL_OUT ? EPOLLOUT : 0u),
                              .data.fd = s };
    if (sockp) return epoll_ctl(r->epfd, EPOLL_CTL_MOD, s, &ev) == 0 ? 0 : -1;
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, s, &ev) != 0) return -1;
    return curl_multi_assign(r->multi, s, r) == CURLM_OK ? 0 : -1;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp) {
    (void)m;
    ((floor_run *)userp)->timeout_ms = timeout_ms;
    return 0;
}

/* Starts the next URL on x. Returns 0, or -1 when curl refuses it. */
static int start_next(floor_run *r, floor_xfer *x) {
    x->len = 0;
    if (curl_easy_setopt(x->easy, CURLOPT_URL, r->urls[r->next++]) != CURLE_OK) return -1;
    if (curl_multi_add_handle(r->multi, x->easy) != CURLM_OK) return -1;
    r->in_flight++;
    return 0;
}

/* Counts every finished transfer and starts the next URL on its handle. */
static int drain_done(floor_run *r) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(r->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        floor_xfer *x = NULL;
        long status = 0;
        CURLcode rc = msg->data.result;
        if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x) != CURLE_OK || !x) return -1;
        if (rc == CURLE_OK && curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) return -1;
        if (rc == CURLE_OK && status == 200) r->n200++;
        else if (rc == CURLE_OK && status == 404) r->n404++;
        else r->errors++;
        if (curl_multi_remove_handle(r->multi, x->easy) != CURLM_OK) return -1;
        free(x->body); /* as the fetcher hands its body on: none waits for the next job */
        x->body = NULL;
        x->cap = 0;
        r->in_flight--;
        r->done++;
        if (r->next < r->nurls && start_next(r, x) != 0) return -1;
    }
    return 0;
}

static int read_urls(floor_run *r, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: error: cannot open %s: %s\n", PROG, path, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    while ((n = getline(&line, &lcap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (n == 0) continue;
        if (r->nurls == cap) {
            cap = cap ? cap * 2 : 1024;
            char **u = realloc(r->urls, cap * sizeof(*u));
            if (!u) goto oom;
            r->urls = u;
        }
        if (!(r->urls[r->nurls] = strdup(line))) goto oom;
        r->nurls++;
    }
    free(line);
    fclose(f);
    return 0;
oom:
    fprintf(stderr, "%s: error: out of memory\n", PROG);
    free(line);
    fclose(f);
    return -1;
}

/* Resident set of this process now, in KiB (statm), or -1. */
static long rss_kb(void) {
    long size = 0, resident = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static double cpu_seconds(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    char *end = NULL;
    char *bend = NULL;
    long conc = argc == 3 || argc == 4 ? strtol(argv[2], &end, 10) : 0;
    long recvbuf = argc == 4 ? strtol(argv[3], &bend, 10) : 0;
    if ((argc != 3 && argc != 4) || *end || conc < 1 || conc > 100000 ||
        (argc == 4 && (*bend || recvbuf < 1024 || recvbuf > 512 * 1024))) {
        fprintf(stderr, "%s: error: usage: %s URL_FILE CONCURRENCY (1..100000) [RECV_BUFFER (1024..524288)]\n",
                PROG, PROG);
        return 2;
    }
    floor_run r = { .timeout_ms = -1, .epfd = -1 };
    floor_xfer *xs = NULL;
    int rc = 1;
    if (read_urls(&r, argv[1]) != 0) goto out;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(r.multi = curl_multi_init())) {
        fprintf(stderr, "%s: error: cannot initialise libcurl\n", PROG);
        goto out;
    }
    if ((r.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        curl_multi_setopt(r.multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
        curl_multi_setopt(r.multi, CURLMOPT_SOCKETDATA, &r) != CURLM_OK ||
        curl_multi_setopt(r.multi, CURLMOPT_TIMERFUNCTION, on_timer) != CURLM_OK ||
        curl_multi_setopt(r.multi, CURLMOPT_TIMERDATA, &r) != CURLM_OK) {
        fprintf(stderr, "%s: error: cannot set up the event loop\n", PROG);
        goto out;
    }
    if (!(r.share = curl_share_init()) ||
        curl_share_setopt(r.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
        fprintf(stderr, "%s: error: cannot set up the share\n", PROG);
        goto out;
    }
    if (!(xs = calloc((size_t)conc, sizeof(*xs)))) {
        fprintf(stderr, "%s: error: out of memory\n", PROG);
        goto out;
    }
    struct timespec t0, t1;
    long rss_start = rss_kb();
    size_t heap_start = mallinfo2().uordblks;
    double cpu0 = cpu_seconds();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < conc && r.next < r.nurls; i++) {
        floor_xfer *x = &xs[i];
        if (!(x->easy = curl_easy_init()) ||
            curl_easy_setopt(x->easy, CURLOPT_PRIVATE, (char *)x) != CURLE_OK ||
            curl_easy_setopt(x->easy, CURLOPT_SHARE, r.share) != CURLE_OK ||
            curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
            curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x) != CURLE_OK ||
            curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, 30000L) != CURLE_OK ||
            curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "zcrawl-bench-curl-floor/1") != CURLE_OK ||
            (recvbuf && curl_easy_setopt(x->easy, CURLOPT_BUFFERSIZE, recvbuf) != CURLE_OK) ||
            start_next(&r, x) != 0) {
            fprintf(stderr, "%s: error: cannot start a transfer\n", PROG);
            goto out;
        }
    }
    while (r.done < r.nurls) {
        struct epoll_event evs[256];
        int running, n = epoll_wait(r.epfd, evs, 256, r.timeout_ms < 0 ? 1000 : (int)r.timeout_ms);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "%s: error: epoll_wait: %s\n", PROG, strerror(errno));
            goto out;
        }
        if (n == 0 && curl_multi_socket_action(r.multi, CURL_SOCKET_TIMEOUT, 0, &running) != CURLM_OK) goto curl_err;
        for (int i = 0; i < n; i++) {
            int what = (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR) ? CURL_CSELECT_IN : 0) |
                       (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0);
            if (curl_multi_socket_action(r.multi, evs[i].data.fd, what, &running) != CURLM_OK) goto curl_err;
        }
        if (recvbuf && r.in_flight >= r.most_in_flight) {
            /* after socket_action: the transfers' connections exist by now */
            r.most_in_flight = r.in_flight;
            r.heap_at_most = mallinfo2().uordblks;
        }
        if (drain_done(&r) != 0) goto curl_err;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double cpu = cpu_seconds() - cpu0;
    printf("{\"pages\": %zu, \"status_200\": %ld, \"status_404\": %ld, \"errors\": %ld, "
           "\"elapsed_s\": %.3f, \"cpu_s\": %.3f",
           r.done, r.n200, r.n404, r.errors,
           (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, cpu);
    if (recvbuf) {
        struct rusage ru;
        long peak = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
        printf(", \"recv_buffer\": %ld, \"rss_start_kb\": %ld, \"rss_peak_kb\": %ld, \"heap_start_kb\": %zu, "
               "\"heap_at_most_kb\": %zu, \"most_in_flight\": %ld",
               recvbuf, rss_start, peak,
               heap_start / 1024, r.heap_at_most / 1024, r.most_in_flight);
    }
    printf("}\n");
    if (r.errors) fprintf(stderr, "%s: error: %ld transfers failed\n", PROG, r.errors);
    rc = r.errors ? 1 : 0;
    goto out;
curl_err:
    fprintf(stderr, "%s: error: libcurl multi call failed\n", PROG);
out:
    for (long i = 0; xs && i < conc; i++) {
        if (xs[i].easy) {
            curl_multi_remove_handle(r.multi, xs[i].easy); /* not added is fine: it says so */
            curl_easy_cleanup(xs[i].easy);
        }
        free(xs[i].body);
    }
    free(xs);
    if (r.multi) curl_multi_cleanup(r.multi);
    if (r.share) curl_share_cleanup(r.share); /* after every easy handle */
    if (r.epfd >= 0) close(r.epfd);
    for (size_t i = 0; i < r.nurls; i++) free(r.urls[i]);
    free(r.urls);
    curl_global_cleanup();
    return rc;
}
