/* dispatch.c -- the broker's in-memory view of work in hand (see dispatch.h). */
#include "dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zc_url.h"
#include "zc_list.h"

static uint64_t disp_hash(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    while (*s) { h ^= (unsigned char)*s++; h *= 1099511628211ULL; }
    return h;
}

int dispatch_init(dispatch *d, int max_per_host, double rate) {
    memset(d, 0, sizeof(*d));
    d->max_per_host = max_per_host > 0 ? max_per_host : 1;
    d->rate = rate;
    d->nbuckets = 4096;
    d->buckets = calloc(d->nbuckets, sizeof(*d->buckets));
    return d->buckets ? 0 : -1;
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
    free(d->peers);
    memset(d, 0, sizeof(*d));
}

static int host_index(dispatch *d, const char *key) {
    for (size_t i = 0; i < d->nhosts; i++)
        if (strcmp(d->hosts[i].key, key) == 0) return (int)i;
    if (d->nhosts == d->cap_hosts) {
        size_t cap = d->cap_hosts ? d->cap_hosts * 2 : 8;
        dispatch_host *h = realloc(d->hosts, cap * sizeof(*h));
        if (!h) return -1;
        d->hosts = h;
        d->cap_hosts = cap;
    }
    dispatch_host *h = &d->hosts[d->nhosts];
    memset(h, 0, sizeof(*h));
    snprintf(h->key, sizeof(h->key), "%s", key);
    h->cap = d->max_per_host;
    h->tokens = d->rate > 0 ? 1 : 0;
    return (int)d->nhosts++;
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
    d->nitems++;
    list_push(&d->hosts[h].parked, it);
    d->nparked++;
    return it;
}

void dispatch_drop(dispatch *d, dispatch_item *it) {
    if (it->peer >= 0) {
        list_unlink(&d->peers[it->peer].held, it);
        d->ninflight--;
    } else {
        list_unlink(&d->hosts[it->host].parked, it);
        d->nparked--;
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

static int host_ready(dispatch *d, dispatch_host *h, int64_t now) {
    if (!h->parked.head || h->inflight >= (int)h->cap) return 0;
    if (h->gated && !h->parked.head->pass) return 0;
    if (host_rate(d, h) > 0) {
        host_refill(d, h, now);
        if (h->tokens < 1) return 0;
    }
    return 1;
}

dispatch_item *dispatch_next(dispatch *d, int64_t now) {
    if (d->nparked == 0) return NULL;
    int best = -1;
    for (size_t i = 0; i < d->npeers; i++) {
        dispatch_peer *p = &d->peers[i];
        if (p->used && p->role == DISPATCH_FETCHER && p->credit > 0 && !p->paused &&
            (best < 0 || p->credit > d->peers[best].credit))
            best = (int)i;
    }
    if (best < 0) return NULL;
    /* Round-robin over hosts so one busy host does not starve the others. */
    for (size_t k = 0; k < d->nhosts; k++) {
        size_t hi = (d->next_host + k) % d->nhosts;
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
        d->next_host = hi + 1;
        return it;
    }
    return NULL;
}

void dispatch_answered(dispatch *d, dispatch_item *it, int throttled) {
    dispatch_host *h = &d->hosts[it->host];
    if (it->peer >= 0 && h->inflight > 0) h->inflight--;
    if (throttled) {
        /* Multiplicative decrease on 429/503: the host asks us to slow down. */
        h->cap = h->cap * 0.75 < 1 ? 1 : h->cap * 0.75;
        h->ok_streak = 0;
    } else if (h->cap < d->max_per_host && ++h->ok_streak >= (int)h->cap) {
        h->cap += 1; /* additive increase, one per window of successes */
        if (h->cap > d->max_per_host) h->cap = d->max_per_host;
        h->ok_streak = 0;
    }
}

int64_t dispatch_rate_wait(const dispatch *d, int64_t now) {
    int64_t best = -1;
    for (size_t i = 0; i < d->nhosts; i++) {
        const dispatch_host *h = &d->hosts[i];
        double rate = host_rate(d, h);
        if (rate <= 0 || !h->parked.head || h->inflight >= (int)h->cap) continue;
        if (h->gated && !h->parked.head->pass) continue;
        double need = 1 - (h->tokens + (double)(now - h->tokens_at) * rate / 1000.0);
        int64_t w = need <= 0 ? 0 : (int64_t)(need * 1000.0 / rate) + 1;
        if (best < 0 || w < best) best = w;
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
    }
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
    l->head->prev = it;
    l->head = it;
    l->n++;
}

dispatch_item *dispatch_host_parked(dispatch *d, const char *url) {
    char key[272];
    if (zc_url_host(url, key, sizeof(key)) != 0) return NULL;
    for (size_t i = 0; i < d->nhosts; i++)
        if (strcmp(d->hosts[i].key, key) == 0) return d->hosts[i].parked.head;
    return NULL;
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

dispatch_item *dispatch_any_parked(dispatch *d) {
    if (d->nparked == 0) return NULL;
    for (size_t h = 0; h < d->nhosts; h++)
        if (d->hosts[h].parked.head) return d->hosts[h].parked.head;
    return NULL;
}

dispatch_item *dispatch_first_held(dispatch *d, int peer) {
    dispatch_peer *p = dispatch_peer_at(d, peer);
    return p ? p->held.head : NULL;
}
