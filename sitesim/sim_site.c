/* sim_site.c -- the emulated site: routing, faults, latency, admin pages and stats. */
#include "sim_site.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim_apis.h"
#include "sim_v2.h"
#include "zc_hash.h"
#include "zc_hex.h"
#include "zc_time.h"

#define DEFAULT_LIMIT    18
#define PATH_MAX_DECODED 2048
#define JSON_NOT_FOUND   "{\"detail\": \"Not found.\"}"

/* ---- replies ---- */

sim_reply *sim_reply_new(void) {
    sim_reply *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    sim_timer_init(&r->timer);
    sim_buf_init(&r->out);
    r->vhost = -1;
    return r;
}

void sim_reply_clear(sim_reply *r) {
    sim_buf keep = r->out;
    memset(r, 0, sizeof *r);
    sim_timer_init(&r->timer);
    r->out = keep;
    r->vhost = -1;
    sim_buf_reset(&r->out);
}

void sim_reply_free(sim_reply *r) {
    if (r == NULL)
        return;
    sim_buf_free(&r->out);
    free(r);
}

/* ---- the set of normalized paths already answered ---- */

static uint64_t seen_hash(const char *s) {
    return zc_fnv1a(s, strlen(s));
}

static void seen_clear(sim_seen *t) {
    for (size_t i = 0; i < t->cap; i++)
        free(t->keys[i]);
    free(t->keys);
    free(t->vals);
    memset(t, 0, sizeof *t);
}

static int seen_grow(sim_seen *t) {
    size_t cap = t->cap ? t->cap * 2 : 1024;
    char **keys = calloc(cap, sizeof *keys);
    unsigned char *vals = calloc(cap, 1);
    if (keys == NULL || vals == NULL) {
        free(keys);
        free(vals);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (t->keys[i] == NULL)
            continue;
        size_t j = seen_hash(t->keys[i]) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = t->keys[i];
        vals[j] = t->vals[i];
    }
    free(t->keys);
    free(t->vals);
    t->keys = keys;
    t->vals = vals;
    t->cap = cap;
    return 0;
}

/* Returns 1 when key was there already, 0 after adding it, -1 when out of memory. */
static int seen_add(sim_seen *t, const char *key, unsigned char val) {
    if ((t->n + 1) * 2 > t->cap && seen_grow(t) != 0)
        return -1;
    size_t j = seen_hash(key) & (t->cap - 1);
    while (t->keys[j]) {
        if (strcmp(t->keys[j], key) == 0)
            return 1;
        j = (j + 1) & (t->cap - 1);
    }
    char *k = strdup(key);
    if (k == NULL)
        return -1;
    t->keys[j] = k;
    t->vals[j] = val;
    t->n++;
    return 0;
}

/* ---- site ---- */

int sim_site_init(sim_site *s, const sim_catalog *cat, const sim_site_cfg *cfg, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->cat = cat;
    sim_rng_seed(&s->rng, sim_hash2(seed, 0x6661756c7473ULL));
    sim_buf_init(&s->body);
    s->started_ms = zc_now_ms();
    if (cfg->hosts > 0) {
        s->vhosts = calloc((size_t)cfg->hosts, sizeof *s->vhosts);
        if (s->vhosts == NULL)
            return -1;
    }
    return 0;
}

void sim_site_free(sim_site *s) {
    sim_buf_free(&s->body);
    seen_clear(&s->seen);
    for (long i = 0; s->vhosts && i < s->cfg.hosts; i++) {
        if (s->vhosts[i].cat) {
            sim_catalog_free(s->vhosts[i].cat);
            free(s->vhosts[i].cat);
        }
    }
    free(s->vhosts);
    s->vhosts = NULL;
}

long sim_site_vhost_index(const char *host, size_t len, long n) {
    static const char sfx[] = ".localhost";
    size_t i = 0;
    if (host == NULL || len < 2 || (host[0] != 'h' && host[0] != 'H'))
        return -1;
    size_t end = len;
    for (size_t k = 0; k < len; k++)
        if (host[k] == ':') {
            end = k;
            break;
        }
    long v = 0;
    for (i = 1; i < end && host[i] >= '0' && host[i] <= '9'; i++) {
        if (i > 10)
            return -1;
        v = v * 10 + (host[i] - '0');
    }
    if (i == 1 || (host[1] == '0' && i > 2))
        return -1; /* no digits, or a leading zero */
    if (end - i != sizeof sfx - 1 || strncasecmp(host + i, sfx, sizeof sfx - 1) != 0)
        return -1;
    return v < n ? v : -1;
}

/* The catalogue of virtual host i, made on first use. Returns NULL when out of memory. */
static const sim_catalog *vhost_catalog(sim_site *s, long i) {
    sim_vhost *v = &s->vhosts[i];
    if (v->cat)
        return v->cat;
    char err[128];
    sim_catalog *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    if (sim_catalog_init(c, s->cfg.seed + (uint64_t)i, s->cfg.books, s->cfg.malformed_rate,
                         err, sizeof err) != 0) {
        free(c);
        return NULL;
    }
    v->cat = c;
    return c;
}

static const char *reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    default: return "Unknown";
    }
}

/* Writes status line, headers and (unless head_only) s->body into r->out. */
static void emit(sim_site *s, sim_reply *r, int status, const char *extra, int head_only,
                 int keep_alive, int http10) {
    sim_buf *o = &r->out;
    sim_buf_addf(o, "HTTP/1.1 %d %s\r\nServer: zcrawl-sitesim\r\n"
                    "Content-Type: application/json; charset=utf-8\r\nContent-Length: %zu\r\n",
                 status, reason(status), s->body.len);
    if (extra)
        sim_buf_adds(o, extra);
    if (!keep_alive)
        sim_buf_adds(o, "Connection: close\r\n");
    else if (http10)
        sim_buf_adds(o, "Connection: keep-alive\r\n");
    sim_buf_adds(o, "\r\n");
    r->head_len = o->len;
    if (!head_only)
        sim_buf_add(o, s->body.p, s->body.len);
    r->stop = o->len;
    r->status = status;
    r->close_after = !keep_alive;
}

static void count_status(sim_site *s, int status) {
    switch (status) {
    case 200: s->st.status_200++; break;
    case 400: s->st.status_400++; break;
    case 404: s->st.status_404++; break;
    case 405: s->st.status_405++; break;
    case 429:
    case 500: break; /* counted as faults */
    default: s->st.status_other++; break;
    }
}

/* Percent-decodes s[0..n) into out (NUL-terminated); plus_space turns '+' into ' '.
 * Returns the length, -1 on a bad escape or an encoded NUL, -2 when it does not fit. */
static long pct_decode(const char *s, size_t n, char *out, size_t cap, int plus_space) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = zc_hexval((unsigned char)s[i + 1]), lo = zc_hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            if (c == 0)
                return -1;
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (o + 1 >= cap)
            return -2;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (long)o;
}

/* Reads limit and offset from a list query. Returns NULL, or the reason it is bad. */
static const char *parse_list_query(const char *q, size_t n, long max_limit, long *limit,
                                    long *offset) {
    *limit = DEFAULT_LIMIT;
    *offset = 0;
    size_t i = 0, kn;
    const char *kv;
    while (sim_http_query_next(q, n, &i, &kv, &kn)) {
        size_t eq = 0;
        while (eq < kn && kv[eq] != '=')
            eq++;
        char key[16], val[32];
        if (pct_decode(kv, eq, key, sizeof key, 1) < 0)
            continue; /* not a key this page reads */
        int is_limit = strcmp(key, "limit") == 0, is_offset = strcmp(key, "offset") == 0;
        if (!is_limit && !is_offset)
            continue;
        size_t vs = eq < kn ? eq + 1 : kn;
        long vn = pct_decode(kv + vs, kn - vs, val, sizeof val, 1), v = -1;
        if (vn >= 0)
            v = sim_http_count(val, (size_t)vn);
        if (is_limit) {
            if (v <= 0)
                return "Invalid limit: expected a positive integer.";
            *limit = v > max_limit ? max_limit : v;
        } else {
            if (v < 0)
                return "Invalid offset: expected a non-negative integer.";
            *offset = v;
        }
    }
    return NULL;
}

static int host_ok(const char *h, size_t n) {
    if (h == NULL || n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
            return 0;
    }
    return 1;
}

static void body_detail(sim_site *s, const char *msg) {
    sim_buf_adds(&s->body, "{\"detail\": ");
    sim_buf_add_jstrs(&s->body, msg);
    sim_buf_addc(&s->body, '}');
}

/* "http://", the request's host (the default host when its Host header is
 * unusable), then path, into out. Returns 0, or -1 when it does not fit. */
static int page_url(const sim_site *s, const sim_request *req, const char *path, char *out, size_t cap) {
    int n = host_ok(req->host, req->host_len)
                ? snprintf(out, cap, "http://%.*s%s", (int)req->host_len, req->host, path)
                : snprintf(out, cap, "http://%s%s", s->cfg.default_host, path);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* The body of a detail page of either API: book i of cat (-1: none) drawn by
 * render, a missing book's 404 or a malformed book's broken JSON. A clean answer
 * is tracked for duplicates under prefix and the id. Returns the status. */
static int detail_page(sim_site *s, const sim_catalog *cat, long i,
                       sim_catalog_render_fn render, const char *prefix,
                       const char *id, size_t idlen, sim_reply *r) {
    int status = 404;
    if (i < 0 || sim_catalog_is_missing(cat, i)) {
        sim_buf_adds(&s->body, JSON_NOT_FOUND);
    } else {
        status = 200;
        if (sim_catalog_is_malformed(cat, i)) {
            s->st.fmalformed++;
            sim_catalog_render_malformed(cat, i, &s->body);
        } else {
            render(cat, i, &s->body);
        }
    }
    if (idlen + strlen(prefix) + 1 <= SIM_KEY_MAX && (status == 404 || !sim_catalog_is_malformed(cat, i))) {
        r->track = 1;
        snprintf(r->key, sizeof r->key, "%s%.*s", prefix, (int)idlen, id);
    }
    return status;
}

static void render_stats(sim_site *s) {
    const sim_stats *t = &s->st;
    sim_buf *b = &s->body;
    sim_buf_addf(b,
                 "{\"requests\": %llu, \"by_kind\": {\"list\": %llu, \"detail\": %llu, \"other\": %llu}, "
                 "\"duplicates\": %llu, \"in_progress\": %lld, \"max_in_progress\": %lld, "
                 "\"faults\": {\"500\": %llu, \"429\": %llu, \"drop\": %llu, \"truncate\": %llu, "
                 "\"slow\": %llu, \"malformed\": %llu}, "
                 "\"list_pages_served\": %llu, \"detail_pages_served\": %llu, "
                 "\"by_status\": {\"200\": %llu, \"400\": %llu, \"404\": %llu, \"405\": %llu, "
                 "\"429\": %llu, \"500\": %llu, \"other\": %llu}, "
                 "\"bytes_sent\": %llu, \"connections\": %lld, \"connections_total\": %llu, "
                 "\"books\": %ld, \"missing\": %ld, \"malformed\": %ld, \"seed\": %llu, \"uptime_ms\": %lld}",
                 (unsigned long long)t->requests, (unsigned long long)t->list,
                 (unsigned long long)t->detail, (unsigned long long)t->other,
                 (unsigned long long)t->duplicates, (long long)s->in_progress,
                 (long long)t->max_in_progress, (unsigned long long)t->f500,
                 (unsigned long long)t->f429, (unsigned long long)t->fdrop,
                 (unsigned long long)t->ftruncate, (unsigned long long)t->fslow,
                 (unsigned long long)t->fmalformed, (unsigned long long)t->list_pages_served,
                 (unsigned long long)t->detail_pages_served, (unsigned long long)t->status_200,
                 (unsigned long long)t->status_400, (unsigned long long)t->status_404,
                 (unsigned long long)t->status_405, (unsigned long long)t->f429,
                 (unsigned long long)t->f500, (unsigned long long)t->status_other,
                 (unsigned long long)t->bytes_sent, (long long)s->connections,
                 (unsigned long long)s->connections_total, s->cat->nbooks, s->cat->nmissing,
                 s->cat->nmalformed, (unsigned long long)s->cat->seed,
                 (long long)(zc_now_ms() - s->started_ms));
    if (s->vhosts == NULL)
        return;
    /* Virtual hosts: the largest per-host concurrency seen, then each host. */
    int64_t worst = 0;
    for (long i = 0; i < s->cfg.hosts; i++)
        if (s->vhosts[i].max_in_progress > worst)
            worst = s->vhosts[i].max_in_progress;
    b->len--; /* reopen the object */
    sim_buf_addf(b, ", \"hosts\": %ld, \"max_host_in_progress\": %lld, \"by_host\": [",
                 s->cfg.hosts, (long long)worst);
    for (long i = 0; i < s->cfg.hosts; i++) {
        const sim_vhost *v = &s->vhosts[i];
        sim_buf_addf(b, "%s{\"requests\": %llu, \"in_progress\": %lld, \"max_in_progress\": %lld, "
                        "\"duplicates\": %llu}",
                     i ? ", " : "",
                     (unsigned long long)v->requests, (long long)v->in_progress,
                     (long long)v->max_in_progress, (unsigned long long)v->duplicates);
    }
    sim_buf_adds(b, "]}");
}

static void reset_stats(sim_site *s) {
    memset(&s->st, 0, sizeof s->st);
    s->st.max_in_progress = s->in_progress;
    seen_clear(&s->seen);
    for (long i = 0; s->vhosts && i < s->cfg.hosts; i++) {
        sim_vhost *v = &s->vhosts[i];
        v->requests = v->duplicates = 0;
        v->max_in_progress = v->in_progress;
    }
}

/* Admin pages: never delayed, never faulted, never counted. */
static int handle_admin(sim_site *s, const sim_request *req, const char *path, int keep_alive,
                        sim_reply *r, const sim_catalog *cat) {
    int get = req->method == SIM_M_GET || req->method == SIM_M_HEAD;
    int status = 200;
    const char *allow = NULL;
    r->kind = SIM_KIND_ADMIN;
    if (strcmp(path, "/__stats") == 0) {
        if (get)
            render_stats(s);
        else
            allow = "Allow: GET, HEAD\r\n";
    } else if (strcmp(path, "/__ids") == 0) {
        if (get)
            sim_catalog_render_ids(cat, &s->body);
        else
            allow = "Allow: GET, HEAD\r\n";
    } else if (strcmp(path, "/__reset") == 0) {
        if (get || req->method == SIM_M_POST) {
            reset_stats(s);
            sim_buf_adds(&s->body, "{\"reset\": true}");
        } else {
            allow = "Allow: GET, HEAD, POST\r\n";
        }
    } else {
        status = 404;
        sim_buf_adds(&s->body, JSON_NOT_FOUND);
    }
    if (allow) {
        status = 405;
        sim_buf_reset(&s->body);
        body_detail(s, "Method not allowed.");
    }
    emit(s, r, status, allow, req->method == SIM_M_HEAD, keep_alive, req->minor == 0);
    return s->body.oom || r->out.oom ? -1 : 0;
}

static void start_counted(sim_site *s, sim_reply *r, sim_kind kind) {
    if (r->vhost >= 0) {
        sim_vhost *v = &s->vhosts[r->vhost];
        v->requests++;
        if (++v->in_progress > v->max_in_progress)
            v->max_in_progress = v->in_progress;
    }
    r->counted = 1;
    r->kind = kind;
    s->st.requests++;
    if (kind == SIM_KIND_LIST)
        s->st.list++;
    else if (kind == SIM_KIND_DETAIL)
        s->st.detail++;
    else
        s->st.other++;
    s->in_progress++;
    if (s->in_progress > s->st.max_in_progress)
        s->st.max_in_progress = s->in_progress;
}

/* Classifies a path under a collection prefix: prefix[/] is the list, prefix/{id}[/]
 * a detail page (its id in *id); anything else is another kind. */
static sim_kind classify_under(const char *path, const char *pfx, const char **id, size_t *idlen) {
    size_t n = strlen(path), p = strlen(pfx);
    if (n < p || memcmp(path, pfx, p) != 0)
        return SIM_KIND_OTHER;
    if (n == p || (n == p + 1 && path[p] == '/'))
        return SIM_KIND_LIST;
    if (path[p] != '/')
        return SIM_KIND_OTHER;
    const char *x = path + p + 1;
    size_t xn = n - p - 1;
    if (x[xn - 1] == '/')
        xn--;
    if (xn == 0 || memchr(x, '/', xn) != NULL)
        return SIM_KIND_OTHER;
    *id = x;
    *idlen = xn;
    return SIM_KIND_DETAIL;
}

/* The book API: /api/book[/] and /api/book/{id}[/]. */
static sim_kind classify(const char *path, const char **id, size_t *idlen) {
    return classify_under(path, "/api/book", id, idlen);
}

/* The second API (sim_v2.h): /api/v2/records[/] and /api/v2/records/{key}[/]. */
static sim_kind classify_v2(const char *path, const char **key, size_t *keylen) {
    return classify_under(path, "/api/v2/records", key, keylen);
}

int sim_site_handle(sim_site *s, const sim_request *req, int keep_alive, sim_reply *r) {
    sim_reply_clear(r);
    sim_buf_reset(&s->body);
    r->vhost = -1;
    int head_only = req->method == SIM_M_HEAD, http10 = req->minor == 0;
    const sim_catalog *cat = s->cat;
    long vh = -1;
    if (s->vhosts) {
        /* Virtual hosts: the Host header picks the catalogue; one that names none
         * has no catalogue (404 on /api/, the main one on admin pages). */
        vh = sim_site_vhost_index(req->host, req->host_len, s->cfg.hosts);
        cat = vh >= 0 ? vhost_catalog(s, vh) : NULL;
        if (vh >= 0 && cat == NULL)
            return -1;
    }
    char path[PATH_MAX_DECODED];
    long plen = pct_decode(req->path, req->path_len, path, sizeof path, 0);

    if (plen == -1) {
        start_counted(s, r, SIM_KIND_OTHER);
        body_detail(s, "Bad request: bad percent-escape in path.");
        emit(s, r, 400, NULL, head_only, keep_alive, http10);
        count_status(s, 400);
        return s->body.oom || r->out.oom ? -1 : 0;
    }
    if (plen == -2)
        snprintf(path, sizeof path, "/too-long"); /* a 404 either way */
    else if (plen >= 3 && memcmp(path, "/__", 3) == 0)
        return handle_admin(s, req, path, keep_alive, r, cat ? cat : s->cat);
    r->vhost = (int)vh;

    if (cat && sim_apis_match(path) && (req->method == SIM_M_GET || req->method == SIM_M_HEAD)) {
        /* GitHub, Stripe and Hacker News as they answer (sim_apis.h) */
        char origin[400], extra[1200];
        start_counted(s, r, SIM_KIND_OTHER);
        if (page_url(s, req, "", origin, sizeof origin) != 0)
            return -1;
        int status = sim_apis_answer(cat, path, req->query, req->query ? req->query_len : 0, req->auth, req->auth_len,
                                     s->cfg.api_token, origin, &s->body, extra, sizeof extra);
        emit(s, r, status, extra[0] ? extra : NULL, head_only, keep_alive, http10);
        count_status(s, status);
        return s->body.oom || r->out.oom ? -1 : 0;
    }
    const char *id = NULL;
    size_t idlen = 0;
    int api = strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0;
    int v2 = api && strncmp(path, "/api/v2/", 8) == 0;
    sim_kind kind = !api ? SIM_KIND_OTHER : v2 ? classify_v2(path, &id, &idlen)
                                               : classify(path, &id, &idlen);
    if (s->vhosts && cat == NULL) {
        api = 0; /* no such virtual host: a plain 404 */
        v2 = 0;
        kind = SIM_KIND_OTHER;
    }
    start_counted(s, r, kind);
    long latency = s->cfg.latency_ms;
    if (vh >= 0 && s->cfg.slow && s->cfg.slow[vh])
        latency = s->cfg.slow_latency_ms;

    if (api && (latency > 0 || s->cfg.jitter_ms > 0)) {
        long d = latency;
        if (s->cfg.jitter_ms > 0)
            d += sim_rng_range(&s->rng, -s->cfg.jitter_ms, s->cfg.jitter_ms);
        r->delay_ms = d > 0 ? d : 0;
    }

    sim_send send = SIM_SEND_FULL;
    if (api) {
        const sim_site_cfg *c = &s->cfg;
        double u = sim_rng_unit(&s->rng), t = c->fail_drop;
        if (u < t) {
            s->st.fdrop++;
            r->send = SIM_SEND_DROP;
            r->close_after = 1;
            return 0;
        }
        if (u < (t += c->fail_500)) {
            s->st.f500++;
            body_detail(s, "A server error occurred.");
            emit(s, r, 500, NULL, head_only, keep_alive, http10);
            return s->body.oom || r->out.oom ? -1 : 0;
        }
        if (u < (t += c->fail_429)) {
            char extra[64];
            int n = snprintf(extra, sizeof extra, "Retry-After: %ld\r\n", c->retry_after);
            if (n < 0 || (size_t)n >= sizeof extra)
                return -1;
            s->st.f429++;
            sim_buf_addf(&s->body, "{\"detail\": \"Request was throttled. Expected available in %ld second%s.\"}",
                         c->retry_after, c->retry_after == 1 ? "" : "s");
            emit(s, r, 429, extra, head_only, keep_alive, http10);
            return s->body.oom || r->out.oom ? -1 : 0;
        }
        if (u < (t += c->fail_truncate))
            send = SIM_SEND_TRUNCATE;
        else if (u < t + c->fail_slow)
            send = SIM_SEND_SLOW;
    }

    int status = 404;
    const char *allow = NULL;
    if (req->method != SIM_M_GET && req->method != SIM_M_HEAD) {
        status = 405;
        allow = "Allow: GET, HEAD\r\n";
        body_detail(s, "Method not allowed.");
    } else if (v2 && kind == SIM_KIND_LIST) {
        long size, offset;
        const char *why = sim_v2_parse_query(req->query, req->query_len, &offset, &size);
        if (why) {
            status = 400;
            body_detail(s, why);
        } else {
            char origin[400];
            if (page_url(s, req, "", origin, sizeof origin) != 0)
                return -1;
            status = 200;
            sim_v2_render_list(cat, offset, size, origin, &s->body);
            r->track = 1;
            snprintf(r->key, sizeof r->key, "v2l:%ld:%ld", size, offset);
        }
    } else if (v2 && kind == SIM_KIND_DETAIL) {
        status = detail_page(s, cat, sim_v2_find(cat, id, idlen), sim_v2_render_record, "v2d:",
                             id, idlen, r);
    } else if (kind == SIM_KIND_LIST) {
        long limit, offset;
        const char *why = parse_list_query(req->query, req->query_len, s->cfg.max_limit,
                                           &limit, &offset);
        if (why) {
            status = 400;
            body_detail(s, why);
        } else {
            char base[400];
            if (page_url(s, req, path, base, sizeof base) != 0)
                return -1;
            status = 200;
            sim_catalog_render_list(cat, limit, offset, base, &s->body);
            r->track = 1;
            snprintf(r->key, sizeof r->key, "l:%ld:%ld", limit, offset);
        }
    } else if (kind == SIM_KIND_DETAIL) {
        status = detail_page(s, cat, sim_catalog_find(cat, id, idlen), sim_catalog_render_detail, "d:",
                             id, idlen, r);
    } else {
        sim_buf_adds(&s->body, JSON_NOT_FOUND);
    }
    if (r->track && vh >= 0) {
        /* Duplicates are per host: the same path on two hosts is two pages. */
        char k[SIM_KEY_MAX];
        int n = snprintf(k, sizeof k, "h%ld/%s", vh, r->key);
        if (n < 0 || (size_t)n >= sizeof k)
            r->track = 0;
        else
            memcpy(r->key, k, (size_t)n + 1);
    }
    emit(s, r, status, allow, head_only, keep_alive, http10);
    count_status(s, status);
    if (s->body.oom || r->out.oom)
        return -1;

    if (send == SIM_SEND_TRUNCATE && !head_only && s->body.len >= 2) {
        s->st.ftruncate++;
        r->send = SIM_SEND_TRUNCATE;
        r->stop = r->head_len + s->body.len / 2;
        r->close_after = 1;
        r->track = 0;
    } else if (send == SIM_SEND_SLOW && !head_only) {
        s->st.fslow++;
        r->send = SIM_SEND_SLOW;
    }
    return 0;
}

int sim_site_bad_request(sim_site *s, const char *why, sim_reply *r) {
    sim_reply_clear(r);
    sim_buf_reset(&s->body);
    start_counted(s, r, SIM_KIND_OTHER);
    char msg[160];
    int n = snprintf(msg, sizeof msg, "Bad request: %s.", why);
    if (n < 0)
        return -1;
    body_detail(s, msg);
    emit(s, r, 400, NULL, 0, 0, 0);
    count_status(s, 400);
    return s->body.oom || r->out.oom ? -1 : 0;
}

void sim_site_finish(sim_site *s, sim_reply *r, int delivered) {
    if (!r->counted)
        return;
    r->counted = 0;
    s->in_progress--;
    if (r->vhost >= 0)
        s->vhosts[r->vhost].in_progress--;
    s->st.bytes_sent += r->sent;
    if (!delivered || !r->track)
        return;
    int had = seen_add(&s->seen, r->key, (unsigned char)(r->status == 200 ? 200 : 4));
    if (had == 1) {
        s->st.duplicates++;
        if (r->vhost >= 0)
            s->vhosts[r->vhost].duplicates++;
    } else if (had == 0 && r->status == 200) {
        if (r->kind == SIM_KIND_LIST)
            s->st.list_pages_served++;
        else
            s->st.detail_pages_served++;
    }
}
