/* What became of an import's completion webhooks (webhooks.c). */
#pragma once

#include "app.h"

/* GET /v1/imports/{id}/webhook-deliveries: every event made for the
 * import, each with every attempt to deliver it. */
unsigned webhooks_deliveries(Request *r);
