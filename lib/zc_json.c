/* zc_json.c -- escaping text for a JSON string. */
#include "zc_json.h"

#include <stdint.h>
#include <string.h>

/* The classic "has a zero byte" test on the word, and on it xor'ed with '"' and
 * '\\': exact as a yes/no for the whole word. */
int zc_json_plain8(const char *p) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t w;
    memcpy(&w, p, 8);
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs ? 0 : 1;
}

size_t zc_json_escape(char *out, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    size_t run = 0, i = 0; /* s[run..i) is the pending unescaped run */
    while (i < n) {
        if (n - i >= 8 && zc_json_plain8(s + i)) {
            i += 8;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        memcpy(o, s + run, i - run);
        o += i - run;
        run = ++i;
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    memcpy(o, s + run, n - run);
    o += n - run;
    return (size_t)(o - out);
}
