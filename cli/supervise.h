/* supervise.h -- starts the stages of a local crawl as child processes, restarts
 * the ones that fail (backing off, within a budget per time window), and stops
 * them in waves. Used by `zcrawl run` and `zcrawl demo`. */
#ifndef SUPERVISE_H
#define SUPERVISE_H

#include <stdint.h>
#include <sys/types.h>

#define SUP_MAX_PROCS  256
#define SUP_MAX_BUDGET 100 /* restarts per window at most (the flag's range) */

/* How failed processes come back: the first restart waits min_ms, each next one
 * twice as long up to max_ms; at most max_restarts within any window_ms. A process
 * that stayed up for a whole window starts again from min_ms. */
typedef struct sup_policy {
    int max_restarts;
    int64_t window_ms, min_ms, max_ms;
} sup_policy;

/* One process's restart history under a sup_policy. Zero-initialise it. */
typedef struct sup_backoff {
    int64_t at[SUP_MAX_BUDGET]; /* times of the restarts in the window, a ring */
    int head, n;
    int64_t next_ms; /* the delay the next restart waits (0: min_ms) */
} sup_backoff;

/* Decides what follows a failure at now (ms, monotonic) of a process that had been
 * up for uptime_ms. Returns the delay before its restart, or -1 when max_restarts
 * restarts already happened within the window ending now (the budget is spent). */
int64_t sup_backoff_fail(sup_backoff *b, const sup_policy *p, int64_t now, int64_t uptime_ms);

typedef struct sup_proc {
    char name[32];      /* "fetcher-1" */
    char **argv;        /* owned copy, NULL-terminated */
    char *log;          /* stdout/stderr go here (NULL: inherited) */
    pid_t pid;          /* 0 when not running */
    int restart;        /* restart it when it fails */
    int wave;           /* sup_stop_all stops lower waves first */
    int keep_fd;        /* a descriptor the child inherits (-1: none) */
    unsigned final;     /* exit codes that end it for good (see sup_cmd) */
    int restarts;       /* restarts so far */
    int exit_status;    /* last waitpid status */
    int exited;         /* ended and will not be restarted */
    int64_t started_at; /* monotonic ms of the last start */
    int64_t restart_at; /* monotonic ms of a pending restart (0: none) */
    sup_backoff bo;
} sup_proc;

typedef struct sup {
    sup_proc procs[SUP_MAX_PROCS];
    int n;
    sup_policy policy;
} sup;

/* Blocks SIGCHLD in the caller so that sup_wait can sleep until a child ends
 * (children get it unblocked again). Returns 0, or -1 with errno. */
int sup_init(void);
/* Sleeps until a child ends or changes state, a handled signal arrives, or
 * timeout_ms pass, whichever is first. */
void sup_wait(int timeout_ms);
/* What to start: keep_fd is a descriptor the child inherits (-1: none; the
 * private redis-server keeps the state folder's lock that way). */
typedef struct sup_cmd {
    const char *name;  /* "fetcher-1", at most 31 bytes */
    char *const *argv; /* NULL-terminated */
    const char *log;   /* stdout/stderr go here (NULL: inherited) */
    int restart, wave, keep_fd;
    unsigned final; /* exit codes (bit n: code n) that are never restarted;
                           0: SUP_FINAL, a stage's 0 (done), 2 (usage) and 4 (gave up) */
} sup_cmd;

#define SUP_FINAL ((1u << 0) | (1u << 2) | (1u << 4))

/* Adds a process and starts it; argv is copied. Each child runs in a process group
 * of its own (a terminal's ^C reaches the launcher only) and gets SIGTERM when the
 * launcher dies. Returns its index, or -1 with a reason in err (table full, name
 * or log path too long, out of memory, fork failure). */
int sup_start(sup *s, const sup_cmd *c, char *err, size_t errlen);
/* Reaps children that ended. A restartable child that died by a signal or with an
 * exit code not in its final set is scheduled for a restart after its backoff while
 * its budget lasts. Returns the index of a child that ended for good in this call (one
 * per call), or -1 when there is none. */
int sup_reap(sup *s, int64_t now);
/* Returns 1 while child i runs; once it ended, reaps it and marks it ended for
 * good (no restart), returning 0. For waiting on one child before the others run. */
int sup_alive(sup *s, int i);
/* Starts the children whose restart is due. Returns the index of one that could
 * not be started (it ended for good), or -1. */
int sup_tick(sup *s, int64_t now);
/* Milliseconds until the next pending restart (0 when one is due), or -1 for none. */
int64_t sup_next_due(const sup *s, int64_t now);
/* Stops every running child, wave after wave (lowest first): SIGTERM, then
 * SIGKILL after grace_ms; waits for each wave before the next. Cancels pending
 * restarts. */
void sup_stop_all(sup *s, int grace_ms);
/* The same for the children of one wave only. */
void sup_stop_wave(sup *s, int wave, int grace_ms);
/* Frees the copies of argv and log paths. */
void sup_free(sup *s);

#endif
