/* Error responses as RFC 9457 problem documents
 * (application/problem+json): type, title, status, detail, plus code (a
 * stable string: the last part of type) and the request id; errors[] where
 * there is a list to give. */
#pragma once

#include <jansson.h>

#include "app.h"

/* Sets a problem response. detail is printf-style. */
void problem(Request *r, unsigned status, const char *code, const char *title, const char *fmt, ...)
        _printf_(5, 6);

/* Same with extra members merged in (steals the reference to extra, which
 * may be NULL). */
void problem_with(Request *r, unsigned status, const char *code, const char *title, const char *detail,
                  json_t *extra);

/* 503 database_unavailable, with Retry-After. Returns 503. */
unsigned problem_database_unavailable(Request *r);

/* Builds the problem document alone (for callers outside a Request). */
json_t *problem_document(unsigned status, const char *code, const char *title, const char *detail,
                         const char *request_id);
