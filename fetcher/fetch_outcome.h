/* fetch_outcome.h -- what a finished transfer means for the broker (DONE's outcome). */
#ifndef FETCH_OUTCOME_H
#define FETCH_OUTCOME_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>

typedef enum { FETCH_OK = 0,
               FETCH_RETRY,
               FETCH_FAIL,
               FETCH_REDIRECT } fetch_outcome;

/* "ok", "retry", "fail" or "redirect". */
const char *fetch_outcome_name(fetch_outcome o);
/* Classifies a transfer from curl's result, the HTTP status (0 if none) and
 * whether the body went over the cap; writes the DONE reason into reason
 * ("" for ok, "http 503", "curl: Timeout was reached", "body too large"). */
fetch_outcome fetch_classify(CURLcode rc, long status, int too_large, int oom,
                             char *reason, size_t reasonlen);
/* The delay to pass on from CURLINFO_RETRY_AFTER (seconds; libcurl parses both
 * delay-seconds and HTTP-dates, 0 when absent or unparsable): in milliseconds,
 * 0 for a negative value, at most cap_ms. */
int64_t fetch_retry_after_ms(curl_off_t secs, int64_t cap_ms);

#endif
