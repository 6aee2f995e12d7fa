/* The error log of an import: one entry per issue (error or warning) of a
 * row, in file order, and the original cells of each row that has one.
 *
 * The worker writes a batch's issues with error_log_write() inside the
 * batch's transaction, and at the import's end the warnings of links
 * that could not be made (error_log_add_link_warnings, for link_store.h).
 * The API reads them page by page (error_log_page) and the failed rows
 * for the error CSV (error_log_failed_rows; the CSV itself is written
 * with csv_writer).
 *
 * Its tables are import_issues and import_rows; no other module names
 * them.
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

/* One issue of the log. Strings are the item's own (error_log_issues_free()). */
typedef struct ErrorIssue {
        long line;
        int seq;
        long row_number;
        char severity[8]; /* "error" or "warning" */
        char *field, *code, *message;
        uint64_t cells_bytes; /* the size of its row's cells as JSON, 0 when none are stored */
} ErrorIssue;

/* A page of issues after (after_line, after_seq), at most limit, in file
 * order, of one severity or (NULL) all. The cells themselves come from
 * error_log_cells(): a row's cells can be large, and a page must not
 * carry them once per issue. The array belongs to the caller. */
int error_log_page(Db *db, const char *import_id, long after_line, int after_seq, int limit, const char *severity,
                   ErrorIssue **ret, size_t *ret_n) _must_check_;
void error_log_issues_free(ErrorIssue *v, size_t n);

/* One failed row for the error CSV: its line, the size of its cells as
 * JSON, its error messages joined with "; ". */
typedef struct FailedRow {
        long line;
        uint64_t cells_bytes;
        char *messages;
} FailedRow;

/* The failed rows from after_line on, at most limit. The array belongs
 * to the caller: error_log_failed_rows_free(). */
int error_log_failed_rows(Db *db, const char *import_id, long after_line, int limit, FailedRow **ret,
                          size_t *ret_n) _must_check_;
void error_log_failed_rows_free(FailedRow *v, size_t n);

/* The stored cells (a JSON array's text) of the given lines: cells[i]
 * for lines[i], NULL where none are stored; each string the caller's to
 * free(). */
int error_log_cells(Db *db, const char *import_id, const long *lines, size_t n, char **cells) _must_check_;

/* Forgets an import's error log (a committed dry run's, before the real
 * run writes its own), inside the caller's transaction. */
int error_log_forget(Db *db, const char *import_id) _must_check_;

/* Which of these emails (lower case) are the email of a line of the
 * import that failed, as its stored cells (column email_column of the
 * file) give it, trimmed and in lower case: failed[i] for emails[i]. One
 * statement. On failure failed is left as it was. The caller owns both
 * arrays. */
int error_log_failed_emails(Db *db, const char *import_id, int email_column, size_t n, const char *const *emails,
                            bool *failed) _must_check_;

/* Links of one cell that could not be made because the lines they name
 * failed: the linking line, its data row, the kind (the cell's field is
 * link.<kind>) and how many of its emails. */
typedef struct LinkMiss {
        long line;
        long row_number;
        const char *kind;
        int64_t n;
} LinkMiss;

/* Gives each miss's line the warning link_target_failed, after the line's
 * other issues (a line's misses in the order of their kinds), inside the
 * caller's transaction; a line must have one miss per kind.
 * *ret_new_lines is how many of the lines had no issue before: the rows
 * with warnings that are new. The caller owns the array. */
int error_log_add_link_warnings(Db *db, const char *import_id, const LinkMiss *misses, size_t n,
                                int64_t *ret_new_lines) _must_check_;

/* The Email cells of these lines of the import, in one statement:
 * emails[i] becomes a copy of the cell at column email_column (from 0, as
 * jsonb's ->> reads an array) of lines[i]'s stored cells, and stays as it
 * was (NULL) where the line has no stored cells or no such cell. On
 * failure some entries may have been set: the caller frees every entry
 * (free()) either way, and owns both arrays. */
int error_log_line_emails(Db *db, const char *import_id, int email_column, size_t n, const int64_t *lines,
                          char **emails) _must_check_;

/* Adds to the caller's temporary table `table` (pg_temp; a column email
 * text) the email of each failed line of the import, as its stored cells
 * (column email_column of the file) give it, trimmed and in lower case;
 * lines without one add nothing. One statement, inside the caller's
 * transaction. table is a name the caller spells in its code
 * (archive_store.c's scratch table), never input: -EINVAL unless it is
 * at most 63 lower-case letters and underscores. */
int error_log_failed_emails_into(Db *db, const char *import_id, int email_column, const char *table) _must_check_;
