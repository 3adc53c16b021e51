/* parse_book.c -- turns the book site's JSON pages into URL lists and BSON documents. */
#include "parse_book.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "zc_json.h"
#include "zc_utf8.h"

#define URL_ORIGIN_MAX 1024   /* longest scheme://host[:port] we build URLs from */

static size_t parse_body_cap = PARSE_DEFAULT_MAX_BODY;

void parse_set_max_body(size_t n) {
    if (n > 0) parse_body_cap = n;
}

size_t parse_max_body(void) {
    return parse_body_cap;
}

/* ---------- URL list buffer ---------- */

void parse_urls_init(parse_urls *u) {
    memset(u, 0, sizeof(*u));
}

void parse_urls_reset(parse_urls *u) {
    char *buf = u->buf;
    size_t cap = u->cap;
    memset(u, 0, sizeof(*u));
    u->buf = buf;
    u->cap = cap;
    if (buf) buf[0] = '\0';
}

void parse_urls_free(parse_urls *u) {
    free(u->buf);
    memset(u, 0, sizeof(*u));
}

/* Appends one URL (with a '\n' before it unless it is the first). Returns 0, or -1
 * when memory runs out. */
static int urls_add(parse_urls *u, const char *s, size_t len) {
    size_t need = u->len + (u->n ? 1 : 0) + len + 1;
    if (need > u->cap) {
        size_t cap = u->cap ? u->cap : 1024;
        while (cap < need) cap *= 2;
        char *nb = realloc(u->buf, cap);
        if (!nb) return -1;
        u->buf = nb;
        u->cap = cap;
    }
    if (u->n) u->buf[u->len++] = '\n';
    memcpy(u->buf + u->len, s, len);
    u->len += len;
    u->buf[u->len] = '\0';
    u->n++;
    return 0;
}

/* ---------- URLs ---------- */

typedef struct url_parts {
    const char *origin;  /* scheme://authority */
    size_t origin_len;
    const char *path;    /* from the first '/' after the authority, up to ? or # */
    size_t path_len;
    const char *query;   /* after '?', up to '#' */
    size_t query_len;
} url_parts;

/* Splits an absolute http(s) URL. Returns 0, or -1 when url is not one or its
 * origin holds control characters or spaces (they would corrupt a URL list). */
static int url_split(const char *url, url_parts *p) {
    size_t sl;
    if (!url) return -1;
    if (strncasecmp(url, "http://", 7) == 0) sl = 7;
    else if (strncasecmp(url, "https://", 8) == 0) sl = 8;
    else return -1;
    const char *a = url + sl;
    size_t alen = strcspn(a, "/?#");
    if (alen == 0 || sl + alen > URL_ORIGIN_MAX) return -1;
    for (size_t i = 0; i < alen; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c <= 0x20 || c >= 0x7f) return -1;
    }
    p->origin = url;
    p->origin_len = sl + alen;
    p->path = a + alen;
    p->path_len = strcspn(p->path, "?#");
    if (p->path[p->path_len] == '?') {
        p->query = p->path + p->path_len + 1;
        p->query_len = strcspn(p->query, "#");
    } else {
        p->query = p->path + p->path_len;
        p->query_len = 0;
    }
    return 0;
}

/* The kind of a split URL; for a detail URL also where its id is. */
static int url_kind(const url_parts *p, const char **id, size_t *idlen) {
    static const char pre[] = "/api/book";
    const size_t plen = sizeof(pre) - 1;
    if (p->path_len < plen || memcmp(p->path, pre, plen) != 0) return PARSE_KIND_UNKNOWN;
    const char *r = p->path + plen;
    size_t rlen = p->path_len - plen;
    if (rlen == 0) return p->query_len > 0 ? PARSE_KIND_LIST : PARSE_KIND_UNKNOWN;
    if (r[0] != '/') return PARSE_KIND_UNKNOWN;
    r++;
    rlen--;
    if (rlen == 0) return PARSE_KIND_LIST;
    size_t d = 0;
    while (d < rlen && r[d] >= '0' && r[d] <= '9') d++;
    if (d == 0 || !(d == rlen || (d + 1 == rlen && r[d] == '/'))) return PARSE_KIND_UNKNOWN;
    if (id) *id = r;
    if (idlen) *idlen = d;
    return PARSE_KIND_DETAIL;
}

int parse_page_kind(const char *url) {
    url_parts p;
    if (url_split(url, &p) != 0) return PARSE_KIND_UNKNOWN;
    return url_kind(&p, NULL, NULL);
}

int parse_url_book_id(const char *url, char *id, size_t idlen) {
    url_parts p;
    const char *s;
    size_t n;
    if (url_split(url, &p) != 0 || url_kind(&p, &s, &n) != PARSE_KIND_DETAIL) return -1;
    if (n + 1 > idlen || n > PARSE_ID_MAX) return -1;
    memcpy(id, s, n);
    id[n] = '\0';
    return 0;
}

/* Looks up query parameter key. Returns 1 with its value as a decimal in *v, 0 when
 * it is absent, -1 when present but not a plain decimal (at most 12 digits). */
static int query_num(const url_parts *p, const char *key, uint64_t *v) {
    size_t klen = strlen(key);
    const char *q = p->query, *end = p->query + p->query_len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *pe = amp ? amp : end;
        if ((size_t)(pe - q) > klen && memcmp(q, key, klen) == 0 && q[klen] == '=') {
            const char *s = q + klen + 1;
            size_t n = (size_t)(pe - s);
            if (n == 0 || n > 12) return -1;
            uint64_t x = 0;
            for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9') return -1;
                x = x * 10 + (uint64_t)(s[i] - '0');
            }
            *v = x;
            return 1;
        }
        q = pe + 1;
    }
    return 0;
}

/* ---------- text ---------- */

/* Length of the whitespace character at s[0..len), or 0 when there is none. */
static size_t ws_len(const unsigned char *s, size_t len) {
    if (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')) return 1;
    if (len >= 2 && s[0] == 0xC2 && s[1] == 0xA0) return 2;                   /* U+00A0 */
    if (len >= 3 && s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) return 3;   /* U+3000 */
    return 0;
}

size_t parse_collapse_ws(const char *str, size_t len, char *out) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, o = 0;
    int pending_space = 0;
    while (i < len) {
        size_t w = ws_len(s + i, len - i);
        if (w) {
            pending_space = o > 0;
            i += w;
            continue;
        }
        if (pending_space) {
            out[o++] = ' ';
            pending_space = 0;
        }
        out[o++] = (char)s[i++];
    }
    out[o] = '\0';
    return o;
}

/* Points *b / *e at s without surrounding ASCII whitespace. */
static void trim(const char *s, const char **b, const char **e) {
    const char *x = s, *y = s + strlen(s);
    while (x < y && (*x == ' ' || (*x >= '\t' && *x <= '\r'))) x++;
    while (y > x && (y[-1] == ' ' || (y[-1] >= '\t' && y[-1] <= '\r'))) y--;
    *b = x;
    *e = y;
}

int parse_decimal(const char *s, double *out) {
    const char *b, *e;
    char buf[64];
    trim(s, &b, &e);
    size_t n = (size_t)(e - b);
    if (n == 0 || n >= sizeof(buf)) return -1;
    int digits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (c >= '0' && c <= '9') digits = 1;
        else if (c != '.' && c != '+' && c != '-' && c != 'e' && c != 'E') return -1;
    }
    if (!digits) return -1;
    memcpy(buf, b, n);
    buf[n] = '\0';
    char *end;
    double v = strtod(buf, &end);
    if (end != buf + n || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int parse_int_str(const char *s, int64_t *out) {
    const char *b, *e;
    trim(s, &b, &e);
    int neg = 0;
    if (b < e && (*b == '-' || *b == '+')) neg = *b++ == '-';
    size_t n = (size_t)(e - b);
    if (n == 0 || n > 18) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i] < '0' || b[i] > '9') return -1;
        v = v * 10 + (b[i] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* ---------- dates ---------- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Reads exactly n digits at *p into *v and advances *p. Returns 0 or -1. */
static int digits_n(const char **p, int n, int *v) {
    int x = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return -1;
        x = x * 10 + (c - '0');
    }
    *p += n;
    *v = x;
    return 0;
}

int parse_iso8601_ms(const char *str, int64_t *ms) {
    static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    const char *s, *e;
    char buf[64];
    trim(str, &s, &e);
    size_t n = (size_t)(e - s);
    if (n == 0 || n >= sizeof(buf)) return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    const char *p = buf;
    int y, mo, d, h = 0, mi = 0, sec = 0, msec = 0, off = 0;
    if (digits_n(&p, 4, &y) || *p++ != '-' || digits_n(&p, 2, &mo) || *p++ != '-' ||
        digits_n(&p, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]) return -1;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return -1;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (digits_n(&p, 2, &h) || *p++ != ':' || digits_n(&p, 2, &mi)) return -1;
        if (*p == ':') {
            p++;
            if (digits_n(&p, 2, &sec)) return -1;
            if (*p == '.' || *p == ',') {
                p++;
                int nd = 0;
                while (*p >= '0' && *p <= '9') {
                    if (nd < 3) msec = msec * 10 + (*p - '0');
                    nd++;
                    p++;
                }
                if (nd == 0) return -1;
                for (; nd < 3; nd++) msec *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 60) return -1;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (digits_n(&p, 2, &oh)) return -1;
            if (*p == ':') {
                p++;
                if (digits_n(&p, 2, &om)) return -1;
            } else if (*p >= '0' && *p <= '9') {
                if (digits_n(&p, 2, &om)) return -1;
            }
            if (oh > 23 || om > 59) return -1;
            off = sign * (oh * 60 + om);
        }
    }
    if (*p != '\0') return -1;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - (int64_t)off * 60;
    *ms = secs * 1000 + msec;
    return 0;
}

/* ---------- body checks and JSON ---------- */

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Everything cJSON must not see: oversize, NUL bytes, bad UTF-8, \u escapes that
 * are not four hex digits or that decode to NUL, deep nesting, an unterminated
 * string. Returns 0, or -1 with a reason in err. */
static int body_check(const char *body, size_t len, char *err, size_t errlen) {
    if (!body || len == 0) {
        snprintf(err, errlen, "empty body");
        return -1;
    }
    if (len > parse_body_cap) {
        snprintf(err, errlen, "body too large (%zu > %zu bytes)", len, parse_body_cap);
        return -1;
    }
    if (memchr(body, '\0', len)) {
        snprintf(err, errlen, "NUL byte in body");
        return -1;
    }
    if (!zc_utf8_valid(body, len)) {
        snprintf(err, errlen, "invalid utf-8");
        return -1;
    }
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        if (in_str) /* inside a string only '"' and '\\' matter: skip plain runs eight bytes at a time */
            while (len - i >= 8 && zc_json_plain8(body + i)) i += 8;
        if (i >= len) break;
        char c = body[i];
        if (in_str) {
            if (c == '"') {
                in_str = 0;
            } else if (c == '\\') {
                if (i + 1 >= len) break;
                if (body[i + 1] == 'u') {
                    int v = 0;
                    if (len - i < 6) {
                        snprintf(err, errlen, "invalid JSON: bad \\u escape at byte %zu", i);
                        return -1;
                    }
                    for (int k = 2; k < 6; k++) {
                        int h = hexval(body[i + (size_t)k]);
                        if (h < 0) {
                            snprintf(err, errlen, "invalid JSON: bad \\u escape at byte %zu", i);
                            return -1;
                        }
                        v = v * 16 + h;
                    }
                    if (v == 0) {
                        snprintf(err, errlen, "NUL character (\\u0000) in string at byte %zu", i);
                        return -1;
                    }
                    i += 5;
                } else {
                    i++;
                }
            }
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > PARSE_MAX_DEPTH) {
                snprintf(err, errlen, "nesting deeper than %d", PARSE_MAX_DEPTH);
                return -1;
            }
        } else if (c == ']' || c == '}') {
            if (depth > 0) depth--;
        }
    }
    if (in_str) {
        snprintf(err, errlen, "invalid JSON: unterminated string");
        return -1;
    }
    return 0;
}

/* ---------- the page's JSON tree ---------- */

/* cJSON allocates every node and string on its own, and a page's tree lives only
 * while that page is read. So while a page is parsed cJSON allocates from a bump
 * arena, and the whole tree goes at once when the page is done (json_release). The
 * hooks are cJSON's defaults again outside parse_list and parse_detail. */
#define ARENA_CHUNK (256 * 1024)
#define ARENA_KEEP (1024 * 1024) /* a chunk up to this size stays for the next page */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t cap, used;
    max_align_t data[];
} arena_chunk;

static arena_chunk *arena; /* newest first */

static void *arena_alloc(size_t n) {
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if (!arena || arena->cap - arena->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        arena_chunk *c = malloc(sizeof(*c) + cap);
        if (!c) return NULL;
        c->next = arena;
        c->cap = cap;
        c->used = 0;
        arena = c;
    }
    void *p = (char *)arena->data + arena->used;
    arena->used += n;
    return p;
}

static void arena_free(void *p) { (void)p; /* the page's tree goes at once */ }

/* Empties the arena, keeping one modest chunk for the next page. */
static void arena_reset(void) {
    arena_chunk *keep = NULL;
    while (arena) {
        arena_chunk *next = arena->next;
        if (!keep && arena->cap <= ARENA_KEEP) {
            keep = arena;
            keep->next = NULL;
            keep->used = 0;
        } else {
            free(arena);
        }
        arena = next;
    }
    arena = keep;
}

void parse_cleanup(void) {
    while (arena) {
        arena_chunk *next = arena->next;
        free(arena);
        arena = next;
    }
}

/* Ends a page's parse: drops its tree (root may be NULL) and restores cJSON's hooks. */
static void json_release(cJSON *root) {
    (void)root;
    arena_reset();
    cJSON_InitHooks(NULL);
}

/* Checks and parses body into the arena. Returns the root, or NULL with a reason
 * in err; either way json_release ends the page. */
static cJSON *json_parse(const char *body, size_t len, char *err, size_t errlen) {
    if (body_check(body, len, err, errlen) != 0) return NULL;
    cJSON_Hooks hooks = { arena_alloc, arena_free };
    cJSON_InitHooks(&hooks);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root) {
        size_t off = (end && end >= body && end <= body + len) ? (size_t)(end - body) : 0;
        snprintf(err, errlen, "invalid JSON at byte %zu", off);
        return NULL;
    }
    if (!end || end < body || end > body + len) end = body + len;
    while (end < body + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (end != body + len) {
        snprintf(err, errlen, "invalid JSON: trailing data at byte %zu", (size_t)(end - body));
        return NULL;
    }
    return root;
}

/* A book id from a JSON value: a string of 1..PARSE_ID_MAX digits, or a whole
 * number in [0, 2^53). Returns 0 with the digits in out, or -1. */
static int json_id(const cJSON *v, char *out, size_t outlen) {
    if (cJSON_IsString(v) && v->valuestring) {
        size_t n = strlen(v->valuestring);
        if (n == 0 || n > PARSE_ID_MAX || n + 1 > outlen) return -1;
        for (size_t i = 0; i < n; i++)
            if (v->valuestring[i] < '0' || v->valuestring[i] > '9') return -1;
        memcpy(out, v->valuestring, n + 1);
        return 0;
    }
    if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        if (!isfinite(x) || x < 0 || x >= 9007199254740992.0 || floor(x) != x) return -1;
        /* digits by hand: snprintf costs more than the rest of an id (a page has several) */
        char tmp[24];
        size_t n = 0;
        uint64_t u = (uint64_t)x;
        do {
            tmp[n++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (n + 1 > outlen) return -1;
        for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
        out[n] = '\0';
        return 0;
    }
    return -1;
}

/* ---------- list pages ---------- */

int parse_list(const char *url, const char *body, size_t len, parse_urls *out,
               char *err, size_t errlen) {
    url_parts up;
    cJSON *root = NULL;
    char line[URL_ORIGIN_MAX + 96];
    char id[PARSE_ID_MAX + 2];
    uint64_t limit = PARSE_DEFAULT_LIMIT, v = 0;
    int first = 1;

    parse_urls_reset(out);
    if (url_split(url, &up) != 0 || url_kind(&up, NULL, NULL) != PARSE_KIND_LIST) {
        snprintf(err, errlen, "not a list url");
        return -1;
    }
    int rc = query_num(&up, "limit", &v);
    if (rc == 1 && v > 0) limit = v;
    rc = query_num(&up, "offset", &v);
    if (rc == 1) first = v == 0;
    else if (rc == -1) first = 0;

    if (!(root = json_parse(body, len, err, errlen))) goto err;
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "not an object");
        goto err;
    }
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(root, "results");
    if (!results) {
        snprintf(err, errlen, "results missing");
        goto err;
    }
    if (!cJSON_IsArray(results)) {
        snprintf(err, errlen, "results is not an array");
        goto err;
    }
    const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(root, "count");
    if (!cnt) {
        snprintf(err, errlen, "count missing");
        goto err;
    }
    if (!cJSON_IsNumber(cnt) || !isfinite(cnt->valuedouble)) {
        snprintf(err, errlen, "count is not a number");
        goto err;
    }
    if (cnt->valuedouble < 0) {
        snprintf(err, errlen, "count is negative");
        goto err;
    }
    uint64_t count;
    if (cnt->valuedouble > PARSE_MAX_COUNT) {
        count = PARSE_MAX_COUNT;
        out->truncated = 1;
    } else {
        count = (uint64_t)ceil(cnt->valuedouble);
    }

    const cJSON *item;
    cJSON_ArrayForEach(item, results) {
        const cJSON *jid = cJSON_IsObject(item) ? cJSON_GetObjectItemCaseSensitive(item, "id") : NULL;
        if (!jid || json_id(jid, id, sizeof(id)) != 0) {
            out->skipped++;
            continue;
        }
        int n = snprintf(line, sizeof(line), "%.*s/api/book/%s", (int)up.origin_len, up.origin, id);
        if (n < 0 || (size_t)n >= sizeof(line) || urls_add(out, line, (size_t)n) != 0) goto oom;
        out->ndetail++;
    }

    if (first) {
        for (uint64_t o = limit; o < count; o += limit) {
            if (out->nlist >= PARSE_MAX_LIST_PAGES) {
                out->truncated = 1;
                break;
            }
            int n = snprintf(line, sizeof(line), "%.*s/api/book/?limit=%llu&offset=%llu",
                             (int)up.origin_len, up.origin, (unsigned long long)limit,
                             (unsigned long long)o);
            if (n < 0 || (size_t)n >= sizeof(line) || urls_add(out, line, (size_t)n) != 0) goto oom;
            out->nlist++;
        }
    }
    json_release(root);
    return 0;

oom:
    snprintf(err, errlen, "out of memory");
err:
    json_release(root);
    parse_urls_reset(out);
    return -1;
}

/* ---------- detail pages ---------- */

/* Appends the i-th array key. */
static const char *arr_key(uint32_t i, char *buf, size_t len) {
    const char *k;
    bson_uint32_to_string(i, &k, buf, len);
    return k;
}

/* A string field as given, or null for anything else. Returns 0 or -1. */
static int doc_str(bson_t *d, const char *key, const cJSON *v) {
    if (cJSON_IsString(v) && v->valuestring)
        return bson_append_utf8(d, key, -1, v->valuestring, (int)strlen(v->valuestring)) ? 0 : -1;
    return bson_append_null(d, key, -1) ? 0 : -1;
}

/* Appends s to array a under key i, whitespace-collapsed when collapse is set;
 * empty collapsed strings are dropped. Returns 0 or -1. */
static int arr_add_str(bson_t *a, uint32_t *i, const char *s, int collapse) {
    char kb[16];
    size_t n = strlen(s);
    if (!collapse)
        return bson_append_utf8(a, arr_key((*i)++, kb, sizeof(kb)), -1, s, (int)n) ? 0 : -1;
    char *tmp = malloc(n + 1);
    if (!tmp) return -1;
    size_t m = parse_collapse_ws(s, n, tmp);
    int rc = 0;
    if (m > 0) rc = bson_append_utf8(a, arr_key((*i)++, kb, sizeof(kb)), -1, tmp, (int)m) ? 0 : -1;
    free(tmp);
    return rc;
}

/* An array of strings (a lone string counts as an array of one; non-strings in
 * the array are dropped), or null when v is neither. Returns 0 or -1. */
static int doc_str_array(bson_t *d, const char *key, const cJSON *v, int collapse) {
    if (!cJSON_IsArray(v) && !(cJSON_IsString(v) && v->valuestring))
        return bson_append_null(d, key, -1) ? 0 : -1;
    bson_t a;
    uint32_t i = 0;
    int rc = 0;
    if (!bson_append_array_begin(d, key, -1, &a)) return -1;
    if (cJSON_IsString(v)) {
        rc = arr_add_str(&a, &i, v->valuestring, collapse);
    } else {
        const cJSON *e;
        cJSON_ArrayForEach(e, v) {
            if (!cJSON_IsString(e) || !e->valuestring) continue;
            if ((rc = arr_add_str(&a, &i, e->valuestring, collapse)) != 0) break;
        }
    }
    if (!bson_append_array_end(d, &a)) rc = -1;
    return rc;
}

/* An integer (int32 when it fits, else int64) from a whole number or a numeric
 * string, or null. Returns 0 or -1. */
static int doc_int(bson_t *d, const char *key, const cJSON *v) {
    int64_t x = 0;
    int ok = 0;
    if (cJSON_IsNumber(v)) {
        double f = v->valuedouble;
        if (isfinite(f) && floor(f) == f && f > -9.2e18 && f < 9.2e18) {
            x = (int64_t)f;
            ok = 1;
        }
    } else if (cJSON_IsString(v) && v->valuestring) {
        ok = parse_int_str(v->valuestring, &x) == 0;
    }
    if (!ok) return bson_append_null(d, key, -1) ? 0 : -1;
    if (x >= INT32_MIN && x <= INT32_MAX) return bson_append_int32(d, key, -1, (int32_t)x) ? 0 : -1;
    return bson_append_int64(d, key, -1, x) ? 0 : -1;
}

/* A double from a finite number or a decimal string, or null. Returns 0 or -1. */
static int doc_double(bson_t *d, const char *key, const cJSON *v) {
    double x = 0;
    int ok = 0;
    if (cJSON_IsNumber(v)) {
        x = v->valuedouble;
        ok = isfinite(x);
    } else if (cJSON_IsString(v) && v->valuestring) {
        ok = parse_decimal(v->valuestring, &x) == 0;
    }
    if (!ok) return bson_append_null(d, key, -1) ? 0 : -1;
    return bson_append_double(d, key, -1, x) ? 0 : -1;
}

/* A datetime from an ISO 8601 string, or null. Returns 0 or -1. */
static int doc_date(bson_t *d, const char *key, const cJSON *v) {
    int64_t ms;
    if (cJSON_IsString(v) && v->valuestring && parse_iso8601_ms(v->valuestring, &ms) == 0)
        return bson_append_date_time(d, key, -1, ms) ? 0 : -1;
    return bson_append_null(d, key, -1) ? 0 : -1;
}

/* comments: an array of {id, content} (strings or null; a whole-number id becomes
 * its digits); items that are not objects are dropped; null when not an array. */
static int doc_comments(bson_t *d, const cJSON *v) {
    if (!cJSON_IsArray(v)) return bson_append_null(d, "comments", -1) ? 0 : -1;
    bson_t a;
    uint32_t i = 0;
    int rc = 0;
    char kb[16], cid[40];
    if (!bson_append_array_begin(d, "comments", -1, &a)) return -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsObject(e)) continue;
        bson_t c;
        if (!bson_append_document_begin(&a, arr_key(i++, kb, sizeof(kb)), -1, &c)) {
            rc = -1;
            break;
        }
        const cJSON *jid = cJSON_GetObjectItemCaseSensitive(e, "id");
        if (cJSON_IsNumber(jid) && json_id(jid, cid, sizeof(cid)) == 0)
            rc = bson_append_utf8(&c, "id", -1, cid, -1) ? 0 : -1;
        else
            rc = doc_str(&c, "id", jid);
        if (rc == 0) rc = doc_str(&c, "content", cJSON_GetObjectItemCaseSensitive(e, "content"));
        if (!bson_append_document_end(&a, &c)) rc = -1;
        if (rc != 0) break;
    }
    if (!bson_append_array_end(d, &a)) rc = -1;
    return rc;
}

int parse_detail(const char *url, const char *body, size_t len, int64_t fetched_at_ms,
                 bson_t *out, char *err, size_t errlen) {
    cJSON *root = NULL;
    char url_id[PARSE_ID_MAX + 2], id[PARSE_ID_MAX + 2];

    bson_reinit(out);
    if (parse_url_book_id(url, url_id, sizeof(url_id)) != 0) {
        snprintf(err, errlen, "not a detail url");
        return -1;
    }
    if (!zc_utf8_valid(url, strlen(url))) {
        snprintf(err, errlen, "invalid utf-8 in url");
        return -1;
    }
    if (!(root = json_parse(body, len, err, errlen))) goto err;
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "not an object");
        goto err;
    }
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (!jid || cJSON_IsNull(jid)) {
        snprintf(err, errlen, "no id");
        goto err;
    }
    if (json_id(jid, id, sizeof(id)) != 0) {
        snprintf(err, errlen, "bad id (not a string of digits)");
        goto err;
    }
    if (strcmp(id, url_id) != 0) {
        snprintf(err, errlen, "id mismatch (url %s, body %s)", url_id, id);
        goto err;
    }
#define F(name) cJSON_GetObjectItemCaseSensitive(root, name)
    if (!bson_append_utf8(out, "_id", -1, id, -1) ||
        doc_str(out, "name", F("name")) ||
        doc_str_array(out, "authors", F("authors"), 1) ||
        doc_str_array(out, "translators", F("translators"), 1) ||
        doc_str(out, "publisher", F("publisher")) ||
        doc_str_array(out, "tags", F("tags"), 0) ||
        doc_str(out, "isbn", F("isbn")) ||
        doc_int(out, "page_number", F("page_number")) ||
        doc_str(out, "price", F("price")) ||
        doc_double(out, "score", F("score")) ||
        doc_date(out, "published_at", F("published_at")) ||
        doc_date(out, "updated_at", F("updated_at")) ||
        doc_str(out, "url", F("url")) ||
        doc_str(out, "cover", F("cover")) ||
        doc_str(out, "introduction", F("introduction")) ||
        doc_str(out, "catalog", F("catalog")) ||
        doc_comments(out, F("comments")) ||
        !bson_append_utf8(out, "source_url", -1, url, -1) ||
        !bson_append_date_time(out, "fetched_at", -1, fetched_at_ms)) {
        snprintf(err, errlen, "document too large or out of memory");
        goto err;
    }
#undef F
    json_release(root);
    return 0;
err:
    json_release(root);
    bson_reinit(out);
    return -1;
}
