/* Handlers of /v1/imports (see routes.c for the paths). Each returns the
 * HTTP status it set. */
#pragma once

#include "app.h"

unsigned imports_create(Request *r);
unsigned imports_list(Request *r);
unsigned imports_get(Request *r);
unsigned imports_errors(Request *r);
unsigned imports_errors_csv(Request *r);
