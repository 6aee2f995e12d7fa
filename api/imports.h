/* Handlers of /v1/imports (see routes.c for the paths). Each returns the
 * HTTP status it set. */
#pragma once

#include "app.h"
#include "import_store.h"

/* POST /v1/imports: a multipart or raw CSV upload. */
unsigned imports_create(Request *r);
/* GET /v1/imports: the account's imports, newest first, by cursor. */
unsigned imports_list(Request *r);
/* GET /v1/imports/{id}: one import's state and counts. */
unsigned imports_get(Request *r);

/* Loads the caller's import named in the path into *rec (release it with
 * import_store_record_done()); else 404 (another account's too) or 503,
 * with the problem set. */
unsigned imports_load(Request *r, ImportRecord *rec);
/* As imports_load(), and 410 (purged) when the import's file and row
 * data are gone (retention, or DELETE). */
unsigned imports_load_data(Request *r, ImportRecord *rec);
/* POST /v1/imports/{id}/commit: a validated dry run, for real (202). */
unsigned imports_commit(Request *r);
/* POST /v1/imports/{id}/cancel: stop a queued or running import (200). */
unsigned imports_cancel(Request *r);
/* DELETE /v1/imports/{id}: its file and row data now; the record stays
 * (200, with deleted_at). */
unsigned imports_delete(Request *r);
