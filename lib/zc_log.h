/* zc_log.h -- one logfmt line per notable event, on stderr.
 *
 * A line reads: ts=... level=info prog=fetcher event=started key=value ...
 * The caller formats the key=value tail; every string that comes from a peer, a
 * page or a user (names, URLs, reasons, details), and any that may hold spaces
 * or quotes, goes through zc_log_q() or zc_log_qn(), which quote and escape it
 * as logfmt does into a buffer the caller owns: such a value is written as
 * key=%s, never inside quotes of the format. As a last guard zc_log() itself
 * escapes every control byte of the line (\n, \r, \t, \xHH), so that no
 * string can end a line or forge another. */
#ifndef ZC_LOG_H
#define ZC_LOG_H

#include <stddef.h>

/* Buffer sizes for zc_log_q of a URL (ZC_URL_MAX bytes, some escaped) and of a
 * reason or detail (cut at about 300 bytes). */
#define ZC_LOG_QURL    2600
#define ZC_LOG_QREASON 320

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
/* Writes s (NULL: "") as a logfmt value into buf and returns buf: as it is when
 * it is printable ASCII without spaces, '"', '=' or '\'; else between double
 * quotes with '"' and '\' backslashed, newline, CR and tab as \n \r \t, other
 * control bytes and DEL as \xHH (bytes above 0x7f are kept: UTF-8). Cut to fit
 * len, always closed and NUL-terminated. Never fails. */
const char *zc_log_q(char *buf, size_t len, const char *s);
/* 1 when s is non-empty printable ASCII without spaces, '"', '=' or '\': it
 * stands in a logfmt line as it is (zc_log_q leaves it alone); else 0. */
int zc_log_plain(const char *s);
/* The same for the n bytes at s (a frame: may hold NUL bytes, shown as \x00). */
const char *zc_log_qn(char *buf, size_t len, const char *s, size_t n);

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
