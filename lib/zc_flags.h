/* zc_flags.h -- table-driven command-line flags, each with an environment twin.
 *
 * A stage declares a zc_flag table whose dest pointers hold the defaults. Parsing
 * applies the environment first, then argv, so a flag beats its variable. */
#ifndef ZC_FLAGS_H
#define ZC_FLAGS_H

#include <stdio.h>
#include <stddef.h>

typedef enum {
    ZC_FLAG_STR,    /* dest: const char ** (points into argv/environ, never freed) */
    ZC_FLAG_INT,    /* dest: long *, checked against [min, max] */
    ZC_FLAG_DOUBLE, /* dest: double *, checked against [min, max] */
    ZC_FLAG_BOOL    /* dest: int *; "--name" sets 1, env accepts 1/0/true/false */
} zc_flag_type;

typedef struct zc_flag {
    const char *name; /* "broker" is given as --broker VALUE or --broker=VALUE */
    const char *env;  /* "ZCRAWL_BROKER", or NULL */
    zc_flag_type type;
    void *dest;
    const char *help;
    double min, max; /* range for INT and DOUBLE; min == max means unchecked */
} zc_flag;

#define ZC_FLAGS_END \
    { NULL, NULL, ZC_FLAG_STR, NULL, NULL, 0, 0 }

enum { ZC_FLAGS_OK = 0,
       ZC_FLAGS_HELP = 1,
       ZC_FLAGS_VERSION = 2,
       ZC_FLAGS_ERR = -1 };

/* Parses the environment, then argv[1..]. Positional arguments are moved to the
 * front of argv[1..] and counted in *npos (may be NULL: then any positional
 * argument is an error). Returns ZC_FLAGS_OK, ZC_FLAGS_HELP for -h/--help,
 * ZC_FLAGS_VERSION for --version, or ZC_FLAGS_ERR with a one-line reason in err. */
int zc_flags_parse(const zc_flag *flags, int argc, char **argv, int *npos,
                   char *err, size_t errlen);
/* Prints "usage: PROG SYNOPSIS", the summary and one line per flag with its default. */
void zc_flags_usage(FILE *f, const char *prog, const char *synopsis,
                    const char *summary, const zc_flag *flags);
/* The build's version: `git describe --always --dirty` of the source tree it was
 * built from, or "unknown" when that was not a git checkout. A static string. */
const char *zc_version(void);
/* Prints "PROG VERSION" and a newline. */
void zc_flags_print_version(FILE *f, const char *prog);
/* The usual ending of a stage's flag parsing: prints usage and exits 0 on
 * --help, prints "PROG VERSION" and exits 0 on --version, prints
 * "PROG: error: REASON" and exits 2 on a bad flag. */
void zc_flags_parse_or_exit(const zc_flag *flags, int argc, char **argv, int *npos,
                            const char *prog, const char *synopsis, const char *summary);

#endif
