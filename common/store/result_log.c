#include "result_log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error_log.h"
#include "user_store.h"

const char *result_log_outcome_name(RowOutcome o) {
        switch (o) {
        case ROW_CREATED: return "created";
        case ROW_UPDATED: return "updated";
        case ROW_UNCHANGED: return "unchanged";
        case ROW_FAILED: return "failed";
        case ROW_ARCHIVED: return "archived";
        }
        return NULL;
}

static RowOutcome outcome_of(const ImportBatch *batch, size_t i, const bool *created, const bool *changed) {
        if (batch->rows[i].user.failed)
                return ROW_FAILED;
        return created[i] ? ROW_CREATED : changed[i] ? ROW_UPDATED : ROW_UNCHANGED;
}

static void put_be32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) (v >> 24), p[1] = (uint8_t) (v >> 16), p[2] = (uint8_t) (v >> 8), p[3] = (uint8_t) v;
}

int result_log_write(Db *db, const char *import_id, const ImportBatch *batch, const bool *created,
                     const bool *changed, const int64_t *user_ids) {
        if (batch->n == 0)
                return 0;
        unsigned long first = batch->rows[0].user.line, last = batch->rows[batch->n - 1].user.line;
        /* Lines are stored only when a record spans several: most batches
         * are first_line..last_line, one line each. */
        bool contiguous = last - first + 1 == batch->n;
        Buf lines = BUF_INIT, outcomes = BUF_INIT;
        /* The user ids go as a binary bigint[] (header, one dimension,
         * then length and value of each element, big-endian): the server
         * copies it rather than parsing thousands of numbers. */
        size_t ids_len = 20 + batch->n * 12;
        uint8_t *ids = malloc(ids_len);
        int r = ids ? 0 : -ENOMEM;
        if (r >= 0) {
                put_be32(ids, 1);          /* dimensions */
                put_be32(ids + 4, 0);      /* no NULLs */
                put_be32(ids + 8, 20);     /* int8 */
                put_be32(ids + 12, (uint32_t) batch->n);
                put_be32(ids + 16, 1);     /* lower bound */
        }
        if (r >= 0 && !contiguous)
                r = buf_append_char(&lines, '{');
        for (size_t i = 0; r >= 0 && i < batch->n; i++) {
                uint8_t *e = ids + 20 + i * 12;
                uint64_t v = (uint64_t) user_ids[i];
                put_be32(e, 8);
                put_be32(e + 4, (uint32_t) (v >> 32));
                put_be32(e + 8, (uint32_t) v);
                r = buf_append_char(&outcomes, (char) outcome_of(batch, i, created, changed));
                if (r >= 0 && !contiguous)
                        r = buf_printf(&lines, "%s%lu", i ? "," : "", batch->rows[i].user.line);
        }
        if (r >= 0 && !contiguous)
                r = buf_append_char(&lines, '}');
        if (r >= 0) {
                char first_s[24], last_s[24];
                snprintf(first_s, sizeof first_s, "%lu", first);
                snprintf(last_s, sizeof last_s, "%lu", last);
                const char *p[] = { import_id, first_s, last_s, contiguous ? NULL : lines.data, outcomes.data,
                                    (const char *) ids };
                const int lengths[] = { 0, 0, 0, 0, 0, (int) ids_len };
                const int formats[] = { 0, 0, 0, 0, 0, 1 };
                PGresult *res = db_exec_binary(
                        db,
                        "INSERT INTO import_results (import_id, first_line, last_line, lines, outcomes, user_ids) "
                        "VALUES ($1, $2, $3, $4, $5, $6::bigint[])",
                        6, p, lengths, formats);
                r = res ? 0 : db_error(db);
                PQclear(res);
        }
        free(ids);
        buf_done(&lines);
        buf_done(&outcomes);
        return r;
}

void result_log_items_free(ResultItem *items, size_t n) {
        for (size_t i = 0; items && i < n; i++)
                free(items[i].email);
        free(items);
}

/* Appends the results after *after of the first batch holding any, at
 * most want; moves *after to the last line read. Their emails come
 * after, a page at a time (add_emails()). */
static int page_from_batch(Db *db, const char *import_id, int64_t *after, int want, ResultItem *items, size_t *n) {
        char after_s[24], want_s[16];
        snprintf(after_s, sizeof after_s, "%" PRId64, *after);
        snprintf(want_s, sizeof want_s, "%d", want);
        const char *p[] = { import_id, after_s, want_s };
        /* One batch at a time: the planner, not knowing how many lines a
         * batch holds, would otherwise unnest every later batch before it
         * sorts and cuts. */
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "SELECT x.line, x.outcome, x.user_id "
                "FROM (SELECT * FROM import_results WHERE import_id = $1 AND last_line > $2::int "
                "      ORDER BY first_line LIMIT 1) r "
                "CROSS JOIN LATERAL unnest(coalesce(r.lines, ARRAY(SELECT generate_series(r.first_line, "
                "     r.last_line))), string_to_array(r.outcomes, NULL), r.user_ids) "
                "     WITH ORDINALITY AS x(line, outcome, user_id, n) "
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
                *after = it->line;
        }
        return rows;
}

/* Gives the items their emails: a user's from user_store, and for a
 * failed line without one, its Email cell from the error log - one
 * statement each for the page. */
static int add_emails(Db *db, const char *import_id, int email_column, ResultItem *items, size_t n) {
        int64_t *keys = calloc(n + 1, sizeof *keys);
        char **emails = calloc(n + 1, sizeof *emails);
        size_t *at = calloc(n + 1, sizeof *at);
        size_t m = 0;
        int r = keys && emails && at ? 0 : -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (items[i].user_id != 0) {
                        at[m] = i;
                        keys[m++] = items[i].user_id;
                }
        if (r >= 0)
                r = user_store_emails(db, m, keys, emails);
        for (size_t j = 0; r >= 0 && j < m; j++)
                items[at[j]].email = TAKE_PTR(emails[j]);
        m = 0;
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (items[i].outcome == ROW_FAILED && !items[i].email) {
                        at[m] = i;
                        keys[m++] = items[i].line;
                }
        if (r >= 0)
                r = error_log_line_emails(db, import_id, email_column, m, keys, emails);
        for (size_t j = 0; r >= 0 && j < m; j++)
                items[at[j]].email = TAKE_PTR(emails[j]);
        for (size_t j = 0; emails && j < n; j++)
                free(emails[j]);
        free(emails);
        free(keys);
        free(at);
        return r;
}

int result_log_page(Db *db, const char *import_id, int email_column, int64_t after_line, int limit,
                    ResultItem **ret, size_t *ret_n) {
        ResultItem *items = calloc((size_t) limit + 1, sizeof *items);
        size_t n = 0;
        if (!items)
                return -ENOMEM;
        /* A batch that holds a line after `after` gives at least one. */
        int r = 0;
        while (n < (size_t) limit &&
               (r = page_from_batch(db, import_id, &after_line, limit - (int) n, items, &n)) > 0)
                ;
        if (r >= 0)
                r = add_emails(db, import_id, email_column, items, n);
        if (r < 0) {
                result_log_items_free(items, n);
                return r;
        }
        *ret = items;
        *ret_n = n;
        return 0;
}

int result_log_forget(Db *db, const char *import_id) {
        const char *p[] = { import_id };
        return db_run(db, "DELETE FROM import_results WHERE import_id = $1", 1, p);
}

int result_log_user_ids_into(Db *db, const char *import_id, const char *table) {
        if (!*table || strlen(table) > 63 || strspn(table, "abcdefghijklmnopqrstuvwxyz_") != strlen(table))
                return -EINVAL;
        /* The caller's scratch table is named, not ours: a full sync's
         * listed users may be a million, and stay in the server. */
        char sql[256];
        snprintf(sql, sizeof sql,
                 "INSERT INTO pg_temp.%s (id) SELECT x.id FROM import_results r "
                 "CROSS JOIN LATERAL unnest(r.user_ids) AS x(id) WHERE r.import_id = $1 AND x.id <> 0",
                 table);
        const char *p[] = { import_id };
        return db_run(db, sql, 1, p);
}
