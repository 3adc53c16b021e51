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

/* The per-host frontier (Mercator's back queues and heap; docs/REDIS.md): a LIST
 * q:<host> per host, the ZSET ready of hosts that have URLs waiting scored by the
 * wall-clock ms at which each may be fetched next, the ZSET active of hosts the
 * broker has checked out (it holds some of their URLs; it puts them back in ready
 * when it has room for more), the HASH host:<host> of a host's saved politeness
 * (cap, back-off until, delay) and the counter waiting (URLs in all q:<host>).
 * Every one of these keys starts with the crawl's prefix zcrawl:{crawl}:, so it
 * lies in the crawl's cluster slot; scripts build them from KEYS[1]'s prefix.
 * hostof() reads host:port from the URL's text; for every URL zc_url_canonical
 * accepts that is the host:port zc_url_host() gets from libcurl (it refuses a host
 * libcurl reads otherwise, and credentials; tests/fuzz/fuzz_url.c holds the two
 * to it). push() queues a URL and
 * makes its host ready unless the broker has it checked out. */
#define LUA_FR_PUSH                                                                                           \
    "local P = string.match(KEYS[1], '^(zcrawl:{[^}]*}:)')\n"                                                 \
    "local function hostof(u)\n"                                                                              \
    "  local s, a = string.match(u, '^(%a+)://([^/?#]*)')\n"                                                  \
    "  if not s then return '?' end\n"                                                                        \
    "  a = string.match(a, '^.*@(.*)$') or a\n"                                                               \
    "  local h, p\n"                                                                                          \
    "  if string.sub(a, 1, 1) == '[' then h, p = string.match(a, '^(%[[^%]]*%])(.*)$') end\n"                 \
    "  if not h then h, p = string.match(a, '^([^:]*)(.*)$') end\n"                                           \
    "  p = tonumber(string.sub(p, 2))\n"                                                                      \
    "  if not p then if string.lower(s) == 'https' then p = 443 else p = 80 end end\n"                        \
    "  return string.lower(h) .. ':' .. string.format('%d', p)\n"                                             \
    "end\n"                                                                                                   \
    "local touched = {}\n"                                                                                    \
    "local function push(u, head, now)\n"                                                                     \
    "  local h = hostof(u)\n"                                                                                 \
    "  if head then redis.call('LPUSH', P .. 'q:' .. h, u) else redis.call('RPUSH', P .. 'q:' .. h, u) end\n" \
    "  if touched[h] then return end\n"                                                                       \
    "  touched[h] = true\n"                                                                                   \
    "  if not redis.call('ZSCORE', P .. 'active', h) then\n"                                                  \
    "    local t = tonumber(redis.call('HGET', P .. 'host:' .. h, 'until')) or 0\n"                           \
    "    if t < now then t = now end\n"                                                                       \
    "    redis.call('ZADD', P .. 'ready', 'NX', t, h)\n"                                                      \
    "  end\n"                                                                                                 \
    "end\n"                                                                                                   \
    "local function clock()\n"                                                                                \
    "  local t = redis.call('TIME'); return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"      \
    "end\n"

/* KEYS seen leases stats waiting; ARGV parent now, then fingerprint/url pairs.
 * The seen set is 65536 hashes, KEYS[1]:0000 .. KEYS[1]:ffff, chosen by the first
 * two bytes of a URL's 8-byte fingerprint; the other six bytes are the field. Small
 * hashes are listpacks in Redis, about 10 bytes an entry (docs/REDIS.md). The bucket
 * keys share the crawl's hash tag, so on a cluster they live in its slot.
 * A parent that is not leased adds nothing (returns -1): only a page the crawl
 * handed out may add URLs. */
static const char *LUA_DISCOVER =
    LUA_WRITES LUA_FR_PUSH
    "if ARGV[1] ~= '' then\n"
    "  if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return -1 end\n"
    "  redis.call('HINCRBY', KEYS[3], 'parsed', 1)\n"
    "end\n"
    "local added, now = 0, tonumber(ARGV[2])\n"
    "for i = 3, #ARGV, 2 do\n"
    "  local fp = ARGV[i]\n"
    "  local bucket = KEYS[1] .. ':' .. string.format('%02x%02x', fp:byte(1), fp:byte(2))\n"
    "  if redis.call('HSETNX', bucket, string.sub(fp, 3), '') == 1 then\n"
    "    push(ARGV[i+1], false, now); added = added + 1\n"
    "  end\n"
    "end\n"
    "if added > 0 then\n"
    "  redis.call('HINCRBY', KEYS[3], 'discovered', added); redis.call('INCRBY', KEYS[4], added)\n"
    "end\n"
    "return added\n";

/* KEYS ready active leases retries waiting; ARGV now deadline max per_host.
 * Takes the hosts whose time has come, earliest first (the heap's head), at most
 * min(per_host, the host's saved cap) URLs from each, up to max in all, and checks
 * those hosts out (ready -> active). Returns one entry per host: {host, cap,
 * until, delay, url, attempt, url, attempt, ...}; cap/until/delay are the saved
 * state, '0' when none. A ready host with an empty queue just leaves ready. */
static const char *LUA_LEASE =
    LUA_WRITES "local P = string.match(KEYS[1], '^(zcrawl:{[^}]*}:)')\n"
               "local now, max, per = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4])\n"
               "local hosts = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, max)\n"
               "local out, n = {}, 0\n"
               "for _, h in ipairs(hosts) do\n"
               "  if n >= max then break end\n"
               "  local st = redis.call('HMGET', P .. 'host:' .. h, 'cap', 'until', 'delay')\n"
               "  local take, cap = per, tonumber(st[1])\n"
               "  if cap and cap >= 1 and cap < take then take = cap end\n"
               "  if take > max - n then take = max - n end\n"
               "  local urls = redis.call('LPOP', P .. 'q:' .. h, take)\n"
               "  redis.call('ZREM', KEYS[1], h)\n"
               "  if urls then\n"
               "    redis.call('ZADD', KEYS[2], now, h)\n"
               "    local e = {h, st[1] or '0', st[2] or '0', st[3] or '0'}\n"
               "    for _, u in ipairs(urls) do\n"
               "      redis.call('ZADD', KEYS[3], ARGV[2], u)\n"
               "      e[#e+1] = u; e[#e+1] = redis.call('HGET', KEYS[4], u) or '0'\n"
               "    end\n"
               "    n = n + #urls\n"
               "    out[#out+1] = e\n"
               "  end\n"
               "end\n"
               "if n > 0 then redis.call('DECRBY', KEYS[5], n) end\n"
               "return out\n";

/* KEYS ready active; ARGV groups of host, time, cap, until, delay. Saves each
 * host's state (cap '' leaves it, cap '0' deletes it) and, when time is not
 * -1, puts the checked-out host back in ready at time if it has URLs waiting. */
static const char *LUA_RELEASE =
    LUA_WRITES "local P = string.match(KEYS[1], '^(zcrawl:{[^}]*}:)')\n"
               "for i = 1, #ARGV, 5 do\n"
               "  local h = ARGV[i]\n"
               "  if ARGV[i+2] == '0' then redis.call('DEL', P .. 'host:' .. h)\n"
               "  elseif ARGV[i+2] ~= '' then\n"
               "    redis.call('HSET', P .. 'host:' .. h, 'cap', ARGV[i+2], 'until', ARGV[i+3], 'delay', ARGV[i+4])\n"
               "  end\n"
               "  if ARGV[i+1] ~= '-1' then\n"
               "    local was = redis.call('ZREM', KEYS[2], h)\n"
               "    if redis.call('LLEN', P .. 'q:' .. h) > 0 then\n"
               "      if was == 1 then redis.call('ZADD', KEYS[1], ARGV[i+1], h)\n"
               "      else redis.call('ZADD', KEYS[1], 'NX', ARGV[i+1], h) end\n"
               "    end\n"
               "  end\n"
               "end\n"
               "return #ARGV / 5\n";

/* KEYS active ready; ARGV now. After a broker restart nobody holds a checked-out
 * host: every one goes back to ready, at its back-off time if that is later. */
static const char *LUA_RECOVER =
    LUA_WRITES "local P = string.match(KEYS[1], '^(zcrawl:{[^}]*}:)')\n"
               "local now = tonumber(ARGV[1])\n"
               "local hs = redis.call('ZRANGE', KEYS[1], 0, -1)\n"
               "for _, h in ipairs(hs) do\n"
               "  redis.call('ZREM', KEYS[1], h)\n"
               "  if redis.call('LLEN', P .. 'q:' .. h) > 0 then\n"
               "    local t = tonumber(redis.call('HGET', P .. 'host:' .. h, 'until')) or 0\n"
               "    if t < now then t = now end\n"
               "    redis.call('ZADD', KEYS[2], t, h)\n"
               "  end\n"
               "end\n"
               "return #hs\n";

/* KEYS leases waiting; ARGV url: back to the head of its host's queue. */
static const char *LUA_REQUEUE =
    LUA_WRITES LUA_FR_PUSH "if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then\n"
                           "  push(ARGV[1], true, clock()); redis.call('INCR', KEYS[2]); return 1\n"
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

/* KEYS meta stats; ARGV run_id now url_form. Starts a run: returns {previous
 * state, ended_at, written, url_form}. A complete crawl is left as it is; a crawl
 * whose stats hash exists without meta lost its state ("lost") and is left too; a
 * crawl whose seen set holds fingerprints of another canonical form ("url_form":
 * begun by a zcrawl without the field, form 1, or with another one) is left too,
 * since its fingerprints would not match this broker's. A new crawl records ours. */
static const char *LUA_BEGIN =
    LUA_WRITES "local m = redis.call('HMGET', KEYS[1], 'state', 'ended_at', 'written', 'url_form')\n"
               "local st, form = m[1], m[4] or '1'\n"
               "if not st then\n"
               "  if redis.call('EXISTS', KEYS[2]) == 1 then return {'lost', '0', '0', form} end\n"
               "  st, form = 'new', ARGV[3]\n"
               "  redis.call('HSET', KEYS[1], 'created_at', ARGV[2], 'url_form', form)\n"
               "elseif st == 'complete' then\n"
               "  return {st, m[2] or '0', m[3] or '0', form}\n"
               "elseif form ~= ARGV[3] then\n"
               "  return {'url_form', m[2] or '0', m[3] or '0', form}\n"
               "end\n"
               "redis.call('HSET', KEYS[1], 'state', 'running', 'run_id', ARGV[1], 'started_at', ARGV[2],\n"
               "           'ended_at', '', 'reason', '')\n"
               "return {st, m[2] or '0', m[3] or '0', form}\n";

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

/* KEYS leases frontier delayed stats waiting; ARGV now limit. Expired leases and
 * due retries go back to the head of their hosts' queues; URLs in the single
 * list frontier (a crawl begun by an older broker, or a script that still
 * pushes there) move to their hosts' queues. */
static const char *LUA_MAINTAIN =
    LUA_WRITES LUA_FR_PUSH "local now = tonumber(ARGV[1])\n"
                           "local exp = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])\n"
                           "for _, u in ipairs(exp) do redis.call('ZREM', KEYS[1], u); push(u, true, now) end\n"
                           "if #exp > 0 then redis.call('HINCRBY', KEYS[4], 'expired', #exp) end\n"
                           "local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])\n"
                           "for _, u in ipairs(due) do redis.call('ZREM', KEYS[3], u); push(u, true, now) end\n"
                           "local old = redis.call('LPOP', KEYS[2], tonumber(ARGV[2])) or {}\n"
                           "for _, u in ipairs(old) do push(u, false, now) end\n"
                           "local moved = #exp + #due + #old\n"
                           "if moved > 0 then redis.call('INCRBY', KEYS[5], moved) end\n"
                           "return moved\n";

/* ---- connection ---- */

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

/* Runs argv as one command. Returns the reply (caller frees), or NULL with fr->err.
 * A MOVED answer (the crawl's slot moved to another cluster node) is followed: the
 * command goes again to the node named, at most 3 times. */
static redisReply *fr_cmd(frontier *fr, int argc, const char **argv, const size_t *lens) {
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
    char **owned; /* strings this argv allocated */
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
    fr_args a = { 0 };
    size_t nbad = 0;
    args_eval(&a, LUA_DISCOVER, 4);
    args_str(&a, fr->k_seen);
    args_str(&a, fr->k_leases);
    args_str(&a, fr->k_stats);
    args_str(&a, fr->k_waiting);
    args_str(&a, parent ? parent : "");
    args_ll(&a, now_ms);
    for (size_t i = 0; i < n; i++) {
        char canon[ZC_URL_MAX], err[128];
        int cl = zc_url_canonical(urls[i], strlen(urls[i]), canon, sizeof(canon), err, sizeof(err));
        if (cl < 0) {
            nbad++;
            continue;
        }
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

static int64_t str_ll(const redisReply *r) {
    return r && r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
}

long frontier_lease_batch(frontier *fr, frontier_lease *out, size_t max, int64_t now_ms,
                          int64_t lease_ms, int per_host, frontier_host *hosts, size_t *nhosts) {
    *nhosts = 0;
    if (max == 0) return 0;
    fr_args a = { 0 };
    args_eval(&a, LUA_LEASE, 5);
    args_str(&a, fr->k_ready);
    args_str(&a, fr->k_active);
    args_str(&a, fr->k_leases);
    args_str(&a, fr->k_retries);
    args_str(&a, fr->k_waiting);
    args_ll(&a, now_ms);
    args_ll(&a, now_ms + lease_ms);
    args_ll(&a, (long long)max);
    args_ll(&a, per_host > 0 ? per_host : 1);
    redisReply *r = fr_run(fr, &a);
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
    fr_args a = { 0 };
    args_eval(&a, LUA_RELEASE, 2);
    args_str(&a, fr->k_ready);
    args_str(&a, fr->k_active);
    for (size_t i = 0; i < n; i++) {
        args_str(&a, h[i].key);
        args_ll(&a, h[i].release_at < 0 ? -1 : h[i].release_at);
        if (h[i].save > 0) {
            args_ll(&a, h[i].cap > 0 ? h[i].cap : 1);
            args_ll(&a, h[i].until_ms);
            args_ll(&a, h[i].delay_ms);
        } else {
            args_str(&a, h[i].save < 0 ? "0" : "");
            args_str(&a, "");
            args_str(&a, "");
        }
    }
    long long v;
    return fr_eval_int(fr, &a, &v);
}

long frontier_recover_hosts(frontier *fr, int64_t now_ms) {
    fr_args a = { 0 };
    args_eval(&a, LUA_RECOVER, 2);
    args_str(&a, fr->k_active);
    args_str(&a, fr->k_ready);
    args_ll(&a, now_ms);
    long long v;
    if (fr_eval_int(fr, &a, &v) != 0) return -1;
    return (long)v;
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
    args_str(&a, fr->k_waiting);
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
    args_eval(&a, LUA_MAINTAIN, 5);
    args_str(&a, fr->k_leases);
    args_str(&a, fr->k_frontier);
    args_str(&a, fr->k_delayed);
    args_str(&a, fr->k_stats);
    args_str(&a, fr->k_waiting);
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
        { "GET", fr->k_waiting },
        { "ZCARD", fr->k_leases },
        { "ZCARD", fr->k_delayed },
        { "LLEN", fr->k_seeds },
        { "LLEN", fr->k_dead },
        { "HLEN", fr->k_gone },
        { "LLEN", fr->k_frontier },
    };
    size_t ncmd = sizeof(cmds) / sizeof(cmds[0]);
    for (size_t i = 0; i < ncmd; i++)
        if (redisAppendCommand(fr->rc, "%s %s", cmds[i][0], cmds[i][1]) != REDIS_OK) goto err;
    if (redisAppendCommand(fr->rc, "HMGET %s fetched parsed written retried expired state",
                           fr->k_stats) != REDIS_OK)
        goto err;
    long long legacy = 0;
    long long *dst[] = { &c->queued, &c->leased, &c->delayed, &c->seeds, &c->dead, &c->gone, &legacy };
    int failed = 0, moved = 0;
    for (size_t i = 0; i <= ncmd; i++) {
        redisReply *r = NULL;
        if (redisGetReply(fr->rc, (void **)&r) != REDIS_OK || !r) goto err;
        if (r->type == REDIS_REPLY_ERROR) {
            failed = 1;
            moved |= zc_redis_moved(r, &fr->addr);
        } else if (i < ncmd) *dst[i] = reply_ll(r);
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
        /* The crawl's slot moved: the next call goes to its new node. */
        if (moved && frontier_reconnect(fr) != 0) return -1;
        snprintf(fr->err, sizeof(fr->err), "redis error while reading counts%s", moved ? " (slot moved)" : "");
        return -1;
    }
    c->queued += legacy; /* not yet moved to the per-host queues */
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
    args_ll(&a, ZC_URL_FORM);
    redisReply *r = fr_run(fr, &a);
    if (!r) return -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 || r->element[0]->type != REDIS_REPLY_STRING) {
        snprintf(fr->err, sizeof(fr->err), "unexpected reply to the meta script");
        freeReplyObject(r);
        return -1;
    }
    snprintf(prev->state, sizeof(prev->state), "%s", r->element[0]->str);
    prev->ended_at = reply_ll(r->element[1]);
    prev->written = reply_ll(r->element[2]);
    prev->url_form = reply_ll(r->element[3]);
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

/* KEYS leases seen waiting stats; ARGV url [fingerprint target]: the seen set
 * as LUA_DISCOVER keeps it, the target queued at its host like a discovered URL. */
static const char *LUA_REDIRECT =
    LUA_WRITES LUA_FR_PUSH "if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return -1 end\n"
                           "redis.call('HINCRBY', KEYS[4], 'redirected', 1)\n"
                           "if not ARGV[2] then return 0 end\n"
                           "local fp = ARGV[2]\n"
                           "local bucket = KEYS[2] .. ':' .. string.format('%02x%02x', fp:byte(1), fp:byte(2))\n"
                           "if redis.call('HSETNX', bucket, string.sub(fp, 3), '') == 1 then\n"
                           "  push(ARGV[3], false, clock()); redis.call('INCR', KEYS[3])\n"
                           "  redis.call('HINCRBY', KEYS[4], 'discovered', 1)\n"
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
    args_str(&a, fr->k_waiting);
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
