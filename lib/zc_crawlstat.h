/* zc_crawlstat.h -- one read of a crawl's keys in Redis, and the JSON of it: what
 * `zcrawl status` prints and what the broker's status page shows, read one way.
 *
 * A read is a handful of pipelined commands and two read-only scripts (EVAL_RO):
 * the meta and stats hashes, the sizes of the crawl's keys, every host's queue
 * (up to a bound), the leases counted by host, the newest dead letters and a
 * summary of the dead list by stage, the top hosts' politeness state, and
 * Redis's own memory and persistence state. Nothing is written. */
#ifndef ZC_CRAWLSTAT_H
#define ZC_CRAWLSTAT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <hiredis.h>

#define ZC_CS_TOP_HOSTS   10     /* hosts shown with their leases and back-off */
#define ZC_CS_DEAD_LATEST 10     /* newest dead letters shown */
#define ZC_CS_DEAD_SCAN   10000  /* newest dead letters summed up by stage and origin */
#define ZC_CS_LEASES_SCAN 100000 /* leases counted by host */
#define ZC_CS_PEERS_MAX   200    /* peers the broker lists in the stats hash */
#define ZC_CS_HOSTS_ALL   100000 /* hosts whose queues `zcrawl status` counts, of each of ready and active */
/* A stats hash older than this while the state says running means no broker
 * is writing it (it writes every --stats-ms, 1 s by default). */
#define ZC_CS_STALE_MS 15000

/* Counts by name (hosts, stages, origins): an open-addressing table while
 * counting, then a sorted array. */
typedef struct zc_cs_count {
    char *name; /* owned */
    long long n;
} zc_cs_count;

typedef struct zc_cs_counts {
    zc_cs_count *slots; /* name == NULL is free */
    size_t cap, used;
} zc_cs_counts;

/* Adds n to name's count. Returns 0, or -1 when out of memory (the table stays valid). */
int zc_cs_counts_add(zc_cs_counts *h, const char *name, long long n);
/* The count of name, 0 when absent. */
long long zc_cs_counts_get(const zc_cs_counts *h, const char *name);
/* Moves the counts into a new array sorted by count (descending, then name) and
 * empties the table. Returns the array (free it with zc_cs_counts_free_sorted)
 * with its length in *n, or NULL with *n = 0 when the table is empty or memory
 * runs out. */
zc_cs_count *zc_cs_counts_sorted(zc_cs_counts *h, size_t *n);
void zc_cs_counts_free_sorted(zc_cs_count *v, size_t n);
/* Frees what the table holds; it can be used again afterwards. */
void zc_cs_counts_free(zc_cs_counts *h);

/* Writes the host[:port] of an absolute URL, lower-cased and without user info,
 * into out. Returns 0, or -1 when url has no "scheme://host" or out is too small. */
int zc_cs_url_host(const char *url, size_t len, char *out, size_t outlen);

/* One of the hosts with the most waiting URLs. */
typedef struct zc_cs_host {
    const char *host;     /* "host:port" as its queue key names it; points into the read */
    long long waiting;    /* URLs in its queue */
    long long leased;     /* its URLs in the leases set: handed out, not yet durable */
    long long cap;        /* its saved in-flight cap, 0 when the default */
    long long delay_ms;   /* its saved delay between requests, 0 when none */
    long long backoff_ms; /* how long it still gets no request (429/503 back-off), 0 when none */
    long long next_ms;    /* when it is due in the ready set, from now (0: due); -1 when the broker holds it */
} zc_cs_host;

/* What one read of a crawl found. Owns everything it points to. */
typedef struct zc_crawlstat {
    redisReply *meta, *stats, *dead_latest; /* HGETALL, HGETALL, LRANGE replies */
    long long waiting, legacy;              /* GET waiting; LLEN of the old single list */
    long long frontier;                     /* waiting + legacy */
    long long leases, delayed, dead, gone, seeds, ready, active;
    int64_t now_ms; /* wall clock when the read began */
    zc_cs_count *by_host;
    size_t nby_host;     /* every host with URLs waiting, sorted */
    long long sampled;   /* waiting URLs whose host was counted */
    int sample_complete; /* 1 when that is all of them */
    zc_cs_host top[ZC_CS_TOP_HOSTS];
    size_t ntop;
    long long leases_read;                           /* leases counted by host (the first ZC_CS_LEASES_SCAN) */
    long long dead_scanned;                          /* the newest dead letters summed up below */
    zc_cs_count *dead_by_stage, *robots_unreachable; /* robots: dead letters by origin */
    size_t ndead_by_stage, nrobots_unreachable;
    redisReply *spec_counts; /* HGETALL of a spec's counters (docs/REDIS.md, spec_counts) */
    cJSON *peers;            /* the broker's list of its peers (stats field peers), or NULL */
    int redis_info;          /* 1 when the fields below were read */
    long long used_memory, maxmemory;
    char maxmemory_policy[32], role[16], bgsave_status[8], aof_status[8];
} zc_crawlstat;

/* Counters of the stats hash, in the order they are shown, NULL-terminated. The
 * first ZC_CS_COUNTERS_ALWAYS are there once a crawl ran (shown as 0 before); the
 * others appear when a broker counts them. */
extern const char *const zc_cs_counters[];
#define ZC_CS_COUNTERS_ALWAYS 8
/* The reasons the broker refuses a message for, NULL-terminated: each is
 * counted in the stats field refused_<reason> (and all of them together in
 * refused_messages). role: a HELLO claiming another role than its key's, or a
 * message under another key than its peer's HELLO; wrong_role: a message its
 * role may not send; no_hello: before any HELLO; not_held: a DONE for a URL not
 * out at that fetcher; role_change: a second HELLO with another role; size: over
 * the bound in frames or bytes. */
extern const char *const zc_cs_refusals[];

/* A spec's counters summed up (docs/SPEC.md, "Silent mistakes, counted"): per field,
 * how often it came out null of how often it was read; per template (item_url,
 * follow), how many values it skipped of how many it tried, and by which
 * placeholder. */
typedef struct zc_cs_spec {
    int tpl;           /* 0: a field, 1: a template */
    char *page, *name; /* the page rule's name; the field's or the template's */
    long long bad, of; /* nulls of reads, or items skipped of tried */
    long long swapped; /* fields: nulls that look like day-first dates */
    char *why;         /* templates: "{a} 3, {b} 1", or NULL */
} zc_cs_spec;
/* Sums up h (the spec_counts hash's HGETALL, may be NULL) into a new array in
 * *out, *n entries. Returns 0, or -1 when memory runs out (nothing to free). */
int zc_cs_spec_list(const redisReply *h, zc_cs_spec **out, size_t *n);
void zc_cs_spec_free(zc_cs_spec *v, size_t n);
/* 1 when e is a warning: a field null on every document that has it, or a template
 * that skipped every item. */
int zc_cs_spec_warns(const zc_cs_spec *e);
/* One line for people into buf (cut to fit). Returns buf. */
const char *zc_cs_spec_line(const zc_cs_spec *e, char *buf, size_t len);

/* A field of an HGETALL reply as a number; 0 when absent or not a number. */
double zc_cs_hget_double(const redisReply *h, const char *field);

/* Reads everything above from c; the queues of at most hosts_max hosts of each of
 * ready and active are counted, and with hosts_max 0 no host at all (nor the
 * leases by host: by_host and top stay empty). Returns 0, or -1 with a one-line
 * reason in err (nothing to free then; the connection may be unusable). */
int zc_crawlstat_read(redisContext *c, const char *crawl, long hosts_max, zc_crawlstat *s, char *err,
                      size_t errlen);
void zc_crawlstat_free(zc_crawlstat *s);

/* 1 when Redis holds nothing of the crawl. */
int zc_crawlstat_empty(const zc_crawlstat *s);
/* The crawl's state: the meta hash's when there is one, else the stats hash's,
 * else "unknown"; *source says which ("meta", "stats", "none"). */
const char *zc_crawlstat_state(const zc_crawlstat *s, const char **source);
/* Age of the stats hash in ms, or -1 when it has no updated_at. */
long long zc_crawlstat_stats_age(const zc_crawlstat *s);
/* Appends to arr (a cJSON array) one line for each problem the read shows: the
 * stages' and the broker's (stats field problem), Redis at maxmemory or refusing
 * writes, stats gone stale while running, robots.txt unreachable. Returns 0, or
 * -1 when out of memory. */
int zc_crawlstat_problems(const zc_crawlstat *s, cJSON *arr);

/* The read as one JSON object (`zcrawl status --json`, the status page's
 * /status.json): crawl and where are shown as given. Returns it (the caller
 * deletes it), or NULL when out of memory. */
cJSON *zc_crawlstat_json(const zc_crawlstat *s, const char *crawl, const char *where);

#endif
