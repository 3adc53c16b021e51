/* zc_addr.h -- classifies IP addresses: public, or one of the special ranges
 * (loopback, private, link-local, ...) a crawler must not reach unless told to.
 *
 * The ranges are IANA's special-purpose registries for IPv4 and IPv6. An IPv6
 * address that carries an IPv4 one (v4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96,
 * 6to4 2002::/16) is judged by the IPv4 address inside; any other IPv6 address
 * outside global unicast 2000::/3 is reserved. */
#ifndef ZC_ADDR_H
#define ZC_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

typedef enum {
    ZC_ADDR_PUBLIC = 0,  /* anything not listed below */
    ZC_ADDR_UNSPECIFIED, /* 0.0.0.0/8, ::/128 */
    ZC_ADDR_LOOPBACK,    /* 127.0.0.0/8, ::1/128 */
    ZC_ADDR_PRIVATE,     /* 10/8, 172.16/12, 192.168/16, fc00::/7, fec0::/10, 64:ff9b:1::/48 */
    ZC_ADDR_LINKLOCAL,   /* 169.254/16, fe80::/10 */
    ZC_ADDR_CGNAT,       /* 100.64/10 (shared address space) */
    ZC_ADDR_MULTICAST,   /* 224/4, ff00::/8 */
    ZC_ADDR_RESERVED     /* documentation, benchmarking, IETF, 240/4, broadcast, the rest of IPv6 */
} zc_addr_class;

/* Class of an IPv4 address given in host byte order. */
zc_addr_class zc_addr_classify_v4(unsigned long ip);
/* Class of an IPv6 address (16 bytes, network order). */
zc_addr_class zc_addr_classify_v6(const unsigned char ip[16]);
/* Class of a socket address; a family other than AF_INET/AF_INET6 (or NULL) is
 * ZC_ADDR_RESERVED, so that a caller blocking non-public addresses blocks it. */
zc_addr_class zc_addr_classify(const struct sockaddr *sa);
/* Class of an IP literal ("10.0.0.1", "::1", "[::1]" as in a URL's host). Returns
 * 0 with *out set, or -1 when text is not a numeric IPv4 or IPv6 address. */
int zc_addr_classify_text(const char *text, zc_addr_class *out);
/* "public", "loopback", "private", ... */
const char *zc_addr_class_name(zc_addr_class c);
/* Whether a crawl of url needs the fetchers' --allow-private: 1 when its host is,
 * or resolves to, at least one address that is not public (an IP literal as
 * written; "localhost" and any "*.localhost" name as loopback, the way libcurl
 * resolves them; any other name through getaddrinfo, which may block on DNS),
 * 0 when every address is public, -1 with a one-line reason in err when url has
 * no host or the name does not resolve. */
int zc_addr_url_private(const char *url, char *err, size_t errlen);
/* Writes the numeric text of sa's address into buf. Returns 0, or -1 (buf then
 * holds "?") for another family or a buffer too small (46 bytes always fit). */
int zc_addr_format(const struct sockaddr *sa, char *buf, size_t len);

#endif
