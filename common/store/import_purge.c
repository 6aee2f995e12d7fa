#include "import_purge.h"

#include <stdio.h>
#include <stdlib.h>

#include "import_store.h"
#include "macro.h"

/* The tables that hold an import's data, each with import_id first in an
 * index (their primary keys). */
static const char *const tables[] = {
        "import_chunks",  "import_rows",   "import_issues", "import_results",
        "import_archived", "import_emails", "import_links",
};

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
        return import_store_purge_done(db, import_id);
}
