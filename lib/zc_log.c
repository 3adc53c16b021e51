/* zc_log.c -- one logfmt line per notable event, on stderr. */
#include "zc_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char *log_prog = "zcrawl";
static zc_log_level log_min = ZC_LOG_INFO;
static const char *log_names[] = { "debug", "info", "warn", "error" };

void zc_log_init(const char *prog, zc_log_level level) {
    log_prog = prog;
    log_min = level;
}

int zc_log_parse_level(const char *s, zc_log_level *out) {
    for (int i = 0; i <= ZC_LOG_ERROR; i++) {
        if (strcmp(s, log_names[i]) == 0) {
            *out = (zc_log_level)i;
            return 0;
        }
    }
    return -1;
}

int zc_log_enabled(zc_log_level level) { return level >= log_min; }

/* Copies the n bytes of s into out (room for outlen bytes, NUL included) with
 * every control byte escaped (\n, \r, \t, \xHH), so that nothing in a line can
 * end it or start another. Returns the length written. */
static size_t log_escape_controls(char *out, size_t outlen, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != 0x7f) {
            out[o++] = (char)c;
            continue;
        }
        char e = c == '\n' ? 'n' : c == '\r' ? 'r'
                               : c == '\t'   ? 't'
                                             : 0;
        size_t need = e ? 2 : 4;
        if (o + need + 1 > outlen) break;
        out[o++] = '\\';
        if (e) {
            out[o++] = e;
        } else {
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return o;
}

void zc_log(zc_log_level level, const char *event, const char *fmt, ...) {
    if (level < log_min) return;
    char line[4096], tail[4096];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s prog=%s event=",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), log_names[level], log_prog);
    if (n < 0 || (size_t)n >= sizeof(line)) return;
    n += (int)log_escape_controls(line + n, sizeof(line) - (size_t)n, event, strlen(event));
    if ((size_t)n < sizeof(line) - 2 && fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(tail, sizeof(tail), fmt, ap);
        va_end(ap);
        if (m > 0) {
            size_t tl = (size_t)m < sizeof(tail) ? (size_t)m : sizeof(tail) - 1;
            line[n++] = ' ';
            /* Whatever a caller left unquoted, no control byte reaches the line. */
            n += (int)log_escape_controls(line + n, sizeof(line) - 1 - (size_t)n, tail, tl);
        }
    }
    if ((size_t)n > sizeof(line) - 2) n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line keeps lines whole when stages share a terminal. */
    if (fwrite(line, 1, (size_t)n, stderr) != (size_t)n) return;
    fflush(stderr);
}

/* 1 when the n bytes of s can stand as a logfmt value unquoted. */
static int log_plain(const char *s, size_t n) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 0x7f || c == '"' || c == '=' || c == '\\') return 0;
    }
    return 1;
}

const char *zc_log_qn(char *buf, size_t len, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (len == 0) return buf;
    if (s == NULL) n = 0;
    size_t o = 0;
    if (log_plain(s, n)) {
        for (size_t i = 0; i < n && o + 1 < len; i++) buf[o++] = s[i];
        buf[o] = '\0';
        return buf;
    }
    if (len < 3) {
        buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e = c == '"' ? '"' : c == '\\' ? '\\'
                              : c == '\n'   ? 'n'
                              : c == '\r'   ? 'r'
                              : c == '\t'   ? 't'
                                            : 0;
        size_t need = e ? 2 : (c < 0x20 || c == 0x7f) ? 4
                                                      : 1;
        if (o + need + 2 > len) break; /* room for the closing quote and the NUL */
        if (e) {
            buf[o++] = '\\';
            buf[o++] = e;
        } else if (need == 4) {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

int zc_log_plain(const char *s) { return s && log_plain(s, strlen(s)); }

const char *zc_log_q(char *buf, size_t len, const char *s) { return zc_log_qn(buf, len, s, s ? strlen(s) : 0); }

void zc_die(int code, const char *prog, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: error: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}
