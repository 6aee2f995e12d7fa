/* BatchWriter: one batch of an import, written store by store in the
 * caller's transaction (the batch's checkpoint):
 *  1. planner settings fit for statements driven by a batch's rows;
 *  2. the checks that need the database (user_store_check());
 *  3. the users (user_store_write()), the invite outbox row of those
 *     created (invite_outbox_add(); none in a dry run) and their links,
 *     under a savepoint rolled back for a dry run;
 *  4. the error log of the batch (error_log_write()) and its per-row
 *     results (result_log_write());
 *  5. the batch's counts, computed from what the stores said.
 *
 * Returns 0, -EAGAIN/-EIO (db->errmsg), -ENOMEM. Issues the database finds
 * are added to the batch rows (import_batch_rewind() undoes them for a
 * retry). */
#pragma once

#include "db.h"
#include "import_batch.h"
#include "import_store.h"
#include "user_store.h"

/* Writes the batch and fills *ret with its counts: rows, created,
 * updated, unchanged, failed, invites, rows with warnings. */
int batch_writer_write(Db *db, const UserStoreJob *job, ImportBatch *batch, BatchCounts *ret) _must_check_;
