/* Full sync (missing=archive): the users of an import's roles that its
 * file does not list are archived (set inactive) when it ends. The
 * import_archived table records who: those archived, or, for a dry run
 * and a held import, those who would be.
 *
 * "Listed" means named by a line of the file: the user of every line that
 * did not fail (import_results) and the user whose email a failed line
 * gives (its cells in the error log, by the import's email_column), so
 * that a line with a bad phone number never archives its user. "The
 * import's roles" are the roles of the users it lists and its role
 * option.
 *
 * Its table is import_archived; no other module names it. What it needs
 * of other tables it asks their owners: import_store.h (the import's
 * account, role option and Email column), account_store.h (the role's
 * id), result_log.h and error_log.h (whom the lines name), user_store.h
 * (the users, their roles, archiving them, their emails). The plan keeps
 * its sets, up to an account's every user, in temporary tables of its own
 * that those owners fill and read by name, rather than through C.
 *
 * Functions run inside the caller's transaction, with the import's row
 * locked. They return 0, -EAGAIN/-EIO (db->errmsg) or -ENOMEM. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "result_log.h"

/* Records the active users of the import's roles that the file does not
 * list (replacing any earlier record). *ret_pool is how many active users
 * those roles have, *ret_missing how many of them are recorded. */
int archive_store_plan(Db *db, const char *import_id, int64_t *ret_pool, int64_t *ret_missing) _must_check_;

/* Archives the recorded users that are still active; forgets the others
 * (changed meanwhile). *ret_archived is how many it archived. */
int archive_store_apply(Db *db, const char *import_id, int64_t *ret_archived) _must_check_;

/* Forgets the record (a cancelled or re-run import). */
int archive_store_forget(Db *db, const char *import_id) _must_check_;

/* The recorded users with an id above after_id, at most limit, by id, as
 * results (line 0, outcome ROW_ARCHIVED, the user's email). Outside a
 * transaction too. The array belongs to the caller:
 * result_log_items_free(). */
int archive_store_page(Db *db, const char *import_id, int64_t after_id, int limit, ResultItem **ret,
                       size_t *ret_n) _must_check_;
