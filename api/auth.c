#include "auth.h"

#include <errno.h>
#include <string.h>

#include "problem.h"

unsigned auth_check(Db *db, const char *authorization, unsigned scope, AuthInfo *ret, AuthFailure *fail) {
        const char *tok;
        size_t len;
        int r = token_from_authorization(authorization, &tok, &len);

        if (r == -ENOENT) {
                *fail = (AuthFailure){ 401, "unauthenticated", "Authentication required",
                                       "send an API token: Authorization: Bearer <token>" };
                return 401;
        }
        if (r < 0) {
                *fail = (AuthFailure){ 401, "unauthenticated", "Authentication required",
                                       "the Authorization header must be \"Bearer <token>\"" };
                return 401;
        }
        if (!token_is_well_formed(tok, len)) {
                *fail = (AuthFailure){ 401, "invalid_token", "Invalid token",
                                       "the token is not a roster API token" };
                return 401;
        }
        char hash[SHA256_HEX_SIZE];
        token_hash(tok, len, hash);
        AuthInfo info;
        r = account_store_token_lookup(db, hash, &info);
        if (r == -ENOENT) {
                *fail = (AuthFailure){ 401, "invalid_token", "Invalid token", "the token is unknown or revoked" };
                return 401;
        }
        if (r < 0) {
                *fail = (AuthFailure){ 503, "database_unavailable", "Service unavailable",
                                       "the database cannot be reached; try again shortly" };
                return 503;
        }
        if ((info.scopes & scope) != scope) {
                *fail = (AuthFailure){ 403, "insufficient_scope", "Forbidden",
                                       scope & SCOPE_IMPORTS_WRITE
                                               ? "the token lacks the imports:write scope needed to import users"
                                               : "the token lacks the imports:read scope" };
                return 403;
        }
        *ret = info;
        return 0;
}

void auth_fail(Request *r, const AuthFailure *fail) {
        if (fail->status == 401)
                u_map_put(r->resp->map_header, "WWW-Authenticate",
                          strcmp(fail->code, "invalid_token") == 0 ? "Bearer realm=\"roster\", error=\"invalid_token\""
                                                                   : "Bearer realm=\"roster\"");
        else if (fail->status == 403)
                u_map_put(r->resp->map_header, "WWW-Authenticate",
                          "Bearer realm=\"roster\", error=\"insufficient_scope\"");
        problem(r, fail->status, fail->code, fail->title, "%s", fail->detail);
}

unsigned auth_require(Request *r, unsigned scope) {
        AuthFailure fail;
        const char *header = request_header(r, "Authorization");

        /* Malformed credentials are refused before touching the database. */
        const char *tok;
        size_t len;
        if (token_from_authorization(header, &tok, &len) < 0 || !token_is_well_formed(tok, len)) {
                unsigned st = auth_check(NULL, header, scope, &r->auth, &fail);
                auth_fail(r, &fail);
                return st;
        }
        Db *db = request_db(r);
        if (!db)
                return 503;
        unsigned st = auth_check(db, header, scope, &r->auth, &fail);
        if (st)
                auth_fail(r, &fail);
        return st;
}
