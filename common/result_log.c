#include "result_log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

const char *result_log_outcome_name(RowOutcome o) {
        switch (o) {
        case ROW_CREATED: return "created";
        case ROW_UPDATED: return "updated";
        case ROW_UNCHANGED: return "unchanged";
        case ROW_FAILED: return "failed";
        }
        return NULL;
}

static RowOutcome outcome_of(const ImportBatch *batch, size_t i, const bool *created, const bool *changed) {
        if (batch->rows[i].user.failed)
                return ROW_FAILED;
        return created[i] ? ROW_CREATED : changed[i] ? ROW_UPDATED : ROW_UNCHANGED;
}

int result_log_write(Db *db, const char *import_id, const ImportBatch *batch, const bool *created,
                     const bool *changed, const int64_t *user_ids) {
        if (batch->n == 0)
                return 0;
        Buf lines = BUF_INIT, outcomes = BUF_INIT, ids = BUF_INIT, emails = BUF_INIT;
        int r = buf_append_char(&lines, '{');
        if (r >= 0)
                r = buf_append_char(&ids, '{');
        if (r >= 0)
                r = buf_append_char(&emails, '{');
        for (size_t i = 0; r >= 0 && i < batch->n; i++) {
                const UserRow *u = &batch->rows[i].user;
                r = buf_printf(&lines, "%s%lu", i ? "," : "", u->line);
                if (r >= 0)
                        r = buf_append_char(&outcomes, (char) outcome_of(batch, i, created, changed));
                if (r >= 0)
                        r = buf_printf(&ids, "%s%" PRId64, i ? "," : "", user_ids[i]);
                if (r >= 0)
                        r = db_array_text(&emails, u->email);
        }
        if (r >= 0)
                r = buf_append_char(&lines, '}');
        if (r >= 0)
                r = buf_append_char(&ids, '}');
        if (r >= 0)
                r = buf_append_char(&emails, '}');
        if (r >= 0) {
                char first[24], last[24];
                snprintf(first, sizeof first, "%lu", batch->rows[0].user.line);
                snprintf(last, sizeof last, "%lu", batch->rows[batch->n - 1].user.line);
                const char *p[] = { import_id, first, last, lines.data, outcomes.data, ids.data, emails.data };
                r = db_run(db,
                           "INSERT INTO import_results (import_id, first_line, last_line, lines, outcomes, user_ids, "
                           "emails) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                           7, p);
        }
        buf_done(&lines);
        buf_done(&outcomes);
        buf_done(&ids);
        buf_done(&emails);
        return r;
}

void result_log_items_free(ResultItem *items, size_t n) {
        for (size_t i = 0; items && i < n; i++)
                free(items[i].email);
        free(items);
}

/* Appends the results after *after of the first batch holding any, at
 * most want; moves *after to the last line read. */
static int page_from_batch(Db *db, const char *import_id, int64_t *after, int want, ResultItem *items,
                           size_t *n) {
        char after_s[24], want_s[16];
        snprintf(after_s, sizeof after_s, "%" PRId64, *after);
        snprintf(want_s, sizeof want_s, "%d", want);
        const char *p[] = { import_id, after_s, want_s };
        /* One batch at a time: the planner, not knowing how many lines a
         * batch holds, would otherwise unnest every later batch before it
         * sorts and cuts. */
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "SELECT x.line, x.outcome, x.user_id, x.email "
                "FROM (SELECT * FROM import_results WHERE import_id = $1 AND last_line > $2::int "
                "      ORDER BY first_line LIMIT 1) r "
                "CROSS JOIN LATERAL unnest(r.lines, string_to_array(r.outcomes, NULL), r.user_ids, r.emails) "
                "     WITH ORDINALITY AS x(line, outcome, user_id, email, n) "
                "WHERE x.line > $2::int ORDER BY x.n LIMIT $3",
                3, p);
        if (!res)
                return db_error(db);
        int rows = PQntuples(res);
        for (int i = 0; i < rows; i++) {
                ResultItem *it = &items[(*n)++];
                it->line = strtoll(PQgetvalue(res, i, 0), NULL, 10);
                it->outcome = (RowOutcome) PQgetvalue(res, i, 1)[0];
                it->user_id = strtoll(PQgetvalue(res, i, 2), NULL, 10);
                if (!PQgetisnull(res, i, 3) && !(it->email = strdup(PQgetvalue(res, i, 3))))
                        return -ENOMEM;
                *after = it->line;
        }
        return rows;
}

int result_log_page(Db *db, const char *import_id, int64_t after_line, int limit, ResultItem **ret,
                    size_t *ret_n) {
        ResultItem *items = calloc((size_t) limit + 1, sizeof *items);
        size_t n = 0;
        if (!items)
                return -ENOMEM;
        /* A batch that holds a line after `after` gives at least one. */
        int r = 0;
        while (n < (size_t) limit &&
               (r = page_from_batch(db, import_id, &after_line, limit - (int) n, items, &n)) > 0)
                ;
        if (r < 0) {
                result_log_items_free(items, n);
                return r;
        }
        *ret = items;
        *ret_n = n;
        return 0;
}
