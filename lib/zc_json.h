/* zc_json.h -- escaping text for a JSON string, shared by the writer and the emulator. */
#ifndef ZC_JSON_H
#define ZC_JSON_H

#include <stddef.h>

/* Writes s[0..n) to out as the inside of a JSON string: '"', '\' and the control
 * characters below 0x20 escaped, everything else (UTF-8 included) as it is. Runs
 * that need nothing are copied eight bytes at a time. out must have room for
 * ZC_JSON_ESCAPED_MAX(n) bytes. Returns how many it wrote. */
#define ZC_JSON_ESCAPED_MAX(n) ((n)*6)
size_t zc_json_escape(char *out, const char *s, size_t n);

/* Nonzero when none of the eight bytes at p is '"', '\\' or below 0x20: inside a
 * JSON string such a run is plain text, to escape or to skip as a whole. */
int zc_json_plain8(const char *p);

#endif
