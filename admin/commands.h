/* roster-admin's commands about credentials and the audit trail (the
 * others are in main.c). Each returns the exit status: 0, 1 when it
 * failed, 2 for bad arguments; messages go to stderr. */
#pragma once

#include "cli.h"
#include "config.h"

int cmd_token_create(const Config *cfg, Args *a);
int cmd_token_list(const Config *cfg, Args *a);
int cmd_token_revoke(const Config *cfg, Args *a);
int cmd_audit(const Config *cfg, Args *a);
