#include "import_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_store.h"
#include "buf.h"
#include "error_log.h"
#include "range_store.h"
#include "result_log.h"

#define RUNNING_STATES "('processing', 'validating')"

#define TS(col) "coalesce(to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), '')"

/* The columns import_record_from() reads, in order. */
#define IMPORT_COLUMNS                                                                                  \
        "id, account_id, state, actor, role_key, mode, invite, dry_run, column_map::text, file_name, "  \
        "file_bytes, coalesce(file_sha256, ''), coalesce(file_encoding, ''), "                          \
        "coalesce(file_delimiter, ''), coalesce(header::text, '[]'), rows_total, rows_processed, "      \
        "created, updated, unchanged, failed, invites, warning_rows, warnings::text, error_code, "      \
        "error_message, callback_url, worker, attempts, "                                                             \
        "coalesce(extract(epoch FROM now() - heartbeat_at), -1), " TS("created_at") ", "               \
        TS("started_at") ", " TS("finished_at") ", missing, change_threshold, archived, "                \
        TS("purged_at") ", " TS("deleted_at") ", coalesce(deleted_by, '')"

void import_store_record_done(ImportRecord *r) {
        if (!r)
                return;
        free(r->actor);
        free(r->role_key);
        free(r->column_map);
        free(r->file_name);
        free(r->header);
        free(r->warnings);
        free(r->error_code);
        free(r->error_message);
        free(r->callback_url);
        free(r->worker);
        memset(r, 0, sizeof *r);
}

void import_store_records_free(ImportRecord *r, size_t n) {
        for (size_t i = 0; r && i < n; i++)
                import_store_record_done(&r[i]);
        free(r);
}

static char *get_opt(const PGresult *res, int row, int col, bool *oom) {
        if (PQgetisnull(res, row, col))
                return NULL;
        char *s = strdup(PQgetvalue(res, row, col));
        if (!s)
                *oom = true;
        return s;
}

static int64_t get_i64(const PGresult *res, int row, int col) {
        return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static int import_record_from(const PGresult *res, int row, ImportRecord *r) {
        bool oom = false;
        int c = 0;

        memset(r, 0, sizeof *r);
        snprintf(r->id, sizeof r->id, "%s", PQgetvalue(res, row, c++));
        r->account_id = get_i64(res, row, c++);
        bool bad = import_state_from_string(PQgetvalue(res, row, c++), &r->state) < 0;
        r->actor = get_opt(res, row, c++, &oom);
        r->role_key = get_opt(res, row, c++, &oom);
        bad |= import_mode_from_string(PQgetvalue(res, row, c++), &r->mode) < 0;
        bad |= invite_mode_from_string(PQgetvalue(res, row, c++), &r->invite) < 0;
        r->dry_run = PQgetvalue(res, row, c++)[0] == 't';
        r->column_map = get_opt(res, row, c++, &oom);
        r->file_name = get_opt(res, row, c++, &oom);
        r->file_bytes = get_i64(res, row, c++);
        snprintf(r->file_sha256, sizeof r->file_sha256, "%s", PQgetvalue(res, row, c++));
        snprintf(r->file_encoding, sizeof r->file_encoding, "%s", PQgetvalue(res, row, c++));
        snprintf(r->file_delimiter, sizeof r->file_delimiter, "%s", PQgetvalue(res, row, c++));
        r->header = get_opt(res, row, c++, &oom);
        r->rows_total = get_i64(res, row, c++);
        r->rows_processed = get_i64(res, row, c++);
        r->created = get_i64(res, row, c++);
        r->updated = get_i64(res, row, c++);
        r->unchanged = get_i64(res, row, c++);
        r->failed = get_i64(res, row, c++);
        r->invites = get_i64(res, row, c++);
        r->warning_rows = get_i64(res, row, c++);
        r->warnings = get_opt(res, row, c++, &oom);
        r->error_code = get_opt(res, row, c++, &oom);
        r->error_message = get_opt(res, row, c++, &oom);
        r->callback_url = get_opt(res, row, c++, &oom);
        r->worker = get_opt(res, row, c++, &oom);
        r->attempts = (int) get_i64(res, row, c++);
        r->heartbeat_age = strtod(PQgetvalue(res, row, c++), NULL);
        snprintf(r->created_at, sizeof r->created_at, "%s", PQgetvalue(res, row, c++));
        snprintf(r->started_at, sizeof r->started_at, "%s", PQgetvalue(res, row, c++));
        snprintf(r->finished_at, sizeof r->finished_at, "%s", PQgetvalue(res, row, c++));
        bad |= missing_mode_from_string(PQgetvalue(res, row, c++), &r->missing) < 0;
        r->change_threshold = (int) get_i64(res, row, c++);
        r->archived = get_i64(res, row, c++);
        snprintf(r->purged_at, sizeof r->purged_at, "%s", PQgetvalue(res, row, c++));
        snprintf(r->deleted_at, sizeof r->deleted_at, "%s", PQgetvalue(res, row, c++));
        snprintf(r->deleted_by, sizeof r->deleted_by, "%s", PQgetvalue(res, row, c++));
        if (oom || bad) {
                /* bad: the schema's CHECKs allow no other words. */
                import_store_record_done(r);
                return oom ? -ENOMEM : -EPROTO;
        }
        return 0;
}

int import_store_put_chunk(Db *db, const char *import_id, int seq, const void *data, size_t len) {
        char seq_s[16];
        snprintf(seq_s, sizeof seq_s, "%d", seq);
        const char *params[] = { import_id, seq_s, data };
        const int lengths[] = { 0, 0, (int) len };
        const int formats[] = { 0, 0, 1 };
        _cleanup_(PQclearp) PGresult *r = db_exec_binary(
                db, "INSERT INTO import_chunks (import_id, seq, data) VALUES ($1, $2, $3)", 3, params, lengths, formats);
        return r ? 0 : db_error(db);
}

int import_store_get_chunk(Db *db, const char *import_id, int seq, Buf *out) {
        char seq_s[16];
        snprintf(seq_s, sizeof seq_s, "%d", seq);
        const char *params[] = { import_id, seq_s };
        _cleanup_(PQclearp) PGresult *r = db_exec_binary_result(
                db, "SELECT data FROM import_chunks WHERE import_id = $1 AND seq = $2", 2, params);
        if (!r)
                return db_error(db);
        if (PQntuples(r) == 0)
                return -ENOENT;
        buf_clear(out);
        return buf_append(out, PQgetvalue(r, 0, 0), (size_t) PQgetlength(r, 0, 0));
}

int import_store_insert(Db *db, const ImportDraft *d, char ret_existing[UUID_STRING_SIZE]) {
        char account[24], token[24], bytes[24], rows[24], delim[2] = { d->file_delimiter, 0 };
        snprintf(account, sizeof account, "%" PRId64, d->account_id);
        snprintf(token, sizeof token, "%" PRId64, d->token_id);
        snprintf(bytes, sizeof bytes, "%" PRIu64, d->file_bytes);
        snprintf(rows, sizeof rows, "%" PRIu64, d->rows_total);
        char threshold[16], email_column[16];
        snprintf(threshold, sizeof threshold, "%d", d->change_threshold);
        snprintf(email_column, sizeof email_column, "%d", d->email_column);

        if (d->idempotency_key) {
                /* A key older than 24 hours is free again. */
                const char *p[] = { account, d->idempotency_key };
                int k = db_run(db,
                               "UPDATE imports SET idempotency_key = NULL WHERE account_id = $1 "
                               "AND idempotency_key = $2 AND created_at < now() - interval '24 hours'",
                               2, p);
                if (k < 0)
                        return k;
        }

        const char *mode = import_mode_to_string(d->mode), *invite = invite_mode_to_string(d->invite);
        const char *p[] = { d->id,         account,          token,         d->actor,
                            d->role_key,   mode,             invite,        d->dry_run ? "t" : "f",
                            d->column_map, d->file_name,     bytes,         d->file_sha256,
                            d->file_encoding, delim,         d->header_json, rows,
                            d->warnings_json, d->idempotency_key, d->callback_url,
                            missing_mode_to_string(d->missing), threshold, email_column };
        /* ON CONFLICT waits for a concurrent upload with the same key to
         * commit or roll back, so two racing requests make one import. */
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "INSERT INTO imports (id, account_id, token_id, actor, state, role_key, mode, invite, dry_run, "
                "column_map, file_name, file_bytes, file_sha256, file_encoding, file_delimiter, header, rows_total, "
                "warnings, idempotency_key, callback_url, missing, change_threshold, email_column, enqueued_at) "
                "VALUES ($1, $2, NULLIF($3, '0')::bigint, $4, 'queued', $5, $6, $7, $8, $9::jsonb, $10, $11, $12, "
                "$13, $14, $15::jsonb, $16, $17::jsonb, $18, $19, $20, $21::int, NULLIF($22, '-1')::int, now()) "
                "ON CONFLICT (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING "
                "RETURNING id",
                22, p);
        if (!r)
                return db_error(db);
        if (PQntuples(r) == 1) {
                AuditEvent e = { .account_id = d->account_id,
                                 .token_id = d->token_id,
                                 .actor = d->actor,
                                 .action = "import.create",
                                 .object = d->id,
                                 .request_id = d->request_id };
                return audit_store_write(db, &e);
        }

        /* The same key must mean the same request: the same file and the
         * same options. Anything else is a client bug that replaying the
         * first import would hide. */
        const char *q[] = { account,   d->idempotency_key, d->file_sha256,          d->role_key,
                            mode,      invite,             d->dry_run ? "t" : "f", d->column_map,
                            d->callback_url, missing_mode_to_string(d->missing), threshold };
        _cleanup_(PQclearp) PGresult *e = db_exec(
                db,
                "SELECT id, file_sha256 = $3 AND role_key IS NOT DISTINCT FROM $4 AND mode = $5 AND invite = $6 "
                "  AND dry_run = $7::boolean AND column_map IS NOT DISTINCT FROM $8::jsonb "
                "  AND callback_url IS NOT DISTINCT FROM $9 AND missing = $10 AND change_threshold = $11::int "
                "FROM imports WHERE account_id = $1 AND idempotency_key = $2",
                11, q);
        if (!e)
                return db_error(db);
        if (PQntuples(e) != 1)
                return -EAGAIN; /* the other upload went away meanwhile: try again */
        snprintf(ret_existing, UUID_STRING_SIZE, "%s", PQgetvalue(e, 0, 0));
        return strcmp(PQgetvalue(e, 0, 1), "t") == 0 ? -EEXIST : -EILSEQ;
}

int import_store_get(Db *db, int64_t account_id, const char *id, ImportRecord *ret) {
        if (!uuid_is_valid(id))
                return -ENOENT;
        char account[24];
        snprintf(account, sizeof account, "%" PRId64, account_id);
        const char *p[] = { id, account };
        _cleanup_(PQclearp) PGresult *r =
                db_exec(db, "SELECT " IMPORT_COLUMNS " FROM imports WHERE id = $1 AND ($2 = '0' OR account_id = $2::bigint)",
                        2, p);
        if (!r)
                return db_error(db);
        if (PQntuples(r) == 0)
                return -ENOENT;
        return import_record_from(r, 0, ret);
}

int import_store_list(Db *db, int64_t account_id, const char *state, int limit, const char *after_created,
                      const char *after_id, ImportRecord **ret, size_t *ret_n) {
        char account[24], lim[16];
        snprintf(account, sizeof account, "%" PRId64, account_id);
        snprintf(lim, sizeof lim, "%d", limit);
        const char *p[] = { account, state, after_created, after_id, lim };
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "SELECT " IMPORT_COLUMNS " FROM imports WHERE account_id = $1 "
                "AND ($2::text IS NULL OR state = $2) "
                "AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid)) "
                "ORDER BY created_at DESC, id DESC LIMIT $5",
                5, p);
        if (!r)
                return db_error(db);
        size_t n = (size_t) PQntuples(r);
        ImportRecord *recs = calloc(n + 1, sizeof *recs);
        if (!recs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (import_record_from(r, (int) i, &recs[i]) < 0) {
                        import_store_records_free(recs, i);
                        return -ENOMEM;
                }
        *ret = recs;
        *ret_n = n;
        return 0;
}

typedef struct StateChange {
        const char *id;
        char account[24];
        unsigned from; /* the states it may leave, as 1 << state */
        bool needs_data; /* refused (-EIDRM) once the import's data are purged */
        int (*change)(Db *db, const char *id, ImportState from, const AuditEvent *audit); /* runs the change */
        const AuditEvent *audit;
        int result;
        ImportState state;
        bool clear_after; /* it was running: its scratch is the caller's to clear */
} StateChange;

static int state_change_tx(Db *db, void *userdata) {
        StateChange *c = userdata;
        const char *p[] = { c->id, c->account };
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "SELECT state, purged_at IS NOT NULL FROM imports WHERE id = $1 AND account_id = $2 FOR NO KEY UPDATE",
                2, p);
        if (!r)
                return db_error(db);
        if (PQntuples(r) == 0) {
                c->result = -ENOENT;
                return 0;
        }
        if (import_state_from_string(PQgetvalue(r, 0, 0), &c->state) < 0)
                return -EPROTO;
        if (!(c->from & (1u << c->state))) {
                c->result = -EBUSY;
                return 0;
        }
        if (c->needs_data && PQgetvalue(r, 0, 1)[0] == 't') {
                c->result = -EIDRM;
                return 0;
        }
        c->result = 0;
        /* A running import's batches may be writing: the change does not
         * wait for them, and its scratch is cleared once they are done
         * (range_store_clear_stopped(), by the caller). */
        c->clear_after = import_state_is_running(c->state);
        int k = c->change(db, c->id, c->state, c->audit);
        if (k == 0 && !c->clear_after)
                k = range_store_forget_scratch(db, c->id);
        if (k == 0 && c->audit) {
                AuditEvent e = *c->audit;
                e.object = c->id;
                k = audit_store_write(db, &e);
        }
        return k;
}

static int state_change(Db *db, int64_t account_id, const char *id, unsigned from, bool needs_data,
                        int (*change)(Db *db, const char *id, ImportState from, const AuditEvent *audit),
                        const AuditEvent *audit, ImportState *ret_state) {
        if (!uuid_is_valid(id))
                return -ENOENT;
        StateChange c = { .id = id, .from = from, .needs_data = needs_data, .change = change, .audit = audit };
        snprintf(c.account, sizeof c.account, "%" PRId64, account_id);
        int r = db_transaction(db, 5, state_change_tx, &c);
        if (r < 0)
                return r;
        *ret_state = c.state;
        return c.result;
}

static int commit_change(Db *db, const char *id, ImportState from, const AuditEvent *audit) {
        const char *p[] = { id };
        int r;
        if (from == IMPORT_STATE_HELD) {
                /* It ran in full and waits only to archive. */
                int64_t archived;
                char n[24];
                if ((r = archive_store_apply(db, id, &archived)) < 0)
                        return r;
                snprintf(n, sizeof n, "%" PRId64, archived);
                const char *q[] = { id, n };
                return db_run(db,
                              "UPDATE imports SET archived = $2::int, finished_at = now(), "
                              "  state = CASE WHEN failed > 0 THEN 'completed_with_errors' ELSE 'completed' END "
                              "WHERE id = $1",
                              2, q);
        }
        /* The dry run's report and results are replaced by the real run's. */
        if ((r = archive_store_forget(db, id)) < 0 || (r = error_log_forget(db, id)) < 0 ||
            (r = result_log_forget(db, id)) < 0 || (r = range_store_restart(db, id)) < 0)
                return r;
        return db_run(db,
                      "UPDATE imports SET state = 'queued', dry_run = false, rows_processed = 0, created = 0, "
                      "  updated = 0, unchanged = 0, failed = 0, archived = 0, invites = 0, warning_rows = 0, "
                      "  error_code = NULL, error_message = NULL, attempts = 0, worker = NULL, "
                      "  heartbeat_at = NULL, started_at = NULL, finished_at = NULL, enqueued_at = now() "
                      "WHERE id = $1",
                      1, p);
}

int import_store_commit(Db *db, int64_t account_id, const char *id, const AuditEvent *audit,
                        ImportState *ret_state) {
        return state_change(db, account_id, id, 1u << IMPORT_STATE_VALIDATED | 1u << IMPORT_STATE_HELD, true,
                            commit_change, audit, ret_state);
}

static int cancel_change(Db *db, const char *id, ImportState from, const AuditEvent *audit) {
        const char *p[] = { id };
        /* What a dry run or a held import would have archived is not. */
        int r = archive_store_forget(db, id);
        if (r < 0)
                return r;

        return db_run(db,
                      "UPDATE imports SET state = 'cancelled', finished_at = now(), worker = NULL, "
                      "  heartbeat_at = NULL, archived = 0 WHERE id = $1",
                      1, p);
}

int import_store_cancel(Db *db, int64_t account_id, const char *id, const AuditEvent *audit,
                        ImportState *ret_state) {
        /* A validated dry run or a held import waits for its commit:
         * cancelling it says it never will be. */
        unsigned from = 1u << IMPORT_STATE_QUEUED | 1u << IMPORT_STATE_PROCESSING | 1u << IMPORT_STATE_VALIDATING |
                        1u << IMPORT_STATE_VALIDATED | 1u << IMPORT_STATE_HELD;
        return state_change(db, account_id, id, from, false, cancel_change, audit, ret_state);
}

static int delete_change(Db *db, const char *id, ImportState from, const AuditEvent *audit) {
        const char *p[] = { id, audit ? audit->actor : "" };
        return db_run(db,
                      "UPDATE imports SET deleted_at = now(), deleted_by = $2, "
                      "  purged_at = coalesce(purged_at, now()), purge_pending = true "
                      "WHERE id = $1",
                      2, p);
}

int import_store_delete(Db *db, int64_t account_id, const char *id, const AuditEvent *audit,
                        ImportState *ret_state) {
        unsigned from = 1u << IMPORT_STATE_VALIDATED | 1u << IMPORT_STATE_HELD | 1u << IMPORT_STATE_COMPLETED |
                        1u << IMPORT_STATE_COMPLETED_WITH_ERRORS | 1u << IMPORT_STATE_FAILED |
                        1u << IMPORT_STATE_CANCELLED;
        if (!uuid_is_valid(id))
                return -ENOENT;
        /* Deleted already: nothing to change, nothing to record. */
        ImportRecord rec;
        int r = import_store_get(db, account_id, id, &rec);
        if (r < 0)
                return r;
        bool deleted = rec.deleted_at[0] != '\0';
        *ret_state = rec.state;
        import_store_record_done(&rec);
        if (deleted)
                return 0;
        return state_change(db, account_id, id, from, false, delete_change, audit, ret_state);
}

int import_store_count_active(Db *db, int64_t counts[3]) {
        _cleanup_(PQclearp) PGresult *res = db_exec(db,
                                                    "SELECT count(*) FILTER (WHERE state = 'queued'), "
                                                    "  count(*) FILTER (WHERE state = 'processing'), "
                                                    "  count(*) FILTER (WHERE state = 'validating') "
                                                    "FROM imports WHERE state IN ('queued', 'processing', 'validating')",
                                                    0, NULL);
        if (!res)
                return db_error(db);
        for (int i = 0; i < 3; i++)
                counts[i] = get_i64(res, 0, i);
        return 0;
}

static int read_state(Db *db, const char *sql, const char *id, ImportState *ret) {
        const char *p[] = { id };
        _cleanup_(PQclearp) PGresult *r = db_exec(db, sql, 1, p);
        if (!r)
                return db_error(db);
        if (PQntuples(r) == 0)
                return -ENOENT;
        /* The schema's CHECK allows no other words. */
        return import_state_from_string(PQgetvalue(r, 0, 0), ret) < 0 ? -EPROTO : 0;
}

int import_store_get_state(Db *db, const char *id, ImportState *ret) {
        return read_state(db, "SELECT state FROM imports WHERE id = $1", id, ret);
}

int import_store_hold_state(Db *db, const char *id, ImportState *ret) {
        return read_state(db, "SELECT state FROM imports WHERE id = $1 FOR KEY SHARE", id, ret);
}

int import_store_await_writers(Db *db, const char *id, int lock_timeout_ms) {
        char t[24];
        snprintf(t, sizeof t, "%d", lock_timeout_ms);
        const char *q[] = { t };
        _cleanup_(PQclearp) PGresult *set = db_exec(db, "SELECT set_config('lock_timeout', $1, true)", 1, q);
        if (!set)
                return db_error(db);
        const char *p[] = { id };
        _cleanup_(PQclearp) PGresult *r = db_exec(db, "SELECT 1 FROM imports WHERE id = $1 FOR UPDATE", 1, p);
        if (!r)
                return db_error(db);
        return PQntuples(r) == 1 ? 0 : -ENOENT;
}

int import_store_lock(Db *db, const char *id, ImportStatus *ret) {
        const char *p[] = { id };
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "SELECT state, dry_run, missing, change_threshold, rows_total > 0 AND failed = rows_total "
                "FROM imports WHERE id = $1 FOR NO KEY UPDATE",
                1, p);
        if (!r)
                return db_error(db);
        if (PQntuples(r) == 0)
                return -ENOENT;
        ImportStatus s = { .dry_run = PQgetvalue(r, 0, 1)[0] == 't',
                           .change_threshold = (int) get_i64(r, 0, 3),
                           .all_failed = PQgetvalue(r, 0, 4)[0] == 't' };
        if (import_state_from_string(PQgetvalue(r, 0, 0), &s.state) < 0 ||
            missing_mode_from_string(PQgetvalue(r, 0, 2), &s.missing) < 0)
                return -EPROTO;
        *ret = s;
        return 0;
}

int import_store_start(Db *db, const char *id, const char *worker, int attempts) {
        char att[16];
        snprintf(att, sizeof att, "%d", attempts);
        const char *p[] = { id, worker, att };
        return db_run(db,
                      "UPDATE imports SET state = CASE WHEN dry_run THEN 'validating' ELSE 'processing' END, "
                      "  worker = $2, heartbeat_at = now(), attempts = $3::int, "
                      "  started_at = coalesce(started_at, now()) WHERE id = $1",
                      3, p);
}

int import_store_add_counts(Db *db, const char *id, const BatchCounts *c) {
        char v[7][24];
        const int64_t vals[7] = { c->rows, c->created, c->updated, c->unchanged, c->failed, c->invites, c->warned };
        for (int i = 0; i < 7; i++)
                snprintf(v[i], sizeof v[i], "%" PRId64, vals[i]);
        const char *p[] = { id, v[0], v[1], v[2], v[3], v[4], v[5], v[6] };
        return db_run(db,
                      "UPDATE imports SET rows_processed = rows_processed + $2, created = created + $3, "
                      "updated = updated + $4, unchanged = unchanged + $5, failed = failed + $6, "
                      "invites = invites + $7, warning_rows = warning_rows + $8, heartbeat_at = now() "
                      "WHERE id = $1",
                      8, p);
}

int import_store_requeue(Db *db, const char *id) {
        const char *p[] = { id };
        return db_run(db,
                      "UPDATE imports SET state = 'queued', worker = NULL, heartbeat_at = NULL, enqueued_at = now(), "
                      "  attempts = greatest(attempts - 1, 0) "
                      "WHERE id = $1 AND state IN " RUNNING_STATES,
                      1, p);
}

int import_store_finish(Db *db, const char *id, bool held, int64_t archived, ImportState *ret_state) {
        char held_s[2] = { held ? 't' : 'f', 0 }, archived_s[24];
        snprintf(archived_s, sizeof archived_s, "%" PRId64, archived);
        const char *p[] = { id, held_s, archived_s };
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "UPDATE imports SET archived = $3::int, "
                "  state = CASE WHEN $2::boolean THEN 'held' WHEN dry_run THEN 'validated' "
                "               WHEN rows_total > 0 AND failed = rows_total THEN 'failed' "
                "               WHEN failed > 0 THEN 'completed_with_errors' ELSE 'completed' END, "
                "  error_code = CASE WHEN NOT dry_run AND rows_total > 0 AND failed = rows_total "
                "                    THEN 'all_rows_failed' END, "
                "  error_message = CASE WHEN NOT dry_run AND rows_total > 0 AND failed = rows_total "
                "                       THEN 'every row failed; nothing was imported (see the errors)' END, "
                "  finished_at = now(), worker = NULL, heartbeat_at = NULL "
                "WHERE id = $1 RETURNING state",
                3, p);
        if (!r)
                return db_error(db);
        if (PQntuples(r) == 0)
                return -ENOENT;
        return import_state_from_string(PQgetvalue(r, 0, 0), ret_state) < 0 ? -EPROTO : 0;
}

int import_store_fail(Db *db, const char *id, const char *code, const char *message) {
        const char *p[] = { id, code, message };
        return db_run(db,
                      "UPDATE imports SET state = 'failed', error_code = $2, error_message = $3, "
                      "finished_at = now(), worker = NULL, heartbeat_at = NULL "
                      "WHERE id = $1 AND state NOT IN ('completed', 'completed_with_errors', 'failed', "
                      "'cancelled', 'validated')",
                      3, p);
}

int import_store_stalled(Db *db, int wait_seconds, int lease_seconds, size_t max, char (*ids)[UUID_STRING_SIZE],
                         size_t *ret_n) {
        char w[16], l[16], m[16];
        snprintf(w, sizeof w, "%d", wait_seconds);
        snprintf(l, sizeof l, "%d", lease_seconds);
        snprintf(m, sizeof m, "%zu", max);

        /* The running imports whose own heartbeat is old: it moves at
         * claims and checkpoints only. Those with a range whose worker
         * renewed its heartbeat since (range_store_touch(), while it
         * registers the range's emails) are alive. */
        Buf quiet = BUF_INIT, alive = BUF_INIT;
        const char *q[] = { l };
        PGresult *r = db_exec(db,
                              "SELECT id FROM imports WHERE state IN " RUNNING_STATES " "
                              "AND coalesce(heartbeat_at, '-infinity') < now() - make_interval(secs => $1::int)",
                              1, q);
        if (!r)
                return db_error(db);
        int k = buf_append_char(&quiet, '{');
        for (int i = 0; k >= 0 && i < PQntuples(r); i++)
                k = db_array_text(&quiet, PQgetvalue(r, i, 0));
        if (k >= 0)
                k = buf_append_char(&quiet, '}');
        if (k >= 0 && PQntuples(r) > 0)
                k = range_store_alive(db, quiet.data, lease_seconds, &alive);
        else if (k >= 0)
                k = buf_append(&alive, "{}", 2);
        PQclear(r);
        if (k < 0) {
                buf_done(&quiet);
                buf_done(&alive);
                return k;
        }

        /* SKIP LOCKED: an import whose state is changing right now is
         * alive by definition. The limit counts only imports that look
         * stalled. */
        const char *p[] = { w, l, m, quiet.data, alive.data };
        r = db_exec(db,
                    "UPDATE imports SET enqueued_at = now() WHERE id IN ("
                    "  SELECT i.id FROM imports i WHERE "
                    "    (i.state = 'queued' AND i.enqueued_at < now() - make_interval(secs => $1::int)) "
                    "    OR (i.state IN " RUNNING_STATES " AND "
                    "        coalesce(i.heartbeat_at, '-infinity') < now() - make_interval(secs => $2::int) AND "
                    "        i.id = ANY ($4::uuid[]) AND NOT (i.id = ANY ($5::uuid[]))) "
                    "  ORDER BY i.created_at LIMIT $3::int FOR UPDATE SKIP LOCKED) "
                    "RETURNING id",
                    5, p);
        buf_done(&quiet);
        buf_done(&alive);
        if (!r)
                return db_error(db);
        size_t n = (size_t) PQntuples(r);
        for (size_t i = 0; i < n; i++)
                snprintf(ids[i], UUID_STRING_SIZE, "%s", PQgetvalue(r, (int) i, 0));
        *ret_n = n;
        PQclear(r);
        return 0;
}

int import_store_queued(Db *db, size_t max, char (*ids)[UUID_STRING_SIZE], size_t *ret_n) {
        char m[16];
        snprintf(m, sizeof m, "%zu", max);
        const char *p[] = { m };
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "UPDATE imports SET enqueued_at = now() WHERE id IN ("
                "  SELECT id FROM imports WHERE state = 'queued' ORDER BY created_at LIMIT $1::int) "
                "RETURNING id",
                1, p);
        if (!r)
                return db_error(db);
        size_t n = (size_t) PQntuples(r);
        for (size_t i = 0; i < n; i++)
                snprintf(ids[i], UUID_STRING_SIZE, "%s", PQgetvalue(r, (int) i, 0));
        *ret_n = n;
        return 0;
}

int import_store_purge_due(Db *db, int retention_days, size_t max, char (*ids)[UUID_STRING_SIZE], size_t *ret_n) {
        char days[16], lim[24];
        snprintf(days, sizeof days, "%d", retention_days);
        snprintf(lim, sizeof lim, "%zu", max);
        const char *p[] = { days, lim };
        /* SKIP LOCKED: an import a client is committing or deleting is
         * left for the next round. */
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "WITH due AS (UPDATE imports SET purged_at = now(), purge_pending = true "
                "  WHERE id IN (SELECT id FROM imports WHERE purged_at IS NULL AND finished_at IS NOT NULL "
                "                 AND finished_at < now() - $1::int * interval '1 day' "
                "                 AND state IN ('validated', 'held', 'completed', 'completed_with_errors', "
                "                               'failed', 'cancelled') "
                "               ORDER BY finished_at LIMIT $2::int FOR UPDATE SKIP LOCKED) "
                "  RETURNING id) "
                "SELECT id FROM due UNION SELECT id FROM imports WHERE purge_pending LIMIT $2::int",
                2, p);
        if (!res)
                return db_error(db);
        size_t n = 0;
        for (int i = 0; i < PQntuples(res) && n < max; i++)
                snprintf(ids[n++], UUID_STRING_SIZE, "%s", PQgetvalue(res, i, 0));
        *ret_n = n;
        return 0;
}

int import_store_purge_done(Db *db, const char *id) {
        const char *p[] = { id };
        return db_run(db, "UPDATE imports SET purge_pending = false WHERE id = $1::uuid", 1, p);
}

int import_store_get_scope(Db *db, const char *id, ImportScope *ret) {
        const char *p[] = { id };
        _cleanup_(PQclearp) PGresult *r =
                db_exec(db, "SELECT account_id, dry_run, coalesce(email_column, -1) FROM imports WHERE id = $1", 1, p);
        if (!r)
                return db_error(db);
        if (PQntuples(r) == 0)
                return -ENOENT;
        *ret = (ImportScope){
                .account_id = get_i64(r, 0, 0),
                .dry_run = PQgetvalue(r, 0, 1)[0] == 't',
                .email_column = (int) get_i64(r, 0, 2),
        };
        return 0;
}

int import_store_add_warning_rows(Db *db, const char *id, int64_t n) {
        char s[24];
        snprintf(s, sizeof s, "%" PRId64, n);
        const char *p[] = { id, s };
        return db_run(db, "UPDATE imports SET warning_rows = warning_rows + $2::bigint WHERE id = $1", 2, p);
}
