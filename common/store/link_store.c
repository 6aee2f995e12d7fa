#include "link_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "email_filter.h"
#include "error_log.h"
#include "import_store.h"
#include "macro.h"
#include "pg_text.h"

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

static int cmp_miss(const void *a, const void *b) {
        const LinkMiss *x = a, *y = b;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return strcmp(x->kind, y->kind);
}

/* The links of one import that wait for their users, as taken out of
 * import_links: column W_* of row i of `res`. */
enum { W_LINE, W_ROW, W_USER, W_KIND, W_EMAIL };

/* Makes the waiting links whose linking user is still there (alive) and
 * whose target was found, in one statement. */
static int make_links(Db *db, const PGresult *res, const bool *alive, const int64_t *targets) {
        Buf users = BUF_INIT, kinds = BUF_INIT, target_ids = BUF_INIT;
        Buf *all[] = { &users, &kinds, &target_ids };
        size_t n = 0;
        int r = 0;
        for (size_t k = 0; r >= 0 && k < ELEMENTSOF(all); k++)
                r = buf_append_char(all[k], '{');
        for (int i = 0; r >= 0 && i < PQntuples(res); i++) {
                if (!alive[i] || !targets[i])
                        continue;
                if ((r = db_array_sep(&users)) < 0 || (r = buf_append_str(&users, PQgetvalue(res, i, W_USER))) < 0 ||
                    (r = db_array_text(&kinds, PQgetvalue(res, i, W_KIND))) < 0 ||
                    (r = db_array_sep(&target_ids)) < 0)
                        break;
                r = buf_append_i64(&target_ids, targets[i]);
                n++;
        }
        for (size_t k = 0; r >= 0 && k < ELEMENTSOF(all); k++)
                r = buf_append_char(all[k], '}');
        if (r >= 0 && n > 0) {
                const char *p[] = { users.data, kinds.data, target_ids.data };
                r = db_run(db,
                           "INSERT INTO user_links (user_id, kind, target_id) "
                           "SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING",
                           3, p);
        }
        for (size_t k = 0; k < ELEMENTSOF(all); k++)
                buf_done(all[k]);
        return r;
}

/* The links that could not be made, one per line and kind with how many
 * of its emails, go to the error log as warnings. *ret_new_lines: the
 * lines that had no issue before. */
static int warn_misses(Db *db, const char *import_id, const PGresult *res, const bool *miss, size_t n_miss,
                       int64_t *ret_new_lines) {
        _cleanup_free_ LinkMiss *m = malloc(n_miss * sizeof *m);
        if (!m)
                return -ENOMEM;
        size_t n = 0;
        for (int i = 0; i < PQntuples(res); i++)
                if (miss[i])
                        m[n++] = (LinkMiss){ .line = strtol(PQgetvalue(res, i, W_LINE), NULL, 10),
                                             .row_number = strtol(PQgetvalue(res, i, W_ROW), NULL, 10),
                                             .kind = PQgetvalue(res, i, W_KIND),
                                             .n = 1 };
        qsort(m, n, sizeof *m, cmp_miss);
        size_t groups = 0;
        for (size_t i = 0; i < n; i++) {
                if (groups > 0 && cmp_miss(&m[groups - 1], &m[i]) == 0)
                        m[groups - 1].n++;
                else
                        m[groups++] = m[i];
        }
        return error_log_add_link_warnings(db, import_id, m, groups, ret_new_lines);
}

/* Waiting links are taken out of import_links this many at a time (and
 * the rest of the last line's, so that a line's links are resolved
 * together): the end of an import with a great many of them needs a
 * bounded amount of memory, some 30 MiB. */
#define RESOLVE_CHUNK 100000

/* Takes out the next chunk of an import's waiting links: those on lines
 * after `after`, in line order. */
static PGresult *take_links(Db *db, const char *import_id, long after) {
        char after_s[24], chunk[24];
        snprintf(after_s, sizeof after_s, "%ld", after);
        snprintf(chunk, sizeof chunk, "%d", RESOLVE_CHUNK);
        const char *p[] = { import_id, after_s, chunk };
        return db_exec(db,
                       "DELETE FROM import_links WHERE import_id = $1::uuid AND line > $2::int "
                       "  AND line <= coalesce((SELECT line FROM import_links "
                       "                        WHERE import_id = $1::uuid AND line > $2::int "
                       "                        ORDER BY line OFFSET $3::int LIMIT 1), 2147483647) "
                       "RETURNING line, row_number, user_id, kind, email_lower",
                       3, p);
}

/* Resolves one chunk of waiting links (the rows of res): those whose user
 * exists now are made (unless their linking user was deleted
 * meanwhile); the others give their line one warning per kind. Users are
 * found as the write finds them: by the account's email index. Adds to
 * *unmade and *new_lines (lines warned for the first time). */
static int resolve_links(Db *db, const char *import_id, const ImportScope *scope, const PGresult *res,
                         int64_t *unmade, int64_t *new_lines) {
        size_t n = (size_t) PQntuples(res);
        _cleanup_free_ const char **emails = malloc(n * sizeof *emails);
        _cleanup_free_ int64_t *users = malloc(n * sizeof *users);
        _cleanup_free_ int64_t *targets = malloc(n * sizeof *targets);
        _cleanup_free_ bool *alive = malloc(n * sizeof *alive);
        _cleanup_free_ bool *miss = calloc(n, sizeof *miss);
        if (!emails || !users || !targets || !alive || !miss)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                emails[i] = PQgetvalue(res, (int) i, W_EMAIL);
                users[i] = strtoll(PQgetvalue(res, (int) i, W_USER), NULL, 10);
                alive[i] = true;
        }
        int r = user_store_find_ids(db, scope->account_id, n, emails, targets);
        if (r < 0)
                return r;
        /* A dry run's links wait with no linking user (link_store_check()). */
        if (!scope->dry_run && (r = user_store_exist(db, n, users, alive)) < 0)
                return r;

        size_t n_miss = 0;
        if (!scope->dry_run) {
                for (size_t i = 0; i < n; i++)
                        if ((miss[i] = alive[i] && !targets[i]))
                                n_miss++;
                if ((r = make_links(db, res, alive, targets)) < 0)
                        return r;
        } else if (scope->email_column >= 0) {
                /* A dry run created no one: a link there fails only when its
                 * email is a failed line's (and no user's). Those with no
                 * user are asked, moved to the front of `emails`. */
                size_t m = 0;
                for (size_t i = 0; i < n; i++)
                        if (!targets[i])
                                emails[m++] = emails[i];
                _cleanup_free_ bool *failed = malloc((m ? m : 1) * sizeof *failed);
                if (!failed)
                        return -ENOMEM;
                if ((r = error_log_failed_emails(db, import_id, scope->email_column, m, emails, failed)) < 0)
                        return r;
                for (size_t i = 0, k = 0; i < n; i++)
                        if (!targets[i] && (miss[i] = failed[k++]))
                                n_miss++;
        }
        if (n_miss == 0)
                return 0;
        int64_t warned = 0;
        if ((r = warn_misses(db, import_id, res, miss, n_miss, &warned)) < 0)
                return r;
        *unmade += (int64_t) n_miss;
        *new_lines += warned;
        return 0;
}

/* Resolves an import's waiting links, chunk by chunk, and adds the lines
 * it warned to the import's rows with warnings. */
static int resolve(Db *db, const char *import_id, int64_t *ret_unmade) {
        ImportScope scope;
        bool scoped = false;
        int64_t unmade = 0, new_lines = 0;
        long after = 0;
        int r;
        for (;;) {
                _cleanup_(PQclearp) PGresult *res = take_links(db, import_id, after);
                if (!res)
                        return db_error(db);
                int n = PQntuples(res);
                if (n == 0)
                        break;
                if (!scoped) {
                        r = import_store_get_scope(db, import_id, &scope);
                        if (r == -ENOENT) {
                                /* No import: its links go, with nothing to make. */
                                const char *p[] = { import_id };
                                return db_run(db, "DELETE FROM import_links WHERE import_id = $1::uuid", 1, p);
                        }
                        if (r < 0)
                                return r;
                        scoped = true;
                }
                for (int i = 0; i < n; i++)
                        after = MAX(after, strtol(PQgetvalue(res, i, W_LINE), NULL, 10));
                if ((r = resolve_links(db, import_id, &scope, res, &unmade, &new_lines)) < 0)
                        return r;
        }
        if (new_lines > 0 && (r = import_store_add_warning_rows(db, import_id, new_lines)) < 0)
                return r;
        *ret_unmade = unmade;
        return 0;
}

typedef struct Resolve {
        const char *import_id;
        int64_t unmade;
} Resolve;

static int resolve_tx(Db *db, void *userdata) {
        Resolve *s = userdata;
        s->unmade = 0;
        return resolve(db, s->import_id, &s->unmade);
}

int link_store_resolve(Db *db, const char *import_id, int64_t *ret_unmade) {
        Resolve s = { import_id, 0 };
        /* Its statements stand or fall together: called outside a
         * transaction, it runs in one of its own. */
        int r = db->conn && PQtransactionStatus(db->conn) == PQTRANS_IDLE ? db_transaction(db, 10, resolve_tx, &s)
                                                                          : resolve_tx(db, &s);
        if (r < 0)
                return r;
        if (ret_unmade)
                *ret_unmade = s.unmade;
        return 0;
}

int link_store_links_of(Db *db, const int64_t *user_ids, size_t n, LinkRow **ret, size_t *ret_n) {
        LinkRow *links = NULL;
        size_t m = 0;
        if (n > 0) {
                Buf arr = BUF_INIT;
                int r = pg_text_array_i64(&arr, user_ids, n);
                if (r < 0) {
                        buf_done(&arr);
                        return r;
                }
                const char *p[] = { arr.data };
                _cleanup_(PQclearp) PGresult *res =
                        db_exec(db,
                                "SELECT l.user_id, l.kind, l.target_id FROM user_links l "
                                "WHERE l.user_id = ANY ($1::bigint[]) ORDER BY 1, 2, 3",
                                1, p);
                buf_done(&arr);
                if (!res)
                        return db_error(db);
                m = (size_t) PQntuples(res);
                if (!(links = calloc(m + 1, sizeof *links)))
                        return -ENOMEM;
                for (size_t i = 0; i < m; i++) {
                        links[i].user_id = strtoll(PQgetvalue(res, (int) i, 0), NULL, 10);
                        snprintf(links[i].kind, sizeof links[i].kind, "%s", PQgetvalue(res, (int) i, 1));
                        links[i].target_id = strtoll(PQgetvalue(res, (int) i, 2), NULL, 10);
                }
        } else if (!(links = calloc(1, sizeof *links)))
                return -ENOMEM;
        *ret = links;
        *ret_n = m;
        return 0;
}

void link_store_kinds_free(char **kinds, size_t n) {
        for (size_t i = 0; kinds && i < n; i++)
                free(kinds[i]);
        free(kinds);
}

/* Adds the kinds of res (distinct, in order) to the sorted array kinds,
 * which has room for them. Kinds are a-z, 0-9 and _: the database's
 * order is strcmp()'s. */
static int merge_kinds(char **kinds, size_t *n, const PGresult *res) {
        for (int i = 0; i < PQntuples(res); i++) {
                const char *k = PQgetvalue(res, i, 0);
                size_t at = 0;
                while (at < *n && strcmp(kinds[at], k) < 0)
                        at++;
                if (at < *n && strcmp(kinds[at], k) == 0)
                        continue;
                char *s = strdup(k);
                if (!s)
                        return -ENOMEM;
                memmove(&kinds[at + 1], &kinds[at], (*n - at) * sizeof *kinds);
                kinds[at] = s;
                (*n)++;
        }
        return 0;
}

#define KINDS_CHUNK 10000

int link_store_kinds_of(Db *db, const int64_t *user_ids, size_t n, char ***ret, size_t *ret_n) {
        char **kinds = NULL;
        size_t n_kinds = 0, cap = 0;
        int r = 0;
        for (size_t at = 0; r >= 0 && at < n; at += KINDS_CHUNK) {
                size_t m = n - at < KINDS_CHUNK ? n - at : KINDS_CHUNK;
                Buf arr = BUF_INIT;
                if ((r = pg_text_array_i64(&arr, user_ids + at, m)) < 0) {
                        buf_done(&arr);
                        break;
                }
                const char *p[] = { arr.data };
                _cleanup_(PQclearp) PGresult *res = db_exec(
                        db, "SELECT DISTINCT kind FROM user_links WHERE user_id = ANY ($1::bigint[]) ORDER BY 1", 1, p);
                buf_done(&arr);
                if (!res) {
                        r = db_error(db);
                        break;
                }
                size_t need = n_kinds + (size_t) PQntuples(res);
                if (need > cap) {
                        char **grown = realloc(kinds, (need + 1) * sizeof *kinds);
                        if (!grown) {
                                r = -ENOMEM;
                                break;
                        }
                        kinds = grown;
                        cap = need;
                }
                r = merge_kinds(kinds, &n_kinds, res);
        }
        if (r >= 0 && !kinds && !(kinds = calloc(1, sizeof *kinds)))
                r = -ENOMEM;
        if (r < 0) {
                link_store_kinds_free(kinds, n_kinds);
                return r;
        }
        *ret = kinds;
        *ret_n = n_kinds;
        return 0;
}
