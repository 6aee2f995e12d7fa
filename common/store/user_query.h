/* Reading an account's users for the API: pages of them with their links
 * (role, establishment, pupils, teams, other users), one by id, and what an export in
 * the template's columns needs. user_store.h writes the same tables.
 *
 * Functions return 0, -ENOENT as said, -EAGAIN/-EIO for database failures
 * (db->errmsg), -ENOMEM. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "uuid.h"

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
void user_query_views_free(UserView *v, size_t n);

/* Users of the account matching f, ordered by email (in lower case),
 * after the sort key after_email (NULL: from the first), at most limit.
 * The array belongs to the caller: user_query_views_free(). */
int user_query_list(Db *db, int64_t account_id, const UserFilter *f, const char *after_email, int limit,
                    UserView **ret, size_t *ret_n) _must_check_;

/* The account's user with this id; -ENOENT when there is none. Release
 * with user_query_views_free(ret, 1) semantics: user_query_view_done(). */
int user_query_get(Db *db, int64_t account_id, int64_t id, UserView *ret) _must_check_;
void user_query_view_done(UserView *v);

/* The link kinds the account's users have (the link columns an export
 * needs), in order. The array and its strings belong to the caller:
 * user_query_link_kinds_free(). */
int user_query_link_kinds(Db *db, int64_t account_id, char ***ret, size_t *ret_n) _must_check_;
void user_query_link_kinds_free(char **kinds, size_t n);

/* The most pupils any user of the account is linked to (the UPN columns
 * an export needs). */
int user_query_max_pupils(Db *db, int64_t account_id, int *ret) _must_check_;
