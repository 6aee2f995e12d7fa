/* The per-row results of an import: what became of each line of its file
 * (created, updated, unchanged, failed) and which user it is.
 *
 * Kept as cheaply as the batches allow: one row per batch, written in the
 * batch's transaction (result_log_write()), holding the batch's outcomes
 * (a letter each) and user ids, and its lines only when a record spans
 * several. Emails are not stored again: a line's is its user's, or, for a
 * failed line, the Email cell the error log keeps, asked of user_store.h
 * and error_log.h: the only table named here is import_results. The API
 * reads them a page at a time in line order (result_log_page()). A dry run's results
 * say what a commit would do; a user it would create has no id yet.
 *
 * Functions return 0, -EAGAIN/-EIO (db->errmsg) or -ENOMEM. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "import_batch.h"

typedef enum RowOutcome {
        ROW_CREATED = 'c',
        ROW_UPDATED = 'u',
        ROW_UNCHANGED = 'n',
        ROW_FAILED = 'f',
        ROW_ARCHIVED = 'a', /* a user no line lists (archive_store.h) */
} RowOutcome;

/* "created", "updated", "unchanged", "failed", "archived"; NULL for
 * another value. */
const char *result_log_outcome_name(RowOutcome o);

/* Writes the results of a batch (created[i], changed[i], user_ids[i] as
 * user_store_write() gave them) inside the caller's transaction. */
int result_log_write(Db *db, const char *import_id, const ImportBatch *batch, const bool *created,
                     const bool *changed, const int64_t *user_ids) _must_check_;

typedef struct ResultItem {
        int64_t line; /* 0 for an archived user */
        RowOutcome outcome;
        int64_t user_id; /* 0 when none */
        char *email; /* the user's; for a failed line the Email cell; NULL when neither */
} ResultItem;

/* The results of the lines after after_line, at most limit, in line
 * order. email_column is the file's Email column (from 0; -1 when none),
 * for failed lines. The array belongs to the caller:
 * result_log_items_free(). */
int result_log_page(Db *db, const char *import_id, int email_column, int64_t after_line, int limit,
                    ResultItem **ret, size_t *ret_n) _must_check_;
void result_log_items_free(ResultItem *items, size_t n);

/* Forgets an import's results (a committed dry run's), inside the
 * caller's transaction. */
int result_log_forget(Db *db, const char *import_id) _must_check_;

/* Adds to the caller's temporary table `table` (pg_temp; a column id
 * bigint) the ids of the users the import's lines name - every user id
 * its results hold, repeats included - in one statement, inside the
 * caller's transaction. table is a name the caller spells in its code
 * (archive_store.c's scratch table), never input: -EINVAL unless it is
 * at most 63 lower-case letters and underscores. */
int result_log_user_ids_into(Db *db, const char *import_id, const char *table) _must_check_;
