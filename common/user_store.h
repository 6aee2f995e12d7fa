/* user_store: the users of an account and their links, written from a
 * batch of checked rows.
 *
 * Set-based: user_store_check() asks the database, in one statement, what
 * the rows cannot tell alone (duplicates on earlier batches or ranges,
 * unknown URNs, the existing user of each email, whose values tell which
 * rows would change nothing); user_store_write() COPYs the other rows into
 * a temporary staging table and upserts the users, replaces pupil and team
 * links where a row gives them, and - in the users' own statement, so that
 * no created user goes without - writes the batch's invite outbox row.
 * batch_writer.h runs these in order with the other stores of a batch.
 *
 * Runs inside the caller's transaction. Issues the database finds are
 * added to the batch rows (import_batch_rewind() undoes them for a retry).
 * Returns 0, -EAGAIN/-EIO (db->errmsg), -ENOMEM. */
#pragma once

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
        bool invite; /* write invite events for created users */
        /* The emails that may repeat in the file (NULL: any may). Those
         * that surely do not are neither registered for the duplicate
         * check nor looked up there. */
        const EmailFilter *emails;
        /* The URNs of establishments the import's earlier batches found
         * (NULL: every URN is asked for). Those are not asked again.
         * Establishments are only ever added or renamed; should one be
         * deleted all the same, the write fails on the users' foreign key
         * and user_store_write() empties the set and returns -EAGAIN, so
         * that the batch is checked again. */
        UrnSet *known_urns;
} UserStoreJob;

/* The checks of a batch (before user_store_write()). */
int user_store_check(Db *db, const UserStoreJob *job, ImportBatch *batch) _must_check_;

/* Writes the batch's rows that did not fail: created[i] / changed[i]
 * (indexed like batch->rows, zeroed by the caller) tell what happened to
 * row i; *ret_invites is the number of invite events written. */
int user_store_write(Db *db, const UserStoreJob *job, ImportBatch *batch, bool *created, bool *changed,
                     int64_t *ret_invites) _must_check_;

