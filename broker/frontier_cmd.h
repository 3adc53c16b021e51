/* frontier_cmd.h -- the frontier's Redis command layer: the connection to the
 * node that serves the crawl's slot, commands that follow a MOVED answer to the
 * crawl's new node, argvs built without a failure to check at every step, and
 * the crawl's Lua scripts called by SHA1 (EVALSHA), each loaded (SCRIPT LOAD)
 * where Redis answers NOSCRIPT: a Redis that restarted empty, a SCRIPT FLUSH, or
 * another cluster node after a MOVED.
 *
 * Errors are kept in the context (fr->err); a call that fails returns NULL or -1.
 * After a connection error frontier_reconnect() must succeed before any other
 * call (outage.c does it). */
#ifndef BROKER_FRONTIER_CMD_H
#define BROKER_FRONTIER_CMD_H

#include <stddef.h>

#include <hiredis.h>

#include "frontier_lua.h"
#include "zc_redis.h"

#define FRONTIER_KEY_MAX 160

/* The crawl's Redis: the connection and the crawl's fixed keys. */
typedef struct frontier {
    redisContext *rc;
    zc_redis_addr addr; /* the node connected to (follows MOVED) */
    char crawl[64];
    char err[512];
    void (*seed_hook)(void *arg, char *const *urls, size_t n); /* sees each batch of good seeds before it is queued */
    void *seed_arg;
    int refused; /* the last command was refused: OOM, READONLY, MISCONF */
    char k_frontier[FRONTIER_KEY_MAX], k_seen[FRONTIER_KEY_MAX], k_leases[FRONTIER_KEY_MAX],
        k_delayed[FRONTIER_KEY_MAX], k_retries[FRONTIER_KEY_MAX], k_dead[FRONTIER_KEY_MAX],
        k_gone[FRONTIER_KEY_MAX], k_stats[FRONTIER_KEY_MAX], k_seeds[FRONTIER_KEY_MAX],
        k_meta[FRONTIER_KEY_MAX], k_ready[FRONTIER_KEY_MAX], k_active[FRONTIER_KEY_MAX],
        k_waiting[FRONTIER_KEY_MAX], k_spec_counts[FRONTIER_KEY_MAX];
} frontier;

/* Parses redis://[:password@]host[:port][/db] and connects. Returns 0, or -1 with
 * a reason in err (bad URI, unreachable server, bad crawl name). */
int frontier_open(frontier *fr, const char *uri, const char *crawl, char *err, size_t errlen);
void frontier_close(frontier *fr);
/* Drops the connection and connects again. Returns 0, or -1 (fr->err). */
int frontier_reconnect(frontier *fr);
/* Nonzero when the last failure was a connection error (reconnect needed). */
int frontier_broken(const frontier *fr);
/* Nonzero when the last command was refused because Redis takes no writes now
 * (maxmemory reached, a read-only replica, failing persistence). */
int frontier_refused(const frontier *fr);

/* Runs argv as one command (lens NULL: C strings). Returns the reply (the
 * caller frees it), or NULL with fr->err: not connected, no reply, or an error
 * reply (fr->refused says whether Redis refused a write). A MOVED answer (the
 * crawl's slot moved to another cluster node) is followed: the command goes
 * again to the node named, at most 3 times. */
redisReply *frontier_cmd(frontier *fr, int argc, const char **argv, const size_t *lens);
/* Sends n commands at once (argv[i] of argc[i] C strings) and reads their
 * replies into replies[0..n) (the caller frees each). Returns 0, or -1 with
 * fr->err and nothing to free (a reply missing, or an error reply: after a MOVED
 * the connection goes to the node named, for the next call). */
int frontier_pipeline(frontier *fr, size_t n, const int *argc, const char **const *argv, redisReply **replies);

/* An argv under construction. Appends never fail on their own: out of memory
 * sets the sticky oom flag, later appends do nothing, and frontier_run checks it
 * once before sending, so a short argv (which would shift a script's ARGV) is
 * never sent. Start it zeroed: frontier_args a = { 0 }. */
typedef struct frontier_args {
    const char **v;
    size_t *len;
    char **owned; /* strings this argv allocated */
    size_t n, cap, nowned;
    int oom;
    const frontier_script *script; /* an EVALSHA of it, or NULL */
} frontier_args;

/* Starts an EVALSHA of script over nkeys keys; keys and arguments follow. */
void frontier_args_script(frontier_args *a, frontier_lua script, int nkeys);
/* Appends s (not copied: it must outlive the argv). */
void frontier_args_str(frontier_args *a, const char *s);
/* Appends v in decimal. */
void frontier_args_ll(frontier_args *a, long long v);
/* Appends s and takes ownership of it (NULL counts as out of memory). */
void frontier_args_own(frontier_args *a, char *s);
/* Appends the len bytes at s and takes ownership of them (NULL counts as out of
 * memory). */
void frontier_args_own_bytes(frontier_args *a, char *s, size_t len);
void frontier_args_free(frontier_args *a);

/* Sends a built argv and frees it. Returns the reply (the caller frees it), or
 * NULL with fr->err: out of memory while building, or what frontier_cmd
 * reports. An EVALSHA that Redis answers NOSCRIPT loads its script and goes
 * again, once. */
redisReply *frontier_run(frontier *fr, frontier_args *a);
/* frontier_run expecting an integer reply. Returns 0 and *out, or -1. */
int frontier_run_int(frontier *fr, frontier_args *a, long long *out);

/* An integer or decimal string reply as a number; 0 for anything else. */
long long frontier_reply_ll(const redisReply *r);

#endif
