/* conf.h -- the broker's configuration: flags and their ZCRAWL_ variables. */
#ifndef BROKER_CONF_H
#define BROKER_CONF_H

#include "broker.h"

/* Fills conf with the defaults, then the flags and variables, and checks every
 * start URL, --mode, --allow-host and --metrics; exits 2 after a one-line error
 * on a usage error (zc_flags_parse_or_exit answers --help and --version). Returns
 * the number of START_URL arguments (argv[1..n]). */
int broker_conf_parse(broker_conf *conf, int argc, char **argv);

#endif
