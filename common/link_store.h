/* Links between users (link.<kind> columns) that wait for the end of an
 * import: a line may link to a user the file creates on a later line,
 * or in a range another worker writes. user_store_write() keeps such a
 * link in import_links; link_store_resolve() makes it when the import
 * ends, once every line is written (or is cancelled: the lines written
 * stay, with their links).
 *
 * A waiting link whose user still does not exist names a line of the
 * file that failed: the linking line gets a warning (link_target_failed)
 * and counts among the rows with warnings; the rest of its links stand.
 *
 * Runs inside the caller's transaction, with the import's row locked.
 * Returns 0, -EAGAIN/-EIO (db->errmsg) or -ENOMEM. */
#pragma once

#include <stdint.h>

#include "db.h"

/* Makes the import's waiting links and forgets them. *ret_unmade is how
 * many could not be made. */
int link_store_resolve(Db *db, const char *import_id, int64_t *ret_unmade) _must_check_;
