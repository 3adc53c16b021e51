/* cli_state.c -- the private redis-server of `zcrawl run` without --redis, its data
 * kept append-only in a locked state folder so the same command resumes the crawl
 * after Ctrl-C (as Scrapy's JOBDIR does). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "zc_signal.h"

/* mkdir -p dir. Returns 0, or -1 with a reason in err. */
static int mkdirs(const char *dir, char *err, size_t errlen) {
    char p[4096];
    if (cli_fmt(p, sizeof(p), "%s", dir) != 0) {
        snprintf(err, errlen, "state folder path too long");
        return -1;
    }
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", p, strerror(errno));
            return -1;
        }
        if (!(*s = c)) break;
    }
    return 0;
}

/* Takes the lock on fd. When the zcrawl that holds it is gone (killed), its
 * redis-server is still shutting down with the lock: that takes a moment, so this
 * waits up to 30 s. A live holder is an error at once. Returns 0, or -1 with a
 * reason in err. */
static int lock_wait(int fd, const char *dir, char *err, size_t errlen) {
    for (int i = 0; flock(fd, LOCK_EX | LOCK_NB) != 0; i++) {
        char buf[32] = "";
        if (errno != EWOULDBLOCK) {
            snprintf(err, errlen, "cannot lock %s/lock: %s", dir, strerror(errno));
            return -1;
        }
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
        if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH || i >= 600) {
            snprintf(err, errlen, "state folder %s is in use by another zcrawl%s", dir, pid > 0 ? "" : " (pid unknown)");
            if (pid > 0) snprintf(err + strlen(err), errlen - strlen(err), " (pid %ld%s)", pid,
                                  i >= 600 ? ", gone, but its redis-server still runs" : "");
            return -1;
        }
        if (i == 0) fprintf(stderr, "zcrawl: waiting for the redis-server of a stopped zcrawl (pid %ld) to release %s\n",
                            pid, dir);
        struct timespec t = { 0, 50 * 1000000L };
        nanosleep(&t, NULL);
    }
    return 0;
}

int cli_state_lock(cli_state *st, const char *dir, char *err, size_t errlen) {
    char path[4200];
    st->lock_fd = -1;
    st->proc = -1;
    if (cli_fmt(st->dir, sizeof(st->dir), "%s", dir) != 0 || cli_fmt(path, sizeof(path), "%s/lock", dir) != 0) {
        snprintf(err, errlen, "state folder path too long");
        return -1;
    }
    if (mkdirs(dir, err, errlen) != 0) return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (lock_wait(fd, dir, err, errlen) != 0) {
        close(fd);
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    st->lock_fd = fd;
    return 0;
}

void cli_state_unlock(cli_state *st) {
    if (st->lock_fd >= 0) close(st->lock_fd);
    st->lock_fd = -1;
}

/* Finds name in PATH (then /usr/bin, /usr/sbin) into out. */
static int find_on_path(const char *name, char *out, size_t outlen) {
    const char *path = getenv("PATH");
    char *dirs = NULL;
    if (asprintf(&dirs, "%s:/usr/bin:/usr/sbin", path ? path : "") < 0) return -1;
    char *save = NULL;
    int rc = -1;
    for (char *d = strtok_r(dirs, ":", &save); d && rc != 0; d = strtok_r(NULL, ":", &save))
        if (*d && cli_fmt(out, outlen, "%s/%s", d, name) == 0 && access(out, X_OK) == 0) rc = 0;
    free(dirs);
    return rc;
}

/* The pid of the redis-server at uri (INFO server's process_id), 0 when it does
 * not answer yet (its reason into why), -1 when it answers without one. */
static long redis_pid(const char *uri, char *why, size_t whylen) {
    redisContext *rc = cli_redis_connect(uri, NULL, why, whylen); /* it PINGs */
    if (!rc) return 0;
    long pid = -1;
    redisReply *rep = redisCommand(rc, "INFO server");
    const char *p = rep && rep->type == REDIS_REPLY_STRING ? strstr(rep->str, "process_id:") : NULL;
    if (p) pid = strtol(p + 11, NULL, 10);
    if (rep) freeReplyObject(rep);
    redisFree(rc);
    return pid;
}

/* Starts redis-server on a free port and waits until it answers. The port is free
 * when picked, not when bound: another launcher started at the same moment can
 * take it first. Then this redis-server exits (the port is in use) and the one
 * that answers there is the other's: only an answer from this child's pid counts,
 * and a child that ended starts again on another port. Returns 0, 1 to try
 * another port, or -1 with a reason in err. */
static int start_once(cli_state *st, sup *s, const char *exe, const char *log, char *uri, size_t urilen,
                      char *err, size_t errlen) {
    char port[16];
    if ((st->port = cli_free_port()) < 0) {
        snprintf(err, errlen, "no free port for redis-server");
        return -1;
    }
    snprintf(port, sizeof(port), "%d", st->port);
    /* Append-only, fsynced every second and at shutdown; no RDB snapshots. */
    char *argv[] = { (char *)exe, "--port", port, "--bind", "127.0.0.1", "--dir", st->dir, "--save", "",
                     "--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no", NULL };
    sup_cmd cmd = { "redis", argv, log, 0, 2, st->lock_fd, 0 };
    if ((st->proc = sup_start(s, &cmd, err, errlen)) < 0) return -1;
    if (cli_fmt(uri, urilen, "redis://127.0.0.1:%d", st->port) != 0) {
        snprintf(err, errlen, "Redis URI too long");
        return -1;
    }
    /* Loading a long crawl's append-only file takes a while: up to a minute. */
    char why[256] = "";
    for (int i = 0; i < 3000 && !zc_signal_stop_requested(); i++) {
        long pid = redis_pid(uri, why, sizeof(why));
        if (pid > 0 && pid == (long)s->procs[st->proc].pid) return 0;
        if (!sup_alive(s, st->proc)) return 1;
        if (pid != 0) snprintf(why, sizeof(why), "another redis-server answers on port %d", st->port);
        struct timespec t = { 0, 20 * 1000000L };
        nanosleep(&t, NULL);
    }
    snprintf(err, errlen, "private redis-server did not answer (%s; see %s)", why, log);
    return -1;
}

int cli_state_redis(cli_state *st, sup *s, const char *logdir, char *uri, size_t urilen, char *err,
                    size_t errlen) {
    char exe[4096], log[4200];
    if (find_on_path("redis-server", exe, sizeof(exe)) != 0) {
        snprintf(err, errlen, "redis-server not found: install it (make deps) or pass --redis URI");
        return -1;
    }
    if (cli_fmt(log, sizeof(log), "%s/redis.log", logdir) != 0) {
        snprintf(err, errlen, "log folder path too long");
        return -1;
    }
    for (int tries = 0; tries < 5; tries++) {
        int rc = start_once(st, s, exe, log, uri, urilen, err, errlen);
        if (rc <= 0) return rc;
    }
    snprintf(err, errlen, "private redis-server ended 5 times at start (see %s)", log);
    return -1;
}

void cli_state_stop(cli_state *st, sup *s, const char *uri) {
    if (st->proc < 0 || s->procs[st->proc].pid <= 0) return;
    char why[256];
    redisContext *rc = cli_redis_connect(uri, NULL, why, sizeof(why));
    if (!rc) return; /* sup_stop_all's SIGTERM shuts it down just as well */
    /* SHUTDOWN flushes the append-only file and exits at once (SIGTERM would wait
     * for the next cron tick). There is normally no reply: the server closes. */
    redisReply *rep = redisCommand(rc, "SHUTDOWN");
    if (rep) freeReplyObject(rep);
    redisFree(rc);
}
