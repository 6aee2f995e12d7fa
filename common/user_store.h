/* user_store: writes a batch of checked rows to the users of an account.
 *
 * Set-based: the batch is COPYed into a temporary staging table, then a few
 * statements check what needs the database (duplicates on earlier batches,
 * unknown URNs, create_only/update_only), insert new users, update changed
 * ones, replace pupil and team links where the row gives them, and write
 * invite events to the outbox. A dry run does the same under a savepoint
 * and rolls the writes back, so that its counts are exact.
 *
 * Runs inside the caller's transaction. Issues the database finds are
 * added to the batch rows (import_batch_rewind() undoes them for a retry).
 * Returns 0, -EAGAIN/-EIO (db->errmsg), -ENOMEM. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "import_batch.h"
#include "import_store.h"
#include "range_store.h"

typedef struct UserStoreJob {
        const char *import_id;
        int64_t account_id;
        ImportMode mode;
        bool dry_run;
        bool invite; /* write invite events for created users */
} UserStoreJob;

/* Writes one batch (see above) and fills *ret with its counts: rows,
 * created, updated, unchanged, failed, invites, rows with warnings. The
 * batch's rows get the issues the database found. */
int user_store_write_batch(Db *db, const UserStoreJob *job, ImportBatch *batch, BatchCounts *ret) _must_check_;

