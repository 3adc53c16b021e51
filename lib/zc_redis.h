/* zc_redis.h -- Redis URIs and connections, one way for every program that talks
 * to a crawl's Redis (the broker's frontier, the zcrawl launcher). */
#ifndef ZC_REDIS_H
#define ZC_REDIS_H

#include <stddef.h>

#include <hiredis.h>

/* Where a Redis URI points. */
typedef struct zc_redis_addr {
    char host[128];
    int port;           /* 6379 when the URI names none */
    char password[128]; /* "" for none */
    int db;             /* 0 when the URI names none */
} zc_redis_addr;

/* Parses redis://[[user]:password@]host[:port][/db] (the scheme may be left out).
 * A URI without a password takes the one in the file $ZCRAWL_REDIS_PASSWORD_FILE
 * names, when set (zc_redis_password_file). Returns 0, or -1 with a one-line
 * reason in err. */
int zc_redis_parse(const char *uri, zc_redis_addr *a, char *err, size_t errlen);

/* The password of a URI that names none, from a file (a Docker secret, a systemd
 * credential): its first line, when the environment names the file. */
#define ZC_REDIS_PASSWORD_FILE_ENV "ZCRAWL_REDIS_PASSWORD_FILE"
/* Sets a->password from that file. Returns 0 (also when the variable is unset),
 * or -1 with a one-line reason in err when the file cannot be read or is empty. */
int zc_redis_password_file(zc_redis_addr *a, char *err, size_t errlen);

/* Connects to a, authenticates, selects its database and sets both the connect
 * and the command timeout to timeout_ms. Returns the context (the caller frees it
 * with redisFree), or NULL with a one-line reason in err. */
redisContext *zc_redis_connect(const zc_redis_addr *a, long timeout_ms, char *err, size_t errlen);

/* On a Redis Cluster a key lives on the node that serves its slot; any other node
 * answers "MOVED <slot> <host>:<port>". When r is such an answer, points a at the
 * named node (password and database kept) and returns 1; else returns 0. */
int zc_redis_moved(const redisReply *r, zc_redis_addr *a);

/* Like zc_redis_connect, then finds the node that serves crawl's keys (they share
 * one slot): a key of the crawl is probed and each MOVED followed (a is updated
 * to the node found), at most 5 times. A Redis that is not a cluster answers the
 * probe itself. Returns the context, or NULL with a one-line reason in err. */
redisContext *zc_redis_connect_crawl(zc_redis_addr *a, const char *crawl, long timeout_ms, char *err,
                                     size_t errlen);

/* Checks a crawl name: 1-63 characters, none of them a space, ':' or a brace.
 * Returns 0, or -1 with a one-line reason in err. */
int zc_redis_crawl_check(const char *crawl, char *err, size_t errlen);

/* Writes the key of a crawl's part into buf: "zcrawl:{<crawl>}:<name>". The braces
 * are a Redis Cluster hash tag, so every key of one crawl lives in one slot and
 * every Lua script can touch several of them. Returns 0, or -1 when it does not fit. */
int zc_redis_key(char *buf, size_t buflen, const char *crawl, const char *name);

/* Deletes every key of crawl (SCAN MATCH zcrawl:{<crawl>}:*, the crawl name's glob
 * characters escaped; UNLINK a page at a time) through rc, on the node that
 * serves the crawl's slot. Returns how many keys were deleted, or -1 with a
 * one-line reason in err. */
long long zc_redis_wipe(redisContext *rc, const char *crawl, char *err, size_t errlen);

/* The value of field in an HGETALL reply (an array of field/value pairs), or NULL
 * when the reply is not such an array or has no such field. Valid as long as h. */
const char *zc_redis_hget(const redisReply *h, const char *field);
/* The same as an integer: 1 with *out set, 0 when absent or not a whole number. */
int zc_redis_hget_ll(const redisReply *h, const char *field, long long *out);

#endif
