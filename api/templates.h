/* CSV templates: a header row and one example row for a role. */
#pragma once

#include "app.h"

/* GET /v1/templates/users.csv?role=KEY-or-NAME[&delimiter=;] */
unsigned templates_users_csv(Request *r);
