/* status_peers.c -- the broker's peers as one JSON array (the stats hash's field
 * peers), so that `zcrawl status` and the status page can show each stage by
 * role with when the broker last heard from it. */
#include "status_peers.h"

#include <stdio.h>
#include <string.h>

#include "zc_crawlstat.h"
#include "zc_json.h"
#include "zc_time.h"

/* Appends s as a JSON string (quotes included). Returns 0, or -1 when out of memory. */
static int add_jstr(zc_buf *out, const char *s) {
    size_t n = strlen(s);
    if (zc_buf_reserve(out, ZC_JSON_ESCAPED_MAX(n) + 2) != 0) return -1;
    out->p[out->len++] = '"';
    out->len += zc_json_escape(out->p + out->len, s, n);
    out->p[out->len++] = '"';
    return 0;
}

static int add_fmt(zc_buf *out, const char *fmt, long long a, long long b, long long c) {
    char tmp[160];
    int n = snprintf(tmp, sizeof(tmp), fmt, a, b, c);
    return n < 0 || (size_t)n >= sizeof(tmp) ? -1 : zc_buf_add(out, tmp, (size_t)n, 0);
}

int broker_peers_json(dispatch *d, int64_t now, int64_t wall, zc_buf *out) {
    out->len = 0;
    if (zc_buf_add(out, "[", 1, 0) != 0) return -1;
    int n = 0;
    for (size_t i = 0; i < dispatch_peer_slots(d) && n < ZC_CS_PEERS_MAX; i++) {
        const dispatch_peer *p = dispatch_peer_at(d, (int)i);
        if (!p || !p->name[0]) continue; /* no HELLO yet: nothing to show it by */
        const char *state = p->closed ? "gone" : (p->paused ? "silent" : "live");
        long long seen = (long long)(wall - (now - p->last_seen));
        if ((n++ && zc_buf_add(out, ",", 1, 0) != 0) || zc_buf_add(out, "{\"name\":", 8, 0) != 0 ||
            add_jstr(out, p->name) != 0 || zc_buf_add(out, ",\"role\":", 8, 0) != 0 ||
            add_jstr(out, dispatch_role_name(p->role)) != 0 || zc_buf_add(out, ",\"state\":", 9, 0) != 0 ||
            add_jstr(out, state) != 0 ||
            add_fmt(out, ",\"seen\":%lld,\"credit\":%lld,\"jobs\":%lld", seen, p->credit, (long long)p->held.n) != 0)
            return -1;
        if (p->cond[0] && (zc_buf_add(out, ",\"condition\":", 13, 0) != 0 || add_jstr(out, p->cond) != 0 ||
                           zc_buf_add(out, ",\"detail\":", 10, 0) != 0 || add_jstr(out, p->detail) != 0))
            return -1;
        if (zc_buf_add(out, "}", 1, 0) != 0) return -1;
    }
    return zc_buf_add(out, "]", 2, 0); /* with its terminator */
}
