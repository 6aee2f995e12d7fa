/* An import's error log over HTTP: GET /v1/imports/{id}/errors (JSON
 * pages, or the CSV with Accept: text/csv) and /errors.csv (the failed
 * rows with their line and errors, to fix and upload again). Each returns
 * the HTTP status it set. */
#pragma once

#include "app.h"

/* GET /v1/imports/{id}/errors: a page of issues as JSON, or every
 * issue as CSV when the client accepts text/csv. */
unsigned import_errors_get(Request *r);
/* GET /v1/imports/{id}/errors.csv: the failed rows as uploaded, with
 * their line and errors. */
unsigned import_errors_csv(Request *r);
