#include "import_batch.h"

#include <errno.h>
#include <stdint.h>
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

static uint64_t email_hash(const char *s) {
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 1099511628211ULL;
        return h;
}

int import_batch_mark_duplicates(ImportBatch *b) {
        /* The first row of each email, in a hash table of row indexes + 1
         * (open addressing, at most half full): rows are in line order,
         * so the first one met is the first occurrence. */
        size_t cap = 16;
        while (cap < 2 * b->n)
                cap *= 2;
        size_t *first = calloc(cap, sizeof *first);
        if (!first)
                return -ENOMEM;

        int r = 0;
        for (size_t i = 0; i < b->n && r >= 0; i++) {
                BatchRow *cur = &b->rows[i];
                if (!cur->user.email_lower)
                        continue;
                size_t k = (size_t) email_hash(cur->user.email_lower) & (cap - 1);
                while (first[k] && strcmp(b->rows[first[k] - 1].user.email_lower, cur->user.email_lower) != 0)
                        k = (k + 1) & (cap - 1);
                if (!first[k]) {
                        first[k] = i + 1;
                        continue;
                }
                char msg[128];
                snprintf(msg, sizeof msg, "the same email is on line %lu; the first occurrence is imported",
                         b->rows[first[k] - 1].user.line);
                r = row_rules_add_issue(&cur->user, &b->arena, SEVERITY_ERROR, "email", "duplicate_in_file", msg);
                cur->register_email = false;
                cur->n_rule_issues = cur->user.n_issues;
        }
        free(first);
        return r;
}

void import_batch_rewind(ImportBatch *b) {
        b->looked_up = false;
        for (size_t i = 0; i < b->n; i++) {
                UserRow *u = &b->rows[i].user;
                b->rows[i].user_id = 0;
                b->rows[i].user_linked = b->rows[i].matches_user = b->rows[i].urn_unknown = false;
                b->rows[i].pupils_ignored = false;
                b->rows[i].unchanged = false;
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
        b->looked_up = false;
        arena_reset(&b->arena);
}

void import_batch_done(ImportBatch *b) {
        free(b->rows);
        arena_done(&b->arena);
        *b = IMPORT_BATCH_INIT;
}
