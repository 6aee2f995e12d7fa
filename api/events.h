/* The live progress of an import as Server-Sent Events (events.c). */
#pragma once

#include "app.h"

/* GET /v1/imports/{id}/events. */
unsigned events_get(Request *r);

/* POST /v1/imports/{id}/events-token: a short-lived token for the events
 * URL of this import only (events_token.h). */
unsigned events_issue_token(Request *r);
