/* security_line.c -- the broker's first log line says what protects each of its
 * endpoints and where peers' roles come from (their keys, or their HELLO when
 * there are none), so an operator reading one log knows what is open. */
#include "security_line.h"

#include <stdio.h>
#include <string.h>

#include "zc_curve.h"
#include "zc_log.h"
#include "zc_redis.h"

void broker_security_log(const broker_conf *conf, int proof) {
    const char *mech = zc_curve_enabled() ? "curve" : "plain";
    char metrics[320] = "off", redis[200];
    if (conf->metrics && *conf->metrics) {
        char host[256] = "";
        int port = 0, loop = 0;
        char err[160];
        if (broker_metrics_parse_addr(conf->metrics, host, sizeof(host), &port, err, sizeof(err)) == 0)
            loop = broker_metrics_loopback(host);
        int pw = conf->metrics_password_file && *conf->metrics_password_file;
        snprintf(metrics, sizeof(metrics), "%.250s %s", conf->metrics,
                 pw ? "basic-auth" : (loop ? "loopback-only" : "open"));
    }
    zc_redis_addr a;
    char err[256];
    if (zc_redis_parse(conf->redis, &a, err, sizeof(err)) == 0)
        snprintf(redis, sizeof(redis), "%.128s:%d %s unencrypted", a.host, a.port,
                 a.password[0] ? "password" : "no-password");
    else snprintf(redis, sizeof(redis), "unparsed");
    /* With keys a peer's role is its key's (the ZAP User-Id); without, it is
     * whatever its HELLO says, and any peer that can connect may claim any. */
    const char *roles = zc_curve_enabled() ? "from_key" : "from_hello";
    zc_info("security",
            "control=\"%s %s\" pages_in=\"%s %s\" pages_out=\"%s %s\" docs_in=\"%s %s\" docs_out=\"%s %s\" "
            "metrics=\"%s\" redis=\"%s\" roles=%s max_credit=\"%ld per %s\" proof=%s",
            conf->control, mech, conf->pages_in, mech, conf->pages_out, mech, conf->docs_in, mech, conf->docs_out,
            mech, metrics, redis, roles, conf->max_credit, zc_curve_enabled() ? "key" : "connection",
            proof ? "\"hmac-sha256 (--secret-file): pages and documents must prove their lease\""
                  : "\"off: no --secret-file, a fetcher's key can hand in pages for URLs it was not given\"");
}
