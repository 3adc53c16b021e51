/* try.c -- `zcrawl try`: what one page yields under a spec, by zcrawl-parser --try.
 *
 * The spec engine lives in zcrawl-parser, so `try` hands the page to it rather than
 * linking the parser into the launcher: the same code reads the page here as in a
 * crawl. */
#include "try.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "zc_flags.h"
#include "zc_log.h"

int cmd_try(int argc, char **argv) {
    const char *spec = NULL, *page_url = NULL, *link = NULL, *bin_dir = NULL;
    const zc_flag flags[] = {
        { "spec", "ZCRAWL_SPEC", ZC_FLAG_STR, &spec, "crawl spec (docs/SPEC.md; default: the built-in specs/books.json)", 0, 0 },
        { "page-url", NULL, ZC_FLAG_STR, &page_url, "a page FILE: the URL it came from (which rule, and {origin})", 0, 0 },
        { "link", NULL, ZC_FLAG_STR, &link, "a page FILE: its Link response header (link pagination)", 0, 0 },
        { "bin-dir", "ZCRAWL_BIN_DIR", ZC_FLAG_STR, &bin_dir, "folder of zcrawl-parser (default: beside zcrawl)", 0, 0 },
        ZC_FLAGS_END
    };
    int npos = 0;
    zc_flags_parse_or_exit(flags, argc - 1, argv + 1, &npos, CLI_PROG " try", "[--spec FILE] [--page-url URL] [--link VALUE] URL|FILE",
                           "Shows what one page yields under a spec, before a crawl: every document and URL, and for\n"
                           "every field what its path found and what it became, or why it is null. A URL is fetched\n"
                           "(with the spec's headers); a FILE is read, with --page-url naming where it came from.\n"
                           "Exit 0 when the page yielded a document or a URL, 1 when not, 2 on a usage error.");
    if (npos != 1) zc_die(CLI_EXIT_USAGE, CLI_PROG, "try: give one page, a URL or a FILE (see %s try --help)", CLI_PROG);
    char exe[PATH_MAX];
    int n;
    if (bin_dir) {
        n = snprintf(exe, sizeof(exe), "%s/zcrawl-parser", bin_dir);
    } else {
        ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        char *slash = k > 0 ? memrchr(exe, '/', (size_t)k) : NULL;
        if (!slash) zc_die(CLI_EXIT_USAGE, CLI_PROG, "try: cannot find the folder of the zcrawl executables (use --bin-dir)");
        *slash = '\0';
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", exe);
        n = snprintf(exe, sizeof(exe), "%s/zcrawl-parser", dir);
    }
    if (n < 0 || (size_t)n >= sizeof(exe)) zc_die(CLI_EXIT_USAGE, CLI_PROG, "try: --bin-dir path too long");
    char *av[12];
    int a = 0;
    av[a++] = exe;
    av[a++] = "--try";
    av[a++] = argv[2];
    if (spec) av[a++] = "--spec", av[a++] = (char *)spec;
    if (page_url) av[a++] = "--page-url", av[a++] = (char *)page_url;
    if (link) av[a++] = "--link", av[a++] = (char *)link;
    av[a] = NULL;
    if (fflush(stdout) != 0) zc_die(CLI_EXIT_USAGE, CLI_PROG, "try: stdout: %s", strerror(errno));
    execv(exe, av);
    zc_die(CLI_EXIT_USAGE, CLI_PROG, "try: cannot run %s: %s (build with make)", exe, strerror(errno));
}
