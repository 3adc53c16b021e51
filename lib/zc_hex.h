/* zc_hex.h -- the value of a hexadecimal digit: percent-escapes, JSON \u escapes. */
#ifndef ZC_HEX_H
#define ZC_HEX_H

/* 0..15 for '0'-'9', 'a'-'f' and 'A'-'F'; -1 for any other c (a negative char too). */
static inline int zc_hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

#endif
