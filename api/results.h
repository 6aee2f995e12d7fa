/* What became of each line of an import (results.c): JSON pages and a
 * CSV of the whole file, from result_log.h. */
#pragma once

#include "app.h"

/* GET /v1/imports/{id}/results: a page of lines (limit, cursor). */
unsigned results_page(Request *r);

/* GET /v1/imports/{id}/results.csv: every line, streamed. */
unsigned results_csv(Request *r);
