/* parse_json.c -- a page's JSON: the body checks, the page arena, ids from JSON values. */
#include "parse_json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
 * hooks are cJSON's defaults again between pages. */
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

void parse_json_free(void) {
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
