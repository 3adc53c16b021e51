/* parse_book.c -- what every spec shares: body checks, the page arena, URLs, text, numbers, dates. */
#include "parse_book.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "spec.h"
#include "zc_hex.h"
#include "zc_json.h"
#include "zc_utf8.h"

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
int parse_urls_add(parse_urls *u, const char *s, size_t len) {
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

/* Splits an absolute http(s) URL. Returns 0, or -1 when url is not one or its
 * origin holds control characters or spaces (they would corrupt a URL list). */
int parse_url_split(const char *url, parse_url_parts *p) {
    size_t sl;
    if (!url) return -1;
    if (strncasecmp(url, "http://", 7) == 0) sl = 7;
    else if (strncasecmp(url, "https://", 8) == 0) sl = 8;
    else return -1;
    const char *a = url + sl;
    size_t alen = strcspn(a, "/?#");
    if (alen == 0 || sl + alen > PARSE_ORIGIN_MAX) return -1;
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

/* Looks up query parameter key. Returns 1 with its value as a decimal in *v, 0 when
 * it is absent, -1 when present but not a plain decimal (at most 12 digits). */
int parse_query_num(const parse_url_parts *p, const char *key, uint64_t *v) {
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
    if (len >= 2 && s[0] == 0xC2 && s[1] == 0xA0) return 2;                 /* U+00A0 */
    if (len >= 3 && s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) return 3; /* U+3000 */
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
int64_t parse_days_from_civil(int64_t y, unsigned m, unsigned d) {
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
    int64_t days = parse_days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - (int64_t)off * 60;
    *ms = secs * 1000 + msec;
    return 0;
}

/* ---------- body checks and JSON ---------- */

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
                        int h = zc_hexval(body[i + (size_t)k]);
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
#define ARENA_KEEP  (1024 * 1024) /* a chunk up to this size stays for the next page */

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
    spec_default_free();
    spec_scratch_free();
    while (arena) {
        arena_chunk *next = arena->next;
        free(arena);
        arena = next;
    }
}

/* Ends a page's parse: drops its tree (root may be NULL) and restores cJSON's hooks. */
void parse_json_release(void) {
    arena_reset();
    cJSON_InitHooks(NULL);
}

/* Checks and parses body into the arena. Returns the root, or NULL with a reason
 * in err; either way json_release ends the page. */
cJSON *parse_json(const char *body, size_t len, char *err, size_t errlen) {
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
int parse_json_id(const cJSON *v, char *out, size_t outlen) {
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

/* ---------- HTML text ---------- */

/* Encodes code point c as UTF-8 into out. Returns its length (1..4). */
static size_t utf8_put(uint32_t c, char *out) {
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* The named references pages use in practice (HTML's full table has 2231). Every
 * name is at least two letters, so "&xx;" (4 bytes) never decodes to more than
 * 3 bytes: decoding never lengthens a string. */
static const struct {
    const char *name;
    uint32_t cp;
} html_names[] = {
    { "amp", '&' },
    { "lt", '<' },
    { "gt", '>' },
    { "quot", '"' },
    { "apos", '\'' },
    { "nbsp", 0xA0 },
    { "mdash", 0x2014 },
    { "ndash", 0x2013 },
    { "hellip", 0x2026 },
    { "lsquo", 0x2018 },
    { "rsquo", 0x2019 },
    { "ldquo", 0x201C },
    { "rdquo", 0x201D },
    { "laquo", 0xAB },
    { "raquo", 0xBB },
    { "middot", 0xB7 },
    { "bull", 0x2022 },
    { "copy", 0xA9 },
    { "reg", 0xAE },
    { "trade", 0x2122 },
    { "times", 0xD7 },
    { "divide", 0xF7 },
    { "deg", 0xB0 },
    { "plusmn", 0xB1 },
    { "para", 0xB6 },
    { "sect", 0xA7 },
    { "cent", 0xA2 },
    { "pound", 0xA3 },
    { "yen", 0xA5 },
    { "euro", 0x20AC },
    { "shy", 0xAD },
    { "ensp", 0x2002 },
    { "emsp", 0x2003 },
    { "thinsp", 0x2009 },
    { "zwnj", 0x200C },
    { "zwj", 0x200D },
    { "iexcl", 0xA1 },
    { "iquest", 0xBF },
    { "prime", 0x2032 },
    { "larr", 0x2190 },
    { "rarr", 0x2192 },
};

/* Decodes the reference at s[0] == '&' (n bytes available) into out. Returns the
 * bytes of input it used (0: not a reference we know; copy the '&') and sets *w
 * to the bytes written. */
static size_t html_ref(const char *s, size_t n, char *out, size_t *w) {
    size_t i = 1;
    if (n > 2 && s[1] == '#') {
        uint32_t c = 0;
        int hex = s[2] == 'x' || s[2] == 'X', digits = 0;
        i = hex ? 3 : 2;
        for (; i < n && digits < 8; i++, digits++) {
            char d = s[i];
            int v = hex ? zc_hexval(d) : (d >= '0' && d <= '9' ? d - '0' : -1);
            if (v < 0) break;
            c = c * (hex ? 16 : 10) + (uint32_t)v;
        }
        if (digits == 0 || i >= n || s[i] != ';') return 0;
        if (c == 0 || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) c = 0xFFFD;
        *w = utf8_put(c, out);
        return i + 1;
    }
    while (i < n && i < 10 && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) i++;
    if (i >= n || s[i] != ';' || i < 3) return 0;
    for (size_t k = 0; k < sizeof(html_names) / sizeof(*html_names); k++) {
        if (strlen(html_names[k].name) == i - 1 && memcmp(html_names[k].name, s + 1, i - 1) == 0) {
            *w = utf8_put(html_names[k].cp, out);
            return i + 1;
        }
    }
    return 0;
}

size_t parse_html_unescape(const char *s, size_t len, char *out) {
    size_t o = 0, i = 0;
    while (i < len) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t run = amp ? (size_t)(amp - (s + i)) : len - i;
        memmove(out + o, s + i, run);
        o += run;
        i += run;
        if (i >= len) break;
        size_t w = 0, used = html_ref(s + i, len - i, out + o, &w);
        if (used) {
            o += w;
            i += used;
        } else {
            out[o++] = '&';
            i++;
        }
    }
    out[o] = '\0';
    return o;
}

/* Nonzero when s[0..n) starts with the tag name tag (any case) followed by a
 * character that ends a name. */
static int tag_is(const char *s, size_t n, const char *tag) {
    size_t k = strlen(tag);
    if (n < k || strncasecmp(s, tag, k) != 0) return 0;
    return n == k || !((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= '0' && s[k] <= '9'));
}

size_t parse_html_text(const char *s, size_t len, char *out) {
    size_t o = 0, i = 0;
    while (i < len) {
        char c = s[i];
        if (c != '<' || i + 1 >= len) {
            out[o++] = c;
            i++;
            continue;
        }
        char d = s[i + 1];
        int starts = (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') || d == '/' || d == '!' || d == '?';
        if (!starts) {
            out[o++] = c;
            i++;
            continue;
        }
        const char *rest = s + i + 1;
        size_t rn = len - i - 1;
        if (rn >= 3 && memcmp(rest, "!--", 3) == 0) {
            const char *e = memmem(rest + 3, rn - 3, "-->", 3);
            i = e ? (size_t)(e - s) + 3 : len;
            continue;
        }
        const char *gt = memchr(rest, '>', rn);
        if (!gt) { /* never closed: text after all */
            out[o++] = c;
            i++;
            continue;
        }
        size_t next = (size_t)(gt - s) + 1;
        const char *skip_to = NULL;
        if (tag_is(rest, rn, "script")) skip_to = "</script";
        else if (tag_is(rest, rn, "style")) skip_to = "</style";
        if (skip_to) {
            const char *e = NULL;
            for (size_t k = next; k + strlen(skip_to) <= len; k++)
                if (strncasecmp(s + k, skip_to, strlen(skip_to)) == 0) {
                    e = s + k;
                    break;
                }
            if (!e) break;
            const char *g = memchr(e, '>', len - (size_t)(e - s));
            i = g ? (size_t)(g - s) + 1 : len;
            continue;
        }
        if (tag_is(rest, rn, "br") || tag_is(rest, rn, "/p") || tag_is(rest, rn, "p/")) out[o++] = '\n';
        i = next;
    }
    return parse_html_unescape(out, o, out);
}
