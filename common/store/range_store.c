#include "range_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_store.h"
#include "buf.h"
#include "import_store.h"
#include "import_types.h"
#include "link_store.h"

static int64_t get_i64(const PGresult *res, int row, int col) {
        return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static int append_u64(Buf *b, uint64_t v) {
        return buf_printf(b, "%s%" PRIu64, b->len > 1 ? "," : "", v);
}

int range_store_insert(Db *db, const char *import_id, uint64_t rows_total, const FilePoint *points,
                       size_t n_points) {
        /* Range k starts at point k-1 (range 0 at the file's start) and
         * ends where the next starts. */
        Buf seq = BUF_INIT, start = BUF_INIT, line = BUF_INIT, record = BUF_INIT, rows = BUF_INIT;
        int r = 0;
        Buf *all[] = { &seq, &start, &line, &record, &rows };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(all); i++)
                r = buf_append_char(all[i], '{');
        for (size_t k = 0; r >= 0 && k <= n_points; k++) {
                FilePoint p = k == 0 ? FILE_POINT_START : points[k - 1];
                uint64_t first_row = p.records ? p.records : 1;
                uint64_t next_row = k < n_points ? points[k].records : rows_total + 1;
                if ((r = append_u64(&seq, k)) < 0 || (r = append_u64(&start, p.offset)) < 0 ||
                    (r = append_u64(&line, p.line)) < 0 || (r = append_u64(&record, p.records)) < 0 ||
                    (r = append_u64(&rows, next_row > first_row ? next_row - first_row : 0)) < 0)
                        break;
        }
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(all); i++)
                r = buf_append_char(all[i], '}');
        if (r >= 0) {
                const char *p[] = { import_id, seq.data, start.data, line.data, record.data, rows.data };
                r = db_run(db,
                           "INSERT INTO import_ranges (import_id, seq, start_offset, end_offset, first_line, "
                           "  first_record, rows, registered) "
                           "SELECT $1::uuid, s, o, lead(o) OVER (ORDER BY s), l, c, n, count(*) OVER () = 1 "
                           "FROM unnest($2::int[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) "
                           "  AS x(s, o, l, c, n)",
                           6, p);
        }
        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                buf_done(all[i]);
        return r;
}

typedef struct ClaimTx {
        const char *id, *worker;
        char lease[16];
        int max_attempts;
        Claim *claim;
} ClaimTx;

/* Whether range r of import $1 can be applied: every range before it is
 * applied or registered. */
#define APPLICABLE                                                                               \
        "NOT EXISTS (SELECT 1 FROM import_ranges x WHERE x.import_id = $1 AND x.seq < r.seq "  \
        "            AND NOT x.done AND NOT x.registered)"

/* How many of the import's ranges are not done yet. */
static int ranges_left(Db *db, const char *import_id, int64_t *ret) {
        const char *p[] = { import_id };
        _cleanup_(PQclearp) PGresult *r =
                db_exec(db, "SELECT count(*) FROM import_ranges WHERE import_id = $1 AND NOT done", 1, p);
        if (!r)
                return db_error(db);
        *ret = get_i64(r, 0, 0);
        return 0;
}

static int claim_tx(Db *db, void *userdata) {
        ClaimTx *c = userdata;
        Claim *out = c->claim;

        *out = (Claim){ .outcome = CLAIM_GONE };
        ImportStatus imp;
        int k = import_store_lock(db, c->id, &imp);
        if (k == -ENOENT)
                return 0;
        if (k < 0)
                return k;
        if (imp.state != IMPORT_STATE_QUEUED && !import_state_is_running(imp.state)) {
                out->outcome = CLAIM_FINAL;
                return 0;
        }

        /* A range can be applied once every range before it is applied or
         * registered; one that cannot be yet can be registered. Applying
         * comes first: with one worker, ranges are applied in order and
         * never registered. Ranges locked right now are being written by a
         * live worker. */
        const char *q[] = { c->id, c->lease };
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "SELECT seq, start_offset, coalesce(end_offset, -1), first_line, first_record, rows, rows_done, "
                "  " APPLICABLE ", attempts, progressed "
                "FROM import_ranges r "
                "WHERE import_id = $1 AND NOT done "
                "  AND (worker IS NULL OR coalesce(heartbeat_at, '-infinity') < now() - make_interval(secs => $2::int)) "
                "  AND (NOT registered OR " APPLICABLE ") "
                "ORDER BY 8 DESC, seq LIMIT 1 FOR UPDATE OF r SKIP LOCKED",
                2, q);
        if (!res)
                return db_error(db);
        if (PQntuples(res) == 0) {
                int64_t left = 0;
                if ((k = ranges_left(db, c->id, &left)) < 0)
                        return k;
                out->outcome = left == 0 ? CLAIM_FINISH : CLAIM_BUSY;
                return 0;
        }

        ImportRange *g = &out->range;
        g->seq = (int) get_i64(res, 0, 0);
        g->start.offset = (uint64_t) get_i64(res, 0, 1);
        int64_t end = get_i64(res, 0, 2);
        g->end_offset = end < 0 ? UINT64_MAX : (uint64_t) end;
        g->start.line = (unsigned long) get_i64(res, 0, 3);
        g->start.records = (unsigned long) get_i64(res, 0, 4);
        g->first_row = g->start.records ? (int64_t) g->start.records : 1;
        g->rows = get_i64(res, 0, 5);
        g->rows_done = get_i64(res, 0, 6);
        bool applicable = PQgetvalue(res, 0, 7)[0] == 't';
        g->task = applicable ? RANGE_APPLY : RANGE_REGISTER;
        int attempts = (int) get_i64(res, 0, 8);
        bool progressed = PQgetvalue(res, 0, 9)[0] == 't';

        /* Only runs that committed nothing count: an import that moves on
         * between crashes (a worker killed by a deploy, a machine lost) is
         * never given up on, and one that crashes its worker before a
         * range's first checkpoint again and again still ends. */
        if (!progressed && attempts >= c->max_attempts) {
                char msg[200];
                snprintf(msg, sizeof msg,
                         "the import was started %d times in a row without committing a single batch; it is given "
                         "up on (rows already imported stay)",
                         attempts);
                /* Its scratch is the caller's to clear once this commits:
                 * other ranges' batches may be writing
                 * (range_store_clear_stopped()). */
                k = import_store_fail(db, c->id, "too_many_attempts", msg);
                out->outcome = CLAIM_EXHAUSTED;
                out->attempts = attempts;
                return k;
        }
        out->attempts = progressed ? 1 : attempts + 1;

        char seq[16], att[16];
        snprintf(seq, sizeof seq, "%d", g->seq);
        snprintf(att, sizeof att, "%d", out->attempts);
        const char *u[] = { c->id, seq, c->worker, att };
        _cleanup_(PQclearp) PGresult *upd = db_exec(
                db,
                "WITH r AS (UPDATE import_ranges SET worker = $3, heartbeat_at = now(), attempts = $4::int, "
                "                                    progressed = false "
                "           WHERE import_id = $1 AND seq = $2::int) "
                "SELECT EXISTS (SELECT 1 FROM import_ranges r WHERE import_id = $1 AND seq <> $2::int AND NOT done "
                "               AND worker IS NULL AND (NOT registered OR " APPLICABLE "))",
                4, u);
        if (!upd)
                return db_error(db);
        if ((k = import_store_start(db, c->id, c->worker, out->attempts)) < 0)
                return k;
        out->more = PQgetvalue(upd, 0, 0)[0] == 't';
        out->dry_run = imp.dry_run;
        out->outcome = CLAIM_OK;
        return 0;
}

int range_store_claim(Db *db, const char *import_id, const char *worker, int lease_seconds, int max_attempts,
                      Claim *ret) {
        ClaimTx c = { .id = import_id, .worker = worker, .max_attempts = max_attempts, .claim = ret };
        snprintf(c.lease, sizeof c.lease, "%d", lease_seconds);
        return db_transaction(db, 5, claim_tx, &c);
}

int range_store_register(Db *db, const char *import_id, size_t n, const char *const *emails,
                         const unsigned long *lines) {
        if (n == 0)
                return 0;
        Buf e = BUF_INIT, l = BUF_INIT;
        int r = buf_append_char(&e, '{');
        if (r >= 0)
                r = buf_append_char(&l, '{');
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = db_array_text(&e, emails[i]);
                if (r >= 0)
                        r = append_u64(&l, lines[i]);
        }
        if (r >= 0)
                r = buf_append_char(&e, '}');
        if (r >= 0)
                r = buf_append_char(&l, '}');
        if (r >= 0) {
                const char *p[] = { import_id, e.data, l.data };
                /* In email order: two workers registering the same emails
                 * take their row locks in the same order. */
                r = db_run(db,
                           "INSERT INTO import_emails (import_id, email_lower, line) "
                           "SELECT $1::uuid, e, l FROM unnest($2::text[], $3::int[]) AS x(e, l) ORDER BY e "
                           "ON CONFLICT (import_id, email_lower) DO UPDATE SET line = excluded.line "
                           "WHERE import_emails.line > excluded.line",
                           3, p);
        }
        buf_done(&e);
        buf_done(&l);
        return r;
}

/* Whether the import still runs: 0, -ECANCELED when it was cancelled,
 * -ESTALE when it ended otherwise or is gone. A worker asks before it
 * writes to a range, so that the range of an import that no longer runs
 * is left as it stands. With `hold`, the answer stands until the
 * caller's transaction ends (import_store_hold_state()). */
static int running_as(Db *db, const char *import_id, bool hold) {
        ImportState state;
        int r = hold ? import_store_hold_state(db, import_id, &state) : import_store_get_state(db, import_id, &state);
        if (r == -ENOENT)
                return -ESTALE;
        if (r < 0)
                return r;
        if (state == IMPORT_STATE_CANCELLED)
                return -ECANCELED;
        return import_state_is_running(state) ? 0 : -ESTALE;
}

static int running(Db *db, const char *import_id) {
        return running_as(db, import_id, false);
}

/* Why a range statement found nothing: cancelled, or no longer ours. */
static int lost(Db *db, const char *import_id) {
        int r = running(db, import_id);
        return r == 0 ? -ESTALE : r;
}

int range_store_touch(Db *db, const char *import_id, int seq, const char *worker) {
        int k = running(db, import_id);
        if (k < 0)
                return k;
        char s[16];
        snprintf(s, sizeof s, "%d", seq);
        const char *p[] = { import_id, s, worker };
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "UPDATE import_ranges SET heartbeat_at = now() "
                "WHERE import_id = $1 AND seq = $2::int AND worker = $3 AND NOT done RETURNING 1",
                3, p);
        if (!r)
                return db_error(db);
        return PQntuples(r) == 1 ? 0 : lost(db, import_id);
}

int range_store_lock(Db *db, const char *import_id, int seq, const char *worker, int64_t rows_done) {
        char s[16];
        snprintf(s, sizeof s, "%d", seq);
        const char *p[] = { import_id, s };
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "SELECT coalesce(worker, ''), rows_done, done FROM import_ranges "
                "WHERE import_id = $1 AND seq = $2::int FOR UPDATE",
                2, p);
        if (!r)
                return db_error(db);
        if (PQntuples(r) == 0)
                return -ESTALE;
        /* Read after the range's lock is held, and held until the batch
         * commits: the clearing after a cancel or a failure waits for it
         * (range_store_clear_stopped()), so that the links it makes see
         * the batch's users. */
        int k = running_as(db, import_id, true);
        if (k < 0)
                return k;
        if (strcmp(PQgetvalue(r, 0, 0), worker) != 0 || get_i64(r, 0, 1) != rows_done || PQgetvalue(r, 0, 2)[0] == 't')
                return -ESTALE;
        return 0;
}

int range_store_add_counts(Db *db, const char *import_id, int seq, const BatchCounts *c) {
        char rows[24], s[16];
        snprintf(rows, sizeof rows, "%" PRId64, c->rows);
        snprintf(s, sizeof s, "%d", seq);
        const char *p[] = { import_id, rows, s };
        int r = db_run(db,
                       "UPDATE import_ranges SET rows_done = rows_done + $2, progressed = true, heartbeat_at = now() "
                       "WHERE import_id = $1 AND seq = $3::int",
                       3, p);
        if (r < 0)
                return r;
        return import_store_add_counts(db, import_id, c);
}

int range_store_done(Db *db, const char *import_id, const ImportRange *range, const char *worker) {
        int k = running(db, import_id);
        if (k < 0)
                return k;
        char s[16];
        snprintf(s, sizeof s, "%d", range->seq);
        const char *p[] = { import_id, s, worker };
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                range->task == RANGE_REGISTER
                        ? "UPDATE import_ranges SET registered = true, worker = NULL, progressed = true, "
                          "  heartbeat_at = now() "
                          "WHERE import_id = $1 AND seq = $2::int AND worker = $3 RETURNING 1"
                        : "UPDATE import_ranges SET done = true, worker = NULL, progressed = true, "
                          "  heartbeat_at = now() "
                          "WHERE import_id = $1 AND seq = $2::int AND worker = $3 RETURNING 1",
                3, p);
        if (!r)
                return db_error(db);
        return PQntuples(r) == 1 ? 0 : lost(db, import_id);
}

static int release_tx(Db *db, void *userdata) {
        const char *const *p = userdata;
        /* The import's row first, as a claim takes it: a claim by another
         * worker is committed before "no other worker is on it" is read,
         * or waits for the release. */
        ImportStatus imp;
        int k = import_store_lock(db, p[0], &imp);
        if (k == -ENOENT)
                return 0;
        if (k < 0)
                return k;
        /* A hand-back is not a failed attempt: give it back too, or a few
         * rolling restarts would use up ROSTER_MAX_ATTEMPTS. The import
         * is queued again when no other worker is on it. */
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "WITH r AS (UPDATE import_ranges SET worker = NULL, heartbeat_at = NULL, "
                "             attempts = greatest(attempts - 1, 0) "
                "           WHERE import_id = $1 AND seq = $2::int AND worker = $3 RETURNING 1) "
                "SELECT EXISTS (SELECT 1 FROM r) "
                "  AND NOT EXISTS (SELECT 1 FROM import_ranges x WHERE x.import_id = $1 AND x.seq <> $2::int "
                "                  AND x.worker IS NOT NULL)",
                3, p);
        if (!r)
                return db_error(db);
        if (PQgetvalue(r, 0, 0)[0] != 't')
                return 0;
        return import_store_requeue(db, p[0]);
}

int range_store_release(Db *db, const char *import_id, int seq, const char *worker) {
        char s[16];
        snprintf(s, sizeof s, "%d", seq);
        const char *p[] = { import_id, s, worker };
        /* One try: a stopping worker does not wait, and an import it
         * could not hand back is queued again by the sweeper after a
         * lease. */
        return db_transaction(db, 1, release_tx, (void *) p);
}

typedef struct Finish {
        const char *id;
        ImportState state;
} Finish;

static int finish_tx(Db *db, void *userdata) {
        Finish *f = userdata;
        ImportStatus imp;
        int64_t left = 0;
        int k = import_store_lock(db, f->id, &imp);
        if (k == -ENOENT)
                return -ESTALE;
        if (k < 0)
                return k;
        if (imp.state == IMPORT_STATE_CANCELLED)
                return -ECANCELED;
        if (!import_state_is_running(imp.state))
                return -ESTALE;
        if ((k = ranges_left(db, f->id, &left)) < 0)
                return k;
        if (left != 0)
                return -ESTALE;

        /* Links to users the file created after the linking line. */
        int64_t unmade;
        if ((k = link_store_resolve(db, f->id, &unmade)) < 0)
                return k;

        /* A full sync archives the users its file does not list, unless
         * they are more than its threshold: then it is held for a commit
         * with what it would archive. A dry run only counts them. */
        bool held = false;
        int64_t archived = 0;
        if (imp.missing == MISSING_ARCHIVE && !imp.all_failed) {
                int64_t pool, missing, threshold = imp.change_threshold;
                k = archive_store_plan(db, f->id, &pool, &missing);
                if (k < 0)
                        return k;
                archived = missing;
                if (!imp.dry_run && missing * 100 > threshold * pool)
                        held = true;
                else if (!imp.dry_run && (k = archive_store_apply(db, f->id, &archived)) < 0)
                        return k;
        }
        if ((k = import_store_finish(db, f->id, held, archived, &f->state)) < 0)
                return k;
        return range_store_forget_scratch(db, f->id);
}

int range_store_finish(Db *db, const char *import_id, ImportState *ret_state) {
        Finish f = { import_id, IMPORT_STATE_FAILED };
        int r = db_transaction(db, 10, finish_tx, &f);
        if (r < 0)
                return r;
        *ret_state = f.state;
        return 0;
}

static int fail_tx(Db *db, void *userdata) {
        const char *const *p = userdata;
        return import_store_fail(db, p[0], p[1], p[2]);
}

int range_store_fail(Db *db, const char *import_id, const char *code, const char *message) {
        const char *p[] = { import_id, code, message };
        return db_transaction(db, 10, fail_tx, (void *) p);
}

/* How long a stopped import's clearing waits for the batches in flight:
 * a batch is seconds at most. Past it, the workers that wrote them clear
 * it as they stop. */
#define CLEAR_WAIT_MS 30000

static int clear_tx(Db *db, void *userdata) {
        const char *import_id = userdata;
        int r = import_store_await_writers(db, import_id, CLEAR_WAIT_MS);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return range_store_forget_scratch(db, import_id);
}

int range_store_clear_stopped(Db *db, const char *import_id) {
        return db_transaction(db, 5, clear_tx, (void *) import_id);
}

int range_store_forget_scratch(Db *db, const char *import_id) {
        const char *p[] = { import_id };
        /* Links waiting for the end of a stopped import: the lines written
         * stay, with their links. */
        int r = link_store_resolve(db, import_id, NULL);
        if (r < 0)
                return r;
        return db_run(db, "DELETE FROM import_emails WHERE import_id = $1", 1, p);
}

int range_store_restart(Db *db, const char *import_id) {
        const char *p[] = { import_id };
        return db_run(db,
                      "UPDATE import_ranges SET rows_done = 0, done = false, worker = NULL, heartbeat_at = NULL, "
                      "  attempts = 0, progressed = false, "
                      "  registered = (SELECT count(*) = 1 FROM import_ranges WHERE import_id = $1) "
                      "WHERE import_id = $1",
                      1, p);
}

int range_store_check_emails(Db *db, const char *import_id, const char *lines, const char *emails,
                             const char *registers, EmailSeen **ret, size_t *ret_n) {
        const char *p[] = { import_id, lines, emails, registers };
        /* The registering INSERT and the SELECT see the same snapshot: a
         * row is a duplicate when its email was registered with a smaller
         * line - by an earlier batch, an earlier range, or a range that
         * registered its emails before any of them was applied - never of
         * its own batch's (a batch's emails are distinct). The INSERT takes
         * the emails nobody registered and those a later range registered
         * ahead, and keeps the smaller line where one does so meanwhile (in
         * email order, as range_store_register() does, so that the two
         * never deadlock). */
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "WITH x AS MATERIALIZED ("
                "  SELECT x.*, (SELECT e.line FROM import_emails e "
                "               WHERE e.import_id = $1::uuid AND e.email_lower = x.email_lower) AS registered "
                "  FROM unnest($2::int[], $3::text[], $4::boolean[]) AS x(line, email_lower, register)), "
                "reg AS (INSERT INTO import_emails (import_id, email_lower, line) "
                "        SELECT $1::uuid, email_lower, line FROM x "
                "        WHERE register AND (registered IS NULL OR registered > line) "
                "        ORDER BY email_lower "
                "        ON CONFLICT (import_id, email_lower) DO UPDATE SET line = excluded.line "
                "        WHERE import_emails.line > excluded.line) "
                "SELECT line, registered FROM x WHERE registered < line ORDER BY line",
                4, p);
        if (!res)
                return db_error(db);
        size_t n = (size_t) PQntuples(res);
        EmailSeen *v = calloc(n + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                v[i].line = strtoul(PQgetvalue(res, (int) i, 0), NULL, 10);
                v[i].first_line = strtoul(PQgetvalue(res, (int) i, 1), NULL, 10);
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int range_store_alive(Db *db, const char *imports, int lease_seconds, Buf *ret) {
        char l[16];
        snprintf(l, sizeof l, "%d", lease_seconds);
        const char *p[] = { imports, l };
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "SELECT DISTINCT import_id FROM import_ranges "
                "WHERE import_id = ANY ($1::uuid[]) AND heartbeat_at >= now() - make_interval(secs => $2::int)",
                2, p);
        if (!r)
                return db_error(db);
        int k = buf_append_char(ret, '{');
        for (int i = 0; k >= 0 && i < PQntuples(r); i++)
                k = db_array_text(ret, PQgetvalue(r, i, 0));
        return k < 0 ? k : buf_append_char(ret, '}');
}
