/* sim_http.h -- HTTP/1.x request-head parser: pure, bounded, safe on any bytes. */
#ifndef SIM_HTTP_H
#define SIM_HTTP_H

#include <stddef.h>

#define SIM_HTTP_MAX_HEAD    16384 /* request line plus headers */
#define SIM_HTTP_MAX_HEADERS 100
#define SIM_HTTP_MAX_BODY    (1L << 20)

typedef enum { SIM_M_GET,
               SIM_M_HEAD,
               SIM_M_POST,
               SIM_M_OTHER } sim_method;

/* A parsed request head. Pointers point into the caller's buffer and stay valid
 * while it is unchanged. */
typedef struct sim_request {
    sim_method method;
    const char *path; /* from '/' up to '?' (percent-escapes not decoded) */
    size_t path_len;
    const char *query; /* after '?', or NULL when there is none */
    size_t query_len;
    const char *host; /* Host header (or the absolute-form authority), or NULL */
    size_t host_len;
    const char *auth; /* Authorization header, or NULL */
    size_t auth_len;
    int minor;           /* HTTP/1.minor: 0 or 1 (anything above 1 counts as 1) */
    int keep_alive;      /* the connection may stay open after the answer */
    long content_length; /* body bytes that follow the head (0 when absent) */
} sim_request;

/* Parses the request head at buf[0..len). Returns the number of bytes the head
 * takes (empty lines before it included), 0 when more bytes are needed, or -1
 * when the bytes are not a request this server accepts (garbage, head longer than
 * SIM_HTTP_MAX_HEAD, transfer codings, bad Content-Length) with a reason in err. */
long sim_http_parse(const char *buf, size_t len, sim_request *req, char *err, size_t errlen);

/* A decimal in [0, 10^15) at s[0..n): 1 to 15 digits, nothing else (a
 * Content-Length, a query's count). Returns it, or -1 for anything else. */
long sim_http_count(const char *s, size_t n);

/* Steps through the '&'-separated parameters of q[0..n) (q may be NULL): from
 * *pos (0 at first) sets *kv and *kvlen to the next "key=value" (escapes not
 * decoded, possibly empty) and moves *pos past it. Returns 1, or 0 when none is left. */
int sim_http_query_next(const char *q, size_t n, size_t *pos, const char **kv, size_t *kvlen);

#endif
