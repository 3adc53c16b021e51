/* zc_redact.h -- URIs made fit to print: their credentials replaced by "***". */
#ifndef ZC_REDACT_H
#define ZC_REDACT_H

#include <stddef.h>

/* Writes uri into buf (cut to fit) with its userinfo ("user:password@") replaced
 * by "***@" and the value of every query parameter whose name holds "pass",
 * "secret" or "token" (any case) replaced by "***". A string without "://" is
 * taken as a scheme-less host[:port] (Redis accepts those). Returns buf. */
const char *zc_redact_uri(char *buf, size_t len, const char *uri);

#endif
