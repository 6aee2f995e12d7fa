/* Handlers of /v1/imports (see routes.c for the paths). Each returns the
 * HTTP status it set. */
#pragma once

#include "app.h"

unsigned imports_create(Request *r);
unsigned imports_list(Request *r);
unsigned imports_get(Request *r);
unsigned imports_errors(Request *r);
unsigned imports_errors_csv(Request *r);
/* POST /v1/imports/{id}/commit: a validated dry run, for real (202). */
unsigned imports_commit(Request *r);
/* POST /v1/imports/{id}/cancel: stop a queued or running import (200). */
unsigned imports_cancel(Request *r);
