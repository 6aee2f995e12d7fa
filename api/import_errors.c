/* The error log of an import: GET /v1/imports/{id}/errors as JSON pages,
 * and the failed rows as a CSV (Accept: text/csv, or /errors.csv),
 * streamed a page at a time. A row's cells are read once per page and
 * within a byte budget: they can be large. */
#include "import_errors.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_writer.h"
#include "cursor.h"
#include "error_log.h"
#include "header_map.h"
#include "import_header.h"
#include "import_store.h"
#include "imports.h"
#include "log.h"
#include "audit.h"
#include "paged_stream.h"
#include "problem.h"

/* The row's values by field: {"email": "...", "upn": ["..."], ...}. */
static json_t *row_values(const HeaderMap *hm, json_t *cells) {
        json_t *v = json_object();
        if (!hm || !json_is_array(cells))
                return v;
        for (size_t i = 0; i < hm->n_columns && i < json_array_size(cells); i++) {
                const HeaderColumn *col = &hm->columns[i];
                json_t *cell = json_array_get(cells, i);
                if (col->field == FIELD_NONE || col->field == FIELD_IGNORE)
                        continue;
                if (col->field == FIELD_UPN) {
                        json_t *a = json_object_get(v, "upn");
                        if (!a) {
                                a = json_array();
                                json_object_set_new(v, "upn", a);
                        }
                        if (json_string_length(cell) > 0)
                                json_array_append(a, cell);
                } else if (col->field == FIELD_CUSTOM || col->field == FIELD_LINK) {
                        char key[80];
                        snprintf(key, sizeof key, "%s.%s", field_name(col->field), col->custom_key);
                        json_object_set(v, key, cell);
                } else
                        json_object_set(v, field_name(col->field), cell);
        }
        return v;
}

/* "line.seq" as the error log's cursor gives it out. */
static int parse_error_cursor(const char *cursor, long *ret_line, int *ret_seq) {
        char raw[64];
        char *end;
        if (cursor_decode(cursor, raw, sizeof raw) < 0 || !isdigit((unsigned char) raw[0]))
                return -EINVAL;
        errno = 0;
        long line = strtol(raw, &end, 10);
        if (errno || *end != '.' || line < 0 || line > INT32_MAX || !isdigit((unsigned char) end[1]))
                return -EINVAL;
        long seq = strtol(end + 1, &end, 10);
        if (errno || *end || seq < 0 || seq > 32767)
                return -EINVAL;
        *ret_line = line;
        *ret_seq = (int) seq;
        return 0;
}

static bool wants_csv(Request *r) {
        const char *accept = request_header(r, "Accept");
        return accept && strstr(accept, "text/csv") && !strstr(accept, "application/json");
}

static unsigned errors_csv(Request *r, const ImportRecord *rec);

/* A page of the error log carries at most this much of rows' cells (the
 * `values` of its items); the page is cut short, with a cursor, rather
 * than grow past it. */
#define VALUES_BUDGET (2u << 20)

/* How many of the first n items to take so that their rows' cells
 * (sizes[i], in bytes) stay within budget: always at least one. */
static size_t within_budget(const uint64_t *sizes, size_t n, uint64_t budget) {
        uint64_t used = 0;
        size_t take = 0;
        while (take < n) {
                if (take > 0 && used + sizes[take] > budget)
                        break;
                used += sizes[take];
                take++;
        }
        return take;
}

/* Fetches and parses the cells of the given lines: cells[k] for lines[k]
 * (NULL where none are stored). 0, or -EIO/-ENOMEM. */
static int fetch_cells(Db *db, const char *import_id, const long *lines, size_t n, json_t **cells) {
        char **text = calloc(n + 1, sizeof *text);
        if (!text)
                return -ENOMEM;
        int k = error_log_cells(db, import_id, lines, n, text);
        for (size_t i = 0; i < n; i++) {
                if (k == 0 && text[i])
                        cells[i] = json_loads(text[i], 0, NULL);
                free(text[i]);
        }
        free(text);
        return k == -ENOMEM ? k : k < 0 ? -EIO : 0;
}

unsigned import_errors_get(Request *r) {
        ImportRecord rec;
        unsigned st = imports_load_data(r, &rec);
        if (st)
                return st;
        if (wants_csv(r)) {
                st = errors_csv(r, &rec);
                import_store_record_done(&rec);
                return st;
        }

        int limit;
        if (request_limit(r, 100, 1000, &limit) < 0) {
                import_store_record_done(&rec);
                return 400;
        }
        long after_line = 0;
        int after_seq = -1;
        const char *cursor = request_query(r, "cursor");
        if (cursor && parse_error_cursor(cursor, &after_line, &after_seq) < 0) {
                import_store_record_done(&rec);
                problem(r, 400, "invalid_cursor", "Invalid cursor", "the cursor is not one this API gave out");
                return 400;
        }
        const char *severity = request_query(r, "severity");
        if (severity && strcmp(severity, "error") != 0 && strcmp(severity, "warning") != 0) {
                import_store_record_done(&rec);
                problem(r, 400, "invalid_option", "Invalid severity", "severity must be error or warning");
                return 400;
        }

        Db *db = request_db(r);
        ErrorIssue *v = NULL;
        size_t n = 0;
        int k = db ? error_log_page(db, rec.id, after_line, after_seq, limit + 1, severity, &v, &n) : -EIO;
        if (k < 0) {
                import_store_record_done(&rec);
                if (k == -ENOMEM) {
                        problem(r, 500, "internal_error", "Internal error", "out of memory");
                        return 500;
                }
                return db ? problem_database_unavailable(r) : 503;
        }

        /* How many items go out: up to limit, and within the budget for
         * the rows' cells (an item repeats its row's). */
        size_t shown = MIN(n, (size_t) limit);
        uint64_t *sizes = calloc(shown + 1, sizeof *sizes);
        long *lines = calloc(shown + 1, sizeof *lines);
        json_t **cells = calloc(shown + 1, sizeof *cells);
        size_t n_lines = 0, take = 0;
        k = sizes && lines && cells ? 0 : -ENOMEM;
        for (size_t i = 0; k == 0 && i < shown; i++)
                sizes[i] = v[i].cells_bytes;
        if (k == 0)
                take = within_budget(sizes, shown, VALUES_BUDGET);
        for (size_t i = 0; k == 0 && i < take; i++)
                if (n_lines == 0 || lines[n_lines - 1] != v[i].line)
                        lines[n_lines++] = v[i].line;
        if (k == 0)
                k = fetch_cells(db, rec.id, lines, n_lines, cells);
        free(sizes);
        if (k < 0) {
                free(lines);
                free(cells);
                error_log_issues_free(v, n);
                import_store_record_done(&rec);
                return k == -EIO ? problem_database_unavailable(r)
                                 : (problem(r, 500, "internal_error", "Internal error", "out of memory"), 500);
        }

        json_t *header_cells = NULL;
        HeaderMap *hm = import_header_map(&rec, &header_cells);
        json_t *items = json_array();
        size_t li = 0;
        for (size_t i = 0; i < take; i++) {
                while (li < n_lines && lines[li] != v[i].line)
                        li++;
                json_array_append_new(items,
                                      json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:o}", "line", (json_int_t) v[i].line,
                                                "row", (json_int_t) v[i].row_number, "severity", v[i].severity,
                                                "field", v[i].field, "code", v[i].code, "message", v[i].message,
                                                "values", row_values(hm, li < n_lines ? cells[li] : NULL)));
        }
        json_t *next = json_null();
        if (take < n) {
                char raw[64], enc[96];
                snprintf(raw, sizeof raw, "%ld.%d", v[take - 1].line, v[take - 1].seq);
                cursor_encode(raw, enc, sizeof enc);
                next = json_string(enc);
        }
        for (size_t i = 0; i < n_lines; i++)
                json_decref(cells[i]);
        free(cells);
        free(lines);
        error_log_issues_free(v, n);
        header_map_free(hm);
        json_decref(header_cells);
        request_respond_json(r, 200,
                     json_pack("{s:o, s:o, s:{s:I, s:I}}", "items", items, "next_cursor", next, "counts", "failed",
                               (json_int_t) rec.failed, "warnings", (json_int_t) rec.warning_rows));
        import_store_record_done(&rec);
        return 200;
}

unsigned import_errors_csv(Request *r) {
        ImportRecord rec;
        unsigned st = imports_load_data(r, &rec);
        if (st)
                return st;
        st = errors_csv(r, &rec);
        import_store_record_done(&rec);
        return st;
}

/* The error CSV, a page of rows at a time (paged_stream.h). */
typedef struct ErrorCsv {
        char import_id[UUID_STRING_SIZE];
        char delimiter;
        size_t n_data_columns;
        long last_line;
} ErrorCsv;

#define CSV_PAGE 500

/* Rows' cells read for one page of the error CSV, at most. */
#define CSV_CELLS_BUDGET (4u << 20)

static int csv_page(void *state, Db *db, Buf *out, bool *done) {
        ErrorCsv *s = state;
        FailedRow *v = NULL;
        size_t n = 0;
        int k = error_log_failed_rows(db, s->import_id, s->last_line, CSV_PAGE, &v, &n);
        if (k < 0)
                return k;
        uint64_t *sizes = calloc(n + 1, sizeof *sizes);
        long *lines = calloc(n + 1, sizeof *lines);
        json_t **cells = calloc(n + 1, sizeof *cells);
        size_t take = 0;
        k = sizes && lines && cells ? 0 : -ENOMEM;
        for (size_t i = 0; k == 0 && i < n; i++) {
                sizes[i] = v[i].cells_bytes;
                lines[i] = v[i].line;
        }
        if (k == 0) {
                take = within_budget(sizes, n, CSV_CELLS_BUDGET);
                k = fetch_cells(db, s->import_id, lines, take, cells);
        }

        for (size_t i = 0; k >= 0 && i < take; i++) {
                json_t *row = cells[i];
                for (size_t c = 0; k >= 0 && c < s->n_data_columns; c++) {
                        json_t *cell = json_array_get(row, c);
                        if (c)
                                k = buf_append_char(out, s->delimiter);
                        if (k >= 0 && cell)
                                k = csv_writer_cell(out, json_string_value(cell), json_string_length(cell),
                                                   s->delimiter);
                }
                if (k >= 0)
                        k = buf_printf(out, "%c%ld%c", s->delimiter, lines[i], s->delimiter);
                if (k >= 0)
                        k = csv_writer_cell(out, v[i].messages, strlen(v[i].messages), s->delimiter);
                if (k >= 0)
                        k = buf_append_str(out, "\r\n");
                s->last_line = lines[i];
        }
        *done = take == n && n < CSV_PAGE;
        for (size_t i = 0; cells && i < take; i++)
                json_decref(cells[i]);
        free(cells);
        free(lines);
        free(sizes);
        error_log_failed_rows_free(v, n);
        return k;
}

static unsigned errors_csv(Request *r, const ImportRecord *rec) {
        /* The failed rows' cells are personal data: who takes them is
         * recorded first. */
        unsigned st = audit_download(r, "errors.download", rec->id);
        if (st)
                return st;
        json_t *header_cells = NULL;
        HeaderMap *hm = import_header_map(rec, &header_cells);
        ErrorCsv *s = calloc(1, sizeof *s);
        if (!s || !json_is_array(header_cells)) {
                free(s);
                header_map_free(hm);
                json_decref(header_cells);
                problem(r, 500, "internal_error", "Internal error", "the import's header cannot be read");
                return 500;
        }
        snprintf(s->import_id, sizeof s->import_id, "%s", rec->id);
        s->delimiter = rec->file_delimiter[0] ? rec->file_delimiter[0] : ',';
        /* A file that was itself an error CSV already ends in line and
         * error: those are replaced, not repeated. */
        s->n_data_columns = hm ? hm->n_data_columns : json_array_size(header_cells);
        header_map_free(hm);

        /* UTF-8 with a byte-order mark, so that spreadsheets read accents
         * right; the original header, then line and error. */
        Buf head = BUF_INIT;
        int k = buf_append_str(&head, "\xEF\xBB\xBF");
        for (size_t c = 0; k >= 0 && c < s->n_data_columns; c++) {
                json_t *cell = json_array_get(header_cells, c);
                if (c)
                        k = buf_append_char(&head, s->delimiter);
                if (k >= 0)
                        k = csv_writer_cell(&head, json_string_value(cell), json_string_length(cell), s->delimiter);
        }
        if (k >= 0)
                k = buf_printf(&head, "%cline%cerror\r\n", s->delimiter, s->delimiter);
        json_decref(header_cells);
        if (k < 0) {
                buf_done(&head);
                free(s);
                problem(r, 500, "internal_error", "Internal error", "out of memory");
                return 500;
        }

        char disposition[128];
        snprintf(disposition, sizeof disposition, "attachment; filename=\"import-%.36s-errors.csv\"", rec->id);
        st = paged_stream_respond(r, "text/csv; charset=utf-8", disposition, head.data, head.len, csv_page, s,
                                           free, "error CSV");
        buf_done(&head);
        return st;
}
