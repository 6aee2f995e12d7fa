#include "auth.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "events_token.h"
#include "log.h"
#include "problem.h"

/* How often the uses of tokens are looked at; a token's last_used_at is
 * written at most once a minute (TOKEN_CACHE_TOUCH_MS) whatever this is. */
#define TOUCH_INTERVAL_MS 5000
#define TOUCH_BATCH 256

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Asks the database about the token and notes the answer in the cache.
 * 0 with *ret filled, or the status with *fail. */
static unsigned lookup(App *app, AuthDbFn get_db, void *userdata, const char *hash, AuthInfo *ret,
                       AuthFailure *fail) {
        Db *db = get_db(userdata);
        /* The time before the lookup: the entry's age counts from the
         * moment its answer may already have been true. */
        int64_t began = now_ms(), last_used_ago;
        int r = db ? account_store_token_lookup(db, hash, ret, &last_used_ago) : -EIO;
        if (r == -ENOENT) {
                token_cache_forget(app->tokens, hash);
                *fail = (AuthFailure){ 401, "invalid_token", "Invalid token", "the token is unknown or revoked" };
                return 401;
        }
        if (r < 0) {
                *fail = (AuthFailure){ 503, "database_unavailable", "Service unavailable",
                                       "the database cannot be reached; try again shortly" };
                return 503;
        }
        token_cache_put(app->tokens, hash, ret, began, last_used_ago);
        return 0;
}

unsigned auth_check(App *app, AuthDbFn get_db, void *userdata, const char *authorization, unsigned scope,
                    AuthInfo *ret, AuthFailure *fail) {
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
        /* Malformed credentials are refused before touching the database. */
        if (!token_is_well_formed(tok, len)) {
                *fail = (AuthFailure){ 401, "invalid_token", "Invalid token",
                                       "the token is not a roster API token" };
                return 401;
        }
        char hash[SHA256_HEX_SIZE];
        token_hash(tok, len, hash);
        AuthInfo info = { 0 };
        TokenCacheResult cr = token_cache_get(app->tokens, hash, now_ms(), &info);
        if (cr != TOKEN_CACHE_HIT) {
                AuthInfo cached = info;
                unsigned st = lookup(app, get_db, userdata, hash, &info, fail);
                /* A renewal that cannot reach the database keeps what is
                 * still good for a while. */
                if (st == 503 && cr == TOKEN_CACHE_REFRESH) {
                        info = cached;
                        st = 0;
                }
                if (st)
                        return st;
        }
        /* Expiry is checked on every request, cached or not: exact to the
         * second on every process. */
        if (info.expires_at && (int64_t) time(NULL) >= info.expires_at) {
                *fail = (AuthFailure){ 401, "invalid_token", "Invalid token", "the token has expired" };
                return 401;
        }
        if ((info.scopes & scope) != scope) {
                *fail = (AuthFailure){ 403, "insufficient_scope", "Forbidden", token_scope_missing_message(scope) };
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
        if (fail->status == 503)
                problem_database_unavailable(r);
        else
                problem(r, fail->status, fail->code, fail->title, "%s", fail->detail);
}

/* request_db() sets the same 503 as auth_fail() when it finds none. */
static Db *request_db_fn(void *userdata) {
        return request_db(userdata);
}

unsigned auth_require(Request *r, unsigned scope) {
        AuthFailure fail;
        unsigned st = auth_check(r->app, request_db_fn, r, request_header(r, "Authorization"), scope, &r->auth,
                                 &fail);
        if (st)
                auth_fail(r, &fail);
        return st;
}

unsigned auth_require_events_token(Request *r, const char *token, const char *import_id) {
        AuthFailure fail = { 401, "invalid_token", "Invalid token",
                             "the events token is malformed, expired, revoked or for another import; ask for a new "
                             "one (POST /v1/imports/{id}/events-token)" };
        int64_t token_id, expires;
        AuthInfo info;
        char hash[SHA256_HEX_SIZE];
        int k = -ENOENT;
        if (events_token_parse(token, &token_id, &expires) == 0) {
                Db *db = request_db(r);
                if (!db)
                        return 503;
                k = account_store_token_by_id(db, token_id, &info, hash);
        }
        if (k < 0 && k != -ENOENT) {
                fail = (AuthFailure){ 503, "database_unavailable", "Service unavailable",
                                      "the database cannot be reached; try again shortly" };
        } else if (k == 0 && events_token_valid(token, hash, import_id, (int64_t) time(NULL)) &&
                   (info.scopes & SCOPE_IMPORTS_READ)) {
                info.scopes = SCOPE_IMPORTS_READ;
                r->auth = info;
                return 0;
        }
        auth_fail(r, &fail);
        return fail.status;
}

/* ---- last_used_at */

static pthread_t toucher;
static bool toucher_running, toucher_stopping;
static pthread_mutex_t toucher_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t toucher_wake;

/* Writes what is due; what cannot be written is due again next time. */
static void touch_due(App *app, int timeout_ms) {
        int64_t ids[TOUCH_BATCH];
        size_t n;
        while ((n = token_cache_take_due(app->tokens, now_ms(), ids, ELEMENTSOF(ids))) > 0) {
                char err[sizeof ((Db *) NULL)->errmsg];
                int e, k = -EIO;
                Db *db = db_pool_acquire(app->pool, timeout_ms, &e, err, sizeof err);
                if (db)
                        k = account_store_tokens_touch(db, ids, n);
                if (db && k < 0)
                        snprintf(err, sizeof err, "%s", db->errmsg);
                db_pool_release(app->pool, db);
                if (k < 0) {
                        token_cache_put_back(app->tokens, ids, n);
                        log_warning("api_tokens.last_used_at not written (tried again later): %s", err);
                        return;
                }
                if (n < ELEMENTSOF(ids))
                        return;
        }
}

static void *touch_thread(void *userdata) {
        App *app = userdata;
        pthread_mutex_lock(&toucher_lock);
        while (!toucher_stopping) {
                struct timespec until;
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_sec += TOUCH_INTERVAL_MS / 1000;
                pthread_cond_timedwait(&toucher_wake, &toucher_lock, &until);
                if (toucher_stopping)
                        break;
                pthread_mutex_unlock(&toucher_lock);
                touch_due(app, 5000);
                pthread_mutex_lock(&toucher_lock);
        }
        pthread_mutex_unlock(&toucher_lock);
        /* What the last requests did, if the database answers at once. */
        touch_due(app, 1000);
        return NULL;
}

int auth_start(App *app) {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&toucher_wake, &attr);
        pthread_condattr_destroy(&attr);
        toucher_stopping = false;
        int r = pthread_create(&toucher, NULL, touch_thread, app);
        if (r != 0) {
                pthread_cond_destroy(&toucher_wake);
                return -r;
        }
        toucher_running = true;
        return 0;
}

void auth_stop(void) {
        if (!toucher_running)
                return;
        pthread_mutex_lock(&toucher_lock);
        toucher_stopping = true;
        pthread_cond_signal(&toucher_wake);
        pthread_mutex_unlock(&toucher_lock);
        pthread_join(toucher, NULL);
        toucher_running = false;
        pthread_cond_destroy(&toucher_wake);
}
