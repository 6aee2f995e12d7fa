#include "user_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_log.h"
#include "json_util.h"

static const char *const mode_names[] = {
        [IMPORT_MODE_UPSERT] = "upsert",
        [IMPORT_MODE_CREATE_ONLY] = "create_only",
        [IMPORT_MODE_UPDATE_ONLY] = "update_only",
};

int user_store_mode_from_string(const char *s, ImportMode *ret) {
        for (size_t i = 0; i < ELEMENTSOF(mode_names); i++)
                if (strcmp(s, mode_names[i]) == 0) {
                        *ret = (ImportMode) i;
                        return 0;
                }
        return -EINVAL;
}

const char *user_store_mode_to_string(ImportMode m) {
        return m < ELEMENTSOF(mode_names) ? mode_names[m] : "upsert";
}

/* The staging table lives as long as the connection; rows go with each
 * commit. Created again after a reconnect, hence IF NOT EXISTS each time. */
static const char stage_ddl[] =
        "CREATE TEMP TABLE IF NOT EXISTS roster_stage ("
        "  line integer PRIMARY KEY,"
        "  ok boolean NOT NULL,"
        "  register boolean NOT NULL,"
        "  email text, email_lower text,"
        "  first_name text, last_name text, job_title text, phone text,"
        "  urn integer, role_id bigint, active boolean, custom jsonb,"
        "  upns text[], set_pupils boolean NOT NULL,"
        "  team_ids bigint[], set_teams boolean NOT NULL,"
        "  user_id bigint, created boolean NOT NULL DEFAULT false, changed boolean NOT NULL DEFAULT false"
        ") ON COMMIT DELETE ROWS";

static int put_text(Buf *b, const char *s) {
        int r = s ? db_copy_text(b, s) : db_copy_null(b);
        return r < 0 ? r : buf_append_char(b, '\t');
}

static int put_fmt(Buf *b, const char *fmt, ...) _printf_(2, 3);
static int put_fmt(Buf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = buf_vprintf(b, fmt, ap);
        va_end(ap);
        return r < 0 ? r : buf_append_char(b, '\t');
}

static int put_custom(Buf *b, const UserRow *u) {
        if (u->n_custom == 0)
                return put_text(b, NULL);
        Buf j = BUF_INIT;
        int r = buf_append_char(&j, '{');
        for (size_t i = 0; r >= 0 && i < u->n_custom; i++) {
                if (i)
                        r = buf_append_char(&j, ',');
                if (r >= 0)
                        r = json_util_append_string(&j, u->custom[i].key);
                if (r >= 0)
                        r = buf_append_char(&j, ':');
                if (r >= 0)
                        r = json_util_append_string(&j, u->custom[i].value);
        }
        if (r >= 0)
                r = buf_append_char(&j, '}');
        if (r >= 0)
                r = put_text(b, buf_str(&j));
        buf_done(&j);
        return r;
}

/* One staging row in COPY text format. */
static int stage_row(Buf *b, const BatchRow *row) {
        const UserRow *u = &row->user;
        bool ok = !u->failed;
        int r;

        if ((r = put_fmt(b, "%lu", u->line)) < 0 || (r = put_text(b, ok ? "t" : "f")) < 0 ||
            (r = put_text(b, row->register_email ? "t" : "f")) < 0 || (r = put_text(b, u->email)) < 0 ||
            (r = put_text(b, u->email_lower)) < 0 || (r = put_text(b, ok ? u->first_name : NULL)) < 0 ||
            (r = put_text(b, ok ? u->last_name : NULL)) < 0 || (r = put_text(b, ok ? u->job_title : NULL)) < 0 ||
            (r = put_text(b, ok ? u->phone : NULL)) < 0)
                return r;
        r = u->urn == URN_KEEP ? put_text(b, NULL) : put_fmt(b, "%" PRId32, u->urn);
        if (r < 0)
                return r;
        r = ok && u->role ? put_fmt(b, "%" PRId64, u->role->id) : put_text(b, NULL);
        if (r < 0)
                return r;
        r = put_text(b, u->active < 0 ? NULL : u->active ? "t" : "f");
        if (r < 0 || (r = ok ? put_custom(b, u) : put_text(b, NULL)) < 0)
                return r;

        /* UPNs are A-Z0-9 and team ids digits: no array quoting needed. */
        if (ok && u->set_pupils) {
                r = buf_append_char(b, '{');
                for (size_t i = 0; r >= 0 && i < u->n_upns; i++)
                        r = buf_printf(b, "%s%s", i ? "," : "", u->upns[i]);
                if (r >= 0)
                        r = buf_append_str(b, "}\tt\t");
        } else
                r = buf_append_str(b, "\\N\tf\t");
        if (r < 0)
                return r;
        if (ok && u->set_teams) {
                r = buf_append_char(b, '{');
                for (size_t i = 0; r >= 0 && i < u->n_teams; i++)
                        r = buf_printf(b, "%s%" PRId64, i ? "," : "", u->team_ids[i]);
                if (r >= 0)
                        r = buf_append_str(b, "}\tt\n");
        } else
                r = buf_append_str(b, "\\N\tf\n");
        return r;
}

static int copy_stage(Db *db, const ImportBatch *batch) {
        DbCopy c;
        int r = db_copy_start(&c, db,
                              "COPY roster_stage (line, ok, register, email, email_lower, first_name, last_name, "
                              "job_title, phone, urn, role_id, active, custom, upns, set_pupils, team_ids, "
                              "set_teams) FROM STDIN");
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < batch->n; i++) {
                r = stage_row(&c.rows, &batch->rows[i]);
                if (r >= 0)
                        r = db_copy_flush(&c);
        }
        return db_copy_end(&c, r);
}

/* Rows are in line order; so are the results read back. */
static BatchRow *row_at_line(ImportBatch *batch, unsigned long line, size_t *hint) {
        for (size_t i = *hint; i < batch->n; i++)
                if (batch->rows[i].user.line == line) {
                        *hint = i + 1;
                        return &batch->rows[i];
                }
        for (size_t i = 0; i < *hint && i < batch->n; i++)
                if (batch->rows[i].user.line == line)
                        return &batch->rows[i];
        return NULL;
}

static int add(ImportBatch *batch, BatchRow *row, const char *field, const char *code, const char *msg) {
        return row_rules_add_issue(&row->user, &batch->arena, SEVERITY_ERROR, field, code, msg);
}

/* The checks that need the database. Fills newly_failed with the lines of
 * rows that passed so far and fail now. */
static int database_checks(Db *db, const UserStoreJob *job, ImportBatch *batch, Buf *newly_failed,
                           Buf *no_pupils) {
        char account[24];
        snprintf(account, sizeof account, "%" PRId64, job->account_id);
        const char *pa[] = { account };
        /* Lookups are written as correlated subqueries: one index probe
         * per staged row, whatever the statistics say. A join here is
         * planned as a scan of the whole account while a big import has
         * left the statistics behind. */
        int r = db_run(db,
                       "UPDATE roster_stage s SET user_id = (SELECT u.id FROM users u "
                       "  WHERE u.account_id = $1 AND lower(u.email) = s.email_lower) "
                       "WHERE s.email_lower IS NOT NULL",
                       1, pa);
        if (r < 0)
                return r;

        const char *pi[] = { job->import_id };
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "SELECT s.line, (SELECT e.line FROM import_emails e "
                "                WHERE e.import_id = $1 AND e.email_lower = s.email_lower), "
                "       s.urn > 0 AND NOT EXISTS (SELECT 1 FROM establishments x WHERE x.urn = s.urn), "
                "       s.user_id IS NOT NULL, s.email_lower IS NOT NULL, "
                "       s.set_pupils AND s.urn IS NULL AND "
                "         (SELECT u.establishment_urn FROM users u WHERE u.id = s.user_id) IS NOT NULL "
                "FROM roster_stage s ORDER BY s.line",
                1, pi);
        if (!res)
                return db_error(db);

        size_t hint = 0;
        for (int i = 0; i < PQntuples(res); i++) {
                BatchRow *row = row_at_line(batch, strtoul(PQgetvalue(res, i, 0), NULL, 10), &hint);
                if (!row)
                        continue;
                bool was_ok = !row->user.failed;
                bool has_email = PQgetvalue(res, i, 4)[0] == 't';
                bool exists = PQgetvalue(res, i, 3)[0] == 't';
                char msg[160];

                if (!PQgetisnull(res, i, 1)) {
                        snprintf(msg, sizeof msg, "the same email is on line %s; the first occurrence is imported",
                                 PQgetvalue(res, i, 1));
                        if ((r = add(batch, row, "email", "duplicate_in_file", msg)) < 0)
                                return r;
                }
                if (PQgetvalue(res, i, 2)[0] == 't' &&
                    (r = add(batch, row, "urn", "unknown_establishment",
                             "no establishment has this URN; load the establishments (GIAS) or correct the URN")) < 0)
                        return r;
                if (has_email && exists && job->mode == IMPORT_MODE_CREATE_ONLY &&
                    (r = add(batch, row, "email", "already_exists",
                             "a user with this email already exists, and the import only creates users")) < 0)
                        return r;
                if (has_email && !exists && job->mode == IMPORT_MODE_UPDATE_ONLY &&
                    (r = add(batch, row, "email", "not_found",
                             "no user has this email, and the import only updates users")) < 0)
                        return r;
                /* The row leaves the URN alone, and the user has one: the
                 * establishment overrides pupil links. */
                if (PQgetvalue(res, i, 5)[0] == 't') {
                        if ((r = row_rules_add_issue(&row->user, &batch->arena, SEVERITY_WARNING, "upn", "upns_ignored",
                                                     "the user is linked to an establishment, which overrides "
                                                     "pupil links; the UPNs are ignored")) < 0 ||
                            (r = buf_printf(no_pupils, "%s%lu", no_pupils->len > 1 ? "," : "", row->user.line)) < 0)
                                return r;
                }
                if (was_ok && row->user.failed &&
                    (r = buf_printf(newly_failed, "%s%lu", newly_failed->len > 1 ? "," : "", row->user.line)) < 0)
                        return r;
        }
        return 0;
}

/* Runs sql with the lines gathered in `lines` ("{" and a list) as $1. */
static int update_lines(Db *db, Buf *lines, const char *sql) {
        if (lines->len <= 1)
                return 0;
        int r = buf_append_char(lines, '}');
        if (r < 0)
                return r;
        const char *p[] = { lines->data };
        return db_run(db, sql, 1, p);
}

static int write_users(Db *db, const UserStoreJob *job, ImportBatch *batch) {
        char account[24];
        snprintf(account, sizeof account, "%" PRId64, job->account_id);
        const char *p[] = { account, job->import_id };
        int r;

        if (job->mode != IMPORT_MODE_UPDATE_ONLY) {
                r = db_run(db,
                           "WITH ins AS ("
                           "  INSERT INTO users (account_id, email, first_name, last_name, job_title, phone, role_id, "
                           "                     establishment_urn, active, custom, created_by_import, "
                           "                     updated_by_import) "
                           "  SELECT $1::bigint, email, first_name, last_name, job_title, phone, role_id, NULLIF(urn, 0), "
                           "         coalesce(active, true), coalesce(custom, '{}'), $2::uuid, $2::uuid "
                           "  FROM roster_stage WHERE ok AND user_id IS NULL "
                           "  ON CONFLICT (account_id, lower(email)) DO NOTHING "
                           "  RETURNING id, lower(email) AS email_lower) "
                           "UPDATE roster_stage s SET user_id = ins.id, created = true FROM ins "
                           "WHERE s.email_lower = ins.email_lower",
                           2, p);
                if (r < 0)
                        return r;
                /* A user another import created a moment ago: match it now. */
                r = db_run(db,
                           "UPDATE roster_stage s SET user_id = (SELECT u.id FROM users u "
                           "  WHERE u.account_id = $1 AND lower(u.email) = s.email_lower) "
                           "WHERE s.ok AND s.user_id IS NULL",
                           1, p);
                if (r < 0)
                        return r;
        }
        if (job->mode == IMPORT_MODE_CREATE_ONLY) {
                /* Only possible when another import created the user
                 * between our check and our insert. */
                _cleanup_(PQclearp) PGresult *res = db_exec(
                        db, "UPDATE roster_stage SET ok = false WHERE ok AND NOT created RETURNING line", 0, NULL);
                if (!res)
                        return db_error(db);
                size_t hint = 0;
                for (int i = 0; i < PQntuples(res); i++) {
                        BatchRow *row = row_at_line(batch, strtoul(PQgetvalue(res, i, 0), NULL, 10), &hint);
                        if (row && (r = add(batch, row, "email", "already_exists",
                                            "a user with this email already exists, and the import only creates "
                                            "users")) < 0)
                                return r;
                }
        }

        /* Blank optional cells (NULL here) leave stored values alone; a URN
         * of 0 unlinks the establishment. Only rows that change something
         * are written, so that unchanged rows count as unchanged. */
        r = db_run(db,
                   "WITH upd AS ("
                   "  UPDATE users u SET first_name = s.first_name, last_name = s.last_name, "
                   "    job_title = coalesce(s.job_title, u.job_title), phone = coalesce(s.phone, u.phone), "
                   "    role_id = s.role_id, "
                   "    establishment_urn = CASE WHEN s.urn IS NULL THEN u.establishment_urn ELSE NULLIF(s.urn, 0) END, "
                   "    active = coalesce(s.active, u.active), custom = u.custom || coalesce(s.custom, '{}'), "
                   "    updated_at = now(), updated_by_import = $1::uuid "
                   "  FROM roster_stage s "
                   "  WHERE s.ok AND NOT s.created AND s.user_id = u.id "
                   "    AND (u.first_name, u.last_name, u.job_title, u.phone, u.role_id, u.establishment_urn, "
                   "         u.active, u.custom) IS DISTINCT FROM "
                   "        (s.first_name, s.last_name, coalesce(s.job_title, u.job_title), "
                   "         coalesce(s.phone, u.phone), s.role_id, "
                   "         CASE WHEN s.urn IS NULL THEN u.establishment_urn ELSE NULLIF(s.urn, 0) END, "
                   "         coalesce(s.active, u.active), u.custom || coalesce(s.custom, '{}')) "
                   "  RETURNING s.line) "
                   "UPDATE roster_stage SET changed = true WHERE line IN (SELECT line FROM upd)",
                   1, p + 1);
        if (r < 0)
                return r;

        /* Links: remove what the row no longer lists, add what is new. */
        r = db_run(db,
                   "WITH del AS ("
                   "  DELETE FROM user_pupils p USING roster_stage s "
                   "  WHERE s.ok AND s.set_pupils AND p.user_id = s.user_id AND NOT (p.upn = ANY (s.upns)) "
                   "  RETURNING p.user_id), "
                   "ins AS ("
                   "  INSERT INTO user_pupils (user_id, upn) "
                   "  SELECT s.user_id, x FROM roster_stage s CROSS JOIN LATERAL unnest(s.upns) AS x "
                   "  WHERE s.ok AND s.set_pupils AND s.user_id IS NOT NULL "
                   "  ON CONFLICT DO NOTHING RETURNING user_id) "
                   "UPDATE roster_stage SET changed = true "
                   "WHERE user_id IN (SELECT user_id FROM del UNION SELECT user_id FROM ins)",
                   0, NULL);
        if (r < 0)
                return r;
        return db_run(db,
                      "WITH del AS ("
                      "  DELETE FROM user_teams t USING roster_stage s "
                      "  WHERE s.ok AND s.set_teams AND t.user_id = s.user_id AND NOT (t.team_id = ANY (s.team_ids)) "
                      "  RETURNING t.user_id), "
                      "ins AS ("
                      "  INSERT INTO user_teams (user_id, team_id) "
                      "  SELECT s.user_id, x FROM roster_stage s CROSS JOIN LATERAL unnest(s.team_ids) AS x "
                      "  WHERE s.ok AND s.set_teams AND s.user_id IS NOT NULL "
                      "  ON CONFLICT DO NOTHING RETURNING user_id) "
                      "UPDATE roster_stage SET changed = true "
                      "WHERE user_id IN (SELECT user_id FROM del UNION SELECT user_id FROM ins)",
                      0, NULL);
}

static int read_counts(Db *db, BatchCounts *c) {
        _cleanup_(PQclearp) PGresult *res =
                db_exec(db,
                        "SELECT count(*) FILTER (WHERE ok AND created), "
                        "       count(*) FILTER (WHERE ok AND NOT created AND changed), "
                        "       count(*) FILTER (WHERE ok AND NOT created AND NOT changed) "
                        "FROM roster_stage",
                        0, NULL);
        if (!res)
                return db_error(db);
        c->created = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        c->updated = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        c->unchanged = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        return 0;
}

int user_store_write_batch(Db *db, const UserStoreJob *job, ImportBatch *batch, BatchCounts *ret) {
        BatchCounts c = { .rows = (int64_t) batch->n };
        Buf newly_failed = BUF_INIT, no_pupils = BUF_INIT;
        int r;

        /* Every statement below is driven by the few rows staged here and
         * must probe the big tables by index. Statistics lag behind a big
         * import (autovacuum analyses a minute later), and the planner
         * then picks hash joins over whole tables: rule those out for this
         * transaction. */
        if ((r = db_run(db, "SET LOCAL enable_hashjoin = off", 0, NULL)) < 0 ||
            (r = db_run(db, "SET LOCAL enable_mergejoin = off", 0, NULL)) < 0)
                goto out;
        if ((r = db_run(db, stage_ddl, 0, NULL)) < 0 ||
            (r = db_run(db, "CREATE INDEX IF NOT EXISTS roster_stage_email ON roster_stage (email_lower)", 0, NULL)) < 0 ||
            (r = db_run(db, "CREATE INDEX IF NOT EXISTS roster_stage_user ON roster_stage (user_id)", 0, NULL)) < 0 ||
            (r = copy_stage(db, batch)) < 0 ||
            /* Statistics, or the planner guesses badly on a fresh temp table. */
            (r = db_run(db, "ANALYZE roster_stage", 0, NULL)) < 0)
                goto out;

        if ((r = buf_append_char(&newly_failed, '{')) < 0 || (r = buf_append_char(&no_pupils, '{')) < 0 ||
            (r = database_checks(db, job, batch, &newly_failed, &no_pupils)) < 0 ||
            (r = update_lines(db, &newly_failed, "UPDATE roster_stage SET ok = false WHERE line = ANY ($1::int[])")) < 0 ||
            (r = update_lines(db, &no_pupils,
                              "UPDATE roster_stage SET set_pupils = false WHERE line = ANY ($1::int[])")) < 0)
                goto out;

        const char *pi[] = { job->import_id };
        r = db_run(db,
                   "INSERT INTO import_emails (import_id, email_lower, line) "
                   "SELECT $1::uuid, email_lower, line FROM roster_stage WHERE register ON CONFLICT DO NOTHING",
                   1, pi);
        if (r < 0)
                goto out;

        if (job->dry_run && (r = db_run(db, "SAVEPOINT dry_run", 0, NULL)) < 0)
                goto out;
        if ((r = write_users(db, job, batch)) < 0 || (r = read_counts(db, &c)) < 0)
                goto out;
        if (job->dry_run) {
                if ((r = db_run(db, "ROLLBACK TO SAVEPOINT dry_run", 0, NULL)) < 0)
                        goto out;
        } else if (job->invite) {
                /* One outbox row for the batch, not one per user: the
                 * events are read from the users when published. */
                char account[24], line[24];
                snprintf(account, sizeof account, "%" PRId64, job->account_id);
                snprintf(line, sizeof line, "%lu", batch->n ? batch->rows[0].user.line : 0UL);
                const char *p[] = { account, job->import_id, line };
                _cleanup_(PQclearp) PGresult *res =
                        db_exec(db,
                                "INSERT INTO invite_batches (import_id, first_line, account_id, user_ids) "
                                "SELECT $2::uuid, $3::int, $1::bigint, array_agg(user_id ORDER BY line) "
                                "FROM roster_stage WHERE ok AND created HAVING count(*) > 0 "
                                "RETURNING cardinality(user_ids)",
                                3, p);
                if (!res) {
                        r = db_error(db);
                        goto out;
                }
                c.invites = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
        }

        if ((r = error_log_write(db, job->import_id, batch)) < 0)
                goto out;
        c.failed = (int64_t) import_batch_failed(batch);
        c.warned = (int64_t) import_batch_warned(batch);
        *ret = c;
out:
        buf_done(&newly_failed);
        buf_done(&no_pupils);
        return r;
}
