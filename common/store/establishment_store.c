#include "establishment_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_text.h"

int establishment_store_stage_begin(Db *db, DbCopy *copy) {
        int r = db_run(db, "CREATE TEMP TABLE establishment_stage (urn integer, name text, line integer) ON COMMIT DROP",
                       0, NULL);
        return r < 0 ? r : db_copy_start(copy, db, "COPY establishment_stage FROM STDIN");
}

int establishment_store_stage_duplicate(Db *db, int64_t *ret_urn, int64_t *ret_first, int64_t *ret_second) {
        _cleanup_(PQclearp) PGresult *res =
                db_exec(db,
                        "SELECT urn, min(line), max(line) FROM establishment_stage GROUP BY urn HAVING count(*) > 1 "
                        "ORDER BY 2 LIMIT 1",
                        0, NULL);
        if (!res)
                return db_error(db);
        if (PQntuples(res) == 0)
                return 0;
        *ret_urn = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        *ret_first = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        *ret_second = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        return 1;
}

int establishment_store_stage_apply(Db *db, uint64_t *ret_inserted, uint64_t *ret_updated) {
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "WITH up AS ("
                "  INSERT INTO establishments (urn, name) SELECT urn, name FROM establishment_stage "
                "  ON CONFLICT (urn) DO UPDATE SET name = EXCLUDED.name, updated_at = now() "
                "  WHERE establishments.name IS DISTINCT FROM EXCLUDED.name "
                "  RETURNING (xmax = 0) AS inserted) "
                "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up",
                0, NULL);
        if (!res)
                return db_error(db);
        *ret_inserted = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        *ret_updated = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
        return 0;
}

int establishment_store_example_urn(Db *db, char urn[16]) {
        _cleanup_(PQclearp) PGresult *res =
                db_exec(db, "SELECT to_char(urn, 'FM000000') FROM establishments ORDER BY urn LIMIT 1", 0, NULL);
        if (!res)
                return db_error(db);
        snprintf(urn, 16, "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
        return 0;
}

void establishment_store_names_free(char **names, size_t n) {
        for (size_t i = 0; names && i < n; i++)
                free(names[i]);
        free(names);
}

int establishment_store_names(Db *db, const int *urns, size_t n, char ***ret_names) {
        char **names = calloc(n + 1, sizeof *names);
        if (!names)
                return -ENOMEM;
        if (n == 0) {
                *ret_names = names;
                return 0;
        }
        Buf arr = BUF_INIT;
        int r = pg_text_array_int(&arr, urns, n);
        if (r < 0) {
                buf_done(&arr);
                free(names);
                return r;
        }
        const char *p[] = { arr.data };
        _cleanup_(PQclearp) PGresult *res =
                db_exec(db,
                        "SELECT x.i, e.name FROM unnest($1::int[]) WITH ORDINALITY AS x(urn, i) "
                        "JOIN establishments e ON e.urn = x.urn",
                        1, p);
        buf_done(&arr);
        if (!res) {
                free(names);
                return db_error(db);
        }
        for (int i = 0; i < PQntuples(res); i++) {
                long long k = strtoll(PQgetvalue(res, i, 0), NULL, 10);
                if (k < 1 || (size_t) k > n)
                        continue;
                if (!(names[k - 1] = strdup(PQgetvalue(res, i, 1)))) {
                        establishment_store_names_free(names, n);
                        return -ENOMEM;
                }
        }
        *ret_names = names;
        return 0;
}

int establishment_store_exist(Db *db, const int *urns, size_t n, bool *exists) {
        if (n == 0)
                return 0;
        Buf arr = BUF_INIT;
        int r = pg_text_array_int(&arr, urns, n);
        if (r < 0) {
                buf_done(&arr);
                return r;
        }
        const char *p[] = { arr.data };
        /* One probe of the primary key per URN: OFFSET 0 keeps the planner
         * from hashing every establishment for the few a batch asks for. */
        r = db_exec_positions(db,
                              "SELECT x.i FROM unnest($1::int[]) WITH ORDINALITY AS x(urn, i) "
                              "WHERE EXISTS (SELECT 1 FROM establishments e WHERE e.urn = x.urn OFFSET 0)",
                              1, p, n, exists);
        buf_done(&arr);
        return r;
}
