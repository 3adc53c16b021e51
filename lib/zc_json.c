/* zc_json.c -- escaping text for a JSON string. */
#include "zc_json.h"

#include <stdint.h>
#include <string.h>

/* Nonzero when one of the eight bytes in w is below 0x20, '"' or '\\' (the classic
 * "has a zero byte" test: exact as a yes/no for the whole word). */
static int word_needs_escape(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs ? 1 : 0;
}

size_t zc_json_escape(char *out, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    size_t run = 0, i = 0; /* s[run..i) is the pending unescaped run */
    while (i < n) {
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!word_needs_escape(w)) {
                i += 8;
                continue;
            }
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
