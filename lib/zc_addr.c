/* zc_addr.c -- IP address classes for the SSRF guard (IANA special-purpose ranges). */
#include "zc_addr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

typedef struct {
    unsigned long net;
    int bits;
    zc_addr_class cls;
} v4_range;

/* Most specific first where ranges nest (none do today). */
static const v4_range v4_ranges[] = {
    { 0x00000000UL, 8, ZC_ADDR_UNSPECIFIED }, /* 0.0.0.0/8 "this network" */
    { 0x0A000000UL, 8, ZC_ADDR_PRIVATE },     /* 10.0.0.0/8 */
    { 0x64400000UL, 10, ZC_ADDR_CGNAT },      /* 100.64.0.0/10 */
    { 0x7F000000UL, 8, ZC_ADDR_LOOPBACK },    /* 127.0.0.0/8 */
    { 0xA9FE0000UL, 16, ZC_ADDR_LINKLOCAL },  /* 169.254.0.0/16 */
    { 0xAC100000UL, 12, ZC_ADDR_PRIVATE },    /* 172.16.0.0/12 */
    { 0xC0000000UL, 24, ZC_ADDR_RESERVED },   /* 192.0.0.0/24 IETF protocol assignments */
    { 0xC0000200UL, 24, ZC_ADDR_RESERVED },   /* 192.0.2.0/24 TEST-NET-1 */
    { 0xC0586300UL, 24, ZC_ADDR_RESERVED },   /* 192.88.99.0/24 6to4 relay anycast */
    { 0xC0A80000UL, 16, ZC_ADDR_PRIVATE },    /* 192.168.0.0/16 */
    { 0xC6120000UL, 15, ZC_ADDR_RESERVED },   /* 198.18.0.0/15 benchmarking */
    { 0xC6336400UL, 24, ZC_ADDR_RESERVED },   /* 198.51.100.0/24 TEST-NET-2 */
    { 0xCB007100UL, 24, ZC_ADDR_RESERVED },   /* 203.0.113.0/24 TEST-NET-3 */
    { 0xE0000000UL, 4, ZC_ADDR_MULTICAST },   /* 224.0.0.0/4 */
    { 0xF0000000UL, 4, ZC_ADDR_RESERVED },    /* 240.0.0.0/4, 255.255.255.255 included */
};

zc_addr_class zc_addr_classify_v4(unsigned long ip) {
    ip &= 0xFFFFFFFFUL;
    for (size_t i = 0; i < sizeof(v4_ranges) / sizeof(v4_ranges[0]); i++) {
        unsigned long mask = (0xFFFFFFFFUL << (32 - v4_ranges[i].bits)) & 0xFFFFFFFFUL;
        if ((ip & mask) == v4_ranges[i].net) return v4_ranges[i].cls;
    }
    return ZC_ADDR_PUBLIC;
}

static unsigned long v4_at(const unsigned char *p) {
    return ((unsigned long)p[0] << 24) | ((unsigned long)p[1] << 16) | ((unsigned long)p[2] << 8) | p[3];
}

/* 1 when the first bits of ip equal those of prefix. */
static int v6_in(const unsigned char ip[16], const unsigned char *prefix, int bits) {
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(ip, prefix, (size_t)whole) != 0) return 0;
    if (rest == 0) return 1;
    unsigned char mask = (unsigned char)(0xFF << (8 - rest));
    return (ip[whole] & mask) == (prefix[whole] & mask);
}

zc_addr_class zc_addr_classify_v6(const unsigned char ip[16]) {
    static const unsigned char zero[16] = { 0 };
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF };
    static const unsigned char nat64[12] = { 0x00, 0x64, 0xFF, 0x9B };
    static const unsigned char nat64_local[6] = { 0x00, 0x64, 0xFF, 0x9B, 0x00, 0x01 };
    static const unsigned char sixto4[2] = { 0x20, 0x02 };
    static const unsigned char ietf[3] = { 0x20, 0x01, 0x00 };      /* 2001::/23 */
    static const unsigned char doc[4] = { 0x20, 0x01, 0x0D, 0xB8 }; /* 2001:db8::/32 */
    static const unsigned char doc2[3] = { 0x3F, 0xFF, 0x00 };      /* 3fff::/20 */
    static const unsigned char discard[8] = { 0x01, 0x00 };         /* 100::/64 */

    if (memcmp(ip, zero, 15) == 0 && ip[15] == 0) return ZC_ADDR_UNSPECIFIED;
    if (memcmp(ip, zero, 15) == 0 && ip[15] == 1) return ZC_ADDR_LOOPBACK;
    if (memcmp(ip, mapped, 12) == 0) return zc_addr_classify_v4(v4_at(ip + 12));
    if (v6_in(ip, nat64, 96)) return zc_addr_classify_v4(v4_at(ip + 12));
    if (v6_in(ip, nat64_local, 48)) return ZC_ADDR_PRIVATE;
    if (v6_in(ip, sixto4, 16)) {
        zc_addr_class c = zc_addr_classify_v4(v4_at(ip + 2));
        return c; /* a public IPv4 inside is as public as the 6to4 address */
    }
    if (ip[0] == 0xFF) return ZC_ADDR_MULTICAST;                           /* ff00::/8 */
    if ((ip[0] & 0xFE) == 0xFC) return ZC_ADDR_PRIVATE;                    /* fc00::/7 */
    if (ip[0] == 0xFE && (ip[1] & 0xC0) == 0x80) return ZC_ADDR_LINKLOCAL; /* fe80::/10 */
    if (ip[0] == 0xFE && (ip[1] & 0xC0) == 0xC0) return ZC_ADDR_PRIVATE;   /* fec0::/10 site-local */
    if (v6_in(ip, discard, 64)) return ZC_ADDR_RESERVED;
    if (v6_in(ip, doc, 32) || v6_in(ip, doc2, 20) || v6_in(ip, ietf, 23)) return ZC_ADDR_RESERVED;
    if ((ip[0] & 0xE0) != 0x20) return ZC_ADDR_RESERVED; /* outside 2000::/3 */
    return ZC_ADDR_PUBLIC;
}

zc_addr_class zc_addr_classify(const struct sockaddr *sa) {
    if (!sa) return ZC_ADDR_RESERVED;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return zc_addr_classify_v4(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        return zc_addr_classify_v6(in6->sin6_addr.s6_addr);
    }
    return ZC_ADDR_RESERVED;
}

int zc_addr_classify_text(const char *text, zc_addr_class *out) {
    char buf[INET6_ADDRSTRLEN + 2];
    if (!text) return -1;
    size_t n = strlen(text);
    if (n >= 2 && text[0] == '[' && text[n - 1] == ']') {
        text++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(buf)) return -1;
    memcpy(buf, text, n);
    buf[n] = '\0';
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        *out = zc_addr_classify_v4(ntohl(a4.s_addr));
        return 0;
    }
    if (inet_pton(AF_INET6, buf, &a6) == 1) {
        *out = zc_addr_classify_v6(a6.s6_addr);
        return 0;
    }
    return -1;
}

const char *zc_addr_class_name(zc_addr_class c) {
    switch (c) {
    case ZC_ADDR_PUBLIC: return "public";
    case ZC_ADDR_UNSPECIFIED: return "unspecified";
    case ZC_ADDR_LOOPBACK: return "loopback";
    case ZC_ADDR_PRIVATE: return "private";
    case ZC_ADDR_LINKLOCAL: return "link-local";
    case ZC_ADDR_CGNAT: return "cgnat";
    case ZC_ADDR_MULTICAST: return "multicast";
    case ZC_ADDR_RESERVED: return "reserved";
    }
    return "reserved";
}

int zc_addr_format(const struct sockaddr *sa, char *buf, size_t len) {
    const void *a = NULL;
    if (sa && sa->sa_family == AF_INET) a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (sa && sa->sa_family == AF_INET6) a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if (a && len <= (socklen_t)-1 && inet_ntop(sa->sa_family, a, buf, (socklen_t)len)) return 0;
    if (len >= 2) snprintf(buf, len, "?");
    return -1;
}

/* 1 for "localhost", "localhost." and any name under it. */
static int is_localhost_name(const char *h) {
    size_t n = strlen(h);
    if (n && h[n - 1] == '.') n--;
    if (n == 9 && strncasecmp(h, "localhost", 9) == 0) return 1;
    return n > 10 && strncasecmp(h + n - 10, ".localhost", 10) == 0;
}

int zc_addr_url_private(const char *url, char *err, size_t errlen) {
    char *host = NULL;
    int rc = -1;
    CURLU *u = curl_url();
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url ? url : "", 0);
    if (uc == CURLUE_OK) uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    if (uc != CURLUE_OK || !host || !*host) {
        snprintf(err, errlen, "no host in URL (%s)", curl_url_strerror(uc));
        goto out;
    }
    zc_addr_class c;
    if (zc_addr_classify_text(host, &c) == 0) {
        rc = c != ZC_ADDR_PUBLIC;
        goto out;
    }
    if (is_localhost_name(host)) {
        rc = 1;
        goto out;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(gai));
        goto out;
    }
    rc = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (zc_addr_classify(ai->ai_addr) != ZC_ADDR_PUBLIC) rc = 1;
    freeaddrinfo(res);
out:
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}
