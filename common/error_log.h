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

/* Writes the issues of a batch's rows, and the cells of each row that has
 * one, inside the caller's transaction. */
int error_log_write(Db *db, const char *import_id, const ImportBatch *batch) _must_check_;

/* A page of issues after (after_line, after_seq), at most limit, in file
 * order, of one severity or (NULL) all. Columns of the result: line, seq,
 * row_number, severity, field, code, message, and the size in bytes of the
 * row's cells as JSON (0 when none are stored). The cells themselves come
 * from error_log_cells(): a row's cells can be large, and a page must not
 * carry them once per issue. The result belongs to the caller. */
int error_log_page(Db *db, const char *import_id, long after_line, int after_seq, int limit, const char *severity,
                   PGresult **ret) _must_check_;

/* The failed rows from after_line on, at most limit: line, the size of
 * its cells as JSON, its error messages joined with "; ". For the error
 * CSV. */
int error_log_failed_rows(Db *db, const char *import_id, long after_line, int limit, PGresult **ret) _must_check_;

/* The stored cells (a JSON array) of the given lines: line, cells. lines
 * is a PostgreSQL array literal ("{2,5,9}"). */
int error_log_cells(Db *db, const char *import_id, const char *lines, PGresult **ret) _must_check_;
