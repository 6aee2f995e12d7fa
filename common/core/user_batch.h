/* user_batch: what user_store does with a batch's rows that needs no
 * database - the staging table's row text, rows found by line, the
 * arrays of lines, emails and URNs its statements take, which rows match
 * their users or raced another import, and the issues the database's
 * findings give rise to.
 *
 * Pure. Rows and issues live in the batch's arena (import_batch.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "email_filter.h"
#include "import_batch.h"
#include "import_types.h"
#include "urn_set.h"

/* Whether the row goes into user_store's staging table: rows that failed
 * or would change nothing are left out. */
bool user_batch_staged(const BatchRow *row);

/* Appends the row's staging row in COPY text format, newline included:
 * line, ok, email, email_lower, first_name, last_name, job_title, phone,
 * urn, role_id, active, custom, upns, set_pupils, team_ids, set_teams,
 * user_id. 0 or -ENOMEM. */
int user_batch_stage_row(Buf *b, const BatchRow *row) _must_check_;

/* The row of this line, or NULL. Rows are in line order, and so are the
 * lines a caller looks up one after another: *hint (0 at first) is where
 * the next search starts. */
BatchRow *user_batch_row_at_line(ImportBatch *batch, unsigned long line, size_t *hint);

/* Adds an error to the row (message copied into the batch's arena). 0 or
 * -ENOMEM. */
int user_batch_add_error(ImportBatch *batch, BatchRow *row, const char *field, const char *code, const char *msg)
        _must_check_;

/* The row repeats the email of an earlier line of the file, first_line:
 * a duplicate_in_file issue the batch found itself is told that line
 * instead of its own first one. 0 or -ENOMEM. */
int user_batch_set_duplicate(ImportBatch *batch, BatchRow *row, unsigned long first_line) _must_check_;

/* The issues of what the look-up found (unknown_establishment,
 * already_exists, not_found in the modes that forbid them, upns_ignored),
 * and which rows change nothing (BatchRow.unchanged). 0 or -ENOMEM. */
int user_batch_check_issues(ImportBatch *batch, ImportMode mode) _must_check_;

/* Whether a row that did not fail replaces its pupils or teams. */
bool user_batch_any_links(const ImportBatch *batch);

/* The row that created the user with this email: users created come
 * back in the order of their lines, so it is the next staged row without
 * a user from *next on (which it advances); should that order not hold,
 * any such row. batch->n when none. */
size_t user_batch_row_of_created(const ImportBatch *batch, const char *email, size_t *next);

/* The lines of the rows pick[] marks (indexed like batch->rows), as a
 * PostgreSQL array literal appended to b. 0 or -ENOMEM. */
int user_batch_lines_array(Buf *b, const ImportBatch *batch, const bool *pick) _must_check_;

/* The rows with an email - with a filter, only those whose email it says
 * may repeat - as PostgreSQL array literals written to the empty buffers:
 * their lines, emails and (reg may be NULL) register_email flags. 1 when
 * there is such a row, 0 when none, -ENOMEM. */
int user_batch_email_arrays(const ImportBatch *batch, const EmailFilter *filter, Buf *lines, Buf *emails,
                            Buf *reg) _must_check_;

/* The lines of the staged rows with a user that changed[] (indexed like
 * batch->rows) does not mark, as an array literal written to the empty
 * b. 1 when there is such a row, 0 when none, -ENOMEM. */
int user_batch_lines_unchanged(Buf *b, const ImportBatch *batch, const bool *changed) _must_check_;

/* The lines of the rows that failed, as an array literal written to the
 * empty b. 0 or -ENOMEM. */
int user_batch_lines_failed(Buf *b, const ImportBatch *batch) _must_check_;

/* Whether the user as the look-up read it - values[]: first name, last
 * name, job title, phone, role id, establishment URN, active ("t"/"f"),
 * NULL where the user has none - already has every value the row sets,
 * so that writing the row would change nothing. Rows that set custom
 * fields or links are left to the write. */
bool user_batch_matches_user(const BatchRow *row, const char *const values[7]);

/* The URNs of the batch's rows that `known` (may be NULL) does not hold:
 * urns[k] is rows[k]'s, both with room for batch->n. Returns how many. */
size_t user_batch_urns_to_ask(const ImportBatch *batch, const UrnSet *known, int *urns, size_t *rows);

/* What the database said of those URNs (exists[k] for urns[k]): sets the
 * rows' urn_unknown, and adds the URNs found to `known` (may be NULL). */
void user_batch_urns_found(ImportBatch *batch, UrnSet *known, const int *urns, const size_t *rows,
                           const bool *exists, size_t n);

/* The rows the write meant to create (staged, with no user) that it did
 * not (created[i] unset): another import created their users first.
 * raced[i] marks them (both indexed like batch->rows). Returns how many
 * rows were meant to create a user. */
size_t user_batch_raced(const ImportBatch *batch, const bool *created, bool *raced);

/* Fails the rows raced[] marks with already_exists (the import only
 * creates users), and sets their user_ids[i] to 0. 0 or -ENOMEM. */
int user_batch_fail_raced(ImportBatch *batch, const bool *raced, int64_t *user_ids) _must_check_;
