/* main.c -- zcrawl: runs a whole crawl on this host (a private redis-server when
 * none is given, the broker and N fetchers, parsers and writers), shows progress,
 * and exits 0 when the crawl is complete. `zcrawl demo` crawls a fresh emulator. */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>

#include "status.h"
#include "supervise.h"
#include "zc_flags.h"
#include "zc_log.h"
#include "zc_signal.h"
#include "zc_redis.h"
#include "zc_time.h"
#include "zc_url.h"

#define PROG "zcrawl"

typedef struct run_conf {
    long fetchers, parsers, writers, max_per_host, concurrency, lease_ms, timeout_s, max_restarts;
    long books, latency_ms, jitter_ms, seed;
    double rate;
    const char *mongo, *out, *redis, *crawl, *log_level, *log_dir, *bin_dir, *allow_host;
    int no_progress, via_broker, ignore_robots;
} run_conf;

/* A launched crawl: its children, its endpoints and where it logs. */
typedef struct run {
    run_conf *c;
    sup s;
    char bindir[PATH_MAX];
    char logdir[PATH_MAX];
    char redis_uri[512];
    int redis_port;
    int broker;                  /* index in s */
    char ep[5][64];              /* control, pages in, pages out, docs in, docs out */
    int tty;
} run;

/* Binds a socket to 127.0.0.1:port (0: any ephemeral port) and closes it.
 * Returns the port it got, or -1 when the bind failed. */
static int try_port(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    int got = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        got = ntohs(a.sin_port);
    close(fd);
    return got;
}

/* A free port on 127.0.0.1 for a stage to bind later. It is picked below the
 * kernel's ephemeral range: a port bind(0) hands out is an ephemeral one, and once
 * closed it can become the local port of any process's next connect() (a writer's
 * MongoDB connection took a parser's port that way) before the stage binds it.
 * Falls back to an ephemeral port when the range leaves no room. Returns -1 when
 * no port can be found. */
static int free_port(void) {
    static unsigned seed;
    int lo = 32768;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d", &lo) != 1) lo = 32768;
        fclose(f);
    }
    if (!seed) seed = (unsigned)getpid() ^ (unsigned)zc_now_ms();
    const int base = 20000;
    for (int i = 0; lo - base > 1000 && i < 200; i++) {
        int port = try_port(base + (int)(rand_r(&seed) % (unsigned)(lo - base)));
        if (port > 0) return port;
    }
    return try_port(0);
}

static int find_bindir(run *r) {
    if (r->c->bin_dir) {
        snprintf(r->bindir, sizeof(r->bindir), "%s", r->c->bin_dir);
        return 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash) return -1;
    *slash = '\0';
    snprintf(r->bindir, sizeof(r->bindir), "%s", self);
    return 0;
}

static int stage_path(run *r, const char *stage, char *out, size_t outlen, char *err, size_t errlen) {
    snprintf(out, outlen, "%s/zcrawl-%s", r->bindir, stage);
    if (access(out, X_OK) != 0) {
        snprintf(err, errlen, "cannot run %s: %s (build with make)", out, strerror(errno));
        return -1;
    }
    return 0;
}

/* Finds redis-server on PATH. */
static int find_on_path(const char *name, char *out, size_t outlen) {
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    char *save = NULL;
    for (char *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, outlen, "%s/%s", d, name);
        if (access(out, X_OK) == 0) return 0;
    }
    const char *extra[] = { "/usr/bin", "/usr/sbin", NULL };
    for (int i = 0; extra[i]; i++) {
        snprintf(out, outlen, "%s/%s", extra[i], name);
        if (access(out, X_OK) == 0) return 0;
    }
    return -1;
}

/* Connects to uri with 1 s timeouts. Returns NULL with a one-line reason in err. */
static redisContext *redis_connect(const char *uri, char *err, size_t errlen) {
    zc_redis_addr a;
    if (zc_redis_parse(uri, &a, err, errlen) != 0) return NULL;
    return zc_redis_connect(&a, 1000, err, errlen);
}

static int start_private_redis(run *r, char *err, size_t errlen) {
    char exe[PATH_MAX], dir[PATH_MAX + 16], log[PATH_MAX + 16], portbuf[16];
    if (find_on_path("redis-server", exe, sizeof(exe)) != 0) {
        snprintf(err, errlen, "redis-server not found: install it (make deps) or pass --redis URI");
        return -1;
    }
    r->redis_port = free_port();
    if (r->redis_port < 0) {
        snprintf(err, errlen, "no free port for redis-server");
        return -1;
    }
    /* A fresh folder each time: a private Redis never resumes an older crawl, and
     * the crawl fails if it dies, so it keeps nothing on disk (no AOF, no RDB). */
    snprintf(dir, sizeof(dir), "%s/redis-XXXXXX", r->logdir);
    if (!mkdtemp(dir)) {
        snprintf(err, errlen, "mkdtemp %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(log, sizeof(log), "%s/redis.log", r->logdir);
    snprintf(portbuf, sizeof(portbuf), "%d", r->redis_port);
    char *argv[] = { exe, "--port", portbuf, "--bind", "127.0.0.1", "--dir", dir, "--save", "",
                     "--appendonly", "no", "--daemonize", "no", NULL };
    if (sup_start(&r->s, "redis", argv, log, 0, err, errlen) < 0) return -1;
    snprintf(r->redis_uri, sizeof(r->redis_uri), "redis://127.0.0.1:%d", r->redis_port);
    for (int i = 0; i < 1000; i++) {
        char why[256];
        redisContext *rc = redis_connect(r->redis_uri, why, sizeof(why)); /* it PINGs */
        if (rc) {
            redisFree(rc);
            return 0;
        }
        struct timespec t = { 0, 5 * 1000000L };
        nanosleep(&t, NULL);
    }
    snprintf(err, errlen, "private redis-server did not answer (see %s)", log);
    return -1;
}

/* Asks the private redis-server to exit now (on SIGTERM it waits for its next
 * cron tick, up to 100 ms); sup_stop_all then reaps it. No-op for a given Redis. */
static void stop_private_redis(run *r) {
    if (r->redis_port <= 0) return;
    char why[256];
    redisContext *rc = redis_connect(r->redis_uri, why, sizeof(why));
    if (!rc) return;
    redisReply *rep = redisCommand(rc, "SHUTDOWN NOSAVE");
    if (rep) freeReplyObject(rep); /* normally none: the server closes the connection */
    redisFree(rc);
}

/* Builds argv in place: a small helper so each stage's command line reads plainly. */
typedef struct argv_b { char *v[SUP_MAX_ARGS]; int n; char store[SUP_MAX_ARGS][PATH_MAX / 4]; } argv_b;

static void av_add(argv_b *a, const char *s) {
    if (a->n >= SUP_MAX_ARGS - 1) return;
    snprintf(a->store[a->n], sizeof(a->store[a->n]), "%s", s);
    a->v[a->n] = a->store[a->n];
    a->n++;
    a->v[a->n] = NULL;
}

static void av_addl(argv_b *a, const char *flag, long v) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%ld", v);
    av_add(a, flag);
    av_add(a, buf);
}

static int start_stage(run *r, const char *stage, int idx, argv_b *a, int restart, char *err, size_t errlen) {
    char name[32], log[PATH_MAX + 64];
    snprintf(name, sizeof(name), "%s-%d", stage, idx);
    snprintf(log, sizeof(log), "%s/%s.log", r->logdir, name);
    return sup_start(&r->s, name, a->v, log, restart, err, errlen);
}

/* Direct wiring: each of n stages binds a port of its own ("@tcp://..." into
 * binds[i]) and the stages upstream connect to all of them (the list in list).
 * Returns 0, or -1 when ports run out or the list does not fit (the caller then
 * goes through the broker's streamers). */
static int direct_endpoints(long n, char binds[][40], char *list, size_t cap) {
    size_t used = 0;
    list[0] = '\0';
    for (long i = 0; i < n; i++) {
        int p = free_port();
        if (p < 0) return -1;
        snprintf(binds[i], 40, "@tcp://127.0.0.1:%d", p);
        int k = snprintf(list + used, cap - used, "%s%s", i ? "," : "", binds[i] + 1);
        if (k < 0 || (size_t)k >= cap - used) return -1;
        used += (size_t)k;
    }
    return 0;
}

static int start_pipeline(run *r, const char *start_url, char *err, size_t errlen) {
    run_conf *c = r->c;
    /* Pages go from fetchers straight to parsers and documents from parsers straight
     * to writers (the downstream stage binds), which spares every page and document
     * two hops through the broker; --via-broker keeps the broker's streamers. */
    static char page_binds[SUP_MAX_PROCS][40], doc_binds[SUP_MAX_PROCS][40];
    char page_list[PATH_MAX / 4], doc_list[PATH_MAX / 4];
    int direct = !c->via_broker && c->parsers <= SUP_MAX_PROCS && c->writers <= SUP_MAX_PROCS &&
                 direct_endpoints(c->parsers, page_binds, page_list, sizeof(page_list)) == 0 &&
                 direct_endpoints(c->writers, doc_binds, doc_list, sizeof(doc_list)) == 0;
    for (int i = 0; i < 5; i++) {
        int p = free_port();
        if (p < 0) {
            snprintf(err, errlen, "no free port");
            return -1;
        }
        snprintf(r->ep[i], sizeof(r->ep[i]), "tcp://127.0.0.1:%d", p);
    }
    char exe[PATH_MAX];
    argv_b *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = -1;
    if (stage_path(r, "broker", exe, sizeof(exe), err, errlen) != 0) goto out;
    av_add(a, exe);
    av_add(a, "--redis"); av_add(a, r->redis_uri);
    av_add(a, "--crawl"); av_add(a, c->crawl);
    av_add(a, "--control"); av_add(a, r->ep[0]);
    av_add(a, "--pages-in"); av_add(a, r->ep[1]);
    av_add(a, "--pages-out"); av_add(a, r->ep[2]);
    av_add(a, "--docs-in"); av_add(a, r->ep[3]);
    av_add(a, "--docs-out"); av_add(a, r->ep[4]);
    av_addl(a, "--max-per-host", c->max_per_host);
    av_addl(a, "--lease-ms", c->lease_ms);
    if (c->rate > 0) {
        char rb[32];
        snprintf(rb, sizeof(rb), "%g", c->rate);
        av_add(a, "--rate"); av_add(a, rb);
    }
    av_add(a, "--log-level"); av_add(a, c->log_level);
    if (c->allow_host && *c->allow_host) { av_add(a, "--allow-host"); av_add(a, c->allow_host); }
    if (c->ignore_robots) av_add(a, "--ignore-robots");
    if (start_url) {
        av_add(a, "--start"); av_add(a, start_url);
    }
    r->broker = start_stage(r, "broker", 1, a, 1, err, errlen);
    if (r->broker < 0) goto out;

    for (long i = 1; i <= c->writers; i++) {
        memset(a, 0, sizeof(*a));
        if (stage_path(r, "writer", exe, sizeof(exe), err, errlen) != 0) goto out;
        av_add(a, exe);
        av_add(a, "--broker"); av_add(a, r->ep[0]);
        av_add(a, "--docs"); av_add(a, direct ? doc_binds[i - 1] : r->ep[4]);
        if (c->mongo) { av_add(a, "--mongo"); av_add(a, c->mongo); }
        else { av_add(a, "--out"); av_add(a, c->out); }
        av_add(a, "--log-level"); av_add(a, c->log_level);
        if (start_stage(r, "writer", (int)i, a, 1, err, errlen) < 0) goto out;
    }
    for (long i = 1; i <= c->parsers; i++) {
        memset(a, 0, sizeof(*a));
        if (stage_path(r, "parser", exe, sizeof(exe), err, errlen) != 0) goto out;
        av_add(a, exe);
        av_add(a, "--broker"); av_add(a, r->ep[0]);
        av_add(a, "--pages"); av_add(a, direct ? page_binds[i - 1] : r->ep[2]);
        av_add(a, "--docs"); av_add(a, direct ? doc_list : r->ep[3]);
        av_add(a, "--log-level"); av_add(a, c->log_level);
        if (start_stage(r, "parser", (int)i, a, 1, err, errlen) < 0) goto out;
    }
    for (long i = 1; i <= c->fetchers; i++) {
        memset(a, 0, sizeof(*a));
        if (stage_path(r, "fetcher", exe, sizeof(exe), err, errlen) != 0) goto out;
        av_add(a, exe);
        av_add(a, "--broker"); av_add(a, r->ep[0]);
        av_add(a, "--pages"); av_add(a, direct ? page_list : r->ep[1]);
        av_addl(a, "--concurrency", c->concurrency);
        av_add(a, "--log-level"); av_add(a, c->log_level);
        if (start_stage(r, "fetcher", (int)i, a, 1, err, errlen) < 0) goto out;
    }
    rc = 0;
out:
    free(a);
    return rc;
}

typedef struct progress {
    long long fetched, written, queued, in_flight, dead, retried, gone;
    double rate;
    char state[16];
} progress;

static int read_progress(redisContext **rcp, const char *uri, const char *crawl, progress *p) {
    char why[256];
    if (!*rcp) *rcp = redis_connect(uri, why, sizeof(why));
    if (!*rcp) return -1;
    char key[128];
    if (zc_redis_key(key, sizeof(key), crawl, "stats") != 0) return -1;
    redisReply *rep = redisCommand(*rcp, "HMGET %s fetched written queued in_flight dead retried gone fetched_per_s state", key);
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 9) {
        if (rep) freeReplyObject(rep);
        redisFree(*rcp);
        *rcp = NULL;
        return -1;
    }
    long long *dst[] = { &p->fetched, &p->written, &p->queued, &p->in_flight, &p->dead, &p->retried, &p->gone };
    for (int i = 0; i < 7; i++)
        *dst[i] = rep->element[i]->type == REDIS_REPLY_STRING ? atoll(rep->element[i]->str) : 0;
    p->rate = rep->element[7]->type == REDIS_REPLY_STRING ? atof(rep->element[7]->str) : 0;
    snprintf(p->state, sizeof(p->state), "%s",
             rep->element[8]->type == REDIS_REPLY_STRING ? rep->element[8]->str : "starting");
    freeReplyObject(rep);
    return 0;
}

static void show_progress(run *r, const progress *p, double elapsed, int final) {
    if (r->c->no_progress) return;
    char eta[32] = "-";
    if (p->rate > 0.5 && p->queued > 0) snprintf(eta, sizeof(eta), "%.0fs", (double)p->queued / p->rate);
    char line[256];
    snprintf(line, sizeof(line),
             "[%6.1fs] %7.1f pages/s  queued %lld  in flight %lld  fetched %lld  written %lld  errors %lld  retries %lld  ETA %s",
             elapsed, p->rate, p->queued, p->in_flight, p->fetched, p->written, p->dead, p->retried, eta);
    if (r->tty) fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
    else fprintf(stderr, "%s\n", line);
}

static void tail_log(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char lines[10][512];
    int n = 0;
    while (fgets(lines[n % 10], sizeof(lines[0]), f)) n++;
    fclose(f);
    int from = n > 10 ? n - 10 : 0;
    fprintf(stderr, "---- %s\n", path);
    for (int i = from; i < n; i++) fputs(lines[i % 10], stderr);
}

/* Puts every start URL into the crawl's seeds list in one RPUSH. Returns 0, or -1
 * with a reason in err. */
static int push_seeds(redisContext *rc, const char *crawl, char *const *urls, size_t n,
                      char *err, size_t errlen) {
    char key[128];
    if (zc_redis_key(key, sizeof(key), crawl, "seeds") != 0) {
        snprintf(err, errlen, "crawl name too long");
        return -1;
    }
    const char **argv = malloc((n + 2) * sizeof(*argv));
    if (!argv) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    argv[0] = "RPUSH";
    argv[1] = key;
    for (size_t i = 0; i < n; i++) argv[i + 2] = urls[i];
    redisReply *rep = redisCommandArgv(rc, (int)(n + 2), argv, NULL);
    free(argv);
    int ok = rep && rep->type == REDIS_REPLY_INTEGER;
    if (!ok) snprintf(err, errlen, "cannot seed %s: %s", key,
                      rep && rep->type == REDIS_REPLY_ERROR ? rep->str : rc->errstr);
    if (rep) freeReplyObject(rep);
    return ok ? 0 : -1;
}

/* Runs the crawl of starts[0..nstarts) to its end. Returns the process exit code. */
static int run_crawl(run_conf *c, char *const *starts, size_t nstarts, const char *extra_child,
                     char *const extra_argv[]) {
    run r;
    memset(&r, 0, sizeof(r));
    r.c = c;
    r.s.max_restarts = (int)c->max_restarts;
    r.tty = isatty(STDERR_FILENO) && !c->no_progress;
    char err[512];
    int rc = 1;
    if (find_bindir(&r) != 0) {
        fprintf(stderr, "%s: error: cannot find the folder of the zcrawl executables (use --bin-dir)\n", PROG);
        return 1;
    }
    if (c->log_dir) {
        snprintf(r.logdir, sizeof(r.logdir), "%s", c->log_dir);
        if (mkdir(r.logdir, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "%s: error: cannot create %s: %s\n", PROG, r.logdir, strerror(errno));
            return 1;
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(r.logdir, sizeof(r.logdir), "%s/zcrawl-run-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(r.logdir)) {
            fprintf(stderr, "%s: error: mkdtemp: %s\n", PROG, strerror(errno));
            return 1;
        }
    }
    int64_t t0 = zc_now_ms();
    if (extra_child) {
        char log[PATH_MAX + 32];
        snprintf(log, sizeof(log), "%s/%s.log", r.logdir, extra_child);
        if (sup_start(&r.s, extra_child, extra_argv, log, 0, err, sizeof(err)) < 0) goto fail;
    }
    if (c->redis) {
        if ((size_t)snprintf(r.redis_uri, sizeof(r.redis_uri), "%s", c->redis) >= sizeof(r.redis_uri)) {
            snprintf(err, sizeof(err), "--redis: URI longer than %zu bytes", sizeof(r.redis_uri) - 1);
            goto fail;
        }
    } else if (start_private_redis(&r, err, sizeof(err)) != 0) {
        goto fail;
    }
    {
        char why[256];
        redisContext *probe = redis_connect(r.redis_uri, why, sizeof(why));
        if (!probe) {
            snprintf(err, sizeof(err), "cannot reach Redis at %s: %s", r.redis_uri, why);
            goto fail;
        }
        /* Several start URLs go through the crawl's seeds list (docs/REDIS.md),
         * which the broker drains at its start; one goes on its command line. */
        int pushed = nstarts > 1 ? push_seeds(probe, c->crawl, starts, nstarts, err, sizeof(err)) : 0;
        redisFree(probe);
        if (pushed != 0) goto fail;
    }
    if (start_pipeline(&r, nstarts == 1 ? starts[0] : NULL, err, sizeof(err)) != 0) goto fail;
    if (nstarts == 1)
        fprintf(stderr, "%s: crawling %s", PROG, starts[0]);
    else
        fprintf(stderr, "%s: crawling %zu start URLs (%s, ...)", PROG, nstarts, starts[0]);
    fprintf(stderr, " with %ld fetcher(s), %ld parser(s), %ld writer(s) into %s (logs in %s)\n",
            c->fetchers, c->parsers, c->writers, c->mongo ? c->mongo : c->out, r.logdir);

    redisContext *rc_stats = NULL;
    progress p;
    memset(&p, 0, sizeof(p));
    int64_t next_show = 0;
    int finished = 0;
    while (!finished) {
        if (zc_signal_stop_requested()) {
            snprintf(err, sizeof(err), "interrupted");
            rc = 130;
            if (r.tty) fputc('\n', stderr);
            goto fail;
        }
        int ended;
        while ((ended = sup_reap(&r.s)) >= 0) {
            sup_proc *sp = &r.s.procs[ended];
            int st = sp->exit_status;
            if (ended == r.broker && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
                finished = 1;
            } else if (ended == r.broker || !strcmp(sp->name, "redis") || (extra_child && ended == 0)) {
                snprintf(err, sizeof(err), "%s ended (%s %d) and cannot be restarted", sp->name,
                         WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
                tail_log(sp->log);
                goto fail;
            } else if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
                snprintf(err, sizeof(err), "%s keeps failing (%d restarts)", sp->name, sp->restarts);
                tail_log(sp->log);
                goto fail;
            }
        }
        int64_t now = zc_now_ms();
        if (c->timeout_s > 0 && now - t0 > c->timeout_s * 1000) {
            snprintf(err, sizeof(err), "crawl did not finish within %ld s", c->timeout_s);
            goto fail;
        }
        if (!finished && now >= next_show) {
            if (read_progress(&rc_stats, r.redis_uri, c->crawl, &p) == 0)
                show_progress(&r, &p, (double)(now - t0) / 1000.0, 0);
            next_show = now + (r.tty ? 500 : 5000);
        }
        if (finished) break;
        /* Wakes at once when a stage ends (the broker, at the end of the crawl). */
        int64_t wait = next_show - zc_now_ms();
        sup_wait(wait < 5 ? 5 : wait > 1000 ? 1000 : (int)wait);
    }
    read_progress(&rc_stats, r.redis_uri, c->crawl, &p);
    if (rc_stats) redisFree(rc_stats);
    double secs = (double)(zc_now_ms() - t0) / 1000.0;
    show_progress(&r, &p, secs, 1);
    stop_private_redis(&r);
    sup_stop_all(&r.s, 10000);
    struct rusage ru;
    double cpu = 0;
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
              (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    printf("crawl complete: %lld pages fetched, %lld documents written, %lld gone, %lld dead letters, "
           "%lld retries in %.1f s (%.0f pages/s, %.2f CPU s)\n",
           p.fetched, p.written, p.gone, p.dead, p.retried, secs, secs > 0 ? (double)p.fetched / secs : 0.0, cpu);
    fflush(stdout);
    sup_free(&r.s);
    return 0;
fail:
    fprintf(stderr, "%s: error: %s (logs in %s)\n", PROG, err, r.logdir);
    sup_stop_all(&r.s, 5000);
    sup_free(&r.s);
    return rc;
}

static const char *USAGE_RUN = "run [flags] START_URL...";
static const char *USAGE_DEMO = "demo [flags]";

int main(int argc, char **argv) {
    run_conf c = {
        .fetchers = 2, .parsers = 1, .writers = 1, .max_per_host = 8, .concurrency = 64,
        .lease_ms = 30000, .timeout_s = 0, .max_restarts = 5, .books = 9040, .latency_ms = 0,
        .jitter_ms = 0, .seed = 1, .rate = 0,
        .mongo = NULL, .out = NULL, .redis = NULL, .crawl = "default", .log_level = "info",
        .log_dir = NULL, .bin_dir = NULL, .no_progress = 0,
    };
    const zc_flag run_flags[] = {
        { "fetchers", "ZCRAWL_FETCHERS", ZC_FLAG_INT, &c.fetchers, "fetcher processes", 1, 64 },
        { "parsers", "ZCRAWL_PARSERS", ZC_FLAG_INT, &c.parsers, "parser processes", 1, 64 },
        { "writers", "ZCRAWL_WRITERS", ZC_FLAG_INT, &c.writers, "writer processes", 1, 64 },
        { "mongo", "ZCRAWL_MONGO", ZC_FLAG_STR, &c.mongo, "MongoDB URI to write into", 0, 0 },
        { "out", "ZCRAWL_OUT", ZC_FLAG_STR, &c.out, "JSON Lines file to write into (when no --mongo)", 0, 0 },
        { "redis", "ZCRAWL_REDIS", ZC_FLAG_STR, &c.redis, "Redis URI (default: a private redis-server)", 0, 0 },
        { "crawl", "ZCRAWL_CRAWL", ZC_FLAG_STR, &c.crawl, "crawl name (Redis keys zcrawl:{<crawl>}:*)", 0, 0 },
        { "max-per-host", "ZCRAWL_MAX_PER_HOST", ZC_FLAG_INT, &c.max_per_host, "requests in flight per host", 1, 100000 },
        { "rate", "ZCRAWL_RATE", ZC_FLAG_DOUBLE, &c.rate, "requests per second per host (0: no limit)", 0, 1e6 },
        { "concurrency", "ZCRAWL_CONCURRENCY", ZC_FLAG_INT, &c.concurrency, "transfers per fetcher", 1, 100000 },
        { "lease-ms", "ZCRAWL_LEASE_MS", ZC_FLAG_INT, &c.lease_ms, "lease of a handed-out URL", 500, 86400000 },
        { "timeout", "ZCRAWL_TIMEOUT", ZC_FLAG_INT, &c.timeout_s, "give up after this many seconds (0: never)", 0, 864000 },
        { "max-restarts", "ZCRAWL_MAX_RESTARTS", ZC_FLAG_INT, &c.max_restarts, "restarts of a crashed stage", 0, 1000 },
        { "log-level", "ZCRAWL_LOG_LEVEL", ZC_FLAG_STR, &c.log_level, "stages' log level", 0, 0 },
        { "log-dir", "ZCRAWL_LOG_DIR", ZC_FLAG_STR, &c.log_dir, "folder for the stages' logs (default: a temp folder)", 0, 0 },
        { "bin-dir", "ZCRAWL_BIN_DIR", ZC_FLAG_STR, &c.bin_dir, "folder of zcrawl-* (default: beside zcrawl)", 0, 0 },
        { "no-progress", NULL, ZC_FLAG_BOOL, &c.no_progress, "no progress lines, only the summary", 0, 0 },
        { "allow-host", "ZCRAWL_ALLOW_HOST", ZC_FLAG_STR, &c.allow_host, "hosts in scope besides the start URLs' origins: example.com,*.example.com", 0, 0 },
        { "ignore-robots", "ZCRAWL_IGNORE_ROBOTS", ZC_FLAG_BOOL, &c.ignore_robots, "do not fetch or obey robots.txt", 0, 0 },
        { "via-broker", "ZCRAWL_VIA_BROKER", ZC_FLAG_BOOL, &c.via_broker,
          "pages and documents through the broker's streamers, not straight from stage to stage", 0, 0 },
        { "books", "ZCRAWL_DEMO_BOOKS", ZC_FLAG_INT, &c.books, "demo: books the emulator serves", 1, 10000000 },
        { "latency-ms", "ZCRAWL_DEMO_LATENCY_MS", ZC_FLAG_INT, &c.latency_ms, "demo: emulator latency", 0, 600000 },
        { "jitter-ms", "ZCRAWL_DEMO_JITTER_MS", ZC_FLAG_INT, &c.jitter_ms, "demo: emulator latency jitter", 0, 600000 },
        { "seed", "ZCRAWL_DEMO_SEED", ZC_FLAG_INT, &c.seed, "demo: emulator seed", 0, 2147483647 },
        ZC_FLAGS_END,
    };
    const char *summary =
        "commands:\n"
        "  run START_URL...  crawl from the START_URLs with a local pipeline; exit 0 when complete\n"
        "  demo              the same against a freshly started zcrawl-sitesim (the book emulator)\n"
        "  status            a crawl's state, queues and counters from its Redis (status --help)";
    if (argc == 2 && !strcmp(argv[1], "--version")) {
        zc_flags_print_version(stdout, PROG);
        return 0;
    }
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        zc_flags_usage(argc < 2 ? stderr : stdout, PROG, "run|demo [flags] [START_URL...]", summary, run_flags);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "status")) return cmd_status(argc, argv);
    if (strcmp(cmd, "run") && strcmp(cmd, "demo")) {
        fprintf(stderr, "%s: error: unknown command '%s' (run or demo; see --help)\n", PROG, cmd);
        return 2;
    }
    int npos = 0;
    zc_flags_parse_or_exit(run_flags, argc - 1, argv + 1, &npos, PROG,
                           !strcmp(cmd, "run") ? USAGE_RUN : USAGE_DEMO, summary);
    zc_log_level lvl;
    if (zc_log_parse_level(c.log_level, &lvl) != 0) {
        fprintf(stderr, "%s: error: bad --log-level '%s'\n", PROG, c.log_level);
        return 2;
    }
    if (c.redis) {
        zc_redis_addr ra;
        char why[256];
        if (zc_redis_parse(c.redis, &ra, why, sizeof(why)) != 0) {
            fprintf(stderr, "%s: error: %s\n", PROG, why);
            return 2;
        }
    }
    if (c.mongo && c.out) {
        fprintf(stderr, "%s: error: give --mongo or --out, not both\n", PROG);
        return 2;
    }
    zc_log_init("zcrawl", ZC_LOG_WARN);
    if (zc_signal_install() != 0 || sup_init() != 0) {
        fprintf(stderr, "%s: error: cannot install signal handlers\n", PROG);
        return 1;
    }
    if (!strcmp(cmd, "run")) {
        if (npos < 1) {
            fprintf(stderr, "%s: error: run needs a START_URL\n", PROG);
            return 2;
        }
        for (int i = 2; i < 2 + npos; i++) {
            char why[128];
            if (zc_url_check(argv[i], strlen(argv[i]), why, sizeof(why)) != 0) {
                fprintf(stderr, "%s: error: bad START_URL '%s': %s\n", PROG, argv[i], why);
                return 2;
            }
        }
        if (!c.mongo && !c.out) c.out = "zcrawl-books.jsonl";
        return run_crawl(&c, argv + 2, (size_t)npos, NULL, NULL);
    }
    if (npos != 0) {
        fprintf(stderr, "%s: error: demo takes no START_URL\n", PROG);
        return 2;
    }
    if (!c.mongo && !c.out) c.out = "zcrawl-demo.jsonl";
    run probe;
    memset(&probe, 0, sizeof(probe));
    probe.c = &c;
    if (find_bindir(&probe) != 0) {
        fprintf(stderr, "%s: error: cannot find the folder of the zcrawl executables\n", PROG);
        return 1;
    }
    char sim[PATH_MAX], err[256];
    if (stage_path(&probe, "sitesim", sim, sizeof(sim), err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: error: %s\n", PROG, err);
        return 1;
    }
    int port = free_port();
    if (port < 0) {
        fprintf(stderr, "%s: error: no free port for the emulator\n", PROG);
        return 1;
    }
    char portb[16], books[24], lat[24], jit[24], seed[24], start[96];
    snprintf(portb, sizeof(portb), "%d", port);
    snprintf(books, sizeof(books), "%ld", c.books);
    snprintf(lat, sizeof(lat), "%ld", c.latency_ms);
    snprintf(jit, sizeof(jit), "%ld", c.jitter_ms);
    snprintf(seed, sizeof(seed), "%ld", c.seed);
    char *sim_argv[] = { sim, "--port", portb, "--books", books, "--latency-ms", lat, "--jitter-ms", jit,
                         "--seed", seed, NULL };
    snprintf(start, sizeof(start), "http://127.0.0.1:%d/api/book/?limit=18&offset=0", port);
    /* Remove a previous demo's output, so the file holds this crawl only. */
    if (!c.mongo && unlink(c.out) != 0 && errno != ENOENT) {
        fprintf(stderr, "%s: error: cannot remove old %s: %s\n", PROG, c.out, strerror(errno));
        return 1;
    }
    /* The emulator must listen before the broker seeds; run_crawl starts it first
     * and the fetchers retry connection errors, so a slow start costs only a retry. */
    char *starts[] = { start };
    return run_crawl(&c, starts, 1, "sitesim", sim_argv);
}
