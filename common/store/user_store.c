#include "user_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"

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

static int put_text(Buf *b, const char *s) {
        int r = s ? db_copy_text(b, s) : db_copy_null(b);
        return r < 0 ? r : buf_append_char(b, '\t');
}

static int put_int(Buf *b, long long v) {
        int r = buf_append_i64(b, v);
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

/* Whether the row goes into the staging table: rows that failed or would
 * change nothing are left out. */
static bool staged(const BatchRow *row) {
        return !row->user.failed && !row->unchanged;
}

/* One staging row in COPY text format. */
static int stage_row(Buf *b, const BatchRow *row) {
        const UserRow *u = &row->user;
        bool ok = !u->failed;
        int r;

        if ((r = put_int(b, (long long) u->line)) < 0 || (r = put_text(b, ok ? "t" : "f")) < 0 ||
            (r = put_text(b, u->email)) < 0 || (r = put_text(b, u->email_lower)) < 0 ||
            (r = put_text(b, ok ? u->first_name : NULL)) < 0 ||
            (r = put_text(b, ok ? u->last_name : NULL)) < 0 || (r = put_text(b, ok ? u->job_title : NULL)) < 0 ||
            (r = put_text(b, ok ? u->phone : NULL)) < 0)
                return r;
        r = u->urn == URN_KEEP ? put_text(b, NULL) : put_int(b, u->urn);
        if (r < 0)
                return r;
        r = ok && u->role ? put_int(b, u->role->id) : put_text(b, NULL);
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
                        r = buf_append_str(b, "}\tt");
        } else
                r = buf_append_str(b, "\\N\tf");
        if (r >= 0)
                r = buf_append_char(b, '\t');
        if (r >= 0)
                r = row->user_id ? buf_append_i64(b, row->user_id) : buf_append_str(b, "\\N");
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
                if (!staged(&batch->rows[i]))
                        continue;
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

/* Whether the user as the checks read it (columns `col`.. of res: first
 * name, last name, job title, phone, role id, establishment URN, active)
 * already has every value the row sets, so that writing the row would
 * change nothing (as USER_DIFFERS below decides it). Rows that set custom
 * fields or links (link_store.h too) are left to the write. */
static bool row_matches_user(const BatchRow *row, const PGresult *res, int i, int col) {
        const UserRow *u = &row->user;
        if (u->n_custom > 0 || u->set_teams || u->n_links > 0 || (u->set_pupils && !row->pupils_ignored) ||
            !u->role)
                return false;
#define SAME_TEXT(value, k) (PQgetisnull(res, i, col + (k)) ? (value) == NULL : (value) && strcmp((value), PQgetvalue(res, i, col + (k))) == 0)
        if (!SAME_TEXT(u->first_name, 0) || !SAME_TEXT(u->last_name, 1))
                return false;
        if (u->job_title && !SAME_TEXT(u->job_title, 2))
                return false;
        if (u->phone && !SAME_TEXT(u->phone, 3))
                return false;
#undef SAME_TEXT
        if (strtoll(PQgetvalue(res, i, col + 4), NULL, 10) != u->role->id)
                return false;
        if (u->urn != URN_KEEP) {
                bool linked = !PQgetisnull(res, i, col + 5);
                if (u->urn == 0 ? linked : !linked || strtol(PQgetvalue(res, i, col + 5), NULL, 10) != u->urn)
                        return false;
        }
        if (u->active >= 0 && (PQgetvalue(res, i, col + 6)[0] == 't') != (u->active == 1))
                return false;
        return true;
}

static const char look_up_sql[] =
        "SELECT x.line, "
        "  x.urn IS NOT NULL AND NOT EXISTS (SELECT 1 FROM establishments t WHERE t.urn = x.urn OFFSET 0), "
        "  u.id, u.establishment_urn IS NOT NULL, "
        "  u.first_name, u.last_name, u.job_title, u.phone, u.role_id, u.establishment_urn, u.active "
        "FROM unnest($2::int[], $3::text[], $4::int[]) AS x(line, email_lower, urn) "
        "LEFT JOIN LATERAL (SELECT id, first_name, last_name, job_title, phone, role_id, "
        "                          establishment_urn, active FROM users "
        "                   WHERE x.email_lower IS NOT NULL AND account_id = $1::bigint "
        "                     AND lower(email) = x.email_lower "
        "                   OFFSET 0) u ON true "
        "ORDER BY x.line";

/* Sends the statement that looks up what the database knows of each row
 * (look_up_sql): the user of its email (and the values that tell whether
 * the row would change it) and whether its URN exists - only the URNs not
 * in `known`, which may be NULL. One index probe per row, whatever the
 * statistics say: OFFSET 0 keeps the planner from flattening the lookups
 * into joins it would plan from stale statistics, and from hashing every
 * establishment for the few URNs a batch still asks for. Returns 1 when
 * sent, 0 when there is nothing to ask. */
static int look_up_send(Db *db, const UserStoreJob *job, const UrnSet *known, const ImportBatch *batch) {
        Buf lines = BUF_INIT, emails = BUF_INIT, urns = BUF_INIT;
        bool any = false;
        int r = 0;
        if ((r = buf_append_char(&lines, '{')) < 0 || (r = buf_append_char(&emails, '{')) < 0 ||
            (r = buf_append_char(&urns, '{')) < 0)
                goto out;
        for (size_t i = 0; r >= 0 && i < batch->n; i++) {
                const UserRow *u = &batch->rows[i].user;
                bool ask_urn = u->urn > 0 && !urn_set_has(known, u->urn);
                if (!u->email_lower && !ask_urn)
                        continue;
                if ((r = db_array_sep(&lines)) < 0 || (r = buf_append_u64(&lines, u->line)) < 0 ||
                    (r = db_array_text(&emails, u->email_lower)) < 0 || (r = db_array_sep(&urns)) < 0)
                        break;
                r = ask_urn ? buf_append_i64(&urns, u->urn) : buf_append_str(&urns, "NULL");
                any = true;
        }
        if (r < 0 || !any)
                goto out;
        if ((r = buf_append_char(&lines, '}')) < 0 || (r = buf_append_char(&emails, '}')) < 0 ||
            (r = buf_append_char(&urns, '}')) < 0)
                goto out;

        char account[24];
        snprintf(account, sizeof account, "%" PRId64, job->account_id);
        const char *p[] = { account, lines.data, emails.data, urns.data };
        r = db_send(db, look_up_sql, 4, p);
        if (r == 0)
                r = 1;
out:
        buf_done(&lines);
        buf_done(&emails);
        buf_done(&urns);
        return r;
}

/* Reads what look_up_send() asked into the rows: user_id, user_linked,
 * urn_unknown and matches_user, and adds the URNs found to `known`. Adds
 * no issue (check_issues() does). */
static int look_up_receive(Db *db, UrnSet *known, ImportBatch *batch) {
        _cleanup_(PQclearp) PGresult *res = db_receive(db);
        if (!res)
                return db_error(db);
        size_t hint = 0;
        for (int i = 0; i < PQntuples(res); i++) {
                BatchRow *row = row_at_line(batch, strtoul(PQgetvalue(res, i, 0), NULL, 10), &hint);
                if (!row)
                        continue;
                row->urn_unknown = PQgetvalue(res, i, 1)[0] == 't';
                if (!row->urn_unknown && row->user.urn > 0)
                        urn_set_add(known, row->user.urn);
                if (PQgetisnull(res, i, 2))
                        continue;
                row->user_id = strtoll(PQgetvalue(res, i, 2), NULL, 10);
                row->user_linked = PQgetvalue(res, i, 3)[0] == 't';
                row->matches_user = row_matches_user(row, res, i, 4);
        }
        return 0;
}

static int look_up(Db *db, const UserStoreJob *job, UrnSet *known, ImportBatch *batch) {
        int r = look_up_send(db, job, known, batch);
        return r <= 0 ? r : look_up_receive(db, known, batch);
}

/* In-file duplicates of earlier batches and ranges, registering this
 * batch's first occurrences at the same time (range_store_check_emails(),
 * which owns the duplicate index). Emails on one row of the file (as the
 * job's filter says) are neither registered nor looked up. */
static int find_duplicates(Db *db, const UserStoreJob *job, ImportBatch *batch) {
        Buf lines = BUF_INIT, emails = BUF_INIT, reg = BUF_INIT;
        bool any = false;
        int r = 0;
        if ((r = buf_append_char(&lines, '{')) < 0 || (r = buf_append_char(&emails, '{')) < 0 ||
            (r = buf_append_char(&reg, '{')) < 0)
                goto out;
        for (size_t i = 0; r >= 0 && i < batch->n; i++) {
                const BatchRow *row = &batch->rows[i];
                const char *email = row->user.email_lower;
                if (!email || (job->emails && !email_filter_may_repeat(job->emails, email, strlen(email))))
                        continue;
                if ((r = db_array_sep(&lines)) < 0 || (r = buf_append_u64(&lines, row->user.line)) < 0 ||
                    (r = db_array_text(&emails, email)) < 0 || (r = db_array_sep(&reg)) < 0)
                        break;
                r = buf_append_char(&reg, row->register_email ? 't' : 'f');
                any = true;
        }
        if (r < 0 || !any)
                goto out;
        if ((r = buf_append_char(&lines, '}')) < 0 || (r = buf_append_char(&emails, '}')) < 0 ||
            (r = buf_append_char(&reg, '}')) < 0)
                goto out;

        EmailSeen *seen = NULL;
        size_t n_seen = 0;
        if ((r = range_store_check_emails(db, job->import_id, lines.data, emails.data, reg.data, &seen, &n_seen)) < 0)
                goto out;
        size_t hint = 0;
        for (size_t i = 0; i < n_seen && r >= 0; i++) {
                BatchRow *row = row_at_line(batch, seen[i].line, &hint);
                char first[24];
                snprintf(first, sizeof first, "%lu", seen[i].first_line);
                if (row)
                        r = set_duplicate(batch, row, first);
        }
        free(seen);
out:
        buf_done(&lines);
        buf_done(&emails);
        buf_done(&reg);
        return r;
}

/* The issues of what look_up() found, and which rows change nothing. */
static int check_issues(const UserStoreJob *job, ImportBatch *batch) {
        int r;
        for (size_t i = 0; i < batch->n; i++) {
                BatchRow *row = &batch->rows[i];
                UserRow *u = &row->user;
                bool exists = row->user_id != 0;
                if (row->urn_unknown &&
                    (r = add(batch, row, "urn", "unknown_establishment",
                             "no establishment has this URN; load the establishments (GIAS) or correct the URN")) < 0)
                        return r;
                if (exists && job->mode == IMPORT_MODE_CREATE_ONLY &&
                    (r = add(batch, row, "email", "already_exists",
                             "a user with this email already exists, and the import only creates users")) < 0)
                        return r;
                if (u->email_lower && !exists && job->mode == IMPORT_MODE_UPDATE_ONLY &&
                    (r = add(batch, row, "email", "not_found",
                             "no user has this email, and the import only updates users")) < 0)
                        return r;
                /* The row leaves the URN alone, and the user has one: the
                 * establishment overrides pupil links. */
                if (!u->failed && u->set_pupils && u->urn == URN_KEEP && exists && row->user_linked) {
                        row->pupils_ignored = true;
                        if ((r = row_rules_add_issue(u, &batch->arena, SEVERITY_WARNING, "upn", "upns_ignored",
                                                     "the user is linked to an establishment, which overrides "
                                                     "pupil links; the UPNs are ignored")) < 0)
                                return r;
                }
                row->unchanged = !u->failed && exists && row->matches_user;
        }
        return 0;
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
        int r = buf_append_char(&lines, '{');
        bool any = false;
        for (size_t i = 0; r >= 0 && i < batch->n; i++) {
                const BatchRow *row = &batch->rows[i];
                if (!staged(row) || !row->user_id || changed[i])
                        continue;
                r = buf_printf(&lines, "%s%lu", any ? "," : "", row->user.line);
                any = true;
        }
        if (r >= 0)
                r = buf_append_char(&lines, '}');
        if (r < 0 || !any)
                goto out;
        const char *p[] = { account, lines.data };
        PGresult *res = db_exec(db,
                                "SELECT 1 FROM roster_stage s "
                                "WHERE s.ok AND s.line = ANY ($2::int[]) AND NOT EXISTS ("
                                "  SELECT 1 FROM users u WHERE u.id = s.user_id AND u.account_id + 0 = $1::bigint "
                                "    AND lower(u.email) = s.email_lower) "
                                "LIMIT 1",
                                2, p);
        if (!res)
                r = db_error(db);
        else if (PQntuples(res) > 0)
                r = -EAGAIN;
        PQclear(res);
out:
        buf_done(&lines);
        return r;
}

/* Lines as a PostgreSQL array literal. */
static int lines_array(Buf *b, const ImportBatch *batch, const bool *pick) {
        int r = buf_append_char(b, '{');
        for (size_t i = 0; r >= 0 && i < batch->n; i++)
                if (pick[i])
                        r = buf_printf(b, "%s%lu", b->len > 1 ? "," : "", batch->rows[i].user.line);
        return r < 0 ? r : buf_append_char(b, '}');
}

/* Rows that failed after they were staged leave the stage's later
 * statements (links). */
static int unstage_failed(Db *db, const ImportBatch *batch) {
        Buf lines = BUF_INIT;
        int r = buf_append_char(&lines, '{');
        for (size_t i = 0; r >= 0 && i < batch->n; i++)
                if (batch->rows[i].user.failed)
                        r = buf_printf(&lines, "%s%lu", lines.len > 1 ? "," : "", batch->rows[i].user.line);
        if (r >= 0)
                r = buf_append_char(&lines, '}');
        const char *p[] = { lines.data };
        if (r >= 0)
                r = db_run(db, "UPDATE roster_stage SET ok = false WHERE ok AND line = ANY ($1::int[])", 1, p);
        buf_done(&lines);
        return r;
}

/* The row that created the user with this email: ins returns users in
 * the order of their lines, so it is the next row meant to create one;
 * should that order not hold, any such row. batch->n when none. */
static size_t row_of_created(const ImportBatch *batch, const char *email, size_t *next) {
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = pass ? 0 : *next; i < batch->n; i++) {
                        const BatchRow *row = &batch->rows[i];
                        if (staged(row) && !row->user_id && strcmp(row->user.email, email) == 0) {
                                *next = i + 1;
                                return i;
                        }
                }
        return batch->n;
}

/* Rows the write meant to create that another import created first: they
 * exist now; in create_only mode they fail, otherwise they are updated
 * like any existing user. raced[i] marks them. */
static int write_raced(Db *db, const UserStoreJob *job, ImportBatch *batch, const bool *raced, bool *changed,
                       int64_t *user_ids, const char *account) {
        Buf lines = BUF_INIT;
        PGresult *res = NULL;
        int r = lines_array(&lines, batch, raced);
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
                BatchRow *row = row_at_line(batch, strtoul(PQgetvalue(res, i, 0), NULL, 10), &hint);
                if (row)
                        user_ids[row - batch->rows] = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        }
        PQclear(res);
        res = NULL;

        if (job->mode == IMPORT_MODE_CREATE_ONLY) {
                for (size_t i = 0; i < batch->n && r >= 0; i++)
                        if (raced[i]) {
                                user_ids[i] = 0;
                                r = add(batch, &batch->rows[i], "email", "already_exists",
                                        "a user with this email already exists, and the import only creates users");
                        }
                if (r >= 0)
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
                        BatchRow *row = row_at_line(batch, strtoul(PQgetvalue(res, i, 1), NULL, 10), &hint);
                        if (row)
                                changed[row - batch->rows] = true;
                        continue;
                }
                size_t k = row_of_created(batch, PQgetvalue(res, i, 2), &next);
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
        for (size_t i = 0; inserts && i < batch->n; i++)
                if (staged(&batch->rows[i]) && !batch->rows[i].user_id) {
                        n_tried++;
                        raced[i] = !created[i];
                }
        if (n_created < n_tried)
                r = write_raced(db, job, batch, raced, changed, user_ids, account);
        free(raced);
        if (r < 0)
                return r;

        if (!any_links(batch))
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
        int r = look_up_receive(db, job->known_urns, batch);
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
        return check_issues(job, batch);
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
                any = staged(&batch->rows[i]);
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
        int r = buf_append_char(&arr, '{');
        for (size_t i = 0; r >= 0 && i < n; i++)
                if ((r = db_array_sep(&arr)) >= 0)
                        r = buf_append_i64(&arr, ids[i]);
        if (r >= 0)
                r = buf_append_char(&arr, '}');
        if (r < 0) {
                buf_done(&arr);
                return r;
        }
        const char *p[] = { arr.data };
        _cleanup_(PQclearp) PGresult *res =
                db_exec(db,
                        "SELECT x.i FROM unnest($1::bigint[]) WITH ORDINALITY AS x(id, i) "
                        "WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = x.id)",
                        1, p);
        buf_done(&arr);
        if (!res)
                return db_error(db);
        for (size_t i = 0; i < n; i++)
                exists[i] = false;
        for (int i = 0; i < PQntuples(res); i++) {
                long long k = strtoll(PQgetvalue(res, i, 0), NULL, 10);
                if (k >= 1 && (size_t) k <= n)
                        exists[k - 1] = true;
        }
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
        int r = buf_append_char(&arr, '{');
        for (size_t i = 0; r >= 0 && i < n; i++)
                if ((r = db_array_sep(&arr)) >= 0)
                        r = buf_append_i64(&arr, ids[i]);
        if (r >= 0)
                r = buf_append_char(&arr, '}');
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
