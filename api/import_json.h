/* The import resource as JSON (GET /v1/imports/{id} and friends). */
#pragma once

#include <jansson.h>

#include "import_store.h"

/* Returns a new reference, or NULL when out of memory. */
json_t *import_json_new(const ImportRecord *rec);
