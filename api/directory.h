/* What a client needs to fill its forms: the account's roles and teams
 * (directory.c). */
#pragma once

#include "app.h"

/* GET /v1/roles: every role of the account, by name. */
unsigned directory_roles(Request *r);

/* GET /v1/teams: every team of the account, by name. */
unsigned directory_teams(Request *r);
