/* Bearer-token authentication and scope checks.
 *
 * Missing or unknown token: 401 (with WWW-Authenticate); token without the
 * scope: 403. The account of the token scopes everything the request
 * sees.
 *
 * A token the database accepted is trusted for ROSTER_TOKEN_CACHE_SECONDS
 * without asking again (app->tokens, see token_cache.h): a revoked token is
 * refused at most that long after the revocation commits. A check never
 * writes: api_tokens.last_used_at is written by a thread of its own
 * (auth_start()), at most once a minute per token. */
#pragma once

#include "app.h"

typedef struct AuthFailure {
        unsigned status; /* 401, 403, 503 */
        const char *code;
        const char *title;
        const char *detail;
} AuthFailure;

/* Where auth_check() gets a database connection when it must ask the
 * database; called at most once per check. NULL when none can be had. */
typedef Db *(*AuthDbFn)(void *userdata);

/* Checks an Authorization header value, from the cache or the database.
 * Returns 0 with *ret filled, or the HTTP status with *fail describing it.
 * get_db is not called for a malformed header or a cached token. */
unsigned auth_check(App *app, AuthDbFn get_db, void *userdata, const char *authorization, unsigned scope,
                    AuthInfo *ret, AuthFailure *fail);

/* For a handler: 0 when r->auth now holds the caller, else the status of
 * the problem response already set. */
unsigned auth_require(Request *r, unsigned scope);

/* For the events route: 0 when r->auth now holds the caller of an events
 * token (events_token.h) for import_id, with the imports:read scope only;
 * else 401 (or 503), the problem response set. */
unsigned auth_require_events_token(Request *r, const char *token, const char *import_id);

/* Sets the problem response for a failure (and WWW-Authenticate). */
void auth_fail(Request *r, const AuthFailure *fail);

/* Starts the thread that writes api_tokens.last_used_at for the tokens
 * used, every few seconds. 0 or -errno. */
int auth_start(App *app) _must_check_;
/* Stops it, after a last write of what is due. No-op when not started. */
void auth_stop(void);
