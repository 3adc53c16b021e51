/* frontier_cmd.c -- the frontier's Redis command layer (frontier_cmd.h). */
#include "frontier_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zc_log.h"

static void fr_set_err(frontier *fr, const char *what) {
    if (fr->rc && fr->rc->err)
        snprintf(fr->err, sizeof(fr->err), "%s: redis %s:%d: %s", what, fr->addr.host, fr->addr.port, fr->rc->errstr);
    else
        snprintf(fr->err, sizeof(fr->err), "%s: redis %s:%d: no reply", what, fr->addr.host, fr->addr.port);
}

static int fr_connect(frontier *fr) {
    /* On a Redis Cluster, the node that serves the crawl's slot (fr->addr follows it). */
    fr->rc = zc_redis_connect_crawl(&fr->addr, fr->crawl, 2000, fr->err, sizeof(fr->err));
    if (!fr->rc) return -1;
    /* A command may wait longer than a connect: a Lua script over a big crawl. */
    struct timeval cmd_tv = { 10, 0 };
    if (redisSetTimeout(fr->rc, cmd_tv) != REDIS_OK) {
        fr_set_err(fr, "cannot configure connection");
        redisFree(fr->rc);
        fr->rc = NULL;
        return -1;
    }
    return 0;
}

int frontier_open(frontier *fr, const char *uri, const char *crawl, char *err, size_t errlen) {
    memset(fr, 0, sizeof(*fr));
    if (zc_redis_crawl_check(crawl, err, errlen) != 0) return -1;
    if (zc_redis_parse(uri, &fr->addr, err, errlen) != 0) return -1;
    memcpy(fr->crawl, crawl, strlen(crawl) + 1);
    struct {
        char *key;
        const char *name;
    } keys[] = {
        { fr->k_frontier, "frontier" },
        { fr->k_seen, "seen" },
        { fr->k_leases, "leases" },
        { fr->k_delayed, "delayed" },
        { fr->k_retries, "retries" },
        { fr->k_dead, "dead" },
        { fr->k_gone, "gone" },
        { fr->k_stats, "stats" },
        { fr->k_seeds, "seeds" },
        { fr->k_meta, "meta" },
        { fr->k_ready, "ready" },
        { fr->k_active, "active" },
        { fr->k_waiting, "waiting" },
        { fr->k_spec_counts, "spec_counts" },
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        (void)zc_redis_key(keys[i].key, FRONTIER_KEY_MAX, crawl, keys[i].name); /* fits: crawl <= 63 */
    if (fr_connect(fr) != 0) {
        snprintf(err, errlen, "%s", fr->err);
        return -1;
    }
    return 0;
}

void frontier_close(frontier *fr) {
    if (fr->rc) redisFree(fr->rc);
    fr->rc = NULL;
}

int frontier_reconnect(frontier *fr) {
    frontier_close(fr);
    return fr_connect(fr);
}

int frontier_broken(const frontier *fr) { return fr->rc == NULL || fr->rc->err != 0; }

int frontier_refused(const frontier *fr) { return fr->refused; }

/* Sends argv and reads the reply, following MOVED answers to the node named (at
 * most 3 times). Returns the reply, an error reply included (the caller frees
 * it), or NULL with fr->err when none came. */
static redisReply *send_argv(frontier *fr, int argc, const char **argv, const size_t *lens) {
    if (frontier_broken(fr)) {
        snprintf(fr->err, sizeof(fr->err), "redis %s:%d: not connected", fr->addr.host, fr->addr.port);
        return NULL;
    }
    redisReply *r = redisCommandArgv(fr->rc, argc, argv, lens);
    for (int hop = 0; r && hop < 3 && zc_redis_moved(r, &fr->addr); hop++) {
        freeReplyObject(r);
        zc_info("redis_moved", "crawl=%s node=%s:%d", fr->crawl, fr->addr.host, fr->addr.port);
        if (frontier_reconnect(fr) != 0) return NULL;
        r = redisCommandArgv(fr->rc, argc, argv, lens);
    }
    if (!r) fr_set_err(fr, "command failed");
    return r;
}

/* An error reply becomes fr->err (and fr->refused says whether Redis refused a
 * write): returns NULL then, and r freed. Any other reply is returned. */
static redisReply *check_reply(frontier *fr, redisReply *r) {
    if (!r) return NULL;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(fr->err, sizeof(fr->err), "redis error: %.200s", r->str);
        fr->refused = !strncmp(r->str, "OOM", 3) || !strncmp(r->str, "READONLY", 8) ||
                      !strncmp(r->str, "MISCONF", 7);
        freeReplyObject(r);
        return NULL;
    }
    fr->refused = 0;
    return r;
}

redisReply *frontier_cmd(frontier *fr, int argc, const char **argv, const size_t *lens) {
    return check_reply(fr, send_argv(fr, argc, argv, lens));
}

int frontier_pipeline(frontier *fr, size_t n, const int *argc, const char **const *argv, redisReply **replies) {
    if (frontier_broken(fr)) {
        snprintf(fr->err, sizeof(fr->err), "redis %s:%d: not connected", fr->addr.host, fr->addr.port);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        replies[i] = NULL;
        if (redisAppendCommandArgv(fr->rc, argc[i], argv[i], NULL) != REDIS_OK) {
            fr_set_err(fr, "pipeline");
            return -1;
        }
    }
    int failed = 0, moved = 0;
    for (size_t i = 0; i < n; i++) {
        if (redisGetReply(fr->rc, (void **)&replies[i]) != REDIS_OK || !replies[i]) {
            fr_set_err(fr, "pipeline");
            for (size_t k = 0; k < i; k++) freeReplyObject(replies[k]);
            return -1;
        }
        if (replies[i]->type == REDIS_REPLY_ERROR) {
            failed = 1;
            moved |= zc_redis_moved(replies[i], &fr->addr);
        }
    }
    if (!failed) return 0;
    for (size_t i = 0; i < n; i++) freeReplyObject(replies[i]);
    /* The crawl's slot moved: the next call goes to its new node. */
    if (moved && frontier_reconnect(fr) != 0) return -1;
    snprintf(fr->err, sizeof(fr->err), "redis error in a pipeline of %zu commands%s", n, moved ? " (slot moved)" : "");
    return -1;
}

static void args_push(frontier_args *a, const char *s, size_t len) {
    if (a->oom) return;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        const char **v = realloc(a->v, cap * sizeof(*v));
        if (v) a->v = v;
        size_t *l = v ? realloc(a->len, cap * sizeof(*l)) : NULL;
        if (l) a->len = l;
        char **o = l ? realloc(a->owned, cap * sizeof(*o)) : NULL;
        if (!o) {
            a->oom = 1;
            return;
        }
        a->owned = o;
        a->cap = cap;
    }
    a->v[a->n] = s;
    a->len[a->n] = len;
    a->n++;
}

void frontier_args_str(frontier_args *a, const char *s) { args_push(a, s, strlen(s)); }

void frontier_args_own_bytes(frontier_args *a, char *s, size_t len) {
    size_t n = a->n;
    if (s) args_push(a, s, len);
    if (a->oom || a->n == n) {
        a->oom = 1;
        free(s);
        return;
    }
    a->owned[a->nowned++] = s;
}

void frontier_args_own(frontier_args *a, char *s) {
    size_t n = a->n;
    if (s) args_push(a, s, strlen(s));
    if (a->oom || a->n == n) {
        a->oom = 1;
        free(s);
        return;
    }
    a->owned[a->nowned++] = s;
}

void frontier_args_ll(frontier_args *a, long long v) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", v); /* 20 digits and a sign always fit */
    frontier_args_own(a, strdup(buf));
}

void frontier_args_free(frontier_args *a) {
    for (size_t i = 0; i < a->nowned; i++) free(a->owned[i]);
    free(a->v);
    free(a->len);
    free(a->owned);
    memset(a, 0, sizeof(*a));
}

void frontier_args_script(frontier_args *a, frontier_lua script, int nkeys) {
    a->script = &frontier_scripts[script];
    frontier_args_str(a, "EVALSHA");
    frontier_args_str(a, a->script->sha);
    frontier_args_ll(a, nkeys);
}

/* Loads script into the Redis connected to now (SCRIPT LOAD). Returns 0, or -1
 * with fr->err (also when Redis names it by another SHA1 than the build). */
static int script_load(frontier *fr, const frontier_script *script) {
    const char *argv[] = { "SCRIPT", "LOAD", script->text };
    size_t lens[] = { 6, 4, script->len };
    redisReply *r = frontier_cmd(fr, 3, argv, lens);
    if (!r) return -1;
    int ok = r->type == REDIS_REPLY_STRING && !strcmp(r->str, script->sha);
    if (!ok)
        snprintf(fr->err, sizeof(fr->err), "SCRIPT LOAD %s: Redis names it %.64s, not %s", script->name,
                 r->type == REDIS_REPLY_STRING ? r->str : "(no string)", script->sha);
    else zc_debug("redis_script_loaded", "script=%s node=%s:%d", script->name, fr->addr.host, fr->addr.port);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

static int is_noscript(const redisReply *r) {
    return r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8);
}

redisReply *frontier_run(frontier *fr, frontier_args *a) {
    if (a->oom) {
        frontier_args_free(a);
        snprintf(fr->err, sizeof(fr->err), "out of memory");
        return NULL;
    }
    redisReply *r = send_argv(fr, (int)a->n, a->v, a->len);
    /* The script did not run: loading it and sending the call again is safe. */
    if (a->script && is_noscript(r)) {
        freeReplyObject(r);
        r = script_load(fr, a->script) == 0 ? send_argv(fr, (int)a->n, a->v, a->len) : NULL;
    }
    frontier_args_free(a);
    return check_reply(fr, r);
}

int frontier_run_int(frontier *fr, frontier_args *a, long long *out) {
    redisReply *r = frontier_run(fr, a);
    if (!r) return -1;
    if (r->type != REDIS_REPLY_INTEGER) {
        snprintf(fr->err, sizeof(fr->err), "unexpected redis reply type %d", r->type);
        freeReplyObject(r);
        return -1;
    }
    *out = r->integer;
    freeReplyObject(r);
    return 0;
}

long long frontier_reply_ll(const redisReply *r) {
    if (!r) return 0;
    if (r->type == REDIS_REPLY_INTEGER) return r->integer;
    if (r->type == REDIS_REPLY_STRING) return atoll(r->str);
    return 0;
}
