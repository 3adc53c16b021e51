/* fetch_guard.c -- the SSRF guard on the address each connection really uses. */
#include "fetch_guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zc_addr.h"
#include "zc_log.h"
#include "zc_redact.h"
#include "zc_scope.h"

/* libcurl reads these (in either case, but for HTTP_PROXY, which CGI lets a
 * request set); a proxy from them would see every request and leave the guard
 * only the proxy's address to judge. */
static const char *const proxy_vars[] = { "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                                          "no_proxy", "NO_PROXY", NULL };

int fetch_guard_wanted(int allow_private, const char *origins, const char *proxy) {
    char vars[160] = "", buf[256];
    size_t n = 0;
    for (int i = 0; proxy_vars[i]; i++) {
        const char *v = getenv(proxy_vars[i]);
        if (!v || !*v) continue;
        int w = snprintf(vars + n, sizeof(vars) - n, "%s%s", n ? "," : "", proxy_vars[i]);
        if (w > 0 && (size_t)w < sizeof(vars) - n) n += (size_t)w;
    }
    if (n)
        zc_warn("proxy_env_ignored", "vars=%s proxy=\"%s\" reason=\"only --proxy (ZCRAWL_PROXY) sets a proxy\"", vars,
                proxy && *proxy ? zc_redact_uri(buf, sizeof(buf), proxy) : "none");
    int proxied = proxy && *proxy;
    if (!allow_private && proxied)
        zc_warn("address_guard_off", "proxy=\"%s\" reason=\"every request goes to the proxy, which must refuse private "
                                     "addresses itself\"",
                zc_redact_uri(buf, sizeof(buf), proxy));
    if (!allow_private && !proxied && origins && *origins)
        zc_warn("address_guard_exempt", "origins=\"%s\" reason=\"named by the user; every other origin is refused "
                                        "private addresses\"",
                origins);
    return !allow_private && !proxied;
}

int fetch_guard_check_origins(const char *list, char *err, size_t errlen) {
    if (!list) return 0;
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char entry[ZC_SCOPE_ORIGIN_MAX], origin[ZC_SCOPE_ORIGIN_MAX], why[128];
        if (len == 0 || len >= sizeof(entry)) goto bad;
        memcpy(entry, p, len);
        entry[len] = '\0';
        if (zc_scope_origin(entry, origin, sizeof(origin), why, sizeof(why)) != 0 || strcmp(origin, entry) != 0) goto bad;
        if (!end) break;
        p = end + 1;
        continue;
    bad:
        snprintf(err, errlen, "'%.*s' is not an origin such as http://127.0.0.1:8080", (int)(len > 200 ? 200 : len), p);
        return -1;
    }
    return 0;
}

int fetch_guard_exempt(const char *list, const char *url) {
    if (!list || !*list) return 0;
    char origin[ZC_SCOPE_ORIGIN_MAX], err[64];
    if (zc_scope_origin(url, origin, sizeof(origin), err, sizeof(err)) != 0) return 0;
    size_t n = strlen(origin);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, origin, n) == 0) return 1;
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

void fetch_guard_reset(fetch_guard *g) {
    g->blocked = g->opened = 0;
    g->blocked_ip[0] = '\0';
}

curl_socket_t fetch_guard_open(void *guard, curlsocktype purpose, struct curl_sockaddr *a) {
    fetch_guard *g = guard;
    if (g->on && !g->exempt && purpose == CURLSOCKTYPE_IPCXN) {
        zc_addr_class c = zc_addr_classify(&a->addr);
        if (c != ZC_ADDR_PUBLIC) {
            zc_addr_format(&a->addr, g->blocked_ip, sizeof(g->blocked_ip));
            g->blocked = 1;
            zc_debug("blocked_address", "ip=%s class=%s", g->blocked_ip, zc_addr_class_name(c));
            return CURL_SOCKET_BAD;
        }
    }
    curl_socket_t s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (s != CURL_SOCKET_BAD) {
        g->opened = 1;
        (*g->sockets)++;
    }
    return s;
}

int fetch_guard_close(void *sockets, curl_socket_t s) {
    (*(long *)sockets)--;
    return close(s);
}

int fetch_guard_refused_all(const fetch_guard *g) { return g->blocked && !g->opened; }
