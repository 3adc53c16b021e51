/* zc_crawlstat.c -- one read of a crawl's keys in Redis and its JSON, shared by
 * `zcrawl status` and the broker's status page. */
#include "zc_crawlstat.h"

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zc_hash.h"
#include "zc_redis.h"
#include "zc_time.h"

#define CS_LEGACY_MAX 100000 /* old single-list URLs read for the by-host counts */
#define CS_CHUNK      5000   /* commands or URLs per round trip */

const char *const zc_cs_counters[] = {
    "fetched",
    "discovered",
    "parsed",
    "written",
    "retried",
    "dead",
    "gone",
    "expired",
    "redirected",
    "out_of_scope",
    "excluded",
    "refused_messages",
    "refused_role",
    "refused_wrong_role",
    "refused_no_hello",
    "refused_not_held",
    "refused_role_change",
    "refused_size",
    NULL,
};

const char *const zc_cs_refusals[] = { "role", "wrong_role", "no_hello", "not_held", "role_change", "size", NULL };

/* ---- counts by name ---- */

static int counts_grow(zc_cs_counts *h, size_t cap) {
    zc_cs_count *ns = calloc(cap, sizeof(*ns));
    if (!ns) return -1;
    for (size_t i = 0; i < h->cap; i++) {
        if (!h->slots[i].name) continue;
        size_t j = (size_t)zc_fnv1a(h->slots[i].name, strlen(h->slots[i].name)) & (cap - 1);
        while (ns[j].name) j = (j + 1) & (cap - 1);
        ns[j] = h->slots[i];
    }
    free(h->slots);
    h->slots = ns;
    h->cap = cap;
    return 0;
}

static zc_cs_count *counts_find(const zc_cs_counts *h, const char *name) {
    if (!h->cap) return NULL;
    size_t j = (size_t)zc_fnv1a(name, strlen(name)) & (h->cap - 1);
    while (h->slots[j].name) {
        if (!strcmp(h->slots[j].name, name)) return &h->slots[j];
        j = (j + 1) & (h->cap - 1);
    }
    return NULL;
}

int zc_cs_counts_add(zc_cs_counts *h, const char *name, long long n) {
    zc_cs_count *e = counts_find(h, name);
    if (e) {
        e->n += n;
        return 0;
    }
    if ((h->used + 1) * 2 > h->cap && counts_grow(h, h->cap ? h->cap * 2 : 64) != 0) return -1;
    size_t j = (size_t)zc_fnv1a(name, strlen(name)) & (h->cap - 1);
    while (h->slots[j].name) j = (j + 1) & (h->cap - 1);
    char *dup = strdup(name);
    if (!dup) return -1;
    h->slots[j].name = dup;
    h->slots[j].n = n;
    h->used++;
    return 0;
}

long long zc_cs_counts_get(const zc_cs_counts *h, const char *name) {
    const zc_cs_count *e = counts_find(h, name);
    return e ? e->n : 0;
}

static int count_cmp(const void *a, const void *b) {
    const zc_cs_count *x = a, *y = b;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    return strcmp(x->name, y->name);
}

zc_cs_count *zc_cs_counts_sorted(zc_cs_counts *h, size_t *n) {
    *n = 0;
    if (h->used == 0) return NULL;
    zc_cs_count *v = malloc(h->used * sizeof(*v));
    if (!v) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < h->cap; i++)
        if (h->slots[i].name) v[k++] = h->slots[i];
    qsort(v, k, sizeof(*v), count_cmp);
    free(h->slots);
    memset(h, 0, sizeof(*h));
    *n = k;
    return v;
}

void zc_cs_counts_free_sorted(zc_cs_count *v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i].name);
    free(v);
}

void zc_cs_counts_free(zc_cs_counts *h) {
    for (size_t i = 0; i < h->cap; i++) free(h->slots[i].name);
    free(h->slots);
    memset(h, 0, sizeof(*h));
}

int zc_cs_url_host(const char *url, size_t len, char *out, size_t outlen) {
    const char *end = url + len;
    const char *p = NULL;
    for (const char *q = url; q + 2 < end; q++) {
        if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
            p = q + 3;
            break;
        }
        if (!isalnum((unsigned char)*q) && *q != '+' && *q != '-' && *q != '.') return -1;
    }
    if (!p || p == url + 3) return -1;
    const char *h = p;
    while (p < end && *p != '/' && *p != '?' && *p != '#') p++;
    const char *at = NULL;
    for (const char *q = h; q < p; q++)
        if (*q == '@') at = q;
    if (at) h = at + 1;
    size_t n = (size_t)(p - h);
    if (n == 0 || n >= outlen) return -1;
    for (size_t i = 0; i < n; i++) out[i] = (char)tolower((unsigned char)h[i]);
    out[n] = '\0';
    return 0;
}

/* ---- reading ---- */

/* Takes one pipelined reply of the expected type (nil too when nil_ok). Returns
 * it, or NULL with a one-line reason in err. */
static redisReply *take(redisContext *c, int type, int nil_ok, const char *what, char *err, size_t errlen) {
    void *v = NULL;
    if (redisGetReply(c, &v) != REDIS_OK || !v) {
        snprintf(err, errlen, "redis: reading %s: %s", what, c->errstr[0] ? c->errstr : "no reply");
        return NULL;
    }
    redisReply *r = v;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis: reading %s: %s", what, r->str);
        freeReplyObject(r);
        return NULL;
    }
    if (r->type != type && !(nil_ok && r->type == REDIS_REPLY_NIL)) {
        snprintf(err, errlen, "redis: reading %s: unexpected reply type %d", what, r->type);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static int take_int(redisContext *c, const char *what, long long *out, char *err, size_t errlen) {
    redisReply *r = take(c, REDIS_REPLY_INTEGER, 0, what, err, errlen);
    if (!r) return -1;
    *out = r->integer;
    freeReplyObject(r);
    return 0;
}

static int append(redisContext *c, char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAppendCommand(c, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) snprintf(err, errlen, "redis: %s", c->errstr);
    return rc == REDIS_OK ? 0 : -1;
}

/* Takes the fields of Redis's INFO that say whether it takes writes. */
static void info_field(zc_crawlstat *s, const char *line, size_t n) {
    static const struct {
        const char *name;
        size_t off, len; /* a string field of s, or len 0 for a number */
    } F[] = {
        { "used_memory:", offsetof(zc_crawlstat, used_memory), 0 },
        { "maxmemory:", offsetof(zc_crawlstat, maxmemory), 0 },
        { "maxmemory_policy:", offsetof(zc_crawlstat, maxmemory_policy), sizeof(((zc_crawlstat *)0)->maxmemory_policy) },
        { "role:", offsetof(zc_crawlstat, role), sizeof(((zc_crawlstat *)0)->role) },
        { "rdb_last_bgsave_status:", offsetof(zc_crawlstat, bgsave_status), sizeof(((zc_crawlstat *)0)->bgsave_status) },
        { "aof_last_write_status:", offsetof(zc_crawlstat, aof_status), sizeof(((zc_crawlstat *)0)->aof_status) },
    };
    while (n && (line[n - 1] == '\r' || line[n - 1] == ' ')) n--;
    for (size_t i = 0; i < sizeof(F) / sizeof(F[0]); i++) {
        size_t k = strlen(F[i].name);
        if (n <= k || strncmp(line, F[i].name, k)) continue;
        char *dst = (char *)s + F[i].off;
        if (F[i].len == 0) {
            *(long long *)(void *)dst = strtoll(line + k, NULL, 10);
        } else {
            size_t m = n - k < F[i].len - 1 ? n - k : F[i].len - 1;
            memcpy(dst, line + k, m);
            dst[m] = '\0';
        }
    }
}

/* The counts and hashes: one pipeline. */
static int read_basics(redisContext *c, const char *crawl, zc_crawlstat *s, char *err, size_t errlen) {
    static const char *const names[] = { "meta", "stats", "frontier", "leases", "delayed", "dead", "gone", "seeds",
                                         "ready", "active", "waiting" };
    static const char *const cmds[] = { "HGETALL %s", "HGETALL %s", "LLEN %s", "ZCARD %s", "ZCARD %s", "LLEN %s",
                                        "HLEN %s", "LLEN %s", "ZCARD %s", "ZCARD %s", "GET %s" };
    enum { N = sizeof(names) / sizeof(names[0]) };
    char key[192];
    for (int i = 0; i < N; i++) {
        if (zc_redis_key(key, sizeof(key), crawl, names[i]) != 0) {
            snprintf(err, errlen, "crawl name too long");
            return -1;
        }
        if (append(c, err, errlen, cmds[i], key) != 0) return -1;
    }
    if (zc_redis_key(key, sizeof(key), crawl, "dead") != 0 ||
        append(c, err, errlen, "LRANGE %s %d -1", key, -ZC_CS_DEAD_LATEST) != 0 ||
        zc_redis_key(key, sizeof(key), crawl, "spec_counts") != 0 || append(c, err, errlen, "HGETALL %s", key) != 0 ||
        append(c, err, errlen, "INFO memory persistence replication") != 0)
        return -1;
    if (!(s->meta = take(c, REDIS_REPLY_ARRAY, 0, "meta", err, errlen))) return -1;
    if (!(s->stats = take(c, REDIS_REPLY_ARRAY, 0, "stats", err, errlen))) return -1;
    long long *ints[] = { &s->legacy, &s->leases, &s->delayed, &s->dead, &s->gone, &s->seeds, &s->ready, &s->active };
    for (int i = 0; i < 8; i++)
        if (take_int(c, names[i + 2], ints[i], err, errlen) != 0) return -1;
    redisReply *w = take(c, REDIS_REPLY_STRING, 1, "waiting", err, errlen);
    if (!w) return -1;
    s->waiting = w->type == REDIS_REPLY_STRING ? atoll(w->str) : 0;
    freeReplyObject(w);
    s->frontier = s->waiting + s->legacy;
    if (!(s->dead_latest = take(c, REDIS_REPLY_ARRAY, 0, "dead letters", err, errlen))) return -1;
    if (!(s->spec_counts = take(c, REDIS_REPLY_ARRAY, 0, "spec counts", err, errlen))) return -1;
    /* INFO may be refused (a renamed command, an ACL): the read goes on without it. */
    void *v = NULL;
    if (redisGetReply(c, &v) != REDIS_OK || !v) {
        snprintf(err, errlen, "redis: reading INFO: %s", c->errstr[0] ? c->errstr : "no reply");
        return -1;
    }
    redisReply *info = v;
    if (info->type == REDIS_REPLY_STRING) {
        s->redis_info = 1;
        for (const char *p = info->str; p && *p;) {
            const char *nl = strchr(p, '\n');
            info_field(s, p, nl ? (size_t)(nl - p) : strlen(p));
            p = nl ? nl + 1 : NULL;
        }
    }
    freeReplyObject(info);
    return 0;
}

/* Counts every waiting URL by host: the queue of each host in ready and in active
 * (up to hosts_max of each), then the hosts of the first CS_LEGACY_MAX URLs of
 * the old single list (a crawl begun by an older broker). Fills s->by_host. */
static int read_hosts(redisContext *c, const char *crawl, long hosts_max, zc_crawlstat *s, char *err, size_t errlen) {
    zc_cs_counts h = { 0 };
    int rc = -1;
    s->sample_complete = 1;
    static const char *const sets[] = { "ready", "active" };
    for (int k = 0; k < 2; k++) {
        char set[192], q[512];
        if (zc_redis_key(set, sizeof(set), crawl, sets[k]) != 0 ||
            append(c, err, errlen, "ZRANGE %s 0 %ld", set, hosts_max - 1) != 0)
            goto err;
        redisReply *r = take(c, REDIS_REPLY_ARRAY, 0, sets[k], err, errlen);
        if (!r) goto err;
        if (r->elements >= (size_t)hosts_max) s->sample_complete = 0;
        for (size_t i = 0; i < r->elements; i += CS_CHUNK) {
            size_t end = i + CS_CHUNK < r->elements ? i + CS_CHUNK : r->elements;
            int bad = 0;
            for (size_t j = i; j < end && !bad; j++) {
                const redisReply *e = r->element[j];
                char name[320];
                int nl = e->type == REDIS_REPLY_STRING ? snprintf(name, sizeof(name), "q:%s", e->str) : -1;
                if (nl < 0 || (size_t)nl >= sizeof(name) || zc_redis_key(q, sizeof(q), crawl, name) != 0)
                    snprintf(q, sizeof(q), "zcrawl:{%s}:q:?", crawl);
                bad = append(c, err, errlen, "LLEN %s", q);
            }
            for (size_t j = i; j < end && !bad; j++) {
                long long n;
                const redisReply *e = r->element[j];
                if (take_int(c, "a host's queue", &n, err, errlen) != 0) bad = 1;
                else if (n > 0 && zc_cs_counts_add(&h, e->type == REDIS_REPLY_STRING ? e->str : "?", n) != 0) {
                    snprintf(err, errlen, "out of memory counting hosts");
                    bad = 1;
                } else s->sampled += n;
            }
            if (bad) {
                freeReplyObject(r);
                goto err;
            }
        }
        freeReplyObject(r);
    }
    char key[192];
    if (zc_redis_key(key, sizeof(key), crawl, "frontier") != 0) goto err;
    for (long long start = 0; start < s->legacy && start < CS_LEGACY_MAX; start += CS_CHUNK) {
        if (append(c, err, errlen, "LRANGE %s %lld %lld", key, start, start + CS_CHUNK - 1) != 0) goto err;
        redisReply *r = take(c, REDIS_REPLY_ARRAY, 0, "frontier", err, errlen);
        if (!r) goto err;
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *u = r->element[i];
            char host[256];
            if (u->type != REDIS_REPLY_STRING) continue;
            if (zc_cs_url_host(u->str, u->len, host, sizeof(host)) != 0) strcpy(host, "(not a URL)");
            if (zc_cs_counts_add(&h, host, 1) != 0) {
                freeReplyObject(r);
                snprintf(err, errlen, "out of memory counting hosts");
                goto err;
            }
        }
        s->sampled += (long long)r->elements;
        freeReplyObject(r);
    }
    if (s->legacy > CS_LEGACY_MAX) s->sample_complete = 0;
    s->by_host = zc_cs_counts_sorted(&h, &s->nby_host);
    if (!s->by_host && h.used) {
        snprintf(err, errlen, "out of memory sorting hosts");
        goto err;
    }
    rc = 0;
err:
    zc_cs_counts_free(&h);
    return rc;
}

/* Leases by host ("host:port", the default port written out as the queue keys
 * have it), counted in Redis: only the counts travel. */
static const char LUA_LEASES_BY_HOST[] =
    "local n = tonumber(ARGV[1]); local t = {}\n"
    "for _, u in ipairs(redis.call('ZRANGE', KEYS[1], 0, n - 1)) do\n"
    "  local sch, hp = string.match(u, '^(%a[%w+.-]*)://([^/?#]+)')\n"
    "  if hp then\n"
    "    hp = string.lower(string.gsub(hp, '^.*@', ''))\n"
    "    if not string.match(hp, ':%d+$') then hp = hp .. (string.lower(sch) == 'https' and ':443' or ':80') end\n"
    "  else hp = '?' end\n"
    "  t[hp] = (t[hp] or 0) + 1\n"
    "end\n"
    "local out = {}\n"
    "for k, v in pairs(t) do out[#out + 1] = k; out[#out + 1] = v end\n"
    "return out\n";

/* The newest dead letters by stage, and those of stage robots (robots.txt could
 * not be had) by origin. */
static const char LUA_DEAD_SUMMARY[] =
    "local n = redis.call('LLEN', KEYS[1]); local max = tonumber(ARGV[1])\n"
    "local from = n > max and n - max or 0\n"
    "local st, ro = {}, {}\n"
    "for i = from, n - 1, 1000 do\n"
    "  for _, e in ipairs(redis.call('LRANGE', KEYS[1], i, math.min(i + 999, n - 1))) do\n"
    "    local ok, d = pcall(cjson.decode, e)\n"
    "    local s = (ok and type(d) == 'table' and type(d.stage) == 'string') and d.stage or '?'\n"
    "    st[s] = (st[s] or 0) + 1\n"
    "    if s == 'robots' and type(d.url) == 'string' then\n"
    "      local o = string.match(d.url, '^%a[%w+.-]*://[^/?#]+') or '?'\n"
    "      ro[o] = (ro[o] or 0) + 1\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local out = {n - from}\n"
    "for k, v in pairs(st) do out[#out + 1] = 's'; out[#out + 1] = k; out[#out + 1] = v end\n"
    "for k, v in pairs(ro) do out[#out + 1] = 'r'; out[#out + 1] = k; out[#out + 1] = v end\n"
    "return out\n";

/* Runs both scripts. Fills the leases by host into leased, and the dead letters'
 * summary into s. */
static int read_scripts(redisContext *c, const char *crawl, int by_host, zc_crawlstat *s, zc_cs_counts *leased,
                        char *err, size_t errlen) {
    char lk[192], dk[192];
    zc_cs_counts st = { 0 }, ro = { 0 };
    redisReply *a = NULL, *b = NULL;
    int rc = -1;
    if (zc_redis_key(lk, sizeof(lk), crawl, "leases") != 0 || zc_redis_key(dk, sizeof(dk), crawl, "dead") != 0) {
        snprintf(err, errlen, "crawl name too long");
        return -1;
    }
    if ((by_host && append(c, err, errlen, "EVAL_RO %s 1 %s %d", LUA_LEASES_BY_HOST, lk, ZC_CS_LEASES_SCAN) != 0) ||
        append(c, err, errlen, "EVAL_RO %s 1 %s %d", LUA_DEAD_SUMMARY, dk, ZC_CS_DEAD_SCAN) != 0)
        return -1;
    if (by_host && !(a = take(c, REDIS_REPLY_ARRAY, 0, "leases by host", err, errlen))) goto out;
    if (!(b = take(c, REDIS_REPLY_ARRAY, 0, "dead letters by stage", err, errlen))) goto out;
    for (size_t i = 0; a && i + 1 < a->elements; i += 2) {
        const redisReply *k = a->element[i], *v = a->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_INTEGER) continue;
        if (zc_cs_counts_add(leased, k->str, v->integer) != 0) goto oom;
        s->leases_read += v->integer;
    }
    if (b->elements > 0 && b->element[0]->type == REDIS_REPLY_INTEGER) s->dead_scanned = b->element[0]->integer;
    for (size_t i = 1; i + 2 < b->elements; i += 3) {
        const redisReply *t = b->element[i], *k = b->element[i + 1], *v = b->element[i + 2];
        if (t->type != REDIS_REPLY_STRING || k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_INTEGER)
            continue;
        if (zc_cs_counts_add(t->str[0] == 's' ? &st : &ro, k->str, v->integer) != 0) goto oom;
    }
    s->dead_by_stage = zc_cs_counts_sorted(&st, &s->ndead_by_stage);
    s->robots_unreachable = zc_cs_counts_sorted(&ro, &s->nrobots_unreachable);
    if ((!s->dead_by_stage && st.used) || (!s->robots_unreachable && ro.used)) goto oom;
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    if (a) freeReplyObject(a);
    if (b) freeReplyObject(b);
    zc_cs_counts_free(&st);
    zc_cs_counts_free(&ro);
    return rc;
}

static long long reply_ll(const redisReply *r) {
    if (!r || r->type != REDIS_REPLY_STRING) return 0;
    return atoll(r->str);
}

/* The top hosts by waiting URLs, with their leases and saved politeness state. */
static int read_top(redisContext *c, const char *crawl, zc_crawlstat *s, const zc_cs_counts *leased, char *err,
                    size_t errlen) {
    char rk[192], hk[512], name[320];
    s->ntop = s->nby_host < ZC_CS_TOP_HOSTS ? s->nby_host : ZC_CS_TOP_HOSTS;
    if (zc_redis_key(rk, sizeof(rk), crawl, "ready") != 0) return -1;
    for (size_t i = 0; i < s->ntop; i++) {
        int nl = snprintf(name, sizeof(name), "host:%s", s->by_host[i].name);
        if (nl < 0 || (size_t)nl >= sizeof(name) || zc_redis_key(hk, sizeof(hk), crawl, name) != 0)
            snprintf(hk, sizeof(hk), "zcrawl:{%s}:host:?", crawl);
        if (append(c, err, errlen, "HMGET %s cap until delay", hk) != 0 ||
            append(c, err, errlen, "ZSCORE %s %s", rk, s->by_host[i].name) != 0)
            return -1;
    }
    for (size_t i = 0; i < s->ntop; i++) {
        zc_cs_host *t = &s->top[i];
        t->host = s->by_host[i].name;
        t->waiting = s->by_host[i].n;
        t->leased = zc_cs_counts_get(leased, t->host);
        redisReply *h = take(c, REDIS_REPLY_ARRAY, 0, "a host's state", err, errlen);
        if (!h) return -1;
        if (h->elements == 3) {
            t->cap = reply_ll(h->element[0]);
            long long until = reply_ll(h->element[1]);
            t->backoff_ms = until > s->now_ms ? until - s->now_ms : 0;
            t->delay_ms = reply_ll(h->element[2]);
        }
        freeReplyObject(h);
        redisReply *z = take(c, REDIS_REPLY_STRING, 1, "a host's turn", err, errlen);
        if (!z) return -1;
        if (z->type == REDIS_REPLY_NIL) t->next_ms = -1;
        else {
            long long at = (long long)strtod(z->str, NULL);
            t->next_ms = at > s->now_ms ? at - s->now_ms : 0;
        }
        freeReplyObject(z);
    }
    return 0;
}

int zc_crawlstat_read(redisContext *c, const char *crawl, long hosts_max, zc_crawlstat *s, char *err,
                      size_t errlen) {
    zc_cs_counts leased = { 0 };
    memset(s, 0, sizeof(*s));
    s->now_ms = zc_wall_ms();
    if (read_basics(c, crawl, s, err, errlen) != 0) goto err;
    if (hosts_max > 0 && s->frontier > 0 && read_hosts(c, crawl, hosts_max, s, err, errlen) != 0) goto err;
    if (read_scripts(c, crawl, hosts_max > 0, s, &leased, err, errlen) != 0) goto err;
    if (read_top(c, crawl, s, &leased, err, errlen) != 0) goto err;
    const char *peers = zc_redis_hget(s->stats, "peers");
    if (peers && *peers) {
        s->peers = cJSON_Parse(peers);
        if (s->peers && !cJSON_IsArray(s->peers)) {
            cJSON_Delete(s->peers);
            s->peers = NULL;
        }
    }
    zc_cs_counts_free(&leased);
    return 0;
err:
    zc_cs_counts_free(&leased);
    zc_crawlstat_free(s);
    return -1;
}

void zc_crawlstat_free(zc_crawlstat *s) {
    if (s->spec_counts) freeReplyObject(s->spec_counts);
    if (s->meta) freeReplyObject(s->meta);
    if (s->stats) freeReplyObject(s->stats);
    if (s->dead_latest) freeReplyObject(s->dead_latest);
    zc_cs_counts_free_sorted(s->by_host, s->nby_host);
    zc_cs_counts_free_sorted(s->dead_by_stage, s->ndead_by_stage);
    zc_cs_counts_free_sorted(s->robots_unreachable, s->nrobots_unreachable);
    cJSON_Delete(s->peers);
    memset(s, 0, sizeof(*s));
}

/* ---- what it means ---- */

int zc_crawlstat_empty(const zc_crawlstat *s) {
    return s->meta->elements == 0 && s->stats->elements == 0 && s->frontier == 0 && s->leases == 0 &&
           s->delayed == 0 && s->seeds == 0 && s->dead == 0;
}

const char *zc_crawlstat_state(const zc_crawlstat *s, const char **source) {
    const char *v = zc_redis_hget(s->meta, "state");
    if (v && *v) {
        *source = "meta";
        return v;
    }
    v = zc_redis_hget(s->stats, "state");
    if (v && *v) {
        *source = "stats";
        return v;
    }
    *source = "none";
    return "unknown";
}

long long zc_crawlstat_stats_age(const zc_crawlstat *s) {
    long long at;
    if (!zc_redis_hget_ll(s->stats, "updated_at", &at)) return -1;
    return s->now_ms > at ? s->now_ms - at : 0;
}

static int add_line(cJSON *arr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_line(cJSON *arr, const char *fmt, ...) {
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    cJSON *v = cJSON_CreateString(line);
    if (!v) return -1;
    cJSON_AddItemToArray(arr, v);
    return 0;
}

int zc_crawlstat_problems(const zc_crawlstat *s, cJSON *arr) {
    const char *problem = zc_redis_hget(s->stats, "problem");
    /* The broker joins its own and each stage's problem with "; ". */
    for (const char *p = problem; p && *p;) {
        const char *sep = strstr(p, "; ");
        size_t n = sep ? (size_t)(sep - p) : strlen(p);
        if (n && add_line(arr, "%.*s", (int)(n > 500 ? 500 : n), p) != 0) return -1;
        p = sep ? sep + 2 : NULL;
    }
    if (s->redis_info) {
        if (s->maxmemory > 0 && s->used_memory >= s->maxmemory && !strcmp(s->maxmemory_policy, "noeviction") &&
            add_line(arr, "redis at maxmemory: %.1f MiB used of %.1f MiB (policy noeviction): it refuses writes",
                     (double)s->used_memory / 1048576.0, (double)s->maxmemory / 1048576.0) != 0)
            return -1;
        if (!strcmp(s->bgsave_status, "err") &&
            add_line(arr, "redis: its last background save failed (it refuses writes while "
                          "stop-writes-on-bgsave-error is on)") != 0)
            return -1;
        if (!strcmp(s->aof_status, "err") && add_line(arr, "redis: its last append-only file write failed") != 0)
            return -1;
        if (!strcmp(s->role, "slave") && add_line(arr, "redis is a replica: it refuses the broker's writes") != 0)
            return -1;
    }
    const char *src;
    long long age = zc_crawlstat_stats_age(s);
    if (!strcmp(zc_crawlstat_state(s, &src), "running") && age > ZC_CS_STALE_MS &&
        add_line(arr, "stats not written for %.0f s: is the broker running, and can it write to redis?",
                 (double)age / 1000.0) != 0)
        return -1;
    for (size_t i = 0; i < s->nrobots_unreachable; i++)
        if (add_line(arr, "robots.txt unreachable for %.300s: %lld URLs dead", s->robots_unreachable[i].name,
                     s->robots_unreachable[i].n) != 0)
            return -1;
    return 0;
}

/* ---- JSON ---- */

static int jnum(cJSON *o, const char *name, double v) { return cJSON_AddNumberToObject(o, name, v) ? 0 : -1; }
static int jstr(cJSON *o, const char *name, const char *v) {
    return cJSON_AddStringToObject(o, name, v ? v : "") ? 0 : -1;
}

double zc_cs_hget_double(const redisReply *h, const char *field) {
    const char *v = zc_redis_hget(h, field);
    if (!v || !*v) return 0;
    char *end;
    double x = strtod(v, &end);
    return *end ? 0 : x;
}

/* Copies a hash into a JSON object, every value a string. */
static int jhash(cJSON *o, const char *name, const redisReply *h) {
    cJSON *m = cJSON_AddObjectToObject(o, name);
    if (!m) return -1;
    for (size_t i = 0; h && i + 1 < h->elements; i += 2) {
        const redisReply *k = h->element[i], *v = h->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        if (jstr(m, k->str, v->str) != 0) return -1;
    }
    return 0;
}

static int jcounts(cJSON *o, const char *name, const char *key, const zc_cs_count *v, size_t n, size_t max) {
    cJSON *a = cJSON_AddArrayToObject(o, name);
    if (!a) return -1;
    for (size_t i = 0; i < n && i < max; i++) {
        cJSON *e = cJSON_CreateObject();
        if (!e) return -1;
        cJSON_AddItemToArray(a, e);
        if (jstr(e, key, v[i].name) || jnum(e, "urls", (double)v[i].n)) return -1;
    }
    return 0;
}

static int json_hosts(cJSON *o, const zc_crawlstat *s) {
    cJSON *bh = cJSON_AddObjectToObject(o, "by_host");
    if (!bh) return -1;
    if (jnum(bh, "sampled", (double)s->sampled) ||
        !cJSON_AddBoolToObject(bh, "complete", s->sample_complete || s->frontier == 0) ||
        jnum(bh, "hosts", (double)s->nby_host))
        return -1;
    cJSON *top = cJSON_AddArrayToObject(bh, "top");
    if (!top) return -1;
    for (size_t i = 0; i < s->ntop; i++) {
        const zc_cs_host *t = &s->top[i];
        cJSON *e = cJSON_CreateObject();
        if (!e) return -1;
        cJSON_AddItemToArray(top, e);
        if (jstr(e, "host", t->host) || jnum(e, "urls", (double)t->waiting) || jnum(e, "leased", (double)t->leased) ||
            jnum(e, "backoff_ms", (double)t->backoff_ms) || jnum(e, "cap", (double)t->cap) ||
            jnum(e, "delay_ms", (double)t->delay_ms) || jnum(e, "next_ms", (double)t->next_ms))
            return -1;
    }
    return 0;
}

/* The newest dead letters, newest first: each as stored (an object), or as
 * {"raw": text} when it is not one. */
static int json_dead(cJSON *o, const zc_crawlstat *s) {
    cJSON *d = cJSON_AddObjectToObject(o, "dead");
    if (!d) return -1;
    if (jnum(d, "total", (double)s->dead) || jnum(d, "scanned", (double)s->dead_scanned) ||
        jcounts(d, "by_stage", "stage", s->dead_by_stage, s->ndead_by_stage, 50) ||
        jcounts(d, "robots_unreachable", "origin", s->robots_unreachable, s->nrobots_unreachable, 50))
        return -1;
    cJSON *latest = cJSON_AddArrayToObject(d, "latest");
    if (!latest) return -1;
    for (size_t i = s->dead_latest->elements; i-- > 0;) {
        const redisReply *e = s->dead_latest->element[i];
        if (e->type != REDIS_REPLY_STRING) continue;
        cJSON *v = cJSON_ParseWithLength(e->str, e->len);
        if (v && !cJSON_IsObject(v)) {
            cJSON_Delete(v);
            v = NULL;
        }
        if (!v) {
            if (!(v = cJSON_CreateObject()) || !cJSON_AddStringToObject(v, "raw", e->str)) {
                cJSON_Delete(v);
                return -1;
            }
        }
        cJSON_AddItemToArray(latest, v);
    }
    return 0;
}

static int json_redis(cJSON *o, const zc_crawlstat *s) {
    if (!s->redis_info) return cJSON_AddNullToObject(o, "redis_info") ? 0 : -1;
    cJSON *r = cJSON_AddObjectToObject(o, "redis_info");
    return !r || jnum(r, "used_memory", (double)s->used_memory) || jnum(r, "maxmemory", (double)s->maxmemory) ||
                   jstr(r, "maxmemory_policy", s->maxmemory_policy) || jstr(r, "role", s->role) ||
                   jstr(r, "rdb_last_bgsave_status", s->bgsave_status) ||
                   jstr(r, "aof_last_write_status", s->aof_status)
               ? -1
               : 0;
}

static int json_counts(cJSON *o, const zc_crawlstat *s) {
    static const char *const roles[][2] = { { "fetcher", "fetchers" }, { "parser", "parsers" }, { "writer", "writers" } };
    cJSON *peers = cJSON_AddObjectToObject(o, "peers");
    if (!peers) return -1;
    for (int i = 0; i < 3; i++) {
        long long v = 0;
        zc_redis_hget_ll(s->stats, roles[i][1], &v);
        if (jnum(peers, roles[i][0], (double)v)) return -1;
    }
    cJSON *list = s->peers ? cJSON_Duplicate(s->peers, 1) : cJSON_CreateArray();
    if (!list) return -1;
    cJSON_AddItemToObject(o, "peer_list", list);
    cJSON *rates = cJSON_AddObjectToObject(o, "rates");
    if (!rates || jnum(rates, "fetched_per_s", zc_cs_hget_double(s->stats, "fetched_per_s")) ||
        jnum(rates, "written_per_s", zc_cs_hget_double(s->stats, "written_per_s")))
        return -1;
    cJSON *counters = cJSON_AddObjectToObject(o, "counters");
    if (!counters) return -1;
    for (int i = 0; zc_cs_counters[i]; i++) {
        long long v = 0;
        if ((zc_redis_hget_ll(s->stats, zc_cs_counters[i], &v) || i < ZC_CS_COUNTERS_ALWAYS) &&
            jnum(counters, zc_cs_counters[i], (double)v))
            return -1;
    }
    return 0;
}

/* ---- a spec's counters (the spec_counts hash) ---- */

/* The entry of v[0..*n) for (tpl, page, name), added when new. NULL when memory runs out. */
static zc_cs_spec *spec_entry(zc_cs_spec **v, size_t *n, size_t *cap, int tpl, const char *page, size_t plen,
                              const char *name, size_t nlen) {
    for (size_t i = 0; i < *n; i++)
        if ((*v)[i].tpl == tpl && strlen((*v)[i].page) == plen && !memcmp((*v)[i].page, page, plen) &&
            strlen((*v)[i].name) == nlen && !memcmp((*v)[i].name, name, nlen))
            return &(*v)[i];
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        zc_cs_spec *w = realloc(*v, c * sizeof(*w));
        if (!w) return NULL;
        *v = w;
        *cap = c;
    }
    zc_cs_spec *e = &(*v)[*n];
    memset(e, 0, sizeof(*e));
    e->tpl = tpl;
    e->page = strndup(page, plen);
    e->name = strndup(name, nlen);
    if (!e->page || !e->name) {
        free(e->page);
        free(e->name);
        return NULL;
    }
    (*n)++;
    return e;
}

int zc_cs_spec_list(const redisReply *h, zc_cs_spec **out, size_t *n) {
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    for (size_t i = 0; h && h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2) {
        const redisReply *k = h->element[i], *v = h->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        /* KIND \t PAGE \t NAME [\t PLACEHOLDER] */
        const char *t1 = memchr(k->str, '\t', k->len), *end = k->str + k->len;
        const char *t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(end - t1 - 1)) : NULL;
        if (!t2) continue;
        const char *t3 = memchr(t2 + 1, '\t', (size_t)(end - t2 - 1));
        size_t kl = (size_t)(t1 - k->str);
        int tpl = !strncmp(k->str, "skip", kl) || !strncmp(k->str, "skipped", kl) || !strncmp(k->str, "tried", kl);
        zc_cs_spec *e = spec_entry(out, n, &cap, tpl, t1 + 1, (size_t)(t2 - t1 - 1), t2 + 1,
                                   (size_t)((t3 ? t3 : end) - t2 - 1));
        if (!e) goto oom;
        long long x = atoll(v->str);
        if (kl == 4 && !strncmp(k->str, "null", 4)) e->bad += x;
        else if (kl == 4 && !strncmp(k->str, "seen", 4)) e->of += x;
        else if (kl == 7 && !strncmp(k->str, "swapped", 7)) e->swapped += x;
        else if (kl == 7 && !strncmp(k->str, "skipped", 7)) e->bad += x;
        else if (kl == 5 && !strncmp(k->str, "tried", 5)) e->of += x;
        else if (kl == 4 && !strncmp(k->str, "skip", 4) && t3) { /* which placeholder: "{a} 3, {b} 1" */
            size_t old = e->why ? strlen(e->why) : 0, add = (size_t)(end - t3 - 1) + 24;
            char *w = realloc(e->why, old + add + 3);
            if (!w) goto oom;
            snprintf(w + old, add + 3, "%s%.*s %lld", old ? ", " : "", (int)(end - t3 - 1), t3 + 1, x);
            e->why = w;
        }
    }
    return 0;
oom:
    zc_cs_spec_free(*out, *n);
    *out = NULL;
    *n = 0;
    return -1;
}

void zc_cs_spec_free(zc_cs_spec *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(v[i].page);
        free(v[i].name);
        free(v[i].why);
    }
    free(v);
}

int zc_cs_spec_warns(const zc_cs_spec *e) { return e->of > 0 && e->bad == e->of; }

const char *zc_cs_spec_line(const zc_cs_spec *e, char *buf, size_t len) {
    if (e->tpl)
        snprintf(buf, len, "page \"%s\": %s items skipped of %lld for %s (%s)%s", e->page,
                 e->bad == e->of ? "all" : "some", e->of, e->name, e->why ? e->why : "too long",
                 zc_cs_spec_warns(e) ? ": every item skipped, a placeholder that names no field?" : "");
    else
        snprintf(buf, len, "page \"%s\": field %s null in %lld of %lld documents%s%s", e->page, e->name, e->bad, e->of,
                 e->swapped ? " (some day-first dates with a month-first format)" : "",
                 zc_cs_spec_warns(e) ? ": null on every document, a wrong path?" : "");
    return buf;
}

static int json_spec(cJSON *o, const zc_crawlstat *s) {
    zc_cs_spec *v;
    size_t n;
    if (zc_cs_spec_list(s->spec_counts, &v, &n) != 0) return -1;
    cJSON *a = cJSON_AddArrayToObject(o, "spec_counts");
    int rc = a ? 0 : -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(a, e)) {
            cJSON_Delete(e);
            rc = -1;
            break;
        }
        if (jstr(e, "page", v[i].page) || jstr(e, v[i].tpl ? "template" : "field", v[i].name) ||
            jnum(e, v[i].tpl ? "skipped" : "null", (double)v[i].bad) ||
            jnum(e, v[i].tpl ? "tried" : "seen", (double)v[i].of) ||
            (!v[i].tpl && jnum(e, "swapped", (double)v[i].swapped)) ||
            (v[i].tpl && jstr(e, "placeholders", v[i].why ? v[i].why : "")) ||
            !cJSON_AddBoolToObject(e, "warning", zc_cs_spec_warns(&v[i])))
            rc = -1;
    }
    zc_cs_spec_free(v, n);
    return rc;
}

cJSON *zc_crawlstat_json(const zc_crawlstat *s, const char *crawl, const char *where) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    const char *src;
    const char *state = zc_crawlstat_state(s, &src);
    long long age = zc_crawlstat_stats_age(s);
    if (jstr(o, "crawl", crawl) || jstr(o, "redis", where) || jstr(o, "state", state) ||
        jstr(o, "state_source", src) || jstr(o, "problem", zc_redis_hget(s->stats, "problem")) ||
        jstr(o, "waits", zc_redis_hget(s->stats, "waits")) ||
        jnum(o, "queue_depth", (double)(s->frontier + s->delayed)) || jnum(o, "frontier", (double)s->frontier) ||
        jnum(o, "delayed", (double)s->delayed) || jnum(o, "leases", (double)s->leases) ||
        jnum(o, "seeds", (double)s->seeds) || jnum(o, "dead_letters", (double)s->dead) ||
        jnum(o, "gone", (double)s->gone) || jnum(o, "hosts_ready", (double)s->ready) ||
        jnum(o, "hosts_active", (double)s->active) || jnum(o, "read_at", (double)s->now_ms))
        goto err;
    if (age >= 0 ? jnum(o, "stats_age_ms", (double)age) : !cJSON_AddNullToObject(o, "stats_age_ms")) goto err;
    cJSON *problems = cJSON_AddArrayToObject(o, "problems");
    if (!problems || zc_crawlstat_problems(s, problems) != 0) goto err;
    if (json_counts(o, s) || json_hosts(o, s) || json_dead(o, s) || json_redis(o, s) || json_spec(o, s) ||
        jhash(o, "meta", s->meta) || jhash(o, "stats", s->stats))
        goto err;
    return o;
err:
    cJSON_Delete(o);
    return NULL;
}
