#include "error_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_text.h"

static bool has_issues(const BatchRow *row) {
        return row->user.n_issues > 0;
}

int error_log_write(Db *db, const char *import_id, const ImportBatch *batch) {
        bool any = false;
        for (size_t i = 0; i < batch->n && !any; i++)
                any = has_issues(&batch->rows[i]);
        if (!any)
                return 0;

        DbCopy c;
        int r = db_copy_start(&c, db,
                              "COPY import_issues (import_id, line, seq, row_number, severity, field, code, message) "
                              "FROM STDIN");
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < batch->n; i++) {
                const UserRow *u = &batch->rows[i].user;
                for (size_t k = 0; r >= 0 && k < u->n_issues; k++) {
                        const RowIssue *is = &u->issues[k];
                        r = buf_printf(&c.rows, "%s\t%lu\t%zu\t%lu\t%s\t", import_id, u->line, k, u->row,
                                       row_rules_severity_name(is->severity));
                        if (r >= 0)
                                r = db_copy_text(&c.rows, is->field);
                        if (r >= 0)
                                r = buf_printf(&c.rows, "\t%s\t", is->code);
                        if (r >= 0)
                                r = db_copy_text(&c.rows, is->message);
                        if (r >= 0)
                                r = buf_append_char(&c.rows, '\n');
                }
                if (r >= 0)
                        r = db_copy_flush(&c);
        }
        if ((r = db_copy_end(&c, r)) < 0)
                return r;

        if ((r = db_copy_start(&c, db, "COPY import_rows (import_id, line, row_number, failed, cells) FROM STDIN")) < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < batch->n; i++) {
                const BatchRow *row = &batch->rows[i];
                if (!has_issues(row))
                        continue;
                r = buf_printf(&c.rows, "%s\t%lu\t%lu\t%s\t", import_id, row->user.line, row->user.row,
                               row->user.failed ? "t" : "f");
                if (r >= 0)
                        r = db_copy_text(&c.rows, row->cells_json);
                if (r >= 0)
                        r = buf_append_char(&c.rows, '\n');
                if (r >= 0)
                        r = db_copy_flush(&c);
        }
        return db_copy_end(&c, r);
}

int error_log_page(Db *db, const char *import_id, long after_line, int after_seq, int limit, const char *severity,
                   ErrorIssue **ret, size_t *ret_n) {
        char line[24], seq[16], lim[16];
        snprintf(line, sizeof line, "%ld", after_line);
        snprintf(seq, sizeof seq, "%d", after_seq);
        snprintf(lim, sizeof lim, "%d", limit);
        const char *p[] = { import_id, line, seq, lim, severity };
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "SELECT i.line, i.seq, i.row_number, i.severity, i.field, i.code, i.message, "
                "       coalesce((SELECT octet_length(r.cells::text) FROM import_rows r "
                "                 WHERE r.import_id = i.import_id AND r.line = i.line), 0) "
                "FROM import_issues i "
                "WHERE i.import_id = $1 AND (i.line, i.seq) > ($2::int, $3::int) "
                "  AND ($5::text IS NULL OR i.severity = $5) "
                "ORDER BY i.line, i.seq LIMIT $4",
                5, p);
        if (!r)
                return db_error(db);
        size_t n = (size_t) PQntuples(r);
        ErrorIssue *v = calloc(n + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int row = (int) i;
                v[i].line = atol(PQgetvalue(r, row, 0));
                v[i].seq = atoi(PQgetvalue(r, row, 1));
                v[i].row_number = atol(PQgetvalue(r, row, 2));
                snprintf(v[i].severity, sizeof v[i].severity, "%s", PQgetvalue(r, row, 3));
                v[i].field = strdup(PQgetvalue(r, row, 4));
                v[i].code = strdup(PQgetvalue(r, row, 5));
                v[i].message = strdup(PQgetvalue(r, row, 6));
                v[i].cells_bytes = strtoull(PQgetvalue(r, row, 7), NULL, 10);
                if (!v[i].field || !v[i].code || !v[i].message) {
                        error_log_issues_free(v, i + 1);
                        return -ENOMEM;
                }
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

void error_log_issues_free(ErrorIssue *v, size_t n) {
        for (size_t i = 0; v && i < n; i++) {
                free(v[i].field);
                free(v[i].code);
                free(v[i].message);
        }
        free(v);
}

int error_log_failed_rows(Db *db, const char *import_id, long after_line, int limit, FailedRow **ret,
                          size_t *ret_n) {
        char line[24], lim[16];
        snprintf(line, sizeof line, "%ld", after_line);
        snprintf(lim, sizeof lim, "%d", limit);
        const char *p[] = { import_id, line, lim };
        _cleanup_(PQclearp) PGresult *r =
                db_exec(db,
                        "SELECT r.line, octet_length(r.cells::text), "
                        "       coalesce((SELECT string_agg(i.message, '; ' ORDER BY i.seq) FROM import_issues i "
                        "                 WHERE i.import_id = r.import_id AND i.line = r.line "
                        "                   AND i.severity = 'error'), '') "
                        "FROM import_rows r WHERE r.import_id = $1 AND r.failed AND r.line > $2::int "
                        "ORDER BY r.line LIMIT $3",
                        3, p);
        if (!r)
                return db_error(db);
        size_t n = (size_t) PQntuples(r);
        FailedRow *v = calloc(n + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int row = (int) i;
                v[i].line = atol(PQgetvalue(r, row, 0));
                v[i].cells_bytes = strtoull(PQgetvalue(r, row, 1), NULL, 10);
                if (!(v[i].messages = strdup(PQgetvalue(r, row, 2)))) {
                        error_log_failed_rows_free(v, i);
                        return -ENOMEM;
                }
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

void error_log_failed_rows_free(FailedRow *v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                free(v[i].messages);
        free(v);
}

int error_log_cells(Db *db, const char *import_id, const long *lines, size_t n, char **cells) {
        Buf arr = BUF_INIT;
        int k = buf_append_char(&arr, '{');
        for (size_t i = 0; k >= 0 && i < n; i++)
                k = buf_printf(&arr, "%s%ld", i ? "," : "", lines[i]);
        if (k >= 0)
                k = buf_append_char(&arr, '}');
        if (k < 0) {
                buf_done(&arr);
                return k;
        }
        const char *p[] = { import_id, arr.data };
        _cleanup_(PQclearp) PGresult *r = db_exec(db,
                                                  "SELECT line, cells::text FROM import_rows "
                                                  "WHERE import_id = $1 AND line = ANY ($2::int[]) ORDER BY line",
                                                  2, p);
        buf_done(&arr);
        if (!r)
                return db_error(db);
        for (int row = 0; row < PQntuples(r); row++) {
                long line = atol(PQgetvalue(r, row, 0));
                for (size_t i = 0; i < n; i++)
                        if (lines[i] == line && !cells[i] && !(cells[i] = strdup(PQgetvalue(r, row, 1))))
                                return -ENOMEM;
        }
        return 0;
}

int error_log_forget(Db *db, const char *import_id) {
        const char *p[] = { import_id };
        return db_run(db,
                      "WITH i AS (DELETE FROM import_issues WHERE import_id = $1) "
                      "DELETE FROM import_rows WHERE import_id = $1",
                      1, p);
}

int error_log_failed_emails(Db *db, const char *import_id, int email_column, size_t n, const char *const *emails,
                            bool *failed) {
        if (n == 0)
                return 0;
        Buf arr = BUF_INIT;
        int r = buf_append_char(&arr, '{');
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = db_array_text(&arr, emails[i]);
        if (r >= 0)
                r = buf_append_char(&arr, '}');
        if (r < 0) {
                buf_done(&arr);
                return r;
        }
        char column[16];
        snprintf(column, sizeof column, "%d", email_column);
        const char *p[] = { import_id, column, arr.data };
        r = db_exec_positions(db,
                              "SELECT x.i FROM unnest($3::text[]) WITH ORDINALITY AS x(email, i) "
                              "WHERE EXISTS (SELECT 1 FROM import_rows f WHERE f.import_id = $1::uuid AND f.failed "
                              "                AND lower(btrim(f.cells ->> $2::int)) = x.email)",
                              3, p, n, failed);
        buf_done(&arr);
        return r;
}

int error_log_add_link_warnings(Db *db, const char *import_id, const LinkMiss *misses, size_t n,
                                int64_t *ret_new_lines) {
        if (n == 0) {
                *ret_new_lines = 0;
                return 0;
        }
        Buf lines = BUF_INIT, rows = BUF_INIT, kinds = BUF_INIT, counts = BUF_INIT;
        Buf *all[] = { &lines, &rows, &kinds, &counts };
        int r = 0;
        for (size_t k = 0; r >= 0 && k < ELEMENTSOF(all); k++)
                r = buf_append_char(all[k], '{');
        for (size_t i = 0; r >= 0 && i < n; i++) {
                if ((r = db_array_sep(&lines)) < 0 || (r = buf_append_i64(&lines, misses[i].line)) < 0 ||
                    (r = db_array_sep(&rows)) < 0 || (r = buf_append_i64(&rows, misses[i].row_number)) < 0 ||
                    (r = db_array_text(&kinds, misses[i].kind)) < 0 || (r = db_array_sep(&counts)) < 0)
                        break;
                r = buf_append_i64(&counts, misses[i].n);
        }
        for (size_t k = 0; r >= 0 && k < ELEMENTSOF(all); k++)
                r = buf_append_char(all[k], '}');
        PGresult *res = NULL;
        if (r >= 0) {
                const char *p[] = { import_id, lines.data, rows.data, kinds.data, counts.data };
                /* The lines that had no issue are counted in the snapshot
                 * the statement starts from: before its own inserts. */
                res = db_exec(
                        db,
                        "WITH m AS (SELECT * FROM unnest($2::int[], $3::int[], $4::text[], $5::bigint[]) "
                        "           AS m(line, row_number, kind, n)), "
                        "issues AS ("
                        "  INSERT INTO import_issues (import_id, line, seq, row_number, severity, field, code, "
                        "                             message) "
                        "  SELECT $1::uuid, m.line, "
                        "         coalesce((SELECT max(i.seq) FROM import_issues i "
                        "                   WHERE i.import_id = $1::uuid AND i.line = m.line), -1) "
                        "           + row_number() OVER (PARTITION BY m.line ORDER BY m.kind), "
                        "         m.row_number, 'warning', 'link.' || m.kind, 'link_target_failed', "
                        "         'link.' || m.kind || ': ' || CASE WHEN m.n = 1 THEN 'a user this cell names was' "
                        "                                          ELSE m.n || ' users this cell names were' END "
                        "           || ' not imported (their own lines failed), so the link was not made; "
                        "correct those lines ' || 'and import them again' "
                        "  FROM m) "
                        "SELECT count(DISTINCT m.line) FROM m WHERE NOT EXISTS ("
                        "  SELECT 1 FROM import_issues i WHERE i.import_id = $1::uuid AND i.line = m.line)",
                        5, p);
                if (!res)
                        r = db_error(db);
        }
        if (r >= 0)
                *ret_new_lines = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
        PQclear(res);
        for (size_t k = 0; k < ELEMENTSOF(all); k++)
                buf_done(all[k]);
        return r;
}

int error_log_line_emails(Db *db, const char *import_id, int email_column, size_t n, const int64_t *lines,
                          char **emails) {
        if (n == 0)
                return 0;
        Buf arr = BUF_INIT;
        int r = pg_text_array_i64(&arr, lines, n);
        if (r < 0) {
                buf_done(&arr);
                return r;
        }
        char column[16];
        snprintf(column, sizeof column, "%d", email_column);
        const char *p[] = { import_id, arr.data, column };
        r = db_exec_texts(db,
                           "SELECT x.i, f.cells ->> $3::int FROM unnest($2::int[]) WITH ORDINALITY AS x(line, i) "
                           "JOIN import_rows f ON f.import_id = $1::uuid AND f.line = x.line "
                           "WHERE f.cells ->> $3::int IS NOT NULL",
                           3, p, n, emails);
        buf_done(&arr);
        return r;
}

int error_log_failed_emails_into(Db *db, const char *import_id, int email_column, const char *table) {
        if (!*table || strlen(table) > 63 || strspn(table, "abcdefghijklmnopqrstuvwxyz_") != strlen(table))
                return -EINVAL;
        char sql[256], column[16];
        snprintf(sql, sizeof sql,
                 "INSERT INTO pg_temp.%s (email) SELECT lower(btrim(f.cells ->> $2::int)) FROM import_rows f "
                 "WHERE f.import_id = $1 AND f.failed AND f.cells ->> $2::int IS NOT NULL",
                 table);
        snprintf(column, sizeof column, "%d", email_column);
        const char *p[] = { import_id, column };
        return db_run(db, sql, 2, p);
}
