/* The account's users (users.c): lists, one user with its links, and an
 * export in the template's columns that uploads again unchanged. */
#pragma once

#include "app.h"

/* GET /v1/users: a page of users, filtered. */
unsigned users_list(Request *r);

/* GET /v1/users/{id}. */
unsigned users_get(Request *r);

/* GET /v1/users.csv: every user that matches the filters, streamed. */
unsigned users_csv(Request *r);
