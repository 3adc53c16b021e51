/* cli_redis.c -- what the launcher reads and writes in a crawl's Redis keys: the
 * meta and stats hashes, Redis's own refusals, dead letters, seeds (--fresh wipes
 * through zc_redis_wipe, the broker's too). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "zc_redis.h"

#define SEED_CHUNK 1000

redisContext *cli_redis_connect(const char *uri, const char *crawl, char *err, size_t errlen) {
    zc_redis_addr a;
    if (zc_redis_parse(uri, &a, err, errlen) != 0) return NULL;
    return crawl ? zc_redis_connect_crawl(&a, crawl, 1000, err, errlen) : zc_redis_connect(&a, 1000, err, errlen);
}

/* The crawl's key for name into key (sized 256). */
static int crawl_key(char *key, size_t keylen, const char *crawl, const char *name, char *err, size_t errlen) {
    if (zc_redis_key(key, keylen, crawl, name) == 0) return 0;
    snprintf(err, errlen, "crawl name too long for a key");
    return -1;
}

/* Sends argv; on anything but a reply of type want, a reason goes into err and
 * NULL is returned. The caller frees the reply. */
static redisReply *cmd_argv(redisContext *rc, int argc, const char **argv, int want, char *err, size_t errlen) {
    redisReply *rep = redisCommandArgv(rc, argc, argv, NULL);
    if (rep && rep->type == want) return rep;
    snprintf(err, errlen, "%s: %s", argv[0], !rep ? rc->errstr : (rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply"));
    if (rep) freeReplyObject(rep);
    return NULL;
}

static const char *rep_str(const redisReply *r) {
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ? r->str : NULL;
}

/* HMGET key fields[0..n) into out[] (NULL for missing fields); rep is freed by the caller. */
static redisReply *hmget(redisContext *rc, const char *key, const char *const *fields, size_t n,
                         char *err, size_t errlen) {
    const char *argv[24] = { "HMGET", key };
    for (size_t i = 0; i < n && i < 22; i++) argv[i + 2] = fields[i];
    redisReply *rep = cmd_argv(rc, (int)n + 2, argv, REDIS_REPLY_ARRAY, err, errlen);
    if (rep && rep->elements != n) {
        snprintf(err, errlen, "HMGET: %zu values for %zu fields", rep->elements, n);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

static long long rep_ll(const redisReply *rep, size_t i) {
    const char *s = rep_str(rep->element[i]);
    return s ? atoll(s) : 0;
}

int cli_meta_read(redisContext *rc, const char *crawl, cli_meta *m, char *err, size_t errlen) {
    static const char *const fields[] = { "state", "reason", "ended_at", "written", "identity" };
    char key[256];
    memset(m, 0, sizeof(*m));
    if (crawl_key(key, sizeof(key), crawl, "meta", err, errlen) != 0) return -1;
    redisReply *rep = hmget(rc, key, fields, 5, err, errlen);
    if (!rep) return -1;
    const char *state = rep_str(rep->element[0]), *reason = rep_str(rep->element[1]);
    /* Longer values are cut: they are shown, never parsed. */
    snprintf(m->state, sizeof(m->state), "%s", state ? state : "");
    snprintf(m->reason, sizeof(m->reason), "%s", reason ? reason : "");
    m->ended_at = rep_ll(rep, 2);
    m->written = rep_ll(rep, 3);
    const char *id = rep_str(rep->element[4]);
    snprintf(m->identity, sizeof(m->identity), "%s", id ? id : "");
    freeReplyObject(rep);
    return 0;
}

int cli_progress_read(redisContext *rc, const char *crawl, cli_progress *p, char *err, size_t errlen) {
    static const char *const fields[] = { "fetched", "written", "gone", "dead", "retried", "queued",
                                          "in_flight", "updated_at", "fetched_per_s", "state", "problem", "waits" };
    char key[256];
    memset(p, 0, sizeof(*p));
    if (crawl_key(key, sizeof(key), crawl, "stats", err, errlen) != 0) return -1;
    redisReply *rep = hmget(rc, key, fields, 12, err, errlen);
    if (!rep) return -1;
    long long *dst[] = { &p->n.fetched, &p->n.written, &p->n.gone, &p->n.dead, &p->n.retried,
                         &p->queued, &p->in_flight, &p->updated_at };
    for (size_t i = 0; i < 8; i++) *dst[i] = rep_ll(rep, i);
    const char *rate = rep_str(rep->element[8]), *state = rep_str(rep->element[9]),
               *problem = rep_str(rep->element[10]);
    p->rate = rate ? atof(rate) : 0;
    snprintf(p->state, sizeof(p->state), "%s", state ? state : "starting");
    snprintf(p->problem, sizeof(p->problem), "%s", problem ? problem : "");
    const char *waits = rep_str(rep->element[11]);
    snprintf(p->waits, sizeof(p->waits), "%s", waits ? waits : "");
    freeReplyObject(rep);
    return 0;
}

/* The value of "name:" in an INFO reply, copied into out; "" when absent. */
static const char *info_field(const char *info, const char *name, char *out, size_t outlen) {
    size_t nl = strlen(name);
    out[0] = '\0';
    for (const char *l = info; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, name, nl) != 0 || l[nl] != ':') continue;
        size_t n = strcspn(l + nl + 1, "\r\n");
        if (n >= outlen) n = outlen - 1;
        memcpy(out, l + nl + 1, n);
        out[n] = '\0';
        break;
    }
    return out;
}

int cli_redis_refusal(redisContext *rc, char *out, size_t outlen) {
    out[0] = '\0';
    redisReply *rep = redisCommand(rc, "INFO");
    if (!rep || rep->type != REDIS_REPLY_STRING) {
        if (rep) freeReplyObject(rep);
        return -1;
    }
    char max[32], used[32], policy[32], aof[16], rdb[16], role[16];
    info_field(rep->str, "maxmemory", max, sizeof(max));
    info_field(rep->str, "used_memory", used, sizeof(used));
    info_field(rep->str, "maxmemory_policy", policy, sizeof(policy));
    info_field(rep->str, "aof_last_write_status", aof, sizeof(aof));
    info_field(rep->str, "rdb_last_bgsave_status", rdb, sizeof(rdb));
    info_field(rep->str, "role", role, sizeof(role));
    long long maxb = atoll(max), usedb = atoll(used);
    if (maxb > 0 && usedb >= maxb)
        snprintf(out, outlen, "Redis is full: used_memory %lld of maxmemory %lld (policy %s): %s", usedb, maxb,
                 policy, strcmp(policy, "noeviction") ? "it evicts the crawl's keys" : "writes refused (OOM)");
    else if (!strcmp(aof, "err"))
        snprintf(out, outlen, "Redis cannot write its append-only file (disk full?): writes refused");
    else if (!strcmp(rdb, "err"))
        snprintf(out, outlen, "Redis's last RDB save failed: writes refused (MISCONF) until one succeeds");
    else if (!strcmp(role, "slave"))
        snprintf(out, outlen, "Redis is a read-only replica: writes refused (READONLY)");
    freeReplyObject(rep);
    return 0;
}

long long cli_dead_count(redisContext *rc, const char *crawl, char *err, size_t errlen) {
    char key[256];
    if (crawl_key(key, sizeof(key), crawl, "dead", err, errlen) != 0) return -1;
    const char *argv[] = { "LLEN", key };
    redisReply *rep = cmd_argv(rc, 2, argv, REDIS_REPLY_INTEGER, err, errlen);
    if (!rep) return -1;
    long long n = rep->integer;
    freeReplyObject(rep);
    return n;
}

/* Writes the crawl's key name (a list when hash is 0, read with LRANGE; a hash
 * otherwise, HGETALL) to path, one entry at a time through line(): one element of
 * a list, a field and its value of a hash. line() returns -1 on a write error and
 * may count in *n. Returns 0, or -1 with err. */
static int dump_key(redisContext *rc, const char *crawl, const char *name, int hash,
                    int (*line)(FILE *f, redisReply *const *e, long long *n), long long *n, const char *path,
                    char *err, size_t errlen) {
    char key[256];
    if (crawl_key(key, sizeof(key), crawl, name, err, errlen) != 0) return -1;
    const char *argv[] = { hash ? "HGETALL" : "LRANGE", key, "0", "-1" };
    redisReply *rep = cmd_argv(rc, hash ? 2 : 4, argv, REDIS_REPLY_ARRAY, err, errlen);
    if (!rep) return -1;
    size_t step = hash ? 2 : 1;
    int rc_ = -1, bad = 0;
    FILE *f = fopen(path, "w");
    if (f) {
        for (size_t i = 0; i + step <= rep->elements && !bad; i += step) bad = line(f, rep->element + i, n) != 0;
        if (fclose(f) == 0 && !bad) rc_ = 0;
    }
    if (rc_ != 0) snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    freeReplyObject(rep);
    return rc_;
}

/* A dead letter: its JSON as Redis holds it, on a line. */
static int dead_line(FILE *f, redisReply *const *e, long long *n) {
    (void)n;
    if (e[0]->type != REDIS_REPLY_STRING) return 0;
    return fwrite(e[0]->str, 1, e[0]->len, f) != e[0]->len || fputc('\n', f) == EOF ? -1 : 0;
}

int cli_dead_dump(redisContext *rc, const char *crawl, const char *path, char *err, size_t errlen) {
    return dump_key(rc, crawl, "dead", 0, dead_line, NULL, path, err, errlen);
}

/* Writes s as a JSON string (quotes, backslashes and control characters escaped). */
static int json_str(FILE *f, const char *s, size_t n) {
    if (fputc('"', f) == EOF) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int k = c == '"' || c == '\\' ? fprintf(f, "\\%c", c) : c < 0x20 ? fprintf(f, "\\u%04x", c)
                                                                         : fputc(c, f);
        if (k < 0) return -1;
    }
    return fputc('"', f) == EOF ? -1 : 0;
}

/* A gone URL and its status, as {"url":...,"status":N} on a line. */
static int gone_line(FILE *f, redisReply *const *e, long long *n) {
    if (e[0]->type != REDIS_REPLY_STRING || e[1]->type != REDIS_REPLY_STRING) return 0;
    (*n)++;
    return fputs("{\"url\":", f) == EOF || json_str(f, e[0]->str, e[0]->len) != 0 ||
                   fprintf(f, ",\"status\":%ld}\n", strtol(e[1]->str, NULL, 10)) < 0
               ? -1
               : 0;
}

int cli_gone_dump(redisContext *rc, const char *crawl, const char *path, long long *n, char *err, size_t errlen) {
    *n = 0;
    return dump_key(rc, crawl, "gone", 1, gone_line, n, path, err, errlen);
}

redisReply *cli_spec_counts_read(redisContext *rc, const char *crawl, char *err, size_t errlen) {
    char key[256];
    if (crawl_key(key, sizeof(key), crawl, "spec_counts", err, errlen) != 0) return NULL;
    const char *argv[] = { "HGETALL", key };
    return cmd_argv(rc, 2, argv, REDIS_REPLY_ARRAY, err, errlen);
}

int cli_seeds_push(redisContext *rc, const char *crawl, char *const *urls, size_t n, char *err,
                   size_t errlen) {
    char key[256];
    if (crawl_key(key, sizeof(key), crawl, "seeds", err, errlen) != 0) return -1;
    const char **argv = malloc((SEED_CHUNK + 2) * sizeof(*argv));
    if (!argv) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    argv[0] = "RPUSH";
    argv[1] = key;
    int rc_ = 0;
    for (size_t at = 0; at < n && rc_ == 0; at += SEED_CHUNK) {
        size_t k = n - at < SEED_CHUNK ? n - at : SEED_CHUNK;
        for (size_t i = 0; i < k; i++) argv[i + 2] = urls[at + i];
        redisReply *rep = cmd_argv(rc, (int)k + 2, argv, REDIS_REPLY_INTEGER, err, errlen);
        if (rep) freeReplyObject(rep);
        else rc_ = -1;
    }
    free(argv);
    return rc_;
}
