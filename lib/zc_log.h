/* zc_log.h -- one logfmt line per notable event, on stderr.
 *
 * A line reads: ts=... level=info prog=fetcher event=started key=value ...
 * The caller formats the key=value tail; string values that may hold spaces or
 * quotes go through zc_log_q(), which quotes them into a buffer the caller owns. */
#ifndef ZC_LOG_H
#define ZC_LOG_H

#include <stddef.h>

typedef enum { ZC_LOG_DEBUG = 0,
               ZC_LOG_INFO,
               ZC_LOG_WARN,
               ZC_LOG_ERROR } zc_log_level;

/* Sets the program name printed as prog= and the lowest level printed. */
void zc_log_init(const char *prog, zc_log_level level);
/* Parses "debug", "info", "warn" or "error". Returns 0, or -1 for anything else. */
int zc_log_parse_level(const char *s, zc_log_level *out);
int zc_log_enabled(zc_log_level level);
/* Logs event with an optional printf-style tail of key=value pairs (fmt may be NULL). */
void zc_log(zc_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes s as a logfmt value into buf (quoted and escaped when needed, cut to fit)
 * and returns buf. */
const char *zc_log_q(char *buf, size_t len, const char *s);

/* Prints "PROG: error: MESSAGE" as one line on stderr and exits with code: the
 * way every executable reports bad flags and unreachable dependencies. */
void zc_die(int code, const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

#define zc_debug(ev, ...)                                                        \
    do {                                                                         \
        if (zc_log_enabled(ZC_LOG_DEBUG)) zc_log(ZC_LOG_DEBUG, ev, __VA_ARGS__); \
    } while (0)
#define zc_info(ev, ...)  zc_log(ZC_LOG_INFO, ev, __VA_ARGS__)
#define zc_warn(ev, ...)  zc_log(ZC_LOG_WARN, ev, __VA_ARGS__)
#define zc_error(ev, ...) zc_log(ZC_LOG_ERROR, ev, __VA_ARGS__)

#endif
