/* fetch_outcome.c -- what a finished transfer means for the broker (DONE's outcome). */
#include "fetch_outcome.h"

#include <stdio.h>

const char *fetch_outcome_name(fetch_outcome o) {
    switch (o) {
    case FETCH_OK: return "ok";
    case FETCH_RETRY: return "retry";
    case FETCH_REDIRECT: return "redirect";
    default: return "fail";
    }
}

fetch_outcome fetch_classify(CURLcode rc, long status, int too_large, int oom,
                             char *reason, size_t reasonlen) {
    if (too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(reason, reasonlen, "body too large");
        return FETCH_FAIL;
    }
    if (oom) {
        snprintf(reason, reasonlen, "out of memory");
        return FETCH_RETRY;
    }
    if (rc == CURLE_OK) {
        if (status >= 200 && status <= 299) {
            snprintf(reason, reasonlen, "%s", "");
            return FETCH_OK;
        }
        snprintf(reason, reasonlen, "http %ld", status);
        if (status == 408 || status == 429 || (status >= 500 && status <= 599) || status < 100)
            return FETCH_RETRY;
        return FETCH_FAIL; /* 404/410 gone, other 4xx, unfollowed 3xx, odd codes */
    }
    snprintf(reason, reasonlen, "curl: %s", curl_easy_strerror(rc));
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_TOO_MANY_REDIRECTS:
        return FETCH_FAIL; /* asking again gives the same answer */
    default:
        return FETCH_RETRY; /* timeouts, refused/reset connections, partial bodies, DNS */
    }
}

int64_t fetch_retry_after_ms(curl_off_t secs, int64_t cap_ms) {
    if (secs <= 0 || cap_ms <= 0) return 0;
    if (secs >= cap_ms / 1000 + 1) return cap_ms; /* also keeps secs * 1000 from overflowing */
    int64_t ms = (int64_t)secs * 1000;
    return ms > cap_ms ? cap_ms : ms;
}
