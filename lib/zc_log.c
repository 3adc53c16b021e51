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

void zc_log(zc_log_level level, const char *event, const char *fmt, ...) {
    if (level < log_min) return;
    char line[4096];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s prog=%s event=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), log_names[level], log_prog, event);
    if (n < 0) return;
    if ((size_t)n < sizeof(line) - 2 && fmt && *fmt) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
        va_end(ap);
        if (m > 0) n += m;
    }
    if ((size_t)n > sizeof(line) - 2) n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line keeps lines whole when stages share a terminal. */
    if (fwrite(line, 1, (size_t)n, stderr) != (size_t)n) return;
    fflush(stderr);
}

const char *zc_log_q(char *buf, size_t len, const char *s) {
    if (len == 0) return buf;
    if (s == NULL) s = "";
    int plain = *s != '\0';
    for (const char *p = s; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\') plain = 0;
    size_t o = 0;
    if (plain) {
        while (*s && o + 1 < len) buf[o++] = *s++;
        buf[o] = '\0';
        return buf;
    }
    if (o + 1 < len) buf[o++] = '"';
    for (; *s && o + 3 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else if (c < ' ') buf[o++] = ' ';
        else buf[o++] = (char)c;
    }
    if (o + 1 < len) buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

void zc_die(int code, const char *prog, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: error: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}
