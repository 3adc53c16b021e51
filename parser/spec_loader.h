/* spec_loader.h -- reading a spec's JSON: typed members, unknown keys, one-line errors naming the JSON path.
 *
 * The bottom of the spec modules: each of them compiles its part of a spec through
 * a spec_loader, which keeps the first error as "FILE: $.json.path: what is wrong"
 * in the caller's buffer. Every function here returns -1 once the load has failed. */
#ifndef SPEC_LOADER_H
#define SPEC_LOADER_H

#include <stddef.h>
#include <cjson/cJSON.h>

#define SPEC_JP_MAX 300 /* a JSON path in messages, with its NUL */

typedef struct spec_loader {
    const char *file; /* names the spec in messages */
    char *err;        /* the caller's */
    size_t errlen;
    int failed;
    int nfield, ntpl, npart; /* slots given out so far (spec_counts.h): fields, templates, placeholders */
} spec_loader;

/* Records the first error: "FILE: JSONPATH: message", control characters of the
 * message turned into '?' so that it stays one line. Returns -1. */
int spec_ld_fail(spec_loader *L, const char *jp, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes the JSON path of a part of the spec into sub. Returns 0, or -1 after
 * failing the load when the path does not fit (a spec nested absurdly deep). */
int spec_ld_jp(spec_loader *L, char *sub, size_t len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* strdup that fails the load ("out of memory") and returns NULL. */
char *spec_ld_strdup(spec_loader *L, const char *s);

/* Checks that every key of object o is one of the NULL-terminated allowed. */
int spec_ld_keys(spec_loader *L, const char *jp, const cJSON *o, const char *const *allowed);

/* Optional members of o, left as they are when absent. A string holds no control
 * character (*out NULL when absent); a bool is true or false; a long is a whole
 * number in [min, max]. Return 0, or -1 (wrong type or range). */
int spec_ld_str(spec_loader *L, const char *jp, const cJSON *o, const char *key, const char **out);
int spec_ld_bool(spec_loader *L, const char *jp, const cJSON *o, const char *key, int *out);
int spec_ld_long(spec_loader *L, const char *jp, const cJSON *o, const char *key, long min, long max,
                 long *out);

#endif
