/* user_store: the users of an account and their links, written from a
 * batch of checked rows.
 *
 * Set-based: user_store_look_up_send() asks the database what it knows of
 * the rows (in one statement the existing user of each email, whose values
 * tell which rows would change nothing; establishment_store the URNs not
 * known to exist yet), and may run ahead of the write, outside its
 * transaction, on a connection of its own.
 * user_store_check() then finds in-file duplicates of earlier batches and
 * ranges (and looks up a batch not looked up yet) and adds the issues;
 * user_store_write() COPYs the other rows into a temporary staging table
 * and upserts the users, and replaces pupil and team links where a row
 * gives them; it tells which rows created a user, and the caller writes
 * the batch's invite outbox row (invite_outbox_add()) in the same
 * transaction. What changed between the
 * look-up and the write (a user deleted, an establishment gone) makes the
 * write return -EAGAIN, and the batch is then checked again in the
 * transaction. batch_writer.h runs these in order with the other stores
 * of a batch.
 *
 * user_store_check() and user_store_write() run inside the caller's
 * transaction. Issues the database finds are added to the batch rows
 * (import_batch_rewind() undoes them and the look-up, for a retry).
 *
 * Other stores that need users by email or by id ask: link_store.h
 * user_store_find_ids() and user_store_exist(), invite_outbox.h
 * user_store_invitees(), result_log.h and archive_store.h
 * user_store_emails() and the functions at the end of this file. The
 * tables users, user_pupils and user_teams are named here only.
 *
 * The API reads users here too (user_store_list(), user_store_get(), and
 * for an export user_store_link_kinds() and user_store_max_pupils()):
 * their roles and teams come from account_store, their establishments'
 * names from establishment_store and their links from link_store, asked
 * by ids, a few statements per page whatever its size.
 *
 * Returns 0, -ENOENT where said, -EAGAIN/-EIO (db->errmsg), -ENOMEM. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "email_filter.h"
#include "import_batch.h"
#include "import_store.h"
#include "range_store.h"
#include "urn_set.h"
#include "uuid.h"

typedef struct UserStoreJob {
        const char *import_id;
        int64_t account_id;
        ImportMode mode;
        bool dry_run;
        bool invite; /* count invite events for created users */
        /* The emails that may repeat in the file (NULL: any may). Those
         * that surely do not are neither registered for the duplicate
         * check nor looked up there. */
        const EmailFilter *emails;
        /* Every email of the file (NULL: the file has no link columns):
         * a link may name a user the file creates (link_store.h). */
        const EmailSet *file_emails;
        /* The URNs of establishments the import's earlier look-ups found
         * (NULL: every URN is asked for). Those are not asked again. Only
         * the look-up uses the set, on the thread that owns it.
         * Establishments are only ever added or renamed; should one be
         * deleted all the same, the write fails on the users' foreign key,
         * and user_store_write() sets *known_urns_stale (from the writing
         * thread: the owner empties the set before its next look-up) and
         * returns -EAGAIN, so that the batch is checked again. */
        UrnSet *known_urns;
        atomic_bool *known_urns_stale;
} UserStoreJob;

/* Looks the batch's rows up, in a statement of its own (outside a
 * transaction), in two steps so that the caller can work meanwhile:
 * _send() sends it and returns 1, or returns 0 when there is nothing to
 * ask (the batch is then looked up); _receive() waits for the answer and
 * sets batch->looked_up. Nothing else may use the connection in between.
 * On failure the batch is as before, not looked up. */
int user_store_look_up_send(Db *db, const UserStoreJob *job, ImportBatch *batch) _must_check_;
int user_store_look_up_receive(Db *db, const UserStoreJob *job, ImportBatch *batch) _must_check_;

/* The checks of a batch (before user_store_write()). */
int user_store_check(Db *db, const UserStoreJob *job, ImportBatch *batch) _must_check_;

/* Writes the batch's rows that did not fail: created[i] / changed[i]
 * (indexed like batch->rows, zeroed by the caller) tell what happened to
 * row i, user_ids[i] its user (0 for a row that failed); *ret_invites is
 * the number of invite events the created users get (none without
 * job->invite or in a dry run): the caller writes them. */
int user_store_write(Db *db, const UserStoreJob *job, ImportBatch *batch, bool *created, bool *changed,
                     int64_t *user_ids, int64_t *ret_invites) _must_check_;

/* The users of an account with these emails (lower case), as one
 * statement finds them by the account's email index: ids[i] is the id of
 * emails[i]'s user, 0 when there is none. Emails may repeat (each is
 * asked once). Inside the caller's transaction or alone; on failure ids
 * is left as it was. The caller owns both arrays. */
int user_store_find_ids(Db *db, int64_t account_id, size_t n, const char *const *emails,
                        int64_t *ids) _must_check_;

/* Which of these users (of any account) exist: exists[i] for ids[i], by
 * primary key, in one statement. On failure exists is left as it was.
 * The caller owns both arrays. */
int user_store_exist(Db *db, size_t n, const int64_t *ids, bool *exists) _must_check_;

/* What to list: NULL / -1 / 0 for "any". */
typedef struct UserFilter {
        const char *email; /* one email, in any case */
        const char *role; /* a role key */
        int urn; /* an establishment */
        const char *team; /* a team name, in any case */
        int active; /* 1, 0, or -1 */
        const char *created_by_import; /* an import id */
        const char *updated_by_import;
} UserFilter;

typedef struct UserView {
        int64_t id;
        char *email, *first_name, *last_name;
        char *job_title, *phone; /* NULL when not set */
        char *role_key, *role_name;
        int urn; /* 0 when none */
        char *establishment_name; /* NULL when none */
        bool active;
        char *custom; /* JSON object text */
        char *pupils; /* JSON array of UPNs, in order */
        char *teams; /* JSON array of {id, name}, by name */
        char *team_names; /* the names joined with "; ", "" when none */
        char created_at[40], updated_at[40];
        char created_by_import[UUID_STRING_SIZE], updated_by_import[UUID_STRING_SIZE]; /* "" when none */
        char *sort_key; /* the email as the list orders it: the cursor after this user */
        char *linked; /* JSON object: link kind -> array of {id, email}, by email */
} UserView;

/* Frees n views and the array. NULL is a no-op. */
void user_store_views_free(UserView *v, size_t n);

/* Users of the account matching f, ordered by email (in lower case),
 * after the sort key after_email (NULL: from the first), at most limit.
 * A role key or team name the account does not have lists nobody. The
 * page is read with one snapshot (db_snapshot()), so a user, its role and
 * its teams are as they were at one moment. The array belongs to the
 * caller: user_store_views_free(). */
int user_store_list(Db *db, int64_t account_id, const UserFilter *f, const char *after_email, int limit,
                    UserView **ret, size_t *ret_n) _must_check_;

/* The account's user with this id; -ENOENT when there is none. The view
 * belongs to the caller: user_store_view_done() frees what it holds. */
int user_store_get(Db *db, int64_t account_id, int64_t id, UserView *ret) _must_check_;
void user_store_view_done(UserView *v);

/* The link kinds the account's users have (the link columns an export
 * needs), in order. The array and its strings belong to the caller:
 * user_store_link_kinds_free(). */
int user_store_link_kinds(Db *db, int64_t account_id, char ***ret, size_t *ret_n) _must_check_;
void user_store_link_kinds_free(char **kinds, size_t n);

/* The most pupils any user of the account is linked to (the UPN columns
 * an export needs). */
int user_store_max_pupils(Db *db, int64_t account_id, int *ret) _must_check_;

/* The emails of these users (of any account), in one statement:
 * emails[i] becomes a copy of ids[i]'s email, and stays as it was (NULL)
 * where ids[i] is 0 or there is no such user. On failure some entries may
 * have been set: the caller frees every entry (free()) either way, and
 * owns both arrays. */
int user_store_emails(Db *db, size_t n, const int64_t *ids, char **emails) _must_check_;

/* For a full sync's plan (archive_store.c), which keeps the sets it works
 * on - up to all of an account's users - in temporary tables of its own
 * rather than bringing them through C. Table names are ones the caller
 * spells in its code, never input: -EINVAL unless at most 63 lower-case
 * letters and underscores; each is looked up in pg_temp only. All run
 * one statement inside the caller's transaction. */

/* Adds to ids_table (a column id bigint) the ids of the account's users
 * whose email in lower case is one of emails_table's (a column email
 * text, in lower case), by the account's email index. */
int user_store_ids_by_emails_into(Db *db, int64_t account_id, const char *emails_table,
                                  const char *ids_table) _must_check_;

/* The roles (ids, each once, in no order) of the users whose ids are in
 * ids_table. The array belongs to the caller: free(). */
int user_store_roles_of(Db *db, const char *ids_table, int64_t **ret, size_t *ret_n) _must_check_;

/* The account's active users of these roles: *ret_pool is how many; the
 * ids of those not in except_table are added to into_table (a column id
 * bigint), *ret_added how many. On failure the counts are left as they
 * were. The caller owns role_ids. */
int user_store_active_except_into(Db *db, int64_t account_id, size_t n_roles, const int64_t *role_ids,
                                  const char *except_table, const char *into_table, int64_t *ret_pool,
                                  int64_t *ret_added) _must_check_;

/* Archives those of these users (of any account, no id twice) that are
 * active: sets them inactive, updated now by the import. changed[i] says
 * whether ids[i] was, *ret_changed how many were. One statement, inside the
 * caller's transaction; on failure changed and *ret_changed are left as
 * they were. The caller owns both arrays. */
int user_store_deactivate(Db *db, const char *import_id, size_t n, const int64_t *ids, bool *changed,
                          int64_t *ret_changed) _must_check_;

/* What an invitation says of a user. */
typedef struct Invitee {
        int64_t id;
        const char *email, *first_name, *last_name;
        int64_t role_id;
} Invitee;

/* The users of these ids (of any account) that still exist, in one
 * statement by primary key: *ret_n of them in *ret, ordered by id (an id
 * given twice is there once). The array and its strings are one
 * allocation that belongs to the caller: free(*ret). On failure *ret and
 * *ret_n are left as they were. */
int user_store_invitees(Db *db, const int64_t *ids, size_t n, Invitee **ret, size_t *ret_n) _must_check_;
