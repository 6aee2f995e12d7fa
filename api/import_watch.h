/* ImportWatch: keeps app->imports (the ImportCache of status bodies)
 * coherent with the database, so that GET /v1/imports/{id} can answer
 * without a query of its own, behind the database by a bounded time.
 *
 * A thread holds one PostgreSQL connection of its own (not from the pool)
 * that LISTENs on `roster_imports`, where a trigger on the imports table
 * (schema migration 4) sends the id of every import updated or deleted, by
 * whatever process. Each notification invalidates that import.
 *
 * How fresh: import_watch_sync() tells a reader whether the cache has
 * heard every change committed before a moment. The thread sends a query
 * on the listening connection every few milliseconds, and at once when a
 * reader waits; the server sends a listener every notification of a
 * transaction that committed before it reads the listener's next query,
 * ahead of that query's result. So once the answer to a query sent at
 * time s is in, every change committed before s has reached the cache.
 * With ROSTER_STATUS_MAX_LAG_MS = L, a reader at time t is served when a
 * query sent at or after t - L has been answered (usually it has: queries
 * go every L/2); with L = 0 it waits for a query sent after it came. One
 * query serves every reader that waits for it, however many.
 *
 * While the connection is down the cache is empty and takes nothing, and
 * import_watch_sync() fails at once: reads go to the database as before. */
#pragma once

#include <stdint.h>

#include "app.h"

/* Starts the thread (which connects in the background). 0 or -errno. */
int import_watch_start(App *app) _must_check_;
/* Stops it and disables the cache. No-op when not started. */
void import_watch_stop(void);

/* 0 once every change committed more than max_lag_ms before the call (0:
 * before the call) has reached the cache; waits up to timeout_ms for it
 * (0: not at all), then -ETIMEDOUT. -EIO when there is no listening
 * connection. Unless 0, the cache must not be read. */
int import_watch_sync(int64_t max_lag_ms, int timeout_ms) _must_check_;
