/* The live progress of an import as Server-Sent Events (events.c). */
#pragma once

#include "app.h"

/* GET /v1/imports/{id}/events. */
unsigned imports_events(Request *r);
