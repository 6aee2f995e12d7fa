/* Opaque paging cursors: a short text ("2026-...|uuid", "12.3") carried
 * as base64url so that clients treat it as a token. */
#pragma once

#include <stddef.h>

/* Encodes s; writes at most size bytes including the NUL. */
void cursor_encode(const char *s, char *out, size_t size);
/* Decodes a cursor into out (NUL-terminated). 0 or -EINVAL. */
int cursor_decode(const char *cursor, char *out, size_t size);
