#include "import_header.h"

#include <stdlib.h>
#include <string.h>

HeaderMap *import_header_map(const ImportRecord *rec, json_t **ret_cells) {
        json_t *cells = json_loads(rec->header ? rec->header : "[]", 0, NULL);
        if (!json_is_array(cells)) {
                json_decref(cells);
                return NULL;
        }
        size_t n = json_array_size(cells);
        char **texts = calloc(n + 1, sizeof *texts);
        size_t *lens = calloc(n + 1, sizeof *lens);
        ColumnMap *cm = NULL;
        HeaderMap *hm = NULL;
        HeaderProblem hp;
        char err[300];
        if (texts && lens) {
                for (size_t i = 0; i < n; i++) {
                        texts[i] = (char *) json_string_value(json_array_get(cells, i));
                        if (!texts[i])
                                texts[i] = "";
                        lens[i] = strlen(texts[i]);
                }
                /* A header that cannot be mapped (two Email columns, a bad
                 * column_map) failed the import as a whole: it has no rows
                 * to show values of, and NULL says so. */
                if ((!rec->column_map || column_map_parse(rec->column_map, &cm, err, sizeof err) == 0) &&
                    header_map_build(texts, lens, n, cm, &hm, &hp) < 0)
                        hm = NULL;
        }
        free(texts);
        free(lens);
        column_map_free(cm);
        *ret_cells = cells;
        return hm;
}

int import_header_email_column(const ImportRecord *rec) {
        json_t *cells = NULL;
        HeaderMap *hm = import_header_map(rec, &cells);
        int column = hm ? hm->single[FIELD_EMAIL] : -1;
        header_map_free(hm);
        json_decref(cells);
        return column;
}
