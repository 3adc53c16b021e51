/* status_page.c -- the broker's status page: its compiled-in files, its JSON, and
 * a sampler thread that keeps the rates of the last minutes for the chart. */
#include "status_page.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <hiredis.h>

#include "status_page_files.h"
#include "zc_log.h"
#include "zc_time.h"

#define SAMPLE_TIMEOUT_MS 2000

typedef struct sample {
    long long t, fetched, written; /* wall ms; the counters then */
} sample;

struct broker_status_page {
    zc_redis_addr addr;
    char crawl[64];
    char key[192]; /* the stats hash */
    pthread_t thread;
    int started;
    pthread_mutex_t lock; /* guards what follows */
    pthread_cond_t wake;
    int stop;
    sample ring[STATUS_PAGE_POINTS + 1]; /* one more: a rate needs two samples */
    size_t head, n;
};

/* ---- files ---- */

int broker_status_page_asset(const char *url, const void **data, size_t *len, const char **type) {
    static const struct {
        const char *url, *type;
        const unsigned char *data;
        const unsigned long *len;
    } F[] = {
        { "/", "text/html; charset=utf-8", status_page_html, &status_page_html_len },
        { "/status.css", "text/css; charset=utf-8", status_page_css, &status_page_css_len },
        { "/status.js", "text/javascript; charset=utf-8", status_page_js, &status_page_js_len },
    };
    for (size_t i = 0; i < sizeof(F) / sizeof(F[0]); i++) {
        if (strcmp(url, F[i].url)) continue;
        *data = F[i].data;
        *len = (size_t)*F[i].len;
        *type = F[i].type;
        return 1;
    }
    return 0;
}

/* ---- the sampler ---- */

/* Reads the counters once and keeps them. Returns 0, or -1 (the connection is
 * then dropped and made again next time). */
static int sample_once(broker_status_page *p, redisContext **rc) {
    char err[256];
    if (!*rc && !(*rc = zc_redis_connect_crawl(&p->addr, p->crawl, SAMPLE_TIMEOUT_MS, err, sizeof(err)))) return -1;
    redisReply *r = redisCommand(*rc, "HMGET %s fetched written updated_at", p->key);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        if (r) freeReplyObject(r);
        redisFree(*rc);
        *rc = NULL;
        return -1;
    }
    sample s = { 0, 0, 0 };
    const redisReply *e[3] = { r->element[0], r->element[1], r->element[2] };
    if (e[2]->type == REDIS_REPLY_STRING) {
        s.fetched = e[0]->type == REDIS_REPLY_STRING ? atoll(e[0]->str) : 0;
        s.written = e[1]->type == REDIS_REPLY_STRING ? atoll(e[1]->str) : 0;
        s.t = atoll(e[2]->str);
    }
    freeReplyObject(r);
    if (!s.t) return 0; /* no stats yet */
    pthread_mutex_lock(&p->lock);
    const sample *last = p->n ? &p->ring[(p->head + STATUS_PAGE_POINTS) % (STATUS_PAGE_POINTS + 1)] : NULL;
    if (!last || last->t != s.t) { /* a stats hash the broker did not rewrite adds no point */
        p->ring[p->head] = s;
        p->head = (p->head + 1) % (STATUS_PAGE_POINTS + 1);
        if (p->n < STATUS_PAGE_POINTS + 1) p->n++;
    }
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static void *sampler(void *arg) {
    broker_status_page *p = arg;
    redisContext *rc = NULL;
    int failing = 0;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        pthread_mutex_unlock(&p->lock);
        int bad = sample_once(p, &rc) != 0;
        if (bad && !failing) zc_warn("status_page_sample_failed", "crawl=%s", p->crawl);
        failing = bad;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += STATUS_PAGE_SAMPLE_MS / 1000;
        ts.tv_nsec += (long)(STATUS_PAGE_SAMPLE_MS % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&p->lock);
        while (!p->stop) {
            int w = pthread_cond_timedwait(&p->wake, &p->lock, &ts);
            if (w == ETIMEDOUT) break;
        }
    }
    pthread_mutex_unlock(&p->lock);
    if (rc) redisFree(rc);
    return NULL;
}

broker_status_page *broker_status_page_start(const zc_redis_addr *a, const char *crawl, char *err, size_t errlen) {
    broker_status_page *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->addr = *a;
    if (snprintf(p->crawl, sizeof(p->crawl), "%s", crawl) >= (int)sizeof(p->crawl) ||
        zc_redis_key(p->key, sizeof(p->key), crawl, "stats") != 0) {
        snprintf(err, errlen, "crawl name too long");
        free(p);
        return NULL;
    }
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        snprintf(err, errlen, "pthread_mutex_init failed");
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->wake, NULL) != 0) {
        snprintf(err, errlen, "pthread_cond_init failed");
        goto err;
    }
    /* The thread inherits the caller's mask: signals stay with the broker's own threads. */
    sigset_t all, old;
    int rc;
    if (sigfillset(&all) != 0 || pthread_sigmask(SIG_BLOCK, &all, &old) != 0) {
        snprintf(err, errlen, "cannot block signals for the status page's thread");
        pthread_cond_destroy(&p->wake);
        goto err;
    }
    rc = pthread_create(&p->thread, NULL, sampler, p);
    if (pthread_sigmask(SIG_SETMASK, &old, NULL) != 0 && rc == 0) zc_warn("sigmask_restore_failed", "where=status_page");
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the status page's thread: %s", strerror(rc));
        pthread_cond_destroy(&p->wake);
        goto err;
    }
    p->started = 1;
    return p;
err:
    pthread_mutex_destroy(&p->lock);
    free(p);
    return NULL;
}

void broker_status_page_stop(broker_status_page *p) {
    if (!p) return;
    if (p->started) {
        pthread_mutex_lock(&p->lock);
        p->stop = 1;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
        pthread_cond_destroy(&p->wake);
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* ---- JSON ---- */

/* Adds "history": each point the rates between two samples. */
static int add_history(broker_status_page *p, cJSON *o) {
    cJSON *h = cJSON_AddObjectToObject(o, "history");
    if (!h || !cJSON_AddNumberToObject(h, "interval_ms", STATUS_PAGE_SAMPLE_MS)) return -1;
    cJSON *pts = cJSON_AddArrayToObject(h, "points");
    if (!pts) return -1;
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    size_t cap = STATUS_PAGE_POINTS + 1, first = (p->head + cap - p->n) % cap;
    for (size_t i = 1; i < p->n && rc == 0; i++) {
        const sample *a = &p->ring[(first + i - 1) % cap], *b = &p->ring[(first + i) % cap];
        double dt = (double)(b->t - a->t) / 1000.0;
        if (dt <= 0) continue;
        double df = (double)(b->fetched - a->fetched), dw = (double)(b->written - a->written);
        cJSON *pt = cJSON_CreateArray();
        cJSON *v[3] = { cJSON_CreateNumber((double)b->t), cJSON_CreateNumber(df > 0 ? df / dt : 0),
                        cJSON_CreateNumber(dw > 0 ? dw / dt : 0) };
        if (!pt || !v[0] || !v[1] || !v[2]) rc = -1;
        for (int k = 0; k < 3; k++) {
            if (pt && v[k]) cJSON_AddItemToArray(pt, v[k]);
            else cJSON_Delete(v[k]);
        }
        if (pt) cJSON_AddItemToArray(pts, pt);
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int broker_status_page_json(broker_status_page *p, const zc_crawlstat *s, const char *crawl, const char *where,
                            zc_buf *out) {
    cJSON *o = zc_crawlstat_json(s, crawl, where);
    char *text = NULL;
    int rc = -1;
    if (!o || add_history(p, o) != 0 || !(text = cJSON_PrintUnformatted(o))) goto out;
    out->len = 0;
    rc = zc_buf_add(out, text, strlen(text), 0);
out:
    free(text);
    cJSON_Delete(o);
    return rc;
}
