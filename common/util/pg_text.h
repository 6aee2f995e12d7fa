/* PostgreSQL's text formats, written into a Buf: COPY's text format for a
 * field, and array literals ("{1,2,3}", {"a","b"}) for parameters that
 * carry a whole batch. Pure: the stores use it through db.h, and the core
 * builds a batch's parameters with it.
 *
 * Each function appends to b and returns 0 or -ENOMEM. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* A field in COPY text format: backslash, tab, newline and carriage
 * return escaped. s must not be NULL (a NULL field is "\N"). */
int pg_text_copy(Buf *b, const char *s) _must_check_;

/* The comma before an array element that is not the first (b holds the
 * literal from its '{'). */
int pg_text_array_sep(Buf *b) _must_check_;
/* One text element, with its comma, quoted; NULL for s gives NULL. */
int pg_text_array_text(Buf *b, const char *s) _must_check_;

/* A whole array literal of n numbers, "{1,2,3}" ("{}" when n is 0). */
int pg_text_array_i64(Buf *b, const int64_t *v, size_t n) _must_check_;
int pg_text_array_int(Buf *b, const int *v, size_t n) _must_check_;
