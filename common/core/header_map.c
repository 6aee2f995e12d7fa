#include "header_map.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_writer.h"
#include "utf8.h"

void header_map_free(HeaderMap *m) {
        if (!m)
                return;
        for (size_t i = 0; i < m->n_columns; i++) {
                free(m->columns[i].custom_key);
                free(m->columns[i].header);
        }
        free(m->columns);
        free(m->upn_columns);
        free(m->custom_columns);
        free(m->link_columns);
        for (size_t i = 0; i < m->n_ignored; i++)
                free(m->ignored[i]);
        free(m->ignored);
        free(m);
}

int header_map_build(char *const *cells, const size_t *lens, size_t n, const ColumnMap *cm, HeaderMap **ret,
                     HeaderProblem *problem) {
        _cleanup_(header_map_freep) HeaderMap *m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        for (int f = 0; f < _FIELD_MAX; f++)
                m->single[f] = -1;
        m->columns = calloc(n + 1, sizeof *m->columns);
        m->upn_columns = calloc(n + 1, sizeof *m->upn_columns);
        m->custom_columns = calloc(n + 1, sizeof *m->custom_columns);
        m->link_columns = calloc(n + 1, sizeof *m->link_columns);
        m->ignored = calloc(n + 1, sizeof *m->ignored);
        if (!m->columns || !m->upn_columns || !m->custom_columns || !m->link_columns || !m->ignored)
                return -ENOMEM;
        m->n_columns = n;

        /* roster's error CSV ends with "line" and "error", its users
         * export with "roster user id": a file fixed and sent back keeps
         * them, and they are not data. */
        size_t roundtrip_from = n;
        if (n >= 2) {
                char a[16], b[16];
                field_normalize_heading(cells[n - 2], lens[n - 2], a, sizeof a);
                field_normalize_heading(cells[n - 1], lens[n - 1], b, sizeof b);
                if (strcmp(a, "line") == 0 && strcmp(b, "error") == 0)
                        roundtrip_from = n - 2;
        }
        if (n >= 1 && roundtrip_from == n) {
                char a[32];
                field_normalize_heading(cells[n - 1], lens[n - 1], a, sizeof a);
                if (strcmp(a, HEADER_MAP_EXPORT_ID_NORM) == 0)
                        roundtrip_from = n - 1;
        }
        m->roundtrip = roundtrip_from < n;
        m->n_data_columns = roundtrip_from;

        for (size_t i = 0; i < n; i++) {
                HeaderColumn *col = &m->columns[i];
                char norm[256];

                col->header = strndup(cells[i], lens[i]);
                if (!col->header)
                        return -ENOMEM;
                field_normalize_heading(cells[i], lens[i], norm, sizeof norm);

                const ColumnMapEntry *e = NULL;
                for (size_t k = 0; cm && k < cm->n; k++)
                        if (strcmp(cm->entries[k].header_norm, norm) == 0)
                                e = &cm->entries[k];
                if (e) {
                        col->field = e->field;
                        if (e->custom_key && !(col->custom_key = strdup(e->custom_key)))
                                return -ENOMEM;
                } else if (i >= roundtrip_from)
                        col->field = FIELD_IGNORE;
                else {
                        const char *kind = NULL;
                        col->field = field_match_heading(norm, &kind);
                        if (kind && !(col->custom_key = strdup(kind)))
                                return -ENOMEM;
                }

                switch (col->field) {
                case FIELD_NONE: {
                        char *what = *norm ? strndup(cells[i], lens[i]) : NULL;
                        if (!*norm && asprintf(&what, "(column %zu, no heading)", i + 1) < 0)
                                what = NULL;
                        if (!what)
                                return -ENOMEM;
                        m->ignored[m->n_ignored++] = what;
                        break;
                }
                case FIELD_UPN:
                        m->upn_columns[m->n_upn_columns++] = i;
                        break;
                case FIELD_CUSTOM:
                        for (size_t k = 0; k < m->n_custom_columns; k++)
                                if (strcmp(m->columns[m->custom_columns[k]].custom_key, col->custom_key) == 0) {
                                        snprintf(problem->message, sizeof problem->message,
                                                 "two columns are mapped to custom.%s (columns %zu and %zu)",
                                                 col->custom_key, m->custom_columns[k] + 1, i + 1);
                                        return -EINVAL;
                                }
                        m->custom_columns[m->n_custom_columns++] = i;
                        break;
                case FIELD_LINK:
                        if (m->n_link_columns == HEADER_MAP_MAX_LINK_COLUMNS) {
                                snprintf(problem->message, sizeof problem->message,
                                         "more than %d link columns (column %zu is one more)",
                                         HEADER_MAP_MAX_LINK_COLUMNS, i + 1);
                                return -EINVAL;
                        }
                        for (size_t k = 0; k < m->n_link_columns; k++)
                                if (strcmp(m->columns[m->link_columns[k]].custom_key, col->custom_key) == 0) {
                                        snprintf(problem->message, sizeof problem->message,
                                                 "two columns hold link.%s (columns %zu and %zu); remove one or "
                                                 "name it in column_map",
                                                 col->custom_key, m->link_columns[k] + 1, i + 1);
                                        return -EINVAL;
                                }
                        m->link_columns[m->n_link_columns++] = i;
                        break;
                case FIELD_IGNORE:
                        break;
                default:
                        if (m->single[col->field] >= 0) {
                                int first = m->single[col->field];
                                const char *a = m->columns[first].header, *b = col->header;
                                snprintf(problem->message, sizeof problem->message,
                                         "two columns hold %s: \"%.*s\" (column %d) and \"%.*s\" (column %zu); "
                                         "remove one or name it in column_map",
                                         field_name(col->field), (int) utf8_truncate(a, strlen(a), 80), a,
                                         first + 1, (int) utf8_truncate(b, strlen(b), 80), b, i + 1);
                                return -EINVAL;
                        }
                        m->single[col->field] = (int) i;
                }
        }
        *ret = TAKE_PTR(m);
        return 0;
}

size_t header_map_missing(const HeaderMap *m, Field out[3]) {
        static const Field required[] = { FIELD_EMAIL, FIELD_FIRST_NAME, FIELD_LAST_NAME };
        size_t k = 0;
        for (size_t i = 0; i < ELEMENTSOF(required); i++)
                if (m->single[required[i]] < 0)
                        out[k++] = required[i];
        return k;
}

/* Trims ASCII white space and no-break spaces from both ends. */
static void trim(const char **s, size_t *len) {
        const char *p = *s;
        size_t n = *len;
        for (;;) {
                if (n && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
                        p++, n--;
                else if (n >= 2 && (unsigned char) p[0] == 0xC2 && (unsigned char) p[1] == 0xA0)
                        p += 2, n -= 2;
                else
                        break;
        }
        for (;;) {
                if (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
                        n--;
                else if (n >= 2 && (unsigned char) p[n - 2] == 0xC2 && (unsigned char) p[n - 1] == 0xA0)
                        n -= 2;
                else
                        break;
        }
        *s = p;
        *len = n;
}

/* A record's cell, trimmed; "" for a cell the record does not have. */
static const char *cell(const CsvRecord *rec, size_t col, size_t *ret_len) {
        const char *s = col < rec->n_cells ? rec->cells[col] : "";
        size_t len = col < rec->n_cells ? rec->lens[col] : 0;
        trim(&s, &len);
        *ret_len = len;
        return s;
}

/* Copies a trimmed cell into the arena (without the formula guard of a
 * round-tripped error CSV, trimmed again after it). */
static const char *take(const HeaderMap *m, Arena *a, const char *s, size_t len) {
        char *p = arena_strndup(a, s, len);
        if (!p || !m->roundtrip)
                return p;
        len = csv_writer_unguard(p, len);
        const char *q = p;
        trim(&q, &len);
        ((char *) q)[len] = '\0';
        return q;
}

/* The non-blank cells of columns that carry a key (custom fields, links),
 * with their keys. */
static int keyed_cells(const HeaderMap *m, const CsvRecord *rec, const size_t *cols, size_t n_cols, Arena *a,
                       CustomValue **ret, size_t *ret_n) {
        if (!n_cols)
                return 0;
        CustomValue *v = arena_alloc(a, n_cols * sizeof *v);
        if (!v)
                return -ENOMEM;
        size_t n = 0;
        for (size_t i = 0; i < n_cols; i++) {
                size_t len;
                const char *s = cell(rec, cols[i], &len);
                if (!len)
                        continue;
                v[n].key = m->columns[cols[i]].custom_key;
                if (!(v[n++].value = take(m, a, s, len)))
                        return -ENOMEM;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int header_map_extract(const HeaderMap *m, const CsvRecord *rec, unsigned long row_number, Arena *a,
                       ImportRow *row) {
        *row = (ImportRow){ .line = rec->line, .row = row_number };

        for (int f = FIELD_FIRST_NAME; f < FIELD_CUSTOM; f++) {
                int col = m->single[f];
                if (col < 0 || f == FIELD_UPN)
                        continue;
                size_t len;
                const char *s = cell(rec, (size_t) col, &len);
                if (!(row->value[f] = take(m, a, s, len)))
                        return -ENOMEM;
        }
        if (m->n_upn_columns) {
                row->value[FIELD_UPN] = "";
                row->upns = arena_alloc(a, m->n_upn_columns * sizeof *row->upns);
                if (!row->upns)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < m->n_upn_columns; i++) {
                size_t len;
                const char *s = cell(rec, m->upn_columns[i], &len);
                if (len && !(row->upns[row->n_upns++] = take(m, a, s, len)))
                        return -ENOMEM;
        }
        int r = keyed_cells(m, rec, m->custom_columns, m->n_custom_columns, a, &row->custom, &row->n_custom);
        if (r < 0)
                return r;
        r = keyed_cells(m, rec, m->link_columns, m->n_link_columns, a, &row->links, &row->n_links);
        if (r < 0)
                return r;
        for (size_t col = m->n_columns; col < rec->n_cells; col++) {
                /* Cells past the last heading. */
                size_t len;
                (void) cell(rec, col, &len);
                if (len)
                        row->n_extra++;
        }
        return 0;
}
