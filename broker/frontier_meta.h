/* frontier_meta.h -- a crawl's meta hash (zcrawl:{<crawl>}:meta: state, run_id,
 * times, reason, written, url_form, identity), which says whether a crawl is new, running,
 * complete, stopped, failed or lost, and whose run_id names the one broker that
 * may write the crawl; and the crawl's wipe (--fresh). */
#ifndef BROKER_FRONTIER_META_H
#define BROKER_FRONTIER_META_H

#include <stddef.h>
#include <stdint.h>

#include "frontier_cmd.h"

/* What a crawl's meta hash said when a run began. */
typedef struct frontier_meta {
    char state[16];     /* new, running, stopped, failed, complete, lost, or url_form */
    long long ended_at; /* ms since the epoch, 0 when unknown */
    long long written;
    long long url_form;  /* the crawl's canonical URL form (ZC_URL_FORM when ours) */
    char identity[1024]; /* what the crawl is, as recorded ("" when not) */
    long long dead;      /* dead letters so far */
} frontier_meta;

/* Starts a run in the crawl's meta hash: state running, run_id, started_at (and
 * created_at and url_form for a new crawl; identity when given and none is
 * recorded), atomically. Left unchanged when the crawl is recorded with another
 * identity (state "identity"), complete, lost (a seen-set without meta: its state
 * is gone), or url_form (its fingerprints are of another canonical form). prev
 * says which. Returns 0 or -1. */
int frontier_begin(frontier *fr, const char *run_id, const char *identity, int64_t now_ms, frontier_meta *prev);
/* Is the crawl still ours? Returns 1 (meta says run_id), 0 (meta gone), 2 (another
 * run_id, copied into other), or -1 on error. */
int frontier_run_check(frontier *fr, const char *run_id, char *other, size_t otherlen);
/* Ends our run: state, reason, ended_at, written, only while meta's run_id is
 * ours. Returns 1 when written, 0 when not ours, -1 on error. */
int frontier_end(frontier *fr, const char *run_id, const char *state, const char *reason, int64_t now_ms,
                 long long written);
/* Deletes every key of the crawl (zc_redis_wipe, the launcher's too). Returns how
 * many, or -1. */
long frontier_clear(frontier *fr);

#endif
