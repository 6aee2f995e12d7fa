/* Removing an import's file and row data: the stored upload
 * (import_chunks), the cells and issues of its rows (import_rows,
 * import_issues), its per-line results (import_results), the users it
 * archived or would (import_archived) and its scratch (import_emails,
 * import_links). The imports row stays: who, when, counts, sha256.
 *
 * Two steps: an import is first marked on its imports row (purged_at,
 * purge_pending) - by import_store_purge_due() once ROSTER_RETENTION_DAYS
 * have passed since it ended, or by a DELETE (import_store_delete()) -
 * and from then on its errors and results answer 410; import_purge_data()
 * then deletes the rows in bounded batches, each its own statement, so
 * that no lock is held for long and imports go on meanwhile. What a crash
 * leaves half-done stays marked pending, and the next round finishes it.
 *
 * "Ended" means finished_at is set: a final state, a validated dry run
 * never committed, or a held import never committed.
 *
 * Functions return 0, -EAGAIN/-EIO (db->errmsg) or -ENOMEM. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "uuid.h"

/* Deletes a marked import's data, batch_rows rows at a time, then clears
 * purge_pending (import_store_purge_done()). *ret_rows (may be NULL) is
 * how many rows it deleted. */
int import_purge_data(Db *db, const char *import_id, int batch_rows, int64_t *ret_rows) _must_check_;
