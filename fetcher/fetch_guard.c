/* fetch_guard.c -- the SSRF guard on the address each connection really uses. */
#include "fetch_guard.h"

#include <sys/socket.h>
#include <unistd.h>

#include "zc_addr.h"
#include "zc_log.h"

int fetch_guard_wanted(int allow_private, const char *proxy) {
    int proxied = proxy && *proxy;
    if (!allow_private && proxied)
        zc_warn("address_guard_off", "reason=\"a proxy is set: the proxy must refuse private addresses\"");
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
