/* frontier.c -- the crawl's durable state in Redis: one Lua script per step (see
 * frontier.h, docs/REDIS.md). */
#include "frontier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "zc_log.h"
#include "zc_time.h"
#include "zc_url.h"

static char *dead_json(const char *url, const char *stage, const char *reason, int64_t now_ms) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char *s = NULL;
    if (!cJSON_AddStringToObject(o, "url", url) || !cJSON_AddStringToObject(o, "stage", stage) ||
        !cJSON_AddStringToObject(o, "reason", reason) ||
        !cJSON_AddNumberToObject(o, "time", (double)now_ms))
        goto out;
    s = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(o);
    return s;
}

long frontier_discover(frontier *fr, const char *parent, char *const *urls, size_t n,
                       int64_t now_ms, size_t *bad) {
    frontier_args a = { 0 };
    size_t nbad = 0;
    frontier_args_script(&a, FRONTIER_LUA_DISCOVER, 4);
    frontier_args_str(&a, fr->k_seen);
    frontier_args_str(&a, fr->k_leases);
    frontier_args_str(&a, fr->k_stats);
    frontier_args_str(&a, fr->k_waiting);
    frontier_args_str(&a, parent ? parent : "");
    frontier_args_ll(&a, now_ms);
    for (size_t i = 0; i < n; i++) {
        char canon[ZC_URL_MAX], err[128];
        int cl = zc_url_canonical(urls[i], strlen(urls[i]), canon, sizeof(canon), err, sizeof(err));
        if (cl < 0) {
            nbad++;
            continue;
        }
        unsigned char *fp = malloc(8);
        if (fp) zc_url_fp64(canon, (size_t)cl, fp);
        frontier_args_own_bytes(&a, (char *)fp, 8);
        frontier_args_str(&a, urls[i]);
    }
    if (bad) *bad = nbad;
    long long added;
    if (frontier_run_int(fr, &a, &added) != 0) return -1;
    return added < 0 ? -2 : (long)added;
}

static int64_t str_ll(const redisReply *r) {
    return r && r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
}

long frontier_lease_batch(frontier *fr, frontier_lease *out, size_t max, int64_t now_ms,
                          int64_t lease_ms, int per_host, frontier_host *hosts, size_t *nhosts) {
    *nhosts = 0;
    if (max == 0) return 0;
    frontier_args a = { 0 };
    frontier_args_script(&a, FRONTIER_LUA_LEASE, 5);
    frontier_args_str(&a, fr->k_ready);
    frontier_args_str(&a, fr->k_active);
    frontier_args_str(&a, fr->k_leases);
    frontier_args_str(&a, fr->k_retries);
    frontier_args_str(&a, fr->k_waiting);
    frontier_args_ll(&a, now_ms);
    frontier_args_ll(&a, now_ms + lease_ms);
    frontier_args_ll(&a, (long long)max);
    frontier_args_ll(&a, per_host > 0 ? per_host : 1);
    redisReply *r = frontier_run(fr, &a);
    if (!r) return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        snprintf(fr->err, sizeof(fr->err), "unexpected redis reply type %d", r->type);
        freeReplyObject(r);
        return -1;
    }
    /* The URLs are leased in Redis whatever happens here: one this broker cannot
     * keep (out of memory) comes back when its lease expires. */
    long got = 0;
    for (size_t i = 0; i < r->elements && *nhosts < max; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 4 || e->element[0]->type != REDIS_REPLY_STRING) continue;
        frontier_host *h = &hosts[*nhosts];
        h->key = strndup(e->element[0]->str, e->element[0]->len);
        if (!h->key) break;
        h->cap = (int)str_ll(e->element[1]);
        h->until_ms = str_ll(e->element[2]);
        h->delay_ms = str_ll(e->element[3]);
        for (size_t k = 4; k + 1 < e->elements && (size_t)got < max; k += 2) {
            redisReply *u = e->element[k], *at = e->element[k + 1];
            if (u->type != REDIS_REPLY_STRING) continue;
            out[got].url = strndup(u->str, u->len);
            if (!out[got].url) break;
            out[got].attempt = (int)str_ll(at);
            out[got].host = (int)*nhosts;
            got++;
        }
        (*nhosts)++;
    }
    freeReplyObject(r);
    return got;
}

int frontier_sync_hosts(frontier *fr, const frontier_host_sync *h, size_t n) {
    if (n == 0) return 0;
    frontier_args a = { 0 };
    frontier_args_script(&a, FRONTIER_LUA_RELEASE, 2);
    frontier_args_str(&a, fr->k_ready);
    frontier_args_str(&a, fr->k_active);
    for (size_t i = 0; i < n; i++) {
        frontier_args_str(&a, h[i].key);
        frontier_args_ll(&a, h[i].release_at < 0 ? -1 : h[i].release_at);
        if (h[i].save > 0) {
            frontier_args_ll(&a, h[i].cap > 0 ? h[i].cap : 1);
            frontier_args_ll(&a, h[i].until_ms);
            frontier_args_ll(&a, h[i].delay_ms);
        } else {
            frontier_args_str(&a, h[i].save < 0 ? "0" : "");
            frontier_args_str(&a, "");
            frontier_args_str(&a, "");
        }
    }
    long long v;
    return frontier_run_int(fr, &a, &v);
}

long frontier_recover_hosts(frontier *fr, int64_t now_ms) {
    frontier_args a = { 0 };
    frontier_args_script(&a, FRONTIER_LUA_RECOVER, 2);
    frontier_args_str(&a, fr->k_active);
    frontier_args_str(&a, fr->k_ready);
    frontier_args_ll(&a, now_ms);
    long long v;
    if (frontier_run_int(fr, &a, &v) != 0) return -1;
    return (long)v;
}

long frontier_release_strays(frontier *fr, int64_t now_ms, int (*holds)(void *arg, const char *host), void *arg) {
    const char *argv[] = { "ZRANGE", fr->k_active, "0", "-1" };
    size_t lens[] = { 6, strlen(fr->k_active), 1, 2 };
    redisReply *r = frontier_cmd(fr, 4, argv, lens);
    if (!r) return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        snprintf(fr->err, sizeof(fr->err), "unexpected redis reply type %d", r->type);
        freeReplyObject(r);
        return -1;
    }
    frontier_args a = { 0 };
    size_t strays = 0;
    frontier_args_script(&a, FRONTIER_LUA_RECOVER, 2);
    frontier_args_str(&a, fr->k_active);
    frontier_args_str(&a, fr->k_ready);
    frontier_args_ll(&a, now_ms);
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING || holds(arg, e->str)) continue;
        frontier_args_str(&a, e->str);
        strays++;
    }
    long long v = 0;
    /* The host names point into r: it is freed after the script ran. */
    int rc = strays ? frontier_run_int(fr, &a, &v) : (frontier_args_free(&a), 0);
    freeReplyObject(r);
    return rc != 0 ? -1 : (long)v;
}

int frontier_renew(frontier *fr, char *const *urls, size_t n, int64_t deadline_ms) {
    if (n == 0) return 0;
    frontier_args a = { 0 };
    frontier_args_str(&a, "ZADD");
    frontier_args_str(&a, fr->k_leases);
    frontier_args_str(&a, "XX");
    char dl[32];
    snprintf(dl, sizeof(dl), "%lld", (long long)deadline_ms);
    for (size_t i = 0; i < n; i++) {
        frontier_args_str(&a, dl);
        frontier_args_str(&a, urls[i]);
    }
    long long changed;
    return frontier_run_int(fr, &a, &changed);
}

long frontier_hold(frontier *fr, char *const *urls, size_t n, int64_t deadline_ms) {
    if (n == 0) return 0;
    frontier_args a = { 0 };
    frontier_args_script(&a, FRONTIER_LUA_HOLD, 1);
    frontier_args_str(&a, fr->k_leases);
    frontier_args_ll(&a, deadline_ms);
    for (size_t i = 0; i < n; i++) frontier_args_str(&a, urls[i]);
    long long v;
    if (frontier_run_int(fr, &a, &v) != 0) return -1;
    return (long)v;
}

int frontier_requeue(frontier *fr, const char *url, int max_retries) {
    char why[64];
    snprintf(why, sizeof(why), "lease lost %d times", max_retries + 1);
    frontier_args a = { 0 };
    frontier_args_script(&a, FRONTIER_LUA_REQUEUE, 5);
    frontier_args_str(&a, fr->k_leases);
    frontier_args_str(&a, fr->k_waiting);
    frontier_args_str(&a, fr->k_retries);
    frontier_args_str(&a, fr->k_dead);
    frontier_args_str(&a, fr->k_stats);
    frontier_args_str(&a, url);
    frontier_args_str(&a, max_retries >= 0 ? "1" : "0");
    frontier_args_ll(&a, max_retries >= 0 ? max_retries : 0);
    frontier_args_own(&a, max_retries >= 0 ? dead_json(url, "broker", why, zc_wall_ms()) : strdup(""));
    long long v;
    if (frontier_run_int(fr, &a, &v) != 0) return -1;
    return (int)v;
}

int frontier_retry(frontier *fr, const char *url, int64_t retry_after_ms, int64_t base_ms,
                   int64_t max_ms, int max_retries, const char *reason, int64_t now_ms) {
    char why[300];
    snprintf(why, sizeof(why), "gave up after %d retries: %s", max_retries, reason);
    frontier_args a = { 0 };
    frontier_args_script(&a, FRONTIER_LUA_RETRY, 5);
    frontier_args_str(&a, fr->k_leases);
    frontier_args_str(&a, fr->k_retries);
    frontier_args_str(&a, fr->k_delayed);
    frontier_args_str(&a, fr->k_dead);
    frontier_args_str(&a, fr->k_stats);
    frontier_args_str(&a, url);
    frontier_args_ll(&a, retry_after_ms);
    frontier_args_ll(&a, base_ms);
    frontier_args_ll(&a, max_ms);
    frontier_args_ll(&a, max_retries);
    frontier_args_ll(&a, now_ms);
    char rnd[32];
    snprintf(rnd, sizeof(rnd), "%.6f", (double)(zc_rand() % 1000000) / 1e6);
    frontier_args_str(&a, rnd);
    frontier_args_own(&a, dead_json(url, "fetch", why, now_ms));
    long long v;
    if (frontier_run_int(fr, &a, &v) != 0) return -1;
    return (int)v;
}

int frontier_gone(frontier *fr, const char *url, int status, int64_t now_ms) {
    (void)now_ms;
    frontier_args a = { 0 };
    frontier_args_script(&a, FRONTIER_LUA_GONE, 3);
    frontier_args_str(&a, fr->k_leases);
    frontier_args_str(&a, fr->k_gone);
    frontier_args_str(&a, fr->k_stats);
    frontier_args_str(&a, url);
    frontier_args_ll(&a, status);
    long long v;
    if (frontier_run_int(fr, &a, &v) != 0) return -1;
    return (int)v;
}

int frontier_dead(frontier *fr, const char *url, const char *stage, const char *reason,
                  int64_t now_ms) {
    frontier_args a = { 0 };
    frontier_args_script(&a, FRONTIER_LUA_DEAD, 3);
    frontier_args_str(&a, fr->k_leases);
    frontier_args_str(&a, fr->k_dead);
    frontier_args_str(&a, fr->k_stats);
    frontier_args_str(&a, url);
    frontier_args_own(&a, dead_json(url, stage, reason, now_ms));
    frontier_args_str(&a, stage);
    long long v;
    if (frontier_run_int(fr, &a, &v) != 0) return -1;
    return (int)v;
}

long frontier_written(frontier *fr, char *const *urls, size_t n) {
    if (n == 0) return 0;
    frontier_args a = { 0 };
    frontier_args_script(&a, FRONTIER_LUA_WRITTEN, 3);
    frontier_args_str(&a, fr->k_leases);
    frontier_args_str(&a, fr->k_stats);
    frontier_args_str(&a, fr->k_retries);
    for (size_t i = 0; i < n; i++) frontier_args_str(&a, urls[i]);
    long long v;
    if (frontier_run_int(fr, &a, &v) != 0) return -1;
    return (long)v;
}

#define FR_SEEDS_BATCH 1000

/* Moves up to FR_SEEDS_BATCH waiting seeds through discovery; they leave the seeds
 * list only once they are in the frontier (or known). A seed that is not a URL
 * zcrawl can crawl is logged and dropped. Returns the number taken off the list
 * (good or bad), or -1 (fr->err). */
static long fr_take_seeds(frontier *fr, int64_t now_ms) {
    char stop[24];
    snprintf(stop, sizeof(stop), "%d", FR_SEEDS_BATCH - 1);
    const char *argv[] = { "LRANGE", fr->k_seeds, "0", stop };
    redisReply *r = frontier_cmd(fr, 4, argv, NULL);
    if (!r) return -1;
    long taken = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        char **urls = calloc(r->elements, sizeof(char *));
        size_t n = 0;
        if (!urls) {
            freeReplyObject(r);
            snprintf(fr->err, sizeof(fr->err), "out of memory");
            return -1;
        }
        for (size_t i = 0; i < r->elements; i++) {
            redisReply *e = r->element[i];
            char why[128];
            if (e->type != REDIS_REPLY_STRING) continue;
            if (zc_url_check(e->str, e->len, why, sizeof(why)) != 0) {
                char qu[ZC_LOG_QREASON], qw[ZC_LOG_QREASON];
                zc_warn("bad_seed", "crawl=%s url=%s reason=%s", fr->crawl, zc_log_qn(qu, sizeof(qu), e->str, e->len),
                        zc_log_q(qw, sizeof(qw), why));
                continue;
            }
            urls[n++] = e->str;
        }
        if (fr->seed_hook && n) fr->seed_hook(fr->seed_arg, urls, n);
        long added = n ? frontier_discover(fr, NULL, urls, n, now_ms, NULL) : 0;
        free(urls);
        taken = (long)r->elements;
        if (added >= 0) {
            char cnt[24];
            snprintf(cnt, sizeof(cnt), "%zu", r->elements);
            const char *trim[] = { "LTRIM", fr->k_seeds, cnt, "-1" };
            redisReply *t = frontier_cmd(fr, 4, trim, NULL);
            if (!t) taken = -1;
            else freeReplyObject(t);
        } else {
            taken = -1;
        }
    }
    freeReplyObject(r);
    return taken;
}

long frontier_maintain(frontier *fr, int64_t now_ms, int max_retries) {
    frontier_args a = { 0 };
    frontier_args_script(&a, FRONTIER_LUA_MAINTAIN, 7);
    frontier_args_str(&a, fr->k_leases);
    frontier_args_str(&a, fr->k_frontier);
    frontier_args_str(&a, fr->k_delayed);
    frontier_args_str(&a, fr->k_stats);
    frontier_args_str(&a, fr->k_waiting);
    frontier_args_str(&a, fr->k_retries);
    frontier_args_str(&a, fr->k_dead);
    frontier_args_ll(&a, now_ms);
    frontier_args_str(&a, "1000");
    frontier_args_ll(&a, max_retries);
    long long moved;
    if (frontier_run_int(fr, &a, &moved) != 0) return -1;
    /* Seeds come in batches; a long list (zcrawl run with many START_URLs) is
     * taken whole here, up to ten batches a tick. */
    long seeds = 0;
    for (int i = 0; i < 10; i++) {
        long t = fr_take_seeds(fr, now_ms);
        if (t < 0) return -1;
        seeds += t;
        if (t < FR_SEEDS_BATCH) break;
    }
    return (long)moved + seeds;
}

int frontier_count(frontier *fr, const char *field, long long by) {
    char v[32];
    snprintf(v, sizeof(v), "%lld", by);
    const char *argv[] = { "HINCRBY", fr->k_stats, field, v };
    redisReply *r = frontier_cmd(fr, 4, argv, NULL);
    if (!r) return -1;
    freeReplyObject(r);
    return 0;
}

int frontier_spec_counts(frontier *fr, const char *const *field, const long long *by, size_t n) {
    if (!n) return 0;
    int *argc = malloc(n * sizeof(*argc));
    const char ***argv = malloc(n * sizeof(*argv));
    const char **args = malloc(n * 4 * sizeof(*args));
    char(*num)[24] = malloc(n * sizeof(*num));
    redisReply **rep = malloc(n * sizeof(*rep));
    int rc = -1;
    if (!argc || !argv || !args || !num || !rep) {
        snprintf(fr->err, sizeof(fr->err), "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(num[i], sizeof(num[i]), "%lld", by[i]);
        args[4 * i] = "HINCRBY", args[4 * i + 1] = fr->k_spec_counts, args[4 * i + 2] = field[i];
        args[4 * i + 3] = num[i];
        argc[i] = 4;
        argv[i] = &args[4 * i];
    }
    if (frontier_pipeline(fr, n, argc, argv, rep) == 0) {
        for (size_t i = 0; i < n; i++) freeReplyObject(rep[i]);
        rc = 0;
    }
out:
    free(argc);
    free(argv);
    free(args);
    free(num);
    free(rep);
    return rc;
}

int frontier_read_counts(frontier *fr, frontier_counts *c) {
    memset(c, 0, sizeof(*c));
    const char *cmds[][2] = {
        { "GET", fr->k_waiting },
        { "ZCARD", fr->k_leases },
        { "ZCARD", fr->k_delayed },
        { "LLEN", fr->k_seeds },
        { "LLEN", fr->k_dead },
        { "HLEN", fr->k_gone },
        { "LLEN", fr->k_frontier },
    };
    enum { NCMD = sizeof(cmds) / sizeof(cmds[0]) };
    const char *hmget[] = { "HMGET", fr->k_stats, "fetched", "parsed", "written", "retried", "expired", "state" };
    const char **argv[NCMD + 1];
    int argc[NCMD + 1];
    for (size_t i = 0; i < NCMD; i++) {
        argv[i] = cmds[i];
        argc[i] = 2;
    }
    argv[NCMD] = hmget;
    argc[NCMD] = 8;
    redisReply *r[NCMD + 1];
    if (frontier_pipeline(fr, NCMD + 1, argc, argv, r) != 0) return -1;
    long long legacy = 0;
    long long *dst[NCMD] = { &c->queued, &c->leased, &c->delayed, &c->seeds, &c->dead, &c->gone, &legacy };
    for (size_t i = 0; i < NCMD; i++) *dst[i] = frontier_reply_ll(r[i]);
    redisReply *h = r[NCMD];
    if (h->type == REDIS_REPLY_ARRAY && h->elements == 6) {
        c->fetched = frontier_reply_ll(h->element[0]);
        c->parsed = frontier_reply_ll(h->element[1]);
        c->written = frontier_reply_ll(h->element[2]);
        c->retried = frontier_reply_ll(h->element[3]);
        c->expired = frontier_reply_ll(h->element[4]);
        c->done = h->element[5]->type == REDIS_REPLY_STRING && !strcmp(h->element[5]->str, "done");
    }
    for (size_t i = 0; i <= NCMD; i++) freeReplyObject(r[i]);
    c->queued += legacy; /* not yet moved to the per-host queues */
    return 0;
}

int frontier_write_stats(frontier *fr, const char *const *kv) {
    frontier_args a = { 0 };
    frontier_args_str(&a, "HSET");
    frontier_args_str(&a, fr->k_stats);
    for (size_t i = 0; kv[i] && kv[i + 1]; i += 2) {
        frontier_args_str(&a, kv[i]);
        frontier_args_str(&a, kv[i + 1]);
    }
    long long v;
    return frontier_run_int(fr, &a, &v);
}

int64_t frontier_next_delayed(frontier *fr) {
    const char *argv[] = { "ZRANGE", fr->k_delayed, "0", "0", "WITHSCORES" };
    redisReply *r = frontier_cmd(fr, 5, argv, NULL);
    if (!r) return -1;
    int64_t t = -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING)
        t = atoll(r->element[1]->str);
    freeReplyObject(r);
    return t;
}

long frontier_clamp_leases(frontier *fr, int64_t deadline_ms) {
    frontier_args a = { 0 };
    frontier_args_script(&a, FRONTIER_LUA_CLAMP, 1);
    frontier_args_str(&a, fr->k_leases);
    frontier_args_ll(&a, deadline_ms);
    long long v;
    if (frontier_run_int(fr, &a, &v) != 0) return -1;
    return (long)v;
}

long frontier_shift_leases(frontier *fr, int64_t ms) {
    frontier_args a = { 0 };
    frontier_args_script(&a, FRONTIER_LUA_SHIFT, 1);
    frontier_args_str(&a, fr->k_leases);
    frontier_args_ll(&a, ms);
    long long v;
    if (frontier_run_int(fr, &a, &v) != 0) return -1;
    return (long)v;
}

/* ---- crawl scope, redirects, robots.txt (broker/guard_*.c) ---- */

int frontier_redirect(frontier *fr, const char *url, const char *target) {
    frontier_args a = { 0 };
    frontier_args_script(&a, FRONTIER_LUA_REDIRECT, 4);
    frontier_args_str(&a, fr->k_leases);
    frontier_args_str(&a, fr->k_seen);
    frontier_args_str(&a, fr->k_waiting);
    frontier_args_str(&a, fr->k_stats);
    frontier_args_str(&a, url);
    if (target) {
        char canon[ZC_URL_MAX], err[128];
        int cl = zc_url_canonical(target, strlen(target), canon, sizeof(canon), err, sizeof(err));
        if (cl < 0) {
            frontier_args_free(&a);
            snprintf(fr->err, sizeof(fr->err), "bad redirect target: %s", err);
            fr->refused = 0; /* not Redis's doing: it takes writes */
            return -1;
        }
        unsigned char *fp = malloc(8);
        if (fp) zc_url_fp64(canon, (size_t)cl, fp);
        frontier_args_own_bytes(&a, (char *)fp, 8);
        frontier_args_str(&a, target);
    }
    long long v;
    if (frontier_run_int(fr, &a, &v) != 0) return -1;
    return v < 0 ? -2 : (int)v;
}

int frontier_exclude(frontier *fr, const char *url, const char *reason) {
    char k_excluded[FRONTIER_KEY_MAX];
    (void)zc_redis_key(k_excluded, sizeof(k_excluded), fr->crawl, "excluded");
    frontier_args a = { 0 };
    frontier_args_script(&a, FRONTIER_LUA_EXCLUDE, 3);
    frontier_args_str(&a, fr->k_leases);
    frontier_args_str(&a, k_excluded);
    frontier_args_str(&a, fr->k_stats);
    frontier_args_str(&a, url);
    frontier_args_str(&a, reason);
    long long v;
    if (frontier_run_int(fr, &a, &v) != 0) return -1;
    return (int)v;
}

/* zcrawl:{crawl}:robots:<origin> into key. Returns 0, or -1 when it does not fit. */
static int robots_key(const frontier *fr, const char *origin, char *key, size_t len) {
    char name[400];
    if ((size_t)snprintf(name, sizeof(name), "robots:%s", origin) >= sizeof(name)) return -1;
    return zc_redis_key(key, len, fr->crawl, name);
}

int frontier_robots_get(frontier *fr, const char *origin, char **out, size_t *len) {
    char key[512];
    *out = NULL;
    *len = 0;
    if (robots_key(fr, origin, key, sizeof(key)) != 0) return 0;
    const char *argv[] = { "GET", key };
    redisReply *r = frontier_cmd(fr, 2, argv, NULL);
    if (!r) return -1;
    int found = 0;
    if (r->type == REDIS_REPLY_STRING) {
        *out = malloc(r->len + 1);
        if (*out) {
            memcpy(*out, r->str, r->len);
            (*out)[r->len] = '\0';
            *len = r->len;
            found = 1;
        }
    }
    freeReplyObject(r);
    return found;
}

int frontier_robots_mget(frontier *fr, char *const *origins, size_t n, char **out, size_t *lens) {
    for (size_t i = 0; i < n; i++) out[i] = NULL, lens[i] = 0;
    size_t *idx = malloc((n ? n : 1) * sizeof(*idx)), k = 0;
    if (!idx) {
        snprintf(fr->err, sizeof(fr->err), "out of memory");
        return -1;
    }
    frontier_args a = { 0 };
    frontier_args_str(&a, "MGET");
    for (size_t i = 0; i < n; i++) {
        char key[512];
        if (robots_key(fr, origins[i], key, sizeof(key)) != 0) continue; /* too long to be cached */
        frontier_args_own(&a, strdup(key));
        idx[k++] = i;
    }
    if (k == 0) {
        frontier_args_free(&a);
        free(idx);
        return 0;
    }
    redisReply *r = frontier_run(fr, &a);
    if (!r) {
        free(idx);
        return -1;
    }
    int rc = 0;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != k) {
        snprintf(fr->err, sizeof(fr->err), "MGET of robots.txt records: unexpected reply");
        rc = -1;
    }
    for (size_t j = 0; rc == 0 && j < k; j++) {
        redisReply *e = r->element[j];
        if (e->type != REDIS_REPLY_STRING) continue;
        char *copy = malloc(e->len + 1);
        if (!copy) continue; /* asked for again, alone, when it is parked */
        memcpy(copy, e->str, e->len);
        copy[e->len] = '\0';
        out[idx[j]] = copy;
        lens[idx[j]] = e->len;
    }
    freeReplyObject(r);
    free(idx);
    return rc;
}

int frontier_robots_done(frontier *fr, const char *url, const char *origin, const char *data, size_t len,
                         long ttl_s) {
    char k_excluded[FRONTIER_KEY_MAX], key[512];
    (void)zc_redis_key(k_excluded, sizeof(k_excluded), fr->crawl, "excluded");
    if (robots_key(fr, origin, key, sizeof(key)) != 0) data = NULL; /* too long to cache */
    frontier_args a = { 0 };
    frontier_args_script(&a, FRONTIER_LUA_ROBOTS_DONE, 4);
    frontier_args_str(&a, fr->k_leases);
    frontier_args_str(&a, k_excluded);
    frontier_args_str(&a, fr->k_stats);
    frontier_args_str(&a, data ? key : fr->k_stats); /* a key of the crawl's slot either way */
    frontier_args_str(&a, url);
    char *copy = malloc(data ? len + 1 : 1);
    if (copy && data) memcpy(copy, data, len);
    frontier_args_own_bytes(&a, copy, data ? len : 0);
    frontier_args_ll(&a, ttl_s);
    long long v;
    if (frontier_run_int(fr, &a, &v) != 0) return -1;
    return (int)v;
}

long frontier_scope_load(frontier *fr, void (*each)(void *arg, const char *origin), void *arg) {
    char key[FRONTIER_KEY_MAX];
    (void)zc_redis_key(key, sizeof(key), fr->crawl, "scope");
    const char *argv[] = { "SMEMBERS", key };
    redisReply *r = frontier_cmd(fr, 2, argv, NULL);
    if (!r) return -1;
    long n = 0;
    if (r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type == REDIS_REPLY_STRING) {
                each(arg, r->element[i]->str);
                n++;
            }
    freeReplyObject(r);
    return n;
}

int frontier_scope_add_many(frontier *fr, char *const *origins, size_t n) {
    if (n == 0) return 0;
    char key[FRONTIER_KEY_MAX];
    (void)zc_redis_key(key, sizeof(key), fr->crawl, "scope");
    frontier_args a = { 0 };
    frontier_args_str(&a, "SADD");
    frontier_args_str(&a, key);
    for (size_t i = 0; i < n; i++) frontier_args_str(&a, origins[i]);
    long long added;
    return frontier_run_int(fr, &a, &added);
}

int frontier_scope_add(frontier *fr, const char *origin) {
    char key[FRONTIER_KEY_MAX];
    (void)zc_redis_key(key, sizeof(key), fr->crawl, "scope");
    const char *argv[] = { "SADD", key, origin };
    redisReply *r = frontier_cmd(fr, 3, argv, NULL);
    if (!r) return -1;
    freeReplyObject(r);
    return 0;
}
