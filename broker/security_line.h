/* security_line.h -- the broker's first log line: what protects each endpoint. */
#ifndef BROKER_SECURITY_LINE_H
#define BROKER_SECURITY_LINE_H

#include "broker.h"

/* Logs (info, event=security) each ZeroMQ endpoint with curve or plain, the
 * --metrics address with how it is guarded (basic-auth, loopback-only or open),
 * Redis with password or none (its link is never encrypted), and whether JOBs
 * carry proofs of lease (proof set: the crawl secret is loaded). Never fails. */
void broker_security_log(const broker_conf *conf, int proof);

#endif
