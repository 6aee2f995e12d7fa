#include "link_store.h"

#include <stdlib.h>

/* One statement: the waiting links are taken out of import_links; those
 * whose user exists now are made (unless their linking user was deleted
 * meanwhile); the others give their line one warning per kind, after
 * its other issues, and lines that had none join the count of rows with
 * warnings. Users are found as the write finds them: by the account's
 * email index. */
static const char resolve_sql[] =
        "WITH imp AS (SELECT account_id FROM imports WHERE id = $1::uuid), "
        "w AS (DELETE FROM import_links WHERE import_id = $1::uuid RETURNING *), "
        "r AS MATERIALIZED ("
        "  SELECT w.line, w.row_number, w.user_id, w.kind, "
        "         (SELECT t.id FROM users t, imp WHERE t.account_id = imp.account_id "
        "                                          AND lower(t.email) = w.email_lower) AS target "
        "  FROM w WHERE EXISTS (SELECT 1 FROM users s WHERE s.id = w.user_id)), "
        "made AS ("
        "  INSERT INTO user_links (user_id, kind, target_id) "
        "  SELECT user_id, kind, target FROM r WHERE target IS NOT NULL "
        "  ON CONFLICT DO NOTHING), "
        "miss AS MATERIALIZED ("
        "  SELECT line, row_number, kind, count(*) AS n FROM r WHERE target IS NULL "
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
        *ret_unmade = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
        return 0;
}
