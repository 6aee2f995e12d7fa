/* The establishments (schools, by URN) that users are linked to: loaded
 * from GIAS files by roster-admin, read for templates, for the names of
 * users' establishments (user_store_list()) and for the URNs a batch of
 * rows names (user_store_look_up_send()). Owns the table establishments.
 *
 * Functions return 0, -EAGAIN/-EIO (db->errmsg) or -ENOMEM. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

/* Starts a load inside the caller's transaction: a staging table for
 * (urn, name, line) rows, and a COPY into it on *copy (rows in COPY text
 * format; end it with db_copy_end()). */
int establishment_store_stage_begin(Db *db, DbCopy *copy) _must_check_;

/* The first URN staged twice, if any: 1 with the URN and its first two
 * lines, or 0. */
int establishment_store_stage_duplicate(Db *db, int64_t *ret_urn, int64_t *ret_first, int64_t *ret_second) _must_check_;

/* Upserts the staged establishments: how many were new and how many
 * renamed (unchanged ones count in neither). */
int establishment_store_stage_apply(Db *db, uint64_t *ret_inserted, uint64_t *ret_updated) _must_check_;

/* The smallest URN loaded, as six digits, for an example row; "" when
 * none is loaded. */
int establishment_store_example_urn(Db *db, char urn[16]) _must_check_;

/* The names of the establishments with these URNs, in one statement:
 * (*ret_names)[i] is urns[i]'s, NULL when no establishment has it. The
 * array and its strings belong to the caller:
 * establishment_store_names_free(). On failure *ret_names is untouched. */
int establishment_store_names(Db *db, const int *urns, size_t n, char ***ret_names) _must_check_;
void establishment_store_names_free(char **names, size_t n);

/* Which of these URNs an establishment has: exists[i] for urns[i], in one
 * statement (one probe of the primary key each). On failure exists is
 * left as it was. The caller owns both arrays. */
int establishment_store_exist(Db *db, const int *urns, size_t n, bool *exists) _must_check_;
