/* HeaderMap: which column of a file holds which user field.
 *
 * Headers are matched case- and space-insensitively against each field's
 * aliases (the headings of the systems roster replaces). A column_map
 * option (header -> field, "custom.<key>", "link.<kind>" or "ignore")
 * takes precedence. UPN columns may repeat; any other field appearing
 * twice (or a custom key, or a link kind) is an error.
 * Columns that match nothing are listed for the import's warnings; the
 * "line" and "error" columns that end roster's own error CSV are ignored
 * silently, so that a corrected error file can be uploaded as it is.
 *
 * Pure: no I/O. Ownership: a HeaderMap owns its strings; free it with
 * header_map_free(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "column_map.h"
#include "csv_reader.h"
#include "field.h"
#include "macro.h"

/* Link columns a file may have at most (each kind one column). */
#define HEADER_MAP_MAX_LINK_COLUMNS 20

/* The last heading of roster's users export (api/users.c), and the same
 * as field_normalize_heading() makes it. */
#define HEADER_MAP_EXPORT_ID "Roster User ID"
#define HEADER_MAP_EXPORT_ID_NORM "rosteruserid"

typedef struct HeaderColumn {
        Field field;
        char *custom_key; /* the key of FIELD_CUSTOM, the kind of FIELD_LINK */
        char *header; /* as in the file */
} HeaderColumn;

typedef struct HeaderMap {
        size_t n_columns;
        HeaderColumn *columns;
        int single[_FIELD_MAX]; /* column of each single-valued field, or -1 */
        size_t *upn_columns;
        size_t n_upn_columns;
        size_t *custom_columns;
        size_t n_custom_columns;
        size_t *link_columns;
        size_t n_link_columns;
        char **ignored; /* headers of columns that are not imported, for the warning */
        size_t n_ignored;
        /* The file is roster's own error CSV or users export sent back:
         * its last columns (line and error, or Roster User ID) are not
         * data, and cells carry the apostrophe that made formulas inert,
         * which extraction removes. */
        bool roundtrip;
        size_t n_data_columns;
} HeaderMap;

typedef struct HeaderProblem {
        char message[512];
} HeaderProblem;

/* Builds the map for a header record. Returns 0; -EINVAL when a field
 * appears in two columns or a custom key twice (problem->message says
 * which); -ENOMEM. Required columns are not checked here: see
 * header_map_missing(). */
int header_map_build(char *const *cells, const size_t *lens, size_t n, const ColumnMap *cm, HeaderMap **ret,
                     HeaderProblem *problem) _must_check_;
void header_map_free(HeaderMap *m);

/* Writes the required fields (email, first_name, last_name) that have no
 * column to out (room for 3) and returns how many. */
size_t header_map_missing(const HeaderMap *m, Field out[3]);

typedef struct CustomValue {
        const char *key;
        const char *value;
} CustomValue;

/* A link cell: key is the kind, value the cell, one or more emails
 * separated by ';' or ','. */
typedef CustomValue LinkValue;

/* One data row, cells picked out by field and trimmed of surrounding
 * white space. value[f] is NULL when the file has no column for f, ""
 * when the cell is blank. Strings live in the arena given to
 * header_map_extract(). */
typedef struct ImportRow {
        unsigned long line; /* physical line of the file, from 1 (the header) */
        unsigned long row; /* data row, from 1 */
        const char *value[_FIELD_MAX];
        const char **upns; /* non-blank UPN cells */
        size_t n_upns;
        CustomValue *custom; /* non-blank custom cells */
        size_t n_custom;
        LinkValue *links; /* non-blank link cells */
        size_t n_links;
        size_t n_extra; /* non-blank cells beyond the last heading */
} ImportRow;

/* Fills *row from a record. A record with fewer cells than the header
 * reads the missing ones as blank; non-blank cells past the last heading
 * are counted in n_extra (the row rules fail such a row: usually a comma
 * that should have been quoted). 0 or -ENOMEM. */
int header_map_extract(const HeaderMap *m, const CsvRecord *rec, unsigned long row_number, Arena *a,
                       ImportRow *row) _must_check_;

DEFINE_CLEANUP_FUNC(HeaderMap *, header_map_free);
