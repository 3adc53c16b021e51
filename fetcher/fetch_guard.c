/* fetch_guard.c -- the SSRF guard on the address each connection really uses. */
#include "fetch_guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zc_addr.h"
#include "zc_log.h"
#include "zc_redact.h"

/* libcurl reads these (in either case, but for HTTP_PROXY, which CGI lets a
 * request set); a proxy from them would see every request and leave the guard
 * only the proxy's address to judge. */
static const char *const proxy_vars[] = { "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                                          "no_proxy", "NO_PROXY", NULL };

int fetch_guard_wanted(int allow_private, const char *proxy) {
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
    return !allow_private && !proxied;
}

void fetch_guard_reset(fetch_guard *g) {
    g->blocked = g->opened = 0;
    g->blocked_ip[0] = '\0';
}

curl_socket_t fetch_guard_open(void *guard, curlsocktype purpose, struct curl_sockaddr *a) {
    fetch_guard *g = guard;
    if (g->on && purpose == CURLSOCKTYPE_IPCXN) {
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
