/* The establishments (schools, by URN) that users are linked to: loaded
 * from GIAS files by roster-admin, read for templates. (The batch look-up
 * that checks a file's URNs is one statement with the users', in
 * user_store.c.)
 *
 * Functions return 0, -EAGAIN/-EIO (db->errmsg) or -ENOMEM. */
#pragma once

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
