/* roster-admin's commands about credentials and the audit trail (the
 * others are in main.c). Each returns the exit status: 0, 1 when it
 * failed, 2 for bad arguments; messages go to stderr. */
#pragma once

#include "cli.h"
#include "config.h"

/* token create ACCOUNT [--scopes S] [--actor A] [--expires-in D]: prints
 * the new token once. */
int commands_token_create(const Config *cfg, Args *a);
/* token list ACCOUNT: the account's tokens, without their secrets. */
int commands_token_list(const Config *cfg, Args *a);
/* token revoke ID|-: revokes by id, or the token read from stdin. */
int commands_token_revoke(const Config *cfg, Args *a);
/* audit ACCOUNT [filters]: the account's audit trail, newest first. */
int commands_audit(const Config *cfg, Args *a);
