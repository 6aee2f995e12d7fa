/* The imports table: one row per accepted upload, the record of its state
 * and counts, plus its stored bytes (import_chunks). import_store owns
 * both tables: other modules read and change an import through the
 * functions below rather than in statements of their own - except that
 * import_purge_data() deletes its chunks with the rest of its data.
 *
 * The API writes chunks as they arrive and the imports row at the end, in
 * one transaction (import_store_put_chunk, import_store_insert, with
 * range_store_insert). How workers claim, fence and finish an import is
 * range_store.h's; the changes that makes to the imports row are written
 * here, as are the marks of the maintenance rounds (stalled imports,
 * purges).
 *
 * Functions return 0 or the errors said, -EAGAIN/-EIO for database
 * failures (db->errmsg), -ENOMEM, -EPROTO when a row holds a word the
 * schema does not allow. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit_store.h"
#include "db.h"
#include "file_reader.h"
#include "import_types.h"
#include "sha256.h"
#include "uuid.h"

typedef struct ImportRecord {
        char id[UUID_STRING_SIZE];
        int64_t account_id;
        ImportState state;
        char *actor;
        char *role_key; /* NULL when the import has no role option */
        ImportMode mode;
        InviteMode invite;
        bool dry_run;
        char *column_map; /* JSON text or NULL */
        char *file_name; /* NULL when not given */
        int64_t file_bytes;
        char file_sha256[SHA256_HEX_SIZE];
        char file_encoding[16];
        char file_delimiter[4];
        char *header; /* JSON array text */
        int64_t rows_total, rows_processed, created, updated, unchanged, failed, invites, warning_rows;
        char *warnings; /* JSON array text */
        char *error_code; /* NULL unless failed as a whole */
        char *error_message;
        char *callback_url; /* NULL when none */
        char *worker;
        int attempts;
        double heartbeat_age; /* seconds since the worker's last heartbeat, -1 when none */
        char created_at[40], started_at[40], finished_at[40]; /* "" when not yet */
        MissingMode missing;
        int change_threshold; /* percent */
        int64_t archived; /* or, in a dry run or held, would archive */
        /* Its file and row data are gone since then (retention, or a
         * DELETE by deleted_by at deleted_at); "" when not. */
        char purged_at[40], deleted_at[40];
        char deleted_by[128];
} ImportRecord;

/* Frees what the record owns (not r itself). */
void import_store_record_done(ImportRecord *r);

/* What the API learnt from an upload. */
typedef struct ImportDraft {
        const char *id;
        int64_t account_id;
        int64_t token_id;
        const char *actor;
        const char *role_key;
        ImportMode mode;
        InviteMode invite;
        bool dry_run;
        const char *column_map;
        const char *file_name;
        uint64_t file_bytes;
        const char *file_sha256;
        const char *file_encoding;
        char file_delimiter;
        const char *header_json;
        uint64_t rows_total;
        const char *warnings_json;
        const char *idempotency_key; /* NULL when none */
        const char *callback_url; /* NULL when none */
        MissingMode missing;
        int change_threshold;
        int email_column; /* the file's Email column, -1 when none */
        const FilePoint *points; /* where the ranges after the first start */
        size_t n_points;
        const char *request_id; /* for the audit event import.create */
} ImportDraft;

/* Stores one chunk of an upload (inside the caller's transaction). */
int import_store_put_chunk(Db *db, const char *import_id, int seq, const void *data, size_t len) _must_check_;

/* Inserts the imports row (inside the caller's transaction, after the
 * chunks), with its audit event (import.create). -EEXIST when the account already has an import with this
 * Idempotency-Key from the last 24 hours, made from the same file and
 * options: its id is written to ret_existing and nothing is inserted (the
 * caller rolls back). -EILSEQ likewise when that import was made from
 * another file or other options. */
int import_store_insert(Db *db, const ImportDraft *d, char ret_existing[UUID_STRING_SIZE]) _must_check_;

/* Reads an import. account_id 0 reads any account's (workers). -ENOENT
 * when there is none, or it belongs to another account. */
int import_store_get(Db *db, int64_t account_id, const char *id, ImportRecord *ret) _must_check_;

/* Lists an account's imports, newest first. state may be NULL. after_*:
 * the cursor (created_at and id of the last item seen) or NULL. The array
 * belongs to the caller: import_store_records_free(). */
int import_store_list(Db *db, int64_t account_id, const char *state, int limit, const char *after_created,
                      const char *after_id, ImportRecord **ret, size_t *ret_n) _must_check_;
void import_store_records_free(ImportRecord *r, size_t n);

/* Imports waiting or running, all accounts: counts[0] queued, [1]
 * processing, [2] validating. */
int import_store_count_active(Db *db, int64_t counts[3]) _must_check_;

/* Reads chunk seq of an import's upload into *out (cleared first).
 * -ENOENT after the last chunk. */
int import_store_get_chunk(Db *db, const char *import_id, int seq, Buf *out) _must_check_;

/* The state changes a client asks for. Each runs its own transaction,
 * with the audit event of the change (audit: its object is filled in).
 * They return -ENOENT (no such import in the account), -EBUSY when the
 * import's state (in ret_state) does not allow the change. */

/* Turns a validated dry run into a real import, run again from its stored
 * upload: counts, error log and results cleared, state queued; or
 * finishes a held import, archiving what it would (archive_store.h).
 * -EIDRM when its data were purged (import_purge.h): there is nothing
 * left to commit. */
int import_store_commit(Db *db, int64_t account_id, const char *id, const AuditEvent *audit,
                        ImportState *ret_state) _must_check_;

/* Cancels a queued or running import (rows already committed stay; a
 * worker stops at its next checkpoint), a validated dry run or a held
 * import (it will not be committed, and archives nothing). ret_state is
 * the state it was in: when that was a running one, batches may still be
 * writing, and the caller clears its scratch once they are done
 * (range_store_clear_stopped()). */
int import_store_cancel(Db *db, int64_t account_id, const char *id, const AuditEvent *audit,
                        ImportState *ret_state) _must_check_;

/* Marks a final, validated or held import deleted (deleted_at, by the
 * audit event's actor) and its data purged; import_purge_data() then
 * removes them. Deleting it again changes nothing and records nothing.
 * -EBUSY while it is queued or running. */
int import_store_delete(Db *db, int64_t account_id, const char *id, const AuditEvent *audit,
                        ImportState *ret_state) _must_check_;

/* What a worker's ranges change on the import (range_store.h says when).
 * Each is one statement, inside the caller's transaction when it holds
 * one. */

/* Reads an import's state, without a lock. -ENOENT when there is no such
 * import. */
int import_store_get_state(Db *db, const char *id, ImportState *ret) _must_check_;
/* Reads an import's state as import_store_get_state() does, and holds the
 * row (FOR KEY SHARE) until the caller's transaction ends: a batch holds
 * it while it writes. Holders wait neither for each other nor for a state
 * change (a batch that read "running" may commit after a cancel); only
 * import_store_await_writers() waits for them. */
int import_store_hold_state(Db *db, const char *id, ImportState *ret) _must_check_;
/* Waits, inside the caller's transaction, until no batch holds the
 * import's row (import_store_hold_state()), and keeps others from taking
 * it until the transaction ends (FOR UPDATE), giving up after
 * lock_timeout_ms with -EIO. Once the import has stopped, the batches that
 * read it running have then committed or rolled back, and later ones read
 * that it stopped. -ENOENT when there is no such import. */
int import_store_await_writers(Db *db, const char *id, int lock_timeout_ms) _must_check_;

/* What a worker decides by, read under the import's row lock. */
typedef struct ImportStatus {
        ImportState state;
        bool dry_run;
        MissingMode missing;
        int change_threshold; /* percent */
        bool all_failed; /* it has rows and every one failed */
} ImportStatus;

/* Locks the import's row (FOR NO KEY UPDATE) until the caller's
 * transaction ends, and reads its status into *ret. A claim and an
 * import's end take it before anything else, so that workers claiming and
 * finishing the same import go one at a time; batches being written
 * (import_store_hold_state()) do not hold it up. -ENOENT when there is no
 * such import. */
int import_store_lock(Db *db, const char *id, ImportStatus *ret) _must_check_;

/* A worker claimed a range: the import's state becomes processing
 * (validating for a dry run), with the worker, its attempts and a fresh
 * heartbeat; started_at is set at the first claim. The caller holds the
 * row's lock (import_store_lock()). */
int import_store_start(Db *db, const char *id, const char *worker, int attempts) _must_check_;

/* What a batch adds to its import's counts. */
typedef struct BatchCounts {
        int64_t rows, created, updated, unchanged, failed, invites, warned;
} BatchCounts;

/* Adds a committed batch's counts to the import's (rows to
 * rows_processed, warned to warning_rows) and renews its heartbeat. */
int import_store_add_counts(Db *db, const char *id, const BatchCounts *c) _must_check_;

/* Puts a running import back in the queue when its last worker hands
 * its range back: queued, no worker, enqueued now, and the hand-back not
 * counted as an attempt. Nothing when it no longer runs. */
int import_store_requeue(Db *db, const char *id) _must_check_;

/* Ends a running import whose ranges are all done: held when `held`,
 * else validated (dry run), failed (all_rows_failed) when it has rows and
 * every one failed, completed_with_errors or completed. archived is what
 * it archived, or would. Writes the state it ended in to *ret_state. The
 * caller holds the row's lock (import_store_lock()). */
int import_store_finish(Db *db, const char *id, bool held, int64_t archived,
                        ImportState *ret_state) _must_check_;

/* Marks an import failed as a whole with a stable code and a message,
 * unless it is completed, completed_with_errors, failed, cancelled or
 * validated already (then nothing changes). Batches being written are
 * not waited for (range_store_clear_stopped() does). */
int import_store_fail(Db *db, const char *id, const char *code, const char *message) _must_check_;

/* For the maintenance rounds. ids is the caller's array of max entries;
 * *ret_n says how many were written. */

/* Imports waiting for a worker that may have lost their queue message:
 * queued for more than wait_seconds, or processing/validating with no
 * heartbeat - neither the import's nor any of its ranges'
 * (range_store.h) - for lease_seconds. Marks them enqueued now and writes
 * up to max ids, oldest first; an import whose row is locked (its state
 * is changing) is alive and skipped. */
int import_store_stalled(Db *db, int wait_seconds, int lease_seconds, size_t max, char (*ids)[UUID_STRING_SIZE],
                         size_t *ret_n) _must_check_;

/* Marks up to max queued imports, oldest first, enqueued now and writes
 * their ids: for a caller that enqueues them again at once (Redis lost
 * its queue: redis_epoch.h), inside its transaction. */
int import_store_queued(Db *db, size_t max, char (*ids)[UUID_STRING_SIZE], size_t *ret_n) _must_check_;

/* Marks for purging (purged_at, purge_pending: import_purge.h) up to max
 * imports that ended more than retention_days ago, skipping any whose row
 * is locked (a client committing or deleting it), and writes the ids of
 * the imports marked and still pending, at most max. */
int import_store_purge_due(Db *db, int retention_days, size_t max, char (*ids)[UUID_STRING_SIZE],
                           size_t *ret_n) _must_check_;

/* Clears purge_pending once the import's data are deleted
 * (import_purge_data()). */
int import_store_purge_done(Db *db, const char *id) _must_check_;

/* What an import's links are resolved against: whose users its rows
 * name, whether it is a dry run, and where its file's emails are. */
typedef struct ImportScope {
        int64_t account_id;
        bool dry_run;
        int email_column; /* the file's Email column, -1 when none */
} ImportScope;

/* Reads an import's scope, inside the caller's transaction or alone.
 * -ENOENT when there is no such import; *ret is left as it was on
 * failure. */
int import_store_get_scope(Db *db, const char *id, ImportScope *ret) _must_check_;

/* Adds n to an import's count of rows with warnings (warning_rows),
 * inside the caller's transaction: rows that got their first warning
 * after their batch was written. */
int import_store_add_warning_rows(Db *db, const char *id, int64_t n) _must_check_;
