/* supervise.h -- starts the stages of a local crawl as child processes, restarts
 * the ones that crash, and stops them all. Used by `zcrawl run` and `zcrawl demo`. */
#ifndef SUPERVISE_H
#define SUPERVISE_H

#include <sys/types.h>

#define SUP_MAX_PROCS 128
#define SUP_MAX_ARGS 48

typedef struct sup_proc {
    char name[32];            /* "fetcher-1" */
    char *argv[SUP_MAX_ARGS]; /* owned copies, NULL-terminated */
    char log[512];            /* stderr/stdout go here ("" = inherit) */
    pid_t pid;                /* 0 when not running */
    int restart;              /* restart when it dies with a failure */
    int restarts;
    int exit_status;          /* last waitpid status */
    int exited;               /* set once it ended and will not be restarted */
} sup_proc;

typedef struct sup {
    sup_proc procs[SUP_MAX_PROCS];
    int n;
    int max_restarts;
} sup;

/* Blocks SIGCHLD in the caller so that sup_wait can sleep until a child ends
 * (children get it unblocked again). Returns 0, or -1 with errno. */
int sup_init(void);
/* Sleeps until a child ends or changes state, a handled signal arrives, or
 * timeout_ms pass, whichever is first. */
void sup_wait(int timeout_ms);
/* Adds a process and starts it. argv is copied. Returns its index, or -1 with a
 * reason in err (fork/exec failure, table full). */
int sup_start(sup *s, const char *name, char *const argv[], const char *log, int restart,
              char *err, size_t errlen);
/* Reaps children that ended. A failed restartable child is started again (up to
 * max_restarts). Returns the index of a child that ended for good in this call
 * (one per call), or -1. */
int sup_reap(sup *s);
/* SIGTERM to every running child, then SIGKILL after grace_ms; waits for all. */
void sup_stop_all(sup *s, int grace_ms);
/* Frees the argv copies. */
void sup_free(sup *s);
int sup_running(const sup *s, int i);

#endif
