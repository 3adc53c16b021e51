/* cli_run.c -- `zcrawl run` and `zcrawl demo`: a local crawl from its checks to its
 * summary and exit code (README, "Exit codes"). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "zc_crawlstat.h"
#include "keygen.h"
#include "zc_addr.h"
#include "zc_buf.h"
#include "zc_log.h"
#include "zc_redact.h"
#include "zc_redis.h"
#include "zc_scope.h"
#include "zc_signal.h"
#include "zc_time.h"
#include "zc_url.h"

/* How a crawl's monitoring ended. */
enum { END_NONE = 0,
       END_BROKER,
       END_SIGNAL,
       END_FAILED,
       END_USAGE,
       END_TIMEOUT };

/* One local crawl, from its checks to its summary. */
typedef struct crawl {
    cli_conf *c;
    cli_run r;
    sup *s;
    cli_state st;
    cli_urls starts, seeds;
    const char *extra; /* a child started before Redis (demo: "sitesim") */
    char **extra_argv;
    int extra_idx, own_logdir, tty, ended, signal;
    redisContext *rc; /* the launcher's own connection, for progress */
    cli_counts base;  /* counters when this run started */
    cli_progress p;
    char refusal[256], shown_problem[1024], shown_waits[512];
    int state_lost; /* Redis lost the crawl's state meanwhile: counters kept, the rerun starts over */
    int64_t t0;
    char err[1024];
    int many_private; /* more start origins on private addresses than are passed one by one */
} crawl;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    if (remove(path) != 0) zc_warn("remove_failed", "path=%s reason=\"%s\"", path, strerror(errno));
    return 0;
}

/* Frees the crawl; the stages have stopped: their sockets' folder goes too. */
static void crawl_free(crawl *cw) {
    if (cw->r.ipcdir[0] && access(cw->r.ipcdir, F_OK) == 0 && nftw(cw->r.ipcdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        zc_warn("remove_failed", "path=%s reason=\"%s\"", cw->r.ipcdir, strerror(errno));
    if (cw->rc) redisFree(cw->rc);
    if (cw->s) sup_free(cw->s);
    free(cw->s);
    cli_urls_free(&cw->starts);
    cli_urls_free(&cw->seeds);
    cli_state_unlock(&cw->st);
}

/* Whether the comma-separated list holds origin. */
static int list_has(const char *list, const char *origin) {
    size_t n = strlen(origin);
    for (const char *p = strstr(list, origin); p; p = strstr(p + 1, origin))
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return 1;
    return 0;
}

#define PRIVATE_ORIGINS_MAX 64 /* more, and the guard is lifted for all (an argv stays short) */

/* The SSRF guard stays on, but for the origins of start URLs and seeds that are on
 * non-public addresses (the user named them): those go to the fetchers as
 * --allow-private-origin, said in one line here; past PRIVATE_ORIGINS_MAX of them
 * (a seeds file of many local hosts) the guard is off for every origin, as
 * --allow-private does, and the line says that. A name that does not resolve is
 * the fetchers' to report. Returns 0, or -1 with a reason in cw->err. */
static int private_origins(crawl *cw) {
    cli_conf *c = cw->c;
    size_t count = 0;
    const cli_urls *lists[] = { &cw->starts, &cw->seeds };
    zc_buf list = { 0 };                 /* what c->private_origins holds */
    char last[ZC_SCOPE_ORIGIN_MAX] = ""; /* the origin judged last: a seeds file repeats its origins */
    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; i < lists[l]->n; i++) {
            char why[256], origin[ZC_SCOPE_ORIGIN_MAX];
            /* The origin first: each is resolved once, not once per URL. */
            if (zc_scope_origin(lists[l]->v[i], origin, sizeof(origin), why, sizeof(why)) != 0 ||
                !strcmp(origin, last) || (c->private_origins && list_has(c->private_origins, origin)))
                continue;
            memcpy(last, origin, sizeof(last));
            if (zc_addr_url_private(lists[l]->v[i], why, sizeof(why)) != 1) continue;
            size_t n = strlen(origin);
            if (++count > PRIVATE_ORIGINS_MAX) {
                c->allow_private = 1;
                cw->many_private = 1;
                return 0;
            }
            /* Room for the comma, the origin and its NUL first: the add cannot fail then. */
            if (zc_buf_reserve(&list, n + 2) != 0) {
                snprintf(cw->err, sizeof(cw->err), "out of memory");
                return -1;
            }
            c->private_origins = list.p; /* the configuration owns it */
            (void)zc_buf_add(&list, origin, n, ',');
            list.p[list.len] = '\0';
        }
    return 0;
}

/* The line that says what private_origins decided, once the crawl starts. */
static void say_private_origins(const crawl *cw) {
    const cli_conf *c = cw->c;
    if (c->allow_private && cw->many_private)
        fprintf(stderr, "%s: more than %d start origins are on private addresses: the fetchers may reach private "
                        "addresses for every origin (as with --allow-private)\n",
                CLI_PROG, PRIVATE_ORIGINS_MAX);
    else if (!c->allow_private && c->private_origins)
        fprintf(stderr, "%s: the fetchers may reach private addresses for %s only (named on the command line); "
                        "--allow-private lifts the guard for every origin\n",
                CLI_PROG, c->private_origins);
}

/* Everything that can be checked before anything starts: the executables, the log
 * folder, the state folder's lock. Returns 0, or -1 with a reason in cw->err. */
static int crawl_prepare(crawl *cw) {
    cli_conf *c = cw->c;
    cw->r.c = c;
    cw->r.starts = &cw->starts;
    cw->r.seeds = &cw->seeds;
    cw->st.lock_fd = -1;
    cw->st.proc = -1;
    cw->extra_idx = -1;
    if (cli_find_bindir(&cw->r, cw->extra, cw->err, sizeof(cw->err)) != 0) return -1;
    if (!c->allow_private && private_origins(cw) != 0) return -1;
    if (c->log_dir) {
        if (cli_fmt(cw->r.logdir, sizeof(cw->r.logdir), "%s", c->log_dir) != 0 ||
            (mkdir(cw->r.logdir, 0755) != 0 && errno != EEXIST)) {
            snprintf(cw->err, sizeof(cw->err), "cannot create --log-dir %s: %s", c->log_dir, strerror(errno));
            return -1;
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        if (cli_fmt(cw->r.logdir, sizeof(cw->r.logdir), "%s/zcrawl-run-XXXXXX", tmp && *tmp ? tmp : "/tmp") != 0 ||
            !mkdtemp(cw->r.logdir)) {
            snprintf(cw->err, sizeof(cw->err), "cannot create a log folder in %s: %s", tmp && *tmp ? tmp : "/tmp",
                     strerror(errno));
            return -1;
        }
        cw->own_logdir = 1;
    }
    if (keygen_for_run(cw->r.logdir, cw->r.secret, sizeof(cw->r.secret), cw->err, sizeof(cw->err)) != 0) return -1;
    /* A demo's private Redis lives in its log folder, removed when it completes. */
    char state[4200];
    if (!c->redis && !c->state) {
        if (cli_fmt(state, sizeof(state), "%s/state", cw->r.logdir) != 0) {
            snprintf(cw->err, sizeof(cw->err), "log folder path too long");
            return -1;
        }
        c->state = state;
    }
    int rc = c->redis ? 0 : cli_state_lock(&cw->st, c->state, cw->err, sizeof(cw->err));
    if (c->state == state) c->state = NULL;
    return rc;
}

/* Starts the demo's emulator and the private Redis (or checks --redis), and
 * connects. Returns 0, or -1 with a reason in cw->err. */
static int crawl_open(crawl *cw) {
    if (cw->extra) {
        char log[4200];
        if (cli_fmt(log, sizeof(log), "%s/%s.log", cw->r.logdir, cw->extra) != 0) {
            snprintf(cw->err, sizeof(cw->err), "log folder path too long");
            return -1;
        }
        sup_cmd cmd = { cw->extra, cw->extra_argv, log, 0, 2, -1, 0 };
        if ((cw->extra_idx = sup_start(cw->s, &cmd, cw->err, sizeof(cw->err))) < 0) return -1;
    }
    if (cw->c->redis) {
        if (cli_fmt(cw->r.redis_uri, sizeof(cw->r.redis_uri), "%s", cw->c->redis) != 0) {
            snprintf(cw->err, sizeof(cw->err), "--redis: URI longer than %zu bytes", sizeof(cw->r.redis_uri) - 1);
            return -1;
        }
    } else {
        /* The private Redis has no password: a file meant for another must not reach
         * this launcher's or its broker's connections. */
        if (unsetenv(ZC_REDIS_PASSWORD_FILE_ENV) != 0) {
            snprintf(cw->err, sizeof(cw->err), "unsetenv: %s", strerror(errno));
            return -1;
        }
        if (cli_state_redis(&cw->st, cw->s, cw->r.logdir, cw->r.redis_uri, sizeof(cw->r.redis_uri), cw->err,
                            sizeof(cw->err)) != 0)
            return -1;
    }
    char why[256];
    cw->rc = cli_redis_connect(cw->r.redis_uri, cw->c->crawl, why, sizeof(why));
    if (!cw->rc) {
        char shown[256];
        snprintf(cw->err, sizeof(cw->err), "cannot reach Redis at %s: %s",
                 zc_redact_uri(shown, sizeof(shown), cw->r.redis_uri), why);
        return -1;
    }
    return 0;
}

/* Empties the --out file for --fresh (MongoDB documents stay: writes are upserts). */
static int truncate_out(crawl *cw) {
    if (!cw->c->out) return 0;
    int fd = open(cw->c->out, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) {
        snprintf(cw->err, sizeof(cw->err), "--fresh: cannot empty %s: %s", cw->c->out, strerror(errno));
        return -1;
    }
    if (fd >= 0) close(fd);
    return 0;
}

/* A crawl in a shared Redis whose broker wrote its stats within the last 5 s (five
 * stats intervals) is being run right now: a second broker on it would hand out
 * its URLs twice, and --fresh would delete its state under it. Returns 1 then
 * (with a reason in cw->err). A private Redis needs no look: its folder is locked. */
static int crawl_busy(crawl *cw, const cli_meta *m) {
    cli_progress p;
    if (!cw->c->redis || strcmp(m->state, "running") != 0) return 0;
    if (cli_progress_read(cw->rc, cw->c->crawl, &p, cw->err, sizeof(cw->err)) != 0) return 0;
    long long age = zc_wall_ms() - p.updated_at;
    if (age < 0 || age >= 5000) return 0;
    snprintf(cw->err, sizeof(cw->err), "crawl %s is running (its broker wrote stats %.1f s ago): stop it first, "
                                       "or give another --crawl",
             cw->c->crawl, (double)age / 1000.0);
    return 1;
}

static void show_dead(crawl *cw, long long dead);

/* A crawl of the same name that is another crawl (other start URLs, spec or sink)
 * is not this one's to resume or to call complete: refused, with the ways out.
 * Returns 1 then (with the reason in cw->err), else 0. */
static int crawl_other(crawl *cw, const cli_meta *m) {
    const cli_conf *c = cw->c;
    if (c->fresh || !m->state[0] || !m->identity[0] || !c->identity[0] || !strcmp(m->identity, c->identity)) return 0;
    char where[4200] = "this Redis";
    if (cw->st.dir[0]) snprintf(where, sizeof(where), "%s", cw->st.dir);
    snprintf(cw->err, sizeof(cw->err),
             "crawl %s in %.300s is another crawl (%.400s, %s); give this one its own --crawl NAME or --state DIR, or "
             "--fresh to drop that one and start this one in its place",
             c->crawl, where, m->identity, m->state);
    return 1;
}

/* Reads the crawl's meta before anything starts. Returns 1 when the crawl is
 * already complete (and says so; *dead: its dead letters), 0 to go on, -1 with a
 * reason in cw->err, -2 when it is running elsewhere or is another crawl. */
static int crawl_check_state(crawl *cw, long long *dead) {
    cli_conf *c = cw->c;
    cli_meta m;
    char when[64];
    *dead = 0;
    if (cli_meta_read(cw->rc, c->crawl, &m, cw->err, sizeof(cw->err)) != 0) return -1;
    if (crawl_busy(cw, &m) || crawl_other(cw, &m)) return -2;
    if (c->fresh) {
        long long n = zc_redis_wipe(cw->rc, c->crawl, cw->err, sizeof(cw->err));
        if (n < 0 || truncate_out(cw) != 0) return -1;
        if (m.state[0]) fprintf(stderr, "%s: --fresh: crawl %s starts over (%lld keys deleted)\n", CLI_PROG, c->crawl, n);
        return 0;
    }
    if (!strcmp(m.state, "complete")) {
        if ((*dead = cli_dead_count(cw->rc, c->crawl, cw->err, sizeof(cw->err))) < 0) return -1;
        printf("crawl %s already complete at %s, %lld documents", c->crawl,
               zc_time_utc(m.ended_at, ZC_TIME_ISO, "an unknown time", when, sizeof(when)), m.written);
        if (*dead > 0) printf(", %lld dead letters", *dead);
        printf("; --fresh starts it over\n");
        if (*dead > 0) show_dead(cw, *dead);
        return 1;
    }
    if (m.state[0])
        fprintf(stderr, "%s: resuming crawl %s (%s%s%s)\n", CLI_PROG, c->crawl, m.state, m.reason[0] ? ": " : "",
                m.reason);
    return 0;
}

/* Counters at the start, seeds, then the stages. Returns 0, or -1 with a reason. */
static int crawl_start(crawl *cw) {
    cli_conf *c = cw->c;
    if (cli_progress_read(cw->rc, c->crawl, &cw->p, cw->err, sizeof(cw->err)) != 0) return -1;
    cw->base = cw->p.n;
    if (cw->seeds.n && cli_seeds_push(cw->rc, c->crawl, cw->seeds.v, cw->seeds.n, cw->err, sizeof(cw->err)) != 0)
        return -1;
    cw->r.s = cw->s;
    if (cli_start_pipeline(&cw->r, cw->err, sizeof(cw->err)) != 0) return -1;
    size_t n = cw->starts.n + cw->seeds.n;
    const char *first = cw->starts.n ? cw->starts.v[0] : cw->seeds.v[0];
    if (n == 1) fprintf(stderr, "%s: crawling %s", CLI_PROG, first);
    else fprintf(stderr, "%s: crawling %zu start URLs (%s, ...)", CLI_PROG, n, first);
    char sink[512];
    fprintf(stderr, " with %ld fetcher(s), %ld parser(s), %ld writer(s) into %s (logs in %s", c->fetchers, c->parsers,
            c->writers, c->mongo ? zc_redact_uri(sink, sizeof(sink), c->mongo) : c->out, cw->r.logdir);
    /* The private Redis's address, for `zcrawl status --redis` from another terminal. */
    if (cw->st.dir[0]) fprintf(stderr, ", state in %s, redis %s", cw->st.dir, cw->r.redis_uri);
    if (c->metrics && *c->metrics) {
        /* ":9108" and "0.0.0.0:9108" listen everywhere: this host's loopback reaches them. */
        const char *m = c->metrics;
        int any = m[0] == ':' || !strncmp(m, "0.0.0.0:", 8) || !strncmp(m, "[::]:", 5);
        fprintf(stderr, ", status page http://%s%s/", any ? "127.0.0.1" : "", any ? strrchr(m, ':') : m);
    }
    fprintf(stderr, ")\n");
    say_private_origins(cw);
    return 0;
}

static long long minus(long long now, long long base) { return now > base ? now - base : 0; }

/* This run's counters: the stats hash's minus those at the start. */
static cli_counts run_counts(const crawl *cw) {
    cli_counts d = { minus(cw->p.n.fetched, cw->base.fetched), minus(cw->p.n.written, cw->base.written),
                     minus(cw->p.n.gone, cw->base.gone), minus(cw->p.n.dead, cw->base.dead),
                     minus(cw->p.n.retried, cw->base.retried) };
    return d;
}

/* The broker's problem and Redis's refusal, as one line ("" when all is well). */
static void problem_line(const crawl *cw, char *out, size_t outlen) {
    snprintf(out, outlen, "%s%s%s", cw->p.problem, cw->p.problem[0] && cw->refusal[0] ? "; " : "", cw->refusal);
}

/* Copies s without its " (N s)" ages: a problem that only grew older is the same. */
static void problem_key(const char *s, char *out, size_t outlen) {
    size_t k = 0;
    while (*s && k + 1 < outlen) {
        size_t d = 0;
        if (s[0] == ' ' && s[1] == '(')
            while (s[2 + d] >= '0' && s[2 + d] <= '9') d++;
        if (d > 0 && !strncmp(s + 2 + d, " s)", 3)) {
            s += 2 + d + 3;
            continue;
        }
        out[k++] = *s++;
    }
    out[k] = '\0';
}

/* Prints the problem when it changed since last shown, progress lines or not. */
static void show_problem(crawl *cw) {
    char problem[1024], now[1024], before[1024];
    problem_line(cw, problem, sizeof(problem));
    problem_key(problem, now, sizeof(now));
    problem_key(cw->shown_problem, before, sizeof(before));
    if (!strcmp(now, before)) {
        snprintf(cw->shown_problem, sizeof(cw->shown_problem), "%s", problem); /* its age, for progress lines */
        return;
    }
    fprintf(stderr, "%s%s: %s%s\n", cw->tty ? "\r\033[K" : "", CLI_PROG, problem[0] ? "problem: " : "problem cleared",
            problem);
    snprintf(cw->shown_problem, sizeof(cw->shown_problem), "%s", problem);
}

/* Says which hosts were told to wait, until when and why, when that changed: a
 * crawl that waits an hour for one host must not look stalled. */
static void show_waits(crawl *cw) {
    if (!strcmp(cw->p.waits, cw->shown_waits)) return;
    if (cw->p.waits[0])
        fprintf(stderr, "%s%s: waiting: %s\n", cw->tty ? "\r\033[K" : "", CLI_PROG, cw->p.waits);
    snprintf(cw->shown_waits, sizeof(cw->shown_waits), "%s", cw->p.waits);
}

static void show_progress(crawl *cw, int64_t now, int final) {
    char eta[32] = "-", line[2200];
    if (cw->c->no_progress) return;
    cli_counts d = run_counts(cw);
    if (cw->p.rate > 0.5 && cw->p.queued > 0) snprintf(eta, sizeof(eta), "%.0fs", (double)cw->p.queued / cw->p.rate);
    snprintf(line, sizeof(line),
             "[%6.1fs] %7.1f pages/s  queued %lld  in flight %lld  fetched %lld  written %lld  errors %lld  "
             "retries %lld  ETA %s%s%s%s%s",
             (double)(now - cw->t0) / 1000.0, cw->p.rate, cw->p.queued, cw->p.in_flight, d.fetched, d.written, d.dead,
             d.retried, eta, cw->shown_problem[0] ? "  problem: " : "", cw->shown_problem,
             cw->p.waits[0] ? "  waiting: " : "", cw->p.waits);
    if (cw->tty) fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
    else fprintf(stderr, "%s\n", line);
}

/* Reads the stats hash and Redis's state; reconnects next time when it fails. */
static void poll_progress(crawl *cw) {
    char why[200];
    if (!cw->rc) cw->rc = cli_redis_connect(cw->r.redis_uri, cw->c->crawl, why, sizeof(why));
    if (!cw->rc) {
        snprintf(cw->refusal, sizeof(cw->refusal), "cannot reach Redis: %s", why);
        return;
    }
    cli_progress p;
    if (cli_progress_read(cw->rc, cw->c->crawl, &p, why, sizeof(why)) == 0) {
        /* Counters only grow: lower ones mean Redis lost the crawl's state (restarted
         * empty, keys deleted). What this run did stays counted; the rest is new. */
        if (p.n.fetched < cw->p.n.fetched || p.n.written < cw->p.n.written) cw->state_lost = 1;
        if (cw->state_lost) p.n = cw->p.n;
        cw->p = p;
    }
    if (cw->rc->err || cli_redis_refusal(cw->rc, cw->refusal, sizeof(cw->refusal)) != 0) {
        redisFree(cw->rc);
        cw->rc = NULL;
    }
}

/* The last lines of a log, on stderr. */
static void tail_log(const char *path) {
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) return;
    char lines[10][512];
    int n = 0;
    while (fgets(lines[n % 10], sizeof(lines[0]), f)) n++;
    fclose(f);
    fprintf(stderr, "---- %s\n", path);
    for (int i = n > 10 ? n - 10 : 0; i < n; i++) fputs(lines[i % 10], stderr);
}

/* A child ended for good: decides whether the crawl ends with it. */
static void on_ended(crawl *cw, int i) {
    const sup_proc *p = &cw->s->procs[i];
    int st = p->exit_status, code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (i == cw->r.broker && (code == 0 || code == 1 || code == 3)) {
        cw->ended = END_BROKER;
        return;
    }
    if (code == 0 && i != cw->st.proc && i != cw->extra_idx) return; /* a stage after SHUTDOWN */
    cw->ended = code == 2 ? END_USAGE : END_FAILED;
    if (i == cw->st.proc || i == cw->extra_idx)
        snprintf(cw->err, sizeof(cw->err), "%s ended (%s %d)", p->name, WIFEXITED(st) ? "exit" : "signal",
                 WIFEXITED(st) ? code : WTERMSIG(st));
    else if (code == 2 || code == 4)
        snprintf(cw->err, sizeof(cw->err), "%s %s (exit %d)", p->name, code == 2 ? "refused its configuration" : "gave up",
                 code);
    else
        snprintf(cw->err, sizeof(cw->err), "%s failed %ld times within %ld s (last: %s %d); restart budget spent",
                 p->name, cw->c->max_restarts + 1, cw->c->restart_window_s, WIFEXITED(st) ? "exit" : "signal",
                 WIFEXITED(st) ? code : WTERMSIG(st));
    tail_log(p->log);
}

/* Runs until the broker ends, a signal comes, a child fails for good or the
 * timeout passes; cw->ended says which. */
static void crawl_monitor(crawl *cw) {
    int64_t next_poll = 0, next_show = 0;
    int poll_ms = cw->tty ? 500 : 1000, show_ms = cw->tty ? 500 : 5000;
    while (!cw->ended) {
        int64_t now = zc_now_ms();
        int i;
        if ((cw->signal = zc_signal_stop_requested())) {
            cw->ended = END_SIGNAL;
            break;
        }
        while (!cw->ended && (i = sup_reap(cw->s, now)) >= 0) on_ended(cw, i);
        if (!cw->ended && (i = sup_tick(cw->s, now)) >= 0) on_ended(cw, i);
        if (cw->ended) break;
        if (cw->c->timeout_s > 0 && now - cw->t0 > cw->c->timeout_s * 1000) {
            snprintf(cw->err, sizeof(cw->err), "the crawl did not finish within --timeout %ld s", cw->c->timeout_s);
            cw->ended = END_TIMEOUT;
            break;
        }
        if (now >= next_poll) {
            poll_progress(cw);
            show_problem(cw);
            show_waits(cw);
            next_poll = now + poll_ms;
        }
        if (now >= next_show) {
            show_progress(cw, now, 0);
            next_show = now + show_ms;
        }
        int64_t wait = (next_poll < next_show ? next_poll : next_show) - zc_now_ms(), due = sup_next_due(cw->s, zc_now_ms());
        if (due >= 0 && due < wait) wait = due;
        /* Wakes at once when a child ends (the broker, at the end of the crawl). */
        sup_wait(wait < 5 ? 5 : wait > 1000 ? 1000
                                            : (int)wait);
    }
}

/* The exit code of a crawl whose broker ended, from its exit code and the crawl's
 * meta (or, from a broker that keeps none, the stats hash's state). */
static int broker_outcome(crawl *cw, const cli_meta *m) {
    const sup_proc *b = &cw->s->procs[cw->r.broker];
    int code = WEXITSTATUS(b->exit_status);
    /* A meta still "running" after its broker ended (or none, from a broker that
     * keeps none) says nothing: the broker's last stats do. */
    const char *state = m->state[0] && strcmp(m->state, "running")
                            ? m->state
                            : (!strcmp(cw->p.state, "done") ? "complete" : cw->p.state);
    if (code == 3 || !strcmp(state, "stopped")) {
        snprintf(cw->err, sizeof(cw->err), "the broker was stopped%s%s", m->reason[0] ? ": " : "", m->reason);
        return CLI_EXIT_STOPPED;
    }
    if (!strcmp(state, "complete")) return CLI_EXIT_COMPLETE;
    snprintf(cw->err, sizeof(cw->err), "the broker ended (exit %d) with the crawl %s%s%s", code, state[0] ? state : "unfinished",
             m->reason[0] ? ": " : "", m->reason);
    return CLI_EXIT_FAILED;
}

/* Says where the dead letters are: a file in the state folder for a private Redis
 * (which is not running after the launcher), else the list in Redis. */
static void show_dead(crawl *cw, long long dead) {
    char path[4200], why[256];
    if (cw->st.dir[0] && cli_fmt(path, sizeof(path), "%s/dead.jsonl", cw->st.dir) == 0 &&
        cli_dead_dump(cw->rc, cw->c->crawl, path, why, sizeof(why)) == 0) {
        printf("dead letters: %lld in %s (one JSON object a line: url, stage, reason, time)\n", dead, path);
        return;
    }
    zc_redis_addr a;
    char key[256];
    if (zc_redis_parse(cw->r.redis_uri, &a, why, sizeof(why)) != 0 ||
        zc_redis_key(key, sizeof(key), cw->c->crawl, "dead") != 0)
        return;
    printf("dead letters: %lld in the Redis list %s (redis-cli -h %s -p %d -n %d LRANGE '%s' 0 -1)\n", dead, key, a.host,
           a.port, a.db, key);
}

/* Writes gone.jsonl beside dead.jsonl in the state folder of a private Redis, when
 * the crawl has gone URLs, and says where. */
static void show_gone(crawl *cw, long long gone) {
    char path[4200], why[256];
    long long n = 0;
    if (gone <= 0 || !cw->rc || !cw->st.dir[0] || cli_fmt(path, sizeof(path), "%s/gone.jsonl", cw->st.dir) != 0) return;
    if (cli_gone_dump(cw->rc, cw->c->crawl, path, &n, why, sizeof(why)) != 0) {
        fprintf(stderr, "%s: gone.jsonl: %s\n", CLI_PROG, why);
        return;
    }
    printf("gone: %lld in %s (one JSON object a line: url, status)\n", n, path);
}

/* After the stages stopped: reads the crawl's last state and decides the exit code. */
static int crawl_outcome(crawl *cw, long long *dead) {
    cli_meta m = { 0 };
    char why[256];
    *dead = 0;
    poll_progress(cw);
    show_problem(cw);
    if ((!cw->rc || cli_meta_read(cw->rc, cw->c->crawl, &m, why, sizeof(why)) != 0) && cw->ended == END_BROKER) {
        snprintf(cw->err, sizeof(cw->err), "cannot read the crawl's state from Redis");
        return CLI_EXIT_FAILED;
    }
    if (cw->ended == END_FAILED && !strcmp(m.state, "failed") && m.reason[0]) {
        size_t n = strlen(cw->err);
        snprintf(cw->err + n, sizeof(cw->err) - n, ": %s", m.reason);
    }
    switch (cw->ended) {
    case END_SIGNAL: return CLI_EXIT_STOPPED;
    case END_USAGE: return CLI_EXIT_USAGE;
    case END_FAILED:
    case END_TIMEOUT: return CLI_EXIT_FAILED;
    default: break;
    }
    int rc = broker_outcome(cw, &m);
    if (rc != CLI_EXIT_COMPLETE) return rc;
    *dead = cli_dead_count(cw->rc, cw->c->crawl, why, sizeof(why));
    if (*dead < 0) {
        snprintf(cw->err, sizeof(cw->err), "cannot count dead letters: %s", why);
        return CLI_EXIT_FAILED;
    }
    return *dead > 0 ? CLI_EXIT_DEAD : CLI_EXIT_COMPLETE;
}

/* Prints a spec's nulls and skipped items (docs/SPEC.md, "Silent mistakes,
 * counted"), one line each. Returns the number of warnings: a field null on every
 * document, a template that skipped every item. */
static int show_spec_counts(crawl *cw) {
    char why[256], line[1024];
    if (!cw->rc || !cw->c->spec) return 0;
    redisReply *h = cli_spec_counts_read(cw->rc, cw->c->crawl, why, sizeof(why));
    zc_cs_spec *v = NULL;
    size_t n = 0;
    int warns = 0;
    if (!h || zc_cs_spec_list(h, &v, &n) != 0) {
        fprintf(stderr, "%s: cannot read the spec's counters: %s\n", CLI_PROG, h ? "out of memory" : why);
        if (h) freeReplyObject(h);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!v[i].bad) continue;
        int w = zc_cs_spec_warns(&v[i]);
        warns += w;
        printf("%s%s\n", w ? "warning: " : "", zc_cs_spec_line(&v[i], line, sizeof(line)));
    }
    zc_cs_spec_free(v, n);
    freeReplyObject(h);
    return warns;
}

/* Prints the summary; returns rc, or CLI_EXIT_DEAD for a complete crawl whose spec
 * drew a warning (a field null on every document, every item skipped). */
static int print_summary(crawl *cw, int rc, long long dead) {
    cli_counts d = run_counts(cw);
    double secs = (double)(zc_now_ms() - cw->t0) / 1000.0, cpu = 0;
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
              (double)ru.ru_stime.tv_usec / 1e6;
    char sig[64] = "";
    if (rc == CLI_EXIT_STOPPED && cw->signal) snprintf(sig, sizeof(sig), " by %s", zc_signal_name(cw->signal));
    if (cw->state_lost) snprintf(sig, sizeof(sig), " (Redis lost its state; counts as last read, at least)");
    if (rc != CLI_EXIT_COMPLETE && rc != CLI_EXIT_DEAD && cw->err[0] && !cw->signal)
        fprintf(stderr, "%s: error: %s\n", CLI_PROG, cw->err);
    printf("crawl %s%s: %lld pages fetched, %lld documents written, %lld gone, %lld dead letters, %lld retries "
           "in %.1f s (%.0f pages/s, %.2f CPU s)\n",
           rc <= CLI_EXIT_DEAD ? "complete" : (rc == CLI_EXIT_STOPPED ? "stopped" : "failed"),
           sig, d.fetched, d.written,
           d.gone, d.dead, d.retried, secs, secs > 0 ? (double)d.fetched / secs : 0.0, cpu);
    if (rc == CLI_EXIT_DEAD) show_dead(cw, dead);
    if (rc <= CLI_EXIT_DEAD) show_gone(cw, d.gone);
    int warns = rc <= CLI_EXIT_DEAD ? show_spec_counts(cw) : 0;
    if (warns) {
        printf("%d warning%s about the spec (docs/SPEC.md, \"Silent mistakes, counted\"): exit 1\n", warns,
               warns > 1 ? "s" : "");
        rc = CLI_EXIT_DEAD;
    }
    if (rc >= CLI_EXIT_STOPPED && cw->c->resume_cmd)
        printf("resume with: %s%s\n", cw->c->resume_cmd,
               cw->state_lost ? "  # Redis lost this crawl's state: this starts it over from its start URLs" : "");
    if (rc != CLI_EXIT_COMPLETE) fprintf(stderr, "%s: logs in %s\n", CLI_PROG, cw->r.logdir);
    fflush(stdout);
    return rc;
}

/* Stops the stages (then the broker), reads the outcome, stops Redis, reports. */
static int crawl_finish(crawl *cw) {
    long long dead = 0;
    if (cw->tty && !cw->c->no_progress) fputc('\n', stderr);
    sup_stop_wave(cw->s, 0, 10000);
    sup_stop_wave(cw->s, 1, 10000);
    int rc = crawl_outcome(cw, &dead);
    rc = print_summary(cw, rc, dead);
    cli_state_stop(&cw->st, cw->s, cw->r.redis_uri);
    sup_stop_all(cw->s, 10000);
    if (rc == CLI_EXIT_COMPLETE && cw->own_logdir && nftw(cw->r.logdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        zc_warn("remove_failed", "path=%s reason=\"%s\"", cw->r.logdir, strerror(errno));
    return rc;
}

/* A crawl from its checks to its exit code. */
static int crawl_run(crawl *cw) {
    int rc = CLI_EXIT_USAGE;
    cw->tty = isatty(STDERR_FILENO) && !cw->c->no_progress;
    cw->t0 = zc_now_ms();
    cw->s = calloc(1, sizeof(*cw->s));
    if (!cw->s) {
        snprintf(cw->err, sizeof(cw->err), "out of memory");
        goto fail;
    }
    cw->s->policy = (sup_policy){ (int)cw->c->max_restarts, cw->c->restart_window_s * 1000, 250, 30000 };
    if (zc_signal_install() != 0 || sup_init() != 0) {
        snprintf(cw->err, sizeof(cw->err), "cannot install signal handlers");
        goto fail;
    }
    if (crawl_prepare(cw) != 0) goto fail;
    rc = CLI_EXIT_FAILED;
    int state = 0;
    long long dead = 0;
    if (crawl_open(cw) != 0 || (state = crawl_check_state(cw, &dead)) < 0) {
        if (state == -2) rc = CLI_EXIT_USAGE;
        goto fail;
    }
    if (state == 1) { /* the crawl's own outcome: complete, with dead letters or not */
        cw->ended = END_NONE;
        cli_state_stop(&cw->st, cw->s, cw->r.redis_uri);
        sup_stop_all(cw->s, 10000);
        if (cw->own_logdir) nftw(cw->r.logdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        crawl_free(cw);
        return dead > 0 ? CLI_EXIT_DEAD : CLI_EXIT_COMPLETE;
    }
    if (crawl_start(cw) != 0) goto fail;
    crawl_monitor(cw);
    rc = crawl_finish(cw);
    crawl_free(cw);
    return rc;
fail:
    fprintf(stderr, "%s: error: %s%s%s%s\n", CLI_PROG, cw->err, rc == CLI_EXIT_FAILED ? " (logs in " : "",
            rc == CLI_EXIT_FAILED ? cw->r.logdir : "", rc == CLI_EXIT_FAILED ? ")" : "");
    if (cw->s) {
        cli_state_stop(&cw->st, cw->s, cw->r.redis_uri);
        sup_stop_all(cw->s, 5000);
    }
    if (rc == CLI_EXIT_FAILED && cw->c->resume_cmd) printf("resume with: %s\n", cw->c->resume_cmd);
    if (rc == CLI_EXIT_USAGE && cw->own_logdir) nftw(cw->r.logdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    crawl_free(cw);
    return rc;
}

static const char *const USAGE_RUN = "run [flags] [START_URL...]";
static const char *const USAGE_DEMO = "demo [flags]";

int cmd_run(int argc, char **argv) {
    cli_conf c = cli_conf_defaults();
    crawl cw = { .c = &c };
    char err[512], state[4096];
    int npos = 0;
    cli_conf_parse(&c, argc, argv, &npos, USAGE_RUN);
    for (int i = 2; i < 2 + npos; i++) {
        if (zc_url_check(argv[i], strlen(argv[i]), err, sizeof(err)) != 0)
            zc_die(CLI_EXIT_USAGE, CLI_PROG, "bad START_URL '%.100s%s': %s", argv[i], strlen(argv[i]) > 100 ? "..." : "", err);
        if (cli_urls_add(&cw.starts, argv[i]) != 0) zc_die(1, CLI_PROG, "out of memory");
    }
    if (c.seeds && cli_seeds_read(c.seeds, &cw.seeds, err, sizeof(err)) != 0) zc_die(CLI_EXIT_USAGE, CLI_PROG, "%s", err);
    if (cw.starts.n + cw.seeds.n == 0)
        zc_die(CLI_EXIT_USAGE, CLI_PROG, "run needs a START_URL or a --seeds file with at least one URL");
    if (!c.mongo && !c.out) c.out = "zcrawl-books.jsonl";
    cli_run probe = { .c = &c };
    if (cli_find_bindir(&probe, NULL, err, sizeof(err)) != 0) zc_die(CLI_EXIT_USAGE, CLI_PROG, "%s", err);
    if (cli_spec_check(&probe, err, sizeof(err)) != 0) {
        if (err[0]) zc_die(CLI_EXIT_USAGE, CLI_PROG, "%s", err);
        cli_urls_free(&cw.starts); /* the parser said what is wrong: the one line */
        cli_urls_free(&cw.seeds);
        cli_conf_free(&c);
        return CLI_EXIT_USAGE;
    }
    if (cli_identity(&c, &cw.starts) != 0) zc_die(CLI_EXIT_USAGE, CLI_PROG, "cannot read the working folder: %s", strerror(errno));
    if (!c.redis && !c.state) {
        if (cli_fmt(state, sizeof(state), ".zcrawl/%s", c.crawl) != 0) zc_die(CLI_EXIT_USAGE, CLI_PROG, "crawl name too long");
        c.state = state;
    }
    int rc = crawl_run(&cw);
    cli_conf_free(&c);
    return rc;
}

/* The emulator's command line for the demo, into a (its port into *port). */
static int demo_sitesim(const cli_conf *c, const char *bindir, cli_argv *a, int *port) {
    if ((*port = cli_free_port()) < 0) return -1;
    cli_argv_addf(a, "%s/zcrawl-sitesim", bindir);
    cli_argv_add(a, "--port");
    cli_argv_addf(a, "%d", *port);
    cli_argv_flagl(a, "--books", c->books);
    cli_argv_flagl(a, "--latency-ms", c->latency_ms);
    cli_argv_flagl(a, "--jitter-ms", c->jitter_ms);
    cli_argv_flagl(a, "--seed", c->seed);
    return cli_argv_ok(a) ? 0 : -1;
}

int cmd_demo(int argc, char **argv) {
    cli_conf c = cli_conf_defaults();
    crawl cw = { .c = &c, .extra = "sitesim" };
    cli_argv sim = { 0 };
    char start[128];
    int npos = 0, port;
    cli_conf_parse(&c, argc, argv, &npos, USAGE_DEMO);
    if (npos != 0) zc_die(CLI_EXIT_USAGE, CLI_PROG, "demo takes no START_URL");
    /* Each demo crawls a new emulator: it starts over and cannot be resumed. */
    free(c.resume_cmd);
    c.resume_cmd = NULL;
    c.fresh = 1;
    if (!c.mongo && !c.out) c.out = "zcrawl-demo.jsonl";
    if (c.state) zc_die(CLI_EXIT_USAGE, CLI_PROG, "demo keeps no state: drop --state");
    cli_run probe = { .c = &c };
    if (cli_find_bindir(&probe, "sitesim", cw.err, sizeof(cw.err)) != 0) zc_die(CLI_EXIT_USAGE, CLI_PROG, "%s", cw.err);
    if (cli_spec_check(&probe, cw.err, sizeof(cw.err)) != 0) {
        if (cw.err[0]) zc_die(CLI_EXIT_USAGE, CLI_PROG, "%s", cw.err);
        return CLI_EXIT_USAGE;
    }
    if (demo_sitesim(&c, probe.bindir, &sim, &port) != 0) zc_die(CLI_EXIT_FAILED, CLI_PROG, "no free port for the emulator");
    snprintf(start, sizeof(start), "http://127.0.0.1:%d/api/book/?limit=18&offset=0", port);
    if (cli_urls_add(&cw.starts, start) != 0) zc_die(1, CLI_PROG, "out of memory");
    cw.extra_argv = sim.v;
    int rc = crawl_run(&cw);
    cli_argv_free(&sim);
    cli_conf_free(&c);
    return rc;
}
