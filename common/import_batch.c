#include "import_batch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json_util.h"

static char *cells_to_json(Arena *a, const CsvRecord *rec) {
        Buf b = BUF_INIT;
        int r = buf_append_char(&b, '[');
        for (size_t i = 0; r >= 0 && i < rec->n_cells; i++) {
                if (i)
                        r = buf_append_char(&b, ',');
                if (r >= 0)
                        r = json_util_append_string_len(&b, rec->cells[i], rec->lens[i]);
        }
        if (r >= 0)
                r = buf_append_char(&b, ']');
        char *s = r >= 0 ? arena_strndup(a, b.data, b.len) : NULL;
        buf_done(&b);
        return s;
}

int import_batch_add(ImportBatch *b, const RuleContext *ctx, const HeaderMap *hm, const CsvRecord *rec,
                     unsigned long row_number) {
        if (b->n == b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 256;
                BatchRow *rows = realloc(b->rows, cap * sizeof *rows);
                if (!rows)
                        return -ENOMEM;
                b->rows = rows;
                b->cap = cap;
        }
        BatchRow *row = &b->rows[b->n];
        *row = (BatchRow){ 0 };

        ImportRow in;
        int r = header_map_extract(hm, rec, row_number, &b->arena, &in);
        if (r < 0)
                return r;
        r = row_rules_check(ctx, &in, &b->arena, &row->user);
        if (r < 0)
                return r;
        if (!b->keys_only && !(row->cells_json = cells_to_json(&b->arena, rec)))
                return -ENOMEM;
        row->n_rule_issues = row->user.n_issues;
        row->register_email = row->user.email_lower != NULL;
        b->n++;
        return 0;
}

static int cmp_email(const void *x, const void *y, void *userdata) {
        const ImportBatch *batch = userdata;
        const BatchRow *a = &batch->rows[*(const size_t *) x];
        const BatchRow *b = &batch->rows[*(const size_t *) y];
        int c = strcmp(a->user.email_lower, b->user.email_lower);
        if (c)
                return c;
        return a->user.line < b->user.line ? -1 : a->user.line > b->user.line;
}

int import_batch_mark_duplicates(ImportBatch *b) {
        size_t n = 0;
        size_t *idx = malloc((b->n + 1) * sizeof *idx);
        if (!idx)
                return -ENOMEM;
        for (size_t i = 0; i < b->n; i++)
                if (b->rows[i].user.email_lower)
                        idx[n++] = i;

        /* Sorted by email then line: each run's first row is the first
         * occurrence and the rest repeat it. */
        qsort_r(idx, n, sizeof *idx, cmp_email, b);

        int r = 0;
        for (size_t k = 1; k < n && r >= 0; k++) {
                BatchRow *prev = &b->rows[idx[k - 1]], *cur = &b->rows[idx[k]];
                if (strcmp(prev->user.email_lower, cur->user.email_lower) != 0)
                        continue;
                /* Find the first row of the run for the message. */
                size_t first = k - 1;
                while (first > 0 &&
                       strcmp(b->rows[idx[first - 1]].user.email_lower, cur->user.email_lower) == 0)
                        first--;
                char msg[128];
                snprintf(msg, sizeof msg, "the same email is on line %lu; the first occurrence is imported",
                         b->rows[idx[first]].user.line);
                r = row_rules_add_issue(&cur->user, &b->arena, SEVERITY_ERROR, "email", "duplicate_in_file", msg);
                cur->register_email = false;
                cur->n_rule_issues = cur->user.n_issues;
        }
        free(idx);
        return r;
}

void import_batch_rewind(ImportBatch *b) {
        for (size_t i = 0; i < b->n; i++) {
                UserRow *u = &b->rows[i].user;
                b->rows[i].user_id = 0;
                b->rows[i].pupils_ignored = false;
                u->n_issues = b->rows[i].n_rule_issues;
                u->failed = false;
                for (size_t k = 0; k < u->n_issues; k++)
                        if (u->issues[k].severity == SEVERITY_ERROR)
                                u->failed = true;
        }
}

size_t import_batch_failed(const ImportBatch *b) {
        size_t n = 0;
        for (size_t i = 0; i < b->n; i++)
                n += b->rows[i].user.failed;
        return n;
}

size_t import_batch_warned(const ImportBatch *b) {
        size_t n = 0;
        for (size_t i = 0; i < b->n; i++) {
                const UserRow *u = &b->rows[i].user;
                if (u->failed)
                        continue;
                for (size_t k = 0; k < u->n_issues; k++)
                        if (u->issues[k].severity == SEVERITY_WARNING) {
                                n++;
                                break;
                        }
        }
        return n;
}

void import_batch_reset(ImportBatch *b) {
        b->n = 0;
        arena_reset(&b->arena);
}

void import_batch_done(ImportBatch *b) {
        free(b->rows);
        arena_done(&b->arena);
        *b = IMPORT_BATCH_INIT;
}
