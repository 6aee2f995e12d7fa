#include "program.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static int usage(FILE *f, const char *name, const char *what) {
        fprintf(f,
                "Usage: %s [--help] [--version]\n\n%s\n"
                "Configuration comes from ROSTER_* environment variables (roster-admin config\n"
                "shows those in effect, roster-admin config --defaults every one).\n",
                name, what);
        return f == stdout ? 0 : 2;
}

int program_start(int argc, char **argv, const char *name, const char *what, Config *cfg) {
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
                        return usage(stdout, name, what);
                if (strcmp(argv[i], "--version") == 0) {
                        printf("%s %s\n", name, ROSTER_VERSION);
                        return 0;
                }
                fprintf(stderr, "%s: unknown argument \"%s\"\n", name, argv[i]);
                return usage(stderr, name, what);
        }
        if (config_load_or_report(cfg, name) < 0)
                return 1;
        log_setup(name, cfg->log_format, cfg->log_level);
        /* A client or server that goes away mid-write is an error to
         * handle where it happens, not a signal that ends the process. */
        signal(SIGPIPE, SIG_IGN);
        return -1;
}
