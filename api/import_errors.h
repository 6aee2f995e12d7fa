/* An import's error log over HTTP: GET /v1/imports/{id}/errors (JSON
 * pages, or the CSV with Accept: text/csv) and /errors.csv (the failed
 * rows with their line and errors, to fix and upload again). Each returns
 * the HTTP status it set. */
#pragma once

#include "app.h"

unsigned imports_errors(Request *r);
unsigned imports_errors_csv(Request *r);
