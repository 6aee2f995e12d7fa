/* What roster-api and roster-worker do first: answer --help and
 * --version, load their configuration (every problem reported at once),
 * set up logging and ignore SIGPIPE. roster-admin, which has commands of
 * its own, loads the same configuration. */
#pragma once

#include "config.h"

/* Handles the arguments (only --help/-h and --version are known) and the
 * start-up above. Returns -1 to go on, with *cfg loaded (the caller
 * releases it with config_done()), or the exit status to return now:
 * 0 after --help or --version, 1 for a bad configuration, 2 for an
 * unknown argument. `what` is a line or two saying what the program does. */
int program_start(int argc, char **argv, const char *name, const char *what, Config *cfg);
