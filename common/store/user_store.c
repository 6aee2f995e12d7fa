#include "user_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "account_store.h"
#include "establishment_store.h"
#include "link_store.h"
#include "pg_text.h"
#include "user_batch.h"

/* The staging table lives as long as the connection; rows go with each
 * commit. Created again after a reconnect, hence IF NOT EXISTS each time.
 * Rows are staged after the database checks, with their final ok flag, so
 * that nothing writes to it afterwards but the rare statements for races
 * and links. No index: every statement reads it whole, once. */
static const char stage_ddl[] =
        "CREATE TEMP TABLE IF NOT EXISTS roster_stage ("
        "  line integer NOT NULL,"
        "  ok boolean NOT NULL,"
        "  email text, email_lower text,"
        "  first_name text, last_name text, job_title text, phone text,"
        "  urn integer, role_id bigint, active boolean, custom jsonb,"
        "  upns text[], set_pupils boolean NOT NULL,"
        "  team_ids bigint[], set_teams boolean NOT NULL,"
        "  user_id bigint"
        ") ON COMMIT DELETE ROWS";

static int copy_stage(Db *db, const ImportBatch *batch) {
        DbCopy c;
        int r = db_copy_start(&c, db,
                              "COPY roster_stage (line, ok, email, email_lower, first_name, last_name, "
                              "job_title, phone, urn, role_id, active, custom, upns, set_pupils, team_ids, "
                              "set_teams, user_id) FROM STDIN");
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < batch->n; i++) {
                if (!user_batch_staged(&batch->rows[i]))
                        continue;
                r = user_batch_stage_row(&c.rows, &batch->rows[i]);
                if (r >= 0)
                        r = db_copy_flush(&c);
        }
        return db_copy_end(&c, r);
}

static const char look_up_sql[] =
        "SELECT x.line, u.id, u.establishment_urn IS NOT NULL, "
        "  u.first_name, u.last_name, u.job_title, u.phone, u.role_id, u.establishment_urn, u.active "
        "FROM unnest($2::int[], $3::text[]) AS x(line, email_lower) "
        "CROSS JOIN LATERAL (SELECT id, first_name, last_name, job_title, phone, role_id, "
        "                           establishment_urn, active FROM users "
        "                    WHERE account_id = $1::bigint AND lower(email) = x.email_lower "
        "                    OFFSET 0) u "
        "ORDER BY x.line";

/* Asks establishment_store which of the rows' URNs exist - only those not
 * in `known`, which may be NULL - setting urn_unknown and adding the URNs
 * found to `known`. */
static int look_up_urns(Db *db, UrnSet *known, ImportBatch *batch) {
        int *urns = malloc((batch->n ? batch->n : 1) * sizeof *urns);
        size_t *rows = malloc((batch->n ? batch->n : 1) * sizeof *rows);
        bool *exists = malloc((batch->n ? batch->n : 1) * sizeof *exists);
        int r = urns && rows && exists ? 0 : -ENOMEM;
        size_t n = r < 0 ? 0 : user_batch_urns_to_ask(batch, known, urns, rows);
        if (n > 0 && (r = establishment_store_exist(db, urns, n, exists)) >= 0)
                user_batch_urns_found(batch, known, urns, rows, exists, n);
        free(urns);
        free(rows);
        free(exists);
        return r;
}

/* Sends the statement that looks up the user of each row's email
 * (look_up_sql), with the values that tell whether the row would change
 * it, after asking which URNs exist (look_up_urns()). One index probe
 * per row, whatever the statistics say: OFFSET 0 keeps the planner from
 * flattening the lookups into joins it would plan from stale statistics.
 * Returns 1 when sent, 0 when there is nothing to ask. */
static int look_up_send(Db *db, const UserStoreJob *job, UrnSet *known, ImportBatch *batch) {
        Buf lines = BUF_INIT, emails = BUF_INIT;
        int r = look_up_urns(db, known, batch);
        if (r >= 0 && (r = user_batch_email_arrays(batch, NULL, &lines, &emails, NULL)) > 0) {
                char account[24];
                snprintf(account, sizeof account, "%" PRId64, job->account_id);
                const char *p[] = { account, lines.data, emails.data };
                if ((r = db_send(db, look_up_sql, 3, p)) == 0)
                        r = 1;
        }
        /* On failure the batch is as it was: not looked up. */
        for (size_t i = 0; r < 0 && i < batch->n; i++)
                batch->rows[i].urn_unknown = false;
        buf_done(&lines);
        buf_done(&emails);
        return r;
}

/* Reads what look_up_send() asked into the rows: user_id, user_linked
 * and matches_user. Adds no issue (user_batch_check_issues() does). */
static int look_up_receive(Db *db, ImportBatch *batch) {
        _cleanup_(PQclearp) PGresult *res = db_receive(db);
        if (!res)
                return db_error(db);
        size_t hint = 0;
        for (int i = 0; i < PQntuples(res); i++) {
                BatchRow *row = user_batch_row_at_line(batch, strtoul(PQgetvalue(res, i, 0), NULL, 10), &hint);
                if (!row)
                        continue;
                row->user_id = strtoll(PQgetvalue(res, i, 1), NULL, 10);
                row->user_linked = PQgetvalue(res, i, 2)[0] == 't';
                const char *values[7];
                for (int k = 0; k < 7; k++)
                        values[k] = PQgetisnull(res, i, 3 + k) ? NULL : PQgetvalue(res, i, 3 + k);
                row->matches_user = user_batch_matches_user(row, values);
        }
        return 0;
}

static int look_up(Db *db, const UserStoreJob *job, UrnSet *known, ImportBatch *batch) {
        int r = look_up_send(db, job, known, batch);
        return r <= 0 ? r : look_up_receive(db, batch);
}

/* In-file duplicates of earlier batches and ranges, registering this
 * batch's first occurrences at the same time (range_store_check_emails(),
 * which owns the duplicate index). Emails on one row of the file (as the
 * job's filter says) are neither registered nor looked up. */
static int find_duplicates(Db *db, const UserStoreJob *job, ImportBatch *batch) {
        Buf lines = BUF_INIT, emails = BUF_INIT, reg = BUF_INIT;
        int r = user_batch_email_arrays(batch, job->emails, &lines, &emails, &reg);
        if (r <= 0)
                goto out;
        EmailSeen *seen = NULL;
        size_t n_seen = 0;
        if ((r = range_store_check_emails(db, job->import_id, lines.data, emails.data, reg.data, &seen, &n_seen)) < 0)
                goto out;
        size_t hint = 0;
        for (size_t i = 0; i < n_seen && r >= 0; i++) {
                BatchRow *row = user_batch_row_at_line(batch, seen[i].line, &hint);
                if (row)
                        r = user_batch_set_duplicate(batch, row, seen[i].first_line);
        }
        free(seen);
out:
        buf_done(&lines);
        buf_done(&emails);
        buf_done(&reg);
        return r;
}

/* Lines (of ok rows) that a statement's result names in its first column,
 * marked in `changed` (indexed like batch->rows). */
static void mark_lines(ImportBatch *batch, const PGresult *res, bool *changed) {
        size_t hint = 0;
        for (int i = 0; i < PQntuples(res); i++) {
                BatchRow *row = user_batch_row_at_line(batch, strtoul(PQgetvalue(res, i, 0), NULL, 10), &hint);
                if (row)
                        changed[row - batch->rows] = true;
        }
}

/* The columns a row sets, and whether they differ from the user's (u):
 * blank optional cells (NULL in the stage, here m) leave stored values
 * alone, and a URN of 0 unlinks the establishment. */
#define USER_SET                                                                                        \
        "first_name = m.first_name, last_name = m.last_name, "                                        \
        "job_title = coalesce(m.job_title, u.job_title), phone = coalesce(m.phone, u.phone), "        \
        "role_id = m.role_id, "                                                                        \
        "establishment_urn = CASE WHEN m.urn IS NULL THEN u.establishment_urn ELSE NULLIF(m.urn, 0) END, " \
        "active = coalesce(m.active, u.active), "                                                      \
        "custom = CASE WHEN m.custom IS NULL THEN u.custom ELSE u.custom || m.custom END, "            \
        "updated_at = now(), updated_by_import = $2::uuid "
#define USER_DIFFERS                                                                                   \
        "(u.first_name, u.last_name, u.job_title, u.phone, u.role_id, u.establishment_urn, u.active, "  \
        " u.custom) IS DISTINCT FROM "                                                                 \
        "(m.first_name, m.last_name, coalesce(m.job_title, u.job_title), coalesce(m.phone, u.phone), " \
        " m.role_id, CASE WHEN m.urn IS NULL THEN u.establishment_urn ELSE NULLIF(m.urn, 0) END, "     \
        " coalesce(m.active, u.active), CASE WHEN m.custom IS NULL THEN u.custom ELSE u.custom || m.custom END)"

/* One statement writes the batch's users, like the database's own
 * INSERT ... ON CONFLICT DO UPDATE but without locking every row it
 * leaves alone. Rows whose user the checks found update it, found by id
 * (one probe of the primary key; a user since deleted, or given another
 * email, is not found, and user_store_write() then has the batch checked
 * again); rows with no user are inserted (ON CONFLICT DO NOTHING: another
 * import may create the same user meanwhile). The UPDATE repeats the
 * comparison: it judges the rows the worker could not (custom fields),
 * and a user changed since the checks is compared again in its new
 * version.
 *
 * The user's account is compared as `account_id + 0`: the one index that
 * starts with account_id must not drive the update. Statistics that do
 * not know a new account yet make the planner expect few users there, and
 * it would then read all of them for every batch.
 *
 * $3 allows updates, $4 inserts. Returns ('u', line) for each updated
 * row and ('i', id, email) for each user created, in the order of their
 * lines. */
static const char write_sql[] =
        "WITH upd AS ("
        "  UPDATE users u SET " USER_SET
        "  FROM roster_stage m "
        "  WHERE m.ok AND $3::boolean AND u.id = m.user_id AND u.account_id + 0 = $1::bigint "
        "    AND lower(u.email) = m.email_lower AND " USER_DIFFERS
        "  RETURNING m.line), "
        "ins AS ("
        "  INSERT INTO users (account_id, email, first_name, last_name, job_title, phone, role_id, "
        "                     establishment_urn, active, custom, created_by_import, updated_by_import) "
        "  SELECT $1::bigint, email, first_name, last_name, job_title, phone, role_id, NULLIF(urn, 0), "
        "         coalesce(active, true), coalesce(custom, '{}'), $2::uuid, $2::uuid "
        "  FROM roster_stage WHERE ok AND user_id IS NULL AND $4::boolean ORDER BY line "
        "  ON CONFLICT (account_id, lower(email)) DO NOTHING RETURNING id, email) "
        "SELECT 'u', line, NULL FROM upd "
        "UNION ALL SELECT 'i', id, email FROM ins";

/* Whether every staged row with a user that the write left alone still
 * has that user: the write then changed nothing there because nothing
 * differs. A user deleted (or given another email) since the checks
 * makes it return -EAGAIN, so that the batch is checked again and the
 * row creates the user anew. */
static int users_still_there(Db *db, const ImportBatch *batch, const bool *changed, const char *account) {
        Buf lines = BUF_INIT;
        int r = user_batch_lines_unchanged(&lines, batch, changed);
        if (r <= 0)
                goto out;
        const char *p[] = { account, lines.data };
        PGresult *res = db_exec(db,
                                "SELECT 1 FROM roster_stage s "
                                "WHERE s.ok AND s.line = ANY ($2::int[]) AND NOT EXISTS ("
                                "  SELECT 1 FROM users u WHERE u.id = s.user_id AND u.account_id + 0 = $1::bigint "
                                "    AND lower(u.email) = s.email_lower) "
                                "LIMIT 1",
                                2, p);
        r = !res ? db_error(db) : PQntuples(res) > 0 ? -EAGAIN : 0;
        PQclear(res);
out:
        buf_done(&lines);
        return r;
}

/* Rows that failed after they were staged leave the stage's later
 * statements (links). */
static int unstage_failed(Db *db, const ImportBatch *batch) {
        Buf lines = BUF_INIT;
        int r = user_batch_lines_failed(&lines, batch);
        const char *p[] = { lines.data };
        if (r >= 0)
                r = db_run(db, "UPDATE roster_stage SET ok = false WHERE ok AND line = ANY ($1::int[])", 1, p);
        buf_done(&lines);
        return r;
}

/* Rows the write meant to create that another import created first: they
 * exist now; in create_only mode they fail, otherwise they are updated
 * like any existing user. raced[i] marks them. */
static int write_raced(Db *db, const UserStoreJob *job, ImportBatch *batch, const bool *raced, bool *changed,
                       int64_t *user_ids, const char *account) {
        Buf lines = BUF_INIT;
        PGresult *res = NULL;
        int r = user_batch_lines_array(&lines, batch, raced);
        if (r < 0)
                goto out;
        const char *q[] = { account, lines.data };
        res = db_exec(db,
                      "SELECT s.line, u.id FROM roster_stage s JOIN users u "
                      "  ON u.account_id = $1::bigint AND lower(u.email) = s.email_lower "
                      "WHERE s.ok AND s.line = ANY ($2::int[])",
                      2, q);
        if (!res) {
                r = db_error(db);
                goto out;
        }
        size_t hint = 0;
        for (int i = 0; i < PQntuples(res); i++) {
                BatchRow *row = user_batch_row_at_line(batch, strtoul(PQgetvalue(res, i, 0), NULL, 10), &hint);
                if (row)
                        user_ids[row - batch->rows] = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        }
        PQclear(res);
        res = NULL;

        if (job->mode == IMPORT_MODE_CREATE_ONLY) {
                if ((r = user_batch_fail_raced(batch, raced, user_ids)) >= 0)
                        r = unstage_failed(db, batch);
                goto out;
        }
        const char *p[] = { account, job->import_id, lines.data };
        res = db_exec(db,
                      "UPDATE users u SET " USER_SET
                      "FROM roster_stage m "
                      "WHERE m.ok AND m.line = ANY ($3::int[]) AND u.account_id = $1::bigint "
                      "  AND lower(u.email) = m.email_lower AND " USER_DIFFERS " "
                      "RETURNING m.line",
                      3, p);
        if (!res) {
                r = db_error(db);
                goto out;
        }
        mark_lines(batch, res, changed);
out:
        PQclear(res);
        buf_done(&lines);
        return r;
}

/* Writes the users and their links. created[i] / changed[i] / user_ids[i]
 * tell what happened to row i. */
static int write_users(Db *db, const UserStoreJob *job, ImportBatch *batch, bool *created, bool *changed,
                       int64_t *user_ids, int64_t *ret_invites) {
        char account[24];
        snprintf(account, sizeof account, "%" PRId64, job->account_id);
        bool inserts = job->mode != IMPORT_MODE_UPDATE_ONLY;
        const char *p[] = { account, job->import_id, job->mode != IMPORT_MODE_CREATE_ONLY ? "t" : "f",
                            inserts ? "t" : "f" };
        int r;

        *ret_invites = 0;
        _cleanup_(PQclearp) PGresult *res = db_exec(db, write_sql, 4, p);
        if (!res)
                return db_error(db);
        size_t n_created = 0, n_tried = 0, hint = 0, next = 0;
        for (int i = 0; i < PQntuples(res); i++) {
                if (PQgetvalue(res, i, 0)[0] == 'u') {
                        BatchRow *row = user_batch_row_at_line(batch, strtoul(PQgetvalue(res, i, 1), NULL, 10), &hint);
                        if (row)
                                changed[row - batch->rows] = true;
                        continue;
                }
                size_t k = user_batch_row_of_created(batch, PQgetvalue(res, i, 2), &next);
                if (k < batch->n) {
                        created[k] = true;
                        user_ids[k] = strtoll(PQgetvalue(res, i, 1), NULL, 10);
                        n_created++;
                }
        }
        if ((r = users_still_there(db, batch, changed, account)) < 0)
                return r;
        if (job->invite && !job->dry_run)
                *ret_invites = (int64_t) n_created;

        bool *raced = calloc(batch->n ? batch->n : 1, sizeof *raced);
        if (!raced)
                return -ENOMEM;
        if (inserts)
                n_tried = user_batch_raced(batch, created, raced);
        if (n_created < n_tried)
                r = write_raced(db, job, batch, raced, changed, user_ids, account);
        free(raced);
        if (r < 0)
                return r;

        if (!user_batch_any_links(batch))
                return 0;
        /* Statistics for the link statements' joins. */
        if ((r = db_run(db, "ANALYZE roster_stage", 0, NULL)) < 0)
                return r;
        /* Rows with links need the ids of their users. */
        r = db_run(db,
                   "UPDATE roster_stage s SET user_id = u.id FROM users u "
                   "WHERE s.ok AND (s.set_pupils OR s.set_teams) "
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
                _cleanup_(PQclearp) PGresult *links = db_exec(db, link_sql[k], 0, NULL);
                if (!links)
                        return db_error(db);
                mark_lines(batch, links, changed);
        }
        return 0;
}

int user_store_look_up_send(Db *db, const UserStoreJob *job, ImportBatch *batch) {
        int r = look_up_send(db, job, job->known_urns, batch);
        if (r == 0)
                batch->looked_up = true; /* nothing to ask */
        return r;
}

int user_store_look_up_receive(Db *db, const UserStoreJob *job, ImportBatch *batch) {
        int r = look_up_receive(db, batch);
        if (r < 0) {
                import_batch_rewind(batch);
                return r;
        }
        batch->looked_up = true;
        return 0;
}

int user_store_check(Db *db, const UserStoreJob *job, ImportBatch *batch) {
        int r;
        /* Looked up in the transaction: every URN is asked for. */
        if (!batch->looked_up && (r = look_up(db, job, NULL, batch)) < 0)
                return r;
        if ((r = find_duplicates(db, job, batch)) < 0)
                return r;
        return user_batch_check_issues(batch, job->mode);
}

int user_store_write(Db *db, const UserStoreJob *job, ImportBatch *batch, bool *created, bool *changed,
                     int64_t *user_ids, int64_t *ret_invites) {
        int r;
        *ret_invites = 0;
        for (size_t i = 0; i < batch->n; i++)
                user_ids[i] = batch->rows[i].user.failed ? 0 : batch->rows[i].user_id;
        /* Rows that failed or change nothing are not written. */
        bool any = false;
        for (size_t i = 0; i < batch->n && !any; i++)
                any = user_batch_staged(&batch->rows[i]);
        if (!any)
                return 0;
        if ((r = db_run(db, stage_ddl, 0, NULL)) < 0 || (r = copy_stage(db, batch)) < 0)
                return r;
        r = write_users(db, job, batch, created, changed, user_ids, ret_invites);
        /* An establishment deleted since the batch was looked up, or since
         * an earlier batch found it: again, in the transaction, asking for
         * every URN. */
        if (r == -EIO && db_sqlstate_is(db, "23503") && batch->looked_up) {
                atomic_store(job->known_urns_stale, true);
                return -EAGAIN;
        }
        return r;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

int user_store_find_ids(Db *db, int64_t account_id, size_t n, const char *const *emails, int64_t *ids) {
        if (n == 0)
                return 0;
        /* Each email is asked once: a file's links name the same few
         * people (a school's head, a team's manager) again and again. */
        const char **distinct = malloc(n * sizeof *distinct);
        int64_t *found = calloc(n, sizeof *found);
        Buf arr = BUF_INIT;
        PGresult *res = NULL;
        int r = distinct && found ? 0 : -ENOMEM;
        if (r < 0)
                goto out;
        memcpy(distinct, emails, n * sizeof *distinct);
        qsort(distinct, n, sizeof *distinct, cmp_str);
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
                if (m == 0 || strcmp(distinct[m - 1], distinct[i]) != 0)
                        distinct[m++] = distinct[i];
        r = buf_append_char(&arr, '{');
        for (size_t i = 0; r >= 0 && i < m; i++)
                r = db_array_text(&arr, distinct[i]);
        if (r >= 0)
                r = buf_append_char(&arr, '}');
        if (r < 0)
                goto out;
        char account[24];
        snprintf(account, sizeof account, "%" PRId64, account_id);
        const char *p[] = { account, arr.data };
        /* One probe of the account's email index each. */
        res = db_exec(db,
                      "SELECT x.i, u.id FROM unnest($2::text[]) WITH ORDINALITY AS x(email, i) "
                      "CROSS JOIN LATERAL (SELECT u.id FROM users u "
                      "                    WHERE u.account_id = $1::bigint AND lower(u.email) = x.email LIMIT 1) u",
                      2, p);
        if (!res) {
                r = db_error(db);
                goto out;
        }
        for (int i = 0; i < PQntuples(res); i++) {
                long long k = strtoll(PQgetvalue(res, i, 0), NULL, 10);
                if (k >= 1 && (size_t) k <= m)
                        found[k - 1] = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        }
        for (size_t i = 0; i < n; i++) {
                const char **hit = bsearch(&emails[i], distinct, m, sizeof *distinct, cmp_str);
                ids[i] = hit ? found[hit - distinct] : 0;
        }
out:
        PQclear(res);
        buf_done(&arr);
        free(distinct);
        free(found);
        return r;
}

int user_store_exist(Db *db, size_t n, const int64_t *ids, bool *exists) {
        if (n == 0)
                return 0;
        Buf arr = BUF_INIT;
        int r = pg_text_array_i64(&arr, ids, n);
        if (r < 0) {
                buf_done(&arr);
                return r;
        }
        const char *p[] = { arr.data };
        r = db_exec_positions(db,
                              "SELECT x.i FROM unnest($1::bigint[]) WITH ORDINALITY AS x(id, i) "
                              "WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = x.id)",
                              1, p, n, exists);
        buf_done(&arr);
        return r;
}

/* Reading users for the API. A user names its role, teams and links by
 * id, and those tables are their owners': a page is one statement for
 * the users, then the names it needs, a fixed few statements whatever
 * its size. */

#define TS(col) "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* The account's teams come in as arrays ($2 ids, $3 names, from
 * account_store): a user's teams are ordered by lower(name) in the
 * database's collation, which C cannot reproduce, so the database still
 * orders them, from those arrays rather than from the teams table. */
#define TEAMS_OF_U "FROM user_teams ut JOIN unnest($2::bigint[], $3::text[]) AS t(id, name) ON t.id = ut.team_id " \
                   "WHERE ut.user_id = u.id"

/* The columns view_from() reads, in order. */
#define VIEW_SELECT                                                                                             \
        "SELECT u.id, u.email, u.first_name, u.last_name, u.job_title, u.phone, u.role_id, "                   \
        "coalesce(u.establishment_urn, 0), u.active, u.custom::text, "                                          \
        "coalesce((SELECT json_agg(p.upn ORDER BY p.upn) FROM user_pupils p WHERE p.user_id = u.id), '[]')::text, " \
        "coalesce((SELECT json_agg(json_build_object('id', t.id, 'name', t.name) ORDER BY lower(t.name), t.id) " \
        TEAMS_OF_U "), '[]')::text, "                                                                          \
        "coalesce((SELECT string_agg(t.name, '; ' ORDER BY lower(t.name), t.id) " TEAMS_OF_U "), ''), "        \
        TS("u.created_at") ", " TS("u.updated_at") ", coalesce(u.created_by_import::text, ''), "               \
        "coalesce(u.updated_by_import::text, ''), lower(u.email) FROM users u "

void user_store_view_done(UserView *v) {
        if (!v)
                return;
        char **s[] = { &v->email,    &v->first_name, &v->last_name, &v->job_title, &v->phone,
                       &v->role_key, &v->role_name,  &v->establishment_name,       &v->custom,
                       &v->pupils,   &v->teams,      &v->team_names, &v->sort_key, &v->linked };
        for (size_t i = 0; i < ELEMENTSOF(s); i++)
                free(*s[i]);
        memset(v, 0, sizeof *v);
}

void user_store_views_free(UserView *v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                user_store_view_done(&v[i]);
        free(v);
}

static char *dup_opt(const char *s, bool *oom) {
        char *d = s ? strdup(s) : NULL;
        if (s && !d)
                *oom = true;
        return d;
}

static const char *value_opt(const PGresult *res, int row, int col) {
        return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* Row `row` of a VIEW_SELECT result, its role named from roles. -ENOENT
 * when the role is not among them (the user is then not listed, as a
 * join would leave it out). */
static int view_from(const PGresult *res, int row, const RoleInfo *roles, size_t n_roles, UserView *v) {
        bool oom = false;
        int c = 0;
        memset(v, 0, sizeof *v);
        v->id = strtoll(PQgetvalue(res, row, c++), NULL, 10);
        char **text[] = { &v->email, &v->first_name, &v->last_name, &v->job_title, &v->phone };
        for (size_t i = 0; i < ELEMENTSOF(text); i++)
                *text[i] = dup_opt(value_opt(res, row, c++), &oom);
        int64_t role_id = strtoll(PQgetvalue(res, row, c++), NULL, 10);
        for (size_t i = 0; i < n_roles && !v->role_key; i++)
                if (roles[i].id == role_id) {
                        v->role_key = dup_opt(roles[i].key, &oom);
                        v->role_name = dup_opt(roles[i].name, &oom);
                }
        v->urn = atoi(PQgetvalue(res, row, c++));
        v->active = PQgetvalue(res, row, c++)[0] == 't';
        char **json[] = { &v->custom, &v->pupils, &v->teams, &v->team_names };
        for (size_t i = 0; i < ELEMENTSOF(json); i++)
                *json[i] = dup_opt(value_opt(res, row, c++), &oom);
        snprintf(v->created_at, sizeof v->created_at, "%s", PQgetvalue(res, row, c++));
        snprintf(v->updated_at, sizeof v->updated_at, "%s", PQgetvalue(res, row, c++));
        snprintf(v->created_by_import, sizeof v->created_by_import, "%s", PQgetvalue(res, row, c++));
        snprintf(v->updated_by_import, sizeof v->updated_by_import, "%s", PQgetvalue(res, row, c++));
        v->sort_key = dup_opt(PQgetvalue(res, row, c++), &oom);
        int r = oom ? -ENOMEM : v->role_key ? 0 : -ENOENT;
        if (r < 0)
                user_store_view_done(v);
        return r;
}

/* The establishments' names of the views, in one statement
 * (establishment_store.h). */
static int name_establishments(Db *db, UserView *v, size_t n) {
        int *urns = malloc((n ? n : 1) * sizeof *urns);
        char **names = NULL;
        if (!urns)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                urns[i] = v[i].urn;
        int r = establishment_store_names(db, urns, n, &names);
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (v[i].urn) {
                        v[i].establishment_name = names[i];
                        names[i] = NULL;
                }
        establishment_store_names_free(names, r < 0 ? 0 : n);
        free(urns);
        return r;
}

/* The views' links, as `linked` JSON: link_store gives the links of the
 * page's users, and one statement gives their targets' emails, grouped
 * and ordered as the API shows them: kind -> [{id, email}] by email. */
static int name_links(Db *db, UserView *v, size_t n) {
        int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
        LinkRow *links = NULL;
        size_t n_links = 0;
        Buf users = BUF_INIT, kinds = BUF_INIT, targets = BUF_INIT, page = BUF_INIT;
        PGresult *res = NULL;
        int r = ids ? 0 : -ENOMEM;
        for (size_t i = 0; ids && i < n; i++)
                ids[i] = v[i].id;
        if (r < 0 || (r = link_store_links_of(db, ids, n, &links, &n_links)) < 0 || n_links == 0)
                goto out;
        Buf *arrays[] = { &users, &kinds, &targets };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(arrays); i++)
                r = buf_append_char(arrays[i], '{');
        for (size_t i = 0; r >= 0 && i < n_links; i++)
                if ((r = db_array_sep(&users)) >= 0 && (r = buf_append_i64(&users, links[i].user_id)) >= 0 &&
                    (r = db_array_text(&kinds, links[i].kind)) >= 0 && (r = db_array_sep(&targets)) >= 0)
                        r = buf_append_i64(&targets, links[i].target_id);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(arrays); i++)
                r = buf_append_char(arrays[i], '}');
        if (r < 0 || (r = pg_text_array_i64(&page, ids, n)) < 0)
                goto out;
        const char *p[] = { users.data, kinds.data, targets.data, page.data };
        res = db_exec(db,
                      "SELECT v.i, json_object_agg(k.kind, k.users ORDER BY k.kind)::text "
                      "FROM (SELECT l.user_id, l.kind, "
                      "        json_agg(json_build_object('id', t.id, 'email', t.email) ORDER BY lower(t.email)) AS users "
                      "      FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS l(user_id, kind, target_id) "
                      "      JOIN users t ON t.id = l.target_id GROUP BY l.user_id, l.kind) k "
                      "JOIN unnest($4::bigint[]) WITH ORDINALITY AS v(id, i) ON v.id = k.user_id GROUP BY v.i",
                      4, p);
        if (!res) {
                r = db_error(db);
                goto out;
        }
        for (int i = 0; r >= 0 && i < PQntuples(res); i++) {
                long long k = strtoll(PQgetvalue(res, i, 0), NULL, 10);
                if (k >= 1 && (size_t) k <= n && !v[k - 1].linked && !(v[k - 1].linked = strdup(PQgetvalue(res, i, 1))))
                        r = -ENOMEM;
        }
out:
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (!v[i].linked && !(v[i].linked = strdup("{}")))
                        r = -ENOMEM;
        PQclear(res);
        buf_done(&users);
        buf_done(&kinds);
        buf_done(&targets);
        buf_done(&page);
        free(links);
        free(ids);
        return r;
}

/* Reads the views of a VIEW_SELECT statement, whose $2 and $3 are the
 * account's teams; p[1] and p[2] are set here. */
static int read_views(Db *db, const char *sql, int n_params, const char **p,
                      const RoleInfo *roles, size_t n_roles, const TeamInfo *teams, size_t n_teams, UserView **ret,
                      size_t *ret_n) {
        Buf ids = BUF_INIT, names = BUF_INIT;
        int r = buf_append_char(&ids, '{');
        if (r >= 0)
                r = buf_append_char(&names, '{');
        for (size_t i = 0; r >= 0 && i < n_teams; i++)
                if ((r = db_array_sep(&ids)) >= 0 && (r = buf_append_i64(&ids, teams[i].id)) >= 0)
                        r = db_array_text(&names, teams[i].name);
        if (r >= 0 && (r = buf_append_char(&ids, '}')) >= 0)
                r = buf_append_char(&names, '}');
        PGresult *res = NULL;
        UserView *v = NULL;
        size_t n = 0;
        if (r < 0)
                goto out;
        p[1] = ids.data;
        p[2] = names.data;
        if (!(res = db_exec(db, sql, n_params, p))) {
                r = db_error(db);
                goto out;
        }
        if (!(v = calloc((size_t) PQntuples(res) + 1, sizeof *v))) {
                r = -ENOMEM;
                goto out;
        }
        for (int i = 0; r >= 0 && i < PQntuples(res); i++) {
                int k = view_from(res, i, roles, n_roles, &v[n]);
                if (k == 0)
                        n++;
                else if (k != -ENOENT)
                        r = k;
        }
        if (r >= 0 && n > 0 && (r = name_establishments(db, v, n)) >= 0)
                r = name_links(db, v, n);
out:
        PQclear(res);
        buf_done(&ids);
        buf_done(&names);
        if (r < 0) {
                user_store_views_free(v, n);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* One read of users, the arguments and the answer of user_store_list()
 * or user_store_get(), run by db_snapshot(). */
typedef struct ViewRead {
        int64_t account_id;
        const UserFilter *filter;
        const char *after_email;
        int limit;
        int64_t id; /* user_store_get()'s one user, or 0 */
        UserView *views;
        size_t n;
} ViewRead;

/* The views of an earlier try, whose transaction did not commit. */
static void view_read_reset(ViewRead *q) {
        user_store_views_free(q->views, q->n);
        q->views = NULL;
        q->n = 0;
}

static int list_read(Db *db, void *userdata) {
        ViewRead *q = userdata;
        view_read_reset(q);
        int64_t account_id = q->account_id;
        const UserFilter *f = q->filter;
        const char *after_email = q->after_email;
        int limit = q->limit;
        UserView **ret = &q->views;
        size_t *ret_n = &q->n;
        RoleInfo *roles = NULL;
        TeamInfo *teams = NULL;
        size_t n_roles = 0, n_teams = 0;
        Buf team_ids = BUF_INIT;
        int r = account_store_roles_load(db, account_id, &roles, &n_roles);
        if (r >= 0)
                r = account_store_teams_load(db, account_id, &teams, &n_teams);
        if (r < 0)
                goto out;
        /* The filters by role key and team name, as ids: a key or a name
         * the account does not have lists nobody. Names match in any case
         * as the API checks them (strcasecmp()): team names are unique in
         * any case, so this is the one team lower() would match. */
        char role_id[24] = "";
        for (size_t i = 0; f->role && i < n_roles && !*role_id; i++)
                if (strcmp(roles[i].key, f->role) == 0)
                        snprintf(role_id, sizeof role_id, "%" PRId64, roles[i].id);
        r = buf_append_char(&team_ids, '{');
        for (size_t i = 0; r >= 0 && f->team && i < n_teams; i++)
                if (strcasecmp(teams[i].name, f->team) == 0 && (r = db_array_sep(&team_ids)) >= 0)
                        r = buf_append_i64(&team_ids, teams[i].id);
        if (r >= 0)
                r = buf_append_char(&team_ids, '}');
        if (r < 0)
                goto out;
        if ((f->role && !*role_id) || (f->team && team_ids.len == 2)) {
                if (!(*ret = calloc(1, sizeof **ret)))
                        r = -ENOMEM;
                *ret_n = 0;
                goto out;
        }
        char account[24], urn[16], lim[16];
        snprintf(account, sizeof account, "%" PRId64, account_id);
        snprintf(urn, sizeof urn, "%d", f->urn);
        snprintf(lim, sizeof lim, "%d", limit);
        const char *active = f->active < 0 ? NULL : f->active ? "t" : "f";
        const char *p[] = { account, NULL, NULL, after_email, f->email, f->role ? role_id : NULL,
                            f->urn > 0 ? urn : NULL, f->team ? team_ids.data : NULL, active,
                            f->created_by_import, f->updated_by_import, lim };
        /* In the order of the account's email index, which the page reads
         * from the cursor on. */
        r = read_views(db,
                       VIEW_SELECT
                       "WHERE u.account_id = $1::bigint AND ($4::text IS NULL OR lower(u.email) > $4) "
                       "  AND ($5::text IS NULL OR lower(u.email) = lower($5)) "
                       "  AND ($6::bigint IS NULL OR u.role_id = $6::bigint) "
                       "  AND ($7::int IS NULL OR u.establishment_urn = $7::int) "
                       "  AND ($8::bigint[] IS NULL OR EXISTS (SELECT 1 FROM user_teams ut "
                       "        WHERE ut.user_id = u.id AND ut.team_id = ANY ($8::bigint[]))) "
                       "  AND ($9::boolean IS NULL OR u.active = $9::boolean) "
                       "  AND ($10::uuid IS NULL OR u.created_by_import = $10::uuid) "
                       "  AND ($11::uuid IS NULL OR u.updated_by_import = $11::uuid) "
                       "ORDER BY lower(u.email) LIMIT $12",
                       12, p, roles, n_roles, teams, n_teams, ret, ret_n);
out:
        buf_done(&team_ids);
        account_store_roles_free(roles, n_roles);
        account_store_teams_free(teams, n_teams);
        return r;
}

int user_store_list(Db *db, int64_t account_id, const UserFilter *f, const char *after_email, int limit,
                    UserView **ret, size_t *ret_n) {
        ViewRead q = { .account_id = account_id, .filter = f, .after_email = after_email, .limit = limit };
        int r = db_snapshot(db, 3, list_read, &q);
        if (r < 0) {
                view_read_reset(&q);
                return r;
        }
        *ret = q.views;
        *ret_n = q.n;
        return 0;
}

static int get_read(Db *db, void *userdata) {
        ViewRead *q = userdata;
        view_read_reset(q);
        RoleInfo *roles = NULL;
        TeamInfo *teams = NULL;
        size_t n_roles = 0, n_teams = 0;
        int r = account_store_roles_load(db, q->account_id, &roles, &n_roles);
        if (r >= 0)
                r = account_store_teams_load(db, q->account_id, &teams, &n_teams);
        if (r >= 0) {
                char account[24], id_s[24];
                snprintf(account, sizeof account, "%" PRId64, q->account_id);
                snprintf(id_s, sizeof id_s, "%" PRId64, q->id);
                const char *p[] = { account, NULL, NULL, id_s };
                r = read_views(db, VIEW_SELECT "WHERE u.account_id = $1::bigint AND u.id = $4::bigint",
                               4, p, roles, n_roles, teams, n_teams, &q->views, &q->n);
        }
        account_store_roles_free(roles, n_roles);
        account_store_teams_free(teams, n_teams);
        return r;
}

int user_store_get(Db *db, int64_t account_id, int64_t id, UserView *ret) {
        ViewRead q = { .account_id = account_id, .id = id };
        int r = db_snapshot(db, 3, get_read, &q);
        if (r >= 0 && q.n == 0)
                r = -ENOENT;
        if (r >= 0) {
                *ret = q.views[0];
                memset(&q.views[0], 0, sizeof q.views[0]);
        }
        user_store_views_free(q.views, q.n);
        return r;
}

int user_store_max_pupils(Db *db, int64_t account_id, int *ret) {
        char account[24];
        snprintf(account, sizeof account, "%" PRId64, account_id);
        const char *p[] = { account };
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM user_pupils p "
                "  JOIN users u ON u.id = p.user_id WHERE u.account_id = $1::bigint GROUP BY p.user_id) x",
                1, p);
        if (!res)
                return db_error(db);
        *ret = atoi(PQgetvalue(res, 0, 0));
        return 0;
}

int user_store_link_kinds(Db *db, int64_t account_id, char ***ret, size_t *ret_n) {
        char account[24];
        snprintf(account, sizeof account, "%" PRId64, account_id);
        const char *p[] = { account };
        _cleanup_(PQclearp) PGresult *res =
                db_exec(db, "SELECT id FROM users WHERE account_id = $1::bigint ORDER BY id", 1, p);
        if (!res)
                return db_error(db);
        size_t n = (size_t) PQntuples(res);
        int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
        if (!ids)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                ids[i] = strtoll(PQgetvalue(res, (int) i, 0), NULL, 10);
        int r = link_store_kinds_of(db, ids, n, ret, ret_n);
        free(ids);
        return r;
}

void user_store_link_kinds_free(char **kinds, size_t n) {
        link_store_kinds_free(kinds, n);
}

int user_store_emails(Db *db, size_t n, const int64_t *ids, char **emails) {
        if (n == 0)
                return 0;
        Buf arr = BUF_INIT;
        int r = pg_text_array_i64(&arr, ids, n);
        if (r < 0) {
                buf_done(&arr);
                return r;
        }
        const char *p[] = { arr.data };
        r = db_exec_texts(db,
                           "SELECT x.i, u.email FROM unnest($1::bigint[]) WITH ORDINALITY AS x(id, i) "
                           "JOIN users u ON u.id = x.id WHERE x.id <> 0",
                           1, p, n, emails);
        buf_done(&arr);
        return r;
}

static bool temp_table_name_ok(const char *name) {
        return *name && strlen(name) <= 63 && strspn(name, "abcdefghijklmnopqrstuvwxyz_") == strlen(name);
}

int user_store_ids_by_emails_into(Db *db, int64_t account_id, const char *emails_table, const char *ids_table) {
        if (!temp_table_name_ok(emails_table) || !temp_table_name_ok(ids_table))
                return -EINVAL;
        char sql[320], account[24];
        snprintf(sql, sizeof sql,
                 "INSERT INTO pg_temp.%s (id) SELECT u.id FROM pg_temp.%s e "
                 "JOIN users u ON u.account_id = $1::bigint AND lower(u.email) = e.email",
                 ids_table, emails_table);
        snprintf(account, sizeof account, "%" PRId64, account_id);
        const char *p[] = { account };
        return db_run(db, sql, 1, p);
}

int user_store_roles_of(Db *db, const char *ids_table, int64_t **ret, size_t *ret_n) {
        if (!temp_table_name_ok(ids_table))
                return -EINVAL;
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT DISTINCT u.role_id FROM users u WHERE u.id IN (SELECT id FROM pg_temp.%s)",
                 ids_table);
        _cleanup_(PQclearp) PGresult *res = db_exec(db, sql, 0, NULL);
        if (!res)
                return db_error(db);
        size_t n = (size_t) PQntuples(res);
        int64_t *roles = calloc(n + 1, sizeof *roles);
        if (!roles)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                roles[i] = strtoll(PQgetvalue(res, (int) i, 0), NULL, 10);
        *ret = roles;
        *ret_n = n;
        return 0;
}

int user_store_active_except_into(Db *db, int64_t account_id, size_t n_roles, const int64_t *role_ids,
                                  const char *except_table, const char *into_table, int64_t *ret_pool,
                                  int64_t *ret_added) {
        if (!temp_table_name_ok(except_table) || !temp_table_name_ok(into_table))
                return -EINVAL;
        Buf arr = BUF_INIT;
        int r = pg_text_array_i64(&arr, role_ids, n_roles);
        if (r < 0) {
                buf_done(&arr);
                return r;
        }
        char sql[512], account[24];
        /* NOT EXISTS, not NOT IN: an anti join that may spill to disk,
         * where NOT IN over a set larger than work_mem would look up each
         * user in turn. */
        snprintf(sql, sizeof sql,
                 "WITH pool AS ("
                 "  SELECT u.id FROM users u "
                 "  WHERE u.account_id = $1::bigint AND u.active AND u.role_id = ANY ($2::bigint[])), "
                 "ins AS ("
                 "  INSERT INTO pg_temp.%s (id) SELECT p.id FROM pool p "
                 "  WHERE NOT EXISTS (SELECT 1 FROM pg_temp.%s l WHERE l.id = p.id) RETURNING id) "
                 "SELECT (SELECT count(*) FROM pool), (SELECT count(*) FROM ins)",
                 into_table, except_table);
        snprintf(account, sizeof account, "%" PRId64, account_id);
        const char *p[] = { account, arr.data };
        _cleanup_(PQclearp) PGresult *res = db_exec(db, sql, 2, p);
        buf_done(&arr);
        if (!res)
                return db_error(db);
        *ret_pool = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        *ret_added = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        return 0;
}

int user_store_deactivate(Db *db, const char *import_id, size_t n, const int64_t *ids, bool *changed,
                          int64_t *ret_changed) {
        if (n == 0) {
                *ret_changed = 0;
                return 0;
        }
        Buf arr = BUF_INIT;
        int r = pg_text_array_i64(&arr, ids, n);
        if (r < 0) {
                buf_done(&arr);
                return r;
        }
        const char *p[] = { import_id, arr.data };
        _cleanup_(PQclearp) PGresult *res =
                db_exec(db,
                        "WITH done AS ("
                        "  UPDATE users u SET active = false, updated_at = now(), updated_by_import = $1::uuid "
                        "  WHERE u.id IN (SELECT unnest($2::bigint[])) AND u.active RETURNING u.id) "
                        "SELECT x.i FROM unnest($2::bigint[]) WITH ORDINALITY AS x(id, i) "
                        "WHERE x.id IN (SELECT id FROM done)",
                        2, p);
        buf_done(&arr);
        if (!res)
                return db_error(db);
        for (size_t i = 0; i < n; i++)
                changed[i] = false;
        int64_t count = 0;
        for (int i = 0; i < PQntuples(res); i++) {
                long long k = strtoll(PQgetvalue(res, i, 0), NULL, 10);
                if (k >= 1 && (size_t) k <= n && !changed[k - 1]) {
                        changed[k - 1] = true;
                        count++;
                }
        }
        *ret_changed = count;
        return 0;
}

static int cmp_invitee(const void *a, const void *b) {
        int64_t x = ((const Invitee *) a)->id, y = ((const Invitee *) b)->id;
        return (x > y) - (x < y);
}

int user_store_invitees(Db *db, const int64_t *ids, size_t n, Invitee **ret, size_t *ret_n) {
        if (n == 0) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        Buf arr = BUF_INIT;
        int r = pg_text_array_i64(&arr, ids, n);
        if (r < 0) {
                buf_done(&arr);
                return r;
        }
        const char *p[] = { arr.data };
        /* One probe of the primary key each: as a join, the planner may
         * merge the ids with the whole of the key instead. */
        _cleanup_(PQclearp) PGresult *res =
                db_exec(db,
                        "SELECT u.id, u.email, u.first_name, u.last_name, u.role_id FROM users u "
                        "WHERE u.id = ANY ($1::bigint[])",
                        1, p);
        buf_done(&arr);
        if (!res)
                return db_error(db);

        /* The array and its strings in one allocation. */
        size_t m = (size_t) PQntuples(res), size = m * sizeof(Invitee);
        for (size_t i = 0; i < m; i++)
                for (int f = 1; f <= 3; f++)
                        size += (size_t) PQgetlength(res, (int) i, f) + 1;
        Invitee *inv = malloc(size ? size : 1);
        if (!inv)
                return -ENOMEM;
        char *s = (char *) (inv + m);
        for (size_t i = 0; i < m; i++) {
                const char **field[] = { &inv[i].email, &inv[i].first_name, &inv[i].last_name };
                inv[i].id = strtoll(PQgetvalue(res, (int) i, 0), NULL, 10);
                inv[i].role_id = strtoll(PQgetvalue(res, (int) i, 4), NULL, 10);
                for (int f = 0; f < 3; f++) {
                        size_t len = (size_t) PQgetlength(res, (int) i, f + 1);
                        memcpy(s, PQgetvalue(res, (int) i, f + 1), len + 1);
                        *field[f] = s;
                        s += len + 1;
                }
        }
        qsort(inv, m, sizeof *inv, cmp_invitee);
        *ret = inv;
        *ret_n = m;
        return 0;
}
