/* parse_time.h -- dates in pages: ISO 8601, strptime-like formats, the civil calendar.
 *
 * Pure functions over text; every result is ms since the epoch, UTC. */
#ifndef PARSE_TIME_H
#define PARSE_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (m 1..12). */
int64_t parse_days_from_civil(int64_t y, unsigned m, unsigned d);

/* Parses an ISO 8601 date or date-time: "2019-10-15", "2019-10-15T00:00:00Z",
 * "2019-10-15 08:00:00.123+08:00", "...+0800", "...-05"; no zone means UTC.
 * Returns 0 with *ms since the epoch, or -1 when s is not such a string. */
int parse_iso8601_ms(const char *s, int64_t *ms);

/* Checks a strptime-like format: %Y %y %m %d %e %H %M %S %b %B %z %%, other bytes
 * literal, a year required. Returns 0, or -1 with a one-line reason in why (the
 * format quoted, at most 60 bytes of it). */
int parse_date_format_check(const char *fmt, char *why, size_t whylen);

#define PARSE_DATE_SWAPPED (-2) /* parse_date_format: the month read by %m is 13..31 and the day 1..12 */

/* Parses s by a format parse_date_format_check accepted (a space matches any run of
 * whitespace; no zone means UTC). Returns 0 with *ms; PARSE_DATE_SWAPPED when the
 * month is 13 to 31 where the day would be a month (the data is likely day first
 * and the format month first); -1 for anything else that does not fit. */
int parse_date_format(const char *s, const char *fmt, int64_t *ms);

#endif
