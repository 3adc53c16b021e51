/* cli_stages.c -- the stages of a local crawl: one table of {role, how many, argv
 * builder}, free ports, and the wiring between stages. */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "zc_buf.h"
#include "zc_scope.h"
#include "zc_time.h"

#define CLI_MAX_STAGE 64 /* instances of one role (the flags' range) */

/* Binds a socket to 127.0.0.1:port (0: any ephemeral port) and closes it.
 * Returns the port it got, or -1 when the bind failed. */
static int try_port(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    int got = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        got = ntohs(a.sin_port);
    close(fd);
    return got;
}

/* Picked below the kernel's ephemeral range: a port bind(0) hands out is an
 * ephemeral one, and once closed it can become the local port of any process's
 * next connect() (a writer's MongoDB connection took a parser's port that way)
 * before the stage binds it. Falls back to an ephemeral port when the range
 * leaves no room. */
int cli_free_port(void) {
    /* A port is free when it is picked, not when it is bound: one launcher picks
     * several before its stages bind them, so it never hands out one twice. */
    static int given[256];
    static size_t ngiven;
    static unsigned seed;
    int lo = 32768;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d", &lo) != 1) lo = 32768;
        fclose(f);
    }
    if (!seed) seed = (unsigned)getpid() ^ (unsigned)zc_now_ms();
    const int base = 20000;
    int port = -1;
    for (int i = 0; lo - base > 1000 && i < 200 && port < 0; i++) {
        int p = base + (int)(rand_r(&seed) % (unsigned)(lo - base));
        for (size_t k = 0; k < ngiven && p > 0; k++)
            if (given[k] == p) p = -1;
        if (p > 0) port = try_port(p);
    }
    if (port < 0) port = try_port(0);
    if (port > 0 && ngiven < sizeof(given) / sizeof(*given)) given[ngiven++] = port;
    return port;
}

/* The path of zcrawl-<stage> in bindir into out, checked to be executable. */
static int stage_exe(const cli_run *r, const char *stage, char *out, size_t outlen, char *err, size_t errlen) {
    if (cli_fmt(out, outlen, "%s/zcrawl-%s", r->bindir, stage) != 0) {
        snprintf(err, errlen, "--bin-dir path too long");
        return -1;
    }
    if (access(out, X_OK) != 0) {
        snprintf(err, errlen, "cannot run %s: %s (build with make)", out, strerror(errno));
        return -1;
    }
    return 0;
}

int cli_find_bindir(cli_run *r, const char *extra_stage, char *err, size_t errlen) {
    if (r->c->bin_dir) {
        if (cli_fmt(r->bindir, sizeof(r->bindir), "%s", r->c->bin_dir) != 0) {
            snprintf(err, errlen, "--bin-dir path too long");
            return -1;
        }
    } else {
        ssize_t n = readlink("/proc/self/exe", r->bindir, sizeof(r->bindir) - 1);
        char *slash = n > 0 ? memrchr(r->bindir, '/', (size_t)n) : NULL;
        if (!slash || (size_t)n >= sizeof(r->bindir) - 1) {
            snprintf(err, errlen, "cannot find the folder of the zcrawl executables (use --bin-dir)");
            return -1;
        }
        *slash = '\0';
    }
    const char *stages[] = { "broker", "writer", "parser", "fetcher", extra_stage };
    char exe[4200];
    for (size_t i = 0; i < sizeof(stages) / sizeof(*stages); i++)
        if (stages[i] && stage_exe(r, stages[i], exe, sizeof(exe), err, errlen) != 0) return -1;
    return 0;
}

int cli_spec_check(cli_run *r, char *err, size_t errlen) {
    cli_conf *c = (cli_conf *)r->c;
    if (!c->spec || !*c->spec) {
        c->spec = NULL;
        return 0;
    }
    static char abs_spec[PATH_MAX];
    if (!realpath(c->spec, abs_spec)) {
        snprintf(err, errlen, "--spec %s: %s", c->spec, strerror(errno));
        return -1;
    }
    c->spec = abs_spec; /* the stages may run in another folder */
    char exe[4200];
    if (stage_exe(r, "parser", exe, sizeof(exe), err, errlen) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        char *av[] = { exe, "--spec", abs_spec, "--check-spec", NULL };
        execv(exe, av);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, errlen, "waitpid: %s", strerror(errno));
            return -1;
        }
    err[0] = '\0'; /* the parser has said what is wrong */
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* How pages and documents travel: straight from stage to stage (each parser and
 * writer binds a port of its own, the stages upstream connect to all of them), or
 * through the broker's streamers. */
typedef struct wiring {
    int direct;
    char page_binds[CLI_MAX_STAGE][CLI_EP_LEN], doc_binds[CLI_MAX_STAGE][CLI_EP_LEN];
    zc_buf page_list, doc_list; /* "ipc://...,ipc://..." */
} wiring;

/* Names n endpoints for n downstream stages in the socket folder: "@ipc://..." into
 * binds, the list to connect to into list, each entry marked "#role" (with keys, the
 * stage bound there serves with its role's keypair). Returns 0, or -1 when a name
 * does not fit or memory runs out. */
static int direct_endpoints(const cli_run *r, long n, const char *role, char binds[][CLI_EP_LEN], zc_buf *list) {
    for (long i = 0; i < n; i++) {
        char entry[CLI_EP_LEN + 16];
        if (cli_fmt(binds[i], CLI_EP_LEN, "@ipc://%s/%c%ld", r->ipcdir, role[0], i + 1) != 0 ||
            cli_fmt(entry, sizeof(entry), "%s#%s", binds[i] + 1, role) != 0)
            return -1;
        if (zc_buf_add(list, entry, strlen(entry), ',') != 0) return -1;
    }
    return zc_buf_add(list, "", 1, 0); /* the NUL */
}

typedef void (*stage_argv_fn)(const cli_run *r, const wiring *w, long i, cli_argv *a);

static void broker_argv(const cli_run *r, const wiring *w, long i, cli_argv *a) {
    const cli_conf *c = r->c;
    static const char *const eps[5] = { "--control", "--pages-in", "--pages-out", "--docs-in", "--docs-out" };
    (void)w, (void)i;
    cli_argv_flag(a, "--crawl", c->crawl); /* --redis: ZCRAWL_REDIS, see cli_start_pipeline */
    if (c->identity[0]) cli_argv_flag(a, "--identity", c->identity);
    for (int k = 0; k < 5; k++) cli_argv_flag(a, eps[k], r->ep[k]);
    cli_argv_flagl(a, "--max-per-host", c->max_per_host);
    cli_argv_flagl(a, "--lease-ms", c->lease_ms);
    if (c->max_retries >= 0) cli_argv_flagl(a, "--max-retries", c->max_retries);
    if (c->rate > 0) {
        cli_argv_add(a, "--rate");
        cli_argv_addf(a, "%g", c->rate);
    }
    cli_argv_flag(a, "--log-level", c->log_level);
    if (c->allow_host && *c->allow_host) cli_argv_flag(a, "--allow-host", c->allow_host);
    if (c->ignore_robots) cli_argv_add(a, "--ignore-robots");
    if (c->metrics && *c->metrics) cli_argv_flag(a, "--metrics", c->metrics);
    if (r->secret[0]) cli_argv_flag(a, "--secret-file", r->secret); /* never the fetchers' */
    /* Start URLs as arguments (seeding them again on a resume changes nothing:
     * the seen set knows them); a seeds file goes through the seeds list. */
    for (size_t k = 0; r->starts && k < r->starts->n; k++) cli_argv_add(a, r->starts->v[k]);
}

static void writer_argv(const cli_run *r, const wiring *w, long i, cli_argv *a) {
    const cli_conf *c = r->c;
    cli_argv_flag(a, "--broker", r->ep[0]);
    cli_argv_flag(a, "--docs", w->direct ? w->doc_binds[i] : r->ep[4]);
    if (!c->mongo) cli_argv_flag(a, "--out", c->out); /* --mongo: ZCRAWL_MONGO */
    cli_argv_flagl(a, "--lease-ms", c->lease_ms);     /* HOLD every third of it */
    cli_argv_flag(a, "--log-level", c->log_level);
    if (r->secret[0]) cli_argv_flag(a, "--secret-file", r->secret);
}

static void parser_argv(const cli_run *r, const wiring *w, long i, cli_argv *a) {
    cli_argv_flag(a, "--broker", r->ep[0]);
    cli_argv_flag(a, "--pages", w->direct ? w->page_binds[i] : r->ep[2]);
    cli_argv_flag(a, "--docs", w->direct ? w->doc_list.p : r->ep[3]);
    if (r->c->spec) cli_argv_flag(a, "--spec", r->c->spec);
    cli_argv_flagl(a, "--lease-ms", r->c->lease_ms); /* HOLD every third of it */
    cli_argv_flag(a, "--log-level", r->c->log_level);
    if (r->secret[0]) cli_argv_flag(a, "--secret-file", r->secret);
}

/* "--spec FILE --spec-origins ORIGINS": the fetchers send the spec's headers to
 * the origins of the start URLs and seeds only (never a value in argv: the fetcher
 * reads the variables from the environment it inherits). */
static void fetcher_spec(const cli_run *r, cli_argv *a) {
    zc_scope *seen = zc_scope_new();
    zc_buf list = { 0 };
    int oom = !seen;
    const cli_urls *lists[] = { r->starts, r->seeds };
    for (int l = 0; l < 2 && !oom; l++)
        for (size_t k = 0; lists[l] && k < lists[l]->n && !oom; k++) {
            char o[ZC_SCOPE_ORIGIN_MAX], why[128];
            if (zc_scope_origin(lists[l]->v[k], o, sizeof(o), why, sizeof(why)) != 0) continue; /* checked before */
            int added = zc_scope_add_origin(seen, o, why, sizeof(why));
            if (added < 0 || (added == 1 && zc_buf_add(&list, o, strlen(o), ',') != 0)) oom = 1;
        }
    if (!oom && zc_buf_add(&list, "", 1, 0) != 0) oom = 1;
    if (oom) a->oom = 1;
    else {
        cli_argv_flag(a, "--spec", r->c->spec);
        cli_argv_flag(a, "--spec-origins", list.p);
    }
    zc_buf_free(&list);
    zc_scope_free(seen);
}

static void fetcher_argv(const cli_run *r, const wiring *w, long i, cli_argv *a) {
    (void)i;
    cli_argv_flag(a, "--broker", r->ep[0]);
    if (r->c->spec) fetcher_spec(r, a);
    cli_argv_flag(a, "--pages", w->direct ? w->page_list.p : r->ep[1]);
    cli_argv_flagl(a, "--concurrency", r->c->concurrency);
    if (r->c->allow_private) cli_argv_add(a, "--allow-private");
    else if (r->c->private_origins) cli_argv_flag(a, "--allow-private-origin", r->c->private_origins);
    cli_argv_flag(a, "--log-level", r->c->log_level);
}

#define ONE ((size_t)-1)
/* Started in this order (downstream first, so each stage finds the next one up);
 * stopped in waves, lowest first: the broker after the stages whose outcomes it
 * still takes. */
static const struct cli_stage {
    const char *role;
    size_t count; /* offsetof the cli_conf field with the number, or ONE */
    int wave;
    unsigned final; /* exit codes never restarted (0: a stage's, SUP_FINAL) */
    stage_argv_fn argv;
} STAGES[] = {
    /* The broker's 1 (complete, dead letters) and 3 (stopped) are outcomes too. */
    { "broker", ONE, 1, SUP_FINAL | (1u << 1) | (1u << 3), broker_argv },
    { "writer", offsetof(cli_conf, writers), 0, 0, writer_argv },
    { "parser", offsetof(cli_conf, parsers), 0, 0, parser_argv },
    { "fetcher", offsetof(cli_conf, fetchers), 0, 0, fetcher_argv },
};

/* Makes the folder of the pipeline's ipc:// sockets (mode 0700: this user's
 * stages only) into r->ipcdir: in the log folder, or in $TMPDIR or /tmp when that
 * path is too long for a socket's name (108 bytes). A folder of its own per
 * launcher: two launchers started at once never pick the same endpoint, as they
 * could pick the same free TCP port before either bound it. Returns 0, or -1 with
 * a reason in err. */
static int make_ipcdir(cli_run *r, char *err, size_t errlen) {
    char logdir[PATH_MAX];
    const char *tmp = getenv("TMPDIR");
    const char *bases[] = { realpath(r->logdir, logdir) ? logdir : NULL, tmp && *tmp == '/' ? tmp : NULL, "/tmp" };
    for (size_t i = 0; i < sizeof(bases) / sizeof(*bases); i++) {
        if (!bases[i] || strlen(bases[i]) > CLI_IPCDIR_MAX - 12) continue;
        if (cli_fmt(r->ipcdir, sizeof(r->ipcdir), "%s/%s", bases[i], i == 0 ? "ipc-XXXXXX" : "zcrawl-ipc-XXXXXX") == 0 &&
            mkdtemp(r->ipcdir))
            return 0;
    }
    snprintf(err, errlen, "cannot create a folder for the stages' sockets in %s or /tmp: %s", r->logdir, strerror(errno));
    r->ipcdir[0] = '\0';
    return -1;
}

static int pick_wiring(cli_run *r, wiring *w, char *err, size_t errlen) {
    static const char *const names[5] = { "control", "pages-in", "pages-out", "docs-in", "docs-out" };
    const cli_conf *c = r->c;
    if (make_ipcdir(r, err, errlen) != 0) return -1;
    for (int i = 0; i < 5; i++)
        if (cli_fmt(r->ep[i], sizeof(r->ep[i]), "ipc://%s/%s", r->ipcdir, names[i]) != 0) {
            snprintf(err, errlen, "socket path too long");
            return -1;
        }
    /* Direct wiring spares every page and document two hops through the broker;
     * when it cannot be had, the broker's streamers carry them. */
    w->direct = !c->via_broker && c->parsers <= CLI_MAX_STAGE && c->writers <= CLI_MAX_STAGE &&
                direct_endpoints(r, c->parsers, "parser", w->page_binds, &w->page_list) == 0 &&
                direct_endpoints(r, c->writers, "writer", w->doc_binds, &w->doc_list) == 0;
    return 0;
}

/* Starts instance i (0-based) of stage st. Returns 0, or -1 with a reason. */
static int start_one(cli_run *r, const struct cli_stage *st, const wiring *w, long i, cli_argv *a,
                     char *err, size_t errlen) {
    char exe[4200], name[32], log[4200];
    cli_argv_reset(a);
    if (stage_exe(r, st->role, exe, sizeof(exe), err, errlen) != 0) return -1;
    cli_argv_add(a, exe);
    st->argv(r, w, i, a);
    if (!cli_argv_ok(a)) {
        snprintf(err, errlen, "out of memory building the %s's command line", st->role);
        return -1;
    }
    if (cli_fmt(name, sizeof(name), "%s-%ld", st->role, i + 1) != 0 ||
        cli_fmt(log, sizeof(log), "%s/%s.log", r->logdir, name) != 0) {
        snprintf(err, errlen, "log folder path too long");
        return -1;
    }
    sup_cmd cmd = { name, a->v, log, 1, st->wave, -1, st->final };
    int idx = sup_start(r->s, &cmd, err, errlen);
    if (idx < 0) return -1;
    if (st->count == ONE) r->broker = idx;
    return 0;
}

int cli_start_pipeline(cli_run *r, char *err, size_t errlen) {
    wiring *w = calloc(1, sizeof(*w));
    cli_argv a = { 0 };
    int rc = -1;
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (pick_wiring(r, w, err, errlen) != 0) goto out;
    /* A URI may hold a password: to the stages through the environment (readable by
     * root and this user only), never on a command line (every user's ps). */
    if (setenv("ZCRAWL_REDIS", r->redis_uri, 1) != 0 || (r->c->mongo && setenv("ZCRAWL_MONGO", r->c->mongo, 1) != 0)) {
        snprintf(err, errlen, "setenv: %s", strerror(errno));
        goto out;
    }
    for (size_t k = 0; k < sizeof(STAGES) / sizeof(*STAGES); k++) {
        const struct cli_stage *st = &STAGES[k];
        long n = st->count == ONE ? 1 : *(const long *)((const char *)r->c + st->count);
        for (long i = 0; i < n; i++)
            if (start_one(r, st, w, i, &a, err, errlen) != 0) goto out;
    }
    rc = 0;
out:
    cli_argv_free(&a);
    zc_buf_free(&w->page_list);
    zc_buf_free(&w->doc_list);
    free(w);
    return rc;
}
