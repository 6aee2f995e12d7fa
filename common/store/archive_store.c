#include "archive_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account_store.h"
#include "buf.h"
#include "error_log.h"
#include "import_store.h"
#include "user_store.h"

/* The plan's scratch tables, this module's own and dropped when it ends
 * (or with the transaction): the sets it works on may hold every user of
 * an account, so they stay in the server, and the owners of the tables
 * they come from fill and read them by these names. */
#define LISTED "archive_listed"   /* id: the users the file lists */
#define FAILED "archive_failed"   /* email: the emails of its failed lines */
#define MISSING "archive_missing" /* id: the users of its roles it does not list */

/* The id of the account's role keyed role_key, 0 when none is (or
 * role_key is NULL). */
static int role_id_of(Db *db, int64_t account_id, const char *role_key, int64_t *ret) {
        *ret = 0;
        if (!role_key)
                return 0;
        RoleInfo *roles = NULL;
        size_t n = 0;
        int r = account_store_roles_load(db, account_id, &roles, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (strcmp(roles[i].key, role_key) == 0)
                        *ret = roles[i].id;
        account_store_roles_free(roles, n);
        return 0;
}

/* Fills LISTED and MISSING from the import's results and error log, and
 * counts the pool of its roles' active users. */
static int plan_sets(Db *db, const char *import_id, int64_t *ret_pool, int64_t *ret_missing) {
        ImportScope scope;
        ImportRecord rec = { 0 };
        int r = import_store_get_scope(db, import_id, &scope);
        if (r < 0)
                return r;
        if ((r = import_store_get(db, 0, import_id, &rec)) < 0)
                return r;
        int64_t role_id;
        r = role_id_of(db, scope.account_id, rec.role_key, &role_id);
        import_store_record_done(&rec);
        if (r < 0)
                return r;

        /* Listed: the users of its lines, and the users a failed line's
         * email names, so that a line with a bad phone number never
         * archives its user. */
        if ((r = result_log_user_ids_into(db, import_id, LISTED)) < 0)
                return r;
        if (scope.email_column >= 0 &&
            ((r = error_log_failed_emails_into(db, import_id, scope.email_column, FAILED)) < 0 ||
             (r = user_store_ids_by_emails_into(db, scope.account_id, FAILED, LISTED)) < 0))
                return r;
        /* Its statistics let the server join it by hashing rather than
         * look each listed user up by its key. */
        if ((r = db_run(db, "ANALYZE pg_temp." LISTED, 0, NULL)) < 0)
                return r;

        /* Its roles: those of the users it lists, and its role option. */
        int64_t *roles = NULL;
        size_t n_roles = 0;
        if ((r = user_store_roles_of(db, LISTED, &roles, &n_roles)) < 0)
                return r;
        bool known = role_id == 0;
        for (size_t i = 0; !known && i < n_roles; i++)
                known = roles[i] == role_id;
        if (!known) {
                int64_t *more = realloc(roles, (n_roles + 1) * sizeof *roles);
                if (!more) {
                        free(roles);
                        return -ENOMEM;
                }
                roles = more;
                roles[n_roles++] = role_id;
        }
        r = user_store_active_except_into(db, scope.account_id, n_roles, roles, LISTED, MISSING, ret_pool,
                                          ret_missing);
        free(roles);
        return r;
}

int archive_store_plan(Db *db, const char *import_id, int64_t *ret_pool, int64_t *ret_missing) {
        int r = archive_store_forget(db, import_id);
        if (r < 0)
                return r;
        if ((r = db_run(db, "CREATE TEMP TABLE " LISTED " (id bigint) ON COMMIT DROP", 0, NULL)) < 0 ||
            (r = db_run(db, "CREATE TEMP TABLE " FAILED " (email text) ON COMMIT DROP", 0, NULL)) < 0 ||
            (r = db_run(db, "CREATE TEMP TABLE " MISSING " (id bigint) ON COMMIT DROP", 0, NULL)) < 0)
                return r;
        int64_t pool, missing;
        r = plan_sets(db, import_id, &pool, &missing);
        /* An import that is gone has no roles and lists no one. */
        if (r == -ENOENT)
                pool = missing = 0, r = 0;
        if (r < 0)
                return r;
        const char *p[] = { import_id };
        if ((r = db_run(db,
                        "INSERT INTO import_archived (import_id, user_id) SELECT $1, id FROM pg_temp." MISSING,
                        1, p)) < 0 ||
            (r = db_run(db, "DROP TABLE pg_temp." LISTED ", pg_temp." FAILED ", pg_temp." MISSING, 0, NULL)) < 0)
                return r;
        *ret_pool = pool;
        *ret_missing = missing;
        return 0;
}

/* The recorded users' ids, by id. The array belongs to the caller. */
static int recorded_ids(Db *db, const char *import_id, int64_t **ret, size_t *ret_n) {
        const char *p[] = { import_id };
        _cleanup_(PQclearp) PGresult *res =
                db_exec(db, "SELECT user_id FROM import_archived WHERE import_id = $1 ORDER BY user_id", 1, p);
        if (!res)
                return db_error(db);
        size_t n = (size_t) PQntuples(res);
        int64_t *ids = calloc(n + 1, sizeof *ids);
        if (!ids)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                ids[i] = strtoll(PQgetvalue(res, (int) i, 0), NULL, 10);
        *ret = ids;
        *ret_n = n;
        return 0;
}

int archive_store_apply(Db *db, const char *import_id, int64_t *ret_archived) {
        int64_t *ids = NULL;
        size_t n = 0;
        int r = recorded_ids(db, import_id, &ids, &n);
        if (r < 0)
                return r;
        bool *changed = calloc(n + 1, sizeof *changed);
        int64_t archived = 0;
        Buf unchanged = BUF_INIT;
        size_t n_unchanged = 0;
        r = changed ? user_store_deactivate(db, import_id, n, ids, changed, &archived) : -ENOMEM;
        /* The users changed meanwhile (archived already) are forgotten:
         * the record says whom this import archived. */
        if (r >= 0)
                r = buf_append_char(&unchanged, '{');
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (!changed[i] && (r = db_array_sep(&unchanged)) >= 0) {
                        r = buf_append_i64(&unchanged, ids[i]);
                        n_unchanged++;
                }
        if (r >= 0)
                r = buf_append_char(&unchanged, '}');
        if (r >= 0 && n_unchanged > 0) {
                const char *p[] = { import_id, unchanged.data };
                r = db_run(db,
                           "DELETE FROM import_archived "
                           "WHERE import_id = $1 AND user_id IN (SELECT unnest($2::bigint[]))",
                           2, p);
        }
        buf_done(&unchanged);
        free(changed);
        free(ids);
        if (r < 0)
                return r;
        *ret_archived = archived;
        return 0;
}

int archive_store_forget(Db *db, const char *import_id) {
        const char *p[] = { import_id };
        return db_run(db, "DELETE FROM import_archived WHERE import_id = $1", 1, p);
}

int archive_store_page(Db *db, const char *import_id, int64_t after_id, int limit, ResultItem **ret,
                       size_t *ret_n) {
        char after[24], lim[16];
        snprintf(after, sizeof after, "%" PRId64, after_id);
        snprintf(lim, sizeof lim, "%d", limit);
        const char *p[] = { import_id, after, lim };
        _cleanup_(PQclearp) PGresult *res =
                db_exec(db,
                        "SELECT user_id FROM import_archived "
                        "WHERE import_id = $1 AND user_id > $2::bigint ORDER BY user_id LIMIT $3",
                        3, p);
        if (!res)
                return db_error(db);
        size_t n = (size_t) PQntuples(res);
        ResultItem *items = calloc(n + 1, sizeof *items);
        int64_t *ids = calloc(n + 1, sizeof *ids);
        char **emails = calloc(n + 1, sizeof *emails);
        int r = items && ids && emails ? 0 : -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n; i++)
                ids[i] = strtoll(PQgetvalue(res, (int) i, 0), NULL, 10);
        /* The emails are the users' own: user_store's to give. */
        if (r >= 0)
                r = user_store_emails(db, n, ids, emails);
        for (size_t i = 0; r >= 0 && i < n; i++)
                items[i] = (ResultItem){ .outcome = ROW_ARCHIVED, .user_id = ids[i], .email = TAKE_PTR(emails[i]) };
        for (size_t i = 0; emails && i < n; i++)
                free(emails[i]);
        free(emails);
        free(ids);
        if (r < 0) {
                result_log_items_free(items, n);
                return r;
        }
        *ret = items;
        *ret_n = n;
        return 0;
}
