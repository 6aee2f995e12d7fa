/* Noticing that Redis lost its data, and making up for it.
 *
 * Redis holds a data epoch: a random id under REDIS_EPOCH_KEY, written
 * once (SET NX) into an empty Redis. PostgreSQL records the epoch it last
 * saw (table redis_state). When the two differ, Redis was emptied (a
 * FLUSHALL, a restart without persistence, a failover to an empty
 * replica): redis_epoch_check() then, in one transaction, marks every
 * invite event published into an earlier epoch as unpublished again (the
 * outbox keeps them for ROSTER_INVITE_RETENTION_DAYS) and, after it,
 * enqueues again every import that waits in the queue
 * (import_store_queued()), at once rather than after a lease.
 *
 * Publishers hold pg_advisory_xact_lock_shared(REDIS_EPOCH_LOCK) while
 * they publish and mark events (redis_epoch_lock_shared()); an epoch change takes it exclusively, so
 * no event marked as published into a lost epoch escapes the reset. The
 * publish script itself checks the epoch in Redis, atomically with XADD.
 *
 * The epoch this connection last confirmed is kept in r->epoch ("" when
 * unknown). Returns 0, -EIO (Redis: r->errstr), -EPROTO (Redis answered an
 * error), -EAGAIN/-EIO (database: db->errmsg). Owns the table
 * redis_state. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "redis_client.h"

#define REDIS_EPOCH_KEY "roster:epoch"
#define REDIS_EPOCH_LOCK "7461727"

typedef struct RedisEpochReport {
        bool changed; /* Redis's epoch differed from the database's */
        bool first; /* ... because the database had none yet */
        long long events_replayed; /* invite events to publish again */
        size_t imports_enqueued; /* queued imports enqueued again */
} RedisEpochReport;

/* For a publisher, inside its transaction: takes the lock shared and
 * tells in *ret_current whether epoch is the one the database holds (if
 * not, publish nothing: redis_epoch_check() must catch up first). */
int redis_epoch_lock_shared(Db *db, const char *epoch, bool *ret_current) _must_check_;

/* Reads (or, in an empty Redis, creates) the epoch, compares it with the
 * database's and makes up for a change as above. ret may be NULL. */
int redis_epoch_check(Redis *r, Db *db, RedisEpochReport *ret) _must_check_;
