/* Invite events: the transaction that creates users writes one row to the
 * invite_batches table per batch (invite_outbox_add()), with the ids of
 * the users it created; the events are then published to the Redis stream
 * "roster:invites" (fields event_id, account, user_id, email, first_name,
 * last_name, role, import_id) for the mailer. An event's fields are read
 * from the user when it is published (a user deleted meanwhile gets none),
 * and its event_id is derived from the import and the user: publishing it
 * again gives the same id.
 *
 * Owns the table invite_batches. What an event says of the user comes
 * from user_store_invitees(), of the account (slug, role keys) from
 * account_store, each asked once per publish call.
 *
 * Once per Redis data epoch: a batch's events go out in chunks of up to
 * 1000 (by position in its list of users), each by one Lua script that
 * adds the chunk's stream entries only if it can also set a marker key for
 * the chunk (SET NX, kept 7 days), so that a publisher that dies between
 * XADD and marking the batch cannot make the next one send them again. A published batch is kept, marked with
 * the time and the epoch, for ROSTER_INVITE_RETENTION_DAYS: if Redis loses
 * its data, redis_epoch_check() marks the batches of the lost epoch
 * unpublished and their events go out again. Delivery is therefore at
 * least once; consumers dedupe by event_id. Batches are taken FOR UPDATE
 * SKIP LOCKED: several workers may publish at once.
 *
 * Returns 0, -EIO (Redis: r->errstr; some events may be published, and
 * their batches are tried again later), -ESTALE when the connection's
 * Redis data epoch is unknown or no longer Redis's (call
 * redis_epoch_check(), then publish again), -EAGAIN/-EIO (database:
 * db->errmsg), -ENOMEM. */
#pragma once

#include "db.h"
#include "redis_client.h"

#define INVITE_STREAM "roster:invites"

/* Publishes the events of up to max_batches unpublished batches: those of
 * one import (import_id set), or any older than min_age_seconds
 * (import_id NULL; the relay that catches what a dead worker left). The
 * number of events sent in *ret_published (may be NULL). */
int invite_outbox_publish(Db *db, Redis *redis, const char *import_id, int min_age_seconds, int max_batches,
                          int *ret_published) _must_check_;

/* Deletes up to limit published batches older than retention_days; the
 * count in *ret_deleted (may be NULL). */
int invite_outbox_purge(Db *db, int retention_days, int limit, int *ret_deleted) _must_check_;

/* Invite events written and not yet published, all accounts. */
int invite_outbox_unpublished(Db *db, int64_t *ret) _must_check_;

/* Marks every batch published into another epoch than this one as
 * unpublished, so that its events go out again; for redis_epoch_check(),
 * inside its transaction. The number of events in *ret_events. */
int invite_outbox_replay(Db *db, const char *epoch, long long *ret_events) _must_check_;

/* Writes the invite outbox row of a batch (the import and its first
 * line) that created these users of the account, inside the caller's
 * transaction, in one statement; nothing when n is 0. The ids are kept
 * in ascending order; the caller keeps its array. -EAGAIN/-EIO
 * (db->errmsg), -ENOMEM. */
int invite_outbox_add(Db *db, const char *import_id, long first_line, int64_t account_id, const int64_t *user_ids,
                      size_t n) _must_check_;
