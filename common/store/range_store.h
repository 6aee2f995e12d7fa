/* How workers share an import: its ranges (import_ranges). The import's
 * own row is import_store's: these functions ask it to lock the row, read
 * the state and write the changes a range brings about, inside the same
 * transaction as the range's.
 *
 * The upload scan cuts a big file into ranges of rows at row boundaries;
 * the API stores them with the import (range_store_insert). Workers claim
 * one range at a time; several workers may work on one import at once,
 * each on a range of its own.
 *
 * The first occurrence of an email in the file wins wherever the ranges
 * run: a row whose email has a smaller line in import_emails (which keeps
 * the smallest line per email) is a duplicate. So a range may be applied
 * (its rows written in batches, each registering its emails) only once
 * every range before it is applied or registered (its emails put into
 * import_emails beforehand, without writing anything else). A worker
 * claims the first range that may be applied; when none may, it
 * registers a range that waits, so that it can be applied as soon as
 * those before it are. One worker thus applies the ranges in order and
 * registers none; more workers register ahead and then apply side by
 * side. A batch commits only while its worker holds the range and its
 * checkpoint (rows_done) is what the worker expects.
 *
 * Each range has a lease (heartbeat_at): a worker silent for longer than
 * the lease loses it to the next claim. attempts counts the claims of a
 * range in a row that committed nothing.
 *
 * Functions return 0 or the errors named, -EAGAIN/-EIO for database
 * failures (db->errmsg), -ENOMEM. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "db.h"
#include "file_reader.h"
#include "import_store.h"
#include "import_types.h"
#include "uuid.h"

/* The stored upload is kept in chunks of this size (the last smaller). */
#define IMPORT_CHUNK_SIZE (1u << 20)

typedef enum RangeTask {
        RANGE_REGISTER,
        RANGE_APPLY,
} RangeTask;

typedef struct ImportRange {
        int seq;
        RangeTask task;
        FilePoint start;
        uint64_t end_offset; /* UINT64_MAX: to the end of the file */
        int64_t first_row; /* the data row number of its first row, from 1 */
        int64_t rows; /* data rows in it, as the scan counted them */
        int64_t rows_done; /* applied and committed: the checkpoint */
} ImportRange;

/* Stores an upload's ranges, inside the upload's transaction: one, or one
 * more than the points the scan reported. */
int range_store_insert(Db *db, const char *import_id, uint64_t rows_total, const FilePoint *points,
                       size_t n_points) _must_check_;

typedef enum ClaimOutcome {
        CLAIM_OK, /* this worker has a range now */
        CLAIM_GONE, /* no such import */
        CLAIM_FINAL, /* already finished (or validated, or cancelled) */
        CLAIM_BUSY, /* nothing to take: other workers hold what is left */
        CLAIM_FINISH, /* every range is done: the import can be finished */
        CLAIM_EXHAUSTED, /* a range was started too often in a row: now marked failed (its scratch is the
                            caller's to clear: range_store_clear_stopped()) */
} ClaimOutcome;

typedef struct Claim {
        ClaimOutcome outcome;
        ImportRange range;
        int attempts; /* of the range, this claim included */
        bool more; /* other ranges wait for a worker */
        bool dry_run; /* what the import is now: a commit turns a dry run into a real one */
} Claim;

/* Takes the next range of an import for this worker (its own
 * transaction, the import's row locked first): the first that may be
 * applied, else the first left to register (see above). The import's
 * state becomes processing (validating for a dry run). */
int range_store_claim(Db *db, const char *import_id, const char *worker, int lease_seconds, int max_attempts,
                      Claim *ret) _must_check_;

/* Registers (email, line) pairs of a range: import_emails keeps the
 * smallest line per email. The emails must be distinct. Its own statement;
 * repeating it is harmless. */
int range_store_register(Db *db, const char *import_id, size_t n, const char *const *emails,
                         const unsigned long *lines) _must_check_;

/* Renews the lease of a range in the register phase. -ECANCELED when the
 * import was cancelled, -ESTALE when the range is no longer this
 * worker's. */
int range_store_touch(Db *db, const char *import_id, int seq, const char *worker) _must_check_;

/* At a checkpoint, inside the batch's transaction: locks the range and
 * checks that this worker holds it, that rows_done is what it expects
 * and that the import still runs. -ECANCELED / -ESTALE. */
int range_store_lock(Db *db, const char *import_id, int seq, const char *worker, int64_t rows_done) _must_check_;

/* Moves the range's checkpoint and adds the batch's counts to the
 * import's (import_store_add_counts()), inside the batch's transaction. */
int range_store_add_counts(Db *db, const char *import_id, int seq, const BatchCounts *c) _must_check_;

/* Marks a range's task done (registered, or applied) and gives it up.
 * -ESTALE when it is no longer this worker's, -ECANCELED. */
int range_store_done(Db *db, const char *import_id, const ImportRange *range, const char *worker) _must_check_;

/* Gives a range back (graceful stop) so that another worker may take it
 * at once; the attempt is not counted. When no other worker is on the
 * import, it is queued again (import_store_requeue()). Its own
 * transaction, tried once. */
int range_store_release(Db *db, const char *import_id, int seq, const char *worker) _must_check_;

/* Ends an import whose ranges are all done: validated (dry run),
 * completed, completed_with_errors, or failed when every row failed
 * (import_store_finish()), after its links and what a full sync archives.
 * Its own transaction, the import's row locked first. -ESTALE when not every range is done or the import no
 * longer runs (another worker finished it); -ECANCELED. */
int range_store_finish(Db *db, const char *import_id, ImportState *ret_state) _must_check_;

/* Deletes what an import keeps only while it runs: the emails it
 * registered (import_emails); and makes the links that wait for users it
 * created (link_store_resolve()). Inside the caller's transaction, or
 * alone. */
int range_store_forget_scratch(Db *db, const char *import_id) _must_check_;

/* Marks an import failed as a whole with a stable code and a message
 * (import_store_fail()), in a transaction of its own. Its scratch is the
 * caller's to clear then (range_store_clear_stopped()). */
int range_store_fail(Db *db, const char *import_id, const char *code, const char *message) _must_check_;

/* For an import that has stopped (cancelled or failed) while batches may
 * still be writing: in a transaction of its own, waits until the batches
 * that read it running are done (import_store_await_writers(), for up to
 * 30 s), then forgets its scratch, so that the links it makes see every
 * user those batches wrote. Later batches read that it stopped and write
 * nothing. 0 when there is no such import. */
int range_store_clear_stopped(Db *db, const char *import_id) _must_check_;

/* Makes an import's ranges new again, for a committed dry run that runs
 * once more from its stored upload: nothing applied, no worker, a single
 * range needing no registering. Inside the caller's transaction. */
int range_store_restart(Db *db, const char *import_id) _must_check_;

/* An email a batch row has that an earlier line of the file registered:
 * the row's line, and the first line with the email. */
typedef struct EmailSeen {
        unsigned long line, first_line;
} EmailSeen;

/* In-file duplicates of a batch's rows, registering its first
 * occurrences at the same time, in one statement inside the batch's
 * transaction (user_store.c says when a row registers). lines, emails and
 * registers are PostgreSQL array literals of the same length: each row's
 * line, email (lower case) and whether it registers. The array of rows
 * seen before belongs to the caller (free()). */
int range_store_check_emails(Db *db, const char *import_id, const char *lines, const char *emails,
                             const char *registers, EmailSeen **ret, size_t *ret_n) _must_check_;

/* Of imports (a PostgreSQL uuid[] literal), those with a range whose
 * worker renewed its heartbeat within lease_seconds, appended to ret as
 * a uuid[] literal (for import_store_stalled(): such an import is
 * alive). 0, -EAGAIN/-EIO (db->errmsg) or -ENOMEM. */
int range_store_alive(Db *db, const char *imports, int lease_seconds, Buf *ret) _must_check_;
