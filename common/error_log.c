#include "error_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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
                   PGresult **ret) {
        char line[24], seq[16], lim[16];
        snprintf(line, sizeof line, "%ld", after_line);
        snprintf(seq, sizeof seq, "%d", after_seq);
        snprintf(lim, sizeof lim, "%d", limit);
        const char *p[] = { import_id, line, seq, lim, severity };
        PGresult *r = db_exec(db,
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
        *ret = r;
        return 0;
}

int error_log_failed_rows(Db *db, const char *import_id, long after_line, int limit, PGresult **ret) {
        char line[24], lim[16];
        snprintf(line, sizeof line, "%ld", after_line);
        snprintf(lim, sizeof lim, "%d", limit);
        const char *p[] = { import_id, line, lim };
        PGresult *r = db_exec(db,
                              "SELECT r.line, octet_length(r.cells::text), "
                              "       (SELECT string_agg(i.message, '; ' ORDER BY i.seq) FROM import_issues i "
                              "        WHERE i.import_id = r.import_id AND i.line = r.line "
                              "          AND i.severity = 'error') "
                              "FROM import_rows r WHERE r.import_id = $1 AND r.failed AND r.line > $2::int "
                              "ORDER BY r.line LIMIT $3",
                              3, p);
        if (!r)
                return db_error(db);
        *ret = r;
        return 0;
}

int error_log_cells(Db *db, const char *import_id, const char *lines, PGresult **ret) {
        const char *p[] = { import_id, lines };
        PGresult *r = db_exec(db,
                              "SELECT line, cells::text FROM import_rows "
                              "WHERE import_id = $1 AND line = ANY ($2::int[]) ORDER BY line",
                              2, p);
        if (!r)
                return db_error(db);
        *ret = r;
        return 0;
}
