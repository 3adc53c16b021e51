/* parse_text.c -- text from pages: HTML to text, character references, whitespace, numbers in strings. */
#include "parse_text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zc_hex.h"

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

/* Length of the whitespace character that ends s[0..len), or 0. */
static size_t ws_len_back(const unsigned char *s, size_t len) {
    unsigned char c = s[len - 1];
    if (c == ' ' || (c >= '\t' && c <= '\r')) return 1;
    if (len >= 2 && s[len - 2] == 0xC2 && c == 0xA0) return 2;
    if (len >= 3 && s[len - 3] == 0xE3 && s[len - 2] == 0x80 && c == 0x80) return 3;
    return 0;
}

void parse_trim_ws(const char *str, size_t len, size_t *b, size_t *e) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, j = len, w;
    while (i < j && (w = ws_len(s + i, j - i)) != 0) i += w;
    while (j > i && (w = ws_len_back(s + i, j - i)) != 0) j -= w;
    *b = i;
    *e = j;
}

void parse_trim_ascii(const char *s, const char **b, const char **e) {
    const char *x = s, *y = s + strlen(s);
    while (x < y && (*x == ' ' || (*x >= '\t' && *x <= '\r'))) x++;
    while (y > x && (y[-1] == ' ' || (y[-1] >= '\t' && y[-1] <= '\r'))) y--;
    *b = x;
    *e = y;
}

int parse_decimal(const char *s, double *out) {
    const char *b, *e;
    char buf[64];
    parse_trim_ascii(s, &b, &e);
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
    parse_trim_ascii(s, &b, &e);
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
        else if (tag_is(rest, rn, "p") && o > 0 && out[o - 1] != '\n') out[o++] = '\n'; /* "a<p>b": a paragraph */
        i = next;
    }
    return parse_html_unescape(out, o, out);
}
