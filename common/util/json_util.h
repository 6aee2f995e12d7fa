/* Small JSON helpers that do not need jansson: escaping strings into a Buf
 * (for log lines and hand-built documents). */
#pragma once

#include <stddef.h>

#include "buf.h"

/* Appends s as a quoted JSON string, escaping quotes, backslashes and
 * control characters. Bytes >= 0x80 are copied as they are (the caller
 * passes UTF-8). 0 or -ENOMEM. */
int json_util_append_string(Buf *b, const char *s) _must_check_;
int json_util_append_string_len(Buf *b, const char *s, size_t len) _must_check_;
