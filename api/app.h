/* The API process's shared state.
 *
 * Ownership: App lives for the whole process (main.c). */
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

/* Every handler takes a Request (request.h). */
#include "request.h"
