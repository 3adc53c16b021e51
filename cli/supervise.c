/* supervise.c -- child processes of a local crawl (see supervise.h). */
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zc_log.h"
#include "zc_time.h"

int64_t sup_backoff_fail(sup_backoff *b, const sup_policy *p, int64_t now, int64_t uptime_ms) {
    int budget = p->max_restarts < SUP_MAX_BUDGET ? p->max_restarts : SUP_MAX_BUDGET;
    /* Restarts older than the window no longer count. */
    while (b->n > 0 && b->at[b->head] <= now - p->window_ms) {
        b->head = (b->head + 1) % SUP_MAX_BUDGET;
        b->n--;
    }
    if (b->n >= budget) return -1;
    if (uptime_ms >= p->window_ms || b->next_ms < p->min_ms) b->next_ms = p->min_ms;
    int64_t delay = b->next_ms < p->max_ms ? b->next_ms : p->max_ms;
    b->next_ms = delay * 2 < p->max_ms ? delay * 2 : p->max_ms;
    b->at[(b->head + b->n) % SUP_MAX_BUDGET] = now;
    b->n++;
    return delay;
}

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

/* The child's side of a spawn: never returns. */
static void sup_exec(sup_proc *p, int fd, pid_t parent) {
    /* A process group of its own, so a terminal's ^C reaches the launcher only,
     * which then stops the stages in order; and SIGTERM when the launcher dies
     * (kill -9), so no stage or private redis-server outlives it. */
    setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(126);
    if (fd >= 0 && (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)) _exit(126);
    if (p->keep_fd >= 0 && fcntl(p->keep_fd, F_SETFD, 0) != 0) _exit(126);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(p->argv[0], p->argv);
    fprintf(stderr, "zcrawl: error: cannot run %s: %s\n", p->argv[0], strerror(errno));
    _exit(127);
}

static int sup_spawn(sup_proc *p, char *err, size_t errlen) {
    int fd = -1;
    if (p->log) {
        fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            snprintf(err, errlen, "cannot open log %s: %s", p->log, strerror(errno));
            return -1;
        }
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (pid == 0) sup_exec(p, fd, parent);
    if (fd >= 0) close(fd);
    p->pid = pid;
    p->started_at = zc_now_ms();
    p->restart_at = 0;
    return 0;
}

static void sup_proc_free(sup_proc *p) {
    if (p->argv)
        for (int k = 0; p->argv[k]; k++) free(p->argv[k]);
    free(p->argv);
    free(p->log);
    memset(p, 0, sizeof(*p));
}

int sup_start(sup *s, const sup_cmd *c, char *err, size_t errlen) {
    if (s->n == SUP_MAX_PROCS) {
        snprintf(err, errlen, "too many processes (%d)", SUP_MAX_PROCS);
        return -1;
    }
    sup_proc *p = &s->procs[s->n];
    memset(p, 0, sizeof(*p));
    size_t n = 0;
    while (c->argv[n]) n++;
    if ((size_t)snprintf(p->name, sizeof(p->name), "%s", c->name) >= sizeof(p->name)) {
        snprintf(err, errlen, "process name '%s' longer than %zu bytes", c->name, sizeof(p->name) - 1);
        goto err;
    }
    p->argv = calloc(n + 1, sizeof(*p->argv));
    if (!p->argv || (c->log && !(p->log = strdup(c->log)))) goto oom;
    for (size_t i = 0; i < n; i++)
        if (!(p->argv[i] = strdup(c->argv[i]))) goto oom;
    p->restart = c->restart;
    p->wave = c->wave;
    p->keep_fd = c->keep_fd;
    p->final = c->final ? c->final : SUP_FINAL;
    if (sup_spawn(p, err, errlen) != 0) goto err;
    return s->n++;
oom:
    snprintf(err, errlen, "out of memory");
err:
    sup_proc_free(p);
    return -1;
}

static int sup_exit_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Reaped child p ended with status at now. Returns 1 when it ended for good. */
static int sup_ended(sup *s, sup_proc *p, int status, int64_t now) {
    p->pid = 0;
    p->exit_status = status;
    int code = sup_exit_code(status);
    int final = WIFEXITED(status) && code < 32 && (p->final & (1u << code));
    if (final || !p->restart) {
        p->exited = 1;
        return 1;
    }
    int64_t delay = sup_backoff_fail(&p->bo, &s->policy, now, now - p->started_at);
    if (delay < 0) {
        zc_warn("stage_budget_spent", "name=%s status=%d restarts=%d window_ms=%lld", p->name, code,
                p->restarts, (long long)s->policy.window_ms);
        p->exited = 1;
        return 1;
    }
    p->restart_at = now + (delay > 0 ? delay : 1);
    zc_warn("stage_restart", "name=%s status=%d in_ms=%lld restarts=%d", p->name, code,
            (long long)delay, p->restarts + 1);
    return 0;
}

int sup_reap(sup *s, int64_t now) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return -1;
        for (int i = 0; i < s->n; i++)
            if (s->procs[i].pid == pid) {
                if (sup_ended(s, &s->procs[i], status, now)) return i;
                break;
            }
    }
}

int sup_alive(sup *s, int i) {
    sup_proc *p = &s->procs[i];
    if (p->pid <= 0) return 0;
    int status = 0;
    pid_t r = waitpid(p->pid, &status, WNOHANG);
    if (r == 0) return 1;
    p->pid = 0;
    p->exit_status = status;
    p->exited = 1;
    return 0;
}

int sup_tick(sup *s, int64_t now) {
    for (int i = 0; i < s->n; i++) {
        sup_proc *p = &s->procs[i];
        if (!p->restart_at || p->restart_at > now) continue;
        char err[256];
        p->restarts++;
        if (sup_spawn(p, err, sizeof(err)) == 0) continue;
        zc_error("stage_restart_failed", "name=%s reason=\"%s\"", p->name, err);
        p->restart_at = 0;
        p->exited = 1;
        return i;
    }
    return -1;
}

int64_t sup_next_due(const sup *s, int64_t now) {
    int64_t best = -1;
    for (int i = 0; i < s->n; i++) {
        int64_t at = s->procs[i].restart_at;
        if (!at) continue;
        int64_t in = at > now ? at - now : 0;
        if (best < 0 || in < best) best = in;
    }
    return best;
}

void sup_stop_wave(sup *s, int wave, int grace_ms) {
    for (int i = s->n - 1; i >= 0; i--) {
        sup_proc *p = &s->procs[i];
        if (p->wave != wave) continue;
        p->restart_at = 0;
        if (p->pid > 0 && kill(p->pid, SIGTERM) != 0 && errno != ESRCH)
            zc_warn("kill_failed", "name=%s reason=\"%s\"", p->name, strerror(errno));
    }
    int64_t t0 = zc_now_ms();
    for (;;) {
        int64_t waited = zc_now_ms() - t0;
        int running = 0;
        for (int i = 0; i < s->n; i++) {
            sup_proc *p = &s->procs[i];
            if (p->wave != wave || p->pid <= 0) continue;
            int status = 0;
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

void sup_stop_all(sup *s, int grace_ms) {
    int top = 0;
    for (int i = 0; i < s->n; i++)
        if (s->procs[i].wave > top) top = s->procs[i].wave;
    for (int w = 0; w <= top; w++) sup_stop_wave(s, w, grace_ms);
}

void sup_free(sup *s) {
    for (int i = 0; i < s->n; i++) sup_proc_free(&s->procs[i]);
    s->n = 0;
}
