/* parse_time.c -- dates in pages: ISO 8601, strptime-like formats, the civil calendar. */
#include "parse_time.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "parse_text.h"

/* ---------- dates ---------- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant). */
int64_t parse_days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Reads exactly n digits at *p into *v and advances *p. Returns 0 or -1. */
static int digits_n(const char **p, int n, int *v) {
    int x = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return -1;
        x = x * 10 + (c - '0');
    }
    *p += n;
    *v = x;
    return 0;
}

int parse_iso8601_ms(const char *str, int64_t *ms) {
    static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    const char *s, *e;
    char buf[64];
    parse_trim_ascii(str, &s, &e);
    size_t n = (size_t)(e - s);
    if (n == 0 || n >= sizeof(buf)) return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    const char *p = buf;
    int y, mo, d, h = 0, mi = 0, sec = 0, msec = 0, off = 0;
    if (digits_n(&p, 4, &y) || *p++ != '-' || digits_n(&p, 2, &mo) || *p++ != '-' ||
        digits_n(&p, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]) return -1;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return -1;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (digits_n(&p, 2, &h) || *p++ != ':' || digits_n(&p, 2, &mi)) return -1;
        if (*p == ':') {
            p++;
            if (digits_n(&p, 2, &sec)) return -1;
            if (*p == '.' || *p == ',') {
                p++;
                int nd = 0;
                while (*p >= '0' && *p <= '9') {
                    if (nd < 3) msec = msec * 10 + (*p - '0');
                    nd++;
                    p++;
                }
                if (nd == 0) return -1;
                for (; nd < 3; nd++) msec *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 60) return -1;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (digits_n(&p, 2, &oh)) return -1;
            if (*p == ':') {
                p++;
                if (digits_n(&p, 2, &om)) return -1;
            } else if (*p >= '0' && *p <= '9') {
                if (digits_n(&p, 2, &om)) return -1;
            }
            if (oh > 23 || om > 59) return -1;
            off = sign * (oh * 60 + om);
        }
    }
    if (*p != '\0') return -1;
    int64_t days = parse_days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - (int64_t)off * 60;
    *ms = secs * 1000 + msec;
    return 0;
}

/* ---------- strptime-like formats ---------- */

int parse_date_format_check(const char *f, char *why, size_t whylen) {
    for (const char *p = f; *p; p++) {
        if (*p != '%') continue;
        p++;
        if (!*p || !strchr("YymdeHMSbBz%", *p)) {
            snprintf(why, whylen, "format '%.60s': unknown conversion '%%%c' (known: %%Y %%y %%m %%d %%e %%H %%M %%S %%b %%B %%z %%%%)",
                     f, *p ? *p : ' ');
            return -1;
        }
    }
    if (!strstr(f, "%Y") && !strstr(f, "%y")) {
        snprintf(why, whylen, "format '%.60s' has no year (%%Y or %%y)", f);
        return -1;
    }
    return 0;
}

static const char *const month_names[12] = { "january", "february", "march", "april", "may", "june", "july",
                                             "august", "september", "october", "november", "december" };

/* Reads 1..max digits. */
static int rd_num(const char **p, int min, int max, int *v) {
    int n = 0, x = 0;
    while (n < max && **p >= '0' && **p <= '9') {
        x = x * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    if (n < min) return -1;
    *v = x;
    return 0;
}

/* The fields a format read, with their defaults. */
typedef struct dt {
    int y, mo, d, h, mi, sec, off;
    int mo_digits; /* the month came from %m */
} dt;

/* Reads a zone: Z, +HH, +HHMM or +HH:MM. Returns 0 or -1. */
static int rd_zone(const char **p, int *off) {
    if (**p == 'Z' || **p == 'z') {
        (*p)++;
        return 0;
    }
    if (**p != '+' && **p != '-') return -1;
    int sign = *(*p)++ == '-' ? -1 : 1, oh, om = 0;
    if (rd_num(p, 2, 2, &oh)) return -1;
    if (**p == ':') (*p)++;
    if (**p >= '0' && **p <= '9' && rd_num(p, 2, 2, &om)) return -1;
    if (oh > 23 || om > 59) return -1;
    *off = sign * (oh * 60 + om);
    return 0;
}

/* Reads a month name, full (%B) or its first three letters (%b). Returns 0 or -1. */
static int rd_month(const char **p, int full, int *mo) {
    for (int k = 0; k < 12; k++) {
        size_t n = full ? strlen(month_names[k]) : 3;
        if (strncasecmp(*p, month_names[k], n) == 0) {
            *mo = k + 1;
            *p += n;
            return 0;
        }
    }
    return -1;
}

/* Reads what conversion c stands for at *p into t. Returns 0 or -1. */
static int rd_conv(char c, const char **p, dt *t) {
    int v;
    switch (c) {
    case 'Y': return rd_num(p, 4, 4, &t->y);
    case 'y':
        if (rd_num(p, 2, 2, &v)) return -1;
        t->y = v < 69 ? 2000 + v : 1900 + v;
        return 0;
    case 'm': t->mo_digits = 1; return rd_num(p, 1, 2, &t->mo);
    case 'e':
        if (**p == ' ') (*p)++;
        return rd_num(p, 1, 2, &t->d);
    case 'd': return rd_num(p, 1, 2, &t->d);
    case 'H': return rd_num(p, 1, 2, &t->h);
    case 'M': return rd_num(p, 1, 2, &t->mi);
    case 'S': return rd_num(p, 1, 2, &t->sec);
    case 'b':
    case 'B': return rd_month(p, c == 'B', &t->mo);
    case 'z': return rd_zone(p, &t->off);
    case '%': return *(*p)++ == '%' ? 0 : -1;
    default: return -1;
    }
}

int parse_date_format(const char *s, const char *fmt, int64_t *ms) {
    static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    dt t = { -1, 1, 1, 0, 0, 0, 0, 0 };
    const char *p = s, *f = fmt;
    while (*p == ' ' || (*p >= '\t' && *p <= '\r')) p++;
    for (; *f; f++) {
        if (*f == ' ') {
            if (!(*p == ' ' || (*p >= '\t' && *p <= '\r'))) return -1;
            while (*p == ' ' || (*p >= '\t' && *p <= '\r')) p++;
        } else if (*f != '%') {
            if (*p++ != *f) return -1;
        } else if (rd_conv(*++f, &p, &t) != 0) {
            return -1;
        }
    }
    while (*p == ' ' || (*p >= '\t' && *p <= '\r')) p++;
    if (*p || t.y < 0) return -1;
    if (t.mo_digits && t.mo > 12 && t.mo <= 31 && t.d >= 1 && t.d <= 12) return PARSE_DATE_SWAPPED;
    if (t.mo < 1 || t.mo > 12 || t.d < 1 || t.d > mdays[t.mo - 1] || t.h > 23 || t.mi > 59 || t.sec > 60) return -1;
    if (t.mo == 2 && t.d == 29 && !((t.y % 4 == 0 && t.y % 100 != 0) || t.y % 400 == 0)) return -1;
    int64_t days = parse_days_from_civil(t.y, (unsigned)t.mo, (unsigned)t.d);
    *ms = ((days * 86400 + t.h * 3600 + t.mi * 60 + t.sec) - (int64_t)t.off * 60) * 1000;
    return 0;
}
