/* What every roster-admin command shares: its arguments, the database
 * connection and the account it names. Messages go to stderr. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "db.h"

extern const char admin_usage[];

/* A command's arguments, after its name. cli_take_option() and cli_take_flag()
 * remove what they find. */
typedef struct Args {
        int n;
        char **v;
} Args;

/* Removes "--name VALUE" (or "--name=VALUE"); NULL when absent. -EINVAL
 * in *err (and a message) when the value is missing. */
const char *cli_take_option(Args *a, const char *name, int *err);
bool cli_take_flag(Args *a, const char *name);
/* After options are taken, what is left must be exactly `want`
 * positional arguments; -EINVAL with a message otherwise. */
int cli_expect_positional(const Args *a, int want, const char *what);

/* NULL (with a message) when the database cannot be reached. */
Db *cli_connect_db(const Config *cfg);
/* Connects and finds the account; NULL (with a message) when either
 * fails. */
Db *cli_open_account(const Config *cfg, const char *slug, int64_t *id);

/* The actor of what roster-admin does, for the audit trail:
 * "roster-admin (USER)" with the operating system's user. */
const char *cli_actor(void);
