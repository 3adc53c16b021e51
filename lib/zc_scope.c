/* zc_scope.c -- a crawl's scope: start URLs' origins plus allowed host patterns. */
#include "zc_hash.h"
#include "zc_scope.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zc_url.h"

struct zc_scope {
    char **origins; /* open-addressing hash set of origin strings (owned) */
    size_t cap, n;
    char **hosts; /* patterns (owned): "example.com" or "*.example.com" */
    size_t nhosts, caphosts;
};

static uint64_t scope_hash(const char *s) { return zc_fnv1a(s, strlen(s)); }

zc_scope *zc_scope_new(void) {
    zc_scope *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->cap = 16;
    s->origins = calloc(s->cap, sizeof(*s->origins));
    if (!s->origins) {
        free(s);
        return NULL;
    }
    return s;
}

void zc_scope_free(zc_scope *s) {
    if (!s) return;
    for (size_t i = 0; i < s->cap; i++) free(s->origins[i]);
    for (size_t i = 0; i < s->nhosts; i++) free(s->hosts[i]);
    free(s->origins);
    free(s->hosts);
    free(s);
}

int zc_scope_origin(const char *url, char *out, size_t outlen, char *err, size_t errlen) {
    char canon[ZC_URL_MAX];
    int n = zc_url_canonical(url, strlen(url), canon, sizeof(canon), err, errlen);
    if (n < 0) return -1;
    /* The canonical form always has a path: the origin ends at its first '/'. */
    const char *auth = strstr(canon, "://") + 3;
    size_t len = strcspn(auth, "/") + (size_t)(auth - canon);
    if (len + 1 > outlen) {
        snprintf(err, errlen, "origin too long");
        return -1;
    }
    memcpy(out, canon, len);
    out[len] = '\0';
    return 0;
}

/* The slot of origin o in the set: where it is, or the empty slot it would take. */
static size_t slot_of(const zc_scope *s, const char *o) {
    size_t i = scope_hash(o) & (s->cap - 1);
    while (s->origins[i] && strcmp(s->origins[i], o)) i = (i + 1) & (s->cap - 1);
    return i;
}

static int grow(zc_scope *s) {
    size_t cap = s->cap * 2;
    char **v = calloc(cap, sizeof(*v));
    if (!v) return -1;
    char **old = s->origins;
    size_t oldcap = s->cap;
    s->origins = v;
    s->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i]) s->origins[slot_of(s, old[i])] = old[i];
    free(old);
    return 0;
}

int zc_scope_add_origin(zc_scope *s, const char *url, char *err, size_t errlen) {
    char o[ZC_SCOPE_ORIGIN_MAX];
    if (zc_scope_origin(url, o, sizeof(o), err, errlen) != 0) return -1;
    if (s->origins[slot_of(s, o)]) return 0;
    if ((s->n + 1) * 2 > s->cap && grow(s) != 0) goto oom;
    char *copy = strdup(o);
    if (!copy) goto oom;
    s->origins[slot_of(s, o)] = copy;
    s->n++;
    return 1;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

int zc_scope_add_host(zc_scope *s, const char *pattern, char *err, size_t errlen) {
    const char *h = pattern;
    if (!strncmp(h, "*.", 2)) h += 2;
    size_t len = strlen(h);
    int ok = len > 0 && len < 254 && h[0] != '.' && h[len - 1] != '.';
    for (size_t i = 0; ok && i < len; i++)
        ok = isalnum((unsigned char)h[i]) || h[i] == '-' || h[i] == '.' || h[i] == ':' || h[i] == '[' ||
             h[i] == ']';
    if (!ok) {
        snprintf(err, errlen, "bad host pattern '%.100s' (want example.com or *.example.com)", pattern);
        return -1;
    }
    if (s->nhosts == s->caphosts) {
        size_t cap = s->caphosts ? s->caphosts * 2 : 4;
        char **v = realloc(s->hosts, cap * sizeof(*v));
        if (!v) goto oom;
        s->hosts = v;
        s->caphosts = cap;
    }
    char *copy = strdup(pattern);
    if (!copy) goto oom;
    for (char *c = copy; *c; c++) *c = (char)tolower((unsigned char)*c);
    s->hosts[s->nhosts++] = copy;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

int zc_scope_add_hosts(zc_scope *s, const char *list, char *err, size_t errlen) {
    char item[300];
    while (list && *list) {
        size_t n = strcspn(list, ",");
        if (n >= sizeof(item)) {
            snprintf(err, errlen, "host pattern too long");
            return -1;
        }
        memcpy(item, list, n);
        item[n] = '\0';
        char *b = item, *e = item + n; /* trimmed of spaces */
        while (*b == ' ') b++;
        while (e > b && e[-1] == ' ') *--e = '\0';
        if (*b && zc_scope_add_host(s, b, err, errlen) != 0) return -1;
        list += n;
        if (*list == ',') list++;
    }
    return 0;
}

/* 1 when host (lower case, IPv6 in brackets) matches pattern p. */
static int host_matches(const char *p, const char *host, size_t hlen) {
    if (!strncmp(p, "*.", 2)) {
        size_t plen = strlen(p + 1); /* ".example.com" */
        return hlen > plen && !memcmp(host + hlen - plen, p + 1, plen);
    }
    return strlen(p) == hlen && !memcmp(p, host, hlen);
}

int zc_scope_allows(const zc_scope *s, const char *url) {
    char o[ZC_SCOPE_ORIGIN_MAX], err[64];
    if (zc_scope_origin(url, o, sizeof(o), err, sizeof(err)) != 0) return 0;
    if (s->origins[slot_of(s, o)]) return 1;
    if (s->nhosts == 0) return 0;
    const char *host = strstr(o, "://") + 3;
    size_t hlen = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
    for (size_t i = 0; i < s->nhosts; i++)
        if (host_matches(s->hosts[i], host, hlen)) return 1;
    return 0;
}

size_t zc_scope_norigins(const zc_scope *s) { return s->n; }
size_t zc_scope_nhosts(const zc_scope *s) { return s->nhosts; }
