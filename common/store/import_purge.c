#include "import_purge.h"

#include <stdio.h>
#include <stdlib.h>

#include "macro.h"

/* The tables that hold an import's data, each with import_id first in an
 * index (their primary keys). */
static const char *const tables[] = {
        "import_chunks",  "import_rows",   "import_issues", "import_results",
        "import_archived", "import_emails", "import_links",
};

int import_purge_due(Db *db, int retention_days, size_t max, char (*ids)[UUID_STRING_SIZE], size_t *ret_n) {
        char days[16], lim[24];
        snprintf(days, sizeof days, "%d", retention_days);
        snprintf(lim, sizeof lim, "%zu", max);
        const char *p[] = { days, lim };
        /* SKIP LOCKED: an import a client is committing or deleting is
         * left for the next round. */
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "WITH due AS (UPDATE imports SET purged_at = now(), purge_pending = true "
                "  WHERE id IN (SELECT id FROM imports WHERE purged_at IS NULL AND finished_at IS NOT NULL "
                "                 AND finished_at < now() - $1::int * interval '1 day' "
                "                 AND state IN ('validated', 'held', 'completed', 'completed_with_errors', "
                "                               'failed', 'cancelled') "
                "               ORDER BY finished_at LIMIT $2::int FOR UPDATE SKIP LOCKED) "
                "  RETURNING id) "
                "SELECT id FROM due UNION SELECT id FROM imports WHERE purge_pending LIMIT $2::int",
                2, p);
        if (!res)
                return db_error(db);
        size_t n = 0;
        for (int i = 0; i < PQntuples(res) && n < max; i++)
                snprintf(ids[n++], UUID_STRING_SIZE, "%s", PQgetvalue(res, i, 0));
        *ret_n = n;
        return 0;
}

int import_purge_data(Db *db, const char *import_id, int batch_rows, int64_t *ret_rows) {
        char lim[16];
        snprintf(lim, sizeof lim, "%d", batch_rows);
        const char *p[] = { import_id, lim };
        int64_t total = 0;
        for (size_t t = 0; t < ELEMENTSOF(tables); t++) {
                char sql[256];
                snprintf(sql, sizeof sql,
                         "DELETE FROM %s WHERE ctid = ANY (ARRAY (SELECT ctid FROM %s WHERE import_id = $1::uuid "
                         "LIMIT $2::int))",
                         tables[t], tables[t]);
                for (;;) {
                        _cleanup_(PQclearp) PGresult *res = db_exec(db, sql, 2, p);
                        if (!res)
                                return db_error(db);
                        long n = strtol(PQcmdTuples(res), NULL, 10);
                        total += n;
                        if (n < batch_rows)
                                break;
                }
        }
        if (ret_rows)
                *ret_rows = total;
        return db_run(db, "UPDATE imports SET purge_pending = false WHERE id = $1::uuid", 1, p);
}
