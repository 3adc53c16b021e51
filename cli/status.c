/* status.c -- `zcrawl status`: reads a crawl's keys in Redis once and prints its
 * state, queues, leases, dead letters, counters and rates as a table or JSON. */
#include "zc_hash.h"
#include "status.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <hiredis.h>

#include "zc_flags.h"
#include "zc_redact.h"
#include "zc_redis.h"
#include "zc_time.h"

#define PROG                "zcrawl"
#define STATUS_TIMEOUT_MS   3000
#define STATUS_SAMPLE_MAX   100000 /* old single-list frontier URLs read for the by-host counts */
#define STATUS_HOSTS_MAX    100000 /* hosts of each of ready and active whose queues are counted */
#define STATUS_SAMPLE_CHUNK 5000   /* URLs per LRANGE */
#define STATUS_TOP_HOSTS    10
/* A stats hash older than this while the state says running means no broker
 * is writing it (it writes every --stats-ms, 1 s by default). */
#define STATUS_STALE_MS 15000

/* Counters of the stats hash, in the order they are shown. The first ones are
 * always there once a crawl ran; the others appear when a broker counts them. */
static const char *const COUNTERS[] = {
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
    NULL,
};
#define COUNTERS_ALWAYS 8

/* ---- hosts of a URL sample ---- */

int status_url_host(const char *url, size_t len, char *out, size_t outlen) {
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

static uint64_t host_hash(const char *s) { return zc_fnv1a(s, strlen(s)); }

/* Grows the table to cap slots. Returns 0, or -1 when out of memory (unchanged). */
static int hosts_grow(status_hosts *h, size_t cap) {
    status_host *ns = calloc(cap, sizeof(*ns));
    if (!ns) return -1;
    for (size_t i = 0; i < h->cap; i++) {
        if (!h->slots[i].host) continue;
        size_t j = (size_t)host_hash(h->slots[i].host) & (cap - 1);
        while (ns[j].host) j = (j + 1) & (cap - 1);
        ns[j] = h->slots[i];
    }
    free(h->slots);
    h->slots = ns;
    h->cap = cap;
    return 0;
}

int status_hosts_add_n(status_hosts *h, const char *host, long long n) {
    if ((h->used + 1) * 2 > h->cap && hosts_grow(h, h->cap ? h->cap * 2 : 64) != 0) return -1;
    size_t j = (size_t)host_hash(host) & (h->cap - 1);
    while (h->slots[j].host) {
        if (!strcmp(h->slots[j].host, host)) {
            h->slots[j].n += n;
            return 0;
        }
        j = (j + 1) & (h->cap - 1);
    }
    char *dup = strdup(host);
    if (!dup) return -1;
    h->slots[j].host = dup;
    h->slots[j].n = n;
    h->used++;
    return 0;
}

int status_hosts_add(status_hosts *h, const char *host) { return status_hosts_add_n(h, host, 1); }

static int host_cmp(const void *a, const void *b) {
    const status_host *x = a, *y = b;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    return strcmp(x->host, y->host);
}

status_host *status_hosts_sorted(status_hosts *h, size_t *n) {
    *n = 0;
    if (h->used == 0) return NULL;
    status_host *v = malloc(h->used * sizeof(*v));
    if (!v) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < h->cap; i++)
        if (h->slots[i].host) v[k++] = h->slots[i];
    qsort(v, k, sizeof(*v), host_cmp);
    free(h->slots);
    memset(h, 0, sizeof(*h));
    *n = k;
    return v;
}

void status_hosts_free_sorted(status_host *v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i].host);
    free(v);
}

void status_hosts_free(status_hosts *h) {
    for (size_t i = 0; i < h->cap; i++) free(h->slots[i].host);
    free(h->slots);
    memset(h, 0, sizeof(*h));
}

/* ---- reading the crawl ---- */

/* What one read of a crawl found. */
typedef struct status_read {
    redisReply *meta, *stats; /* HGETALL replies (owned) */
    long long frontier, leases, delayed, dead, gone, seeds;
    int64_t now_ms;
    status_host *hosts; /* sorted by count, owned */
    size_t nhosts;
    long long sampled;   /* frontier URLs read for hosts */
    int sample_complete; /* 1 when the sample is the whole frontier */
} status_read;

static void status_read_free(status_read *s) {
    if (s->meta) freeReplyObject(s->meta);
    if (s->stats) freeReplyObject(s->stats);
    status_hosts_free_sorted(s->hosts, s->nhosts);
    memset(s, 0, sizeof(*s));
}

static int hget_double(const redisReply *h, const char *field, double *out) {
    const char *v = zc_redis_hget(h, field);
    if (!v || !*v) return 0;
    char *end;
    double x = strtod(v, &end);
    if (*end) return 0;
    *out = x;
    return 1;
}

/* Takes one pipelined reply of the expected type. Returns it, or NULL with a
 * one-line reason in err (the connection is then unusable). */
static redisReply *take_reply(redisContext *c, int type, const char *what, char *err, size_t errlen) {
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
    if (r->type != type) {
        snprintf(err, errlen, "redis: reading %s: unexpected reply type %d", what, r->type);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static int take_int(redisContext *c, const char *what, long long *out, char *err, size_t errlen) {
    redisReply *r = take_reply(c, REDIS_REPLY_INTEGER, what, err, errlen);
    if (!r) return -1;
    *out = r->integer;
    freeReplyObject(r);
    return 0;
}

/* Counts every waiting URL by host: the queue of each host in ready and in active
 * (up to STATUS_HOSTS_MAX of each), then the hosts of the first
 * STATUS_SAMPLE_MAX URLs of the old single list (a crawl begun by an older broker;
 * the broker moves them to their hosts' queues). Returns 0, or -1 with a one-line
 * reason in err. */
static int sample_hosts(redisContext *c, const char *crawl, const char *key, long long legacy, status_read *s,
                        char *err, size_t errlen) {
    status_hosts h = { 0 };
    long long start = 0;
    int rc = -1;
    s->sample_complete = 1;
    static const char *const sets[] = { "ready", "active" };
    for (int k = 0; k < 2; k++) {
        char set[192], q[512];
        if (zc_redis_key(set, sizeof(set), crawl, sets[k]) != 0 ||
            redisAppendCommand(c, "ZRANGE %s 0 %d", set, STATUS_HOSTS_MAX - 1) != REDIS_OK) {
            snprintf(err, errlen, "redis: ZRANGE: %s", c->errstr);
            goto err;
        }
        redisReply *r = take_reply(c, REDIS_REPLY_ARRAY, sets[k], err, errlen);
        if (!r) goto err;
        if (r->elements >= STATUS_HOSTS_MAX) s->sample_complete = 0;
        for (size_t i = 0; i < r->elements; i += STATUS_SAMPLE_CHUNK) {
            size_t end = i + STATUS_SAMPLE_CHUNK < r->elements ? i + STATUS_SAMPLE_CHUNK : r->elements;
            for (size_t j = i; j < end; j++) {
                const redisReply *e = r->element[j];
                char name[320];
                int nl = e->type == REDIS_REPLY_STRING ? snprintf(name, sizeof(name), "q:%s", e->str) : -1;
                if (nl < 0 || (size_t)nl >= sizeof(name) || zc_redis_key(q, sizeof(q), crawl, name) != 0)
                    snprintf(q, sizeof(q), "zcrawl:{%s}:q:?", crawl);
                if (redisAppendCommand(c, "LLEN %s", q) != REDIS_OK) {
                    freeReplyObject(r);
                    snprintf(err, errlen, "redis: LLEN: %s", c->errstr);
                    goto err;
                }
            }
            for (size_t j = i; j < end; j++) {
                long long n;
                if (take_int(c, "a host's queue", &n, err, errlen) != 0) {
                    freeReplyObject(r);
                    goto err;
                }
                const redisReply *e = r->element[j];
                if (n > 0 && status_hosts_add_n(&h, e->type == REDIS_REPLY_STRING ? e->str : "?", n) != 0) {
                    freeReplyObject(r);
                    snprintf(err, errlen, "out of memory counting hosts");
                    goto err;
                }
                s->sampled += n;
            }
        }
        freeReplyObject(r);
    }
    while (legacy > 0 && start < STATUS_SAMPLE_MAX) {
        long long stop = start + STATUS_SAMPLE_CHUNK - 1;
        if (stop >= STATUS_SAMPLE_MAX) stop = STATUS_SAMPLE_MAX - 1;
        if (redisAppendCommand(c, "LRANGE %s %lld %lld", key, start, stop) != REDIS_OK) {
            snprintf(err, errlen, "redis: LRANGE: %s", c->errstr);
            goto err;
        }
        redisReply *r = take_reply(c, REDIS_REPLY_ARRAY, "frontier", err, errlen);
        if (!r) goto err;
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *u = r->element[i];
            char host[256];
            if (u->type != REDIS_REPLY_STRING) continue;
            if (status_url_host(u->str, u->len, host, sizeof(host)) != 0) strcpy(host, "(not a URL)");
            if (status_hosts_add(&h, host) != 0) {
                freeReplyObject(r);
                snprintf(err, errlen, "out of memory counting hosts");
                goto err;
            }
        }
        size_t got = r->elements;
        freeReplyObject(r);
        s->sampled += (long long)got;
        if (got < (size_t)(stop - start + 1)) break;
        start = stop + 1;
        if (start >= STATUS_SAMPLE_MAX && start < legacy) s->sample_complete = 0;
    }
    s->hosts = status_hosts_sorted(&h, &s->nhosts);
    if (!s->hosts && h.used) {
        snprintf(err, errlen, "out of memory sorting hosts");
        goto err;
    }
    rc = 0;
err:
    status_hosts_free(&h);
    return rc;
}

/* Reads everything `zcrawl status` shows. Returns 0, or -1 with a one-line
 * reason in err (nothing to free then). */
static int status_read_crawl(redisContext *c, const char *crawl, status_read *s, char *err, size_t errlen) {
    static const char *const names[] = { "meta", "stats", "frontier", "leases", "delayed", "dead", "gone", "seeds",
                                         "waiting" };
    static const char *const cmds[] = { "HGETALL %s", "HGETALL %s", "LLEN %s", "ZCARD %s", "ZCARD %s",
                                        "LLEN %s", "HLEN %s", "LLEN %s", "GET %s" };
    char keys[9][192];
    memset(s, 0, sizeof(*s));
    for (int i = 0; i < 9; i++) {
        if (zc_redis_key(keys[i], sizeof(keys[i]), crawl, names[i]) != 0) {
            snprintf(err, errlen, "crawl name too long");
            return -1;
        }
        if (redisAppendCommand(c, cmds[i], keys[i]) != REDIS_OK) {
            snprintf(err, errlen, "redis: %s", c->errstr);
            return -1;
        }
    }
    s->now_ms = zc_wall_ms();
    if (!(s->meta = take_reply(c, REDIS_REPLY_ARRAY, "meta", err, errlen))) goto err;
    if (!(s->stats = take_reply(c, REDIS_REPLY_ARRAY, "stats", err, errlen))) goto err;
    long long *ints[] = { &s->frontier, &s->leases, &s->delayed, &s->dead, &s->gone, &s->seeds };
    for (int i = 0; i < 6; i++)
        if (take_int(c, names[i + 2], ints[i], err, errlen) != 0) goto err;
    /* waiting: URLs in the per-host queues (a counter the broker's scripts keep) */
    redisReply *w = NULL;
    if (redisGetReply(c, (void **)&w) != REDIS_OK || !w || (w->type != REDIS_REPLY_STRING && w->type != REDIS_REPLY_NIL)) {
        snprintf(err, errlen, "redis: reading waiting: %s", w && w->type == REDIS_REPLY_ERROR ? w->str : "bad reply");
        if (w) freeReplyObject(w);
        goto err;
    }
    long long legacy = s->frontier;
    if (w->type == REDIS_REPLY_STRING) s->frontier += atoll(w->str);
    freeReplyObject(w);
    if (s->frontier > 0 && sample_hosts(c, crawl, keys[2], legacy, s, err, errlen) != 0) goto err;
    return 0;
err:
    status_read_free(s);
    return -1;
}

/* ---- output ---- */

/* The crawl's state: the meta hash's when there is one, else the stats hash's. */
static const char *crawl_state(const status_read *s, const char **source) {
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

/* Age of the stats hash in ms, or -1 when it has no updated_at. */
static long long stats_age(const status_read *s) {
    long long at;
    if (!zc_redis_hget_ll(s->stats, "updated_at", &at)) return -1;
    return s->now_ms > at ? s->now_ms - at : 0;
}

#define ROW "%-14s "

static void print_table(const status_read *s, const char *crawl, const char *where) {
    const char *src;
    const char *state = crawl_state(s, &src);
    char when[64];
    printf(ROW "%s  (redis %s)\n", "crawl", crawl, where);
    printf(ROW "%s", "state", state);
    const char *run_id = zc_redis_hget(s->meta, "run_id");
    long long t;
    if (run_id && *run_id) printf("  run %s", run_id);
    if (zc_redis_hget_ll(s->meta, "started_at", &t) || zc_redis_hget_ll(s->stats, "started_at", &t)) {
        zc_time_utc(t, "%Y-%m-%d %H:%M:%S UTC", "?", when, sizeof(when));
        printf("  started %s", when);
    }
    if (zc_redis_hget_ll(s->meta, "ended_at", &t)) {
        zc_time_utc(t, "%Y-%m-%d %H:%M:%S UTC", "?", when, sizeof(when));
        printf("  ended %s", when);
    }
    printf("\n");
    const char *reason = zc_redis_hget(s->meta, "reason");
    if (reason && *reason) printf(ROW "%s\n", "reason", reason);
    const char *problem = zc_redis_hget(s->stats, "problem");
    if (problem && *problem) printf(ROW "%s\n", "problem", problem);
    long long age = stats_age(s);
    if (age >= 0) {
        printf(ROW "updated %.1f s ago", "stats", (double)age / 1000.0);
        if (age > STATUS_STALE_MS && !strcmp(state, "running")) printf("  (stale: is the broker running?)");
        printf("\n");
    }
    printf(ROW "%lld  (frontier %lld + delayed %lld)\n", "queue depth", s->frontier + s->delayed,
           s->frontier, s->delayed);
    printf(ROW "%lld\n", "frontier", s->frontier);
    printf(ROW "%lld\n", "delayed", s->delayed);
    printf(ROW "%lld\n", "leases", s->leases);
    printf(ROW "%lld\n", "seeds", s->seeds);
    printf(ROW "%lld\n", "dead letters", s->dead);
    printf(ROW "%lld\n", "gone", s->gone);
    long long f = 0, p = 0, w = 0;
    zc_redis_hget_ll(s->stats, "fetchers", &f);
    zc_redis_hget_ll(s->stats, "parsers", &p);
    zc_redis_hget_ll(s->stats, "writers", &w);
    printf(ROW "fetchers %lld, parsers %lld, writers %lld\n", "peers", f, p, w);
    double fr = 0, wr = 0;
    hget_double(s->stats, "fetched_per_s", &fr);
    hget_double(s->stats, "written_per_s", &wr);
    printf(ROW "fetched %.1f/s, written %.1f/s  (the broker's last stats interval)\n", "rates", fr, wr);
    printf(ROW, "counters");
    for (int i = 0, n = 0; COUNTERS[i]; i++) {
        long long v = 0;
        if (zc_redis_hget_ll(s->stats, COUNTERS[i], &v) || i < COUNTERS_ALWAYS)
            printf("%s%s %lld", n++ ? ", " : "", COUNTERS[i], v);
    }
    printf("\n");
    if (s->frontier == 0) {
        printf(ROW "none waiting\n", "by host");
        return;
    }
    if (s->sample_complete)
        printf(ROW "all %lld waiting URLs, %zu host%s\n", "by host", s->sampled, s->nhosts,
               s->nhosts == 1 ? "" : "s");
    else
        printf(ROW "sample: the first %lld of %lld waiting URLs, %zu host%s\n", "by host", s->sampled,
               s->frontier, s->nhosts, s->nhosts == 1 ? "" : "s");
    for (size_t i = 0; i < s->nhosts && i < STATUS_TOP_HOSTS; i++)
        printf("  %-40s %lld\n", s->hosts[i].host, s->hosts[i].n);
}

/* Adds a number to o; returns 0 or -1 when out of memory. */
static int jnum(cJSON *o, const char *name, double v) {
    return cJSON_AddNumberToObject(o, name, v) ? 0 : -1;
}

static int jstr(cJSON *o, const char *name, const char *v) {
    return cJSON_AddStringToObject(o, name, v ? v : "") ? 0 : -1;
}

/* Copies a hash into a JSON object: numbers as numbers, the rest as strings. */
static int jhash(cJSON *o, const char *name, const redisReply *h) {
    cJSON *m = cJSON_AddObjectToObject(o, name);
    if (!m) return -1;
    if (!h) return 0;
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *k = h->element[i], *v = h->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        if (jstr(m, k->str, v->str) != 0) return -1;
    }
    return 0;
}

/* Prints one JSON object. Returns 0, or -1 when out of memory. */
static int print_json(const status_read *s, const char *crawl, const char *where) {
    int rc = -1;
    char *text = NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o) return -1;
    const char *src;
    const char *state = crawl_state(s, &src);
    const char *problem = zc_redis_hget(s->stats, "problem");
    long long age = stats_age(s);
    if (jstr(o, "crawl", crawl) || jstr(o, "redis", where) || jstr(o, "state", state) ||
        jstr(o, "state_source", src) || jstr(o, "problem", problem) ||
        jnum(o, "queue_depth", (double)(s->frontier + s->delayed)) || jnum(o, "frontier", (double)s->frontier) ||
        jnum(o, "delayed", (double)s->delayed) || jnum(o, "leases", (double)s->leases) ||
        jnum(o, "seeds", (double)s->seeds) || jnum(o, "dead_letters", (double)s->dead) ||
        jnum(o, "gone", (double)s->gone) || jnum(o, "read_at", (double)s->now_ms))
        goto err;
    if (age >= 0 ? jnum(o, "stats_age_ms", (double)age) : !cJSON_AddNullToObject(o, "stats_age_ms")) goto err;
    cJSON *peers = cJSON_AddObjectToObject(o, "peers");
    if (!peers) goto err;
    static const char *const roles[][2] = { { "fetcher", "fetchers" }, { "parser", "parsers" }, { "writer", "writers" } };
    for (int i = 0; i < 3; i++) {
        long long v = 0;
        zc_redis_hget_ll(s->stats, roles[i][1], &v);
        if (jnum(peers, roles[i][0], (double)v)) goto err;
    }
    cJSON *rates = cJSON_AddObjectToObject(o, "rates");
    if (!rates) goto err;
    double fr = 0, wr = 0;
    hget_double(s->stats, "fetched_per_s", &fr);
    hget_double(s->stats, "written_per_s", &wr);
    if (jnum(rates, "fetched_per_s", fr) || jnum(rates, "written_per_s", wr)) goto err;
    cJSON *counters = cJSON_AddObjectToObject(o, "counters");
    if (!counters) goto err;
    for (int i = 0; COUNTERS[i]; i++) {
        long long v = 0;
        if ((zc_redis_hget_ll(s->stats, COUNTERS[i], &v) || i < COUNTERS_ALWAYS) && jnum(counters, COUNTERS[i], (double)v))
            goto err;
    }
    cJSON *bh = cJSON_AddObjectToObject(o, "by_host");
    if (!bh) goto err;
    if (jnum(bh, "sampled", (double)s->sampled) || !cJSON_AddBoolToObject(bh, "complete", s->sample_complete || s->frontier == 0) ||
        jnum(bh, "hosts", (double)s->nhosts))
        goto err;
    cJSON *top = cJSON_AddArrayToObject(bh, "top");
    if (!top) goto err;
    for (size_t i = 0; i < s->nhosts && i < STATUS_TOP_HOSTS; i++) {
        cJSON *e = cJSON_CreateObject();
        if (!e) goto err;
        cJSON_AddItemToArray(top, e);
        if (jstr(e, "host", s->hosts[i].host) || jnum(e, "urls", (double)s->hosts[i].n)) goto err;
    }
    if (jhash(o, "meta", s->meta) || jhash(o, "stats", s->stats)) goto err;
    text = cJSON_PrintUnformatted(o);
    if (!text) goto err;
    if (printf("%s\n", text) < 0) goto err;
    rc = 0;
err:
    free(text);
    cJSON_Delete(o);
    return rc;
}

int cmd_status(int argc, char **argv) {
    const char *redis = "redis://127.0.0.1:6379", *crawl = "default";
    int json = 0;
    const zc_flag flags[] = {
        { "redis", "ZCRAWL_REDIS", ZC_FLAG_STR, &redis, "Redis URI redis://[:pass@]host:port[/db]", 0, 0 },
        { "crawl", "ZCRAWL_CRAWL", ZC_FLAG_STR, &crawl, "crawl name (Redis keys zcrawl:{<crawl>}:*)", 0, 0 },
        { "json", NULL, ZC_FLAG_BOOL, &json, "one JSON object instead of the table", 0, 0 },
        ZC_FLAGS_END,
    };
    /* argv[1] is "status": its flags follow. */
    zc_flags_parse_or_exit(flags, argc - 1, argv + 1, NULL, PROG " status", "[--redis URI] [--crawl NAME] [--json]",
                           "Prints a crawl's state, queue depth (total and by host), leases, delayed URLs,\n"
                           "dead letters, counters and rates, read once from its Redis keys.\n"
                           "Exit 0 when read, 1 when Redis holds no such crawl, 2 on a usage error,\n"
                           "4 when Redis cannot be reached.");
    char err[512], shown[512];
    zc_redis_addr a;
    if (zc_redis_crawl_check(crawl, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: error: %s\n", PROG, err);
        return STATUS_EXIT_USAGE;
    }
    if (zc_redis_parse(redis, &a, err, sizeof(err)) != 0) {
        /* The reason quotes the URI: say it again without the password. */
        zc_redact_uri(shown, sizeof(shown), redis);
        zc_redis_addr b;
        if (zc_redis_parse(shown, &b, err, sizeof(err)) == 0) snprintf(err, sizeof(err), "bad Redis URI '%.400s%s': password too long", shown, strlen(shown) > 400 ? "..." : "");
        fprintf(stderr, "%s: error: %s\n", PROG, err);
        return STATUS_EXIT_USAGE;
    }
    char where[200];
    if (a.db) snprintf(where, sizeof(where), "%s:%d/%d", a.host, a.port, a.db);
    else snprintf(where, sizeof(where), "%s:%d", a.host, a.port);
    redisContext *c = zc_redis_connect_crawl(&a, crawl, STATUS_TIMEOUT_MS, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "%s: error: %s\n", PROG, err);
        return STATUS_EXIT_REDIS;
    }
    status_read s;
    int rc = STATUS_EXIT_REDIS;
    if (status_read_crawl(c, crawl, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: error: %s (redis %s)\n", PROG, err, where);
        redisFree(c);
        return rc;
    }
    redisFree(c);
    if (s.meta->elements == 0 && s.stats->elements == 0 && s.frontier == 0 && s.leases == 0 &&
        s.delayed == 0 && s.seeds == 0 && s.dead == 0) {
        fprintf(stderr, "%s: error: no crawl '%s' in redis %s (no zcrawl:{%s}:* keys; see --crawl)\n",
                PROG, crawl, where, crawl);
        rc = STATUS_EXIT_NOCRAWL;
    } else if (json) {
        if (print_json(&s, crawl, where) != 0) {
            fprintf(stderr, "%s: error: out of memory\n", PROG);
            rc = 1;
        } else {
            rc = STATUS_EXIT_OK;
        }
    } else {
        print_table(&s, crawl, where);
        rc = STATUS_EXIT_OK;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "%s: error: writing to stdout failed\n", PROG);
        rc = 1;
    }
    status_read_free(&s);
    return rc;
}
