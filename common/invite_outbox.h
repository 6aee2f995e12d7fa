/* Invite events: written to the invite_outbox table in the transaction that
 * creates the user, then published to the Redis stream "roster:invites"
 * (fields event_id, account, user_id, email, first_name, last_name, role,
 * import_id) for the mailer.
 *
 * Exactly once: a Lua script adds the stream entry only if it can also set
 * a marker key for the event (SET NX, kept 7 days), so that a publisher
 * that dies between XADD and deleting the row cannot make the next one
 * send the event again. A published row is deleted: the outbox keeps no
 * personal data longer than it must. Rows are taken FOR UPDATE SKIP LOCKED:
 * several workers may publish at once.
 *
 * Returns 0, -EIO (Redis: r->errstr; some events may be published and
 * marked), -EAGAIN/-EIO (database: db->errmsg), -ENOMEM. */
#pragma once

#include "db.h"
#include "redis_client.h"

#define INVITE_STREAM "roster:invites"

/* Publishes up to limit unpublished events: those of one import (import_id
 * set), or any older than min_age_seconds (import_id NULL; the relay that
 * catches what a dead worker left). */
int invite_outbox_publish(Db *db, Redis *redis, const char *import_id, int min_age_seconds, int limit,
                          int *ret_published) _must_check_;
