/* The error log of an import: one entry per issue (error or warning) of a
 * row, in file order, and the original cells of each row that has one.
 *
 * The worker writes a batch's issues with error_log_write() inside the
 * batch's transaction. The API reads them page by page (error_log_page)
 * and the failed rows for the error CSV (error_log_failed_rows; the CSV
 * itself is written with csv_writer).
 *
 * Functions return 0, -EAGAIN/-EIO (db->errmsg) or -ENOMEM. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "db.h"
#include "import_batch.h"

int error_log_write(Db *db, const char *import_id, const ImportBatch *batch) _must_check_;

/* A page of issues after (after_line, after_seq), at most limit, in file
 * order. Columns of the result: line, seq, row_number, severity, field,
 * code, message, cells (JSON array text). errors_only limits it to rows
 * that failed. The result belongs to the caller. */
int error_log_page(Db *db, const char *import_id, long after_line, int after_seq, int limit, bool errors_only,
                   PGresult **ret) _must_check_;

/* The failed rows from after_line on, at most limit: line, cells (JSON),
 * messages joined with "; ". For the error CSV. */
int error_log_failed_rows(Db *db, const char *import_id, long after_line, int limit, PGresult **ret) _must_check_;
