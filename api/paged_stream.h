/* A response body streamed a page at a time (the CSV downloads): ulfius
 * asks for bytes, the stream hands out what the last page wrote and asks
 * the route's fill() for the next page when it runs out, each time with a
 * pooled connection held for just that read, until fill() says it is done.
 * Memory stays one page whatever the size of the whole. */
#pragma once

#include <stdbool.h>

#include "app.h"

/* Writes the next page to out (empty before the call); sets *done after
 * the last. 0 or a negative errno (the response is then cut short, and
 * the log says so). */
typedef int (*PagedFill)(void *state, Db *db, Buf *out, bool *done);

/* Makes r's response a 200 of content_type (and, when not NULL, with this
 * Content-Disposition) that starts with the bytes of head and goes on with
 * the pages fill() writes. Takes state, freed with free_state (may be
 * NULL) when the stream ends; what names the body in the log. Returns 200,
 * or 500 with a problem set (state is freed then too). */
unsigned paged_stream_respond(Request *r, const char *content_type, const char *disposition, const char *head,
                              size_t head_len, PagedFill fill, void *state, void (*free_state)(void *),
                              const char *what);
