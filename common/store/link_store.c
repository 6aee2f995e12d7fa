#include "link_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "email_filter.h"
#include "macro.h"

/* Whether a link to email may be made: its user is on a line of the file
 * (made when the import ends, if not before), or among `found` (users of
 * the account, as asked for). */
static bool target_known(const UserStoreJob *job, const EmailSet *found, const char *email) {
        return (job->file_emails && email_set_has(job->file_emails, email, strlen(email))) ||
               (found && email_set_has(found, email, strlen(email)));
}

/* The links a batch may write: those of its rows that did not fail. */
static size_t count_links(const ImportBatch *batch) {
        size_t n = 0;
        for (size_t i = 0; i < batch->n; i++) {
                const UserRow *u = &batch->rows[i].user;
                for (size_t l = 0; !u->failed && l < u->n_links; l++)
                        n += u->links[l].n;
        }
        return n;
}

/* The users of the account among the emails the batch's links name that
 * the file does not give (user_store_find_ids(): one statement, an index
 * probe each). */
static int find_users(Db *db, const UserStoreJob *job, const ImportBatch *batch, EmailSet **ret) {
        size_t most = count_links(batch), n = 0;
        if (most == 0)
                return 0;
        _cleanup_free_ const char **emails = malloc(most * sizeof *emails);
        _cleanup_free_ int64_t *ids = malloc(most * sizeof *ids);
        if (!emails || !ids)
                return -ENOMEM;
        for (size_t i = 0; i < batch->n; i++) {
                const UserRow *u = &batch->rows[i].user;
                for (size_t l = 0; !u->failed && l < u->n_links; l++)
                        for (size_t k = 0; k < u->links[l].n; k++)
                                if (!target_known(job, NULL, u->links[l].emails[k]))
                                        emails[n++] = u->links[l].emails[k];
        }
        if (n == 0)
                return 0;
        int r = user_store_find_ids(db, job->account_id, n, emails, ids);
        if (r < 0)
                return r;
        EmailSet *found = email_set_new();
        if (!found)
                return -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (ids[i])
                        r = email_set_add(found, emails[i], strlen(emails[i]));
        if (r < 0) {
                email_set_free(found);
                return r;
        }
        email_set_seal(found);
        *ret = found;
        return 0;
}

typedef struct LinkArrays {
        Buf lines, rows, users, kinds, emails;
} LinkArrays;

static void link_arrays_done(LinkArrays *a) {
        buf_done(&a->lines);
        buf_done(&a->rows);
        buf_done(&a->users);
        buf_done(&a->kinds);
        buf_done(&a->emails);
}

/* Appends one link to the arrays (each opened with '{' by the caller). */
static int link_arrays_add(LinkArrays *a, const UserRow *u, int64_t user_id, const UserLinks *links,
                           const char *email) {
        int r;
        if ((r = db_array_sep(&a->lines)) < 0 || (r = buf_append_u64(&a->lines, u->line)) < 0 ||
            (r = db_array_sep(&a->rows)) < 0 || (r = buf_append_u64(&a->rows, u->row)) < 0 ||
            (r = db_array_sep(&a->users)) < 0 || (r = buf_append_i64(&a->users, user_id)) < 0 ||
            (r = db_array_text(&a->kinds, links->kind)) < 0)
                return r;
        return db_array_text(&a->emails, email);
}

/* A dry run creates no one, so a link to a line of the file never finds
 * its user: each such link waits (user 0) for the end of the dry run,
 * which tells from the failed lines whether it would be made
 * (link_store_resolve()). */
static int dry_run_waits(Db *db, const UserStoreJob *job, const ImportBatch *batch) {
        LinkArrays a = { BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT };
        Buf *all[] = { &a.lines, &a.rows, &a.users, &a.kinds, &a.emails };
        size_t n = 0;
        int r = 0;
        for (size_t k = 0; r >= 0 && k < ELEMENTSOF(all); k++)
                r = buf_append_char(all[k], '{');
        for (size_t i = 0; r >= 0 && i < batch->n; i++) {
                const UserRow *u = &batch->rows[i].user;
                for (size_t l = 0; !u->failed && r >= 0 && l < u->n_links; l++)
                        for (size_t k = 0; r >= 0 && k < u->links[l].n; k++) {
                                const char *email = u->links[l].emails[k];
                                if (!job->file_emails || !email_set_has(job->file_emails, email, strlen(email)))
                                        continue;
                                r = link_arrays_add(&a, u, 0, &u->links[l], email);
                                n++;
                        }
        }
        for (size_t k = 0; r >= 0 && k < ELEMENTSOF(all); k++)
                r = buf_append_char(all[k], '}');
        if (r >= 0 && n > 0) {
                const char *p[] = { job->import_id, a.lines.data, a.rows.data, a.users.data, a.kinds.data,
                                    a.emails.data };
                r = db_run(db,
                           "INSERT INTO import_links (import_id, line, row_number, user_id, kind, email_lower) "
                           "SELECT $1::uuid, * FROM unnest($2::int[], $3::int[], $4::bigint[], $5::text[], "
                           "$6::text[]) ON CONFLICT DO NOTHING",
                           6, p);
        }
        link_arrays_done(&a);
        return r;
}

int link_store_check(Db *db, const UserStoreJob *job, ImportBatch *batch) {
        _cleanup_(email_set_freep) EmailSet *found = NULL;
        int r = find_users(db, job, batch, &found);
        for (size_t i = 0; r >= 0 && i < batch->n; i++) {
                UserRow *u = &batch->rows[i].user;
                for (size_t l = 0; !u->failed && r >= 0 && l < u->n_links; l++) {
                        Buf unknown = BUF_INIT;
                        size_t n_unknown = 0;
                        for (size_t k = 0; r >= 0 && k < u->links[l].n; k++) {
                                if (target_known(job, found, u->links[l].emails[k]))
                                        continue;
                                /* Positions, the first ten of them. */
                                if (n_unknown < 10)
                                        r = buf_printf(&unknown, "%s%zu", n_unknown ? ", " : "", k + 1);
                                n_unknown++;
                        }
                        if (r >= 0 && n_unknown > 10)
                                r = buf_printf(&unknown, " and %zu more", n_unknown - 10);
                        if (r >= 0 && n_unknown) {
                                char *msg = arena_printf(
                                        &batch->arena,
                                        "%s: the %s at %s %s of this cell %s no user of this account, nor any "
                                        "line of this file",
                                        u->links[l].field, n_unknown > 1 ? "emails" : "email",
                                        n_unknown > 1 ? "positions" : "position", buf_str(&unknown),
                                        n_unknown > 1 ? "name" : "names");
                                r = msg ? row_rules_add_issue(u, &batch->arena, SEVERITY_ERROR, u->links[l].field,
                                                              "unknown_user", msg)
                                        : -ENOMEM;
                        }
                        buf_done(&unknown);
                }
        }
        if (r >= 0 && job->dry_run)
                r = dry_run_waits(db, job, batch);
        return r;
}

/* The links of the batch: for each email of each row that did not fail,
 * its line, data row, user, kind, email and target, the user it names
 * (NULL when there is none yet). $1 import. The row's links of that kind
 * that it no longer names are deleted by primary key; the links whose
 * users do not exist yet wait. Returns ('d'|'w', line) for rows whose
 * links were deleted or wait, ('i', user) for users given new links. */
static const char write_sql[] =
        "WITH x AS MATERIALIZED ("
        "  SELECT * FROM unnest($2::int[], $3::int[], $4::bigint[], $5::text[], $6::text[], $7::bigint[]) "
        "       AS x(line, row_number, user_id, kind, email, target)), "
        "k AS MATERIALIZED ("
        "  SELECT line, user_id, kind, coalesce(array_agg(target) FILTER (WHERE target IS NOT NULL), '{}') AS targets "
        "  FROM x GROUP BY line, user_id, kind), "
        "del AS ("
        "  DELETE FROM user_links l USING k "
        "  WHERE l.user_id = k.user_id AND l.kind = k.kind AND NOT (l.target_id = ANY (k.targets)) "
        "  RETURNING k.line), "
        "ins AS ("
        "  INSERT INTO user_links (user_id, kind, target_id) "
        "  SELECT user_id, kind, target FROM x WHERE target IS NOT NULL "
        "  ON CONFLICT DO NOTHING RETURNING user_id), "
        "wait AS ("
        "  INSERT INTO import_links (import_id, line, row_number, user_id, kind, email_lower) "
        "  SELECT $1::uuid, line, row_number, user_id, kind, email FROM x WHERE target IS NULL "
        "  ON CONFLICT DO NOTHING RETURNING line) "
        "SELECT 'd', line FROM del UNION ALL SELECT 'w', line FROM wait UNION ALL SELECT 'i', user_id FROM ins";

/* The row of a line: rows are in line order. batch->n when none. */
static size_t row_of_line(const ImportBatch *batch, unsigned long line) {
        size_t lo = 0, hi = batch->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (batch->rows[mid].user.line < line)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < batch->n && batch->rows[lo].user.line == line ? lo : batch->n;
}

typedef struct UserRowIndex {
        int64_t user_id;
        size_t row;
} UserRowIndex;

static int cmp_user(const void *a, const void *b) {
        int64_t x = ((const UserRowIndex *) a)->user_id, y = ((const UserRowIndex *) b)->user_id;
        return x < y ? -1 : x > y;
}

int link_store_write(Db *db, const UserStoreJob *job, const ImportBatch *batch, const int64_t *user_ids,
                     bool *changed) {
        size_t most = count_links(batch), n = 0;
        if (most == 0)
                return 0;
        _cleanup_free_ const char **emails = malloc(most * sizeof *emails);
        _cleanup_free_ int64_t *targets = malloc(most * sizeof *targets);
        if (!emails || !targets)
                return -ENOMEM;
        for (size_t i = 0; i < batch->n; i++) {
                const UserRow *u = &batch->rows[i].user;
                for (size_t l = 0; !u->failed && user_ids[i] && l < u->n_links; l++)
                        for (size_t k = 0; k < u->links[l].n; k++)
                                emails[n++] = u->links[l].emails[k];
        }
        if (n == 0)
                return 0;
        /* The targets, found before the write: the batch's users are
         * written already. */
        int r = user_store_find_ids(db, job->account_id, n, emails, targets);
        if (r < 0)
                return r;

        LinkArrays a = { BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT };
        Buf target_ids = BUF_INIT;
        Buf *all[] = { &a.lines, &a.rows, &a.users, &a.kinds, &a.emails, &target_ids };
        for (size_t k = 0; r >= 0 && k < ELEMENTSOF(all); k++)
                r = buf_append_char(all[k], '{');
        size_t j = 0;
        for (size_t i = 0; r >= 0 && i < batch->n; i++) {
                const UserRow *u = &batch->rows[i].user;
                if (u->failed || !user_ids[i])
                        continue;
                for (size_t l = 0; r >= 0 && l < u->n_links; l++)
                        for (size_t k = 0; r >= 0 && k < u->links[l].n; k++, j++) {
                                r = link_arrays_add(&a, u, user_ids[i], &u->links[l], u->links[l].emails[k]);
                                if (r >= 0)
                                        r = db_array_sep(&target_ids);
                                if (r >= 0)
                                        r = targets[j] ? buf_append_i64(&target_ids, targets[j])
                                                       : buf_append_str(&target_ids, "NULL");
                        }
        }
        for (size_t k = 0; r >= 0 && k < ELEMENTSOF(all); k++)
                r = buf_append_char(all[k], '}');
        PGresult *res = NULL;
        if (r >= 0) {
                const char *p[] = { job->import_id, a.lines.data, a.rows.data, a.users.data, a.kinds.data,
                                    a.emails.data, target_ids.data };
                res = db_exec(db, write_sql, 7, p);
                if (!res)
                        r = db_error(db);
        }
        link_arrays_done(&a);
        buf_done(&target_ids);
        if (r < 0)
                return r;
        /* The rows with links by user, for the users given new links (a
         * user is on one row of a batch). */
        UserRowIndex *by_user = calloc(batch->n + 1, sizeof *by_user);
        if (!by_user) {
                PQclear(res);
                return -ENOMEM;
        }
        size_t n_users = 0;
        for (size_t i = 0; i < batch->n; i++)
                if (!batch->rows[i].user.failed && user_ids[i] && batch->rows[i].user.n_links)
                        by_user[n_users++] = (UserRowIndex){ user_ids[i], i };
        qsort(by_user, n_users, sizeof *by_user, cmp_user);
        for (int i = 0; i < PQntuples(res); i++) {
                int64_t v = strtoll(PQgetvalue(res, i, 1), NULL, 10);
                if (PQgetvalue(res, i, 0)[0] != 'i') {
                        size_t k = row_of_line(batch, (unsigned long) v);
                        if (k < batch->n)
                                changed[k] = true;
                        continue;
                }
                UserRowIndex key = { v, 0 };
                const UserRowIndex *hit = bsearch(&key, by_user, n_users, sizeof *by_user, cmp_user);
                if (hit)
                        changed[hit->row] = true;
        }
        free(by_user);
        PQclear(res);
        return 0;
}

/* One statement: the waiting links are taken out of import_links; those
 * whose user exists now are made (unless their linking user was deleted
 * meanwhile); the others give their line one warning per kind, after
 * its other issues, and lines that had none join the count of rows with
 * warnings. Users are found as the write finds them: by the account's
 * email index. */
static const char resolve_sql[] =
        "WITH imp AS (SELECT account_id, dry_run, email_column FROM imports WHERE id = $1::uuid), "
        "w AS (DELETE FROM import_links WHERE import_id = $1::uuid RETURNING *), "
        "t AS MATERIALIZED ("
        "  SELECT w.line, w.row_number, w.user_id, w.kind, w.email_lower, imp.dry_run, imp.email_column, "
        "         (SELECT t.id FROM users t WHERE t.account_id = imp.account_id "
        "                                     AND lower(t.email) = w.email_lower) AS target "
        "  FROM w, imp WHERE imp.dry_run OR EXISTS (SELECT 1 FROM users s WHERE s.id = w.user_id)), "
        /* A dry run created no one: a link there fails only when its email
         * is a failed line's (and no user's). */
        "r AS MATERIALIZED ("
        "  SELECT line, row_number, user_id, kind, target, dry_run, "
        "         CASE WHEN NOT dry_run THEN target IS NOT NULL "
        "              ELSE target IS NOT NULL OR email_column IS NULL OR NOT EXISTS ("
        "                SELECT 1 FROM import_rows f WHERE f.import_id = $1::uuid AND f.failed "
        "                  AND lower(btrim(f.cells ->> email_column)) = t.email_lower) END AS ok "
        "  FROM t), "
        "made AS ("
        "  INSERT INTO user_links (user_id, kind, target_id) "
        "  SELECT user_id, kind, target FROM r WHERE target IS NOT NULL AND NOT dry_run "
        "  ON CONFLICT DO NOTHING), "
"miss AS MATERIALIZED ("
        "  SELECT line, row_number, kind, count(*) AS n FROM r WHERE NOT ok "
        "  GROUP BY line, row_number, kind), "
        "issues AS ("
        "  INSERT INTO import_issues (import_id, line, seq, row_number, severity, field, code, message) "
        "  SELECT $1::uuid, m.line, "
        "         coalesce((SELECT max(i.seq) FROM import_issues i "
        "                   WHERE i.import_id = $1::uuid AND i.line = m.line), -1) "
        "           + row_number() OVER (PARTITION BY m.line ORDER BY m.kind), "
        "         m.row_number, 'warning', 'link.' || m.kind, 'link_target_failed', "
        "         'link.' || m.kind || ': ' || CASE WHEN m.n = 1 THEN 'a user this cell names was' "
        "                                          ELSE m.n || ' users this cell names were' END "
        "           || ' not imported (their own lines failed), so the link was not made; correct those lines '"
        "           || 'and import them again' "
        "  FROM miss m), "
        "warned AS ("
        "  UPDATE imports SET warning_rows = warning_rows + ("
        "    SELECT count(DISTINCT m.line) FROM miss m WHERE NOT EXISTS ("
        "      SELECT 1 FROM import_issues i WHERE i.import_id = $1::uuid AND i.line = m.line)) "
        "  WHERE id = $1::uuid) "
        "SELECT coalesce(sum(n), 0) FROM miss";

int link_store_resolve(Db *db, const char *import_id, int64_t *ret_unmade) {
        const char *p[] = { import_id };
        _cleanup_(PQclearp) PGresult *res = db_exec(db, resolve_sql, 1, p);
        if (!res)
                return db_error(db);
        if (ret_unmade)
                *ret_unmade = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
        return 0;
}
