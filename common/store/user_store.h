/* user_store: the users of an account and their links, written from a
 * batch of checked rows.
 *
 * Set-based: user_store_look_up_send() asks the database, in one statement,
 * what it knows of the rows (the existing user of each email, whose values
 * tell which rows would change nothing; unknown URNs), and may run ahead
 * of the write, outside its transaction, on a connection of its own.
 * user_store_check() then finds in-file duplicates of earlier batches and
 * ranges (and looks up a batch not looked up yet) and adds the issues;
 * user_store_write() COPYs the other rows into a temporary staging table
 * and upserts the users, and replaces pupil and team links where a row
 * gives them; it tells which rows created a user, and the caller writes
 * the batch's invite outbox row (invite_outbox_add()) in the same
 * transaction. What changed between the
 * look-up and the write (a user deleted, an establishment gone) makes the
 * write return -EAGAIN, and the batch is then checked again in the
 * transaction. batch_writer.h runs these in order with the other stores
 * of a batch.
 *
 * user_store_check() and user_store_write() run inside the caller's
 * transaction. Issues the database finds are added to the batch rows
 * (import_batch_rewind() undoes them and the look-up, for a retry).
 *
 * Other stores that need users by email or by id (link_store.h,
 * invite_outbox.h) ask user_store_find_ids(), user_store_exist() and
 * user_store_invitees(): the users table is named here only.
 *
 * Returns 0, -EAGAIN/-EIO (db->errmsg), -ENOMEM. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "email_filter.h"
#include "import_batch.h"
#include "import_store.h"
#include "range_store.h"
#include "urn_set.h"

typedef struct UserStoreJob {
        const char *import_id;
        int64_t account_id;
        ImportMode mode;
        bool dry_run;
        bool invite; /* count invite events for created users */
        /* The emails that may repeat in the file (NULL: any may). Those
         * that surely do not are neither registered for the duplicate
         * check nor looked up there. */
        const EmailFilter *emails;
        /* Every email of the file (NULL: the file has no link columns):
         * a link may name a user the file creates (link_store.h). */
        const EmailSet *file_emails;
        /* The URNs of establishments the import's earlier look-ups found
         * (NULL: every URN is asked for). Those are not asked again. Only
         * the look-up uses the set, on the thread that owns it.
         * Establishments are only ever added or renamed; should one be
         * deleted all the same, the write fails on the users' foreign key,
         * and user_store_write() sets *known_urns_stale (from the writing
         * thread: the owner empties the set before its next look-up) and
         * returns -EAGAIN, so that the batch is checked again. */
        UrnSet *known_urns;
        atomic_bool *known_urns_stale;
} UserStoreJob;

/* Looks the batch's rows up, in a statement of its own (outside a
 * transaction), in two steps so that the caller can work meanwhile:
 * _send() sends it and returns 1, or returns 0 when there is nothing to
 * ask (the batch is then looked up); _receive() waits for the answer and
 * sets batch->looked_up. Nothing else may use the connection in between.
 * On failure the batch is as before, not looked up. */
int user_store_look_up_send(Db *db, const UserStoreJob *job, ImportBatch *batch) _must_check_;
int user_store_look_up_receive(Db *db, const UserStoreJob *job, ImportBatch *batch) _must_check_;

/* The checks of a batch (before user_store_write()). */
int user_store_check(Db *db, const UserStoreJob *job, ImportBatch *batch) _must_check_;

/* Writes the batch's rows that did not fail: created[i] / changed[i]
 * (indexed like batch->rows, zeroed by the caller) tell what happened to
 * row i, user_ids[i] its user (0 for a row that failed); *ret_invites is
 * the number of invite events the created users get (none without
 * job->invite or in a dry run): the caller writes them. */
int user_store_write(Db *db, const UserStoreJob *job, ImportBatch *batch, bool *created, bool *changed,
                     int64_t *user_ids, int64_t *ret_invites) _must_check_;

/* The users of an account with these emails (lower case), as one
 * statement finds them by the account's email index: ids[i] is the id of
 * emails[i]'s user, 0 when there is none. Emails may repeat (each is
 * asked once). Inside the caller's transaction or alone; on failure ids
 * is left as it was. The caller owns both arrays. */
int user_store_find_ids(Db *db, int64_t account_id, size_t n, const char *const *emails,
                        int64_t *ids) _must_check_;

/* Which of these users (of any account) exist: exists[i] for ids[i], by
 * primary key, in one statement. On failure exists is left as it was.
 * The caller owns both arrays. */
int user_store_exist(Db *db, size_t n, const int64_t *ids, bool *exists) _must_check_;

/* What an invitation says of a user. */
typedef struct Invitee {
        int64_t id;
        const char *email, *first_name, *last_name;
        int64_t role_id;
} Invitee;

/* The users of these ids (of any account) that still exist, in one
 * statement by primary key: *ret_n of them in *ret, ordered by id (an id
 * given twice is there once). The array and its strings are one
 * allocation that belongs to the caller: free(*ret). On failure *ret and
 * *ret_n are left as they were. */
int user_store_invitees(Db *db, const int64_t *ids, size_t n, Invitee **ret, size_t *ret_n) _must_check_;
