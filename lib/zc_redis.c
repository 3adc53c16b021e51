/* zc_redis.c -- Redis URIs and connections shared by the broker and the launcher. */
#include "zc_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zc_redact.h"
#include "zc_secret.h"

int zc_redis_parse(const char *uri, zc_redis_addr *a, char *err, size_t errlen) {
    char shown[256]; /* the URI as errors print it: never its password */
    zc_redact_uri(shown, sizeof(shown), uri);
    memset(a, 0, sizeof(*a));
    const char *p = uri;
    if (strncmp(p, "redis://", 8) == 0) p += 8;
    else if (strstr(p, "://")) {
        snprintf(err, errlen, "bad Redis URI '%s': expected redis://host:port[/db]", shown);
        return -1;
    }
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        if ((size_t)(at - pw) >= sizeof(a->password)) {
            snprintf(err, errlen, "bad Redis URI '%s': password too long", shown);
            return -1;
        }
        memcpy(a->password, pw, (size_t)(at - pw));
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    size_t hl = slash ? (size_t)(slash - p) : strlen(p);
    const char *colon = memchr(p, ':', hl);
    size_t hostlen = colon ? (size_t)(colon - p) : hl;
    if (hostlen == 0 || hostlen >= sizeof(a->host)) {
        snprintf(err, errlen, "bad Redis URI '%s': no host", shown);
        return -1;
    }
    memcpy(a->host, p, hostlen);
    a->port = 6379;
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end != p + hl || port <= 0 || port > 65535) {
            snprintf(err, errlen, "bad Redis URI '%s': bad port", shown);
            return -1;
        }
        a->port = (int)port;
    }
    if (!a->password[0] && zc_redis_password_file(a, err, errlen) != 0) return -1;
    if (slash && slash[1]) {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (*end || db < 0 || db > 1000) {
            snprintf(err, errlen, "bad Redis URI '%s': bad database number", shown);
            return -1;
        }
        a->db = (int)db;
    }
    return 0;
}

int zc_redis_password_file(zc_redis_addr *a, char *err, size_t errlen) {
    const char *path = getenv(ZC_REDIS_PASSWORD_FILE_ENV);
    if (!path || !*path) return 0;
    return zc_secret_read(ZC_REDIS_PASSWORD_FILE_ENV, path, a->password, sizeof(a->password), err, errlen);
}

redisContext *zc_redis_connect(const zc_redis_addr *a, long timeout_ms, char *err, size_t errlen) {
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    redisReply *r = NULL;
    redisContext *rc = redisConnectWithTimeout(a->host, a->port, tv);
    if (!rc || rc->err) {
        snprintf(err, errlen, "cannot connect: redis %s:%d: %s", a->host, a->port,
                 rc ? rc->errstr : "out of memory");
        goto err;
    }
    if (redisSetTimeout(rc, tv) != REDIS_OK || redisEnableKeepAlive(rc) != REDIS_OK) {
        snprintf(err, errlen, "cannot configure connection: redis %s:%d: %s", a->host, a->port, rc->errstr);
        goto err;
    }
    if (a->password[0]) {
        r = redisCommand(rc, "AUTH %s", a->password);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "redis AUTH failed: %s", r ? r->str : rc->errstr);
            goto err;
        }
        freeReplyObject(r);
    }
    r = redisCommand(rc, a->db ? "SELECT %d" : "PING", a->db);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis %s:%d: %s", a->host, a->port, r ? r->str : rc->errstr);
        goto err;
    }
    freeReplyObject(r);
    return rc;
err:
    if (r) freeReplyObject(r);
    if (rc) redisFree(rc);
    return NULL;
}

int zc_redis_moved(const redisReply *r, zc_redis_addr *a) {
    if (!r || r->type != REDIS_REPLY_ERROR || strncmp(r->str, "MOVED ", 6) != 0) return 0;
    const char *target = strchr(r->str + 6, ' ');
    if (!target) return 0;
    target++;
    const char *colon = strrchr(target, ':');
    if (!colon || colon == target || (size_t)(colon - target) >= sizeof(a->host)) return 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || port <= 0 || port > 65535) return 0;
    memcpy(a->host, target, (size_t)(colon - target));
    a->host[colon - target] = '\0';
    a->port = (int)port;
    return 1;
}

redisContext *zc_redis_connect_crawl(zc_redis_addr *a, const char *crawl, long timeout_ms, char *err,
                                     size_t errlen) {
    char key[160];
    if (zc_redis_key(key, sizeof(key), crawl, "meta") != 0) {
        snprintf(err, errlen, "crawl name too long for a key");
        return NULL;
    }
    for (int hop = 0; hop <= 5; hop++) {
        redisContext *rc = zc_redis_connect(a, timeout_ms, err, errlen);
        if (!rc) return NULL;
        redisReply *r = redisCommand(rc, "EXISTS %s", key);
        if (!r) {
            snprintf(err, errlen, "redis %s:%d: %s", a->host, a->port, rc->errstr);
            redisFree(rc);
            return NULL;
        }
        int moved = zc_redis_moved(r, a);
        if (!moved && r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "redis %s:%d: %s", a->host, a->port, r->str);
            freeReplyObject(r);
            redisFree(rc);
            return NULL;
        }
        freeReplyObject(r);
        if (!moved) return rc;
        redisFree(rc);
    }
    snprintf(err, errlen, "redis: more than 5 MOVED answers looking for the node of crawl %s", crawl);
    return NULL;
}

int zc_redis_crawl_check(const char *crawl, char *err, size_t errlen) {
    size_t cl = strlen(crawl);
    if (cl == 0 || cl > 63 || strpbrk(crawl, " \t\r\n:{}")) {
        snprintf(err, errlen, "bad crawl name '%.63s': 1-63 characters, no spaces, ':' or braces", crawl);
        return -1;
    }
    return 0;
}

int zc_redis_key(char *buf, size_t buflen, const char *crawl, const char *name) {
    int n = snprintf(buf, buflen, "zcrawl:{%s}:%s", crawl, name);
    return n < 0 || (size_t)n >= buflen ? -1 : 0;
}

const char *zc_redis_hget(const redisReply *h, const char *field) {
    if (!h || h->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *k = h->element[i], *v = h->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING && !strcmp(k->str, field))
            return v->str;
    }
    return NULL;
}

int zc_redis_hget_ll(const redisReply *h, const char *field, long long *out) {
    const char *v = zc_redis_hget(h, field);
    if (!v || !*v) return 0;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end) return 0;
    *out = x;
    return 1;
}

/* The SCAN pattern of crawl's keys into out, glob characters escaped. Returns 0,
 * or -1 when it does not fit. */
static int wipe_pattern(char *out, size_t outlen, const char *crawl) {
    char esc[256];
    size_t k = 0;
    for (const char *s = crawl; *s; s++) {
        if (k + 3 > sizeof(esc)) return -1;
        if (strchr("*?[]\\", *s)) esc[k++] = '\\';
        esc[k++] = *s;
    }
    esc[k] = '\0';
    return zc_redis_key(out, outlen, esc, "*");
}

/* UNLINKs the keys of one SCAN page. Returns how many were deleted, or -1 with a
 * reason in err. */
static long long unlink_page(redisContext *rc, const redisReply *keys, char *err, size_t errlen) {
    if (keys->elements == 0) return 0;
    const char **argv = malloc((keys->elements + 1) * sizeof(*argv));
    size_t *lens = malloc((keys->elements + 1) * sizeof(*lens));
    long long n = -1;
    if (!argv || !lens) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    argv[0] = "UNLINK";
    lens[0] = 6;
    int argc = 1;
    for (size_t i = 0; i < keys->elements; i++) {
        if (keys->element[i]->type != REDIS_REPLY_STRING) continue;
        argv[argc] = keys->element[i]->str;
        lens[argc++] = keys->element[i]->len;
    }
    redisReply *r = argc > 1 ? redisCommandArgv(rc, argc, argv, lens) : NULL;
    if (argc == 1) n = 0;
    else if (!r || r->type != REDIS_REPLY_INTEGER)
        snprintf(err, errlen, "UNLINK: %s", !r ? rc->errstr : (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply"));
    else n = r->integer;
    if (r) freeReplyObject(r);
out:
    free(argv);
    free(lens);
    return n;
}

long long zc_redis_wipe(redisContext *rc, const char *crawl, char *err, size_t errlen) {
    char pattern[300], cursor[32] = "0";
    if (wipe_pattern(pattern, sizeof(pattern), crawl) != 0) {
        snprintf(err, errlen, "crawl name too long for a key");
        return -1;
    }
    long long deleted = 0;
    do {
        const char *scan[] = { "SCAN", cursor, "MATCH", pattern, "COUNT", "1000" };
        redisReply *r = redisCommandArgv(rc, 6, scan, NULL);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            snprintf(err, errlen, "SCAN: %s", !r ? rc->errstr : (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply"));
            if (r) freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        long long n = unlink_page(rc, r->element[1], err, errlen);
        freeReplyObject(r);
        if (n < 0) return -1;
        deleted += n;
    } while (strcmp(cursor, "0") != 0);
    return deleted;
}
