#include "archive_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int archive_store_plan(Db *db, const char *import_id, int64_t *ret_pool, int64_t *ret_missing) {
        const char *p[] = { import_id };
        int r = archive_store_forget(db, import_id);
        if (r < 0)
                return r;
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "WITH imp AS (SELECT id, account_id, role_key, email_column FROM imports WHERE id = $1), "
                "listed AS ("
                "  SELECT x.id FROM import_results r CROSS JOIN LATERAL unnest(r.user_ids) AS x(id) "
                "  WHERE r.import_id = $1 AND x.id <> 0 "
                "  UNION "
                "  SELECT u.id FROM import_rows f JOIN imp ON imp.email_column IS NOT NULL "
                "  JOIN users u ON u.account_id = imp.account_id "
                "    AND lower(u.email) = lower(btrim(f.cells ->> imp.email_column)) "
                "  WHERE f.import_id = $1 AND f.failed), "
                "roles AS ("
                "  SELECT DISTINCT u.role_id FROM users u WHERE u.id IN (SELECT id FROM listed) "
                "  UNION "
                "  SELECT r.id FROM roles r JOIN imp ON r.account_id = imp.account_id AND r.key = imp.role_key), "
                "pool AS ("
                "  SELECT u.id FROM users u JOIN imp ON u.account_id = imp.account_id "
                "  WHERE u.active AND u.role_id IN (SELECT role_id FROM roles)), "
                "ins AS ("
                "  INSERT INTO import_archived (import_id, user_id) "
                "  SELECT $1, id FROM pool WHERE id NOT IN (SELECT id FROM listed) RETURNING user_id) "
                "SELECT (SELECT count(*) FROM pool), (SELECT count(*) FROM ins)",
                1, p);
        if (!res)
                return db_error(db);
        *ret_pool = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        *ret_missing = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        return 0;
}

int archive_store_apply(Db *db, const char *import_id, int64_t *ret_archived) {
        const char *p[] = { import_id };
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "WITH done AS ("
                "  UPDATE users u SET active = false, updated_at = now(), updated_by_import = $1::uuid "
                "  FROM import_archived a WHERE a.import_id = $1 AND u.id = a.user_id AND u.active "
                "  RETURNING u.id), "
                "gone AS ("
                "  DELETE FROM import_archived a WHERE a.import_id = $1 "
                "    AND NOT EXISTS (SELECT 1 FROM done WHERE done.id = a.user_id)) "
                "SELECT count(*) FROM done",
                1, p);
        if (!res)
                return db_error(db);
        *ret_archived = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
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
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "SELECT a.user_id, u.email FROM import_archived a LEFT JOIN users u ON u.id = a.user_id "
                "WHERE a.import_id = $1 AND a.user_id > $2::bigint ORDER BY a.user_id LIMIT $3",
                3, p);
        if (!res)
                return db_error(db);
        size_t n = (size_t) PQntuples(res);
        ResultItem *items = calloc(n + 1, sizeof *items);
        if (!items)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int row = (int) i;
                items[i].outcome = ROW_ARCHIVED;
                items[i].user_id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
                if (!PQgetisnull(res, row, 1) && !(items[i].email = strdup(PQgetvalue(res, row, 1)))) {
                        result_log_items_free(items, n);
                        return -ENOMEM;
                }
        }
        *ret = items;
        *ret_n = n;
        return 0;
}
