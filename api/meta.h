/* What the API says about itself: metrics and its OpenAPI document. */
#pragma once

#include "app.h"

/* GET /metrics: Prometheus text format. */
unsigned meta_metrics(Request *r);
/* GET /openapi.json and /openapi.yaml. */
unsigned meta_openapi_json(Request *r);
unsigned meta_openapi_yaml(Request *r);
