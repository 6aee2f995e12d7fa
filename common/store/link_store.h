/* Links between users of an account (link.<kind> columns, user_links):
 * a row's non-blank link cell replaces its user's links of that kind
 * with the users its emails name.
 *
 * Each email must name a user of the account or a line of the same file
 * (the job's file_emails), else the row fails with unknown_user
 * (link_store_check()). A line may name a user the file creates on a
 * later line, or in a range another worker writes: link_store_write()
 * keeps such a link in import_links, and link_store_resolve() makes it
 * when the import ends (or stops: the lines written stay, with their
 * links). A waiting link whose user still does not exist names a line
 * that failed: the linking line gets the warning link_target_failed and
 * counts among the rows with warnings; its other links stand. A dry run
 * makes no link but gives the same warnings: its links to lines of the
 * file wait, and its end tells from the failed lines which would fail.
 *
 * Its tables are user_links and import_links; what others read of
 * user_links (a page's links, an account's kinds) they ask by user ids
 * (link_store_links_of(), link_store_kinds_of()). Users are found through
 * user_store (user_store_find_ids(), user_store_exist()), what an import
 * is through import_store, and the warnings go to error_log: their SQL
 * is theirs.
 *
 * link_store_check() and link_store_write() run inside the batch's
 * transaction, after user_store_check() and user_store_write();
 * link_store_resolve() inside the transaction that ends the import, with
 * its row locked. Every statement is driven by the batch's own rows and
 * probes the big tables by index. Returns 0, -EAGAIN/-EIO (db->errmsg)
 * or -ENOMEM. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "import_batch.h"
#include "user_store.h"

/* Fails the rows whose links name nobody (unknown_user). */
int link_store_check(Db *db, const UserStoreJob *job, ImportBatch *batch) _must_check_;

/* Writes the links of the rows that did not fail; user_ids[i] is row i's
 * user. Marks changed[i] for each row whose links changed or wait. */
int link_store_write(Db *db, const UserStoreJob *job, const ImportBatch *batch, const int64_t *user_ids,
                     bool *changed) _must_check_;

/* Makes the import's waiting links and forgets them, warning the lines
 * whose links could not be made (and adding those lines to the import's
 * rows with warnings). *ret_unmade (may be NULL) is how many could not be
 * made. Inside the caller's transaction; called outside one, it runs in
 * a transaction of its own, so that its statements stand or fall
 * together. The waiting links are taken out and made some 100,000 at a
 * time: the memory it needs stays bounded however many wait. */
int link_store_resolve(Db *db, const char *import_id, int64_t *ret_unmade) _must_check_;

/* One stored link: user_id's link of this kind to target_id. */
typedef struct LinkRow {
        int64_t user_id;
        char kind[65];
        int64_t target_id;
} LinkRow;

/* The links of these users, in one statement (by the primary key's
 * user_id), ordered by user id, kind and target id. The array belongs to
 * the caller (free()); on failure *ret is untouched. */
int link_store_links_of(Db *db, const int64_t *user_ids, size_t n, LinkRow **ret, size_t *ret_n) _must_check_;

/* The distinct kinds of link these users have, in order, asked 10,000
 * users to a statement. The array and its strings belong to the caller:
 * link_store_kinds_free(); on failure *ret is untouched. */
int link_store_kinds_of(Db *db, const int64_t *user_ids, size_t n, char ***ret, size_t *ret_n) _must_check_;
void link_store_kinds_free(char **kinds, size_t n);
