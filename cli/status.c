/* status.c -- `zcrawl status`: reads a crawl's keys in Redis once (lib/zc_crawlstat)
 * and prints its state, queues, leases, dead letters, peers, counters and rates as
 * a table or as JSON. */
#include "status.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <hiredis.h>

#include "zc_crawlstat.h"
#include "zc_flags.h"
#include "zc_redact.h"
#include "zc_redis.h"
#include "zc_time.h"

#define PROG               "zcrawl"
#define STATUS_TIMEOUT_MS  3000
#define STATUS_PEERS_SHOWN 20

#define ROW "%-14s "

static void print_head(const zc_crawlstat *s, const char *crawl, const char *where) {
    const char *src;
    const char *state = zc_crawlstat_state(s, &src);
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
    const char *waits = zc_redis_hget(s->stats, "waits");
    if (waits && *waits) printf(ROW "%s\n", "waiting", waits); /* hosts told to wait: until when, why */
    /* What the stats hash cannot say: Redis itself, a stale hash, robots.txt. */
    cJSON *more = cJSON_CreateArray();
    if (more && zc_crawlstat_problems(s, more) == 0) {
        const cJSON *e;
        cJSON_ArrayForEach(e, more) {
            if (problem && strstr(problem, e->valuestring)) continue;
            printf(ROW "%s\n", "warning", e->valuestring);
        }
    }
    cJSON_Delete(more);
    long long age = zc_crawlstat_stats_age(s);
    if (age >= 0) {
        printf(ROW "updated %.1f s ago", "stats", (double)age / 1000.0);
        if (age > ZC_CS_STALE_MS && !strcmp(state, "running")) printf("  (stale: is the broker running?)");
        printf("\n");
    }
}

/* The peers the broker lists, by role, with how long ago each was last heard. */
static void print_peers(const zc_crawlstat *s) {
    long long f = 0, p = 0, w = 0;
    zc_redis_hget_ll(s->stats, "fetchers", &f);
    zc_redis_hget_ll(s->stats, "parsers", &p);
    zc_redis_hget_ll(s->stats, "writers", &w);
    printf(ROW "fetchers %lld, parsers %lld, writers %lld\n", "peers", f, p, w);
    int shown = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, s->peers) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(e, "role");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
        const cJSON *seen = cJSON_GetObjectItemCaseSensitive(e, "seen");
        const cJSON *state = cJSON_GetObjectItemCaseSensitive(e, "state");
        if (!cJSON_IsString(role) || !cJSON_IsString(name) || !cJSON_IsNumber(seen)) continue;
        if (shown++ == STATUS_PEERS_SHOWN) {
            printf("  ... (zcrawl status --json lists all)\n");
            break;
        }
        double ago = (double)(s->now_ms - (int64_t)seen->valuedouble) / 1000.0;
        printf("  %-8s %-40.200s heard %.1f s ago%s%s\n", role->valuestring, name->valuestring, ago < 0 ? 0 : ago,
               cJSON_IsString(state) && strcmp(state->valuestring, "live") ? ", " : "",
               cJSON_IsString(state) && strcmp(state->valuestring, "live") ? state->valuestring : "");
    }
}

static void print_hosts(const zc_crawlstat *s) {
    if (s->frontier == 0) {
        printf(ROW "none waiting\n", "by host");
        return;
    }
    if (s->sample_complete)
        printf(ROW "all %lld waiting URLs, %zu host%s\n", "by host", s->sampled, s->nby_host,
               s->nby_host == 1 ? "" : "s");
    else
        printf(ROW "sample: the first %lld of %lld waiting URLs, %zu host%s\n", "by host", s->sampled, s->frontier,
               s->nby_host, s->nby_host == 1 ? "" : "s");
    for (size_t i = 0; i < s->ntop; i++) {
        const zc_cs_host *t = &s->top[i];
        printf("  %-40s %lld", t->host, t->waiting);
        if (t->leased) printf("  leased %lld", t->leased);
        if (t->backoff_ms) printf("  back-off %.1f s", (double)t->backoff_ms / 1000.0);
        if (t->cap) printf("  cap %lld", t->cap);
        printf("\n");
    }
}

/* A spec's nulls and skipped items (docs/SPEC.md, "Silent mistakes, counted"). */
static void print_spec(const zc_crawlstat *s) {
    zc_cs_spec *v;
    size_t n;
    char line[1024];
    if (zc_cs_spec_list(s->spec_counts, &v, &n) != 0) {
        printf(ROW "(out of memory)\n", "spec");
        return;
    }
    for (size_t i = 0, k = 0; i < n; i++)
        if (v[i].bad) printf(ROW "%s%s\n", k++ ? "" : "spec", zc_cs_spec_warns(&v[i]) ? "warning: " : "",
                             zc_cs_spec_line(&v[i], line, sizeof(line)));
    zc_cs_spec_free(v, n);
}

static void print_table(const zc_crawlstat *s, const char *crawl, const char *where) {
    print_head(s, crawl, where);
    printf(ROW "%lld  (frontier %lld + delayed %lld)\n", "queue depth", s->frontier + s->delayed, s->frontier,
           s->delayed);
    printf(ROW "%lld\n", "frontier", s->frontier);
    printf(ROW "%lld\n", "delayed", s->delayed);
    printf(ROW "%lld\n", "leases", s->leases);
    printf(ROW "%lld\n", "seeds", s->seeds);
    printf(ROW "%lld\n", "dead letters", s->dead);
    printf(ROW "%lld\n", "gone", s->gone);
    printf(ROW "%lld waiting their turn, %lld held by the broker\n", "hosts", s->ready, s->active);
    print_peers(s);
    printf(ROW "fetched %.1f/s, written %.1f/s  (the broker's last stats interval)\n", "rates",
           zc_cs_hget_double(s->stats, "fetched_per_s"), zc_cs_hget_double(s->stats, "written_per_s"));
    printf(ROW, "counters");
    for (int i = 0, n = 0; zc_cs_counters[i]; i++) {
        long long v = 0;
        if (zc_redis_hget_ll(s->stats, zc_cs_counters[i], &v) || i < ZC_CS_COUNTERS_ALWAYS)
            printf("%s%s %lld", n++ ? ", " : "", zc_cs_counters[i], v);
    }
    printf("\n");
    print_spec(s);
    print_hosts(s);
}

/* Prints one JSON object. Returns 0, or -1 when out of memory or stdout fails. */
static int print_json(const zc_crawlstat *s, const char *crawl, const char *where) {
    cJSON *o = zc_crawlstat_json(s, crawl, where);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    int rc = text && printf("%s\n", text) >= 0 ? 0 : -1;
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
                           "dead letters, peers, counters and rates, read once from its Redis keys.\n"
                           "The password: in the URI, else from the file $ZCRAWL_REDIS_PASSWORD_FILE names,\n"
                           "else $REDISCLI_AUTH (as redis-cli reads it).\n"
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
    /* Like redis-cli: a password said once in REDISCLI_AUTH serves both. */
    const char *auth = getenv("REDISCLI_AUTH");
    if (!a.password[0] && auth && *auth) {
        if (strlen(auth) >= sizeof(a.password)) {
            fprintf(stderr, "%s: error: REDISCLI_AUTH: password longer than %zu bytes\n", PROG, sizeof(a.password) - 1);
            return STATUS_EXIT_USAGE;
        }
        snprintf(a.password, sizeof(a.password), "%s", auth);
    }
    char where[200];
    if (a.db) snprintf(where, sizeof(where), "%s:%d/%d", a.host, a.port, a.db);
    else snprintf(where, sizeof(where), "%s:%d", a.host, a.port);
    redisContext *c = zc_redis_connect_crawl(&a, crawl, STATUS_TIMEOUT_MS, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "%s: error: %s\n", PROG, err);
        return STATUS_EXIT_REDIS;
    }
    zc_crawlstat s;
    int rc = STATUS_EXIT_REDIS;
    if (zc_crawlstat_read(c, crawl, ZC_CS_HOSTS_ALL, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: error: %s (redis %s)\n", PROG, err, where);
        redisFree(c);
        return rc;
    }
    redisFree(c);
    if (zc_crawlstat_empty(&s)) {
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
    zc_crawlstat_free(&s);
    return rc;
}
