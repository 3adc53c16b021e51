/* keygen.h -- CURVE keys for zcrawl: `zcrawl keygen DIR` for a deployment, and a
 * fresh set for each local pipeline that `zcrawl run` starts. */
#ifndef KEYGEN_H
#define KEYGEN_H

#include <stddef.h>

/* Writes a broker keypair and one keypair per stage role into dir (created when
 * missing, with mode dir_mode), and authorized/ with the stage roles' public
 * certificates. Refuses to replace existing keys unless force. Returns 0, or -1
 * with a one-line reason in err. */
int keygen_write(const char *dir, int dir_mode, int force, char *err, size_t errlen);

/* `zcrawl keygen [--force] DIR` (argv[1] is "keygen"). Returns the exit code. */
int cmd_keygen(int argc, char **argv);

/* The crawl secret's file name in a keys folder (zc_proof.h). */
#define KEYGEN_CRAWL_SECRET "crawl.secret"

/* The keys of a pipeline that `zcrawl run` starts: the --keys folder when one was
 * given, none with --insecure, else a fresh set in logdir/keys. The stages get
 * them through ZCRAWL_KEYS in the launcher's environment. With keys, the crawl
 * secret's absolute path goes to secret (the keys folder's crawl.secret, else a
 * fresh one in logdir), for the broker, parsers and writers only; "" without.
 * Returns 0, or -1 with a reason in err. */
int keygen_for_run(const char *logdir, char *secret, size_t secretlen, char *err, size_t errlen);

/* Writes redis.password, mongo.password, metrics.password and crawl.secret into
 * dir (random, mode 0600), keeping any already there unless force. Returns 0, or
 * -1 with a one-line reason in err. */
int keygen_passwords(const char *dir, int force, char *err, size_t errlen);

#endif
