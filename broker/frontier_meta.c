/* frontier_meta.c -- a crawl's meta hash and its wipe (frontier_meta.h). */
#include "frontier_meta.h"

#include <stdio.h>
#include <string.h>

#include "zc_url.h"

int frontier_begin(frontier *fr, const char *run_id, const char *identity, int64_t now_ms, frontier_meta *prev) {
    memset(prev, 0, sizeof(*prev));
    frontier_args a = { 0 };
    frontier_args_script(&a, FRONTIER_LUA_BEGIN, 2);
    frontier_args_str(&a, fr->k_meta);
    frontier_args_str(&a, fr->k_stats);
    frontier_args_str(&a, run_id);
    frontier_args_ll(&a, now_ms);
    frontier_args_ll(&a, ZC_URL_FORM);
    frontier_args_str(&a, identity ? identity : "");
    redisReply *r = frontier_run(fr, &a);
    if (!r) return -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 6 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[4]->type != REDIS_REPLY_STRING) {
        snprintf(fr->err, sizeof(fr->err), "unexpected reply to the meta script");
        freeReplyObject(r);
        return -1;
    }
    snprintf(prev->state, sizeof(prev->state), "%s", r->element[0]->str);
    prev->ended_at = frontier_reply_ll(r->element[1]);
    prev->written = frontier_reply_ll(r->element[2]);
    prev->url_form = frontier_reply_ll(r->element[3]);
    snprintf(prev->identity, sizeof(prev->identity), "%s", r->element[4]->str);
    prev->dead = frontier_reply_ll(r->element[5]);
    freeReplyObject(r);
    return 0;
}

int frontier_run_check(frontier *fr, const char *run_id, char *other, size_t otherlen) {
    const char *argv[] = { "HMGET", fr->k_meta, "state", "run_id" };
    redisReply *r = frontier_cmd(fr, 4, argv, NULL);
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
    frontier_args a = { 0 };
    frontier_args_script(&a, FRONTIER_LUA_END, 1);
    frontier_args_str(&a, fr->k_meta);
    frontier_args_str(&a, run_id);
    frontier_args_str(&a, state);
    frontier_args_str(&a, reason);
    frontier_args_ll(&a, now_ms);
    frontier_args_ll(&a, written);
    long long v;
    if (frontier_run_int(fr, &a, &v) != 0) return -1;
    return (int)v;
}

long frontier_clear(frontier *fr) {
    if (frontier_broken(fr)) {
        snprintf(fr->err, sizeof(fr->err), "redis %s:%d: not connected", fr->addr.host, fr->addr.port);
        return -1;
    }
    return (long)zc_redis_wipe(fr->rc, fr->crawl, fr->err, sizeof(fr->err));
}
