/* supervise.c -- child processes of a local crawl (see supervise.h). */
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zc_log.h"
#include "zc_time.h"

int sup_init(void) {
    sigset_t chld;
    if (sigemptyset(&chld) != 0 || sigaddset(&chld, SIGCHLD) != 0) return -1;
    return sigprocmask(SIG_BLOCK, &chld, NULL);
}

void sup_wait(int timeout_ms) {
    sigset_t chld;
    if (timeout_ms < 0) timeout_ms = 0;
    struct timespec t = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
    if (sigemptyset(&chld) != 0 || sigaddset(&chld, SIGCHLD) != 0) {
        nanosleep(&t, NULL);
        return;
    }
    /* EAGAIN (timeout) and EINTR (SIGINT/SIGTERM handled) both just return. */
    (void)sigtimedwait(&chld, NULL, &t);
}

static int sup_spawn(sup_proc *p, char *err, size_t errlen) {
    int fd = -1;
    if (p->log[0]) {
        fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            snprintf(err, errlen, "cannot open log %s: %s", p->log, strerror(errno));
            return -1;
        }
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (pid == 0) {
        /* A child of its own process group, so a terminal's ^C reaches the launcher
         * only, which then stops the stages in order. */
        setpgid(0, 0);
        if (fd >= 0 && (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)) _exit(126);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(p->argv[0], p->argv);
        fprintf(stderr, "zcrawl: error: cannot run %s: %s\n", p->argv[0], strerror(errno));
        _exit(127);
    }
    if (fd >= 0) close(fd);
    p->pid = pid;
    return 0;
}

int sup_start(sup *s, const char *name, char *const argv[], const char *log, int restart,
              char *err, size_t errlen) {
    if (s->n == SUP_MAX_PROCS) {
        snprintf(err, errlen, "too many processes (%d)", SUP_MAX_PROCS);
        return -1;
    }
    sup_proc *p = &s->procs[s->n];
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->log, sizeof(p->log), "%s", log ? log : "");
    int i;
    for (i = 0; argv[i] && i < SUP_MAX_ARGS - 1; i++) {
        p->argv[i] = strdup(argv[i]);
        if (!p->argv[i]) {
            snprintf(err, errlen, "out of memory");
            goto err;
        }
    }
    p->argv[i] = NULL;
    p->restart = restart;
    if (sup_spawn(p, err, errlen) != 0) goto err;
    return s->n++;
err:
    for (int k = 0; p->argv[k]; k++) free(p->argv[k]);
    memset(p, 0, sizeof(*p));
    return -1;
}

int sup_running(const sup *s, int i) { return s->procs[i].pid > 0; }

int sup_reap(sup *s) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return -1;
        for (int i = 0; i < s->n; i++) {
            sup_proc *p = &s->procs[i];
            if (p->pid != pid) continue;
            p->pid = 0;
            p->exit_status = status;
            int failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
            if (failed && p->restart && p->restarts < s->max_restarts) {
                char err[256];
                p->restarts++;
                zc_warn("stage_restart", "name=%s status=%d restarts=%d", p->name,
                        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), p->restarts);
                if (sup_spawn(p, err, sizeof(err)) == 0) break;
                zc_error("stage_restart_failed", "name=%s reason=\"%s\"", p->name, err);
            }
            p->exited = 1;
            return i;
        }
    }
}

void sup_stop_all(sup *s, int grace_ms) {
    for (int i = s->n - 1; i >= 0; i--)
        if (s->procs[i].pid > 0 && kill(s->procs[i].pid, SIGTERM) != 0 && errno != ESRCH)
            zc_warn("kill_failed", "name=%s reason=\"%s\"", s->procs[i].name, strerror(errno));
    int64_t t0 = zc_now_ms();
    for (;;) {
        int64_t waited = zc_now_ms() - t0;
        int running = 0;
        for (int i = 0; i < s->n; i++) {
            sup_proc *p = &s->procs[i];
            if (p->pid <= 0) continue;
            int status;
            pid_t r = waitpid(p->pid, &status, WNOHANG);
            if (r == p->pid || (r < 0 && errno == ECHILD)) {
                p->pid = 0;
                p->exit_status = status;
                p->exited = 1;
            } else {
                running++;
                if (waited >= grace_ms) kill(p->pid, SIGKILL);
            }
        }
        if (!running) return;
        sup_wait(20);
    }
}

void sup_free(sup *s) {
    for (int i = 0; i < s->n; i++)
        for (int k = 0; s->procs[i].argv[k]; k++) free(s->procs[i].argv[k]);
    s->n = 0;
}
