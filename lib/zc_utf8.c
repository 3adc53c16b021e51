/* zc_utf8.c -- strict UTF-8 validation with an ASCII fast path. */
#include "zc_utf8.h"

#include <stdint.h>
#include <string.h>

/* Well-formed sequences (Unicode, table 3-7): the lead byte fixes the length and
 * the range of the first continuation byte; the others are 80..BF. Checking those
 * ranges directly, instead of decoding code points, keeps CJK text (three-byte
 * sequences) fast. */
int zc_utf8_valid(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        /* Eight ASCII bytes at once: most of a JSON page is ASCII. */
        while (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= len) break;
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t left = len - i;
        if (c >= 0xE1 && c <= 0xEC && left >= 3) { /* the common case: most of the BMP */
            if ((s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80) return 0;
            i += 3;
        } else if (c >= 0xC2 && c <= 0xDF && left >= 2) {
            if ((s[i + 1] & 0xC0) != 0x80) return 0;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF && left >= 3) {
            unsigned c1 = s[i + 1];
            unsigned lo = c == 0xE0 ? 0xA0 : 0x80; /* E0: no overlong forms */
            unsigned hi = c == 0xED ? 0x9F : 0xBF; /* ED: no surrogates */
            if (c1 < lo || c1 > hi || (s[i + 2] & 0xC0) != 0x80) return 0;
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4 && left >= 4) {
            unsigned c1 = s[i + 1];
            unsigned lo = c == 0xF0 ? 0x90 : 0x80; /* F0: no overlong forms */
            unsigned hi = c == 0xF4 ? 0x8F : 0xBF; /* F4: nothing above U+10FFFF */
            if (c1 < lo || c1 > hi || (s[i + 2] & 0xC0) != 0x80 || (s[i + 3] & 0xC0) != 0x80) return 0;
            i += 4;
        } else {
            return 0; /* 80..C1, F5..FF, or a sequence cut short */
        }
    }
    return 1;
}
