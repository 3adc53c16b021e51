/* try.h -- `zcrawl try`: what one page yields under a spec, by zcrawl-parser --try. */
#ifndef TRY_H
#define TRY_H

/* `zcrawl try [--spec FILE] [--page-url URL] [--link VALUE] URL|FILE` (argv[1] is
 * "try"): runs zcrawl-parser --try from the zcrawl executables' folder in this
 * process (exec), so its output and exit code are the command's: 0 when the page
 * yielded a document or a URL, 1 when not, 2 on a usage error. */
int cmd_try(int argc, char **argv);

#endif
