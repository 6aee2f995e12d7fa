#include "user_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_log.h"
#include "json_util.h"

/* The staging table lives as long as the connection; rows go with each
 * commit. Created again after a reconnect, hence IF NOT EXISTS each time.
 * Rows are staged after the database checks, with their final ok flag and
 * the existing user's id, so that nothing writes to it afterwards but the
 * rare statements for races and links. */
static const char stage_ddl[] =
        "CREATE TEMP TABLE IF NOT EXISTS roster_stage ("
        "  line integer PRIMARY KEY,"
        "  ok boolean NOT NULL,"
        "  email text, email_lower text,"
        "  first_name text, last_name text, job_title text, phone text,"
        "  urn integer, role_id bigint, active boolean, custom jsonb,"
        "  upns text[], set_pupils boolean NOT NULL,"
        "  team_ids bigint[], set_teams boolean NOT NULL,"
        "  user_id bigint"
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

        if ((r = put_fmt(b, "%lu", u->line)) < 0 || (r = put_text(b, ok ? "t" : "f")) < 0 || (r = put_text(b, u->email)) < 0 ||
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
        if (ok && u->set_pupils && !row->pupils_ignored) {
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
                        r = buf_append_str(b, "}\tt\t");
        } else
                r = buf_append_str(b, "\\N\tf\t");
        if (r < 0)
                return r;
        r = row->user_id ? buf_printf(b, "%" PRId64, row->user_id) : buf_append_str(b, "\\N");
        return r < 0 ? r : buf_append_char(b, '\n');
}

static int copy_stage(Db *db, const ImportBatch *batch) {
        DbCopy c;
        int r = db_copy_start(&c, db,
                              "COPY roster_stage (line, ok, email, email_lower, first_name, last_name, "
                              "job_title, phone, urn, role_id, active, custom, upns, set_pupils, team_ids, "
                              "set_teams, user_id) FROM STDIN");
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

/* Appends one element to a PostgreSQL array literal being built in b
 * ("{" first): a number, NULL, or a string of [a-z0-9.@+_-] and the like
 * quoted. */
static int array_sep(Buf *b) {
        return b->len > 1 ? buf_append_char(b, ',') : 0;
}

static int array_text(Buf *b, const char *s) {
        int r = array_sep(b);
        if (r < 0)
                return r;
        if (!s)
                return buf_append_str(b, "NULL");
        r = buf_append_char(b, '"');
        for (const char *p = s; r >= 0 && *p; p++) {
                if (*p == '"' || *p == '\\')
                        r = buf_append_char(b, '\\');
                if (r >= 0)
                        r = buf_append_char(b, *p);
        }
        return r < 0 ? r : buf_append_char(b, '"');
}

/* The row repeats the email of an earlier line of the file: a duplicate
 * found within the batch is told the first line of the file instead. */
static int set_duplicate(ImportBatch *batch, BatchRow *row, const char *first_line) {
        char msg[128];
        snprintf(msg, sizeof msg, "the same email is on line %s; the first occurrence is imported", first_line);
        UserRow *u = &row->user;
        for (size_t k = 0; k < u->n_issues; k++)
                if (strcmp(u->issues[k].code, "duplicate_in_file") == 0) {
                        const char *m = arena_strdup(&batch->arena, msg);
                        if (!m)
                                return -ENOMEM;
                        u->issues[k].message = m;
                        return 0;
                }
        return add(batch, row, "email", "duplicate_in_file", msg);
}

/* The checks that need the database, in one statement over the batch's
 * keys (before anything is staged): in-file duplicates of earlier
 * batches (registering this batch's first occurrences at the same time),
 * unknown establishments, and the existing user of each email. Adds the
 * issues to the rows and sets their user_id and pupils_ignored. */
static int database_checks(Db *db, const UserStoreJob *job, ImportBatch *batch) {
        Buf lines = BUF_INIT, emails = BUF_INIT, urns = BUF_INIT, reg = BUF_INIT;
        PGresult *res = NULL;
        int r = 0;
        if ((r = buf_append_char(&lines, '{')) < 0 || (r = buf_append_char(&emails, '{')) < 0 ||
            (r = buf_append_char(&urns, '{')) < 0 || (r = buf_append_char(&reg, '{')) < 0)
                goto out;
        for (size_t i = 0; r >= 0 && i < batch->n; i++) {
                const BatchRow *row = &batch->rows[i];
                const UserRow *u = &row->user;
                if ((r = array_sep(&lines)) < 0 || (r = buf_printf(&lines, "%lu", u->line)) < 0 ||
                    (r = array_text(&emails, u->email_lower)) < 0 || (r = array_sep(&urns)) < 0 ||
                    (r = u->urn > 0 ? buf_printf(&urns, "%" PRId32, u->urn) : buf_append_str(&urns, "NULL")) < 0 ||
                    (r = array_sep(&reg)) < 0)
                        break;
                r = buf_append_char(&reg, row->register_email ? 't' : 'f');
        }
        if (r < 0 || (r = buf_append_char(&lines, '}')) < 0 || (r = buf_append_char(&emails, '}')) < 0 ||
            (r = buf_append_char(&urns, '}')) < 0 || (r = buf_append_char(&reg, '}')) < 0)
                goto out;

        char account[24];
        snprintf(account, sizeof account, "%" PRId64, job->account_id);
        const char *p[] = { job->import_id, account, lines.data, emails.data, urns.data, reg.data,
                            job->registered ? "t" : "f" };
        /* A row that is its batch's first with its email is a duplicate
         * when a smaller line registered the email: an earlier batch, or
         * any range of an import registered beforehand. The registering
         * INSERT and the SELECT see the same snapshot, so a row never
         * finds its own batch's registration.
         * Lookups are one index probe per row, whatever the statistics say
         * (OFFSET 0 keeps the planner from flattening the user lookup into
         * a join it would plan from stale statistics). */
        res = db_exec(
                db,
                "WITH x AS (SELECT * FROM unnest($3::int[], $4::text[], $5::int[], $6::boolean[]) "
                "           AS x(line, email_lower, urn, register)), "
                "reg AS (INSERT INTO import_emails (import_id, email_lower, line) "
                "        SELECT $1::uuid, email_lower, line FROM x WHERE register AND NOT $7::boolean "
                "        ON CONFLICT DO NOTHING) "
                "SELECT x.line, "
                "  (SELECT e.line FROM import_emails e WHERE e.import_id = $1::uuid "
                "     AND e.email_lower = x.email_lower AND e.line < x.line), "
                "  x.urn IS NOT NULL AND NOT EXISTS (SELECT 1 FROM establishments t WHERE t.urn = x.urn), "
                "  u.id, u.establishment_urn IS NOT NULL "
                "FROM x LEFT JOIN LATERAL (SELECT id, establishment_urn FROM users "
                "                          WHERE account_id = $2::bigint AND lower(email) = x.email_lower "
                "                          OFFSET 0) u ON true "
                "ORDER BY x.line",
                7, p);
        if (!res) {
                r = db_error(db);
                goto out;
        }

        size_t hint = 0;
        for (int i = 0; i < PQntuples(res); i++) {
                BatchRow *row = row_at_line(batch, strtoul(PQgetvalue(res, i, 0), NULL, 10), &hint);
                if (!row)
                        continue;
                bool has_email = row->user.email_lower != NULL;
                bool exists = !PQgetisnull(res, i, 3);

                row->user_id = exists ? strtoll(PQgetvalue(res, i, 3), NULL, 10) : 0;
                if (!PQgetisnull(res, i, 1) && (r = set_duplicate(batch, row, PQgetvalue(res, i, 1))) < 0)
                        goto out;
                if (PQgetvalue(res, i, 2)[0] == 't' &&
                    (r = add(batch, row, "urn", "unknown_establishment",
                             "no establishment has this URN; load the establishments (GIAS) or correct the URN")) < 0)
                        goto out;
                if (has_email && exists && job->mode == IMPORT_MODE_CREATE_ONLY &&
                    (r = add(batch, row, "email", "already_exists",
                             "a user with this email already exists, and the import only creates users")) < 0)
                        goto out;
                if (has_email && !exists && job->mode == IMPORT_MODE_UPDATE_ONLY &&
                    (r = add(batch, row, "email", "not_found",
                             "no user has this email, and the import only updates users")) < 0)
                        goto out;
                /* The row leaves the URN alone, and the user has one: the
                 * establishment overrides pupil links. */
                if (!row->user.failed && row->user.set_pupils && row->user.urn == URN_KEEP && exists &&
                    PQgetvalue(res, i, 4)[0] == 't') {
                        row->pupils_ignored = true;
                        if ((r = row_rules_add_issue(&row->user, &batch->arena, SEVERITY_WARNING, "upn", "upns_ignored",
                                                     "the user is linked to an establishment, which overrides "
                                                     "pupil links; the UPNs are ignored")) < 0)
                                goto out;
                }
        }
out:
        PQclear(res);
        buf_done(&lines);
        buf_done(&emails);
        buf_done(&urns);
        buf_done(&reg);
        return r;
}

/* Lines (of ok rows) that a statement's result names in its first column,
 * marked in `changed` (indexed like batch->rows). */
static void mark_lines(ImportBatch *batch, const PGresult *res, bool *changed) {
        size_t hint = 0;
        for (int i = 0; i < PQntuples(res); i++) {
                BatchRow *row = row_at_line(batch, strtoul(PQgetvalue(res, i, 0), NULL, 10), &hint);
                if (row)
                        changed[row - batch->rows] = true;
        }
}

static bool any_links(const ImportBatch *batch) {
        for (size_t i = 0; i < batch->n; i++) {
                const UserRow *u = &batch->rows[i].user;
                if (!u->failed && (u->set_teams || (u->set_pupils && !batch->rows[i].pupils_ignored)))
                        return true;
        }
        return false;
}

/* Writes the users and their links. created[i] / changed[i] tell what
 * happened to row i. */
static int write_users(Db *db, const UserStoreJob *job, ImportBatch *batch, bool *created, bool *changed,
                       int64_t *ret_invites) {
        char account[24], first_line[24];
        snprintf(account, sizeof account, "%" PRId64, job->account_id);
        snprintf(first_line, sizeof first_line, "%lu", batch->n ? batch->rows[0].user.line : 0UL);
        const char *p[] = { account, job->import_id, first_line, job->invite && !job->dry_run ? "t" : "f" };
        int r;

        size_t n_new = 0;
        for (size_t i = 0; i < batch->n; i++)
                if (!batch->rows[i].user.failed && !batch->rows[i].user_id)
                        created[i] = true, n_new++;
        *ret_invites = 0;

        if (n_new > 0 && job->mode != IMPORT_MODE_UPDATE_ONLY) {
                /* The new users, and the batch's invite outbox row with
                 * their ids, in one statement. */
                _cleanup_(PQclearp) PGresult *ins = db_exec(
                        db,
                        "WITH ins AS ("
                        "  INSERT INTO users (account_id, email, first_name, last_name, job_title, phone, role_id, "
                        "                     establishment_urn, active, custom, created_by_import, updated_by_import) "
                        "  SELECT $1::bigint, email, first_name, last_name, job_title, phone, role_id, NULLIF(urn, 0), "
                        "         coalesce(active, true), coalesce(custom, '{}'), $2::uuid, $2::uuid "
                        "  FROM roster_stage WHERE ok AND user_id IS NULL ORDER BY line "
                        "  ON CONFLICT (account_id, lower(email)) DO NOTHING RETURNING id), "
                        "ob AS ("
                        "  INSERT INTO invite_batches (import_id, first_line, account_id, user_ids) "
                        "  SELECT $2::uuid, $3::int, $1::bigint, array_agg(id ORDER BY id) FROM ins "
                        "  WHERE $4::boolean HAVING count(*) > 0) "
                        "SELECT count(*) FROM ins",
                        4, p);
                if (!ins)
                        return db_error(db);
                size_t n_created = strtoull(PQgetvalue(ins, 0, 0), NULL, 10);
                if (job->invite && !job->dry_run)
                        *ret_invites = (int64_t) n_created;

                if (n_created < n_new) {
                        /* Users another import created between the checks
                         * and the insert: they exist now. */
                        const char *q[] = { account, job->import_id };
                        _cleanup_(PQclearp) PGresult *res = db_exec(
                                db,
                                "UPDATE roster_stage s SET user_id = u.id FROM users u "
                                "WHERE s.ok AND s.user_id IS NULL AND u.account_id = $1::bigint "
                                "  AND lower(u.email) = s.email_lower AND u.created_by_import IS DISTINCT FROM $2::uuid "
                                "RETURNING s.line, u.id",
                                2, q);
                        if (!res)
                                return db_error(db);
                        size_t hint = 0;
                        for (int i = 0; i < PQntuples(res); i++) {
                                BatchRow *row = row_at_line(batch, strtoul(PQgetvalue(res, i, 0), NULL, 10), &hint);
                                if (!row)
                                        continue;
                                created[row - batch->rows] = false;
                                row->user_id = strtoll(PQgetvalue(res, i, 1), NULL, 10);
                                /* Only possible in create_only mode when
                                 * another import created the user between
                                 * the check and the insert. */
                                if (job->mode == IMPORT_MODE_CREATE_ONLY &&
                                    (r = add(batch, row, "email", "already_exists",
                                             "a user with this email already exists, and the import only creates "
                                             "users")) < 0)
                                        return r;
                        }
                        if (job->mode == IMPORT_MODE_CREATE_ONLY &&
                            (r = db_run(db, "UPDATE roster_stage SET ok = false WHERE ok AND user_id IS NOT NULL", 0,
                                        NULL)) < 0)
                                return r;
                }
        }

        /* Blank optional cells (NULL here) leave stored values alone; a URN
         * of 0 unlinks the establishment. Only rows that change something
         * are written, so that unchanged rows count as unchanged. */
        _cleanup_(PQclearp) PGresult *upd = db_exec(
                db,
                "UPDATE users u SET first_name = s.first_name, last_name = s.last_name, "
                "  job_title = coalesce(s.job_title, u.job_title), phone = coalesce(s.phone, u.phone), "
                "  role_id = s.role_id, "
                "  establishment_urn = CASE WHEN s.urn IS NULL THEN u.establishment_urn ELSE NULLIF(s.urn, 0) END, "
                "  active = coalesce(s.active, u.active), custom = u.custom || coalesce(s.custom, '{}'), "
                "  updated_at = now(), updated_by_import = $1::uuid "
                "FROM roster_stage s "
                "WHERE s.ok AND s.user_id = u.id "
                "  AND (u.first_name, u.last_name, u.job_title, u.phone, u.role_id, u.establishment_urn, "
                "       u.active, u.custom) IS DISTINCT FROM "
                "      (s.first_name, s.last_name, coalesce(s.job_title, u.job_title), "
                "       coalesce(s.phone, u.phone), s.role_id, "
                "       CASE WHEN s.urn IS NULL THEN u.establishment_urn ELSE NULLIF(s.urn, 0) END, "
                "       coalesce(s.active, u.active), u.custom || coalesce(s.custom, '{}')) "
                "RETURNING s.line",
                1, p + 1);
        if (!upd)
                return db_error(db);
        mark_lines(batch, upd, changed);

        if (!any_links(batch))
                return 0;
        /* Rows with links need the ids of the users just created. */
        r = db_run(db,
                   "UPDATE roster_stage s SET user_id = u.id FROM users u "
                   "WHERE s.ok AND s.user_id IS NULL AND (s.set_pupils OR s.set_teams) "
                   "  AND u.account_id = $1::bigint AND lower(u.email) = s.email_lower",
                   1, p);
        if (r < 0)
                return r;
        /* Links: remove what the row no longer lists, add what is new. */
        static const char *const link_sql[] = {
                "WITH del AS ("
                "  DELETE FROM user_pupils p USING roster_stage s "
                "  WHERE s.ok AND s.set_pupils AND p.user_id = s.user_id AND NOT (p.upn = ANY (s.upns)) "
                "  RETURNING p.user_id), "
                "ins AS ("
                "  INSERT INTO user_pupils (user_id, upn) "
                "  SELECT s.user_id, x FROM roster_stage s CROSS JOIN LATERAL unnest(s.upns) AS x "
                "  WHERE s.ok AND s.set_pupils AND s.user_id IS NOT NULL "
                "  ON CONFLICT DO NOTHING RETURNING user_id) "
                "SELECT s.line FROM roster_stage s "
                "WHERE s.user_id IN (SELECT user_id FROM del UNION SELECT user_id FROM ins)",
                "WITH del AS ("
                "  DELETE FROM user_teams t USING roster_stage s "
                "  WHERE s.ok AND s.set_teams AND t.user_id = s.user_id AND NOT (t.team_id = ANY (s.team_ids)) "
                "  RETURNING t.user_id), "
                "ins AS ("
                "  INSERT INTO user_teams (user_id, team_id) "
                "  SELECT s.user_id, x FROM roster_stage s CROSS JOIN LATERAL unnest(s.team_ids) AS x "
                "  WHERE s.ok AND s.set_teams AND s.user_id IS NOT NULL "
                "  ON CONFLICT DO NOTHING RETURNING user_id) "
                "SELECT s.line FROM roster_stage s "
                "WHERE s.user_id IN (SELECT user_id FROM del UNION SELECT user_id FROM ins)",
        };
        for (size_t k = 0; k < ELEMENTSOF(link_sql); k++) {
                _cleanup_(PQclearp) PGresult *res = db_exec(db, link_sql[k], 0, NULL);
                if (!res)
                        return db_error(db);
                mark_lines(batch, res, changed);
        }
        return 0;
}

int user_store_write_batch(Db *db, const UserStoreJob *job, ImportBatch *batch, BatchCounts *ret) {
        BatchCounts c = { .rows = (int64_t) batch->n };
        bool *created = calloc(batch->n ? batch->n : 1, sizeof *created);
        bool *changed = calloc(batch->n ? batch->n : 1, sizeof *changed);
        int r;
        if (!created || !changed) {
                r = -ENOMEM;
                goto out;
        }

        /* Every statement below is driven by the few rows of the batch and
         * must probe the big tables by index. Statistics lag behind a big
         * import (autovacuum analyses a minute later), and prepared
         * statements keep the plan made when the tables were small: the
         * planner then picks scans and hash joins over whole tables, which
         * makes a batch cost as much as the table is big. Rule those out
         * for this transaction. */
        if ((r = db_run(db, "SET LOCAL enable_hashjoin = off", 0, NULL)) < 0 ||
            (r = db_run(db, "SET LOCAL enable_mergejoin = off", 0, NULL)) < 0 ||
            (r = db_run(db, "SET LOCAL enable_seqscan = off", 0, NULL)) < 0 ||
            /* The costs the settings above give scans would make every
             * statement look worth compiling. */
            (r = db_run(db, "SET LOCAL jit = off", 0, NULL)) < 0 ||
            (r = database_checks(db, job, batch)) < 0 || (r = db_run(db, stage_ddl, 0, NULL)) < 0 ||
            (r = copy_stage(db, batch)) < 0 ||
            /* Statistics, or the planner takes the fresh temp table for
             * the big side of a join. */
            (r = db_run(db, "ANALYZE roster_stage", 0, NULL)) < 0)
                goto out;

        if (job->dry_run && (r = db_run(db, "SAVEPOINT dry_run", 0, NULL)) < 0)
                goto out;
        if ((r = write_users(db, job, batch, created, changed, &c.invites)) < 0)
                goto out;
        if (job->dry_run && (r = db_run(db, "ROLLBACK TO SAVEPOINT dry_run", 0, NULL)) < 0)
                goto out;
        for (size_t i = 0; i < batch->n; i++) {
                if (batch->rows[i].user.failed)
                        continue;
                if (created[i])
                        c.created++;
                else if (changed[i])
                        c.updated++;
                else
                        c.unchanged++;
        }

        if ((r = error_log_write(db, job->import_id, batch)) < 0)
                goto out;
        c.failed = (int64_t) import_batch_failed(batch);
        c.warned = (int64_t) import_batch_warned(batch);
        *ret = c;
out:
        free(created);
        free(changed);
        return r;
}
