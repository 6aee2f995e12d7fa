/* Bearer-token authentication and scope checks.
 *
 * Missing or unknown token: 401 (with WWW-Authenticate); token without the
 * scope: 403. The account of the token scopes everything the request
 * sees. */
#pragma once

#include "app.h"

typedef struct AuthFailure {
        unsigned status; /* 401, 403, 503 */
        const char *code;
        const char *title;
        const char *detail;
} AuthFailure;

/* Checks an Authorization header value against the database. Returns 0
 * with *ret filled, or the HTTP status with *fail describing it. */
unsigned auth_check(Db *db, const char *authorization, unsigned scope, AuthInfo *ret, AuthFailure *fail);

/* For a handler: 0 when r->auth now holds the caller, else the status of
 * the problem response already set. */
unsigned auth_require(Request *r, unsigned scope);

/* Sets the problem response for a failure (and WWW-Authenticate). */
void auth_fail(Request *r, const AuthFailure *fail);
