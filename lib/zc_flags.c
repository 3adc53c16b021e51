/* zc_flags.c -- table-driven command-line flags, each with an environment twin. */
#include "zc_flags.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zc_redact.h"

static const zc_flag *flag_find(const zc_flag *flags, const char *name, size_t len) {
    for (const zc_flag *f = flags; f->name; f++)
        if (strlen(f->name) == len && strncmp(f->name, name, len) == 0) return f;
    return NULL;
}

/* Stores value into f->dest. Returns 0, or -1 with a reason in err. */
static int flag_set(const zc_flag *f, const char *value, const char *origin,
                    char *err, size_t errlen) {
    char *end;
    switch (f->type) {
    case ZC_FLAG_STR:
        *(const char **)f->dest = value;
        return 0;
    case ZC_FLAG_INT: {
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end) goto bad;
        if (f->min != f->max && (v < f->min || v > f->max)) goto range;
        *(long *)f->dest = v;
        return 0;
    }
    case ZC_FLAG_DOUBLE: {
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end || v != v) goto bad;
        if (f->min != f->max && (v < f->min || v > f->max)) goto range;
        *(double *)f->dest = v;
        return 0;
    }
    case ZC_FLAG_BOOL:
        if (!strcmp(value, "1") || !strcasecmp(value, "true") || !strcasecmp(value, "yes")) {
            *(int *)f->dest = 1;
            return 0;
        }
        if (!strcmp(value, "0") || !strcasecmp(value, "false") || !strcasecmp(value, "no")) {
            *(int *)f->dest = 0;
            return 0;
        }
        goto bad;
    }
bad:
    snprintf(err, errlen, "%s --%s: '%s' is not a valid %s", origin, f->name, value,
             f->type == ZC_FLAG_BOOL ? "boolean" : "number");
    return -1;
range:
    snprintf(err, errlen, "%s --%s: %s is outside %g..%g", origin, f->name, value, f->min, f->max);
    return -1;
}

int zc_flags_parse(const zc_flag *flags, int argc, char **argv, int *npos,
                   char *err, size_t errlen) {
    for (const zc_flag *f = flags; f->name; f++) {
        const char *v = f->env ? getenv(f->env) : NULL;
        if (v && *v) {
            char origin[96];
            snprintf(origin, sizeof(origin), "environment %s for", f->env);
            if (flag_set(f, v, origin, err, errlen) != 0) return ZC_FLAGS_ERR;
        }
    }
    int pos = 0, only_pos = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (!npos) {
                char shown[256];
                snprintf(err, errlen, "unexpected argument '%s'", zc_redact_uri(shown, sizeof(shown), a));
                return ZC_FLAGS_ERR;
            }
            argv[1 + pos++] = a;
            continue;
        }
        if (!strcmp(a, "--")) { only_pos = 1; continue; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return ZC_FLAGS_HELP;
        if (a[1] != '-') {
            snprintf(err, errlen, "unknown flag '%s' (flags are --name)", a);
            return ZC_FLAGS_ERR;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const zc_flag *f = flag_find(flags, name, nlen);
        if (!f) {
            snprintf(err, errlen, "unknown flag '--%.*s' (see --help)", (int)nlen, name);
            return ZC_FLAGS_ERR;
        }
        const char *value;
        if (eq) value = eq + 1;
        else if (f->type == ZC_FLAG_BOOL) value = "1";
        else if (i + 1 < argc) value = argv[++i];
        else {
            snprintf(err, errlen, "flag --%s needs a value", f->name);
            return ZC_FLAGS_ERR;
        }
        if (flag_set(f, value, "flag", err, errlen) != 0) return ZC_FLAGS_ERR;
    }
    if (npos) *npos = pos;
    return ZC_FLAGS_OK;
}

void zc_flags_usage(FILE *f, const char *prog, const char *synopsis,
                    const char *summary, const zc_flag *flags) {
    fprintf(f, "usage: %s %s\n", prog, synopsis ? synopsis : "[flags]");
    if (summary) fprintf(f, "\n%s\n", summary);
    fprintf(f, "\nflags (each also read from its environment variable):\n");
    for (const zc_flag *fl = flags; fl->name; fl++) {
        char def[128] = "";
        switch (fl->type) {
        case ZC_FLAG_STR: {
            const char *v = *(const char **)fl->dest;
            /* Defaults come from the environment too: a URI's password stays hidden. */
            zc_redact_uri(def, sizeof(def), v ? v : "(none)");
            break;
        }
        case ZC_FLAG_INT: snprintf(def, sizeof(def), "%ld", *(long *)fl->dest); break;
        case ZC_FLAG_DOUBLE: snprintf(def, sizeof(def), "%g", *(double *)fl->dest); break;
        case ZC_FLAG_BOOL: snprintf(def, sizeof(def), "%s", *(int *)fl->dest ? "on" : "off"); break;
        }
        fprintf(f, "  --%-20s %s [%s]%s%s\n", fl->name, fl->help ? fl->help : "", def,
                fl->env ? " $" : "", fl->env ? fl->env : "");
    }
    fprintf(f, "  --%-20s %s\n", "help", "print this help and exit");
}

void zc_flags_parse_or_exit(const zc_flag *flags, int argc, char **argv, int *npos,
                            const char *prog, const char *synopsis, const char *summary) {
    char err[512];
    int rc = zc_flags_parse(flags, argc, argv, npos, err, sizeof(err));
    if (rc == ZC_FLAGS_HELP) {
        zc_flags_usage(stdout, prog, synopsis, summary, flags);
        exit(0);
    }
    if (rc != ZC_FLAGS_OK) {
        fprintf(stderr, "%s: error: %s\n", prog, err);
        exit(2);
    }
}
