/* Fuzz target for common/core/header_map.h, common/core/row_rules.h and
 * common/core/import_batch.h: a file's header and rows, as the worker reads
 * them.
 *
 * The body is a CSV file, optionally after a first line that starts with
 * '{': that line is the import's column_map option (JSON). The file is
 * parsed as bytes and each cell decoded (UTF-8, or Windows-1252 when flag
 * bit 1 is set), as the worker does; the first record is the header, each
 * other one a row checked by the row rules of an account with a few roles
 * and teams (with a default role when flag bit 0 is set), then collected
 * into a batch whose in-file duplicates are marked.
 *
 * Checked: every message is valid UTF-8 (the text was), a row fails
 * exactly when it has an error, a passing row has what an import needs, and
 * every value the rules accept is within its rule (length, characters,
 * form); the batch's JSON copy of each row is valid JSON; each email is
 * registered once per batch. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "column_map.h"
#include "csv_reader.h"
#include "fuzz_input.h"
#include "header_map.h"
#include "import_batch.h"
#include "row_rules.h"
#include "text_decode.h"
#include "utf8.h"

/* Rows per batch, as small as makes batches turn over in short inputs. */
#define BATCH_ROWS 8

static RoleInfo roles[] = {
        { 1, "designated_teacher", "Designated Teacher", true, false },
        { 2, "social_worker", "Social Worker", false, true },
        { 3, "la_user", "LA User", false, true },
        { 4, "user", "User", false, false },
};

static TeamInfo teams[] = {
        { 10, "bulk users" },
        { 11, "Bulk extra" },
        { 12, "Night shift" },
};

typedef struct State {
        TextEncoding cell_encoding;
        RuleContext ctx;
        const ColumnMap *column_map;
        HeaderMap *header; /* NULL until the header is read, or when it was refused */
        bool refused;

        TextDecoder *decoder;
        Buf text; /* decoded cells of the current record, back to back */
        char **cells;
        size_t *lens;

        Arena arena; /* one row's, reset for each */
        ImportBatch batch;
        unsigned long rows;
} State;

static bool valid_text(const char *s) {
        return s && utf8_is_valid(s, strlen(s));
}

/* A value the rules took: no control characters, valid UTF-8, at most max
 * characters, and not blank. */
static void check_accepted(const char *v, size_t max) {
        if (!v)
                return;
        size_t len = strlen(v);
        if (!len || !utf8_is_valid(v, len) || row_rules_has_control(v, len) || utf8_length(v, len) > max)
                abort();
}

static void check_import_row(const State *st, const ImportRow *in, const CsvRecord *rec) {
        if (in->line != rec->line || in->row != st->rows)
                abort();
        for (int f = 0; f < _FIELD_MAX; f++) {
                const char *v = in->value[f];
                if (!v)
                        continue;
                size_t len = strlen(v);
                if (!utf8_is_valid(v, len))
                        abort();
                /* Cells are trimmed. */
                if (len && (v[0] == ' ' || v[len - 1] == ' ' || v[0] == '\t' || v[len - 1] == '\t'))
                        abort();
        }
        for (size_t i = 0; i < in->n_upns; i++)
                if (!*in->upns[i] || !valid_text(in->upns[i]))
                        abort();
        for (size_t i = 0; i < in->n_custom; i++)
                if (!in->custom[i].key || !*in->custom[i].value || !valid_text(in->custom[i].value))
                        abort();
        if (in->n_extra > rec->n_cells)
                abort();
}

static void check_user_row(const State *st, const UserRow *u) {
        bool error = false;
        for (size_t i = 0; i < u->n_issues; i++) {
                const RowIssue *is = &u->issues[i];
                if (!is->field || !*is->field || !is->code || !*is->code || !valid_text(is->message))
                        abort();
                if (is->severity != SEVERITY_ERROR && is->severity != SEVERITY_WARNING)
                        abort();
                error = error || is->severity == SEVERITY_ERROR;
        }
        if (u->failed != error)
                abort();
        if (!u->failed && (!u->email || !u->first_name || !u->last_name || !u->role))
                abort();

        if (u->email) {
                size_t len = strlen(u->email);
                if (!row_rules_email_is_valid(u->email, len) || !u->email_lower || strlen(u->email_lower) != len)
                        abort();
                for (size_t i = 0; i < len; i++)
                        if (u->email_lower[i] != (char) tolower((unsigned char) u->email[i]))
                                abort();
        }
        check_accepted(u->first_name, RULE_MAX_NAME);
        check_accepted(u->last_name, RULE_MAX_NAME);
        check_accepted(u->job_title, RULE_MAX_JOB_TITLE);
        check_accepted(u->phone, RULE_MAX_PHONE);
        if (u->phone && !row_rules_phone_is_valid(u->phone, strlen(u->phone)))
                abort();
        if (u->urn != URN_KEEP && (u->urn < 0 || u->urn > 999999))
                abort();
        if (u->active < -1 || u->active > 1)
                abort();
        if (u->role && (u->role < st->ctx.roles || u->role >= st->ctx.roles + st->ctx.n_roles))
                abort();
        for (size_t i = 0; i < u->n_upns; i++) {
                if (row_rules_upn_check(u->upns[i], NULL) != 0)
                        abort();
                for (size_t k = 0; k < i; k++)
                        if (strcmp(u->upns[i], u->upns[k]) == 0)
                                abort();
        }
        if (u->set_pupils && (!u->n_upns || !u->role || !u->role->may_have_pupils))
                abort();
        for (size_t i = 0; i < u->n_teams; i++) {
                if (u->team_ids[i] < 10 || u->team_ids[i] > 12)
                        abort();
                for (size_t k = 0; k < i; k++)
                        if (u->team_ids[i] == u->team_ids[k])
                                abort();
        }
        /* Custom values stay on a failed row, for the error CSV. */
        for (size_t i = 0; !u->failed && i < u->n_custom; i++)
                check_accepted(u->custom[i].value, RULE_MAX_CUSTOM);
}

/* Ends a batch as the worker does at a checkpoint. */
static void flush(State *st) {
        if (import_batch_mark_duplicates(&st->batch) != 0)
                abort();
        size_t failed = 0;
        for (size_t i = 0; i < st->batch.n; i++) {
                const BatchRow *row = &st->batch.rows[i];
                check_user_row(st, &row->user);
                failed += row->user.failed;

                json_t *cells = json_loads(row->cells_json, 0, NULL);
                if (!json_is_array(cells))
                        abort();
                json_decref(cells);

                /* The first row with an email registers it; later ones
                 * fail as duplicates. */
                bool first = row->user.email_lower != NULL;
                for (size_t k = 0; first && k < i; k++)
                        first = !st->batch.rows[k].user.email_lower ||
                                strcmp(st->batch.rows[k].user.email_lower, row->user.email_lower) != 0;
                if (row->register_email != first || (row->user.email_lower && !first && !row->user.failed))
                        abort();
        }
        if (import_batch_failed(&st->batch) != failed || import_batch_warned(&st->batch) > st->batch.n - failed)
                abort();
        import_batch_rewind(&st->batch);
        import_batch_reset(&st->batch);
}

/* The record with its cells decoded, as the worker's decode_record(). */
static void decode(State *st, const CsvRecord *raw, CsvRecord *out) {
        size_t *offsets = realloc(st->lens, raw->n_cells * sizeof *offsets);
        if (!offsets)
                abort();
        st->lens = offsets;
        char **cells = realloc(st->cells, raw->n_cells * sizeof *cells);
        if (!cells)
                abort();
        st->cells = cells;

        buf_clear(&st->text);
        for (size_t i = 0; i < raw->n_cells; i++) {
                offsets[i] = st->text.len;
                if (text_decoder_feed(st->decoder, raw->cells[i], raw->lens[i], &st->text) != 0 ||
                    text_decoder_finish(st->decoder, &st->text) != 0 || buf_append_char(&st->text, '\0') != 0)
                        abort();
        }
        for (size_t i = 0; i < raw->n_cells; i++) {
                cells[i] = st->text.data + offsets[i];
                st->lens[i] = strlen(cells[i]);
                if (!utf8_is_valid(cells[i], st->lens[i]))
                        abort();
        }
        *out = *raw;
        out->cells = cells;
        out->lens = st->lens;
}

static int on_record(const CsvRecord *raw, void *userdata) {
        State *st = userdata;
        CsvRecord rec;

        if (st->refused)
                return 0;
        decode(st, raw, &rec);

        if (rec.index == 0) {
                HeaderProblem problem = { { 0 } };
                int r = header_map_build(rec.cells, rec.lens, rec.n_cells, st->column_map, &st->header, &problem);
                if (r == -EINVAL) {
                        if (!*problem.message || !utf8_is_valid(problem.message, strlen(problem.message)))
                                abort();
                        st->refused = true;
                        return 0;
                }
                if (r != 0 || st->header->n_columns != rec.n_cells)
                        abort();
                Field missing[3];
                if (header_map_missing(st->header, missing) > 3)
                        abort();
                for (size_t i = 0; i < st->header->n_ignored; i++)
                        if (!valid_text(st->header->ignored[i]))
                                abort();
                return 0;
        }

        st->rows++;
        ImportRow in;
        UserRow u;
        if (header_map_extract(st->header, &rec, st->rows, &st->arena, &in) != 0)
                abort();
        check_import_row(st, &in, &rec);
        if (row_rules_check(&st->ctx, &in, &st->arena, &u) != 0)
                abort();
        check_user_row(st, &u);
        arena_reset(&st->arena);

        if (import_batch_add(&st->batch, &st->ctx, st->header, &rec, st->rows) != 0)
                abort();
        if (st->batch.n == BATCH_ROWS)
                flush(st);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzInput in;
        State st = {
                .cell_encoding = TEXT_ENCODING_UTF8,
                .ctx = { .roles = roles, .n_roles = ELEMENTSOF(roles), .teams = teams, .n_teams = ELEMENTSOF(teams) },
                .arena = ARENA_INIT,
                .batch = IMPORT_BATCH_INIT,
        };

        fuzz_input_init(&in, data, size, true);
        if (in.flags & 1)
                st.ctx.default_role = &roles[0];
        if (in.flags & 2)
                st.cell_encoding = TEXT_ENCODING_WINDOWS_1252;
        st.decoder = text_decoder_new(st.cell_encoding);
        if (!st.decoder)
                abort();

        const char *csv = (const char *) in.body;
        size_t len = in.len;
        ColumnMap *cm = NULL;
        if (len && csv[0] == '{') {
                const char *nl = memchr(csv, '\n', len);
                size_t line = nl ? (size_t) (nl - csv) : len;
                _cleanup_free_ char *json = strndup(csv, line);
                char err[256] = "";
                if (!json)
                        abort();
                int r = column_map_parse(json, &cm, err, sizeof err);
                if (r == -EINVAL && (!*err || !utf8_is_valid(err, strlen(err))))
                        abort();
                if (r != 0 && r != -EINVAL)
                        abort();
                csv += line + (nl != NULL);
                len -= line + (nl != NULL);
        }
        st.column_map = cm;

        char delimiter = in.delimiter ? in.delimiter : csv_reader_detect_delimiter(csv, len);
        _cleanup_(csv_reader_freep) CsvReader *reader = csv_reader_new(delimiter, on_record, &st);
        if (!reader)
                abort();
        int r = csv_reader_feed(reader, csv, len);
        if (r == 0)
                r = csv_reader_finish(reader);
        if (r != 0 && r != -EBADMSG)
                abort();
        flush(&st);

        import_batch_done(&st.batch);
        arena_done(&st.arena);
        header_map_free(st.header);
        column_map_free(cm);
        text_decoder_free(st.decoder);
        buf_done(&st.text);
        free(st.cells);
        free(st.lens);
        fuzz_input_done(&in);
        return 0;
}
