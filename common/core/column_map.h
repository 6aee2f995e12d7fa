/* ColumnMap: the column_map option of an import - headings (normalised)
 * to fields, custom.<key>, link.<kind> or "ignore". Pure.
 *
 * Ownership: column_map_parse() returns a ColumnMap the caller frees with
 * column_map_free() (NULL is a no-op). */
#pragma once

#include <stddef.h>

#include "field.h"
#include "macro.h"

typedef struct ColumnMapEntry {
        char *header_norm; /* normalised heading */
        Field field;
        char *custom_key; /* the key of FIELD_CUSTOM, the kind of FIELD_LINK */
} ColumnMapEntry;

typedef struct ColumnMap {
        ColumnMapEntry *entries;
        size_t n;
} ColumnMap;

/* Parses a column_map option: a JSON object of heading -> target. Returns
 * 0, -EINVAL with a message for the user in err, or -ENOMEM. */
int column_map_parse(const char *json, ColumnMap **ret, char *err, size_t err_size) _must_check_;
void column_map_free(ColumnMap *m);

DEFINE_CLEANUP_FUNC(ColumnMap *, column_map_free);
