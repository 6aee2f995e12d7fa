#include "results.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_writer.h"
#include "cursor.h"
#include "import_header.h"
#include "audit.h"
#include "imports.h"
#include "paged_stream.h"
#include "problem.h"
#include "archive_store.h"
#include "result_log.h"

/* Where a page starts: after a line of the file, or, once the lines are
 * done, after an archived user ("a" and the user's id in the cursor). */
typedef struct Position {
        bool archived;
        int64_t after;
} Position;

static int parse_cursor(const char *cursor, Position *ret) {
        char raw[32], *end;
        if (cursor_decode(cursor, raw, sizeof raw) < 0)
                return -EINVAL;
        bool archived = raw[0] == 'a';
        const char *digits = raw + archived;
        if (!isdigit((unsigned char) *digits))
                return -EINVAL;
        errno = 0;
        long long v = strtoll(digits, &end, 10);
        if (errno || *end || v < 0 || (!archived && v > INT32_MAX))
                return -EINVAL;
        *ret = (Position){ archived, v };
        return 0;
}

/* Up to `want` results from pos on: the file's lines, then the users a
 * full sync archived. Moves pos past them. */
static int fetch(Db *db, const char *import_id, int email_column, Position *pos, int want, ResultItem **ret,
                 size_t *ret_n) {
        ResultItem *lines = NULL, *archived = NULL;
        size_t n_lines = 0, n_archived = 0;
        int k = 0;
        if (!pos->archived) {
                if ((k = result_log_page(db, import_id, email_column, pos->after, want, &lines, &n_lines)) < 0)
                        return k;
                if (n_lines)
                        pos->after = lines[n_lines - 1].line;
                if (n_lines < (size_t) want)
                        *pos = (Position){ true, 0 };
        }
        if (pos->archived && n_lines < (size_t) want) {
                k = archive_store_page(db, import_id, pos->after, want - (int) n_lines, &archived, &n_archived);
                if (k < 0) {
                        result_log_items_free(lines, n_lines);
                        return k;
                }
                if (n_archived)
                        pos->after = archived[n_archived - 1].user_id;
        }
        if (n_archived == 0) {
                result_log_items_free(archived, 0);
                *ret = lines;
                *ret_n = n_lines;
                return 0;
        }
        ResultItem *all = realloc(lines, (n_lines + n_archived + 1) * sizeof *all);
        if (!all) {
                result_log_items_free(lines, n_lines);
                result_log_items_free(archived, n_archived);
                return -ENOMEM;
        }
        memcpy(all + n_lines, archived, n_archived * sizeof *all);
        free(archived);
        *ret = all;
        *ret_n = n_lines + n_archived;
        return 0;
}

static json_t *item_json(const ResultItem *it) {
        return json_pack("{s:o, s:o, s:s, s:o}", "line", it->line ? json_integer(it->line) : json_null(), "email",
                         it->email ? json_string(it->email) : json_null(), "outcome",
                         result_log_outcome_name(it->outcome) ? result_log_outcome_name(it->outcome) : "failed",
                         "user_id", it->user_id ? json_integer(it->user_id) : json_null());
}

unsigned results_page(Request *r) {
        ImportRecord rec;
        unsigned st = imports_load_data(r, &rec);
        if (st)
                return st;
        int limit;
        Position pos = { false, 0 };
        const char *cursor = request_query(r, "cursor");
        if (request_limit(r, 100, 1000, &limit) < 0) {
                import_store_record_done(&rec);
                return 400;
        }
        if (cursor && parse_cursor(cursor, &pos) < 0) {
                import_store_record_done(&rec);
                problem(r, 400, "invalid_cursor", "Invalid cursor", "the cursor is not one this API gave out");
                return 400;
        }

        ResultItem *items = NULL;
        size_t n = 0;
        int k = fetch(request_db(r), rec.id, import_header_email_column(&rec), &pos, limit + 1, &items, &n);
        if (k < 0) {
                import_store_record_done(&rec);
                if (k == -ENOMEM) {
                        problem(r, 500, "internal_error", "Internal error", "out of memory");
                        return 500;
                }
                return problem_database_unavailable(r);
        }
        json_t *list = json_array();
        size_t take = n > (size_t) limit ? (size_t) limit : n;
        for (size_t i = 0; i < take; i++)
                json_array_append_new(list, item_json(&items[i]));
        json_t *next = json_null();
        if (n > take) {
                char raw[32], enc[64];
                const ResultItem *last = &items[take - 1];
                if (last->line)
                        snprintf(raw, sizeof raw, "%" PRId64, last->line);
                else
                        snprintf(raw, sizeof raw, "a%" PRId64, last->user_id);
                cursor_encode(raw, enc, sizeof enc);
                next = json_string(enc);
        }
        result_log_items_free(items, n);
        request_respond_json(
                r, 200,
                json_pack("{s:o, s:o, s:s, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}}", "items", list, "next_cursor",
                          next, "state", import_state_to_string(rec.state), "counts", "rows_total",
                          (json_int_t) rec.rows_total, "rows_processed", (json_int_t) rec.rows_processed, "created",
                          (json_int_t) rec.created, "updated", (json_int_t) rec.updated, "unchanged",
                          (json_int_t) rec.unchanged, "failed", (json_int_t) rec.failed, "archived",
                          (json_int_t) rec.archived));
        import_store_record_done(&rec);
        return 200;
}

/* The CSV, a page at a time (paged_stream.h). */
typedef struct ResultCsv {
        char import_id[UUID_STRING_SIZE];
        int email_column;
        Position pos;
} ResultCsv;

#define CSV_PAGE 5000

static int csv_page(void *state, Db *db, Buf *out, bool *done) {
        ResultCsv *s = state;
        ResultItem *items = NULL;
        size_t n = 0;
        int k = fetch(db, s->import_id, s->email_column, &s->pos, CSV_PAGE, &items, &n);
        if (k < 0)
                return k;
        for (size_t i = 0; k >= 0 && i < n; i++) {
                const ResultItem *it = &items[i];
                const char *outcome = result_log_outcome_name(it->outcome);
                k = it->line ? buf_printf(out, "%" PRId64 ",", it->line) : buf_append_char(out, ',');
                if (k >= 0 && it->email)
                        k = csv_writer_cell(out, it->email, strlen(it->email), ',');
                if (k >= 0)
                        k = buf_printf(out, ",%s,", outcome ? outcome : "failed");
                if (k >= 0 && it->user_id)
                        k = buf_printf(out, "%" PRId64, it->user_id);
                if (k >= 0)
                        k = buf_append_str(out, "\r\n");
        }
        *done = n < CSV_PAGE;
        result_log_items_free(items, n);
        return k;
}

unsigned results_csv(Request *r) {
        ImportRecord rec;
        unsigned st = imports_load_data(r, &rec);
        if (st)
                return st;
        if ((st = audit_download(r, "results.download", rec.id))) {
                import_store_record_done(&rec);
                return st;
        }
        ResultCsv *s = calloc(1, sizeof *s);
        char disposition[128];
        snprintf(disposition, sizeof disposition, "attachment; filename=\"import-%.36s-results.csv\"", rec.id);
        if (s) {
                snprintf(s->import_id, sizeof s->import_id, "%s", rec.id);
                s->email_column = import_header_email_column(&rec);
        }
        import_store_record_done(&rec);
        if (!s) {
                problem(r, 500, "internal_error", "Internal error", "out of memory");
                return 500;
        }
        static const char head[] = "line,email,outcome,user_id\r\n";
        return paged_stream_respond(r, "text/csv; charset=utf-8", disposition, head, sizeof head - 1, csv_page, s,
                                    free, "results CSV");
}
