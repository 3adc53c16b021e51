/* zc_redact.h -- URIs made fit to print: their credentials replaced by "***". */
#ifndef ZC_REDACT_H
#define ZC_REDACT_H

#include <stddef.h>

/* Writes uri into buf (cut to fit) with its whole userinfo ("user:password@")
 * replaced by "***@", also when the password holds '/', '?' or '#'
 * (redis://:pa/ss@host: for redis, rediss, mongodb and scheme-less URIs the
 * userinfo runs to the last '@', as their parsers read it), and the value of
 * every query parameter whose name holds "pass", "secret" or "token" (any case)
 * replaced by "***". A string without "://" is taken as a scheme-less
 * [password@]host[:port] (Redis accepts those). Returns buf; never fails. */
const char *zc_redact_uri(char *buf, size_t len, const char *uri);

#endif
