/* zc_utf8.h -- strict UTF-8 validation, shared by the parser (page bodies) and the writer (documents). */
#ifndef ZC_UTF8_H
#define ZC_UTF8_H

#include <stddef.h>

/* Returns 1 when s[0..len) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF; NUL bytes are allowed), else 0. Runs of ASCII are
 * checked eight bytes at a time. */
int zc_utf8_valid(const char *s, size_t len);

#endif
