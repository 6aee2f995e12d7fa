/* The database schema and its migrations (roster-admin migrate). */
#pragma once

#include "db.h"

/* Applies every migration newer than the database's version, each in its
 * own transaction, holding an advisory lock so that concurrent runs wait
 * for each other. Safe to re-run. Returns 0 with the versions before and
 * after in *ret_from and *ret_to (either may be NULL), or -EIO with the
 * failure in db->errmsg. */
int schema_migrate(Db *db, int *ret_from, int *ret_to) _must_check_;

/* Returns the database's schema version when it is up to date, -ENOENT when
 * it is not migrated (or older than this build), -EIO on failure. */
int schema_check(Db *db);

/* The version the migrations of this build reach. */
int schema_latest_version(void);
