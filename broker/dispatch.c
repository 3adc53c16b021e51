/* dispatch.c -- the broker's in-memory view of work in hand (see dispatch.h). */
#include "dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zc_hash.h"
#include "zc_url.h"
#include "zc_list.h"

static uint64_t disp_hash(const char *s) { return zc_fnv1a(s, strlen(s)); }

int dispatch_init(dispatch *d, int max_per_host, double rate) {
    memset(d, 0, sizeof(*d));
    d->max_per_host = max_per_host > 0 ? max_per_host : 1;
    d->rate = rate;
    d->nbuckets = 4096;
    d->buckets = calloc(d->nbuckets, sizeof(*d->buckets));
    d->nhbuckets = 1024;
    d->hbuckets = malloc(d->nhbuckets * sizeof(*d->hbuckets));
    d->free_host = -1;
    d->ring = -1;
    if (!d->buckets || !d->hbuckets) {
        free(d->buckets);
        free(d->hbuckets);
        memset(d, 0, sizeof(*d));
        return -1;
    }
    for (size_t i = 0; i < d->nhbuckets; i++) d->hbuckets[i] = -1;
    return 0;
}

ZC_LIST_DEFINE(list, dispatch_list, dispatch_item)

void dispatch_free(dispatch *d) {
    for (size_t b = 0; b < d->nbuckets; b++) {
        dispatch_item *it = d->buckets[b];
        while (it) {
            dispatch_item *n = it->hnext;
            free(it->url);
            free(it);
            it = n;
        }
    }
    free(d->buckets);
    free(d->hosts);
    free(d->hbuckets);
    free(d->sync);
    free(d->peers);
    memset(d, 0, sizeof(*d));
}

/* ---- hosts: a hash by key over reusable slots ---- */

static int host_find(const dispatch *d, const char *key) {
    for (int i = d->hbuckets[disp_hash(key) & (d->nhbuckets - 1)]; i >= 0; i = d->hosts[i].hnext)
        if (strcmp(d->hosts[i].key, key) == 0) return i;
    return -1;
}

/* Doubles the host hash when it holds more hosts than buckets. Failing to grow
 * only makes chains longer. */
static void host_hash_grow(dispatch *d) {
    size_t nb = d->nhbuckets * 2;
    int *hb = malloc(nb * sizeof(*hb));
    if (!hb) return;
    for (size_t i = 0; i < nb; i++) hb[i] = -1;
    for (size_t i = 0; i < d->nhosts; i++) {
        if (!d->hosts[i].used) continue;
        size_t b = disp_hash(d->hosts[i].key) & (nb - 1);
        d->hosts[i].hnext = hb[b];
        hb[b] = (int)i;
    }
    free(d->hbuckets);
    d->hbuckets = hb;
    d->nhbuckets = nb;
}

static int host_index(dispatch *d, const char *key) {
    int found = host_find(d, key);
    if (found >= 0) return found;
    int i = d->free_host;
    if (i >= 0) {
        d->free_host = d->hosts[i].hnext;
    } else {
        if (d->nhosts == d->cap_hosts) {
            size_t cap = d->cap_hosts ? d->cap_hosts * 2 : 64;
            dispatch_host *h = realloc(d->hosts, cap * sizeof(*h));
            if (!h) return -1;
            d->hosts = h;
            d->cap_hosts = cap;
        }
        i = (int)d->nhosts++;
    }
    dispatch_host *h = &d->hosts[i];
    memset(h, 0, sizeof(*h));
    snprintf(h->key, sizeof(h->key), "%s", key);
    h->cap = d->max_per_host;
    h->tokens = 1;
    h->used = 1;
    h->rprev = h->rnext = -1;
    size_t b = disp_hash(key) & (d->nhbuckets - 1);
    h->hnext = d->hbuckets[b];
    d->hbuckets[b] = i;
    if (++d->live_hosts > d->nhbuckets) host_hash_grow(d);
    return i;
}

static void host_evict(dispatch *d, int i) {
    int *pp = &d->hbuckets[disp_hash(d->hosts[i].key) & (d->nhbuckets - 1)];
    while (*pp >= 0 && *pp != i) pp = &d->hosts[*pp].hnext;
    if (*pp == i) *pp = d->hosts[i].hnext;
    d->hosts[i].used = 0;
    d->hosts[i].key[0] = '\0';
    d->hosts[i].hnext = d->free_host;
    d->free_host = i;
    d->live_hosts--;
}

static void ring_add(dispatch *d, int i) {
    dispatch_host *h = &d->hosts[i];
    if (d->ring < 0) {
        h->rprev = h->rnext = i;
        d->ring = i;
    } else {
        /* Just behind the cursor: it gets its turn after every host waiting now. */
        dispatch_host *c = &d->hosts[d->ring];
        h->rnext = d->ring;
        h->rprev = c->rprev;
        d->hosts[c->rprev].rnext = i;
        c->rprev = i;
    }
    h->in_ring = 1;
    d->nring++;
}

static void ring_del(dispatch *d, int i) {
    dispatch_host *h = &d->hosts[i];
    if (h->rnext == i) {
        d->ring = -1;
    } else {
        d->hosts[h->rprev].rnext = h->rnext;
        d->hosts[h->rnext].rprev = h->rprev;
        if (d->ring == i) d->ring = h->rnext;
    }
    h->rprev = h->rnext = -1;
    h->in_ring = 0;
    d->nring--;
}

static void sync_add(dispatch *d, int i) {
    if (d->hosts[i].syncing) return;
    if (d->nsync == d->cap_sync) {
        size_t cap = d->cap_sync ? d->cap_sync * 2 : 256;
        int *s = realloc(d->sync, cap * sizeof(*s));
        if (!s) return; /* tried again at the host's next change */
        d->sync = s;
        d->cap_sync = cap;
    }
    d->sync[d->nsync++] = i;
    d->hosts[i].syncing = 1;
}

static void mark_dirty(dispatch *d, int i) {
    d->hosts[i].dirty = 1;
    sync_add(d, i);
}

/* Puts host i where its state says: in the ring when it has parked URLs and room,
 * on the sync list when it is checked out and wants no more URLs now, forgotten
 * when idle with nothing left to write. */
static void host_touch(dispatch *d, int i) {
    dispatch_host *h = &d->hosts[i];
    int room = h->inflight < (int)h->cap;
    int can = h->parked.head && room;
    if (can && !h->in_ring) ring_add(d, i);
    else if (!can && h->in_ring) ring_del(d, i);
    if (h->out && !h->parked.head && room) sync_add(d, i);
    if (!h->out && !h->parked.head && h->inflight == 0 && !h->dirty && !h->syncing && !h->gated) host_evict(d, i);
}

void dispatch_host_check(dispatch *d, int host) {
    if (host >= 0 && (size_t)host < d->nhosts && d->hosts[host].used) host_touch(d, host);
}

int dispatch_host_leased(dispatch *d, const char *key, int cap, int64_t until_wall, int64_t delay_ms,
                         int64_t now, int64_t wall) {
    int known = host_find(d, key) >= 0;
    int i = host_index(d, key);
    if (i < 0) return -1;
    dispatch_host *h = &d->hosts[i];
    if (!known) {
        if (cap > 0 && cap < d->max_per_host) h->cap = cap;
        if (until_wall > wall) {
            h->backoff_wall = until_wall;
            h->backoff_until = now + (until_wall - wall);
        }
        if (delay_ms > 0) h->rate = 1000.0 / (double)delay_ms;
    }
    h->out = 1;
    return i;
}

int dispatch_host_holds(dispatch *d, const char *key) {
    int i = host_find(d, key);
    if (i < 0 || !d->hosts[i].out) return 0;
    dispatch_host *h = &d->hosts[i];
    if (!h->parked.head && h->inflight == 0 && !h->syncing) sync_add(d, i);
    return 1;
}

/* Doubles the URL hash when it holds more items than buckets, so that finding a
 * URL (every DONE, every lease) stays O(1) however many the broker holds. Failing
 * to grow only makes chains longer. */
static void items_grow(dispatch *d) {
    size_t nb = d->nbuckets * 2;
    dispatch_item **v = calloc(nb, sizeof(*v));
    if (!v) return;
    for (size_t b = 0; b < d->nbuckets; b++) {
        dispatch_item *it = d->buckets[b], *next;
        for (; it; it = next) {
            next = it->hnext;
            size_t k = disp_hash(it->url) % nb;
            it->hnext = v[k];
            v[k] = it;
        }
    }
    free(d->buckets);
    d->buckets = v;
    d->nbuckets = nb;
}

dispatch_item *dispatch_find(dispatch *d, const char *url) {
    for (dispatch_item *it = d->buckets[disp_hash(url) % d->nbuckets]; it; it = it->hnext)
        if (strcmp(it->url, url) == 0) return it;
    return NULL;
}

dispatch_item *dispatch_park(dispatch *d, const char *url, int attempt, int64_t deadline, int *bad) {
    *bad = 0;
    if (dispatch_find(d, url)) return NULL;
    char key[272];
    if (zc_url_host(url, key, sizeof(key)) != 0) {
        *bad = 1;
        return NULL;
    }
    int h = host_index(d, key);
    if (h < 0) return NULL;
    dispatch_item *it = calloc(1, sizeof(*it));
    if (!it) return NULL;
    it->url = strdup(url);
    if (!it->url) {
        free(it);
        return NULL;
    }
    it->host = h;
    it->peer = -1;
    it->attempt = attempt;
    it->deadline = deadline;
    size_t b = disp_hash(url) % d->nbuckets;
    it->hnext = d->buckets[b];
    d->buckets[b] = it;
    if (++d->nitems > d->nbuckets) items_grow(d);
    list_push(&d->hosts[h].parked, it);
    d->nparked++;
    host_touch(d, h);
    return it;
}

void dispatch_drop(dispatch *d, dispatch_item *it) {
    if (it->peer >= 0) {
        list_unlink(&d->peers[it->peer].held, it);
        d->ninflight--;
    } else {
        list_unlink(&d->hosts[it->host].parked, it);
        d->nparked--;
        host_touch(d, it->host);
    }
    dispatch_item **pp = &d->buckets[disp_hash(it->url) % d->nbuckets];
    while (*pp && *pp != it) pp = &(*pp)->hnext;
    if (*pp) *pp = it->hnext;
    d->nitems--;
    free(it->url);
    free(it);
}

int dispatch_peer_get(dispatch *d, const void *id, size_t idlen, int create) {
    if (idlen == 0 || idlen > DISPATCH_ID_MAX) return -1;
    int free_slot = -1;
    for (size_t i = 0; i < d->npeers; i++) {
        dispatch_peer *p = &d->peers[i];
        if (!p->used) {
            if (free_slot < 0) free_slot = (int)i;
            continue;
        }
        if (p->idlen == idlen && memcmp(p->id, id, idlen) == 0) return (int)i;
    }
    if (!create) return -1;
    if (free_slot < 0) {
        dispatch_peer *np = realloc(d->peers, (d->npeers + 1) * sizeof(*np));
        if (!np) return -1;
        d->peers = np;
        /* Items point at peers by index, so growing the array keeps them valid. */
        free_slot = (int)d->npeers++;
    }
    dispatch_peer *p = &d->peers[free_slot];
    memset(p, 0, sizeof(*p));
    memcpy(p->id, id, idlen);
    p->idlen = idlen;
    p->used = 1;
    p->role = DISPATCH_OTHER;
    p->fd = -1;
    return free_slot;
}

void dispatch_peer_forget(dispatch *d, int peer) {
    dispatch_peer *p = &d->peers[peer];
    while (p->held.head) dispatch_drop(d, p->held.head);
    p->used = 0;
}

long dispatch_total_credit(const dispatch *d) {
    long c = 0;
    for (size_t i = 0; i < d->npeers; i++)
        if (d->peers[i].used && d->peers[i].role == DISPATCH_FETCHER && d->peers[i].credit > 0 &&
            !d->peers[i].paused)
            c += d->peers[i].credit;
    return c;
}

long dispatch_total_capacity(const dispatch *d) {
    long c = 0;
    for (size_t i = 0; i < d->npeers; i++)
        if (d->peers[i].used && d->peers[i].role == DISPATCH_FETCHER && !d->peers[i].paused)
            c += d->peers[i].capacity;
    return c;
}

void dispatch_peer_capacity(dispatch_peer *p) {
    long c = p->credit + (long)p->held.n;
    if (c > p->capacity) p->capacity = c;
}

const char *dispatch_role_name(dispatch_role role) {
    switch (role) {
    case DISPATCH_FETCHER: return "fetcher";
    case DISPATCH_PARSER: return "parser";
    case DISPATCH_WRITER: return "writer";
    default: return "stage";
    }
}

dispatch_role dispatch_role_parse(const char *name) {
    for (dispatch_role r = DISPATCH_FETCHER; r < DISPATCH_OTHER; r++)
        if (!strcmp(name, dispatch_role_name(r))) return r;
    return DISPATCH_OTHER;
}

int dispatch_count_role(const dispatch *d, dispatch_role role) {
    int n = 0;
    for (size_t i = 0; i < d->npeers; i++)
        if (d->peers[i].used && d->peers[i].role == role) n++;
    return n;
}

static double host_rate(const dispatch *d, const dispatch_host *h) { return h->rate > 0 ? h->rate : d->rate; }

static void host_refill(dispatch *d, dispatch_host *h, int64_t now) {
    double rate = host_rate(d, h);
    if (rate <= 0) return;
    if (h->tokens_at == 0) h->tokens_at = now;
    double burst = rate < 1 ? 1 : rate;
    h->tokens += (double)(now - h->tokens_at) * rate / 1000.0;
    if (h->tokens > burst) h->tokens = burst;
    h->tokens_at = now;
}

/* Milliseconds until h may send (back-off, rate), 0 when it may now. */
static int64_t host_wait(const dispatch *d, const dispatch_host *h, int64_t now) {
    int64_t w = h->backoff_until > now ? h->backoff_until - now : 0;
    double rate = host_rate(d, h);
    if (rate > 0 && h->tokens_at) {
        double need = 1 - (h->tokens + (double)(now - h->tokens_at) * rate / 1000.0);
        int64_t r = need <= 0 ? 0 : (int64_t)(need * 1000.0 / rate) + 1;
        if (r > w) w = r;
    }
    return w;
}

static int host_ready(dispatch *d, dispatch_host *h, int64_t now) {
    if (!h->parked.head || h->inflight >= (int)h->cap) return 0;
    if (h->gated && !h->parked.head->pass) return 0;
    if (h->backoff_until > now) return 0;
    if (host_rate(d, h) > 0) {
        host_refill(d, h, now);
        if (h->tokens < 1) return 0;
    }
    return 1;
}

dispatch_item *dispatch_next(dispatch *d, int64_t now) {
    if (d->nparked == 0 || d->ring < 0) return NULL;
    int best = -1;
    for (size_t i = 0; i < d->npeers; i++) {
        dispatch_peer *p = &d->peers[i];
        if (p->used && p->role == DISPATCH_FETCHER && p->credit > 0 && !p->paused &&
            (best < 0 || p->credit > d->peers[best].credit))
            best = (int)i;
    }
    if (best < 0) return NULL;
    /* Round-robin over the ring (hosts with parked URLs and room under their cap)
     * so one busy host does not starve the others. */
    int hi = d->ring;
    for (size_t k = 0, n = d->nring; k < n; k++, hi = d->hosts[hi].rnext) {
        dispatch_host *h = &d->hosts[hi];
        if (!host_ready(d, h, now)) continue;
        dispatch_item *it = h->parked.head;
        list_unlink(&h->parked, it);
        d->nparked--;
        it->peer = best;
        it->sent_at = now;
        list_push(&d->peers[best].held, it);
        d->ninflight++;
        d->peers[best].credit--;
        h->inflight++;
        if (host_rate(d, h) > 0) h->tokens -= 1;
        d->ring = h->rnext;
        host_touch(d, hi);
        return it;
    }
    return NULL;
}

void dispatch_answered(dispatch *d, dispatch_item *it, int throttled) {
    int hi = it->host;
    dispatch_host *h = &d->hosts[hi];
    if (it->peer >= 0 && h->inflight > 0) h->inflight--;
    double was = h->cap;
    if (throttled == DISPATCH_UNANSWERED) {
        /* No answer says nothing of the host: no success to count. */
    } else if (throttled) {
        /* Multiplicative decrease on 429/503: the host asks us to slow down. */
        h->cap = h->cap * 0.75 < 1 ? 1 : h->cap * 0.75;
        h->ok_streak = 0;
    } else if (h->cap < d->max_per_host && ++h->ok_streak >= (int)h->cap) {
        h->cap += 1; /* additive increase, one per window of successes */
        if (h->cap > d->max_per_host) h->cap = d->max_per_host;
        h->ok_streak = 0;
    }
    if ((int)was != (int)h->cap) mark_dirty(d, hi);
    /* An idle host may be forgotten here: the caller only drops the item next,
     * which no longer looks at its host. */
    host_touch(d, hi);
}

void dispatch_backoff(dispatch *d, dispatch_item *it, int64_t now, int64_t wall, int64_t retry_after_ms) {
    /* Only a server that says how long (Retry-After) pauses the whole host: a
     * 429 or 503 alone cuts its cap (dispatch_answered) and delays its URL. */
    if (!it || retry_after_ms <= 0) return;
    if (retry_after_ms > DISPATCH_BACKOFF_MAX_MS) retry_after_ms = DISPATCH_BACKOFF_MAX_MS;
    dispatch_host *h = &d->hosts[it->host];
    if (now + retry_after_ms > h->backoff_until) {
        h->backoff_until = now + retry_after_ms;
        h->backoff_wall = wall + retry_after_ms;
        mark_dirty(d, it->host);
    }
}

int64_t dispatch_rate_wait(const dispatch *d, int64_t now) {
    int64_t best = -1;
    int hi = d->ring;
    for (size_t k = 0; k < d->nring; k++, hi = d->hosts[hi].rnext) {
        const dispatch_host *h = &d->hosts[hi];
        if (h->gated && !(h->parked.head && h->parked.head->pass)) continue;
        int64_t w = host_wait(d, h, now);
        if (w > 0 && (best < 0 || w < best)) best = w;
    }
    return best;
}

int dispatch_host_set(dispatch *d, const char *url, int gated, double rate) {
    char key[272];
    if (zc_url_host(url, key, sizeof(key)) != 0) return -1;
    int h = host_index(d, key);
    if (h < 0) return -1;
    d->hosts[h].gated = gated;
    if (rate >= 0 && rate != d->hosts[h].rate) {
        d->hosts[h].rate = rate;
        /* The request that brought the rate (robots.txt) was one: the next waits. */
        d->hosts[h].tokens = 0;
        d->hosts[h].tokens_at = 0;
        mark_dirty(d, h);
    }
    host_touch(d, h);
    return 0;
}

void dispatch_pass(dispatch *d, dispatch_item *it) {
    it->pass = 1;
    if (it->peer >= 0) return;
    dispatch_list *l = &d->hosts[it->host].parked;
    if (l->head == it) return;
    list_unlink(l, it);
    it->prev = NULL;
    it->next = l->head;
    if (l->head) l->head->prev = it;
    else l->tail = it;
    l->head = it;
    l->n++;
}

dispatch_item *dispatch_host_parked(dispatch *d, const char *url) {
    char key[272];
    if (zc_url_host(url, key, sizeof(key)) != 0) return NULL;
    int h = host_find(d, key);
    return h >= 0 ? d->hosts[h].parked.head : NULL;
}

size_t dispatch_sync_take(dispatch *d, int64_t now, int64_t wall, dispatch_sync *out, size_t cap) {
    size_t n = 0;
    while (n < cap && d->nsync > 0) {
        int i = d->sync[--d->nsync];
        dispatch_host *h = &d->hosts[i];
        dispatch_sync *s = &out[n++];
        memset(s, 0, sizeof(*s));
        s->host = i;
        s->key = h->key;
        s->release_at = h->out && !h->parked.head && h->inflight < (int)h->cap ? wall + host_wait(d, h, now) : -1;
        /* Handed back to wait for its rate or back-off: the wait is saved too, so a
         * URL queued while its queue is empty (not in ready) still waits for it,
         * and a host forgotten here and leased again does not start afresh. */
        int64_t next = s->release_at > wall ? s->release_at : 0;
        if (next) h->dirty = 1;
        if (h->dirty) {
            int64_t until = h->backoff_wall > wall ? h->backoff_wall : 0;
            if (next > until) until = next;
            int defaults = (int)h->cap >= d->max_per_host && until == 0 && h->rate <= 0;
            s->save = defaults ? -1 : 1;
            s->cap = (int)h->cap;
            s->until_ms = until;
            s->delay_ms = h->rate > 0 ? (int64_t)(1000.0 / h->rate) : 0;
            h->dirty = 0;
        }
    }
    return n;
}

void dispatch_sync_done(dispatch *d, const dispatch_sync *s, size_t n, int ok) {
    for (size_t k = 0; k < n; k++) {
        int i = s[k].host;
        dispatch_host *h = &d->hosts[i];
        h->syncing = 0;
        if (!ok) {
            if (s[k].save) h->dirty = 1;
            sync_add(d, i);
            continue;
        }
        if (s[k].release_at >= 0) h->out = 0;
        host_touch(d, i);
    }
}

dispatch_peer *dispatch_peer_at(dispatch *d, int i) {
    if (i < 0 || (size_t)i >= d->npeers || !d->peers[i].used) return NULL;
    return &d->peers[i];
}

size_t dispatch_peer_slots(const dispatch *d) { return d->npeers; }

size_t dispatch_expiring(dispatch *d, int64_t horizon, int (*keep)(void *arg, int peer), void *arg,
                         dispatch_item **out, size_t cap) {
    size_t n = 0;
    for (size_t b = 0; b < d->nbuckets && n < cap; b++)
        for (dispatch_item *it = d->buckets[b]; it && n < cap; it = it->hnext)
            if (it->deadline < horizon && (it->peer < 0 || !keep || keep(arg, it->peer))) out[n++] = it;
    return n;
}

void dispatch_shift_deadlines(dispatch *d, int64_t ms) {
    for (size_t b = 0; b < d->nbuckets; b++)
        for (dispatch_item *it = d->buckets[b]; it; it = it->hnext) it->deadline += ms;
}

dispatch_item *dispatch_any_parked(dispatch *d) {
    if (d->nparked == 0) return NULL;
    for (size_t h = 0; h < d->nhosts; h++)
        if (d->hosts[h].used && d->hosts[h].parked.head) return d->hosts[h].parked.head;
    return NULL;
}

dispatch_item *dispatch_first_held(dispatch *d, int peer) {
    dispatch_peer *p = dispatch_peer_at(d, peer);
    return p ? p->held.head : NULL;
}
