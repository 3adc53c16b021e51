/* frontier.c -- the crawl's durable state in Redis (see frontier.h, docs/REDIS.md). */
#include "frontier.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "zc_log.h"
#include "zc_time.h"
#include "zc_url.h"

/* ---- Lua scripts: each one is a single atomic step of the crawl. ---- */

/* A script that writes says so in a shebang line (Redis 7): Redis then refuses it
 * whole, before it runs, when it takes no writes (maxmemory reached, a read-only
 * replica). Without it a script runs until its first refused command and keeps
 * what it did before: a lease script would pop URLs and never record them. */
#define LUA_WRITES "#!lua\n"

/* KEYS seen frontier leases stats; ARGV parent, then fingerprint/url pairs.
 * The seen set is 65536 hashes, KEYS[1]:0000 .. KEYS[1]:ffff, chosen by the first
 * two bytes of a URL's 8-byte fingerprint; the other six bytes are the field. Small
 * hashes are listpacks in Redis, about 10 bytes an entry (docs/REDIS.md). The bucket
 * keys share the crawl's hash tag, so on a cluster they live in its slot.
 * A parent that is not leased adds nothing (returns -1): only a page the crawl
 * handed out may add URLs. */
static const char *LUA_DISCOVER =
    LUA_WRITES
    "if ARGV[1] ~= '' then\n"
    "  if redis.call('ZREM', KEYS[3], ARGV[1]) == 0 then return -1 end\n"
    "  redis.call('HINCRBY', KEYS[4], 'parsed', 1)\n"
    "end\n"
    "local added = 0\n"
    "for i = 2, #ARGV, 2 do\n"
    "  local fp = ARGV[i]\n"
    "  local bucket = KEYS[1] .. ':' .. string.format('%02x%02x', fp:byte(1), fp:byte(2))\n"
    "  if redis.call('HSETNX', bucket, string.sub(fp, 3), '') == 1 then\n"
    "    redis.call('RPUSH', KEYS[2], ARGV[i+1]); added = added + 1\n"
    "  end\n"
    "end\n"
    "if added > 0 then redis.call('HINCRBY', KEYS[4], 'discovered', added) end\n"
    "return added\n";

/* KEYS frontier leases retries; ARGV max deadline. Returns url, attempt pairs. */
static const char *LUA_LEASE =
    LUA_WRITES "local urls = redis.call('LPOP', KEYS[1], tonumber(ARGV[1]))\n"
    "if not urls then return {} end\n"
    "local out = {}\n"
    "for _, u in ipairs(urls) do\n"
    "  redis.call('ZADD', KEYS[2], ARGV[2], u)\n"
    "  out[#out+1] = u\n"
    "  out[#out+1] = redis.call('HGET', KEYS[3], u) or '0'\n"
    "end\n"
    "return out\n";

/* KEYS leases frontier; ARGV url. */
static const char *LUA_REQUEUE =
    LUA_WRITES "if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then\n"
    "  redis.call('LPUSH', KEYS[2], ARGV[1]); return 1\n"
    "end\n"
    "return 0\n";

/* KEYS leases retries delayed dead stats;
 * ARGV url retry_after base max max_retries now rand dead_json. */
static const char *LUA_RETRY =
    LUA_WRITES "if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end\n"
    "local n = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)\n"
    "if n > tonumber(ARGV[5]) then\n"
    "  redis.call('RPUSH', KEYS[4], ARGV[8])\n"
    "  redis.call('HINCRBY', KEYS[5], 'dead', 1)\n"
    "  return -2\n"
    "end\n"
    "local d = tonumber(ARGV[3]) * math.pow(2, n - 1)\n"
    "if d > tonumber(ARGV[4]) then d = tonumber(ARGV[4]) end\n"
    "d = d / 2 + d / 2 * tonumber(ARGV[7])\n"
    "if d < tonumber(ARGV[2]) then d = tonumber(ARGV[2]) end\n"
    "redis.call('ZADD', KEYS[3], tonumber(ARGV[6]) + math.floor(d), ARGV[1])\n"
    "redis.call('HINCRBY', KEYS[5], 'retried', 1)\n"
    "return n\n";

/* KEYS leases gone stats; ARGV url status. */
static const char *LUA_GONE =
    LUA_WRITES "if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end\n"
    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])\n"
    "redis.call('HINCRBY', KEYS[3], 'gone', 1)\n"
    "return 1\n";

/* KEYS leases dead stats; ARGV url dead_json stage. */
static const char *LUA_DEAD =
    LUA_WRITES "if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end\n"
    "redis.call('RPUSH', KEYS[2], ARGV[2])\n"
    "redis.call('HINCRBY', KEYS[3], 'dead', 1)\n"
    "if ARGV[3] == 'parse' then redis.call('HINCRBY', KEYS[3], 'parsed', 1) end\n"
    "return 1\n";

/* KEYS leases stats retries; ARGV urls. */
static const char *LUA_WRITTEN =
    LUA_WRITES "local n = 0\n"
    "for i = 1, #ARGV do\n"
    "  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then\n"
    "    n = n + 1; redis.call('HDEL', KEYS[3], ARGV[i])\n"
    "  end\n"
    "end\n"
    "if n > 0 then\n"
    "  redis.call('HINCRBY', KEYS[2], 'written', n); redis.call('HINCRBY', KEYS[2], 'parsed', n)\n"
    "end\n"
    "return n\n";

/* KEYS leases; ARGV deadline, urls: pushes each open lease to at least deadline
 * (never shortens one, never opens one). */
static const char *LUA_HOLD =
    LUA_WRITES "local n = 0\n"
    "for i = 2, #ARGV do\n"
    "  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])\n"
    "  if s and tonumber(s) < tonumber(ARGV[1]) then\n"
    "    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i]); n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

/* KEYS meta stats; ARGV run_id now. Starts a run: returns {previous state,
 * ended_at, written}. A complete crawl is left as it is; a crawl whose stats hash
 * exists without meta lost its state ("lost") and is left too. */
static const char *LUA_BEGIN =
    LUA_WRITES "local m = redis.call('HMGET', KEYS[1], 'state', 'ended_at', 'written')\n"
    "local st = m[1]\n"
    "if not st then\n"
    "  if redis.call('EXISTS', KEYS[2]) == 1 then return {'lost', '0', '0'} end\n"
    "  st = 'new'\n"
    "  redis.call('HSET', KEYS[1], 'created_at', ARGV[2])\n"
    "elseif st == 'complete' then\n"
    "  return {st, m[2] or '0', m[3] or '0'}\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'state', 'running', 'run_id', ARGV[1], 'started_at', ARGV[2],\n"
    "           'ended_at', '', 'reason', '')\n"
    "return {st, m[2] or '0', m[3] or '0'}\n";

/* KEYS meta; ARGV run_id state reason now written. Ends our run, only if the
 * meta is still ours. */
static const char *LUA_END =
    LUA_WRITES "if redis.call('HGET', KEYS[1], 'run_id') ~= ARGV[1] then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'state', ARGV[2], 'reason', ARGV[3], 'ended_at', ARGV[4], 'written', ARGV[5])\n"
    "return 1\n";

/* KEYS leases; ARGV ms: every open lease ends ms later. */
static const char *LUA_SHIFT =
    LUA_WRITES "local m = redis.call('ZRANGE', KEYS[1], 0, -1)\n"
    "for _, u in ipairs(m) do redis.call('ZINCRBY', KEYS[1], ARGV[1], u) end\n"
    "return #m\n";

/* KEYS leases; ARGV deadline: no open lease ends later than deadline. */
static const char *LUA_CLAMP =
    LUA_WRITES "local m = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')\n"
    "for _, u in ipairs(m) do redis.call('ZADD', KEYS[1], ARGV[1], u) end\n"
    "return #m\n";

/* KEYS leases frontier delayed stats; ARGV now limit. */
static const char *LUA_MAINTAIN =
    LUA_WRITES "local exp = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])\n"
    "for _, u in ipairs(exp) do redis.call('ZREM', KEYS[1], u); redis.call('LPUSH', KEYS[2], u) end\n"
    "if #exp > 0 then redis.call('HINCRBY', KEYS[4], 'expired', #exp) end\n"
    "local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])\n"
    "for _, u in ipairs(due) do redis.call('ZREM', KEYS[3], u); redis.call('LPUSH', KEYS[2], u) end\n"
    "return #exp + #due\n";

/* ---- connection ---- */

static void fr_set_err(frontier *fr, const char *what) {
    if (fr->rc && fr->rc->err)
        snprintf(fr->err, sizeof(fr->err), "%s: redis %s:%d: %s", what, fr->addr.host, fr->addr.port, fr->rc->errstr);
    else
        snprintf(fr->err, sizeof(fr->err), "%s: redis %s:%d: no reply", what, fr->addr.host, fr->addr.port);
}

static int fr_connect(frontier *fr) {
    fr->rc = zc_redis_connect(&fr->addr, 2000, fr->err, sizeof(fr->err));
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
    struct { char *key; const char *name; } keys[] = {
        { fr->k_frontier, "frontier" }, { fr->k_seen, "seen" }, { fr->k_leases, "leases" },
        { fr->k_delayed, "delayed" }, { fr->k_retries, "retries" }, { fr->k_dead, "dead" },
        { fr->k_gone, "gone" }, { fr->k_stats, "stats" }, { fr->k_seeds, "seeds" },
        { fr->k_meta, "meta" },
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

/* Runs argv as one command. Returns the reply (caller frees), or NULL with fr->err. */
static redisReply *fr_cmd(frontier *fr, int argc, const char **argv, const size_t *lens) {
    if (frontier_broken(fr)) {
        snprintf(fr->err, sizeof(fr->err), "redis %s:%d: not connected", fr->addr.host, fr->addr.port);
        return NULL;
    }
    redisReply *r = redisCommandArgv(fr->rc, argc, argv, lens);
    if (!r) {
        fr_set_err(fr, "command failed");
        return NULL;
    }
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

/* An argv under construction for EVAL and friends. Appends never fail on their
 * own: out of memory sets the sticky oom flag, later appends do nothing, and
 * fr_run checks the flag once before sending, so a short argv (which would shift
 * a script's ARGV) is never sent. */
typedef struct fr_args {
    const char **v;
    size_t *len;
    char **owned;  /* strings this argv allocated */
    size_t n, cap, nowned;
    int oom;
} fr_args;

static void args_push(fr_args *a, const char *s, size_t len) {
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

static void args_str(fr_args *a, const char *s) { args_push(a, s, strlen(s)); }

/* Takes ownership of the len bytes at s (NULL counts as out of memory). */
static void args_own_bytes(fr_args *a, char *s, size_t len) {
    size_t n = a->n;
    if (s) args_push(a, s, len);
    if (a->oom || a->n == n) {
        a->oom = 1;
        free(s);
        return;
    }
    a->owned[a->nowned++] = s;
}

/* Takes ownership of s (NULL counts as out of memory). */
static void args_own(fr_args *a, char *s) {
    size_t n = a->n;
    if (s) args_push(a, s, strlen(s));
    if (a->oom || a->n == n) {
        a->oom = 1;
        free(s);
        return;
    }
    a->owned[a->nowned++] = s;
}

static void args_ll(fr_args *a, long long v) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", v); /* 20 digits and a sign always fit */
    args_own(a, strdup(buf));
}

static void args_free(fr_args *a) {
    for (size_t i = 0; i < a->nowned; i++) free(a->owned[i]);
    free(a->v);
    free(a->len);
    free(a->owned);
    memset(a, 0, sizeof(*a));
}

/* Starts an EVAL of script over nkeys keys; keys and arguments follow. */
static void args_eval(fr_args *a, const char *script, int nkeys) {
    args_str(a, "EVAL");
    args_str(a, script);
    args_ll(a, nkeys);
}

/* Sends a built argv and frees it. Returns the reply (caller frees), or NULL with
 * fr->err: out of memory while building, or what fr_cmd reports. */
static redisReply *fr_run(frontier *fr, fr_args *a) {
    if (a->oom) {
        args_free(a);
        snprintf(fr->err, sizeof(fr->err), "out of memory");
        return NULL;
    }
    redisReply *r = fr_cmd(fr, (int)a->n, a->v, a->len);
    args_free(a);
    return r;
}

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

/* Runs a built argv expecting an integer reply. Returns 0 and *out, or -1. */
static int fr_eval_int(frontier *fr, fr_args *a, long long *out) {
    redisReply *r = fr_run(fr, a);
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

long frontier_discover(frontier *fr, const char *parent, char *const *urls, size_t n,
                       int64_t now_ms, size_t *bad) {
    (void)now_ms;
    fr_args a = { 0 };
    size_t nbad = 0;
    args_eval(&a, LUA_DISCOVER, 4);
    args_str(&a, fr->k_seen);
    args_str(&a, fr->k_frontier);
    args_str(&a, fr->k_leases);
    args_str(&a, fr->k_stats);
    args_str(&a, parent ? parent : "");
    for (size_t i = 0; i < n; i++) {
        char canon[ZC_URL_MAX], err[128];
        int cl = zc_url_canonical(urls[i], strlen(urls[i]), canon, sizeof(canon), err, sizeof(err));
        if (cl < 0) { nbad++; continue; }
        unsigned char *fp = malloc(8);
        if (fp) zc_url_fp64(canon, (size_t)cl, fp);
        args_own_bytes(&a, (char *)fp, 8);
        args_str(&a, urls[i]);
    }
    if (bad) *bad = nbad;
    long long added;
    if (fr_eval_int(fr, &a, &added) != 0) return -1;
    return added < 0 ? -2 : (long)added;
}

long frontier_lease_batch(frontier *fr, frontier_lease *out, size_t max, int64_t now_ms,
                          int64_t lease_ms) {
    if (max == 0) return 0;
    fr_args a = { 0 };
    args_eval(&a, LUA_LEASE, 3);
    args_str(&a, fr->k_frontier);
    args_str(&a, fr->k_leases);
    args_str(&a, fr->k_retries);
    args_ll(&a, (long long)max);
    args_ll(&a, now_ms + lease_ms);
    redisReply *r = fr_run(fr, &a);
    if (!r) return -1;
    long got = 0;
    if (r->type != REDIS_REPLY_ARRAY) {
        snprintf(fr->err, sizeof(fr->err), "unexpected redis reply type %d", r->type);
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i + 1 < r->elements && (size_t)got < max; i += 2) {
        redisReply *u = r->element[i], *at = r->element[i + 1];
        if (u->type != REDIS_REPLY_STRING) continue;
        out[got].url = strndup(u->str, u->len);
        if (!out[got].url) break;
        out[got].attempt = at->type == REDIS_REPLY_STRING ? atoi(at->str) : 0;
        got++;
    }
    freeReplyObject(r);
    return got;
}

int frontier_renew(frontier *fr, char *const *urls, size_t n, int64_t deadline_ms) {
    if (n == 0) return 0;
    fr_args a = { 0 };
    args_str(&a, "ZADD");
    args_str(&a, fr->k_leases);
    args_str(&a, "XX");
    char dl[32];
    snprintf(dl, sizeof(dl), "%lld", (long long)deadline_ms);
    for (size_t i = 0; i < n; i++) {
        args_str(&a, dl);
        args_str(&a, urls[i]);
    }
    long long changed;
    return fr_eval_int(fr, &a, &changed);
}

long frontier_hold(frontier *fr, char *const *urls, size_t n, int64_t deadline_ms) {
    if (n == 0) return 0;
    fr_args a = { 0 };
    args_eval(&a, LUA_HOLD, 1);
    args_str(&a, fr->k_leases);
    args_ll(&a, deadline_ms);
    for (size_t i = 0; i < n; i++) args_str(&a, urls[i]);
    long long v;
    if (fr_eval_int(fr, &a, &v) != 0) return -1;
    return (long)v;
}

int frontier_requeue(frontier *fr, const char *url) {
    fr_args a = { 0 };
    args_eval(&a, LUA_REQUEUE, 2);
    args_str(&a, fr->k_leases);
    args_str(&a, fr->k_frontier);
    args_str(&a, url);
    long long v;
    if (fr_eval_int(fr, &a, &v) != 0) return -1;
    return (int)v;
}

int frontier_retry(frontier *fr, const char *url, int64_t retry_after_ms, int64_t base_ms,
                   int64_t max_ms, int max_retries, const char *reason, int64_t now_ms) {
    char why[300];
    snprintf(why, sizeof(why), "gave up after %d retries: %s", max_retries, reason);
    fr_args a = { 0 };
    args_eval(&a, LUA_RETRY, 5);
    args_str(&a, fr->k_leases);
    args_str(&a, fr->k_retries);
    args_str(&a, fr->k_delayed);
    args_str(&a, fr->k_dead);
    args_str(&a, fr->k_stats);
    args_str(&a, url);
    args_ll(&a, retry_after_ms);
    args_ll(&a, base_ms);
    args_ll(&a, max_ms);
    args_ll(&a, max_retries);
    args_ll(&a, now_ms);
    char rnd[32];
    snprintf(rnd, sizeof(rnd), "%.6f", (double)(zc_rand() % 1000000) / 1e6);
    args_str(&a, rnd);
    args_own(&a, dead_json(url, "fetch", why, now_ms));
    long long v;
    if (fr_eval_int(fr, &a, &v) != 0) return -1;
    return (int)v;
}

int frontier_gone(frontier *fr, const char *url, int status, int64_t now_ms) {
    (void)now_ms;
    fr_args a = { 0 };
    args_eval(&a, LUA_GONE, 3);
    args_str(&a, fr->k_leases);
    args_str(&a, fr->k_gone);
    args_str(&a, fr->k_stats);
    args_str(&a, url);
    args_ll(&a, status);
    long long v;
    if (fr_eval_int(fr, &a, &v) != 0) return -1;
    return (int)v;
}

int frontier_dead(frontier *fr, const char *url, const char *stage, const char *reason,
                  int64_t now_ms) {
    fr_args a = { 0 };
    args_eval(&a, LUA_DEAD, 3);
    args_str(&a, fr->k_leases);
    args_str(&a, fr->k_dead);
    args_str(&a, fr->k_stats);
    args_str(&a, url);
    args_own(&a, dead_json(url, stage, reason, now_ms));
    args_str(&a, stage);
    long long v;
    if (fr_eval_int(fr, &a, &v) != 0) return -1;
    return (int)v;
}

long frontier_written(frontier *fr, char *const *urls, size_t n) {
    if (n == 0) return 0;
    fr_args a = { 0 };
    args_eval(&a, LUA_WRITTEN, 3);
    args_str(&a, fr->k_leases);
    args_str(&a, fr->k_stats);
    args_str(&a, fr->k_retries);
    for (size_t i = 0; i < n; i++) args_str(&a, urls[i]);
    long long v;
    if (fr_eval_int(fr, &a, &v) != 0) return -1;
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
    redisReply *r = fr_cmd(fr, 4, argv, NULL);
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
                zc_warn("bad_seed", "crawl=%s url=\"%.200s\" reason=\"%s\"", fr->crawl, e->str, why);
                continue;
            }
            if (fr->seed_hook) fr->seed_hook(fr->seed_arg, e->str);
            urls[n++] = e->str;
        }
        long added = n ? frontier_discover(fr, NULL, urls, n, now_ms, NULL) : 0;
        free(urls);
        taken = (long)r->elements;
        if (added >= 0) {
            char cnt[24];
            snprintf(cnt, sizeof(cnt), "%zu", r->elements);
            const char *trim[] = { "LTRIM", fr->k_seeds, cnt, "-1" };
            redisReply *t = fr_cmd(fr, 4, trim, NULL);
            if (!t) taken = -1;
            else freeReplyObject(t);
        } else {
            taken = -1;
        }
    }
    freeReplyObject(r);
    return taken;
}

long frontier_maintain(frontier *fr, int64_t now_ms) {
    fr_args a = { 0 };
    args_eval(&a, LUA_MAINTAIN, 4);
    args_str(&a, fr->k_leases);
    args_str(&a, fr->k_frontier);
    args_str(&a, fr->k_delayed);
    args_str(&a, fr->k_stats);
    args_ll(&a, now_ms);
    args_str(&a, "1000");
    long long moved;
    if (fr_eval_int(fr, &a, &moved) != 0) return -1;
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
    redisReply *r = fr_cmd(fr, 4, argv, NULL);
    if (!r) return -1;
    freeReplyObject(r);
    return 0;
}

static long long reply_ll(redisReply *r) {
    if (!r) return 0;
    if (r->type == REDIS_REPLY_INTEGER) return r->integer;
    if (r->type == REDIS_REPLY_STRING) return atoll(r->str);
    return 0;
}

int frontier_read_counts(frontier *fr, frontier_counts *c) {
    memset(c, 0, sizeof(*c));
    if (frontier_broken(fr)) {
        snprintf(fr->err, sizeof(fr->err), "redis %s:%d: not connected", fr->addr.host, fr->addr.port);
        return -1;
    }
    const char *cmds[][2] = {
        { "LLEN", fr->k_frontier }, { "ZCARD", fr->k_leases }, { "ZCARD", fr->k_delayed },
        { "LLEN", fr->k_seeds }, { "LLEN", fr->k_dead }, { "HLEN", fr->k_gone },
    };
    size_t ncmd = sizeof(cmds) / sizeof(cmds[0]);
    for (size_t i = 0; i < ncmd; i++)
        if (redisAppendCommand(fr->rc, "%s %s", cmds[i][0], cmds[i][1]) != REDIS_OK) goto err;
    if (redisAppendCommand(fr->rc, "HMGET %s fetched parsed written retried expired state",
                           fr->k_stats) != REDIS_OK)
        goto err;
    long long *dst[] = { &c->queued, &c->leased, &c->delayed, &c->seeds, &c->dead, &c->gone };
    int failed = 0;
    for (size_t i = 0; i <= ncmd; i++) {
        redisReply *r = NULL;
        if (redisGetReply(fr->rc, (void **)&r) != REDIS_OK || !r) goto err;
        if (r->type == REDIS_REPLY_ERROR) failed = 1;
        else if (i < ncmd) *dst[i] = reply_ll(r);
        else if (r->type == REDIS_REPLY_ARRAY && r->elements == 6) {
            c->fetched = reply_ll(r->element[0]);
            c->parsed = reply_ll(r->element[1]);
            c->written = reply_ll(r->element[2]);
            c->retried = reply_ll(r->element[3]);
            c->expired = reply_ll(r->element[4]);
            c->done = r->element[5]->type == REDIS_REPLY_STRING && !strcmp(r->element[5]->str, "done");
        }
        freeReplyObject(r);
    }
    if (failed) {
        snprintf(fr->err, sizeof(fr->err), "redis error while reading counts");
        return -1;
    }
    return 0;
err:
    fr_set_err(fr, "reading counts");
    return -1;
}

int frontier_write_stats(frontier *fr, const char *const *kv) {
    fr_args a = { 0 };
    args_str(&a, "HSET");
    args_str(&a, fr->k_stats);
    for (size_t i = 0; kv[i] && kv[i + 1]; i += 2) {
        args_str(&a, kv[i]);
        args_str(&a, kv[i + 1]);
    }
    long long v;
    return fr_eval_int(fr, &a, &v);
}

int64_t frontier_next_delayed(frontier *fr) {
    const char *argv[] = { "ZRANGE", fr->k_delayed, "0", "0", "WITHSCORES" };
    redisReply *r = fr_cmd(fr, 5, argv, NULL);
    if (!r) return -1;
    int64_t t = -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING)
        t = atoll(r->element[1]->str);
    freeReplyObject(r);
    return t;
}

long frontier_clamp_leases(frontier *fr, int64_t deadline_ms) {
    fr_args a = { 0 };
    args_eval(&a, LUA_CLAMP, 1);
    args_str(&a, fr->k_leases);
    args_ll(&a, deadline_ms);
    long long v;
    if (fr_eval_int(fr, &a, &v) != 0) return -1;
    return (long)v;
}

int frontier_begin(frontier *fr, const char *run_id, int64_t now_ms, frontier_meta *prev) {
    memset(prev, 0, sizeof(*prev));
    fr_args a = { 0 };
    args_eval(&a, LUA_BEGIN, 2);
    args_str(&a, fr->k_meta);
    args_str(&a, fr->k_stats);
    args_str(&a, run_id);
    args_ll(&a, now_ms);
    redisReply *r = fr_run(fr, &a);
    if (!r) return -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING) {
        snprintf(fr->err, sizeof(fr->err), "unexpected reply to the meta script");
        freeReplyObject(r);
        return -1;
    }
    snprintf(prev->state, sizeof(prev->state), "%s", r->element[0]->str);
    prev->ended_at = reply_ll(r->element[1]);
    prev->written = reply_ll(r->element[2]);
    freeReplyObject(r);
    return 0;
}

int frontier_run_check(frontier *fr, const char *run_id, char *other, size_t otherlen) {
    const char *argv[] = { "HMGET", fr->k_meta, "state", "run_id" };
    redisReply *r = fr_cmd(fr, 4, argv, NULL);
    if (!r) return -1;
    int rc = -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        snprintf(fr->err, sizeof(fr->err), "unexpected reply reading meta");
    } else if (r->element[0]->type != REDIS_REPLY_STRING) {
        rc = 0;
    } else {
        redisReply *id = r->element[1];
        rc = id->type == REDIS_REPLY_STRING && !strcmp(id->str, run_id) ? 1 : 2;
        snprintf(other, otherlen, "%s", id->type == REDIS_REPLY_STRING ? id->str : "(none)");
    }
    freeReplyObject(r);
    return rc;
}

int frontier_end(frontier *fr, const char *run_id, const char *state, const char *reason, int64_t now_ms,
                 long long written) {
    fr_args a = { 0 };
    args_eval(&a, LUA_END, 1);
    args_str(&a, fr->k_meta);
    args_str(&a, run_id);
    args_str(&a, state);
    args_str(&a, reason);
    args_ll(&a, now_ms);
    args_ll(&a, written);
    long long v;
    if (fr_eval_int(fr, &a, &v) != 0) return -1;
    return (int)v;
}

long frontier_clear(frontier *fr) {
    /* SCAN MATCH is a glob: a crawl name's own glob characters are escaped. */
    char pat[FRONTIER_KEY_MAX * 2 + 8], *o = pat;
    const char *prefix = "zcrawl:{";
    for (const char *c = prefix; *c; c++) *o++ = *c;
    for (const char *c = fr->crawl; *c; c++) {
        if (strchr("*?[]\\", *c)) *o++ = '\\';
        *o++ = *c;
    }
    memcpy(o, "}:*", 4);
    char cursor[32] = "0";
    long n = 0;
    do {
        const char *argv[] = { "SCAN", cursor, "MATCH", pat, "COUNT", "1000" };
        redisReply *r = fr_cmd(fr, 6, argv, NULL);
        if (!r) return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            snprintf(fr->err, sizeof(fr->err), "unexpected reply to SCAN");
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        fr_args a = { 0 };
        args_str(&a, "UNLINK");
        for (size_t i = 0; i < keys->elements; i++)
            if (keys->element[i]->type == REDIS_REPLY_STRING) args_str(&a, keys->element[i]->str);
        long long del = 0;
        int rc = a.n > 1 ? fr_eval_int(fr, &a, &del) : (args_free(&a), 0);
        freeReplyObject(r);
        if (rc != 0) return -1;
        n += (long)del;
    } while (strcmp(cursor, "0") != 0);
    return n;
}

long frontier_shift_leases(frontier *fr, int64_t ms) {
    fr_args a = { 0 };
    args_eval(&a, LUA_SHIFT, 1);
    args_str(&a, fr->k_leases);
    args_ll(&a, ms);
    long long v;
    if (fr_eval_int(fr, &a, &v) != 0) return -1;
    return (long)v;
}

/* ---- crawl scope, redirects, robots.txt (broker/guard.c) ---- */

/* KEYS leases seen frontier stats; ARGV url [fingerprint target]: the seen set
 * as LUA_DISCOVER keeps it. */
static const char *LUA_REDIRECT =
    LUA_WRITES "if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return -1 end\n"
    "redis.call('HINCRBY', KEYS[4], 'redirected', 1)\n"
    "if not ARGV[2] then return 0 end\n"
    "local fp = ARGV[2]\n"
    "local bucket = KEYS[2] .. ':' .. string.format('%02x%02x', fp:byte(1), fp:byte(2))\n"
    "if redis.call('HSETNX', bucket, string.sub(fp, 3), '') == 1 then\n"
    "  redis.call('RPUSH', KEYS[3], ARGV[3]); redis.call('HINCRBY', KEYS[4], 'discovered', 1)\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

/* KEYS leases excluded stats; ARGV url reason. */
static const char *LUA_EXCLUDE =
    LUA_WRITES "if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end\n"
    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])\n"
    "redis.call('HINCRBY', KEYS[3], 'excluded', 1)\n"
    "return 1\n";

int frontier_redirect(frontier *fr, const char *url, const char *target) {
    fr_args a = { 0 };
    args_eval(&a, LUA_REDIRECT, 4);
    args_str(&a, fr->k_leases);
    args_str(&a, fr->k_seen);
    args_str(&a, fr->k_frontier);
    args_str(&a, fr->k_stats);
    args_str(&a, url);
    if (target) {
        char canon[ZC_URL_MAX], err[128];
        int cl = zc_url_canonical(target, strlen(target), canon, sizeof(canon), err, sizeof(err));
        if (cl < 0) {
            args_free(&a);
            snprintf(fr->err, sizeof(fr->err), "bad redirect target: %s", err);
            return -1;
        }
        unsigned char *fp = malloc(8);
        if (fp) zc_url_fp64(canon, (size_t)cl, fp);
        args_own_bytes(&a, (char *)fp, 8);
        args_str(&a, target);
    }
    long long v;
    if (fr_eval_int(fr, &a, &v) != 0) return -1;
    return v < 0 ? -2 : (int)v;
}

int frontier_exclude(frontier *fr, const char *url, const char *reason) {
    char k_excluded[FRONTIER_KEY_MAX];
    (void)zc_redis_key(k_excluded, sizeof(k_excluded), fr->crawl, "excluded");
    fr_args a = { 0 };
    args_eval(&a, LUA_EXCLUDE, 3);
    args_str(&a, fr->k_leases);
    args_str(&a, k_excluded);
    args_str(&a, fr->k_stats);
    args_str(&a, url);
    args_str(&a, reason);
    long long v;
    if (fr_eval_int(fr, &a, &v) != 0) return -1;
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
    redisReply *r = fr_cmd(fr, 2, argv, NULL);
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

int frontier_robots_set(frontier *fr, const char *origin, const char *data, size_t len, long ttl_s) {
    char key[512], ttl[24];
    if (robots_key(fr, origin, key, sizeof(key)) != 0) return 0;
    snprintf(ttl, sizeof(ttl), "%ld", ttl_s);
    const char *argv[] = { "SET", key, data, "EX", ttl };
    size_t lens[] = { 3, strlen(key), len, 2, strlen(ttl) };
    redisReply *r = fr_cmd(fr, 5, argv, lens);
    if (!r) return -1;
    freeReplyObject(r);
    return 0;
}

long frontier_scope_load(frontier *fr, void (*each)(void *arg, const char *origin), void *arg) {
    char key[FRONTIER_KEY_MAX];
    (void)zc_redis_key(key, sizeof(key), fr->crawl, "scope");
    const char *argv[] = { "SMEMBERS", key };
    redisReply *r = fr_cmd(fr, 2, argv, NULL);
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

int frontier_scope_add(frontier *fr, const char *origin) {
    char key[FRONTIER_KEY_MAX];
    (void)zc_redis_key(key, sizeof(key), fr->crawl, "scope");
    const char *argv[] = { "SADD", key, origin };
    redisReply *r = fr_cmd(fr, 3, argv, NULL);
    if (!r) return -1;
    freeReplyObject(r);
    return 0;
}
