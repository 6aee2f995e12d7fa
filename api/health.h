/* Liveness and readiness probes. */
#pragma once

#include "app.h"

/* GET /healthz: the process answers. */
unsigned health_live(Request *r);
/* GET /readyz: PostgreSQL (with the current schema) and Redis answer. */
unsigned health_ready(Request *r);
