/* zc_robots.c -- robots.txt (RFC 9309) parsing and matching. */
#include "zc_robots.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zc_hex.h"

#define ROBOTS_DAY_MS     86400000L
#define ROBOTS_PATH_STACK 8192

typedef struct {
    char *pat; /* normalised pattern; '*' is the only wildcard left in it */
    size_t len;
    size_t weight; /* octets of the rule as matched: len, plus 1 for a final '$' */
    int anchored;  /* the rule ended in '$': the path must end where it does */
    int allow;
} robots_rule;

typedef struct {
    robots_rule *v;
    size_t n, cap;
    long delay_ms; /* -1: none */
    int seen;      /* a group for this set exists (an empty one still counts) */
} robots_set;

struct zc_robots {
    robots_rule *rules;
    size_t n;
    long delay_ms;
    int disallow_all;
};

/* ---- percent-encoding normalisation -------------------------------------- */

static int unreserved(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static size_t put_pct(char *out, unsigned char c) {
    static const char hex[] = "0123456789ABCDEF";
    out[0] = '%';
    out[1] = hex[c >> 4];
    out[2] = hex[c & 15];
    return 3;
}

/* Normalises in[0..n) into out (room for 3 * n bytes): an escape of an
 * unreserved character is decoded, other escapes get upper-case hex, a '%' that
 * starts no escape becomes %25, and bytes outside printable ASCII are escaped
 * (RFC 9309 2.2.2). In a pattern '*' stays a wildcard (runs collapse to one);
 * in a path '*' and '$' are escaped, so that a pattern's %2A and %24 match them
 * (2.2.3). Returns the length written. */
static size_t normalise(const char *in, size_t n, char *out, int pattern) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            int h = i + 1 < n ? zc_hexval((unsigned char)in[i + 1]) : -1;
            int l = i + 2 < n ? zc_hexval((unsigned char)in[i + 2]) : -1;
            if (h < 0 || l < 0) {
                o += put_pct(out + o, '%');
                continue;
            }
            unsigned char d = (unsigned char)(h * 16 + l);
            if (unreserved(d)) out[o++] = (char)d;
            else o += put_pct(out + o, d);
            i += 2;
        } else if (c == '*') {
            if (!pattern) o += put_pct(out + o, c);
            else if (o == 0 || out[o - 1] != '*') out[o++] = '*';
        } else if (c == '$' && !pattern) {
            o += put_pct(out + o, c);
        } else if (c <= 0x20 || c >= 0x7F) {
            o += put_pct(out + o, c);
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

/* 1 when pattern p[0..pn) ('*' any run of octets) matches the start of s[0..sn),
 * or all of it when anchored. Linear in pn + sn, whatever the file holds (a
 * hostile robots.txt must not stall the broker): the literal runs between stars
 * are found in turn, each at its leftmost place after the one before (memmem,
 * linear in glibc), which is the right place for a pattern whose only wildcard
 * is '*'; an anchored pattern's last run must end the path. */
static int glob_match(const char *p, size_t pn, int anchored, const char *s, size_t sn) {
    const char *star = memchr(p, '*', pn);
    size_t head = star ? (size_t)(star - p) : pn;
    if (head > sn || memcmp(p, s, head) != 0) return 0;
    if (!star) return !anchored || head == sn;
    size_t si = head, pi = head;
    for (;;) {
        while (pi < pn && p[pi] == '*') pi++;
        const char *next = memchr(p + pi, '*', pn - pi);
        size_t run = next ? (size_t)(next - (p + pi)) : pn - pi;
        if (!next) { /* the last run */
            if (!anchored) return run == 0 || memmem(s + si, sn - si, p + pi, run) != NULL;
            return run <= sn - si && memcmp(s + sn - run, p + pi, run) == 0;
        }
        const char *at = memmem(s + si, sn - si, p + pi, run);
        if (!at) return 0;
        si = (size_t)(at - s) + run;
        pi += run;
    }
}

/* ---- parsing ---------------------------------------------------------------- */

static void set_free(robots_set *s) {
    for (size_t i = 0; i < s->n; i++) free(s->v[i].pat);
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

/* Adds a rule from the value v[0..n) of an Allow/Disallow line. An empty value
 * adds nothing ("Disallow:" allows everything). Returns 0, or -1 out of memory. */
static int set_add(robots_set *s, const char *v, size_t n, int allow) {
    if (n == 0) return 0;
    int anchored = v[n - 1] == '$';
    if (anchored) n--;
    int slash = n == 0 || (v[0] != '/' && v[0] != '*'); /* "Disallow: private/" means /private/ */
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        robots_rule *nv = realloc(s->v, cap * sizeof(*nv));
        if (!nv) return -1;
        s->v = nv;
        s->cap = cap;
    }
    char *pat = malloc(3 * n + 2);
    if (!pat) return -1;
    size_t len = 0;
    if (slash) pat[len++] = '/';
    len += normalise(v, n, pat + len, 1);
    pat[len] = '\0';
    s->v[s->n++] = (robots_rule){ pat, len, len + (size_t)anchored, anchored, allow };
    return 0;
}

/* Crawl-delay value in ms: a non-negative decimal number of seconds (a fraction
 * allowed), at most a day; -1 when it is not one. */
static long parse_delay(const char *v, size_t n) {
    size_t i = 0;
    double secs = 0, scale = 1;
    int digits = 0;
    while (i < n && v[i] >= '0' && v[i] <= '9') {
        if (secs < ROBOTS_DAY_MS) secs = secs * 10 + (v[i] - '0');
        i++;
        digits++;
    }
    if (i < n && v[i] == '.') {
        i++;
        while (i < n && v[i] >= '0' && v[i] <= '9') {
            scale /= 10;
            secs += (v[i] - '0') * scale;
            i++;
            digits++;
        }
    }
    if (!digits || i != n) return -1;
    double ms = secs * 1000.0;
    return ms >= ROBOTS_DAY_MS ? ROBOTS_DAY_MS : (long)ms;
}

/* Length of the product token at the start of s: letters, '_' and '-'. */
static size_t token_len(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_' || s[i] == '-'))
        i++;
    return i;
}

static int key_is(const char *k, size_t kn, const char *name) {
    return strlen(name) == kn && strncasecmp(k, name, kn) == 0;
}

static void trim(const char **s, size_t *n) {
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) (*n)--;
}

zc_robots *zc_robots_parse(const char *body, size_t len, const char *agent) {
    robots_set mine = { NULL, 0, 0, -1, 0 }, star = { NULL, 0, 0, -1, 0 };
    zc_robots *r = NULL;
    const char *me = agent ? agent : "";
    size_t me_len = token_len(me, strlen(me));
    int in_agents = 0, cur_mine = 0, cur_star = 0;

    if (!body) len = 0;
    if (len > ZC_ROBOTS_MAX_BYTES) {
        /* The line cut by the limit is dropped whole. */
        len = ZC_ROBOTS_MAX_BYTES;
        while (len && body[len - 1] != '\n' && body[len - 1] != '\r') len--;
    }
    size_t i = 0;
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) i = 3;
    while (i < len) {
        size_t e = i;
        while (e < len && body[e] != '\n' && body[e] != '\r') e++;
        const char *line = body + i;
        size_t n = e - i;
        i = e + 1;
        const char *hash = memchr(line, '#', n);
        if (hash) n = (size_t)(hash - line);
        const char *colon = memchr(line, ':', n);
        if (!colon) continue;
        const char *k = line, *v = colon + 1;
        size_t kn = (size_t)(colon - line), vn = n - kn - 1;
        trim(&k, &kn);
        trim(&v, &vn);
        if (key_is(k, kn, "user-agent") || key_is(k, kn, "useragent") || key_is(k, kn, "user agent")) {
            if (!in_agents) cur_mine = cur_star = 0; /* a new group starts */
            in_agents = 1;
            size_t tl = token_len(v, vn);
            if (vn >= 1 && v[0] == '*' && (vn == 1 || v[1] == ' ' || v[1] == '\t')) {
                cur_star = 1;
                star.seen = 1;
            } else if (tl && tl == me_len && strncasecmp(v, me, tl) == 0) {
                cur_mine = 1;
                mine.seen = 1;
            }
        } else if (key_is(k, kn, "allow") || key_is(k, kn, "disallow")) {
            in_agents = 0;
            int allow = key_is(k, kn, "allow");
            if (cur_mine && set_add(&mine, v, vn, allow) != 0) goto oom;
            if (cur_star && set_add(&star, v, vn, allow) != 0) goto oom;
        } else if (key_is(k, kn, "crawl-delay")) {
            in_agents = 0;
            long d = parse_delay(v, vn);
            if (d >= 0 && cur_mine && d > mine.delay_ms) mine.delay_ms = d;
            if (d >= 0 && cur_star && d > star.delay_ms) star.delay_ms = d;
        }
        /* Any other record (Sitemap, Host, typos) neither starts nor ends a group. */
    }
    r = calloc(1, sizeof(*r));
    if (!r) goto oom;
    robots_set *use = mine.seen ? &mine : &star;
    robots_set *drop = mine.seen ? &star : &mine;
    r->rules = use->v;
    r->n = use->n;
    r->delay_ms = use->seen ? use->delay_ms : -1;
    use->v = NULL;
    use->n = 0;
    set_free(drop);
    return r;
oom:
    set_free(&mine);
    set_free(&star);
    free(r);
    return NULL;
}

zc_robots *zc_robots_for_status(long status, const char *body, size_t len, const char *agent) {
    if (status >= 200 && status <= 299) return zc_robots_parse(body, len, agent);
    zc_robots *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->delay_ms = -1;
    r->disallow_all = !((status >= 300 && status <= 499) && status != 429);
    return r;
}

/* ---- questions ------------------------------------------------------------- */

int zc_robots_allowed(const zc_robots *r, const char *path) {
    if (!r) return 0;
    if (!path) path = "";
    size_t n = strcspn(path, "#");
    char stack[ROBOTS_PATH_STACK];
    char *buf = stack;
    if (n > (sizeof(stack) - 2) / 3) {
        buf = malloc(3 * n + 2);
        if (!buf) return 0;
    }
    size_t len = 0;
    if (n == 0 || path[0] != '/') buf[len++] = '/';
    len += normalise(path, n, buf + len, 0);
    int allowed = 1;
    if (len == 11 && memcmp(buf, "/robots.txt", 11) == 0) {
        allowed = 1; /* 2.2.2: implicitly allowed */
    } else if (r->disallow_all) {
        allowed = 0;
    } else {
        /* The most octets win; at equal length an Allow wins (2.2.2). */
        size_t best = 0;
        int found = 0;
        for (size_t i = 0; i < r->n; i++) {
            const robots_rule *ru = &r->rules[i];
            if (found && (ru->weight < best || (ru->weight == best && (!ru->allow || allowed)))) continue;
            if (!glob_match(ru->pat, ru->len, ru->anchored, buf, len)) continue;
            best = ru->weight;
            allowed = ru->allow;
            found = 1;
        }
    }
    if (buf != stack) free(buf);
    return allowed;
}

long zc_robots_crawl_delay_ms(const zc_robots *r) { return r ? r->delay_ms : -1; }

void zc_robots_free(zc_robots *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) free(r->rules[i].pat);
    free(r->rules);
    free(r);
}
