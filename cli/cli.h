/* cli.h -- the zcrawl launcher's commands and the modules they share: the
 * configuration of a local crawl (cli_conf.c), bounded formatting and argv
 * building (cli_argv.c), seeds files (cli_seeds.c), the crawl's Redis keys
 * (cli_redis.c), the private redis-server and its state folder (cli_state.c), the
 * stage table (cli_stages.c) and a crawl from start to summary (cli_run.c). */
#ifndef CLI_H
#define CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <hiredis.h>

#include "supervise.h"

#define CLI_PROG "zcrawl"

/* Exit codes of `zcrawl run` and `zcrawl demo` (README, "Exit codes"). */
enum {
    CLI_EXIT_COMPLETE = 0, /* complete, every URL written, gone or excluded */
    CLI_EXIT_DEAD = 1,     /* complete, with dead letters */
    CLI_EXIT_USAGE = 2,    /* usage or configuration error, nothing started */
    CLI_EXIT_STOPPED = 3,  /* stopped by a signal, resumable */
    CLI_EXIT_FAILED = 4    /* the crawl cannot finish; the message says why */
};

/* ---- commands: int cmd_NAME(argc, argv), argv[0] the program, argv[1] the command ---- */
int cmd_run(int argc, char **argv);
int cmd_demo(int argc, char **argv);

/* ---- configuration of a local crawl (cli_conf.c) ---- */
typedef struct cli_conf {
    long fetchers, parsers, writers, max_per_host, concurrency, lease_ms, timeout_s;
    long max_restarts, restart_window_s, max_retries;
    long books, latency_ms, jitter_ms, seed;
    double rate;
    const char *mongo, *out, *redis, *crawl, *log_level, *log_dir, *bin_dir, *state, *seeds, *spec, *allow_host;
    const char *metrics; /* the broker's --metrics, NULL or "" when off */
    int no_progress, via_broker, fresh, allow_private, ignore_robots;
    char *resume_cmd;      /* the command that resumes this crawl (owned) */
    char *private_origins; /* start or seed origins on non-public addresses, comma-separated (owned) */
    char identity[1024];   /* what the crawl is, recorded in its meta (cli_identity) */
} cli_conf;

/* The defaults of every flag. */
cli_conf cli_conf_defaults(void);
/* Parses the flags of run or demo (argv[0] is the command) into c, which holds the
 * defaults; positional arguments move to argv[1..*npos]. Exits 0 on --help and 2
 * with one line on a bad flag or value. */
void cli_conf_parse(cli_conf *c, int argc, char **argv, int *npos, const char *synopsis);
/* Prints the usage of prog with synopsis and summary, and the flags of run and demo
 * with their defaults. */
void cli_conf_usage(FILE *f, const char *synopsis, const char *summary);
/* "prog run ... " from argv, shell-quoted, without --fresh: running it again
 * resumes the crawl. Returns NULL when out of memory. */
char *cli_resume_command(const char *prog, int argc, char **argv);
void cli_conf_free(cli_conf *c);

/* ---- bounded formatting and argv building (cli_argv.c) ---- */
/* snprintf that reports truncation: returns 0, or -1 (with buf cut) when the
 * result did not fit or formatting failed. */
int cli_fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A NULL-terminated argv of owned strings with a sticky out-of-memory error,
 * checked once (cli_argv_ok) before the argv is used. Zero-initialise it. */
typedef struct cli_argv {
    char **v;
    int n, cap, oom;
} cli_argv;
void cli_argv_add(cli_argv *a, const char *s);
void cli_argv_addf(cli_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends "flag value". */
void cli_argv_flag(cli_argv *a, const char *flag, const char *value);
void cli_argv_flagl(cli_argv *a, const char *flag, long value);
int cli_argv_ok(const cli_argv *a);
void cli_argv_reset(cli_argv *a);
void cli_argv_free(cli_argv *a);

/* ---- seeds files (cli_seeds.c) ---- */
typedef struct cli_urls {
    char **v; /* owned */
    size_t n, cap;
} cli_urls;
/* Reads one URL a line from path into u: blank lines and lines starting with '#'
 * (after leading blanks) are skipped, each other line is checked with
 * zc_url_check. Returns 0, or -1 with "path:line: reason" (or an I/O reason) in
 * err and nothing added. */
int cli_seeds_read(const char *path, cli_urls *u, char *err, size_t errlen);
/* Appends a copy of url. Returns 0, or -1 when out of memory. */
int cli_urls_add(cli_urls *u, const char *url);
void cli_urls_free(cli_urls *u);
/* What a crawl is, in one line for its meta hash and its errors: the start URLs
 * (the first, how many, a hash of all), the seeds file, the spec and the sink, as
 * absolute paths (a sink's URI without its password). Into c->identity. Returns
 * 0, or -1 when the working folder cannot be read. */
int cli_identity(cli_conf *c, const cli_urls *starts);

/* ---- the crawl's keys in Redis (cli_redis.c) ---- */
/* The crawl's meta hash (docs/REDIS.md): state is "" when there is none. */
typedef struct cli_meta {
    char state[16];
    char reason[256];
    char identity[1024]; /* what the crawl is (start URLs, spec, sink); "" when not recorded */
    long long ended_at, written;
} cli_meta;
/* Counters of the stats hash; this run's are the difference to those at its start. */
typedef struct cli_counts {
    long long fetched, written, gone, dead, retried;
} cli_counts;
typedef struct cli_progress {
    cli_counts n;
    long long queued, in_flight;
    long long updated_at; /* ms since the epoch of the broker's last stats */
    double rate;
    char state[16];
    char problem[512];
    char waits[512]; /* hosts told to wait (Retry-After): until when, why */
} cli_progress;

/* Connects to uri (1 s timeouts); with a crawl, to the Redis Cluster node that
 * serves its keys (MOVED followed). Returns NULL with a one-line reason in err. */
redisContext *cli_redis_connect(const char *uri, const char *crawl, char *err, size_t errlen);
int cli_meta_read(redisContext *rc, const char *crawl, cli_meta *m, char *err, size_t errlen);
int cli_progress_read(redisContext *rc, const char *crawl, cli_progress *p, char *err, size_t errlen);
/* Why Redis refuses writes (maxmemory reached, a failed AOF write or RDB save, a
 * read-only replica), in one line into out; "" when it takes them. Returns 0, or -1
 * when INFO failed. */
int cli_redis_refusal(redisContext *rc, char *out, size_t outlen);
/* LLEN of the crawl's dead list, or -1 with a reason in err. */
long long cli_dead_count(redisContext *rc, const char *crawl, char *err, size_t errlen);
/* Writes the crawl's dead letters, one JSON object a line, into path. */
int cli_dead_dump(redisContext *rc, const char *crawl, const char *path, char *err, size_t errlen);
/* Writes the crawl's gone URLs to path, one JSON object a line ({"url": ...,
 * "status": 404}; 200 for a page that said its item is gone), their number in *n.
 * Returns 0, or -1 with a reason in err. */
/* HGETALL of the crawl's spec_counts hash (a spec's nulls and skips), for
 * zc_cs_spec_list. Returns the reply (the caller frees it), or NULL with err. */
redisReply *cli_spec_counts_read(redisContext *rc, const char *crawl, char *err, size_t errlen);
int cli_gone_dump(redisContext *rc, const char *crawl, const char *path, long long *n, char *err, size_t errlen);
/* RPUSHes urls into the crawl's seeds list, 1000 a command. */
int cli_seeds_push(redisContext *rc, const char *crawl, char *const *urls, size_t n, char *err,
                   size_t errlen);

/* ---- private redis-server and its state folder (cli_state.c) ---- */
typedef struct cli_state {
    char dir[4096]; /* the state folder ("" with --redis) */
    int lock_fd;    /* flock on dir/lock, kept by the redis-server too */
    int proc;       /* index of the redis-server in the sup, -1 for none */
    int port;
} cli_state;
/* Creates the state folder (and its parents) and locks it. Returns 0, or -1 with a
 * reason in err (another zcrawl holds it, or it cannot be created). */
int cli_state_lock(cli_state *st, const char *dir, char *err, size_t errlen);
/* Starts redis-server with its data (appendonly) in the state folder and waits
 * until it answers; writes its URI into uri. Returns 0, or -1 with a reason. */
int cli_state_redis(cli_state *st, sup *s, const char *logdir, char *uri, size_t urilen, char *err,
                    size_t errlen);
/* Shuts the private redis-server down (its AOF is flushed); no-op without one. */
void cli_state_stop(cli_state *st, sup *s, const char *uri);
void cli_state_unlock(cli_state *st);

/* ---- stages (cli_stages.c) ---- */
#define CLI_IPCDIR_MAX 80 /* a socket's name fits in 108 bytes */
#define CLI_EP_LEN     (CLI_IPCDIR_MAX + 24)
/* A local crawl being run. */
typedef struct cli_run {
    cli_conf *c;
    sup *s;
    char bindir[4096];
    char logdir[4096];
    char redis_uri[512];
    char ipcdir[CLI_IPCDIR_MAX]; /* the stages' ipc:// sockets ("" before they start) */
    char ep[5][CLI_EP_LEN];      /* control, pages in, pages out, docs in, docs out */
    int broker;                  /* index in s */
    const cli_urls *starts;      /* start URLs given on the command line */
    char secret[4096];           /* the crawl secret's file for broker, parsers and writers; "" without keys */
    const cli_urls *seeds;       /* URLs of the --seeds file */
} cli_run;

/* A free port on 127.0.0.1 for a process to bind later, or -1. */
int cli_free_port(void);
/* Finds the folder of the zcrawl-* executables (--bin-dir, else beside zcrawl) and
 * checks that every stage can be run. Returns 0, or -1 with a reason. */
int cli_find_bindir(cli_run *r, const char *extra_stage, char *err, size_t errlen);
/* Makes c->spec absolute and has zcrawl-parser --check-spec check it before anything
 * starts (the parser prints its one error line). Returns 0 when there is no spec or
 * it is good, else -1 (with a reason in err when the parser could not be run). */
int cli_spec_check(cli_run *r, char *err, size_t errlen);
/* Starts the broker, then writers, parsers and fetchers, wired directly (or through
 * the broker with --via-broker) over ipc:// sockets in a folder of their own
 * (r->ipcdir; the launcher removes it once they stopped). Returns 0, or -1 with
 * a reason in err. */
int cli_start_pipeline(cli_run *r, char *err, size_t errlen);

#endif
