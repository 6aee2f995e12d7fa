/* The API process's shared state and the per-request context handed to
 * every handler.
 *
 * Ownership: App lives for the whole process (main.c). A Request lives
 * for one call of a handler; its Db, when a handler asked for one, goes
 * back to the pool when the handler returns (routes.c). */
#pragma once

#include <netinet/in.h> /* ulfius.h needs struct sockaddr_in */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <ulfius.h>

#include "account_store.h"
#include "config.h"
#include "db.h"
#include "import_cache.h"
#include "redis_client.h"
#include "token_cache.h"

typedef struct App {
        Config cfg;
        DbPool *pool;
        TokenCache *tokens; /* tokens checked lately (auth.h) */
        ImportCache *imports; /* status bodies, kept coherent by import_watch.h */
        /* One Redis connection shared by request threads for short
         * commands (enqueue, ping), behind a lock: hiredis contexts are not
         * thread-safe. */
        Redis *redis;
        pthread_mutex_t redis_lock;
        char **cors_origins;
        size_t n_cors_origins;
        /* Set on SIGTERM: no new connections, /readyz says 503, event
         * streams send a last event and end, responses close their
         * connections; requests in flight finish, for up to
         * ROSTER_DRAIN_SECONDS. */
        atomic_bool draining;
        atomic_bool stopping; /* set when the drain ends: what is left is cut */
        atomic_uint_fast64_t responses[6]; /* by status class: [2] is 2xx */
        atomic_uint_fast64_t imports_accepted;
        atomic_uint_fast64_t status_reads_memory, status_reads_database; /* GET /v1/imports/{id} answered */
} App;

typedef struct Route Route;

typedef struct Request {
        App *app;
        const struct _u_request *req;
        struct _u_response *resp;
        const Route *route;
        AuthInfo auth;
        char id[65]; /* request id: the client's X-Request-Id, or made here */
        Db *db; /* taken from the pool by request_db(), given back after */
        Db *borrowed; /* an upload's own connection, which request_db() returns meanwhile */
} Request;

/* request.c: what every handler uses of its request. */

/* The request's database connection, taken from the pool on first use.
 * NULL when none can be had; a 503 problem has then been set. */
Db *request_db(Request *r);

/* A request header, case-insensitively; NULL when absent. */
const char *request_header(const Request *r, const char *name);
/* A query parameter; NULL when absent. */
const char *request_query(const Request *r, const char *name);

/* The request's id: the client's X-Request-Id when it is 1 to 64 of
 * [A-Za-z0-9._-], else a new UUID. */
void request_id_choose(const char *given, char out[65]);

/* The `limit` query parameter: def when absent; 0, or -EINVAL with a 400
 * problem set when it is not a whole number from 1 to max. */
int request_limit(Request *r, int def, int max, int *ret);

/* Sets a JSON response (takes the reference to body; NULL, from a failed
 * json_pack, answers 500). */
void request_respond_json(Request *r, unsigned status, json_t *body);
