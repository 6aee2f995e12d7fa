/* What an import's columns mean, rebuilt from the header stored with it
 * (import_header.c), for the routes that show its rows. */
#pragma once

#include <jansson.h>

#include "header_map.h"
#include "import_store.h"

/* The import's header map, or NULL when its header cannot be read again;
 * *ret_cells gets the header's cells (a JSON array, or NULL). Both belong
 * to the caller: header_map_free(), json_decref(). */
HeaderMap *import_header_map(const ImportRecord *rec, json_t **ret_cells);

/* The column (from 0) of the import's Email field, or -1. */
int import_header_email_column(const ImportRecord *rec);
